//! The transaction dependency graph: nodes are transactions (by position in the
//! history), edges carry a kind (ww, wr, rw, process, realtime) and the reason
//! they were inferred, so a cycle can be explained step by step.
//!
//! Edges are gathered into a list, sorted and deduplicated (one reason per
//! `(from, to, kind)`), then laid out as compressed adjacency rows: building is
//! `O(E log E)`, and a walk touches each row once. Strongly connected components
//! come from an iterative Tarjan, so a million-transaction chain cannot overflow
//! the stack.

use super::txn::{Key, version_text};

/// Write-write: the second transaction overwrote (appended after) the first.
pub const WW: u8 = 1;
/// Write-read: the second observed the first's write.
pub const WR: u8 = 2;
/// Read-write (anti-dependency): the first read a version the second overwrote.
pub const RW: u8 = 4;
/// Process order: one client ran the first, then the second.
pub const PROCESS: u8 = 8;
/// Real-time order: the first completed before the second was invoked.
pub const REALTIME: u8 = 16;

/// The name of one edge kind.
pub fn kind_name(kind: u8) -> &'static str {
    match kind {
        WW => "ww",
        WR => "wr",
        RW => "rw",
        PROCESS => "process",
        _ => "realtime",
    }
}

/// Why an edge exists. Versions are list elements (list-append) or register
/// values (rw-register); `None` is the initial state.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Why {
    /// List-append ww: `after` was appended right after `before`.
    Appended {
        /// The key.
        key: u32,
        /// The first transaction's element.
        before: i64,
        /// The second transaction's element.
        after: i64,
    },
    /// List-append wr: the reader's list ends with `element`.
    ObservedAppend {
        /// The key.
        key: u32,
        /// The element.
        element: i64,
    },
    /// List-append rw: the reader saw `read` and `element` comes next.
    MissedAppend {
        /// The key.
        key: u32,
        /// The list read (its last element; `None`: empty).
        read: Option<i64>,
        /// The next element.
        element: i64,
    },
    /// Register ww: `after` follows `before` in the version order.
    Overwrote {
        /// The key.
        key: u32,
        /// The first transaction's value.
        before: i64,
        /// The second's.
        after: i64,
    },
    /// Register wr.
    ObservedWrite {
        /// The key.
        key: u32,
        /// The value.
        value: i64,
    },
    /// Register rw: the reader saw `read`, `value` follows it.
    MissedWrite {
        /// The key.
        key: u32,
        /// What was read.
        read: Option<i64>,
        /// The next version.
        value: i64,
    },
    /// Process order.
    Process {
        /// The process.
        process: i64,
    },
    /// Real-time order.
    Realtime,
}

/// One inferred edge.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Edge {
    /// From this transaction.
    pub from: u32,
    /// To this one.
    pub to: u32,
    /// One of [`WW`], [`WR`], [`RW`], [`PROCESS`], [`REALTIME`].
    pub kind: u8,
    /// The reason.
    pub why: Why,
}

/// One entry of an adjacency row.
#[derive(Clone, Copy, Debug)]
pub struct Arc {
    /// The target.
    pub to: u32,
    /// The kind.
    pub kind: u8,
    /// Index of the edge (and its reason) in [`Graph::edges`].
    pub edge: u32,
}

/// A dependency graph in compressed rows.
#[derive(Clone, Debug, Default)]
pub struct Graph {
    /// Nodes, numbered `0..nodes`.
    pub nodes: usize,
    /// Every edge, sorted by `(from, to, kind)`, one per such triple.
    pub edges: Vec<Edge>,
    offsets: Vec<usize>,
    arcs: Vec<Arc>,
}

impl Graph {
    /// Build from edges (duplicates and self-loops are dropped).
    pub fn new(nodes: usize, mut edges: Vec<Edge>) -> Self {
        edges.retain(|edge| edge.from != edge.to);
        edges.sort();
        edges.dedup_by(|next, kept| {
            (next.from, next.to, next.kind) == (kept.from, kept.to, kept.kind)
        });
        let mut offsets = vec![0; nodes + 1];
        for edge in &edges {
            assert!((edge.from as usize) < nodes && (edge.to as usize) < nodes);
            offsets[edge.from as usize + 1] += 1;
        }
        for node in 0..nodes {
            offsets[node + 1] += offsets[node];
        }
        let arcs = edges
            .iter()
            .enumerate()
            .map(|(index, edge)| Arc {
                to: edge.to,
                kind: edge.kind,
                edge: index as u32,
            })
            .collect();
        Graph {
            nodes,
            edges,
            offsets,
            arcs,
        }
    }

    /// The arcs leaving `node`.
    pub fn arcs(&self, node: u32) -> &[Arc] {
        let node = node as usize;
        &self.arcs[self.offsets[node]..self.offsets[node + 1]]
    }

    /// The strongly connected components of two or more nodes, using only arcs
    /// whose kind is in `mask` and whose ends pass `keep`; each sorted, and the
    /// list sorted by first node.
    pub fn components(&self, mask: u8, keep: &dyn Fn(u32) -> bool) -> Vec<Vec<u32>> {
        tarjan(self.nodes, &|node, out: &mut Vec<u32>| {
            if !keep(node) {
                return;
            }
            for arc in self.arcs(node) {
                if arc.kind & mask != 0 && keep(arc.to) {
                    out.push(arc.to);
                }
            }
        })
    }
}

/// Iterative Tarjan over nodes `0..nodes`, successors given by `successors`.
/// Returns the components of two or more nodes, each sorted, sorted by first node.
pub fn tarjan(nodes: usize, successors: &dyn Fn(u32, &mut Vec<u32>)) -> Vec<Vec<u32>> {
    const UNSEEN: u32 = u32::MAX;
    let mut index = vec![UNSEEN; nodes];
    let mut low = vec![0u32; nodes];
    let mut on_stack = vec![false; nodes];
    let mut stack: Vec<u32> = Vec::new();
    let mut components = Vec::new();
    let mut next_index = 0u32;
    // The walk: (node, its successors, how many of them are done).
    let mut frames: Vec<(u32, Vec<u32>, usize)> = Vec::new();
    let mut scratch = Vec::new();
    for root in 0..nodes as u32 {
        if index[root as usize] != UNSEEN {
            continue;
        }
        let visit = |node: u32,
                     index: &mut Vec<u32>,
                     low: &mut Vec<u32>,
                     on_stack: &mut Vec<bool>,
                     stack: &mut Vec<u32>,
                     next_index: &mut u32,
                     scratch: &mut Vec<u32>| {
            index[node as usize] = *next_index;
            low[node as usize] = *next_index;
            *next_index += 1;
            stack.push(node);
            on_stack[node as usize] = true;
            scratch.clear();
            successors(node, scratch);
            (node, std::mem::take(scratch), 0usize)
        };
        let frame = visit(
            root,
            &mut index,
            &mut low,
            &mut on_stack,
            &mut stack,
            &mut next_index,
            &mut scratch,
        );
        frames.push(frame);
        while let Some(frame) = frames.last_mut() {
            let node = frame.0;
            if frame.2 < frame.1.len() {
                let next = frame.1[frame.2];
                frame.2 += 1;
                if index[next as usize] == UNSEEN {
                    let child = visit(
                        next,
                        &mut index,
                        &mut low,
                        &mut on_stack,
                        &mut stack,
                        &mut next_index,
                        &mut scratch,
                    );
                    frames.push(child);
                } else if on_stack[next as usize] {
                    low[node as usize] = low[node as usize].min(index[next as usize]);
                }
                continue;
            }
            let (node, done, _) = frames.pop().expect("a frame is on the stack");
            scratch = done;
            if let Some(parent) = frames.last() {
                let parent = parent.0 as usize;
                low[parent] = low[parent].min(low[node as usize]);
            }
            if low[node as usize] == index[node as usize] {
                let mut component = Vec::new();
                loop {
                    let member = stack.pop().expect("the component is on the stack");
                    on_stack[member as usize] = false;
                    component.push(member);
                    if member == node {
                        break;
                    }
                }
                if component.len() > 1 {
                    component.sort_unstable();
                    components.push(component);
                }
            }
        }
    }
    components.sort();
    components
}

/// How one edge reads in an explanation, given the two transaction names and the keys.
pub fn explain(edge: &Edge, from: &str, to: &str, keys: &[Key]) -> String {
    // `:x` for a keyword key, `key 11` for an integer one (a bare number reads as a value).
    let key = |index: &u32| match &keys[*index as usize] {
        Key::Int(value) => format!("key {value}"),
        name => name.to_string(),
    };
    match &edge.why {
        Why::Appended {
            key: k,
            before,
            after,
        } => format!(
            "{from} < {to} because {to} appended {after} after {from} appended {before} to {}",
            key(k)
        ),
        Why::ObservedAppend { key: k, element } => format!(
            "{from} < {to} because {to} observed {from}'s append of {element} to {}",
            key(k)
        ),
        Why::MissedAppend {
            key: k,
            read,
            element,
        } => {
            let seen = match read {
                None => "an empty list".to_string(),
                Some(last) => format!("a list ending in {last}"),
            };
            format!(
                "{from} < {to} because {from} read {seen} from {}, and did not observe {to}'s append of {element}",
                key(k)
            )
        }
        Why::Overwrote {
            key: k,
            before,
            after,
        } => format!(
            "{from} < {to} because {to} wrote {} = {after}, the version after {from}'s {before}",
            key(k)
        ),
        Why::ObservedWrite { key: k, value } => format!(
            "{from} < {to} because {to} read {} = {value}, which {from} wrote",
            key(k)
        ),
        Why::MissedWrite {
            key: k,
            read,
            value,
        } => format!(
            "{from} < {to} because {from} read {} = {}, and {to} wrote the next version {value}",
            key(k),
            version_text(*read)
        ),
        Why::Process { process } => {
            format!("{from} < {to} because process {process} ran {from} before {to}")
        }
        Why::Realtime => format!("{from} < {to} because {from} completed before {to} was invoked"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tarjan_finds_a_cycle_and_leaves_a_chain_alone() {
        let edges = [(0u32, 1u32), (1, 2), (2, 0), (2, 3), (3, 4)];
        let components = tarjan(5, &|node, out: &mut Vec<u32>| {
            out.extend(
                edges
                    .iter()
                    .filter(|(from, _)| *from == node)
                    .map(|(_, to)| *to),
            );
        });
        assert_eq!(components, vec![vec![0, 1, 2]]);
    }

    #[test]
    fn tarjan_walks_a_long_chain_without_recursion() {
        let nodes = 1_000_000u32;
        let components = tarjan(nodes as usize, &|node, out: &mut Vec<u32>| {
            out.push((node + 1) % nodes);
        });
        assert_eq!(components.len(), 1);
        assert_eq!(components[0].len(), nodes as usize);
    }
}
