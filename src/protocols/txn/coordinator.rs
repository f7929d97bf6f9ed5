//! The coordinator of two-phase commit, with presumed abort (see the module
//! documentation of [`super`]).

use super::record::Record;
use super::{
    ForcedLog, Op, ReadResult, Txn, TxnBug, TxnConfig, TxnId, TxnMsg, TxnPoint, TxnTimer,
    recover_log,
};
use crate::sim::{Ctx, ProcessId, TimerId};
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

const LOG_FILE: &str = "coordinator.log";

/// What the coordinator decided (appended, never changed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CoordinatorEvent {
    /// A decision was made and sent: commit (after its record was synced,
    /// unless a bug sends first) or abort.
    Decided {
        /// The transaction.
        txn: TxnId,
        /// Commit, else abort.
        commit: bool,
        /// The participants (node ids).
        participants: Vec<ProcessId>,
    },
    /// A shard asked about a transaction with no commit record here, and was
    /// told abort (presumed abort).
    PresumedAbort {
        /// The transaction.
        txn: TxnId,
    },
    /// The log is damaged: the coordinator serves nothing.
    Damaged {
        /// What was wrong.
        why: String,
    },
}

/// A transaction collecting its votes.
#[derive(Clone, Debug)]
pub(super) struct Voting {
    pub(super) client: ProcessId,
    /// Participant node → the positions of its reads in the transaction.
    pub(super) participants: BTreeMap<ProcessId, Vec<usize>>,
    pub(super) votes: BTreeMap<ProcessId, Vec<ReadResult>>,
    pub(super) ops: usize,
    pub(super) timer: TimerId,
    /// The decision is on its way (a commit record waiting for its sync, a
    /// proposal waiting for consensus).
    pub(super) committing: bool,
}

impl Voting {
    /// Splits a transaction over its shards (nodes `first_shard..`): each
    /// participant's operations to prepare, and the voting state.
    pub(super) fn begin(
        client: ProcessId,
        ops: &[Op],
        first_shard: usize,
        shards: usize,
        timer: TimerId,
    ) -> (Voting, BTreeMap<ProcessId, Vec<Op>>) {
        let mut parts: BTreeMap<ProcessId, Vec<Op>> = BTreeMap::new();
        let mut participants: BTreeMap<ProcessId, Vec<usize>> = BTreeMap::new();
        for (position, op) in ops.iter().enumerate() {
            let node = first_shard + (op.key() % shards as u64) as usize;
            parts.entry(node).or_default().push(op.clone());
            let reads = participants.entry(node).or_default();
            if matches!(op, Op::Read { .. }) {
                reads.push(position);
            }
        }
        let voting = Voting {
            client,
            participants,
            votes: BTreeMap::new(),
            ops: ops.len(),
            timer,
            committing: false,
        };
        (voting, parts)
    }

    /// Records a vote: `Some(true)` when every participant has voted yes,
    /// `Some(false)` on a no, `None` while votes are missing (or the vote
    /// does not count: a duplicate, a stranger, a decision already made).
    pub(super) fn vote(
        &mut self,
        from: ProcessId,
        yes: bool,
        reads: Vec<ReadResult>,
    ) -> Option<bool> {
        if self.committing
            || !self.participants.contains_key(&from)
            || self.votes.contains_key(&from)
        {
            return None;
        }
        if !yes {
            return Some(false);
        }
        self.votes.insert(from, reads);
        (self.votes.len() == self.participants.len()).then_some(true)
    }

    /// The participants' node ids.
    pub(super) fn nodes(&self) -> Vec<ProcessId> {
        self.participants.keys().copied().collect()
    }

    /// The reads, in the transaction's operation order.
    pub(super) fn reads(&self) -> Vec<ReadResult> {
        let mut reads: Vec<(usize, ReadResult)> = Vec::with_capacity(self.ops);
        for (node, positions) in &self.participants {
            let Some(answers) = self.votes.get(node) else {
                continue; // taken as yes (planted bug): no reads
            };
            // The shard answers its reads in the order of its part.
            reads.extend(positions.iter().copied().zip(answers.iter().cloned()));
        }
        reads.sort_by_key(|(at, _)| *at);
        reads.into_iter().map(|(_, read)| read).collect()
    }
}

/// A committed transaction waiting for its acknowledgements.
#[derive(Clone, Debug)]
struct Committed {
    participants: Vec<ProcessId>,
    acked: BTreeSet<ProcessId>,
    /// When the decision was last sent (local time).
    sent: u64,
}

/// What waits for the log's sync: sending a commit.
#[derive(Clone, Debug)]
struct SendCommit(TxnId);

/// The coordinator.
#[derive(Clone, Debug)]
pub struct Coordinator {
    config: Rc<TxnConfig>,
    /// Shard nodes are `first_shard..first_shard + shards`.
    first_shard: usize,
    shards: usize,
    /// This incarnation (its clock when it started).
    epoch: u64,
    voting: BTreeMap<TxnId, Voting>,
    unacked: BTreeMap<TxnId, Committed>,
    /// Every transaction with a commit record (ended or not).
    committed: BTreeSet<TxnId>,
    /// Transactions aborted in this incarnation (duplicate begins are ignored).
    aborted: BTreeSet<TxnId>,
    log: ForcedLog<SendCommit>,
    ready: bool,
    damaged: bool,
    resend_armed: bool,
    events: Vec<CoordinatorEvent>,
    /// Commit-protocol messages sent and received (prepare, vote, decision,
    /// ack), for the cost per transaction.
    messages: u64,
}

impl Coordinator {
    pub(super) fn new(config: Rc<TxnConfig>, first_shard: usize, shards: usize) -> Self {
        let log = ForcedLog::new(LOG_FILE, config.force_delay);
        Coordinator {
            config,
            first_shard,
            shards,
            epoch: 0,
            voting: BTreeMap::new(),
            unacked: BTreeMap::new(),
            committed: BTreeSet::new(),
            aborted: BTreeSet::new(),
            log,
            ready: false,
            damaged: false,
            resend_armed: false,
            events: Vec::new(),
            messages: 0,
        }
    }

    /// What it decided, in order, in this incarnation.
    pub fn events(&self) -> &[CoordinatorEvent] {
        &self.events
    }

    /// Transactions still collecting votes or waiting for acknowledgements.
    pub fn open(&self) -> impl Iterator<Item = TxnId> + '_ {
        self.voting.keys().chain(self.unacked.keys()).copied()
    }

    /// Records forced, syncs made, and commit-protocol messages sent and
    /// received, in this incarnation.
    pub fn costs(&self) -> (u64, u64, u64) {
        (self.log.forced, self.log.syncs, self.messages)
    }

    pub(super) fn on_start(&mut self, ctx: &mut Ctx<'_, Txn>) {
        self.epoch = ctx.now();
        self.ready = true;
    }

    pub(super) fn on_restart(&mut self, ctx: &mut Ctx<'_, Txn>) {
        self.epoch = ctx.now();
        self.recover(ctx);
    }

    fn recover(&mut self, ctx: &mut Ctx<'_, Txn>) {
        let records = match recover_log(ctx, LOG_FILE) {
            Ok(Some(records)) => records,
            Ok(None) => return, // retried on TxnTimer::Recover
            Err(why) => {
                self.damaged = true;
                self.events.push(CoordinatorEvent::Damaged { why });
                return;
            }
        };
        for record in records {
            match record {
                Record::Commit { txn, participants } => {
                    self.committed.insert(txn);
                    self.unacked.insert(
                        txn,
                        Committed {
                            participants: participants.iter().map(|&p| p as ProcessId).collect(),
                            acked: BTreeSet::new(),
                            sent: 0,
                        },
                    );
                }
                Record::End { txn } => {
                    self.unacked.remove(&txn);
                }
                Record::Prepare { .. } | Record::Decided { .. } => {}
            }
        }
        self.ready = true;
        let txns: Vec<TxnId> = self.unacked.keys().copied().collect();
        for txn in txns {
            ctx.sometimes(TxnPoint::DecisionResentAfterRecovery);
            self.send_commit(ctx, txn);
        }
        self.arm_resend(ctx);
    }

    /// Whether it serves (recovered, and its log is sound).
    pub fn serving(&self) -> bool {
        self.ready && !self.damaged
    }

    fn arm_resend(&mut self, ctx: &mut Ctx<'_, Txn>) {
        if !self.resend_armed && !self.unacked.is_empty() {
            self.resend_armed = true;
            let every = self.config.resend_interval;
            ctx.set_timer(every, every, TxnTimer::Resend);
        }
    }

    fn send(&mut self, ctx: &mut Ctx<'_, Txn>, to: ProcessId, msg: TxnMsg) {
        self.messages += 1;
        ctx.send(to, msg);
    }

    /// Tells participant `to` the decision on `txn`.
    fn decision(&mut self, ctx: &mut Ctx<'_, Txn>, to: ProcessId, txn: TxnId, commit: bool) {
        let epoch = self.epoch;
        self.send(ctx, to, TxnMsg::Decision { txn, commit, epoch });
    }

    /// Sends the commit decision to every participant that has not
    /// acknowledged it.
    fn send_commit(&mut self, ctx: &mut Ctx<'_, Txn>, txn: TxnId) {
        let now = ctx.now();
        let Some(committed) = self.unacked.get_mut(&txn) else {
            return;
        };
        committed.sent = now;
        let waiting: Vec<ProcessId> = committed
            .participants
            .iter()
            .filter(|p| !committed.acked.contains(p))
            .copied()
            .collect();
        for to in waiting {
            self.decision(ctx, to, txn, true);
        }
    }

    pub(super) fn on_message(&mut self, ctx: &mut Ctx<'_, Txn>, from: ProcessId, msg: TxnMsg) {
        if !self.serving() {
            return;
        }
        match msg {
            TxnMsg::Begin { txn, ops } => self.on_begin(ctx, from, txn, &ops),
            TxnMsg::Vote { txn, yes, reads } => {
                self.messages += 1;
                self.on_vote(ctx, from, txn, yes, reads);
            }
            TxnMsg::Ack { txn } => {
                self.messages += 1;
                self.on_ack(ctx, from, txn);
            }
            TxnMsg::Query { txn } => self.on_query(ctx, from, txn),
            other => panic!("the coordinator got {other:?} from {from}"),
        }
    }

    fn on_begin(&mut self, ctx: &mut Ctx<'_, Txn>, client: ProcessId, txn: TxnId, ops: &[Op]) {
        if self.voting.contains_key(&txn)
            || self.committed.contains(&txn)
            || self.aborted.contains(&txn)
        {
            return; // a duplicate
        }
        let timeout = self.config.vote_timeout;
        let timer = ctx.set_timer(timeout, timeout, TxnTimer::VoteTimeout(txn));
        let (voting, parts) = Voting::begin(client, ops, self.first_shard, self.shards, timer);
        let epoch = self.epoch;
        for (to, part) in parts {
            self.messages += 1;
            ctx.send(
                to,
                TxnMsg::Prepare {
                    txn,
                    ops: part,
                    epoch,
                },
            );
        }
        self.voting.insert(txn, voting);
    }

    fn on_vote(
        &mut self,
        ctx: &mut Ctx<'_, Txn>,
        from: ProcessId,
        txn: TxnId,
        yes: bool,
        reads: Vec<ReadResult>,
    ) {
        let Some(voting) = self.voting.get_mut(&txn) else {
            return; // decided already
        };
        match voting.vote(from, yes, reads) {
            Some(true) => self.commit(ctx, txn),
            Some(false) => self.abort(ctx, txn),
            None => {}
        }
    }

    /// Every vote is yes (or taken as yes): force the commit record, then
    /// send the decision.
    fn commit(&mut self, ctx: &mut Ctx<'_, Txn>, txn: TxnId) {
        let Some(voting) = self.voting.get_mut(&txn) else {
            return;
        };
        voting.committing = true;
        ctx.cancel_timer(voting.timer);
        let record = Record::Commit {
            txn,
            participants: voting.participants.keys().map(|&p| p as u64).collect(),
        };
        if self.config.has(TxnBug::CommitBeforeLog) {
            self.log.write(ctx, &record);
            self.decided_commit(ctx, txn);
            let _ = self.log.after(ctx, SendCommit(txn));
        } else if let Some(SendCommit(txn)) = self.log.force(ctx, &record, SendCommit(txn)) {
            self.decided_commit(ctx, txn);
        }
    }

    /// The commit record is durable (or a bug did not wait): tell everyone.
    fn decided_commit(&mut self, ctx: &mut Ctx<'_, Txn>, txn: TxnId) {
        let Some(voting) = self.voting.remove(&txn) else {
            return;
        };
        let participants: Vec<ProcessId> = voting.participants.keys().copied().collect();
        self.committed.insert(txn);
        self.events.push(CoordinatorEvent::Decided {
            txn,
            commit: true,
            participants: participants.clone(),
        });
        self.unacked.insert(
            txn,
            Committed {
                participants,
                acked: BTreeSet::new(),
                sent: 0,
            },
        );
        self.send_commit(ctx, txn);
        self.arm_resend(ctx);
        ctx.send(
            voting.client,
            TxnMsg::Done {
                txn,
                committed: true,
                reads: voting.reads(),
            },
        );
    }

    fn abort(&mut self, ctx: &mut Ctx<'_, Txn>, txn: TxnId) {
        let Some(voting) = self.voting.remove(&txn) else {
            return;
        };
        ctx.cancel_timer(voting.timer);
        self.aborted.insert(txn);
        let participants: Vec<ProcessId> = voting.participants.keys().copied().collect();
        self.events.push(CoordinatorEvent::Decided {
            txn,
            commit: false,
            participants: participants.clone(),
        });
        for to in participants {
            self.decision(ctx, to, txn, false);
        }
        ctx.send(
            voting.client,
            TxnMsg::Done {
                txn,
                committed: false,
                reads: Vec::new(),
            },
        );
    }

    fn on_ack(&mut self, ctx: &mut Ctx<'_, Txn>, from: ProcessId, txn: TxnId) {
        let Some(committed) = self.unacked.get_mut(&txn) else {
            return;
        };
        committed.acked.insert(from);
        if committed.acked.len() == committed.participants.len() {
            self.unacked.remove(&txn);
            // Not forced: losing it only means resending the commit once more.
            self.log.write(ctx, &Record::End { txn });
        }
    }

    fn on_query(&mut self, ctx: &mut Ctx<'_, Txn>, from: ProcessId, txn: TxnId) {
        let commit = self.committed.contains(&txn);
        if !commit {
            if self.voting.contains_key(&txn) {
                return; // still deciding: the decision will come
            }
            ctx.sometimes(TxnPoint::PresumedAbortAnswered);
            self.events.push(CoordinatorEvent::PresumedAbort { txn });
        }
        self.decision(ctx, from, txn, commit);
    }

    pub(super) fn on_timer(&mut self, ctx: &mut Ctx<'_, Txn>, timer: TxnTimer) {
        match timer {
            TxnTimer::Flush => {
                for SendCommit(txn) in self.log.flush(ctx) {
                    self.decided_commit(ctx, txn);
                }
            }
            TxnTimer::VoteTimeout(txn) => {
                let Some(voting) = self.voting.get(&txn) else {
                    return;
                };
                if voting.committing {
                    return;
                }
                if self.config.has(TxnBug::TimeoutAsYes) {
                    self.commit(ctx, txn);
                } else {
                    ctx.sometimes(TxnPoint::VoteTimeoutAbort);
                    self.abort(ctx, txn);
                }
            }
            TxnTimer::Resend => {
                self.resend_armed = false;
                let due = ctx.now().saturating_sub(self.config.resend_interval.0);
                let txns: Vec<TxnId> = self
                    .unacked
                    .iter()
                    .filter(|(_, committed)| committed.sent <= due)
                    .map(|(&txn, _)| txn)
                    .collect();
                for txn in txns {
                    ctx.sometimes(TxnPoint::CommitResent);
                    self.send_commit(ctx, txn);
                }
                self.arm_resend(ctx);
            }
            TxnTimer::Recover => self.recover(ctx),
            other => panic!("the coordinator got timer {other:?}"),
        }
    }
}
