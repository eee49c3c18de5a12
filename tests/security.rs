//! The trust boundary of `piraeus serve`: client tokens over https with the real go command,
//! the module policy and its hook (counting go command runs), and error bodies that reveal
//! nothing about the machine.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::{Sandbox, Server, basic, http_get, invocations, new_token};

/// A self-signed certificate for 127.0.0.1, made now: (certificate, key) PEM files.
fn tls_files(sandbox: &Sandbox) -> (PathBuf, PathBuf) {
    let cert = sandbox.path().join("cert.pem");
    let key = sandbox.path().join("key.pem");
    write_self_signed(&cert, &key);
    (cert, key)
}

/// A new self-signed certificate (and key) for 127.0.0.1, written to `cert` and `key`.
fn write_self_signed(cert: &Path, key: &Path) {
    let certified =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string(), "localhost".to_string()])
            .unwrap();
    std::fs::write(cert, certified.cert.pem()).unwrap();
    std::fs::write(key, certified.signing_key.serialize_pem()).unwrap();
}

fn token_command(arguments: &[&str], tokens: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_piraeus"))
        .arg("token")
        .args(arguments)
        .arg("--auth-file")
        .arg(tokens)
        .output()
        .unwrap()
}

/// A GET over https trusting `cert`, with an optional `Authorization` header.
fn https_get(
    address: &str,
    path: &str,
    cert: &Path,
    authorization: Option<&str>,
) -> (u16, String, String) {
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for certificate in rustls_pki_types::CertificateDer::pem_file_iter(cert).unwrap() {
        roots.add(certificate.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let name = rustls_pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let connection = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let socket = TcpStream::connect(address).unwrap();
    let mut stream = rustls::StreamOwned::new(connection, socket);
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n");
    if let Some(authorization) = authorization {
        request.push_str(&format!("Authorization: {authorization}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    let mut raw = Vec::new();
    // The server closes without a TLS close_notify at times; what arrived is the answer.
    let _ = stream.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    (status, head.to_lowercase(), body.to_string())
}

#[test]
fn go_command_authenticates_over_https_with_netrc_or_url_credentials() {
    let sandbox = Sandbox::new();
    let repo = sandbox.module("private.git");
    repo.commit("v1");
    repo.tag("v1.0.0");
    let (cert, key) = tls_files(&sandbox);
    let tokens = sandbox.path().join("tokens.json");
    let secret = new_token(&tokens, "ci");
    let server = sandbox.start_server_with(
        &[
            "--auth-file",
            tokens.to_str().unwrap(),
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
        &[],
    );
    assert!(server.url().starts_with("https://"));
    let target = "example.test/private.git@v1.0.0";
    let direct = sandbox.client("direct", "direct").download(&[target]);
    let netrc = sandbox.path().join("netrc");
    let client = |name: &str, goproxy: &str| {
        sandbox
            .client(name, goproxy)
            .with_env("SSL_CERT_FILE", &cert)
            .with_env("NETRC", &netrc)
    };

    // No credentials: the go command gets 401 and gives up.
    let refused = client("anonymous", &server.url()).download(&[target]);
    assert!(refused[0].error.contains("401"), "{refused:?}");

    // From .netrc, as the go command sends for https only.
    let host = server.address.split(':').next().unwrap().to_string();
    std::fs::write(
        &netrc,
        format!("machine {host} login ci password {secret}\n"),
    )
    .unwrap();
    assert_eq!(client("netrc", &server.url()).download(&[target]), direct);

    // In the GOPROXY URL.
    std::fs::remove_file(&netrc).unwrap();
    let with_credentials = server
        .url()
        .replace("https://", &format!("https://ci:{secret}@"));
    assert_eq!(client("url", &with_credentials).download(&[target]), direct);

    // A wrong secret.
    let wrong = server.url().replace("https://", "https://ci:0000@");
    let refused = client("wrong", &wrong).download(&[target]);
    assert!(refused[0].error.contains("401"), "{refused:?}");

    // The 401 tells an outsider nothing: the same for a stored module and a made-up one;
    // /healthz needs no token.
    let stored = https_get(
        &server.address,
        "/example.test/private.git/@v/v1.0.0.info",
        &cert,
        None,
    );
    let made_up = https_get(
        &server.address,
        "/example.test/nope.git/@v/v9.9.9.info",
        &cert,
        Some(&basic("ci", "x")),
    );
    for (status, head, body) in [&stored, &made_up] {
        assert_eq!(*status, 401);
        assert!(
            head.contains("www-authenticate: basic realm=\"piraeus\""),
            "{head}"
        );
        assert!(head.contains("content-type: text/plain"), "{head}");
        assert_eq!(body, "unauthorized: missing or wrong credentials\n");
    }
    assert_eq!(https_get(&server.address, "/healthz", &cert, None).0, 200);
    let authorised = https_get(
        &server.address,
        "/example.test/private.git/@v/v1.0.0.info",
        &cert,
        Some(&basic("ci", &secret)),
    );
    assert_eq!(authorised.0, 200, "{authorised:?}");

    // A token added to the file works without a restart; a revoked one stops working.
    let second = new_token(&tokens, "laptop");
    let listed = token_command(&["list"], &tokens);
    let listed = String::from_utf8(listed.stdout).unwrap();
    assert!(
        listed.contains("ci\t") && listed.contains("laptop\t"),
        "{listed}"
    );
    assert!(!std::fs::read_to_string(&tokens).unwrap().contains(&second));
    let second_url = server
        .url()
        .replace("https://", &format!("https://laptop:{second}@"));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let status = https_get(
            &server.address,
            "/version",
            &cert,
            Some(&basic("laptop", &second)),
        )
        .0;
        if status == 200 || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(client("second", &second_url).download(&[target]), direct);
    assert!(
        token_command(&["revoke", "laptop"], &tokens)
            .status
            .success()
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while https_get(
        &server.address,
        "/version",
        &cert,
        Some(&basic("laptop", &second)),
    )
    .0 != 401
    {
        assert!(Instant::now() < deadline, "the revoked token still works");
        std::thread::sleep(Duration::from_millis(200));
    }
    let refused = client("revoked", &second_url).download(&[target]);
    assert!(refused[0].error.contains("401"), "{refused:?}");
    assert!(
        !token_command(&["revoke", "laptop"], &tokens)
            .status
            .success()
    );
    assert!(!server.log().contains(&secret), "secrets are never logged");
}

/// Whether curl, trusting only `ca`, completes an https request to `/healthz`.
fn curl_trusts(server: &Server, ca: &Path) -> bool {
    Command::new("curl")
        .args(["--silent", "--fail", "--max-time", "5", "--cacert"])
        .arg(ca)
        .arg(format!("{}/healthz", server.url()))
        .output()
        .unwrap()
        .status
        .success()
}

/// A renewed certificate (both files replaced, as certbot or cert-manager do) is served
/// without a restart, within the reload interval (5 s).
#[test]
fn a_replaced_tls_certificate_is_served_without_a_restart() {
    let sandbox = Sandbox::new();
    let (cert, key) = tls_files(&sandbox);
    let server = sandbox.start_server_with(
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
        &[],
    );
    let renewed = sandbox.path().join("renewed");
    std::fs::create_dir(&renewed).unwrap();
    let (new_cert, new_key) = (renewed.join("cert.pem"), renewed.join("key.pem"));
    write_self_signed(&new_cert, &new_key);
    let old_cert = sandbox.path().join("old-cert.pem");
    std::fs::copy(&cert, &old_cert).unwrap();
    assert!(curl_trusts(&server, &old_cert));
    assert!(
        !curl_trusts(&server, &new_cert),
        "not the new certificate yet"
    );

    // Moved into place, key first: for a moment the key does not match the certificate,
    // which the server must survive by keeping the old pair.
    let staged = |from: &Path, to: &Path| {
        let staging = to.with_extension("staged");
        std::fs::copy(from, &staging).unwrap();
        std::fs::rename(&staging, to).unwrap();
    };
    staged(&new_key, &key);
    staged(&new_cert, &cert);
    let deadline = Instant::now() + Duration::from_secs(15);
    while !curl_trusts(&server, &new_cert) {
        assert!(
            Instant::now() < deadline,
            "the new certificate is not served after 15 s; log:\n{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    assert!(
        !curl_trusts(&server, &old_cert),
        "the old certificate is gone"
    );
}

#[test]
fn plain_http_with_tokens_warns_that_tls_must_be_in_front() {
    let sandbox = Sandbox::new();
    let tokens = sandbox.path().join("tokens.json");
    let secret = new_token(&tokens, "ci");
    let server = sandbox.start_server_with(&["--auth-file", tokens.to_str().unwrap()], &[]);
    assert!(
        server.log().contains("TLS-terminating proxy"),
        "{}",
        server.log()
    );
    let refused = http_get(&server.address, "/example.test/x.git/@v/list").unwrap();
    assert_eq!(refused.status, 401);
    assert_eq!(
        refused.header("www-authenticate"),
        Some("Basic realm=\"piraeus\"")
    );
    assert_eq!(http_get(&server.address, "/healthz").unwrap().status, 200);
    // The secret itself works (the go command would refuse to send it over http, curl does not).
    let mut stream = TcpStream::connect(&server.address).unwrap();
    write!(
        stream,
        "GET /version HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\nConnection: close\r\n\r\n",
        basic("ci", &secret)
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

/// `piraeus serve --policy FILE` with a go command that counts its runs (in the returned file).
pub(crate) fn start_with_policy(sandbox: &Sandbox, policy: &Path) -> (Server, PathBuf) {
    let (go, counter) = sandbox.counting_go();
    let server = sandbox.start_server_with(
        &[
            "--policy",
            policy.to_str().unwrap(),
            "--go",
            go.to_str().unwrap(),
        ],
        &[],
    );
    (server, counter)
}

/// Each action in order, with a second plain server as the redirect target.
#[test]
fn policy_rules_apply_in_order_and_internal_hosts_are_refused() {
    let sandbox = Sandbox::new();
    let repos: Vec<_> = [
        "denied.git",
        "frozen.git",
        "redirected.git",
        "later.git",
        "open.git",
    ]
    .into_iter()
    .map(|name| {
        let repo = sandbox.module(name);
        repo.commit("v1");
        repo.tag("v1.0.0");
        repo
    })
    .collect();
    // Stored before the policy applies.
    let before = sandbox.start_server();
    sandbox.client("fill", &before.url()).download(&[
        "example.test/denied.git@v1.0.0",
        "example.test/frozen.git@v1.0.0",
    ]);
    before.stop();
    let frozen = &repos[1];
    frozen.write("more.go", "package frozen\n");
    frozen.commit("v1.1");
    frozen.tag("v1.1.0");

    let other_data = sandbox.path().join("other-data");
    let other = sandbox.start_server_with(&["--data-dir", other_data.to_str().unwrap()], &[]);
    let policy = sandbox.path().join("policy.toml");
    std::fs::write(
        &policy,
        format!(
            r#"
[[rule]]
pattern = "example.test/denied.git"
action = "deny"
[[rule]]
pattern = "example.test/frozen.git"
action = "cached-only"
[[rule]]
pattern = "example.test/redirected.git"
action = "redirect"
redirect = "{}"
[[rule]]
pattern = "example.test/later.git"
action = "async"
[[rule]]
pattern = "example.test/*"
action = "fetch"
"#,
            other.url()
        ),
    )
    .unwrap();
    let (server, counter) = start_with_policy(&sandbox, &policy);
    let runs = |module: &str| invocations(&counter, module);

    // deny: 403 naming the rule, even for what is stored; the bytes stay.
    for path in [
        "/example.test/denied.git/@v/v1.0.0.info",
        "/example.test/denied.git/@v/list",
        "/example.test/denied.git/@latest",
    ] {
        let response = server.get(path);
        assert_eq!(response.status, 403, "{path}");
        assert!(response.text().contains("rule 1"), "{}", response.text());
        assert!(
            response
                .header("content-type")
                .unwrap()
                .starts_with("text/plain")
        );
    }
    assert!(
        sandbox
            .data_dir()
            .join("example.test/denied.git/@v/v1.0.0.zip")
            .is_file()
    );
    assert_eq!(runs("denied.git"), 0);

    // cached-only: what is stored is served; v1.1.0, tagged since, is not fetched.
    assert_eq!(
        server.get("/example.test/frozen.git/@v/v1.0.0.info").status,
        200
    );
    assert_eq!(
        server.get("/example.test/frozen.git/@v/v1.1.0.info").status,
        404
    );
    assert_eq!(
        server.get("/example.test/frozen.git/@v/list").text(),
        "v1.0.0\n"
    );
    assert_eq!(runs("frozen.git"), 0);

    // redirect: nothing stored here, so everything goes to the other proxy, which the go
    // command follows.
    let response = server.get("/example.test/redirected.git/@v/v1.0.0.zip");
    assert_eq!(response.status, 302);
    assert_eq!(
        response.header("location"),
        Some(format!("{}/example.test/redirected.git/@v/v1.0.0.zip", other.url()).as_str())
    );
    let downloaded = sandbox
        .client("redirected", &server.url())
        .download(&["example.test/redirected.git@v1.0.0"]);
    assert!(downloaded[0].error.is_empty(), "{downloaded:?}");
    assert_eq!(runs("redirected.git"), 0);

    // async: 404 at once while the fetch runs, then stored.
    let first = server.get("/example.test/later.git/@v/v1.0.0.info");
    assert_eq!(first.status, 404, "{}", first.text());
    let deadline = Instant::now() + Duration::from_secs(60);
    while server.get("/example.test/later.git/@v/v1.0.0.info").status != 200 {
        assert!(Instant::now() < deadline, "the async fetch never completed");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        runs("later.git"),
        1,
        "one go command for the async fetch, however often the client asked meanwhile"
    );

    // The catch-all rule fetches as usual.
    crate::common::assert_same_as_direct(
        &sandbox,
        &server,
        "open",
        &["example.test/open.git@v1.0.0"],
    );
    assert!(runs("open.git") > 0);

    // Internal hosts: refused before any go command, unless a fetch rule names them.
    for path in [
        "/127.0.0.1/x/@v/list",
        "/127.0.0.1/x/@v/v1.0.0.info",
        "/10.0.0.1/repo.git/@latest",
        "/printer.local/x/@v/v1.0.0.zip",
        "/db.internal/x/@v/master.info",
        "/127.1/x/@v/list",
    ] {
        let response = server.get(path);
        assert_eq!(response.status, 403, "{path}: {}", response.text());
        assert!(
            response.text().contains("internal hosts"),
            "{}",
            response.text()
        );
    }
    for host in [
        "127.0.0.1",
        "10.0.0.1",
        "printer.local",
        "db.internal",
        "127.1",
    ] {
        assert_eq!(runs(host), 0, "{host}");
    }
}

/// A loopback approval hook: answers per module as `decide` says, counting calls.
struct HookServer {
    url: String,
    calls: Arc<Mutex<Vec<String>>>,
}

impl HookServer {
    fn start(decide: fn(&str) -> (u16, Duration)) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/approve", listener.local_addr().unwrap());
        let calls = Arc::new(Mutex::new(Vec::new()));
        let recorded = calls.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let recorded = recorded.clone();
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(stream.try_clone().unwrap());
                    let mut length = 0;
                    loop {
                        let mut line = String::new();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        if let Some(value) = line.to_lowercase().strip_prefix("content-length:") {
                            length = value.trim().parse().unwrap();
                        }
                        if line == "\r\n" {
                            break;
                        }
                    }
                    let mut body = vec![0; length];
                    reader.read_exact(&mut body).unwrap();
                    let request: serde_json::Value = serde_json::from_slice(&body).unwrap();
                    let module = request["module"].as_str().unwrap().to_string();
                    assert!(request["version"].as_str().unwrap().starts_with('v'));
                    recorded.lock().unwrap().push(module.clone());
                    let (status, delay) = decide(&module);
                    std::thread::sleep(delay);
                    let mut stream = stream;
                    let _ = write!(
                        stream,
                        "HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    );
                });
            }
        });
        Self { url, calls }
    }

    fn calls(&self, module: &str) -> usize {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|m| m.contains(module))
            .count()
    }
}

#[test]
fn approval_hook_allows_denies_and_fails_closed() {
    let sandbox = Sandbox::new();
    for name in ["approved.git", "refused.git", "broken.git", "slow.git"] {
        let repo = sandbox.module(name);
        repo.commit("v1");
        repo.tag("v1.0.0");
    }
    let hook = HookServer::start(|module| match module {
        m if m.contains("refused") => (403, Duration::ZERO),
        m if m.contains("broken") => (500, Duration::ZERO),
        m if m.contains("slow") => (200, Duration::from_secs(5)),
        _ => (204, Duration::ZERO),
    });
    let policy = sandbox.path().join("policy.toml");
    std::fs::write(
        &policy,
        format!("[hook]\nurl = \"{}\"\ntimeout = \"1s\"\n", hook.url),
    )
    .unwrap();
    let (server, counter) = start_with_policy(&sandbox, &policy);
    let runs = |module: &str| invocations(&counter, module);

    // Approved: fetched by the go command and stored, and asked once only; the second
    // download is served from storage.
    crate::common::assert_same_as_direct(
        &sandbox,
        &server,
        "approved",
        &["example.test/approved.git@v1.0.0"],
    );
    assert_eq!(runs("approved.git"), 1, "the approved version is fetched");
    assert!(
        sandbox
            .data_dir()
            .join("example.test/approved.git/@v/v1.0.0.zip")
            .is_file()
    );
    crate::common::assert_same_as_direct(
        &sandbox,
        &server,
        "again",
        &["example.test/approved.git@v1.0.0"],
    );
    assert_eq!(hook.calls("approved.git"), 1);
    assert_eq!(
        runs("approved.git"),
        1,
        "served from storage the second time"
    );

    // Refused: 403, no go command, nothing stored; the decision is remembered.
    for _ in 0..2 {
        let response = server.get("/example.test/refused.git/@v/v1.0.0.zip");
        assert_eq!(response.status, 403, "{}", response.text());
        assert!(
            response.text().contains("approval hook"),
            "{}",
            response.text()
        );
    }
    assert_eq!(hook.calls("refused.git"), 1);
    assert_eq!(runs("refused.git"), 0);
    assert!(!sandbox.data_dir().join("example.test/refused.git").exists());

    // A hook that fails or does not answer in time refuses for now: 502, fail closed.
    for module in ["broken.git", "slow.git"] {
        let started = Instant::now();
        let response = server.get(&format!("/example.test/{module}/@v/v1.0.0.info"));
        assert_eq!(response.status, 502, "{module}: {}", response.text());
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "{module} waited for the hook"
        );
        assert_eq!(runs(module), 0, "{module}");
        assert!(
            !sandbox
                .data_dir()
                .join(format!("example.test/{module}"))
                .exists()
        );
    }
}

/// Without `GIT_ALLOW_PROTOCOL` in the server's environment the fetcher's git may use https
/// only: a module whose https URL the HOME's insteadOf sends to file:// (as every test module
/// is) is refused by git, nothing is stored, and the client learns why without a local path.
/// With the variable set, it is passed through: the same module is fetched by a second server
/// started as usual (`GIT_ALLOW_PROTOCOL=https:file`, tests/common/mod.rs), as in every test
/// that fetches, e.g. go_client.rs and `approval_hook_allows_denies_and_fails_closed` here.
#[test]
fn git_may_use_only_https_unless_the_operator_allows_more() {
    let sandbox = Sandbox::new();
    let repo = sandbox.module("guarded.git");
    repo.commit("v1");
    repo.tag("v1.0.0");
    // When its https probe fails, the go command gives git a git:// URL (its first scheme):
    // that too leads to file://, so what git refuses is the file transport either way.
    let mut gitconfig = std::fs::OpenOptions::new()
        .append(true)
        .open(sandbox.home().join(".gitconfig"))
        .unwrap();
    let insteadof = format!(
        "[url \"file://{}/\"]\n\tinsteadOf = git://example.test/\n",
        sandbox.repos().display()
    );
    gitconfig.write_all(insteadof.as_bytes()).unwrap();
    let server = sandbox.start_server_without(&[], &[], &["GIT_ALLOW_PROTOCOL"]);
    for path in [
        "/example.test/guarded.git/@v/v1.0.0.info",
        "/example.test/guarded.git/@v/v1.0.0.zip",
        "/example.test/guarded.git/@v/list",
    ] {
        let response = server.get(path);
        let body = response.text();
        assert!(
            (400..600).contains(&response.status),
            "{path}: {} {body}",
            response.status
        );
        assert!(
            body.contains("transport 'file' not allowed"),
            "{path}: {body}"
        );
        for local in [
            sandbox.path().display().to_string(),
            sandbox.repos().display().to_string(),
            "/tmp/".to_string(),
            "file://".to_string(),
        ] {
            assert!(!body.contains(&local), "{path} answered {body:?}");
        }
    }
    assert!(
        !sandbox.data_dir().join("example.test/guarded.git").exists(),
        "nothing is stored"
    );
    server.stop();

    let allowed_data = sandbox.path().join("allowed-data");
    let allowed = sandbox.start_server_with(&["--data-dir", allowed_data.to_str().unwrap()], &[]);
    let response = allowed.get("/example.test/guarded.git/@v/v1.0.0.info");
    assert_eq!(response.status, 200, "{}", response.text());
}

#[test]
fn error_bodies_reveal_no_paths_passwords_or_addresses() {
    let sandbox = Sandbox::new();
    let repo = sandbox.module("fine.git");
    repo.commit("v1");
    repo.tag("v1.0.0");
    // An upstream proxy with credentials that is down; `|` falls back to direct on any error,
    // so fetches still work and every stored record names the upstream.
    let upstream = "http://piraeus:hunter2@127.0.0.1:9/|direct";
    let server = sandbox.start_server_with(&["--upstream", upstream], &[]);
    let downloaded = sandbox
        .client("fine", &server.url())
        .download(&["example.test/fine.git@v1.0.0"]);
    assert!(downloaded[0].error.is_empty(), "{downloaded:?}");

    let data_dir = sandbox.data_dir().display().to_string();
    let sandbox_path = sandbox.path().display().to_string();
    let paths = [
        "/example.test/missing.git/@v/list",
        "/example.test/missing.git/@v/v1.0.0.info",
        "/example.test/missing.git/@latest",
        "/example.test/fine.git/@v/v9.9.9.info",
        "/example.test/fine.git/@v/nosuchbranch.info",
        "/example.test/fine.git/@v/v2.0.0.mod",
        "/127.0.0.1/x/@v/list",
        "/example.com/%zz/@v/list",
        "/example.test/fine.git/@v/v1.0.0.tar",
        "/readyz",
    ];
    for path in paths {
        let response = server.get(path);
        let body = response.text();
        // Every path but /readyz is an error whose body is the point of this test.
        assert!(
            response.status >= 400 || path == "/readyz",
            "{path}: {}",
            response.status
        );
        for secret in [
            data_dir.as_str(),
            sandbox_path.as_str(),
            "hunter2",
            "/tmp/",
            ".piraeus",
        ] {
            assert!(
                !body.contains(secret),
                "{path} answered {body:?}, which contains {secret:?}"
            );
        }
        assert!(response.header("x-request-id").is_some(), "{path}");
    }
    // The go command's explanation of a typo is kept.
    let typo = server.get("/example.test/fine.git/@v/v9.9.9.info");
    assert_eq!(typo.status, 404);
    assert!(typo.text().contains("v9.9.9"), "{}", typo.text());

    // Nor do the logs or the index hold the password.
    assert!(!server.log().contains("hunter2"), "{}", server.log());
    server.stop();
    for entry in walk(&sandbox.data_dir()) {
        let bytes = std::fs::read(&entry).unwrap();
        assert!(
            !bytes.windows(7).any(|w| w == b"hunter2"),
            "{} holds the upstream password",
            entry.display()
        );
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// On the serverless stack, with its table gone (a storage failure that names the table in
/// the SDK's message), clients learn that storage failed and a request id; never the bucket
/// or table name.
#[test]
fn serverless_error_bodies_name_no_bucket_or_table() {
    let sandbox = Sandbox::new();
    let server = sandbox.start_stack(&[]);
    let endpoint = server.aws_endpoint.clone().expect("the stack runs moto");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let config = crate::common::emulated_sdk_config(&endpoint).await;
        piraeus_aws::sdk::dynamodb_client(&config)
            .delete_table()
            .table_name(crate::common::STACK_BUCKET)
            .send()
            .await
            .expect("the table is deleted");
    });
    for path in [
        "/example.test/any.git/@v/list",
        "/example.test/any.git/@v/v1.0.0.info",
        "/example.test/any.git/@latest",
        "/readyz",
    ] {
        let response = server.get_from_serve_function(path);
        let body = response.text();
        assert!(response.status >= 500, "{path}: {} {body}", response.status);
        assert!(body.contains("request id: "), "{path}: {body}");
        assert!(
            !body.contains(crate::common::STACK_BUCKET),
            "{path} names the table or bucket: {body}"
        );
        assert!(!body.to_lowercase().contains("dynamodb"), "{path}: {body}");
    }
}

/// A stand-in for the CloudFront KeyValueStore API (no emulator has one), reached the way an
/// operator behind a proxy reaches the real one: as the HTTP proxy for the API's host. It
/// keeps keys and an ETag, enforces If-Match, and records each request's signature scheme.
struct KeyValueStore {
    proxy: String,
    keys: Arc<Mutex<BTreeMap<String, String>>>,
    schemes: Arc<Mutex<Vec<String>>>,
}

impl KeyValueStore {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let proxy = format!("http://{}", listener.local_addr().unwrap());
        let keys = Arc::new(Mutex::new(BTreeMap::new()));
        let schemes = Arc::new(Mutex::new(Vec::new()));
        let etag = Arc::new(Mutex::new(1u64));
        let (shared_keys, shared_schemes) = (keys.clone(), schemes.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (keys, schemes, etag) =
                    (shared_keys.clone(), shared_schemes.clone(), etag.clone());
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(stream.try_clone().unwrap());
                    let mut writer = stream;
                    // Requests on one connection until the client closes it.
                    loop {
                        let mut request_line = String::new();
                        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
                            return;
                        }
                        let mut headers = BTreeMap::new();
                        loop {
                            let mut line = String::new();
                            reader.read_line(&mut line).unwrap();
                            let line = line.trim_end();
                            if line.is_empty() {
                                break;
                            }
                            let (name, value) = line.split_once(':').unwrap();
                            headers.insert(name.to_lowercase(), value.trim().to_string());
                        }
                        let length = headers
                            .get("content-length")
                            .map_or(0, |l| l.parse().unwrap());
                        let mut body = vec![0; length];
                        reader.read_exact(&mut body).unwrap();
                        let scheme = headers
                            .get("authorization")
                            .and_then(|a| a.split_whitespace().next())
                            .unwrap_or("none")
                            .to_string();
                        schemes.lock().unwrap().push(scheme);
                        let mut parts = request_line.split_whitespace();
                        let (method, target) = (parts.next().unwrap(), parts.next().unwrap());
                        let path = &target[target.find("/key-value-stores/").unwrap()..];
                        let segments: Vec<&str> = path.split('/').collect();
                        let key = segments.get(4).map(|k| k.to_string());
                        let mut keys = keys.lock().unwrap();
                        let mut etag = etag.lock().unwrap();
                        let current = format!("etag-{etag}");
                        let if_match_ok = headers.get("if-match") == Some(&current);
                        let (status, error, reply) = match (method, key) {
                            ("GET", None) if segments.len() == 3 => (
                                200,
                                None,
                                json!({"KvsARN": "arn", "ItemCount": keys.len(), "TotalSizeInBytes": 0, "Created": 1.7e9}),
                            ),
                            ("GET", None) => (
                                200,
                                None,
                                json!({"Items": keys.iter().map(|(k, v)| json!({"Key": k, "Value": v})).collect::<Vec<_>>()}),
                            ),
                            ("GET", Some(key)) => match keys.get(&key) {
                                Some(value) => (
                                    200,
                                    None,
                                    json!({"Key": key, "Value": value, "ItemCount": keys.len(), "TotalSizeInBytes": 0}),
                                ),
                                None => (
                                    404,
                                    Some("ResourceNotFoundException"),
                                    json!({"Message": "no such key"}),
                                ),
                            },
                            ("PUT" | "DELETE", Some(_)) if !if_match_ok => (
                                409,
                                Some("ConflictException"),
                                json!({"Message": "stale ETag"}),
                            ),
                            ("PUT", Some(key)) => {
                                let input: Value = serde_json::from_slice(&body).unwrap();
                                keys.insert(key, input["Value"].as_str().unwrap().to_string());
                                *etag += 1;
                                (
                                    200,
                                    None,
                                    json!({"ItemCount": keys.len(), "TotalSizeInBytes": 0}),
                                )
                            }
                            ("DELETE", Some(key)) => match keys.remove(&key) {
                                Some(_) => {
                                    *etag += 1;
                                    (
                                        200,
                                        None,
                                        json!({"ItemCount": keys.len(), "TotalSizeInBytes": 0}),
                                    )
                                }
                                None => (
                                    404,
                                    Some("ResourceNotFoundException"),
                                    json!({"Message": "no such key"}),
                                ),
                            },
                            _ => (
                                400,
                                Some("ValidationException"),
                                json!({"Message": "unexpected"}),
                            ),
                        };
                        let body = reply.to_string();
                        let error = error
                            .map(|kind| format!("x-amzn-errortype: {kind}\r\n"))
                            .unwrap_or_default();
                        let _ = write!(
                            writer,
                            "HTTP/1.1 {status} X\r\nETag: etag-{etag}\r\n{error}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                            body.len()
                        );
                    }
                });
            }
        });
        Self {
            proxy,
            keys,
            schemes,
        }
    }
}

#[test]
fn token_commands_manage_the_stacks_key_value_store() {
    let store = KeyValueStore::start();
    let arn =
        "arn:aws:cloudfront::123456789012:key-value-store/0b8d5f5a-1c2d-4e3f-9a8b-7c6d5e4f3a2b";
    let token = |arguments: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_piraeus"))
            .arg("token")
            .args(arguments)
            .args(["--kvs", arn])
            .env_clear()
            .env("AWS_ENDPOINT_URL", "http://kvs.test")
            .env("HTTP_PROXY", &store.proxy)
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .output()
            .unwrap()
    };
    let created = token(&["new", "ci"]);
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let secret = String::from_utf8(created.stdout)
        .unwrap()
        .lines()
        .last()
        .unwrap()
        .to_string();
    assert_eq!(
        store.keys.lock().unwrap().get("ci"),
        Some(&piraeus_core::auth::hash_secret(&secret)),
        "the store holds the secret's SHA-256, the viewer function's key"
    );
    assert!(!token(&["new", "ci"]).status.success(), "names are unique");

    // A scoped token: the hash, `;` and its patterns, in the form the viewer function reads.
    let scoped = token(&[
        "new",
        "team",
        "--modules",
        "corp.example.com/team/, github.com/Team*",
    ]);
    assert!(scoped.status.success(), "{scoped:?}");
    let secret = String::from_utf8(scoped.stdout).unwrap();
    let hash = piraeus_core::auth::hash_secret(secret.lines().last().unwrap());
    assert_eq!(
        store.keys.lock().unwrap().get("team"),
        Some(&format!("{hash};corp.example.com/team,github.com/Team*"))
    );
    // Invalid globs, and a scope longer than a store value holds: exit 2, the reason, nothing
    // written.
    let too_long = vec!["corp.example.com/a-team-with-a-long-name"; 30].join(",");
    for (bad, reason) in [
        ("corp.example.com/[a", "unclosed ["),
        ("/corp.example.com", "empty path element"),
        (too_long.as_str(), "at most 1024"),
    ] {
        let refused = token(&["new", "bad", "--modules", bad]);
        assert_eq!(refused.status.code(), Some(2), "{bad}: {refused:?}");
        let said = String::from_utf8_lossy(&refused.stderr);
        assert!(said.contains(reason), "{bad}: {said}");
    }
    assert!(!store.keys.lock().unwrap().contains_key("bad"));
    let listed = token(&["list"]);
    assert_eq!(
        String::from_utf8(listed.stdout).unwrap(),
        "ci\tall modules\nteam\tcorp.example.com/team,github.com/Team*\n"
    );
    assert!(token(&["revoke", "team"]).status.success());
    assert!(token(&["revoke", "ci"]).status.success());
    assert!(store.keys.lock().unwrap().is_empty());
    assert_eq!(token(&["revoke", "ci"]).status.code(), Some(1));
    // The API is signed with SigV4a, as CloudFront requires.
    let schemes = store.schemes.lock().unwrap();
    assert!(!schemes.is_empty());
    assert!(
        schemes.iter().all(|s| s == "AWS4-ECDSA-P256-SHA256"),
        "{schemes:?}"
    );
}
