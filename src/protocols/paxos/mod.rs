//! `paxos`: single-decree Paxos, and Multi-Paxos serving the replicated key/value
//! store that Raft serves.
//!
//! # Single-decree Paxos
//!
//! Paxos (Lamport, *The Part-Time Parliament*, and *Paxos Made Simple*) lets a set
//! of processes that may crash and restart, over a network that may lose, delay,
//! duplicate and reorder messages, agree on **one** value. Three roles, which here
//! every node plays at once:
//!
//! - **proposers** try to get a value chosen;
//! - **acceptors** vote; a value is *chosen* once a majority of acceptors have
//!   accepted it in the same *ballot*;
//! - **learners** find out which value was chosen.
//!
//! Every attempt carries a **ballot**: a round number paired with the proposer's
//! id, ordered by round and then id, so no two proposers ever use the same ballot.
//! An attempt has two phases:
//!
//! 1. **Prepare / promise.** The proposer picks a ballot `b` higher than any it has
//!    seen and sends `Prepare(b)`. An acceptor that has promised nothing higher
//!    *promises* `b` — it will accept nothing below `b` from now on — and answers
//!    with the highest-ballot proposal it has already accepted, if any.
//! 2. **Accept / accepted.** With promises from a majority, the proposer sends
//!    `Accept(b, v)`, where `v` is the value of the highest-ballot proposal any of
//!    the promises reported — and only if none reported one, a value of its own.
//!    An acceptor that has not promised a higher ballot accepts it.
//!
//! Why one value at most is chosen: suppose `v` was chosen in ballot `b`, so a
//! majority accepted `(b, v)`. Any later ballot `b' > b` needs promises from a
//! majority, which shares an acceptor with the first. That acceptor either
//! accepted `(b, v)` before promising `b'` — then the promises report a proposal
//! of ballot at least `b`, and by induction over the ballots between, its value
//! is `v` — or it promised `b'` first, and then it could not have accepted
//! `(b, v)`. So every ballot after `b` proposes `v`. The argument leans on two
//! acceptor rules that this module's planted bugs break: an acceptor never
//! accepts below its promise, and what it promised and accepted survives a crash
//! (it is on disk, synced, before the answer leaves). And on one proposer rule,
//! also a planted bug: adopt the reported value instead of your own.
//!
//! Paxos is always safe but not always live: two proposers can pre-empt each other
//! forever — each `Prepare` invalidates the other's ballot before its `Accept`
//! lands (*dueling proposers*). Randomised back-off after a pre-emption, or a
//! single distinguished proposer, makes progress likely; FLP says nothing can make
//! it certain.
//!
//! # Multi-Paxos
//!
//! A replicated state machine needs a *sequence* of values: a log of **slots**, each
//! an independent instance of single-decree Paxos. Running both phases per slot
//! works (that is `leader = false` here, every node proposing for itself), but
//! phase 1 can be shared: one `Prepare(b)` covers *every* slot from the first the
//! proposer does not know to be chosen, and an acceptor's promise is for all of
//! them at once. A proposer whose phase 1 succeeded is the **leader**: while its
//! ballot holds it runs only phase 2, one round trip per command.
//!
//! A new leader must first *recover* the slots in flight: for every slot from
//! where it started that any promise reported, it proposes the highest-ballot value
//! reported, and for slots no promise knows of below the highest reported one it
//! proposes a **no-op**, so the log has no gaps and later slots can be applied.
//! Only then does it put new commands in the slots after.
//!
//! When the leader sees a majority accept a slot it knows the slot is chosen, and
//! tells everyone (`Learn`). Every node applies chosen commands to its key/value
//! store strictly in slot order; a node that finds itself behind — the leader's
//! heartbeat says how far it has applied — asks for what it missed, and gets either
//! the commands or, if they were compacted, a snapshot of the store.
//!
//! Followers that hear no heartbeat for a randomised election timeout start phase 1
//! with a higher ballot; a leader that sees a higher ballot in a prepare or a
//! heartbeat steps down. Two refinements keep one follower that missed a few
//! heartbeats from deposing a working leader (refusing is always safe, so neither
//! touches safety): a node that heard from its leader within the shortest
//! election timeout refuses to promise anyone else, and a leader whose accept is
//! refused by an acceptor that promised such a failed campaign prepares again
//! under a ballot above it instead of handing over. A node's
//! ballot rounds come from what its own acceptor promised, which is on disk: before
//! it sends `Prepare(b)` it promises `b` to itself, so a restarted proposer never
//! reuses a ballot.
//!
//! Reads go through the log like writes: a `get` is a command in a slot, answered
//! when applied. That costs a round trip, but it needs no leases and no clocks.
//!
//! **Compaction.** Every `snapshot_every` applied slots a node writes its store to a
//! snapshot and drops what it accepted in those slots (they are chosen and
//! applied). An acceptor asked to promise from a slot its snapshot covers answers
//! with the snapshot, so the new leader installs it instead of re-proposing
//! there — the dropped votes are never needed.
//!
//! # How it differs from Raft
//!
//! Raft is Multi-Paxos with the leader made central and the log made contiguous:
//!
//! - **Who may lead.** A Raft candidate wins only if its log is at least as up to
//!   date as a majority's, so a new leader already holds every committed entry and
//!   never learns values from others. A Paxos proposer with any log may win phase
//!   1; it then learns the in-flight values from the promises and re-proposes them
//!   (recovery). Raft moves entries one way, leader to follower; Paxos moves them
//!   both ways during a leader change.
//! - **Holes.** Raft logs never have holes: a follower accepts an entry only after
//!   its predecessor (log matching). Paxos slots are independent: a slot can be
//!   chosen while an earlier one is not, so a new leader fills holes with no-ops,
//!   and learners buffer until the prefix is complete.
//! - **Re-proposed values.** A Raft leader never changes an entry's term; it commits
//!   old-term entries only indirectly through one of its own (Figure 8). A Paxos
//!   leader re-proposes old values under its own ballot, which makes them chosen
//!   directly: there is no Figure 8 rule to forget.
//! - **Terms and ballots.** Raft's term is one number with one vote per server per
//!   term; Paxos's ballot is (round, proposer), unique by construction, and an
//!   acceptor's promise replaces the vote.
//!
//! # Properties checked
//! See [`checker`]: agreement (at most one value chosen per slot, judged from every
//! acceptance the acceptors made over the whole run, crashes included), validity,
//! that learners only apply chosen values and never different ones for a slot,
//! in slot order and without gaps; linearizability of the client history; and,
//! after the faults heal, a stable leader and the completion of every client
//! operation.
//!
//! # Planted bugs
//! Each is a mistake real implementations have made; see [`PaxosBug`].

pub mod checker;
mod node;
mod spec;
mod storage;

pub use checker::PaxosChecker;
pub use node::PaxosNode;

use super::kv::{KvClient, KvCommand, KvMix, KvOp, KvOpKind, KvReply, KvTimer};
use crate::sim::Protocol;
use crate::sim::time::Duration;
use crate::sim::time::DurationRange;
use serde::{Deserialize, Serialize};
use std::rc::Rc;

/// The Paxos protocol's types.
#[derive(Clone, Copy, Debug)]
pub struct Paxos;

crate::declare! {
    /// Planted bugs (`bugs = [...]` in the `[protocol]` table).
    pub enum PaxosBug {
        /// A proposer ignores the values reported in promises and proposes its own
        /// (a new leader fills in-flight slots with its commands or no-ops).
        IgnoreAcceptedValues = "ignore_accepted_values",
        /// An acceptor accepts a proposal whose ballot is below its promise.
        AcceptLowerBallot = "accept_lower_ballot",
        /// An acceptor answers before its promise or acceptance is synced to disk;
        /// a crash forgets it.
        StateNotPersisted = "state_not_persisted",
        /// A new leader skips recovery: it leaves the in-flight slots it learned of
        /// in phase 1 alone and proposes new commands after them.
        SkipRecovery = "skip_recovery",
        /// Ballots are round numbers only, without the proposer's id, so two
        /// proposers can use the same ballot.
        BallotNotUnique = "ballot_not_unique",
        /// A leader takes a slot as chosen as soon as its own acceptor accepted,
        /// without waiting for a majority, and applies and announces it.
        LearnWithoutMajority = "learn_without_majority",
    }
}

crate::declare! {
    /// The rare situations Paxos must be tested in (*sometimes* points).
    pub enum PaxosPoint {
        /// A proposer won phase 1 for every open slot and leads.
        LeaderElected = "paxos_leader_elected",
        /// A leader saw a higher ballot and stopped leading.
        LeaderPreempted = "paxos_leader_preempted",
        /// A leader re-asserted itself above a failed campaign's promise.
        LeaderReasserted = "paxos_leader_reasserted",
        /// A node that hears its leader refused another proposer's prepare.
        PrepareRefusedLeaderAlive = "paxos_prepare_refused_leader_alive",
        /// A proposer's phase 1 was pre-empted by a higher ballot.
        PreparePreempted = "paxos_prepare_preempted",
        /// A new leader re-proposed a value some acceptor had accepted.
        RecoveredAcceptedValue = "paxos_recovered_accepted_value",
        /// A new leader filled a slot no acceptor had voted in with a no-op.
        GapFilledWithNoop = "paxos_gap_filled_with_noop",
        /// A leader resent an accept that had no majority yet.
        AcceptResent = "paxos_accept_resent",
        /// A node learned a slot before an earlier one and buffered it.
        LearnedOutOfOrder = "paxos_learned_out_of_order",
        /// A node behind caught up from the leader's heartbeat.
        LearnerCaughtUp = "paxos_learner_caught_up",
        /// A request's slot was chosen for another value; it was proposed again.
        RequestLostItsSlot = "paxos_request_lost_its_slot",
        /// A retried request was answered from the client's session, not applied again.
        RetryAnsweredFromSession = "paxos_retry_answered_from_session",
        /// A node snapshotted its store and dropped the votes it covers.
        SnapshotTaken = "paxos_snapshot_taken",
        /// A leader sent a snapshot to a node behind its compaction point.
        SnapshotSent = "paxos_snapshot_sent",
        /// A node installed a snapshot.
        SnapshotInstalled = "paxos_snapshot_installed",
        /// An acceptor answered a prepare from a compacted slot with its snapshot.
        SnapshotFromPromise = "paxos_snapshot_from_promise",
        /// An acceptor got an accept for a slot it had compacted away.
        AcceptForCompactedSlot = "paxos_accept_for_compacted_slot",
        /// A node restarted with promises and accepted values from its disk.
        RestartedWithVotes = "paxos_restarted_with_votes",
        /// An acceptor restarted after promising a ballot and before accepting in it.
        RestartedBetweenPromiseAndAccept = "paxos_restarted_between_promise_and_accept",
        /// A node restarted from a snapshot on its disk.
        RestartedFromSnapshot = "paxos_restarted_from_snapshot",
        /// A corrupt or torn record was detected on reading the disk back.
        CorruptionDetected = "paxos_corruption_detected",
        /// A failed disk read was retried.
        DiskReadRetried = "paxos_disk_read_retried",
        /// Reading the disk kept failing; the restart was put off.
        DiskReadDeferred = "paxos_disk_read_deferred",
        /// An acceptor accepted below its promise (only with the planted bug accept_lower_ballot).
        AcceptedBelowPromise = "paxos_accepted_below_promise",
        /// A new leader skipped recovering earlier slots (only with the planted bug skip_recovery).
        RecoverySkipped = "paxos_recovery_skipped",
    }
}

/// The `[protocol]` table for `name = "paxos"`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaxosConfig {
    /// Always `"paxos"`.
    pub name: String,
    /// Planted bugs to switch on. Default none.
    #[serde(default)]
    pub bugs: Vec<PaxosBug>,
    /// Multi-Paxos with a distinguished leader that skips phase 1 while its ballot
    /// holds (true), or every node proposing for itself with both phases per
    /// command, as in single-decree Paxos (false). Default true.
    #[serde(default = "yes")]
    pub leader: bool,
    /// After a pre-emption, wait a random time up to the election timeout before
    /// trying again (false: retry at once, and dueling proposers can livelock).
    /// Default true.
    #[serde(default = "yes")]
    pub backoff: bool,
    /// The range election timeouts (and back-offs) are drawn from. Default
    /// `["150ms", "300ms"]`.
    #[serde(default = "crate::protocols::kv::defaults::election_timeout")]
    pub election_timeout: DurationRange,
    /// How often a leader sends heartbeats and resends unanswered proposals.
    /// Default `"50ms"`.
    #[serde(
        default = "crate::protocols::kv::defaults::heartbeat_interval",
        deserialize_with = "crate::sim::time::positive"
    )]
    pub heartbeat_interval: Duration,
    /// Snapshot every this many applied slots; 0 never. Default 100.
    #[serde(default = "crate::protocols::kv::defaults::snapshot_every")]
    pub snapshot_every: u64,
    /// Most commands in one catch-up message. Default 64.
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
}

fn yes() -> bool {
    true
}
impl PaxosConfig {
    /// Whether `bug` is switched on.
    pub fn has(&self, bug: PaxosBug) -> bool {
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

/// A ballot: a round and the proposer's id, ordered by round then id, so two
/// proposers never share one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ballot {
    /// The round.
    pub round: u64,
    /// The proposer.
    pub node: u32,
}

impl Ballot {
    /// Below every real ballot (nothing promised or accepted yet).
    pub const ZERO: Ballot = Ballot { round: 0, node: 0 };
}

impl std::fmt::Display for Ballot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.round, self.node)
    }
}

/// A value proposed for a slot.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Command {
    /// Fills a slot a new leader found empty below in-flight ones.
    Noop,
    /// A client's key/value operation (reads included: they go through the log).
    Kv(KvCommand),
}

/// A state machine snapshot: the store after applying every slot up to `slot`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Snapshot {
    /// The last slot it covers.
    pub slot: u64,
    /// The encoded state machine (store and applied digest; see `storage`).
    pub data: Rc<[u8]>,
}

/// An accepted proposal as a promise reports it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Proposal {
    /// The slot.
    pub slot: u64,
    /// The ballot it was accepted in.
    pub ballot: Ballot,
    /// The value.
    pub command: Rc<Command>,
}

/// Messages between nodes, and between clients and nodes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum PaxosMsg {
    /// Phase 1a: promise `ballot` for every slot from `from_slot` on.
    Prepare {
        /// The proposer's ballot.
        ballot: Ballot,
        /// The first slot the proposer does not know to be chosen.
        from_slot: u64,
    },
    /// Phase 1b: promised, with what this acceptor accepted from `from_slot` on
    /// (and its snapshot, when that covers slots from `from_slot`).
    Promise {
        /// The ballot promised.
        ballot: Ballot,
        /// Accepted proposals in slots at or after the prepare's `from_slot`.
        accepted: Vec<Proposal>,
        /// The acceptor's snapshot, if it covers `from_slot` (its votes there
        /// were compacted away).
        snapshot: Option<Snapshot>,
    },
    /// Phase 2a: accept `command` in `slot`.
    Accept {
        /// The proposer's ballot.
        ballot: Ballot,
        /// The slot.
        slot: u64,
        /// The value.
        command: Rc<Command>,
    },
    /// Phase 2b: accepted.
    Accepted {
        /// The ballot accepted.
        ballot: Ballot,
        /// The slot.
        slot: u64,
    },
    /// Refusal of a prepare, accept or heartbeat: the acceptor promised higher.
    Nack {
        /// The ballot refused.
        ballot: Ballot,
        /// What the acceptor promised.
        promised: Ballot,
    },
    /// Leader → all: I lead `ballot`, and have applied up to `applied`.
    Heartbeat {
        /// The leader's ballot.
        ballot: Ballot,
        /// The leader's applied slot.
        applied: u64,
    },
    /// How far the sender has applied (leaderless gossip, and the answer to an
    /// accept for a slot the acceptor's snapshot already covers).
    Status {
        /// The sender's applied slot.
        applied: u64,
    },
    /// Learner → node ahead of it: send me chosen commands from `from` on.
    Catchup {
        /// The first slot wanted.
        from: u64,
    },
    /// Chosen commands for slots `from`, `from + 1`, ... (after `snapshot`, if
    /// the sender no longer has the commands).
    Learn {
        /// The store up to some slot, when the commands were compacted.
        snapshot: Option<Snapshot>,
        /// Slot of the first command.
        from: u64,
        /// The chosen commands, consecutive.
        commands: Vec<Rc<Command>>,
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
}

/// Timers.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum PaxosTimer {
    /// No word from a leader (or a campaign stalled): run phase 1.
    Election,
    /// Leader: heartbeats and resends. Leaderless: status gossip.
    Tick,
    /// Retry reading the disk after failed reads.
    ReadDisk,
    /// A client timer.
    Client(KvTimer),
}

impl Protocol for Paxos {
    type Msg = PaxosMsg;
    type Timer = PaxosTimer;
    type Node = PaxosNode;
    type Client = KvClient<Paxos>;

    fn is_reply(msg: &PaxosMsg) -> bool {
        matches!(
            msg,
            PaxosMsg::Promise { .. }
                | PaxosMsg::Accepted { .. }
                | PaxosMsg::Nack { .. }
                | PaxosMsg::Learn { .. }
                | PaxosMsg::Reply(_)
        )
    }
}

super::kv::kv_protocol!(Paxos, PaxosMsg, PaxosTimer);

/// What a node did in its latest handler, for the checker: the acceptor's
/// acceptances and the learner's applications, in order.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Record {
    /// The acceptor accepted `command` in `slot` at `ballot`.
    Accepted {
        /// The slot.
        slot: u64,
        /// The ballot.
        ballot: Ballot,
        /// The value.
        command: Rc<Command>,
    },
    /// The learner applied `command` in `slot`; the applied digest is now
    /// `digest`.
    Applied {
        /// The slot.
        slot: u64,
        /// The value.
        command: Rc<Command>,
        /// Chained digest of every command applied so far.
        digest: u64,
    },
    /// The learner's state machine was replaced by a snapshot through `slot`.
    Restored {
        /// The last slot the snapshot covers.
        slot: u64,
        /// The snapshot's applied digest.
        digest: u64,
    },
}

pub use super::majority;
