//! Fuzz campaigns: parallel, sharded and merged runs agree with a plain sequential
//! campaign, and every failure comes with a report that replays.

use faultline::runner::fuzz::{FuzzOptions, FuzzSummary, SeedRange, fuzz};
use faultline::scenario::ScenarioFile;
use std::process::Command;

fn scenario(name: &str) -> ScenarioFile {
    ScenarioFile::read(&format!("{}/scenarios/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn campaign(file: &ScenarioFile, count: u64, shard: u64, shards: u64, jobs: usize) -> FuzzSummary {
    let options = FuzzOptions {
        seeds: SeedRange {
            first: 1,
            count,
            shard,
            shards,
        },
        jobs,
        nemesis: true,
    };
    fuzz(file, &options, &|_| {}).unwrap().0
}

#[test]
fn the_outcome_does_not_depend_on_threads_or_shards() {
    let file = scenario("broadcast_no_retransmit.toml");
    let sequential = campaign(&file, 60, 0, 1, 1);
    assert_eq!(sequential.runs, 60);
    assert!(!sequential.failures.is_empty());
    assert_eq!(
        campaign(&file, 60, 0, 1, 4),
        sequential,
        "threads changed the outcome"
    );

    let mut merged = campaign(&file, 60, 2, 3, 2);
    merged.merge(&campaign(&file, 60, 0, 3, 1)).unwrap();
    merged.merge(&campaign(&file, 60, 1, 3, 3)).unwrap();
    assert_eq!(merged.shards_included, vec![0, 1, 2]);
    assert_eq!(
        (merged.runs, merged.passed, merged.events),
        (sequential.runs, sequential.passed, sequential.events)
    );
    assert_eq!(merged.failures, sequential.failures);
    assert_eq!(merged.sometimes, sequential.sometimes);
    // Shards of different campaigns, or the same shard twice, do not merge.
    let other = campaign(&scenario("broadcast_nemesis.toml"), 60, 0, 3, 1);
    assert!(
        merged
            .merge(&other)
            .unwrap_err()
            .contains("different campaigns")
    );
    let mut twice = campaign(&file, 60, 0, 3, 1);
    assert!(
        twice
            .merge(&campaign(&file, 60, 0, 3, 1))
            .unwrap_err()
            .contains("shard 0 appears twice")
    );
}

#[test]
fn a_campaign_reports_sometimes_points_never_reached() {
    let summary = campaign(&scenario("broadcast_no_retransmit.toml"), 20, 0, 1, 2);
    // Without retransmission nothing is ever filled in by gossip.
    assert!(
        summary
            .never_reached()
            .contains(&"broadcast_gossip_filled_a_gap"),
        "{:?}",
        summary.sometimes
    );
}

#[test]
fn the_fuzz_command_writes_junit_and_replayable_failures() {
    let dir = std::env::temp_dir().join(format!("faultline-fuzz-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let shard_dir = dir.join("shard");
    let output = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("JOB_COMPLETION_INDEX", "1")
        .args([
            "fuzz",
            "scenarios/broadcast_no_retransmit.toml",
            "--seeds",
            "6",
            "--shard",
            "2",
        ])
        .args(["--report", shard_dir.to_str().unwrap()])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("shards [1] of 2: 3 run"), "{stdout}");
    assert!(
        stdout.contains("reproduce: faultline run scenarios/broadcast_no_retransmit.toml --seed 2"),
        "{stdout}"
    );
    let junit = std::fs::read_to_string(shard_dir.join("junit.xml")).unwrap();
    assert!(
        junit.contains("<testcase") && junit.contains("<failure message="),
        "{junit}"
    );
    let replay = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args([
            "replay",
            shard_dir.join("failures/seed-2").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let replayed = String::from_utf8_lossy(&replay.stdout);
    assert_eq!(replay.status.code(), Some(1), "{replayed}");
    assert!(replayed.contains("reproduced: trace hash"), "{replayed}");

    let merged = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args([
            "merge",
            "--out",
            dir.join("all").to_str().unwrap(),
            shard_dir.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let merged_text = String::from_utf8_lossy(&merged.stdout);
    assert_eq!(merged.status.code(), Some(1), "{merged_text}");
    assert!(
        merged_text.contains("only 1 of 2 shards merged"),
        "{merged_text}"
    );

    let bad = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(["fuzz", "scenarios/broadcast_nemesis.toml", "--shard", "3/3"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    std::fs::remove_dir_all(&dir).ok();
}
