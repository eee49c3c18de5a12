//! `POST /prefetch`: warms the cache from a go.sum, a go.mod or a JSON list (see
//! [`crate::prefetch`]).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::log::{self, RequestFacts};
use super::{NO_STORE, error_response};
use crate::clock::parse_duration;
use crate::error::Error;
use crate::prefetch::{self, ItemState};
use crate::proxy::Proxy;

/// A go.sum of a few thousand lines fits easily; a Lambda request cannot exceed 6 MB anyway.
pub(super) const BODY_LIMIT: usize = 4 * 1024 * 1024;
/// How long the body may take to arrive.
const BODY_TIMEOUT: Duration = Duration::from_secs(30);
/// The longest a prefetch request may wait for its fetches.
const MAX_WAIT: Duration = Duration::from_secs(600);

/// `POST /prefetch[?wait=DURATION]`: a JSON array of `module@version`, a go.sum or a go.mod.
/// Answers 202 while fetches run, 200 when all settled, 409 when a stored sum differs from a
/// go.sum line, 400 when nothing could be accepted; the JSON report has every line's fate.
pub(super) async fn prefetch(State(proxy): State<Arc<Proxy>>, request: Request) -> Response {
    let wait = match prefetch_wait(request.uri().query().unwrap_or_default()) {
        Ok(wait) => wait,
        Err(error) => return error_response(&error, "prefetch"),
    };
    let client = super::auth::scoped_client(&request);
    // The server's header timeout does not cover the body: a client trickling one would hold
    // its connection (and a slot under the connection cap) for as long as it liked.
    let body = axum::body::to_bytes(request.into_body(), BODY_LIMIT);
    let body = match tokio::time::timeout(BODY_TIMEOUT, body).await {
        Ok(Ok(body)) => body,
        Ok(Err(_)) => {
            let error = Error::invalid(format!(
                "the body is larger than {BODY_LIMIT} bytes or was cut off"
            ));
            return error_response(&error, "prefetch");
        }
        Err(_) => {
            let error = Error::invalid(format!(
                "the body did not arrive within {}s",
                BODY_TIMEOUT.as_secs()
            ));
            return error_response(&error, "prefetch");
        }
    };
    let Ok(body) = std::str::from_utf8(&body) else {
        return error_response(&Error::invalid("the body is not UTF-8 text"), "prefetch");
    };
    let mut plan = match prefetch::parse(body) {
        Ok(plan) => plan,
        Err(error) => return error_response(&error, "prefetch"),
    };
    let asked = plan.wanted.len();
    if let Some(client) = client {
        plan.reject_where(|wanted| {
            (!client.may_read(&wanted.module))
                .then(|| client.refusal(&wanted.module).message().to_string())
        });
    }
    // Everything asked for was outside the token's modules.
    let out_of_scope = asked > 0 && plan.wanted.is_empty();
    let report = prefetch::run(&proxy, plan, wait).await;
    tracing::info!(
        accepted = report.accepted.len(),
        rejected = report.rejected_count,
        stored = report.count(ItemState::Stored),
        fetching = report.still_fetching(),
        failed = report.count(ItemState::Failed),
        mismatches = report.mismatches.len(),
        "prefetch"
    );
    let status = if out_of_scope {
        StatusCode::FORBIDDEN
    } else if report.accepted.is_empty() {
        StatusCode::BAD_REQUEST
    } else if !report.mismatches.is_empty() {
        StatusCode::CONFLICT
    } else if report.still_fetching() > 0 {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    let response = (
        status,
        [(header::CACHE_CONTROL, NO_STORE)],
        axum::Json(report),
    )
        .into_response();
    log::note(RequestFacts {
        route: "prefetch",
        outcome: None,
    });
    response
}

/// The `wait` query parameter: how long to wait for the fetches, `0` (the default) for none.
fn prefetch_wait(query: &str) -> Result<Duration, Error> {
    let Some(value) = query.split('&').find_map(|pair| pair.strip_prefix("wait=")) else {
        return Ok(Duration::ZERO);
    };
    let wait = parse_duration(value).map_err(Error::invalid)?;
    if wait > MAX_WAIT {
        return Err(Error::invalid(format!(
            "wait={value} is longer than the {}s allowed",
            MAX_WAIT.as_secs()
        )));
    }
    Ok(wait)
}
