//! The `consensus` design: the lock table as a state machine replicated by the
//! shipped Raft (embedded through [`Ctx::nest`]), etcd / Chubby style.
//!
//! - **Sessions.** An `acquire` opens a session (its id is the log index of the
//!   command that opened it) with a lease the client keeps alive; keep-alives go
//!   through the log, so only a leader that can still commit renews a lease.
//!   Leases run on each server's own clock from the moment it applies the
//!   renewal; only a ready leader expires them, by committing an `expire`.
//! - **A queue per lock.** A new session joins the lock's queue; the head holds
//!   the lock. A release or an expiry promotes the next session only, and the
//!   leader tells that one client (no herd: one notification per release).
//! - **Tokens.** A grant's fencing token is the log index of the command that
//!   made it (the acquire that found the queue empty, or the release or expiry
//!   that promoted the waiter), so tokens increase across leader changes and
//!   restarts: they are positions in one log.
//! - **Grace after failover.** A new leader does not know when its predecessor
//!   last renewed each lease, so it first extends every lease by one TTL from its
//!   own election (Chubby's grace period) and only then expires what lapses.

use super::{LockBug, LockConfig, LockMsg, LockPoint, LockService, LockTimer};
use crate::protocols::codec::{DecodeError, Decoder, Encoder};
use crate::protocols::raft::{RaftConfig, RaftNode};
use crate::sim::time::Duration;
use crate::sim::{Ctx, Node, ProcessId, Role, Status};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::rc::Rc;

/// A lock-table command, as it travels through the log.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Command {
    /// Open a session for client `client`'s request `req` and queue it.
    Acquire { client: u32, req: u64 },
    /// Renew a session's lease.
    KeepAlive { session: u64 },
    /// Close a session (leaving the queue, or the lock).
    Release { session: u64 },
    /// The leader found the session's lease over; `renewed` is the log index
    /// of the session's last renewal it had applied then. A renewal applied
    /// after that index (already in the log ahead of the expiry) voids it.
    Expire { session: u64, renewed: u64 },
    /// `wake = "all"`: a woken waiter tries to take the free lock.
    Retry { session: u64 },
}

impl Command {
    fn encode(&self, stamp: u64) -> Rc<[u8]> {
        let mut out = Encoder::new();
        out.u64(stamp);
        match self {
            Command::Acquire { client, req } => out.u8(0).u64(u64::from(*client)).u64(*req),
            Command::KeepAlive { session } => out.u8(1).u64(*session),
            Command::Release { session } => out.u8(2).u64(*session),
            Command::Expire { session, renewed } => out.u8(3).u64(*session).u64(*renewed),
            Command::Retry { session } => out.u8(4).u64(*session),
        };
        out.bytes.into()
    }

    fn decode(bytes: &[u8]) -> Result<(u64, Command), DecodeError> {
        let mut input = Decoder::new(bytes);
        let stamp = input.u64()?;
        let command = match input.u8()? {
            0 => Command::Acquire {
                client: u32::try_from(input.u64()?)
                    .map_err(|_| DecodeError("client id out of range".into()))?,
                req: input.u64()?,
            },
            1 => Command::KeepAlive {
                session: input.u64()?,
            },
            2 => Command::Release {
                session: input.u64()?,
            },
            3 => Command::Expire {
                session: input.u64()?,
                renewed: input.u64()?,
            },
            4 => Command::Retry {
                session: input.u64()?,
            },
            tag => return Err(DecodeError(format!("unknown lock command tag {tag}"))),
        };
        Ok((stamp, command))
    }
}

/// A session in the lock table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Session {
    client: u32,
    req: u64,
    /// The log index of the command that last renewed its lease (the acquire
    /// that opened it, or a keep-alive).
    renewed: u64,
}

/// The replicated lock table (one lock).
#[derive(Clone, Debug, Default)]
struct Machine {
    /// `wake = "all"`: a release frees the lock and wakes every waiter, who
    /// race for it (watching the lock key) instead of the next in line getting it.
    herd: bool,
    sessions: BTreeMap<u64, Session>,
    by_request: BTreeMap<(u32, u64), u64>,
    /// The session holding the lock and its token.
    holder: Option<(u64, u64)>,
    /// Sessions waiting, in arrival order.
    waiting: VecDeque<u64>,
    /// The planted bug `expire_ignores_renewal`.
    expire_ignores_renewals: bool,
}

/// What applying a command did that a client must hear of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    /// The session holds the lock with this token.
    Granted { session: u64, token: u64 },
    /// The session waits.
    Queued { session: u64 },
    /// The keep-alive renewed a live session (holding with this token, if so).
    Alive { token: Option<u64> },
    /// The session named is gone.
    Gone,
    /// The release was applied.
    Released,
    /// Nothing for the proposer (an expiry).
    Nothing,
}

/// Who hears of a holder's leaving.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Handoff {
    /// Nobody (the session did not hold the lock, or nobody waits).
    None,
    /// The next in line holds it now, with this token.
    Promoted(u64, u64),
    /// The lock is free; every waiter is told (the herd).
    WakeAll(Vec<u64>),
}

impl Machine {
    fn token_of(&self, session: u64) -> Option<u64> {
        self.holder
            .filter(|(holder, _)| *holder == session)
            .map(|(_, token)| token)
    }

    fn standing(&self, session: u64) -> Outcome {
        match self.token_of(session) {
            Some(token) => Outcome::Granted { session, token },
            None => Outcome::Queued { session },
        }
    }

    /// Removes `session`; if it held the lock, hands it on (a grant gets `token`).
    fn remove(&mut self, session: u64, token: u64) -> Handoff {
        let Some(info) = self.sessions.remove(&session) else {
            return Handoff::None;
        };
        self.by_request.remove(&(info.client, info.req));
        self.waiting.retain(|waiting| *waiting != session);
        if self.token_of(session).is_none() {
            return Handoff::None;
        }
        self.holder = None;
        if self.herd {
            return if self.waiting.is_empty() {
                Handoff::None
            } else {
                Handoff::WakeAll(self.waiting.iter().copied().collect())
            };
        }
        match self.waiting.pop_front() {
            Some(next) => {
                self.holder = Some((next, token));
                Handoff::Promoted(next, token)
            }
            None => Handoff::None,
        }
    }

    /// Applies the command at log `index`; a grant it makes gets `token`.
    fn apply(&mut self, command: &Command, token: u64, index: u64) -> (Outcome, Handoff) {
        match *command {
            Command::Acquire { client, req } => {
                if let Some(&session) = self.by_request.get(&(client, req)) {
                    return (self.standing(session), Handoff::None);
                }
                let session = index;
                self.sessions.insert(
                    session,
                    Session {
                        client,
                        req,
                        renewed: index,
                    },
                );
                self.by_request.insert((client, req), session);
                if self.holder.is_none() {
                    self.holder = Some((session, token));
                } else {
                    self.waiting.push_back(session);
                }
                (self.standing(session), Handoff::None)
            }
            Command::Retry { session } => {
                if !self.sessions.contains_key(&session) {
                    return (Outcome::Gone, Handoff::None);
                }
                if self.holder.is_none() {
                    self.waiting.retain(|waiting| *waiting != session);
                    self.holder = Some((session, token));
                }
                (self.standing(session), Handoff::None)
            }
            Command::KeepAlive { session } => {
                if let Some(info) = self.sessions.get_mut(&session) {
                    info.renewed = index;
                    (
                        Outcome::Alive {
                            token: self.token_of(session),
                        },
                        Handoff::None,
                    )
                } else {
                    (Outcome::Gone, Handoff::None)
                }
            }
            Command::Release { session } => (Outcome::Released, self.remove(session, token)),
            Command::Expire { session, renewed } => {
                let renewed_since = self
                    .sessions
                    .get(&session)
                    .is_some_and(|info| info.renewed > renewed);
                if renewed_since && !self.expire_ignores_renewals {
                    return (Outcome::Nothing, Handoff::None);
                }
                (Outcome::Nothing, self.remove(session, token))
            }
        }
    }
}

/// A lock server of the `consensus` design: an embedded Raft node, the lock
/// table it replicates, and this server's view of every lease.
#[derive(Clone, Debug)]
pub struct ConsensusServer {
    config: Rc<LockConfig>,
    raft: RaftNode,
    machine: Machine,
    /// Where each session's lease ends on this server's clock.
    deadlines: BTreeMap<u64, u64>,
    /// Sessions whose expiry this leader has proposed.
    expiring: BTreeSet<u64>,
    /// Proposals to answer when applied: index → (client, req, term).
    pending: BTreeMap<u64, (ProcessId, u64, u64)>,
    /// The term this node last ran the failover grace in.
    grace_term: u64,
    /// The planted bug token_not_replicated's counter (this leader's memory).
    local_tokens: u64,
    /// The Raft group's size (nodes `0..servers`).
    servers: usize,
    /// The term of the entry that made the last grant applied.
    last_grant_term: u64,
}

/// How often a server looks for leases to expire.
fn expire_every(config: &LockConfig) -> Duration {
    Duration((config.ttl.0 / 10).clamp(crate::sim::MILLISECOND, 100 * crate::sim::MILLISECOND))
}

impl ConsensusServer {
    pub(super) fn new(config: Rc<LockConfig>, servers: usize) -> Self {
        let herd = config.wake == super::Wake::All;
        let expire_ignores_renewals = config.has(LockBug::ExpireIgnoresRenewal);
        let raft = RaftNode::new(&RaftConfig::embedded(
            config.election_timeout,
            config.heartbeat_interval,
        ));
        ConsensusServer {
            config,
            raft,
            machine: Machine {
                herd,
                expire_ignores_renewals,
                ..Machine::default()
            },
            deadlines: BTreeMap::new(),
            expiring: BTreeSet::new(),
            pending: BTreeMap::new(),
            grace_term: 0,
            local_tokens: 0,
            servers,
            last_grant_term: 0,
        }
    }

    /// The embedded Raft node.
    pub fn raft(&self) -> &RaftNode {
        &self.raft
    }

    /// The session holding the lock in this server's table, with its token.
    pub fn holder(&self) -> Option<(u64, u64)> {
        self.machine.holder
    }

    fn with_raft<R>(
        &mut self,
        ctx: &mut Ctx<'_, LockService>,
        f: impl FnOnce(&mut RaftNode, &mut Ctx<'_, crate::protocols::raft::Raft>) -> R,
    ) -> R {
        let raft = &mut self.raft;
        let group = self.servers;
        let result = ctx.nest_group(group, LockMsg::Raft, LockTimer::Raft, |inner| {
            f(raft, inner)
        });
        self.drain(ctx);
        result
    }

    fn propose(
        &mut self,
        ctx: &mut Ctx<'_, LockService>,
        command: Command,
    ) -> Result<u64, Option<ProcessId>> {
        self.local_tokens += 1;
        let bytes = command.encode(self.local_tokens);
        self.with_raft(ctx, |raft, inner| raft.propose(inner, bytes))
    }

    /// Applies what Raft committed, answers proposals and notifies promotions.
    fn drain(&mut self, ctx: &mut Ctx<'_, LockService>) {
        let leading = self.raft.role() == Role::Leader;
        let nodes = ctx.nodes();
        for applied in self.raft.take_applied() {
            let Ok((stamp, command)) = Command::decode(&applied.bytes) else {
                panic!("undecodable lock command at index {}", applied.index);
            };
            let token = if self.config.has(LockBug::TokenNotReplicated) {
                stamp
            } else {
                applied.index
            };
            let (outcome, handoff) = self.machine.apply(&command, token, applied.index);
            let now = ctx.now();
            match command {
                Command::Acquire { .. } => {
                    if let Outcome::Granted { session, .. } | Outcome::Queued { session } = outcome
                    {
                        self.deadlines
                            .entry(session)
                            .or_insert(now + self.config.ttl.0);
                    }
                }
                Command::KeepAlive { session } => {
                    if self.machine.sessions.contains_key(&session) {
                        self.deadlines.insert(session, now + self.config.ttl.0);
                    }
                }
                Command::Release { session } | Command::Expire { session, .. } => {
                    self.expiring.remove(&session);
                    if self.machine.sessions.contains_key(&session) {
                        // An expiry voided by a renewal ahead of it in the log.
                        ctx.sometimes(LockPoint::ExpiryVoidedByRenewal);
                    } else {
                        self.deadlines.remove(&session);
                        if matches!(command, Command::Expire { .. }) {
                            ctx.sometimes(LockPoint::SessionExpired);
                        }
                    }
                }
                Command::Retry { .. } => {}
            }
            if let Some((client, req, term)) = self.pending.remove(&applied.index)
                && term == applied.term
                && leading
            {
                let reply = match outcome {
                    Outcome::Granted { session, token } => LockMsg::Granted {
                        req,
                        session,
                        token,
                    },
                    Outcome::Queued { session } => LockMsg::Queued { req, session },
                    Outcome::Alive { token } => LockMsg::Alive { req, token },
                    Outcome::Gone => LockMsg::Expired { req },
                    Outcome::Released => LockMsg::Released { req, deleted: true },
                    Outcome::Nothing => LockMsg::Released {
                        req,
                        deleted: false,
                    },
                };
                ctx.send(client, reply);
            }
            let granted_here = matches!(outcome, Outcome::Granted { .. })
                && matches!(command, Command::Acquire { .. } | Command::Retry { .. })
                && self.machine.holder.is_some_and(|(_, held)| held == token);
            if granted_here || matches!(handoff, Handoff::Promoted(..)) {
                if self.last_grant_term != 0 && applied.term > self.last_grant_term {
                    ctx.sometimes(LockPoint::GrantAfterLeaderChange);
                }
                self.last_grant_term = applied.term;
            }
            match handoff {
                Handoff::None => {}
                Handoff::Promoted(session, token) => {
                    if matches!(command, Command::Expire { .. }) {
                        ctx.sometimes(LockPoint::WaiterWokenByExpiry);
                    }
                    if leading && let Some(info) = self.machine.sessions.get(&session) {
                        ctx.send(
                            nodes + info.client as usize,
                            LockMsg::Granted {
                                req: info.req,
                                session,
                                token,
                            },
                        );
                    }
                }
                Handoff::WakeAll(waiting) => {
                    if matches!(command, Command::Expire { .. }) {
                        ctx.sometimes(LockPoint::WaiterWokenByExpiry);
                    }
                    if leading {
                        for session in waiting {
                            if let Some(info) = self.machine.sessions.get(&session) {
                                ctx.send(
                                    nodes + info.client as usize,
                                    LockMsg::Changed { session },
                                );
                            }
                        }
                    }
                }
            }
        }
    }

    fn on_client(&mut self, ctx: &mut Ctx<'_, LockService>, from: ProcessId, msg: LockMsg) {
        let client = (from - ctx.nodes()) as u32;
        let (req, command) = match msg {
            LockMsg::Acquire { req, .. } => (req, Command::Acquire { client, req }),
            LockMsg::KeepAlive { req, session } => (req, Command::KeepAlive { session }),
            LockMsg::Release { req, value } => (req, Command::Release { session: value }),
            LockMsg::Retry { req, session } => (req, Command::Retry { session }),
            other => panic!("a consensus lock server got {other:?} from a client"),
        };
        if !self.raft.leader_ready() {
            let hint = self.raft.leader_hint();
            ctx.send(from, LockMsg::NotLeader { req, hint });
            return;
        }
        match self.propose(ctx, command) {
            Ok(index) => {
                self.pending.insert(index, (from, req, self.raft.term()));
            }
            Err(hint) => ctx.send(from, LockMsg::NotLeader { req, hint }),
        }
    }

    fn on_expire_timer(&mut self, ctx: &mut Ctx<'_, LockService>) {
        let every = expire_every(&self.config);
        ctx.set_timer(every, every, LockTimer::Expire);
        if !self.raft.leader_ready() {
            return;
        }
        let now = ctx.now();
        let term = self.raft.term();
        if self.grace_term != term {
            // A new leader: its predecessor's renewals are unknown to it, so
            // every lease gets one more TTL from now before it can lapse.
            self.grace_term = term;
            // Expiries proposed in an earlier term may never commit (a later
            // leader can cut them from the log): propose again what lapses.
            if !self.config.has(LockBug::ExpiryNotReproposed) {
                self.expiring.clear();
            }
            if !self.machine.sessions.is_empty() {
                ctx.sometimes(LockPoint::GraceExtended);
            }
            let grace = now + self.config.ttl.0;
            for session in self.machine.sessions.keys() {
                let deadline = self.deadlines.entry(*session).or_insert(grace);
                *deadline = (*deadline).max(grace);
            }
        }
        let lapsed: Vec<u64> = self
            .deadlines
            .iter()
            .filter(|(session, deadline)| **deadline <= now && !self.expiring.contains(session))
            .map(|(session, _)| *session)
            .collect();
        for session in lapsed {
            let renewed = self
                .machine
                .sessions
                .get(&session)
                .map_or(0, |info| info.renewed);
            if self
                .propose(ctx, Command::Expire { session, renewed })
                .is_ok()
            {
                self.expiring.insert(session);
            }
        }
    }

    pub(super) fn on_start(&mut self, ctx: &mut Ctx<'_, LockService>) {
        self.with_raft(ctx, |raft, inner| raft.on_start(inner));
        let every = expire_every(&self.config);
        ctx.set_timer(every, every, LockTimer::Expire);
    }

    pub(super) fn on_restart(&mut self, ctx: &mut Ctx<'_, LockService>) {
        self.with_raft(ctx, |raft, inner| raft.on_restart(inner));
        let every = expire_every(&self.config);
        ctx.set_timer(every, every, LockTimer::Expire);
    }

    pub(super) fn on_message(
        &mut self,
        ctx: &mut Ctx<'_, LockService>,
        from: ProcessId,
        msg: LockMsg,
    ) {
        if from >= ctx.nodes() {
            self.on_client(ctx, from, msg);
            return;
        }
        match msg {
            LockMsg::Raft(msg) => {
                self.with_raft(ctx, |raft, inner| raft.on_message(inner, from, msg))
            }
            other => panic!("a consensus lock server got {other:?} from a server"),
        }
    }

    pub(super) fn on_timer(&mut self, ctx: &mut Ctx<'_, LockService>, timer: LockTimer) {
        match timer {
            LockTimer::Raft(timer) => {
                self.with_raft(ctx, |raft, inner| raft.on_timer(inner, timer))
            }
            LockTimer::Expire => self.on_expire_timer(ctx),
            _ => {}
        }
    }

    pub(super) fn status(&self) -> Status {
        self.raft.status()
    }
}
