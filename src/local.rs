//! The local proxy's wiring: a data directory holding the GOPROXY tree and, in its private
//! folder, the SQLite index and fetch scratch space.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::error::Result;
use crate::fetch::{GoToolchain, GoToolchainConfig, InProcessTrigger, Ingester};
use crate::index::SqliteIndex;
use crate::proxy::{Proxy, ProxySettings};
use crate::store::FilesystemStore;
use crate::store::filesystem::PRIVATE_DIR;

#[derive(Debug, Clone)]
pub struct LocalConfig {
    pub data_dir: PathBuf,
    pub upstream: String,
    pub go_binary: PathBuf,
    pub fetch_timeout: Duration,
    pub max_concurrent_fetches: usize,
    pub answer_ttl: Duration,
}

pub fn index_path(data_dir: &Path) -> PathBuf {
    data_dir.join(PRIVATE_DIR).join("index.sqlite3")
}

/// Builds the proxy over the filesystem store, the SQLite index and in-process fetches.
pub fn build(config: &LocalConfig) -> Result<Proxy> {
    let store = Arc::new(FilesystemStore::open(&config.data_dir)?);
    let index = Arc::new(SqliteIndex::open(&index_path(&config.data_dir))?);
    let fetcher = Arc::new(GoToolchain::new(GoToolchainConfig {
        go_binary: config.go_binary.clone(),
        upstream: config.upstream.clone(),
        timeout: config.fetch_timeout,
        scratch_dir: config.data_dir.join(PRIVATE_DIR).join("work"),
        max_concurrent: config.max_concurrent_fetches,
    })?);
    let ingester = Arc::new(Ingester::new(store.clone(), index.clone(), fetcher.clone()));
    let trigger = Arc::new(InProcessTrigger::new(ingester));
    let settings = ProxySettings {
        answer_ttl: config.answer_ttl,
        // Long enough for the fetch to finish or time out, so waiters see its real outcome.
        wait_timeout: config.fetch_timeout + Duration::from_secs(30),
        lease_duration: config.fetch_timeout + Duration::from_secs(60),
        ..ProxySettings::default()
    };
    Ok(Proxy::new(store, index, fetcher, trigger, settings))
}
