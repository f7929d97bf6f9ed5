//! The whole command line as a library function, so that a user's own binary
//! gets every command for its own protocols: `faultline::cli::main(registry)`.
//! Arguments are parsed by clap, validated by each command, and the command's
//! exit code ends the process.

use super::{bench, check_history, experiment, fuzz, list, run, shrink, sweep};
use crate::runner::Registry;
use clap::{Parser, Subcommand};
use std::ffi::OsString;
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "faultline",
    version,
    about = "Deterministic simulation testbed for distributed protocols"
)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run one seed of a scenario file and check it.
    Run {
        /// The scenario file (scenarios/*.toml).
        scenario: String,
        /// The seed (default: the scenario's `seed`, else 1).
        #[arg(long)]
        seed: Option<u64>,
        /// Write summary.json, history.jsonl and a scenario copy here.
        #[arg(long, value_name = "DIR")]
        report: Option<PathBuf>,
        /// Write every trace event as JSON lines to this file.
        #[arg(long, value_name = "FILE")]
        trace: Option<PathBuf>,
        /// Run the seed twice and fail (exit 3) if the traces differ.
        #[arg(long)]
        check_determinism: bool,
        /// Do not run the scenario's random nemesis (scripted faults still run).
        #[arg(long)]
        no_nemesis: bool,
    },
    /// Run many seeds of one or more scenarios (in parallel; optionally one
    /// shard of many). Exit 1 if any seed failed.
    Fuzz {
        /// The scenario files.
        #[arg(required = true)]
        scenarios: Vec<String>,
        /// Seeds: A..B (B excluded), A..=B, or a count from --first [default: 100].
        #[arg(long, value_name = "A..B|N")]
        seeds: Option<String>,
        /// A count of seeds from --first (instead of --seeds).
        #[arg(long, value_name = "N")]
        count: Option<u64>,
        /// The first seed, with a count.
        #[arg(long, default_value_t = 1)]
        first: u64,
        /// Take no new seed after this long (e.g. 10m, 90s); the seeds run are reported.
        #[arg(long, value_name = "DURATION")]
        time_budget: Option<String>,
        /// Worker threads (0 = one per core); results never depend on it.
        #[arg(long, default_value_t = 0)]
        jobs: usize,
        /// Run one shard: I/N; N with I from JOB_COMPLETION_INDEX; or auto (both from
        /// JOB_COMPLETION_INDEX and JOB_COMPLETION_COUNT).
        #[arg(long, value_name = "I/N")]
        shard: Option<String>,
        /// Stop at the first failing seed (the seeds before it all run).
        #[arg(long)]
        stop_on_first: bool,
        /// Write fuzz.json, junit.xml, charts and failing seeds' reports here.
        #[arg(long, value_name = "DIR")]
        report: Option<PathBuf>,
        /// Write a JUnit XML report of every scenario to this file.
        #[arg(long, value_name = "FILE")]
        junit: Option<PathBuf>,
        /// Shrink each scenario's first failing seed to a small scenario file.
        #[arg(long)]
        shrink: bool,
        /// Do not run the scenario's random nemesis.
        #[arg(long)]
        no_nemesis: bool,
    },
    /// Shrink a failing seed to a small standalone scenario that fails the same
    /// checker (explicit [[faults]], no nemesis).
    Shrink {
        /// The scenario file.
        scenario: String,
        /// The failing seed.
        #[arg(long)]
        seed: u64,
        /// Where to write the shrunk scenario (default: <stem>_seed<N>.shrunk.toml).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Do not run the scenario's random nemesis (shrink the scripted faults).
        #[arg(long)]
        no_nemesis: bool,
        /// Most runs to try; the best so far is written when they run out.
        #[arg(long, default_value_t = 500)]
        max_runs: u32,
    },
    /// Join the fuzz reports of a campaign's shards.
    Merge {
        /// Output directory for the merged fuzz.json and junit.xml.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Shard report directories (or fuzz.json files).
        #[arg(required = true)]
        reports: Vec<PathBuf>,
    },
    /// Re-run a report's seed and confirm its trace hash.
    Replay {
        /// A report directory written by `run --report`.
        report: PathBuf,
    },
    /// List protocols, planted bugs, checkers and fault kinds; or, with
    /// --campaigns, the campaign files to fuzz.
    List {
        /// Print the campaigns under DIR instead (default `scenarios`): every
        /// `<protocol>/*.toml` without `expect`, one per line.
        #[arg(long, value_name = "DIR", num_args = 0..=1, default_missing_value = "scenarios")]
        campaigns: Option<PathBuf>,
    },
    /// Measure simulator speed on a fixed workload (`faultline list` names them).
    Bench {
        /// Workload name.
        workload: String,
        /// Virtual seconds to simulate.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Repetitions; the best is reported along with the spread.
        #[arg(long, default_value_t = 5)]
        repeat: u32,
    },
    /// Reproduce a published measurement (`faultline list` names them).
    Experiment {
        /// Experiment name.
        name: String,
        /// Trials per configuration (default: as in the paper).
        #[arg(long)]
        trials: Option<u64>,
    },
    /// Run a sweep file: a scenario key (or a protocol trial's own parameter)
    /// over a grid of values x N seeds; print and chart a metric's distribution.
    Sweep {
        /// The sweep file (scenarios/experiments/*.toml).
        file: String,
        /// Where to write <stem>.svg/.png/.json/.csv.
        #[arg(long, value_name = "DIR", default_value = "reports")]
        out: PathBuf,
        /// Seeds per value (default: the file's `seeds`).
        #[arg(long)]
        seeds: Option<u64>,
        /// Worker threads (0 = one per core).
        #[arg(long, default_value_t = 0)]
        jobs: usize,
    },
    /// Check a recorded history for linearizability against a model.
    CheckHistory(check_history::CheckHistoryArgs),
}

/// A reader that stops reading (`faultline fuzz ... | head`) closes our standard
/// output; printing then fails with a broken pipe. That is the reader's choice,
/// not an error: exit quietly with 0, as ripgrep does, instead of panicking.
fn exit_quietly_on_broken_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<&str>()
            .map(|text| text.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        if message.starts_with("failed printing to std") && message.contains("Broken pipe") {
            std::process::exit(0);
        }
        default(info);
    }));
}

/// Runs the command line in `args` (the program name first) against
/// `registry`; returns the exit code. Usage errors print clap's message and give
/// its code (2), `--help` and `--version` give 0.
pub fn run_with_args<I, T>(registry: &Registry, args: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let args = match Args::try_parse_from(args) {
        Ok(args) => args,
        Err(error) => {
            let code = error.exit_code();
            let _ = error.print();
            return code;
        }
    };
    dispatch(registry, args.command)
}

/// The `faultline` command line over `registry`: parses the process's
/// arguments, runs the command, and exits with its code. A user's own binary is
/// `fn main() { faultline::cli::main(faultline::builtin().with(Entry::of::<Mine>())) }`.
pub fn main(registry: Registry) -> ! {
    exit_quietly_on_broken_pipe();
    let code = run_with_args(&registry, std::env::args_os());
    std::process::exit(code)
}

fn dispatch(registry: &Registry, command: Command) -> i32 {
    match command {
        Command::Run {
            scenario,
            seed,
            report,
            trace,
            check_determinism,
            no_nemesis,
        } => run::run(
            registry,
            &run::RunArgs {
                scenario,
                seed,
                report,
                trace,
                check_determinism,
                no_nemesis,
            },
        ),
        Command::Fuzz {
            scenarios,
            seeds,
            count,
            first,
            time_budget,
            jobs,
            shard,
            stop_on_first,
            report,
            junit,
            shrink,
            no_nemesis,
        } => {
            let job_index = std::env::var("JOB_COMPLETION_INDEX").ok();
            let job_count = std::env::var("JOB_COMPLETION_COUNT").ok();
            let args = fuzz::FuzzArgs {
                scenarios,
                seeds,
                count,
                first,
                jobs,
                shard,
                time_budget,
                stop_on_first,
                report,
                junit,
                shrink,
                no_nemesis,
            };
            fuzz::run(registry, &args, job_index.as_deref(), job_count.as_deref())
        }
        Command::Shrink {
            scenario,
            seed,
            out,
            no_nemesis,
            max_runs,
        } => shrink::run(
            registry,
            &shrink::ShrinkArgs {
                scenario,
                seed,
                out,
                no_nemesis,
                max_runs,
            },
        ),
        Command::Merge { out, reports } => fuzz::merge(&out, &reports),
        Command::Replay { report } => run::replay(registry, &report),
        Command::List { campaigns } => list::run(registry, campaigns.as_deref()),
        Command::Bench {
            workload,
            seconds,
            repeat,
        } => bench::run(registry, &workload, seconds, repeat),
        Command::Experiment { name, trials } => experiment::run(registry, &name, trials),
        Command::Sweep {
            file,
            out,
            seeds,
            jobs,
        } => sweep::run(
            registry,
            &sweep::SweepArgs {
                file,
                out,
                seeds,
                jobs,
            },
        ),
        Command::CheckHistory(args) => check_history::run(args),
    }
}
