//! Placement: which nodes hold a key.
//!
//! A [`Placement`] answers a key's *preference list* — the distinct nodes that
//! hold its replicas, in order — and changes with membership. Three are
//! built, so their trade-offs can be measured side by side:
//!
//! - [`Ring`]: consistent hashing with virtual nodes. Each node owns
//!   `tokens` points on a 64-bit ring; a key belongs to the first point
//!   clockwise from its hash, and its preference list is the first N
//!   *distinct* nodes met going on clockwise (Dynamo, SOSP'07 §4.2–4.3). A
//!   join or a leave moves only the keys on the arcs the node gains or gives
//!   up, about K/(n+1) of K keys; a node's share of the ring has a relative
//!   standard deviation of about 1/√tokens (the sum of `tokens` of the n·tokens
//!   spacings: a Beta(k, (n−1)k) share, √((n−1)/(nk+1)) exactly).
//! - [`ModN`]: `hash(key) mod n` over the sorted members, replicas on the next
//!   ones. Even to within sampling noise, but a change of n moves almost every
//!   key (n/(n+1) of them on a join).
//! - [`Jump`]: jump consistent hashing (Lamping and Veach, 2014): buckets
//!   `0..n`, no state but the member list, near-perfect balance, and growing
//!   from n to n+1 buckets moves exactly the keys that jump to the new one,
//!   1/(n+1) in expectation. It can only add or remove the *last* bucket: a
//!   leave of any other member hands its bucket to the last member, which
//!   moves that member's keys too. Replicas are drawn by jumping again with
//!   salted keys, skipping members already chosen.
//!
//! Every hash here is a fixed function of its input (no seeded state), so a
//! placement is the same in every run and on every machine.

use std::collections::BTreeMap;

/// A node's id (its index among the run's nodes).
pub type NodeId = usize;

/// Where keys live, and how that changes with membership.
pub trait Placement {
    /// Its name in scenario files and reports (`ring`, `mod_n`, `jump`).
    fn name(&self) -> &'static str;

    /// The members, in ascending order.
    fn members(&self) -> Vec<NodeId>;

    /// The first `n` distinct members responsible for `key`, in preference
    /// order (fewer when there are fewer members).
    fn preference(&self, key: u64, n: usize) -> Vec<NodeId>;

    /// The member that owns `key` (the head of its preference list), if any.
    fn owner(&self, key: u64) -> Option<NodeId> {
        self.preference(key, 1).first().copied()
    }

    /// A node joins (nothing if it is a member).
    fn join(&mut self, node: NodeId);

    /// A node leaves (nothing if it is not a member).
    fn leave(&mut self, node: NodeId);
}

/// Mixes 64 bits (one splitmix64 step from state `z`): every input bit moves
/// about half the output bits.
pub fn mix(z: u64) -> u64 {
    let mut state = z;
    crate::sim::rng::splitmix64(&mut state)
}

/// A key's position on the ring (and the input of the other placements).
pub fn key_hash(key: u64) -> u64 {
    mix(key ^ 0x6b65_795f_6861_7368)
}

/// The position of a node's `index`-th token.
pub fn token_hash(node: NodeId, index: u32) -> u64 {
    mix(mix(node as u64 ^ 0x746f_6b65_6e5f_6e6f) ^ u64::from(index))
}

/// The consistent-hash ring with virtual nodes.
#[derive(Clone, Debug)]
pub struct Ring {
    tokens: u32,
    /// Token position → its node. Two tokens that hash alike keep the lower
    /// node (a 64-bit collision: never seen, but deterministic).
    points: BTreeMap<u64, NodeId>,
    members: BTreeMap<NodeId, ()>,
}

impl Ring {
    /// An empty ring whose members each place `tokens` points (at least 1).
    pub fn new(tokens: u32) -> Self {
        assert!(tokens > 0, "a ring member needs at least one token");
        Ring {
            tokens,
            points: BTreeMap::new(),
            members: BTreeMap::new(),
        }
    }

    /// A ring of `members` with `tokens` points each.
    pub fn with_members(tokens: u32, members: impl IntoIterator<Item = NodeId>) -> Self {
        let mut ring = Ring::new(tokens);
        for node in members {
            ring.join(node);
        }
        ring
    }

    /// Points per member.
    pub fn tokens(&self) -> u32 {
        self.tokens
    }

    /// The number of members.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether the ring has no members.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Whether `node` is a member.
    pub fn contains(&self, node: NodeId) -> bool {
        self.members.contains_key(&node)
    }

    /// The node of every point met going clockwise from `key`'s position,
    /// once round the ring (a node appears once per point it holds).
    pub fn clockwise(&self, key: u64) -> impl Iterator<Item = NodeId> + '_ {
        let start = key_hash(key);
        self.points
            .range(start..)
            .chain(self.points.range(..start))
            .map(|(_, &node)| node)
    }

    /// Each member's share of the ring (of the 2⁶⁴ positions), exactly: the
    /// arcs that end at its points. Shares sum to 1.
    pub fn shares(&self) -> BTreeMap<NodeId, f64> {
        let mut owned: BTreeMap<NodeId, u128> = self.members.keys().map(|&n| (n, 0)).collect();
        let Some((&last, _)) = self.points.last_key_value() else {
            return BTreeMap::new();
        };
        let mut previous = last;
        for (&point, &node) in &self.points {
            // The arc (previous, point], wrapping once at the first point.
            let arc = point.wrapping_sub(previous);
            let arc = if arc == 0 && self.points.len() == 1 {
                1u128 << 64
            } else {
                u128::from(arc)
            };
            *owned.entry(node).or_default() += arc;
            previous = point;
        }
        let whole = (1u128 << 64) as f64;
        owned
            .into_iter()
            .map(|(node, arc)| (node, arc as f64 / whole))
            .collect()
    }
}

impl Placement for Ring {
    fn name(&self) -> &'static str {
        "ring"
    }

    fn members(&self) -> Vec<NodeId> {
        self.members.keys().copied().collect()
    }

    fn preference(&self, key: u64, n: usize) -> Vec<NodeId> {
        let want = n.min(self.members.len());
        let mut chosen = Vec::with_capacity(want);
        for node in self.clockwise(key) {
            if chosen.len() == want {
                break;
            }
            if !chosen.contains(&node) {
                chosen.push(node);
            }
        }
        chosen
    }

    fn join(&mut self, node: NodeId) {
        if self.members.insert(node, ()).is_some() {
            return;
        }
        for index in 0..self.tokens {
            let point = token_hash(node, index);
            let holder = self.points.entry(point).or_insert(node);
            *holder = (*holder).min(node);
        }
    }

    fn leave(&mut self, node: NodeId) {
        if self.members.remove(&node).is_none() {
            return;
        }
        self.points.retain(|_, holder| *holder != node);
        // A point another member had lost to this one by collision comes back.
        for &other in self.members.keys() {
            for index in 0..self.tokens {
                self.points.entry(token_hash(other, index)).or_insert(other);
            }
        }
    }
}

/// `hash(key) mod n` over the sorted members.
#[derive(Clone, Debug, Default)]
pub struct ModN {
    members: Vec<NodeId>,
}

impl ModN {
    /// `mod N` placement over `members`.
    pub fn with_members(members: impl IntoIterator<Item = NodeId>) -> Self {
        let mut placement = ModN::default();
        for node in members {
            placement.join(node);
        }
        placement
    }
}

impl Placement for ModN {
    fn name(&self) -> &'static str {
        "mod_n"
    }

    fn members(&self) -> Vec<NodeId> {
        self.members.clone()
    }

    fn preference(&self, key: u64, n: usize) -> Vec<NodeId> {
        let count = self.members.len();
        if count == 0 {
            return Vec::new();
        }
        let first = (key_hash(key) % count as u64) as usize;
        (0..n.min(count))
            .map(|step| self.members[(first + step) % count])
            .collect()
    }

    fn join(&mut self, node: NodeId) {
        if let Err(at) = self.members.binary_search(&node) {
            self.members.insert(at, node);
        }
    }

    fn leave(&mut self, node: NodeId) {
        if let Ok(at) = self.members.binary_search(&node) {
            self.members.remove(at);
        }
    }
}

/// Jump consistent hash (Lamping and Veach): the bucket in `0..buckets` for
/// `key`. Going from n to n+1 buckets moves a key only to the new bucket.
pub fn jump_bucket(mut key: u64, buckets: u32) -> u32 {
    assert!(buckets > 0, "jump hash needs at least one bucket");
    let mut bucket: i64 = -1;
    let mut next: i64 = 0;
    while next < i64::from(buckets) {
        bucket = next;
        key = key.wrapping_mul(2_862_933_555_777_941_757).wrapping_add(1);
        next = ((bucket + 1) as f64 * ((1u64 << 31) as f64 / ((key >> 33) + 1) as f64)) as i64;
    }
    bucket as u32
}

/// Jump consistent hashing over a member list: bucket `b` is `members[b]`.
#[derive(Clone, Debug, Default)]
pub struct Jump {
    /// Bucket → member. A join appends; a leave moves the last member into
    /// the leaver's bucket.
    buckets: Vec<NodeId>,
}

impl Jump {
    /// Jump placement over `members`, in the order given.
    pub fn with_members(members: impl IntoIterator<Item = NodeId>) -> Self {
        let mut placement = Jump::default();
        for node in members {
            placement.join(node);
        }
        placement
    }
}

impl Placement for Jump {
    fn name(&self) -> &'static str {
        "jump"
    }

    fn members(&self) -> Vec<NodeId> {
        let mut members = self.buckets.clone();
        members.sort_unstable();
        members
    }

    fn preference(&self, key: u64, n: usize) -> Vec<NodeId> {
        let count = self.buckets.len();
        let want = n.min(count);
        let mut chosen = Vec::with_capacity(want);
        let mut salt = 0u64;
        while chosen.len() < want {
            let hashed = if salt == 0 {
                key_hash(key)
            } else {
                mix(key_hash(key) ^ salt)
            };
            let node = self.buckets[jump_bucket(hashed, count as u32) as usize];
            if !chosen.contains(&node) {
                chosen.push(node);
            }
            salt += 1;
            if salt > 64 * count as u64 {
                // Vanishingly unlikely: fill up in bucket order.
                for &node in &self.buckets {
                    if chosen.len() < want && !chosen.contains(&node) {
                        chosen.push(node);
                    }
                }
            }
        }
        chosen
    }

    fn join(&mut self, node: NodeId) {
        if !self.buckets.contains(&node) {
            self.buckets.push(node);
        }
    }

    fn leave(&mut self, node: NodeId) {
        if let Some(at) = self.buckets.iter().position(|&held| held == node) {
            self.buckets.swap_remove(at);
        }
    }
}

/// The share of `keys` whose owner differs between two placements.
pub fn moved(
    before: &dyn Placement,
    after: &dyn Placement,
    keys: impl Iterator<Item = u64>,
) -> f64 {
    let mut total = 0u64;
    let mut moved = 0u64;
    for key in keys {
        total += 1;
        if before.owner(key) != after.owner(key) {
            moved += 1;
        }
    }
    if total == 0 {
        0.0
    } else {
        moved as f64 / total as f64
    }
}

/// The relative standard deviation of per-member load: keys owned per member
/// over `keys`, its standard deviation divided by its mean.
pub fn load_spread(placement: &dyn Placement, keys: impl Iterator<Item = u64>) -> f64 {
    let members = placement.members();
    if members.is_empty() {
        return 0.0;
    }
    let mut load: BTreeMap<NodeId, u64> = members.iter().map(|&m| (m, 0)).collect();
    for key in keys {
        if let Some(owner) = placement.owner(key) {
            *load.entry(owner).or_default() += 1;
        }
    }
    relative_sd(load.values().map(|&count| count as f64))
}

/// Standard deviation over mean of `values` (population form).
pub fn relative_sd(values: impl Iterator<Item = f64>) -> f64 {
    let values: Vec<f64> = values.collect();
    if values.is_empty() {
        return 0.0;
    }
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    if mean == 0.0 {
        return 0.0;
    }
    let variance = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / values.len() as f64;
    variance.sqrt() / mean
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> Vec<Box<dyn Placement>> {
        vec![
            Box::new(Ring::with_members(16, 0..5)),
            Box::new(ModN::with_members(0..5)),
            Box::new(Jump::with_members(0..5)),
        ]
    }

    #[test]
    fn preference_lists_are_distinct_members_and_as_long_as_they_can_be() {
        for placement in all() {
            for key in 0..500 {
                let list = placement.preference(key, 3);
                assert_eq!(list.len(), 3, "{}", placement.name());
                let mut sorted = list.clone();
                sorted.sort_unstable();
                sorted.dedup();
                assert_eq!(sorted.len(), 3, "{}: {list:?}", placement.name());
                assert!(list.iter().all(|node| *node < 5));
                assert_eq!(placement.owner(key), Some(list[0]));
                assert_eq!(placement.preference(key, 9).len(), 5);
            }
        }
    }

    #[test]
    fn an_empty_placement_places_nothing() {
        let mut ring = Ring::new(4);
        assert_eq!(ring.owner(7), None);
        assert!(ring.shares().is_empty());
        ring.join(3);
        assert_eq!(ring.preference(7, 3), vec![3]);
        assert_eq!(ring.shares()[&3], 1.0);
        ring.leave(3);
        assert_eq!(ring.owner(7), None);
        assert_eq!(ModN::default().owner(1), None);
        assert_eq!(Jump::default().preference(1, 2), Vec::<NodeId>::new());
    }

    #[test]
    fn joining_twice_or_leaving_a_stranger_changes_nothing() {
        let mut ring = Ring::with_members(8, 0..4);
        let before: Vec<_> = (0..200).map(|key| ring.preference(key, 2)).collect();
        ring.join(2);
        ring.leave(9);
        let after: Vec<_> = (0..200).map(|key| ring.preference(key, 2)).collect();
        assert_eq!(before, after);
    }

    #[test]
    fn a_join_then_a_leave_restores_the_ring() {
        let ring = Ring::with_members(32, 0..6);
        let mut changed = ring.clone();
        changed.join(6);
        changed.leave(6);
        for key in 0..1000 {
            assert_eq!(ring.preference(key, 3), changed.preference(key, 3));
        }
    }

    #[test]
    fn ring_shares_sum_to_one_and_spread_as_one_over_root_tokens() {
        // 1000 members: the share's relative sd is √((n−1)/(nk+1)) in theory
        // (0.0999 for k = 100, 0.3161 for k = 10); one ring is one sample of
        // 1000 shares, so allow 10%.
        for (tokens, expected) in [(10u32, 0.3161), (100, 0.0999)] {
            let ring = Ring::with_members(tokens, 0..1000);
            let shares = ring.shares();
            let sum: f64 = shares.values().sum();
            assert!((sum - 1.0).abs() < 1e-9, "{sum}");
            let spread = relative_sd(shares.values().copied());
            assert!(
                (spread - expected).abs() < 0.1 * expected,
                "tokens {tokens}: relative sd {spread}, theory {expected}"
            );
        }
    }

    #[test]
    fn a_join_moves_about_one_in_n_plus_one_keys_on_the_ring_and_jump_and_most_with_mod_n() {
        let keys = || 0..100_000u64;
        let n = 10;
        let expected = 1.0 / (n as f64 + 1.0);
        let mut ring = Ring::with_members(100, 0..n);
        let ring_before = ring.clone();
        ring.join(n);
        let ring_moved = moved(&ring_before, &ring, keys());
        // The new node's share: 1/11 ± about 1/(11·√100).
        assert!(
            (ring_moved - expected).abs() < 0.3 * expected,
            "ring moved {ring_moved}"
        );
        let mut jump = Jump::with_members(0..n);
        let jump_before = jump.clone();
        jump.join(n);
        let jump_moved = moved(&jump_before, &jump, keys());
        assert!(
            (jump_moved - expected).abs() < 0.05 * expected,
            "jump moved {jump_moved}"
        );
        let mut mod_n = ModN::with_members(0..n);
        let mod_before = mod_n.clone();
        mod_n.join(n);
        let mod_moved = moved(&mod_before, &mod_n, keys());
        assert!(mod_moved > 0.85, "mod N moved {mod_moved}");
        // Only to the new member, on the ring and with jump.
        for key in keys().take(20_000) {
            if ring_before.owner(key) != ring.owner(key) {
                assert_eq!(ring.owner(key), Some(n));
            }
            if jump_before.owner(key) != jump.owner(key) {
                assert_eq!(jump.owner(key), Some(n));
            }
        }
    }

    #[test]
    fn a_leave_moves_only_the_leavers_keys_on_the_ring() {
        let ring = Ring::with_members(50, 0..8);
        let mut after = ring.clone();
        after.leave(3);
        for key in 0..20_000u64 {
            let before = ring.owner(key).unwrap();
            if before != 3 {
                assert_eq!(after.owner(key), Some(before), "key {key}");
            } else {
                assert_ne!(after.owner(key), Some(3));
            }
        }
    }

    #[test]
    fn jump_balances_keys_closely() {
        let jump = Jump::with_members(0..50);
        let spread = load_spread(&jump, 0..200_000u64);
        // Multinomial noise alone: √(n/K) ≈ 0.0158 for 50 members, 200k keys.
        assert!(spread < 0.03, "jump spread {spread}");
        let ring = Ring::with_members(10, 0..50);
        assert!(load_spread(&ring, 0..200_000u64) > 0.15);
    }

    #[test]
    fn jump_hash_keeps_keys_in_their_bucket_or_moves_them_to_the_new_one() {
        for key in (0..5_000u64).map(key_hash) {
            let mut previous = jump_bucket(key, 1);
            assert_eq!(previous, 0);
            for buckets in 2..40 {
                let now = jump_bucket(key, buckets);
                assert!(now == previous || now == buckets - 1);
                previous = now;
            }
        }
    }
}
