//! The module policy: which modules may be fetched, which are served only from what is
//! stored, which are sent to another proxy, which are refused, and an optional hook that
//! approves each new version. A TOML file:
//!
//! ```toml
//! [[rule]]
//! pattern = "corp.example.com/*"   # GOPRIVATE-style glob list, matched on path prefixes
//! action = "fetch"                 # fetch | async | cached-only | redirect | deny
//! private = true                   # never name these modules to a checksum database
//! [[rule]]
//! pattern = "github.com/banned/*"
//! action = "deny"
//! [[rule]]
//! pattern = "golang.org/x/*"
//! action = "redirect"
//! redirect = "https://proxy.golang.org"
//! [hook]
//! url = "http://127.0.0.1:9000/approve"
//! timeout = "5s"
//! ```
//!
//! The first matching rule wins; no match means the global download mode. `private = true` is
//! not an action: a module matched by any rule that says it is private (like one on an
//! internal host) is never looked up in a checksum database through the proxy. Before any rule, a
//! module path whose host is internal (an IP address, `*.local`, `*.internal`, a Kubernetes
//! service name, ...) or resolves to an internal address is refused unless a `fetch` rule names
//! that host literally: the go command would otherwise connect wherever a client's path points,
//! inside the network too. The same judgement, made on each connection by the egress guard,
//! covers the hosts that go-import tags and redirects lead to.

mod egress;
mod hook;

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use crate::clock::parse_duration;
use crate::error::{Error, Result};
use crate::golang::glob;

use egress::HostResolver;
pub use egress::Pin;
pub(crate) use egress::internal_address;
pub(crate) use hook::Hook;
// Where the modules above the policy look for them; the policy reads patterns this way too.
pub(crate) use crate::golang::glob::{matching_prefix_pattern, split_patterns};

/// What a request for a version that is not stored yet gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DownloadMode {
    /// Starts the fetch and waits for it (bounded by `wait_timeout`).
    Sync,
    /// Starts the fetch and answers 404 at once, so the go command moves on to its next
    /// GOPROXY entry; later requests find the version stored.
    Async,
}

impl DownloadMode {
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        match text {
            "sync" => Ok(DownloadMode::Sync),
            "async" => Ok(DownloadMode::Async),
            other => Err(format!(
                "download mode {other:?} is neither \"sync\" nor \"async\""
            )),
        }
    }
}

/// What a rule does with the modules it matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Fetch on a miss and wait for it.
    Fetch,
    /// Fetch on a miss, answer 404 at once (the client moves on to its next GOPROXY entry).
    Async,
    /// Serve what is stored; never fetch.
    CachedOnly,
    /// Serve what is stored; send everything else to this GOPROXY URL.
    Redirect(String),
    /// Refuse, even what is stored (the bytes are kept).
    Deny,
}

#[derive(Debug)]
struct Rule {
    /// 1-based, as the operator counts them in the file.
    number: usize,
    patterns: Vec<String>,
    action: Action,
    /// The modules are private: their names must not reach a checksum database.
    private: bool,
}

/// What the policy says about one module.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Decision<'a> {
    /// Fetch misses; `Some` when a rule sets the download mode, else the global mode.
    Fetch(Option<DownloadMode>),
    CachedOnly,
    Redirect(&'a str),
    /// The 403 message.
    Deny(String),
}

#[derive(Debug, Default)]
pub struct Policy {
    rules: Vec<Rule>,
    hook: Option<Arc<Hook>>,
    resolver: HostResolver,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    #[serde(default)]
    rule: Vec<RuleFile>,
    hook: Option<HookFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    pattern: String,
    action: String,
    redirect: Option<String>,
    #[serde(default)]
    private: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HookFile {
    url: String,
    timeout: Option<String>,
}

/// How long the hook may take when the file does not say.
const DEFAULT_HOOK_TIMEOUT: Duration = Duration::from_secs(10);

impl Policy {
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::invalid(format!("cannot read the policy file {}", path.display())).with_source(e)
        })?;
        Self::parse(&text)
            .map_err(|e| Error::invalid(format!("policy file {}: {}", path.display(), e.message())))
    }

    pub fn parse(text: &str) -> Result<Self> {
        let file: PolicyFile = toml::from_str(text)
            .map_err(|e| Error::invalid(e.message().to_string()).with_source(e))?;
        let rules = file
            .rule
            .into_iter()
            .enumerate()
            .map(|(index, rule)| Rule::parse(index + 1, rule))
            .collect::<Result<Vec<_>>>()?;
        let hook = file
            .hook
            .map(|hook| {
                let timeout = match hook.timeout.as_deref() {
                    Some(text) => parse_duration(text)
                        .map_err(|e| Error::invalid(format!("hook timeout: {e}")))?,
                    None => DEFAULT_HOOK_TIMEOUT,
                };
                Hook::new(&hook.url, timeout).map(Arc::new)
            })
            .transpose()?;
        Ok(Self {
            rules,
            hook,
            resolver: HostResolver::default(),
        })
    }

    /// Answers for the pinned names instead of the system's resolver (`--egress-pin`).
    pub fn with_pins(mut self, pins: Vec<Pin>) -> Self {
        self.resolver = HostResolver::new(pins);
        self
    }

    pub(crate) fn hook(&self) -> Option<Arc<Hook>> {
        self.hook.clone()
    }

    fn first_match(&self, module: &str) -> Option<(&Rule, &str)> {
        self.rules
            .iter()
            .find_map(|rule| Some((rule, rule.matching_pattern(module)?)))
    }

    /// Whether the first rule matching `module` fetches it and names its host literally: what
    /// lets a module on an internal host be fetched.
    fn names_module_host(&self, module: &str) -> bool {
        matches!(self.first_match(module), Some((rule, pattern))
            if rule.action == Action::Fetch && glob::is_literal(first_element(pattern)))
    }

    /// Whether some rule with action `fetch` names `host` literally: what lets the egress
    /// guard connect to it wherever it resolves.
    fn names_host(&self, host: &str) -> bool {
        self.rules
            .iter()
            .filter(|rule| rule.action == Action::Fetch)
            .flat_map(|rule| &rule.patterns)
            .map(|pattern| first_element(pattern))
            .any(|named| glob::is_literal(named) && named.eq_ignore_ascii_case(host))
    }

    /// The rules and the built-in internal-host rule applied to `module`.
    pub(crate) fn decide(&self, module: &str) -> Decision<'_> {
        if is_internal_host(module) && !self.names_module_host(module) {
            return Decision::Deny(format!(
                "{module}: modules on internal hosts (IP addresses, localhost, .local, \
                 .internal, .svc, .lan, Kubernetes service names, ...) are not fetched; a policy \
                 rule with action \"fetch\" naming the host allows it"
            ));
        }
        let Some((rule, pattern)) = self.first_match(module) else {
            return Decision::Fetch(None);
        };
        match &rule.action {
            Action::Fetch => Decision::Fetch(Some(DownloadMode::Sync)),
            Action::Async => Decision::Fetch(Some(DownloadMode::Async)),
            Action::CachedOnly => Decision::CachedOnly,
            Action::Redirect(url) => Decision::Redirect(url),
            Action::Deny => Decision::Deny(format!(
                "{module} is denied by policy rule {} (pattern {pattern:?})",
                rule.number
            )),
        }
    }

    /// Refuses, with the 403 message, a module whose host resolves to an internal address,
    /// unless a rule lets it be fetched from an internal host ([`Policy::decide`]). Asked just
    /// before a go command would connect there: hits and proxy fetches resolve nothing. A name that does not resolve
    /// passes: the go command cannot reach it either, and the egress guard judges each
    /// connection it makes again.
    pub(crate) async fn check_module_host(&self, module: &str) -> Result<(), String> {
        if self.names_module_host(module) {
            return Ok(());
        }
        let host = first_element(module);
        let Ok(addresses) = self.resolver.resolve(host, 443).await else {
            return Ok(());
        };
        match addresses
            .iter()
            .find_map(|address| internal_address(address.ip()))
        {
            Some(kind) => Err(format!(
                "{module}: its host resolves to a {kind} address, and modules on internal hosts \
                 are not fetched; a policy rule with action \"fetch\" naming the host allows it"
            )),
            None => Ok(()),
        }
    }

    /// Where the fetcher may connect for `host:port`: every address it resolves to, or why not
    /// (an internal name, an internal address among the answers, no answer), unless a `fetch`
    /// rule names the host or the operator named it elsewhere (`trusted`: an upstream proxy).
    /// Port 0 stands for any port (pins for any port apply).
    pub(crate) async fn egress_addresses(
        &self,
        host: &str,
        port: u16,
        trusted: bool,
    ) -> Result<Vec<SocketAddr>, Refusal> {
        let named = trusted || self.names_host(host);
        let literal = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok();
        if !named && !literal && is_internal_host(host) {
            return Err(Refusal::Internal(format!(
                "{host} is an internal host name"
            )));
        }
        let addresses = self.resolver.resolve(host, port).await.map_err(|e| {
            // getaddrinfo's "Name or service not known" and "No address associated with
            // hostname": the name does not exist, which a typo deserves to hear.
            let text = e.to_string().to_lowercase();
            let no_such_host = text.contains("not known") || text.contains("no address");
            Refusal::Unresolved {
                reason: format!("cannot resolve {host}: {e}"),
                no_such_host,
            }
        })?;
        if addresses.is_empty() {
            return Err(Refusal::Unresolved {
                reason: format!("{host} resolves to no address"),
                no_such_host: true,
            });
        }
        if !named
            && let Some(kind) = addresses
                .iter()
                .find_map(|address| internal_address(address.ip()))
        {
            return Err(Refusal::Internal(format!(
                "{host} resolves to a {kind} address"
            )));
        }
        Ok(addresses)
    }

    /// Why `module`'s name must stay inside the network (never sent to a checksum database):
    /// its host is internal, or a rule with `private = true` matches it. With the reason, the
    /// pattern that covers it (for the client's GONOSUMDB). `None` when neither.
    pub(crate) fn private_reason(&self, module: &str) -> Option<(String, String)> {
        if is_internal_host(module) {
            let host = first_element(module);
            return Some((format!("{module} is on an internal host"), host.to_string()));
        }
        self.rules
            .iter()
            .filter(|rule| rule.private)
            .find_map(|rule| {
                let pattern = rule.matching_pattern(module)?;
                let reason = format!(
                    "{module} is private by policy rule {} (pattern {pattern:?})",
                    rule.number
                );
                Some((reason, pattern.to_string()))
            })
    }
}

/// Why the fetcher may not connect to a host.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Its name or an address it resolves to is internal.
    Internal(String),
    /// It has no address: none exists (`no_such_host`), or the resolver failed.
    Unresolved { reason: String, no_such_host: bool },
}

impl Refusal {
    pub(crate) fn reason(&self) -> &str {
        match self {
            Refusal::Internal(reason) | Refusal::Unresolved { reason, .. } => reason,
        }
    }
}

impl Rule {
    fn parse(number: usize, rule: RuleFile) -> Result<Self> {
        let invalid = |why: String| Error::invalid(format!("rule {number}: {why}"));
        // As the go command reads GOPRIVATE: a trailing `/` dropped. Read any other way, a
        // `deny` or `private` rule that matches nothing fails open.
        let patterns = split_patterns(&rule.pattern);
        if patterns.is_empty() {
            return Err(invalid("the pattern is empty".into()));
        }
        for pattern in &patterns {
            glob::check(pattern).map_err(|why| invalid(format!("pattern {pattern:?}: {why}")))?;
        }
        let action = match (rule.action.as_str(), rule.redirect) {
            ("redirect", Some(url)) => {
                if !(url.starts_with("https://") || url.starts_with("http://")) {
                    return Err(invalid(format!("redirect {url:?} is not an http(s) URL")));
                }
                Action::Redirect(url.trim_end_matches('/').to_string())
            }
            ("redirect", None) => {
                return Err(invalid(
                    "action \"redirect\" needs redirect = \"URL\"".into(),
                ));
            }
            (_, Some(_)) => {
                return Err(invalid(
                    "redirect = ... belongs only to action \"redirect\"".into(),
                ));
            }
            ("fetch", None) => Action::Fetch,
            ("async", None) => Action::Async,
            ("cached-only", None) => Action::CachedOnly,
            ("deny", None) => Action::Deny,
            (other, None) => {
                return Err(invalid(format!(
                    "action {other:?} is not one of fetch, async, cached-only, redirect, deny"
                )));
            }
        };
        Ok(Self {
            number,
            patterns,
            action,
            private: rule.private,
        })
    }

    /// The first of the rule's patterns that matches a prefix of `module`, as GOPRIVATE does.
    fn matching_pattern(&self, module: &str) -> Option<&str> {
        self.patterns
            .iter()
            .find(|pattern| glob::matches_prefix(pattern, module))
            .map(String::as_str)
    }
}

fn first_element(path: &str) -> &str {
    path.split('/').next().unwrap_or(path)
}

/// Whether the module's host is one the proxy should not reach on a client's say-so.
fn is_internal_host(module: &str) -> bool {
    // A deny-list of names that resolve inside networks: mDNS, RFC 6762's and 8375's
    // private zones, Kubernetes service DNS (`NAME.NAMESPACE` in the namespaces every cluster
    // has; other namespaces resolve to cluster addresses, which the address check refuses),
    // /etc/hosts' localdomain and common private TLDs.
    const INTERNAL_SUFFIXES: &[&str] = &[
        ".default",
        ".kube-system",
        ".kube-public",
        ".kube-node-lease",
        ".local",
        ".localhost",
        ".localdomain",
        ".internal",
        ".home.arpa",
        ".lan",
        ".svc",
        ".cluster.local",
        ".intranet",
        ".corp",
        ".home",
        ".private",
    ];
    let host = first_element(module);
    let numeric = |label: &str| {
        !label.is_empty()
            && (label.bytes().all(|b| b.is_ascii_digit())
                || label
                    .strip_prefix("0x")
                    .is_some_and(|hex| hex.bytes().all(|b| b.is_ascii_hexdigit())))
    };
    let last = host.rsplit('.').next().unwrap_or_default();
    // No top-level domain is numeric, so a numeric last label is an address in some notation
    // (127.0.0.1, 127.1, 0x7f.1), which git and curl all accept.
    let address = numeric(last);
    // Top-level domains are letters, or IDNA's `xn--`: `svc.my-namespace` names no public host.
    let no_tld = !(last.bytes().all(|b| b.is_ascii_alphabetic()) || last.starts_with("xn--"));
    let host = host.to_ascii_lowercase();
    address
        || no_tld
        || host == "localhost"
        || !host.contains('.')
        || INTERNAL_SUFFIXES
            .iter()
            .any(|suffix| host.ends_with(suffix))
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"
        [[rule]]
        pattern = "corp.example.com/*, 10.1.2.3"
        action = "fetch"
        [[rule]]
        pattern = "github.com/banned/*"
        action = "deny"
        [[rule]]
        pattern = "github.com/banned/*,github.com/frozen"
        action = "cached-only"
        [[rule]]
        pattern = "golang.org/x"
        action = "redirect"
        redirect = "https://proxy.golang.org/"
        [[rule]]
        pattern = "slow.example.com"
        action = "async"
        [[rule]]
        pattern = "*.internal"
        action = "fetch"
    "#;

    #[test]
    fn first_matching_rule_wins() {
        let policy = Policy::parse(EXAMPLE).unwrap();
        assert_eq!(
            policy.decide("corp.example.com/team/lib"),
            Decision::Fetch(Some(DownloadMode::Sync))
        );
        assert!(matches!(
            policy.decide("github.com/banned/x/v2"),
            Decision::Deny(message) if message.contains("rule 2")
        ));
        assert_eq!(policy.decide("github.com/frozen"), Decision::CachedOnly);
        assert_eq!(policy.decide("github.com/frozen/sub"), Decision::CachedOnly);
        assert_eq!(
            policy.decide("golang.org/x/mod"),
            Decision::Redirect("https://proxy.golang.org")
        );
        assert_eq!(
            policy.decide("slow.example.com/m"),
            Decision::Fetch(Some(DownloadMode::Async))
        );
        assert_eq!(policy.decide("github.com/other/x"), Decision::Fetch(None));
        assert_eq!(policy.decide("github.com/bannedx/y"), Decision::Fetch(None));
    }

    #[test]
    fn internal_hosts_need_a_fetch_rule_naming_them() {
        let open = Policy::default();
        for internal in [
            "127.0.0.1/x",
            "10.0.0.8/repo.git",
            "127.1/x",
            "0x7f.1/x",
            "printer.local/x",
            "db.internal/x",
            "nas.home.arpa/x",
            "router.lan/x",
            "app.localhost/x",
            "localhost.localdomain/x",
            "kubernetes.default.svc/x",
            "git.corp/x",
            "kubernetes.default/x",
            "kubernetes.default.svc.cluster.local/x",
            "coredns.kube-system/x",
            "api.my-namespace/x",
            "Kubernetes.Default/x",
        ] {
            assert!(
                matches!(open.decide(internal), Decision::Deny(_)),
                "{internal}"
            );
        }
        for public in [
            "github.com/a/b",
            "example.com/m",
            "v1.example.com/x",
            "example.xn--p1ai/x",
        ] {
            assert_eq!(open.decide(public), Decision::Fetch(None), "{public}");
        }
        let policy = Policy::parse(EXAMPLE).unwrap();
        assert_eq!(
            policy.decide("10.1.2.3/x"),
            Decision::Fetch(Some(DownloadMode::Sync)),
            "named literally by a fetch rule"
        );
        assert!(
            matches!(policy.decide("db.internal/x"), Decision::Deny(_)),
            "a wildcard host does not name it"
        );
        assert!(matches!(policy.decide("10.9.9.9/x"), Decision::Deny(_)));
    }

    const PINNED: &str = r#"
        [[rule]]
        pattern = "named.example"
        action = "fetch"
        [[rule]]
        pattern = "*.example"
        action = "fetch"
    "#;

    fn pinned(pins: &[&str]) -> Policy {
        Policy::parse(PINNED)
            .unwrap()
            .with_pins(pins.iter().map(|pin| Pin::parse(pin).unwrap()).collect())
    }

    #[tokio::test]
    async fn module_hosts_resolving_inside_are_refused_unless_named() {
        let policy = pinned(&[
            "loopback.example:443=127.0.0.1:443",
            "metadata.example:443=169.254.169.254:443",
            "mixed.example:443=140.82.112.3:443",
            "mixed.example:443=10.0.0.1:443",
            "named.example:443=10.0.0.1:443",
            "public.example:443=140.82.112.3:443",
        ]);
        for (module, kind) in [
            ("loopback.example/m", "loopback"),
            ("metadata.example/m/v2", "link-local"),
            ("mixed.example/m", "private (RFC 1918)"),
        ] {
            let refusal = policy.check_module_host(module).await.unwrap_err();
            assert!(
                refusal.contains(&format!("resolves to a {kind} address")),
                "{module}: {refusal}"
            );
            assert!(!refusal.contains("10.0.0.1") && !refusal.contains("169.254"));
        }
        assert_eq!(policy.check_module_host("named.example/m").await, Ok(()));
        assert_eq!(policy.check_module_host("public.example/m").await, Ok(()));
        assert_eq!(
            policy.check_module_host("unresolvable.invalid/m").await,
            Ok(()),
            "the guard judges what the go command reaches"
        );
    }

    #[tokio::test]
    async fn the_guard_connects_only_to_public_addresses_or_named_hosts() {
        let policy = pinned(&[
            "named.example:80=127.0.0.1:8080",
            "inside.example:443=192.168.0.7:443",
            "public.example:443=140.82.112.3:443",
        ]);
        assert_eq!(
            policy.egress_addresses("named.example", 80, false).await,
            Ok(vec!["127.0.0.1:8080".parse().unwrap()])
        );
        assert_eq!(
            policy.egress_addresses("public.example", 443, false).await,
            Ok(vec!["140.82.112.3:443".parse().unwrap()])
        );
        // A host the operator named (an upstream proxy) is reached wherever it resolves.
        assert_eq!(
            policy.egress_addresses("inside.example", 443, true).await,
            Ok(vec!["192.168.0.7:443".parse().unwrap()])
        );
        for (host, port, reason) in [
            (
                "inside.example",
                443,
                "resolves to a private (RFC 1918) address",
            ),
            ("127.0.0.1", 8443, "resolves to a loopback address"),
            ("[::1]", 443, "resolves to a loopback address"),
            ("169.254.169.254", 80, "resolves to a link-local address"),
            ("kubernetes.default", 443, "is an internal host name"),
            ("db.internal", 443, "is an internal host name"),
            ("nowhere.invalid", 443, "cannot resolve"),
        ] {
            let refusal = policy
                .egress_addresses(host, port, false)
                .await
                .unwrap_err();
            assert!(refusal.reason().contains(reason), "{host}: {refusal:?}");
        }
    }

    #[test]
    fn private_rules_and_internal_hosts_keep_names_inside() {
        let policy = Policy::parse(
            r#"
            [[rule]]
            pattern = "corp.example.com"
            action = "fetch"
            [[rule]]
            pattern = "corp.example.com/secret/*, git.example.org"
            action = "cached-only"
            private = true
            "#,
        )
        .unwrap();
        let (reason, pattern) = policy
            .private_reason("corp.example.com/secret/x/v2")
            .expect("a private rule matches, though an earlier rule decides the action");
        assert!(reason.contains("rule 2"), "{reason}");
        assert_eq!(pattern, "corp.example.com/secret/*");
        assert_eq!(
            policy
                .private_reason("10.0.0.1/x")
                .map(|(_, pattern)| pattern),
            Some("10.0.0.1".to_string())
        );
        assert!(policy.private_reason("git.example.org/a").is_some());
        assert!(policy.private_reason("10.0.0.1/x").is_some());
        assert!(policy.private_reason("db.internal/x").is_some());
        assert_eq!(policy.private_reason("corp.example.com/public"), None);
        assert_eq!(Policy::default().private_reason("github.com/a/b"), None);
    }

    #[test]
    fn pattern_lists_split_as_the_go_command_does() {
        let patterns = split_patterns(",corp.example.com/, *.internal.example ,,github.com/org/*");
        assert_eq!(
            patterns,
            ["corp.example.com", "*.internal.example", "github.com/org/*"]
        );
        assert_eq!(
            matching_prefix_pattern(&patterns, "corp.example.com/a/b"),
            Some("corp.example.com")
        );
        assert_eq!(
            matching_prefix_pattern(&patterns, "git.internal.example/x"),
            Some("*.internal.example")
        );
        assert_eq!(
            matching_prefix_pattern(&patterns, "github.com/org/repo"),
            Some("github.com/org/*")
        );
        assert_eq!(
            matching_prefix_pattern(&patterns, "github.com/other/repo"),
            None
        );
        assert!(split_patterns("").is_empty());
    }

    #[test]
    fn bad_files_are_refused_with_the_rule_number() {
        for (text, expected) in [
            (
                "[[rule]]\npattern = \"a.com\"\naction = \"allow\"",
                "rule 1: action",
            ),
            (
                "[[rule]]\npattern = \"a.com\"\naction = \"redirect\"",
                "needs redirect",
            ),
            (
                "[[rule]]\npattern = \"a.com\"\naction = \"deny\"\nredirect = \"https://x\"",
                "belongs only",
            ),
            ("[[rule]]\npattern = \" , \"\naction = \"deny\"", "empty"),
            (
                "[[rule]]\npattern = \"a.com/[\"\naction = \"deny\"",
                "pattern",
            ),
            ("[[rules]]\npattern = \"a.com\"", "unknown field"),
            ("[hook]\nurl = \"ftp://x\"", "hook"),
        ] {
            let error = Policy::parse(text).expect_err(text).to_string();
            assert!(error.contains(expected), "{text:?}: {error}");
        }
    }
}
