//! Requires a client token (HTTP Basic) on every route it wraps.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::log::{self, RequestFacts};
use super::{NO_STORE, TEXT};
use crate::auth::{Authenticator, CHALLENGE};

/// The same answer whatever was wrong and whether or not the module exists, so it tells an
/// outsider nothing.
pub(super) async fn require_token(
    State(authenticator): State<Arc<Authenticator>>,
    request: Request,
    next: Next,
) -> Response {
    let authorization = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok());
    if let Some(name) = authenticator.allows(authorization) {
        // For the request log: which token was used (to see an old one is unused before
        // revoking it).
        log::note_client(name);
        return next.run(request).await;
    }
    let challenge = HeaderValue::from_static(CHALLENGE);
    let response = (
        StatusCode::UNAUTHORIZED,
        [
            (header::WWW_AUTHENTICATE, challenge),
            (header::CONTENT_TYPE, HeaderValue::from_static(TEXT)),
            (header::CACHE_CONTROL, HeaderValue::from_static(NO_STORE)),
        ],
        "unauthorized: missing or wrong credentials\n",
    )
        .into_response();
    log::note(RequestFacts {
        route: "unauthorized",
        outcome: None,
    });
    response
}
