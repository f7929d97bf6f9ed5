//! `faultline experiment mapreduce-backups`: job completion time with and
//! without backup tasks under stragglers, and with a tenth of the workers
//! killed, beside the MapReduce paper's sort benchmark (§5.3–5.5: 891 s
//! normally, 1283 s with backup tasks disabled, 933 s with 200 of 1746 workers
//! killed).
//!
//! The cluster is the paper's sort scaled down by about 35: 50 workers, 430
//! map tasks and 115 reduce partitions, so each worker runs about 8.6 maps and
//! 2.3 reduces, as 15,000 maps and 4,000 reduces on 1,746 workers do. A map
//! works 20 s and a reduce 150 s (times the worker's slowdown). There is no
//! task timeout (the paper's master pings workers instead; a 10 s timeout
//! would re-run every 20 s map). Stragglers are workers slowed by the `slow`
//! fault for the whole job, drawn from the seed.

use super::checker::MapReduceChecker;
use super::{MapReduce, MapReduceConfig, MrClient, MrNode, Settings};
use crate::check::Checker;
use crate::sim::rng::stream;
use crate::sim::time::Duration;
use crate::sim::{
    Fault, Latency, NetworkConfig, SlowFactor, Target, TimedFault, World, WorldConfig,
};
use rand::seq::SliceRandom;
use std::rc::Rc;

const WORKERS: usize = 50;
const SECOND: u64 = 1_000_000_000;
/// Longest a job may take before the run is cut (virtual time).
const CAP: u64 = 20_000 * SECOND;

/// The sort-shaped job, with backups on or off.
fn config(backups: bool) -> MapReduceConfig {
    toml::from_str(&format!(
        "name = \"mapreduce\"\ninputs = 430\nreduces = 115\nwords = 60\nvocabulary = 4000\nmap_time = \"20s\"\nreduce_time = \"150s\"\ntask_timeout = \"100000s\"\nchunk_lines = 1000\nbackups = {backups}\n"
    ))
    .expect("the experiment's configuration parses")
}

/// What happens to the workers in one condition.
#[derive(Clone, Copy, Debug)]
pub struct Condition {
    /// Share of workers slowed for the whole job.
    pub slow_share: f64,
    /// How many times slower they run.
    pub slowdown: f64,
    /// Share of workers killed (and restarted at once) at `kill_at`.
    pub kill_share: f64,
    /// When the kill happens (virtual seconds).
    pub kill_at: u64,
}

impl Condition {
    const NORMAL: Condition = Condition {
        slow_share: 0.0,
        slowdown: 1.0,
        kill_share: 0.0,
        kill_at: 0,
    };
}

/// The job's completion time (virtual seconds) under `condition`, seed
/// `seed`, the checker judging every step; `None` if it did not finish by
/// the cap.
pub fn job_seconds(condition: Condition, backups: bool, seed: u64) -> Option<f64> {
    let config = config(backups);
    let nodes = WORKERS + 1;
    let network = NetworkConfig {
        latency: Latency::Uniform {
            min: Duration(500_000),
            max: Duration(2_000_000),
        },
        ..NetworkConfig::default()
    };
    let world_config = WorldConfig {
        seed,
        nodes,
        clients: 0,
        network,
        ..WorldConfig::default()
    };
    let settings = Rc::new(Settings::new(config, nodes));
    let factory_settings = settings.clone();
    let mut world: World<MapReduce> = World::new(
        &world_config,
        Rc::new(move |id| MrNode::new(&factory_settings, id)),
        |_| MrClient,
    );
    let mut workers: Vec<usize> = (1..nodes).collect();
    workers.shuffle(&mut stream(seed, "mapreduce-experiment", 0));
    let slow = (condition.slow_share * WORKERS as f64).round() as usize;
    if slow > 0 {
        let factor = SlowFactor::from_factor(condition.slowdown).expect("a slowdown in 1..=1000");
        world.schedule_fault(
            0,
            TimedFault::new(Fault::Slow {
                target: Target::Nodes(workers[..slow].to_vec()),
                factor,
            }),
        );
    }
    // The killed workers are drawn from the other end, so they are not the
    // stragglers.
    let killed = (condition.kill_share * WORKERS as f64).round() as usize;
    if killed > 0 {
        world.schedule_fault(
            condition.kill_at * SECOND,
            TimedFault::new(Fault::Crash(Target::Nodes(
                workers[WORKERS - killed..].to_vec(),
            )))
            .lasting(SECOND),
        );
    }
    let mut checker = MapReduceChecker::new(settings, CAP);
    world.start();
    while let Some(step) = world.step_until(CAP) {
        if let Some(finding) = checker.after_step(&world, step) {
            panic!("{}: {}", finding.property, finding.message);
        }
        if world
            .node(0)
            .as_coordinator()
            .is_some_and(|coordinator| coordinator.is_done())
        {
            break;
        }
    }
    checker
        .measures()
        .into_iter()
        .find(|(name, _)| *name == "mapreduce_job_seconds")
        .map(|(_, seconds)| seconds)
}

fn mean_seconds(condition: Condition, backups: bool, seeds: u64) -> f64 {
    let times: Vec<f64> = (1..=seeds)
        .map(|seed| job_seconds(condition, backups, seed).unwrap_or(CAP as f64 / 1e9))
        .collect();
    times.iter().sum::<f64>() / times.len() as f64
}

/// The experiment's table.
pub fn backups_table(trials: Option<u64>, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    let seeds = trials.unwrap_or(3).max(1);
    writeln!(
        out,
        "MapReduce job completion time (virtual s): {WORKERS} workers, 430 maps of 20 s, 115 reduces of 150 s, mean of {seeds} seeds"
    )?;
    let normal = mean_seconds(Condition::NORMAL, true, seeds);
    writeln!(out)?;
    writeln!(
        out,
        "the paper's sort (§5.3-5.5)           paper            ours"
    )?;
    writeln!(
        out,
        "  normal                              891 s            {normal:.0} s"
    )?;
    let straggling = Condition {
        slow_share: 0.02,
        slowdown: 5.0,
        ..Condition::NORMAL
    };
    let stragglers_on = mean_seconds(straggling, true, seeds);
    let stragglers_off = mean_seconds(straggling, false, seeds);
    writeln!(
        out,
        "  backup tasks off                    1283 s (+44%)    {stragglers_off:.0} s ({:+.0}%) with 1 worker 5x slower; {stragglers_on:.0} s ({:+.0}%) with backups",
        percent(stragglers_off, normal),
        percent(stragglers_on, normal)
    )?;
    let kill = Condition {
        kill_share: 200.0 / 1746.0,
        kill_at: (normal / 4.0) as u64,
        ..Condition::NORMAL
    };
    let killed = mean_seconds(kill, true, seeds);
    writeln!(
        out,
        "  200 of 1746 workers killed          933 s (+5%)      {killed:.0} s ({:+.0}%), {} of {WORKERS} killed at {} s",
        percent(killed, normal),
        (kill.kill_share * WORKERS as f64).round(),
        kill.kill_at
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "stragglers (share of workers x slowdown): time without backups / with backups, each against the normal run"
    )?;
    writeln!(out, "   share  slowdown      no backups         backups")?;
    for share in [0.02, 0.1, 0.2] {
        for slowdown in [2.0, 5.0, 20.0] {
            let condition = Condition {
                slow_share: share,
                slowdown,
                ..Condition::NORMAL
            };
            let off = mean_seconds(condition, false, seeds);
            let on = mean_seconds(condition, true, seeds);
            writeln!(
                out,
                "  {:>5.0}%  {slowdown:>7.0}x  {off:>7.0} s {:>+5.0}%  {on:>7.0} s {:>+5.0}%",
                share * 100.0,
                percent(off, normal),
                percent(on, normal)
            )?;
        }
    }
    Ok(())
}

fn percent(value: f64, base: f64) -> f64 {
    (value / base - 1.0) * 100.0
}
