//! go.sum lines: `module version h1:hash` for a module's zip and `module version/go.mod h1:hash`
//! for its go.mod.

use base64::Engine;

use crate::golang::path::check_version_for_path;

/// One go.sum line, borrowed from the text it was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SumLine<'a> {
    pub module: &'a str,
    pub version: &'a str,
    /// A `/go.mod` line: the hash is of the go.mod file, not of the zip.
    pub go_mod: bool,
    pub hash: &'a str,
}

/// Parses one line; `None` for a blank line, the reason for anything else that is not a
/// valid go.sum line.
pub fn parse_line(line: &str) -> Result<Option<SumLine<'_>>, String> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    if fields.is_empty() {
        return Ok(None);
    }
    let [module, version, hash] = fields[..] else {
        return Err("a go.sum line has three fields: module version hash".into());
    };
    let (version, go_mod) = match version.strip_suffix("/go.mod") {
        Some(version) => (version, true),
        None => (version, false),
    };
    check_version_for_path(module, version).map_err(|error| error.to_string())?;
    if !is_h1_hash(hash) {
        return Err(format!("{hash:?} is not an h1: hash"));
    }
    Ok(Some(SumLine {
        module,
        version,
        go_mod,
        hash,
    }))
}

/// `h1:` followed by the base64 of a SHA-256 digest.
fn is_h1_hash(hash: &str) -> bool {
    hash.strip_prefix("h1:").is_some_and(|encoded| {
        base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .is_ok_and(|digest| digest.len() == 32)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str = "h1:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";

    #[test]
    fn reads_zip_and_go_mod_lines() {
        let line = format!("example.com/m v1.2.3 {HASH}");
        assert_eq!(
            parse_line(&line),
            Ok(Some(SumLine {
                module: "example.com/m",
                version: "v1.2.3",
                go_mod: false,
                hash: HASH
            }))
        );
        let line = format!("example.com/m v1.2.3/go.mod {HASH}");
        assert!(parse_line(&line).unwrap().unwrap().go_mod);
        assert_eq!(parse_line("   "), Ok(None));
    }

    #[test]
    fn refuses_what_go_would_not_write() {
        assert!(parse_line("example.com/m v1.2.3").is_err());
        assert!(parse_line(&format!("example.com/m v2.0.0 {HASH}")).is_err());
        assert!(parse_line("example.com/m v1.2.3 h1:short").is_err());
        assert!(parse_line("example.com/m v1.2.3 sha256:abc").is_err());
    }
}
