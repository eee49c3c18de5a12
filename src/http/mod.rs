//! The axum router: the same [`Router`] serves locally (`axum::serve`) and in the serve Lambda
//! function (`lambda_http::run`).

pub mod route;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use tokio_util::io::ReaderStream;

use crate::config::parse_duration;
use crate::error::Error;
use crate::fetch::ResolvedVersion;
use crate::metrics;
use crate::module_path::ArtifactKind;
use crate::prefetch::{self, ItemState};
use crate::proxy::{Artifact, CacheOutcome, Proxy, Served, format_list};
use crate::store::Blob;
use route::Route;

/// Canonical `.info`, `.mod` and `.zip` never change.
pub const IMMUTABLE: &str = crate::module_path::IMMUTABLE_CACHE_CONTROL;
/// List, latest and query answers change when upstream does.
pub const SHORT_LIVED: &str = "public, max-age=60";
/// Errors may clear up at any moment (a tag pushed, upstream back): never cache them.
pub const NO_STORE: &str = "no-store";

const TEXT: &str = "text/plain; charset=utf-8";
const JSON: &str = "application/json";

pub fn router(proxy: Arc<Proxy>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/version", get(version))
        .fallback(goproxy)
        .layer(middleware::from_fn(log_request))
        .with_state(proxy)
}

/// The prefetch API, kept apart from the GOPROXY router: on AWS it is its own IAM-authorised
/// function URL, never reachable through CloudFront.
pub fn prefetch_router(proxy: Arc<Proxy>) -> Router {
    Router::new()
        .route("/prefetch", post(prefetch))
        .layer(DefaultBodyLimit::max(PREFETCH_BODY_LIMIT))
        .layer(middleware::from_fn(log_request))
        .with_state(proxy)
}

/// A go.sum of a few thousand lines fits easily; a Lambda request cannot exceed 6 MB anyway.
const PREFETCH_BODY_LIMIT: usize = 4 * 1024 * 1024;
/// The longest a prefetch request may wait for its fetches.
const PREFETCH_MAX_WAIT: Duration = Duration::from_secs(600);

/// The HTTP status for each error kind, and why (docs/errors.md has the full table).
pub fn status_for(error: &Error) -> StatusCode {
    match error {
        // 404 and 410 are the only statuses on which the go command tries its next GOPROXY.
        Error::NotFound(_) => StatusCode::NOT_FOUND,
        Error::Gone(_) => StatusCode::GONE,
        Error::Invalid(_) => StatusCode::BAD_REQUEST,
        Error::Upstream(_) => StatusCode::BAD_GATEWAY,
        Error::Pending(_) => StatusCode::SERVICE_UNAVAILABLE,
        Error::Conflict(_) => StatusCode::CONFLICT,
        Error::Storage(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// Recorded by handlers for the request log.
#[derive(Clone, Copy)]
struct RequestFacts {
    route: &'static str,
    outcome: Option<CacheOutcome>,
}

fn error_response(error: &Error, route: &'static str) -> Response {
    let mut response = (
        status_for(error),
        [
            (header::CONTENT_TYPE, TEXT),
            (header::CACHE_CONTROL, NO_STORE),
        ],
        format!("{error}\n"),
    )
        .into_response();
    response.extensions_mut().insert(RequestFacts {
        route,
        outcome: None,
    });
    response
}

/// `GET /healthz`: the process is alive.
async fn healthz() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, TEXT),
            (header::CACHE_CONTROL, NO_STORE),
        ],
        "ok\n",
    )
}

/// `GET /readyz`: storage and index are reachable.
async fn readyz(State(proxy): State<Arc<Proxy>>) -> Response {
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
async fn version() -> impl IntoResponse {
    let body = serde_json::json!({ "name": "piraeus", "version": env!("CARGO_PKG_VERSION") });
    ([(header::CACHE_CONTROL, NO_STORE)], axum::Json(body))
}

/// Every GOPROXY path: parsed and validated once, then handed to its endpoint.
async fn goproxy(State(proxy): State<Arc<Proxy>>, request: Request) -> Response {
    let method = request.method().clone();
    if method != Method::GET && method != Method::HEAD {
        let mut response = error_response(
            &Error::Invalid(format!("method {method} is not allowed")),
            "other",
        );
        *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return response;
    }
    let route = match route::parse(request.uri().path()) {
        Ok(route) => route,
        Err(error) => return error_response(&error, "invalid"),
    };
    let name = route.name();
    let reply = match route {
        Route::List { module } => list(&proxy, &module).await,
        Route::Latest { module } => latest(&proxy, &module).await,
        Route::Query { module, query } => query_info(&proxy, &module, &query).await,
        Route::Artifact {
            module,
            version,
            kind,
        } => artifact(&proxy, &module, &version, kind).await,
    };
    match reply {
        Ok(reply) => reply.into_response(name, method == Method::HEAD),
        Err(error) => {
            if matches!(error, Error::Storage(_) | Error::Conflict(_)) {
                tracing::error!(%error, route = name, "request failed");
            }
            error_response(&error, name)
        }
    }
}

/// `GET $module/@v/list`
async fn list(proxy: &Proxy, module: &str) -> Result<Reply, Error> {
    let Served { value, outcome } = proxy.list(module).await?;
    Ok(Reply::text(format_list(&value), TEXT, SHORT_LIVED, outcome))
}

/// `GET $module/@latest`
async fn latest(proxy: &Proxy, module: &str) -> Result<Reply, Error> {
    let Served { value, outcome } = proxy.latest(module).await?;
    Ok(Reply::resolved(&value, outcome))
}

/// `GET $module/@v/$query.info` for a branch, tag or commit prefix.
async fn query_info(proxy: &Proxy, module: &str, query: &str) -> Result<Reply, Error> {
    let Served { value, outcome } = proxy.query(module, query).await?;
    Ok(Reply::resolved(&value, outcome))
}

/// `GET $module/@v/$version.info`, `.mod` and `.zip`
async fn artifact(
    proxy: &Proxy,
    module: &str,
    version: &str,
    kind: ArtifactKind,
) -> Result<Reply, Error> {
    let Served { value, outcome } = proxy.artifact(module, version, kind).await?;
    let reply = match value {
        Artifact::Blob(blob) => Reply {
            body: ReplyBody::Blob(blob),
            content_type: kind.content_type(),
            cache_control: IMMUTABLE,
            outcome,
        },
        // The URL expires; the next request (from S3 through CloudFront) gets the zip itself.
        Artifact::Redirect(url) => Reply {
            body: ReplyBody::Redirect(HeaderValue::try_from(url).map_err(|_| {
                Error::Storage("the store produced an unusable presigned URL".into())
            })?),
            content_type: TEXT,
            cache_control: NO_STORE,
            outcome,
        },
    };
    Ok(reply)
}

/// `POST /prefetch[?wait=DURATION]`: a JSON array of `module@version`, a go.sum or a go.mod.
/// Answers 202 while fetches run, 200 when all settled, 409 when a stored sum differs from a
/// go.sum line, 400 when nothing could be accepted; the JSON report has every line's fate.
async fn prefetch(State(proxy): State<Arc<Proxy>>, uri: Uri, body: Bytes) -> Response {
    let wait = match prefetch_wait(uri.query().unwrap_or_default()) {
        Ok(wait) => wait,
        Err(error) => return error_response(&error, "prefetch"),
    };
    let Ok(body) = std::str::from_utf8(&body) else {
        return error_response(
            &Error::Invalid("the body is not UTF-8 text".into()),
            "prefetch",
        );
    };
    let plan = match prefetch::parse(body) {
        Ok(plan) => plan,
        Err(error) => return error_response(&error, "prefetch"),
    };
    let report = prefetch::run(&proxy, plan, wait).await;
    tracing::info!(
        accepted = report.accepted.len(),
        rejected = report.rejected.len(),
        stored = report.count(ItemState::Stored),
        fetching = report.still_fetching(),
        failed = report.count(ItemState::Failed),
        mismatches = report.mismatches.len(),
        "prefetch"
    );
    let status = if report.accepted.is_empty() {
        StatusCode::BAD_REQUEST
    } else if !report.mismatches.is_empty() {
        StatusCode::CONFLICT
    } else if report.still_fetching() > 0 {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    let mut response = (
        status,
        [(header::CACHE_CONTROL, NO_STORE)],
        axum::Json(report),
    )
        .into_response();
    response.extensions_mut().insert(RequestFacts {
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
    let wait = parse_duration(value).map_err(Error::Invalid)?;
    if wait > PREFETCH_MAX_WAIT {
        return Err(Error::Invalid(format!(
            "wait={value} is longer than the {}s allowed",
            PREFETCH_MAX_WAIT.as_secs()
        )));
    }
    Ok(wait)
}

struct Reply {
    body: ReplyBody,
    content_type: &'static str,
    cache_control: &'static str,
    outcome: CacheOutcome,
}

enum ReplyBody {
    Text(String),
    /// Streamed from storage, never read whole.
    Blob(Blob),
    /// Too large to answer here: a `307` to a presigned URL.
    Redirect(HeaderValue),
}

impl Reply {
    fn text(
        body: String,
        content_type: &'static str,
        cache_control: &'static str,
        outcome: CacheOutcome,
    ) -> Self {
        Self {
            body: ReplyBody::Text(body),
            content_type,
            cache_control,
            outcome,
        }
    }

    fn resolved(resolved: &ResolvedVersion, outcome: CacheOutcome) -> Self {
        let body = serde_json::to_string(resolved).expect("a resolved version serialises");
        Self::text(body, JSON, SHORT_LIVED, outcome)
    }

    fn into_response(self, route: &'static str, head_only: bool) -> Response {
        let (length, body, location) = match self.body {
            ReplyBody::Text(text) => (text.len() as u64, Body::from(text), None),
            ReplyBody::Blob(blob) => (
                blob.length,
                Body::from_stream(ReaderStream::with_capacity(blob.body, 64 * 1024)),
                None,
            ),
            ReplyBody::Redirect(url) => (0, Body::empty(), Some(url)),
        };
        let body = if head_only { Body::empty() } else { body };
        let mut response = Response::new(body);
        if let Some(location) = location {
            response.headers_mut().insert(header::LOCATION, location);
            *response.status_mut() = StatusCode::TEMPORARY_REDIRECT;
        }
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(self.content_type),
        );
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static(self.cache_control),
        );
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
        headers.insert(
            "x-piraeus-cache",
            HeaderValue::from_static(self.outcome.as_str()),
        );
        response.extensions_mut().insert(RequestFacts {
            route,
            outcome: Some(self.outcome),
        });
        response
    }
}

/// One log line per request: route, status, cache outcome, duration.
async fn log_request(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().chars().take(512).collect::<String>();
    let response = next.run(request).await;
    let facts = response.extensions().get::<RequestFacts>().copied();
    let route = facts.map_or("health", |f| f.route);
    let cache = facts
        .and_then(|f| f.outcome)
        .map_or("-", CacheOutcome::as_str);
    let duration_ms = started.elapsed().as_secs_f64() * 1000.0;
    if let Some(facts) = facts {
        let outcome = match facts.outcome {
            _ if response.status().as_u16() >= 400 => "error",
            Some(CacheOutcome::Miss) => "miss",
            Some(_) => "hit",
            None => "other",
        };
        metrics::request(route, outcome, response.status().as_u16(), duration_ms);
    }
    tracing::info!(
        target: "piraeus::request",
        %method,
        path,
        route,
        status = response.status().as_u16(),
        cache,
        duration_ms,
        "request"
    );
    response
}
