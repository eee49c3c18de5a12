//! `/healthz`, `/readyz` and `/version`: for load balancers, orchestrators and operators.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::{NO_STORE, TEXT, error_response};
use crate::proxy::Proxy;

/// `GET /healthz`: the process is alive.
pub(super) async fn healthz() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, TEXT),
            (header::CACHE_CONTROL, NO_STORE),
        ],
        "ok\n",
    )
}

/// `GET /readyz`: storage and index are reachable.
pub(super) async fn readyz(State(proxy): State<Arc<Proxy>>) -> Response {
    match proxy.check().await {
        Ok(()) => (
            [
                (header::CONTENT_TYPE, TEXT),
                (header::CACHE_CONTROL, NO_STORE),
            ],
            "ready\n",
        )
            .into_response(),
        Err(error) => {
            let mut response = error_response(&error, "readyz");
            *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
            response
        }
    }
}

/// `GET /version`: the running release.
pub(super) async fn version() -> impl IntoResponse {
    let body = serde_json::json!({ "name": "piraeus", "version": env!("CARGO_PKG_VERSION") });
    ([(header::CACHE_CONTROL, NO_STORE)], axum::Json(body))
}
