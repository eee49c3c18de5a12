//! The AWS deployment's moving parts, as library code so the Lambda binaries stay thin:
//! - [`FetchRequest`] and [`FetchReply`]: the fetch function's event and its answer.
//! - [`LambdaFetchClient`]: how serve and prefetch reach the fetch function. An asynchronous
//!   invoke starts a download (the [`FetchTrigger`]); a synchronous one gets list and query
//!   answers (the [`Resolver`]), so serve never runs the Go toolchain itself.
//! - [`FetchHandler`]: what the fetch function does with each event.
//! - [`FunctionConfig`]: the functions' settings, read from their environment.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;
use serde::{Deserialize, Serialize};

use crate::aws::{self, BucketLocation, TableLocation};
use crate::config::{parse_duration, parse_upstream};
use crate::error::{Error, Result};
use crate::fetch::go::DEFAULT_UPSTREAM;
use crate::fetch::{
    FetchTrigger, GoToolchain, GoToolchainConfig, Ingester, ResolvedVersion, Resolver,
};
use crate::index::{DynamoIndex, FetchFailure, Index, StoredVersion, VersionStatus};
use crate::module_path::{check_module_path, check_query, check_version_for_path};
use crate::proxy::{DownloadMode, Proxy, ProxySettings, lease_for};
use crate::store::{BlobStore, S3Store};

/// The fetch function's event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum FetchRequest {
    /// Download and store a version under the fetch lease `holder` took (asynchronous).
    Download {
        module: String,
        version: String,
        holder: String,
    },
    /// The module's versions upstream (synchronous).
    List { module: String },
    /// What a query (`latest`, a branch, a commit prefix) resolves to upstream (synchronous).
    Resolve { module: String, query: String },
}

/// The fetch function's answer. Failures are answers, not function errors: Lambda retries an
/// asynchronous event that errors, and a module that does not exist will not appear on retry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum FetchReply {
    Stored(StoredVersion),
    Versions { versions: Vec<String> },
    Resolved(ResolvedVersion),
    Failed(FetchFailure),
}

impl FetchRequest {
    /// Applies the same rules as the router: events can come from anything allowed to invoke.
    pub fn validate(&self) -> Result<()> {
        match self {
            FetchRequest::Download {
                module, version, ..
            } => check_version_for_path(module, version),
            FetchRequest::List { module } => check_module_path(module),
            FetchRequest::Resolve { module, query } => {
                check_module_path(module)?;
                check_query(query)
            }
        }
    }
}

/// Reaches the fetch function through the Lambda Invoke API (or an emulator's).
pub struct LambdaFetchClient {
    client: aws_sdk_lambda::Client,
    function: String,
}

impl LambdaFetchClient {
    pub fn new(client: aws_sdk_lambda::Client, function: impl Into<String>) -> Self {
        Self {
            client,
            function: function.into(),
        }
    }

    async fn invoke(
        &self,
        request: &FetchRequest,
        invocation: InvocationType,
    ) -> Result<aws_sdk_lambda::operation::invoke::InvokeOutput> {
        let payload = serde_json::to_vec(request).expect("a fetch request serialises");
        self.client
            .invoke()
            .function_name(&self.function)
            .invocation_type(invocation)
            .payload(Blob::new(payload))
            .send()
            .await
            .map_err(|error| {
                Error::Upstream(format!(
                    "invoking the fetch function {}: {}",
                    self.function,
                    aws_sdk_lambda::error::DisplayErrorContext(error)
                ))
            })
    }

    /// A synchronous call whose answer must be one of the expected replies.
    async fn call(&self, request: &FetchRequest) -> Result<FetchReply> {
        let output = self
            .invoke(request, InvocationType::RequestResponse)
            .await?;
        let payload = output.payload().map(Blob::as_ref).unwrap_or_default();
        if let Some(kind) = output.function_error() {
            return Err(Error::Upstream(format!(
                "the fetch function failed ({kind}): {}",
                String::from_utf8_lossy(payload)
                    .chars()
                    .take(500)
                    .collect::<String>()
            )));
        }
        let reply: FetchReply = serde_json::from_slice(payload).map_err(|error| {
            Error::Upstream(format!("the fetch function answered nonsense: {error}"))
        })?;
        match reply {
            FetchReply::Failed(failure) => Err(failure.to_error()),
            reply => Ok(reply),
        }
    }
}

#[async_trait]
impl FetchTrigger for LambdaFetchClient {
    async fn trigger(&self, module: &str, version: &str, holder: &str) -> Result<()> {
        let request = FetchRequest::Download {
            module: module.to_string(),
            version: version.to_string(),
            holder: holder.to_string(),
        };
        // Lambda queues the event and answers 202; its own retries and on-failure queue take
        // over from there. (The local emulator runs it synchronously and answers 200.)
        self.invoke(&request, InvocationType::Event).await?;
        Ok(())
    }
}

#[async_trait]
impl Resolver for LambdaFetchClient {
    async fn list(&self, module: &str) -> Result<Vec<String>> {
        let request = FetchRequest::List {
            module: module.to_string(),
        };
        match self.call(&request).await? {
            FetchReply::Versions { versions } => Ok(versions),
            other => Err(unexpected(&other)),
        }
    }

    async fn resolve(&self, module: &str, query: &str) -> Result<ResolvedVersion> {
        let request = FetchRequest::Resolve {
            module: module.to_string(),
            query: query.to_string(),
        };
        match self.call(&request).await? {
            FetchReply::Resolved(resolved) => Ok(resolved),
            other => Err(unexpected(&other)),
        }
    }
}

fn unexpected(reply: &FetchReply) -> Error {
    Error::Upstream(format!(
        "the fetch function answered out of turn: {reply:?}"
    ))
}

/// The fetch function's work: downloads (idempotent under retries and duplicate events) and
/// the list and query answers serve asks for.
pub struct FetchHandler {
    ingester: Ingester,
    index: Arc<dyn Index>,
    resolver: Arc<dyn Resolver>,
}

impl FetchHandler {
    pub fn new(ingester: Ingester, index: Arc<dyn Index>, resolver: Arc<dyn Resolver>) -> Self {
        Self {
            ingester,
            index,
            resolver,
        }
    }

    pub async fn handle(&self, request: FetchRequest) -> FetchReply {
        match self.try_handle(request).await {
            Ok(reply) => reply,
            Err(error) => FetchReply::Failed(FetchFailure::from_error(&error)),
        }
    }

    async fn try_handle(&self, request: FetchRequest) -> Result<FetchReply> {
        request.validate()?;
        match request {
            FetchRequest::Download {
                module,
                version,
                holder,
            } => {
                // A duplicate event, or a retry of one that stored everything and then died.
                if let VersionStatus::Ready(record) = self.index.version(&module, &version).await? {
                    return Ok(FetchReply::Stored(record));
                }
                // Ingesting twice is safe: stores never overwrite and the first copy wins.
                let record = self.ingester.ingest(&module, &version, &holder).await?;
                Ok(FetchReply::Stored(record))
            }
            FetchRequest::List { module } => Ok(FetchReply::Versions {
                versions: self.resolver.list(&module).await?,
            }),
            FetchRequest::Resolve { module, query } => Ok(FetchReply::Resolved(
                self.resolver.resolve(&module, &query).await?,
            )),
        }
    }
}

/// The functions' settings, from environment variables named like `piraeus serve`'s.
#[derive(Debug, Clone)]
pub struct FunctionConfig {
    /// `PIRAEUS_STORE`: s3://BUCKET[/PREFIX].
    pub store: BucketLocation,
    /// `PIRAEUS_INDEX`: dynamodb://TABLE.
    pub index: TableLocation,
    /// `PIRAEUS_FETCH_FUNCTION`: the fetch function's name or ARN (serve and prefetch).
    pub fetch_function: Option<String>,
    /// `PIRAEUS_DOWNLOAD_MODE`: sync (default) or async.
    pub download_mode: DownloadMode,
    /// `PIRAEUS_WAIT_TIMEOUT`: how long serve waits for a fetch in sync mode.
    pub wait_timeout: Duration,
    /// `PIRAEUS_FETCH_TIMEOUT`: the longest one go command may run in the fetch function.
    pub fetch_timeout: Duration,
    /// `PIRAEUS_ANSWER_TTL`: how long list, latest and query answers are reused.
    pub answer_ttl: Duration,
    /// `PIRAEUS_REDIRECT_ZIPS_OVER`: bytes; larger zips are redirected to presigned S3 URLs.
    pub redirect_zips_over: u64,
    /// `PIRAEUS_UPSTREAM`: the GOPROXY the fetch function downloads through.
    pub upstream: String,
    /// `PIRAEUS_GO`: the go command (from the toolchain layer on AWS).
    pub go_binary: PathBuf,
    /// `PIRAEUS_SCRATCH_DIR`: where downloads are unpacked (Lambda's /tmp).
    pub scratch_dir: PathBuf,
    /// Names this execution environment in fetch leases (its log stream, which is unique).
    pub instance: String,
}

/// A buffered Lambda response carries at most 6 MB, base64 inflates binary by 4/3, and the
/// headers need room too.
pub const DEFAULT_REDIRECT_ZIPS_OVER: u64 = 4 * 1024 * 1024;

impl FunctionConfig {
    pub fn from_env() -> Result<Self> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup`, so tests need not touch the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let get = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());
        let required =
            |name: &str| get(name).ok_or_else(|| Error::Invalid(format!("{name} must be set")));
        let setting = |name: &str, error: String| Error::Invalid(format!("{name}: {error}"));
        let duration = |name: &str, default: &str| {
            parse_duration(&get(name).unwrap_or_else(|| default.to_string()))
                .map_err(|error| setting(name, error))
        };
        Ok(Self {
            store: required("PIRAEUS_STORE")?
                .parse()
                .map_err(|error| setting("PIRAEUS_STORE", error))?,
            index: required("PIRAEUS_INDEX")?
                .parse()
                .map_err(|error| setting("PIRAEUS_INDEX", error))?,
            fetch_function: get("PIRAEUS_FETCH_FUNCTION"),
            download_mode: get("PIRAEUS_DOWNLOAD_MODE")
                .map(|mode| mode.parse())
                .transpose()?
                .unwrap_or_default(),
            wait_timeout: duration("PIRAEUS_WAIT_TIMEOUT", "50s")?,
            fetch_timeout: duration("PIRAEUS_FETCH_TIMEOUT", "10m")?,
            answer_ttl: duration("PIRAEUS_ANSWER_TTL", "60s")?,
            redirect_zips_over: get("PIRAEUS_REDIRECT_ZIPS_OVER")
                .map(|bytes| bytes.trim().parse())
                .transpose()
                .map_err(|error| setting("PIRAEUS_REDIRECT_ZIPS_OVER", format!("{error}")))?
                .unwrap_or(DEFAULT_REDIRECT_ZIPS_OVER),
            upstream: parse_upstream(
                &get("PIRAEUS_UPSTREAM").unwrap_or_else(|| DEFAULT_UPSTREAM.to_string()),
            )
            .map_err(|error| setting("PIRAEUS_UPSTREAM", error))?,
            go_binary: get("PIRAEUS_GO").unwrap_or_else(|| "go".into()).into(),
            scratch_dir: get("PIRAEUS_SCRATCH_DIR")
                .unwrap_or_else(|| "/tmp/piraeus".into())
                .into(),
            instance: get("AWS_LAMBDA_LOG_STREAM_NAME")
                .unwrap_or_else(crate::proxy::default_instance_name),
        })
    }

    fn proxy_settings(&self) -> ProxySettings {
        ProxySettings {
            answer_ttl: self.answer_ttl,
            wait_timeout: self.wait_timeout,
            lease_duration: lease_for(self.fetch_timeout),
            download_mode: self.download_mode,
            redirect_zips_over: Some(self.redirect_zips_over),
            instance: self.instance.clone(),
            ..ProxySettings::default()
        }
    }
}

/// JSON logs on stderr and metrics on stdout, as CloudWatch Logs expects from a function.
pub fn init_function_logging() {
    crate::metrics::enable();
    crate::logging::init(crate::logging::LogFormat::Json);
}

/// The store and index every function shares.
fn backends(
    config: &FunctionConfig,
    sdk: &aws_config::SdkConfig,
) -> (Arc<dyn BlobStore>, Arc<dyn Index>) {
    let store = S3Store::new(
        aws::s3_client(sdk),
        &config.store.bucket,
        &config.store.prefix,
    );
    let index = DynamoIndex::new(aws::dynamodb_client(sdk), &config.index.table);
    (Arc::new(store), Arc::new(index))
}

/// The proxy serve and prefetch run: S3 and DynamoDB, with fetches and upstream questions
/// handed to the fetch function.
pub async fn build_proxy(config: &FunctionConfig) -> Result<Proxy> {
    let function = config
        .fetch_function
        .clone()
        .ok_or_else(|| Error::Invalid("PIRAEUS_FETCH_FUNCTION must be set".into()))?;
    let sdk = aws::sdk_config().await;
    let (store, index) = backends(config, &sdk);
    let fetch = Arc::new(LambdaFetchClient::new(
        aws_sdk_lambda::Client::new(&sdk),
        function,
    ));
    Ok(Proxy::new(
        store,
        index,
        fetch.clone(),
        fetch,
        config.proxy_settings(),
    ))
}

/// The fetch function's handler: the Go toolchain over S3 and DynamoDB.
pub async fn build_fetch_handler(config: &FunctionConfig) -> Result<FetchHandler> {
    let sdk = aws::sdk_config().await;
    let (store, index) = backends(config, &sdk);
    let toolchain = Arc::new(GoToolchain::new(GoToolchainConfig {
        go_binary: config.go_binary.clone(),
        upstream: config.upstream.clone(),
        timeout: config.fetch_timeout,
        scratch_dir: config.scratch_dir.clone(),
        // An execution environment handles one event at a time; Lambda scales out, not up.
        max_concurrent: 1,
    })?);
    let ingester = Ingester::new(store, index.clone(), toolchain.clone());
    Ok(FetchHandler::new(ingester, index, toolchain))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_have_a_stable_json_shape() {
        let request: FetchRequest = serde_json::from_str(
            r#"{"action":"download","module":"example.com/m","version":"v1.0.0","holder":"h"}"#,
        )
        .unwrap();
        assert_eq!(
            request,
            FetchRequest::Download {
                module: "example.com/m".into(),
                version: "v1.0.0".into(),
                holder: "h".into()
            }
        );
        let reply = FetchReply::Resolved(ResolvedVersion {
            version: "v1.0.0".into(),
            time: "2024-01-01T00:00:00Z".into(),
        });
        assert_eq!(
            serde_json::to_string(&reply).unwrap(),
            r#"{"outcome":"resolved","Version":"v1.0.0","Time":"2024-01-01T00:00:00Z"}"#
        );
        let failed: FetchReply =
            serde_json::from_str(r#"{"outcome":"failed","kind":"not_found","message":"no"}"#)
                .unwrap();
        assert!(matches!(failed, FetchReply::Failed(ref f) if f.message == "no"));
    }

    #[test]
    fn events_are_validated_like_requests() {
        let download = |module: &str, version: &str| FetchRequest::Download {
            module: module.into(),
            version: version.into(),
            holder: "h".into(),
        };
        assert!(download("example.com/m", "v1.0.0").validate().is_ok());
        assert!(download("example.com/m", "v2.0.0").validate().is_err());
        assert!(download("example.com/../m", "v1.0.0").validate().is_err());
        assert!(download("example.com/m", "master").validate().is_err());
        let resolve = |query: &str| FetchRequest::Resolve {
            module: "example.com/m".into(),
            query: query.into(),
        };
        assert!(resolve("main").validate().is_ok());
        assert!(resolve("--upload-pack=x").validate().is_err());
    }

    #[test]
    fn configuration_comes_from_the_environment() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(key, _)| *key == name)
                    .map(|(_, value)| value.to_string())
            }
        };
        let config = FunctionConfig::from_lookup(env(&[
            ("PIRAEUS_STORE", "s3://bucket/prefix"),
            ("PIRAEUS_INDEX", "dynamodb://table"),
            ("PIRAEUS_DOWNLOAD_MODE", "async"),
            ("PIRAEUS_WAIT_TIMEOUT", "5s"),
        ]))
        .unwrap();
        assert_eq!(config.store.prefix, "prefix");
        assert_eq!(config.download_mode, DownloadMode::Async);
        assert_eq!(config.wait_timeout, Duration::from_secs(5));
        assert_eq!(config.redirect_zips_over, DEFAULT_REDIRECT_ZIPS_OVER);
        assert_eq!(config.upstream, DEFAULT_UPSTREAM);

        let missing = FunctionConfig::from_lookup(env(&[("PIRAEUS_INDEX", "dynamodb://table")]));
        assert!(matches!(missing, Err(Error::Invalid(ref m)) if m.contains("PIRAEUS_STORE")));
        let bad_mode = FunctionConfig::from_lookup(env(&[
            ("PIRAEUS_STORE", "s3://bucket"),
            ("PIRAEUS_INDEX", "dynamodb://table"),
            ("PIRAEUS_DOWNLOAD_MODE", "eventually"),
        ]));
        assert!(bad_mode.is_err());
    }
}
