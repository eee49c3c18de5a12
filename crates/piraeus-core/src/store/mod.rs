//! Immutable blob storage: the [`BlobStore`] trait and the data directory as a store. Keys are
//! chosen by the caller (the artifact layout, [`artifact_key`], is defined here beside the
//! trait, for every store and every writer); a store never interprets them.

#[cfg(feature = "conformance")]
pub mod conformance;
mod filesystem;
mod layout;

use std::ops::Range;
use std::path::PathBuf;
use std::pin::Pin;

use async_trait::async_trait;
use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt};

use crate::error::{Error, Result};

pub use filesystem::{FilesystemStore, PRIVATE_DIR};
pub(crate) use layout::{ArtifactKind, IMMUTABLE, artifact_key};

/// A stored artifact opened for reading: the length of what the body yields (the whole blob,
/// or the range asked for) and a stream of its bytes.
pub struct Blob {
    pub length: u64,
    pub body: Pin<Box<dyn AsyncRead + Send>>,
}

/// What to store. Large artifacts come from a file so they are streamed, never held in memory.
#[derive(Debug, Clone)]
pub enum BlobSource {
    Bytes(Bytes),
    File(PathBuf),
}

/// HTTP metadata kept with a blob by stores whose blobs are also served without Piraeus (S3
/// behind CloudFront). The caller decides it; a store never guesses it from the key.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BlobHeaders {
    pub content_type: Option<&'static str>,
    pub cache_control: Option<&'static str>,
}

/// Whether `put_if_absent` stored the blob or found one already there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutOutcome {
    Created,
    AlreadyExists,
}

/// Append-only blob storage.
///
/// Contract, checked by [`conformance::run`]:
/// - `put_if_absent` never overwrites: when the key exists it returns `AlreadyExists` and the
///   stored bytes stay as they were, even under concurrent writers (exactly one sees `Created`).
/// - A reader never sees a partial blob: a key is either absent or complete.
/// - `put_if_absent` keeps `headers` with the blob where the backend serves blobs itself.
/// - `get_range` yields exactly the bytes of the range, which the caller keeps within the blob.
/// - `get` of an absent key is `Error::NotFound`; a key that could escape the store's root
///   (`..`, absolute, empty elements, NUL) is `Error::Invalid` and touches nothing.
#[async_trait]
pub trait BlobStore: Send + Sync {
    /// Opens a blob for streaming.
    async fn get(&self, key: &str) -> Result<Blob>;
    /// Opens part of a blob for streaming (an interrupted download resuming).
    async fn get_range(&self, key: &str, range: Range<u64>) -> Result<Blob>;
    /// The blob's length, or `None` when absent.
    async fn head(&self, key: &str) -> Result<Option<u64>>;
    /// Stores the blob unless the key already exists. Never overwrites.
    async fn put_if_absent(
        &self,
        key: &str,
        source: BlobSource,
        headers: BlobHeaders,
    ) -> Result<PutOutcome>;
    /// Succeeds when the store can be read and written (for readiness probes).
    async fn check(&self) -> Result<()>;
    /// Where the blob's bytes already are on this machine (whether or not it exists), so that
    /// work on a whole blob, hashing a zip, reads it in place on a blocking thread instead of
    /// copying it through `get`; `None` for a remote backend. Same key checks as `get`.
    fn local_path(&self, key: &str) -> Result<Option<PathBuf>> {
        check_key(key)?;
        Ok(None)
    }
}

/// Rejects keys that could name something outside the store, whatever the backend. Keys come
/// from validated module paths, so this is a second line of defence, not the first.
pub fn check_key(key: &str) -> Result<()> {
    let bad = key.is_empty()
        || key.len() > 4096
        || key.starts_with('/')
        || key.contains('\0')
        || key.contains('\\')
        || key.split('/').any(|element| {
            element.is_empty() || element == "." || element == ".." || element.starts_with('.')
        });
    if bad {
        return Err(Error::invalid(format!("unsafe storage key {key:?}")));
    }
    Ok(())
}

/// Reads a small stored blob (go.mod, info, a checksum-database tile) whole.
pub(crate) async fn read_blob(store: &dyn BlobStore, key: &str) -> Result<Bytes> {
    let mut blob = store.get(key).await?;
    let mut contents = Vec::with_capacity(blob.length as usize);
    blob.body
        .read_to_end(&mut contents)
        .await
        .map_err(|e| Error::storage(key, e))?;
    Ok(contents.into())
}
