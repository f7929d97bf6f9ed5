//! The regression corpus: `scenarios/regressions/` holds shrunk repros of every
//! planted bug (made by `faultline shrink` from the seeds `tests/raft.rs`, `tests/paxos.rs` and
//! `tests/planted_bugs.rs` pin). Each file states what it must give in its
//! `expect` key; with the planted bug switched on it fails exactly so, and with
//! `bugs = []` the same schedule passes — so the file keeps catching the bug, and
//! only the bug.

use crate::common::run_file;
use faultline::runner::RunOptions;
use faultline::scenario::{ExpectedVerdict, ScenarioFile};
use std::path::PathBuf;

/// Every file in `scenarios/regressions/`, sorted.
pub fn regression_files() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios/regressions");
    let mut found: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            path.extension()
                .is_some_and(|extension| extension == "toml")
        })
        .collect();
    found.sort();
    found
}

fn run(file: &ScenarioFile) -> faultline::runner::RunOutcome {
    let seed = file
        .parse::<toml::Value>()
        .unwrap_or_else(|error| panic!("{error}"))
        .seed;
    run_file(file, &RunOptions::seed(seed)).unwrap_or_else(|error| panic!("{error}"))
}

/// The file with its planted bugs switched off.
fn without_bugs(file: &ScenarioFile) -> ScenarioFile {
    let mut table: toml::Table = toml::from_str(&file.text).unwrap();
    let protocol = table["protocol"].as_table_mut().unwrap();
    assert!(
        protocol
            .get("bugs")
            .and_then(|bugs| bugs.as_array())
            .is_some_and(|bugs| !bugs.is_empty()),
        "{}: a regression file switches a planted bug on",
        file.file
    );
    protocol.insert("bugs".into(), toml::Value::Array(Vec::new()));
    ScenarioFile::from_text(&file.file, toml::to_string(&table).unwrap()).unwrap()
}

#[test]
fn every_regression_fails_as_stated_and_passes_without_its_bug() {
    let files = regression_files();
    assert!(files.len() >= 7, "only {} regression files", files.len());
    for path in files {
        let file = ScenarioFile::read(path.to_str().unwrap()).unwrap();
        let expect = file
            .parse::<toml::Value>()
            .unwrap_or_else(|error| panic!("{error}"))
            .expect
            .unwrap_or_else(|| panic!("{}: no `expect` key", file.file));
        assert_eq!(expect.verdict, ExpectedVerdict::Fail, "{}", file.file);
        assert!(expect.checker.is_some(), "{}: name the checker", file.file);
        let outcome = run(&file);
        let first = outcome.summary.violations.first();
        assert!(
            expect.met_by(
                !outcome.passed(),
                first.map(|v| (v.checker.as_str(), v.property.as_str()))
            ),
            "{}: expected {}, got {:?}",
            file.file,
            expect.describe(),
            outcome.summary.violations
        );
        let fixed = run(&without_bugs(&file));
        assert!(
            fixed.passed(),
            "{}: fails without its bug: {:?}",
            file.file,
            fixed.summary.violations
        );
    }
}
