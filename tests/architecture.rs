//! The shape of the code (issue 15): the stages depend one way, no module folder has a
//! cycle between its files, and no source file outside `src/site/` grows past 800
//! lines.
//!
//! The dependency graph is read from the source text by a small parser of its own (no
//! extra tool to install): every path that starts with `crate::`, `super::` or `self::`
//! (in `use` declarations, `use` groups and expressions alike) and every path that starts
//! with a child module's name is resolved to the module it names, taking inline modules
//! (`mod tests { … }`), `#[path]` attributes and a parent's `pub use` re-exports into
//! account. Comments and string literals are ignored, so doc links do not count.
//! Tests count too: a test of a lower stage that reaches into a higher one is a cycle
//! like any other.
//!
//! For every module folder (the crate root included) the edges between its direct
//! children form one graph; each strongly connected component of more than one module
//! is a cycle and fails the test.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

/// Folders whose inner cycles are tolerated, each with its reason: none. (`src/site/`
/// was the last: its shared helpers moved to the leaf `site::text`.) An entry added
/// here must say why, and the test prints every tolerated cycle.
const CYCLES_ALLOWED_IN: &[(&str, &str)] = &[];

/// Files exempt from the line limit, by prefix: none.
const LENGTH_EXEMPT: &[&str] = &[];

/// The longest a source file may be.
const MAX_LINES: usize = 800;

type ModPath = Vec<String>;

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file under `dir`, sorted.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read src/") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// The source with comments, strings and character literals blanked out (same length,
/// newlines kept), so that braces and paths can be read without a full Rust parser.
fn blank(text: &str) -> String {
    let b: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let push_blank = |out: &mut String, c: char| out.push(if c == '\n' { '\n' } else { ' ' });
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < b.len() && b[i] != '\n' {
                push_blank(&mut out, b[i]);
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < b.len() {
                if b[i] == '/' && b.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if b[i] == '*' && b.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    push_blank(&mut out, b[i]);
                    i += 1;
                }
            }
        } else if (c == 'r' || (c == 'b' && next == Some('r')))
            && !b
                .get(i.wrapping_sub(1))
                .is_some_and(|p| p.is_alphanumeric() || *p == '_')
            && {
                let s = if c == 'b' { i + 2 } else { i + 1 };
                let mut j = s;
                while b.get(j) == Some(&'#') {
                    j += 1;
                }
                b.get(j) == Some(&'"')
            }
        {
            // Raw string: r"…", r#"…"#, br"…".
            let start = if c == 'b' { i + 2 } else { i + 1 };
            let mut j = start;
            while b.get(j) == Some(&'#') {
                j += 1;
            }
            let hashes = j - start;
            for &ch in &b[i..=j] {
                push_blank(&mut out, ch);
            }
            i = j + 1;
            while i < b.len() {
                if b[i] == '"' && (0..hashes).all(|h| b.get(i + 1 + h) == Some(&'#')) {
                    for _ in 0..=hashes {
                        out.push(' ');
                    }
                    i += 1 + hashes;
                    break;
                }
                push_blank(&mut out, b[i]);
                i += 1;
            }
        } else if c == '"' {
            out.push(' ');
            i += 1;
            while i < b.len() {
                if b[i] == '\\' {
                    push_blank(&mut out, b[i]);
                    if let Some(&e) = b.get(i + 1) {
                        push_blank(&mut out, e);
                    }
                    i += 2;
                } else if b[i] == '"' {
                    out.push(' ');
                    i += 1;
                    break;
                } else {
                    push_blank(&mut out, b[i]);
                    i += 1;
                }
            }
        } else if c == '\'' {
            // A character literal ('x', '\n', '\u{..}') or a lifetime ('a).
            let close = if next == Some('\\') {
                (i + 2..b.len().min(i + 12)).find(|&k| b[k] == '\'')
            } else if b.get(i + 2) == Some(&'\'') {
                Some(i + 2)
            } else {
                None
            };
            match close {
                Some(k) => {
                    for _ in i..=k {
                        out.push(' ');
                    }
                    i = k + 1;
                }
                None => {
                    out.push(c);
                    i += 1;
                }
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// A token of the blanked source: an identifier, `::`, or one punctuation character.
#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Colons,
    Punct(char),
}

fn tokens(text: &str) -> Vec<Tok> {
    let b: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_alphabetic() || c == '_' {
            let s = i;
            while i < b.len() && (b[i].is_alphanumeric() || b[i] == '_') {
                i += 1;
            }
            out.push(Tok::Ident(b[s..i].iter().collect()));
        } else if c.is_ascii_digit() {
            while i < b.len() && (b[i].is_alphanumeric() || b[i] == '_' || b[i] == '.') {
                i += 1;
            }
        } else if c == ':' && b.get(i + 1) == Some(&':') {
            out.push(Tok::Colons);
            i += 2;
        } else {
            if !c.is_whitespace() {
                out.push(Tok::Punct(c));
            }
            i += 1;
        }
    }
    out
}

/// Reads a path tree starting at `toks[i]` (after a prefix): `a::b::{c, d::e}`.
/// Returns the expanded paths (relative to the prefix) and the index after the tree.
fn path_tree(toks: &[Tok], mut i: usize) -> (Vec<Vec<String>>, usize) {
    let mut segs = Vec::new();
    loop {
        match toks.get(i) {
            Some(Tok::Ident(s)) => {
                segs.push(s.clone());
                i += 1;
                if toks.get(i) == Some(&Tok::Colons) {
                    i += 1;
                    continue;
                }
                return (vec![segs], i);
            }
            Some(Tok::Punct('{')) => {
                i += 1;
                let mut all = Vec::new();
                loop {
                    match toks.get(i) {
                        Some(Tok::Punct('}')) => {
                            i += 1;
                            break;
                        }
                        Some(Tok::Punct(',')) => i += 1,
                        None => break,
                        _ => {
                            let (subs, j) = path_tree(toks, i);
                            if j == i {
                                i += 1;
                            } else {
                                i = j;
                            }
                            for s in subs {
                                let mut p = segs.clone();
                                p.extend(s);
                                all.push(p);
                            }
                        }
                    }
                }
                if all.is_empty() {
                    all.push(segs);
                }
                return (all, i);
            }
            _ => return (vec![segs], i),
        }
    }
}

/// One source file: its module path and the module paths of its inline modules, with
/// every path it names, resolved to absolute segments (unresolved items included).
struct Parsed {
    /// (module the reference is written in, absolute path named).
    refs: Vec<(ModPath, ModPath)>,
    /// Inline modules declared in the file (absolute paths).
    inline_mods: Vec<ModPath>,
    /// `pub use` re-exports at the file's top level: item name → absolute path.
    reexports: Vec<(String, ModPath)>,
}

/// Parses one file whose module path is `module`; `children_of` knows the child
/// modules of every module (for bare paths that start with a child's name).
fn parse(
    text: &str,
    module: &ModPath,
    children_of: &dyn Fn(&ModPath) -> BTreeSet<String>,
) -> Parsed {
    let toks = tokens(&blank(text));
    let mut refs = Vec::new();
    let mut inline_mods = Vec::new();
    let mut reexports = Vec::new();
    // Stack of (module path, brace depth at which it closes).
    let mut stack: Vec<(ModPath, usize)> = vec![(module.clone(), usize::MAX)];
    let mut depth = 0usize;
    let mut i = 0;
    while i < toks.len() {
        let here = stack.last().map(|s| s.0.clone()).unwrap_or_default();
        match &toks[i] {
            Tok::Punct('{') => {
                depth += 1;
                i += 1;
            }
            Tok::Punct('}') => {
                if stack.last().is_some_and(|s| s.1 == depth) {
                    stack.pop();
                }
                depth = depth.saturating_sub(1);
                i += 1;
            }
            Tok::Ident(kw) if kw == "mod" => {
                if let (Some(Tok::Ident(name)), Some(Tok::Punct('{'))) =
                    (toks.get(i + 1), toks.get(i + 2))
                {
                    let mut p = here.clone();
                    p.push(name.clone());
                    inline_mods.push(p.clone());
                    depth += 1;
                    stack.push((p, depth));
                    i += 3;
                } else {
                    i += 1;
                }
            }
            Tok::Ident(kw) if kw == "use" => {
                let is_pub = i > 0
                    && (toks[i - 1] == Tok::Ident("pub".into())
                        || (toks[i - 1] == Tok::Punct(')')
                            && i >= 4
                            && toks[i - 4] == Tok::Ident("pub".into())));
                let (paths, j) = path_tree(&toks, i + 1);
                for p in paths {
                    if let Some(abs) = resolve(&p, &here, children_of, true) {
                        if is_pub && depth == 0 {
                            // `pub use x::Item as Other` is rare here; the last segment names it.
                            if let Some(last) = p.last() {
                                reexports.push((last.clone(), abs.clone()));
                            }
                        }
                        refs.push((here.clone(), abs));
                    }
                }
                i = j.max(i + 1);
            }
            Tok::Ident(first) => {
                // An expression or type path: only where it is the start of a path.
                let after_colons = i > 0 && toks[i - 1] == Tok::Colons;
                if !after_colons && toks.get(i + 1) == Some(&Tok::Colons) {
                    let (paths, j) = path_tree(&toks, i);
                    for p in paths {
                        if let Some(abs) = resolve(&p, &here, children_of, false) {
                            refs.push((here.clone(), abs));
                        }
                    }
                    i = j.max(i + 1);
                } else {
                    let _ = first;
                    i += 1;
                }
            }
            _ => i += 1,
        }
    }
    Parsed {
        refs,
        inline_mods,
        reexports,
    }
}

/// The absolute path that `path`, written in module `here`, names; None for paths into
/// other crates or the standard library.
fn resolve(
    path: &[String],
    here: &ModPath,
    children_of: &dyn Fn(&ModPath) -> BTreeSet<String>,
    in_use: bool,
) -> Option<ModPath> {
    let first = path.first()?;
    let mut base = here.clone();
    let mut rest = path;
    match first.as_str() {
        "crate" => {
            base.clear();
            rest = &path[1..];
        }
        "self" => rest = &path[1..],
        "super" => {
            let mut k = 0;
            while path.get(k).is_some_and(|s| s == "super") {
                base.pop()?;
                k += 1;
            }
            rest = &path[k..];
        }
        name => {
            // A bare path is ours when it starts with a child module of `here` (paths of
            // `use` declarations and expressions alike, since edition 2018).
            let _ = in_use;
            if !children_of(here).contains(name) {
                return None;
            }
        }
    }
    base.extend(rest.iter().cloned());
    Some(base)
}

/// The module path of a file (`src/a/b.rs` → a::b, `src/a/mod.rs` → a).
fn module_of(rel: &Path) -> ModPath {
    let mut parts: Vec<String> = rel
        .iter()
        .map(|s| s.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
        parts.pop();
    }
    parts
}

/// `#[path = "x.rs"] mod name;` declarations: file (relative to src/) → module path.
fn path_attributes(files: &[(PathBuf, ModPath, String)]) -> HashMap<PathBuf, ModPath> {
    let mut out = HashMap::new();
    for (rel, module, text) in files {
        let mut rest = text.as_str();
        while let Some(at) = rest.find("#[path = \"") {
            let after = &rest[at + 10..];
            let Some(end) = after.find('"') else { break };
            let target = &after[..end];
            let tail = after[end..].trim_start_matches(['"', ']']).trim_start();
            let name = tail
                .strip_prefix("mod ")
                .and_then(|t| t.split(|c: char| !c.is_alphanumeric() && c != '_').next());
            if let Some(name) = name {
                let dir = rel.parent().unwrap_or(Path::new(""));
                let mut m = module.clone();
                m.push(name.to_string());
                out.insert(dir.join(target), m);
            }
            rest = after;
        }
    }
    out
}

struct Graph {
    /// Folder (module with children) → edges between its direct children.
    by_folder: BTreeMap<ModPath, BTreeMap<String, BTreeSet<String>>>,
    /// Where each edge comes from (first occurrence), for the failure message.
    witness: HashMap<(ModPath, String, String), String>,
}

fn graph() -> Graph {
    let root = src();
    let mut files: Vec<(PathBuf, ModPath, String)> = rust_files(&root)
        .into_iter()
        .filter(|p| !p.ends_with("main.rs"))
        .map(|p| {
            let rel = p.strip_prefix(&root).expect("under src").to_path_buf();
            let text = std::fs::read_to_string(&p).expect("read source");
            (rel.clone(), module_of(&rel), text)
        })
        .collect();
    let renamed = path_attributes(&files);
    for (rel, module, _) in &mut files {
        if let Some(m) = renamed.get(rel) {
            *module = m.clone();
        }
    }
    // Children of every module, from the files first, then from inline modules.
    let mut children: BTreeMap<ModPath, BTreeSet<String>> = BTreeMap::new();
    for (_, module, _) in &files {
        if let Some((last, parent)) = module.split_last() {
            children
                .entry(parent.to_vec())
                .or_default()
                .insert(last.clone());
        }
    }
    let no_children = |_: &ModPath| BTreeSet::new();
    for (_, module, text) in &files {
        for m in parse(text, module, &no_children).inline_mods {
            if let Some((last, parent)) = m.split_last() {
                children
                    .entry(parent.to_vec())
                    .or_default()
                    .insert(last.clone());
            }
        }
    }
    let children_of = |m: &ModPath| children.get(m).cloned().unwrap_or_default();
    let parsed: Vec<(PathBuf, Parsed)> = files
        .iter()
        .map(|(rel, module, text)| (rel.clone(), parse(text, module, &children_of)))
        .collect();
    // Re-exports of each module: item → the child it comes from.
    let mut reexports: HashMap<ModPath, HashMap<String, ModPath>> = HashMap::new();
    for ((_, module, _), (_, p)) in files.iter().zip(&parsed) {
        for (item, abs) in &p.reexports {
            reexports
                .entry(module.clone())
                .or_default()
                .insert(item.clone(), abs.clone());
        }
    }
    let mut g = Graph {
        by_folder: BTreeMap::new(),
        witness: HashMap::new(),
    };
    for (rel, p) in &parsed {
        for (from, to) in &p.refs {
            let mut to = to.clone();
            // `folder::Item` re-exported from a child: the edge goes to that child.
            for _ in 0..4 {
                let Some((last, parent)) = to.split_last() else {
                    break;
                };
                let is_child = children.get(parent).is_some_and(|c| c.contains(last));
                if is_child {
                    break;
                }
                match reexports.get(parent).and_then(|r| r.get(last)) {
                    Some(target) if target != &to => to = target.clone(),
                    _ => break,
                }
            }
            // Every folder that contains both ends sees an edge between its children.
            let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
            let folder: ModPath = from[..common].to_vec();
            let (Some(a), Some(b)) = (from.get(common), to.get(common)) else {
                continue;
            };
            let b_is_module = children.get(&folder).is_some_and(|c| c.contains(b));
            if !b_is_module {
                continue;
            }
            g.by_folder
                .entry(folder.clone())
                .or_default()
                .entry(a.clone())
                .or_default()
                .insert(b.clone());
            g.witness
                .entry((folder, a.clone(), b.clone()))
                .or_insert_with(|| format!("src/{}: {}", rel.display(), to.join("::")));
        }
    }
    g
}

/// Strongly connected components of more than one node (Tarjan).
fn cycles(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct State<'a> {
        edges: &'a BTreeMap<String, BTreeSet<String>>,
        index: HashMap<&'a str, usize>,
        low: HashMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        next: usize,
        out: Vec<Vec<String>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a str) {
        s.index.insert(v, s.next);
        s.low.insert(v, s.next);
        s.next += 1;
        s.stack.push(v);
        s.on_stack.insert(v);
        if let Some(ws) = s.edges.get(v) {
            for w in ws {
                let w = w.as_str();
                if !s.index.contains_key(w) {
                    visit(s, w);
                    let lw = s.low[w];
                    let lv = s.low.get_mut(v).expect("visited");
                    *lv = (*lv).min(lw);
                } else if s.on_stack.contains(w) {
                    let iw = s.index[w];
                    let lv = s.low.get_mut(v).expect("visited");
                    *lv = (*lv).min(iw);
                }
            }
        }
        if s.low[v] == s.index[v] {
            let mut comp = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                comp.push(w.to_string());
                if w == v {
                    break;
                }
            }
            if comp.len() > 1 {
                comp.sort();
                s.out.push(comp);
            }
        }
    }
    let mut s = State {
        edges,
        index: HashMap::new(),
        low: HashMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        next: 0,
        out: Vec::new(),
    };
    let mut nodes: BTreeSet<&str> = edges.keys().map(String::as_str).collect();
    nodes.extend(edges.values().flatten().map(String::as_str));
    for v in nodes {
        if !s.index.contains_key(v) {
            visit(&mut s, v);
        }
    }
    s.out
}

fn describe(g: &Graph, folder: &ModPath, comp: &[String]) -> String {
    let name = if folder.is_empty() {
        "crate".to_string()
    } else {
        folder.join("::")
    };
    let mut lines = vec![format!("cycle in {name}: {}", comp.join(", "))];
    let edges = &g.by_folder[folder];
    for a in comp {
        for b in edges
            .get(a)
            .into_iter()
            .flatten()
            .filter(|b| comp.contains(b))
        {
            let w = &g.witness[&(folder.clone(), a.clone(), b.clone())];
            lines.push(format!("    {a} -> {b}   ({w})"));
        }
    }
    lines.join("\n")
}

#[test]
fn no_cycle_between_top_level_modules_or_inside_a_module_folder() {
    let g = graph();
    let mut failures = Vec::new();
    let mut tolerated = Vec::new();
    for (folder, edges) in &g.by_folder {
        for comp in cycles(edges) {
            let allowed = folder
                .first()
                .is_some_and(|top| CYCLES_ALLOWED_IN.iter().any(|(f, _)| f == top));
            if allowed {
                tolerated.push(describe(&g, folder, &comp));
            } else {
                failures.push(describe(&g, folder, &comp));
            }
        }
    }
    for t in &tolerated {
        eprintln!("tolerated (allow-list): {t}");
    }
    assert!(
        failures.is_empty(),
        "module cycles:\n{}",
        failures.join("\n")
    );
}

#[test]
fn the_parser_sees_known_edges() {
    // A guard against a parser that sees nothing (and so finds no cycle): these
    // dependencies exist and must be found.
    let g = graph();
    let top = &g.by_folder[&Vec::new()];
    for (a, b) in [
        ("pipeline", "site"),
        ("scan", "name"),
        ("classify", "scan"),
        ("site", "classify"),
    ] {
        assert!(
            top.get(a).is_some_and(|e| e.contains(b)),
            "the parser misses {a} -> {b}; edges seen: {top:?}"
        );
    }
}

#[test]
fn cycles_are_found_in_a_hand_made_graph() {
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (a, b) in [("a", "b"), ("b", "c"), ("c", "a"), ("c", "d"), ("d", "e")] {
        edges.entry(a.into()).or_default().insert(b.into());
    }
    assert_eq!(
        cycles(&edges),
        vec![vec!["a".to_string(), "b".into(), "c".into()]]
    );
    let text = "use crate::{a::{b, c}, d};\nmod t { use super::super::x::y; fn f() { let _ = '{'; \"}\"; } }\n";
    let module: ModPath = vec!["m".into(), "n".into()];
    let p = parse(text, &module, &|_| BTreeSet::new());
    let named: Vec<String> = p.refs.iter().map(|(_, t)| t.join("::")).collect();
    assert_eq!(named, ["a::b", "a::c", "d", "m::x::y"]);
    assert_eq!(
        p.inline_mods,
        vec![vec!["m".to_string(), "n".into(), "t".into()]]
    );
}

#[test]
fn no_source_file_outside_the_exemptions_exceeds_800_lines() {
    let root = src();
    let mut long = Vec::new();
    for path in rust_files(&root) {
        let rel = format!(
            "src/{}",
            path.strip_prefix(&root).expect("under src").display()
        );
        if LENGTH_EXEMPT.iter().any(|p| rel.starts_with(p)) {
            continue;
        }
        let lines = std::fs::read_to_string(&path)
            .expect("read source")
            .lines()
            .count();
        if lines > MAX_LINES {
            long.push(format!("{rel}: {lines} lines"));
        }
    }
    assert!(
        long.is_empty(),
        "files over {MAX_LINES} lines:\n{}",
        long.join("\n")
    );
}
