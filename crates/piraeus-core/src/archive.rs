//! `piraeus export` and `piraeus import`: stored versions carried to another Piraeus as one
//! file, for mirrors with no network path between them.
//!
//! The archive is a zip file (entries stored, not compressed again): first `manifest.json`,
//! then each version's artifacts at their GOPROXY paths (the one layout of
//! [`artifact_key`]), zip, go.mod and info. The manifest holds the index record of every
//! version ([`StoredVersion`]: module, version, `h1:` sums, sizes, time, origin, when it was
//! stored). Unpacked, the archive is also a valid GOPROXY tree.
//!
//! Import trusts nothing in the archive: every zip and go.mod is re-hashed against the `h1:`
//! sums of its record, and those sums must be the checksum database's (unless the version is
//! private), before anything of that version is written; a version is stored like ingest
//! stores it (zip, then go.mod, then info, never overwriting, then `mark_ready`).
//!
//! For an air-gapped destination, export also writes the database's files that prove each
//! version's record (its signed lookup answer and the tiles its proofs read) under
//! `sumdb/NAME/`, and import verifies against them with the database's key, offline.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::clock::now_millis;
use crate::error::{Error, ErrorKind, Result};
use crate::fetch::ingest::{Parts, info_time, store_parts};
use crate::golang::{checksum, path};
use crate::index::{FeedCursor, Index, StoredVersion, VersionStatus};
use crate::store::{ArtifactKind, BlobStore, artifact_key, read_blob};
use crate::sumdb::verify::{Recorded, SumCheck, Sums};

/// The name of the manifest entry.
pub const MANIFEST: &str = "manifest.json";
/// What the manifest says it is, so an unrelated zip is refused plainly.
const FORMAT: &str = "piraeus-export";
const FORMAT_VERSION: u32 = 1;
/// A go.mod or info larger than this in an archive is refused rather than read into memory.
const MAX_SMALL_ARTIFACT: u64 = 64 << 20;
/// Feed entries read per index query when selecting versions.
const PAGE: usize = 500;
/// Where an archive keeps a checksum database's files: `sumdb/NAME/lookup/…`, `…/tile/…`.
const DATABASE_FILES: &str = "sumdb";
/// A database file (a lookup answer, a tile) larger than this is not one.
const MAX_DATABASE_FILE: u64 = 64 << 10;
/// All of an archive's database files together.
const MAX_DATABASE_FILES: u64 = 256 << 20;

#[derive(Debug, Serialize, Deserialize)]
struct Manifest {
    format: String,
    format_version: u32,
    /// When the archive was written, Unix milliseconds.
    exported_at: i64,
    versions: Vec<StoredVersion>,
}

/// Every ready version after `after` in feed order (all of them for `None`).
pub async fn stored_after(
    index: &dyn Index,
    after: Option<FeedCursor>,
) -> Result<Vec<StoredVersion>> {
    let mut records = Vec::new();
    let mut cursor = after;
    loop {
        let page = index.feed(cursor.as_ref(), PAGE).await?;
        let Some(last) = page.last() else {
            return Ok(records);
        };
        cursor = Some(last.cursor());
        records.extend(page);
    }
}

/// The stored record of `module@version`, if it is ready.
pub async fn stored(
    index: &dyn Index,
    module: &str,
    version: &str,
) -> Result<Option<StoredVersion>> {
    Ok(match index.version(module, version).await? {
        VersionStatus::Ready(record) => Some(record),
        _ => None,
    })
}

/// How export checks each version against the checksum database, and keeps the database's
/// files that prove it: `sums` reads the database through a [`crate::sumdb::verify::Source`]
/// that records into `recorded`.
pub struct Proofs<'a> {
    pub sums: &'a dyn SumCheck,
    pub recorded: Recorded,
    /// The database's name (the archive's `sumdb/NAME/` folder).
    pub database: &'a str,
}

/// What export found when it checked a version against the checksum database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exported {
    /// No database was asked (`GOSUMDB=off`, or no [`Proofs`]).
    Written,
    /// The database records the stored sums; its proof is in the archive.
    Proved,
    /// Private (`GONOSUMDB`, `GOPRIVATE`, a policy rule): written on its stored sums.
    Unchecked(String),
    /// The database records other sums, or could not be read: written, without a proof (an
    /// import then refuses it, or asks the database itself).
    NotProved(String),
}

/// Writes `records`' artifacts from `store`, with the manifest, to a new archive at `out`
/// (written beside it first, then renamed, so a partial archive never has its name). Each
/// zip is streamed through a scratch file, never held in memory. With `proofs`, each version
/// is first checked against the checksum database, and the database files that prove it are
/// written too. `progress` is called after each version.
pub async fn export(
    store: &dyn BlobStore,
    records: &[StoredVersion],
    out: &Path,
    proofs: Option<Proofs<'_>>,
    mut progress: impl FnMut(&StoredVersion, &Exported),
) -> Result<()> {
    let partial = partial_path(out);
    let file = File::create(&partial).map_err(|e| Error::storage(partial.display(), e))?;
    let written = write_archive(store, records, file, proofs, &mut progress).await;
    if let Err(error) = written {
        let _ = std::fs::remove_file(&partial);
        return Err(error);
    }
    std::fs::rename(&partial, out).map_err(|e| Error::storage(out.display(), e))
}

fn partial_path(out: &Path) -> PathBuf {
    let mut name = out.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    out.with_file_name(name)
}

async fn write_archive(
    store: &dyn BlobStore,
    records: &[StoredVersion],
    file: File,
    proofs: Option<Proofs<'_>>,
    progress: &mut impl FnMut(&StoredVersion, &Exported),
) -> Result<()> {
    let zip_error = |e: zip::result::ZipError| Error::storage("writing the archive", e);
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .large_file(true);
    let mut writer = zip::ZipWriter::new(io::BufWriter::new(file));
    let manifest = Manifest {
        format: FORMAT.to_string(),
        format_version: FORMAT_VERSION,
        exported_at: now_millis(),
        versions: records.to_vec(),
    };
    let manifest = serde_json::to_vec_pretty(&manifest)
        .map_err(|e| Error::storage("encoding the manifest", e))?;
    writer.start_file(MANIFEST, options).map_err(zip_error)?;
    writer
        .write_all(&manifest)
        .map_err(|e| Error::storage("writing the archive", e))?;
    let scratch = tempfile::tempdir().map_err(|e| Error::storage("temporary directory", e))?;
    for record in records {
        let (module, version) = (record.module.as_str(), record.version.as_str());
        let exported = match &proofs {
            None => Exported::Written,
            Some(proofs) => prove(proofs.sums, record).await?,
        };
        let key = artifact_key(module, version, ArtifactKind::Zip);
        // A local store's zip is copied into the archive from where it is; a remote one's is
        // first brought to a scratch file (the archive writer is synchronous).
        let path = match store.local_path(&key)? {
            Some(path) => path,
            None => {
                let path = scratch.path().join("export.zip");
                let mut blob = store.get(&key).await?;
                let mut scratch_file = tokio::fs::File::create(&path)
                    .await
                    .map_err(|e| Error::storage(path.display(), e))?;
                tokio::io::copy(&mut blob.body, &mut scratch_file)
                    .await
                    .map_err(|e| Error::storage(&key, e))?;
                tokio::io::AsyncWriteExt::flush(&mut scratch_file)
                    .await
                    .map_err(|e| Error::storage(path.display(), e))?;
                path
            }
        };
        writer.start_file(&key, options).map_err(zip_error)?;
        let mut copied = File::open(&path).map_err(|e| Error::storage(path.display(), e))?;
        io::copy(&mut copied, &mut writer).map_err(|e| Error::storage("writing the archive", e))?;
        for kind in [ArtifactKind::Mod, ArtifactKind::Info] {
            let key = artifact_key(module, version, kind);
            let contents = read_blob(store, &key).await?;
            writer.start_file(&key, options).map_err(zip_error)?;
            writer
                .write_all(&contents)
                .map_err(|e| Error::storage("writing the archive", e))?;
        }
        progress(record, &exported);
    }
    if let Some(proofs) = proofs {
        let recorded = std::mem::take(
            &mut *proofs
                .recorded
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        );
        for (path, body) in recorded {
            writer
                .start_file(
                    format!("{DATABASE_FILES}/{}/{path}", proofs.database),
                    options,
                )
                .map_err(zip_error)?;
            writer
                .write_all(&body)
                .map_err(|e| Error::storage("writing the archive", e))?;
        }
    }
    let mut inner = writer.finish().map_err(zip_error)?;
    inner
        .flush()
        .map_err(|e| Error::storage("writing the archive", e))?;
    inner
        .into_inner()
        .map_err(|e| Error::storage("writing the archive", e.into_error()))?
        .sync_all()
        .map_err(|e| Error::storage("writing the archive", e))
}

/// `record` against the checksum database. Only a failing store is an error: whatever the
/// database says, the version is written, and the outcome says how it stands.
async fn prove(sums: &dyn SumCheck, record: &StoredVersion) -> Result<Exported> {
    Ok(match sums.sums(&record.module, &record.version).await {
        Ok(Sums::Recorded { zip, go_mod })
            if zip == record.zip_hash && go_mod == record.mod_hash =>
        {
            Exported::Proved
        }
        Ok(Sums::Recorded { zip, go_mod }) => Exported::NotProved(format!(
            "checksum mismatch: the checksum database records {zip} {go_mod}, stored here with {} {}",
            record.zip_hash, record.mod_hash
        )),
        Ok(Sums::Unchecked(reason)) => Exported::Unchecked(reason),
        Err(error) if error.kind() == ErrorKind::Storage => return Err(error),
        Err(error) => Exported::NotProved(error.message().to_string()),
    })
}

/// The checksum database's files an archive holds for `database` (empty when it has none),
/// by path (`lookup/M@V`, `tile/…`). Bounded: each file, and all together.
pub fn database_records(archive: &Path, database: &str) -> Result<HashMap<String, Bytes>> {
    let file = File::open(archive).map_err(|e| Error::storage(archive.display(), e))?;
    let mut zip = zip::ZipArchive::new(io::BufReader::new(file))
        .map_err(|e| Error::invalid(format!("{} is not a zip: {e}", archive.display())))?;
    let prefix = format!("{DATABASE_FILES}/{database}/");
    let names: Vec<String> = zip
        .file_names()
        .filter_map(|name| name.ok())
        .filter(|name| name.starts_with(&prefix))
        .map(|name| name.into_owned())
        .collect();
    let mut records = HashMap::new();
    let mut total = 0u64;
    for name in names {
        let entry = zip
            .by_name(&name)
            .map_err(|e| Error::invalid(format!("{name} unreadable in the archive: {e}")))?;
        total += entry.size();
        if entry.size() > MAX_DATABASE_FILE || total > MAX_DATABASE_FILES {
            return Err(Error::invalid(format!(
                "{name}: larger than a checksum database's file can be"
            )));
        }
        let mut body = Vec::new();
        entry
            .take(MAX_DATABASE_FILE)
            .read_to_end(&mut body)
            .map_err(|e| Error::invalid(format!("{name} unreadable in the archive: {e}")))?;
        records.insert(name[prefix.len()..].to_string(), Bytes::from(body));
    }
    Ok(records)
}

/// What import did with one version of the archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Imported {
    /// Checked (its sums the checksum database's) and stored.
    Stored,
    /// Private, so not looked up in the checksum database (why): stored on the archive's
    /// sums, re-hashed.
    StoredUnchecked(String),
    /// Checked, and already stored here with identical contents.
    AlreadyPresent,
    /// Not stored: why (a hash that does not match its record, a missing artifact, or
    /// different contents already stored here).
    Refused(String),
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ImportSummary {
    /// Stored, verified or not (`unchecked` counts those that were not).
    pub stored: usize,
    pub unchecked: usize,
    pub already_present: usize,
    pub refused: usize,
}

/// Imports every version of the archive at `archive` into `store` and `index`, each checked
/// against what `sums` says the checksum database records, calling `report` for each. Fails
/// only when the archive cannot be read at all (not a Piraeus export) or the backends fail; a
/// version that does not check out is a `Refused` report.
pub async fn import(
    store: &dyn BlobStore,
    index: &dyn Index,
    archive: &Path,
    sums: &dyn SumCheck,
    mut report: impl FnMut(&StoredVersion, &Imported),
) -> Result<ImportSummary> {
    let file = File::open(archive).map_err(|e| Error::storage(archive.display(), e))?;
    let mut zip = zip::ZipArchive::new(io::BufReader::new(file)).map_err(|e| {
        Error::invalid(format!(
            "{} is not an archive written by `piraeus export`: {e}",
            archive.display()
        ))
    })?;
    let manifest: Manifest = {
        let entry = zip.by_name(MANIFEST).map_err(|_| {
            Error::invalid(format!(
                "{} has no {MANIFEST}: not an archive written by `piraeus export`",
                archive.display()
            ))
        })?;
        let mut text = Vec::new();
        entry
            .take(MAX_SMALL_ARTIFACT)
            .read_to_end(&mut text)
            .map_err(|e| Error::storage(archive.display(), e))?;
        serde_json::from_slice(&text)
            .map_err(|e| Error::invalid(format!("{MANIFEST} is malformed: {e}")))?
    };
    if manifest.format != FORMAT || manifest.format_version != FORMAT_VERSION {
        return Err(Error::invalid(format!(
            "{} is a {:?} archive, version {}; this piraeus reads {FORMAT:?} version {FORMAT_VERSION}",
            archive.display(),
            manifest.format,
            manifest.format_version
        )));
    }
    let scratch = tempfile::tempdir().map_err(|e| Error::storage("temporary directory", e))?;
    let mut summary = ImportSummary::default();
    for record in &manifest.versions {
        let imported = import_one(store, index, sums, &mut zip, scratch.path(), record).await;
        let outcome = match imported {
            Ok(outcome) => outcome,
            // Something about this version (not the backends) is wrong: refuse it, go on.
            Err(error)
                if matches!(
                    error.kind(),
                    ErrorKind::Conflict | ErrorKind::Invalid | ErrorKind::NotFound
                ) =>
            {
                Imported::Refused(error.message().to_string())
            }
            Err(error) => return Err(error),
        };
        match outcome {
            Imported::Stored => summary.stored += 1,
            Imported::StoredUnchecked(_) => {
                summary.stored += 1;
                summary.unchecked += 1;
            }
            Imported::AlreadyPresent => summary.already_present += 1,
            Imported::Refused(_) => summary.refused += 1,
        }
        report(record, &outcome);
    }
    Ok(summary)
}

async fn import_one(
    store: &dyn BlobStore,
    index: &dyn Index,
    sums: &dyn SumCheck,
    zip: &mut zip::ZipArchive<io::BufReader<File>>,
    scratch: &Path,
    record: &StoredVersion,
) -> Result<Imported> {
    let (module, version) = (record.module.as_str(), record.version.as_str());
    if let Err(error) = path::check_version_for_path(module, version) {
        return Ok(Imported::Refused(error.message().to_string()));
    }
    let zip_key = artifact_key(module, version, ArtifactKind::Zip);
    let mod_key = artifact_key(module, version, ArtifactKind::Mod);
    let info_key = artifact_key(module, version, ArtifactKind::Info);

    // Everything is checked before anything of the version is written.
    let zip_path = scratch.join("import.zip");
    {
        let mut entry = match zip.by_name(&zip_key) {
            Ok(entry) => entry,
            Err(_) => return Ok(Imported::Refused("zip missing from the archive".into())),
        };
        let mut file =
            File::create(&zip_path).map_err(|e| Error::storage(zip_path.display(), e))?;
        io::copy(&mut entry, &mut file)
            .map_err(|e| Error::conflict(format!("zip unreadable in the archive: {e}")))?;
        file.sync_all()
            .map_err(|e| Error::storage(zip_path.display(), e))?;
    }
    let zip_hash = match checksum::hash_zip_file_off_thread(zip_path.clone()).await {
        Ok(hash) => hash,
        Err(error) if error.kind() == ErrorKind::Conflict => {
            return Ok(Imported::Refused(format!(
                "zip unreadable: {}",
                error.message()
            )));
        }
        Err(error) => return Err(error),
    };
    if zip_hash != record.zip_hash {
        return Ok(Imported::Refused(format!(
            "zip hash {zip_hash} != recorded {}",
            record.zip_hash
        )));
    }
    let Some(go_mod) = read_small(zip, &mod_key)? else {
        return Ok(Imported::Refused("go.mod missing from the archive".into()));
    };
    let mod_hash = checksum::hash_go_mod(&go_mod);
    if mod_hash != record.mod_hash {
        return Ok(Imported::Refused(format!(
            "go.mod hash {mod_hash} != recorded {}",
            record.mod_hash
        )));
    }
    // The archive's sums are its own: they must be the checksum database's.
    let unchecked = match sums.sums(module, version).await {
        Ok(Sums::Recorded { zip, go_mod }) => {
            if zip != zip_hash || go_mod != mod_hash {
                tracing::error!(
                    alarm = "integrity",
                    module,
                    version,
                    "an archive's version is not what the checksum database records; not imported"
                );
                return Ok(Imported::Refused(format!(
                    "checksum mismatch: the checksum database records {zip} {go_mod}, the archive has {zip_hash} {mod_hash}"
                )));
            }
            None
        }
        Ok(Sums::Unchecked(reason)) => Some(reason),
        Err(error) if error.kind() == ErrorKind::Storage => return Err(error),
        Err(error) => {
            return Ok(Imported::Refused(format!(
                "not verified against the checksum database: {}",
                error.message()
            )));
        }
    };
    let Some(info) = read_small(zip, &info_key)? else {
        return Ok(Imported::Refused("info missing from the archive".into()));
    };
    match info_time(&info) {
        Ok(time) if time == record.time => {}
        Ok(time) => {
            return Ok(Imported::Refused(format!(
                "info time {time:?} != recorded {:?}",
                record.time
            )));
        }
        Err(_) => return Ok(Imported::Refused("info is not valid JSON".into())),
    }

    // Stored as ingest stores them, never overwriting: what is already stored here must be
    // identical, or the version is refused.
    let parts = Parts {
        zip: &zip_path,
        zip_hash: &zip_hash,
        go_mod: &go_mod,
        mod_hash: &mod_hash,
        info: &info,
        time: &record.time,
    };
    let stored_parts = store_parts(store, module, version, &parts).await;
    let _ = std::fs::remove_file(&zip_path);
    let stored_parts = match stored_parts? {
        Ok(stored_parts) => stored_parts,
        Err(differs) => {
            let part = if differs.key == mod_key {
                "go.mod"
            } else {
                "zip"
            };
            return Ok(Imported::Refused(format!(
                "a different {part} is already stored here ({}, archive has {})",
                differs.stored_hash, differs.new_hash
            )));
        }
    };
    let mut created = stored_parts.created;
    let stored = StoredVersion {
        module: module.to_string(),
        version: version.to_string(),
        time: record.time.clone(),
        zip_hash,
        mod_hash,
        zip_size: stored_parts.zip_size,
        mod_size: stored_parts.mod_size,
        info_size: stored_parts.info_size,
        origin: record.origin.clone(),
        // When it was stored here: what this index's feed (and `--since`) orders by.
        fetched_at: now_millis(),
    };
    if index.mark_ready(&stored).await? {
        created = true;
    } else if let VersionStatus::Ready(existing) = index.version(module, version).await?
        && (existing.zip_hash != stored.zip_hash || existing.mod_hash != stored.mod_hash)
    {
        return Ok(Imported::Refused(format!(
            "already recorded here with {} {}",
            existing.zip_hash, existing.mod_hash
        )));
    }
    Ok(match (created, unchecked) {
        (false, _) => Imported::AlreadyPresent,
        (true, None) => Imported::Stored,
        (true, Some(reason)) => Imported::StoredUnchecked(reason),
    })
}

/// A go.mod or info entry of the archive, whole; `None` when the archive has no such entry.
fn read_small(zip: &mut zip::ZipArchive<io::BufReader<File>>, name: &str) -> Result<Option<Bytes>> {
    let entry = match zip.by_name(name) {
        Ok(entry) => entry,
        Err(_) => return Ok(None),
    };
    if entry.size() > MAX_SMALL_ARTIFACT {
        return Err(Error::conflict(format!(
            "{name} is too large ({} bytes)",
            entry.size()
        )));
    }
    let mut contents = Vec::new();
    entry
        .take(MAX_SMALL_ARTIFACT)
        .read_to_end(&mut contents)
        .map_err(|e| Error::conflict(format!("{name} unreadable in the archive: {e}")))?;
    Ok(Some(contents.into()))
}
