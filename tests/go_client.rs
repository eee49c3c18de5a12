//! The real go command against Piraeus, every answer compared with `GOPROXY=direct`. Each case
//! runs three times: against `piraeus serve` (module `local`), against the serverless stack of
//! `make stack`, the functions under the Lambda emulator over moto (module `serverless`), and
//! against `piraeus serve` whose upstream is another Piraeus, spoken to natively (`chain`).

use crate::common::{
    Deployment, Sandbox, Server, assert_same_as_direct, go_mod, incompressible_bytes,
};

/// Through the stack's edge, as through CloudFront: a version not stored yet goes to the serve
/// function (which has it fetched); once stored, its .mod and .zip come from the bucket, then
/// from the edge's cache; list and @latest always go to the serve function.
fn edge_answers_stored_artifacts_from_the_bucket(server: &Server, module: &str, version: &str) {
    let source = |path: String| {
        let response = server.get(&path);
        assert_eq!(response.status, 200, "{path}: {}", response.text());
        response
            .header("x-piraeus-edge")
            .unwrap_or_default()
            .to_string()
    };
    let artifact = |extension: &str| format!("/{module}/@v/{version}.{extension}");
    assert_eq!(source(artifact("info")), "serve", "not stored yet");
    assert_eq!(source(artifact("mod")), "bucket");
    assert_eq!(source(artifact("zip")), "bucket");
    assert_eq!(source(artifact("zip")), "cache", "immutable, so kept");
    assert_eq!(source(format!("/{module}/@v/list")), "serve");
    assert_eq!(source(format!("/{module}/@latest")), "serve");
    // A 200 on a route the edge caches, but marked no-store: asked of the serve function
    // again, never answered from the cache.
    let version = server.get("/version");
    assert_eq!(version.header("cache-control"), Some("no-store"));
    assert_eq!(
        source("/version".to_string()),
        "serve",
        "no-store is not kept"
    );
}

fn tags_prereleases_branches_and_commit_prefixes(deployment: Deployment) {
    let sandbox = Sandbox::new();
    let repo = sandbox.repo("plain.git");
    repo.write("go.mod", go_mod("example.test/plain.git"))
        .write("plain.go", "package plain\n");
    repo.commit("first");
    repo.tag("v1.0.0");
    repo.write("plain.go", "package plain\n\nconst Stage = \"rc\"\n");
    let release_candidate = repo.commit("release candidate");
    repo.tag("v1.1.0-RC1");
    repo.write("plain.go", "package plain\n\nconst Stage = \"final\"\n");
    repo.commit("release");
    repo.tag("v1.1.0");
    repo.write("extra.go", "package plain\n\nconst Extra = 1\n");
    let untagged = repo.commit("after the release");

    let server = sandbox.start(deployment);
    if deployment == Deployment::Serverless {
        edge_answers_stored_artifacts_from_the_bucket(&server, "example.test/plain.git", "v1.0.0");
    }
    let downloads = assert_same_as_direct(
        &sandbox,
        &server,
        "plain",
        &[
            "example.test/plain.git@v1.0.0",
            "example.test/plain.git@v1.1.0-RC1",
            "example.test/plain.git@main",
            &format!("example.test/plain.git@{}", &untagged[..12]),
            &format!("example.test/plain.git@{}", &release_candidate[..8]),
            "example.test/plain.git@v1.1",
        ],
    );
    let versions: Vec<_> = downloads.iter().map(|d| d.version.as_str()).collect();
    assert!(
        versions.contains(&"v1.1.0-RC1"),
        "the commit prefix of a tagged commit resolves to its tag: {versions:?}"
    );
    assert!(
        versions.iter().any(|v| v.starts_with("v1.1.1-0.")),
        "main resolves to a pseudo-version: {versions:?}"
    );

    let direct = sandbox.client("plain-list-direct", "direct");
    let proxied = sandbox.client("plain-list-proxied", &server.url());
    assert_eq!(
        direct.versions("example.test/plain.git", false),
        proxied.versions("example.test/plain.git", false)
    );
    assert_eq!(
        proxied.versions("example.test/plain.git", false),
        "example.test/plain.git v1.0.0 v1.1.0-RC1 v1.1.0"
    );

    // Headers a CDN and the go command rely on.
    let info = server.get("/example.test/plain.git/@v/v1.0.0.info");
    assert_eq!(info.status, 200);
    assert_eq!(info.header("content-type"), Some("application/json"));
    assert_eq!(
        info.header("cache-control"),
        Some("public, max-age=31536000, immutable")
    );
    let zip = server.get("/example.test/plain.git/@v/v1.0.0.zip");
    assert_eq!(zip.header("content-type"), Some("application/zip"));
    assert_eq!(
        zip.header("content-length"),
        Some(zip.body.len().to_string().as_str())
    );
    let head = crate::common::http_request(
        &server.address,
        "HEAD",
        "/example.test/plain.git/@v/v1.0.0.zip",
    )
    .unwrap();
    assert_eq!(head.status, 200);
    assert_eq!(
        head.header("content-length"),
        Some(zip.body.len().to_string().as_str())
    );
    assert!(head.body.is_empty(), "HEAD has no body");
    let module = server.get("/example.test/plain.git/@v/v1.0.0.mod");
    assert_eq!(
        module.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(module.text(), go_mod("example.test/plain.git"));
    let list = server.get("/example.test/plain.git/@v/list");
    assert_eq!(
        list.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(list.header("cache-control"), Some("public, max-age=60"));
    let query = server.get("/example.test/plain.git/@v/main.info");
    assert_eq!(
        query.header("cache-control"),
        Some("public, max-age=60"),
        "a branch answer is never immutable"
    );
    let latest = server.get("/example.test/plain.git/@latest");
    assert_eq!(latest.status, 200);
    assert!(
        latest.text().starts_with("{\"Version\":\"v1.1.0\""),
        "latest is the highest release: {}",
        latest.text()
    );
}

fn module_without_tags_resolves_latest_to_a_pseudo_version(deployment: Deployment) {
    let sandbox = Sandbox::new();
    let repo = sandbox.repo("notags.git");
    repo.write("go.mod", go_mod("example.test/notags.git"))
        .write("n.go", "package notags\n");
    repo.commit("one");
    repo.write("n.go", "package notags\n\nconst Two = 2\n");
    repo.commit("two");

    let server = sandbox.start(deployment);
    let downloads = assert_same_as_direct(
        &sandbox,
        &server,
        "notags",
        &["example.test/notags.git@latest"],
    );
    assert!(downloads[0].version.starts_with("v0.0.0-"), "{downloads:?}");
    let list = server.get("/example.test/notags.git/@v/list");
    assert_eq!(
        (list.status, list.text()),
        (200, String::new()),
        "an existing module with no tags lists nothing"
    );
}

fn major_version_subdirectory_modules(deployment: Deployment) {
    let sandbox = Sandbox::new();
    let repo = sandbox.repo("major.git");
    repo.write("go.mod", go_mod("example.test/major.git"))
        .write("m.go", "package major\n");
    repo.write("v2/go.mod", go_mod("example.test/major.git/v2"))
        .write("v2/m.go", "package major\n\nconst V = 2\n");
    repo.commit("v1 and v2");
    repo.tag("v1.0.0").tag("v2.0.0");
    repo.write("v2/m.go", "package major\n\nconst V = 21\n");
    repo.commit("v2.1");
    repo.tag("v2.1.0");

    let server = sandbox.start(deployment);
    assert_same_as_direct(
        &sandbox,
        &server,
        "major",
        &[
            "example.test/major.git@v1.0.0",
            "example.test/major.git/v2@v2.0.0",
            "example.test/major.git/v2@latest",
        ],
    );
    let proxied = sandbox.client("major-list", &server.url());
    assert_eq!(
        proxied.versions("example.test/major.git/v2", false),
        sandbox
            .client("major-list-direct", "direct")
            .versions("example.test/major.git/v2", false)
    );
}

fn incompatible_versions_of_a_module_without_go_mod(deployment: Deployment) {
    let sandbox = Sandbox::new();
    let repo = sandbox.repo("incompat.git");
    repo.write("i.go", "package incompat\n");
    repo.commit("one");
    repo.tag("v1.0.0");
    repo.write("i.go", "package incompat\n\nconst Two = 2\n");
    repo.commit("two");
    repo.tag("v2.0.0");
    repo.write("i.go", "package incompat\n\nconst Three = 3\n");
    repo.commit("three");
    repo.tag("v3.1.0");

    let server = sandbox.start(deployment);
    if deployment == Deployment::Serverless {
        // The key holds a literal `+`, which the path must carry to the bucket as %2B.
        edge_answers_stored_artifacts_from_the_bucket(
            &server,
            "example.test/incompat.git",
            "v2.0.0+incompatible",
        );
    }
    let downloads = assert_same_as_direct(
        &sandbox,
        &server,
        "incompat",
        &[
            "example.test/incompat.git@v2.0.0+incompatible",
            "example.test/incompat.git@v3.1.0+incompatible",
        ],
    );
    assert!(
        downloads
            .iter()
            .all(|d| d.version.ends_with("+incompatible"))
    );
    // The `+` arrives percent-escaped or literal; both name the same stored file.
    assert_eq!(
        server
            .get("/example.test/incompat.git/@v/v2.0.0%2Bincompatible.info")
            .status,
        200
    );
    // `go get M@v3.1.0` asks for v3.1.0.info, a query resolved to v3.1.0+incompatible.
    let queried = assert_same_as_direct(
        &sandbox,
        &server,
        "incompat-query",
        &["example.test/incompat.git@v3.1.0"],
    );
    assert_eq!(queried[0].version, "v3.1.0+incompatible");
    let proxied = sandbox.client("incompat-list", &server.url());
    let direct = sandbox.client("incompat-list-direct", "direct");
    assert_eq!(
        proxied.versions("example.test/incompat.git", false),
        direct.versions("example.test/incompat.git", false)
    );
}

fn upper_case_in_module_path_and_version(deployment: Deployment) {
    let sandbox = Sandbox::new();
    let repo = sandbox.repo("Upper.git");
    repo.write("go.mod", go_mod("example.test/Upper.git"))
        .write("u.go", "package upper\n");
    repo.commit("one");
    repo.tag("v1.0.0-RC1");
    repo.write("u.go", "package upper\n\nconst B = 2\n");
    repo.commit("two");
    repo.tag("v1.0.0-Beta.2");

    let server = sandbox.start(deployment);
    assert_same_as_direct(
        &sandbox,
        &server,
        "upper",
        &[
            "example.test/Upper.git@v1.0.0-RC1",
            "example.test/Upper.git@v1.0.0-Beta.2",
        ],
    );
    // Stored under the case-encoded path, so the data directory (or bucket) is itself a
    // GOPROXY tree.
    assert!(crate::common::is_stored(
        &sandbox,
        &server,
        "example.test/!upper.git/@v/v1.0.0-!r!c1.zip"
    ));
    let proxied = sandbox.client("upper-list", &server.url());
    assert_eq!(
        proxied.versions("example.test/Upper.git", false),
        "example.test/Upper.git v1.0.0-Beta.2 v1.0.0-RC1"
    );
}

fn nested_module_with_prefixed_tags(deployment: Deployment) {
    let sandbox = Sandbox::new();
    let repo = sandbox.repo("nest.git");
    repo.write("go.mod", go_mod("example.test/nest.git"))
        .write("root.go", "package nest\n");
    repo.write("sub/go.mod", go_mod("example.test/nest.git/sub"))
        .write("sub/sub.go", "package sub\n");
    repo.commit("root and sub");
    repo.tag("v1.0.0").tag("sub/v0.1.0");
    repo.write("sub/sub.go", "package sub\n\nconst Two = 2\n");
    repo.commit("sub two");
    repo.tag("sub/v0.2.0");

    let server = sandbox.start(deployment);
    let downloads = assert_same_as_direct(
        &sandbox,
        &server,
        "nested",
        &[
            "example.test/nest.git/sub@v0.1.0",
            "example.test/nest.git/sub@latest",
            "example.test/nest.git@v1.0.0",
        ],
    );
    assert!(
        downloads
            .iter()
            .any(|d| d.path == "example.test/nest.git/sub" && d.version == "v0.2.0")
    );
    let proxied = sandbox.client("nested-list", &server.url());
    assert_eq!(
        proxied.versions("example.test/nest.git/sub", false),
        "example.test/nest.git/sub v0.1.0 v0.2.0"
    );
}

fn retracted_versions_are_served_and_listed_for_the_client_to_hide(deployment: Deployment) {
    let sandbox = Sandbox::new();
    let repo = sandbox.repo("retract.git");
    repo.write("go.mod", go_mod("example.test/retract.git"))
        .write("r.go", "package retract\n");
    repo.commit("one");
    repo.tag("v1.0.0");
    repo.write("r.go", "package retract\n\nconst Bug = true\n");
    repo.commit("buggy");
    repo.tag("v1.1.0");
    repo.write(
        "go.mod",
        format!(
            "{}\nretract v1.1.0 // broken\n",
            go_mod("example.test/retract.git")
        ),
    );
    repo.write("r.go", "package retract\n\nconst Bug = false\n");
    repo.commit("fix and retract");
    repo.tag("v1.2.0");

    let server = sandbox.start(deployment);
    assert_same_as_direct(
        &sandbox,
        &server,
        "retract",
        &[
            "example.test/retract.git@v1.1.0",
            "example.test/retract.git@latest",
            "example.test/retract.git@v1.0.0",
        ],
    );
    let proxied = sandbox.client("retract-list", &server.url());
    let direct = sandbox.client("retract-list-direct", "direct");
    for with_retracted in [false, true] {
        assert_eq!(
            proxied.versions("example.test/retract.git", with_retracted),
            direct.versions("example.test/retract.git", with_retracted)
        );
    }
    assert_eq!(
        proxied.versions("example.test/retract.git", false),
        "example.test/retract.git v1.0.0 v1.2.0"
    );
    assert_eq!(
        server.get("/example.test/retract.git/@v/list").text(),
        "v1.0.0\nv1.1.0\nv1.2.0\n"
    );
}

fn zip_larger_than_a_lambda_response(deployment: Deployment) {
    let sandbox = Sandbox::new();
    let repo = sandbox.repo("big.git");
    repo.write("go.mod", go_mod("example.test/big.git"))
        .write("big.go", "package big\n")
        .write(
            "testdata/blob.bin",
            incompressible_bytes(7 * 1024 * 1024, 7),
        );
    repo.commit("big");
    repo.tag("v1.0.0");

    let server = sandbox.start(deployment);
    assert_same_as_direct(&sandbox, &server, "big", &["example.test/big.git@v1.0.0"]);
    let zip = server.get("/example.test/big.git/@v/v1.0.0.zip");
    assert!(
        zip.body.len() > 6 * 1024 * 1024,
        "zip is {} bytes",
        zip.body.len()
    );
    // The edge streams it from the bucket; the serve function, which cannot answer with more
    // than 6 MB, redirects to the same path, which the edge then serves from the bucket
    // (edge_hardening follows it, with and without a token).
    if deployment == Deployment::Serverless {
        assert_eq!(zip.header("x-piraeus-edge"), Some("bucket"));
        let path = "/example.test/big.git/@v/v1.0.0.zip";
        let redirect = server.get_from_serve_function(path);
        assert_eq!(redirect.status, 307, "{}", redirect.text());
        assert_eq!(redirect.header("location"), Some(path));
        assert_eq!(redirect.header("cache-control"), Some("no-store"));
    }
}

fn vendor_directories_and_symlinks(deployment: Deployment) {
    let sandbox = Sandbox::new();
    let repo = sandbox.repo("vendored.git");
    repo.write("go.mod", go_mod("example.test/vendored.git"))
        .write("v.go", "package vendored\n")
        .write("vendor/modules.txt", "# example.com/dep v1.0.0\n")
        .write("vendor/example.com/dep/dep.go", "package dep\n")
        .write("inner/vendor/x/x.go", "package x\n")
        .write("inner/i.go", "package inner\n")
        .symlink("v.go", "link.go")
        .symlink("inner", "inner-link");
    repo.commit("vendor and symlinks");
    repo.tag("v1.0.0");

    let server = sandbox.start(deployment);
    assert_same_as_direct(
        &sandbox,
        &server,
        "vendored",
        &["example.test/vendored.git@v1.0.0"],
    );
}

fn module_whose_go_mod_declares_another_path_fails_like_direct(deployment: Deployment) {
    let sandbox = Sandbox::new();
    let repo = sandbox.repo("wrongpath.git");
    repo.write("go.mod", go_mod("example.test/elsewhere"))
        .write("w.go", "package w\n");
    repo.commit("wrong path");
    repo.tag("v1.0.0");

    let server = sandbox.start(deployment);
    // `go mod download` accepts it (the path is checked only where the module is required), and
    // must do so identically through the proxy.
    assert_same_as_direct(
        &sandbox,
        &server,
        "wrongpath",
        &["example.test/wrongpath.git@v1.0.0"],
    );
    for (name, goproxy) in [
        ("wrongpath-get-direct", "direct".to_string()),
        ("wrongpath-get-proxied", server.url()),
    ] {
        let client = sandbox.client(name, &goproxy);
        client.ok(&["mod", "init", "example.test/consumer"]);
        let output = client.run(&["get", "example.test/wrongpath.git@v1.0.0"]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{name}: go get must fail");
        assert!(
            stderr.contains("declares its path as: example.test/elsewhere"),
            "{name}: {stderr}"
        );
    }
}

fn module_that_does_not_exist(deployment: Deployment) {
    let sandbox = Sandbox::new();
    let server = sandbox.start(deployment);
    let downloads = assert_same_as_direct(
        &sandbox,
        &server,
        "missing",
        &["example.test/missing.git@v1.0.0"],
    );
    assert!(
        downloads[0].error.contains("404 Not Found"),
        "{}",
        downloads[0].error
    );
    for path in [
        "/example.test/missing.git/@v/list",
        "/example.test/missing.git/@latest",
        "/example.test/missing.git/@v/v1.0.0.zip",
    ] {
        let response = server.get(path);
        assert_eq!(response.status, 404, "{path}: {}", response.text());
        assert_eq!(
            response.header("content-type"),
            Some("text/plain; charset=utf-8")
        );
        assert_eq!(response.header("cache-control"), Some("no-store"));
        assert!(
            response.text().starts_with("not found: "),
            "{}",
            response.text()
        );
        assert!(
            !response.text().contains(".piraeus"),
            "server paths are scrubbed: {}",
            response.text()
        );
        // The serverless stack's fetch scratch space lives under piraeus-stack.*/fetch.
        assert!(
            !response.text().contains("piraeus-stack."),
            "the fetch function's paths are scrubbed: {}",
            response.text()
        );
        // Not kept by the edge: asked again, the answer comes from the serve function again.
        if deployment == Deployment::Serverless {
            let again = server.get(path);
            assert_eq!(again.status, 404, "{path}");
            assert_eq!(again.header("x-piraeus-edge"), Some("serve"), "{path}");
        }
    }
    // A client with a fallback goes on to the next GOPROXY entry on 404.
    let fallback = sandbox.client("missing-fallback", &format!("{},off", server.url()));
    let output = fallback.run(&[
        "mod",
        "download",
        "-json",
        "example.test/missing.git@v1.0.0",
    ]);
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("disabled by GOPROXY=off"),
        "fell back past piraeus"
    );
}

on_every_upstream!(
    tags_prereleases_branches_and_commit_prefixes,
    module_without_tags_resolves_latest_to_a_pseudo_version,
    major_version_subdirectory_modules,
    incompatible_versions_of_a_module_without_go_mod,
    upper_case_in_module_path_and_version,
    nested_module_with_prefixed_tags,
    retracted_versions_are_served_and_listed_for_the_client_to_hide,
    zip_larger_than_a_lambda_response,
    vendor_directories_and_symlinks,
    module_whose_go_mod_declares_another_path_fails_like_direct,
    module_that_does_not_exist,
);
