//! The artifact layout, defined once: where each artifact of a module version is stored (its
//! GOPROXY path, so every store's contents are a valid GOPROXY tree) and the headers it is
//! served with, by Piraeus or straight from S3 behind CloudFront.

use crate::golang::path::escape;
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
    fn stores_keep_the_headers_artifacts_are_served_with() {
        for kind in [ArtifactKind::Info, ArtifactKind::Mod, ArtifactKind::Zip] {
            let headers = kind.headers();
            assert_eq!(headers.content_type, Some(kind.content_type()));
            assert_eq!(headers.cache_control, Some(IMMUTABLE));
        }
    }
}
