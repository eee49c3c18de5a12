//! What the fetcher's go command and git may reach and say: the egress guard between them and
//! the network, the version-control tools they may use, and how their failures read.

use crate::common::Sandbox;

/// A module whose repository does not exist: the 404 explains what the go command tried, but
/// not where in its scratch space it ran it.
#[test]
fn go_errors_name_no_scratch_directory() {
    let sandbox = Sandbox::new();
    let server = sandbox.start_server();
    for path in [
        "/example.test/absent.git/@v/v1.0.0.info",
        "/example.test/absent.git/@v/list",
    ] {
        let response = server.get(path);
        let body = response.text();
        assert_eq!(response.status, 404, "{path}: {body}");
        assert!(body.contains("git ls-remote"), "{path}: {body}");
        assert!(
            !body.contains("$WORK") && !body.contains("pkg/mod/cache") && !body.contains(" in <"),
            "{path} shows the scratch layout: {body}"
        );
    }
    server.stop();
}
