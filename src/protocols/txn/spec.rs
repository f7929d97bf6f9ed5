//! txn as the tool sees it: its declarations, its checks of the `[protocol]`
//! table, and how a run is built.

use super::{
    CommitMode, Coordinator, ReplicatedCoordinator, Shard, Txn, TxnBug, TxnChecker, TxnClient,
    TxnConfig, TxnNode, TxnPoint, TxnWorkload,
};
use crate::check::Checker;
use crate::sim::NodeFactory;
use crate::spec::declare::bug_names;
use crate::spec::{Declared, Invalid, ProtocolSpec, Setup};
use std::rc::Rc;

const POINTS: [Declared; TxnPoint::ALL.len() + crate::protocols::raft::RaftPoint::ALL.len()] =
    crate::spec::declare::join::<
        { TxnPoint::ALL.len() + crate::protocols::raft::RaftPoint::ALL.len() },
    >(TxnPoint::ALL, crate::protocols::raft::RaftPoint::ALL);

impl ProtocolSpec for Txn {
    type Config = TxnConfig;
    const NAME: &'static str = "txn";
    const SUMMARY: &'static str = "distributed transactions: two-phase commit (presumed abort) over shards with strict two-phase locking; bank and list-append workloads";
    const BUGS: &'static [Declared] = TxnBug::ALL;
    const PROPERTIES: &'static [Declared] = &[
        Declared::new(
            "atomic_commitment",
            "always: every shard applies the coordinator's decision, a commit only where it voted yes, and no decision ever changes (across restarts too)",
        ),
        Declared::new(
            "bank",
            "always (bank): every committed whole-bank read, and the store at the end, holds exactly the total with no negative balance",
        ),
        Declared::new(
            "isolation",
            "always (list-append): the history is strict serializable (Elle's list-append cycle search)",
        ),
        Declared::new(
            "transactions_decide",
            "eventually: after the heal every transaction decides, every commit is applied everywhere, and every lock is released",
        ),
    ];
    const MEASURES: &'static [Declared] = &[
        Declared::new("txn_committed", "transactions committed per run"),
        Declared::new("txn_aborted", "transactions aborted per run"),
        Declared::new(
            "txn_blocking_max_ms",
            "the longest a shard was prepared and uncertain (yes vote to decision), ms",
        ),
        Declared::new(
            "txn_blocking_mean_ms",
            "the mean time shards were prepared and uncertain, ms",
        ),
        Declared::new(
            "txn_participants_mean",
            "shards per committed transaction, mean",
        ),
        Declared::new(
            "txn_messages_per_commit",
            "commit-protocol messages (prepare, vote, decision, ack) per committed transaction",
        ),
        Declared::new(
            "txn_forced_per_commit",
            "log records forced (something waited on their sync) per committed transaction",
        ),
        Declared::new(
            "txn_syncs_per_commit",
            "disk syncs per committed transaction (group commit shares them)",
        ),
    ];
    // paxos_commit's embedded Raft marks its own points through the nested
    // context.
    const SOMETIMES: &'static [Declared] = &POINTS;
    const UNREACHED: &'static [(&'static str, &'static str)] = &[
        (
            "raft_committed_previous_term_by_counting",
            "fires only with Raft's planted bug commit_previous_term, which txn does not switch on",
        ),
        (
            "raft_corruption_detected",
            "the paxos_commit campaigns inject no disk faults into the coordinators (Raft's own campaigns cover its disk handling)",
        ),
        (
            "raft_disk_read_retried",
            "the paxos_commit campaigns inject no disk faults into the coordinators (Raft's own campaigns cover its disk handling)",
        ),
        (
            "raft_disk_read_deferred",
            "the paxos_commit campaigns inject no disk faults into the coordinators (Raft's own campaigns cover its disk handling)",
        ),
        (
            "raft_pre_vote_won",
            "the embedded Raft runs without pre-vote",
        ),
        (
            "raft_snapshot_taken",
            "an embedded Raft takes no snapshots (the decisions are not in Raft's snapshot)",
        ),
        (
            "raft_snapshot_sent",
            "an embedded Raft takes no snapshots (the decisions are not in Raft's snapshot)",
        ),
        (
            "raft_snapshot_installed",
            "an embedded Raft takes no snapshots (the decisions are not in Raft's snapshot)",
        ),
        (
            "raft_restarted_from_snapshot",
            "an embedded Raft takes no snapshots (the decisions are not in Raft's snapshot)",
        ),
        (
            "raft_retry_answered_from_session",
            "Raft's key/value sessions are not used: the decisions de-duplicate themselves (the first per transaction stands)",
        ),
    ];
    const GROUPS: &'static [Declared] = &[
        Declared::new(
            "coordinator",
            "the coordinator (paxos_commit: the three coordinator replicas)",
        ),
        Declared::new("shards", "the shards"),
    ];

    fn validate(setup: &Setup<'_, TxnConfig>) -> Result<(), Invalid> {
        let config = setup.config;
        let coordinators = config.coordinators();
        let shards = config.shard_count(setup.nodes);
        if shards == 0 {
            return Err(match config.shards {
                Some(_) => Invalid::key("protocol.shards", "expected at least 1 shard"),
                None => Invalid::key(
                    "cluster.nodes",
                    format!(
                        "mode = \"{}\" has {coordinators} coordinator node{} and needs at least 1 shard: at least {} nodes, got {}",
                        config.mode.name(),
                        if coordinators == 1 { "" } else { "s" },
                        coordinators + 1,
                        setup.nodes
                    ),
                ),
            });
        }
        if coordinators + shards != setup.nodes {
            return Err(Invalid::key(
                "protocol.shards",
                format!(
                    "{shards} shard{} and {coordinators} coordinator need {} nodes, but the cluster has {}",
                    if shards == 1 { "" } else { "s" },
                    coordinators + shards,
                    setup.nodes
                ),
            ));
        }
        match config.workload {
            TxnWorkload::Bank => {
                if config.accounts < 2 {
                    return Err(Invalid::key(
                        "protocol.accounts",
                        format!(
                            "a bank needs at least 2 accounts to transfer between, got {}",
                            config.accounts
                        ),
                    ));
                }
                if config.total < 0 {
                    return Err(Invalid::key(
                        "protocol.total",
                        format!("expected a total of 0 or more, got {}", config.total),
                    ));
                }
                if config.max_transfer < 1 {
                    return Err(Invalid::key(
                        "protocol.max_transfer",
                        format!(
                            "expected a largest transfer of at least 1, got {}",
                            config.max_transfer
                        ),
                    ));
                }
                if config.max_transfer > config.total {
                    return Err(Invalid::key(
                        "protocol.max_transfer",
                        format!(
                            "a transfer of up to {} is larger than the bank's total {}",
                            config.max_transfer, config.total
                        ),
                    ));
                }
                if !(0.0..=1.0).contains(&config.read_fraction) {
                    return Err(Invalid::key(
                        "protocol.read_fraction",
                        format!(
                            "expected a share between 0 and 1, got {}",
                            config.read_fraction
                        ),
                    ));
                }
            }
            TxnWorkload::ListAppend => {
                if config.keys == 0 {
                    return Err(Invalid::key("protocol.keys", "expected at least 1 key"));
                }
                if config.max_ops == 0 {
                    return Err(Invalid::key(
                        "protocol.max_ops",
                        "expected at least 1 operation per transaction",
                    ));
                }
            }
        }
        for (key, value) in [
            ("protocol.vote_timeout", config.vote_timeout),
            ("protocol.query_interval", config.query_interval),
            ("protocol.resend_interval", config.resend_interval),
        ] {
            if value.0 == 0 {
                return Err(Invalid::key(key, "expected a duration above 0"));
            }
        }
        if config.mode == CommitMode::PaxosCommit {
            for bug in [TxnBug::CommitBeforeLog, TxnBug::TimeoutAsYes] {
                if config.has(bug) {
                    return Err(Invalid::key(
                        "protocol.bugs",
                        format!(
                            "{bug} is a bug of the two-phase commit coordinator; mode = \"paxos_commit\" has no such coordinator (use mode = \"2pc\")"
                        ),
                    ));
                }
            }
            if config.heartbeat_interval.0 == 0
                || config.heartbeat_interval.0 * 2 > config.election_timeout.min.0
            {
                return Err(Invalid::key(
                    "protocol.heartbeat_interval",
                    format!(
                        "expected heartbeats at least twice per election timeout (election_timeout starts at {})",
                        config.election_timeout.min
                    ),
                ));
            }
        } else if config.election_timeout != crate::protocols::kv::defaults::election_timeout()
            || config.heartbeat_interval != crate::protocols::kv::defaults::heartbeat_interval()
        {
            return Err(Invalid::key(
                "protocol.election_timeout",
                "election_timeout and heartbeat_interval apply to mode = \"paxos_commit\" only",
            ));
        }
        if config.force_delay.0 >= config.vote_timeout.0 {
            return Err(Invalid::key(
                "protocol.force_delay",
                format!(
                    "a forced write ({}) must take less than the vote timeout ({}), or no transaction could commit",
                    config.force_delay, config.vote_timeout
                ),
            ));
        }
        Ok(())
    }

    fn active_bugs(config: &TxnConfig) -> Vec<String> {
        bug_names(&config.bugs)
    }

    fn node_factory(setup: &Setup<'_, TxnConfig>) -> NodeFactory<Self> {
        let config = Rc::new(setup.config.clone());
        let coordinators = config.coordinators();
        let shards = config.shard_count(setup.nodes);
        Rc::new(move |id| {
            if id < coordinators && config.mode == CommitMode::PaxosCommit {
                TxnNode::Replicated(Box::new(ReplicatedCoordinator::new(
                    Rc::clone(&config),
                    coordinators,
                    shards,
                )))
            } else if id < coordinators {
                TxnNode::Coordinator(Box::new(Coordinator::new(
                    Rc::clone(&config),
                    coordinators,
                    shards,
                )))
            } else {
                TxnNode::Shard(Box::new(Shard::new(
                    Rc::clone(&config),
                    id - coordinators,
                    shards,
                )))
            }
        })
    }

    fn client(setup: &Setup<'_, TxnConfig>, index: usize) -> TxnClient {
        TxnClient::new(
            Rc::new(setup.config.clone()),
            index,
            setup.clients,
            setup.workload,
        )
    }

    fn checkers(setup: &Setup<'_, TxnConfig>) -> Vec<Box<dyn Checker<Self>>> {
        vec![Box::new(TxnChecker::new(
            setup.config.workload,
            setup.config.total,
            setup.config.coordinators(),
            setup.nodes,
        ))]
    }

    fn groups(setup: &Setup<'_, TxnConfig>) -> Vec<(&'static str, Vec<usize>)> {
        let coordinators = setup.config.coordinators();
        vec![
            ("coordinator", (0..coordinators).collect()),
            ("shards", (coordinators..setup.nodes).collect()),
        ]
    }
}
