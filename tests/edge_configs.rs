//! Odd but valid configurations run to a verdict: no panics, no hangs.

use crate::common::run_file;
use faultline::runner::RunOptions;
use faultline::scenario::ScenarioFile;

fn run(text: &str, seed: u64) -> faultline::runner::RunOutcome {
    let file = ScenarioFile::from_text("edge.toml", text.to_string())
        .unwrap_or_else(|error| panic!("{error}"));
    run_file(&file, &RunOptions::seed(seed)).unwrap_or_else(|error| panic!("{error}"))
}

/// Every node fault kind but `join` and `leave`: broadcast and token_forward
/// do not support membership changes, and a scenario that asks them for one
/// is refused (`scenario_errors`).
const NEMESIS: &str = "[nemesis]\nfaults = [\"partition\", \"isolate\", \"bridge\", \"one_way\", \"crash\", \"pause\", \"clock_skew\", \"disk_corrupt\", \"disk_lose_unsynced\", \"disk_fail_read\", \"disk_misdirect\", \"disk_transpose\"]\ninterval = [\"10ms\", \"50ms\"]\nduration = [\"1ms\", \"200ms\"]\n";

#[test]
fn tiny_clusters_survive_every_fault_kind() {
    for nodes in [1, 2, 3] {
        let run_with = |nemesis: &str, seed| {
            let text = format!(
                "duration = \"2s\"\nliveness_window = \"3s\"\n[protocol]\nname = \"broadcast\"\n[cluster]\nnodes = {nodes}\n[workload]\nclients = 2\n{nemesis}"
            );
            run(&text, seed)
        };
        for seed in 1..=10 {
            // A fault every 10-50 ms: bit rot, swapped bytes or misdirected (here:
            // lost) writes on every copy of a value are data loss the checker
            // rightly reports, so with those kinds only panics count...
            let outcome = run_with(NEMESIS, seed);
            let panics: Vec<_> = outcome
                .summary
                .violations
                .iter()
                .filter(|v| v.checker == "panic")
                .collect();
            assert!(panics.is_empty(), "nodes {nodes} seed {seed}: {panics:?}");
            // ...and without them every check must pass.
            let safe = NEMESIS
                .replace("\"disk_corrupt\", ", "")
                .replace(", \"disk_misdirect\", \"disk_transpose\"", "");
            let outcome = run_with(&safe, seed);
            assert!(
                outcome.passed(),
                "nodes {nodes} seed {seed}: {:?}",
                outcome.summary.violations
            );
        }
    }
}

#[test]
fn extreme_networks_and_clocks_still_end_with_a_verdict() {
    let networks = [
        "latency = { distribution = \"constant\", value = \"0ns\" }",
        "latency = { distribution = \"pareto\", scale = \"1ms\", shape = 0.5 }",
        "latency = { distribution = \"normal\", mean = \"1ms\", stddev = \"50ms\" }\nfifo = true\nduplicate_probability = 0.5",
        "latency = { distribution = \"uniform\", min = \"0ns\", max = \"2s\" }\ndrop_probability = 0.9",
    ];
    for network in networks {
        let text = format!(
            "duration = \"1s\"\nliveness_window = \"2s\"\n[protocol]\nname = \"broadcast\"\n[cluster]\nnodes = 5\nclock_offset_max = \"1s\"\nclock_drift_ppm_max = 500000\n[workload]\nclients = 3\nop_timeout = \"0ns\"\n[network]\n{network}\n{NEMESIS}"
        );
        let outcome = run(&text, 3);
        let panics: Vec<_> = outcome
            .summary
            .violations
            .iter()
            .filter(|v| v.checker == "panic")
            .collect();
        assert!(panics.is_empty(), "{network}: {panics:?}");
    }
}

#[test]
fn a_message_storm_ends_at_the_event_bound() {
    let text = "duration = \"10s\"\nmax_events = 5000\n[protocol]\nname = \"token_forward\"\ntokens = 1000\n[cluster]\nnodes = 3\n[workload]\nclients = 0\n";
    let outcome = run(text, 1);
    let violation = &outcome.summary.violations[0];
    assert_eq!(violation.checker, "bounds");
    assert!(
        violation.message.contains("exceeded max_events = 5000"),
        "{}",
        violation.message
    );
}
