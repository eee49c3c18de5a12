//! `GET /index`: the feed of stored versions in index.golang.org's format, on `piraeus serve`
//! and through the serverless stack's edge (which, like CloudFront's `/index` behaviour, sends
//! it to the serve function with its query string and never caches it). Versions are stored by
//! the real go command; every feed request carries a client token, and one without is refused.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::common::{
    Deployment, HttpResponse, Sandbox, Server, basic, go_mod, http_request_with_header, new_token,
};

/// What the go command stores, one version per run, in this order: the feed's order, which is
/// neither module nor version order.
const STORED: [(&str, &str); 3] = [
    ("example.test/alpha.git", "v1.0.0"),
    ("example.test/Upper.git", "v1.0.0-RC1"),
    ("example.test/alpha.git", "v1.1.0"),
];

fn repositories(sandbox: &Sandbox) {
    sandbox.alpha_at_two_versions();
    let upper = sandbox.repo("Upper.git");
    upper
        .write("go.mod", go_mod("example.test/Upper.git"))
        .write("upper.go", "package upper\n");
    upper.commit("one");
    upper.tag("v1.0.0-RC1");
}

/// A GET (or HEAD) with an optional `Authorization` header.
fn request(address: &str, method: &str, path: &str, authorization: Option<&str>) -> HttpResponse {
    let header = authorization.map(|value| ("Authorization", value));
    http_request_with_header(address, method, path, header).expect("a response")
}

/// One line of the feed, its fields checked: exactly Path, Version, Timestamp, in that order.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    path: String,
    version: String,
    timestamp: String,
}

fn entries(response: &HttpResponse) -> Vec<Entry> {
    let text = response.text();
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "every line ends with a newline: {text:?}"
    );
    text.lines()
        .map(|line| {
            let value: Value = serde_json::from_str(line).expect("each line is JSON");
            let object = value.as_object().expect("each line is an object");
            let keys: Vec<&str> = object.keys().map(String::as_str).collect();
            let mut sorted = keys.clone();
            sorted.sort();
            assert_eq!(sorted, ["Path", "Timestamp", "Version"], "{line}");
            let (path, version, timestamp) = (
                line.find("\"Path\":").unwrap(),
                line.find("\"Version\":").unwrap(),
                line.find("\"Timestamp\":").unwrap(),
            );
            assert!(path < version && version < timestamp, "field order: {line}");
            let field = |name: &str| object[name].as_str().unwrap().to_string();
            Entry {
                path: field("Path"),
                version: field("Version"),
                timestamp: field("Timestamp"),
            }
        })
        .collect()
}

/// Unix milliseconds of a Timestamp as Go prints a UTC `time.Time` with millisecond precision:
/// `YYYY-MM-DDTHH:MM:SS[.f{1,3}]Z`, no trailing zero in the fraction.
fn timestamp_millis(timestamp: &str) -> i64 {
    let bytes = timestamp.as_bytes();
    let shape_ok = bytes.len() >= 20
        && bytes.iter().enumerate().all(|(i, byte)| match i {
            4 | 7 => *byte == b'-',
            10 => *byte == b'T',
            13 | 16 => *byte == b':',
            19 => *byte == b'.' || *byte == b'Z',
            _ if i == bytes.len() - 1 => *byte == b'Z',
            _ => byte.is_ascii_digit(),
        });
    assert!(shape_ok, "{timestamp}");
    let number = |range: std::ops::Range<usize>| timestamp[range].parse::<i64>().unwrap();
    let fraction = &timestamp[19..timestamp.len() - 1];
    if let Some(digits) = fraction.strip_prefix('.') {
        assert!(
            (1..=3).contains(&digits.len()) && !digits.ends_with('0'),
            "milliseconds, trailing zeros dropped: {timestamp}"
        );
    } else {
        assert!(fraction.is_empty(), "{timestamp}");
    }
    let millis_fraction = fraction
        .strip_prefix('.')
        .map_or(0, |digits| format!("{digits:0<3}").parse::<i64>().unwrap());
    let (year, month, day) = (number(0..4), number(5..7), number(8..10));
    // Days from 1970-01-01 (Howard Hinnant's days_from_civil).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y.rem_euclid(400);
    let day_of_year = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    let days = era * 146_097 + day_of_era - 719_468;
    let seconds = days * 86_400 + number(11..13) * 3600 + number(14..16) * 60 + number(17..19);
    seconds * 1000 + millis_fraction
}

fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn index_feed_pages_stored_versions_in_ingest_order(deployment: Deployment) {
    let sandbox = Sandbox::new();
    repositories(&sandbox);
    let tokens = sandbox.path().join("tokens.json");
    let secret = new_token(&tokens, "feed");
    let tokens = tokens.to_str().unwrap();
    let store = |goproxy: &str| {
        for (i, (module, version)) in STORED.iter().enumerate() {
            let downloads = sandbox
                .client(&format!("store-{i}"), goproxy)
                .download(&[&format!("{module}@{version}")]);
            assert!(downloads[0].error.is_empty(), "{downloads:?}");
        }
    };
    let started = now_millis();
    // The go command sends credentials only over https; it stores the versions where no token
    // is needed: locally, a run of the server before the one with tokens (same data directory);
    // on the stack, the serve function's own URL (the edge is where tokens are checked).
    let server: Server = match deployment {
        Deployment::Local | Deployment::Chain => {
            let open = sandbox.start_server();
            store(&open.url());
            open.stop();
            sandbox.start_server_with(&["--auth-file", tokens], &[])
        }
        Deployment::Serverless => {
            let stack = sandbox.start_stack(&[("PIRAEUS_AUTH_FILE", tokens)]);
            store(&format!(
                "http://{}/lambda-url/piraeus-serve",
                stack.emulator()
            ));
            stack
        }
    };
    let stored_by = now_millis();
    let authorization = basic("feed", &secret);
    let get = |path: &str| {
        let response = request(&server.address, "GET", path, Some(&authorization));
        if deployment == Deployment::Serverless && response.status != 401 {
            // The /index behaviour: the serve function every time, never the bucket or a cache.
            assert_eq!(
                response.header("x-piraeus-edge"),
                Some("serve"),
                "{path}: {}",
                response.text()
            );
        }
        response
    };
    let feed = |path: &str| {
        let response = get(path);
        assert_eq!(
            response.status,
            200,
            "{path}: {}\nlog:\n{}",
            response.text(),
            server.log()
        );
        assert_eq!(response.header("content-type"), Some("application/json"));
        assert_eq!(response.header("cache-control"), Some("no-store"));
        entries(&response)
    };

    // Everything, in the order it was stored, with the real (not case-encoded) path and version.
    let all = feed("/index");
    let stored: Vec<(&str, &str)> = all
        .iter()
        .map(|e| (e.path.as_str(), e.version.as_str()))
        .collect();
    assert_eq!(stored, STORED, "ingest order");
    let times: Vec<i64> = all.iter().map(|e| timestamp_millis(&e.timestamp)).collect();
    assert!(
        times.windows(2).all(|pair| pair[0] < pair[1]),
        "each go run stored its version later than the one before: {all:?}"
    );
    assert!(
        times[0] >= started - 2000 && times[2] <= stored_by + 2000,
        "Timestamp is when the version was stored, in UTC: {all:?} (test ran {started}..{stored_by})"
    );
    assert_eq!(feed("/index"), all, "the same answer again");

    // `since` is inclusive: the entry at exactly that time comes again.
    assert_eq!(
        feed(&format!("/index?since={}", all[1].timestamp)),
        all[1..]
    );
    assert_eq!(
        feed(&format!("/index?since={}", all[2].timestamp)),
        all[2..]
    );
    let escaped = all[1].timestamp.replace(':', "%3A");
    assert_eq!(feed(&format!("/index?since={escaped}")), all[1..]);
    assert_eq!(feed("/index?since=2000-01-01T00:00:00Z"), all);
    assert_eq!(feed("/index?since=2000-01-01T00:00:00%2B02:00"), all);
    let after_everything = feed("/index?since=2999-01-01T00:00:00Z");
    assert!(after_everything.is_empty(), "{after_everything:?}");

    // `limit`: the first N from `since`; above 2000 it is lowered to 2000, not refused.
    assert_eq!(feed("/index?limit=1"), all[..1]);
    assert_eq!(feed("/index?limit=2"), all[..2]);
    assert_eq!(
        feed(&format!("/index?since={}&limit=1", all[1].timestamp)),
        all[1..2]
    );
    assert_eq!(feed("/index?limit=2000"), all);
    assert_eq!(feed("/index?limit=2001"), all);
    assert_eq!(feed("/index?limit=99999999999999999999999"), all);
    // Paging as index.golang.org clients do: since = the last Timestamp read, skipping what was
    // already seen (here one entry, each time stored in a different millisecond).
    let mut paged = feed("/index?limit=2");
    loop {
        let since = &paged.last().unwrap().timestamp;
        let page = feed(&format!("/index?since={since}&limit=2"));
        assert_eq!(page[0], *paged.last().unwrap(), "inclusive");
        if page.len() == 1 {
            break;
        }
        paged.extend(page.into_iter().skip(1));
    }
    assert_eq!(paged, all);

    // Bad input: 400 with a text/plain reason; nothing changes.
    for (query, mentions) in [
        ("since=yesterday", "since"),
        ("since=2019-04-10", "since"),
        ("since=2019-04-10T19:08:52", "since"),
        ("since=2019-02-30T00:00:00Z", "since"),
        ("since=%zz", "since"),
        ("limit=0", "limit"),
        ("limit=-1", "limit"),
        ("limit=1.5", "limit"),
        ("limit=ten", "limit"),
        ("since=2000-01-01T00:00:00Z&limit=0", "limit"),
    ] {
        let response = get(&format!("/index?{query}"));
        assert_eq!(response.status, 400, "{query}: {}", response.text());
        assert_eq!(
            response.header("content-type"),
            Some("text/plain; charset=utf-8"),
            "{query}"
        );
        assert_eq!(response.header("cache-control"), Some("no-store"));
        let text = response.text();
        assert!(
            text.contains(mentions) && text.ends_with('\n'),
            "{query}: {text}"
        );
    }
    assert_eq!(feed("/index"), all, "bad requests changed nothing");

    // HEAD: the headers without the body.
    let head = request(&server.address, "HEAD", "/index", Some(&authorization));
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-type"), Some("application/json"));
    assert!(head.body.is_empty());

    // Behind the client token like every GOPROXY route: refused without one, or a wrong one.
    for authorization in [None, Some("Basic ZmVlZDp3cm9uZw==")] {
        let refused = request(&server.address, "GET", "/index", authorization);
        assert_eq!(refused.status, 401, "{}", refused.text());
        assert!(
            !refused.text().contains("example.test"),
            "{}",
            refused.text()
        );
    }
}

on_both_deployments!(index_feed_pages_stored_versions_in_ingest_order);

/// Other methods are refused, as on the GOPROXY routes.
#[test]
fn index_feed_is_get_and_head_only() {
    let sandbox = Sandbox::new();
    let server = sandbox.start_server();
    let response = crate::common::http_post(&server.address, "/index", b"").unwrap();
    assert_eq!(response.status, 405, "{}", response.text());
    // An empty index: an empty feed, not an error.
    let empty = server.get("/index");
    assert_eq!(empty.status, 200, "{}", empty.text());
    assert!(empty.body.is_empty());
}

/// template.yaml: `/index` goes straight to the serve function (S3 never has it), is never
/// cached, has its query string forwarded, and runs the viewer-request function (tokens).
#[test]
fn index_feed_behaviour_in_the_template() {
    const LOAD: &str = "import json, sys\n\
        from cfnlint.decode import decode\n\
        template, problems = decode(sys.argv[1])\n\
        if problems or template is None:\n\
        \x20   sys.exit('cannot read the template: ' + '; '.join(str(p) for p in problems))\n\
        print(json.dumps(template))\n";
    let root = crate::common::repo_root();
    let output = std::process::Command::new(crate::common::venv_tool("python"))
        .arg("-c")
        .arg(LOAD)
        .arg(root.join("template.yaml"))
        .output()
        .expect("the virtualenv's python runs (make deps installs cfn-lint)");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let template: Value = serde_json::from_slice(&output.stdout).unwrap();
    let config = template["Resources"]
        .as_object()
        .unwrap()
        .values()
        .find(|resource| resource["Type"] == "AWS::CloudFront::Distribution")
        .expect("a distribution")["Properties"]["DistributionConfig"]
        .clone();
    let behaviour = |pattern: &str| {
        config["CacheBehaviors"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["PathPattern"] == pattern)
            .unwrap_or_else(|| panic!("no cache behaviour for {pattern}"))
            .clone()
    };
    let index = behaviour("/index");
    let list = behaviour("*/@v/list");
    assert_eq!(
        index["TargetOriginId"], list["TargetOriginId"],
        "the serve function"
    );
    const CACHING_DISABLED: &str = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad";
    assert_eq!(index["CachePolicyId"], CACHING_DISABLED);
    const ALL_VIEWER_EXCEPT_HOST_HEADER: &str = "b689b0a8-53d0-40ab-baf2-68738e2966ac";
    assert_eq!(
        index["OriginRequestPolicyId"], ALL_VIEWER_EXCEPT_HOST_HEADER,
        "forwards the query string, and not Host"
    );
    assert_eq!(index["AllowedMethods"], serde_json::json!(["GET", "HEAD"]));
    assert_eq!(
        index["FunctionAssociations"], config["DefaultCacheBehavior"]["FunctionAssociations"],
        "the viewer-request function checks tokens here too"
    );
}
