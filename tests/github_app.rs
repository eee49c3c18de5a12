//! GitHub App credentials on `piraeus serve --github-app FILE`: a stand-in GitHub
//! (tests/github-standin.py) verifies the app's RS256 JWT with the app's public key, mints
//! installation tokens, and serves a Git repository only to a token it minted. Piraeus mints
//! one, keeps it, hands it to git for the app's host only, and never shows it; the API
//! refusing is a 502 naming its status, with nothing stored, and the next request asks again.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use crate::common::{Sandbox, Server, announced_port, invocations, repo_root, venv_tool};

const MODULE: &str = "github.example.test/repo.git";
const APP_ID: &str = "4242";
const INSTALLATION: &str = "77";

struct Standin {
    child: Child,
    url: String,
    key: PathBuf,
    log: PathBuf,
}

impl Standin {
    fn start(sandbox: &Sandbox, name: &str, api_status: u16) -> Self {
        let key = sandbox.path().join(format!("{name}-app-key.pem"));
        let log = sandbox.path().join(format!("{name}-requests.log"));
        let mut child = Command::new(venv_tool("python"))
            .arg(repo_root().join("tests/github-standin.py"))
            .arg("--repos")
            .arg(sandbox.path().join("repos"))
            .arg("--key-out")
            .arg(&key)
            .args(["--app-id", APP_ID, "--installation-id", INSTALLATION])
            .arg("--log")
            .arg(&log)
            .args(["--api-status", &api_status.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("the virtualenv's python runs (make deps)");
        let port = announced_port(&mut child, "the GitHub stand-in");
        Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
            key,
            log,
        }
    }

    /// The requests so far, "METHOD PATH STATUS".
    fn requests(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(String::from)
            .collect()
    }

    fn mints(&self) -> usize {
        self.requests()
            .iter()
            .filter(|line| line.contains("/access_tokens 201"))
            .count()
    }

    /// The app document for this stand-in, as `--github-app` and the secret hold it.
    fn document(&self, sandbox: &Sandbox, name: &str) -> PathBuf {
        let document = sandbox.path().join(format!("{name}-app.json"));
        std::fs::write(
            &document,
            serde_json::json!({
                "app_id": APP_ID.parse::<u64>().unwrap(),
                "installation_id": INSTALLATION,
                "private_key": std::fs::read_to_string(&self.key).unwrap(),
                "host": "github.example.test",
            })
            .to_string(),
        )
        .unwrap();
        document
    }

    /// go's https paths on the app's host, sent to the stand-in's Git server.
    fn rewrite(&self) -> String {
        format!("https://github.example.test/={}/", self.url)
    }

    /// `piraeus serve` with the app document for this stand-in.
    fn serve(&self, sandbox: &Sandbox, data: &str) -> (Server, PathBuf) {
        let document = self.document(sandbox, data);
        let data_dir = sandbox.path().join(data);
        let rewrite = self.rewrite();
        let (go, counter) = sandbox.counting_go();
        let server = sandbox.start_server_with(
            &[
                "--data-dir",
                data_dir.to_str().unwrap(),
                "--github-app",
                document.to_str().unwrap(),
                "--github-api",
                &self.url,
                "--git-instead-of",
                &rewrite,
                "--failure-ttl",
                "0s",
                "--go",
                go.to_str().unwrap(),
            ],
            // The stand-in speaks plain http on loopback.
            &[
                ("GOPRIVATE", "github.example.test"),
                ("GIT_ALLOW_PROTOCOL", "http:https"),
            ],
        );
        (server, counter)
    }
}

impl Drop for Standin {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn module_repo(sandbox: &Sandbox) {
    let repo = sandbox.repo("repo.git");
    repo.write("go.mod", format!("module {MODULE}\n\ngo 1.19\n"))
        .write("repo.go", "package repo\n");
    repo.commit("one");
    repo.tag("v1.0.0");
    repo.write("two.go", "package repo\n\nconst Two = 2\n");
    repo.commit("two");
    repo.tag("v1.1.0");
}

#[test]
fn git_fetches_with_installation_tokens_the_app_mints() {
    let sandbox = Sandbox::new();
    module_repo(&sandbox);
    let github = Standin::start(&sandbox, "github", 201);
    // What the module is, straight from the repository.
    let direct = sandbox
        .direct_client_for("direct", "github.example.test")
        .download(&[&format!("{MODULE}@v1.0.0"), &format!("{MODULE}@v1.1.0")]);
    assert!(direct.iter().all(|d| d.error.is_empty()), "{direct:?}");

    let (server, _) = github.serve(&sandbox, "data");
    let proxied = sandbox
        .client("proxied", &server.url())
        .with_env("GOPRIVATE", "github.example.test")
        .with_env("GONOPROXY", "none")
        .download(&[&format!("{MODULE}@v1.0.0"), &format!("{MODULE}@v1.1.0")]);
    assert_eq!(proxied, direct, "{}", server.log());
    // A module on another host mints nothing.
    let _ = server.get("/example.test/elsewhere.git/@v/list");
    // One token for both fetches (and the list), kept until it nears its expiry.
    assert_eq!(github.mints(), 1, "{:?}", github.requests());
    let served = github.requests();
    assert!(
        served
            .iter()
            .any(|line| line.starts_with("GET /repo") && line.ends_with(" 200")),
        "git was let in with the token: {served:?}"
    );
    // The token is in a file only Piraeus reads, outside any module tree, and nowhere else.
    let credentials = sandbox
        .path()
        .join("data/.piraeus/git-credentials/github-app");
    let text = std::fs::read_to_string(&credentials).unwrap();
    let token = text
        .split("x-access-token:")
        .nth(1)
        .and_then(|rest| rest.split('@').next())
        .unwrap()
        .to_string();
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&credentials).unwrap().permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
    assert!(!server.log().contains(&token), "the token reached the log");
    for file in crate::common::snapshot(&sandbox.path().join("data")) {
        let path = sandbox.path().join("data").join(&file.0);
        if path != credentials && path.is_file() {
            let bytes = std::fs::read(&path).unwrap();
            assert!(
                !bytes
                    .windows(token.len())
                    .any(|window| window == token.as_bytes()),
                "the token is in {}",
                path.display()
            );
        }
    }
}

#[test]
fn the_github_api_refusing_is_a_502_naming_its_status_and_nothing_is_stored() {
    let sandbox = Sandbox::new();
    module_repo(&sandbox);
    let down = Standin::start(&sandbox, "down", 503);
    let (server, counter) = down.serve(&sandbox, "data");
    let zip = format!("/{MODULE}/@v/v1.0.0.zip");
    for attempt in 1..=2 {
        let response = server.get(&zip);
        let body = response.text();
        assert_eq!(response.status, 502, "{body}");
        assert!(body.contains("503"), "names the API's status: {body}");
        assert!(!body.contains("127.0.0.1"), "{body}");
        // The next request asks the API again.
        let asked = down
            .requests()
            .iter()
            .filter(|line| line.contains("/access_tokens"))
            .count();
        assert_eq!(asked, attempt, "{:?}", down.requests());
    }
    assert!(!sandbox.path().join("data").join(&zip[1..]).exists());
    assert_eq!(
        invocations(&counter, MODULE),
        0,
        "no go command ran without a token"
    );
}

/// The AWS face: the fetch function reads the same app document from Secrets Manager
/// (`GitHubAppSecretArn` on AWS; here `make stack` puts the file in moto's Secrets Manager),
/// mints a token with it, and fetches with the token.
#[test]
fn the_fetch_function_reads_its_github_app_from_secrets_manager() {
    let sandbox = Sandbox::new();
    module_repo(&sandbox);
    let github = Standin::start(&sandbox, "github", 201);
    let target = format!("{MODULE}@v1.0.0");
    let direct = sandbox
        .direct_client_for("direct", "github.example.test")
        .download(&[&target]);
    assert!(direct[0].error.is_empty(), "{direct:?}");

    let document = github.document(&sandbox, "stack");
    let rewrite = github.rewrite();
    let stack = sandbox.start_stack(&[
        ("PIRAEUS_GITHUB_APP", document.to_str().unwrap()),
        ("PIRAEUS_GITHUB_API", &github.url),
        ("PIRAEUS_GIT_INSTEAD_OF", &rewrite),
        ("GOPRIVATE", "github.example.test"),
        // The stand-in speaks plain http on loopback.
        ("GIT_ALLOW_PROTOCOL", "http:https"),
    ]);
    let proxied = sandbox
        .client("proxied", &stack.url())
        .with_env("GOPRIVATE", "github.example.test")
        .with_env("GONOPROXY", "none")
        .download(&[&target]);
    assert_eq!(proxied, direct, "{}", stack.log());
    assert!(github.mints() >= 1, "{:?}", github.requests());
    assert!(
        github
            .requests()
            .iter()
            .any(|line| line.starts_with("GET /repo") && line.ends_with(" 200")),
        "git was let in with a minted token: {:?}",
        github.requests()
    );
    assert!(
        !stack.log().contains("PRIVATE KEY"),
        "the app's key reached the log"
    );
}
