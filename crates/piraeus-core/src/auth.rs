//! Client tokens: a name and a random secret, sent as HTTP Basic credentials (user = name,
//! password = secret). Only the SHA-256 of each secret is kept, in a JSON file for `piraeus
//! serve` and in a CloudFront KeyValueStore on AWS (key = name, value = the same hex hash and
//! the token's scope, [`kvs_value`]), so the file or the store leaking gives nobody a usable
//! secret.
//!
//! A token may be scoped to modules (`modules`: a GOPRIVATE-style comma-separated list of path
//! prefixes, matched as the policy matches them, letter case aside); a token without one reads
//! everything, as every token written before scopes does.
//!
//! A secret is 32 random bytes, so a plain SHA-256 cannot be brute-forced; a slow password
//! hash would only slow every request down.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime};

use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::{Error, Result};
use crate::golang::glob;

/// How clients are challenged for a token.
pub(crate) const CHALLENGE: &str = "Basic realm=\"piraeus\"";

/// How often the token file is looked at for changes while serving: tokens added or revoked
/// take effect within this long, without a restart.
const RELOAD_INTERVAL: Duration = Duration::from_secs(1);

/// Verified `Authorization` values remembered, so a hit costs a set lookup, not a hash. Bounded:
/// emptied when full, and whenever the file changes (a revoked token must stop working).
const VERIFIED_CAPACITY: usize = 4096;

/// The token file: `{"tokens": [{"name", "sha256", "created", "modules"?}]}`. Unknown
/// fields are refused, not ignored: a field from a newer version may narrow what a token
/// reads, and ignoring it would widen it.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenFile {
    pub tokens: Vec<TokenRecord>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenRecord {
    pub name: String,
    /// Lowercase hex SHA-256 of the secret.
    pub sha256: String,
    /// RFC 3339, UTC.
    pub created: String,
    /// The modules the token may read, as given to `token new --modules`; none: all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modules: Option<String>,
}

/// Who a request was let in as: the token's name, and the modules it may read.
#[derive(Debug)]
pub struct Client {
    pub name: Arc<str>,
    /// `None`: every module.
    scope: Option<Vec<String>>,
}

impl Client {
    /// Whether the token may read `module` (a module path as the go command spells it).
    pub(crate) fn may_read(&self, module: &str) -> bool {
        self.scope
            .as_deref()
            .is_none_or(|patterns| glob::matching_prefix_pattern(patterns, module).is_some())
    }

    /// Whether the token reads only some modules (and so none of what spans them all, such
    /// as the metrics).
    pub(crate) fn is_scoped(&self) -> bool {
        self.scope.is_some()
    }

    /// The `403` for a module outside the scope, naming the token and the module.
    pub(crate) fn refusal(&self, module: &str) -> Error {
        Error::forbidden(format!(
            "token {:?} may not read {module}: it is outside the token's modules",
            &*self.name
        ))
    }
}

/// A `--modules` list: comma-separated GOPRIVATE-style patterns, each one that can match a
/// module path.
pub fn parse_scope(list: &str) -> Result<Vec<String>> {
    let patterns = glob::split_patterns(list);
    if patterns.is_empty() {
        return Err(Error::invalid(format!(
            "--modules {list:?} names no module pattern"
        )));
    }
    for pattern in &patterns {
        glob::check(pattern)
            .map_err(|why| Error::invalid(format!("--modules pattern {pattern:?} {why}")))?;
    }
    Ok(patterns)
}

/// The longest value a CloudFront KeyValueStore holds: 1024 characters (CloudFront's quota).
const KVS_VALUE_LIMIT: usize = 1024;

/// A token's value in the KeyValueStore the viewer-request function reads: the hex SHA-256 of
/// its secret, and for a scoped token `;` and its patterns as [`parse_scope`] reads them,
/// comma-separated. A bare hash, as every value written before scopes is, reads everything.
pub fn kvs_value(hash: &str, modules: Option<&str>) -> Result<String> {
    let Some(list) = modules else {
        return Ok(hash.to_string());
    };
    let value = format!("{hash};{}", parse_scope(list)?.join(","));
    if value.len() > KVS_VALUE_LIMIT {
        return Err(Error::invalid(format!(
            "--modules is too long for the KeyValueStore: with the secret's hash the value has {} \
             characters, and a value holds at most {KVS_VALUE_LIMIT}; use fewer or shorter \
             patterns (one pattern covers every module under its path)",
            value.len()
        )));
    }
    Ok(value)
}

/// The patterns a KeyValueStore value ([`kvs_value`]) scopes its token to; `None`: every module.
pub fn kvs_modules(value: &str) -> Option<&str> {
    value.split_once(';').map(|(_, modules)| modules)
}

/// A token name: what clients send as the Basic user name, so no colon, and short.
pub fn check_name(name: &str) -> Result<()> {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if first_ok && rest_ok && name.len() <= 64 {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "token name {name:?}: use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit"
        )))
    }
}

/// A new secret: 32 random bytes in lowercase hex.
pub fn new_secret() -> Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| Error::storage("the OS random number generator", e))?;
    Ok(hex::encode(bytes))
}

/// The stored form of a secret.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

impl TokenFile {
    /// The file's tokens; a missing file has none.
    pub fn load(path: &Path) -> Result<Self> {
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                Error::invalid(format!("{} is not a token file", path.display())).with_source(e)
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(Error::storage(path.display(), e)),
        }
    }

    /// Adds a token named `name`, reading `modules` (all when `None`), and returns its secret,
    /// which is not kept anywhere.
    pub fn add(&mut self, name: &str, modules: Option<&str>) -> Result<String> {
        check_name(name)?;
        if let Some(list) = modules {
            parse_scope(list)?;
        }
        if self.tokens.iter().any(|t| t.name == name) {
            return Err(Error::conflict(format!(
                "a token named {name:?} exists; revoke it first or choose another name"
            )));
        }
        let secret = new_secret()?;
        self.tokens.push(TokenRecord {
            name: name.to_string(),
            sha256: hash_secret(&secret),
            created: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
            modules: modules.map(str::to_string),
        });
        Ok(secret)
    }

    /// Removes the token named `name`; false when there was none.
    pub fn revoke(&mut self, name: &str) -> bool {
        let before = self.tokens.len();
        self.tokens.retain(|t| t.name != name);
        self.tokens.len() != before
    }

    /// Replaces the file at once (a reader sees the old or the new file, never half of one),
    /// readable by its owner only.
    pub fn save(&self, path: &Path) -> Result<()> {
        let directory = match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
        let mut file = tempfile::Builder::new()
            .prefix(".piraeus-tokens")
            .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .tempfile_in(directory)
            .map_err(|e| Error::storage(directory.display(), e))?;
        let mut text = serde_json::to_string_pretty(self).expect("a token file serialises");
        text.push('\n');
        file.write_all(text.as_bytes())
            .and_then(|()| file.as_file().sync_all())
            .map_err(|e| Error::storage(path.display(), e))?;
        file.persist(path)
            .map_err(|e| Error::storage(path.display(), e.error))?;
        Ok(())
    }
}

/// Checks Basic credentials against a token file that may change while the server runs.
pub struct Authenticator {
    path: PathBuf,
    state: RwLock<State>,
}

struct State {
    checked_at: Instant,
    stamp: Option<(SystemTime, u64)>,
    /// name → SHA-256 of the secret, and who the token lets in.
    hashes: HashMap<String, ([u8; 32], Arc<Client>)>,
    /// Credential (`base64(name:secret)`) → who it lets in.
    verified: HashMap<String, Arc<Client>>,
    /// Bumped by every reload, so a check that read the old tokens cannot put a revoked
    /// token back into `verified` after the reload emptied it.
    generation: u64,
}

impl Authenticator {
    /// Reads the token file, which must exist: a server told to require tokens and given none
    /// would refuse everyone.
    pub fn open(path: &Path) -> Result<Self> {
        if !path.exists() {
            return Err(Error::invalid(format!(
                "token file {} does not exist; create a token with `piraeus token new NAME --auth-file {}`",
                path.display(),
                path.display()
            )));
        }
        let authenticator = Self {
            path: path.to_path_buf(),
            state: RwLock::new(State {
                checked_at: Instant::now(),
                stamp: None,
                hashes: HashMap::new(),
                verified: HashMap::new(),
                generation: 0,
            }),
        };
        let mut state = authenticator
            .state
            .write()
            .unwrap_or_else(|p| p.into_inner());
        authenticator.reload(&mut state)?;
        drop(state);
        Ok(authenticator)
    }

    /// Who the token an `Authorization` header value carries lets in, when the file has that
    /// token with that secret.
    pub fn allows(&self, authorization: Option<&str>) -> Option<Arc<Client>> {
        // Remembered by the credential, not the header as sent: padding a header must not
        // make a new entry of each request.
        let authorization = basic_credential(authorization?)?;
        {
            // A hit's whole cost when the credentials were seen before: one read lock, one
            // lookup, no allocation.
            let state = self.state.read().unwrap_or_else(|p| p.into_inner());
            if state.checked_at.elapsed() < RELOAD_INTERVAL
                && let Some(client) = state.verified.get(authorization)
            {
                return Some(client.clone());
            }
        }
        self.reload_if_due();
        let (client, generation) = {
            let state = self.state.read().unwrap_or_else(|p| p.into_inner());
            if let Some(client) = state.verified.get(authorization) {
                return Some(client.clone());
            }
            (verify(&state.hashes, authorization)?, state.generation)
        };
        let mut state = self.state.write().unwrap_or_else(|p| p.into_inner());
        if state.generation != generation {
            // The tokens changed since this check: its answer stands for this request only.
            return Some(client);
        }
        if state.verified.len() >= VERIFIED_CAPACITY {
            state.verified.clear();
        }
        state
            .verified
            .insert(authorization.to_string(), client.clone());
        Some(client)
    }

    fn reload_if_due(&self) {
        let due = {
            let state = self.state.read().unwrap_or_else(|p| p.into_inner());
            state.checked_at.elapsed() >= RELOAD_INTERVAL
        };
        if !due {
            return;
        }
        let mut state = self.state.write().unwrap_or_else(|p| p.into_inner());
        if state.checked_at.elapsed() < RELOAD_INTERVAL {
            return;
        }
        if let Err(error) = self.reload(&mut state) {
            // Fail closed: a file that cannot be read might be missing a revocation.
            tracing::error!(error = %error.chain(), "cannot read the token file; refusing every client until it is fixed");
            state.hashes.clear();
            state.verified.clear();
            state.generation += 1;
            state.stamp = None;
        }
    }

    /// Re-reads the file when its modification time or size changed.
    fn reload(&self, state: &mut State) -> Result<()> {
        state.checked_at = Instant::now();
        let metadata =
            std::fs::metadata(&self.path).map_err(|e| Error::storage(self.path.display(), e))?;
        let stamp = Some((
            metadata.modified().unwrap_or(SystemTime::UNIX_EPOCH),
            metadata.len(),
        ));
        if stamp == state.stamp {
            return Ok(());
        }
        let file = TokenFile::load(&self.path)?;
        let mut hashes = HashMap::new();
        for token in file.tokens {
            let mut hash = [0u8; 32];
            hex::decode_to_slice(&token.sha256, &mut hash).map_err(|e| {
                Error::invalid(format!("token {:?} has a malformed hash", token.name))
                    .with_source(e)
            })?;
            let scope = token
                .modules
                .as_deref()
                .map(parse_scope)
                .transpose()
                .map_err(|e| Error::invalid(format!("token {:?}: {}", token.name, e.message())))?;
            let client = Arc::new(Client {
                name: token.name.as_str().into(),
                scope,
            });
            hashes.insert(token.name, (hash, client));
        }
        tracing::info!(tokens = hashes.len(), "token file loaded");
        state.hashes = hashes;
        state.verified.clear();
        state.generation += 1;
        state.stamp = stamp;
        Ok(())
    }
}

/// The `base64(name:secret)` of a `Basic` `Authorization` value (the scheme in any case, the
/// spaces around the credential dropped): the one form each credential has.
fn basic_credential(authorization: &str) -> Option<&str> {
    let (scheme, credential) = authorization.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("basic")
        .then(|| credential.trim())
}

/// `base64(name:secret)` against the hashes, comparing in constant time: who the token lets
/// in when it matches.
fn verify(hashes: &HashMap<String, ([u8; 32], Arc<Client>)>, encoded: &str) -> Option<Arc<Client>> {
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (name, secret) = decoded.split_once(':')?;
    let (expected, client) = hashes.get(name)?;
    let actual: [u8; 32] = Sha256::digest(secret.as_bytes()).into();
    bool::from(actual.ct_eq(expected)).then(|| client.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(client: Option<Arc<Client>>) -> Option<String> {
        client.map(|client| client.name.to_string())
    }

    #[test]
    fn scoped_tokens_read_only_their_modules() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("tokens.json");
        let mut file = TokenFile::load(&path).unwrap();
        let scoped = file
            .add(
                "team-a",
                Some("corp.example.com/team-a/,github.com/TeamA/*"),
            )
            .unwrap();
        let full = file.add("ci", None).unwrap();
        for bad in ["", ",", "/x", "a b", "a/[b"] {
            assert!(file.add("bad", Some(bad)).is_err(), "{bad:?}");
        }
        file.save(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.matches("\"modules\"").count(), 1, "{text}");
        let authenticator = Authenticator::open(&path).unwrap();
        let team = authenticator
            .allows(Some(&basic("team-a", &scoped)))
            .unwrap();
        assert!(team.is_scoped());
        for readable in [
            "corp.example.com/team-a",
            "corp.example.com/team-a/lib/v2",
            "github.com/teama/x",
            "Corp.Example.com/Team-A/x",
        ] {
            assert!(team.may_read(readable), "{readable}");
        }
        for outside in [
            "corp.example.com/team-b",
            "corp.example.com/team-ab",
            "github.com/teama",
        ] {
            assert!(!team.may_read(outside), "{outside}");
        }
        let ci = authenticator.allows(Some(&basic("ci", &full))).unwrap();
        assert!(!ci.is_scoped() && ci.may_read("anything.example/x"));
    }

    #[test]
    fn token_files_from_before_scopes_read_everything_and_unknown_fields_are_refused() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("tokens.json");
        let hash = hash_secret("s");
        std::fs::write(
            &path,
            format!(r#"{{"tokens":[{{"name":"old","sha256":"{hash}","created":"2026-01-01T00:00:00Z"}}]}}"#),
        )
        .unwrap();
        let authenticator = Authenticator::open(&path).unwrap();
        let old = authenticator.allows(Some(&basic("old", "s"))).unwrap();
        assert!(!old.is_scoped());
        std::fs::write(
            &path,
            format!(r#"{{"tokens":[{{"name":"new","sha256":"{hash}","created":"2026-01-01T00:00:00Z","modules_v2":"x"}}]}}"#),
        )
        .unwrap();
        let error = TokenFile::load(&path).unwrap_err();
        assert!(
            format!("{}", error.chain()).contains("modules_v2"),
            "{}",
            error.chain()
        );
    }

    fn basic(user: &str, password: &str) -> String {
        let encoded =
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        format!("Basic {encoded}")
    }

    #[test]
    fn tokens_are_stored_as_hashes_and_verified() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("tokens.json");
        let mut file = TokenFile::load(&path).unwrap();
        let secret = file.add("ci", None).unwrap();
        assert_eq!(secret.len(), 64);
        assert!(file.add("ci", None).is_err(), "names are unique");
        file.save(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains(&secret));
        assert!(text.contains(&hash_secret(&secret)));
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(&path).unwrap().permissions(),
        );
        assert_eq!(mode & 0o777, 0o600);

        let authenticator = Authenticator::open(&path).unwrap();
        assert_eq!(
            name(authenticator.allows(Some(&basic("ci", &secret)))).as_deref(),
            Some("ci")
        );
        assert_eq!(
            name(authenticator.allows(Some(&basic("ci", &secret)))).as_deref(),
            Some("ci"),
            "cached"
        );
        for refused in [
            basic("ci", "wrong"),
            basic("other", &secret),
            basic("ci", ""),
            format!("Bearer {secret}"),
            "Basic !!!".to_string(),
            "Basic ".to_string(),
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode("ci")
            ),
        ] {
            assert!(authenticator.allows(Some(&refused)).is_none(), "{refused}");
        }
        assert!(authenticator.allows(None).is_none());
    }

    #[test]
    fn padded_credentials_are_remembered_once() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("tokens.json");
        let mut file = TokenFile::load(&path).unwrap();
        let secret = file.add("ci", None).unwrap();
        file.save(&path).unwrap();
        let authenticator = Authenticator::open(&path).unwrap();
        let credential = basic("ci", &secret);
        let encoded = credential.strip_prefix("Basic ").unwrap();
        for padding in 0..100 {
            let spaces = " ".repeat(padding);
            for sent in [
                format!("Basic {spaces}{encoded}"),
                format!("{spaces}basic {encoded}{spaces}"),
                format!("BASIC {encoded}"),
            ] {
                assert_eq!(
                    name(authenticator.allows(Some(&sent))).as_deref(),
                    Some("ci")
                );
            }
        }
        let state = authenticator.state.read().unwrap();
        assert_eq!(state.verified.len(), 1, "one credential, one entry");
    }

    #[test]
    fn kvs_values_carry_the_hash_and_the_scope_within_the_stores_limit() {
        let hash = hash_secret("s");
        assert_eq!(kvs_value(&hash, None).unwrap(), hash);
        assert_eq!(
            kvs_modules(&hash),
            None,
            "a value from before scopes reads everything"
        );
        let value = kvs_value(
            &hash,
            Some(" corp.example.com/team-a/, ,github.com/TeamA/*"),
        )
        .unwrap();
        assert_eq!(
            value,
            format!("{hash};corp.example.com/team-a,github.com/TeamA/*")
        );
        assert_eq!(
            kvs_modules(&value),
            Some("corp.example.com/team-a,github.com/TeamA/*")
        );
        assert!(kvs_value(&hash, Some("a/[b")).is_err());

        // 64 hex characters and `;` leave 959 for the patterns.
        let pattern = |n: usize| format!("corp.example.com/{n:0>20}");
        let fits = (0..25).map(pattern).collect::<Vec<_>>().join(",");
        assert_eq!(fits.len(), 25 * 38 - 1);
        assert!(kvs_value(&hash, Some(&fits)).unwrap().len() <= KVS_VALUE_LIMIT);
        let longest = format!("corp.example.com/{}", "x".repeat(959 - 17));
        assert_eq!(
            kvs_value(&hash, Some(&longest)).unwrap().len(),
            KVS_VALUE_LIMIT
        );
        let too_long = format!("{longest}x");
        let error = kvs_value(&hash, Some(&too_long)).unwrap_err();
        assert_eq!(error.kind(), crate::error::ErrorKind::Invalid);
        assert!(
            error.message().contains("at most 1024"),
            "{}",
            error.message()
        );
    }

    #[test]
    fn names_are_checked() {
        for good in ["ci", "team-a.build_1", "A"] {
            check_name(good).unwrap();
        }
        for bad in ["", "-x", "a:b", "a b", "é", &"x".repeat(65)] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }
}
