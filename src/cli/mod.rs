//! The command implementations behind the thin `faultline` binary. Each command
//! takes the registry and validated arguments and returns the process exit code
//! (see [`exit`]); [`main`] is the whole command line for any registry.

pub mod bench;
pub mod check_bench;
pub mod check_history;
pub mod check_isolation;
pub mod command;
pub mod exit;
pub mod experiment;
pub mod fuzz;
pub mod list;
pub mod run;
pub mod shrink;
pub mod sweep;

pub use command::{main, run_with_args};

/// Reads a JSON file we wrote earlier (`what` names it in errors), or explains with
/// the file, line and column why it cannot be used.
///
/// Reports are read whole, up to [`REPORT_BYTES_MAX`].
/// The largest report file (`summary.json`, `fuzz.json`) replay and merge read.
pub const REPORT_BYTES_MAX: u64 = 256 << 20;

pub fn read_json<T: serde::de::DeserializeOwned>(
    path: &std::path::Path,
    what: &str,
) -> Result<T, String> {
    let text = crate::scenario::read_text_at_most(
        &path.to_string_lossy(),
        what,
        REPORT_BYTES_MAX,
        "a faultline report",
    )
    .map_err(|error| error.to_string())?;
    serde_json::from_str(&text).map_err(|error| {
        format!(
            "{}:{}:{}: not a faultline {what}: {error}",
            path.display(),
            error.line(),
            error.column()
        )
    })
}

/// The first line of every run or campaign report: file, protocol, planted bugs.
pub fn print_scenario_line(file: &str, protocol: &str, bugs: &[String]) {
    let bugs = if bugs.is_empty() {
        "none".to_string()
    } else {
        bugs.join(", ")
    };
    println!("scenario  {file} ({protocol}, planted bugs: {bugs})");
}
