//! Paxos: the correct protocol survives fuzzing of every shipped Paxos scenario,
//! dueling proposers livelock without back-off and resolve with it, and fuzzing
//! finds each planted bug. The first seed that finds each bug is pinned; a change
//! there is a deliberate, explained change.

use crate::common::run_file;
use crate::common::{self, failing_seeds};
use faultline::runner::RunOptions;
use faultline::scenario::ScenarioFile;

fn scenario(name: &str) -> ScenarioFile {
    common::shipped("paxos", name)
}

#[test]
fn correct_paxos_survives_every_shipped_scenario() {
    for (name, seeds) in [
        ("nemesis.toml", 150),
        ("leader_crash.toml", 100),
        ("acceptor_restarts.toml", 100),
        ("duplication.toml", 60),
        ("minority_partition.toml", 40),
        ("dueling_proposers.toml", 200),
    ] {
        let failed = failing_seeds(&scenario(name), seeds);
        assert!(failed.is_empty(), "correct paxos failed {name}: {failed:?}");
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
        "paxos_leader_preempted",
        "paxos_recovered_accepted_value",
        "paxos_gap_filled_with_noop",
        "paxos_learned_out_of_order",
        "paxos_snapshot_installed",
        "paxos_snapshot_from_promise",
        "paxos_restarted_from_snapshot",
        "paxos_retry_answered_from_session",
        "paxos_corruption_detected",
    ] {
        assert!(
            reached.contains(point),
            "{point} never reached: {reached:?}"
        );
    }
}

#[test]
fn acceptors_do_restart_between_promise_and_accept() {
    let restarts: u64 = (1..=10)
        .map(|seed| {
            let outcome =
                run_file(&scenario("acceptor_restarts.toml"), &RunOptions::seed(seed)).unwrap();
            assert!(outcome.passed(), "seed {seed}");
            outcome
                .summary
                .sometimes
                .get("paxos_restarted_between_promise_and_accept")
                .copied()
                .unwrap_or(0)
        })
        .sum();
    assert!(
        restarts >= 3,
        "only {restarts} restarts between promise and accept"
    );
}

#[test]
fn dueling_proposers_livelock_without_back_off_and_resolve_with_it() {
    // The livelock file expects exactly this failure (`expect` key).
    assert!(
        common::shipped("paxos", "dueling_livelock.toml")
            .text
            .contains(
                r#"expect = { verdict = "fail", checker = "paxos", property = "eventually" }"#
            )
    );
    let livelock = scenario("dueling_livelock.toml");
    let resolved = scenario("dueling_proposers.toml");
    for seed in 1..=5 {
        let outcome = run_file(&livelock, &RunOptions::seed(seed)).unwrap();
        let first = &outcome.summary.violations[0];
        assert_eq!(
            (first.checker.as_str(), first.property.as_str()),
            ("paxos", "eventually"),
            "seed {seed}: {first:?}"
        );
        assert!(
            first.message.contains("every chosen slot, through 0)"),
            "seed {seed}: something was chosen: {}",
            first.message
        );
        assert_eq!(outcome.summary.stats.operations.ok, 0, "seed {seed}");

        let outcome = run_file(&resolved, &RunOptions::seed(seed)).unwrap();
        assert!(
            outcome.passed(),
            "seed {seed}: {:?}",
            outcome.summary.violations
        );
        let ops = &outcome.summary.stats.operations;
        assert!(
            ops.ok >= 20,
            "seed {seed}: only {} operations succeeded",
            ops.ok
        );
        assert_eq!(ops.info, 0, "seed {seed}: operations timed out");
    }
}
