//! The dispatcher: the ready queue, dispatch by priority, failure handling
//! and the durable commit of task outputs. See the module documentation of
//! [`super`].

use super::{
    AttemptId, Report, SchedMsg, SchedTimer, Scheduler, SchedulerBug as Bug,
    SchedulerPoint as Point, Settings,
};
use crate::protocols::durable::next_generation;
use crate::sim::crc32c::{frame, salvage};
use crate::sim::time::Duration;
use crate::sim::{Ctx, ProcessId};
use std::cmp::Reverse;
use std::collections::BTreeSet;
use std::rc::Rc;

/// The dispatcher's log of committed tasks: one CRC-framed record per
/// commit, the task's index and its output (little-endian u32 and u64).
pub const LOG: &str = "commits";

/// One copy of a task handed to a worker.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Attempt {
    id: AttemptId,
    worker: ProcessId,
    /// When it was handed out (the dispatcher's clock).
    started: u64,
    /// Whether it is past its timeout (and the task queued again).
    timed_out: bool,
}

/// What the dispatcher knows of one worker.
#[derive(Clone, Debug, Default)]
struct WorkerView {
    /// Heard from in this life of the dispatcher.
    known: bool,
    /// The latest boot heard.
    boot: u64,
    /// The latest status number heard from that boot.
    seq: u64,
    /// The attempt it is believed to be working on.
    current: Option<AttemptId>,
}

/// What the dispatcher did, for the checker (observer-only: nothing the
/// dispatcher decides reads it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Note {
    /// The job started (every worker reported, or the grace ran out).
    Started,
    /// A task entered the ready queue (became ready, or was queued again).
    Queued {
        /// The task.
        task: usize,
    },
    /// An attempt was handed out.
    Dispatched {
        /// The task.
        task: usize,
        /// The attempt.
        attempt: AttemptId,
        /// The worker.
        worker: ProcessId,
    },
    /// An attempt went past its timeout.
    TimedOut {
        /// The attempt.
        attempt: AttemptId,
    },
    /// A task's output was committed.
    Committed {
        /// The task.
        task: usize,
        /// The attempt that reported it.
        attempt: AttemptId,
        /// The output.
        output: u64,
    },
    /// The dispatcher declared the job done.
    Done,
}

/// The dispatcher node.
#[derive(Clone, Debug)]
pub struct Dispatcher {
    settings: Rc<Settings>,
    epoch: u64,
    next_attempt: u64,
    /// Dependencies of each task not yet committed (as counted).
    remaining: Vec<usize>,
    /// Committed outputs.
    outputs: Vec<Option<u64>>,
    /// The attempt each task was committed by (0: read back from the log).
    committed_by: Vec<AttemptId>,
    committed: usize,
    /// Each task's arrival number in this life (when it first became ready).
    arrival: Vec<Option<u64>>,
    next_arrival: u64,
    /// The ready queue: (priority, arrival, task), best first.
    queue: BTreeSet<(Reverse<i64>, u64, usize)>,
    /// Copies of each task handed out and not finished or lost.
    running: Vec<Vec<Attempt>>,
    workers: Vec<WorkerView>,
    started: bool,
    done: bool,
    /// A dispatch timer is pending.
    dispatch_pending: bool,
    /// What it did, for the checker.
    pub journal: Vec<Note>,
}

impl Dispatcher {
    /// A dispatcher that has not started.
    pub fn new(settings: Rc<Settings>) -> Self {
        let n = settings.dag.len();
        let workers = vec![WorkerView::default(); settings.nodes];
        Dispatcher {
            settings,
            epoch: 0,
            next_attempt: 0,
            remaining: vec![0; n],
            outputs: vec![None; n],
            committed_by: vec![0; n],
            committed: 0,
            arrival: vec![None; n],
            next_arrival: 0,
            queue: BTreeSet::new(),
            running: vec![Vec::new(); n],
            workers,
            started: false,
            done: false,
            dispatch_pending: false,
            journal: Vec::new(),
        }
    }

    /// Whether the dispatcher has declared the job done.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Tasks committed (as counted).
    pub fn committed(&self) -> usize {
        self.committed
    }

    /// The dispatcher's epoch (its start count).
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    fn has(&self, bug: Bug) -> bool {
        self.settings.config.has(bug)
    }

    pub(super) fn on_start(&mut self, ctx: &mut Ctx<'_, Scheduler>) {
        self.epoch = next_generation(ctx, "epoch");
        // The log is read until it reads: the commits must never be lost.
        let bytes = loop {
            if let Ok(bytes) = ctx.disk().read(LOG) {
                break bytes.to_vec();
            }
        };
        let (records, _damaged) = salvage(&bytes);
        let n = self.settings.dag.len();
        for record in records {
            let (Some(task), Some(output)) = (
                record
                    .get(..4)
                    .and_then(|b| <[u8; 4]>::try_from(b).ok())
                    .map(|b| u32::from_le_bytes(b) as usize)
                    .filter(|&task| task < n),
                record
                    .get(4..12)
                    .and_then(|b| <[u8; 8]>::try_from(b).ok())
                    .map(u64::from_le_bytes),
            ) else {
                continue;
            };
            if self.outputs[task].is_none() {
                self.outputs[task] = Some(output);
                self.committed += 1;
            }
        }
        if self.committed > 0 {
            ctx.sometimes(Point::CommitsRecovered);
        }
        for (i, task) in self.settings.dag.tasks.iter().enumerate() {
            self.remaining[i] = task
                .deps
                .iter()
                .filter(|&&d| self.outputs[d].is_none())
                .count();
        }
        if self.committed == n {
            self.finish();
        }
        let grace = self.settings.config.start_grace;
        ctx.set_timer(grace, grace, SchedTimer::StartGrace);
        if let Some(timeout) = self.settings.config.task_timeout {
            let every = Duration((timeout.0 / 4).max(1_000_000));
            ctx.set_timer(every, every, SchedTimer::Sweep);
        }
    }

    /// Starts the job: every task with nothing left to wait for is ready.
    fn start(&mut self, ctx: &mut Ctx<'_, Scheduler>) {
        if self.started {
            return;
        }
        self.started = true;
        self.journal.push(Note::Started);
        for task in 0..self.settings.dag.len() {
            if self.outputs[task].is_none() && self.remaining[task] == 0 {
                self.enqueue(task);
            }
        }
        self.dispatch(ctx);
    }

    fn finish(&mut self) {
        if !self.done {
            self.done = true;
            self.journal.push(Note::Done);
        }
    }

    /// Puts `task` in the ready queue (keeping its arrival number if it had
    /// one in this life).
    fn enqueue(&mut self, task: usize) {
        let arrival = *self.arrival[task].get_or_insert_with(|| {
            self.next_arrival += 1;
            self.next_arrival - 1
        });
        if self
            .queue
            .insert((Reverse(self.settings.priorities[task]), arrival, task))
        {
            self.journal.push(Note::Queued { task });
        }
    }

    fn dequeue(&mut self, task: usize) {
        if let Some(arrival) = self.arrival[task] {
            self.queue
                .remove(&(Reverse(self.settings.priorities[task]), arrival, task));
        }
    }

    /// Queues `task` again if it is not committed and no copy of it is still
    /// expected to finish.
    fn requeue_if_orphaned(&mut self, task: usize) -> bool {
        if self.outputs[task].is_none()
            && self.remaining[task] == 0
            && self.running[task].iter().all(|attempt| attempt.timed_out)
            && self.arrival[task].is_some()
        {
            let before = self.queue.len();
            self.enqueue(task);
            return self.queue.len() > before;
        }
        false
    }

    /// Asks for a dispatch at the end of this instant, if a task is ready
    /// and a worker idle.
    fn dispatch(&mut self, ctx: &mut Ctx<'_, Scheduler>) {
        if !self.dispatch_pending
            && self.started
            && !self.done
            && !self.queue.is_empty()
            && self
                .settings
                .workers()
                .any(|w| self.workers[w].known && self.workers[w].current.is_none())
        {
            self.dispatch_pending = true;
            ctx.defer(SchedTimer::Dispatch);
        }
    }

    /// Hands ready tasks to idle workers, best task first, lowest worker id
    /// first.
    fn dispatch_now(&mut self, ctx: &mut Ctx<'_, Scheduler>) {
        self.dispatch_pending = false;
        if !self.started || self.done {
            return;
        }
        for worker in self.settings.workers() {
            if self.queue.is_empty() {
                return;
            }
            let view = &self.workers[worker];
            if !view.known || view.current.is_some() {
                continue;
            }
            let picked = if self.has(Bug::PriorityInverted) {
                self.queue.pop_last()
            } else {
                self.queue.pop_first()
            };
            let Some((Reverse(priority), _, task)) = picked else {
                return;
            };
            if self
                .queue
                .iter()
                .any(|&(Reverse(other), _, _)| other < priority)
            {
                ctx.sometimes(Point::PriorityChoice);
            }
            self.next_attempt += 1;
            let attempt = (self.epoch << 32) | self.next_attempt;
            self.running[task].push(Attempt {
                id: attempt,
                worker,
                started: ctx.now(),
                timed_out: false,
            });
            self.workers[worker].current = Some(attempt);
            self.journal.push(Note::Dispatched {
                task,
                attempt,
                worker,
            });
            self.send_run(ctx, worker, attempt, task);
        }
    }

    fn send_run(
        &self,
        ctx: &mut Ctx<'_, Scheduler>,
        worker: ProcessId,
        attempt: AttemptId,
        task: usize,
    ) {
        let inputs: Rc<[u64]> = self.settings.dag.tasks[task]
            .deps
            .iter()
            .map(|&d| self.outputs[d].unwrap_or(0))
            .collect();
        ctx.send(
            worker,
            SchedMsg::Run {
                attempt,
                task,
                inputs,
            },
        );
    }

    /// The task of an attempt this dispatcher handed out and has not
    /// dropped.
    fn task_of(&self, attempt: AttemptId) -> Option<usize> {
        self.running
            .iter()
            .position(|attempts| attempts.iter().any(|a| a.id == attempt))
    }

    /// Drops attempt `attempt` of `task` (its worker lost it or finished).
    fn drop_attempt(&mut self, task: usize, attempt: AttemptId) {
        self.running[task].retain(|a| a.id != attempt);
    }

    pub(super) fn on_timer(&mut self, ctx: &mut Ctx<'_, Scheduler>, timer: SchedTimer) {
        match timer {
            SchedTimer::StartGrace => self.start(ctx),
            SchedTimer::Dispatch => self.dispatch_now(ctx),
            SchedTimer::Sweep => {
                let Some(timeout) = self.settings.config.task_timeout else {
                    return;
                };
                let every = Duration((timeout.0 / 4).max(1_000_000));
                ctx.set_timer(every, every, SchedTimer::Sweep);
                if self.done {
                    return;
                }
                let now = ctx.now();
                let mut expired = Vec::new();
                for (task, attempts) in self.running.iter_mut().enumerate() {
                    for attempt in attempts.iter_mut() {
                        if !attempt.timed_out && now.saturating_sub(attempt.started) >= timeout.0 {
                            attempt.timed_out = true;
                            expired.push((task, attempt.id));
                        }
                    }
                }
                for (task, attempt) in expired {
                    self.journal.push(Note::TimedOut { attempt });
                    if self.requeue_if_orphaned(task) {
                        ctx.sometimes(Point::RerunAfterTimeout);
                    }
                }
                self.dispatch(ctx);
            }
            SchedTimer::Heartbeat | SchedTimer::WorkDone(_) => {}
        }
    }

    pub(super) fn on_message(
        &mut self,
        ctx: &mut Ctx<'_, Scheduler>,
        from: ProcessId,
        msg: SchedMsg,
    ) {
        let SchedMsg::Status {
            boot,
            seq,
            running,
            seen,
            reports,
        } = msg
        else {
            return;
        };
        if !self.settings.workers().contains(&from) {
            return;
        }
        for report in reports.iter() {
            self.report(ctx, from, *report);
        }
        if self.done {
            ctx.send(from, SchedMsg::Exit);
            return;
        }
        let (known, last) = (self.workers[from].boot, self.workers[from].seq);
        if boot < known || (boot == known && seq <= last) {
            // Sent before the worker restarted, or before a status already
            // heard: its reports are real outputs, what it says it is doing
            // is out of date.
            ctx.sometimes(Point::StaleStatus);
            return;
        }
        if boot > known {
            self.restarted(ctx, from, boot);
        }
        self.workers[from].seq = seq;
        self.workers[from].known = true;
        match (self.workers[from].current, running) {
            (Some(current), Some(now)) if current == now => {}
            (Some(current), _) if current > seen => {
                // The worker has not seen the task yet: it is in flight or
                // was lost. Send it again (a worker ignores a copy it has
                // seen).
                if let Some(task) = self.task_of(current) {
                    ctx.sometimes(Point::RunResent);
                    self.send_run(ctx, from, current, task);
                } else {
                    self.workers[from].current = running;
                }
            }
            (Some(current), _) => {
                // The worker saw the task and is not on it, nor reporting it:
                // it turned it down (it was busy). Take it back.
                self.workers[from].current = running;
                if let Some(task) = self.task_of(current) {
                    self.drop_attempt(task, current);
                    if self.requeue_if_orphaned(task) {
                        ctx.sometimes(Point::RerunAfterCrash);
                    }
                }
            }
            (None, Some(unknown)) => {
                // On an attempt of an earlier life of the dispatcher: let it
                // finish; its report is committed like any other.
                if self.task_of(unknown).is_none() {
                    ctx.sometimes(Point::UnknownAttemptAdopted);
                }
                self.workers[from].current = Some(unknown);
            }
            (None, None) => {}
        }
        if self.started {
            self.dispatch(ctx);
        } else if self.settings.workers().all(|w| self.workers[w].known) {
            self.start(ctx);
        }
    }

    /// `worker` came back with a new boot: the attempt it was on is lost.
    fn restarted(&mut self, ctx: &mut Ctx<'_, Scheduler>, worker: ProcessId, boot: u64) {
        let view = &mut self.workers[worker];
        view.boot = boot;
        if let Some(current) = view.current.take()
            && let Some(task) = self.task_of(current)
        {
            self.drop_attempt(task, current);
            if self.requeue_if_orphaned(task) {
                ctx.sometimes(Point::RerunAfterCrash);
            }
        }
    }

    /// A worker's report of a finished attempt.
    fn report(&mut self, ctx: &mut Ctx<'_, Scheduler>, worker: ProcessId, report: Report) {
        let Report {
            attempt,
            task,
            output,
        } = report;
        ctx.send(worker, SchedMsg::Ack { attempt });
        if task >= self.outputs.len() {
            return;
        }
        if self.workers[worker].current == Some(attempt) {
            self.workers[worker].current = None;
        }
        self.drop_attempt(task, attempt);
        if self.outputs[task].is_some() {
            if self.committed_by[task] != attempt {
                ctx.sometimes(Point::LateCompletionIgnored);
                if self.has(Bug::DependencyCountedTwice) {
                    self.release_dependants(task);
                }
            }
            return;
        }
        // Commit: logged and synced before anything depends on it.
        let mut record = Vec::with_capacity(12);
        record.extend_from_slice(&(task as u32).to_le_bytes());
        record.extend_from_slice(&output.to_le_bytes());
        let mut framed = Vec::new();
        frame(&record, &mut framed);
        ctx.disk().append(LOG, framed);
        ctx.disk().sync();
        self.outputs[task] = Some(output);
        self.committed_by[task] = attempt;
        self.committed += 1;
        self.dequeue(task);
        self.journal.push(Note::Committed {
            task,
            attempt,
            output,
        });
        self.release_dependants(task);
        if self.committed == self.outputs.len() {
            self.finish();
        }
    }

    /// One dependency of each of `task`'s dependants is committed.
    fn release_dependants(&mut self, task: usize) {
        let dependants = self.settings.dag.tasks[task].dependants.clone();
        for j in dependants {
            self.remaining[j] = self.remaining[j].saturating_sub(1);
            if self.remaining[j] == 0
                && self.outputs[j].is_none()
                && self.running[j].is_empty()
                && self.started
            {
                self.enqueue(j);
            }
        }
    }
}
