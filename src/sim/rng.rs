//! Seeded random streams.
//!
//! One root seed; every consumer (the network, the fault schedule, the workload,
//! each node) draws from its own ChaCha8 stream derived from the root seed and a
//! fixed stream name. Removing one fault therefore does not reshuffle the network's
//! choices — the property shrinking relies on. ChaCha is portable across platforms
//! and versions, unlike `StdRng`/`SmallRng`.

use rand::{Rng as _, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The random number generator every simulated component uses.
pub type Rng = ChaCha8Rng;

/// One step of SplitMix64: a good 64-bit mixer for turning names into seeds.
pub fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A stable 64-bit hash of a name (FNV-1a), independent of Rust's hasher.
pub fn name_hash(name: &str) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325u64;
    for byte in name.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// The stream called `name` (with `index`, e.g. a node id) under `root_seed`.
pub fn stream(root_seed: u64, name: &str, index: u64) -> Rng {
    let mut state =
        root_seed ^ name_hash(name).rotate_left(17) ^ index.wrapping_mul(0xA24B_AED4_963E_E407);
    let mut seed = [0u8; 32];
    for chunk in seed.chunks_exact_mut(8) {
        chunk.copy_from_slice(&splitmix64(&mut state).to_le_bytes());
    }
    Rng::from_seed(seed)
}

/// True with probability `p`; draws nothing when `p` is 0 or 1, so a disabled
/// fault does not consume randomness.
#[inline]
pub fn chance(rng: &mut Rng, p: f64) -> bool {
    if p <= 0.0 {
        false
    } else if p >= 1.0 {
        true
    } else {
        rng.r#gen::<f64>() < p
    }
}

/// A uniform draw in `[low, high]` (inclusive); no draw when the range is a point.
#[inline]
pub fn between(rng: &mut Rng, low: u64, high: u64) -> u64 {
    if high <= low {
        low
    } else {
        rng.gen_range(low..=high)
    }
}

/// A uniform integer in `[0, n)`, exactly unbiased, by Lemire's nearly
/// divisionless method: one multiply per draw, a division only on the rare
/// rejection path. Much cheaper than `gen_range` for small ranges on a hot path.
#[inline]
pub fn below(rng: &mut Rng, n: u32) -> u32 {
    assert!(n > 0, "below(0) has no values");
    let mut product = u64::from(rng.next_u32()) * u64::from(n);
    let mut low = product as u32;
    if low < n {
        let threshold = n.wrapping_neg() % n;
        while low < threshold {
            product = u64::from(rng.next_u32()) * u64::from(n);
            low = product as u32;
        }
    }
    (product >> 32) as u32
}

/// A uniform float in the open interval (0, 1), safe for logarithms.
#[inline]
pub fn open_unit(rng: &mut Rng) -> f64 {
    loop {
        let u: f64 = rng.r#gen();
        if u > 0.0 {
            return u;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::RngCore;

    #[test]
    fn streams_with_different_names_or_indices_differ() {
        let a = stream(7, "network", 0).next_u64();
        let b = stream(7, "faults", 0).next_u64();
        let c = stream(7, "node", 1).next_u64();
        let d = stream(7, "node", 2).next_u64();
        assert_ne!(a, b);
        assert_ne!(c, d);
        assert_eq!(a, stream(7, "network", 0).next_u64());
    }

    #[test]
    fn below_is_uniform_over_small_ranges() {
        let mut rng = stream(5, "test", 0);
        let mut counts = [0u32; 3];
        for _ in 0..30_000 {
            counts[below(&mut rng, 3) as usize] += 1;
        }
        assert!(
            counts.iter().all(|&count| (9_500..10_500).contains(&count)),
            "{counts:?}"
        );
        assert_eq!(below(&mut rng, 1), 0);
    }

    #[test]
    fn zero_probability_draws_nothing() {
        let mut rng = stream(1, "x", 0);
        let before = rng.clone().next_u64();
        assert!(!chance(&mut rng, 0.0));
        assert!(chance(&mut rng, 1.0));
        assert_eq!(rng.next_u64(), before);
    }
}
