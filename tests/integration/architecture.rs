//! The layers hold: the workspace's crates depend on each other in one order (core, engine,
//! aws, local cloud, binary), `shipit-core` stays pure (no SDK, no async runtime, no HTTP
//! stack, in its manifest or its code), and inside every crate the module graph has no cycle
//! at any depth. The checks read only the manifests and the source, with the module graph
//! built here (no tool outside the repository), so they run everywhere and never skip.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

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

/// The words of a text's code (comments do not count) that `bad` picks: "line N: word".
fn words_matching(text: &str, bad: impl Fn(&str) -> bool) -> Vec<String> {
    let mut found = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let code = line.split("//").next().unwrap_or("");
        for word in code.split(|c: char| !(c.is_alphanumeric() || c == '_')) {
            if bad(word) {
                found.push(format!("line {}: {word}", n + 1));
            }
        }
    }
    found
}

/// A name a pure module must not use: the SDK or another AWS crate, the async runtime, an
/// HTTP stack.
fn impure(word: &str) -> bool {
    word.starts_with("aws_") || ["tokio", "hyper", "hyper_util", "reqwest"].contains(&word)
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The workspace's crates from the bottom layer up: (package name, source folder).
const LAYERS: [(&str, &str); 5] = [
    ("shipit-core", "crates/core"),
    ("shipit-engine", "crates/engine"),
    ("shipit-aws", "crates/aws"),
    ("local-cloud", "crates/local-cloud"),
    ("shipit", "."),
];

/// The names of a manifest's dependencies (normal ones: not dev or build), from its
/// `[dependencies]` table.
fn dependencies(manifest: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut inside = false;
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            inside = line == "[dependencies]";
        } else if inside && !line.is_empty() && !line.starts_with('#') {
            let name = line.split(['=', '.']).next().unwrap_or("").trim();
            names.push(name.to_string());
        }
    }
    names
}

#[test]
fn each_crate_depends_only_on_the_layers_below_it() {
    let members: Vec<&str> = LAYERS.iter().map(|(name, _)| *name).collect();
    let workspace = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
    for (_, dir) in &LAYERS[..4] {
        assert!(
            workspace.contains(&format!("\"{dir}\"")),
            "{dir} is a member of the workspace"
        );
    }
    for (at, (name, dir)) in LAYERS.iter().enumerate() {
        let manifest = std::fs::read_to_string(root().join(dir).join("Cargo.toml")).unwrap();
        assert!(manifest.contains(&format!("name = \"{name}\"")), "{dir}");
        for dep in dependencies(&manifest) {
            if let Some(layer) = members.iter().position(|m| *m == dep) {
                assert!(
                    layer < at,
                    "{name} depends on {dep}, a layer at or above its own"
                );
            }
        }
    }
    let core = std::fs::read_to_string(root().join("crates/core/Cargo.toml")).unwrap();
    let impure: Vec<String> = dependencies(&core)
        .into_iter()
        .filter(|d| {
            d.starts_with("aws-")
                || ["tokio", "hyper", "hyper-util", "reqwest"].contains(&d.as_str())
        })
        .collect();
    assert!(impure.is_empty(), "shipit-core depends on {impure:?}");
}

/// The files of the crates' code (tests aside), by crate folder.
fn code_of(dir: &str) -> Vec<(PathBuf, String)> {
    let mut files = Vec::new();
    rust_files(&root().join(dir).join("src"), &mut files);
    files
        .into_iter()
        .map(|f| {
            let text = std::fs::read_to_string(&f).unwrap();
            (f, text)
        })
        .collect()
}

/// The crates of the SDK (not `aws_lc_rs`, the crypto library rustls uses too).
fn names_the_sdk(word: &str) -> bool {
    [
        "aws_config",
        "aws_sigv4",
        "aws_types",
        "aws_credential_types",
    ]
    .contains(&word)
        || word.starts_with("aws_sdk_")
        || word.starts_with("aws_smithy_")
}

/// Which words of a crate's code (comments aside) satisfy `bad`: "file: line N: word".
fn named(dir: &str, bad: impl Fn(&str) -> bool) -> Vec<String> {
    code_of(dir)
        .into_iter()
        .flat_map(|(f, text)| {
            words_matching(&text, &bad)
                .into_iter()
                .map(move |hit| format!("{}: {hit}", f.display()))
        })
        .collect()
}

#[test]
fn only_the_aws_crate_names_the_sdk_and_only_the_binary_the_local_cloud() {
    for (name, dir) in LAYERS {
        if name != "shipit-aws" {
            let sdk = named(dir, names_the_sdk);
            assert!(sdk.is_empty(), "{name} names the SDK:\n{}", sdk.join("\n"));
        }
        if !["local-cloud", "shipit"].contains(&name) {
            let local = named(dir, |w| w == "local_cloud");
            assert!(
                local.is_empty(),
                "{name} names the local cloud:\n{}",
                local.join("\n")
            );
        }
    }
    assert!(
        !named("crates/aws", names_the_sdk).is_empty(),
        "the reader finds the SDK where it is"
    );
    assert!(names_the_sdk("aws_sdk_s3") && !names_the_sdk("aws_lc_rs"));
}

#[test]
fn the_manifest_reader_finds_normal_dependencies_only() {
    let manifest = "[package]\nname = \"x\"\n[dependencies]\n# why\nserde = \"1\"\nshipit-core.workspace = true\n\n[dev-dependencies]\ntokio = \"1\"\n";
    assert_eq!(dependencies(manifest), ["serde", "shipit-core"]);
}

#[test]
fn the_core_names_no_sdk_runtime_or_http_stack() {
    let files = code_of("crates/core").len();
    assert!(files >= 10, "crates/core has {files} files");
    let bad = named("crates/core", impure);
    assert!(
        bad.is_empty(),
        "impure names in the core:\n{}",
        bad.join("\n")
    );
}

#[test]
fn the_purity_check_finds_what_it_looks_for() {
    assert_eq!(
        words_matching(
            "use aws_sdk_s3::Client;\n// tokio in a comment\nlet x = tokio::spawn(f);",
            impure
        ),
        ["line 1: aws_sdk_s3", "line 3: tokio"]
    );
    assert!(words_matching("let hyperlink = stokio;", impure).is_empty());
}

/// A crate's module graph at one depth: a node is a module (`src/a.rs` and `src/a/` are `a` at
/// depth 1; depth 2 splits folders: `a::b`), an edge A -> B a `crate::B...` path in A's code
/// (a `use`, a grouped `use crate::{...}`, or a path in an expression). Line comments and
/// everything after a file's first `#[cfg(test)]` (unit tests may reach anywhere) are left out,
/// and so are edges between a module and its own ancestors (a folder's `mod.rs` declares them).
struct ModuleGraph {
    edges: BTreeMap<String, BTreeMap<String, BTreeSet<String>>>,
}

impl ModuleGraph {
    fn of(src: &Path, depth: usize) -> ModuleGraph {
        let mut files = Vec::new();
        rust_files(src, &mut files);
        let module = |f: &Path| -> Vec<String> {
            let rel = f.strip_prefix(src).unwrap().with_extension("");
            let mut parts: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if matches!(
                parts.last().map(String::as_str),
                Some("mod" | "lib" | "main")
            ) {
                parts.pop();
            }
            parts
        };
        let known: BTreeSet<Vec<String>> = files.iter().map(|f| module(f)).collect();
        let mut graph = ModuleGraph {
            edges: BTreeMap::new(),
        };
        for f in &files {
            let me = module(f);
            let me = me[..me.len().min(depth)].join("::");
            let text = std::fs::read_to_string(f).unwrap();
            let code: String = text
                .split("#[cfg(test)]")
                .next()
                .unwrap_or("")
                .lines()
                .map(|l| l.split("//").next().unwrap_or(""))
                .collect::<Vec<_>>()
                .join("\n");
            for path in crate_paths(&code) {
                // The longest prefix of the path that is a module of the crate.
                let Some(target) = (1..=path.len())
                    .rev()
                    .map(|n| &path[..n])
                    .find(|p| known.contains(*p))
                else {
                    continue;
                };
                let dest = target[..target.len().min(depth)].join("::");
                let related = dest == me
                    || me.starts_with(&format!("{dest}::"))
                    || dest.starts_with(&format!("{me}::"));
                if !related {
                    let name = path.last().cloned().unwrap_or_default();
                    graph
                        .edges
                        .entry(me.clone())
                        .or_default()
                        .entry(dest)
                        .or_default()
                        .insert(name);
                }
            }
        }
        graph
    }

    /// Every cycle: the strongly connected components of more than one module (Tarjan).
    fn cycles(&self) -> Vec<Vec<String>> {
        struct Walk<'a> {
            graph: &'a ModuleGraph,
            index: BTreeMap<&'a str, usize>,
            low: BTreeMap<&'a str, usize>,
            stack: Vec<&'a str>,
            found: Vec<Vec<String>>,
        }
        impl<'a> Walk<'a> {
            fn visit(&mut self, v: &'a str) {
                let n = self.index.len();
                self.index.insert(v, n);
                self.low.insert(v, n);
                self.stack.push(v);
                for w in self.graph.edges.get(v).into_iter().flat_map(|e| e.keys()) {
                    let w = w.as_str();
                    if !self.index.contains_key(w) {
                        self.visit(w);
                        let low = self.low[v].min(self.low[w]);
                        self.low.insert(v, low);
                    } else if self.stack.contains(&w) {
                        let low = self.low[v].min(self.index[w]);
                        self.low.insert(v, low);
                    }
                }
                if self.low[v] == self.index[v] {
                    let at = self.stack.iter().rposition(|x| *x == v).unwrap();
                    let mut component: Vec<String> =
                        self.stack.drain(at..).map(str::to_string).collect();
                    component.sort();
                    if component.len() > 1 {
                        self.found.push(component);
                    }
                }
            }
        }
        let mut walk = Walk {
            graph: self,
            index: BTreeMap::new(),
            low: BTreeMap::new(),
            stack: Vec::new(),
            found: Vec::new(),
        };
        let nodes: BTreeSet<&str> = self
            .edges
            .iter()
            .flat_map(|(a, e)| std::iter::once(a.as_str()).chain(e.keys().map(String::as_str)))
            .collect();
        for v in nodes {
            if !walk.index.contains_key(v) {
                walk.visit(v);
            }
        }
        walk.found
    }

    /// A cycle's edges with the names that make them, for the failure message.
    fn explain(&self, cycle: &[String]) -> String {
        let mut out = format!("cycle: {}\n", cycle.join(" <-> "));
        for a in cycle {
            for (b, names) in self.edges.get(a).into_iter().flatten() {
                if cycle.contains(b) {
                    let names: Vec<&str> = names.iter().map(String::as_str).take(6).collect();
                    out.push_str(&format!("  {a} -> {b}: {}\n", names.join(", ")));
                }
            }
        }
        out
    }
}

/// The module paths a text names after `crate::`, grouped imports spread out:
/// `crate::a::b::C` is `[a, b, C]`; `crate::{a::X, b::{c, d}}` is `[a, X]`, `[b, c]`, `[b, d]`.
fn crate_paths(code: &str) -> Vec<Vec<String>> {
    fn ident(s: &str) -> (&str, &str) {
        let end = s
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(s.len());
        s.split_at(end)
    }
    /// A path from `s` on (after `crate::`), into `prefix`; returns the paths it names.
    fn path(s: &str, prefix: Vec<String>, out: &mut Vec<Vec<String>>) {
        let mut parts = prefix;
        let mut rest = s.trim_start();
        loop {
            if let Some(group) = rest.strip_prefix('{') {
                let mut level = 0;
                let mut start = 0;
                for (i, c) in group.char_indices() {
                    match c {
                        '{' => level += 1,
                        '}' if level == 0 => {
                            path(&group[start..i], parts.clone(), out);
                            return;
                        }
                        '}' => level -= 1,
                        ',' if level == 0 => {
                            path(&group[start..i], parts.clone(), out);
                            start = i + 1;
                        }
                        _ => {}
                    }
                }
                return;
            }
            let (name, after) = ident(rest);
            if name.is_empty() {
                break;
            }
            if name != "self" {
                parts.push(name.to_string());
            }
            match after.trim_start().strip_prefix("::") {
                Some(next) => rest = next.trim_start(),
                None => break,
            }
        }
        if !parts.is_empty() {
            out.push(parts);
        }
    }
    let mut out = Vec::new();
    for (at, _) in code.match_indices("crate::") {
        let before = code[..at].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue; // `shipit_crate::`, not ours
        }
        path(&code[at + "crate::".len()..], Vec::new(), &mut out);
    }
    out
}

#[test]
fn the_module_graph_has_no_cycle_at_any_depth() {
    // In every crate: its folders (depth 1), the modules inside them (depth 2), and theirs
    // (depth 3).
    for depth in 1..=3 {
        let mut edges = 0;
        for (name, dir) in LAYERS {
            let graph = ModuleGraph::of(&root().join(dir).join("src"), depth);
            edges += graph.edges.values().map(BTreeMap::len).sum::<usize>();
            let cycles = graph.cycles();
            assert!(
                cycles.is_empty(),
                "{name}, depth {depth}:\n{}",
                cycles.iter().map(|c| graph.explain(c)).collect::<String>()
            );
        }
        assert!(
            edges >= 30,
            "depth {depth}: only {edges} edges: the reader finds nothing"
        );
    }
}

#[test]
fn the_module_check_finds_what_it_looks_for() {
    assert_eq!(
        crate_paths("use crate::a::b::C;\nlet x = crate::d::f(1);\nuse crate::{e::X, g::{h, i::J}};\nmy_crate::z"),
        [
            vec!["a", "b", "C"],
            vec!["d", "f"],
            vec!["e", "X"],
            vec!["g", "h"],
            vec!["g", "i", "J"],
        ]
    );
    // A crate of three folders where `b` and `c` use each other, and `a` uses both.
    let dir = tempfile::tempdir().unwrap();
    let write = |rel: &str, text: &str| {
        let p = dir.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    write("lib.rs", "pub mod a; pub mod b; pub mod c;");
    write("a/mod.rs", "use crate::b::x; use crate::c::y;");
    write("b/mod.rs", "pub mod inner; use super::*;");
    write(
        "b/inner.rs",
        "use crate::c::Thing; // crate::a::never (a comment)",
    );
    write(
        "c.rs",
        "use crate::{b::inner::Other};\n#[cfg(test)]\nuse crate::a::only_in_tests;",
    );
    let graph = ModuleGraph::of(dir.path(), 1);
    assert_eq!(graph.cycles(), [vec!["b".to_string(), "c".to_string()]]);
    assert!(graph.explain(&graph.cycles()[0]).contains("b -> c: Thing"));
    assert!(
        !graph.edges.get("c").is_some_and(|e| e.contains_key("a")),
        "after #[cfg(test)], nothing counts"
    );
    // At depth 2 the cycle is between the modules that make it.
    let deeper = ModuleGraph::of(dir.path(), 2);
    assert_eq!(
        deeper.cycles(),
        [vec!["b::inner".to_string(), "c".to_string()]]
    );
}
