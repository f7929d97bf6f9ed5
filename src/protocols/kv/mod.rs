//! The replicated key/value service that Raft and Paxos both serve: its commands,
//! its state machine with at-most-once sessions, and the client that drives it.
//!
//! ## The state machine
//! A map from string keys to values with four operations: `get`, `put`, `append`
//! (string concatenation) and `cas` (compare-and-set). Every write carries the
//! client's id and a per-client sequence number. The store remembers, per client,
//! the last sequence number it applied and its result (a *session*), so a retried
//! request that was already applied is answered from the session instead of being
//! applied twice: every operation takes effect at most once, however often the
//! client resends it and however often the network duplicates it.
//!
//! ## The client
//! One operation at a time. A client sends its request to the node it believes
//! leads, follows `NotLeader` redirects (or tries the next node when there is no
//! hint), resends the same request (same sequence number) after `retry_interval`,
//! and gives up after the workload's `op_timeout`, recording the outcome as unknown
//! (`info`) — the request may still be applied later, which the linearizability
//! checker allows. A timed-out read is recorded as failed: reads change nothing.

pub mod spec;

use super::codec::{DecodeError, Decoder, Encoder};
use crate::sim::time::Duration;
use crate::sim::{Client, Ctx, ProcessId, Protocol, TimerId, Value};
use crate::workload::WorkloadConfig;
use rand::Rng as _;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::marker::PhantomData;

/// One key/value operation.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum KvOp {
    /// Read a key.
    Get(String),
    /// Overwrite a key.
    Put(String, i64),
    /// Concatenate a string to a key's string value.
    Append(String, String),
    /// Set the key to `.2` if its value is `.1`.
    Cas(String, Value, i64),
}

impl KvOp {
    /// The key the operation touches.
    pub fn key(&self) -> &str {
        match self {
            KvOp::Get(key) | KvOp::Put(key, _) | KvOp::Append(key, _) | KvOp::Cas(key, _, _) => key,
        }
    }

    /// The history name (`get`, `put`, `append`, `cas`).
    pub fn name(&self) -> &'static str {
        match self {
            KvOp::Get(_) => "get",
            KvOp::Put(..) => "put",
            KvOp::Append(..) => "append",
            KvOp::Cas(..) => "cas",
        }
    }

    /// The history argument.
    pub fn argument(&self) -> Value {
        match self {
            KvOp::Get(_) => Value::Nil,
            KvOp::Put(_, value) => Value::Int(*value),
            KvOp::Append(_, text) => Value::Str(text.clone()),
            KvOp::Cas(_, from, to) => Value::List(vec![from.clone(), Value::Int(*to)]),
        }
    }

    /// Whether it is a read.
    pub fn is_read(&self) -> bool {
        matches!(self, KvOp::Get(_))
    }

    fn encode(&self, out: &mut Encoder) {
        match self {
            KvOp::Get(key) => out.u8(0).str(key),
            KvOp::Put(key, value) => out.u8(1).str(key).i64(*value),
            KvOp::Append(key, text) => out.u8(2).str(key).str(text),
            KvOp::Cas(key, from, to) => out.u8(3).str(key).value(from).i64(*to),
        };
    }

    fn decode(input: &mut Decoder<'_>) -> Result<KvOp, DecodeError> {
        Ok(match input.u8()? {
            0 => KvOp::Get(input.str()?),
            1 => KvOp::Put(input.str()?, input.i64()?),
            2 => KvOp::Append(input.str()?, input.str()?),
            3 => KvOp::Cas(input.str()?, input.value()?, input.i64()?),
            tag => return Err(DecodeError(format!("unknown kv op tag {tag}"))),
        })
    }
}

/// A write as it travels through the log: who asked, which of their requests, what.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct KvCommand {
    /// The client's process id.
    pub client: u32,
    /// The client's sequence number for this operation.
    pub seq: u64,
    /// The operation.
    pub op: KvOp,
}

impl KvCommand {
    /// Appends the command's encoding to `out`.
    pub fn encode(&self, out: &mut Encoder) {
        out.u64(u64::from(self.client)).u64(self.seq);
        self.op.encode(out);
    }

    /// Reads a command written by [`KvCommand::encode`].
    pub fn decode(input: &mut Decoder<'_>) -> Result<KvCommand, DecodeError> {
        let client = input.u64()?;
        let client = u32::try_from(client)
            .map_err(|_| DecodeError(format!("client id {client} out of range")))?;
        Ok(KvCommand {
            client,
            seq: input.u64()?,
            op: KvOp::decode(input)?,
        })
    }
}

/// What an applied operation returned.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum KvResult {
    /// A read's value (`nil` when absent).
    Value(Value),
    /// A put or append took effect.
    Done,
    /// A cas took effect.
    Swapped,
    /// A cas found this value instead of the expected one; nothing changed.
    Mismatch(Value),
    /// The request is older than the client's latest: the client moved on.
    Stale,
}

impl KvResult {
    fn encode(&self, out: &mut Encoder) {
        match self {
            KvResult::Value(value) => out.u8(0).value(value),
            KvResult::Done => out.u8(1),
            KvResult::Swapped => out.u8(2),
            KvResult::Mismatch(value) => out.u8(3).value(value),
            KvResult::Stale => out.u8(4),
        };
    }

    fn decode(input: &mut Decoder<'_>) -> Result<KvResult, DecodeError> {
        Ok(match input.u8()? {
            0 => KvResult::Value(input.value()?),
            1 => KvResult::Done,
            2 => KvResult::Swapped,
            3 => KvResult::Mismatch(input.value()?),
            4 => KvResult::Stale,
            tag => return Err(DecodeError(format!("unknown kv result tag {tag}"))),
        })
    }
}

/// The key/value state machine with at-most-once sessions. See the module docs.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct KvStore {
    data: BTreeMap<String, Value>,
    sessions: BTreeMap<u32, (u64, KvResult)>,
}

impl KvStore {
    /// An empty store.
    pub fn new() -> Self {
        KvStore::default()
    }

    /// The value of `key` (`nil` when absent).
    pub fn get(&self, key: &str) -> Value {
        self.data.get(key).cloned().unwrap_or(Value::Nil)
    }

    /// The answer already given to `client`'s request `seq`, if it was applied.
    pub fn answered(&self, client: u32, seq: u64) -> Option<&KvResult> {
        match self.sessions.get(&client) {
            Some((last, result)) if *last == seq => Some(result),
            _ => None,
        }
    }

    /// Applies a command once: a repeat of the client's latest request returns the
    /// remembered result, an older request returns [`KvResult::Stale`].
    pub fn apply(&mut self, command: &KvCommand) -> KvResult {
        if let Some((last, result)) = self.sessions.get(&command.client) {
            if command.seq == *last {
                return result.clone();
            }
            if command.seq < *last {
                return KvResult::Stale;
            }
        }
        let result = self.apply_unchecked(&command.op);
        self.sessions
            .insert(command.client, (command.seq, result.clone()));
        result
    }

    /// Applies an operation with no de-duplication (planted bugs use this).
    pub fn apply_unchecked(&mut self, op: &KvOp) -> KvResult {
        match op {
            KvOp::Get(key) => KvResult::Value(self.get(key)),
            KvOp::Put(key, value) => {
                self.data.insert(key.clone(), Value::Int(*value));
                KvResult::Done
            }
            KvOp::Append(key, text) => {
                let joined = match self.data.get(key) {
                    Some(Value::Str(existing)) => format!("{existing}{text}"),
                    Some(other) => {
                        // Appending to a number is refused, as the model refuses it.
                        return KvResult::Mismatch(other.clone());
                    }
                    None => text.clone(),
                };
                self.data.insert(key.clone(), Value::Str(joined));
                KvResult::Done
            }
            KvOp::Cas(key, from, to) => {
                let current = self.get(key);
                if current == *from {
                    self.data.insert(key.clone(), Value::Int(*to));
                    KvResult::Swapped
                } else {
                    KvResult::Mismatch(current)
                }
            }
        }
    }

    /// Appends the store's encoding to `out`.
    pub fn encode(&self, out: &mut Encoder) {
        out.u64(self.data.len() as u64);
        for (key, value) in &self.data {
            out.str(key).value(value);
        }
        out.u64(self.sessions.len() as u64);
        for (client, (seq, result)) in &self.sessions {
            out.u64(u64::from(*client)).u64(*seq);
            result.encode(out);
        }
    }

    /// Reads a store written by [`KvStore::encode`].
    pub fn decode(input: &mut Decoder<'_>) -> Result<KvStore, DecodeError> {
        let mut store = KvStore::new();
        for _ in 0..input.u64()? {
            let key = input.str()?;
            store.data.insert(key, input.value()?);
        }
        for _ in 0..input.u64()? {
            let client = input.u64()? as u32;
            let seq = input.u64()?;
            store
                .sessions
                .insert(client, (seq, KvResult::decode(input)?));
        }
        Ok(store)
    }
}

/// Which operations clients choose among.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KvOpKind {
    /// Reads.
    Get,
    /// Blind writes of unique integers.
    Put,
    /// Appends of short unique strings.
    Append,
    /// Compare-and-set from the last value the client saw.
    Cas,
}

/// The client mix: how many keys, which operations, how long to wait per attempt.
#[derive(Clone, Debug, PartialEq)]
pub struct KvMix {
    /// Keys are `k0` .. `k{keys-1}`.
    pub keys: u32,
    /// Operations drawn uniformly from this list.
    pub ops: Vec<KvOpKind>,
    /// Resend an unanswered request (to the next node) after this long.
    pub retry_interval: Duration,
}

/// A reply to a client request.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct KvReply {
    /// The request answered.
    pub seq: u64,
    /// What happened.
    pub outcome: KvOutcome,
}

/// How a node answered.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum KvOutcome {
    /// The operation was applied (or the read served) with this result.
    Done(KvResult),
    /// This node does not lead; try the hinted node (or another one).
    NotLeader(Option<ProcessId>),
}

/// The client's timers.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum KvTimer {
    /// Start the next operation.
    Next,
    /// Resend request `.0` (attempt `.1`) to another node.
    Retry(u64, u32),
    /// Give up on request `.0`.
    GiveUp(u64),
}

/// A protocol serving the key/value service: how its messages and timers carry
/// the client's requests, replies and timers.
pub trait KvProtocol: Protocol {
    /// Wraps a client request.
    fn request(seq: u64, op: KvOp) -> Self::Msg;
    /// Unwraps a reply to a client, if `msg` is one.
    fn reply(msg: Self::Msg) -> Option<KvReply>;
    /// Wraps a client timer.
    fn timer(timer: KvTimer) -> Self::Timer;
    /// Unwraps a client timer, if `timer` is one.
    fn client_timer(timer: Self::Timer) -> Option<KvTimer>;
}

/// Implements [`KvProtocol`] for a protocol whose message type has the variants
/// `Request { seq, op }` and `Reply(KvReply)` and whose timer type has
/// `Client(KvTimer)`: the glue every kv service would otherwise write out.
macro_rules! kv_protocol {
    ($protocol:ty, $msg:ident, $timer:ident) => {
        impl $crate::protocols::kv::KvProtocol for $protocol {
            fn request(seq: u64, op: $crate::protocols::kv::KvOp) -> $msg {
                $msg::Request { seq, op }
            }

            fn reply(msg: $msg) -> Option<$crate::protocols::kv::KvReply> {
                match msg {
                    $msg::Reply(reply) => Some(reply),
                    _ => None,
                }
            }

            fn timer(timer: $crate::protocols::kv::KvTimer) -> $timer {
                $timer::Client(timer)
            }

            fn client_timer(timer: $timer) -> Option<$crate::protocols::kv::KvTimer> {
                match timer {
                    $timer::Client(timer) => Some(timer),
                    _ => None,
                }
            }
        }
    };
}
pub(crate) use kv_protocol;

#[derive(Clone, Debug)]
struct Open {
    seq: u64,
    op: KvOp,
    attempt: u32,
    retry: TimerId,
    give_up: TimerId,
}

/// The key/value client. See the module documentation.
#[derive(Debug)]
pub struct KvClient<P> {
    index: usize,
    workload: WorkloadConfig,
    mix: KvMix,
    seq: u64,
    target: ProcessId,
    open: Option<Open>,
    /// Last value this client saw per key (cas compares against it).
    seen: BTreeMap<String, Value>,
    /// Never starts an operation: the process belongs to a test driver, which
    /// speaks to the nodes in its name (replies it gets are ignored).
    idle: bool,
    _protocol: PhantomData<fn() -> P>,
}

impl<P> Clone for KvClient<P> {
    fn clone(&self) -> Self {
        KvClient {
            index: self.index,
            workload: self.workload.clone(),
            mix: self.mix.clone(),
            seq: self.seq,
            target: self.target,
            open: self.open.clone(),
            seen: self.seen.clone(),
            idle: self.idle,
            _protocol: PhantomData,
        }
    }
}

impl<P: KvProtocol> KvClient<P> {
    /// Client number `index` (0-based among clients).
    pub fn new(index: usize, workload: &WorkloadConfig, mix: &KvMix) -> Self {
        assert!(!mix.ops.is_empty() && mix.keys > 0, "empty kv mix");
        KvClient {
            index,
            workload: workload.clone(),
            mix: mix.clone(),
            seq: 0,
            target: 0,
            open: None,
            seen: BTreeMap::new(),
            idle: false,
            _protocol: PhantomData,
        }
    }

    /// A client that never starts an operation: its process id is a test
    /// driver's, which sends requests in its name and ignores the replies.
    pub fn idle(index: usize, workload: &WorkloadConfig, mix: &KvMix) -> Self {
        KvClient {
            idle: true,
            ..KvClient::new(index, workload, mix)
        }
    }

    fn think(&self, ctx: &mut Ctx<'_, P>) {
        let (low, high) = self.workload.think_time();
        ctx.set_timer(low, high, P::timer(KvTimer::Next));
    }

    fn choose(&mut self, ctx: &mut Ctx<'_, P>) -> KvOp {
        let kind = self.mix.ops[ctx.rng().gen_range(0..self.mix.ops.len())];
        let key = format!("k{}", ctx.rng().gen_range(0..self.mix.keys));
        // Unique written values: the client's number and its sequence number.
        let unique = (self.index as i64 + 1) * 1_000_000_000 + self.seq as i64;
        match kind {
            KvOpKind::Get => KvOp::Get(key),
            KvOpKind::Put => KvOp::Put(key, unique),
            KvOpKind::Append => KvOp::Append(key, format!("{}.{} ", self.index, self.seq)),
            KvOpKind::Cas => {
                let from = self.seen.get(&key).cloned().unwrap_or(Value::Nil);
                KvOp::Cas(key, from, unique)
            }
        }
    }

    fn send(&mut self, ctx: &mut Ctx<'_, P>) {
        let open = self.open.as_mut().expect("an open operation");
        open.attempt += 1;
        let (seq, attempt) = (open.seq, open.attempt);
        ctx.send(self.target, P::request(seq, open.op.clone()));
        let retry = self.mix.retry_interval;
        let timer = ctx.set_timer(retry, retry, P::timer(KvTimer::Retry(seq, attempt)));
        self.open.as_mut().expect("open").retry = timer;
    }

    fn next_target(&mut self, ctx: &mut Ctx<'_, P>) {
        self.target = (self.target + 1) % ctx.nodes();
    }

    fn finish(&mut self, ctx: &mut Ctx<'_, P>, result: KvResult) {
        let Some(open) = self.open.take() else {
            return;
        };
        ctx.cancel_timer(open.retry);
        ctx.cancel_timer(open.give_up);
        let key = Some(open.op.key());
        let f = open.op.name();
        match (&open.op, result) {
            (KvOp::Get(k), KvResult::Value(value)) => {
                self.seen.insert(k.clone(), value.clone());
                ctx.ok(f, key, value);
            }
            (KvOp::Put(k, value), KvResult::Done) => {
                self.seen.insert(k.clone(), Value::Int(*value));
                ctx.ok(f, key, open.op.argument());
            }
            (KvOp::Append(k, _), KvResult::Done) => {
                self.seen.remove(k);
                ctx.ok(f, key, open.op.argument());
            }
            (KvOp::Cas(k, _, to), KvResult::Swapped) => {
                self.seen.insert(k.clone(), Value::Int(*to));
                ctx.ok(f, key, open.op.argument());
            }
            (KvOp::Cas(k, _, _) | KvOp::Append(k, _), KvResult::Mismatch(current)) => {
                self.seen.insert(k.clone(), current);
                ctx.fail(f, key, open.op.argument());
            }
            (_, KvResult::Stale) => {
                // Only a request older than the latest is stale, and a client has
                // one request open at a time: its latest.
                panic!(
                    "client {} got a stale answer for its open request {}",
                    self.index, open.seq
                );
            }
            (op, result) => panic!("{result:?} is not an answer to {op:?}"),
        }
        self.think(ctx);
    }
}

impl<P: KvProtocol> Client<P> for KvClient<P> {
    fn on_start(&mut self, ctx: &mut Ctx<'_, P>) {
        self.target = self.index % ctx.nodes();
        if !self.idle {
            self.think(ctx);
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, P>, from: ProcessId, msg: P::Msg) {
        let reply = P::reply(msg).expect("clients only receive replies");
        let Some(open) = &self.open else {
            return; // a late or duplicated answer
        };
        if open.seq != reply.seq {
            return;
        }
        match reply.outcome {
            KvOutcome::Done(result) => {
                self.target = from;
                self.finish(ctx, result);
            }
            KvOutcome::NotLeader(hint) => {
                ctx.cancel_timer(open.retry);
                match hint {
                    Some(leader) if leader != from && leader < ctx.nodes() => {
                        self.target = leader;
                        self.send(ctx);
                    }
                    _ => {
                        // No leader known: back off briefly, then try the next node.
                        self.next_target(ctx);
                        let open = self.open.as_mut().expect("open");
                        open.attempt += 1;
                        let (seq, attempt) = (open.seq, open.attempt);
                        let low = Duration(self.mix.retry_interval.0 / 4);
                        let high = Duration(self.mix.retry_interval.0 / 2);
                        let timer =
                            ctx.set_timer(low, high, P::timer(KvTimer::Retry(seq, attempt)));
                        self.open.as_mut().expect("open").retry = timer;
                    }
                }
            }
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, P>, timer: P::Timer) {
        match P::client_timer(timer).expect("clients only set client timers") {
            KvTimer::Next => {
                if !ctx.workload_open() || self.open.is_some() {
                    return;
                }
                self.seq += 1;
                let op = self.choose(ctx);
                ctx.invoke(op.name(), Some(op.key()), op.argument());
                let timeout = self.workload.op_timeout;
                let give_up = ctx.set_timer(timeout, timeout, P::timer(KvTimer::GiveUp(self.seq)));
                self.open = Some(Open {
                    seq: self.seq,
                    op,
                    attempt: 0,
                    retry: give_up,
                    give_up,
                });
                self.send(ctx);
            }
            KvTimer::Retry(seq, attempt) => {
                let current = self
                    .open
                    .as_ref()
                    .is_some_and(|open| open.seq == seq && open.attempt == attempt);
                if current {
                    self.next_target(ctx);
                    self.send(ctx);
                }
            }
            KvTimer::GiveUp(seq) => {
                let Some(open) = self.open.take_if(|open| open.seq == seq) else {
                    return;
                };
                ctx.cancel_timer(open.retry);
                let key = Some(open.op.key());
                if open.op.is_read() {
                    ctx.fail(open.op.name(), key, open.op.argument());
                } else {
                    self.seen.remove(open.op.key());
                    ctx.info(open.op.name(), key, open.op.argument());
                }
                self.think(ctx);
            }
        }
    }
}

/// The defaults Raft's and Paxos's `[protocol]` tables share, so that the two
/// serve the same service the same way unless a scenario says otherwise.
pub mod defaults {
    use super::KvOpKind;
    use crate::sim::time::{Duration, DurationRange};

    /// Default `election_timeout`.
    pub fn election_timeout() -> DurationRange {
        DurationRange {
            min: Duration::from_millis(150),
            max: Duration::from_millis(300),
        }
    }
    /// Default `heartbeat_interval`.
    pub fn heartbeat_interval() -> Duration {
        Duration::from_millis(50)
    }
    /// Default `snapshot_every`.
    pub fn snapshot_every() -> u64 {
        100
    }
    /// Default `max_batch`.
    pub fn max_batch() -> usize {
        64
    }
    /// Default `keys`.
    pub fn keys() -> u32 {
        3
    }
    /// Default `ops`.
    pub fn ops() -> Vec<KvOpKind> {
        vec![
            KvOpKind::Get,
            KvOpKind::Put,
            KvOpKind::Append,
            KvOpKind::Cas,
        ]
    }
    /// Default `retry_interval`.
    pub fn retry_interval() -> Duration {
        Duration::from_millis(200)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn command(client: u32, seq: u64, op: KvOp) -> KvCommand {
        KvCommand { client, seq, op }
    }

    #[test]
    fn sessions_apply_each_request_at_most_once() {
        let mut store = KvStore::new();
        let append = command(7, 1, KvOp::Append("k".into(), "a".into()));
        assert_eq!(store.apply(&append), KvResult::Done);
        assert_eq!(store.apply(&append), KvResult::Done);
        assert_eq!(store.get("k"), Value::Str("a".into()));
        let cas = command(7, 2, KvOp::Cas("k".into(), Value::Nil, 5));
        assert_eq!(
            store.apply(&cas),
            KvResult::Mismatch(Value::Str("a".into()))
        );
        assert_eq!(store.apply(&append), KvResult::Stale);
        assert_eq!(
            store.answered(7, 2),
            Some(&KvResult::Mismatch(Value::Str("a".into())))
        );
    }

    #[test]
    fn the_store_round_trips_through_its_encoding() {
        let mut store = KvStore::new();
        store.apply(&command(1, 1, KvOp::Put("a".into(), 3)));
        store.apply(&command(2, 4, KvOp::Append("b".into(), "xy".into())));
        store.apply(&command(2, 5, KvOp::Cas("a".into(), Value::Int(3), 9)));
        let mut out = Encoder::new();
        store.encode(&mut out);
        let mut input = Decoder::new(&out.bytes);
        assert_eq!(KvStore::decode(&mut input).unwrap(), store);
        assert!(input.is_empty());
        let op = KvOp::Cas("k".into(), Value::Nil, -1);
        let mut out = Encoder::new();
        command(3, 9, op.clone()).encode(&mut out);
        let decoded = KvCommand::decode(&mut Decoder::new(&out.bytes)).unwrap();
        assert_eq!(decoded, command(3, 9, op));
    }
}
