//! The upstream chain spoken natively. `--upstream` keeps the go command's `GOPROXY` syntax;
//! each proxy entry is asked over HTTP here (`@v/list`, `@latest`, `.info`, `.mod`, `.zip`),
//! with the go command's fallback rules: after an entry followed by `,` the next is tried only
//! when it answered 404 or 410, after one followed by `|` on any error. The go command runs only
//! when the chain reaches `direct`, and for modules matching `GOPRIVATE`/`GONOPROXY`, which are
//! never named to a proxy.
//!
//! What a proxy says is input from outside: sizes are bounded (go's limits), a `.info` must
//! name the version asked for, a `list` must hold canonical versions, redirects must stay on
//! https (and on the same host when the URL carries credentials), and every zip is checked with
//! go's rules before anything is hashed or stored. A downloaded version's sums are then checked
//! against the checksum database by [`SumCheck`] before the ingest stores it.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use serde::Deserialize;
use tokio::io::AsyncWriteExt;

use super::{Download, Expected, Fetcher, ResolvedVersion, Resolver};
use crate::error::{Error, ErrorKind, Result};
use crate::golang::checksumdb::SumDbSettings;
use crate::golang::modzip::{self, MAX_GO_MOD, MAX_ZIP};
use crate::golang::path::{check_version_fits, escape};
use crate::golang::version;
use crate::index::Index;
use crate::policy::Policy;
use crate::redact;
use crate::store::BlobStore;
use crate::sumdb::SumDbConfig;
use crate::sumdb::verify::DatabaseSums;
use crate::sumdb::verify::Source;
use crate::sumdb::verify::{SumCheck, Sums};

/// A `.info` or `@latest` answer is a small JSON object.
const MAX_INFO: u64 = 64 << 10;
/// A version list: a line per tagged version.
const MAX_LIST: u64 = 4 << 20;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const MAX_REDIRECTS: usize = 5;

/// One entry of the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
    Proxy(ProxyUrl),
    Direct,
    Off,
}

/// A proxy's base URL, its credentials held apart so they are never logged or shown.
#[derive(Clone, PartialEq, Eq)]
struct ProxyUrl {
    base: reqwest::Url,
    credentials: Option<(String, String)>,
}

impl std::fmt::Debug for ProxyUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.base.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Step {
    entry: Entry,
    /// The entry was followed by `|`: any error moves on to the next.
    on_any_error: bool,
}

/// `GOPROXY`, parsed.
#[derive(Clone, PartialEq, Eq)]
pub struct Chain {
    steps: Vec<Step>,
    /// The text from the first `direct` on: the go command's `GOPROXY` when it takes over
    /// (it may hold credentials, so `Debug` leaves it out).
    from_direct: Option<String>,
}

impl std::fmt::Debug for Chain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(&self.steps).finish()
    }
}

impl Chain {
    /// Reads the go command's syntax: entries separated by `,` or `|`; `direct`, `off`, or an
    /// http(s) URL (`file://` entries are the go command's: they make the chain direct).
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut steps = Vec::new();
        let mut from_direct = None;
        let mut rest = text.trim();
        while !rest.is_empty() {
            let here = rest;
            let (entry, separator, after) = match rest.find([',', '|']) {
                Some(at) => (&rest[..at], rest.as_bytes()[at], &rest[at + 1..]),
                None => (rest, b',', ""),
            };
            let entry = entry.trim();
            rest = after.trim();
            if entry.is_empty() {
                continue;
            }
            if (entry == "direct" || entry.starts_with("file://")) && from_direct.is_none() {
                from_direct = Some(here.to_string());
            }
            let entry = match entry {
                "direct" => Entry::Direct,
                "off" => Entry::Off,
                url if url.starts_with("https://") || url.starts_with("http://") => {
                    Entry::Proxy(ProxyUrl::parse(url)?)
                }
                url if url.starts_with("file://") => Entry::Direct,
                other => {
                    return Err(format!(
                        "{:?} is not a GOPROXY entry: use direct, off, or an http(s):// or file:// URL",
                        redact::credentials(other)
                    ));
                }
            };
            steps.push(Step {
                entry,
                on_any_error: separator == b'|',
            });
        }
        if steps.is_empty() {
            return Err("the upstream chain is empty".into());
        }
        Ok(Self { steps, from_direct })
    }

    /// Whether any entry is a proxy, which this module then speaks to natively.
    pub fn has_proxy(&self) -> bool {
        self.steps
            .iter()
            .any(|step| matches!(step.entry, Entry::Proxy(_)))
    }

    /// The go command's `GOPROXY` for what reaches `direct` (and for private modules): the
    /// chain from its first `direct` on; `None` when it has none (no go command is needed).
    pub fn from_direct(&self) -> Option<&str> {
        self.from_direct.as_deref()
    }
}

impl ProxyUrl {
    fn parse(text: &str) -> Result<Self, String> {
        let mut base = reqwest::Url::parse(text.trim_end_matches('/'))
            .map_err(|e| format!("{:?} is not a URL: {e}", redact::credentials(text)))?;
        if base.query().is_some() || base.fragment().is_some() || base.host_str().is_none() {
            return Err(format!(
                "{:?} is not a proxy URL (a host, a path, no query)",
                redact::credentials(text)
            ));
        }
        let credentials = (!base.username().is_empty()).then(|| {
            let user = percent_decoded(base.username());
            let password = base.password().map(percent_decoded).unwrap_or_default();
            (user, password)
        });
        let _ = base.set_username("");
        let _ = base.set_password(None);
        Ok(Self { base, credentials })
    }

    /// `base/escaped-module/<tail>`.
    fn url(&self, module: &str, tail: &str) -> String {
        format!(
            "{}/{}/{tail}",
            self.base.as_str().trim_end_matches('/'),
            escape(module)
        )
    }
}

fn percent_decoded(text: &str) -> String {
    crate::golang::path::percent_decode(text)
        .map(|decoded| decoded.into_owned())
        .unwrap_or_else(|_| text.to_string())
}

pub struct UpstreamConfig {
    /// `--upstream`.
    pub chain: Chain,
    /// `GOPRIVATE` and `GONOPROXY` patterns: these modules never go to a proxy.
    pub no_proxy: Vec<String>,
    /// Bounds every request; a zip download as a whole.
    pub timeout: Duration,
    /// Where downloads are written before they are stored.
    pub scratch_dir: PathBuf,
    /// Its `fetch` rules name the internal hosts the client may reach; its pins answer for names.
    pub policy: Arc<Policy>,
}

/// What answers for `direct`, given the chain from its `direct` entry on (`direct`, or
/// `direct,off`...): the go command here, another function on AWS. Either may be absent where
/// this process cannot fetch or resolve that way.
pub type DirectParts = (Option<Arc<dyn Fetcher>>, Option<Arc<dyn Resolver>>);

/// The parts of a miss when `upstream` names a proxy: its proxies spoken natively, their
/// downloads checked against the checksum database `GOSUMDB` names (read from `environment`,
/// as the go command reads it, reached through the databases `sumdb` proxies), and `direct`
/// (called only if the chain reaches `direct` or some modules are never sent to a proxy).
/// `None` when the chain names no proxy: then only `direct` serves.
#[allow(clippy::too_many_arguments)]
pub fn native_chain(
    upstream: &str,
    environment: &dyn Fn(&str) -> Option<String>,
    sumdb: &SumDbConfig,
    policy: Arc<Policy>,
    store: Arc<dyn BlobStore>,
    index: Arc<dyn Index>,
    timeout: Duration,
    scratch_dir: PathBuf,
    direct: &dyn Fn(&str) -> Result<DirectParts>,
) -> Result<Option<Arc<Upstream>>> {
    let chain = Chain::parse(upstream).map_err(Error::invalid)?;
    if !chain.has_proxy() {
        return Ok(None);
    }
    let no_proxy = no_proxy_patterns(environment);
    // As the go command does, modules never sent to a proxy are fetched direct whatever the
    // chain says.
    let (direct_fetcher, direct_resolver) = match chain.from_direct() {
        Some(rest) => direct(rest)?,
        None if !no_proxy.is_empty() => direct("direct")?,
        None => (None, None),
    };
    let sums = DatabaseSums::with_source(
        SumDbSettings::from_env(environment)?,
        sumdb,
        policy.clone(),
        store,
        index,
        Source::Online,
    )?;
    Ok(Some(Arc::new(Upstream::new(
        UpstreamConfig {
            chain,
            no_proxy,
            timeout,
            scratch_dir,
            policy,
        },
        Arc::new(sums),
        direct_fetcher,
        direct_resolver,
        redact::credentials(upstream),
    )?)))
}

/// Whether misses may need `direct` (the go command): the chain reaches it, or some modules are
/// never sent to a proxy (`GOPRIVATE`, `GONOPROXY`). An unreadable chain says yes: start-up
/// then reports it.
pub fn needs_direct(upstream: &str, environment: &dyn Fn(&str) -> Option<String>) -> bool {
    Chain::parse(upstream).map_or(true, |chain| {
        !chain.has_proxy()
            || chain.from_direct().is_some()
            || !no_proxy_patterns(environment).is_empty()
    })
}

/// `GONOPROXY`, else `GOPRIVATE`, as the go command reads them (an empty value counts as unset).
fn no_proxy_patterns(environment: &dyn Fn(&str) -> Option<String>) -> Vec<String> {
    let set = |name| environment(name).filter(|value: &String| !value.trim().is_empty());
    set("GONOPROXY")
        .or_else(|| set("GOPRIVATE"))
        .map(|list| crate::policy::split_patterns(&list))
        .unwrap_or_default()
}

/// The upstream chain: proxies natively, `direct` and private modules through `direct`
/// (the go command, locally or in the fetch function).
pub struct Upstream {
    config: UpstreamConfig,
    client: reqwest::Client,
    /// For proxies given credentials: redirects stay on their host.
    client_with_credentials: reqwest::Client,
    sums: Arc<dyn SumCheck>,
    direct_fetcher: Option<Arc<dyn Fetcher>>,
    direct_resolver: Option<Arc<dyn Resolver>>,
    origin: String,
}

/// What is asked of each proxy in turn.
#[derive(Clone, Copy)]
enum Question<'a> {
    List,
    Resolve(&'a str),
    Download(&'a str),
}

enum Answer {
    List(Vec<String>),
    Resolved(ResolvedVersion),
    Download(Download),
}

/// Where a question ended up: answered by a proxy, or handed to `direct`.
enum Reached {
    Answer(Answer),
    Direct,
}

impl Upstream {
    /// `direct_*` answer for the chain's `direct` entry and for private modules; `None` where
    /// this process has no go command (then such modules are not found here).
    pub fn new(
        config: UpstreamConfig,
        sums: Arc<dyn SumCheck>,
        direct_fetcher: Option<Arc<dyn Fetcher>>,
        direct_resolver: Option<Arc<dyn Resolver>>,
        origin: String,
    ) -> Result<Self> {
        let operators: Vec<(String, Option<u16>)> = config
            .chain
            .steps
            .iter()
            .filter_map(|step| match &step.entry {
                Entry::Proxy(proxy) => Some((
                    proxy.base.host_str()?.to_ascii_lowercase(),
                    proxy.base.port_or_known_default(),
                )),
                _ => None,
            })
            .collect();
        let resolver = Arc::new(GuardedResolver {
            policy: config.policy.clone(),
            operators: operators.iter().map(|(host, _)| host.clone()).collect(),
        });
        let client = |with_credentials| {
            reqwest::Client::builder()
                .dns_resolver(resolver.clone())
                .connect_timeout(CONNECT_TIMEOUT)
                .timeout(config.timeout)
                .redirect(redirect_policy(with_credentials, operators.clone()))
                .user_agent(concat!("piraeus/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(|e| {
                    Error::invalid("cannot set up the upstream HTTP client").with_source(e)
                })
        };
        Ok(Self {
            client: client(false)?,
            client_with_credentials: client(true)?,
            config,
            sums,
            direct_fetcher,
            direct_resolver,
            origin,
        })
    }

    fn private(&self, module: &str) -> bool {
        crate::policy::matching_prefix_pattern(&self.config.no_proxy, module).is_some()
    }

    /// Runs `ask` against each proxy of the chain with the go command's fallback rules.
    async fn walk(&self, module: &str, question: Question<'_>) -> Result<Reached> {
        if self.private(module) {
            return Ok(Reached::Direct);
        }
        // Like the go command, the most telling error is reported: any failure over a
        // not-found, a not-found over "lookup disabled".
        let mut best: Option<Error> = None;
        let rank = |error: &Error| match error.kind() {
            ErrorKind::NotFound | ErrorKind::Gone => 1,
            _ => 2,
        };
        for step in &self.config.chain.steps {
            let proxy = match &step.entry {
                Entry::Direct => return Ok(Reached::Direct),
                Entry::Off => {
                    return Err(best.unwrap_or_else(|| {
                        Error::not_found(format!("module lookup disabled by GOPROXY=off: {module}"))
                    }));
                }
                Entry::Proxy(proxy) => proxy,
            };
            match self.ask(proxy, module, question).await {
                Ok(answer) => return Ok(Reached::Answer(answer)),
                Err(error) => {
                    let not_found = rank(&error) == 1;
                    if best.as_ref().is_none_or(|b| rank(&error) >= rank(b)) {
                        best = Some(error);
                    }
                    if !not_found && !step.on_any_error {
                        break;
                    }
                }
            }
        }
        Err(best.unwrap_or_else(|| Error::not_found(format!("{module}: not found upstream"))))
    }

    async fn ask(&self, proxy: &ProxyUrl, module: &str, question: Question<'_>) -> Result<Answer> {
        Ok(match question {
            Question::List => Answer::List(self.list_from(proxy, module).await?),
            Question::Resolve("latest") => Answer::Resolved(self.latest_from(proxy, module).await?),
            Question::Resolve(query) => {
                let url = proxy.url(module, &format!("@v/{}.info", escape(query)));
                let (info, _) = self.info_from(proxy, &url).await?;
                // As the go command's proxy client: a canonical version valid for the path
                // names itself; another (`v3.1.0` of a path without `/v3`) is a query that may
                // resolve to `v3.1.0+incompatible`.
                if version::is_canonical(query) && check_version_fits(module, query).is_ok() {
                    expect_version(&info, query, &url)?;
                }
                Answer::Resolved(info)
            }
            Question::Download(version) => {
                Answer::Download(self.download_from(proxy, module, version).await?)
            }
        })
    }

    /// One GET, its body read whole up to `limit` bytes.
    async fn get_small(&self, proxy: &ProxyUrl, url: &str, limit: u64) -> Result<Bytes> {
        let mut response = self.send(proxy, url).await?;
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| cut_short(url, e))? {
            if body.len() as u64 + chunk.len() as u64 > limit {
                return Err(Error::upstream(format!(
                    "{} answered more than {limit} bytes",
                    shown(url)
                )));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body.into())
    }

    async fn send(&self, proxy: &ProxyUrl, url: &str) -> Result<reqwest::Response> {
        let request = match &proxy.credentials {
            Some((user, password)) => self
                .client_with_credentials
                .get(url)
                .basic_auth(user, Some(password)),
            None => self.client.get(url),
        };
        let response = request.send().await.map_err(|e| {
            let what = if e.is_timeout() {
                "timed out"
            } else if e.is_redirect() {
                "redirected where it may not go"
            } else {
                "could not be reached"
            };
            Error::upstream(format!("{} {what}", shown(url))).with_source(e)
        })?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        // The proxy's own explanation, as the go command shows it: short, plain text.
        let explanation = response
            .text()
            .await
            .unwrap_or_default()
            .chars()
            .take(300)
            .collect::<String>();
        let explanation = explanation.trim();
        let message = if explanation.is_empty() {
            format!("{} answered {status}", shown(url))
        } else {
            format!("{} answered {status}: {explanation}", shown(url))
        };
        Err(match status.as_u16() {
            404 | 410 => Error::not_found(message),
            _ => Error::upstream(message),
        })
    }

    async fn list_from(&self, proxy: &ProxyUrl, module: &str) -> Result<Vec<String>> {
        let url = proxy.url(module, "@v/list");
        let body = self.get_small(proxy, &url, MAX_LIST).await?;
        parse_list(&body).map_err(|reason| Error::upstream(format!("{}: {reason}", shown(&url))))
    }

    async fn info_from(&self, proxy: &ProxyUrl, url: &str) -> Result<(ResolvedVersion, Bytes)> {
        let body = self.get_small(proxy, url, MAX_INFO).await?;
        let info = parse_info(&body)
            .map_err(|reason| Error::upstream(format!("{}: {reason}", shown(url))))?;
        Ok((info, body))
    }

    async fn latest_from(&self, proxy: &ProxyUrl, module: &str) -> Result<ResolvedVersion> {
        match self.info_from(proxy, &proxy.url(module, "@latest")).await {
            Ok((info, _)) => Ok(info),
            // The go command's rule for a proxy without @latest: the highest release in the
            // list, else the highest pre-release; then that version's .info.
            Err(e) if e.kind() == ErrorKind::NotFound => {
                let versions = self.list_from(proxy, module).await?;
                let best = versions
                    .iter()
                    .filter(|v| version::prerelease(v).is_none())
                    .max_by(|a, b| version::compare(a, b))
                    .or_else(|| versions.iter().max_by(|a, b| version::compare(a, b)))
                    .ok_or_else(|| Error::not_found(format!("{module}: no versions upstream")))?;
                let url = proxy.url(module, &format!("@v/{}.info", escape(best)));
                let (info, _) = self.info_from(proxy, &url).await?;
                expect_version(&info, best, &url)?;
                Ok(info)
            }
            Err(e) => Err(e),
        }
    }

    async fn download_from(
        &self,
        proxy: &ProxyUrl,
        module: &str,
        version: &str,
    ) -> Result<Download> {
        let escaped = escape(version);
        let info_url = proxy.url(module, &format!("@v/{escaped}.info"));
        let (info, info_body) = self.info_from(proxy, &info_url).await?;
        expect_version(&info, version, &info_url)?;
        let mod_url = proxy.url(module, &format!("@v/{escaped}.mod"));
        let go_mod = self.get_small(proxy, &mod_url, MAX_GO_MOD).await?;
        tokio::fs::create_dir_all(&self.config.scratch_dir)
            .await
            .map_err(|e| Error::storage("scratch directory", e))?;
        let scratch = tempfile::Builder::new()
            .prefix("upstream-")
            .tempdir_in(&self.config.scratch_dir)
            .map_err(|e| Error::storage("scratch directory", e))?;
        let zip_url = proxy.url(module, &format!("@v/{escaped}.zip"));
        let zip = scratch.path().join("module.zip");
        self.save(proxy, &zip_url, &zip, MAX_ZIP).await?;
        let (checked, module_owned, version_owned) =
            (zip.clone(), module.to_string(), version.to_string());
        tokio::task::spawn_blocking(move || {
            modzip::check_zip(&checked, &module_owned, &version_owned)
        })
        .await
        .map_err(|e| Error::storage("zip check task failed", e))?
        .map_err(|reason| {
            Error::upstream(format!(
                "{}: not a valid module zip: {reason}",
                shown(&zip_url)
            ))
        })?;
        let info_path = scratch.path().join("module.info");
        let mod_path = scratch.path().join("module.mod");
        write(&info_path, &info_body).await?;
        write(&mod_path, &go_mod).await?;
        let expected = match self.sums.sums(module, version).await? {
            Sums::Recorded { zip, go_mod } => Expected::Database { zip, go_mod },
            Sums::Unchecked(reason) => Expected::Unchecked(reason),
        };
        Ok(Download {
            version: version.to_string(),
            info: info_path,
            go_mod: mod_path,
            zip,
            expected,
            scratch: Some(scratch),
        })
    }

    /// Streams a body to `path`, refusing it past `limit` bytes.
    async fn save(&self, proxy: &ProxyUrl, url: &str, path: &Path, limit: u64) -> Result<()> {
        let mut response = self.send(proxy, url).await?;
        if response
            .content_length()
            .is_some_and(|length| length > limit)
        {
            return Err(too_large(url, limit));
        }
        let mut file = tokio::fs::File::create(path)
            .await
            .map_err(|e| Error::storage("scratch file", e))?;
        let mut written = 0u64;
        while let Some(chunk) = response.chunk().await.map_err(|e| cut_short(url, e))? {
            written += chunk.len() as u64;
            if written > limit {
                return Err(too_large(url, limit));
            }
            file.write_all(&chunk)
                .await
                .map_err(|e| Error::storage("scratch file", e))?;
        }
        file.flush()
            .await
            .map_err(|e| Error::storage("scratch file", e))
    }
}

#[async_trait]
impl Resolver for Upstream {
    async fn list(&self, module: &str) -> Result<Vec<String>> {
        match self.walk(module, Question::List).await? {
            Reached::Answer(Answer::List(versions)) => Ok(versions),
            Reached::Answer(_) => unreachable!("a list question has a list answer"),
            Reached::Direct => self.direct_resolver(module)?.list(module).await,
        }
    }

    async fn resolve(&self, module: &str, query: &str) -> Result<ResolvedVersion> {
        match self.walk(module, Question::Resolve(query)).await? {
            Reached::Answer(Answer::Resolved(info)) => Ok(info),
            Reached::Answer(_) => unreachable!("a query has a version for an answer"),
            Reached::Direct => self.direct_resolver(module)?.resolve(module, query).await,
        }
    }
}

#[async_trait]
impl Fetcher for Upstream {
    async fn download(&self, module: &str, version: &str) -> Result<Download> {
        match self.walk(module, Question::Download(version)).await? {
            Reached::Answer(Answer::Download(download)) => Ok(download),
            Reached::Answer(_) => unreachable!("a download question has a download answer"),
            Reached::Direct => match &self.direct_fetcher {
                Some(fetcher) => fetcher.download(module, version).await,
                None => Err(no_direct(module)),
            },
        }
    }

    fn origin(&self) -> String {
        self.origin.clone()
    }
}

impl Upstream {
    fn direct_resolver(&self, module: &str) -> Result<&Arc<dyn Resolver>> {
        self.direct_resolver
            .as_ref()
            .ok_or_else(|| no_direct(module))
    }
}

fn no_direct(module: &str) -> Error {
    Error::not_found(format!(
        "{module} is not served by the upstream proxies, and the chain has no direct entry"
    ))
}

/// Redirects stay on https (or on plain http only from a plain-http proxy's own host, as a
/// test proxy on loopback is), within a few hops. A proxy reached with credentials may redirect
/// on its own host only: reqwest would drop the credentials elsewhere, but the answer would
/// then come from a host the operator did not name for this proxy.
///
/// A redirect to an internal address is refused unless it stays on a host and port the
/// operator named (the proxies of the chain, which tests run on loopback), as the egress guard
/// refuses it to the go command.
fn redirect_policy(
    with_credentials: bool,
    operators: Vec<(String, Option<u16>)>,
) -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(move |attempt| {
        if attempt.previous().len() > MAX_REDIRECTS {
            return attempt.error("too many redirects");
        }
        let first = &attempt.previous()[0];
        let next = attempt.url();
        let address = next.host_str().and_then(|host| {
            host.trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<std::net::IpAddr>()
                .ok()
        });
        let operators_host = next.host_str().is_some_and(|host| {
            operators.iter().any(|(named, port)| {
                named.eq_ignore_ascii_case(host) && *port == next.port_or_known_default()
            })
        });
        if !operators_host && let Some(kind) = address.and_then(crate::policy::internal_address) {
            return attempt.error(format!("a redirect to a {kind} address"));
        }
        if with_credentials && next.host_str() != first.host_str() {
            return attempt.error("a redirect to another host, from a proxy given credentials");
        }
        let allowed = next.scheme() == "https"
            || (next.scheme() == "http"
                && first.scheme() == "http"
                && next.host_str() == first.host_str());
        if allowed {
            attempt.follow()
        } else {
            attempt.error("a redirect to a plain-http URL elsewhere")
        }
    })
}

/// Resolves the names the client connects to as the egress guard resolves them for the go
/// command: a name with an internal address among its answers is refused unless the operator
/// named the host (a proxy of the chain, a `fetch` rule), so that a redirect cannot lead the
/// client to an internal service by a public-looking name. (Address literals never reach a
/// resolver: the redirect policy judges them.)
struct GuardedResolver {
    policy: Arc<Policy>,
    /// The chain's proxy hosts, lowercase.
    operators: Vec<String>,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.policy.clone();
        let host = name.as_str().to_string();
        let trusted = self
            .operators
            .iter()
            .any(|named| named.eq_ignore_ascii_case(&host));
        Box::pin(async move {
            // Port 0: reqwest sets the port of each address itself.
            match policy.egress_addresses(&host, 0, trusted).await {
                Ok(addresses) => Ok(Box::new(addresses.into_iter()) as reqwest::dns::Addrs),
                Err(refusal) => Err(refusal.reason().to_string().into()),
            }
        })
    }
}

/// A URL as a message may show it: its path on the upstream proxy, without the host (an
/// internal proxy's name is not a client's business), credentials or query.
fn shown(url: &str) -> String {
    match reqwest::Url::parse(url) {
        // Without its leading slash, or the client-facing redaction would take it for a
        // local file path.
        Ok(parsed) => format!("upstream {}", parsed.path().trim_start_matches('/')),
        Err(_) => "the upstream".to_string(),
    }
}

fn cut_short(url: &str, error: reqwest::Error) -> Error {
    Error::upstream(format!("{}: the answer was cut short", shown(url))).with_source(error)
}

fn too_large(url: &str, limit: u64) -> Error {
    Error::upstream(format!(
        "{}: larger than go's limit of {limit} bytes",
        shown(url)
    ))
}

async fn write(path: &Path, contents: &[u8]) -> Result<()> {
    tokio::fs::write(path, contents)
        .await
        .map_err(|e| Error::storage("scratch file", e))
}

/// A `@v/list` body: one canonical tagged version per line (a timestamp may follow it).
/// Pseudo-versions are dropped as the go command drops them; anything not canonical is a
/// broken upstream.
fn parse_list(body: &[u8]) -> Result<Vec<String>, String> {
    let text = std::str::from_utf8(body).map_err(|_| "the list is not UTF-8".to_string())?;
    let mut versions = Vec::new();
    for line in text.lines() {
        let Some(listed) = line.split_whitespace().next() else {
            continue;
        };
        if !version::is_canonical(listed) {
            return Err(format!(
                "the list holds {:?}, which is not a canonical version",
                crate::golang::path::cut(listed, 64)
            ));
        }
        if !version::is_pseudo_version(listed) && !versions.iter().any(|v| v == listed) {
            versions.push(listed.to_string());
        }
    }
    version::sort(&mut versions);
    Ok(versions)
}

/// A `.info` or `@latest` body: `{"Version": "...", "Time": "..."}`, the version canonical.
fn parse_info(body: &[u8]) -> Result<ResolvedVersion, String> {
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Info {
        version: String,
        time: Option<String>,
    }
    let info: Info = serde_json::from_slice(body).map_err(|e| format!("malformed JSON: {e}"))?;
    if !version::is_canonical(&info.version) {
        return Err(format!(
            "{:?} is not a canonical version",
            crate::golang::path::cut(&info.version, 64)
        ));
    }
    let time = info.time.ok_or("the answer has no Time")?;
    crate::clock::parse_since(&time).map_err(|reason| format!("Time {time:?}: {reason}"))?;
    Ok(ResolvedVersion {
        version: info.version,
        time,
    })
}

fn expect_version(info: &ResolvedVersion, asked: &str, url: &str) -> Result<()> {
    if info.version != asked {
        return Err(Error::upstream(format!(
            "{}: the answer is for {}, not {asked}",
            shown(url),
            info.version
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chains_read_as_the_go_command_reads_them() {
        let chain = Chain::parse("https://a.example,https://u:p%40ss@b.example/x|direct").unwrap();
        assert_eq!(chain.steps.len(), 3);
        assert!(!chain.steps[0].on_any_error);
        assert!(chain.steps[1].on_any_error);
        let Entry::Proxy(b) = &chain.steps[1].entry else {
            panic!("a proxy")
        };
        assert_eq!(b.base.as_str(), "https://b.example/x");
        assert_eq!(b.credentials, Some(("u".into(), "p@ss".into())));
        assert!(
            format!("{chain:?}").contains("b.example") && !format!("{chain:?}").contains("p@ss")
        );
        assert_eq!(chain.steps[2].entry, Entry::Direct);
        assert!(chain.has_proxy());
        assert_eq!(chain.from_direct(), Some("direct"));
        assert_eq!(
            Chain::parse("https://a.example,direct,https://b.example")
                .unwrap()
                .from_direct(),
            Some("direct,https://b.example")
        );
        assert!(!Chain::parse("direct").unwrap().has_proxy());
        assert_eq!(
            Chain::parse("https://a.example,off").unwrap().from_direct(),
            None
        );
        assert!(Chain::parse("ftp://x").is_err());
        assert!(Chain::parse(" , ").is_err());
        assert!(Chain::parse("https://a.example/?q=1").is_err());
    }

    #[test]
    fn lists_hold_canonical_tagged_versions() {
        assert_eq!(
            parse_list(b"v1.1.0\nv1.0.0 2024-01-01T00:00:00Z\n\nv0.0.0-20240101000000-abcdefabcdef\nv1.0.0\n"),
            Ok(vec!["v1.0.0".to_string(), "v1.1.0".to_string()])
        );
        assert!(
            parse_list(b"v1.0\n")
                .unwrap_err()
                .contains("not a canonical")
        );
        assert!(parse_list(b"master\n").is_err());
        assert!(parse_list(b"\xff\n").is_err());
    }

    #[test]
    fn info_answers_are_checked() {
        let good = parse_info(br#"{"Version":"v1.2.3","Time":"2024-01-02T03:04:05Z"}"#).unwrap();
        assert_eq!(good.version, "v1.2.3");
        for bad in [
            &br#"{"Version":"v1.2","Time":"2024-01-02T03:04:05Z"}"#[..],
            br#"{"Version":"v1.2.3"}"#,
            br#"{"Version":"v1.2.3","Time":"yesterday"}"#,
            b"<html>",
        ] {
            assert!(parse_info(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn shown_urls_carry_no_credentials() {
        assert_eq!(
            shown("https://u:secret@proxy.example/m/@v/list?token=x"),
            "upstream m/@v/list"
        );
    }
}
