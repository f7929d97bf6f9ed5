//! Deciding a read/write register with unique written values in O(n log n).
//!
//! When every written value is distinct, each read names the write it saw, and the
//! general search is not needed (Gibbons and Korach, *Testing shared memories*,
//! 1997; the zone formulation is Golab, Li and Shah's, 2011). Group each write with
//! the reads that returned its value: a *cluster*. In any linearization the value
//! is the register's from the write's point to its last read's point, and these
//! *lives* of different values cannot overlap. Every operation takes effect inside
//! its own interval, so a cluster's life must cover, at the least, the stretch from
//! the first return among its operations (`f`: the write had to happen by then) to
//! the last invocation among them (`s`: some read of it had not happened before).
//!
//! - If `f < s` the cluster has a *forward zone* `(f, s)`: its life covers it.
//! - Otherwise its *backward zone* `[s, f]` is where the whole cluster can be
//!   placed at one instant.
//!
//! The history is linearizable exactly when (1) every read returned a written
//! value (or the initial `nil`), (2) no read returned before its write was invoked,
//! (3) no two forward zones overlap, and (4) no backward zone lies inside a forward
//! zone. Sorting the forward zones by `f` makes (3) a check of neighbours and (4) a
//! binary search per backward zone.
//!
//! Times follow the search's convention: equal times overlap (an operation that
//! returns at `t` and one invoked at `t` may take effect in either order), so zones
//! conflict only when they share more than an instant. An unknown-outcome write
//! returns at +infinity; an unknown-outcome read constrains nothing and is left
//! out; the initial value is a write at -infinity.

use super::model::Access;
use crate::sim::history::Value;
use std::collections::BTreeMap;

/// One register operation of a part.
#[derive(Clone, Copy, Debug)]
pub struct RegisterOp<'a> {
    /// What it did.
    pub access: Access<'a>,
    /// Invocation time.
    pub call: u64,
    /// Completion time (`None`: unknown outcome).
    pub ret: Option<u64>,
}

/// A value's cluster: its write and the reads that returned it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cluster {
    /// The write (position among the operations); `None`: the initial `nil`.
    pub write: Option<usize>,
    /// The operation of the cluster that returned first (`None`: the initial
    /// write, at -infinity).
    pub first_return: Option<usize>,
    /// The operation of the cluster invoked last (`None` if only the initial write).
    pub last_call: Option<usize>,
}

/// Why no linearization exists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Conflict {
    /// A read returned a value that no operation wrote.
    NeverWritten {
        /// The read.
        read: usize,
    },
    /// A read returned before the write of its value was invoked.
    BeforeItsWrite {
        /// The read.
        read: usize,
        /// The write.
        write: usize,
    },
    /// Two values must each be the register's value over stretches that overlap.
    Overlap(Cluster, Cluster),
    /// One value's whole cluster falls inside the stretch another value must hold.
    Inside {
        /// The value that must hold throughout.
        outer: Cluster,
        /// The value that cannot fit anywhere else.
        inner: Cluster,
    },
}

impl Conflict {
    /// Every operation the reason involves, sorted.
    pub fn involved(&self, clusters: &Clusters) -> Vec<usize> {
        let mut involved = match self {
            Conflict::NeverWritten { read } => vec![*read],
            Conflict::BeforeItsWrite { read, write } => vec![*read, *write],
            Conflict::Overlap(first, second) => {
                let mut both = clusters.members(first);
                both.extend(clusters.members(second));
                both
            }
            Conflict::Inside { outer, inner } => {
                let mut both = clusters.members(outer);
                both.extend(clusters.members(inner));
                both
            }
        };
        involved.sort_unstable();
        involved.dedup();
        involved
    }
}

/// The outcome of [`decide`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// The part is not a unique-value register: use the search.
    NotApplicable,
    /// A linearization exists.
    Linearizable,
    /// None exists, for this reason.
    Violation(Conflict, Clusters),
}

/// The clusters of a part, for describing a conflict.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Clusters {
    /// Per written value's write position: the reads that returned it.
    reads: BTreeMap<Option<usize>, Vec<usize>>,
}

impl Clusters {
    /// The operations of a cluster: its write (unless initial) and its reads.
    pub fn members(&self, cluster: &Cluster) -> Vec<usize> {
        let mut members: Vec<usize> = cluster.write.into_iter().collect();
        members.extend(self.reads.get(&cluster.write).into_iter().flatten());
        members
    }
}

/// Times as signed, so the initial write can sit at -infinity and unknown
/// outcomes at +infinity.
const MINUS_INFINITY: i128 = -1;
const PLUS_INFINITY: i128 = i128::MAX;

struct Zone {
    cluster: Option<usize>,
    f: i128,
    s: i128,
    first_return: Option<usize>,
    last_call: Option<usize>,
}

impl Zone {
    fn cluster(&self) -> Cluster {
        Cluster {
            write: self.cluster,
            first_return: self.first_return,
            last_call: self.last_call,
        }
    }
}

/// Decide a part whose operations are all accesses to one register (see the
/// module documentation). `NotApplicable` when two writes (or a write and the
/// initial state) share a value.
pub fn decide(operations: &[RegisterOp<'_>]) -> Decision {
    let nil = Value::Nil;
    let mut writer_of: BTreeMap<&Value, usize> = BTreeMap::new();
    for (position, operation) in operations.iter().enumerate() {
        if let Access::Write(value) = operation.access
            && (*value == nil || writer_of.insert(value, position).is_some())
        {
            return Decision::NotApplicable;
        }
    }
    let mut clusters = Clusters::default();
    clusters.reads.insert(None, Vec::new());
    for &write in writer_of.values() {
        clusters.reads.insert(Some(write), Vec::new());
    }
    let mut never_written = None;
    let mut before_write: Option<(usize, usize)> = None;
    for (position, operation) in operations.iter().enumerate() {
        let Access::Read(Some(value)) = operation.access else {
            continue;
        };
        let Some(ret) = operation.ret else { continue };
        if *value == nil {
            clusters.reads.entry(None).or_default().push(position);
            continue;
        }
        let Some(&write) = writer_of.get(value) else {
            never_written.get_or_insert(position);
            continue;
        };
        if ret < operations[write].call && before_write.is_none() {
            before_write = Some((position, write));
        }
        clusters
            .reads
            .entry(Some(write))
            .or_default()
            .push(position);
    }
    if let Some(read) = never_written {
        return Decision::Violation(Conflict::NeverWritten { read }, clusters);
    }
    if let Some((read, write)) = before_write {
        return Decision::Violation(Conflict::BeforeItsWrite { read, write }, clusters);
    }
    let time_of_return =
        |position: usize| operations[position].ret.map_or(PLUS_INFINITY, i128::from);
    let zones: Vec<Zone> = clusters
        .reads
        .iter()
        .map(|(&write, reads)| {
            let (mut f, mut first_return) = match write {
                None => (MINUS_INFINITY, None),
                Some(write) => (time_of_return(write), Some(write)),
            };
            let (mut s, mut last_call) = match write {
                None => (MINUS_INFINITY, None),
                Some(write) => (i128::from(operations[write].call), Some(write)),
            };
            for &read in reads {
                if time_of_return(read) < f {
                    (f, first_return) = (time_of_return(read), Some(read));
                }
                let call = i128::from(operations[read].call);
                if call > s {
                    (s, last_call) = (call, Some(read));
                }
            }
            Zone {
                cluster: write,
                f,
                s,
                first_return,
                last_call,
            }
        })
        .collect();
    let (mut forward, backward): (Vec<&Zone>, Vec<&Zone>) =
        zones.iter().partition(|zone| zone.f < zone.s);
    forward.sort_by_key(|zone| (zone.f, zone.s, zone.cluster));
    for pair in forward.windows(2) {
        if pair[1].f < pair[0].s {
            return Decision::Violation(
                Conflict::Overlap(pair[0].cluster(), pair[1].cluster()),
                clusters,
            );
        }
    }
    let mut backward = backward;
    backward.sort_by_key(|zone| (zone.s, zone.f, zone.cluster));
    for zone in backward {
        // The forward zone starting last before this one's start is the only one
        // that can contain it (forward zones are disjoint now).
        let after = forward.partition_point(|outer| outer.f < zone.s);
        if after > 0 {
            let outer = forward[after - 1];
            if zone.f < outer.s {
                return Decision::Violation(
                    Conflict::Inside {
                        outer: outer.cluster(),
                        inner: zone.cluster(),
                    },
                    clusters,
                );
            }
        }
    }
    Decision::Linearizable
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(value: &Value, call: u64, ret: Option<u64>) -> RegisterOp<'_> {
        RegisterOp {
            access: Access::Write(value),
            call,
            ret,
        }
    }

    fn read(value: &Value, call: u64, ret: u64) -> RegisterOp<'_> {
        RegisterOp {
            access: Access::Read(Some(value)),
            call,
            ret: Some(ret),
        }
    }

    #[test]
    fn overlapping_writes_may_be_read_in_either_order() {
        let (one, two) = (Value::Int(1), Value::Int(2));
        let operations = [
            write(&one, 0, Some(10)),
            write(&two, 0, Some(10)),
            read(&one, 20, 30),
        ];
        assert_eq!(decide(&operations), Decision::Linearizable);
    }

    #[test]
    fn a_stale_read_is_an_overlap_of_forward_zones() {
        let (one, two) = (Value::Int(1), Value::Int(2));
        // 1 is written, then 2 (after 1 completed), then a read of 1 after 2
        // completed: 1 would have to hold across 2's write.
        let operations = [
            write(&one, 0, Some(10)),
            write(&two, 20, Some(30)),
            read(&two, 35, 38),
            read(&one, 40, 50),
        ];
        assert!(matches!(
            decide(&operations),
            Decision::Violation(Conflict::Overlap(..) | Conflict::Inside { .. }, _)
        ));
    }

    #[test]
    fn touching_zones_do_not_conflict() {
        let (one, two) = (Value::Int(1), Value::Int(2));
        // A read of 1 invoked at 10, when 2's write returns: they may be ordered
        // read first.
        let operations = [
            write(&one, 0, Some(5)),
            write(&two, 6, Some(10)),
            read(&one, 10, 20),
        ];
        assert_eq!(decide(&operations), Decision::Linearizable);
    }

    #[test]
    fn reads_of_unwritten_values_and_from_the_future_are_named() {
        let (one, two) = (Value::Int(1), Value::Int(2));
        let operations = [write(&one, 0, Some(5)), read(&two, 6, 7)];
        assert_eq!(
            decide(&operations),
            Decision::Violation(
                Conflict::NeverWritten { read: 1 },
                decide_clusters(&operations)
            )
        );
        let operations = [read(&one, 0, 5), write(&one, 6, Some(7))];
        assert!(matches!(
            decide(&operations),
            Decision::Violation(Conflict::BeforeItsWrite { read: 0, write: 1 }, _)
        ));
    }

    fn decide_clusters(operations: &[RegisterOp<'_>]) -> Clusters {
        match decide(operations) {
            Decision::Violation(_, clusters) => clusters,
            _ => Clusters::default(),
        }
    }

    #[test]
    fn duplicate_values_are_left_to_the_search() {
        let one = Value::Int(1);
        let operations = [write(&one, 0, Some(5)), write(&one, 6, Some(7))];
        assert_eq!(decide(&operations), Decision::NotApplicable);
        let nil = Value::Nil;
        assert_eq!(decide(&[write(&nil, 0, Some(1))]), Decision::NotApplicable);
    }

    #[test]
    fn a_nil_read_after_a_completed_write_is_a_violation() {
        let (one, nil) = (Value::Int(1), Value::Nil);
        let operations = [write(&one, 0, Some(5)), read(&nil, 6, 7)];
        assert!(matches!(
            decide(&operations),
            Decision::Violation(Conflict::Inside { .. } | Conflict::Overlap(..), _)
        ));
        // An unknown write read later may take effect after the nil read.
        let operations = [write(&one, 0, None), read(&nil, 6, 7), read(&one, 8, 9)];
        assert_eq!(decide(&operations), Decision::Linearizable);
    }
}
