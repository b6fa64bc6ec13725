//! The module graph follows the layers `ARCHITECTURE.md` draws: a module uses only modules on
//! the layers below its own, so there is no import cycle and `config` imports no component. The
//! layers are read from the document itself, so the map and the code cannot drift apart.
//!
//! What it reads: every `crate::name` path in `src/` (and `lookout::name` in the binary), outside
//! comments, attributed to the top-level module of the file it is in.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The layers, top first: each a set of module names.
fn layers() -> Vec<BTreeSet<String>> {
    let text = std::fs::read_to_string(repo().join("ARCHITECTURE.md")).unwrap();
    let section = text
        .split("\n## Layers\n")
        .nth(1)
        .expect("ARCHITECTURE.md has a `## Layers` section");
    let block = section
        .split("```text\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("the Layers section draws its layers in a ```text block");
    block
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let names = l.split(" — ").next().unwrap();
            names
                .split(',')
                .map(|n| n.trim().to_owned())
                .filter(|n| !n.is_empty())
                .collect()
        })
        .collect()
}

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

/// Which top-level module a file of `src/` belongs to (`src/rules/fire.rs` → `rules`).
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_string_lossy();
    first.trim_end_matches(".rs").to_owned()
}

/// The top-level modules a file's code names, outside comments.
fn uses(text: &str, prefixes: &[&str]) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap();
        for prefix in prefixes {
            let mut rest = code;
            while let Some(at) = rest.find(prefix) {
                let before = rest[..at].chars().last();
                rest = &rest[at + prefix.len()..];
                if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                    continue;
                }
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() && name.chars().next().unwrap().is_lowercase() {
                    found.insert(name);
                }
            }
        }
    }
    found
}

/// Edges `module → module it uses`, with one file that shows each.
fn graph() -> BTreeMap<(String, String), PathBuf> {
    let src = repo().join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut edges = BTreeMap::new();
    for file in files {
        let from = module_of(&src, &file);
        let text = std::fs::read_to_string(&file).unwrap();
        for to in uses(&text, &["crate::", "lookout::"]) {
            if to != from && !["VERSION"].contains(&to.as_str()) {
                edges.entry((from.clone(), to)).or_insert(file.clone());
            }
        }
    }
    edges
}

#[test]
fn every_module_uses_only_the_layers_below_its_own() {
    let layers = layers();
    let layer_of = |m: &str| layers.iter().position(|l| l.contains(m));
    let src = repo().join("src");
    let mut modules = BTreeSet::new();
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    for f in &files {
        let m = module_of(&src, f);
        if m != "lib" {
            modules.insert(m);
        }
    }
    let unplaced: Vec<_> = modules.iter().filter(|m| layer_of(m).is_none()).collect();
    assert!(
        unplaced.is_empty(),
        "modules missing from ARCHITECTURE.md's layers: {unplaced:?}"
    );
    let mut upward = Vec::new();
    for ((from, to), file) in graph() {
        let (Some(a), Some(b)) = (layer_of(&from), layer_of(&to)) else {
            continue; // not a module of ours (`crate::` in a doc example, an external crate)
        };
        if b <= a {
            upward.push(format!(
                "{from} uses {to} ({}): {to} is not on a layer below {from}",
                file.strip_prefix(repo()).unwrap().display()
            ));
        }
    }
    assert!(upward.is_empty(), "{}", upward.join("\n"));
}

#[test]
fn the_config_imports_no_component() {
    let allowed = ["config", "vocab", "redact"];
    let offending: Vec<String> = graph()
        .into_iter()
        .filter(|((from, to), _)| from == "config" && !allowed.contains(&to.as_str()))
        .map(|((_, to), file)| format!("{to} ({})", file.display()))
        .collect();
    assert!(offending.is_empty(), "config uses {offending:?}");
}
