//! Speed benchmarks of the simulator (`faultline bench WORKLOAD`).
//!
//! Wall-clock time is read here, outside the simulated world, only to report
//! throughput; nothing measured feeds back into a run.

use crate::protocols::token_forward::{NoClient, TokenForward, TokenNode};
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
}

impl BenchResult {
    /// The one-line report.
    pub fn line(&self) -> String {
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
pub const WORKLOADS: [&str; 1] = ["token_forward"];

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
    }
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
