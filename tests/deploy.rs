//! The committed GitHub Actions workflow, Kubernetes manifest and CI script take
//! their campaigns from the files (`faultline list --campaigns`), name only
//! scenario files that exist, and use fuzz flags the command accepts.

use std::path::Path;

fn read(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).unwrap()
}

/// Every `scenarios/....toml` path mentioned in `text`.
fn scenario_paths(text: &str) -> Vec<String> {
    text.split(|c: char| c.is_whitespace() || c == '"' || c == '\'')
        .filter_map(|word| {
            let start = word.find("scenarios/")?;
            let path = &word[start..];
            (path.ends_with(".toml") && !path.contains('*')).then(|| path.to_string())
        })
        .collect()
}

#[test]
fn the_ci_fuzz_files_name_real_scenarios_and_real_flags() {
    let help = std::process::Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(["fuzz", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout).into_owned();
    for file in [
        ".github/workflows/fuzz.yml",
        "deploy/fuzz-job.yaml",
        ".ci/run",
    ] {
        let text = read(file);
        // Campaigns come from the files, never from a hand-kept list.
        assert!(
            text.contains("list --campaigns"),
            "{file} does not take its campaigns from `faultline list --campaigns`"
        );
        for path in scenario_paths(&text) {
            let local = Path::new(env!("CARGO_MANIFEST_DIR")).join(&path);
            assert!(local.exists(), "{file} names {path}, which does not exist");
        }
        for flag in [
            "--seeds",
            "--shard",
            "--time-budget",
            "--report",
            "--count",
            "--junit",
        ] {
            if text.contains(flag) {
                assert!(help.contains(flag), "{file} uses {flag}, unknown to fuzz");
            }
        }
    }
    assert!(read("deploy/fuzz-job.yaml").contains("--shard auto"));
    assert!(read("deploy/fuzz-job.yaml").contains("JOB_COMPLETION_COUNT"));
}

#[test]
fn the_campaigns_are_the_shipped_scenarios_without_expect() {
    let registry = faultline::builtin();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let campaigns = registry.campaigns(&root).unwrap();
    for name in registry.names() {
        for file in registry.shipped(&root, name) {
            let text = std::fs::read_to_string(&file).unwrap();
            let table: toml::Table = text.parse().unwrap();
            assert_eq!(
                campaigns.contains(&file),
                !table.contains_key("expect"),
                "{}",
                file.display()
            );
        }
    }
    for protocol in ["raft", "paxos", "broadcast"] {
        assert!(
            campaigns
                .iter()
                .any(|file| file.starts_with(root.join(protocol))),
            "{protocol} has no campaign"
        );
    }
}

#[test]
fn the_nightly_workflow_runs_the_bad_input_campaign_at_a_larger_count() {
    let workflow = read(".github/workflows/fuzz.yml");
    assert!(
        workflow.contains("cargo test --release --test tests bad_input"),
        "the nightly workflow does not run the bad-input campaign"
    );
    let count: u64 = workflow
        .lines()
        .find_map(|line| line.trim().strip_prefix("FAULTLINE_BAD_INPUTS:"))
        .expect("the nightly workflow sets FAULTLINE_BAD_INPUTS")
        .trim()
        .parse()
        .unwrap();
    assert!(count > crate::bad_input::DEFAULT_INPUTS, "{count}");
}
