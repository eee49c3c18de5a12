//! Upstream failures that may pass are 502, never 404: a 404 would send a client with
//! `GOPROXY=piraeus,direct` around the proxy during an outage, which is what the proxy is for.

use crate::common::Sandbox;

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
