//! The network, disk, crash, pause and clock models measured through the public
//! protocol API, with a small probe protocol written the way a user would.

use faultline::sim::time::{Duration, MICROSECOND, MILLISECOND, SECOND};
use faultline::sim::{
    Client, Ctx, Fault, Latency, LongDelay, NetworkConfig, Node, Probability, ProcessId, Protocol,
    Target, TimedFault, World, WorldConfig,
};
use std::rc::Rc;

#[derive(Clone, Copy, Debug)]
struct Probe;

#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
enum ProbeTimer {
    Tick,
    Watch,
}

/// What a probe node does.
#[derive(Clone, Debug, Default)]
struct Plan {
    /// Node 0 sends one message to node 1 every `stream_every` ns (0 = off).
    stream_every: u64,
    /// Every node sends to every other node every `chatter_every` ns (0 = off).
    chatter_every: u64,
    /// Write a synced and an unsynced record at start.
    write_disk: bool,
    /// Set a 15 ms watch timer at start.
    watch: bool,
}

#[derive(Clone, Debug, Default)]
struct ProbeNode {
    plan: Rc<Plan>,
    /// (from, sent at, delivered at) of every message handled.
    received: Vec<(ProcessId, u64, u64)>,
    recovered: Option<Vec<u8>>,
    watch_fired: u32,
    timer_fired_at: Vec<u64>,
}

#[derive(Clone, Debug)]
struct NoClient;

impl Protocol for Probe {
    type Msg = u64;
    type Timer = ProbeTimer;
    type Node = ProbeNode;
    type Client = NoClient;

    /// A message is its send time; those sent at a multiple of 3 ns count as
    /// replies (a third of a stream at a 100 us period).
    fn is_reply(sent_at: &u64) -> bool {
        sent_at.is_multiple_of(3)
    }
}

impl ProbeNode {
    fn tick_every(&self) -> u64 {
        if self.plan.stream_every > 0 {
            self.plan.stream_every
        } else {
            self.plan.chatter_every
        }
    }
}

impl Node<Probe> for ProbeNode {
    fn on_start(&mut self, ctx: &mut Ctx<'_, Probe>) {
        let every = self.tick_every();
        if every > 0 && (self.plan.chatter_every > 0 || ctx.id() == 0) {
            ctx.set_timer(Duration(every), Duration(every), ProbeTimer::Tick);
        }
        if self.plan.write_disk {
            ctx.disk().append("log", b"synced");
            ctx.disk().sync();
            ctx.disk().append("log", b"+unsynced");
        }
        if self.plan.watch {
            ctx.set_timer(
                Duration(15 * MILLISECOND),
                Duration(15 * MILLISECOND),
                ProbeTimer::Watch,
            );
        }
    }

    fn on_restart(&mut self, ctx: &mut Ctx<'_, Probe>) {
        self.recovered = Some(ctx.disk().read("log").unwrap().to_vec());
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Probe>, from: ProcessId, sent_at: u64) {
        self.received.push((from, sent_at, ctx.now()));
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Probe>, timer: ProbeTimer) {
        self.timer_fired_at.push(ctx.now());
        match timer {
            ProbeTimer::Watch => self.watch_fired += 1,
            ProbeTimer::Tick => {
                let now = ctx.now();
                if self.plan.chatter_every > 0 {
                    for to in 0..ctx.nodes() {
                        if to != ctx.id() {
                            ctx.send(to, now);
                        }
                    }
                } else {
                    ctx.send(1, now);
                }
                let every = self.tick_every();
                ctx.set_timer(Duration(every), Duration(every), ProbeTimer::Tick);
            }
        }
    }
}

impl Client<Probe> for NoClient {
    fn on_start(&mut self, _ctx: &mut Ctx<'_, Probe>) {}
    fn on_message(&mut self, _ctx: &mut Ctx<'_, Probe>, _from: ProcessId, _msg: u64) {}
    fn on_timer(&mut self, _ctx: &mut Ctx<'_, Probe>, _timer: ProbeTimer) {}
}

fn world(nodes: usize, network: NetworkConfig, plan: Plan) -> World<Probe> {
    let config = WorldConfig {
        seed: 11,
        nodes,
        clients: 0,
        network,
        ..WorldConfig::default()
    };
    let plan = Rc::new(plan);
    let mut world = World::new(
        &config,
        Rc::new(move |_| ProbeNode {
            plan: plan.clone(),
            ..ProbeNode::default()
        }),
        |_| NoClient,
    );
    world.start();
    world
}

fn run_until(world: &mut World<Probe>, time: u64) {
    while world.step_until(time).is_some() {}
}

fn fault(world: &mut World<Probe>, at: u64, fault: Fault) {
    world.schedule_fault(at, TimedFault::new(fault));
}

fn constant(ms: u64) -> NetworkConfig {
    NetworkConfig {
        latency: Latency::Constant {
            value: Duration::from_millis(ms),
        },
        ..NetworkConfig::default()
    }
}

#[test]
fn drop_duplicate_and_latency_statistics_match_the_configuration() {
    let network = NetworkConfig {
        latency: Latency::Exponential {
            mean: Duration::from_millis(5),
        },
        drop_probability: Probability(0.1),
        duplicate_probability: Probability(0.05),
        ..NetworkConfig::default()
    };
    let mut world = world(
        2,
        network,
        Plan {
            stream_every: 10 * MICROSECOND,
            ..Plan::default()
        },
    );
    run_until(&mut world, 1200 * MILLISECOND);
    let stats = world.network();
    assert!(stats.sent >= 100_000, "only {} messages", stats.sent);
    let drop_rate = stats.lost as f64 / stats.sent as f64;
    let duplicate_rate = stats.duplicated as f64 / (stats.sent - stats.lost) as f64;
    assert!((drop_rate - 0.1).abs() < 0.005, "drop rate {drop_rate}");
    assert!(
        (duplicate_rate - 0.05).abs() < 0.004,
        "duplicate rate {duplicate_rate}"
    );
    let received = &world.node(1).received;
    assert_eq!(received.len() as u64, stats.delivered);
    // Messages still in flight at the end are the only ones not delivered.
    let in_flight = stats.sent - stats.lost + stats.duplicated - stats.delivered;
    assert_eq!(
        in_flight as usize,
        world.pending() - 1,
        "one pending event is node 0's next tick"
    );
    let mean = received
        .iter()
        .map(|(_, sent, at)| (at - sent) as f64)
        .sum::<f64>()
        / received.len() as f64;
    assert!(
        (mean / (5 * MILLISECOND) as f64 - 1.0).abs() < 0.02,
        "mean latency {mean} ns"
    );
}

#[test]
fn uniform_latency_stays_in_range_and_reorders_unless_fifo() {
    for fifo in [false, true] {
        let network = NetworkConfig {
            latency: Latency::Uniform {
                min: Duration::from_millis(1),
                max: Duration::from_millis(9),
            },
            fifo,
            ..NetworkConfig::default()
        };
        let mut world = world(
            2,
            network,
            Plan {
                stream_every: 100 * MICROSECOND,
                ..Plan::default()
            },
        );
        run_until(&mut world, SECOND);
        let received = &world.node(1).received;
        assert!(received.iter().all(|(_, sent, at)| fifo || (MILLISECOND..=9 * MILLISECOND).contains(&(at - sent))));
        let reordered = received
            .windows(2)
            .filter(|pair| pair[1].1 < pair[0].1)
            .count();
        if fifo {
            assert_eq!(reordered, 0);
        } else {
            assert!(
                reordered > 100,
                "random latency should reorder, got {reordered}"
            );
        }
    }
}

/// Senders heard by each node among messages delivered in `[from, to)`.
fn heard(world: &World<Probe>, from: u64, to: u64) -> Vec<Vec<usize>> {
    (0..world.node_count())
        .map(|id| {
            let mut senders: Vec<usize> = world
                .node(id)
                .received
                .iter()
                .filter(|(_, _, at)| (from..to).contains(at))
                .map(|(f, _, _)| *f)
                .collect();
            senders.sort_unstable();
            senders.dedup();
            senders
        })
        .collect()
}

#[test]
fn a_group_partition_blocks_exactly_the_links_between_groups() {
    let mut world = world(
        5,
        constant(3),
        Plan {
            chatter_every: MILLISECOND,
            ..Plan::default()
        },
    );
    fault(
        &mut world,
        10 * MILLISECOND,
        Fault::Partition {
            groups: vec![vec![0, 1], vec![2, 3, 4]],
        },
    );
    fault(&mut world, 100 * MILLISECOND, Fault::Heal);
    run_until(&mut world, 99 * MILLISECOND);
    let mut cuts = world.network().cut_links();
    cuts.sort_unstable();
    let expected: Vec<(usize, usize)> = (0..5)
        .flat_map(|a| (0..5).map(move |b| (a, b)))
        .filter(|&(a, b)| (a < 2) != (b < 2))
        .collect();
    assert_eq!(cuts, expected);
    run_until(&mut world, 200 * MILLISECOND);
    // Everything delivered during the partition stayed inside a group, including
    // messages that were already in flight when it started.
    assert_eq!(
        heard(&world, 10 * MILLISECOND, 100 * MILLISECOND),
        vec![vec![1], vec![0], vec![3, 4], vec![2, 4], vec![2, 3]]
    );
    // After the heal everyone hears everyone again.
    let after = heard(&world, 110 * MILLISECOND, 200 * MILLISECOND);
    for (id, senders) in after.iter().enumerate() {
        assert_eq!(senders.len(), 4, "node {id} hears {senders:?}");
    }
    assert!(world.network().partitioned > 0);
}

#[test]
fn isolate_one_way_and_bridge_cut_what_they_promise() {
    let mut world = world(
        5,
        constant(1),
        Plan {
            chatter_every: MILLISECOND,
            ..Plan::default()
        },
    );
    fault(
        &mut world,
        10 * MILLISECOND,
        Fault::Isolate(Target::Nodes(vec![3])),
    );
    run_until(&mut world, 50 * MILLISECOND);
    let cuts = world.network().cut_links();
    assert_eq!(cuts.len(), 8);
    assert!(cuts.iter().all(|&(a, b)| a == 3 || b == 3));
    assert!(heard(&world, 12 * MILLISECOND, 50 * MILLISECOND)[3].is_empty());

    fault(
        &mut world,
        60 * MILLISECOND,
        Fault::OneWay {
            from: Target::Nodes(vec![0]),
            to: Target::Nodes(vec![1]),
        },
    );
    run_until(&mut world, 100 * MILLISECOND);
    assert_eq!(
        world.network().cut_links(),
        vec![(0, 1)],
        "a new partition replaces the previous one"
    );
    let window = heard(&world, 62 * MILLISECOND, 100 * MILLISECOND);
    assert!(!window[1].contains(&0), "1 must not hear 0");
    assert!(window[0].contains(&1), "0 still hears 1");

    fault(&mut world, 110 * MILLISECOND, Fault::Bridge);
    run_until(&mut world, 150 * MILLISECOND);
    let cuts = world.network().cut_links();
    let bridges: Vec<usize> = (0..5)
        .filter(|id| cuts.iter().all(|&(a, b)| a != *id && b != *id))
        .collect();
    assert_eq!(bridges.len(), 1, "exactly one bridge node: {cuts:?}");
    assert_eq!(
        cuts.len(),
        8,
        "two pairs cut from each other, both directions"
    );
    let window = heard(&world, 112 * MILLISECOND, 150 * MILLISECOND);
    assert_eq!(window[bridges[0]].len(), 4, "the bridge hears both sides");
}

#[test]
fn a_message_in_flight_is_judged_when_it_arrives() {
    let mut world = world(
        2,
        constant(10),
        Plan {
            stream_every: 2 * MILLISECOND,
            ..Plan::default()
        },
    );
    // Sent at 2 ms, would arrive at 12 ms; the link is cut at 5 ms and healed at 20 ms.
    fault(
        &mut world,
        5 * MILLISECOND,
        Fault::Partition {
            groups: vec![vec![0], vec![1]],
        },
    );
    fault(&mut world, 20 * MILLISECOND, Fault::Heal);
    run_until(&mut world, 40 * MILLISECOND);
    let received = &world.node(1).received;
    assert!(
        received
            .iter()
            .all(|(_, sent, _)| *sent >= 20 * MILLISECOND),
        "{received:?}"
    );
    assert!(
        received
            .iter()
            .any(|(_, sent, _)| *sent == 20 * MILLISECOND)
    );
    // Sent at 2 and 4 ms (in flight at the cut) and at 6..18 ms (sent into the cut).
    assert_eq!(world.network().partitioned, 9);
}

#[test]
fn a_crash_loses_unsynced_writes_keeps_synced_ones_and_cancels_timers() {
    let plan = Plan {
        write_disk: true,
        watch: true,
        stream_every: 0,
        chatter_every: 0,
    };
    let mut world = world(2, constant(1), plan);
    fault(
        &mut world,
        10 * MILLISECOND,
        Fault::Crash(Target::Nodes(vec![0])),
    );
    fault(
        &mut world,
        20 * MILLISECOND,
        Fault::Restart(Target::Nodes(vec![0])),
    );
    run_until(&mut world, 50 * MILLISECOND);
    assert_eq!(world.node(0).recovered.as_deref(), Some(&b"synced"[..]));
    assert_eq!(
        world.node(0).watch_fired,
        0,
        "the crash cancelled the 15 ms timer"
    );
    assert_eq!(world.node(1).watch_fired, 1);
    assert_eq!(world.disk(0).stats.lost_writes, 1);
    assert!(world.is_up(0));
}

#[test]
fn messages_to_a_crashed_node_are_dropped() {
    let mut world = world(
        2,
        constant(1),
        Plan {
            stream_every: MILLISECOND,
            ..Plan::default()
        },
    );
    fault(
        &mut world,
        10 * MILLISECOND + 500 * MICROSECOND,
        Fault::Crash(Target::Nodes(vec![1])),
    );
    fault(
        &mut world,
        20 * MILLISECOND + 500 * MICROSECOND,
        Fault::Restart(Target::Nodes(vec![1])),
    );
    run_until(&mut world, 30 * MILLISECOND);
    // Sent at 10 ms (in flight at the crash) through 19 ms (arriving while down):
    // 10 messages lost. The one sent at 20 ms arrives after the restart.
    assert_eq!(world.network().to_dead, 10);
    let received = &world.node(1).received;
    assert!(
        received
            .iter()
            .all(|(_, sent, _)| *sent >= 20 * MILLISECOND),
        "a restarted node starts empty: {received:?}"
    );
}

/// What docs/scenarios.md (*Crashes and messages*) tells users: a crash does not
/// recall what the node already sent.
#[test]
fn messages_a_node_sent_before_it_crashed_are_still_delivered() {
    let mut world = world(
        2,
        constant(5),
        Plan {
            stream_every: MILLISECOND,
            ..Plan::default()
        },
    );
    fault(
        &mut world,
        10 * MILLISECOND + 500 * MICROSECOND,
        Fault::Crash(Target::Nodes(vec![0])),
    );
    run_until(&mut world, 30 * MILLISECOND);
    let received = &world.node(1).received;
    let sent: Vec<u64> = received
        .iter()
        .map(|(_, sent, _)| sent / MILLISECOND)
        .collect();
    assert_eq!(sent, (1..=10).collect::<Vec<_>>(), "sent at 1..=10 ms");
    assert!(
        received
            .iter()
            .any(|(_, _, at)| *at > 10 * MILLISECOND + 500 * MICROSECOND),
        "the ones in flight at the crash arrived after it: {received:?}"
    );
    assert_eq!(world.network().to_dead, 0);
}

/// docs/scenarios.md (*Crashes and messages*): a message reaches only the
/// incarnation it was sent to. In flight at the crash: lost, even if it lands
/// after the restart; sent while the node is down: delivered if it lands after
/// the restart.
#[test]
fn a_message_reaches_only_the_incarnation_it_was_sent_to() {
    let mut world = world(
        2,
        constant(5),
        Plan {
            stream_every: MILLISECOND,
            ..Plan::default()
        },
    );
    fault(
        &mut world,
        10 * MILLISECOND + 500 * MICROSECOND,
        Fault::Crash(Target::Nodes(vec![1])),
    );
    fault(
        &mut world,
        12 * MILLISECOND + 500 * MICROSECOND,
        Fault::Restart(Target::Nodes(vec![1])),
    );
    run_until(&mut world, 20 * MILLISECOND);
    // Sent at 6..=10 ms, in flight at the crash, landing at 11..=15 ms: the
    // ones sent at 8..=10 land after the restart and are dropped all the same.
    assert_eq!(world.network().to_dead, 5);
    let sent: Vec<u64> = world
        .node(1)
        .received
        .iter()
        .map(|(_, sent, _)| sent / MILLISECOND)
        .collect();
    // Sent at 11 and 12 ms, while node 1 was down, landing after the restart.
    assert_eq!(sent, (11..=15).collect::<Vec<_>>(), "{sent:?}");
}

/// docs/scenarios.md (*Crashes and messages*): messages held for a paused node
/// go with it when it crashes, and no counter records them.
#[test]
fn messages_held_for_a_paused_node_are_lost_uncounted_when_it_crashes() {
    let mut world = world(
        2,
        constant(1),
        Plan {
            stream_every: MILLISECOND,
            ..Plan::default()
        },
    );
    fault(
        &mut world,
        10 * MILLISECOND + 500 * MICROSECOND,
        Fault::Pause(Target::Nodes(vec![1])),
    );
    fault(
        &mut world,
        20 * MILLISECOND + 500 * MICROSECOND,
        Fault::Crash(Target::Nodes(vec![1])),
    );
    fault(
        &mut world,
        30 * MILLISECOND + 500 * MICROSECOND,
        Fault::Restart(Target::Nodes(vec![1])),
    );
    // Node 0 stops sending (its ticks are cancelled) after 35 messages.
    fault(
        &mut world,
        35 * MILLISECOND + 500 * MICROSECOND,
        Fault::Crash(Target::Nodes(vec![0])),
    );
    run_until(&mut world, 50 * MILLISECOND);
    let network = world.network();
    // Delivered: landing at 2..=10 ms, before the pause. Held: landing at
    // 11..=20 ms, during the pause. Dropped as to a crashed node: landing at
    // 21..=30 ms. Delivered to the restarted node: the six sent at 30..=35 ms.
    assert_eq!(network.sent, 35);
    assert_eq!(network.to_dead, 10);
    assert_eq!(
        network.delivered,
        9 + 6,
        "before the pause and after the restart"
    );
    assert_eq!(
        network.sent - network.delivered - network.to_dead,
        10,
        "the held ones, in no counter"
    );
}

#[test]
fn a_paused_node_handles_held_messages_and_timers_on_resume() {
    let mut world = world(
        2,
        constant(1),
        Plan {
            stream_every: MILLISECOND,
            ..Plan::default()
        },
    );
    fault(
        &mut world,
        10 * MILLISECOND + 1,
        Fault::Pause(Target::Nodes(vec![1])),
    );
    fault(
        &mut world,
        50 * MILLISECOND,
        Fault::Resume(Target::Nodes(vec![1])),
    );
    run_until(&mut world, 60 * MILLISECOND);
    let received = &world.node(1).received;
    let held: Vec<_> = received
        .iter()
        .filter(|(_, sent, _)| (10 * MILLISECOND..49 * MILLISECOND).contains(sent))
        .collect();
    assert_eq!(held.len(), 39);
    assert!(
        held.iter().all(|(_, _, at)| *at == 50 * MILLISECOND),
        "held until resume: {held:?}"
    );
    assert_eq!(
        world.network().to_dead + world.network().lost,
        0,
        "a pause loses nothing"
    );
}

#[test]
fn clock_skew_offsets_and_drift_change_the_local_clock_and_timers() {
    let mut world = world(
        3,
        constant(1),
        Plan {
            chatter_every: 100 * MILLISECOND,
            ..Plan::default()
        },
    );
    let skew = Fault::ClockSkew {
        target: Target::Nodes(vec![2]),
        offset: 100 * MILLISECOND as i64,
        drift_ppm: 10_000,
    };
    fault(&mut world, 50 * MILLISECOND, skew);
    // Time advances event by event: the skew is the last event before 60 ms.
    run_until(&mut world, 60 * MILLISECOND);
    assert_eq!(world.now(), 50 * MILLISECOND);
    assert_eq!(world.local_time(2), 150 * MILLISECOND);
    assert_eq!(world.local_time(1), 50 * MILLISECOND);
    run_until(&mut world, 1060 * MILLISECOND);
    // At +1% drift the clock gains 10 ms per true second on top of the jump.
    let now = world.now();
    assert!(now > 1000 * MILLISECOND);
    assert_eq!(
        world.local_time(2),
        now + 100 * MILLISECOND + (now - 50 * MILLISECOND) / 100
    );
    // Its 100 ms (local) timers fire about every 99 ms of true time.
    let fired = &world.node(2).timer_fired_at;
    let gaps: Vec<u64> = fired
        .windows(2)
        .skip(2)
        .map(|pair| pair[1] - pair[0])
        .collect();
    assert!(
        gaps.iter()
            .all(|gap| (99 * MILLISECOND..=101 * MILLISECOND).contains(gap)),
        "{gaps:?}"
    );
    fault(
        &mut world,
        1100 * MILLISECOND,
        Fault::ClockReset(Target::All),
    );
    run_until(&mut world, 1200 * MILLISECOND);
    assert_eq!(world.local_time(2), world.now());
}

#[test]
fn a_link_override_changes_only_its_own_direction() {
    let network = NetworkConfig {
        links: vec![faultline::sim::network::LinkOverride {
            from: 0,
            to: 1,
            latency: Some(Latency::Constant {
                value: Duration::from_millis(20),
            }),
            drop_probability: Some(Probability(1.0)),
            duplicate_probability: None,
        }],
        ..constant(1)
    };
    let mut world = world(
        3,
        network,
        Plan {
            chatter_every: MILLISECOND,
            ..Plan::default()
        },
    );
    run_until(&mut world, 100 * MILLISECOND);
    let window = heard(&world, 0, 100 * MILLISECOND);
    assert_eq!(window[1], vec![2], "node 1 never hears node 0");
    assert_eq!(window[0], vec![1, 2], "the reverse direction is untouched");
    assert!(world.network().lost >= 99);
}

#[test]
fn initial_clock_offsets_and_drifts_differ_per_node_within_bounds() {
    let config = WorldConfig {
        seed: 5,
        nodes: 5,
        clock_offset_max: 50 * MILLISECOND,
        clock_drift_ppm_max: 1000,
        network: constant(1),
        ..WorldConfig::default()
    };
    let plan = Rc::new(Plan {
        chatter_every: 100 * MILLISECOND,
        ..Plan::default()
    });
    let mut world: World<Probe> = World::new(
        &config,
        Rc::new(move |_| ProbeNode {
            plan: plan.clone(),
            ..ProbeNode::default()
        }),
        |_| NoClient,
    );
    world.start();
    run_until(&mut world, SECOND);
    let now = world.now() as i64;
    let offsets: Vec<i64> = (0..5).map(|id| world.local_time(id) as i64 - now).collect();
    // Offset within ±50 ms plus at most 0.1% drift over one second.
    assert!(
        offsets
            .iter()
            .all(|offset| offset.abs() <= 51 * MILLISECOND as i64),
        "{offsets:?}"
    );
    let mut distinct = offsets.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(distinct.len(), 5, "{offsets:?}");
}

#[test]
fn a_cloned_world_is_a_snapshot_that_runs_on_identically() {
    let network = NetworkConfig {
        latency: Latency::Exponential {
            mean: Duration::from_millis(2),
        },
        drop_probability: Probability(0.05),
        duplicate_probability: Probability(0.05),
        ..NetworkConfig::default()
    };
    let mut world = world(
        4,
        network,
        Plan {
            chatter_every: MILLISECOND,
            ..Plan::default()
        },
    );
    fault(&mut world, 30 * MILLISECOND, Fault::PartitionHalves);
    fault(&mut world, 60 * MILLISECOND, Fault::Crash(Target::Random));
    fault(&mut world, 90 * MILLISECOND, Fault::HealAll);
    run_until(&mut world, 45 * MILLISECOND);
    let mut branch = world.clone();
    run_until(&mut world, 150 * MILLISECOND);
    run_until(&mut branch, 150 * MILLISECOND);
    assert_eq!(world.trace_hash(), branch.trace_hash());
    assert_eq!(world.events(), branch.events());
    assert_eq!(world.node(2).received, branch.node(2).received);
}

fn long_delay(probability: f64) -> LongDelay {
    LongDelay {
        probability: Probability(probability),
        min: Duration::from_millis(200),
        max: Duration::from_millis(2200),
        replies_only: false,
    }
}

#[test]
fn long_delays_hold_back_the_configured_share_of_messages_uniformly() {
    let network = NetworkConfig {
        long_delay: Some(long_delay(0.67)),
        ..constant(1)
    };
    let mut world = world(
        2,
        network,
        Plan {
            stream_every: 10 * MICROSECOND,
            ..Plan::default()
        },
    );
    // Stop sending at 1.2 s (a crash cancels node 0's ticks) and let every
    // held-back message land.
    fault(
        &mut world,
        1200 * MILLISECOND,
        Fault::Crash(Target::Nodes(vec![0])),
    );
    run_until(&mut world, 3500 * MILLISECOND);
    let stats = world.network();
    let received = &world.node(1).received;
    assert!(
        received.len() >= 100_000,
        "only {} messages",
        received.len()
    );
    assert_eq!(received.len() as u64, stats.sent, "every message arrived");
    let extras: Vec<u64> = received
        .iter()
        .map(|(_, sent, at)| at - sent - MILLISECOND)
        .filter(|&extra| extra > 0)
        .collect();
    assert_eq!(extras.len() as u64, stats.long_delayed);
    let rate = extras.len() as f64 / received.len() as f64;
    assert!((rate - 0.67).abs() < 0.01, "held back {rate}");
    assert!(
        extras
            .iter()
            .all(|extra| (200 * MILLISECOND..=2200 * MILLISECOND).contains(extra)),
        "an extra delay outside [200ms, 2200ms]"
    );
    let mean = extras.iter().map(|&extra| extra as f64).sum::<f64>() / extras.len() as f64;
    assert!(
        (mean / (1200 * MILLISECOND) as f64 - 1.0).abs() < 0.02,
        "mean extra delay {mean} ns"
    );
    let reordered = received
        .windows(2)
        .filter(|pair| pair[1].1 < pair[0].1)
        .count();
    assert!(reordered > 10_000, "long delays reorder, got {reordered}");
}

#[test]
fn long_delays_for_replies_only_hold_back_just_the_replies() {
    let network = NetworkConfig {
        long_delay: Some(LongDelay {
            replies_only: true,
            ..long_delay(1.0)
        }),
        ..constant(1)
    };
    let plan = Plan {
        stream_every: 100 * MICROSECOND,
        ..Plan::default()
    };
    let mut world = world(2, network, plan);
    fault(
        &mut world,
        300 * MILLISECOND,
        Fault::Crash(Target::Nodes(vec![0])),
    );
    run_until(&mut world, 3 * SECOND);
    let received = &world.node(1).received;
    assert!(received.len() > 2500, "only {} messages", received.len());
    for (_, sent, at) in received {
        let held = at - sent > MILLISECOND;
        assert_eq!(held, sent.is_multiple_of(3), "the message sent at {sent}");
    }
    let replies = received
        .iter()
        .filter(|(_, sent, _)| sent.is_multiple_of(3))
        .count();
    assert_eq!(world.network().long_delayed, replies as u64);
}

#[test]
fn long_delays_switched_on_mid_run_only_hold_later_messages() {
    let plan = Plan {
        stream_every: 100 * MICROSECOND,
        ..Plan::default()
    };
    let mut world = world(2, constant(1), plan);
    run_until(&mut world, 500 * MILLISECOND);
    assert_eq!(world.network().long_delayed, 0);
    world.set_long_delay(Some(long_delay(1.0)));
    run_until(&mut world, SECOND);
    world.set_long_delay(None);
    run_until(&mut world, 4 * SECOND);
    let latencies = |from: u64, to: u64| -> Vec<u64> {
        world
            .node(1)
            .received
            .iter()
            .filter(|(_, sent, _)| (from..to).contains(sent))
            .map(|(_, sent, at)| at - sent)
            .collect()
    };
    assert!(
        latencies(0, 500 * MILLISECOND)
            .iter()
            .all(|&l| l == MILLISECOND)
    );
    let held = latencies(500 * MILLISECOND + 1, SECOND);
    assert!(!held.is_empty());
    assert!(held.iter().all(|&l| l >= 201 * MILLISECOND), "all held");
    assert!(
        latencies(SECOND + 1, 3 * SECOND)
            .iter()
            .all(|&l| l == MILLISECOND)
    );
}
