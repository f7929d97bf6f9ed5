//! The lab tester's `config.go` on our world: who is connected, `Start`, the
//! committed-count oracle `nCommitted`, `crash1`/`start1`, the network
//! switches, the RPC and byte counters and the persisted size.
//!
//! **Command indexes.** The lab numbers commands 1, 2, 3, … in the order they
//! sit in the log, and its Rafts append nothing else. Ours appends a no-op when
//! a leader takes office (so that it can commit entries of earlier terms and
//! serve reads), which shifts log positions by the number of elections. The
//! tester therefore speaks in *command indexes*: the position of a command
//! among the non-no-op entries. A node's command index for a log index counts
//! the commands it applied up to there (`applied_values`, which snapshots keep)
//! plus the commands in its log beyond. Payload commands (`one_bytes`) are key/
//! value appends in the tester's name; they are counted from the log, which is
//! why a script that submits payloads must not compact (`snapshot_every = 0`).

use super::super::node::RaftNode;
use super::super::storage::{LOG, STATE};
use super::super::{Command, Raft, RaftMsg};
use super::ops::{Proc, TaskId};
use crate::protocols::kv::{KvCommand, KvOp};
use crate::sim::network::{Latency, LongDelay, NetworkConfig, Probability};
use crate::sim::rng::Rng;
use crate::sim::time::{Duration, MILLISECOND};
use crate::sim::{Fault, ProcessId, Role, Target, TimedFault, World};
use rand::Rng as _;
use std::collections::BTreeMap;
use std::fmt;

/// A command as the tester submits and compares it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LabCmd {
    /// `Start(value)`: a bare integer (`RaftMsg::Start`).
    Value(i64),
    /// A payload of random bytes (a key/value append in the tester's name),
    /// known by its number.
    Payload(u64),
}

impl fmt::Display for LabCmd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LabCmd::Value(value) => write!(f, "{value}"),
            LabCmd::Payload(id) => write!(f, "payload#{id}"),
        }
    }
}

impl LabCmd {
    /// What `wait` hands back: the value (a payload's number for a payload).
    pub fn as_int(self) -> i64 {
        match self {
            LabCmd::Value(value) => value,
            LabCmd::Payload(id) => id as i64,
        }
    }
}

/// The lab's unreliable network: each message delayed 0–26 ms, 10% lost.
const UNRELIABLE_DROP: f64 = 0.1;
const UNRELIABLE_LATENCY_MAX_MS: u64 = 26;

/// The lab's long reordering: 600 of 900 replies held for 200 ms plus up to
/// 2 s (the lab draws 200 + rand(0..rand(0..2000)) ms, mean about 700 ms; here
/// the extra delay is uniform in 200 ms–2.2 s, mean 1.2 s: harsher).
const LONG_REORDERING: LongDelay = LongDelay {
    probability: Probability(2.0 / 3.0),
    min: Duration(200 * MILLISECOND),
    max: Duration(2200 * MILLISECOND),
    replies_only: true,
};

/// Key prefix of payload appends.
const PAYLOAD_KEY: &str = "lab_payload_";

/// The tester's state shared by every task: its randomness, its view of the
/// counters, what tasks started and what they left for others.
pub struct Lab {
    /// The driver's own stream (`sim::rng::stream(seed, "driver", 0)`).
    pub rng: Rng,
    /// The process id the tester speaks through (client 0).
    pub tester: ProcessId,
    /// Cluster size.
    pub nodes: usize,
    /// The scenario's network, which `setunreliable(false)` returns to.
    reliable: NetworkConfig,
    /// Per node: the incarnation and the request/byte counts last read.
    seen: Vec<(u32, u64, u64)>,
    /// Per node: the commands it applied, in order, with their log indexes.
    applied: Vec<Applied>,
    /// RPCs (requests between nodes) since the start.
    pub rpcs: u64,
    /// Bytes between nodes since the start.
    pub bytes: u64,
    /// Payload bytes submitted by `one_bytes` since the start.
    pub payload: u64,
    /// Counter values at the last counter check or reset.
    pub marks: (u64, u64, u64),
    /// Sequence numbers of the tester's key/value requests.
    seq: u64,
    /// Payload texts by number (a retried `one` resubmits the same text).
    payloads: BTreeMap<u64, String>,
    /// Tasks started by tasks, not yet scheduled.
    pub spawned: Vec<(TaskId, Box<dyn Proc>)>,
    next_task: TaskId,
    /// What the step being run is, for messages.
    pub context: String,
    /// Churn: clients stop at their next round.
    pub stop_clients: bool,
    /// Churn: values clients saw committed.
    pub client_values: Vec<i64>,
    /// Tasks that finished.
    pub finished: Vec<TaskId>,
}

impl Lab {
    /// The tester's state for a cluster of `nodes` whose scenario network is
    /// `reliable`.
    pub fn new(rng: Rng, nodes: usize, reliable: NetworkConfig) -> Self {
        Lab {
            rng,
            tester: nodes,
            nodes,
            reliable,
            seen: vec![(0, 0, 0); nodes],
            applied: vec![Applied::default(); nodes],
            rpcs: 0,
            bytes: 0,
            payload: 0,
            marks: (0, 0, 0),
            seq: 0,
            payloads: BTreeMap::new(),
            spawned: Vec::new(),
            next_task: 1,
            context: String::new(),
            stop_clients: false,
            client_values: Vec::new(),
            finished: Vec::new(),
        }
    }

    /// Starts `proc` as a task of its own at this instant.
    pub fn spawn(&mut self, proc: Box<dyn Proc>) -> TaskId {
        let id = self.next_task;
        self.next_task += 1;
        self.spawned.push((id, proc));
        id
    }

    /// A task id for the main task.
    pub fn first_task(&mut self) -> TaskId {
        let id = self.next_task;
        self.next_task += 1;
        id
    }

    /// `rand.Int() % n` from the driver's stream.
    pub fn below(&mut self, n: u64) -> u64 {
        self.rng.gen_range(0..n)
    }

    /// A random command value (non-negative, like Go's `rand.Int()`).
    pub fn value(&mut self) -> i64 {
        self.rng.gen_range(0..1_000_000_000)
    }

    // ----- who is there -----

    /// `cfg.connected[i]` and alive: the lab's `crash1` disconnects.
    pub fn connected(world: &World<Raft>, id: usize) -> bool {
        world.is_up(id) && !world.is_disconnected(id)
    }

    /// `GetState()`: term and whether it leads.
    pub fn state(world: &World<Raft>, id: usize) -> (u64, bool) {
        let node = world.node(id);
        (node.term(), node.role() == Role::Leader && node.serving())
    }

    // ----- Start and the committed-count oracle -----

    /// A fresh payload of `bytes` random letters; returns its command.
    pub fn new_payload(&mut self, bytes: usize) -> LabCmd {
        let id = self.payloads.len() as u64 + 1;
        let text: String = (0..bytes)
            .map(|_| char::from(b'a' + self.rng.gen_range(0..26u8)))
            .collect();
        self.payloads.insert(id, text);
        LabCmd::Payload(id)
    }

    /// Whether any payload was submitted (command indexes then count the
    /// tester's key/value entries too).
    fn payloads_used(&self) -> bool {
        !self.payloads.is_empty()
    }

    /// `rf.Start(cmd)` on node `id`, a direct call that no network fault can
    /// stop: (command index, term, accepted). A crashed node answers nothing.
    pub fn start(&mut self, world: &mut World<Raft>, id: usize, cmd: LabCmd) -> (u64, u64, bool) {
        if !world.is_up(id) {
            return (0, 0, false);
        }
        let before = world.node(id).last_index();
        let msg = match cmd {
            LabCmd::Value(value) => RaftMsg::Start { value },
            LabCmd::Payload(number) => {
                self.seq += 1;
                let text = self.payloads[&number].clone();
                RaftMsg::Request {
                    seq: self.seq,
                    op: KvOp::Append(format!("{PAYLOAD_KEY}{number}"), text),
                }
            }
        };
        world.deliver_now(self.tester, id, msg);
        let node = world.node(id);
        let (last, term) = (node.last_index(), node.term());
        if last > before && Self::command_of(node, last) == Some(cmd) {
            (self.command_index(world, id, last), term, true)
        } else {
            (0, term, false)
        }
    }

    /// The tester's command held by a log entry, if it is one.
    fn command_of(node: &RaftNode, index: u64) -> Option<LabCmd> {
        match &*node.entry(index)?.command {
            Command::Noop | Command::Bytes(_) => None,
            Command::Value(value) => Some(LabCmd::Value(*value)),
            Command::Kv(command) => payload_number(command).map(LabCmd::Payload),
        }
    }

    /// The commands node `id` applied, in order, with their log indexes —
    /// brought up to date from what it applied since the last look. The
    /// committed prefix never changes (a snapshot it installs holds the same
    /// commands), so only commands past the last look are added; a restarted
    /// node is read afresh.
    fn applied(&mut self, world: &World<Raft>, id: usize) -> &[(u64, LabCmd)] {
        let node = world.node(id);
        let incarnation = world.incarnation(id);
        let payloads = self.payloads_used();
        let cache = &mut self.applied[id];
        if cache.incarnation != incarnation {
            *cache = Applied {
                incarnation,
                ..Applied::default()
            };
        }
        let applied = node.applied_index();
        if applied > cache.through {
            let from = cache.through + 1;
            let mut fresh: Vec<(u64, LabCmd)> = node
                .applied_values()
                .range(from..=applied)
                .map(|(at, value)| (*at, LabCmd::Value(*value)))
                .collect();
            if payloads {
                let (base, _) = node.log_base();
                for at in from.max(base + 1)..=applied {
                    if let Some(LabCmd::Payload(number)) = Self::command_of(node, at) {
                        fresh.push((at, LabCmd::Payload(number)));
                    }
                }
                fresh.sort_unstable_by_key(|(at, _)| *at);
            }
            cache.commands.extend(fresh);
            cache.through = applied;
        }
        &cache.commands
    }

    /// The command index of log index `index` on node `id`: the commands at or
    /// before it, applied or still in its log. See the module documentation.
    pub fn command_index(&mut self, world: &World<Raft>, id: usize, index: u64) -> u64 {
        let applied = self.applied(world, id);
        let mut count = applied.partition_point(|(at, _)| *at <= index) as u64;
        let node = world.node(id);
        let (base, _) = node.log_base();
        for at in node.applied_index().max(base) + 1..=index {
            if Self::command_of(node, at).is_some() {
                count += 1;
            }
        }
        count
    }

    /// `nCommitted(index)`: how many live nodes applied a command at command
    /// index `index`, and which; two different ones there are a failure.
    pub fn n_committed(
        &mut self,
        world: &World<Raft>,
        index: u64,
    ) -> Result<(usize, Option<LabCmd>), String> {
        let Some(position) = index.checked_sub(1).map(|at| at as usize) else {
            return Ok((0, None));
        };
        let mut count = 0;
        let mut seen: Option<(usize, LabCmd)> = None;
        for id in 0..self.nodes {
            if !world.is_up(id) {
                continue;
            }
            let Some(&(_, cmd)) = self.applied(world, id).get(position) else {
                continue;
            };
            if let Some((other, first)) = seen
                && first != cmd
            {
                return Err(format!(
                    "committed values do not match: index {index}, {first} (node {other}) and {cmd} (node {id})"
                ));
            }
            seen = Some((id, cmd));
            count += 1;
        }
        Ok((count, seen.map(|(_, cmd)| cmd)))
    }

    // ----- faults: the lab's disconnect, connect, crash1, start1 -----

    fn apply(world: &mut World<Raft>, fault: Fault) {
        world.apply_fault_now(TimedFault::new(fault));
    }

    /// `cfg.disconnect(i)` (idempotent).
    pub fn disconnect(&mut self, world: &mut World<Raft>, id: usize) {
        if !world.is_disconnected(id) {
            Self::apply(world, Fault::Disconnect(Target::Nodes(vec![id])));
        }
    }

    /// `cfg.connect(i)` (idempotent).
    pub fn connect(&mut self, world: &mut World<Raft>, id: usize) {
        if world.is_disconnected(id) {
            Self::apply(world, Fault::Connect(Target::Nodes(vec![id])));
        }
    }

    /// `cfg.crash1(i)`: disconnect, then crash; what it persisted survives.
    pub fn crash1(&mut self, world: &mut World<Raft>, id: usize) {
        self.refresh_counters(world);
        self.disconnect(world, id);
        if world.is_up(id) {
            Self::apply(world, Fault::Crash(Target::Nodes(vec![id])));
        }
    }

    /// `cfg.start1(i)`: crash it first if it runs, then restart it from its
    /// disk. It stays disconnected until `connect`.
    pub fn start1(&mut self, world: &mut World<Raft>, id: usize) {
        self.crash1(world, id);
        Self::apply(world, Fault::Restart(Target::Nodes(vec![id])));
    }

    /// `cfg.setunreliable(on)`.
    pub fn set_unreliable(&mut self, world: &mut World<Raft>, on: bool) {
        if on {
            world.set_loss(UNRELIABLE_DROP, 0.0);
            world.set_latency(Latency::Uniform {
                min: Duration(0),
                max: Duration(UNRELIABLE_LATENCY_MAX_MS * MILLISECOND),
            });
        } else {
            world.set_loss(
                self.reliable.drop_probability.0,
                self.reliable.duplicate_probability.0,
            );
            world.set_latency(self.reliable.latency.clone());
        }
    }

    /// `cfg.setlongreordering(on)`.
    pub fn set_long_reordering(world: &mut World<Raft>, on: bool) {
        world.set_long_delay(on.then_some(LONG_REORDERING));
    }

    // ----- counters -----

    /// Folds what every node sent since the last look into the totals. Node
    /// counters start afresh in each incarnation, so this runs at every wake
    /// and before every crash.
    pub fn refresh_counters(&mut self, world: &World<Raft>) {
        for id in 0..self.nodes {
            let stats = world.node(id).stats;
            let incarnation = world.incarnation(id);
            let (seen_incarnation, requests, bytes) = self.seen[id];
            let (new_requests, new_bytes) = if incarnation == seen_incarnation {
                (stats.requests - requests, stats.bytes - bytes)
            } else {
                (stats.requests, stats.bytes)
            };
            self.rpcs += new_requests;
            self.bytes += new_bytes;
            self.seen[id] = (incarnation, stats.requests, stats.bytes);
        }
    }

    /// Persisted Raft state (term, vote, log; not the snapshot) of the node
    /// that holds the most: the lab's `cfg.LogSize()`.
    pub fn log_size(world: &World<Raft>) -> (usize, usize) {
        (0..world.node_count())
            .map(|id| {
                let disk = world.disk(id);
                (disk.file_size(STATE) + disk.file_size(LOG), id)
            })
            .max()
            .unwrap_or((0, 0))
    }
}

/// What the tester knows a node applied (see [`Lab::applied`]).
#[derive(Clone, Debug, Default)]
struct Applied {
    incarnation: u32,
    /// Log indexes up to here are folded in.
    through: u64,
    commands: Vec<(u64, LabCmd)>,
}

/// The payload number of one of the tester's key/value appends.
fn payload_number(command: &KvCommand) -> Option<u64> {
    match &command.op {
        KvOp::Append(key, _) => key.strip_prefix(PAYLOAD_KEY)?.parse().ok(),
        _ => None,
    }
}
