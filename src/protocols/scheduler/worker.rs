//! A worker: runs one task at a time for its duration (times its slowdown)
//! and reports the output in its status until the dispatcher acknowledges
//! it. Everything but its boot number is volatile: a crash loses the task it
//! was on and any report not yet acknowledged.

use super::{AttemptId, DISPATCHER, Report, SchedMsg, SchedTimer, Scheduler, Settings, dag};
use crate::protocols::durable::next_generation;
use crate::sim::time::Duration;
use crate::sim::{Ctx, ProcessId};
use std::rc::Rc;

/// A worker node.
#[derive(Clone, Debug)]
pub struct Worker {
    settings: Rc<Settings>,
    boot: u64,
    /// Statuses sent this boot.
    seq: u64,
    /// The highest attempt handed to it this boot.
    seen: AttemptId,
    /// The attempt it is working on, and the output it will report.
    current: Option<Report>,
    /// Finished attempts not yet acknowledged.
    unacked: Vec<Report>,
    /// Told that the job is done.
    exited: bool,
}

impl Worker {
    /// A worker, not started.
    pub fn new(settings: Rc<Settings>) -> Self {
        Worker {
            settings,
            boot: 0,
            seq: 0,
            seen: 0,
            current: None,
            unacked: Vec::new(),
            exited: false,
        }
    }

    /// The task it is working on, if any.
    pub fn working_on(&self) -> Option<usize> {
        self.current.map(|report| report.task)
    }

    /// This start's boot number.
    pub fn boot(&self) -> u64 {
        self.boot
    }

    pub(super) fn on_start(&mut self, ctx: &mut Ctx<'_, Scheduler>) {
        self.boot = next_generation(ctx, "boot");
        self.report(ctx);
        let every = self.settings.config.heartbeat;
        ctx.set_timer(every, every, SchedTimer::Heartbeat);
    }

    fn report(&mut self, ctx: &mut Ctx<'_, Scheduler>) {
        self.seq += 1;
        ctx.send(
            DISPATCHER,
            SchedMsg::Status {
                boot: self.boot,
                seq: self.seq,
                running: self.current.map(|report| report.attempt),
                seen: self.seen,
                reports: self.unacked.iter().copied().collect(),
            },
        );
    }

    pub(super) fn on_timer(&mut self, ctx: &mut Ctx<'_, Scheduler>, timer: SchedTimer) {
        match timer {
            SchedTimer::Heartbeat => {
                if self.exited {
                    return;
                }
                self.report(ctx);
                let every = self.settings.config.heartbeat;
                ctx.set_timer(every, every, SchedTimer::Heartbeat);
            }
            SchedTimer::WorkDone(attempt) => {
                let Some(report) = self.current.filter(|report| report.attempt == attempt) else {
                    return;
                };
                self.current = None;
                self.unacked.push(report);
                self.report(ctx);
            }
            SchedTimer::Sweep | SchedTimer::StartGrace | SchedTimer::Dispatch => {}
        }
    }

    pub(super) fn on_message(
        &mut self,
        ctx: &mut Ctx<'_, Scheduler>,
        _from: ProcessId,
        msg: SchedMsg,
    ) {
        match msg {
            SchedMsg::Run {
                attempt,
                task,
                inputs,
            } => {
                if attempt <= self.seen {
                    return;
                }
                self.seen = attempt;
                let Some(spec) = self.settings.dag.tasks.get(task) else {
                    return;
                };
                if self.current.is_some() {
                    // Busy: turned down. The next status shows it (seen, and
                    // not running it), and the dispatcher takes it back.
                    return;
                }
                let output = dag::output(&spec.name, &inputs);
                let time = Duration((spec.duration as f64 * ctx.slowdown()).round() as u64);
                ctx.set_timer(time, time, SchedTimer::WorkDone(attempt));
                self.current = Some(Report {
                    attempt,
                    task,
                    output,
                });
            }
            SchedMsg::Ack { attempt } => self.unacked.retain(|report| report.attempt != attempt),
            SchedMsg::Exit => self.exited = true,
            SchedMsg::Status { .. } => {}
        }
    }
}
