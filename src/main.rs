//! The `faultline` binary: parse arguments, call the library, map the outcome to an
//! exit code. All logic lives in the library (`faultline::cli`).

use clap::{Parser, Subcommand};
use faultline::cli;

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
}

fn main() {
    let args = Args::parse();
    let code = match args.command {
        Command::Bench {
            workload,
            seconds,
            repeat,
        } => cli::bench::run(&workload, seconds, repeat),
    };
    std::process::exit(code)
}
