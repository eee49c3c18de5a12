//! `template.yaml`, the AWS deployment: it passes cfn-lint and `sam validate --lint`, and it
//! agrees with the code it deploys (the DynamoDB schema, the binaries and the environment they
//! read, the metrics they emit) and with what CloudFront must do in front of S3.
//!
//! The linters come from the project virtualenv (`make deps`): `$PIRAEUS_VENV`, else `.venv`.
//! The template is read with cfn-lint's own YAML loader, which understands `!Ref`, `!Sub` and
//! the other CloudFormation tags, and handed over as JSON.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use piraeus_aws::dynamodb::schema;
use serde_json::{Value, json};

fn root() -> PathBuf {
    crate::common::repo_root()
}

fn template_path() -> PathBuf {
    root().join("template.yaml")
}

/// A tool from the virtualenv; missing tools fail the test (`make test` installs them).
fn venv_tool(name: &str) -> PathBuf {
    let venv = std::env::var_os("PIRAEUS_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join(".venv"));
    let tool = venv.join("bin").join(name);
    assert!(
        tool.is_file(),
        "{} is missing: run `make deps` to install cfn-lint and aws-sam-cli into the virtualenv \
         (or point PIRAEUS_VENV at one that has them)",
        tool.display()
    );
    tool
}

fn output_text(output: &Output) -> String {
    format!(
        "status: {}\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The template as JSON, tags turned into their `Fn::` forms.
fn template() -> Value {
    const LOAD: &str = "import json, sys\n\
        from cfnlint.decode import decode\n\
        template, problems = decode(sys.argv[1])\n\
        if problems or template is None:\n\
        \x20   sys.exit('cannot read the template: ' + '; '.join(str(p) for p in problems))\n\
        print(json.dumps(template))\n";
    let output = Command::new(venv_tool("python"))
        .arg("-c")
        .arg(LOAD)
        .arg(template_path())
        .output()
        .expect("running the virtualenv's python");
    assert!(output.status.success(), "{}", output_text(&output));
    serde_json::from_slice(&output.stdout).expect("the loader prints JSON")
}

fn resources(template: &Value) -> &serde_json::Map<String, Value> {
    template["Resources"]
        .as_object()
        .expect("the template has Resources")
}

fn resources_of_type<'a>(template: &'a Value, kind: &str) -> Vec<(&'a str, &'a Value)> {
    resources(template)
        .iter()
        .filter(|(_, resource)| resource["Type"] == kind)
        .map(|(name, resource)| (name.as_str(), resource))
        .collect()
}

fn only_resource_of_type<'a>(template: &'a Value, kind: &str) -> (&'a str, &'a Value) {
    let found = resources_of_type(template, kind);
    assert_eq!(
        found.len(),
        1,
        "expected exactly one {kind}, found {found:?}"
    );
    found[0]
}

/// A JSON array of `{field_a: a, field_b: b}` objects as a set of pairs.
fn pairs(list: &Value, field_a: &str, field_b: &str) -> BTreeSet<(String, String)> {
    list.as_array()
        .unwrap_or_else(|| panic!("expected a list, got {list}"))
        .iter()
        .map(|item| {
            let text = |field: &str| {
                item[field]
                    .as_str()
                    .unwrap_or_else(|| panic!("{field} in {item}"))
                    .to_string()
            };
            (text(field_a), text(field_b))
        })
        .collect()
}

fn set(items: &[(&str, &str)]) -> BTreeSet<(String, String)> {
    items
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[test]
fn template_passes_cfn_lint() {
    let output = Command::new(venv_tool("cfn-lint"))
        .arg(template_path())
        .current_dir(root())
        .output()
        .expect("running cfn-lint");
    // cfn-lint exits non-zero for warnings too: the template must have neither.
    assert!(
        output.status.success(),
        "cfn-lint found problems in template.yaml:\n{}",
        output_text(&output)
    );
}

#[test]
fn template_passes_sam_validate_lint() {
    let home = tempfile::tempdir().unwrap();
    let output = Command::new(venv_tool("sam"))
        .args([
            "validate",
            "--lint",
            "--region",
            "us-east-1",
            "--template-file",
        ])
        .arg(template_path())
        .current_dir(root())
        .env("SAM_CLI_TELEMETRY", "0")
        .env("HOME", home.path())
        .output()
        .expect("running sam");
    assert!(
        output.status.success(),
        "sam validate --lint rejected template.yaml:\n{}",
        output_text(&output)
    );
}

#[test]
fn table_matches_the_dynamodb_index_schema() {
    let template = template();
    let (name, table) = only_resource_of_type(&template, "AWS::DynamoDB::Table");
    let properties = &table["Properties"];

    assert_eq!(
        pairs(&properties["KeySchema"], "AttributeName", "KeyType"),
        set(&[(schema::PARTITION_KEY, "HASH"), (schema::SORT_KEY, "RANGE")]),
        "{name} KeySchema"
    );
    assert_eq!(
        pairs(
            &properties["AttributeDefinitions"],
            "AttributeName",
            "AttributeType"
        ),
        set(&[
            (schema::PARTITION_KEY, "S"),
            (schema::SORT_KEY, "S"),
            (schema::FEED_SHARD, "S"),
            (schema::FEED_KEY, "S"),
        ]),
        "{name} AttributeDefinitions: exactly the key attributes, all strings"
    );

    let indexes = properties["GlobalSecondaryIndexes"]
        .as_array()
        .expect("GlobalSecondaryIndexes");
    assert_eq!(indexes.len(), 1, "one global secondary index: {indexes:?}");
    let feed = &indexes[0];
    assert_eq!(feed["IndexName"], schema::FEED_INDEX);
    assert_eq!(
        pairs(&feed["KeySchema"], "AttributeName", "KeyType"),
        set(&[(schema::FEED_SHARD, "HASH"), (schema::FEED_KEY, "RANGE")])
    );
    assert_eq!(feed["Projection"]["ProjectionType"], "ALL");
    assert!(
        properties.get("LocalSecondaryIndexes").is_none(),
        "provision_table creates no local secondary index"
    );

    assert_eq!(
        properties["TimeToLiveSpecification"],
        json!({"AttributeName": schema::EXPIRES_AT, "Enabled": true})
    );
    assert_eq!(properties["BillingMode"], "PAY_PER_REQUEST");
    assert_eq!(
        properties["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"],
        true
    );
    assert_eq!(
        table["DeletionPolicy"], "Retain",
        "the index is the archive"
    );
}

/// Binary names declared in functions/Cargo.toml (`name = "..."` in each `[[bin]]` table).
fn function_binaries() -> BTreeSet<String> {
    let manifest = std::fs::read_to_string(root().join("functions/Cargo.toml")).unwrap();
    let mut binaries = BTreeSet::new();
    let mut in_bin = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_bin = line == "[[bin]]";
        } else if in_bin && let Some(value) = line.strip_prefix("name") {
            let value = value.trim_start().trim_start_matches('=').trim();
            binaries.insert(value.trim_matches('"').to_string());
        }
    }
    assert!(!binaries.is_empty(), "no [[bin]] in functions/Cargo.toml");
    binaries
}

/// Where every `PIRAEUS_*` setting is defined.
const SETTINGS_SOURCE: &str = "crates/piraeus-core/src/settings.rs";

/// Every `"PIRAEUS_..."` string literal in a source file.
fn piraeus_variables_in(path: &str) -> BTreeSet<String> {
    let text = std::fs::read_to_string(root().join(path)).unwrap();
    let mut names = BTreeSet::new();
    let mut rest = text.as_str();
    while let Some(start) = rest.find("\"PIRAEUS_") {
        let candidate = &rest[start + 1..];
        let end = candidate
            .find(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
            .unwrap_or(candidate.len());
        if candidate[end..].starts_with('"') {
            names.insert(candidate[..end].to_string());
        }
        rest = &candidate[end..];
    }
    names
}

/// A function's setting, from its own properties or else from Globals.
fn setting<'a>(template: &'a Value, function: &'a Value, key: &str) -> &'a Value {
    match &function["Properties"][key] {
        Value::Null => &template["Globals"]["Function"][key],
        value => value,
    }
}

/// Environment variable names a function gets (Globals merged with its own).
fn environment(template: &Value, function: &Value) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for source in [
        &template["Globals"]["Function"]["Environment"]["Variables"],
        &function["Properties"]["Environment"]["Variables"],
    ] {
        if let Some(variables) = source.as_object() {
            names.extend(variables.keys().cloned());
        }
    }
    names
}

#[test]
fn functions_are_configured_as_the_binaries_expect() {
    let template = template();
    let binaries = function_binaries();
    // Every setting is defined in one file, which the functions read their environment through.
    let known = piraeus_variables_in(SETTINGS_SOURCE);
    assert!(
        known.contains("PIRAEUS_STORE") && known.contains("PIRAEUS_INDEX"),
        "scanning {SETTINGS_SOURCE} found {known:?}"
    );
    // The fetch function's wiring reads every credential the template hands it.
    let wiring =
        std::fs::read_to_string(root().join("crates/piraeus-aws/src/lambda/function.rs")).unwrap();
    for setting in [
        "NETRC_SECRET",
        "GIT_SSH_KEY_SECRET",
        "GITHUB_APP_SECRET",
        "GITHUB_API",
        "GIT_INSTEAD_OF",
        "POLICY",
    ] {
        assert!(
            known.contains(&format!("PIRAEUS_{setting}")),
            "{setting} is not a setting"
        );
        assert!(
            wiring.contains(&format!("settings::{setting}.read")),
            "the functions never read {setting}"
        );
    }

    let functions = resources_of_type(&template, "AWS::Serverless::Function");
    let mut deployed = BTreeSet::new();
    for (name, function) in &functions {
        let binary = function["Metadata"]["BuildProperties"]["Binary"]
            .as_str()
            .unwrap_or_else(|| panic!("{name} has no Metadata.BuildProperties.Binary"));
        assert_eq!(
            function["Metadata"]["BuildMethod"], "rust-cargolambda",
            "{name}"
        );
        assert!(
            binaries.contains(binary),
            "{name} builds {binary}, which functions/Cargo.toml does not declare ({binaries:?})"
        );
        deployed.insert(binary.to_string());

        assert_eq!(
            setting(&template, function, "Runtime"),
            "provided.al2023",
            "{name}"
        );
        assert_eq!(
            setting(&template, function, "Architectures"),
            &json!(["arm64"]),
            "{name}"
        );
        assert_eq!(
            setting(&template, function, "Handler"),
            "bootstrap",
            "{name}"
        );

        let variables = environment(&template, function);
        for variable in variables.iter().filter(|v| v.starts_with("PIRAEUS_")) {
            assert!(
                known.contains(variable),
                "{name} sets {variable}, which the functions never read (they read {known:?})"
            );
        }
        for required in ["PIRAEUS_STORE", "PIRAEUS_INDEX"] {
            assert!(variables.contains(required), "{name} lacks {required}");
        }
        if binary != "piraeus-fetch" {
            for function in ["PIRAEUS_FETCH_FUNCTION", "PIRAEUS_LOOKUP_FUNCTION"] {
                assert!(
                    variables.contains(function),
                    "{name} ({binary}) must know {function}"
                );
            }
        }
    }
    let expected: BTreeSet<String> = ["piraeus-serve", "piraeus-fetch", "piraeus-prefetch"]
        .map(String::from)
        .into();
    assert_eq!(deployed, expected, "one function per binary");

    let (name, fetch) = functions
        .iter()
        .find(|(_, f)| f["Metadata"]["BuildProperties"]["Binary"] == "piraeus-fetch")
        .unwrap();
    let variables = environment(&template, fetch);
    for variable in [
        "PIRAEUS_GO",
        "PIRAEUS_NETRC_SECRET",
        "PIRAEUS_GIT_SSH_KEY_SECRET",
        "PIRAEUS_GITHUB_APP_SECRET",
        "PIRAEUS_GITHUB_API",
        "PIRAEUS_GIT_INSTEAD_OF",
        "PIRAEUS_POLICY",
        "HOME",
        "GIT_EXEC_PATH",
    ] {
        for (function_name, function) in [
            (*name, *fetch),
            ("LookupFunction", &resources(&template)["LookupFunction"]),
        ] {
            assert!(
                environment(&template, function).contains(variable),
                "{function_name} lacks {variable}"
            );
        }
    }
    assert!(variables.contains("PIRAEUS_GO"));
    // The Go layer, when anything reaches the go command
    // (the_go_layer_is_left_out_when_nothing_reaches_direct).
    assert!(
        fetch["Properties"]["Layers"]
            .to_string()
            .contains("GoToolchainLayer"),
        "{name} needs the Go toolchain layer"
    );
}

/// The logical ID a `!Ref`/`!GetAtt` points at.
fn referenced(value: &Value) -> Option<&str> {
    value["Ref"]
        .as_str()
        .or_else(|| value["Fn::GetAtt"][0].as_str())
        .or_else(|| {
            value["Fn::GetAtt"]
                .as_str()
                .and_then(|path| path.split('.').next())
        })
}

/// The viewer-request function the distribution runs: its logical ID and resource, from the
/// default behaviour, which every other behaviour must run too (else a path would skip the
/// client token check).
fn viewer_request_function(template: &Value) -> (&str, &Value) {
    fn association(behaviour: &Value) -> &str {
        let associations = behaviour["FunctionAssociations"]
            .as_array()
            .unwrap_or_else(|| panic!("no function associations in {behaviour}"));
        let viewer_request = associations
            .iter()
            .find(|a| a["EventType"] == "viewer-request")
            .unwrap_or_else(|| panic!("no viewer-request function in {behaviour}"));
        referenced(&viewer_request["FunctionARN"]).expect("the association refers to a resource")
    }
    let config = &only_resource_of_type(template, "AWS::CloudFront::Distribution").1["Properties"]
        ["DistributionConfig"];
    let id = association(&config["DefaultCacheBehavior"]);
    for behaviour in config["CacheBehaviors"].as_array().into_iter().flatten() {
        assert_eq!(association(behaviour), id, "{}", behaviour["PathPattern"]);
    }
    let function = &resources(template)[id];
    assert_eq!(function["Type"], "AWS::CloudFront::Function");
    assert_eq!(
        function["Properties"]["FunctionConfig"]["Runtime"],
        "cloudfront-js-2.0"
    );
    (id, function)
}

/// The function's code as CloudFormation hands it to CloudFront: `${ViewerAuth}` filled in
/// with the value the edge applies (`!Sub [CODE, {ViewerAuth: ...}]`).
fn function_code(function: &Value, viewer_auth: &str) -> String {
    let substitution = &function["Properties"]["FunctionCode"]["Fn::Sub"];
    assert_eq!(
        substitution[1],
        json!({"ViewerAuth": {"Fn::If": ["TokensRequired", "Enabled", "Disabled"]}}),
        "the edge applies ViewerAuth as TokensRequired says"
    );
    let code = substitution[0]
        .as_str()
        .expect("the function's code is an inline !Sub string")
        .replace("${ViewerAuth}", viewer_auth);
    assert!(
        !code.contains("${"),
        "the function's code uses a substitution this test does not fill in:\n{code}"
    );
    code
}

/// A CloudFront viewer-request event for a GET of `uri`.
fn viewer_request(uri: &str, authorization: Option<&str>) -> Value {
    let headers = match authorization {
        Some(value) => json!({"authorization": {"value": value}}),
        None => json!({}),
    };
    json!({
        "version": "1.0",
        "context": {"eventType": "viewer-request"},
        "viewer": {"ip": "192.0.2.1"},
        "request": {"method": "GET", "uri": uri, "querystring": {}, "headers": headers, "cookies": {}},
    })
}

/// Runs the function's code under Node.js with scripts/cloudfront-function.mjs, the runtime
/// stand-in `make stack`'s edge runs it with, the KeyValueStore read from `auth_file` (as the
/// edge reads it); returns what the handler returned for each event.
fn run_viewer_request(code: &str, auth_file: &Path, events: &[Value]) -> Vec<Value> {
    const DRIVER: &str = "import { readFileSync } from 'node:fs';\n\
        import { pathToFileURL } from 'node:url';\n\
        const [runtime, code, authFile, events] = process.argv.slice(1);\n\
        const { authFileStore, compile } = await import(pathToFileURL(runtime).href);\n\
        const handler = compile(readFileSync(code, 'utf8'), authFileStore(authFile));\n\
        const results = [];\n\
        for (const event of JSON.parse(readFileSync(events, 'utf8'))) {\n\
        \x20 results.push(await handler(event));\n\
        }\n\
        console.log(JSON.stringify(results));\n";
    assert!(
        Command::new("node")
            .arg("--version")
            .output()
            .is_ok_and(|output| output.status.success()),
        "node is missing: this test runs the CloudFront function under Node.js \
         (`make deps` installs it; Debian package nodejs)"
    );
    let dir = tempfile::tempdir().unwrap();
    let code_path = dir.path().join("viewer-request.js");
    let events_path = dir.path().join("events.json");
    std::fs::write(&code_path, code).unwrap();
    std::fs::write(&events_path, Value::from(events.to_vec()).to_string()).unwrap();
    let output = Command::new("node")
        .args(["--input-type=module", "-e", DRIVER])
        .arg(root().join("scripts/cloudfront-function.mjs"))
        .arg(&code_path)
        .arg(auth_file)
        .arg(&events_path)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", output_text(&output));
    serde_json::from_slice(&output.stdout).expect("the driver prints a JSON array")
}

/// Standard base64 with padding, as HTTP Basic credentials are sent.
fn base64(text: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut encoded = String::new();
    for chunk in text.as_bytes().chunks(3) {
        let bits = chunk.iter().enumerate().fold(0u32, |bits, (i, byte)| {
            bits | (u32::from(*byte) << (16 - 8 * i))
        });
        for i in 0..4 {
            if i <= chunk.len() {
                encoded.push(ALPHABET[((bits >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                encoded.push('=');
            }
        }
    }
    encoded
}

#[test]
fn cloudfront_fails_over_from_s3_to_serve_and_rewrites_plus() {
    let template = template();
    let (name, distribution) = only_resource_of_type(&template, "AWS::CloudFront::Distribution");
    let config = &distribution["Properties"]["DistributionConfig"];

    let origins = config["Origins"].as_array().expect("Origins");
    let s3_origins: Vec<&str> = origins
        .iter()
        .filter(|origin| origin.get("S3OriginConfig").is_some())
        .filter_map(|origin| origin["Id"].as_str())
        .collect();
    assert_eq!(s3_origins.len(), 1, "one S3 origin in {name}: {origins:?}");

    let groups = config["OriginGroups"]["Items"]
        .as_array()
        .expect("OriginGroups");
    let group = groups
        .iter()
        .find(|group| group["Id"] == config["DefaultCacheBehavior"]["TargetOriginId"])
        .expect("the default behaviour targets an origin group");
    let mut codes: Vec<i64> = group["FailoverCriteria"]["StatusCodes"]["Items"]
        .as_array()
        .expect("failover status codes")
        .iter()
        .filter_map(Value::as_i64)
        .collect();
    codes.sort();
    assert_eq!(codes, [403, 404], "S3 answers 403 for a missing key");
    let members = group["Members"]["Items"].as_array().expect("members");
    assert_eq!(members.len(), 2);
    assert_eq!(members[0]["OriginId"], s3_origins[0], "S3 is tried first");
    let fallback = origins
        .iter()
        .find(|origin| origin["Id"] == members[1]["OriginId"])
        .expect("the second member is an origin");
    assert!(
        fallback.get("CustomOriginConfig").is_some(),
        "the fallback is the serve function URL: {fallback}"
    );

    // list, @latest and the checksum database's changing answers never exist in S3: they go
    // straight to the function. Full tiles do, and take the default behaviour.
    for pattern in [
        "*/@v/list",
        "*/@latest",
        "/sumdb/*/lookup/*",
        "/sumdb/*/latest",
        "/sumdb/*/supported",
        "/sumdb/*.p/*",
    ] {
        let behaviour = config["CacheBehaviors"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|b| b["PathPattern"] == pattern)
            .unwrap_or_else(|| panic!("no cache behaviour for {pattern}"));
        assert_eq!(
            behaviour["TargetOriginId"], members[1]["OriginId"],
            "{pattern}"
        );
    }

    // With client authentication off, the function only rewrites `+`.
    let (_, function) = viewer_request_function(&template);
    let uris = [
        "/example.test/m.git/@v/v2.0.0+incompatible.zip",
        "/example.test/m.git/@v/v2.0.0+incompatible.info",
        "/example.test/m.git/@v/v1.0.0-rc.1+meta+more.mod",
        "/example.test/!m/@v/v1.0.0.zip",
    ];
    let events: Vec<Value> = uris.iter().map(|uri| viewer_request(uri, None)).collect();
    let no_tokens = tempfile::tempdir().unwrap();
    let results = run_viewer_request(
        &function_code(function, "Disabled"),
        &no_tokens.path().join("tokens.json"),
        &events,
    );
    let rewritten: Vec<&Value> = results.iter().map(|result| &result["uri"]).collect();
    assert_eq!(
        rewritten,
        [
            "/example.test/m.git/@v/v2.0.0%2Bincompatible.zip",
            "/example.test/m.git/@v/v2.0.0%2Bincompatible.info",
            "/example.test/m.git/@v/v1.0.0-rc.1%2Bmeta%2Bmore.mod",
            "/example.test/!m/@v/v1.0.0.zip",
        ],
        "{results:#?}"
    );
}

/// scripts/edge.mjs, `make stack`'s CloudFront, keeps an answer for as long as its
/// Cache-Control says and no longer, errors included (the edge tests rely on it). The
/// distribution must do the same: a cache policy whose minimum TTL is 0 (a higher one would
/// keep `no-store` answers), and an ErrorCachingMinTTL of 0 for every error the edge keeps.
#[test]
fn distribution_keeps_answers_as_the_local_edge_does() {
    let template = template();
    let policy =
        &resources(&template)["OriginCacheControlPolicy"]["Properties"]["CachePolicyConfig"];
    assert_eq!(policy["MinTTL"], 0, "{policy:#}");
    assert_eq!(policy["DefaultTTL"], 0, "{policy:#}");

    let edge = std::fs::read_to_string(root().join("scripts/edge.mjs")).unwrap();
    let start = edge
        .find("const KEPT_STATUSES = new Set([")
        .expect("the edge's kept statuses");
    let list = &edge[start..];
    let list = &list[list.find('[').unwrap() + 1..list.find(']').unwrap()];
    let kept_errors: BTreeSet<i64> = list
        .split(',')
        .map(str::trim)
        .filter(|code| !code.is_empty())
        .map(|code| code.parse::<i64>().expect("a status code"))
        .filter(|code| *code >= 400 && *code != 410)
        .collect();
    let config = &only_resource_of_type(&template, "AWS::CloudFront::Distribution").1["Properties"]
        ["DistributionConfig"];
    let mut minimum_zero = BTreeSet::new();
    for response in config["CustomErrorResponses"].as_array().unwrap() {
        assert_eq!(response["ErrorCachingMinTTL"], 0, "{response}");
        minimum_zero.insert(response["ErrorCode"].as_i64().unwrap());
    }
    assert_eq!(
        minimum_zero, kept_errors,
        "error codes kept for 0 s unless they say otherwise"
    );
}

/// A token in the format of the contract: a name, 64 lowercase hex characters, and what is
/// stored, `printf %s "$SECRET" | sha256sum`.
const TOKEN_NAME: &str = "ci";
const TOKEN_SECRET: &str = "3c9bd5e6d7b1a8f0e4c2d6a9b8e7f1c0d2a4b6c8e0f2a4c6e8b0d2f4a6c8e0b2";
const TOKEN_SHA256: &str = "00282f0d134bf661d7c89a5efa55c01308d9bcfc074acf8729cac82bb58c5d0a";

#[test]
fn viewer_request_function_requires_a_client_token() {
    let template = template();
    let (_, function) = viewer_request_function(&template);
    let store = function["Properties"]["FunctionConfig"]["KeyValueStoreAssociations"][0]
        ["KeyValueStoreARN"]
        .clone();
    assert_eq!(
        resources(&template)[referenced(&store).expect("a store from this template")]["Type"],
        "AWS::CloudFront::KeyValueStore"
    );
    let code = function_code(function, "Enabled");
    assert!(
        code.contains("import cf from 'cloudfront';") && code.contains("createHash('sha256')"),
        "the function reads the KeyValueStore and hashes the secret:\n{code}"
    );

    let dir = tempfile::tempdir().unwrap();
    let auth_file = dir.path().join("tokens.json");
    std::fs::write(
        &auth_file,
        json!({"tokens": [{"name": TOKEN_NAME, "sha256": TOKEN_SHA256, "created": "2026-11-21T10:00:00Z"}]})
            .to_string(),
    )
    .unwrap();
    let basic = |credentials: &str| format!("Basic {}", base64(credentials));
    let good = basic(&format!("{TOKEN_NAME}:{TOKEN_SECRET}"));
    let uri = "/example.test/m.git/@v/v2.0.0+incompatible.zip";
    let rewritten = "/example.test/m.git/@v/v2.0.0%2Bincompatible.zip";
    let wrong_secret = basic(&format!("{TOKEN_NAME}:{}", "0".repeat(64)));
    let unknown_name = basic(&format!("someone:{TOKEN_SECRET}"));
    let no_colon = basic(&format!("{TOKEN_NAME}{TOKEN_SECRET}"));
    let bearer = format!("Bearer {TOKEN_SECRET}");
    let refused = [
        ("wrong secret", Some(wrong_secret.as_str())),
        ("unknown name", Some(unknown_name.as_str())),
        ("not Basic", Some(bearer.as_str())),
        ("bad base64", Some("Basic !!not*base64!!")),
        ("no colon", Some(no_colon.as_str())),
        ("empty Basic", Some("Basic ")),
        ("empty header", Some("")),
        ("missing header", None),
    ];
    let mut events = vec![
        viewer_request(uri, Some(&good)),
        viewer_request(uri, Some(&good.replacen("Basic", "basic", 1))),
        viewer_request("/healthz", None),
    ];
    events.extend(
        refused
            .iter()
            .map(|(_, header)| viewer_request(uri, *header)),
    );
    let results = run_viewer_request(&code, &auth_file, &events);

    for passed in &results[..2] {
        assert_eq!(passed["uri"], rewritten, "{passed:#}");
        assert!(passed.get("statusCode").is_none(), "{passed:#}");
        assert!(
            passed["headers"].get("authorization").is_none(),
            "the secret goes no further than the edge: {passed:#}"
        );
    }
    assert_eq!(results[2]["statusCode"], 200, "{:#}", results[2]);
    // The answer `piraeus serve --auth-file` gives, whatever was wrong.
    let unauthorized = json!({
        "statusCode": 401,
        "statusDescription": "Unauthorized",
        "headers": {
            "www-authenticate": {"value": "Basic realm=\"piraeus\""},
            "content-type": {"value": "text/plain; charset=utf-8"},
            "cache-control": {"value": "no-store"},
        },
        "body": {"encoding": "text", "data": "unauthorized: missing or wrong credentials\n"},
    });
    for ((case, _), result) in refused.iter().zip(&results[3..]) {
        assert_eq!(result, &unauthorized, "{case}");
    }

    // A store that cannot be read refuses everyone.
    let unreadable = run_viewer_request(
        &code,
        &dir.path().join("missing.json"),
        &[viewer_request(uri, Some(&good))],
    );
    assert_eq!(unreadable[0], unauthorized);
}

/// The function decides every row of crates/piraeus-core/testdata/edge-scopes.json as the
/// table says, and a unit test of piraeus-core (`http::auth`) checks the table against the serve
/// router and the glob matcher themselves: the function reads a path's module as the router
/// does and matches it as a scope's patterns match. Each token's store value is what `piraeus
/// token new --kvs` writes for its scope.
#[test]
fn viewer_request_function_enforces_scopes_as_the_router_reads_paths() {
    let template = template();
    let (_, function) = viewer_request_function(&template);
    let table: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("crates/piraeus-core/testdata/edge-scopes.json"))
            .unwrap(),
    )
    .unwrap();
    let cases = table["cases"].as_array().unwrap();
    let mut scopes: Vec<Option<&str>> = Vec::new();
    for case in cases {
        let scope = case["modules"].as_str();
        if !scopes.contains(&scope) {
            scopes.push(scope);
        }
    }
    let records: Vec<Value> = scopes
        .iter()
        .enumerate()
        .map(|(i, scope)| {
            let value = piraeus_core::auth::kvs_value(TOKEN_SHA256, *scope).unwrap();
            let mut record =
                json!({"name": format!("t{i}"), "sha256": TOKEN_SHA256, "created": "2026-11-21T10:00:00Z"});
            // The local store gives `sha256;modules`: the value `--kvs` writes.
            if let Some(modules) = piraeus_core::auth::kvs_modules(&value) {
                record["modules"] = json!(modules);
            }
            record
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let auth_file = dir.path().join("tokens.json");
    std::fs::write(&auth_file, json!({"tokens": records}).to_string()).unwrap();
    let name = |case: &Value| {
        let scope = case["modules"].as_str();
        format!("t{}", scopes.iter().position(|s| *s == scope).unwrap())
    };
    let events: Vec<Value> = cases
        .iter()
        .map(|case| {
            let credentials = format!("{}:{TOKEN_SECRET}", name(case));
            viewer_request(
                case["path"].as_str().unwrap(),
                Some(&format!("Basic {}", base64(&credentials))),
            )
        })
        .collect();
    let results = run_viewer_request(&function_code(function, "Enabled"), &auth_file, &events);

    for (case, result) in cases.iter().zip(&results) {
        let path = case["path"].as_str().unwrap();
        let refusal = format!("forbidden: token \"{}\" may not read ", name(case));
        match case["expect"].as_str().unwrap().strip_prefix("refuse") {
            None => {
                assert!(result.get("statusCode").is_none(), "{case}: {result:#}");
                assert_eq!(result["uri"], path.replace('+', "%2B"), "{case}");
            }
            Some("") => {
                assert_eq!(result["statusCode"], 403, "{case}: {result:#}");
                let body = result["body"]["data"].as_str().unwrap();
                assert!(body.starts_with(&refusal), "{case}: {body}");
            }
            Some(module) => assert_eq!(
                result,
                &json!({
                    "statusCode": 403,
                    "statusDescription": "Forbidden",
                    "headers": {
                        "content-type": {"value": "text/plain; charset=utf-8"},
                        "cache-control": {"value": "no-store"},
                    },
                    "body": {
                        "encoding": "text",
                        "data": format!(
                            "{refusal}{}: it is outside the token's modules\n",
                            module.trim_start()
                        ),
                    },
                }),
                "{case}"
            ),
        }
    }
}

/// CloudFront Functions take at most 10 KB of code (CloudFront's quota on function size), as
/// CloudFormation hands it over.
#[test]
fn viewer_request_function_fits_cloudfronts_size_limit() {
    let template = template();
    let (_, function) = viewer_request_function(&template);
    let size = function_code(function, "Disabled").len();
    assert!(size <= 10 * 1024, "the function's code has {size} bytes");
}

/// `/healthz` is answered at the edge, token or not, exactly as `piraeus serve` answers it: an
/// uptime check costs no request to the bucket and no run of the serve function.
#[test]
fn viewer_request_function_answers_healthz_itself() {
    let template = template();
    let (_, function) = viewer_request_function(&template);
    let sandbox = crate::common::Sandbox::new();
    let server = sandbox.start_server();
    let reference = server.get("/healthz");
    assert_eq!(reference.status, 200);
    let expected = json!({
        "statusCode": 200,
        "statusDescription": "OK",
        "headers": {
            "content-type": {"value": reference.header("content-type").unwrap()},
            "cache-control": {"value": reference.header("cache-control").unwrap()},
        },
        "body": {"encoding": "text", "data": reference.text()},
    });
    let no_tokens = sandbox.path().join("no-tokens.json");
    for viewer_auth in ["Enabled", "Disabled"] {
        let events = [
            viewer_request("/healthz", None),
            viewer_request("/healthz", Some("Basic !!not*base64!!")),
        ];
        let results =
            run_viewer_request(&function_code(function, viewer_auth), &no_tokens, &events);
        for result in &results {
            assert_eq!(result, &expected, "ViewerAuth {viewer_auth}");
        }
    }
}

/// Whether `text` matches an IAM resource pattern: `*` is any run of characters, `/`
/// included, and `?` any one character.
fn iam_matches(pattern: &str, text: &str) -> bool {
    match pattern.chars().next() {
        None => text.is_empty(),
        Some('*') => {
            let rest = &pattern[1..];
            text.char_indices()
                .map(|(i, _)| i)
                .chain([text.len()])
                .any(|i| iam_matches(rest, &text[i..]))
        }
        Some(first) => text.chars().next().is_some_and(|c| {
            (first == '?' || first == c)
                && iam_matches(&pattern[first.len_utf8()..], &text[c.len_utf8()..])
        }),
    }
}

/// The object keys of the template's bucket that a function's policies let it `s3:PutObject`,
/// as IAM patterns.
fn put_object_key_patterns(function: &Value) -> Vec<String> {
    const BUCKET: &str = "${Bucket.Arn}/";
    let mut patterns = Vec::new();
    for policy in function["Properties"]["Policies"].as_array().unwrap() {
        for statement in policy["Statement"].as_array().into_iter().flatten() {
            let actions = match &statement["Action"] {
                Value::Array(actions) => actions.clone(),
                action => vec![action.clone()],
            };
            if statement["Effect"] != "Allow"
                || !actions
                    .iter()
                    .any(|a| a == "s3:PutObject" || a == "s3:*" || a == "*")
            {
                continue;
            }
            let resources = match &statement["Resource"] {
                Value::Array(resources) => resources.clone(),
                resource => vec![resource.clone()],
            };
            for resource in resources {
                let arn = resource["Fn::Sub"].as_str().unwrap_or_else(|| {
                    panic!("a put resource that is not in the bucket: {resource}")
                });
                let key = arn
                    .strip_prefix(BUCKET)
                    .unwrap_or_else(|| panic!("a put resource outside the bucket: {arn}"));
                assert!(!key.contains("${"), "{arn}");
                patterns.push(key.to_string());
            }
        }
    }
    patterns
}

/// Every file under `dir` but Piraeus's private directory, as a key relative to `dir`.
fn stored_keys(dir: &Path) -> Vec<String> {
    let mut keys = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(next) = pending.pop() {
        for entry in std::fs::read_dir(&next).unwrap() {
            let path = entry.unwrap().path();
            let key = path
                .strip_prefix(dir)
                .unwrap()
                .to_str()
                .unwrap()
                .to_string();
            if key == piraeus_core::store::PRIVATE_DIR {
                continue;
            }
            if path.is_dir() {
                pending.push(path);
            } else {
                keys.push(key);
            }
        }
    }
    keys.sort();
    keys
}

/// Code that runs inside the fetch function (the go command, git, what a module makes them
/// do) holds its role: it may create the keys the ingester writes, and no other key, such as a
/// checksum database tile that CloudFront would then serve to every client from the bucket.
#[test]
fn fetch_role_may_create_only_the_keys_the_ingester_writes() {
    let template = template();
    let patterns = put_object_key_patterns(&resources(&template)["FetchFunction"]);
    assert!(!patterns.is_empty(), "the fetch function stores artifacts");

    // What the ingester writes, from a real fetch through `piraeus serve`, whose data directory
    // has the bucket's layout: a case-encoded path and version among them.
    let sandbox = crate::common::Sandbox::new();
    let repo = sandbox.module("Keys.git");
    repo.commit("one");
    repo.tag("v1.0.0-RC1");
    let server = sandbox.start_server();
    let downloads = sandbox
        .client("keys", &server.url())
        .download(&["example.test/Keys.git@v1.0.0-RC1"]);
    assert!(downloads[0].error.is_empty(), "{downloads:?}");
    server.stop();
    let written = stored_keys(&sandbox.data_dir());
    assert_eq!(
        written,
        ["info", "mod", "zip"].map(|ext| format!("example.test/!keys.git/@v/v1.0.0-!r!c1.{ext}")),
        "what one fetch stores"
    );
    for key in &written {
        assert!(
            patterns.iter().any(|pattern| iam_matches(pattern, key)),
            "the fetch role may not create {key} ({patterns:?})"
        );
    }
    // Keys CloudFront would serve from the bucket, but which no ingest writes.
    for key in [
        "sumdb/sum.golang.org/tile/8/0/000",
        "sumdb/sum.golang.org/tile/8/1/002.p/7",
        "sumdb/sum.golang.org/supported",
        "version",
        "readyz",
        "index.html",
        "example.test/m/@v/list",
        "example.test/m/@latest",
        "example.test/m/@v/v1.0.0.zip.partial",
        "example.test/m/@v/v1.0.0.info/x",
    ] {
        let allowing: Vec<&String> = patterns.iter().filter(|p| iam_matches(p, key)).collect();
        assert!(
            allowing.is_empty(),
            "the fetch role may create {key}: {allowing:?}"
        );
    }
}

/// Evaluates a template rule's condition or assertion for the given parameter values.
fn evaluate(value: &Value, parameters: &serde_json::Map<String, Value>) -> Value {
    let Some((function, arguments)) = value
        .as_object()
        .filter(|object| object.len() == 1)
        .and_then(|object| object.iter().next())
    else {
        return value.clone();
    };
    let argument = |index: usize| evaluate(&arguments[index], parameters);
    let each = |arguments: &Value| -> Vec<bool> {
        arguments
            .as_array()
            .expect("a list of conditions")
            .iter()
            .map(|argument| evaluate(argument, parameters) == true)
            .collect()
    };
    match function.as_str() {
        "Ref" => parameters[arguments.as_str().unwrap()].clone(),
        "Fn::Equals" => Value::Bool(argument(0) == argument(1)),
        "Fn::Not" => Value::Bool(argument(0) == false),
        "Fn::And" => Value::Bool(each(arguments).into_iter().all(|b| b)),
        "Fn::Or" => Value::Bool(each(arguments).into_iter().any(|b| b)),
        "Fn::EachMemberEquals" => {
            let wanted = argument(1);
            Value::Bool(argument(0).as_array().unwrap().iter().all(|m| *m == wanted))
        }
        other => panic!("{other} is not a rule function this test knows"),
    }
}

/// The assertion descriptions of every template rule that refuses these parameters (the
/// others at their defaults) in `region`.
fn refusals(template: &Value, region: &str, overrides: &[(&str, Value)]) -> Vec<String> {
    let mut parameters = serde_json::Map::new();
    for (name, parameter) in template["Parameters"].as_object().unwrap() {
        let default = parameter["Default"].clone();
        let value = match parameter["Type"].as_str() {
            Some("CommaDelimitedList") => {
                json!(default.as_str().unwrap().split(',').collect::<Vec<_>>())
            }
            _ => default,
        };
        parameters.insert(name.clone(), value);
    }
    for (name, value) in overrides {
        assert!(parameters.contains_key(*name), "no parameter {name}");
        parameters.insert(name.to_string(), value.clone());
    }
    parameters.insert("AWS::Region".into(), json!(region));
    let mut refused = Vec::new();
    for rule in template["Rules"].as_object().expect("Rules").values() {
        let applies = rule
            .get("RuleCondition")
            .is_none_or(|condition| evaluate(condition, &parameters) == true);
        if !applies {
            continue;
        }
        for assertion in rule["Assertions"].as_array().expect("Assertions") {
            if evaluate(&assertion["Assert"], &parameters) != true {
                refused.push(assertion["AssertDescription"].as_str().unwrap().to_string());
            }
        }
    }
    refused
}

/// Parameter values other than the defaults.
type Overrides = Vec<(&'static str, Value)>;

#[test]
fn template_rules_refuse_unsafe_or_incomplete_parameters() {
    let template = template();
    let netrc = json!("arn:aws:secretsmanager:eu-west-1:123456789012:secret:piraeus/netrc-AbCdEf");
    let domain = json!("goproxy.example.com");
    let certificate = json!(
        "arn:aws:acm:us-east-1:123456789012:certificate/12345678-90ab-cdef-1234-567890abcdef"
    );
    let cidrs = json!(["192.0.2.0/24", "198.51.100.7/32"]);
    let ssh_key =
        json!("arn:aws:secretsmanager:eu-west-1:123456789012:secret:piraeus/ssh-key-AbCdEf");
    let github_app =
        json!("arn:aws:secretsmanager:eu-west-1:123456789012:secret:piraeus/github-app-AbCdEf");
    let subnets = json!(["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"]);
    let groups = json!(["sg-0123456789abcdef0"]);
    let accepted: [(&str, Overrides); 9] = [
        ("eu-west-1", vec![]),
        ("eu-west-1", vec![("NetrcSecretArn", netrc.clone())]),
        ("eu-west-1", vec![("GitSshKeySecretArn", ssh_key.clone())]),
        (
            "eu-west-1",
            vec![("GitHubAppSecretArn", github_app.clone())],
        ),
        (
            "eu-west-1",
            vec![
                ("FetchSubnetIds", subnets.clone()),
                ("FetchSecurityGroupIds", groups.clone()),
            ],
        ),
        ("eu-west-1", vec![("ViewerAuth", json!("Disabled"))]),
        (
            "eu-west-1",
            vec![
                ("DomainName", domain.clone()),
                ("CertificateArn", certificate.clone()),
            ],
        ),
        ("us-east-1", vec![("AllowedCidrs", cidrs.clone())]),
        ("us-east-1", vec![]),
    ];
    for (region, overrides) in &accepted {
        assert_eq!(
            refusals(&template, region, overrides),
            Vec::<String>::new(),
            "{overrides:?} in {region}"
        );
    }
    let refused: [(&str, Overrides, &str); 8] = [
        (
            "us-east-1",
            vec![("NetrcSecretArn", netrc), ("ViewerAuth", json!("Disabled"))],
            "ViewerAuth",
        ),
        (
            "us-east-1",
            vec![
                ("GitSshKeySecretArn", ssh_key),
                ("ViewerAuth", json!("Disabled")),
            ],
            "ViewerAuth",
        ),
        (
            "us-east-1",
            vec![
                ("GitHubAppSecretArn", github_app),
                ("ViewerAuth", json!("Disabled")),
            ],
            "ViewerAuth",
        ),
        (
            "us-east-1",
            vec![("FetchSubnetIds", subnets)],
            "FetchSecurityGroupIds",
        ),
        (
            "us-east-1",
            vec![("FetchSecurityGroupIds", groups)],
            "FetchSubnetIds",
        ),
        ("us-east-1", vec![("DomainName", domain)], "CertificateArn"),
        (
            "us-east-1",
            vec![("CertificateArn", certificate)],
            "DomainName",
        ),
        ("eu-west-1", vec![("AllowedCidrs", cidrs)], "us-east-1"),
    ];
    for (region, overrides, says) in &refused {
        let reasons = refusals(&template, region, overrides);
        assert!(
            reasons.len() == 1 && reasons[0].contains(says),
            "{overrides:?} in {region}: {reasons:?}"
        );
    }

    // A custom domain gets a TLS 1.2 minimum; the allow-list blocks everyone else.
    let config = &only_resource_of_type(&template, "AWS::CloudFront::Distribution").1["Properties"]
        ["DistributionConfig"];
    let with_domain = &config["ViewerCertificate"]["Fn::If"][1];
    assert_eq!(
        with_domain["MinimumProtocolVersion"], "TLSv1.2_2021",
        "{config:#}"
    );
    assert_eq!(with_domain["SslSupportMethod"], "sni-only");
    let (acl_name, acl) = only_resource_of_type(&template, "AWS::WAFv2::WebACL");
    assert_eq!(acl["Properties"]["Scope"], "CLOUDFRONT");
    assert_eq!(
        acl["Properties"]["DefaultAction"],
        json!({"Fn::If": ["HasAllowList", {"Block": {}}, {"Allow": {}}]})
    );
    assert_eq!(referenced(&config["WebACLId"]["Fn::If"][1]), Some(acl_name));
    let rules = acl["Properties"]["Rules"].as_array().unwrap();
    let rate = &rules[0]["Fn::If"][1];
    assert_eq!(
        rate["Statement"]["RateBasedStatement"]["AggregateKeyType"],
        "IP"
    );

    // Artifacts are written once, whoever writes: the bucket refuses unconditional puts.
    let (_, bucket_policy) = only_resource_of_type(&template, "AWS::S3::BucketPolicy");
    let statements = bucket_policy["Properties"]["PolicyDocument"]["Statement"]
        .as_array()
        .unwrap();
    assert!(
        statements
            .iter()
            .any(|statement| statement["Effect"] == "Deny"
                && statement["Action"] == "s3:PutObject"
                && statement["Condition"]["Null"]["s3:if-none-match"] == "true"),
        "{statements:#?}"
    );
    // Misses cannot use up the account: the fetch function has reserved concurrency, and one
    // retry at most.
    let (_, fetch) = resources_of_type(&template, "AWS::Serverless::Function")
        .into_iter()
        .find(|(_, function)| function["Metadata"]["BuildProperties"]["Binary"] == "piraeus-fetch")
        .unwrap();
    assert_eq!(
        fetch["Properties"]["ReservedConcurrentExecutions"],
        json!({"Ref": "FetchConcurrency"})
    );
    assert_eq!(
        fetch["Properties"]["EventInvokeConfig"]["MaximumRetryAttempts"],
        1
    );
    // Lookups have instances of their own, which queued downloads cannot take: serve and
    // prefetch send them to the lookup function and may invoke it.
    let lookup = &resources(&template)["LookupFunction"];
    assert_eq!(
        lookup["Metadata"]["BuildProperties"]["Binary"],
        "piraeus-fetch"
    );
    assert_eq!(
        lookup["Properties"]["ReservedConcurrentExecutions"],
        json!({"Ref": "LookupConcurrency"})
    );
    for caller in ["ServeFunction", "PrefetchFunction"] {
        let function = &resources(&template)[caller];
        assert_eq!(
            function["Properties"]["Environment"]["Variables"]["PIRAEUS_LOOKUP_FUNCTION"],
            json!({"Ref": "LookupFunction"}),
            "{caller}"
        );
        let policies = function["Properties"]["Policies"].to_string();
        assert!(
            policies.contains(r#"{"Fn::GetAtt":["LookupFunction","Arn"]}"#),
            "{caller} may not invoke the lookup function: {policies}"
        );
    }
}

#[test]
fn dashboard_and_alarms_read_the_metrics_the_functions_emit() {
    let template = template();
    let (name, dashboard) = only_resource_of_type(&template, "AWS::CloudWatch::Dashboard");
    let body = dashboard["Properties"]["DashboardBody"]["Fn::Sub"]
        .as_str()
        .expect("the dashboard body is a !Sub string");
    // What CloudFormation substitutes is a plain name or ID: the body must be JSON around it.
    let mut substituted = String::new();
    let mut rest = body;
    while let Some(start) = rest.find("${") {
        substituted.push_str(&rest[..start]);
        let end = rest[start..].find('}').expect("a closed ${...}") + start;
        substituted.push('x');
        rest = &rest[end + 1..];
    }
    substituted.push_str(rest);
    let parsed: Value = serde_json::from_str(&substituted)
        .unwrap_or_else(|error| panic!("{name} body is not JSON: {error}\n{substituted}"));
    assert!(parsed["widgets"].as_array().is_some_and(|w| !w.is_empty()));

    for metric in [
        "Requests",
        "Latency",
        "Fetches",
        "FetchDuration",
        "FetchBytes",
    ] {
        assert!(
            body.contains(metric),
            "{name} does not plot {metric} (crates/piraeus-core/src/telemetry/metrics.rs)"
        );
    }
    assert!(body.contains(&format!(
        "{{{},Route,Outcome}}",
        piraeus_core::telemetry::metrics::NAMESPACE
    )));
    assert!(body.contains(&format!(
        "{{{},Outcome}}",
        piraeus_core::telemetry::metrics::NAMESPACE
    )));

    let fetch_alarm = resources_of_type(&template, "AWS::CloudWatch::Alarm")
        .into_iter()
        .find(|(_, alarm)| alarm["Properties"]["MetricName"] == "Fetches")
        .expect("an alarm on failed fetches");
    assert_eq!(
        fetch_alarm.1["Properties"]["Namespace"],
        piraeus_core::telemetry::metrics::NAMESPACE
    );
    assert_eq!(
        fetch_alarm.1["Properties"]["Dimensions"],
        json!([{"Name": "Outcome", "Value": "failed"}])
    );
}

/// The fetch and lookup functions join the VPC FetchSubnetIds names (both reach Git servers),
/// with the permissions Lambda needs to make their network interfaces; without it, neither
/// is in a VPC. And each may read exactly the secrets it is given.
#[test]
fn fetch_and_lookup_join_a_vpc_and_read_only_their_secrets() {
    let template = template();
    let eni_actions = [
        "ec2:CreateNetworkInterface",
        "ec2:DescribeNetworkInterfaces",
        "ec2:DeleteNetworkInterface",
    ];
    for name in ["FetchFunction", "LookupFunction"] {
        let function = &resources(&template)[name]["Properties"];
        assert_eq!(
            function["VpcConfig"],
            json!({"Fn::If": ["HasVpc", {
                "SubnetIds": {"Ref": "FetchSubnetIds"},
                "SecurityGroupIds": {"Ref": "FetchSecurityGroupIds"},
            }, {"Ref": "AWS::NoValue"}]}),
            "{name}"
        );
        let policies = function["Policies"].to_string();
        for action in eni_actions {
            assert!(
                policies.contains(action),
                "{name} lacks {action}: {policies}"
            );
        }
        assert!(
            policies.contains(r#"["HasVpc",{"#) || policies.contains(r#"{"Fn::If":["HasVpc""#),
            "{name}'s network-interface permissions only with a VPC: {policies}"
        );
        for secret in ["NetrcSecretArn", "GitSshKeySecretArn", "GitHubAppSecretArn"] {
            assert!(
                policies.contains(&format!(r#"{{"Ref":"{secret}"}}"#)),
                "{name} may not read {secret}: {policies}"
            );
        }
        assert!(
            !policies.contains(r#""secretsmanager:GetSecretValue","Resource":"*""#),
            "{name} may read every secret: {policies}"
        );
    }
    // The serve and prefetch functions reach no Git server and stay outside the VPC.
    for name in ["ServeFunction", "PrefetchFunction"] {
        assert!(
            resources(&template)[name]["Properties"]["VpcConfig"].is_null(),
            "{name}"
        );
    }
    assert_eq!(template["Parameters"]["Upstream"]["NoEcho"], true);
}

/// Whether the template's condition `name` holds for these parameter values (strings; only the
/// functions conditions here use).
fn condition_holds(template: &Value, name: &str, parameters: &[(&str, &str)]) -> bool {
    fn eval(value: &Value, conditions: &Value, parameters: &[(&str, &str)]) -> Value {
        let Some((function, arguments)) = value
            .as_object()
            .filter(|object| object.len() == 1)
            .and_then(|object| object.iter().next())
        else {
            return value.clone();
        };
        let argument = |index: usize| eval(&arguments[index], conditions, parameters);
        match function.as_str() {
            "Ref" => {
                let name = arguments.as_str().unwrap();
                let (_, value) = parameters
                    .iter()
                    .find(|(parameter, _)| *parameter == name)
                    .unwrap_or_else(|| panic!("the condition refers to {name}, not given"));
                json!(value)
            }
            "Condition" => eval(
                &conditions[arguments.as_str().unwrap()],
                conditions,
                parameters,
            ),
            "Fn::Equals" => json!(argument(0) == argument(1)),
            "Fn::Not" => json!(argument(0) == false),
            "Fn::Or" => {
                json!((0..arguments.as_array().unwrap().len()).any(|i| argument(i) == true))
            }
            "Fn::Split" => {
                let (separator, text) = (argument(0), argument(1));
                json!(
                    text.as_str()
                        .unwrap()
                        .split(separator.as_str().unwrap())
                        .collect::<Vec<_>>()
                )
            }
            "Fn::Select" => {
                let index = argument(0).as_u64().expect("a numeric index");
                argument(1)[index as usize].clone()
            }
            other => panic!("{other} is not a condition function this test knows"),
        }
    }
    let conditions = &template["Conditions"];
    eval(&conditions[name], conditions, parameters) == true
}

/// A rule cannot look inside `Upstream`, so the edge requires tokens when it carries a user
/// name or password, whatever ViewerAuth says: what the fetch function fetches with them
/// would otherwise reach anyone. (`Upstream` is NoEcho; its value never reaches the code.)
#[test]
fn credentials_in_upstream_make_the_edge_require_tokens() {
    let template = template();
    for (upstream, viewer_auth, required) in [
        ("https://proxy.golang.org,direct", "Enabled", true),
        ("https://proxy.golang.org,direct", "Disabled", false),
        ("https://goproxy.corp.example|direct", "Disabled", false),
        (
            "https://ci:s3cret@goproxy.corp.example,direct",
            "Disabled",
            true,
        ),
        (
            "https://proxy.golang.org,https://ci:s3cret@artifactory.corp.example/go",
            "Disabled",
            true,
        ),
        ("https://ci:s3cret@goproxy.corp.example", "Enabled", true),
    ] {
        let parameters = [("Upstream", upstream), ("ViewerAuth", viewer_auth)];
        assert_eq!(
            condition_holds(&template, "TokensRequired", &parameters),
            required,
            "Upstream {upstream}, ViewerAuth {viewer_auth}"
        );
    }
    // The function reads TokensRequired's answer, never Upstream.
    let (_, function) = viewer_request_function(&template);
    assert!(
        !function["Properties"]["FunctionCode"]
            .to_string()
            .contains("Upstream"),
        "the viewer function's code must not see Upstream"
    );
}

/// The Go layer is deployed and attached only when something can reach the go command: a
/// chain with `direct`, or GOPRIVATE modules. Proxies before it are spoken to natively.
#[test]
fn the_go_layer_is_left_out_when_nothing_reaches_direct() {
    let template = template();
    for (upstream, private, needed) in [
        ("https://proxy.golang.org,direct", "", true),
        ("direct", "", true),
        ("https://proxy.golang.org", "", false),
        (
            "https://goproxy.corp.example|https://proxy.golang.org",
            "",
            false,
        ),
        ("off", "", false),
        ("https://proxy.golang.org", "git.corp.example", true),
    ] {
        let parameters = [("Upstream", upstream), ("GoPrivate", private)];
        assert_eq!(
            condition_holds(&template, "NeedsGoToolchain", &parameters),
            needed,
            "Upstream {upstream}, GoPrivate {private:?}"
        );
    }
    assert_eq!(
        resources(&template)["GoToolchainLayer"]["Condition"],
        "NeedsGoToolchain"
    );
    for name in ["FetchFunction", "LookupFunction"] {
        assert_eq!(
            resources(&template)[name]["Properties"]["Layers"],
            json!([{"Fn::If": ["NeedsGoToolchain", {"Ref": "GoToolchainLayer"}, {"Ref": "AWS::NoValue"}]}]),
            "{name}"
        );
    }
}
