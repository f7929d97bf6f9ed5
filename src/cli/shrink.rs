//! `faultline shrink`: a failing seed in, a small standalone failing scenario out.

use super::exit;
use crate::report::Verdict;
use crate::runner::shrink::{Materialised, ShrinkError, ShrinkOptions, shrink};
use crate::runner::{Registry, RunOptions};
use crate::scenario::ScenarioFile;
use crate::sim::time::format_nanos;
use std::path::{Path, PathBuf};

/// Validated arguments of `faultline shrink`.
#[derive(Clone, Debug)]
pub struct ShrinkArgs {
    /// The scenario file.
    pub scenario: String,
    /// The failing seed.
    pub seed: u64,
    /// Where to write the shrunk scenario (default: `<stem>_seed<N>.shrunk.toml`
    /// in the current directory).
    pub out: Option<PathBuf>,
    /// Skip the random nemesis.
    pub no_nemesis: bool,
    /// Most runs to try.
    pub max_runs: u32,
}

/// The output path when `--out` is not given: `<stem>_seed<N>.shrunk.toml` in the
/// current directory.
fn default_out(scenario: &str, seed: u64) -> PathBuf {
    let stem = Path::new(scenario)
        .file_stem()
        .map_or("scenario".into(), |stem| {
            stem.to_string_lossy().into_owned()
        });
    PathBuf::from(format!("{stem}_seed{seed}.shrunk.toml"))
}

/// The command recorded in the output's header (without `--out`, so the header
/// does not depend on where the file goes).
fn command_line(program: &str, args: &ShrinkArgs) -> String {
    let mut line = format!("{program} shrink {} --seed {}", args.scenario, args.seed);
    if args.no_nemesis {
        line.push_str(" --no-nemesis");
    }
    if args.max_runs != ShrinkOptions::default().max_runs {
        line.push_str(&format!(" --max-runs {}", args.max_runs));
    }
    line
}

/// Runs `faultline shrink`; returns the exit code.
pub fn run(registry: &Registry, args: &ShrinkArgs) -> i32 {
    let started = std::time::Instant::now();
    let file = match ScenarioFile::read(&args.scenario) {
        Ok(file) => file,
        Err(error) => {
            eprintln!("error: {error}");
            return exit::BAD_INPUT;
        }
    };
    if args.max_runs == 0 {
        eprintln!("error: --max-runs must be at least 1");
        return exit::BAD_INPUT;
    }
    let options = ShrinkOptions {
        max_runs: args.max_runs,
        command: command_line(registry.program(), args),
    };
    let result = match shrink(registry, &file, args.seed, !args.no_nemesis, &options) {
        Ok(result) => result,
        Err(error @ ShrinkError::Passes { .. }) => {
            eprintln!("error: {}: {error}", args.scenario);
            return exit::BAD_INPUT;
        }
        Err(error) => {
            eprintln!("error: {error}");
            return exit::BAD_INPUT;
        }
    };
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| default_out(&args.scenario, args.seed));
    if let Err(error) = crate::report::write_atomic(&out, result.text.as_bytes()) {
        eprintln!(
            "error: cannot write the shrunk scenario to {}: {error}",
            out.display()
        );
        return exit::INTERNAL;
    }
    // Verify from the written file, as a user would run it.
    let out_name = out.display().to_string();
    let verified = ScenarioFile::read(&out_name).and_then(|written| {
        registry.run_file(
            &written,
            &RunOptions {
                seed: args.seed,
                nemesis: result.nemesis,
                sink: None,
            },
        )
    });
    let verified = match verified {
        Ok(outcome) => outcome,
        Err(error) => {
            eprintln!("error: the written scenario does not read back: {error}");
            return exit::INTERNAL;
        }
    };
    let first = verified.summary.violations.first();
    let same = verified.summary.verdict != Verdict::Pass
        && first.is_some_and(|violation| {
            violation.checker == result.failure.checker
                && violation.property == result.failure.property
        });
    if !same {
        eprintln!(
            "error: {out_name} does not fail {} when run from the file (got {:?}); this is a bug in the shrinker",
            result.failure, verified.summary.violations
        );
        return exit::INTERNAL;
    }

    super::print_scenario_line(
        &args.scenario,
        &verified.summary.protocol,
        &verified.summary.bugs,
    );
    println!(
        "failure   {}: {}",
        result.failure,
        result.before.message.lines().next().unwrap_or("")
    );
    match &result.materialised {
        Materialised::Reproduced { same_trace } => println!(
            "schedule  nemesis written out as [[faults]]: fails the same way{}",
            if *same_trace { ", same trace hash" } else { "" }
        ),
        Materialised::NoNemesis => println!("schedule  scripted faults only (no nemesis ran)"),
        Materialised::Diverged { got } => println!(
            "schedule  without its nemesis the run gave {got}: kept the [nemesis], shrank the scripted faults and the run's size only"
        ),
    }
    let (before, after) = (&result.before, &result.after);
    println!("faults    {} -> {}", before.faults, after.faults);
    println!("events    {} -> {}", before.events, after.events);
    println!(
        "time      {} -> {} virtual (fault phase {} -> {})",
        format_nanos(before.virtual_time),
        format_nanos(after.virtual_time),
        format_nanos(before.duration),
        format_nanos(after.duration)
    );
    println!(
        "size      {} nodes, {} clients every {} -> {} nodes, {} clients every {}",
        before.nodes,
        before.clients,
        format_nanos(before.op_interval),
        after.nodes,
        after.clients,
        format_nanos(after.op_interval)
    );
    println!(
        "search    {} runs{} in {:.2}s wall",
        result.runs,
        if result.budget_exhausted {
            format!(
                " (budget of {} ran out: best so far written)",
                args.max_runs
            )
        } else {
            String::new()
        },
        started.elapsed().as_secs_f64()
    );
    println!("written   {out_name} (verified: fails {})", result.failure);
    println!("reproduce: {} run {out_name}", registry.program());
    exit::OK
}
