//! `piraeus serve`'s own parts: the data directory (a GOPROXY tree, with the SQLite index and
//! scratch space in its private folder) and fetches by the Go toolchain in this process. The
//! command may swap the store or the index for S3 or DynamoDB (`piraeus-aws`).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

#[cfg(feature = "sqlite")]
use crate::error::Error;
use crate::error::Result;
use crate::fetch::{GoToolchain, GoToolchainConfig, InProcessTrigger, Ingester};
use crate::index::Index;
#[cfg(feature = "sqlite")]
use crate::index::SqliteIndex;
use crate::policy::DownloadMode;
use crate::proxy::{Proxy, ProxySettings, lease_for};
use crate::store::{BlobStore, FilesystemStore, PRIVATE_DIR};

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

/// The proxy over `store` and `index`, fetching misses with the Go toolchain in this process.
pub fn build(
    config: &LocalConfig,
    store: Arc<dyn BlobStore>,
    index: Arc<dyn Index>,
) -> Result<Proxy> {
    let fetcher = Arc::new(GoToolchain::new(GoToolchainConfig {
        go_binary: config.go_binary.clone(),
        upstream: config.upstream.clone(),
        timeout: config.fetch_timeout,
        scratch_dir: config.data_dir.join(PRIVATE_DIR).join("work"),
        max_concurrent: config.max_concurrent_fetches,
        max_concurrent_lookups: config.max_concurrent_lookups,
        max_queued: config.max_queued,
    })?);
    let lease = lease_for(config.fetch_timeout);
    let ingester = Arc::new(Ingester::new(
        store.clone(),
        index.clone(),
        fetcher.clone(),
        lease,
    ));
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
    Ok(Proxy::new(store, index, fetcher, trigger, settings))
}
