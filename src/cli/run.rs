//! `faultline run` and `faultline replay`.

use super::exit;
use crate::report::run_charts::RunView;
use crate::report::{self, Summary, Verdict};
use crate::runner::{Registry, RunOptions, RunOutcome};
use crate::scenario::ScenarioFile;
use crate::sim::time::format_nanos;
use crate::sim::trace::{JsonLinesSink, MemorySink, SharedSink, TraceRecord};
use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// Validated arguments of `faultline run`.
#[derive(Clone, Debug)]
pub struct RunArgs {
    /// Scenario file.
    pub scenario: String,
    /// Seed (default: the scenario's).
    pub seed: Option<u64>,
    /// Report directory.
    pub report: Option<PathBuf>,
    /// Trace output file (JSON lines).
    pub trace: Option<PathBuf>,
    /// Run twice and compare traces.
    pub check_determinism: bool,
    /// Skip the random nemesis.
    pub no_nemesis: bool,
}

fn read_scenario(path: &str) -> Result<(ScenarioFile, u64), i32> {
    let file = ScenarioFile::read(path).map_err(|error| {
        eprintln!("error: {error}");
        exit::BAD_INPUT
    })?;
    // The default seed comes from the file; parse once to learn it (and report
    // every error before anything runs).
    let seed = toml::from_str::<toml::Table>(&file.text)
        .ok()
        .and_then(|table| table.get("seed").and_then(|seed| seed.as_integer()))
        .map_or(1, |seed| seed as u64);
    Ok((file, seed))
}

/// Runs `faultline run`; returns the exit code.
pub fn run(registry: &Registry, args: &RunArgs) -> i32 {
    let (file, default_seed) = match read_scenario(&args.scenario) {
        Ok(found) => found,
        Err(code) => return code,
    };
    let seed = args.seed.unwrap_or(default_seed);
    if args.check_determinism {
        if args.trace.is_some() || args.report.is_some() {
            eprintln!(
                "error: --check-determinism runs the seed twice and writes no trace or report; drop --trace/--report"
            );
            return exit::BAD_INPUT;
        }
        return check_determinism(registry, &file, seed, args.no_nemesis);
    }
    let mut options = RunOptions {
        seed,
        nemesis: !args.no_nemesis,
        sink: None,
    };
    let trace_sink = match &args.trace {
        Some(path) => match std::fs::File::create(path) {
            Ok(handle) => {
                let sink = Rc::new(RefCell::new(JsonLinesSink::new(std::io::BufWriter::new(
                    handle,
                ))));
                options.sink = Some(sink.clone() as SharedSink);
                Some(sink)
            }
            Err(error) => {
                eprintln!(
                    "error: cannot create trace file {}: {error}",
                    path.display()
                );
                return exit::BAD_INPUT;
            }
        },
        None => None,
    };
    // A run with a report is watched for its charts (which changes nothing in it).
    let observed = if args.report.is_some() {
        registry
            .observe_file(&file, &options)
            .map(|observed| (observed.outcome.clone(), Some(observed)))
    } else {
        registry
            .run_file(&file, &options)
            .map(|outcome| (outcome, None))
    };
    let (outcome, observed) = match observed {
        Ok(found) => found,
        Err(error) => {
            eprintln!("error: {error}");
            return exit::BAD_INPUT;
        }
    };
    drop(options);
    if let Some(sink) = trace_sink {
        let sink = Rc::try_unwrap(sink)
            .ok()
            .expect("the run released the trace sink")
            .into_inner();
        if let Err(error) = sink.finish() {
            eprintln!("error: writing the trace failed: {error}");
            return exit::INTERNAL;
        }
    }
    print_outcome(&outcome, &file);
    if let (Some(dir), Some(observed)) = (&args.report, &observed) {
        let started = std::time::Instant::now();
        let charts = match write_observed_report(dir, &file, observed) {
            Ok(charts) => charts,
            Err(error) => {
                eprintln!(
                    "error: writing the report to {} failed: {error}",
                    dir.display()
                );
                return exit::INTERNAL;
            }
        };
        println!("report    {}", dir.join("summary.json").display());
        println!(
            "charts    {} ({} charts in {:.2}s)",
            dir.join("index.html").display(),
            charts.len(),
            started.elapsed().as_secs_f64()
        );
    }
    verdict_code(&outcome.summary)
}

/// Writes a watched run's report: summary, history, scenario copy, charts and
/// `index.html`.
pub(crate) fn write_observed_report(
    dir: &std::path::Path,
    file: &ScenarioFile,
    observed: &crate::runner::observe::Observed,
) -> std::io::Result<Vec<report::run_charts::ChartFile>> {
    let outcome = &observed.outcome;
    let windows = observed.capture.windows(outcome.summary.virtual_time);
    let view = RunView {
        summary: &outcome.summary,
        history: &outcome.history,
        arrows: observed.capture.arrows.iter().collect(),
        windows: &windows,
        samples: &observed.samples,
        explanation: observed.explanation.as_ref(),
        nodes: observed.nodes,
        clients: observed.clients,
        fault_phase_end: observed.fault_phase_end,
    };
    report::write_run_report(dir, &view, &file.text)
}

fn verdict_code(summary: &Summary) -> i32 {
    match summary.verdict {
        Verdict::Pass => exit::OK,
        Verdict::Fail | Verdict::Undecided => exit::CHECK_FAILED,
    }
}

/// Prints the human-readable account of a run.
pub fn print_outcome(outcome: &RunOutcome, file: &ScenarioFile) {
    let summary = &outcome.summary;
    super::print_scenario_line(&file.file, &summary.protocol, &summary.bugs);
    println!(
        "seed      {}   trace {}   events {}   virtual time {}",
        summary.seed,
        summary.trace_hash,
        summary.events,
        format_nanos(summary.virtual_time)
    );
    if let Some(draw) = &outcome.swarm {
        println!("swarm     {}", draw.describe());
    }
    let stats = &summary.stats;
    let messages = &stats.messages;
    println!(
        "messages  sent {} delivered {} lost {} partitioned {} to-crashed {} duplicated {}",
        messages.sent,
        messages.delivered,
        messages.lost,
        messages.partitioned,
        messages.to_crashed,
        messages.duplicated
    );
    let operations = &stats.operations;
    println!(
        "ops       invoked {} ok {} fail {} info {} open {}   faults {}",
        operations.invoked,
        operations.ok,
        operations.fail,
        operations.info,
        operations.open,
        stats.faults
    );
    if !summary.sometimes.is_empty() {
        let reached: Vec<String> = summary
            .sometimes
            .iter()
            .map(|(name, count)| format!("{name} x{count}"))
            .collect();
        println!("sometimes {}", reached.join(", "));
    }
    match summary.violations.first() {
        None => println!("verdict   PASS"),
        Some(first) => {
            let word = if summary.verdict == Verdict::Undecided {
                "UNDECIDED"
            } else {
                "FAIL"
            };
            println!(
                "verdict   {word}: {} ({}) [{}] at {}, event #{}: {}",
                first.checker,
                first.property,
                first.name,
                format_nanos(first.time),
                first.event,
                first.message
            );
            for other in summary.violations.iter().skip(1) {
                println!(
                    "          also {} ({}) [{}]: {}",
                    other.checker, other.property, other.name, other.message
                );
            }
            println!("reproduce: {}", summary.repro);
        }
    }
    // A file that states its expected verdict (regression files) says whether
    // it was met; the exit code stays the verdict's.
    let expect = file
        .parse::<toml::Value>()
        .ok()
        .and_then(|scenario| scenario.expect);
    if let Some(expect) = expect {
        let first = summary
            .violations
            .first()
            .map(|first| (first.checker.as_str(), first.property.as_str()));
        let met = expect.met_by(!summary.violations.is_empty(), first);
        println!(
            "expect    {}: {}",
            expect.describe(),
            if met { "met" } else { "NOT met" }
        );
    }
}

fn check_determinism(registry: &Registry, file: &ScenarioFile, seed: u64, no_nemesis: bool) -> i32 {
    const KEEP: usize = 1_000_000;
    let mut runs = Vec::new();
    for _ in 0..2 {
        let sink = Rc::new(RefCell::new(MemorySink::new(KEEP)));
        let options = RunOptions {
            seed,
            nemesis: !no_nemesis,
            sink: Some(sink.clone() as SharedSink),
        };
        match registry.run_file(file, &options) {
            Ok(outcome) => runs.push((outcome, sink)),
            Err(error) => {
                eprintln!("error: {error}");
                return exit::BAD_INPUT;
            }
        }
    }
    let (first, first_sink) = &runs[0];
    let (second, second_sink) = &runs[1];
    let a = first_sink.borrow();
    let b = second_sink.borrow();
    let divergence = a
        .hashes
        .iter()
        .zip(&b.hashes)
        .position(|(x, y)| x != y)
        .or_else(|| (a.hashes.len() != b.hashes.len()).then(|| a.hashes.len().min(b.hashes.len())));
    match divergence {
        None if first.summary.trace_hash == second.summary.trace_hash => {
            print_outcome(first, file);
            println!(
                "determinism: two runs gave the same trace hash {} over {} events",
                first.summary.trace_hash,
                a.hashes.len()
            );
            verdict_code(&first.summary)
        }
        found => {
            let index = found.unwrap_or(0);
            println!(
                "NONDETERMINISM: seed {seed} gave two different runs of {}",
                file.file
            );
            println!(
                "  run 1: trace {} ({} events); run 2: trace {} ({} events)",
                first.summary.trace_hash,
                a.hashes.len(),
                second.summary.trace_hash,
                b.hashes.len()
            );
            println!("  first divergent event: #{index}");
            let show = |label: &str, records: &[TraceRecord]| match records.get(index) {
                Some(record) => println!("  run {label}: {}", record.to_json_line()),
                None => println!("  run {label}: (no event #{index})"),
            };
            if index > 0
                && let Some(record) = a.records.get(index - 1)
            {
                println!("  last common event: {}", record.to_json_line());
            }
            show("1", &a.records);
            show("2", &b.records);
            exit::NONDETERMINISM
        }
    }
}

/// The top-level fields of `summary.json` in which two summaries differ.
fn differing_fields(recorded: &Summary, rerun: &Summary) -> Vec<String> {
    let as_map = |summary: &Summary| match serde_json::to_value(summary) {
        Ok(serde_json::Value::Object(map)) => map,
        _ => serde_json::Map::new(),
    };
    let (recorded, rerun) = (as_map(recorded), as_map(rerun));
    recorded
        .keys()
        .chain(rerun.keys().filter(|key| !recorded.contains_key(*key)))
        .filter(|key| recorded.get(*key) != rerun.get(*key))
        .cloned()
        .collect()
}

/// Runs `faultline replay REPORT_DIR`; returns the exit code.
pub fn replay(registry: &Registry, dir: &Path) -> i32 {
    let summary_path = dir.join("summary.json");
    let summary: Summary = match super::read_json(&summary_path, "run summary") {
        Ok(summary) => summary,
        Err(message) => {
            eprintln!("error: {message}");
            return exit::BAD_INPUT;
        }
    };
    // An edited summary, or files of two runs in one directory, is a bad
    // report (2), told apart from a run that does not reproduce (3).
    if !summary.digest.is_empty() && summary.content_digest() != summary.digest {
        eprintln!(
            "error: {} was edited: its content does not match the digest the run recorded",
            summary_path.display()
        );
        return exit::BAD_INPUT;
    }
    // (The scenario copy is judged by the scenario hash below.)
    for (name, digest) in summary
        .files
        .iter()
        .filter(|(name, _)| *name != "scenario.toml")
    {
        let path = dir.join(name);
        let bytes = std::fs::read(&path).unwrap_or_default();
        if &crate::report::file_digest(&bytes) != digest {
            eprintln!(
                "error: {} does not belong to {}: the report directory holds files of different runs (written over, or edited)",
                path.display(),
                summary_path.display()
            );
            return exit::BAD_INPUT;
        }
    }
    let scenario_copy = dir.join("scenario.toml");
    let scenario_text =
        match crate::scenario::read_capped(&scenario_copy.to_string_lossy(), "scenario copy") {
            Ok(text) => text,
            Err(error) => {
                eprintln!("error: {error}");
                return exit::BAD_INPUT;
            }
        };
    // Errors in the copy are the copy's, not the original's.
    let blame_copy = |mut error: crate::scenario::ScenarioError| {
        error.file = format!(
            "{} (the report's copy of {})",
            scenario_copy.display(),
            summary.scenario
        );
        error
    };
    let file = match ScenarioFile::from_text(&summary.scenario, scenario_text) {
        Ok(file) => file,
        Err(error) => {
            eprintln!("error: {}", blame_copy(error));
            return exit::BAD_INPUT;
        }
    };
    if format!("{:016x}", file.content_hash) != summary.scenario_hash {
        eprintln!(
            "error: {} does not match the scenario hash recorded in {} ({}); the report was edited",
            scenario_copy.display(),
            summary_path.display(),
            summary.scenario_hash
        );
        return exit::BAD_INPUT;
    }
    let options = RunOptions {
        seed: summary.seed,
        nemesis: summary.nemesis,
        sink: None,
    };
    let outcome = match registry.run_file(&file, &options) {
        Ok(outcome) => outcome,
        Err(error) => {
            eprintln!("error: {}", blame_copy(error));
            return exit::BAD_INPUT;
        }
    };
    print_outcome(&outcome, &file);
    let differing = differing_fields(&summary.without_digests(), &outcome.summary);
    if !differing.is_empty() {
        println!(
            "NOT REPRODUCED: {} differ{} from the report (tool {} recorded it; this is {})",
            differing.join(", "),
            if differing.len() == 1 { "s" } else { "" },
            summary.tool,
            outcome.summary.tool
        );
        return exit::NONDETERMINISM;
    }
    if outcome.summary.trace_hash != summary.trace_hash {
        println!(
            "NOT REPRODUCED: trace hash {} differs from the recorded {} (tool {} recorded it; this is {})",
            outcome.summary.trace_hash, summary.trace_hash, summary.tool, outcome.summary.tool
        );
        return exit::NONDETERMINISM;
    }
    println!(
        "reproduced: trace hash {} matches the report",
        summary.trace_hash
    );
    verdict_code(&outcome.summary)
}
