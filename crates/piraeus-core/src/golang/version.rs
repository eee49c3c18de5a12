//! Go's semantic versions, as the go command understands them (golang.org/x/mod/semver and
//! the version helpers of golang.org/x/mod/module).
//!
//! These are not SemVer 2.0 versions: a leading `v` is required, and `vMAJOR` and
//! `vMAJOR.MINOR` (with no prerelease or build suffix) are accepted as shorthands for
//! `vMAJOR.0.0` and `vMAJOR.MINOR.0`. Numbers have no leading zeros and no size limit.

use std::cmp::Ordering;

/// The pieces of a valid version. Each field borrows from the parsed string, except
/// `short`, the suffix that completes a shorthand (`".0.0"`, `".0"` or `""`).
struct Parsed<'a> {
    major: &'a str,
    minor: &'a str,
    patch: &'a str,
    short: &'static str,
    /// Including the leading `-`; empty when absent.
    prerelease: &'a str,
    /// Including the leading `+`; empty when absent.
    build: &'a str,
}

fn parse(v: &str) -> Option<Parsed<'_>> {
    let rest = v.strip_prefix('v')?;
    let (major, rest) = parse_number(rest)?;
    if rest.is_empty() {
        return Some(Parsed {
            major,
            minor: "0",
            patch: "0",
            short: ".0.0",
            prerelease: "",
            build: "",
        });
    }
    let (minor, rest) = parse_number(rest.strip_prefix('.')?)?;
    if rest.is_empty() {
        return Some(Parsed {
            major,
            minor,
            patch: "0",
            short: ".0",
            prerelease: "",
            build: "",
        });
    }
    let (patch, mut rest) = parse_number(rest.strip_prefix('.')?)?;
    let mut prerelease = "";
    if rest.starts_with('-') {
        let end = rest.find('+').unwrap_or(rest.len());
        if !valid_identifiers(&rest[1..end], true) {
            return None;
        }
        (prerelease, rest) = rest.split_at(end);
    }
    let mut build = "";
    if rest.starts_with('+') {
        if !valid_identifiers(&rest[1..], false) {
            return None;
        }
        (build, rest) = (rest, "");
    }
    if !rest.is_empty() {
        return None;
    }
    Some(Parsed {
        major,
        minor,
        patch,
        short: "",
        prerelease,
        build,
    })
}

/// Splits a leading decimal number (no leading zeros) off `s`.
fn parse_number(s: &str) -> Option<(&str, &str)> {
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 || (digits > 1 && s.starts_with('0')) {
        return None;
    }
    Some(s.split_at(digits))
}

/// Whether `body` is a non-empty, dot-separated series of non-empty identifiers made of
/// `[0-9A-Za-z-]`. With `strict_numbers`, all-digit identifiers must not have leading zeros
/// (the prerelease rule; build identifiers may).
fn valid_identifiers(body: &str, strict_numbers: bool) -> bool {
    body.split('.').all(|ident| {
        !ident.is_empty()
            && ident
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !(strict_numbers && ident.len() > 1 && ident.starts_with('0') && is_numeric(ident))
    })
}

fn is_numeric(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_digit())
}

/// Compares two decimal numbers without leading zeros, of any length.
fn compare_numbers(x: &str, y: &str) -> Ordering {
    x.len().cmp(&y.len()).then_with(|| x.cmp(y))
}

/// Prerelease precedence; `x` and `y` include their leading `-` or are empty.
fn compare_prerelease(x: &str, y: &str) -> Ordering {
    if x == y {
        return Ordering::Equal;
    }
    // A release sorts above all of its prereleases.
    if x.is_empty() {
        return Ordering::Greater;
    }
    if y.is_empty() {
        return Ordering::Less;
    }
    let mut xs = x[1..].split('.');
    let mut ys = y[1..].split('.');
    loop {
        match (xs.next(), ys.next()) {
            (Some(a), Some(b)) if a == b => continue,
            (Some(a), Some(b)) => {
                return match (is_numeric(a), is_numeric(b)) {
                    (true, true) => compare_numbers(a, b),
                    (true, false) => Ordering::Less,
                    (false, true) => Ordering::Greater,
                    (false, false) => a.cmp(b),
                };
            }
            // A longer series of identifiers wins when all shared ones are equal.
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (None, None) => return Ordering::Equal,
        }
    }
}

/// Whether `version` is a valid Go semantic version (semver.IsValid).
pub(crate) fn is_valid(version: &str) -> bool {
    parse(version).is_some()
}

/// The canonical form of `version` (module.CanonicalVersion): shorthands are completed
/// (`v1.2` becomes `v1.2.0`) and build metadata is dropped, except a `+incompatible` build
/// suffix, which is kept. `None` when the version is invalid.
pub(crate) fn canonical(version: &str) -> Option<String> {
    let p = parse(version)?;
    let mut out = String::with_capacity(version.len() + p.short.len());
    out.push_str(&version[..version.len() - p.build.len()]);
    out.push_str(p.short);
    if p.build == "+incompatible" {
        out.push_str(p.build);
    }
    Some(out)
}

/// Whether `version` is already in canonical form (so `v1.2` and `v1.0.0+build` are not,
/// but `v2.0.0+incompatible` is).
pub(crate) fn is_canonical(version: &str) -> bool {
    // `canonical` without building it (every hit asks): nothing to fill in, and no build
    // metadata but `+incompatible`.
    parse(version)
        .is_some_and(|p| p.short.is_empty() && (p.build.is_empty() || p.build == "+incompatible"))
}

/// Semantic version precedence (semver.Compare). Build metadata is ignored. Invalid versions
/// sort below every valid one and compare equal to each other.
pub(crate) fn compare(a: &str, b: &str) -> Ordering {
    match (parse(a), parse(b)) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(x), Some(y)) => compare_numbers(x.major, y.major)
            .then_with(|| compare_numbers(x.minor, y.minor))
            .then_with(|| compare_numbers(x.patch, y.patch))
            .then_with(|| compare_prerelease(x.prerelease, y.prerelease)),
    }
}

/// Sorts by [`compare`], breaking ties by plain string order (semver.Sort), so the result
/// is deterministic even for equal-precedence spellings like `v1.0.0` and `v1.0.0+meta`.
pub fn sort(versions: &mut [String]) {
    versions.sort_by(|a, b| compare(a, b).then_with(|| a.cmp(b)));
}

/// The major version prefix, e.g. `"v2"` for `"v2.1.0"`. `None` when invalid.
pub fn major(version: &str) -> Option<&str> {
    // `v` and the major number open every valid version: the prefix is borrowed, not built.
    parse(version).map(|p| &version[..1 + p.major.len()])
}

/// The prerelease suffix including its `-`, e.g. `"-pre"` for `"v2.1.0-pre+meta"`.
/// `None` when the version is invalid or has no prerelease.
pub(crate) fn prerelease(version: &str) -> Option<String> {
    parse(version)
        .map(|p| p.prerelease)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// Whether `version` is valid and carries the `+incompatible` build suffix.
pub(crate) fn is_incompatible(version: &str) -> bool {
    parse(version).is_some_and(|p| p.build == "+incompatible")
}

/// Whether `version` is a pseudo-version (module.IsPseudoVersion), in any of its forms:
///
/// * `vX.0.0-yyyymmddhhmmss-abcdef123456` (no earlier tag),
/// * `vX.Y.(Z+1)-0.yyyymmddhhmmss-abcdef123456` (after release `vX.Y.Z`),
/// * `vX.Y.Z-pre.0.yyyymmddhhmmss-abcdef123456` (after prerelease `vX.Y.Z-pre`),
///
/// each optionally followed by build metadata such as `+incompatible`.
pub(crate) fn is_pseudo_version(version: &str) -> bool {
    if version.bytes().filter(|&b| b == b'-').count() < 2 {
        return false;
    }
    let Some(p) = parse(version) else {
        return false;
    };
    // The revision and timestamp live in the prerelease; build metadata may follow.
    let core = &version[..version.len() - p.build.len()];
    // `vMAJOR.MINOR.PATCH-`: a prerelease rules out the shorthands.
    let head_len = 1 + p.major.len() + 1 + p.minor.len() + 1 + p.patch.len() + 1;
    if p.prerelease.is_empty() || core.len() < head_len {
        return false;
    }

    // ...-yyyymmddhhmmss-revision, where the revision is ASCII alphanumeric.
    let Some(last_dash) = core.rfind('-') else {
        return false;
    };
    let revision = &core[last_dash + 1..];
    if revision.is_empty() || !revision.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return false;
    }
    let before_revision = &core[..last_dash];
    let Some(stamp_start) = before_revision.len().checked_sub(14) else {
        return false;
    };
    if stamp_start < head_len || !is_numeric(&before_revision[stamp_start..]) {
        return false;
    }

    // What lies between `vX.Y.Z-` and the timestamp tells the form apart.
    match &core[head_len..stamp_start] {
        "" => p.minor == "0" && p.patch == "0",
        "0." => true,
        between => between.ends_with(".0."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// semver_test.go's table, in increasing order of precedence: (input, canonical form),
    /// with an empty canonical form for invalid input.
    const TESTS: &[(&str, &str)] = &[
        ("bad", ""),
        ("v1-alpha.beta.gamma", ""),
        ("v1-pre", ""),
        ("v1+meta", ""),
        ("v1-pre+meta", ""),
        ("v1.2-pre", ""),
        ("v1.2+meta", ""),
        ("v1.2-pre+meta", ""),
        ("v1.0.0-alpha", "v1.0.0-alpha"),
        ("v1.0.0-alpha.1", "v1.0.0-alpha.1"),
        ("v1.0.0-alpha.beta", "v1.0.0-alpha.beta"),
        ("v1.0.0-beta", "v1.0.0-beta"),
        ("v1.0.0-beta.2", "v1.0.0-beta.2"),
        ("v1.0.0-beta.11", "v1.0.0-beta.11"),
        ("v1.0.0-rc.1", "v1.0.0-rc.1"),
        ("v1", "v1.0.0"),
        ("v1.0", "v1.0.0"),
        ("v1.0.0", "v1.0.0"),
        ("v1.2", "v1.2.0"),
        ("v1.2.0", "v1.2.0"),
        ("v1.2.3-456", "v1.2.3-456"),
        ("v1.2.3-456.789", "v1.2.3-456.789"),
        ("v1.2.3-456-789", "v1.2.3-456-789"),
        ("v1.2.3-456a", "v1.2.3-456a"),
        ("v1.2.3-pre", "v1.2.3-pre"),
        ("v1.2.3-pre+meta", "v1.2.3-pre"),
        ("v1.2.3-pre.1", "v1.2.3-pre.1"),
        ("v1.2.3-zzz", "v1.2.3-zzz"),
        ("v1.2.3", "v1.2.3"),
        ("v1.2.3+meta", "v1.2.3"),
        ("v1.2.3+meta-pre", "v1.2.3"),
        ("v1.2.3+meta-pre.sha.256a", "v1.2.3"),
    ];

    fn want(out: &str) -> Option<String> {
        (!out.is_empty()).then(|| out.to_owned())
    }

    #[test]
    fn is_valid_table() {
        for &(input, out) in TESTS {
            assert_eq!(is_valid(input), !out.is_empty(), "is_valid({input:?})");
        }
    }

    #[test]
    fn canonical_table() {
        for &(input, out) in TESTS {
            assert_eq!(canonical(input), want(out), "canonical({input:?})");
            assert_eq!(
                is_canonical(input),
                want(out).as_deref() == Some(input),
                "is_canonical({input:?})"
            );
        }
        assert!(is_canonical("v2.0.0+incompatible"));
        assert!(!is_canonical("v2.0+incompatible"));
    }

    #[test]
    fn major_table() {
        for &(input, out) in TESTS {
            let expected = out.find('.').map(|i| &out[..i]);
            assert_eq!(major(input), expected, "major({input:?})");
        }
        assert_eq!(major("v2.1.0"), Some("v2"));
        assert_eq!(major("v10"), Some("v10"));
    }

    #[test]
    fn prerelease_table() {
        for &(input, out) in TESTS {
            let expected = out.find('-').map(|i| out[i..].to_owned());
            assert_eq!(prerelease(input), expected, "prerelease({input:?})");
        }
        assert_eq!(prerelease("v2.1.0-pre+meta").as_deref(), Some("-pre"));
    }

    #[test]
    fn compare_table() {
        for (i, &(a, a_out)) in TESTS.iter().enumerate() {
            for (j, &(b, b_out)) in TESTS.iter().enumerate() {
                let expected = if a_out == b_out {
                    Ordering::Equal
                } else {
                    i.cmp(&j)
                };
                assert_eq!(compare(a, b), expected, "compare({a:?}, {b:?})");
            }
        }
    }

    #[test]
    fn compare_explicit() {
        assert_eq!(compare("v1", "v1"), Ordering::Equal);
        assert_eq!(compare("v2", "v1"), Ordering::Greater);
        assert_eq!(compare("v1", "v2"), Ordering::Less);
        // Numeric, not lexical: 19 > 2.
        assert_eq!(compare("v1.19", "v1.2"), Ordering::Greater);
        assert_eq!(compare("v1.10.0", "v1.9.0"), Ordering::Greater);
        assert_eq!(compare("v10.0.0", "v9.99.99"), Ordering::Greater);
        assert_eq!(
            compare("v1.2.100000000000000000", "v1.2.99999999999999999"),
            Ordering::Greater
        );
        // ASCII order for alphanumeric identifiers: 'R' (0x52) < 'r' (0x72).
        assert_eq!(compare("v1.0.0-RC1", "v1.0.0-rc1"), Ordering::Less);
        assert_eq!(compare("v1.0.0-RC1", "v1.0.0"), Ordering::Less);
        assert_eq!(compare("v1.0.0-rc.2", "v1.0.0-rc.10"), Ordering::Less);
        assert_eq!(compare("v1.0.0-1", "v1.0.0-a"), Ordering::Less);
        assert_eq!(compare("v1.0.0-alpha", "v1.0.0-alpha.0"), Ordering::Less);
        // Build metadata is ignored.
        assert_eq!(compare("v1.0.0+a", "v1.0.0+b"), Ordering::Equal);
        assert_eq!(compare("v2.0.0+incompatible", "v2.0.0"), Ordering::Equal);
        // Invalid sorts below valid, and equal to other invalid strings.
        assert_eq!(compare("bad", "v0.0.0"), Ordering::Less);
        assert_eq!(compare("v0.0.0", ""), Ordering::Greater);
        assert_eq!(compare("bad", "worse"), Ordering::Equal);
    }

    #[test]
    fn sort_orders_by_precedence_then_string() {
        // A deterministic shuffle of the table.
        let mut versions: Vec<String> = TESTS
            .iter()
            .enumerate()
            .map(|(i, &(v, _))| (i * 7919 % 101, v))
            .collect::<std::collections::BTreeMap<_, _>>()
            .into_values()
            .map(str::to_owned)
            .collect();
        assert_eq!(versions.len(), TESTS.len());
        sort(&mut versions);
        for pair in versions.windows(2) {
            let order = compare(&pair[0], &pair[1]).then_with(|| pair[0].cmp(&pair[1]));
            assert_ne!(
                order,
                Ordering::Greater,
                "{:?} before {:?}",
                pair[0],
                pair[1]
            );
        }

        let mut list: Vec<String> = [
            "v1.0.0+b", "v1.10.0", "v1.0.0", "junk", "v1.0.0+a", "v1.9.0", "abc",
        ]
        .into_iter()
        .map(str::to_owned)
        .collect();
        sort(&mut list);
        assert_eq!(
            list,
            [
                "abc", "junk", "v1.0.0", "v1.0.0+a", "v1.0.0+b", "v1.9.0", "v1.10.0"
            ]
        );
    }

    #[test]
    fn canonical_keeps_only_incompatible_build() {
        assert_eq!(canonical("v1.2").as_deref(), Some("v1.2.0"));
        assert_eq!(
            canonical("v2.0.0+incompatible").as_deref(),
            Some("v2.0.0+incompatible")
        );
        assert_eq!(
            canonical("v2.0.0+incompatible.x").as_deref(),
            Some("v2.0.0")
        );
        assert_eq!(canonical("v1.0.0+build").as_deref(), Some("v1.0.0"));
        assert_eq!(canonical("v2+incompatible"), None);
        assert!(is_canonical("v2.0.0+incompatible"));
        assert!(is_canonical("v1.0.0-rc.1"));
        assert!(!is_canonical("v1.0.0+build"));
        assert!(!is_canonical("v1.2"));
        assert!(!is_canonical("v1"));
        assert!(!is_canonical("1.0.0"));
        assert!(!is_canonical(""));
        assert!(is_incompatible("v2.0.0+incompatible"));
        assert!(!is_incompatible("v2.0.0"));
        assert!(!is_incompatible("v2.0.0+incompatible.1"));
        assert!(!is_incompatible("v2+incompatible"));
    }

    #[test]
    fn invalid_versions() {
        for v in [
            "",
            "v",
            "1.0.0",
            "V1.0.0",
            "v01.0.0",
            "v1.00.0",
            "v1.0.00",
            "v1.0.0-",
            "v1.0.0+",
            "v1.0.0-01",
            "v1.0.0-a..b",
            "v1.0.0-a.",
            "v1.0.0-.a",
            "v1.0.0+a..b",
            "v1.0.0-a_b",
            "v1.0.0 ",
            " v1.0.0",
            "v1.0.0-a+b+c",
            "v1.0.0\0",
            "v1.0.0-é",
            "v1.",
            "v1.0.",
            "v-1.0.0",
            "v1.0.0.0",
        ] {
            assert!(!is_valid(v), "is_valid({v:?})");
            assert_eq!(canonical(v), None, "canonical({v:?})");
        }
        // Leading zeros are fine in build identifiers and in non-numeric prerelease ones.
        assert!(is_valid("v1.0.0+01"));
        assert!(is_valid("v1.0.0-01a"));
        assert!(is_valid("v1.0.0-0"));
    }

    /// pseudo_test.go's table: (older tagged version, pseudo-version derived from it).
    const PSEUDO_TESTS: &[(&str, &str)] = &[
        ("", "v0.0.0-20060102150405-hash"),
        ("", "v1.0.0-20060102150405-hash"),
        ("", "v2.0.0-20060102150405-hash"),
        ("v0.0.0", "v0.0.1-0.20060102150405-hash"),
        ("v1.2.3", "v1.2.4-0.20060102150405-hash"),
        (
            "v1.2.99999999999999999",
            "v1.2.100000000000000000-0.20060102150405-hash",
        ),
        ("v1.2.3-pre", "v1.2.3-pre.0.20060102150405-hash"),
        ("v1.3.0-pre", "v1.3.0-pre.0.20060102150405-hash"),
        ("v0.0.0--", "v0.0.0--.0.20060102150405-hash"),
        ("v1.0.0+metadata", "v1.0.1-0.20060102150405-hash+metadata"),
        (
            "v2.0.0+incompatible",
            "v2.0.1-0.20060102150405-hash+incompatible",
        ),
        (
            "v2.3.0-pre+incompatible",
            "v2.3.0-pre.0.20060102150405-hash+incompatible",
        ),
    ];

    #[test]
    fn pseudo_version_table() {
        for &(older, pseudo) in PSEUDO_TESTS {
            assert!(is_pseudo_version(pseudo), "is_pseudo_version({pseudo:?})");
            assert!(!is_pseudo_version(older), "is_pseudo_version({older:?})");
        }
    }

    #[test]
    fn pseudo_version_forms() {
        for v in [
            "v0.0.0-20191109021931-daa7c04131f5",
            "v3.0.0-20191109021931-daa7c04131f5+incompatible",
            "v0.2.2-0.20240808143317-6b16fc28887d",
            "v0.0.1-beta-test.0.20240709043547-03612098f799",
            "v1.0.0-rc.1.0.20240709043547-03612098f799",
        ] {
            assert!(is_pseudo_version(v), "is_pseudo_version({v:?})");
        }
        for v in [
            // Form 1 needs minor and patch zero.
            "v1.2.3-20060102150405-abcdef123456",
            // Thirteen or fifteen timestamp digits.
            "v0.0.0-2006010215040-abcdef123456",
            "v0.0.0-200601021504050-abcdef123456",
            "v1.2.4-0.2006010215040-abcdef123456",
            // No revision, or a revision with a non-alphanumeric character.
            "v0.0.0-20060102150405-",
            "v0.0.0-20060102150405",
            "v1.2.3-pre.0.20060102150405-abc.def",
            // The prerelease must end in `.0.` or be exactly `0.` before the timestamp.
            "v1.2.4-1.20060102150405-abcdef123456",
            "v1.2.3-pre.1.20060102150405-abcdef123456",
            "v1.2.3-pre0.20060102150405-abcdef123456",
            "v1.2.4-0.020060102150405-abcdef123456",
            // Not valid semver at all.
            "v1.2.4-0.00060102150405.abcdef123456",
            "v1.2-0.20060102150405-abcdef123456",
            "1.2.4-0.20060102150405-abcdef123456",
            "v1.2.4-0.20060102150405-abcdef123456+",
            // Only the build metadata has dashes.
            "v1.0.0+a-b-c",
            "v1.0.0-rc1",
            "v1.0.0",
            "",
        ] {
            assert!(!is_pseudo_version(v), "is_pseudo_version({v:?})");
        }
    }
}
