//! The command implementations behind the thin `faultline` binary. Each command
//! takes validated arguments and returns the process exit code (see [`exit`]).

pub mod bench;
pub mod check_history;
pub mod exit;
pub mod fuzz;
pub mod list;
pub mod run;
