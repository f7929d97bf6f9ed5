//! `scheduler`: a DAG scheduler that dispatches the ready tasks of a job to m
//! workers by priority, re-runs the tasks of workers that crash or straggle,
//! and commits each task's output once (issue 19).
//!
//! # The system
//!
//! Node 0 is the **dispatcher**; nodes 1..=m are **workers**. Faults reach
//! them by group: `@dispatcher`, `@workers`. There are no clients: the job
//! starts when the run does.
//!
//! - The **job** is a DAG of tasks ([`dag`]), each with a duration, a
//!   priority and dependencies, written out in the scenario
//!   (`[[protocol.tasks]]`) or drawn from a seed (`[protocol.random]`). A
//!   task's output is a hash of its name and its dependencies' outputs, so a
//!   task run on missing or wrong inputs gives a wrong output, and the job's
//!   outputs can be compared with a sequential run's.
//! - The dispatcher keeps every **ready** task (all dependencies committed,
//!   no copy running) in a queue ordered by priority, ties in arrival order
//!   (when the task became ready; then the task's place in the file). The
//!   **strategy** sets the priority: `list` takes each task's `priority` as
//!   written (Graham's list scheduling: with none written, the file's order),
//!   `critical_path` the longest path from the task to the end of the job,
//!   its own duration included (the bottom level of HEFT and CPOP).
//! - Whenever a worker is idle and a task is ready, the dispatcher hands the
//!   best ready task to the idle worker of lowest id (`Run`, with its
//!   dependencies' outputs). It decides at the end of the instant (a timer
//!   of no delay), so reports that arrive at the same moment are all taken
//!   in first, as in Graham's model where simultaneous completions free
//!   their machines together. The worker works for the task's duration (times
//!   its slowdown) and reports the output in its `Status`, again on every
//!   heartbeat until the dispatcher acknowledges it.
//! - **Commit.** The first report of a task's output is committed: appended
//!   to the dispatcher's log and synced, then the counters of its dependants
//!   go down, and those at zero become ready. A later report of the same task
//!   (a backup's, a retransmission) is acknowledged and ignored.
//! - **Failures.** Every status carries the worker's boot number (kept on its
//!   disk). A worker that comes back with a new boot has lost its task: the
//!   task is queued again. A task not reported within `task_timeout` is
//!   queued again too (its copy keeps running: a **backup** on another worker
//!   races it, and the first report wins). A `Run` the worker has not seen is
//!   sent again on its next status.
//! - **The dispatcher's own restart.** The log is its durable state: a
//!   restarted dispatcher reads the committed tasks back, recomputes the
//!   counters and the ready queue from them, and waits for the workers'
//!   statuses: a worker still running a task of the dispatcher's earlier life
//!   is left to finish it, and its report is committed like any other. A
//!   committed task is never run again.
//!
//! # What is checked ([`checker`])
//!
//! A task becomes ready and starts only after all its dependencies committed;
//! each task is committed exactly once over the run, with the output of the
//! sequential run; among the ready tasks the one dispatched is the best by
//! (priority, arrival), recomputed by the checker from the DAG; the job is
//! done by the end of the liveness window; and in a run with no fault, no
//! lost, duplicated or long-delayed message and no timeout, the makespan is
//! at most (2 − 1/m) × max(critical path, total work / m) (Graham's bound),
//! each task's duration taken as the dispatcher saw it (dispatch to commit).

pub mod checker;
pub mod dag;
pub mod dispatcher;
mod spec;
pub mod trial;
pub mod worker;

pub use checker::SchedulerChecker;
pub use dag::Dag;
pub use dispatcher::Dispatcher;
pub use worker::Worker;

use crate::sim::time::Duration;
use crate::sim::{Ctx, Node, ProcessId, Protocol, Status};
use serde::{Deserialize, Serialize};
use std::rc::Rc;

/// The scheduler protocol's types.
#[derive(Clone, Copy, Debug)]
pub struct Scheduler;

crate::declare! {
    /// Planted bugs (`bugs = [...]` in the `[protocol]` table).
    pub enum SchedulerBug {
        /// The ready queue hands out its lowest-priority task first.
        PriorityInverted = "priority_inverted",
        /// A report from a second attempt of a committed task (a backup and
        /// its primary both finishing) decrements the dependants' counters
        /// again: a dependant can become ready before its other
        /// dependencies committed.
        DependencyCountedTwice = "dependency_counted_twice",
    }
}

crate::declare! {
    /// The situations a scheduler must be tested in (*sometimes* points).
    pub enum SchedulerPoint {
        /// A task whose worker restarted was queued to run again.
        RerunAfterCrash = "scheduler_task_rerun_after_crash",
        /// A task not reported within `task_timeout` was queued to run
        /// again (a backup copy).
        RerunAfterTimeout = "scheduler_task_rerun_after_timeout",
        /// A report from another attempt of a task already committed arrived
        /// and was ignored.
        LateCompletionIgnored = "scheduler_late_completion_ignored",
        /// A worker's status showed it had not seen the task handed to it,
        /// and the task was sent again.
        RunResent = "scheduler_run_resent",
        /// A restarted dispatcher read committed tasks back from its log.
        CommitsRecovered = "scheduler_commits_recovered",
        /// A worker reported running an attempt the dispatcher does not know
        /// (handed out before the dispatcher restarted), and was left to
        /// finish it.
        UnknownAttemptAdopted = "scheduler_unknown_attempt_adopted",
        /// A status from an earlier boot of a worker, or an older status of
        /// its boot, arrived after a later one, and only its reports were
        /// used.
        StaleStatus = "scheduler_stale_status",
        /// A task was dispatched while ready tasks of lower priority waited.
        PriorityChoice = "scheduler_priority_choice",
    }
}

/// How tasks are ordered in the ready queue (`strategy = "..."`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// Graham's list scheduling: each task's `priority` as written (higher
    /// first; with none written, the file's order).
    #[default]
    List,
    /// The longest path from the task to the end of the job, its own
    /// duration included.
    CriticalPath,
}

impl std::fmt::Display for Strategy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Strategy::List => "list",
            Strategy::CriticalPath => "critical_path",
        })
    }
}

/// One task written out (`[[protocol.tasks]]`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskConfig {
    /// Its name, unique in the job.
    pub name: String,
    /// How long it works (times the worker's slowdown).
    pub duration: Duration,
    /// Its priority under `strategy = "list"` (higher first). Default 0.
    #[serde(default)]
    pub priority: i64,
    /// The tasks whose outputs it needs. Default none.
    #[serde(default)]
    pub deps: Vec<String>,
}

fn default_random_tasks() -> usize {
    30
}
fn default_max_deps() -> usize {
    3
}
fn default_window() -> usize {
    8
}
fn default_min_duration() -> Duration {
    Duration::from_millis(100)
}
fn default_max_duration() -> Duration {
    Duration::from_millis(2000)
}
fn default_dag_seed() -> u64 {
    1
}

/// A job drawn from a seed (`[protocol.random]`): task `i` depends on up to
/// `max_deps` tasks drawn among the `window` before it, and works a whole
/// number of milliseconds drawn uniformly from the duration range.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RandomDag {
    /// Tasks. Default 30.
    #[serde(default = "default_random_tasks")]
    pub tasks: usize,
    /// Most dependencies of one task. Default 3.
    #[serde(default = "default_max_deps")]
    pub max_deps: usize,
    /// How far back a dependency may be. Default 8.
    #[serde(default = "default_window")]
    pub window: usize,
    /// Shortest task. Default `"100ms"`.
    #[serde(default = "default_min_duration")]
    pub min_duration: Duration,
    /// Longest task. Default `"2s"`.
    #[serde(default = "default_max_duration")]
    pub max_duration: Duration,
    /// Seed of the job (the job does not vary with the run's seed: fuzzing
    /// varies faults and timing, not the job). Default 1.
    #[serde(default = "default_dag_seed")]
    pub seed: u64,
    /// Draw each task's `list` priority from 0..10 (true) or leave it 0
    /// (false: the file's order). Default false.
    #[serde(default)]
    pub priorities: bool,
}

fn default_heartbeat() -> Duration {
    Duration::from_millis(200)
}
fn default_start_grace() -> Duration {
    Duration::from_millis(500)
}

/// The `[protocol]` table for `name = "scheduler"`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchedulerConfig {
    /// Always `"scheduler"`.
    pub name: String,
    /// Planted bugs. Default none.
    #[serde(default)]
    pub bugs: Vec<SchedulerBug>,
    /// How ready tasks are ordered. Default `"list"`.
    #[serde(default)]
    pub strategy: Strategy,
    /// The job's tasks, written out (or `random`).
    #[serde(default)]
    pub tasks: Vec<TaskConfig>,
    /// The job, drawn from a seed (or `tasks`).
    #[serde(default)]
    pub random: Option<RandomDag>,
    /// A task not reported within this is queued again, and a backup copy
    /// races the first. Default none (a straggler is waited for).
    #[serde(default)]
    pub task_timeout: Option<Duration>,
    /// How often a worker reports its status. Default `"200ms"`.
    #[serde(
        default = "default_heartbeat",
        deserialize_with = "crate::sim::time::positive"
    )]
    pub heartbeat: Duration,
    /// The dispatcher starts the job once every worker has reported, or this
    /// long after it started with the workers it has. Default `"500ms"`.
    #[serde(default = "default_start_grace")]
    pub start_grace: Duration,
}

impl SchedulerConfig {
    /// Whether planted bug `bug` is on.
    pub fn has(&self, bug: SchedulerBug) -> bool {
        self.bugs.contains(&bug)
    }
}

/// What every node and the checker share: the configuration, the job and
/// the shape of the cluster.
#[derive(Debug)]
pub struct Settings {
    /// The `[protocol]` table.
    pub config: SchedulerConfig,
    /// The job.
    pub dag: Dag,
    /// Each task's priority under the strategy (higher first).
    pub priorities: Vec<i64>,
    /// Server nodes (the dispatcher and the workers).
    pub nodes: usize,
}

impl Settings {
    /// The settings of a run with `nodes` nodes; the configuration must have
    /// been checked ([`dag::build`] accepts it).
    pub fn new(config: SchedulerConfig, nodes: usize) -> Self {
        let dag = dag::build(&config).unwrap_or_else(|_| Dag::default());
        let priorities = dag.priorities(config.strategy);
        Settings {
            config,
            dag,
            priorities,
            nodes,
        }
    }

    /// The worker node ids.
    pub fn workers(&self) -> std::ops::Range<usize> {
        1..self.nodes
    }

    /// Workers (m).
    pub fn worker_count(&self) -> usize {
        self.nodes - 1
    }
}

/// The dispatcher's node id.
pub const DISPATCHER: ProcessId = 0;

/// An attempt at a task: unique in the run (the dispatcher's epoch in the
/// high 32 bits, a counter below), increasing over the run.
pub type AttemptId = u64;

/// A task's output reported by a worker.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Report {
    /// The attempt.
    pub attempt: AttemptId,
    /// The task.
    pub task: usize,
    /// Its output.
    pub output: u64,
}

/// Messages.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum SchedMsg {
    /// Worker → dispatcher: what I am doing and what I finished.
    Status {
        /// The worker's boot.
        boot: u64,
        /// The status's number in this boot (a status older than one heard
        /// is out of date: only its reports count).
        seq: u64,
        /// The attempt it is working on.
        running: Option<AttemptId>,
        /// The highest attempt handed to it this boot (0: none).
        seen: AttemptId,
        /// Finished attempts not yet acknowledged.
        reports: Rc<[Report]>,
    },
    /// Dispatcher → worker: run this task on these inputs.
    Run {
        /// The attempt.
        attempt: AttemptId,
        /// The task.
        task: usize,
        /// Its dependencies' outputs, in the order of its `deps`.
        inputs: Rc<[u64]>,
    },
    /// Dispatcher → worker: the report of this attempt is stored.
    Ack {
        /// The attempt.
        attempt: AttemptId,
    },
    /// Dispatcher → worker: the job is done; stop reporting.
    Exit,
}

/// Timers.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum SchedTimer {
    /// Dispatcher: look for attempts past their timeout.
    Sweep,
    /// Dispatcher: start the job with the workers heard from so far.
    StartGrace,
    /// Dispatcher: hand ready tasks to idle workers, once everything that
    /// happened at this instant has been taken in.
    Dispatch,
    /// Worker: report status.
    Heartbeat,
    /// Worker: the attempt's work is finished.
    WorkDone(AttemptId),
}

impl Protocol for Scheduler {
    type Msg = SchedMsg;
    type Timer = SchedTimer;
    type Node = SchedNode;
    type Client = SchedClient;

    fn is_reply(msg: &SchedMsg) -> bool {
        matches!(msg, SchedMsg::Ack { .. } | SchedMsg::Exit)
    }
}

/// The scheduler has no clients: the job starts with the run. Clients a
/// scenario asks for do nothing.
#[derive(Clone, Debug)]
pub struct SchedClient;

impl crate::sim::Client<Scheduler> for SchedClient {
    fn on_start(&mut self, _ctx: &mut Ctx<'_, Scheduler>) {}
    fn on_message(&mut self, _ctx: &mut Ctx<'_, Scheduler>, _from: ProcessId, _msg: SchedMsg) {}
    fn on_timer(&mut self, _ctx: &mut Ctx<'_, Scheduler>, _timer: SchedTimer) {}
}

/// A node: the dispatcher or a worker.
#[derive(Clone, Debug)]
pub enum SchedNode {
    /// The dispatcher (node 0).
    Dispatcher(Box<Dispatcher>),
    /// A worker.
    Worker(Box<Worker>),
}

impl SchedNode {
    /// Node `id` of a run.
    pub fn new(settings: &Rc<Settings>, id: ProcessId) -> Self {
        if id == DISPATCHER {
            SchedNode::Dispatcher(Box::new(Dispatcher::new(settings.clone())))
        } else {
            SchedNode::Worker(Box::new(Worker::new(settings.clone())))
        }
    }

    /// The dispatcher, if this is it.
    pub fn as_dispatcher(&self) -> Option<&Dispatcher> {
        match self {
            SchedNode::Dispatcher(dispatcher) => Some(dispatcher),
            SchedNode::Worker(_) => None,
        }
    }

    /// The worker, if this is one.
    pub fn as_worker(&self) -> Option<&Worker> {
        match self {
            SchedNode::Worker(worker) => Some(worker),
            SchedNode::Dispatcher(_) => None,
        }
    }
}

impl Node<Scheduler> for SchedNode {
    fn on_start(&mut self, ctx: &mut Ctx<'_, Scheduler>) {
        match self {
            SchedNode::Dispatcher(dispatcher) => dispatcher.on_start(ctx),
            SchedNode::Worker(worker) => worker.on_start(ctx),
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Scheduler>, from: ProcessId, msg: SchedMsg) {
        match self {
            SchedNode::Dispatcher(dispatcher) => dispatcher.on_message(ctx, from, msg),
            SchedNode::Worker(worker) => worker.on_message(ctx, from, msg),
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Scheduler>, timer: SchedTimer) {
        match self {
            SchedNode::Dispatcher(dispatcher) => dispatcher.on_timer(ctx, timer),
            SchedNode::Worker(worker) => worker.on_timer(ctx, timer),
        }
    }

    fn status(&self) -> Status {
        Status::default()
    }
}
