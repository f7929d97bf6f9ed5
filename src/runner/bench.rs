//! Speed benchmarks of the simulator (`faultline bench WORKLOAD`).
//!
//! Wall-clock time is read here, outside the simulated world, only to report
//! throughput; nothing measured feeds back into a run.

use super::run::{RunOptions, run_file};
use crate::protocols::token_forward::{NoClient, TokenForward, TokenNode};
use crate::scenario::ScenarioFile;
use crate::sim::{Latency, NetworkConfig, Probability, World, WorldConfig, time::Duration};
use std::rc::Rc;

/// The result of one benchmark run.
#[derive(Clone, Debug)]
pub struct BenchResult {
    /// Workload name.
    pub workload: &'static str,
    /// Messages delivered.
    pub deliveries: u64,
    /// Wall-clock seconds.
    pub wall_seconds: f64,
    /// The run's trace hash (proves the same work was done).
    pub trace_hash: u64,
    /// Peak number of queued events (memory stays flat in run length).
    pub peak_queue: usize,
    /// Virtual seconds simulated.
    pub virtual_seconds: f64,
}

impl BenchResult {
    /// The one-line report.
    pub fn line(&self) -> String {
        if self.workload != "token_forward" {
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

/// The names `faultline bench` accepts.
pub const WORKLOADS: [&str; 3] = ["token_forward", "raft", "paxos"];

/// Runs the `token_forward` benchmark: 5 nodes, 100 tokens injected by node 0,
/// fixed 1 ms latency, no faults, `seconds` virtual seconds.
pub fn token_forward(seconds: u64) -> BenchResult {
    let config = WorldConfig {
        seed: 1,
        nodes: 5,
        clients: 0,
        network: NetworkConfig {
            latency: Latency::Constant {
                value: Duration::from_millis(1),
            },
            drop_probability: Probability(0.0),
            duplicate_probability: Probability(0.0),
            ..NetworkConfig::default()
        },
        ..WorldConfig::default()
    };
    let started = std::time::Instant::now();
    let mut world: World<TokenForward> =
        World::new(&config, Rc::new(|id| TokenNode::new(id, 100)), |_| NoClient);
    world.start();
    let limit = seconds * crate::sim::SECOND - 1;
    let mut peak_queue = 0;
    let mut steps = 0u64;
    while world.step_until(limit).is_some() {
        steps += 1;
        if steps.is_multiple_of(4096) {
            peak_queue = peak_queue.max(world.pending());
        }
    }
    let wall_seconds = started.elapsed().as_secs_f64();
    BenchResult {
        workload: "token_forward",
        deliveries: world.network().delivered,
        wall_seconds,
        trace_hash: world.trace_hash(),
        peak_queue,
        virtual_seconds: seconds as f64,
    }
}

/// The replicated key/value benchmark scenario for `protocol` (`raft` or
/// `paxos`): 5 nodes, 3 clients at about 100 operations per second in total, a
/// nemesis of partitions and crashes (leaders included), every checker on (the
/// protocol's invariants and linearizability).
pub fn kv_scenario(protocol: &str, seconds: u64) -> ScenarioFile {
    let text = format!(
        r#"name = "{protocol} benchmark"
duration = "{seconds}s"
liveness_window = "5s"

[protocol]
name = "{protocol}"
ops = ["get", "put", "cas"]

[cluster]
nodes = 5

[workload]
clients = 3
op_interval = "30ms"

[network]
latency = {{ distribution = "uniform", min = "1ms", max = "5ms" }}

[nemesis]
faults = ["partition", "isolate", "crash", "crash_leader"]
interval = ["500ms", "2s"]
duration = ["200ms", "2s"]
"#
    );
    ScenarioFile::from_text(&format!("<{protocol} benchmark>"), text)
        .expect("the benchmark scenario is valid")
}

/// Runs one seed of [`kv_scenario`] (`seconds` of faults plus the 5 s liveness
/// window) with every checker on. `protocol` is `raft` or `paxos`.
pub fn kv(protocol: &'static str, seconds: u64) -> BenchResult {
    let file = kv_scenario(protocol, seconds);
    let started = std::time::Instant::now();
    let outcome = run_file(&file, &RunOptions::seed(1)).expect("valid");
    let wall_seconds = started.elapsed().as_secs_f64();
    assert!(
        outcome.passed(),
        "the {protocol} benchmark run failed: {:?}",
        outcome.summary.violations
    );
    BenchResult {
        workload: protocol,
        deliveries: outcome.summary.stats.messages.delivered,
        wall_seconds,
        trace_hash: u64::from_str_radix(&outcome.summary.trace_hash, 16).unwrap_or(0),
        peak_queue: 0,
        virtual_seconds: outcome.summary.virtual_time as f64 / 1e9,
    }
}

/// Seeds per second for the 10-virtual-second [`kv_scenario`] (one thread).
pub fn kv_seeds_per_second(protocol: &str, seeds: u64) -> f64 {
    let file = kv_scenario(protocol, 10);
    let started = std::time::Instant::now();
    for seed in 1..=seeds {
        let outcome = run_file(&file, &RunOptions::seed(seed)).expect("valid");
        assert!(outcome.passed(), "{protocol} benchmark seed {seed} failed");
    }
    seeds as f64 / started.elapsed().as_secs_f64()
}

#[cfg(test)]
mod tests {
    #[test]
    fn token_forward_delivers_exactly_the_expected_count() {
        // 100 tokens × 9,999 hops in 10 virtual seconds.
        let result = super::token_forward(10);
        assert_eq!(result.deliveries, 999_900);
        assert!(result.peak_queue <= 100);
    }
}
