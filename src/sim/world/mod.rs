//! The world: every process, the network, the disks, the clocks and the event
//! queue, advanced one event at a time.
//!
//! The event queue orders by (virtual time, insertion sequence), so ties are broken
//! by the order events were scheduled — never by memory addresses or hash order.
//! Each step pops one event (a delivery, a timer, a fault), runs the one handler it
//! concerns, and carries out the effects the handler issued. Every event is folded
//! into the trace hash as it happens.
//!
//! Between steps, a test driver may act on the world through a few narrow doors —
//! `inject` (a send, as if a process had issued it), `deliver_now` (a local
//! call that bypasses the network), `apply_fault_now`, `advance_to`,
//! `set_label`, `set_loss`, `set_latency`, `set_long_delay` — each going
//! through the same traced, hashed paths as the events themselves.
//!
//! The world is plain data and `Clone`: a snapshot is a clone. Protocol types are
//! generic parameters, so the hot path has no dynamic dispatch.

mod faults;

pub use super::clock::Clock;
use super::disk::{Disk, DiskConfig};
use super::fault::{SlowFactor, TimedFault};
use super::history::{EventType, HistoryEvent};
use super::network::{DropReason, Latency, LongDelay, Network, NetworkConfig, Route};
use super::protocol::{Admin, Client, Ctx, Effect, Node, ProcessId, Protocol, Status};
use super::queue::EventQueue;
use super::rng::{self, Rng, between};
use super::trace::{EventKind, SharedSink, StableHasher, TraceRecord, fold};
use rand::Rng as _;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

/// How the world is built: sizes, seed, network and disk behaviour, clocks.
#[derive(Clone, Debug, Default)]
pub struct WorldConfig {
    /// The root seed every stream derives from.
    pub seed: u64,
    /// Number of server nodes.
    pub nodes: usize,
    /// Number of clients.
    pub clients: usize,
    /// The network model.
    pub network: NetworkConfig,
    /// The disk model.
    pub disk: DiskConfig,
    /// Each node starts with a clock offset drawn uniformly from ±this (ns).
    pub clock_offset_max: u64,
    /// Each node starts with a drift drawn uniformly from ±this (ppm).
    pub clock_drift_ppm_max: u64,
    /// The last `spares` nodes (ids `nodes - spares..nodes`) start outside the
    /// cluster's membership, the others in it; must be below `nodes`. Default 0.
    pub spares: usize,
}

#[derive(Clone, Debug)]
enum Payload<P: Protocol> {
    Deliver {
        from: u32,
        to: u32,
        incarnation: u32,
        ready: bool,
        hash: u64,
        msg: P::Msg,
    },
    Timer {
        process: u32,
        id: u64,
        timer: P::Timer,
    },
    Fault(Box<TimedFault>),
}

/// Removes a live timer id; whether it was there.
fn remove_timer(timers: &mut Vec<u64>, id: u64) -> bool {
    match timers.iter().position(|&live| live == id) {
        Some(position) => {
            timers.swap_remove(position);
            true
        }
        None => false,
    }
}

/// Per-process runtime state kept by the world (not by the protocol).
#[derive(Clone, Debug)]
struct ProcessState<P: Protocol> {
    up: bool,
    paused: bool,
    incarnation: u32,
    /// Live timer ids (a handful: a linear scan beats a tree).
    timers: Vec<u64>,
    backlog: Vec<Payload<P>>,
    clock: Clock,
}

enum Action<P: Protocol> {
    Start,
    Restart,
    Message(ProcessId, P::Msg),
    Timer(P::Timer),
    Admin(Admin),
}

/// What one step did, for checkers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// A message was handled by `to`.
    Delivered {
        /// Sender.
        from: ProcessId,
        /// Receiver.
        to: ProcessId,
    },
    /// A message was lost at delivery time.
    Dropped,
    /// A timer fired at `process`.
    Timer {
        /// Owner.
        process: ProcessId,
    },
    /// A fault was applied.
    Fault,
    /// A driver acted without applying a fault (it injected or delivered
    /// messages): look at every node.
    Driver,
    /// The event was held back (paused process) or was a cancelled timer.
    Skipped,
}

/// The *sometimes* points the engine itself marks: what each fault actually did
/// (a partition that cut no message in flight, or a crash that lost no write,
/// did nothing). Campaigns report the ones they never produced beside the
/// protocol's own; every protocol may fire them without declaring them.
pub const ENGINE_POINTS: [(&str, &str); 20] = [
    ("sim_message_lost", "a message was lost to random loss"),
    ("sim_message_cut_by_partition", "a message met a cut link"),
    (
        "sim_message_to_crashed_node",
        "a message was addressed to a crashed node",
    ),
    (
        "sim_message_duplicated",
        "the network delivered a second copy of a message",
    ),
    ("sim_node_crashed", "a crash fault hit a node"),
    (
        "sim_unsynced_write_lost_at_crash",
        "a crash lost an unsynced write",
    ),
    (
        "sim_unsynced_write_kept_at_crash",
        "an unsynced write survived a crash (the disk mode allows it)",
    ),
    ("sim_torn_write_at_crash", "a crash tore a write"),
    (
        "sim_node_paused_backlog_released",
        "a paused node resumed and handled what waited for it",
    ),
    (
        "sim_client_paused_backlog_released",
        "a paused client resumed and handled what waited for it",
    ),
    (
        "sim_timer_on_skewed_clock",
        "a timer fired on a skewed or drifting clock",
    ),
    (
        "sim_client_timer_on_skewed_clock",
        "a client's timer fired on a skewed or drifting clock",
    ),
    ("sim_disk_bit_flipped", "a disk fault flipped a stored bit"),
    (
        "sim_unsynced_write_dropped",
        "a disk fault dropped an unsynced write",
    ),
    ("sim_disk_read_failed", "a node's disk read failed"),
    (
        "sim_disk_write_misdirected",
        "a node's disk write landed in another file's place (or nowhere)",
    ),
    (
        "sim_disk_bytes_transposed",
        "a disk fault swapped two adjacent stored bytes",
    ),
    ("sim_node_joined", "a join fault made a node a member"),
    ("sim_node_left", "a leave fault took a member out"),
    ("sim_node_slowed", "a slow fault made a node run slower"),
];

/// The engine points a campaign lists only once a run produces them: most
/// campaigns never touch a client, most protocols cannot change their
/// membership, and few model work that a slow node does slower, so listing
/// these as never reached would be noise.
pub fn engine_point_listed_when_reached(point: &str) -> bool {
    point.starts_with("sim_client_")
        || matches!(
            point,
            "sim_node_joined" | "sim_node_left" | "sim_node_slowed"
        )
}

/// The start of the panic message a driver's call gets past its event limit.
pub const DRIVER_BOUND: &str = "a driver went past the run's event bound inside one wake";

/// A node factory: builds a fresh node for an id (at start and after each crash).
pub type NodeFactory<P> = Rc<dyn Fn(usize) -> <P as Protocol>::Node>;

/// The simulated world. See the module documentation.
#[derive(Clone)]
pub struct World<P: Protocol> {
    now: u64,
    node_count: usize,
    client_count: usize,
    nodes: Vec<P::Node>,
    clients: Vec<P::Client>,
    processes: Vec<ProcessState<P>>,
    rngs: Vec<Rng>,
    timer_rngs: Vec<Rng>,
    network_rng: Rng,
    fault_rng: Rng,
    network: Network,
    disks: Vec<Disk>,
    disk_config: DiskConfig,
    queue: EventQueue<Payload<P>>,
    /// About how many queued timers were cancelled (they are skipped when they
    /// come up); when they are most of the queue it is swept.
    stale_timers: usize,
    history: Vec<HistoryEvent>,
    /// History processes with an operation open.
    open_operations: BTreeSet<u64>,
    effects: Vec<Effect<P>>,
    next_timer: u64,
    sometimes: BTreeMap<&'static str, u64>,
    workload_open: bool,
    trace_hash: u64,
    events: u64,
    /// Events a driver may bring the run to (`set_driver_event_limit`).
    driver_event_limit: u64,
    sink: Option<SharedSink>,
    factory: NodeFactory<P>,
    dispatching: Option<(ProcessId, &'static str)>,
    faults_applied: u64,
    /// Per node: cut off by a lab-style `disconnect` (cleared by `connect`, by
    /// `heal` and by every fault that replaces the partition).
    disconnected: Vec<bool>,
    /// Node ids remembered under a name: by faults with a `label`, and by drivers.
    labels: BTreeMap<String, Vec<usize>>,
    /// Per node: a member of the cluster, as the operator sees it (changed by
    /// `join` and `leave`; crashes and restarts keep it).
    members: Vec<bool>,
    /// `leave` never takes the membership below this (`set_min_members`).
    min_members: usize,
    /// Per node: how many times slower than normal it runs (set by `slow`
    /// faults; crashes and restarts keep it, the end of the fault phase resets it).
    slowdowns: Vec<SlowFactor>,
}

const NO_PROCESS: u64 = 0x0FFF_FFFF;

impl<P: Protocol> World<P> {
    /// Builds a world. Nodes come from `factory`, clients from `client_factory`
    /// (called with the client's index, 0-based). Nothing runs until [`World::start`].
    pub fn new(
        config: &WorldConfig,
        factory: NodeFactory<P>,
        client_factory: impl Fn(usize) -> P::Client,
    ) -> Self {
        assert!(config.nodes > 0, "a world needs at least one node");
        assert!(
            config.spares < config.nodes,
            "{} spares leave no member among {} nodes",
            config.spares,
            config.nodes
        );
        let processes = config.nodes + config.clients;
        let mut fault_rng = rng::stream(config.seed, "faults", 0);
        let mut process_states = Vec::with_capacity(processes);
        for id in 0..processes {
            let mut clock = Clock::default();
            if id < config.nodes && (config.clock_offset_max > 0 || config.clock_drift_ppm_max > 0)
            {
                let mut clock_rng = rng::stream(config.seed, "clock", id as u64);
                let offset = between(&mut clock_rng, 0, 2 * config.clock_offset_max) as i64
                    - config.clock_offset_max as i64;
                let drift = between(&mut clock_rng, 0, 2 * config.clock_drift_ppm_max) as i64
                    - config.clock_drift_ppm_max as i64;
                clock.skew(0, offset, drift);
            }
            process_states.push(ProcessState {
                up: true,
                paused: false,
                incarnation: 0,
                timers: Vec::new(),
                backlog: Vec::new(),
                clock,
            });
        }
        // Touch the fault stream once so its state is independent of clock setup.
        let _ = fault_rng.r#gen::<u64>();
        World {
            now: 0,
            node_count: config.nodes,
            client_count: config.clients,
            nodes: (0..config.nodes).map(|id| factory(id)).collect(),
            clients: (0..config.clients).map(&client_factory).collect(),
            processes: process_states,
            rngs: (0..processes)
                .map(|id| rng::stream(config.seed, "process", id as u64))
                .collect(),
            timer_rngs: (0..processes)
                .map(|id| rng::stream(config.seed, "timers", id as u64))
                .collect(),
            network_rng: rng::stream(config.seed, "network", 0),
            fault_rng,
            network: Network::new(&config.network, config.nodes, processes),
            disks: vec![Disk::new(); config.nodes],
            disk_config: config.disk.clone(),
            queue: EventQueue::new(),
            stale_timers: 0,
            history: Vec::new(),
            open_operations: BTreeSet::new(),
            effects: Vec::new(),
            next_timer: 0,
            sometimes: BTreeMap::new(),
            workload_open: true,
            trace_hash: rng::name_hash("faultline-trace-v1"),
            events: 0,
            driver_event_limit: u64::MAX,
            sink: None,
            factory,
            dispatching: None,
            faults_applied: 0,
            disconnected: vec![false; config.nodes],
            labels: BTreeMap::new(),
            members: (0..config.nodes)
                .map(|id| id < config.nodes - config.spares)
                .collect(),
            min_members: 0,
            slowdowns: vec![SlowFactor::NORMAL; config.nodes],
        }
    }

    /// `leave` faults never take the membership below `min_members` from now on
    /// (default 0): the protocol's floor (`ProtocolSpec::min_members`), which
    /// the runner passes on.
    pub fn set_min_members(&mut self, min_members: usize) {
        self.min_members = min_members;
    }

    /// Records every event into `sink` from now on.
    pub fn set_sink(&mut self, sink: SharedSink) {
        self.sink = Some(sink);
    }

    /// Starts every node, then every client, at time 0.
    pub fn start(&mut self) {
        for id in 0..self.node_count + self.client_count {
            self.trace(EventKind::Start, id as u64, NO_PROCESS, 0, String::new);
            self.dispatch(id, Action::Start);
        }
    }

    /// Schedules a fault at true time `at`.
    pub fn schedule_fault(&mut self, at: u64, fault: TimedFault) {
        self.queue.push_later(at, Payload::Fault(Box::new(fault)));
    }

    /// Overrides every link's drop and duplicate probabilities.
    pub fn set_loss(&mut self, drop_probability: f64, duplicate_probability: f64) {
        self.network
            .set_loss(drop_probability, duplicate_probability);
    }

    /// Bounds what a driver can do inside one wake, where the runner's checks
    /// between events cannot see it: once the run has `limit` events, the
    /// driver methods (`inject`, `deliver_now`, `apply_fault_now`) panic with
    /// [`DRIVER_BOUND`]; the runner, seeing a driver's wake panic with the run
    /// past its bound, reports its `bounds` finding.
    pub fn set_driver_event_limit(&mut self, limit: u64) {
        self.driver_event_limit = limit;
    }

    fn check_driver_bound(&self) {
        if self.events > self.driver_event_limit {
            panic!(
                "{DRIVER_BOUND}: {} events, above the limit of {}",
                self.events, self.driver_event_limit
            );
        }
    }

    /// Applies `fault` now, exactly as if it had been scheduled for this moment:
    /// traced and hashed the same way, its undo scheduled after its duration, its
    /// label stored. For drivers (an omniscient test program) that disconnect,
    /// crash or restart nodes as they go. Returns the nodes it hit (for
    /// `one_way`, the senders) — what a label on it stores.
    pub fn apply_fault_now(&mut self, fault: TimedFault) -> Vec<usize> {
        self.check_driver_bound();
        assert!(
            self.dispatching.is_none(),
            "apply_fault_now called from inside a handler"
        );
        self.apply_fault(fault)
    }

    /// Sends `msg` from process `from` to process `to` now, exactly as if `from`'s
    /// handler had issued `ctx.send(to, msg)`: the same network judgment (cut
    /// links, loss, latency, duplication), tracing and hashing. For drivers that
    /// play a client or a peer, as the lab tester calls `Start` on a server.
    pub fn inject(&mut self, from: ProcessId, to: ProcessId, msg: P::Msg) {
        self.check_driver_bound();
        let processes = self.node_count + self.client_count;
        assert!(
            from < processes && to < processes,
            "inject {from} -> {to}: there are only {processes} processes"
        );
        assert!(
            self.dispatching.is_none(),
            "inject called from inside a handler"
        );
        self.carry_out(from, Effect::Send { to, msg });
    }

    /// Hands `msg` from process `from` straight to `to`'s handler now, bypassing
    /// the network: no latency, loss or cut link — a local call, like the lab
    /// tester calling `rf.Start(cmd)` on a server, disconnected or not. Traced and
    /// hashed as a delivery; the network's counters do not change. Returns
    /// whether it was delivered: a crashed or paused `to` gets nothing (traced as
    /// a drop).
    pub fn deliver_now(&mut self, from: ProcessId, to: ProcessId, msg: P::Msg) -> bool {
        self.check_driver_bound();
        let processes = self.node_count + self.client_count;
        assert!(
            from < processes && to < processes,
            "deliver_now {from} -> {to}: there are only {processes} processes"
        );
        assert!(
            self.dispatching.is_none(),
            "deliver_now called from inside a handler"
        );
        let hash = StableHasher::hash_of(&msg);
        let state = &self.processes[to];
        if !state.up || state.paused {
            self.trace_drop(from, to, DropReason::DestinationDown, hash, &msg);
            return false;
        }
        self.trace(EventKind::Deliver, from as u64, to as u64, hash, || {
            format!("{msg:?}")
        });
        self.dispatch(to, Action::Message(from, msg));
        true
    }

    /// Sets the latency of every link that has no override of its own, from now
    /// on (messages in flight keep their delivery times) — the lab tester's
    /// `setunreliable`, together with [`World::set_loss`].
    pub fn set_latency(&mut self, latency: Latency) {
        self.network.set_latency(latency);
    }

    /// Moves the clock forward to true time `time` without running anything, so
    /// a driver woken at `time` sees `now() == time`. Never moves it back (an
    /// earlier `time` is a no-op).
    ///
    /// # Panics
    /// If an event is queued before `time`: it would be skipped.
    pub fn advance_to(&mut self, time: u64) {
        if time <= self.now {
            return;
        }
        if let Some(next) = self.queue.peek_time() {
            assert!(
                next >= time,
                "advance_to({time}) would skip an event queued at {next}"
            );
        }
        self.now = time;
    }

    /// Switches long reordering on (or off with `None`) from now on, as the lab
    /// tester does midway through TestFigure8Unreliable. Messages already in
    /// flight keep their delivery times.
    pub fn set_long_delay(&mut self, long_delay: Option<LongDelay>) {
        self.network.set_long_delay(long_delay);
    }

    /// Queues timer `timer_id` of process `id` to fire at true time `fire_at`.
    fn schedule_timer(
        &mut self,
        id: usize,
        timer_id: super::protocol::TimerId,
        fire_at: u64,
        timer: P::Timer,
    ) {
        self.processes[id].timers.push(timer_id.0);
        let payload = Payload::Timer {
            process: id as u32,
            id: timer_id.0,
            timer,
        };
        self.push(fire_at, payload);
    }

    #[inline]
    fn push(&mut self, time: u64, payload: Payload<P>) {
        self.queue.push(time, payload);
    }

    /// Drops cancelled timers from the queue once they are most of it (a node
    /// that resets its election timer on every append leaves hundreds behind,
    /// and every pop sifts through them). The order of the remaining events is
    /// fixed by their (time, sequence) keys, so when this runs cannot change a run.
    pub(crate) fn sweep_stale_timers(&mut self) {
        if self.stale_timers < 64 || self.stale_timers * 2 < self.queue.heap_len() {
            return;
        }
        let processes = &self.processes;
        self.queue.retain(|payload| match payload {
            Payload::Timer { process, id, .. } => processes[*process as usize].timers.contains(id),
            _ => true,
        });
        self.stale_timers = 0;
    }

    /// The time of the next event, if any.
    pub fn next_time(&self) -> Option<u64> {
        self.queue.peek_time()
    }

    /// Runs the next event if it happens at or before `limit`.
    #[inline]
    pub fn step_until(&mut self, limit: u64) -> Option<Step> {
        if self.queue.peek_time()? > limit {
            return None;
        }
        let (time, payload) = self.queue.pop()?;
        debug_assert!(time >= self.now, "time went backwards");
        self.now = time;
        Some(self.handle(payload))
    }

    fn handle(&mut self, payload: Payload<P>) -> Step {
        match payload {
            Payload::Deliver {
                from,
                to,
                incarnation,
                ready,
                hash,
                msg,
            } => {
                let (from, to) = (from as usize, to as usize);
                let state = &self.processes[to];
                if !state.up || state.incarnation != incarnation {
                    self.network.to_dead += 1;
                    self.trace_drop(from, to, DropReason::DestinationDown, hash, &msg);
                    return Step::Dropped;
                }
                if !ready && self.network.is_cut(from, to) {
                    self.network.partitioned += 1;
                    self.trace_drop(from, to, DropReason::Partitioned, hash, &msg);
                    return Step::Dropped;
                }
                if state.paused {
                    let held = Payload::Deliver {
                        from: from as u32,
                        to: to as u32,
                        incarnation,
                        ready: true,
                        hash,
                        msg,
                    };
                    self.processes[to].backlog.push(held);
                    return Step::Skipped;
                }
                self.network.delivered += 1;
                self.trace(EventKind::Deliver, from as u64, to as u64, hash, || {
                    format!("{msg:?}")
                });
                self.dispatch(to, Action::Message(from, msg));
                Step::Delivered { from, to }
            }
            Payload::Timer { process, id, timer } => {
                let owner = process as usize;
                // A held timer stays live while its owner is paused, so that a
                // cancellation after the resume still stops it.
                if !self.processes[owner].timers.contains(&id) {
                    self.stale_timers = self.stale_timers.saturating_sub(1);
                    return Step::Skipped;
                }
                if self.processes[owner].paused {
                    let held = Payload::Timer { process, id, timer };
                    self.processes[owner].backlog.push(held);
                    return Step::Skipped;
                }
                remove_timer(&mut self.processes[owner].timers, id);
                if self.processes[owner].clock.is_skewed(self.now) {
                    self.effect(if owner < self.node_count {
                        "sim_timer_on_skewed_clock"
                    } else {
                        "sim_client_timer_on_skewed_clock"
                    });
                }
                let hash = StableHasher::hash_of(&timer);
                self.trace(EventKind::Timer, owner as u64, NO_PROCESS, hash, || {
                    format!("{timer:?}")
                });
                self.dispatch(owner, Action::Timer(timer));
                Step::Timer { process: owner }
            }
            Payload::Fault(fault) => {
                self.apply_fault(*fault);
                Step::Fault
            }
        }
    }

    /// Marks an engine *sometimes* point ([`ENGINE_POINTS`]).
    pub(crate) fn effect(&mut self, point: &'static str) {
        debug_assert!(ENGINE_POINTS.iter().any(|(name, _)| *name == point));
        *self.sometimes.entry(point).or_insert(0) += 1;
    }

    fn trace_drop(&mut self, from: usize, to: usize, reason: DropReason, hash: u64, msg: &P::Msg) {
        self.effect(match reason {
            DropReason::Lost => "sim_message_lost",
            DropReason::Partitioned => "sim_message_cut_by_partition",
            DropReason::DestinationDown => "sim_message_to_crashed_node",
        });
        self.trace(
            EventKind::Drop,
            from as u64,
            to as u64,
            hash ^ reason as u64,
            || format!("{} {msg:?}", reason.name()),
        );
    }

    /// Folds one event into the trace hash and hands it to the sink, if any.
    #[inline]
    fn trace(
        &mut self,
        kind: EventKind,
        from: u64,
        to: u64,
        payload: u64,
        detail: impl FnOnce() -> String,
    ) {
        let head = kind as u64 | (from << 8) | (to << 36);
        let mut hash = fold(self.trace_hash, head);
        hash = fold(hash, self.now);
        hash = fold(hash, payload);
        self.trace_hash = hash;
        let index = self.events;
        self.events += 1;
        if let Some(sink) = &self.sink {
            let process = |id: u64| {
                if id == NO_PROCESS {
                    None
                } else {
                    Some(id as usize)
                }
            };
            sink.borrow_mut().record(TraceRecord {
                index,
                time: self.now,
                kind,
                from: process(from),
                to: process(to),
                detail: detail(),
                hash,
            });
        }
    }

    fn dispatch(&mut self, id: ProcessId, action: Action<P>) {
        let mut effects = std::mem::take(&mut self.effects);
        let is_node = id < self.node_count;
        let (failed_reads, misdirected) = if is_node {
            let stats = &self.disks[id].stats;
            (stats.failed_reads, stats.misdirected)
        } else {
            (0, 0)
        };
        self.dispatching = Some((
            id,
            match action {
                Action::Start => "start",
                Action::Restart => "restart",
                Action::Message(..) => "message",
                Action::Timer(_) => "timer",
                Action::Admin(_) => "admin",
            },
        ));
        {
            let mut ctx = Ctx {
                id,
                nodes: self.node_count,
                clients: self.client_count,
                local_now: self.processes[id].clock.local(self.now),
                true_now: self.now,
                workload_open: self.workload_open,
                slowdown: if is_node {
                    self.slowdowns[id].factor()
                } else {
                    1.0
                },
                rng: &mut self.rngs[id],
                timer_rng: &mut self.timer_rngs[id],
                effects: &mut effects,
                disk: if is_node {
                    Some(&mut self.disks[id])
                } else {
                    None
                },
                next_timer: &mut self.next_timer,
                sometimes: &mut self.sometimes,
            };
            if is_node {
                let node = &mut self.nodes[id];
                match action {
                    Action::Start => node.on_start(&mut ctx),
                    Action::Restart => node.on_restart(&mut ctx),
                    Action::Message(from, msg) => node.on_message(&mut ctx, from, msg),
                    Action::Timer(timer) => node.on_timer(&mut ctx, timer),
                    Action::Admin(admin) => node.on_admin(&mut ctx, admin),
                }
            } else {
                let client = &mut self.clients[id - self.node_count];
                match action {
                    Action::Start | Action::Restart => client.on_start(&mut ctx),
                    Action::Message(from, msg) => client.on_message(&mut ctx, from, msg),
                    Action::Timer(timer) => client.on_timer(&mut ctx, timer),
                    Action::Admin(_) => unreachable!("membership commands go to nodes only"),
                }
            }
        }
        if is_node && self.disks[id].stats.failed_reads != failed_reads {
            self.effect("sim_disk_read_failed");
        }
        if is_node && self.disks[id].stats.misdirected != misdirected {
            self.effect("sim_disk_write_misdirected");
        }
        self.dispatching = None;
        for effect in effects.drain(..) {
            self.carry_out(id, effect);
        }
        self.effects = effects;
    }

    #[inline]
    fn carry_out(&mut self, id: ProcessId, effect: Effect<P>) {
        match effect {
            Effect::Send { to, msg } => {
                let hash = StableHasher::hash_of(&msg);
                self.trace(EventKind::Send, id as u64, to as u64, hash, || {
                    format!("{msg:?}")
                });
                let incarnation = self.processes[to].incarnation;
                let reply = P::is_reply(&msg);
                let route = self
                    .network
                    .route(id, to, self.now, &mut self.network_rng, reply);
                let (from, to32) = (id as u32, to as u32);
                let deliver = |msg| Payload::Deliver {
                    from,
                    to: to32,
                    incarnation,
                    ready: false,
                    hash,
                    msg,
                };
                match route {
                    Route::Dropped(reason) => self.trace_drop(id, to, reason, hash, &msg),
                    Route::Once(at) => self.push(at, deliver(msg)),
                    Route::Twice(first, second) => {
                        self.effect("sim_message_duplicated");
                        self.trace(EventKind::Duplicate, id as u64, to as u64, hash, || {
                            format!("{msg:?}")
                        });
                        self.push(first, deliver(msg.clone()));
                        self.push(second, deliver(msg));
                    }
                }
            }
            Effect::SetTimer {
                id: timer_id,
                delay,
                timer,
            } => {
                let state = &mut self.processes[id];
                let fire_at = self.now + state.clock.true_delay(delay).max(1);
                self.schedule_timer(id, timer_id, fire_at, timer);
            }
            Effect::Defer {
                id: timer_id,
                timer,
            } => {
                let fire_at = self.now;
                self.schedule_timer(id, timer_id, fire_at, timer);
            }
            Effect::CancelTimer(timer_id) => {
                if remove_timer(&mut self.processes[id].timers, timer_id.0) {
                    self.stale_timers += 1;
                    self.sweep_stale_timers();
                }
            }
            Effect::History(event) => {
                let (kind, opening) = match event.kind {
                    EventType::Invoke => (EventKind::Invoke, true),
                    _ => (EventKind::Complete, false),
                };
                // One open operation per history process (a client's lane,
                // `Ctx::record_on`).
                let was_open = if opening {
                    !self.open_operations.insert(event.process)
                } else {
                    self.open_operations.remove(&event.process)
                };
                assert!(
                    was_open != opening,
                    "client {} {} an operation on history process {} while {}",
                    id - self.node_count,
                    if opening { "invoked" } else { "completed" },
                    event.process,
                    if opening {
                        "another was still open"
                    } else {
                        "none was open"
                    }
                );
                let hash = StableHasher::hash_of(&event);
                let history_line = || serde_json::to_string(&event).unwrap_or_default();
                self.trace(kind, id as u64, NO_PROCESS, hash, history_line);
                self.history.push(*event);
            }
        }
    }

    /// Current true virtual time (ns).
    #[inline]
    pub fn now(&self) -> u64 {
        self.now
    }

    /// Number of server nodes.
    pub fn node_count(&self) -> usize {
        self.node_count
    }

    /// Number of clients.
    pub fn client_count(&self) -> usize {
        self.client_count
    }

    /// Node `id` (read-only; a crashed node is a fresh, unstarted one).
    pub fn node(&self, id: usize) -> &P::Node {
        &self.nodes[id]
    }

    /// All nodes.
    pub fn nodes(&self) -> &[P::Node] {
        &self.nodes
    }

    /// Client `index` (0-based among clients).
    pub fn client(&self, index: usize) -> &P::Client {
        &self.clients[index]
    }

    /// Whether node `id` is running (not crashed).
    pub fn is_up(&self, id: usize) -> bool {
        self.processes[id].up
    }

    /// How many times node `id` has crashed: a restarted node is a new
    /// incarnation, whose memory starts afresh.
    pub fn incarnation(&self, id: usize) -> u32 {
        self.processes[id].incarnation
    }

    /// Whether node `id` is frozen.
    pub fn is_paused(&self, id: usize) -> bool {
        self.processes[id].paused
    }

    /// Per node, whether it is a member of the cluster as the operator sees it:
    /// all but the spares at the start, then as `join` and `leave` faults say.
    pub fn members(&self) -> &[bool] {
        &self.members
    }

    /// Whether node `id` is a member of the cluster (see [`World::members`]).
    pub fn is_member(&self, id: usize) -> bool {
        self.members[id]
    }

    /// The floor `leave` faults keep the membership at ([`World::set_min_members`]).
    pub fn min_members(&self) -> usize {
        self.min_members
    }

    /// How many times slower than normal process `id` runs now: 1.0 unless a
    /// `slow` fault hit it (what its handlers see as `Ctx::slowdown`). Always
    /// 1.0 for a client.
    pub fn slowdown(&self, id: usize) -> f64 {
        self.slowdowns.get(id).map_or(1.0, |factor| factor.factor())
    }

    /// Whether node `id` is disconnected by a lab-style `disconnect` fault.
    pub fn is_disconnected(&self, id: usize) -> bool {
        self.disconnected[id]
    }

    /// The node ids stored under `name` (by a fault with that `label`, or by
    /// [`World::set_label`]), or `None` if the label was never set.
    pub fn label(&self, name: &str) -> Option<&[usize]> {
        self.labels.get(name).map(Vec::as_slice)
    }

    /// Stores `ids` under `name`, replacing what it held; faults targeting
    /// `@name` hit them from now on. Ids are kept sorted and without repeats.
    pub fn set_label(&mut self, name: &str, mut ids: Vec<usize>) {
        assert!(
            ids.iter().all(|&id| id < self.node_count),
            "label {name}: {ids:?} names a node that does not exist"
        );
        ids.sort_unstable();
        ids.dedup();
        self.labels.insert(name.to_string(), ids);
    }

    /// Node `id`'s status (role, term).
    pub fn status(&self, id: usize) -> Status {
        self.nodes[id].status()
    }

    /// Node `id`'s local clock reading now.
    pub fn local_time(&self, id: usize) -> u64 {
        self.processes[id].clock.local(self.now)
    }

    /// Process `id`'s clock (a node's or, after the nodes, a client's).
    pub fn clock(&self, id: usize) -> Clock {
        self.processes[id].clock
    }

    /// Node `id`'s disk (read-only).
    pub fn disk(&self, id: usize) -> &Disk {
        &self.disks[id]
    }

    /// The network (statistics, cut links).
    pub fn network(&self) -> &Network {
        &self.network
    }

    /// The client history so far.
    pub fn history(&self) -> &[HistoryEvent] {
        &self.history
    }

    /// Named *sometimes* points that fired, with counts.
    pub fn sometimes(&self) -> &BTreeMap<&'static str, u64> {
        &self.sometimes
    }

    /// The trace hash so far.
    pub fn trace_hash(&self) -> u64 {
        self.trace_hash
    }

    /// Events traced so far.
    pub fn events(&self) -> u64 {
        self.events
    }

    /// Events waiting in the queue.
    pub fn pending(&self) -> usize {
        self.queue.len()
    }

    /// Faults applied so far (scripted, random and their undos).
    pub fn faults_applied(&self) -> u64 {
        self.faults_applied
    }

    /// Whether clients may start new operations.
    pub fn workload_open(&self) -> bool {
        self.workload_open
    }

    /// The process whose handler is running and what it handles, if any — what a
    /// panic report names.
    pub fn dispatching(&self) -> Option<(ProcessId, &'static str)> {
        self.dispatching
    }
}
