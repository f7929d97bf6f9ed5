//! The integration harness: one binary, a module per area.

mod cli;
mod determinism;
mod network_model;
mod planted_bugs;
mod scenario_errors;
mod tidy;
