//! The `slow` fault: a node runs k times slower for a while. The engine only
//! keeps the factor (per node, 1 by default) and hands it to the node's
//! handlers as `Ctx::slowdown`; a protocol that models work scales its service
//! time by it. The factor models the machine, so it survives a crash and a
//! restart, a later `slow` replaces it, the fault's duration sets it back to 1
//! on the nodes it hit, and the end of the fault phase resets every node. A
//! tiny protocol here samples what its handlers see.

use faultline::sim::time::{Duration, MILLISECOND, SECOND};
use faultline::sim::trace::{EventKind, MemorySink};
use faultline::sim::{
    Client, Ctx, Fault, Node, ProcessId, Protocol, SlowFactor, Target, TimedFault, World,
    WorldConfig,
};
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
