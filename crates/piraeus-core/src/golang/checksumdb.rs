//! Verifying go.sum lines against a checksum database, as the go command does
//! (cmd/go/internal/modfetch/sumdb.go over golang.org/x/mod/sumdb's client): which database
//! `GOSUMDB` names and which modules `GONOSUMDB`/`GOPRIVATE` keep away from it; then, for a
//! lookup, the signed tree head verified, the record proved in it from tiles, and every new head
//! proved consistent with the latest one kept.
//!
//! Hand-written rather than on the `signed_note` and `tlog_tiles` crates (cloudflare/azul, 0.2):
//! they cover the same ground (ported from x/mod) but follow C2SP's checkpoint and tlog-tiles
//! specifications, not x/mod's go.sum tree text and client, and bring ed25519-dalek,
//! curve25519-dalek, url with ICU's IDNA tables, and second copies of sha2, base64 and thiserror.
//! What the verifier needs is a few hundred lines over aws-lc-rs's Ed25519, which rustls and
//! the AWS SDKs already build; tests/sumdb-vectors checks it against x/mod itself.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::future::try_join_all;

use crate::error::{Error, ErrorKind, Result};
use crate::golang::note::{NoteError, Verifier};
use crate::golang::path::{check_version_for_path, escape};
use crate::golang::tlog::{self, Consistency, Hash, Node, Tile, Tree};

/// sum.golang.org's verifier key, built into the go command (modfetch/key.go).
pub const SUM_GOLANG_ORG_KEY: &str =
    "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8";
/// How often a head is merged again when another writer replaced the kept one meanwhile.
const MERGE_ATTEMPTS: usize = 3;

/// The go command's checksum-database settings.
#[derive(Debug, Clone)]
pub struct SumDbSettings {
    /// `None` for `GOSUMDB=off`.
    pub database: Option<Database>,
    /// Module path patterns never looked up (`GONOSUMDB`, else `GOPRIVATE`): glob prefixes as
    /// module.MatchPrefixPatterns matches them, trailing `/` trimmed, empty ones dropped.
    pub private: Vec<String>,
    /// `GOINSECURE`'s patterns: modules that may be fetched without TLS. As in Go, they are
    /// still verified against the database.
    pub insecure: Vec<String>,
}

/// A checksum database: its name, verifier key and URL.
#[derive(Debug, Clone)]
pub struct Database {
    verifier: Verifier,
    /// The verifier key as written: `name+hash+key`.
    pub key: String,
    /// `https://NAME` unless `GOSUMDB` gives a URL.
    pub url: String,
    /// Whether `GOSUMDB` gave the URL: the go command then goes there directly, not through
    /// the GOPROXY's `/sumdb/NAME/` endpoint.
    pub explicit_url: bool,
}

impl Database {
    pub fn name(&self) -> &str {
        self.verifier.name()
    }
}

impl SumDbSettings {
    /// Reads the settings from the environment variables, as the go command does (an empty
    /// variable counts as unset).
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let get = |name| var(name).unwrap_or_default();
        let private = match get("GONOSUMDB") {
            none if none.is_empty() => get("GOPRIVATE"),
            list => list,
        };
        Self::parse(&get("GOSUMDB"), &private, &get("GOINSECURE"))
    }

    /// `gosumdb` is `off`, a known name, `NAME+KEY` or `NAME+KEY URL` (empty: sum.golang.org).
    pub fn parse(gosumdb: &str, private: &str, insecure: &str) -> Result<Self> {
        let database = match gosumdb {
            "off" => None,
            "" => Some(parse_database("sum.golang.org")?),
            // An alias reachable from mainland China, with sum.golang.org's key.
            "sum.golang.google.cn" => Some(parse_database(
                "sum.golang.org https://sum.golang.google.cn",
            )?),
            other => Some(parse_database(other)?),
        };
        Ok(Self {
            database,
            private: patterns(private),
            insecure: patterns(insecure),
        })
    }
}

fn parse_database(gosumdb: &str) -> Result<Database> {
    let fields: Vec<&str> = gosumdb.split_whitespace().collect();
    let (key, url) = match fields[..] {
        [] => return Err(Error::invalid("missing GOSUMDB")),
        [key] => (key, None),
        [key, url] => (key, Some(url)),
        _ => return Err(Error::invalid("invalid GOSUMDB: too many fields")),
    };
    let key = if key == "sum.golang.org" {
        SUM_GOLANG_ORG_KEY
    } else {
        key
    };
    let verifier = Verifier::parse(key)
        .map_err(|error| Error::invalid(format!("invalid GOSUMDB: {error}")))?;
    let name = verifier.name();
    if !is_host_and_path(name) {
        return Err(Error::invalid(format!(
            "invalid sumdb name (must be host[/path]): {name}"
        )));
    }
    let url = match url {
        Some(url) if url.starts_with("https://") || url.starts_with("http://") => {
            url.trim_end_matches('/').to_owned()
        }
        Some(url) => {
            return Err(Error::invalid(format!(
                "invalid GOSUMDB URL {url:?}: not http:// or https://"
            )));
        }
        None => format!("https://{name}"),
    };
    Ok(Database {
        key: key.to_owned(),
        explicit_url: fields.len() == 2,
        url,
        verifier,
    })
}

/// What the go command accepts as a database name: `https://NAME` must parse to a host (a
/// port allowed) and a plain path, with no user, query, fragment or escapes. Characters Go's
/// URL parser would take but no database name uses are refused too.
fn is_host_and_path(name: &str) -> bool {
    let (host, path) = name.split_once('/').unwrap_or((name, ""));
    !host.is_empty()
        && !name.ends_with('/')
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.:[]_".contains(&b))
        && path
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~/".contains(&b))
}

fn patterns(list: &str) -> Vec<String> {
    list.split(',')
        .map(|glob| glob.strip_suffix('/').unwrap_or(glob))
        .filter(|glob| !glob.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Where the database's files come from: the `/sumdb` cache in front of it, or an archive.
#[async_trait]
pub trait DatabaseSource: Send + Sync {
    /// The bytes the database serves at `path`, relative to its URL: `lookup/M@V` (both
    /// case-encoded), `latest`, or a tile path (`tile/8/L/NNN[.p/W]`). An answer that the file
    /// does not exist (404 or 410) is an error of kind [`ErrorKind::NotFound`]; any other
    /// failure is another kind. Bodies are bounded by the implementation (a tile is 8 KiB, a
    /// lookup a few hundred bytes); nothing read is trusted before it is verified here.
    async fn read(&self, path: &str) -> Result<Bytes>;
}

#[async_trait]
impl<S: DatabaseSource + ?Sized> DatabaseSource for Arc<S> {
    async fn read(&self, path: &str) -> Result<Bytes> {
        (**self).read(path).await
    }
}

/// Where the latest verified tree head of each database is kept (the index).
#[async_trait]
pub trait TreeHeadStore: Send + Sync {
    /// The signed note of the latest verified tree head kept for `database`, if any.
    async fn latest(&self, database: &str) -> Result<Option<String>>;

    /// Keeps `note` as the latest head of `database` if the kept head is still `previous`
    /// (`None`: none kept), atomically; `false` if another writer changed it first.
    async fn replace(&self, database: &str, previous: Option<&str>, note: &str) -> Result<bool>;
}

/// The database misbehaved, or something on the way altered its answers: what it says cannot
/// be believed. Never a not-found; the go command's "SECURITY ERROR".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecurityError {
    /// A signed note did not verify with the database's key.
    BadNote {
        what: &'static str,
        error: NoteError,
    },
    /// An answer is not what the database's protocol allows.
    Malformed { what: String },
    /// The record's hash and the tiles do not lead to the signed root.
    BadRecordProof { id: u64, tree: u64 },
    /// The tiles do not lead to the signed root of the newer head.
    BadTiles { tree: u64 },
    /// Two verified heads that cannot both be of one append-only log: the database forked.
    /// Both signed notes are the evidence.
    Fork { older: String, newer: String },
}

impl std::fmt::Display for SecurityError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("checksum database SECURITY ERROR: ")?;
        match self {
            SecurityError::BadNote { what, error } => write!(f, "{what}: {error}"),
            SecurityError::Malformed { what } => write!(f, "malformed {what}"),
            SecurityError::BadRecordProof { id, tree } => {
                write!(f, "record {id} is not proved in the tree of {tree} records")
            }
            SecurityError::BadTiles { tree } => {
                write!(f, "tiles do not match the signed tree of {tree} records")
            }
            SecurityError::Fork { older, newer } => write!(
                f,
                "the database forked: {:?} and {:?} are inconsistent",
                first_lines(older),
                first_lines(newer)
            ),
        }
    }
}

impl std::error::Error for SecurityError {}

/// A tree head's text without its signatures, for messages.
fn first_lines(note: &str) -> &str {
    note.split("\n\n").next().unwrap_or(note).trim_end()
}

/// A failed verification.
#[derive(Debug)]
pub enum CheckError {
    Security(SecurityError),
    /// Anything else, by its kind: not in the database (`NotFound`), unreachable
    /// (`Upstream`), a bad module path or version (`Invalid`), the store (`Storage`).
    Other(Error),
}

impl std::fmt::Display for CheckError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CheckError::Security(error) => error.fmt(f),
            CheckError::Other(error) => error.fmt(f),
        }
    }
}

impl std::error::Error for CheckError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CheckError::Security(_) => None,
            CheckError::Other(error) => Some(error),
        }
    }
}

impl From<Error> for CheckError {
    fn from(error: Error) -> Self {
        CheckError::Other(error)
    }
}

impl From<SecurityError> for CheckError {
    fn from(error: SecurityError) -> Self {
        CheckError::Security(error)
    }
}

/// A security error is a conflict: what was about to be stored disagrees with what the
/// database has signed, and nothing is stored.
impl From<CheckError> for Error {
    fn from(error: CheckError) -> Self {
        match error {
            CheckError::Other(error) => error,
            CheckError::Security(security) => {
                Error::new(ErrorKind::Conflict, security.to_string()).with_source(security)
            }
        }
    }
}

type CheckResult<T> = std::result::Result<T, CheckError>;

/// What the database says about a module version's hashes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Match,
    /// `file` is `zip` or `go.mod`; `expected` is the database's hash (empty if its record has
    /// no line for that file), `got` the one given.
    Mismatch {
        file: &'static str,
        expected: String,
        got: String,
    },
    NotInDatabase,
}

/// Verifies lookups in one database through `source`, keeping heads in `store`.
pub struct Checker<S, T> {
    database: Database,
    source: S,
    store: T,
}

impl<S: DatabaseSource, T: TreeHeadStore> Checker<S, T> {
    pub fn new(database: Database, source: S, store: T) -> Self {
        Self {
            database,
            source,
            store,
        }
    }

    /// The database's go.sum lines for `module` `version` (its zip's and its go.mod's), once
    /// its record is proved in a verified tree head consistent with the one kept.
    pub async fn lookup(&self, module: &str, version: &str) -> CheckResult<Vec<String>> {
        check_version_for_path(module, version)?;
        let path = format!("lookup/{}@{}", escape(module), escape(version));
        let body = self.source.read(&path).await?;
        let (id, text, note) = parse_lookup(&body)?;
        let mut tiles = Tiles::new(&self.source);
        let tree = self.open_tree(note, "lookup's tree head")?;
        let newest = self.merge(&mut tiles, note, tree).await?;
        if id >= newest.n {
            return Err(SecurityError::BadRecordProof { id, tree: newest.n }.into());
        }
        let proof = tiles
            .with_hashes(newest.n, |hash| tlog::record_proof(newest.n, id, hash))
            .await?;
        if !tlog::check_record(
            &proof,
            newest.n,
            &newest.hash,
            id,
            &tlog::record_hash(text.as_bytes()),
        ) {
            return Err(SecurityError::BadRecordProof { id, tree: newest.n }.into());
        }
        let zip = format!("{module} {version} ");
        let go_mod = format!("{module} {version}/go.mod ");
        Ok(text
            .lines()
            .filter(|line| line.starts_with(&zip) || line.starts_with(&go_mod))
            .map(str::to_owned)
            .collect())
    }

    /// Whether the database agrees with the `h1:` hashes of a version's zip and go.mod.
    pub async fn check(
        &self,
        module: &str,
        version: &str,
        zip_h1: &str,
        mod_h1: &str,
    ) -> CheckResult<Verdict> {
        let lines = match self.lookup(module, version).await {
            Ok(lines) => lines,
            Err(CheckError::Other(error)) if error.kind() == ErrorKind::NotFound => {
                return Ok(Verdict::NotInDatabase);
            }
            Err(error) => return Err(error),
        };
        for (file, key, got) in [
            ("zip", format!("{module} {version} "), zip_h1),
            ("go.mod", format!("{module} {version}/go.mod "), mod_h1),
        ] {
            let expected = lines
                .iter()
                .find_map(|line| line.strip_prefix(&key))
                .unwrap_or_default();
            if expected != got {
                return Ok(Verdict::Mismatch {
                    file,
                    expected: expected.to_owned(),
                    got: got.to_owned(),
                });
            }
        }
        Ok(Verdict::Match)
    }

    /// Refreshes the tree head from the database's `latest`: verified, proved consistent with
    /// the kept head, and kept if newer. Returns the newest verified head.
    pub async fn latest(&self) -> CheckResult<Tree> {
        let body = self.source.read("latest").await?;
        let note = std::str::from_utf8(&body).map_err(|_| SecurityError::Malformed {
            what: "latest tree head".into(),
        })?;
        let tree = self.open_tree(note, "latest tree head")?;
        self.merge(&mut Tiles::new(&self.source), note, tree).await
    }

    fn open_tree(&self, note: &str, what: &'static str) -> CheckResult<Tree> {
        let text = self
            .database
            .verifier
            .open(note.as_bytes())
            .map_err(|error| SecurityError::BadNote { what, error })?;
        Tree::parse(text).ok_or_else(|| SecurityError::Malformed { what: what.into() }.into())
    }

    /// Proves `tree` (signed in `note`) and the kept head consistent, keeps the newer, and
    /// returns it.
    async fn merge(&self, tiles: &mut Tiles<'_, S>, note: &str, tree: Tree) -> CheckResult<Tree> {
        let name = self.database.name();
        for _ in 0..MERGE_ATTEMPTS {
            let Some(kept_note) = from_store(self.store.latest(name).await)? else {
                if from_store(self.store.replace(name, None, note).await)? {
                    return Ok(tree);
                }
                continue;
            };
            let kept = self.open_tree(&kept_note, "kept tree head")?;
            let (older, newer, newer_note) = if kept.n <= tree.n {
                (kept, tree, note)
            } else {
                (tree, kept, kept_note.as_str())
            };
            let older_note = if kept.n <= tree.n {
                kept_note.as_str()
            } else {
                note
            };
            let fork = || SecurityError::Fork {
                older: older_note.to_owned(),
                newer: newer_note.to_owned(),
            };
            if older.n == newer.n {
                if older.hash != newer.hash {
                    return Err(fork().into());
                }
            } else if older.n > 0 {
                let proof = tiles
                    .with_hashes(newer.n, |hash| tlog::tree_proof(newer.n, older.n, hash))
                    .await?;
                match tlog::check_tree(&proof, newer.n, &newer.hash, older.n, &older.hash) {
                    Consistency::Consistent => {}
                    Consistency::BadProof => {
                        return Err(SecurityError::BadTiles { tree: newer.n }.into());
                    }
                    Consistency::Fork => return Err(fork().into()),
                }
            }
            if newer.n == kept.n
                || from_store(self.store.replace(name, Some(&kept_note), note).await)?
            {
                return Ok(newer);
            }
        }
        Err(Error::storage(
            format!("keeping the tree head of {name}"),
            "the kept head changed on every attempt",
        )
        .into())
    }
}

/// A store's answer; its errors are storage failures whatever their kind, so that only the
/// database's own 404 for a lookup ever reads as "not in the database".
fn from_store<T>(result: Result<T>) -> CheckResult<T> {
    result.map_err(|error| {
        let failure = Error::storage(
            "reading or keeping the tree head",
            error.message().to_owned(),
        );
        CheckError::Other(failure.with_source(error))
    })
}

/// `id\ntext\n\nsigned note`: the record id, its text (ending in a newline, no blank line)
/// and the signed tree head it is in.
fn parse_lookup(body: &[u8]) -> CheckResult<(u64, &str, &str)> {
    let malformed = || SecurityError::Malformed {
        what: "lookup answer".into(),
    };
    let body = std::str::from_utf8(body).map_err(|_| malformed())?;
    let (id, rest) = body.split_once('\n').ok_or_else(malformed)?;
    let id: u64 = id.parse().map_err(|_| malformed())?;
    let end = rest.find("\n\n").ok_or_else(malformed)?;
    let (text, note) = (&rest[..end + 1], &rest[end + 2..]);
    if text.chars().any(|c| c < ' ' && c != '\n') {
        return Err(malformed().into());
    }
    Ok((id, text, note))
}

/// The hash tiles read during one operation, each at most once.
struct Tiles<'a, S> {
    source: &'a S,
    read: HashMap<Tile, Bytes>,
}

impl<'a, S: DatabaseSource> Tiles<'a, S> {
    fn new(source: &'a S) -> Self {
        Self {
            source,
            read: HashMap::new(),
        }
    }

    /// Runs `compute` with the node hashes of the tree of `tree_size` records, reading the
    /// tiles it needs first (together). `compute` must ask for the same nodes each time it runs.
    async fn with_hashes<R>(
        &mut self,
        tree_size: u64,
        compute: impl Fn(&mut dyn FnMut(Node) -> Hash) -> R,
    ) -> CheckResult<R> {
        let mut needed = Vec::new();
        compute(&mut |node| {
            let (tile, _) = tlog::tile_for(node, tree_size);
            if !self.read.contains_key(&tile) && !needed.contains(&tile) {
                needed.push(tile);
            }
            [0; tlog::HASH_SIZE]
        });
        let data = try_join_all(needed.iter().map(|tile| self.fetch(*tile))).await?;
        self.read.extend(needed.into_iter().zip(data));
        Ok(compute(&mut |node| {
            let (tile, range) = tlog::tile_for(node, tree_size);
            let data = &self.read[&tile];
            tlog::hash_of_run(&data[range.start * tlog::HASH_SIZE..range.end * tlog::HASH_SIZE])
        }))
    }

    /// A tile's data, exactly its length; a partial tile no longer served is cut from the full
    /// one, as x/mod's client does.
    async fn fetch(&self, tile: Tile) -> CheckResult<Bytes> {
        let (read, data) = match self.read_tile(tile).await {
            Err(error) if error.kind() == ErrorKind::NotFound && !tile.is_full() => {
                let full = tile.full();
                (full, self.read_tile(full).await)
            }
            other => (tile, other),
        };
        // A tile the signed head covers must exist: its absence is not a not-found.
        let data = data.map_err(|error| {
            Error::upstream(format!("reading {}: {}", read.path(), error.message()))
                .with_source(error)
        })?;
        if data.len() != read.len() {
            return Err(SecurityError::Malformed {
                what: format!("tile {}", read.path()),
            }
            .into());
        }
        Ok(data.slice(..tile.len()))
    }

    async fn read_tile(&self, tile: Tile) -> Result<Bytes> {
        self.source.read(&tile.path()).await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;

    use super::*;
    use crate::golang::tlog::tests::{Log, Vectors, vectors};

    /// A database served from x/mod's vectors, counting what is read.
    struct Served {
        files: HashMap<String, Bytes>,
        reads: Mutex<Vec<String>>,
    }

    impl Served {
        /// `log`'s tiles, its head of `latest` records as `latest`, and the vectors' lookups.
        fn new(v: &Vectors, log: &Log, latest: u64) -> Self {
            let mut files: HashMap<String, Bytes> = log
                .tiles
                .keys()
                .map(|path| (path.clone(), Bytes::from(log.tile(path))))
                .collect();
            files.insert("latest".into(), log.head(latest).note.clone().into());
            for lookup in &v.lookups {
                let path = format!("lookup/{}@{}", lookup.module, lookup.version);
                files.insert(path, lookup.body.clone().into());
            }
            Self {
                files,
                reads: Mutex::default(),
            }
        }

        fn reads(&self) -> Vec<String> {
            self.reads.lock().unwrap().clone()
        }
    }

    #[async_trait]
    impl DatabaseSource for Served {
        async fn read(&self, path: &str) -> Result<Bytes> {
            self.reads.lock().unwrap().push(path.to_owned());
            self.files
                .get(path)
                .cloned()
                .ok_or_else(|| Error::not_found(format!("{path}: not found")))
        }
    }

    #[async_trait]
    impl DatabaseSource for &Served {
        async fn read(&self, path: &str) -> Result<Bytes> {
            (*self).read(path).await
        }
    }

    #[derive(Default)]
    struct Kept(Mutex<Option<String>>);

    impl Kept {
        fn holding(note: &str) -> Self {
            Self(Mutex::new(Some(note.to_owned())))
        }

        fn note(&self) -> Option<String> {
            self.0.lock().unwrap().clone()
        }
    }

    #[async_trait]
    impl TreeHeadStore for &Kept {
        async fn latest(&self, _database: &str) -> Result<Option<String>> {
            Ok(self.note())
        }

        async fn replace(
            &self,
            _database: &str,
            previous: Option<&str>,
            note: &str,
        ) -> Result<bool> {
            let mut kept = self.0.lock().unwrap();
            if kept.as_deref() != previous {
                return Ok(false);
            }
            *kept = Some(note.to_owned());
            Ok(true)
        }
    }

    fn database(v: &Vectors) -> Database {
        let settings = SumDbSettings::parse(&v.verifier_key, "", "").unwrap();
        settings.database.unwrap()
    }

    fn checker<'a>(
        v: &Vectors,
        served: &'a Served,
        kept: &'a Kept,
    ) -> Checker<&'a Served, &'a Kept> {
        Checker::new(database(v), served, kept)
    }

    fn security(result: CheckResult<impl std::fmt::Debug>) -> SecurityError {
        match result {
            Err(CheckError::Security(error)) => error,
            other => panic!("not a security error: {other:?}"),
        }
    }

    #[tokio::test]
    async fn lookup_proves_the_record_and_keeps_the_head() {
        let v = vectors();
        let served = Served::new(&v, &v.log, 300);
        let kept = Kept::default();
        let lines = checker(&v, &served, &kept)
            .lookup("example.com/m099", "v1.0.0")
            .await
            .unwrap();
        assert_eq!(lines.join("\n") + "\n", v.log.records[99]);
        assert_eq!(kept.note().as_deref(), Some(v.log.head(300).note.as_str()));
        // Each tile once, and only those the proof needs: record 99's siblings are all at
        // levels below 8, in the full first tile and the partial one beside it.
        let mut tiles: Vec<String> = served.reads()[1..].to_vec();
        tiles.sort();
        assert_eq!(tiles, ["tile/8/0/000", "tile/8/0/001.p/44"]);
    }

    #[tokio::test]
    async fn a_newer_head_is_proved_consistent_with_the_kept_one() {
        let v = vectors();
        let served = Served::new(&v, &v.log, 300);
        let kept = Kept::holding(&v.log.head(200).note);
        let checker = checker(&v, &served, &kept);
        let lines = checker.lookup("example.com/m256", "v1.0.0").await.unwrap();
        assert_eq!(lines.len(), 2);
        assert_eq!(kept.note().as_deref(), Some(v.log.head(300).note.as_str()));
        let reads = served.reads();
        let unique: std::collections::HashSet<_> = reads.iter().collect();
        assert_eq!(unique.len(), reads.len(), "a file read twice: {reads:?}");
    }

    #[tokio::test]
    async fn an_older_head_is_proved_consistent_and_the_kept_one_stays() {
        let v = vectors();
        let served = Served::new(&v, &v.log, 257);
        let kept = Kept::holding(&v.log.head(300).note);
        let tree = checker(&v, &served, &kept).latest().await.unwrap();
        assert_eq!(tree.n, 300);
        assert_eq!(kept.note().as_deref(), Some(v.log.head(300).note.as_str()));
    }

    #[tokio::test]
    async fn a_partial_tile_no_longer_served_is_cut_from_the_full_one() {
        let v = vectors();
        let mut served = Served::new(&v, &v.log, 200);
        served.files.remove("tile/8/0/000.p/200");
        let kept = Kept::holding(&v.log.head(100).note);
        let tree = checker(&v, &served, &kept).latest().await.unwrap();
        assert_eq!(tree.n, 200);
        assert!(served.reads().contains(&"tile/8/0/000".to_owned()));
    }

    #[tokio::test]
    async fn a_head_inconsistent_with_the_kept_one_is_a_fork() {
        let v = vectors();
        let served = Served::new(&v, &v.fork, 300);
        let kept = Kept::holding(&v.log.head(200).note);
        let error = security(checker(&v, &served, &kept).latest().await);
        assert!(matches!(error, SecurityError::Fork { .. }), "{error}");
        assert_eq!(kept.note().as_deref(), Some(v.log.head(200).note.as_str()));

        // Same size, other hash: a fork without any tile.
        let kept = Kept::holding(&v.log.head(300).note);
        let error = security(checker(&v, &served, &kept).latest().await);
        assert!(matches!(error, SecurityError::Fork { .. }), "{error}");
        let error = CheckError::Security(error);
        let error = Error::from(error);
        assert_eq!(error.kind(), ErrorKind::Conflict);
        assert!(error.message().contains("SECURITY ERROR"));
    }

    #[tokio::test]
    async fn a_tile_with_a_wrong_hash_is_refused() {
        let v = vectors();
        let mut served = Served::new(&v, &v.log, 300);
        let mut tile = v.log.tile("tile/8/0/001.p/44");
        tile[40] ^= 1;
        served.files.insert("tile/8/0/001.p/44".into(), tile.into());

        let kept = Kept::default();
        let error = security(
            checker(&v, &served, &kept)
                .lookup("example.com/m001", "v1.0.0")
                .await,
        );
        assert!(
            matches!(error, SecurityError::BadRecordProof { id: 1, tree: 300 }),
            "{error}"
        );

        let kept = Kept::holding(&v.log.head(257).note);
        let error = security(checker(&v, &served, &kept).latest().await);
        assert_eq!(error, SecurityError::BadTiles { tree: 300 });
        assert_eq!(kept.note().as_deref(), Some(v.log.head(257).note.as_str()));

        let mut short = v.log.tile("tile/8/1/000.p/1");
        short.pop();
        served.files.insert("tile/8/1/000.p/1".into(), short.into());
        let error = security(
            checker(&v, &served, &Kept::default())
                .lookup("example.com/m256", "v1.0.0")
                .await,
        );
        assert!(matches!(error, SecurityError::Malformed { .. }), "{error}");
    }

    #[tokio::test]
    async fn a_record_under_another_id_is_not_proved() {
        let v = vectors();
        let mut served = Served::new(&v, &v.log, 300);
        let body = &v
            .lookups
            .iter()
            .find(|l| l.module == "example.com/m099")
            .unwrap()
            .body;
        let moved = body.replacen("99\n", "98\n", 1);
        served
            .files
            .insert("lookup/example.com/m099@v1.0.0".into(), moved.into());
        let kept = Kept::default();
        let error = security(
            checker(&v, &served, &kept)
                .lookup("example.com/m099", "v1.0.0")
                .await,
        );
        assert_eq!(error, SecurityError::BadRecordProof { id: 98, tree: 300 });
        let beyond = body.replacen("99\n", "300\n", 1);
        served
            .files
            .insert("lookup/example.com/m099@v1.0.0".into(), beyond.into());
        let error = security(
            checker(&v, &served, &kept)
                .lookup("example.com/m099", "v1.0.0")
                .await,
        );
        assert_eq!(error, SecurityError::BadRecordProof { id: 300, tree: 300 });
    }

    #[tokio::test]
    async fn notes_not_signed_by_the_database_are_refused() {
        let v = vectors();
        let mut served = Served::new(&v, &v.log, 300);
        let kept = Kept::default();
        let note = &v.log.head(300).note;
        let (text, line) = note.rsplit_once("\n\n").unwrap();
        let (prefix, encoded) = line.trim_end().rsplit_once(' ').unwrap();
        let mut signature = STANDARD.decode(encoded).unwrap();
        signature[20] ^= 0x80;
        let flipped = format!("{text}\n\n{prefix} {}\n", STANDARD.encode(&signature));
        served.files.insert("latest".into(), flipped.into());
        let error = security(checker(&v, &served, &kept).latest().await);
        assert!(matches!(
            error,
            SecurityError::BadNote {
                error: NoteError::BadSignature,
                ..
            }
        ));
        assert_eq!(kept.note(), None);

        // The right note, checked with another database's key.
        let served = Served::new(&v, &v.log, 300);
        let other = SumDbSettings::parse(&v.other_key, "", "")
            .unwrap()
            .database
            .unwrap();
        let error = security(Checker::new(other, &served, &kept).latest().await);
        assert!(matches!(
            error,
            SecurityError::BadNote {
                error: NoteError::Unsigned,
                ..
            }
        ));
    }

    #[tokio::test]
    async fn check_compares_hashes_with_the_record() {
        let v = vectors();
        let served = Served::new(&v, &v.log, 300);
        let kept = Kept::default();
        let checker = checker(&v, &served, &kept);
        let hash = "h1:0000000000000000000000000000000000000000255=";
        let other = "h1:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
        let check = |zip, module| checker.check(module, "v1.0.0", zip, hash);
        assert_eq!(
            check(hash, "example.com/m255").await.unwrap(),
            Verdict::Match
        );
        assert_eq!(
            check(other, "example.com/m255").await.unwrap(),
            Verdict::Mismatch {
                file: "zip",
                expected: hash.into(),
                got: other.into()
            }
        );
        assert_eq!(
            check(hash, "example.com/absent").await.unwrap(),
            Verdict::NotInDatabase
        );
        let error = checker
            .lookup("example.com/absent", "v1.0.0")
            .await
            .unwrap_err();
        assert!(matches!(&error, CheckError::Other(e) if e.kind() == ErrorKind::NotFound));
        let error = checker.lookup("example.com/m255", "1.0").await.unwrap_err();
        assert!(matches!(&error, CheckError::Other(e) if e.kind() == ErrorKind::Invalid));
    }

    /// A store that fails, with a not-found of its own.
    struct Lost;

    #[async_trait]
    impl TreeHeadStore for Lost {
        async fn latest(&self, _database: &str) -> Result<Option<String>> {
            Err(Error::not_found("no such table"))
        }

        async fn replace(&self, _: &str, _: Option<&str>, _: &str) -> Result<bool> {
            Err(Error::not_found("no such table"))
        }
    }

    #[tokio::test]
    async fn a_failing_store_is_not_a_version_missing_from_the_database() {
        let v = vectors();
        let served = Served::new(&v, &v.log, 300);
        let checker = Checker::new(database(&v), &served, Lost);
        let hash = "h1:0000000000000000000000000000000000000000255=";
        let error = checker
            .check("example.com/m255", "v1.0.0", hash, hash)
            .await
            .unwrap_err();
        assert!(
            matches!(&error, CheckError::Other(e) if e.kind() == ErrorKind::Storage),
            "{error}"
        );
    }

    #[test]
    fn reads_gosumdb_as_the_go_command_does() {
        let default = SumDbSettings::parse("", "", "").unwrap().database.unwrap();
        assert_eq!(default.name(), "sum.golang.org");
        assert_eq!(default.key, SUM_GOLANG_ORG_KEY);
        assert_eq!(
            (default.url.as_str(), default.explicit_url),
            ("https://sum.golang.org", false)
        );
        let named = SumDbSettings::parse("sum.golang.org", "", "")
            .unwrap()
            .database
            .unwrap();
        assert_eq!(named.key, SUM_GOLANG_ORG_KEY);
        let china = SumDbSettings::parse("sum.golang.google.cn", "", "")
            .unwrap()
            .database
            .unwrap();
        assert_eq!(
            (china.name(), china.url.as_str()),
            ("sum.golang.org", "https://sum.golang.google.cn")
        );
        assert!(
            SumDbSettings::parse("off", "", "")
                .unwrap()
                .database
                .is_none()
        );

        let key = vectors().verifier_key;
        let given = SumDbSettings::parse(&format!("{key} http://127.0.0.1:9/db/"), "", "").unwrap();
        let given = given.database.unwrap();
        assert_eq!(
            (given.name(), given.url.as_str(), given.explicit_url),
            ("vectors.test", "http://127.0.0.1:9/db", true)
        );

        for bad in [
            "   ".to_owned(),
            "sum.example.com".to_owned(),
            format!("{key} https://a https://b"),
            format!("{key} ftp://a"),
            SUM_GOLANG_ORG_KEY.replace("033de0ae", "033de0af"),
        ] {
            let error = SumDbSettings::parse(&bad, "", "").unwrap_err();
            assert_eq!(error.kind(), ErrorKind::Invalid, "{bad}");
        }
    }

    #[test]
    fn private_patterns_fall_back_to_goprivate() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        let settings =
            SumDbSettings::from_env(env(&[("GOPRIVATE", "corp.example/,,*.internal")])).unwrap();
        assert_eq!(settings.private, ["corp.example", "*.internal"]);
        let settings = SumDbSettings::from_env(env(&[
            ("GOPRIVATE", "corp.example"),
            ("GONOSUMDB", "other.example"),
            ("GOINSECURE", "insecure.example"),
            ("GOSUMDB", ""),
        ]))
        .unwrap();
        assert_eq!(settings.private, ["other.example"]);
        assert_eq!(settings.insecure, ["insecure.example"]);
        assert_eq!(settings.database.unwrap().name(), "sum.golang.org");
    }
}
