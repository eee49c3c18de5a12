//! The axum router: the same [`Router`] serves locally (`piraeus serve`'s HTTP server) and in the serve Lambda
//! function (`lambda_http::run`). One file per concern: [`route`] parses GOPROXY paths,
//! `goproxy` answers them, `health`, `index_feed`, `prefetch` and `sumdb` (the checksum-database
//! proxy) are the other endpoints, `reply` builds responses and `log` writes one line per
//! request.

mod auth;
mod conditional;
mod goproxy;
mod headers;
mod health;
mod index_feed;
mod log;
#[cfg(feature = "prometheus")]
mod metrics;
mod prefetch;
mod reply;
mod route;
mod sumdb;

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};

pub use self::headers::MAX_HEADER_BYTES;
use self::log::RequestFacts;
use crate::auth::Authenticator;
use crate::error::{Error, ErrorKind};
use crate::proxy::Proxy;

/// Errors may clear up at any moment (a tag pushed, upstream back): never cache them.
const NO_STORE: &str = "no-store";
const TEXT: &str = "text/plain; charset=utf-8";
const JSON: &str = "application/json";
const RETRY_AFTER_SECONDS: &str = "5";

/// The GOPROXY routes, `/sumdb/...` (the checksum-database proxy), `/index` (the feed of stored
/// versions) and `/readyz`/`/version`, behind a client token when `auth` is given; `/healthz`
/// always open, for load balancers.
pub fn router(proxy: Arc<Proxy>, auth: Option<Arc<Authenticator>>) -> Router {
    let protected = protect(
        Router::new()
            .route("/readyz", get(health::readyz))
            .route("/version", get(health::version))
            .route("/index", get(index_feed::index_feed))
            .route("/sumdb/{*path}", any(sumdb::sumdb))
            .fallback(goproxy::goproxy)
            .with_state(proxy),
        auth,
    );
    let routes = Router::new()
        .route("/healthz", get(health::healthz))
        .merge(protected);
    outermost(routes)
}

/// The prefetch API, kept apart from the GOPROXY router: on AWS it is its own IAM-authorised
/// function URL, never reachable through CloudFront; locally it takes the same tokens.
pub fn prefetch_router(proxy: Arc<Proxy>, auth: Option<Arc<Authenticator>>) -> Router {
    let routes = Router::new()
        .route("/prefetch", post(prefetch::prefetch))
        .with_state(proxy);
    outermost(protect(routes, auth))
}

/// `GET /metrics` (Prometheus, OpenMetrics text), behind a client token when `auth` is given:
/// on `piraeus serve`'s own listener it takes the same tokens as every route; on a listener of
/// its own (`--metrics-listen`) it is open, and the network decides who reaches it.
#[cfg(feature = "prometheus")]
pub fn metrics_router(auth: Option<Arc<Authenticator>>) -> Router {
    let routes = Router::new().route("/metrics", get(metrics::metrics));
    outermost(protect(routes, auth))
}

/// What every request passes first: its log line, then the header limit, before any route or
/// token check sees it.
fn outermost(routes: Router) -> Router {
    routes
        .layer(middleware::from_fn(headers::limit_headers))
        .layer(middleware::from_fn(log::log_request))
}

fn protect(routes: Router, auth: Option<Arc<Authenticator>>) -> Router {
    match auth {
        Some(authenticator) => routes.layer(middleware::from_fn_with_state(
            authenticator,
            auth::require_token,
        )),
        None => routes,
    }
}

/// The HTTP status for each error kind, and why (docs/errors.md has the full table).
pub(crate) fn status_for(kind: ErrorKind) -> StatusCode {
    match kind {
        // 404 and 410 are the only statuses on which the go command tries its next GOPROXY.
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::Gone => StatusCode::GONE,
        ErrorKind::Invalid => StatusCode::BAD_REQUEST,
        ErrorKind::Forbidden => StatusCode::FORBIDDEN,
        ErrorKind::Upstream => StatusCode::BAD_GATEWAY,
        ErrorKind::Pending => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::Conflict => StatusCode::CONFLICT,
        ErrorKind::Storage => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// `Cache-Control` for answers that may be reused for `ttl`, by clients and CDNs as by Piraeus.
fn max_age(ttl: std::time::Duration) -> HeaderValue {
    let value = format!("public, max-age={}", ttl.as_secs());
    HeaderValue::try_from(value).expect("digits and ASCII make a valid header")
}

/// `405` for a method other than GET and HEAD on the read-only routes; `None` for those two.
fn only_get_and_head(method: &axum::http::Method) -> Option<Response> {
    if method == axum::http::Method::GET || method == axum::http::Method::HEAD {
        return None;
    }
    let mut response = error_response(
        &Error::invalid(format!("method {method} is not allowed")),
        "other",
    );
    *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
    Some(response)
}

/// The error as a client may read it ([`Error::client_message`]); its source stays in the logs.
/// A 5xx also gives the request id that is in the log line with the details.
fn error_response(error: &Error, route: &'static str) -> Response {
    let status = status_for(error.kind());
    let shown = error.client_message();
    let request_id = crate::telemetry::request::request_id();
    if status.is_server_error() || error.kind() == ErrorKind::Conflict {
        tracing::error!(request_id, route, error = %error.chain(), "request failed");
    }
    let body = match request_id {
        Some(id) if status.is_server_error() => format!("{shown}\nrequest id: {id}\n"),
        _ => format!("{shown}\n"),
    };
    let mut response = (
        status,
        [
            (header::CONTENT_TYPE, TEXT),
            (header::CACHE_CONTROL, NO_STORE),
        ],
        body,
    )
        .into_response();
    if status == StatusCode::SERVICE_UNAVAILABLE {
        // Busy or still fetching: worth asking again soon, not at once.
        response.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from_static(RETRY_AFTER_SECONDS),
        );
    }
    log::note(RequestFacts {
        route,
        outcome: None,
    });
    response
}
