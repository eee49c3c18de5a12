//! The data directory as a blob store. Files sit exactly at their GOPROXY paths, so
//! `GOPROXY=file:///path/to/data` serves the same bytes without Piraeus running.

use std::io::{self, Read, Seek};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};

use async_trait::async_trait;
use tokio::io::{AsyncRead, ReadBuf};

use super::{Blob, BlobHeaders, BlobSource, BlobStore, PutOutcome, check_key};
use crate::cleanup;
use crate::error::{Error, Result};

/// Directory inside the data dir for Piraeus's own files. Module path elements may not start
/// with a dot, so no module can ever be stored under it.
pub const PRIVATE_DIR: &str = ".piraeus";

pub struct FilesystemStore {
    root: PathBuf,
    staging: PathBuf,
}

impl FilesystemStore {
    /// Opens (creating if needed) a store rooted at `root`.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        let staging = root.join(PRIVATE_DIR).join("staging");
        std::fs::create_dir_all(&staging).map_err(|e| Error::storage(staging.display(), e))?;
        cleanup::remove_stale(&staging, cleanup::STALE_AFTER);
        Ok(Self { root, staging })
    }

    fn path_for(&self, key: &str) -> Result<PathBuf> {
        check_key(key)?;
        Ok(self.root.join(key))
    }

    /// Opens a stored file on the calling thread, like its reads (see [`FileBody`]).
    fn open_file(&self, key: &str) -> Result<(std::fs::File, u64)> {
        let path = self.path_for(key)?;
        let file = match std::fs::File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(Error::not_found(format!("{key} is not stored")));
            }
            Err(e) => return Err(Error::storage(path.display(), e)),
        };
        let length = file
            .metadata()
            .map_err(|e| Error::storage(path.display(), e))?
            .len();
        Ok((file, length))
    }
}

/// A stored file read on the async runtime's own thread. Stored files never change and are
/// usually in the page cache, where a read costs microseconds: less than handing each read to
/// a blocking thread and back, which is what `tokio::fs` does and what kept hits far below a
/// static file server's speed. nginx reads its files the same way. Yields at most `remaining`
/// bytes, so a range ends where it should.
struct FileBody {
    file: std::fs::File,
    remaining: u64,
}

impl FileBody {
    fn blob(file: std::fs::File, length: u64) -> Blob {
        Blob {
            length,
            body: Box::pin(FileBody {
                file,
                remaining: length,
            }),
        }
    }
}

impl AsyncRead for FileBody {
    fn poll_read(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let wanted = usize::try_from(this.remaining)
            .unwrap_or(usize::MAX)
            .min(buf.remaining());
        if wanted == 0 {
            return Poll::Ready(Ok(()));
        }
        let read = this
            .file
            .read(&mut buf.initialize_unfilled_to(wanted)[..wanted])?;
        if read == 0 {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "a stored file is shorter than when it was opened",
            )));
        }
        buf.advance(read);
        this.remaining -= read as u64;
        Poll::Ready(Ok(()))
    }
}

#[async_trait]
impl BlobStore for FilesystemStore {
    fn local_path(&self, key: &str) -> Result<Option<PathBuf>> {
        self.path_for(key).map(Some)
    }

    async fn get(&self, key: &str) -> Result<Blob> {
        let (file, length) = self.open_file(key)?;
        Ok(FileBody::blob(file, length))
    }

    async fn get_range(&self, key: &str, range: Range<u64>) -> Result<Blob> {
        let (mut file, length) = self.open_file(key)?;
        if range.start > range.end || range.end > length {
            return Err(Error::invalid(format!(
                "{key}: bytes {}..{} are not within its {length} bytes",
                range.start, range.end
            )));
        }
        file.seek(io::SeekFrom::Start(range.start))
            .map_err(|e| Error::storage(key, e))?;
        Ok(FileBody::blob(file, range.end - range.start))
    }

    async fn head(&self, key: &str) -> Result<Option<u64>> {
        let path = self.path_for(key)?;
        match tokio::fs::metadata(&path).await {
            Ok(metadata) => Ok(Some(metadata.len())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::storage(path.display(), e)),
        }
    }

    /// Headers are not kept: files are served by Piraeus, which derives them from the route.
    async fn put_if_absent(
        &self,
        key: &str,
        source: BlobSource,
        _headers: BlobHeaders,
    ) -> Result<PutOutcome> {
        let path = self.path_for(key)?;
        let staging = self.staging.clone();
        tokio::task::spawn_blocking(move || write_new_file(&staging, &path, &source))
            .await
            .map_err(|e| Error::storage("store task failed", e))?
    }

    async fn check(&self) -> Result<()> {
        let probe = self.staging.clone();
        tokio::task::spawn_blocking(move || {
            tempfile::NamedTempFile::new_in(&probe)
                .map(drop)
                .map_err(|e| Error::storage(probe.display(), e))
        })
        .await
        .map_err(|e| Error::storage("store check failed", e))?
    }
}

/// Writes the whole blob to a staging file, flushes it, then links it into place. `link(2)`
/// fails when the target exists, unlike `rename(2)`, so a stored file is never replaced and
/// readers only ever see complete files.
fn write_new_file(staging: &Path, target: &Path, source: &BlobSource) -> Result<PutOutcome> {
    if target.exists() {
        return Ok(PutOutcome::AlreadyExists);
    }
    let parent = target
        .parent()
        .expect("keys are relative paths with a file name");
    std::fs::create_dir_all(parent).map_err(|e| Error::storage(parent.display(), e))?;
    let mut temporary = tempfile::NamedTempFile::new_in(staging)
        .map_err(|e| Error::storage(staging.display(), e))?;
    match source {
        BlobSource::Bytes(bytes) => io::Write::write_all(&mut temporary, bytes),
        BlobSource::File(from) => std::fs::File::open(from)
            .and_then(|mut file| io::copy(&mut file, &mut temporary).map(drop)),
    }
    .map_err(|e| Error::storage(target.display(), e))?;
    temporary
        .as_file()
        .sync_all()
        .map_err(|e| Error::storage(target.display(), e))?;
    match std::fs::hard_link(temporary.path(), target) {
        Ok(()) => {
            // The new directory entry must survive a crash too, not only the file's contents.
            std::fs::File::open(parent)
                .and_then(|directory| directory.sync_all())
                .map_err(|e| Error::storage(parent.display(), e))?;
            Ok(PutOutcome::Created)
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(PutOutcome::AlreadyExists),
        Err(e) => Err(Error::storage(target.display(), e)),
    }
    // The staging file is removed when `temporary` drops; the linked name keeps the data.
}
