//! The one conformance suite every [`BlobStore`] backend must pass. Backends' tests call
//! [`run`] with a fresh store; keys are unique per run so a shared bucket can be reused.

use std::sync::Arc;

use bytes::Bytes;
use tokio::io::AsyncReadExt;

use super::{BlobHeaders, BlobSource, BlobStore, PutOutcome};
use crate::ErrorKind;
use crate::store::ArtifactKind;

/// Runs every check; panics (like a test assertion) on the first contract violation.
pub async fn run(store: Arc<dyn BlobStore>) {
    let prefix = format!("conformance.test/run{}", crate::clock::now_millis());
    store
        .check()
        .await
        .expect("a fresh store passes its readiness check");
    round_trip_and_no_overwrite(store.as_ref(), &prefix).await;
    absent_keys(store.as_ref(), &prefix).await;
    unsafe_keys_are_refused(store.as_ref()).await;
    file_sources_stream(store.as_ref(), &prefix).await;
    ranges(store.as_ref(), &prefix).await;
    concurrent_writers_one_winner(store.clone(), &prefix).await;
}

async fn read_all(store: &dyn BlobStore, key: &str) -> Vec<u8> {
    let mut blob = store.get(key).await.expect("stored key is readable");
    let mut contents = Vec::new();
    blob.body
        .read_to_end(&mut contents)
        .await
        .expect("blob reads to the end");
    assert_eq!(
        blob.length,
        contents.len() as u64,
        "declared length matches contents of {key}"
    );
    contents
}

/// A resumed download reads the rest of a blob: exactly the bytes asked for, wherever they are.
async fn ranges(store: &dyn BlobStore, prefix: &str) {
    let key = format!("{prefix}/ranges/@v/v1.0.0.zip");
    let contents: Vec<u8> = (0..100_000u32).map(|n| (n % 251) as u8).collect();
    store
        .put_if_absent(
            &key,
            BlobSource::Bytes(Bytes::from(contents.clone())),
            ArtifactKind::Zip.headers(),
        )
        .await
        .unwrap();
    for range in [0..1, 0..100_000, 99_999..100_000, 65_000..70_000, 50..50] {
        let mut blob = store.get_range(&key, range.clone()).await.unwrap();
        let mut read = Vec::new();
        blob.body.read_to_end(&mut read).await.unwrap();
        let expected = &contents[range.start as usize..range.end as usize];
        assert_eq!(blob.length, expected.len() as u64, "{range:?}");
        assert!(read == expected, "bytes {range:?} of {key}");
    }
    assert!(
        matches!(store.get_range(&format!("{prefix}/absent/@v/v1.0.0.zip"), 0..1).await,
            Err(ref e) if e.kind() == ErrorKind::NotFound),
        "a range of an absent blob is not found"
    );
}

async fn round_trip_and_no_overwrite(store: &dyn BlobStore, prefix: &str) {
    // Case-encoded and +incompatible keys must work verbatim: they are real GOPROXY paths.
    let key = format!("{prefix}/!upper/@v/v2.0.0-!r!c1+incompatible.mod");
    let first = Bytes::from_static(b"module first\n");
    assert_eq!(store.head(&key).await.unwrap(), None);
    assert_eq!(
        store
            .put_if_absent(
                &key,
                BlobSource::Bytes(first.clone()),
                // As ingest stores a go.mod: backends that serve blobs themselves keep these.
                ArtifactKind::Mod.headers()
            )
            .await
            .unwrap(),
        PutOutcome::Created
    );
    assert_eq!(read_all(store, &key).await, first);
    assert_eq!(store.head(&key).await.unwrap(), Some(first.len() as u64));
    // A local store's path holds exactly the blob's bytes (whole-blob work reads it there).
    if let Some(path) = store.local_path(&key).unwrap() {
        assert_eq!(std::fs::read(&path).unwrap(), first);
    }

    let second = Bytes::from_static(b"module second, longer\n");
    assert_eq!(
        store
            .put_if_absent(&key, BlobSource::Bytes(second), BlobHeaders::default())
            .await
            .unwrap(),
        PutOutcome::AlreadyExists,
        "put_if_absent never overwrites"
    );
    assert_eq!(read_all(store, &key).await, first, "the first write wins");

    let empty_key = format!("{prefix}/empty/@v/v0.0.1.info");
    store
        .put_if_absent(
            &empty_key,
            BlobSource::Bytes(Bytes::new()),
            BlobHeaders::default(),
        )
        .await
        .unwrap();
    assert_eq!(read_all(store, &empty_key).await, Vec::<u8>::new());
}

async fn absent_keys(store: &dyn BlobStore, prefix: &str) {
    let key = format!("{prefix}/missing/@v/v1.0.0.zip");
    assert!(
        matches!(store.get(&key).await, Err(ref e) if e.kind() == ErrorKind::NotFound),
        "get of an absent key is NotFound"
    );
    assert_eq!(store.head(&key).await.unwrap(), None);
}

async fn unsafe_keys_are_refused(store: &dyn BlobStore) {
    for key in [
        "../escape",
        "a/../../b",
        "/etc/passwd",
        "a//b",
        "a/./b",
        "nul\0byte",
        "",
        ".piraeus/x",
    ] {
        assert!(
            matches!(store.get(key).await, Err(ref e) if e.kind() == ErrorKind::Invalid),
            "get({key:?}) is refused"
        );
        let put = store
            .put_if_absent(
                key,
                BlobSource::Bytes(Bytes::from_static(b"x")),
                BlobHeaders::default(),
            )
            .await;
        assert!(
            matches!(put, Err(ref e) if e.kind() == ErrorKind::Invalid),
            "put({key:?}) is refused"
        );
        assert!(
            matches!(store.local_path(key), Err(ref e) if e.kind() == ErrorKind::Invalid),
            "local_path({key:?}) is refused"
        );
    }
}

async fn file_sources_stream(store: &dyn BlobStore, prefix: &str) {
    // Larger than any single buffer on the way, with a pattern that shows misordered chunks.
    let contents: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("source.zip");
    std::fs::write(&path, &contents).unwrap();
    let key = format!("{prefix}/big/@v/v1.0.0.zip");
    assert_eq!(
        store
            .put_if_absent(&key, BlobSource::File(path), BlobHeaders::default())
            .await
            .unwrap(),
        PutOutcome::Created
    );
    assert!(
        read_all(store, &key).await == contents,
        "file-sourced blob reads back byte for byte"
    );
}

async fn concurrent_writers_one_winner(store: Arc<dyn BlobStore>, prefix: &str) {
    let key = format!("{prefix}/race/@v/v1.0.0.info");
    let writers: Vec<_> = (0..8)
        .map(|writer| {
            let store = store.clone();
            let key = key.clone();
            tokio::spawn(async move {
                let body = Bytes::from(format!("writer {writer}\n"));
                (
                    store
                        .put_if_absent(
                            &key,
                            BlobSource::Bytes(body.clone()),
                            BlobHeaders::default(),
                        )
                        .await
                        .unwrap(),
                    body,
                )
            })
        })
        .collect();
    let mut winners = Vec::new();
    for writer in writers {
        let (outcome, body) = writer.await.unwrap();
        if outcome == PutOutcome::Created {
            winners.push(body);
        }
    }
    assert_eq!(
        winners.len(),
        1,
        "exactly one concurrent writer creates the blob"
    );
    assert_eq!(
        read_all(store.as_ref(), &key).await,
        winners[0],
        "the winner's bytes are stored"
    );
}
