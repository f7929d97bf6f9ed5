//! The `slow` fault: a node runs k times slower for a while. The engine only
//! keeps the factor (per node, 1 by default) and hands it to the node's
//! handlers as `Ctx::slowdown`; a protocol that models work scales its service
//! time by it. The factor models the machine, so it survives a crash and a
//! restart, a later `slow` replaces it, the fault's duration sets it back to 1
//! on the nodes it hit, and the end of the fault phase resets every node. A
//! tiny protocol here samples what its handlers see; registered as a spec it
//! runs scenarios with scripted slow faults and a slow nemesis, and shrinks.

use faultline::check::{Checker, Finding};
use faultline::runner::shrink::{Materialised, ShrinkOptions, shrink};
use faultline::runner::{Entry, ProtocolSpec, Registry, RunOptions, parse_for, run_scenario};
use faultline::scenario::ScenarioFile;
use faultline::sim::time::{Duration, MILLISECOND, SECOND};
use faultline::sim::trace::{EventKind, MemorySink};
use faultline::sim::{
    Client, Ctx, Fault, Node, NodeFactory, ProcessId, Protocol, SlowFactor, Step, Target,
    TimedFault, World, WorldConfig,
};
use faultline::spec::{Declared, Setup};
use std::cell::RefCell;
use std::rc::Rc;

#[derive(Clone, Copy, Debug)]
struct Mill;

/// Samples `Ctx::slowdown` (with the local time) when it starts or restarts
/// and on a tick every 100 ms. Clients do the same.
#[derive(Clone, Debug, Default)]
struct Sampler {
    seen: Vec<(u64, f64)>,
}

impl Sampler {
    fn sample(&mut self, now: u64, slowdown: f64) {
        self.seen.push((now, slowdown));
    }
}

fn tick() -> Duration {
    Duration(100 * MILLISECOND)
}

impl Protocol for Mill {
    type Msg = ();
    type Timer = ();
    type Node = Sampler;
    type Client = Sampler;
}

impl Node<Mill> for Sampler {
    fn on_start(&mut self, ctx: &mut Ctx<'_, Mill>) {
        self.sample(ctx.now(), ctx.slowdown());
        ctx.set_timer(tick(), tick(), ());
    }
    fn on_message(&mut self, _ctx: &mut Ctx<'_, Mill>, _from: ProcessId, _msg: ()) {}
    fn on_timer(&mut self, ctx: &mut Ctx<'_, Mill>, _timer: ()) {
        self.sample(ctx.now(), ctx.slowdown());
        ctx.set_timer(tick(), tick(), ());
    }
}

impl Client<Mill> for Sampler {
    fn on_start(&mut self, ctx: &mut Ctx<'_, Mill>) {
        self.sample(ctx.now(), ctx.slowdown());
        ctx.set_timer(tick(), tick(), ());
    }
    fn on_message(&mut self, _ctx: &mut Ctx<'_, Mill>, _from: ProcessId, _msg: ()) {}
    fn on_timer(&mut self, ctx: &mut Ctx<'_, Mill>, _timer: ()) {
        self.sample(ctx.now(), ctx.slowdown());
        ctx.set_timer(tick(), tick(), ());
    }
}

fn factor(value: f64) -> SlowFactor {
    SlowFactor::from_factor(value).expect("a factor in 1..=1000")
}

fn slow(target: Target, value: f64) -> TimedFault {
    TimedFault::new(Fault::Slow {
        target,
        factor: factor(value),
    })
}

/// A world of four nodes and one client under `seed` with `faults`, run to
/// `until`; its trace kept.
fn run(
    seed: u64,
    faults: Vec<(u64, TimedFault)>,
    until: u64,
) -> (World<Mill>, Rc<RefCell<MemorySink>>) {
    let config = WorldConfig {
        seed,
        nodes: 4,
        clients: 1,
        ..WorldConfig::default()
    };
    let mut world = World::new(&config, Rc::new(|_| Sampler::default()), |_| {
        Sampler::default()
    });
    let sink = Rc::new(RefCell::new(MemorySink::new(100_000)));
    world.set_sink(sink.clone());
    for (at, fault) in faults {
        world.schedule_fault(at, fault);
    }
    world.start();
    while world.step_until(until).is_some() {}
    (world, sink)
}

/// What node `id` saw at its last sample at or before `time`.
fn seen_at(world: &World<Mill>, id: usize, time: u64) -> f64 {
    world
        .node(id)
        .seen
        .iter()
        .rev()
        .find(|(at, _)| *at <= time)
        .map(|(_, slowdown)| *slowdown)
        .unwrap_or_else(|| panic!("node {id} took no sample by {time}"))
}

/// The trace details of the slow events.
fn slow_events(sink: &RefCell<MemorySink>) -> Vec<String> {
    sink.borrow()
        .records
        .iter()
        .filter(|record| record.kind == EventKind::Slow)
        .map(|record| record.detail.clone())
        .collect()
}

#[test]
fn a_slow_fault_changes_what_the_nodes_handlers_see_until_its_duration_undoes_it() {
    let faults = vec![(
        1_050 * MILLISECOND,
        slow(Target::Nodes(vec![1]), 2.5).lasting(SECOND),
    )];
    let (world, sink) = run(1, faults, 3 * SECOND);
    assert_eq!(seen_at(&world, 1, SECOND), 1.0);
    for time in [1_100, 1_500, 2_000] {
        assert_eq!(seen_at(&world, 1, time * MILLISECOND), 2.5, "at {time} ms");
    }
    assert_eq!(seen_at(&world, 1, 2_100 * MILLISECOND), 1.0);
    assert_eq!(world.slowdown(1), 1.0);
    for id in [0, 2, 3] {
        assert!(
            world
                .node(id)
                .seen
                .iter()
                .all(|(_, slowdown)| *slowdown == 1.0),
            "node {id} was slowed"
        );
    }
    // Clients always run at normal speed.
    assert!(world.client(0).seen.iter().all(|(_, s)| *s == 1.0));
    assert_eq!(world.slowdown(4), 1.0);
    assert_eq!(
        slow_events(&sink),
        ["slow [1] factor 2.5", "slow [1] factor 1"]
    );
    // The undo is no slowdown: the point fires once.
    assert_eq!(world.sometimes().get("sim_node_slowed"), Some(&1));
}

#[test]
fn the_world_reports_the_factor_while_it_lasts_and_a_later_slow_replaces_it() {
    let faults = vec![
        (500 * MILLISECOND, slow(Target::Nodes(vec![0, 2]), 10.0)),
        (1_500 * MILLISECOND, slow(Target::Nodes(vec![2]), 1.5)),
    ];
    let (world, _) = run(1, faults.clone(), SECOND);
    assert_eq!(world.slowdown(0), 10.0);
    assert_eq!(world.slowdown(2), 10.0);
    assert_eq!(world.slowdown(1), 1.0);
    let (world, _) = run(1, faults, 2 * SECOND);
    assert_eq!(world.slowdown(0), 10.0);
    assert_eq!(world.slowdown(2), 1.5, "the later slow replaced the factor");
    assert_eq!(seen_at(&world, 2, 1_900 * MILLISECOND), 1.5);
    assert_eq!(world.sometimes().get("sim_node_slowed"), Some(&3));
}

#[test]
fn the_end_of_the_fault_phase_resets_every_slowdown() {
    let faults = vec![
        (500 * MILLISECOND, slow(Target::All, 4.0)),
        (2_050 * MILLISECOND, TimedFault::new(Fault::HealAll)),
    ];
    let (world, sink) = run(1, faults, 3 * SECOND);
    for id in 0..4 {
        assert_eq!(seen_at(&world, id, 2 * SECOND), 4.0);
        assert_eq!(seen_at(&world, id, 2_100 * MILLISECOND), 1.0);
        assert_eq!(world.slowdown(id), 1.0);
    }
    let heal = sink
        .borrow()
        .records
        .iter()
        .find(|record| record.kind == EventKind::LivenessStart)
        .map(|record| record.detail.clone())
        .expect("the heal was traced");
    assert_eq!(heal, "heal_all [] normal speed again [0, 1, 2, 3]");
}

#[test]
fn a_slowdown_survives_a_crash_and_a_slow_on_a_crashed_node_still_sets_it() {
    let faults = vec![
        (500 * MILLISECOND, slow(Target::Nodes(vec![2]), 4.0)),
        (
            1_050 * MILLISECOND,
            TimedFault::new(Fault::Crash(Target::Nodes(vec![2, 3]))).lasting(500 * MILLISECOND),
        ),
        (1_200 * MILLISECOND, slow(Target::Nodes(vec![3]), 3.0)),
    ];
    let (world, _) = run(1, faults.clone(), 1_300 * MILLISECOND);
    assert!(!world.is_up(2) && !world.is_up(3));
    assert_eq!(world.slowdown(2), 4.0);
    assert_eq!(world.slowdown(3), 3.0);
    let (world, _) = run(1, faults, 3 * SECOND);
    assert_eq!(world.incarnation(2), 1);
    // The restarted nodes are fresh: their first sample is the restart's.
    assert_eq!(world.node(2).seen[0], (1_550 * MILLISECOND, 4.0));
    assert_eq!(world.node(3).seen[0], (1_550 * MILLISECOND, 3.0));
    assert_eq!(seen_at(&world, 2, 3 * SECOND), 4.0);
}

#[test]
fn the_undo_sets_normal_speed_on_the_nodes_the_fault_hit_even_after_a_later_slow() {
    let faults = vec![
        (
            500 * MILLISECOND,
            slow(Target::Random, 5.0).lasting(SECOND).labelled("slowed"),
        ),
        (1_000 * MILLISECOND, slow(Target::All, 2.0)),
    ];
    let (world, sink) = run(3, faults, 2 * SECOND);
    let slowed = world.label("slowed").expect("labelled")[0];
    assert_eq!(world.slowdown(slowed), 1.0);
    for id in (0..4).filter(|&id| id != slowed) {
        assert_eq!(world.slowdown(id), 2.0);
    }
    let events = slow_events(&sink);
    assert_eq!(events.len(), 3, "{events:?}");
    assert_eq!(events[2], format!("slow [{slowed}] factor 1"));
}

#[test]
fn slow_faults_are_deterministic_and_folded_into_the_trace_hash() {
    let faults = |value: f64| {
        (1..10)
            .map(|step| {
                (
                    step * 200 * MILLISECOND,
                    slow(Target::Random, value).lasting(150 * MILLISECOND),
                )
            })
            .collect::<Vec<_>>()
    };
    let (first, first_sink) = run(5, faults(3.0), 3 * SECOND);
    let (second, second_sink) = run(5, faults(3.0), 3 * SECOND);
    assert_eq!(first.trace_hash(), second.trace_hash());
    assert_eq!(first_sink.borrow().hashes, second_sink.borrow().hashes);
    // Another factor, or no slow fault at all, gives another trace.
    let (other, _) = run(5, faults(4.0), 3 * SECOND);
    assert_ne!(other.trace_hash(), first.trace_hash());
    let (quiet, _) = run(5, Vec::new(), 3 * SECOND);
    assert_ne!(quiet.trace_hash(), first.trace_hash());
}

/// The `[protocol]` table of the scenario-level tests.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct MillConfig {
    name: String,
    /// The `steady` checker fails once a node runs more than this many times
    /// slower. Default: never.
    #[serde(default = "never")]
    tolerance: f64,
}

fn never() -> f64 {
    f64::INFINITY
}

/// Fails once some node runs more than `tolerance` times slower.
struct Steady {
    tolerance: f64,
}

impl Checker<Mill> for Steady {
    fn name(&self) -> &'static str {
        "steady"
    }
    fn after_step(&mut self, world: &World<Mill>, _step: Step) -> Option<Finding> {
        (0..world.node_count())
            .find(|&id| world.slowdown(id) > self.tolerance)
            .map(|id| {
                Finding::always(
                    "steady",
                    format!("node {id} runs {} times slower", world.slowdown(id)),
                )
            })
    }
}

impl ProtocolSpec for Mill {
    type Config = MillConfig;
    const NAME: &'static str = "mill";
    const SUMMARY: &'static str = "samples the slowdown its handlers see";
    const BUGS: &'static [Declared] = &[];
    const PROPERTIES: &'static [Declared] = &[Declared::new(
        "steady",
        "no node runs more than `tolerance` times slower",
    )];
    const GROUPS: &'static [Declared] = &[Declared::new("workers", "every node but node 0")];

    fn active_bugs(_config: &MillConfig) -> Vec<String> {
        Vec::new()
    }
    fn node_factory(_setup: &Setup<'_, MillConfig>) -> NodeFactory<Self> {
        Rc::new(|_| Sampler::default())
    }
    fn client(_setup: &Setup<'_, MillConfig>, _index: usize) -> Sampler {
        Sampler::default()
    }
    fn checkers(setup: &Setup<'_, MillConfig>) -> Vec<Box<dyn Checker<Self>>> {
        vec![Box::new(Steady {
            tolerance: setup.config.tolerance,
        })]
    }
    fn groups(setup: &Setup<'_, MillConfig>) -> Vec<(&'static str, Vec<usize>)> {
        vec![("workers", (1..setup.nodes).collect())]
    }
}

fn mill_scenario(protocol: &str, rest: &str) -> ScenarioFile {
    let text = format!(
        "duration = \"3s\"\nliveness_window = \"1s\"\n[protocol]\nname = \"mill\"\n{protocol}\n[cluster]\nnodes = 4\n[workload]\nclients = 1\n{rest}"
    );
    ScenarioFile::from_text("mill.toml", text).unwrap()
}

#[test]
fn a_scripted_slow_fault_reads_from_the_scenario_with_its_factor_duration_and_label() {
    let faults = "[[faults]]\nat = \"1s\"\nkind = \"slow\"\ntarget = 3\nfactor = 2.5\nduration = \"500ms\"\nlabel = \"slowed\"\n\n[[faults]]\nat = \"2s\"\nkind = \"slow\"\ntarget = \"@slowed\"\n";
    let file = mill_scenario("", faults);
    let scenario = parse_for::<Mill>(&file).unwrap_or_else(|error| panic!("{error}"));
    let scripted = scenario.scripted_faults(&file.source());
    assert_eq!(
        scripted,
        [
            (
                SECOND,
                slow(Target::Nodes(vec![3]), 2.5)
                    .lasting(500 * MILLISECOND)
                    .labelled("slowed")
            ),
            (
                2 * SECOND,
                TimedFault::new(Fault::Slow {
                    target: Target::Label("slowed".into()),
                    factor: SlowFactor::DEFAULT,
                })
            ),
        ]
    );
    let outcome = run_scenario::<Mill>(&file, &scenario, &RunOptions::seed(1));
    assert!(outcome.passed(), "{:?}", outcome.summary.violations);
    assert_eq!(outcome.summary.sometimes.get("sim_node_slowed"), Some(&2));
}

#[test]
fn the_slow_nemesis_draws_factors_from_two_to_its_maximum_run_after_run() {
    let nemesis = "[nemesis]\nfaults = [\"slow\"]\nswarm = false\ninterval = [\"50ms\", \"50ms\"]\nduration = [\"10ms\", \"100ms\"]\nslow_factor_max = 3.5\n";
    let file = mill_scenario("", nemesis);
    let scenario = parse_for::<Mill>(&file).unwrap_or_else(|error| panic!("{error}"));
    let config = scenario.nemesis.as_ref().expect("a nemesis");
    let mut factors = Vec::new();
    for seed in 1..=10 {
        let draw = faultline::runner::nemesis::draw(config, seed);
        for (_, timed) in faultline::runner::nemesis::schedule(config, &draw, seed, 3 * SECOND) {
            let Fault::Slow { target, factor } = timed.fault else {
                panic!("the nemesis drew {:?}", timed.fault);
            };
            assert_eq!(target, Target::Random);
            assert!(timed.duration.is_some(), "a slow is undone");
            factors.push(factor.factor());
        }
        let outcome = run_scenario::<Mill>(&file, &scenario, &RunOptions::seed(seed));
        assert!(outcome.passed(), "{:?}", outcome.summary.violations);
        let again = run_scenario::<Mill>(&file, &scenario, &RunOptions::seed(seed));
        assert_eq!(outcome.summary.trace_hash, again.summary.trace_hash);
        assert!(
            outcome
                .summary
                .sometimes
                .get("sim_node_slowed")
                .is_some_and(|&n| n > 0)
        );
    }
    assert!(factors.len() > 100, "{} slow faults", factors.len());
    assert!(factors.iter().all(|&factor| (2.0..=3.5).contains(&factor)));
    assert!(factors.iter().any(|&factor| factor < 2.2));
    assert!(factors.iter().any(|&factor| factor > 3.3));
}

#[test]
fn a_slow_nemesis_failure_shrinks_to_explicit_slow_faults_that_read_back() {
    let nemesis = "[nemesis]\nfaults = [\"slow\", \"pause\"]\nswarm = false\ninterval = [\"200ms\", \"400ms\"]\nslow_factor_max = 20\n";
    let file = mill_scenario("tolerance = 15", nemesis);
    let registry = Registry::new().with(Entry::of::<Mill>());
    let scenario = parse_for::<Mill>(&file).unwrap_or_else(|error| panic!("{error}"));
    let seed = (1..=20)
        .find(|&seed| !run_scenario::<Mill>(&file, &scenario, &RunOptions::seed(seed)).passed())
        .expect("some seed slows a node more than 15 times");
    let result = shrink(&registry, &file, seed, true, &ShrinkOptions::default())
        .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(
        result.materialised,
        Materialised::Reproduced { same_trace: true },
        "{}",
        result.text
    );
    assert!(result.text.contains("kind = \"slow\""), "{}", result.text);
    assert!(result.text.contains("factor = "), "{}", result.text);
    assert!(!result.text.contains("[nemesis]"), "{}", result.text);
    // The shrunk file stands alone and still fails the same checker.
    let shrunk = ScenarioFile::from_text("shrunk.toml", result.text.clone()).unwrap();
    let scenario = parse_for::<Mill>(&shrunk).unwrap_or_else(|error| panic!("{error}"));
    let outcome = run_scenario::<Mill>(&shrunk, &scenario, &RunOptions::seed(seed));
    assert!(!outcome.passed());
    assert_eq!(outcome.summary.violations[0].checker, "steady");
}

#[test]
fn a_slow_nemesis_among_targets_shrinks_to_slow_faults_among_the_label() {
    let nemesis = "[nemesis]\nfaults = [\"slow\"]\nswarm = false\ninterval = [\"200ms\", \"400ms\"]\nslow_factor_max = 20\ntargets = \"@workers\"\n";
    let file = mill_scenario("tolerance = 15", nemesis);
    let registry = Registry::new().with(Entry::of::<Mill>());
    let scenario = parse_for::<Mill>(&file).unwrap_or_else(|error| panic!("{error}"));
    let seed = (1..=20)
        .find(|&seed| !run_scenario::<Mill>(&file, &scenario, &RunOptions::seed(seed)).passed())
        .expect("some seed slows a worker more than 15 times");
    let result = shrink(&registry, &file, seed, true, &ShrinkOptions::default())
        .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(
        result.materialised,
        Materialised::Reproduced { same_trace: true },
        "{}",
        result.text
    );
    assert!(
        result.text.contains("target = \"random@workers\""),
        "{}",
        result.text
    );
    // Node 0 is no worker: the shrunk run keeps a worker to slow.
    assert!(!result.text.contains("nodes = 1\n"), "{}", result.text);
    let shrunk = ScenarioFile::from_text("shrunk.toml", result.text.clone()).unwrap();
    let scenario = parse_for::<Mill>(&shrunk).unwrap_or_else(|error| panic!("{error}"));
    let outcome = run_scenario::<Mill>(&shrunk, &scenario, &RunOptions::seed(seed));
    assert_eq!(outcome.summary.violations[0].checker, "steady");
}
