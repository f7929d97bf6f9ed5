//! Drivers: an omniscient tester woken at virtual times of its choosing, which
//! reads the world, injects messages, applies faults and reports violations —
//! on a tiny echo protocol written the way a user would.

use faultline::check::{Checker, Finding};
use faultline::runner::{Driver, ProtocolSpec, RunOptions, RunOutcome, parse_for, run_scenario};
use faultline::scenario::ScenarioFile;
use faultline::sim::rng::{self, Rng};
use faultline::sim::time::{Duration, MILLISECOND};
use faultline::sim::trace::{EventKind, MemorySink, SharedSink};
use faultline::sim::{
    Client, Ctx, Fault, Latency, NetworkConfig, Node, NodeFactory, ProcessId, Protocol, Step,
    Target, TimedFault, World, WorldConfig,
};
use faultline::spec::{Declared, Setup};
use rand::Rng as _;
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::rc::Rc;

#[derive(Clone, Copy, Debug)]
struct Echo;

#[derive(Clone, Debug, Hash)]
enum Msg {
    Ping(u64),
    Pong(u64),
}

/// Answers every ping with a pong.
#[derive(Clone, Debug, Default)]
struct EchoNode;

/// Records the pongs it gets; never starts anything itself.
#[derive(Clone, Debug, Default)]
struct Listener {
    pongs: Vec<(ProcessId, u64)>,
}

impl Protocol for Echo {
    type Msg = Msg;
    type Timer = ();
    type Node = EchoNode;
    type Client = Listener;
}

impl Node<Echo> for EchoNode {
    fn on_start(&mut self, _ctx: &mut Ctx<'_, Echo>) {}

    fn on_message(&mut self, ctx: &mut Ctx<'_, Echo>, from: ProcessId, msg: Msg) {
        if let Msg::Ping(n) = msg {
            ctx.send(from, Msg::Pong(n));
        }
    }

    fn on_timer(&mut self, _ctx: &mut Ctx<'_, Echo>, _timer: ()) {}
}

impl Client<Echo> for Listener {
    fn on_start(&mut self, _ctx: &mut Ctx<'_, Echo>) {}

    fn on_message(&mut self, _ctx: &mut Ctx<'_, Echo>, from: ProcessId, msg: Msg) {
        if let Msg::Pong(n) = msg {
            self.pongs.push((from, n));
        }
    }

    fn on_timer(&mut self, _ctx: &mut Ctx<'_, Echo>, _timer: ()) {}
}

/// The `[protocol]` table: what the tester does.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    name: String,
    /// When the tester wakes.
    wakes: Vec<Duration>,
    /// At this wake (0-based) it reports a violation.
    #[serde(default)]
    fail_at_wake: Option<usize>,
    /// At this wake it panics.
    #[serde(default)]
    panic_at_wake: Option<usize>,
    /// Never move on from the first wake.
    #[serde(default)]
    stuck: bool,
}

thread_local! {
    /// What the tester and the checker saw, for the test to read back.
    static LOG: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

fn log(line: String) {
    LOG.with(|log| log.borrow_mut().push(line));
}

fn take_log() -> Vec<String> {
    LOG.with(|log| std::mem::take(&mut *log.borrow_mut()))
}

/// The tester: at every wake it pings a random node from client 0, and it
/// disconnects node 1 (label `gone`) at wake 1 and connects `@gone` at wake 3.
struct Tester {
    config: Config,
    next: usize,
    pinged: u64,
    rng: Rng,
}

impl Driver<Echo> for Tester {
    fn name(&self) -> &'static str {
        "echo_tester"
    }

    fn next_wake(&self) -> Option<u64> {
        let index = if self.config.stuck { 0 } else { self.next };
        self.config.wakes.get(index).map(|at| at.0)
    }

    fn wake(&mut self, world: &mut World<Echo>) -> Vec<Finding> {
        let index = self.next;
        self.next += 1;
        if self.config.stuck {
            return Vec::new();
        }
        log(format!("wake {index} at {}", world.now()));
        if self.config.panic_at_wake == Some(index) {
            panic!("the tester gave up at wake {index}");
        }
        if self.config.fail_at_wake == Some(index) {
            return vec![Finding::always(
                "tester",
                format!("expected one leader at wake {index}"),
            )];
        }
        let to = self.rng.gen_range(0..world.node_count());
        self.pinged += 1;
        world.inject(world.node_count(), to, Msg::Ping(self.pinged));
        match index {
            1 => {
                let hit = world.apply_fault_now(
                    TimedFault::new(Fault::Disconnect(Target::Nodes(vec![1]))).labelled("gone"),
                );
                log(format!("disconnected {hit:?}"));
            }
            3 => {
                let hit = world.apply_fault_now(TimedFault::new(Fault::Connect(Target::Label(
                    "gone".into(),
                ))));
                log(format!("connected {hit:?}"));
            }
            _ => {}
        }
        Vec::new()
    }

    fn at_end(&mut self, world: &World<Echo>) -> Vec<Finding> {
        let pongs = world.client(0).pongs.len() as u64;
        log(format!("{pongs} of {} pings answered", self.pinged));
        if pongs == self.pinged {
            Vec::new()
        } else {
            vec![Finding::eventually("tester", "a ping went unanswered")]
        }
    }
}

/// Counts the fault steps it is shown.
struct FaultCounter(u64);

impl Checker<Echo> for FaultCounter {
    fn name(&self) -> &'static str {
        "fault_counter"
    }

    fn after_step(&mut self, world: &World<Echo>, step: Step) -> Option<Finding> {
        if step == Step::Fault {
            self.0 += 1;
            log(format!("fault step at {}", world.now()));
        }
        None
    }
}

impl ProtocolSpec for Echo {
    type Config = Config;
    const NAME: &'static str = "echo";
    const SUMMARY: &'static str = "answers pings; a tester drives it";
    const BUGS: &'static [Declared] = &[];
    const PROPERTIES: &'static [Declared] = &[Declared::new(
        "tester",
        "always: the tester's expectations hold",
    )];

    fn active_bugs(_config: &Config) -> Vec<String> {
        Vec::new()
    }
    fn node_factory(_setup: &Setup<'_, Config>) -> NodeFactory<Self> {
        Rc::new(|_| EchoNode)
    }
    fn client(_setup: &Setup<'_, Config>, _index: usize) -> Listener {
        Listener::default()
    }
    fn checkers(_setup: &Setup<'_, Config>) -> Vec<Box<dyn Checker<Self>>> {
        vec![Box::new(FaultCounter(0))]
    }
    fn driver(setup: &Setup<'_, Config>, seed: u64) -> Option<Box<dyn Driver<Self>>> {
        Some(Box::new(Tester {
            config: setup.config.clone(),
            next: 0,
            pinged: 0,
            rng: rng::stream(seed, "driver", 0),
        }))
    }
}

/// Runs the echo scenario (3 nodes, 1 client, 1 ms links, fault phase 100 ms,
/// run end 120 ms) with these extra `[protocol]` lines; returns the outcome,
/// the log and the trace records.
fn run(protocol: &str, seed: u64) -> (RunOutcome, Vec<String>, Vec<(u64, EventKind, String)>) {
    let text = format!(
        "duration = \"100ms\"\nliveness_window = \"20ms\"\nmax_events = 10000\n[protocol]\nname = \"echo\"\n{protocol}\n[cluster]\nnodes = 3\n[workload]\nclients = 1\n[network]\nlatency = {{ distribution = \"constant\", value = \"1ms\" }}\n"
    );
    let file = ScenarioFile::from_text("echo.toml", text).unwrap();
    let scenario = parse_for::<Echo>(&file).unwrap();
    let sink = Rc::new(RefCell::new(MemorySink::new(usize::MAX)));
    let options = RunOptions {
        sink: Some(sink.clone() as SharedSink),
        ..RunOptions::seed(seed)
    };
    take_log();
    let outcome = run_scenario::<Echo>(&file, &scenario, &options);
    let trace = sink
        .borrow()
        .records
        .iter()
        .map(|record| (record.time, record.kind, record.detail.clone()))
        .collect();
    (outcome, take_log(), trace)
}

const WAKES: &str = "wakes = [\"10ms\", \"25ms\", \"25ms\", \"40ms\", \"120ms\", \"150ms\"]";

#[test]
fn the_driver_wakes_at_exactly_its_times_until_the_run_ends() {
    let (outcome, log, _) = run(WAKES, 1);
    assert!(outcome.passed(), "{:?}", outcome.summary.violations);
    let wakes: Vec<&String> = log.iter().filter(|line| line.starts_with("wake")).collect();
    assert_eq!(
        wakes,
        vec![
            "wake 0 at 10000000",
            "wake 1 at 25000000",
            "wake 2 at 25000000",
            "wake 3 at 40000000",
        ],
        "wakes at or after the end of the run (120 ms) are not run"
    );
    assert!(
        log.contains(&"4 of 4 pings answered".to_string()),
        "{log:?}"
    );
}

#[test]
fn an_injected_message_is_sent_traced_and_delivered_like_a_handlers() {
    let (outcome, _, trace) = run(WAKES, 1);
    let sends: Vec<&(u64, EventKind, String)> = trace
        .iter()
        .filter(|(_, kind, detail)| *kind == EventKind::Send && detail.starts_with("Ping"))
        .collect();
    assert_eq!(sends.len(), 4);
    assert_eq!(sends[0].0, 10 * MILLISECOND);
    assert_eq!(sends[0].2, "Ping(1)");
    let delivered = trace
        .iter()
        .find(|(_, kind, detail)| *kind == EventKind::Deliver && detail == "Ping(1)")
        .expect("the first ping is delivered");
    assert_eq!(delivered.0, 11 * MILLISECOND, "after the link's 1 ms");
    assert_eq!(outcome.summary.stats.messages.sent, 8, "4 pings, 4 pongs");
    assert_eq!(outcome.summary.stats.messages.delivered, 8);
}

#[test]
fn faults_a_driver_applies_are_traced_labelled_and_shown_to_checkers() {
    let (outcome, log, trace) = run(WAKES, 1);
    assert!(log.contains(&"disconnected [1]".to_string()), "{log:?}");
    assert!(log.contains(&"connected [1]".to_string()), "{log:?}");
    let faults: Vec<(u64, String)> = trace
        .iter()
        .filter(|(_, kind, _)| matches!(kind, EventKind::Disconnect | EventKind::Connect))
        .map(|(time, _, detail)| (*time, detail.clone()))
        .collect();
    assert_eq!(
        faults,
        vec![
            (
                25 * MILLISECOND,
                "disconnect [1] label gone = [1]".to_string()
            ),
            (40 * MILLISECOND, "connect [1]".to_string()),
        ]
    );
    let seen: Vec<&String> = log
        .iter()
        .filter(|line| line.starts_with("fault"))
        .collect();
    assert_eq!(
        seen,
        vec![
            "fault step at 25000000",
            "fault step at 40000000",
            "fault step at 100000000",
        ],
        "the checkers see the driver's faults and the end of the fault phase"
    );
    assert_eq!(outcome.summary.stats.faults, 3);
}

#[test]
fn a_violation_from_a_wake_stops_the_run_under_the_drivers_name() {
    let (outcome, log, _) = run(&format!("{WAKES}\nfail_at_wake = 2"), 1);
    assert!(!outcome.passed());
    assert_eq!(outcome.summary.violations.len(), 1);
    let violation = &outcome.summary.violations[0];
    assert_eq!(violation.checker, "echo_tester");
    assert_eq!(violation.property, "always");
    assert_eq!(violation.message, "expected one leader at wake 2");
    assert_eq!(violation.time, 25 * MILLISECOND);
    assert_eq!(
        outcome.summary.virtual_time,
        25 * MILLISECOND,
        "the run stopped"
    );
    assert!(!log.iter().any(|line| line.starts_with("wake 3")));
    assert!(
        !log.iter().any(|line| line.contains("pings answered")),
        "at_end is not called after the run stopped"
    );
}

#[test]
fn at_end_violations_of_the_driver_are_reported() {
    // The only ping goes out at 119 ms and cannot be answered by 120 ms.
    let (outcome, _, _) = run("wakes = [\"119ms\"]", 1);
    let violation = &outcome.summary.violations[0];
    assert_eq!(violation.checker, "echo_tester");
    assert_eq!(violation.property, "eventually");
    assert_eq!(violation.message, "a ping went unanswered");
}

#[test]
fn a_driver_that_panics_is_named_in_the_finding() {
    let (outcome, _, _) = run(&format!("{WAKES}\npanic_at_wake = 1"), 1);
    let violation = &outcome.summary.violations[0];
    assert_eq!(violation.checker, "panic");
    assert!(
        violation
            .message
            .starts_with("driver echo_tester panicked: the tester gave up at wake 1"),
        "{}",
        violation.message
    );
}

#[test]
fn a_driver_that_never_moves_on_ends_at_the_bound() {
    let (outcome, _, _) = run(&format!("{WAKES}\nstuck = true"), 1);
    let violation = &outcome.summary.violations[0];
    assert_eq!(violation.checker, "bounds");
    assert!(
        violation
            .message
            .contains("driver echo_tester woke more than max_events"),
        "{}",
        violation.message
    );
}

#[test]
fn a_run_with_a_driver_is_deterministic() {
    let (first, _, _) = run(WAKES, 7);
    let (second, _, _) = run(WAKES, 7);
    assert_eq!(first.summary.trace_hash, second.summary.trace_hash);
    assert_eq!(first.summary.events, second.summary.events);
    let (other, _, _) = run(WAKES, 8);
    assert_ne!(
        first.summary.trace_hash, other.summary.trace_hash,
        "the tester pings nodes drawn from its seeded stream"
    );
}

fn echo_world() -> World<Echo> {
    let config = WorldConfig {
        seed: 1,
        nodes: 3,
        clients: 1,
        network: NetworkConfig {
            latency: Latency::Constant {
                value: Duration(MILLISECOND),
            },
            ..NetworkConfig::default()
        },
        ..WorldConfig::default()
    };
    let mut world = World::new(&config, Rc::new(|_| EchoNode), |_| Listener::default());
    world.start();
    world
}

#[test]
fn advance_to_moves_the_clock_forward_only() {
    let mut world = echo_world();
    world.advance_to(5 * MILLISECOND);
    assert_eq!(world.now(), 5 * MILLISECOND);
    world.advance_to(MILLISECOND);
    assert_eq!(world.now(), 5 * MILLISECOND, "never back");
    let events = world.events();
    world.inject(3, 0, Msg::Ping(1));
    assert_eq!(world.events(), events + 1, "the send is traced");
    world.advance_to(6 * MILLISECOND);
    assert_eq!(
        world.now(),
        6 * MILLISECOND,
        "up to the queued delivery itself"
    );
    while world.step_until(10 * MILLISECOND).is_some() {}
    assert_eq!(world.client(0).pongs, vec![(0, 1)]);
}

#[test]
#[should_panic(expected = "advance_to(3000000) would skip an event queued at 1000000")]
fn advance_to_refuses_to_skip_a_queued_event() {
    let mut world = echo_world();
    world.inject(3, 0, Msg::Ping(1));
    world.advance_to(3 * MILLISECOND);
}

#[test]
fn an_injected_message_meets_the_same_network_as_a_sent_one() {
    let mut world = echo_world();
    world.apply_fault_now(TimedFault::new(Fault::Disconnect(Target::Nodes(vec![1]))));
    assert!(world.is_disconnected(1));
    world.inject(0, 1, Msg::Ping(1));
    assert_eq!(world.network().partitioned, 1, "node 0 cannot reach node 1");
    world.inject(3, 1, Msg::Ping(2));
    while world.step_until(10 * MILLISECOND).is_some() {}
    assert_eq!(
        world.client(0).pongs,
        vec![(1, 2)],
        "clients still reach it"
    );
}

#[test]
fn deliver_now_is_a_local_call_past_the_network() {
    let mut world = echo_world();
    world.apply_fault_now(TimedFault::new(Fault::Disconnect(Target::Nodes(vec![1]))));
    let events = world.events();
    assert!(
        world.deliver_now(0, 1, Msg::Ping(7)),
        "cut links do not stop it"
    );
    assert_eq!(
        world.events(),
        events + 3,
        "traced as a delivery, then the pong's send and its loss on the cut link"
    );
    assert_eq!(world.now(), 0, "at once");
    assert_eq!(world.network().sent, 1, "only the pong went on the wire");
    assert_eq!(
        world.network().partitioned,
        1,
        "and node 1 cannot reach node 0"
    );
    world.apply_fault_now(TimedFault::new(Fault::Crash(Target::Nodes(vec![2]))));
    assert!(
        !world.deliver_now(3, 2, Msg::Ping(8)),
        "a crashed node gets nothing"
    );
    let incarnation = world.incarnation(2);
    assert_eq!(incarnation, 1);
    world.apply_fault_now(TimedFault::new(Fault::Restart(Target::Nodes(vec![2]))));
    assert_eq!(
        world.incarnation(2),
        1,
        "it counts crashes; the restart runs the new incarnation"
    );
}

#[test]
fn set_latency_changes_the_links_from_now_on() {
    let mut world = echo_world();
    world.set_latency(Latency::Constant {
        value: Duration(3 * MILLISECOND),
    });
    world.inject(3, 0, Msg::Ping(1));
    world.set_loss(1.0, 0.0);
    world.inject(3, 1, Msg::Ping(2));
    assert_eq!(world.network().lost, 1, "the loss applies at once");
    assert_eq!(world.next_time(), Some(3 * MILLISECOND));
}
