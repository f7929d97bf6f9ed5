//! Targets among a label's nodes: `selector@label` (`random@workers`) resolves a
//! selector among the nodes stored under the label only, and the nemesis's
//! `targets = "@name"` makes every kind that picks nodes pick that way, while
//! partitions and bridges still split every node. A tiny protocol with groups
//! (node 0 reports itself leader) records nothing; the trace says whom each
//! fault hit.

use crate::common::run_file;
use faultline::check::Checker;
use faultline::runner::{ProtocolSpec, RunOptions, parse_for, run_scenario};
use faultline::scenario::ScenarioFile;
use faultline::sim::time::{MILLISECOND, SECOND};
use faultline::sim::trace::{EventKind, MemorySink, TraceRecord};
use faultline::sim::{
    Client, Ctx, Fault, Node, NodeFactory, ProcessId, Protocol, Role, SlowFactor, Status, Target,
    TimedFault, World, WorldConfig,
};
use faultline::spec::{Declared, Setup};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

#[derive(Clone, Copy, Debug)]
struct Herd;

/// Node 0 reports itself leader (term 1); every node writes and syncs a file
/// on a tick, so the disk faults have something to hit.
#[derive(Clone, Debug)]
struct Member {
    id: usize,
}

#[derive(Clone, Debug)]
struct Idle;

impl Protocol for Herd {
    type Msg = ();
    type Timer = ();
    type Node = Member;
    type Client = Idle;
}

fn tick(ctx: &mut Ctx<'_, Herd>) {
    let ms = faultline::sim::Duration::from_millis(50);
    ctx.set_timer(ms, ms, ());
}

impl Node<Herd> for Member {
    fn on_start(&mut self, ctx: &mut Ctx<'_, Herd>) {
        tick(ctx);
    }
    fn on_message(&mut self, _ctx: &mut Ctx<'_, Herd>, _from: ProcessId, _msg: ()) {}
    fn on_timer(&mut self, ctx: &mut Ctx<'_, Herd>, _timer: ()) {
        ctx.disk().append("log", vec![self.id as u8; 4]);
        ctx.disk().sync();
        ctx.broadcast(());
        tick(ctx);
    }
    fn status(&self) -> Status {
        Status {
            role: if self.id == 0 {
                Role::Leader
            } else {
                Role::Follower
            },
            term: 1,
        }
    }
}

impl Client<Herd> for Idle {
    fn on_start(&mut self, _ctx: &mut Ctx<'_, Herd>) {}
    fn on_message(&mut self, _ctx: &mut Ctx<'_, Herd>, _from: ProcessId, _msg: ()) {}
    fn on_timer(&mut self, _ctx: &mut Ctx<'_, Herd>, _timer: ()) {}
}

/// Five nodes; `workers` are 2, 3 and 4, `head` is node 0, the leader.
fn world(seed: u64, faults: Vec<(u64, TimedFault)>) -> (World<Herd>, Vec<TraceRecord>) {
    let config = WorldConfig {
        seed,
        nodes: 5,
        clients: 0,
        ..WorldConfig::default()
    };
    let mut world = World::new(&config, Rc::new(|id| Member { id }), |_| Idle);
    world.set_label("workers", vec![2, 3, 4]);
    world.set_label("head", vec![0]);
    let sink = Rc::new(RefCell::new(MemorySink::new(100_000)));
    world.set_sink(sink.clone());
    for (at, fault) in faults {
        world.schedule_fault(at, fault);
    }
    world.start();
    while world.step_until(2 * SECOND).is_some() {}
    let records = sink.borrow().records.clone();
    (world, records)
}

fn is_fault(kind: EventKind) -> bool {
    !matches!(
        kind,
        EventKind::Start
            | EventKind::Send
            | EventKind::Deliver
            | EventKind::Drop
            | EventKind::Duplicate
            | EventKind::Timer
            | EventKind::Invoke
            | EventKind::Complete
    )
}

/// The node list that follows `after` in `detail` (`crash [2, 3]`).
fn ids_after(detail: &str, after: &str) -> Option<Vec<usize>> {
    let start = detail.find(after)? + after.len();
    let rest = detail[start..].strip_prefix('[')?;
    let list = &rest[..rest.find(']')?];
    Some(
        list.split(',')
            .map(str::trim)
            .filter(|id| !id.is_empty())
            .map(|id| id.parse().unwrap())
            .collect(),
    )
}

/// Whom each fault event hit: (fault name, nodes). For `one_way` the
/// senders, for `isolate` the nodes cut off.
fn hits(records: &[TraceRecord]) -> Vec<(String, Vec<usize>)> {
    records
        .iter()
        .filter(|record| is_fault(record.kind))
        .map(|record| {
            let name = record.detail.split(' ').next().unwrap().to_string();
            let hit = match name.as_str() {
                "one_way" => ids_after(&record.detail, "one way: "),
                _ => ids_after(&record.detail, &format!("{name} ")),
            };
            (name, hit.unwrap_or_default())
        })
        .collect()
}

fn crash(target: Target) -> TimedFault {
    TimedFault::new(Fault::Crash(target))
}

#[test]
fn a_selector_within_a_label_picks_among_its_nodes_only() {
    let within = |pick: Target, label: &str| pick.within(Some(label));
    let faults = vec![
        (100 * MILLISECOND, crash(within(Target::Leader, "workers"))),
        (200 * MILLISECOND, crash(within(Target::Leader, "head"))),
        (
            300 * MILLISECOND,
            crash(within(Target::Minority, "workers")),
        ),
        (
            400 * MILLISECOND,
            TimedFault::new(Fault::Pause(within(Target::Majority, "workers"))),
        ),
        (
            500 * MILLISECOND,
            TimedFault::new(Fault::Slow {
                target: within(Target::All, "workers"),
                factor: SlowFactor::DEFAULT,
            }),
        ),
        (600 * MILLISECOND, crash(within(Target::Random, "nobody"))),
        (
            700 * MILLISECOND,
            TimedFault::new(Fault::Isolate(within(Target::Follower, "workers"))),
        ),
    ];
    let (world, records) = world(1, faults);
    let hit = hits(&records);
    let events: Vec<&str> = records
        .iter()
        .filter(|record| is_fault(record.kind))
        .map(|record| record.detail.as_str())
        .collect();
    assert_eq!(hit.len(), 7, "{events:?}");
    // The leader (node 0) is not a worker: crash_leader among the workers
    // hits nobody, among the head it hits node 0.
    assert_eq!(hit[0].1, Vec::<usize>::new());
    assert_eq!(hit[1].1, [0]);
    // A minority of the three workers is one of them, a majority two.
    assert_eq!(hit[2].1.len(), 1);
    assert!(hit[2].1.iter().all(|id| [2, 3, 4].contains(id)));
    let crashed = hit[2].1[0];
    assert_eq!(hit[3].1.len(), 2, "{events:?}");
    assert!(
        hit[3]
            .1
            .iter()
            .all(|id| [2, 3, 4].contains(id) && *id != crashed)
    );
    // Every worker is slowed, crashed or paused or not; no one else.
    assert_eq!(hit[4].1, [2, 3, 4]);
    assert_eq!(world.slowdown(1), 1.0);
    // An unset label names nobody, and the trace says so.
    assert_eq!(events[5], "crash [] @nobody is unset: it names nobody");
    // A follower among the workers: an up worker (the paused ones are up).
    assert_eq!(hit[6].1.len(), 1);
    assert!(hit[3].1.contains(&hit[6].1[0]), "{events:?}");
    assert!(world.is_up(1) && !world.is_up(crashed));
}

/// The `[protocol]` table of the scenario-level tests.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct HerdConfig {
    name: String,
}

impl ProtocolSpec for Herd {
    type Config = HerdConfig;
    const NAME: &'static str = "herd";
    const SUMMARY: &'static str = "node 0 leads; the others work";
    const BUGS: &'static [Declared] = &[];
    const PROPERTIES: &'static [Declared] = &[];
    const GROUPS: &'static [Declared] = &[
        Declared::new("workers", "nodes 2 and up"),
        Declared::new("head", "node 0, the leader"),
    ];

    fn active_bugs(_config: &HerdConfig) -> Vec<String> {
        Vec::new()
    }
    fn node_factory(_setup: &Setup<'_, HerdConfig>) -> NodeFactory<Self> {
        Rc::new(|id| Member { id })
    }
    fn client(_setup: &Setup<'_, HerdConfig>, _index: usize) -> Idle {
        Idle
    }
    fn checkers(_setup: &Setup<'_, HerdConfig>) -> Vec<Box<dyn Checker<Self>>> {
        Vec::new()
    }
    fn groups(setup: &Setup<'_, HerdConfig>) -> Vec<(&'static str, Vec<usize>)> {
        vec![("workers", (2..setup.nodes).collect()), ("head", vec![0])]
    }
}

/// Every nemesis kind that picks nodes, with partitions and bridges beside them.
const EVERY_NODE_KIND: &str = "[\"partition\", \"bridge\", \"isolate\", \"one_way\", \"crash\", \"crash_leader\", \"pause\", \"clock_skew\", \"slow\", \"disk_corrupt\", \"disk_lose_unsynced\", \"disk_fail_read\", \"disk_misdirect\", \"disk_transpose\"]";

fn herd_scenario(nemesis: &str) -> ScenarioFile {
    let text = format!(
        "duration = \"4s\"\nliveness_window = \"1s\"\n[protocol]\nname = \"herd\"\n[cluster]\nnodes = 5\n[workload]\nclients = 0\n[nemesis]\nfaults = {EVERY_NODE_KIND}\nswarm = false\ninterval = [\"20ms\", \"60ms\"]\nduration = [\"10ms\", \"200ms\"]\n{nemesis}"
    );
    ScenarioFile::from_text("herd.toml", text).unwrap()
}

/// Runs `seed` of `file`, returning whom each fault hit and the trace hash.
fn nemesis_hits(file: &ScenarioFile, seed: u64) -> (Vec<(String, Vec<usize>)>, String) {
    let scenario = parse_for::<Herd>(file).unwrap_or_else(|error| panic!("{error}"));
    let sink = Rc::new(RefCell::new(MemorySink::new(1_000_000)));
    let options = RunOptions {
        seed,
        nemesis: true,
        sink: Some(sink.clone()),
    };
    let outcome = run_scenario::<Herd>(file, &scenario, &options);
    assert!(outcome.passed(), "{:?}", outcome.summary.violations);
    let records = sink.borrow().records.clone();
    (hits(&records), outcome.summary.trace_hash.clone())
}

#[test]
fn the_nemesis_with_targets_hits_only_the_labels_nodes_but_partitions_split_all() {
    let file = herd_scenario("targets = \"@workers\"\n");
    let mut hit_by_kind: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for seed in 1..=5 {
        let (hits, hash) = nemesis_hits(&file, seed);
        assert_eq!(hash, nemesis_hits(&file, seed).1, "seed {seed} replays");
        for (name, nodes) in hits {
            hit_by_kind.entry(name).or_default().extend(nodes);
        }
    }
    for (name, nodes) in &hit_by_kind {
        if name.starts_with("partition") || name == "bridge" || name == "heal" {
            continue;
        }
        assert!(
            nodes.iter().all(|id| [2, 3, 4].contains(id)),
            "{name} hit {nodes:?}, outside the workers"
        );
    }
    for name in [
        "isolate",
        "one_way",
        "crash",
        "pause",
        "clock_skew",
        "slow",
        "disk_corrupt",
        "disk_lose_unsynced",
        "disk_fail_read",
        "disk_misdirect",
        "disk_transpose",
    ] {
        assert!(
            hit_by_kind.get(name).is_some_and(|nodes| !nodes.is_empty()),
            "no {name} hit a worker: {hit_by_kind:?}"
        );
    }
}

#[test]
fn without_targets_the_nemesis_hits_every_node_and_crash_leader_among_a_group_needs_the_leader() {
    // Without targets the same kinds reach nodes 0 and 1 too.
    let (hits, _) = nemesis_hits(&herd_scenario(""), 1);
    let all: Vec<usize> = hits.iter().flat_map(|(_, nodes)| nodes.clone()).collect();
    assert!(all.contains(&0) && all.contains(&1), "{hits:?}");
    // Among the head, every pick is node 0; crash_leader crashes it.
    let (hits, _) = nemesis_hits(&herd_scenario("targets = \"@head\"\n"), 1);
    let crashed: Vec<usize> = hits
        .iter()
        .filter(|(name, _)| name == "crash")
        .flat_map(|(_, nodes)| nodes.clone())
        .collect();
    assert!(crashed.contains(&0), "{hits:?}");
    assert!(
        hits.iter()
            .filter(|(name, _)| !name.starts_with("partition") && name != "bridge")
            .all(|(_, nodes)| nodes.iter().all(|&id| id == 0)),
        "{hits:?}"
    );
}

#[test]
fn the_lock_nemesis_with_targets_servers_never_touches_the_resource() {
    let text = "duration = \"4s\"\nliveness_window = \"3s\"\n[protocol]\nname = \"lock\"\ndesign = \"consensus\"\nttl = \"1s\"\n[cluster]\nnodes = 4\n[workload]\nclients = 2\n[nemesis]\nfaults = [\"crash\", \"crash_leader\", \"pause\", \"isolate\", \"slow\"]\nswarm = false\ninterval = [\"100ms\", \"300ms\"]\ntargets = \"@servers\"\n";
    let file = ScenarioFile::from_text("lock.toml", text.to_string()).unwrap();
    let mut hit = Vec::new();
    for seed in 1..=3 {
        let sink = Rc::new(RefCell::new(MemorySink::new(10_000_000)));
        let options = RunOptions {
            seed,
            nemesis: true,
            sink: Some(sink.clone()),
        };
        let outcome = run_file(&file, &options).unwrap_or_else(|error| panic!("{error}"));
        assert!(outcome.passed(), "{:?}", outcome.summary.violations);
        for (name, nodes) in hits(&sink.borrow().records) {
            assert!(!nodes.contains(&3), "{name} hit the resource (node 3)");
            hit.extend(nodes);
        }
    }
    assert!(!hit.is_empty(), "the nemesis hit no server");
}
