//! The Go toolchain as the fetcher: `go mod download -json` and `go list -m -json` in a private,
//! throw-away GOPATH with the configured upstream, so the go command's own rules (VCS access,
//! checksum database, GOPRIVATE, retractions, +incompatible) decide what a version is.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;
use tokio::process::Command;
use tokio::sync::{OnceCell, Semaphore, SemaphorePermit};

use super::git_access::GitSettings;
use super::guard::EgressGuard;
use super::{Download, Expected, Fetcher, GitAccess, ResolvedVersion, Resolver};
use crate::cleanup;
use crate::error::{Error, Result};
use crate::policy::Policy;
use crate::redact;
use crate::telemetry::metrics;

/// Variables passed from the server's environment to the go command, so private modules,
/// credentials and checksum-database settings work as they do for a developer. Not the HTTP
/// proxy variables: the egress guard is the child's proxy.
const PASSED_THROUGH: &[&str] = &[
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "NETRC",
    "SSH_AUTH_SOCK",
    "GOPRIVATE",
    "GONOPROXY",
    "GONOSUMDB",
    "GOSUMDB",
    "GOINSECURE",
    "GOVCS",
    "GOAUTH",
    "GOROOT",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "TMPDIR",
];

#[derive(Debug, Clone)]
pub struct GoToolchainConfig {
    /// The `go` binary: a name looked up on PATH, or a path.
    pub go_binary: PathBuf,
    /// `GOPROXY` for the child go command.
    pub upstream: String,
    /// Kills a go command running longer than this.
    pub timeout: Duration,
    /// Where per-fetch GOPATHs are created (and removed).
    pub scratch_dir: PathBuf,
    /// How many downloads may run at once.
    pub max_concurrent: usize,
    /// How many list and query lookups may run at once: apart from downloads, so a burst of
    /// either cannot starve the other.
    pub max_concurrent_lookups: usize,
    /// How many lookups may wait for their turn; more are refused at once with "retry
    /// shortly" (503) instead of piling up. (Downloads wait in the trigger's bounded queue.)
    pub max_queued: usize,
    /// The SSH key and URL rewrites git is given.
    pub git: Arc<GitAccess>,
    /// Judges each host the go command and git connect to, in the egress guard.
    pub policy: Arc<Policy>,
}

pub struct GoToolchain {
    config: GoToolchainConfig,
    downloads: Lane,
    lookups: Lane,
    /// Started with the first go command, in the runtime that runs them.
    guard: OnceCell<EgressGuard>,
}

/// Concurrency for one kind of go command, with a bounded wait.
struct Lane {
    name: &'static str,
    permits: Semaphore,
    waiting: AtomicUsize,
    max_waiting: usize,
}

impl Lane {
    fn new(name: &'static str, running: usize, max_waiting: usize) -> Self {
        Self {
            name,
            permits: Semaphore::new(running.max(1)),
            waiting: AtomicUsize::new(0),
            max_waiting,
        }
    }

    async fn enter(&self) -> Result<SemaphorePermit<'_>> {
        if let Ok(permit) = self.permits.try_acquire() {
            return Ok(permit);
        }
        let waiting = Waiting::enter(&self.waiting, self.name);
        if waiting.ahead >= self.max_waiting {
            metrics::queue_full(self.name);
            return Err(Error::pending(format!(
                "the {} queue is full ({} waiting); retry shortly",
                self.name, self.max_waiting
            )));
        }
        self.permits
            .acquire()
            .await
            .map_err(|_| Error::upstream("the fetcher is shutting down"))
    }
}

/// One place in a lane's queue, given up however the wait ends (a client hanging up included).
struct Waiting<'a> {
    counter: &'a AtomicUsize,
    lane: &'static str,
    ahead: usize,
}

impl<'a> Waiting<'a> {
    fn enter(counter: &'a AtomicUsize, lane: &'static str) -> Self {
        let ahead = counter.fetch_add(1, Ordering::Relaxed);
        metrics::queue_depth(lane, 1);
        Self {
            counter,
            lane,
            ahead,
        }
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.counter.fetch_sub(1, Ordering::Relaxed);
        metrics::queue_depth(self.lane, -1);
    }
}

impl GoToolchain {
    pub fn new(config: GoToolchainConfig) -> Result<Self> {
        std::fs::create_dir_all(&config.scratch_dir)
            .map_err(|e| Error::storage(config.scratch_dir.display(), e))?;
        cleanup::remove_stale(&config.scratch_dir, cleanup::STALE_AFTER);
        // Downloads are bounded where they are started (the in-process trigger, or Lambda's
        // event queue), so their lane only limits how many run.
        let downloads = Lane::new("download", config.max_concurrent, usize::MAX);
        let lookups = Lane::new("lookup", config.max_concurrent_lookups, config.max_queued);
        Ok(Self {
            config,
            downloads,
            lookups,
            guard: OnceCell::new(),
        })
    }

    async fn guard(&self) -> Result<&EgressGuard> {
        self.guard
            .get_or_try_init(|| {
                EgressGuard::start(
                    self.config.policy.clone(),
                    trusted_hosts(
                        &self.config.upstream,
                        std::env::var("GOSUMDB").ok(),
                        self.config.git.rewrite_targets(),
                    ),
                )
            })
            .await
            .map_err(|e| Error::upstream("cannot start the egress guard").with_source(e))
    }

    /// Runs the go command in `lane`, in a fresh GOPATH, and returns (success, stdout, stderr)
    /// with that GOPATH, which the caller keeps alive while it reads downloaded files.
    async fn run(
        &self,
        lane: &Lane,
        module: &str,
        arguments: &[&str],
    ) -> Result<(GoOutput, tempfile::TempDir)> {
        let _permit = lane.enter().await?;
        // The module's own host is judged by its addresses before the go command may connect
        // there (go-import tags and redirects it follows are judged by the guard). Only here:
        // a module fetched from an upstream proxy never has its host contacted. Inside the
        // lane, so resolutions an outsider can cause are as bounded as go commands.
        self.config
            .policy
            .check_module_host(module)
            .await
            .map_err(Error::forbidden)?;
        let guard = self.guard().await?.url();
        // A fresh GitHub App token, when the module is on the app's host, before anything runs.
        let git = self.config.git.settings_for(module).await?;
        let scratch = tempfile::Builder::new()
            .prefix("fetch-")
            .tempdir_in(&self.config.scratch_dir)
            .map_err(|e| Error::storage(self.config.scratch_dir.display(), e))?;
        let mut command = Command::new(&self.config.go_binary);
        command
            .args(arguments)
            .current_dir(scratch.path())
            .env_clear()
            .envs(passed_through_environment())
            .envs(private_go_environment(
                scratch.path(),
                &self.config.upstream,
                &guard,
                &git,
            ))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            // Its own process group, so a timeout also kills the git and ssh it started.
            .process_group(0);
        let child = command.spawn().map_err(|e| {
            Error::upstream(format!(
                "cannot run {}: {e}",
                self.config.go_binary.display()
            ))
        })?;
        // Whether the go command ends, times out or is abandoned (a cancelled request, the
        // server's shutdown deadline), its whole group goes with it: git and ssh too.
        let mut group = ProcessGroup(child.id());
        let outcome = tokio::time::timeout(self.config.timeout, child.wait_with_output()).await;
        match outcome {
            Ok(Ok(output)) => {
                group.0 = None;
                Ok((
                    GoOutput {
                        scratch: scratch.path().display().to_string(),
                        success: output.status.success(),
                        stdout: output.stdout,
                        stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
                    },
                    scratch,
                ))
            }
            Ok(Err(e)) => Err(Error::upstream(format!("go command failed to run: {e}"))),
            Err(_) => Err(Error::upstream(format!(
                "go {} timed out after {}s",
                arguments.join(" "),
                self.config.timeout.as_secs()
            ))),
        }
    }
}

/// Kills the process group it names when dropped, unless it was cleared first.
struct ProcessGroup(Option<u32>);

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        if let Some(group) = self.0 {
            // SAFETY: kill(2) with a negative pid signals the group the go command leads.
            unsafe { libc::kill(-(group as i32), libc::SIGKILL) };
        }
    }
}

struct GoOutput {
    /// The private GOPATH's location, scrubbed from messages sent to clients.
    scratch: String,
    success: bool,
    stdout: Vec<u8>,
    stderr: String,
}

impl GoOutput {
    /// The go command's own error text: the JSON `Error` field when it printed one, else stderr.
    fn error_message(&self, json_error: Option<&str>) -> String {
        let message = json_error
            .map(str::trim)
            .filter(|m| !m.is_empty())
            .unwrap_or(&self.stderr);
        let message = message.strip_prefix("go: ").unwrap_or(message);
        if message.is_empty() {
            return "the go command failed without a message".to_string();
        }
        message.replace(&self.scratch, "$WORK")
    }
}

fn passed_through_environment() -> Vec<(OsString, OsString)> {
    std::env::vars_os()
        .filter(|(name, _)| {
            let name = name.to_string_lossy();
            PASSED_THROUGH.contains(&name.as_ref()) || name.starts_with("GIT_")
        })
        .collect()
}

/// The hosts the operator names, which the egress guard lets the go command reach wherever
/// they resolve: the upstream proxies, the checksum database `GOSUMDB` names, and the targets
/// of `--git-instead-of` (a Git server inside the network, named by the operator).
fn trusted_hosts(
    upstream: &str,
    gosumdb: Option<String>,
    rewrites: impl Iterator<Item = String>,
) -> Vec<String> {
    let urls = upstream.split([',', '|']).map(str::to_string);
    // `name[+key] [url]`: the URL when given, else the name is the host.
    let sumdb = gosumdb.and_then(|value| {
        let mut words = value.split_whitespace();
        let name = words.next()?.split('+').next()?.to_string();
        Some(
            words
                .next()
                .map_or(format!("https://{name}"), str::to_string),
        )
    });
    urls.chain(sumdb)
        .chain(rewrites)
        .filter_map(|url| {
            let parsed = reqwest::Url::parse(url.trim()).ok()?;
            Some(parsed.host_str()?.to_ascii_lowercase())
        })
        .collect()
}

fn private_go_environment(
    scratch: &Path,
    upstream: &str,
    guard: &str,
    git: &GitSettings,
) -> Vec<(OsString, OsString)> {
    // git may otherwise follow a module path to file://, ssh:// or git:// URLs: https only
    // (and ssh when Piraeus has a key of its own for it), unless the operator says otherwise
    // in Piraeus's own environment, which is then passed through with the other GIT_ variables.
    let git_protocols = match std::env::var_os("GIT_ALLOW_PROTOCOL") {
        Some(protocols) => protocols,
        None if git.ssh => "https:ssh".into(),
        None => "https".into(),
    };
    // Go's default GOVCS lets a public module's go-import tag pick Mercurial, Bazaar, Subversion
    // or Fossil, whose ssh transports would use the server's agent: git only, unless the
    // operator's GOVCS (passed through) says otherwise.
    let govcs = std::env::var_os("GOVCS").unwrap_or_else(|| "*:git".into());
    // git's settings from the environment, after the operator's own: Piraeus's rewrites and
    // credential helper, then http.proxy, which outranks every config file (a http.proxy in
    // ~/.gitconfig would otherwise bypass the guard).
    let operators: usize = std::env::var("GIT_CONFIG_COUNT")
        .ok()
        .and_then(|count| count.parse().ok())
        .unwrap_or(0);
    let owned = |(name, value): (&str, OsString)| (OsString::from(name), value);
    let mut environment: Vec<(OsString, OsString)> =
        ["HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"]
            .into_iter()
            .map(|name| (name.into(), guard.into()))
            .collect();
    let settings = git
        .config
        .iter()
        .map(|(key, value)| (key.as_str(), value.as_str()))
        .chain([("http.proxy", guard)]);
    let mut count = operators;
    for (key, value) in settings {
        environment.push((format!("GIT_CONFIG_KEY_{count}").into(), key.into()));
        environment.push((format!("GIT_CONFIG_VALUE_{count}").into(), value.into()));
        count += 1;
    }
    environment.push(("GIT_CONFIG_COUNT".into(), count.to_string().into()));
    environment.extend(
        git.variables
            .iter()
            .map(|(name, value)| (name.into(), value.clone())),
    );
    environment.extend(
        [
            ("GIT_ALLOW_PROTOCOL", git_protocols),
            ("GOVCS", govcs),
            ("GOPATH", scratch.join("gopath").into()),
            ("GOMODCACHE", scratch.join("gopath/pkg/mod").into()),
            ("GOCACHE", scratch.join("gocache").into()),
            ("GOPROXY", upstream.into()),
            // -modcacherw: the module cache is read-only by default and would not be removable.
            ("GOFLAGS", "-modcacherw".into()),
            ("GO111MODULE", "on".into()),
            ("GOTOOLCHAIN", "local".into()),
            // Ignore the server user's `go env -w` settings: configuration comes from Piraeus.
            ("GOENV", "off".into()),
            ("GIT_TERMINAL_PROMPT", "0".into()),
        ]
        .map(owned),
    );
    environment
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DownloadJson {
    version: Option<String>,
    error: Option<String>,
    info: Option<PathBuf>,
    go_mod: Option<PathBuf>,
    zip: Option<PathBuf>,
    sum: Option<String>,
    go_mod_sum: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListJson {
    #[serde(default)]
    versions: Vec<String>,
    version: Option<String>,
    time: Option<String>,
    error: Option<ListError>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListError {
    err: String,
}

#[async_trait]
impl Fetcher for GoToolchain {
    async fn download(&self, module: &str, version: &str) -> Result<Download> {
        let target = format!("{module}@{version}");
        let (output, scratch) = self
            .run(
                &self.downloads,
                module,
                &["mod", "download", "-json", "--", &target],
            )
            .await?;
        let parsed: Option<DownloadJson> = serde_json::from_slice(&output.stdout).ok();
        match parsed {
            Some(DownloadJson {
                version: Some(downloaded),
                error: None,
                info: Some(info),
                go_mod: Some(go_mod),
                zip: Some(zip),
                sum: Some(zip_hash),
                go_mod_sum: Some(mod_hash),
            }) if output.success => Ok(Download {
                version: downloaded,
                info,
                go_mod,
                zip,
                expected: Expected::Go {
                    zip: zip_hash,
                    go_mod: mod_hash,
                },
                scratch: Some(scratch),
            }),
            parsed => {
                let json_error = parsed.and_then(|d| d.error);
                Err(classify_failure(
                    &output.error_message(json_error.as_deref()),
                    &self.config.upstream,
                ))
            }
        }
    }

    /// Recorded with every stored version: without the credentials an upstream URL may carry.
    fn origin(&self) -> String {
        redact::credentials(&self.config.upstream)
    }
}

#[async_trait]
impl Resolver for GoToolchain {
    async fn list(&self, module: &str) -> Result<Vec<String>> {
        let (output, _scratch) = self
            .run(
                &self.lookups,
                module,
                &[
                    "list",
                    "-m",
                    "-versions",
                    "-retracted",
                    "-json",
                    "--",
                    module,
                ],
            )
            .await?;
        match serde_json::from_slice::<ListJson>(&output.stdout) {
            Ok(ListJson {
                versions,
                error: None,
                ..
            }) if output.success => Ok(versions),
            parsed => {
                let json_error = parsed.ok().and_then(|l| l.error).map(|e| e.err);
                Err(classify_failure(
                    &output.error_message(json_error.as_deref()),
                    &self.config.upstream,
                ))
            }
        }
    }

    async fn resolve(&self, module: &str, query: &str) -> Result<ResolvedVersion> {
        let target = format!("{module}@{query}");
        let (output, _scratch) = self
            .run(
                &self.lookups,
                module,
                &["list", "-m", "-json", "--", &target],
            )
            .await?;
        match serde_json::from_slice::<ListJson>(&output.stdout) {
            Ok(ListJson {
                version: Some(version),
                time,
                error: None,
                ..
            }) if output.success => Ok(ResolvedVersion {
                version,
                time: time.unwrap_or_default(),
            }),
            parsed => {
                let json_error = parsed.ok().and_then(|l| l.error).map(|e| e.err);
                Err(classify_failure(
                    &output.error_message(json_error.as_deref()),
                    &self.config.upstream,
                ))
            }
        }
    }
}

/// Sorts a go command failure into the kind that decides the HTTP status (docs/errors.md).
/// Failures that may pass (timeouts, refused connections, upstream 5xx) are `Upstream`, so a
/// client does not silently fall back past a proxy that is only briefly cut off; versions that
/// exist but can never be served are `Gone`; everything else means "not here": `NotFound`,
/// which lets `GOPROXY=piraeus,direct` clients try the next entry.
pub(crate) fn classify_failure(message: &str, upstream: &str) -> Error {
    // Every phrase contains a space or a colon, so none can match a module path or version
    // quoted in the same message. Lower case: matched against the lower-cased message. Each
    // group's label is what the client reads (a 502 says what failed in general terms, never
    // the host, address or path); the message itself goes to the log as the error's source.
    const TRANSIENT: &[(&str, &[&str])] = &[
        (
            "timed out reaching the module's origin",
            &["timed out", "i/o timeout", "deadline exceeded"],
        ),
        // git over https (curl says "could not resolve host" for any failure), the resolver
        // failing (EAI_AGAIN, as git:// reports it), Go's resolver when the server fails. Not
        // git://'s "Name or service not known" nor Go's "no such host": the name does not exist.
        (
            "cannot resolve the module origin's host name",
            &[
                "could not resolve host",
                "could not resolve proxy",
                "temporary failure in name resolution",
                "server misbehaving",
                // git through the egress guard, which found no such host (curl's "could not
                // resolve host" without it; the go command reads "No Such Host": not found).
                "connect tunnel failed, response 404",
            ],
        ),
        (
            "cannot connect to the module's origin",
            &[
                "connection refused",
                "connection reset",
                "failed to connect to",
                "couldn't connect to server",
                "no route to host",
                "network is unreachable",
                // The egress guard could not connect or resolve, as git and Go report it.
                "connect tunnel failed, response 502",
                ": bad gateway",
            ],
        ),
        (
            "TLS failure talking to the module's origin",
            &[
                "tls handshake",
                "ssl certificate problem",
                "server certificate verification failed",
                "gnutls_handshake() failed",
                "x509: certificate",
            ],
        ),
        // Go's own client and git's (curl's wording).
        (
            "the module's origin answered with a server error",
            &[
                "500 internal server error",
                "502 bad gateway",
                "503 service unavailable",
                "504 gateway timeout",
                "429 too many requests",
                "the requested url returned error: 5",
            ],
        ),
        (
            "the transfer from the module's origin was cut short or its repository is corrupt",
            &[
                "rpc failed",
                "early eof",
                "the remote end hung up unexpectedly",
                "repository corruption",
                "bad tree object",
                "bad object ",
                "is corrupt",
                "index-pack failed",
                "did not receive expected object",
            ],
        ),
        (
            "the fetcher could not run",
            &["cannot run", "no space left on device"],
        ),
    ];
    const PERMANENT: &[&str] = &[
        "go.mod has non-",
        "declares its path as",
        "should be v",
        "module contains a go.mod file, so major version must be compatible",
        "zip file too large",
        "module source tree too large",
        "has post-v",
        "disallowed version string",
        // The checksum database disagrees with what upstream served: never store or serve it.
        "security error",
    ];
    let lower = message.to_lowercase();
    let transient = TRANSIENT
        .iter()
        .find(|(_, needles)| needles.iter().any(|needle| lower.contains(needle)));
    let error = if let Some((label, _)) = transient {
        Error::upstream(*label)
    } else {
        // The upstream proxies' host names are the operator's business, like their addresses.
        let shown = redact::for_client(&redact::upstream_hosts(message, upstream));
        if PERMANENT.iter().any(|needle| lower.contains(needle)) {
            Error::gone(shown)
        } else {
            Error::not_found(shown)
        }
    };
    error.with_source(message.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_go_command_failures() {
        let cases = [
            (
                "example.test/foo.git@v9.0.0: invalid version: unknown revision v9.0.0",
                "not found",
            ),
            (
                "module example.test/nope.git: git ls-remote -q origin: exit status 128",
                "not found",
            ),
            (
                "example.com/x@v1.0.0: reading https://proxy.golang.org/example.com/x/@v/v1.0.0.info: 404 Not Found",
                "not found",
            ),
            (
                "example.com/x@v1.0.0: reading https://proxy.example/x/@v/v1.0.0.info: 502 Bad Gateway",
                "upstream failure",
            ),
            ("dial tcp 10.0.0.1:443: i/o timeout", "upstream failure"),
            (
                "go mod download -json timed out after 600s",
                "upstream failure",
            ),
            (
                "module example.test/timeout.git: git ls-remote -q origin: exit status 128",
                "not found",
            ),
            ("write /tmp/x: no space left on device", "upstream failure"),
            // Real messages of git 2.39 and the go command, captured from failed fetches.
            (
                "example.test/dns.git@v1.0.0: invalid version: git ls-remote -q origin in /tmp/piraeus/gopath: exit status 128:\n\tfatal: unable to access 'https://nowhere.invalid/x.git/': Could not resolve host: nowhere.invalid",
                "upstream failure",
            ),
            (
                "example.test/refused.git@v1.0.0: invalid version: git ls-remote -q origin in /tmp/piraeus/gopath: exit status 128:\n\tfatal: unable to access 'https://127.0.0.1:1/x.git/': Failed to connect to 127.0.0.1 port 1 after 0 ms: Couldn't connect to server",
                "upstream failure",
            ),
            (
                "example.test/r.git@v1.0.0: invalid version: git ls-remote -q origin in /tmp/piraeus/gopath: exit status 128:\n\tfatal: unable to look up example.test (port 9418) (Name or service not known)",
                "not found",
            ),
            (
                "example.test/r.git@v1.0.0: invalid version: git ls-remote -q origin in /tmp/piraeus/gopath: exit status 128:\n\tfatal: unable to look up example.test (port 9418) (Temporary failure in name resolution)",
                "upstream failure",
            ),
            (
                "git fetch -f origin refs/tags/v1.0.0:refs/tags/v1.0.0: exit status 128:\n\tremote: fatal: bad tree object a1dffc7a64c0b2d395484bf452e9aeb1da3a18f2\n\tfatal: git upload-pack: aborting due to possible repository corruption on the remote side.",
                "upstream failure",
            ),
            (
                "fatal: unable to access 'https://git.example/x.git/': The requested URL returned error: 503",
                "upstream failure",
            ),
            (
                "fatal: unable to access 'https://git.example/x.git/': SSL certificate problem: self-signed certificate",
                "upstream failure",
            ),
            (
                "dial tcp: lookup proxy.example on 10.0.0.53:53: server misbehaving",
                "upstream failure",
            ),
            (
                "example.test/corrupt.git@v1.0.0: unknown revision v1.0.0",
                "not found",
            ),
            // Through the egress guard.
            (
                "module git.example/x: git ls-remote -q origin: exit status 128:\n\tfatal: unable to access 'https://git.example/x/': CONNECT tunnel failed, response 502",
                "upstream failure",
            ),
            (
                "unrecognized import path \"m.example/x\": https fetch: Get \"https://m.example/x?go-get=1\": Bad Gateway",
                "upstream failure",
            ),
            (
                "unrecognized import path \"m.example/x\": https fetch: Get \"https://m.example/x?go-get=1\": Not Found",
                "not found",
            ),
            (
                "module git.example/x: git ls-remote -q origin: exit status 128:\n\tfatal: unable to access 'https://git.example/x/': CONNECT tunnel failed, response 403",
                "not found",
            ),
            (
                "module git.example/x: git ls-remote -q origin: exit status 128:\n\tfatal: unable to access 'https://git.example/x/': CONNECT tunnel failed, response 404",
                "upstream failure",
            ),
            (
                "unrecognized import path \"m.example/x\": https fetch: Get \"https://m.example/x?go-get=1\": No Such Host",
                "not found",
            ),
            (
                "module example.test/typo.git: git ls-remote -q origin: exit status 128:\n\tremote: Repository not found.\n\tfatal: repository 'https://git.example/typo.git/' not found",
                "not found",
            ),
            (
                "verifying example.com/x@v1.0.0: checksum mismatch\n\nSECURITY ERROR",
                "gone",
            ),
            (
                "example.test/a.git@v1.0.0: parsing go.mod: module declares its path as: other.test/a but was required as: example.test/a.git",
                "gone",
            ),
            (
                "example.test/a.git@v2.0.0: invalid version: should be v2.0.0+incompatible",
                "gone",
            ),
        ];
        for (message, expected) in cases {
            let kind = classify_failure(message, "direct").to_string();
            assert!(
                kind.starts_with(expected),
                "{message:?} classified as {kind:?}, expected {expected}"
            );
        }
    }

    #[test]
    fn clients_read_no_host_address_or_path_and_logs_keep_everything() {
        let refused = "example.test/refused.git@v1.0.0: invalid version: git ls-remote -q origin in /tmp/piraeus/gopath: exit status 128:\n\tfatal: unable to access 'https://10.1.2.3:8443/x.git/': Failed to connect to 10.1.2.3 port 8443 after 0 ms: Couldn't connect to server";
        let error = classify_failure(refused, "direct");
        assert_eq!(
            error.to_string(),
            "upstream failure: cannot connect to the module's origin"
        );
        assert!(error.chain().to_string().contains("10.1.2.3 port 8443"));

        let missing = "example.test/r.git@v1.0.0: invalid version: git ls-remote -q origin in /tmp/piraeus/gopath: exit status 128:\n\tfatal: '/srv/repos/r.git' does not appear to be a git repository";
        let shown = classify_failure(missing, "direct").to_string();
        assert!(shown.starts_with("not found: example.test/r.git@v1.0.0: invalid version"));
        assert!(
            !shown.contains("/tmp") && !shown.contains("/srv"),
            "{shown}"
        );
    }

    #[test]
    fn upstream_proxy_hosts_are_hidden_from_clients() {
        let message = "example.com/x@v1.0.0: reading https://goproxy.corp.example/example.com/x/@v/v1.0.0.info: 404 Not Found";
        let shown = classify_failure(message, "https://goproxy.corp.example,direct").to_string();
        assert!(shown.starts_with("not found: "), "{shown}");
        assert!(!shown.contains("goproxy.corp.example"), "{shown}");
        assert!(shown.contains("404 Not Found"), "{shown}");
    }
}
