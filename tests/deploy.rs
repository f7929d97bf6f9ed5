//! The committed GitHub Actions workflow and Kubernetes manifest name scenario
//! files that exist and fuzz flags the command accepts.

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
        let paths = scenario_paths(&text);
        assert!(!paths.is_empty(), "{file} names no scenario");
        for path in paths {
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
