//! `txn`: distributed transactions by two-phase commit over a sharded store
//! (issue 16), tested the way Jepsen tests databases: a bank whose money must
//! be conserved, and list-append histories checked for isolation anomalies.
//!
//! # The cluster
//!
//! Node 0 is the **coordinator** (in `mode = "paxos_commit"` nodes 0–2 are
//! coordinator replicas: see [`replicated`]); the nodes after it are the
//! **shards**. Key `k` lives on shard `k % shards`. Each shard is a single node with a
//! durable, CRC-framed log on its simulated disk, not a Raft group: what is
//! under test is the commit protocol, and a single-node participant is where
//! two-phase commit's blocking shows (a participant that voted yes may not
//! decide alone). Making the *decision* fault-tolerant, not the participants,
//! is the comparison the literature makes (Gray and Lamport, *Consensus on
//! Transaction Commit*), and the step that mode takes.
//!
//! # Two-phase commit, presumed abort
//!
//! A client sends its whole transaction (reads, balance changes, appends) to
//! the coordinator, which sends each shard its part (`Prepare`). A shard:
//!
//! 1. takes the locks the part needs (strict two-phase locking: shared for a
//!    read, exclusive for a write, held until the decision is applied), with
//!    *no-wait* deadlock avoidance: a lock that is taken makes the shard vote
//!    no at once, so nothing waits and no deadlock can form
//!    ([`locks`]);
//! 2. evaluates its part under those locks (reads are answered from committed
//!    state, a withdrawal that would make a balance negative votes no);
//! 3. forces a `Prepare` record (its locks and writes) to its log, and only
//!    then votes yes, with its reads.
//!
//! The coordinator commits when every shard voted yes: it forces a `Commit`
//! record (the participants) and only then tells the shards and the client. A
//! no vote, or a vote that does not come within `vote_timeout`, aborts: no
//! record is written (*presumed abort*: no commit record means abort), and the
//! shards are told. A shard applies a commit, forces a `Decided` record and
//! acknowledges; it applies an abort without forcing anything. When every
//! participant acknowledged, the coordinator writes an unforced `End`.
//!
//! Forced writes take `force_delay` of virtual time (records written within
//! it share one sync: group commit), and nothing that depends on a record
//! happens before its sync.
//!
//! # Recovery
//!
//! - A restarted **coordinator** reads its log and re-sends every commit that
//!   has no `End`, until acknowledged. It answers a shard's query for a
//!   transaction it has no commit record of with abort.
//! - A restarted **shard** replays its log: committed writes in decision
//!   order; a `Prepare` with no decision is *in doubt*: it takes that
//!   transaction's locks again and asks the coordinator (and keeps asking
//!   every `query_interval`) until it hears the decision. A shard that voted
//!   yes never decides alone: a timeout aborts only before the yes vote.
//! - A log whose records fail their checksum is refused: the shard stops
//!   serving rather than serve a history with a hole.
//!
//! # Workloads (`workload = "..."`)
//!
//! - **`bank`** (Jepsen's bank test): `accounts` accounts holding `total`
//!   between them; clients transfer 1..=`max_transfer` between two distinct
//!   accounts, or read every account in one transaction.
//! - **`list_append`** (Elle's): transactions of up to `max_ops` appends and
//!   reads over `keys` lists, every appended value unique; the history is
//!   checked for isolation anomalies (strict serializability).

mod checker;
mod client;
mod coordinator;
pub mod locks;
pub mod record;
pub mod replicated;
mod shard;
mod spec;

pub use checker::TxnChecker;
pub use client::TxnClient;
pub use coordinator::{Coordinator, CoordinatorEvent};
pub use replicated::ReplicatedCoordinator;
pub use shard::Shard;

use crate::sim::time::{Duration, DurationRange};
use crate::sim::{Ctx, Node, ProcessId, Protocol, Status};
use serde::{Deserialize, Serialize};

/// The transaction protocol's types.
#[derive(Clone, Copy, Debug)]
pub struct Txn;

/// Names a transaction: the client that began it and its number there.
/// Clients number their transactions, so ids are unique across coordinator
/// restarts without any coordinator state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TxnId {
    /// The client (0-based among clients).
    pub client: u32,
    /// Its transaction number (1, 2, ...).
    pub seq: u64,
}

impl std::fmt::Display for TxnId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "t{}.{}", self.client, self.seq)
    }
}

crate::declare! {
    /// Planted bugs (`bugs = [...]` in the `[protocol]` table).
    pub enum TxnBug {
        /// The coordinator tells the shards and the client "commit" as soon as
        /// it decides, and forces its commit record afterwards: a crash in
        /// between forgets a commit that shards have applied, and presumed
        /// abort then aborts it at the others.
        CommitBeforeLog = "commit_before_log",
        /// A shard votes yes before its prepare record is synced: a crash
        /// loses the prepare, and with it the writes it promised to make.
        VoteWithoutDurablePrepare = "vote_without_durable_prepare",
        /// A shard releases a transaction's locks when it votes yes, not when
        /// the decision is applied: others read and overwrite what it is about
        /// to write (lost updates, G-single and G2).
        ReleaseLocksAtPrepare = "release_locks_at_prepare",
        /// The coordinator takes a vote that did not come in time as a yes,
        /// and commits.
        TimeoutAsYes = "timeout_as_yes",
        /// A restarted shard drops the transactions it was in doubt about (as
        /// if presumed abort held at the participant): no locks, no query.
        RecoverySkipsInDoubt = "recovery_skips_in_doubt",
        /// Reads take no shared lock: a transaction reads one account before a
        /// transfer commits and another after it (read skew).
        ReadWithoutLock = "read_without_lock",
    }
}

crate::declare! {
    /// The rare situations a commit protocol must be tested in (*sometimes*
    /// points).
    pub enum TxnPoint {
        /// A shard that had voted yes learned the decision from a coordinator
        /// that restarted since it prepared: it was in doubt across the
        /// coordinator's crash.
        InDoubtAtCoordinatorCrash = "txn_in_doubt_at_coordinator_crash",
        /// A restarted coordinator re-sent a commit it found in its log.
        DecisionResentAfterRecovery = "txn_decision_resent_after_recovery",
        /// No vote came within the vote timeout, and the coordinator aborted.
        VoteTimeoutAbort = "txn_vote_timeout_abort",
        /// A shard in doubt asked the coordinator for the decision.
        InDoubtQuery = "txn_in_doubt_query",
        /// The coordinator answered a query about a transaction it holds no
        /// commit record of with abort (presumed abort).
        PresumedAbortAnswered = "txn_presumed_abort_answered",
        /// A restarted shard found a prepared transaction with no decision in
        /// its log and took its locks again.
        RecoveredInDoubt = "txn_recovered_in_doubt",
        /// A shard voted no because a lock was taken.
        LockConflict = "txn_lock_conflict",
        /// A shard voted no because a withdrawal would overdraw an account.
        Overdraft = "txn_overdraft",
        /// A shard heard of an abort before the prepare it cancels.
        AbortBeforePrepare = "txn_abort_before_prepare",
        /// A restarted shard or coordinator found a torn record at the end of
        /// its log and dropped it.
        TornTailDropped = "txn_torn_tail_dropped",
        /// A restarted node's log read failed and was retried.
        DiskReadRetried = "txn_disk_read_retried",
        /// The coordinator resent a commit that was not acknowledged in time.
        CommitResent = "txn_commit_resent",
        /// paxos_commit: a leader asked about a transaction its log has not
        /// decided proposed abort.
        AbortProposedForQuery = "txn_abort_proposed_for_query",
        /// paxos_commit: a client was sent on to the leader.
        ClientRedirected = "txn_client_redirected",
    }
}

/// The workload (`workload = "..."`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TxnWorkload {
    /// Jepsen's bank: transfers and whole-bank reads.
    Bank,
    /// Elle's list-append: appends and reads over lists.
    ListAppend,
}

/// How the commit decision is made (`mode = "..."`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommitMode {
    /// Classic two-phase commit with one coordinator (blocking).
    #[default]
    #[serde(rename = "2pc")]
    TwoPhase,
    /// The decision replicated by Raft over three coordinators (Paxos Commit
    /// with F = 1): non-blocking while a majority of them is up.
    PaxosCommit,
}

impl CommitMode {
    /// Its name in scenario files.
    pub fn name(self) -> &'static str {
        match self {
            CommitMode::TwoPhase => "2pc",
            CommitMode::PaxosCommit => "paxos_commit",
        }
    }
}

/// The `[protocol]` table for `name = "txn"`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TxnConfig {
    /// Always `"txn"`.
    pub name: String,
    /// Planted bugs. Default none.
    #[serde(default)]
    pub bugs: Vec<TxnBug>,
    /// The commit mode. Default `"2pc"`.
    #[serde(default)]
    pub mode: CommitMode,
    /// The workload. Required.
    pub workload: TxnWorkload,
    /// Shards (nodes `1..=shards`). Default: every node but the coordinator.
    #[serde(default)]
    pub shards: Option<usize>,
    /// bank: accounts. Default 8 (Jepsen's bank).
    #[serde(default = "default_accounts")]
    pub accounts: u64,
    /// bank: the money in the bank. Default 100.
    #[serde(default = "default_total")]
    pub total: i64,
    /// bank: the largest transfer. Default 5.
    #[serde(default = "default_max_transfer")]
    pub max_transfer: i64,
    /// bank: the share of operations that read the whole bank. Default 0.3.
    #[serde(default = "default_read_fraction")]
    pub read_fraction: f64,
    /// list_append: keys. Default 8.
    #[serde(default = "default_keys")]
    pub keys: u64,
    /// list_append: micro-operations per transaction, at most. Default 4.
    #[serde(default = "default_max_ops")]
    pub max_ops: usize,
    /// How long the coordinator waits for every vote before it aborts.
    /// Default `"100ms"`.
    #[serde(default = "default_vote_timeout")]
    pub vote_timeout: Duration,
    /// How long a forced write takes (records written within it share one
    /// sync). Default `"1ms"`; `"0s"` syncs in the handler that writes.
    #[serde(default = "default_force_delay")]
    pub force_delay: Duration,
    /// How often a shard in doubt asks for the decision. Default `"200ms"`.
    #[serde(default = "default_query_interval")]
    pub query_interval: Duration,
    /// How often the coordinator resends an unacknowledged commit. Default
    /// `"200ms"`.
    #[serde(default = "default_resend_interval")]
    pub resend_interval: Duration,
    /// paxos_commit: the range the coordinators' Raft election timeouts are
    /// drawn from. Default `["150ms", "300ms"]`.
    #[serde(default = "crate::protocols::kv::defaults::election_timeout")]
    pub election_timeout: DurationRange,
    /// paxos_commit: how often the Raft leader sends heartbeats. Default
    /// `"50ms"`.
    #[serde(
        default = "crate::protocols::kv::defaults::heartbeat_interval",
        deserialize_with = "crate::sim::time::positive"
    )]
    pub heartbeat_interval: Duration,
}

fn default_accounts() -> u64 {
    8
}
fn default_total() -> i64 {
    100
}
fn default_max_transfer() -> i64 {
    5
}
fn default_read_fraction() -> f64 {
    0.3
}
fn default_keys() -> u64 {
    8
}
fn default_max_ops() -> usize {
    4
}
fn default_vote_timeout() -> Duration {
    Duration::from_millis(100)
}
fn default_force_delay() -> Duration {
    Duration::from_millis(1)
}
fn default_query_interval() -> Duration {
    Duration::from_millis(200)
}
fn default_resend_interval() -> Duration {
    Duration::from_millis(200)
}

impl TxnConfig {
    /// Whether a planted bug is on.
    pub fn has(&self, bug: TxnBug) -> bool {
        self.bugs.contains(&bug)
    }

    /// Coordinator nodes (`0..coordinators()`): one for two-phase commit,
    /// a Raft group of three for Paxos Commit.
    pub fn coordinators(&self) -> usize {
        match self.mode {
            CommitMode::TwoPhase => 1,
            CommitMode::PaxosCommit => 3,
        }
    }

    /// Shards in a run with `nodes` nodes.
    pub fn shard_count(&self, nodes: usize) -> usize {
        self.shards
            .unwrap_or(nodes.saturating_sub(self.coordinators()))
    }

    /// The keys of the workload (accounts, or lists).
    pub fn key_count(&self) -> u64 {
        match self.workload {
            TxnWorkload::Bank => self.accounts,
            TxnWorkload::ListAppend => self.keys,
        }
    }

    /// An account's opening balance: the total shared out evenly, the
    /// remainder to the first accounts.
    pub fn opening_balance(&self, account: u64) -> i64 {
        let accounts = self.accounts.max(1) as i64;
        self.total / accounts + i64::from((account as i64) < self.total % accounts)
    }
}

/// One micro-operation of a transaction.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    /// Read a key (an account's balance, or a list).
    Read {
        /// The key.
        key: u64,
    },
    /// bank: add `delta` to an account (negative: withdraw); votes no if the
    /// balance would go below zero.
    Add {
        /// The account.
        key: u64,
        /// The change.
        delta: i64,
    },
    /// list_append: append a value to a list.
    Append {
        /// The key.
        key: u64,
        /// The value.
        value: i64,
    },
}

impl Op {
    /// The key it touches.
    pub fn key(&self) -> u64 {
        match self {
            Op::Read { key } | Op::Add { key, .. } | Op::Append { key, .. } => *key,
        }
    }
}

/// What a read saw: a balance (one value) or a list.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ReadResult {
    /// The key.
    pub key: u64,
    /// The balance, or the list's elements.
    pub values: Vec<i64>,
}

/// Transaction messages.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum TxnMsg {
    /// Client → coordinator: run this transaction.
    Begin {
        /// The transaction.
        txn: TxnId,
        /// Its operations, in order.
        ops: Vec<Op>,
    },
    /// Coordinator → client: the transaction committed (with what it read,
    /// in operation order) or aborted.
    Done {
        /// The transaction.
        txn: TxnId,
        /// Committed, else aborted.
        committed: bool,
        /// Its reads (empty when aborted).
        reads: Vec<ReadResult>,
    },
    /// Coordinator → shard: prepare your part of the transaction.
    Prepare {
        /// The transaction.
        txn: TxnId,
        /// The operations on this shard's keys, in order.
        ops: Vec<Op>,
        /// The coordinator's incarnation (its clock when it started).
        epoch: u64,
    },
    /// Shard → coordinator: the vote (a yes comes after the prepare record
    /// is durable), with the reads.
    Vote {
        /// The transaction.
        txn: TxnId,
        /// Yes (prepared) or no.
        yes: bool,
        /// What the shard's part read.
        reads: Vec<ReadResult>,
    },
    /// Coordinator → shard: the decision.
    Decision {
        /// The transaction.
        txn: TxnId,
        /// Commit, else abort.
        commit: bool,
        /// The coordinator's incarnation.
        epoch: u64,
    },
    /// Shard → coordinator: the commit is applied and durable.
    Ack {
        /// The transaction.
        txn: TxnId,
    },
    /// Shard in doubt → coordinator: what was decided?
    Query {
        /// The transaction.
        txn: TxnId,
    },
    /// paxos_commit, coordinator → client: not the leader; try `hint`.
    Redirect {
        /// The transaction.
        txn: TxnId,
        /// The leader this coordinator knows of.
        hint: Option<ProcessId>,
    },
    /// paxos_commit, coordinator ↔ coordinator: the embedded Raft's messages.
    Raft(crate::protocols::raft::RaftMsg),
}

/// Timers.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum TxnTimer {
    /// The forced write's sync is done: act on what waited for it.
    Flush,
    /// The coordinator's wait for a transaction's votes is over.
    VoteTimeout(TxnId),
    /// The coordinator resends unacknowledged commits.
    Resend,
    /// A shard asks about the transactions it is in doubt about.
    Query,
    /// A node whose log could not be read tries again.
    Recover,
    /// A client's think time is over.
    Think,
    /// A client gives its transaction up as unknown.
    OpTimeout(TxnId),
    /// paxos_commit: a client with no answer tries the next coordinator.
    Retry(TxnId),
    /// paxos_commit: the embedded Raft's timers.
    Raft(crate::protocols::raft::RaftTimer),
}

/// A txn run's node: the coordinator or a shard.
#[derive(Clone, Debug)]
pub enum TxnNode {
    /// The coordinator (node 0).
    Coordinator(Box<Coordinator>),
    /// A shard (nodes `1..=shards`).
    Shard(Box<Shard>),
    /// A coordinator replica (paxos_commit: nodes `0..3`).
    Replicated(Box<ReplicatedCoordinator>),
}

impl TxnNode {
    /// The two-phase commit coordinator, if this node is it.
    pub fn coordinator(&self) -> Option<&Coordinator> {
        match self {
            TxnNode::Coordinator(coordinator) => Some(coordinator),
            _ => None,
        }
    }

    /// The shard, if this node is one.
    pub fn shard(&self) -> Option<&Shard> {
        match self {
            TxnNode::Shard(shard) => Some(shard),
            _ => None,
        }
    }

    /// A coordinator's (either mode's) decisions, in order, in this
    /// incarnation; `None` for a shard.
    pub fn decisions(&self) -> Option<&[CoordinatorEvent]> {
        match self {
            TxnNode::Coordinator(node) => Some(node.events()),
            TxnNode::Replicated(node) => Some(node.events()),
            TxnNode::Shard(_) => None,
        }
    }

    /// A coordinator's open transactions, and whether it serves.
    pub fn coordinating(&self) -> Option<(Vec<TxnId>, bool)> {
        match self {
            TxnNode::Coordinator(node) => Some((node.open().collect(), node.serving())),
            TxnNode::Replicated(node) => Some((node.open().collect(), true)),
            TxnNode::Shard(_) => None,
        }
    }

    /// Records forced, syncs and commit-protocol messages, in this
    /// incarnation.
    pub fn costs(&self) -> (u64, u64, u64) {
        match self {
            TxnNode::Coordinator(node) => node.costs(),
            TxnNode::Replicated(node) => (0, 0, node.messages()),
            TxnNode::Shard(node) => {
                let (forced, syncs) = node.forced();
                (forced, syncs, 0)
            }
        }
    }
}

impl Node<Txn> for TxnNode {
    fn on_start(&mut self, ctx: &mut Ctx<'_, Txn>) {
        match self {
            TxnNode::Coordinator(node) => node.on_start(ctx),
            TxnNode::Shard(node) => node.on_start(ctx),
            TxnNode::Replicated(node) => node.on_start(ctx),
        }
    }

    fn on_restart(&mut self, ctx: &mut Ctx<'_, Txn>) {
        match self {
            TxnNode::Coordinator(node) => node.on_restart(ctx),
            TxnNode::Shard(node) => node.on_restart(ctx),
            TxnNode::Replicated(node) => node.on_restart(ctx),
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Txn>, from: ProcessId, msg: TxnMsg) {
        match self {
            TxnNode::Coordinator(node) => node.on_message(ctx, from, msg),
            TxnNode::Shard(node) => node.on_message(ctx, from, msg),
            TxnNode::Replicated(node) => node.on_message(ctx, from, msg),
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Txn>, timer: TxnTimer) {
        match self {
            TxnNode::Coordinator(node) => node.on_timer(ctx, timer),
            TxnNode::Shard(node) => node.on_timer(ctx, timer),
            TxnNode::Replicated(node) => node.on_timer(ctx, timer),
        }
    }

    /// The coordinator reports itself the leader (of the commit protocol),
    /// so the nemesis's `crash_leader` picks it and `follower` picks a shard.
    fn status(&self) -> Status {
        let role = match self {
            TxnNode::Coordinator(_) => crate::sim::Role::Leader,
            TxnNode::Shard(_) => crate::sim::Role::Follower,
            TxnNode::Replicated(node) => return node.status(),
        };
        Status { role, term: 0 }
    }
}

impl Protocol for Txn {
    type Msg = TxnMsg;
    type Timer = TxnTimer;
    type Node = TxnNode;
    type Client = TxnClient;

    fn is_reply(msg: &TxnMsg) -> bool {
        matches!(
            msg,
            TxnMsg::Done { .. }
                | TxnMsg::Vote { .. }
                | TxnMsg::Ack { .. }
                | TxnMsg::Redirect { .. }
        ) || matches!(msg, TxnMsg::Raft(raft) if crate::protocols::raft::Raft::is_reply(raft))
    }
}

/// A log that forces: records are appended at once and synced `force_delay`
/// later (records written meanwhile share the sync), and the actions that
/// depend on them wait for the sync.
#[derive(Clone, Debug)]
pub(crate) struct ForcedLog<A> {
    file: &'static str,
    delay: Duration,
    waiting: Vec<A>,
    armed: bool,
    unsynced: bool,
    /// Records whose sync something waited on.
    pub forced: u64,
    /// Syncs made.
    pub syncs: u64,
}

impl<A> ForcedLog<A> {
    pub(crate) fn new(file: &'static str, delay: Duration) -> Self {
        ForcedLog {
            file,
            delay,
            waiting: Vec::new(),
            armed: false,
            unsynced: false,
            forced: 0,
            syncs: 0,
        }
    }

    /// Appends a record nothing waits on (synced with the next force).
    pub(crate) fn write(&mut self, ctx: &mut Ctx<'_, Txn>, record: &record::Record) {
        ctx.disk().append(self.file, record.framed());
        self.unsynced = true;
    }

    /// Appends a record and runs `action` once it is synced. `Some(action)`
    /// comes back when it may run at once (no force delay).
    pub(crate) fn force(
        &mut self,
        ctx: &mut Ctx<'_, Txn>,
        record: &record::Record,
        action: A,
    ) -> Option<A> {
        self.write(ctx, record);
        self.forced += 1;
        self.after(ctx, action)
    }

    /// Runs `action` after every record written so far is synced: at once
    /// (returned) when none waits, else at the next flush.
    pub(crate) fn after(&mut self, ctx: &mut Ctx<'_, Txn>, action: A) -> Option<A> {
        if !self.unsynced {
            return Some(action);
        }
        if self.delay.0 == 0 {
            self.sync(ctx);
            return Some(action);
        }
        self.waiting.push(action);
        if !self.armed {
            self.armed = true;
            ctx.set_timer(self.delay, self.delay, TxnTimer::Flush);
        }
        None
    }

    fn sync(&mut self, ctx: &mut Ctx<'_, Txn>) {
        ctx.disk().sync();
        self.syncs += 1;
        self.unsynced = false;
    }

    /// The flush timer fired: syncs, and hands back what waited.
    pub(crate) fn flush(&mut self, ctx: &mut Ctx<'_, Txn>) -> Vec<A> {
        self.armed = false;
        if self.unsynced {
            self.sync(ctx);
        }
        std::mem::take(&mut self.waiting)
    }
}

/// Reads a node's log back after a restart: `Ok(None)` when the read failed
/// three times (a [`TxnTimer::Recover`] is set to try again), `Err` when the
/// log is damaged.
pub(crate) fn recover_log(
    ctx: &mut Ctx<'_, Txn>,
    file: &'static str,
) -> Result<Option<Vec<record::Record>>, String> {
    let Some(files) =
        crate::protocols::durable::read_files(ctx, &[file], TxnPoint::DiskReadRetried)
    else {
        ctx.set_timer(RECOVER_RETRY, RECOVER_RETRY, TxnTimer::Recover);
        return Ok(None);
    };
    match record::read_log(&files[0]) {
        Ok(log) => {
            if log.torn > 0 {
                // Cut the torn frame off, or the records appended from now on
                // would follow garbage.
                ctx.sometimes(TxnPoint::TornTailDropped);
                let whole = files[0].len() - log.torn;
                ctx.disk().write(file, files[0][..whole].to_vec());
                ctx.disk().sync();
            }
            Ok(Some(log.records))
        }
        Err(record::LogError::Damaged { offset }) => Err(format!(
            "{file}: a record fails its checksum at byte {offset}"
        )),
        Err(record::LogError::Undecodable { index, error }) => Err(format!(
            "{file}: record {index} passes its checksum but does not decode: {error:?}"
        )),
    }
}

/// How long a restarted node whose log read failed waits before it tries
/// again.
const RECOVER_RETRY: Duration = Duration(10 * crate::sim::MILLISECOND);
