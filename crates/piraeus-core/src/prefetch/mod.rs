//! Warming the cache from a list of module versions: a JSON array of `module@version`, a
//! go.sum, or a go.mod. Every line is accepted or rejected with a reason; accepted versions
//! are deduplicated and fetched through the proxy's single-flight path, and the sums of what
//! is stored are checked against the go.sum lines given.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde::Serialize;

use crate::clock::now_millis;
use crate::error::{Error, Result};
use crate::golang::path::{check_module_path, check_query, check_version_for_path};
use crate::golang::{gosum, version};
use crate::proxy::{FetchState, Proxy};

/// More than any real go.sum; larger warm-ups are split by the caller.
pub(crate) const MAX_VERSIONS: usize = 5000;
/// Lines read from a body at most: a go.sum has two per version.
const MAX_LINES: usize = 4 * MAX_VERSIONS;
/// Rejected lines reported one by one; the rest are only counted, so a body of junk cannot
/// make a report many times its own size.
const REPORTED_REJECTIONS: usize = 100;
/// An error reported for one version is cut to this many characters.
const MAX_ERROR_CHARS: usize = 500;
/// How many versions are looked at and triggered at once.
const CONCURRENCY: usize = 16;

/// One version asked for, after deduplication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Wanted {
    pub module: String,
    /// A canonical version, or a query (`latest`, a branch) resolved before fetching.
    pub version: String,
    /// The first line (or JSON item) that asked for it, counting from 1.
    pub line: usize,
    /// The `h1:` of the zip and of the go.mod, from go.sum lines.
    pub zip_hash: Option<String>,
    pub mod_hash: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Rejected {
    pub line: usize,
    pub input: String,
    pub reason: String,
}

#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Plan {
    pub wanted: Vec<Wanted>,
    /// The first rejected lines, with reasons.
    pub rejected: Vec<Rejected>,
    /// How many lines were rejected in all.
    pub rejected_count: usize,
}

/// Which kind of body a request carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    GoMod,
    GoSum,
}

/// Parses a prefetch body, telling JSON, go.mod and go.sum apart by their content.
pub fn parse(body: &str) -> Result<Plan> {
    let trimmed = body.trim_start();
    if trimmed.is_empty() {
        return Err(Error::invalid(
            "empty body: send a JSON array of \"module@version\", a go.sum or a go.mod",
        ));
    }
    let lines = body.lines().count();
    if lines > MAX_LINES {
        return Err(Error::invalid(format!(
            "{lines} lines sent; at most {MAX_LINES} per request"
        )));
    }
    let mut plan = PlanBuilder::default();
    match detect(trimmed) {
        Format::Json => parse_json(body, &mut plan)?,
        Format::GoMod => parse_go_mod(body, &mut plan),
        Format::GoSum => parse_go_sum(body, &mut plan),
    }
    if plan.order.len() > MAX_VERSIONS {
        return Err(Error::invalid(format!(
            "{} versions asked for; at most {MAX_VERSIONS} per request",
            plan.order.len()
        )));
    }
    Ok(plan.finish())
}

fn detect(body: &str) -> Format {
    if body.starts_with('[') {
        return Format::Json;
    }
    let first_word = |line: &str| line.split_whitespace().next().map(str::to_owned);
    let directives = [
        "module",
        "require",
        "go",
        "toolchain",
        "replace",
        "exclude",
        "retract",
    ];
    let is_go_mod = body
        .lines()
        .map(strip_comment)
        .filter_map(first_word)
        .any(|word| directives.contains(&word.as_str()));
    if is_go_mod {
        Format::GoMod
    } else {
        Format::GoSum
    }
}

#[derive(Default)]
struct PlanBuilder {
    order: Vec<Wanted>,
    positions: HashMap<(String, String), usize>,
    rejected: Vec<Rejected>,
    rejected_count: usize,
}

impl PlanBuilder {
    fn reject(&mut self, line: usize, input: &str, reason: impl Into<String>) {
        self.rejected_count += 1;
        if self.rejected.len() >= REPORTED_REJECTIONS {
            return;
        }
        self.rejected.push(Rejected {
            line,
            input: input.chars().take(300).collect(),
            reason: reason.into(),
        });
    }

    /// Adds a version, merging go.sum's two lines per version; a second line that disagrees
    /// with a sum already given is rejected.
    fn want(&mut self, wanted: Wanted, input: &str) {
        let key = (wanted.module.clone(), wanted.version.clone());
        let Some(&position) = self.positions.get(&key) else {
            self.positions.insert(key, self.order.len());
            self.order.push(wanted);
            return;
        };
        let existing = &self.order[position];
        let conflict = [
            (&existing.zip_hash, &wanted.zip_hash, "zip"),
            (&existing.mod_hash, &wanted.mod_hash, "go.mod"),
        ]
        .into_iter()
        .find_map(|(first, again, what)| match (first, again) {
            (Some(first), Some(again)) if first != again => Some(format!(
                "its {what} sum {again} conflicts with {first} given on line {}",
                existing.line
            )),
            _ => None,
        });
        if let Some(reason) = conflict {
            self.reject(wanted.line, input, reason);
            return;
        }
        let existing = &mut self.order[position];
        existing.zip_hash = existing.zip_hash.take().or(wanted.zip_hash);
        existing.mod_hash = existing.mod_hash.take().or(wanted.mod_hash);
    }

    fn finish(self) -> Plan {
        Plan {
            wanted: self.order,
            rejected: self.rejected,
            rejected_count: self.rejected_count,
        }
    }
}

fn parse_json(body: &str, plan: &mut PlanBuilder) -> Result<()> {
    let items: Vec<serde_json::Value> = serde_json::from_str(body).map_err(|error| {
        Error::invalid(format!("not a JSON array of \"module@version\": {error}"))
    })?;
    for (index, item) in items.iter().enumerate() {
        let line = index + 1;
        let Some(text) = item.as_str() else {
            plan.reject(line, &item.to_string(), "not a \"module@version\" string");
            continue;
        };
        let Some((module, version)) = text.rsplit_once('@') else {
            plan.reject(
                line,
                text,
                "no @version: write module@version or module@latest",
            );
            continue;
        };
        let checked = if version::is_canonical(version) {
            check_version_for_path(module, version)
        } else {
            check_module_path(module).and_then(|()| check_query(version))
        };
        match checked {
            Ok(()) => plan.want(
                Wanted {
                    module: module.into(),
                    version: version.into(),
                    line,
                    zip_hash: None,
                    mod_hash: None,
                },
                text,
            ),
            Err(error) => plan.reject(line, text, error.to_string()),
        }
    }
    Ok(())
}

/// `module version h1:hash` and `module version/go.mod h1:hash`.
fn parse_go_sum(body: &str, plan: &mut PlanBuilder) {
    for (index, raw) in body.lines().enumerate() {
        let line = index + 1;
        match gosum::parse_line(raw) {
            Ok(None) => {}
            Ok(Some(sum)) => plan.want(
                Wanted {
                    module: sum.module.into(),
                    version: sum.version.into(),
                    line,
                    zip_hash: (!sum.go_mod).then(|| sum.hash.to_string()),
                    mod_hash: sum.go_mod.then(|| sum.hash.to_string()),
                },
                raw,
            ),
            Err(reason) => plan.reject(line, raw, reason),
        }
    }
}

/// The `require` directives, on one line or in blocks; everything else is skipped.
fn parse_go_mod(body: &str, plan: &mut PlanBuilder) {
    let mut block: Option<String> = None;
    for (index, raw) in body.lines().enumerate() {
        let line = index + 1;
        let text = strip_comment(raw).trim();
        if text.is_empty() {
            continue;
        }
        let requirement = match &block {
            Some(directive) => {
                if text == ")" {
                    block = None;
                    continue;
                }
                (directive == "require").then_some(text)
            }
            None => {
                let (directive, rest) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
                let rest = rest.trim();
                if rest == "(" {
                    block = Some(directive.to_string());
                    continue;
                }
                (directive == "require").then_some(rest)
            }
        };
        let Some(requirement) = requirement else {
            continue;
        };
        let fields: Vec<String> = requirement
            .split_whitespace()
            .map(|field| field.trim_matches(|c| c == '"' || c == '`').to_string())
            .collect();
        let [module, version] = &fields[..] else {
            plan.reject(line, raw, "a requirement is a module path and a version");
            continue;
        };
        match check_version_for_path(module, version) {
            Ok(()) => plan.want(
                Wanted {
                    module: module.clone(),
                    version: version.clone(),
                    line,
                    zip_hash: None,
                    mod_hash: None,
                },
                raw,
            ),
            Err(error) => plan.reject(line, raw, error.to_string()),
        }
    }
}

fn strip_comment(line: &str) -> &str {
    line.split_once("//").map_or(line, |(before, _)| before)
}

/// Where one accepted version stands when the report is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ItemState {
    Stored,
    Fetching,
    Failed,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct ItemReport {
    pub module: String,
    pub version: String,
    pub line: usize,
    pub state: ItemState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A stored sum that differs from the go.sum line given for it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Mismatch {
    pub module: String,
    pub version: String,
    pub line: usize,
    /// `zip` or `go.mod`.
    pub file: &'static str,
    pub expected: String,
    pub stored: String,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Report {
    pub accepted: Vec<ItemReport>,
    /// The first 100 rejected lines.
    pub rejected: Vec<Rejected>,
    /// All rejected lines, reported or not.
    pub rejected_count: usize,
    pub mismatches: Vec<Mismatch>,
}

impl Report {
    pub(crate) fn still_fetching(&self) -> usize {
        self.count(ItemState::Fetching)
    }

    pub fn count(&self, state: ItemState) -> usize {
        self.accepted
            .iter()
            .filter(|item| item.state == state)
            .count()
    }
}

/// Starts a fetch for every wanted version not yet stored, waits up to `wait` for them, and
/// reports each one's state and any sum that disagrees with the go.sum given.
pub async fn run(proxy: &Proxy, plan: Plan, wait: Duration) -> Report {
    let deadline = Instant::now() + wait;
    let outcomes: Vec<(ItemReport, Vec<Mismatch>)> = futures_util::stream::iter(plan.wanted)
        .map(|wanted| prefetch_one(proxy, wanted, deadline))
        .buffered(CONCURRENCY)
        .collect()
        .await;
    let mut report = Report {
        accepted: Vec::with_capacity(outcomes.len()),
        rejected: plan.rejected,
        rejected_count: plan.rejected_count,
        mismatches: Vec::new(),
    };
    for (item, mismatches) in outcomes {
        report.accepted.push(item);
        report.mismatches.extend(mismatches);
    }
    report
}

async fn prefetch_one(
    proxy: &Proxy,
    wanted: Wanted,
    deadline: Instant,
) -> (ItemReport, Vec<Mismatch>) {
    let mut item = ItemReport {
        module: wanted.module.clone(),
        version: wanted.version.clone(),
        line: wanted.line,
        state: ItemState::Failed,
        error: None,
    };
    match watch_fetch(proxy, &wanted, deadline).await {
        Ok((version, FetchState::Stored(record))) => {
            item.version = version;
            item.state = ItemState::Stored;
            let mut mismatches = Vec::new();
            for (file, expected, stored) in [
                ("zip", &wanted.zip_hash, &record.zip_hash),
                ("go.mod", &wanted.mod_hash, &record.mod_hash),
            ] {
                if let Some(expected) = expected.as_ref().filter(|expected| *expected != stored) {
                    mismatches.push(Mismatch {
                        module: record.module.clone(),
                        version: record.version.clone(),
                        line: wanted.line,
                        file,
                        expected: expected.clone(),
                        stored: stored.clone(),
                    });
                }
            }
            (item, mismatches)
        }
        Ok((version, FetchState::Fetching)) => {
            item.version = version;
            item.state = ItemState::Fetching;
            (item, Vec::new())
        }
        Ok((_, FetchState::Failed(error))) | Err(error) => {
            item.error = Some(
                error
                    .client_message()
                    .chars()
                    .take(MAX_ERROR_CHARS)
                    .collect(),
            );
            (item, Vec::new())
        }
    }
}

/// Resolves a query to its version, then starts the fetch and watches it until it settles or
/// the deadline passes.
async fn watch_fetch(
    proxy: &Proxy,
    wanted: &Wanted,
    deadline: Instant,
) -> Result<(String, FetchState)> {
    let module = &wanted.module;
    let version = if version::is_canonical(&wanted.version) {
        wanted.version.clone()
    } else if wanted.version == "latest" {
        proxy.latest(module).await?.value.version
    } else {
        proxy.query(module, &wanted.version).await?.value.version
    };
    let since = now_millis();
    loop {
        let state = proxy.start_fetch(module, &version, since).await?;
        if !matches!(state, FetchState::Fetching) || Instant::now() >= deadline {
            return Ok((version, state));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    const ZIP_HASH: &str = "h1:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
    const MOD_HASH: &str = "h1:MpRLaiBsgKX2zCsJbEVj7bJcYyAOZZC3Zhv9xJ0UX4Q=";

    #[test]
    fn go_sum_lines_merge_per_version() {
        let body = format!(
            "example.com/a v1.0.0 {ZIP_HASH}\nexample.com/a v1.0.0/go.mod {MOD_HASH}\n\
             example.com/b v0.1.0/go.mod {MOD_HASH}\n"
        );
        let plan = parse(&body).unwrap();
        assert!(plan.rejected.is_empty(), "{:?}", plan.rejected);
        assert_eq!(plan.wanted.len(), 2);
        assert_eq!(plan.wanted[0].zip_hash.as_deref(), Some(ZIP_HASH));
        assert_eq!(plan.wanted[0].mod_hash.as_deref(), Some(MOD_HASH));
        assert_eq!(plan.wanted[1].zip_hash, None);
        assert_eq!(plan.wanted[1].line, 3);
    }

    #[test]
    fn bad_go_sum_lines_are_rejected_with_reasons() {
        let body = format!(
            "example.com/a v1.0.0 {ZIP_HASH}\n\
             example.com/a v1.0.0 {MOD_HASH}\n\
             example.com/a v2.0.0 {ZIP_HASH}\n\
             ../etc v1.0.0 {ZIP_HASH}\n\
             example.com/c v1.0.0 h1:short\n\
             example.com/d v1.0.0\n"
        );
        let plan = parse(&body).unwrap();
        assert_eq!(plan.wanted.len(), 1);
        let reasons: Vec<(usize, &str)> = plan
            .rejected
            .iter()
            .map(|r| (r.line, r.reason.as_str()))
            .collect();
        assert_eq!(reasons.len(), 5, "{reasons:?}");
        assert!(reasons[0].1.contains("conflicts with"), "{reasons:?}");
        assert!(reasons[1].1.contains("should be v0 or v1"), "{reasons:?}");
        assert_eq!(reasons[2].0, 4);
        assert!(reasons[3].1.contains("not an h1: hash"), "{reasons:?}");
        assert!(reasons[4].1.contains("three fields"), "{reasons:?}");
    }

    #[test]
    fn go_mod_requirements_are_read_from_lines_and_blocks() {
        let body = "module example.com/me\n\ngo 1.19\n\n\
                    require example.com/one v1.2.3\n\
                    require (\n\
                    \texample.com/two v0.0.0-20240101000000-abcdefabcdef // indirect\n\
                    \t\"example.com/three/v2\" v2.0.1\n\
                    \texample.com/bad v1\n\
                    )\n\
                    replace (\n\
                    \texample.com/one => ../one\n\
                    )\n\
                    exclude example.com/four v1.0.0\n";
        let plan = parse(body).unwrap();
        let wanted: Vec<String> = plan
            .wanted
            .iter()
            .map(|w| format!("{}@{}", w.module, w.version))
            .collect();
        assert_eq!(
            wanted,
            [
                "example.com/one@v1.2.3",
                "example.com/two@v0.0.0-20240101000000-abcdefabcdef",
                "example.com/three/v2@v2.0.1"
            ]
        );
        assert_eq!(plan.rejected.len(), 1);
        assert_eq!(plan.rejected[0].line, 9);
    }

    #[test]
    fn json_items_may_be_versions_or_queries() {
        let plan = parse(
            r#"["example.com/a@v1.0.0", "example.com/a@v1.0.0", "example.com/b@latest",
                "example.com/c", 7, "example.com/d@--exec"]"#,
        )
        .unwrap();
        assert_eq!(plan.wanted.len(), 2);
        assert_eq!(plan.wanted[1].version, "latest");
        let lines: Vec<usize> = plan.rejected.iter().map(|r| r.line).collect();
        assert_eq!(lines, [4, 5, 6]);
    }

    #[test]
    fn unusable_bodies_are_invalid() {
        assert!(matches!(parse("  \n"), Err(ref e) if e.kind() == ErrorKind::Invalid));
        assert!(matches!(parse("[1, "), Err(ref e) if e.kind() == ErrorKind::Invalid));
        let many: Vec<String> = (0..=MAX_VERSIONS)
            .map(|i| format!("\"example.com/m@v1.0.{i}\""))
            .collect();
        assert!(matches!(
            parse(&format!("[{}]", many.join(","))),
            Err(ref e) if e.kind() == ErrorKind::Invalid
        ));
    }

    #[test]
    fn junk_is_counted_but_only_the_first_rejections_reported() {
        let junk: String = (0..5000).map(|n| format!("junk line {n}\n")).collect();
        let plan = parse(&junk).unwrap();
        assert_eq!(plan.rejected.len(), REPORTED_REJECTIONS);
        assert_eq!(plan.rejected_count, 5000);
        let too_long = "x\n".repeat(MAX_LINES + 1);
        assert!(parse(&too_long).is_err());
    }
}
