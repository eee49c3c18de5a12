//! The embedded index: one SQLite file in the data directory's private folder. Every write is a
//! single conditional statement, so several processes may share the file (WAL mode).

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::{
    ANSWER_RETENTION, AnswerKey, CachedAnswer, FAILURE_RETENTION, FeedCursor, FetchFailure, Index,
    StoredVersion, VersionStatus,
};
use crate::clock::{millis, now_millis};
use crate::error::{Error, ErrorKind, Result};

/// Expired failure records and answers are deleted at start-up and every this many failures.
const PURGE_EVERY: u64 = 256;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS versions (
    module TEXT NOT NULL,
    version TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('fetching', 'failed', 'ready')),
    lease_holder TEXT,
    lease_expires INTEGER,
    failure_kind TEXT,
    failure_message TEXT,
    failed_at INTEGER,
    time TEXT,
    zip_hash TEXT,
    mod_hash TEXT,
    zip_size INTEGER,
    mod_size INTEGER,
    info_size INTEGER,
    origin TEXT,
    fetched_at INTEGER,
    PRIMARY KEY (module, version)
);
CREATE INDEX IF NOT EXISTS versions_feed ON versions (fetched_at, module, version) WHERE state = 'ready';
CREATE TABLE IF NOT EXISTS answers (
    key TEXT PRIMARY KEY,
    body TEXT NOT NULL,
    fetched_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS refreshes (
    key TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    lease_expires INTEGER NOT NULL
);
";

const READY_COLUMNS: &str =
    "module, version, time, zip_hash, mod_hash, zip_size, mod_size, info_size, origin, fetched_at";

#[derive(Clone)]
pub struct SqliteIndex {
    connection: Arc<Mutex<Connection>>,
    failures_marked: Arc<AtomicU64>,
    /// Bumped when a fetch ends here (ready or failed), to wake the requests waiting for it.
    fetches_ended: Arc<tokio::sync::watch::Sender<()>>,
}

/// Deletes failure records and cached answers past their retention; never a ready version.
fn purge_expired(connection: &Connection, now: i64) -> rusqlite::Result<()> {
    connection.execute(
        "DELETE FROM versions WHERE state = 'failed' AND failed_at < ?1",
        params![now - millis(FAILURE_RETENTION)],
    )?;
    connection.execute(
        "DELETE FROM answers WHERE fetched_at < ?1",
        params![now - millis(ANSWER_RETENTION)],
    )?;
    connection.execute(
        "DELETE FROM refreshes WHERE lease_expires < ?1",
        params![now],
    )?;
    Ok(())
}

impl SqliteIndex {
    pub fn open(path: &Path) -> Result<Self> {
        let connection = Connection::open(path).map_err(|e| Error::storage(path.display(), e))?;
        Self::initialise(connection)
    }

    /// An index that lives only as long as the value.
    #[cfg(test)]
    pub(crate) fn in_memory() -> Result<Self> {
        Self::initialise(Connection::open_in_memory().map_err(|e| Error::storage("sqlite", e))?)
    }

    fn initialise(connection: Connection) -> Result<Self> {
        connection
            .busy_timeout(std::time::Duration::from_secs(10))
            .and_then(|_| connection.pragma_update(None, "journal_mode", "WAL"))
            .and_then(|_| connection.pragma_update(None, "synchronous", "NORMAL"))
            .and_then(|_| connection.execute_batch(SCHEMA))
            .and_then(|_| purge_expired(&connection, now_millis()))
            .map_err(|e| Error::storage("initialising sqlite index", e))?;
        Ok(Self {
            connection: Arc::new(Mutex::new(connection)),
            failures_marked: Arc::new(AtomicU64::new(0)),
            fetches_ended: Arc::new(tokio::sync::watch::Sender::new(())),
        })
    }

    /// Runs `work` on the connection off the async runtime.
    async fn with<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T> {
        let connection = self.connection.clone();
        tokio::task::spawn_blocking(move || {
            let connection = connection
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            work(&connection)
        })
        .await
        .map_err(|e| Error::storage("index task failed", e))?
        .map_err(|e| Error::storage("sqlite index", e))
    }
}

fn stored_version(row: &Row<'_>) -> rusqlite::Result<StoredVersion> {
    Ok(StoredVersion {
        module: row.get(0)?,
        version: row.get(1)?,
        time: row.get(2)?,
        zip_hash: row.get(3)?,
        mod_hash: row.get(4)?,
        zip_size: row.get::<_, i64>(5)? as u64,
        mod_size: row.get::<_, i64>(6)? as u64,
        info_size: row.get::<_, i64>(7)? as u64,
        origin: row.get(8)?,
        fetched_at: row.get(9)?,
    })
}

#[async_trait]
impl Index for SqliteIndex {
    async fn check(&self) -> Result<()> {
        // BEGIN IMMEDIATE takes the write lock: a read-only or wedged database is not ready.
        self.with(|connection| {
            connection.execute_batch("BEGIN IMMEDIATE; SELECT count(*) FROM answers; ROLLBACK;")
        })
        .await
    }

    async fn version(&self, module: &str, version: &str) -> Result<VersionStatus> {
        let (module, version) = (module.to_string(), version.to_string());
        self.with(move |connection| {
            let sql = format!(
                "SELECT {READY_COLUMNS}, state, lease_holder, lease_expires, failure_kind, failure_message, failed_at
                 FROM versions WHERE module = ?1 AND version = ?2"
            );
            connection
                .query_row(&sql, params![module, version], |row| {
                    let state: String = row.get(10)?;
                    Ok(match state.as_str() {
                        "ready" => VersionStatus::Ready(stored_version(row)?),
                        "fetching" => VersionStatus::Fetching { holder: row.get(11)?, lease_expires: row.get(12)? },
                        _ => VersionStatus::Failed {
                            failure: FetchFailure {
                                kind: ErrorKind::parse(&row.get::<_, String>(13)?).unwrap_or(ErrorKind::Upstream),
                                message: row.get(14)?,
                            },
                            failed_at: row.get(15)?,
                        },
                    })
                })
                .optional()
                .map(|status| status.unwrap_or(VersionStatus::Absent))
        })
        .await
    }

    async fn claim_fetch(
        &self,
        module: &str,
        version: &str,
        holder: &str,
        lease_expires: i64,
        now: i64,
    ) -> Result<bool> {
        let (module, version, holder) =
            (module.to_string(), version.to_string(), holder.to_string());
        self.with(move |connection| {
            let changed = connection.execute(
                "INSERT INTO versions (module, version, state, lease_holder, lease_expires)
                 VALUES (?1, ?2, 'fetching', ?3, ?4)
                 ON CONFLICT (module, version) DO UPDATE SET
                     state = 'fetching', lease_holder = excluded.lease_holder, lease_expires = excluded.lease_expires,
                     failure_kind = NULL, failure_message = NULL, failed_at = NULL
                 WHERE versions.state = 'failed' OR (versions.state = 'fetching' AND versions.lease_expires < ?5)",
                params![module, version, holder, lease_expires, now],
            )?;
            Ok(changed == 1)
        })
        .await
    }

    async fn renew_lease(
        &self,
        module: &str,
        version: &str,
        holder: &str,
        lease_expires: i64,
    ) -> Result<bool> {
        let (module, version, holder) =
            (module.to_string(), version.to_string(), holder.to_string());
        self.with(move |connection| {
            let changed = connection.execute(
                "UPDATE versions SET lease_expires = ?4
                 WHERE module = ?1 AND version = ?2 AND state = 'fetching' AND lease_holder = ?3",
                params![module, version, holder, lease_expires],
            )?;
            Ok(changed == 1)
        })
        .await
    }

    fn fetch_endings(&self) -> Option<tokio::sync::watch::Receiver<()>> {
        Some(self.fetches_ended.subscribe())
    }

    async fn mark_ready(&self, record: &StoredVersion) -> Result<bool> {
        let record = record.clone();
        let ended = self.fetches_ended.clone();
        self.with(move |connection| {
            let changed = connection.execute(
                "INSERT INTO versions (module, version, state, time, zip_hash, mod_hash, zip_size, mod_size, info_size, origin, fetched_at)
                 VALUES (?1, ?2, 'ready', ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                 ON CONFLICT (module, version) DO UPDATE SET
                     state = 'ready', lease_holder = NULL, lease_expires = NULL,
                     failure_kind = NULL, failure_message = NULL, failed_at = NULL,
                     time = excluded.time, zip_hash = excluded.zip_hash, mod_hash = excluded.mod_hash,
                     zip_size = excluded.zip_size, mod_size = excluded.mod_size, info_size = excluded.info_size,
                     origin = excluded.origin, fetched_at = excluded.fetched_at
                 WHERE versions.state != 'ready'",
                params![
                    record.module,
                    record.version,
                    record.time,
                    record.zip_hash,
                    record.mod_hash,
                    record.zip_size as i64,
                    record.mod_size as i64,
                    record.info_size as i64,
                    record.origin,
                    record.fetched_at
                ],
            )?;
            ended.send_replace(());
            Ok(changed == 1)
        })
        .await
    }

    async fn mark_failed(
        &self,
        module: &str,
        version: &str,
        holder: &str,
        failure: &FetchFailure,
        now: i64,
    ) -> Result<()> {
        let (module, version, holder, failure) = (
            module.to_string(),
            version.to_string(),
            holder.to_string(),
            failure.clone(),
        );
        // Now and then, not on every failure: the purge scans the table.
        let purge = self
            .failures_marked
            .fetch_add(1, Ordering::Relaxed)
            .is_multiple_of(PURGE_EVERY);
        let ended = self.fetches_ended.clone();
        self.with(move |connection| {
            if purge {
                purge_expired(connection, now)?;
            }
            connection.execute(
                "UPDATE versions SET state = 'failed', lease_holder = NULL, lease_expires = NULL,
                     failure_kind = ?4, failure_message = ?5, failed_at = ?6
                 WHERE module = ?1 AND version = ?2 AND state = 'fetching' AND lease_holder = ?3",
                params![
                    module,
                    version,
                    holder,
                    failure.kind.as_str(),
                    failure.message,
                    now
                ],
            )?;
            ended.send_replace(());
            Ok(())
        })
        .await
    }

    async fn stored_versions(&self, module: &str) -> Result<Vec<StoredVersion>> {
        let module = module.to_string();
        self.with(move |connection| {
            let sql = format!(
                "SELECT {READY_COLUMNS} FROM versions WHERE module = ?1 AND state = 'ready'"
            );
            let mut statement = connection.prepare(&sql)?;
            statement
                .query_map(params![module], stored_version)?
                .collect()
        })
        .await
    }

    async fn cached_answer(&self, key: &AnswerKey) -> Result<Option<CachedAnswer>> {
        let key = key.storage_key();
        self.with(move |connection| {
            connection
                .query_row(
                    "SELECT body, fetched_at FROM answers WHERE key = ?1",
                    params![key],
                    |row| {
                        Ok(CachedAnswer {
                            body: row.get(0)?,
                            fetched_at: row.get(1)?,
                        })
                    },
                )
                .optional()
        })
        .await
    }

    async fn put_cached_answer(&self, key: &AnswerKey, answer: &CachedAnswer) -> Result<()> {
        let (key, answer) = (key.storage_key(), answer.clone());
        self.with(move |connection| {
            connection.execute(
                "INSERT INTO answers (key, body, fetched_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (key) DO UPDATE SET body = excluded.body, fetched_at = excluded.fetched_at
                 WHERE excluded.fetched_at >= answers.fetched_at",
                params![key, answer.body, answer.fetched_at],
            )?;
            connection.execute("DELETE FROM refreshes WHERE key = ?1", params![key])?;
            Ok(())
        })
        .await
    }

    async fn claim_refresh(
        &self,
        key: &AnswerKey,
        holder: &str,
        lease_expires: i64,
        now: i64,
    ) -> Result<bool> {
        let (key, holder) = (key.storage_key(), holder.to_string());
        self.with(move |connection| {
            let changed = connection.execute(
                "INSERT INTO refreshes (key, holder, lease_expires) VALUES (?1, ?2, ?3)
                 ON CONFLICT (key) DO UPDATE SET holder = excluded.holder, lease_expires = excluded.lease_expires
                 WHERE refreshes.lease_expires < ?4",
                params![key, holder, lease_expires, now],
            )?;
            Ok(changed == 1)
        })
        .await
    }

    async fn release_refresh(&self, key: &AnswerKey, holder: &str) -> Result<()> {
        let (key, holder) = (key.storage_key(), holder.to_string());
        self.with(move |connection| {
            connection.execute(
                "DELETE FROM refreshes WHERE key = ?1 AND holder = ?2",
                params![key, holder],
            )?;
            Ok(())
        })
        .await
    }

    async fn feed(&self, after: Option<&FeedCursor>, limit: usize) -> Result<Vec<StoredVersion>> {
        let after = after.cloned().unwrap_or(FeedCursor {
            fetched_at: i64::MIN,
            module: String::new(),
            version: String::new(),
        });
        self.with(move |connection| {
            let sql = format!(
                "SELECT {READY_COLUMNS} FROM versions WHERE state = 'ready' AND (fetched_at, module, version) > (?1, ?2, ?3)
                 ORDER BY fetched_at, module, version LIMIT ?4"
            );
            let mut statement = connection.prepare(&sql)?;
            statement
                .query_map(params![after.fetched_at, after.module, after.version, limit as i64], stored_version)?
                .collect()
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MODULE: &str = "example.com/expiry";

    /// Records a failed fetch of `version` at `failed_at` (Unix ms).
    async fn fail(index: &SqliteIndex, version: &str, failed_at: i64) {
        assert!(
            index
                .claim_fetch(MODULE, version, "holder", failed_at + 1_000, failed_at)
                .await
                .unwrap()
        );
        let failure = FetchFailure {
            kind: ErrorKind::NotFound,
            message: "unknown revision".into(),
        };
        index
            .mark_failed(MODULE, version, "holder", &failure, failed_at)
            .await
            .unwrap();
    }

    async fn store_ready(index: &SqliteIndex, version: &str, fetched_at: i64) {
        let record = super::super::conformance::record(MODULE, version, fetched_at);
        assert!(index.mark_ready(&record).await.unwrap());
    }

    async fn status(index: &SqliteIndex, version: &str) -> &'static str {
        match index.version(MODULE, version).await.unwrap() {
            VersionStatus::Absent => "absent",
            VersionStatus::Fetching { .. } => "fetching",
            VersionStatus::Failed { .. } => "failed",
            VersionStatus::Ready(_) => "ready",
        }
    }

    #[tokio::test]
    async fn failures_past_their_retention_are_purged_every_so_many_failures() {
        let index = SqliteIndex::in_memory().unwrap();
        let now = now_millis();
        let expired = now - millis(FAILURE_RETENTION) - 60_000;
        // This handle's first failure: the purge runs before it is recorded.
        fail(&index, "v0.0.1", expired).await;
        store_ready(&index, "v1.0.0", expired).await;
        for n in 1..PURGE_EVERY {
            fail(&index, &format!("v0.1.{n}"), now).await;
        }
        assert_eq!(status(&index, "v0.0.1").await, "failed", "until the purge");

        fail(&index, "v0.2.0", now).await; // the next purge
        assert_eq!(status(&index, "v0.0.1").await, "absent", "purged");
        assert_eq!(status(&index, "v0.1.1").await, "failed", "within retention");
        assert_eq!(status(&index, "v0.2.0").await, "failed");
        assert_eq!(status(&index, "v1.0.0").await, "ready", "never purged");
    }

    #[tokio::test]
    async fn failures_past_their_retention_are_purged_at_start_up() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("index.sqlite3");
        let now = now_millis();
        let expired = now - millis(FAILURE_RETENTION) - 60_000;
        {
            let index = SqliteIndex::open(&path).unwrap();
            fail(&index, "v0.0.1", expired).await;
            fail(&index, "v0.0.2", now).await;
            store_ready(&index, "v1.0.0", expired).await;
            assert_eq!(status(&index, "v0.0.1").await, "failed");
        }
        let reopened = SqliteIndex::open(&path).unwrap();
        assert_eq!(status(&reopened, "v0.0.1").await, "absent", "purged");
        assert_eq!(
            status(&reopened, "v0.0.2").await,
            "failed",
            "within retention"
        );
        assert_eq!(status(&reopened, "v1.0.0").await, "ready", "never purged");
    }
}
