//! The faults the MIT 6.824 Raft lab tester uses, on a small chatter protocol:
//! lab-style `disconnect`/`connect` (a message passes iff both ends are
//! connected), labels that remember who a fault hit (`@label` targets), and the
//! `follower` selector.

use faultline::sim::time::{Duration, MILLISECOND};
use faultline::sim::trace::{EventKind, MemorySink, SharedSink};
use faultline::sim::{
    Client, Ctx, Fault, Latency, NetworkConfig, Node, ProcessId, Protocol, Role, Status, Target,
    TimedFault, World, WorldConfig,
};
use std::cell::RefCell;
use std::rc::Rc;

#[derive(Clone, Copy, Debug)]
struct Chat;

#[derive(Clone, Debug, Default)]
struct ChatNode {
    /// Reports itself leader (term 1) when true.
    leader: bool,
    /// (from, delivered at) of every message handled.
    heard: Vec<(ProcessId, u64)>,
}

#[derive(Clone, Debug)]
struct NoClient;

impl Protocol for Chat {
    type Msg = u64;
    type Timer = ();
    type Node = ChatNode;
    type Client = NoClient;
}

impl Node<Chat> for ChatNode {
    fn on_start(&mut self, ctx: &mut Ctx<'_, Chat>) {
        ctx.set_timer(Duration(MILLISECOND), Duration(MILLISECOND), ());
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Chat>, from: ProcessId, _msg: u64) {
        self.heard.push((from, ctx.now()));
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Chat>, _timer: ()) {
        let now = ctx.now();
        ctx.broadcast(now);
        ctx.set_timer(Duration(MILLISECOND), Duration(MILLISECOND), ());
    }

    fn status(&self) -> Status {
        Status {
            role: if self.leader {
                Role::Leader
            } else {
                Role::Follower
            },
            term: 1,
        }
    }
}

impl Client<Chat> for NoClient {
    fn on_start(&mut self, _ctx: &mut Ctx<'_, Chat>) {}
    fn on_message(&mut self, _ctx: &mut Ctx<'_, Chat>, _from: ProcessId, _msg: u64) {}
    fn on_timer(&mut self, _ctx: &mut Ctx<'_, Chat>, _timer: ()) {}
}

/// A world of `nodes` chatting nodes (1 ms constant latency) where `leader`, if
/// any, reports itself leader; with a sink that keeps every trace record.
fn world(nodes: usize, leader: Option<usize>, seed: u64) -> (World<Chat>, Rc<RefCell<MemorySink>>) {
    let config = WorldConfig {
        seed,
        nodes,
        clients: 0,
        network: NetworkConfig {
            latency: Latency::Constant {
                value: Duration(MILLISECOND),
            },
            ..NetworkConfig::default()
        },
        ..WorldConfig::default()
    };
    let mut world = World::new(
        &config,
        Rc::new(move |id| ChatNode {
            leader: Some(id) == leader,
            ..ChatNode::default()
        }),
        |_| NoClient,
    );
    let sink = Rc::new(RefCell::new(MemorySink::new(usize::MAX)));
    world.set_sink(sink.clone() as SharedSink);
    world.start();
    (world, sink)
}

fn run_until(world: &mut World<Chat>, time: u64) {
    while world.step_until(time).is_some() {}
}

fn at(world: &mut World<Chat>, ms: u64, fault: Fault) {
    world.schedule_fault(ms * MILLISECOND, TimedFault::new(fault));
}

/// The trace details of the faults of `kind` applied so far.
fn fault_details(sink: &Rc<RefCell<MemorySink>>, kind: EventKind) -> Vec<String> {
    sink.borrow()
        .records
        .iter()
        .filter(|record| record.kind == kind)
        .map(|record| record.detail.clone())
        .collect()
}

/// Senders each node heard from among messages delivered in `[from_ms, to_ms)`.
fn heard(world: &World<Chat>, from_ms: u64, to_ms: u64) -> Vec<Vec<usize>> {
    let window = from_ms * MILLISECOND..to_ms * MILLISECOND;
    (0..world.node_count())
        .map(|id| {
            let mut senders: Vec<usize> = world
                .node(id)
                .heard
                .iter()
                .filter(|(_, at)| window.contains(at))
                .map(|(from, _)| *from)
                .collect();
            senders.sort_unstable();
            senders.dedup();
            senders
        })
        .collect()
}

/// Every directed link between two distinct nodes of which one is in `ids`.
fn links_touching(nodes: usize, ids: &[usize]) -> Vec<(usize, usize)> {
    (0..nodes)
        .flat_map(|a| (0..nodes).map(move |b| (a, b)))
        .filter(|&(a, b)| a != b && (ids.contains(&a) || ids.contains(&b)))
        .collect()
}

fn disconnected(world: &World<Chat>) -> Vec<usize> {
    (0..world.node_count())
        .filter(|&id| world.is_disconnected(id))
        .collect()
}

#[test]
fn disconnects_accumulate_instead_of_replacing_each_other() {
    let (mut world, _) = world(5, None, 1);
    at(&mut world, 10, Fault::Disconnect(Target::Nodes(vec![1])));
    at(&mut world, 20, Fault::Disconnect(Target::Nodes(vec![3])));
    run_until(&mut world, 15 * MILLISECOND);
    assert_eq!(world.network().cut_links(), links_touching(5, &[1]));
    run_until(&mut world, 50 * MILLISECOND);
    assert_eq!(disconnected(&world), vec![1, 3]);
    assert_eq!(world.network().cut_links(), links_touching(5, &[1, 3]));
    assert_eq!(
        heard(&world, 22, 50),
        vec![vec![2, 4], vec![], vec![0, 4], vec![], vec![0, 2]]
    );
}

#[test]
fn connect_restores_only_the_links_to_connected_nodes() {
    let (mut world, _) = world(5, None, 1);
    at(&mut world, 10, Fault::Disconnect(Target::Nodes(vec![1, 3])));
    at(&mut world, 20, Fault::Connect(Target::Nodes(vec![1])));
    at(&mut world, 50, Fault::Connect(Target::Nodes(vec![3])));
    run_until(&mut world, 45 * MILLISECOND);
    assert_eq!(disconnected(&world), vec![3]);
    assert_eq!(
        world.network().cut_links(),
        links_touching(5, &[3]),
        "1 is back with everyone but 3"
    );
    let window = heard(&world, 22, 45);
    assert_eq!(window[1], vec![0, 2, 4]);
    assert!(window[3].is_empty());
    run_until(&mut world, 80 * MILLISECOND);
    assert!(disconnected(&world).is_empty());
    assert!(world.network().cut_links().is_empty());
    assert_eq!(heard(&world, 52, 80)[3], vec![0, 1, 2, 4]);
}

#[test]
fn connecting_two_nodes_at_once_joins_them_to_each_other_too() {
    let (mut world, _) = world(4, None, 1);
    at(
        &mut world,
        10,
        Fault::Disconnect(Target::Nodes(vec![0, 1, 2])),
    );
    at(&mut world, 20, Fault::Connect(Target::Nodes(vec![0, 1])));
    run_until(&mut world, 30 * MILLISECOND);
    assert_eq!(disconnected(&world), vec![2]);
    assert_eq!(world.network().cut_links(), links_touching(4, &[2]));
}

#[test]
fn heal_partitions_and_the_end_of_the_fault_phase_clear_every_disconnect() {
    let (mut world, _) = world(5, None, 1);
    at(&mut world, 10, Fault::Disconnect(Target::Nodes(vec![1, 2])));
    at(&mut world, 20, Fault::Heal);
    at(&mut world, 30, Fault::Disconnect(Target::Nodes(vec![4])));
    at(
        &mut world,
        40,
        Fault::Partition {
            groups: vec![vec![0, 1], vec![2, 3, 4]],
        },
    );
    at(&mut world, 50, Fault::Disconnect(Target::Nodes(vec![0])));
    at(&mut world, 60, Fault::HealAll);
    run_until(&mut world, 25 * MILLISECOND);
    assert!(disconnected(&world).is_empty());
    assert!(world.network().cut_links().is_empty());
    run_until(&mut world, 45 * MILLISECOND);
    assert!(disconnected(&world).is_empty(), "the partition replaced it");
    assert_eq!(world.network().cut_links().len(), 12);
    run_until(&mut world, 55 * MILLISECOND);
    assert_eq!(
        disconnected(&world),
        vec![0],
        "a disconnect adds to a partition"
    );
    assert_eq!(
        world.network().cut_links().len(),
        12 + 2,
        "0 -- 1 is cut too"
    );
    run_until(&mut world, 65 * MILLISECOND);
    assert!(disconnected(&world).is_empty());
    assert!(world.network().cut_links().is_empty());
}

#[test]
fn a_timed_disconnect_is_undone_by_connecting_the_same_nodes() {
    let (mut world, sink) = world(5, Some(2), 1);
    world.schedule_fault(
        10 * MILLISECOND,
        TimedFault::new(Fault::Disconnect(Target::Leader)).lasting(20 * MILLISECOND),
    );
    at(&mut world, 15, Fault::Disconnect(Target::Nodes(vec![4])));
    run_until(&mut world, 29 * MILLISECOND);
    assert_eq!(disconnected(&world), vec![2, 4]);
    run_until(&mut world, 30 * MILLISECOND);
    assert_eq!(disconnected(&world), vec![4], "only the leader came back");
    assert_eq!(
        fault_details(&sink, EventKind::Disconnect),
        vec!["disconnect [2]", "disconnect [4]"]
    );
    assert_eq!(
        fault_details(&sink, EventKind::Connect),
        vec!["connect [2]"]
    );
}

#[test]
fn selectors_pick_connected_nodes_to_disconnect_and_disconnected_ones_to_connect() {
    let (mut world, sink) = world(5, None, 3);
    at(&mut world, 10, Fault::Disconnect(Target::Nodes(vec![1, 3])));
    at(&mut world, 20, Fault::Connect(Target::Random));
    at(&mut world, 30, Fault::Disconnect(Target::All));
    at(&mut world, 40, Fault::Connect(Target::Nodes(vec![0, 1, 2])));
    run_until(&mut world, 25 * MILLISECOND);
    let still = disconnected(&world);
    assert!(still == vec![1] || still == vec![3], "{still:?}");
    let connected = if still == vec![1] { 3 } else { 1 };
    assert_eq!(
        fault_details(&sink, EventKind::Connect),
        vec![format!("connect [{connected}]")]
    );
    run_until(&mut world, 35 * MILLISECOND);
    let mut newly: Vec<usize> = vec![0, 2, 4, connected];
    newly.sort_unstable();
    assert_eq!(
        fault_details(&sink, EventKind::Disconnect)[1],
        format!("disconnect {newly:?}"),
        "`all` means every node still connected"
    );
    run_until(&mut world, 45 * MILLISECOND);
    assert_eq!(disconnected(&world), vec![3, 4]);
    assert_eq!(world.network().cut_links(), links_touching(5, &[3, 4]));
}

#[test]
fn a_label_remembers_who_a_fault_hit_and_at_label_hits_them_again() {
    let (mut world, sink) = world(5, Some(3), 1);
    world.schedule_fault(
        10 * MILLISECOND,
        TimedFault::new(Fault::Disconnect(Target::Leader)).labelled("leader1"),
    );
    at(
        &mut world,
        20,
        Fault::Crash(Target::Label("leader1".into())),
    );
    at(
        &mut world,
        30,
        Fault::Restart(Target::Label("leader1".into())),
    );
    at(
        &mut world,
        40,
        Fault::Connect(Target::Label("leader1".into())),
    );
    run_until(&mut world, 15 * MILLISECOND);
    assert_eq!(world.label("leader1"), Some(&[3][..]));
    run_until(&mut world, 25 * MILLISECOND);
    assert!(!world.is_up(3));
    run_until(&mut world, 45 * MILLISECOND);
    assert!(world.is_up(3));
    assert!(disconnected(&world).is_empty());
    assert_eq!(
        fault_details(&sink, EventKind::Disconnect),
        vec!["disconnect [3] label leader1 = [3]"]
    );
    assert_eq!(fault_details(&sink, EventKind::Crash), vec!["crash [3]"]);
}

#[test]
fn an_unset_label_hits_nobody_and_the_trace_says_so() {
    let (mut world, sink) = world(5, Some(3), 1);
    at(
        &mut world,
        10,
        Fault::Crash(Target::Label("nobody_yet".into())),
    );
    run_until(&mut world, 20 * MILLISECOND);
    assert!((0..5).all(|id| world.is_up(id)));
    assert_eq!(world.label("nobody_yet"), None);
    assert_eq!(
        fault_details(&sink, EventKind::Crash),
        vec!["crash [] @nobody_yet is unset: it names nobody"]
    );
}

#[test]
fn a_label_resolves_only_among_the_faults_candidates() {
    let (mut world, sink) = world(5, None, 1);
    world.set_label("pair", vec![4, 1, 4]);
    assert_eq!(world.label("pair"), Some(&[1, 4][..]), "sorted, no repeats");
    at(&mut world, 10, Fault::Crash(Target::Nodes(vec![1])));
    at(&mut world, 20, Fault::Crash(Target::Label("pair".into())));
    run_until(&mut world, 30 * MILLISECOND);
    assert_eq!(
        fault_details(&sink, EventKind::Crash),
        vec!["crash [1]", "crash [4]"],
        "1 was already down, so only 4 was a candidate"
    );
}

#[test]
fn a_labelled_fault_that_hits_nobody_stores_an_empty_label() {
    let (mut world, _) = world(3, None, 1);
    world.schedule_fault(
        10 * MILLISECOND,
        TimedFault::new(Fault::Disconnect(Target::Leader)).labelled("leader1"),
    );
    run_until(&mut world, 20 * MILLISECOND);
    assert_eq!(world.label("leader1"), Some(&[][..]));
}

#[test]
fn a_labelled_one_way_cut_remembers_its_senders() {
    let (mut world, _) = world(4, None, 1);
    world.schedule_fault(
        10 * MILLISECOND,
        TimedFault::new(Fault::OneWay {
            from: Target::Nodes(vec![2]),
            to: Target::Nodes(vec![0, 1]),
        })
        .labelled("talker"),
    );
    run_until(&mut world, 20 * MILLISECOND);
    assert_eq!(world.label("talker"), Some(&[2][..]));
}

/// With 4 nodes, node 1 leader and node 3 crashed: who `disconnect follower`
/// hits under `seed`, and the trace hash.
fn follower_disconnected(seed: u64) -> (Vec<usize>, u64) {
    let (mut world, _) = world(4, Some(1), seed);
    at(&mut world, 10, Fault::Crash(Target::Nodes(vec![3])));
    at(&mut world, 20, Fault::Disconnect(Target::Follower));
    run_until(&mut world, 30 * MILLISECOND);
    (disconnected(&world), world.trace_hash())
}

#[test]
fn the_follower_selector_never_picks_the_leader_or_a_crashed_node() {
    let mut picked = std::collections::BTreeSet::new();
    for seed in 0..40 {
        let (hit, hash) = follower_disconnected(seed);
        assert!(
            hit == vec![0] || hit == vec![2],
            "seed {seed}: picked {hit:?}"
        );
        assert_eq!(
            follower_disconnected(seed),
            (hit.clone(), hash),
            "seed {seed}"
        );
        picked.insert(hit[0]);
    }
    assert_eq!(picked.len(), 2, "both followers get picked over 40 seeds");
}
