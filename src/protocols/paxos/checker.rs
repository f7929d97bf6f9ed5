//! Paxos's invariants, judged from outside the nodes over the whole run.
//!
//! Every node reports what its latest handler did: each acceptance its acceptor
//! made (slot, ballot, value) and each slot its learner applied. The checker keeps
//! its own record of every acceptance ever made — an acceptor that crashes and
//! forgets cannot take the evidence with it — and derives from it which value was
//! *chosen* in each slot: the value a majority of acceptors accepted in one
//! ballot. It checks:
//!
//! - **ballot uniqueness** (always): one ballot carries one value per slot;
//! - **agreement** (always): at most one value is chosen per slot, across every
//!   ballot of the run, crashes and restarts included;
//! - **validity** (always): a chosen value is a no-op or a client's operation,
//!   exactly as that client invoked it;
//! - **learning** (always): a node applies in a slot only the value chosen
//!   there — so no two nodes apply different values in a slot — and applies slots
//!   in order without gaps (after a restart or a snapshot, from the snapshot's
//!   slot on), and nodes that applied the same slots hold the same state (equal
//!   applied digests);
//! - **liveness** (eventually): at the end of the liveness window, when a majority
//!   can serve, the cluster settled after the heal — with a leader (in leader
//!   mode) that has nothing in flight and every serving node applied as far as it —
//!   and every client operation open at the heal completed (see
//!   [`crate::check::heal`]); in leader mode, once the cluster settled, the
//!   leader changed at most three times (loss can still depose a leader now
//!   and then; a flapping one changes far more often).

use super::{Ballot, Command, Paxos, PaxosNode, Record, majority};
use crate::check::checker::entry_at;
use crate::check::heal::OpenAtHeal;
use crate::check::views::{AppliedDigests, Incarnations};
use crate::check::{Checker, Finding};
use crate::sim::time::{Duration, format_nanos};
use crate::sim::trace::StableHasher;
use crate::sim::{EventType, Step, Value, World};
use std::rc::Rc;

/// One ballot's acceptances in one slot.
#[derive(Clone, Debug)]
struct Votes {
    ballot: Ballot,
    hash: u64,
    command: Rc<Command>,
    /// Acceptors that accepted, one bit per node.
    acceptors: u64,
}

/// What was chosen in a slot, and in which ballot first.
#[derive(Clone, Debug)]
struct Chosen {
    ballot: Ballot,
    hash: u64,
    command: Rc<Command>,
}

/// What the checker knows of one incarnation of a node.
#[derive(Clone, Debug, Default)]
struct NodeView {
    /// Records of this incarnation already checked.
    seen: u64,
    /// The last slot it applied.
    applied: u64,
}

/// Paxos's safety and liveness checker. See the module documentation.
#[derive(Clone, Debug)]
pub struct PaxosChecker {
    leader_mode: bool,
    /// By slot: the acceptances of every ballot.
    votes: Vec<Vec<Votes>>,
    /// By slot: the chosen value.
    chosen: Vec<Option<Chosen>>,
    /// By slot: the applied digest first reached after it.
    digests: AppliedDigests,
    views: Incarnations<NodeView>,
    /// Per client (by index): the (operation, key, argument) of each invocation.
    invocations: Vec<Vec<(String, Option<String>, Value)>>,
    history_seen: usize,
    /// The highest slot in which a value was chosen.
    max_chosen: u64,
    open_at_heal: OpenAtHeal,
    converged: Option<u64>,
    /// Leader mode, once the cluster settled after the heal: the last leader
    /// seen, and each change of leader since (time, new leader, its ballot).
    leader_seen: Option<usize>,
    leader_changes: Vec<(u64, usize, Ballot)>,
}

/// Leader changes allowed after the cluster settled. Message loss can still
/// cost a leader its followers now and then; a leader that flaps does it far
/// more often.
const MAX_LEADER_CHANGES: usize = 3;

impl PaxosChecker {
    /// A checker; `leader_mode` says whether the cluster runs with a
    /// distinguished leader; `grace` is how long after the heal the cluster may
    /// take before client operations must succeed.
    pub fn new(leader_mode: bool, grace: Duration) -> Self {
        PaxosChecker {
            leader_mode,
            votes: Vec::new(),
            chosen: Vec::new(),
            digests: AppliedDigests::default(),
            views: Incarnations::new(),
            invocations: Vec::new(),
            history_seen: 0,
            max_chosen: 0,
            open_at_heal: OpenAtHeal::new(grace),
            converged: None,
            leader_seen: None,
            leader_changes: Vec::new(),
        }
    }

    fn check_node(&mut self, world: &World<Paxos>, id: usize) -> Option<Finding> {
        if !world.is_up(id) {
            return None;
        }
        let seen = self.views.view(world, id).seen;
        let node = world.node(id);
        let before = node.records_before();
        let records = node.records();
        let total = before + records.len() as u64;
        if seen >= total {
            return None;
        }
        self.views.get_mut(id).seen = total;
        let skip = seen.saturating_sub(before) as usize;
        for record in &records[skip..] {
            let found = match record {
                Record::Accepted {
                    slot,
                    ballot,
                    command,
                } => self.accepted(world, id, *slot, *ballot, command),
                Record::Applied {
                    slot,
                    command,
                    digest,
                } => self.applied(id, *slot, command, *digest),
                Record::Restored { slot, digest } => self.restored(id, *slot, *digest),
            };
            if found.is_some() {
                return found;
            }
        }
        None
    }

    fn accepted(
        &mut self,
        world: &World<Paxos>,
        id: usize,
        slot: u64,
        ballot: Ballot,
        command: &Rc<Command>,
    ) -> Option<Finding> {
        let hash = StableHasher::hash_of(&**command);
        let votes = entry_at(&mut self.votes, slot);
        let position = match votes.iter().position(|votes| votes.ballot == ballot) {
            Some(position) => position,
            None => {
                votes.push(Votes {
                    ballot,
                    hash,
                    command: command.clone(),
                    acceptors: 0,
                });
                votes.len() - 1
            }
        };
        let entry = &mut votes[position];
        if entry.hash != hash {
            return Some(Finding::always(
                "ballot_uniqueness",
                format!(
                    "ballot uniqueness: in slot {slot}, ballot {ballot} carried {:?} (accepted by nodes {:?}) and {command:?} (accepted by node {id})",
                    entry.command,
                    nodes(entry.acceptors)
                ),
            ));
        }
        entry.acceptors |= 1 << id;
        if (entry.acceptors.count_ones() as usize) < majority(world.node_count()) {
            return None;
        }
        let acceptors = entry.acceptors;
        match entry_at(&mut self.chosen, slot) {
            Some(chosen) if chosen.hash != hash => Some(Finding::always(
                "agreement",
                format!(
                    "agreement: slot {slot} chose {:?} in ballot {}, and now {command:?} in ballot {ballot} (accepted by nodes {:?})",
                    chosen.command,
                    chosen.ballot,
                    nodes(acceptors)
                ),
            )),
            Some(_) => None,
            chosen @ None => {
                self.max_chosen = self.max_chosen.max(slot);
                *chosen = Some(Chosen {
                    ballot,
                    hash,
                    command: command.clone(),
                });
                self.validity(world, slot, command)
            }
        }
    }

    /// A chosen client operation must be one a client invoked, as invoked.
    fn validity(
        &mut self,
        world: &World<Paxos>,
        slot: u64,
        command: &Rc<Command>,
    ) -> Option<Finding> {
        let Command::Kv(command) = &**command else {
            return None;
        };
        let history = world.history();
        for event in &history[self.history_seen..] {
            if event.kind == EventType::Invoke {
                let client = event.process as usize;
                if self.invocations.len() <= client {
                    self.invocations.resize_with(client + 1, Vec::new);
                }
                self.invocations[client].push((
                    event.f.clone(),
                    event.key.clone(),
                    event.value.clone(),
                ));
            }
        }
        self.history_seen = history.len();
        let invoked = (command.client as usize)
            .checked_sub(world.node_count())
            .and_then(|client| self.invocations.get(client))
            .and_then(|calls| calls.get((command.seq as usize).checked_sub(1)?));
        let op = &command.op;
        let matches = invoked.is_some_and(|(f, key, value)| {
            f == op.name() && key.as_deref() == Some(op.key()) && *value == op.argument()
        });
        if matches {
            return None;
        }
        Some(Finding::always(
            "validity",
            format!(
                "validity: slot {slot} chose {command:?}, but client process {} invoked {}",
                command.client,
                match invoked {
                    Some((f, key, value)) =>
                        format!("{f} {key:?} {value:?} as its request {}", command.seq),
                    None => format!("no request {}", command.seq),
                }
            ),
        ))
    }

    fn applied(
        &mut self,
        id: usize,
        slot: u64,
        command: &Rc<Command>,
        digest: u64,
    ) -> Option<Finding> {
        let view = self.views.get_mut(id);
        if slot != view.applied + 1 {
            return Some(Finding::always(
                "learning",
                format!(
                    "learning: node {id} applied slot {slot} after slot {} (slots must be applied in order, without gaps)",
                    view.applied
                ),
            ));
        }
        view.applied = slot;
        let hash = StableHasher::hash_of(&**command);
        match entry_at(&mut self.chosen, slot) {
            None => {
                return Some(Finding::always(
                    "learning",
                    format!(
                        "learning: node {id} applied {command:?} in slot {slot}, where no value was chosen (no majority accepted it in one ballot)"
                    ),
                ));
            }
            Some(chosen) if chosen.hash != hash => {
                return Some(Finding::always(
                    "learning",
                    format!(
                        "learning: node {id} applied {command:?} in slot {slot}, where {:?} was chosen (ballot {})",
                        chosen.command, chosen.ballot
                    ),
                ));
            }
            Some(_) => {}
        }
        self.digest(id, slot, digest)
    }

    fn restored(&mut self, id: usize, slot: u64, digest: u64) -> Option<Finding> {
        self.views.get_mut(id).applied = slot;
        self.digest(id, slot, digest)
    }

    fn digest(&mut self, id: usize, slot: u64, digest: u64) -> Option<Finding> {
        if let Some(first) = self.digests.disagrees(slot, digest, id) {
            return Some(Finding::always(
                "learning",
                format!(
                    "learning: nodes {first} and {id} applied different values (or a different order) up to slot {slot}"
                ),
            ));
        }
        None
    }

    /// Whether the cluster has settled: nothing in flight anywhere, every
    /// serving node applied every slot chosen so far, and (leader mode) a leader.
    fn settled(&self, world: &World<Paxos>) -> bool {
        let caught_up = (0..world.node_count())
            .filter(|&id| world.is_up(id) && world.node(id).serving())
            .map(|id| world.node(id))
            .all(|node: &PaxosNode| node.applied() >= self.max_chosen && node.outstanding() == 0);
        caught_up && (!self.leader_mode || Self::leader(world).is_some())
    }

    /// The serving leader that can make progress: the leading node of the
    /// highest ballot, if a majority of all nodes serve and promised nothing
    /// above it. (A node whose campaign failed may have promised itself more
    /// for a moment; the leader re-asserts itself above that.)
    fn leader(world: &World<Paxos>) -> Option<usize> {
        let serving =
            (0..world.node_count()).filter(|&id| world.is_up(id) && world.node(id).serving());
        let leader = serving
            .clone()
            .filter(|&id| world.node(id).is_leading())
            .max_by_key(|&id| world.node(id).ballot())?;
        let ballot = world.node(leader).ballot();
        let followers = serving
            .filter(|&id| world.node(id).promised() <= ballot)
            .count();
        (followers >= majority(world.node_count())).then_some(leader)
    }
}

/// The ids set in `mask`.
fn nodes(mask: u64) -> Vec<usize> {
    (0..64).filter(|id| mask & (1 << id) != 0).collect()
}

impl Checker<Paxos> for PaxosChecker {
    fn name(&self) -> &'static str {
        "paxos"
    }

    fn after_step(&mut self, world: &World<Paxos>, step: Step) -> Option<Finding> {
        self.open_at_heal.observe(world, step);
        if self.open_at_heal.healed().is_some() {
            if self.converged.is_none() && self.settled(world) {
                self.converged = Some(world.now());
                self.leader_seen = Self::leader(world);
            }
            if self.leader_mode && self.converged.is_some() {
                // A new leader counts; the same leader re-preparing under a
                // higher ballot, or a moment without one, does not.
                if let Some(id) = Self::leader(world)
                    && self.leader_seen != Some(id)
                {
                    self.leader_seen = Some(id);
                    let ballot = world.node(id).ballot();
                    self.leader_changes.push((world.now(), id, ballot));
                }
            }
        }
        match step {
            Step::Delivered { to, .. } if to < world.node_count() => self.check_node(world, to),
            Step::Timer { process } if process < world.node_count() => {
                self.check_node(world, process)
            }
            Step::Fault | Step::Driver => {
                (0..world.node_count()).find_map(|id| self.check_node(world, id))
            }
            _ => None,
        }
    }

    fn at_end(&mut self, world: &World<Paxos>) -> Vec<Finding> {
        let mut findings = Vec::new();
        let serving: Vec<usize> = (0..world.node_count())
            .filter(|&id| world.is_up(id) && world.node(id).serving())
            .collect();
        if serving.len() < majority(world.node_count()) {
            return findings; // no majority can serve: no progress is required
        }
        if self.converged.is_none() {
            let state: Vec<String> = serving
                .iter()
                .map(|&id| {
                    let node = world.node(id);
                    format!(
                        "node {id}: {}ballot {}, applied {}, {} outstanding",
                        if node.is_leading() { "leading, " } else { "" },
                        node.ballot(),
                        node.applied(),
                        node.outstanding()
                    )
                })
                .collect();
            let leader = if self.leader_mode {
                "a leader with nothing in flight and"
            } else {
                "nothing in flight and"
            };
            findings.push(Finding::eventually("liveness", format!(
                    "the cluster never settled after the heal ({leader} every serving node applied every chosen slot, through {}); at the end: {}",
                    self.max_chosen,
                    state.join("; ")
                )));
        }
        // A stable leader once settled: no more than a few changes.
        if let Some(settled) = self.converged
            && self.leader_changes.len() > MAX_LEADER_CHANGES
        {
            let changes: Vec<String> = self
                .leader_changes
                .iter()
                .take(8)
                .map(|(time, id, ballot)| {
                    format!("node {id} ({ballot}) at {}", format_nanos(*time))
                })
                .collect();
            findings.push(Finding::eventually("liveness", format!(
                    "no stable leader: after the cluster settled at {}, the leader changed {} times (at most {MAX_LEADER_CHANGES} allowed): {}",
                    format_nanos(settled),
                    self.leader_changes.len(),
                    changes.join(", ")
                )));
        }
        findings.extend(self.open_at_heal.findings(world.history()));
        findings
    }
}
