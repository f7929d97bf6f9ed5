//! Membership changes as engine faults: `join` makes running non-members
//! members and hands each `Admin::Join`, `leave` takes running members out
//! (never below the protocol's floor) and hands each `Admin::Leave`, and each
//! undoes the other after its duration. The world only keeps the operator's
//! view; a tiny protocol here records what it was told, and registered as a
//! spec with a floor it runs scenarios with spares and a membership nemesis.

use faultline::check::{Checker, Finding};
use faultline::runner::{ProtocolSpec, RunOptions, parse_for, run_scenario};
use faultline::scenario::ScenarioFile;
use faultline::sim::time::{MILLISECOND, SECOND};
use faultline::sim::trace::{EventKind, MemorySink};
use faultline::sim::{
    Admin, Client, Ctx, Fault, Node, NodeFactory, ProcessId, Protocol, Step, Target, TimedFault,
    World, WorldConfig,
};
use faultline::spec::{Declared, Setup};
use std::cell::RefCell;
use std::rc::Rc;

#[derive(Clone, Copy, Debug)]
struct Roster;

/// Records every membership command with the time it came, and tells every
/// other node about it, so the handler's effects are carried out too.
#[derive(Clone, Debug, Default)]
struct Member {
    told: Vec<(u64, Admin)>,
    heard: Vec<(ProcessId, Admin)>,
}

#[derive(Clone, Debug)]
struct Idle;

impl Protocol for Roster {
    type Msg = Admin;
    type Timer = ();
    type Node = Member;
    type Client = Idle;
}

impl Node<Roster> for Member {
    fn on_start(&mut self, _ctx: &mut Ctx<'_, Roster>) {}
    fn on_message(&mut self, _ctx: &mut Ctx<'_, Roster>, from: ProcessId, msg: Admin) {
        self.heard.push((from, msg));
    }
    fn on_timer(&mut self, _ctx: &mut Ctx<'_, Roster>, _timer: ()) {}
    fn on_admin(&mut self, ctx: &mut Ctx<'_, Roster>, admin: Admin) {
        self.told.push((ctx.now(), admin));
        ctx.broadcast(admin);
    }
}

impl Client<Roster> for Idle {
    fn on_start(&mut self, _ctx: &mut Ctx<'_, Roster>) {}
    fn on_message(&mut self, _ctx: &mut Ctx<'_, Roster>, _from: ProcessId, _msg: Admin) {}
    fn on_timer(&mut self, _ctx: &mut Ctx<'_, Roster>, _timer: ()) {}
}

/// A world of `nodes` nodes (the last `spares` of them outside), its floor
/// `min_members`, run to 3 s under `seed` with `faults`; its trace kept.
fn run(
    seed: u64,
    nodes: usize,
    spares: usize,
    min_members: usize,
    faults: Vec<(u64, TimedFault)>,
) -> (World<Roster>, Rc<RefCell<MemorySink>>) {
    let config = WorldConfig {
        seed,
        nodes,
        clients: 1,
        spares,
        ..WorldConfig::default()
    };
    let mut world = World::new(&config, Rc::new(|_| Member::default()), |_| Idle);
    world.set_min_members(min_members);
    let sink = Rc::new(RefCell::new(MemorySink::new(100_000)));
    world.set_sink(sink.clone());
    for (at, fault) in faults {
        world.schedule_fault(at, fault);
    }
    world.start();
    while world.step_until(3 * SECOND).is_some() {}
    (world, sink)
}

/// The trace details of the membership events.
fn membership_events(sink: &RefCell<MemorySink>) -> Vec<String> {
    sink.borrow()
        .records
        .iter()
        .filter(|record| record.kind == EventKind::Membership)
        .map(|record| record.detail.clone())
        .collect()
}

/// How many nodes a membership event's detail (`leave [1, 2] ...`) names as hit.
fn hit_count(detail: &str) -> usize {
    let open = detail.find('[').expect("a node list");
    let close = open + detail[open..].find(']').expect("a closed list");
    let list = detail[open + 1..close].trim();
    if list.is_empty() {
        0
    } else {
        list.split(',').count()
    }
}

fn admins(world: &World<Roster>, id: usize) -> Vec<Admin> {
    world
        .node(id)
        .told
        .iter()
        .map(|(_, admin)| *admin)
        .collect()
}

#[test]
fn spares_start_outside_and_a_join_hits_only_non_members() {
    let faults = vec![
        (SECOND, TimedFault::new(Fault::Join(Target::Nodes(vec![0])))),
        (2 * SECOND, TimedFault::new(Fault::Join(Target::All))),
    ];
    let (world, sink) = run(1, 5, 2, 3, faults);
    assert_eq!(world.min_members(), 3);
    assert_eq!(world.members(), [true; 5]);
    // Node 0 was already a member: the first join hit nobody.
    assert_eq!(membership_events(&sink), ["join []", "join [3, 4]"]);
    for id in 0..3 {
        assert!(
            admins(&world, id).is_empty(),
            "node {id} was told something"
        );
    }
    for id in [3, 4] {
        assert_eq!(world.node(id).told, [(2 * SECOND, Admin::Join)]);
    }
    // What the handlers sent went out: node 0 heard both joins.
    let mut heard = world.node(0).heard.clone();
    heard.sort_by_key(|(from, _)| *from);
    assert_eq!(heard, [(3, Admin::Join), (4, Admin::Join)]);
    assert_eq!(world.sometimes().get("sim_node_joined"), Some(&2));
    assert_eq!(world.sometimes().get("sim_node_left"), None);
}

#[test]
fn a_join_passes_over_crashed_and_paused_non_members() {
    let faults = vec![
        (
            SECOND / 2,
            TimedFault::new(Fault::Crash(Target::Nodes(vec![3]))),
        ),
        (
            SECOND / 2,
            TimedFault::new(Fault::Pause(Target::Nodes(vec![4]))),
        ),
        (SECOND, TimedFault::new(Fault::Join(Target::Random))),
        (SECOND, TimedFault::new(Fault::Join(Target::All))),
    ];
    let (world, sink) = run(1, 5, 2, 1, faults);
    assert_eq!(membership_events(&sink), ["join []", "join []"]);
    assert_eq!(world.members(), [true, true, true, false, false]);
    assert!(admins(&world, 3).is_empty() && admins(&world, 4).is_empty());
}

#[test]
fn a_leave_never_takes_the_membership_below_its_floor() {
    let faults = vec![
        (SECOND, TimedFault::new(Fault::Leave(Target::All))),
        (2 * SECOND, TimedFault::new(Fault::Leave(Target::Random))),
    ];
    let (world, sink) = run(1, 5, 0, 3, faults);
    // The first two of the resolved five leave; the rest stay, and say so.
    let events = membership_events(&sink);
    assert_eq!(
        events[0],
        "leave [0, 1] [2, 3, 4] stay: 5 members, at least 3 must remain"
    );
    // At the floor, the random pick (one of 2, 3, 4) stays too.
    assert!(
        events[1].starts_with("leave [] [")
            && events[1].ends_with("] stay: 3 members, at least 3 must remain"),
        "{}",
        events[1]
    );
    assert_eq!(events.len(), 2);
    assert_eq!(world.members(), [false, false, true, true, true]);
    assert_eq!(admins(&world, 0), [Admin::Leave]);
    assert_eq!(admins(&world, 1), [Admin::Leave]);
    for id in 2..5 {
        assert!(admins(&world, id).is_empty(), "node {id} was told to leave");
        assert!(world.is_member(id));
    }
    assert_eq!(world.sometimes().get("sim_node_left"), Some(&2));
}

#[test]
fn a_leave_skips_non_members_and_down_members() {
    let faults = vec![
        (
            SECOND / 2,
            TimedFault::new(Fault::Crash(Target::Nodes(vec![1]))),
        ),
        (
            SECOND,
            TimedFault::new(Fault::Leave(Target::Nodes(vec![1, 2, 4]))),
        ),
    ];
    // Node 4 is a spare, node 1 is down: only node 2 leaves.
    let (world, sink) = run(1, 5, 1, 1, faults);
    assert_eq!(membership_events(&sink), ["leave [2]"]);
    assert_eq!(world.members(), [true, true, false, true, false]);
}

#[test]
fn a_timed_leave_comes_back_with_a_join_and_a_timed_join_with_a_leave() {
    let faults = vec![
        (
            SECOND,
            TimedFault::new(Fault::Leave(Target::Random))
                .lasting(500 * MILLISECOND)
                .labelled("gone"),
        ),
        (
            SECOND,
            TimedFault::new(Fault::Join(Target::Nodes(vec![3]))).lasting(700 * MILLISECOND),
        ),
    ];
    let (world, sink) = run(7, 4, 1, 2, faults);
    let events = membership_events(&sink);
    assert_eq!(events.len(), 4, "{events:?}");
    let gone = world
        .label("gone")
        .expect("the leave set its label")
        .to_vec();
    assert_eq!(gone.len(), 1);
    let left = gone[0];
    assert!(left < 3, "a spare cannot leave");
    assert_eq!(
        world.node(left).told,
        [
            (SECOND, Admin::Leave),
            (SECOND + 500 * MILLISECOND, Admin::Join)
        ]
    );
    assert_eq!(
        world.node(3).told,
        [
            (SECOND, Admin::Join),
            (SECOND + 700 * MILLISECOND, Admin::Leave)
        ]
    );
    assert_eq!(world.members(), [true, true, true, false]);
    assert_eq!(events[2], format!("join [{left}]"));
    assert_eq!(events[3], "leave [3]");
}

#[test]
fn membership_changes_are_deterministic_and_folded_into_the_trace_hash() {
    let faults = || {
        (1..20)
            .map(|step| {
                let fault = if step % 2 == 0 {
                    Fault::Join(Target::Random)
                } else {
                    Fault::Leave(Target::Minority)
                };
                (
                    step * 100 * MILLISECOND,
                    TimedFault::new(fault).lasting(150 * MILLISECOND),
                )
            })
            .collect::<Vec<_>>()
    };
    let (first, first_sink) = run(11, 6, 2, 2, faults());
    let (second, second_sink) = run(11, 6, 2, 2, faults());
    assert_eq!(first.trace_hash(), second.trace_hash());
    assert_eq!(first_sink.borrow().hashes, second_sink.borrow().hashes);
    assert_eq!(first.members(), second.members());
    assert!(first.sometimes().contains_key("sim_node_joined"));
    assert!(first.sometimes().contains_key("sim_node_left"));
    // Membership never fell below the floor at any moment.
    let mut members = 4usize;
    for detail in membership_events(&first_sink) {
        let hit = hit_count(&detail);
        if detail.starts_with("join") {
            members += hit;
        } else {
            members -= hit;
        }
        assert!(members >= 2, "{detail}: {members} members");
    }
    // The same faults without the membership changes give another trace.
    let (quiet, _) = run(11, 6, 2, 2, Vec::new());
    assert_ne!(quiet.trace_hash(), first.trace_hash());
}

/// The `[protocol]` table of the scenario-level tests: the floor is a key.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RosterConfig {
    name: String,
    min_members: usize,
}

/// Checks after every step that the membership never falls below the floor.
struct Floor {
    min_members: usize,
}

impl Checker<Roster> for Floor {
    fn name(&self) -> &'static str {
        "floor"
    }
    fn after_step(&mut self, world: &World<Roster>, _step: Step) -> Option<Finding> {
        let members = world.members().iter().filter(|&&member| member).count();
        (members < self.min_members).then(|| {
            Finding::always(
                "floor",
                format!("{members} members, below {}", self.min_members),
            )
        })
    }
}

impl ProtocolSpec for Roster {
    type Config = RosterConfig;
    const NAME: &'static str = "roster";
    const SUMMARY: &'static str = "records the membership commands it gets";
    const BUGS: &'static [Declared] = &[];
    const PROPERTIES: &'static [Declared] = &[Declared::new(
        "floor",
        "the membership never falls below the floor",
    )];

    fn min_members(setup: &Setup<'_, RosterConfig>) -> Option<usize> {
        Some(setup.config.min_members)
    }
    fn active_bugs(_config: &RosterConfig) -> Vec<String> {
        Vec::new()
    }
    fn node_factory(_setup: &Setup<'_, RosterConfig>) -> NodeFactory<Self> {
        Rc::new(|_| Member::default())
    }
    fn client(_setup: &Setup<'_, RosterConfig>, _index: usize) -> Idle {
        Idle
    }
    fn checkers(setup: &Setup<'_, RosterConfig>) -> Vec<Box<dyn Checker<Self>>> {
        vec![Box::new(Floor {
            min_members: setup.config.min_members,
        })]
    }
}

fn roster_scenario(cluster: &str, min_members: usize, rest: &str) -> ScenarioFile {
    let text = format!(
        "duration = \"3s\"\nliveness_window = \"1s\"\n[protocol]\nname = \"roster\"\nmin_members = {min_members}\n[cluster]\n{cluster}\n[workload]\nclients = 0\n{rest}"
    );
    ScenarioFile::from_text("roster.toml", text).unwrap()
}

#[test]
fn a_scenario_with_spares_and_a_membership_nemesis_keeps_the_floor_run_after_run() {
    let nemesis = "[nemesis]\nfaults = [\"join\", \"leave\", \"crash\", \"pause\"]\ninterval = [\"20ms\", \"100ms\"]\nduration = [\"10ms\", \"500ms\"]\n";
    let file = roster_scenario("nodes = 6\nspares = 2", 3, nemesis);
    let scenario = parse_for::<Roster>(&file).unwrap_or_else(|error| panic!("{error}"));
    let (mut joined, mut left) = (0, 0);
    for seed in 1..=20 {
        let outcome = run_scenario::<Roster>(&file, &scenario, &RunOptions::seed(seed));
        assert!(
            outcome.passed(),
            "seed {seed}: {:?}",
            outcome.summary.violations
        );
        let again = run_scenario::<Roster>(&file, &scenario, &RunOptions::seed(seed));
        assert_eq!(outcome.summary.trace_hash, again.summary.trace_hash);
        let sometimes = &outcome.summary.sometimes;
        joined += sometimes.get("sim_node_joined").copied().unwrap_or(0);
        left += sometimes.get("sim_node_left").copied().unwrap_or(0);
    }
    assert!(joined > 0 && left > 0, "joined {joined}, left {left}");
}

#[test]
fn the_runner_hands_the_protocols_floor_to_the_world() {
    // Five members, floor 4: of the `all` the leave resolves to, one leaves.
    let faults = "[[faults]]\nat = \"1s\"\nkind = \"leave\"\ntarget = \"all\"\n";
    let file = roster_scenario("nodes = 6\nspares = 1", 4, faults);
    let scenario = parse_for::<Roster>(&file).unwrap_or_else(|error| panic!("{error}"));
    let outcome = run_scenario::<Roster>(&file, &scenario, &RunOptions::seed(1));
    assert!(outcome.passed(), "{:?}", outcome.summary.violations);
    assert_eq!(outcome.summary.sometimes.get("sim_node_left"), Some(&1));
}

#[test]
fn fewer_members_at_the_start_than_the_floor_is_an_error_at_cluster_spares() {
    let file = roster_scenario("nodes = 4\nspares = 2", 3, "");
    let error = parse_for::<Roster>(&file).expect_err("two members, floor three");
    let shown = error.to_string();
    assert_eq!(error.key.as_deref(), Some("cluster.spares"), "{shown}");
    assert_eq!(error.line, Some(8), "{shown}");
    assert!(
        shown.contains(
            "2 of the 4 nodes start as members (2 spares), below the 3 protocol 'roster' needs"
        ),
        "{shown}"
    );
    // Without spares, the nodes themselves are too few.
    let file = roster_scenario("nodes = 2", 3, "");
    let error = parse_for::<Roster>(&file).expect_err("two members, floor three");
    assert_eq!(error.key.as_deref(), Some("cluster.nodes"), "{error}");
}
