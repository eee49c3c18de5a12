//! One log line, and one metric, per request, under a request id that the response carries
//! (`x-request-id`, and the body of a 5xx) so a user's report leads to the log line.

use std::cell::{Cell, RefCell};
use std::pin::pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::Instant;

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use bytes::Bytes;

use crate::golang::path;
use crate::proxy::CacheOutcome;
use crate::telemetry::metrics;

/// A constant name costs no allocation per request, unlike a `&str` one.
const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// Recorded by handlers for the request log ([`note`]).
#[derive(Clone, Copy)]
pub(super) struct RequestFacts {
    pub route: &'static str,
    pub outcome: Option<CacheOutcome>,
}

/// The request being answered on this task. Handlers note their facts here rather than in the
/// response's extensions, whose map costs three allocations on every hit.
struct Current {
    id: HeaderValue,
    facts: Cell<Option<RequestFacts>>,
    /// The name of the token the request was allowed with.
    client: RefCell<Option<Arc<str>>>,
}

tokio::task_local! {
    static CURRENT: Current;
}

/// The id of the request being answered on this task, if any.
pub(crate) fn request_id() -> Option<String> {
    CURRENT
        .try_with(|current| current.id.to_str().ok().map(str::to_owned))
        .ok()
        .flatten()
}

/// Records what the request log says about the request being answered on this task.
pub(super) fn note(facts: RequestFacts) {
    let _ = CURRENT.try_with(|current| current.facts.set(Some(facts)));
}

/// Records which token the request being answered on this task was allowed with.
pub(super) fn note_client(name: Arc<str>) {
    let _ = CURRENT.try_with(|current| *current.client.borrow_mut() = Some(name));
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
