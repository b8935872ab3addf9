//! The dependency rule of README's "Layers": a module uses only modules
//! below it, so there are no cycles. Read from the source, so a new `use`
//! that points up fails here with the line that does it.

use std::path::{Path, PathBuf};

/// The crate's top-level modules, top first. A module may use those after
/// it; modules on one line may not use each other.
const LAYERS: &[&[&str]] = &[
    &["app"],
    &["demo"],
    &["web"],
    &["graphql"],
    &["feed"],
    &["store"],
    &["auth"],
    &["domain"],
    &["config", "clock", "error"],
];

/// The modules of `store`, top first: a write calls down to the writes it
/// is made of, and `mod.rs` (the shared lookups) is at the bottom.
const STORE: &[&[&str]] = &[
    &[
        "registers",
        "controls",
        "severities",
        "heatmaps",
        "history",
        "members",
        "api_keys",
        "risk_import",
        "risk_export",
        "checkpoints",
    ],
    &["risks", "risk_query"],
    &["custom_fields", "rescore"],
    &["events", "risk_tables"],
    &["statistics"],
    &["mod"],
];

fn rank(layers: &[&[&str]], module: &str) -> Option<usize> {
    layers.iter().position(|layer| layer.contains(&module))
}

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("readable src") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The first path segments after each `prefix` on a line: `a` for
/// `prefix a::b`, and `a`, `b` for `prefix {a::x, b}`.
fn targets(line: &str, prefix: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (at, _) in line.match_indices(prefix) {
        let rest = &line[at + prefix.len()..];
        let ident = |s: &str| {
            s.trim()
                .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                .next()
                .unwrap_or_default()
                .to_owned()
        };
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 0;
            let mut item = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => found.push(ident(&std::mem::take(&mut item))),
                    _ => {}
                }
                if c != ',' || depth > 0 {
                    item.push(c);
                }
            }
            found.push(ident(&item));
        } else {
            found.push(ident(rest));
        }
    }
    found.retain(|t| !t.is_empty() && t != "self");
    found
}

/// Every use that points up or sideways: (file:line, from, to).
fn violations() -> Vec<String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let mut found = Vec::new();
    for file in files {
        let relative = file.strip_prefix(&src).expect("under src");
        let parts: Vec<String> = relative
            .with_extension("")
            .iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        let Some(top) = parts
            .first()
            .filter(|t| t.as_str() != "main" && t.as_str() != "lib")
        else {
            continue;
        };
        let text = std::fs::read_to_string(&file).expect("readable source");
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            let place = format!("src/{}:{}", relative.display(), n + 1);
            for to in targets(code, "crate::") {
                let (from_rank, to_rank) = (rank(LAYERS, top), rank(LAYERS, &to));
                if to != *top && !matches!((from_rank, to_rank), (Some(f), Some(t)) if t > f) {
                    found.push(format!("{place}: {top} uses crate::{to}"));
                }
            }
            if top == "store" && parts.len() == 2 {
                for to in targets(code, "super::") {
                    let from = parts[1].as_str();
                    let to_rank = rank(STORE, &to).or_else(|| rank(STORE, "mod"));
                    if !matches!((rank(STORE, from), to_rank), (Some(f), Some(t)) if t > f) {
                        found.push(format!("{place}: store::{from} uses super::{to}"));
                    }
                }
            }
        }
    }
    found
}

#[test]
fn no_module_uses_a_module_above_it() {
    let found = violations();
    assert!(
        found.is_empty(),
        "uses that point up:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_check_sees_grouped_and_nested_uses() {
    assert_eq!(targets("use crate::store::Actor;", "crate::"), ["store"]);
    assert_eq!(
        targets("use super::{events, find, rescore::{a, b}};", "super::"),
        ["events", "find", "rescore"]
    );
    assert_eq!(rank(LAYERS, "web"), Some(2));
}
