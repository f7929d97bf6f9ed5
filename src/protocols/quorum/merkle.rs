//! Merkle trees for anti-entropy (Dynamo, SOSP'07 §4.7): two replicas of a
//! key range compare roots, and descend only where hashes differ, to find the
//! keys out of sync without shipping the range.
//!
//! A tree has `2^depth` leaves; a key goes to the leaf named by the top bits
//! of its ring hash, and a leaf hashes its `(key, digest)` items in key
//! order, where the digest stands for the key's whole version set. Parents
//! hash their children in order, so a difference anywhere changes the root.
//!
//! [`LeafHash::Xor`] is the broken alternative a planted bug uses: a leaf that
//! XORs its items' digests. XOR is commutative and self-cancelling, and it
//! leaves the key out — two keys that hold the same value cancel, and values
//! swapped between keys are unseen (the shape of ferrosa#339).

use super::ring::{key_hash, mix};

/// How a leaf combines its items.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LeafHash {
    /// Chained over `(key, digest)` in key order.
    #[default]
    Chained,
    /// The XOR of the digests (planted bug).
    Xor,
}

/// A Merkle tree over one key range.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Merkle {
    depth: u32,
    /// Level by level from the root: `levels[d]` holds `2^d` hashes.
    levels: Vec<Vec<u64>>,
}

const EMPTY: u64 = 0x6d65_726b_6c65_5f30;

/// The leaf of `key` in a tree of `depth`.
pub fn leaf_of(key: u64, depth: u32) -> usize {
    if depth == 0 {
        0
    } else {
        (key_hash(key) >> (64 - depth)) as usize
    }
}

fn parent(left: u64, right: u64) -> u64 {
    mix(mix(left ^ 0x7061_7265_6e74_5f6c) ^ right)
}

impl Merkle {
    /// The tree of `items` (`(key, digest)`, any order; one per key) with
    /// `2^depth` leaves (depth at most 20).
    pub fn build(depth: u32, items: impl IntoIterator<Item = (u64, u64)>, leaf: LeafHash) -> Self {
        assert!(depth <= 20, "a Merkle tree of depth {depth} is too deep");
        let mut buckets: Vec<Vec<(u64, u64)>> = vec![Vec::new(); 1 << depth];
        for (key, digest) in items {
            buckets[leaf_of(key, depth)].push((key, digest));
        }
        let leaves: Vec<u64> = buckets
            .into_iter()
            .map(|mut items| {
                items.sort_unstable();
                match leaf {
                    LeafHash::Chained => items
                        .iter()
                        .fold(EMPTY, |hash, &(key, digest)| mix(mix(hash ^ key) ^ digest)),
                    LeafHash::Xor => items.iter().fold(EMPTY, |hash, &(_, digest)| hash ^ digest),
                }
            })
            .collect();
        let mut levels = vec![leaves];
        while levels[0].len() > 1 {
            let below = &levels[0];
            let above: Vec<u64> = below
                .chunks(2)
                .map(|pair| parent(pair[0], pair[1]))
                .collect();
            levels.insert(0, above);
        }
        Merkle { depth, levels }
    }

    /// The root hash.
    pub fn root(&self) -> u64 {
        self.levels[0][0]
    }

    /// Its depth (`2^depth` leaves).
    pub fn depth(&self) -> u32 {
        self.depth
    }

    /// The hash at `level` (0: the root), `index` from the left.
    pub fn hash(&self, level: u32, index: usize) -> u64 {
        self.levels[level as usize][index]
    }

    /// The leaves whose hashes differ from `other`'s, found by descending
    /// from the root only where hashes differ; also the number of hashes
    /// compared (what an exchange would ship).
    pub fn diff(&self, other: &Merkle) -> (Vec<usize>, usize) {
        assert_eq!(self.depth, other.depth, "trees of different depths");
        let mut compared = 0;
        let mut frontier = vec![0usize];
        for level in 0..=self.depth {
            let mut next = Vec::new();
            for index in frontier {
                compared += 1;
                if self.hash(level, index) != other.hash(level, index) {
                    if level == self.depth {
                        next.push(index);
                    } else {
                        next.extend([2 * index, 2 * index + 1]);
                    }
                }
            }
            frontier = next;
        }
        (frontier, compared)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(range: std::ops::Range<u64>) -> Vec<(u64, u64)> {
        range.map(|key| (key, mix(key * 7 + 1))).collect()
    }

    #[test]
    fn equal_sets_have_equal_roots_whatever_their_order() {
        let mut reversed = items(0..500);
        reversed.reverse();
        let a = Merkle::build(6, items(0..500), LeafHash::Chained);
        let b = Merkle::build(6, reversed, LeafHash::Chained);
        assert_eq!(a.root(), b.root());
        assert_eq!(a.diff(&b), (Vec::new(), 1));
    }

    #[test]
    fn one_changed_key_is_found_by_descending_one_path() {
        let a = Merkle::build(8, items(0..1000), LeafHash::Chained);
        let mut changed = items(0..1000);
        changed[417].1 ^= 1;
        let b = Merkle::build(8, changed, LeafHash::Chained);
        let (leaves, compared) = a.diff(&b);
        assert_eq!(leaves, vec![leaf_of(417, 8)]);
        // The root, then two children per differing node on the way down.
        assert_eq!(compared, 1 + 2 * 8);
        // A missing key is a difference too.
        let c = Merkle::build(8, items(0..999), LeafHash::Chained);
        assert_eq!(a.diff(&c).0, vec![leaf_of(999, 8)]);
    }

    #[test]
    fn a_depth_zero_tree_is_one_leaf() {
        let a = Merkle::build(0, items(0..10), LeafHash::Chained);
        let b = Merkle::build(0, items(0..11), LeafHash::Chained);
        assert_eq!(a.diff(&b), (vec![0], 1));
        assert_eq!(Merkle::build(0, [], LeafHash::Chained).root(), EMPTY);
    }

    #[test]
    fn xor_leaves_miss_what_chained_leaves_catch() {
        // Two keys in one leaf holding the same value, missing on one replica.
        let depth = 2;
        let mut same_leaf = (0..1000u64).filter(|&key| leaf_of(key, depth) == 0);
        let (k1, k2) = (same_leaf.next().unwrap(), same_leaf.next().unwrap());
        let full = [(k1, 99), (k2, 99)];
        for (leaf, seen) in [(LeafHash::Chained, true), (LeafHash::Xor, false)] {
            let a = Merkle::build(depth, full, leaf);
            let b = Merkle::build(depth, [], leaf);
            assert_eq!(!a.diff(&b).0.is_empty(), seen, "{leaf:?}");
        }
        // Values swapped between two keys.
        let swapped = [(k1, 5), (k2, 6)];
        let back = [(k1, 6), (k2, 5)];
        assert_ne!(
            Merkle::build(depth, swapped, LeafHash::Chained).root(),
            Merkle::build(depth, back, LeafHash::Chained).root()
        );
        assert_eq!(
            Merkle::build(depth, swapped, LeafHash::Xor).root(),
            Merkle::build(depth, back, LeafHash::Xor).root()
        );
    }
}
