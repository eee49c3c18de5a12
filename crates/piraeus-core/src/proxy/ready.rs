//! A ready version as its answers need it: the index record, and the validators each of its
//! artifacts is served with, formatted once.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::HeaderValue;

use crate::index::StoredVersion;
use crate::store::ArtifactKind;

/// An artifact's validators (RFC 9110 §8.8), as sent and as compared. An artifact never
/// changes, so they are fixed at ingest: the `h1:` sum as the entity tag and the time it was
/// stored as `Last-Modified`.
#[derive(Clone)]
pub(crate) struct Validators {
    /// The quoted entity tag, e.g. `"h1:…"`.
    pub etag: HeaderValue,
    pub last_modified: HeaderValue,
    /// `Last-Modified` in whole seconds, which is all an HTTP date carries.
    pub modified: SystemTime,
}

impl Validators {
    /// The zip and go.mod are tagged by their own `h1:` sums. An entity tag only has to differ
    /// between different bytes at one URL, and a version's `.info` never changes, so it takes
    /// the zip's sum with a prefix of its own.
    pub fn of(record: &StoredVersion, kind: ArtifactKind) -> Self {
        let tag = match kind {
            ArtifactKind::Zip => format!("\"{}\"", record.zip_hash),
            ArtifactKind::Mod => format!("\"{}\"", record.mod_hash),
            ArtifactKind::Info => format!("\"info-{}\"", record.zip_hash),
        };
        let seconds = u64::try_from(record.fetched_at / 1000).unwrap_or(0);
        let modified = UNIX_EPOCH + Duration::from_secs(seconds);
        Self {
            // Sums are base64 and `h1:`: always a valid header value; a damaged record
            // gets a tag that matches nothing rather than a failed response.
            etag: HeaderValue::try_from(tag).unwrap_or(HeaderValue::from_static("\"-\"")),
            last_modified: HeaderValue::try_from(httpdate::fmt_http_date(modified))
                .expect("an HTTP date is a valid header value"),
            modified,
        }
    }
}

/// A ready version as its answers need it: the index record, and each artifact's validators
/// formatted once rather than on every hit (they were a tenth of a hit's own work).
pub(crate) struct ReadyVersion {
    pub record: StoredVersion,
    /// By [`ArtifactKind`]: info, mod, zip.
    validators: [Validators; 3],
}

impl ReadyVersion {
    pub fn new(record: StoredVersion) -> Self {
        let validators = [ArtifactKind::Info, ArtifactKind::Mod, ArtifactKind::Zip]
            .map(|kind| Validators::of(&record, kind));
        Self { record, validators }
    }

    /// The validators of one of its artifacts; a clone shares their bytes.
    pub fn validators(&self, kind: ArtifactKind) -> Validators {
        self.validators[kind as usize].clone()
    }

    /// Heap bytes beyond the struct itself, for the hit cache's bound.
    pub fn held_bytes(&self) -> usize {
        let record = &self.record;
        let strings = record.module.len()
            + record.version.len()
            + record.time.len()
            + record.zip_hash.len()
            + record.mod_hash.len()
            + record.origin.len();
        let validators: usize = self
            .validators
            .iter()
            .map(|v| v.etag.len() + v.last_modified.len())
            .sum();
        strings + validators
    }
}

/// The artifact's size as recorded when it was stored.
pub(crate) fn artifact_size(record: &StoredVersion, kind: ArtifactKind) -> u64 {
    match kind {
        ArtifactKind::Info => record.info_size,
        ArtifactKind::Mod => record.mod_size,
        ArtifactKind::Zip => record.zip_size,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ready_version_keeps_each_artifacts_validators() {
        let record = StoredVersion {
            module: "example.com/m".into(),
            version: "v1.0.0".into(),
            time: "2024-03-01T12:00:00Z".into(),
            zip_hash: "h1:zip=".into(),
            mod_hash: "h1:mod=".into(),
            zip_size: 1,
            mod_size: 2,
            info_size: 3,
            origin: "direct".into(),
            fetched_at: 1_709_294_400_000,
        };
        let ready = ReadyVersion::new(record.clone());
        for kind in [ArtifactKind::Info, ArtifactKind::Mod, ArtifactKind::Zip] {
            let (kept, fresh) = (ready.validators(kind), Validators::of(&record, kind));
            assert_eq!(kept.etag, fresh.etag, "{kind:?}");
            assert_eq!(kept.last_modified, fresh.last_modified);
            assert_eq!(kept.modified, fresh.modified);
        }
    }
}
