//! `GET /metrics` on `piraeus serve --metrics`: the counters move as a miss, a hit and a failure
//! go through, with the real go command as the client; off by default; behind the client
//! tokens on the main listener, open on `--metrics-listen`.

use std::io::{Read, Write};
use std::net::TcpStream;

use crate::common::{Sandbox, Server, http_get};

/// The value of the sample `series` (name and labels exactly as exposed); 0 when absent.
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map_or(0.0, |value| value.trim().parse().expect("a number"))
}

/// The sum of every sample of `name` whose labels contain all of `labels`.
fn total(text: &str, name: &str, labels: &[&str]) -> f64 {
    text.lines()
        .filter_map(|line| line.strip_prefix(name)?.strip_prefix('{'))
        .filter(|rest| labels.iter().all(|label| rest.contains(label)))
        .filter_map(|rest| rest.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

fn scrape(server: &Server) -> String {
    let response = server.get("/metrics");
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(
        response.header("content-type"),
        Some("application/openmetrics-text; version=1.0.0; charset=utf-8")
    );
    response.text()
}

#[test]
fn metrics_count_a_miss_a_hit_and_a_failure() {
    let sandbox = Sandbox::new();
    let repo = sandbox.module("counted.git");
    repo.commit("one");
    repo.tag("v1.0.0");
    let server = sandbox.start_server_with(&["--metrics"], &[]);
    let before = scrape(&server);
    assert!(before.ends_with("# EOF\n"), "{before}");
    assert_eq!(
        sample(&before, "piraeus_queue_depth{queue=\"download\"}"),
        0.0
    );
    assert_eq!(
        sample(&before, "piraeus_fetches_total{outcome=\"stored\"}"),
        0.0
    );

    // A miss: the go command downloads through the proxy, which fetches.
    let client = sandbox.client("first", &server.url());
    let downloaded = client.download(&["example.test/counted.git@v1.0.0"]);
    assert!(downloaded[0].error.is_empty(), "{}", downloaded[0].error);
    let after_miss = scrape(&server);
    let stored = "piraeus_fetches_total{outcome=\"stored\"}";
    assert_eq!(sample(&after_miss, stored), 1.0, "{after_miss}");
    assert_eq!(
        sample(
            &after_miss,
            "piraeus_fetch_duration_seconds_count{outcome=\"stored\"}"
        ),
        1.0
    );
    let fetched = "piraeus_fetched_bytes_total{outcome=\"stored\"}";
    assert!(sample(&after_miss, fetched) > 0.0, "{after_miss}");
    let misses = ["outcome=\"miss\"", "status=\"200\""];
    assert_eq!(
        total(&after_miss, "piraeus_requests_total", &misses),
        1.0,
        "one request waited for the fetch\n{after_miss}"
    );
    assert_eq!(
        sample(&after_miss, "piraeus_lease_waits_total{outcome=\"stored\"}"),
        1.0,
        "the miss waited for its fetch\n{after_miss}"
    );

    // Hits: a second client with an empty cache gets everything from storage.
    let zip_hits = "piraeus_requests_total{route=\"zip\",outcome=\"hit\",status=\"200\"}";
    let zip_bytes = "piraeus_served_bytes_total{route=\"zip\",outcome=\"hit\"}";
    let hits_before = sample(&after_miss, zip_hits);
    let bytes_before = sample(&after_miss, zip_bytes);
    let second = sandbox.client("second", &server.url());
    second.download(&["example.test/counted.git@v1.0.0"]);
    let zip = server.get("/example.test/counted.git/@v/v1.0.0.zip");
    assert_eq!(zip.status, 200);
    let after_hit = scrape(&server);
    assert_eq!(
        sample(&after_hit, zip_hits),
        hits_before + 2.0,
        "{after_hit}"
    );
    assert_eq!(
        sample(&after_hit, zip_bytes),
        bytes_before + 2.0 * zip.body.len() as f64,
        "{after_hit}"
    );
    assert_eq!(sample(&after_hit, stored), 1.0, "hits fetch nothing");
    assert!(
        sample(
            &after_hit,
            "piraeus_request_duration_seconds_count{route=\"zip\",outcome=\"hit\"}"
        ) >= 2.0
    );

    // A failure: a version upstream does not have.
    let failed = sandbox
        .client("failed", &server.url())
        .download(&["example.test/counted.git@v1.9.9"]);
    assert!(!failed[0].error.is_empty());
    let after_failure = scrape(&server);
    assert_eq!(
        sample(&after_failure, "piraeus_fetches_total{outcome=\"failed\"}"),
        1.0,
        "{after_failure}"
    );
    assert_eq!(
        total(
            &after_failure,
            "piraeus_requests_total",
            &["outcome=\"error\"", "status=\"404\""]
        ),
        1.0,
        "{after_failure}"
    );
    assert_eq!(sample(&after_failure, stored), 1.0);
    assert_eq!(
        sample(&after_failure, "piraeus_queue_depth{queue=\"download\"}"),
        0.0
    );
    assert_eq!(
        sample(&after_failure, "piraeus_integrity_conflicts_total"),
        0.0
    );
    // Scrapes are counted as what they are, not as health checks.
    let scrapes = "piraeus_requests_total{route=\"metrics\",outcome=\"other\",status=\"200\"}";
    assert!(sample(&scrape(&server), scrapes) >= 3.0, "{after_failure}");
}

#[test]
fn metrics_are_off_by_default() {
    let sandbox = Sandbox::new();
    let server = sandbox.start_server();
    let response = server.get("/metrics");
    assert_ne!(response.status, 200, "{}", response.text());
    assert!(!response.text().contains("piraeus_requests"));
}

/// `piraeus token new NAME`: the secret is the last line of stdout.
fn new_token(sandbox: &Sandbox, name: &str) -> (std::path::PathBuf, String) {
    let tokens = sandbox.path().join("tokens.json");
    let secret = crate::common::new_token(&tokens, name);
    (tokens, secret)
}

#[test]
fn metrics_take_tokens_on_the_main_listener_and_none_on_their_own() {
    use base64::Engine;
    let sandbox = Sandbox::new();
    let (tokens, secret) = new_token(&sandbox, "prometheus");
    let tokens = tokens.to_str().unwrap();

    let server = sandbox.start_server_with(&["--metrics", "--auth-file", tokens], &[]);
    assert_eq!(server.get("/metrics").status, 401);
    let credentials =
        base64::engine::general_purpose::STANDARD.encode(format!("prometheus:{secret}"));
    let answer = get_with_token(&server.address, "/metrics", &credentials);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("# EOF"), "{answer}");
    server.stop();

    let metrics_address = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().to_string()
    };
    let server = sandbox.start_server_with(
        &["--metrics-listen", &metrics_address, "--auth-file", tokens],
        &[],
    );
    let open = http_get(&metrics_address, "/metrics").unwrap();
    assert_eq!(open.status, 200, "{}", open.text());
    assert!(open.text().contains("piraeus_queue_depth"));
    assert_eq!(
        http_get(&metrics_address, "/example.test/x.git/@v/list")
            .unwrap()
            .status,
        404,
        "the metrics listener serves nothing else"
    );
    let main = get_with_token(&server.address, "/metrics", &credentials);
    assert!(
        !main.starts_with("HTTP/1.1 200"),
        "nor does the main listener serve metrics then: {main}"
    );
}

fn get_with_token(address: &str, path: &str, credentials: &str) -> String {
    let mut stream = TcpStream::connect(address).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {credentials}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}
