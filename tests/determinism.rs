//! Same seed, same scenario, same trace hash — always; and nondeterminism, when a
//! protocol smuggles it in, is caught with exit code 3.

use crate::common::run_file;
use faultline::runner::RunOptions;
use faultline::scenario::ScenarioFile;
use std::process::Command;

fn scenario(name: &str) -> ScenarioFile {
    let path = format!("{}/scenarios/{name}", env!("CARGO_MANIFEST_DIR"));
    ScenarioFile::read(&path).unwrap_or_else(|error| panic!("{error}"))
}

fn shortened(file: &ScenarioFile) -> ScenarioFile {
    let text = file
        .text
        .replace("duration = \"10s\"", "duration = \"3s\"")
        .replace("liveness_window = \"5s\"", "liveness_window = \"2s\"");
    ScenarioFile::from_text(&file.file, text).unwrap()
}

#[test]
fn five_hundred_faulty_seeds_each_give_the_same_trace_twice() {
    let file = shortened(&scenario("broadcast/nemesis.toml"));
    let mut distinct = std::collections::BTreeSet::new();
    for seed in 0..500 {
        let first = run_file(&file, &RunOptions::seed(seed)).unwrap();
        let second = run_file(&file, &RunOptions::seed(seed)).unwrap();
        assert_eq!(
            first.summary.trace_hash, second.summary.trace_hash,
            "seed {seed} diverged"
        );
        assert_eq!(first.summary.events, second.summary.events, "seed {seed}");
        assert_eq!(first.history, second.history, "seed {seed}");
        distinct.insert(first.summary.trace_hash);
    }
    assert_eq!(
        distinct.len(),
        500,
        "different seeds should give different runs"
    );
}

#[test]
fn the_benchmark_and_the_scenario_run_the_same_events() {
    let bench = faultline::protocols::token_forward::bench(10);
    assert_eq!(bench.deliveries, 999_900);
    let outcome = run_file(&scenario("token_forward/tokens.toml"), &RunOptions::seed(1)).unwrap();
    assert_eq!(
        format!("{:016x}", bench.trace_hash),
        outcome.summary.trace_hash
    );
}

#[test]
fn a_nondeterministic_node_is_caught_with_exit_code_3() {
    let dir = std::env::temp_dir().join(format!("faultline-nondeterminism-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("nondeterministic.toml");
    std::fs::write(
        &path,
        "duration = \"1s\"\nliveness_window = \"0s\"\n[protocol]\nname = \"token_forward\"\nbugs = [\"nondeterministic\"]\ntokens = 10\n[cluster]\nnodes = 4\n[workload]\nclients = 0\n",
    )
    .unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(["run", path.to_str().unwrap(), "--check-determinism"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(3), "{stdout}");
    assert!(stdout.contains("NONDETERMINISM"), "{stdout}");
    assert!(stdout.contains("first divergent event: #"), "{stdout}");

    // The same protocol without the bug passes the check.
    std::fs::write(
        &path,
        std::fs::read_to_string(&path)
            .unwrap()
            .replace("bugs = [\"nondeterministic\"]\n", ""),
    )
    .unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(["run", path.to_str().unwrap(), "--check-determinism"])
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn the_nondeterministic_planted_bug_is_caught_on_its_shipped_scenario() {
    let file = crate::common::shipped_with_bug("token_forward", "tokens.toml", "nondeterministic");
    let dir = crate::common::scratch("determinism", "tokens");
    let path = dir.join("tokens_nondeterministic.toml");
    std::fs::write(&path, &file.text).unwrap();
    let path = path.display().to_string();
    let code = faultline::cli::run_with_args(
        &faultline::builtin(),
        ["faultline", "run", &path, "--check-determinism"],
    );
    assert_eq!(code, 3, "--check-determinism must catch the planted bug");
    std::fs::remove_dir_all(&dir).ok();
}
