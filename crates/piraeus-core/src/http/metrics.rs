//! `GET /metrics`: what [`crate::telemetry::metrics`] recorded, for Prometheus to scrape.

use axum::extract::Request;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::log::{self, RequestFacts};
use crate::error::Error;
use crate::telemetry::prometheus;

const ROUTE: &str = "metrics";

/// The metrics span every module, so a token scoped to some may not read them.
pub(super) async fn metrics(request: Request) -> Response {
    if let Some(client) = super::auth::scoped_client(&request) {
        let error = Error::forbidden(format!(
            "token {:?} may not read the metrics: it is scoped to some modules",
            &*client.name
        ));
        return super::error_response(&error, ROUTE);
    }
    log::note(RequestFacts {
        route: ROUTE,
        outcome: None,
    });
    (
        [
            (header::CONTENT_TYPE, prometheus::CONTENT_TYPE),
            (header::CACHE_CONTROL, super::NO_STORE),
        ],
        prometheus::render(),
    )
        .into_response()
}
