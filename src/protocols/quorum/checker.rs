//! What a quorum store run is judged by (linearizability, in strict mode, is
//! the shared checker on the kv model, added beside this one).
//!
//! - **`corruption_never_served`** (always): every value a get returns was
//!   written to that key by some put invoked before the get returned. A
//!   damaged record served (another key's record, bytes traded) breaks it.
//! - **`convergence`** (eventually): at the end of the liveness window, the
//!   replicas of every key that are up, read back and not waiting for a
//!   repair hold the same values. The bound is the window: it must give
//!   anti-entropy a round with every peer (`nodes × anti_entropy_interval`)
//!   and the hints a handoff after the heal.
//! - **`lost_writes`** (eventually; unique values only): no acknowledged put
//!   is gone from the final state unless something after it superseded it.
//!   Under vector clocks a put is superseded when a final version's clock has
//!   the writer's entry at or past the put's number. Under last-write-wins
//!   the final winner may legitimately beat a put it overlapped (concurrent
//!   writers: counted, `quorum_lww_lost`), but not one that began after it
//!   finished — unless `r + w ≤ n`, where the stamp read may miss it, and
//!   the loss is counted too. A key some replica found damaged is excused
//!   (a write on a damaged disk may be gone with it), and counted.
//! - **`hints_delivered`** (eventually): every hint a stand-in took was
//!   applied by its replica by the end, or its loss was reported (the
//!   stand-in found its hint log damaged at a restart). A replica keeps the
//!   ids it applied, so a hint handed off again is not applied twice.
//!
//! Beside the verdict it measures what the CAP table is made of: the
//! availability of operations invoked during a partition, on the majority
//! and on the minority side (the side of the node coordinating the
//! operation), and, under last-write-wins with unique values, whether the
//! history is linearizable — a verdict only in strict mode, a measure in
//! every mode.

use super::membership::View;
use super::{HintId, Quorum, QuorumConfig, Settings, Versioning, Versions, key_name};
use crate::check::{Checker, Finding};
use crate::sim::{EventType, Step, Value, World};
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

/// The quorum store checker (see the module documentation).
#[derive(Clone, Debug)]
pub struct QuorumChecker {
    settings: Rc<Settings>,
    nodes: usize,
    history_cursor: usize,
    /// Values put to each key (history key name → values).
    written: BTreeMap<String, BTreeSet<i64>>,
    /// Hints seen held, and by which stand-in.
    hints_seen: BTreeSet<HintId>,
    hints_applied: BTreeMap<HintId, u64>,
    /// Stand-ins that reported their hint log damaged, and when (hints seen
    /// before then are excused).
    hints_excused: BTreeSet<HintId>,
    /// Per node: (incarnation, applications seen, records found damaged).
    cursors: Vec<(u32, usize, u64)>,
    detected: u64,
    damaged_keys: BTreeSet<u64>,
    lww_lost: u64,
    damage_lost: u64,
    gets: u64,
    gets_ok: u64,
    puts: u64,
    puts_ok: u64,
    /// Per client: which side of a partition its open operation's
    /// coordinator was on when it was invoked (true: a majority side).
    sides: BTreeMap<u64, bool>,
    /// Operations invoked during a partition, and those answered ok, on the
    /// majority side and on a minority side.
    partitioned: [(u64, u64); 2],
    /// Whether the history is linearizable (kv model), where it is measured.
    linearizable: Option<bool>,
    /// Gets that followed an acknowledged put of their key, and those of
    /// them that were fresh.
    fresh: (u64, u64),
}

impl QuorumChecker {
    /// A checker for a run with these settings and `nodes` nodes.
    pub fn new(settings: Rc<Settings>, nodes: usize) -> Self {
        QuorumChecker {
            settings,
            nodes,
            history_cursor: 0,
            written: BTreeMap::new(),
            hints_seen: BTreeSet::new(),
            hints_applied: BTreeMap::new(),
            hints_excused: BTreeSet::new(),
            cursors: vec![(0, 0, 0); nodes],
            detected: 0,
            damaged_keys: BTreeSet::new(),
            lww_lost: 0,
            damage_lost: 0,
            gets: 0,
            gets_ok: 0,
            puts: 0,
            puts_ok: 0,
            sides: BTreeMap::new(),
            partitioned: [(0, 0); 2],
            linearizable: None,
            fresh: (0, 0),
        }
    }

    fn config(&self) -> &QuorumConfig {
        &self.settings.config
    }

    fn look(&mut self, world: &World<Quorum>, node: usize) {
        let Some(store) = world.node(node).store() else {
            return;
        };
        let incarnation = world.incarnation(node);
        let cursor = &mut self.cursors[node];
        if cursor.0 != incarnation {
            *cursor = (incarnation, 0, 0);
            if store.hint_log_damaged() {
                let lost: Vec<HintId> = self
                    .hints_seen
                    .iter()
                    .filter(|id| id.stand_in == node)
                    .copied()
                    .collect();
                self.hints_excused.extend(lost);
            }
        }
        for &id in &store.applications()[cursor.1..] {
            *self.hints_applied.entry(id).or_default() += 1;
        }
        cursor.1 = store.applications().len();
        self.detected += store.detected() - cursor.2;
        cursor.2 = store.detected();
        self.hints_seen.extend(store.hints().keys().copied());
        self.damaged_keys.extend(store.damaged().iter().copied());
    }

    fn look_at_history(&mut self, world: &World<Quorum>) -> Option<Finding> {
        let history = world.history();
        let mut finding = None;
        for event in &history[self.history_cursor..] {
            self.side_of(world, event);
            let Some(key) = &event.key else {
                continue;
            };
            match (event.kind, event.f.as_str()) {
                (EventType::Invoke, "put") => {
                    self.puts += 1;
                    if let Value::Int(value) = event.value {
                        self.written.entry(key.clone()).or_default().insert(value);
                    }
                }
                (EventType::Invoke, "get") => self.gets += 1,
                (EventType::Ok, "put") => self.puts_ok += 1,
                (EventType::Ok, "get") => {
                    self.gets_ok += 1;
                    let values = read_values(&event.value);
                    let written = self.written.get(key);
                    if let Some(bad) = values
                        .iter()
                        .find(|v| !written.is_some_and(|set| set.contains(v)))
                        && finding.is_none()
                    {
                        finding = Some(Finding::always(
                            "corruption_never_served",
                            format!(
                                "process {} read {bad} from {key} at {}, a value no put to {key} wrote: a damaged or misplaced record was served",
                                event.process,
                                crate::sim::time::Duration(event.time)
                            ),
                        ));
                    }
                }
                _ => {}
            }
        }
        self.history_cursor = history.len();
        finding
    }

    /// Availability by side of a partition: an operation invoked while the
    /// network is partitioned belongs to the side of the node coordinating
    /// it (a majority side if that node reaches more than half the nodes).
    fn side_of(&mut self, world: &World<Quorum>, event: &crate::sim::HistoryEvent) {
        let process = event.process;
        match event.kind {
            EventType::Invoke => {
                let network = world.network();
                let target = world.client(process as usize).target();
                if let Some(target) = target.filter(|_| network.is_partitioned()) {
                    let reach = (0..self.nodes)
                        .filter(|&other| other == target || !network.is_cut(target, other))
                        .count();
                    self.sides.insert(process, reach * 2 > self.nodes);
                }
            }
            kind => {
                if let Some(majority) = self.sides.remove(&process) {
                    let side = &mut self.partitioned[usize::from(!majority)];
                    side.0 += 1;
                    side.1 += u64::from(kind == EventType::Ok);
                }
            }
        }
    }

    /// Staleness as PBS defines it: a get is fresh when it returns the
    /// value of the latest put of its key acknowledged before the get began,
    /// or a value written after that (a put invoked once it was
    /// acknowledged).
    fn freshness(&self, world: &World<Quorum>) -> (u64, u64) {
        let mut latest: BTreeMap<&str, (i64, u64)> = BTreeMap::new();
        let mut invoked: BTreeMap<(&str, i64), u64> = BTreeMap::new();
        let mut asked: BTreeMap<u64, (i64, u64)> = BTreeMap::new();
        let (mut counted, mut fresh) = (0, 0);
        for event in world.history() {
            let Some(key) = event.key.as_deref() else {
                continue;
            };
            match (event.kind, event.f.as_str(), &event.value) {
                (EventType::Invoke, "put", Value::Int(value)) => {
                    invoked.insert((key, *value), event.time);
                }
                (EventType::Ok, "put", Value::Int(value)) => {
                    latest.insert(key, (*value, event.time));
                }
                (EventType::Invoke, "get", _) => {
                    if let Some(&last) = latest.get(key) {
                        asked.insert(event.process, last);
                    }
                }
                (EventType::Ok, "get", read) => {
                    let Some((value, acked)) = asked.remove(&event.process) else {
                        continue;
                    };
                    let values = read_values(read);
                    counted += 1;
                    if values.iter().any(|&v| {
                        v == value || invoked.get(&(key, v)).is_some_and(|&at| at > acked)
                    }) {
                        fresh += 1;
                    }
                }
                (_, "get", _) => {
                    asked.remove(&event.process);
                }
                _ => {}
            }
        }
        (counted, fresh)
    }

    /// The merge of the views of the nodes that are up and read back.
    fn final_view(&self, world: &World<Quorum>) -> View {
        let mut view = self.settings.initial_view();
        for node in 0..self.nodes {
            if world.is_up(node) && world.node(node).store().is_some() {
                view.merge(world.node(node).view());
            }
        }
        view
    }

    /// `membership` (eventually): every node that is up holds the same
    /// settled view, and its ring is the one the operator asked for.
    fn membership(&self, world: &World<Quorum>, view: &View) -> Option<Finding> {
        let fail = |message: String| Some(Finding::eventually("membership", message));
        for node in 0..self.nodes {
            if !world.is_up(node) || world.node(node).store().is_none() {
                continue;
            }
            let held = world.node(node).view();
            if held != view {
                return fail(format!(
                    "after the heal node {node} still sees the ring as {}, not {}",
                    describe(held),
                    describe(view)
                ));
            }
            if world.node(node).changing() {
                return fail(format!(
                    "after the heal node {node} has still not finished its change to {}",
                    view.entry(node).standing.name()
                ));
            }
        }
        if !view.settled() {
            return fail(format!(
                "after the heal a change is still in progress: {}",
                describe(view)
            ));
        }
        let asked: Vec<usize> = (0..self.nodes)
            .filter(|&node| world.is_member(node))
            .collect();
        if view.new_members() != asked {
            return fail(format!(
                "after the heal the ring's members are {:?}, but the operator's joins and leaves leave {asked:?}",
                view.new_members()
            ));
        }
        None
    }

    /// Each key's versions at every replica that can say.
    fn final_state(
        &self,
        world: &World<Quorum>,
        view: &View,
    ) -> BTreeMap<u64, Vec<(usize, Versions)>> {
        let lists = self.settings.lists(view);
        let mut state: BTreeMap<u64, Vec<(usize, Versions)>> = BTreeMap::new();
        for key in 0..self.config().keys {
            for node in lists.replicas(key) {
                if !world.is_up(node) {
                    continue;
                }
                let Some(store) = world.node(node).store() else {
                    continue;
                };
                if store.damaged().contains(&key) {
                    continue;
                }
                let held = store.mirror().get(&key).cloned().unwrap_or_default();
                state.entry(key).or_default().push((node, held));
            }
        }
        state
    }

    fn convergence(&self, state: &BTreeMap<u64, Vec<(usize, Versions)>>) -> Option<Finding> {
        for (key, held) in state {
            let Some((first, reference)) = held.first() else {
                continue;
            };
            if let Some((other, differs)) = held
                .iter()
                .find(|(_, versions)| versions.values() != reference.values())
            {
                return Some(Finding::eventually(
                    "convergence",
                    format!(
                        "after the heal {} still differs: node {first} holds {:?}, node {other} holds {:?}",
                        key_name(*key),
                        reference.values(),
                        differs.values()
                    ),
                ));
            }
        }
        None
    }

    fn lost_writes(
        &mut self,
        world: &World<Quorum>,
        state: &BTreeMap<u64, Vec<(usize, Versions)>>,
    ) -> Option<Finding> {
        if self.config().value_range != 0 {
            return None;
        }
        // Each put's interval: (process, invoked, completed if ok).
        let mut puts: BTreeMap<i64, (String, u64, Option<u64>)> = BTreeMap::new();
        for event in world.history() {
            let (Some(key), Value::Int(value)) = (&event.key, &event.value) else {
                continue;
            };
            if event.f != "put" {
                continue;
            }
            match event.kind {
                EventType::Invoke => {
                    puts.insert(*value, (key.clone(), event.time, None));
                }
                EventType::Ok => {
                    if let Some(put) = puts.get_mut(value) {
                        put.2 = Some(event.time);
                    }
                }
                _ => {}
            }
        }
        let strict_quorum = self.config().r + self.config().w > self.config().n;
        let mut first = None;
        for (key, held) in state {
            let mut merged = Versions::Empty;
            for (_, versions) in held {
                merged.merge(versions);
            }
            let name = key_name(*key);
            let finals = merged.values();
            for (&value, (put_key, invoked, completed)) in &puts {
                let Some(completed) = completed else {
                    continue;
                };
                if *put_key != name || finals.contains(&value) {
                    continue;
                }
                let Some((client, seq)) = QuorumConfig::writer_of(value) else {
                    continue;
                };
                let superseded = match (&merged, self.config().versioning) {
                    (Versions::Clocks(siblings), Versioning::VectorClock) => {
                        let actor = self.nodes + client;
                        siblings
                            .versions()
                            .iter()
                            .any(|version| version.clock.get(actor) >= seq)
                    }
                    (Versions::Lww { value: winner, .. }, Versioning::Lww) => {
                        match puts.get(winner) {
                            Some((_, winner_invoked, _)) if winner_invoked > completed => true,
                            Some((_, _, Some(winner_done))) if winner_done < invoked => false,
                            _ => {
                                // Overlapping writers: last-write-wins drops one.
                                self.lww_lost += 1;
                                true
                            }
                        }
                    }
                    _ => false,
                };
                if superseded {
                    continue;
                }
                if self.damaged_keys.contains(key) {
                    self.damage_lost += 1;
                    continue;
                }
                if self.config().versioning == Versioning::Lww && !strict_quorum {
                    self.lww_lost += 1;
                    continue;
                }
                if first.is_none() {
                    first = Some(Finding::eventually(
                        "lost_writes",
                        format!(
                            "the put of {value} to {name} was acknowledged at {} and is gone: the replicas end with {finals:?}, and no later write superseded it",
                            crate::sim::time::Duration(*completed)
                        ),
                    ));
                }
            }
        }
        first
    }

    fn hints(&self) -> Option<Finding> {
        let lost: Vec<&HintId> = self
            .hints_seen
            .iter()
            .filter(|id| !self.hints_applied.contains_key(id) && !self.hints_excused.contains(id))
            .collect();
        let first = lost.first()?;
        Some(Finding::eventually(
            "hints_delivered",
            format!(
                "{} hint{} never reached {} replica{}; the first: hint {} of stand-in {}",
                lost.len(),
                if lost.len() == 1 { "" } else { "s" },
                if lost.len() == 1 { "its" } else { "their" },
                if lost.len() == 1 { "" } else { "s" },
                first.seq,
                first.stand_in
            ),
        ))
    }
}

impl Checker<Quorum> for QuorumChecker {
    fn name(&self) -> &'static str {
        "quorum"
    }

    fn after_step(&mut self, world: &World<Quorum>, step: Step) -> Option<Finding> {
        match step {
            Step::Delivered { to, .. } if to < self.nodes => self.look(world, to),
            Step::Timer { process } if process < self.nodes => self.look(world, process),
            Step::Fault | Step::Driver => {
                for node in 0..self.nodes {
                    self.look(world, node);
                }
            }
            Step::Delivered { .. } | Step::Timer { .. } => {}
            Step::Dropped | Step::Skipped => return None,
        }
        self.look_at_history(world)
    }

    fn at_end(&mut self, world: &World<Quorum>) -> Vec<Finding> {
        for node in 0..self.nodes {
            self.look(world, node);
        }
        let mut findings: Vec<Finding> = self.look_at_history(world).into_iter().collect();
        let view = self.final_view(world);
        findings.extend(self.membership(world, &view));
        let state = self.final_state(world, &view);
        findings.extend(self.convergence(&state));
        findings.extend(self.lost_writes(world, &state));
        findings.extend(self.hints());
        self.fresh = self.freshness(world);
        // The consistency half of the CAP table, in every mode: a measure
        // (strict mode also checks it as a property).
        let config = self.config();
        if config.versioning == Versioning::Lww && config.value_range == 0 {
            let verdict = crate::check::check_events(
                crate::check::models::Kv,
                world.history(),
                &crate::check::Budget::default(),
            );
            self.linearizable = match verdict {
                Ok(crate::check::Verdict::Linearizable) => Some(true),
                Ok(crate::check::Verdict::NotLinearizable(_)) => Some(false),
                _ => None,
            };
        }
        findings
    }

    fn measures(&self) -> Vec<(&'static str, f64)> {
        let ratio = |ok: u64, all: u64| {
            if all == 0 {
                1.0
            } else {
                ok as f64 / all as f64
            }
        };
        let mut measures = Vec::new();
        for (name, (all, ok)) in [
            ("quorum_majority_side_availability", self.partitioned[0]),
            ("quorum_minority_side_availability", self.partitioned[1]),
        ] {
            if all > 0 {
                measures.push((name, ratio(ok, all)));
            }
        }
        if self.fresh.0 > 0 {
            measures.push(("quorum_fresh", ratio(self.fresh.1, self.fresh.0)));
        }
        if let Some(linearizable) = self.linearizable {
            measures.push(("quorum_linearizable", f64::from(u8::from(linearizable))));
        }
        measures.extend([
            ("quorum_get_availability", ratio(self.gets_ok, self.gets)),
            ("quorum_put_availability", ratio(self.puts_ok, self.puts)),
            ("quorum_lww_lost", self.lww_lost as f64),
            ("quorum_lost_to_damage", self.damage_lost as f64),
            ("quorum_corruptions_detected", self.detected as f64),
            ("quorum_hints", self.hints_seen.len() as f64),
            (
                "quorum_hints_reapplied",
                self.hints_applied
                    .values()
                    .map(|&n| n.saturating_sub(1))
                    .sum::<u64>() as f64,
            ),
        ]);
        measures
    }
}

/// A view as the checker says it: each node's standing.
fn describe(view: &View) -> String {
    let entries: Vec<String> = view
        .entries()
        .iter()
        .enumerate()
        .map(|(node, entry)| format!("{node}: {}", entry.standing.name()))
        .collect();
    format!("[{}]", entries.join(", "))
}

/// The values a get returned: one, several (siblings), or none.
fn read_values(read: &Value) -> Vec<i64> {
    match read {
        Value::Int(value) => vec![*value],
        Value::List(list) => list
            .iter()
            .filter_map(|v| match v {
                Value::Int(value) => Some(*value),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}
