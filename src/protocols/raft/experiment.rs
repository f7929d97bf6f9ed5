//! Experiments that reproduce published measurements with the simulator.
//!
//! [`election_timing`] rebuilds the leader-election benchmark of the Raft paper
//! (Ongaro and Ousterhout, §9.3 and Figure 16): five servers, a broadcast time of
//! about 15 ms, the leader crashed at a uniformly random point of its heartbeat
//! interval just after a heartbeat went out to everyone, and two of the four
//! survivors unable to win because their logs are behind. It measures the time
//! without a leader: from the crash until every surviving server has heard from
//! the new leader.

use super::{Raft, RaftConfig, RaftMsg, RaftNode};
use crate::sim::rng::{self, between};
use crate::sim::time::{Duration, DurationRange};
use crate::sim::{
    Fault, Latency, NetworkConfig, Role, SECOND, Step, Target, TimedFault, World, WorldConfig,
};
use crate::spec::stats::{Distribution, format_ms};
use crate::workload::WorkloadConfig;
use std::rc::Rc;

/// How one election-timing trial is set up.
#[derive(Clone, Copy, Debug)]
pub struct ElectionTiming {
    /// The election timeout range.
    pub timeout: DurationRange,
    /// One-way message latency range (uniform).
    pub latency: DurationRange,
    /// Time for a write to reach the disk before an answer leaves.
    pub persist_delay: Duration,
    /// Give up on a trial after this long without a leader.
    pub cap: Duration,
}

impl ElectionTiming {
    /// The paper's setup for a timeout range: heartbeats every half of the
    /// minimum timeout; a broadcast time of about 15 ms made, as on the paper's
    /// LogCabin cluster, mostly of the disk write: one-way latency uniform in
    /// 0.2–0.6 ms and 14 ms to persist before answering; trials capped at 60 s.
    pub fn paper(min_ms: u64, max_ms: u64) -> Self {
        ElectionTiming {
            timeout: DurationRange {
                min: Duration::from_millis(min_ms),
                max: Duration::from_millis(max_ms),
            },
            latency: DurationRange {
                min: Duration(200_000),
                max: Duration(600_000),
            },
            persist_delay: Duration::from_millis(14),
            cap: Duration::from_secs(60),
        }
    }
}

/// One trial: the time without a leader in nanoseconds (the cap if no leader
/// emerged within it).
pub fn election_trial(setup: &ElectionTiming, seed: u64) -> u64 {
    let timeout = setup.timeout;
    let config = RaftConfig {
        name: "raft".into(),
        bugs: Vec::new(),
        election_timeout: timeout,
        heartbeat_interval: Duration((timeout.min.0 / 2).max(1)),
        persist_delay: setup.persist_delay,
        pre_vote: false,
        snapshot_every: 0,
        max_batch: 64,
        keys: 1,
        ops: vec![crate::protocols::kv::KvOpKind::Get],
        lab: Vec::new(),
        retry_interval: Duration::from_millis(200),
    };
    let world_config = WorldConfig {
        seed,
        nodes: 5,
        clients: 1,
        network: NetworkConfig {
            latency: Latency::Uniform {
                min: setup.latency.min,
                max: setup.latency.max,
            },
            ..NetworkConfig::default()
        },
        ..WorldConfig::default()
    };
    // The one client never starts an operation; it is the process commands come from.
    let idle = WorkloadConfig {
        clients: 1,
        op_interval: Duration::from_secs(1_000_000),
        op_timeout: Duration::from_secs(1),
    };
    let template = RaftNode::new(&config);
    let mix = config.mix();
    let mut world: World<Raft> =
        World::new(&world_config, Rc::new(move |_| template.fresh()), |index| {
            crate::protocols::kv::KvClient::new(index, &idle, &mix)
        });
    let mut rng = rng::stream(seed, "experiment", 0);
    world.start();
    // 1. Let a leader emerge and settle.
    let leader = loop {
        let horizon = world.now() + 100 * crate::sim::MILLISECOND;
        while world.step_until(horizon).is_some() {}
        world.advance_to(horizon);
        if let Some(leader) = settled_leader(&world) {
            break leader;
        }
        if world.now() > 60 * SECOND {
            return setup.cap.0;
        }
    };
    // 2. Two followers fall behind: cut them off, commit an entry on the other
    //    three, and keep them off until the crash.
    let followers: Vec<usize> = (0..5).filter(|&id| id != leader).collect();
    let first = followers[between(&mut rng, 0, 3) as usize];
    let second = loop {
        let pick = followers[between(&mut rng, 0, 3) as usize];
        if pick != first {
            break pick;
        }
    };
    let behind = Target::Nodes(vec![first, second]);
    world.apply_fault_now(TimedFault::new(Fault::Disconnect(behind.clone())));
    world.inject(5, leader, RaftMsg::Start { value: 1 });
    let horizon = world.now() + 200 * crate::sim::MILLISECOND;
    while world.step_until(horizon).is_some() {}
    world.advance_to(horizon);
    // 3. Wait for the leader's next heartbeat, then crash it at a uniformly random
    //    point of its heartbeat interval; the laggards reconnect at that moment.
    loop {
        match world.step_until(u64::MAX) {
            Some(Step::Timer { process }) if process == leader => break,
            Some(_) => {}
            None => return setup.cap.0,
        }
    }
    let interval = config.heartbeat_interval.0;
    let crash_at = world.now() + between(&mut rng, 0, interval - 1);
    while world.step_until(crash_at).is_some() {}
    world.advance_to(crash_at);
    let old_term = world.node(leader).term();
    world.apply_fault_now(TimedFault::new(Fault::Crash(Target::Nodes(vec![leader]))));
    world.apply_fault_now(TimedFault::new(Fault::Connect(behind)));
    // 4. Time until every survivor follows one new leader.
    let deadline = crash_at + setup.cap.0;
    while let Some(_step) = world.step_until(deadline) {
        if let Some(new) = settled_leader(&world)
            && world.node(new).term() > old_term
        {
            return world.now() - crash_at;
        }
    }
    setup.cap.0
}

/// The leader every live node follows at one term, if there is one.
fn settled_leader(world: &World<Raft>) -> Option<usize> {
    let live: Vec<usize> = (0..world.node_count())
        .filter(|&id| world.is_up(id))
        .collect();
    let leader = live
        .iter()
        .copied()
        .find(|&id| world.node(id).role() == Role::Leader)?;
    let term = world.node(leader).term();
    live.iter()
        .all(|&id| world.node(id).term() == term && world.node(id).leader_hint() == Some(leader))
        .then_some(leader)
}

/// Runs `trials` trials (seeds `1..=trials`) of one setup.
pub fn election_timing(setup: &ElectionTiming, trials: u64) -> Distribution {
    let times: Vec<u64> = (1..=trials)
        .map(|seed| election_trial(setup, seed))
        .collect();
    Distribution::of(times, setup.cap.0)
}

/// Checks one sweep grid value of `protocol.election_timeout` (a duration or a
/// range); returns its label.
pub fn check_timeout(value: &toml::Value) -> Result<String, String> {
    let range: DurationRange = value
        .clone()
        .try_into()
        .map_err(|error: toml::de::Error| error.message().trim().to_string())?;
    if range.min.0 == 0 || range.min > range.max {
        return Err(format!(
            "expected a positive range [min, max] with min <= max, got [{}, {}]",
            range.min, range.max
        ));
    }
    let ms = |nanos: u64| format_ms(nanos as f64 / 1e6);
    Ok(format!("{}-{}ms", ms(range.min.0), ms(range.max.0)))
}

/// One sweep trial at a checked `protocol.election_timeout` value: ms without a
/// leader.
pub fn trial_ms(value: &toml::Value, seed: u64) -> f64 {
    let mut setup = ElectionTiming::paper(0, 0);
    setup.timeout = value
        .clone()
        .try_into()
        .expect("checked when the sweep was read");
    election_trial(&setup, seed) as f64 / 1e6
}

/// The Raft paper's Figure 16 timeout ranges (ms), with the trial count the paper
/// used for each (100 for the 150–150 ms line, 1000 otherwise).
const RANGES: [(u64, u64, u64); 10] = [
    (150, 150, 100),
    (150, 151, 1000),
    (150, 155, 1000),
    (150, 175, 1000),
    (150, 200, 1000),
    (150, 300, 1000),
    (12, 24, 1000),
    (25, 50, 1000),
    (50, 100, 1000),
    (100, 200, 1000),
];

/// `faultline experiment raft-election-timing`: every Figure 16 range, as a
/// table; `trials` overrides the per-range trial counts.
pub fn figure_16(trials: Option<u64>, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    writeln!(
        out,
        "Raft leader election after a leader crash (paper §9.3, Figure 16): 5 servers,"
    )?;
    writeln!(
        out,
        "one-way latency 0.2-0.6 ms, 14 ms to persist, heartbeats every min/2, 2 of 4 survivors behind."
    )?;
    writeln!(out, "time without leader, ms:")?;
    writeln!(
        out,
        "{:>11} {:>6} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>7}",
        "timeout", "trials", "min", "median", "mean", "p90", "p99", "max", ">=cap"
    )?;
    for (min, max, default_trials) in RANGES {
        let setup = ElectionTiming::paper(min, max);
        let stats = election_timing(&setup, trials.unwrap_or(default_trials));
        writeln!(
            out,
            "{:>11} {:>6} {} {:>7}",
            format!("{min}-{max}ms"),
            stats.trials,
            stats.columns(8),
            stats.capped
        )?;
    }
    Ok(())
}
