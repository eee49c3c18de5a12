//! The AWS backends against moto_server through the real SDKs: the shared conformance suites,
//! `piraeus provision`, and `piraeus serve` on S3 + DynamoDB, also as two processes at once and
//! with a fetch killed mid-way.

use std::sync::Arc;

use crate::common::{Moto, Sandbox, assert_same_as_direct, invocations};
use piraeus_aws::dynamodb::DynamoIndex;
use piraeus_aws::dynamodb::schema::{EXPIRES_AT, SORT_KEY};
use piraeus_aws::s3::S3Store;
use piraeus_aws::sdk;
use piraeus_core::ErrorKind;
use piraeus_core::index::{self, FetchFailure, Index, VersionStatus};
use piraeus_core::store::{self, BlobStore};

async fn sdk_config(moto: &Moto) -> aws_config::SdkConfig {
    crate::common::emulated_sdk_config(&moto.endpoint).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn s3_store_conforms_with_and_without_prefix() {
    let moto = Moto::start();
    let config = sdk_config(&moto).await;
    let client = sdk::s3_client(&config);
    piraeus_aws::provision::bucket(&client, "conformance-bucket", Some("us-east-1"))
        .await
        .unwrap();
    piraeus_aws::provision::bucket(&client, "conformance-bucket", Some("us-east-1"))
        .await
        .expect("provisioning twice is fine");
    store::conformance::run(Arc::new(S3Store::new(
        client.clone(),
        "conformance-bucket",
        "",
    )))
    .await;
    store::conformance::run(Arc::new(S3Store::new(
        client.clone(),
        "conformance-bucket",
        "tenant/a/",
    )))
    .await;

    // Objects carry the headers CloudFront will serve them with.
    let head = client
        .head_object()
        .bucket("conformance-bucket")
        .key(listing_key_with_suffix(&client, "conformance-bucket", ".mod").await)
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_type(), Some("text/plain; charset=utf-8"));
    assert_eq!(
        head.cache_control(),
        Some("public, max-age=31536000, immutable")
    );

    // A prefixed store keeps to its prefix.
    let listing = client
        .list_objects_v2()
        .bucket("conformance-bucket")
        .prefix("tenant/")
        .send()
        .await
        .unwrap();
    assert!(listing.contents().iter().all(|object| {
        object
            .key()
            .unwrap()
            .starts_with("tenant/a/conformance.test/")
    }));
}

/// Some object key in the bucket ending with `suffix`.
async fn listing_key_with_suffix(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    suffix: &str,
) -> String {
    let listing = client
        .list_objects_v2()
        .bucket(bucket)
        .send()
        .await
        .unwrap();
    listing
        .contents()
        .iter()
        .filter_map(|object| object.key())
        .find(|key| key.ends_with(suffix))
        .unwrap()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dynamodb_index_conforms() {
    let moto = Moto::start();
    let config = sdk_config(&moto).await;
    let client = sdk::dynamodb_client(&config);
    piraeus_aws::provision::table(&client, "conformance-index")
        .await
        .unwrap();
    piraeus_aws::provision::table(&client, "conformance-index")
        .await
        .expect("provisioning twice is fine");
    index::conformance::run(Arc::new(DynamoIndex::new(
        client.clone(),
        "conformance-index",
    )))
    .await;
    // Run again on the same table: the suite must not depend on an empty index.
    index::conformance::run(Arc::new(DynamoIndex::new(client, "conformance-index"))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dynamodb_failure_records_expire_and_nothing_else_does() {
    let moto = Moto::start();
    let config = sdk_config(&moto).await;
    let client = sdk::dynamodb_client(&config);
    piraeus_aws::provision::table(&client, "expiry-index")
        .await
        .unwrap();
    let ttl = client
        .describe_time_to_live()
        .table_name("expiry-index")
        .send()
        .await
        .unwrap();
    let ttl = ttl.time_to_live_description().unwrap();
    assert_eq!(ttl.attribute_name(), Some(EXPIRES_AT));
    assert_eq!(
        ttl.time_to_live_status().map(|status| status.as_str()),
        Some("ENABLED")
    );

    let index = DynamoIndex::new(client.clone(), "expiry-index");
    let module = "example.test/expiry.git";
    let now = piraeus_core::clock::now_millis();
    let failure = FetchFailure {
        kind: ErrorKind::NotFound,
        message: "unknown revision".into(),
    };
    // v0.0.1 fails; v1.0.0 fails, then is claimed again and stored.
    for version in ["v0.0.1", "v1.0.0"] {
        assert!(
            index
                .claim_fetch(module, version, "first", now + 60_000, now)
                .await
                .unwrap()
        );
        index
            .mark_failed(module, version, "first", &failure, now)
            .await
            .unwrap();
    }
    assert!(
        index
            .claim_fetch(module, "v1.0.0", "second", now + 60_000, now)
            .await
            .unwrap()
    );
    // The item's `expires_at` (epoch seconds), read from the table itself.
    let expires_at = |version: &'static str| {
        let client = client.clone();
        async move {
            let items = client
                .scan()
                .table_name("expiry-index")
                .consistent_read(true)
                .send()
                .await
                .unwrap();
            let item = items
                .items()
                .iter()
                .find(|item| {
                    item.get(SORT_KEY).and_then(|key| key.as_s().ok()) == Some(&version.into())
                })
                .unwrap_or_else(|| panic!("no item for {version}: {items:?}"))
                .clone();
            item.get(EXPIRES_AT)
                .map(|value| value.as_n().unwrap().parse::<i64>().unwrap())
        }
    };
    // FAILURE_RETENTION after the failure: DynamoDB's TTL deletes the item then.
    assert_eq!(
        expires_at("v0.0.1").await,
        Some(now / 1000 + index::FAILURE_RETENTION.as_secs() as i64)
    );
    assert_eq!(
        expires_at("v1.0.0").await,
        None,
        "a fetching version never expires"
    );
    index
        .mark_ready(&index::conformance::record(module, "v1.0.0", now))
        .await
        .unwrap();
    assert_eq!(
        expires_at("v1.0.0").await,
        None,
        "a ready version never expires"
    );
}

fn provision(sandbox: &Sandbox, moto: &Moto) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_piraeus"))
        .args([
            "provision",
            "--store",
            "s3://piraeus-test/modules",
            "--index",
            "dynamodb://piraeus-test",
        ])
        .envs(moto.environment())
        .env("HOME", sandbox.home())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "provision: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn serve_on_s3_and_dynamodb_matches_direct() {
    let sandbox = Sandbox::new();
    let moto = Moto::start();
    provision(&sandbox, &moto);
    sandbox.module_at_two_tags("cloud.git", ["v1.0.0-RC1", "v1.0.0"]);

    let environment = moto.environment();
    let server = sandbox.start_server_with(
        &[
            "--store",
            "s3://piraeus-test/modules",
            "--index",
            "dynamodb://piraeus-test",
        ],
        &environment,
    );
    assert_same_as_direct(
        &sandbox,
        &server,
        "cloud",
        &[
            "example.test/cloud.git@v1.0.0-RC1",
            "example.test/cloud.git@v1.0.0",
            "example.test/cloud.git@main",
        ],
    );
    assert_eq!(server.get("/readyz").status, 200);
    assert_eq!(
        server.get("/example.test/cloud.git/@v/list").text(),
        "v1.0.0-RC1\nv1.0.0\n"
    );
    assert!(
        !sandbox.data_dir().join("example.test").exists(),
        "with --store s3:// the data directory is scratch space only"
    );
}

#[test]
fn two_processes_over_one_bucket_and_table_fetch_each_version_once() {
    let sandbox = Sandbox::new();
    let moto = Moto::start();
    provision(&sandbox, &moto);
    let repo = sandbox.module("shared.git");
    repo.commit("one");
    repo.tag("v1.0.0");

    let (counting_go, counter) = sandbox.counting_go();
    let environment = moto.environment();
    let arguments = [
        "--store",
        "s3://piraeus-test/modules",
        "--index",
        "dynamodb://piraeus-test",
        "--go",
        counting_go.to_str().unwrap(),
    ];
    let first = sandbox.start_server_with(&arguments, &environment);
    let second = sandbox.start_server_with(&arguments, &environment);

    let requests: Vec<_> = (0..16)
        .map(|request| {
            let address = if request % 2 == 0 {
                first.address.clone()
            } else {
                second.address.clone()
            };
            let extension = ["info", "mod", "zip", "zip"][request % 4];
            std::thread::spawn(move || {
                crate::common::http_get(
                    &address,
                    &format!("/example.test/shared.git/@v/v1.0.0.{extension}"),
                )
                .unwrap()
            })
        })
        .collect();
    let mut zips = Vec::new();
    for request in requests {
        let response = request.join().unwrap();
        assert_eq!(response.status, 200, "{}", response.text());
        if response.header("content-type") == Some("application/zip") {
            zips.push(response.body);
        }
    }
    assert!(
        zips.windows(2).all(|pair| pair[0] == pair[1]),
        "both processes serve identical zips"
    );
    assert_eq!(
        invocations(&counter, "mod download"),
        1,
        "one download across both processes\nfirst:\n{}\nsecond:\n{}",
        first.log(),
        second.log()
    );
}

/// A `go` for the server that, the first time only, runs the real download and then hangs (at
/// most 30 s, so it ends by itself), marking when it got there: the moment to kill the server.
fn go_that_hangs_once(sandbox: &Sandbox) -> (std::path::PathBuf, std::path::PathBuf) {
    let real_go = crate::common::which("go");
    let hanging = sandbox.path().join("go-hangs-here");
    let shim = sandbox.path().join("go-hanging-once");
    std::fs::write(
        &shim,
        format!(
            "#!/bin/sh\nif [ \"$1\" = mod ] && [ ! -e '{hanging}' ]; then\n\
             '{go}' \"$@\" >/dev/null\n  touch '{hanging}'\n  sleep 30\n  exit 1\nfi\n\
             exec '{go}' \"$@\"\n",
            hanging = hanging.display(),
            go = real_go.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&shim, std::fs::Permissions::from_mode(0o755)).unwrap();
    (shim, hanging)
}

#[test]
fn a_killed_fetch_leaves_nothing_visible_and_is_completed_after_its_lease_expires() {
    let sandbox = Sandbox::new();
    let moto = Moto::start();
    provision(&sandbox, &moto);
    let repo = sandbox.module("crash.git");
    repo.commit("one");
    repo.tag("v1.0.0");

    let (hanging_go, hanging) = go_that_hangs_once(&sandbox);
    let environment = moto.environment();
    let backends = [
        "--store",
        "s3://piraeus-test/modules",
        "--index",
        "dynamodb://piraeus-test",
        // A 4 s fetch timeout gives a 9 s lease (piraeus_core::proxy::lease_for).
        "--fetch-timeout",
        "4s",
    ];
    let mut arguments = backends.to_vec();
    arguments.extend(["--go", hanging_go.to_str().unwrap()]);
    let doomed = sandbox.start_server_with(&arguments, &environment);
    let address = doomed.address.clone();
    let request = std::thread::spawn(move || {
        crate::common::http_get(&address, "/example.test/crash.git/@v/v1.0.0.info")
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !hanging.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the fetch never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    doomed.stop(); // SIGKILL, mid-fetch: the go download is done, nothing is stored yet.
    let _ = request.join();
    let killed_at = std::time::Instant::now();

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (lease_expires, visible) = runtime.block_on(async {
        let config = sdk_config(&moto).await;
        let index = DynamoIndex::new(sdk::dynamodb_client(&config), "piraeus-test");
        let store = S3Store::new(sdk::s3_client(&config), "piraeus-test", "modules");
        let status = index
            .version("example.test/crash.git", "v1.0.0")
            .await
            .unwrap();
        let lease_expires = match status {
            VersionStatus::Fetching { lease_expires, .. } => lease_expires,
            other => panic!("the dead fetch still holds its lease: {other:?}"),
        };
        let mut visible = Vec::new();
        for extension in ["info", "mod", "zip"] {
            let key = format!("example.test/crash.git/@v/v1.0.0.{extension}");
            if store.head(&key).await.unwrap().is_some() {
                visible.push(key);
            }
        }
        (lease_expires, visible)
    });
    assert!(visible.is_empty(), "partial version visible: {visible:?}");
    let remaining_ms = lease_expires - piraeus_core::clock::now_millis();
    assert!(remaining_ms > 1000, "the lease is still live at restart");

    // A new process waits out the dead fetch's lease, then fetches it itself.
    let survivor = sandbox.start_server_with(&backends, &environment);
    let downloads = assert_same_as_direct(
        &sandbox,
        &survivor,
        "crash",
        &["example.test/crash.git@v1.0.0"],
    );
    assert!(downloads[0].error.is_empty(), "{}", downloads[0].error);
    assert!(
        killed_at.elapsed().as_millis() as i64 >= remaining_ms - 200,
        "served only after the lease ran out ({remaining_ms} ms after the kill)"
    );
}
