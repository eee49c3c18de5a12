//! What must never leave the server: credentials in URLs (logs, index records, responses) and,
//! in anything a client reads, local file paths and network addresses. The go command and git
//! put all three in their messages ("open /srv/piraeus/.piraeus/work/...", "dial tcp
//! 10.0.0.5:443", "https://user:token@host/..."), and a client needs none of them to fix a typo.

use std::net::{IpAddr, SocketAddr};

const HIDDEN_CREDENTIALS: &str = "***";
const HIDDEN_PATH: &str = "<path>";
const HIDDEN_ADDRESS: &str = "<address>";
const HIDDEN_UPSTREAM: &str = "<upstream>";

/// `text` with the user information of every `scheme://user:secret@host` replaced by `***`:
/// for upstream settings (`https://user:secret@proxy,direct`) before they are logged or
/// recorded, and for any message.
pub fn credentials(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(position) = rest.find("://") {
        let (before, after) = rest.split_at(position + 3);
        out.push_str(before);
        // The authority ends at the first character that cannot be in it.
        let authority_end = after
            .find(|c: char| matches!(c, '/' | '?' | '#' | ',' | '|') || c.is_whitespace())
            .unwrap_or(after.len());
        let authority = &after[..authority_end];
        match authority.rfind('@') {
            Some(at) => {
                out.push_str(HIDDEN_CREDENTIALS);
                out.push_str(&authority[at..]);
            }
            None => out.push_str(authority),
        }
        rest = &after[authority_end..];
    }
    out.push_str(rest);
    out
}

/// `text` with the host of every upstream proxy in `upstream` (a GOPROXY list) replaced by
/// `<upstream>`: an internal proxy's name is no more the client's business than its address.
pub fn upstream_hosts(text: &str, upstream: &str) -> String {
    let mut text = text.to_string();
    for entry in upstream.split([',', '|']) {
        let Some((_, rest)) = entry.trim().split_once("://") else {
            continue;
        };
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        let host = authority
            .rsplit_once('@')
            .map_or(authority, |(_, host)| host);
        if !host.is_empty() {
            text = text.replace(host, HIDDEN_UPSTREAM);
        }
    }
    text
}

/// A message as a client may read it: credentials, absolute paths (and `file:` URLs) and IP
/// addresses replaced by placeholders, the go command's `in <directory>` clauses dropped; the
/// rest, such as "unknown revision v1.2.3", kept.
pub fn for_client(text: &str) -> String {
    let text = without_directory_clauses(&credentials(text));
    let mut out = String::with_capacity(text.len());
    let mut word = String::new();
    for c in text.chars() {
        if c.is_whitespace() {
            out.push_str(&redact_word(&word));
            word.clear();
            out.push(c);
        } else {
            word.push(c);
        }
    }
    out.push_str(&redact_word(&word));
    out
}

/// `text` without the ` in DIR` the go command puts after each command it ran (`git ls-remote
/// -q origin in $WORK/gopath/pkg/mod/cache/vcs/fc4bc7…: exit status 128`): even with the
/// scratch directory as `$WORK`, the rest lays out the fetcher's cache, and the command and its
/// failure say what went wrong without it.
fn without_directory_clauses(text: &str) -> String {
    const CLAUSE: &str = " in ";
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(CLAUSE) {
        let after = &rest[at + CLAUSE.len()..];
        let word_end = after.find(char::is_whitespace).unwrap_or(after.len());
        let directory = after[..word_end].trim_end_matches([':', ',', ';', '.']);
        out.push_str(&rest[..at]);
        if (directory.starts_with('/') && directory.len() > 1) || directory.starts_with("$WORK") {
            rest = &after[directory.len()..];
        } else {
            out.push_str(CLAUSE);
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// One whitespace-separated word, judged without the quotes and punctuation around it.
fn redact_word(word: &str) -> String {
    // Not brackets: `[::1]:443` is an address in them.
    let opening = |c: char| matches!(c, '"' | '\'' | '(' | '<' | '`');
    let closing = |c: char| matches!(c, '"' | '\'' | ')' | '>' | '`' | ',' | ';' | ':' | '.');
    let start = word.len() - word.trim_start_matches(opening).len();
    let end = word.trim_end_matches(closing).len().max(start);
    let core = &word[start..end];
    let replacement = if core.starts_with("file:") || (core.starts_with('/') && core.len() > 1) {
        Some(HIDDEN_PATH.to_string())
    } else if is_address(core) {
        Some(HIDDEN_ADDRESS.to_string())
    } else {
        url_with_address_hidden(core)
    };
    match replacement {
        Some(hidden) => format!("{}{hidden}{}", &word[..start], &word[end..]),
        None => word.to_string(),
    }
}

/// A URL whose host is an IP address (an internal proxy or repository), with the address
/// hidden; `None` for anything else.
fn url_with_address_hidden(word: &str) -> Option<String> {
    let (scheme, rest) = word.split_once("://")?;
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    let (user, host_port) = match authority.rsplit_once('@') {
        Some((user, host_port)) => (Some(user), host_port),
        None => (None, authority),
    };
    if !is_address(host_port) {
        return None;
    }
    let user = user.map(|user| format!("{user}@")).unwrap_or_default();
    Some(format!("{scheme}://{user}{HIDDEN_ADDRESS}{path}"))
}

/// An IP address, with or without a port (Go writes `10.0.0.1:53` and `[::1]:443`).
fn is_address(word: &str) -> bool {
    word.parse::<IpAddr>().is_ok()
        || word.parse::<SocketAddr>().is_ok()
        || word
            .strip_prefix('[')
            .and_then(|w| w.strip_suffix(']'))
            .is_some_and(|w| w.parse::<IpAddr>().is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_in_urls_and_lists_are_hidden() {
        assert_eq!(
            credentials("https://user:secret@proxy.example/x,direct"),
            "https://***@proxy.example/x,direct"
        );
        assert_eq!(
            credentials("http://a:b@one|https://two,https://tok@three"),
            "http://***@one|https://two,https://***@three"
        );
        assert_eq!(credentials("direct"), "direct");
        assert_eq!(
            credentials("fatal: unable to access 'https://x:y@git.example/r/': 403"),
            "fatal: unable to access 'https://***@git.example/r/': 403"
        );
    }

    #[test]
    fn paths_and_addresses_are_hidden_and_the_explanation_kept() {
        assert_eq!(
            for_client("example.test/m.git@v9.0.0: invalid version: unknown revision v9.0.0"),
            "example.test/m.git@v9.0.0: invalid version: unknown revision v9.0.0"
        );
        assert_eq!(
            for_client("open /srv/data/.piraeus/work/fetch-1/go.mod: permission denied"),
            "open <path>: permission denied"
        );
        assert_eq!(
            for_client("fatal: '/tmp/repos/x.git' does not appear to be a git repository"),
            "fatal: '<path>' does not appear to be a git repository"
        );
        assert_eq!(
            for_client("git fetch file:///tmp/t/repos/m.git failed"),
            "git fetch <path> failed"
        );
        assert_eq!(
            for_client("dial tcp: lookup nope.example on 10.255.255.53:53: no such host"),
            "dial tcp: lookup nope.example on <address>: no such host"
        );
        assert_eq!(
            for_client("dial tcp [::1]:443: connect: connection refused"),
            "dial tcp <address>: connect: connection refused"
        );
        assert_eq!(
            for_client("https://u:p@h.example/x said 404"),
            "https://***@h.example/x said 404"
        );
        assert_eq!(
            for_client("reading http://10.0.0.7:3000/m/@v/list: 404 Not Found"),
            "reading http://<address>/m/@v/list: 404 Not Found"
        );
        assert_eq!(
            for_client("fatal: unable to access 'https://10.1.2.3/typo.git/': not found"),
            "fatal: unable to access 'https://<address>/typo.git/': not found"
        );
        assert_eq!(
            for_client("https://[fd00::1]:8443/x"),
            "https://<address>/x"
        );
    }

    #[test]
    fn the_go_commands_directory_clauses_are_dropped() {
        assert_eq!(
            for_client(
                "m.test/x.git@v1.0.0: invalid version: git ls-remote -q origin in \
                 $WORK/gopath/pkg/mod/cache/vcs/fc4bc7: exit status 128:\n\tfatal: not found"
            ),
            "m.test/x.git@v1.0.0: invalid version: git ls-remote -q origin: exit status 128:\n\tfatal: not found"
        );
        assert_eq!(
            for_client("git fetch in /srv/cache/vcs/ab, then: exit status 1"),
            "git fetch, then: exit status 1"
        );
        assert_eq!(
            for_client("no go files in example.test/m, in v1.0.0 or in /"),
            "no go files in example.test/m, in v1.0.0 or in /"
        );
    }
}
