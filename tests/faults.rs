//! Upstream failures that may pass are 502, never 404: a 404 would send a client with
//! `GOPROXY=piraeus,direct` around the proxy during an outage, which is what the proxy is for.

use crate::common::{Sandbox, invocations};

#[test]
fn an_upstream_that_refuses_connections_is_a_502_not_a_404() {
    let sandbox = Sandbox::new();
    // git reaches this module's repository on a loopback port where nothing listens, whichever
    // scheme the go command tries.
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
          \tinsteadOf = git+ssh://example.test/refused\n",
    )
    .unwrap();
    let server = sandbox.start_server();
    for path in [
        "/example.test/refused.git/@v/v1.0.0.info",
        "/example.test/refused.git/@v/list",
        "/example.test/refused.git/@latest",
        "/example.test/refused.git/@v/main.info",
    ] {
        let response = server.get(path);
        let body = response.text();
        assert_eq!(response.status, 502, "{path}: {body}");
        assert!(
            body.contains("Failed to connect to 127.0.0.1 port 1"),
            "{path}: git's own explanation is kept: {body}"
        );
    }

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
