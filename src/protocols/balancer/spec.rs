//! balancer as the tool sees it: its declarations, its checks of the
//! `[protocol]` table, and how a run is built.

use super::{
    Arrivals, BalancerBug, BalancerChecker, BalancerClient, BalancerConfig, BalancerNode,
    BalancerPoint, LoadBalancer, Settings, StrategyKind,
};
use crate::check::Checker;
use crate::sim::NodeFactory;
use crate::spec::declare::bug_names;
use crate::spec::hooks::{BenchKind, BenchMeasure, BenchWorkload, Experiment};
use crate::spec::{Declared, Invalid, ProtocolSpec, Setup};
use std::rc::Rc;

/// The most points per backend on a hash ring.
const MAX_VNODES: u32 = 10_000;

fn positive(key: &str, value: crate::sim::time::Duration) -> Result<(), Invalid> {
    if value.0 == 0 {
        return Err(Invalid::key(key, "expected a duration above 0"));
    }
    Ok(())
}

fn percent(key: &str, value: f64) -> Result<(), Invalid> {
    if !(0.0..=100.0).contains(&value) {
        return Err(Invalid::key(
            key,
            format!("expected a percentage in [0, 100], got {value}"),
        ));
    }
    Ok(())
}

fn at_least_one(key: &str, value: u64, what: &str) -> Result<(), Invalid> {
    if value == 0 {
        return Err(Invalid::key(
            key,
            format!("expected at least 1 {what}, got 0"),
        ));
    }
    Ok(())
}

impl ProtocolSpec for LoadBalancer {
    type Config = BalancerConfig;
    const NAME: &'static str = "balancer";
    const SUMMARY: &'static str = "a load balancer (round robin, smooth weighted, random, least connections, power of d choices, consistent and bounded-load hashing) with active, passive and outlier health checks and retries, in front of queueing backends";
    const BUGS: &'static [Declared] = BalancerBug::ALL;
    const PROPERTIES: &'static [Declared] = &[
        Declared::new(
            "answered_once",
            "always: a balancer answers each request it accepted at most once, and to its own client; eventually: every request accepted by a balancer that has not crashed since is answered",
        ),
        Declared::new(
            "at_most_once",
            "always, unless requests are idempotent: no request runs to completion twice",
        ),
        Declared::new(
            "detection",
            "always, with active checks: no try goes to a backend unreachable from the balancer for longer than fall × inter + timeout, except in panic mode (counted)",
        ),
        Declared::new(
            "recovery",
            "always, with active checks alone on a lossless link: a backend reachable again is back in rotation within rise × inter plus a round trip",
        ),
        Declared::new(
            "bounded_load",
            "always, bounded_hash: no pick leaves its backend above ⌈c · mean⌉ tries in flight",
        ),
        Declared::new(
            "picks_follow_strategy",
            "always: every try goes to a candidate (in rotation, or any in panic mode, not tried before), least connections to a least loaded one, power of d to the least loaded of d distinct draws, hash to the key's first candidate clockwise",
        ),
        Declared::new(
            "drained_after_heal",
            "eventually: after the heal every backend is in rotation (unless a passive down time or an ejection is running its course) and no balancer or backend holds a request",
        ),
    ];
    const MEASURES: &'static [Declared] = &[
        Declared::new(
            "balancer_p50_ms",
            "median latency of requests answered ok (ms)",
        ),
        Declared::new(
            "balancer_p99_ms",
            "99th percentile latency of requests answered ok (ms)",
        ),
        Declared::new(
            "balancer_p999_ms",
            "99.9th percentile latency of requests answered ok (ms)",
        ),
        Declared::new(
            "balancer_mean_ms",
            "mean latency of requests answered ok (ms)",
        ),
        Declared::new(
            "balancer_not_ok",
            "share of requests not answered ok (refused, timed out, given up, or still open)",
        ),
        Declared::new(
            "balancer_imbalance",
            "the busiest backend's time-averaged tries in flight over the mean across backends",
        ),
        Declared::new("balancer_retries", "retries sent"),
        Declared::new(
            "balancer_panic_tries_to_down",
            "tries sent in panic mode to a backend past its detection window",
        ),
        Declared::new(
            "balancer_detection_ms",
            "mean time from a backend becoming unreachable to the balancer taking it out of rotation (ms)",
        ),
        Declared::new(
            "balancer_recovery_ms",
            "mean time from a backend becoming reachable again to the balancer putting it back (ms)",
        ),
    ];
    const SOMETIMES: &'static [Declared] = BalancerPoint::ALL;
    const GROUPS: &'static [Declared] = &[
        Declared::new("balancers", "the balancer nodes"),
        Declared::new("backends", "the backend nodes"),
    ];

    fn validate(setup: &Setup<'_, BalancerConfig>) -> Result<(), Invalid> {
        let config = setup.config;
        if config.balancers == 0 {
            return Err(Invalid::key(
                "protocol.balancers",
                "expected at least 1 balancer, got 0",
            ));
        }
        if setup.nodes <= config.balancers {
            return Err(Invalid::key(
                "cluster.nodes",
                format!(
                    "expected more nodes than the {} balancer{} (the rest are backends), got {}",
                    config.balancers,
                    if config.balancers == 1 { "" } else { "s" },
                    setup.nodes
                ),
            ));
        }
        let backends = setup.nodes - config.balancers;
        if config.strategy == StrategyKind::P2c
            && (config.choices == 0 || config.choices > backends)
        {
            return Err(Invalid::key(
                "protocol.choices",
                format!(
                    "expected a number of choices d between 1 and the {backends} backends, got {}",
                    config.choices
                ),
            ));
        }
        if !(config.load_factor.is_finite() && config.load_factor >= 1.0) {
            return Err(Invalid::key(
                "protocol.load_factor",
                format!(
                    "expected a load factor c of at least 1 (c < 1 caps every backend below the mean, so no pick could fit), got {}",
                    config.load_factor
                ),
            ));
        }
        if config.vnodes == 0 || config.vnodes > MAX_VNODES {
            return Err(Invalid::key(
                "protocol.vnodes",
                format!(
                    "expected between 1 and {MAX_VNODES} points per backend, got {}",
                    config.vnodes
                ),
            ));
        }
        if !config.weights.is_empty() {
            if config.weights.len() != backends {
                return Err(Invalid::key(
                    "protocol.weights",
                    format!(
                        "expected one weight per backend ({backends}), got {}",
                        config.weights.len()
                    ),
                ));
            }
            if config.weights.contains(&0) {
                return Err(Invalid::key(
                    "protocol.weights",
                    "expected every weight to be at least 1",
                ));
            }
        }
        match config.service.mean_nanos() {
            Some(mean) if mean > 0.0 => {}
            Some(mean) => {
                return Err(Invalid::key(
                    "protocol.service",
                    format!(
                        "expected a service-time distribution with a positive mean, got a mean of {mean} ns"
                    ),
                ));
            }
            None => {
                return Err(Invalid::key(
                    "protocol.service",
                    "expected a service-time distribution with a finite mean (a pareto shape above 1)",
                ));
            }
        }
        if let Err(message) = config.service.validate() {
            return Err(Invalid::key("protocol.service", message));
        }
        at_least_one("protocol.workers", config.workers as u64, "worker")?;
        at_least_one("protocol.keys", config.keys, "key")?;
        match config.arrivals {
            Arrivals::Open => {
                if !(config.rate.is_finite() && config.rate > 0.0) {
                    return Err(Invalid::key(
                        "protocol.rate",
                        format!(
                            "expected a positive number of requests per second, got {}",
                            config.rate
                        ),
                    ));
                }
            }
            Arrivals::Closed => {
                at_least_one("protocol.concurrency", config.concurrency as u64, "request")?;
            }
        }
        positive("protocol.try_timeout", config.try_timeout)?;
        let budget = config.retry_budget;
        percent("protocol.retry_budget.percent", budget.percent)?;
        if let Some(active) = config.active {
            positive("protocol.active.inter", active.inter)?;
            positive("protocol.active.timeout", active.timeout)?;
            at_least_one("protocol.active.rise", u64::from(active.rise), "check")?;
            at_least_one("protocol.active.fall", u64::from(active.fall), "check")?;
            if active.timeout > active.inter {
                return Err(Invalid::key(
                    "protocol.active.timeout",
                    format!(
                        "expected a check timeout of at most inter ({}), got {}",
                        active.inter, active.timeout
                    ),
                ));
            }
        }
        if let Some(passive) = config.passive {
            at_least_one(
                "protocol.passive.max_fails",
                u64::from(passive.max_fails),
                "failure",
            )?;
            positive("protocol.passive.fail_timeout", passive.fail_timeout)?;
        }
        if let Some(outlier) = config.outlier {
            at_least_one(
                "protocol.outlier.consecutive_errors",
                u64::from(outlier.consecutive_errors),
                "error",
            )?;
            positive("protocol.outlier.interval", outlier.interval)?;
            positive("protocol.outlier.base_ejection", outlier.base_ejection)?;
            percent(
                "protocol.outlier.max_ejection_percent",
                f64::from(outlier.max_ejection_percent),
            )?;
        }
        percent(
            "protocol.panic_threshold",
            f64::from(config.panic_threshold),
        )?;
        Ok(())
    }

    fn active_bugs(config: &BalancerConfig) -> Vec<String> {
        bug_names(&config.bugs)
    }

    fn node_factory(setup: &Setup<'_, BalancerConfig>) -> NodeFactory<Self> {
        let settings = Rc::new(Settings::new(setup.config.clone(), setup.nodes));
        Rc::new(move |id| BalancerNode::new(&settings, id))
    }

    fn client(setup: &Setup<'_, BalancerConfig>, index: usize) -> BalancerClient {
        BalancerClient::new(Rc::new(setup.config.clone()), index, setup.workload)
    }

    fn checkers(setup: &Setup<'_, BalancerConfig>) -> Vec<Box<dyn Checker<Self>>> {
        let settings = Rc::new(Settings::new(setup.config.clone(), setup.nodes));
        vec![Box::new(BalancerChecker::new(
            settings,
            setup.clients,
            setup.network,
        ))]
    }

    fn bench_workloads() -> Vec<BenchWorkload> {
        vec![
            BenchWorkload {
                name: "balancer",
                what: "scenarios/balancer/nemesis.toml: p2c with active checks in front of 8 backends under crashes, pauses and partitions, every checker on",
                kind: BenchKind::Scenario(bench_text),
            },
            BenchWorkload {
                name: "balancer-requests",
                what: "requests simulated: one balancer (p2c) in front of 100 backends at 10⁵ requests per virtual second, utilisation 0.9, no checker",
                kind: BenchKind::World(bench_requests),
            },
        ]
    }

    fn experiments() -> Vec<Experiment> {
        vec![
            Experiment {
                name: "balancer-supermarket",
                what: "the supermarket model: mean time in system of random (d = 1) and power of two (d = 2) over 100 exponential backends at λ = 0.5, 0.9, 0.99, against the fluid limit",
                run: super::theory::supermarket_table,
            },
            Experiment {
                name: "balancer-strategies",
                what: "every strategy side by side: p50, p99, p99.9, imbalance and failures with equal backends at utilisation 0.5, 0.9, 0.99, one flapping, one crashed (active vs passive checks)",
                run: super::compare::strategies_table,
            },
            Experiment {
                name: "balancer-health",
                what: "detection and recovery time of active (HAProxy), passive (Nginx) and outlier (Envoy) health checks for a crashed backend, against their formulas",
                run: super::compare::health_table,
            },
            Experiment {
                name: "balancer-bins",
                what: "balls into bins: the fullest of n bins after n balls by greedy(d), d = 1, 2, 3, n = 10⁴ … 10⁶, and the fluid limit's level fractions",
                run: super::theory::bins_table,
            },
        ]
    }

    fn groups(setup: &Setup<'_, BalancerConfig>) -> Vec<(&'static str, Vec<usize>)> {
        let balancers = setup.config.balancers.min(setup.nodes);
        vec![
            ("balancers", (0..balancers).collect()),
            ("backends", (balancers..setup.nodes).collect()),
        ]
    }
}

/// The benchmark scenario: `scenarios/balancer/nemesis.toml` for `seconds`.
fn bench_text(seconds: u64) -> String {
    format!(
        r#"name = "balancer benchmark"
duration = "{seconds}s"
liveness_window = "5s"

[protocol]
name = "balancer"
strategy = "p2c"
rate = 400
service = {{ distribution = "exponential", mean = "10ms" }}
try_timeout = "300ms"
retries = 1
queue_limit = 50
active = {{ inter = "500ms", rise = 2, fall = 3, timeout = "200ms" }}

[cluster]
nodes = 9

[workload]
clients = 4
op_timeout = "1s"

[network]
latency = {{ distribution = "uniform", min = "1ms", max = "3ms" }}

[nemesis]
faults = ["crash", "pause", "isolate"]
interval = ["300ms", "2s"]
duration = ["300ms", "4s"]
"#
    )
}

/// 100 backends, 10⁵ requests per virtual second, for `seconds` virtual
/// seconds: the simulator's speed on a balancer's traffic.
fn bench_requests(seconds: u64) -> BenchMeasure {
    use crate::sim::{Latency, NetworkConfig, World, WorldConfig};
    let backends = 100;
    let config: BalancerConfig = toml::from_str(
        "name = \"balancer\"\nstrategy = \"p2c\"\nrecord = false\nrate = 100000\nretries = 0\ntry_timeout = \"10s\"\nservice = { distribution = \"exponential\", mean = \"900us\" }\n",
    )
    .expect("the benchmark configuration parses");
    let nodes = backends + 1;
    let settings = Rc::new(Settings::new(config.clone(), nodes));
    let world_config = WorldConfig {
        seed: 1,
        nodes,
        clients: 10,
        network: NetworkConfig {
            latency: Latency::Uniform {
                min: crate::sim::Duration(20_000),
                max: crate::sim::Duration(80_000),
            },
            ..NetworkConfig::default()
        },
        ..WorldConfig::default()
    };
    let workload = crate::workload::WorkloadConfig {
        clients: 10,
        op_interval: crate::sim::Duration::from_secs(1),
        op_timeout: crate::sim::Duration::from_secs(60),
    };
    let config = Rc::new(config);
    let mut world: World<LoadBalancer> = World::new(
        &world_config,
        Rc::new(move |id| BalancerNode::new(&settings, id)),
        |index| BalancerClient::new(config.clone(), index, &workload),
    );
    world.start();
    let end = seconds * crate::sim::SECOND;
    let mut peak = 0;
    while world.step_until(end).is_some() {
        peak = peak.max(world.pending());
    }
    BenchMeasure {
        deliveries: world.network().delivered,
        trace_hash: world.trace_hash(),
        peak_queue: Some(peak),
        virtual_seconds: seconds as f64,
    }
}
