//! token_forward as the tool sees it: its `[protocol]` table, its planted bug,
//! and the simulator-speed benchmark it exists for.

use super::{NoClient, TokenForward, TokenNode};
use crate::check::Checker;
use crate::sim::{Latency, NetworkConfig, NodeFactory, Probability, World, WorldConfig};
use crate::spec::declare::bug_names;
use crate::spec::hooks::{BenchKind, BenchMeasure};
use crate::spec::{BenchWorkload, Declared, ProtocolSpec, Setup};
use serde::{Deserialize, Serialize};
use std::rc::Rc;

/// The `[protocol]` table for `name = "token_forward"`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenForwardConfig {
    /// Always `"token_forward"`.
    pub name: String,
    /// Planted bugs. Default none.
    #[serde(default)]
    pub bugs: Vec<TokenForwardBug>,
    /// Tokens node 0 injects at time 0. Default 100.
    #[serde(default = "default_tokens")]
    pub tokens: u32,
}

crate::declare! {
    /// token_forward's planted bug.
    pub enum TokenForwardBug {
        /// Next hop from a process-wide counter, not the seeded rng (caught by
        /// --check-determinism).
        Nondeterministic = "nondeterministic",
    }
}

fn default_tokens() -> u32 {
    100
}

impl ProtocolSpec for TokenForward {
    type Config = TokenForwardConfig;
    const NAME: &'static str = "token_forward";
    const SUMMARY: &'static str = "tokens hop between random nodes (the simulator speed benchmark)";
    const BUGS: &'static [Declared] = TokenForwardBug::ALL;
    const PROPERTIES: &'static [Declared] = &[];

    fn active_bugs(config: &TokenForwardConfig) -> Vec<String> {
        bug_names(&config.bugs)
    }

    fn node_factory(setup: &Setup<'_, TokenForwardConfig>) -> NodeFactory<Self> {
        let tokens = setup.config.tokens;
        let nondeterministic = setup
            .config
            .bugs
            .contains(&TokenForwardBug::Nondeterministic);
        Rc::new(move |id| TokenNode {
            nondeterministic,
            ..TokenNode::new(id, tokens)
        })
    }

    fn client(_setup: &Setup<'_, TokenForwardConfig>, _index: usize) -> NoClient {
        NoClient
    }

    fn checkers(_setup: &Setup<'_, TokenForwardConfig>) -> Vec<Box<dyn Checker<Self>>> {
        Vec::new()
    }

    fn bench_workloads() -> Vec<BenchWorkload> {
        vec![BenchWorkload {
            name: "token_forward",
            what: "raw simulator speed: 5 nodes, 100 tokens, 1 ms latency, no faults, no checkers",
            kind: BenchKind::World(bench),
        }]
    }
}

/// The `token_forward` benchmark: 5 nodes, 100 tokens injected by node 0, fixed
/// 1 ms latency, no faults, `seconds` virtual seconds.
pub fn bench(seconds: u64) -> BenchMeasure {
    let config = WorldConfig {
        seed: 1,
        nodes: 5,
        clients: 0,
        network: NetworkConfig {
            latency: Latency::Constant {
                value: crate::sim::Duration::from_millis(1),
            },
            drop_probability: Probability(0.0),
            duplicate_probability: Probability(0.0),
            ..NetworkConfig::default()
        },
        ..WorldConfig::default()
    };
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
    BenchMeasure {
        deliveries: world.network().delivered,
        trace_hash: world.trace_hash(),
        peak_queue: Some(peak_queue),
        virtual_seconds: seconds as f64,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_benchmark_delivers_exactly_the_expected_count() {
        // 100 tokens × 9,999 hops in 10 virtual seconds.
        let measure = super::bench(10);
        assert_eq!(measure.deliveries, 999_900);
        assert!(measure.peak_queue.is_some_and(|peak| peak <= 100));
    }
}
