//! Turns a raw request path into a validated GOPROXY request. Everything a handler receives
//! has passed Go's module path and version rules, so it is safe as a storage key and as a go
//! command argument.

use crate::error::{Error, ErrorKind, Result};
use crate::golang::path;
use crate::golang::version;
use crate::store::ArtifactKind;

/// Longest raw path accepted; real module paths are far shorter.
const MAX_PATH_BYTES: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `$module/@v/list`
    List { module: String },
    /// `$module/@latest`
    Latest { module: String },
    /// `$module/@v/$version.{info,mod,zip}` for a canonical version.
    Artifact {
        module: String,
        version: String,
        kind: ArtifactKind,
    },
    /// `$module/@v/$query.info` for anything else the go command may ask to resolve.
    Query { module: String, query: String },
}

impl Route {
    pub fn module(&self) -> &str {
        match self {
            Route::List { module }
            | Route::Latest { module }
            | Route::Artifact { module, .. }
            | Route::Query { module, .. } => module,
        }
    }

    /// The route's name in logs and metrics.
    pub fn name(&self) -> &'static str {
        match self {
            Route::List { .. } => "list",
            Route::Latest { .. } => "latest",
            Route::Artifact {
                kind: ArtifactKind::Info,
                ..
            } => "info",
            Route::Artifact {
                kind: ArtifactKind::Mod,
                ..
            } => "mod",
            Route::Artifact {
                kind: ArtifactKind::Zip,
                ..
            } => "zip",
            Route::Query { .. } => "query",
        }
    }
}

/// Parses a request path as sent (still percent-encoded).
pub fn parse(raw_path: &str) -> Result<Route> {
    if raw_path.len() > MAX_PATH_BYTES {
        return Err(Error::invalid(format!(
            "path is longer than {MAX_PATH_BYTES} bytes"
        )));
    }
    let path = path::percent_decode(raw_path)?;
    let path = path.strip_prefix('/').unwrap_or(&path);
    if let Some(escaped_module) = path.strip_suffix("/@latest") {
        return Ok(Route::Latest {
            module: decode_module(escaped_module)?,
        });
    }
    let Some((escaped_module, file)) = path.split_once("/@v/") else {
        return Err(Error::not_found(format!(
            "{path:?} is not a GOPROXY endpoint"
        )));
    };
    let module = decode_module(escaped_module)?;
    if file == "list" {
        return Ok(Route::List { module });
    }
    let Some((escaped_version, kind)) = file
        .rsplit_once('.')
        .and_then(|(version, extension)| Some((version, ArtifactKind::from_extension(extension)?)))
    else {
        return Err(Error::not_found(format!(
            "{file:?} is not a GOPROXY endpoint: expected list, .info, .mod or .zip"
        )));
    };
    let version = path::unescape(escaped_version)?;
    if version::is_canonical(&version) {
        match path::check_version_fits(&module, &version) {
            Ok(()) => {
                return Ok(Route::Artifact {
                    module,
                    version,
                    kind,
                });
            }
            // `go get M@v3.2.0` for a module without go.mod asks for v3.2.0.info as a query:
            // the go command resolves it to v3.2.0+incompatible, and so must we.
            Err(_) if kind == ArtifactKind::Info && may_be_incompatible(&module, &version) => {
                return Ok(Route::Query {
                    module,
                    query: version,
                });
            }
            Err(error) => return Err(error.into_kind(ErrorKind::Gone)),
        }
    }
    if kind != ArtifactKind::Info {
        return Err(Error::invalid(format!(
            "version {version:?} is not canonical: .{} is served only for canonical versions such as v1.2.3",
            kind.extension()
        )));
    }
    path::check_query(&version)?;
    Ok(Route::Query {
        module,
        query: version,
    })
}

/// Whether `version` (canonical, but of the wrong major version for `module`) names an
/// `+incompatible` version the go command would resolve it to.
fn may_be_incompatible(module: &str, version: &str) -> bool {
    !version.contains('+')
        && path::check_version_fits(module, &format!("{version}+incompatible")).is_ok()
}

fn decode_module(escaped: &str) -> Result<String> {
    let module = path::unescape(escaped)?;
    path::check_module_path(&module)?;
    Ok(module)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn artifact(module: &str, version: &str, kind: ArtifactKind) -> Route {
        Route::Artifact {
            module: module.into(),
            version: version.into(),
            kind,
        }
    }

    #[test]
    fn parses_every_endpoint() {
        assert_eq!(
            parse("/example.com/m/@v/list").unwrap(),
            Route::List {
                module: "example.com/m".into()
            }
        );
        assert_eq!(
            parse("/example.com/m/@latest").unwrap(),
            Route::Latest {
                module: "example.com/m".into()
            }
        );
        assert_eq!(
            parse("/example.com/m/@v/v1.2.3.info").unwrap(),
            artifact("example.com/m", "v1.2.3", ArtifactKind::Info)
        );
        assert_eq!(
            parse("/example.com/m/@v/v1.2.3.mod").unwrap(),
            artifact("example.com/m", "v1.2.3", ArtifactKind::Mod)
        );
        assert_eq!(
            parse("/example.com/m/@v/v1.2.3.zip").unwrap(),
            artifact("example.com/m", "v1.2.3", ArtifactKind::Zip)
        );
        assert_eq!(
            parse("/example.com/m/@v/master.info").unwrap(),
            Route::Query {
                module: "example.com/m".into(),
                query: "master".into()
            }
        );
        assert_eq!(
            parse("/example.com/m/@v/v1.2.info").unwrap(),
            Route::Query {
                module: "example.com/m".into(),
                query: "v1.2".into()
            }
        );
    }

    #[test]
    fn decodes_case_encoding_sent_literally_or_percent_escaped() {
        let expected = artifact("example.com/Upper/M", "v1.0.0-RC1", ArtifactKind::Zip);
        assert_eq!(
            parse("/example.com/!upper/!m/@v/v1.0.0-!r!c1.zip").unwrap(),
            expected
        );
        assert_eq!(
            parse("/example.com/%21upper/%21m/@v/v1.0.0-%21r%21c1.zip").unwrap(),
            expected
        );
    }

    #[test]
    fn major_versions_and_incompatible() {
        assert_eq!(
            parse("/example.com/m/v2/@v/v2.1.0.mod").unwrap(),
            artifact("example.com/m/v2", "v2.1.0", ArtifactKind::Mod)
        );
        assert_eq!(
            parse("/example.com/m/@v/v2.0.0+incompatible.zip").unwrap(),
            artifact("example.com/m", "v2.0.0+incompatible", ArtifactKind::Zip)
        );
        assert_eq!(
            parse("/example.com/m/@v/v2.0.0%2Bincompatible.zip").unwrap(),
            artifact("example.com/m", "v2.0.0+incompatible", ArtifactKind::Zip)
        );
        // A canonical version that cannot belong to the path is gone, like upstream says...
        assert!(
            matches!(parse("/example.com/m/@v/v2.0.0.zip"), Err(ref e) if e.kind() == ErrorKind::Gone)
        );
        // ...except as a query the go command resolves to the +incompatible version.
        assert_eq!(
            parse("/example.com/m/@v/v2.0.0.info").unwrap(),
            Route::Query {
                module: "example.com/m".into(),
                query: "v2.0.0".into()
            }
        );
        assert!(
            matches!(parse("/gopkg.in/yaml.v2/@v/v3.0.0.info"), Err(ref e) if e.kind() == ErrorKind::Gone),
            "gopkg.in paths have no +incompatible versions"
        );
        assert!(
            matches!(parse("/example.com/m/v2/@v/v1.0.0.info"), Err(ref e) if e.kind() == ErrorKind::Gone)
        );
    }

    #[test]
    fn rejects_hostile_paths() {
        let long = format!("/example.com/{}/@v/list", "a".repeat(20_000));
        let hostile = [
            "/example.com/../etc/@v/list",
            "/example.com/%2e%2e/x/@v/list",
            "/example.com/m/@v/..%2f..%2fetc%2fpasswd.info",
            "/example.com/m/@v/v1.0.0%00.info",
            "/example.com/m%00/@v/list",
            // Not escaped, so not copied by the decoder: still checked.
            "/example.com/m\x01/@v/list",
            "/example.com/m/@v/v1.0.0\x7f.info",
            "/-flag.com/m/@v/list",
            "/example.com/m/@v/-exec.info",
            "/example.com/m/@v/--upload-pack=x.info",
            "/example.com/m;rm -rf/@v/list",
            "/example.com/m/@v/$(id).info",
            "/example.com/m/@v/a`b`.info",
            "/example.com/%zz/@v/list",
            "/example.com/%2/@v/list",
            "/example.com/!!x/@v/list",
            "/example.com/Upper/@v/list",
            "/example.com/m/@v/master.zip",
            "/example.com/m/@v/%ff.info",
            long.as_str(),
        ];
        for path in hostile {
            let error = parse(path).expect_err(path);
            assert!(
                error.kind() == ErrorKind::Invalid,
                "{path:?} gave {error:?}"
            );
        }
    }

    #[test]
    fn unknown_endpoints_are_not_found() {
        for path in [
            "/",
            "/example.com/m",
            "/example.com/m/@v/",
            "/example.com/m/@v/v1.0.0.tar.gz",
        ] {
            assert!(
                matches!(parse(path), Err(ref e) if e.kind() == ErrorKind::NotFound),
                "{path:?}"
            );
        }
    }
}
