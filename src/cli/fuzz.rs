//! `faultline fuzz` and `faultline merge`.

use super::exit;
use crate::report;
use crate::runner::fuzz::{FuzzOptions, FuzzSummary, SeedRange, fuzz};
use crate::runner::{Registry, RunOutcome};
use crate::scenario::ScenarioFile;
use std::path::{Path, PathBuf};

/// Validated arguments of `faultline fuzz`.
#[derive(Clone, Debug, Default)]
pub struct FuzzArgs {
    /// Scenario files.
    pub scenarios: Vec<String>,
    /// `A..B` (B excluded), `A..=B`, or a count of seeds from `first`.
    pub seeds: Option<String>,
    /// A count of seeds from `first`.
    pub count: Option<u64>,
    /// First seed (with a count).
    pub first: u64,
    /// Worker threads (0 = one per core).
    pub jobs: usize,
    /// `I/N`, `N` (I from `JOB_COMPLETION_INDEX`) or `auto`.
    pub shard: Option<String>,
    /// Take no new seed after this long (`"10m"`, `"90s"`).
    pub time_budget: Option<String>,
    /// Stop at the first failing seed.
    pub stop_on_first: bool,
    /// Where to write fuzz.json, junit.xml, charts and failing runs' reports.
    pub report: Option<PathBuf>,
    /// Where to write a JUnit XML file for all scenarios.
    pub junit: Option<PathBuf>,
    /// Shrink each scenario's first failing seed.
    pub shrink: bool,
    /// Skip the random nemesis.
    pub no_nemesis: bool,
}

/// The seed range from `--seeds`/`--count`/`--first`: (first, count).
pub fn parse_seeds(
    seeds: Option<&str>,
    count: Option<u64>,
    first: u64,
) -> Result<(u64, u64), String> {
    let expected = "expected --seeds A..B (B excluded), --seeds A..=B, --seeds N or --count N";
    let (first, count) = match (seeds, count) {
        (Some(_), Some(_)) => return Err(format!("{expected}, not both --seeds and --count")),
        (None, Some(count)) => (first, count),
        (None, None) => (first, 100),
        (Some(spec), None) => {
            let number = |text: &str| {
                text.trim()
                    .parse::<u64>()
                    .map_err(|_| format!("{expected}; got \"{spec}\""))
            };
            if let Some((low, high)) = spec.split_once("..=") {
                let (low, high) = (number(low)?, number(high)?);
                // high + 1 - low, without overflowing at u64::MAX.
                let count = match high.checked_sub(low) {
                    None => 0,
                    Some(span) => span.checked_add(1).ok_or_else(|| {
                        format!("{expected}; the range {spec} has more than 2^64 - 1 seeds")
                    })?,
                };
                (low, count)
            } else if let Some((low, high)) = spec.split_once("..") {
                let (low, high) = (number(low)?, number(high)?);
                (low, high.saturating_sub(low))
            } else {
                (first, number(spec)?)
            }
        }
    };
    if count == 0 {
        return Err(format!("{expected}; the range is empty"));
    }
    if first.checked_add(count).is_none() {
        return Err(format!("{expected}; the range overflows u64"));
    }
    Ok((first, count))
}

/// Parses `I/N`; `N` with `I` from the `JOB_COMPLETION_INDEX` environment
/// variable (Kubernetes Indexed Jobs); or `auto`, with `N` from
/// `JOB_COMPLETION_COUNT` too (set it from the Job's `completions`).
pub fn parse_shard(
    spec: &str,
    job_index: Option<&str>,
    job_count: Option<&str>,
) -> Result<(u64, u64), String> {
    let expected = "expected --shard I/N (0 <= I < N), --shard N with JOB_COMPLETION_INDEX set, or --shard auto with JOB_COMPLETION_INDEX and JOB_COMPLETION_COUNT set";
    let (index, count) = if spec.trim() == "auto" {
        match (job_index, job_count) {
            (Some(index), Some(count)) => (index.trim().to_string(), count.trim().to_string()),
            _ => {
                return Err(format!(
                    "{expected}; got auto, but JOB_COMPLETION_INDEX or JOB_COMPLETION_COUNT is not set"
                ));
            }
        }
    } else {
        match spec.split_once('/') {
            Some((index, count)) => (index.trim().to_string(), count.trim().to_string()),
            None => match job_index {
                Some(index) => (index.trim().to_string(), spec.trim().to_string()),
                None => {
                    return Err(format!(
                        "{expected}; got \"{spec}\" and no JOB_COMPLETION_INDEX"
                    ));
                }
            },
        }
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
            "FAIL seed {}: {} ({}) [{}] at {}: {}",
            summary.seed,
            first.checker,
            first.property,
            first.name,
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
    let undecided = if summary.undecided > 0 {
        format!(" ({} of them undecided)", summary.undecided)
    } else {
        String::new()
    };
    println!(
        "seeds     {}..={}{shards}: {} run, {} passed, {} failed{undecided} ({} events)",
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
    if let Some(reason) = &summary.stopped {
        println!("stopped   {reason}");
    }
    let by_checker = summary.failures_by_checker();
    if !by_checker.is_empty() {
        let parts: Vec<String> = by_checker
            .iter()
            .map(|(checker, count)| format!("{checker} {count}"))
            .collect();
        println!("failed by {}", parts.join(", "));
    }
    let results = &summary.seed_results.0;
    if !results.is_empty() {
        // Wall-clock figures: printed, never stored in fuzz.json.
        let mut slowest: Vec<_> = results.iter().collect();
        slowest.sort_by_key(|result| std::cmp::Reverse(result.wall));
        let slowest: Vec<String> = slowest
            .iter()
            .take(3)
            .map(|result| format!("{} ({:.0} ms)", result.seed, result.wall as f64 / 1e6))
            .collect();
        let elapsed = results
            .iter()
            .map(|result| result.finished_after)
            .max()
            .unwrap_or(0);
        println!(
            "speed     {:.1} seeds/s; slowest seeds {}",
            results.len() as f64 / (elapsed.max(1) as f64 / 1e9),
            slowest.join(", ")
        );
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
            "... and {} more failing seeds (all in fuzz.json with --report DIR)",
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

/// Failing seeds of a campaign whose reports get charts and `index.html` (each
/// costs a second, watched run); the rest get summary and history only.
const CHARTED_FAILURES: usize = 20;

/// Where each scenario's report goes: `DIR` itself for one scenario, else
/// `DIR/<folder>_<file stem>` (`DIR/raft_nemesis` for
/// `scenarios/raft/nemesis.toml`; the stem alone for a file directly under
/// `scenarios/` or the current directory; numbered when two names collide).
fn report_dirs(dir: &Path, scenarios: &[String]) -> Vec<PathBuf> {
    if scenarios.len() == 1 {
        return vec![dir.to_path_buf()];
    }
    let mut used = std::collections::BTreeSet::new();
    scenarios
        .iter()
        .map(|scenario| {
            let path = Path::new(scenario);
            let file_stem = path.file_stem().map_or("scenario".into(), |stem| {
                stem.to_string_lossy().into_owned()
            });
            let folder = path
                .parent()
                .and_then(Path::file_name)
                .map(|name| name.to_string_lossy().into_owned())
                .filter(|name| name != "scenarios" && name != ".");
            let stem = match folder {
                Some(folder) => format!("{folder}_{file_stem}"),
                None => file_stem,
            };
            let mut name = stem.clone();
            let mut n = 2;
            while !used.insert(name.clone()) {
                name = format!("{stem}-{n}");
                n += 1;
            }
            dir.join(name)
        })
        .collect()
}

/// A progress display: an indicatif bar on a terminal, nothing otherwise (CI
/// logs get the failure lines and the summary only).
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    failures: std::sync::atomic::AtomicU64,
}

impl Progress {
    fn new(scenario: &str, seeds: u64, budget: Option<std::time::Duration>) -> Progress {
        use std::io::IsTerminal;
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::new(seeds);
            let template = match budget {
                None => "{prefix} [{bar:30}] {pos}/{len} seeds, {per_sec}, {msg}, eta {eta}",
                Some(_) => "{prefix} [{bar:30}] {pos}/{len} seeds, {per_sec}, {msg}, {elapsed} of the budget",
            };
            if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_prefix(scenario.to_string());
            bar.set_message("0 failed");
            bar
        });
        Progress {
            bar,
            failures: std::sync::atomic::AtomicU64::new(0),
        }
    }

    fn seed_done(&self, outcome: &RunOutcome) {
        use std::sync::atomic::Ordering;
        let failed = outcome.summary.verdict != report::Verdict::Pass;
        if failed {
            self.failures.fetch_add(1, Ordering::Relaxed);
        }
        match &self.bar {
            Some(bar) => {
                if failed {
                    bar.suspend(|| print_failure(outcome));
                    bar.set_message(format!("{} failed", self.failures.load(Ordering::Relaxed)));
                }
                bar.inc(1);
            }
            None if failed => print_failure(outcome),
            None => {}
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// Runs `faultline fuzz`; returns the exit code.
pub fn run(
    registry: &Registry,
    args: &FuzzArgs,
    job_index: Option<&str>,
    job_count: Option<&str>,
) -> i32 {
    if args.scenarios.is_empty() {
        eprintln!("error: fuzz needs at least one scenario file");
        return exit::BAD_INPUT;
    }
    // Read and validate every file first: a typo in the last one should not
    // wait for the first one's campaign.
    let mut files = Vec::new();
    for scenario in &args.scenarios {
        match ScenarioFile::read(scenario).and_then(|file| {
            registry.validate_file(&file)?;
            Ok(file)
        }) {
            Ok(file) => files.push(file),
            Err(error) => {
                eprintln!("error: {error}");
                return exit::BAD_INPUT;
            }
        }
    }
    let (shard, shards) = match &args.shard {
        None => (0, 1),
        Some(spec) => match parse_shard(spec, job_index, job_count) {
            Ok(shard) => shard,
            Err(message) => {
                eprintln!("error: {message}");
                return exit::BAD_INPUT;
            }
        },
    };
    let (first, count) = match parse_seeds(args.seeds.as_deref(), args.count, args.first) {
        Ok(range) => range,
        Err(message) => {
            eprintln!("error: {message}");
            return exit::BAD_INPUT;
        }
    };
    let time_budget = match &args.time_budget {
        None => None,
        Some(text) => match crate::sim::time::parse_nanos(text, false) {
            Ok(nanos) if nanos > 0 => Some(std::time::Duration::from_nanos(nanos as u64)),
            Ok(_) => {
                eprintln!("error: --time-budget must be positive, got \"{text}\"");
                return exit::BAD_INPUT;
            }
            Err(message) => {
                eprintln!("error: --time-budget \"{text}\": {message} (e.g. \"10m\", \"90s\")");
                return exit::BAD_INPUT;
            }
        },
    };
    let jobs = if args.jobs == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        args.jobs
    };
    let started = std::time::Instant::now();
    let dirs = args
        .report
        .as_ref()
        .map(|dir| report_dirs(dir, &args.scenarios));
    let mut summaries = Vec::new();
    let mut code = exit::OK;
    for (position, file) in files.iter().enumerate() {
        let options = FuzzOptions {
            seeds: SeedRange {
                first,
                count,
                shard,
                shards,
            },
            jobs,
            nemesis: !args.no_nemesis,
            stop_on_first: args.stop_on_first,
            // One budget for the whole command, shared by its scenarios in turn.
            time_budget: time_budget.map(|budget| budget.saturating_sub(started.elapsed())),
        };
        let progress = Progress::new(&file.file, options.seeds.len(), time_budget);
        let found = fuzz(registry, file, &options, &|outcome| {
            progress.seed_done(outcome)
        });
        progress.finish();
        let (summary, failing) = match found {
            Ok(found) => found,
            Err(error) => {
                eprintln!("error: {error}");
                return exit::BAD_INPUT;
            }
        };
        print_summary(&summary);
        if let Some(dirs) = &dirs {
            let dir = &dirs[position];
            let written = write_summary(dir, &summary).and_then(|()| {
                report::fuzz_charts::write_fuzz_charts(dir, &summary.seed_results.0)?;
                for (rank, outcome) in failing.iter().enumerate() {
                    let seed_dir = dir
                        .join("failures")
                        .join(format!("seed-{}", outcome.summary.seed));
                    if rank >= CHARTED_FAILURES {
                        report::write_run(
                            &seed_dir,
                            &outcome.summary,
                            &outcome.history,
                            &file.text,
                        )?;
                        continue;
                    }
                    // Charted: run the seed again, watched (the same run: watching
                    // changes nothing), and write its full report.
                    let options = crate::runner::RunOptions {
                        seed: outcome.summary.seed,
                        nemesis: options.nemesis,
                        sink: None,
                    };
                    match registry.observe_file(file, &options) {
                        Ok(observed) => {
                            super::run::write_observed_report(&seed_dir, file, &observed)?;
                        }
                        Err(_) => {
                            report::write_run(
                                &seed_dir,
                                &outcome.summary,
                                &outcome.history,
                                &file.text,
                            )?;
                        }
                    }
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
                "report    {} (junit.xml and charts beside it; failing seeds under failures/, the first {CHARTED_FAILURES} with charts)",
                dir.join("fuzz.json").display()
            );
        }
        if let (true, Some(failure)) = (args.shrink, summary.failures.first()) {
            let out = match &dirs {
                Some(dirs) => dirs[position].join(format!("shrunk-seed-{}.toml", failure.seed)),
                None => PathBuf::from(format!(
                    "{}_seed{}.shrunk.toml",
                    Path::new(&file.file)
                        .file_stem()
                        .map_or("scenario".into(), |stem| stem
                            .to_string_lossy()
                            .into_owned()),
                    failure.seed
                )),
            };
            println!("shrink    seed {} (the first failing seed)", failure.seed);
            let shrunk = super::shrink::run(
                registry,
                &super::shrink::ShrinkArgs {
                    scenario: file.file.clone(),
                    seed: failure.seed,
                    out: Some(out),
                    no_nemesis: args.no_nemesis,
                    max_runs: crate::runner::shrink::ShrinkOptions::default().max_runs,
                },
            );
            if shrunk == exit::INTERNAL {
                return exit::INTERNAL;
            }
        }
        if !summary.failures.is_empty() {
            code = exit::CHECK_FAILED;
        }
        summaries.push(summary);
    }
    let junit = crate::runner::fuzz::junit_xml(&summaries);
    if summaries.len() > 1
        && let Some(dir) = &args.report
        && let Err(error) = report::write_atomic(&dir.join("junit.xml"), junit.as_bytes())
    {
        eprintln!(
            "error: writing {} failed: {error}",
            dir.join("junit.xml").display()
        );
        return exit::INTERNAL;
    }
    if let Some(path) = &args.junit {
        if let Err(error) = report::write_atomic(path, junit.as_bytes()) {
            eprintln!(
                "error: writing the JUnit file {} failed: {error}",
                path.display()
            );
            return exit::INTERNAL;
        }
        println!("junit     {}", path.display());
    }
    if summaries.len() > 1 {
        let failed: usize = summaries.iter().map(|summary| summary.failures.len()).sum();
        println!(
            "total     {} scenarios, {} seeds run, {failed} failed",
            summaries.len(),
            summaries.iter().map(|summary| summary.runs).sum::<u64>()
        );
    }
    code
}

/// The fuzz.json files of a report: `DIR/fuzz.json` for one scenario, else
/// `DIR/*/fuzz.json` (a multi-scenario report), in name order; a file is itself.
fn summary_files(input: &Path) -> Vec<PathBuf> {
    if !input.is_dir() {
        return vec![input.to_path_buf()];
    }
    let own = input.join("fuzz.json");
    if own.exists() {
        return vec![own];
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir(input)
        .map(|entries| {
            entries
                .filter_map(|entry| entry.ok().map(|entry| entry.path().join("fuzz.json")))
                .filter(|path| path.exists())
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    if found.is_empty() {
        found.push(own); // reported as missing when read
    }
    found
}

/// Runs `faultline merge OUT IN...`: joins shard reports of one campaign, or of
/// several scenarios' campaigns (matched by scenario, seeds and nemesis).
pub fn merge(out: &Path, inputs: &[PathBuf]) -> i32 {
    let mut merged: Vec<FuzzSummary> = Vec::new();
    for input in inputs {
        for path in summary_files(input) {
            let summary: FuzzSummary = match super::read_json(&path, "fuzz summary") {
                Ok(summary) => summary,
                Err(message) => {
                    eprintln!("error: {message}");
                    return exit::BAD_INPUT;
                }
            };
            if let Err(message) = summary.check_counts() {
                eprintln!("error: {}: {message}", path.display());
                return exit::BAD_INPUT;
            }
            // Shards of one scenario must be shards of one campaign: `merge`
            // names the field that differs rather than keeping them apart.
            let same_campaign = |total: &FuzzSummary| total.scenario_hash == summary.scenario_hash;
            match merged.iter_mut().find(|total| same_campaign(total)) {
                None => merged.push(summary),
                Some(total) => {
                    if let Err(message) = total.merge(&summary) {
                        eprintln!("error: {}: {message}", path.display());
                        return exit::BAD_INPUT;
                    }
                }
            }
        }
    }
    if merged.is_empty() {
        eprintln!("error: merge needs at least one fuzz report");
        return exit::BAD_INPUT;
    }
    let scenarios: Vec<String> = merged
        .iter()
        .map(|summary| summary.scenario.clone())
        .collect();
    let dirs = report_dirs(out, &scenarios);
    for (summary, dir) in merged.iter().zip(&dirs) {
        print_summary(summary);
        if (summary.shards_included.len() as u64) < summary.shards {
            println!(
                "note      only {} of {} shards merged",
                summary.shards_included.len(),
                summary.shards
            );
        }
        if let Err(error) = write_summary(dir, summary) {
            eprintln!("error: writing {} failed: {error}", dir.display());
            return exit::INTERNAL;
        }
        println!("report    {}", dir.join("fuzz.json").display());
    }
    if merged.len() > 1 {
        let junit = crate::runner::fuzz::junit_xml(&merged);
        if let Err(error) = report::write_atomic(&out.join("junit.xml"), junit.as_bytes()) {
            eprintln!(
                "error: writing {} failed: {error}",
                out.join("junit.xml").display()
            );
            return exit::INTERNAL;
        }
    }
    if merged.iter().all(|summary| summary.failures.is_empty()) {
        exit::OK
    } else {
        exit::CHECK_FAILED
    }
}

#[cfg(test)]
mod tests {
    use super::{parse_seeds, parse_shard};

    #[test]
    fn shard_specs_parse_or_explain() {
        assert_eq!(parse_shard("2/5", None, None), Ok((2, 5)));
        assert_eq!(parse_shard("5", Some("3"), None), Ok((3, 5)));
        assert_eq!(parse_shard("auto", Some("3"), Some("8")), Ok((3, 8)));
        assert!(
            parse_shard("auto", Some("3"), None)
                .unwrap_err()
                .contains("JOB_COMPLETION_COUNT")
        );
        assert!(
            parse_shard("5/5", None, None)
                .unwrap_err()
                .contains("got 5/5")
        );
        assert!(
            parse_shard("4", None, None)
                .unwrap_err()
                .contains("no JOB_COMPLETION_INDEX")
        );
        assert!(
            parse_shard("a/3", None, None)
                .unwrap_err()
                .contains("shard index \"a\"")
        );
    }

    #[test]
    fn seed_ranges_parse_or_explain() {
        assert_eq!(parse_seeds(None, None, 1), Ok((1, 100)));
        assert_eq!(parse_seeds(Some("500"), None, 7), Ok((7, 500)));
        assert_eq!(parse_seeds(Some("10..20"), None, 1), Ok((10, 10)));
        assert_eq!(parse_seeds(Some("10..=20"), None, 1), Ok((10, 11)));
        assert_eq!(parse_seeds(None, Some(30), 5), Ok((5, 30)));
        assert!(
            parse_seeds(Some("5"), Some(5), 1)
                .unwrap_err()
                .contains("not both")
        );
        assert!(
            parse_seeds(Some("20..10"), None, 1)
                .unwrap_err()
                .contains("empty")
        );
        assert!(
            parse_seeds(Some("x..3"), None, 1)
                .unwrap_err()
                .contains("got \"x..3\"")
        );
    }
}
