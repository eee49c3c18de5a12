//! The prefetch API and the asynchronous download mode: through the serverless stack of
//! `make stack` (prefetch and fetch functions under the Lambda emulator) and `piraeus serve`.

use crate::common::{Deployment, Sandbox};
use serde_json::Value;

/// Two modules, three versions; returns the go.sum lines a direct download produces.
pub(crate) fn modules_and_their_go_sum(sandbox: &Sandbox) -> Vec<String> {
    sandbox.alpha_at_two_versions();
    let beta = sandbox.module("beta.git");
    beta.commit("one");
    beta.tag("v0.1.0");

    let direct = sandbox.client("sums-direct", "direct").download(&[
        "example.test/alpha.git@v1.0.0",
        "example.test/alpha.git@v1.1.0",
        "example.test/beta.git@v0.1.0",
    ]);
    let mut lines = Vec::new();
    for download in &direct {
        assert!(download.error.is_empty(), "{}", download.error);
        lines.push(format!(
            "{} {} {}",
            download.path, download.version, download.sum
        ));
        lines.push(format!(
            "{} {}/go.mod {}",
            download.path, download.version, download.go_mod_sum
        ));
    }
    lines
}

fn post_prefetch(server: &crate::common::Server, query: &str, body: &str) -> (u16, Value) {
    let response = crate::common::http_post(
        server.prefetch_address(),
        &format!("{}{query}", server.prefetch_path()),
        body.as_bytes(),
    )
    .expect("prefetch answers");
    let report = serde_json::from_slice(&response.body).unwrap_or_else(|_| {
        panic!(
            "{}: {}\nlog:\n{}",
            response.status,
            response.text(),
            server.log()
        )
    });
    (response.status, report)
}

fn prefetch_warms_a_go_sum_and_reports_a_tampered_line(deployment: Deployment) {
    let sandbox = Sandbox::new();
    let mut go_sum = modules_and_their_go_sum(&sandbox);
    // alpha v1.1.0's zip line gets beta's sum: a tampered line, well-formed.
    let tampered_hash = go_sum[4].rsplit(' ').next().unwrap().to_string();
    let honest_hash = go_sum[2].rsplit(' ').next().unwrap().to_string();
    go_sum[2] = format!("example.test/alpha.git v1.1.0 {tampered_hash}");
    go_sum.push("example.test/alpha.git v1.0.0".into()); // line 7: malformed
    let body = go_sum.join("\n") + "\n";

    let server = sandbox.start(deployment);
    let (status, report) = post_prefetch(&server, "?wait=120s", &body);
    assert_eq!(status, 409, "a sum differs from what is stored: {report:#}");
    let accepted = report["accepted"].as_array().unwrap();
    assert_eq!(accepted.len(), 3, "{report:#}");
    assert!(
        accepted.iter().all(|item| item["state"] == "stored"),
        "every listed version is stored: {report:#}"
    );
    assert_eq!(report["rejected"][0]["line"], 7, "{report:#}");
    assert!(
        report["rejected"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("three fields"),
        "{report:#}"
    );
    let mismatches = report["mismatches"].as_array().unwrap();
    assert_eq!(mismatches.len(), 1, "{report:#}");
    assert_eq!(mismatches[0]["line"], 3);
    assert_eq!(mismatches[0]["file"], "zip");
    assert_eq!(mismatches[0]["expected"], tampered_hash.as_str());
    assert_eq!(mismatches[0]["stored"], honest_hash.as_str());

    // Warm: the go command's requests are now hits, with no fetch; on the stack the edge
    // answers them from the bucket, never reaching the serve function.
    for version in [
        "alpha.git/@v/v1.0.0",
        "alpha.git/@v/v1.1.0",
        "beta.git/@v/v0.1.0",
    ] {
        let info = server.get(&format!("/example.test/{version}.info"));
        assert_eq!(info.status, 200, "{}", info.text());
        let (header, hit) = match deployment {
            Deployment::Local | Deployment::Chain => ("x-piraeus-cache", "hit"),
            Deployment::Serverless => ("x-piraeus-edge", "bucket"),
        };
        assert_eq!(info.header(header), Some(hit), "{version}");
    }
    // The honest go.sum is all agreement, and nothing needs fetching: 200.
    let mut honest = go_sum[..6].to_vec();
    honest[2] = format!("example.test/alpha.git v1.1.0 {honest_hash}");
    let (status, report) = post_prefetch(&server, "", &honest.join("\n"));
    assert_eq!(status, 200, "{report:#}");
    assert!(report["mismatches"].as_array().unwrap().is_empty());
}

fn prefetch_takes_a_json_list_and_a_go_mod(deployment: Deployment) {
    let sandbox = Sandbox::new();
    modules_and_their_go_sum(&sandbox);
    let server = sandbox.start(deployment);

    let (status, report) = post_prefetch(
        &server,
        "?wait=120s",
        r#"["example.test/alpha.git@latest", "example.test/beta.git@v0.1.0", "not a module"]"#,
    );
    assert_eq!(status, 200, "{report:#}");
    assert_eq!(
        report["accepted"][0]["version"], "v1.1.0",
        "latest resolved"
    );
    assert_eq!(report["accepted"][0]["state"], "stored");
    assert_eq!(report["rejected"][0]["line"], 3);

    let go_mod = "module example.test/consumer\n\ngo 1.19\n\nrequire (\n\
                  \texample.test/alpha.git v1.0.0\n\texample.test/missing.git v1.0.0 // indirect\n)\n";
    let (status, report) = post_prefetch(&server, "?wait=120s", go_mod);
    assert_eq!(status, 200, "{report:#}");
    let states: Vec<(&str, &str)> = report["accepted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| {
            (
                item["module"].as_str().unwrap(),
                item["state"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        states,
        [
            ("example.test/alpha.git", "stored"),
            ("example.test/missing.git", "failed")
        ]
    );

    // Nothing usable is a 400 with a text/plain reason; nothing was fetched for it.
    let response =
        crate::common::http_post(server.prefetch_address(), server.prefetch_path(), b"\n")
            .expect("answers");
    assert_eq!(response.status, 400, "{}", response.text());
    assert_eq!(
        response.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
}

on_both_deployments!(
    prefetch_warms_a_go_sum_and_reports_a_tampered_line,
    prefetch_takes_a_json_list_and_a_go_mod,
);

#[test]
fn async_download_mode_answers_404_at_once_and_stores_in_the_background() {
    let sandbox = Sandbox::new();
    modules_and_their_go_sum(&sandbox);
    let server = sandbox.start_server_with(&["--download-mode", "async"], &[]);

    let first = server.get("/example.test/beta.git/@v/v0.1.0.info");
    assert_eq!(first.status, 404, "{}", first.text());
    assert!(first.text().contains("being fetched"), "{}", first.text());
    assert_eq!(first.header("cache-control"), Some("no-store"));

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let response = server.get("/example.test/beta.git/@v/v0.1.0.info");
        if response.status == 200 {
            assert_eq!(response.header("x-piraeus-cache"), Some("hit"));
            break;
        }
        assert!(std::time::Instant::now() < deadline, "never stored");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // A client with a fallback gets the module from its next entry while Piraeus fetches.
    let client = sandbox.client("async-fallback", &format!("{},direct", server.url()));
    let downloads = client.download(&["example.test/alpha.git@v1.0.0"]);
    assert!(downloads[0].error.is_empty(), "{}", downloads[0].error);
}
