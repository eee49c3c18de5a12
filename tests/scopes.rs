//! Token scopes on `piraeus serve`: a token made with `--modules` reads only those modules,
//! on every route that names one (artifacts, `list`, `@latest`, queries, checksum-database
//! lookups, each item of a prefetch), sees only them in `/index`, and may not read
//! `/metrics`; a token without a scope, and every entry of a token file written before
//! scopes, reads everything.

use std::path::Path;
use std::process::Command;

use crate::common::{
    HttpResponse, Sandbox, Server, basic, http_request_with_header, invocations, new_token,
};

const ALPHA: &str = "example.test/alpha.git";
const BETA: &str = "example.test/beta.git";

fn token(tokens: &Path, arguments: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_piraeus"))
        .args(["token"])
        .args(arguments)
        .arg("--auth-file")
        .arg(tokens)
        .output()
        .unwrap()
}

fn get(server: &Server, path: &str, authorization: &str) -> HttpResponse {
    http_request_with_header(
        &server.address,
        "GET",
        path,
        Some(("Authorization", authorization)),
    )
    .unwrap()
}

/// POST /prefetch with `body`, as `authorization`.
fn prefetch(server: &Server, body: &str, authorization: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(&server.address).unwrap();
    write!(
        stream,
        "POST /prefetch?wait=60s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
         Authorization: {authorization}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    (status, answer)
}

#[test]
fn a_scoped_token_reads_only_its_modules_on_every_route() {
    let sandbox = Sandbox::new();
    for name in ["alpha.git", "beta.git", "gamma.git"] {
        let repo = sandbox.module(name);
        repo.commit("one");
        repo.tag("v1.0.0");
    }
    // Stored while no token was needed.
    let open = sandbox.start_server();
    let stored = sandbox
        .client("fill", &open.url())
        .download(&[&format!("{ALPHA}@v1.0.0"), &format!("{BETA}@v1.0.0")]);
    assert!(stored.iter().all(|d| d.error.is_empty()), "{stored:?}");
    open.stop();

    // A token file from before scopes: its entry has no `modules` and reads everything.
    let tokens = sandbox.path().join("tokens.json");
    let old_secret = "0123456789abcdef";
    let hash = piraeus_core::auth::hash_secret(old_secret);
    std::fs::write(
        &tokens,
        format!(
            r#"{{"tokens":[{{"name":"old","sha256":"{hash}","created":"2026-01-01T00:00:00Z"}}]}}"#
        ),
    )
    .unwrap();
    let made = token(
        &tokens,
        &[
            "new",
            "team",
            "--modules",
            "example.test/Alpha.git/,example.test/gamma.*",
        ],
    );
    assert!(made.status.success(), "{made:?}");
    let team = basic(
        "team",
        String::from_utf8_lossy(&made.stdout)
            .lines()
            .last()
            .unwrap(),
    );
    let full = basic("ci", &new_token(&tokens, "ci"));
    let old = basic("old", old_secret);
    // Invalid globs: exit 2 with the reason, nothing written.
    let before = std::fs::read_to_string(&tokens).unwrap();
    for bad in ["/example.test", "example.test/[a", "https://example.test/x"] {
        let refused = token(&tokens, &["new", "bad", "--modules", bad]);
        assert_eq!(refused.status.code(), Some(2), "{bad}: {refused:?}");
        let said = String::from_utf8_lossy(&refused.stderr);
        assert!(said.contains(bad), "{bad}: {said}");
    }
    assert_eq!(std::fs::read_to_string(&tokens).unwrap(), before);
    let listed = token(&tokens, &["list"]);
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert!(
        listed.lines().any(|line| line.starts_with("team\t")
            && line.ends_with("example.test/Alpha.git/,example.test/gamma.*")),
        "{listed}"
    );
    assert!(
        listed
            .lines()
            .any(|line| line.starts_with("old\t") && line.ends_with("all modules")),
        "{listed}"
    );

    let (go, counter) = sandbox.counting_go();
    let server = sandbox.start_server_with(
        &[
            "--auth-file",
            tokens.to_str().unwrap(),
            "--metrics",
            "--go",
            go.to_str().unwrap(),
        ],
        &[],
    );
    let outside = [
        format!("/{BETA}/@v/v1.0.0.info"),
        format!("/{BETA}/@v/v1.0.0.zip"),
        format!("/{BETA}/@v/list"),
        format!("/{BETA}/@latest"),
        format!("/{BETA}/@v/master.info"),
        "/example.test/delta.git/@v/v1.0.0.mod".to_string(),
        format!("/sumdb/sum.golang.org/lookup/{BETA}@v1.0.0"),
    ];
    for path in &outside {
        let response = get(&server, path, &team);
        let body = response.text();
        assert_eq!(response.status, 403, "{path}: {body}");
        assert!(body.contains("\"team\""), "names the token: {path}: {body}");
        let module = if path.contains("delta") {
            "example.test/delta.git"
        } else {
            BETA
        };
        assert!(
            body.contains(&format!("may not read {module}")),
            "names the module: {path}: {body}"
        );
    }
    let runs = std::fs::read_to_string(&counter).unwrap_or_default();
    assert_eq!(
        invocations(&counter, "example.test"),
        0,
        "nothing was looked up or fetched: {runs}"
    );
    for path in [
        format!("/{ALPHA}/@v/v1.0.0.info"),
        format!("/{ALPHA}/@v/v1.0.0.zip"),
        format!("/{ALPHA}/@v/list"),
        // In any letter case, as the pattern was written.
        "/example.test/gamma.git/@v/list".to_string(),
    ] {
        let response = get(&server, &path, &team);
        assert_eq!(response.status, 200, "{path}: {}", response.text());
    }
    for authorization in [&full, &old] {
        for path in [
            format!("/{BETA}/@v/v1.0.0.info"),
            format!("/{ALPHA}/@v/list"),
        ] {
            let response = get(&server, &path, authorization);
            assert_eq!(response.status, 200, "{path}: {}", response.text());
        }
    }

    // /index: only the token's modules.
    let feed = get(&server, "/index", &team).text();
    assert!(feed.contains(ALPHA) && !feed.contains(BETA), "{feed}");
    let feed = get(&server, "/index", &full).text();
    assert!(feed.contains(ALPHA) && feed.contains(BETA), "{feed}");

    // /metrics: unscoped tokens only.
    assert_eq!(get(&server, "/metrics", &team).status, 403);
    assert_eq!(get(&server, "/metrics", &full).status, 200);

    // Prefetch: each item judged; nothing in scope at all is 403.
    let (status, answer) = prefetch(&server, &format!("[\"{BETA}@v1.0.0\"]"), &team);
    assert_eq!(status, 403, "{answer}");
    assert!(
        answer.contains("may not read example.test/beta.git"),
        "{answer}"
    );
    let (status, answer) = prefetch(
        &server,
        &format!("[\"{BETA}@v1.0.0\", \"{ALPHA}@v1.0.0\"]"),
        &team,
    );
    assert_eq!(status, 200, "{answer}");
    assert!(
        answer.contains("may not read example.test/beta.git"),
        "{answer}"
    );
    assert_eq!(invocations(&counter, "beta"), 0, "beta was never fetched");
}
