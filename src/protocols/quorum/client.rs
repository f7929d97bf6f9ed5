//! The quorum store's client: one operation at a time, gets and puts on
//! random keys through a random node (any node coordinates), each attempted
//! once. A get that returns siblings records them all (a list); the client
//! keeps each key's context from its last get and writes with it, which is
//! how siblings are merged (Dynamo's read-your-context-then-write).
//!
//! An operation is sent once and never resent: a put resent through another
//! coordinator would be a second write with a second stamp, which could land
//! after writes that began once the first had finished. A put with no answer
//! (or answered "unavailable") is recorded as unknown (`info`): some replicas
//! may hold it. A get with none is recorded as failed.

use super::version::VectorClock;
use super::{Quorum, QuorumConfig, QuorumMsg, QuorumPoint, QuorumTimer, key_name};
use crate::sim::{Client, Ctx, ProcessId, TimerId, Value};
use crate::workload::WorkloadConfig;
use rand::Rng as _;
use std::collections::BTreeMap;
use std::rc::Rc;

#[derive(Clone, Debug)]
struct Open {
    seq: u64,
    key: u64,
    /// The value of a put; `None` for a get.
    value: Option<i64>,
    /// The node coordinating it.
    target: usize,
    give_up: TimerId,
}

/// The quorum store client. See the module documentation.
#[derive(Clone, Debug)]
pub struct QuorumClient {
    config: Rc<QuorumConfig>,
    index: usize,
    workload: WorkloadConfig,
    seq: u64,
    open: Option<Open>,
    contexts: BTreeMap<u64, VectorClock>,
    /// The PBS probe: whether the next operation is the read that follows
    /// an acknowledged write.
    probe_read: bool,
}

impl QuorumClient {
    /// Client number `index` (0-based among clients).
    pub fn new(config: Rc<QuorumConfig>, index: usize, workload: &WorkloadConfig) -> Self {
        QuorumClient {
            config,
            index,
            workload: workload.clone(),
            seq: 0,
            open: None,
            contexts: BTreeMap::new(),
            probe_read: false,
        }
    }

    /// The node coordinating the open operation, if one is open.
    pub fn target(&self) -> Option<usize> {
        self.open.as_ref().map(|open| open.target)
    }

    fn think(&self, ctx: &mut Ctx<'_, Quorum>) {
        let (low, high) = self.workload.think_time();
        ctx.set_timer(low, high, QuorumTimer::Next);
    }

    fn start(&mut self, ctx: &mut Ctx<'_, Quorum>) {
        self.seq += 1;
        let seq = self.seq;
        let (key, get) = if self.config.probe_after.is_some() {
            // The PBS probe: write key 0, then read it.
            (0, std::mem::take(&mut self.probe_read))
        } else {
            let key = ctx.rng().gen_range(0..self.config.keys);
            (key, ctx.rng().gen_bool(self.config.get_fraction))
        };
        let nodes = ctx.nodes();
        let target = ctx.rng().gen_range(0..nodes);
        let name = key_name(key);
        let value = if get {
            ctx.invoke("get", Some(&name), Value::Nil);
            ctx.send(target, QuorumMsg::Get { seq, key });
            None
        } else {
            let value = match self.config.value_range {
                0 => QuorumConfig::unique_value(self.index, seq),
                range => ctx.rng().gen_range(0..range) as i64,
            };
            ctx.invoke("put", Some(&name), Value::Int(value));
            let context = self.contexts.get(&key).cloned().unwrap_or_default();
            ctx.send(
                target,
                QuorumMsg::Put {
                    seq,
                    key,
                    value,
                    context,
                },
            );
            Some(value)
        };
        let timeout = self.workload.op_timeout;
        let give_up = ctx.set_timer(timeout, timeout, QuorumTimer::GiveUp(seq));
        self.open = Some(Open {
            seq,
            key,
            value,
            target,
            give_up,
        });
    }

    /// Ends the open operation `seq` without an answer.
    fn unanswered(&mut self, ctx: &mut Ctx<'_, Quorum>, seq: u64) {
        let Some(open) = self.open.take_if(|open| open.seq == seq) else {
            return;
        };
        ctx.cancel_timer(open.give_up);
        let name = key_name(open.key);
        match open.value {
            None => ctx.fail("get", Some(&name), Value::Nil),
            Some(value) => ctx.info("put", Some(&name), Value::Int(value)),
        }
        self.think(ctx);
    }
}

impl Client<Quorum> for QuorumClient {
    fn on_start(&mut self, ctx: &mut Ctx<'_, Quorum>) {
        // The PBS probe is client 0's alone.
        if self.config.probe_after.is_none() || self.index == 0 {
            self.think(ctx);
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Quorum>, _from: ProcessId, msg: QuorumMsg) {
        match msg {
            QuorumMsg::GetOk {
                seq,
                values,
                context,
            } => {
                let Some(open) = self
                    .open
                    .take_if(|open| open.seq == seq && open.value.is_none())
                else {
                    return;
                };
                ctx.cancel_timer(open.give_up);
                let value = match values.as_slice() {
                    [] => Value::Nil,
                    [one] => Value::Int(*one),
                    many => {
                        ctx.sometimes(QuorumPoint::SiblingsReturned);
                        Value::List(many.iter().map(|&v| Value::Int(v)).collect())
                    }
                };
                self.contexts.insert(open.key, context);
                ctx.ok("get", Some(&key_name(open.key)), value);
                self.think(ctx);
            }
            QuorumMsg::PutOk { seq } => {
                let Some(open) = self.open.take_if(|open| open.seq == seq) else {
                    return;
                };
                ctx.cancel_timer(open.give_up);
                let value = open.value.expect("a put");
                ctx.ok("put", Some(&key_name(open.key)), Value::Int(value));
                match self.config.probe_after {
                    Some(after) => {
                        self.probe_read = true;
                        ctx.set_timer(after, after, QuorumTimer::Next);
                    }
                    None => self.think(ctx),
                }
            }
            QuorumMsg::Unavailable { seq } => self.unanswered(ctx, seq),
            _ => {}
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Quorum>, timer: QuorumTimer) {
        match timer {
            QuorumTimer::Next if ctx.workload_open() && self.open.is_none() => self.start(ctx),
            QuorumTimer::GiveUp(seq) => self.unanswered(ctx, seq),
            _ => {}
        }
    }
}
