//! quorum as the tool sees it: its declarations, its checks of the
//! `[protocol]` table, and how a run is built.

use super::{
    Quorum, QuorumBug, QuorumChecker, QuorumClient, QuorumConfig, QuorumNode, QuorumPoint,
    Settings, Versioning,
};
use crate::check::Checker;
use crate::check::Linearizability;
use crate::check::models::Kv;
use crate::sim::NodeFactory;
use crate::spec::declare::bug_names;
use crate::spec::hooks::{BenchKind, BenchWorkload, Experiment};
use crate::spec::{Declared, Invalid, ProtocolSpec, Setup};
use std::rc::Rc;

/// The most virtual nodes per node (a ring of 256 nodes then holds 262,144
/// points).
const MAX_TOKENS: u32 = 1024;
/// The most keys (each node holds every key's preference list).
const MAX_KEYS: u64 = 10_000;

impl ProtocolSpec for Quorum {
    type Config = QuorumConfig;
    const NAME: &'static str = "quorum";
    const SUMMARY: &'static str = "a Dynamo-style quorum store: N/R/W on a consistent-hash ring, vector clocks or last-write-wins, read repair, sloppy quorum with hinted handoff, Merkle anti-entropy, CRC-checked records";
    const BUGS: &'static [Declared] = QuorumBug::ALL;
    const PROPERTIES: &'static [Declared] = &[
        Declared::new(
            "linearizability",
            "always (strict mode: r + w > n, no sloppy quorum, synchronous read repair, last-write-wins): the client history is linearizable (kv model)",
        ),
        Declared::new(
            "corruption_never_served",
            "always: every value a get returns was written to that key by a put",
        ),
        Declared::new(
            "convergence",
            "eventually: after the heal, every key's replicas hold the same values",
        ),
        Declared::new(
            "lost_writes",
            "eventually: no acknowledged put is gone unless a later write superseded it (last-write-wins losses to overlapping writers are counted instead)",
        ),
        Declared::new(
            "hints_delivered",
            "eventually: every hint a stand-in took reached its replica, or its loss was reported",
        ),
        Declared::new(
            "membership",
            "eventually: after the heal every node holds the same settled view of the ring, and its members are the ones the operator's joins and leaves asked for",
        ),
    ];
    const MEASURES: &'static [Declared] = &[
        Declared::new("quorum_get_availability", "gets answered ok / gets invoked"),
        Declared::new(
            "quorum_put_availability",
            "puts acknowledged / puts invoked",
        ),
        Declared::new(
            "quorum_lww_lost",
            "acknowledged puts last-write-wins dropped (to overlapping writers, or with r + w <= n)",
        ),
        Declared::new(
            "quorum_lost_to_damage",
            "acknowledged puts gone from keys some replica found damaged",
        ),
        Declared::new(
            "quorum_corruptions_detected",
            "stored records found failing their check",
        ),
        Declared::new("quorum_hints", "hints stand-ins took"),
        Declared::new(
            "quorum_majority_side_availability",
            "operations answered ok / invoked, of those invoked during a partition through a node on a majority side",
        ),
        Declared::new(
            "quorum_minority_side_availability",
            "operations answered ok / invoked, of those invoked during a partition through a node on a minority side",
        ),
        Declared::new(
            "quorum_fresh",
            "the share of gets that returned the latest put of their key acknowledged before they began, or something newer (PBS's consistency)",
        ),
        Declared::new(
            "quorum_linearizable",
            "1 if the history is linearizable (kv model), 0 if not: measured under last-write-wins with unique values (a checked property in strict mode only)",
        ),
        Declared::new(
            "quorum_hints_reapplied",
            "hint applications beyond the first (0 while replicas remember what they applied)",
        ),
    ];
    const SOMETIMES: &'static [Declared] = QuorumPoint::ALL;
    const GROUPS: &'static [Declared] = &[];

    /// Joins and leaves are carried out by the nodes (see
    /// [`super::membership`]); the ring never has fewer than `n` members.
    fn min_members(setup: &Setup<'_, QuorumConfig>) -> Option<usize> {
        Some(setup.config.n.max(1))
    }

    fn validate(setup: &Setup<'_, QuorumConfig>) -> Result<(), Invalid> {
        let config = setup.config;
        if config.n == 0 {
            return Err(Invalid::key(
                "protocol.n",
                "expected at least 1 replica per key",
            ));
        }
        if config.n > setup.nodes {
            return Err(Invalid::key(
                "protocol.n",
                format!(
                    "{} replicas per key need at least {} nodes, but the cluster has {}",
                    config.n, config.n, setup.nodes
                ),
            ));
        }
        for (key, value) in [("protocol.r", config.r), ("protocol.w", config.w)] {
            if value == 0 || value > config.n {
                return Err(Invalid::key(
                    key,
                    format!("expected 1 to n = {}, got {value}", config.n),
                ));
            }
        }
        if !(1..=MAX_TOKENS).contains(&config.tokens) {
            return Err(Invalid::key(
                "protocol.tokens",
                format!(
                    "expected 1 to {MAX_TOKENS} tokens per node, got {}",
                    config.tokens
                ),
            ));
        }
        if !(1..=MAX_KEYS).contains(&config.keys) {
            return Err(Invalid::key(
                "protocol.keys",
                format!("expected 1 to {MAX_KEYS} keys, got {}", config.keys),
            ));
        }
        if !(0.0..=1.0).contains(&config.get_fraction) {
            return Err(Invalid::key(
                "protocol.get_fraction",
                format!(
                    "expected a share between 0 and 1, got {}",
                    config.get_fraction
                ),
            ));
        }
        if config.merkle_depth > 16 {
            return Err(Invalid::key(
                "protocol.merkle_depth",
                format!(
                    "expected a depth of at most 16, got {}",
                    config.merkle_depth
                ),
            ));
        }
        for (key, value) in [
            ("protocol.request_timeout", config.request_timeout),
            ("protocol.sloppy_after", config.sloppy_after),
            ("protocol.handoff_interval", config.handoff_interval),
        ] {
            if value.0 == 0 {
                return Err(Invalid::key(key, "expected a duration above 0"));
            }
        }
        if config.uses_stand_ins() && config.sloppy_after.0 >= config.request_timeout.0 {
            return Err(Invalid::key(
                "protocol.sloppy_after",
                format!(
                    "a coordinator must turn to stand-ins ({}) before it gives up ({})",
                    config.sloppy_after, config.request_timeout
                ),
            ));
        }
        if config.wars.is_some()
            && setup.network.latency
                != (crate::sim::network::Latency::Constant {
                    value: crate::sim::time::Duration(0),
                })
        {
            return Err(Invalid::key(
                "network.latency",
                "wars = \"...\" draws every delay from the PBS fit: set latency = { distribution = \"constant\", value = \"0s\" }",
            ));
        }
        if config.has(QuorumBug::LwwWallClock) && config.versioning != Versioning::Lww {
            return Err(Invalid::key(
                "protocol.bugs",
                "lww_wall_clock is a bug of last-write-wins stamps: set versioning = \"lww\"",
            ));
        }
        Ok(())
    }

    fn active_bugs(config: &QuorumConfig) -> Vec<String> {
        bug_names(&config.bugs)
    }

    fn node_factory(setup: &Setup<'_, QuorumConfig>) -> NodeFactory<Self> {
        let settings = Rc::new(Settings::new(
            setup.config.clone(),
            setup.nodes,
            setup.spares,
        ));
        Rc::new(move |_| QuorumNode::new(Rc::clone(&settings)))
    }

    fn client(setup: &Setup<'_, QuorumConfig>, index: usize) -> QuorumClient {
        QuorumClient::new(Rc::new(setup.config.clone()), index, setup.workload)
    }

    fn bench_workloads() -> Vec<BenchWorkload> {
        vec![
            BenchWorkload {
                name: "quorum",
                what: "5-node quorum store in strict mode (N = 3, R = W = 2) under partitions, crashes, pauses, skew and disk faults, every checker on",
                kind: BenchKind::Scenario(bench_text),
            },
            BenchWorkload {
                name: "ring",
                what: "preference lists (N = 3) from a ring of 100 nodes x 256 tokens: 1M lookups per --seconds",
                kind: BenchKind::Compute {
                    unit: "lookups",
                    run: ring_lookups,
                },
            },
        ]
    }

    fn experiments() -> Vec<Experiment> {
        vec![
            Experiment {
                name: "quorum-pbs",
                what: "the PBS paper's WARS model: P(a read t after commit is fresh), N = 3, R = W = 1, for the three latency fits",
                run: pbs_model,
            },
            Experiment {
                name: "quorum-placement",
                what: "ring vs jump vs mod N: keys moved by a join and by a leave, and the spread of load, over node counts and tokens per node",
                run: placement_table,
            },
        ]
    }

    fn checkers(setup: &Setup<'_, QuorumConfig>) -> Vec<Box<dyn Checker<Self>>> {
        let settings = Rc::new(Settings::new(
            setup.config.clone(),
            setup.nodes,
            setup.spares,
        ));
        let mut checkers: Vec<Box<dyn Checker<Self>>> =
            vec![Box::new(QuorumChecker::new(settings, setup.nodes))];
        if setup.config.strict() {
            checkers.push(Box::new(Linearizability::new(Kv)));
        }
        checkers
    }
}

/// The quorum benchmark scenario: `scenarios/quorum/strict.toml`'s store and
/// nemesis for `seconds` of faults.
fn bench_text(seconds: u64) -> String {
    format!(
        r#"name = "quorum benchmark"
duration = "{seconds}s"
liveness_window = "3s"

[protocol]
name = "quorum"
versioning = "lww"
keys = 3

[cluster]
nodes = 5

[workload]
clients = 6
op_interval = "20ms"
op_timeout = "300ms"

[network]
latency = {{ distribution = "exponential", mean = "2ms" }}

[nemesis]
faults = ["partition", "isolate", "crash", "pause", "clock_skew", "disk_fail_read", "disk_corrupt"]
interval = ["200ms", "1s"]
duration = ["100ms", "1500ms"]
drop_probability = [0.0, 0.1]
duplicate_probability = [0.0, 0.05]
"#
    )
}

/// `scale` million preference-list lookups (N = 3) on a ring of 100 nodes
/// with 256 tokens each, for keys drawn by splitmix64; the count, and a hash
/// of every list found.
fn ring_lookups(scale: u64) -> (u64, u64) {
    use super::ring::{Placement, Ring, mix};
    let ring = Ring::with_members(256, 0..100);
    let lookups = scale.saturating_mul(1_000_000);
    let mut hash = 0u64;
    for index in 0..lookups {
        for node in ring.preference(mix(index), 3) {
            hash = mix(hash ^ node as u64);
        }
    }
    (lookups, hash)
}

/// The times after commit the PBS sweeps measure, per fit (ms).
const PBS_TIMES: [(&str, super::WarsFit, &[f64]); 3] = [
    (
        "LNKD-DISK",
        super::WarsFit::LnkdDisk,
        &[0.0, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0],
    ),
    ("LNKD-SSD", super::WarsFit::LnkdSsd, &[0.0, 0.5, 1.0, 2.0]),
    (
        "YMMR",
        super::WarsFit::Ymmr,
        &[0.0, 50.0, 100.0, 250.0, 500.0, 1000.0],
    ),
];

/// `faultline experiment quorum-pbs`: the WARS model's P(consistent | t)
/// at the times `scenarios/experiments/quorum_pbs_*.toml` measure on the
/// simulated store (`trials` Monte Carlo trials per fit, default 200,000).
fn pbs_model(trials: Option<u64>, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    let trials = trials.unwrap_or(200_000);
    let quorum = super::pbs::Quorum { n: 3, r: 1, w: 1 };
    writeln!(
        out,
        "PBS (Bailis et al., VLDB 2012), the WARS model by Monte Carlo ({trials} trials per fit):"
    )?;
    writeln!(
        out,
        "P(a read started t after commit is fresh), N = 3, R = W = 1"
    )?;
    writeln!(out, "{:>10} {:>9} {:>9}", "fit", "t (ms)", "P(fresh)")?;
    for (name, fit, times) in PBS_TIMES {
        let fresh = super::pbs::consistency(&fit.model(), quorum, times, trials, 1);
        for (t, p) in times.iter().zip(fresh) {
            writeln!(out, "{name:>10} {t:>9} {p:>9.4}")?;
        }
    }
    Ok(())
}

/// Builds one placement afresh.
type Build = Box<dyn Fn() -> Box<dyn super::ring::Placement>>;

/// `faultline experiment quorum-placement`: for each placement and node
/// count, the share of `keys` keys whose owner changes when one node joins
/// and when one leaves, and the relative standard deviation of the keys each
/// node owns (ring: also of each node's exact share of the ring). `trials`
/// overrides the number of keys (default 100,000).
fn placement_table(trials: Option<u64>, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    use super::ring::{Jump, ModN, Ring, load_spread, mix, moved, relative_sd};
    let keys = trials.unwrap_or(100_000);
    let sample = || (0..keys).map(mix);
    writeln!(
        out,
        "Placement over {keys} keys: the share that changes owner when node n joins (n -> n+1)"
    )?;
    writeln!(
        out,
        "or node n/2 leaves (n -> n-1), and the relative sd of keys per node (ring: and of share)."
    )?;
    writeln!(
        out,
        "{:>6} {:>12} {:>8} {:>8} {:>8} {:>8} {:>8}",
        "nodes", "placement", "join", "1/(n+1)", "leave", "load sd", "share sd"
    )?;
    for nodes in [10usize, 100] {
        let mut rows: Vec<(String, Build)> = Vec::new();
        for tokens in [1u32, 16, 256] {
            rows.push((
                format!("ring/{tokens}"),
                Box::new(move || Box::new(Ring::with_members(tokens, 0..nodes))),
            ));
        }
        rows.push((
            "jump".into(),
            Box::new(move || Box::new(Jump::with_members(0..nodes))),
        ));
        rows.push((
            "mod_n".into(),
            Box::new(move || Box::new(ModN::with_members(0..nodes))),
        ));
        for (name, build) in rows {
            let before = build();
            let mut joined = build();
            joined.join(nodes);
            let mut left = build();
            left.leave(nodes / 2);
            let share = if let Some(tokens) = name.strip_prefix("ring/") {
                let ring = Ring::with_members(tokens.parse().expect("a token count"), 0..nodes);
                format!("{:>8.4}", relative_sd(ring.shares().into_values()))
            } else {
                format!("{:>8}", "-")
            };
            writeln!(
                out,
                "{nodes:>6} {name:>12} {:>8.4} {:>8.4} {:>8.4} {:>8.4} {share}",
                moved(before.as_ref(), joined.as_ref(), sample()),
                1.0 / (nodes as f64 + 1.0),
                moved(before.as_ref(), left.as_ref(), sample()),
                load_spread(before.as_ref(), sample()),
            )?;
        }
    }
    Ok(())
}
