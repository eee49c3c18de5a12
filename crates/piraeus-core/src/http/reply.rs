//! A successful answer: its body (text, bytes, a streamed blob, or a redirect) and its headers.

use std::ops::Range;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use tokio_util::io::ReaderStream;

use super::conditional;
use super::log::{self, RequestFacts};
use super::{NO_STORE, TEXT};
use crate::proxy::Validators;
use crate::store::Blob;
use crate::turns::CacheOutcome;

/// Whether Piraeus answered from its store (`hit`) or had to fetch (`miss`): for clients,
/// tests and the bench. A constant name costs no allocation per answer, unlike a `&str` one.
const CACHE_OUTCOME: HeaderName = HeaderName::from_static("x-piraeus-cache");

/// How much of a streamed blob is read at a time: fewer, larger reads and writes for zips.
const STREAM_CHUNK: usize = 256 * 1024;

pub(super) struct Reply {
    pub body: ReplyBody,
    pub content_type: &'static str,
    pub cache_control: HeaderValue,
    pub outcome: CacheOutcome,
    /// Set for stored artifacts, which have validators and can be ranged over.
    pub stored: Option<StoredParts>,
}

/// What a stored artifact's answer says about the artifact as a whole.
pub(super) struct StoredParts {
    pub validators: Validators,
    /// The whole artifact's length.
    pub length: u64,
    /// The part of it in the body, for a `206`.
    pub range: Option<Range<u64>>,
}

pub(super) enum ReplyBody {
    Text(String),
    Bytes(Bytes),
    /// Streamed from storage, never read whole.
    Blob(Blob),
    /// Answered elsewhere: a `307` (a `302` for a policy redirect) to this URL.
    Redirect(HeaderValue),
    /// `304`: the client's copy is current.
    NotModified,
    /// `416`: the range names no byte of the artifact.
    Unsatisfiable,
}

impl Reply {
    pub fn text(
        body: String,
        content_type: &'static str,
        cache_control: HeaderValue,
        outcome: CacheOutcome,
    ) -> Self {
        Self {
            body: ReplyBody::Text(body),
            content_type,
            cache_control,
            outcome,
            stored: None,
        }
    }

    pub fn into_response(self, route: &'static str, head_only: bool) -> Response {
        let mut status = StatusCode::OK;
        let mut content_type = HeaderValue::from_static(self.content_type);
        let mut cache_control = self.cache_control;
        let (length, body, location) = match self.body {
            ReplyBody::Text(text) => (Some(text.len() as u64), Body::from(text), None),
            ReplyBody::Bytes(bytes) => (Some(bytes.len() as u64), Body::from(bytes), None),
            ReplyBody::Blob(blob) => (
                Some(blob.length),
                Body::from_stream(ReaderStream::with_capacity(blob.body, STREAM_CHUNK)),
                None,
            ),
            ReplyBody::Redirect(url) => {
                status = StatusCode::TEMPORARY_REDIRECT;
                (Some(0), Body::empty(), Some(url))
            }
            ReplyBody::NotModified => {
                status = StatusCode::NOT_MODIFIED;
                (None, Body::empty(), None)
            }
            ReplyBody::Unsatisfiable => {
                status = StatusCode::RANGE_NOT_SATISFIABLE;
                content_type = HeaderValue::from_static(TEXT);
                cache_control = HeaderValue::from_static(NO_STORE);
                let text = "range not satisfiable\n";
                (Some(text.len() as u64), Body::from(text), None)
            }
        };
        let body = if head_only { Body::empty() } else { body };
        let mut response = Response::new(body);
        *response.status_mut() = status;
        // Room for every header an answer gets, the request id included, in one allocation
        // instead of growing the map three times on every hit.
        *response.headers_mut() = HeaderMap::with_capacity(12);
        let headers = response.headers_mut();
        if let Some(location) = location {
            headers.insert(header::LOCATION, location);
        }
        if status != StatusCode::NOT_MODIFIED {
            headers.insert(header::CONTENT_TYPE, content_type);
        }
        headers.insert(header::CACHE_CONTROL, cache_control);
        if let Some(length) = length {
            headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
        }
        if let Some(stored) = self.stored {
            headers.insert(header::ETAG, stored.validators.etag);
            headers.insert(header::LAST_MODIFIED, stored.validators.last_modified);
            headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
            match (status, stored.range) {
                (StatusCode::RANGE_NOT_SATISFIABLE, _) => {
                    let range = conditional::unsatisfied_range(stored.length);
                    headers.insert(header::CONTENT_RANGE, range);
                }
                (StatusCode::OK, Some(range)) => {
                    *response.status_mut() = StatusCode::PARTIAL_CONTENT;
                    let range = conditional::content_range(&range, stored.length);
                    response.headers_mut().insert(header::CONTENT_RANGE, range);
                }
                _ => {}
            }
        }
        let headers = response.headers_mut();
        headers.insert(
            CACHE_OUTCOME,
            HeaderValue::from_static(self.outcome.as_str()),
        );
        log::note(RequestFacts {
            route,
            outcome: Some(self.outcome),
        });
        response
    }
}
