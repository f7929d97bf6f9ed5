//! Open-addressing tables for the search: a state interner and the memo set.
//!
//! The search remembers every (set of linearized operations, model state) pair it
//! has explored, so it never explores one twice. Two tables make that cheap:
//!
//! - [`Interner`] gives every distinct model state a small integer id, so the memo
//!   compares and hashes states as `u32`s and states are cloned only when new.
//! - [`Memo`] stores (key, state id) pairs in one flat `Vec<u64>` arena with a
//!   linear-probing index of `u64` slots (hash fingerprint in the high half, entry
//!   number in the low half), so a lookup usually touches one slot and one entry.
//!   Keys are the search's compact encoding of a set of placed operations (see
//!   `PlacedSet` in the search), a few words however long the history.
//!
//! Both are lookup-only: nothing ever iterates them, so their layout cannot leak into
//! a verdict. Hashes come from [`crate::check::hash`], which is seedless and stable.

use super::hash::{hash_of, mix};
use std::hash::Hash;

const EMPTY: u64 = 0;
const INITIAL_SLOTS: usize = 1 << 6;

/// Pack a hash fingerprint and an entry number into one slot.
#[inline]
fn slot_of(hash: u64, entry: usize) -> u64 {
    (hash & 0xffff_ffff_0000_0000) | (entry as u64 + 1)
}

#[inline]
fn fingerprint_matches(slot: u64, hash: u64) -> bool {
    (slot ^ hash) >> 32 == 0
}

#[inline]
fn entry_of(slot: u64) -> usize {
    ((slot & 0xffff_ffff) - 1) as usize
}

/// Interns model states: equal states get equal ids; ids count up from 0.
pub struct Interner<S> {
    states: Vec<S>,
    hashes: Vec<u64>,
    slots: Vec<u64>,
    heap_bytes: u64,
}

impl<S: Hash + Eq> Interner<S> {
    /// An empty interner.
    pub fn new() -> Self {
        Interner {
            states: Vec::new(),
            hashes: Vec::new(),
            slots: vec![EMPTY; INITIAL_SLOTS],
            heap_bytes: 0,
        }
    }

    /// The state with this id.
    #[inline]
    pub fn get(&self, id: u32) -> &S {
        &self.states[id as usize]
    }

    /// The number of distinct states seen.
    pub fn len(&self) -> usize {
        self.states.len()
    }

    /// True when no state was interned yet.
    pub fn is_empty(&self) -> bool {
        self.states.is_empty()
    }

    /// The memory held, in bytes: the table and the heap data of the states, as
    /// [`Interner::intern_sized`] was told it.
    pub fn memory_bytes(&self) -> u64 {
        (self.states.capacity() * std::mem::size_of::<S>()
            + (self.hashes.capacity() + self.slots.len()) * 8) as u64
            + self.heap_bytes
    }

    /// Whether one more new state would grow a table.
    #[inline]
    pub fn grows_on_insert(&self) -> bool {
        (self.states.len() + 1) * 2 > self.slots.len()
            || self.states.len() == self.states.capacity()
    }

    /// The memory held once one more state is added, counting the table growth
    /// that would trigger (not the new state's own heap data, which is not known
    /// yet), so a caller can stop before passing a cap.
    pub fn memory_after_insert_bytes(&self) -> u64 {
        let mut bytes = self.memory_bytes();
        if (self.states.len() + 1) * 2 > self.slots.len() {
            bytes += (self.slots.len() * 2 * 8) as u64;
        }
        if self.states.len() == self.states.capacity() {
            bytes += (self.states.capacity().max(4) * (std::mem::size_of::<S>() + 8)) as u64;
        }
        bytes
    }

    /// The id of `state`, adding it if it is new; a new state's heap data is
    /// `heap_bytes(&state)` bytes.
    pub fn intern_sized(&mut self, state: S, heap_bytes: impl FnOnce(&S) -> usize) -> u32 {
        let before = self.states.len();
        let id = self.intern(state);
        if self.states.len() > before {
            self.heap_bytes += heap_bytes(&self.states[id as usize]) as u64;
        }
        id
    }

    /// The id of `state`, adding it if it is new.
    pub fn intern(&mut self, state: S) -> u32 {
        let hash = hash_of(&state);
        let mask = self.slots.len() - 1;
        let mut index = hash as usize & mask;
        loop {
            let slot = self.slots[index];
            if slot == EMPTY {
                break;
            }
            if fingerprint_matches(slot, hash) && self.states[entry_of(slot)] == state {
                return entry_of(slot) as u32;
            }
            index = (index + 1) & mask;
        }
        let id = self.states.len();
        assert!(id < u32::MAX as usize - 1, "state interner overflow");
        self.slots[index] = slot_of(hash, id);
        self.states.push(state);
        self.hashes.push(hash);
        if self.states.len() * 2 > self.slots.len() {
            self.grow();
        }
        id as u32
    }

    fn grow(&mut self) {
        let size = self.slots.len() * 2;
        let mask = size - 1;
        let mut slots = vec![EMPTY; size];
        for (id, &hash) in self.hashes.iter().enumerate() {
            let mut index = hash as usize & mask;
            while slots[index] != EMPTY {
                index = (index + 1) & mask;
            }
            slots[index] = slot_of(hash, id);
        }
        self.slots = slots;
    }
}

impl<S: Hash + Eq> Default for Interner<S> {
    fn default() -> Self {
        Self::new()
    }
}

/// A set of (key, state id) pairs, keys being short variable-length word strings
/// (the search's compact encoding of a set of placed operations).
pub struct Memo {
    /// Entries back to back: the state id, the full hash, the key's length (only
    /// when keys vary), the key.
    arena: Vec<u64>,
    /// Where each entry starts in the arena (`fixed` keys: entry × stride).
    starts: Vec<usize>,
    /// Every key has this many words (entries then need no `starts`).
    fixed: Option<usize>,
    len: usize,
    slots: Vec<u64>,
}

impl Memo {
    /// An empty set for keys of any length.
    pub fn new() -> Self {
        Memo {
            arena: Vec::new(),
            starts: Vec::new(),
            fixed: None,
            len: 0,
            slots: vec![EMPTY; INITIAL_SLOTS],
        }
    }

    /// An empty set for keys of exactly `words` words (one lookup less).
    pub fn fixed(words: usize) -> Self {
        Memo {
            fixed: Some(words),
            ..Memo::new()
        }
    }

    /// The number of pairs stored.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    #[inline]
    fn start(&self, entry: usize) -> usize {
        match self.fixed {
            Some(words) => entry * (words + 2),
            None => self.starts[entry],
        }
    }

    /// The memory held, in bytes (arena and index, including spare capacity).
    pub fn memory_bytes(&self) -> u64 {
        ((self.arena.capacity() + self.starts.capacity() + self.slots.len()) * 8) as u64
    }

    /// Whether one more insert of a `key_words`-word key would grow a table (two
    /// or three comparisons: cheap enough to ask on every step).
    #[inline]
    pub fn grows_on_insert(&self, key_words: usize) -> bool {
        (self.len + 1) * 2 > self.slots.len()
            || self.arena.len() + key_words + 3 > self.arena.capacity()
            || (self.fixed.is_none() && self.starts.len() == self.starts.capacity())
    }

    /// The memory held after one more insert of a `key_words`-word key, counting
    /// a table growth that insert would trigger (while a table grows, the old and
    /// the new one are both held), so a caller can stop before passing a cap.
    pub fn memory_after_insert_bytes(&self, key_words: usize) -> u64 {
        let mut bytes = self.memory_bytes();
        if (self.len + 1) * 2 > self.slots.len() {
            bytes += (self.slots.len() * 2 * 8) as u64;
        }
        let entry_words = key_words + 3;
        if self.arena.len() + entry_words > self.arena.capacity() {
            bytes += (self.arena.capacity().max(entry_words) * 8) as u64;
        }
        if self.fixed.is_none() && self.starts.len() == self.starts.capacity() {
            bytes += (self.starts.capacity().max(4) * 8) as u64;
        }
        bytes
    }

    /// The hash of a pair, from the incremental hash of its set and the state id.
    #[inline]
    pub fn hash(set_hash: u64, state: u32) -> u64 {
        mix(set_hash ^ (u64::from(state) + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15))
    }

    /// Add the pair; true if it was not there before. `hash` must be a function
    /// of the pair alone.
    #[inline]
    pub fn insert(&mut self, key: &[u64], state: u32, hash: u64) -> bool {
        debug_assert!(self.fixed.is_none_or(|words| words == key.len()));
        let mask = self.slots.len() - 1;
        let mut index = hash as usize & mask;
        loop {
            let slot = self.slots[index];
            if slot == EMPTY {
                break;
            }
            if fingerprint_matches(slot, hash) {
                let start = self.start(entry_of(slot));
                let (at, len) = match self.fixed {
                    Some(words) => (start + 2, words),
                    None => (start + 3, self.arena[start + 2] as usize),
                };
                if self.arena[start] == u64::from(state)
                    && len == key.len()
                    && &self.arena[at..at + len] == key
                {
                    return false;
                }
            }
            index = (index + 1) & mask;
        }
        let entry = self.len;
        assert!(entry < u32::MAX as usize - 1, "memo overflow");
        self.slots[index] = slot_of(hash, entry);
        self.len += 1;
        if self.fixed.is_none() {
            self.starts.push(self.arena.len());
        }
        self.arena.push(u64::from(state));
        self.arena.push(hash);
        if self.fixed.is_none() {
            self.arena.push(key.len() as u64);
        }
        self.arena.extend_from_slice(key);
        if self.len * 2 > self.slots.len() {
            self.grow();
        }
        true
    }

    fn grow(&mut self) {
        let size = self.slots.len() * 2;
        let mask = size - 1;
        let mut slots = vec![EMPTY; size];
        for entry in 0..self.len {
            let hash = self.arena[self.start(entry) + 1];
            let mut index = hash as usize & mask;
            while slots[index] != EMPTY {
                index = (index + 1) & mask;
            }
            slots[index] = slot_of(hash, entry);
        }
        self.slots = slots;
    }
}

impl Default for Memo {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interner_gives_equal_states_equal_ids_across_growth() {
        let mut interner = Interner::new();
        let ids: Vec<u32> = (0..5000).map(|n| interner.intern(n % 3000)).collect();
        assert_eq!(interner.len(), 3000);
        for (n, id) in ids.iter().enumerate() {
            assert_eq!(*id as usize, n % 3000);
            assert_eq!(*interner.get(*id), n % 3000);
        }
    }

    #[test]
    fn memo_reports_each_pair_new_exactly_once() {
        let mut memo = Memo::fixed(2);
        for round in 0..2 {
            for n in 0..4000u64 {
                let bits = [n, n / 7];
                let state = (n % 5) as u32;
                let fresh = memo.insert(&bits, state, Memo::hash(n.wrapping_mul(31), state));
                assert_eq!(fresh, round == 0);
            }
        }
        assert_eq!(memo.len(), 4000);
        // Same bits, other state: a different pair.
        assert!(memo.insert(&[0, 0], 4, Memo::hash(0, 4)));
        // Keys of any length: a longer key is another key.
        let mut memo = Memo::new();
        for round in 0..2 {
            for n in 0..4000u64 {
                let key: Vec<u64> = (0..n % 5).map(|i| n + i).collect();
                let fresh = memo.insert(&key, 1, Memo::hash(n, 1));
                assert_eq!(fresh, round == 0);
            }
        }
        assert!(memo.insert(&[0, 0], 4, Memo::hash(0, 4)));
        assert!(memo.insert(&[0, 0, 0], 4, Memo::hash(0, 4)));
        assert!(!memo.insert(&[0, 0, 0], 4, Memo::hash(0, 4)));
    }
}
