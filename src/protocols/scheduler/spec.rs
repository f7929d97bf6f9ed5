//! scheduler as the tool sees it: its declarations, its checks of the
//! `[protocol]` table, and how a run is built.

use super::{
    SchedClient, SchedNode, Scheduler, SchedulerBug, SchedulerChecker, SchedulerConfig,
    SchedulerPoint, Settings, dag,
};
use crate::check::Checker;
use crate::sim::NodeFactory;
use crate::spec::declare::bug_names;
use crate::spec::hooks::{BenchKind, BenchWorkload, Experiment, TrialMetric};
use crate::spec::{Declared, Invalid, ProtocolSpec, Setup};
use std::rc::Rc;

impl ProtocolSpec for Scheduler {
    type Config = SchedulerConfig;
    const NAME: &'static str = "scheduler";
    const SUMMARY: &'static str = "DAG scheduler: a dispatcher hands ready tasks to m workers by priority (list scheduling or critical path), re-runs the tasks of workers that crash or time out, and commits each task's output once in a synced log; checked against the sequential run and Graham's bound";
    const BUGS: &'static [Declared] = SchedulerBug::ALL;
    const PROPERTIES: &'static [Declared] = &[
        Declared::new(
            "dependencies_first",
            "always: a task becomes ready, and is dispatched, only after every one of its dependencies committed",
        ),
        Declared::new(
            "committed_once",
            "always: each task's output is committed once over the run (re-execution allowed, double commit not), and a committed task is never queued again",
        ),
        Declared::new(
            "output_equals_sequential",
            "always: each committed output is the one the sequential run of the job gives (a hash of the task and its dependencies' outputs)",
        ),
        Declared::new(
            "priority_order",
            "always: the task dispatched is the best ready one by (priority, arrival, place in the file), the priorities recomputed by the checker from the DAG",
        ),
        Declared::new(
            "job_finishes",
            "eventually: every task is committed and the dispatcher has declared the job done by the end of the liveness window",
        ),
        Declared::new(
            "graham_bound",
            "always, in a run with no fault, no lost, duplicated or long-delayed message and no timeout: makespan <= (2 - 1/m) x max(critical path, total work / m), each task's duration as the dispatcher saw it",
        ),
    ];
    const MEASURES: &'static [Declared] = &[
        Declared::new("scheduler_attempts", "task attempts handed out"),
        Declared::new("scheduler_timeouts", "attempts that went past task_timeout"),
        Declared::new(
            "scheduler_makespan_seconds",
            "virtual seconds from the job's start to its last commit",
        ),
        Declared::new(
            "scheduler_makespan_ratio",
            "makespan / max(critical path, total work / m), each task's duration as the dispatcher saw it",
        ),
    ];
    const SOMETIMES: &'static [Declared] = SchedulerPoint::ALL;
    const GROUPS: &'static [Declared] = &[
        Declared::new("dispatcher", "the dispatcher (node 0)"),
        Declared::new("workers", "the worker nodes (1 and up)"),
    ];

    fn validate(setup: &Setup<'_, SchedulerConfig>) -> Result<(), Invalid> {
        let config = setup.config;
        if setup.nodes < 2 {
            return Err(Invalid::key(
                "cluster.nodes",
                format!(
                    "expected at least 2 nodes (node 0 is the dispatcher, the rest are workers), got {}: a job needs at least one worker",
                    setup.nodes
                ),
            ));
        }
        let dag = dag::build(config)?;
        if let Some(timeout) = config.task_timeout {
            let longest = dag
                .tasks
                .iter()
                .max_by_key(|task| task.duration)
                .expect("a job has a task");
            if timeout.0 <= longest.duration {
                return Err(Invalid::key(
                    "protocol.task_timeout",
                    format!(
                        "expected a timeout longer than the longest task ({} of {}), got {timeout}: every run of it would be taken for a straggler",
                        longest.name,
                        crate::sim::time::Duration(longest.duration)
                    ),
                ));
            }
        }
        Ok(())
    }

    fn active_bugs(config: &SchedulerConfig) -> Vec<String> {
        bug_names(&config.bugs)
    }

    fn node_factory(setup: &Setup<'_, SchedulerConfig>) -> NodeFactory<Self> {
        let settings = Rc::new(Settings::new(setup.config.clone(), setup.nodes));
        Rc::new(move |id| SchedNode::new(&settings, id))
    }

    fn client(_setup: &Setup<'_, SchedulerConfig>, _index: usize) -> SchedClient {
        SchedClient
    }

    fn checkers(setup: &Setup<'_, SchedulerConfig>) -> Vec<Box<dyn Checker<Self>>> {
        let settings = Rc::new(Settings::new(setup.config.clone(), setup.nodes));
        vec![Box::new(SchedulerChecker::new(
            settings,
            setup.fault_phase_end,
        ))]
    }

    fn groups(setup: &Setup<'_, SchedulerConfig>) -> Vec<(&'static str, Vec<usize>)> {
        vec![
            ("dispatcher", vec![0]),
            ("workers", (1..setup.nodes).collect()),
        ]
    }

    fn trial_metrics() -> Vec<TrialMetric> {
        vec![TrialMetric {
            name: "makespan_ratio",
            description: "makespan / max(critical path, work / m), random 40-task jobs, m = 4",
            parameter: "protocol.strategy",
            log_x: false,
            cap: f64::INFINITY,
            check: super::trial::check_strategy,
            run: super::trial::trial_ratio,
        }]
    }

    fn experiments() -> Vec<Experiment> {
        vec![Experiment {
            name: "scheduler-priorities",
            what: "Graham's anomaly (12, 16, 13, 15) run by the dispatcher, and list scheduling against critical-path priority on random DAGs as a ratio to the lower bound, beside the (2 - 1/m) bound",
            run: super::trial::priorities_table,
        }]
    }

    fn bench_workloads() -> Vec<BenchWorkload> {
        vec![BenchWorkload {
            name: "scheduler",
            what: "scenarios/scheduler/nemesis.toml: a 40-task DAG on 4 workers under crashes, pauses, partitions and message loss, every checker on",
            kind: BenchKind::Scenario(bench_text),
        }]
    }
}

/// The benchmark scenario: the nemesis campaign, `seconds` long.
fn bench_text(seconds: u64) -> String {
    let text = include_str!("../../../scenarios/scheduler/nemesis.toml");
    text.replacen(
        "duration = \"20s\"",
        &format!("duration = \"{seconds}s\""),
        1,
    )
}
