//! Every setting of Piraeus, defined once: its flag, its environment variable, its default, its
//! help and its parser. `piraeus` turns each into a command-line flag (which also reads the
//! variable); the Lambda functions read the same variables from their environment. Nothing
//! else names a `PIRAEUS_*` variable or writes a default.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::clock::{self, parse_duration};
use crate::error::{Error, Result};
use crate::policy::{DownloadMode, Pin};
use crate::proxy::{ProxySettings, default_instance_name, lease_for};
use crate::sumdb::{SumDatabase, parse_databases};
use crate::telemetry::logging::LogFormat;

/// One setting. `T` is what the parser makes of the text.
pub struct Setting<T: 'static> {
    /// The long flag, without its dashes.
    pub flag: &'static str,
    /// The environment variable.
    pub env: &'static str,
    /// Used when neither the flag nor the variable is given; `None`: optional or required.
    pub default: Option<&'static str>,
    pub help: &'static str,
    pub parse: fn(&str) -> Result<T, String>,
}

impl<T> Setting<T> {
    /// The value named by `lookup(env)`, else the default; `None` when there is neither. Empty
    /// values count as unset, as a template parameter left blank does.
    pub fn read(&self, lookup: &dyn Fn(&str) -> Option<String>) -> Result<Option<T>> {
        let given = lookup(self.env).filter(|value| !value.trim().is_empty());
        given
            .as_deref()
            .or(self.default)
            .map(|text| {
                (self.parse)(text).map_err(|error| Error::invalid(format!("{}: {error}", self.env)))
            })
            .transpose()
    }

    /// Like [`Setting::read`], for settings without which nothing can start.
    pub fn require(&self, lookup: &dyn Fn(&str) -> Option<String>) -> Result<T> {
        self.read(lookup)?
            .ok_or_else(|| Error::invalid(format!("{} must be set", self.env)))
    }

    /// The parsed default, for code that needs one without a setting source (tests, defaults).
    pub fn default_value(&self) -> T {
        let text = self.default.expect("the setting has a default");
        (self.parse)(text).expect("the default parses")
    }
}

// The proxy's defaults are the settings' defaults: one definition of each, here.
impl Default for ProxySettings {
    /// The settings' defaults, for a proxy that waits as long as a fetch may take.
    fn default() -> Self {
        let fetch_timeout = FETCH_TIMEOUT.default_value();
        Self {
            answer_ttl: ANSWER_TTL.default_value(),
            not_found_ttl: NOT_FOUND_TTL.default_value(),
            wait_timeout: fetch_timeout + Duration::from_secs(60),
            lease_duration: lease_for(fetch_timeout),
            failure_ttl: FAILURE_TTL.default_value(),
            instance: default_instance_name(),
            download_mode: DOWNLOAD_MODE.default_value(),
            redirect_zips_over: None,
            cache_size: CACHE_SIZE.default_value(),
        }
    }
}

pub const LOG_FORMAT: Setting<LogFormat> = Setting {
    flag: "log-format",
    env: "PIRAEUS_LOG_FORMAT",
    default: Some("human"),
    help: "Log format: human (readable lines) or json (one object per line, for log pipelines)",
    parse: LogFormat::parse,
};

pub const LISTEN: Setting<SocketAddr> = Setting {
    flag: "listen",
    env: "PIRAEUS_LISTEN",
    default: Some("127.0.0.1:3000"),
    help: "Address to listen on",
    parse: |text| {
        text.parse()
            .map_err(|_| format!("{text:?} is not an address like 127.0.0.1:3000"))
    },
};

pub const DATA_DIR: Setting<PathBuf> = Setting {
    flag: "data-dir",
    env: "PIRAEUS_DATA_DIR",
    default: Some("piraeus-data"),
    help: "Where modules are stored, laid out as a GOPROXY tree (usable as GOPROXY=file://DIR). \
           The index and scratch space live in its .piraeus folder",
    parse: |text| Ok(PathBuf::from(text)),
};

pub const AUTH_FILE: Setting<PathBuf> = Setting {
    flag: "auth-file",
    env: "PIRAEUS_AUTH_FILE",
    default: None,
    help: "Require a client token (HTTP Basic: user = token name, password = secret) on every \
           route but /healthz, checked against this file. Manage it with `piraeus token`; \
           changes take effect within a second",
    parse: |text| Ok(PathBuf::from(text)),
};

pub const TOKEN_STORE: Setting<String> = Setting {
    flag: "kvs",
    env: "PIRAEUS_TOKEN_STORE",
    default: None,
    help: "Manage the tokens in this CloudFront KeyValueStore (ARN; the stack's TokenStoreArn \
           output) instead of a token file; credentials from the standard AWS environment",
    parse: |text| {
        if text.starts_with("arn:") && text.contains(":key-value-store/") {
            Ok(text.to_string())
        } else {
            Err(format!(
                "{text:?} is not a KeyValueStore ARN (arn:aws:cloudfront::ACCOUNT:key-value-store/ID)"
            ))
        }
    },
};

pub const TLS_CERT: Setting<PathBuf> = Setting {
    flag: "tls-cert",
    env: "PIRAEUS_TLS_CERT",
    default: None,
    help: "Serve https with this PEM certificate chain (with --tls-key); reloaded when it changes",
    parse: |text| Ok(PathBuf::from(text)),
};

pub const TLS_KEY: Setting<PathBuf> = Setting {
    flag: "tls-key",
    env: "PIRAEUS_TLS_KEY",
    default: None,
    help: "The PEM private key of --tls-cert; reloaded when it changes",
    parse: |text| Ok(PathBuf::from(text)),
};

pub const POLICY: Setting<String> = Setting {
    flag: "policy",
    env: "PIRAEUS_POLICY",
    default: None,
    help: "Module policy (TOML), a file or s3://BUCKET/KEY: which modules may be fetched, served \
           only from storage, redirected or denied, and an optional approval hook \
           (docs/security.md)",
    parse: |text| Ok(text.to_string()),
};

/// A list: the command's flag may be repeated, and the variable separates entries with commas.
pub const EGRESS_PINS: Setting<Vec<Pin>> = Setting {
    flag: "egress-pin",
    env: "PIRAEUS_EGRESS_PINS",
    default: None,
    help: "HOST:PORT=ADDRESS:PORT: the fetcher's connections to HOST:PORT go to ADDRESS:PORT, \
           without asking DNS (like curl's --connect-to), for tests and names only your resolver \
           knows. The egress guard judges a pinned address as any other (docs/security.md)",
    parse: |text| {
        text.split(',')
            .filter(|pin| !pin.trim().is_empty())
            .map(Pin::parse)
            .collect()
    },
};

pub const HEADER_TIMEOUT: Setting<Duration> = Setting {
    flag: "header-timeout",
    env: "PIRAEUS_HEADER_TIMEOUT",
    default: Some("10s"),
    help: "A connection that has not sent its request headers (and TLS handshake) within this \
           long is closed",
    parse: parse_duration,
};

pub const IDLE_TIMEOUT: Setting<Duration> = Setting {
    flag: "idle-timeout",
    env: "PIRAEUS_IDLE_TIMEOUT",
    default: Some("60s"),
    help: "A keep-alive connection with no request for this long is closed",
    parse: parse_duration,
};

pub const MAX_CONNECTIONS: Setting<usize> = Setting {
    flag: "max-connections",
    env: "PIRAEUS_MAX_CONNECTIONS",
    default: Some("4096"),
    help: "Open client connections at most; more are closed at once (also capped by the \
           process's file descriptor limit)",
    parse: |text| match text.trim().parse::<usize>() {
        Ok(count) if count >= 1 => Ok(count),
        _ => Err(format!("{text:?} is not a positive count")),
    },
};

pub const SHUTDOWN_TIMEOUT: Setting<Duration> = Setting {
    flag: "shutdown-timeout",
    env: "PIRAEUS_SHUTDOWN_TIMEOUT",
    default: Some("20s"),
    help: "On SIGTERM or Ctrl-C, how long requests in progress may finish before the server exits",
    parse: parse_duration,
};

pub const METRICS: Setting<bool> = Setting {
    flag: "metrics",
    env: "PIRAEUS_METRICS",
    default: Some("false"),
    help: "Serve GET /metrics (Prometheus text format): on the main listener behind the same \
           client tokens as every route, or with --metrics-listen on a listener of its own",
    parse: parse_switch,
};

pub const METRICS_LISTEN: Setting<SocketAddr> = Setting {
    flag: "metrics-listen",
    env: "PIRAEUS_METRICS_LISTEN",
    default: None,
    help: "Serve GET /metrics on this address instead (plain http, no client token: keep it on \
           loopback or a monitoring network); implies --metrics",
    parse: |text| {
        text.parse()
            .map_err(|_| format!("{text:?} is not an address like 127.0.0.1:9090"))
    },
};

/// `true`/`false` (also `1`/`0`, `yes`/`no`, `on`/`off`), for flags that are switches.
fn parse_switch(text: &str) -> Result<bool, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(format!("{text:?} is neither true nor false")),
    }
}

pub const VERIFY_SINCE: Setting<i64> = Setting {
    flag: "since",
    env: "PIRAEUS_VERIFY_SINCE",
    default: None,
    help: "Check only versions stored at or after this moment: an RFC 3339 timestamp \
           (2025-01-02T03:04:05Z) or a duration before now (7d, 12h)",
    parse: parse_since,
};

/// An RFC 3339 timestamp, or a duration back from now, as Unix milliseconds.
fn parse_since(text: &str) -> Result<i64, String> {
    if let Ok(millis) = clock::parse_timestamp(text) {
        return Ok(millis);
    }
    match parse_duration(text) {
        Ok(ago) => Ok(clock::now_millis() - ago.as_millis() as i64),
        Err(_) => Err(format!(
            "{text:?} is neither an RFC 3339 timestamp (2025-01-02T03:04:05Z) nor a duration (7d, 12h)"
        )),
    }
}

pub const VERIFY_CONCURRENCY: Setting<usize> = Setting {
    flag: "concurrency",
    env: "PIRAEUS_VERIFY_CONCURRENCY",
    default: Some("8"),
    help: "How many versions are read and hashed at once",
    parse: parse_count,
};

pub const PREFETCH_PROXY: Setting<String> = Setting {
    flag: "proxy",
    env: "PIRAEUS_PROXY_URL",
    default: Some("http://127.0.0.1:3000"),
    help: "The proxy to warm: piraeus serve's URL (its POST /prefetch; a client token as \
           http://NAME:SECRET@HOST, or in ~/.netrc over https), or on AWS the stack's PrefetchUrl \
           output (https://ID.lambda-url.REGION.on.aws/prefetch, signed with SigV4)",
    // Checked by `piraeus prefetch`, whose messages leave out the secret a URL may carry
    // (clap's would quote it).
    parse: |text| Ok(text.to_string()),
};

pub const STORE: Setting<BucketLocation> = Setting {
    flag: "store",
    env: "PIRAEUS_STORE",
    default: None,
    help: "Store artifacts in S3 instead of the data directory: s3://BUCKET[/PREFIX]. Endpoint, \
           region and credentials come from the standard AWS environment (e.g. AWS_ENDPOINT_URL)",
    parse: BucketLocation::parse,
};

pub const INDEX: Setting<TableLocation> = Setting {
    flag: "index",
    env: "PIRAEUS_INDEX",
    default: None,
    help: "Keep the index in DynamoDB instead of SQLite: dynamodb://TABLE",
    parse: TableLocation::parse,
};

/// The go command's own default.
pub const UPSTREAM: Setting<String> = Setting {
    flag: "upstream",
    env: "PIRAEUS_UPSTREAM",
    default: Some("https://proxy.golang.org,direct"),
    help: "Where misses come from, in the go command's GOPROXY syntax (URLs, \"direct\", \"off\", \
           separated by \",\" or \"|\"). Proxies are spoken to natively and verified against \
           GOSUMDB; the go command runs for \"direct\" and for GOPRIVATE/GONOPROXY modules",
    parse: parse_upstream,
};

pub const GO: Setting<PathBuf> = Setting {
    flag: "go",
    env: "PIRAEUS_GO",
    default: Some("go"),
    help: "The go command used to fetch (a name on PATH or a path)",
    parse: |text| Ok(PathBuf::from(text)),
};

pub const FETCH_TIMEOUT: Setting<Duration> = Setting {
    flag: "fetch-timeout",
    env: "PIRAEUS_FETCH_TIMEOUT",
    default: Some("10m"),
    help: "Longest a single fetch may run before it is killed (e.g. 90s, 10m)",
    parse: parse_duration,
};

pub const MAX_CONCURRENT_FETCHES: Setting<usize> = Setting {
    flag: "max-concurrent-fetches",
    env: "PIRAEUS_MAX_CONCURRENT_FETCHES",
    default: Some("4"),
    help: "How many downloads (go mod download) may run at once",
    parse: parse_count,
};

fn parse_count(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(count) if (1..=u16::MAX as usize).contains(&count) => Ok(count),
        _ => Err(format!("{text:?} is not a count from 1 to {}", u16::MAX)),
    }
}

pub const MAX_CONCURRENT_LOOKUPS: Setting<usize> = Setting {
    flag: "max-concurrent-lookups",
    env: "PIRAEUS_MAX_CONCURRENT_LOOKUPS",
    default: Some("4"),
    help: "How many list and query go commands may run at once, apart from downloads",
    parse: parse_count,
};

pub const MAX_QUEUED: Setting<usize> = Setting {
    flag: "max-queued",
    env: "PIRAEUS_MAX_QUEUED",
    default: Some("100"),
    help: "How many downloads, and separately lookups, may wait for a go command; beyond that \
           requests get 503 with Retry-After",
    parse: |text| match text.trim().parse::<usize>() {
        Ok(count) => Ok(count),
        _ => Err(format!("{text:?} is not a count")),
    },
};

pub const ANSWER_TTL: Setting<Duration> = Setting {
    flag: "answer-ttl",
    env: "PIRAEUS_ANSWER_TTL",
    default: Some("60s"),
    help: "How long list, @latest and branch/commit query answers are reused (and may be cached \
           by clients and CDNs) before upstream is asked again. When upstream fails, older \
           answers are still served",
    parse: parse_duration,
};

pub const NOT_FOUND_TTL: Setting<Duration> = Setting {
    flag: "not-found-ttl",
    env: "PIRAEUS_NOT_FOUND_TTL",
    default: Some("60s"),
    help: "How long upstream's answer that a module or query does not exist is remembered \
           before the go command is asked again (the go command looks up every path prefix of \
           a module on each build)",
    parse: parse_duration,
};

pub const FAILURE_TTL: Setting<Duration> = Setting {
    flag: "failure-ttl",
    env: "PIRAEUS_FAILURE_TTL",
    default: Some("30s"),
    help: "How long a failed fetch of a version is answered from the index (the same error) \
           before upstream is asked again",
    parse: parse_duration,
};

pub const DOWNLOAD_MODE: Setting<DownloadMode> = Setting {
    flag: "download-mode",
    env: "PIRAEUS_DOWNLOAD_MODE",
    default: Some("sync"),
    help: "What a request for a version not stored yet gets: sync waits for the fetch; async \
           starts it and answers 404 at once, so GOPROXY=piraeus,<next> moves on meanwhile",
    parse: DownloadMode::parse,
};

/// Serve function only: a Lambda invocation cannot wait as long as a local request can.
pub const WAIT_TIMEOUT: Setting<Duration> = Setting {
    flag: "wait-timeout",
    env: "PIRAEUS_WAIT_TIMEOUT",
    default: Some("50s"),
    help: "How long a request waits for a fetch in sync mode before answering 503",
    parse: parse_duration,
};

/// A buffered Lambda response carries at most 6 MB, base64 inflates binary by 4/3, and the
/// headers need room too: 4 MiB.
pub const REDIRECT_ZIPS_OVER: Setting<u64> = Setting {
    flag: "redirect-zips-over",
    env: "PIRAEUS_REDIRECT_ZIPS_OVER",
    default: Some("4194304"),
    help: "Zips larger than this many bytes are answered with a redirect to their own path, which \
           CloudFront then serves from the bucket",
    parse: |text| {
        text.trim()
            .parse()
            .map_err(|_| format!("{text:?} is not a number of bytes"))
    },
};

/// Ready records are ~0.5 KB and a typical `.info` or `.mod` well under that: 64 MiB keeps
/// the hot set of a large organisation, and is small next to the serve function's memory.
pub const CACHE_SIZE: Setting<u64> = Setting {
    flag: "cache-size",
    env: "PIRAEUS_CACHE_SIZE",
    default: Some("64MiB"),
    help: "Memory for the hit cache: records of stored versions and their .info and .mod \
           files, so hits need no index query or file read (e.g. 64MiB, 1GiB; 0 turns it off)",
    parse: parse_bytes,
};

/// A list: the command's flag may be repeated, and the variable separates entries with commas.
pub const SUMDB: Setting<Vec<SumDatabase>> = Setting {
    flag: "sumdb",
    env: "PIRAEUS_SUMDB",
    default: Some("sum.golang.org=https://sum.golang.org"),
    help: "A checksum database to proxy at /sumdb/NAME/, as NAME=URL (NAME as in GOSUMDB); \
           repeat the flag (or separate entries with commas) for several, or \"off\" for none. \
           Lookups of modules matching GOPRIVATE or GONOSUMDB are refused",
    parse: parse_databases,
};

pub const FETCH_FUNCTION: Setting<String> = Setting {
    flag: "fetch-function",
    env: "PIRAEUS_FETCH_FUNCTION",
    default: None,
    help: "The fetch function's name or ARN (serve and prefetch functions)",
    parse: |text| Ok(text.trim().to_string()),
};

/// Lookups are synchronous and short; downloads queue as events and may hold every instance of
/// the fetch function for minutes. A function of their own keeps one from starving the other.
pub const LOOKUP_FUNCTION: Setting<String> = Setting {
    flag: "lookup-function",
    env: "PIRAEUS_LOOKUP_FUNCTION",
    default: None,
    help: "The function answering list, @latest and query lookups (serve and prefetch functions); unset: the fetch function",
    parse: |text| Ok(text.trim().to_string()),
};

pub const SCRATCH_DIR: Setting<PathBuf> = Setting {
    flag: "scratch-dir",
    env: "PIRAEUS_SCRATCH_DIR",
    default: Some("/tmp/piraeus"),
    help: "Where the fetch function unpacks downloads (Lambda's /tmp)",
    parse: |text| Ok(PathBuf::from(text)),
};

pub const GIT_SSH_KEY: Setting<PathBuf> = Setting {
    flag: "git-ssh-key",
    env: "PIRAEUS_GIT_SSH_KEY",
    default: None,
    help: "A JSON file {\"private_key\", \"known_hosts\"}: git reaches SSH hosts with this key, \
           trusting only these host keys (and may then use ssh at all)",
    parse: |text| Ok(PathBuf::from(text)),
};

pub const GITHUB_APP: Setting<PathBuf> = Setting {
    flag: "github-app",
    env: "PIRAEUS_GITHUB_APP",
    default: None,
    help: "A JSON file {\"app_id\", \"installation_id\", \"private_key\", \"host\"}: git fetches \
           from the app's host (default github.com) with installation tokens minted from it",
    parse: |text| Ok(PathBuf::from(text)),
};

pub const GITHUB_API: Setting<String> = Setting {
    flag: "github-api",
    env: "PIRAEUS_GITHUB_API",
    default: None,
    help: "The GitHub API that mints the app's tokens (default https://api.github.com for \
           github.com, else https://HOST/api/v3)",
    parse: |text| Ok(text.trim().to_string()),
};

pub const GIT_INSTEAD_OF: Setting<Vec<(String, String)>> = Setting {
    flag: "git-instead-of",
    env: "PIRAEUS_GIT_INSTEAD_OF",
    default: None,
    help: "URL rewrites for git, FROM=TO[,FROM=TO...], e.g. https://git.corp/=ssh://git@git.corp/ \
           to reach an SSH-only server by go's https paths",
    parse: crate::fetch::git_access::parse_instead_of,
};

/// On AWS the key document of [`GIT_SSH_KEY`] lives in Secrets Manager (template parameter
/// `GitSshKeySecretArn`): the same JSON, read once per execution environment.
pub const GIT_SSH_KEY_SECRET: Setting<String> = Setting {
    flag: "git-ssh-key-secret",
    env: "PIRAEUS_GIT_SSH_KEY_SECRET",
    default: None,
    help: "A Secrets Manager secret holding the --git-ssh-key document (fetch function)",
    parse: |text| Ok(text.trim().to_string()),
};

/// The [`GITHUB_APP`] document in Secrets Manager (template parameter `GitHubAppSecretArn`).
pub const GITHUB_APP_SECRET: Setting<String> = Setting {
    flag: "github-app-secret",
    env: "PIRAEUS_GITHUB_APP_SECRET",
    default: None,
    help: "A Secrets Manager secret holding the --github-app document (fetch function)",
    parse: |text| Ok(text.trim().to_string()),
};

pub const NETRC_SECRET: Setting<String> = Setting {
    flag: "netrc-secret",
    env: "PIRAEUS_NETRC_SECRET",
    default: None,
    help: "A Secrets Manager secret holding a .netrc, for private modules (fetch function)",
    parse: |text| Ok(text.trim().to_string()),
};

/// `90s`, `10m`, `1h 30m`, `500ms` (anything `humantime` reads), or plain seconds.
/// A number of bytes, bare or with a binary unit: `4096`, `512KiB`, `64MiB`, `2GiB`.
fn parse_bytes(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    let (number, unit) = text.split_at(digits);
    let multiplier: u64 = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        _ => {
            return Err(format!(
                "{text:?} is not a size (e.g. 4096, 512KiB, 64MiB, 2GiB)"
            ));
        }
    };
    number
        .parse::<u64>()
        .ok()
        .and_then(|number| number.checked_mul(multiplier))
        .ok_or_else(|| format!("{text:?} is not a size (e.g. 4096, 512KiB, 64MiB, 2GiB)"))
}

/// Accepts what the go command accepts in GOPROXY: `direct`, `off`, and http(s)/file URLs,
/// separated by `,` or `|`.
pub(crate) fn parse_upstream(text: &str) -> Result<String, String> {
    let entries: Vec<&str> = text.split([',', '|']).map(str::trim).collect();
    for entry in &entries {
        let known = matches!(*entry, "direct" | "off")
            || ["https://", "http://", "file://"]
                .iter()
                .any(|scheme| entry.starts_with(scheme) && entry.len() > scheme.len());
        if !known {
            return Err(format!(
                "{entry:?} is not a GOPROXY entry: use direct, off, or an http(s):// or file:// URL"
            ));
        }
    }
    Ok(text.trim().to_string())
}

/// `s3://BUCKET[/PREFIX]`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketLocation {
    pub bucket: String,
    pub prefix: String,
}

impl BucketLocation {
    fn parse(text: &str) -> Result<Self, String> {
        let rest = text
            .strip_prefix("s3://")
            .ok_or_else(|| format!("{text:?} is not an s3://BUCKET[/PREFIX] URL"))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let valid_bucket = (3..=63).contains(&bucket.len())
            && bucket
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
            && !bucket.starts_with(['-', '.'])
            && !bucket.ends_with(['-', '.']);
        if !valid_bucket {
            return Err(format!("{bucket:?} is not a valid S3 bucket name"));
        }
        let prefix = prefix.trim_matches('/');
        if prefix
            .split('/')
            .any(|element| element == ".." || element == ".")
            || prefix.contains("//")
        {
            return Err(format!("{prefix:?} is not a usable key prefix"));
        }
        Ok(Self {
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
        })
    }
}

/// `dynamodb://TABLE`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableLocation {
    pub table: String,
}

impl TableLocation {
    fn parse(text: &str) -> Result<Self, String> {
        let table = text
            .strip_prefix("dynamodb://")
            .ok_or_else(|| format!("{text:?} is not a dynamodb://TABLE URL"))?;
        let valid = (3..=255).contains(&table.len())
            && table
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
        if !valid {
            return Err(format!("{table:?} is not a valid DynamoDB table name"));
        }
        Ok(Self {
            table: table.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_bytes("0"), Ok(0));
        assert_eq!(parse_bytes("4096"), Ok(4096));
        assert_eq!(parse_bytes("512KiB"), Ok(512 * 1024));
        assert_eq!(parse_bytes(" 64MiB "), Ok(64 << 20));
        assert_eq!(parse_bytes("2 GiB"), Ok(2 << 30));
        for bad in ["", "MiB", "64MB", "-1", "1.5GiB", "99999999999999999999GiB"] {
            assert!(parse_bytes(bad).is_err(), "{bad:?}");
        }
        assert_eq!(CACHE_SIZE.default_value(), 64 << 20);
    }

    #[test]
    fn since_is_a_timestamp_or_a_duration_ago() {
        assert_eq!(parse_since("2025-01-02T03:04:05Z"), Ok(1_735_787_045_000));
        let week_ago = parse_since("7d").unwrap();
        let expected = crate::clock::now_millis() - 7 * 24 * 3600 * 1000;
        assert!(
            (expected - week_ago).abs() < 5_000,
            "{week_ago} vs {expected}"
        );
        assert!(parse_since("last tuesday").is_err());
        assert_eq!(parse_switch("true"), Ok(true));
        assert_eq!(parse_switch("OFF"), Ok(false));
        assert!(parse_switch("maybe").is_err());
    }

    #[test]
    fn upstreams() {
        assert!(parse_upstream("https://proxy.golang.org,direct").is_ok());
        assert!(parse_upstream("http://a.example|https://b.example,off").is_ok());
        assert!(parse_upstream("direct").is_ok());
        assert!(parse_upstream("proxy.golang.org").is_err());
        assert!(parse_upstream("").is_err());
        assert!(parse_upstream("https://").is_err());
    }

    #[test]
    fn every_default_parses() {
        LOG_FORMAT.default_value();
        LISTEN.default_value();
        DATA_DIR.default_value();
        UPSTREAM.default_value();
        GO.default_value();
        FETCH_TIMEOUT.default_value();
        MAX_CONCURRENT_FETCHES.default_value();
        ANSWER_TTL.default_value();
        NOT_FOUND_TTL.default_value();
        DOWNLOAD_MODE.default_value();
        WAIT_TIMEOUT.default_value();
        REDIRECT_ZIPS_OVER.default_value();
        SCRATCH_DIR.default_value();
        assert!(!METRICS.default_value());
        VERIFY_CONCURRENCY.default_value();
        assert_eq!(SUMDB.default_value()[0].name, "sum.golang.org");
    }

    #[test]
    fn settings_read_from_a_lookup_with_defaults_and_named_errors() {
        let lookup = |name: &str| match name {
            "PIRAEUS_ANSWER_TTL" => Some("5s".to_string()),
            "PIRAEUS_FETCH_TIMEOUT" => Some("soon".to_string()),
            "PIRAEUS_UPSTREAM" => Some("  ".to_string()),
            _ => None,
        };
        assert_eq!(
            ANSWER_TTL.read(&lookup).unwrap(),
            Some(Duration::from_secs(5))
        );
        assert_eq!(
            UPSTREAM.read(&lookup).unwrap(),
            Some(UPSTREAM.default_value())
        );
        let error = FETCH_TIMEOUT.read(&lookup).unwrap_err();
        assert!(
            error.to_string().contains("PIRAEUS_FETCH_TIMEOUT"),
            "{error}"
        );
        assert_eq!(STORE.read(&lookup).unwrap(), None);
        assert!(
            STORE
                .require(&lookup)
                .unwrap_err()
                .to_string()
                .contains("PIRAEUS_STORE must be set")
        );
    }

    #[test]
    fn parses_locations() {
        assert_eq!(
            BucketLocation::parse("s3://my-bucket/some/prefix/"),
            Ok(BucketLocation {
                bucket: "my-bucket".into(),
                prefix: "some/prefix".into()
            })
        );
        assert_eq!(BucketLocation::parse("s3://my-bucket").unwrap().prefix, "");
        for bad in [
            "my-bucket",
            "s3://",
            "s3://UPPER",
            "s3://a",
            "s3://bucket/../x",
            "file:///x",
        ] {
            assert!(BucketLocation::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            TableLocation::parse("dynamodb://piraeus-index")
                .unwrap()
                .table,
            "piraeus-index"
        );
        for bad in ["piraeus", "dynamodb://", "dynamodb://a b", "dynamodb://x"] {
            assert!(TableLocation::parse(bad).is_err(), "{bad}");
        }
    }
}
