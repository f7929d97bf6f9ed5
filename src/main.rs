//! The `faultline` binary: parse arguments, call the library, map the outcome to an
//! exit code. All logic lives in the library (`faultline::cli`).

use clap::{Parser, Subcommand};

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
    /// Check a recorded history for linearizability against a model.
    CheckHistory(faultline::cli::check_history::CheckHistoryArgs),
}

fn main() {
    let args = Args::parse();
    let code = match args.command {
        Command::CheckHistory(args) => faultline::cli::check_history::run(args),
    };
    std::process::exit(code)
}
