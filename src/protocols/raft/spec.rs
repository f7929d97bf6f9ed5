//! Raft as the tool sees it: its declarations, the checks of its `[protocol]`
//! table (the kv service's keys and the lab script), how a run is built (the
//! lab tester as driver when the scenario has a script), its charts, and what it
//! adds to `bench`, `sweep` and `experiment`.

use super::experiment::{self, ElectionTiming};
use super::lab::{LabTester, script};
use super::{Raft, RaftBug, RaftChecker, RaftConfig, RaftNode, RaftPoint};
use crate::check::{Checker, Explanation};
use crate::protocols::kv::KvClient;
use crate::protocols::kv::spec::{self as kv, ServiceKeys};
use crate::sim::{HistoryEvent, NodeFactory, Role};
use crate::spec::declare::bug_names;
use crate::spec::hooks::BenchKind;
use crate::spec::{
    BenchWorkload, Declared, Driver, Experiment, Invalid, ProtocolSpec, SeriesKind, SeriesSpec,
    Setup, TrialMetric,
};
use std::rc::Rc;

/// Checks a Raft scenario's lab script and what it needs of the scenario.
fn validate_lab(setup: &Setup<'_, RaftConfig>) -> Result<(), Invalid> {
    let config = setup.config;
    let context = script::Context {
        nodes: setup.nodes,
        text: Some(setup.text),
    };
    let steps = script::parse(&config.lab, &context)
        .map_err(|error| Invalid::at(error.offset..error.offset, error.key, error.message))?;
    if setup.clients != 1 {
        return Err(Invalid::key(
            "workload.clients",
            format!(
                "a lab script speaks through the one client process: set [workload] clients = 1 (got {})",
                setup.clients
            ),
        ));
    }
    let payload = steps
        .iter()
        .any(|step| matches!(step.action, script::Action::OneBytes { .. }));
    if payload && config.snapshot_every != 0 {
        return Err(Invalid::key(
            "protocol.lab",
            "a lab script with 'one_bytes' steps needs snapshot_every = 0 (payload commands are counted from the log)",
        ));
    }
    Ok(())
}

fn bench_text(seconds: u64) -> String {
    kv::bench_scenario(Raft::NAME, seconds)
}

impl ProtocolSpec for Raft {
    type Config = RaftConfig;
    const NAME: &'static str = "raft";
    const SUMMARY: &'static str = "Raft consensus (pre-vote, fast backtracking, snapshots, read index) serving a linearizable key/value store";
    const BUGS: &'static [Declared] = RaftBug::ALL;
    const PROPERTIES: &'static [Declared] = &[
        Declared::new("election_safety", "always: at most one leader per term"),
        Declared::new(
            "log_matching",
            "always: entries with equal index and term hold the same command and follow the same term",
        ),
        Declared::new(
            "leader_completeness",
            "always: a new leader holds every committed entry",
        ),
        Declared::new(
            "state_machine_safety",
            "always: no two nodes commit or apply different commands at an index; applied in order",
        ),
        Declared::new(
            "linearizability",
            "always: the client history is linearizable (kv model)",
        ),
        Declared::new(
            "liveness",
            "eventually: after the heal a leader exists, nodes catch up, open operations complete",
        ),
        Declared::new(
            super::lab::LAB_SCRIPT,
            "always: every step of a lab script (the course tester's checks) holds, and the script finishes within the scenario's duration",
        ),
    ];
    const SOMETIMES: &'static [Declared] = RaftPoint::ALL;
    const UNREACHED: &'static [(&'static str, &'static str)] = &[(
        "raft_committed_previous_term_by_counting",
        "fires only with the planted bug commit_previous_term (its regression reaches it)",
    )];

    fn validate(setup: &Setup<'_, RaftConfig>) -> Result<(), Invalid> {
        let config = setup.config;
        kv::validate_service(&ServiceKeys {
            election_timeout: config.election_timeout,
            keys: config.keys,
            ops: &config.ops,
            max_batch: config.max_batch,
            batch_message: "expected at least 1 entry per append",
        })?;
        if !config.lab.is_empty() {
            validate_lab(setup)?;
        }
        Ok(())
    }

    fn active_bugs(config: &RaftConfig) -> Vec<String> {
        bug_names(&config.bugs)
    }

    fn node_factory(setup: &Setup<'_, RaftConfig>) -> NodeFactory<Self> {
        let template = RaftNode::new(setup.config);
        Rc::new(move |_| template.fresh())
    }

    fn client(setup: &Setup<'_, RaftConfig>, index: usize) -> KvClient<Raft> {
        let mix = setup.config.mix();
        if index == 0 && !setup.config.lab.is_empty() {
            // The lab tester speaks through client 0.
            return KvClient::idle(index, setup.workload, &mix);
        }
        KvClient::new(index, setup.workload, &mix)
    }

    fn driver(setup: &Setup<'_, RaftConfig>, seed: u64) -> Option<Box<dyn Driver<Self>>> {
        if setup.config.lab.is_empty() {
            return None;
        }
        let context = script::Context {
            nodes: setup.nodes,
            text: None,
        };
        let steps = script::parse(&setup.config.lab, &context)
            .expect("the lab script was checked when the scenario was read");
        Some(Box::new(LabTester::new(
            steps,
            setup.nodes,
            setup.network,
            setup.fault_phase_end,
            seed,
        )))
    }

    const SERIES: &'static [SeriesSpec] = &[
        SeriesSpec {
            name: "term",
            title: "Raft term per node",
            kind: SeriesKind::Line,
        },
        SeriesSpec {
            name: "leader",
            title: "Raft leader: when each node led",
            kind: SeriesKind::Flag,
        },
        SeriesSpec {
            name: "commit_index",
            title: "Raft commit index per node",
            kind: SeriesKind::Line,
        },
        SeriesSpec {
            name: "applied_index",
            title: "Raft applied index per node",
            kind: SeriesKind::Line,
        },
    ];

    fn sample(node: &RaftNode, values: &mut Vec<f64>) {
        values.push(node.term() as f64);
        values.push(if node.role() == Role::Leader {
            1.0
        } else {
            0.0
        });
        values.push(node.commit_index() as f64);
        values.push(node.applied_index() as f64);
    }

    fn explain_history(history: &[HistoryEvent]) -> Option<Explanation> {
        kv::explain_history(history)
    }

    fn checkers(setup: &Setup<'_, RaftConfig>) -> Vec<Box<dyn Checker<Self>>> {
        let config = setup.config;
        let grace = kv::liveness_grace(config.election_timeout, config.retry_interval);
        kv::checkers(Box::new(RaftChecker::new(grace)))
    }

    fn bench_workloads() -> Vec<BenchWorkload> {
        vec![BenchWorkload {
            name: "raft",
            what: "5-node Raft kv store under partitions and crashes, every checker on",
            kind: BenchKind::Scenario(bench_text),
        }]
    }

    fn trial_metrics() -> Vec<TrialMetric> {
        vec![TrialMetric {
            name: "time_without_leader",
            description: "time without leader (ms)",
            parameter: "protocol.election_timeout",
            log_x: true,
            cap: ElectionTiming::paper(150, 300).cap.0 as f64 / 1e6,
            check: experiment::check_timeout,
            run: experiment::trial_ms,
        }]
    }

    fn experiments() -> Vec<Experiment> {
        vec![Experiment {
            name: "raft-election-timing",
            what: "the Raft paper's Figure 16: time without a leader after a leader crash",
            run: experiment::figure_16,
        }]
    }
}
