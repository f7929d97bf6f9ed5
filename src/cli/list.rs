//! `faultline list`: protocols, their planted bugs, properties, *sometimes*
//! points and fault-target groups; fault kinds, target selectors and nemesis
//! fault kinds; benchmarks, sweep metrics and experiments.

use super::exit;
use crate::runner::{Entry, Registry};
use crate::scenario::faults::{FaultKind, NemesisFault};
use crate::sim::Target;

fn describe(entry: &Entry) -> String {
    let mut text = format!("  {:<14} {}\n", entry.name, entry.summary);
    for property in entry.properties {
        text.push_str(&format!(
            "      check  {}: {}\n",
            property.name,
            property.description()
        ));
    }
    for bug in entry.bugs {
        text.push_str(&format!(
            "      bug    {}: {}\n",
            bug.name,
            bug.description()
        ));
    }
    for group in entry.groups {
        text.push_str(&format!(
            "      group  @{}: {}\n",
            group.name,
            group.description()
        ));
    }
    if !entry.sometimes.is_empty() {
        let names: Vec<&str> = entry.sometimes.iter().map(|point| point.name).collect();
        text.push_str(&format!(
            "      sometimes ({}): {}\n",
            names.len(),
            names.join(", ")
        ));
    }
    text
}

/// The text `faultline list` prints.
pub fn listing(registry: &Registry) -> String {
    let mut text = String::from("protocols (scenario [protocol] name = ...):\n");
    for entry in registry.entries() {
        text.push_str(&describe(entry));
    }
    text.push_str("\nfault kinds ([[faults]] kind = ...):\n");
    for (_, name, what) in FaultKind::ALL {
        text.push_str(&format!("  {name:<19} {what}\n"));
    }
    text.push_str(&format!(
        "\ntargets: a node id, a list of node ids, \"@label\" (the nodes a fault with\n  label = \"...\" hit, or a protocol's group), or one of {};\n  a selector among a label's nodes only is written \"random@label\"\n  ([nemesis] targets = \"@label\" makes the nemesis pick so)\n",
        Target::SELECTORS.join(", ")
    ));
    let kinds: Vec<String> = NemesisFault::ALL.iter().map(|kind| kind.name()).collect();
    text.push_str(&format!(
        "\nnemesis faults ([nemesis] faults = [...]):\n  {}\n",
        kinds.join(", ")
    ));
    let benches = registry.bench_workloads();
    if !benches.is_empty() {
        text.push_str("\nbenchmarks (faultline bench NAME):\n");
        for bench in benches {
            text.push_str(&format!("  {:<19} {}\n", bench.name, bench.what));
        }
    }
    let trials = registry.trial_metrics();
    if !trials.is_empty() {
        text.push_str("\nsweep metrics that build their own world ([sweep] metric = ...):\n");
        for trial in trials {
            text.push_str(&format!(
                "  {:<19} {} (sweeps {})\n",
                trial.name, trial.description, trial.parameter
            ));
        }
    }
    let experiments = registry.experiments();
    if !experiments.is_empty() {
        text.push_str("\nexperiments (faultline experiment NAME):\n");
        for experiment in experiments {
            text.push_str(&format!("  {:<19} {}\n", experiment.name, experiment.what));
        }
    }
    text
}

/// Runs `faultline list`, or with `campaigns`, prints the campaign files under
/// that folder one per line (for `faultline fuzz $(faultline list --campaigns)`).
pub fn run(registry: &Registry, campaigns: Option<&std::path::Path>) -> i32 {
    let Some(root) = campaigns else {
        print!("{}", listing(registry));
        return exit::OK;
    };
    match registry.campaigns(root) {
        Ok(files) if files.is_empty() => {
            eprintln!(
                "error: no campaigns under {}: expected <protocol>/*.toml files without `expect` for {}",
                root.display(),
                registry.names().join(", ")
            );
            exit::BAD_INPUT
        }
        Ok(files) => {
            for file in files {
                println!("{}", file.display());
            }
            exit::OK
        }
        Err(message) => {
            eprintln!("error: {message}");
            exit::BAD_INPUT
        }
    }
}
