//! `faultline shrink`: a planted-bug failure shrinks to a smaller standalone
//! scenario that fails the same checker from the written file, the same bytes
//! every time; a passing seed and an unwritable output are refused cleanly.

use super::common::{faultline, text};
use crate::common::run_file;
use faultline::runner::RunOptions;
use faultline::runner::shrink::{Materialised, ShrinkError, ShrinkOptions, shrink};
use faultline::scenario::ScenarioFile;
use std::path::PathBuf;

fn scratch(name: &str) -> PathBuf {
    super::common::scratch("shrink", name)
}

/// `scenarios/raft/nemesis.toml` with `truncate_on_match` on, written into `dir`.
fn truncate_on_match(dir: &std::path::Path) -> String {
    let original = std::fs::read_to_string(format!(
        "{}/scenarios/raft/nemesis.toml",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let patched = original.replacen(
        "name = \"raft\"\n",
        "name = \"raft\"\nbugs = [\"truncate_on_match\"]\n",
        1,
    );
    assert_ne!(patched, original);
    let path = dir.join("raft_truncate_on_match.toml");
    std::fs::write(&path, patched).unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn a_planted_raft_bug_shrinks_to_a_smaller_scenario_that_fails_the_same_checker() {
    let dir = scratch("raft");
    let input = truncate_on_match(&dir);
    let out = dir.join("shrunk.toml");
    let output = faultline(&[
        "shrink",
        &input,
        "--seed",
        "1",
        "--out",
        out.to_str().unwrap(),
        "--max-runs",
        "200",
    ]);
    let shown = text(&output);
    assert_eq!(output.status.code(), Some(0), "{shown}");
    assert!(shown.contains("faults    9 -> "), "{shown}");
    assert!(shown.contains("same trace hash"), "{shown}");

    // (a) The written file fails the same checker, run as a user would.
    let written = ScenarioFile::read(out.to_str().unwrap()).unwrap();
    assert!(!written.text.contains("[nemesis]"), "{}", written.text);
    assert!(written.text.starts_with("# Shrunk by `faultline shrink`"));
    let outcome = run_file(&written, &RunOptions::seed(1)).unwrap();
    let first = &outcome.summary.violations[0];
    assert_eq!(
        (first.checker.as_str(), first.property.as_str()),
        ("raft", "always")
    );
    assert!(
        first.message.contains("leader completeness"),
        "{}",
        first.message
    );
    let again = faultline(&["run", out.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(1), "{}", text(&again));

    // (b) No more faults than the original schedule, and strictly less of
    // something.
    let file = ScenarioFile::read(&input).unwrap();
    let options = ShrinkOptions {
        max_runs: 200,
        command: String::new(),
    };
    let result = shrink(&faultline::builtin(), &file, 1, true, &options).unwrap();
    assert_eq!(
        result.materialised,
        Materialised::Reproduced { same_trace: true }
    );
    let (before, after) = (&result.before, &result.after);
    assert!(after.faults <= before.faults, "{before:?} {after:?}");
    assert!(
        after.faults < before.faults
            || after.events < before.events
            || after.virtual_time < before.virtual_time,
        "{before:?} {after:?}"
    );
    assert!(result.runs <= 200);

    // (c) The same input gives the same bytes.
    let twice = shrink(&faultline::builtin(), &file, 1, true, &options).unwrap();
    assert_eq!(result.text, twice.text);
    let out2 = dir.join("shrunk2.toml");
    let output = faultline(&[
        "shrink",
        &input,
        "--seed",
        "1",
        "--out",
        out2.to_str().unwrap(),
        "--max-runs",
        "200",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert_eq!(
        std::fs::read(&out).unwrap(),
        std::fs::read(&out2).unwrap(),
        "shrinking twice gave different files"
    );
}

#[test]
fn the_broadcast_planted_bug_shrinks_to_no_faults_and_a_short_run() {
    let file = ScenarioFile::read(&format!(
        "{}/scenarios/broadcast/no_retransmit.toml",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let result = shrink(
        &faultline::builtin(),
        &file,
        1,
        true,
        &ShrinkOptions::default(),
    )
    .unwrap();
    assert_eq!(result.failure.checker, "broadcast");
    assert_eq!(result.failure.property, "eventually");
    assert!(result.after.faults < result.before.faults);
    assert!(result.after.events < result.before.events);
    assert!(result.after.duration < result.before.duration);
    let written = ScenarioFile::from_text("shrunk.toml", result.text).unwrap();
    let outcome = run_file(&written, &RunOptions::seed(1)).unwrap();
    assert_eq!(outcome.summary.violations[0].checker, "broadcast");
}

#[test]
fn a_passing_seed_is_refused_with_exit_2() {
    let output = faultline(&[
        "shrink",
        "scenarios/broadcast/partitions.toml",
        "--seed",
        "7",
        "--out",
        scratch("passing").join("x.toml").to_str().unwrap(),
    ]);
    let shown = text(&output);
    assert_eq!(output.status.code(), Some(2), "{shown}");
    assert!(
        shown.contains("seed 7 passes; nothing to shrink"),
        "{shown}"
    );
    let file = ScenarioFile::read(&format!(
        "{}/scenarios/broadcast/partitions.toml",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    assert!(matches!(
        shrink(
            &faultline::builtin(),
            &file,
            7,
            true,
            &ShrinkOptions::default()
        ),
        Err(ShrinkError::Passes { seed: 7 })
    ));
}

#[test]
fn a_bad_file_is_refused_with_exit_2_naming_it() {
    let dir = scratch("bad");
    let bad = dir.join("bad.toml");
    std::fs::write(
        &bad,
        "duration = \"1s\"\n[protocol]\nname = \"raft\"\n[cluster]\nnodes = 0\n",
    )
    .unwrap();
    let output = faultline(&["shrink", bad.to_str().unwrap(), "--seed", "1"]);
    let shown = text(&output);
    assert_eq!(output.status.code(), Some(2), "{shown}");
    assert!(shown.contains("bad.toml:5"), "{shown}");
    assert!(shown.contains("cluster.nodes"), "{shown}");
}

#[test]
fn an_unwritable_output_exits_4_without_a_panic() {
    let output = faultline(&[
        "shrink",
        "scenarios/broadcast/no_retransmit.toml",
        "--seed",
        "1",
        "--max-runs",
        "20",
        "--out",
        "/nonexistent-dir/shrunk.toml",
    ]);
    let shown = text(&output);
    assert_eq!(output.status.code(), Some(4), "{shown}");
    assert!(
        shown.contains("cannot write the shrunk scenario"),
        "{shown}"
    );
    assert!(!shown.contains("panicked"), "{shown}");
}
