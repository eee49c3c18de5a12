//! The AWS backends against moto_server through the real SDKs: the shared conformance suites,
//! `piraeus provision`, and `piraeus serve` on S3 + DynamoDB, also as two processes at once.

mod common;

use std::sync::Arc;

use common::{Moto, Sandbox, assert_same_as_direct, invocations};
use piraeus::aws;
use piraeus::index::{self, DynamoIndex};
use piraeus::store::{self, S3Store};

async fn sdk_config(moto: &Moto) -> aws_config::SdkConfig {
    common::emulated_sdk_config(&moto.endpoint).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn s3_store_conforms_with_and_without_prefix() {
    let moto = Moto::start();
    let config = sdk_config(&moto).await;
    let client = aws::s3_client(&config);
    aws::provision_bucket(&client, "conformance-bucket", Some("us-east-1"))
        .await
        .unwrap();
    aws::provision_bucket(&client, "conformance-bucket", Some("us-east-1"))
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
    let client = aws::dynamodb_client(&config);
    aws::provision_table(&client, "conformance-index")
        .await
        .unwrap();
    aws::provision_table(&client, "conformance-index")
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
    let repo = sandbox.repo("cloud.git");
    repo.write("go.mod", "module example.test/cloud.git\n\ngo 1.19\n")
        .write("c.go", "package cloud\n");
    repo.commit("one");
    repo.tag("v1.0.0-RC1");
    repo.write("c.go", "package cloud\n\nconst Two = 2\n");
    repo.commit("two");
    repo.tag("v1.0.0");

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
    let repo = sandbox.repo("shared.git");
    repo.write("go.mod", "module example.test/shared.git\n\ngo 1.19\n")
        .write("s.go", "package shared\n");
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
                common::http_get(
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
