//! Picking a backend.
//!
//! A [`Picker`] chooses among *candidates* — the backends in rotation, or
//! all of them in panic mode, less those a request already tried — by one of
//! seven rules:
//!
//! - **round robin**: the next candidate after the last pick, in id order;
//! - **weighted** (Nginx's smooth weighted round robin): each pick adds every
//!   candidate's weight to its current weight, takes the largest, and
//!   subtracts the candidates' total from the winner, so a 5:1:1 split comes
//!   out as a b a c a a a, interleaved rather than in bursts;
//! - **random**: uniformly;
//! - **least connections**: the fewest tries in flight, ties in round-robin
//!   order;
//! - **power of d choices** (HAProxy's `random(d)`): d *distinct* candidates
//!   drawn uniformly, the one with the fewest in flight (ties to the first
//!   drawn);
//! - **hash**: the first candidate clockwise from the key on a ring with
//!   `vnodes` points per backend in rotation (Karger et al.);
//! - **bounded-load hash** (Mirrokni, Thorup and Zadimoghaddam): the first
//!   candidate clockwise whose in-flight count stays within
//!   ⌈c · (in flight + 1) / backends in the ring⌉ after taking this one.
//!   Such a backend always exists when c ≥ 1: not all can be above the mean.

use super::{BalancerBug, BalancerConfig, StrategyKind};
use crate::protocols::quorum::ring::{Placement, Ring};
use crate::sim::rng::Rng;
use rand::Rng as _;

/// What one pick chose.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pick {
    /// The backend (index among backends).
    pub backend: usize,
    /// The backends on the ring the pick used (hash strategies), else 0.
    pub ring_size: usize,
    /// hash strategies: the key's first backend on the ring of every backend
    /// was out of the ring, so the pick went past it.
    pub passed_removed: bool,
}

/// A balancer's strategy state. See the module documentation.
#[derive(Clone, Debug)]
pub struct Picker {
    kind: StrategyKind,
    choices: usize,
    load_factor: f64,
    weights: Vec<i64>,
    current: Vec<i64>,
    next: usize,
    /// The ring of the backends in rotation (hash strategies).
    ring: Ring,
    /// The ring of every backend (panic mode, and to see a key's first
    /// choice).
    full: Ring,
    bug_same: bool,
    bug_unwrapped: bool,
    bug_ring: bool,
    bug_total: bool,
}

impl Picker {
    /// The picker of `backends` backends, every one in rotation.
    pub fn new(config: &BalancerConfig, backends: usize) -> Self {
        let hashes = config.strategy.hashes();
        let vnodes = config.vnodes.max(1);
        let ring = if hashes {
            Ring::with_members(vnodes, 0..backends)
        } else {
            Ring::new(1)
        };
        Picker {
            kind: config.strategy,
            choices: config.choices,
            load_factor: config.load_factor,
            weights: (0..backends).map(|i| i64::from(config.weight(i))).collect(),
            current: vec![0; backends],
            next: 0,
            full: ring.clone(),
            ring,
            bug_same: config.has(BalancerBug::P2cSameBackend),
            bug_unwrapped: config.has(BalancerBug::RrIndexNotWrapped),
            bug_ring: config.has(BalancerBug::RingNotRebuilt),
            bug_total: config.has(BalancerBug::BoundedLoadUsesTotal),
        }
    }

    /// Backend `index` joined the rotation (`true`) or left it.
    pub fn rotation_changed(&mut self, index: usize, in_rotation: bool) {
        if !self.kind.hashes() {
            return;
        }
        if in_rotation {
            self.ring.join(index);
        } else if !self.bug_ring {
            self.ring.leave(index);
        }
    }

    /// Picks among `candidates` (sorted backend indices) those not in
    /// `tried`, given each backend's tries in flight and tries ever sent;
    /// `panic` means the candidates are every backend (the full ring for
    /// the hash strategies). p2c appends the backends it drew to `drawn`.
    #[allow(clippy::too_many_arguments)]
    pub fn pick(
        &mut self,
        rng: &mut Rng,
        candidates: &[usize],
        tried: &[usize],
        in_flight: &[u32],
        sent: &[u64],
        key: u64,
        panic: bool,
        drawn: &mut Vec<usize>,
    ) -> Option<Pick> {
        let open = |backend: &usize| !tried.contains(backend);
        let available = candidates.iter().filter(|b| open(b)).count();
        if available == 0 {
            return None;
        }
        let plain = |backend| Pick {
            backend,
            ring_size: 0,
            passed_removed: false,
        };
        match self.kind {
            StrategyKind::RoundRobin => {
                let len = candidates.len();
                let start = if self.bug_unwrapped {
                    // The index is wrapped when it is advanced, against the
                    // length of the day: after the list shrinks it points
                    // past the end.
                    let _ = candidates[self.next];
                    self.next
                } else {
                    self.next % len
                };
                let index = (0..len)
                    .map(|step| (start + step) % len)
                    .find(|&i| open(&candidates[i]))?;
                self.next = if self.bug_unwrapped {
                    if index + 1 >= len { 0 } else { index + 1 }
                } else {
                    index + 1
                };
                Some(plain(candidates[index]))
            }
            StrategyKind::Weighted => {
                let mut total = 0;
                let mut best: Option<usize> = None;
                for &backend in candidates.iter().filter(|b| open(b)) {
                    self.current[backend] += self.weights[backend];
                    total += self.weights[backend];
                    if best.is_none_or(|b| self.current[backend] > self.current[b]) {
                        best = Some(backend);
                    }
                }
                let best = best?;
                self.current[best] -= total;
                Some(plain(best))
            }
            StrategyKind::Random => loop {
                let backend = candidates[rng.gen_range(0..candidates.len())];
                if open(&backend) {
                    return Some(plain(backend));
                }
            },
            StrategyKind::LeastConn => {
                // The fewest in flight; among equals, round robin (as HAProxy's
                // leastconn and Nginx's least_conn do), so an idle cluster
                // does not send everything to the lowest id.
                let len = candidates.len();
                let start = self.next % len;
                let mut best: Option<usize> = None;
                for step in 0..len {
                    let index = (start + step) % len;
                    let backend = candidates[index];
                    if open(&backend)
                        && best.is_none_or(|b| in_flight[backend] < in_flight[candidates[b]])
                    {
                        best = Some(index);
                    }
                }
                let index = best?;
                self.next = index + 1;
                Some(plain(candidates[index]))
            }
            StrategyKind::P2c => {
                let start = drawn.len();
                if available <= self.choices && !self.bug_same {
                    drawn.extend(candidates.iter().copied().filter(|b| open(b)));
                } else {
                    while drawn.len() - start < self.choices {
                        let backend = candidates[rng.gen_range(0..candidates.len())];
                        if !open(&backend) || (!self.bug_same && drawn[start..].contains(&backend))
                        {
                            continue;
                        }
                        drawn.push(backend);
                    }
                }
                let mut best = drawn[start];
                for &backend in &drawn[start + 1..] {
                    if in_flight[backend] < in_flight[best] {
                        best = backend;
                    }
                }
                Some(plain(best))
            }
            StrategyKind::Hash | StrategyKind::BoundedHash => {
                let ring = if panic { &self.full } else { &self.ring };
                let passed_removed = self
                    .full
                    .owner(key)
                    .is_some_and(|first| !ring.contains(first));
                let ring_size = ring.len();
                let allowed = |backend: usize| {
                    open(&backend)
                        && (panic || self.bug_ring || candidates.binary_search(&backend).is_ok())
                };
                let backend = if self.kind == StrategyKind::Hash {
                    ring.clockwise(key).find(|&b| allowed(b))?
                } else {
                    let load = |b: usize| {
                        if self.bug_total {
                            sent[b]
                        } else {
                            u64::from(in_flight[b])
                        }
                    };
                    let members: Vec<usize> = ring.members();
                    let total: u64 = members.iter().map(|&b| load(b)).sum();
                    let cap = self.cap(total, members.len());
                    ring.clockwise(key).find(|&b| allowed(b) && load(b) < cap)?
                };
                Some(Pick {
                    backend,
                    ring_size,
                    passed_removed,
                })
            }
        }
    }

    /// The bounded-load cap with `total` in flight over `members` backends,
    /// counting the request being placed: ⌈c · (total + 1) / members⌉.
    pub fn cap(&self, total: u64, members: usize) -> u64 {
        bounded_cap(self.load_factor, total, members)
    }
}

/// ⌈c · (total + 1) / members⌉: the most requests in flight a backend may
/// hold after a bounded-load pick adds one to `total` over `members`.
pub fn bounded_cap(load_factor: f64, total: u64, members: usize) -> u64 {
    if members == 0 {
        return u64::MAX;
    }
    // A little under the exact product, so a cap that is a whole number in
    // exact arithmetic is not pushed one higher by rounding.
    (load_factor * (total + 1) as f64 / members as f64 - 1e-9).ceil() as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::rng::stream;

    fn config(strategy: &str) -> BalancerConfig {
        toml::from_str(&format!("name = \"balancer\"\nstrategy = \"{strategy}\"")).unwrap()
    }

    fn picks(config: &BalancerConfig, backends: usize, count: usize) -> Vec<usize> {
        let mut picker = Picker::new(config, backends);
        let mut rng = stream(1, "test", 0);
        let all: Vec<usize> = (0..backends).collect();
        let in_flight = vec![0; backends];
        let sent = vec![0; backends];
        let mut drawn = Vec::new();
        (0..count)
            .map(|key| {
                picker
                    .pick(
                        &mut rng,
                        &all,
                        &[],
                        &in_flight,
                        &sent,
                        key as u64,
                        false,
                        &mut drawn,
                    )
                    .unwrap()
                    .backend
            })
            .collect()
    }

    #[test]
    fn round_robin_cycles_and_skips_tried_backends() {
        assert_eq!(picks(&config("round_robin"), 3, 7), [0, 1, 2, 0, 1, 2, 0]);
        let mut picker = Picker::new(&config("round_robin"), 3);
        let mut rng = stream(1, "test", 0);
        let mut drawn = Vec::new();
        let pick = picker
            .pick(
                &mut rng,
                &[0, 1, 2],
                &[0],
                &[0; 3],
                &[0; 3],
                0,
                false,
                &mut drawn,
            )
            .unwrap();
        assert_eq!(pick.backend, 1);
    }

    #[test]
    fn smooth_weighted_round_robin_interleaves_as_nginx_does() {
        let mut config = config("weighted");
        config.weights = vec![5, 1, 1];
        // Nginx's documented sequence for weights 5, 1, 1: a a b a c a a.
        assert_eq!(picks(&config, 3, 7), [0, 0, 1, 0, 2, 0, 0]);
    }

    #[test]
    fn least_conn_takes_the_fewest_in_flight() {
        let mut picker = Picker::new(&config("least_conn"), 3);
        let mut rng = stream(1, "test", 0);
        let mut drawn = Vec::new();
        // Backends 1 and 2 tie; ties go in round-robin order.
        for expected in [1, 2, 1] {
            let pick = picker
                .pick(
                    &mut rng,
                    &[0, 1, 2],
                    &[],
                    &[3, 1, 1],
                    &[0; 3],
                    0,
                    false,
                    &mut drawn,
                )
                .unwrap();
            assert_eq!(pick.backend, expected);
        }
    }

    #[test]
    fn power_of_d_draws_distinct_backends_unless_the_bug_is_on() {
        let mut config = config("p2c");
        let mut picker = Picker::new(&config, 2);
        let mut rng = stream(1, "test", 0);
        let mut drawn = Vec::new();
        for _ in 0..100 {
            picker.pick(
                &mut rng,
                &[0, 1],
                &[],
                &[0, 0],
                &[0, 0],
                0,
                false,
                &mut drawn,
            );
        }
        assert!(drawn.chunks(2).all(|pair| pair[0] != pair[1]));
        config.bugs = vec![BalancerBug::P2cSameBackend];
        let mut picker = Picker::new(&config, 2);
        drawn.clear();
        for _ in 0..100 {
            picker.pick(
                &mut rng,
                &[0, 1],
                &[],
                &[0, 0],
                &[0, 0],
                0,
                false,
                &mut drawn,
            );
        }
        assert!(drawn.chunks(2).any(|pair| pair[0] == pair[1]));
    }

    #[test]
    fn hash_keeps_keys_and_moves_only_the_removed_backends_keys() {
        let config = config("hash");
        let before = picks(&config, 5, 500);
        assert_eq!(
            before,
            picks(&config, 5, 500),
            "a fixed function of the key"
        );
        let mut picker = Picker::new(&config, 5);
        picker.rotation_changed(2, false);
        let mut rng = stream(1, "test", 0);
        let mut drawn = Vec::new();
        for (key, &old) in before.iter().enumerate() {
            let pick = picker
                .pick(
                    &mut rng,
                    &[0, 1, 3, 4],
                    &[],
                    &[0; 5],
                    &[0; 5],
                    key as u64,
                    false,
                    &mut drawn,
                )
                .unwrap();
            if old == 2 {
                assert_ne!(pick.backend, 2);
                assert!(pick.passed_removed);
            } else {
                assert_eq!(
                    pick.backend, old,
                    "key {key} moved though its backend stayed"
                );
            }
        }
    }

    #[test]
    fn bounded_hash_stays_under_the_cap() {
        let mut config = config("bounded_hash");
        config.load_factor = 1.0;
        let mut picker = Picker::new(&config, 4);
        let mut rng = stream(1, "test", 0);
        let mut drawn = Vec::new();
        let mut in_flight = vec![0u32; 4];
        // Every key the same: plain hashing would pile all on one backend.
        for _ in 0..40 {
            let pick = picker
                .pick(
                    &mut rng,
                    &[0, 1, 2, 3],
                    &[],
                    &in_flight,
                    &[0; 4],
                    7,
                    false,
                    &mut drawn,
                )
                .unwrap();
            let total: u32 = in_flight.iter().sum();
            in_flight[pick.backend] += 1;
            assert!(u64::from(in_flight[pick.backend]) <= bounded_cap(1.0, u64::from(total), 4));
        }
        assert_eq!(in_flight, [10, 10, 10, 10]);
        assert_eq!(bounded_cap(1.25, 7, 4), 3);
        assert_eq!(bounded_cap(1.0, 3, 4), 1);
    }
}
