//! A backend: a FIFO queue in front of `workers` servers.
//!
//! A try that arrives is served at once by an idle server, or waits its turn
//! in the queue; with `queue_limit` set, one that would make the backend hold
//! more than that (serving and waiting) is refused at once with `Full` — it
//! did not run, so any balancer may retry it. A server's service time is a
//! draw from `service` times the node's slowdown (the `slow` fault), taken
//! when the request starts. A request *runs* when its service completes;
//! that is when the backend answers `Done` and counts it.
//!
//! Health checks are answered at once, beside the queue (a health endpoint
//! served by its own thread): a slow or deep queue does not fail them, a
//! crashed, paused or cut-off backend does.
//!
//! With `shed_late`, a try that waited in the queue longer than the try
//! timeout is dropped unserved when its turn comes: its balancer has given
//! up on it, and serving it would only delay the requests behind it (without
//! shedding, an overloaded backend spends its time on answers nobody waits
//! for, and its queue outlives the overload).
//!
//! A network duplicate of a try is spotted by its number ([`super::Seen`],
//! one per balancer epoch) and ignored. A crash loses the queue and every
//! request in service; the balancer's try then times out.

use super::{
    BalancerMsg, BalancerPoint, BalancerTimer, LoadBalancer, RequestId, Seen, Served, Settings, Try,
};
use crate::sim::{Ctx, ProcessId};
use std::collections::{BTreeMap, VecDeque};
use std::rc::Rc;

/// A try a backend holds.
#[derive(Clone, Copy, Debug)]
struct Job {
    /// When it arrived (local time).
    arrived: u64,
    balancer: ProcessId,
    attempt: Try,
    request: RequestId,
}

/// A backend node. See the module documentation.
#[derive(Clone, Debug)]
pub struct Backend {
    settings: Rc<Settings>,
    index: usize,
    queue: VecDeque<Job>,
    serving: Vec<Option<Job>>,
    seen: BTreeMap<(ProcessId, u64), Seen>,
    /// Requests run to completion since the node (re)started.
    pub completions: u64,
    /// The request that completed last, for the checker.
    pub last_completed: Option<RequestId>,
    /// The total time the completed requests spent in the backend (queue
    /// and service, local ns): the supermarket experiment's time in system.
    pub sojourn_total: u64,
    /// Tries dropped unserved because they waited longer than the try
    /// timeout (`shed_late`).
    pub shed: u64,
}

impl Backend {
    /// Backend number `index` (among backends).
    pub fn new(settings: Rc<Settings>, index: usize) -> Self {
        let workers = settings.config.workers;
        Backend {
            settings,
            index,
            queue: VecDeque::new(),
            serving: vec![None; workers],
            seen: BTreeMap::new(),
            completions: 0,
            last_completed: None,
            shed: 0,
            sojourn_total: 0,
        }
    }

    /// Its index among backends.
    pub fn index(&self) -> usize {
        self.index
    }

    /// Requests it holds: in service and queued.
    pub fn held(&self) -> usize {
        self.queue.len() + self.serving.iter().filter(|job| job.is_some()).count()
    }

    /// Requests waiting for a server.
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    pub(super) fn on_start(&mut self, _ctx: &mut Ctx<'_, LoadBalancer>) {}

    pub(super) fn on_message(
        &mut self,
        ctx: &mut Ctx<'_, LoadBalancer>,
        from: ProcessId,
        msg: BalancerMsg,
    ) {
        match msg {
            BalancerMsg::Forward {
                attempt,
                request,
                done_below,
            } => {
                let seen = self.seen.entry((from, attempt.epoch)).or_default();
                if !seen.first_time(attempt.number, done_below) {
                    ctx.sometimes(BalancerPoint::DuplicateIgnored);
                    return;
                }
                let limit = self.settings.config.queue_limit;
                if limit > 0 && self.held() >= limit {
                    ctx.sometimes(BalancerPoint::QueueFull);
                    ctx.send(
                        from,
                        BalancerMsg::Answer {
                            attempt,
                            result: Served::Full,
                        },
                    );
                    return;
                }
                let job = Job {
                    arrived: ctx.now(),
                    balancer: from,
                    attempt,
                    request,
                };
                match self.serving.iter().position(Option::is_none) {
                    Some(worker) => self.serve(ctx, worker, job),
                    None => self.queue.push_back(job),
                }
            }
            BalancerMsg::Check { round } => ctx.send(from, BalancerMsg::CheckOk { round }),
            _ => {}
        }
    }

    pub(super) fn on_timer(&mut self, ctx: &mut Ctx<'_, LoadBalancer>, timer: BalancerTimer) {
        let BalancerTimer::ServiceDone { worker } = timer else {
            return;
        };
        let Some(job) = self.serving[worker].take() else {
            return;
        };
        self.completions += 1;
        self.last_completed = Some(job.request);
        self.sojourn_total += ctx.now().saturating_sub(job.arrived);
        ctx.send(
            job.balancer,
            BalancerMsg::Answer {
                attempt: job.attempt,
                result: Served::Done,
            },
        );
        let shed = self.settings.config.shed_late;
        while let Some(next) = self.queue.pop_front() {
            if shed && ctx.now() > next.arrived + self.settings.config.try_timeout.0 {
                ctx.sometimes(BalancerPoint::Shed);
                self.shed += 1;
                continue;
            }
            self.serve(ctx, worker, next);
            break;
        }
    }

    fn serve(&mut self, ctx: &mut Ctx<'_, LoadBalancer>, worker: usize, job: Job) {
        let base = self.settings.config.service.sample(ctx.rng());
        let time = crate::sim::time::Duration((base as f64 * ctx.slowdown()) as u64);
        self.serving[worker] = Some(job);
        ctx.set_timer(time, time, BalancerTimer::ServiceDone { worker });
    }
}
