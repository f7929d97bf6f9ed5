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
enum Command {}

fn main() {
    let args = Args::parse();
    let code = match args.command {};
    #[allow(unreachable_code)]
    std::process::exit(code)
}
