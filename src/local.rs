//! The `piraeus serve` wiring: by default a data directory holding the GOPROXY tree and, in its
//! private folder, the SQLite index and fetch scratch space; optionally S3 and DynamoDB instead,
//! with the data directory left as scratch space only.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::aws::{self, BucketLocation, TableLocation};
use crate::error::Result;
use crate::fetch::{GoToolchain, GoToolchainConfig, InProcessTrigger, Ingester};
use crate::index::{DynamoIndex, Index, SqliteIndex};
use crate::proxy::{DownloadMode, Proxy, ProxySettings, lease_for};
use crate::store::filesystem::PRIVATE_DIR;
use crate::store::{BlobStore, FilesystemStore, S3Store};

#[derive(Debug, Clone)]
pub struct LocalConfig {
    pub data_dir: PathBuf,
    /// S3 instead of the data directory for artifacts.
    pub store: Option<BucketLocation>,
    /// DynamoDB instead of SQLite for the index.
    pub index: Option<TableLocation>,
    pub upstream: String,
    pub go_binary: PathBuf,
    pub fetch_timeout: Duration,
    pub max_concurrent_fetches: usize,
    pub answer_ttl: Duration,
    pub download_mode: DownloadMode,
}

pub fn index_path(data_dir: &Path) -> PathBuf {
    data_dir.join(PRIVATE_DIR).join("index.sqlite3")
}

/// Builds the proxy over the configured store and index, with in-process fetches.
pub async fn build(config: &LocalConfig) -> Result<Proxy> {
    let sdk = match (&config.store, &config.index) {
        (None, None) => None,
        _ => Some(aws::sdk_config().await),
    };
    let store: Arc<dyn BlobStore> = match (&config.store, &sdk) {
        (Some(location), Some(sdk)) => Arc::new(S3Store::new(
            aws::s3_client(sdk),
            &location.bucket,
            &location.prefix,
        )),
        _ => Arc::new(FilesystemStore::open(&config.data_dir)?),
    };
    let index: Arc<dyn Index> = match (&config.index, &sdk) {
        (Some(location), Some(sdk)) => {
            Arc::new(DynamoIndex::new(aws::dynamodb_client(sdk), &location.table))
        }
        _ => {
            std::fs::create_dir_all(config.data_dir.join(PRIVATE_DIR))
                .map_err(|e| crate::Error::storage(config.data_dir.display(), e))?;
            Arc::new(SqliteIndex::open(&index_path(&config.data_dir))?)
        }
    };
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
        lease_duration: lease_for(config.fetch_timeout),
        download_mode: config.download_mode,
        ..ProxySettings::default()
    };
    Ok(Proxy::new(store, index, fetcher, trigger, settings))
}
