//! The native upstream: `piraeus serve --upstream http://…` speaks the GOPROXY protocol to an
//! upstream proxy itself and verifies every version against a real signed checksum database
//! (`tests/sumdb-server`) before storing it. The upstream is a real GOPROXY tree (the download
//! cache of a client that fetched the modules directly) served over HTTP on loopback by
//! tests/upstream-server.py (Python's http.server, with faults on demand), which logs every
//! request it gets. For public modules the server's
//! go command is a stub that counts its runs and fails, so any use of it shows.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::common::{
    Downloaded, Sandbox, Server, announced_port, assert_same_as_direct, invocations, is_stored,
    which,
};
use crate::sumdb::{NAME, TestDatabase, go_sum_lines};
use crate::transfer::{export, import};

/// A folder served over HTTP on loopback by tests/upstream-server.py, each request line
/// logged, with faults under `/_fault/MODE/`.
struct TreeServer {
    child: Child,
    url: String,
    log: PathBuf,
}

impl TreeServer {
    fn start(sandbox: &Sandbox, root: &Path) -> Self {
        let log = sandbox.path().join("upstream-requests.log");
        let mut child = Command::new(which("python3"))
            .arg(crate::common::repo_root().join("tests/upstream-server.py"))
            .arg(root)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("python3 runs http.server");
        let port = announced_port(&mut child, "the upstream server");
        Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
            log,
        }
    }

    /// The paths requested so far.
    fn requests(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter_map(|line| line.split('"').nth(1))
            .filter_map(|request| request.split_whitespace().nth(1))
            .map(String::from)
            .collect()
    }
}

impl Drop for TreeServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `go` for the server that records its arguments and fails: no public module may need it.
fn failing_go(sandbox: &Sandbox) -> (PathBuf, PathBuf) {
    let counter = sandbox.path().join("go-invocations.log");
    let stub = sandbox.script(
        "failing-go",
        &format!(
            "echo \"$*\" >> '{}'\necho 'go: not here' >&2\nexit 1\n",
            counter.display()
        ),
    );
    (stub, counter)
}

const ALPHA: &str = "example.test/alpha.git";
const BETA: &str = "example.test/Beta.git";
const TARGETS: [&str; 3] = [
    "example.test/alpha.git@v1.0.0",
    "example.test/alpha.git@v1.1.0",
    "example.test/Beta.git@v1.0.0",
];

/// Two modules (one with an upper-case path) fetched directly; their download cache copied into
/// a GOPROXY tree; a database holding their sums; the tree served over HTTP.
struct Upstream {
    sandbox: Sandbox,
    direct: Vec<Downloaded>,
    tree: PathBuf,
    server: TreeServer,
    database: TestDatabase,
}

fn upstream() -> Upstream {
    let sandbox = Sandbox::new();
    sandbox.module_at_two_tags("alpha.git", ["v1.0.0", "v1.1.0"]);
    let beta = sandbox.module("Beta.git");
    beta.commit("one");
    beta.tag("v1.0.0");
    let client = sandbox.client("seed", "direct");
    let direct = client.download(&TARGETS);
    assert!(direct.iter().all(|d| d.error.is_empty()), "{direct:?}");
    let tree = sandbox.path().join("tree");
    copy_tree(
        &client.work_dir().join("../gopath/pkg/mod/cache/download"),
        &tree,
    );
    let go_sum: String = direct.iter().map(go_sum_lines).collect();
    let database = TestDatabase::start(&sandbox, &go_sum);
    let server = TreeServer::start(&sandbox, &tree);
    Upstream {
        sandbox,
        direct,
        tree,
        server,
        database,
    }
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else if !entry.file_name().to_string_lossy().ends_with(".lock") {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

impl Upstream {
    /// `piraeus serve` with the tree as its only upstream, the test database's key as GOSUMDB,
    /// and the failing go.
    fn piraeus(&self, key: &str) -> (Server, PathBuf) {
        let (go, counter) = failing_go(&self.sandbox);
        let sumdb = format!("{NAME}={}", self.database.url);
        let server = self.sandbox.start_server_with(
            &[
                "--upstream",
                &self.server.url,
                "--go",
                go.to_str().unwrap(),
                "--sumdb",
                &sumdb,
            ],
            &[("GOSUMDB", key)],
        );
        (server, counter)
    }

    /// `piraeus serve` with `chain` as its upstream and `arguments` added, over a data
    /// directory of its own (returned), with the failing go and the test database.
    fn piraeus_on(&self, chain: &str, arguments: &[&str]) -> (Server, PathBuf) {
        self.piraeus_with(chain, arguments, &self.database.key)
    }

    /// [`Upstream::piraeus_on`] with `gosumdb` as its GOSUMDB.
    fn piraeus_with(&self, chain: &str, arguments: &[&str], gosumdb: &str) -> (Server, PathBuf) {
        let (go, _) = failing_go(&self.sandbox);
        let sumdb = format!("{NAME}={}", self.database.url);
        let data_dir = tempfile::Builder::new()
            .prefix("data-")
            .tempdir_in(self.sandbox.path())
            .unwrap()
            .keep();
        let mut all = vec![
            "--upstream",
            chain,
            "--go",
            go.to_str().unwrap(),
            "--sumdb",
            &sumdb,
            "--data-dir",
            data_dir.to_str().unwrap(),
        ];
        all.extend_from_slice(arguments);
        let server = self
            .sandbox
            .start_server_with(&all, &[("GOSUMDB", gosumdb)]);
        (server, data_dir)
    }

    /// The tree's file for `module`'s `file` (`@v/v1.0.0.zip`, `@v/list`).
    fn file(&self, module: &str, file: &str) -> PathBuf {
        self.tree.join(escaped(module)).join(file)
    }

    /// A data directory holding [`TARGETS`], fetched through `piraeus serve` from the tree
    /// with `gosumdb` as its GOSUMDB (`off`: whatever the tree holds is stored unchecked).
    fn stored(&self, gosumdb: &str) -> PathBuf {
        let (server, data_dir) = self.piraeus_with(&self.server.url, &[], gosumdb);
        for target in TARGETS {
            let (module, version) = target.split_once('@').unwrap();
            let response = server.get(&format!("/{}/@v/{version}.zip", escaped(module)));
            assert_eq!(response.status, 200, "{target}: {}", response.text());
        }
        server.stop();
        data_dir
    }
}

/// `module` case-encoded as the GOPROXY protocol writes it.
fn escaped(module: &str) -> String {
    module
        .chars()
        .flat_map(|c| {
            if c.is_ascii_uppercase() {
                vec!['!', c.to_ascii_lowercase()]
            } else {
                vec![c]
            }
        })
        .collect()
}

#[test]
fn public_modules_come_from_the_proxy_verified_and_without_the_go_command() {
    let upstream = upstream();
    let (server, go_runs) = upstream.piraeus(&upstream.database.key);
    let proxied = assert_same_as_direct(&upstream.sandbox, &server, "native", &TARGETS);
    assert_eq!(proxied, upstream.direct);
    let client = upstream.sandbox.client("lister", &server.url());
    assert_eq!(
        client.versions(ALPHA, false),
        format!("{ALPHA} v1.0.0 v1.1.0")
    );
    // The tree has no @latest: the go command's rule derives it from the list.
    let latest = server.get(&format!("/{ALPHA}/@latest"));
    assert_eq!(latest.status, 200, "{}", latest.text());
    assert!(
        latest.text().contains("\"Version\":\"v1.1.0\""),
        "{}",
        latest.text()
    );
    assert_eq!(invocations(&go_runs, ""), 0, "the go command ran");
    let asked = upstream.database.requests();
    for lookup in [
        "/lookup/example.test/alpha.git@v1.0.0",
        "/lookup/example.test/!beta.git@v1.0.0",
    ] {
        assert!(
            asked.iter().any(|path| path == lookup),
            "{lookup} in {asked:?}"
        );
    }
    let fetched = upstream.server.requests();
    assert!(
        fetched.contains(&"/example.test/!beta.git/@v/v1.0.0.zip".to_string()),
        "{fetched:?}"
    );
}

/// Replaces the tree's zip of `module@version` by one with the same files but one altered.
fn tamper_zip(upstream: &Upstream, module: &str, version: &str) {
    let path = upstream.file(module, &format!("@v/{version}.zip"));
    let original = std::fs::read(&path).unwrap();
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(original)).unwrap();
    let mut rewritten = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for index in 0..archive.len() {
        let mut entry = archive.by_index(index).unwrap();
        let name = entry.name().unwrap().into_owned();
        let mut contents = Vec::new();
        entry.read_to_end(&mut contents).unwrap();
        if name.ends_with(".go") {
            contents.extend_from_slice(b"\n// not what the author wrote\n");
        }
        rewritten
            .start_file(name, zip::write::SimpleFileOptions::default())
            .unwrap();
        rewritten.write_all(&contents).unwrap();
    }
    std::fs::write(&path, rewritten.finish().unwrap().into_inner()).unwrap();
}

#[test]
fn a_tampered_zip_or_go_mod_is_refused_named_and_nothing_is_stored() {
    let upstream = upstream();
    tamper_zip(&upstream, ALPHA, "v1.1.0");
    std::fs::write(
        upstream.file(BETA, "@v/v1.0.0.mod"),
        "module example.test/Beta.git\n\nrequire example.test/evil v1.0.0\n",
    )
    .unwrap();
    let (server, go_runs) = upstream.piraeus(&upstream.database.key);
    let expected = |module: &str, version: &str| {
        upstream
            .direct
            .iter()
            .find(|d| d.path == module && d.version == version)
            .unwrap()
            .clone()
    };
    for (module, version, file, sum) in [
        (ALPHA, "v1.1.0", "zip", expected(ALPHA, "v1.1.0").sum),
        (
            BETA,
            "v1.0.0",
            "go.mod",
            expected(BETA, "v1.0.0").go_mod_sum,
        ),
    ] {
        let escaped = if module == BETA {
            "example.test/!beta.git"
        } else {
            ALPHA
        };
        // Twice: a refused version is not served the second time either.
        for _ in 0..2 {
            let response = server.get(&format!("/{escaped}/@v/{version}.zip"));
            let body = response.text();
            assert_eq!(response.status, 502, "{body}");
            assert!(body.contains("checksum mismatch"), "{body}");
            assert!(
                body.contains(&format!("{module}@{version} ({file})")),
                "{body}"
            );
            assert!(body.contains(&sum), "names the database's {sum}: {body}");
            assert_eq!(
                body.matches("h1:").count(),
                2,
                "and what upstream served: {body}"
            );
        }
        for ext in ["info", "mod", "zip"] {
            let key = format!("{escaped}/@v/{version}.{ext}");
            assert!(
                !is_stored(&upstream.sandbox, &server, &key),
                "{key} was stored"
            );
        }
    }
    // The untouched version still comes through.
    let good = server.get(&format!("/{ALPHA}/@v/v1.0.0.zip"));
    assert_eq!(good.status, 200, "{}", good.text());
    let log = server.log();
    assert!(
        log.lines().any(|line| line.contains("ERROR")
            && line.contains("alarm")
            && line.contains("integrity")),
        "an integrity alarm is logged:\n{log}"
    );
    assert_eq!(invocations(&go_runs, ""), 0, "the go command ran");
}

#[test]
fn a_database_key_that_does_not_sign_its_answers_is_refused() {
    let upstream = upstream();
    // Another database's key, of the same name: its signatures cannot verify.
    let other = TestDatabase::start(&upstream.sandbox, "");
    let (server, _) = upstream.piraeus(&other.key);
    let response = server.get(&format!("/{ALPHA}/@v/v1.0.0.zip"));
    let body = response.text();
    assert_eq!(response.status, 502, "{body}");
    assert!(body.contains("SECURITY ERROR"), "{body}");
    assert!(!is_stored(
        &upstream.sandbox,
        &server,
        &format!("{ALPHA}/@v/v1.0.0.zip")
    ));
}

#[test]
fn private_modules_go_to_the_go_command_and_never_to_the_proxy() {
    let upstream = upstream();
    let secret = upstream.sandbox.module("secret.git");
    secret.commit("one");
    secret.tag("v1.0.0");
    let (go, go_runs) = upstream.sandbox.counting_go();
    let chain = format!("{},direct", upstream.server.url);
    let sumdb = format!("{NAME}={}", upstream.database.url);
    let server = upstream.sandbox.start_server_with(
        &[
            "--upstream",
            &chain,
            "--go",
            go.to_str().unwrap(),
            "--sumdb",
            &sumdb,
        ],
        &[
            ("GOSUMDB", upstream.database.key.as_str()),
            ("GOPRIVATE", "example.test/secret.git"),
        ],
    );
    assert_same_as_direct(
        &upstream.sandbox,
        &server,
        "private",
        &[
            "example.test/secret.git@v1.0.0",
            "example.test/alpha.git@v1.0.0",
        ],
    );
    assert!(
        invocations(&go_runs, "secret.git") >= 1,
        "the go command fetched it"
    );
    assert_eq!(
        invocations(&go_runs, "alpha.git"),
        0,
        "public modules need no go command"
    );
    let fetched = upstream.server.requests();
    assert!(
        fetched.iter().all(|path| !path.contains("secret")),
        "a private module was named to the proxy: {fetched:?}"
    );
    let asked = upstream.database.requests();
    assert!(
        asked.iter().all(|path| !path.contains("secret")),
        "a private module was named to the database: {asked:?}"
    );
}

#[test]
fn bad_upstream_answers_are_502_and_store_nothing() {
    let upstream = upstream();
    let bad = upstream.tree.join("example.test/bad.git/@v");
    std::fs::create_dir_all(&bad).unwrap();
    std::fs::write(bad.join("list"), "v1.0\n").unwrap();
    std::fs::write(bad.join("v1.0.0.info"), "{\"Version\": ").unwrap();
    std::fs::write(
        bad.join("v1.1.0.info"),
        "{\"Version\":\"v1.2.0\",\"Time\":\"2024-01-01T00:00:00Z\"}",
    )
    .unwrap();
    // A zip of alpha served as another module's: its paths are outside the module.
    std::fs::write(
        bad.join("v1.2.0.info"),
        "{\"Version\":\"v1.2.0\",\"Time\":\"2024-01-01T00:00:00Z\"}",
    )
    .unwrap();
    std::fs::write(bad.join("v1.2.0.mod"), "module example.test/bad.git\n").unwrap();
    std::fs::copy(
        upstream.file(ALPHA, "@v/v1.0.0.zip"),
        bad.join("v1.2.0.zip"),
    )
    .unwrap();
    let (server, _) = upstream.piraeus(&upstream.database.key);
    for (path, says) in [
        ("/example.test/bad.git/@v/list", "not a canonical version"),
        ("/example.test/bad.git/@v/v1.0.0.info", "malformed JSON"),
        ("/example.test/bad.git/@v/v1.1.0.info", "not v1.1.0"),
        (
            "/example.test/bad.git/@v/v1.2.0.zip",
            "not a valid module zip",
        ),
    ] {
        let response = server.get(path);
        let body = response.text();
        assert_eq!(response.status, 502, "{path}: {body}");
        assert!(body.contains(says), "{path}: {body}");
        assert!(
            !body.contains("127.0.0.1"),
            "{path} reveals the upstream: {body}"
        );
    }
    for ext in ["info", "mod", "zip"] {
        let key = format!("example.test/bad.git/@v/v1.2.0.{ext}");
        assert!(!is_stored(&upstream.sandbox, &server, &key), "{key}");
    }
}

#[test]
fn upstream_faults_are_502_and_the_chain_falls_back_as_the_go_command_does() {
    let upstream = upstream();
    let tree = &upstream.server.url;
    let fault = |mode: &str| format!("{tree}/_fault/{mode}");
    let zip = format!("/{ALPHA}/@v/v1.0.0.zip");
    let stored = |data_dir: &Path| data_dir.join(format!("{ALPHA}/@v/v1.0.0.zip")).is_file();
    // `,` moves on after 404 and 410 only; `|` after any error.
    for (chain, status) in [
        (format!("{},{tree}", fault("status/404")), 200),
        (format!("{},{tree}", fault("status/410")), 200),
        (format!("{},{tree}", fault("status/500")), 502),
        (format!("{}|{tree}", fault("status/500")), 200),
        (format!("{},off", fault("status/404")), 404),
        // Plain http may be followed on the proxy's own host only.
        (fault("here"), 200),
    ] {
        let (server, data_dir) = upstream.piraeus_on(&chain, &[]);
        let response = server.get(&zip);
        assert_eq!(response.status, status, "{chain}: {}", response.text());
        assert_eq!(stored(&data_dir), status == 200, "{chain}");
    }
    for (chain, arguments, says) in [
        (fault("away"), &[][..], "redirected where it may not go"),
        (fault("cut"), &[][..], "cut short"),
        (fault("slow"), &["--fetch-timeout", "3s"][..], "timed out"),
        // An https redirect to another host is followed (and fails: nothing listens there),
        // unless the proxy was given credentials.
        (fault("elsewhere"), &[][..], "could not be reached"),
        (
            fault("elsewhere").replace("http://", "http://user:secret@"),
            &[][..],
            "redirected where it may not go",
        ),
    ] {
        let (server, data_dir) = upstream.piraeus_on(&chain, arguments);
        let response = server.get(&zip);
        let body = response.text();
        assert_eq!(response.status, 502, "{chain}: {body}");
        assert!(body.contains(says), "{chain}: {body}");
        assert!(
            !body.contains("127.0.0.1") && !body.contains("localhost"),
            "{body}"
        );
        assert!(!stored(&data_dir), "{chain}");
    }
}

/// `piraeus import` checks every public version against the checksum database: online, or
/// offline against the database's records that `piraeus export` wrote into the archive.
#[test]
fn import_refuses_a_forged_archive_online_and_offline() {
    let upstream = upstream();
    let online = format!("{} {}", upstream.database.key, upstream.database.url);
    // Nothing listens there: an offline import that reached for the database would fail.
    let unreachable = format!("{} http://127.0.0.1:1", upstream.database.key);
    let dir = |path: &Path| format!("--data-dir={}", path.display());
    let fresh = |name: &str| upstream.sandbox.path().join(name);
    let is_in = |data_dir: &Path, target: &str| {
        let (module, version) = target.split_once('@').unwrap();
        data_dir
            .join(format!("{}/@v/{version}.zip", escaped(module)))
            .is_file()
    };

    // An honest archive carries its proofs and imports offline.
    let honest = upstream.stored(&upstream.database.key);
    let archive = fresh("honest.zip");
    let run = export(
        &upstream.sandbox,
        &[&dir(&honest)],
        &archive,
        &[("GOSUMDB", &online)],
    );
    assert_eq!(run.code, 0, "{run}");
    let names = zip::ZipArchive::new(std::fs::File::open(&archive).unwrap())
        .unwrap()
        .file_names()
        .map(|name| name.unwrap().into_owned())
        .collect::<Vec<_>>();
    assert!(
        names
            .iter()
            .any(|name| name == &format!("sumdb/{NAME}/lookup/{ALPHA}@v1.0.0")),
        "{names:?}"
    );
    assert!(
        names
            .iter()
            .any(|name| name.starts_with(&format!("sumdb/{NAME}/tile/"))),
        "{names:?}"
    );
    let mirror = fresh("mirror");
    let run = import(
        &upstream.sandbox,
        &[&dir(&mirror), "--offline"],
        &archive,
        &[("GOSUMDB", &unreachable)],
    );
    assert_eq!(run.code, 0, "{run}");
    assert!(run.stdout.contains("3 stored"), "{run}");

    // A data directory that stored a tampered zip unchecked (GOSUMDB=off).
    tamper_zip(&upstream, ALPHA, "v1.0.0");
    let forged = upstream.stored("off");
    let forged_name = format!("{ALPHA}@v1.0.0");
    let expected = &upstream
        .direct
        .iter()
        .find(|d| d.path == ALPHA && d.version == "v1.0.0")
        .unwrap()
        .sum;
    let refused = |run: &crate::transfer::Run| {
        let line = run
            .stdout
            .lines()
            .find(|line| line.starts_with(&format!("REFUSED {forged_name}: checksum mismatch")))
            .unwrap_or_else(|| panic!("{run}"));
        assert!(
            line.contains(expected.as_str()),
            "names the database's sum: {line}"
        );
        assert_eq!(run.code, 1, "{run}");
        assert!(run.stdout.contains("2 stored"), "{run}");
        assert!(run.stdout.contains("1 refused"), "{run}");
    };

    // Without proofs, checked against the database online.
    let unproved = fresh("unproved.zip");
    let run = export(&upstream.sandbox, &[&dir(&forged)], &unproved, &[]);
    assert_eq!(run.code, 0, "GOSUMDB=off exports unchecked: {run}");
    let target = fresh("online");
    refused(&import(
        &upstream.sandbox,
        &[&dir(&target)],
        &unproved,
        &[("GOSUMDB", &online)],
    ));
    assert!(!is_in(&target, &forged_name));
    assert!(is_in(&target, TARGETS[1]) && is_in(&target, TARGETS[2]));
    // Offline, an archive without the database's records proves nothing.
    let run = import(
        &upstream.sandbox,
        &[&dir(&fresh("no-records")), "--offline"],
        &unproved,
        &[("GOSUMDB", &unreachable)],
    );
    assert_eq!(run.code, 1, "{run}");
    assert!(run.stdout.contains("0 stored"), "{run}");
    assert!(run.stdout.contains("no checksum-database record"), "{run}");

    // Export checks too: it names the version it cannot prove, and the records it did write
    // refuse it offline.
    let proved = fresh("proved.zip");
    let run = export(
        &upstream.sandbox,
        &[&dir(&forged)],
        &proved,
        &[("GOSUMDB", &online)],
    );
    assert_eq!(run.code, 1, "{run}");
    assert!(
        run.stdout
            .contains(&format!("NOT PROVED {forged_name}: checksum mismatch")),
        "{run}"
    );
    let target = fresh("offline");
    refused(&import(
        &upstream.sandbox,
        &[&dir(&target), "--offline"],
        &proved,
        &[("GOSUMDB", &unreachable)],
    ));
    assert!(!is_in(&target, &forged_name));

    // A private module is imported on the archive's sums, and the report says so.
    let run = import(
        &upstream.sandbox,
        &[&dir(&fresh("private"))],
        &unproved,
        &[("GOSUMDB", &online), ("GONOSUMDB", ALPHA)],
    );
    assert_eq!(run.code, 0, "{run}");
    assert!(
        run.stdout.contains(&format!("UNCHECKED {ALPHA}@v1.0.0")),
        "{run}"
    );
    assert!(run.stdout.contains("2 stored private"), "{run}");
}

/// The serverless stack with the tree as its upstream: the serve function answers list and
/// `@latest` from the proxy itself (no lookup-function run), and the fetch function stores
/// verified versions without running the go command (which the layer-less deploy leaves out).
#[test]
fn the_stack_speaks_to_the_proxy_itself_without_the_go_command_or_a_lookup() {
    let upstream = upstream();
    let (go, go_runs) = failing_go(&upstream.sandbox);
    let sumdb = format!("{NAME}={}", upstream.database.url);
    let stack = upstream.sandbox.start_stack(&[
        ("PIRAEUS_UPSTREAM", &upstream.server.url),
        ("PIRAEUS_GO", go.to_str().unwrap()),
        ("PIRAEUS_SUMDB", &sumdb),
        ("GOSUMDB", &upstream.database.key),
    ]);
    let proxied = assert_same_as_direct(&upstream.sandbox, &stack, "stack", &TARGETS);
    assert_eq!(proxied, upstream.direct);
    let client = upstream.sandbox.client("lister", &stack.url());
    assert_eq!(
        client.versions(ALPHA, false),
        format!("{ALPHA} v1.0.0 v1.1.0")
    );
    let latest = stack.get(&format!("/{ALPHA}/@latest"));
    assert_eq!(latest.status, 200, "{}", latest.text());
    assert!(latest.text().contains("\"Version\":\"v1.1.0\""));
    assert_eq!(invocations(&go_runs, ""), 0, "the go command ran");
    let log = stack.log();
    assert!(
        !log.contains("asking the lookup function"),
        "a lookup function ran: {log}"
    );
    assert!(
        upstream
            .database
            .requests()
            .iter()
            .any(|path| path == "/lookup/example.test/alpha.git@v1.0.0"),
        "the fetch function checked the sums against the database"
    );
}
