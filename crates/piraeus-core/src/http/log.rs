//! One log line, and one metric, per request.

use std::time::Instant;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;

use super::RequestFacts;
use crate::proxy::CacheOutcome;
use crate::telemetry::metrics;

/// One log line per request: route, status, cache outcome, duration.
pub(super) async fn log_request(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().chars().take(512).collect::<String>();
    let response = next.run(request).await;
    let facts = response.extensions().get::<RequestFacts>().copied();
    let route = facts.map_or("health", |f| f.route);
    let cache = facts
        .and_then(|f| f.outcome)
        .map_or("-", CacheOutcome::as_str);
    let duration_ms = started.elapsed().as_secs_f64() * 1000.0;
    if let Some(facts) = facts {
        let outcome = match facts.outcome {
            _ if response.status().as_u16() >= 400 => "error",
            Some(CacheOutcome::Miss) => "miss",
            Some(_) => "hit",
            None => "other",
        };
        metrics::request(route, outcome, response.status().as_u16(), duration_ms);
    }
    tracing::info!(
        target: "piraeus::request",
        %method,
        path,
        route,
        status = response.status().as_u16(),
        cache,
        duration_ms,
        "request"
    );
    response
}
