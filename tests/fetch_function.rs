//! The fetch function's events, sent through the Lambda emulator's Invoke API as serve and
//! prefetch send them: duplicates and retries store a version once; bad events change nothing.

use crate::common::Sandbox;
use serde_json::{Value, json};

fn invoke(server: &crate::common::Server, event: &Value) -> Value {
    let response = crate::common::http_post(
        server.emulator(),
        "/2015-03-31/functions/piraeus-fetch/invocations",
        event.to_string().as_bytes(),
    )
    .expect("the emulator answers");
    assert_eq!(response.status, 200, "{}", response.text());
    serde_json::from_slice(&response.body).unwrap_or_else(|_| panic!("{}", response.text()))
}

#[test]
fn duplicate_and_retried_download_events_store_one_version() {
    let sandbox = Sandbox::new();
    let repo = sandbox.module("events.git");
    repo.commit("one");
    repo.tag("v1.0.0");
    let server = sandbox.start_stack(&[]);

    let download = |holder: &str| {
        json!({
            "action": "download",
            "module": "example.test/events.git",
            "version": "v1.0.0",
            "holder": holder,
        })
    };
    let first = invoke(&server, &download("first-holder"));
    assert_eq!(first["outcome"], "stored", "{first:#}");
    // Lambda may deliver an event twice, and retries one whose function crashed.
    let duplicate = invoke(&server, &download("first-holder"));
    let retry = invoke(&server, &download("another-holder"));
    for reply in [&duplicate, &retry] {
        assert_eq!(reply["outcome"], "stored", "{reply:#}");
        assert_eq!(reply["zip_hash"], first["zip_hash"]);
        assert_eq!(
            reply["fetched_at"], first["fetched_at"],
            "the first copy stays"
        );
    }
    let direct = sandbox
        .client("events-direct", "direct")
        .download(&["example.test/events.git@v1.0.0"]);
    assert_eq!(first["zip_hash"], direct[0].sum.as_str());
    assert_eq!(first["mod_hash"], direct[0].go_mod_sum.as_str());

    let info = server.get_from_serve_function("/example.test/events.git/@v/v1.0.0.info");
    assert_eq!(
        info.header("x-piraeus-cache"),
        Some("hit"),
        "{}",
        info.text()
    );

    // Synchronous questions, as serve asks them.
    let list = invoke(
        &server,
        &json!({"action": "list", "module": "example.test/events.git"}),
    );
    assert_eq!(list, json!({"outcome": "versions", "versions": ["v1.0.0"]}));
    let missing = invoke(
        &server,
        &json!({"action": "resolve", "module": "example.test/nothing.git", "query": "latest"}),
    );
    assert_eq!(missing["outcome"], "failed", "{missing:#}");
    assert_eq!(missing["kind"], "not_found", "{missing:#}");

    // An event that would escape the bucket or reach go as a flag is refused, not run.
    for event in [
        json!({"action": "download", "module": "example.test/../x", "version": "v1.0.0", "holder": "h"}),
        json!({"action": "resolve", "module": "example.test/events.git", "query": "--exec=sh"}),
    ] {
        let reply = invoke(&server, &event);
        assert_eq!(reply["outcome"], "failed", "{reply:#}");
        assert_eq!(reply["kind"], "invalid", "{reply:#}");
        assert!(
            reply["message"].as_str().unwrap().contains("invalid"),
            "{reply:#}"
        );
    }
    assert!(!crate::common::is_stored(
        &sandbox,
        &server,
        "example.test/x/@v/v1.0.0.info"
    ));
}
