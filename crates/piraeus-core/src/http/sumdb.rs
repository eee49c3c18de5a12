//! `/sumdb/<name>/...`: the checksum-database proxy ([`crate::sumdb`]) over HTTP. Full tiles
//! are immutable; `supported`, `latest`, lookups and partial tiles are kept by clients and CDNs
//! only for the answer TTL, and a last answer served while the database is unreachable is not
//! kept at all and says so: `x-piraeus-sumdb: stale`.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method};
use axum::response::Response;

use super::reply::{Reply, ReplyBody};
use super::{NO_STORE, error_response, max_age, only_get_and_head};
use crate::error::Error;
use crate::proxy::Proxy;
use crate::store::IMMUTABLE;
use crate::turns::CacheOutcome;

/// The header that marks an answer the database did not give just now.
const STALE_HEADER: &str = "x-piraeus-sumdb";

pub(super) async fn sumdb(State(proxy): State<Arc<Proxy>>, request: Request) -> Response {
    let method = request.method().clone();
    if let Some(refused) = only_get_and_head(&method) {
        return refused;
    }
    let Some(mirror) = proxy.sumdb() else {
        let error = Error::not_found("this proxy does not proxy any checksum database");
        return error_response(&error, "invalid");
    };
    let (database, endpoint) = match mirror.route(request.uri().path()) {
        Ok(parsed) => parsed,
        Err(error) => return error_response(&error, "invalid"),
    };
    let name = endpoint.route_name();
    if let Some(module) = endpoint.module()
        && let Err(error) = super::auth::in_scope(&request, module)
    {
        return error_response(&error, name);
    }
    let answer = match mirror.answer(database, &endpoint, proxy.policy()).await {
        Ok(answer) => answer,
        Err(error) => return error_response(&error, name),
    };
    let stale = answer.outcome == CacheOutcome::Stale;
    let cache_control = if answer.immutable {
        HeaderValue::from_static(IMMUTABLE)
    } else if stale {
        // The next request should find the database again as soon as it is back.
        HeaderValue::from_static(NO_STORE)
    } else {
        max_age(mirror.ttl())
    };
    let mut response = Reply {
        body: ReplyBody::Bytes(answer.body),
        content_type: answer.content_type,
        cache_control,
        outcome: answer.outcome,
        stored: None,
    }
    .into_response(name, method == Method::HEAD);
    if stale {
        response
            .headers_mut()
            .insert(STALE_HEADER, HeaderValue::from_static("stale"));
    }
    response
}
