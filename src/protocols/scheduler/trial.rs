//! The scheduler's measurements: the makespan of a job run by the real
//! dispatcher and workers in a quiet world (no fault, no network delay), as
//! a ratio to Graham's lower bound max(critical path, work / m); the sweep
//! trial `makespan_ratio` over random DAGs; and `faultline experiment
//! scheduler-priorities`, which tabulates list scheduling against
//! critical-path priority and reproduces Graham's anomaly.

use super::checker::SchedulerChecker;
use super::{DISPATCHER, SchedClient, SchedNode, Scheduler, SchedulerConfig, Settings, Strategy};
use crate::check::Checker;
use crate::sim::time::Duration;
use crate::sim::{Latency, NetworkConfig, World, WorldConfig};
use std::rc::Rc;

/// Longest a trial may run (virtual time) before it is cut.
const CAP: u64 = 1_000_000 * 1_000_000_000;

/// Workers of the sweep trial (the chart's m).
pub const TRIAL_WORKERS: usize = 4;

/// What a quiet run of a job gave.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Outcome {
    /// Makespan (virtual seconds) from the job's start to its last commit.
    pub makespan: f64,
    /// Its ratio to max(critical path, work / m).
    pub ratio: f64,
}

/// Runs the job of `config` on `workers` workers with no fault and no
/// network delay, the checker judging every step. `None` if the job did not
/// finish by the cap. Panics on a finding (the trial's job is a correct
/// scheduler's: a finding is a bug).
pub fn quiet_run(config: SchedulerConfig, workers: usize, seed: u64) -> Option<Outcome> {
    let nodes = workers + 1;
    let world_config = WorldConfig {
        seed,
        nodes,
        clients: 0,
        network: NetworkConfig {
            latency: Latency::Constant { value: Duration(0) },
            ..NetworkConfig::default()
        },
        ..WorldConfig::default()
    };
    let settings = Rc::new(Settings::new(config, nodes));
    let factory_settings = settings.clone();
    let mut world: World<Scheduler> = World::new(
        &world_config,
        Rc::new(move |id| SchedNode::new(&factory_settings, id)),
        |_| SchedClient,
    );
    let mut checker = SchedulerChecker::new(settings, CAP);
    world.start();
    while let Some(step) = world.step_until(CAP) {
        if let Some(finding) = checker.after_step(&world, step) {
            panic!("{}: {}", finding.property, finding.message);
        }
        if world
            .node(DISPATCHER)
            .as_dispatcher()
            .is_some_and(|dispatcher| dispatcher.is_done())
        {
            break;
        }
    }
    if let Some(finding) = checker.at_end(&world).into_iter().next() {
        panic!("{}: {}", finding.property, finding.message);
    }
    let measured = checker.measures();
    let get = |name: &str| {
        measured
            .iter()
            .find(|(measure, _)| *measure == name)
            .map(|(_, value)| *value)
    };
    Some(Outcome {
        makespan: get("scheduler_makespan_seconds")?,
        ratio: get("scheduler_makespan_ratio")?,
    })
}

/// The random job of the sweep trial and the experiment: `tasks` tasks of
/// 1 to 20 s, each depending on up to 3 of the 8 before it, drawn from
/// `seed`.
pub fn random_config(strategy: Strategy, tasks: usize, seed: u64) -> SchedulerConfig {
    toml::from_str(&format!(
        "name = \"scheduler\"\nstrategy = \"{strategy}\"\n[random]\ntasks = {tasks}\nmax_deps = 3\nwindow = 8\nmin_duration = \"1s\"\nmax_duration = \"20s\"\nseed = {seed}\n"
    ))
    .expect("the trial's configuration parses")
}

/// Checks a sweep value of `protocol.strategy`.
pub fn check_strategy(value: &toml::Value) -> Result<String, String> {
    let strategy: Strategy = value
        .clone()
        .try_into()
        .map_err(|error: toml::de::Error| error.message().trim().to_string())?;
    Ok(strategy.to_string())
}

/// One sweep trial: the makespan ratio of a random 40-task job on
/// [`TRIAL_WORKERS`] workers under the strategy `value`, the job drawn from
/// `seed`.
pub fn trial_ratio(value: &toml::Value, seed: u64) -> f64 {
    let strategy: Strategy = value
        .clone()
        .try_into()
        .expect("checked when the sweep was read");
    quiet_run(random_config(strategy, 40, seed), TRIAL_WORKERS, seed)
        .map_or(f64::INFINITY, |outcome| outcome.ratio)
}

/// Graham's anomaly (Graham 1969; the instance as the reference sheet gives
/// it): T1..T9 of 3, 2, 2, 2, 4, 4, 4, 4, 9 s; T1 before T9 and T4 before
/// T5..T8, or no precedence; every task `shorten` seconds shorter. The
/// priority list is T1..T9 (priorities 9 down to 1).
pub fn graham_config(precedence: bool, shorten: u64) -> SchedulerConfig {
    let durations = [3, 2, 2, 2, 4, 4, 4, 4, 9];
    let mut text = String::from("name = \"scheduler\"\nstrategy = \"list\"\n");
    for (i, duration) in durations.iter().enumerate() {
        let deps = match (precedence, i) {
            (true, 4..=7) => "[\"T4\"]",
            (true, 8) => "[\"T1\"]",
            _ => "[]",
        };
        text.push_str(&format!(
            "[[tasks]]\nname = \"T{}\"\npriority = {}\nduration = \"{}s\"\ndeps = {deps}\n",
            i + 1,
            9 - i,
            duration - shorten
        ));
    }
    toml::from_str(&text).expect("Graham's instance parses")
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

/// `faultline experiment scheduler-priorities`.
pub fn priorities_table(trials: Option<u64>, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    let seeds = trials.unwrap_or(200).max(1);
    writeln!(
        out,
        "Graham's anomaly (3 machines; T1..T9 = 3,2,2,2,4,4,4,4,9 s; T1 before T9, T4 before T5..T8), list scheduling:"
    )?;
    writeln!(out, "  case                      published   ours")?;
    let cases = [
        ("as given", true, 0, 3, 12),
        ("no precedence", false, 0, 3, 16),
        ("every task 1 s shorter", true, 1, 3, 13),
        ("a fourth machine", true, 0, 4, 15),
    ];
    for (name, precedence, shorten, machines, published) in cases {
        let ours = quiet_run(graham_config(precedence, shorten), machines, 1)
            .map_or(f64::NAN, |outcome| outcome.makespan);
        writeln!(out, "  {name:<24}  {published:>9}   {ours:>4.0}")?;
    }
    writeln!(out)?;
    writeln!(
        out,
        "random jobs of 40 tasks (1-20 s, up to 3 dependencies among the 8 before), {seeds} jobs each:"
    )?;
    writeln!(
        out,
        "makespan / max(critical path, work/m); Graham's bound is 2 - 1/m"
    )?;
    writeln!(
        out,
        "   m  strategy        median    mean     p90     max   bound  critical path shorter / equal / longer"
    )?;
    for machines in [2usize, 4, 8] {
        let mut ratios: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
        let mut makespans: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
        for seed in 1..=seeds {
            for (k, strategy) in [Strategy::List, Strategy::CriticalPath]
                .into_iter()
                .enumerate()
            {
                let outcome = quiet_run(random_config(strategy, 40, seed), machines, seed)
                    .expect("a quiet job finishes");
                ratios[k].push(outcome.ratio);
                makespans[k].push(outcome.makespan);
            }
        }
        let (mut shorter, mut equal, mut longer) = (0, 0, 0);
        for (list, critical) in makespans[0].iter().zip(&makespans[1]) {
            if (critical - list).abs() < 1e-9 {
                equal += 1;
            } else if critical < list {
                shorter += 1;
            } else {
                longer += 1;
            }
        }
        for (k, name) in ["list", "critical_path"].into_iter().enumerate() {
            let mut sorted = ratios[k].clone();
            sorted.sort_by(f64::total_cmp);
            let mean = sorted.iter().sum::<f64>() / sorted.len() as f64;
            let counts = if k == 1 {
                format!("  {shorter} / {equal} / {longer}")
            } else {
                String::new()
            };
            writeln!(
                out,
                "  {machines:>2}  {name:<14} {:>7.3} {mean:>7.3} {:>7.3} {:>7.3} {:>7.3}{counts}",
                quantile(&sorted, 0.5),
                quantile(&sorted, 0.9),
                sorted[sorted.len() - 1],
                2.0 - 1.0 / machines as f64,
            )?;
        }
    }
    Ok(())
}
