//! The command line: exit codes, reports, replay, listing, bad arguments.

use super::common::{faultline, text};
use std::path::{Path, PathBuf};

fn scratch(name: &str) -> PathBuf {
    super::common::scratch("cli", name)
}

#[test]
fn a_passing_scenario_exits_0_and_prints_its_verdict() {
    let output = faultline(&["run", "scenarios/broadcast/partitions.toml"]);
    let shown = text(&output);
    assert_eq!(output.status.code(), Some(0), "{shown}");
    assert!(shown.contains("verdict   PASS"), "{shown}");
    assert!(
        shown.contains("seed      7"),
        "the scenario's own seed is the default: {shown}"
    );
}

#[test]
fn the_readme_first_command_runs_raft_and_passes() {
    let output = faultline(&["run", "scenarios/raft/nemesis.toml"]);
    let shown = text(&output);
    assert_eq!(output.status.code(), Some(0), "{shown}");
    assert!(shown.contains("(raft, planted bugs: none)"), "{shown}");
    assert!(shown.contains("verdict   PASS"), "{shown}");
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    assert!(
        readme.contains("cargo run --release -- run scenarios/raft/nemesis.toml"),
        "the README's first command changed; update this test and .ci/run"
    );
    // The output the README quotes is the output the command prints.
    assert_quoted(
        &readme,
        &shown,
        &[
            "scenario  ",
            "seed      ",
            "swarm     ",
            "messages  ",
            "ops       ",
        ],
    );
}

#[test]
fn the_readme_failing_example_quotes_what_the_run_prints() {
    let output = faultline(&["run", "scenarios/raft/no_step_down.toml"]);
    let shown = text(&output);
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    assert_quoted(&readme, &shown, &["verdict   FAIL", "reproduce: "]);
}

/// The line of `shown` starting with each of `prefixes` is quoted in `readme`.
fn assert_quoted(readme: &str, shown: &str, prefixes: &[&str]) {
    for prefix in prefixes {
        let line = shown
            .lines()
            .find(|line| line.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix:?} line in {shown}"));
        assert!(
            readme.contains(line),
            "the README quotes a stale line; now: {line}"
        );
    }
}

#[test]
fn a_failing_run_exits_1_with_the_violation_and_a_repro_line() {
    let output = faultline(&[
        "run",
        "scenarios/broadcast/no_retransmit.toml",
        "--seed",
        "1",
    ]);
    let shown = text(&output);
    assert_eq!(output.status.code(), Some(1), "{shown}");
    assert!(
        shown.contains("verdict   FAIL: broadcast (eventually) [delivery] at "),
        "{shown}"
    );
    assert!(shown.contains(", event #"), "{shown}");
    assert!(
        shown.contains("reproduce: faultline run scenarios/broadcast/no_retransmit.toml --seed 1"),
        "{shown}"
    );
}

#[test]
fn a_report_replays_to_the_same_trace_hash() {
    let dir = scratch("replay");
    let report = dir.join("report");
    let trace = dir.join("trace.jsonl");
    let output = faultline(&[
        "run",
        "scenarios/broadcast/no_retransmit.toml",
        "--seed",
        "4",
        "--report",
        report.to_str().unwrap(),
        "--trace",
        trace.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(report.join("summary.json")).unwrap())
            .unwrap();
    assert_eq!(summary["verdict"], "fail");
    assert_eq!(summary["seed"], 4);
    assert!(summary["violations"][0]["time"].as_u64().unwrap() > 0);
    assert!(
        summary["swarm"]["faults"].is_array(),
        "the swarm draw is recorded"
    );
    let history = std::fs::read_to_string(report.join("history.jsonl")).unwrap();
    assert!(history.lines().count() > 50);
    assert!(
        history
            .lines()
            .all(|line| serde_json::from_str::<serde_json::Value>(line).is_ok())
    );
    // The trace has one JSON line per event, and its last hash is the trace hash.
    let trace_text = std::fs::read_to_string(&trace).unwrap();
    let last: serde_json::Value = serde_json::from_str(trace_text.lines().last().unwrap()).unwrap();
    assert_eq!(
        trace_text.lines().count() as u64,
        summary["events"].as_u64().unwrap()
    );
    assert_eq!(last["hash"], summary["trace_hash"]);

    let replay = faultline(&["replay", report.to_str().unwrap()]);
    let shown = text(&replay);
    assert_eq!(
        replay.status.code(),
        Some(1),
        "the replayed failure fails again: {shown}"
    );
    assert!(shown.contains("reproduced: trace hash"), "{shown}");

    // An edited summary, or a history from another run, is a bad report (2),
    // not nondeterminism.
    let summary_path = report.join("summary.json");
    let original = std::fs::read_to_string(&summary_path).unwrap();
    std::fs::write(&summary_path, original.replacen("\"fail\"", "\"pass\"", 1)).unwrap();
    let replay = faultline(&["replay", report.to_str().unwrap()]);
    assert_eq!(replay.status.code(), Some(2), "{}", text(&replay));
    assert!(text(&replay).contains("was edited"), "{}", text(&replay));
    std::fs::write(&summary_path, &original).unwrap();
    let history_path = report.join("history.jsonl");
    std::fs::write(
        &history_path,
        history.lines().take(3).collect::<Vec<_>>().join("\n"),
    )
    .unwrap();
    let replay = faultline(&["replay", report.to_str().unwrap()]);
    assert_eq!(replay.status.code(), Some(2), "{}", text(&replay));
    assert!(
        text(&replay).contains("holds files of different runs"),
        "{}",
        text(&replay)
    );
    std::fs::write(&history_path, &history).unwrap();

    // A tampered report is refused rather than silently replayed.
    let copy = report.join("scenario.toml");
    let tampered = std::fs::read_to_string(&copy)
        .unwrap()
        .replace("op_interval = \"50ms\"", "op_interval = \"60ms\"");
    std::fs::write(&copy, tampered).unwrap();
    let replay = faultline(&["replay", report.to_str().unwrap()]);
    assert_eq!(replay.status.code(), Some(2), "{}", text(&replay));
    assert!(text(&replay).contains("does not match the scenario hash"));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn bad_scenarios_and_bad_arguments_exit_2_without_a_panic() {
    let dir = scratch("bad");
    let path = dir.join("bad.toml");
    std::fs::write(&path, "duration = \"1s\"\n[protocol]\nname = \"broadcast\"\n[cluster]\nnodes = 3\n[network]\ndrop_probability = 7\n").unwrap();
    let output = faultline(&["run", path.to_str().unwrap()]);
    let shown = text(&output);
    assert_eq!(output.status.code(), Some(2), "{shown}");
    assert!(
        shown.contains(
            "bad.toml:7:20: key 'network.drop_probability': expected a probability in [0, 1], got 7"
        ),
        "{shown}"
    );
    assert!(!shown.contains("panicked"), "{shown}");

    for args in [
        &["run"][..],
        &["run", "x.toml", "--seed", "minus-one"],
        &["frobnicate"],
        &["bench", "nothing"],
    ] {
        let output = faultline(args);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {}", text(&output));
    }
    let missing = faultline(&["run", "no/such.toml"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(text(&missing).contains("no/such.toml: cannot read the scenario file"));
    let replay = faultline(&["replay", dir.to_str().unwrap()]);
    assert_eq!(replay.status.code(), Some(2));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn list_names_protocols_bugs_checkers_and_fault_kinds() {
    let output = faultline(&["list"]);
    let shown = text(&output);
    assert_eq!(output.status.code(), Some(0));
    for expected in [
        "broadcast",
        "token_forward",
        "no_retransmit",
        "nondeterministic",
        "delivery",
        "partition_halves",
        "disk_fail_read",
        "disk_misdirect",
        "disk_transpose",
        "join",
        "leave",
        "slow",
        "minority",
    ] {
        assert!(shown.contains(expected), "list lacks {expected}: {shown}");
    }
}

#[test]
fn every_shipped_scenario_is_valid() {
    let mut count = 0;
    for path in crate::common::scenario_files() {
        let file = faultline::scenario::ScenarioFile::read(path.to_str().unwrap()).unwrap();
        crate::common::validate_file(&file).unwrap_or_else(|error| panic!("{error}"));
        count += 1;
    }
    assert!(count >= 10, "only {count} scenarios found");
}

#[test]
fn the_shipped_broadcast_scenarios_show_every_fault_kind() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut text = String::new();
    for name in [
        "broadcast/partitions.toml",
        "broadcast/crashes.toml",
        "broadcast/nemesis.toml",
        "broadcast/disconnects.toml",
        "broadcast/disk_damage.toml",
    ] {
        text.push_str(&std::fs::read_to_string(dir.join(name)).unwrap());
    }
    for (fault, kind, _) in faultline::scenario::faults::FaultKind::ALL {
        if fault.is_membership() {
            // Broadcast does not support membership changes (a join or leave
            // in its scenarios is an error); the protocols that do script them
            // in their own scenarios.
            continue;
        }
        if kind == "slow" {
            // Broadcast models no work, so a slow node changes nothing it
            // does, and scripting one would only change the shipped files'
            // traces; tests/slow.rs runs slow faults on a protocol that reads
            // them.
            continue;
        }
        assert!(
            text.contains(&format!("kind = \"{kind}\"")),
            "no shipped scenario scripts a '{kind}' fault"
        );
    }
    for kind in [
        "partition",
        "isolate",
        "bridge",
        "one_way",
        "crash",
        "pause",
        "clock_skew",
        "disk_corrupt",
        "disk_lose_unsynced",
        "disk_fail_read",
    ] {
        assert!(
            text.contains(&format!("\"{kind}\"")),
            "the nemesis scenario lacks '{kind}'"
        );
    }
}

#[test]
fn a_reader_that_stops_reading_is_not_a_crash() {
    // `faultline list | head -0`: the reader closes the pipe before we print.
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_faultline"))
        .arg("list")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
