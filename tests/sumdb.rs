//! The checksum-database proxy (`/sumdb/<name>/...`) with the real go command against a real,
//! signed checksum database: `tests/sumdb-server`, built here in GOPATH mode against Debian's
//! golang-golang-x-mod-dev (`make test` installs it), holding the go.sum lines a test gives it
//! and logging every request it gets. The client's `GOSUMDB` is the database's verifier key
//! alone, so the only way to it is through the proxy (`https://<name>` does not resolve).
//! Each case runs against `piraeus serve` (`local`) and the serverless stack (`serverless`).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use piraeus_core::golang::checksumdb::{
    Checker, DatabaseSource, SumDbSettings, TreeHeadStore, Verdict,
};

use crate::common::{Deployment, Downloaded, Sandbox, Server, go_mod, is_stored, snapshot};

/// The test database's name: its verifier key's name, and the `<name>` in `/sumdb/<name>/`.
pub(crate) const NAME: &str = "sumdb.test";
/// Where Debian's golang-golang-x-mod-dev puts golang.org/x/mod: a GOPATH.
const X_MOD_GOPATH: &str = "/usr/share/gocode";
/// Records added after the test's own, so the log has a full tile (256) and partial ones.
const PADDING: usize = 300;

/// The `tests/sumdb-server` program, built into the sandbox (the go build cache makes this a
/// link step after the first time).
fn build_sumdb_server(sandbox: &Sandbox) -> PathBuf {
    assert!(
        Path::new(X_MOD_GOPATH)
            .join("src/golang.org/x/mod/sumdb")
            .is_dir(),
        "golang.org/x/mod must be in {X_MOD_GOPATH} (make test installs golang-golang-x-mod-dev)"
    );
    let binary = sandbox.path().join("sumdb-server");
    let output = Command::new("go")
        .args(["build", "-o"])
        .arg(&binary)
        .arg("./tests/sumdb-server")
        .current_dir(crate::common::repo_root())
        .env("GO111MODULE", "off")
        .env("GOPATH", X_MOD_GOPATH)
        .env("GOFLAGS", "")
        .env("GOTOOLCHAIN", "local")
        .output()
        .expect("go runs");
    assert!(
        output.status.success(),
        "building tests/sumdb-server: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    binary
}

/// A running test database.
pub(crate) struct TestDatabase {
    child: Child,
    /// The verifier key: what the client's GOSUMDB holds.
    pub(crate) key: String,
    pub(crate) url: String,
    log: PathBuf,
}

impl TestDatabase {
    /// Serves `go_sum` (go.sum lines: their records first, in order) plus [`PADDING`] records.
    pub(crate) fn start(sandbox: &Sandbox, go_sum: &str) -> Self {
        let binary = build_sumdb_server(sandbox);
        let go_sum_file = sandbox.path().join("sumdb.go.sum");
        std::fs::write(&go_sum_file, go_sum).unwrap();
        let log = sandbox.path().join("sumdb-requests.log");
        let mut child = Command::new(binary)
            .args(["-name", NAME, "-pad", &PADDING.to_string(), "-gosum"])
            .arg(&go_sum_file)
            .arg("-log")
            .arg(&log)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the test database starts");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut line = |prefix: &str| {
            let line = lines.next().and_then(Result::ok).unwrap_or_default();
            line.strip_prefix(prefix)
                .unwrap_or_else(|| panic!("the test database printed {line:?}, not {prefix}..."))
                .to_string()
        };
        let key = line("KEY=");
        let url = line("URL=");
        Self {
            child,
            key,
            url,
            log,
        }
    }

    /// Every path the database was asked for, in order.
    pub(crate) fn requests(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(String::from)
            .collect()
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The go.sum lines of a download.
pub(crate) fn go_sum_lines(download: &Downloaded) -> String {
    format!(
        "{path} {version} {sum}\n{path} {version}/go.mod {mod_sum}\n",
        path = download.path,
        version = download.version,
        sum = download.sum,
        mod_sum = download.go_mod_sum
    )
}

/// Modules whose sums the database holds (`good`, one with an upper-case path), and one whose
/// sums it has wrong (`tampered`). `example.test/policy-private.git` exists too, for the policy
/// rule that marks it private; the database knows nothing of it.
struct Modules {
    good: Vec<Downloaded>,
    tampered: Downloaded,
}

fn modules(sandbox: &Sandbox) -> Modules {
    for name in [
        "sumok.git",
        "CaseMod.git",
        "sumbad.git",
        "policy-private.git",
    ] {
        let repo = sandbox.repo(name);
        repo.write("go.mod", go_mod(&format!("example.test/{name}")))
            .write("m.go", format!("package m\n\nconst Name = {name:?}\n"));
        repo.commit("first");
        repo.tag("v1.0.0");
    }
    // The sums as the go command computes them from the repositories.
    let direct = sandbox.client("sums-direct", "direct").download(&[
        "example.test/sumok.git@v1.0.0",
        "example.test/CaseMod.git@v1.0.0",
        "example.test/sumbad.git@v1.0.0",
    ]);
    assert!(
        direct.iter().all(|d| d.error.is_empty()),
        "direct downloads: {direct:?}"
    );
    let tampered = direct
        .iter()
        .find(|d| d.path == "example.test/sumbad.git")
        .unwrap()
        .clone();
    let good = direct
        .into_iter()
        .filter(|d| d.path != "example.test/sumbad.git")
        .collect();
    Modules { good, tampered }
}

/// The database's lines: the good modules' own, and the tampered one's with another module's
/// hashes (as if upstream had served different bytes).
fn database_go_sum(modules: &Modules) -> String {
    let mut lines: String = modules.good.iter().map(go_sum_lines).collect();
    let lie = Downloaded {
        sum: modules.good[0].sum.clone(),
        go_mod_sum: modules.good[0].go_mod_sum.clone(),
        ..modules.tampered.clone()
    };
    lines.push_str(&go_sum_lines(&lie));
    lines
}

const POLICY: &str = r#"
[[rule]]
pattern = "example.test/policy-private.git"
action = "fetch"
private = true
"#;

/// Piraeus proxying the test database, with answers reused for 1 s only (so a request 2 s
/// later asks the database again), GOPRIVATE set in its environment and a policy rule marking
/// a module private.
fn start_piraeus(sandbox: &Sandbox, deployment: Deployment, database: &TestDatabase) -> Server {
    let policy = sandbox.path().join("policy.toml");
    std::fs::write(&policy, POLICY).unwrap();
    let sumdb = format!("{NAME}={}", database.url);
    let policy = policy.to_str().unwrap();
    let environment = [("GOPRIVATE", "corp.example.test")];
    match deployment {
        Deployment::Local | Deployment::Chain => sandbox.start_server_with(
            &["--sumdb", &sumdb, "--answer-ttl", "1s", "--policy", policy],
            &environment,
        ),
        Deployment::Serverless => {
            let mut environment = environment.to_vec();
            environment.extend([
                ("PIRAEUS_SUMDB", sumdb.as_str()),
                ("PIRAEUS_ANSWER_TTL", "1s"),
                ("PIRAEUS_POLICY", policy),
            ]);
            sandbox.start_stack(&environment)
        }
    }
}

/// A go client with a fresh module cache that verifies against the test database through
/// `server` only.
fn verifying_client(
    sandbox: &Sandbox,
    name: &str,
    server: &Server,
    key: &str,
) -> crate::common::GoClient {
    sandbox.client(name, &server.url()).with_env("GOSUMDB", key)
}

fn download_verified(client: &crate::common::GoClient, modules: &[Downloaded]) {
    let targets: Vec<String> = modules
        .iter()
        .map(|m| format!("{}@{}", m.path, m.version))
        .collect();
    let targets: Vec<&str> = targets.iter().map(String::as_str).collect();
    let downloaded = client.download(&targets);
    assert_eq!(downloaded.len(), modules.len(), "{downloaded:?}");
    for (got, want) in downloaded.iter().zip(modules) {
        assert!(got.error.is_empty(), "{}: {}", got.path, got.error);
        assert_eq!(
            (&got.path, &got.sum, &got.go_mod_sum),
            (&want.path, &want.sum, &want.go_mod_sum)
        );
    }
}

fn checksum_database_through_the_proxy(deployment: Deployment) {
    let sandbox = Sandbox::new();
    let modules = modules(&sandbox);
    let mut database = TestDatabase::start(&sandbox, &database_go_sum(&modules));
    let server = start_piraeus(&sandbox, deployment, &database);
    let sumdb = |rest: &str| format!("/sumdb/{NAME}/{rest}");

    // The go command's first question; 404 for a database not proxied, so it goes direct.
    let supported = server.get(&sumdb("supported"));
    assert_eq!(supported.status, 200, "{}", supported.text());
    assert!(supported.body.is_empty());
    assert_eq!(
        server.get("/sumdb/sum.golang.org/supported").status,
        404,
        "only the configured database is proxied"
    );

    // 1. Downloads verify through the proxy, an upper-case path (`!`-escaped lookup) too.
    let client = verifying_client(&sandbox, "verified", &server, &database.key);
    download_verified(&client, &modules.good);
    let asked = database.requests();
    for lookup in [
        "/lookup/example.test/sumok.git@v1.0.0",
        "/lookup/example.test/!case!mod.git@v1.0.0",
    ] {
        assert!(
            asked.iter().any(|path| path == lookup),
            "the database was asked {lookup}: {asked:?}"
        );
    }
    let full_tile = "tile/8/0/000";
    assert!(
        asked.iter().any(|path| path == &format!("/{full_tile}")),
        "the client needed the full tile of the first 256 records: {asked:?}"
    );
    assert!(
        is_stored(&sandbox, &server, &format!("sumdb/{NAME}/{full_tile}")),
        "full tiles are stored"
    );
    let tile = server.get(&sumdb(full_tile));
    assert_eq!(tile.status, 200);
    assert_eq!(tile.body.len(), 256 * 32);
    assert_eq!(
        tile.header("cache-control"),
        Some("public, max-age=31536000, immutable")
    );
    let lookup = server.get(&sumdb("lookup/example.test/sumok.git@v1.0.0"));
    assert_eq!(lookup.status, 200, "{}", lookup.text());
    let sumok = modules
        .good
        .iter()
        .find(|m| m.path == "example.test/sumok.git")
        .unwrap();
    assert!(lookup.text().contains(&sumok.sum), "{}", lookup.text());
    assert_eq!(lookup.header("cache-control"), Some("public, max-age=1"));
    if deployment == Deployment::Serverless {
        // As CloudFront would: a stored full tile comes from the bucket, with the headers it
        // was stored with. (Escaped digits: a URI the edge has not cached, the same object.)
        let from_bucket = server.get(&sumdb("tile/8/0/%30%30%30"));
        assert_eq!(from_bucket.status, 200);
        assert_eq!(from_bucket.header("x-piraeus-edge"), Some("bucket"));
        assert_eq!(
            from_bucket.header("cache-control"),
            Some("public, max-age=31536000, immutable")
        );
        assert_eq!(from_bucket.body, tile.body);
    }
    // `go get` in a module writes the verified lines to its go.sum.
    let getter = verifying_client(&sandbox, "getter", &server, &database.key);
    std::fs::write(getter.work_dir().join("go.mod"), go_mod("example.test/app")).unwrap();
    getter.ok(&["get", "example.test/sumok.git@v1.0.0"]);
    let go_sum = std::fs::read_to_string(getter.work_dir().join("go.sum")).unwrap();
    assert!(go_sum.contains(&sumok.sum), "{go_sum}");
    let tile_requests = |requests: &[String]| {
        requests
            .iter()
            .filter(|path| path.as_str() == format!("/{full_tile}"))
            .count()
    };
    assert_eq!(
        tile_requests(&database.requests()),
        1,
        "a stored full tile is never asked for again"
    );

    // What the database does not know is its 404, explanation included, address not.
    let unknown = server.get(&sumdb("lookup/example.test/never.git@v1.0.0"));
    assert_eq!(unknown.status, 404, "{}", unknown.text());
    assert!(
        unknown.text().contains("checksum database sumdb.test")
            && unknown.text().contains("does not exist")
            && !unknown.text().contains("127.0.0.1"),
        "{}",
        unknown.text()
    );

    // 2. A module whose sums in the database differ from what the proxy serves is refused by
    // the client, exactly as when it asks the database itself.
    let target = format!("{}@{}", modules.tampered.path, modules.tampered.version);
    let through_proxy = verifying_client(&sandbox, "tampered", &server, &database.key)
        .run(&["mod", "download", &target]);
    let direct = sandbox
        .client("tampered-direct", "direct")
        .with_env("GOSUMDB", format!("{} {}", database.key, database.url))
        .run(&["mod", "download", &target]);
    for (how, output) in [("through the proxy", through_proxy), ("directly", direct)] {
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            !output.status.success() && stderr.contains("SECURITY ERROR"),
            "{how}: {stderr}"
        );
    }

    if deployment == Deployment::Local {
        // Clients asking for one changing answer at once: one question reaches the database.
        std::thread::sleep(std::time::Duration::from_millis(1100)); // past the 1 s answer TTL
        let latest_asked =
            |requests: Vec<String>| requests.iter().filter(|p| *p == "/latest").count();
        let before = latest_asked(database.requests());
        let statuses: Vec<u16> = std::thread::scope(|scope| {
            let askers: Vec<_> = (0..16)
                .map(|_| scope.spawn(|| server.get(&sumdb("latest")).status))
                .collect();
            askers
                .into_iter()
                .map(|asker| asker.join().unwrap())
                .collect()
        });
        assert!(statuses.iter().all(|status| *status == 200), "{statuses:?}");
        assert_eq!(
            latest_asked(database.requests()) - before,
            1,
            "16 concurrent askers of `latest` asked the database once"
        );
    }

    // 4. Private modules are never named to the database: the proxy's GOPRIVATE, a policy rule.
    let before = database.requests().len();
    for module in [
        "corp.example.test/private.git",
        "corp.example.test/team/lib",
        "example.test/policy-private.git",
    ] {
        let refused = server.get(&sumdb(&format!("lookup/{module}@v1.0.0")));
        assert_eq!(refused.status, 403, "{module}: {}", refused.text());
        assert!(refused.text().contains("GONOSUMDB="), "{}", refused.text());
    }
    // The go command shows the proxy's explanation.
    let client = verifying_client(&sandbox, "private", &server, &database.key);
    let output = client.run(&["mod", "download", "example.test/policy-private.git@v1.0.0"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success() && stderr.contains("403") && stderr.contains("GONOSUMDB="),
        "{stderr}"
    );

    // 5. Malformed paths: 400 or 404, and nothing asked or stored.
    let stored_before = match deployment {
        Deployment::Local | Deployment::Chain => snapshot(&sandbox.data_dir()),
        Deployment::Serverless => Vec::new(),
    };
    for (path, status) in [
        (
            "/sumdb/unknown.example/lookup/example.test/sumok.git@v1.0.0",
            404,
        ),
        ("/sumdb/unknown.example/latest", 404),
        ("/sumdb/sumdb.tes/supported", 404),
        (&sumdb("signed"), 404),
        (&sumdb("lookup/example.test/Upper.git@v1.0.0"), 400),
        (&sumdb("lookup/example.test/!!x@v1.0.0"), 400),
        (&sumdb("lookup/example.test/m@master"), 400),
        (&sumdb("lookup/example.test/m@v2.0.0"), 400),
        (&sumdb("lookup/example.test/m@v1.0.0%00"), 400),
        (&sumdb("lookup/..%2f..%2fetc/passwd@v1.0.0"), 400),
        (&sumdb("lookup/example.test/m"), 400),
        (&sumdb("tile/8/0/0001"), 400),
        (&sumdb("tile/8/0/x000/001"), 400),
        (&sumdb("tile/31/0/000"), 400),
        (&sumdb("tile/8/0/000.p/256"), 400),
        (&sumdb("tile/8/0/000.p/0"), 400),
        (&sumdb("tile/8/8/001"), 400),
        (&sumdb("tile/8/-1/000"), 400),
        (&sumdb("tile/8/0/x001/%2e%2e"), 400),
    ] {
        let response = server.get(path);
        assert_eq!(response.status, status, "{path}: {}", response.text());
        assert_eq!(response.header("cache-control"), Some("no-store"), "{path}");
    }
    let after: Vec<String> = database.requests().split_off(before);
    assert!(
        after.is_empty(),
        "refused and malformed requests reached the database: {after:?}"
    );
    if deployment == Deployment::Local {
        assert_eq!(snapshot(&sandbox.data_dir()), stored_before);
    }

    // 3. With the database down, a fresh client still verifies what the proxy has answered
    // before: the last lookups and partial tiles, kept past their TTL, and the stored tile.
    database.stop();
    std::thread::sleep(Duration::from_secs(2));
    let stale = server.get(&sumdb("lookup/example.test/sumok.git@v1.0.0"));
    assert_eq!(stale.status, 200, "{}", stale.text());
    assert_eq!(stale.header("x-piraeus-sumdb"), Some("stale"));
    assert_eq!(stale.header("cache-control"), Some("no-store"));
    let client = verifying_client(&sandbox, "offline", &server, &database.key);
    download_verified(&client, &modules.good);
    let unknown = server.get(&sumdb("lookup/example.test/never.git@v1.0.0"));
    assert_eq!(
        unknown.status,
        502,
        "nothing to fall back on: {}",
        unknown.text()
    );
    assert!(
        !unknown.text().contains("127.0.0.1"),
        "the database's address stays hidden: {}",
        unknown.text()
    );

    // And after a restart, from what the index kept.
    if deployment == Deployment::Local {
        server.stop();
        let server = start_piraeus(&sandbox, deployment, &database);
        let client = verifying_client(&sandbox, "offline-restarted", &server, &database.key);
        download_verified(&client, &modules.good);
    }
}

on_both_deployments!(checksum_database_through_the_proxy);

/// The database through Piraeus's `/sumdb` cache, as the native upstream reaches it.
struct Proxied<'a> {
    server: &'a Server,
}

#[async_trait::async_trait]
impl DatabaseSource for Proxied<'_> {
    async fn read(&self, path: &str) -> piraeus_core::error::Result<bytes::Bytes> {
        let response = self.server.get(&format!("/sumdb/{NAME}/{path}"));
        match response.status {
            200 => Ok(response.body.into()),
            404 | 410 => Err(piraeus_core::error::Error::not_found(path.to_owned())),
            status => Err(piraeus_core::error::Error::upstream(format!(
                "{path}: {status}"
            ))),
        }
    }
}

/// The kept tree head, in memory.
#[derive(Default)]
struct KeptHead(std::sync::Mutex<Option<String>>);

#[async_trait::async_trait]
impl TreeHeadStore for &KeptHead {
    async fn latest(&self, _database: &str) -> piraeus_core::error::Result<Option<String>> {
        Ok(self.0.lock().unwrap().clone())
    }

    async fn replace(
        &self,
        _database: &str,
        previous: Option<&str>,
        note: &str,
    ) -> piraeus_core::error::Result<bool> {
        let mut kept = self.0.lock().unwrap();
        if kept.as_deref() != previous {
            return Ok(false);
        }
        *kept = Some(note.to_owned());
        Ok(true)
    }
}

/// Piraeus's own verifier (`piraeus_core::golang::checksumdb`) against the real test database
/// through the `/sumdb` proxy: its lookups, tiles and signed heads as x/mod's server makes them.
#[test]
fn the_verifier_checks_sums_against_the_test_database() {
    const ZIP: &str = "h1:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
    const MOD: &str = "h1:AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=";
    let sandbox = Sandbox::new();
    let database = TestDatabase::start(
        &sandbox,
        &format!("example.test/Checked v1.0.0 {ZIP}\nexample.test/Checked v1.0.0/go.mod {MOD}\n"),
    );
    let server = start_piraeus(&sandbox, Deployment::Local, &database);
    let settings = SumDbSettings::parse(&database.key, "", "").unwrap();
    let kept = KeptHead::default();
    let checker = Checker::new(
        settings.database.unwrap(),
        Proxied { server: &server },
        &kept,
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async {
        let check = |zip, module| checker.check(module, "v1.0.0", zip, MOD);
        assert_eq!(
            check(ZIP, "example.test/Checked").await.unwrap(),
            Verdict::Match
        );
        assert_eq!(
            check(MOD, "example.test/Checked").await.unwrap(),
            Verdict::Mismatch {
                file: "zip",
                expected: ZIP.into(),
                got: MOD.into()
            }
        );
        assert_eq!(
            check(ZIP, "example.test/never").await.unwrap(),
            Verdict::NotInDatabase
        );
        // The module's record and the padding: a full tile and partial ones.
        assert_eq!(checker.latest().await.unwrap().n, 1 + PADDING as u64);
    });
    let kept = kept.0.lock().unwrap().clone().unwrap();
    assert!(
        kept.starts_with(&format!("go.sum database tree\n{}\n", 1 + PADDING)),
        "{kept}"
    );
    let asked = database.requests();
    assert!(
        asked
            .iter()
            .any(|path| path == "/lookup/example.test/!checked@v1.0.0"),
        "{asked:?}"
    );
    assert_eq!(
        asked
            .iter()
            .filter(|path| path.as_str() == "/tile/8/0/000")
            .count(),
        1,
        "a full tile is read once, then the proxy's: {asked:?}"
    );
}
