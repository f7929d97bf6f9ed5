//! `raft`: the Raft consensus algorithm serving a replicated key/value store.
//!
//! # Raft in a few pages
//!
//! A cluster of `n` servers keeps a *log* of commands identical on every server and
//! applies it, in order, to a deterministic state machine — here a key/value store.
//! Identical logs give identical states. The work is keeping the logs identical
//! while servers crash, restart and lose messages, and while the network splits.
//!
//! **Terms and leaders.** Time is divided into numbered *terms*. Each term begins
//! with an election and has at most one leader. Every message carries its sender's
//! term; a server that sees a higher term adopts it and, if it was leading or
//! campaigning, becomes a follower. A message from a lower term is stale and is
//! refused. Terms are how servers discover that they are out of date.
//!
//! **Elections.** A follower that hears nothing from a leader for an *election
//! timeout* — drawn at random from a range, here by the simulator from
//! `election_timeout` — becomes a candidate: it increments its term, votes for
//! itself and asks every other server for its vote (`RequestVote`). A server grants
//! at most one vote per term, first come first served, and only to a candidate
//! whose log is at least as up to date as its own: a later last term wins, and at
//! equal last terms the longer log wins. A candidate with votes from a majority
//! leads. Randomised timeouts make it likely that one server times out well before
//! the others and wins before anyone else starts; a *split vote* just costs another
//! timeout. With `pre_vote`, a candidate first asks whether it *could* win (a
//! pre-vote changes no terms); servers that heard from a leader recently say no, so
//! a server that was cut off cannot disrupt a healthy cluster by bumping the term
//! when it returns.
//!
//! **Replication.** The leader appends each client command to its log and sends it
//! to the followers (`AppendEntries`), which also serves as the heartbeat that keeps
//! followers from starting elections. Each request names the entry just before the
//! new ones (`prev_index`, `prev_term`); a follower accepts only if its log has that
//! entry, so by induction an accepted log is identical to the leader's up to the
//! last new entry (*log matching*). A follower whose log diverges removes the
//! conflicting suffix — only a real conflict: entries it already has are kept, so
//! a delayed, shorter request cannot erase entries it acknowledged to a later
//! one. When a follower refuses, it tells the leader the term of the conflicting
//! entry and the first index of that term (or its log length), and the leader
//! backs up `next_index` a whole term at a time instead of one entry per round trip.
//! Our leader also pipelines: it sends each new entry at once to followers that are
//! caught up, without waiting for the previous append's answer. When the network
//! reorders those appends, every one that overtakes a missing entry is refused; the
//! leader resends the tail once and ignores the refusals that resend answers, or
//! each refusal would cost another copy of the whole tail.
//!
//! **Commitment.** An entry is *committed* once the leader that created it has
//! stored it on a majority; committed entries are applied to the state machine.
//! Any two majorities intersect, and a candidate needs a majority of votes from
//! servers whose logs are no more up to date than its own, so every future leader
//! holds every committed entry (*leader completeness*). One subtlety (the paper's
//! Figure 8): a leader may count replicas only for entries of its *own* term. An
//! entry from an earlier term can sit on a majority and still be overwritten by a
//! later leader, so it is committed only indirectly, when an entry of the current
//! term after it commits. New leaders therefore append a no-op at once.
//!
//! **Persistence.** A server's current term, its vote and its log must survive
//! crashes, and must be on disk *before* it answers a vote or an append: a
//! forgotten vote allows two leaders in one term, and a forgotten entry can undo a
//! commitment it was counted for. Every record is framed with a CRC32C; a server
//! whose records fail their checksums refuses to serve rather than vote or
//! acknowledge with a memory it cannot trust (an operator must replace its disk).
//! The simulator runs each handler atomically, and every handler here syncs what
//! it wrote before it returns, so a crash can never tear a record — the guarantee a
//! real server gets from writing a temporary file, syncing it and renaming it.
//!
//! **Snapshots.** Every `snapshot_every` applied entries a server writes its state
//! machine to a snapshot and drops the log up to it, so what it persists stays
//! bounded. A follower so far behind that the leader no longer has the entries it
//! needs receives the snapshot instead (`InstallSnapshot`).
//!
//! **Clients.** Clients find the leader by following redirects, resend a request
//! (same client id and sequence number) when no answer comes, and give up after a
//! timeout. The state machine remembers each client's last request and its result,
//! so a request applied once is never applied again, however often it is resent.
//! Reads do not go through the log: the leader notes its commit index (the *read
//! index*), confirms with a round of heartbeats that a majority still follows it —
//! so no newer leader can have committed anything it lacks — waits until it has
//! applied up to the read index, and answers from its state machine. A leader must
//! also have committed an entry of its own term first, so that its commit index is
//! current.
//!
//! **Embedding.** Another protocol can keep its own state machine in this log
//! instead of copying Raft (a lock service, a two-phase commit coordinator that
//! replicates its decision). Its node holds a [`RaftNode`] built from
//! [`RaftConfig::embedded`], runs Raft's handlers through
//! [`Ctx::nest`](crate::sim::Ctx::nest) — wrapping Raft's messages and timers
//! in its own and handing them back when they arrive — proposes opaque
//! commands with [`RaftNode::propose`] on the leader, and applies what
//! [`RaftNode::take_applied`] returns, in order, on every node. Three rules
//! come with it. A restarted node re-applies its log from index 1 as it learns
//! the commit index again, so the embedder's state machine starts empty after a
//! crash. There are no snapshots (`snapshot_every = 0`): the embedder's state is
//! not in them. And a new leader acts on its state machine only once
//! [`RaftNode::leader_ready`] says it holds every committed command. Raft's
//! *sometimes* points fire through the nested context, so the embedder declares
//! [`RaftPoint::ALL`] beside its own, and its disk files (`raft.state`,
//! `raft.log`, `raft.snapshot`) are Raft's.
//!
//! # Properties checked
//! See [`checker`]: election safety, log matching, leader completeness, state
//! machine safety and in-order application (always, over the whole run, crashed
//! and restarted servers included); linearizability of the client history; and,
//! after the faults heal, a leader and the completion of every client operation.
//!
//! # Planted bugs
//! Each is a mistake real implementations have made; see [`RaftBug`].

pub mod checker;
pub mod experiment;
pub mod lab;
mod node;
mod spec;
mod storage;

pub use checker::RaftChecker;
pub use node::RaftNode;

use super::kv::{KvClient, KvCommand, KvMix, KvOp, KvOpKind, KvReply, KvTimer};
use crate::sim::Protocol;
use crate::sim::time::Duration;
use crate::sim::time::DurationRange;
use serde::{Deserialize, Serialize};
use std::rc::Rc;

/// The Raft protocol's types.
#[derive(Clone, Copy, Debug)]
pub struct Raft;

crate::declare! {
    /// Planted bugs (`bugs = [...]` in the `[protocol]` table).
    pub enum RaftBug {
        /// Grant votes without checking that the candidate's log is up to date.
        VoteWithoutLogCheck = "vote_without_log_check",
        /// Count replicas to commit entries of earlier terms (ignore Figure 8).
        CommitPreviousTerm = "commit_previous_term",
        /// Answer a vote before the vote is on disk (it is lost in a crash).
        VoteNotPersisted = "vote_not_persisted",
        /// On every append, cut the log after `prev_index` even when the entries
        /// already match (a delayed shorter append erases acknowledged entries).
        TruncateOnMatch = "truncate_on_match",
        /// A leader that learns of a higher term adopts it but keeps leading.
        NoStepDown = "no_step_down",
        /// The leader answers reads from its state machine without confirming it still
        /// leads (a deposed leader serves stale reads).
        StaleRead = "stale_read",
    }
}

crate::declare! {
    /// The rare situations Raft must be tested in (*sometimes* points).
    pub enum RaftPoint {
        /// A candidate won an election.
        LeaderElected = "raft_leader_elected",
        /// A leader learned of a higher term and stepped down.
        LeaderSteppedDown = "raft_leader_stepped_down",
        /// A follower refused an append whose previous entry it lacks.
        AppendRefused = "raft_append_refused",
        /// A leader moved a follower's next index back after a refusal.
        NextIndexBackedUp = "raft_next_index_backed_up",
        /// A follower cut a conflicting suffix from its log.
        ConflictingSuffixRemoved = "raft_conflicting_suffix_removed",
        /// A node compacted its log into a snapshot.
        SnapshotTaken = "raft_snapshot_taken",
        /// A leader sent a snapshot to a follower that lacked compacted entries.
        SnapshotSent = "raft_snapshot_sent",
        /// A follower installed a snapshot.
        SnapshotInstalled = "raft_snapshot_installed",
        /// A node restarted with a term, vote or log from its disk.
        RestartedWithState = "raft_restarted_with_state",
        /// A node restarted from a snapshot on its disk.
        RestartedFromSnapshot = "raft_restarted_from_snapshot",
        /// A retried request was answered from the client's session, not applied again.
        RetryAnsweredFromSession = "raft_retry_answered_from_session",
        /// A corrupt or torn record was detected on reading the disk back.
        CorruptionDetected = "raft_corruption_detected",
        /// A failed disk read was retried.
        DiskReadRetried = "raft_disk_read_retried",
        /// Reading the disk kept failing; the restart was put off.
        DiskReadDeferred = "raft_disk_read_deferred",
        /// A pre-candidate won its pre-vote and started a real election.
        PreVoteWon = "raft_pre_vote_won",
        /// A refusal came for entries already on their way, so the leader did not back up.
        RefusalAnsweredByResendInFlight = "raft_refusal_answered_by_resend_in_flight",
        /// A leader committed an entry of an earlier term by counting replicas (only with the planted bug commit_previous_term).
        CommittedPreviousTermByCounting = "raft_committed_previous_term_by_counting",
    }
}

/// The `[protocol]` table for `name = "raft"`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RaftConfig {
    /// Always `"raft"`.
    pub name: String,
    /// Planted bugs to switch on. Default none.
    #[serde(default)]
    pub bugs: Vec<RaftBug>,
    /// The range election timeouts are drawn from. Default `["150ms", "300ms"]`.
    #[serde(default = "crate::protocols::kv::defaults::election_timeout")]
    pub election_timeout: DurationRange,
    /// How often a leader sends heartbeats. Default `"50ms"`.
    #[serde(
        default = "crate::protocols::kv::defaults::heartbeat_interval",
        deserialize_with = "crate::sim::time::positive"
    )]
    pub heartbeat_interval: Duration,
    /// Ask for pre-votes before starting an election. Default false.
    #[serde(default)]
    pub pre_vote: bool,
    /// Snapshot every this many applied entries; 0 never. Default 100.
    #[serde(default = "crate::protocols::kv::defaults::snapshot_every")]
    pub snapshot_every: u64,
    /// How long a node's disk takes to make a write durable: answers that must
    /// follow a sync (votes, append and snapshot replies) leave this long after
    /// the request arrived. Default `"0ms"` (the simulated disk is instant).
    #[serde(default)]
    pub persist_delay: Duration,
    /// Most entries in one append. Default 64.
    #[serde(default = "crate::protocols::kv::defaults::max_batch")]
    pub max_batch: usize,
    /// Clients use keys `k0` .. `k{keys-1}`. Default 3.
    #[serde(default = "crate::protocols::kv::defaults::keys")]
    pub keys: u32,
    /// Operations clients choose among. Default `["get", "put", "append", "cas"]`.
    #[serde(default = "crate::protocols::kv::defaults::ops")]
    pub ops: Vec<KvOpKind>,
    /// A client resends an unanswered request to another node after this long.
    /// Default `"200ms"`.
    #[serde(
        default = "crate::protocols::kv::defaults::retry_interval",
        deserialize_with = "crate::sim::time::positive"
    )]
    pub retry_interval: Duration,
    /// A script for the course's tester (see [`lab`]): its steps, run by a
    /// driver; client 0 is the tester's. Default none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lab: Vec<toml::Spanned<toml::Value>>,
}

impl RaftConfig {
    /// The configuration of a Raft embedded in another protocol's node as its
    /// replicated log ([`RaftNode::propose`]): the given timing, no planted
    /// bugs, no pre-vote, no persist delay, the default batch size, and no
    /// snapshots (`snapshot_every = 0`, which embedding requires: the
    /// embedder's state is not in Raft's snapshot). The key/value client
    /// settings keep their defaults and go unused. Set other fields after.
    pub fn embedded(election_timeout: DurationRange, heartbeat_interval: Duration) -> Self {
        use crate::protocols::kv::defaults;
        assert!(
            election_timeout.min <= election_timeout.max && heartbeat_interval.0 > 0,
            "embedded Raft needs an election timeout range and a positive heartbeat interval"
        );
        RaftConfig {
            name: "raft".into(),
            bugs: Vec::new(),
            election_timeout,
            heartbeat_interval,
            pre_vote: false,
            snapshot_every: 0,
            persist_delay: Duration(0),
            max_batch: defaults::max_batch(),
            keys: defaults::keys(),
            ops: defaults::ops(),
            retry_interval: defaults::retry_interval(),
            lab: Vec::new(),
        }
    }

    /// Whether `bug` is switched on.
    pub fn has(&self, bug: RaftBug) -> bool {
        self.bugs.contains(&bug)
    }

    /// The client mix.
    pub fn mix(&self) -> KvMix {
        KvMix {
            keys: self.keys,
            ops: self.ops.clone(),
            retry_interval: self.retry_interval,
        }
    }
}

/// A command in the log.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Command {
    /// Appended by a new leader to commit an entry of its term.
    Noop,
    /// A client's key/value write.
    Kv(KvCommand),
    /// A bare value submitted by a test driver (the course tests' `Start(cmd)`).
    Value(i64),
    /// An opaque command of a protocol that embeds Raft as its replicated log
    /// ([`RaftNode::propose`]); Raft only orders it and hands it back
    /// ([`RaftNode::take_applied`]).
    Bytes(Rc<[u8]>),
}

/// A [`Command::Bytes`] that Raft applied, as the embedder takes it
/// ([`RaftNode::take_applied`]).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Applied {
    /// Its log index.
    pub index: u64,
    /// The term of the leader that created the entry: an embedder that
    /// proposed at `index` in another term knows its proposal was lost.
    pub term: u64,
    /// The command as proposed.
    pub bytes: Rc<[u8]>,
}

/// A log entry: a command and the term of the leader that created it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Entry {
    /// The creating leader's term.
    pub term: u64,
    /// What to apply.
    pub command: Rc<Command>,
}

/// A state machine snapshot as sent in `InstallSnapshot`: the encoded state and
/// the last entry it covers.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Snapshot {
    /// Index of the last entry the snapshot covers.
    pub index: u64,
    /// That entry's term.
    pub term: u64,
    /// The encoded state machine (see `storage`).
    pub data: std::rc::Rc<[u8]>,
}

/// Messages between nodes, and between clients and nodes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum RaftMsg {
    /// Candidate → all: vote for me in `term` (or, as a pre-vote, would you?).
    RequestVote {
        /// The candidate's term (for a pre-vote: the term it would campaign in).
        term: u64,
        /// Index of its last log entry.
        last_index: u64,
        /// Term of its last log entry.
        last_term: u64,
        /// A pre-vote changes no state.
        pre_vote: bool,
    },
    /// Answer to `RequestVote`.
    Vote {
        /// The voter's term (for a pre-vote: the term asked about, if granted).
        term: u64,
        /// Whether the vote was granted.
        granted: bool,
        /// Answers a pre-vote.
        pre_vote: bool,
    },
    /// Leader → follower: entries after `prev_index` (none for a heartbeat).
    AppendEntries {
        /// Leader's term.
        term: u64,
        /// Index of the entry before the new ones.
        prev_index: u64,
        /// Its term.
        prev_term: u64,
        /// The new entries.
        entries: Vec<Entry>,
        /// Leader's commit index.
        commit: u64,
        /// Heartbeat round, echoed back (confirms reads).
        round: u64,
    },
    /// Follower → leader.
    AppendReply {
        /// Follower's term.
        term: u64,
        /// Whether the entries were accepted.
        success: bool,
        /// On success: the last index known to match the leader's log.
        match_index: u64,
        /// On failure: where the leader should resume.
        conflict_index: u64,
        /// On failure: the term of the follower's conflicting entry, if any.
        conflict_term: Option<u64>,
        /// The last index the answered append carried (so that a leader can
        /// tell whether a resend already in flight covers a refused append).
        sent_last: u64,
        /// The round of the append answered.
        round: u64,
    },
    /// Leader → follower too far behind for the log.
    InstallSnapshot {
        /// Leader's term.
        term: u64,
        /// The snapshot.
        snapshot: Snapshot,
        /// Heartbeat round, echoed back.
        round: u64,
    },
    /// Follower → leader: the snapshot is installed (or was not needed).
    SnapshotReply {
        /// Follower's term.
        term: u64,
        /// The snapshot's last index.
        index: u64,
        /// The round answered.
        round: u64,
    },
    /// Client → node.
    Request {
        /// The client's sequence number.
        seq: u64,
        /// The operation.
        op: KvOp,
    },
    /// Node → client.
    Reply(KvReply),
    /// Test driver → node: append this value if you lead (the course's `Start`).
    Start {
        /// The value.
        value: i64,
    },
}

impl RaftMsg {
    /// Bytes this message would take on a wire (for the efficiency checks): a fixed
    /// header plus the entries' or snapshot's payload.
    pub fn wire_size(&self) -> usize {
        const HEADER: usize = 48;
        match self {
            RaftMsg::AppendEntries { entries, .. } => {
                HEADER + entries.iter().map(entry_size).sum::<usize>()
            }
            RaftMsg::InstallSnapshot { snapshot, .. } => HEADER + snapshot.data.len(),
            _ => HEADER,
        }
    }

    /// Whether it is a request between nodes (`RequestVote`, `AppendEntries`,
    /// `InstallSnapshot`) rather than a reply — what the course tester counts as
    /// one RPC.
    pub fn is_request(&self) -> bool {
        matches!(
            self,
            RaftMsg::RequestVote { .. }
                | RaftMsg::AppendEntries { .. }
                | RaftMsg::InstallSnapshot { .. }
        )
    }

    /// The sender's term, for node-to-node messages.
    pub fn term(&self) -> Option<u64> {
        match self {
            RaftMsg::RequestVote { term, .. }
            | RaftMsg::Vote { term, .. }
            | RaftMsg::AppendEntries { term, .. }
            | RaftMsg::AppendReply { term, .. }
            | RaftMsg::InstallSnapshot { term, .. }
            | RaftMsg::SnapshotReply { term, .. } => Some(*term),
            _ => None,
        }
    }
}

fn entry_size(entry: &Entry) -> usize {
    16 + match &*entry.command {
        Command::Noop => 0,
        Command::Value(_) => 8,
        Command::Bytes(bytes) => 8 + bytes.len(),
        Command::Kv(command) => {
            20 + command.op.key().len()
                + match &command.op {
                    KvOp::Append(_, text) => text.len(),
                    _ => 16,
                }
        }
    }
}

/// Timers.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum RaftTimer {
    /// Follower or candidate: no word from a leader; start an election.
    Election,
    /// Leader: send heartbeats.
    Heartbeat,
    /// Retry reading the disk after failed reads.
    ReadDisk,
    /// A client timer.
    Client(KvTimer),
    /// Send an answer whose write has now reached the disk (`persist_delay`).
    Persisted {
        /// Destination.
        to: usize,
        /// The answer.
        msg: Box<RaftMsg>,
    },
}

impl Protocol for Raft {
    type Msg = RaftMsg;
    type Timer = RaftTimer;
    type Node = RaftNode;
    type Client = KvClient<Raft>;

    fn is_reply(msg: &RaftMsg) -> bool {
        matches!(
            msg,
            RaftMsg::Vote { .. }
                | RaftMsg::AppendReply { .. }
                | RaftMsg::SnapshotReply { .. }
                | RaftMsg::Reply(_)
        )
    }
}

super::kv::kv_protocol!(Raft, RaftMsg, RaftTimer);

pub use super::majority;

/// Which process sent what, for nodes' message statistics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SendStats {
    /// Messages to other nodes.
    pub messages: u64,
    /// Of those, requests ([`RaftMsg::is_request`]).
    pub requests: u64,
    /// Their estimated bytes ([`RaftMsg::wire_size`]).
    pub bytes: u64,
}
