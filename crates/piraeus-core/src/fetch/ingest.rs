//! One download becomes stored, hashed, indexed artifacts. Shared by the local proxy and the
//! AWS fetch function, so both keep exactly the same write order and checks.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::io::AsyncWriteExt;

use super::{Download, Expected, Fetcher};
use crate::clock::{millis, now_millis};
use crate::error::{Error, ErrorKind, Result};
use crate::golang::checksum;
use crate::index::{FetchFailure, Index, StoredVersion, VersionStatus};
use crate::store::{ArtifactKind, BlobSource, BlobStore, PutOutcome, artifact_key, read_blob};

/// Where a fetch's time went, for its log line: the go command, hashing what it downloaded,
/// and storing the artifacts.
struct Phases {
    go: Duration,
    hash: Duration,
    store: Duration,
}

pub struct Ingester {
    store: Arc<dyn BlobStore>,
    index: Arc<dyn Index>,
    fetcher: Arc<dyn Fetcher>,
    /// How far ahead each renewal of the fetch lease reaches.
    lease: Duration,
}

impl Ingester {
    pub fn new(
        store: Arc<dyn BlobStore>,
        index: Arc<dyn Index>,
        fetcher: Arc<dyn Fetcher>,
        lease: Duration,
    ) -> Self {
        Self {
            store,
            index,
            fetcher,
            lease,
        }
    }

    /// Fetches and stores `module@version` under `holder`'s lease, then marks it ready; on
    /// failure records why, so every request waiting on this fetch gets the same answer.
    ///
    /// The lease was claimed when the fetch was asked for, but its turn may come much later
    /// (behind the concurrency limit, or in Lambda's event queue): it is renewed when the work
    /// starts (or claimed again, if it lapsed and nobody took it) and kept alive while it runs,
    /// so a queued or slow fetch is never run twice. A fetch whose lease passed to someone else
    /// before it started does nothing.
    pub async fn ingest(&self, module: &str, version: &str, holder: &str) -> Result<StoredVersion> {
        if !self.take_lease(module, version, holder).await? {
            return Err(Error::pending(format!(
                "{module}@{version} is being fetched by another fetcher"
            )));
        }
        // Ends only when the lease is lost (it lapsed, and another fetcher took over): this
        // fetch then stops, leaving the work to that one.
        let heartbeat = async {
            loop {
                tokio::time::sleep(self.lease / 3).await;
                match self.renew_lease(module, version, holder).await {
                    Ok(true) => {}
                    Ok(false) => return,
                    Err(error) => {
                        tracing::warn!(module, version, error = %error.chain(), "cannot renew the fetch lease")
                    }
                }
            }
        };
        let started = std::time::Instant::now();
        let outcome = tokio::select! {
            outcome = self.fetch_and_store(module, version) => outcome,
            () = heartbeat => {
                tracing::warn!(module, version, "the fetch lease passed to another fetcher; stopping");
                return Err(Error::pending(format!(
                    "{module}@{version} is being fetched by another fetcher"
                )));
            }
        };
        match outcome {
            Ok((record, phases)) => {
                self.index.mark_ready(&record).await?;
                let duration_ms = started.elapsed().as_secs_f64() * 1000.0;
                crate::telemetry::metrics::fetch("stored", duration_ms, record.zip_size);
                tracing::info!(
                    module,
                    version,
                    zip_bytes = record.zip_size,
                    zip_hash = %record.zip_hash,
                    duration_ms = started.elapsed().as_millis() as u64,
                    go_ms = phases.go.as_millis() as u64,
                    hash_ms = phases.hash.as_millis() as u64,
                    store_ms = phases.store.as_millis() as u64,
                    "fetched and stored"
                );
                Ok(record)
            }
            Err(error) => {
                tracing::warn!(module, version, error = %error.chain(), duration_ms = started.elapsed().as_millis() as u64, "fetch failed");
                crate::telemetry::metrics::fetch(
                    "failed",
                    started.elapsed().as_secs_f64() * 1000.0,
                    0,
                );
                self.index
                    .mark_failed(
                        module,
                        version,
                        holder,
                        &FetchFailure::from_error(&error),
                        now_millis(),
                    )
                    .await?;
                Err(error)
            }
        }
    }

    /// Renews `holder`'s lease, or claims it again when it lapsed and nobody took it. Never
    /// over a recorded failure: that is an answer (a denial, a missing version) that a late
    /// event must not overturn.
    async fn take_lease(&self, module: &str, version: &str, holder: &str) -> Result<bool> {
        if self.renew_lease(module, version, holder).await? {
            return Ok(true);
        }
        let now = now_millis();
        match self.index.version(module, version).await? {
            VersionStatus::Absent => {}
            VersionStatus::Fetching { lease_expires, .. } if lease_expires < now => {}
            _ => return Ok(false),
        }
        self.index
            .claim_fetch(module, version, holder, now + millis(self.lease), now)
            .await
    }

    async fn renew_lease(&self, module: &str, version: &str, holder: &str) -> Result<bool> {
        let expires = now_millis() + millis(self.lease);
        self.index
            .renew_lease(module, version, holder, expires)
            .await
    }

    async fn fetch_and_store(
        &self,
        module: &str,
        version: &str,
    ) -> Result<(StoredVersion, Phases)> {
        let started = Instant::now();
        let mut download = self.fetcher.download(module, version).await?;
        let go = started.elapsed();
        if download.version != version {
            return Err(Error::gone(format!(
                "{module}@{version} resolves to {} upstream",
                download.version
            )));
        }
        let zip_hash = checksum::hash_zip_file_off_thread(download.zip.clone()).await?;
        let go_mod = read_small_file(&download.go_mod).await?;
        let info = read_small_file(&download.info).await?;
        let mod_hash = checksum::hash_go_mod(&go_mod);
        check_agrees(module, &download, &zip_hash, &mod_hash)?;
        let time = info_time(&info)?;
        let hash = started.elapsed() - go;

        let parts = Parts {
            zip: &download.zip,
            zip_hash: &zip_hash,
            go_mod: &go_mod,
            mod_hash: &mod_hash,
            info: &info,
            time: &time,
        };
        let stored = match store_parts(self.store.as_ref(), module, version, &parts).await? {
            Ok(stored) => stored,
            Err(differs) => {
                return Err(integrity_conflict(
                    &differs.key,
                    &differs.stored_hash,
                    &differs.new_hash,
                ));
            }
        };
        // The scratch GOPATH (git's clone, the zip, the go command's extracted tree) takes
        // tens of milliseconds to remove: not on the way to the waiting client's answer. A
        // removal cut short by shutdown is a leftover the next start clears.
        if let Some(scratch) = download.scratch.take() {
            tokio::task::spawn_blocking(move || drop(scratch));
        }
        let (zip_size, mod_size, info_size, time) = (
            stored.zip_size,
            stored.mod_size,
            stored.info_size,
            stored.time,
        );
        let record = StoredVersion {
            module: module.to_string(),
            version: version.to_string(),
            time,
            zip_hash,
            mod_hash,
            zip_size,
            mod_size,
            info_size,
            origin: self.fetcher.origin(),
            fetched_at: now_millis(),
        };
        let store = started.elapsed() - go - hash;
        Ok((record, Phases { go, hash, store }))
    }
}

/// A verified version's three parts, about to be stored.
pub(crate) struct Parts<'a> {
    pub zip: &'a Path,
    pub zip_hash: &'a str,
    pub go_mod: &'a Bytes,
    pub mod_hash: &'a str,
    pub info: &'a Bytes,
    /// The info's `Time`.
    pub time: &'a str,
}

/// What the store holds for a version once [`store_parts`] has run.
pub(crate) struct StoredParts {
    pub zip_size: u64,
    pub mod_size: u64,
    pub info_size: u64,
    /// The stored info's `Time`: a copy stored earlier wins over the one just offered.
    pub time: String,
    /// Whether any part was written now (rather than all found already stored).
    pub created: bool,
}

/// A part already stored whose hash is not the one offered.
pub(crate) struct Differs {
    pub key: String,
    pub stored_hash: String,
    pub new_hash: String,
}

/// Stores zip, then go.mod, then info (the info's presence means the rest is complete; the
/// index turns ready only after all three), never overwriting. A zip or go.mod already stored
/// (an earlier fetch whose index write was lost, another instance that won the race, an
/// earlier import) must hash as offered, else `Differs`: nothing would pair an old zip with a
/// new go.mod and info. Shared by ingest and `piraeus import`.
pub(crate) async fn store_parts(
    store: &dyn BlobStore,
    module: &str,
    version: &str,
    parts: &Parts<'_>,
) -> Result<std::result::Result<StoredParts, Differs>> {
    let differs = |key: String, stored_hash: String, new_hash: &str| Differs {
        key,
        stored_hash,
        new_hash: new_hash.to_string(),
    };
    let mut created = false;
    let zip_key = artifact_key(module, version, ArtifactKind::Zip);
    let zip_size = match store
        .put_if_absent(
            &zip_key,
            BlobSource::File(parts.zip.to_path_buf()),
            ArtifactKind::Zip.headers(),
        )
        .await?
    {
        PutOutcome::Created => {
            created = true;
            file_size(parts.zip).await?
        }
        PutOutcome::AlreadyExists => {
            let (stored_hash, size) = hash_stored_zip(store, &zip_key).await?;
            if stored_hash != parts.zip_hash {
                return Ok(Err(differs(zip_key, stored_hash, parts.zip_hash)));
            }
            size
        }
    };
    let mod_key = artifact_key(module, version, ArtifactKind::Mod);
    let mod_size = match store
        .put_if_absent(
            &mod_key,
            BlobSource::Bytes(parts.go_mod.clone()),
            ArtifactKind::Mod.headers(),
        )
        .await?
    {
        PutOutcome::Created => {
            created = true;
            parts.go_mod.len() as u64
        }
        PutOutcome::AlreadyExists => {
            let stored = read_blob(store, &mod_key).await?;
            let stored_hash = checksum::hash_go_mod(&stored);
            if stored_hash != parts.mod_hash {
                return Ok(Err(differs(mod_key, stored_hash, parts.mod_hash)));
            }
            stored.len() as u64
        }
    };
    let info_key = artifact_key(module, version, ArtifactKind::Info);
    let (time, info_size) = match store
        .put_if_absent(
            &info_key,
            BlobSource::Bytes(parts.info.clone()),
            ArtifactKind::Info.headers(),
        )
        .await?
    {
        PutOutcome::Created => {
            created = true;
            (parts.time.to_string(), parts.info.len() as u64)
        }
        PutOutcome::AlreadyExists => {
            let stored = read_blob(store, &info_key).await?;
            (info_time(&stored)?, stored.len() as u64)
        }
    };
    Ok(Ok(StoredParts {
        zip_size,
        mod_size,
        info_size,
        time,
        created,
    }))
}

/// A stored artifact that differs from a fresh, verified download: a 409 for the client, an
/// integrity alarm for the operator (a log line and a metric the template alarms on).
fn integrity_conflict(key: &str, stored_hash: &str, fetched_hash: &str) -> Error {
    tracing::error!(
        alarm = "integrity",
        key,
        stored_hash,
        fetched_hash,
        "a stored artifact differs from what upstream serves now; the version is not served until an operator looks"
    );
    crate::telemetry::metrics::integrity_conflict();
    Error::conflict(format!(
        "{key} is stored with {stored_hash} but upstream now serves {fetched_hash}; it will not be mixed with new parts"
    ))
}

/// Our own hashes against the sums `download` must have. A mismatch with the checksum
/// database is upstream serving other bytes than the database vouches for: a 502 naming both
/// sums, as the go command's SECURITY ERROR does, and an integrity alarm; nothing is stored.
fn check_agrees(module: &str, download: &Download, zip_hash: &str, mod_hash: &str) -> Result<()> {
    let version = &download.version;
    match &download.expected {
        Expected::Go { zip, go_mod } => {
            if zip != zip_hash || go_mod != mod_hash {
                return Err(Error::conflict(format!(
                    "checksum mismatch for {version}: go reported {zip} {go_mod}, computed {zip_hash} {mod_hash}"
                )));
            }
        }
        Expected::Database { zip, go_mod } => {
            for (file, expected, got) in [("zip", zip, zip_hash), ("go.mod", go_mod, mod_hash)] {
                if expected != got {
                    tracing::error!(
                        alarm = "integrity",
                        module,
                        version = version.as_str(),
                        file,
                        expected = expected.as_str(),
                        got,
                        "upstream served other bytes than the checksum database records; nothing was stored"
                    );
                    crate::telemetry::metrics::integrity_conflict();
                    return Err(Error::upstream(format!(
                        "checksum mismatch for {module}@{version} ({file}): the checksum database records {expected}, upstream served {got}"
                    )));
                }
            }
        }
        Expected::Unchecked(reason) => {
            tracing::warn!(
                module,
                version = version.as_str(),
                reason = reason.as_str(),
                "stored without checksum-database verification"
            );
        }
    }
    Ok(())
}

/// The `Time` field of a `.info` body.
pub(crate) fn info_time(info: &[u8]) -> Result<String> {
    #[derive(serde::Deserialize)]
    struct Info {
        #[serde(rename = "Time", default)]
        time: String,
    }
    serde_json::from_slice::<Info>(info)
        .map(|info| info.time)
        .map_err(|e| Error::conflict(format!("malformed .info: {e}")))
}

async fn file_size(path: &Path) -> Result<u64> {
    Ok(tokio::fs::metadata(path)
        .await
        .map_err(|e| Error::storage(path.display(), e))?
        .len())
}

/// Reads one of the small artifacts (go.mod, info) that are safe to hold in memory.
async fn read_small_file(path: &Path) -> Result<Bytes> {
    tokio::fs::read(path)
        .await
        .map(Bytes::from)
        .map_err(|e| Error::storage(path.display(), e))
}

/// `h1:` and size of a stored zip, hashed from disk on a blocking thread and never held in
/// memory: in place when the store is local, else first streamed to a scratch file. `NotFound`
/// when it is absent, `Conflict` (naming the key, not a path) when it is not a valid zip.
pub(crate) async fn hash_stored_zip(store: &dyn BlobStore, key: &str) -> Result<(String, u64)> {
    let not_a_zip = |error: Error| match error.kind() {
        ErrorKind::Conflict => {
            Error::conflict(format!("stored {key} is not a valid zip")).with_source(error)
        }
        _ => error,
    };
    if let Some(path) = store.local_path(key)? {
        let size = match tokio::fs::metadata(&path).await {
            Ok(metadata) => metadata.len(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::not_found(format!("{key} is not stored")));
            }
            Err(e) => return Err(Error::storage(key, e)),
        };
        let hash = checksum::hash_zip_file_off_thread(path)
            .await
            .map_err(not_a_zip)?;
        return Ok((hash, size));
    }
    let scratch = tempfile::tempdir().map_err(|e| Error::storage("temporary directory", e))?;
    let path = scratch.path().join("stored.zip");
    let mut blob = store.get(key).await?;
    let mut file = tokio::fs::File::create(&path)
        .await
        .map_err(|e| Error::storage(path.display(), e))?;
    let size = tokio::io::copy(&mut blob.body, &mut file)
        .await
        .map_err(|e| Error::storage(key, e))?;
    // The hashing thread opens the file anew: every byte must have reached it first.
    file.flush()
        .await
        .map_err(|e| Error::storage(path.display(), e))?;
    drop(file);
    let hash = checksum::hash_zip_file_off_thread(path)
        .await
        .map_err(not_a_zip)?;
    Ok((hash, size))
}
