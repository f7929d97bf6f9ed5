//! `faultline experiment NAME`: reproduce a published measurement, from the
//! experiments the registered protocols add.

use super::exit;
use crate::runner::Registry;

/// Runs experiment `name`; `trials` overrides its trial counts.
pub fn run(registry: &Registry, name: &str, trials: Option<u64>) -> i32 {
    let experiments = registry.experiments();
    let Some(experiment) = experiments.iter().find(|known| known.name == name) else {
        let names: Vec<&str> = experiments.iter().map(|known| known.name).collect();
        eprintln!(
            "error: unknown experiment '{name}'; expected one of: {}",
            names.join(", ")
        );
        return exit::BAD_INPUT;
    };
    if trials == Some(0) {
        eprintln!("error: --trials must be at least 1");
        return exit::BAD_INPUT;
    }
    let mut out = std::io::stdout().lock();
    match (experiment.run)(trials, &mut out) {
        Ok(()) => exit::OK,
        // A reader that stopped reading (`| head`) is not an error.
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => exit::OK,
        Err(error) => {
            eprintln!("error: writing the experiment's table failed: {error}");
            exit::INTERNAL
        }
    }
}
