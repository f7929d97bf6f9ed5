//! The `faultline` binary: parse arguments, call the library, map the outcome to an
//! exit code. All logic lives in the library (`faultline::cli`).

use clap::{Parser, Subcommand};
use faultline::cli;
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
    /// Re-run a report's seed and confirm its trace hash.
    Replay {
        /// A report directory written by `run --report`.
        report: PathBuf,
    },
    /// List protocols, planted bugs, checkers and fault kinds.
    List,
    /// Measure simulator speed on a fixed workload (token_forward).
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
    /// Check a recorded history for linearizability against a model.
    CheckHistory(faultline::cli::check_history::CheckHistoryArgs),
}

fn main() {
    let args = Args::parse();
    let code = match args.command {
        Command::Run {
            scenario,
            seed,
            report,
            trace,
            check_determinism,
            no_nemesis,
        } => cli::run::run(&cli::run::RunArgs {
            scenario,
            seed,
            report,
            trace,
            check_determinism,
            no_nemesis,
        }),
        Command::Replay { report } => cli::run::replay(&report),
        Command::List => cli::list::run(),
        Command::Bench {
            workload,
            seconds,
            repeat,
        } => cli::bench::run(&workload, seconds, repeat),
        Command::CheckHistory(args) => faultline::cli::check_history::run(args),
    };
    std::process::exit(code)
}
