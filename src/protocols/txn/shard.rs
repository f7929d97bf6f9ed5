//! A shard: its part of the store, its lock table, its prepared transactions
//! and its log (see the module documentation of [`super`]).

use super::locks::{LockTable, Mode};
use super::record::{Record, Write};
use super::{
    CommitMode, ForcedLog, Op, ReadResult, Txn, TxnBug, TxnConfig, TxnId, TxnMsg, TxnPoint,
    TxnTimer, TxnWorkload, recover_log,
};
use crate::sim::{Ctx, ProcessId};
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

const LOG_FILE: &str = "shard.log";

/// What a shard did that the checker must see (appended, never changed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ShardEvent {
    /// It voted (a yes after its prepare record was synced, unless a bug
    /// votes first).
    Voted {
        /// The transaction.
        txn: TxnId,
        /// The vote.
        yes: bool,
    },
    /// It applied a decision on a transaction it had prepared.
    Applied {
        /// The transaction.
        txn: TxnId,
        /// Commit, else abort.
        commit: bool,
    },
    /// It was told a transaction committed that it holds no prepare of (it
    /// cannot make the writes it would have promised).
    CommitUnprepared {
        /// The transaction.
        txn: TxnId,
        /// What it knew instead: `Some(false)` it had aborted it (voted no,
        /// or dropped it at a restart), `None` nothing.
        known: Option<bool>,
    },
    /// It restarted and read its log back; these transactions were in doubt.
    Recovered {
        /// The in-doubt transactions it keeps locked.
        in_doubt: Vec<TxnId>,
        /// In-doubt transactions it dropped (planted bug).
        dropped: Vec<TxnId>,
    },
    /// Its log is damaged: it serves nothing.
    Damaged {
        /// What was wrong.
        why: String,
    },
}

#[derive(Clone, Debug)]
struct Prepared {
    coordinator: ProcessId,
    writes: Vec<Write>,
    reads: Vec<ReadResult>,
    /// The vote was sent.
    voted: bool,
    /// The coordinator's incarnation it prepared under (`None`: recovered
    /// from the log).
    epoch: Option<u64>,
    /// When it started to wait for the decision (local time).
    since: u64,
}

/// What waits for the log's sync.
#[derive(Clone, Debug)]
enum Action {
    Vote(TxnId),
    Ack { txn: TxnId, to: ProcessId },
}

/// One shard.
#[derive(Clone, Debug)]
pub struct Shard {
    config: Rc<TxnConfig>,
    registers: BTreeMap<u64, i64>,
    lists: BTreeMap<u64, Vec<i64>>,
    locks: LockTable,
    prepared: BTreeMap<TxnId, Prepared>,
    /// Decided transactions (and ones it voted no on: aborted).
    outcomes: BTreeMap<TxnId, bool>,
    log: ForcedLog<Action>,
    ready: bool,
    damaged: bool,
    query_armed: bool,
    events: Vec<ShardEvent>,
}

impl Shard {
    pub(super) fn new(config: Rc<TxnConfig>, index: usize, shards: usize) -> Self {
        let mut registers = BTreeMap::new();
        if config.workload == TxnWorkload::Bank {
            for account in
                (0..config.accounts).filter(|key| (key % shards as u64) as usize == index)
            {
                registers.insert(account, config.opening_balance(account));
            }
        }
        let log = ForcedLog::new(LOG_FILE, config.force_delay);
        Shard {
            config,
            registers,
            lists: BTreeMap::new(),
            locks: LockTable::new(),
            prepared: BTreeMap::new(),
            outcomes: BTreeMap::new(),
            log,
            ready: false,
            damaged: false,
            query_armed: false,
            events: Vec::new(),
        }
    }

    /// What it did, in order, in this incarnation.
    pub fn events(&self) -> &[ShardEvent] {
        &self.events
    }

    /// The bank balances it holds.
    pub fn balances(&self) -> &BTreeMap<u64, i64> {
        &self.registers
    }

    /// Transactions prepared and not decided here.
    pub fn in_doubt(&self) -> impl Iterator<Item = TxnId> + '_ {
        self.prepared.keys().copied()
    }

    /// Whether it holds any lock.
    pub fn holds_locks(&self) -> bool {
        !self.locks.is_empty()
    }

    /// Whether it serves (recovered, and its log is sound).
    pub fn serving(&self) -> bool {
        self.ready && !self.damaged
    }

    /// Records forced (something waited on their sync) and syncs made.
    pub fn forced(&self) -> (u64, u64) {
        (self.log.forced, self.log.syncs)
    }

    pub(super) fn on_start(&mut self, ctx: &mut Ctx<'_, Txn>) {
        self.ready = true;
        self.arm_query(ctx);
    }

    pub(super) fn on_restart(&mut self, ctx: &mut Ctx<'_, Txn>) {
        self.recover(ctx);
    }

    fn recover(&mut self, ctx: &mut Ctx<'_, Txn>) {
        let records = match recover_log(ctx, LOG_FILE) {
            Ok(Some(records)) => records,
            Ok(None) => return, // retried on TxnTimer::Recover
            Err(why) => {
                self.damaged = true;
                self.events.push(ShardEvent::Damaged { why });
                return;
            }
        };
        let mut locks_of = BTreeMap::new();
        for record in records {
            match record {
                Record::Prepare {
                    txn,
                    coordinator,
                    shared,
                    exclusive,
                    writes,
                } => {
                    locks_of.insert(txn, (shared, exclusive));
                    self.prepared.insert(
                        txn,
                        Prepared {
                            coordinator: coordinator as ProcessId,
                            writes,
                            reads: Vec::new(),
                            voted: true,
                            epoch: None,
                            since: ctx.now(),
                        },
                    );
                }
                Record::Decided { txn, commit } => {
                    if let Some(prepared) = self.prepared.remove(&txn)
                        && commit
                    {
                        self.apply(&prepared.writes);
                    }
                    self.outcomes.insert(txn, commit);
                }
                Record::Commit { .. } | Record::End { .. } => {}
            }
        }
        let mut in_doubt = Vec::new();
        let mut dropped = Vec::new();
        let txns: Vec<TxnId> = self.prepared.keys().copied().collect();
        for txn in txns {
            if self.config.has(TxnBug::RecoverySkipsInDoubt) {
                self.prepared.remove(&txn);
                self.outcomes.insert(txn, false);
                dropped.push(txn);
                continue;
            }
            let (shared, exclusive) = &locks_of[&txn];
            let wanted: Vec<(u64, Mode)> = shared
                .iter()
                .map(|&key| (key, Mode::Shared))
                .chain(exclusive.iter().map(|&key| (key, Mode::Exclusive)))
                .collect();
            // Prepared transactions held these locks together before the
            // crash, so they are granted again (a planted bug that released
            // them early may have let two overlap: keep what is granted).
            let _ = self.locks.acquire(txn, &wanted);
            ctx.sometimes(TxnPoint::RecoveredInDoubt);
            in_doubt.push(txn);
        }
        self.events
            .push(ShardEvent::Recovered { in_doubt, dropped });
        self.ready = true;
        self.query(ctx, true);
        self.arm_query(ctx);
    }

    fn apply(&mut self, writes: &[Write]) {
        for write in writes {
            match *write {
                Write::Set { key, value } => {
                    self.registers.insert(key, value);
                }
                Write::Append { key, value } => self.lists.entry(key).or_default().push(value),
            }
        }
    }

    fn arm_query(&mut self, ctx: &mut Ctx<'_, Txn>) {
        if !self.query_armed {
            self.query_armed = true;
            let every = self.config.query_interval;
            ctx.set_timer(every, every, TxnTimer::Query);
        }
    }

    /// Asks the coordinator about every transaction it voted yes on and has
    /// waited on for a query interval (all of them when `all`).
    fn query(&mut self, ctx: &mut Ctx<'_, Txn>, all: bool) {
        let now = ctx.now();
        let wait = self.config.query_interval.0;
        let due: Vec<(TxnId, ProcessId)> = self
            .prepared
            .iter()
            .filter(|(_, p)| p.voted && (all || now.saturating_sub(p.since) >= wait))
            .map(|(&txn, p)| (txn, p.coordinator))
            .collect();
        let replicas = match self.config.mode {
            CommitMode::TwoPhase => 0,
            CommitMode::PaxosCommit => self.config.coordinators(),
        };
        for (txn, coordinator) in due {
            ctx.sometimes(TxnPoint::InDoubtQuery);
            if replicas == 0 {
                ctx.send(coordinator, TxnMsg::Query { txn });
            } else {
                // Any replica knows a decision it applied; the leader decides
                // what none has.
                for replica in 0..replicas {
                    ctx.send(replica, TxnMsg::Query { txn });
                }
            }
        }
    }

    pub(super) fn on_message(&mut self, ctx: &mut Ctx<'_, Txn>, from: ProcessId, msg: TxnMsg) {
        if !self.serving() {
            return;
        }
        match msg {
            TxnMsg::Prepare { txn, ops, epoch } => self.on_prepare(ctx, from, txn, &ops, epoch),
            TxnMsg::Decision { txn, commit, epoch } => {
                self.on_decision(ctx, from, txn, commit, epoch)
            }
            other => panic!("a shard got {other:?} from {from}"),
        }
    }

    fn on_prepare(
        &mut self,
        ctx: &mut Ctx<'_, Txn>,
        from: ProcessId,
        txn: TxnId,
        ops: &[Op],
        epoch: u64,
    ) {
        if let Some(prepared) = self.prepared.get(&txn) {
            // A duplicate: the vote stands (once it is durable). A
            // transaction recovered from the log has no reads to send: the
            // coordinator's vote timeout has long aborted it, or its vote is in.
            if prepared.voted && prepared.epoch.is_some() {
                let reads = prepared.reads.clone();
                ctx.send(
                    from,
                    TxnMsg::Vote {
                        txn,
                        yes: true,
                        reads,
                    },
                );
            }
            return;
        }
        if let Some(&outcome) = self.outcomes.get(&txn) {
            if !outcome {
                self.vote_no(ctx, from, txn);
            }
            return;
        }
        let mut shared = BTreeSet::new();
        let mut exclusive = BTreeSet::new();
        for op in ops {
            match op {
                Op::Read { key } => {
                    if !self.config.has(TxnBug::ReadWithoutLock) {
                        shared.insert(*key);
                    }
                }
                Op::Add { key, .. } | Op::Append { key, .. } => {
                    exclusive.insert(*key);
                }
            }
        }
        let shared: Vec<u64> = shared.difference(&exclusive).copied().collect();
        let exclusive: Vec<u64> = exclusive.into_iter().collect();
        let wanted: Vec<(u64, Mode)> = shared
            .iter()
            .map(|&key| (key, Mode::Shared))
            .chain(exclusive.iter().map(|&key| (key, Mode::Exclusive)))
            .collect();
        if self.locks.acquire(txn, &wanted).is_err() {
            ctx.sometimes(TxnPoint::LockConflict);
            self.outcomes.insert(txn, false);
            self.vote_no(ctx, from, txn);
            return;
        }
        // Evaluate under the locks: reads see committed state and this
        // transaction's own earlier writes.
        let mut balances: BTreeMap<u64, i64> = BTreeMap::new();
        let mut appended: BTreeMap<u64, Vec<i64>> = BTreeMap::new();
        let mut reads = Vec::new();
        let mut writes = Vec::new();
        for op in ops {
            match *op {
                Op::Read { key } => {
                    let values = match self.config.workload {
                        TxnWorkload::Bank => vec![
                            balances
                                .get(&key)
                                .or(self.registers.get(&key))
                                .copied()
                                .unwrap_or(0),
                        ],
                        TxnWorkload::ListAppend => {
                            let mut list = self.lists.get(&key).cloned().unwrap_or_default();
                            list.extend(appended.get(&key).into_iter().flatten());
                            list
                        }
                    };
                    reads.push(ReadResult { key, values });
                }
                Op::Add { key, delta } => {
                    let old = balances
                        .get(&key)
                        .or(self.registers.get(&key))
                        .copied()
                        .unwrap_or(0);
                    let new = old.saturating_add(delta);
                    if new < 0 {
                        ctx.sometimes(TxnPoint::Overdraft);
                        self.locks.release(txn);
                        self.outcomes.insert(txn, false);
                        self.vote_no(ctx, from, txn);
                        return;
                    }
                    balances.insert(key, new);
                }
                Op::Append { key, value } => {
                    appended.entry(key).or_default().push(value);
                    writes.push(Write::Append { key, value });
                }
            }
        }
        writes.extend(
            balances
                .into_iter()
                .map(|(key, value)| Write::Set { key, value }),
        );
        let record = Record::Prepare {
            txn,
            coordinator: from as u64,
            shared,
            exclusive,
            writes: writes.clone(),
        };
        self.prepared.insert(
            txn,
            Prepared {
                coordinator: from,
                writes,
                reads,
                voted: false,
                epoch: Some(epoch),
                since: ctx.now(),
            },
        );
        if self.config.has(TxnBug::VoteWithoutDurablePrepare) {
            self.log.write(ctx, &record);
            self.vote_yes(ctx, txn);
            // The record still syncs with the next force (the vote is out).
            if let Some(action) = self.log.after(ctx, Action::Vote(txn)) {
                self.act(ctx, action);
            }
        } else if let Some(action) = self.log.force(ctx, &record, Action::Vote(txn)) {
            self.act(ctx, action);
        }
        if self.config.has(TxnBug::ReleaseLocksAtPrepare) {
            self.locks.release(txn);
        }
    }

    fn vote_no(&mut self, ctx: &mut Ctx<'_, Txn>, to: ProcessId, txn: TxnId) {
        self.events.push(ShardEvent::Voted { txn, yes: false });
        ctx.send(
            to,
            TxnMsg::Vote {
                txn,
                yes: false,
                reads: Vec::new(),
            },
        );
    }

    fn vote_yes(&mut self, ctx: &mut Ctx<'_, Txn>, txn: TxnId) {
        let Some(prepared) = self.prepared.get_mut(&txn) else {
            return; // decided (an abort came) while the prepare synced
        };
        if prepared.voted {
            return;
        }
        prepared.voted = true;
        prepared.since = ctx.now();
        let to = prepared.coordinator;
        let reads = prepared.reads.clone();
        self.events.push(ShardEvent::Voted { txn, yes: true });
        ctx.send(
            to,
            TxnMsg::Vote {
                txn,
                yes: true,
                reads,
            },
        );
    }

    fn act(&mut self, ctx: &mut Ctx<'_, Txn>, action: Action) {
        match action {
            Action::Vote(txn) => self.vote_yes(ctx, txn),
            Action::Ack { txn, to } => ctx.send(to, TxnMsg::Ack { txn }),
        }
    }

    fn on_decision(
        &mut self,
        ctx: &mut Ctx<'_, Txn>,
        from: ProcessId,
        txn: TxnId,
        commit: bool,
        epoch: u64,
    ) {
        if let Some(prepared) = self.prepared.remove(&txn) {
            if prepared.voted && prepared.epoch != Some(epoch) {
                ctx.sometimes(TxnPoint::InDoubtAtCoordinatorCrash);
            }
            if commit {
                self.apply(&prepared.writes);
            }
            self.locks.release(txn);
            self.outcomes.insert(txn, commit);
            self.events.push(ShardEvent::Applied { txn, commit });
            let record = Record::Decided { txn, commit };
            if commit {
                if let Some(action) = self.log.force(ctx, &record, Action::Ack { txn, to: from }) {
                    self.act(ctx, action);
                }
            } else {
                // Presumed abort: an abort needs neither a forced record nor
                // an acknowledgement.
                self.log.write(ctx, &record);
            }
            return;
        }
        match (self.outcomes.get(&txn).copied(), commit) {
            (Some(true), true) => {
                // A resent commit: acknowledge again, once its record is durable.
                if let Some(action) = self.log.after(ctx, Action::Ack { txn, to: from }) {
                    self.act(ctx, action);
                }
            }
            (known, true) => {
                self.events
                    .push(ShardEvent::CommitUnprepared { txn, known });
                ctx.send(from, TxnMsg::Ack { txn });
            }
            (Some(_), false) => {}
            (None, false) => {
                ctx.sometimes(TxnPoint::AbortBeforePrepare);
                self.outcomes.insert(txn, false);
            }
        }
    }

    pub(super) fn on_timer(&mut self, ctx: &mut Ctx<'_, Txn>, timer: TxnTimer) {
        match timer {
            TxnTimer::Flush => {
                for action in self.log.flush(ctx) {
                    self.act(ctx, action);
                }
            }
            TxnTimer::Query => {
                self.query_armed = false;
                if self.serving() {
                    self.query(ctx, false);
                    self.arm_query(ctx);
                }
            }
            TxnTimer::Recover => self.recover(ctx),
            other => panic!("a shard got timer {other:?}"),
        }
    }
}
