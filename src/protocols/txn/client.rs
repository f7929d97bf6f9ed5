//! A txn client: one transaction at a time, bank transfers and reads or
//! list-append transactions, recorded in the history.

use super::{
    CommitMode, Op, ReadResult, Txn, TxnConfig, TxnId, TxnMsg, TxnPoint, TxnTimer, TxnWorkload,
};
use crate::sim::history::Value;
use crate::sim::rng::{between, chance};
use crate::sim::time::Duration;
use crate::sim::{Client, Ctx, ProcessId, TimerId};
use crate::workload::WorkloadConfig;
use std::rc::Rc;

/// The history's operation names.
pub const TRANSFER: &str = "transfer";
/// A whole-bank read.
pub const READ: &str = "read";
/// A list-append transaction.
pub const TXN: &str = "txn";

#[derive(Clone, Debug)]
struct Outstanding {
    txn: TxnId,
    f: &'static str,
    ops: Vec<Op>,
    timer: TimerId,
}

/// One client.
#[derive(Clone, Debug)]
pub struct TxnClient {
    config: Rc<TxnConfig>,
    index: u32,
    coordinator: ProcessId,
    think: (Duration, Duration),
    timeout: Duration,
    seq: u64,
    appended: i64,
    clients: i64,
    outstanding: Option<Outstanding>,
}

impl TxnClient {
    pub(super) fn new(
        config: Rc<TxnConfig>,
        index: usize,
        clients: usize,
        workload: &WorkloadConfig,
    ) -> Self {
        TxnClient {
            config,
            index: index as u32,
            coordinator: 0,
            think: workload.think_time(),
            timeout: workload.op_timeout,
            seq: 0,
            appended: 0,
            clients: clients.max(1) as i64,
            outstanding: None,
        }
    }

    fn think(&mut self, ctx: &mut Ctx<'_, Txn>) {
        ctx.set_timer(self.think.0, self.think.1, TxnTimer::Think);
    }

    /// Draws the next transaction: its history name, its operations and the
    /// invocation's value.
    fn draw(&mut self, ctx: &mut Ctx<'_, Txn>) -> (&'static str, Vec<Op>, Value) {
        let config = Rc::clone(&self.config);
        match config.workload {
            TxnWorkload::Bank => {
                if chance(ctx.rng(), config.read_fraction) {
                    let ops = (0..config.accounts).map(|key| Op::Read { key }).collect();
                    return (READ, ops, Value::Nil);
                }
                let from = between(ctx.rng(), 0, config.accounts - 1);
                let mut to = between(ctx.rng(), 0, config.accounts - 2);
                if to >= from {
                    to += 1;
                }
                let amount = between(ctx.rng(), 1, config.max_transfer as u64) as i64;
                let ops = vec![
                    Op::Add {
                        key: from,
                        delta: -amount,
                    },
                    Op::Add {
                        key: to,
                        delta: amount,
                    },
                ];
                let value = Value::List(vec![
                    Value::Int(from as i64),
                    Value::Int(to as i64),
                    Value::Int(amount),
                ]);
                (TRANSFER, ops, value)
            }
            TxnWorkload::ListAppend => {
                let count = between(ctx.rng(), 1, config.max_ops as u64) as usize;
                let mut ops = Vec::with_capacity(count);
                for _ in 0..count {
                    let key = between(ctx.rng(), 0, config.keys - 1);
                    if chance(ctx.rng(), 0.5) {
                        ops.push(Op::Read { key });
                    } else {
                        // Unique across clients: this client's count, interleaved.
                        self.appended += 1;
                        let value = self.appended * self.clients + i64::from(self.index);
                        ops.push(Op::Append { key, value });
                    }
                }
                let value = mops(&ops, None);
                (TXN, ops, value)
            }
        }
    }

    fn begin(&mut self, ctx: &mut Ctx<'_, Txn>) {
        self.seq += 1;
        let txn = TxnId {
            client: self.index,
            seq: self.seq,
        };
        let (f, ops, value) = self.draw(ctx);
        ctx.invoke(f, None, value);
        ctx.send(
            self.coordinator,
            TxnMsg::Begin {
                txn,
                ops: ops.clone(),
            },
        );
        let timer = ctx.set_timer(self.timeout, self.timeout, TxnTimer::OpTimeout(txn));
        self.outstanding = Some(Outstanding { txn, f, ops, timer });
        self.arm_retry(ctx, txn);
    }

    /// paxos_commit: how long a client waits for an answer before it tries
    /// another coordinator (a vote timeout and an election).
    fn arm_retry(&mut self, ctx: &mut Ctx<'_, Txn>, txn: TxnId) {
        if self.config.mode == CommitMode::PaxosCommit {
            let wait = Duration(self.config.vote_timeout.0 + self.config.election_timeout.max.0);
            ctx.set_timer(wait, wait, TxnTimer::Retry(txn));
        }
    }

    /// paxos_commit: sends the outstanding transaction to `to` (or the next
    /// coordinator) again.
    fn resend(&mut self, ctx: &mut Ctx<'_, Txn>, to: Option<ProcessId>) {
        let Some(outstanding) = &self.outstanding else {
            return;
        };
        let coordinators = self.config.coordinators();
        self.coordinator = to
            .filter(|&to| to < coordinators)
            .unwrap_or((self.coordinator + 1) % coordinators);
        let msg = TxnMsg::Begin {
            txn: outstanding.txn,
            ops: outstanding.ops.clone(),
        };
        ctx.send(self.coordinator, msg);
    }

    fn done(&mut self, ctx: &mut Ctx<'_, Txn>, txn: TxnId, committed: bool, reads: &[ReadResult]) {
        let Some(outstanding) = self.outstanding.take_if(|o| o.txn == txn) else {
            return; // an answer to a transaction already given up
        };
        ctx.cancel_timer(outstanding.timer);
        let value = match outstanding.f {
            READ => Value::List(
                reads
                    .iter()
                    .map(|read| Value::Int(read.values.first().copied().unwrap_or(0)))
                    .collect(),
            ),
            TRANSFER => transfer_value(&outstanding.ops),
            _ => mops(&outstanding.ops, committed.then_some(reads)),
        };
        if committed {
            ctx.ok(outstanding.f, None, value);
        } else {
            ctx.fail(outstanding.f, None, value);
        }
        self.think(ctx);
    }
}

fn transfer_value(ops: &[Op]) -> Value {
    match ops {
        [Op::Add { key: from, delta }, Op::Add { key: to, .. }] => Value::List(vec![
            Value::Int(*from as i64),
            Value::Int(*to as i64),
            Value::Int(-delta),
        ]),
        _ => Value::Nil,
    }
}

/// A list-append transaction as a history value: `[["append", k, v], ["r",
/// k, list-or-nil], ...]`, reads filled from `reads` (in order) when given.
fn mops(ops: &[Op], reads: Option<&[ReadResult]>) -> Value {
    let mut reads = reads.map(|reads| reads.iter());
    Value::List(
        ops.iter()
            .map(|op| match op {
                Op::Append { key, value } => Value::List(vec![
                    Value::Str("append".into()),
                    Value::Int(*key as i64),
                    Value::Int(*value),
                ]),
                Op::Read { key } | Op::Add { key, .. } => {
                    let seen = reads
                        .as_mut()
                        .and_then(|reads| reads.next())
                        .map_or(Value::Nil, |read| {
                            Value::List(read.values.iter().map(|&v| Value::Int(v)).collect())
                        });
                    Value::List(vec![Value::Str("r".into()), Value::Int(*key as i64), seen])
                }
            })
            .collect(),
    )
}

impl Client<Txn> for TxnClient {
    fn on_start(&mut self, ctx: &mut Ctx<'_, Txn>) {
        self.think(ctx);
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Txn>, from: ProcessId, msg: TxnMsg) {
        match msg {
            TxnMsg::Done {
                txn,
                committed,
                reads,
            } => self.done(ctx, txn, committed, &reads),
            TxnMsg::Redirect { txn, hint } => {
                if self.outstanding.as_ref().is_some_and(|o| o.txn == txn) {
                    ctx.sometimes(TxnPoint::ClientRedirected);
                    // A coordinator that knows no leader: try another after a
                    // pause, rather than spin while they elect one.
                    match hint.filter(|&hint| hint != from) {
                        Some(hint) => self.resend(ctx, Some(hint)),
                        None => {
                            let wait = self.config.heartbeat_interval;
                            ctx.set_timer(wait, wait, TxnTimer::Retry(txn));
                        }
                    }
                }
            }
            other => panic!("a txn client got {other:?} from {from}"),
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Txn>, timer: TxnTimer) {
        match timer {
            TxnTimer::Think => {
                // Once the workload closes the client stays idle.
                if self.outstanding.is_none() && ctx.workload_open() {
                    self.begin(ctx);
                }
            }
            TxnTimer::OpTimeout(txn) => {
                if let Some(outstanding) = self.outstanding.take_if(|o| o.txn == txn) {
                    let value = match outstanding.f {
                        READ => Value::Nil,
                        TRANSFER => transfer_value(&outstanding.ops),
                        _ => mops(&outstanding.ops, None),
                    };
                    ctx.info(outstanding.f, None, value);
                    self.think(ctx);
                }
            }
            TxnTimer::Retry(txn) => {
                if self.outstanding.as_ref().is_some_and(|o| o.txn == txn) {
                    self.resend(ctx, None);
                    self.arm_retry(ctx, txn);
                }
            }
            other => panic!("a txn client got timer {other:?}"),
        }
    }
}
