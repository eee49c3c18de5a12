//! The axum router: the same [`Router`] serves locally (`axum::serve`) and in the serve Lambda
//! function (`lambda_http::run`). One file per concern: [`route`] parses GOPROXY paths,
//! `goproxy` answers them, `health` and `prefetch` are the other endpoints, `reply` builds
//! responses and `log` writes one line per request.

mod goproxy;
mod health;
mod log;
mod prefetch;
mod reply;
pub(crate) mod route;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::error::{Error, ErrorKind};
use crate::proxy::{CacheOutcome, Proxy};

/// Errors may clear up at any moment (a tag pushed, upstream back): never cache them.
const NO_STORE: &str = "no-store";
const TEXT: &str = "text/plain; charset=utf-8";
const JSON: &str = "application/json";

pub fn router(proxy: Arc<Proxy>) -> Router {
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/version", get(health::version))
        .fallback(goproxy::goproxy)
        .layer(middleware::from_fn(log::log_request))
        .with_state(proxy)
}

/// The prefetch API, kept apart from the GOPROXY router: on AWS it is its own IAM-authorised
/// function URL, never reachable through CloudFront.
pub fn prefetch_router(proxy: Arc<Proxy>) -> Router {
    Router::new()
        .route("/prefetch", post(prefetch::prefetch))
        .layer(DefaultBodyLimit::max(prefetch::BODY_LIMIT))
        .layer(middleware::from_fn(log::log_request))
        .with_state(proxy)
}

/// The HTTP status for each error kind, and why (docs/errors.md has the full table).
pub(crate) fn status_for(kind: ErrorKind) -> StatusCode {
    match kind {
        // 404 and 410 are the only statuses on which the go command tries its next GOPROXY.
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::Gone => StatusCode::GONE,
        ErrorKind::Invalid => StatusCode::BAD_REQUEST,
        ErrorKind::Upstream => StatusCode::BAD_GATEWAY,
        ErrorKind::Pending => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::Conflict => StatusCode::CONFLICT,
        ErrorKind::Storage => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// Recorded by handlers for the request log.
#[derive(Clone, Copy)]
struct RequestFacts {
    route: &'static str,
    outcome: Option<CacheOutcome>,
}

/// The error's kind and message as text; its source stays in the logs.
fn error_response(error: &Error, route: &'static str) -> Response {
    let mut response = (
        status_for(error.kind()),
        [
            (header::CONTENT_TYPE, TEXT),
            (header::CACHE_CONTROL, NO_STORE),
        ],
        format!("{error}\n"),
    )
        .into_response();
    response.extensions_mut().insert(RequestFacts {
        route,
        outcome: None,
    });
    response
}
