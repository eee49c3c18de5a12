//! `piraeus serve`'s own parts: the data directory (a GOPROXY tree, with the SQLite index and
//! scratch space in its private folder) and fetches by the Go toolchain in this process. The
//! command may swap the store or the index for S3 or DynamoDB (`piraeus-aws`).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::fetch::upstream;
use crate::fetch::{
    Fetcher, GitAccess, GitCredentials, GoToolchain, GoToolchainConfig, InProcessTrigger, Ingester,
    Resolver,
};
use crate::index::Index;
#[cfg(feature = "sqlite")]
use crate::index::SqliteIndex;
use crate::policy::{DownloadMode, Policy};
use crate::proxy::{Proxy, ProxySettings, lease_for};
use crate::store::{BlobStore, FilesystemStore, PRIVATE_DIR};
use crate::sumdb::SumDbConfig;

#[derive(Debug, Clone)]
pub struct LocalConfig {
    /// The GOPROXY tree, and in its private folder the index and the fetch scratch space.
    pub data_dir: PathBuf,
    pub upstream: String,
    pub go_binary: PathBuf,
    pub fetch_timeout: Duration,
    pub max_concurrent_fetches: usize,
    pub max_concurrent_lookups: usize,
    pub max_queued: usize,
    pub answer_ttl: Duration,
    pub not_found_ttl: Duration,
    pub failure_ttl: Duration,
    pub download_mode: DownloadMode,
    pub cache_size: u64,
    /// The SSH key document for git (`--git-ssh-key`).
    pub git_ssh_key: Option<PathBuf>,
    /// The GitHub App document (`--github-app`) and the API that mints its tokens.
    pub github_app: Option<PathBuf>,
    pub github_api: Option<String>,
    /// git's URL rewrites (`--git-instead-of`).
    pub git_instead_of: Vec<(String, String)>,
}

/// The data directory as the store.
pub fn open_store(data_dir: &Path) -> Result<Arc<dyn BlobStore>> {
    Ok(Arc::new(FilesystemStore::open(data_dir)?))
}

/// Where the SQLite index of a data directory lives.
#[cfg(feature = "sqlite")]
pub fn index_path(data_dir: &Path) -> PathBuf {
    data_dir.join(PRIVATE_DIR).join("index.sqlite3")
}

/// The data directory's SQLite index, created if missing.
#[cfg(feature = "sqlite")]
pub fn open_index(data_dir: &Path) -> Result<Arc<dyn Index>> {
    let private = data_dir.join(PRIVATE_DIR);
    std::fs::create_dir_all(&private).map_err(|e| Error::storage(private.display(), e))?;
    Ok(Arc::new(SqliteIndex::open(&index_path(data_dir))?))
}

/// The proxy over `store` and `index`, with `policy` and the checksum databases `sumdb`
/// proxies. Misses are fetched in this process: from the upstream proxies natively, verified
/// against the checksum database `GOSUMDB` names (read from `environment`, as the go command
/// reads it); the go command runs only for what reaches `direct` and for private modules.
pub fn build(
    config: &LocalConfig,
    store: Arc<dyn BlobStore>,
    index: Arc<dyn Index>,
    policy: Policy,
    sumdb: SumDbConfig,
    environment: &dyn Fn(&str) -> Option<String>,
) -> Result<Proxy> {
    let scratch_dir = config.data_dir.join(PRIVATE_DIR).join("work");
    let git = Arc::new(git_access(config)?);
    let policy = Arc::new(policy);
    let go = |upstream: &str| -> Result<Arc<GoToolchain>> {
        Ok(Arc::new(GoToolchain::new(GoToolchainConfig {
            go_binary: config.go_binary.clone(),
            upstream: upstream.to_string(),
            timeout: config.fetch_timeout,
            scratch_dir: scratch_dir.clone(),
            max_concurrent: config.max_concurrent_fetches,
            max_concurrent_lookups: config.max_concurrent_lookups,
            max_queued: config.max_queued,
            git: git.clone(),
            policy: policy.clone(),
        })?))
    };
    let native = upstream::native_chain(
        &config.upstream,
        environment,
        &sumdb,
        policy.clone(),
        store.clone(),
        index.clone(),
        config.fetch_timeout,
        scratch_dir.clone(),
        &|rest| {
            let go = go(rest)?;
            Ok((
                Some(go.clone() as Arc<dyn Fetcher>),
                Some(go as Arc<dyn Resolver>),
            ))
        },
    )?;
    let (fetcher, resolver): (Arc<dyn Fetcher>, Arc<dyn Resolver>) = match native {
        Some(upstream) => (upstream.clone(), upstream),
        None => {
            let go = go(&config.upstream)?;
            (go.clone(), go)
        }
    };
    let lease = lease_for(config.fetch_timeout);
    let ingester = Arc::new(Ingester::new(store.clone(), index.clone(), fetcher, lease));
    let trigger = Arc::new(InProcessTrigger::new(
        ingester,
        config.max_concurrent_fetches + config.max_queued,
    ));
    let settings = ProxySettings {
        answer_ttl: config.answer_ttl,
        not_found_ttl: config.not_found_ttl,
        failure_ttl: config.failure_ttl,
        // Long enough for the fetch to finish or time out, so waiters see its real outcome.
        wait_timeout: config.fetch_timeout + Duration::from_secs(30),
        lease_duration: lease,
        download_mode: config.download_mode,
        cache_size: config.cache_size,
        ..ProxySettings::default()
    };
    Proxy::new(store, index, resolver, trigger, settings)
        .with_policy(policy)
        .with_sumdb(sumdb)
}

/// Whether misses may run the go command: the chain reaches `direct`, or some modules are
/// never sent to a proxy (`GOPRIVATE`, `GONOPROXY`).
pub fn needs_go(config: &LocalConfig, environment: &dyn Fn(&str) -> Option<String>) -> bool {
    upstream::needs_direct(&config.upstream, environment)
}

/// The documents `--git-ssh-key` and `--github-app` name, checked, with what git reads of them
/// under the data directory's private folder; and the rewrites.
fn git_access(config: &LocalConfig) -> Result<GitAccess> {
    let read = |setting: &str, path: &Option<PathBuf>| {
        path.as_ref()
            .map(|path| {
                std::fs::read_to_string(path).map_err(|e| {
                    Error::invalid(format!("{setting}: cannot read {}", path.display()))
                        .with_source(e)
                })
            })
            .transpose()
    };
    let (ssh, github) = (
        crate::settings::GIT_SSH_KEY.env,
        crate::settings::GITHUB_APP.env,
    );
    let ssh_key = read(ssh, &config.git_ssh_key)?;
    let github_app = read(github, &config.github_app)?;
    let credentials = GitCredentials {
        ssh_key: ssh_key.as_deref().map(|text| (ssh, text)),
        github_app: github_app.as_deref().map(|text| (github, text)),
        github_api: config.github_api.as_deref(),
    };
    GitAccess::new(
        credentials,
        config.git_instead_of.clone(),
        &config.data_dir.join(PRIVATE_DIR),
    )
}
