//! Helpers shared by the test modules.

use faultline::runner::observe::Observed;
use faultline::runner::{RunOptions, RunOutcome};
use faultline::scenario::{ScenarioError, ScenarioFile};
use std::path::{Path, PathBuf};

/// Runs one seed of `file` with the shipped protocols.
pub fn run_file(file: &ScenarioFile, options: &RunOptions) -> Result<RunOutcome, ScenarioError> {
    faultline::builtin().run_file(file, options)
}

/// Parses and validates `file` with the shipped protocols.
pub fn validate_file(file: &ScenarioFile) -> Result<(), ScenarioError> {
    faultline::builtin().validate_file(file)
}

/// Runs one seed of `file` watched for charts, with the shipped protocols.
pub fn observe_file(file: &ScenarioFile, options: &RunOptions) -> Result<Observed, ScenarioError> {
    faultline::builtin().observe_file(file, options)
}

/// Every scenario (`.toml` file under `scenarios/`, subdirectories included,
/// except the sweep files in `scenarios/experiments/` and the `pins.toml`
/// files), sorted.
pub fn scenario_files() -> Vec<PathBuf> {
    fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                if path.file_name().is_some_and(|name| name == "experiments") {
                    continue;
                }
                walk(&path, found);
            } else if path
                .extension()
                .is_some_and(|extension| extension == "toml")
                && path
                    .file_name()
                    .is_some_and(|name| name != faultline::runner::registry::PINS)
            {
                found.push(path);
            }
        }
    }
    let mut found = Vec::new();
    walk(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios"),
        &mut found,
    );
    found.sort();
    found
}

/// Runs seeds `1..=seeds` of `file` and returns the failing ones with their first
/// violation's message.
pub fn failing_seeds(file: &faultline::scenario::ScenarioFile, seeds: u64) -> Vec<(u64, String)> {
    (1..=seeds)
        .filter_map(|seed| {
            let outcome = run_file(file, &RunOptions::seed(seed)).expect("scenario is valid");
            (!outcome.passed()).then(|| (seed, outcome.summary.violations[0].message.clone()))
        })
        .collect()
}

/// The shipped scenario `scenarios/{protocol}/{name}`.
pub fn shipped(protocol: &str, name: &str) -> faultline::scenario::ScenarioFile {
    let (path, text) = read_shipped(protocol, name);
    faultline::scenario::ScenarioFile::from_text(&path, text)
        .unwrap_or_else(|error| panic!("{error}"))
}

/// The shipped scenario `scenarios/{protocol}/{name}` with planted `bug` on.
pub fn shipped_with_bug(
    protocol: &str,
    name: &str,
    bug: &str,
) -> faultline::scenario::ScenarioFile {
    let (path, text) = read_shipped(protocol, name);
    let line = format!("name = \"{protocol}\"\n");
    let patched = text.replacen(&line, &format!("{line}bugs = [\"{bug}\"]\n"), 1);
    assert_ne!(patched, text, "{name} has no [protocol] name line to patch");
    faultline::scenario::ScenarioFile::from_text(&path, patched)
        .unwrap_or_else(|error| panic!("{error}"))
}

fn read_shipped(protocol: &str, name: &str) -> (String, String) {
    let path = format!("{}/scenarios/{protocol}/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{path}: {error}"));
    (path, text)
}

/// The first failing seed in `1..=limit`, with its first violation as
/// `checker: message`.
pub fn first_failure(
    file: &faultline::scenario::ScenarioFile,
    limit: u64,
) -> Option<(u64, String)> {
    (1..=limit).find_map(|seed| {
        let outcome = run_file(file, &RunOptions::seed(seed)).expect("scenario is valid");
        (!outcome.passed()).then(|| {
            let violation = &outcome.summary.violations[0];
            (
                seed,
                format!("{}: {}", violation.checker, violation.message),
            )
        })
    })
}

/// Runs the `faultline` binary from the repository root.
pub fn faultline(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_faultline"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .output()
        .expect("the binary runs")
}

/// Standard output then standard error, as text.
pub fn text(output: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// A fresh, empty temporary directory for one test (`area` and `name` keep
/// concurrent tests apart).
pub fn scratch(area: &str, name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("faultline-{area}-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The planted-bug pins of a protocol: for each (bug, scenario, seeds to search,
/// pinned first failing seed, start of the first violation), fuzzing the shipped
/// scenario with the bug on must first fail at the pinned seed, saying that;
/// and the correct protocol must pass the same seeds. Every mismatch is listed
/// at once.
pub fn assert_planted_bugs_pinned(protocol: &str, bugs: &[(&str, &str, u64, u64, &str)]) {
    let mut changed = Vec::new();
    for &(bug, name, limit, pinned, words) in bugs {
        let found = first_failure(&shipped_with_bug(protocol, name, bug), limit);
        let Some((seed, message)) = found else {
            changed.push(format!("{bug}: no failure in seeds 1..={limit} of {name}"));
            continue;
        };
        if seed != pinned || !message.contains(words) {
            changed.push(format!(
                "{bug} on {name}: first failing seed {seed}: {message}"
            ));
            continue;
        }
        let fixed = failing_seeds(&shipped(protocol, name), seed.max(10));
        assert!(
            fixed.is_empty(),
            "{bug}: the fixed protocol fails {name}: {fixed:?}"
        );
    }
    assert!(changed.is_empty(), "changed: {changed:#?}");
}

/// `relative` inside the `shared` directory that holds the reference data (the
/// Porcupine/Jepsen histories): `$FAULTLINE_SHARED` when set, else `shared` next to
/// this checkout. Panics, naming the absolute path expected, when it is missing:
/// a test that needs the data must not pass without it.
pub fn shared_data(relative: &str) -> PathBuf {
    match std::env::var_os("FAULTLINE_SHARED").filter(|dir| !dir.is_empty()) {
        Some(dir) => shared_data_in(
            &std::path::absolute(&dir).expect("FAULTLINE_SHARED is a path"),
            "FAULTLINE_SHARED",
            relative,
        ),
        None => shared_data_in(
            &Path::new(env!("CARGO_MANIFEST_DIR"))
                .parent()
                .expect("the checkout has a parent directory")
                .join("shared"),
            "the default, next to the checkout",
            relative,
        ),
    }
}

/// [`shared_data`] with the `shared` directory given, and where it came from.
pub fn shared_data_in(shared: &Path, from: &str, relative: &str) -> PathBuf {
    let path = shared.join(relative);
    assert!(
        path.exists(),
        "reference data missing: expected {} (the shared directory {} is {from}; set \
         FAULTLINE_SHARED to the `shared` directory holding data/histories)",
        path.display(),
        shared.display()
    );
    path
}
