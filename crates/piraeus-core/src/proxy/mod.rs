//! The GOPROXY protocol over the storage, index and fetch traits. Knows nothing of HTTP; the
//! router in [`crate::http`] maps its answers and errors to responses.

mod hits;
mod ready;

use std::collections::HashMap;
use std::future::Future;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tracing::Instrument;

use crate::clock::{millis, now_millis};
use crate::error::{Error, ErrorKind, Result};
use crate::fetch::{FetchTrigger, ResolvedVersion, Resolver};
use crate::golang::version;
use crate::index::{
    AnswerKey, CachedAnswer, FeedCursor, FetchFailure, Index, StoredVersion, VersionStatus,
};
use crate::policy::{Decision, DownloadMode, Policy};
use crate::proxy::hits::{HitCache, SMALL_ARTIFACT_MAX};
use crate::proxy::ready::ReadyVersion;
pub(crate) use crate::proxy::ready::{Validators, artifact_size};
use crate::store::{ArtifactKind, Blob, BlobStore, artifact_key};
use crate::sumdb::{Mirror, SumDbConfig};
use crate::telemetry::metrics;
use crate::turns::{CacheOutcome, TurnEntry, Turns};
use bytes::Bytes;

#[derive(Debug, Clone)]
pub struct ProxySettings {
    /// How long list, latest and query answers are served without asking upstream again.
    pub answer_ttl: Duration,
    /// How long upstream's "no such module or query" is remembered, so the path-prefix lookups
    /// the go command makes on every build do not run the go command every time.
    pub not_found_ttl: Duration,
    /// How long a request waits for a fetch (its own or another instance's) before giving up.
    pub wait_timeout: Duration,
    /// How long a fetch lease lasts; a crashed fetch is retried after it. Longer than the
    /// fetch timeout, so a slow but live fetch is never run twice.
    pub lease_duration: Duration,
    /// How long a failed fetch is answered from the index before upstream is asked again.
    pub failure_ttl: Duration,
    /// Names this instance in fetch leases.
    pub instance: String,
    /// Whether a request for a version not yet stored waits for its fetch.
    pub download_mode: DownloadMode,
    /// Zips larger than this are answered with a redirect to their own path, for a server
    /// behind something that serves the store itself (the serve function, whose response
    /// cannot carry more than about 6 MB, behind CloudFront, which serves the bucket and checks
    /// the token again); `None` streams all.
    pub redirect_zips_over: Option<u64>,
    /// Bytes of memory for ready records and small artifacts kept for hits; 0 keeps none.
    pub cache_size: u64,
}

/// How long one instance may ask upstream for an answer before another may ask too. Lookups
/// take seconds; one that takes longer is asked again, not waited for forever.
const REFRESH_LEASE: Duration = Duration::from_secs(30);

/// The fetch lease for a given fetch timeout: long enough that a slow but live fetch, with
/// its hashing and uploads after the go command ends, is never run twice; short enough that a
/// crashed fetch is retried soon.
pub fn lease_for(fetch_timeout: Duration) -> Duration {
    fetch_timeout + (fetch_timeout / 4).clamp(Duration::from_secs(5), Duration::from_secs(60))
}

/// `hostname-pid`, unique enough among instances sharing one index.
pub fn default_instance_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    format!("{}-{}", host.trim(), std::process::id())
}

/// Where a version stands after [`Proxy::start_fetch`] looked at it once.
pub(crate) enum FetchState {
    Stored(StoredVersion),
    /// A fetch is under way: one this call started, or another holder's live lease.
    Fetching,
    /// The last fetch failed recently; the error says why.
    Failed(Error),
}

/// A canonical artifact (or the range of it asked for): its bytes in memory, streamed from the
/// store, or `Elsewhere`: too large for us, and in the store, so that asking for the same path
/// again through whatever serves the store gets it.
pub(crate) enum Artifact {
    Bytes(Bytes),
    Blob(Blob),
    Elsewhere,
}

pub(crate) struct Served<T> {
    pub value: T,
    pub outcome: CacheOutcome,
}

fn served<T>(value: T, outcome: CacheOutcome) -> Served<T> {
    Served { value, outcome }
}

pub struct Proxy {
    store: Arc<dyn BlobStore>,
    index: Arc<dyn Index>,
    resolver: Arc<dyn Resolver>,
    trigger: Arc<dyn FetchTrigger>,
    settings: ProxySettings,
    policy: Arc<Policy>,
    hits: HitCache,
    leases_taken: AtomicU64,
    /// One refresh of a list, latest or query answer at a time per key in this process; the
    /// others wait for it and read what it remembered. Entries live while a refresh runs.
    refreshing: Turns<AnswerKey>,
    /// The checksum-database proxy; `None`: no database is proxied (every `/sumdb/` is 404).
    sumdb: Option<Mirror>,
}

/// What the answer cache holds for a key: upstream's answer, or that upstream said there is no
/// such module or query. A list is lines of versions and a resolution is JSON, so neither can
/// start with the mark.
enum Remembered {
    Answer(String),
    NotFound(String),
}

/// Index pages read for one `/index` answer at the most, when the policy denies what they hold.
const FEED_PAGES: usize = 10;

const NOT_FOUND_MARK: &str = "!not-found\n";

impl Remembered {
    fn of(answer: &CachedAnswer) -> Self {
        match answer.body.strip_prefix(NOT_FOUND_MARK) {
            Some(message) => Remembered::NotFound(message.to_string()),
            None => Remembered::Answer(answer.body.clone()),
        }
    }
}

/// Why an answer could not be given, and the last good answer to fall back on.
struct Unanswered {
    error: Error,
    last: Option<String>,
}

/// Every method takes module paths and versions already validated by the caller (the router's
/// route parser): they are used as storage keys and go command arguments.
impl Proxy {
    pub fn new(
        store: Arc<dyn BlobStore>,
        index: Arc<dyn Index>,
        resolver: Arc<dyn Resolver>,
        trigger: Arc<dyn FetchTrigger>,
        settings: ProxySettings,
    ) -> Self {
        Self {
            store,
            index,
            resolver,
            trigger,
            hits: HitCache::new(settings.cache_size),
            settings,
            policy: Arc::default(),
            leases_taken: AtomicU64::new(0),
            refreshing: Mutex::new(HashMap::new()),
            sumdb: None,
        }
    }

    /// Proxies the checksum databases of `config` under `/sumdb/<name>/`, keeping full tiles
    /// in this proxy's store and the last answers in its index.
    pub fn with_sumdb(mut self, config: SumDbConfig) -> Result<Self> {
        self.sumdb = if config.databases.is_empty() {
            None
        } else {
            Some(Mirror::new(config, self.store.clone(), self.index.clone())?)
        };
        Ok(self)
    }

    pub(crate) fn sumdb(&self) -> Option<&Mirror> {
        self.sumdb.as_ref()
    }

    /// Applies a module policy (the default has no rules: every module not on an internal host
    /// is fetched in the global download mode).
    pub fn with_policy(mut self, policy: impl Into<Arc<Policy>>) -> Self {
        self.policy = policy.into();
        self
    }

    pub(crate) fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Whether upstream may be asked about `module`: false when the policy serves it only from
    /// storage; an error when the policy refuses it outright.
    fn may_fetch(&self, module: &str) -> Result<bool> {
        match self.policy.decide(module) {
            Decision::Deny(message) => Err(Error::forbidden(message)),
            Decision::CachedOnly | Decision::Redirect(_) => Ok(false),
            Decision::Fetch(_) => Ok(true),
        }
    }

    fn download_mode(&self, module: &str) -> DownloadMode {
        match self.policy.decide(module) {
            Decision::Fetch(Some(mode)) => mode,
            _ => self.settings.download_mode,
        }
    }

    /// How long list, latest and query answers are reused: also how long clients may cache them.
    pub fn answer_ttl(&self) -> Duration {
        self.settings.answer_ttl
    }

    /// Storage and index are reachable.
    pub async fn check(&self) -> Result<()> {
        self.store.check().await?;
        self.index.check().await
    }

    /// Stored versions in ingest order, strictly after `after`, at most `limit` (`GET /index`),
    /// less those the policy denies now and those `shown` leaves out (a scoped token's view):
    /// the feed must not tell what a client may not fetch.
    /// A page read from the index may be all denied, so this reads on, but at most
    /// [`FEED_PAGES`] pages for one answer (an outsider's request costs a bounded amount); a
    /// shorter answer then still ends with the last entry a client may see.
    pub(crate) async fn feed(
        &self,
        after: Option<&FeedCursor>,
        limit: usize,
        shown: impl Fn(&str) -> bool,
    ) -> Result<Vec<StoredVersion>> {
        let visible = |module: &str| {
            shown(module) && !matches!(self.policy.decide(module), Decision::Deny(_))
        };
        let mut answer = Vec::new();
        let mut cursor = after.cloned();
        for _ in 0..FEED_PAGES {
            let page = self.index.feed(cursor.as_ref(), limit).await?;
            let complete = page.len() < limit;
            cursor = page.last().map(StoredVersion::cursor);
            answer.extend(page.into_iter().filter(|record| visible(&record.module)));
            if complete || answer.len() >= limit {
                break;
            }
        }
        answer.truncate(limit);
        Ok(answer)
    }

    /// The record of a stored version, fetching the version on a miss. A ready record never
    /// changes, so once seen it is answered from memory: a hit asks neither the index nor the
    /// store, only the policy (which may deny a module since).
    pub(crate) async fn ready(
        &self,
        module: &str,
        version: &str,
    ) -> Result<Served<Arc<ReadyVersion>>> {
        if let Some(ready) = self.hits.record(module, version) {
            if let Decision::Deny(message) = self.policy.decide(module) {
                return Err(Error::forbidden(message));
            }
            return Ok(served(ready, CacheOutcome::Hit));
        }
        let (record, outcome) = self.ensure_stored(module, version).await?;
        let ready = Arc::new(ReadyVersion::new(record));
        self.hits.keep_record(ready.clone());
        Ok(served(ready, outcome))
    }

    /// Opens a stored version's `.info`, `.mod` or `.zip`, or `range` of it (which the caller
    /// keeps within the artifact's size in the record).
    pub(crate) async fn open(
        &self,
        record: &StoredVersion,
        kind: ArtifactKind,
        range: Option<Range<u64>>,
    ) -> Result<Artifact> {
        let size = artifact_size(record, kind);
        if kind != ArtifactKind::Zip && size <= SMALL_ARTIFACT_MAX {
            let bytes = match self.hits.body(record, kind) {
                Some(bytes) => bytes,
                None => {
                    let key = artifact_key(&record.module, &record.version, kind);
                    let bytes = crate::store::read_blob(self.store.as_ref(), &key)
                        .await
                        .map_err(|error| indexed_but_missing(&key, error))?;
                    if bytes.len() as u64 != size {
                        return Err(Error::new(
                            ErrorKind::Storage,
                            format!(
                                "{key} has {} bytes, the index says {size}; run `piraeus verify`",
                                bytes.len()
                            ),
                        ));
                    }
                    self.hits.keep_body(record, kind, bytes.clone());
                    bytes
                }
            };
            return Ok(Artifact::Bytes(match range {
                Some(range) => bytes.slice(range.start as usize..range.end as usize),
                None => bytes,
            }));
        }
        let key = artifact_key(&record.module, &record.version, kind);
        let too_large = kind == ArtifactKind::Zip
            && self
                .settings
                .redirect_zips_over
                .is_some_and(|limit| size > limit);
        if too_large {
            // Where the store does not hold it, the same path would only come back here.
            return match self.store.head(&key).await? {
                Some(_) => Ok(Artifact::Elsewhere),
                None => Err(indexed_but_missing(
                    &key,
                    Error::not_found(format!("{key} is not stored")),
                )),
            };
        }
        let opened = match range {
            Some(range) => self.store.get_range(&key, range).await,
            None => self.store.get(&key).await,
        };
        opened
            .map(Artifact::Blob)
            .map_err(|error| indexed_but_missing(&key, error))
    }

    /// Makes sure a canonical version is stored, running at most one fetch for it across every
    /// instance sharing the index, and waiting (bounded) for whichever fetch is under way. In
    /// async download mode it starts the fetch and answers not-found instead of waiting.
    pub(crate) async fn ensure_stored(
        &self,
        module: &str,
        version: &str,
    ) -> Result<(StoredVersion, CacheOutcome)> {
        let started_waiting = now_millis();
        let deadline = Instant::now() + self.settings.wait_timeout;
        let mut outcome = CacheOutcome::Hit;
        let mut delay = Duration::from_millis(10);
        let mut endings = self.index.fetch_endings();
        // Reported when the wait ends, however it ends (a dropped request included).
        let mut lease_wait: Option<metrics::LeaseWait> = None;
        fn finish(wait: Option<metrics::LeaseWait>, how: &'static str) {
            if let Some(wait) = wait {
                wait.finish(how);
            }
        }
        loop {
            if let Some(endings) = &mut endings {
                endings.borrow_and_update();
            }
            match self.start_fetch(module, version, started_waiting).await? {
                FetchState::Stored(record) => {
                    finish(lease_wait, "stored");
                    return Ok((record, outcome));
                }
                FetchState::Failed(error) => {
                    finish(lease_wait, "failed");
                    return Err(error);
                }
                FetchState::Fetching => {}
            }
            outcome = CacheOutcome::Miss;
            if self.download_mode(module) == DownloadMode::Async {
                return Err(Error::not_found(format!(
                    "{module}@{version} is not stored yet; it is being fetched, retry shortly"
                )));
            }
            if Instant::now() >= deadline {
                finish(lease_wait, "timeout");
                return Err(Error::pending(format!(
                    "{module}@{version} is still being fetched after {}s; retry shortly",
                    self.settings.wait_timeout.as_secs()
                )));
            }
            lease_wait.get_or_insert_with(metrics::LeaseWait::start);
            // Woken when a fetch here ends; polling covers fetches in other instances (and
            // whatever else a backend cannot signal).
            let fetch_ended = async {
                match &mut endings {
                    Some(endings) => endings.changed().await.is_ok(),
                    None => std::future::pending().await,
                }
            };
            let signalling = tokio::select! {
                signalling = fetch_ended => signalling,
                () = tokio::time::sleep(delay) => true,
            };
            if !signalling {
                endings = None;
            }
            // Capped low: without a signal, a waiter pays up to one interval after the fetch
            // completes.
            delay = (delay * 2).min(Duration::from_millis(100));
        }
    }

    /// Looks at a version once and, when it is neither stored nor being fetched, claims the
    /// fetch lease and triggers the fetch. Failures recorded at or after `failures_since`, or
    /// within the failure TTL, are reported; older ones are retried.
    pub(crate) async fn start_fetch(
        &self,
        module: &str,
        version: &str,
        failures_since: i64,
    ) -> Result<FetchState> {
        let may_fetch = self.may_fetch(module)?;
        let now = now_millis();
        match self.index.version(module, version).await? {
            VersionStatus::Ready(record) => return Ok(FetchState::Stored(record)),
            _ if !may_fetch => {
                return Err(Error::not_found(format!(
                    "{module}@{version} is not stored, and the module policy serves {module} only from storage"
                )));
            }
            // A full queue answers the request that met it, not everyone for the failure TTL.
            VersionStatus::Failed { failure, failed_at }
                if failed_at >= failures_since
                    || (failure.kind != ErrorKind::Pending
                        && now - failed_at < millis(self.settings.failure_ttl)) =>
            {
                return Ok(FetchState::Failed(failure.to_error()));
            }
            VersionStatus::Fetching { lease_expires, .. } if lease_expires >= now => {
                return Ok(FetchState::Fetching);
            }
            VersionStatus::Failed { .. }
            | VersionStatus::Fetching { .. }
            | VersionStatus::Absent => {}
        }
        let holder = self.new_lease_holder();
        let lease_expires = now + millis(self.settings.lease_duration);
        let claimed = self
            .index
            .claim_fetch(module, version, &holder, lease_expires, now)
            .await?;
        if !claimed {
            return Ok(FetchState::Fetching);
        }
        // A task of its own, so a client that hangs up while the hook is asked cannot leave the
        // lease claimed with nothing started: everyone would wait for it to expire.
        let (index, trigger, hook) = (self.index.clone(), self.trigger.clone(), self.policy.hook());
        let (module_owned, version_owned) = (module.to_string(), version.to_string());
        // The fetch's log lines (its failure, with the details a client is not shown) carry the
        // id of the request that started it, which that request's client was given.
        let span = tracing::info_span!(
            "fetch",
            request_id = crate::telemetry::request::request_id()
        );
        let started = tokio::spawn(
            async move {
                let (module, version) = (module_owned.as_str(), version_owned.as_str());
                let approved_and_triggered = async {
                    if let Some(hook) = hook {
                        hook.approve(module, version).await?;
                    }
                    trigger.trigger(module, version, &holder).await
                };
                if let Err(error) = approved_and_triggered.await {
                    // Record the failure (or the hook's refusal) under our lease, or every request
                    // for this version would wait until the lease expired for a fetch that never
                    // started; requests within the failure TTL get the same answer without asking
                    // again.
                    let failure = FetchFailure::from_error(&error);
                    index
                        .mark_failed(module, version, &holder, &failure, now_millis())
                        .await?;
                    return Err(error);
                }
                Ok(())
            }
            .instrument(span),
        );
        started
            .await
            .map_err(|e| Error::storage("starting the fetch", e))??;
        Ok(FetchState::Fetching)
    }

    fn new_lease_holder(&self) -> String {
        let sequence = self.leases_taken.fetch_add(1, Ordering::Relaxed);
        format!("{}-{}-{sequence}", self.settings.instance, now_millis())
    }

    /// `$module/@v/list`: the tagged versions upstream reports, plus every tagged version
    /// stored here (so a deleted tag or repository still lists what was served), sorted.
    pub(crate) async fn list(&self, module: &str) -> Result<Served<Vec<String>>> {
        let key = AnswerKey::List {
            module: module.to_string(),
        };
        let stored = || self.stored_tagged_versions(module);
        if !self.may_fetch(module)? {
            let versions = stored().await?;
            if versions.is_empty() {
                return Err(only_from_storage(module));
            }
            return Ok(served(
                merge_versions(Vec::new(), versions),
                CacheOutcome::Stored,
            ));
        }
        let refreshed = self
            .answer(&key, || async {
                let upstream = self.resolver.list(module).await?;
                Ok(format_list(&merge_versions(upstream, stored().await?)))
            })
            .await?;
        match refreshed {
            // An older answer (served while another request refreshes) may predate versions
            // stored since.
            Ok(Served {
                value,
                outcome: CacheOutcome::Stale,
            }) => Ok(served(
                merge_versions(parse_list(&value), stored().await?),
                CacheOutcome::Stale,
            )),
            Ok(Served { value, outcome }) => Ok(served(parse_list(&value), outcome)),
            Err(Unanswered { error, last }) => {
                if error.kind() != ErrorKind::NotFound {
                    tracing::warn!(module, %error, "list from upstream failed; answering from what is stored");
                }
                let stored = stored().await?;
                match last {
                    Some(body) => Ok(served(
                        merge_versions(parse_list(&body), stored),
                        CacheOutcome::Stale,
                    )),
                    None if !stored.is_empty() => Ok(served(
                        merge_versions(Vec::new(), stored),
                        CacheOutcome::Stored,
                    )),
                    None => Err(error),
                }
            }
        }
    }

    /// `$module/@latest`: what `go list -m $module@latest` resolves to upstream; when upstream
    /// fails, the last answer, else the best stored version by the go command's own rule.
    pub(crate) async fn latest(&self, module: &str) -> Result<Served<ResolvedVersion>> {
        let key = AnswerKey::Latest {
            module: module.to_string(),
        };
        let answer = if self.may_fetch(module)? {
            self.resolve_cached(&key, module, "latest").await
        } else {
            Err(only_from_storage(module))
        };
        match answer {
            Err(error) if error.kind() != ErrorKind::Storage => {
                let stored = self.index.stored_versions(module).await?;
                match latest_stored(&stored) {
                    Some(record) => {
                        tracing::warn!(module, %error, "latest from upstream failed; answering from what is stored");
                        let resolved = ResolvedVersion {
                            version: record.version.clone(),
                            time: record.time.clone(),
                        };
                        Ok(served(resolved, CacheOutcome::Stored))
                    }
                    None => Err(error),
                }
            }
            answer => answer,
        }
    }

    /// `$module/@v/$query.info` for a non-canonical query (branch, tag, commit prefix): the
    /// canonical version it resolves to now. Cached briefly, never stored as an artifact.
    pub(crate) async fn query(&self, module: &str, query: &str) -> Result<Served<ResolvedVersion>> {
        if !self.may_fetch(module)? {
            return Err(only_from_storage(module));
        }
        let key = AnswerKey::Query {
            module: module.to_string(),
            query: query.to_string(),
        };
        self.resolve_cached(&key, module, query).await
    }

    /// A fresh cached resolution, else upstream's, else a stale one.
    async fn resolve_cached(
        &self,
        key: &AnswerKey,
        module: &str,
        query: &str,
    ) -> Result<Served<ResolvedVersion>> {
        let refreshed = self
            .answer(key, || async {
                let resolved = self.resolver.resolve(module, query).await?;
                Ok(serde_json::to_string(&resolved).expect("a resolved version serialises"))
            })
            .await?;
        let decode = |body: &str| {
            serde_json::from_str::<ResolvedVersion>(body).map_err(|e| {
                Error::new(ErrorKind::Storage, "a cached resolution does not parse").with_source(e)
            })
        };
        match refreshed {
            Ok(Served { value, outcome }) => Ok(served(decode(&value)?, outcome)),
            Err(Unanswered {
                error,
                last: Some(body),
            }) => {
                tracing::warn!(module, query, %error, "resolving upstream failed; serving the last answer");
                Ok(served(decode(&body)?, CacheOutcome::Stale))
            }
            Err(Unanswered { error, last: None }) => Err(error),
        }
    }

    /// The answer for `key`: fresh from the cache, else from `ask`, remembered either way
    /// (upstream's "not found" too, for the not-found TTL). One `ask` per key at a time: in
    /// this process a turn lock, across instances the index's refresh lease. Whoever does not
    /// get to ask serves the last answer at once when there is one, and otherwise waits for
    /// the asker's. The outer error is the index failing; the inner says why there is no
    /// answer, with the last good one.
    async fn answer<Ask, Asking>(
        &self,
        key: &AnswerKey,
        ask: Ask,
    ) -> Result<Result<Served<String>, Unanswered>>
    where
        Ask: FnOnce() -> Asking,
        Asking: Future<Output = Result<String>>,
    {
        if let Some(fresh) = self.fresh_answer(key).await? {
            return Ok(fresh);
        }
        let turn = TurnEntry::enter(&self.refreshing, key);
        async {
            let _turn = match turn.lock.try_lock() {
                Ok(turn) => turn,
                Err(_) => {
                    // Someone here is asking already: the last answer will do meanwhile.
                    if let Some(last) = self.last_answer(key).await? {
                        return Ok(Ok(served(last, CacheOutcome::Stale)));
                    }
                    turn.lock.lock().await
                }
            };
            // Whoever held the turn before may have just answered.
            if let Some(fresh) = self.fresh_answer(key).await? {
                return Ok(fresh);
            }
            let last = self.last_answer(key).await?;
            let holder = self.claim_refresh(key).await?;
            if holder.is_none() {
                // Another instance is asking.
                if let Some(last) = last {
                    return Ok(Ok(served(last, CacheOutcome::Stale)));
                }
                if let Some(answer) = self.await_other_refresh(key).await? {
                    return Ok(answer);
                }
            }
            match ask().await {
                // Remembering an answer ends the refresh lease.
                Ok(body) => {
                    self.remember(key, body.clone()).await?;
                    Ok(Ok(served(body, CacheOutcome::Miss)))
                }
                Err(error) if error.kind() == ErrorKind::NotFound => {
                    self.remember(key, format!("{NOT_FOUND_MARK}{}", error.message()))
                        .await?;
                    Ok(Err(Unanswered { error, last }))
                }
                Err(error) => {
                    // Upstream failed: nothing was remembered, so the next request may ask
                    // again at once instead of waiting out the lease.
                    if let Some(holder) = holder {
                        self.index.release_refresh(key, &holder).await?;
                    }
                    Ok(Err(Unanswered { error, last }))
                }
            }
        }
        .await
    }

    /// The cached answer however old, unless it is a remembered "not found".
    async fn last_answer(&self, key: &AnswerKey) -> Result<Option<String>> {
        Ok(self
            .index
            .cached_answer(key)
            .await?
            .and_then(|answer| match Remembered::of(&answer) {
                Remembered::Answer(body) => Some(body),
                Remembered::NotFound(_) => None,
            }))
    }

    /// The refresh lease's holder name when this instance got it.
    async fn claim_refresh(&self, key: &AnswerKey) -> Result<Option<String>> {
        let now = now_millis();
        let expires = now + millis(REFRESH_LEASE);
        let holder = self.new_lease_holder();
        let claimed = self.index.claim_refresh(key, &holder, expires, now).await?;
        Ok(claimed.then_some(holder))
    }

    /// Waits (bounded by the refresh lease) for another instance's refresh of `key`; `None`
    /// when it did not answer in time, and this instance should ask itself.
    async fn await_other_refresh(
        &self,
        key: &AnswerKey,
    ) -> Result<Option<Result<Served<String>, Unanswered>>> {
        let deadline = Instant::now() + REFRESH_LEASE;
        while Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if let Some(fresh) = self.fresh_answer(key).await? {
                return Ok(Some(fresh));
            }
        }
        Ok(None)
    }

    /// A cached answer still within its TTL, or a remembered "not found" within the not-found
    /// TTL (as the error it was).
    async fn fresh_answer(
        &self,
        key: &AnswerKey,
    ) -> Result<Option<Result<Served<String>, Unanswered>>> {
        let Some(answer) = self.index.cached_answer(key).await? else {
            return Ok(None);
        };
        let age = now_millis() - answer.fetched_at;
        Ok(match Remembered::of(&answer) {
            Remembered::Answer(body) if age < millis(self.settings.answer_ttl) => {
                Some(Ok(served(body, CacheOutcome::Hit)))
            }
            Remembered::NotFound(message) if age < millis(self.settings.not_found_ttl) => {
                Some(Err(Unanswered {
                    error: Error::not_found(message),
                    last: None,
                }))
            }
            _ => None,
        })
    }

    async fn remember(&self, key: &AnswerKey, body: String) -> Result<()> {
        let answer = CachedAnswer {
            body,
            fetched_at: now_millis(),
        };
        self.index.put_cached_answer(key, &answer).await
    }

    async fn stored_tagged_versions(&self, module: &str) -> Result<Vec<String>> {
        let stored = self.index.stored_versions(module).await?;
        Ok(stored
            .into_iter()
            .map(|record| record.version)
            .filter(|v| !version::is_pseudo_version(v))
            .collect())
    }
}

/// A store's "not found" for an artifact the index has as stored is the store's failure, not
/// the client's answer: a 404 would send the go command to its next proxy.
fn indexed_but_missing(key: &str, error: Error) -> Error {
    if error.kind() != ErrorKind::NotFound {
        return error;
    }
    Error::new(
        ErrorKind::Storage,
        format!("{key} is indexed as stored but missing from the store; run `piraeus verify`"),
    )
    .with_source(error)
}

fn only_from_storage(module: &str) -> Error {
    Error::not_found(format!(
        "{module}: the module policy serves it only from storage, and nothing that answers this is stored"
    ))
}

/// Go's own preference for `latest`: the highest release, else the highest pre-release, else
/// the highest pseudo-version.
fn latest_stored(stored: &[StoredVersion]) -> Option<&StoredVersion> {
    let rank = |record: &StoredVersion| {
        let v = record.version.as_str();
        if version::is_pseudo_version(v) {
            0
        } else if version::prerelease(v).is_some() {
            1
        } else {
            2
        }
    };
    stored.iter().max_by(|a, b| {
        rank(a)
            .cmp(&rank(b))
            .then_with(|| version::compare(&a.version, &b.version))
    })
}

fn merge_versions(mut versions: Vec<String>, more: Vec<String>) -> Vec<String> {
    versions.extend(more);
    versions.retain(|v| version::is_canonical(v) && !version::is_pseudo_version(v));
    version::sort(&mut versions);
    versions.dedup();
    versions
}

fn parse_list(body: &str) -> Vec<String> {
    body.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(String::from)
        .collect()
}

/// The list body: one version per line.
pub(crate) fn format_list(versions: &[String]) -> String {
    versions.iter().map(|v| format!("{v}\n")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(feature = "sqlite")]
    use crate::index::SqliteIndex;
    #[cfg(feature = "sqlite")]
    use crate::store::FilesystemStore;

    /// A trigger whose invocation is refused, as a Lambda invoke can be.
    #[cfg(feature = "sqlite")]
    struct RefusingTrigger;

    #[cfg(feature = "sqlite")]
    #[async_trait::async_trait]
    impl FetchTrigger for RefusingTrigger {
        async fn trigger(&self, _: &str, _: &str, _: &str) -> Result<()> {
            Err(Error::upstream("invoke refused"))
        }
    }

    /// Upstream is never reached in these tests.
    #[cfg(feature = "sqlite")]
    struct Unreachable;

    #[cfg(feature = "sqlite")]
    #[async_trait::async_trait]
    impl Resolver for Unreachable {
        async fn list(&self, _: &str) -> Result<Vec<String>> {
            unreachable!()
        }
        async fn resolve(&self, _: &str, _: &str) -> Result<ResolvedVersion> {
            unreachable!()
        }
    }

    #[cfg(feature = "sqlite")]
    #[tokio::test]
    async fn a_failed_trigger_releases_its_lease_at_once() {
        let directory = tempfile::tempdir().unwrap();
        let index = Arc::new(SqliteIndex::in_memory().unwrap());
        let settings = ProxySettings {
            wait_timeout: Duration::from_secs(1),
            ..ProxySettings::default()
        };
        let proxy = Proxy::new(
            Arc::new(FilesystemStore::open(directory.path()).unwrap()),
            index.clone(),
            Arc::new(Unreachable),
            Arc::new(RefusingTrigger),
            settings,
        );
        let error = proxy
            .ensure_stored("example.com/m", "v1.0.0")
            .await
            .expect_err("the trigger failed");
        assert!(
            error.kind() == ErrorKind::Upstream && error.message() == "invoke refused",
            "{error:?}"
        );
        assert!(
            matches!(
                index.version("example.com/m", "v1.0.0").await.unwrap(),
                VersionStatus::Failed { .. }
            ),
            "the lease is released, not left to expire"
        );
    }

    fn stored(version: &str) -> StoredVersion {
        StoredVersion {
            module: "example.com/m".into(),
            version: version.into(),
            time: String::new(),
            zip_hash: String::new(),
            mod_hash: String::new(),
            zip_size: 0,
            mod_size: 0,
            info_size: 0,
            origin: String::new(),
            fetched_at: 0,
        }
    }

    #[test]
    fn latest_prefers_releases_then_prereleases_then_pseudo_versions() {
        let pick = |versions: &[&str]| {
            let records: Vec<_> = versions.iter().map(|v| stored(v)).collect();
            latest_stored(&records).map(|r| r.version.clone())
        };
        assert_eq!(
            pick(&[
                "v1.0.0",
                "v1.1.0-rc.1",
                "v1.0.1-0.20240101000000-abcdefabcdef"
            ])
            .as_deref(),
            Some("v1.0.0")
        );
        assert_eq!(
            pick(&[
                "v1.1.0-rc.1",
                "v1.1.0-rc.2",
                "v0.0.0-20240101000000-abcdefabcdef"
            ])
            .as_deref(),
            Some("v1.1.0-rc.2")
        );
        assert_eq!(
            pick(&["v0.0.0-20240101000000-abcdefabcdef"]).as_deref(),
            Some("v0.0.0-20240101000000-abcdefabcdef")
        );
        assert_eq!(pick(&[]), None);
    }

    #[test]
    fn merged_lists_are_sorted_unique_and_tagged_only() {
        let merged = merge_versions(
            vec!["v1.10.0".into(), "v1.2.0".into(), "v1.0.0-RC1".into()],
            vec![
                "v1.2.0".into(),
                "v0.0.0-20240101000000-abcdefabcdef".into(),
                "v2.0.0+incompatible".into(),
            ],
        );
        assert_eq!(
            merged,
            ["v1.0.0-RC1", "v1.2.0", "v1.10.0", "v2.0.0+incompatible"]
        );
        assert_eq!(format_list(&merged[..2]), "v1.0.0-RC1\nv1.2.0\n");
        assert_eq!(parse_list("v1.0.0\n\nv1.1.0\n"), ["v1.0.0", "v1.1.0"]);
    }
}
