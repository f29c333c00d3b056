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

/// Removes comments and string literals, which may mention paths that are not imports.
fn code_only(text: &str) -> String {
    let strings = regex::Regex::new(r##"(?s)r#*".*?"#*|"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])'"##).unwrap();
    let comments = regex::Regex::new(r"(?m)//.*$").unwrap();
    let no_comments = comments.replace_all(text, "");
    strings.replace_all(&no_comments, "\"\"").into_owned()
}

/// Every path of a `use` tree, flattened: `crate::{a, b::{c, d}}` → `crate::a`,
/// `crate::b::c`, `crate::b::d`.
fn flatten_use(tree: &str) -> Vec<String> {
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
    let mut edges = Vec::new();
    for file in &files {
        let me = module_of(src, file);
        let text = std::fs::read_to_string(file).unwrap();
        for target in references(&me, &text) {
            // The longest known module the path starts with; an item of the root (such as
            // `crate::App`) belongs to the module the root re-exports it from.
            let known = (0..=target.len()).rev().map(|n| target[..n].to_vec()).find(|p| modules.contains(p));
            let mut known = known.unwrap_or_default();
            if known.is_empty()
                && let Some(item) = target.first()
                && let Some(owner) = root_reexport(src, item)
            {
                known = vec![owner];
            }
            edges.push((me.clone(), known));
        }
    }
    (modules, edges)
}

/// The module the crate root re-exports `item` from (`pub use app::App;` → `app`).
fn root_reexport(src: &Path, item: &str) -> Option<String> {
    let lib = std::fs::read_to_string(src.join("lib.rs")).ok()?;
    let uses = regex::Regex::new(r"(?s)\bpub\s+use\s+([^;]+);").unwrap();
    uses.captures_iter(&code_only(&lib))
        .flat_map(|c| flatten_use(&c[1]))
        .find(|p| p.rsplit("::").next() == Some(item))
        .and_then(|p| p.split("::").next().map(str::to_string))
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
    std::fs::write(src.join("desk/b.rs"), "use crate::{Store, desk::{a::A}};\nfn f() { let s = \"crate::x\"; }\n")
        .unwrap();
    std::fs::write(src.join("store.rs"), "pub struct Store;\n").unwrap();
    let (_, edges) = module_graph(src);
    let desk = level(&["desk".to_string()], &edges);
    assert_eq!(cycle(&desk), Some(vec!["a".to_string(), "b".to_string(), "a".to_string()]));
    let top = level(&[], &edges);
    assert_eq!(top.get("desk").cloned().unwrap_or_default(), BTreeSet::from(["store".to_string()]));
    assert!(cycle(&top).is_none(), "{top:?}");
}
