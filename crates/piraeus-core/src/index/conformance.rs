//! The one conformance suite every [`Index`] backend must pass. Module names are unique per run
//! so a shared table can be reused.

use std::sync::Arc;

use super::{
    AnswerKey, CachedAnswer, ErrorKind, FeedCursor, FetchFailure, Index, StoredVersion,
    VersionStatus,
};

/// Runs every check; panics (like a test assertion) on the first contract violation.
pub async fn run(index: Arc<dyn Index>) {
    let module = format!("conformance.test/run{}", crate::clock::now_millis());
    index
        .check()
        .await
        .expect("a fresh index passes its readiness check");
    lease_lifecycle(index.as_ref(), &module).await;
    ready_records_are_immutable(index.as_ref(), &module).await;
    claims_race_to_one_winner(std::slice::from_ref(&index), &module, "v2.0.0+incompatible").await;
    answers_cache(index.as_ref(), &module).await;
    refresh_leases(index.as_ref(), &module).await;
    feed_orders_by_ingest_time(index.as_ref(), &module).await;
}

/// A made-up ready record (its sums name the version), for tests of any index.
pub fn record(module: &str, version: &str, fetched_at: i64) -> StoredVersion {
    StoredVersion {
        module: module.to_string(),
        version: version.to_string(),
        time: "2024-01-02T03:04:05Z".to_string(),
        zip_hash: format!("h1:zip-{version}="),
        mod_hash: format!("h1:mod-{version}="),
        zip_size: 1234,
        mod_size: 56,
        info_size: 78,
        origin: "https://proxy.golang.org,direct".to_string(),
        fetched_at,
    }
}

async fn lease_lifecycle(index: &dyn Index, module: &str) {
    let version = "v1.0.0";
    assert_eq!(
        index.version(module, version).await.unwrap(),
        VersionStatus::Absent
    );

    assert!(
        index
            .claim_fetch(module, version, "first", 2_000, 1_000)
            .await
            .unwrap(),
        "an absent version can be claimed"
    );
    assert_eq!(
        index.version(module, version).await.unwrap(),
        VersionStatus::Fetching {
            holder: "first".into(),
            lease_expires: 2_000
        }
    );
    assert!(
        !index
            .claim_fetch(module, version, "second", 3_000, 1_500)
            .await
            .unwrap(),
        "a live lease cannot be claimed"
    );
    assert!(
        index
            .claim_fetch(module, version, "second", 4_000, 2_500)
            .await
            .unwrap(),
        "an expired lease can be claimed"
    );
    assert!(
        !index
            .renew_lease(module, version, "first", 9_000)
            .await
            .unwrap(),
        "a holder whose lease was taken over cannot renew it"
    );
    assert!(
        index
            .renew_lease(module, version, "second", 4_500)
            .await
            .unwrap(),
        "the holder renews its lease"
    );
    assert!(
        !index
            .claim_fetch(module, version, "third", 5_000, 4_200)
            .await
            .unwrap(),
        "a renewed lease is live until its new expiry"
    );

    let failure = FetchFailure {
        kind: ErrorKind::NotFound,
        message: "unknown revision v1.0.0".into(),
    };
    index
        .mark_failed(module, version, "first", &failure, 2_600)
        .await
        .unwrap();
    assert!(
        matches!(index.version(module, version).await.unwrap(), VersionStatus::Fetching { ref holder, .. } if holder == "second"),
        "a holder that lost its lease cannot mark the version failed"
    );
    index
        .mark_failed(module, version, "second", &failure, 2_700)
        .await
        .unwrap();
    assert_eq!(
        index.version(module, version).await.unwrap(),
        VersionStatus::Failed {
            failure,
            failed_at: 2_700
        }
    );
    assert!(
        index
            .claim_fetch(module, version, "third", 5_000, 2_800)
            .await
            .unwrap(),
        "a failed version can be claimed again"
    );
}

async fn refresh_leases(index: &dyn Index, module: &str) {
    let key = AnswerKey::List {
        module: format!("{module}/refresh"),
    };
    assert!(
        index
            .claim_refresh(&key, "one", 2_000, 1_000)
            .await
            .unwrap()
    );
    assert_eq!(
        index.cached_answer(&key).await.unwrap(),
        None,
        "a lease is not an answer"
    );
    assert!(
        !index
            .claim_refresh(&key, "two", 3_000, 1_500)
            .await
            .unwrap(),
        "a live refresh lease cannot be claimed"
    );
    assert!(
        index
            .claim_refresh(&key, "two", 4_000, 2_500)
            .await
            .unwrap(),
        "an expired one can"
    );
    index.release_refresh(&key, "one").await.unwrap();
    assert!(
        !index.claim_refresh(&key, "x", 4_000, 2_550).await.unwrap(),
        "only the holder releases its lease"
    );
    index.release_refresh(&key, "two").await.unwrap();
    assert!(
        index
            .claim_refresh(&key, "two", 4_000, 2_560)
            .await
            .unwrap(),
        "a released lease can be claimed at once"
    );
    let answer = CachedAnswer {
        body: "v1.0.0\n".into(),
        fetched_at: 2_600,
    };
    index.put_cached_answer(&key, &answer).await.unwrap();
    assert_eq!(index.cached_answer(&key).await.unwrap(), Some(answer));
    assert!(
        index
            .claim_refresh(&key, "three", 5_000, 2_700)
            .await
            .unwrap(),
        "an answer put ends the lease"
    );
    let newer = CachedAnswer {
        body: "v1.0.0\nv1.1.0\n".into(),
        fetched_at: 2_800,
    };
    index.put_cached_answer(&key, &newer).await.unwrap();
    assert_eq!(index.cached_answer(&key).await.unwrap(), Some(newer));
}

async fn ready_records_are_immutable(index: &dyn Index, module: &str) {
    let version = "v1.0.0";
    let ready = record(module, version, 10);
    assert!(
        index.mark_ready(&ready).await.unwrap(),
        "marking a fetching version ready succeeds"
    );
    assert_eq!(
        index.version(module, version).await.unwrap(),
        VersionStatus::Ready(ready.clone())
    );

    let mut other = ready.clone();
    other.zip_hash = "h1:different=".into();
    assert!(
        !index.mark_ready(&other).await.unwrap(),
        "a ready record is never replaced"
    );
    assert!(
        !index
            .claim_fetch(module, version, "late", i64::MAX, i64::MAX - 1)
            .await
            .unwrap(),
        "a ready version cannot be claimed"
    );
    let failure = FetchFailure {
        kind: ErrorKind::Upstream,
        message: "x".into(),
    };
    index
        .mark_failed(module, version, "late", &failure, 20)
        .await
        .unwrap();
    assert_eq!(
        index.version(module, version).await.unwrap(),
        VersionStatus::Ready(ready.clone()),
        "ready survives everything"
    );

    // A version nobody claimed (for example re-indexed from existing blobs) can be marked ready.
    let unclaimed = record(module, "v1.1.0-RC1", 11);
    assert!(index.mark_ready(&unclaimed).await.unwrap());
    let mut stored = index.stored_versions(module).await.unwrap();
    stored.sort_by(|a, b| a.version.cmp(&b.version));
    assert_eq!(stored, vec![ready, unclaimed]);
    assert!(
        index
            .stored_versions("conformance.test/nothing-here")
            .await
            .unwrap()
            .is_empty()
    );
}

/// Claims for one version racing through `handles` (one index, or several handles on the same
/// storage, like processes sharing it): exactly one wins. Asserts; public so tests can pass
/// handles the suite cannot build itself.
pub async fn claims_race_to_one_winner(handles: &[Arc<dyn Index>], module: &str, version: &str) {
    let claims: Vec<_> = (0..16)
        .map(|claimant| {
            let index = handles[claimant % handles.len()].clone();
            let (module, version) = (module.to_string(), version.to_string());
            tokio::spawn(async move {
                index
                    .claim_fetch(
                        &module,
                        &version,
                        &format!("claimant{claimant}"),
                        9_000,
                        1_000,
                    )
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut winners = 0;
    for claim in claims {
        winners += usize::from(claim.await.unwrap());
    }
    assert_eq!(
        winners,
        1,
        "exactly one concurrent claim wins the lease, across {} handles",
        handles.len()
    );
}

async fn answers_cache(index: &dyn Index, module: &str) {
    let list = AnswerKey::List {
        module: module.to_string(),
    };
    let latest = AnswerKey::Latest {
        module: module.to_string(),
    };
    let query = AnswerKey::Query {
        module: module.to_string(),
        query: "main".to_string(),
    };
    assert_eq!(index.cached_answer(&list).await.unwrap(), None);

    let first = CachedAnswer {
        body: "v1.0.0\n".into(),
        fetched_at: 100,
    };
    index.put_cached_answer(&list, &first).await.unwrap();
    assert_eq!(index.cached_answer(&list).await.unwrap(), Some(first));
    assert_eq!(
        index.cached_answer(&latest).await.unwrap(),
        None,
        "list and latest are separate answers"
    );
    assert_eq!(
        index.cached_answer(&query).await.unwrap(),
        None,
        "queries are separate answers"
    );

    let newer = CachedAnswer {
        body: "v1.0.0\nv1.1.0\n".into(),
        fetched_at: 200,
    };
    index.put_cached_answer(&list, &newer).await.unwrap();
    assert_eq!(
        index.cached_answer(&list).await.unwrap(),
        Some(newer.clone()),
        "answers are refreshed"
    );
    let older = CachedAnswer {
        body: String::new(),
        fetched_at: 150,
    };
    index.put_cached_answer(&list, &older).await.unwrap();
    assert_eq!(
        index.cached_answer(&list).await.unwrap(),
        Some(newer),
        "a slower, older refresh does not win"
    );

    // A checksum database's last answer: keyed by database and path, the body kept exactly.
    let lookup = AnswerKey::SumDb {
        name: "sum.example.com".to_string(),
        path: format!("lookup/{module}@v1.0.0"),
    };
    assert_eq!(index.cached_answer(&lookup).await.unwrap(), None);
    let signed = CachedAnswer {
        body: format!(
            "7\n{module} v1.0.0 h1:x=\n{module} v1.0.0/go.mod h1:y=\n\ngo.sum database tree\n8\nz=\n\n\u{2014} sum.example.com sig\n"
        ),
        fetched_at: 300,
    };
    index.put_cached_answer(&lookup, &signed).await.unwrap();
    assert_eq!(index.cached_answer(&lookup).await.unwrap(), Some(signed));
    assert_eq!(
        index
            .cached_answer(&list)
            .await
            .unwrap()
            .map(|a| a.fetched_at),
        Some(200),
        "checksum database answers are apart from the module's own"
    );
}

async fn feed_orders_by_ingest_time(index: &dyn Index, module: &str) {
    let feed_module = format!("{module}/feed");
    // Far-future times keep this run's records after anything else in a shared index.
    let base = 4_000_000_000_000i64 + crate::clock::now_millis();
    for (offset, version) in [(3, "v0.3.0"), (1, "v0.1.0"), (2, "v0.2.0"), (2, "v0.2.1")] {
        index
            .mark_ready(&record(&feed_module, version, base + offset))
            .await
            .unwrap();
    }
    // The feed is global and the index may be shared, so look only at this run's records.
    let start = FeedCursor {
        fetched_at: base,
        module: String::new(),
        version: String::new(),
    };
    let ours = |page: Vec<StoredVersion>| -> Vec<StoredVersion> {
        page.into_iter()
            .filter(|r| r.module == feed_module)
            .collect()
    };
    let everything = ours(index.feed(Some(&start), 10_000).await.unwrap());
    let versions: Vec<_> = everything.iter().map(|r| r.version.as_str()).collect();
    assert_eq!(
        versions,
        ["v0.1.0", "v0.2.0", "v0.2.1", "v0.3.0"],
        "ingest time, then module and version, orders the feed"
    );
    let first_page = index.feed(Some(&start), 1).await.unwrap();
    assert_eq!(first_page.len(), 1, "the limit is honoured");
    // No cursor: from the beginning (`GET /index` without `since`).
    let from_the_start = index
        .feed(None, 1)
        .await
        .expect("a feed without a cursor starts at the beginning");
    assert_eq!(from_the_start.len(), 1, "the index holds ready versions");
    let rest = ours(
        index
            .feed(Some(&everything[1].cursor()), 10_000)
            .await
            .unwrap(),
    );
    let versions: Vec<_> = rest.iter().map(|r| r.version.as_str()).collect();
    assert_eq!(
        versions,
        ["v0.2.1", "v0.3.0"],
        "the feed continues strictly after its cursor"
    );
}
