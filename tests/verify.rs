//! `piraeus verify` over S3 and DynamoDB (moto): versions stored through `piraeus serve --store
//! s3://… --index dynamodb://…` by the real go command, then a zip altered directly in the
//! bucket, found and named; `--since`; the exit codes.

use std::process::{Command, Output};

use crate::common::{Moto, Sandbox, assert_same_as_direct};

const STORE: &str = "s3://piraeus-verify/modules";
const INDEX: &str = "dynamodb://piraeus-verify";

fn piraeus(sandbox: &Sandbox, moto: &Moto, arguments: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_piraeus"))
        .args(arguments)
        .envs(moto.environment())
        .env("HOME", sandbox.home())
        .current_dir(sandbox.path())
        .output()
        .unwrap()
}

fn verify(sandbox: &Sandbox, moto: &Moto, extra: &[&str]) -> (Option<i32>, String, String) {
    let mut arguments = vec!["verify", "--store", STORE, "--index", INDEX];
    arguments.extend_from_slice(extra);
    let output = piraeus(sandbox, moto, &arguments);
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn verify_over_s3_and_dynamodb_names_a_zip_altered_in_the_bucket() {
    let sandbox = Sandbox::new();
    let moto = Moto::start();
    let provisioned = piraeus(
        &sandbox,
        &moto,
        &["provision", "--store", STORE, "--index", INDEX],
    );
    assert!(
        provisioned.status.success(),
        "{}",
        String::from_utf8_lossy(&provisioned.stderr)
    );
    for name in ["good.git", "bad.git", "other.git"] {
        let repo = sandbox.module(name);
        repo.commit("one");
        repo.tag("v1.0.0");
    }
    let environment = moto.environment();
    let server = sandbox.start_server_with(&["--store", STORE, "--index", INDEX], &environment);
    assert_same_as_direct(
        &sandbox,
        &server,
        "stored",
        &[
            "example.test/good.git@v1.0.0",
            "example.test/bad.git@v1.0.0",
            "example.test/other.git@v1.0.0",
        ],
    );
    server.stop();

    let (code, stdout, stderr) = verify(&sandbox, &moto, &["--concurrency", "2"]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(
        stdout.contains("verified 3 versions: 3 ok, 0 with problems"),
        "{stdout}"
    );

    // Someone with write access to the bucket replaces one zip with another module's.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let config = crate::common::emulated_sdk_config(&moto.endpoint).await;
        let s3 = piraeus_aws::sdk::s3_client(&config);
        let good = s3
            .get_object()
            .bucket("piraeus-verify")
            .key("modules/example.test/good.git/@v/v1.0.0.zip")
            .send()
            .await
            .unwrap()
            .body
            .collect()
            .await
            .unwrap()
            .into_bytes();
        s3.put_object()
            .bucket("piraeus-verify")
            .key("modules/example.test/bad.git/@v/v1.0.0.zip")
            .body(good.into())
            .send()
            .await
            .unwrap();
    });

    let (code, stdout, stderr) = verify(&sandbox, &moto, &[]);
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    let mismatches: Vec<&str> = stdout
        .lines()
        .filter(|line| line.starts_with("MISMATCH"))
        .collect();
    assert_eq!(mismatches.len(), 1, "{stdout}");
    assert!(
        mismatches[0].starts_with("MISMATCH example.test/bad.git@v1.0.0: zip hash h1:"),
        "{stdout}"
    );
    assert!(
        stdout.contains("verified 3 versions: 2 ok, 1 with problems"),
        "{stdout}"
    );

    // --since: a duration back from now includes them; a moment after they were stored none.
    let (code, stdout, _) = verify(&sandbox, &moto, &["--since", "1h"]);
    assert_eq!(code, Some(1), "{stdout}");
    assert!(stdout.contains("verified 3 versions"), "{stdout}");
    let (code, stdout, _) = verify(&sandbox, &moto, &["--since", "2999-01-01T00:00:00Z"]);
    assert_eq!(code, Some(0), "{stdout}");
    assert!(stdout.contains("verified 0 versions"), "{stdout}");

    // The scheduled verify (the fetch function's `verify` event) finds the same, keeps its
    // cursor in the table, and checks only what was stored since on its next run.
    runtime.block_on(async {
        use piraeus_aws::lambda::{FetchReply, ScheduledVerify};
        let config = crate::common::emulated_sdk_config(&moto.endpoint).await;
        let store = piraeus_aws::sdk::open_store(
            &config,
            &(piraeus_core::settings::STORE.parse)(STORE).unwrap(),
        );
        let index = piraeus_aws::sdk::open_dynamo_index(
            &config,
            &(piraeus_core::settings::INDEX.parse)(INDEX).unwrap(),
        );
        let scheduled = ScheduledVerify::new(store, index.clone(), 2);
        match scheduled.run().await.unwrap() {
            FetchReply::Verified {
                checked: 3,
                problems: 1,
                complete: true,
                findings,
            } => assert!(
                findings[0].starts_with("example.test/bad.git@v1.0.0: zip hash"),
                "{findings:?}"
            ),
            other => panic!("{other:?}"),
        }
        let cursor = index
            .verify_cursor()
            .await
            .unwrap()
            .expect("a saved cursor");
        assert!(cursor.module.starts_with("example.test/"), "{cursor:?}");
        match scheduled.run().await.unwrap() {
            FetchReply::Verified {
                checked: 0,
                problems: 0,
                complete: true,
                ..
            } => {}
            other => panic!("the second run starts after the first: {other:?}"),
        }
    });

    // Bad usage is 2.
    let (code, _, stderr) = verify(&sandbox, &moto, &["--since", "last tuesday"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("RFC 3339"), "{stderr}");
}
