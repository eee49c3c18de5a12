//! The checksum database as the native fetcher asks it: a version fetched from an upstream
//! proxy is stored only when its sums equal the database's record, proved in the signed tree
//! ([`crate::golang::checksumdb`]). The database is reached through this process's `/sumdb`
//! cache (the same stored full tiles and kept answers the go command's lookups use), and the
//! latest verified tree head is kept in the index, so a fork shows across restarts and
//! instances.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;

use super::{Endpoint, Mirror, SumDatabase, SumDbConfig};
use crate::clock::now_millis;
use crate::error::{Error, ErrorKind, Result};
use crate::golang::checksumdb::{
    CheckError, Checker, DatabaseSource, SumDbSettings, TreeHeadStore,
};
use crate::index::{AnswerKey, CachedAnswer, Index};
use crate::policy::{self, Policy};
use crate::store::BlobStore;

/// What the checksum database records for a version, or why it is not asked.
pub enum Sums {
    /// The `h1:` sums of the zip and the go.mod, as the database records them.
    Recorded { zip: String, go_mod: String },
    /// Not asked (`GOSUMDB=off`, `GONOSUMDB`/`GOPRIVATE`, a private policy rule): the reason,
    /// logged with the version.
    Unchecked(String),
}

/// Before a version fetched natively is stored, its sums must equal what this says.
#[async_trait]
pub trait SumCheck: Send + Sync {
    /// The database's record of `module@version`. A version the database does not know, or
    /// whose proof does not hold, is an error: nothing is stored.
    async fn sums(&self, module: &str, version: &str) -> Result<Sums>;
}

/// [`SumCheck`] against the database `GOSUMDB` names.
pub struct DatabaseSums {
    settings: SumDbSettings,
    checker: Option<Checker<Arc<dyn DatabaseSource>, KeptHeads>>,
    policy: Arc<Policy>,
}

/// The database's files as an export keeps them for an air-gapped import: each path read
/// (`lookup/M@V`, `tile/…`) and its bytes, which prove the records offline.
pub type Recorded = Arc<Mutex<BTreeMap<String, Bytes>>>;

/// Where [`DatabaseSums`] reads the database's files.
pub enum Source {
    /// The database itself, through the `/sumdb` cache.
    Online,
    /// Online, each file read also kept in the map (for `piraeus export`).
    Recording(Recorded),
    /// A `piraeus export` archive's records first; what they lack from the database online,
    /// unless `offline`.
    Records {
        records: HashMap<String, Bytes>,
        offline: bool,
    },
}

impl DatabaseSums {
    /// `settings` as the go command reads them (`GOSUMDB`, `GONOSUMDB`, `GOPRIVATE`); the
    /// database's files are read from `source`: online through a cache of its own over `store`
    /// and `index` (full tiles stored once, shared with the `/sumdb` proxy), from the URL
    /// `GOSUMDB` gives, else the one `proxied` gives that database, else `https://NAME`.
    pub fn with_source(
        settings: SumDbSettings,
        proxied: &SumDbConfig,
        policy: Arc<Policy>,
        store: Arc<dyn BlobStore>,
        index: Arc<dyn Index>,
        source: Source,
    ) -> Result<Self> {
        let checker = match &settings.database {
            None => None,
            Some(database) => {
                let name = database.name().to_string();
                let url = match proxied.databases.iter().find(|d| d.name == name) {
                    Some(proxied) if !database.explicit_url => proxied.url.clone(),
                    _ => database.url.clone(),
                };
                let target = SumDatabase {
                    name: name.clone(),
                    url,
                };
                let mirror = Mirror::new(
                    SumDbConfig {
                        databases: vec![target.clone()],
                        private_patterns: settings.private.clone(),
                        ttl: proxied.ttl,
                    },
                    store,
                    index.clone(),
                )?;
                let online: Arc<dyn DatabaseSource> = Arc::new(Through {
                    mirror,
                    database: target,
                    policy: policy.clone(),
                });
                let source: Arc<dyn DatabaseSource> = match source {
                    Source::Online => online,
                    Source::Recording(recorded) => Arc::new(Recording {
                        inner: online,
                        recorded,
                    }),
                    Source::Records { records, offline } => Arc::new(FromRecords {
                        records,
                        online: (!offline).then_some(online),
                    }),
                };
                Some(Checker::new(database.clone(), source, KeptHeads { index }))
            }
        };
        Ok(Self {
            settings,
            checker,
            policy,
        })
    }

    /// The name of the database checked against; `None` with `GOSUMDB=off`.
    pub fn database(&self) -> Option<&str> {
        self.settings
            .database
            .as_ref()
            .map(|database| database.name())
    }
}

#[async_trait]
impl SumCheck for DatabaseSums {
    async fn sums(&self, module: &str, version: &str) -> Result<Sums> {
        let Some(checker) = &self.checker else {
            return Ok(Sums::Unchecked("GOSUMDB=off".into()));
        };
        if let Some(pattern) = policy::matching_prefix_pattern(&self.settings.private, module) {
            return Ok(Sums::Unchecked(format!(
                "{module} matches {pattern:?} in GONOSUMDB or GOPRIVATE"
            )));
        }
        if let Some((why, _)) = self.policy.private_reason(module) {
            return Ok(Sums::Unchecked(why));
        }
        let lines = checker.lookup(module, version).await.map_err(|error| {
            let security = matches!(error, CheckError::Security(_));
            let error = Error::from(error);
            if security {
                tracing::error!(
                    alarm = "integrity",
                    module,
                    version,
                    error = %error.chain(),
                    "the checksum database's answer does not verify; nothing was stored"
                );
                crate::telemetry::metrics::integrity_conflict();
                return error.into_kind(ErrorKind::Upstream);
            }
            match error.kind() {
                // The database does not know the version: the go command refuses it too.
                ErrorKind::NotFound => Error::upstream(format!(
                    "{module}@{version} is not in the checksum database: {}",
                    error.message()
                )),
                _ => error,
            }
        })?;
        let hash = |suffix: &str| {
            let prefix = format!("{module} {version}{suffix} ");
            lines
                .iter()
                .find_map(|line| line.strip_prefix(&prefix))
                .map(str::to_owned)
                .ok_or_else(|| {
                    Error::upstream(format!(
                        "the checksum database's record of {module}@{version} has no{suffix} line"
                    ))
                })
        };
        Ok(Sums::Recorded {
            zip: hash("")?,
            go_mod: hash("/go.mod")?,
        })
    }
}

/// Reads `inner`, keeping what it read.
struct Recording {
    inner: Arc<dyn DatabaseSource>,
    recorded: Recorded,
}

#[async_trait]
impl DatabaseSource for Recording {
    async fn read(&self, path: &str) -> Result<Bytes> {
        let body = self.inner.read(path).await?;
        self.recorded
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(path.to_string(), body.clone());
        Ok(body)
    }
}

/// An archive's records, then the database online when allowed. Nothing here is trusted more
/// than the database's own answers: the checker verifies the note and the proofs either way.
struct FromRecords {
    records: HashMap<String, Bytes>,
    online: Option<Arc<dyn DatabaseSource>>,
}

#[async_trait]
impl DatabaseSource for FromRecords {
    async fn read(&self, path: &str) -> Result<Bytes> {
        if let Some(body) = self.records.get(path) {
            return Ok(body.clone());
        }
        match &self.online {
            Some(online) => online.read(path).await,
            None => Err(Error::upstream(format!(
                "the archive holds no checksum-database record of {path}, and the import is offline"
            ))),
        }
    }
}

/// The database's files through the `/sumdb` cache.
struct Through {
    mirror: Mirror,
    database: SumDatabase,
    policy: Arc<Policy>,
}

#[async_trait]
impl DatabaseSource for Through {
    async fn read(&self, path: &str) -> Result<Bytes> {
        let endpoint = Endpoint::parse(path)?;
        let answer = self
            .mirror
            .answer(&self.database, &endpoint, &self.policy)
            .await?;
        Ok(answer.body)
    }
}

/// The latest verified tree head of each database, kept in the index's answer cache under a
/// path no request can name. A refresh lease on the key makes `replace` a compare-and-swap
/// across instances.
struct KeptHeads {
    index: Arc<dyn Index>,
}

const HEAD_PATH: &str = "piraeus-verified-head";
/// How long one replacement may hold the key.
const HEAD_LEASE_MS: i64 = 10_000;

fn head_key(database: &str) -> AnswerKey {
    AnswerKey::SumDb {
        name: database.to_string(),
        path: HEAD_PATH.to_string(),
    }
}

#[async_trait]
impl TreeHeadStore for KeptHeads {
    async fn latest(&self, database: &str) -> Result<Option<String>> {
        Ok(self
            .index
            .cached_answer(&head_key(database))
            .await?
            .map(|answer| answer.body))
    }

    async fn replace(&self, database: &str, previous: Option<&str>, note: &str) -> Result<bool> {
        let key = head_key(database);
        let holder = format!("head-{}-{}", std::process::id(), now_millis());
        let now = now_millis();
        if !self
            .index
            .claim_refresh(&key, &holder, now + HEAD_LEASE_MS, now)
            .await?
        {
            return Ok(false);
        }
        let kept = self.index.cached_answer(&key).await;
        let result = match kept {
            Ok(kept) if kept.as_ref().map(|k| k.body.as_str()) == previous => self
                .index
                .put_cached_answer(
                    &key,
                    &CachedAnswer {
                        body: note.to_string(),
                        fetched_at: now_millis(),
                    },
                )
                .await
                .map(|()| true),
            Ok(_) => Ok(false),
            Err(error) => Err(error),
        };
        let _ = self.index.release_refresh(&key, &holder).await;
        result
    }
}
