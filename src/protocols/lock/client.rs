//! The lock client: acquire (one server, or Redlock's majority), read the
//! resource, stall, check the lease on the client's own clock, write, release.

use super::{GrantId, LockConfig, LockDesign, LockMsg, LockPoint, LockService, LockTimer};
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
    /// Values of attempts given up, so a late yes can be undone.
    abandoned: Vec<u64>,
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
        ctx.set_timer(self.think.0, self.think.1, LockTimer::Think);
    }

    fn attempt(&mut self, ctx: &mut Ctx<'_, LockService>, attempt: u32) {
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
            value,
            started,
            ref granted,
            ref refused,
            ..
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
            let drift = self.config.drift().0;
            let validity = self.config.ttl.0 as i128 - elapsed as i128 - drift as i128;
            if validity > 0 {
                self.grants += 1;
                let id = GrantId {
                    client: self.index,
                    number: self.grants,
                };
                let token = match self.config.design {
                    LockDesign::Single => token,
                    LockDesign::Redlock => None,
                };
                self.held = Some(Held {
                    id,
                    token,
                    value,
                    deadline: started + self.config.ttl.0 - drift,
                });
                let shown = token.unwrap_or(u64::from(id.number));
                ctx.ok("acquire", None, Value::Int(shown as i64));
                self.read(ctx);
                return;
            }
            ctx.sometimes(LockPoint::ValidityExhausted);
        } else if !force && yes + (self.servers - yes - refused) >= quorum {
            return; // a majority is still possible
        } else {
            ctx.sometimes(LockPoint::MajorityMissed);
        }
        // Failed: unlock everywhere, then retry or give up.
        self.unlock_everywhere(ctx, value);
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

    fn unlock_everywhere(&mut self, ctx: &mut Ctx<'_, LockService>, value: u64) {
        let req = self.req();
        for server in 0..self.servers {
            ctx.send(server, LockMsg::Release { req, value });
        }
        self.abandoned.push(value);
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

    fn released(&mut self, ctx: &mut Ctx<'_, LockService>, answered: bool) {
        if answered {
            ctx.ok("release", None, Value::Nil);
        } else {
            ctx.info("release", None, Value::Nil);
        }
        self.think(ctx);
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
                    if let Some(&value) = self.abandoned.last() {
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
                    if answered.len() == self.servers {
                        self.released(ctx, true);
                    }
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
                if matches!(self.phase, Phase::Attempt { req: current, .. } if current == req) {
                    self.decide(ctx, true);
                }
            }
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
                    return;
                }
                if let Some(message) = self.outstanding(req) {
                    ctx.send(self.resource, message);
                    let resend = self.config.resend_interval;
                    ctx.set_timer(resend, resend, LockTimer::Resend(req));
                }
            }
            LockTimer::GiveUp(req) => match self.phase {
                Phase::Reading { req: current } if current == req => {
                    ctx.fail("incr", None, Value::Nil);
                    self.release(ctx);
                }
                Phase::Writing { req: current, .. } if current == req => {
                    ctx.info("incr", None, Value::Nil);
                    self.release(ctx);
                }
                _ => {}
            },
            LockTimer::Expire => {}
            LockTimer::ReleaseWindow(req) => {
                if let Phase::Releasing {
                    req: current,
                    ref answered,
                } = self.phase
                    && current == req
                {
                    let enough = answered.len() >= self.quorum();
                    self.released(ctx, enough);
                }
            }
        }
    }
}
