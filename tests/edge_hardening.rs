//! The serverless stack's edge (`make stack`, as CloudFront on AWS) with client tokens: no
//! viewer gets bytes the edge did not authorise, and the edge keeps no answer the serve
//! function says not to keep.

use base64::Engine;

use crate::common::{Sandbox, go_mod, http_request_with_header, incompressible_bytes, new_token};

/// A zip larger than a Lambda response reaches the viewer through the edge only. The request
/// that has it fetched gets a redirect from the serve function, which cannot answer with it:
/// back to the same path on the same host, where the edge checks the token again and serves
/// the zip from the bucket. A link around the edge (a presigned bucket URL) would be a bearer
/// link that skips tokens, revocation, the allow-list and the rate rule.
#[test]
fn large_zip_redirects_go_back_through_the_edge() {
    let sandbox = Sandbox::new();
    let repo = sandbox.repo("large.git");
    repo.write("go.mod", go_mod("example.test/large.git"))
        .write("large.go", "package large\n")
        .write(
            "testdata/blob.bin",
            incompressible_bytes(7 * 1024 * 1024, 11),
        );
    repo.commit("large");
    repo.tag("v1.0.0");
    let tokens = sandbox.path().join("tokens.json");
    let secret = new_token(&tokens, "ci");
    let stack = sandbox.start_stack(&[("PIRAEUS_AUTH_FILE", tokens.to_str().unwrap())]);
    let authorization = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("ci:{secret}"))
    );
    let get = |path: &str, authorization: Option<&str>| {
        http_request_with_header(
            &stack.address,
            "GET",
            path,
            authorization.map(|value| ("Authorization", value)),
        )
        .expect("the edge answers")
    };

    let path = "/example.test/large.git/@v/v1.0.0.zip";
    let redirect = get(path, Some(&authorization));
    assert_eq!(redirect.status, 307, "{}", redirect.text());
    assert_eq!(redirect.header("x-piraeus-edge"), Some("serve"));
    assert_eq!(redirect.header("cache-control"), Some("no-store"));
    let location = redirect.header("location").unwrap_or_default();
    assert_eq!(
        location, path,
        "the same path on the same host, so back through the edge"
    );

    let refused = get(location, None);
    assert_eq!(refused.status, 401, "{}", refused.text());
    let zip = get(location, Some(&authorization));
    assert_eq!(zip.status, 200, "{}", zip.text());
    assert_eq!(zip.header("x-piraeus-edge"), Some("bucket"));
    assert!(
        zip.body.len() > 7 * 1024 * 1024 && zip.body.starts_with(b"PK"),
        "a zip of {} bytes",
        zip.body.len()
    );
}

/// The edge keeps an answer for as long as its Cache-Control says, errors and redirects
/// included, as CloudFront does (whose ErrorCachingMinTTL, 0 in template.yaml, only applies to
/// an error that says nothing). So whether an answer is asked of the serve function again
/// depends on what the serve function said: a missing version, a missing module's list and
/// `/version` say `no-store`, and asked twice, the serve function answers twice.
#[test]
fn the_edge_keeps_no_answer_the_serve_function_marks_no_store() {
    let sandbox = Sandbox::new();
    let stack = sandbox.start_stack(&[]);
    for (path, status) in [
        ("/example.test/missing.git/@v/v1.0.0.info", 404),
        ("/example.test/missing.git/@v/list", 404),
        ("/version", 200),
    ] {
        let first = stack.get(path);
        assert_eq!(first.status, status, "{path}: {}", first.text());
        assert_eq!(first.header("x-piraeus-edge"), Some("serve"), "{path}");
        let again = stack.get(path);
        assert_eq!(
            again.header("x-piraeus-edge"),
            Some("serve"),
            "{path} was kept by the edge: the serve function answered it with Cache-Control {:?}",
            first.header("cache-control")
        );
    }
}
