//! Raft's invariants, judged from outside the nodes over the whole run.
//!
//! The checker keeps its own records — who led which term, which entry it saw at
//! each (index, term), what was committed, what digest each applied prefix had —
//! so a node that crashes, restarts or is overwritten cannot take the evidence with
//! it. After every step it looks at the node the step concerned (every node after a
//! fault) and checks:
//!
//! - **election safety** (always): at most one leader per term;
//! - **log matching** (always): entries with the same index and term hold the same
//!   command and follow the same previous term — by induction, logs sharing an
//!   entry are identical up to it;
//! - **committed entries stay** (always): no node's commit index passes the end of
//!   its log, and no two different entries are ever committed at one index;
//! - **leader completeness** (always): a new leader's log holds every entry known
//!   committed (beyond its own snapshot);
//! - **state machine safety and order** (always): nodes that applied the same
//!   number of entries applied the same commands in the same order (equal applied
//!   digests), and a node's applied index never goes back while it runs;
//! - **liveness** (eventually): at the end of the liveness window, when a majority
//!   of nodes can serve, there is a leader of the highest term, every serving node
//!   has applied what it committed, and every client operation that was open when
//!   the faults healed completed (unless it timed out before the cluster had time
//!   to elect a leader).

use super::{Raft, RaftNode};
use crate::check::checker::entry_at;
use crate::check::heal::OpenAtHeal;
use crate::check::views::{AppliedDigests, Incarnations};
use crate::check::{Checker, Finding};
use crate::sim::time::Duration;
use crate::sim::trace::StableHasher;
use crate::sim::{Role, Step, World};
use std::collections::BTreeMap;

/// What the checker knows of one incarnation of a node.
#[derive(Clone, Debug, Default)]
struct NodeView {
    mutations: u64,
    /// Log entries up to this index were checked for log matching.
    checked: u64,
    /// Commit index already folded into the committed record.
    committed: u64,
    /// Applied index last seen.
    applied: u64,
}

/// Raft's safety and liveness checker. See the module documentation.
#[derive(Clone, Debug)]
pub struct RaftChecker {
    leaders: BTreeMap<u64, usize>,
    /// By index: the (term, command hash, previous entry's term) of every entry
    /// seen there (rarely more than one term per index).
    entries: Vec<Vec<(u64, u64, u64)>>,
    /// By index: (term, command hash, term of the node that first reported it
    /// committed — the commit happened in that term or earlier).
    committed: Vec<Option<(u64, u64, u64)>>,
    /// By applied index: the digest first reached there.
    digests: AppliedDigests,
    views: Incarnations<NodeView>,
    /// By node: the last term it was seen leading (across its restarts: a term
    /// is led once).
    led: Vec<Option<u64>>,
    /// The client operations open when the faults healed.
    open_at_heal: OpenAtHeal,
    /// When, after the heal, the cluster first had a leader of the highest term
    /// with everything in its log committed and applied on every serving node.
    converged: Option<u64>,
}

impl RaftChecker {
    /// A checker; `grace` is how long after the heal the cluster may take before
    /// client operations must succeed.
    pub fn new(grace: Duration) -> Self {
        RaftChecker {
            leaders: BTreeMap::new(),
            entries: Vec::new(),
            committed: Vec::new(),
            digests: AppliedDigests::default(),
            views: Incarnations::new(),
            led: Vec::new(),
            open_at_heal: OpenAtHeal::new(grace),
            converged: None,
        }
    }

    fn check_node(&mut self, world: &World<Raft>, id: usize) -> Option<Finding> {
        if !world.is_up(id) {
            return None;
        }
        let node = world.node(id);
        if !node.serving() {
            return None;
        }
        self.views.view(world, id);
        if self.led.len() < world.node_count() {
            self.led.resize(world.node_count(), None);
        }
        self.log_matching(node, id)
            .or_else(|| self.commitment(node, id))
            .or_else(|| self.application(node, id))
            .or_else(|| self.leadership(node, id))
    }

    fn leadership(&mut self, node: &RaftNode, id: usize) -> Option<Finding> {
        if node.role() != Role::Leader {
            return None;
        }
        let term = node.term();
        if self.led[id] == Some(term) {
            return None;
        }
        self.led[id] = Some(term);
        match self.leaders.get(&term) {
            Some(&other) if other != id => {
                return Some(Finding::always(
                    "election_safety",
                    format!("election safety: nodes {other} and {id} both led term {term}"),
                ));
            }
            Some(_) => {}
            None => {
                self.leaders.insert(term, id);
            }
        }
        // Leader completeness: every committed entry past its snapshot is in its log.
        let (base, _) = node.log_base();
        // Only entries known committed in an earlier term count: a deposed leader
        // seen late owes nothing to what later terms committed.
        let earlier = self
            .committed
            .iter()
            .enumerate()
            .skip(base as usize + 1)
            .filter_map(|(index, record)| Some((index as u64, (*record)?)))
            .filter(|(_, (_, _, seen_in))| *seen_in < term);
        for (index, (entry_term, hash, _)) in earlier {
            match node.entry(index) {
                None => {
                    return Some(Finding::always(
                        "leader_completeness",
                        format!(
                            "leader completeness: node {id} leads term {term} but its log ends at {} and lacks entry {index} (term {entry_term}), which was committed",
                            node.last_index()
                        ),
                    ));
                }
                Some(entry)
                    if entry.term != entry_term
                        || StableHasher::hash_of(&entry.command) != hash =>
                {
                    return Some(Finding::always(
                        "leader_completeness",
                        format!(
                            "leader completeness: node {id} leads term {term} but holds {:?} of term {} at index {index}, where an entry of term {entry_term} was committed",
                            entry.command, entry.term
                        ),
                    ));
                }
                Some(_) => {}
            }
        }
        None
    }

    fn log_matching(&mut self, node: &RaftNode, id: usize) -> Option<Finding> {
        let view = self.views.get_mut(id);
        let (base, base_term) = node.log_base();
        let last = node.last_index();
        let mut from = view.checked + 1;
        if view.mutations != node.log_mutations() || last < view.checked {
            view.mutations = node.log_mutations();
            from = base + 1;
        }
        from = from.max(base + 1);
        view.checked = last;
        for index in from..=last {
            let entry = node.entry(index).expect("within the log");
            let prev_term = if index == base + 1 {
                base_term
            } else {
                node.entry(index - 1).expect("within the log").term
            };
            let hash = StableHasher::hash_of(&entry.command);
            let seen = entry_at(&mut self.entries, index);
            let known = match seen.iter().find(|(term, ..)| *term == entry.term) {
                Some(&(_, hash, prev_term)) => (hash, prev_term),
                None => {
                    seen.push((entry.term, hash, prev_term));
                    (hash, prev_term)
                }
            };
            if known.0 != hash {
                return Some(Finding::always(
                    "log_matching",
                    format!(
                        "log matching: node {id} holds {:?} at index {index} term {}, where another node held a different command",
                        entry.command, entry.term
                    ),
                ));
            }
            if known.1 != prev_term {
                return Some(Finding::always(
                    "log_matching",
                    format!(
                        "log matching: node {id}'s entry at index {index} term {} follows an entry of term {prev_term}, another node's followed term {}",
                        entry.term, known.1
                    ),
                ));
            }
        }
        None
    }

    fn commitment(&mut self, node: &RaftNode, id: usize) -> Option<Finding> {
        let commit = node.commit_index();
        let last = node.last_index();
        if commit > last {
            return Some(Finding::always(
                "state_machine_safety",
                format!(
                    "committed entries lost: node {id}'s commit index is {commit} but its log ends at {last}"
                ),
            ));
        }
        let (base, _) = node.log_base();
        let view = self.views.get_mut(id);
        let from = (view.committed + 1).max(base + 1);
        if commit <= view.committed {
            return None;
        }
        view.committed = commit;
        for index in from..=commit {
            let entry = node.entry(index).expect("committed entries are in the log");
            let record = (
                entry.term,
                StableHasher::hash_of(&entry.command),
                node.term(),
            );
            let known = *entry_at(&mut self.committed, index).get_or_insert(record);
            if (known.0, known.1) != (record.0, record.1) {
                return Some(Finding::always(
                    "state_machine_safety",
                    format!(
                        "state machine safety: node {id} committed {:?} (term {}) at index {index}, where an entry of term {} was committed before",
                        entry.command, entry.term, known.0
                    ),
                ));
            }
        }
        None
    }

    fn application(&mut self, node: &RaftNode, id: usize) -> Option<Finding> {
        let applied = node.applied_index();
        let view = self.views.get_mut(id);
        if applied < view.applied {
            return Some(Finding::always(
                "state_machine_safety",
                format!(
                    "applied in order: node {id}'s applied index went back from {} to {applied} without a restart",
                    view.applied
                ),
            ));
        }
        if applied == view.applied {
            return None;
        }
        view.applied = applied;
        let digest = node.applied_digest();
        if let Some(first) = self.digests.disagrees(applied, digest, id) {
            return Some(Finding::always(
                "state_machine_safety",
                format!(
                    "state machine safety: nodes {first} and {id} applied different commands (or a different order) up to index {applied}"
                ),
            ));
        }
        None
    }

    /// The serving nodes, and the leader of the highest term among them if any.
    fn leader(world: &World<Raft>) -> (Vec<usize>, Option<usize>) {
        let serving: Vec<usize> = (0..world.node_count())
            .filter(|&id| world.is_up(id) && world.node(id).serving())
            .collect();
        let top = serving.iter().map(|&id| world.node(id).term()).max();
        let leader = serving.iter().copied().find(|&id| {
            world.node(id).role() == Role::Leader && Some(world.node(id).term()) == top
        });
        (serving, leader)
    }

    fn has_converged(world: &World<Raft>) -> bool {
        let (serving, leader) = Self::leader(world);
        let Some(leader) = leader else {
            return false;
        };
        let commit = world.node(leader).commit_index();
        commit == world.node(leader).last_index()
            && serving
                .iter()
                .all(|&id| world.node(id).applied_index() >= commit)
    }
}

impl Checker<Raft> for RaftChecker {
    fn name(&self) -> &'static str {
        "raft"
    }

    fn after_step(&mut self, world: &World<Raft>, step: Step) -> Option<Finding> {
        self.open_at_heal.observe(world, step);
        if self.open_at_heal.healed().is_some()
            && self.converged.is_none()
            && Self::has_converged(world)
        {
            self.converged = Some(world.now());
        }
        match step {
            Step::Delivered { to, .. } if to < world.node_count() => self.check_node(world, to),
            Step::Timer { process } if process < world.node_count() => {
                self.check_node(world, process)
            }
            Step::Driver => (0..world.node_count()).find_map(|id| self.check_node(world, id)),
            Step::Fault => {
                // Restarted nodes start their views afresh (applied index
                // included): `check_node` sees the new incarnation.
                (0..world.node_count()).find_map(|id| self.check_node(world, id))
            }
            _ => None,
        }
    }

    fn at_end(&mut self, world: &World<Raft>) -> Vec<Finding> {
        let mut findings = Vec::new();
        let (serving, leader) = Self::leader(world);
        if serving.len() < super::majority(world.node_count()) {
            return findings; // no majority can serve: no progress is required
        }
        if self.converged.is_none() {
            let state = match leader {
                None => "no leader of the highest term".to_string(),
                Some(leader) => {
                    let node = world.node(leader);
                    let behind: Vec<usize> = serving
                        .iter()
                        .copied()
                        .filter(|&id| world.node(id).applied_index() < node.commit_index())
                        .collect();
                    format!(
                        "leader {leader} (term {}) has committed {} of {} entries; nodes {behind:?} lag behind its commit index",
                        node.term(),
                        node.commit_index(),
                        node.last_index()
                    )
                }
            };
            findings.push(Finding::eventually("liveness", format!(
                    "the cluster never settled after the heal (a leader with its log committed and applied on every serving node); at the end: {state}"
                )));
        }
        findings.extend(self.open_at_heal.findings(world.history()));
        findings
    }
}
