//! `template.yaml`, the AWS deployment: it passes cfn-lint and `sam validate --lint`, and it
//! agrees with the code it deploys (the DynamoDB schema, the binaries and the environment they
//! read, the metrics they emit) and with what CloudFront must do in front of S3.
//!
//! The linters come from the project virtualenv (`make deps`): `$PIRAEUS_VENV`, else `.venv`.
//! The template is read with cfn-lint's own YAML loader, which understands `!Ref`, `!Sub` and
//! the other CloudFormation tags, and handed over as JSON.

use std::collections::BTreeSet;
use std::path::PathBuf;
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
    assert!(known.contains("PIRAEUS_NETRC_SECRET"));
    let fetch_main = std::fs::read_to_string(root().join("functions/fetch/main.rs")).unwrap();
    assert!(
        fetch_main.contains("NETRC_SECRET"),
        "the fetch function installs the .netrc secret"
    );

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
            assert!(
                variables.contains("PIRAEUS_FETCH_FUNCTION"),
                "{name} ({binary}) must know the fetch function"
            );
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
        "HOME",
        "GIT_EXEC_PATH",
    ] {
        assert!(variables.contains(variable), "{name} lacks {variable}");
    }
    assert!(
        fetch["Properties"]["Layers"]
            .as_array()
            .is_some_and(|layers| !layers.is_empty()),
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

/// Runs the CloudFront function's code under Node.js on each URI; None when node is absent.
fn run_viewer_request(code: &str, uris: &[&str]) -> Option<Vec<String>> {
    if Command::new("node").arg("--version").output().is_err() {
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("function.js");
    let events: Vec<Value> = uris
        .iter()
        .map(|uri| {
            json!({
                "version": "1.0",
                "context": {"eventType": "viewer-request"},
                "viewer": {"ip": "192.0.2.1"},
                "request": {"method": "GET", "uri": uri, "querystring": {}, "headers": {}, "cookies": {}},
            })
        })
        .collect();
    std::fs::write(
        &script,
        format!(
            "{code}\nconsole.log(JSON.stringify({events}.map(function (event) {{ return handler(event).uri; }})));\n",
            events = Value::from(events)
        ),
    )
    .unwrap();
    let output = Command::new("node").arg(&script).output().unwrap();
    assert!(output.status.success(), "{}", output_text(&output));
    Some(serde_json::from_slice(&output.stdout).expect("the script prints a JSON array"))
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

    // list and @latest never exist in S3: they go straight to the function.
    for pattern in ["*/@v/list", "*/@latest"] {
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

    let associations = config["DefaultCacheBehavior"]["FunctionAssociations"]
        .as_array()
        .expect("the default behaviour has function associations");
    let viewer_request = associations
        .iter()
        .find(|a| a["EventType"] == "viewer-request")
        .expect("a viewer-request function");
    let function_id =
        referenced(&viewer_request["FunctionARN"]).expect("the association refers to a resource");
    let function = &resources(&template)[function_id];
    assert_eq!(function["Type"], "AWS::CloudFront::Function");
    assert_eq!(
        function["Properties"]["FunctionConfig"]["Runtime"],
        "cloudfront-js-2.0"
    );
    let code = function["Properties"]["FunctionCode"]
        .as_str()
        .expect("the function's code is inline");
    assert!(
        code.contains("function handler(event)") && code.contains("%2B") && code.contains('+'),
        "the viewer-request function must rewrite + to %2B:\n{code}"
    );

    let uris = [
        "/example.test/m.git/@v/v2.0.0+incompatible.zip",
        "/example.test/m.git/@v/v2.0.0+incompatible.info",
        "/example.test/m.git/@v/v1.0.0-rc.1+meta+more.mod",
        "/example.test/!m/@v/v1.0.0.zip",
    ];
    match run_viewer_request(code, &uris) {
        Some(rewritten) => assert_eq!(
            rewritten,
            [
                "/example.test/m.git/@v/v2.0.0%2Bincompatible.zip",
                "/example.test/m.git/@v/v2.0.0%2Bincompatible.info",
                "/example.test/m.git/@v/v1.0.0-rc.1%2Bmeta%2Bmore.mod",
                "/example.test/!m/@v/v1.0.0.zip",
            ]
        ),
        None => eprintln!("note: node is not installed; the CloudFront function was not run"),
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
