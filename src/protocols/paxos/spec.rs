//! Paxos as the tool sees it: its declarations, the checks of its `[protocol]`
//! table, how a run is built, its charts and its benchmark.

use super::{Paxos, PaxosBug, PaxosChecker, PaxosConfig, PaxosNode, PaxosPoint};
use crate::check::{Checker, Explanation};
use crate::protocols::kv::KvClient;
use crate::protocols::kv::spec::{self as kv, ServiceKeys};
use crate::sim::{HistoryEvent, NodeFactory};
use crate::spec::declare::bug_names;
use crate::spec::hooks::BenchKind;
use crate::spec::{BenchWorkload, Declared, Invalid, ProtocolSpec, SeriesKind, SeriesSpec, Setup};
use std::rc::Rc;

fn bench_text(seconds: u64) -> String {
    kv::bench_scenario(Paxos::NAME, seconds)
}

impl ProtocolSpec for Paxos {
    type Config = PaxosConfig;
    const NAME: &'static str = "paxos";
    const SUMMARY: &'static str = "Multi-Paxos (or leaderless single-decree Paxos per slot) serving a linearizable key/value store";
    const BUGS: &'static [Declared] = PaxosBug::ALL;
    const PROPERTIES: &'static [Declared] = &[
        Declared::new(
            "ballot_uniqueness",
            "always: one ballot carries one value per slot",
        ),
        Declared::new(
            "agreement",
            "always: at most one value is chosen per slot, judged from every acceptance over the whole run",
        ),
        Declared::new(
            "validity",
            "always: a chosen value is a no-op or an operation a client invoked, as invoked",
        ),
        Declared::new(
            "learning",
            "always: nodes apply only chosen values, in slot order without gaps, to equal states",
        ),
        Declared::new(
            "linearizability",
            "always: the client history is linearizable (kv model)",
        ),
        Declared::new(
            "liveness",
            "eventually: after the heal a leader with nothing in flight, every chosen slot applied everywhere, at most three leader changes once settled, open operations complete",
        ),
    ];
    const SOMETIMES: &'static [Declared] = PaxosPoint::ALL;
    const UNREACHED: &'static [(&'static str, &'static str)] = &[
        (
            "paxos_accepted_below_promise",
            "fires only with the planted bug accept_lower_ballot (its regression reaches it)",
        ),
        (
            "paxos_recovery_skipped",
            "fires only with the planted bug skip_recovery (its regression reaches it)",
        ),
    ];

    fn validate(setup: &Setup<'_, PaxosConfig>) -> Result<(), Invalid> {
        let config = setup.config;
        kv::validate_service(&ServiceKeys {
            election_timeout: config.election_timeout,
            keys: config.keys,
            ops: &config.ops,
            max_batch: config.max_batch,
            batch_message: "expected at least 1 command per catch-up message",
        })?;
        if setup.nodes > 64 {
            return Err(Invalid::key(
                "cluster.nodes",
                format!(
                    "paxos tracks acceptors in a 64-bit set: expected at most 64 nodes (got {})",
                    setup.nodes
                ),
            ));
        }
        Ok(())
    }

    fn active_bugs(config: &PaxosConfig) -> Vec<String> {
        bug_names(&config.bugs)
    }

    fn node_factory(setup: &Setup<'_, PaxosConfig>) -> NodeFactory<Self> {
        let template = PaxosNode::new(setup.config);
        Rc::new(move |_| template.fresh())
    }

    fn client(setup: &Setup<'_, PaxosConfig>, index: usize) -> KvClient<Paxos> {
        KvClient::new(index, setup.workload, &setup.config.mix())
    }

    const SERIES: &'static [SeriesSpec] = &[
        SeriesSpec {
            name: "promised_round",
            title: "Paxos promised ballot round per node",
            kind: SeriesKind::Line,
        },
        SeriesSpec {
            name: "leader",
            title: "Paxos leader: when each node led",
            kind: SeriesKind::Flag,
        },
        SeriesSpec {
            name: "applied_slot",
            title: "Paxos applied slot per node",
            kind: SeriesKind::Line,
        },
        SeriesSpec {
            name: "outstanding",
            title: "Paxos proposals in flight and requests queued per node",
            kind: SeriesKind::Line,
        },
    ];

    fn sample(node: &PaxosNode, values: &mut Vec<f64>) {
        values.push(node.promised().round as f64);
        values.push(if node.is_leading() { 1.0 } else { 0.0 });
        values.push(node.applied() as f64);
        values.push(node.outstanding() as f64);
    }

    fn explain_history(history: &[HistoryEvent]) -> Option<Explanation> {
        kv::explain_history(history)
    }

    fn checkers(setup: &Setup<'_, PaxosConfig>) -> Vec<Box<dyn Checker<Self>>> {
        let config = setup.config;
        let grace = kv::liveness_grace(config.election_timeout, config.retry_interval);
        kv::checkers(Box::new(PaxosChecker::new(config.leader, grace)))
    }

    fn bench_workloads() -> Vec<BenchWorkload> {
        vec![BenchWorkload {
            name: "paxos",
            what: "5-node Multi-Paxos kv store under partitions and crashes, every checker on",
            kind: BenchKind::Scenario(bench_text),
        }]
    }
}
