//! What the fetcher's go command and git may reach and say: the egress guard between them and
//! the network, the version-control tools they may use, and how their failures read.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use crate::common::{Sandbox, which};

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

/// A `go` for the server that appends the `GOVCS` each fetch (not the start-up `go version`)
/// was given to a file, then runs the real go.
fn go_recording_govcs(sandbox: &Sandbox) -> (PathBuf, PathBuf) {
    let seen = sandbox.path().join("govcs-seen.log");
    let shim = sandbox.path().join("go-recording-govcs");
    std::fs::write(
        &shim,
        format!(
            "#!/bin/sh\n[ \"$1\" = version ] || echo \"GOVCS=${{GOVCS-<unset>}}\" >> '{}'\nexec '{}' \"$@\"\n",
            seen.display(),
            which("go").display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&shim, std::fs::Permissions::from_mode(0o755)).unwrap();
    (shim, seen)
}

/// The go command may use git only, so a go-import tag cannot make it run Mercurial, Bazaar,
/// Subversion or Fossil (over ssh, with the server's agent); an operator's GOVCS wins.
#[test]
fn the_go_command_may_use_git_only_unless_the_operator_says_otherwise() {
    let sandbox = Sandbox::new();
    let repo = sandbox.module("vcs.git");
    repo.commit("v1");
    repo.tag("v1.0.0");
    let (go, seen) = go_recording_govcs(&sandbox);
    let go = go.to_str().unwrap();

    let server = sandbox.start_server_with(&["--go", go], &[]);
    let response = server.get("/example.test/vcs.git/@v/v1.0.0.info");
    assert_eq!(response.status, 200, "{}", response.text());
    server.stop();
    let lines = std::fs::read_to_string(&seen).unwrap();
    assert!(!lines.is_empty());
    assert!(
        lines.lines().all(|line| line == "GOVCS=*:git"),
        "the go command ran with {lines}"
    );

    std::fs::remove_file(&seen).unwrap();
    let other_data = sandbox.path().join("other-data");
    let server = sandbox.start_server_with(
        &["--go", go, "--data-dir", other_data.to_str().unwrap()],
        &[("GOVCS", "example.test:git|hg,*:off")],
    );
    let response = server.get("/example.test/vcs.git/@v/v1.0.0.info");
    assert_eq!(response.status, 200, "{}", response.text());
    server.stop();
    let lines = std::fs::read_to_string(&seen).unwrap();
    assert!(
        lines
            .lines()
            .all(|line| line == "GOVCS=example.test:git|hg,*:off"),
        "the go command ran with {lines}"
    );
}
