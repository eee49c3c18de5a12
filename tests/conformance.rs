//! The local backends pass the shared conformance suites.

use std::sync::Arc;

use piraeus_core::index::{self, Index, SqliteIndex};
use piraeus_core::store::{self, FilesystemStore};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn filesystem_store_conforms() {
    let directory = tempfile::tempdir().unwrap();
    store::conformance::run(Arc::new(FilesystemStore::open(directory.path()).unwrap())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn filesystem_store_keeps_nothing_outside_its_root() {
    let parent = tempfile::tempdir().unwrap();
    let root = parent.path().join("data");
    store::conformance::run(Arc::new(FilesystemStore::open(&root).unwrap())).await;
    let outside: Vec<_> = std::fs::read_dir(parent.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .collect();
    assert_eq!(
        outside,
        ["data"],
        "everything stays under the data directory"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_index_conforms() {
    let directory = tempfile::tempdir().unwrap();
    index::conformance::run(Arc::new(
        SqliteIndex::open(&directory.path().join("index.sqlite3")).unwrap(),
    ))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_index_shared_by_two_connections_conforms() {
    // Two handles on one file behave like two processes sharing a data directory.
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("index.sqlite3");
    let first = SqliteIndex::open(&path).unwrap();
    let second = SqliteIndex::open(&path).unwrap();
    index::conformance::run(Arc::new(first.clone())).await;
    index::conformance::run(Arc::new(second.clone())).await;

    // Claims racing through both connections at once: still exactly one lease.
    let handles: [Arc<dyn Index>; 2] = [Arc::new(first), Arc::new(second)];
    index::conformance::claims_race_to_one_winner(&handles, "shared.test/m", "v1.0.0").await;
}
