//! `piraeus verify`: re-hashes every stored version and compares it with the `h1:` sums the
//! index recorded when it was stored (the same sums clients have in go.sum).

use crate::error::{ErrorKind, Result};
use crate::fetch::ingest::{hash_stored_zip, read_blob};
use crate::golang::checksum;
use crate::index::{FeedCursor, Index, StoredVersion};
use crate::proxy::artifact::{ArtifactKind, artifact_key};
use crate::store::BlobStore;

/// What verification found for one version: `None` when everything matches.
pub(crate) type Finding = Option<String>;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    pub checked: usize,
    pub problems: usize,
}

/// Checks every ready version in ingest order, calling `report` for each.
pub async fn verify_all(
    store: &dyn BlobStore,
    index: &dyn Index,
    mut report: impl FnMut(&StoredVersion, &Finding),
) -> Result<Summary> {
    let mut summary = Summary::default();
    let mut cursor: Option<FeedCursor> = None;
    loop {
        let page = index.feed(cursor.as_ref(), 500).await?;
        let Some(last) = page.last() else {
            return Ok(summary);
        };
        cursor = Some(last.cursor());
        for record in &page {
            let finding = verify_one(store, record).await?;
            summary.checked += 1;
            summary.problems += usize::from(finding.is_some());
            report(record, &finding);
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
