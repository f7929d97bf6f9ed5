//! The integration harness: one binary, a module per area.

mod charts;
mod check_history_cli;
mod cli;
mod common;
mod conformance;
mod deploy;
mod determinism;
mod docs;
mod driver;
mod edge_configs;
mod findings;
mod fuzz;
mod kit;
mod lab_faults;
mod linearizability;
mod linearizability_in_run;
mod network_model;
mod paxos;
mod planted_bugs;
mod raft;
mod raft_lab;
mod regressions;
mod scenario_errors;
mod shrink;
mod tidy;
