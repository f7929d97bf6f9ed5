//! Fuzz campaigns: parallel, sharded and merged runs agree with a plain sequential
//! campaign, and every failure comes with a report that replays.

use faultline::runner::fuzz::{FuzzOptions, FuzzSummary, SeedRange, fuzz};
use faultline::scenario::ScenarioFile;
use std::process::Command;

fn scenario(name: &str) -> ScenarioFile {
    ScenarioFile::read(&format!("{}/scenarios/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn campaign(file: &ScenarioFile, count: u64, shard: u64, shards: u64, jobs: usize) -> FuzzSummary {
    let options = FuzzOptions::new(
        SeedRange {
            first: 1,
            count,
            shard,
            shards,
        },
        jobs,
    );
    fuzz(&faultline::builtin(), file, &options, &|_| {})
        .unwrap()
        .0
}

#[test]
fn the_outcome_does_not_depend_on_threads_or_shards() {
    let file = scenario("broadcast/no_retransmit.toml");
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
    let other = campaign(&scenario("broadcast/nemesis.toml"), 60, 0, 3, 1);
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
    let summary = campaign(&scenario("broadcast/no_retransmit.toml"), 20, 0, 1, 2);
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
            "scenarios/broadcast/no_retransmit.toml",
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
        stdout.contains("reproduce: faultline run scenarios/broadcast/no_retransmit.toml --seed 2"),
        "{stdout}"
    );
    let junit = std::fs::read_to_string(shard_dir.join("junit.xml")).unwrap();
    assert!(
        junit.contains("<testcase") && junit.contains("<failure message="),
        "{junit}"
    );
    // Failing seeds' reports come with their charts.
    for chart in ["index.html", "sequence.svg", "sequence.png"] {
        assert!(
            shard_dir.join("failures/seed-2").join(chart).exists(),
            "{chart}"
        );
    }
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
        .args(["fuzz", "scenarios/broadcast/nemesis.toml", "--shard", "3/3"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn stop_on_first_stops_at_the_same_seed_whatever_the_threads() {
    // broadcast_nemesis passes most seeds; its planted-bug twin fails some.
    let file = scenario("broadcast/no_retransmit.toml");
    let everything = campaign(&file, 40, 0, 1, 1);
    let first_failure = everything.failures[0].seed;
    let stopping = |jobs| {
        let mut options = FuzzOptions::new(
            SeedRange {
                first: 1,
                count: 40,
                shard: 0,
                shards: 1,
            },
            jobs,
        );
        options.stop_on_first = true;
        fuzz(&faultline::builtin(), &file, &options, &|_| {})
            .unwrap()
            .0
    };
    let one = stopping(1);
    assert_eq!(
        one.runs, first_failure,
        "every seed up to the first failure ran"
    );
    assert_eq!(one.failures.len(), 1);
    assert_eq!(one.failures[0].seed, first_failure);
    assert!(one.stopped.as_deref().unwrap().contains("--stop-on-first"));
    assert_eq!(stopping(3), one, "threads changed where it stopped");
}

/// The exit code, standard output and standard error of a `faultline` command.
fn faultline(args: &[&str]) -> (Option<i32>, String, String) {
    let output = super::common::faultline(args);
    let (stdout, stderr) = (&output.stdout, &output.stderr);
    let (stdout, stderr) = (
        String::from_utf8_lossy(stdout),
        String::from_utf8_lossy(stderr),
    );
    (
        output.status.code(),
        stdout.into_owned(),
        stderr.into_owned(),
    )
}

#[test]
fn several_scenarios_fuzz_into_one_junit_and_their_shards_merge() {
    let dir = std::env::temp_dir().join(format!("faultline-fuzz-many-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let path = |name: &str| dir.join(name).to_str().unwrap().to_string();
    let files = [
        "scenarios/broadcast/no_retransmit.toml",
        "scenarios/broadcast/partitions.toml",
    ];
    let (code, stdout, _) = faultline(&[
        "fuzz",
        files[0],
        files[1],
        "--seeds",
        "1..13",
        "--report",
        &path("all"),
        "--junit",
        &path("all.xml"),
    ]);
    assert_eq!(code, Some(1), "{stdout}");
    assert!(
        stdout.contains("total     2 scenarios, 24 seeds run"),
        "{stdout}"
    );
    let junit = std::fs::read_to_string(dir.join("all.xml")).unwrap();
    assert_eq!(junit.matches("<testsuite ").count(), 2, "{junit}");
    assert!(
        junit.contains("broadcast/partitions.toml\" tests=\"1\" failures=\"0\""),
        "{junit}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("all/junit.xml")).unwrap(),
        junit
    );
    // Two shards of the same two-scenario campaign merge back into it.
    for shard in ["0/2", "1/2"] {
        let name = format!("shard{}", &shard[..1]);
        let (code, stdout, _) = faultline(&[
            "fuzz",
            files[0],
            files[1],
            "--seeds",
            "1..13",
            "--shard",
            shard,
            "--report",
            &path(&name),
        ]);
        assert_eq!(code, Some(1), "{stdout}");
    }
    let (code, stdout, _) = faultline(&[
        "merge",
        "--out",
        &path("merged"),
        &path("shard0"),
        &path("shard1"),
    ]);
    assert_eq!(code, Some(1), "{stdout}");
    for stem in ["broadcast_no_retransmit", "broadcast_partitions"] {
        let read = |dir: &std::path::Path| -> serde_json::Value {
            let text = std::fs::read_to_string(dir.join(stem).join("fuzz.json")).unwrap();
            serde_json::from_str(&text).unwrap()
        };
        let (whole, merged) = (read(&dir.join("all")), read(&dir.join("merged")));
        for key in ["runs", "passed", "failures", "sometimes", "events"] {
            assert_eq!(whole[key], merged[key], "{stem}: {key}");
        }
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn bad_seed_ranges_and_budgets_are_usage_errors() {
    for args in [
        &[
            "fuzz",
            "scenarios/broadcast/nemesis.toml",
            "--seeds",
            "9..3",
        ][..],
        &[
            "fuzz",
            "scenarios/broadcast/nemesis.toml",
            "--seeds",
            "5",
            "--count",
            "5",
        ],
        &[
            "fuzz",
            "scenarios/broadcast/nemesis.toml",
            "--time-budget",
            "soon",
        ],
        &[
            "fuzz",
            "scenarios/broadcast/nemesis.toml",
            "--shard",
            "auto",
        ],
        &[
            "fuzz",
            "scenarios/broadcast/nemesis.toml",
            "scenarios/nope.toml",
        ],
    ] {
        let (code, stdout, stderr) = faultline(args);
        assert_eq!(code, Some(2), "{args:?}: {stdout}{stderr}");
        assert!(stderr.starts_with("error: "), "{args:?}: {stderr}");
        assert!(stdout.is_empty(), "nothing ran: {stdout}");
    }
}

#[test]
fn a_time_budget_runs_a_prefix_of_the_seeds_and_says_so() {
    let (code, stdout, _) = faultline(&[
        "fuzz",
        "scenarios/broadcast/nemesis.toml",
        "--count",
        "100000",
        "--time-budget",
        "300ms",
        "--jobs",
        "1",
    ]);
    assert_eq!(code, Some(0), "{stdout}");
    assert!(stdout.contains("the time budget ran out after"), "{stdout}");
}

#[test]
fn fuzz_shrinks_the_first_failing_seed_into_the_report() {
    let dir = std::env::temp_dir().join(format!("faultline-fuzz-shrink-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (code, stdout, _) = faultline(&[
        "fuzz",
        "scenarios/broadcast/no_retransmit.toml",
        "--count",
        "3",
        "--shrink",
        "--report",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(1), "{stdout}");
    assert!(stdout.contains("shrink    seed 1"), "{stdout}");
    let shrunk = dir.join("shrunk-seed-1.toml");
    let (code, stdout, _) = faultline(&["run", shrunk.to_str().unwrap()]);
    assert_eq!(code, Some(1), "the shrunk scenario fails: {stdout}");
    assert!(stdout.contains("broadcast (eventually)"), "{stdout}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn merge_refuses_shards_of_different_seed_ranges_and_edited_counts() {
    let dir = crate::common::scratch("fuzz", "merge-refuses");
    let path = |name: &str| dir.join(name).display().to_string();
    for (name, seeds) in [("a", "1..5"), ("b", "1..7")] {
        let (code, stdout, _) = faultline(&[
            "fuzz",
            "scenarios/broadcast/partitions.toml",
            "--seeds",
            seeds,
            "--shard",
            if name == "a" { "0/2" } else { "1/2" },
            "--report",
            &path(name),
        ]);
        assert_eq!(code, Some(0), "{stdout}");
    }
    let (code, _, stderr) = faultline(&["merge", "--out", &path("m"), &path("a"), &path("b")]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("their seed_count differs"), "{stderr}");
    // An edited count is refused too.
    let fuzz_json = dir.join("a").join("fuzz.json");
    let text = std::fs::read_to_string(&fuzz_json).unwrap();
    std::fs::write(
        &fuzz_json,
        text.replacen("\"passed\": 2", "\"passed\": 9", 1),
    )
    .unwrap();
    let (code, _, stderr) = faultline(&["merge", "--out", &path("m"), &path("a")]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("but passed + failures"), "{stderr}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn undecided_seeds_are_counted_apart_and_an_edited_count_is_refused() {
    let file = scenario("broadcast/no_retransmit.toml");
    let summary = campaign(&file, 20, 0, 1, 1);
    assert!(!summary.failures.is_empty());
    // A planted bug's failures are real failures, not undecided checks.
    assert_eq!(summary.undecided, 0);
    summary.check_counts().unwrap();
    let mut edited = summary.clone();
    edited.undecided = edited.failures.len() as u64 + 1;
    let refused = edited.check_counts().unwrap_err();
    assert!(refused.contains("undecided"), "{refused}");
    // Merging adds the counts of the shards.
    let mut first = campaign(&file, 20, 0, 2, 1);
    let mut second = campaign(&file, 20, 1, 2, 1);
    first.undecided = 1.min(first.failures.len() as u64);
    second.undecided = 1.min(second.failures.len() as u64);
    let expected = first.undecided + second.undecided;
    first.merge(&second).unwrap();
    assert_eq!(first.undecided, expected);
}
