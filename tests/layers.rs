//! piraeus-core's modules are one-way layers: a module uses only modules on layers below its
//! own, and the files of one folder form no cycle. The layers are written once, as the diagram
//! in docs/architecture.md ("Layers of piraeus-core"); this check reads that diagram and every
//! path the core's source names through `crate::`, `super::` or `self::` (in `use` items, in
//! code, and in macro bodies), and fails naming the file, the line and the path of each edge
//! that points up, sideways or round a cycle.
//!
//! Two things are exempt: `lib.rs`, which only declares the modules, and test code
//! (`#[cfg(test)]`), which may use whatever helps it test. Inside a folder, `mod.rs` is the
//! folder's face: its files may use what it defines, and it may use them.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use proc_macro2::{Delimiter, TokenStream, TokenTree};
use syn::visit::Visit;

use crate::common::repo_root;

/// The heading in docs/architecture.md under which the diagram's code block stands.
const DIAGRAM_HEADING: &str = "### Layers of piraeus-core";

#[test]
fn the_core_is_one_way_layers() {
    let root = repo_root();
    let architecture = fs::read_to_string(root.join("docs/architecture.md")).unwrap();
    let problems = check(&root.join("crates/piraeus-core/src"), &architecture);
    assert!(
        problems.is_empty(),
        "piraeus-core breaks the layers of docs/architecture.md:\n{}",
        problems.join("\n")
    );
}

/// The modules in layer order, top first, as the diagram lists them: one line per layer,
/// module names before a `:`, what they are after it.
fn parse_diagram(markdown: &str) -> Result<BTreeMap<String, usize>, String> {
    let after = markdown
        .split_once(DIAGRAM_HEADING)
        .ok_or_else(|| format!("docs/architecture.md has no {DIAGRAM_HEADING:?} section"))?
        .1;
    let block = after
        .split_once("```")
        .and_then(|(_, rest)| rest.split_once('\n'))
        .and_then(|(_, rest)| rest.split_once("```"))
        .ok_or_else(|| format!("no code block under {DIAGRAM_HEADING:?}"))?
        .0;
    let mut layers = BTreeMap::new();
    for (rank, line) in block.lines().filter(|l| !l.trim().is_empty()).enumerate() {
        let (names, _) = line
            .split_once(':')
            .ok_or_else(|| format!("the diagram's line {line:?} has no `:`"))?;
        for name in names.split_whitespace() {
            if layers.insert(name.to_string(), rank).is_some() {
                return Err(format!("the diagram names {name} twice"));
            }
        }
    }
    Ok(layers)
}

/// Every problem with the source under `src` against the diagram in `markdown`; none when the
/// layers hold.
fn check(src: &Path, markdown: &str) -> Vec<String> {
    let layers = match parse_diagram(markdown) {
        Ok(layers) => layers,
        Err(problem) => return vec![problem],
    };
    let files = match read_files(src) {
        Ok(files) => files,
        Err(problem) => return vec![problem],
    };
    let mut problems = Vec::new();
    let declared: BTreeSet<&str> = files
        .iter()
        .filter_map(|file| file.module.first().map(String::as_str))
        .collect();
    for module in &declared {
        if !layers.contains_key(*module) {
            problems.push(format!(
                "module {module} is not in the diagram of docs/architecture.md"
            ));
        }
    }
    for module in layers.keys() {
        if !declared.contains(module.as_str()) {
            problems.push(format!(
                "the diagram names {module}, which is not a module of the crate"
            ));
        }
    }
    let aliases = root_aliases(&files);
    // Per folder: the edges between its files, for the cycle check.
    let mut folders: BTreeMap<String, FileEdges> = BTreeMap::new();
    for file in &files {
        let Some(from) = file.module.first() else {
            continue;
        };
        for edge in &file.edges {
            let mut target = edge.target.clone();
            if let Some(alias) = target.first().and_then(|first| aliases.get(first)) {
                target.splice(0..1, alias.iter().cloned());
            }
            let Some(to) = target.first() else { continue };
            if to != from {
                let (Some(&from_rank), Some(&to_rank)) = (layers.get(from), layers.get(to)) else {
                    continue;
                };
                if to_rank <= from_rank {
                    let how = if to_rank == from_rank {
                        "on its own layer"
                    } else {
                        "above it"
                    };
                    problems.push(format!(
                        "{}:{}: {from} uses {} ({to}), which is {how}",
                        file.display, edge.line, edge.text
                    ));
                }
                continue;
            }
            // Within one folder: from one of its files to another.
            if let ([_, source], [_, sink, ..]) = (file.module.as_slice(), target.as_slice())
                && source != sink
                && file.folder_files.contains(sink)
            {
                folders
                    .entry(from.clone())
                    .or_default()
                    .entry(source.clone())
                    .or_default()
                    .push((sink.clone(), edge));
            }
        }
    }
    for (folder, edges) in &folders {
        for cycle in find_cycles(edges) {
            let steps: Vec<String> = cycle
                .windows(2)
                .map(|pair| {
                    let edge = edges[&pair[0]]
                        .iter()
                        .find(|(sink, _)| *sink == pair[1])
                        .map(|(_, edge)| edge)
                        .expect("the cycle follows edges");
                    format!("{}.rs:{} uses {}", pair[0], edge.line, edge.text)
                })
                .collect();
            problems.push(format!(
                "the files of {folder}/ form a cycle: {} ({})",
                cycle.join(" -> "),
                steps.join("; ")
            ));
        }
    }
    problems
}

/// A folder's files, each with the files it uses and the first path that says so.
type FileEdges<'a> = BTreeMap<String, Vec<(String, &'a Edge)>>;

/// One cycle for each group of a folder's files that reach each other, as file names from
/// one back to itself.
fn find_cycles(edges: &FileEdges) -> Vec<Vec<String>> {
    let next = |node: &str| -> Vec<String> {
        edges
            .get(node)
            .into_iter()
            .flatten()
            .map(|(sink, _)| sink.clone())
            .collect()
    };
    let reach = |start: &str| -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut todo = next(start);
        while let Some(node) = todo.pop() {
            if seen.insert(node.clone()) {
                todo.extend(next(&node));
            }
        }
        seen
    };
    let mut covered = BTreeSet::new();
    let mut cycles = Vec::new();
    for start in edges.keys() {
        if covered.contains(start) || !reach(start).contains(start) {
            continue;
        }
        // The shortest way back to `start`, breadth first.
        let mut came_from: BTreeMap<String, String> = BTreeMap::new();
        let mut frontier = vec![start.clone()];
        'search: while !frontier.is_empty() {
            let mut following = Vec::new();
            for node in frontier {
                for sink in next(&node) {
                    if sink == *start {
                        let mut cycle = vec![start.clone()];
                        let mut at = node.clone();
                        while at != *start {
                            cycle.push(at.clone());
                            at = came_from[&at].clone();
                        }
                        cycle.push(start.clone());
                        let last = cycle.len() - 1;
                        cycle[1..last].reverse();
                        covered.extend(cycle.iter().cloned());
                        cycles.push(cycle);
                        break 'search;
                    }
                    if !came_from.contains_key(&sink) {
                        came_from.insert(sink.clone(), node.clone());
                        following.push(sink);
                    }
                }
            }
            frontier = following;
        }
    }
    cycles
}

/// One source file: its module path (`["proxy", "hits"]`; `[]` for lib.rs), the other files
/// of its folder (module names), and what it names.
struct SourceFile {
    display: String,
    module: Vec<String>,
    folder_files: BTreeSet<String>,
    edges: Vec<Edge>,
    /// lib.rs only: `pub use a::b::{C, D}` as C -> [a, b, C].
    reexports: BTreeMap<String, Vec<String>>,
}

/// A path the code names, resolved to the module path it starts from the crate root.
struct Edge {
    line: usize,
    text: String,
    target: Vec<String>,
}

/// What lib.rs re-exports at the crate root (`crate::Error` is `crate::error::Error`).
fn root_aliases(files: &[SourceFile]) -> BTreeMap<String, Vec<String>> {
    files
        .iter()
        .filter(|file| file.module.is_empty())
        .flat_map(|file| file.reexports.clone())
        .collect()
}

fn read_files(src: &Path) -> Result<Vec<SourceFile>, String> {
    let mut paths = Vec::new();
    collect_rs(src, &mut paths).map_err(|e| format!("cannot read {}: {e}", src.display()))?;
    paths.sort();
    let mut files = Vec::new();
    for path in paths {
        let relative = path.strip_prefix(src).expect("under src");
        let display = format!("{}", Path::new("src").join(relative).display());
        let mut module: Vec<String> = relative
            .with_extension("")
            .iter()
            .map(|part| part.to_string_lossy().into_owned())
            .collect();
        if module
            .last()
            .is_some_and(|last| last == "mod" || last == "lib")
        {
            module.pop();
        }
        let folder = path.parent().expect("a file has a folder");
        let folder_files = if module.len() >= 2 {
            fs::read_dir(folder)
                .map_err(|e| format!("cannot read {}: {e}", folder.display()))?
                .filter_map(|entry| {
                    let name = entry.ok()?.file_name().to_string_lossy().into_owned();
                    let stem = name.strip_suffix(".rs")?;
                    (stem != "mod").then(|| stem.to_string())
                })
                .collect()
        } else {
            BTreeSet::new()
        };
        let text = fs::read_to_string(&path).map_err(|e| format!("cannot read {display}: {e}"))?;
        let syntax = syn::parse_file(&text).map_err(|e| format!("cannot parse {display}: {e}"))?;
        let mut visitor = Names {
            module: module.clone(),
            edges: Vec::new(),
            reexports: BTreeMap::new(),
            at_root: module.is_empty(),
        };
        visitor.visit_file(&syntax);
        files.push(SourceFile {
            display,
            module: if module.is_empty() { vec![] } else { module },
            folder_files,
            edges: if visitor.at_root {
                Vec::new()
            } else {
                visitor.edges
            },
            reexports: visitor.reexports,
        });
    }
    Ok(files)
}

fn collect_rs(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_rs(&path, out)?;
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            out.push(path);
        }
    }
    Ok(())
}

/// Collects the paths a file names, outside test code.
struct Names {
    /// The module the code being visited is in (inline `mod`s push onto the file's own).
    module: Vec<String>,
    edges: Vec<Edge>,
    reexports: BTreeMap<String, Vec<String>>,
    at_root: bool,
}

impl Names {
    /// Records `segments` (as written) when they start at `crate`, `super` or `self`.
    fn name(&mut self, segments: &[String], line: usize) {
        let Some(first) = segments.first() else {
            return;
        };
        let mut target = match first.as_str() {
            "crate" => Vec::new(),
            "self" => self.module.clone(),
            "super" => self.module.clone(),
            _ => return,
        };
        let mut rest = &segments[1..];
        if first == "super" {
            target.pop();
            while rest.first().is_some_and(|s| s == "super") {
                target.pop();
                rest = &rest[1..];
            }
        }
        target.extend(rest.iter().filter(|s| *s != "self").cloned());
        self.edges.push(Edge {
            line,
            text: segments.join("::").trim_end_matches("::self").to_string(),
            target,
        });
    }

    fn use_tree(&mut self, prefix: &mut Vec<String>, tree: &syn::UseTree, public: bool) {
        match tree {
            syn::UseTree::Path(path) => {
                prefix.push(path.ident.to_string());
                self.use_tree(prefix, &path.tree, public);
                prefix.pop();
            }
            syn::UseTree::Name(name) => {
                let line = name.ident.span().start().line;
                let mut full = prefix.clone();
                full.push(name.ident.to_string());
                self.reexport(public, &name.ident.to_string(), &full);
                self.name(&full, line);
            }
            syn::UseTree::Rename(rename) => {
                let line = rename.ident.span().start().line;
                let mut full = prefix.clone();
                full.push(rename.ident.to_string());
                self.reexport(public, &rename.rename.to_string(), &full);
                self.name(&full, line);
            }
            syn::UseTree::Glob(glob) => {
                let line = glob.star_token.span.start().line;
                self.name(&prefix.clone(), line);
            }
            syn::UseTree::Group(group) => {
                for tree in &group.items {
                    self.use_tree(prefix, tree, public);
                }
            }
        }
    }

    fn reexport(&mut self, public: bool, name: &str, full: &[String]) {
        if public && self.at_root {
            let path = full.iter().skip_while(|s| *s == "crate").cloned().collect();
            self.reexports.insert(name.to_string(), path);
        }
    }

    /// Paths inside a macro's tokens (`format!`, `tracing::info!`): `crate :: a :: b` runs.
    fn tokens(&mut self, tokens: TokenStream) {
        let tokens: Vec<TokenTree> = tokens.into_iter().collect();
        let mut i = 0;
        while i < tokens.len() {
            if let TokenTree::Group(group) = &tokens[i] {
                if group.delimiter() != Delimiter::None || !group.stream().is_empty() {
                    self.tokens(group.stream());
                }
                i += 1;
                continue;
            }
            let starts = matches!(&tokens[i], TokenTree::Ident(ident)
                if ident == "crate" || ident == "super" || ident == "self");
            let preceded = i >= 1 && is_colon(&tokens[i - 1]);
            if !starts || preceded {
                i += 1;
                continue;
            }
            let line = tokens[i].span().start().line;
            let mut segments = vec![tokens[i].to_string()];
            let mut j = i + 1;
            while j + 2 < tokens.len()
                && is_colon(&tokens[j])
                && is_colon(&tokens[j + 1])
                && matches!(tokens[j + 2], TokenTree::Ident(_))
            {
                segments.push(tokens[j + 2].to_string());
                j += 3;
            }
            if segments.len() > 1 {
                self.name(&segments, line);
            }
            i = j;
        }
    }
}

fn is_colon(token: &TokenTree) -> bool {
    matches!(token, TokenTree::Punct(punct) if punct.as_char() == ':')
}

/// `#[cfg(test)]`, alone or first among the conditions of an `all(...)`.
fn is_test_only(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|attr| match &attr.meta {
        syn::Meta::List(list) if list.path.is_ident("cfg") => {
            let condition = list.tokens.to_string().replace(' ', "");
            condition == "test" || condition.starts_with("all(test,")
        }
        _ => false,
    })
}

fn item_attrs(item: &syn::Item) -> &[syn::Attribute] {
    match item {
        syn::Item::Const(i) => &i.attrs,
        syn::Item::Enum(i) => &i.attrs,
        syn::Item::ExternCrate(i) => &i.attrs,
        syn::Item::Fn(i) => &i.attrs,
        syn::Item::ForeignMod(i) => &i.attrs,
        syn::Item::Impl(i) => &i.attrs,
        syn::Item::Macro(i) => &i.attrs,
        syn::Item::Mod(i) => &i.attrs,
        syn::Item::Static(i) => &i.attrs,
        syn::Item::Struct(i) => &i.attrs,
        syn::Item::Trait(i) => &i.attrs,
        syn::Item::TraitAlias(i) => &i.attrs,
        syn::Item::Type(i) => &i.attrs,
        syn::Item::Union(i) => &i.attrs,
        syn::Item::Use(i) => &i.attrs,
        _ => &[],
    }
}

impl<'ast> Visit<'ast> for Names {
    fn visit_item(&mut self, item: &'ast syn::Item) {
        if is_test_only(item_attrs(item)) {
            return;
        }
        match item {
            syn::Item::Mod(module) if module.content.is_some() => {
                self.module.push(module.ident.to_string());
                syn::visit::visit_item_mod(self, module);
                self.module.pop();
            }
            syn::Item::Use(item_use) => {
                let public = matches!(item_use.vis, syn::Visibility::Public(_));
                self.use_tree(&mut Vec::new(), &item_use.tree, public);
            }
            _ => syn::visit::visit_item(self, item),
        }
    }

    fn visit_impl_item_fn(&mut self, function: &'ast syn::ImplItemFn) {
        if !is_test_only(&function.attrs) {
            syn::visit::visit_impl_item_fn(self, function);
        }
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        let segments: Vec<String> = path
            .segments
            .iter()
            .map(|segment| segment.ident.to_string())
            .collect();
        if let Some(first) = path.segments.first() {
            self.name(&segments, first.ident.span().start().line);
        }
        syn::visit::visit_path(self, path);
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        self.tokens(mac.tokens.clone());
        syn::visit::visit_macro(self, mac);
    }
}

/// The check on made-up crates: it must catch what it is for.
mod the_check {
    use super::*;

    const DIAGRAM: &str = "# A crate\n\n### Layers of piraeus-core\n\n```\n\
        high          : uses the others\n\
        middle  peer  : in between\n\
        low           : the bottom\n\
        ```\n";

    /// A crate under a temporary src/ with these files (path, text).
    fn crate_of(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (path, text) in files {
            let path = dir.path().join(path);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, text).unwrap();
        }
        dir
    }

    const LIB: &str =
        "pub mod high;\npub mod middle;\npub mod peer;\npub mod low;\npub use low::Thing;\n";

    #[test]
    fn edges_that_point_down_pass() {
        let dir = crate_of(&[
            ("lib.rs", LIB),
            (
                "high.rs",
                "use crate::middle::M;\nfn f() { crate::low::g(); }\n",
            ),
            (
                "middle.rs",
                "use crate::{low::{self, Thing}};\npub struct M;\n",
            ),
            ("peer.rs", "fn f() -> crate::Thing { todo!() }\n"),
            ("low.rs", "pub struct Thing;\npub fn g() {}\n"),
        ]);
        assert_eq!(check(dir.path(), DIAGRAM), Vec::<String>::new());
    }

    #[test]
    fn a_planted_upward_import_fails_naming_file_line_and_edge() {
        let dir = crate_of(&[
            ("lib.rs", LIB),
            ("high.rs", "pub struct H;\n"),
            ("middle.rs", "pub struct M;\n"),
            ("peer.rs", "\n"),
            ("low.rs", "pub struct Thing;\n\nuse crate::high::H;\n"),
        ]);
        assert_eq!(
            check(dir.path(), DIAGRAM),
            ["src/low.rs:3: low uses crate::high::H (high), which is above it"]
        );
    }

    #[test]
    fn upward_paths_in_code_macros_and_through_super_are_found() {
        let dir = crate_of(&[
            ("lib.rs", LIB),
            ("high.rs", "pub fn h() {}\n"),
            ("middle.rs", "pub struct M;\n"),
            (
                "peer.rs",
                "fn f() { let _ = format!(\"{:?}\", crate::middle::M); }\n",
            ),
            ("low/mod.rs", "mod inner;\n"),
            (
                "low/inner.rs",
                "fn f() {\n    super::super::high::h();\n}\n",
            ),
        ]);
        assert_eq!(
            check(dir.path(), DIAGRAM),
            [
                "src/low/inner.rs:2: low uses super::super::high::h (high), which is above it",
                "src/peer.rs:1: peer uses crate::middle::M (middle), which is on its own layer",
            ]
        );
    }

    #[test]
    fn a_cycle_between_the_files_of_a_folder_fails() {
        let dir = crate_of(&[
            ("lib.rs", LIB),
            ("high.rs", "\n"),
            ("middle.rs", "\n"),
            ("peer.rs", "\n"),
            ("low/mod.rs", "mod a;\nmod b;\npub struct Face;\n"),
            (
                "low/a.rs",
                "use super::b::B;\nuse super::Face;\npub struct A;\n",
            ),
            (
                "low/b.rs",
                "pub struct B;\nfn f() { let _ = crate::low::a::A; }\n",
            ),
        ]);
        assert_eq!(
            check(dir.path(), DIAGRAM),
            ["the files of low/ form a cycle: a -> b -> a \
                 (a.rs:1 uses super::b::B; b.rs:2 uses crate::low::a::A)"]
        );
    }

    #[test]
    fn test_code_is_exempt_and_every_module_must_be_drawn() {
        let dir = crate_of(&[
            ("lib.rs", "pub mod high;\npub mod low;\npub mod stray;\n"),
            ("high.rs", "\n"),
            (
                "low.rs",
                "#[cfg(test)]\nmod tests {\n    use crate::high;\n}\n",
            ),
            ("stray.rs", "\n"),
        ]);
        assert_eq!(
            check(dir.path(), DIAGRAM),
            [
                "module stray is not in the diagram of docs/architecture.md",
                "the diagram names middle, which is not a module of the crate",
                "the diagram names peer, which is not a module of the crate",
            ]
        );
    }
}
