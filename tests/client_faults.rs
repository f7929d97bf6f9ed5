//! Faults that reach clients: a paused client stops taking steps (its timers and
//! messages wait) while its clock runs on, and a skewed client clock bends the
//! times it reads, just as a node's does.

use faultline::sim::time::{Duration, MILLISECOND, SECOND};
use faultline::sim::{
    Client, ClientPick, Ctx, Fault, Node, ProcessId, Protocol, Target, TimedFault, World,
    WorldConfig,
};
use std::rc::Rc;

#[derive(Clone, Copy, Debug)]
struct Ticks;

#[derive(Clone, Debug)]
struct Quiet;

/// Ticks every 10 ms and records the local time of each tick.
#[derive(Clone, Debug, Default)]
struct Ticker {
    ticks: Vec<u64>,
}

impl Protocol for Ticks {
    type Msg = ();
    type Timer = ();
    type Node = Quiet;
    type Client = Ticker;
}

impl Node<Ticks> for Quiet {
    fn on_start(&mut self, _ctx: &mut Ctx<'_, Ticks>) {}
    fn on_message(&mut self, _ctx: &mut Ctx<'_, Ticks>, _from: ProcessId, _msg: ()) {}
    fn on_timer(&mut self, _ctx: &mut Ctx<'_, Ticks>, _timer: ()) {}
}

impl Client<Ticks> for Ticker {
    fn on_start(&mut self, ctx: &mut Ctx<'_, Ticks>) {
        ctx.set_timer(Duration(10 * MILLISECOND), Duration(10 * MILLISECOND), ());
    }
    fn on_message(&mut self, _ctx: &mut Ctx<'_, Ticks>, _from: ProcessId, _msg: ()) {}
    fn on_timer(&mut self, ctx: &mut Ctx<'_, Ticks>, _timer: ()) {
        self.ticks.push(ctx.now());
        ctx.set_timer(Duration(10 * MILLISECOND), Duration(10 * MILLISECOND), ());
    }
}

fn world(faults: Vec<(u64, TimedFault)>) -> World<Ticks> {
    let config = WorldConfig {
        seed: 3,
        nodes: 1,
        clients: 3,
        ..WorldConfig::default()
    };
    let mut world = World::new(&config, Rc::new(|_| Quiet), |_| Ticker::default());
    for (at, fault) in faults {
        world.schedule_fault(at, fault);
    }
    world.start();
    while world.step_until(2 * SECOND).is_some() {}
    world
}

#[test]
fn a_paused_client_takes_no_step_until_it_resumes_and_its_clock_runs_on() {
    let pause = TimedFault::new(Fault::Pause(Target::Client(ClientPick::Index(1))))
        .lasting(500 * MILLISECOND);
    let world = world(vec![(SECOND, pause)]);
    // An unskewed client's clock is true time, so its ticks say when it ran.
    let paused = &world.client(1).ticks;
    let during: Vec<_> = paused
        .iter()
        .filter(|at| **at > SECOND && **at < SECOND + 500 * MILLISECOND)
        .collect();
    assert!(
        during.is_empty(),
        "client 1 ticked while paused: {during:?}"
    );
    // The tick that waited runs at the resume, on a clock that kept running.
    let resumed = paused
        .iter()
        .find(|at| **at >= SECOND + 500 * MILLISECOND)
        .expect("client 1 ticks again after the pause");
    assert_eq!(*resumed, SECOND + 500 * MILLISECOND);
    // The other clients were not touched.
    for other in [0, 2] {
        let ticks = &world.client(other).ticks;
        assert!(
            ticks
                .iter()
                .any(|at| *at > SECOND && *at < SECOND + 500 * MILLISECOND),
            "client {other} should keep ticking"
        );
    }
    assert!(
        world
            .sometimes()
            .contains_key("sim_client_paused_backlog_released")
    );
}

#[test]
fn a_skewed_client_clock_reads_ahead_and_fires_timers_on_the_skewed_clock() {
    let skew = TimedFault::new(Fault::ClockSkew {
        target: Target::Client(ClientPick::All),
        offset: 300 * MILLISECOND as i64,
        drift_ppm: 0,
    });
    let world = world(vec![(SECOND, skew)]);
    for client in 0..3 {
        let ticks = &world.client(client).ticks;
        let jumps: Vec<u64> = ticks
            .windows(2)
            .map(|pair| pair[1] - pair[0])
            .filter(|gap| *gap != 10 * MILLISECOND)
            .collect();
        assert_eq!(
            jumps,
            [310 * MILLISECOND],
            "client {client}: one 300 ms jump"
        );
    }
    assert!(
        world
            .sometimes()
            .contains_key("sim_client_timer_on_skewed_clock")
    );
}

#[test]
fn node_selectors_never_pick_a_client() {
    // `random` resolves among nodes only, so a node pause leaves every client ticking.
    let pause = TimedFault::new(Fault::Pause(Target::Random)).lasting(500 * MILLISECOND);
    let world = world(vec![(SECOND, pause)]);
    for client in 0..3 {
        let ticks = &world.client(client).ticks;
        assert_eq!(ticks.len(), 200, "client {client} kept its 10 ms ticks");
    }
}
