//! Deciding an append-only string (one kv-append key) in O(n log n).
//!
//! When a key only ever gets appends (no puts) and the appended texts are
//! distinct, the longest read fixes the order of every append that took effect
//! before it: the reads' strings are prefixes of one another (appends never
//! reorder or vanish), and the longest one splits into the appended texts in
//! exactly one way (when it does not, the search decides instead). That leaves
//! one order to check against real time: appends in that order, each read right
//! after the append its length ends at, and the appends no read saw after every
//! read. Giving each operation the earliest point its interval and the order
//! allow (the running maximum of invocation times) finds a linearization exactly
//! when one exists: an operation whose return comes before that point is the
//! violation, together with the operation that pushed the point there.
//!
//! Times follow the search's convention (equal times overlap). Unknown-outcome
//! reads constrain nothing and are left out; an unknown-outcome append is placed
//! where the reads put it, or never when no read saw it; empty appends change
//! nothing and are left out.

use std::collections::BTreeMap;

/// What an operation does to an append-only string.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppendAccess<'a> {
    /// A read, with the string it returned (`None`: outcome unknown).
    Read(Option<&'a str>),
    /// An append of this text.
    Append(&'a str),
}

/// One operation of a part.
#[derive(Clone, Copy, Debug)]
pub struct AppendOp<'a> {
    /// What it did.
    pub access: AppendAccess<'a>,
    /// Invocation time.
    pub call: u64,
    /// Completion time (`None`: unknown outcome).
    pub ret: Option<u64>,
}

/// Why no linearization exists (positions among the operations).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AppendConflict {
    /// A read's string is not a prefix of the longest read's.
    Diverged {
        /// The read.
        read: usize,
        /// The longest read.
        longest: usize,
    },
    /// A read's string is not a concatenation of distinct appended texts; the
    /// byte offset where no appended text fits.
    NotBuilt {
        /// The read.
        read: usize,
        /// Where it stops being explained.
        offset: usize,
    },
    /// `late` had to take effect after `after` in the only order the reads
    /// allow, but returned before `after` was invoked.
    TooLate {
        /// The operation that returned too early.
        late: usize,
        /// The operation it had to follow.
        after: usize,
        /// A read that shows `late`'s place in the order (it saw `late`'s
        /// text), when `late` is an append some read saw.
        witness: Option<usize>,
    },
}

impl AppendConflict {
    /// The operations the reason involves, sorted.
    pub fn involved(&self) -> Vec<usize> {
        let mut involved = match *self {
            AppendConflict::Diverged { read, longest } => vec![read, longest],
            AppendConflict::NotBuilt { read, .. } => vec![read],
            AppendConflict::TooLate {
                late,
                after,
                witness,
            } => {
                let mut involved = vec![late, after];
                involved.extend(witness);
                involved
            }
        };
        involved.sort_unstable();
        involved.dedup();
        involved
    }
}

/// The outcome of [`decide`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AppendDecision {
    /// Not an append-only string with distinct texts split one way: use the search.
    NotApplicable,
    /// A linearization exists.
    Linearizable,
    /// None exists, for this reason.
    Violation(AppendConflict),
}

/// Decide a part whose operations are all reads and appends of one string (see
/// the module documentation).
pub fn decide(operations: &[AppendOp<'_>]) -> AppendDecision {
    // Reads that completed, and the longest (the first of that length).
    let reads: Vec<(usize, &str)> = operations
        .iter()
        .enumerate()
        .filter_map(|(position, operation)| match operation.access {
            AppendAccess::Read(Some(text)) if operation.ret.is_some() => Some((position, text)),
            _ => None,
        })
        .collect();
    let longest = reads
        .iter()
        .copied()
        .max_by_key(|&(position, text)| (text.len(), std::cmp::Reverse(position)));
    let (longest_read, longest) = longest.unwrap_or((usize::MAX, ""));
    for &(read, text) in &reads {
        if !longest.starts_with(text) {
            return AppendDecision::Violation(AppendConflict::Diverged {
                read,
                longest: longest_read,
            });
        }
    }
    // Distinct non-empty texts, by text.
    let mut by_text: BTreeMap<&str, usize> = BTreeMap::new();
    for (position, operation) in operations.iter().enumerate() {
        if let AppendAccess::Append(text) = operation.access
            && !text.is_empty()
            && by_text.insert(text, position).is_some()
        {
            return AppendDecision::NotApplicable;
        }
    }
    let mut lengths: Vec<usize> = by_text.keys().map(|text| text.len()).collect();
    lengths.sort_unstable();
    lengths.dedup();
    // Split the longest read: at each offset exactly one text may fit.
    let mut order: Vec<usize> = Vec::new();
    let mut boundaries: Vec<usize> = vec![0];
    let mut used = vec![false; operations.len()];
    let mut offset = 0;
    while offset < longest.len() {
        let mut fits = lengths.iter().filter_map(|&length| {
            longest
                .get(offset..offset + length)
                .and_then(|piece| by_text.get(piece))
        });
        let Some(&append) = fits.next() else {
            let read = reads
                .iter()
                .filter(|(_, text)| text.len() > offset)
                .map(|&(read, _)| read)
                .min()
                .unwrap_or(longest_read);
            return AppendDecision::Violation(AppendConflict::NotBuilt { read, offset });
        };
        if fits.next().is_some() {
            return AppendDecision::NotApplicable;
        }
        if used[append] {
            // One append cannot take effect twice.
            return AppendDecision::Violation(AppendConflict::NotBuilt {
                read: longest_read,
                offset,
            });
        }
        used[append] = true;
        order.push(append);
        offset += match operations[append].access {
            AppendAccess::Append(text) => text.len(),
            AppendAccess::Read(_) => unreachable!("by_text holds appends only"),
        };
        boundaries.push(offset);
    }
    // Each read sits after the append its length ends at.
    let mut after_append: Vec<Vec<usize>> = vec![Vec::new(); order.len() + 1];
    for &(read, text) in &reads {
        match boundaries.binary_search(&text.len()) {
            Ok(version) => after_append[version].push(read),
            Err(_) => {
                return AppendDecision::Violation(AppendConflict::NotBuilt {
                    read,
                    offset: text.len(),
                });
            }
        }
    }
    // Per version, the earliest-invoked read of that version or a later one: it
    // saw every append up to the version, in order.
    let mut witness: Vec<Option<usize>> = vec![None; after_append.len() + 1];
    for version in (0..after_append.len()).rev() {
        let here = after_append[version]
            .iter()
            .copied()
            .min_by_key(|&read| (operations[read].call, read));
        witness[version] = match (here, witness[version + 1]) {
            (Some(a), Some(b)) => Some(if (operations[a].call, a) <= (operations[b].call, b) {
                a
            } else {
                b
            }),
            (a, b) => a.or(b),
        };
    }
    // Earliest points along the order.
    let mut point: i128 = -1;
    let mut setter: Option<usize> = None;
    let push = |position: usize, point: &mut i128, setter: &mut Option<usize>| {
        let call = i128::from(operations[position].call);
        if call > *point {
            *point = call;
            *setter = Some(position);
        }
    };
    let too_late = |position: usize, point: i128, setter: Option<usize>, seen_by: Option<usize>| {
        let ret = operations[position].ret?;
        (i128::from(ret) < point).then(|| AppendConflict::TooLate {
            late: position,
            after: setter.unwrap_or(position),
            witness: seen_by,
        })
    };
    for version in 0..after_append.len() {
        if version > 0 {
            let append = order[version - 1];
            push(append, &mut point, &mut setter);
            if let Some(conflict) = too_late(append, point, setter, witness[version]) {
                return AppendDecision::Violation(conflict);
            }
        }
        let base = (point, setter);
        let mut reads = after_append[version].clone();
        reads.sort_by_key(|&read| (operations[read].call, read));
        for &read in &reads {
            let (mut here, mut by) = base;
            push(read, &mut here, &mut by);
            if let Some(conflict) = too_late(read, here, by, None) {
                return AppendDecision::Violation(conflict);
            }
        }
        for &read in &reads {
            push(read, &mut point, &mut setter);
        }
    }
    // Appends no read saw come after every read.
    for (position, operation) in operations.iter().enumerate() {
        if let AppendAccess::Append(text) = operation.access
            && !text.is_empty()
            && !used[position]
            && let Some(conflict) = too_late(position, point, setter, None)
        {
            return AppendDecision::Violation(conflict);
        }
    }
    AppendDecision::Linearizable
}

#[cfg(test)]
mod tests {
    use super::*;

    fn append(text: &str, call: u64, ret: Option<u64>) -> AppendOp<'_> {
        AppendOp {
            access: AppendAccess::Append(text),
            call,
            ret,
        }
    }

    fn read(text: &str, call: u64, ret: u64) -> AppendOp<'_> {
        AppendOp {
            access: AppendAccess::Read(Some(text)),
            call,
            ret: Some(ret),
        }
    }

    #[test]
    fn concurrent_appends_may_land_in_either_order() {
        let operations = [
            append("a", 0, Some(10)),
            append("b", 0, Some(10)),
            read("ba", 20, 30),
        ];
        assert_eq!(decide(&operations), AppendDecision::Linearizable);
    }

    #[test]
    fn a_lost_append_is_a_divergence_or_too_late() {
        let operations = [
            append("a", 0, Some(10)),
            read("a", 11, 12),
            append("b", 13, Some(14)),
            read("ab", 15, 16),
            read("a", 20, 30),
        ];
        // The last read saw "a" only: it had to come before "b" took effect,
        // but "b" returned before the read was invoked.
        assert_eq!(
            decide(&operations),
            AppendDecision::Violation(AppendConflict::TooLate {
                late: 2,
                after: 4,
                witness: Some(3)
            })
        );
        let operations = [
            append("a", 0, Some(10)),
            append("b", 0, Some(10)),
            read("ab", 11, 12),
            read("b", 13, 14),
        ];
        assert_eq!(
            decide(&operations),
            AppendDecision::Violation(AppendConflict::Diverged {
                read: 3,
                longest: 2
            })
        );
    }

    #[test]
    fn a_string_no_append_builds_is_named_with_its_offset() {
        let operations = [append("ab", 0, Some(10)), read("abc", 11, 12)];
        assert_eq!(
            decide(&operations),
            AppendDecision::Violation(AppendConflict::NotBuilt { read: 1, offset: 2 })
        );
    }

    #[test]
    fn ambiguous_splits_and_repeated_texts_go_to_the_search() {
        let operations = [
            append("a", 0, Some(10)),
            append("ab", 0, Some(10)),
            read("ab", 11, 12),
        ];
        assert_eq!(decide(&operations), AppendDecision::NotApplicable);
        let operations = [append("a", 0, Some(10)), append("a", 0, Some(10))];
        assert_eq!(decide(&operations), AppendDecision::NotApplicable);
    }

    #[test]
    fn an_append_no_read_saw_must_not_complete_before_a_read_began() {
        let operations = [append("a", 0, Some(5)), read("", 6, 7)];
        assert_eq!(
            decide(&operations),
            AppendDecision::Violation(AppendConflict::TooLate {
                late: 0,
                after: 1,
                witness: None
            })
        );
        let operations = [append("a", 0, None), read("", 6, 7)];
        assert_eq!(decide(&operations), AppendDecision::Linearizable);
    }
}
