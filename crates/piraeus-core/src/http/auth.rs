//! Requires a client token (HTTP Basic) on every route it wraps.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::log::{self, RequestFacts};
use super::{NO_STORE, TEXT};
use crate::auth::{Authenticator, CHALLENGE, Client};
use crate::error::Error;
use crate::store::IMMUTABLE;

/// [`IMMUTABLE`] for one client.
const PRIVATE_IMMUTABLE: &str = "private, max-age=31536000, immutable";

/// An answer given for a token is for that client: a shared cache in front (a reverse proxy, a
/// corporate cache) must neither keep it for others nor hand it to a client without a token.
/// The CloudFront face has no token check here (the edge checks before its cache) and stays
/// `public`.
fn keep_private(headers: &mut HeaderMap) {
    let private = match headers.get(header::CACHE_CONTROL) {
        // Every artifact hit: no allocation.
        Some(value) if value == IMMUTABLE => Some(HeaderValue::from_static(PRIVATE_IMMUTABLE)),
        Some(value) => value
            .as_bytes()
            .strip_prefix(b"public")
            .and_then(|rest| HeaderValue::from_bytes(&[b"private".as_slice(), rest].concat()).ok()),
        None => None,
    };
    if let Some(private) = private {
        headers.insert(header::CACHE_CONTROL, private);
    }
    headers.append(header::VARY, HeaderValue::from_static("Authorization"));
}

/// `Ok` when the request's token (if scoped) may read `module`; else its `403`, before anything
/// is looked up or fetched.
pub(super) fn in_scope(request: &Request, module: &str) -> Result<(), Error> {
    match request.extensions().get::<Arc<Client>>() {
        Some(client) if !client.may_read(module) => Err(client.refusal(module)),
        _ => Ok(()),
    }
}

/// The scoped token a request came with; `None` for an unscoped one or none.
pub(super) fn scoped_client(request: &Request) -> Option<Arc<Client>> {
    request.extensions().get::<Arc<Client>>().cloned()
}

/// The same answer whatever was wrong and whether or not the module exists, so it tells an
/// outsider nothing.
pub(super) async fn require_token(
    State(authenticator): State<Arc<Authenticator>>,
    mut request: Request,
    next: Next,
) -> Response {
    let authorization = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok());
    if let Some(client) = authenticator.allows(authorization) {
        // For the request log: which token was used (to see an old one is unused before
        // revoking it).
        log::note_client(client.name.clone());
        if client.is_scoped() {
            // Each route asks it about the modules it is asked for (`in_scope`).
            request.extensions_mut().insert(client);
        }
        let mut response = next.run(request).await;
        keep_private(response.headers_mut());
        return response;
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

#[cfg(test)]
mod tests {
    use crate::auth::parse_scope;
    use crate::error::Result;
    use crate::golang::{glob, path};
    use crate::sumdb::path::Endpoint;

    /// The module the serve router reads for a GET of `raw_path` (`None`: it names none), with
    /// the checksum database sum.golang.org configured; an error where it rejects the path.
    fn module_read(raw_path: &str) -> Result<Option<String>> {
        if ["/index", "/metrics", "/readyz", "/version"].contains(&raw_path) {
            return Ok(None);
        }
        if raw_path.starts_with("/sumdb/") {
            let decoded = path::percent_decode(raw_path)?;
            let rest = decoded
                .strip_prefix("/sumdb/sum.golang.org/")
                .expect("the table's lookups are of sum.golang.org");
            return Ok(Endpoint::parse(rest)?.module().map(str::to_string));
        }
        Ok(Some(
            super::super::route::parse(raw_path)?.module().to_string(),
        ))
    }

    /// testdata/edge-scopes.json, the table the CloudFront viewer-request function is run
    /// against (tests/template.rs), says what this code decides.
    #[test]
    fn the_edge_scope_table_is_what_the_router_and_the_globs_decide() {
        let table: serde_json::Value =
            serde_json::from_str(include_str!("../../testdata/edge-scopes.json")).unwrap();
        let cases = table["cases"].as_array().unwrap();
        for case in cases {
            let path = case["path"].as_str().unwrap();
            let expect = case["expect"].as_str().unwrap();
            let scope = case["modules"]
                .as_str()
                .map(|list| parse_scope(list).unwrap());
            let read = module_read(path);
            let may_read = |module: &str| {
                scope.as_deref().is_none_or(|patterns| {
                    glob::matching_prefix_pattern(patterns, module).is_some()
                })
            };
            let spans_every_module = path == "/index" || path == "/metrics";
            match (expect.strip_prefix("refuse"), &read) {
                (None, Ok(module)) => assert!(
                    module.as_deref().is_none_or(may_read)
                        && !(scope.is_some() && spans_every_module),
                    "{case}: {read:?}"
                ),
                (Some(""), _) => assert!(
                    scope.is_some() && (read.is_err() || spans_every_module),
                    "{case}: the router reads {read:?}"
                ),
                (Some(refused), Ok(Some(module))) => assert!(
                    refused.strip_prefix(' ') == Some(module.as_str()) && !may_read(module),
                    "{case}: {read:?}"
                ),
                _ => panic!("{case}: the router reads {read:?}"),
            }
        }
        assert!(cases.len() > 50, "the table has its cases");
    }
}
