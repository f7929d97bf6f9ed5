//! Raft: the correct protocol survives fuzzing of every shipped Raft scenario, and
//! fuzzing finds each planted bug. The first seed that finds each bug is pinned; a
//! change there is a deliberate, explained change (a protocol or simulator change
//! that moves schedules).

use crate::common::run_file;
use crate::common::{self, failing_seeds};
use faultline::runner::RunOptions;
use faultline::scenario::ScenarioFile;

fn scenario(name: &str) -> ScenarioFile {
    common::shipped("raft", name)
}

#[test]
fn correct_raft_survives_every_shipped_scenario() {
    for (name, seeds) in [
        ("nemesis.toml", 150),
        ("partitions.toml", 60),
        ("leader_churn.toml", 100),
        ("election_churn.toml", 150),
    ] {
        let failed = failing_seeds(&scenario(name), seeds);
        assert!(failed.is_empty(), "correct raft failed {name}: {failed:?}");
    }
}

#[test]
fn the_nemesis_scenario_does_real_work_and_reaches_the_rare_paths() {
    let mut reached = std::collections::BTreeSet::new();
    let mut ok = 0;
    for seed in 1..=40 {
        let outcome = run_file(&scenario("nemesis.toml"), &RunOptions::seed(seed)).unwrap();
        assert!(
            outcome.passed(),
            "seed {seed}: {:?}",
            outcome.summary.violations
        );
        ok += outcome.summary.stats.operations.ok;
        reached.extend(outcome.summary.sometimes.keys().cloned());
    }
    assert!(ok > 40 * 100, "only {ok} operations succeeded in 40 runs");
    for point in [
        "raft_leader_stepped_down",
        "raft_conflicting_suffix_removed",
        "raft_snapshot_installed",
        "raft_restarted_from_snapshot",
        "raft_retry_answered_from_session",
        "raft_corruption_detected",
    ] {
        assert!(
            reached.contains(point),
            "{point} never reached: {reached:?}"
        );
    }
}

#[test]
fn the_election_timing_experiment_reproduces_the_papers_stated_figures() {
    use faultline::protocols::raft::experiment::{ElectionTiming, election_timing};
    // 150-155 ms: the paper's median is 287 ms.
    let five = election_timing(&ElectionTiming::paper(150, 155), 200);
    assert!(
        (240.0..=330.0).contains(&five.median),
        "150-155 ms median {} ms",
        five.median
    );
    assert_eq!(five.capped, 0);
    // 150-150 ms: without randomness split votes repeat for more than 10 s.
    let none = election_timing(&ElectionTiming::paper(150, 150), 10);
    assert!(none.min > 10_000.0, "150-150 ms elected in {} ms", none.min);
    // Deterministic: the same trials give the same times.
    let again = election_timing(&ElectionTiming::paper(150, 155), 200);
    assert_eq!((five.median, five.max), (again.median, again.max));
}
