//! Module paths and the proxy's storage layout: Go's module path rules
//! (golang.org/x/mod/module), the case-encoding of paths and versions, and the one place
//! that decides where an artifact lives.

use std::borrow::Cow;

use crate::error::{Error, Result};
use crate::golang::version;

/// Piraeus's own bound on a module path, in bytes (Go has none).
pub(crate) const MAX_PATH_LEN: usize = 1024;
/// Piraeus's own bound on one escaped path element, escaped version or escaped query, in
/// bytes, so every stored file name stays well under the usual 255-byte limit.
pub(crate) const MAX_ELEMENT_LEN: usize = 200;
/// Piraeus's own bound on a version query, in bytes.
pub(crate) const MAX_QUERY_LEN: usize = 200;

/// Element names Windows reserves, whatever the case and whatever follows a dot.
const WINDOWS_RESERVED: &[&str] = &[
    "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8",
    "COM9", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
];

/// `s` quoted for an error message, cut short if long so hostile input cannot bloat logs.
pub(crate) fn quoted(s: &str) -> String {
    const MAX: usize = 80;
    if s.len() <= MAX {
        return format!("{s:?}");
    }
    format!("{:?}...", cut(s, MAX))
}

/// At most `max` bytes of `s`, cut at a character boundary: what a message or log line keeps
/// of input that may be hostile.
pub(crate) fn cut(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

fn malformed(path: &str, why: impl std::fmt::Display) -> Error {
    Error::invalid(format!("malformed module path {}: {why}", quoted(path)))
}

/// Checks that `path` is a valid module path (module.CheckPath), within Piraeus's limits.
///
/// Go's rules: non-empty; no leading dash, `//` or trailing slash; every element non-empty,
/// not all dots, without a leading or trailing dot, made of `[A-Za-z0-9-._~]`, not a
/// Windows reserved name (compared on the part before the first dot) and not ending in a
/// tilde and digits (a Windows short name); the first element holds a dot and only
/// lower-case letters, digits, dots and dashes; a major version suffix must be well formed.
///
/// Piraeus's additions: at most [`MAX_PATH_LEN`] bytes in all, and at most
/// [`MAX_ELEMENT_LEN`] bytes per element once case-encoded.
pub fn check_module_path(path: &str) -> Result<()> {
    if path.len() > MAX_PATH_LEN {
        return Err(malformed(
            path,
            format_args!("longer than {MAX_PATH_LEN} bytes"),
        ));
    }
    if path.is_empty() {
        return Err(malformed(path, "empty string"));
    }
    if path.starts_with('-') {
        return Err(malformed(path, "leading dash"));
    }
    if path.contains("//") {
        return Err(malformed(path, "double slash"));
    }
    if path.ends_with('/') {
        return Err(malformed(path, "trailing slash"));
    }
    for elem in path.split('/') {
        check_element(elem).map_err(|why| malformed(path, why))?;
    }

    let first = path.split('/').next().unwrap_or_default();
    if !first.contains('.') {
        return Err(malformed(path, "missing dot in first path element"));
    }
    if let Some(bad) = first
        .chars()
        .find(|&c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.'))
    {
        return Err(malformed(
            path,
            format_args!("invalid char {bad:?} in first path element"),
        ));
    }
    if split_path_version(path).is_none() {
        return Err(malformed(path, "invalid version"));
    }

    if let Some(long) = path.split('/').find(|e| escaped_len(e) > MAX_ELEMENT_LEN) {
        return Err(malformed(
            path,
            format_args!(
                "path element {} longer than {MAX_ELEMENT_LEN} bytes when case-encoded",
                quoted(long)
            ),
        ));
    }
    Ok(())
}

/// One element of a module path (module.checkElem for module paths).
fn check_element(elem: &str) -> std::result::Result<(), String> {
    if elem.is_empty() {
        return Err("empty path element".into());
    }
    if elem.bytes().all(|b| b == b'.') {
        return Err(format!("invalid path element {}", quoted(elem)));
    }
    if elem.starts_with('.') {
        return Err("leading dot in path element".into());
    }
    if elem.ends_with('.') {
        return Err("trailing dot in path element".into());
    }
    if let Some(bad) = elem
        .chars()
        .find(|&c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~')))
    {
        return Err(format!("invalid char {bad:?}"));
    }

    let short = elem.split('.').next().unwrap_or_default();
    if WINDOWS_RESERVED
        .iter()
        .any(|name| name.eq_ignore_ascii_case(short))
    {
        return Err(format!(
            "{} disallowed as path element component on Windows",
            quoted(short)
        ));
    }
    if let Some(tilde) = short.rfind('~') {
        let digits = &short[tilde + 1..];
        if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err("trailing tilde and digits in path element".into());
        }
    }
    Ok(())
}

/// Splits a module path into its prefix and its major version suffix
/// (module.SplitPathVersion): `"example.com/x/v2"` gives `("example.com/x", "/v2")`,
/// `"example.com/x"` gives `("example.com/x", "")`, `"gopkg.in/yaml.v2"` gives
/// `("gopkg.in/yaml", ".v2")`. `None` when the suffix is malformed (`/v0`, `/v1`, `/v02`,
/// `/v2.0`; a gopkg.in path without `.vN`).
pub(crate) fn split_path_version(path: &str) -> Option<(&str, &str)> {
    if path.starts_with("gopkg.in/") {
        return split_gopkg_in(path);
    }
    let bytes = path.as_bytes();
    let digits_start = path.len()
        - bytes
            .iter()
            .rev()
            .take_while(|&&b| b.is_ascii_digit() || b == b'.')
            .count();
    let suffix = &path[digits_start..];
    // Anything but `.../vDIGITS` has no major version suffix.
    if digits_start < 2
        || suffix.is_empty()
        || bytes[digits_start - 1] != b'v'
        || bytes[digits_start - 2] != b'/'
    {
        return Some((path, ""));
    }
    let (prefix, major) = path.split_at(digits_start - 2);
    if suffix.contains('.') || suffix.starts_with('0') || suffix == "1" {
        return None;
    }
    Some((prefix, major))
}

/// gopkg.in paths must end in `.vN`, optionally followed by `-unstable`; N has no leading
/// zero unless the whole major is exactly `.v0`. Quirks of Go's version are kept: `.v0-unstable`
/// is rejected and `.v-unstable` accepted.
fn split_gopkg_in(path: &str) -> Option<(&str, &str)> {
    let bytes = path.as_bytes();
    let end = path.len()
        - if path.ends_with("-unstable") {
            "-unstable".len()
        } else {
            0
        };
    let digits_start = end
        - bytes[..end]
            .iter()
            .rev()
            .take_while(|b| b.is_ascii_digit())
            .count();
    if digits_start < 2 || bytes[digits_start - 1] != b'v' || bytes[digits_start - 2] != b'.' {
        return None;
    }
    let (prefix, major) = path.split_at(digits_start - 2);
    if major.len() <= 2 || (major.as_bytes()[2] == b'0' && major != ".v0") {
        return None;
    }
    Some((prefix, major))
}

/// Checks that `version` may be served for module `path` (the version half of
/// module.Check, with the go command's `+incompatible` rules).
///
/// The path is checked too. The version must be canonical; its major version must match the
/// path's suffix (`/vN` or gopkg.in's `.vN`), or be v0/v1 for a path without one.
/// `+incompatible` is accepted only for major v2 and above on a path without a suffix.
/// As in Go, a gopkg.in `.v1` path also accepts old `v0.0.0-` pseudo-versions.
pub fn check_version_for_path(path: &str, version: &str) -> Result<()> {
    check_module_path(path)?;
    check_version_fits(path, version)
}

/// [`check_version_for_path`] for a `path` that has already passed [`check_module_path`]:
/// the request router checks the module once, not twice, on every artifact request.
pub(crate) fn check_version_fits(path: &str, version: &str) -> Result<()> {
    let invalid = |why: String| {
        // A valid version is made of safe characters only; anything else is shown quoted.
        let shown = if version::is_valid(version) && version.len() <= 80 {
            version.to_owned()
        } else {
            quoted(version)
        };
        Error::invalid(format!("{path}@{shown}: invalid version: {why}"))
    };
    if !version::is_valid(version) {
        return Err(invalid("not a semantic version".into()));
    }
    if !version::is_canonical(version) {
        let canonical = version::canonical(version).unwrap_or_default();
        return Err(invalid(format!("not canonical (want {canonical})")));
    }
    if escaped_len(version) > MAX_ELEMENT_LEN {
        return Err(invalid(format!(
            "longer than {MAX_ELEMENT_LEN} bytes when case-encoded"
        )));
    }

    let (_, suffix) = split_path_version(path).ok_or_else(|| malformed(path, "invalid version"))?;
    let mut path_major = suffix;
    if path_major.starts_with(".v") {
        path_major = path_major.strip_suffix("-unstable").unwrap_or(path_major);
    }
    let major = version::major(version).unwrap_or_default();

    if version::is_incompatible(version) {
        if !path_major.is_empty() {
            return Err(invalid(format!(
                "+incompatible suffix not allowed: module path has major version suffix {suffix}"
            )));
        }
        if major == "v0" || major == "v1" {
            return Err(invalid(format!(
                "+incompatible suffix not allowed: major version {major} is compatible"
            )));
        }
        return Ok(());
    }
    if path_major == ".v1" && version.starts_with("v0.0.0-") {
        // Early vgo wrote v0 pseudo-versions for gopkg.in .v1 paths; Go still accepts them.
        return Ok(());
    }
    if path_major.is_empty() {
        if major == "v0" || major == "v1" {
            return Ok(());
        }
        return Err(invalid(format!("should be v0 or v1, not {major}")));
    }
    let want = &path_major[1..];
    if major == want {
        return Ok(());
    }
    Err(invalid(format!("should be {want}, not {major}")))
}

/// Checks a version query as it may appear in `$query.info`: a branch, a tag, a commit
/// prefix, `latest`, a version shorthand like `v1.2`. Stricter than Go, because the string
/// becomes a go command argument and a file name: 1 to [`MAX_QUERY_LEN`] bytes (and at most
/// [`MAX_ELEMENT_LEN`] once case-encoded) of `[A-Za-z0-9._+~-]`, not starting with `-` or `.`.
pub fn check_query(query: &str) -> Result<()> {
    let invalid =
        |why: String| Error::invalid(format!("invalid version query {}: {why}", quoted(query)));
    if query.is_empty() {
        return Err(invalid("empty string".into()));
    }
    if query.len() > MAX_QUERY_LEN {
        return Err(invalid(format!("longer than {MAX_QUERY_LEN} bytes")));
    }
    if let Some(bad) = query
        .chars()
        .find(|&c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '+' | '~' | '-')))
    {
        return Err(invalid(format!("invalid char {bad:?}")));
    }
    if query.starts_with('-') {
        return Err(invalid("leading dash".into()));
    }
    if query.starts_with('.') {
        return Err(invalid("leading dot".into()));
    }
    if escaped_len(query) > MAX_ELEMENT_LEN {
        return Err(invalid(format!(
            "longer than {MAX_ELEMENT_LEN} bytes when case-encoded"
        )));
    }
    Ok(())
}

fn escaped_len(s: &str) -> usize {
    s.len() + s.bytes().filter(u8::is_ascii_uppercase).count()
}

/// Case-encodes a module path or version (module.EscapePath / EscapeVersion): every
/// upper-case ASCII letter becomes `!` and its lower-case form. Everything else is kept, so
/// callers pass only strings they have already validated.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(escaped_len(s));
    for c in s.chars() {
        if c.is_ascii_uppercase() {
            out.push('!');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// Decodes a case-encoded module path or version (module.UnescapePath / UnescapeVersion,
/// without the validity check of the result, which is the caller's): `!x` becomes `X`.
/// A bare upper-case letter, a `!` not followed by a lower-case letter, and any non-ASCII
/// character are rejected.
pub(crate) fn unescape(s: &str) -> Result<String> {
    let invalid =
        |why: &str| Error::invalid(format!("invalid escaped string {}: {why}", quoted(s)));
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '!' => match chars.next() {
                Some(next) if next.is_ascii_lowercase() => out.push(next.to_ascii_uppercase()),
                Some(_) => return Err(invalid("'!' not followed by a lower-case letter")),
                None => return Err(invalid("trailing '!'")),
            },
            c if c.is_ascii_uppercase() => {
                return Err(invalid("upper-case letter not escaped with '!'"));
            }
            c if !c.is_ascii() => return Err(invalid("non-ASCII character")),
            c => out.push(c),
        }
    }
    Ok(out)
}

/// Strict percent-decoding: every `%` must start a two-digit hex escape, the result must be
/// UTF-8, and control characters (NUL among them) are refused. A path without escapes, as
/// nearly every request's is, is borrowed rather than copied.
pub(crate) fn percent_decode(raw: &str) -> Result<Cow<'_, str>> {
    let decoded = if raw.contains('%') {
        let bytes = raw.as_bytes();
        let mut decoded = Vec::with_capacity(bytes.len());
        let mut position = 0;
        while position < bytes.len() {
            if bytes[position] == b'%' {
                let hex = bytes
                    .get(position + 1..position + 3)
                    .and_then(|pair| std::str::from_utf8(pair).ok());
                let Some(byte) = hex.and_then(|pair| u8::from_str_radix(pair, 16).ok()) else {
                    return Err(Error::invalid("malformed percent-escape in path"));
                };
                decoded.push(byte);
                position += 3;
            } else {
                decoded.push(bytes[position]);
                position += 1;
            }
        }
        Cow::Owned(
            String::from_utf8(decoded).map_err(|_| Error::invalid("path is not valid UTF-8"))?,
        )
    } else {
        Cow::Borrowed(raw)
    };
    if decoded.chars().any(char::is_control) {
        return Err(Error::invalid("path contains control characters"));
    }
    Ok(decoded)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn unescaped_paths_are_borrowed() {
        assert!(matches!(
            percent_decode("/example.com/m/@v/list"),
            Ok(Cow::Borrowed(_))
        ));
        assert_eq!(percent_decode("/a%2Fb").unwrap(), "/a/b");
    }

    /// module_test.go's checkPathTests, with the CheckPath column. The `"x.y/\xFFz"` row
    /// (invalid UTF-8) cannot be written as a `&str`, which rules it out by construction.
    const CHECK_PATH_TESTS: &[(&str, bool)] = &[
        ("x.y/z", true),
        ("x.y", true),
        ("", false),
        ("/x.y/z", false),
        ("x./z", false),
        (".x/z", false),
        ("-x/z", false),
        ("x..y/z", true),
        ("x.y/z/../../w", false),
        ("x.y//z", false),
        ("x.y/z//w", false),
        ("x.y/z/", false),
        ("x.y/z/v0", false),
        ("x.y/z/v1", false),
        ("x.y/z/v2", true),
        ("x.y/z/v2.0", false),
        ("X.y/z", false),
        ("!x.y/z", false),
        ("_x.y/z", false),
        ("x.y!/z", false),
        ("x.y\"/z", false),
        ("x.y#/z", false),
        ("x.y$/z", false),
        ("x.y%/z", false),
        ("x.y&/z", false),
        ("x.y'/z", false),
        ("x.y(/z", false),
        ("x.y)/z", false),
        ("x.y*/z", false),
        ("x.y+/z", false),
        ("x.y,/z", false),
        ("x.y-/z", true),
        ("x.y./zt", false),
        ("x.y:/z", false),
        ("x.y;/z", false),
        ("x.y</z", false),
        ("x.y=/z", false),
        ("x.y>/z", false),
        ("x.y?/z", false),
        ("x.y@/z", false),
        ("x.y[/z", false),
        ("x.y\\/z", false),
        ("x.y]/z", false),
        ("x.y^/z", false),
        ("x.y_/z", false),
        ("x.y`/z", false),
        ("x.y{/z", false),
        ("x.y}/z", false),
        ("x.y~/z", false),
        ("x.y/z!", false),
        ("x.y/z\"", false),
        ("x.y/z#", false),
        ("x.y/z$", false),
        ("x.y/z%", false),
        ("x.y/z&", false),
        ("x.y/z'", false),
        ("x.y/z(", false),
        ("x.y/z)", false),
        ("x.y/z*", false),
        ("x.y/z++", false),
        ("x.y/z,", false),
        ("x.y/z-", true),
        ("x.y/z.t", true),
        ("x.y/z/t", true),
        ("x.y/z:", false),
        ("x.y/z;", false),
        ("x.y/z<", false),
        ("x.y/z=", false),
        ("x.y/z>", false),
        ("x.y/z?", false),
        ("x.y/z@", false),
        ("x.y/z[", false),
        ("x.y/z\\", false),
        ("x.y/z]", false),
        ("x.y/z^", false),
        ("x.y/z_", true),
        ("x.y/z`", false),
        ("x.y/z{", false),
        ("x.y/z}", false),
        ("x.y/z~", true),
        ("x.y/x.foo", true),
        ("x.y/aux.foo", false),
        ("x.y/prn", false),
        ("x.y/prn2", true),
        ("x.y/com", true),
        ("x.y/com1", false),
        ("x.y/com1.txt", false),
        ("x.y/calm1", true),
        ("x.y/z~", true),
        ("x.y/z~0", false),
        ("x.y/z~09", false),
        ("x.y/z09", true),
        ("x.y/z09~", true),
        ("x.y/z09~09z", true),
        ("x.y/z09~09z~09", false),
        ("github.com/!123/logrus", false),
        ("github.com/user/unicode/испытание", false),
        ("../x", false),
        ("./y", false),
        ("x:y", false),
        ("\\temp\\foo", false),
        (".gitignore", false),
        (".github/ISSUE_TEMPLATE", false),
        ("x☺y", false),
    ];

    #[test]
    fn cut_keeps_whole_characters() {
        assert_eq!(cut("abc", 10), "abc");
        assert_eq!(cut("abcdef", 3), "abc");
        // `é` is two bytes: a cut in its middle keeps the byte before it.
        assert_eq!(cut("aé", 2), "a");
        assert!(quoted(&"é".repeat(100)).ends_with("..."));
    }

    #[test]
    fn check_path_table() {
        for &(path, ok) in CHECK_PATH_TESTS {
            let result = check_module_path(path);
            assert_eq!(
                result.is_ok(),
                ok,
                "check_module_path({path:?}) = {result:?}"
            );
            if let Err(err) = result {
                assert!(err.kind() == ErrorKind::Invalid, "{err:?}");
            }
        }
    }

    #[test]
    fn check_path_extra() {
        for path in [
            "golang.org/x/mod",
            "github.com/Azure/azure-sdk-for-go",
            "gopkg.in/yaml.v2",
            "gopkg.in/yaml.v0",
            "gopkg.in/check.v1-unstable",
            "example.com/x/v10",
            "example.com/v",
            "example.com/Con2",
            "example.com/x~",
            "example.com/x~a1",
            "a.b-c.d/e_f.g~h/I-J",
            // Only a dash at the very start of the path is rejected.
            "example.com/-x",
        ] {
            check_module_path(path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
        }
        for path in [
            "gopkg.in/yaml",
            "gopkg.in/yaml.v",
            "gopkg.in/yaml.v01",
            "gopkg.in/yaml.v2.1",
            "example.com/x/v01",
            "example.com/x/v1.5",
            "example.com/CON",
            "example.com/con.txt",
            "example.com/Lpt9.x",
            "example.com/nul",
            "example.com/aux/x",
            "example.com/x~1.y",
            "exa_mple.com/x",
            "-example.com",
            "com",
            "example.com\t/x",
        ] {
            assert!(check_module_path(path).is_err(), "{path:?}");
        }
    }

    fn invalid_message(result: Result<()>) -> String {
        let error = result.expect_err("expected Invalid");
        assert_eq!(error.kind(), ErrorKind::Invalid, "{error}");
        error.message().to_string()
    }

    #[test]
    fn error_messages_read_like_go() {
        let msg = invalid_message(check_module_path("x"));
        assert_eq!(
            msg,
            r#"malformed module path "x": missing dot in first path element"#
        );
        let msg = invalid_message(check_module_path("x.y/com1"));
        assert_eq!(
            msg,
            r#"malformed module path "x.y/com1": "com1" disallowed as path element component on Windows"#
        );
        let msg = invalid_message(check_module_path("X.y/z"));
        assert_eq!(
            msg,
            r#"malformed module path "X.y/z": invalid char 'X' in first path element"#
        );
        let msg = invalid_message(check_version_for_path("example.com/x", "v2.0.0"));
        assert_eq!(
            msg,
            "example.com/x@v2.0.0: invalid version: should be v0 or v1, not v2"
        );
        let msg = invalid_message(check_version_for_path("example.com/x", "v1 ;x"));
        assert_eq!(
            msg,
            r#"example.com/x@"v1 ;x": invalid version: not a semantic version"#
        );
    }

    #[test]
    fn hostile_paths_are_rejected() {
        let long = format!("example.com/{}", "a".repeat(20 * 1024));
        let many = format!("example.com{}", "/abc".repeat(300));
        for path in [
            "..",
            ".",
            "a/../b",
            "example.com/a/../b",
            "example.com/./b",
            "example.com/..",
            "-x.com/y",
            "example.com/a\0b",
            "example.com\0",
            "example.com/a;b",
            "example.com/$(id)",
            "example.com/$HOME",
            "example.com/a b",
            " example.com/a",
            "example.com/`id`",
            "example.com/a\nb",
            "example.com/a\\b",
            "example.com/a%2fb",
            "example.com/a@v1",
            "/etc/passwd",
            "example.com/x/",
            "example.com//x",
            "example.com/a|b",
            "example.com/a&b",
            "example.com/a'b",
            "example.com/a\"b",
            "example.com/a*",
            "example.com/a?",
            "example.com/é",
            "example.com/\u{202e}x",
            long.as_str(),
            many.as_str(),
        ] {
            let result = check_module_path(path);
            assert!(
                matches!(result, Err(ref e) if e.kind() == ErrorKind::Invalid),
                "{path:?}: {result:?}"
            );
            if let Err(err) = result {
                assert!(err.to_string().len() < 400, "message too long: {err}");
            }
        }
    }

    #[test]
    fn piraeus_length_limits() {
        let at_limit = format!("example.com/{}", "a".repeat(MAX_ELEMENT_LEN));
        assert!(check_module_path(&at_limit).is_ok());
        let over = format!("example.com/{}", "a".repeat(MAX_ELEMENT_LEN + 1));
        assert!(check_module_path(&over).is_err());
        // Upper-case letters count double once escaped.
        let upper_ok = format!("example.com/{}", "A".repeat(MAX_ELEMENT_LEN / 2));
        assert!(check_module_path(&upper_ok).is_ok());
        let upper_over = format!("example.com/{}", "A".repeat(MAX_ELEMENT_LEN / 2 + 1));
        assert!(check_module_path(&upper_over).is_err());

        let mut path = String::from("example.com");
        while path.len() + 4 <= MAX_PATH_LEN {
            path.push_str("/abc");
        }
        assert!(path.len() <= MAX_PATH_LEN);
        assert!(check_module_path(&path).is_ok());
        path.push_str("/abcd");
        assert!(path.len() > MAX_PATH_LEN);
        assert!(check_module_path(&path).is_err());
    }

    const SPLIT_PATH_VERSION_TESTS: &[(&str, &str)] = &[
        ("x.y/z", ""),
        ("x.y/z", "/v2"),
        ("x.y/z", "/v3"),
        ("x.y/v", ""),
        ("gopkg.in/yaml", ".v0"),
        ("gopkg.in/yaml", ".v1"),
        ("gopkg.in/yaml", ".v2"),
        ("gopkg.in/yaml", ".v3"),
    ];

    #[test]
    fn split_path_version_table() {
        for &(prefix, major) in SPLIT_PATH_VERSION_TESTS {
            let path = format!("{prefix}{major}");
            assert_eq!(split_path_version(&path), Some((prefix, major)), "{path:?}");
        }
        for &(path, _) in CHECK_PATH_TESTS {
            if let Some((prefix, major)) = split_path_version(path) {
                assert_eq!(format!("{prefix}{major}"), path);
            }
        }
        assert_eq!(
            split_path_version("example.com/x/v2"),
            Some(("example.com/x", "/v2"))
        );
        assert_eq!(
            split_path_version("example.com/x"),
            Some(("example.com/x", ""))
        );
        assert_eq!(
            split_path_version("gopkg.in/yaml.v2"),
            Some(("gopkg.in/yaml", ".v2"))
        );
        assert_eq!(
            split_path_version("gopkg.in/yaml.v2-unstable"),
            Some(("gopkg.in/yaml", ".v2-unstable"))
        );
        assert_eq!(
            split_path_version("gopkg.in/yaml.v-unstable"),
            Some(("gopkg.in/yaml", ".v-unstable"))
        );
        assert_eq!(
            split_path_version("example.com/x/v12"),
            Some(("example.com/x", "/v12"))
        );
        assert_eq!(split_path_version("v2"), Some(("v2", "")));
        assert_eq!(split_path_version("/v2"), Some(("", "/v2")));
        assert_eq!(
            split_path_version("example.com/xv2"),
            Some(("example.com/xv2", ""))
        );
        assert_eq!(
            split_path_version("example.com/x/2"),
            Some(("example.com/x/2", ""))
        );
        for bad in [
            "example.com/x/v1",
            "example.com/x/v0",
            "example.com/x/v02",
            "example.com/x/v2.0",
            "example.com/x/v.2",
            "gopkg.in/yaml",
            "gopkg.in/yaml.v",
            "gopkg.in/yaml.v00",
            "gopkg.in/yaml.v02",
            "gopkg.in/yaml/v2",
            "gopkg.in/-unstable",
            "gopkg.in/",
            "gopkg.in/yaml.v0-unstable",
        ] {
            assert_eq!(split_path_version(bad), None, "{bad:?}");
        }
    }

    /// module_test.go's checkTests: (path, version, ok).
    const CHECK_TESTS: &[(&str, &str, bool)] = &[
        ("rsc.io/quote", "0.1.0", false),
        ("rsc io/quote", "v1.0.0", false),
        ("github.com/go-yaml/yaml", "v0.8.0", true),
        ("github.com/go-yaml/yaml", "v1.0.0", true),
        ("github.com/go-yaml/yaml", "v2.0.0", false),
        ("github.com/go-yaml/yaml", "v2.1.5", false),
        ("github.com/go-yaml/yaml", "v3.0.0", false),
        ("github.com/go-yaml/yaml/v2", "v1.0.0", false),
        ("github.com/go-yaml/yaml/v2", "v2.0.0", true),
        ("github.com/go-yaml/yaml/v2", "v2.1.5", true),
        ("github.com/go-yaml/yaml/v2", "v3.0.0", false),
        ("gopkg.in/yaml.v0", "v0.8.0", true),
        ("gopkg.in/yaml.v0", "v1.0.0", false),
        ("gopkg.in/yaml.v0", "v2.0.0", false),
        ("gopkg.in/yaml.v0", "v2.1.5", false),
        ("gopkg.in/yaml.v0", "v3.0.0", false),
        ("gopkg.in/yaml.v1", "v0.8.0", false),
        ("gopkg.in/yaml.v1", "v1.0.0", true),
        ("gopkg.in/yaml.v1", "v2.0.0", false),
        ("gopkg.in/yaml.v1", "v2.1.5", false),
        ("gopkg.in/yaml.v1", "v3.0.0", false),
        ("gopkg.in/check.v1", "v0.0.0", false),
        (
            "gopkg.in/check.v1",
            "v0.0.0-20160102150405-abcdef123456",
            true,
        ),
        ("gopkg.in/yaml.v2", "v1.0.0", false),
        ("gopkg.in/yaml.v2", "v2.0.0", true),
        ("gopkg.in/yaml.v2", "v2.1.5", true),
        ("gopkg.in/yaml.v2", "v3.0.0", false),
        ("rsc.io/quote", "v17.0.0", false),
        ("rsc.io/quote", "v17.0.0+incompatible", true),
    ];

    #[test]
    fn check_table() {
        for &(path, version, ok) in CHECK_TESTS {
            let result = check_version_for_path(path, version);
            assert_eq!(result.is_ok(), ok, "({path:?}, {version:?}) = {result:?}");
        }
    }

    /// module_test.go's TestMatchPathMajor, each path major turned into a path with it.
    #[test]
    fn match_path_major_table() {
        for (version, path, ok) in [
            ("v0.0.0", "x.y/z", true),
            ("v0.0.0", "x.y/z/v2", false),
            ("v0.0.0", "gopkg.in/z.v0", true),
            ("v0.0.0-20190510104115-cbcb75029529", "gopkg.in/z.v1", true),
            ("v1.0.0", "x.y/z/v2", false),
            ("v1.0.0", "gopkg.in/z.v1", true),
            ("v1.0.0", "gopkg.in/z.v1-unstable", true),
            ("v2.0.0+incompatible", "x.y/z", true),
            ("v2.0.0", "x.y/z", false),
            ("v2.0.0", "x.y/z/v2", true),
            ("v2.0.0", "gopkg.in/z.v2", true),
        ] {
            let result = check_version_for_path(path, version);
            assert_eq!(result.is_ok(), ok, "({path:?}, {version:?}) = {result:?}");
        }
    }

    #[test]
    fn check_version_piraeus_rules() {
        for (path, version, ok) in [
            // Only canonical versions.
            ("x.y/z", "v1.2", false),
            ("x.y/z", "v1", false),
            ("x.y/z", "v1.0.0+build", false),
            ("x.y/z", "v1.0.0-rc.1", true),
            ("x.y/z", "v0.0.0-20191109021931-daa7c04131f5", true),
            ("x.y/z", "v1.0.0-RC1", true),
            // +incompatible only for v2+ on a path without a suffix.
            ("x.y/z", "v2.0.0+incompatible", true),
            ("x.y/z", "v3.1.0-pre+incompatible", true),
            ("x.y/z", "v1.0.0+incompatible", false),
            ("x.y/z", "v0.1.0+incompatible", false),
            ("x.y/z/v2", "v2.0.0+incompatible", false),
            ("gopkg.in/z.v2", "v2.0.0+incompatible", false),
            (
                "gopkg.in/z.v1",
                "v0.0.0-20190510104115-cbcb75029529+incompatible",
                false,
            ),
            // Major versions must match exactly.
            ("x.y/z/v10", "v10.0.0", true),
            ("x.y/z/v10", "v1.0.0", false),
            ("x.y/z/v2", "v20.0.0", false),
            ("gopkg.in/z.v1-unstable", "v2.0.0", false),
            // The path itself is checked.
            ("x.y/z/v1", "v1.0.0", false),
            ("x", "v1.0.0", false),
            // Not versions at all.
            ("x.y/z", "", false),
            ("x.y/z", "latest", false),
            ("x.y/z", "master", false),
            ("x.y/z", "v1.0.0/../../x", false),
            ("x.y/z", "v1.0.0\0", false),
        ] {
            let result = check_version_for_path(path, version);
            assert_eq!(result.is_ok(), ok, "({path:?}, {version:?}) = {result:?}");
            if let Err(err) = result {
                assert!(err.kind() == ErrorKind::Invalid, "{err:?}");
            }
        }
        let long = format!("v1.0.0-{}", "a".repeat(MAX_ELEMENT_LEN));
        assert!(version::is_canonical(&long));
        assert!(check_version_for_path("x.y/z", &long).is_err());
    }

    #[test]
    fn check_query_rules() {
        for query in [
            "latest",
            "v1.2",
            "v1",
            "master",
            "main",
            "release-1.0",
            "feature_x",
            "abc123def",
            "v1.2.3+incompatible",
            "v1.0.0-RC1",
            "a~b",
            "HEAD",
        ] {
            check_query(query).unwrap_or_else(|e| panic!("{query:?}: {e}"));
        }
        check_query(&"a".repeat(MAX_QUERY_LEN)).unwrap();
        let long = "a".repeat(20 * 1024);
        for query in [
            "",
            "-x",
            "--upload-pack=evil",
            ".",
            "..",
            ".hidden",
            "a/b",
            "feature/x",
            "../x",
            "a b",
            "a\0b",
            "a;b",
            "$HOME",
            "$(id)",
            "`id`",
            "a|b",
            "a&b",
            "a'b",
            "a\"b",
            "a\\b",
            "a\nb",
            "a:b",
            "a@b",
            "a!b",
            "é",
            &"a".repeat(MAX_QUERY_LEN + 1),
            &"A".repeat(MAX_ELEMENT_LEN / 2 + 1),
            &long,
        ] {
            let result = check_query(query);
            assert!(
                matches!(result, Err(ref e) if e.kind() == ErrorKind::Invalid),
                "{query:?}: {result:?}"
            );
            if let Err(err) = result {
                assert!(err.to_string().len() < 400, "message too long: {err}");
            }
        }
    }

    /// module_test.go's escapeTests: (path, escaped form; empty means unchanged).
    const ESCAPE_TESTS: &[(&str, &str)] = &[
        ("ascii.com/abcdefghijklmnopqrstuvwxyz.-/~_0123456789", ""),
        (
            "github.com/GoogleCloudPlatform/omega",
            "github.com/!google!cloud!platform/omega",
        ),
    ];

    #[test]
    fn escape_table() {
        for &(path, esc) in ESCAPE_TESTS {
            let want = if esc.is_empty() { path } else { esc };
            check_module_path(path).unwrap();
            assert_eq!(escape(path), want);
            assert_eq!(unescape(want).unwrap(), path);
        }
        assert_eq!(
            escape("github.com/Azure/azure-sdk-for-go"),
            "github.com/!azure/azure-sdk-for-go"
        );
        assert_eq!(
            escape("github.com/Sirupsen/logrus"),
            "github.com/!sirupsen/logrus"
        );
        assert_eq!(escape("v1.0.0-RC1"), "v1.0.0-!r!c1");
        assert_eq!(unescape("v1.0.0-!r!c1").unwrap(), "v1.0.0-RC1");
        assert_eq!(unescape("").unwrap(), "");
    }

    #[test]
    fn unescape_rejects_bad_encodings() {
        // module_test.go's badUnescape, through unescape and then the path check.
        for bad in [
            "github.com/GoogleCloudPlatform/omega",
            "github.com/!google!cloud!platform!/omega",
            "github.com/!0google!cloud!platform/omega",
            "github.com/!_google!cloud!platform/omega",
            "github.com/!!google!cloud!platform/omega",
            "",
        ] {
            let result = unescape(bad).and_then(|p| check_module_path(&p));
            assert!(
                matches!(result, Err(ref e) if e.kind() == ErrorKind::Invalid),
                "{bad:?}: {result:?}"
            );
        }
        // Invalid paths stay invalid once decoded.
        for &(path, ok) in CHECK_PATH_TESTS {
            if !ok {
                let result = unescape(path).and_then(|p| check_module_path(&p));
                assert!(result.is_err(), "{path:?} decoded to a valid path");
            }
        }
        for bad in ["A", "x!", "!", "!A", "!1", "!!", "!é", "é", "x/!", "!-x"] {
            assert!(
                matches!(unescape(bad), Err(ref e) if e.kind() == ErrorKind::Invalid),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn escape_round_trips() {
        for s in [
            "github.com/BurntSushi/toml",
            "example.com/ABC/dEf/v2",
            "v1.0.0-Beta.1+incompatible",
            "plain",
        ] {
            let escaped = escape(s);
            assert!(!escaped.bytes().any(|b| b.is_ascii_uppercase()));
            assert_eq!(unescape(&escaped).unwrap(), s);
        }
    }
}
