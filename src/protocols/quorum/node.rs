//! A quorum store node: replica, stand-in and coordinator at once (see the
//! module documentation of [`super`] for the protocol).

use super::membership::{self, Command, Standing, View};
use super::merkle::{LeafHash, Merkle, leaf_of};
use super::ring::NodeId;
use super::store::{Store, Unreadable};
use super::version::{Stamp, VectorClock};
use super::{
    Held, HintId, Lists, Quorum, QuorumBug, QuorumMsg, QuorumPoint, QuorumTimer, ReadRepair,
    Settings, Versioning, Versions,
};
use crate::sim::time::Duration;
use crate::sim::{Admin, Ctx, Node, ProcessId};
use rand::Rng as _;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

/// What a client asked a coordinator for.
#[derive(Clone, Debug)]
enum Request {
    Get,
    Put { value: i64, context: VectorClock },
}

/// Where a coordinated operation is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Asking replicas what they hold (a get; a last-write-wins put's stamp).
    Read,
    /// Writing (a put; a get's synchronous read repair).
    Write,
    /// Answered; kept until the deadline to repair late repliers.
    Done,
}

#[derive(Clone, Debug)]
struct Operation {
    client: ProcessId,
    seq: u64,
    key: u64,
    request: Request,
    phase: Phase,
    /// Read replies that count, by node.
    replies: BTreeMap<NodeId, Versions>,
    /// The merged versions read (a get), or the version being written.
    versions: Versions,
    /// Nodes that acknowledged the write (or already held it).
    acks: BTreeSet<NodeId>,
    /// Nodes asked, replicas and stand-ins.
    asked: BTreeSet<NodeId>,
    /// Stand-ins asked, and the replica each stands in for.
    stand_ins: BTreeMap<NodeId, NodeId>,
    /// Where the coordinator's view placed the key when the phase began.
    lists: Lists,
}

/// A damaged key's repair: the peers that answered, and what they hold.
#[derive(Clone, Debug, Default)]
struct Repair {
    op: u64,
    /// Peers that answered with their versions.
    answered: BTreeSet<NodeId>,
    /// Peers that answered that their own record is damaged too.
    damaged: BTreeSet<NodeId>,
    peers: usize,
    merged: Versions,
    lists: Option<Lists>,
}

/// A membership change this node is carrying out (see [`membership`]).
#[derive(Clone, Debug)]
struct Change {
    /// This node's generation the change is at.
    generation: u64,
    stage: Stage,
    /// Peers that made the current announcement durable.
    acked: BTreeSet<NodeId>,
    /// Streaming: each key that moves, and how far it got.
    moves: BTreeMap<u64, Move>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    /// Announcing `joining` or `leaving`, until every peer holds it.
    Announce,
    /// Streaming the keys that move.
    Stream,
    /// Announcing the final standing.
    Settle,
}

/// One key's streaming: read it from the old replicas, write it to those
/// that gain it.
#[derive(Clone, Debug)]
struct Move {
    op: u64,
    old: Vec<NodeId>,
    gainers: Vec<NodeId>,
    replied: BTreeSet<NodeId>,
    merged: Versions,
    writing: bool,
    acks: BTreeSet<NodeId>,
}

/// A quorum store node.
#[derive(Clone, Debug)]
pub struct QuorumNode {
    settings: Rc<Settings>,
    /// `None` until the disk has been read back after a restart.
    store: Option<Store>,
    operations: BTreeMap<u64, Operation>,
    repairs: BTreeMap<u64, Repair>,
    /// The peer anti-entropy runs with next.
    next_peer: usize,
    /// Hints this node applied as a replica, and gave up as a stand-in.
    handed_off: u64,
    /// Each client's latest operation this node coordinated: a request the
    /// network duplicated is not run twice (a put run again later would
    /// write again, over writes that came after it).
    latest: BTreeMap<ProcessId, u64>,
    /// What this node knows of the membership, and where it places keys.
    view: View,
    lists: Lists,
    /// Whether `view` changed since it was last made durable.
    view_dirty: bool,
    change: Option<Change>,
}

impl QuorumNode {
    /// A node of a run with these settings.
    pub fn new(settings: Rc<Settings>) -> Self {
        let view = settings.initial_view();
        let lists = settings.lists(&view);
        QuorumNode {
            view,
            lists,
            view_dirty: false,
            change: None,
            settings,
            store: None,
            operations: BTreeMap::new(),
            repairs: BTreeMap::new(),
            next_peer: 0,
            handed_off: 0,
            latest: BTreeMap::new(),
        }
    }

    /// Its storage, once read back.
    pub fn store(&self) -> Option<&Store> {
        self.store.as_ref()
    }

    /// What it knows of the membership.
    pub fn view(&self) -> &View {
        &self.view
    }

    /// Whether it is carrying out a membership change of its own.
    pub fn changing(&self) -> bool {
        self.change.is_some()
    }

    fn config(&self) -> &super::QuorumConfig {
        &self.settings.config
    }

    /// The keys this node replicates.
    fn own_keys(&self, id: NodeId) -> Vec<u64> {
        (0..self.config().keys)
            .filter(|&key| self.lists.is_replica(key, id))
            .collect()
    }

    fn boot(&mut self, ctx: &mut Ctx<'_, Quorum>) {
        let initial = self.settings.initial_view();
        let loaded = membership::load(ctx, &initial)
            .and_then(|loaded| Some((loaded, membership::deferred(ctx)?)));
        let recovered = loaded.and_then(|((view, damaged), commands)| {
            self.view = view;
            self.lists = self.settings.lists(&self.view);
            let keys = self.own_keys(ctx.id());
            let format = self.config().format();
            let volatile = self.config().has(QuorumBug::HintDroppedOnRestart);
            Some((
                Store::recover(ctx, format, volatile, keys)?,
                damaged,
                commands,
            ))
        });
        match recovered {
            Some((store, damaged, commands)) => {
                self.store = Some(store);
                if damaged {
                    self.persist(ctx);
                }
                if self.view != initial {
                    self.resume_change(ctx);
                }
                if !commands.is_empty() {
                    for command in commands {
                        self.command(ctx, command);
                    }
                    membership::clear_deferred(ctx);
                }
                let handoff = self.config().handoff_interval;
                ctx.set_timer(handoff, handoff, QuorumTimer::Handoff);
                let every = self.config().anti_entropy_interval;
                if every.0 > 0 {
                    ctx.set_timer(every, Duration(2 * every.0), QuorumTimer::AntiEntropy);
                }
                let nodes = ctx.nodes();
                self.next_peer = ctx.rng().gen_range(0..nodes);
            }
            None => {
                let retry = Duration::from_millis(10);
                ctx.set_timer(retry, retry, QuorumTimer::Recover);
            }
        }
    }

    // ----- coordinator -----

    fn begin(
        &mut self,
        ctx: &mut Ctx<'_, Quorum>,
        client: ProcessId,
        seq: u64,
        key: u64,
        request: Request,
    ) {
        if key >= self.config().keys || self.latest.get(&client).is_some_and(|&last| last >= seq) {
            return;
        }
        self.latest.insert(client, seq);
        let op = ctx.rng().r#gen::<u64>();
        let config = self.config();
        let stamp_first = matches!(request, Request::Put { .. })
            && config.versioning == Versioning::Lww
            && !config.has(QuorumBug::LwwWallClock);
        let mut operation = Operation {
            client,
            seq,
            key,
            request,
            phase: Phase::Read,
            replies: BTreeMap::new(),
            versions: Versions::Empty,
            acks: BTreeSet::new(),
            asked: BTreeSet::new(),
            stand_ins: BTreeMap::new(),
            lists: self.lists.clone(),
        };
        let replicas = operation.lists.replicas(key);
        match &operation.request {
            Request::Get => {}
            Request::Put { .. } if stamp_first => {}
            Request::Put { value, context } => {
                operation.versions = self.new_version(ctx, (client, seq), *value, context, None);
                operation.phase = Phase::Write;
            }
        }
        for &replica in &replicas {
            operation.asked.insert(replica);
            ctx.send(replica, self.phase_message(op, &operation, None));
        }
        let timeout = self.config().request_timeout;
        self.arm_sloppy(ctx, op);
        ctx.set_timer(timeout, timeout, QuorumTimer::Deadline(op));
        self.operations.insert(op, operation);
    }

    /// With stand-ins on, a phase that has not heard from enough replicas
    /// by `sloppy_after` turns to stand-ins (each phase waits afresh).
    fn arm_sloppy(&self, ctx: &mut Ctx<'_, Quorum>, op: u64) {
        if self.config().uses_stand_ins() {
            let after = self.config().sloppy_after;
            ctx.set_timer(after, after, QuorumTimer::Sloppy(op));
        }
    }

    /// The message an operation's phase sends (to a stand-in for `hint`).
    fn phase_message(&self, op: u64, operation: &Operation, hint: Option<NodeId>) -> QuorumMsg {
        match operation.phase {
            Phase::Read => QuorumMsg::Read {
                op,
                key: operation.key,
                view: self.view.clone(),
            },
            _ => QuorumMsg::Write {
                op,
                key: operation.key,
                versions: operation.versions.clone(),
                hint,
                repair: matches!(operation.request, Request::Get),
                view: self.view.clone(),
            },
        }
    }

    /// The version a put writes. Under vector clocks: the client's context
    /// with the client's own entry set to the operation's number (the client
    /// is the actor, so no two writes share a clock). Under last-write-wins:
    /// a stamp above `newest` and at or above this node's clock (the planted
    /// bug: the clock alone, `newest` never read).
    fn new_version(
        &self,
        ctx: &mut Ctx<'_, Quorum>,
        (client, seq): (ProcessId, u64),
        value: i64,
        context: &VectorClock,
        newest: Option<Stamp>,
    ) -> Versions {
        match self.config().versioning {
            Versioning::VectorClock => Versions::clocked(
                context.merged(&VectorClock::from_pairs([(client, seq)])),
                value,
            ),
            Versioning::Lww => {
                let clock = ctx.now();
                let mut time = clock;
                if let Some(newest) = newest
                    && newest.time >= clock
                {
                    time = newest.time + 1;
                    ctx.sometimes(QuorumPoint::StampAboveClock);
                }
                Versions::Lww {
                    stamp: Stamp {
                        time,
                        node: ctx.id(),
                    },
                    value,
                }
            }
        }
    }

    /// Whether a reply or acknowledgement from `from` counts toward the
    /// quorum: a replica's always, a stand-in's only with stand-ins on.
    fn counts(&self, operation: &Operation, from: NodeId) -> bool {
        operation.lists.is_replica(operation.key, from)
            || (operation.stand_ins.contains_key(&from) && self.config().uses_stand_ins())
    }

    /// Whether the nodes `heard` (stand-ins counted as the replicas they
    /// stand in for) make a quorum of `need` on each of the operation's
    /// placements.
    fn quorum(&self, operation: &Operation, heard: &BTreeSet<NodeId>, need: usize) -> bool {
        let heard: BTreeSet<NodeId> = heard
            .iter()
            .filter(|&&node| self.counts(operation, node))
            .map(|node| *operation.stand_ins.get(node).unwrap_or(node))
            .collect();
        operation.lists.satisfied(operation.key, &heard, need)
    }

    fn on_read_reply(&mut self, ctx: &mut Ctx<'_, Quorum>, from: NodeId, op: u64, held: Held) {
        let Some(operation) = self.operations.get(&op) else {
            return;
        };
        let Held::Versions(versions) = held else {
            return; // a damaged replica counts for nothing
        };
        if !operation.asked.contains(&from) || !self.counts(operation, from) {
            return;
        }
        let (r, w, read_repair) = (self.config().r, self.config().w, self.config().read_repair);
        let repair_sync =
            read_repair == ReadRepair::Sync && !self.config().has(QuorumBug::ReadRepairAsync);
        let operation = self.operations.get_mut(&op).expect("looked up");
        match operation.phase {
            Phase::Read => {
                operation.replies.insert(from, versions);
                let heard: BTreeSet<NodeId> = operation.replies.keys().copied().collect();
                if !self.quorum(&self.operations[&op], &heard, r) {
                    return;
                }
                let operation = self.operations.get_mut(&op).expect("looked up");
                match operation.request.clone() {
                    Request::Get => {
                        let mut merged = Versions::Empty;
                        for held in operation.replies.values() {
                            merged.merge(held);
                        }
                        operation.versions = merged.clone();
                        let holders: BTreeSet<NodeId> = operation
                            .replies
                            .iter()
                            .filter(|(_, held)| **held == merged)
                            .map(|(&node, _)| node)
                            .collect();
                        let stale: Vec<NodeId> = operation
                            .replies
                            .keys()
                            .filter(|node| !holders.contains(node))
                            .copied()
                            .collect();
                        let key = operation.key;
                        if read_repair != ReadRepair::Off {
                            write_back(ctx, op, key, &merged, stale, &self.view);
                        }
                        let enough = self.quorum(&self.operations[&op], &holders, w);
                        let operation = self.operations.get_mut(&op).expect("looked up");
                        if repair_sync && !enough && !merged.values().is_empty() {
                            operation.phase = Phase::Write;
                            operation.acks = holders;
                            // Replicas that have not answered get the write-back too.
                            let others: Vec<NodeId> = operation
                                .lists
                                .replicas(key)
                                .into_iter()
                                .filter(|node| !operation.replies.contains_key(node))
                                .collect();
                            let view = self.view.clone();
                            write_back(ctx, op, key, &merged, others, &view);
                            self.arm_sloppy(ctx, op);
                        } else {
                            self.answer(ctx, op);
                        }
                    }
                    Request::Put { value, context } => {
                        let newest = operation.replies.values().filter_map(Versions::stamp).max();
                        let (key, dot) = (operation.key, (operation.client, operation.seq));
                        let version = self.new_version(ctx, dot, value, &context, newest);
                        let operation = self.operations.get_mut(&op).expect("looked up");
                        operation.versions = version;
                        operation.phase = Phase::Write;
                        operation.asked.clear();
                        operation.stand_ins.clear();
                        operation.lists = self.lists.clone();
                        let replicas = operation.lists.replicas(key);
                        for replica in replicas {
                            let operation = self.operations.get_mut(&op).expect("looked up");
                            operation.asked.insert(replica);
                            let message = self.phase_message(op, &self.operations[&op], None);
                            ctx.send(replica, message);
                        }
                        self.arm_sloppy(ctx, op);
                    }
                }
            }
            Phase::Done | Phase::Write => {
                // A late reply to a get: repair it in the background.
                if matches!(operation.request, Request::Get)
                    && read_repair != ReadRepair::Off
                    && versions != operation.versions
                    && operation.phase == Phase::Done
                {
                    let mut merged = versions.clone();
                    merged.merge(&operation.versions);
                    if merged != versions {
                        let view = &self.view;
                        write_back(ctx, op, operation.key, &operation.versions, [from], view);
                    }
                }
            }
        }
    }

    fn on_write_ack(&mut self, ctx: &mut Ctx<'_, Quorum>, from: NodeId, op: u64) {
        let Some(operation) = self.operations.get(&op) else {
            return;
        };
        if operation.phase != Phase::Write || !self.counts(operation, from) {
            return;
        }
        let w = self.config().w;
        let operation = self.operations.get_mut(&op).expect("looked up");
        operation.acks.insert(from);
        if self.quorum(&self.operations[&op], &self.operations[&op].acks, w) {
            self.answer(ctx, op);
        }
    }

    fn answer(&mut self, ctx: &mut Ctx<'_, Quorum>, op: u64) {
        let operation = self.operations.get_mut(&op).expect("an operation");
        operation.phase = Phase::Done;
        if operation.lists.joint() {
            ctx.sometimes(QuorumPoint::JointQuorum);
        }
        let reply = match operation.request {
            Request::Get => QuorumMsg::GetOk {
                seq: operation.seq,
                values: operation.versions.values(),
                context: operation.versions.context(),
            },
            Request::Put { .. } => QuorumMsg::PutOk { seq: operation.seq },
        };
        ctx.send(operation.client, reply);
    }

    /// Replicas have not all answered in time: ask stand-ins in their place.
    fn on_sloppy(&mut self, ctx: &mut Ctx<'_, Quorum>, op: u64) {
        let Some(operation) = self.operations.get(&op) else {
            return;
        };
        if operation.phase == Phase::Done {
            return;
        }
        let key = operation.key;
        let silent: Vec<NodeId> = operation
            .lists
            .replicas(key)
            .into_iter()
            .filter(|node| match operation.phase {
                Phase::Read => !operation.replies.contains_key(node),
                _ => !operation.acks.contains(node),
            })
            .collect();
        let mut free = operation
            .lists
            .stand_ins(key)
            .into_iter()
            .filter(|node| !operation.asked.contains(node))
            .collect::<Vec<_>>()
            .into_iter();
        for owner in silent {
            let Some(stand_in) = free.next() else {
                break;
            };
            let operation = self.operations.get_mut(&op).expect("looked up");
            operation.asked.insert(stand_in);
            operation.stand_ins.insert(stand_in, owner);
            if operation.phase == Phase::Write {
                ctx.sometimes(QuorumPoint::SloppyWrite);
            }
            let message = self.phase_message(op, &self.operations[&op], Some(owner));
            ctx.send(stand_in, message);
        }
    }

    fn on_deadline(&mut self, ctx: &mut Ctx<'_, Quorum>, op: u64) {
        let Some(operation) = self.operations.remove(&op) else {
            return;
        };
        if operation.phase != Phase::Done {
            ctx.sometimes(QuorumPoint::QuorumTimeout);
            ctx.send(
                operation.client,
                QuorumMsg::Unavailable { seq: operation.seq },
            );
        }
    }

    // ----- replica -----

    fn on_read(
        &mut self,
        ctx: &mut Ctx<'_, Quorum>,
        from: ProcessId,
        op: u64,
        key: u64,
        view: View,
    ) {
        if !self.admit(ctx, from, op, &view) {
            return;
        }
        let id = ctx.id();
        let wars = self.config().wars;
        let replica = self.lists.is_replica(key, id);
        let Some(store) = self.store.as_mut() else {
            return;
        };
        let mut held = if replica {
            match store.get(ctx, key) {
                Ok(versions) => versions,
                Err(Unreadable::Damaged) => {
                    self.start_repair(ctx, key);
                    reply(
                        ctx,
                        wars,
                        from,
                        QuorumMsg::ReadReply {
                            op,
                            held: Held::Damaged,
                        },
                    );
                    return;
                }
                Err(Unreadable::ReadFailed) => return,
            }
        } else {
            Versions::Empty
        };
        // A stand-in answers with the hints it holds for the key.
        for hint in store.hints().values().filter(|hint| hint.key == key) {
            held.merge(&hint.versions);
        }
        reply(
            ctx,
            wars,
            from,
            QuorumMsg::ReadReply {
                op,
                held: Held::Versions(held),
            },
        );
    }

    #[allow(clippy::too_many_arguments)]
    fn on_write(
        &mut self,
        ctx: &mut Ctx<'_, Quorum>,
        from: ProcessId,
        op: u64,
        key: u64,
        versions: Versions,
        hint: Option<NodeId>,
        repair: bool,
        view: View,
    ) {
        if !self.admit(ctx, from, op, &view) {
            return;
        }
        let id = ctx.id();
        let wars = self.config().wars;
        let Some(store) = self.store.as_mut() else {
            return;
        };
        match hint {
            Some(owner) if owner != id && !self.lists.is_replica(key, id) => {
                if store.add_hint(ctx, owner, key, &versions).is_some() {
                    reply(ctx, wars, from, QuorumMsg::WriteAck { op });
                }
            }
            _ => {
                if !self.lists.is_replica(key, id) {
                    return;
                }
                if let Ok(changed) = store.merge(ctx, key, &versions) {
                    if changed && repair {
                        ctx.sometimes(QuorumPoint::ReadRepairFixedStale);
                    }
                    reply(ctx, wars, from, QuorumMsg::WriteAck { op });
                }
            }
        }
    }

    fn on_handoff(
        &mut self,
        ctx: &mut Ctx<'_, Quorum>,
        from: ProcessId,
        hint: HintId,
        key: u64,
        versions: Versions,
    ) {
        let id = ctx.id();
        if !self.lists.is_replica(key, id) {
            return;
        }
        let Some(store) = self.store.as_mut() else {
            return;
        };
        match store.apply_hint(ctx, hint, key, &versions) {
            Ok(true) => {
                ctx.sometimes(QuorumPoint::HintHandedOff);
                self.handed_off += 1;
                ctx.send(from, QuorumMsg::HandoffAck { hint });
            }
            Ok(false) => {
                ctx.sometimes(QuorumPoint::HintDuplicateIgnored);
                ctx.send(from, QuorumMsg::HandoffAck { hint });
            }
            Err(_) => {}
        }
    }

    /// Offers every hint to its replica, and asks again about damaged keys.
    fn on_handoff_timer(&mut self, ctx: &mut Ctx<'_, Quorum>) {
        let every = self.config().handoff_interval;
        ctx.set_timer(every, every, QuorumTimer::Handoff);
        self.retry_change(ctx);
        let Some(store) = self.store.as_ref() else {
            return;
        };
        let offers: Vec<(HintId, NodeId, u64, Versions)> = store
            .hints()
            .iter()
            .map(|(&id, hint)| (id, hint.owner, hint.key, hint.versions.clone()))
            .collect();
        for (hint, owner, key, versions) in offers {
            // A replica that left the key's replicas gives its place to one
            // of those that took it.
            let mut owner = owner;
            if !self.lists.is_replica(key, owner) {
                let replicas = self.lists.new_replicas(key);
                if replicas.is_empty() {
                    continue;
                }
                owner = replicas[hint.seq as usize % replicas.len()];
                ctx.sometimes(QuorumPoint::HintRedirected);
            }
            ctx.send(
                owner,
                QuorumMsg::Handoff {
                    hint,
                    key,
                    versions,
                },
            );
        }
        let damaged: Vec<u64> = store.damaged().iter().copied().collect();
        for key in damaged {
            self.repairs.remove(&key);
            self.start_repair(ctx, key);
        }
    }

    /// Asks the key's other replicas what they hold, to repair a damaged
    /// record from them.
    fn start_repair(&mut self, ctx: &mut Ctx<'_, Quorum>, key: u64) {
        if self.repairs.contains_key(&key) {
            return;
        }
        let op = ctx.rng().r#gen::<u64>();
        let id = ctx.id();
        let peers: Vec<NodeId> = self
            .lists
            .replicas(key)
            .into_iter()
            .filter(|&node| node != id)
            .collect();
        self.repairs.insert(
            key,
            Repair {
                op,
                peers: peers.len(),
                lists: Some(self.lists.clone()),
                ..Repair::default()
            },
        );
        if peers.is_empty() {
            self.finish_repair(ctx, key);
            return;
        }
        for peer in peers {
            let view = self.view.clone();
            ctx.send(peer, QuorumMsg::Read { op, key, view });
        }
    }

    /// Peers a repair must hear from: enough that one of them holds every
    /// write acknowledged by `w` replicas (`n − w + 1` of the `n − 1`). When
    /// too many of them are damaged as well, a weak mode repairs from the
    /// good ones it heard (what only the damaged copies held is lost, and the
    /// checker counts it); strict mode keeps the key out of service instead,
    /// rather than serve a history with a hole in it.
    fn repair_quorum(&self) -> usize {
        let (n, w) = (self.config().n, self.config().w);
        (n + 1)
            .saturating_sub(w)
            .clamp(1, n.saturating_sub(1).max(1))
    }

    fn on_repair_reply(
        &mut self,
        ctx: &mut Ctx<'_, Quorum>,
        from: NodeId,
        op: u64,
        held: Held,
    ) -> bool {
        let Some((&key, _)) = self.repairs.iter().find(|(_, repair)| repair.op == op) else {
            return false;
        };
        let need = self.repair_quorum();
        let strict = self.config().strict();
        let me = ctx.id();
        let repair = self.repairs.get_mut(&key).expect("found");
        match held {
            Held::Versions(versions) => {
                if repair.answered.insert(from) {
                    repair.merged.merge(&versions);
                }
            }
            Held::Damaged => {
                repair.damaged.insert(from);
            }
        }
        let heard_all = repair.answered.len() + repair.damaged.len() >= repair.peers;
        // `need` of the other replicas on each placement (all of them where
        // a placement has fewer).
        let enough = repair.lists.as_ref().is_some_and(|lists| {
            [lists.old(key), lists.new_replicas(key)]
                .iter()
                .all(|list| {
                    let others = list.iter().filter(|&&node| node != me);
                    let answered = others.clone().filter(|node| repair.answered.contains(node));
                    answered.count() >= need.min(others.count())
                })
        });
        if enough || (heard_all && !strict) {
            self.finish_repair(ctx, key);
        }
        true
    }

    fn finish_repair(&mut self, ctx: &mut Ctx<'_, Quorum>, key: u64) {
        let Some(repair) = self.repairs.remove(&key) else {
            return;
        };
        let Some(store) = self.store.as_mut() else {
            return;
        };
        if store.repair(ctx, key, &repair.merged) {
            ctx.sometimes(QuorumPoint::CorruptRepaired);
        }
    }

    // ----- anti-entropy -----

    /// The keys `self` and `peer` both replicate.
    fn shared_keys(&self, me: NodeId, peer: NodeId) -> Vec<u64> {
        (0..self.config().keys)
            .filter(|&key| self.lists.is_replica(key, me) && self.lists.is_replica(key, peer))
            .collect()
    }

    fn tree(&mut self, ctx: &mut Ctx<'_, Quorum>, keys: &[u64]) -> Option<Merkle> {
        let store = self.store.as_mut()?;
        let mut items = Vec::with_capacity(keys.len());
        for &key in keys {
            match store.get(ctx, key) {
                Ok(Versions::Empty) => {}
                Ok(versions) => items.push((key, versions.digest())),
                Err(_) => {}
            }
        }
        let leaf = if self.config().has(QuorumBug::MerkleXorLeaf) {
            LeafHash::Xor
        } else {
            LeafHash::Chained
        };
        Some(Merkle::build(self.config().merkle_depth, items, leaf))
    }

    fn on_anti_entropy_timer(&mut self, ctx: &mut Ctx<'_, Quorum>) {
        let every = self.config().anti_entropy_interval;
        ctx.set_timer(every, every, QuorumTimer::AntiEntropy);
        let me = ctx.id();
        let nodes = ctx.nodes();
        for _ in 0..nodes {
            self.next_peer = (self.next_peer + 1) % nodes;
            if self.next_peer != me {
                break;
            }
        }
        let peer = self.next_peer;
        if peer == me {
            return;
        }
        let keys = self.shared_keys(me, peer);
        if keys.is_empty() {
            return;
        }
        if let Some(tree) = self.tree(ctx, &keys) {
            ctx.send(peer, QuorumMsg::Tree { tree });
        }
    }

    fn on_tree(&mut self, ctx: &mut Ctx<'_, Quorum>, from: NodeId, theirs: Merkle) {
        let keys = self.shared_keys(ctx.id(), from);
        let Some(mine) = self.tree(ctx, &keys) else {
            return;
        };
        if mine.depth() != theirs.depth() {
            return;
        }
        let (leaves, _) = mine.diff(&theirs);
        if leaves.is_empty() {
            return;
        }
        ctx.sometimes(QuorumPoint::AntiEntropyDifference);
        let depth = mine.depth();
        for key in keys {
            if !leaves.contains(&leaf_of(key, depth)) {
                continue;
            }
            let Some(store) = self.store.as_mut() else {
                return;
            };
            if let Ok(versions) = store.get(ctx, key) {
                ctx.send(
                    from,
                    QuorumMsg::Exchange {
                        key,
                        versions,
                        reply: true,
                    },
                );
            }
        }
    }

    fn on_exchange(
        &mut self,
        ctx: &mut Ctx<'_, Quorum>,
        from: NodeId,
        key: u64,
        versions: Versions,
        reply: bool,
    ) {
        if !self.lists.is_replica(key, ctx.id()) {
            return;
        }
        let Some(store) = self.store.as_mut() else {
            return;
        };
        if store.merge(ctx, key, &versions).is_err() || !reply {
            return;
        }
        if let Ok(mine) = store.get(ctx, key)
            && mine != versions
        {
            ctx.send(
                from,
                QuorumMsg::Exchange {
                    key,
                    versions: mine,
                    reply: false,
                },
            );
        }
    }
}

impl Node<Quorum> for QuorumNode {
    fn on_start(&mut self, ctx: &mut Ctx<'_, Quorum>) {
        self.boot(ctx);
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Quorum>, from: ProcessId, msg: QuorumMsg) {
        if self.store.is_none() {
            return; // still reading the disk back
        }
        if let Some(fit) = self.config().wars {
            let delay = match &msg {
                QuorumMsg::Write { .. } => Some(fit.model().w),
                QuorumMsg::Read { .. } => Some(fit.model().r),
                _ => None,
            };
            if let Some(delay) = delay {
                let delay = wars_delay(ctx, &delay);
                ctx.set_timer(delay, delay, QuorumTimer::Arrive(from, Box::new(msg)));
                return;
            }
        }
        self.handle(ctx, from, msg);
    }

    fn on_admin(&mut self, ctx: &mut Ctx<'_, Quorum>, admin: Admin) {
        let command = match admin {
            Admin::Join => Command::Join,
            Admin::Leave => Command::Leave,
        };
        self.admin(ctx, command);
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Quorum>, timer: QuorumTimer) {
        match timer {
            QuorumTimer::Recover => self.boot(ctx),
            QuorumTimer::Sloppy(op) => self.on_sloppy(ctx, op),
            QuorumTimer::Deadline(op) => self.on_deadline(ctx, op),
            QuorumTimer::Handoff => self.on_handoff_timer(ctx),
            QuorumTimer::AntiEntropy => self.on_anti_entropy_timer(ctx),
            QuorumTimer::Arrive(from, msg) => {
                if self.store.is_some() {
                    self.handle(ctx, from, *msg);
                }
            }
            QuorumTimer::Depart(to, msg) => ctx.send(to, *msg),
            QuorumTimer::Next | QuorumTimer::GiveUp(_) => {}
        }
    }
}

/// A get's read repair: the merged versions written back to `nodes`.
fn write_back(
    ctx: &mut Ctx<'_, Quorum>,
    op: u64,
    key: u64,
    merged: &Versions,
    nodes: impl IntoIterator<Item = NodeId>,
    view: &View,
) {
    for node in nodes {
        ctx.send(
            node,
            QuorumMsg::Write {
                op,
                key,
                versions: merged.clone(),
                hint: None,
                repair: true,
                view: view.clone(),
            },
        );
    }
}

/// One draw of a PBS delay, as a duration (capped like the network's).
fn wars_delay(ctx: &mut Ctx<'_, Quorum>, delay: &super::pbs::Mixture) -> Duration {
    let ms = delay.sample(ctx.rng());
    Duration(((ms * 1e6) as u64).min(crate::sim::network::LATENCY_CAP))
}

/// A replica's answer to a read or a write: under PBS it leaves after an S
/// or an A draw.
fn reply(ctx: &mut Ctx<'_, Quorum>, wars: Option<super::WarsFit>, to: ProcessId, msg: QuorumMsg) {
    let Some(fit) = wars else {
        ctx.send(to, msg);
        return;
    };
    let delay = match msg {
        QuorumMsg::ReadReply { .. } => fit.model().s,
        _ => fit.model().a,
    };
    let delay = wars_delay(ctx, &delay);
    ctx.set_timer(delay, delay, QuorumTimer::Depart(to, Box::new(msg)));
}

impl QuorumNode {
    fn handle(&mut self, ctx: &mut Ctx<'_, Quorum>, from: ProcessId, msg: QuorumMsg) {
        match msg {
            QuorumMsg::Get { seq, key } => self.begin(ctx, from, seq, key, Request::Get),
            QuorumMsg::Put {
                seq,
                key,
                value,
                context,
            } => self.begin(ctx, from, seq, key, Request::Put { value, context }),
            QuorumMsg::Read { op, key, view } => self.on_read(ctx, from, op, key, view),
            QuorumMsg::ReadReply { op, held } => {
                if !self.on_repair_reply(ctx, from, op, held.clone())
                    && !self.on_move_reply(ctx, from, op, &held)
                {
                    self.on_read_reply(ctx, from, op, held);
                }
            }
            QuorumMsg::Write {
                op,
                key,
                versions,
                hint,
                repair,
                view,
            } => self.on_write(ctx, from, op, key, versions, hint, repair, view),
            QuorumMsg::WriteAck { op } => {
                if !self.on_move_ack(ctx, from, op) {
                    self.on_write_ack(ctx, from, op);
                }
            }
            QuorumMsg::Stale { op, view } => self.on_stale(ctx, from, op, &view),
            QuorumMsg::ViewPush { view } => self.on_view_push(ctx, from, &view),
            QuorumMsg::ViewAck { view } => self.on_view_ack(ctx, from, &view),
            QuorumMsg::Handoff {
                hint,
                key,
                versions,
            } => self.on_handoff(ctx, from, hint, key, versions),
            QuorumMsg::HandoffAck { hint } => {
                if let Some(store) = self.store.as_mut() {
                    store.delivered(ctx, hint);
                }
            }
            QuorumMsg::Tree { tree } => self.on_tree(ctx, from, tree),
            QuorumMsg::Exchange {
                key,
                versions,
                reply,
            } => self.on_exchange(ctx, from, key, versions, reply),
            QuorumMsg::GetOk { .. } | QuorumMsg::PutOk { .. } | QuorumMsg::Unavailable { .. } => {}
        }
    }
}

// ----- membership -----

impl QuorumNode {
    /// Makes the view durable; `view_dirty` says whether that failed.
    fn persist(&mut self, ctx: &mut Ctx<'_, Quorum>) {
        self.view_dirty = !membership::save(ctx, &self.view);
    }

    /// Merges `view` into this node's; whether anything changed.
    fn adopt(&mut self, ctx: &mut Ctx<'_, Quorum>, view: &View) -> bool {
        if !self.view.merge(view) {
            return false;
        }
        self.view_changed(ctx);
        true
    }

    /// The view changed: place keys anew, make it durable, and stream again
    /// if a stream of this node's is under way (the keys that move may be
    /// others now).
    fn view_changed(&mut self, ctx: &mut Ctx<'_, Quorum>) {
        self.lists = self.settings.lists(&self.view);
        self.persist(ctx);
        if self
            .change
            .as_ref()
            .is_some_and(|change| change.stage == Stage::Stream)
        {
            self.begin_stream(ctx);
        }
    }

    /// A replica's check of a coordinator's request: learn its view, and
    /// serve it only if it knew everything this node knows (else answer
    /// [`QuorumMsg::Stale`]) and this node's view is durable.
    fn admit(&mut self, ctx: &mut Ctx<'_, Quorum>, from: ProcessId, op: u64, view: &View) -> bool {
        self.adopt(ctx, view);
        if self.view_dirty {
            self.persist(ctx);
            if self.view_dirty {
                return false;
            }
        }
        if view.covers(&self.view) {
            return true;
        }
        ctx.sometimes(QuorumPoint::StaleViewFenced);
        let wars = self.config().wars;
        let view = self.view.clone();
        reply(ctx, wars, from, QuorumMsg::Stale { op, view });
        false
    }

    /// A replica said the view this node coordinated with is behind: merge
    /// its view and carry on on the new placement — ask the replicas the
    /// new placement adds and the one that refused, and see whether what
    /// has been heard is already a quorum there.
    fn on_stale(&mut self, ctx: &mut Ctx<'_, Quorum>, from: NodeId, op: u64, view: &View) {
        self.adopt(ctx, view);
        let repairing = self.repairs.iter().find(|(_, repair)| repair.op == op);
        if let Some(key) = repairing.map(|(&key, _)| key) {
            self.repairs.remove(&key);
            self.start_repair(ctx, key);
            return;
        }
        let Some(operation) = self.operations.get_mut(&op) else {
            return;
        };
        if operation.phase == Phase::Done {
            return;
        }
        operation.lists = self.lists.clone();
        operation.asked.remove(&from);
        let key = operation.key;
        let heard: BTreeSet<NodeId> = match operation.phase {
            Phase::Read => operation.replies.keys().copied().collect(),
            _ => operation.acks.clone(),
        };
        let missing: Vec<NodeId> = operation
            .lists
            .replicas(key)
            .into_iter()
            .filter(|node| !heard.contains(node) && !operation.asked.contains(node))
            .collect();
        for node in missing {
            let operation = self.operations.get_mut(&op).expect("looked up");
            operation.asked.insert(node);
            let message = self.phase_message(op, &self.operations[&op], None);
            ctx.send(node, message);
        }
        let operation = &self.operations[&op];
        let need = match operation.phase {
            Phase::Read => self.config().r,
            _ => self.config().w,
        };
        if operation.phase == Phase::Write && self.quorum(operation, &heard, need) {
            self.answer(ctx, op);
        }
    }

    /// An operator's command reached this node.
    pub(super) fn admin(&mut self, ctx: &mut Ctx<'_, Quorum>, command: Command) {
        if self.store.is_none() {
            // Still reading the disk back: carried out once the view is read.
            membership::defer(ctx, command);
            return;
        }
        self.command(ctx, command);
    }

    /// Carries out an operator's command: start a change, call one off, or
    /// nothing (a join of a member, a leave of a node that is out).
    fn command(&mut self, ctx: &mut Ctx<'_, Quorum>, command: Command) {
        let me = ctx.id();
        let at_once = self.config().has(QuorumBug::MembershipWithoutHandover);
        let standing = self.view.entry(me).standing;
        let (next, cancels) = match (command, standing) {
            (Command::Join, Standing::Out) if at_once => (Standing::Member, false),
            (Command::Join, Standing::Out) => (Standing::Joining, false),
            (Command::Join, Standing::Leaving) => (Standing::Member, true),
            (Command::Leave, Standing::Member) if at_once => (Standing::Out, false),
            (Command::Leave, Standing::Member) => (Standing::Leaving, false),
            (Command::Leave, Standing::Joining) => (Standing::Out, true),
            _ => return,
        };
        if cancels {
            ctx.sometimes(QuorumPoint::ChangeCancelled);
        }
        // A change under way is over (called off): its stream is not planned
        // again for the new view.
        self.change = None;
        self.view.set(me, next);
        self.view_changed(ctx);
        let stage = if matches!(next, Standing::Joining | Standing::Leaving) {
            Stage::Announce
        } else {
            Stage::Settle
        };
        self.start_stage(ctx, stage);
    }

    /// After a restart: carry on with this node's change, from the start of
    /// its step (announcing again is harmless), or announce the settled
    /// standing again (the peers may not all have it).
    fn resume_change(&mut self, ctx: &mut Ctx<'_, Quorum>) {
        let standing = self.view.entry(ctx.id()).standing;
        let stage = if matches!(standing, Standing::Joining | Standing::Leaving) {
            Stage::Announce
        } else {
            Stage::Settle
        };
        self.start_stage(ctx, stage);
    }

    fn start_stage(&mut self, ctx: &mut Ctx<'_, Quorum>, stage: Stage) {
        let generation = self.view.entry(ctx.id()).generation;
        self.change = Some(Change {
            generation,
            stage,
            acked: BTreeSet::new(),
            moves: BTreeMap::new(),
        });
        self.announce(ctx);
        self.check_announced(ctx);
    }

    /// Pushes this node's view to every peer that has not acknowledged it.
    fn announce(&mut self, ctx: &mut Ctx<'_, Quorum>) {
        let Some(change) = &self.change else {
            return;
        };
        let me = ctx.id();
        let unacked: Vec<NodeId> = (0..ctx.nodes())
            .filter(|&node| node != me && !change.acked.contains(&node))
            .collect();
        for node in unacked {
            let view = self.view.clone();
            ctx.send(node, QuorumMsg::ViewPush { view });
        }
    }

    fn on_view_push(&mut self, ctx: &mut Ctx<'_, Quorum>, from: NodeId, view: &View) {
        self.adopt(ctx, view);
        if self.view_dirty {
            self.persist(ctx);
            if self.view_dirty {
                return;
            }
        }
        let view = self.view.clone();
        ctx.send(from, QuorumMsg::ViewAck { view });
    }

    fn on_view_ack(&mut self, ctx: &mut Ctx<'_, Quorum>, from: NodeId, view: &View) {
        self.adopt(ctx, view);
        let me = ctx.id();
        let Some(change) = self.change.as_mut() else {
            return;
        };
        if change.stage != Stage::Stream && view.entry(me).generation >= change.generation {
            change.acked.insert(from);
        }
        self.check_announced(ctx);
    }

    /// Every peer holds the announcement: stream (after `joining` or
    /// `leaving`), or the change is over (after the final standing).
    fn check_announced(&mut self, ctx: &mut Ctx<'_, Quorum>) {
        let peers = ctx.nodes() - 1;
        let Some(change) = &self.change else {
            return;
        };
        if change.stage == Stage::Stream || change.acked.len() < peers {
            return;
        }
        match change.stage {
            Stage::Announce => {
                self.change.as_mut().expect("a change").stage = Stage::Stream;
                self.begin_stream(ctx);
            }
            _ => self.change = None,
        }
    }

    /// Plans the stream: each key whose replicas differ between the
    /// placements is read from its old replicas and written to those that
    /// gain it.
    fn begin_stream(&mut self, ctx: &mut Ctx<'_, Quorum>) {
        let mut moves = BTreeMap::new();
        for key in 0..self.config().keys {
            let old = self.lists.old(key).to_vec();
            let gainers: Vec<NodeId> = self
                .lists
                .new_replicas(key)
                .iter()
                .filter(|node| !old.contains(node))
                .copied()
                .collect();
            if gainers.is_empty() {
                continue;
            }
            let op = ctx.rng().r#gen::<u64>();
            moves.insert(
                key,
                Move {
                    op,
                    old,
                    gainers,
                    replied: BTreeSet::new(),
                    merged: Versions::Empty,
                    writing: false,
                    acks: BTreeSet::new(),
                },
            );
        }
        let change = self.change.as_mut().expect("a change");
        change.moves = moves;
        self.push_moves(ctx);
        self.check_streamed(ctx);
    }

    /// Sends every unfinished move's current step to the nodes that have
    /// not answered it (again, on the handoff timer).
    fn push_moves(&mut self, ctx: &mut Ctx<'_, Quorum>) {
        let Some(change) = &self.change else {
            return;
        };
        let mut sends = Vec::new();
        for (&key, step) in &change.moves {
            if step.writing {
                for &node in step.gainers.iter().filter(|node| !step.acks.contains(node)) {
                    sends.push((
                        node,
                        QuorumMsg::Write {
                            op: step.op,
                            key,
                            versions: step.merged.clone(),
                            hint: None,
                            repair: false,
                            view: self.view.clone(),
                        },
                    ));
                }
            } else {
                for &node in step.old.iter().filter(|node| !step.replied.contains(node)) {
                    let view = self.view.clone();
                    sends.push((
                        node,
                        QuorumMsg::Read {
                            op: step.op,
                            key,
                            view,
                        },
                    ));
                }
            }
        }
        for (node, message) in sends {
            ctx.send(node, message);
        }
    }

    /// The old replicas a move reads from: enough that one holds every write
    /// acknowledged before the change was announced.
    fn move_quorum(&self, old: usize) -> usize {
        let (n, w) = (self.config().n, self.config().w);
        (n + 1).saturating_sub(w).clamp(1, old.max(1))
    }

    fn on_move_reply(
        &mut self,
        ctx: &mut Ctx<'_, Quorum>,
        from: NodeId,
        op: u64,
        held: &Held,
    ) -> bool {
        let Some(change) = self.change.as_ref() else {
            return false;
        };
        let Some((&key, step)) = change.moves.iter().find(|(_, step)| step.op == op) else {
            return false;
        };
        let need = self.move_quorum(step.old.len());
        let step = self
            .change
            .as_mut()
            .and_then(|change| change.moves.get_mut(&key))
            .expect("found");
        let Held::Versions(versions) = held else {
            return true; // a damaged copy counts for nothing
        };
        if step.writing || !step.old.contains(&from) || !step.replied.insert(from) {
            return true;
        }
        step.merged.merge(versions);
        if step.replied.len() < need {
            return true;
        }
        if step.merged == Versions::Empty {
            self.change.as_mut().expect("a change").moves.remove(&key);
            self.check_streamed(ctx);
            return true;
        }
        step.writing = true;
        self.push_moves(ctx);
        true
    }

    fn on_move_ack(&mut self, ctx: &mut Ctx<'_, Quorum>, from: NodeId, op: u64) -> bool {
        let Some(change) = self.change.as_mut() else {
            return false;
        };
        let Some((&key, step)) = change.moves.iter_mut().find(|(_, step)| step.op == op) else {
            return false;
        };
        if step.writing && step.gainers.contains(&from) {
            step.acks.insert(from);
            if step.acks.len() == step.gainers.len() {
                ctx.sometimes(QuorumPoint::KeyStreamed);
                change.moves.remove(&key);
                self.check_streamed(ctx);
            }
        }
        true
    }

    /// Every key moved: take the final standing and announce it.
    fn check_streamed(&mut self, ctx: &mut Ctx<'_, Quorum>) {
        let Some(change) = &self.change else {
            return;
        };
        if change.stage != Stage::Stream || !change.moves.is_empty() {
            return;
        }
        let me = ctx.id();
        let next = match self.view.entry(me).standing {
            Standing::Joining => {
                ctx.sometimes(QuorumPoint::Joined);
                Standing::Member
            }
            Standing::Leaving => {
                ctx.sometimes(QuorumPoint::Left);
                Standing::Out
            }
            _ => return,
        };
        self.view.set(me, next);
        self.change = None;
        self.view_changed(ctx);
        self.start_stage(ctx, Stage::Settle);
    }

    /// The handoff timer's membership work: announce again, move again.
    fn retry_change(&mut self, ctx: &mut Ctx<'_, Quorum>) {
        if self.view_dirty {
            self.persist(ctx);
        }
        match self.change.as_ref().map(|change| change.stage) {
            Some(Stage::Stream) => self.push_moves(ctx),
            Some(_) => self.announce(ctx),
            None => {}
        }
    }
}
