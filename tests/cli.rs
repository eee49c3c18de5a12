//! The `piraeus` command's configuration surface: flags, environment, help, exit codes, logs.

use std::process::Command;

use crate::common::Sandbox;

fn piraeus(arguments: &[&str], environment: &[(&str, &str)]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_piraeus"))
        .args(arguments)
        .envs(environment.iter().copied())
        .output()
        .unwrap()
}

/// Arguments, environment, and what the error message must say.
type BadConfiguration<'a> = (Vec<&'a str>, Vec<(&'a str, &'a str)>, &'a str);

#[test]
fn bad_configuration_exits_2_with_a_clear_message() {
    let sandbox = Sandbox::new();
    let not_a_directory = sandbox.path().join("file");
    std::fs::write(&not_a_directory, "").unwrap();
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy_address = busy.local_addr().unwrap().to_string();
    let data_dir = sandbox.data_dir();
    let data_dir = data_dir.to_str().unwrap();
    let empty_dir = sandbox.path().join("empty");

    let cases: Vec<BadConfiguration> = vec![
        (vec!["serve", "--listen", "nowhere"], vec![], "--listen"),
        (
            vec!["serve", "--upstream", "proxy.golang.org"],
            vec![],
            "not a GOPROXY entry",
        ),
        (
            vec!["serve", "--fetch-timeout", "soon"],
            vec![],
            "not a duration",
        ),
        (
            vec!["serve", "--max-concurrent-fetches", "0"],
            vec![],
            "--max-concurrent-fetches",
        ),
        (vec!["serve", "--log-format", "xml"], vec![], "--log-format"),
        (
            vec!["serve"],
            vec![("PIRAEUS_UPSTREAM", "ftp://example.com")],
            "not a GOPROXY entry",
        ),
        (
            vec!["serve"],
            vec![("PIRAEUS_ANSWER_TTL", "5 fortnights")],
            "unknown unit",
        ),
        (
            vec!["serve", "--data-dir", not_a_directory.to_str().unwrap()],
            vec![],
            "cannot open storage",
        ),
        (
            vec!["serve", "--data-dir", data_dir, "--listen", &busy_address],
            vec![],
            "cannot listen on",
        ),
        (
            vec!["verify", "--data-dir", empty_dir.to_str().unwrap()],
            vec![],
            "has no index",
        ),
        (vec!["launch"], vec![], "unrecognized subcommand"),
    ];
    for (arguments, environment, expected) in cases {
        let output = piraeus(&arguments, &environment);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{arguments:?} {environment:?}: {stderr}"
        );
        assert!(
            stderr.contains(expected),
            "{arguments:?} {environment:?} should say {expected:?}: {stderr}"
        );
    }
}

#[test]
fn help_explains_every_flag_and_its_environment_variable() {
    let output = piraeus(&["serve", "--help"], &[]);
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    for (flag, variable) in [
        ("--listen", "PIRAEUS_LISTEN"),
        ("--data-dir", "PIRAEUS_DATA_DIR"),
        ("--upstream", "PIRAEUS_UPSTREAM"),
        ("--go", "PIRAEUS_GO"),
        ("--fetch-timeout", "PIRAEUS_FETCH_TIMEOUT"),
        ("--max-concurrent-fetches", "PIRAEUS_MAX_CONCURRENT_FETCHES"),
        ("--answer-ttl", "PIRAEUS_ANSWER_TTL"),
        ("--log-format", "PIRAEUS_LOG_FORMAT"),
    ] {
        assert!(
            help.contains(flag) && help.contains(variable),
            "{flag} / {variable} missing from:\n{help}"
        );
    }
    assert!(
        help.contains("127.0.0.1:3000") && help.contains("https://proxy.golang.org,direct"),
        "defaults are shown"
    );
    let version = piraeus(&["--version"], &[]);
    assert!(String::from_utf8_lossy(&version.stdout).starts_with("piraeus "));
}

#[test]
fn environment_variables_configure_serve_and_json_logs_have_one_line_per_request() {
    let sandbox = Sandbox::new();
    let repo = sandbox.module("logged.git");
    repo.commit("one");
    repo.tag("v0.1.0");
    let server = sandbox.start_server_with(&[], &[("PIRAEUS_LOG_FORMAT", "json")]);
    assert_eq!(
        server.get("/example.test/logged.git/@v/v0.1.0.mod").status,
        200
    );
    assert_eq!(
        server.get("/example.test/logged.git/@v/v0.1.0.mod").status,
        200
    );
    assert_eq!(server.get("/example.test/%2e%2e/@v/list").status, 400);
    let version = server.get("/version");
    assert!(
        version.text().contains("\"name\":\"piraeus\""),
        "{}",
        version.text()
    );
    assert_eq!(server.get("/readyz").status, 200);

    let requests: Vec<serde_json::Value> = server
        .log()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}")))
        .filter(|entry: &serde_json::Value| entry["message"] == "request")
        .collect();
    // Each runtime worker batches its routine lines until it runs out of work, so requests
    // answered on different workers may be logged out of order: compare them as a set.
    let mut summary: Vec<_> = requests
        .iter()
        .filter(|entry| entry["route"] != "health")
        .map(|entry| {
            (
                entry["route"].as_str().unwrap(),
                entry["status"].as_u64().unwrap(),
                entry["cache"].as_str().unwrap(),
            )
        })
        .collect();
    summary.sort();
    assert_eq!(
        summary,
        [
            ("invalid", 400, "-"),
            ("mod", 200, "hit"),
            ("mod", 200, "miss"),
        ]
    );
    assert!(
        requests
            .iter()
            .all(|entry| entry["duration_ms"].is_number())
    );
}
