//! Applying faults to the world: resolving targets (selectors draw from the fault
//! stream only; `@label` targets read the labels earlier faults stored), cutting
//! links, lab-style disconnecting and connecting, crashing, restarting, pausing and
//! resuming nodes, skewing clocks, damaging disks, changing the membership and
//! slowing nodes down — and scheduling each fault's undo.

use super::{Action, NO_PROCESS, ProcessState, World};
use crate::sim::fault::{ClientPick, Fault, SlowFactor, Target, TimedFault, selector_size};
use crate::sim::protocol::{Admin, Node, ProcessId, Protocol, Role};
use crate::sim::trace::{EventKind, StableHasher};
use rand::Rng as _;
use std::hash::{Hash, Hasher};

impl<P: Protocol> World<P> {
    fn shuffled(&mut self, mut ids: Vec<usize>) -> Vec<usize> {
        for index in (1..ids.len()).rev() {
            let other = self.fault_rng.gen_range(0..=index);
            ids.swap(index, other);
        }
        ids
    }

    /// One of `candidates` drawn from the fault stream; no draw when there are none.
    fn pick_one(&mut self, candidates: &[usize]) -> Vec<usize> {
        if candidates.is_empty() {
            Vec::new()
        } else {
            let pick = self.fault_rng.gen_range(0..candidates.len());
            vec![candidates[pick]]
        }
    }

    /// Resolves a target to node ids among `candidates` (in increasing order).
    fn resolve(&mut self, target: &Target, candidates: Vec<usize>) -> Vec<usize> {
        let mut chosen = match target {
            Target::Nodes(ids) => ids
                .iter()
                .copied()
                .filter(|id| candidates.contains(id))
                .collect(),
            Target::Leader => {
                let leader = candidates
                    .iter()
                    .copied()
                    .filter(|&id| {
                        self.processes[id].up && self.nodes[id].status().role == Role::Leader
                    })
                    .max_by_key(|&id| (self.nodes[id].status().term, std::cmp::Reverse(id)));
                leader.into_iter().collect()
            }
            Target::Random => self.pick_one(&candidates),
            Target::Follower => {
                let followers: Vec<usize> = candidates
                    .into_iter()
                    .filter(|&id| {
                        self.processes[id].up && self.nodes[id].status().role != Role::Leader
                    })
                    .collect();
                self.pick_one(&followers)
            }
            Target::Label(name) => self.labels.get(name).map_or(Vec::new(), |ids| {
                ids.iter()
                    .copied()
                    .filter(|id| candidates.contains(id))
                    .collect()
            }),
            Target::Within { pick, label } => {
                let group = self.labels.get(label).cloned().unwrap_or_default();
                match pick.as_ref() {
                    // The leader of the cluster, if it is in the group: not
                    // the best of the group's self-declared leaders.
                    Target::Leader => {
                        let leader = self.resolve(&Target::Leader, candidates);
                        leader.into_iter().filter(|id| group.contains(id)).collect()
                    }
                    pick => {
                        let inside: Vec<usize> = candidates
                            .into_iter()
                            .filter(|id| group.contains(id))
                            .collect();
                        if matches!(pick, Target::Minority | Target::Majority) {
                            // A minority of the group, not of the cluster.
                            let size = selector_size(pick, group.len()).min(inside.len());
                            let mut picked = self.shuffled(inside);
                            picked.truncate(size);
                            picked
                        } else {
                            self.resolve(pick, inside)
                        }
                    }
                }
            }
            Target::Minority | Target::Majority => {
                let size = selector_size(target, self.node_count).min(candidates.len());
                let mut picked = self.shuffled(candidates);
                picked.truncate(size);
                picked
            }
            Target::All => candidates,
            Target::Client(pick) => {
                // Only client processes; a node-only fault's candidates hold none.
                let clients: Vec<usize> = candidates
                    .into_iter()
                    .filter(|&id| id >= self.node_count)
                    .collect();
                match pick {
                    ClientPick::Random => self.pick_one(&clients),
                    ClientPick::All => clients,
                    ClientPick::Index(index) => clients
                        .into_iter()
                        .filter(|&id| id == self.node_count + index)
                        .collect(),
                }
            }
        };
        chosen.sort_unstable();
        chosen.dedup();
        chosen
    }

    fn nodes_where(&self, keep: impl Fn(&ProcessState<P>) -> bool) -> Vec<usize> {
        (0..self.node_count)
            .filter(|&id| keep(&self.processes[id]))
            .collect()
    }

    /// The processes a target may hit: the nodes, or for a client target the
    /// clients, that pass `keep`. Explicit ids reach clients too: the undo of a
    /// client pause or skew names the processes it hit.
    fn processes_where(
        &self,
        target: &Target,
        keep: impl Fn(&ProcessState<P>) -> bool,
    ) -> Vec<usize> {
        let range = match target {
            Target::Client(_) => self.node_count..self.node_count + self.client_count,
            Target::Nodes(_) => 0..self.node_count + self.client_count,
            _ => 0..self.node_count,
        };
        range.filter(|&id| keep(&self.processes[id])).collect()
    }

    fn cut_between(&mut self, left: &[usize], right: &[usize]) {
        for &a in left {
            for &b in right {
                if a != b {
                    self.network.cut(a, b);
                    self.network.cut(b, a);
                }
            }
        }
    }

    /// Restores every link and forgets every lab-style disconnect: what `heal`,
    /// `heal_all` and each fault that replaces the partition start with.
    fn heal_links(&mut self) {
        self.network.heal();
        self.disconnected.fill(false);
    }

    /// Marks `ids` disconnected and cuts them off from every other node.
    fn disconnect(&mut self, ids: &[usize]) {
        for &id in ids {
            debug_assert!(!self.disconnected[id]);
            self.disconnected[id] = true;
            for other in 0..self.node_count {
                if other != id {
                    self.network.cut(id, other);
                    self.network.cut(other, id);
                }
            }
        }
    }

    /// Marks `ids` connected and restores their links to every connected node
    /// (including each other): a link passes iff both ends are connected.
    fn connect(&mut self, ids: &[usize]) {
        for &id in ids {
            debug_assert!(self.disconnected[id]);
            self.disconnected[id] = false;
        }
        for &id in ids {
            for other in 0..self.node_count {
                if other != id && !self.disconnected[other] {
                    self.network.restore(id, other);
                    self.network.restore(other, id);
                }
            }
        }
    }

    #[cold]
    #[inline(never)]
    pub(super) fn apply_fault(&mut self, timed: TimedFault) -> Vec<usize> {
        self.faults_applied += 1;
        let all: Vec<usize> = (0..self.node_count).collect();
        let mut undo: Option<Fault> = None;
        let mut hit: Vec<usize> = Vec::new();
        let mut detail = String::new();
        // What the trace hash folds: the fault's canonical data (the nodes and
        // numbers it resolved to), never the words `detail` shows a reader.
        let mut canonical = StableHasher::default();
        let mut kind = EventKind::Partition;
        // Labels the fault refers to but nobody set: it hits nobody through them.
        let unset: Vec<String> = timed
            .fault
            .targets()
            .into_iter()
            .filter_map(|target| {
                target
                    .label()
                    .filter(|name| !self.labels.contains_key(*name))
                    .map(str::to_string)
            })
            .collect();
        // What a label on this fault stores: the nodes hit (for one_way, the senders).
        let mut labelled: Option<Vec<usize>> = None;
        match &timed.fault {
            Fault::Partition { groups } => {
                self.heal_links();
                let group_of = |id: usize| groups.iter().position(|group| group.contains(&id));
                for a in 0..self.node_count {
                    for b in 0..self.node_count {
                        let apart = match (group_of(a), group_of(b)) {
                            (Some(x), Some(y)) => x != y,
                            _ => a != b,
                        };
                        if apart {
                            self.network.cut(a, b);
                        }
                    }
                }
                groups.hash(&mut canonical);
                detail = format!("groups {groups:?}");
                undo = Some(Fault::Heal);
            }
            Fault::PartitionHalves => {
                self.heal_links();
                let order = self.shuffled(all.clone());
                let (minority, majority) = order.split_at(self.node_count / 2);
                self.cut_between(minority, majority);
                let (mut minority, mut majority) = (minority.to_vec(), majority.to_vec());
                minority.sort_unstable();
                majority.sort_unstable();
                (&minority, &majority).hash(&mut canonical);
                detail = format!("groups [{minority:?}, {majority:?}]");
                undo = Some(Fault::Heal);
            }
            Fault::Isolate(target) => {
                hit = self.resolve(target, all.clone());
                let rest: Vec<usize> = all.iter().copied().filter(|id| !hit.contains(id)).collect();
                self.heal_links();
                let victims = hit.clone();
                self.cut_between(&victims, &rest);
                victims.hash(&mut canonical);
                detail = format!("isolate {victims:?}");
                undo = Some(Fault::Heal);
            }
            Fault::Bridge => {
                self.heal_links();
                let order = self.shuffled(all.clone());
                if order.len() >= 3 {
                    let bridge = order[0];
                    let side = (order.len() - 1) / 2;
                    let (left, right) = order[1..].split_at(side);
                    self.cut_between(left, right);
                    let (mut left, mut right) = (left.to_vec(), right.to_vec());
                    left.sort_unstable();
                    right.sort_unstable();
                    (bridge, &left, &right).hash(&mut canonical);
                    detail = format!("bridge {bridge} between {left:?} and {right:?}");
                } else {
                    detail = "bridge needs at least 3 nodes: nothing cut".into();
                }
                undo = Some(Fault::Heal);
            }
            Fault::OneWay { from, to } => {
                let senders = self.resolve(from, all.clone());
                let receivers = self.resolve(to, all.clone());
                labelled = Some(senders.clone());
                self.heal_links();
                for &a in &senders {
                    for &b in &receivers {
                        if a != b {
                            self.network.cut(a, b);
                        }
                    }
                }
                (&senders, &receivers).hash(&mut canonical);
                detail = format!("one way: {senders:?} -/-> {receivers:?}");
                undo = Some(Fault::Heal);
            }
            Fault::Heal => {
                kind = EventKind::Heal;
                self.heal_links();
            }
            Fault::Disconnect(target) => {
                kind = EventKind::Disconnect;
                let candidates: Vec<usize> = (0..self.node_count)
                    .filter(|&id| !self.disconnected[id])
                    .collect();
                hit = self.resolve(target, candidates);
                self.disconnect(&hit);
                undo = Some(Fault::Connect(Target::Nodes(hit.clone())));
            }
            Fault::Connect(target) => {
                kind = EventKind::Connect;
                let candidates: Vec<usize> = (0..self.node_count)
                    .filter(|&id| self.disconnected[id])
                    .collect();
                hit = self.resolve(target, candidates);
                self.connect(&hit);
            }
            Fault::Crash(target) => {
                kind = EventKind::Crash;
                let candidates = self.nodes_where(|state| state.up);
                hit = self.resolve(target, candidates);
                for &id in &hit {
                    self.crash(id);
                }
                undo = Some(Fault::Restart(Target::Nodes(hit.clone())));
            }
            Fault::Restart(target) => {
                kind = EventKind::Restart;
                let candidates = self.nodes_where(|state| !state.up);
                hit = self.resolve(target, candidates);
            }
            Fault::Pause(target) => {
                kind = EventKind::Pause;
                let candidates = self.processes_where(target, |state| state.up && !state.paused);
                hit = self.resolve(target, candidates);
                for &id in &hit {
                    self.processes[id].paused = true;
                }
                undo = Some(Fault::Resume(Target::Nodes(hit.clone())));
            }
            Fault::Resume(target) => {
                kind = EventKind::Resume;
                let candidates = self.processes_where(target, |state| state.paused);
                hit = self.resolve(target, candidates);
            }
            Fault::ClockSkew {
                target,
                offset,
                drift_ppm,
            } => {
                kind = EventKind::ClockSkew;
                let candidates = self.processes_where(target, |_| true);
                hit = self.resolve(target, candidates);
                for &id in &hit {
                    self.processes[id].clock.skew(self.now, *offset, *drift_ppm);
                }
                (offset, drift_ppm).hash(&mut canonical);
                detail = format!("offset {offset}ns drift {drift_ppm}ppm");
                undo = Some(Fault::ClockReset(Target::Nodes(hit.clone())));
            }
            Fault::ClockReset(target) => {
                kind = EventKind::ClockSkew;
                let candidates = self.processes_where(target, |_| true);
                hit = self.resolve(target, candidates);
                for &id in &hit {
                    self.processes[id].clock.reset(self.now);
                }
                detail = "reset".into();
            }
            Fault::DiskCorrupt(target) => {
                kind = EventKind::DiskFault;
                hit = self.resolve(target, all.clone());
                let mut places = Vec::new();
                for &id in &hit {
                    let place = self.disks[id].corrupt(&mut self.fault_rng);
                    if place.is_some() {
                        self.effect("sim_disk_bit_flipped");
                    }
                    place.hash(&mut canonical);
                    places.push(
                        place.map_or("empty disk".into(), |(file, at)| format!("{file}@{at}")),
                    );
                }
                detail = format!("corrupt {}", places.join(", "));
            }
            Fault::DiskLoseUnsynced(target) => {
                kind = EventKind::DiskFault;
                hit = self.resolve(target, all.clone());
                let mut lost = 0;
                for &id in &hit {
                    lost += usize::from(self.disks[id].lose_unsynced(&mut self.fault_rng));
                }
                if lost > 0 {
                    self.effect("sim_unsynced_write_dropped");
                }
                lost.hash(&mut canonical);
                detail = format!("lose unsynced write ({lost} lost)");
            }
            Fault::DiskFailRead { target, count } => {
                kind = EventKind::DiskFault;
                hit = self.resolve(target, all.clone());
                for &id in &hit {
                    self.disks[id].fail_reads(*count);
                }
                count.hash(&mut canonical);
                detail = format!("fail next {count} reads");
            }
            Fault::DiskMisdirect(target) => {
                kind = EventKind::DiskFault;
                // Like `DiskFailRead`, down nodes are armed too: their crash has
                // already cleared what was pending, so the first write after the
                // restart (often the recovery's own) is the one misdirected.
                hit = self.resolve(target, all.clone());
                for &id in &hit {
                    self.disks[id].misdirect_writes(1);
                }
                detail = "misdirect the next write".into();
            }
            Fault::DiskTranspose(target) => {
                kind = EventKind::DiskFault;
                hit = self.resolve(target, all.clone());
                let mut places = Vec::new();
                for &id in &hit {
                    let place = self.disks[id].transpose(&mut self.fault_rng);
                    if place.is_some() {
                        self.effect("sim_disk_bytes_transposed");
                    }
                    place.hash(&mut canonical);
                    places.push(
                        place.map_or("no differing adjacent bytes".into(), |(file, at)| {
                            format!("{file}@{at}")
                        }),
                    );
                }
                detail = format!("transpose {}", places.join(", "));
            }
            Fault::Join(target) => {
                kind = EventKind::Membership;
                let members = &self.members;
                let candidates: Vec<usize> = self
                    .nodes_where(|state| state.up && !state.paused)
                    .into_iter()
                    .filter(|&id| !members[id])
                    .collect();
                hit = self.resolve(target, candidates);
                for &id in &hit {
                    debug_assert!(!self.members[id]);
                    self.members[id] = true;
                    self.effect("sim_node_joined");
                }
                undo = Some(Fault::Leave(Target::Nodes(hit.clone())));
            }
            Fault::Leave(target) => {
                kind = EventKind::Membership;
                let members = &self.members;
                let candidates: Vec<usize> = self
                    .nodes_where(|state| state.up && !state.paused)
                    .into_iter()
                    .filter(|&id| members[id])
                    .collect();
                hit = self.resolve(target, candidates);
                let count = self.members.iter().filter(|&&member| member).count();
                let allowed = count.saturating_sub(self.min_members);
                if hit.len() > allowed {
                    // The floor holds: the first of the resolved nodes leave,
                    // the rest stay members.
                    let kept = hit.split_off(allowed);
                    kept.hash(&mut canonical);
                    detail = format!(
                        "{kept:?} stay: {count} members, at least {} must remain",
                        self.min_members
                    );
                }
                for &id in &hit {
                    debug_assert!(self.members[id]);
                    self.members[id] = false;
                    self.effect("sim_node_left");
                }
                debug_assert!(
                    self.members.iter().filter(|&&member| member).count() >= self.min_members
                        || hit.is_empty()
                );
                undo = Some(Fault::Join(Target::Nodes(hit.clone())));
            }
            Fault::Slow { target, factor } => {
                kind = EventKind::Slow;
                // The machine is slow, not the process: a down node is slowed
                // too, and stays slow through its restart.
                hit = self.resolve(target, all.clone());
                for &id in &hit {
                    self.slowdowns[id] = *factor;
                    if factor.is_slow() {
                        self.effect("sim_node_slowed");
                    }
                }
                factor.thousandths().hash(&mut canonical);
                detail = format!("factor {factor}");
                undo = Some(Fault::Slow {
                    target: Target::Nodes(hit.clone()),
                    factor: SlowFactor::NORMAL,
                });
            }
            Fault::HealAll => {
                kind = EventKind::LivenessStart;
                self.heal_links();
                self.workload_open = false;
                for id in 0..self.node_count + self.client_count {
                    self.processes[id].clock.reset(self.now);
                }
                let slow: Vec<usize> = (0..self.node_count)
                    .filter(|&id| self.slowdowns[id].is_slow())
                    .collect();
                if !slow.is_empty() {
                    // Folded only when there was a slowdown to end, so runs
                    // without slow faults hash as before.
                    slow.hash(&mut canonical);
                    detail = format!("normal speed again {slow:?}");
                    self.slowdowns.fill(SlowFactor::NORMAL);
                }
                hit = self.nodes_where(|state| !state.up || state.paused);
                // Paused clients resume too (clients never crash).
                hit.extend(
                    (self.node_count..self.node_count + self.client_count)
                        .filter(|&id| self.processes[id].paused),
                );
            }
        }
        unset.hash(&mut canonical);
        for name in &unset {
            push_detail(&mut detail, format!("@{name} is unset: it names nobody"));
        }
        let labelled = labelled.unwrap_or_else(|| hit.clone());
        if let Some(name) = &timed.label {
            (name, &labelled).hash(&mut canonical);
            push_detail(&mut detail, format!("label {name} = {labelled:?}"));
            self.set_label(name, labelled.clone());
        }
        let targets_hash = StableHasher::hash_of(&(timed.fault.name(), &hit, canonical.finish()));
        let name = timed.fault.name();
        self.trace(kind, NO_PROCESS, NO_PROCESS, targets_hash, || {
            let mut text = format!("{name} {hit:?}");
            if !detail.is_empty() {
                text.push(' ');
                text.push_str(&detail);
            }
            text
        });
        // Restarts, resumes and membership commands run handlers, so they happen
        // after the fault is traced.
        match &timed.fault {
            Fault::Restart(_) => hit.iter().for_each(|&id| self.restart(id)),
            Fault::Resume(_) => hit.iter().for_each(|&id| self.resume(id)),
            Fault::Join(_) => hit
                .iter()
                .for_each(|&id| self.dispatch(id, Action::Admin(Admin::Join))),
            Fault::Leave(_) => hit
                .iter()
                .for_each(|&id| self.dispatch(id, Action::Admin(Admin::Leave))),
            Fault::HealAll => {
                for &id in &hit {
                    if !self.processes[id].up {
                        self.restart(id);
                    } else {
                        self.resume(id);
                    }
                }
            }
            _ => {}
        }
        if let (Some(duration), Some(undo)) = (timed.duration, undo) {
            let at = self.now + duration;
            self.schedule_fault(at, TimedFault::new(undo));
        }
        labelled
    }

    fn crash(&mut self, id: ProcessId) {
        let state = &mut self.processes[id];
        debug_assert!(state.up);
        state.up = false;
        state.paused = false;
        state.incarnation += 1;
        self.stale_timers += state.timers.len();
        state.timers.clear();
        state.backlog.clear();
        let unsynced = self.disks[id].unsynced_count() as u64;
        let (lost, torn) = (
            self.disks[id].stats.lost_writes,
            self.disks[id].stats.torn_writes,
        );
        self.disks[id].crash(&self.disk_config, &mut self.fault_rng);
        self.nodes[id] = (self.factory)(id);
        self.effect("sim_node_crashed");
        let lost = self.disks[id].stats.lost_writes - lost;
        if lost > 0 {
            self.effect("sim_unsynced_write_lost_at_crash");
        }
        if lost < unsynced {
            self.effect("sim_unsynced_write_kept_at_crash");
        }
        if self.disks[id].stats.torn_writes != torn {
            self.effect("sim_torn_write_at_crash");
        }
    }

    fn restart(&mut self, id: ProcessId) {
        debug_assert!(!self.processes[id].up);
        self.processes[id].up = true;
        self.dispatch(id, Action::Restart);
    }

    fn resume(&mut self, id: ProcessId) {
        self.processes[id].paused = false;
        let backlog = std::mem::take(&mut self.processes[id].backlog);
        if !backlog.is_empty() {
            self.effect(if id < self.node_count {
                "sim_node_paused_backlog_released"
            } else {
                "sim_client_paused_backlog_released"
            });
        }
        for payload in backlog {
            self.push(self.now, payload);
        }
    }
}

/// Appends `more` to a trace detail, separated by a space.
fn push_detail(detail: &mut String, more: String) {
    if !detail.is_empty() {
        detail.push(' ');
    }
    detail.push_str(&more);
}
