//! Speed benchmarks (`faultline bench WORKLOAD`): the workloads the registered
//! protocols add ([`crate::spec::BenchWorkload`]), timed here.
//!
//! Wall-clock time is read here, outside the simulated world, only to report
//! throughput; nothing measured feeds back into a run.

use super::registry::Registry;
use super::run::RunOptions;
use crate::scenario::ScenarioFile;
use crate::spec::hooks::{BenchKind, BenchWorkload};

/// The result of one benchmark run.
#[derive(Clone, Debug)]
pub struct BenchResult {
    /// Workload name.
    pub workload: &'static str,
    /// Whether it ran a scenario with every checker on (else a bare world).
    pub scenario: bool,
    /// Messages delivered.
    pub deliveries: u64,
    /// Wall-clock seconds.
    pub wall_seconds: f64,
    /// The run's trace hash (proves the same work was done).
    pub trace_hash: u64,
    /// Peak number of queued events, when the workload can see its queue.
    pub peak_queue: Option<usize>,
    /// Virtual seconds simulated.
    pub virtual_seconds: f64,
    /// A computation's unit of work (`deliveries` then counts units).
    pub unit: Option<&'static str>,
}

impl BenchResult {
    /// The one-line report.
    pub fn line(&self) -> String {
        if let Some(unit) = self.unit {
            return format!(
                "{}: {:.0} {unit}/s ({:.3} s for {} {unit}, result hash {:016x})",
                self.workload,
                self.deliveries as f64 / self.wall_seconds,
                self.wall_seconds,
                self.deliveries,
                self.trace_hash
            );
        }
        if self.scenario {
            return format!(
                "{}: {:.0} virtual s per wall s, {:.0} deliveries/s ({:.3} s for {:.0} virtual s, trace {:016x})",
                self.workload,
                self.virtual_seconds / self.wall_seconds,
                self.deliveries as f64 / self.wall_seconds,
                self.wall_seconds,
                self.virtual_seconds,
                self.trace_hash
            );
        }
        format!(
            "{}: {:.0} deliveries/s ({:.3} s, trace {:016x})",
            self.workload,
            self.deliveries as f64 / self.wall_seconds,
            self.wall_seconds,
            self.trace_hash
        )
    }
}

/// The benchmark scenario a [`BenchKind::Scenario`] workload writes.
pub fn scenario_file(workload: &BenchWorkload, text: String) -> ScenarioFile {
    ScenarioFile::from_text(&format!("<{} benchmark>", workload.name), text)
        .unwrap_or_else(|error| panic!("the {} benchmark scenario: {error}", workload.name))
}

/// Runs `workload` once for `seconds` virtual seconds (of faults, for a
/// scenario workload, plus its liveness window).
///
/// # Panics
/// If a scenario workload's scenario is invalid or its run fails a check: a
/// benchmark measures a correct run.
pub fn run(registry: &Registry, workload: &BenchWorkload, seconds: u64) -> BenchResult {
    match workload.kind {
        BenchKind::World(bench) => {
            let started = std::time::Instant::now();
            let measure = bench(seconds);
            BenchResult {
                workload: workload.name,
                scenario: false,
                deliveries: measure.deliveries,
                wall_seconds: started.elapsed().as_secs_f64(),
                trace_hash: measure.trace_hash,
                peak_queue: measure.peak_queue,
                virtual_seconds: measure.virtual_seconds,
                unit: None,
            }
        }
        BenchKind::Compute { unit, run } => {
            let started = std::time::Instant::now();
            let (count, hash) = run(seconds);
            BenchResult {
                workload: workload.name,
                scenario: false,
                deliveries: count,
                wall_seconds: started.elapsed().as_secs_f64(),
                trace_hash: hash,
                peak_queue: None,
                virtual_seconds: 0.0,
                unit: Some(unit),
            }
        }
        BenchKind::Scenario(text) => {
            let file = scenario_file(workload, text(seconds));
            let started = std::time::Instant::now();
            let outcome = registry
                .run_file(&file, &RunOptions::seed(1))
                .unwrap_or_else(|error| panic!("{error}"));
            let wall_seconds = started.elapsed().as_secs_f64();
            assert!(
                outcome.passed(),
                "the {} benchmark run failed: {:?}",
                workload.name,
                outcome.summary.violations
            );
            BenchResult {
                workload: workload.name,
                scenario: true,
                deliveries: outcome.summary.stats.messages.delivered,
                wall_seconds,
                trace_hash: u64::from_str_radix(&outcome.summary.trace_hash, 16).unwrap_or(0),
                peak_queue: None,
                virtual_seconds: outcome.summary.virtual_time as f64 / 1e9,
                unit: None,
            }
        }
    }
}

/// Seeds per second of a scenario workload's 10-virtual-second scenario (one
/// thread); `None` for a bare-world workload.
pub fn seeds_per_second(registry: &Registry, workload: &BenchWorkload, seeds: u64) -> Option<f64> {
    let BenchKind::Scenario(text) = workload.kind else {
        return None;
    };
    let file = scenario_file(workload, text(10));
    let started = std::time::Instant::now();
    for seed in 1..=seeds {
        let outcome = registry
            .run_file(&file, &RunOptions::seed(seed))
            .unwrap_or_else(|error| panic!("{error}"));
        assert!(
            outcome.passed(),
            "{} benchmark seed {seed} failed",
            workload.name
        );
    }
    Some(seeds as f64 / started.elapsed().as_secs_f64())
}
