//! The checksum-database proxy: `/sumdb/<name>/supported`, `lookup/...`, `latest` and `tile/...`
//! for the databases configured with `--sumdb` (golang.org/design/25530-sumdb#proxying-a-checksum-database).
//! A go command whose GOPROXY is Piraeus asks `supported` first; on 200 it sends every question
//! for that database here and never to the database itself, so a network that reaches only the
//! proxy keeps checksum verification on.
//!
//! The client verifies everything it gets (signed tree heads, tile hashes, inclusion proofs), so
//! the proxy only has to pass answers on faithfully and keep them available:
//! - Full tiles never change: stored once in the [`BlobStore`] under `sumdb/<name>/tile/...`
//!   (the request path, so S3 behind CloudFront serves them too) and served as immutable.
//! - `latest`, lookups and partial tiles change as the log grows (a lookup's record does not,
//!   but its signed tree head does): answers are reused for the answer TTL (in memory, and
//!   through the index across instances), and the last good one, kept in the index, is served
//!   with `x-piraeus-sumdb: stale` while the database cannot be reached. A partial hash tile is
//!   cut from the full tile when that is stored.
//! - Lookups name modules. A module on an internal host, matching the proxy's own GOPRIVATE or
//!   GONOSUMDB, or marked `private` (or denied) by the policy is refused with 403 before the
//!   database is asked, so private module paths never leave the network.
//! - The database is asked with a bounded, non-redirecting HTTP client; its failures become
//!   502s that name the database but not its address.

pub(crate) mod path;
pub mod verify;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use bytes::Bytes;
use quick_cache::Weighter;
use quick_cache::sync::Cache;

use crate::clock::{millis, now_millis};
use crate::error::{Error, ErrorKind, Result};
use crate::golang::path::{percent_decode, quoted};
use crate::index::{AnswerKey, CachedAnswer, Index};
use crate::policy::{self, Decision, Policy};
use crate::redact;
use crate::store::{BlobHeaders, BlobSource, BlobStore, IMMUTABLE, PutOutcome, read_blob};
use crate::turns::{CacheOutcome, TurnEntry, Turns};

pub(crate) use path::{Endpoint, Tile};

/// Longest raw request path accepted, as for GOPROXY paths.
const MAX_PATH_BYTES: usize = 4096;
/// Largest `latest` or lookup answer taken from a database (real ones are well under 1 KiB).
const MAX_TEXT_BYTES: u64 = 64 * 1024;
/// Largest tile taken from a database: a full hash tile of height 8 is 8 KiB, a data tile of
/// sum.golang.org some tens of KiB. Also keeps every answer well inside a Lambda response.
const MAX_TILE_BYTES: u64 = 2 * 1024 * 1024;
/// Memory for recent `latest`, lookup and partial-tile answers.
const RECENT_BYTES: u64 = 16 * 1024 * 1024;
/// How long a database that could not be connected to (or timed out) is not asked again: its
/// last answers are served at once meanwhile, instead of after a timeout each.
const UNREACHABLE_BACKOFF: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

const TEXT: &str = "text/plain; charset=utf-8";
const BINARY: &str = "application/octet-stream";

/// One proxied checksum database: its name, as in GOSUMDB and in `/sumdb/<name>/`, and the
/// URL its endpoints are under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SumDatabase {
    pub name: String,
    pub url: String,
}

/// The `--sumdb` / `PIRAEUS_SUMDB` parser: `NAME=URL` entries separated by commas, or `off`
/// for none.
pub fn parse_databases(text: &str) -> Result<Vec<SumDatabase>, String> {
    let text = text.trim();
    if text == "off" {
        return Ok(Vec::new());
    }
    let mut databases: Vec<SumDatabase> = Vec::new();
    for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let Some((name, url)) = entry.split_once('=') else {
            return Err(format!(
                "{:?} is not NAME=URL (e.g. sum.golang.org=https://sum.golang.org), or off",
                redact::credentials(entry)
            ));
        };
        let name = name.trim();
        check_name(name)?;
        let url = check_url(url.trim())?;
        if databases.iter().any(|database| database.name == name) {
            return Err(format!("checksum database {name} is given twice"));
        }
        databases.push(SumDatabase {
            name: name.to_string(),
            url,
        });
    }
    if databases.is_empty() {
        return Err("no checksum database given: use NAME=URL, or off for none".into());
    }
    Ok(databases)
}

/// A database name as the go command accepts one (`host[/path]`), restricted to lower-case
/// ASCII so that it is also a safe storage key, and without an element `lookup`, so that the
/// first `/lookup/` of a path under `/sumdb/` ends the name: the CloudFront viewer-request
/// function finds the module of a lookup that way, without knowing the names.
fn check_name(name: &str) -> Result<(), String> {
    let bad = |why: &str| Err(format!("checksum database name {name:?} {why}"));
    if name.is_empty() || name.len() > 200 {
        return bad("must have 1 to 200 characters");
    }
    if name.split('/').any(|element| element == "lookup") {
        return bad("has an element `lookup`, which would make its lookups ambiguous");
    }
    for (position, element) in name.split('/').enumerate() {
        let allowed = |c: char| {
            c.is_ascii_lowercase()
                || c.is_ascii_digit()
                || c == '.'
                || c == '-'
                || (position > 0 && (c == '_' || c == '~'))
        };
        if element.is_empty() || element.starts_with(['.', '-']) || !element.chars().all(allowed) {
            return bad(
                "is not host[/path] in lower-case letters, digits, dots and dashes (like sum.golang.org)",
            );
        }
    }
    Ok(())
}

/// An http(s) URL without query or fragment, returned without a trailing slash.
fn check_url(url: &str) -> Result<String, String> {
    let shown = redact::credentials(url);
    let parsed = reqwest::Url::parse(url).map_err(|_| format!("{shown:?} is not a URL"))?;
    if !matches!(parsed.scheme(), "http" | "https")
        || parsed.host_str().is_none_or(str::is_empty)
        || parsed.query().is_some()
        || parsed.fragment().is_some()
    {
        return Err(format!(
            "{shown:?} is not an http(s) URL without query or fragment"
        ));
    }
    Ok(url.trim_end_matches('/').to_string())
}

/// What the checksum-database proxy needs to start: the databases, the proxy's own
/// GOPRIVATE/GONOSUMDB patterns, and how long changing answers are reused.
#[derive(Debug, Clone)]
pub struct SumDbConfig {
    pub databases: Vec<SumDatabase>,
    /// Lookups of matching modules are refused (GOPRIVATE and GONOSUMDB together).
    pub private_patterns: Vec<String>,
    /// How long `latest`, lookups and partial tiles are reused before the database is asked
    /// again (the answer TTL); also their `Cache-Control: max-age`.
    pub ttl: Duration,
}

impl SumDbConfig {
    /// The databases with GOPRIVATE and GONOSUMDB read through `environment` (the process
    /// environment, as the go command reads them; `go env -w` files are not read).
    pub fn new(
        databases: Vec<SumDatabase>,
        ttl: Duration,
        environment: &dyn Fn(&str) -> Option<String>,
    ) -> Self {
        let private_patterns = ["GOPRIVATE", "GONOSUMDB"]
            .into_iter()
            .filter_map(environment)
            .flat_map(|list| policy::split_patterns(&list))
            .collect();
        Self {
            databases,
            private_patterns,
            ttl,
        }
    }
}

/// A checksum database's answer as the router serves it.
pub(crate) struct SumDbAnswer {
    pub body: Bytes,
    pub content_type: &'static str,
    /// A full tile: served with [`IMMUTABLE`]. Everything else may change.
    pub immutable: bool,
    /// `Stale`: the database could not be reached; this is the last answer it gave.
    pub outcome: CacheOutcome,
}

/// A recent answer in memory, and when the database gave it (Unix ms).
#[derive(Clone)]
struct Recent {
    body: Bytes,
    fetched_at: i64,
}

#[derive(Clone)]
struct ByBytes;

impl Weighter<String, Recent> for ByBytes {
    fn weight(&self, key: &String, recent: &Recent) -> u64 {
        (key.len() + recent.body.len() + 64) as u64
    }
}

/// What a database's 200 answer must look like before it is served, kept or stored: a captive
/// portal's HTML page or a truncated body is an upstream failure, not the last good answer.
#[derive(Clone, Copy)]
enum Expect {
    /// A signed tree head: tlog.FormatTree's text, then the signature.
    Latest,
    /// A record id line, the record, then a signed tree head.
    Lookup,
    /// Exactly this many bytes of hashes.
    Hashes(u64),
    /// Record data of a data tile.
    Data,
}

impl Expect {
    fn for_endpoint(endpoint: &Endpoint) -> Self {
        match endpoint {
            Endpoint::Latest | Endpoint::Supported => Expect::Latest,
            Endpoint::Lookup { .. } => Expect::Lookup,
            Endpoint::Tile(tile) => tile.hash_bytes().map_or(Expect::Data, Expect::Hashes),
        }
    }

    fn max_bytes(self) -> u64 {
        match self {
            Expect::Latest | Expect::Lookup => MAX_TEXT_BYTES,
            Expect::Hashes(bytes) => bytes,
            Expect::Data => MAX_TILE_BYTES,
        }
    }

    /// Hash tiles are binary and kept base64-encoded in the index; the rest is text.
    fn is_binary(self) -> bool {
        matches!(self, Expect::Hashes(_))
    }

    fn content_type(self) -> &'static str {
        if self.is_binary() { BINARY } else { TEXT }
    }

    fn accepts(self, body: &[u8]) -> bool {
        let text = || std::str::from_utf8(body).ok();
        let starts_with_id = |text: &str| {
            text.split_once('\n')
                .is_some_and(|(id, _)| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()))
        };
        match self {
            Expect::Latest => text().is_some_and(|text| text.starts_with("go.sum database tree\n")),
            Expect::Lookup => text().is_some_and(starts_with_id),
            Expect::Hashes(bytes) => body.len() as u64 == bytes,
            Expect::Data => !body.is_empty(),
        }
    }
}

/// The checksum-database proxy over the proxy's store and index.
pub(crate) struct Mirror {
    databases: Vec<SumDatabase>,
    private_patterns: Vec<String>,
    ttl: Duration,
    client: reqwest::Client,
    store: Arc<dyn BlobStore>,
    index: Arc<dyn Index>,
    recent: Cache<String, Recent, ByBytes>,
    /// Per database name: not asked again before this instant.
    unreachable_until: Mutex<HashMap<String, Instant>>,
    /// One question per changing answer at a time; the others wait for its answer.
    asking: Turns<AnswerKey>,
}

impl Mirror {
    pub(crate) fn new(
        config: SumDbConfig,
        store: Arc<dyn BlobStore>,
        index: Arc<dyn Index>,
    ) -> Result<Self> {
        // Each flag's value is checked alone; repeated flags can still name one database twice.
        for (position, database) in config.databases.iter().enumerate() {
            if config.databases[..position]
                .iter()
                .any(|earlier| earlier.name == database.name)
            {
                return Err(Error::invalid(format!(
                    "checksum database {} is given twice",
                    database.name
                )));
            }
        }
        let client = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            // An answer is the database's own: a redirect elsewhere is not followed.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("piraeus/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| {
                Error::invalid("cannot set up the checksum database HTTP client").with_source(e)
            })?;
        Ok(Self {
            databases: config.databases,
            private_patterns: config.private_patterns,
            ttl: config.ttl,
            client,
            store,
            index,
            recent: Cache::with_weighter(4096, RECENT_BYTES, ByBytes),
            unreachable_until: Mutex::new(HashMap::new()),
            asking: Mutex::new(HashMap::new()),
        })
    }

    /// How long changing answers are reused: also their `Cache-Control: max-age`.
    pub(crate) fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Parses a raw request path under `/sumdb/`: the database (404 unless configured, so the
    /// go command asks the database itself) and the endpoint (400 when malformed).
    pub(crate) fn route(&self, raw_path: &str) -> Result<(&SumDatabase, Endpoint)> {
        if raw_path.len() > MAX_PATH_BYTES {
            return Err(Error::invalid(format!(
                "path is longer than {MAX_PATH_BYTES} bytes"
            )));
        }
        let path = percent_decode(raw_path)?;
        let Some(rest) = path.strip_prefix("/sumdb/") else {
            return Err(Error::not_found("not a checksum database path"));
        };
        let database = self
            .databases
            .iter()
            .filter(|database| {
                rest.strip_prefix(database.name.as_str())
                    .is_some_and(|after| after.starts_with('/'))
            })
            .max_by_key(|database| database.name.len());
        let Some(database) = database else {
            let name = rest.split('/').next().unwrap_or_default();
            return Err(Error::not_found(format!(
                "this proxy does not proxy checksum database {}",
                quoted(name)
            )));
        };
        let endpoint = Endpoint::parse(&rest[database.name.len() + 1..])?;
        Ok((database, endpoint))
    }

    /// The answer to a parsed request.
    pub(crate) async fn answer(
        &self,
        database: &SumDatabase,
        endpoint: &Endpoint,
        policy: &Policy,
    ) -> Result<SumDbAnswer> {
        match endpoint {
            Endpoint::Supported => Ok(SumDbAnswer {
                body: Bytes::new(),
                content_type: TEXT,
                immutable: false,
                outcome: CacheOutcome::Hit,
            }),
            Endpoint::Lookup { module, .. } => {
                self.refuse_private(database, module, policy)?;
                self.changing(database, endpoint).await
            }
            Endpoint::Latest => self.changing(database, endpoint).await,
            Endpoint::Tile(tile) if tile.is_full() => self.full_tile(database, tile).await,
            Endpoint::Tile(tile) => self.partial_tile(database, tile).await,
        }
    }

    /// 403 for a module whose name must not reach the database.
    fn refuse_private(&self, database: &SumDatabase, module: &str, policy: &Policy) -> Result<()> {
        let name = &database.name;
        let refusal = |why: String, pattern: &str| {
            Err(Error::forbidden(format!(
                "{why}, so this proxy does not look it up in checksum database {name}: set \
                 GONOSUMDB={pattern} (or GOPRIVATE={pattern} with GONOPROXY=none) in the go \
                 command's environment, and it will not ask"
            )))
        };
        if let Some(pattern) = policy::matching_prefix_pattern(&self.private_patterns, module) {
            return refusal(
                format!("{module} matches {pattern:?} in the proxy's GOPRIVATE or GONOSUMDB"),
                pattern,
            );
        }
        if let Some((why, pattern)) = policy.private_reason(module) {
            return refusal(why, &pattern);
        }
        if let Decision::Deny(message) = policy.decide(module) {
            return Err(Error::forbidden(message));
        }
        Ok(())
    }

    /// A full tile: from the store, else from the database and then stored for good.
    async fn full_tile(&self, database: &SumDatabase, tile: &Tile) -> Result<SumDbAnswer> {
        let expect = Expect::for_endpoint(&Endpoint::Tile(*tile));
        check_size(database, tile, expect)?;
        let immutable = |body: Bytes, outcome| SumDbAnswer {
            body,
            content_type: expect.content_type(),
            immutable: true,
            outcome,
        };
        let key = tile_key(database, tile);
        if let Some(body) = self.stored(&key).await {
            return Ok(immutable(body, CacheOutcome::Hit));
        }
        let body = self.fetch(database, &tile.path(), expect).await?;
        let headers = BlobHeaders {
            content_type: Some(expect.content_type()),
            cache_control: Some(IMMUTABLE),
        };
        match self
            .store
            .put_if_absent(&key, BlobSource::Bytes(body.clone()), headers)
            .await
        {
            Ok(PutOutcome::Created) => {}
            // Stored by someone else meanwhile: what is stored is what is served, always.
            Ok(PutOutcome::AlreadyExists) => {
                if let Some(stored) = self.stored(&key).await {
                    if stored != body {
                        tracing::error!(
                            alarm = "integrity",
                            database = %database.name,
                            key,
                            "the checksum database served different bytes for a full tile already stored; serving the stored tile"
                        );
                    }
                    return Ok(immutable(stored, CacheOutcome::Hit));
                }
            }
            Err(error) => {
                tracing::warn!(database = %database.name, key, error = %error.chain(), "cannot store a full checksum database tile; serving it anyway");
            }
        }
        Ok(immutable(body, CacheOutcome::Miss))
    }

    /// A partial tile: cut from the stored full tile when there is one (a partial hash tile is
    /// a prefix of it), else like any changing answer.
    async fn partial_tile(&self, database: &SumDatabase, tile: &Tile) -> Result<SumDbAnswer> {
        let expect = Expect::for_endpoint(&Endpoint::Tile(*tile));
        check_size(database, tile, expect)?;
        if let Expect::Hashes(bytes) = expect
            && let Some(full) = self.stored(&tile_key(database, &tile.full())).await
            && full.len() as u64 >= bytes
        {
            return Ok(SumDbAnswer {
                body: full.slice(..bytes as usize),
                content_type: BINARY,
                immutable: false,
                outcome: CacheOutcome::Hit,
            });
        }
        self.changing(database, &Endpoint::Tile(*tile)).await
    }

    /// A stored blob's bytes; `None` when absent or unreadable (then the database is asked).
    async fn stored(&self, key: &str) -> Option<Bytes> {
        match read_blob(self.store.as_ref(), key).await {
            Ok(bytes) => Some(bytes),
            Err(error) if error.kind() == ErrorKind::NotFound => None,
            Err(error) => {
                tracing::warn!(key, error = %error.chain(), "cannot read a stored checksum database tile; asking the database");
                None
            }
        }
    }

    /// `latest`, a lookup or a partial tile: a recent answer (this process's, else the
    /// index's) within the TTL; else the database's, remembered in memory and the index; else,
    /// when the database fails, the last answer however old.
    async fn changing(&self, database: &SumDatabase, endpoint: &Endpoint) -> Result<SumDbAnswer> {
        let expect = Expect::for_endpoint(endpoint);
        let path = endpoint.path();
        let memory_key = format!("{} {path}", database.name);
        let answer_key = AnswerKey::SumDb {
            name: database.name.clone(),
            path: path.clone(),
        };
        let ttl = millis(self.ttl);
        let answer = |recent: Recent, outcome| SumDbAnswer {
            body: recent.body,
            content_type: expect.content_type(),
            immutable: false,
            outcome,
        };
        let mut last = self.recent.get(&memory_key);
        if let Some(recent) = &last
            && now_millis() - recent.fetched_at < ttl
        {
            return Ok(answer(recent.clone(), CacheOutcome::Hit));
        }
        // Another instance may have asked since; and after a restart this is the only copy.
        match self.index.cached_answer(&answer_key).await {
            Ok(Some(cached)) => match decode(&cached, expect) {
                Some(recent)
                    if last
                        .as_ref()
                        .is_none_or(|l| l.fetched_at < recent.fetched_at) =>
                {
                    last = Some(recent);
                }
                Some(_) => {}
                None => tracing::warn!(
                    key = answer_key.storage_key(),
                    "a kept checksum database answer does not decode; ignoring it"
                ),
            },
            Ok(None) => {}
            Err(error) => {
                tracing::warn!(error = %error.chain(), "cannot read kept checksum database answers; asking the database");
            }
        }
        if let Some(recent) = &last
            && now_millis() - recent.fetched_at < ttl
        {
            self.recent.insert(memory_key, recent.clone());
            return Ok(answer(recent.clone(), CacheOutcome::Hit));
        }
        // Many clients ask for `latest` at once as the log grows: one asks the database.
        let turn = TurnEntry::enter(&self.asking, &answer_key);
        let _turn = turn.lock.lock().await;
        if let Some(recent) = self.recent.get(&memory_key)
            && now_millis() - recent.fetched_at < ttl
        {
            return Ok(answer(recent, CacheOutcome::Hit));
        }
        match self.fetch(database, &path, expect).await {
            Ok(body) => {
                let recent = Recent {
                    body,
                    fetched_at: now_millis(),
                };
                self.recent.insert(memory_key, recent.clone());
                let kept = CachedAnswer {
                    body: encode(&recent.body, expect),
                    fetched_at: recent.fetched_at,
                };
                if let Err(error) = self.index.put_cached_answer(&answer_key, &kept).await {
                    tracing::warn!(error = %error.chain(), "cannot keep a checksum database answer; it will not be served while the database is down");
                }
                Ok(answer(recent, CacheOutcome::Miss))
            }
            Err(error) if error.kind() == ErrorKind::Upstream => match last {
                Some(recent) => {
                    tracing::warn!(database = %database.name, path, error = %error.chain(), "the checksum database failed; serving its last answer");
                    self.recent.insert(memory_key, recent.clone());
                    Ok(answer(recent, CacheOutcome::Stale))
                }
                None => Err(error),
            },
            Err(error) => Err(error),
        }
    }

    /// One GET of `path` from the database: its body when it answers 200 with what `expect`
    /// describes, within the size bound. 404 and 410 keep their meaning (and the database's
    /// first line of explanation); anything else is an upstream failure.
    async fn fetch(&self, database: &SumDatabase, path: &str, expect: Expect) -> Result<Bytes> {
        let name = &database.name;
        if self.is_unreachable(name) {
            return Err(Error::upstream(format!(
                "checksum database {name} could not be reached moments ago; retry shortly"
            )));
        }
        let url = format!("{}/{path}", database.url);
        let sent = self.client.get(&url).send().await;
        let mut response = match sent {
            Ok(response) => response,
            Err(error) => {
                if error.is_connect() || error.is_timeout() {
                    self.mark_unreachable(name);
                }
                return Err(Error::upstream(format!(
                    "checksum database {name} did not answer; retry later"
                ))
                .with_source(error.without_url()));
            }
        };
        let status = response.status();
        if !status.is_success() {
            let explanation = self.explanation(database, response).await;
            return Err(match status.as_u16() {
                404 => Error::not_found(format!("checksum database {name}: {explanation}")),
                410 => Error::gone(format!("checksum database {name}: {explanation}")),
                300..=399 => Error::upstream(format!(
                    "checksum database {name} answered with a redirect, which this proxy does not follow"
                )),
                _ => Error::upstream(format!(
                    "checksum database {name} answered {status}; retry later"
                ))
                .with_source(explanation),
            });
        }
        let limit = expect.max_bytes();
        let too_large = || {
            Error::upstream(format!(
                "checksum database {name} answered with more than {limit} bytes"
            ))
        };
        if response
            .content_length()
            .is_some_and(|length| length > limit)
        {
            return Err(too_large());
        }
        let mut body = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if (body.len() + chunk.len()) as u64 > limit {
                        return Err(too_large());
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(error) => {
                    if error.is_timeout() {
                        self.mark_unreachable(name);
                    }
                    return Err(Error::upstream(format!(
                        "checksum database {name} stopped answering; retry later"
                    ))
                    .with_source(error.without_url()));
                }
            }
        }
        if !expect.accepts(&body) {
            return Err(Error::upstream(format!(
                "checksum database {name} answered {} with something that is not a checksum database answer",
                quoted(path)
            )));
        }
        Ok(body.into())
    }

    /// The first line of an error answer, short, printable and without the database's address.
    async fn explanation(&self, database: &SumDatabase, mut response: reqwest::Response) -> String {
        let mut head = Vec::new();
        while head.len() < 512 {
            match response.chunk().await {
                Ok(Some(chunk)) => head.extend_from_slice(&chunk),
                _ => break,
            }
        }
        head.truncate(512);
        let text = String::from_utf8_lossy(&head);
        let line: String = text
            .lines()
            .next()
            .unwrap_or_default()
            .chars()
            .filter(|c| !c.is_control())
            .take(300)
            .collect();
        let line = redact::upstream_hosts(&line, &database.url);
        if line.trim().is_empty() {
            format!("{} (no explanation)", response.status().as_u16())
        } else {
            line
        }
    }

    fn is_unreachable(&self, name: &str) -> bool {
        let until = self
            .unreachable_until
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        until.get(name).is_some_and(|until| Instant::now() < *until)
    }

    fn mark_unreachable(&self, name: &str) {
        let mut until = self
            .unreachable_until
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        until.insert(name.to_string(), Instant::now() + UNREACHABLE_BACKOFF);
    }
}

/// Where a full tile is stored: its request path, so a store behind a CDN serves it at the same
/// URL. A module path's first element always holds a dot, so `sumdb/...` is never a module's.
pub(crate) fn tile_key(database: &SumDatabase, tile: &Tile) -> String {
    format!("sumdb/{}/{}", database.name, tile.path())
}

/// Refuses tiles larger than the proxy passes on, before asking anyone.
fn check_size(database: &SumDatabase, tile: &Tile, expect: Expect) -> Result<()> {
    match expect {
        Expect::Hashes(bytes) if bytes > MAX_TILE_BYTES => Err(Error::invalid(format!(
            "tile {} of checksum database {} would be {bytes} bytes; this proxy passes on tiles of at most {MAX_TILE_BYTES}",
            tile.path(),
            database.name
        ))),
        _ => Ok(()),
    }
}

fn encode(body: &Bytes, expect: Expect) -> String {
    if expect.is_binary() {
        base64::engine::general_purpose::STANDARD.encode(body)
    } else {
        String::from_utf8_lossy(body).into_owned()
    }
}

fn decode(cached: &CachedAnswer, expect: Expect) -> Option<Recent> {
    let body: Bytes = if expect.is_binary() {
        base64::engine::general_purpose::STANDARD
            .decode(&cached.body)
            .ok()?
            .into()
    } else {
        Bytes::from(cached.body.clone())
    };
    expect.accepts(&body).then_some(Recent {
        body,
        fetched_at: cached.fetched_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn databases_parse_from_flags_and_variables() {
        assert_eq!(
            parse_databases("sum.golang.org=https://sum.golang.org/").unwrap(),
            [SumDatabase {
                name: "sum.golang.org".into(),
                url: "https://sum.golang.org".into()
            }]
        );
        let two = parse_databases(
            " sum.golang.org=https://sum.golang.google.cn , sum.corp.example/db=http://10.0.0.5:8080/sumdb",
        )
        .unwrap();
        assert_eq!(two.len(), 2);
        assert_eq!(two[1].name, "sum.corp.example/db");
        assert_eq!(two[1].url, "http://10.0.0.5:8080/sumdb");
        assert!(parse_databases("off").unwrap().is_empty());
        for bad in [
            "",
            ",",
            "sum.golang.org",
            "=https://sum.golang.org",
            "Sum.golang.org=https://x",
            "sum golang=https://x",
            ".sum=https://x",
            "sum.golang.org/=https://x",
            "sum.golang.org//x=https://x",
            "sum.corp.example/lookup=https://x",
            "lookup/db=https://x",
            "../x=https://x",
            "sum.golang.org=sum.golang.org",
            "sum.golang.org=ftp://sum.golang.org",
            "sum.golang.org=https://",
            "sum.golang.org=https://x/?q=1",
            "a.org=https://a.org,a.org=https://b.org",
        ] {
            assert!(parse_databases(bad).is_err(), "{bad:?}");
        }
        let error = parse_databases("x.org=https://user:secret@").unwrap_err();
        assert!(!error.contains("secret"), "{error}");
    }

    #[test]
    fn private_patterns_come_from_goprivate_and_gonosumdb() {
        let environment = |name: &str| match name {
            "GOPRIVATE" => Some("corp.example.com,*.internal.example".to_string()),
            "GONOSUMDB" => Some("github.com/corp/*".to_string()),
            _ => None,
        };
        let config = SumDbConfig::new(Vec::new(), Duration::from_secs(1), &environment);
        assert_eq!(
            config.private_patterns,
            [
                "corp.example.com",
                "*.internal.example",
                "github.com/corp/*"
            ]
        );
    }

    #[test]
    fn answers_are_checked_before_they_are_kept() {
        assert!(Expect::Latest.accepts(b"go.sum database tree\n5\nabc=\n\n\xe2\x80\x94 x sig\n"));
        assert!(!Expect::Latest.accepts(b"<html>portal</html>"));
        assert!(Expect::Lookup.accepts(b"12\nexample.com/m v1.0.0 h1:x=\n"));
        assert!(!Expect::Lookup.accepts(b"\nexample.com/m v1.0.0 h1:x=\n"));
        assert!(!Expect::Lookup.accepts(b"<html>\n"));
        assert!(Expect::Hashes(64).accepts(&[0; 64]));
        assert!(!Expect::Hashes(64).accepts(&[0; 63]));
        assert!(!Expect::Data.accepts(b""));
        let tile = Bytes::from(vec![7u8; 64]);
        let kept = CachedAnswer {
            body: encode(&tile, Expect::Hashes(64)),
            fetched_at: 5,
        };
        assert_eq!(decode(&kept, Expect::Hashes(64)).unwrap().body, tile);
        assert!(decode(&kept, Expect::Hashes(32)).is_none());
    }

    #[test]
    fn full_tiles_are_stored_at_their_request_path() {
        let database = SumDatabase {
            name: "sum.golang.org".into(),
            url: "https://sum.golang.org".into(),
        };
        let tile = Tile::parse("tile/8/1/x001/234").unwrap();
        let key = tile_key(&database, &tile);
        assert_eq!(key, "sumdb/sum.golang.org/tile/8/1/x001/234");
        crate::store::check_key(&key).unwrap();
        let data = Tile::parse("tile/8/data/000").unwrap();
        crate::store::check_key(&tile_key(&database, &data)).unwrap();
    }
}
