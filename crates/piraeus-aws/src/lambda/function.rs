//! The functions' wiring: their settings, read from the environment through the same
//! definitions as `piraeus serve`'s flags, and the proxy or handler each one runs.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use piraeus_core::fetch::upstream;
use piraeus_core::fetch::{
    Fetcher, GitAccess, GitCredentials, GoToolchain, GoToolchainConfig, Ingester, Resolver,
};
use piraeus_core::policy::DownloadMode;
use piraeus_core::policy::Policy;
use piraeus_core::proxy::{Proxy, ProxySettings, default_instance_name, lease_for};
use piraeus_core::settings::{self, BucketLocation, TableLocation};
use piraeus_core::sumdb::SumDbConfig;
use piraeus_core::telemetry::{logging, metrics};
use piraeus_core::{Error, Result};

use super::client::LambdaFetchClient;
use super::handler::FetchHandler;
use super::verify::ScheduledVerify;
use crate::{sdk, secrets};

/// The functions' settings (`piraeus_core::settings` names, defaults and documents each).
#[derive(Debug, Clone)]
pub struct FunctionConfig {
    store: BucketLocation,
    index: TableLocation,
    /// Serve and prefetch only; the fetch function does not call itself.
    fetch_function: Option<String>,
    /// Where list and query lookups go (serve and prefetch); the fetch function when unset.
    lookup_function: Option<String>,
    download_mode: DownloadMode,
    wait_timeout: Duration,
    fetch_timeout: Duration,
    answer_ttl: Duration,
    not_found_ttl: Duration,
    failure_ttl: Duration,
    redirect_zips_over: u64,
    cache_size: u64,
    upstream: String,
    /// The module policy: a file, or s3://BUCKET/KEY (serve and prefetch decide with it; the
    /// fetch function's egress guard reads its fetch rules).
    policy: Option<String>,
    /// The checksum databases the serve function proxies, with the GOPRIVATE and GONOSUMDB
    /// patterns whose lookups it refuses.
    sumdb: SumDbConfig,
    go_binary: PathBuf,
    scratch_dir: PathBuf,
    /// Versions the fetch function's scheduled verify checks at once.
    verify_concurrency: usize,
    /// The fetch function's credentials for private hosts.
    credentials: FetchCredentials,
    /// Names this execution environment in fetch leases (its log stream, which is unique).
    instance: String,
}

impl FunctionConfig {
    pub fn from_env() -> Result<Self> {
        Self::from_lookup(&|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup`, so tests need not touch the process environment.
    pub fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self> {
        Ok(Self {
            store: settings::STORE.require(lookup)?,
            index: settings::INDEX.require(lookup)?,
            fetch_function: settings::FETCH_FUNCTION.read(lookup)?,
            lookup_function: settings::LOOKUP_FUNCTION.read(lookup)?,
            download_mode: settings::DOWNLOAD_MODE.require(lookup)?,
            wait_timeout: settings::WAIT_TIMEOUT.require(lookup)?,
            fetch_timeout: settings::FETCH_TIMEOUT.require(lookup)?,
            answer_ttl: settings::ANSWER_TTL.require(lookup)?,
            not_found_ttl: settings::NOT_FOUND_TTL.require(lookup)?,
            failure_ttl: settings::FAILURE_TTL.require(lookup)?,
            redirect_zips_over: settings::REDIRECT_ZIPS_OVER.require(lookup)?,
            cache_size: settings::CACHE_SIZE.require(lookup)?,
            upstream: settings::UPSTREAM.require(lookup)?,
            policy: settings::POLICY.read(lookup)?,
            sumdb: SumDbConfig::new(
                settings::SUMDB.require(lookup)?,
                settings::ANSWER_TTL.require(lookup)?,
                lookup,
            ),
            go_binary: settings::GO.require(lookup)?,
            scratch_dir: settings::SCRATCH_DIR.require(lookup)?,
            verify_concurrency: settings::VERIFY_CONCURRENCY.require(lookup)?,
            credentials: FetchCredentials {
                netrc_secret: settings::NETRC_SECRET.read(lookup)?,
                git_ssh_key_secret: settings::GIT_SSH_KEY_SECRET.read(lookup)?,
                github_app_secret: settings::GITHUB_APP_SECRET.read(lookup)?,
                github_api: settings::GITHUB_API.read(lookup)?,
                git_instead_of: settings::GIT_INSTEAD_OF.read(lookup)?.unwrap_or_default(),
            },
            instance: lookup("AWS_LAMBDA_LOG_STREAM_NAME")
                .filter(|name| !name.is_empty())
                .unwrap_or_else(default_instance_name),
        })
    }

    fn proxy_settings(&self) -> ProxySettings {
        ProxySettings {
            answer_ttl: self.answer_ttl,
            not_found_ttl: self.not_found_ttl,
            failure_ttl: self.failure_ttl,
            wait_timeout: self.wait_timeout,
            lease_duration: lease_for(self.fetch_timeout),
            download_mode: self.download_mode,
            redirect_zips_over: Some(self.redirect_zips_over),
            cache_size: self.cache_size,
            instance: self.instance.clone(),
        }
    }
}

/// Secrets Manager secrets (ARNs or names) holding what `piraeus serve` reads from files, and
/// git's URL rewrites.
#[derive(Debug, Clone, Default)]
struct FetchCredentials {
    netrc_secret: Option<String>,
    git_ssh_key_secret: Option<String>,
    github_app_secret: Option<String>,
    github_api: Option<String>,
    git_instead_of: Vec<(String, String)>,
}

/// JSON logs on stderr and metrics on stdout, as CloudWatch Logs expects from a function.
pub fn init_logging() {
    metrics::enable();
    logging::init(logging::LogFormat::Json);
}

/// The proxy serve and prefetch run: S3 and DynamoDB, with fetches handed to the fetch
/// function. Upstream questions (list, `@latest`, queries) are asked of the chain's proxies
/// here, natively, when it names any; what reaches `direct` (and private modules) goes to the
/// lookup function (the fetch function too, unless set), which runs the go command.
pub async fn build_proxy(config: &FunctionConfig) -> Result<Proxy> {
    let function = config
        .fetch_function
        .clone()
        .ok_or_else(|| Error::invalid(format!("{} must be set", settings::FETCH_FUNCTION.env)))?;
    let lookups = config.lookup_function.clone().unwrap_or(function.clone());
    let sdk = sdk::config().await;
    let fetch = Arc::new(LambdaFetchClient::new(
        aws_sdk_lambda::Client::new(&sdk),
        function,
        lookups,
    ));
    let policy = Arc::new(match &config.policy {
        Some(location) => sdk::load_policy(&sdk, location).await?,
        None => Policy::default(),
    });
    let (store, index) = (
        sdk::open_store(&sdk, &config.store),
        sdk::open_index(&sdk, &config.index),
    );
    let lookups: Arc<dyn Resolver> = fetch.clone();
    let resolver: Arc<dyn Resolver> = match upstream::native_chain(
        &config.upstream,
        &|name| std::env::var(name).ok(),
        &config.sumdb,
        policy.clone(),
        store.clone(),
        index.clone(),
        config.fetch_timeout,
        config.scratch_dir.clone(),
        // Downloads never run here: the fetch function stores them.
        &|_| Ok((None, Some(lookups.clone()))),
    )? {
        Some(native) => native,
        None => lookups.clone(),
    };
    Proxy::new(store, index, resolver, fetch, config.proxy_settings())
        .with_policy(policy)
        .with_sumdb(config.sumdb.clone())
}

/// The fetch function's handler over S3 and DynamoDB: the chain's proxies natively, their
/// downloads checked against the checksum database, and the Go toolchain (from the layer) for
/// what reaches `direct` and for private modules. A chain without `direct` and no private
/// modules never runs the go command, so the layer may be left out.
pub async fn build_fetch_handler(config: &FunctionConfig) -> Result<FetchHandler> {
    let sdk = sdk::config().await;
    let dynamo = sdk::open_dynamo_index(&sdk, &config.index);
    let (store, index): (_, Arc<dyn piraeus_core::index::Index>) =
        (sdk::open_store(&sdk, &config.store), dynamo.clone());
    // The egress guard lets the go command reach internal hosts the policy's fetch rules name.
    let policy = Arc::new(match &config.policy {
        Some(location) => sdk::load_policy(&sdk, location).await?,
        None => Policy::default(),
    });
    if let Some(secret) = &config.credentials.netrc_secret {
        install_netrc(&sdk, secret).await?;
    }
    let git = Arc::new(git_access(&sdk, config).await?);
    let go = |upstream: &str| -> Result<Arc<GoToolchain>> {
        Ok(Arc::new(GoToolchain::new(GoToolchainConfig {
            go_binary: config.go_binary.clone(),
            upstream: upstream.to_string(),
            timeout: config.fetch_timeout,
            scratch_dir: config.scratch_dir.clone(),
            // An execution environment handles one event at a time; Lambda scales out, not
            // up, and queues events itself.
            max_concurrent: 1,
            max_concurrent_lookups: 1,
            max_queued: 1,
            git: git.clone(),
            policy: policy.clone(),
        })?))
    };
    let native = upstream::native_chain(
        &config.upstream,
        &|name| std::env::var(name).ok(),
        &config.sumdb,
        policy.clone(),
        store.clone(),
        index.clone(),
        config.fetch_timeout,
        config.scratch_dir.clone(),
        &|rest| {
            let go = go(rest)?;
            Ok((
                Some(go.clone() as Arc<dyn Fetcher>),
                Some(go as Arc<dyn Resolver>),
            ))
        },
    )?;
    let (fetcher, resolver): (Arc<dyn Fetcher>, Arc<dyn Resolver>) = match native {
        Some(native) => (native.clone(), native),
        None => {
            let go = go(&config.upstream)?;
            (go.clone(), go)
        }
    };
    let verifier = ScheduledVerify::new(store.clone(), dynamo, config.verify_concurrency);
    let ingester = Ingester::new(
        store,
        index.clone(),
        fetcher,
        lease_for(config.fetch_timeout),
    );
    Ok(FetchHandler::new(ingester, index, resolver).with_verifier(verifier))
}

/// The SSH key and GitHub App documents from their secrets, checked as `piraeus serve` checks
/// its files, with what git reads of them beside the scratch folder (whose leftovers are
/// removed as they age: these must stay for the environment's life).
async fn git_access(sdk: &aws_config::SdkConfig, config: &FunctionConfig) -> Result<GitAccess> {
    let credentials = &config.credentials;
    let read = |setting: &'static str, secret: &Option<String>| {
        let secret = secret.clone();
        async move {
            match secret {
                Some(secret) => secrets::secret_string(sdk, setting, &secret)
                    .await
                    .map(Some),
                None => Ok(None),
            }
        }
    };
    let (ssh, github) = (
        settings::GIT_SSH_KEY_SECRET.env,
        settings::GITHUB_APP_SECRET.env,
    );
    let ssh_key = read(ssh, &credentials.git_ssh_key_secret).await?;
    let github_app = read(github, &credentials.github_app_secret).await?;
    let mut private_dir = config.scratch_dir.clone().into_os_string();
    private_dir.push("-private");
    GitAccess::new(
        GitCredentials {
            ssh_key: ssh_key.as_deref().map(|text| (ssh, text)),
            github_app: github_app.as_deref().map(|text| (github, text)),
            github_api: credentials.github_api.as_deref(),
        },
        credentials.git_instead_of.clone(),
        &PathBuf::from(private_dir),
    )
}

/// Writes the secret's .netrc to `$HOME/.netrc`, where both go and git look, once per
/// execution environment, readable by this user only.
async fn install_netrc(sdk: &aws_config::SdkConfig, secret: &str) -> Result<()> {
    let netrc = secrets::secret_string(sdk, settings::NETRC_SECRET.env, secret).await?;
    let home = std::env::var_os("HOME")
        .ok_or_else(|| Error::invalid("HOME must be set to write .netrc"))?;
    let path = std::path::Path::new(&home).join(".netrc");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)
        .map_err(|e| Error::storage(path.display(), e))?;
    file.write_all(netrc.as_bytes())
        .map_err(|e| Error::storage(path.display(), e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use piraeus_core::ErrorKind;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name: &str| {
            pairs
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| value.to_string())
        }
    }

    #[test]
    fn configuration_comes_from_the_environment() {
        let config = FunctionConfig::from_lookup(&env(&[
            ("PIRAEUS_STORE", "s3://bucket/prefix"),
            ("PIRAEUS_INDEX", "dynamodb://table"),
            ("PIRAEUS_DOWNLOAD_MODE", "async"),
            ("PIRAEUS_WAIT_TIMEOUT", "5s"),
        ]))
        .unwrap();
        assert_eq!(config.store.prefix, "prefix");
        assert_eq!(config.download_mode, DownloadMode::Async);
        assert_eq!(config.wait_timeout, Duration::from_secs(5));
        assert_eq!(
            config.redirect_zips_over,
            settings::REDIRECT_ZIPS_OVER.default_value()
        );
        assert_eq!(config.upstream, settings::UPSTREAM.default_value());
        assert_eq!(config.sumdb.databases, settings::SUMDB.default_value());
        assert!(config.sumdb.private_patterns.is_empty());

        let missing = FunctionConfig::from_lookup(&env(&[("PIRAEUS_INDEX", "dynamodb://table")]));
        assert!(
            matches!(missing, Err(ref e) if e.kind() == ErrorKind::Invalid && e.message().contains("PIRAEUS_STORE"))
        );
        let bad_mode = FunctionConfig::from_lookup(&env(&[
            ("PIRAEUS_STORE", "s3://bucket"),
            ("PIRAEUS_INDEX", "dynamodb://table"),
            ("PIRAEUS_DOWNLOAD_MODE", "eventually"),
        ]));
        assert!(bad_mode.is_err());
    }
}
