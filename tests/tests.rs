//! The integration harness: one binary, a module per area.

mod determinism;
mod planted_bugs;
mod scenario_errors;
