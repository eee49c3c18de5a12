//! Immutability and integrity of what Piraeus stores.

use crate::common::{Sandbox, invocations};

fn tagged_repo(sandbox: &Sandbox) -> crate::common::Repo {
    sandbox.module_at_two_tags("pinned.git", ["v1.0.0", "v1.1.0"])
}

#[test]
fn cached_versions_survive_force_pushed_tags_and_deleted_repositories() {
    let sandbox = Sandbox::new();
    let repo = tagged_repo(&sandbox);
    let server = sandbox.start_server_with(&["--answer-ttl", "0s"], &[]);
    let targets = [
        "example.test/pinned.git@v1.0.0",
        "example.test/pinned.git@v1.1.0",
    ];
    let original = sandbox.client("first", &server.url()).download(&targets);
    assert!(
        original
            .iter()
            .all(|d| d.error.is_empty() && d.sum.starts_with("h1:")),
        "{original:?}"
    );

    // Someone moves v1.0.0 to different code upstream.
    repo.write("pinned.go", "package pinned\n\nconst Rewritten = true\n");
    repo.commit("rewrite history");
    repo.git(&["tag", "-f", "v1.0.0"]);
    let moved = sandbox
        .client("moved-direct", "direct")
        .download(&["example.test/pinned.git@v1.0.0"]);
    assert_ne!(
        moved[0].sum, original[0].sum,
        "the tag really moved upstream"
    );
    assert_eq!(
        sandbox
            .client("after-move", &server.url())
            .download(&targets),
        original,
        "piraeus serves what it stored"
    );

    // Then the repository disappears.
    repo.delete();
    assert!(
        !sandbox
            .client("gone-direct", "direct")
            .download(&["example.test/pinned.git@v1.0.0"])[0]
            .error
            .is_empty()
    );
    assert_eq!(
        sandbox
            .client("after-delete", &server.url())
            .download(&targets),
        original
    );
    let client = sandbox.client("list-after-delete", &server.url());
    assert_eq!(
        client.versions("example.test/pinned.git", false),
        "example.test/pinned.git v1.0.0 v1.1.0"
    );
    let latest = server.get("/example.test/pinned.git/@latest");
    assert_eq!(
        latest.status,
        200,
        "latest falls back to stored versions: {}",
        latest.text()
    );
    assert!(
        latest.text().contains("\"Version\":\"v1.1.0\""),
        "{}",
        latest.text()
    );
}

#[test]
fn the_data_directory_is_a_goproxy_tree() {
    let sandbox = Sandbox::new();
    tagged_repo(&sandbox);
    let server = sandbox.start_server();
    let through_piraeus = sandbox
        .client("served", &server.url())
        .download(&["example.test/pinned.git@v1.0.0"]);
    server.stop();
    let from_files = sandbox
        .client(
            "from-files",
            &format!("file://{}", sandbox.data_dir().display()),
        )
        .download(&["example.test/pinned.git@v1.0.0"]);
    assert_eq!(from_files, through_piraeus);
}

#[test]
fn concurrent_misses_run_one_download() {
    let sandbox = Sandbox::new();
    tagged_repo(&sandbox);
    let (counting_go, counter) = sandbox.counting_go();
    let server = sandbox.start_server_with(&["--go", counting_go.to_str().unwrap()], &[]);

    // Raw requests for every artifact of one version, all at once, before anything is stored.
    let requests: Vec<_> = (0..24)
        .map(|request| {
            let address = server.address.clone();
            let extension = ["info", "mod", "zip"][request % 3];
            std::thread::spawn(move || {
                crate::common::http_get(
                    &address,
                    &format!("/example.test/pinned.git/@v/v1.1.0.{extension}"),
                )
                .unwrap()
            })
        })
        .collect();
    // And whole go clients, each with an empty cache.
    let clients: Vec<_> = (0..4)
        .map(|n| sandbox.client(&format!("concurrent{n}"), &server.url()))
        .collect();
    let downloads: Vec<_> = clients
        .into_iter()
        .map(|client| {
            std::thread::spawn(move || client.download(&["example.test/pinned.git@v1.1.0"]))
        })
        .collect();

    for request in requests {
        let response = request.join().unwrap();
        assert_eq!(response.status, 200, "{}", response.text());
    }
    let sums: Vec<_> = downloads
        .into_iter()
        .map(|download| download.join().unwrap()[0].sum.clone())
        .collect();
    assert!(
        sums.iter()
            .all(|sum| sum == &sums[0] && sum.starts_with("h1:")),
        "{sums:?}"
    );
    assert_eq!(
        invocations(&counter, "mod download"),
        1,
        "one go mod download for one version:\n{}",
        server.log()
    );
}

#[test]
fn verify_reports_tampered_artifacts() {
    let sandbox = Sandbox::new();
    tagged_repo(&sandbox);
    let server = sandbox.start_server();
    sandbox.client("fill", &server.url()).download(&[
        "example.test/pinned.git@v1.0.0",
        "example.test/pinned.git@v1.1.0",
    ]);
    server.stop();

    let verify = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_piraeus"))
            .args(["verify", "--data-dir"])
            .arg(sandbox.data_dir())
            .output()
            .unwrap()
    };
    let clean = verify();
    assert!(
        clean.status.success(),
        "{}",
        String::from_utf8_lossy(&clean.stdout)
    );
    assert!(
        String::from_utf8_lossy(&clean.stdout)
            .contains("verified 2 versions: 2 ok, 0 with problems")
    );

    // Replace one version's zip with another's (h1: covers contents, not zip metadata) and
    // rewrite the other version's go.mod.
    let zip = sandbox
        .data_dir()
        .join("example.test/pinned.git/@v/v1.0.0.zip");
    std::fs::remove_file(&zip).unwrap();
    std::fs::copy(
        sandbox
            .data_dir()
            .join("example.test/pinned.git/@v/v1.1.0.zip"),
        &zip,
    )
    .unwrap();
    let module = sandbox
        .data_dir()
        .join("example.test/pinned.git/@v/v1.1.0.mod");
    std::fs::remove_file(&module).unwrap();
    std::fs::write(&module, "module example.test/evil\n").unwrap();

    let tampered = verify();
    let stdout = String::from_utf8_lossy(&tampered.stdout);
    assert_eq!(tampered.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("MISMATCH example.test/pinned.git@v1.0.0: zip"),
        "{stdout}"
    );
    assert!(
        stdout.contains("MISMATCH example.test/pinned.git@v1.1.0: go.mod hash"),
        "{stdout}"
    );
    assert!(stdout.contains("0 ok, 2 with problems"), "{stdout}");
}

/// A zip left in storage by an earlier, unfinished fetch that differs from what upstream serves
/// now (the tag was moved in between) is a conflict: the version is never marked ready with
/// the old zip beside a new go.mod and .info, and nothing stored is overwritten.
#[test]
fn a_stored_zip_that_differs_from_upstream_is_a_conflict_not_a_mixed_version() {
    let sandbox = Sandbox::new();
    let repo = sandbox.module("moved.git");
    repo.commit("v1");
    repo.tag("v1.0.0");
    let zip = sandbox
        .data_dir()
        .join("example.test/moved.git/@v/v1.0.0.zip");
    std::fs::create_dir_all(zip.parent().unwrap()).unwrap();
    let left_over = b"PK\x05\x06\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0";
    std::fs::write(&zip, left_over).unwrap();

    let server = sandbox.start_server();
    for extension in ["info", "mod", "zip"] {
        let response = server.get(&format!("/example.test/moved.git/@v/v1.0.0.{extension}"));
        assert_eq!(response.status, 409, "{extension}: {}", response.text());
    }
    assert_eq!(
        std::fs::read(&zip).unwrap(),
        left_over,
        "the stored zip is kept"
    );
    assert!(
        !sandbox
            .data_dir()
            .join("example.test/moved.git/@v/v1.0.0.info")
            .exists(),
        "no new part was stored beside the old zip"
    );
    assert!(
        server.log().contains("alarm=\"integrity\""),
        "{}",
        server.log()
    );
}
