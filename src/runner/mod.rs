//! Running scenarios: one seed, many seeds, replays, determinism checks and
//! benchmarks.

pub mod bench;
pub mod fuzz;
pub mod nemesis;
pub mod observe;
pub mod panic;
pub mod registry;
pub mod run;
pub mod shrink;
pub mod sweep;

pub use crate::spec::{Driver, ProtocolSpec};
pub use registry::{Entry, Registry};
pub use run::{RunOptions, RunOutcome, parse_for, repro_line, run_scenario};
