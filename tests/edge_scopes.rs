//! Token scopes at the stack's edge (`make stack`, as CloudFront on AWS): the viewer-request
//! function reads a token's modules from its store value and refuses, before the cache, every
//! path the serve router would read as a module outside them, in whatever encoding it comes;
//! the serve function behind it never sees the token, so the edge is the only check there.

use std::process::Command;

use crate::common::{HttpResponse, Sandbox, Server, basic, http_request_with_header, new_token};

const ALPHA: &str = "example.test/alpha.git";
/// `example.test/Other.git`, case-encoded as the go command asks for it.
const OTHER: &str = "example.test/!other.git";

fn get(server: &Server, path: &str, authorization: &str) -> HttpResponse {
    http_request_with_header(
        &server.address,
        "GET",
        path,
        Some(("Authorization", authorization)),
    )
    .expect("the edge answers")
}

#[test]
fn the_edge_refuses_a_scoped_token_every_module_outside_its_scope() {
    let sandbox = Sandbox::new();
    for name in ["alpha.git", "Other.git"] {
        let repo = sandbox.module(name);
        repo.commit("one");
        repo.tag("v1.0.0");
    }
    let tokens = sandbox.path().join("tokens.json");
    // An entry from before scopes: its store value is the bare hash.
    let old_secret = "0123456789abcdef";
    std::fs::write(
        &tokens,
        format!(
            r#"{{"tokens":[{{"name":"old","sha256":"{}","created":"2026-01-01T00:00:00Z"}}]}}"#,
            piraeus_core::auth::hash_secret(old_secret)
        ),
    )
    .unwrap();
    let made = Command::new(env!("CARGO_BIN_EXE_piraeus"))
        .args(["token", "new", "team", "--modules", ALPHA, "--auth-file"])
        .arg(&tokens)
        .output()
        .unwrap();
    assert!(made.status.success(), "{made:?}");
    let team = basic(
        "team",
        String::from_utf8_lossy(&made.stdout)
            .lines()
            .last()
            .unwrap(),
    );
    let ci = basic("ci", &new_token(&tokens, "ci"));
    let old = basic("old", old_secret);
    let stack = sandbox.start_stack(&[
        ("PIRAEUS_AUTH_FILE", tokens.to_str().unwrap()),
        // Lookups then get the serve function's own 404: what an unrefused lookup gets here.
        ("PIRAEUS_SUMDB", "off"),
    ]);

    // Other.git's zip fetched and kept by the edge for an unscoped token first, so the scoped
    // one's request below would be a cache hit if the edge let it through.
    let zip = format!("/{OTHER}/@v/v1.0.0.zip");
    assert_eq!(get(&stack, &zip, &ci).status, 200);
    let cached = get(&stack, &zip, &ci);
    assert_eq!(cached.status, 200, "{}", cached.text());
    assert_eq!(cached.header("x-piraeus-edge"), Some("cache"));

    let outside = [
        (zip.clone(), "example.test/Other.git"),
        (format!("/{OTHER}/@v/list"), "example.test/Other.git"),
        (format!("/{OTHER}/@latest"), "example.test/Other.git"),
        (
            "/example.test/%21other.git/@v/v1.0.0.mod".to_string(),
            "example.test/Other.git",
        ),
        (
            "/example.test%2F%21other.git/@v/v1.0.0.info".to_string(),
            "example.test/Other.git",
        ),
        (
            "/example.test/beta.git/@v/v1.0.0.info".to_string(),
            "example.test/beta.git",
        ),
        (
            format!("/sumdb/sum.golang.org/lookup/{OTHER}@v1.0.0"),
            "example.test/Other.git",
        ),
    ];
    for (path, module) in &outside {
        let refused = get(&stack, path, &team);
        assert_eq!(
            refused.status,
            403,
            "{path} was let through, answered by {:?}",
            refused.header("x-piraeus-edge")
        );
        assert_eq!(
            refused.text(),
            format!(
                "forbidden: token \"team\" may not read {module}: it is outside the token's modules\n"
            ),
            "{path}"
        );
        assert_eq!(refused.header("cache-control"), Some("no-store"), "{path}");
        assert_eq!(refused.header("x-piraeus-edge"), Some("function"), "{path}");
    }
    // The feed and the metrics span every module, and the serve function behind the edge
    // cannot narrow them to a token it never sees.
    for path in ["/index", "/metrics"] {
        let refused = get(&stack, path, &team);
        assert_eq!(refused.status, 403, "{path}: {}", refused.text());
        assert!(
            refused.text().starts_with("forbidden: token \"team\""),
            "{path}"
        );
    }

    // The same refusal `piraeus serve` gives for the same token and path.
    let serve = sandbox.start_server_with(&["--auth-file", tokens.to_str().unwrap()], &[]);
    assert_eq!(
        get(&serve, &zip, &team).text(),
        get(&stack, &zip, &team).text()
    );
    serve.stop();

    // Its own module, on every route.
    for path in [
        format!("/{ALPHA}/@v/list"),
        format!("/{ALPHA}/@latest"),
        format!("/{ALPHA}/@v/v1.0.0.info"),
        format!("/{ALPHA}/@v/v1.0.0.mod"),
        format!("/{ALPHA}/@v/v1.0.0.zip"),
    ] {
        let read = get(&stack, &path, &team);
        assert_eq!(read.status, 200, "{path}: {}", read.text());
    }
    // Its module in other letters (the pattern covers it, as on `piraeus serve`), lookups of
    // it, and what names no module, go on to the serve function, which answers them.
    for path in [
        "/example.test/!alpha.git/@v/v1.0.0.info".to_string(),
        format!("/sumdb/sum.golang.org/lookup/{ALPHA}@v1.0.0"),
        "/sumdb/sum.golang.org/latest".to_string(),
        "/version".to_string(),
    ] {
        let answered = get(&stack, &path, &team);
        assert_eq!(
            answered.header("x-piraeus-edge"),
            Some("serve"),
            "{path}: {} {}",
            answered.status,
            answered.text()
        );
    }
    assert_eq!(stack.get("/healthz").status, 200);

    // Without a scope, and with a value from before scopes: everything.
    for authorization in [&ci, &old] {
        for path in [zip.as_str(), "/index", &format!("/{ALPHA}/@v/list")] {
            let read = get(&stack, path, authorization);
            assert_eq!(read.status, 200, "{path}: {}", read.text());
        }
    }
}
