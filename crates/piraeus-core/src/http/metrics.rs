//! `GET /metrics`: what [`crate::telemetry::metrics`] recorded, for Prometheus to scrape.

use axum::http::header;
use axum::response::{IntoResponse, Response};

use crate::telemetry::prometheus;

pub(super) async fn metrics() -> Response {
    (
        [
            (header::CONTENT_TYPE, prometheus::CONTENT_TYPE),
            (header::CACHE_CONTROL, super::NO_STORE),
        ],
        prometheus::render(),
    )
        .into_response()
}
