//! What the second security review found, each against `piraeus serve` as an attacker would
//! try it: padded credentials, policy patterns that failed open (a trailing slash, letter
//! case), shared caches told `public` behind tokens, and `/index` naming denied modules. Each
//! test failed on the code before its fix (docs/security.md lists them).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{Sandbox, Server, basic, http_request_with_header, invocations, new_token};

/// The server's resident memory, in KiB.
fn rss_kib(server: &Server) -> u64 {
    std::fs::read_to_string(format!("/proc/{}/status", server.pid()))
        .unwrap()
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.split_whitespace().next()?.parse().ok())
        .expect("VmRSS in /proc/PID/status")
}

/// One request with `authorization` as sent; the status, or `None` when the server closed the
/// connection before answering (as hyper may for a head it will not read).
fn status_with(server: &Server, path: &str, authorization: &str) -> Option<u16> {
    let mut stream = TcpStream::connect(&server.address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let head = format!(
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: {authorization}\r\n\r\n"
    );
    // The server may refuse before it has read it all.
    let _ = stream.write_all(head.as_bytes());
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    answer.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn padded_credentials_get_431_and_cannot_grow_memory() {
    let sandbox = Sandbox::new();
    let tokens = sandbox.path().join("tokens.json");
    let secret = new_token(&tokens, "ci");
    let server = sandbox.start_server_with(&["--auth-file", tokens.to_str().unwrap()], &[]);
    let credential = basic("ci", &secret);
    let encoded = credential.strip_prefix("Basic ").unwrap();
    let padded = |spaces: usize| format!("Basic {}{encoded}", " ".repeat(spaces));
    assert_eq!(status_with(&server, "/version", &padded(1)), Some(200));
    assert_eq!(status_with(&server, "/version", &padded(100)), Some(200));
    // Over 16 KiB of headers: 431, whatever the credential.
    for spaces in [17 * 1024, 40 * 1024] {
        assert_eq!(
            status_with(&server, "/version", &padded(spaces)),
            Some(431),
            "{spaces} spaces"
        );
    }
    // The review's attack: 300 requests each padded to ~350 KB took RSS from 22 to 134 MB.
    let before = rss_kib(&server);
    for _ in 0..300 {
        let status = status_with(&server, "/version", &padded(350_000));
        assert!(matches!(status, None | Some(431)), "{status:?}");
    }
    let grown = rss_kib(&server).saturating_sub(before);
    assert!(grown < 20 * 1024, "RSS grew by {grown} KiB");
    // And the real client still gets in.
    assert_eq!(status_with(&server, "/version", &credential), Some(200));
}

/// `piraeus serve --policy POLICY` with a go command that counts its runs.
fn serve_with_policy(sandbox: &Sandbox, policy: &str) -> (Server, std::path::PathBuf) {
    let file = sandbox.path().join("policy.toml");
    std::fs::write(&file, policy).unwrap();
    crate::security::start_with_policy(sandbox, &file)
}

#[test]
fn policy_patterns_match_with_a_trailing_slash_and_in_any_letter_case() {
    let sandbox = Sandbox::new();
    for name in ["denied.git", "banned.git", "open.git"] {
        let repo = sandbox.module(name);
        repo.commit("one");
        repo.tag("v1.0.0");
    }
    let (server, counter) = serve_with_policy(
        &sandbox,
        r#"
[[rule]]
pattern = "example.test/denied.git/"
action = "deny"
[[rule]]
pattern = "example.test/banned.git"
action = "deny"
"#,
    );
    for path in [
        "/example.test/denied.git/@v/list",
        "/example.test/denied.git/@v/v1.0.0.info",
        "/example.test/!banned.git/@v/list",
        "/example.test/!b!a!n!n!e!d.git/@latest",
        "/example.test/ba!nned.git/@v/v1.0.0.zip",
    ] {
        let response = server.get(path);
        assert_eq!(response.status, 403, "{path}: {}", response.text());
    }
    assert_eq!(invocations(&counter, "denied"), 0);
    assert_eq!(invocations(&counter, "anned"), 0);
    let open = server.get("/example.test/open.git/@v/v1.0.0.info");
    assert_eq!(open.status, 200, "{}", open.text());
}

#[test]
fn a_policy_pattern_that_can_never_match_stops_the_server_naming_it() {
    let sandbox = Sandbox::new();
    for (pattern, says) in [
        ("/corp.example.com", "empty path element"),
        ("corp.example.com//team", "empty path element"),
        ("https://corp.example.com", "matches no module"),
    ] {
        let file = sandbox.path().join("never.toml");
        std::fs::write(
            &file,
            format!("[[rule]]\npattern = \"{pattern}\"\naction = \"deny\"\nprivate = true\n"),
        )
        .unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_piraeus"))
            .args(["serve", "--listen", "127.0.0.1:0", "--policy"])
            .arg(&file)
            .arg("--data-dir")
            .arg(sandbox.data_dir())
            .env("HOME", sandbox.home())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("serve started with pattern {pattern:?}");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let mut stderr = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        assert!(!status.success(), "{pattern}: {stderr}");
        assert!(stderr.contains(pattern), "names {pattern}: {stderr}");
        assert!(stderr.contains(says), "{pattern}: {stderr}");
    }
}

#[test]
fn answers_behind_tokens_are_private_to_the_client() {
    let sandbox = Sandbox::new();
    let repo = sandbox.module("alpha.git");
    repo.commit("one");
    repo.tag("v1.0.0");
    let paths = [
        "/example.test/alpha.git/@v/v1.0.0.info",
        "/example.test/alpha.git/@v/v1.0.0.mod",
        "/example.test/alpha.git/@v/v1.0.0.zip",
        "/example.test/alpha.git/@v/list",
        "/example.test/alpha.git/@latest",
    ];
    // Without tokens nothing is secret: shared caches may keep the answers.
    let open = sandbox.start_server();
    for path in paths {
        let response = open.get(path);
        assert_eq!(response.status, 200, "{path}");
        let control = response.header("cache-control").unwrap();
        assert!(control.starts_with("public"), "{path}: {control}");
    }
    open.stop();
    let tokens = sandbox.path().join("tokens.json");
    let secret = new_token(&tokens, "ci");
    let server = sandbox.start_server_with(&["--auth-file", tokens.to_str().unwrap()], &[]);
    let authorization = basic("ci", &secret);
    for path in paths {
        let response = http_request_with_header(
            &server.address,
            "GET",
            path,
            Some(("Authorization", &authorization)),
        )
        .unwrap();
        assert_eq!(response.status, 200, "{path}");
        let control = response.header("cache-control").unwrap();
        assert!(control.starts_with("private"), "{path}: {control}");
        assert!(!control.contains("public"), "{path}: {control}");
        let vary = response.header("vary").unwrap_or_default();
        assert!(vary.contains("Authorization"), "{path}: vary {vary:?}");
    }
}

#[test]
fn the_index_leaves_out_what_the_policy_denies() {
    let sandbox = Sandbox::new();
    for name in ["denied.git", "open.git"] {
        let repo = sandbox.module(name);
        repo.commit("one");
        repo.tag("v1.0.0");
    }
    // Stored before the policy denied one of them.
    let before = sandbox.start_server();
    let stored = sandbox.client("fill", &before.url()).download(&[
        "example.test/denied.git@v1.0.0",
        "example.test/open.git@v1.0.0",
    ]);
    assert!(stored.iter().all(|d| d.error.is_empty()), "{stored:?}");
    before.stop();
    let (server, _) = serve_with_policy(
        &sandbox,
        "[[rule]]\npattern = \"example.test/Denied.git\"\naction = \"deny\"\n",
    );
    for query in ["", "?limit=1", "?limit=2"] {
        let feed = server.get(&format!("/index{query}"));
        assert_eq!(feed.status, 200);
        let text = feed.text();
        assert!(!text.contains("denied"), "{query}: {text}");
        assert!(text.contains("example.test/open.git"), "{query}: {text}");
    }
}
