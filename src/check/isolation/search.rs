//! Named-cycle search, per strongly connected component, after Elle's cycle
//! classes (Adya's G0, G1c, G-single, G-nonadjacent and G2, on items):
//!
//! | class | the cycle's edges |
//! |---|---|
//! | G0 | ww only |
//! | G1c | ww and wr, at least one wr |
//! | G-single-item | exactly one rw |
//! | G-nonadjacent-item | two or more rw, no two adjacent (cyclically) |
//! | G2-item | two or more rw, some two adjacent |
//!
//! A `-process` variant may also use process-order edges, a `-realtime` one
//! real-time edges; a cycle is named by the edges it does use, so a variant's
//! search that finds a plain cycle (shorter, or first among equals since data
//! edges sort first) finds nothing new, as in Elle.
//!
//! Each search starts from an edge of the class's defining kind (ww, wr or rw)
//! inside the component and walks breadth-first back to its start over states
//! `(transaction, rw count, last edge rw?, adjacent rw seen?, wr seen?)`, so
//! the first cycle found is a shortest one of its class through that edge. Every arc looked at is a step; a class whose steps run past the
//! budget stops with `cycle-search-timeout`, and the component is then only known
//! to hold *some* cycle (`<model>-cycle-exists`, for the weakest models that
//! forbid the class). Start edges whose ends share a component of the class's
//! own edges come first, since a cycle through them is certain.

use super::graph::{Arc, Graph, PROCESS, REALTIME, RW, WR, WW, tarjan};
use std::collections::BTreeMap;

/// The shape of a cycle class, without its `-process` / `-realtime` suffix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// ww only.
    G0,
    /// ww and wr, some wr.
    G1c,
    /// Exactly one rw.
    GSingle,
    /// Two or more rw, none adjacent.
    GNonadjacent,
    /// Two or more rw, some adjacent.
    G2,
}

impl Shape {
    /// All shapes, most severe first.
    pub const ALL: [Shape; 5] = [
        Shape::G0,
        Shape::G1c,
        Shape::GSingle,
        Shape::GNonadjacent,
        Shape::G2,
    ];

    fn base_name(self) -> &'static str {
        match self {
            Shape::G0 => "G0",
            Shape::G1c => "G1c",
            Shape::GSingle => "G-single-item",
            Shape::GNonadjacent => "G-nonadjacent-item",
            Shape::G2 => "G2-item",
        }
    }

    fn data_kinds(self) -> u8 {
        match self {
            Shape::G0 => WW,
            Shape::G1c => WW | WR,
            _ => WW | WR | RW,
        }
    }

    fn start_kind(self) -> u8 {
        match self {
            Shape::G0 => WW,
            Shape::G1c => WR,
            _ => RW,
        }
    }
}

/// Which order edges a class may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Variant {
    /// Data edges only.
    Plain,
    /// Plus process order.
    Process,
    /// Plus process and real-time order.
    Realtime,
}

impl Variant {
    fn suffix(self) -> &'static str {
        match self {
            Variant::Plain => "",
            Variant::Process => "-process",
            Variant::Realtime => "-realtime",
        }
    }

    fn extra_kinds(self) -> u8 {
        match self {
            Variant::Plain => 0,
            Variant::Process => PROCESS,
            Variant::Realtime => PROCESS | REALTIME,
        }
    }
}

/// A cycle class to look for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Class {
    /// The shape.
    pub shape: Shape,
    /// The variant.
    pub variant: Variant,
}

impl Class {
    /// Elle's name: `G-single-item-realtime`, ...
    pub fn name(self) -> String {
        format!("{}{}", self.shape.base_name(), self.variant.suffix())
    }

    fn kinds(self) -> u8 {
        self.shape.data_kinds() | self.variant.extra_kinds()
    }

    /// Every class, most severe first: plain, then process, then real-time.
    pub fn all() -> Vec<Class> {
        let mut classes = Vec::new();
        for variant in [Variant::Plain, Variant::Process, Variant::Realtime] {
            for shape in Shape::ALL {
                classes.push(Class { shape, variant });
            }
        }
        classes
    }
}

/// A cycle: edge indices into [`Graph::edges`], in order, the last leading back
/// to the first's source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FoundCycle {
    /// The class name it was found as.
    pub name: String,
    /// Edges in order.
    pub edges: Vec<u32>,
}

/// The outcome of searching one component for one class.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A cycle of the class.
    Found(FoundCycle),
    /// There is none.
    None,
    /// The budget ran out; `cycle_exists` says whether the class's edges alone
    /// still form a cycle in the component.
    Timeout {
        /// Whether some cycle over the class's edges exists.
        cycle_exists: bool,
    },
}

// State bits.
const RW_ONE: u8 = 1;
const RW_MANY: u8 = 2;
const LAST_RW: u8 = 4;
const ADJACENT: u8 = 8;
const WR_SEEN: u8 = 16;
const STATES: usize = 32;

/// Most `(transaction, state)` slots kept in flat arrays; a bigger component
/// keeps its visited states in an ordered map instead, so memory follows what
/// the search touches, not the component's size.
const DENSE_SLOTS_MAX: usize = 1 << 22;

const NO_PARENT: usize = usize::MAX;

/// The states one breadth-first walk has reached, each with the slot and edge it
/// was reached from.
struct Visited {
    generation: u32,
    stamp: Vec<u32>,
    parent: Vec<(usize, u32)>,
    sparse: BTreeMap<usize, (usize, u32)>,
}

impl Visited {
    fn new(slots: usize) -> Visited {
        let dense = slots <= DENSE_SLOTS_MAX;
        Visited {
            generation: 0,
            stamp: if dense { vec![0; slots] } else { Vec::new() },
            parent: if dense {
                vec![(NO_PARENT, 0); slots]
            } else {
                Vec::new()
            },
            sparse: BTreeMap::new(),
        }
    }

    fn reset(&mut self) {
        self.generation += 1;
        self.sparse.clear();
    }

    /// Record `slot` as reached from `parent`; false if it was reached already.
    fn insert(&mut self, slot: usize, parent: (usize, u32)) -> bool {
        if self.stamp.is_empty() {
            if self.sparse.contains_key(&slot) {
                return false;
            }
            self.sparse.insert(slot, parent);
            return true;
        }
        if self.stamp[slot] == self.generation {
            return false;
        }
        self.stamp[slot] = self.generation;
        self.parent[slot] = parent;
        true
    }

    fn parent(&self, slot: usize) -> (usize, u32) {
        if self.stamp.is_empty() {
            self.sparse[&slot]
        } else {
            self.parent[slot]
        }
    }
}

fn step(state: u8, kind: u8) -> u8 {
    let mut next = state & !LAST_RW;
    match kind {
        RW => {
            if state & LAST_RW != 0 {
                next |= ADJACENT;
            }
            if state & (RW_ONE | RW_MANY) != 0 {
                next = (next & !RW_ONE) | RW_MANY;
            } else {
                next |= RW_ONE;
            }
            next |= LAST_RW;
        }
        WR => next |= WR_SEEN,
        _ => {}
    }
    next
}

fn pruned(shape: Shape, state: u8) -> bool {
    match shape {
        Shape::GSingle => state & RW_MANY != 0,
        Shape::GNonadjacent => state & ADJACENT != 0,
        _ => false,
    }
}

fn accepts(class: Class, state: u8) -> bool {
    // The variant only widens the edges allowed; the name comes from the edges used.
    match class.shape {
        Shape::G0 => state & (RW_ONE | RW_MANY | WR_SEEN) == 0,
        Shape::G1c => state & (RW_ONE | RW_MANY) == 0 && state & WR_SEEN != 0,
        Shape::GSingle => state & RW_ONE != 0 && state & RW_MANY == 0,
        Shape::GNonadjacent => state & RW_MANY != 0 && state & ADJACENT == 0,
        Shape::G2 => state & RW_MANY != 0 && state & ADJACENT != 0,
    }
}

/// Search the component `members` (sorted) of `graph` for a cycle of `class`,
/// spending at most `*steps` steps (decremented).
pub fn search(graph: &Graph, members: &[u32], class: Class, steps: &mut u64) -> Outcome {
    let local = |node: u32| members.binary_search(&node).ok();
    let kinds = class.kinds();
    // Components of the class's own edges, and of its edges minus rw (for G-single).
    let component_of = |mask: u8| -> Vec<u32> {
        let rows: Vec<Vec<u32>> = members
            .iter()
            .map(|&node| {
                graph
                    .arcs(node)
                    .iter()
                    .filter(|arc| arc.kind & mask != 0)
                    .filter_map(|arc| local(arc.to).map(|id| id as u32))
                    .collect()
            })
            .collect();
        let mut component = vec![u32::MAX; members.len()];
        let found = tarjan(members.len(), &|node, out: &mut Vec<u32>| {
            out.extend_from_slice(&rows[node as usize]);
        });
        for (id, nodes) in found.iter().enumerate() {
            for node in nodes {
                component[*node as usize] = id as u32;
            }
        }
        component
    };
    let whole = component_of(kinds);
    if whole.iter().all(|&id| id == u32::MAX) {
        return Outcome::None;
    }
    let rest = if class.shape == Shape::GSingle {
        component_of(kinds & !RW)
    } else {
        whole.clone()
    };
    let mut starts: Vec<(bool, u32, Arc)> = Vec::new();
    for (from_local, &from) in members.iter().enumerate() {
        for arc in graph.arcs(from) {
            if arc.kind != class.shape.start_kind() {
                continue;
            }
            let Some(to_local) = local(arc.to) else {
                continue;
            };
            if whole[from_local] == u32::MAX || whole[from_local] != whole[to_local] {
                continue;
            }
            let certain = rest[from_local] != u32::MAX && rest[from_local] == rest[to_local];
            starts.push((!certain, from, *arc));
        }
    }
    starts.sort_by_key(|(uncertain, from, arc)| (*uncertain, *from, arc.to, arc.edge));

    let mut visited = Visited::new(members.len() * STATES);
    let mut queue: std::collections::VecDeque<(u32, u8)> = std::collections::VecDeque::new();
    for (_, from, first) in starts {
        visited.reset();
        queue.clear();
        let start_state = step(0, first.kind);
        let first_rw = first.kind == RW;
        let b = local(first.to).expect("start arcs stay in the component");
        let slot = b * STATES + start_state as usize;
        visited.insert(slot, (NO_PARENT, first.edge));
        queue.push_back((first.to, start_state));
        while let Some((node, state)) = queue.pop_front() {
            let node_slot = local(node).expect("in the component") * STATES + state as usize;
            for arc in graph.arcs(node) {
                if arc.kind & kinds == 0 || local(arc.to).is_none() {
                    continue;
                }
                if *steps == 0 {
                    return Outcome::Timeout { cycle_exists: true };
                }
                *steps -= 1;
                let mut next = step(state, arc.kind);
                if pruned(class.shape, next) {
                    continue;
                }
                if arc.to == from {
                    if first_rw && arc.kind == RW {
                        next |= ADJACENT;
                    }
                    if accepts(class, next) {
                        let mut edges = vec![arc.edge];
                        let mut at = node_slot;
                        loop {
                            let (previous, edge) = visited.parent(at);
                            edges.push(edge);
                            if previous == NO_PARENT {
                                break;
                            }
                            at = previous;
                        }
                        edges.reverse();
                        return Outcome::Found(FoundCycle {
                            name: name_of(graph, class, &edges),
                            edges,
                        });
                    }
                    continue;
                }
                let target = local(arc.to).expect("filtered") * STATES + next as usize;
                if visited.insert(target, (node_slot, arc.edge)) {
                    queue.push_back((arc.to, next));
                }
            }
        }
    }
    Outcome::None
}

/// The class a found cycle really is: a real-time search that used only process
/// edges found a `-process` cycle.
fn name_of(graph: &Graph, class: Class, edges: &[u32]) -> String {
    let kinds = edges
        .iter()
        .fold(0u8, |kinds, edge| kinds | graph.edges[*edge as usize].kind);
    let variant = if kinds & REALTIME != 0 {
        Variant::Realtime
    } else if kinds & PROCESS != 0 {
        Variant::Process
    } else {
        Variant::Plain
    };
    Class {
        shape: class.shape,
        variant,
    }
    .name()
}
