//! Process and real-time order between transactions, as pairs `(before, after)`.
//!
//! Real time is kept as a transitive reduction, the way Jepsen's checkers do it:
//! walking the events in history order, an invocation follows every transaction
//! on the current *frontier* (completed, and not yet known to precede another
//! completed one); a completion removes its own predecessors from the frontier
//! and joins it. The pairs' transitive closure is the full real-time order, and
//! there are `O(n · concurrency)` of them instead of `O(n²)`. Only committed
//! transactions precede anything (an `info` one never completed); failed ones
//! take no part.

use super::txn::{Outcome, Txn};
use std::collections::{BTreeMap, BTreeSet};

/// Real-time precedence among `members` (transaction positions), reduced.
pub fn realtime_pairs(txns: &[Txn], members: &[u32]) -> Vec<(u32, u32)> {
    let mut events: Vec<(usize, bool, u32)> = Vec::with_capacity(members.len() * 2);
    for &t in members {
        let txn = &txns[t as usize];
        if txn.outcome == Outcome::Fail {
            continue;
        }
        events.push((txn.invoke_position, false, t));
        if txn.outcome == Outcome::Ok
            && let Some(position) = txn.complete_position
        {
            events.push((position, true, t));
        }
    }
    events.sort_unstable();
    let mut frontier: BTreeSet<u32> = BTreeSet::new();
    let mut predecessors: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
    let mut pairs = Vec::new();
    for (_, completes, t) in events {
        if completes {
            for before in predecessors.remove(&t).unwrap_or_default() {
                frontier.remove(&before);
            }
            frontier.insert(t);
        } else {
            let before: Vec<u32> = frontier.iter().copied().collect();
            pairs.extend(before.iter().map(|&b| (b, t)));
            predecessors.insert(t, before);
        }
    }
    pairs
}

/// Process order among `members`: each committed transaction precedes the next
/// live one of its process.
pub fn process_pairs(txns: &[Txn], members: &[u32]) -> Vec<(u32, u32)> {
    let mut by_process: BTreeMap<i64, Vec<u32>> = BTreeMap::new();
    for &t in members {
        let txn = &txns[t as usize];
        if txn.outcome != Outcome::Fail {
            by_process.entry(txn.process).or_default().push(t);
        }
    }
    let mut pairs = Vec::new();
    for list in by_process.values_mut() {
        list.sort_unstable_by_key(|&t| (txns[t as usize].invoke_position, t));
        for pair in list.windows(2) {
            if txns[pair[0] as usize].outcome == Outcome::Ok {
                pairs.push((pair[0], pair[1]));
            }
        }
    }
    pairs
}
