//! The go command's `h1:` hash (golang.org/x/mod/sumdb/dirhash Hash1): SHA-256 over the sorted
//! lines `"{sha256 hex}  {file name}\n"` of every file, base64-encoded. It is what go.sum records,
//! so computing it on every stored zip is how stored data is verified against any client.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use base64::Engine;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// [`hash_zip_file`] on the blocking thread pool, for async callers.
pub async fn hash_zip_file_off_thread(path: std::path::PathBuf) -> Result<String> {
    tokio::task::spawn_blocking(move || hash_zip_file(&path))
        .await
        .map_err(|e| Error::storage("hashing task failed", e))?
}

/// `h1:` of a module zip, read entry by entry from disk: the zip is never held in memory.
/// Blocking; async code calls [`hash_zip_file_off_thread`].
pub fn hash_zip_file(path: &Path) -> Result<String> {
    let file = File::open(path).map_err(|e| Error::storage(path.display(), e))?;
    let mut archive = zip::ZipArchive::new(io::BufReader::new(file))
        .map_err(|e| Error::conflict(format!("{} is not a valid zip: {e}", path.display())))?;
    let mut files = Vec::with_capacity(archive.len());
    let mut buffer = vec![0u8; 64 * 1024];
    for index in 0..archive.len() {
        let mut entry = archive
            .by_index(index)
            .map_err(|e| Error::conflict(format!("reading zip entry {index}: {e}")))?;
        let name = entry
            .name()
            .map_err(|e| Error::conflict(format!("zip entry {index} has an unreadable name: {e}")))?
            .into_owned();
        let mut hasher = Sha256::new();
        loop {
            let read = entry
                .read(&mut buffer)
                .map_err(|e| Error::conflict(format!("reading zip entry {name}: {e}")))?;
            if read == 0 {
                break;
            }
            hasher.update(&buffer[..read]);
        }
        files.push((name, hex::encode(hasher.finalize())));
    }
    hash_file_digests(files)
}

/// `h1:` of a go.mod file, as recorded by `/go.mod` lines in go.sum.
pub fn hash_go_mod(contents: &[u8]) -> String {
    let digest = hex::encode(Sha256::digest(contents));
    hash_file_digests(vec![("go.mod".to_string(), digest)]).expect("go.mod is a valid file name")
}

/// Hash1 over (file name, hex SHA-256 of contents) pairs.
fn hash_file_digests(mut files: Vec<(String, String)>) -> Result<String> {
    files.sort();
    let mut summary = Sha256::new();
    for (name, digest) in &files {
        // dirhash refuses newlines because they would make the summary ambiguous.
        if name.contains('\n') {
            return Err(Error::conflict(format!(
                "zip entry name {name:?} contains a newline"
            )));
        }
        summary.update(format!("{digest}  {name}\n").as_bytes());
    }
    let encoded = base64::engine::general_purpose::STANDARD.encode(summary.finalize());
    Ok(format!("h1:{encoded}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_mod_hash_matches_go_sum() {
        // From a direct `go mod download -json example.test/foo.git@v1.0.0` (GoModSum).
        assert_eq!(
            hash_go_mod(b"module example.test/foo.git\n"),
            "h1:xtcUhzeA9zzevJ1gaH3AVWu5PuuFmNbJBLjL7zK7bVQ="
        );
    }

    #[test]
    fn zip_hash_sorts_entries_and_covers_every_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.zip");
        let mut writer = zip::ZipWriter::new(File::create(&path).unwrap());
        let options = zip::write::SimpleFileOptions::default();
        for (name, body) in [
            ("m@v1.0.0/b.go", "package b\n"),
            ("m@v1.0.0/a.go", "package a\n"),
        ] {
            writer.start_file(name, options).unwrap();
            io::Write::write_all(&mut writer, body.as_bytes()).unwrap();
        }
        writer.finish().unwrap();

        let expected = hash_file_digests(vec![
            (
                "m@v1.0.0/a.go".into(),
                hex::encode(Sha256::digest(b"package a\n")),
            ),
            (
                "m@v1.0.0/b.go".into(),
                hex::encode(Sha256::digest(b"package b\n")),
            ),
        ])
        .unwrap();
        assert_eq!(hash_zip_file(&path).unwrap(), expected);
        assert!(expected.starts_with("h1:") && expected.len() == 3 + 44);
    }

    #[test]
    fn newline_in_a_name_is_refused() {
        assert!(hash_file_digests(vec![("a\nb".into(), "00".into())]).is_err());
    }
}
