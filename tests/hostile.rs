//! Bad input gets a clear 4xx text/plain answer and changes nothing: no go command runs, no file
//! is written, nothing outside the data directory is read.

use crate::common::{Sandbox, invocations, snapshot};

#[test]
fn hostile_paths_are_refused_without_side_effects() {
    let sandbox = Sandbox::new();
    let (counting_go, counter) = sandbox.counting_go();
    let server = sandbox.start_server_with(&["--go", counting_go.to_str().unwrap()], &[]);
    // A file just outside the data directory, which traversal would reach.
    std::fs::write(sandbox.path().join("secret.txt"), "TOP-SECRET-CONTENTS").unwrap();
    // The server's own log file grows with every request; everything else must stay as it was.
    let log_name = server.log_path.file_name().unwrap().to_owned();
    let without_server_log = |files: Vec<(std::path::PathBuf, u64)>| -> Vec<_> {
        files
            .into_iter()
            .filter(|(path, _)| !path.ends_with(&log_name))
            .collect()
    };
    let before = snapshot(sandbox.path());

    let long_path = format!("/example.test/{}/@v/list", "a".repeat(20 * 1024));
    let long_version = format!(
        "/example.test/m.git/@v/v1.0.0-{}.info",
        "a".repeat(20 * 1024)
    );
    let hostile = [
        "/example.test/../secret.txt/@v/list",
        "/../secret.txt",
        "/example.test/%2e%2e/%2e%2e/secret.txt/@v/v1.0.0.info",
        "/example.test/m.git/@v/..%2f..%2f..%2fsecret.txt.info",
        "/example.test/m.git/@v/%2e%2e.info",
        "/example.test/m.git%00/@v/list",
        "/example.test/m.git/@v/v1.0.0%00.zip",
        "/-x.example.test/m/@v/list",
        "/example.test/m.git/@v/-exec.info",
        "/example.test/m.git/@v/--upload-pack=touch%20pwned.info",
        "/example.test/m.git;touch%20pwned/@v/list",
        "/example.test/m.git/@v/$(touch%20pwned).info",
        "/example.test/m.git/@v/%60touch%20pwned%60.info",
        "/example.test/m.git/@v/a|b.info",
        "/example.test/m.git/@v/a&b.info",
        "/example.test/%zz/@v/list",
        "/example.test/m%2/@v/list",
        "/example.test/!!m/@v/list",
        "/example.test/M.git/@v/list",
        "/example.test/m.git/@v/master.zip",
        "/example.test/m.git/@v/%ff%fe.info",
        "/example.test/m.git/@v/v1.0.0%0a.info",
        long_path.as_str(),
        long_version.as_str(),
    ];
    for path in hostile {
        let response = server.get(path);
        let shown = &path[..path.len().min(80)];
        assert!(
            (400..500).contains(&response.status),
            "{shown}: status {} {}",
            response.status,
            response.text()
        );
        assert_eq!(
            response.header("content-type"),
            Some("text/plain; charset=utf-8"),
            "{shown}"
        );
        assert!(
            !response.text().trim().is_empty(),
            "{shown}: the go command prints this reason"
        );
        assert!(
            !response.text().contains("TOP-SECRET"),
            "{shown}: {}",
            response.text()
        );
    }
    for method in ["POST", "PUT", "DELETE"] {
        let response = crate::common::http_request(
            &server.address,
            method,
            "/example.test/m.git/@v/v1.0.0.info",
        )
        .unwrap();
        assert_eq!(response.status, 405, "{method}");
    }
    assert_eq!(
        invocations(&counter, "-json"),
        0,
        "no go command ran for bad input"
    );
    assert_eq!(
        without_server_log(snapshot(sandbox.path())),
        without_server_log(before),
        "nothing was written"
    );
    assert!(!sandbox.path().join("pwned").exists() && !std::path::Path::new("pwned").exists());
}
