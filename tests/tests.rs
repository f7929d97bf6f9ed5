//! The integration test harness: one module per area.

mod check_history_cli;
mod linearizability;
