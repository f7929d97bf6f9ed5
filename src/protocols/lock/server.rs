//! The lock servers and the resource: the two roles of a lock run's nodes.

use super::consensus::ConsensusServer;
use super::{GrantId, LockBug, LockConfig, LockMsg, LockPoint, LockService, LockTimer, Refusal};
use crate::protocols::codec::{Decoder, Encoder};
use crate::protocols::durable::{read_files, single};
use crate::sim::crc32c::frame;
use crate::sim::time::Duration;
use crate::sim::{Ctx, Node, ProcessId, Status};
use std::rc::Rc;

/// A lock run's node: a lock server or the resource.
#[derive(Clone, Debug)]
pub enum LockNode {
    /// A lock server (nodes `0..servers`).
    Server(Server),
    /// The guarded resource (the node after the servers).
    Resource(Resource),
    /// A lock server of the consensus design.
    Consensus(Box<ConsensusServer>),
}

impl LockNode {
    /// The resource, if this node is it.
    pub fn resource(&self) -> Option<&Resource> {
        match self {
            LockNode::Resource(resource) => Some(resource),
            _ => None,
        }
    }
}

const TOKEN_FILE: &str = "lock.token";
const RESOURCE_FILE: &str = "resource.state";

/// One lock server: one key with a TTL, in memory, and a durable grant counter.
#[derive(Clone, Debug)]
pub struct Server {
    config: Rc<LockConfig>,
    /// The key: its value and when it expires on this server's clock.
    key: Option<(u64, u64)>,
    /// Grants so far (synced before each grant is answered).
    token: u64,
    /// Refuse to grant before this local time (the restart delay).
    serving_from: u64,
    /// The disk could not be read: refuse everything.
    damaged: bool,
}

impl Server {
    fn new(config: Rc<LockConfig>) -> Self {
        Server {
            config,
            key: None,
            token: 0,
            serving_from: 0,
            damaged: false,
        }
    }

    /// Grants this server has made (its token counter).
    pub fn token(&self) -> u64 {
        self.token
    }

    fn recover(&mut self, ctx: &mut Ctx<'_, LockService>) {
        let Some(files) = read_files(ctx, &[TOKEN_FILE], LockPoint::TokenRecovered) else {
            self.damaged = true;
            return;
        };
        match single(TOKEN_FILE, &files[0]) {
            Ok(None) => {}
            Ok(Some(record)) => match Decoder::new(record).u64() {
                Ok(token) => {
                    self.token = token;
                    ctx.sometimes(LockPoint::TokenRecovered);
                }
                Err(_) => self.damaged = true,
            },
            Err(_) => self.damaged = true,
        }
        if self.config.restart_delay && !self.config.has(LockBug::RestartWithoutDelay) {
            self.serving_from = ctx.now().saturating_add(self.config.ttl.0);
        }
    }

    fn on_acquire(
        &mut self,
        ctx: &mut Ctx<'_, LockService>,
        from: ProcessId,
        req: u64,
        value: u64,
    ) {
        let now = ctx.now();
        if now < self.serving_from {
            ctx.sometimes(LockPoint::RestartDelayed);
            ctx.send(
                from,
                LockMsg::Refused {
                    req,
                    why: Refusal::Restarting,
                },
            );
            return;
        }
        match self.key {
            Some((held, expires)) if held != value && now < expires => {
                ctx.send(
                    from,
                    LockMsg::Refused {
                        req,
                        why: Refusal::Held,
                    },
                );
                return;
            }
            Some((held, _)) if held == value => {
                // A resent or duplicated request: the grant already stands.
                ctx.send(
                    from,
                    LockMsg::Acquired {
                        req,
                        token: self.token,
                    },
                );
                return;
            }
            Some(_) => ctx.sometimes(LockPoint::ExpiredLeaseRetaken),
            None => {}
        }
        self.key = Some((value, now.saturating_add(self.config.ttl.0)));
        self.token += 1;
        let mut out = Encoder::new();
        out.u64(self.token);
        let mut record = Vec::new();
        frame(&out.bytes, &mut record);
        ctx.disk().write(TOKEN_FILE, record);
        ctx.disk().sync();
        ctx.send(
            from,
            LockMsg::Acquired {
                req,
                token: self.token,
            },
        );
    }

    fn on_release(
        &mut self,
        ctx: &mut Ctx<'_, LockService>,
        from: ProcessId,
        req: u64,
        value: u64,
    ) {
        let deleted = match self.key {
            Some((held, _))
                if held == value || self.config.has(LockBug::ReleaseWithoutOwnerCheck) =>
            {
                self.key = None;
                true
            }
            Some(_) => {
                ctx.sometimes(LockPoint::ForeignReleaseRefused);
                false
            }
            None => false,
        };
        ctx.send(from, LockMsg::Released { req, deleted });
    }
}

/// What the resource accepted, in order (for the checker; not persisted).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Accepted {
    /// Under which grant.
    pub grant: GrantId,
    /// With which token.
    pub token: Option<u64>,
    /// A write (else a read).
    pub write: bool,
}

/// The guarded resource: a counter and a list, synced to disk on every change,
/// checking fencing tokens when `fencing` is on.
#[derive(Clone, Debug)]
pub struct Resource {
    config: Rc<LockConfig>,
    counter: i64,
    list: Vec<GrantId>,
    highest: u64,
    /// Grants whose write was applied (a resent write is not applied twice).
    written: Vec<GrantId>,
    accepted: Vec<Accepted>,
    damaged: bool,
}

impl Resource {
    fn new(config: Rc<LockConfig>) -> Self {
        Resource {
            config,
            counter: 0,
            list: Vec::new(),
            highest: 0,
            written: Vec::new(),
            accepted: Vec::new(),
            damaged: false,
        }
    }

    /// The counter.
    pub fn counter(&self) -> i64 {
        self.counter
    }

    /// The list.
    pub fn list(&self) -> &[GrantId] {
        &self.list
    }

    /// Writes applied (each grant's write once).
    pub fn writes(&self) -> usize {
        self.written.len()
    }

    /// The highest token seen.
    pub fn highest(&self) -> u64 {
        self.highest
    }

    /// What this incarnation accepted, in order.
    pub fn accepted(&self) -> &[Accepted] {
        &self.accepted
    }

    fn persist(&self, ctx: &mut Ctx<'_, LockService>) {
        let mut out = Encoder::new();
        out.i64(self.counter).u64(self.highest);
        out.u64(self.list.len() as u64);
        for grant in &self.list {
            out.u64(u64::from(grant.client))
                .u64(u64::from(grant.number));
        }
        out.u64(self.written.len() as u64);
        for grant in &self.written {
            out.u64(u64::from(grant.client))
                .u64(u64::from(grant.number));
        }
        let mut record = Vec::new();
        frame(&out.bytes, &mut record);
        ctx.disk().write(RESOURCE_FILE, record);
        ctx.disk().sync();
    }

    fn recover(&mut self, ctx: &mut Ctx<'_, LockService>) {
        let Some(files) = read_files(ctx, &[RESOURCE_FILE], LockPoint::ResourceRecovered) else {
            self.damaged = true;
            return;
        };
        let record = match single(RESOURCE_FILE, &files[0]) {
            Ok(None) => return,
            Ok(Some(record)) => record,
            Err(_) => {
                self.damaged = true;
                return;
            }
        };
        let mut input = Decoder::new(record);
        let grants = |input: &mut Decoder<'_>| -> Option<Vec<GrantId>> {
            let count = input.u64().ok()?;
            let mut grants = Vec::new();
            for _ in 0..count {
                grants.push(GrantId {
                    client: u32::try_from(input.u64().ok()?).ok()?,
                    number: u32::try_from(input.u64().ok()?).ok()?,
                });
            }
            Some(grants)
        };
        let state = (|| {
            let counter = input.i64().ok()?;
            let highest = input.u64().ok()?;
            let list = grants(&mut input)?;
            let written = grants(&mut input)?;
            Some((counter, highest, list, written))
        })();
        match state {
            Some((counter, highest, list, written)) => {
                (self.counter, self.highest, self.list, self.written) =
                    (counter, highest, list, written);
                ctx.sometimes(LockPoint::ResourceRecovered);
            }
            None => self.damaged = true,
        }
    }

    /// Whether an operation under `token` passes the fence (raising it); when
    /// it does not, tells `from` its request `req` was fenced off.
    fn admit(
        &mut self,
        ctx: &mut Ctx<'_, LockService>,
        from: ProcessId,
        req: u64,
        token: Option<u64>,
    ) -> bool {
        let Some(token) = token else {
            return true;
        };
        if token < self.highest {
            if self.config.fenced() && !self.config.has(LockBug::ResourceIgnoresTokens) {
                ctx.sometimes(LockPoint::StaleTokenRejected);
                let highest = self.highest;
                ctx.send(from, LockMsg::Fenced { req, highest });
                return false;
            }
            ctx.sometimes(LockPoint::StaleTokenAccepted);
        }
        self.highest = self.highest.max(token);
        true
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, LockService>, from: ProcessId, msg: LockMsg) {
        if self.damaged {
            return;
        }
        match msg {
            LockMsg::Read { req, grant, token } => {
                let before = self.highest;
                if !self.admit(ctx, from, req, token) {
                    return;
                }
                if self.highest != before {
                    self.persist(ctx);
                }
                self.accepted.push(Accepted {
                    grant,
                    token,
                    write: false,
                });
                ctx.send(
                    from,
                    LockMsg::ReadOk {
                        req,
                        counter: self.counter,
                        list: self.list.clone(),
                    },
                );
            }
            LockMsg::Write {
                req,
                grant,
                token,
                counter,
                list,
            } => {
                if self.written.contains(&grant) {
                    ctx.send(from, LockMsg::WriteOk { req });
                    return;
                }
                if !self.admit(ctx, from, req, token) {
                    return;
                }
                self.counter = counter;
                self.list = list;
                self.written.push(grant);
                self.persist(ctx);
                self.accepted.push(Accepted {
                    grant,
                    token,
                    write: true,
                });
                ctx.send(from, LockMsg::WriteOk { req });
            }
            other => panic!("the resource got {other:?}"),
        }
    }
}

/// Builds node `id`: a server below `servers`, the resource at `servers`.
pub(super) fn node(config: &Rc<LockConfig>, servers: usize, id: usize) -> LockNode {
    if id < servers && config.design == super::LockDesign::Consensus {
        LockNode::Consensus(Box::new(ConsensusServer::new(config.clone(), servers)))
    } else if id < servers {
        LockNode::Server(Server::new(config.clone()))
    } else {
        LockNode::Resource(Resource::new(config.clone()))
    }
}

/// How often a server drops expired keys (Redis's active expiry runs ten
/// times a second); a request also treats an expired key as absent.
const EXPIRE_EVERY: Duration = Duration(100 * crate::sim::MILLISECOND);

impl Node<LockService> for LockNode {
    fn on_start(&mut self, ctx: &mut Ctx<'_, LockService>) {
        match self {
            LockNode::Server(_) => {
                ctx.set_timer(EXPIRE_EVERY, EXPIRE_EVERY, LockTimer::Expire);
            }
            LockNode::Consensus(server) => server.on_start(ctx),
            LockNode::Resource(_) => {}
        }
    }

    fn on_restart(&mut self, ctx: &mut Ctx<'_, LockService>) {
        match self {
            LockNode::Server(server) => {
                ctx.set_timer(EXPIRE_EVERY, EXPIRE_EVERY, LockTimer::Expire);
                server.recover(ctx);
            }
            LockNode::Resource(resource) => resource.recover(ctx),
            LockNode::Consensus(server) => server.on_restart(ctx),
        }
    }

    fn status(&self) -> Status {
        match self {
            LockNode::Consensus(server) => server.status(),
            _ => Status::default(),
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, LockService>, from: ProcessId, msg: LockMsg) {
        match self {
            LockNode::Resource(resource) => resource.on_message(ctx, from, msg),
            LockNode::Consensus(server) => server.on_message(ctx, from, msg),
            LockNode::Server(server) => {
                if server.damaged {
                    return;
                }
                match msg {
                    LockMsg::Acquire { req, value } => server.on_acquire(ctx, from, req, value),
                    LockMsg::Release { req, value } => server.on_release(ctx, from, req, value),
                    other => panic!("a lock server got {other:?}"),
                }
            }
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, LockService>, timer: LockTimer) {
        if let LockNode::Consensus(server) = self {
            server.on_timer(ctx, timer);
            return;
        }
        if let (LockNode::Server(server), LockTimer::Expire) = (self, timer) {
            if let Some((_, expires)) = server.key
                && ctx.now() >= expires
            {
                server.key = None;
                ctx.sometimes(LockPoint::KeyExpired);
            }
            ctx.set_timer(EXPIRE_EVERY, EXPIRE_EVERY, LockTimer::Expire);
        }
    }
}
