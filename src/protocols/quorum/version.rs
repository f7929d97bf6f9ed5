//! Versions: vector clocks with siblings, and last-write-wins timestamps.
//!
//! A value written under a vector clock carries one counter per node that
//! coordinated a write in its history. Two versions are ordered when one
//! clock dominates the other (every counter at least as large) and
//! *concurrent* otherwise; a replica keeps every version no other dominates —
//! the *siblings* — and a read returns them all, for the client to merge on
//! its next write (Dynamo, SOSP'07 §4.4). Dynamo truncates a clock past about
//! ten entries; runs here have few coordinators, so clocks are kept whole.
//!
//! Last-write-wins keeps one version per key, the one with the highest
//! timestamp from the coordinator's clock (ties broken by the coordinator's
//! id): simple, and with skewed clocks or concurrent writers it silently drops
//! acknowledged writes (Jepsen on Cassandra and Riak, 2013).

use super::ring::NodeId;
use std::cmp::Ordering;
use std::collections::BTreeMap;

/// How two vector clocks compare.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Causality {
    /// Equal clocks.
    Equal,
    /// The first happened before the second.
    Before,
    /// The first happened after the second.
    After,
    /// Neither: concurrent writes.
    Concurrent,
}

/// A vector clock: node → the number of writes it coordinated in this
/// version's history.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct VectorClock {
    counters: BTreeMap<NodeId, u64>,
}

impl VectorClock {
    /// The empty clock (before every write).
    pub fn new() -> Self {
        VectorClock::default()
    }

    /// A clock from `(node, counter)` pairs (zero counters are dropped).
    pub fn from_pairs(pairs: impl IntoIterator<Item = (NodeId, u64)>) -> Self {
        VectorClock {
            counters: pairs.into_iter().filter(|(_, c)| *c > 0).collect(),
        }
    }

    /// Its `(node, counter)` pairs, by node.
    pub fn pairs(&self) -> impl Iterator<Item = (NodeId, u64)> + '_ {
        self.counters
            .iter()
            .map(|(&node, &counter)| (node, counter))
    }

    /// `node`'s counter (0 when absent).
    pub fn get(&self, node: NodeId) -> u64 {
        self.counters.get(&node).copied().unwrap_or(0)
    }

    /// The clock of a write coordinated by `node` on top of this one.
    pub fn incremented(&self, node: NodeId) -> VectorClock {
        let mut next = self.clone();
        *next.counters.entry(node).or_default() += 1;
        next
    }

    /// The least clock that dominates both (what a write that read both
    /// builds on).
    pub fn merged(&self, other: &VectorClock) -> VectorClock {
        let mut merged = self.clone();
        for (&node, &counter) in &other.counters {
            let mine = merged.counters.entry(node).or_default();
            *mine = (*mine).max(counter);
        }
        merged
    }

    /// How this clock compares with `other`.
    pub fn compare(&self, other: &VectorClock) -> Causality {
        let mut less = false;
        let mut greater = false;
        for node in self.counters.keys().chain(other.counters.keys()) {
            match self.get(*node).cmp(&other.get(*node)) {
                Ordering::Less => less = true,
                Ordering::Greater => greater = true,
                Ordering::Equal => {}
            }
        }
        match (less, greater) {
            (false, false) => Causality::Equal,
            (true, false) => Causality::Before,
            (false, true) => Causality::After,
            (true, true) => Causality::Concurrent,
        }
    }

    /// Whether this clock is at least `other` everywhere.
    pub fn dominates(&self, other: &VectorClock) -> bool {
        matches!(self.compare(other), Causality::After | Causality::Equal)
    }
}

/// A version of a value under vector clocks.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Versioned<V> {
    /// Its clock.
    pub clock: VectorClock,
    /// The value.
    pub value: V,
}

/// The versions of one key a replica keeps: none dominated by another.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Siblings<V> {
    versions: Vec<Versioned<V>>,
}

impl<V> Default for Siblings<V> {
    fn default() -> Self {
        Siblings {
            versions: Vec::new(),
        }
    }
}

impl<V: Clone + Ord> Siblings<V> {
    /// No version yet.
    pub fn new() -> Self {
        Siblings::default()
    }

    /// The versions kept, sorted by clock then value (so equal sets compare
    /// equal whatever the order they arrived in).
    pub fn versions(&self) -> &[Versioned<V>] {
        &self.versions
    }

    /// Whether no version is kept.
    pub fn is_empty(&self) -> bool {
        self.versions.is_empty()
    }

    /// The clock a client that read these siblings writes on top of.
    pub fn context(&self) -> VectorClock {
        self.versions
            .iter()
            .fold(VectorClock::new(), |clock, version| {
                clock.merged(&version.clock)
            })
    }

    /// Takes `version` in: dropped if a kept version dominates it (or it is
    /// kept already); otherwise kept, and every version it dominates
    /// dropped. Returns whether anything changed.
    pub fn insert(&mut self, version: Versioned<V>) -> bool {
        if self.versions.iter().any(|kept| {
            kept.clock.dominates(&version.clock)
                && (kept.clock != version.clock || kept.value == version.value)
        }) {
            return false;
        }
        self.versions.retain(|kept| {
            !version.clock.dominates(&kept.clock)
                || (kept.clock == version.clock && kept.value != version.value)
        });
        self.versions.push(version);
        self.versions.sort();
        true
    }

    /// Takes every version of `other` in (a read-repair or anti-entropy
    /// merge). Returns whether anything changed.
    pub fn merge(&mut self, other: &Siblings<V>) -> bool {
        let mut changed = false;
        for version in &other.versions {
            changed |= self.insert(version.clone());
        }
        changed
    }
}

/// A last-write-wins timestamp: the coordinator's clock reading, then its id
/// to break ties.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Stamp {
    /// The coordinator's local time (ns).
    pub time: u64,
    /// The coordinator.
    pub node: NodeId,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clock(pairs: &[(NodeId, u64)]) -> VectorClock {
        VectorClock::from_pairs(pairs.iter().copied())
    }

    #[test]
    fn clocks_order_by_domination_and_concurrent_ones_do_not() {
        let a = clock(&[(0, 1)]);
        let b = a.incremented(1);
        let c = a.incremented(2);
        assert_eq!(a.compare(&a), Causality::Equal);
        assert_eq!(a.compare(&b), Causality::Before);
        assert_eq!(b.compare(&a), Causality::After);
        assert_eq!(b.compare(&c), Causality::Concurrent);
        let merged = b.merged(&c);
        assert_eq!(merged, clock(&[(0, 1), (1, 1), (2, 1)]));
        assert!(merged.dominates(&b) && merged.dominates(&c));
        assert_eq!(VectorClock::new().compare(&a), Causality::Before);
        assert_eq!(clock(&[(3, 0)]), VectorClock::new());
    }

    #[test]
    fn siblings_keep_concurrent_writes_and_drop_dominated_ones() {
        let base = clock(&[(0, 1)]);
        let mut siblings = Siblings::new();
        assert!(siblings.insert(Versioned {
            clock: base.clone(),
            value: 10,
        }));
        // Two writers on top of the same read: both kept.
        let left = base.incremented(1);
        let right = base.incremented(2);
        assert!(siblings.insert(Versioned {
            clock: left.clone(),
            value: 11,
        }));
        assert!(siblings.insert(Versioned {
            clock: right.clone(),
            value: 12,
        }));
        assert_eq!(siblings.versions().len(), 2);
        // A stale copy of the base changes nothing.
        assert!(!siblings.insert(Versioned {
            clock: base,
            value: 10,
        }));
        // A write on top of both (the client merged them) replaces both.
        let context = siblings.context();
        assert_eq!(context, left.merged(&right));
        assert!(siblings.insert(Versioned {
            clock: context.incremented(0),
            value: 13,
        }));
        assert_eq!(siblings.versions().len(), 1);
        assert_eq!(siblings.versions()[0].value, 13);
    }

    #[test]
    fn merging_is_order_independent() {
        let versions: Vec<Versioned<i64>> = vec![
            Versioned {
                clock: clock(&[(0, 1)]),
                value: 1,
            },
            Versioned {
                clock: clock(&[(0, 1), (1, 1)]),
                value: 2,
            },
            Versioned {
                clock: clock(&[(0, 1), (2, 1)]),
                value: 3,
            },
            Versioned {
                clock: clock(&[(2, 2)]),
                value: 4,
            },
        ];
        let mut forward = Siblings::new();
        for version in &versions {
            forward.insert(version.clone());
        }
        let mut backward = Siblings::new();
        for version in versions.iter().rev() {
            backward.insert(version.clone());
        }
        assert_eq!(forward, backward);
        let values: Vec<i64> = forward.versions().iter().map(|v| v.value).collect();
        assert_eq!(values.len(), 3, "{values:?}");
        assert!(!values.contains(&1));
    }

    #[test]
    fn stamps_order_by_time_then_node() {
        let early = Stamp { time: 5, node: 9 };
        let late = Stamp { time: 6, node: 0 };
        assert!(early < late);
        assert!(Stamp { time: 6, node: 1 } > late);
    }
}
