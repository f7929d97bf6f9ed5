//! Charts, index.html, fuzz charts and sweeps: the files exist, are what they
//! claim to be, show the expected series and labels, come out byte-identical for
//! the same seed, and a broken output directory is a clear error, not a panic.

use super::common::{faultline, text};
use std::path::{Path, PathBuf};

fn scratch(name: &str) -> PathBuf {
    super::common::scratch("charts", name)
}

fn read(dir: &Path, name: &str) -> Vec<u8> {
    std::fs::read(dir.join(name)).unwrap_or_else(|error| panic!("{name}: {error}"))
}

fn svg(dir: &Path, name: &str) -> String {
    let text = String::from_utf8(read(dir, name)).unwrap();
    assert!(
        text.starts_with("<svg"),
        "{name} is not SVG: {}",
        &text[..40.min(text.len())]
    );
    assert!(text.trim_end().ends_with("</svg>"), "{name} is cut short");
    assert_eq!(
        text.matches("<svg").count(),
        text.matches("</svg>").count(),
        "{name}: unbalanced"
    );
    text
}

fn assert_png(dir: &Path, name: &str) {
    let bytes = read(dir, name);
    assert!(
        bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
        "{name} lacks the PNG signature"
    );
    assert!(bytes.len() > 5_000, "{name} is only {} bytes", bytes.len());
}

fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn a_failing_run_report_has_every_chart_an_offline_index_and_is_byte_identical() {
    let first = scratch("run-1");
    let second = scratch("run-2");
    // The first run also writes its trace (which must not change the report).
    let trace = scratch("run-trace").join("trace.jsonl");
    for dir in [&first, &second] {
        let mut arguments = vec![
            "run",
            "scenarios/raft/no_step_down.toml",
            "--report",
            dir.to_str().unwrap(),
        ];
        if dir == &first {
            arguments.extend(["--trace", trace.to_str().unwrap()]);
        }
        let output = faultline(&arguments);
        assert_eq!(output.status.code(), Some(1), "{}", text(&output));
        assert!(text(&output).contains("index.html"), "{}", text(&output));
    }
    let names = files(&first);
    assert_eq!(names, files(&second));
    for name in &names {
        assert!(
            read(&first, name) == read(&second, name),
            "{name} differs between two runs of the same seed"
        );
    }
    for stem in [
        "sequence",
        "latency_cdf",
        "throughput",
        "series_term",
        "series_leader",
        "series_commit_index",
        "series_applied_index",
    ] {
        svg(&first, &format!("{stem}.svg"));
        assert_png(&first, &format!("{stem}.png"));
    }
    let sequence = svg(&first, "sequence.svg");
    assert!(sequence.contains("the window ending at the first violation"));
    assert!(sequence.contains("first violation"));
    for lane in ["n0", "n4", "c0", "c2"] {
        assert!(
            sequence.contains(&format!("\n{lane}\n</text>")),
            "lane {lane} missing"
        );
    }
    assert!(sequence.contains("message lost") && sequence.contains("partition"));
    assert_messages_are_labelled_and_titled(&sequence, &trace);
    let latency = svg(&first, "latency_cdf.svg");
    for op in ["get", "put", "cas", "append"] {
        assert!(latency.contains(&format!("{op} (n=")), "no {op} curve");
    }
    let term = svg(&first, "series_term.svg");
    assert!(term.contains("Raft term per node") && term.contains("node 4"));
    assert!(svg(&first, "throughput.svg").contains("first violation"));

    let index = String::from_utf8(read(&first, "index.html")).unwrap();
    assert!(index.starts_with("<!DOCTYPE html>"));
    assert!(index.contains("FAIL: raft (always)"));
    assert!(index.contains("faultline run scenarios/raft/no_step_down.toml --seed 1"));
    assert!(index.contains("Nemesis parameters this seed drew"));
    assert!(index.contains("messages.sent"));
    for name in names.iter().filter(|name| name.ends_with(".svg")) {
        assert!(
            index.contains(&format!("src=\"{name}\"")),
            "{name} not shown"
        );
    }
    // Offline: nothing fetched from elsewhere.
    assert!(
        !index.contains("<script") && !index.contains("http://") && !index.contains("https://")
    );
}

/// The sequence chart's arrows carry the messages the trace delivered or lost:
/// each arrow's `<g>` has the message's full text as its `<title>` (hover text),
/// and arrows are labelled with their kind (the variant name).
fn assert_messages_are_labelled_and_titled(sequence: &str, trace: &Path) {
    let trace = std::fs::read_to_string(trace).unwrap();
    let mut messages = std::collections::BTreeSet::new();
    for line in trace.lines() {
        let event: serde_json::Value = serde_json::from_str(line).unwrap();
        let detail = event["detail"].as_str().unwrap_or_default();
        match event["event"].as_str() {
            Some("deliver") => {
                messages.insert(detail.to_string());
            }
            Some("drop") => {
                messages.insert(
                    detail
                        .split_once(' ')
                        .map_or("", |(_, text)| text)
                        .to_string(),
                );
            }
            _ => {}
        }
    }
    let unescape = |text: &str| {
        text.replace("&quot;", "\"")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&")
    };
    let titles: Vec<String> = sequence
        .split("<g><title>")
        .skip(1)
        .map(|rest| unescape(&rest[..rest.find("</title>").expect("a closed title")]))
        .collect();
    assert!(titles.len() >= 300, "{} titles", titles.len());
    assert_eq!(
        sequence.matches("<g><title>").count(),
        sequence.matches("</g>").count()
    );
    for title in &titles {
        // A long message is cut to 300 characters, the last an ellipsis.
        let whole = match title.strip_suffix('…') {
            Some(start) => {
                assert_eq!(title.chars().count(), 300);
                messages.iter().any(|message| message.starts_with(start))
            }
            None => messages.contains(title),
        };
        assert!(whole, "{title:?} is not a message of the run");
    }
    // The kinds sent in this window, each labelled somewhere.
    let kind = |text: &str| text[..text.find(['(', '{', ' ']).unwrap_or(text.len())].to_string();
    let kinds: std::collections::BTreeSet<String> =
        titles.iter().map(|title| kind(title)).collect();
    for expected in ["AppendEntries", "AppendReply", "Request"] {
        assert!(kinds.contains(expected), "no {expected} in the window");
        assert!(
            sequence.contains(&format!(">\n{expected}\n</text>")),
            "no arrow labelled {expected}"
        );
    }
    assert!(sequence.contains("arrows labelled with the message kind"));
}

/// Seed 1 of the shipped scenario `name`, run plainly and watched for charts;
/// asserts both gave the same trace.
fn watched(
    name: &str,
) -> (
    faultline::runner::RunOutcome,
    faultline::runner::observe::Observed,
) {
    use crate::common::{observe_file as run_file_observed, run_file};
    use faultline::runner::RunOptions;
    let path = format!("{}/scenarios/{name}", env!("CARGO_MANIFEST_DIR"));
    let file = faultline::scenario::ScenarioFile::read(&path).unwrap();
    let plain = run_file(&file, &RunOptions::seed(1)).unwrap();
    let observed = run_file_observed(&file, &RunOptions::seed(1)).unwrap();
    assert_eq!(
        observed.outcome.summary.trace_hash, plain.summary.trace_hash,
        "watching changed {name}"
    );
    (plain, observed)
}

#[test]
fn watching_a_run_for_charts_does_not_change_it() {
    let (plain, observed) = watched("raft/nemesis.toml");
    // The pin of tests/determinism.rs: observing must not move it.
    assert_eq!(plain.summary.trace_hash, "da0d7fbcfb38bcd7");
    assert_eq!(observed.outcome.history, plain.history);
    let samples = &observed.samples;
    assert_eq!(samples.specs.len(), 4);
    assert!(
        samples.times.len() > 1000,
        "{} samples",
        samples.times.len()
    );
    assert!(samples.times.windows(2).all(|pair| pair[0] < pair[1]));
    // Every delivered message became an arrow.
    let delivered = observed
        .capture
        .arrows
        .iter()
        .filter(|arrow| arrow.dropped.is_none())
        .count() as u64;
    assert_eq!(delivered, plain.summary.stats.messages.delivered);
}

#[test]
fn a_linearizability_failure_gets_its_picture_in_the_report() {
    let dir = scratch("stale-read");
    let scenario = dir.join("stale.toml");
    let base = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scenarios/raft/partitions.toml"
    ))
    .unwrap();
    std::fs::write(
        &scenario,
        base.replace(
            "name = \"raft\"",
            "name = \"raft\"\nbugs = [\"stale_read\"]",
        ),
    )
    .unwrap();
    // The first seed whose report names linearizability.
    let report = dir.join("report");
    let found = (1..=20).any(|seed| {
        let output = faultline(&[
            "run",
            scenario.to_str().unwrap(),
            "--seed",
            &seed.to_string(),
            "--report",
            report.to_str().unwrap(),
        ]);
        output.status.code() == Some(1)
            && String::from_utf8_lossy(&read(&report, "summary.json"))
                .contains("\"linearizability\"")
    });
    assert!(found, "no seed of 1..=20 failed linearizability");
    let picture = svg(&report, "linearizability.svg");
    assert!(picture.contains("fill=\"white\""));
    // The time axis reads in ms and s like the other charts, not in raw ns.
    let axis: Vec<&str> = picture
        .split("fill=\"#666666\">")
        .skip(1)
        .map(|rest| &rest[..rest.find("</text>").unwrap()])
        .collect();
    assert_eq!(axis.last(), Some(&"history time"), "{axis:?}");
    let ticks = &axis[..axis.len() - 1];
    assert!(ticks.len() >= 3, "{axis:?}");
    for tick in ticks {
        let number = tick
            .strip_suffix("ms")
            .or_else(|| tick.strip_suffix('s'))
            .unwrap_or_else(|| panic!("tick {tick:?} has no unit"));
        assert!(number.parse::<f64>().is_ok(), "tick {tick:?}");
    }
    // The same picture as a PNG (drawn from the same shape list).
    assert_png(&report, "linearizability.png");
    let index = String::from_utf8(read(&report, "index.html")).unwrap();
    assert!(index.contains("src=\"linearizability.svg\""));
}

#[test]
fn a_file_in_the_way_of_the_report_directory_is_a_clear_error() {
    let dir = scratch("in-the-way");
    let blocker = dir.join("report");
    std::fs::write(&blocker, "not a directory").unwrap();
    let output = faultline(&[
        "run",
        "scenarios/broadcast/partitions.toml",
        "--report",
        blocker.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(4), "{}", text(&output));
    assert!(
        text(&output).contains("error: writing the report to"),
        "{}",
        text(&output)
    );
    assert!(!text(&output).contains("panicked"));
    let output = faultline(&[
        "sweep",
        "scenarios/experiments/raft_election_timing.toml",
        "--seeds",
        "1",
        "--out",
        blocker.join("below").to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(4), "{}", text(&output));
    assert!(text(&output).contains("error: writing the sweep results to"));
}

#[test]
fn fuzz_reports_chart_the_campaign() {
    let dir = scratch("fuzz");
    let output = faultline(&[
        "fuzz",
        "scenarios/raft/no_step_down.toml",
        "--seeds",
        "8",
        "--report",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    for stem in [
        "fuzz_rate",
        "fuzz_failures",
        "fuzz_virtual_time",
        "fuzz_events",
    ] {
        svg(&dir, &format!("{stem}.svg"));
        assert_png(&dir, &format!("{stem}.png"));
    }
    let failures = svg(&dir, "fuzz_failures.svg");
    assert!(
        failures.contains("of 8 seeds") && failures.contains("\nraft\n</text>"),
        "{failures}"
    );
}

#[test]
fn a_sweep_writes_its_table_chart_and_data() {
    let dir = scratch("sweep");
    let output = faultline(&[
        "sweep",
        "scenarios/experiments/raft_election_timing.toml",
        "--seeds",
        "5",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let printed = text(&output);
    assert!(printed.contains("150-155ms"), "{printed}");
    let chart = svg(&dir, "raft_election_timing.svg");
    assert!(
        chart.contains("150-150ms, 5 capped at 60s (n=5)"),
        "no capped curve"
    );
    assert!(chart.contains("150-300ms (n=5)"));
    assert_png(&dir, "raft_election_timing.png");
    let csv = String::from_utf8(read(&dir, "raft_election_timing.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 6 * 5);
    assert!(csv.starts_with("value,seed,time_without_leader\n\"150-150ms\",1,60000\n"));
    let json: serde_json::Value =
        serde_json::from_slice(&read(&dir, "raft_election_timing.json")).unwrap();
    assert_eq!(json["points"].as_array().unwrap().len(), 6);
    assert_eq!(json["points"][0]["distribution"]["capped"], 5);

    // A generic sweep: a scenario key over a grid.
    let output = faultline(&[
        "sweep",
        "scenarios/experiments/raft_drop_latency.toml",
        "--seeds",
        "2",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert!(svg(&dir, "raft_drop_latency.svg").contains("0.05 (n=2)"));
}

#[test]
fn bad_sweep_files_name_the_file_line_and_key() {
    let dir = scratch("bad-sweeps");
    let partitions = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scenarios/raft/partitions.toml"
    );
    let cases = [
        (
            "[sweep]\nmetric = \"time_without_leader\"\nparameter = \"protocol.election_timeot\"\nvalues = [[\"1ms\", \"2ms\"]]\nseeds = 3\n".to_string(),
            ":3:13: key 'sweep.parameter': unknown parameter",
        ),
        (
            "[sweep]\nmetric = \"time_without_leader\"\nparameter = \"protocol.election_timeout\"\nvalues = []\nseeds = 3\n".to_string(),
            ":4:10: key 'sweep.values': expected at least one value",
        ),
        (
            "[sweep]\nmetric = \"time_without_leader\"\nparameter = \"protocol.election_timeout\"\nvalues = [[\"1ms\", \"2ms\"]]\nseeds = 0\n".to_string(),
            ":5:9: key 'sweep.seeds': expected between 1 and",
        ),
        (
            format!("[sweep]\nscenario = \"{partitions}\"\nmetric = \"ops_ok\"\nparameter = \"network.drop_probabilty\"\nvalues = [0.1]\nseeds = 3\n"),
            ":4:13: key 'sweep.parameter': unknown parameter \"network.drop_probabilty\"",
        ),
        (
            format!("[sweep]\nscenario = \"{partitions}\"\nmetric = \"ops_ok\"\nparameter = \"network.drop_probability\"\nvalues = [0.1, 7]\nseeds = 3\n"),
            ":5:16: key 'sweep.values[1]': network.drop_probability = 7 makes",
        ),
        (
            "[sweep]\nmetric = \"speed\"\nparameter = \"protocol.election_timeout\"\nvalues = [[\"1ms\", \"2ms\"]]\nseeds = 3\n".to_string(),
            ":2:10: key 'sweep.metric': unknown metric \"speed\"",
        ),
        // Each value keeps a checked copy of the scenario: a grid of millions
        // would take minutes and gigabytes before the first run.
        (
            format!("[sweep]\nscenario = \"{partitions}\"\nmetric = \"ops_ok\"\nparameter = \"network.drop_probability\"\nvalues = [{}0.1]\nseeds = 3\n", "0.1, ".repeat(10_000)),
            ":5:10: key 'sweep.values': expected at most 10000 values, got 10001",
        ),
        // The scenario is read capped (it was read until memory ran out).
        (
            "[sweep]\nscenario = \"/no/such.toml\"\nmetric = \"ops_ok\"\nparameter = \"network.drop_probability\"\nvalues = [0.1]\nseeds = 3\n".to_string(),
            ":2:12: key 'sweep.scenario': cannot read the scenario /no/such.toml: No such file",
        ),
        // `operation` picks the operations of a latency metric only.
        (
            format!("[sweep]\nscenario = \"{partitions}\"\nmetric = \"ops_ok\"\nparameter = \"network.drop_probability\"\nvalues = [0.1]\nseeds = 3\noperation = \"get\"\n"),
            ":7:13: key 'sweep.operation': 'operation' picks the operations a latency metric measures",
        ),
        // A grid of scenario files takes paths, and no `scenario` key.
        (
            "[sweep]\nmetric = \"ops_ok\"\nparameter = \"scenario\"\nvalues = [3]\nseeds = 3\n".to_string(),
            ":4:11: key 'sweep.values[0]': expected a scenario file path",
        ),
        (
            format!("[sweep]\nscenario = \"{partitions}\"\nmetric = \"ops_ok\"\nparameter = \"scenario\"\nvalues = [\"{partitions}\"]\nseeds = 3\n"),
            ":2:12: key 'sweep.scenario': with parameter = \"scenario\" the values are the scenario files",
        ),
    ];
    for (index, (body, expected)) in cases.iter().enumerate() {
        let file = dir.join(format!("bad{index}.toml"));
        std::fs::write(&file, body).unwrap();
        let output = faultline(&[
            "sweep",
            file.to_str().unwrap(),
            "--out",
            dir.to_str().unwrap(),
        ]);
        assert_eq!(output.status.code(), Some(2), "{}", text(&output));
        let printed = text(&output);
        assert!(
            printed.contains(&format!("bad{index}.toml{expected}")),
            "case {index}: {printed}"
        );
    }
    let file = dir.join("zero.toml");
    std::fs::write(
        &file,
        "[sweep]\nscenario = \"/dev/zero\"\nmetric = \"ops_ok\"\nparameter = \"network.drop_probability\"\nvalues = [0.1]\nseeds = 3\n",
    )
    .unwrap();
    let output = faultline(&[
        "sweep",
        file.to_str().unwrap(),
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert!(
        text(&output).contains(
            "error: /dev/zero:1:1: the scenario file holds a NUL byte (at offset 0); expected text"
        ),
        "{}",
        text(&output)
    );
}

#[test]
fn the_committed_lock_txn_and_quorum_charts_are_what_their_sweeps_draw() {
    let dir = scratch("lock-pauses");
    for name in [
        "lock_client_pauses_single",
        "lock_client_pauses_single_fenced",
        "lock_client_pauses_consensus",
        "lock_client_pauses_consensus_fenced",
        "lock_client_pauses_redlock",
        "lock_double_holder_clock_jumps",
        "txn_blocking_2pc",
        "txn_blocking_paxos_commit",
        "quorum_cap_minority",
        "quorum_cap_majority",
        "quorum_cap_linearizable",
        "quorum_pbs_lnkd_disk",
        "quorum_pbs_lnkd_ssd",
        "quorum_pbs_ymmr",
        "balancer_utilisation_90",
        "balancer_slow_backend",
        "mapreduce_backups",
    ] {
        let output = faultline(&[
            "sweep",
            &format!("scenarios/experiments/{name}.toml"),
            "--out",
            dir.to_str().unwrap(),
        ]);
        assert_eq!(output.status.code(), Some(0), "{}", text(&output));
        let drawn = svg(&dir, &format!("{name}.svg"));
        let committed = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("reports/{name}.svg")),
        )
        .unwrap();
        assert!(
            drawn == committed,
            "reports/{name}.svg is not what its sweep draws now: run `faultline sweep scenarios/experiments/{name}.toml --out reports` and commit the SVG"
        );
    }
}

#[test]
fn a_sweep_over_scenario_files_measures_one_operation_kind() {
    let dir = scratch("sweep-files");
    let output = faultline(&[
        "sweep",
        "scenarios/experiments/lock_acquire_p50.toml",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let printed = text(&output);
    assert!(
        printed.contains("median latency (ms) of acquire over scenario"),
        "{printed}"
    );
    for design in ["single", "redlock", "consensus"] {
        assert!(
            printed.contains(&format!("../lock/{design}.toml")),
            "{printed}"
        );
    }
    // Only acquires are measured: with every operation the medians differ.
    let json = std::fs::read_to_string(dir.join("lock_acquire_p50.json")).unwrap();
    assert!(json.contains("of acquire"), "{json}");
}

#[test]
fn a_paxos_run_report_charts_its_series_and_watching_changes_nothing() {
    watched("paxos/nemesis.toml");
    let dir = scratch("paxos");
    let output = faultline(&[
        "run",
        "scenarios/paxos/nemesis.toml",
        "--report",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    for series in [
        "series_promised_round",
        "series_leader",
        "series_applied_slot",
        "series_outstanding",
    ] {
        let chart = svg(&dir, &format!("{series}.svg"));
        assert!(chart.contains("Paxos"), "{series} has no title");
        assert_png(&dir, &format!("{series}.png"));
    }
}
