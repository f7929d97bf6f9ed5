//! The decision procedure: Wing & Gong's search with Lowe's just-in-time
//! linearization and memoisation, as in Lowe (2017) and Porcupine.
//!
//! Every operation contributes a *call* entry at its invocation time and a *return*
//! entry at its completion time (+infinity for an unknown outcome) to one list
//! sorted by time (calls before returns on ties: equal times count as overlapping).
//! Scanning the list from the front, each call met before the first return is an
//! operation that may take effect next. The search tries them in order: if the model
//! accepts one, its two entries are unlinked from the list (O(1), dancing links) and
//! the scan restarts from the front; meeting a return entry means the operation it
//! belongs to had to take effect already, so the search backtracks: it pops the last
//! placed operation, relinks its entries and tries the next candidate after it.
//!
//! Memoisation: the future of the search depends only on which operations are
//! placed and on the model state, so every (placed set, state) pair is remembered
//! ([`Memo`]) and never explored twice. The placed set is a bitset whose hash is kept
//! incrementally (xor of fixed per-operation words), and states are interned to ids
//! ([`Interner`]), so a memo probe costs one hash mix and a short comparison. The
//! memo does not store whole bitsets — over a long history that is quadratic (an
//! hour of a Raft cluster is 100 000 operations per key, 1.5 KiB per entry) — but
//! a canonical compact key ([`PlacedSet::key`]): below the first operation that has
//! a return and is not placed, every such operation is placed, so only the optional
//! operations placed there are listed; above it the bitset words are kept up to the
//! last placed operation, which the time order keeps close.
//!
//! Unknown outcomes: their return entries sit at +infinity, behind every real
//! return, so they never force a backtrack; the search succeeds as soon as every
//! operation *with* a return is placed, leaving the rest out (they never took effect).
//!
//! Bounds: the memo size is capped by [`Budget::max_states`] and a caller's stop
//! callback is polled every few thousand steps; either ends the search with
//! [`Outcome::OutOfBudget`], never a hang.

use super::hash::splitmix;
use super::model::{Model, Step};
use super::table::{Interner, Memo};
use super::verdict::{Budget, Refusal};
use std::collections::BTreeSet;

const NONE: u32 = u32::MAX;
const HEAD: u32 = 0;
const POLL_MASK: u64 = (1 << 12) - 1;

/// One operation of the part being checked.
pub struct PartOperation<'a, M: Model> {
    /// What the client asked for.
    pub input: &'a M::Input,
    /// What it was told (`None`: unknown outcome).
    pub output: Option<&'a M::Output>,
    /// Invocation time.
    pub call: u64,
    /// Completion time (`None`: +infinity, the operation is optional).
    pub ret: Option<u64>,
}

/// Where the search got stuck (positions are indices into the part's operations).
pub struct Stuck<S> {
    /// The longest linearizable prefix found, in order.
    pub prefix: Vec<usize>,
    /// The state after it.
    pub state: S,
    /// The operation that returned before it could be placed.
    pub culprit: usize,
    /// The operations that could have been placed next, and why each was not.
    pub candidates: Vec<(usize, Refusal)>,
}

/// The result of searching one part.
pub enum Outcome<S> {
    /// A linearization exists.
    Linearizable,
    /// None exists; the deepest point reached.
    Stuck(Stuck<S>),
    /// The budget ran out; why.
    OutOfBudget(String),
}

/// Statistics of one search (for benchmarks and tuning).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SearchStats {
    /// (placed set, state) pairs explored.
    pub states: u64,
    /// Distinct model states met.
    pub model_states: u64,
    /// The memory the search held at its end (tables and model states), bytes.
    pub memory_bytes: u64,
    /// Unknown-outcome operations left out because nothing observed them.
    pub unobserved: u64,
    /// Decided by the unique-value register check, not the search.
    pub by_shortcut: bool,
}

impl SearchStats {
    fn record<S: std::hash::Hash + Eq>(&mut self, memo: &Memo, interner: &Interner<S>) {
        self.states = memo.len() as u64;
        self.model_states = interner.len() as u64;
        self.memory_bytes = memo.memory_bytes() + interner.memory_bytes();
    }
}

#[inline]
fn operation_of(node: u32) -> usize {
    ((node - 1) / 2) as usize
}

#[inline]
fn is_call(node: u32) -> bool {
    node & 1 == 1
}

/// The time-sorted doubly linked list of call and return entries. Node 0 is the
/// head; operation `i` has its call at node `2i + 1` and its return at `2i + 2`.
struct Entries {
    next: Vec<u32>,
    prev: Vec<u32>,
}

impl Entries {
    fn new<M: Model>(operations: &[PartOperation<'_, M>]) -> Entries {
        let mut order: Vec<(u64, u8, u32)> = Vec::with_capacity(operations.len() * 2);
        for (index, operation) in operations.iter().enumerate() {
            let call_node = 2 * index as u32 + 1;
            order.push((operation.call, 0, call_node));
            order.push((operation.ret.unwrap_or(u64::MAX), 1, call_node + 1));
        }
        // Calls before returns on equal times; then by node, which is deterministic.
        order.sort_unstable();
        let size = operations.len() * 2 + 1;
        let mut next = vec![NONE; size];
        let mut prev = vec![NONE; size];
        let mut last = HEAD;
        for &(_, _, node) in &order {
            next[last as usize] = node;
            prev[node as usize] = last;
            last = node;
        }
        Entries { next, prev }
    }

    #[inline]
    fn unlink(&mut self, node: u32) {
        let (prev, next) = (self.prev[node as usize], self.next[node as usize]);
        self.next[prev as usize] = next;
        if next != NONE {
            self.prev[next as usize] = prev;
        }
    }

    #[inline]
    fn relink(&mut self, node: u32) {
        let (prev, next) = (self.prev[node as usize], self.next[node as usize]);
        self.next[prev as usize] = node;
        if next != NONE {
            self.prev[next as usize] = node;
        }
    }

    /// Take an operation out of the list (its call and its return).
    #[inline]
    fn lift(&mut self, call_node: u32) {
        self.unlink(call_node);
        self.unlink(call_node + 1);
    }

    /// Undo the matching [`Entries::lift`] (strictly last-in first-out).
    #[inline]
    fn unlift(&mut self, call_node: u32) {
        self.relink(call_node + 1);
        self.relink(call_node);
    }
}

/// Histories up to this many bitset words (64 operations each) use the bitset
/// itself as the memo key: short keys, no bookkeeping. Longer ones use the
/// compact key.
const COMPACT_ABOVE_WORDS: usize = 32;

/// The set of placed operations: a bitset, plus what it takes to write a compact
/// canonical key for it (see the module documentation).
struct PlacedSet {
    bits: Vec<u64>,
    /// Whether keys are compact (long histories) or the whole bitset.
    compact: bool,
    /// Per word: operations with a return that are not placed.
    missing: Vec<u32>,
    /// Per word: placed operations.
    placed: Vec<u32>,
    /// The first word with an operation that has a return and is not placed.
    low: usize,
    /// One past the last word with a placed operation.
    high: usize,
    /// Placed operations without a return (they may stay out forever).
    optional: BTreeSet<u32>,
}

impl PlacedSet {
    fn new<M: Model>(operations: &[PartOperation<'_, M>]) -> Self {
        let words = operations.len().div_ceil(64);
        let mut missing = vec![0u32; words];
        for (index, operation) in operations.iter().enumerate() {
            if operation.ret.is_some() {
                missing[index / 64] += 1;
            }
        }
        let low = missing.iter().position(|&n| n > 0).unwrap_or(words);
        PlacedSet {
            bits: vec![0; words],
            compact: words > COMPACT_ABOVE_WORDS,
            missing,
            placed: vec![0; words],
            low,
            high: 0,
            optional: BTreeSet::new(),
        }
    }

    #[inline]
    fn insert(&mut self, index: usize, required: bool) {
        let word = index / 64;
        self.bits[word] |= 1 << (index % 64);
        if !self.compact {
            return;
        }
        self.placed[word] += 1;
        self.high = self.high.max(word + 1);
        if required {
            self.missing[word] -= 1;
            while self.low < self.missing.len() && self.missing[self.low] == 0 {
                self.low += 1;
            }
        } else {
            self.optional.insert(index as u32);
        }
    }

    #[inline]
    fn remove(&mut self, index: usize, required: bool) {
        let word = index / 64;
        self.bits[word] &= !(1 << (index % 64));
        if !self.compact {
            return;
        }
        self.placed[word] -= 1;
        while self.high > 0 && self.placed[self.high - 1] == 0 {
            self.high -= 1;
        }
        if required {
            self.missing[word] += 1;
            self.low = self.low.min(word);
        } else {
            self.optional.remove(&(index as u32));
        }
    }

    /// Writes the canonical key of the set into `key` — the bitset itself for a
    /// short history; for a long one the first word with a
    /// required operation missing, the optional operations placed below it (count
    /// then indices), then the bitset words from it to the last placed operation.
    /// Equal sets give equal keys and different sets different keys.
    fn key<'a>(&'a self, key: &'a mut Vec<u64>) -> &'a [u64] {
        if !self.compact {
            return &self.bits;
        }
        key.clear();
        key.push(self.low as u64);
        let boundary = (self.low * 64).min(u32::MAX as usize) as u32;
        let below = self.optional.range(..boundary);
        key.push(below.clone().count() as u64);
        key.extend(below.map(|&index| u64::from(index)));
        if self.high > self.low {
            key.extend_from_slice(&self.bits[self.low..self.high]);
        }
        key
    }
}

/// Search for a linearization of one part's operations.
pub fn search<M: Model>(
    model: &M,
    operations: &[PartOperation<'_, M>],
    budget: &Budget<'_>,
    stats: &mut SearchStats,
) -> Outcome<M::State> {
    if operations.len() >= (u32::MAX / 4) as usize {
        return Outcome::OutOfBudget(format!(
            "{} operations in one part is more than the search can index",
            operations.len()
        ));
    }
    let mut required_left = operations
        .iter()
        .filter(|operation| operation.ret.is_some())
        .count();
    if required_left == 0 {
        return Outcome::Linearizable;
    }
    let mut entries = Entries::new(operations);
    let mut placed = PlacedSet::new(operations);
    let mut key = Vec::new();
    let mut bits_hash = 0u64;
    let keys: Vec<u64> = (0..operations.len() as u64).map(splitmix).collect();
    let mut interner = Interner::new();
    let mut state = interner.intern_sized(model.init(), |state| model.state_bytes(state));
    let mut memo = if placed.compact {
        Memo::new()
    } else {
        Memo::fixed(placed.bits.len())
    };
    // (call node placed, state before it)
    let mut stack: Vec<(u32, u32)> = Vec::with_capacity(operations.len());
    let mut best: Option<Stuck<M::State>> = None;
    let mut steps = 0u64;
    let mut entry = entries.next[HEAD as usize];
    loop {
        steps += 1;
        if steps & POLL_MASK == 0
            && let Some(should_stop) = budget.should_stop
            && should_stop()
        {
            stats.record(&memo, &interner);
            return Outcome::OutOfBudget(format!(
                "stopped by the caller (deadline) after exploring {} states",
                memo.len()
            ));
        }
        debug_assert_ne!(entry, NONE, "the list always ends with a return entry");
        if is_call(entry) {
            let index = operation_of(entry);
            let operation = &operations[index];
            let next_state =
                match model.step(interner.get(state), operation.input, operation.output) {
                    Step::Invalid => None,
                    Step::Unchanged => Some(state),
                    Step::Changed(new_state) => {
                        Some(interner.intern_sized(new_state, |state| model.state_bytes(state)))
                    }
                };
            if let Some(next_state) = next_state {
                let required = operation.ret.is_some();
                placed.insert(index, required);
                let next_hash = bits_hash ^ keys[index];
                let placed_key = placed.key(&mut key);
                // Stop before an insert, or the next new state, would grow a table
                // past the cap (a few arithmetic operations per step): the search
                // then never holds more than the cap plus one state's heap data.
                if (memo.grows_on_insert(placed_key.len()) || interner.grows_on_insert())
                    && memo.memory_after_insert_bytes(placed_key.len())
                        + interner.memory_after_insert_bytes()
                        > budget.max_memory_bytes
                {
                    stats.record(&memo, &interner);
                    return Outcome::OutOfBudget(memory_limit(budget, &memo, &interner));
                }
                let fresh = memo.insert(placed_key, next_state, Memo::hash(next_hash, next_state));
                if fresh {
                    if memo.memory_bytes() + interner.memory_bytes() > budget.max_memory_bytes {
                        stats.record(&memo, &interner);
                        return Outcome::OutOfBudget(memory_limit(budget, &memo, &interner));
                    }
                    if memo.len() as u64 > budget.max_states {
                        stats.record(&memo, &interner);
                        return Outcome::OutOfBudget(format!(
                            "explored more than {} states, the state limit; raise {}",
                            budget.max_states, budget.knobs.states
                        ));
                    }
                    stack.push((entry, state));
                    state = next_state;
                    bits_hash = next_hash;
                    entries.lift(entry);
                    if required {
                        required_left -= 1;
                        if required_left == 0 {
                            stats.record(&memo, &interner);
                            return Outcome::Linearizable;
                        }
                    }
                    entry = entries.next[HEAD as usize];
                    continue;
                }
                placed.remove(index, required);
            }
            entry = entries.next[entry as usize];
        } else {
            // A return entry: its operation should have taken effect by now.
            debug_assert!(operations[operation_of(entry)].ret.is_some());
            if best
                .as_ref()
                .is_none_or(|best| stack.len() > best.prefix.len())
            {
                best = Some(stuck_here(
                    model,
                    operations,
                    &entries,
                    &stack,
                    interner.get(state),
                    entry,
                ));
            }
            let Some((call_node, previous_state)) = stack.pop() else {
                stats.record(&memo, &interner);
                return Outcome::Stuck(best.expect("recorded just above"));
            };
            let index = operation_of(call_node);
            placed.remove(index, operations[index].ret.is_some());
            bits_hash ^= keys[index];
            state = previous_state;
            entries.unlift(call_node);
            if operations[index].ret.is_some() {
                required_left += 1;
            }
            entry = entries.next[call_node as usize];
        }
    }
}

/// Why the search stopped at the memory cap, naming the knob that raises it.
fn memory_limit<S: std::hash::Hash + Eq>(
    budget: &Budget<'_>,
    memo: &Memo,
    interner: &Interner<S>,
) -> String {
    format!(
        "the search reached its memory limit of {} MiB (its tables and {} distinct model states) after {} states; raise {}",
        budget.max_memory_bytes >> 20,
        interner.len(),
        memo.len(),
        budget.knobs.memory
    )
}

/// Describe the current dead end: the placed prefix, the blocking return and the
/// candidates that were in front of it.
fn stuck_here<M: Model>(
    model: &M,
    operations: &[PartOperation<'_, M>],
    entries: &Entries,
    stack: &[(u32, u32)],
    state: &M::State,
    blocking_return: u32,
) -> Stuck<M::State> {
    let mut candidates = Vec::new();
    let mut node = entries.next[HEAD as usize];
    while node != blocking_return && node != NONE {
        if is_call(node) {
            let index = operation_of(node);
            let operation = &operations[index];
            let refusal = match model.step(state, operation.input, operation.output) {
                Step::Invalid => Refusal::Invalid,
                _ => Refusal::DeadEnd,
            };
            candidates.push((index, refusal));
        }
        node = entries.next[node as usize];
    }
    Stuck {
        prefix: stack.iter().map(|&(node, _)| operation_of(node)).collect(),
        state: state.clone(),
        culprit: operation_of(blocking_return),
        candidates,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::models::register::{Register, RegisterInput};
    use crate::sim::history::Value;

    /// (input, output, call, ret); `ret: None` is an unknown outcome.
    type Spec = (RegisterInput, Option<Value>, u64, Option<u64>);

    fn run(specs: &[Spec]) -> Outcome<Value> {
        let operations: Vec<PartOperation<'_, Register>> = specs
            .iter()
            .map(|(input, output, call, ret)| PartOperation {
                input,
                output: output.as_ref(),
                call: *call,
                ret: *ret,
            })
            .collect();
        search(
            &Register,
            &operations,
            &Budget::default(),
            &mut SearchStats::default(),
        )
    }

    #[test]
    fn the_compact_key_identifies_the_placed_set_exactly() {
        // 300 operations, every fifth without a return; random placements and
        // removals. Keys must be equal exactly when the bitsets are.
        let specs: Vec<Spec> = (0..300u64)
            .map(|i| write(i as i64, i, (i % 5 != 0).then_some(i + 1)))
            .collect();
        let operations: Vec<PartOperation<'_, Register>> = specs
            .iter()
            .map(|(input, output, call, ret)| PartOperation {
                input,
                output: output.as_ref(),
                call: *call,
                ret: *ret,
            })
            .collect();
        let mut set = PlacedSet::new(&operations);
        set.compact = true; // as for a long history
        let mut seen: std::collections::BTreeMap<Vec<u64>, Vec<u64>> = Default::default();
        let mut x = 12345u64;
        for step in 0..20_000u64 {
            x = splitmix(x);
            // Mostly fill from the front so that the low mark moves, as in a search.
            let index = if x.is_multiple_of(4) {
                (x >> 8) as usize % 300
            } else {
                ((step / 40) as usize + (x >> 8) as usize % 30).min(299)
            };
            let required = operations[index].ret.is_some();
            if set.bits[index / 64] & (1 << (index % 64)) == 0 {
                set.insert(index, required);
            } else {
                set.remove(index, required);
            }
            let mut scratch = Vec::new();
            let key = set.key(&mut scratch).to_vec();
            let bits = set.bits.clone();
            assert_eq!(
                *seen.entry(key.clone()).or_insert_with(|| bits.clone()),
                bits,
                "one key for two sets: {key:?}"
            );
        }
        let distinct_sets: std::collections::BTreeSet<&Vec<u64>> = seen.values().collect();
        assert_eq!(distinct_sets.len(), seen.len(), "two keys for one set");
        assert!(seen.len() > 1000);
    }

    fn write(value: i64, call: u64, ret: Option<u64>) -> Spec {
        (RegisterInput::Write(Value::Int(value)), None, call, ret)
    }

    fn read(value: Value, call: u64, ret: u64) -> Spec {
        (RegisterInput::Read, Some(value), call, Some(ret))
    }

    #[test]
    fn a_read_may_not_see_a_write_that_began_after_it_returned() {
        let outcome = run(&[read(Value::Int(1), 0, 10), write(1, 20, Some(30))]);
        let Outcome::Stuck(stuck) = outcome else {
            panic!("must not be linearizable")
        };
        assert!(stuck.prefix.is_empty());
        assert_eq!(stuck.culprit, 0);
    }

    #[test]
    fn overlapping_operations_may_take_effect_in_either_order() {
        assert!(matches!(
            run(&[write(1, 0, Some(20)), read(Value::Nil, 10, 30)]),
            Outcome::Linearizable
        ));
        assert!(matches!(
            run(&[write(1, 0, Some(20)), read(Value::Int(1), 10, 30)]),
            Outcome::Linearizable
        ));
    }

    #[test]
    fn an_unknown_write_may_take_effect_long_after_its_invocation() {
        let specs = [
            write(1, 0, None),
            read(Value::Nil, 10, 20),
            read(Value::Int(1), 30, 40),
        ];
        assert!(matches!(run(&specs), Outcome::Linearizable));
    }

    #[test]
    fn an_unknown_write_may_never_take_effect() {
        let specs = [
            write(1, 0, Some(5)),
            write(2, 10, None),
            read(Value::Int(1), 20, 30),
            read(Value::Int(1), 40, 50),
        ];
        assert!(matches!(run(&specs), Outcome::Linearizable));
    }

    #[test]
    fn an_unknown_write_cannot_take_effect_twice() {
        let specs = [
            write(1, 0, Some(5)),
            write(2, 10, None),
            read(Value::Int(2), 20, 30),
            write(1, 31, Some(32)),
            read(Value::Int(2), 40, 50),
        ];
        let Outcome::Stuck(stuck) = run(&specs) else {
            panic!("must not be linearizable")
        };
        assert_eq!(stuck.prefix, vec![0, 1, 2, 3]);
        assert_eq!(stuck.culprit, 4);
        assert_eq!(stuck.candidates, vec![(4, Refusal::Invalid)]);
    }

    #[test]
    fn the_state_cap_ends_the_search_with_out_of_budget() {
        let specs: Vec<Spec> = (0..12).map(|value| write(value, 0, Some(100))).collect();
        let operations: Vec<PartOperation<'_, Register>> = specs
            .iter()
            .map(|(input, output, call, ret)| PartOperation {
                input,
                output: output.as_ref(),
                call: *call,
                ret: *ret,
            })
            .collect();
        let mut stats = SearchStats::default();
        let mut read_last = operations;
        let impossible = (RegisterInput::Read, Some(Value::Int(99)), 200, Some(300));
        read_last.push(PartOperation {
            input: &impossible.0,
            output: impossible.1.as_ref(),
            call: impossible.2,
            ret: impossible.3,
        });
        let outcome = search(&Register, &read_last, &Budget::states(100), &mut stats);
        assert!(matches!(outcome, Outcome::OutOfBudget(_)));
        assert_eq!(stats.states, 101);
    }
}
