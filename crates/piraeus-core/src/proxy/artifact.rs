//! The artifact layout, defined once: where each artifact of a module version is stored (its
//! GOPROXY path, so every store's contents are a valid GOPROXY tree) and the headers it is
//! served with, by Piraeus or straight from S3 behind CloudFront.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::HeaderValue;

use crate::golang::path::escape;
use crate::index::StoredVersion;
use crate::store::BlobHeaders;

/// The artifacts stored for each module version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum ArtifactKind {
    /// `$version.info`, the JSON version metadata.
    Info,
    /// `$version.mod`, the go.mod file.
    Mod,
    /// `$version.zip`, the module source archive.
    Zip,
}

/// Canonical artifacts never change: whoever serves them (Piraeus, S3 behind CloudFront) may
/// let clients and caches keep them for a year.
pub(crate) const IMMUTABLE: &str = "public, max-age=31536000, immutable";

impl ArtifactKind {
    /// The Content-Type the artifact is served with, by Piraeus or straight from S3.
    pub fn content_type(self) -> &'static str {
        match self {
            ArtifactKind::Info => "application/json",
            ArtifactKind::Mod => "text/plain; charset=utf-8",
            ArtifactKind::Zip => "application/zip",
        }
    }

    /// What a store keeps with the artifact for whoever serves it without Piraeus.
    pub fn headers(self) -> BlobHeaders {
        BlobHeaders {
            content_type: Some(self.content_type()),
            cache_control: Some(IMMUTABLE),
        }
    }

    /// The file extension, without a dot.
    pub fn extension(self) -> &'static str {
        match self {
            ArtifactKind::Info => "info",
            ArtifactKind::Mod => "mod",
            ArtifactKind::Zip => "zip",
        }
    }

    /// The kind for a file extension given without a dot; `None` for any other string.
    pub(crate) fn from_extension(ext: &str) -> Option<Self> {
        match ext {
            "info" => Some(ArtifactKind::Info),
            "mod" => Some(ArtifactKind::Mod),
            "zip" => Some(ArtifactKind::Zip),
            _ => None,
        }
    }
}

/// Where an artifact is stored: `{escape(module)}/@v/{escape(version)}.{ext}`, which is also
/// its path in the GOPROXY protocol. The one definition of the layout.
pub(crate) fn artifact_key(module: &str, version: &str, kind: ArtifactKind) -> String {
    format!(
        "{}/@v/{}.{}",
        escape(module),
        escape(version),
        kind.extension()
    )
}

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
    fn artifact_kinds() {
        for kind in [ArtifactKind::Info, ArtifactKind::Mod, ArtifactKind::Zip] {
            assert_eq!(ArtifactKind::from_extension(kind.extension()), Some(kind));
        }
        assert_eq!(ArtifactKind::Info.extension(), "info");
        assert_eq!(ArtifactKind::Mod.extension(), "mod");
        assert_eq!(ArtifactKind::Zip.extension(), "zip");
        for ext in ["", "ZIP", ".zip", "list", "info ", "txt"] {
            assert_eq!(ArtifactKind::from_extension(ext), None, "{ext:?}");
        }
    }

    #[test]
    fn key_layout() {
        assert_eq!(
            artifact_key("github.com/BurntSushi/toml", "v1.2.0", ArtifactKind::Info),
            "github.com/!burnt!sushi/toml/@v/v1.2.0.info"
        );
        assert_eq!(
            artifact_key("golang.org/x/mod", "v0.1.0-RC1", ArtifactKind::Mod),
            "golang.org/x/mod/@v/v0.1.0-!r!c1.mod"
        );
        assert_eq!(
            artifact_key("rsc.io/quote/v3", "v3.1.0", ArtifactKind::Zip),
            "rsc.io/quote/v3/@v/v3.1.0.zip"
        );
    }

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

    #[test]
    fn stores_keep_the_headers_artifacts_are_served_with() {
        for kind in [ArtifactKind::Info, ArtifactKind::Mod, ArtifactKind::Zip] {
            let headers = kind.headers();
            assert_eq!(headers.content_type, Some(kind.content_type()));
            assert_eq!(headers.cache_control, Some(IMMUTABLE));
        }
    }
}
