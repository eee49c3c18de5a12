//! What the fetcher's go command and git may reach and say: the egress guard between them and
//! the network, the version-control tools they may use, and how their failures read.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crate::common::{Sandbox, Server, invocations, which};

/// A module whose repository does not exist: the 404 explains what the go command tried, but
/// not where in its scratch space it ran it.
#[test]
fn go_errors_name_no_scratch_directory() {
    let sandbox = Sandbox::new();
    let server = sandbox.start_server();
    for path in [
        "/example.test/absent.git/@v/v1.0.0.info",
        "/example.test/absent.git/@v/list",
    ] {
        let response = server.get(path);
        let body = response.text();
        assert_eq!(response.status, 404, "{path}: {body}");
        assert!(body.contains("git ls-remote"), "{path}: {body}");
        assert!(
            !body.contains("$WORK") && !body.contains("pkg/mod/cache") && !body.contains(" in <"),
            "{path} shows the scratch layout: {body}"
        );
    }
    server.stop();
}

/// A `go` for the server that appends the `GOVCS` each fetch (not the start-up `go version`)
/// was given to a file, then runs the real go.
fn go_recording_govcs(sandbox: &Sandbox) -> (PathBuf, PathBuf) {
    let seen = sandbox.path().join("govcs-seen.log");
    let shim = sandbox.script(
        "go-recording-govcs",
        &format!(
            "[ \"$1\" = version ] || echo \"GOVCS=${{GOVCS-<unset>}}\" >> '{}'\nexec '{}' \"$@\"\n",
            seen.display(),
            which("go").display()
        ),
    );
    (shim, seen)
}

/// The go command may use git only, so a go-import tag cannot make it run Mercurial, Bazaar,
/// Subversion or Fossil (over ssh, with the server's agent); an operator's GOVCS wins.
#[test]
fn the_go_command_may_use_git_only_unless_the_operator_says_otherwise() {
    let sandbox = Sandbox::new();
    let repo = sandbox.module("vcs.git");
    repo.commit("v1");
    repo.tag("v1.0.0");
    let (go, seen) = go_recording_govcs(&sandbox);
    let go = go.to_str().unwrap();

    let server = sandbox.start_server_with(&["--go", go], &[]);
    let response = server.get("/example.test/vcs.git/@v/v1.0.0.info");
    assert_eq!(response.status, 200, "{}", response.text());
    server.stop();
    let lines = std::fs::read_to_string(&seen).unwrap();
    assert!(!lines.is_empty());
    assert!(
        lines.lines().all(|line| line == "GOVCS=*:git"),
        "the go command ran with {lines}"
    );

    std::fs::remove_file(&seen).unwrap();
    let other_data = sandbox.path().join("other-data");
    let server = sandbox.start_server_with(
        &["--go", go, "--data-dir", other_data.to_str().unwrap()],
        &[("GOVCS", "example.test:git|hg,*:off")],
    );
    let response = server.get("/example.test/vcs.git/@v/v1.0.0.info");
    assert_eq!(response.status, 200, "{}", response.text());
    server.stop();
    let lines = std::fs::read_to_string(&seen).unwrap();
    assert!(
        lines
            .lines()
            .all(|line| line == "GOVCS=example.test:git|hg,*:off"),
        "the go command ran with {lines}"
    );
}

/// `piraeus serve` with `policy` (TOML), `arguments` and `environment`, and a go command that
/// counts its runs (in the returned file).
fn start_guarded(
    sandbox: &Sandbox,
    policy: &str,
    arguments: &[&str],
    environment: &[(&str, &str)],
) -> (Server, PathBuf) {
    let (go, counter) = sandbox.counting_go();
    let policy_file = sandbox.path().join("policy.toml");
    std::fs::write(&policy_file, policy).unwrap();
    let mut all = vec![
        "--policy",
        policy_file.to_str().unwrap(),
        "--go",
        go.to_str().unwrap(),
    ];
    all.extend_from_slice(arguments);
    (sandbox.start_server_with(&all, environment), counter)
}

/// A loopback port that records whether anything connected to it, closing each connection at
/// once so the client fails fast.
struct Tripwire {
    port: u16,
    stop: Arc<AtomicBool>,
    watcher: std::thread::JoinHandle<TcpListener>,
    connections: Arc<AtomicUsize>,
}

impl Tripwire {
    fn new() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let (stop, connections) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicUsize::new(0)),
        );
        let (stopping, counting) = (stop.clone(), Arc::clone(&connections));
        let watcher = std::thread::spawn(move || {
            while !stopping.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok(_) => {
                        counting.fetch_add(1, Ordering::SeqCst);
                    }
                    Err(_) => std::thread::sleep(std::time::Duration::from_millis(5)),
                }
            }
            listener
        });
        Self {
            port,
            stop,
            watcher,
            connections,
        }
    }

    /// Whether anything connected: the watcher stops, then whatever is still queued counts.
    fn reached(self) -> bool {
        self.stop.store(true, Ordering::SeqCst);
        let listener = self.watcher.join().unwrap();
        self.connections.load(Ordering::SeqCst) > 0 || listener.accept().is_ok()
    }
}

/// An HTTP server on loopback answering every request with `body` as HTML; the count of
/// requests it answered.
fn serve_html(body: String) -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let answered = Arc::new(AtomicUsize::new(0));
    let count = answered.clone();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().map_while(Result::ok) {
            read_head(&mut stream);
            count.fetch_add(1, Ordering::SeqCst);
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (port, answered)
}

/// A module whose host name resolves to an internal address (here through a pin, as DNS
/// would answer) gets 403 naming the reason, before any go command runs; so do Kubernetes
/// service names, by name.
#[test]
fn module_hosts_resolving_inside_are_refused_before_the_go_command_runs() {
    let sandbox = Sandbox::new();
    let (server, counter) = start_guarded(
        &sandbox,
        "",
        &[
            "--egress-pin",
            "private.localtest:443=127.0.0.1:9",
            "--egress-pin",
            "metadata.localtest:443=169.254.169.254:443",
        ],
        &[],
    );
    for (path, reason) in [
        (
            "/private.localtest/m/@v/list",
            "resolves to a loopback address",
        ),
        (
            "/private.localtest/m/@v/v1.0.0.info",
            "resolves to a loopback address",
        ),
        (
            "/private.localtest/m/@latest",
            "resolves to a loopback address",
        ),
        (
            "/private.localtest/m/@v/main.info",
            "resolves to a loopback address",
        ),
        (
            "/metadata.localtest/m/@v/list",
            "resolves to a link-local address",
        ),
        ("/kubernetes.default/x/@v/list", "internal hosts"),
        (
            "/kubernetes.default.svc.cluster.local/x/@v/v1.0.0.info",
            "internal hosts",
        ),
        ("/api.team-a/x/@v/list", "internal hosts"),
    ] {
        let response = server.get(path);
        let body = response.text();
        assert_eq!(response.status, 403, "{path}: {body}");
        assert!(body.contains(reason), "{path}: {body}");
        assert!(
            !body.contains("127.0.0.1") && !body.contains("169.254"),
            "{body}"
        );
    }
    server.stop();
    let runs = std::fs::read_to_string(&counter).unwrap_or_default();
    assert!(
        !runs.contains("localtest") && !runs.contains("kubernetes") && !runs.contains("team-a"),
        "the go command ran: {runs}"
    );
    assert!(!sandbox.data_dir().join("private.localtest").exists());
}

/// A real go command asks a loopback HTTP server (allowed: a fetch rule names its host) for
/// the modules' go-import tags, which point git at loopback: the egress guard refuses git's
/// CONNECT, and nothing reaches a name that resolves there. (After git fails, the go command
/// itself GETs the repository URL; for a literal loopback address, Go's HTTP client ignores
/// every proxy, so that request is not the guard's to stop: docs/security.md, Known limits.)
#[test]
fn the_egress_guard_refuses_what_a_go_import_tag_names_inside() {
    let sandbox = Sandbox::new();
    let named = Tripwire::new();
    let named_port = named.port;
    // Closes what reaches it, so the go command's own request fails at once.
    let literal = TcpListener::bind("127.0.0.1:0").unwrap();
    let literal_port = literal.local_addr().unwrap().port();
    std::thread::spawn(move || for _ in literal.incoming() {});
    let (meta_port, meta_answered) = serve_html(format!(
        "<html><head>\
         <meta name=\"go-import\" content=\"meta.localtest/named git https://target.localtest:{named_port}/repo.git\">\
         <meta name=\"go-import\" content=\"meta.localtest/literal git https://127.0.0.1:{literal_port}/repo.git\">\
         </head></html>"
    ));
    let meta_pin = format!("meta.localtest:80=127.0.0.1:{meta_port}");
    let target_pin = format!("target.localtest:{named_port}=127.0.0.1:{named_port}");
    let (server, counter) = start_guarded(
        &sandbox,
        "[[rule]]\npattern = \"meta.localtest\"\naction = \"fetch\"\n",
        &["--egress-pin", &meta_pin, "--egress-pin", &target_pin],
        // The go command may then fall back to http for the go-import tag (the test server
        // has no TLS).
        &[("GOINSECURE", "meta.localtest")],
    );
    let mut named = Some(named);
    for module in ["meta.localtest/named", "meta.localtest/literal"] {
        let response = server.get(&format!("/{module}/@v/list"));
        let body = response.text();
        if let Some(named) = named.take() {
            assert!(
                !named.reached(),
                "target.localtest, which resolves to loopback, was reached: {body}"
            );
        }
        assert_eq!(response.status, 404, "{module}: {body}");
        assert!(invocations(&counter, module) >= 1, "the go command ran");
        assert!(
            body.contains("CONNECT tunnel failed, response 403"),
            "git reports the guard's refusal: {body}"
        );
    }
    assert!(
        meta_answered.load(Ordering::SeqCst) >= 2,
        "the go command read the go-import tags through the guard"
    );
    let log = server.log();
    for refused in [
        "host=\"target.localtest\"",
        "target.localtest resolves to a loopback address",
        "127.0.0.1 resolves to a loopback address",
    ] {
        assert!(
            log.contains(refused) && log.contains("the egress guard refused a connection"),
            "{refused}: {log}"
        );
    }
    server.stop();
}

/// An upstream proxy (on loopback, which the operator named) that redirects lists to another
/// loopback address, by its address and by a name that resolves there: the native upstream
/// client refuses to follow either, and nothing reaches it.
#[test]
fn the_native_upstream_follows_no_redirect_to_an_internal_address() {
    let sandbox = Sandbox::new();
    let target = Tripwire::new();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let upstream_port = listener.local_addr().unwrap().port();
    let target_port = target.port;
    std::thread::spawn(move || {
        for mut stream in listener.incoming().map_while(Result::ok) {
            let head = String::from_utf8_lossy(&read_head(&mut stream)).into_owned();
            let host = if head.starts_with("GET /example.com/by-name/") {
                "inside.localtest"
            } else {
                "127.0.0.1"
            };
            let _ = write!(
                stream,
                "HTTP/1.1 302 Found\r\nLocation: https://{host}:{target_port}/x/@v/list\r\n\
                 Content-Length: 0\r\nConnection: close\r\n\r\n"
            );
        }
    });
    let upstream = format!("http://127.0.0.1:{upstream_port}");
    // The name resolves to loopback, as a public-looking name can in DNS.
    let pin = format!("inside.localtest:{target_port}=127.0.0.1:{target_port}");
    let no_go = sandbox.path().join("no-go-here");
    let server = sandbox.start_server_with(
        &[
            "--upstream",
            &upstream,
            "--go",
            no_go.to_str().unwrap(),
            "--egress-pin",
            &pin,
        ],
        &[],
    );
    for (module, refused) in [
        ("example.com/by-address", "a redirect to a loopback address"),
        (
            "example.com/by-name",
            "inside.localtest resolves to a loopback address",
        ),
    ] {
        let response = server.get(&format!("/{module}/@v/list"));
        assert_eq!(response.status, 502, "{module}: {}", response.text());
        let log = server.log();
        assert!(log.contains(refused), "{module}: {log}");
    }
    assert!(
        !target.reached(),
        "the redirects' loopback address was reached"
    );
    server.stop();
}

/// Reads a request's head, up to its blank line, byte by byte (nothing of a body is taken).
fn read_head(stream: &mut std::net::TcpStream) -> Vec<u8> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).is_ok_and(|n| n == 1) {
        head.push(byte[0]);
    }
    head
}
