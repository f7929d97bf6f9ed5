//! `faultline experiment NAME`: reproduce a published measurement.

use super::exit;
use crate::runner::experiments::{ElectionTiming, election_timing};

/// The experiments `faultline experiment` knows.
pub const EXPERIMENTS: [&str; 1] = ["raft-election-timing"];

/// The Raft paper's Figure 16 timeout ranges (ms), with the trial count the paper
/// used for each (100 for the 150–150 ms line, 1000 otherwise).
const RANGES: [(u64, u64, u64); 10] = [
    (150, 150, 100),
    (150, 151, 1000),
    (150, 155, 1000),
    (150, 175, 1000),
    (150, 200, 1000),
    (150, 300, 1000),
    (12, 24, 1000),
    (25, 50, 1000),
    (50, 100, 1000),
    (100, 200, 1000),
];

/// Runs experiment `name`; `trials` overrides the per-range trial counts.
pub fn run(name: &str, trials: Option<u64>) -> i32 {
    if !EXPERIMENTS.contains(&name) {
        eprintln!(
            "error: unknown experiment '{name}'; expected one of: {}",
            EXPERIMENTS.join(", ")
        );
        return exit::BAD_INPUT;
    }
    if trials == Some(0) {
        eprintln!("error: --trials must be at least 1");
        return exit::BAD_INPUT;
    }
    println!("Raft leader election after a leader crash (paper §9.3, Figure 16): 5 servers,");
    println!(
        "one-way latency 0.2-0.6 ms, 14 ms to persist, heartbeats every min/2, 2 of 4 survivors behind."
    );
    println!("time without leader, ms:");
    println!(
        "{:>11} {:>6} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>7}",
        "timeout", "trials", "min", "median", "mean", "p90", "p99", "max", ">=cap"
    );
    for (min, max, default_trials) in RANGES {
        let setup = ElectionTiming::paper(min, max);
        let stats = election_timing(&setup, trials.unwrap_or(default_trials));
        println!(
            "{:>11} {:>6} {:>8.1} {:>8.1} {:>8.1} {:>8.1} {:>8.1} {:>8.1} {:>7}",
            format!("{min}-{max}ms"),
            stats.trials,
            stats.min,
            stats.median,
            stats.mean,
            stats.p90,
            stats.p99,
            stats.max,
            stats.capped
        );
    }
    exit::OK
}
