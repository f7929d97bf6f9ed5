//! The lock client: acquire (one server, or Redlock's majority), read the
//! resource, stall, check the lease on the client's own clock, write, release.

use super::{GrantId, LockBug, LockConfig, LockDesign, LockMsg, LockPoint, LockService, LockTimer};
use crate::sim::time::Duration;
use crate::sim::{Client, Ctx, ProcessId, Value};
use crate::workload::WorkloadConfig;
use rand::Rng as _;
use std::rc::Rc;

/// A grant the client holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Held {
    /// Which grant.
    pub id: GrantId,
    /// Its fencing token (`single`), if any.
    pub token: Option<u64>,
    /// The value it set on the servers.
    pub value: u64,
    /// Where its lease ends, on the client's clock (validity minus drift).
    pub deadline: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Phase {
    /// Thinking until the next acquire.
    Idle,
    /// An acquire attempt in flight.
    Attempt {
        attempt: u32,
        req: u64,
        value: u64,
        started: u64,
        /// The servers that said yes, with their tokens (a duplicated answer
        /// counts once).
        granted: Vec<(ProcessId, u64)>,
        /// The servers that said no.
        refused: Vec<ProcessId>,
    },
    /// Waiting to retry.
    Backoff { attempt: u32 },
    /// consensus: queued behind the holder.
    Queued { req: u64, session: u64 },
    /// Reading the resource under the lock.
    Reading { req: u64 },
    /// In the critical section.
    Stalling { counter: i64, list: Vec<GrantId> },
    /// Writing the resource (the new counter and list, for resends).
    Writing {
        req: u64,
        counter: i64,
        list: Vec<GrantId>,
    },
    /// Releasing: the servers that answered.
    Releasing { req: u64, answered: Vec<ProcessId> },
}

/// A lock client (see the module documentation).
#[derive(Clone, Debug)]
pub struct LockClient {
    config: Rc<LockConfig>,
    index: u32,
    servers: usize,
    resource: ProcessId,
    think: (Duration, Duration),
    op_timeout: Duration,
    next_req: u64,
    grants: u32,
    phase: Phase,
    held: Option<Held>,
    /// (request, value) of the attempts given up lately, so a late yes can be
    /// undone.
    abandoned: Vec<(u64, u64)>,
    /// consensus: the server believed to lead.
    leader: usize,
    /// consensus: the open session.
    session: Option<u64>,
    /// consensus: where the session's lease ends on this client's clock.
    lease: u64,
    /// consensus: the keep-alive in flight (request, sent at).
    keepalive: Option<(u64, u64)>,
    /// consensus: whether the keep-alive timer runs.
    keeping_alive: bool,
    /// consensus: resends of the release in flight.
    release_tries: u32,
    /// consensus: a server named the leader since the last resend, so the next
    /// resend goes there rather than to the next server.
    hinted: bool,
}

impl LockClient {
    /// Client `index` of a run with `servers` lock servers (the resource is node
    /// `servers`).
    pub fn new(
        config: Rc<LockConfig>,
        index: usize,
        servers: usize,
        workload: &WorkloadConfig,
    ) -> Self {
        LockClient {
            config,
            index: index as u32,
            servers,
            resource: servers,
            think: workload.think_time(),
            op_timeout: workload.op_timeout,
            next_req: 0,
            grants: 0,
            phase: Phase::Idle,
            held: None,
            abandoned: Vec::new(),
            leader: 0,
            session: None,
            lease: 0,
            keepalive: None,
            keeping_alive: false,
            release_tries: 0,
            hinted: false,
        }
    }

    /// The grant the client holds and acts under, if any (its lease may have
    /// ended: compare [`Held::deadline`] with the client's clock).
    pub fn held(&self) -> Option<&Held> {
        match self.phase {
            Phase::Reading { .. } | Phase::Stalling { .. } | Phase::Writing { .. } => {
                self.held.as_ref()
            }
            _ => None,
        }
    }

    fn quorum(&self) -> usize {
        self.servers / 2 + 1
    }

    fn req(&mut self) -> u64 {
        self.next_req += 1;
        self.next_req
    }

    fn think(&mut self, ctx: &mut Ctx<'_, LockService>) {
        self.phase = Phase::Idle;
        self.held = None;
        self.session = None;
        // A renewal still in flight belongs to the session just closed: its
        // answer (with that session's token) must not reach the next one.
        self.keepalive = None;
        ctx.set_timer(self.think.0, self.think.1, LockTimer::Think);
    }

    fn consensus(&self) -> bool {
        self.config.design == LockDesign::Consensus
    }

    fn next_leader(&mut self, hint: Option<ProcessId>) {
        match hint {
            Some(hint) if hint < self.servers => {
                self.leader = hint;
                self.hinted = true;
            }
            _ if std::mem::take(&mut self.hinted) => {}
            _ => self.leader = (self.leader + 1) % self.servers,
        }
    }

    /// consensus: the lease ends one TTL (minus the margin) after `sent`, the
    /// send time of a request whose renewal was acknowledged.
    fn renewed(&mut self, sent: u64) {
        let until = sent + self.config.ttl.0 - self.config.client_margin().0;
        self.lease = self.lease.max(until);
        if let Some(held) = &mut self.held {
            held.deadline = self.lease;
        }
    }

    fn start_keepalive(&mut self, ctx: &mut Ctx<'_, LockService>) {
        if !self.keeping_alive {
            self.keeping_alive = true;
            let every = Duration(self.config.ttl.0 / 3);
            ctx.set_timer(every, every, LockTimer::KeepAlive);
        }
    }

    /// consensus: ask the leader for the lock (a session in its queue).
    fn ask(&mut self, ctx: &mut Ctx<'_, LockService>, req: u64, started: u64) {
        self.phase = Phase::Attempt {
            attempt: 0,
            req,
            value: 0,
            started,
            granted: Vec::new(),
            refused: Vec::new(),
        };
        ctx.send(self.leader, LockMsg::Acquire { req, value: 0 });
        let window = self.config.server_timeout;
        ctx.set_timer(window, window, LockTimer::AttemptWindow(req));
    }

    fn attempt(&mut self, ctx: &mut Ctx<'_, LockService>, attempt: u32) {
        if self.consensus() {
            let req = self.req();
            self.session = None;
            self.lease = 0;
            self.ask(ctx, req, ctx.now());
            ctx.set_timer(self.op_timeout, self.op_timeout, LockTimer::GiveUp(req));
            return;
        }
        let req = self.req();
        let value = ctx.rng().r#gen::<u64>();
        self.phase = Phase::Attempt {
            attempt,
            req,
            value,
            started: ctx.now(),
            granted: Vec::new(),
            refused: Vec::new(),
        };
        for server in 0..self.servers {
            ctx.send(server, LockMsg::Acquire { req, value });
        }
        let window = self.config.server_timeout;
        ctx.set_timer(window, window, LockTimer::AttemptWindow(req));
    }

    /// Decides the attempt in flight, if it can be decided (or `force`).
    fn decide(&mut self, ctx: &mut Ctx<'_, LockService>, force: bool) {
        let Phase::Attempt {
            attempt,
            req: attempt_req,
            value,
            started,
            ref granted,
            ref refused,
        } = self.phase
        else {
            return;
        };
        let quorum = self.quorum();
        let yes = granted.len();
        let refused = refused.len();
        let token = granted.iter().map(|(_, token)| *token).max();
        if yes >= quorum {
            let elapsed = ctx.now().saturating_sub(started);
            let drift = self.config.client_margin().0;
            let validity = self.config.ttl.0 as i128 - elapsed as i128 - drift as i128;
            if validity > 0 {
                let token = match self.config.design {
                    LockDesign::Redlock => None,
                    _ => token,
                };
                self.grant(ctx, token, value, started + self.config.ttl.0 - drift);
                return;
            }
            ctx.sometimes(LockPoint::ValidityExhausted);
        } else if !force && yes + (self.servers - yes - refused) >= quorum {
            return; // a majority is still possible
        } else {
            ctx.sometimes(LockPoint::MajorityMissed);
        }
        // Failed: unlock everywhere, then retry or give up.
        self.unlock_everywhere(ctx, attempt_req, value);
        if attempt + 1 < self.config.retries.max(1) {
            self.phase = Phase::Backoff {
                attempt: attempt + 1,
            };
            ctx.set_timer(Duration(0), self.config.retry_delay, LockTimer::Retry);
        } else {
            ctx.sometimes(LockPoint::AcquireGaveUp);
            ctx.fail("acquire", None, Value::Nil);
            self.think(ctx);
        }
    }

    /// The lock is ours: record it and start the critical section.
    fn grant(
        &mut self,
        ctx: &mut Ctx<'_, LockService>,
        token: Option<u64>,
        value: u64,
        deadline: u64,
    ) {
        self.grants += 1;
        let id = GrantId {
            client: self.index,
            number: self.grants,
        };
        self.held = Some(Held {
            id,
            token,
            value,
            deadline,
        });
        let shown = token.unwrap_or(u64::from(id.number));
        ctx.ok("acquire", None, Value::Int(shown as i64));
        self.read(ctx);
    }

    fn unlock_everywhere(&mut self, ctx: &mut Ctx<'_, LockService>, attempt: u64, value: u64) {
        let req = self.req();
        for server in 0..self.servers {
            ctx.send(server, LockMsg::Release { req, value });
        }
        self.abandoned.push((attempt, value));
        if self.abandoned.len() > 8 {
            self.abandoned.remove(0);
        }
    }

    fn read(&mut self, ctx: &mut Ctx<'_, LockService>) {
        let held = self.held.expect("reading under a grant");
        let req = self.req();
        ctx.invoke("incr", None, Value::Nil);
        self.phase = Phase::Reading { req };
        ctx.send(
            self.resource,
            LockMsg::Read {
                req,
                grant: held.id,
                token: held.token,
            },
        );
        self.arm(ctx, req);
    }

    fn arm(&mut self, ctx: &mut Ctx<'_, LockService>, req: u64) {
        let resend = self.config.resend_interval;
        ctx.set_timer(resend, resend, LockTimer::Resend(req));
        ctx.set_timer(self.op_timeout, self.op_timeout, LockTimer::GiveUp(req));
    }

    fn write(&mut self, ctx: &mut Ctx<'_, LockService>, counter: i64, mut list: Vec<GrantId>) {
        let held = self.held.expect("writing under a grant");
        list.push(held.id);
        let req = self.req();
        self.phase = Phase::Writing {
            req,
            counter: counter + 1,
            list,
        };
        if let Some(message) = self.outstanding(req) {
            ctx.send(self.resource, message);
        }
        self.arm(ctx, req);
    }

    fn release(&mut self, ctx: &mut Ctx<'_, LockService>) {
        let held = self.held.expect("releasing a grant");
        let shown = held.token.unwrap_or(u64::from(held.id.number));
        ctx.invoke("release", None, Value::Int(shown as i64));
        let req = self.req();
        self.phase = Phase::Releasing {
            req,
            answered: Vec::new(),
        };
        if self.consensus() {
            self.release_tries = 0;
            self.release_to_leader(ctx, req);
            return;
        }
        for server in 0..self.servers {
            ctx.send(
                server,
                LockMsg::Release {
                    req,
                    value: held.value,
                },
            );
        }
        let window = self.config.server_timeout;
        ctx.set_timer(window, window, LockTimer::ReleaseWindow(req));
    }

    /// consensus: asks the server believed to lead to close the session, and
    /// waits one window for its answer.
    fn release_to_leader(&mut self, ctx: &mut Ctx<'_, LockService>, req: u64) {
        if let Some(session) = self.session {
            ctx.send(
                self.leader,
                LockMsg::Release {
                    req,
                    value: session,
                },
            );
        }
        let window = self.config.server_timeout;
        ctx.set_timer(window, window, LockTimer::ReleaseWindow(req));
    }

    fn released(&mut self, ctx: &mut Ctx<'_, LockService>, answered: bool) {
        if answered {
            ctx.ok("release", None, Value::Nil);
        } else {
            ctx.info("release", None, Value::Nil);
        }
        self.think(ctx);
    }

    /// Gives up the read or write `req` of the critical section, if it is the
    /// one outstanding: the increment fails (nothing was written) or is unknown
    /// (a write may have landed), and the lock is released.
    fn abandon_section(&mut self, ctx: &mut Ctx<'_, LockService>, req: u64) -> bool {
        match self.phase {
            Phase::Reading { req: current } if current == req => {
                ctx.fail("incr", None, Value::Nil);
            }
            Phase::Writing { req: current, .. } if current == req => {
                ctx.info("incr", None, Value::Nil);
            }
            _ => return false,
        }
        self.release(ctx);
        true
    }

    /// The resend message for the outstanding resource request `req`.
    fn outstanding(&self, req: u64) -> Option<LockMsg> {
        let held = self.held?;
        match self.phase {
            Phase::Reading { req: current } if current == req => Some(LockMsg::Read {
                req,
                grant: held.id,
                token: held.token,
            }),
            Phase::Writing {
                req: current,
                counter,
                ref list,
            } if current == req => Some(LockMsg::Write {
                req,
                grant: held.id,
                token: held.token,
                counter,
                list: list.clone(),
            }),
            _ => None,
        }
    }
}

impl Client<LockService> for LockClient {
    fn on_start(&mut self, ctx: &mut Ctx<'_, LockService>) {
        self.think(ctx);
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, LockService>, from: ProcessId, msg: LockMsg) {
        match msg {
            LockMsg::Acquired { req, token } => match &mut self.phase {
                Phase::Attempt {
                    req: current,
                    granted,
                    ..
                } if *current == req => {
                    if !granted.iter().any(|(server, _)| *server == from) {
                        granted.push((from, token));
                        self.decide(ctx, false);
                    }
                }
                _ => {
                    // A yes for an attempt already given up: undo it (the
                    // values of recent attempts are remembered for this).
                    if let Some(&(_, value)) =
                        self.abandoned.iter().find(|(attempt, _)| *attempt == req)
                    {
                        let req = self.req();
                        for server in 0..self.servers {
                            ctx.send(server, LockMsg::Release { req, value });
                        }
                    }
                }
            },
            LockMsg::Refused { req, .. } => {
                if let Phase::Attempt {
                    req: current,
                    refused,
                    ..
                } = &mut self.phase
                    && *current == req
                    && !refused.contains(&from)
                {
                    refused.push(from);
                    self.decide(ctx, false);
                }
            }
            LockMsg::ReadOk { req, counter, list } => {
                if self.phase == (Phase::Reading { req }) {
                    // The check a careful holder makes before its critical
                    // section: enough lease left for the longest section. It
                    // cannot see a pause coming.
                    let hold = self.config.hold;
                    let deadline = self.held.map_or(0, |held| held.deadline);
                    if ctx.now().saturating_add(hold.max.0) >= deadline {
                        ctx.sometimes(LockPoint::LeaseOverBeforeWrite);
                        ctx.fail("incr", None, Value::Nil);
                        self.release(ctx);
                        return;
                    }
                    self.phase = Phase::Stalling { counter, list };
                    ctx.set_timer(hold.min, hold.max, LockTimer::Hold);
                }
            }
            LockMsg::WriteOk { req } => {
                if matches!(self.phase, Phase::Writing { req: current, .. } if current == req) {
                    ctx.ok("incr", None, Value::Nil);
                    self.release(ctx);
                }
            }
            LockMsg::Fenced { req, .. } => {
                if matches!(self.phase, Phase::Reading { req: r } | Phase::Writing { req: r, .. } if r == req)
                {
                    ctx.fail("incr", None, Value::Nil);
                    self.release(ctx);
                }
            }
            LockMsg::Released { req, .. } => {
                if let Phase::Releasing {
                    req: current,
                    answered,
                } = &mut self.phase
                    && *current == req
                    && !answered.contains(&from)
                {
                    answered.push(from);
                    if answered.len() == self.servers || self.consensus() {
                        self.released(ctx, true);
                    }
                }
            }
            LockMsg::Granted {
                req,
                session,
                token,
            } => {
                let started = match self.phase {
                    Phase::Attempt {
                        req: current,
                        started,
                        ..
                    } if current == req => Some(started),
                    Phase::Queued {
                        session: queued, ..
                    } if queued == session => Some(0),
                    _ => None,
                };
                match started {
                    Some(started) => {
                        self.session = Some(session);
                        if started > 0 {
                            self.renewed(started);
                        } else if self.config.has(LockBug::NoRecheckAfterWait) {
                            self.lease =
                                ctx.now() + self.config.ttl.0 - self.config.client_margin().0;
                        }
                        self.start_keepalive(ctx);
                        let lease = self.lease;
                        self.grant(ctx, Some(token), session, lease);
                    }
                    None if self.session != Some(session) => {
                        // A grant for a session this client gave up: close it.
                        let req = self.req();
                        ctx.send(
                            self.leader,
                            LockMsg::Release {
                                req,
                                value: session,
                            },
                        );
                    }
                    None => {}
                }
            }
            LockMsg::Queued { req, session } => {
                if let Phase::Attempt {
                    req: current,
                    started,
                    ..
                } = self.phase
                    && current == req
                {
                    self.session = Some(session);
                    self.renewed(started);
                    self.phase = Phase::Queued { req, session };
                    self.start_keepalive(ctx);
                }
            }
            LockMsg::Alive { req, token } => {
                if let Some((current, sent)) = self.keepalive
                    && current == req
                {
                    self.keepalive = None;
                    self.renewed(sent);
                    if let (Phase::Queued { session, .. }, Some(token)) = (&self.phase, token)
                        && !self.config.has(LockBug::KeepaliveHidesGrant)
                    {
                        // The news of the grant was lost; the renewal says it.
                        let (session, lease) = (*session, self.lease);
                        self.grant(ctx, Some(token), session, lease);
                    }
                }
            }
            LockMsg::Expired { req } => {
                if self.keepalive.is_some_and(|(current, _)| current == req) {
                    self.keepalive = None;
                    self.lease = 0;
                    if let Some(held) = &mut self.held {
                        held.deadline = 0;
                    }
                    if let Phase::Queued { .. } = self.phase {
                        ctx.info("acquire", None, Value::Nil);
                        self.think(ctx);
                    }
                }
            }
            LockMsg::Changed { session } => {
                // wake = "all": the lock is free; race the other waiters for it.
                if matches!(self.phase, Phase::Queued { session: queued, .. } if queued == session)
                {
                    let req = self.req();
                    ctx.send(self.leader, LockMsg::Retry { req, session });
                }
            }
            LockMsg::NotLeader { req, hint } => {
                let ours = match self.phase {
                    Phase::Attempt { req: current, .. } | Phase::Releasing { req: current, .. } => {
                        current == req
                    }
                    _ => self.keepalive.is_some_and(|(current, _)| current == req),
                };
                if ours {
                    self.next_leader(hint);
                }
            }
            other => panic!("a lock client got {other:?}"),
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, LockService>, timer: LockTimer) {
        match timer {
            LockTimer::Think => {
                if self.phase == Phase::Idle && ctx.workload_open() {
                    ctx.invoke("acquire", None, Value::Nil);
                    self.attempt(ctx, 0);
                }
            }
            LockTimer::AttemptWindow(req) => {
                if let Phase::Attempt {
                    req: current,
                    started,
                    ..
                } = self.phase
                    && current == req
                {
                    if self.consensus() {
                        // No answer: try the next server with the same request.
                        self.next_leader(None);
                        self.ask(ctx, req, started);
                    } else {
                        self.decide(ctx, true);
                    }
                }
            }
            LockTimer::KeepAlive => {
                let waiting = matches!(
                    self.phase,
                    Phase::Queued { .. }
                        | Phase::Reading { .. }
                        | Phase::Stalling { .. }
                        | Phase::Writing { .. }
                );
                match self.session {
                    Some(session) if waiting => {
                        let req = self.req();
                        self.keepalive = Some((req, ctx.now()));
                        ctx.send(self.leader, LockMsg::KeepAlive { req, session });
                        let every = Duration(self.config.ttl.0 / 3);
                        ctx.set_timer(every, every, LockTimer::KeepAlive);
                    }
                    _ => self.keeping_alive = false,
                }
            }
            LockTimer::Raft(_) => {}
            LockTimer::Retry => {
                if let Phase::Backoff { attempt } = self.phase {
                    self.attempt(ctx, attempt);
                }
            }
            LockTimer::Hold => {
                if let Phase::Stalling { counter, list } =
                    std::mem::replace(&mut self.phase, Phase::Idle)
                {
                    self.write(ctx, counter, list);
                }
            }
            LockTimer::Resend(req) => {
                // A careful holder resends only while its lease lasts; a copy
                // already in flight may still arrive late, which only fencing
                // can stop.
                let lasts = self.held.is_some_and(|held| ctx.now() < held.deadline);
                if !lasts {
                    // The lease ran out with the request unanswered: the lock
                    // may be someone else's now, so the increment is given up
                    // and the session closed (waiting for an answer would
                    // keep a lock that a renewal revives held for nobody).
                    if self.abandon_section(ctx, req) {
                        ctx.sometimes(LockPoint::LeaseLapsedInSection);
                    }
                    return;
                }
                if let Some(message) = self.outstanding(req) {
                    ctx.send(self.resource, message);
                    let resend = self.config.resend_interval;
                    ctx.set_timer(resend, resend, LockTimer::Resend(req));
                }
            }
            LockTimer::GiveUp(req) => match self.phase {
                Phase::Attempt { req: current, .. } if current == req => {
                    // consensus: no leader answered in time; a session may
                    // exist, and expires unless renewed.
                    ctx.info("acquire", None, Value::Nil);
                    self.think(ctx);
                }
                Phase::Queued {
                    req: current,
                    session,
                } if current == req => {
                    // Waited too long: leave the queue explicitly.
                    ctx.info("acquire", None, Value::Nil);
                    let req = self.req();
                    ctx.send(
                        self.leader,
                        LockMsg::Release {
                            req,
                            value: session,
                        },
                    );
                    self.think(ctx);
                }
                _ => {
                    self.abandon_section(ctx, req);
                }
            },
            LockTimer::Expire => {}
            LockTimer::ReleaseWindow(req) => {
                if let Phase::Releasing {
                    req: current,
                    ref answered,
                } = self.phase
                    && current == req
                {
                    if self.consensus() && answered.is_empty() && self.release_tries < 5 {
                        self.release_tries += 1;
                        self.next_leader(None);
                        self.release_to_leader(ctx, req);
                        return;
                    }
                    let enough =
                        answered.len() >= self.quorum() || self.consensus() && !answered.is_empty();
                    self.released(ctx, enough);
                }
            }
        }
    }
}
