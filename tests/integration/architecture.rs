//! The layers hold: `src/core/` stays pure (no SDK, no async runtime, no HTTP stack) and the
//! module graph has no cycle. The first check needs nothing but the source; the second runs
//! `../shared/tools/modgraph` (beside the repository in CI and in every session) when it is
//! there.

use std::path::{Path, PathBuf};
use std::process::Command;

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

/// The names a pure module must not use, in code (comments do not count).
fn impure_names(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let code = line.split("//").next().unwrap_or("");
        for word in code.split(|c: char| !(c.is_alphanumeric() || c == '_')) {
            if word.starts_with("aws_")
                || ["tokio", "hyper", "hyper_util", "reqwest"].contains(&word)
            {
                found.push(format!("line {}: {word}", n + 1));
            }
        }
    }
    found
}

#[test]
fn the_core_names_no_sdk_runtime_or_http_stack() {
    let core = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/core");
    let mut files = Vec::new();
    rust_files(&core, &mut files);
    assert!(files.len() >= 10, "src/core has {} files", files.len());
    let mut bad = Vec::new();
    for f in &files {
        for hit in impure_names(&std::fs::read_to_string(f).unwrap()) {
            bad.push(format!("{}: {hit}", f.display()));
        }
    }
    assert!(
        bad.is_empty(),
        "impure names in the core:\n{}",
        bad.join("\n")
    );
}

#[test]
fn the_purity_check_finds_what_it_looks_for() {
    assert_eq!(
        impure_names("use aws_sdk_s3::Client;\n// tokio in a comment\nlet x = tokio::spawn(f);"),
        ["line 1: aws_sdk_s3", "line 3: tokio"]
    );
    assert!(impure_names("let hyperlink = stokio;").is_empty());
}

#[test]
fn the_module_graph_has_no_cycle() {
    // The checker lives beside the repository (../shared/tools), as CI lays it out: missing, it
    // is a failure, never a skip that checks nothing.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tool = root.join("../shared/tools/modgraph");
    assert!(
        tool.exists(),
        "{} is not here: the module check cannot run",
        tool.display()
    );
    // Folders (depth 1) and the modules inside them (depth 2): no cycle at either, and a pure core.
    for depth in ["1", "2"] {
        let out = Command::new("python3")
            .arg(&tool)
            .args(["src", "--depth", depth, "--pure", "core"])
            .current_dir(root)
            .output()
            .expect("run modgraph");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "modgraph --depth {depth}:\n{text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(text.contains(" 0 cycle(s)"), "depth {depth}: {text}");
    }
}
