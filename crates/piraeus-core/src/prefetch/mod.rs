//! Warming the cache from a list of module versions: a JSON array of `module@version`, a
//! go.sum, a go.mod, or a plain list of `module@version` lines (go.sum lines may be mixed in).
//! Every line is accepted or rejected with a reason; accepted versions are deduplicated and
//! fetched through the proxy's single-flight path, and the sums of what is stored are checked
//! against the go.sum lines given.
//!
//! The formats are defined here once: `POST /prefetch` parses bodies with [`parse`], and
//! `piraeus prefetch` reads its files with [`read`] (and a go.work's `use` directories with
//! [`go_work_uses`]), then sends them in batches encoded by [`encode`], which [`parse`] reads
//! back; the report it gets is [`Report`].

use std::collections::HashMap;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

use crate::clock::now_millis;
use crate::error::{Error, ErrorKind, Result};
use crate::golang::path::{check_module_path, check_query, check_version_for_path};
use crate::golang::{gosum, version};
use crate::proxy::{FetchState, Proxy};

/// More than any real go.sum; larger warm-ups are split by the caller.
pub const MAX_VERSIONS: usize = 5000;
/// Lines read from a body at most: a go.sum has two per version.
pub const MAX_LINES: usize = 4 * MAX_VERSIONS;
/// Rejected lines reported one by one; the rest are only counted, so a body of junk cannot
/// make a report many times its own size.
const REPORTED_REJECTIONS: usize = 100;
/// An error reported for one version is cut to this many characters.
const MAX_ERROR_CHARS: usize = 500;
/// How many versions are looked at and triggered at once.
pub const CONCURRENCY: usize = 16;

/// One version asked for, after deduplication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    pub module: String,
    /// A canonical version, or a query (`latest`, a branch) resolved before fetching.
    pub version: String,
    /// The first line (or JSON item) that asked for it, counting from 1.
    pub line: usize,
    /// The `h1:` of the zip and of the go.mod, from go.sum lines.
    pub zip_hash: Option<String>,
    pub mod_hash: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejected {
    pub line: usize,
    pub input: String,
    pub reason: String,
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Plan {
    pub wanted: Vec<Wanted>,
    /// The first rejected lines, with reasons.
    pub rejected: Vec<Rejected>,
    /// How many lines were rejected in all.
    pub rejected_count: usize,
}

impl Plan {
    /// Moves each wanted version for which `refusal` gives a reason to the rejected lines (a
    /// scoped token's modules, checked before anything is looked up or fetched).
    pub(crate) fn reject_where(&mut self, refusal: impl Fn(&Wanted) -> Option<String>) {
        let mut kept = Vec::with_capacity(self.wanted.len());
        for wanted in std::mem::take(&mut self.wanted) {
            let Some(reason) = refusal(&wanted) else {
                kept.push(wanted);
                continue;
            };
            self.rejected_count += 1;
            if self.rejected.len() < REPORTED_REJECTIONS {
                self.rejected.push(Rejected {
                    line: wanted.line,
                    input: format!("{}@{}", wanted.module, wanted.version),
                    reason,
                });
            }
        }
        self.wanted = kept;
    }
}

/// Which kind of text a body or file is, told apart by its content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A JSON array of `"module@version"` strings.
    Json,
    GoMod,
    /// A go.work: its `use` directives name directories on the machine that wrote it.
    GoWork,
    /// go.sum lines and `module@version` lines (a plain list), in any mix.
    GoSum,
}

/// Parses a prefetch body, telling JSON, go.mod and go.sum apart by their content, within the
/// limits of one request.
pub fn parse(body: &str) -> Result<Plan> {
    let lines = body.lines().count();
    if lines > MAX_LINES {
        return Err(Error::invalid(format!(
            "{lines} lines sent; at most {MAX_LINES} per request"
        )));
    }
    let plan = read(body)?;
    if plan.wanted.len() > MAX_VERSIONS {
        return Err(Error::invalid(format!(
            "{} versions asked for; at most {MAX_VERSIONS} per request",
            plan.wanted.len()
        )));
    }
    Ok(plan)
}

/// Reads a go.sum, go.mod, JSON array or plain list of any length (the client side of
/// [`parse`], which splits long ones into requests). A go.work is refused: its `use`
/// directories are read with [`go_work_uses`] where they are.
pub fn read(body: &str) -> Result<Plan> {
    let trimmed = body.trim_start();
    if trimmed.is_empty() {
        return Err(Error::invalid(
            "empty body: send a JSON array of \"module@version\", a go.sum or a go.mod",
        ));
    }
    let mut plan = PlanBuilder::default();
    match detect(trimmed) {
        Format::Json => parse_json(body, &mut plan)?,
        Format::GoMod => parse_go_mod(body, &mut plan),
        Format::GoSum => parse_go_sum(body, &mut plan),
        Format::GoWork => {
            return Err(Error::invalid(
                "a go.work names directories on the machine that has it: send the go.mod and \
                 go.sum of each module it uses instead (`piraeus prefetch go.work` does)",
            ));
        }
    }
    Ok(plan.finish())
}

/// The kind of `body`.
pub fn detect(body: &str) -> Format {
    let body = body.trim_start();
    if body.starts_with('[') {
        return Format::Json;
    }
    let first_word = |line: &str| line.split_whitespace().next().map(str::to_owned);
    let directives = [
        "module",
        "require",
        "go",
        "toolchain",
        "godebug",
        "replace",
        "exclude",
        "retract",
        "tool",
        "ignore",
    ];
    let words: Vec<String> = body
        .lines()
        .map(strip_comment)
        .filter_map(first_word)
        .collect();
    if words.iter().any(|word| word == "use") {
        Format::GoWork
    } else if words.iter().any(|word| directives.contains(&word.as_str())) {
        Format::GoMod
    } else {
        Format::GoSum
    }
}

/// The directories a go.work's `use` directives name (on one line or in blocks), each with its
/// line, as written: relative to the go.work's folder unless absolute.
pub fn go_work_uses(body: &str) -> Vec<(usize, String)> {
    let mut uses = Vec::new();
    let mut in_block: Option<bool> = None;
    for (index, raw) in body.lines().enumerate() {
        let text = strip_comment(raw).trim();
        if text.is_empty() {
            continue;
        }
        let directory = match in_block {
            Some(is_use) => {
                if text == ")" {
                    in_block = None;
                    continue;
                }
                is_use.then_some(text)
            }
            None => {
                let (directive, rest) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
                let rest = rest.trim();
                if rest == "(" {
                    in_block = Some(directive == "use");
                    continue;
                }
                (directive == "use").then_some(rest)
            }
        };
        if let Some(directory) = directory.map(unquote).filter(|d| !d.is_empty()) {
            uses.push((index + 1, directory.to_string()));
        }
    }
    uses
}

/// The body [`parse`] reads back as exactly `wanted` (sums included), and for each of its
/// lines, counting from 1 at index 0, the index in `wanted` of the version it names: one
/// go.sum line per sum given, a `module@version` line for a version without any.
pub fn encode(wanted: &[Wanted]) -> (String, Vec<usize>) {
    let mut body = String::new();
    let mut lines = Vec::new();
    for (index, item) in wanted.iter().enumerate() {
        let (module, version) = (&item.module, &item.version);
        if let Some(hash) = &item.zip_hash {
            body.push_str(&format!("{module} {version} {hash}\n"));
            lines.push(index);
        }
        if let Some(hash) = &item.mod_hash {
            body.push_str(&format!("{module} {version}/go.mod {hash}\n"));
            lines.push(index);
        }
        if item.zip_hash.is_none() && item.mod_hash.is_none() {
            body.push_str(&format!("{module}@{version}\n"));
            lines.push(index);
        }
    }
    (body, lines)
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

    /// One `module@version` (or `module@query`) item of a JSON array or a plain list.
    fn want_item(&mut self, line: usize, text: &str) {
        let Some((module, version)) = text.rsplit_once('@') else {
            self.reject(
                line,
                text,
                "no @version: write module@version or module@latest",
            );
            return;
        };
        let checked = if version::is_canonical(version) {
            check_version_for_path(module, version)
        } else {
            check_module_path(module).and_then(|()| check_query(version))
        };
        match checked {
            Ok(()) => self.want(
                Wanted {
                    module: module.into(),
                    version: version.into(),
                    line,
                    zip_hash: None,
                    mod_hash: None,
                },
                text,
            ),
            Err(error) => self.reject(line, text, error.to_string()),
        }
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
        match item.as_str() {
            Some(text) => plan.want_item(line, text),
            None => plan.reject(line, &item.to_string(), "not a \"module@version\" string"),
        }
    }
    Ok(())
}

/// `module version h1:hash`, `module version/go.mod h1:hash` and `module@version` lines;
/// `#` and `//` start comment lines (which a go.sum never has).
fn parse_go_sum(body: &str, plan: &mut PlanBuilder) {
    for (index, raw) in body.lines().enumerate() {
        let line = index + 1;
        let text = raw.trim();
        if text.starts_with('#') || text.starts_with("//") {
            continue;
        }
        if !text.is_empty() && !text.contains(char::is_whitespace) && text.contains('@') {
            plan.want_item(line, text);
            continue;
        }
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
            .map(|field| unquote(field).to_string())
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

/// A go.mod or go.work token without its `"` or `` ` `` quotes.
fn unquote(token: &str) -> &str {
    token.trim_matches(|c| c == '"' || c == '`')
}

/// Where one accepted version stands when the report is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemState {
    Stored,
    Fetching,
    Failed,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ItemReport {
    pub module: String,
    pub version: String,
    pub line: usize,
    pub state: ItemState,
    /// Stored by a fetch this request started or found under way (not stored before it).
    #[serde(default, skip_serializing_if = "is_false")]
    pub fetched: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Failed only because the proxy was busy (its download queue full, or a fetch elsewhere
    /// not finished in time): asking again later may succeed.
    #[serde(default, skip_serializing_if = "is_false")]
    pub retry: bool,
}

fn is_false(value: &bool) -> bool {
    !value
}

/// A stored sum that differs from the go.sum line given for it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Mismatch {
    pub module: String,
    pub version: String,
    pub line: usize,
    /// `zip` or `go.mod`.
    pub file: String,
    pub expected: String,
    pub stored: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
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
        fetched: false,
        error: None,
        retry: false,
    };
    match watch_fetch(proxy, &wanted, deadline).await {
        Ok((version, FetchState::Stored(record), fetched)) => {
            item.version = version;
            item.state = ItemState::Stored;
            item.fetched = fetched;
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
                        file: file.to_string(),
                        expected: expected.clone(),
                        stored: stored.clone(),
                    });
                }
            }
            (item, mismatches)
        }
        Ok((version, FetchState::Fetching, _)) => {
            item.version = version;
            item.state = ItemState::Fetching;
            (item, Vec::new())
        }
        Ok((_, FetchState::Failed(error), _)) | Err(error) => {
            item.retry = error.kind() == ErrorKind::Pending;
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
/// the deadline passes; also whether it was not stored when first looked at (fetched now).
async fn watch_fetch(
    proxy: &Proxy,
    wanted: &Wanted,
    deadline: Instant,
) -> Result<(String, FetchState, bool)> {
    let module = &wanted.module;
    let version = if version::is_canonical(&wanted.version) {
        wanted.version.clone()
    } else if wanted.version == "latest" {
        proxy.latest(module).await?.value.version
    } else {
        proxy.query(module, &wanted.version).await?.value.version
    };
    let since = now_millis();
    let mut fetched = false;
    loop {
        let state = proxy.start_fetch(module, &version, since).await?;
        if !matches!(state, FetchState::Fetching) || Instant::now() >= deadline {
            return Ok((version, state, fetched));
        }
        fetched = true;
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    #[test]
    fn plain_lists_mix_with_go_sum_lines_and_comments() {
        let body = format!(
            "# warm these\nexample.com/a@v1.0.0\nexample.com/b@latest\n\n\
             example.com/c v1.2.0 {ZIP_HASH}\n// done\nexample.com/d@-x\nexample.com/e\n"
        );
        assert_eq!(detect(&body), Format::GoSum);
        let plan = read(&body).unwrap();
        let wanted: Vec<(String, usize)> = plan
            .wanted
            .iter()
            .map(|w| (format!("{}@{}", w.module, w.version), w.line))
            .collect();
        assert_eq!(
            wanted,
            [
                ("example.com/a@v1.0.0".to_string(), 2),
                ("example.com/b@latest".to_string(), 3),
                ("example.com/c@v1.2.0".to_string(), 5)
            ]
        );
        let lines: Vec<usize> = plan.rejected.iter().map(|r| r.line).collect();
        assert_eq!(lines, [7, 8], "{:?}", plan.rejected);
    }

    #[test]
    fn go_work_is_told_apart_and_its_uses_read() {
        let body = "go 1.22\n\nuse ./app // the service\nuse (\n\t./lib\n\t\"./tools\"\n)\n\
                    replace example.com/x => ./x\n";
        assert_eq!(detect(body), Format::GoWork);
        assert_eq!(
            go_work_uses(body),
            [
                (3, "./app".to_string()),
                (5, "./lib".to_string()),
                (6, "./tools".to_string())
            ]
        );
        assert!(matches!(parse(body), Err(ref e) if e.kind() == ErrorKind::Invalid));
        assert_eq!(detect("module example.com/m\n\ngo 1.22\n"), Format::GoMod);
    }

    #[test]
    fn encoded_batches_parse_back_to_the_same_versions() {
        let wanted = vec![
            Wanted {
                module: "example.com/a".into(),
                version: "v1.0.0".into(),
                line: 1,
                zip_hash: Some(ZIP_HASH.into()),
                mod_hash: Some(MOD_HASH.into()),
            },
            Wanted {
                module: "example.com/b".into(),
                version: "latest".into(),
                line: 3,
                zip_hash: None,
                mod_hash: None,
            },
            Wanted {
                module: "example.com/c/v2".into(),
                version: "v2.0.1".into(),
                line: 4,
                zip_hash: None,
                mod_hash: Some(MOD_HASH.into()),
            },
        ];
        let (body, lines) = encode(&wanted);
        assert_eq!(lines, [0, 0, 1, 2]);
        let plan = parse(&body).unwrap();
        assert!(plan.rejected.is_empty(), "{:?}", plan.rejected);
        let strip = |w: &Wanted| {
            (
                w.module.clone(),
                w.version.clone(),
                w.zip_hash.clone(),
                w.mod_hash.clone(),
            )
        };
        assert_eq!(
            plan.wanted.iter().map(strip).collect::<Vec<_>>(),
            wanted.iter().map(strip).collect::<Vec<_>>()
        );
        // Each version's report line leads back to it.
        for item in &plan.wanted {
            let index = lines[item.line - 1];
            assert_eq!(wanted[index].module, item.module);
        }
    }

    #[test]
    fn reports_read_back_with_the_optional_fields() {
        let text = r#"{"accepted": [
            {"module": "example.com/a", "version": "v1.0.0", "line": 1, "state": "stored", "fetched": true},
            {"module": "example.com/b", "version": "v1.0.0", "line": 2, "state": "failed",
             "error": "the download queue is full", "retry": true},
            {"module": "example.com/c", "version": "v1.0.0", "line": 3, "state": "fetching"}],
            "rejected": [], "rejected_count": 0, "mismatches": []}"#;
        let report: Report = serde_json::from_str(text).unwrap();
        assert!(report.accepted[0].fetched && !report.accepted[0].retry);
        assert!(report.accepted[1].retry);
        assert_eq!(report.accepted[2].state, ItemState::Fetching);
        let again = serde_json::to_value(&report).unwrap();
        assert!(again["accepted"][2].get("fetched").is_none());
    }
}
