//! Tidy: the determinism rules, enforced by grepping the source. Code in `sim`,
//! `protocols`, `check` and `workload` must not reach for hash-map iteration order,
//! the wall clock, unseeded randomness, threads or the environment.

use std::path::{Path, PathBuf};

const FORBIDDEN: [(&str, &str); 7] = [
    (
        "HashMap",
        "iteration order varies between runs; use BTreeMap or a Vec indexed by id",
    ),
    (
        "HashSet",
        "iteration order varies between runs; use BTreeSet",
    ),
    (
        "Instant::now",
        "the wall clock; use ctx.now() (virtual time)",
    ),
    ("SystemTime", "the wall clock; use ctx.now() (virtual time)"),
    (
        "thread_rng",
        "unseeded randomness; use ctx.rng() or a named stream",
    ),
    ("std::thread", "threads break single-threaded determinism"),
    ("std::env", "the environment differs between machines"),
];

const GUARDED: [&str; 5] = [
    "src/sim",
    "src/spec",
    "src/protocols",
    "src/check",
    "src/workload",
];

/// Code lines (comments stripped) that use a forbidden name, as `path:line: name`.
fn violations_in(path: &str, text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let code = line.split("//").next().unwrap_or("");
        for (name, why) in FORBIDDEN {
            if code.contains(name) {
                found.push(format!("{path}:{}: {name} ({why})", index + 1));
            }
        }
    }
    found
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|extension| extension == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn deterministic_layers_use_no_forbidden_names() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in GUARDED {
        rust_files(&root.join(dir), &mut files);
    }
    assert!(
        files.len() >= 10,
        "the tidy check found too few files to be looking in the right place"
    );
    let mut violations = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let shown = file
            .strip_prefix(root)
            .unwrap_or(file)
            .display()
            .to_string();
        violations.extend(violations_in(&shown, &text));
    }
    assert!(
        violations.is_empty(),
        "determinism rules broken:\n{}",
        violations.join("\n")
    );
}

#[test]
fn the_scanner_flags_code_but_not_comments() {
    let text = "use std::collections::HashMap; // fine here?\n// Instant::now in a comment is fine\nlet t = std::time::SystemTime::now();\n";
    let found = violations_in("x.rs", text);
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found[0].starts_with("x.rs:1: HashMap"));
    assert!(found[1].starts_with("x.rs:3: SystemTime"));
}
