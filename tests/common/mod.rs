//! Shared harness for the integration tests: a sandbox with its own HOME (git `insteadOf`
//! pointing `https://example.test/` at local repositories), the real go command as client with a
//! private module cache, and the real `piraeus serve` binary.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Defines each case (a `fn(Deployment)`) as two tests: `local::case` and `serverless::case`.
macro_rules! on_both_deployments {
    ($($case:ident),* $(,)?) => {
        mod local {
            $(#[test] fn $case() { super::$case(crate::common::Deployment::Local) })*
        }
        mod serverless {
            $(#[test] fn $case() { super::$case(crate::common::Deployment::Serverless) })*
        }
    };
}

/// [`on_both_deployments`], and each case a third time as `chain::case`: `piraeus serve`
/// whose upstream is another Piraeus, spoken to natively.
macro_rules! on_every_upstream {
    ($($case:ident),* $(,)?) => {
        on_both_deployments!($($case),*);
        mod chain {
            $(#[test] fn $case() { super::$case(crate::common::Deployment::Chain) })*
        }
    };
}

/// What the fetcher's git may use in tests: https (the module paths) and file (where the test
/// HOME's insteadOf sends them).
pub const TEST_GIT_PROTOCOLS: &str = "https:file";

/// The repository's top folder (the tests belong to the `piraeus` package in crates/piraeus).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub struct Sandbox {
    pub root: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Self {
        let root = tempfile::Builder::new()
            .prefix("piraeus-test-")
            .tempdir()
            .expect("temp dir");
        let sandbox = Self { root };
        std::fs::create_dir_all(sandbox.home()).unwrap();
        std::fs::create_dir_all(sandbox.repos()).unwrap();
        let gitconfig = format!(
            "[url \"file://{}/\"]\n\tinsteadOf = https://example.test/\n[user]\n\tname = Piraeus Test\n\temail = test@example.test\n\
             [init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n[protocol \"file\"]\n\tallow = always\n",
            sandbox.repos().display()
        );
        std::fs::write(sandbox.home().join(".gitconfig"), gitconfig).unwrap();
        sandbox
    }

    pub fn path(&self) -> &Path {
        self.root.path()
    }

    pub fn home(&self) -> PathBuf {
        self.path().join("home")
    }

    pub fn repos(&self) -> PathBuf {
        self.path().join("repos")
    }

    pub fn data_dir(&self) -> PathBuf {
        self.path().join("data")
    }

    /// A new git repository served as `https://example.test/{name}` (name ends in `.git`).
    pub fn repo(&self, name: &str) -> Repo {
        let repo = Repo {
            dir: self.repos().join(name),
            home: self.home(),
        };
        std::fs::create_dir_all(&repo.dir).unwrap();
        repo.git(&["init", "-q"]);
        repo
    }

    /// The repository of module `example.test/{name}` with its go.mod and one Go file,
    /// `{package}.go` (the package named after the repository), ready to commit and tag.
    pub fn module(&self, name: &str) -> Repo {
        let package = package_name(name);
        let repo = self.repo(name);
        repo.write("go.mod", go_mod(&format!("example.test/{name}")))
            .write(&format!("{package}.go"), format!("package {package}\n"));
        repo
    }

    /// `example.test/alpha.git` tagged v1.0.0, then v1.1.0 (which adds `const Two`).
    pub fn alpha_at_two_versions(&self) {
        self.module_at_two_tags("alpha.git", ["v1.0.0", "v1.1.0"]);
    }

    /// The repository of module `example.test/{name}` with its first commit tagged `tags[0]`
    /// and a second one, which adds `const Two`, tagged `tags[1]`.
    pub fn module_at_two_tags(&self, name: &str, tags: [&str; 2]) -> Repo {
        let repo = self.module(name);
        repo.commit("one");
        repo.tag(tags[0]);
        let package = package_name(name);
        repo.write(
            &format!("{package}.go"),
            format!("package {package}\n\nconst Two = 2\n"),
        );
        repo.commit("two");
        repo.tag(tags[1]);
        repo
    }

    /// A go client with its own empty module cache.
    /// A client fetching directly, reading `https://HOST/` from the sandbox's repositories (as
    /// the HOME's insteadOf does for example.test), with HOST private: what a module on
    /// another host is, for comparing with what a proxy serves.
    pub fn direct_client_for(&self, name: &str, host: &str) -> GoClient {
        self.client(name, "direct")
            .with_env("GIT_CONFIG_COUNT", "1")
            .with_env(
                "GIT_CONFIG_KEY_0",
                format!("url.file://{}/.insteadOf", self.repos().display()),
            )
            .with_env("GIT_CONFIG_VALUE_0", format!("https://{host}/"))
            .with_env("GOPRIVATE", host)
    }

    pub fn client(&self, name: &str, goproxy: &str) -> GoClient {
        let dir = self.path().join("clients").join(name);
        std::fs::create_dir_all(dir.join("work")).unwrap();
        GoClient {
            dir,
            home: self.home(),
            goproxy: goproxy.to_string(),
            environment: Vec::new(),
        }
    }

    pub fn start_server(&self) -> Server {
        self.start_server_with(&[], &[])
    }

    /// Starts `piraeus serve --upstream direct` on a free loopback port over the sandbox's data
    /// directory, and waits until it answers.
    pub fn start_server_with(&self, arguments: &[&str], environment: &[(&str, &str)]) -> Server {
        self.start_server_without(arguments, environment, &[])
    }

    /// [`Self::start_server_with`], without the variables named in `unset` in the server's
    /// environment (`GIT_ALLOW_PROTOCOL`, to see the fetcher's own default).
    pub fn start_server_without(
        &self,
        arguments: &[&str],
        environment: &[(&str, &str)],
        unset: &[&str],
    ) -> Server {
        let port = free_port();
        let address = format!("127.0.0.1:{port}");
        let log_path = self.path().join(format!("server-{port}.log"));
        let log = std::fs::File::create(&log_path).unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_piraeus"));
        command.args(["serve", "--listen", &address]);
        // Defaults the caller's arguments may replace.
        if !arguments.contains(&"--upstream") {
            command.args(["--upstream", "direct"]);
        }
        if !arguments.contains(&"--data-dir") {
            command.arg("--data-dir").arg(self.data_dir());
        }
        command
            .args(arguments)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.home())
            .env("GOSUMDB", "off")
            // The fetcher allows only https unless told otherwise; the test repositories are
            // reached through file:// (the HOME's insteadOf).
            .env("GIT_ALLOW_PROTOCOL", TEST_GIT_PROTOCOLS)
            .env("PIRAEUS_LOG", "info")
            .envs(environment.iter().copied())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        for name in unset {
            command.env_remove(name);
        }
        let child = command.spawn().expect("piraeus starts");
        let server = Server {
            child,
            address,
            scheme: if arguments.contains(&"--tls-cert") {
                "https"
            } else {
                "http"
            },
            log_path,
            deployment: Deployment::Local,
            aws_endpoint: None,
            emulator_address: None,
            behind: None,
        };
        server.wait_until_healthy();
        server
    }

    /// Starts Piraeus the given way, fetching from the sandbox's repositories.
    pub fn start(&self, deployment: Deployment) -> Server {
        match deployment {
            Deployment::Local => self.start_server(),
            Deployment::Serverless => self.start_stack(&[]),
            Deployment::Chain => self.start_chain(),
        }
    }

    /// `piraeus serve` (over the sandbox's data directory) whose only upstream is a second
    /// `piraeus serve --upstream direct` (over its own). The first has no go command: every
    /// answer it gives comes from the native upstream client.
    pub fn start_chain(&self) -> Server {
        let upstream_data = self.path().join("upstream-data");
        let upstream =
            self.start_server_with(&["--data-dir", upstream_data.to_str().unwrap()], &[]);
        let no_go = self.path().join("no-go-here");
        let mut server = self.start_server_with(
            &[
                "--upstream",
                &upstream.url(),
                "--go",
                no_go.to_str().unwrap(),
            ],
            &[],
        );
        server.deployment = Deployment::Chain;
        server.behind = Some(Box::new(upstream));
        server
    }

    /// Runs `scripts/stack.sh` (what `make stack` runs) on free ports with the sandbox's HOME,
    /// and waits for the `GOPROXY=` line it prints when ready: its local edge, in front of the
    /// bucket and the functions as CloudFront is.
    pub fn start_stack(&self, environment: &[(&str, &str)]) -> Server {
        let (port, moto_port, edge_port) = (free_port(), free_port(), free_port());
        let log_path = self.path().join(format!("stack-{port}.log"));
        let log = std::fs::File::create(&log_path).unwrap();
        let real_home = std::env::var("HOME").unwrap_or_default();
        let inherited = |name: &str, default: String| std::env::var(name).unwrap_or(default);
        let mut command = Command::new(repo_root().join("scripts/stack.sh"));
        command
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            // cargo and rustup keep their homes when HOME points into the sandbox.
            .env(
                "CARGO_HOME",
                inherited("CARGO_HOME", format!("{real_home}/.cargo")),
            )
            .env(
                "RUSTUP_HOME",
                inherited("RUSTUP_HOME", format!("{real_home}/.rustup")),
            )
            .env("HOME", self.home())
            .env("GOSUMDB", "off")
            .env("GIT_ALLOW_PROTOCOL", TEST_GIT_PROTOCOLS)
            .env("PIRAEUS_UPSTREAM", "direct")
            .env("PIRAEUS_LOG", "info")
            .env("STACK_PORT", port.to_string())
            .env("STACK_MOTO_PORT", moto_port.to_string())
            .env("STACK_EDGE_PORT", edge_port.to_string())
            .env("STACK_CONCURRENCY", "4")
            .env("PIRAEUS_BIN", env!("CARGO_BIN_EXE_piraeus"))
            .env("TMPDIR", self.path());
        for name in [
            "RUSTUP_TOOLCHAIN",
            "PIRAEUS_VENV",
            "PIRAEUS_MOTO_SERVER",
            "PIRAEUS_CARGO_LAMBDA",
        ] {
            if let Some(value) = std::env::var_os(name) {
                command.env(name, value);
            }
        }
        command
            .envs(environment.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log);
        let mut child = command.spawn().expect("the stack script starts");
        let stdout = child.stdout.take().unwrap();
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                let _ = sender.send(line);
            }
        });
        let mut server = Server {
            child,
            address: format!("127.0.0.1:{edge_port}"),
            scheme: "http",
            log_path,
            deployment: Deployment::Serverless,
            aws_endpoint: Some(format!("http://127.0.0.1:{moto_port}")),
            emulator_address: Some(format!("127.0.0.1:{port}")),
            behind: None,
        };
        let ready = receiver
            .recv_timeout(Duration::from_secs(300))
            .unwrap_or_default();
        if ready != format!("GOPROXY={}", server.url()) {
            server.terminate();
            panic!(
                "the stack did not start ({ready:?}); log:\n{}",
                server.log()
            );
        }
        server
    }

    /// A `go` wrapper for the server that appends each invocation's arguments to a file, so a
    /// test can count how often the toolchain ran.
    pub fn counting_go(&self) -> (PathBuf, PathBuf) {
        let counter = self.path().join("go-invocations.log");
        let shim = self.script(
            "counting-go",
            &format!(
                "echo \"$*\" >> '{}'\nexec '{}' \"$@\"\n",
                counter.display(),
                which("go").display()
            ),
        );
        (shim, counter)
    }

    /// An executable `sh` script named `name` in the sandbox, running `body`.
    pub fn script(&self, name: &str, body: &str) -> PathBuf {
        let path = self.path().join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }
}

/// A go.mod declaring `module`.
pub fn go_mod(module: &str) -> String {
    format!("module {module}\n\ngo 1.19\n")
}

pub fn invocations(counter: &Path, containing: &str) -> usize {
    std::fs::read_to_string(counter)
        .unwrap_or_default()
        .lines()
        .filter(|line| line.contains(containing))
        .count()
}

pub fn which(program: &str) -> PathBuf {
    let output = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {program}"))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{program} must be installed (make test installs it)"
    );
    PathBuf::from(String::from_utf8(output.stdout).unwrap().trim())
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub struct Repo {
    pub dir: PathBuf,
    home: PathBuf,
}

impl Repo {
    pub fn git(&self, arguments: &[&str]) -> String {
        let output = Command::new("git")
            .args(arguments)
            .current_dir(&self.dir)
            .env("HOME", &self.home)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .output()
            .expect("git runs");
        assert!(
            output.status.success(),
            "git {arguments:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap().trim().to_string()
    }

    pub fn write(&self, path: &str, contents: impl AsRef<[u8]>) -> &Self {
        let file = self.dir.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, contents).unwrap();
        self
    }

    pub fn symlink(&self, target: &str, link: &str) -> &Self {
        std::os::unix::fs::symlink(target, self.dir.join(link)).unwrap();
        self
    }

    /// Commits everything and returns the commit hash.
    pub fn commit(&self, message: &str) -> String {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "-m", message]);
        self.git(&["rev-parse", "HEAD"])
    }

    pub fn tag(&self, tag: &str) -> &Self {
        self.git(&["tag", tag]);
        self
    }

    pub fn delete(self) {
        std::fs::remove_dir_all(&self.dir).unwrap();
    }
}

pub struct GoClient {
    dir: PathBuf,
    home: PathBuf,
    pub goproxy: String,
    /// Set on top of the client's own environment (NETRC, SSL_CERT_FILE, ...).
    environment: Vec<(String, String)>,
}

/// One object of `go mod download -json` output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Downloaded {
    pub path: String,
    pub version: String,
    pub sum: String,
    pub go_mod_sum: String,
    pub error: String,
}

impl GoClient {
    pub fn work_dir(&self) -> PathBuf {
        self.dir.join("work")
    }

    pub fn with_env(mut self, name: &str, value: impl AsRef<std::ffi::OsStr>) -> Self {
        let value = value.as_ref().to_string_lossy().into_owned();
        self.environment.push((name.to_string(), value));
        self
    }

    pub fn command(&self, arguments: &[&str]) -> Command {
        let mut command = Command::new("go");
        command
            .args(arguments)
            .current_dir(self.work_dir())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &self.home)
            .env("GOPATH", self.dir.join("gopath"))
            .env("GOMODCACHE", self.dir.join("gopath/pkg/mod"))
            .env("GOCACHE", self.dir.join("gocache"))
            .env("GOPROXY", &self.goproxy)
            .env("GOSUMDB", "off")
            .env("GOFLAGS", "-modcacherw")
            .env("GOENV", "off")
            .env("GOTOOLCHAIN", "local")
            .env("GO111MODULE", "on")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .envs(self.environment.iter().map(|(k, v)| (k, v)));
        command
    }

    pub fn run(&self, arguments: &[&str]) -> Output {
        self.command(arguments).output().expect("go runs")
    }

    /// Runs and requires success; returns stdout.
    pub fn ok(&self, arguments: &[&str]) -> String {
        let output = self.run(arguments);
        assert!(
            output.status.success(),
            "go {arguments:?} with GOPROXY={} failed:\n{}",
            self.goproxy,
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    }

    /// `go mod download -json` of each target, in a fresh cache each time.
    pub fn download(&self, targets: &[&str]) -> Vec<Downloaded> {
        let mut arguments = vec!["mod", "download", "-json"];
        arguments.extend_from_slice(targets);
        let output = self.run(&arguments);
        let mut results: Vec<Downloaded> = serde_json::Deserializer::from_slice(&output.stdout)
            .into_iter::<serde_json::Value>()
            .map(|value| {
                let value = value.expect("go prints JSON objects");
                let field = |name: &str| {
                    value
                        .get(name)
                        .and_then(|v| v.as_str())
                        .unwrap_or_default()
                        .to_string()
                };
                Downloaded {
                    path: field("Path"),
                    version: field("Version"),
                    sum: field("Sum"),
                    go_mod_sum: field("GoModSum"),
                    error: field("Error"),
                }
            })
            .collect();
        results.sort_by(|a, b| (&a.path, &a.version).cmp(&(&b.path, &b.version)));
        results
    }

    /// `go list -m -versions` (and with `-retracted`) output.
    pub fn versions(&self, module: &str, retracted: bool) -> String {
        let mut arguments = vec!["list", "-m", "-versions"];
        if retracted {
            arguments.push("-retracted");
        }
        arguments.push(module);
        self.ok(&arguments).trim().to_string()
    }
}

/// Downloads `targets` directly from the repositories and through `proxy`, each in a fresh
/// cache, and requires the same versions and sums (and failures in the same places).
pub fn assert_same_as_direct(
    sandbox: &Sandbox,
    proxy: &Server,
    name: &str,
    targets: &[&str],
) -> Vec<Downloaded> {
    let direct = sandbox
        .client(&format!("{name}-direct"), "direct")
        .download(targets);
    let proxied = sandbox
        .client(&format!("{name}-proxied"), &proxy.url())
        .download(targets);
    assert_eq!(
        direct.len(),
        proxied.len(),
        "same number of results for {targets:?}"
    );
    for (direct, proxied) in direct.iter().zip(&proxied) {
        assert_eq!(
            (
                &direct.path,
                &direct.version,
                &direct.sum,
                &direct.go_mod_sum
            ),
            (
                &proxied.path,
                &proxied.version,
                &proxied.sum,
                &proxied.go_mod_sum
            ),
            "direct and proxied downloads differ for {targets:?}\ndirect error: {}\nproxied error: {}",
            direct.error,
            proxied.error
        );
        assert_eq!(
            direct.error.is_empty(),
            proxied.error.is_empty(),
            "direct: {:?}\nproxied: {:?}",
            direct.error,
            proxied.error
        );
    }
    proxied
}

pub struct Server {
    child: Child,
    pub address: String,
    /// `https` when started with `--tls-cert`.
    pub scheme: &'static str,
    /// Where the GOPROXY routes start under `address`.
    pub log_path: PathBuf,
    pub deployment: Deployment,
    /// The stack's emulated AWS endpoint (moto), for tests that look at the bucket.
    pub aws_endpoint: Option<String>,
    /// The stack's Lambda emulator (function URLs and the Invoke API), behind its edge.
    pub emulator_address: Option<String>,
    /// The upstream Piraeus of a [`Deployment::Chain`], kept running while this one is.
    behind: Option<Box<Server>>,
}

/// Which way Piraeus runs in a test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deployment {
    /// `piraeus serve` over a data directory.
    Local,
    /// `scripts/stack.sh` (`make stack`): the functions under `cargo lambda watch`, moto.
    Serverless,
    /// `piraeus serve` in front of another: the native upstream client ([`Sandbox::start_chain`]).
    Chain,
}

impl Server {
    pub fn url(&self) -> String {
        format!("{}://{}", self.scheme, self.address)
    }

    /// The stack's Lambda emulator; only the serverless deployment has one.
    pub fn emulator(&self) -> &str {
        self.emulator_address
            .as_deref()
            .expect("only the serverless stack runs the Lambda emulator")
    }

    /// Where the prefetch API is: its own function URL on the stack, as on AWS (never through
    /// CloudFront).
    pub fn prefetch_address(&self) -> &str {
        match self.deployment {
            Deployment::Local | Deployment::Chain => &self.address,
            Deployment::Serverless => self.emulator(),
        }
    }

    /// GETs a GOPROXY path from the stack's serve function itself, bypassing the edge.
    pub fn get_from_serve_function(&self, raw_path: &str) -> HttpResponse {
        http_get(
            self.emulator(),
            &format!("/lambda-url/piraeus-serve{raw_path}"),
        )
        .expect("request completes")
    }

    /// The prefetch API's path at `prefetch_address`.
    pub fn prefetch_path(&self) -> &'static str {
        match self.deployment {
            Deployment::Local | Deployment::Chain => "/prefetch",
            Deployment::Serverless => "/lambda-url/piraeus-prefetch/prefetch",
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The server's log so far. A runtime worker writes its request lines when it runs out of
    /// work, moments after the response went out; this waits until the log has stopped growing.
    pub fn log(&self) -> String {
        let read = || std::fs::read_to_string(&self.log_path).unwrap_or_default();
        let deadline = Instant::now() + Duration::from_secs(2);
        let mut log = read();
        loop {
            std::thread::sleep(Duration::from_millis(20));
            let now = read();
            if now.len() == log.len() || Instant::now() >= deadline {
                return now;
            }
            log = now;
        }
    }

    fn wait_until_healthy(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            // Over https (which this client does not speak), listening is enough: the server
            // binds its port only when it is ready to serve.
            let healthy = if self.scheme == "https" {
                TcpStream::connect(&self.address).is_ok()
            } else {
                http_get(&self.address, "/healthz").is_ok_and(|response| response.status == 200)
            };
            if healthy {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("piraeus did not become healthy; log:\n{}", self.log());
    }

    /// GETs a GOPROXY path (given as from the proxy's root).
    pub fn get(&self, raw_path: &str) -> HttpResponse {
        http_get(&self.address, raw_path).expect("request completes")
    }

    pub fn stop(mut self) {
        self.terminate();
    }

    /// Waits up to `limit` for the process to exit by itself; whether it did.
    pub fn wait_for_exit(&mut self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if self.child.try_wait().is_ok_and(|status| status.is_some()) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    fn terminate(&mut self) {
        if self.deployment == Deployment::Serverless {
            // The stack script stops what it started on SIGTERM; SIGKILL would orphan it.
            unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
            let deadline = Instant::now() + Duration::from_secs(15);
            while Instant::now() < deadline {
                if self.child.try_wait().is_ok_and(|status| status.is_some()) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.terminate();
    }
}

#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Whether `key` is stored: a file in the data directory, or an object in the stack's bucket.
pub fn is_stored(sandbox: &Sandbox, server: &Server, key: &str) -> bool {
    match &server.aws_endpoint {
        None => sandbox.data_dir().join(key).is_file(),
        Some(endpoint) => {
            use piraeus_core::store::BlobStore;
            let runtime = tokio::runtime::Runtime::new().unwrap();
            runtime.block_on(async {
                let config = emulated_sdk_config(endpoint).await;
                let store = piraeus_aws::s3::S3Store::new(
                    piraeus_aws::sdk::s3_client(&config),
                    STACK_BUCKET,
                    "",
                );
                store.head(key).await.unwrap().is_some()
            })
        }
    }
}

/// SDK configuration for an emulator at `endpoint`, with static test credentials.
pub async fn emulated_sdk_config(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            "test", "test", None, None, "static",
        ))
        .load()
        .await
}

/// The bucket and table `scripts/stack.sh` provisions.
pub const STACK_BUCKET: &str = "piraeus-local";

/// A GET with the path sent byte for byte as given (no client-side normalisation), so tests can
/// send exactly what an attacker would.
pub fn http_get(address: &str, raw_path: &str) -> std::io::Result<HttpResponse> {
    http_request(address, "GET", raw_path)
}

pub fn http_request(address: &str, method: &str, raw_path: &str) -> std::io::Result<HttpResponse> {
    http_exchange(address, method, raw_path, None, None)
}

/// [`http_request`] with one more request header, such as `("Authorization", "Basic …")`;
/// `None` sends none.
pub fn http_request_with_header(
    address: &str,
    method: &str,
    raw_path: &str,
    header: Option<(&str, &str)>,
) -> std::io::Result<HttpResponse> {
    http_exchange(address, method, raw_path, header, None)
}

pub fn http_post(address: &str, raw_path: &str, body: &[u8]) -> std::io::Result<HttpResponse> {
    http_exchange(address, "POST", raw_path, None, Some(body))
}

/// One request on a fresh connection; the response's body is dechunked when it came
/// `Transfer-Encoding: chunked` (and left as received if its chunks do not parse).
fn http_exchange(
    address: &str,
    method: &str,
    raw_path: &str,
    header: Option<(&str, &str)>,
    body: Option<&[u8]>,
) -> std::io::Result<HttpResponse> {
    let mut stream = TcpStream::connect(address)?;
    stream.set_read_timeout(Some(Duration::from_secs(180)))?;
    write!(
        stream,
        "{method} {raw_path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n"
    )?;
    if let Some((name, value)) = header {
        write!(stream, "{name}: {value}\r\n")?;
    }
    if let Some(body) = body {
        write!(
            stream,
            "Content-Type: text/plain\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )?;
        stream.write_all(body)?;
    } else {
        write!(stream, "\r\n")?;
    }
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let split = raw
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .unwrap_or(raw.len());
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut body = raw.get(split + 4..).unwrap_or_default().to_vec();
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|line| {
            line.split_once(':')
                .map(|(key, value)| (key.trim().to_string(), value.trim().to_string()))
        })
        .collect::<Vec<_>>();
    let chunked = headers.iter().any(|(key, value)| {
        key.eq_ignore_ascii_case("transfer-encoding") && value.eq_ignore_ascii_case("chunked")
    });
    if chunked && let Some(dechunked) = dechunk(&body) {
        body = dechunked;
    }
    Ok(HttpResponse {
        status,
        headers,
        body,
    })
}

/// A chunked body's content, or `None` where its chunks do not parse (a cut-off response).
fn dechunk(mut raw: &[u8]) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let end = raw.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&raw[..end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        raw = &raw[end + 2..];
        if size == 0 {
            return Some(body);
        }
        body.extend_from_slice(raw.get(..size)?);
        raw = raw.get(size + 2..)?;
    }
}

/// A program of the project virtualenv (`make deps`): `$PIRAEUS_VENV`, else `.venv`.
pub fn venv_tool(name: &str) -> PathBuf {
    let venv = std::env::var_os("PIRAEUS_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".venv"));
    let tool = venv.join("bin").join(name);
    assert!(
        tool.is_file(),
        "{} is missing: run `make deps` (or point PIRAEUS_VENV at a virtualenv that has it)",
        tool.display()
    );
    tool
}

/// The port a test server child announces as its first line, `port N`, on its piped stdout.
pub fn announced_port(child: &mut Child, what: &str) -> u16 {
    use std::io::BufRead;
    let mut first = String::new();
    std::io::BufReader::new(child.stdout.take().expect("stdout is piped"))
        .read_line(&mut first)
        .unwrap();
    first
        .trim()
        .strip_prefix("port ")
        .and_then(|port| port.parse().ok())
        .unwrap_or_else(|| panic!("{what} printed {first:?}"))
}

/// An `Authorization` value for HTTP Basic.
pub fn basic(user: &str, password: &str) -> String {
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {encoded}")
}

/// `piraeus token new NAME --auth-file TOKENS`: the new secret, the last line of its stdout.
pub fn new_token(tokens: &Path, name: &str) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_piraeus"))
        .args(["token", "new", name, "--auth-file"])
        .arg(tokens)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    stdout.lines().last().unwrap().to_string()
}

/// Deterministic bytes that do not compress, for zips of a chosen size.
pub fn incompressible_bytes(length: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    (0..length)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

/// Every file under a directory with its size, for "nothing changed" checks. A data
/// directory's scratch space (`.piraeus/work`) is left out: a finished fetch's scratch GOPATH
/// is removed in the background, so its files come and go whatever a test does.
pub fn snapshot(dir: &Path) -> Vec<(PathBuf, u64)> {
    let mut entries = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        let Ok(read) = std::fs::read_dir(&current) else {
            continue;
        };
        for entry in read.flatten() {
            let path = entry.path();
            if path.ends_with(".piraeus/work") {
                continue;
            }
            let metadata = entry.metadata().unwrap();
            if metadata.is_dir() {
                pending.push(path);
            } else {
                entries.push((path, metadata.len()));
            }
        }
    }
    entries.sort();
    entries
}

/// `moto_server` emulating S3 and DynamoDB on a loopback port (installed by `make test` into
/// the project's virtualenv), one request at a time (`scripts/moto-server`).
pub struct Moto {
    child: Child,
    pub endpoint: String,
}

impl Moto {
    pub fn start() -> Self {
        let program = std::env::var_os("PIRAEUS_MOTO_SERVER")
            .map(PathBuf::from)
            .unwrap_or_else(|| repo_root().join("scripts/moto-server"));
        let port = free_port();
        let child = Command::new(program)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server starts");
        let moto = Self {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if http_get(&format!("127.0.0.1:{port}"), "/")
                .is_ok_and(|response| response.status != 0)
            {
                return moto;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("moto_server did not start on port {port}");
    }

    /// The standard AWS environment pointing at this emulator, for child processes.
    pub fn environment(&self) -> Vec<(&str, &str)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint.as_str()),
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ]
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The Go package name `Sandbox::module` gives repository `name`.
fn package_name(name: &str) -> String {
    name.trim_end_matches(".git")
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_lowercase()
}
