//! The DAG scheduler: Graham's anomaly run by the real dispatcher and workers,
//! the dispatcher's schedule equal to the reference list schedule on random
//! jobs, critical-path priority against list scheduling, and the shipped
//! scenarios measured.

use crate::common::{run_file, shipped};
use faultline::protocols::scheduler::dag::{self, list_schedule};
use faultline::protocols::scheduler::trial::{graham_config, quiet_run, random_config};
use faultline::protocols::scheduler::{Settings, Strategy};
use faultline::runner::RunOptions;

const SECOND: f64 = 1e9;

/// The reference model's makespan (s) of a configuration on `machines`.
fn reference(config: faultline::protocols::scheduler::SchedulerConfig, machines: usize) -> f64 {
    let settings = Settings::new(config, machines + 1);
    let (_, makespan) = list_schedule(
        &settings.dag,
        machines,
        &settings.dag.durations(),
        &settings.priorities,
    );
    makespan as f64 / SECOND
}

#[test]
fn grahams_anomaly_is_reproduced_by_the_dispatcher_and_the_reference_model() {
    // (precedence, shorten by, machines, the published makespan)
    let cases = [
        (true, 0, 3, 12.0),
        (false, 0, 3, 16.0),
        (true, 1, 3, 13.0),
        (true, 0, 4, 15.0),
    ];
    for (precedence, shorten, machines, published) in cases {
        let config = graham_config(precedence, shorten);
        let ours = quiet_run(config.clone(), machines, 1).expect("the job finishes");
        assert_eq!(
            ours.makespan, published,
            "dispatcher: precedence {precedence}, shorter by {shorten}, {machines} machines"
        );
        assert_eq!(
            reference(config, machines),
            published,
            "reference model: precedence {precedence}, shorter by {shorten}, {machines} machines"
        );
    }
}

#[test]
fn the_shipped_anomaly_scenario_measures_twelve_seconds() {
    let outcome = run_file(
        &shipped("scheduler", "graham_anomaly.toml"),
        &RunOptions::seed(1),
    )
    .expect("valid");
    assert!(outcome.passed(), "{:?}", outcome.summary.violations);
    let measured = &outcome.summary.measured;
    assert_eq!(measured.get("scheduler_makespan_seconds"), Some(&12.0));
    assert_eq!(measured.get("scheduler_attempts"), Some(&9.0));
}

#[test]
fn the_dispatcher_schedules_exactly_as_the_reference_list_schedule() {
    for seed in 1..=20 {
        for strategy in [Strategy::List, Strategy::CriticalPath] {
            for machines in [2, 4] {
                let config = random_config(strategy, 40, seed);
                let ours = quiet_run(config.clone(), machines, seed).expect("finishes");
                assert_eq!(
                    ours.makespan,
                    reference(config, machines),
                    "seed {seed}, {strategy}, {machines} machines"
                );
                assert!(ours.ratio <= 2.0 - 1.0 / machines as f64, "{ours:?}");
            }
        }
    }
}

#[test]
fn critical_path_priority_beats_list_scheduling_on_random_jobs() {
    let (mut list, mut critical, mut wins) = (0.0, 0.0, 0);
    for seed in 1..=50 {
        let a = quiet_run(random_config(Strategy::List, 40, seed), 4, seed).unwrap();
        let b = quiet_run(random_config(Strategy::CriticalPath, 40, seed), 4, seed).unwrap();
        list += a.ratio;
        critical += b.ratio;
        wins += usize::from(b.makespan < a.makespan);
    }
    let (list, critical) = (list / 50.0, critical / 50.0);
    assert!(list > 1.05, "list scheduling's mean ratio {list}");
    assert!(critical < 1.02, "critical path's mean ratio {critical}");
    assert!(wins >= 40, "critical path shorter in {wins} of 50");
}

#[test]
fn a_random_job_is_acyclic_with_dependencies_inside_its_window() {
    let config = random_config(Strategy::List, 200, 9);
    let random = config.random.as_ref().unwrap();
    let tasks = dag::draw_tasks(random);
    for (i, task) in tasks.iter().enumerate() {
        assert!(task.deps.len() <= 3);
        for &d in &task.deps {
            assert!(d < i && i - d <= 8, "task {i} depends on {d}");
        }
        assert!((1_000_000_000..=20_000_000_000).contains(&task.duration));
    }
    let dag = dag::build(&config).unwrap();
    assert_eq!(dag.order.len(), 200);
}

#[test]
fn the_campaigns_pass_and_reach_every_sometimes_point_between_them() {
    let mut reached = std::collections::BTreeSet::new();
    for name in ["nemesis.toml", "durable.toml"] {
        let file = shipped("scheduler", name);
        for seed in 1..=40 {
            let outcome = run_file(&file, &RunOptions::seed(seed)).expect("valid");
            assert!(
                outcome.passed(),
                "{name} seed {seed}: {:?}",
                outcome.summary.violations
            );
            reached.extend(outcome.summary.sometimes.keys().cloned());
        }
    }
    for point in faultline::protocols::scheduler::SchedulerPoint::ALL {
        assert!(reached.contains(point.name), "{} never fired", point.name);
    }
}
