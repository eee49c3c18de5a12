//! The rules a module zip must follow, as golang.org/x/mod/zip's `CheckZip` applies them: every
//! file under `module@version/`, clean and valid file paths, no two names that differ only in
//! letter case, go.mod only at the root, and go's size limits. A zip from an upstream proxy is
//! checked before it is hashed or stored: the go command would refuse it, so must we.

use std::collections::HashMap;
use std::fs::File;
use std::io::BufReader;
use std::path::Path;

/// Go's limits (golang.org/x/mod/zip): the zip file, and its uncompressed contents, 500 MiB.
pub(crate) const MAX_ZIP: u64 = 500 << 20;
/// A go.mod (in a zip, or served as `.mod`) and a LICENSE: 16 MiB each.
pub(crate) const MAX_GO_MOD: u64 = 16 << 20;
const MAX_LICENSE: u64 = 16 << 20;

/// Windows' reserved names, which x/mod refuses as any path element's name before its first dot.
const BAD_WINDOWS_NAMES: &[&str] = &[
    "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8",
    "COM9", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
];

/// Checks the zip at `path` as the zip of `module@version`; the reason, naming the entry, when
/// it breaks a rule. Reads the central directory only. Blocking.
pub(crate) fn check_zip(path: &Path, module: &str, version: &str) -> Result<(), String> {
    let file = File::open(path).map_err(|e| format!("cannot open the zip: {e}"))?;
    let size = file
        .metadata()
        .map_err(|e| format!("cannot read the zip: {e}"))?
        .len();
    if size > MAX_ZIP {
        return Err(format!(
            "module zip file is too large ({size} bytes; limit is {MAX_ZIP} bytes)"
        ));
    }
    let mut archive =
        zip::ZipArchive::new(BufReader::new(file)).map_err(|e| format!("not a valid zip: {e}"))?;
    // The zip crate keys entries by name, so a repeated name would be invisible to the loop
    // below (go's reader sees both): count the central directory's records ourselves.
    let records = central_directory_records(path, archive.central_directory_start())
        .map_err(|e| format!("cannot read the zip's central directory: {e}"))?;
    if records != archive.len() {
        return Err(format!(
            "multiple entries for the same file: {records} records, {} distinct names",
            archive.len()
        ));
    }
    let prefix = format!("{module}@{version}/");
    let mut seen: HashMap<String, (String, bool)> = HashMap::new();
    let mut total: u64 = 0;
    for index in 0..archive.len() {
        let entry = archive
            .by_index_raw(index)
            .map_err(|e| format!("zip entry {index} is unreadable: {e}"))?;
        let full = std::str::from_utf8(entry.name_raw())
            .map_err(|_| format!("zip entry {index} has a name that is not UTF-8"))?;
        let bad = |reason: String| format!("{full:?}: {reason}");
        let Some(name) = full.strip_prefix(&prefix) else {
            return Err(bad(format!("path does not have prefix {prefix:?}")));
        };
        if name.is_empty() {
            continue;
        }
        let (name, is_dir) = match name.strip_suffix('/') {
            Some(dir) => (dir, true),
            None => (name, false),
        };
        if !is_clean(name) {
            return Err(bad("file path is not clean".into()));
        }
        check_file_path(name).map_err(|reason| bad(format!("malformed file path: {reason}")))?;
        check_collision(&mut seen, name, is_dir).map_err(bad)?;
        if is_dir {
            continue;
        }
        let base = name.rsplit('/').next().unwrap_or(name);
        if base.eq_ignore_ascii_case("go.mod") {
            if base != name {
                return Err(bad("go.mod file not in module root directory".into()));
            }
            if name != "go.mod" {
                return Err(bad("go.mod files must have lowercase names".into()));
            }
        }
        let size = entry.size();
        total = total.saturating_add(size);
        if total > MAX_ZIP {
            return Err(format!(
                "total uncompressed size of module contents too large (max size is {MAX_ZIP} bytes)"
            ));
        }
        if name == "go.mod" && size > MAX_GO_MOD {
            return Err(bad(format!(
                "go.mod file too large (max size is {MAX_GO_MOD} bytes)"
            )));
        }
        if name == "LICENSE" && size > MAX_LICENSE {
            return Err(bad(format!(
                "LICENSE file too large (max size is {MAX_LICENSE} bytes)"
            )));
        }
    }
    Ok(())
}

/// The number of file headers in the central directory that starts at `start`.
fn central_directory_records(path: &Path, start: u64) -> std::io::Result<usize> {
    use std::io::{Read, Seek, SeekFrom};
    const SIGNATURE: u32 = 0x0201_4b50;
    let mut reader = BufReader::new(File::open(path)?);
    reader.seek(SeekFrom::Start(start))?;
    let mut records = 0;
    let mut header = [0u8; 46];
    loop {
        match reader.read_exact(&mut header) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(records),
            Err(e) => return Err(e),
        }
        if u32::from_le_bytes([header[0], header[1], header[2], header[3]]) != SIGNATURE {
            return Ok(records);
        }
        let field = |at: usize| u16::from_le_bytes([header[at], header[at + 1]]) as i64;
        // The name, extra field and comment follow the fixed part.
        reader.seek_relative(field(28) + field(30) + field(32))?;
        records += 1;
    }
}

/// As Go's `path.Clean(name) == name` for a relative path: no empty, `.` or `..` elements.
fn is_clean(name: &str) -> bool {
    !name.starts_with('/')
        && name
            .split('/')
            .all(|e| !e.is_empty() && e != "." && e != "..")
}

/// x/mod's `CheckFilePath`.
fn check_file_path(name: &str) -> Result<(), String> {
    if name.contains("//") {
        return Err("double slash".into());
    }
    name.split('/').try_for_each(check_file_element)
}

fn check_file_element(element: &str) -> Result<(), String> {
    if element.is_empty() {
        return Err("empty path element".into());
    }
    if element.bytes().all(|b| b == b'.') {
        return Err(format!("invalid path element {element:?}"));
    }
    if element.ends_with('.') {
        return Err("trailing dot in path element".into());
    }
    if let Some(bad) = element.chars().find(|&c| !file_name_ok(c)) {
        return Err(format!("invalid char {bad:?}"));
    }
    let short = element.split('.').next().unwrap_or(element);
    if BAD_WINDOWS_NAMES
        .iter()
        .any(|bad| bad.eq_ignore_ascii_case(short))
    {
        return Err(format!(
            "{short:?} disallowed as path element component on Windows"
        ));
    }
    Ok(())
}

/// x/mod's `fileNameOK`: letters and digits, a few punctuation marks and the space, any
/// non-ASCII letter.
fn file_name_ok(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_alphanumeric() || "!#$%&()+,-.=@[]^_{}~ ".contains(c)
    } else {
        c.is_alphabetic()
    }
}

/// Names that differ only in case collide (on macOS and Windows they are one file); so do a
/// file and a directory of one name, and a file given twice. Parents count as directories.
fn check_collision(
    seen: &mut HashMap<String, (String, bool)>,
    name: &str,
    is_dir: bool,
) -> Result<(), String> {
    let folded = fold(name);
    match seen.get(&folded) {
        Some((other, _)) if other != name => {
            return Err(format!(
                "case-insensitive file name collision: {other:?} and {name:?}"
            ));
        }
        Some((_, other_is_dir)) if *other_is_dir != is_dir => {
            return Err(format!("entry {name:?} is both a file and a directory"));
        }
        Some((_, false)) => return Err(format!("multiple entries for file {name:?}")),
        Some((_, true)) => {}
        None => {
            seen.insert(folded, (name.to_string(), is_dir));
        }
    }
    match name.rsplit_once('/') {
        Some((parent, _)) => check_collision(seen, parent, true),
        None => Ok(()),
    }
}

/// Case folding close to Go's `unicode.SimpleFold` minimum: upper case, then lower, so that
/// `ſ` and `s`, `K` (Kelvin) and `k` fold alike.
fn fold(name: &str) -> String {
    name.chars()
        .flat_map(char::to_uppercase)
        .flat_map(char::to_lowercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    /// A zip with these entries (name, contents) in a temporary file. The zip crate refuses to
    /// write a name twice, so a repeated name is written under a stand-in of the same length
    /// and patched into the bytes afterwards.
    fn zip_of(entries: &[(&str, &[u8])]) -> tempfile::NamedTempFile {
        let mut bytes = Vec::new();
        let mut patches = Vec::new();
        {
            let mut writer = zip::ZipWriter::new(std::io::Cursor::new(&mut bytes));
            let mut seen = std::collections::HashSet::new();
            for (name, contents) in entries {
                let written = if seen.insert(*name) {
                    name.to_string()
                } else {
                    let stand_in = format!("{}#", &name[..name.len() - 1]);
                    patches.push((stand_in.clone(), name.to_string()));
                    stand_in
                };
                writer
                    .start_file(written, zip::write::SimpleFileOptions::default())
                    .unwrap();
                writer.write_all(contents).unwrap();
            }
            writer.finish().unwrap();
        }
        for (stand_in, name) in patches {
            while let Some(at) = bytes
                .windows(stand_in.len())
                .position(|window| window == stand_in.as_bytes())
            {
                bytes[at..at + name.len()].copy_from_slice(name.as_bytes());
            }
        }
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(&bytes).unwrap();
        file
    }

    fn check(entries: &[(&str, &[u8])]) -> Result<(), String> {
        let zip = zip_of(entries);
        check_zip(zip.path(), "example.com/m", "v1.0.0")
    }

    #[test]
    fn a_module_zip_passes() {
        assert_eq!(
            check(&[
                ("example.com/m@v1.0.0/go.mod", b"module example.com/m\n"),
                ("example.com/m@v1.0.0/m.go", b"package m\n"),
                ("example.com/m@v1.0.0/sub/dir/file name ü.txt", b"x"),
                ("example.com/m@v1.0.0/LICENSE", b"x"),
            ]),
            Ok(())
        );
    }

    /// A zip's files, and what the refusal of it says.
    type Case<'a> = (&'a [(&'a str, &'a [u8])], &'a str);

    #[test]
    fn zips_that_go_refuses_are_refused() {
        let cases: &[Case] = &[
            (&[("other.com/m@v1.0.0/m.go", b"")], "does not have prefix"),
            (
                &[("example.com/m@v1.0.0/../../etc/passwd", b"")],
                "not clean",
            ),
            (&[("example.com/m@v1.0.0/a//b.go", b"")], "not clean"),
            (&[("example.com/m@v1.0.0/a/./b.go", b"")], "not clean"),
            (&[("example.com/m@v1.0.0/a*.go", b"")], "invalid char"),
            (&[("example.com/m@v1.0.0/aux.go", b"")], "Windows"),
            (&[("example.com/m@v1.0.0/trailing.", b"")], "trailing dot"),
            (
                &[
                    ("example.com/m@v1.0.0/A.go", b""),
                    ("example.com/m@v1.0.0/a.go", b""),
                ],
                "case-insensitive",
            ),
            (
                &[
                    ("example.com/m@v1.0.0/Dir/a.go", b""),
                    ("example.com/m@v1.0.0/dir/b.go", b""),
                ],
                "case-insensitive",
            ),
            (
                &[
                    ("example.com/m@v1.0.0/a.go", b""),
                    ("example.com/m@v1.0.0/a.go", b""),
                ],
                "multiple entries",
            ),
            (
                &[
                    ("example.com/m@v1.0.0/a", b""),
                    ("example.com/m@v1.0.0/a/b.go", b""),
                ],
                "both a file and a directory",
            ),
            (
                &[("example.com/m@v1.0.0/sub/go.mod", b"")],
                "not in module root",
            ),
            (&[("example.com/m@v1.0.0/GO.MOD", b"")], "lowercase"),
        ];
        for (entries, reason) in cases {
            let error = check(entries).expect_err(reason);
            assert!(error.contains(reason), "{entries:?}: {error}");
        }
    }

    #[test]
    fn a_file_that_is_not_a_zip_is_refused() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(b"<html>not found</html>").unwrap();
        let error = check_zip(file.path(), "example.com/m", "v1.0.0").unwrap_err();
        assert!(error.contains("not a valid zip"), "{error}");
    }
}
