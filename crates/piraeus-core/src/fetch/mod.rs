//! Getting modules from upstream: the [`Fetcher`] and [`Resolver`] (the Go toolchain), the
//! [`ingest::Ingester`] that stores what it downloads, and the [`FetchTrigger`] that starts an
//! ingest (a task locally, an asynchronous function invocation on AWS).

pub mod git_access;
mod github_app;
pub mod go;
mod guard;
pub mod ingest;
pub mod upstream;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tracing::Instrument;

use crate::error::{Error, Result};

pub use git_access::{GitAccess, GitCredentials};
pub use go::{GoToolchain, GoToolchainConfig};
pub use ingest::Ingester;

/// One module version downloaded into a private scratch directory, which is removed when this
/// value drops.
pub struct Download {
    pub version: String,
    pub info: PathBuf,
    pub go_mod: PathBuf,
    pub zip: PathBuf,
    /// What our own hashes must equal before anything is stored.
    pub expected: Expected,
    /// Keeps the scratch directory alive while the files are in use.
    pub scratch: Option<tempfile::TempDir>,
}

/// The `h1:` sums a download must have, and who vouches for them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expected {
    /// The go command's: it verified the download itself (against the checksum database,
    /// unless the module is private).
    Go { zip: String, go_mod: String },
    /// The checksum database's record, proved in its signed tree: a version fetched from an
    /// upstream proxy natively.
    Database { zip: String, go_mod: String },
    /// Nobody's: fetched from a proxy, outside every checksum database's scope (`GONOSUMDB`,
    /// `GOSUMDB=off`). The reason is logged with the version.
    Unchecked(String),
}

/// A query resolved to a canonical version: the body of `@latest` and `$query.info`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ResolvedVersion {
    pub version: String,
    pub time: String,
}

/// Downloads from upstream. Gets already-validated module paths and versions. Only the
/// process that runs the Go toolchain has one (the local proxy, the fetch function).
#[async_trait]
pub trait Fetcher: Send + Sync {
    /// Downloads one canonical version: info, go.mod and zip.
    async fn download(&self, module: &str, version: &str) -> Result<Download>;
    /// The upstream setting, recorded as each stored version's origin.
    fn origin(&self) -> String;
}

/// Asks upstream the questions whose answers change: lists and queries. The Go toolchain
/// locally; on AWS a synchronous call to the fetch function, so serve never runs go itself.
#[async_trait]
pub trait Resolver: Send + Sync {
    /// The module's tagged versions, retracted ones included (clients hide those themselves).
    async fn list(&self, module: &str) -> Result<Vec<String>>;
    /// Resolves `latest`, a branch, a tag or a commit prefix to a canonical version.
    async fn resolve(&self, module: &str, query: &str) -> Result<ResolvedVersion>;
}

/// Starts fetching a version whose lease the caller already holds, without waiting for it.
#[async_trait]
pub trait FetchTrigger: Send + Sync {
    async fn trigger(&self, module: &str, version: &str, holder: &str) -> Result<()>;
}

/// Runs the ingest as a task in this process, refusing at once (503, "retry shortly") when as
/// many fetches are running or waiting as the go command's download limit and queue allow, so
/// the request or prefetch that asked learns it was not started.
pub(crate) struct InProcessTrigger {
    ingester: Arc<Ingester>,
    in_flight: Arc<AtomicUsize>,
    capacity: usize,
}

impl InProcessTrigger {
    pub fn new(ingester: Arc<Ingester>, capacity: usize) -> Self {
        Self {
            ingester,
            in_flight: Arc::new(AtomicUsize::new(0)),
            capacity,
        }
    }
}

/// One fetch counted while its task lives, however it ends.
struct InFlight(Arc<AtomicUsize>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

#[async_trait]
impl FetchTrigger for InProcessTrigger {
    async fn trigger(&self, module: &str, version: &str, holder: &str) -> Result<()> {
        if self.in_flight.fetch_add(1, Ordering::Relaxed) >= self.capacity {
            self.in_flight.fetch_sub(1, Ordering::Relaxed);
            crate::telemetry::metrics::queue_full("download");
            return Err(Error::pending(format!(
                "the download queue is full ({} fetches running or waiting); retry shortly",
                self.capacity
            )));
        }
        let counted = InFlight(self.in_flight.clone());
        let ingester = self.ingester.clone();
        let (module, version, holder) =
            (module.to_string(), version.to_string(), holder.to_string());
        // A task of its own, so a client that hangs up does not abandon a fetch others wait on.
        tokio::spawn(
            async move {
                let _counted = counted;
                // The outcome is recorded in the index, where waiters read it; errors were logged.
                let _ = ingester.ingest(&module, &version, &holder).await;
            }
            // In the caller's span: its log lines name the request that started it.
            .in_current_span(),
        );
        Ok(())
    }
}
