//! The GOPROXY endpoints: `$module/@v/list`, `$module/@latest`, `$module/@v/$query.info`, and a
//! canonical version's `.info`, `.mod` and `.zip`.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::Response;

use super::conditional::{self, Wanted};
use super::reply::{Reply, ReplyBody, StoredParts};
use super::route::{self, Route};
use super::{JSON, NO_STORE, TEXT, error_response, max_age, only_get_and_head};
use crate::error::{Error, ErrorKind};
use crate::fetch::ResolvedVersion;
use crate::policy::Decision;
use crate::proxy::{Artifact, Proxy, Served, artifact_size, format_list};
use crate::store::{ArtifactKind, IMMUTABLE};
use crate::turns::CacheOutcome;

/// Every GOPROXY path: parsed and validated once, then handed to its endpoint.
pub(super) async fn goproxy(State(proxy): State<Arc<Proxy>>, request: Request) -> Response {
    let method = request.method().clone();
    if let Some(refused) = only_get_and_head(&method) {
        return refused;
    }
    let route = match route::parse(request.uri().path()) {
        Ok(route) => route,
        Err(error) => return error_response(&error, "invalid"),
    };
    let name = route.name();
    if let Err(error) = super::auth::in_scope(&request, route.module()) {
        return error_response(&error, name);
    }
    if let Decision::Redirect(proxy_url) = proxy.policy().decide(route.module()) {
        let (path, headers) = (request.uri().path(), request.headers());
        return redirect_unless_stored(&proxy, route, proxy_url, path, headers, method).await;
    }
    let reply = match route {
        Route::List { module } => list(&proxy, &module).await,
        Route::Latest { module } => latest(&proxy, &module).await,
        Route::Query { module, query } => query_info(&proxy, &module, &query).await,
        Route::Artifact {
            module,
            version,
            kind,
        } => {
            let (path, headers) = (request.uri().path(), request.headers());
            artifact(&proxy, &module, &version, kind, path, headers, &method).await
        }
    };
    match reply {
        Ok(reply) => reply.into_response(name, method == Method::HEAD),
        Err(error) => error_response(&error, name),
    }
}

/// A module the policy sends to another proxy: stored artifacts are served from here, anything
/// else (lists, queries, artifacts not stored) is a redirect to the same path there.
async fn redirect_unless_stored(
    proxy: &Proxy,
    route: Route,
    proxy_url: &str,
    raw_path: &str,
    headers: &HeaderMap,
    method: Method,
) -> Response {
    let name = route.name();
    if let Route::Artifact {
        module,
        version,
        kind,
    } = &route
    {
        match artifact(proxy, module, version, *kind, raw_path, headers, &method).await {
            Ok(reply) => return reply.into_response(name, method == Method::HEAD),
            Err(error) if error.kind() != ErrorKind::NotFound => {
                return error_response(&error, name);
            }
            Err(_) => {}
        }
    }
    let location = format!("{proxy_url}{raw_path}");
    let Ok(location) = HeaderValue::try_from(location) else {
        return error_response(&Error::invalid("path cannot be redirected"), name);
    };
    let mut response = Reply {
        body: ReplyBody::Redirect(location),
        content_type: TEXT,
        cache_control: HeaderValue::from_static(NO_STORE),
        outcome: CacheOutcome::Miss,
        stored: None,
    }
    .into_response(name, method == Method::HEAD);
    *response.status_mut() = StatusCode::FOUND;
    response
}

/// List, latest and query answers change when upstream does: clients and CDNs may keep them as
/// long as Piraeus itself reuses them.
fn short_lived(proxy: &Proxy) -> HeaderValue {
    max_age(proxy.answer_ttl())
}

/// `GET $module/@v/list`
async fn list(proxy: &Proxy, module: &str) -> Result<Reply, Error> {
    let Served { value, outcome } = proxy.list(module).await?;
    Ok(Reply::text(
        format_list(&value),
        TEXT,
        short_lived(proxy),
        outcome,
    ))
}

/// `GET $module/@latest`
async fn latest(proxy: &Proxy, module: &str) -> Result<Reply, Error> {
    let Served { value, outcome } = proxy.latest(module).await?;
    Ok(resolved(proxy, &value, outcome))
}

/// `GET $module/@v/$query.info` for a branch, tag or commit prefix.
async fn query_info(proxy: &Proxy, module: &str, query: &str) -> Result<Reply, Error> {
    let Served { value, outcome } = proxy.query(module, query).await?;
    Ok(resolved(proxy, &value, outcome))
}

fn resolved(proxy: &Proxy, resolved: &ResolvedVersion, outcome: CacheOutcome) -> Reply {
    let body = serde_json::to_string(resolved).expect("a resolved version serialises");
    Reply::text(body, JSON, short_lived(proxy), outcome)
}

/// `GET $module/@v/$version.info`, `.mod` and `.zip` (at `raw_path`), or a range of one; `304`
/// when the client's copy is current.
async fn artifact(
    proxy: &Proxy,
    module: &str,
    version: &str,
    kind: ArtifactKind,
    raw_path: &str,
    headers: &HeaderMap,
    method: &Method,
) -> Result<Reply, Error> {
    let Served {
        value: ready,
        outcome,
    } = proxy.ready(module, version).await?;
    let validators = ready.validators(kind);
    let length = artifact_size(&ready.record, kind);
    let mut range = None;
    let body = match conditional::evaluate(headers, &validators, length, method == Method::GET) {
        Wanted::NotModified => ReplyBody::NotModified,
        Wanted::Unsatisfiable => ReplyBody::Unsatisfiable,
        wanted => {
            if let Wanted::Partial(part) = wanted {
                range = Some(part);
            }
            match proxy.open(&ready.record, kind, range.clone()).await? {
                Artifact::Bytes(bytes) => ReplyBody::Bytes(bytes),
                Artifact::Blob(blob) => ReplyBody::Blob(blob),
                // The same path on the same host: asked again, CloudFront checks the client's
                // token again and answers from the bucket (its range and conditions too). A
                // link to the bucket itself would skip every check the edge makes.
                Artifact::Elsewhere => {
                    let path = HeaderValue::try_from(raw_path)
                        .map_err(|_| Error::invalid("path cannot be redirected"))?;
                    return Ok(Reply {
                        body: ReplyBody::Redirect(path),
                        content_type: TEXT,
                        cache_control: HeaderValue::from_static(NO_STORE),
                        outcome,
                        stored: None,
                    });
                }
            }
        }
    };
    Ok(Reply {
        body,
        content_type: kind.content_type(),
        cache_control: HeaderValue::from_static(IMMUTABLE),
        outcome,
        stored: Some(StoredParts {
            validators,
            length,
            range,
        }),
    })
}
