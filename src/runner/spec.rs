//! What the runner needs to know about a protocol to run it from a scenario file,
//! and the registry of the protocols that ship in the box.
//!
//! A user's own protocol implements [`ProtocolSpec`] and is run with
//! [`crate::runner::run_scenario`]; see `examples/`.

use super::driver::Driver;
use crate::check::Checker;
use crate::check::Linearizability;
use crate::check::Property;
use crate::check::models::Kv;
use crate::check::{Budget, Explanation, Verdict};
use crate::protocols::broadcast::{
    Broadcast, BroadcastChecker, BroadcastClient, BroadcastConfig, BroadcastNode,
};
use crate::protocols::kv::KvClient;
use crate::protocols::paxos::{Paxos, PaxosBug, PaxosChecker, PaxosConfig, PaxosNode};
use crate::protocols::raft::lab::{LabTester, script};
use crate::protocols::raft::{Raft, RaftBug, RaftChecker, RaftConfig, RaftNode};
use crate::protocols::token_forward::{NoClient, TokenForward, TokenNode};
use crate::report::series::{SeriesKind, SeriesSpec};
use crate::scenario::{Scenario, ScenarioError, Source};
use crate::sim::{HistoryEvent, NodeFactory, Protocol, Role, World};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fmt::Debug;
use std::rc::Rc;

/// A protocol the runner can build from a scenario.
pub trait ProtocolSpec: Protocol {
    /// The `[protocol]` table: `name`, `bugs`, and the protocol's own keys. Use
    /// `#[serde(deny_unknown_fields)]` so typos are errors.
    type Config: DeserializeOwned + Serialize + Clone + Debug;

    /// The name scenario files use.
    const NAME: &'static str;
    /// One line saying what it is.
    const SUMMARY: &'static str;
    /// Planted bugs: (name, what mistake it makes).
    const BUGS: &'static [(&'static str, &'static str)];
    /// Properties checked: (name, kind and statement).
    const PROPERTIES: &'static [(&'static str, &'static str)];
    /// The *sometimes* points the protocol marks (`Ctx::sometimes`), so a fuzz
    /// campaign can say which it never reached. Default none.
    const SOMETIMES: &'static [&'static str] = &[];

    /// Protocol-specific checks of the scenario beyond what serde enforces.
    fn validate(
        scenario: &Scenario<Self::Config>,
        source: &Source<'_>,
    ) -> Result<(), ScenarioError> {
        let _ = (scenario, source);
        Ok(())
    }

    /// The planted bugs switched on, by name.
    fn active_bugs(config: &Self::Config) -> Vec<String>;

    /// Builds node `id` (at start and after every crash).
    fn node_factory(scenario: &Scenario<Self::Config>) -> NodeFactory<Self>;

    /// Builds client `index` (0-based among clients).
    fn client(scenario: &Scenario<Self::Config>, index: usize) -> Self::Client;

    /// The checkers that judge a run.
    fn checkers(scenario: &Scenario<Self::Config>) -> Vec<Box<dyn Checker<Self>>>;

    /// An omniscient test program to run alongside the scenario under `seed`
    /// (see [`Driver`]), such as a port of a lab tester. Default none.
    fn driver(scenario: &Scenario<Self::Config>, seed: u64) -> Option<Box<dyn Driver<Self>>> {
        let _ = (scenario, seed);
        None
    }

    /// Time series the protocol exposes per node, for the run report's charts
    /// (Raft: term, leader, commit and applied index). Default none.
    const SERIES: &'static [SeriesSpec] = &[];

    /// Pushes `node`'s current value of each of [`ProtocolSpec::SERIES`], in
    /// order. Called between events on running nodes only; it must only read.
    fn sample(node: &Self::Node, values: &mut Vec<f64>) {
        let _ = (node, values);
    }

    /// For the report's picture: why the client `history` of a failed run is not
    /// linearizable, if the protocol's checkers judge it with a model. Default
    /// none.
    fn explain_history(history: &[HistoryEvent]) -> Option<Explanation> {
        let _ = history;
        None
    }
}

/// Something to do with a protocol chosen by name at run time.
pub trait ProtocolVisitor {
    /// The result.
    type Output;
    /// Called with the protocol's type.
    fn visit<S: ProtocolSpec>(self) -> Self::Output;
}

/// The names of the built-in protocols.
pub const PROTOCOLS: [&str; 4] = [Raft::NAME, Paxos::NAME, Broadcast::NAME, TokenForward::NAME];

/// Calls `visitor` with the built-in protocol called `name`, or returns `None`.
pub fn with_protocol<V: ProtocolVisitor>(name: &str, visitor: V) -> Option<V::Output> {
    match name {
        Raft::NAME => Some(visitor.visit::<Raft>()),
        Paxos::NAME => Some(visitor.visit::<Paxos>()),
        Broadcast::NAME => Some(visitor.visit::<Broadcast>()),
        TokenForward::NAME => Some(visitor.visit::<TokenForward>()),
        _ => None,
    }
}

/// Serde helper: bug names of a config's `bugs` list.
fn bug_names<T: Serialize>(bugs: &[T]) -> Vec<String> {
    bugs.iter()
        .map(|bug| {
            serde_json::to_value(bug)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default()
        })
        .collect()
}

impl ProtocolSpec for Broadcast {
    type Config = BroadcastConfig;
    const NAME: &'static str = "broadcast";
    const SUMMARY: &'static str =
        "gossip broadcast: values stored on a majority before ack, retransmission and anti-entropy";
    const BUGS: &'static [(&'static str, &'static str)] = &[(
        "no_retransmit",
        "values go to peers once; lost messages are never resent, no anti-entropy",
    )];
    const PROPERTIES: &'static [(&'static str, &'static str)] = &[
        (
            "validity",
            "always: a node only holds values some client broadcast",
        ),
        (
            "delivery",
            "eventually: every acknowledged value is held by every node",
        ),
    ];
    const SOMETIMES: &'static [&'static str] = &[
        "broadcast_gossip_filled_a_gap",
        "broadcast_values_recovered_from_disk",
        "broadcast_corruption_detected",
        "broadcast_disk_read_retried",
        "broadcast_log_read_deferred",
    ];

    fn active_bugs(config: &BroadcastConfig) -> Vec<String> {
        bug_names(&config.bugs)
    }

    fn node_factory(scenario: &Scenario<BroadcastConfig>) -> NodeFactory<Self> {
        let config = scenario.protocol.clone();
        Rc::new(move |_| BroadcastNode::new(&config))
    }

    fn client(scenario: &Scenario<BroadcastConfig>, index: usize) -> BroadcastClient {
        BroadcastClient::new(index, &scenario.workload)
    }

    fn checkers(_scenario: &Scenario<BroadcastConfig>) -> Vec<Box<dyn Checker<Self>>> {
        vec![Box::new(BroadcastChecker::default())]
    }
}

/// The `[protocol]` table for `name = "token_forward"`.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
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

/// token_forward's planted bug.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenForwardBug {
    /// Pick the next hop from a process-wide counter instead of the seeded rng.
    Nondeterministic,
}

fn default_tokens() -> u32 {
    100
}

impl ProtocolSpec for TokenForward {
    type Config = TokenForwardConfig;
    const NAME: &'static str = "token_forward";
    const SUMMARY: &'static str = "tokens hop between random nodes (the simulator speed benchmark)";
    const BUGS: &'static [(&'static str, &'static str)] = &[(
        "nondeterministic",
        "next hop from a process-wide counter, not the seeded rng (caught by --check-determinism)",
    )];
    const PROPERTIES: &'static [(&'static str, &'static str)] = &[];

    fn active_bugs(config: &TokenForwardConfig) -> Vec<String> {
        bug_names(&config.bugs)
    }

    fn node_factory(scenario: &Scenario<TokenForwardConfig>) -> NodeFactory<Self> {
        let tokens = scenario.protocol.tokens;
        let nondeterministic = scenario
            .protocol
            .bugs
            .contains(&TokenForwardBug::Nondeterministic);
        Rc::new(move |id| TokenNode {
            nondeterministic,
            ..TokenNode::new(id, tokens)
        })
    }

    fn client(_scenario: &Scenario<TokenForwardConfig>, _index: usize) -> NoClient {
        NoClient
    }

    fn checkers(_scenario: &Scenario<TokenForwardConfig>) -> Vec<Box<dyn Checker<Self>>> {
        Vec::new()
    }
}

/// The span of `key = ...` inside the `[protocol]` table, for errors about values
/// serde accepted but the protocol does not.
fn protocol_key_span(source: &Source<'_>, key: &str) -> std::ops::Range<usize> {
    let mut offset = 0;
    let mut in_protocol = false;
    for line in source.text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        if trimmed.starts_with('[') {
            in_protocol = trimmed.starts_with("[protocol]");
        } else if in_protocol
            && let Some(rest) = trimmed.strip_prefix(key)
            && rest.trim_start().starts_with('=')
        {
            let start = offset + (line.len() - trimmed.len());
            return start..start + key.len();
        }
        offset += line.len();
    }
    0..0
}

/// Checks the `[protocol]` keys Raft and Paxos share: a positive election
/// timeout, at least one key and one operation kind, and a positive batch size
/// (`max_batch`, with the protocol's wording of what it counts).
fn validate_kv_service(
    source: &Source<'_>,
    election_timeout: crate::scenario::faults::DurationRange,
    keys: u32,
    ops: &[crate::protocols::kv::KvOpKind],
    (max_batch, batch_message): (usize, &str),
) -> Result<(), ScenarioError> {
    let fail = |key: &str, message: &str| {
        Err(source.error_at(protocol_key_span(source, key), message.to_string()))
    };
    if election_timeout.min.0 == 0 {
        return fail("election_timeout", "expected a positive election timeout");
    }
    if keys == 0 {
        return fail("keys", "expected at least 1 key");
    }
    if ops.is_empty() {
        return fail(
            "ops",
            "expected at least one of \"get\", \"put\", \"append\", \"cas\"",
        );
    }
    if max_batch == 0 {
        return fail("max_batch", batch_message);
    }
    Ok(())
}

/// Checks a Raft scenario's lab script and what it needs of the scenario.
fn validate_lab(scenario: &Scenario<RaftConfig>, source: &Source<'_>) -> Result<(), ScenarioError> {
    let config = &scenario.protocol;
    let context = script::Context {
        nodes: scenario.nodes(),
        text: Some(source.text),
    };
    let steps = script::parse(&config.lab, &context).map_err(|error| {
        let mut located = source.error_at(error.offset..error.offset, error.message);
        located.key = Some(error.key);
        located
    })?;
    if scenario.workload.clients != 1 {
        return Err(source.error(
            Some("workload.clients".into()),
            format!(
                "a lab script speaks through the one client process: set [workload] clients = 1 (got {})",
                scenario.workload.clients
            ),
        ));
    }
    let payload = steps
        .iter()
        .any(|step| matches!(step.action, script::Action::OneBytes { .. }));
    if payload && config.snapshot_every != 0 {
        return Err(source.error_at(
            protocol_key_span(source, "lab"),
            "a lab script with 'one_bytes' steps needs snapshot_every = 0 (payload commands are counted from the log)",
        ));
    }
    Ok(())
}

/// The lab tester as the runner's driver.
impl Driver<Raft> for LabTester {
    fn name(&self) -> &'static str {
        "raft_lab"
    }

    fn next_wake(&self) -> Option<u64> {
        LabTester::next_wake(self)
    }

    fn wake(&mut self, world: &mut World<Raft>) -> Vec<(Property, String)> {
        LabTester::wake(self, world)
    }

    fn at_end(&mut self, world: &World<Raft>) -> Vec<(Property, String)> {
        LabTester::at_end(self, world)
    }
}

impl ProtocolSpec for Raft {
    type Config = RaftConfig;
    const NAME: &'static str = "raft";
    const SUMMARY: &'static str = "Raft consensus (pre-vote, fast backtracking, snapshots, read index) serving a linearizable key/value store";
    const BUGS: &'static [(&'static str, &'static str)] = &RaftBug::ALL;
    const PROPERTIES: &'static [(&'static str, &'static str)] = &[
        ("election_safety", "always: at most one leader per term"),
        (
            "log_matching",
            "always: entries with equal index and term hold the same command and follow the same term",
        ),
        (
            "leader_completeness",
            "always: a new leader holds every committed entry",
        ),
        (
            "state_machine_safety",
            "always: no two nodes commit or apply different commands at an index; applied in order",
        ),
        (
            "linearizability",
            "always: the client history is linearizable (kv model)",
        ),
        (
            "liveness",
            "eventually: after the heal a leader exists, nodes catch up, open operations complete",
        ),
    ];
    const SOMETIMES: &'static [&'static str] = &[
        "raft_leader_elected",
        "raft_leader_stepped_down",
        "raft_append_refused",
        "raft_next_index_backed_up",
        "raft_conflicting_suffix_removed",
        "raft_snapshot_taken",
        "raft_snapshot_sent",
        "raft_snapshot_installed",
        "raft_restarted_with_state",
        "raft_restarted_from_snapshot",
        "raft_retry_answered_from_session",
        "raft_corruption_detected",
        "raft_disk_read_retried",
        "raft_disk_read_deferred",
    ];

    fn validate(scenario: &Scenario<RaftConfig>, source: &Source<'_>) -> Result<(), ScenarioError> {
        let config = &scenario.protocol;
        validate_kv_service(
            source,
            config.election_timeout,
            config.keys,
            &config.ops,
            (config.max_batch, "expected at least 1 entry per append"),
        )?;
        if !config.lab.is_empty() {
            validate_lab(scenario, source)?;
        }
        Ok(())
    }

    fn active_bugs(config: &RaftConfig) -> Vec<String> {
        bug_names(&config.bugs)
    }

    fn node_factory(scenario: &Scenario<RaftConfig>) -> NodeFactory<Self> {
        let template = RaftNode::new(&scenario.protocol);
        Rc::new(move |_| template.fresh())
    }

    fn client(scenario: &Scenario<RaftConfig>, index: usize) -> KvClient<Raft> {
        if index == 0 && !scenario.protocol.lab.is_empty() {
            // The lab tester speaks through client 0.
            return KvClient::idle(index, &scenario.workload, &scenario.protocol.mix());
        }
        KvClient::new(index, &scenario.workload, &scenario.protocol.mix())
    }

    fn driver(scenario: &Scenario<RaftConfig>, seed: u64) -> Option<Box<dyn Driver<Self>>> {
        if scenario.protocol.lab.is_empty() {
            return None;
        }
        let context = script::Context {
            nodes: scenario.nodes(),
            text: None,
        };
        let steps = script::parse(&scenario.protocol.lab, &context)
            .expect("the lab script was checked when the scenario was read");
        Some(Box::new(LabTester::new(
            steps,
            scenario.nodes(),
            &scenario.network,
            scenario.fault_phase_end(),
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
        match crate::check::check_events(Kv, history, &Budget::default()) {
            Ok(Verdict::NotLinearizable(explanation)) => Some(*explanation),
            _ => None,
        }
    }

    fn checkers(scenario: &Scenario<RaftConfig>) -> Vec<Box<dyn Checker<Self>>> {
        let config = &scenario.protocol;
        let grace = crate::sim::time::Duration(
            3 * config.election_timeout.max.0 + 2 * config.retry_interval.0,
        );
        vec![
            Box::new(RaftChecker::new(grace)),
            Box::new(Linearizability::new(Kv)),
        ]
    }
}

impl ProtocolSpec for Paxos {
    type Config = PaxosConfig;
    const NAME: &'static str = "paxos";
    const SUMMARY: &'static str = "Multi-Paxos (or leaderless single-decree Paxos per slot) serving a linearizable key/value store";
    const BUGS: &'static [(&'static str, &'static str)] = &PaxosBug::ALL;
    const PROPERTIES: &'static [(&'static str, &'static str)] = &[
        (
            "ballot_uniqueness",
            "always: one ballot carries one value per slot",
        ),
        (
            "agreement",
            "always: at most one value is chosen per slot, judged from every acceptance over the whole run",
        ),
        (
            "validity",
            "always: a chosen value is a no-op or an operation a client invoked, as invoked",
        ),
        (
            "learning",
            "always: nodes apply only chosen values, in slot order without gaps, to equal states",
        ),
        (
            "linearizability",
            "always: the client history is linearizable (kv model)",
        ),
        (
            "liveness",
            "eventually: after the heal a leader with nothing in flight, every chosen slot applied everywhere, at most three leader changes once settled, open operations complete",
        ),
    ];
    const SOMETIMES: &'static [&'static str] = &[
        "paxos_leader_elected",
        "paxos_leader_preempted",
        "paxos_leader_reasserted",
        "paxos_prepare_refused_leader_alive",
        "paxos_prepare_preempted",
        "paxos_recovered_accepted_value",
        "paxos_gap_filled_with_noop",
        "paxos_accept_resent",
        "paxos_learned_out_of_order",
        "paxos_learner_caught_up",
        "paxos_request_lost_its_slot",
        "paxos_retry_answered_from_session",
        "paxos_snapshot_taken",
        "paxos_snapshot_sent",
        "paxos_snapshot_installed",
        "paxos_snapshot_from_promise",
        "paxos_accept_for_compacted_slot",
        "paxos_restarted_with_votes",
        "paxos_restarted_between_promise_and_accept",
        "paxos_restarted_from_snapshot",
        "paxos_corruption_detected",
        "paxos_disk_read_retried",
        "paxos_disk_read_deferred",
    ];

    fn validate(
        scenario: &Scenario<PaxosConfig>,
        source: &Source<'_>,
    ) -> Result<(), ScenarioError> {
        let config = &scenario.protocol;
        validate_kv_service(
            source,
            config.election_timeout,
            config.keys,
            &config.ops,
            (
                config.max_batch,
                "expected at least 1 command per catch-up message",
            ),
        )?;
        if scenario.nodes() > 64 {
            return Err(source.error(
                Some("cluster.nodes".into()),
                format!(
                    "paxos tracks acceptors in a 64-bit set: expected at most 64 nodes (got {})",
                    scenario.nodes()
                ),
            ));
        }
        Ok(())
    }

    fn active_bugs(config: &PaxosConfig) -> Vec<String> {
        bug_names(&config.bugs)
    }

    fn node_factory(scenario: &Scenario<PaxosConfig>) -> NodeFactory<Self> {
        let template = PaxosNode::new(&scenario.protocol);
        Rc::new(move |_| template.fresh())
    }

    fn client(scenario: &Scenario<PaxosConfig>, index: usize) -> KvClient<Paxos> {
        KvClient::new(index, &scenario.workload, &scenario.protocol.mix())
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
        Raft::explain_history(history)
    }

    fn checkers(scenario: &Scenario<PaxosConfig>) -> Vec<Box<dyn Checker<Self>>> {
        let config = &scenario.protocol;
        let grace = crate::sim::time::Duration(
            3 * config.election_timeout.max.0 + 2 * config.retry_interval.0,
        );
        vec![
            Box::new(PaxosChecker::new(config.leader, grace)),
            Box::new(Linearizability::new(Kv)),
        ]
    }
}
