//! Running scenarios: one seed, many seeds, replays, determinism checks and
//! benchmarks.

pub mod bench;
pub mod driver;
pub mod experiments;
pub mod fuzz;
pub mod nemesis;
pub mod observe;
pub mod panic;
pub mod run;
pub mod shrink;
pub mod spec;
pub mod sweep;

pub use driver::Driver;
pub use run::{
    RunOptions, RunOutcome, parse_for, repro_line, run_file, run_scenario, validate_file,
};
pub use spec::{PROTOCOLS, ProtocolSpec, ProtocolVisitor, with_protocol};
