//! A Paxos node: acceptor, proposer and learner in one process. See the module
//! documentation of [`super`] for the algorithm.

use super::storage::{self, MachineState};
use super::{
    Ballot, Command, Paxos, PaxosBug, PaxosConfig, PaxosMsg, PaxosPoint, PaxosTimer, Proposal,
    Record, Snapshot, majority,
};
use crate::protocols::durable;
use crate::protocols::kv::{KvCommand, KvOutcome, KvReply, KvResult};
use crate::sim::time::Duration;
use crate::sim::time::DurationRange;
use crate::sim::trace::StableHasher;
use crate::sim::{Ctx, Node, ProcessId, Role, Status, TimerId};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::rc::Rc;

/// Settings shared by every node of a run.
#[derive(Clone, Debug)]
struct Settings {
    leader: bool,
    backoff: bool,
    election: DurationRange,
    heartbeat: Duration,
    snapshot_every: u64,
    max_batch: usize,
    bugs: BTreeSet<PaxosBug>,
}

/// What the proposer is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Not proposing.
    Idle,
    /// Phase 1 under `ballot`: collecting promises.
    Preparing,
    /// Phase 1 succeeded: proposing under `ballot` with phase 2 only.
    Leading,
}

/// A proposal waiting for a majority of acceptances.
#[derive(Clone, Debug)]
struct InFlight {
    command: Rc<Command>,
    /// Acceptors that accepted it, one bit per node.
    acks: u64,
    /// When the accepts were last sent.
    sent_at: u64,
}

/// A client request waiting for a slot.
#[derive(Clone, Debug)]
struct Queued {
    client: ProcessId,
    command: KvCommand,
}

/// A promise as the proposer keeps it.
#[derive(Clone, Debug)]
struct Promised {
    accepted: Vec<Proposal>,
    snapshot: Option<Snapshot>,
}

/// A Paxos node.
#[derive(Clone, Debug)]
pub struct PaxosNode {
    settings: Rc<Settings>,
    // Acceptor state: on disk before anyone is told about it.
    promised: Ballot,
    accepted: BTreeMap<u64, (Ballot, Rc<Command>)>,
    snapshot: Option<Snapshot>,
    // Proposer state.
    phase: Phase,
    ballot: Ballot,
    /// The highest round seen in any ballot (new ballots go above it).
    seen_round: u64,
    from_slot: u64,
    promises: BTreeMap<ProcessId, Promised>,
    next_slot: u64,
    in_flight: BTreeMap<u64, InFlight>,
    queued: VecDeque<Queued>,
    /// Client requests by the slot they were proposed in.
    pending: BTreeMap<u64, Queued>,
    leader: Option<ProcessId>,
    /// When the leader was last heard from (leader mode).
    leader_heard: Option<u64>,
    election_timer: Option<TimerId>,
    tick_timer: Option<TimerId>,
    last_catchup: Option<u64>,
    // Learner state.
    applied: u64,
    /// Chosen commands not yet applied (a slot before them is still open).
    chosen: BTreeMap<u64, Rc<Command>>,
    /// Applied commands after the snapshot: `log[i]` is slot `log_base + 1 + i`.
    log: Vec<Rc<Command>>,
    log_base: u64,
    machine: MachineState,
    ready: bool,
    damaged: Option<String>,
    /// What the latest handler accepted and applied (for the checker), and how
    /// many records earlier handlers produced.
    records: Vec<Record>,
    records_before: u64,
}

impl PaxosNode {
    /// A fresh node (at start, and after every crash before it reads its disk).
    pub fn new(config: &PaxosConfig) -> Self {
        let settings = Settings {
            leader: config.leader,
            backoff: config.backoff,
            election: config.election_timeout,
            heartbeat: config.heartbeat_interval,
            snapshot_every: config.snapshot_every,
            max_batch: config.max_batch.max(1),
            bugs: config.bugs.iter().copied().collect(),
        };
        PaxosNode::with_settings(Rc::new(settings))
    }

    /// A node sharing `self`'s settings (the factory builds one per crash).
    pub fn fresh(&self) -> Self {
        PaxosNode::with_settings(self.settings.clone())
    }

    fn with_settings(settings: Rc<Settings>) -> Self {
        PaxosNode {
            settings,
            promised: Ballot::ZERO,
            accepted: BTreeMap::new(),
            snapshot: None,
            phase: Phase::Idle,
            ballot: Ballot::ZERO,
            seen_round: 0,
            from_slot: 1,
            promises: BTreeMap::new(),
            next_slot: 1,
            in_flight: BTreeMap::new(),
            queued: VecDeque::new(),
            pending: BTreeMap::new(),
            leader: None,
            leader_heard: None,
            election_timer: None,
            tick_timer: None,
            last_catchup: None,
            applied: 0,
            chosen: BTreeMap::new(),
            log: Vec::new(),
            log_base: 0,
            machine: MachineState::default(),
            ready: false,
            damaged: None,
            records: Vec::new(),
            records_before: 0,
        }
    }

    // ----- Read-only views for checkers -----

    /// The highest ballot this acceptor promised.
    pub fn promised(&self) -> Ballot {
        self.promised
    }

    /// The proposer's current ballot (meaningful while preparing or leading).
    pub fn ballot(&self) -> Ballot {
        self.ballot
    }

    /// Whether this node leads: its phase 1 succeeded and no higher ballot
    /// pre-empted it yet.
    pub fn is_leading(&self) -> bool {
        self.phase == Phase::Leading
    }

    /// Proposals still waiting for a majority, client requests waiting for a
    /// slot, and chosen slots waiting for an earlier one to be learned.
    pub fn outstanding(&self) -> usize {
        self.in_flight.len() + self.queued.len() + self.chosen.len()
    }

    /// The last slot applied to the state machine (all before it were too).
    pub fn applied(&self) -> u64 {
        self.applied
    }

    /// Chained digest of every command applied, in order.
    pub fn applied_digest(&self) -> u64 {
        self.machine.digest
    }

    /// Why this node refuses to serve, if its disk failed its checksums.
    pub fn damaged(&self) -> Option<&str> {
        self.damaged.as_deref()
    }

    /// Whether the node has read its disk and serves.
    pub fn serving(&self) -> bool {
        self.ready && self.damaged.is_none()
    }

    /// What the latest handler accepted and applied, in order.
    pub fn records(&self) -> &[Record] {
        &self.records
    }

    /// How many records handlers before the latest produced (so
    /// `records_before() + records().len()` counts every record this
    /// incarnation made).
    pub fn records_before(&self) -> u64 {
        self.records_before
    }

    fn has(&self, bug: PaxosBug) -> bool {
        self.settings.bugs.contains(&bug)
    }

    /// Starts a handler: the records of the previous one were seen.
    fn begin(&mut self) {
        self.records_before += self.records.len() as u64;
        self.records.clear();
    }

    // ----- Persistence -----

    fn persist(&mut self, ctx: &mut Ctx<'_, Paxos>, record: Vec<u8>) {
        let disk = ctx.disk();
        disk.append(storage::ACCEPTOR, record);
        if !self.has(PaxosBug::StateNotPersisted) {
            disk.sync();
        }
    }

    fn persist_compacted(&mut self, ctx: &mut Ctx<'_, Paxos>) {
        let snapshot = self.snapshot.as_ref().expect("a snapshot to persist");
        let record = storage::snapshot_record(snapshot);
        let file = storage::acceptor_file(snapshot.slot, self.promised, &self.accepted);
        let disk = ctx.disk();
        disk.write(storage::SNAPSHOT, record);
        disk.write(storage::ACCEPTOR, file);
        disk.sync();
    }

    /// Reads the disk back after a restart. Failed reads are retried later;
    /// damage makes the node refuse to serve.
    fn recover(&mut self, ctx: &mut Ctx<'_, Paxos>) {
        let files = [storage::ACCEPTOR, storage::SNAPSHOT];
        let Some(contents) = durable::read_files(ctx, &files, PaxosPoint::DiskReadRetried) else {
            ctx.sometimes(PaxosPoint::DiskReadDeferred);
            let retry = Duration::from_millis(10);
            ctx.set_timer(retry, Duration(2 * retry.0), PaxosTimer::ReadDisk);
            return;
        };
        match storage::load(&contents[0], &contents[1]) {
            Err(reason) => {
                ctx.sometimes(PaxosPoint::CorruptionDetected);
                self.damaged = Some(reason);
            }
            Ok(durable) => {
                let last_accepted = durable.accepted.values().map(|(ballot, _)| *ballot).max();
                if durable.promised > last_accepted.unwrap_or(Ballot::ZERO)
                    && durable.promised.node != ctx.id() as u32
                {
                    // It promised a proposer and crashed before that proposer's
                    // accepts: the promise must hold across the restart.
                    ctx.sometimes(PaxosPoint::RestartedBetweenPromiseAndAccept);
                }
                self.promised = durable.promised;
                self.seen_round = durable.promised.round;
                self.accepted = durable.accepted;
                if let Some(snapshot) = durable.snapshot {
                    self.machine =
                        MachineState::decode(&snapshot.data).expect("checked by storage::load");
                    self.applied = snapshot.slot;
                    self.log_base = snapshot.slot;
                    self.next_slot = snapshot.slot + 1;
                    self.records.push(Record::Restored {
                        slot: snapshot.slot,
                        digest: self.machine.digest,
                    });
                    self.snapshot = Some(snapshot);
                    ctx.sometimes(PaxosPoint::RestartedFromSnapshot);
                }
                if !self.accepted.is_empty() || self.promised > Ballot::ZERO {
                    ctx.sometimes(PaxosPoint::RestartedWithVotes);
                }
                self.start(ctx);
            }
        }
    }

    fn start(&mut self, ctx: &mut Ctx<'_, Paxos>) {
        self.ready = true;
        if self.settings.leader {
            self.reset_election_timer(ctx);
        } else {
            self.start_tick(ctx);
        }
    }

    // ----- Helpers -----

    fn reply(&mut self, ctx: &mut Ctx<'_, Paxos>, client: ProcessId, seq: u64, outcome: KvOutcome) {
        ctx.send(client, PaxosMsg::Reply(KvReply { seq, outcome }));
    }

    fn broadcast(&mut self, ctx: &mut Ctx<'_, Paxos>, msg: PaxosMsg) {
        for peer in 0..ctx.nodes() {
            if peer != ctx.id() {
                ctx.send(peer, msg.clone());
            }
        }
    }

    fn reset_election_timer(&mut self, ctx: &mut Ctx<'_, Paxos>) {
        if let Some(timer) = self.election_timer.take() {
            ctx.cancel_timer(timer);
        }
        let range = self.settings.election;
        self.election_timer = Some(ctx.set_timer(range.min, range.max, PaxosTimer::Election));
    }

    /// Leaderless back-off: try again after a random wait up to the election
    /// timeout (or at once, without back-off).
    fn back_off(&mut self, ctx: &mut Ctx<'_, Paxos>) {
        if let Some(timer) = self.election_timer.take() {
            ctx.cancel_timer(timer);
        }
        if self.settings.backoff {
            let max = self.settings.election.max;
            self.election_timer =
                Some(ctx.set_timer(Duration(max.0 / 10), max, PaxosTimer::Election));
        } else {
            self.campaign(ctx);
        }
    }

    fn start_tick(&mut self, ctx: &mut Ctx<'_, Paxos>) {
        if self.tick_timer.is_none() {
            let interval = self.settings.heartbeat;
            self.tick_timer = Some(ctx.set_timer(interval, interval, PaxosTimer::Tick));
        }
    }

    fn observe(&mut self, ballot: Ballot) {
        self.seen_round = self.seen_round.max(ballot.round);
    }

    /// A ballot above every one seen, unique to this node.
    fn next_ballot(&self, ctx: &Ctx<'_, Paxos>) -> Ballot {
        let round = self
            .seen_round
            .max(self.promised.round)
            .max(self.ballot.round)
            + 1;
        let node = if self.has(PaxosBug::BallotNotUnique) {
            0
        } else {
            ctx.id() as u32
        };
        Ballot { round, node }
    }

    /// Stops proposing (a higher ballot was seen). In leaderless mode the
    /// commands still in flight go back to the queue, to be tried again.
    fn step_down(&mut self, ctx: &mut Ctx<'_, Paxos>) {
        if self.phase == Phase::Idle {
            return;
        }
        if self.phase == Phase::Leading {
            ctx.sometimes(PaxosPoint::LeaderPreempted);
        } else {
            ctx.sometimes(PaxosPoint::PreparePreempted);
        }
        self.phase = Phase::Idle;
        self.promises.clear();
        let in_flight = std::mem::take(&mut self.in_flight);
        if self.settings.leader {
            if let Some(timer) = self.tick_timer.take() {
                ctx.cancel_timer(timer);
            }
            if self.leader == Some(ctx.id()) {
                self.leader = None;
            }
            // Clients retry with whoever leads next.
            self.queued.clear();
            self.reset_election_timer(ctx);
        } else {
            for (slot, _) in in_flight {
                if let Some(request) = self.pending.remove(&slot) {
                    self.queued.push_back(request);
                }
            }
            if !self.queued.is_empty() {
                self.back_off(ctx);
            }
        }
    }

    // ----- Phase 1 -----

    /// Starts phase 1 with a new ballot.
    fn campaign(&mut self, ctx: &mut Ctx<'_, Paxos>) {
        self.step_down(ctx);
        let ballot = self.next_ballot(ctx);
        self.ballot = ballot;
        self.observe(ballot);
        // Promise to ourselves first, on disk: a restarted proposer then never
        // reuses this ballot.
        if ballot > self.promised {
            self.promised = ballot;
            let record = storage::promise_record(ballot);
            self.persist(ctx, record);
        }
        self.phase = Phase::Preparing;
        self.from_slot = self.applied + 1;
        if self.settings.leader {
            self.leader = None;
        }
        let own = self.promise_for(self.from_slot);
        self.promises = BTreeMap::from([(ctx.id(), own)]);
        // A campaign that stalls (lost prepares or promises) starts over.
        self.reset_election_timer(ctx);
        let msg = PaxosMsg::Prepare {
            ballot,
            from_slot: self.from_slot,
        };
        self.broadcast(ctx, msg);
        if self.promises.len() >= majority(ctx.nodes()) {
            self.lead(ctx);
        }
    }

    fn promise_for(&self, from_slot: u64) -> Promised {
        let snapshot = self
            .snapshot
            .clone()
            .filter(|snapshot| snapshot.slot >= from_slot);
        let from = snapshot
            .as_ref()
            .map_or(from_slot, |snapshot| snapshot.slot + 1);
        Promised {
            accepted: storage::proposals(&self.accepted, from),
            snapshot,
        }
    }

    fn on_prepare(
        &mut self,
        ctx: &mut Ctx<'_, Paxos>,
        from: ProcessId,
        ballot: Ballot,
        from_slot: u64,
    ) {
        self.observe(ballot);
        if ballot < self.promised {
            let promised = self.promised;
            return ctx.send(from, PaxosMsg::Nack { ballot, promised });
        }
        if ballot > self.promised && self.sticky(ctx, from) {
            // A live leader: a proposer that merely missed some heartbeats must
            // not depose it (refusing a promise is always safe).
            ctx.sometimes(PaxosPoint::PrepareRefusedLeaderAlive);
            let promised = self.promised;
            return ctx.send(from, PaxosMsg::Nack { ballot, promised });
        }
        if ballot > self.promised {
            self.promised = ballot;
            let record = storage::promise_record(ballot);
            self.persist(ctx, record);
        }
        if self.phase != Phase::Idle && ballot > self.ballot {
            self.step_down(ctx);
        }
        if self.settings.leader {
            // Someone is campaigning: give them time before campaigning too.
            self.leader = None;
            self.reset_election_timer(ctx);
        }
        let promised = self.promise_for(from_slot);
        let msg = PaxosMsg::Promise {
            ballot,
            accepted: promised.accepted,
            snapshot: promised.snapshot,
        };
        ctx.send(from, msg);
    }

    fn on_promise(
        &mut self,
        ctx: &mut Ctx<'_, Paxos>,
        from: ProcessId,
        ballot: Ballot,
        accepted: Vec<Proposal>,
        snapshot: Option<Snapshot>,
    ) {
        if self.phase != Phase::Preparing || ballot != self.ballot {
            return;
        }
        self.promises.insert(from, Promised { accepted, snapshot });
        if self.promises.len() >= majority(ctx.nodes()) {
            self.lead(ctx);
        }
    }

    /// Phase 1 succeeded: recover the slots in flight, then propose the queue.
    fn lead(&mut self, ctx: &mut Ctx<'_, Paxos>) {
        let promises = std::mem::take(&mut self.promises);
        // A promise whose acceptor compacted slots we lack carries its
        // snapshot: install the newest, those slots are settled.
        let newest = promises
            .values()
            .filter_map(|promise| promise.snapshot.as_ref())
            .max_by_key(|snapshot| snapshot.slot);
        if let Some(snapshot) = newest
            && snapshot.slot > self.applied
        {
            let snapshot = snapshot.clone();
            ctx.sometimes(PaxosPoint::SnapshotFromPromise);
            self.install(ctx, snapshot);
        }
        let start = self.from_slot.max(self.applied + 1);
        // The highest-ballot value reported for each slot.
        let mut values: BTreeMap<u64, (Ballot, Rc<Command>)> = BTreeMap::new();
        for proposal in promises.values().flat_map(|promise| &promise.accepted) {
            if proposal.slot < start {
                continue;
            }
            let known = values.get(&proposal.slot).map(|(ballot, _)| *ballot);
            if known.is_none_or(|ballot| proposal.ballot > ballot) {
                values.insert(proposal.slot, (proposal.ballot, proposal.command.clone()));
            }
        }
        let top = values.keys().next_back().copied().unwrap_or(start - 1);
        let top = top.max(self.chosen.keys().next_back().copied().unwrap_or(0));
        self.phase = Phase::Leading;
        if self.settings.leader {
            self.leader = Some(ctx.id());
            if let Some(timer) = self.election_timer.take() {
                ctx.cancel_timer(timer);
            }
            ctx.sometimes(PaxosPoint::LeaderElected);
        }
        self.in_flight.clear();
        self.next_slot = top + 1;
        if self.has(PaxosBug::SkipRecovery) {
            ctx.sometimes(PaxosPoint::RecoverySkipped);
        } else {
            for slot in start..=top {
                let command = if let Some(command) = self.chosen.get(&slot) {
                    // Known chosen: the only value any proposer may propose there.
                    command.clone()
                } else if self.has(PaxosBug::IgnoreAcceptedValues) {
                    match self.queued.pop_front() {
                        Some(request) => {
                            let command = Rc::new(Command::Kv(request.command.clone()));
                            self.pending.insert(slot, request);
                            command
                        }
                        None => Rc::new(Command::Noop),
                    }
                } else if let Some((_, command)) = values.get(&slot) {
                    ctx.sometimes(PaxosPoint::RecoveredAcceptedValue);
                    command.clone()
                } else {
                    ctx.sometimes(PaxosPoint::GapFilledWithNoop);
                    Rc::new(Command::Noop)
                };
                self.propose(ctx, slot, command);
            }
        }
        self.start_tick(ctx);
        if self.settings.leader {
            self.heartbeat(ctx);
        }
        self.drain(ctx);
        self.settle();
    }

    // ----- Phase 2 -----

    /// Proposes `command` in `slot` under the current ballot: accepts it
    /// locally and asks every other acceptor.
    fn propose(&mut self, ctx: &mut Ctx<'_, Paxos>, slot: u64, command: Rc<Command>) {
        self.next_slot = self.next_slot.max(slot + 1);
        let ballot = self.ballot;
        self.in_flight.insert(
            slot,
            InFlight {
                command: command.clone(),
                acks: 0,
                sent_at: ctx.now(),
            },
        );
        if self.accept_locally(ctx, ballot, slot, &command) {
            self.acknowledge(ctx, ctx.id(), ballot, slot);
        }
        let msg = PaxosMsg::Accept {
            ballot,
            slot,
            command,
        };
        self.broadcast(ctx, msg);
    }

    /// The acceptor's phase 2b. Returns whether it accepted.
    fn accept_locally(
        &mut self,
        ctx: &mut Ctx<'_, Paxos>,
        ballot: Ballot,
        slot: u64,
        command: &Rc<Command>,
    ) -> bool {
        if ballot < self.promised {
            if !self.has(PaxosBug::AcceptLowerBallot) {
                return false;
            }
            ctx.sometimes(PaxosPoint::AcceptedBelowPromise);
        }
        self.promised = self.promised.max(ballot);
        let record = storage::accept_record(slot, ballot, command);
        self.persist(ctx, record);
        self.accepted.insert(slot, (ballot, command.clone()));
        self.records.push(Record::Accepted {
            slot,
            ballot,
            command: command.clone(),
        });
        true
    }

    fn on_accept(
        &mut self,
        ctx: &mut Ctx<'_, Paxos>,
        from: ProcessId,
        ballot: Ballot,
        slot: u64,
        command: Rc<Command>,
    ) {
        self.observe(ballot);
        if slot <= self.log_base {
            // Chosen, applied and compacted here: the proposer is behind.
            ctx.sometimes(PaxosPoint::AcceptForCompactedSlot);
            let applied = self.applied;
            return ctx.send(from, PaxosMsg::Status { applied });
        }
        if !self.accept_locally(ctx, ballot, slot, &command) {
            let promised = self.promised;
            return ctx.send(from, PaxosMsg::Nack { ballot, promised });
        }
        if self.phase != Phase::Idle && ballot > self.ballot {
            self.step_down(ctx);
        }
        if self.settings.leader && ballot >= self.promised {
            self.leader = Some(from);
            self.leader_heard = Some(ctx.now());
            self.reset_election_timer(ctx);
        }
        ctx.send(from, PaxosMsg::Accepted { ballot, slot });
    }

    fn acknowledge(
        &mut self,
        ctx: &mut Ctx<'_, Paxos>,
        from: ProcessId,
        ballot: Ballot,
        slot: u64,
    ) {
        if self.phase != Phase::Leading || ballot != self.ballot {
            return;
        }
        let Some(proposal) = self.in_flight.get_mut(&slot) else {
            return;
        };
        proposal.acks |= 1 << from;
        let needed = if self.settings.bugs.contains(&PaxosBug::LearnWithoutMajority) {
            1
        } else {
            majority(ctx.nodes())
        };
        if proposal.acks.count_ones() as usize >= needed {
            let proposal = self.in_flight.remove(&slot).expect("present");
            let msg = PaxosMsg::Learn {
                snapshot: None,
                from: slot,
                commands: vec![proposal.command.clone()],
            };
            self.broadcast(ctx, msg);
            self.learn(ctx, slot, proposal.command);
        }
    }

    /// Leader mode: whether a prepare from `from` is refused because this node
    /// leads, or heard from a leader other than `from` within the shortest
    /// election timeout.
    fn sticky(&self, ctx: &Ctx<'_, Paxos>, from: ProcessId) -> bool {
        if !self.settings.leader {
            return false;
        }
        if self.phase == Phase::Leading {
            return true;
        }
        let recent = self
            .leader_heard
            .is_some_and(|heard| ctx.now() < heard + self.settings.election.min.0);
        recent
            && self
                .leader
                .is_some_and(|leader| leader != from && leader != ctx.id())
    }

    fn on_nack(&mut self, ctx: &mut Ctx<'_, Paxos>, ballot: Ballot, promised: Ballot) {
        self.observe(promised);
        if self.phase == Phase::Idle || ballot != self.ballot || promised <= self.ballot {
            return;
        }
        if self.settings.leader && self.phase == Phase::Leading {
            // An acceptor promised a proposer whose campaign the others refused
            // (they hear from us): lead on under a ballot above its promise
            // rather than hand over. A real successor's heartbeats would have
            // made us step down already.
            ctx.sometimes(PaxosPoint::LeaderReasserted);
            return self.campaign(ctx);
        }
        self.step_down(ctx);
    }

    // ----- Leading -----

    fn heartbeat(&mut self, ctx: &mut Ctx<'_, Paxos>) {
        let msg = PaxosMsg::Heartbeat {
            ballot: self.ballot,
            applied: self.applied,
        };
        self.broadcast(ctx, msg);
    }

    fn on_tick(&mut self, ctx: &mut Ctx<'_, Paxos>) {
        self.tick_timer = None;
        if !self.serving() {
            return;
        }
        if self.settings.leader {
            if self.phase != Phase::Leading {
                return;
            }
            self.heartbeat(ctx);
        } else {
            let applied = self.applied;
            self.broadcast(ctx, PaxosMsg::Status { applied });
        }
        self.start_tick(ctx);
        // Resend proposals nobody answered for a heartbeat interval.
        if self.phase != Phase::Leading {
            return;
        }
        let now = ctx.now();
        let stale = now.saturating_sub(self.settings.heartbeat.0);
        let ballot = self.ballot;
        let resend: Vec<(u64, u64, Rc<Command>)> = self
            .in_flight
            .iter_mut()
            .filter(|(_, proposal)| proposal.sent_at <= stale)
            .take(self.settings.max_batch)
            .map(|(slot, proposal)| {
                proposal.sent_at = now;
                (*slot, proposal.acks, proposal.command.clone())
            })
            .collect();
        for (slot, acks, command) in resend {
            ctx.sometimes(PaxosPoint::AcceptResent);
            for peer in 0..ctx.nodes() {
                if peer != ctx.id() && acks & (1 << peer) == 0 {
                    let msg = PaxosMsg::Accept {
                        ballot,
                        slot,
                        command: command.clone(),
                    };
                    ctx.send(peer, msg);
                }
            }
        }
    }

    fn on_heartbeat(
        &mut self,
        ctx: &mut Ctx<'_, Paxos>,
        from: ProcessId,
        ballot: Ballot,
        applied: u64,
    ) {
        self.observe(ballot);
        if ballot < self.promised {
            let promised = self.promised;
            return ctx.send(from, PaxosMsg::Nack { ballot, promised });
        }
        if self.phase != Phase::Idle && ballot > self.ballot {
            self.step_down(ctx);
        }
        if self.settings.leader && self.phase == Phase::Idle {
            self.leader = Some(from);
            self.leader_heard = Some(ctx.now());
            self.reset_election_timer(ctx);
        }
        self.catch_up(ctx, from, applied);
    }

    /// Asks `from`, which has applied up to `applied`, for what we lack (at
    /// most once per heartbeat interval).
    fn catch_up(&mut self, ctx: &mut Ctx<'_, Paxos>, from: ProcessId, applied: u64) {
        if applied <= self.applied {
            return;
        }
        let now = ctx.now();
        if self
            .last_catchup
            .is_some_and(|last| now < last + self.settings.heartbeat.0)
        {
            return;
        }
        self.last_catchup = Some(now);
        ctx.sometimes(PaxosPoint::LearnerCaughtUp);
        let from_slot = self.applied + 1;
        ctx.send(from, PaxosMsg::Catchup { from: from_slot });
    }

    fn on_catchup(&mut self, ctx: &mut Ctx<'_, Paxos>, to: ProcessId, from: u64) {
        if from > self.applied {
            return;
        }
        let (snapshot, first) = if from <= self.log_base {
            ctx.sometimes(PaxosPoint::SnapshotSent);
            (self.snapshot.clone(), self.log_base + 1)
        } else {
            (None, from)
        };
        let start = (first - self.log_base - 1) as usize;
        let end = (start + self.settings.max_batch).min(self.log.len());
        let commands = self.log[start..end].to_vec();
        let msg = PaxosMsg::Learn {
            snapshot,
            from: first,
            commands,
        };
        ctx.send(to, msg);
    }

    // ----- Learning and applying -----

    fn on_learn(
        &mut self,
        ctx: &mut Ctx<'_, Paxos>,
        snapshot: Option<Snapshot>,
        from: u64,
        commands: Vec<Rc<Command>>,
    ) {
        if let Some(snapshot) = snapshot
            && snapshot.slot > self.applied
        {
            ctx.sometimes(PaxosPoint::SnapshotInstalled);
            self.install(ctx, snapshot);
        }
        for (offset, command) in commands.into_iter().enumerate() {
            self.learn(ctx, from + offset as u64, command);
        }
        // Requests the snapshot overtook went back to the queue.
        self.drain(ctx);
    }

    /// `command` is chosen in `slot`: apply it, and whatever waited for it.
    fn learn(&mut self, ctx: &mut Ctx<'_, Paxos>, slot: u64, command: Rc<Command>) {
        if slot <= self.applied {
            return;
        }
        if slot > self.applied + 1 {
            ctx.sometimes(PaxosPoint::LearnedOutOfOrder);
        }
        self.chosen.insert(slot, command);
        while let Some(command) = self.chosen.remove(&(self.applied + 1)) {
            self.apply(ctx, command);
        }
        self.maybe_snapshot(ctx);
        self.settle();
        self.drain(ctx);
    }

    fn apply(&mut self, ctx: &mut Ctx<'_, Paxos>, command: Rc<Command>) {
        let slot = self.applied + 1;
        self.applied = slot;
        self.next_slot = self.next_slot.max(slot + 1);
        self.in_flight.remove(&slot);
        self.machine.digest = StableHasher::hash_of(&(self.machine.digest, slot, &*command));
        self.records.push(Record::Applied {
            slot,
            command: command.clone(),
            digest: self.machine.digest,
        });
        self.log.push(command.clone());
        let request = self.pending.remove(&slot);
        let Command::Kv(applied) = &*command else {
            if let Some(request) = request {
                self.requeue(ctx, request);
            }
            return;
        };
        let result = self.machine.store.apply(applied);
        let Some(request) = request else {
            return;
        };
        if (request.command.client, request.command.seq) == (applied.client, applied.seq) {
            if result != KvResult::Stale {
                let seq = applied.seq;
                self.reply(ctx, request.client, seq, KvOutcome::Done(result));
            }
        } else {
            self.requeue(ctx, request);
        }
    }

    /// A request we proposed lost its slot to another value: try again in a
    /// later slot, unless it was applied elsewhere meanwhile.
    fn requeue(&mut self, ctx: &mut Ctx<'_, Paxos>, request: Queued) {
        let command = &request.command;
        if let Some(result) = self.machine.store.answered(command.client, command.seq) {
            let outcome = KvOutcome::Done(result.clone());
            let seq = command.seq;
            return self.reply(ctx, request.client, seq, outcome);
        }
        ctx.sometimes(PaxosPoint::RequestLostItsSlot);
        self.queued.push_back(request);
    }

    fn maybe_snapshot(&mut self, ctx: &mut Ctx<'_, Paxos>) {
        let every = self.settings.snapshot_every;
        if every == 0 || self.applied < self.log_base + every {
            return;
        }
        let slot = self.applied;
        self.snapshot = Some(Snapshot {
            slot,
            data: self.machine.encode(),
        });
        self.log.clear();
        self.log_base = slot;
        self.accepted = self.accepted.split_off(&(slot + 1));
        self.persist_compacted(ctx);
        ctx.sometimes(PaxosPoint::SnapshotTaken);
    }

    /// Replaces the state machine by `snapshot` (newer than what we applied).
    fn install(&mut self, ctx: &mut Ctx<'_, Paxos>, snapshot: Snapshot) {
        let slot = snapshot.slot;
        self.machine =
            MachineState::decode(&snapshot.data).expect("nodes send well-formed snapshots");
        self.applied = slot;
        self.log.clear();
        self.log_base = slot;
        self.next_slot = self.next_slot.max(slot + 1);
        self.chosen = self.chosen.split_off(&(slot + 1));
        self.in_flight = self.in_flight.split_off(&(slot + 1));
        let after = self.pending.split_off(&(slot + 1));
        let before = std::mem::replace(&mut self.pending, after);
        self.accepted = self.accepted.split_off(&(slot + 1));
        self.records.push(Record::Restored {
            slot,
            digest: self.machine.digest,
        });
        self.snapshot = Some(snapshot);
        self.persist_compacted(ctx);
        for (_, request) in before {
            self.requeue(ctx, request);
        }
    }

    /// Leaderless: a proposer whose proposals are all chosen goes idle, so its
    /// next command runs both phases again.
    fn settle(&mut self) {
        if !self.settings.leader
            && self.phase == Phase::Leading
            && self.in_flight.is_empty()
            && self.queued.is_empty()
        {
            self.phase = Phase::Idle;
        }
    }

    /// Proposes queued requests if leading; leaderless, starts phase 1 for them.
    fn drain(&mut self, ctx: &mut Ctx<'_, Paxos>) {
        if self.queued.is_empty() {
            return;
        }
        match self.phase {
            Phase::Leading => {
                // Leaderless, one slot at a time, as in single-decree Paxos: the
                // next command waits until the last is chosen.
                while self.phase == Phase::Leading
                    && (self.settings.leader || self.in_flight.is_empty())
                {
                    let Some(request) = self.queued.pop_front() else {
                        break;
                    };
                    self.submit(ctx, request);
                }
            }
            Phase::Preparing => {}
            Phase::Idle => {
                if self.settings.leader {
                    let hint = self.leader;
                    for request in std::mem::take(&mut self.queued) {
                        let seq = request.command.seq;
                        self.reply(ctx, request.client, seq, KvOutcome::NotLeader(hint));
                    }
                } else if self.election_timer.is_none() {
                    self.campaign(ctx);
                }
            }
        }
    }

    /// Leading: proposes a request in the next free slot, unless it was already
    /// applied (answer from the session) or is already in flight.
    fn submit(&mut self, ctx: &mut Ctx<'_, Paxos>, request: Queued) {
        let command = &request.command;
        if let Some(result) = self.machine.store.answered(command.client, command.seq) {
            ctx.sometimes(PaxosPoint::RetryAnsweredFromSession);
            let outcome = KvOutcome::Done(result.clone());
            let seq = command.seq;
            return self.reply(ctx, request.client, seq, outcome);
        }
        let key = (command.client, command.seq);
        let in_flight = self.pending.iter().find(|(slot, pending)| {
            (pending.command.client, pending.command.seq) == key
                && self.in_flight.contains_key(slot)
        });
        if in_flight.is_some() {
            return; // answered when its slot is applied
        }
        let slot = self.next_slot;
        let value = Rc::new(Command::Kv(request.command.clone()));
        self.pending.insert(slot, request);
        self.propose(ctx, slot, value);
    }

    fn on_request(&mut self, ctx: &mut Ctx<'_, Paxos>, client: ProcessId, command: KvCommand) {
        if !self.serving() {
            return self.reply(ctx, client, command.seq, KvOutcome::NotLeader(None));
        }
        if self.settings.leader && self.phase == Phase::Idle {
            let hint = self.leader.filter(|&leader| leader != ctx.id());
            return self.reply(ctx, client, command.seq, KvOutcome::NotLeader(hint));
        }
        let request = Queued { client, command };
        let duplicate = self.queued.iter().any(|queued| {
            (queued.command.client, queued.command.seq)
                == (request.command.client, request.command.seq)
        });
        if !duplicate {
            self.queued.push_back(request);
        }
        self.drain(ctx);
    }
}

impl Node<Paxos> for PaxosNode {
    fn on_start(&mut self, ctx: &mut Ctx<'_, Paxos>) {
        self.begin();
        self.start(ctx);
    }

    fn on_restart(&mut self, ctx: &mut Ctx<'_, Paxos>) {
        self.begin();
        self.recover(ctx);
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Paxos>, from: ProcessId, msg: PaxosMsg) {
        self.begin();
        if from >= ctx.nodes() {
            match msg {
                PaxosMsg::Request { seq, op } => {
                    let command = KvCommand {
                        client: from as u32,
                        seq,
                        op,
                    };
                    self.on_request(ctx, from, command);
                }
                other => panic!("node got {other:?} from a client"),
            }
            return;
        }
        if !self.serving() {
            return; // not read its disk yet, or refuses to serve
        }
        match msg {
            PaxosMsg::Prepare { ballot, from_slot } => {
                self.on_prepare(ctx, from, ballot, from_slot)
            }
            PaxosMsg::Promise {
                ballot,
                accepted,
                snapshot,
            } => self.on_promise(ctx, from, ballot, accepted, snapshot),
            PaxosMsg::Accept {
                ballot,
                slot,
                command,
            } => self.on_accept(ctx, from, ballot, slot, command),
            PaxosMsg::Accepted { ballot, slot } => self.acknowledge(ctx, from, ballot, slot),
            PaxosMsg::Nack { ballot, promised } => self.on_nack(ctx, ballot, promised),
            PaxosMsg::Heartbeat { ballot, applied } => {
                self.on_heartbeat(ctx, from, ballot, applied)
            }
            PaxosMsg::Status { applied } => self.catch_up(ctx, from, applied),
            PaxosMsg::Catchup { from: slot } => self.on_catchup(ctx, from, slot),
            PaxosMsg::Learn {
                snapshot,
                from: slot,
                commands,
            } => self.on_learn(ctx, snapshot, slot, commands),
            other => panic!("node got {other:?} from node {from}"),
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Paxos>, timer: PaxosTimer) {
        self.begin();
        match timer {
            PaxosTimer::ReadDisk => self.recover(ctx),
            PaxosTimer::Tick => self.on_tick(ctx),
            PaxosTimer::Election => {
                self.election_timer = None;
                if !self.serving() {
                    return;
                }
                if self.settings.leader {
                    if self.phase != Phase::Leading {
                        self.campaign(ctx);
                    }
                } else if !self.queued.is_empty() || self.phase == Phase::Preparing {
                    self.campaign(ctx);
                }
            }
            PaxosTimer::Client(timer) => panic!("node got client timer {timer:?}"),
        }
    }

    fn status(&self) -> Status {
        let role = match self.phase {
            Phase::Leading => Role::Leader,
            Phase::Preparing => Role::Candidate,
            Phase::Idle => Role::Follower,
        };
        Status {
            role,
            term: self.promised.round,
        }
    }
}
