//! Refuses requests whose headers are larger than any client needs, before anything of them is
//! kept (the remembered credentials, the log), so padding cannot be turned into memory.

use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;

use super::log::{self, RequestFacts};
use crate::error::Error;

/// All request headers together, names and values, at most this many bytes. The go command
/// sends a few hundred; a token is well under a hundred.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;

pub(super) async fn limit_headers(request: Request, next: Next) -> Response {
    // What HTTP/1.1 puts on the wire for each: `name: value\r\n`.
    let size: usize = request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    if size <= MAX_HEADER_BYTES {
        return next.run(request).await;
    }
    let error = Error::invalid(format!(
        "the request headers are {size} bytes; at most {MAX_HEADER_BYTES} are accepted"
    ));
    let mut response = super::error_response(&error, "other");
    *response.status_mut() = StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE;
    log::note(RequestFacts {
        route: "other",
        outcome: None,
    });
    response
}
