//! One log line, and one metric, per request, under a request id that the response carries
//! (`x-request-id`, and the body of a 5xx) so a user's report leads to the log line.

use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

use super::RequestFacts;
use super::auth::Client;
use crate::proxy::CacheOutcome;
use crate::telemetry::metrics;

/// A constant name costs no allocation per request, unlike a `&str` one.
const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The id of the request being answered on this task, if any.
pub(crate) fn request_id() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// Unique across instances (a random prefix per process) and cheap (a counter per request).
fn next_request_id() -> String {
    static PREFIX: LazyLock<u32> = LazyLock::new(|| {
        let mut bytes = [0u8; 4];
        // Uniqueness, not secrecy: a clock-derived prefix does if the OS has no randomness.
        getrandom::fill(&mut bytes).unwrap_or_else(|_| {
            bytes = (crate::clock::now_millis() as u32).to_le_bytes();
        });
        u32::from_le_bytes(bytes)
    });
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let sequence = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{:08x}-{sequence:x}", *PREFIX)
}

/// One log line per request: request id, route, status, cache outcome, duration.
pub(super) async fn log_request(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let request_id = next_request_id();
    let header = HeaderValue::try_from(&request_id).expect("hex digits and a dash");
    let method = request.method().clone();
    let path = request.uri().path().chars().take(512).collect::<String>();
    let mut response = REQUEST_ID.scope(request_id, next.run(request)).await;
    let request_id = header.to_str().expect("hex digits and a dash");
    let facts = response.extensions().get::<RequestFacts>().copied();
    let route = facts.map_or("health", |f| f.route);
    let cache = facts
        .and_then(|f| f.outcome)
        .map_or("-", CacheOutcome::as_str);
    let duration_ms = started.elapsed().as_secs_f64() * 1000.0;
    let client = response
        .extensions()
        .get::<Client>()
        .map_or("-", |client| &*client.0);
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
    response.headers_mut().insert(REQUEST_ID_HEADER, header);
    response
}
