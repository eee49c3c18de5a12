//! A successful answer: its body (text, a streamed blob, or a redirect) and its headers.

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use tokio_util::io::ReaderStream;

use super::RequestFacts;
use crate::proxy::CacheOutcome;
use crate::store::Blob;

pub(super) struct Reply {
    pub body: ReplyBody,
    pub content_type: &'static str,
    pub cache_control: HeaderValue,
    pub outcome: CacheOutcome,
}

pub(super) enum ReplyBody {
    Text(String),
    /// Streamed from storage, never read whole.
    Blob(Blob),
    /// Too large to answer here: a `307` to a presigned URL.
    Redirect(HeaderValue),
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
        }
    }

    pub fn into_response(self, route: &'static str, head_only: bool) -> Response {
        let (length, body, location) = match self.body {
            ReplyBody::Text(text) => (text.len() as u64, Body::from(text), None),
            ReplyBody::Blob(blob) => (
                blob.length,
                Body::from_stream(ReaderStream::with_capacity(blob.body, 64 * 1024)),
                None,
            ),
            ReplyBody::Redirect(url) => (0, Body::empty(), Some(url)),
        };
        let body = if head_only { Body::empty() } else { body };
        let mut response = Response::new(body);
        if let Some(location) = location {
            response.headers_mut().insert(header::LOCATION, location);
            *response.status_mut() = StatusCode::TEMPORARY_REDIRECT;
        }
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(self.content_type),
        );
        headers.insert(header::CACHE_CONTROL, self.cache_control);
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
        headers.insert(
            "x-piraeus-cache",
            HeaderValue::from_static(self.outcome.as_str()),
        );
        response.extensions_mut().insert(RequestFacts {
            route,
            outcome: Some(self.outcome),
        });
        response
    }
}
