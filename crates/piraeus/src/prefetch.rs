//! `piraeus prefetch [--proxy URL] FILE...`: warms a proxy through its prefetch API (`POST
//! /prefetch` on `piraeus serve`, or the prefetch function URL on AWS, signed with SigV4) from
//! go.sum, go.mod and go.work files and plain lists of `module@version`.
//!
//! Files are read with the parser the API itself uses (`piraeus_core::prefetch`), all checked
//! before anything is sent, then sent in batches the size of the API's own concurrency, a few at
//! once. Versions still being fetched when a batch's wait ends are asked about again; versions
//! refused because the proxy was busy (its download queue full, a `429`/`503`) are sent again
//! after a pause, a bounded number of times. Sending a version again is cheap (a stored version
//! is only looked up), so an interrupted run is simply repeated.
//!
//! Exit status 0 when every version is stored with the sums given, 1 when any failed or
//! differs (each named) or the proxy could not be used, 2 on bad usage (flags, an unreadable or
//! unparseable file).

use std::collections::{HashMap, VecDeque};
use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail};
use clap::{Arg, ArgAction, ArgMatches, Command};
use indicatif::{ProgressBar, ProgressStyle};
use piraeus_aws::sigv4::{self, Signer};
use piraeus_core::prefetch::{self, Format, ItemState, Mismatch, Report, Wanted};
use piraeus_core::settings::PREFETCH_PROXY;
use reqwest::{StatusCode, Url};
use serde_json::json;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::settings::{flag, given};

/// Versions per request: as many as the API looks at at once, so each gets the whole wait.
const BATCH: usize = prefetch::CONCURRENCY;
/// Requests in flight at once: 64 versions, within `piraeus serve`'s default download queue
/// (4 running + 100 waiting).
const PARALLEL: usize = 4;
/// How long each request asks the API to wait for its fetches (`?wait=`).
const WAIT: Duration = Duration::from_secs(60);
/// How many times a version refused because the proxy was busy is sent again.
const BUSY_RETRIES: u32 = 8;
/// How many times a request answered `429`/`502`/`503`/`504` is sent again.
const REQUEST_RETRIES: u32 = 8;
/// The longest pause before sending again, whatever `Retry-After` says.
const MAX_PAUSE: Duration = Duration::from_secs(60);
/// How many times a request that could not reach the proxy is sent again.
const CONNECT_RETRIES: u32 = 3;
/// A version still being fetched after this long is reported as not finished: longer than the
/// default fetch timeout (10 minutes) and the lease that outlives it.
const MAX_FETCHING: Duration = Duration::from_secs(20 * 60);

const _: () = assert!(2 * BATCH <= prefetch::MAX_LINES && BATCH <= prefetch::MAX_VERSIONS);

pub fn command() -> Command {
    Command::new("prefetch")
        .about("Warm a proxy's cache from go.sum, go.mod, go.work files or lists of module@version")
        .long_about(
            "Warm a proxy's cache from go.sum, go.mod, go.work files or lists of module@version \
             (one per line; module@latest, a branch or a commit resolve on the proxy), through \
             its prefetch API. Every version is fetched unless stored; go.sum sums are compared \
             with what is stored. Exit status: 0 when everything is stored and matches, 1 when \
             anything failed or differs (each named), 2 on bad usage or unreadable input.",
        )
        // Its value may carry a client token: never shown in --help.
        .arg(flag(&PREFETCH_PROXY).hide_env_values(true))
        .arg(
            Arg::new("sigv4")
                .long("sigv4")
                .action(ArgAction::SetTrue)
                .help(
                    "Sign requests with SigV4 (service lambda; credentials and region from the \
                     standard AWS environment). Automatic for Lambda function URLs \
                     (*.lambda-url.REGION.on.aws)",
                ),
        )
        .arg(
            Arg::new("json")
                .long("json")
                .action(ArgAction::SetTrue)
                .help("Print one JSON document at the end instead of progress and lines"),
        )
        .arg(
            Arg::new("files")
                .value_name("FILE")
                .required(true)
                .num_args(1..)
                .help("go.sum, go.mod, go.work, or a list of module@version; - reads stdin"),
        )
}

pub async fn run(arguments: &ArgMatches) -> anyhow::Result<ExitCode> {
    let files: Vec<String> = arguments
        .get_many::<String>("files")
        .expect("clap requires a file")
        .cloned()
        .collect();
    let json_output = arguments.get_flag("json");
    let endpoint = Arc::new(
        Endpoint::new(
            &given(arguments, &PREFETCH_PROXY),
            arguments.get_flag("sigv4"),
        )
        .await?,
    );
    let mut versions = read_inputs(&files)?;
    if versions.is_empty() {
        eprintln!(
            "piraeus: no versions named in {}: nothing to prefetch",
            files.join(" ")
        );
    }
    let mut display = Display::new(json_output, versions.len());
    let failure = warm(&endpoint, &mut versions, &mut display).await;
    Ok(display.finish(&endpoint, &versions, failure.as_deref()))
}

/// Where the API is and how to authenticate to it.
struct Endpoint {
    /// Without user information; the path ends in `/prefetch`.
    url: Url,
    auth: Auth,
    client: reqwest::Client,
}

enum Auth {
    None,
    /// A client token (`piraeus serve --auth-file`).
    Basic {
        name: String,
        secret: String,
    },
    Sigv4(Signer),
}

impl Endpoint {
    async fn new(text: &str, sigv4: bool) -> anyhow::Result<Self> {
        let shown = piraeus_core::redact::credentials(text);
        let mut url =
            Url::parse(text).map_err(|error| anyhow!("--proxy {shown:?} is not a URL: {error}"))?;
        if !matches!(url.scheme(), "http" | "https") {
            bail!("--proxy {shown:?} is not an http:// or https:// URL");
        }
        if url.query().is_some() || url.fragment().is_some() {
            bail!("--proxy {shown:?}: give the URL without a query or fragment");
        }
        let host = url.host_str().unwrap_or_default().to_string();
        let name = percent_decode(url.username());
        let secret = url.password().map(percent_decode);
        // Never sent, shown or logged as part of the URL.
        let _ = url.set_username("");
        let _ = url.set_password(None);
        let path = url.path().trim_end_matches('/').to_string();
        if path.ends_with("/prefetch") {
            url.set_path(&path);
        } else {
            url.set_path(&format!("{path}/prefetch"));
        }
        let in_url = match (name.is_empty(), secret) {
            (true, None) => None,
            (false, Some(secret)) => Some((name, secret)),
            _ => bail!("--proxy {shown:?}: give a client token as NAME:SECRET@ before the host"),
        };
        let auth = if sigv4 || sigv4::is_function_url_host(&host) {
            if in_url.is_some() {
                bail!("--proxy {shown:?}: a SigV4-signed request cannot also carry a client token");
            }
            let sdk = piraeus_aws::sdk::config().await;
            let signer = Signer::new(&sdk, "lambda", sigv4::function_url_region(&host))
                .await
                .map_err(|error| anyhow!("cannot sign for {url}: {error}"))?;
            Auth::Sigv4(signer)
        } else {
            match in_url.or_else(|| (url.scheme() == "https").then(|| netrc(&host)).flatten()) {
                Some((name, secret)) => Auth::Basic { name, secret },
                None => Auth::None,
            }
        };
        let client = reqwest::Client::builder()
            .user_agent(concat!("piraeus/", env!("CARGO_PKG_VERSION")))
            // A signature or a token is for this URL only.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(30))
            .timeout(WAIT + Duration::from_secs(120))
            .build()?;
        Ok(Self { url, auth, client })
    }

    /// One POST of `body`; the answer as the batch's fate, or why nothing more can be sent.
    async fn post(&self, body: &str) -> Result<Answer, String> {
        let mut url = self.url.clone();
        url.set_query(Some(&format!("wait={}s", WAIT.as_secs())));
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut request = self
                .client
                .post(url.clone())
                .header(reqwest::header::CONTENT_TYPE, "text/plain; charset=utf-8")
                .body(body.to_string());
            match &self.auth {
                Auth::None => {}
                Auth::Basic { name, secret } => request = request.basic_auth(name, Some(secret)),
                Auth::Sigv4(signer) => {
                    let headers = signer
                        .sign("POST", url.as_str(), &[], body.as_bytes())
                        .await
                        .map_err(|error| error.to_string())?;
                    for (name, value) in headers {
                        request = request.header(name, value);
                    }
                }
            }
            let response = match request.send().await {
                Ok(response) => response,
                Err(error) if attempt <= CONNECT_RETRIES => {
                    tracing::debug!(error = %error_chain(&error), "prefetch request failed; retrying");
                    tokio::time::sleep(Duration::from_secs(1 << attempt)).await;
                    continue;
                }
                Err(error) => {
                    return Err(format!(
                        "cannot reach {}: {}",
                        self.url,
                        error_chain(&error)
                    ));
                }
            };
            let status = response.status();
            let retry_after = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|value| value.to_str().ok())
                .and_then(|value| value.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            let is_json = response
                .headers()
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|value| value.to_str().ok())
                .is_some_and(|value| value.starts_with("application/json"));
            let text = match response.text().await {
                Ok(text) => text,
                Err(_) if attempt <= CONNECT_RETRIES => continue,
                Err(error) => return Err(format!("reading the answer: {}", error_chain(&error))),
            };
            let reason = || {
                let first = text.lines().next().unwrap_or_default().trim();
                let first: String = first.chars().take(300).collect();
                if first.is_empty() {
                    status.to_string()
                } else {
                    format!("{status}: {first}")
                }
            };
            match status {
                StatusCode::OK | StatusCode::ACCEPTED | StatusCode::CONFLICT => {
                    return serde_json::from_str(&text)
                        .map(Answer::Report)
                        .map_err(|error| {
                            format!(
                                "{} answered {status} with no prefetch report: {error}",
                                self.url
                            )
                        });
                }
                StatusCode::BAD_REQUEST if is_json => {
                    if let Ok(report) = serde_json::from_str(&text) {
                        return Ok(Answer::Report(report));
                    }
                    return Ok(Answer::Refused(reason()));
                }
                StatusCode::UNAUTHORIZED => {
                    return Err(match self.auth {
                        Auth::Basic { .. } => {
                            format!("{} refused the client token (401)", self.url)
                        }
                        _ => format!(
                            "{} wants a client token (401): give it as http(s)://NAME:SECRET@HOST \
                             in --proxy, or in ~/.netrc for an https URL",
                            self.url
                        ),
                    });
                }
                StatusCode::FORBIDDEN => {
                    let hint = match self.auth {
                        Auth::Sigv4(_) => {
                            " (the signing identity may not invoke the function URL, or the \
                             signature is wrong)"
                        }
                        _ if sigv4_expected(&self.url) => " (an IAM-authorised URL: use --sigv4)",
                        _ => "",
                    };
                    return Err(format!(
                        "{} refused the request: {}{hint}",
                        self.url,
                        reason()
                    ));
                }
                StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED => {
                    return Err(format!(
                        "no prefetch API at {} ({}): give --proxy the proxy's URL, or its \
                         /prefetch URL",
                        self.url,
                        reason()
                    ));
                }
                StatusCode::TOO_MANY_REQUESTS
                | StatusCode::BAD_GATEWAY
                | StatusCode::SERVICE_UNAVAILABLE
                | StatusCode::GATEWAY_TIMEOUT
                    if attempt <= REQUEST_RETRIES =>
                {
                    let pause = retry_after
                        .unwrap_or(Duration::from_secs(5) * attempt)
                        .min(MAX_PAUSE);
                    tracing::debug!(%status, ?pause, "the proxy is busy; sending again");
                    tokio::time::sleep(pause).await;
                }
                _ => return Ok(Answer::Refused(reason())),
            }
        }
    }
}

/// A URL whose answer `403` most likely means it wanted a signature.
fn sigv4_expected(url: &Url) -> bool {
    url.path().starts_with("/lambda-url/")
        || url.host_str().is_some_and(sigv4::is_function_url_host)
}

/// One batch sent: the versions (indices into the run's list), which of them each body line
/// named (see [`prefetch::encode`]), and the answer.
struct Sent {
    batch: Vec<usize>,
    lines: Vec<usize>,
    answer: Result<Answer, String>,
}

/// What one batch got.
enum Answer {
    Report(Report),
    /// Refused as a whole; the reason applies to every version in it.
    Refused(String),
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let escaped = (bytes[index] == b'%')
            .then(|| bytes.get(index + 1..index + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok());
        match escaped {
            Some(byte) => {
                out.push(byte);
                index += 3;
            }
            None => {
                out.push(bytes[index]);
                index += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The login and password `$NETRC` (else `~/.netrc`) gives for `host`, as the go command reads
/// it: a `machine` entry, else `default`.
fn netrc(host: &str) -> Option<(String, String)> {
    let path = std::env::var_os("NETRC")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".netrc")))?;
    netrc_lookup(&std::fs::read_to_string(path).ok()?, host)
}

fn netrc_lookup(text: &str, host: &str) -> Option<(String, String)> {
    let mut tokens = text.split_whitespace();
    let mut entries: Vec<(Option<String>, Option<String>, Option<String>)> = Vec::new();
    while let Some(token) = tokens.next() {
        match token {
            "machine" => entries.push((tokens.next().map(str::to_string), None, None)),
            "default" => entries.push((None, None, None)),
            "login" | "password" => {
                let (value, entry) = (tokens.next().map(str::to_string), entries.last_mut());
                if let Some(entry) = entry {
                    if token == "login" {
                        entry.1 = value;
                    } else {
                        entry.2 = value;
                    }
                }
            }
            _ => {}
        }
    }
    let complete = |entry: &(Option<String>, Option<String>, Option<String>)| {
        Some((entry.1.clone()?, entry.2.clone()?))
    };
    entries
        .iter()
        .find(|entry| entry.0.as_deref() == Some(host))
        .or_else(|| entries.iter().find(|entry| entry.0.is_none()))
        .and_then(complete)
}

/// One distinct version named by the input, and what became of it.
struct Version {
    wanted: Wanted,
    /// `FILE:LINE` of the first line naming it, and of the lines giving its sums.
    source: String,
    zip_source: Option<String>,
    mod_source: Option<String>,
    /// The canonical version the proxy resolved a query (`latest`, a branch) to.
    resolved: Option<String>,
    outcome: Option<Outcome>,
    /// Seen being fetched, or reported as fetched by this run.
    fetched: bool,
    error: Option<String>,
    mismatches: Vec<Mismatch>,
    busy_retries: u32,
    fetching_since: Option<Instant>,
    not_before: Instant,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Stored before this run.
    Stored,
    /// Stored by a fetch during this run.
    Fetched,
    Failed,
    /// Stored, with a sum that differs from the go.sum's.
    Mismatched,
}

impl Outcome {
    fn name(self) -> &'static str {
        match self {
            Outcome::Stored => "stored",
            Outcome::Fetched => "fetched",
            Outcome::Failed => "failed",
            Outcome::Mismatched => "mismatched",
        }
    }
}

impl Version {
    fn name(&self) -> String {
        let module = &self.wanted.module;
        match &self.resolved {
            Some(resolved) if *resolved != self.wanted.version => {
                format!("{module}@{resolved} ({})", self.wanted.version)
            }
            _ => format!("{module}@{}", self.wanted.version),
        }
    }

    /// The line printed once it has settled.
    fn line(&self) -> String {
        let outcome = self.outcome.map_or("unsettled", Outcome::name);
        let detail = match self.outcome {
            Some(Outcome::Failed) => format!(
                " ({}): {}",
                self.source,
                self.error.as_deref().unwrap_or("failed")
            ),
            Some(Outcome::Mismatched) => {
                let each: Vec<String> = self
                    .mismatches
                    .iter()
                    .map(|mismatch| {
                        format!(
                            "{} has {} for the {}, the proxy stored {}",
                            self.sum_source(mismatch),
                            mismatch.expected,
                            mismatch.file,
                            mismatch.stored
                        )
                    })
                    .collect();
                format!(": {}", each.join("; "))
            }
            _ => String::new(),
        };
        format!("{outcome:<10} {}{detail}", self.name())
    }

    fn sum_source(&self, mismatch: &Mismatch) -> &str {
        let source = if mismatch.file == "zip" {
            &self.zip_source
        } else {
            &self.mod_source
        };
        source.as_deref().unwrap_or(&self.source)
    }

    fn settle(&mut self, outcome: Outcome, error: Option<String>) {
        self.outcome = Some(outcome);
        self.error = error;
    }
}

/// Reads every file (`-`: stdin) into the distinct versions they name. Every unreadable file
/// and rejected line is reported on stderr, and then nothing is sent.
fn read_inputs(files: &[String]) -> anyhow::Result<Vec<Version>> {
    let mut reader = Reader::default();
    let mut stdin_read = false;
    for file in files {
        let (name, text, folder) = if file == "-" {
            if std::mem::replace(&mut stdin_read, true) {
                bail!("- (stdin) is named twice");
            }
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|error| anyhow!("cannot read stdin: {error}"))?;
            ("stdin".to_string(), text, PathBuf::from("."))
        } else {
            let path = Path::new(file);
            let text = std::fs::read_to_string(path)
                .map_err(|error| anyhow!("cannot read {file}: {error}"))?;
            let folder = path
                .parent()
                .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
            (file.clone(), text, folder)
        };
        let is_go_work = Path::new(file)
            .file_name()
            .is_some_and(|name| name == "go.work")
            || prefetch::detect(&text) == Format::GoWork;
        if is_go_work {
            reader.go_work(&name, &text, &folder)?;
        } else {
            reader.add(&name, &text);
        }
    }
    if !reader.problems.is_empty() {
        for problem in &reader.problems {
            eprintln!("piraeus: {problem}");
        }
        bail!(
            "{} problem(s) in the input; nothing was sent",
            reader.problems.len()
        );
    }
    Ok(reader.versions)
}

#[derive(Default)]
struct Reader {
    versions: Vec<Version>,
    positions: HashMap<(String, String), usize>,
    problems: Vec<String>,
}

impl Reader {
    /// A go.work: the go.mod and go.sum of every module it uses, and its go.work.sum.
    fn go_work(&mut self, name: &str, text: &str, folder: &Path) -> anyhow::Result<()> {
        let uses = prefetch::go_work_uses(text);
        if uses.is_empty() {
            self.problems
                .push(format!("{name}: a go.work with no use directive"));
        }
        for (_, directory) in uses {
            let module = folder.join(&directory);
            let go_mod = module.join("go.mod");
            let text = std::fs::read_to_string(&go_mod).map_err(|error| {
                anyhow!("cannot read {} (used by {name}): {error}", go_mod.display())
            })?;
            self.add(&go_mod.display().to_string(), &text);
            self.add_if_present(&module.join("go.sum"));
        }
        self.add_if_present(&folder.join("go.work.sum"));
        Ok(())
    }

    fn add_if_present(&mut self, path: &Path) {
        match std::fs::read_to_string(path) {
            Ok(text) => self.add(&path.display().to_string(), &text),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => self
                .problems
                .push(format!("cannot read {}: {error}", path.display())),
        }
    }

    fn add(&mut self, name: &str, text: &str) {
        if text.trim().is_empty() {
            return;
        }
        let plan = match prefetch::read(text) {
            Ok(plan) => plan,
            Err(error) => {
                self.problems.push(format!("{name}: {}", error.message()));
                return;
            }
        };
        for rejected in &plan.rejected {
            self.problems.push(format!(
                "{name}:{}: {} ({:?})",
                rejected.line, rejected.reason, rejected.input
            ));
        }
        if plan.rejected_count > plan.rejected.len() {
            self.problems.push(format!(
                "{name}: {} more lines rejected",
                plan.rejected_count - plan.rejected.len()
            ));
        }
        for wanted in plan.wanted {
            let source = format!("{name}:{}", wanted.line);
            let zip_source = wanted.zip_hash.as_ref().map(|_| source.clone());
            let mod_source = wanted.mod_hash.as_ref().map(|_| source.clone());
            let key = (wanted.module.clone(), wanted.version.clone());
            let Some(&position) = self.positions.get(&key) else {
                self.positions.insert(key, self.versions.len());
                self.versions.push(Version {
                    wanted,
                    source,
                    zip_source,
                    mod_source,
                    resolved: None,
                    outcome: None,
                    fetched: false,
                    error: None,
                    mismatches: Vec::new(),
                    busy_retries: 0,
                    fetching_since: None,
                    not_before: Instant::now(),
                });
                continue;
            };
            // The same version in another file (a go.mod and its go.sum): one request, every
            // sum given checked.
            let existing = &mut self.versions[position];
            for (given, known, known_source, file) in [
                (
                    wanted.zip_hash,
                    &mut existing.wanted.zip_hash,
                    &mut existing.zip_source,
                    "zip",
                ),
                (
                    wanted.mod_hash,
                    &mut existing.wanted.mod_hash,
                    &mut existing.mod_source,
                    "go.mod",
                ),
            ] {
                match (given, known.as_ref()) {
                    (Some(given), Some(known_hash)) if given != *known_hash => {
                        self.problems.push(format!(
                            "{source}: the {file} sum {given} of {}@{} conflicts with {known_hash} from {}",
                            existing.wanted.module,
                            existing.wanted.version,
                            known_source.as_deref().unwrap_or_default()
                        ));
                    }
                    (Some(given), None) => {
                        *known = Some(given);
                        *known_source = Some(source.clone());
                    }
                    _ => {}
                }
            }
        }
    }
}

/// Sends every version until each has settled; `Some(reason)` when the proxy could not be used
/// at all (versions not settled by then are left so).
async fn warm(
    endpoint: &Arc<Endpoint>,
    versions: &mut [Version],
    display: &mut Display,
) -> Option<String> {
    let mut queue: VecDeque<usize> = (0..versions.len()).collect();
    let mut tasks: JoinSet<Sent> = JoinSet::new();
    loop {
        while tasks.len() < PARALLEL {
            let now = Instant::now();
            let mut batch = Vec::new();
            let mut waiting = VecDeque::new();
            while let Some(index) = queue.pop_front() {
                if batch.len() < BATCH && versions[index].not_before <= now {
                    batch.push(index);
                } else {
                    waiting.push_back(index);
                }
            }
            queue = waiting;
            if batch.is_empty() {
                break;
            }
            let wanted: Vec<Wanted> = batch.iter().map(|&i| versions[i].wanted.clone()).collect();
            let (body, lines) = prefetch::encode(&wanted);
            let endpoint = endpoint.clone();
            tasks.spawn(async move {
                let answer = endpoint.post(&body).await;
                Sent {
                    batch,
                    lines,
                    answer,
                }
            });
        }
        if tasks.is_empty() && queue.is_empty() {
            return None;
        }
        let next_ready = queue
            .iter()
            .map(|&index| versions[index].not_before)
            .min()
            .filter(|_| tasks.len() < PARALLEL);
        let sleep_until = next_ready.unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
        tokio::select! {
            joined = tasks.join_next(), if !tasks.is_empty() => {
                let Sent { batch, lines, answer } = joined
                    .expect("a task was running")
                    .expect("prefetch requests do not panic");
                match answer {
                    Ok(Answer::Report(report)) => {
                        apply_report(versions, &batch, &lines, report, &mut queue, display);
                    }
                    Ok(Answer::Refused(reason)) => {
                        for index in batch {
                            versions[index].settle(Outcome::Failed, Some(reason.clone()));
                            display.settled(&versions[index]);
                        }
                    }
                    Err(reason) => {
                        tasks.abort_all();
                        return Some(reason);
                    }
                }
            }
            () = tokio::time::sleep_until(sleep_until), if next_ready.is_some() => {}
        }
    }
}

fn apply_report(
    versions: &mut [Version],
    batch: &[usize],
    lines: &[usize],
    report: Report,
    queue: &mut VecDeque<usize>,
    display: &mut Display,
) {
    let version_of = |line: usize| {
        line.checked_sub(1)
            .and_then(|line| lines.get(line))
            .map(|&position| batch[position])
    };
    let mut answered = vec![false; batch.len()];
    let mut mismatches: HashMap<usize, Vec<Mismatch>> = HashMap::new();
    for mismatch in report.mismatches {
        if let Some(index) = version_of(mismatch.line) {
            mismatches.entry(index).or_default().push(mismatch);
        }
    }
    let now = Instant::now();
    for item in report.accepted {
        let Some(index) = version_of(item.line) else {
            continue;
        };
        if let Some(position) = batch.iter().position(|&i| i == index) {
            answered[position] = true;
        }
        let version = &mut versions[index];
        version.resolved = Some(item.version.clone());
        match item.state {
            ItemState::Stored => {
                version.fetched |= item.fetched;
                version.mismatches = mismatches.remove(&index).unwrap_or_default();
                let outcome = if !version.mismatches.is_empty() {
                    Outcome::Mismatched
                } else if version.fetched {
                    Outcome::Fetched
                } else {
                    Outcome::Stored
                };
                version.settle(outcome, None);
            }
            ItemState::Fetching => {
                version.fetched = true;
                let since = *version.fetching_since.get_or_insert(now);
                if now.duration_since(since) >= MAX_FETCHING {
                    version.settle(
                        Outcome::Failed,
                        Some(format!(
                            "still being fetched after {} minutes; run the same command again later",
                            MAX_FETCHING.as_secs() / 60
                        )),
                    );
                } else {
                    version.not_before = now + Duration::from_secs(1);
                    queue.push_back(index);
                    continue;
                }
            }
            ItemState::Failed if item.retry && version.busy_retries < BUSY_RETRIES => {
                version.busy_retries += 1;
                let pause = Duration::from_secs(5) * 2u32.pow(version.busy_retries - 1);
                version.not_before = now + pause.min(MAX_PAUSE);
                queue.push_back(index);
                continue;
            }
            ItemState::Failed => {
                let error = item.error.unwrap_or_else(|| "failed".to_string());
                version.settle(Outcome::Failed, Some(error));
            }
        }
        display.settled(&versions[index]);
    }
    for (position, &index) in batch.iter().enumerate() {
        if answered[position] {
            continue;
        }
        let wire_lines: Vec<usize> = lines
            .iter()
            .enumerate()
            .filter(|&(_, &p)| p == position)
            .map(|(line, _)| line + 1)
            .collect();
        let reason = report
            .rejected
            .iter()
            .find(|rejected| wire_lines.contains(&rejected.line))
            .map_or_else(
                || "missing from the proxy's report".to_string(),
                |rejected| format!("refused by the proxy: {}", rejected.reason),
            );
        versions[index].settle(Outcome::Failed, Some(reason));
        display.settled(&versions[index]);
    }
}

/// What the user sees: a progress bar on a terminal, a line per version otherwise, or one JSON
/// document at the end.
enum Display {
    Bar(ProgressBar, Counts),
    Lines(Counts),
    Json,
}

#[derive(Default)]
struct Counts {
    stored: usize,
    fetched: usize,
    failed: usize,
    mismatched: usize,
}

impl Counts {
    fn add(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Stored => self.stored += 1,
            Outcome::Fetched => self.fetched += 1,
            Outcome::Failed => self.failed += 1,
            Outcome::Mismatched => self.mismatched += 1,
        }
    }

    fn of(versions: &[Version]) -> Self {
        let mut counts = Self::default();
        for outcome in versions.iter().filter_map(|version| version.outcome) {
            counts.add(outcome);
        }
        counts
    }

    fn message(&self) -> String {
        format!(
            "stored {}, fetched {}, failed {}, mismatched {}",
            self.stored, self.fetched, self.failed, self.mismatched
        )
    }
}

impl Display {
    fn new(json: bool, total: usize) -> Self {
        if json {
            return Display::Json;
        }
        if !std::io::stderr().is_terminal() || total == 0 {
            return Display::Lines(Counts::default());
        }
        let bar = ProgressBar::new(total as u64);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} {elapsed_precise} [{bar:30}] {pos}/{len} versions: {msg}",
            )
            .expect("the template is valid")
            .progress_chars("=> "),
        );
        bar.set_message(Counts::default().message());
        bar.enable_steady_tick(Duration::from_millis(200));
        Display::Bar(bar, Counts::default())
    }

    fn settled(&mut self, version: &Version) {
        let Some(outcome) = version.outcome else {
            return;
        };
        match self {
            Display::Bar(bar, counts) => {
                counts.add(outcome);
                if matches!(outcome, Outcome::Failed | Outcome::Mismatched) {
                    bar.println(version.line());
                }
                bar.set_message(counts.message());
                bar.inc(1);
            }
            Display::Lines(counts) => {
                counts.add(outcome);
                println!("{}", version.line());
            }
            Display::Json => {}
        }
    }

    /// Prints the summary (or the JSON document) and gives the exit status.
    fn finish(self, endpoint: &Endpoint, versions: &[Version], failure: Option<&str>) -> ExitCode {
        let counts = Counts::of(versions);
        let unsettled = versions.iter().filter(|v| v.outcome.is_none()).count();
        let success = failure.is_none() && counts.failed == 0 && counts.mismatched == 0;
        let summary = format!(
            "{} version{} via {}: {}{}",
            versions.len(),
            if versions.len() == 1 { "" } else { "s" },
            endpoint.url,
            counts.message(),
            if unsettled > 0 {
                format!(", {unsettled} not done")
            } else {
                String::new()
            }
        );
        match self {
            Display::Bar(bar, _) => {
                bar.finish_and_clear();
                if let Some(failure) = failure {
                    eprintln!("piraeus: {failure}");
                }
                eprintln!("piraeus: {summary}");
            }
            Display::Lines(_) => {
                if let Some(failure) = failure {
                    eprintln!("piraeus: {failure}");
                }
                eprintln!("piraeus: {summary}");
            }
            Display::Json => {
                let items: Vec<serde_json::Value> = versions.iter().map(json_item).collect();
                let document = json!({
                    "proxy": endpoint.url.as_str(),
                    "ok": success,
                    "error": failure,
                    "counts": {
                        "versions": versions.len(),
                        "stored": counts.stored,
                        "fetched": counts.fetched,
                        "failed": counts.failed,
                        "mismatched": counts.mismatched,
                        "unsettled": unsettled,
                    },
                    "versions": items,
                });
                println!("{document:#}");
            }
        }
        if success {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        }
    }
}

fn json_item(version: &Version) -> serde_json::Value {
    let mut item = json!({
        "module": version.wanted.module,
        "version": version.resolved.as_deref().unwrap_or(&version.wanted.version),
        "source": version.source,
        "outcome": version.outcome.map_or("unsettled", Outcome::name),
    });
    if version
        .resolved
        .as_deref()
        .is_some_and(|r| r != version.wanted.version)
    {
        item["query"] = json!(version.wanted.version);
    }
    if let Some(error) = &version.error {
        item["error"] = json!(error);
    }
    if !version.mismatches.is_empty() {
        item["mismatches"] = version
            .mismatches
            .iter()
            .map(|mismatch| {
                json!({
                    "file": mismatch.file,
                    "source": version.sum_source(mismatch),
                    "expected": mismatch.expected,
                    "stored": mismatch.stored,
                })
            })
            .collect();
    }
    item
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn netrc_entries_match_the_host_else_default() {
        let text = "machine a.example login alice password one\n\
                    machine b.example\n  login bob\n  password two\ndefault login anon password three\n";
        assert_eq!(
            netrc_lookup(text, "b.example"),
            Some(("bob".into(), "two".into()))
        );
        assert_eq!(
            netrc_lookup(text, "c.example"),
            Some(("anon".into(), "three".into()))
        );
        assert_eq!(netrc_lookup("machine x login only", "x"), None);
    }

    #[test]
    fn user_information_is_percent_decoded() {
        assert_eq!(percent_decode("a%40b%3Ac"), "a@b:c");
        assert_eq!(percent_decode("plain%"), "plain%");
    }

    #[tokio::test]
    async fn the_url_loses_its_token_and_gains_the_api_path() {
        let endpoint = Endpoint::new("http://ci:s%40cret@127.0.0.1:3000", false)
            .await
            .unwrap();
        assert_eq!(endpoint.url.as_str(), "http://127.0.0.1:3000/prefetch");
        assert!(matches!(
            &endpoint.auth,
            Auth::Basic { name, secret } if name == "ci" && secret == "s@cret"
        ));
        let endpoint = Endpoint::new(
            "http://127.0.0.1:9000/lambda-url/piraeus-prefetch/prefetch/",
            false,
        )
        .await
        .unwrap();
        assert_eq!(
            endpoint.url.as_str(),
            "http://127.0.0.1:9000/lambda-url/piraeus-prefetch/prefetch"
        );
        let error = Endpoint::new("ftp://ci:hidden@host", false)
            .await
            .err()
            .unwrap()
            .to_string();
        assert!(!error.contains("hidden"), "{error}");
    }
}
