//! `broadcast`: gossip broadcast, after Maelstrom's broadcast workload.
//!
//! Clients broadcast unique integers. The node a client contacts stores the value
//! durably (a CRC-framed record, synced), sends it to every peer, and acknowledges
//! the client once a majority of nodes (itself included) has stored it. So an
//! acknowledged value survives any minority of crashes — even a crash plus a
//! corrupted disk on one node.
//!
//! Messages get lost (drops, partitions, crashed receivers), so two mechanisms
//! retransmit: every `gossip_interval` a node re-sends values still waiting for
//! acknowledgements to the peers that have not confirmed them, and pushes its whole
//! set to one random peer (anti-entropy). After the faults heal, every node
//! therefore converges on the same set.
//!
//! On restart a node reads its log (retrying later if reads keep failing), skips
//! records that fail their checksums (corruption is detected, never served),
//! rewrites the log, and refills the rest from its peers' gossip. Values
//! survive as long as a majority of their copies do: one node's bit rot is
//! repaired from the others, but a single-node cluster cannot survive it.
//!
//! Properties (checked by [`BroadcastChecker`]):
//! - *validity* (always): a node only holds values some client broadcast;
//! - *delivery* (eventually): after the liveness window, every acknowledged value
//!   is held by every node.
//!
//! Planted bug `no_retransmit`: values are sent to peers once and never again (no
//! retransmission, no anti-entropy). Any message lost while a value spreads leaves
//! some node without it forever — the delivery checker catches it.

mod spec;

use crate::check::{Checker, Finding};
use crate::sim::crc32c::{frame, salvage};
use crate::sim::time::{Duration, format_nanos};
use crate::sim::{Client, Ctx, EventType, Node, ProcessId, Protocol, Step, TimerId, Value, World};
use crate::workload::WorkloadConfig;
use rand::Rng as _;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// The broadcast protocol's types.
#[derive(Clone, Copy, Debug)]
pub struct Broadcast;

crate::declare! {
    /// Planted bugs.
    pub enum BroadcastBug {
        /// Values go to peers once; lost messages are never resent, no
        /// anti-entropy.
        NoRetransmit = "no_retransmit",
    }
}

crate::declare! {
    /// The rare situations broadcast must be tested in (*sometimes* points).
    pub enum BroadcastPoint {
        /// Gossip brought a node a value it had missed.
        GossipFilledAGap = "broadcast_gossip_filled_a_gap",
        /// A restarted node read its values back from disk.
        ValuesRecoveredFromDisk = "broadcast_values_recovered_from_disk",
        /// A corrupt or torn record was detected on reading the log.
        CorruptionDetected = "broadcast_corruption_detected",
        /// A failed disk read was retried.
        DiskReadRetried = "broadcast_disk_read_retried",
        /// Reading the log kept failing; the read was put off.
        LogReadDeferred = "broadcast_log_read_deferred",
    }
}

/// The `[protocol]` table for `name = "broadcast"`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BroadcastConfig {
    /// Always `"broadcast"`.
    pub name: String,
    /// Planted bugs to switch on. Default none.
    #[serde(default)]
    pub bugs: Vec<BroadcastBug>,
    /// How often a node retransmits and gossips. Default `"100ms"`.
    #[serde(
        default = "default_gossip_interval",
        deserialize_with = "crate::sim::time::positive"
    )]
    pub gossip_interval: Duration,
}

fn default_gossip_interval() -> Duration {
    Duration::from_millis(100)
}

/// Messages.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum BroadcastMsg {
    /// Client → node: please broadcast `value`.
    Broadcast {
        /// Client's request number.
        request: u64,
        /// The value.
        value: i64,
    },
    /// Node → client: `request` is stored on a majority.
    BroadcastOk {
        /// The request acknowledged.
        request: u64,
    },
    /// Node → node: store `value`.
    Replicate {
        /// The value.
        value: i64,
    },
    /// Node → node: `value` is stored.
    ReplicateAck {
        /// The value.
        value: i64,
    },
    /// Node → node: every value I hold (anti-entropy).
    Gossip {
        /// The sender's values.
        values: Vec<i64>,
    },
}

/// Timers.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum BroadcastTimer {
    /// Node: retransmit and gossip.
    Gossip,
    /// Client: start the next operation.
    NextOperation,
    /// Client: give up on request `0`.
    Timeout(u64),
    /// Node: try reading the log again after failed reads.
    ReadLog,
}

impl Protocol for Broadcast {
    type Msg = BroadcastMsg;
    type Timer = BroadcastTimer;
    type Node = BroadcastNode;
    type Client = BroadcastClient;
}

const LOG: &str = "values.log";

#[derive(Clone, Debug)]
struct Pending {
    client: ProcessId,
    request: u64,
    stored_on: BTreeSet<ProcessId>,
}

/// A broadcast node.
#[derive(Clone, Debug)]
pub struct BroadcastNode {
    retransmit: bool,
    gossip_interval: Duration,
    values: BTreeSet<i64>,
    /// Values in the order this incarnation learned them (checkers read it).
    pub learned: Vec<i64>,
    pending: BTreeMap<i64, Pending>,
}

impl BroadcastNode {
    /// A fresh node.
    pub fn new(config: &BroadcastConfig) -> Self {
        BroadcastNode {
            retransmit: !config.bugs.contains(&BroadcastBug::NoRetransmit),
            gossip_interval: config.gossip_interval,
            values: BTreeSet::new(),
            learned: Vec::new(),
            pending: BTreeMap::new(),
        }
    }

    /// Whether the node holds `value`.
    pub fn holds(&self, value: i64) -> bool {
        self.values.contains(&value)
    }

    /// Stores new values durably (one sync for the batch); returns how many were new.
    fn store(
        &mut self,
        ctx: &mut Ctx<'_, Broadcast>,
        values: impl IntoIterator<Item = i64>,
    ) -> usize {
        let mut record = Vec::new();
        let mut added = 0;
        for value in values {
            if self.values.insert(value) {
                self.learned.push(value);
                frame(&value.to_le_bytes(), &mut record);
                added += 1;
            }
        }
        if added > 0 {
            let disk = ctx.disk();
            disk.append(LOG, record);
            disk.sync();
        }
        added
    }

    /// Rebuilds the value set from the log. A read that keeps failing is retried
    /// later rather than given up on: starting empty would silently drop values
    /// this node may hold the only surviving copy of.
    fn recover(&mut self, ctx: &mut Ctx<'_, Broadcast>) {
        let mut bytes = None;
        for attempt in 0..3 {
            match ctx.disk().read(LOG) {
                Ok(read) => {
                    bytes = Some(read.to_vec());
                    break;
                }
                Err(_) if attempt < 2 => ctx.sometimes(BroadcastPoint::DiskReadRetried),
                Err(_) => {}
            }
        }
        let Some(bytes) = bytes else {
            ctx.sometimes(BroadcastPoint::LogReadDeferred);
            let retry = Duration::from_millis(10);
            ctx.set_timer(retry, Duration(2 * retry.0), BroadcastTimer::ReadLog);
            return;
        };
        let (records, damage) = salvage(&bytes);
        let mut recovered = Vec::with_capacity(records.len());
        for record in &records {
            match <[u8; 8]>::try_from(*record) {
                Ok(raw) => recovered.push(i64::from_le_bytes(raw)),
                // A record of the wrong size with a valid checksum cannot be ours.
                Err(_) => panic!("log record of {} bytes passed its checksum", record.len()),
            }
        }
        if !damage.is_empty() {
            // Keep the records that pass their checksums (plus anything learned
            // since the restart) and rewrite the log so new records follow clean
            // framing; gossip refills what was lost.
            ctx.sometimes(BroadcastPoint::CorruptionDetected);
            let mut clean = Vec::new();
            for value in recovered.iter().chain(&self.learned) {
                frame(&value.to_le_bytes(), &mut clean);
            }
            ctx.disk().write(LOG, clean);
            ctx.disk().sync();
        }
        if !recovered.is_empty() {
            ctx.sometimes(BroadcastPoint::ValuesRecoveredFromDisk);
        }
        for value in recovered {
            if self.values.insert(value) {
                self.learned.push(value);
            }
        }
    }

    fn arm_gossip(&self, ctx: &mut Ctx<'_, Broadcast>) {
        if self.retransmit {
            let jitter = Duration(self.gossip_interval.0 / 5);
            let low = Duration(self.gossip_interval.0 - jitter.0);
            let high = Duration(self.gossip_interval.0 + jitter.0);
            ctx.set_timer(low, high, BroadcastTimer::Gossip);
        }
    }

    fn acknowledge_if_stored(&mut self, ctx: &mut Ctx<'_, Broadcast>, value: i64) {
        let Some(pending) = self.pending.get(&value) else {
            return;
        };
        if pending.stored_on.len() >= crate::protocols::majority(ctx.nodes()) {
            let pending = self.pending.remove(&value).expect("present");
            ctx.send(
                pending.client,
                BroadcastMsg::BroadcastOk {
                    request: pending.request,
                },
            );
        }
    }
}

impl Node<Broadcast> for BroadcastNode {
    fn on_start(&mut self, ctx: &mut Ctx<'_, Broadcast>) {
        self.arm_gossip(ctx);
    }

    fn on_restart(&mut self, ctx: &mut Ctx<'_, Broadcast>) {
        self.recover(ctx);
        self.arm_gossip(ctx);
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Broadcast>, from: ProcessId, msg: BroadcastMsg) {
        match msg {
            BroadcastMsg::Broadcast { request, value } => {
                assert!(from >= ctx.nodes(), "broadcast requests come from clients");
                self.store(ctx, [value]);
                let me = ctx.id();
                let pending = self.pending.entry(value).or_insert_with(|| Pending {
                    client: from,
                    request,
                    stored_on: BTreeSet::new(),
                });
                pending.client = from;
                pending.request = request;
                pending.stored_on.insert(me);
                ctx.broadcast(BroadcastMsg::Replicate { value });
                self.acknowledge_if_stored(ctx, value);
            }
            BroadcastMsg::Replicate { value } => {
                self.store(ctx, [value]);
                ctx.send(from, BroadcastMsg::ReplicateAck { value });
            }
            BroadcastMsg::ReplicateAck { value } => {
                // An ack can outlive the incarnation that asked for it: a node
                // that stored a value, lost its record to a corrupt log, crashed
                // and restarted holds neither the value nor the client's pending
                // request, and the ack changes nothing (scenarios/broadcast/
                // stale_ack.toml). Within one incarnation a pending request's
                // value is always held.
                if let Some(pending) = self.pending.get_mut(&value) {
                    assert!(
                        self.values.contains(&value),
                        "a pending request for value {value}, which this node does not hold"
                    );
                    pending.stored_on.insert(from);
                    self.acknowledge_if_stored(ctx, value);
                }
            }
            BroadcastMsg::Gossip { values } => {
                if self.store(ctx, values) > 0 {
                    ctx.sometimes(BroadcastPoint::GossipFilledAGap);
                }
            }
            BroadcastMsg::BroadcastOk { .. } => {
                panic!("node {} got a client acknowledgement", ctx.id())
            }
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Broadcast>, timer: BroadcastTimer) {
        match timer {
            BroadcastTimer::Gossip => assert!(
                self.retransmit,
                "the no_retransmit bug sets no gossip timers"
            ),
            BroadcastTimer::ReadLog => return self.recover(ctx),
            other => panic!("nodes never set {other:?} timers"),
        }
        for (&value, pending) in &self.pending {
            for peer in 0..ctx.nodes() {
                if !pending.stored_on.contains(&peer) {
                    ctx.send(peer, BroadcastMsg::Replicate { value });
                }
            }
        }
        if ctx.nodes() > 1 && !self.values.is_empty() {
            let others = ctx.nodes() - 1;
            let mut peer = ctx.rng().gen_range(0..others);
            if peer >= ctx.id() {
                peer += 1;
            }
            ctx.send(
                peer,
                BroadcastMsg::Gossip {
                    values: self.values.iter().copied().collect(),
                },
            );
        }
        self.arm_gossip(ctx);
    }
}

/// A broadcast client: one operation at a time, each a fresh unique value sent to
/// a random node.
#[derive(Clone, Debug)]
pub struct BroadcastClient {
    index: usize,
    workload: WorkloadConfig,
    request: u64,
    outstanding: Option<(u64, i64, TimerId)>,
}

impl BroadcastClient {
    /// Client number `index` (0-based among clients).
    pub fn new(index: usize, workload: &WorkloadConfig) -> Self {
        BroadcastClient {
            index,
            workload: workload.clone(),
            request: 0,
            outstanding: None,
        }
    }

    fn think(&self, ctx: &mut Ctx<'_, Broadcast>) {
        let (low, high) = self.workload.think_time();
        ctx.set_timer(low, high, BroadcastTimer::NextOperation);
    }
}

impl Client<Broadcast> for BroadcastClient {
    fn on_start(&mut self, ctx: &mut Ctx<'_, Broadcast>) {
        self.think(ctx);
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Broadcast>, _from: ProcessId, msg: BroadcastMsg) {
        let BroadcastMsg::BroadcastOk { request } = msg else {
            panic!("client got a node-to-node message: {msg:?}");
        };
        // Late or duplicated acknowledgements of earlier requests are ignored.
        if let Some((open, value, timer)) = self.outstanding
            && open == request
        {
            ctx.cancel_timer(timer);
            ctx.ok("broadcast", None, Value::Int(value));
            self.outstanding = None;
            self.think(ctx);
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Broadcast>, timer: BroadcastTimer) {
        match timer {
            BroadcastTimer::NextOperation => {
                if !ctx.workload_open() || self.outstanding.is_some() {
                    return;
                }
                self.request += 1;
                let value = (self.index as i64 + 1) * 1_000_000 + self.request as i64;
                let nodes = ctx.nodes();
                let node = ctx.rng().gen_range(0..nodes);
                ctx.invoke("broadcast", None, Value::Int(value));
                ctx.send(
                    node,
                    BroadcastMsg::Broadcast {
                        request: self.request,
                        value,
                    },
                );
                let timeout = self.workload.op_timeout;
                let timer = ctx.set_timer(timeout, timeout, BroadcastTimer::Timeout(self.request));
                self.outstanding = Some((self.request, value, timer));
            }
            BroadcastTimer::Timeout(request) => {
                if let Some((open, value, _)) = self.outstanding
                    && open == request
                {
                    ctx.info("broadcast", None, Value::Int(value));
                    self.outstanding = None;
                    self.think(ctx);
                }
            }
            BroadcastTimer::Gossip | BroadcastTimer::ReadLog => {
                panic!("clients set no node timers")
            }
        }
    }
}

/// Checks *validity* (always) and *delivery* (eventually). See the module docs.
#[derive(Clone, Debug, Default)]
pub struct BroadcastChecker {
    invoked: BTreeSet<i64>,
    history_seen: usize,
    learned_seen: Vec<usize>,
}

impl BroadcastChecker {
    fn catch_up_history(&mut self, world: &World<Broadcast>) {
        let history = world.history();
        for event in &history[self.history_seen..] {
            if event.kind == EventType::Invoke
                && let Some(value) = event.value.as_int()
            {
                self.invoked.insert(value);
            }
        }
        self.history_seen = history.len();
    }

    fn check_node(&mut self, world: &World<Broadcast>, id: usize) -> Option<Finding> {
        if self.learned_seen.len() < world.node_count() {
            self.learned_seen.resize(world.node_count(), 0);
        }
        let learned = &world.node(id).learned;
        if learned.len() < self.learned_seen[id] {
            self.learned_seen[id] = 0; // the node crashed and restarted
        }
        let start = self.learned_seen[id];
        self.learned_seen[id] = learned.len();
        if start == learned.len() {
            return None;
        }
        self.catch_up_history(world);
        learned[start..]
            .iter()
            .find(|value| !self.invoked.contains(value))
            .map(|value| {
                Finding::always(
                    "validity",
                    format!("node {id} holds value {value}, which no client broadcast"),
                )
            })
    }
}

impl Checker<Broadcast> for BroadcastChecker {
    fn name(&self) -> &'static str {
        "broadcast"
    }

    fn after_step(&mut self, world: &World<Broadcast>, step: Step) -> Option<Finding> {
        match step {
            Step::Delivered { to, .. } if to < world.node_count() => self.check_node(world, to),
            Step::Fault => (0..world.node_count()).find_map(|id| self.check_node(world, id)),
            _ => None,
        }
    }

    fn at_end(&mut self, world: &World<Broadcast>) -> Vec<Finding> {
        let mut findings = Vec::new();
        let acknowledged = world
            .history()
            .iter()
            .filter(|event| event.kind == EventType::Ok)
            .filter_map(|event| {
                event
                    .value
                    .as_int()
                    .map(|value| (value, event.time, event.process))
            });
        for (value, time, process) in acknowledged {
            let missing: Vec<usize> = (0..world.node_count())
                .filter(|&id| !world.node(id).holds(value))
                .collect();
            if !missing.is_empty() {
                findings.push(Finding::eventually("delivery", format!(
                        "value {value} (acknowledged to client {process} at {}) is missing on nodes {missing:?} at the end of the liveness window",
                        format_nanos(time)
                    )));
            }
        }
        if findings.len() > 5 {
            let more = findings.len() - 5;
            findings.truncate(5);
            findings.push(Finding::eventually(
                "delivery",
                format!("... and {more} more acknowledged values missing somewhere"),
            ));
        }
        findings
    }
}
