//! The version index: what is stored and verified, who is fetching what, and the short-lived
//! answers (list, latest, queries) that only the Go toolchain can produce.

#[cfg(any(test, feature = "conformance"))]
pub mod conformance;
#[cfg(feature = "sqlite")]
mod sqlite;

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Result};

#[cfg(feature = "sqlite")]
pub use sqlite::SqliteIndex;

/// A version whose zip, go.mod and info are all stored. Written once, never changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredVersion {
    pub module: String,
    pub version: String,
    /// The commit time from the version's `.info`, RFC 3339, as the go command reported it.
    pub time: String,
    /// `h1:` of the zip, as in go.sum.
    pub zip_hash: String,
    /// `h1:` of the go.mod, as in go.sum's `/go.mod` line.
    pub mod_hash: String,
    pub zip_size: u64,
    pub mod_size: u64,
    pub info_size: u64,
    /// The upstream GOPROXY setting the version was fetched through.
    pub origin: String,
    /// When it was stored, Unix milliseconds; orders the ingest feed.
    pub fetched_at: i64,
}

/// How long a failure record is kept. It is answered from only for the failure TTL (seconds);
/// after this it is deleted, so failed lookups (random pseudo-versions included) do not pile
/// up in the index.
pub const FAILURE_RETENTION: Duration = Duration::from_secs(24 * 3600);

/// How long a cached list, latest or query answer is kept unused. Stale answers still serve
/// while upstream is down, so this is long.
pub const ANSWER_RETENTION: Duration = Duration::from_secs(90 * 24 * 3600);

/// Why a fetch failed, kept so that requests waiting on it get the same answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchFailure {
    pub kind: ErrorKind,
    pub message: String,
}

impl FetchFailure {
    /// Keeps the kind of a fetch error; a storage failure says nothing about the version and
    /// is recorded as an upstream failure, which clears on the next try. A conflict (stored
    /// bytes that differ from upstream's) is about the version, and stays one; so does a full
    /// queue (`Pending`), which the proxy does not repeat to later requests.
    pub fn from_error(error: &Error) -> Self {
        let kind = match error.kind() {
            kind @ (ErrorKind::NotFound
            | ErrorKind::Gone
            | ErrorKind::Upstream
            | ErrorKind::Forbidden
            | ErrorKind::Conflict
            | ErrorKind::Pending
            | ErrorKind::Invalid) => kind,
            ErrorKind::Storage => ErrorKind::Upstream,
        };
        // What failed in storage (keys, paths, buckets) is in the log line, not in the record
        // every waiting client is answered from.
        let message = if kind == error.kind() {
            error.message().to_string()
        } else {
            "the proxy could not store the version; retry shortly".to_string()
        };
        Self { kind, message }
    }

    pub fn to_error(&self) -> Error {
        Error::new(self.kind, self.message.clone())
    }
}

/// Where one version stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionStatus {
    /// Never requested (or the index was reset).
    Absent,
    /// `holder` holds the fetch lease until `lease_expires` (Unix ms).
    Fetching {
        holder: String,
        lease_expires: i64,
    },
    /// The last fetch failed at `failed_at` (Unix ms); a new fetch may claim the lease.
    Failed {
        failure: FetchFailure,
        failed_at: i64,
    },
    Ready(StoredVersion),
}

/// What a cached answer answers.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AnswerKey {
    /// `$module/@v/list`
    List { module: String },
    /// `$module/@latest`
    Latest { module: String },
    /// `$module/@v/$query.info` for a non-canonical query (branch, commit prefix, `v1.2`).
    Query { module: String, query: String },
    /// The last good answer of checksum database `name` at `path` (`latest`,
    /// `lookup/$module@$version` or a partial `tile/...`, escaped as requested): what the
    /// proxy serves when the database is unreachable ([`crate::sumdb`]).
    SumDb { name: String, path: String },
}

impl AnswerKey {
    /// A flat, unambiguous form for backends keyed by one string. Module paths and queries
    /// cannot contain spaces, and neither can checksum database names and paths, so the
    /// separator cannot collide.
    pub fn storage_key(&self) -> String {
        match self {
            AnswerKey::List { module } => format!("list {module}"),
            AnswerKey::Latest { module } => format!("latest {module}"),
            AnswerKey::Query { module, query } => format!("query {module} {query}"),
            AnswerKey::SumDb { name, path } => format!("sumdb {name} {path}"),
        }
    }
}

/// An answer from upstream and when it was obtained (Unix ms). The index stores it as given;
/// freshness is the caller's decision, so a stale answer can still serve when upstream fails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedAnswer {
    pub body: String,
    pub fetched_at: i64,
}

/// Where a feed page ended; pass it back to continue after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedCursor {
    pub fetched_at: i64,
    pub module: String,
    pub version: String,
}

impl StoredVersion {
    pub(crate) fn cursor(&self) -> FeedCursor {
        FeedCursor {
            fetched_at: self.fetched_at,
            module: self.module.clone(),
            version: self.version.clone(),
        }
    }
}

/// The version index.
///
/// Contract, checked by [`conformance::run`]:
/// - A `Ready` record is never changed or removed: `mark_ready` on a ready version returns
///   `false` and leaves it; `claim_fetch` and `mark_failed` never touch it.
/// - `claim_fetch` succeeds for exactly one caller at a time: when the version is absent, failed,
///   or its lease has expired (`lease_expires < now`). Concurrent claims: one winner.
/// - `mark_failed` and `renew_lease` only apply while `holder` still holds the lease.
/// - `claim_refresh` succeeds for one caller at a time per answer key, until its lease expires,
///   its holder releases it, or an answer for the key is put (which ends the lease).
/// - `feed` lists ready versions ordered by (`fetched_at`, module, version), strictly after the
///   cursor.
#[async_trait]
pub trait Index: Send + Sync {
    /// Succeeds when the index can be read and written (for readiness probes).
    async fn check(&self) -> Result<()>;
    async fn version(&self, module: &str, version: &str) -> Result<VersionStatus>;
    /// Tries to take the fetch lease until `lease_expires`; `true` when taken.
    async fn claim_fetch(
        &self,
        module: &str,
        version: &str,
        holder: &str,
        lease_expires: i64,
        now: i64,
    ) -> Result<bool>;
    /// Extends `holder`'s lease to `lease_expires`; `false` when it no longer holds it (it
    /// expired and someone else claimed the version, or the version is ready or failed).
    async fn renew_lease(
        &self,
        module: &str,
        version: &str,
        holder: &str,
        lease_expires: i64,
    ) -> Result<bool>;
    /// Signals each time a fetch ends through this value (`mark_ready`, `mark_failed`), so
    /// requests waiting for one wake at once instead of at their next poll. `None` when the
    /// backend cannot tell (fetches end in other processes); waiters then only poll.
    fn fetch_endings(&self) -> Option<tokio::sync::watch::Receiver<()>> {
        None
    }
    /// Records a fully stored version; `true` when this call made it ready.
    async fn mark_ready(&self, record: &StoredVersion) -> Result<bool>;
    /// Records that `holder`'s fetch failed, releasing its lease.
    async fn mark_failed(
        &self,
        module: &str,
        version: &str,
        holder: &str,
        failure: &FetchFailure,
        now: i64,
    ) -> Result<()>;
    /// Every ready version of one module, in no particular order.
    async fn stored_versions(&self, module: &str) -> Result<Vec<StoredVersion>>;
    async fn cached_answer(&self, key: &AnswerKey) -> Result<Option<CachedAnswer>>;
    /// Replaces the cached answer (answers are not artifacts: they are meant to change), and
    /// ends any refresh lease on the key.
    async fn put_cached_answer(&self, key: &AnswerKey, answer: &CachedAnswer) -> Result<()>;
    /// Tries to take the lease to refresh `key` from upstream until `lease_expires`: `true`
    /// when no one else holds a live one. Lets one instance of many ask upstream while the
    /// others serve the last answer.
    async fn claim_refresh(
        &self,
        key: &AnswerKey,
        holder: &str,
        lease_expires: i64,
        now: i64,
    ) -> Result<bool>;
    /// Gives up `holder`'s refresh lease on `key` (upstream failed: someone may ask again at
    /// once); nothing when it holds none.
    async fn release_refresh(&self, key: &AnswerKey, holder: &str) -> Result<()>;
    /// Ready versions in ingest order, after `after`, at most `limit`.
    async fn feed(&self, after: Option<&FeedCursor>, limit: usize) -> Result<Vec<StoredVersion>>;
}
