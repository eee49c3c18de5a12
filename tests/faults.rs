//! Upstream failures that may pass are 502, never 404: a 404 would send a client with
//! `GOPROXY=piraeus,direct` around the proxy during an outage, which is what the proxy is for.

use crate::common::{Sandbox, invocations};

#[test]
fn an_upstream_that_refuses_connections_is_a_502_not_a_404() {
    let sandbox = Sandbox::new();
    // git reaches one module's repository on a loopback port where nothing listens, and
    // another's on a host name that does not resolve, whichever scheme the go command tries.
    let mut gitconfig = std::fs::OpenOptions::new()
        .append(true)
        .open(sandbox.home().join(".gitconfig"))
        .unwrap();
    std::io::Write::write_all(
        &mut gitconfig,
        b"[url \"https://127.0.0.1:1/refused\"]\n\
          \tinsteadOf = https://example.test/refused\n\
          \tinsteadOf = git://example.test/refused\n\
          \tinsteadOf = ssh://example.test/refused\n\
          \tinsteadOf = git+ssh://example.test/refused\n\
          [url \"https://piraeus-test.invalid/unresolvable\"]\n\
          \tinsteadOf = https://example.test/unresolvable\n\
          \tinsteadOf = git://example.test/unresolvable\n\
          \tinsteadOf = ssh://example.test/unresolvable\n\
          \tinsteadOf = git+ssh://example.test/unresolvable\n",
    )
    .unwrap();
    // The egress guard refuses loopback unless a fetch rule names the address.
    let policy = sandbox.path().join("policy.toml");
    std::fs::write(
        &policy,
        "[[rule]]\npattern = \"127.0.0.1\"\naction = \"fetch\"\n",
    )
    .unwrap();
    let server = sandbox.start_server_with(&["--policy", policy.to_str().unwrap()], &[]);
    for (path, says) in [
        (
            "/example.test/refused.git/@v/v1.0.0.info",
            "cannot connect to the module's origin",
        ),
        (
            "/example.test/refused.git/@v/list",
            "cannot connect to the module's origin",
        ),
        (
            "/example.test/refused.git/@latest",
            "cannot connect to the module's origin",
        ),
        (
            "/example.test/refused.git/@v/main.info",
            "cannot connect to the module's origin",
        ),
        (
            "/example.test/unresolvable.git/@v/v1.0.0.info",
            "cannot resolve the module origin's host name",
        ),
        (
            "/example.test/unresolvable.git/@v/list",
            "cannot resolve the module origin's host name",
        ),
    ] {
        let response = server.get(path);
        let body = response.text();
        assert_eq!(response.status, 502, "{path}: {body}");
        // The client learns what failed in general terms and a request id; the address is
        // for the operator, in a log line under that id (the fetch's, for a download: it
        // carries the id of the request that started it).
        assert!(body.contains(says), "{path}: {body}");
        assert!(!body.contains("127.0.0.1"), "{path}: {body}");
        // The id in the body is the one in the x-request-id header and in this request's log
        // lines: the failure as the client was told it, and the request line with its path
        // and status.
        let id = body
            .lines()
            .find_map(|line| line.strip_prefix("request id: "))
            .unwrap_or_else(|| panic!("{path}: no request id in {body:?}"));
        assert!(!id.trim().is_empty(), "{path}: {body}");
        assert_eq!(response.header("x-request-id"), Some(id), "{path}");
        let log = server.log();
        let tagged = format!("request_id=\"{id}\"");
        // A logged error may span lines (git's message has its own): an entry is a line that
        // starts with a timestamp and the lines that follow it.
        let mut entries: Vec<String> = Vec::new();
        for line in log.lines() {
            match entries.last_mut() {
                Some(entry) if !line.starts_with(|c: char| c.is_ascii_digit()) => {
                    entry.push('\n');
                    entry.push_str(line);
                }
                _ => entries.push(line.to_string()),
            }
        }
        let lines: Vec<&String> = entries
            .iter()
            .filter(|line| line.contains(&tagged))
            .collect();
        assert!(
            lines
                .iter()
                .any(|line| line.contains("request failed") && line.contains(says)),
            "{path}: the failure is not logged under {id}:\n{log}"
        );
        assert!(
            lines
                .iter()
                .any(|line| line.contains(&format!("path=\"{path}\""))
                    && line.contains("status=502")),
            "{path}: no request line under {id}:\n{log}"
        );
        // What git says through the egress guard; the guard logs why.
        let detail = if path.contains("refused") {
            "'https://127.0.0.1:1/refused/': CONNECT tunnel failed, response 502"
        } else {
            "'https://piraeus-test.invalid/unresolvable/': CONNECT tunnel failed, response 404"
        };
        assert!(
            lines.iter().any(|line| line.contains(detail)),
            "{path}: the details are not logged under {id}:\n{log}"
        );
    }
    let log = server.log();
    assert!(
        log.contains("the egress guard could not connect host=\"127.0.0.1\" port=1"),
        "{log}"
    );
    assert!(
        log.contains("reason=\"cannot resolve piraeus-test.invalid"),
        "{log}"
    );

    // The go command stops at the 502 instead of fetching around the proxy.
    let client = sandbox.client("refused", &format!("{},direct", server.url()));
    let output = client.run(&[
        "mod",
        "download",
        "-json",
        "example.test/refused.git@v1.0.0",
    ]);
    assert!(!output.status.success());
    let said = String::from_utf8_lossy(&output.stdout);
    assert!(said.contains("502 Bad Gateway"), "{said}");
}

/// The go command is the expensive part of a miss: concurrent requests for one answer share
/// one run, and "no such module" is remembered for the not-found TTL.
#[test]
fn concurrent_lists_run_one_go_command_and_a_missing_module_is_remembered() {
    let sandbox = Sandbox::new();
    let repo = sandbox.module("listed.git");
    repo.commit("one");
    repo.tag("v1.0.0");
    let (counting_go, counter) = sandbox.counting_go();
    let server = sandbox.start_server_with(
        &[
            "--go",
            counting_go.to_str().unwrap(),
            "--not-found-ttl",
            "2s",
        ],
        &[],
    );

    let requests: Vec<_> = (0..32)
        .map(|_| {
            let address = server.address.clone();
            std::thread::spawn(move || {
                crate::common::http_get(&address, "/example.test/listed.git/@v/list")
                    .expect("answers")
            })
        })
        .collect();
    for request in requests {
        let response = request.join().unwrap();
        assert_eq!((response.status, response.text()), (200, "v1.0.0\n".into()));
    }
    assert_eq!(
        invocations(&counter, "listed.git"),
        1,
        "32 requests, one go command"
    );

    let missing = "/example.test/missing.git/@v/list";
    assert_eq!(server.get(missing).status, 404);
    assert_eq!(server.get(missing).status, 404);
    assert_eq!(
        invocations(&counter, "missing.git"),
        1,
        "the second 404 within the not-found TTL runs no go command"
    );
    std::thread::sleep(std::time::Duration::from_millis(2200));
    assert_eq!(server.get(missing).status, 404);
    assert_eq!(
        invocations(&counter, "missing.git"),
        2,
        "after the TTL, upstream is asked again"
    );
}

/// Downloads wait in a bounded queue: beyond it a miss gets 503 with Retry-After at once
/// instead of piling up, and lookups (lists, queries) have their own limit, so they are
/// answered while every download slot is taken.
#[test]
fn a_full_download_queue_answers_503_and_lookups_are_not_starved() {
    let sandbox = Sandbox::new();
    let repo = sandbox.module("queued.git");
    for version in ["v1.0.0", "v1.1.0", "v1.2.0"] {
        repo.write(
            "queued.go",
            format!("package queued\n\nconst V = \"{version}\"\n"),
        );
        repo.commit(version);
        repo.tag(version);
    }
    let real_go = crate::common::which("go");
    let slow_go = sandbox.path().join("slow-go");
    std::fs::write(
        &slow_go,
        format!(
            "#!/bin/sh\nif [ \"$1\" = mod ]; then sleep 5; fi\nexec '{}' \"$@\"\n",
            real_go.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&slow_go, std::fs::Permissions::from_mode(0o755)).unwrap();
    let server = sandbox.start_server_with(
        &[
            "--go",
            slow_go.to_str().unwrap(),
            "--max-concurrent-fetches",
            "1",
            "--max-queued",
            "1",
        ],
        &[],
    );
    let address = server.address.clone();
    let fetch = |version: &'static str| {
        let address = address.clone();
        std::thread::spawn(move || {
            crate::common::http_get(
                &address,
                &format!("/example.test/queued.git/@v/{version}.info"),
            )
            .unwrap()
        })
    };
    let running = fetch("v1.0.0");
    std::thread::sleep(std::time::Duration::from_millis(500));
    let waiting = fetch("v1.1.0");
    std::thread::sleep(std::time::Duration::from_millis(500));
    let refused = fetch("v1.2.0").join().unwrap();
    assert_eq!(refused.status, 503, "{}", refused.text());
    assert_eq!(refused.header("retry-after"), Some("5"));
    assert!(
        refused.text().contains("queue is full"),
        "{}",
        refused.text()
    );

    // Both download slots (running and waiting) are taken; a list still runs at once.
    let asked = std::time::Instant::now();
    let list = server.get("/example.test/queued.git/@v/list");
    assert_eq!(list.status, 200, "{}", list.text());
    // Behind the downloads it would take 5 s or more; on its own lane, well under a second.
    assert!(
        asked.elapsed() < std::time::Duration::from_secs(4),
        "the list waited {:?} behind downloads",
        asked.elapsed()
    );

    assert_eq!(running.join().unwrap().status, 200);
    assert_eq!(waiting.join().unwrap().status, 200);
    // The refusal is not remembered: once there is room, the version is fetched.
    assert_eq!(
        server.get("/example.test/queued.git/@v/v1.2.0.info").status,
        200
    );
}

/// Two instances sharing one index (here two servers on one data directory, as serve
/// functions share the table): concurrent lists run one go command between them, through the
/// index's refresh lease; once an answer exists, a refresh after its TTL keeps serving the
/// last answer to everyone who is not the one asking.
#[test]
fn instances_sharing_an_index_refresh_an_answer_once() {
    let sandbox = Sandbox::new();
    let repo = sandbox.module("shared.git");
    repo.commit("one");
    repo.tag("v1.0.0");
    let (counting_go, counter) = sandbox.counting_go();
    let arguments = ["--go", counting_go.to_str().unwrap(), "--answer-ttl", "2s"];
    let servers = [
        sandbox.start_server_with(&arguments, &[]),
        sandbox.start_server_with(&arguments, &[]),
    ];
    let ask_all = || {
        let requests: Vec<_> = (0..16)
            .map(|n| {
                let address = servers[n % 2].address.clone();
                std::thread::spawn(move || {
                    crate::common::http_get(&address, "/example.test/shared.git/@v/list")
                        .expect("answers")
                })
            })
            .collect();
        requests
            .into_iter()
            .map(|request| request.join().unwrap())
            .collect::<Vec<_>>()
    };
    for response in ask_all() {
        assert_eq!((response.status, response.text()), (200, "v1.0.0\n".into()));
    }
    assert_eq!(
        invocations(&counter, "shared.git"),
        1,
        "16 requests on two instances"
    );

    repo.write("two.go", "package shared\n");
    repo.commit("two");
    repo.tag("v1.1.0");
    std::thread::sleep(std::time::Duration::from_millis(2200));
    let outcomes: Vec<String> = ask_all()
        .iter()
        .map(|response| {
            assert_eq!(response.status, 200);
            response
                .header("x-piraeus-cache")
                .unwrap_or("-")
                .to_string()
        })
        .collect();
    assert_eq!(invocations(&counter, "shared.git"), 2, "{outcomes:?}");
    assert!(outcomes.iter().any(|o| o == "miss"), "{outcomes:?}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while servers[1].get("/example.test/shared.git/@v/list").text() != "v1.0.0\nv1.1.0\n" {
        assert!(
            std::time::Instant::now() < deadline,
            "the refreshed answer never arrived"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}
