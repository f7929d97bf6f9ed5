//! MapReduce: the checks that the shipped scenarios and planted bugs do not
//! make fail on their own can still fail (the lab's parallelism and job-count
//! tests, and the output compared at the end), and the disk's rename is what
//! keeps output whole.

use crate::common::{run_file, shipped};
use faultline::runner::RunOptions;
use faultline::scenario::ScenarioFile;

fn patched(name: &str, from: &str, to: &str) -> ScenarioFile {
    let file = shipped("mapreduce", name);
    let text = file.text.replacen(from, to, 1);
    assert_ne!(text, file.text, "{name}: nothing to patch at {from:?}");
    ScenarioFile::from_text(&file.file, text).unwrap_or_else(|error| panic!("{error}"))
}

fn first_violation(file: &ScenarioFile) -> Option<(String, String)> {
    let outcome = run_file(file, &RunOptions::seed(1)).expect("valid");
    outcome
        .summary
        .violations
        .first()
        .map(|v| (v.name.clone(), v.message.clone()))
}

#[test]
fn the_course_scenarios_pass() {
    for name in [
        "wc.toml",
        "indexer.toml",
        "map_parallel.toml",
        "reduce_parallel.toml",
        "job_count.toml",
        "early_exit.toml",
    ] {
        assert_eq!(first_violation(&shipped("mapreduce", name)), None, "{name}");
    }
}

#[test]
fn parallelism_fails_when_only_one_task_can_run_at_a_time() {
    // One input: one map task, so no two maps ever run at once.
    let file = patched(
        "map_parallel.toml",
        "app = \"wc\"",
        "app = \"wc\"\ninputs = 1",
    );
    let (property, message) = first_violation(&file).expect("a violation");
    assert_eq!(property, "parallelism");
    assert!(
        message.contains("map tasks never ran on two workers at once (at most 1)"),
        "{message}"
    );
}

#[test]
fn job_count_fails_when_a_timeout_reruns_tasks_nobody_lost() {
    // A task timeout shorter than a map's work hands every map out again,
    // though nothing failed: the lab's job-count test catches it.
    let file = patched(
        "job_count.toml",
        "inputs = 8",
        "inputs = 8\ntask_timeout = \"300ms\"",
    );
    let (property, message) = first_violation(&file).expect("a violation");
    assert_eq!(property, "runs_once");
    assert!(message.contains("was handed out"), "{message}");
}

#[test]
fn a_damaged_output_is_seen_the_moment_it_is_damaged() {
    // The output store is assumed reliable; a bit flipped in it after the job
    // is done is caught at once, since every visible output must be whole.
    let file = patched(
        "wc.toml",
        "[network]",
        "[[faults]]\nat = \"20s\"\nkind = \"disk_corrupt\"\ntarget = 0\n\n[network]",
    );
    let (property, message) = first_violation(&file).expect("a violation");
    assert_eq!(property, "atomic_output");
    assert!(
        message.contains("is not the partition's final output"),
        "{message}"
    );
}
