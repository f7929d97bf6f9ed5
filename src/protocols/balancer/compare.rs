//! `faultline experiment balancer-strategies`: every strategy under the same
//! conditions, side by side.
//!
//! Ten backends with exponential service (mean 10 ms, one server each), one
//! balancer, Poisson arrivals, 20 s of load then a 5 s drain; requests are
//! idempotent, a try times out after 1 s and is retried once. The
//! conditions: equal backends at utilisation 0.5, 0.9 and 0.99; one backend
//! ten times slower (the `slow` fault; utilisation 0.5 of the whole, so the
//! slow one is overloaded if it gets its even share); one backend flapping
//! (down 1 s in every 3 s) under active checks; and one backend crashing for
//! good at 5 s, found by active checks (HAProxy's defaults: inter 2 s, rise
//! 2, fall 3, timeout 1 s) or by passive ones (Nginx's: max_fails 1,
//! fail_timeout 10 s). Each cell is the mean over the seeds of each run's
//! p50, p99 and p99.9 latency of requests answered ok, the imbalance (the
//! busiest backend's time-averaged tries in flight over the mean) and the
//! share of requests not answered ok.

use super::checker::BalancerChecker;
use super::{BalancerClient, BalancerConfig, BalancerNode, LoadBalancer, Settings, StrategyKind};
use crate::check::Checker;
use crate::sim::time::Duration;
use crate::sim::{Fault, Latency, NetworkConfig, Target, TimedFault, World, WorldConfig};
use crate::workload::WorkloadConfig;
use std::collections::BTreeMap;
use std::rc::Rc;

const BACKENDS: usize = 10;
const SECOND: u64 = 1_000_000_000;
const LOAD: u64 = 20 * SECOND;
const END: u64 = 25 * SECOND;

/// One condition of the comparison.
#[derive(Clone, Copy, Debug)]
pub struct Condition {
    /// Its name in the table.
    pub name: &'static str,
    /// Utilisation of the whole (arrival rate over total service rate).
    pub utilisation: f64,
    /// Extra `[protocol]` keys (health checks).
    pub health: &'static str,
    /// Faults on backend 0: (at, duration) crashes, or a slowdown.
    pub faults: Faults,
}

/// What happens to backend 0.
#[derive(Clone, Copy, Debug)]
pub enum Faults {
    /// Nothing.
    None,
    /// Crashed at 5 s, for good.
    CrashAt5s,
    /// Down for 1 s in every 3 s.
    Flapping,
    /// Ten times slower for the whole run.
    TenTimesSlower,
}

/// The conditions the table runs.
pub const CONDITIONS: [Condition; 7] = [
    Condition {
        name: "equal, utilisation 0.5",
        utilisation: 0.5,
        health: "",
        faults: Faults::None,
    },
    Condition {
        name: "equal, utilisation 0.9",
        utilisation: 0.9,
        health: "",
        faults: Faults::None,
    },
    Condition {
        name: "equal, utilisation 0.99",
        utilisation: 0.99,
        health: "",
        faults: Faults::None,
    },
    Condition {
        name: "one 10× slower, utilisation 0.5 of the whole",
        utilisation: 0.5,
        health: "",
        faults: Faults::TenTimesSlower,
    },
    Condition {
        name: "one flapping (active checks)",
        utilisation: 0.5,
        health: "active = { inter = \"500ms\", rise = 2, fall = 3, timeout = \"200ms\" }\n",
        faults: Faults::Flapping,
    },
    Condition {
        name: "one crashed at 5 s (active checks)",
        utilisation: 0.5,
        health: "active = { inter = \"2s\", rise = 2, fall = 3, timeout = \"1s\" }\n",
        faults: Faults::CrashAt5s,
    },
    Condition {
        name: "one crashed at 5 s (passive checks)",
        utilisation: 0.5,
        health: "passive = { max_fails = 1, fail_timeout = \"10s\" }\n",
        faults: Faults::CrashAt5s,
    },
];

/// The strategies, in table order.
pub const STRATEGIES: [StrategyKind; 7] = [
    StrategyKind::RoundRobin,
    StrategyKind::Weighted,
    StrategyKind::Random,
    StrategyKind::LeastConn,
    StrategyKind::P2c,
    StrategyKind::Hash,
    StrategyKind::BoundedHash,
];

/// One run's measures, by name.
pub fn run(
    condition: &Condition,
    strategy: StrategyKind,
    seed: u64,
) -> BTreeMap<&'static str, f64> {
    let rate = condition.utilisation * BACKENDS as f64 * 100.0;
    let text = format!(
        "name = \"balancer\"\nstrategy = \"{}\"\nrate = {rate}\nidempotent = true\ntry_timeout = \"1s\"\nretries = 1\nservice = {{ distribution = \"exponential\", mean = \"10ms\" }}\n{}",
        strategy.name(),
        condition.health
    );
    let backend = Target::Nodes(vec![1]);
    let mut faults = Vec::new();
    match condition.faults {
        Faults::None => {}
        Faults::TenTimesSlower => faults.push((
            0,
            TimedFault::new(Fault::Slow {
                target: backend,
                factor: crate::sim::fault::SlowFactor::from_factor(10.0).expect("10 is a factor"),
            }),
        )),
        Faults::CrashAt5s => faults.push((5 * SECOND, TimedFault::new(Fault::Crash(backend)))),
        Faults::Flapping => {
            let mut at = 2 * SECOND;
            while at + SECOND < LOAD {
                faults.push((
                    at,
                    TimedFault::new(Fault::Crash(backend.clone())).lasting(SECOND),
                ));
                at += 3 * SECOND;
            }
        }
    }
    run_world(&text, faults, seed)
}

/// Runs ten backends behind one balancer configured by `text` (a
/// `[protocol]` table) with `faults` for 20 s of load and a 5 s drain, the
/// checker judging; returns its measures.
pub fn run_world(
    text: &str,
    faults: Vec<(u64, TimedFault)>,
    seed: u64,
) -> BTreeMap<&'static str, f64> {
    let config: BalancerConfig =
        toml::from_str(text).expect("the comparison's configuration parses");
    let nodes = BACKENDS + 1;
    let clients = 4;
    let network = NetworkConfig {
        latency: Latency::Uniform {
            min: Duration(200_000),
            max: Duration(600_000),
        },
        ..NetworkConfig::default()
    };
    let world_config = WorldConfig {
        seed,
        nodes,
        clients,
        network: network.clone(),
        ..WorldConfig::default()
    };
    let workload = WorkloadConfig {
        clients,
        op_interval: Duration::from_secs(1),
        op_timeout: Duration::from_secs(5),
    };
    let settings = Rc::new(Settings::new(config.clone(), nodes));
    let factory_settings = settings.clone();
    let client_config = Rc::new(config);
    let mut world: World<LoadBalancer> = World::new(
        &world_config,
        Rc::new(move |id| BalancerNode::new(&factory_settings, id)),
        |index| BalancerClient::new(client_config.clone(), index, &workload),
    );
    for (at, fault) in faults {
        world.schedule_fault(at, fault);
    }
    world.schedule_fault(LOAD, TimedFault::new(Fault::HealAll));
    let mut checker = BalancerChecker::new(settings, clients, &network);
    world.start();
    while let Some(step) = world.step_until(END) {
        // The comparison measures; the campaigns judge. A finding here would
        // still be a bug, so it is not ignored.
        if let Some(finding) = checker.after_step(&world, step) {
            panic!("{}: {}", finding.property, finding.message);
        }
    }
    world.advance_to(END);
    checker.at_end(&world);
    checker.measures().into_iter().collect()
}

/// A health-check style the detection experiment measures, with its
/// formula.
struct Style {
    name: &'static str,
    keys: &'static str,
    /// Expected detection (s): mean, and the bound.
    detection: (f64, f64),
    /// Expected recovery (s): mean, and the bound, when the checks govern it.
    recovery: Option<(f64, f64)>,
}

const STYLES: [Style; 4] = [
    Style {
        name: "active, HAProxy defaults (inter 2s, fall 3, rise 2, timeout 1s)",
        keys: "active = { inter = \"2s\", rise = 2, fall = 3, timeout = \"1s\" }\n",
        detection: (6.0, 7.0),
        recovery: Some((3.0, 4.0)),
    },
    Style {
        name: "active, inter 500ms, fall 2, rise 3, timeout 100ms",
        keys: "active = { inter = \"500ms\", rise = 3, fall = 2, timeout = \"100ms\" }\n",
        detection: (0.85, 1.1),
        recovery: Some((1.25, 1.5)),
    },
    Style {
        name: "passive, Nginx defaults (max_fails 1, fail_timeout 10s)",
        keys: "passive = { max_fails = 1, fail_timeout = \"10s\" }\n",
        detection: (1.05, 1.1),
        recovery: Some((3.05, 3.1)),
    },
    Style {
        name: "outlier, 5 consecutive errors, base ejection 30s",
        keys: "outlier = { consecutive_errors = 5, interval = \"10s\", base_ejection = \"30s\", max_ejection_percent = 10 }\n",
        detection: (1.13, 1.2),
        recovery: None,
    },
];

/// `faultline experiment balancer-health`: how long each health-check
/// style takes to take a crashed backend out of rotation and to bring it
/// back, against its formula.
pub fn health_table(trials: Option<u64>, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    let seeds = trials.unwrap_or(20);
    writeln!(
        out,
        "health checks: backend 0 of 10 crashes at 5 s + U(0, 2 s) and restarts 8 s later; 500 requests/s, try timeout 1 s; {}",
        super::theory::seed_count(seeds)
    )?;
    writeln!(
        out,
        "active: detection = the fall-th failed check after the crash, about inter/2 + (fall − 1)·inter + timeout (bound fall·inter + timeout);"
    )?;
    writeln!(
        out,
        "        recovery = the rise-th good check after the restart, about inter/2 + (rise − 1)·inter (bound rise·inter)"
    )?;
    writeln!(
        out,
        "passive: detection = the first try after the crash timing out, try_timeout plus up to a sweep (a tenth of it);"
    )?;
    writeln!(
        out,
        "         recovery = fail_timeout after the detection, less the 8 s the backend was down"
    )?;
    writeln!(
        out,
        "outlier: detection = the fifth try in a row timing out, try_timeout + 4 × 20 ms between tries + up to a sweep; its 30 s ejection outlasts the run"
    )?;
    for style in &STYLES {
        let mut detections = Vec::new();
        let mut recoveries = Vec::new();
        for seed in 1..=seeds {
            let mut rng = crate::sim::rng::stream(seed, "health_experiment", 0);
            let crash = 5 * SECOND + crate::sim::rng::between(&mut rng, 0, 2 * SECOND);
            let text = format!(
                "name = \"balancer\"\nstrategy = \"round_robin\"\nrate = 500\nidempotent = true\ntry_timeout = \"1s\"\nretries = 1\nservice = {{ distribution = \"exponential\", mean = \"10ms\" }}\n{}",
                style.keys
            );
            let faults = vec![(
                crash,
                TimedFault::new(Fault::Crash(Target::Nodes(vec![1]))).lasting(8 * SECOND),
            )];
            let measures = run_world(&text, faults, seed);
            if let Some(&value) = measures.get("balancer_detection_ms") {
                detections.push(value / 1e3);
            }
            if let Some(&value) = measures.get("balancer_recovery_ms") {
                recoveries.push(value / 1e3);
            }
        }
        writeln!(out)?;
        writeln!(out, "{}", style.name)?;
        let line = |values: &[f64], expected: Option<(f64, f64)>| -> String {
            if values.is_empty() {
                return "not measured".into();
            }
            let mean = values.iter().sum::<f64>() / values.len() as f64;
            let low = values.iter().copied().fold(f64::INFINITY, f64::min);
            let high = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let formula = expected.map_or("—".to_string(), |(m, b)| {
                format!("about {m:.2}, at most {b:.2}")
            });
            format!(
                "mean {mean:.3} s, range {low:.3}–{high:.3} s ({} runs); formula {formula}",
                values.len()
            )
        };
        writeln!(
            out,
            "  detection  {}",
            line(&detections, Some(style.detection))
        )?;
        writeln!(out, "  recovery   {}", line(&recoveries, style.recovery))?;
    }
    Ok(())
}

/// `faultline experiment balancer-strategies`.
pub fn strategies_table(trials: Option<u64>, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    let seeds = trials.unwrap_or(3);
    writeln!(
        out,
        "strategies: 10 exponential backends (mean 10 ms), one balancer, 20 s of Poisson load; mean over {}",
        super::theory::seed_count(seeds)
    )?;
    for condition in &CONDITIONS {
        writeln!(out)?;
        writeln!(out, "{}", condition.name)?;
        writeln!(
            out,
            "{:<13} {:>9} {:>9} {:>10} {:>10} {:>7}",
            "strategy", "p50 ms", "p99 ms", "p99.9 ms", "imbalance", "not ok"
        )?;
        for strategy in STRATEGIES {
            let mut sums: BTreeMap<&'static str, f64> = BTreeMap::new();
            for seed in 1..=seeds {
                for (name, value) in run(condition, strategy, seed) {
                    *sums.entry(name).or_default() += value;
                }
            }
            let mean = |name: &str| sums.get(name).copied().unwrap_or(0.0) / seeds as f64;
            writeln!(
                out,
                "{:<13} {:>9.1} {:>9.1} {:>10.1} {:>10.2} {:>6.1}%",
                strategy.name(),
                mean("balancer_p50_ms"),
                mean("balancer_p99_ms"),
                mean("balancer_p999_ms"),
                mean("balancer_imbalance"),
                100.0 * mean("balancer_not_ok"),
            )?;
        }
    }
    Ok(())
}
