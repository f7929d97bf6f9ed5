//! `faultline check-history` end to end: verdicts, exit codes, pictures, and clear
//! errors (file and line) for malformed input.

use super::common::shared_data;
use std::path::PathBuf;
use std::process::{Command, Output};

fn faultline(arguments: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(arguments)
        .output()
        .expect("the faultline binary runs")
}

fn scratch(name: &str, text: &str) -> PathBuf {
    let directory = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("check_history_cli");
    std::fs::create_dir_all(&directory).unwrap();
    let path = directory.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn text(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

const STALE_READ: &str = concat!(
    r#"{"process":0,"type":"invoke","f":"write","value":1,"time":10}"#,
    "\n",
    r#"{"process":0,"type":"ok","f":"write","value":1,"time":20}"#,
    "\n",
    r#"{"process":1,"type":"invoke","f":"read","value":null,"time":30}"#,
    "\n",
    r#"{"process":1,"type":"ok","f":"read","value":null,"time":40}"#,
    "\n",
);

#[test]
fn a_stale_read_is_not_linearizable_and_draws_a_picture() {
    let history = scratch("stale.jsonl", STALE_READ);
    let picture = history.with_extension("svg");
    let output = faultline(&[
        "check-history",
        history.to_str().unwrap(),
        "--model",
        "register",
        "--svg",
        picture.to_str().unwrap(),
    ]);
    let (stdout, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(1), "{stdout}{stderr}");
    assert!(stdout.starts_with("not linearizable"), "{stdout}");
    assert!(
        stdout.contains("#1 process 1 (lines 3-4): read -> nil"),
        "{stdout}"
    );
    let svg = std::fs::read_to_string(&picture).unwrap();
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    assert!(svg.contains("#e04040"), "the culprit is highlighted");
}

/// The grey texts of a picture: its time axis's tick labels, then its caption.
fn axis_texts(svg: &str) -> Vec<&str> {
    svg.split("fill=\"#666666\">")
        .skip(1)
        .map(|rest| &rest[..rest.find("</text>").unwrap()])
        .collect()
}

#[test]
fn a_jepsen_log_picture_counts_lines_not_seconds() {
    let mut log = String::new();
    for (process, kind, f, value) in [
        (0, "invoke", "write", "1"),
        (0, "ok", "write", "1"),
        (1, "invoke", "read", "nil"),
        (1, "ok", "read", "nil"),
    ] {
        log.push_str(&format!(
            "2017-03-01 12:00:00,000 INFO  jepsen.util - {process}\t:{kind}\t:{f}\t{value}\n"
        ));
    }
    let history = scratch("stale.log", &log);
    let picture = history.with_extension("log.svg");
    let output = faultline(&[
        "check-history",
        history.to_str().unwrap(),
        "--model",
        "register",
        "--svg",
        picture.to_str().unwrap(),
    ]);
    let (stdout, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(1), "{stdout}{stderr}");
    let svg = std::fs::read_to_string(&picture).unwrap();
    let axis = axis_texts(&svg);
    let (caption, ticks) = axis.split_last().expect("an axis");
    assert!(caption.contains("line number"), "{axis:?}");
    assert!(!ticks.is_empty());
    for tick in ticks {
        assert!(tick.parse::<u64>().is_ok(), "tick {tick:?} is not a line");
    }
    // faultline's own history (times in ns) is ticked in time units instead.
    let jsonl = scratch("stale-ns.jsonl", &STALE_READ.replace("}", "000000}"));
    let picture = jsonl.with_extension("svg");
    let output = faultline(&[
        "check-history",
        jsonl.to_str().unwrap(),
        "--model",
        "register",
        "--svg",
        picture.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(1));
    let svg = std::fs::read_to_string(&picture).unwrap();
    let axis = axis_texts(&svg);
    assert_eq!(axis.last(), Some(&"history time"), "{axis:?}");
    assert!(axis.contains(&"20ms") && axis.contains(&"40ms"), "{axis:?}");
}

#[test]
fn a_linearizable_history_exits_zero() {
    let history = scratch(
        "fine.jsonl",
        &STALE_READ.replace(
            r#""ok","f":"read","value":null"#,
            r#""ok","f":"read","value":1"#,
        ),
    );
    let output = faultline(&[
        "check-history",
        history.to_str().unwrap(),
        "--model",
        "register",
    ]);
    let (stdout, _) = text(&output);
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(stdout.trim(), "linearizable");
}

#[test]
fn a_reference_history_checks_with_the_format_detected() {
    let file = shared_data("data/histories/kv/c01-bad.txt");
    let output = faultline(&[
        "check-history",
        file.to_str().unwrap(),
        "--model",
        "kv-append",
    ]);
    assert_eq!(output.status.code(), Some(1));
    let output = faultline(&[
        "check-history",
        file.to_str().unwrap(),
        "--model",
        "kv-append",
        "--max-states",
        "1",
    ]);
    // Per key, the append-chain shortcut decides without the search, so even a
    // budget of one state gives the verdict, and its reason.
    let (stdout, _) = text(&output);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stdout.starts_with("not linearizable") && stdout.contains("\nwhy: "),
        "{stdout}"
    );
    // As one model the search decides, and one state is not enough.
    let output = faultline(&[
        "check-history",
        file.to_str().unwrap(),
        "--model",
        "kv-append",
        "--no-partition",
        "--max-states",
        "1",
    ]);
    let (stdout, _) = text(&output);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stdout.starts_with("unknown") && stdout.contains("raise --max-states"),
        "{stdout}"
    );
}

#[test]
fn a_malformed_file_names_the_file_and_line_and_exits_two() {
    let history = scratch(
        "broken.edn",
        "{:process 0, :type :invoke, :f :read, :value nil}\n{:process 0, :type :ok, :f :read, :value [1 2}\n",
    );
    let output = faultline(&[
        "check-history",
        history.to_str().unwrap(),
        "--model",
        "register",
    ]);
    let (_, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("broken.edn:line 2"), "{stderr}");
    assert!(stderr.contains("expected"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn a_history_that_is_not_text_is_refused_at_its_first_bad_byte() {
    // Found by the bad-input campaign: /dev/zero was read until memory ran
    // out, and a byte that is not UTF-8 was refused with no line.
    let output = faultline(&["check-history", "/dev/zero", "--model", "register"]);
    let (_, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert_eq!(
        stderr,
        "error: /dev/zero:1:1: the history file holds a NUL byte (at offset 0); expected text\n"
    );
    let latin1 = scratch("latin1.jsonl", "");
    let mut bytes = STALE_READ.as_bytes().to_vec();
    bytes.extend_from_slice(b"{\"process\":2,\"type\":\"invoke\",\"f\":\"caf\xe9\"}\n");
    std::fs::write(&latin1, &bytes).unwrap();
    let output = faultline(&[
        "check-history",
        latin1.to_str().unwrap(),
        "--model",
        "register",
    ]);
    let (_, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "latin1.jsonl:5:38: the history file is not UTF-8 text (byte 0xe9 at offset {})",
            bytes.len() - 4
        )),
        "{stderr}"
    );
}

#[test]
fn a_completion_without_an_invocation_is_bad_input() {
    let history = scratch(
        "unpaired.jsonl",
        &STALE_READ.lines().skip(1).collect::<Vec<_>>().join("\n"),
    );
    let output = faultline(&[
        "check-history",
        history.to_str().unwrap(),
        "--model",
        "register",
        "--format",
        "jsonl",
    ]);
    let (_, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("line 1") && stderr.contains("no open invocation"),
        "{stderr}"
    );
}

#[test]
fn a_value_that_does_not_fit_the_model_is_bad_input() {
    let history = scratch(
        "badcas.jsonl",
        &STALE_READ.replace(r#""f":"write","value":1"#, r#""f":"cas","value":1"#),
    );
    let output = faultline(&[
        "check-history",
        history.to_str().unwrap(),
        "--model",
        "register",
    ]);
    let (_, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("[from to]"), "{stderr}");
}

#[test]
fn bad_arguments_exit_two() {
    let history = scratch("args.jsonl", STALE_READ);
    for arguments in [
        vec![
            "check-history",
            history.to_str().unwrap(),
            "--model",
            "queue",
        ],
        vec!["check-history", history.to_str().unwrap()],
        vec![
            "check-history",
            history.to_str().unwrap(),
            "--model",
            "register",
            "--max-states",
            "0",
        ],
        vec![
            "check-history",
            "/nonexistent/history.jsonl",
            "--model",
            "register",
        ],
        vec![
            "check-history",
            history.to_str().unwrap(),
            "--model",
            "register",
            "--format",
            "xml",
        ],
    ] {
        let output = faultline(&arguments);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{arguments:?}: {:?}",
            text(&output)
        );
    }
    let unknown_format = scratch("mystery.txt", "hello\n");
    let output = faultline(&[
        "check-history",
        unknown_format.to_str().unwrap(),
        "--model",
        "register",
    ]);
    let (_, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr.contains("--format"), "{stderr}");
}

#[test]
fn a_deadline_ends_a_long_check_with_unknown() {
    let file = shared_data("data/histories/kv/c10-bad.txt");
    // Unpartitioned, this history needs ~300k states: far more than 1 ms.
    let output = faultline(&[
        "check-history",
        file.to_str().unwrap(),
        "--model",
        "kv-append",
        "--no-partition",
        "--timeout-ms",
        "1",
    ]);
    let (stdout, _) = text(&output);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stdout.starts_with("unknown") && stdout.contains("deadline"),
        "{stdout}"
    );
}

#[test]
fn benchmarking_a_missing_directory_is_bad_input() {
    let output = faultline(&[
        "check-history",
        "--bench-reference",
        "/nonexistent/histories",
    ]);
    let (_, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr.contains("expected.tsv"), "{stderr}");
}
