//! Raft embedded as another protocol's replicated log, the way the lock service
//! and two-phase commit use it: a *tally* (an append-only list of client adds,
//! each kept once) whose node holds a `RaftNode`, runs it through `Ctx::nest`,
//! proposes its adds as opaque commands on the leader and applies them as Raft
//! commits them. Clients follow redirects and resend; the list drops a resent
//! add it already holds (by client and sequence number).
//!
//! The checks: every node's applied sequence — across its restarts, which apply
//! the log again from index 1 — is a prefix of one sequence; every acknowledged
//! add is in the final list exactly once, at the position it was acknowledged
//! with; a node that says it is a ready leader holds every add acknowledged
//! before it was elected; after the heal the nodes agree and every add
//! completes. A planted bug (acknowledging on proposal, before commit) shows the
//! checks can fail.

use faultline::check::{Checker, Finding};
use faultline::protocols::raft::{Applied, RaftConfig, RaftMsg, RaftNode, RaftPoint, RaftTimer};
use faultline::runner::{Entry, Registry, RunOptions, RunOutcome};
use faultline::scenario::ScenarioFile;
use faultline::sim::time::{Duration, DurationRange};
use faultline::sim::{
    Client, Ctx, Node, NodeFactory, ProcessId, Protocol, Role, Status, Step, Value, World,
};
use faultline::spec::declare::join;
use faultline::spec::{Declared, ProtocolSpec, Setup};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::rc::Rc;

#[derive(Clone, Copy, Debug)]
struct Tally;

#[derive(Clone, Debug, Hash)]
enum Msg {
    /// Between nodes: the embedded Raft's own traffic.
    Raft(RaftMsg),
    /// Client → node: add my `seq`-th item.
    Add { seq: u64 },
    /// Node → client: it is in the list at `position` (0-based).
    Added { seq: u64, position: u64 },
    /// Node → client: not the leader; try `leader` (or another node).
    Redirect { seq: u64, leader: Option<ProcessId> },
}

#[derive(Clone, Debug, Hash)]
enum Timer {
    Raft(RaftTimer),
    Tick,
}

impl Protocol for Tally {
    type Msg = Msg;
    type Timer = Timer;
    type Node = TallyNode;
    type Client = Adder;

    fn is_reply(msg: &Msg) -> bool {
        match msg {
            Msg::Raft(inner) => faultline::protocols::raft::Raft::is_reply(inner),
            Msg::Added { .. } | Msg::Redirect { .. } => true,
            Msg::Add { .. } => false,
        }
    }
}

faultline::declare! {
    enum Bug {
        /// The list keeps an add again when a resend of it is applied (no
        /// deduplication by client and sequence number).
        NoDedup = "no_dedup",
    }
}

faultline::declare! {
    enum Point {
        /// A resent add was answered from the list, not proposed again.
        AnsweredFromList = "tally_answered_from_list",
        /// A resent add was applied a second time and dropped as a duplicate.
        DuplicateDropped = "tally_duplicate_dropped",
        /// A restarted node rebuilt its list from the log it applied again.
        Rebuilt = "tally_rebuilt",
    }
}

/// An add as a log command: the client's id and sequence number.
fn encode(client: ProcessId, seq: u64) -> Rc<[u8]> {
    let mut bytes = (client as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(&seq.to_le_bytes());
    bytes.into()
}

fn decode(bytes: &[u8]) -> (ProcessId, u64) {
    assert_eq!(bytes.len(), 16, "a tally command is 16 bytes");
    let word = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap());
    (word(0) as ProcessId, word(8))
}

#[derive(Clone, Debug)]
struct TallyNode {
    raft: RaftNode,
    no_dedup: bool,
    /// Every command Raft applied here, in order (for the checker).
    log: Vec<Applied>,
    /// The state machine: each add once, in the order first applied.
    items: Vec<(ProcessId, u64)>,
    positions: BTreeMap<(ProcessId, u64), u64>,
    /// Adds this node proposed, to answer when they apply.
    waiting: BTreeMap<(ProcessId, u64), ()>,
    restarted: bool,
}

impl TallyNode {
    /// Runs `f` on the embedded Raft node, then applies what it committed.
    fn with_raft<R>(
        &mut self,
        ctx: &mut Ctx<'_, Tally>,
        f: impl FnOnce(&mut RaftNode, &mut Ctx<'_, faultline::protocols::raft::Raft>) -> R,
    ) -> R {
        let raft = &mut self.raft;
        let result = ctx.nest(Msg::Raft, Timer::Raft, |inner| f(raft, inner));
        self.apply(ctx);
        result
    }

    fn apply(&mut self, ctx: &mut Ctx<'_, Tally>) {
        for applied in self.raft.take_applied() {
            let last = self.log.last().map_or(0, |previous| previous.index);
            assert!(applied.index > last, "applied out of order");
            let (client, seq) = decode(&applied.bytes);
            self.log.push(applied);
            if self.positions.contains_key(&(client, seq)) && !self.no_dedup {
                ctx.sometimes(Point::DuplicateDropped);
            } else {
                let position = self.items.len() as u64;
                self.positions.entry((client, seq)).or_insert(position);
                self.items.push((client, seq));
                if self.restarted && self.items.len() == 1 {
                    ctx.sometimes(Point::Rebuilt);
                }
            }
            if self.waiting.remove(&(client, seq)).is_some() {
                let position = self.positions[&(client, seq)];
                ctx.send(client, Msg::Added { seq, position });
            }
        }
    }

    fn on_add(&mut self, ctx: &mut Ctx<'_, Tally>, client: ProcessId, seq: u64) {
        if let Some(&position) = self.positions.get(&(client, seq)) {
            // Applied here, so committed: any node may answer.
            ctx.sometimes(Point::AnsweredFromList);
            return ctx.send(client, Msg::Added { seq, position });
        }
        let bytes = encode(client, seq);
        match self.with_raft(ctx, |raft, inner| raft.propose(inner, bytes)) {
            Ok(_index) => {
                self.waiting.insert((client, seq), ());
            }
            Err(leader) => ctx.send(client, Msg::Redirect { seq, leader }),
        }
    }
}

impl Node<Tally> for TallyNode {
    fn on_start(&mut self, ctx: &mut Ctx<'_, Tally>) {
        self.with_raft(ctx, |raft, inner| raft.on_start(inner));
    }

    fn on_restart(&mut self, ctx: &mut Ctx<'_, Tally>) {
        // A fresh node: the list is empty and is rebuilt as Raft applies again.
        assert!(self.items.is_empty() && self.log.is_empty());
        self.restarted = true;
        self.with_raft(ctx, |raft, inner| raft.on_restart(inner));
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Tally>, from: ProcessId, msg: Msg) {
        match msg {
            Msg::Raft(msg) => {
                assert!(from < ctx.nodes(), "Raft traffic comes from nodes");
                self.with_raft(ctx, |raft, inner| raft.on_message(inner, from, msg));
            }
            Msg::Add { seq } => self.on_add(ctx, from, seq),
            other => panic!("node got {other:?}"),
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Tally>, timer: Timer) {
        match timer {
            Timer::Raft(timer) => self.with_raft(ctx, |raft, inner| raft.on_timer(inner, timer)),
            Timer::Tick => panic!("node got a client timer"),
        }
    }

    fn status(&self) -> Status {
        self.raft.status()
    }
}

/// Every 10 ms: while no add is open and the workload is open, starts the next
/// one. A redirected add goes again at the next tick, to the leader named (or
/// the next node); an add unanswered for 100 ms goes again to the next node.
#[derive(Clone, Debug, Default)]
struct Adder {
    seq: u64,
    open: bool,
    target: ProcessId,
    waited: u32,
    redirected: bool,
    /// Acknowledged adds: `(seq, position)`.
    acked: Vec<(u64, u64)>,
}

const RESEND_TICKS: u32 = 10;

impl Client<Tally> for Adder {
    fn on_start(&mut self, ctx: &mut Ctx<'_, Tally>) {
        self.target = (ctx.id() - ctx.nodes()) % ctx.nodes();
        let tick = Duration::from_millis(10);
        ctx.set_timer(tick, tick, Timer::Tick);
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Tally>, from: ProcessId, msg: Msg) {
        match msg {
            Msg::Added { seq, position } if self.open && seq == self.seq => {
                self.open = false;
                self.acked.push((seq, position));
                let value = Value::List(vec![Value::Int(seq as i64), Value::Int(position as i64)]);
                ctx.ok("add", None, value);
            }
            Msg::Redirect { seq, leader } if self.open && seq == self.seq => {
                self.target = leader.unwrap_or((from + 1) % ctx.nodes());
                self.redirected = true;
            }
            _ => {} // a late answer to an add already answered
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Tally>, _timer: Timer) {
        if self.open {
            self.waited += 1;
            if self.redirected || self.waited >= RESEND_TICKS {
                if !self.redirected {
                    self.target = (self.target + 1) % ctx.nodes();
                }
                self.redirected = false;
                self.waited = 0;
                ctx.send(self.target, Msg::Add { seq: self.seq });
            }
        } else if ctx.workload_open() {
            self.seq += 1;
            self.open = true;
            self.waited = 0;
            ctx.invoke("add", None, Value::Int(self.seq as i64));
            ctx.send(self.target, Msg::Add { seq: self.seq });
        }
        let tick = Duration::from_millis(10);
        ctx.set_timer(tick, tick, Timer::Tick);
    }
}

/// Every property of the tally, in one observer.
#[derive(Default)]
struct TallyChecker {
    /// The one sequence every node's applied commands are a prefix of.
    order: Vec<Applied>,
    /// Per node: its incarnation and how much of its `log` was checked (a
    /// restarted node applies its log again, from the start).
    checked: Vec<(u32, usize)>,
    /// Every acknowledged add `(client, seq, position)`, in the order the
    /// clients got the answers; and per client how many were taken.
    acked: Vec<(ProcessId, u64, u64)>,
    acked_taken: Vec<usize>,
    /// Per node: the term it leads in, the number of adds acknowledged before
    /// it was elected, and whether its readiness was checked.
    leading: Vec<Option<(u64, usize, bool)>>,
}

impl Checker<Tally> for TallyChecker {
    fn name(&self) -> &'static str {
        "tally"
    }

    fn after_step(&mut self, world: &World<Tally>, _step: Step) -> Option<Finding> {
        let nodes = world.node_count();
        self.checked.resize(nodes, (0, 0));
        self.leading.resize(nodes, None);
        self.acked_taken.resize(world.client_count(), 0);
        for index in 0..world.client_count() {
            let client = world.client(index);
            for &(seq, position) in &client.acked[self.acked_taken[index]..] {
                self.acked.push((nodes + index, seq, position));
            }
            self.acked_taken[index] = client.acked.len();
        }
        for id in 0..nodes {
            let node = world.node(id);
            let incarnation = world.incarnation(id);
            if self.checked[id].0 != incarnation {
                self.checked[id] = (incarnation, 0);
            }
            for (at, applied) in node.log.iter().enumerate().skip(self.checked[id].1) {
                match self.order.get(at) {
                    Some(expected) if expected != applied => {
                        return Some(Finding::always(
                            "applied_agree",
                            format!(
                                "node {id} applied {applied:?} as its command {at}, but another node applied {expected:?} there"
                            ),
                        ));
                    }
                    Some(_) => {}
                    None => self.order.push(applied.clone()),
                }
            }
            self.checked[id].1 = node.log.len();
            let status = node.raft.status();
            if !world.is_up(id) || status.role != Role::Leader {
                self.leading[id] = None;
                continue;
            }
            if self.leading[id].is_none_or(|(term, _, _)| term != status.term) {
                self.leading[id] = Some((status.term, self.acked.len(), false));
            }
            let Some((term, before, false)) = self.leading[id] else {
                continue;
            };
            if node.raft.leader_ready() {
                self.leading[id] = Some((term, before, true));
                if let Some(&(client, seq, _)) = self.acked[..before]
                    .iter()
                    .find(|&&(client, seq, _)| !node.positions.contains_key(&(client, seq)))
                {
                    return Some(Finding::always(
                        "ready_leader_current",
                        format!(
                            "node {id} is a ready leader in term {term} without add {seq} of client {client}, acknowledged before it was elected"
                        ),
                    ));
                }
            }
        }
        None
    }

    fn at_end(&mut self, world: &World<Tally>) -> Vec<Finding> {
        let mut findings = Vec::new();
        // The final state: the list of the serving node that applied the most.
        let serving = |id: &usize| world.is_up(*id) && world.node(*id).raft.damaged().is_none();
        let Some(reference) = (0..world.node_count())
            .filter(serving)
            .max_by_key(|&id| (world.node(id).log.len(), std::cmp::Reverse(id)))
        else {
            return vec![Finding::eventually(
                "converged",
                "no node serves at the end",
            )];
        };
        let list = &world.node(reference).items;
        let positions = &world.node(reference).positions;
        for &(client, seq, position) in &self.acked {
            let times = list.iter().filter(|&&add| add == (client, seq)).count();
            if times != 1 || positions.get(&(client, seq)) != Some(&position) {
                findings.push(Finding::always(
                    "acked_once",
                    format!(
                        "add {seq} of client {client} was acknowledged at position {position}, but the final list holds it {times} times, at {:?}",
                        positions.get(&(client, seq))
                    ),
                ));
            }
        }
        for id in (0..world.node_count()).filter(serving) {
            let node = world.node(id);
            if node.items != *list {
                findings.push(Finding::eventually(
                    "converged",
                    format!(
                        "node {id} holds {} adds after the heal, the cluster {}",
                        node.items.len(),
                        list.len()
                    ),
                ));
            }
        }
        for index in 0..world.client_count() {
            let client = world.client(index);
            if client.open {
                findings.push(Finding::eventually(
                    "adds_complete",
                    format!("client {index}'s add {} never completed", client.seq),
                ));
            }
        }
        findings
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    name: String,
    #[serde(default)]
    bugs: Vec<Bug>,
}

impl ProtocolSpec for Tally {
    type Config = Config;
    const NAME: &'static str = "tally";
    const SUMMARY: &'static str = "an append-only list kept in an embedded Raft log (a test)";
    const BUGS: &'static [Declared] = Bug::ALL;
    const PROPERTIES: &'static [Declared] = &[
        Declared::new(
            "applied_agree",
            "always: every node's applied commands are a prefix of one sequence",
        ),
        Declared::new(
            "acked_once",
            "always: an acknowledged add is in the final list once, where acknowledged",
        ),
        Declared::new(
            "ready_leader_current",
            "always: a ready leader holds every add acknowledged before its election",
        ),
        Declared::new("converged", "eventually: every node holds the whole list"),
        Declared::new("adds_complete", "eventually: every add is acknowledged"),
    ];
    const SOMETIMES: &'static [Declared] =
        &join::<{ Point::ALL.len() + RaftPoint::ALL.len() }>(Point::ALL, RaftPoint::ALL);

    fn active_bugs(config: &Config) -> Vec<String> {
        faultline::spec::declare::bug_names(&config.bugs)
    }

    fn node_factory(setup: &Setup<'_, Config>) -> NodeFactory<Self> {
        let election = DurationRange {
            min: Duration::from_millis(150),
            max: Duration::from_millis(300),
        };
        let raft = RaftNode::new(&RaftConfig::embedded(election, Duration::from_millis(50)));
        let no_dedup = setup.config.bugs.contains(&Bug::NoDedup);
        Rc::new(move |_| TallyNode {
            raft: raft.fresh(),
            no_dedup,
            log: Vec::new(),
            items: Vec::new(),
            positions: BTreeMap::new(),
            waiting: BTreeMap::new(),
            restarted: false,
        })
    }

    fn client(_setup: &Setup<'_, Config>, _index: usize) -> Adder {
        Adder::default()
    }

    fn checkers(_setup: &Setup<'_, Config>) -> Vec<Box<dyn Checker<Self>>> {
        vec![Box::new(TallyChecker::default())]
    }
}

fn scenario(bugs: &str) -> ScenarioFile {
    let text = format!(
        r#"duration = "6s"
liveness_window = "3s"
[protocol]
name = "tally"
bugs = [{bugs}]
[cluster]
nodes = 5
[workload]
clients = 3
[network]
latency = {{ distribution = "uniform", min = "1ms", max = "6ms" }}
[nemesis]
faults = ["partition", "isolate", "bridge", "crash", "crash_leader", "pause"]
interval = ["200ms", "800ms"]
duration = ["100ms", "1500ms"]
drop_probability = [0.0, 0.05]
"#
    );
    ScenarioFile::from_text("tally.toml", text).unwrap_or_else(|error| panic!("{error}"))
}

fn run(file: &ScenarioFile, seed: u64) -> RunOutcome {
    Registry::new()
        .with(Entry::of::<Tally>())
        .run_file(file, &RunOptions::seed(seed))
        .unwrap_or_else(|error| panic!("{error}"))
}

#[test]
fn a_list_kept_in_an_embedded_raft_log_survives_crashes_and_partitions() {
    let file = scenario("");
    let mut fired = BTreeMap::new();
    let mut acked = 0;
    for seed in 1..=25 {
        let outcome = run(&file, seed);
        assert!(
            outcome.passed(),
            "seed {seed}: {:#?}",
            outcome.summary.violations
        );
        acked += outcome.summary.stats.operations.ok;
        for (point, count) in outcome.summary.sometimes {
            *fired.entry(point).or_insert(0) += count;
        }
    }
    assert!(acked > 100, "only {acked} adds acknowledged");
    for point in [
        "raft_leader_elected",
        "raft_leader_stepped_down",
        "raft_restarted_with_state",
        "tally_rebuilt",
        "tally_answered_from_list",
        "tally_duplicate_dropped",
    ] {
        assert!(fired.contains_key(point), "{point} never fired: {fired:?}");
    }
}

#[test]
fn the_same_seed_gives_the_same_trace_twice() {
    let file = scenario("");
    let first = run(&file, 3);
    let again = run(&file, 3);
    assert_eq!(first.summary.trace_hash, again.summary.trace_hash);
    assert_eq!(first.summary.events, again.summary.events);
    assert_eq!(first.history.len(), again.history.len());
    assert_ne!(first.summary.trace_hash, run(&file, 4).summary.trace_hash);
}

#[test]
fn a_list_that_keeps_resent_adds_twice_is_caught() {
    let file = scenario("\"no_dedup\"");
    let found = (1..=10).find_map(|seed| {
        let outcome = run(&file, seed);
        outcome
            .summary
            .violations
            .first()
            .map(|violation| (seed, violation.clone()))
    });
    let (seed, violation) = found.expect("no seed found the planted bug");
    assert_eq!(violation.name, "acked_once", "seed {seed}: {violation:?}");
    assert!(
        violation.message.contains("holds it 2 times"),
        "seed {seed}: {violation:?}"
    );
}
