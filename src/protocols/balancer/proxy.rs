//! A balancer: accepts requests, picks a backend for each try, relays the
//! answer, retries elsewhere when it may, and keeps each backend's health.
//!
//! # A request's life
//!
//! A request is kept in a slot from the moment it arrives until it is
//! answered. Each try is numbered (within the balancer's *epoch*, drawn at
//! every start, so a restarted balancer's tries never look like its earlier
//! ones), counted in its backend's in-flight count, and given `try_timeout`.
//! A try ends when its backend answers or when it times out (a sweep every
//! tenth of the timeout finds it); an answer to a try that already ended is
//! late and ignored.
//!
//! - `Done`: the request is answered `Ok`.
//! - `Full` (the backend refused it; it did not run): retried on a backend
//!   not tried yet, if tries are left and the retry budget allows.
//! - timed out: retried likewise only if requests are `idempotent` (it may
//!   have run); otherwise answered `TimedOut`.
//!
//! A request that cannot be retried is answered with how its last try ended;
//! one for which no backend can be picked at all is answered `Refused`.
//!
//! # Health and rotation
//!
//! The backends in rotation are those [`Health`] holds in no way out; in
//! panic mode (fewer in rotation than `panic_threshold` percent) every
//! backend is a candidate. Every change of the rotation and every decision
//! is written to the node's journal ([`Note`]), which the checker reads after
//! each step: the journal is what the balancer did, kept apart from the
//! counters its decisions use, so a bug in those counters is seen.

use super::health::Health;
use super::strategy::{Pick, Picker};
use super::{
    BalancerBug, BalancerMsg, BalancerPoint, BalancerTimer, LoadBalancer, Outcome, RequestId, Seen,
    Served, Settings, Try,
};
use crate::sim::time::Duration;
use crate::sim::{Ctx, ProcessId};
use rand::Rng as _;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::rc::Rc;

/// What a balancer did in one step, for the checker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Note {
    /// A request arrived and was taken.
    Accepted {
        /// The request.
        request: RequestId,
    },
    /// A try was sent.
    Forwarded {
        /// The request.
        request: RequestId,
        /// To this backend (index).
        backend: usize,
        /// The try's number.
        number: u64,
        /// Whether it is a retry.
        retry: bool,
        /// Whether the balancer was in panic mode.
        panic: bool,
        /// Hash strategies: backends on the ring the pick used.
        ring_size: usize,
        /// The request's key.
        key: u64,
        /// p2c: where its draws are in [`Balancer::drawn`].
        drawn: (usize, usize),
    },
    /// A try ended: its backend answered, or it timed out.
    TryEnded {
        /// The backend (index).
        backend: usize,
        /// The try's number.
        number: u64,
    },
    /// An answer went to a client.
    Replied {
        /// The request.
        request: RequestId,
        /// The process it was sent to.
        to: ProcessId,
        /// How it ended.
        outcome: Outcome,
    },
    /// A backend joined the rotation or left it.
    Rotation {
        /// The backend (index).
        backend: usize,
        /// In rotation now.
        in_rotation: bool,
    },
}

#[derive(Clone, Debug)]
struct Pending {
    request: RequestId,
    key: u64,
    tried: Vec<usize>,
    /// The open try: its number and backend.
    current: Option<(u64, usize)>,
    /// Whether the open try is a retry.
    retry: bool,
}

/// A balancer node. See the module documentation.
#[derive(Clone, Debug)]
pub struct Balancer {
    settings: Rc<Settings>,
    epoch: u64,
    next_try: u64,
    health: Health,
    picker: Picker,
    rotation: Vec<usize>,
    all: Vec<usize>,
    in_flight: Vec<u32>,
    sent: Vec<u64>,
    slots: Vec<Option<Pending>>,
    free: Vec<u32>,
    pending: usize,
    retries_active: usize,
    clients: BTreeMap<ProcessId, Seen>,
    /// Open tries' deadlines (local time), in the order sent.
    deadlines: VecDeque<(u64, u32, u64)>,
    open_tries: BTreeSet<u64>,
    sweeping: bool,
    round: u64,
    round_open: bool,
    answered: Vec<bool>,
    panic: bool,
    /// What the last step did (cleared at the start of every handler).
    pub journal: Vec<Note>,
    /// The backends p2c drew in the last step (see [`Note::Forwarded`]).
    pub drawn: Vec<usize>,
}

impl Balancer {
    /// Balancer node `id`.
    pub fn new(settings: Rc<Settings>, id: ProcessId) -> Self {
        let _ = id;
        let backends = settings.backends;
        let config = &settings.config;
        Balancer {
            epoch: 0,
            next_try: 1,
            health: Health::new(backends, config.active, config.passive, config.outlier),
            picker: Picker::new(config, backends),
            rotation: (0..backends).collect(),
            all: (0..backends).collect(),
            in_flight: vec![0; backends],
            sent: vec![0; backends],
            slots: Vec::new(),
            free: Vec::new(),
            pending: 0,
            retries_active: 0,
            clients: BTreeMap::new(),
            deadlines: VecDeque::new(),
            open_tries: BTreeSet::new(),
            sweeping: false,
            round: 0,
            round_open: false,
            answered: vec![false; backends],
            panic: false,
            journal: Vec::new(),
            drawn: Vec::new(),
            settings,
        }
    }

    /// Whether backend `index` is in rotation.
    pub fn in_rotation(&self, index: usize) -> bool {
        self.health.in_rotation(index)
    }

    /// The backends in rotation, in id order.
    pub fn rotation(&self) -> &[usize] {
        &self.rotation
    }

    /// Its health view.
    pub fn health(&self) -> &Health {
        &self.health
    }

    /// Requests it holds.
    pub fn pending(&self) -> usize {
        self.pending
    }

    /// Whether it spreads requests over every backend (panic mode).
    pub fn panicking(&self) -> bool {
        self.panic
    }

    pub(super) fn on_start(&mut self, ctx: &mut Ctx<'_, LoadBalancer>) {
        self.journal.clear();
        self.drawn.clear();
        self.epoch = ctx.rng().r#gen();
        let config = &self.settings.config;
        if let Some(active) = config.active {
            // The first round at a random point of the first interval, so
            // several balancers do not check in step.
            ctx.set_timer(Duration(0), active.inter, BalancerTimer::CheckRound);
        }
        if let Some(outlier) = config.outlier {
            ctx.set_timer(
                outlier.interval,
                outlier.interval,
                BalancerTimer::OutlierInterval,
            );
        }
    }

    pub(super) fn on_message(
        &mut self,
        ctx: &mut Ctx<'_, LoadBalancer>,
        from: ProcessId,
        msg: BalancerMsg,
    ) {
        self.journal.clear();
        self.drawn.clear();
        match msg {
            BalancerMsg::Request {
                seq,
                key,
                done_below,
            } => {
                if !self
                    .clients
                    .entry(from)
                    .or_default()
                    .first_time(seq, done_below)
                {
                    ctx.sometimes(BalancerPoint::DuplicateIgnored);
                    return;
                }
                let request = RequestId { client: from, seq };
                self.journal.push(Note::Accepted { request });
                let pending = Pending {
                    request,
                    key,
                    tried: Vec::new(),
                    current: None,
                    retry: false,
                };
                let slot = match self.free.pop() {
                    Some(slot) => {
                        self.slots[slot as usize] = Some(pending);
                        slot
                    }
                    None => {
                        self.slots.push(Some(pending));
                        (self.slots.len() - 1) as u32
                    }
                };
                self.pending += 1;
                self.dispatch(ctx, slot, Outcome::Refused);
            }
            BalancerMsg::Answer { attempt, result } => self.answer(ctx, from, attempt, result),
            BalancerMsg::CheckOk { round } => {
                let Some(index) = self.settings.backend_index(from) else {
                    return;
                };
                if round == self.round && self.round_open && !self.answered[index] {
                    self.answered[index] = true;
                    self.health.check_result(index, true);
                    self.sync(ctx, index);
                }
            }
            _ => {}
        }
    }

    pub(super) fn on_timer(&mut self, ctx: &mut Ctx<'_, LoadBalancer>, timer: BalancerTimer) {
        self.journal.clear();
        self.drawn.clear();
        match timer {
            BalancerTimer::Sweep => {
                self.sweeping = false;
                self.sweep(ctx);
            }
            BalancerTimer::CheckRound => {
                let Some(active) = self.settings.config.active else {
                    return;
                };
                self.round += 1;
                self.round_open = true;
                self.answered
                    .iter_mut()
                    .for_each(|answered| *answered = false);
                for index in 0..self.settings.backends {
                    ctx.send(
                        self.settings.backend_id(index),
                        BalancerMsg::Check { round: self.round },
                    );
                }
                ctx.set_timer(
                    active.timeout,
                    active.timeout,
                    BalancerTimer::CheckDeadline { round: self.round },
                );
                ctx.set_timer(active.inter, active.inter, BalancerTimer::CheckRound);
            }
            BalancerTimer::CheckDeadline { round } => {
                if round != self.round || !self.round_open {
                    return;
                }
                self.round_open = false;
                let counts_as_healthy = self
                    .settings
                    .config
                    .has(BalancerBug::TimeoutCountsAsHealthy);
                for index in 0..self.settings.backends {
                    if !self.answered[index] {
                        self.health.check_result(index, counts_as_healthy);
                        self.sync(ctx, index);
                    }
                }
            }
            BalancerTimer::PassiveRestore { backend } => {
                self.health.passive_restore(backend, ctx.now());
                self.sync(ctx, backend);
            }
            BalancerTimer::OutlierInterval => {
                let Some(outlier) = self.settings.config.outlier else {
                    return;
                };
                for index in self.health.outlier_tick(ctx.now()) {
                    self.sync(ctx, index);
                }
                ctx.set_timer(
                    outlier.interval,
                    outlier.interval,
                    BalancerTimer::OutlierInterval,
                );
            }
            BalancerTimer::Next | BalancerTimer::ServiceDone { .. } => {}
        }
    }

    /// Sends the request in `slot` to a backend, or answers it with
    /// `fallback` if none can be picked.
    fn dispatch(&mut self, ctx: &mut Ctx<'_, LoadBalancer>, slot: u32, fallback: Outcome) {
        let pending = self.slots[slot as usize]
            .as_ref()
            .expect("a pending request");
        let candidates = if self.panic {
            &self.all
        } else {
            &self.rotation
        };
        let start = self.drawn.len();
        let picked = self.picker.pick(
            ctx.rng(),
            candidates,
            &pending.tried,
            &self.in_flight,
            &self.sent,
            pending.key,
            self.panic,
            &mut self.drawn,
        );
        let Some(Pick {
            backend,
            ring_size,
            passed_removed,
        }) = picked
        else {
            if pending.tried.is_empty() {
                ctx.sometimes(BalancerPoint::NoBackend);
            }
            self.reply(ctx, slot, fallback);
            return;
        };
        if passed_removed {
            ctx.sometimes(BalancerPoint::HashedToRemoved);
        }
        let retry = !pending.tried.is_empty();
        let number = self.next_try;
        self.next_try += 1;
        self.open_tries.insert(number);
        self.in_flight[backend] += 1;
        self.sent[backend] += 1;
        if retry {
            self.retries_active += 1;
        }
        let pending = self.slots[slot as usize]
            .as_mut()
            .expect("a pending request");
        pending.tried.push(backend);
        pending.current = Some((number, backend));
        pending.retry = retry;
        let request = pending.request;
        let key = pending.key;
        let done_below = self.open_tries.first().copied().unwrap_or(self.next_try);
        ctx.send(
            self.settings.backend_id(backend),
            BalancerMsg::Forward {
                attempt: Try {
                    epoch: self.epoch,
                    number,
                    slot,
                },
                request,
                done_below,
            },
        );
        self.journal.push(Note::Forwarded {
            request,
            backend,
            number,
            retry,
            panic: self.panic,
            ring_size,
            key,
            drawn: (start, self.drawn.len()),
        });
        let deadline = ctx.now() + self.settings.config.try_timeout.0;
        self.deadlines.push_back((deadline, slot, number));
        if !self.sweeping {
            self.sweeping = true;
            let every = Duration((self.settings.config.try_timeout.0 / 10).max(1_000_000));
            ctx.set_timer(every, every, BalancerTimer::Sweep);
        }
    }

    fn answer(
        &mut self,
        ctx: &mut Ctx<'_, LoadBalancer>,
        from: ProcessId,
        attempt: Try,
        result: Served,
    ) {
        let Some(backend) = self.settings.backend_index(from) else {
            return;
        };
        let current = self
            .slots
            .get(attempt.slot as usize)
            .and_then(Option::as_ref)
            .and_then(|pending| pending.current);
        if attempt.epoch != self.epoch || current != Some((attempt.number, backend)) {
            ctx.sometimes(BalancerPoint::LateReply);
            return;
        }
        let retried = self.end_try(attempt.slot, backend, attempt.number, true);
        match result {
            Served::Done => {
                self.health.try_succeeded(backend);
                self.sync(ctx, backend);
                if retried {
                    ctx.sometimes(BalancerPoint::RetrySucceeded);
                }
                self.reply(ctx, attempt.slot, Outcome::Ok(backend as u32));
            }
            Served::Full => {
                self.try_failed(ctx, backend);
                self.retry_or_reply(ctx, attempt.slot, Outcome::Refused);
            }
        }
    }

    /// Ends the open try of `slot`; returns whether it was a retry.
    fn end_try(&mut self, slot: u32, backend: usize, number: u64, answered: bool) -> bool {
        if answered || !self.settings.config.has(BalancerBug::LeastconnLeak) {
            self.in_flight[backend] -= 1;
        }
        self.open_tries.remove(&number);
        self.journal.push(Note::TryEnded { backend, number });
        let pending = self.slots[slot as usize]
            .as_mut()
            .expect("a pending request");
        pending.current = None;
        let retry = std::mem::take(&mut pending.retry);
        if retry {
            self.retries_active -= 1;
        }
        retry
    }

    fn sweep(&mut self, ctx: &mut Ctx<'_, LoadBalancer>) {
        let now = ctx.now();
        while let Some(&(deadline, slot, number)) = self.deadlines.front() {
            if deadline > now {
                break;
            }
            self.deadlines.pop_front();
            let current = self
                .slots
                .get(slot as usize)
                .and_then(Option::as_ref)
                .and_then(|pending| pending.current);
            let Some((open, backend)) = current else {
                continue;
            };
            if open != number {
                continue;
            }
            ctx.sometimes(BalancerPoint::TryTimedOut);
            self.end_try(slot, backend, number, false);
            self.try_failed(ctx, backend);
            if self.settings.config.idempotent {
                self.retry_or_reply(ctx, slot, Outcome::TimedOut);
            } else {
                self.reply(ctx, slot, Outcome::TimedOut);
            }
        }
        if !self.deadlines.is_empty() && !self.sweeping {
            self.sweeping = true;
            let every = Duration((self.settings.config.try_timeout.0 / 10).max(1_000_000));
            ctx.set_timer(every, every, BalancerTimer::Sweep);
        }
    }

    fn try_failed(&mut self, ctx: &mut Ctx<'_, LoadBalancer>, backend: usize) {
        let effect = self.health.try_failed(backend, ctx.now());
        if let Some(until) = effect.passive_down_until {
            let wait = Duration(until - ctx.now());
            ctx.set_timer(wait, wait, BalancerTimer::PassiveRestore { backend });
        }
        if effect.capped {
            ctx.sometimes(BalancerPoint::EjectionCapped);
        }
        self.sync(ctx, backend);
    }

    fn retry_or_reply(&mut self, ctx: &mut Ctx<'_, LoadBalancer>, slot: u32, outcome: Outcome) {
        let config = &self.settings.config;
        let tries = self.slots[slot as usize]
            .as_ref()
            .expect("a pending request")
            .tried
            .len();
        if tries > config.retries as usize {
            self.reply(ctx, slot, outcome);
            return;
        }
        let budget = config.retry_budget;
        let allowed =
            (f64::from(budget.min_concurrency)).max(budget.percent / 100.0 * self.pending as f64);
        if self.retries_active as f64 >= allowed {
            ctx.sometimes(BalancerPoint::RetryBudgetExhausted);
            self.reply(ctx, slot, outcome);
            return;
        }
        self.dispatch(ctx, slot, outcome);
    }

    fn reply(&mut self, ctx: &mut Ctx<'_, LoadBalancer>, slot: u32, outcome: Outcome) {
        let pending = self.slots[slot as usize].take().expect("a pending request");
        self.free.push(slot);
        self.pending -= 1;
        let request = pending.request;
        ctx.send(
            request.client,
            BalancerMsg::Reply {
                seq: request.seq,
                outcome,
            },
        );
        self.journal.push(Note::Replied {
            request,
            to: request.client,
            outcome,
        });
    }

    /// Brings the rotation in line with backend `index`'s health.
    fn sync(&mut self, ctx: &mut Ctx<'_, LoadBalancer>, index: usize) {
        let healthy = self.health.in_rotation(index);
        let position = self.rotation.binary_search(&index);
        match (healthy, position) {
            (true, Err(at)) => {
                self.rotation.insert(at, index);
                ctx.sometimes(BalancerPoint::Restored);
            }
            (false, Ok(at)) => {
                self.rotation.remove(at);
                ctx.sometimes(BalancerPoint::Ejected);
            }
            _ => return,
        }
        self.picker.rotation_changed(index, healthy);
        self.journal.push(Note::Rotation {
            backend: index,
            in_rotation: healthy,
        });
        let threshold = self.settings.config.panic_threshold as usize;
        let panic = threshold > 0 && self.rotation.len() * 100 < threshold * self.settings.backends;
        if panic && !self.panic {
            ctx.sometimes(BalancerPoint::PanicEntered);
        }
        self.panic = panic;
    }
}
