//! GOPRIVATE-style patterns: Go's `path.Match` globs (`*`, `?`, `[...]`, `\` escapes, none
//! crossing a `/`), matched against the same number of leading path elements of a module path,
//! so `corp.example.com` also covers `corp.example.com/team/lib`. Unlike Go's, matching ignores
//! ASCII letter case: GitHub and most hosts treat `github.com/Banned/x` and `github.com/banned/x`
//! as one repository, so a rule must not be dodged by writing a path in other letters.

/// Whether `pattern` matches a prefix of `path`, element for element.
pub(crate) fn matches_prefix(pattern: &str, path: &str) -> bool {
    let elements = pattern.split('/').count();
    let mut cut = path.len();
    let mut seen = 0;
    for (position, byte) in path.bytes().enumerate() {
        if byte == b'/' {
            seen += 1;
            if seen == elements {
                cut = position;
                break;
            }
        }
    }
    if seen + 1 < elements {
        return false;
    }
    glob_match(pattern.as_bytes(), &path.as_bytes()[..cut])
}

/// Whether `element` has no glob syntax: it names exactly one thing.
pub(crate) fn is_literal(element: &str) -> bool {
    !element.contains(['*', '?', '[', '\\'])
}

/// A pattern Go's `path.Match` would accept, and that can match some module path: one that
/// cannot would make a `deny` or `private` rule fail open without a word.
pub(crate) fn check(pattern: &str) -> Result<(), String> {
    if pattern.split('/').any(str::is_empty) {
        return Err(
            "has an empty path element (a leading / or //), so it matches no module".into(),
        );
    }
    let bytes = pattern.as_bytes();
    let mut position = 0;
    while position < bytes.len() {
        let literal = match bytes[position] {
            b'\\' => {
                if position + 1 >= bytes.len() {
                    return Err("ends in a lone \\".into());
                }
                position += 2;
                bytes[position - 1]
            }
            b'[' => match class_end(bytes, position) {
                Some(end) => {
                    position = end;
                    continue;
                }
                None => return Err("has an unclosed [".into()),
            },
            b'*' | b'?' | b'/' => {
                position += 1;
                continue;
            }
            other => {
                position += 1;
                other
            }
        };
        if !in_module_path(literal) {
            return Err(format!(
                "has {:?}, which no module path holds, so it matches no module",
                char::from(literal)
            ));
        }
    }
    Ok(())
}

/// The bytes a module path may hold (golang.org/x/mod/module.CheckPath): ASCII letters,
/// digits, `-._~`, and `/` between elements; import paths add `+`. Anything else (a space, a
/// `:`, non-ASCII) in a pattern's literal part means the pattern matches nothing.
fn in_module_path(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
}

/// The index just past the `]` closing the class that starts at `start`.
fn class_end(pattern: &[u8], start: usize) -> Option<usize> {
    let mut position = start + 1;
    if pattern.get(position) == Some(&b'^') {
        position += 1;
    }
    let mut first = true;
    while position < pattern.len() {
        match pattern[position] {
            b']' if !first => return Some(position + 1),
            b'\\' => position += 2,
            _ => position += 1,
        }
        first = false;
    }
    None
}

fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some((b'*', rest)) => {
            // `*` takes any run of non-separators, shortest first.
            let mut taken = 0;
            loop {
                if glob_match(rest, &text[taken..]) {
                    return true;
                }
                if taken == text.len() || text[taken] == b'/' {
                    return false;
                }
                taken += 1;
            }
        }
        Some((b'?', rest)) => {
            matches!(text.first(), Some(&c) if c != b'/') && glob_match(rest, &text[1..])
        }
        Some((b'[', _)) => {
            let Some(end) = class_end(pattern, 0) else {
                return false;
            };
            match text.first() {
                Some(&c) if c != b'/' && class_matches(&pattern[1..end - 1], c) => {
                    glob_match(&pattern[end..], &text[1..])
                }
                _ => false,
            }
        }
        Some((b'\\', rest)) => match (rest.split_first(), text.split_first()) {
            (Some((p, rest)), Some((t, text))) if p.eq_ignore_ascii_case(t) => {
                glob_match(rest, text)
            }
            _ => false,
        },
        Some((p, rest)) => match text.split_first() {
            Some((t, text)) if p.eq_ignore_ascii_case(t) => glob_match(rest, text),
            _ => false,
        },
    }
}

/// `class` is what is between `[` and `]`: an optional `^`, then characters and ranges.
fn class_matches(class: &[u8], c: u8) -> bool {
    let (negated, mut class) = match class.split_first() {
        Some((b'^', rest)) => (true, rest),
        _ => (false, class),
    };
    let mut found = false;
    while let Some((&first, rest)) = class.split_first() {
        let (low, rest) = match (first, rest.split_first()) {
            (b'\\', Some((&escaped, rest))) => (escaped, rest),
            _ => (first, rest),
        };
        let (high, rest) = match rest {
            [b'-', b'\\', high, rest @ ..] => (*high, rest),
            [b'-', high, rest @ ..] => (*high, rest),
            _ => (low, rest),
        };
        found |= [c, c.to_ascii_lowercase(), c.to_ascii_uppercase()]
            .iter()
            .any(|c| low <= *c && *c <= high);
        class = rest;
    }
    found != negated
}

/// The first of `patterns` (GOPRIVATE-style globs, as the go command reads GOPRIVATE and
/// GONOSUMDB) that matches a prefix of `module`.
pub(crate) fn matching_prefix_pattern<'a>(patterns: &'a [String], module: &str) -> Option<&'a str> {
    patterns
        .iter()
        .find(|pattern| matches_prefix(pattern, module))
        .map(String::as_str)
}

/// A comma-separated GOPRIVATE-style list as the go command splits it (module.MatchPrefixPatterns):
/// empty entries skipped, a trailing `/` dropped. Spaces around entries are dropped too, which
/// the go command does not do: here a pattern only ever refuses more.
pub(crate) fn split_patterns(list: &str) -> Vec<String> {
    list.split(',')
        .map(|pattern| pattern.trim().trim_end_matches('/'))
        .filter(|pattern| !pattern.is_empty())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_match_as_goprivate_does() {
        let cases = [
            ("corp.example.com", "corp.example.com", true),
            ("corp.example.com", "corp.example.com/a/b", true),
            ("corp.example.com", "corp.example.community/a", false),
            ("*.corp.example.com", "git.corp.example.com/x", true),
            ("*.corp.example.com", "corp.example.com/x", false),
            ("github.com/org/*", "github.com/org/repo/v2", true),
            ("github.com/org/*", "github.com/org", false),
            ("github.com/org/*", "github.com/other/repo", false),
            ("github.com/o?g", "github.com/org/x", true),
            ("github.com/[a-c]*", "github.com/bob/x", true),
            ("github.com/[^a-c]*", "github.com/bob/x", false),
            ("github.com/\\*", "github.com/*", true),
            ("*", "anything.com/at/all", true),
            // Letter case never dodges a pattern.
            ("github.com/banned/*", "github.com/Banned/x", true),
            ("GitHub.com/Banned", "github.com/banned/x", true),
            ("github.com/[a-c]anned", "github.com/Banned", true),
            ("github.com/[^a-c]anned", "github.com/Banned", false),
            ("github.com/\\B*", "github.com/banned", true),
        ];
        for (pattern, path, expected) in cases {
            assert_eq!(
                matches_prefix(pattern, path),
                expected,
                "{pattern} vs {path}"
            );
        }
    }

    #[test]
    fn malformed_patterns_are_refused() {
        assert!(check("a/[b").is_err());
        assert!(check("a\\").is_err());
        assert!(check("a/[]").is_err());
        assert!(check("a/[]]").is_ok());
        assert!(check("*.example.com/x?").is_ok());
        // Patterns that can never match a module path.
        for never in [
            "/corp.example.com",
            "corp.example.com//team",
            "corp example.com",
            "https://corp.example.com",
            "corp.example.com/caf\u{e9}",
        ] {
            assert!(check(never).is_err(), "{never}");
        }
    }
}
