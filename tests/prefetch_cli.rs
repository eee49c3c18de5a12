//! `piraeus prefetch` as a user runs it: against `piraeus serve` (with and without client
//! tokens) and against the stack's prefetch function URL, SigV4-signed with credentials from
//! the environment. A go client whose `GOPROXY` is the proxy alone then downloads everything
//! listed; locally it does so from a proxy restarted with `--upstream off`, so only what the
//! prefetch stored can be served.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::common::{Deployment, Sandbox, Server, is_stored};
use crate::prefetch::modules_and_their_go_sum;

const TARGETS: [&str; 3] = [
    "example.test/alpha.git@v1.0.0",
    "example.test/alpha.git@v1.1.0",
    "example.test/beta.git@v0.1.0",
];

const ZIPS: [&str; 3] = [
    "example.test/alpha.git/@v/v1.0.0.zip",
    "example.test/alpha.git/@v/v1.1.0.zip",
    "example.test/beta.git/@v/v0.1.0.zip",
];

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|error| panic!("--json printed no JSON ({error}):\n{}", self.stdout))
    }
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\nstdout:\n{}\nstderr:\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Runs `piraeus prefetch ARGUMENTS` in `dir`, with only PATH, the sandbox's HOME and
/// `environment` set, and `stdin` as its input.
fn prefetch(
    sandbox: &Sandbox,
    dir: &Path,
    arguments: &[&str],
    environment: &[(&str, &str)],
    stdin: &str,
) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_piraeus"))
        .arg("prefetch")
        .args(arguments)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", sandbox.home())
        .env("PIRAEUS_LOG", "warn")
        .envs(environment.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("piraeus starts");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// `--proxy` for the server: `piraeus serve`'s base URL, or the stack's prefetch function URL
/// with `--sigv4` (the emulator's URL is not a `*.lambda-url.*.on.aws` one, which would be
/// signed without asking).
fn proxy_arguments(server: &Server) -> Vec<String> {
    match server.deployment {
        Deployment::Local | Deployment::Chain => vec!["--proxy".into(), server.url()],
        Deployment::Serverless => vec![
            "--proxy".into(),
            format!(
                "http://{}{}",
                server.prefetch_address(),
                server.prefetch_path()
            ),
            "--sigv4".into(),
        ],
    }
}

/// Fake credentials for the signature: the emulator accepts any.
const AWS_ENVIRONMENT: [(&str, &str); 4] = [
    ("AWS_ACCESS_KEY_ID", "piraeus-test"),
    ("AWS_SECRET_ACCESS_KEY", "piraeus-test-secret"),
    ("AWS_REGION", "us-east-1"),
    ("AWS_EC2_METADATA_DISABLED", "true"),
];

fn input_dir(sandbox: &Sandbox, files: &[(&str, String)]) -> PathBuf {
    let dir = sandbox.path().join("input");
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    dir
}

fn arguments<'a>(proxy: &'a [String], rest: &[&'a str]) -> Vec<&'a str> {
    proxy
        .iter()
        .map(String::as_str)
        .chain(rest.iter().copied())
        .collect()
}

/// The go client, with the proxy as its only GOPROXY, downloads every target with the sums in
/// `go_sum`.
fn assert_go_downloads_everything(sandbox: &Sandbox, goproxy: &str, go_sum: &[String]) {
    let downloads = sandbox.client("after-prefetch", goproxy).download(&TARGETS);
    assert_eq!(downloads.len(), 3, "{downloads:?}");
    for download in &downloads {
        assert!(
            download.error.is_empty(),
            "{}@{}: {}",
            download.path,
            download.version,
            download.error
        );
        let zip_line = format!("{} {} {}", download.path, download.version, download.sum);
        assert!(go_sum.contains(&zip_line), "{zip_line} not in {go_sum:?}");
    }
}

fn prefetch_command_warms_a_go_sum_and_a_list(deployment: Deployment) {
    let sandbox = Sandbox::new();
    let go_sum = modules_and_their_go_sum(&sandbox);
    let dir = input_dir(
        &sandbox,
        &[
            ("go.sum", go_sum.join("\n") + "\n"),
            (
                "list.txt",
                "# a plain list\nexample.test/beta.git@latest\n".into(),
            ),
        ],
    );
    let mut server = sandbox.start(deployment);
    let proxy = proxy_arguments(&server);
    let environment: &[(&str, &str)] = match deployment {
        Deployment::Local | Deployment::Chain => &[],
        Deployment::Serverless => &AWS_ENVIRONMENT,
    };

    let run = prefetch(
        &sandbox,
        &dir,
        &arguments(&proxy, &["go.sum", "list.txt"]),
        environment,
        "",
    );
    assert_eq!(run.code, 0, "{run}\nlog:\n{}", server.log());
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 4, "one line per version asked for: {run}");
    for target in TARGETS {
        assert!(
            lines.contains(&format!("fetched    {target}").as_str()),
            "{target} fetched: {run}"
        );
    }
    assert!(
        run.stdout.contains("example.test/beta.git@v0.1.0 (latest)"),
        "the query is resolved: {run}"
    );
    assert!(
        run.stderr.contains("4 versions via") && run.stderr.contains("failed 0, mismatched 0"),
        "{run}"
    );
    for zip in ZIPS {
        assert!(is_stored(&sandbox, &server, zip), "{zip} stored");
    }

    // Locally, a proxy that can no longer fetch anything serves it all from storage.
    if deployment == Deployment::Local {
        server.stop();
        server = sandbox.start_server_with(&["--upstream", "off"], &[]);
    }
    let proxy = proxy_arguments(&server);
    assert_go_downloads_everything(&sandbox, &server.url(), &go_sum);

    // Running it again is cheap and changes nothing: everything is already stored.
    let run = prefetch(
        &sandbox,
        &dir,
        &arguments(&proxy, &["--json", "go.sum"]),
        environment,
        "",
    );
    assert_eq!(run.code, 0, "{run}");
    let report = run.json();
    assert_eq!(report["ok"], true, "{report:#}");
    assert_eq!(report["counts"]["versions"], 3, "{report:#}");
    assert_eq!(report["counts"]["stored"], 3, "{report:#}");
    assert_eq!(report["versions"][1]["module"], "example.test/alpha.git");
    assert_eq!(report["versions"][1]["version"], "v1.1.0");
    assert_eq!(report["versions"][1]["source"], "go.sum:3");
    assert_eq!(report["versions"][1]["outcome"], "stored");
}

on_both_deployments!(prefetch_command_warms_a_go_sum_and_a_list);

#[test]
fn prefetch_command_names_each_mismatch_and_failure_and_exits_1() {
    let sandbox = Sandbox::new();
    let mut go_sum = modules_and_their_go_sum(&sandbox);
    // alpha v1.1.0's zip line (line 3) gets beta's sum: well-formed, and wrong.
    let tampered = go_sum[4].rsplit(' ').next().unwrap().to_string();
    let honest = go_sum[2].rsplit(' ').next().unwrap().to_string();
    go_sum[2] = format!("example.test/alpha.git v1.1.0 {tampered}");
    let go_mod = "module example.test/consumer\n\ngo 1.19\n\nrequire (\n\
                  \texample.test/missing.git v1.0.0\n\texample.test/alpha.git v1.0.0\n)\n";
    let dir = input_dir(
        &sandbox,
        &[
            ("go.sum", go_sum.join("\n") + "\n"),
            ("go.mod", go_mod.into()),
        ],
    );
    let server = sandbox.start_server();
    let proxy = proxy_arguments(&server);

    let run = prefetch(
        &sandbox,
        &dir,
        &arguments(&proxy, &["go.sum", "go.mod"]),
        &[],
        "",
    );
    assert_eq!(run.code, 1, "{run}");
    let expected_mismatch = format!(
        "mismatched example.test/alpha.git@v1.1.0: go.sum:3 has {tampered} for the zip, the proxy stored {honest}"
    );
    assert!(
        run.stdout.lines().any(|line| line == expected_mismatch),
        "{expected_mismatch:?} in {run}"
    );
    assert!(
        run.stdout
            .lines()
            .any(|line| line.starts_with("failed     example.test/missing.git@v1.0.0 (go.mod:6): ")),
        "{run}"
    );
    assert!(
        run.stdout
            .lines()
            .any(|line| line == "fetched    example.test/beta.git@v0.1.0"),
        "{run}"
    );
    assert!(
        run.stderr.contains("failed 1, mismatched 1"),
        "the summary counts them: {run}"
    );

    let run = prefetch(
        &sandbox,
        &dir,
        &arguments(&proxy, &["--json", "go.sum", "go.mod"]),
        &[],
        "",
    );
    assert_eq!(run.code, 1, "{run}");
    let report = run.json();
    assert_eq!(report["ok"], false);
    assert_eq!(report["counts"]["versions"], 4, "{report:#}");
    assert_eq!(report["counts"]["mismatched"], 1, "{report:#}");
    assert_eq!(report["counts"]["failed"], 1, "{report:#}");
    let alpha = &report["versions"][1];
    assert_eq!(alpha["outcome"], "mismatched", "{report:#}");
    assert_eq!(alpha["mismatches"][0]["source"], "go.sum:3");
    assert_eq!(alpha["mismatches"][0]["file"], "zip");
    assert_eq!(alpha["mismatches"][0]["expected"], tampered.as_str());
    assert_eq!(alpha["mismatches"][0]["stored"], honest.as_str());
    let missing = &report["versions"][3];
    assert_eq!(missing["module"], "example.test/missing.git", "{report:#}");
    assert_eq!(missing["outcome"], "failed");
    assert_eq!(missing["source"], "go.mod:6");
}

#[test]
fn prefetch_command_refuses_bad_usage_with_2_and_sends_nothing() {
    let sandbox = Sandbox::new();
    let go_sum = modules_and_their_go_sum(&sandbox);
    let dir = input_dir(
        &sandbox,
        &[
            (
                "bad.sum",
                format!("{}\nexample.test/alpha.git v1.0.0\n", go_sum[0]),
            ),
            ("bad.json", "[\"example.test/alpha.git@v1.0.0\", ".into()),
            ("go.work", "go 1.22\n\nuse ./gone\n".into()),
            ("good.sum", go_sum.join("\n")),
        ],
    );
    let server = sandbox.start_server();
    let proxy = proxy_arguments(&server);

    let cases: [(&[&str], &str); 6] = [
        (&["nope.sum"], "cannot read nope.sum"),
        (&["bad.sum"], "bad.sum:2: a go.sum line has three fields"),
        (&["bad.json"], "bad.json: not a JSON array"),
        (&["go.work"], "gone/go.mod (used by go.work)"),
        (&["--bogus", "good.sum"], "--bogus"),
        (&[], "FILE"),
    ];
    for (rest, expected) in cases {
        let run = prefetch(&sandbox, &dir, &arguments(&proxy, rest), &[], "");
        assert_eq!(run.code, 2, "{rest:?}: {run}");
        assert!(
            run.stderr.contains(expected),
            "{rest:?}: {expected:?} in {run}"
        );
    }
    // A bad line anywhere means nothing is sent, not even the good file's versions.
    let run = prefetch(
        &sandbox,
        &dir,
        &arguments(&proxy, &["good.sum", "bad.sum"]),
        &[],
        "",
    );
    assert_eq!(run.code, 2, "{run}");
    assert!(run.stderr.contains("nothing was sent"), "{run}");
    assert!(!is_stored(&sandbox, &server, ZIPS[0]));

    // A token in a bad --proxy is never echoed.
    for proxy in ["ftp://ci:TOPSECRET@127.0.0.1/", "http://ci:TOPSECRET@[::1"] {
        let run = prefetch(&sandbox, &dir, &["--proxy", proxy, "good.sum"], &[], "");
        assert_eq!(run.code, 2, "{run}");
        assert!(!run.stderr.contains("TOPSECRET"), "{run}");
    }
    let run = prefetch(
        &sandbox,
        &dir,
        &["--help"],
        &[("PIRAEUS_PROXY_URL", "http://ci:TOPSECRET@127.0.0.1/")],
        "",
    );
    assert_eq!(run.code, 0, "{run}");
    assert!(
        run.stdout.contains("--proxy") && !run.stdout.contains("TOPSECRET"),
        "{run}"
    );
}

fn new_token(sandbox: &Sandbox, name: &str) -> (PathBuf, String) {
    let tokens = sandbox.path().join("tokens.json");
    let secret = crate::common::new_token(&tokens, name);
    (tokens, secret)
}

#[test]
fn prefetch_command_sends_a_client_token_and_reads_go_work_and_stdin() {
    let sandbox = Sandbox::new();
    let go_sum = modules_and_their_go_sum(&sandbox);
    let (tokens, secret) = new_token(&sandbox, "ci");
    let app_go_mod =
        "module example.test/app\n\ngo 1.19\n\nrequire example.test/alpha.git v1.0.0\n";
    let dir = input_dir(
        &sandbox,
        &[
            ("ws/go.work", "go 1.22\n\nuse (\n\t./app\n)\n".into()),
            ("ws/app/go.mod", app_go_mod.into()),
            ("ws/app/go.sum", go_sum[..2].join("\n") + "\n"),
        ],
    );
    let server = sandbox.start_server_with(&["--auth-file", tokens.to_str().unwrap()], &[]);

    let run = prefetch(
        &sandbox,
        &dir,
        &["--proxy", &server.url(), "ws/go.work"],
        &[],
        "",
    );
    assert_eq!(run.code, 1, "{run}");
    assert!(run.stderr.contains("(401)"), "{run}");

    let with_token = format!("http://ci:{secret}@{}", server.address);
    let run = prefetch(
        &sandbox,
        &dir,
        &["--proxy", &with_token, "ws/go.work"],
        &[],
        "",
    );
    assert_eq!(run.code, 0, "{run}\nlog:\n{}", server.log());
    assert_eq!(
        run.stdout.trim(),
        "fetched    example.test/alpha.git@v1.0.0",
        "the go.mod and go.sum of the module in use, one version: {run}"
    );
    assert!(!run.stdout.contains(&secret) && !run.stderr.contains(&secret));

    // From stdin, the proxy from the environment.
    let run = prefetch(
        &sandbox,
        &dir,
        &["--json", "-"],
        &[("PIRAEUS_PROXY_URL", &with_token)],
        "example.test/beta.git@v0.1.0\nexample.test/alpha.git@v1.0.0\n",
    );
    assert_eq!(run.code, 0, "{run}");
    let report = run.json();
    assert_eq!(report["counts"]["fetched"], 1, "{report:#}");
    assert_eq!(report["counts"]["stored"], 1, "{report:#}");
    assert_eq!(report["versions"][0]["source"], "stdin:1");
    assert!(!run.stdout.contains(&secret) && !run.stderr.contains(&secret));
    assert!(!server.log().contains(&secret));
}

#[test]
fn prefetch_command_sends_again_what_a_busy_proxy_refused() {
    let sandbox = Sandbox::new();
    let go_sum = modules_and_their_go_sum(&sandbox);
    let dir = input_dir(&sandbox, &[("go.sum", go_sum.join("\n") + "\n")]);
    // One fetch at a time and no queue: of the three versions sent together, two are refused
    // ("the download queue is full") and must be sent again.
    let server =
        sandbox.start_server_with(&["--max-concurrent-fetches", "1", "--max-queued", "0"], &[]);
    let proxy = proxy_arguments(&server);
    let run = prefetch(
        &sandbox,
        &dir,
        &arguments(&proxy, &["--json", "go.sum"]),
        &[],
        "",
    );
    assert_eq!(run.code, 0, "{run}\nlog:\n{}", server.log());
    let report = run.json();
    assert_eq!(report["counts"]["fetched"], 3, "{report:#}");
    let requests = server.log().matches("path=\"/prefetch\"").count();
    assert!(
        requests >= 2,
        "refused versions were sent again:\n{}",
        server.log()
    );
    assert_go_downloads_everything(&sandbox, &server.url(), &go_sum);
}
