//! One log line, and one metric, per request, under a request id that the response carries
//! (`x-request-id`, and the body of a 5xx) so a user's report leads to the log line.

use std::cell::{Cell, RefCell};
use std::pin::pin;
use std::time::Instant;

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use bytes::Bytes;

use crate::golang::path;
use crate::telemetry::metrics;
use crate::telemetry::request::{CURRENT, Current, next_request_id};
pub(super) use crate::telemetry::request::{RequestFacts, note, note_client};
use crate::turns::CacheOutcome;

/// A constant name costs no allocation per request, unlike a `&str` one.
const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// One log line per request: request id, route, status, cache outcome, duration.
pub(super) async fn log_request(request: Request, next: Next) -> Response {
    let started = Instant::now();
    // The id's own buffer becomes the header value: no copy.
    let id = HeaderValue::from_maybe_shared(Bytes::from(next_request_id()))
        .expect("hex digits and a dash");
    let method = request.method().clone();
    // A parsed URI shares the connection's read buffer: keeping it costs no copy of the path.
    let uri = request.uri().clone();
    let current = Current {
        id,
        facts: Cell::new(None),
        client: RefCell::new(None),
    };
    let mut scoped = pin!(CURRENT.scope(current, next.run(request)));
    let mut response = scoped.as_mut().await;
    let Current { id, facts, client } = scoped
        .take_value()
        .expect("the scope returns its value once done");
    let request_id = id.to_str().expect("hex digits and a dash");
    let path = path::cut(uri.path(), 512);
    let facts = facts.get();
    let route = facts.map_or("health", |f| f.route);
    let cache = facts
        .and_then(|f| f.outcome)
        .map_or("-", CacheOutcome::as_str);
    // Whole microseconds: finer is noise, and a short number is cheaper to write.
    let duration_ms = started.elapsed().as_micros() as f64 / 1000.0;
    let client = client.into_inner();
    let client = client.as_deref().unwrap_or("-");
    if let Some(facts) = facts {
        let outcome = match facts.outcome {
            _ if response.status().as_u16() >= 400 => "error",
            Some(CacheOutcome::Miss) => "miss",
            Some(_) => "hit",
            None => "other",
        };
        // The announced length: counting a streamed body as it goes would cost every hit more.
        let bytes = if method == axum::http::Method::HEAD {
            0
        } else {
            response
                .headers()
                .get(axum::http::header::CONTENT_LENGTH)
                .and_then(|length| length.to_str().ok()?.parse().ok())
                .unwrap_or(0)
        };
        metrics::request(
            route,
            outcome,
            response.status().as_u16(),
            duration_ms,
            bytes,
        );
    }
    tracing::info!(
        target: "piraeus::request",
        request_id,
        %method,
        path,
        route,
        client,
        status = response.status().as_u16(),
        cache,
        duration_ms,
        "request"
    );
    response.headers_mut().insert(REQUEST_ID_HEADER, id);
    response
}
