//! The shape of the code: no import cycles, between the top-level modules (`desk`, `store`,
//! `outbound` …) nor between the modules inside one of them (`desk::lifecycle`,
//! `desk::notify` …). A cycle is where a layer stops being one: whatever sits on it can no
//! longer be understood, tested or moved on its own.
//!
//! The test reads `src/` as text: every `crate::…` and `super::…` path, in `use`
//! declarations (groups included) and in code, names the module it reaches. A parent module
//! (`desk/mod.rs`) is left out of the graph among its children: it declares and re-exports
//! them, and they use the small types it keeps for all of them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A module path such as `["desk", "notify"]`.
type ModPath = Vec<String>;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module a file defines: `src/desk/mod.rs` → `desk`, `src/desk/intake/bounded.rs` →
/// `desk::intake::bounded`, `src/lib.rs` → the root.
fn module_of(src: &Path, file: &Path) -> ModPath {
    let relative = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: ModPath = relative.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib" | "main")) {
        parts.pop();
    }
    parts
}

/// The code of `text` with every comment and every string or character literal blanked
/// out (a path in a doc comment or a URL in a string is no import), in one pass so that
/// each hides the other as the compiler sees them; line breaks are kept.
fn code_only(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    let mut i = 0;
    while i < chars.len() {
        let (c, next) = (chars[i], chars.get(i + 1).copied());
        let start = i;
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if c == 'r'
            && matches!(next, Some('"' | '#'))
            && (i == 0 || !(chars[i - 1].is_alphanumeric() || chars[i - 1] == '_'))
            && let Some(quote) = (i + 1..chars.len()).find(|&j| chars[j] != '#')
            && chars[quote] == '"'
        {
            let hashes = quote - i - 1;
            i = quote + 1;
            while i < chars.len() && !(chars[i] == '"' && (1..=hashes).all(|h| chars.get(i + h) == Some(&'#'))) {
                i += 1;
            }
            i += 1 + hashes;
        } else if c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
        } else if c == '\'' && (next == Some('\\') || chars.get(i + 2) == Some(&'\'')) {
            // A character literal ('a', '\n', '\u{..}'); a lifetime ('a) has no closing quote.
            i += 1;
            while i < chars.len() && chars[i] != '\'' {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
        } else {
            out.push(c);
            i += 1;
            continue;
        }
        out.extend(chars[start..i.min(chars.len())].iter().map(|c| blank(*c)));
    }
    out
}

/// Every path of a `use` tree, flattened: `crate::{a, b::{c, d}}` → `crate::a`,
/// `crate::b::c`, `crate::b::d`.
fn flatten_use(tree: &str) -> Vec<String> {
    // `a as b` keeps its alias as `a@b`; other whitespace goes.
    let tree = regex::Regex::new(r"\s+as\s+").unwrap().replace_all(tree, "@");
    let tree: String = tree.chars().filter(|c| !c.is_whitespace()).collect();
    fn walk(prefix: &str, rest: &str, out: &mut Vec<String>) {
        match rest.find('{') {
            None => out.push(format!("{prefix}{rest}")),
            Some(open) => {
                let head = &rest[..open];
                let inner = &rest[open + 1..rest.rfind('}').unwrap_or(rest.len())];
                let mut depth = 0;
                let mut start = 0;
                let mut parts = Vec::new();
                for (i, c) in inner.char_indices() {
                    match c {
                        '{' => depth += 1,
                        '}' => depth -= 1,
                        ',' if depth == 0 => {
                            parts.push(&inner[start..i]);
                            start = i + 1;
                        }
                        _ => {}
                    }
                }
                parts.push(&inner[start..]);
                for part in parts.into_iter().filter(|p| !p.is_empty()) {
                    walk(&format!("{prefix}{head}"), part, out);
                }
            }
        }
    }
    let mut out = Vec::new();
    walk("", &tree, &mut out);
    out
}

/// The modules `file` (module `me`) refers to, as absolute module paths (possibly naming
/// an item at their end, which [`node`] cuts off).
fn references(me: &ModPath, text: &str) -> Vec<ModPath> {
    let code = code_only(text);
    let mut paths: Vec<String> = Vec::new();
    let uses = regex::Regex::new(r"(?s)\buse\s+([^;]+);").unwrap();
    for caps in uses.captures_iter(&code) {
        paths.extend(flatten_use(&caps[1]));
    }
    let inline = regex::Regex::new(r"\b(?:crate|super)(?:::[A-Za-z_][A-Za-z0-9_]*)+").unwrap();
    paths.extend(inline.find_iter(&uses.replace_all(&code, "")).map(|m| m.as_str().to_string()));
    let mut out = Vec::new();
    for path in paths {
        let path = path.split('@').next().unwrap_or_default();
        let segments: Vec<&str> = path.split("::").collect();
        // `super` is the parent of the file's module (`desk` for `desk/a.rs` and for
        // `desk/a/mod.rs` alike).
        let (mut base, mut rest) = match segments.first() {
            Some(&"crate") => (Vec::new(), &segments[1..]),
            Some(&"super") => (me.clone(), &segments[..]),
            _ => continue,
        };
        while rest.first() == Some(&"super") {
            base.pop();
            rest = &rest[1..];
        }
        base.extend(rest.iter().filter(|s| **s != "self" && **s != "*").map(|s| s.to_string()));
        out.push(base);
    }
    out
}

/// Finds a cycle in `graph`, as the list of its nodes.
fn cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(node.to_string(), 1);
        stack.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            match state.get(next.as_str()).copied().unwrap_or(0) {
                1 => {
                    let from = stack.iter().position(|n| n == next).unwrap();
                    let mut found = stack[from..].to_vec();
                    found.push(next.clone());
                    return Some(found);
                }
                0 => {
                    if let Some(found) = visit(next, graph, state, stack) {
                        return Some(found);
                    }
                }
                _ => {}
            }
        }
        stack.pop();
        state.insert(node.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for node in graph.keys() {
        if state.get(node.as_str()).copied().unwrap_or(0) == 0
            && let Some(found) = visit(node, graph, &mut state, &mut Vec::new())
        {
            return Some(found);
        }
    }
    None
}

/// The module graph of `src/`: for each module, the modules it refers to.
fn module_graph(src: &Path) -> (BTreeSet<ModPath>, Vec<(ModPath, ModPath)>) {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let modules: BTreeSet<ModPath> = files.iter().map(|f| module_of(src, f)).collect();
    let texts: Vec<(ModPath, String)> =
        files.iter().map(|f| (module_of(src, f), code_only(&std::fs::read_to_string(f).unwrap()))).collect();
    let reexports = reexports(&modules, &texts);
    let mut edges = Vec::new();
    for (me, code) in &texts {
        for target in references(me, code) {
            edges.push((me.clone(), resolve(&modules, &reexports, &target)));
        }
    }
    (modules, edges)
}

/// For each module, the items it re-exports (`pub use intake::receive;`) and the module
/// each comes from.
fn reexports(modules: &BTreeSet<ModPath>, texts: &[(ModPath, String)]) -> BTreeMap<ModPath, BTreeMap<String, ModPath>> {
    let uses = regex::Regex::new(r"(?s)\bpub(?:\([a-z]+\))?\s+use\s+([^;]+);").unwrap();
    let mut out: BTreeMap<ModPath, BTreeMap<String, ModPath>> = BTreeMap::new();
    for (me, code) in texts {
        for path in uses.captures_iter(code).flat_map(|c| flatten_use(&c[1])) {
            let (path, alias) = match path.split_once('@') {
                Some((p, a)) => (p.to_string(), Some(a.to_string())),
                None => (path, None),
            };
            let segments: Vec<&str> = path.split("::").filter(|s| *s != "self").collect();
            let Some(item) = alias.as_deref().or(segments.last().copied()) else { continue };
            let absolute: ModPath = match segments.first() {
                Some(&"crate") => segments[1..].iter().map(|s| s.to_string()).collect(),
                _ => me.iter().map(String::as_str).chain(segments.iter().copied()).map(str::to_string).collect(),
            };
            let owner = (0..absolute.len()).rev().map(|n| absolute[..n].to_vec()).find(|p| modules.contains(p));
            if let Some(owner) = owner.filter(|o| o != me) {
                out.entry(me.clone()).or_default().insert(item.to_string(), owner);
            }
        }
    }
    out
}

/// The module a path reaches: the longest known module it starts with, or, for an item a
/// module re-exports (`super::receive`, `crate::App`), the module the item comes from. A
/// name that is both a child module and an item its parent re-exports, at the end of a
/// path, is the item (as `use super::receive` in a sibling imports the function).
fn resolve(
    modules: &BTreeSet<ModPath>,
    reexports: &BTreeMap<ModPath, BTreeMap<String, ModPath>>,
    target: &[String],
) -> ModPath {
    let mut known =
        (0..=target.len()).rev().map(|n| target[..n].to_vec()).find(|p| modules.contains(p)).unwrap_or_default();
    if known.len() == target.len()
        && let Some((name, parent)) = known.split_last()
        && let Some(owner) = reexports.get(parent).and_then(|r| r.get(name))
    {
        return owner.clone();
    }
    while let Some(item) = target.get(known.len()) {
        match reexports.get(&known).and_then(|r| r.get(item)) {
            Some(owner) if owner.len() > known.len() => known = owner.clone(),
            _ => break,
        }
    }
    known
}

/// The graph at one level: among the children of `parent` (the top-level modules when it
/// is empty), each module counted as the child it is in.
fn level(parent: &[String], edges: &[(ModPath, ModPath)]) -> BTreeMap<String, BTreeSet<String>> {
    let child = |m: &ModPath| (m.len() > parent.len() && m.starts_with(parent)).then(|| m[parent.len()].clone());
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (from, to) in edges {
        if let (Some(a), Some(b)) = (child(from), child(to))
            && a != b
        {
            graph.entry(a).or_default().insert(b);
        }
    }
    graph
}

#[test]
fn no_module_imports_itself_in_a_circle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let (modules, edges) = module_graph(&src);
    let parents: BTreeSet<ModPath> = std::iter::once(Vec::new())
        .chain(modules.iter().filter(|m| modules.iter().any(|c| c.len() == m.len() + 1 && c.starts_with(m))).cloned())
        .collect();
    let mut found = Vec::new();
    for parent in &parents {
        if let Some(c) = cycle(&level(parent, &edges)) {
            let inside = if parent.is_empty() { "crate".to_string() } else { parent.join("::") };
            found.push(format!("in {inside}: {}", c.join(" -> ")));
        }
    }
    assert!(found.is_empty(), "import cycles:\n{}", found.join("\n"));
}

/// What the layers of DESIGN.md may import, where the design says so: the pure and the
/// shared ones name everything they may use; the others name what they must not.
#[test]
fn each_layer_imports_only_what_the_design_allows() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let (_, edges) = module_graph(&src);
    let top = level(&[], &edges);
    let uses = |m: &str| top.get(m).cloned().unwrap_or_default();
    let only: &[(&str, &[&str])] = &[
        ("domain", &[]),
        ("memory", &[]),
        ("cpu", &[]),
        ("kept", &[]),
        ("inbound", &["domain"]),
        ("kb", &["domain"]),
        ("notice", &["config", "domain"]),
        ("store", &["domain", "notice"]),
    ];
    let never: &[(&str, &[&str])] = &[
        ("desk", &["outbound", "sources", "daemon", "cli", "portal"]),
        ("outbound", &["desk", "sources", "daemon", "cli", "portal"]),
        ("sources", &["outbound", "daemon", "cli", "portal"]),
        ("portal", &["store", "outbound", "sources", "daemon", "cli"]),
    ];
    let mut wrong = Vec::new();
    for (module, allowed) in only {
        wrong.extend(
            uses(module).into_iter().filter(|m| !allowed.contains(&m.as_str())).map(|m| format!("{module} -> {m}")),
        );
    }
    for (module, forbidden) in never {
        wrong.extend(
            uses(module).into_iter().filter(|m| forbidden.contains(&m.as_str())).map(|m| format!("{module} -> {m}")),
        );
    }
    assert!(wrong.is_empty(), "imports across the layers:\n{}", wrong.join("\n"));
    // The reader sees the imports these rules are about.
    assert!(uses("desk").contains("store") && uses("outbound").contains("notice") && uses("app").contains("store"));
}

#[test]
fn the_reader_sees_the_cycles_it_should() {
    // The reader itself, on a small tree: desk::a uses desk::b through `super`, b uses a
    // through `crate::desk`, and a group import hides a third edge.
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path();
    std::fs::create_dir_all(src.join("desk")).unwrap();
    std::fs::write(src.join("lib.rs"), "pub mod desk;\npub mod store;\npub use store::Store;\n").unwrap();
    std::fs::write(src.join("desk/mod.rs"), "mod a;\nmod b;\npub use a::A;\n").unwrap();
    std::fs::write(src.join("desk/a.rs"), "use super::b::B;\n// crate::store is only a comment\n").unwrap();
    std::fs::write(
        src.join("desk/b.rs"),
        "use crate::{Store, desk::{a::A}};\nfn f() { let s = \"http://x\"; let t = r#\"crate::x\"#; }\nuse crate::store::Thing;\n",
    )
    .unwrap();
    std::fs::write(src.join("store.rs"), "pub struct Store;\n").unwrap();
    let (_, edges) = module_graph(src);
    let desk = level(&["desk".to_string()], &edges);
    assert_eq!(cycle(&desk), Some(vec!["a".to_string(), "b".to_string(), "a".to_string()]));
    let top = level(&[], &edges);
    assert_eq!(top.get("desk").cloned().unwrap_or_default(), BTreeSet::from(["store".to_string()]));
    assert!(cycle(&top).is_none(), "{top:?}");
    // A path after a URL in a string still counts; one inside a raw string does not.
    assert!(edges.iter().any(|(from, to)| from == &["desk", "b"] && to == &["store"]), "{edges:?}");
    assert!(!edges.iter().any(|(_, to)| to.first().is_some_and(|m| m == "x")), "{edges:?}");
    // A re-exported item is its own module's: `super::A` from b is a's.
    let reexported = module_graph(src).1;
    std::fs::write(src.join("desk/c.rs"), "use super::A;\n").unwrap();
    let (_, with_c) = module_graph(src);
    assert!(with_c.iter().any(|(from, to)| from == &["desk", "c"] && to == &["desk", "a"]), "{with_c:?}");
    assert!(reexported.len() < with_c.len());
}
