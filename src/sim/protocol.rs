//! The protocol interface: sans-IO nodes and clients, and the context they act
//! through.
//!
//! A protocol is a set of types ([`Protocol`]): a message, a timer tag, a server
//! node and a client. Handlers change their own state and act only through the
//! [`Ctx`] they are handed: send a message, set or cancel a timer (asked for as a
//! range; the simulator draws the delay), read the local clock, draw from their own
//! rng stream, use their disk, and — for clients — record operations in the
//! history. No async, no threads, no wall clock: the same inputs give the same
//! outputs, which is what makes every run replayable.
//!
//! Process ids: server nodes are `0..nodes`, clients are `nodes..nodes + clients`.

use super::disk::Disk;
use super::history::{EventType, HistoryEvent, Value};
use super::rng::{Rng, between};
use super::time::Duration;
use std::collections::BTreeMap;
use std::fmt::Debug;
use std::hash::Hash;

/// A process id: a node (`< nodes`) or a client (`>= nodes`).
pub type ProcessId = usize;

/// Identifies a timer so it can be cancelled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimerId(pub u64);

/// The types that make up one protocol.
pub trait Protocol: Sized + 'static {
    /// Messages between processes (nodes and clients alike).
    type Msg: Clone + Debug + Hash;
    /// What a timer carries back to its owner when it fires.
    type Timer: Clone + Debug + Hash;
    /// A server node.
    type Node: Node<Self>;
    /// A client process, which invokes operations and records their outcomes.
    type Client: Client<Self>;

    /// Whether `msg` answers a request. Network models that treat replies
    /// apart ask this — the lab's long reordering holds back replies only
    /// (`long_delay.replies_only`). Default: no message is a reply.
    fn is_reply(msg: &Self::Msg) -> bool {
        let _ = msg;
        false
    }
}

/// The role a node reports, used by fault selectors (`leader`) and charts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// No particular role (leaderless protocols).
    #[default]
    None,
    /// Follows a leader.
    Follower,
    /// Campaigning to become leader.
    Candidate,
    /// The leader.
    Leader,
}

/// A node's small public status: its role and its term or epoch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Status {
    /// Leader, follower, ...
    pub role: Role,
    /// Term, epoch or ballot (0 when meaningless).
    pub term: u64,
}

/// A server node. Created fresh by the protocol's factory at start and after every
/// crash; `on_restart` is where it rebuilds itself from its disk.
pub trait Node<P: Protocol>: Clone {
    /// Called once when the run starts.
    fn on_start(&mut self, ctx: &mut Ctx<'_, P>);

    /// Called on a fresh node after a crash; the disk holds what survived. The
    /// default treats a restart like a start.
    fn on_restart(&mut self, ctx: &mut Ctx<'_, P>) {
        self.on_start(ctx);
    }

    /// A message arrived.
    fn on_message(&mut self, ctx: &mut Ctx<'_, P>, from: ProcessId, msg: P::Msg);

    /// A timer set earlier fired.
    fn on_timer(&mut self, ctx: &mut Ctx<'_, P>, timer: P::Timer);

    /// An operator's command to this node: join the cluster or leave it (the
    /// `join` and `leave` faults). The protocol carries out the change itself —
    /// tells its peers, moves data to or from the node — through `ctx` like any
    /// other handler; the world only records the operator's view of who is a
    /// member (`World::members`). Called on a running, unpaused node, right
    /// after the fault that names it is traced. The default ignores it: a
    /// protocol that supports membership changes says so with
    /// `ProtocolSpec::min_members`.
    fn on_admin(&mut self, ctx: &mut Ctx<'_, P>, admin: Admin) {
        let _ = (ctx, admin);
    }

    /// Role and term, for selectors and charts.
    fn status(&self) -> Status {
        Status::default()
    }
}

/// An operator's membership command, handed to [`Node::on_admin`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Admin {
    /// Become a member of the cluster (a spare or a node that left earlier).
    Join,
    /// Stop being a member of the cluster.
    Leave,
}

/// A client process. Clients never crash; their operations are the history.
pub trait Client<P: Protocol>: Clone {
    /// Called once when the run starts.
    fn on_start(&mut self, ctx: &mut Ctx<'_, P>);
    /// A message (usually a reply) arrived.
    fn on_message(&mut self, ctx: &mut Ctx<'_, P>, from: ProcessId, msg: P::Msg);
    /// A timer set earlier fired.
    fn on_timer(&mut self, ctx: &mut Ctx<'_, P>, timer: P::Timer);
}

/// A command a handler issued; the world carries it out after the handler returns.
#[derive(Clone, Debug)]
pub enum Effect<P: Protocol> {
    /// Send a message.
    Send {
        /// Destination.
        to: ProcessId,
        /// Payload.
        msg: P::Msg,
    },
    /// Start a timer firing after `delay` nanoseconds of local time.
    SetTimer {
        /// Its id.
        id: TimerId,
        /// Local-clock delay.
        delay: u64,
        /// What it carries.
        timer: P::Timer,
    },
    /// Start a timer firing at this same virtual instant, after every event
    /// already due at it ([`Ctx::defer`]).
    Defer {
        /// Its id.
        id: TimerId,
        /// What it carries.
        timer: P::Timer,
    },
    /// Cancel a timer (no effect if it already fired).
    CancelTimer(TimerId),
    /// A client history event (boxed: it is rare and large, and every effect is as
    /// big as the biggest variant).
    History(Box<HistoryEvent>),
}

/// Everything a handler may touch. See the module documentation.
pub struct Ctx<'a, P: Protocol> {
    pub(crate) id: ProcessId,
    pub(crate) nodes: usize,
    pub(crate) clients: usize,
    pub(crate) local_now: u64,
    pub(crate) true_now: u64,
    pub(crate) workload_open: bool,
    pub(crate) slowdown: f64,
    pub(crate) rng: &'a mut Rng,
    pub(crate) timer_rng: &'a mut Rng,
    pub(crate) effects: &'a mut Vec<Effect<P>>,
    pub(crate) disk: Option<&'a mut Disk>,
    pub(crate) next_timer: &'a mut u64,
    pub(crate) sometimes: &'a mut BTreeMap<&'static str, u64>,
}

impl<'a, P: Protocol> Ctx<'a, P> {
    /// This process's id.
    #[inline]
    pub fn id(&self) -> ProcessId {
        self.id
    }

    /// Number of server nodes (ids `0..nodes()`).
    #[inline]
    pub fn nodes(&self) -> usize {
        self.nodes
    }

    /// Number of clients (ids `nodes()..nodes() + clients()`).
    #[inline]
    pub fn clients(&self) -> usize {
        self.clients
    }

    /// The local clock in nanoseconds: true time skewed by this node's offset and
    /// drift. Timers and leases should use it, and suffer its errors.
    #[inline]
    pub fn now(&self) -> u64 {
        self.local_now
    }

    /// Whether clients should still start new operations (false once the fault
    /// phase is over and the liveness window runs).
    #[inline]
    pub fn workload_open(&self) -> bool {
        self.workload_open
    }

    /// How many times slower than normal this node runs now: 1.0 unless a
    /// `slow` fault hit it (a noisy neighbour, a failing disk). A protocol that
    /// models work — a service time — multiplies it by this; the engine itself
    /// changes nothing else about a slow node. Always 1.0 for a client.
    #[inline]
    pub fn slowdown(&self) -> f64 {
        self.slowdown
    }

    /// This process's own random stream.
    #[inline]
    pub fn rng(&mut self) -> &mut Rng {
        self.rng
    }

    /// Sends `msg` to `to`. Sending to oneself is allowed and goes through the
    /// network like any other message.
    #[inline]
    pub fn send(&mut self, to: ProcessId, msg: P::Msg) {
        assert!(
            to < self.nodes + self.clients,
            "send to process {to}, which does not exist"
        );
        self.effects.push(Effect::Send { to, msg });
    }

    /// Sends `msg` to every server node except this one.
    pub fn broadcast(&mut self, msg: P::Msg) {
        for to in 0..self.nodes {
            if to != self.id {
                self.effects.push(Effect::Send {
                    to,
                    msg: msg.clone(),
                });
            }
        }
    }

    /// Sets a timer firing after a delay drawn uniformly from `[min, max]` of local
    /// time (the simulator draws it, from a stream of its own).
    pub fn set_timer(&mut self, min: Duration, max: Duration, timer: P::Timer) -> TimerId {
        assert!(min <= max, "timer range {min}..{max} is empty");
        let delay = between(self.timer_rng, min.0, max.0);
        let id = TimerId(*self.next_timer);
        *self.next_timer += 1;
        self.effects.push(Effect::SetTimer { id, delay, timer });
        id
    }

    /// Sets a timer firing at this same virtual instant, after every event
    /// already due at it (events are ordered by time, then by when they were
    /// queued): the way to decide once everything that happens at one
    /// instant has been taken in, as a scheduler whose workers finish
    /// together does. A `set_timer` of no delay fires a nanosecond later
    /// instead, so that time always moves; a node that defers again from
    /// every deferred timer stops time, as zero-latency messages sent back
    /// and forth do.
    pub fn defer(&mut self, timer: P::Timer) -> TimerId {
        let id = TimerId(*self.next_timer);
        *self.next_timer += 1;
        self.effects.push(Effect::Defer { id, timer });
        id
    }

    /// Cancels a timer; a no-op if it already fired or was cancelled.
    pub fn cancel_timer(&mut self, id: TimerId) {
        self.effects.push(Effect::CancelTimer(id));
    }

    /// This node's disk.
    ///
    /// # Panics
    /// When called by a client: clients have no disk.
    pub fn disk(&mut self) -> &mut Disk {
        self.disk.as_deref_mut().expect("clients have no disk")
    }

    /// Marks a rare situation as reached (a *sometimes* property); a run reports
    /// which named points fired, so a campaign can say what it never exercised.
    /// Pass a variant of the protocol's declared points (`faultline::declare!`);
    /// a run that fires an undeclared name fails.
    pub fn sometimes(&mut self, point: impl Into<&'static str>) {
        *self.sometimes.entry(point.into()).or_insert(0) += 1;
    }

    /// Runs `f` with a context for an embedded protocol `Q` — a node that holds
    /// another protocol's node (a lock service keeping its state in a Raft log)
    /// hands it this, and it acts as if it ran alone.
    ///
    /// The nested context shares everything of this one: the process id, the
    /// node and client counts, both clocks, the slowdown, the rng and the timer rng streams,
    /// the disk, the timer-id counter (so ids stay unique across the two) and
    /// the *sometimes* points (the embedder declares the points `Q` fires). What
    /// `Q` does is collected and then issued here, in the order `Q` issued it:
    /// a send with its message wrapped by `msg`, a timer with its tag wrapped by
    /// `timer`, a cancellation or a history event unchanged. The embedder
    /// unwraps both when they come back and hands them to the embedded node in
    /// another `nest`.
    pub fn nest<Q: Protocol, R>(
        &mut self,
        msg: impl FnMut(Q::Msg) -> P::Msg,
        timer: impl FnMut(Q::Timer) -> P::Timer,
        f: impl FnOnce(&mut Ctx<'_, Q>) -> R,
    ) -> R {
        let nodes = self.nodes;
        self.nest_group(nodes, msg, timer, f)
    }

    /// [`Ctx::nest`] for an embedded protocol that runs on the first `group`
    /// nodes only (a Raft group of lock servers beside a resource node): the
    /// nested context says there are `group` nodes, so the embedded node's
    /// majorities and broadcasts stay inside the group.
    ///
    /// # Panics
    /// When `group` is 0, above this context's node count, or does not
    /// include this node.
    pub fn nest_group<Q: Protocol, R>(
        &mut self,
        group: usize,
        mut msg: impl FnMut(Q::Msg) -> P::Msg,
        mut timer: impl FnMut(Q::Timer) -> P::Timer,
        f: impl FnOnce(&mut Ctx<'_, Q>) -> R,
    ) -> R {
        assert!(
            group > 0 && group <= self.nodes && self.id < group,
            "nest_group({group}) from process {} of {} nodes",
            self.id,
            self.nodes
        );
        let mut effects: Vec<Effect<Q>> = Vec::new();
        let result = {
            let mut inner = Ctx {
                id: self.id,
                nodes: group,
                clients: self.clients,
                local_now: self.local_now,
                true_now: self.true_now,
                workload_open: self.workload_open,
                slowdown: self.slowdown,
                rng: &mut *self.rng,
                timer_rng: &mut *self.timer_rng,
                effects: &mut effects,
                disk: self.disk.as_deref_mut(),
                next_timer: &mut *self.next_timer,
                sometimes: &mut *self.sometimes,
            };
            f(&mut inner)
        };
        self.effects.reserve(effects.len());
        for effect in effects {
            self.effects.push(match effect {
                Effect::Send { to, msg: inner } => Effect::Send {
                    to,
                    msg: msg(inner),
                },
                Effect::SetTimer {
                    id,
                    delay,
                    timer: inner,
                } => Effect::SetTimer {
                    id,
                    delay,
                    timer: timer(inner),
                },
                Effect::Defer { id, timer: inner } => Effect::Defer {
                    id,
                    timer: timer(inner),
                },
                Effect::CancelTimer(id) => Effect::CancelTimer(id),
                Effect::History(event) => Effect::History(event),
            });
        }
        result
    }

    fn record(&mut self, kind: EventType, f: &str, key: Option<&str>, value: Value) {
        self.record_on(0, kind, f, key, value);
    }

    /// Records a history event on lane `lane` of this client. A client that
    /// keeps several operations open at once (an open-loop load generator)
    /// gives each open operation a lane of its own, and each lane is a
    /// process of its own in the history — process `index + lane × clients`
    /// for client `index`; lane 0 is the client's own process, which
    /// [`Ctx::invoke`] and the others use — so every history process has at
    /// most one open operation, as the checkers and reports expect. Reuse
    /// the lowest free lane to keep the process count small.
    pub fn record_on(
        &mut self,
        lane: u64,
        kind: EventType,
        f: &str,
        key: Option<&str>,
        value: Value,
    ) {
        assert!(self.id >= self.nodes, "only clients record history events");
        let process = (self.id - self.nodes) as u64 + lane * self.clients as u64;
        let event = HistoryEvent::new(process, kind, f, key, value, self.true_now);
        self.effects.push(Effect::History(Box::new(event)));
    }

    /// Records the start of operation `f` on `key` with argument `value`.
    pub fn invoke(&mut self, f: &str, key: Option<&str>, value: Value) {
        self.record(EventType::Invoke, f, key, value);
    }

    /// Records that the open operation completed and took effect with `value`.
    pub fn ok(&mut self, f: &str, key: Option<&str>, value: Value) {
        self.record(EventType::Ok, f, key, value);
    }

    /// Records that the open operation certainly did not take effect.
    pub fn fail(&mut self, f: &str, key: Option<&str>, value: Value) {
        self.record(EventType::Fail, f, key, value);
    }

    /// Records that the outcome of the open operation is unknown.
    pub fn info(&mut self, f: &str, key: Option<&str>, value: Value) {
        self.record(EventType::Info, f, key, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::rng::stream;

    /// A protocol whose messages and timers are numbers; `Outer` wraps them.
    #[derive(Clone, Debug)]
    struct Inner;
    #[derive(Clone, Debug)]
    struct Outer;

    #[derive(Clone, Debug)]
    struct Nothing;

    impl Node<Inner> for Nothing {
        fn on_start(&mut self, _ctx: &mut Ctx<'_, Inner>) {}
        fn on_message(&mut self, _ctx: &mut Ctx<'_, Inner>, _from: ProcessId, _msg: u32) {}
        fn on_timer(&mut self, _ctx: &mut Ctx<'_, Inner>, _timer: u8) {}
    }
    impl Client<Inner> for Nothing {
        fn on_start(&mut self, _ctx: &mut Ctx<'_, Inner>) {}
        fn on_message(&mut self, _ctx: &mut Ctx<'_, Inner>, _from: ProcessId, _msg: u32) {}
        fn on_timer(&mut self, _ctx: &mut Ctx<'_, Inner>, _timer: u8) {}
    }
    impl Node<Outer> for Nothing {
        fn on_start(&mut self, _ctx: &mut Ctx<'_, Outer>) {}
        fn on_message(&mut self, _ctx: &mut Ctx<'_, Outer>, _from: ProcessId, _msg: Wrap) {}
        fn on_timer(&mut self, _ctx: &mut Ctx<'_, Outer>, _timer: Wrap) {}
    }
    impl Client<Outer> for Nothing {
        fn on_start(&mut self, _ctx: &mut Ctx<'_, Outer>) {}
        fn on_message(&mut self, _ctx: &mut Ctx<'_, Outer>, _from: ProcessId, _msg: Wrap) {}
        fn on_timer(&mut self, _ctx: &mut Ctx<'_, Outer>, _timer: Wrap) {}
    }

    #[derive(Clone, Debug, Hash, PartialEq, Eq)]
    enum Wrap {
        Own(u32),
        Inner(u64),
    }

    impl Protocol for Inner {
        type Msg = u32;
        type Timer = u8;
        type Node = Nothing;
        type Client = Nothing;
    }
    impl Protocol for Outer {
        type Msg = Wrap;
        type Timer = Wrap;
        type Node = Nothing;
        type Client = Nothing;
    }

    /// What an effect says, for comparing (effects have no `PartialEq`).
    fn describe(effect: &Effect<Outer>) -> String {
        match effect {
            Effect::Send { to, msg } => format!("send {to} {msg:?}"),
            Effect::SetTimer { id, delay, timer } => format!("timer {} {delay} {timer:?}", id.0),
            Effect::Defer { id, timer } => format!("defer {} {timer:?}", id.0),
            Effect::CancelTimer(id) => format!("cancel {}", id.0),
            Effect::History(event) => format!("history {event:?}"),
        }
    }

    #[test]
    fn nested_effects_are_wrapped_and_issued_in_order_between_the_outer_ones() {
        let (mut rng, mut timer_rng) = (stream(1, "node", 0), stream(1, "timer", 0));
        let mut effects = Vec::new();
        let mut disk = Disk::new();
        let mut next_timer = 7;
        let mut sometimes = BTreeMap::new();
        let mut ctx = Ctx::<Outer> {
            id: 1,
            nodes: 3,
            clients: 1,
            local_now: 5,
            true_now: 6,
            workload_open: true,
            slowdown: 2.5,
            rng: &mut rng,
            timer_rng: &mut timer_rng,
            effects: &mut effects,
            disk: Some(&mut disk),
            next_timer: &mut next_timer,
            sometimes: &mut sometimes,
        };
        ctx.send(0, Wrap::Own(1));
        let ms = Duration::from_millis(1);
        let outer_timer = ctx.set_timer(ms, ms, Wrap::Own(2));
        let answer = ctx.nest::<Inner, _>(
            |msg| Wrap::Inner(u64::from(msg)),
            |timer| Wrap::Inner(u64::from(timer) + 100),
            |inner| {
                assert_eq!((inner.id(), inner.nodes(), inner.clients()), (1, 3, 1));
                assert_eq!(inner.now(), 5);
                assert_eq!(inner.slowdown(), 2.5);
                inner.broadcast(10);
                let id = inner.set_timer(ms, ms, 3);
                inner.cancel_timer(id);
                inner.disk().write("inner", vec![1]);
                inner.sometimes("inner_point");
                id
            },
        );
        ctx.cancel_timer(outer_timer);
        assert_eq!(answer, TimerId(8), "the timer-id counter is shared");
        assert_eq!(*ctx.next_timer, 9);
        assert_eq!(ctx.disk().read("inner"), Ok(&[1u8][..]));
        let seen: Vec<String> = effects.iter().map(describe).collect();
        assert_eq!(
            seen,
            [
                "send 0 Own(1)",
                "timer 7 1000000 Own(2)",
                "send 0 Inner(10)",
                "send 2 Inner(10)",
                "timer 8 1000000 Inner(103)",
                "cancel 8",
                "cancel 7",
            ]
        );
        assert_eq!(sometimes.get("inner_point"), Some(&1));
    }
}
