//! `faultline fuzz` and `faultline merge`.

use super::exit;
use crate::report;
use crate::runner::RunOutcome;
use crate::runner::fuzz::{FuzzOptions, FuzzSummary, SeedRange, fuzz};
use crate::scenario::ScenarioFile;
use std::path::{Path, PathBuf};

/// Validated arguments of `faultline fuzz`.
#[derive(Clone, Debug)]
pub struct FuzzArgs {
    /// Scenario file.
    pub scenario: String,
    /// Seeds in the campaign.
    pub seeds: u64,
    /// First seed.
    pub first: u64,
    /// Worker threads (0 = one per core).
    pub jobs: usize,
    /// `I/N`, or `N` to take `I` from `JOB_COMPLETION_INDEX`.
    pub shard: Option<String>,
    /// Where to write fuzz.json, junit.xml and failing runs' reports.
    pub report: Option<PathBuf>,
    /// Skip the random nemesis.
    pub no_nemesis: bool,
}

/// Parses `I/N`, or `N` with `I` from the `JOB_COMPLETION_INDEX` environment
/// variable (Kubernetes Indexed Jobs).
pub fn parse_shard(spec: &str, job_index: Option<&str>) -> Result<(u64, u64), String> {
    let expected = "expected --shard I/N (0 <= I < N), or --shard N with JOB_COMPLETION_INDEX set";
    let (index, count) = match spec.split_once('/') {
        Some((index, count)) => (index.trim().to_string(), count.trim().to_string()),
        None => match job_index {
            Some(index) => (index.trim().to_string(), spec.trim().to_string()),
            None => {
                return Err(format!(
                    "{expected}; got \"{spec}\" and no JOB_COMPLETION_INDEX"
                ));
            }
        },
    };
    let index: u64 = index
        .parse()
        .map_err(|_| format!("{expected}; got shard index \"{index}\""))?;
    let count: u64 = count
        .parse()
        .map_err(|_| format!("{expected}; got shard count \"{count}\""))?;
    if count == 0 || index >= count {
        return Err(format!("{expected}; got {index}/{count}"));
    }
    Ok((index, count))
}

fn print_failure(outcome: &RunOutcome) {
    let summary = &outcome.summary;
    if let Some(first) = summary.violations.first() {
        eprintln!(
            "FAIL seed {}: {} ({}) at {}: {}",
            summary.seed,
            first.checker,
            first.property,
            crate::sim::time::format_nanos(first.time),
            first.message.lines().next().unwrap_or("")
        );
        if let Some(draw) = &outcome.swarm {
            eprintln!("     swarm {}", draw.describe());
        }
        eprintln!("     reproduce: {}", summary.repro);
    }
}

/// Prints a campaign summary.
pub fn print_summary(summary: &FuzzSummary) {
    super::print_scenario_line(&summary.scenario, &summary.protocol, &summary.bugs);
    let shards = if summary.shards > 1 {
        format!(
            ", shards {:?} of {}",
            summary.shards_included, summary.shards
        )
    } else {
        String::new()
    };
    println!(
        "seeds     {}..={}{shards}: {} run, {} passed, {} failed ({} events)",
        summary.first_seed,
        summary.first_seed + summary.seed_count.saturating_sub(1),
        summary.runs,
        summary.passed,
        summary.failures.len(),
        summary.events
    );
    if !summary.sometimes.is_empty() {
        let reached: Vec<String> = summary
            .sometimes
            .iter()
            .map(|(name, count)| format!("{name} {count}/{}", summary.runs))
            .collect();
        println!("sometimes {}", reached.join(", "));
        let never = summary.never_reached();
        if !never.is_empty() {
            println!(
                "never     {} (no run reached these; widen the faults)",
                never.join(", ")
            );
        }
    }
    for failure in summary.failures.iter().take(20) {
        println!(
            "FAIL seed {}: {} ({}): {}",
            failure.seed,
            failure.violation.checker,
            failure.violation.property,
            failure.violation.message.lines().next().unwrap_or("")
        );
        println!("     reproduce: {}", failure.repro);
    }
    if summary.failures.len() > 20 {
        println!(
            "... and {} more failing seeds (all in fuzz.json)",
            summary.failures.len() - 20
        );
    }
    println!(
        "verdict   {}",
        if summary.failures.is_empty() {
            "PASS"
        } else {
            "FAIL"
        }
    );
}

fn write_summary(dir: &Path, summary: &FuzzSummary) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let json = serde_json::to_string_pretty(summary).expect("fuzz summaries serialise");
    report::write_atomic(&dir.join("fuzz.json"), json.as_bytes())?;
    report::write_atomic(&dir.join("junit.xml"), summary.junit_xml().as_bytes())
}

/// Runs `faultline fuzz`; returns the exit code.
pub fn run(args: &FuzzArgs, job_index: Option<&str>) -> i32 {
    let file = match ScenarioFile::read(&args.scenario) {
        Ok(file) => file,
        Err(error) => {
            eprintln!("error: {error}");
            return exit::BAD_INPUT;
        }
    };
    let (shard, shards) = match &args.shard {
        None => (0, 1),
        Some(spec) => match parse_shard(spec, job_index) {
            Ok(shard) => shard,
            Err(message) => {
                eprintln!("error: {message}");
                return exit::BAD_INPUT;
            }
        },
    };
    if args.seeds == 0 {
        eprintln!("error: --seeds must be at least 1");
        return exit::BAD_INPUT;
    }
    let jobs = if args.jobs == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        args.jobs
    };
    let options = FuzzOptions {
        seeds: SeedRange {
            first: args.first,
            count: args.seeds,
            shard,
            shards,
        },
        jobs,
        nemesis: !args.no_nemesis,
    };
    let (summary, failing) = match fuzz(&file, &options, &print_failure) {
        Ok(found) => found,
        Err(error) => {
            eprintln!("error: {error}");
            return exit::BAD_INPUT;
        }
    };
    print_summary(&summary);
    if let Some(dir) = &args.report {
        let written = write_summary(dir, &summary).and_then(|()| {
            report::fuzz_charts::write_fuzz_charts(dir, &summary.seed_results.0)?;
            for outcome in &failing {
                let seed_dir = dir
                    .join("failures")
                    .join(format!("seed-{}", outcome.summary.seed));
                report::write_run(&seed_dir, &outcome.summary, &outcome.history, &file.text)?;
            }
            Ok(())
        });
        if let Err(error) = written {
            eprintln!(
                "error: writing the fuzz report to {} failed: {error}",
                dir.display()
            );
            return exit::INTERNAL;
        }
        println!(
            "report    {} (junit.xml beside it; failing seeds under failures/)",
            dir.join("fuzz.json").display()
        );
    }
    if summary.failures.is_empty() {
        exit::OK
    } else {
        exit::CHECK_FAILED
    }
}

/// Runs `faultline merge OUT IN...`: joins shard reports of one campaign.
pub fn merge(out: &Path, inputs: &[PathBuf]) -> i32 {
    let mut merged: Option<FuzzSummary> = None;
    for input in inputs {
        let path = if input.is_dir() {
            input.join("fuzz.json")
        } else {
            input.clone()
        };
        let summary: FuzzSummary = match super::read_json(&path, "fuzz summary") {
            Ok(summary) => summary,
            Err(message) => {
                eprintln!("error: {message}");
                return exit::BAD_INPUT;
            }
        };
        match &mut merged {
            None => merged = Some(summary),
            Some(total) => {
                if let Err(message) = total.merge(&summary) {
                    eprintln!("error: {}: {message}", path.display());
                    return exit::BAD_INPUT;
                }
            }
        }
    }
    let Some(merged) = merged else {
        eprintln!("error: merge needs at least one fuzz report");
        return exit::BAD_INPUT;
    };
    print_summary(&merged);
    if (merged.shards_included.len() as u64) < merged.shards {
        println!(
            "note      only {} of {} shards merged",
            merged.shards_included.len(),
            merged.shards
        );
    }
    if let Err(error) = write_summary(out, &merged) {
        eprintln!("error: writing {} failed: {error}", out.display());
        return exit::INTERNAL;
    }
    println!("report    {}", out.join("fuzz.json").display());
    if merged.failures.is_empty() {
        exit::OK
    } else {
        exit::CHECK_FAILED
    }
}

#[cfg(test)]
mod tests {
    use super::parse_shard;

    #[test]
    fn shard_specs_parse_or_explain() {
        assert_eq!(parse_shard("2/5", None), Ok((2, 5)));
        assert_eq!(parse_shard("5", Some("3")), Ok((3, 5)));
        assert!(parse_shard("5/5", None).unwrap_err().contains("got 5/5"));
        assert!(
            parse_shard("4", None)
                .unwrap_err()
                .contains("no JOB_COMPLETION_INDEX")
        );
        assert!(
            parse_shard("a/3", None)
                .unwrap_err()
                .contains("shard index \"a\"")
        );
    }
}
