//! `piraeus verify` and the scheduled verify on AWS: re-hashes stored versions and compares
//! them with the `h1:` sums the index recorded when they were stored (the same sums clients
//! have in go.sum). Versions come from the index's feed, in ingest order, a page at a time;
//! several are checked at once, and reported in feed order.

use std::time::Instant;

use futures_util::StreamExt;

use crate::error::{ErrorKind, Result};
use crate::fetch::ingest::hash_stored_zip;
use crate::golang::checksum;
use crate::index::{FeedCursor, Index, StoredVersion};
use crate::store::{ArtifactKind, BlobStore, artifact_key, read_blob};

/// What verification found for one version: `None` when everything matches.
pub type Finding = Option<String>;

/// Feed entries read per index query.
const PAGE: usize = 500;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    pub checked: usize,
    pub problems: usize,
    /// The last version checked: every version up to it in feed order was checked. Where a
    /// later run resumes.
    pub last: Option<FeedCursor>,
    /// `false` when the deadline stopped the run before the end of the feed.
    pub complete: bool,
}

/// Which versions to check, and how.
#[derive(Debug, Clone)]
pub struct Options {
    /// Start strictly after this feed position (`None`: from the beginning).
    pub after: Option<FeedCursor>,
    /// How many versions are read and hashed at once (at least 1).
    pub concurrency: usize,
    /// Stop starting new checks at this moment; the summary then says where it stopped.
    pub deadline: Option<Instant>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            after: None,
            concurrency: 1,
            deadline: None,
        }
    }
}

/// The feed position just before everything stored at or after `millis` (Unix ms): module
/// paths are never empty, so (`millis`, "", "") sorts before every entry of that millisecond.
pub fn stored_since(millis: i64) -> FeedCursor {
    FeedCursor {
        fetched_at: millis,
        module: String::new(),
        version: String::new(),
    }
}

/// Checks every ready version in ingest order, calling `report` for each.
pub async fn verify_all(
    store: &dyn BlobStore,
    index: &dyn Index,
    report: impl FnMut(&StoredVersion, &Finding),
) -> Result<Summary> {
    verify_feed(store, index, &Options::default(), report).await
}

/// Checks the ready versions after `options.after`, `options.concurrency` at a time, calling
/// `report` for each in feed order. A storage failure (not a missing or altered artifact,
/// which is a finding) stops the run with the error.
pub async fn verify_feed(
    store: &dyn BlobStore,
    index: &dyn Index,
    options: &Options,
    mut report: impl FnMut(&StoredVersion, &Finding),
) -> Result<Summary> {
    let mut summary = Summary {
        last: options.after.clone(),
        ..Summary::default()
    };
    let out_of_time = || {
        options
            .deadline
            .is_some_and(|deadline| Instant::now() >= deadline)
    };
    loop {
        if out_of_time() {
            return Ok(summary);
        }
        let page = index.feed(summary.last.as_ref(), PAGE).await?;
        if page.is_empty() {
            summary.complete = true;
            return Ok(summary);
        }
        let mut checks = futures_util::stream::iter(&page)
            .map(|record| async move { (record, verify_one(store, record).await) })
            .buffered(options.concurrency.max(1));
        while let Some((record, finding)) = checks.next().await {
            let finding = finding?;
            summary.checked += 1;
            summary.problems += usize::from(finding.is_some());
            summary.last = Some(record.cursor());
            report(record, &finding);
            if out_of_time() {
                return Ok(summary);
            }
        }
    }
}

/// Re-hashes one version's zip and go.mod and checks its info is present.
pub(crate) async fn verify_one(store: &dyn BlobStore, record: &StoredVersion) -> Result<Finding> {
    let mut problems = Vec::new();
    let (module, version) = (record.module.as_str(), record.version.as_str());

    match hash_stored_zip(store, &artifact_key(module, version, ArtifactKind::Zip)).await {
        Ok((hash, _)) if hash == record.zip_hash => {}
        Ok((hash, _)) => problems.push(format!("zip hash {hash} != recorded {}", record.zip_hash)),
        Err(e) if e.kind() == ErrorKind::NotFound => problems.push("zip missing".to_string()),
        Err(error) if error.kind() == ErrorKind::Conflict => {
            problems.push(format!("zip unreadable: {}", error.message()))
        }
        Err(error) => return Err(error),
    }
    match read_blob(store, &artifact_key(module, version, ArtifactKind::Mod)).await {
        Ok(contents) if checksum::hash_go_mod(&contents) == record.mod_hash => {}
        Ok(contents) => problems.push(format!(
            "go.mod hash {} != recorded {}",
            checksum::hash_go_mod(&contents),
            record.mod_hash
        )),
        Err(e) if e.kind() == ErrorKind::NotFound => problems.push("go.mod missing".to_string()),
        Err(error) => return Err(error),
    }
    if store
        .head(&artifact_key(module, version, ArtifactKind::Info))
        .await?
        .is_none()
    {
        problems.push("info missing".to_string());
    }
    Ok((!problems.is_empty()).then(|| problems.join("; ")))
}
