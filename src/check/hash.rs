//! Small, stable, hand-written hashing for the checker's tables.
//!
//! The search hashes millions of (linearized set, model state) pairs, so the hash
//! must be fast; it must also be the same on every machine and every run (no random
//! seed), so that the tables behave identically everywhere. [`FastHasher`] is an
//! FxHash-style multiply-rotate hasher with a murmur finaliser, usable with any
//! `T: Hash`; [`mix`] is the finaliser on its own.

use std::hash::{Hash, Hasher};

const MULTIPLIER: u64 = 0x517c_c1b7_2722_0a95;

/// The murmur3 64-bit finaliser: spreads every input bit over the whole word (the
/// same finaliser the trace hash uses).
#[inline]
pub fn mix(value: u64) -> u64 {
    crate::sim::trace::finish(value)
}

/// The `n`-th value of the splitmix64 sequence: fixed pseudo-random words, used as
/// per-operation keys for the incremental hash of a set of operations.
#[inline]
pub fn splitmix(n: u64) -> u64 {
    let mut state = n.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    crate::sim::rng::splitmix64(&mut state)
}

/// A fast deterministic [`Hasher`].
#[derive(Clone, Copy, Debug, Default)]
pub struct FastHasher {
    state: u64,
}

impl FastHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.state = (self.state.rotate_left(5) ^ word).wrapping_mul(MULTIPLIER);
    }
}

impl Hasher for FastHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word) ^ ((rest.len() as u64) << 59));
        }
    }

    #[inline]
    fn write_u8(&mut self, value: u8) {
        self.add(u64::from(value));
    }

    #[inline]
    fn write_u32(&mut self, value: u32) {
        self.add(u64::from(value));
    }

    #[inline]
    fn write_u64(&mut self, value: u64) {
        self.add(value);
    }

    #[inline]
    fn write_usize(&mut self, value: usize) {
        self.add(value as u64);
    }

    #[inline]
    fn write_i64(&mut self, value: i64) {
        self.add(value as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        mix(self.state)
    }
}

/// Hash any value with [`FastHasher`].
#[inline]
pub fn hash_of<T: Hash + ?Sized>(value: &T) -> u64 {
    let mut hasher = FastHasher::default();
    value.hash(&mut hasher);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_values_hash_equally_and_the_hash_is_pinned() {
        assert_eq!(hash_of("abc"), hash_of(&String::from("abc")));
        assert_ne!(hash_of("abc"), hash_of("abd"));
        // Pinned: the hash must never depend on the machine or the run.
        assert_eq!(hash_of(&42u64), mix(42u64.wrapping_mul(MULTIPLIER)));
    }

    #[test]
    fn splitmix_words_are_distinct() {
        let words: Vec<u64> = (0..1000).map(splitmix).collect();
        let mut sorted = words.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), words.len());
    }
}
