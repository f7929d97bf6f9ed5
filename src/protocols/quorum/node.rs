//! A quorum store node: replica, stand-in and coordinator at once (see the
//! module documentation of [`super`] for the protocol).

use super::merkle::{LeafHash, Merkle, leaf_of};
use super::ring::NodeId;
use super::store::{Store, Unreadable};
use super::version::{Stamp, VectorClock};
use super::{
    Held, HintId, Quorum, QuorumBug, QuorumMsg, QuorumPoint, QuorumTimer, ReadRepair, Settings,
    Versioning, Versions,
};
use crate::sim::time::Duration;
use crate::sim::{Ctx, Node, ProcessId};
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
}

impl QuorumNode {
    /// A node of a run with these settings.
    pub fn new(settings: Rc<Settings>) -> Self {
        QuorumNode {
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

    fn config(&self) -> &super::QuorumConfig {
        &self.settings.config
    }

    /// The keys this node replicates.
    fn own_keys(&self, id: NodeId) -> Vec<u64> {
        (0..self.config().keys)
            .filter(|&key| self.settings.is_replica(key, id))
            .collect()
    }

    fn boot(&mut self, ctx: &mut Ctx<'_, Quorum>) {
        let keys = self.own_keys(ctx.id());
        let format = self.config().format();
        let volatile = self.config().has(QuorumBug::HintDroppedOnRestart);
        match Store::recover(ctx, format, volatile, keys) {
            Some(store) => {
                self.store = Some(store);
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
        };
        let replicas = self.settings.replicas(key).to_vec();
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
            },
            _ => QuorumMsg::Write {
                op,
                key: operation.key,
                versions: operation.versions.clone(),
                hint,
                repair: matches!(operation.request, Request::Get),
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
        self.settings.is_replica(operation.key, from)
            || (operation.stand_ins.contains_key(&from) && self.config().uses_stand_ins())
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
                if operation.replies.len() < r {
                    return;
                }
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
                            write_back(ctx, op, key, &merged, stale);
                        }
                        let counted = holders
                            .iter()
                            .filter(|&&node| self.counts(&self.operations[&op], node))
                            .count();
                        let operation = self.operations.get_mut(&op).expect("looked up");
                        if repair_sync && counted < w && !merged.values().is_empty() {
                            operation.phase = Phase::Write;
                            operation.acks = holders;
                            // Replicas that have not answered get the write-back too.
                            let others: Vec<NodeId> = self
                                .settings
                                .replicas(key)
                                .iter()
                                .filter(|node| !operation.replies.contains_key(node))
                                .copied()
                                .collect();
                            write_back(ctx, op, key, &merged, others);
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
                        let replicas = self.settings.replicas(key).to_vec();
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
                        write_back(ctx, op, operation.key, &operation.versions, [from]);
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
        if operation.acks.len() >= w {
            self.answer(ctx, op);
        }
    }

    fn answer(&mut self, ctx: &mut Ctx<'_, Quorum>, op: u64) {
        let operation = self.operations.get_mut(&op).expect("an operation");
        operation.phase = Phase::Done;
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
        let silent: Vec<NodeId> = self
            .settings
            .replicas(key)
            .iter()
            .filter(|node| match operation.phase {
                Phase::Read => !operation.replies.contains_key(node),
                _ => !operation.acks.contains(node),
            })
            .copied()
            .collect();
        let mut free = self
            .settings
            .stand_ins(key)
            .iter()
            .filter(|node| !operation.asked.contains(node))
            .copied()
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

    fn on_read(&mut self, ctx: &mut Ctx<'_, Quorum>, from: ProcessId, op: u64, key: u64) {
        let id = ctx.id();
        let wars = self.config().wars;
        let replica = self.settings.is_replica(key, id);
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
    ) {
        let id = ctx.id();
        let wars = self.config().wars;
        let Some(store) = self.store.as_mut() else {
            return;
        };
        match hint {
            Some(owner) if owner != id && !self.settings.is_replica(key, id) => {
                if store.add_hint(ctx, owner, key, &versions).is_some() {
                    reply(ctx, wars, from, QuorumMsg::WriteAck { op });
                }
            }
            _ => {
                if !self.settings.is_replica(key, id) {
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
        if !self.settings.is_replica(key, id) {
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
        let Some(store) = self.store.as_ref() else {
            return;
        };
        let offers: Vec<(HintId, NodeId, u64, Versions)> = store
            .hints()
            .iter()
            .map(|(&id, hint)| (id, hint.owner, hint.key, hint.versions.clone()))
            .collect();
        for (hint, owner, key, versions) in offers {
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
            .settings
            .replicas(key)
            .iter()
            .filter(|&&node| node != id)
            .copied()
            .collect();
        self.repairs.insert(
            key,
            Repair {
                op,
                peers: peers.len(),
                ..Repair::default()
            },
        );
        if peers.is_empty() {
            self.finish_repair(ctx, key);
            return;
        }
        for peer in peers {
            ctx.send(peer, QuorumMsg::Read { op, key });
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
        if repair.answered.len() >= need || (heard_all && !strict) {
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
            .filter(|&key| self.settings.is_replica(key, me) && self.settings.is_replica(key, peer))
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
        if !self.settings.is_replica(key, ctx.id()) {
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
            QuorumMsg::Read { op, key } => self.on_read(ctx, from, op, key),
            QuorumMsg::ReadReply { op, held } => {
                if !self.on_repair_reply(ctx, from, op, held.clone()) {
                    self.on_read_reply(ctx, from, op, held);
                }
            }
            QuorumMsg::Write {
                op,
                key,
                versions,
                hint,
                repair,
            } => self.on_write(ctx, from, op, key, versions, hint, repair),
            QuorumMsg::WriteAck { op } => self.on_write_ack(ctx, from, op),
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
