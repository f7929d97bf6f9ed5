//! The scheduler checker. It reads the dispatcher's journal and keeps its own
//! model of the job: which tasks committed (over the run, with their
//! outputs), and the ready queue in this life of the dispatcher, ordered by
//! priorities it computes from the DAG itself. Against that it checks that
//! nothing is ready or dispatched before its dependencies committed, that
//! each task commits once with the sequential run's output, that the task
//! dispatched is the best one ready, that the job finishes, and Graham's
//! bound on the makespan of a quiet run.

use super::dispatcher::Note;
use super::{AttemptId, DISPATCHER, Scheduler, Settings};
use crate::check::{Checker, Finding};
use crate::sim::{Step, World};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

/// See the module documentation.
#[derive(Clone, Debug)]
pub struct SchedulerChecker {
    settings: Rc<Settings>,
    /// The sequential run's outputs.
    expected: Rc<Vec<u64>>,
    /// Each task's priority, computed here from the DAG and the strategy.
    priorities: Rc<Vec<i64>>,
    /// The dispatcher incarnation whose journal is being read, and how far.
    incarnation: u32,
    read: usize,
    /// When each task committed (true virtual time), and by which attempt.
    committed: Vec<Option<(u64, AttemptId)>>,
    /// This life's arrival numbers and ready queue, as the checker sees it.
    arrival: Vec<Option<u64>>,
    next_arrival: u64,
    queue: BTreeSet<(Reverse<i64>, u64, usize)>,
    /// When each attempt was dispatched (true virtual time).
    dispatched: BTreeMap<AttemptId, u64>,
    attempts: u64,
    timeouts: u64,
    /// The first job start seen, and the dispatcher's declaration of done.
    started_at: Option<u64>,
    done_at: Option<u64>,
    /// End of the fault phase (true virtual time), where the heal is applied.
    fault_phase_end: u64,
    /// Whether a fault other than that heal was applied.
    faulted: bool,
}

impl SchedulerChecker {
    /// The checker of a run with these settings.
    pub fn new(settings: Rc<Settings>, fault_phase_end: u64) -> Self {
        let expected = Rc::new(settings.dag.sequential_outputs());
        let priorities = Rc::new(settings.dag.priorities(settings.config.strategy));
        let n = settings.dag.len();
        SchedulerChecker {
            settings,
            expected,
            priorities,
            incarnation: 0,
            read: 0,
            committed: vec![None; n],
            arrival: vec![None; n],
            next_arrival: 0,
            queue: BTreeSet::new(),
            dispatched: BTreeMap::new(),
            attempts: 0,
            timeouts: 0,
            started_at: None,
            done_at: None,
            fault_phase_end,
            faulted: false,
        }
    }

    fn name(&self, task: usize) -> &str {
        &self.settings.dag.tasks[task].name
    }

    /// The first dependency of `task` not committed, if any.
    fn missing_dependency(&self, task: usize) -> Option<usize> {
        self.settings.dag.tasks[task]
            .deps
            .iter()
            .copied()
            .find(|&d| self.committed[d].is_none())
    }

    /// A task's priority as the strategy defines it.
    fn priority_text(&self, task: usize) -> String {
        match self.settings.config.strategy {
            super::Strategy::List => format!("priority {}", self.priorities[task]),
            super::Strategy::CriticalPath => format!(
                "critical path {}",
                seconds(self.priorities[task].max(0) as u64)
            ),
        }
    }

    fn key(&self, task: usize) -> Option<(Reverse<i64>, u64, usize)> {
        Some((Reverse(self.priorities[task]), self.arrival[task]?, task))
    }

    /// Reads the dispatcher's new journal entries.
    fn read_journal(&mut self, world: &World<Scheduler>) -> Option<Finding> {
        let incarnation = world.incarnation(DISPATCHER);
        if incarnation != self.incarnation {
            // A new life: its queue and arrival numbers start over.
            self.incarnation = incarnation;
            self.read = 0;
            self.arrival.iter_mut().for_each(|a| *a = None);
            self.next_arrival = 0;
            self.queue.clear();
        }
        let dispatcher = world.node(DISPATCHER).as_dispatcher()?;
        let journal = &dispatcher.journal;
        if journal.len() < self.read {
            self.read = 0;
        }
        let new: Vec<Note> = journal[self.read..].to_vec();
        self.read = journal.len();
        let now = world.now();
        for note in new {
            if let Some(finding) = self.note(note, now) {
                return Some(finding);
            }
        }
        None
    }

    fn note(&mut self, note: Note, now: u64) -> Option<Finding> {
        match note {
            Note::Started => {
                self.started_at.get_or_insert(now);
            }
            Note::Queued { task } => {
                if let Some(d) = self.missing_dependency(task) {
                    return Some(Finding::always(
                        "dependencies_first",
                        format!(
                            "task {} became ready while its dependency {} had not committed",
                            self.name(task),
                            self.name(d)
                        ),
                    ));
                }
                if self.committed[task].is_some() {
                    return Some(Finding::always(
                        "committed_once",
                        format!(
                            "task {} was queued to run again after it committed",
                            self.name(task)
                        ),
                    ));
                }
                let arrival = *self.arrival[task].get_or_insert_with(|| {
                    self.next_arrival += 1;
                    self.next_arrival - 1
                });
                self.queue
                    .insert((Reverse(self.priorities[task]), arrival, task));
            }
            Note::Dispatched {
                task,
                attempt,
                worker,
            } => {
                self.attempts += 1;
                self.dispatched.insert(attempt, now);
                if let Some(d) = self.missing_dependency(task) {
                    return Some(Finding::always(
                        "dependencies_first",
                        format!(
                            "task {} started on worker {worker} before its dependency {} committed",
                            self.name(task),
                            self.name(d)
                        ),
                    ));
                }
                let Some(key) = self.key(task).filter(|key| self.queue.contains(key)) else {
                    return Some(Finding::always(
                        "priority_order",
                        format!(
                            "task {} was dispatched to worker {worker} though it was not in the ready queue",
                            self.name(task)
                        ),
                    ));
                };
                if let Some(&best) = self.queue.first()
                    && best < key
                {
                    let best_task = best.2;
                    let tie = self.priorities[best_task] == self.priorities[task];
                    return Some(Finding::always(
                        "priority_order",
                        format!(
                            "task {} ({}) was dispatched to worker {worker} while task {} ({}{}) was ready",
                            self.name(task),
                            self.priority_text(task),
                            self.name(best_task),
                            self.priority_text(best_task),
                            if tie { ", ready earlier" } else { "" }
                        ),
                    ));
                }
                self.queue.remove(&key);
            }
            Note::TimedOut { .. } => self.timeouts += 1,
            Note::Committed {
                task,
                attempt,
                output,
            } => {
                if let Some((_, earlier)) = self.committed[task] {
                    return Some(Finding::always(
                        "committed_once",
                        format!(
                            "task {} committed twice: by attempt {} and again by attempt {}",
                            self.name(task),
                            attempt_name(earlier),
                            attempt_name(attempt)
                        ),
                    ));
                }
                if output != self.expected[task] {
                    return Some(Finding::always(
                        "output_equals_sequential",
                        format!(
                            "task {} committed output {output:016x}; the sequential run gives {:016x}",
                            self.name(task),
                            self.expected[task]
                        ),
                    ));
                }
                self.committed[task] = Some((now, attempt));
                if let Some(key) = self.key(task) {
                    self.queue.remove(&key);
                }
            }
            Note::Done => {
                if let Some(task) = self.committed.iter().position(Option::is_none) {
                    return Some(Finding::always(
                        "job_finishes",
                        format!(
                            "the dispatcher declared the job done with task {} not committed",
                            self.name(task)
                        ),
                    ));
                }
                self.done_at.get_or_insert(now);
            }
        }
        None
    }

    /// Each task's duration as the dispatcher saw it (dispatch of the
    /// committing attempt to its commit), if every task has one.
    fn observed_durations(&self) -> Option<Vec<u64>> {
        self.committed
            .iter()
            .map(|commit| {
                let (at, attempt) = (*commit)?;
                Some(at - self.dispatched.get(&attempt)?)
            })
            .collect()
    }

    /// Makespan and Graham's lower bound, under the observed durations.
    fn makespan_and_bound(&self) -> Option<(u64, u64, u64)> {
        let start = self.started_at?;
        let end = self.committed.iter().map(|c| c.map(|(at, _)| at)).max()??;
        let durations = self.observed_durations()?;
        let critical = self.settings.dag.critical_path(&durations);
        let work: u64 = durations.iter().sum();
        Some((end - start, critical, work))
    }

    /// Whether the run was quiet enough for Graham's bound to apply: no
    /// fault, no message lost, duplicated or long delayed, one life of the
    /// dispatcher, no timeout, one attempt per task.
    fn quiet(&self, world: &World<Scheduler>) -> bool {
        let network = world.network();
        !self.faulted
            && network.lost == 0
            && network.duplicated == 0
            && network.long_delayed == 0
            && self.incarnation == world.incarnation(DISPATCHER)
            && world.incarnation(DISPATCHER) == 0
            && self.timeouts == 0
            && self.attempts == self.settings.dag.len() as u64
    }
}

/// An attempt id as `epoch.number`.
fn attempt_name(attempt: AttemptId) -> String {
    format!("{}.{}", attempt >> 32, attempt & 0xffff_ffff)
}

fn seconds(ns: u64) -> String {
    format!("{:.3} s", ns as f64 / 1e9)
}

impl Checker<Scheduler> for SchedulerChecker {
    fn name(&self) -> &'static str {
        "scheduler"
    }

    fn after_step(&mut self, world: &World<Scheduler>, step: Step) -> Option<Finding> {
        if step == Step::Fault && world.now() != self.fault_phase_end {
            self.faulted = true;
        }
        let dispatcher = match step {
            Step::Delivered { to, .. } => to == DISPATCHER,
            Step::Timer { process } => process == DISPATCHER,
            Step::Fault | Step::Driver => true,
            Step::Dropped | Step::Skipped => false,
        };
        if !dispatcher {
            return None;
        }
        self.read_journal(world)
    }

    fn at_end(&mut self, world: &World<Scheduler>) -> Vec<Finding> {
        let mut findings = Vec::new();
        if let Some(finding) = self.read_journal(world) {
            findings.push(finding);
        }
        let done = world.is_up(DISPATCHER)
            && world
                .node(DISPATCHER)
                .as_dispatcher()
                .is_some_and(|d| d.is_done());
        if !done {
            let committed = self.committed.iter().filter(|c| c.is_some()).count();
            let waiting = self
                .committed
                .iter()
                .position(Option::is_none)
                .map(|task| format!("; task {} is not", self.name(task)))
                .unwrap_or_default();
            findings.push(Finding::eventually(
                "job_finishes",
                format!(
                    "the job is not done at the end of the liveness window: {committed} of {} tasks committed{waiting}{}",
                    self.settings.dag.len(),
                    if world.is_up(DISPATCHER) {
                        ""
                    } else {
                        " (and the dispatcher is down)"
                    }
                ),
            ));
        } else if self.quiet(world)
            && let Some((makespan, critical, work)) = self.makespan_and_bound()
        {
            // m·M ≤ (2m − 1)·max(C, W/m), in integers.
            let m = self.settings.worker_count() as u128;
            let (makespan, critical, work) = (makespan as u128, critical as u128, work as u128);
            let within =
                m * makespan <= (2 * m - 1) * critical || m * m * makespan <= (2 * m - 1) * work;
            if !within {
                findings.push(Finding::always(
                    "graham_bound",
                    format!(
                        "with no fault the makespan is {}, above (2 − 1/{m}) × max(critical path {}, work / {m} = {}) = {}",
                        seconds(makespan as u64),
                        seconds(critical as u64),
                        seconds((work / m) as u64),
                        seconds(((2 * m - 1) * critical.max(work / m) / m) as u64),
                    ),
                ));
            }
        }
        findings
    }

    fn measures(&self) -> Vec<(&'static str, f64)> {
        let mut measures = vec![
            ("scheduler_attempts", self.attempts as f64),
            ("scheduler_timeouts", self.timeouts as f64),
        ];
        if let Some((makespan, critical, work)) = self.makespan_and_bound() {
            let m = self.settings.worker_count() as f64;
            let bound = (critical as f64).max(work as f64 / m);
            measures.push(("scheduler_makespan_seconds", makespan as f64 / 1e9));
            if bound > 0.0 {
                measures.push(("scheduler_makespan_ratio", makespan as f64 / bound));
            }
        }
        measures
    }
}
