//! Probabilistically Bounded Staleness (Bailis et al., VLDB 2012): the WARS
//! model of a quorum write followed by a quorum read, as the oracle the
//! simulated store's staleness will be measured against.
//!
//! Per replica i, four one-way delays are drawn: W (write request), A (its
//! acknowledgement), R (read request) and S (read response). The write
//! commits when the W-th fastest acknowledgement returns, at w_t, the W-th
//! smallest W_i + A_i. A read started t after commit is answered by the R
//! replicas with the smallest R_i + S_i, and sees the write if any of them
//! had the write before the read request arrived: W_i ≤ w_t + t + R_i.
//! P(consistent | t) is estimated by Monte Carlo; the *t-visibility* at
//! probability p is the least t with P(consistent | t) ≥ p.
//!
//! The latency fits are the authors' (their simulator's, in ms): LinkedIn's
//! SSD and spinning-disk production latencies (LNKD-SSD, LNKD-DISK), and
//! Yammer's (YMMR), each a mixture of a Pareto and an exponential.

use crate::sim::rng::{Rng, open_unit, stream};

/// A latency distribution in ms: with probability `pareto_share` a Pareto
/// with scale `x_m` and shape `alpha`, else an exponential with rate
/// `lambda` (per ms).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Mixture {
    /// The share of draws from the Pareto.
    pub pareto_share: f64,
    /// The Pareto's scale (its minimum), ms.
    pub x_m: f64,
    /// The Pareto's shape.
    pub alpha: f64,
    /// The exponential's rate, per ms.
    pub lambda: f64,
}

impl Mixture {
    /// One draw, in ms.
    pub fn sample(&self, rng: &mut Rng) -> f64 {
        if open_unit(rng) < self.pareto_share {
            self.x_m / open_unit(rng).powf(1.0 / self.alpha)
        } else {
            -open_unit(rng).ln() / self.lambda
        }
    }
}

/// The four delays of the WARS model.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Wars {
    /// Write request.
    pub w: Mixture,
    /// Write acknowledgement.
    pub a: Mixture,
    /// Read request.
    pub r: Mixture,
    /// Read response.
    pub s: Mixture,
}

const LNKD_SSD: Mixture = Mixture {
    pareto_share: 0.9122,
    x_m: 0.235,
    alpha: 10.0,
    lambda: 1.66,
};

impl Wars {
    /// LinkedIn, SSDs: every delay 91.22% Pareto(0.235, 10), 8.78% Exp(1.66).
    pub const LNKD_SSD: Wars = Wars {
        w: LNKD_SSD,
        a: LNKD_SSD,
        r: LNKD_SSD,
        s: LNKD_SSD,
    };

    /// LinkedIn, spinning disks: writes 38% Pareto(1.05, 1.51), 62%
    /// Exp(0.183); the other delays as LNKD-SSD.
    pub const LNKD_DISK: Wars = Wars {
        w: Mixture {
            pareto_share: 0.38,
            x_m: 1.05,
            alpha: 1.51,
            lambda: 0.183,
        },
        a: LNKD_SSD,
        r: LNKD_SSD,
        s: LNKD_SSD,
    };

    /// Yammer: writes 93.9% Pareto(3, 3.5), 6.1% Exp(0.0028); the other
    /// delays 98.2% Pareto(1.5, 3.8), 1.8% Exp(0.0217).
    pub const YMMR: Wars = Wars {
        w: Mixture {
            pareto_share: 0.939,
            x_m: 3.0,
            alpha: 3.5,
            lambda: 0.0028,
        },
        a: YMMR_ARS,
        r: YMMR_ARS,
        s: YMMR_ARS,
    };
}

const YMMR_ARS: Mixture = Mixture {
    pareto_share: 0.982,
    x_m: 1.5,
    alpha: 3.8,
    lambda: 0.0217,
};

/// A quorum configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quorum {
    /// Replicas.
    pub n: usize,
    /// Replies a read waits for.
    pub r: usize,
    /// Acknowledgements a write waits for.
    pub w: usize,
}

/// One write-then-read trial: the commit time and whether a read started
/// `t` ms after it is consistent, for every `t` in `ts` (ascending or not).
fn trial(model: &Wars, quorum: Quorum, ts: &[f64], rng: &mut Rng, fresh: &mut [u64]) {
    let n = quorum.n;
    let mut writes = [0.0f64; 16];
    let mut acked = [0.0f64; 16];
    let mut reads = [0.0f64; 16];
    let mut answered = [(0.0f64, 0usize); 16];
    for i in 0..n {
        writes[i] = model.w.sample(rng);
        acked[i] = writes[i] + model.a.sample(rng);
        reads[i] = model.r.sample(rng);
        answered[i] = (reads[i] + model.s.sample(rng), i);
    }
    let mut order = acked;
    order[..n].sort_by(f64::total_cmp);
    let commit = order[quorum.w - 1];
    answered[..n].sort_by(|a, b| a.0.total_cmp(&b.0));
    for (slot, &t) in ts.iter().enumerate() {
        if answered[..quorum.r]
            .iter()
            .any(|&(_, i)| writes[i] <= commit + t + reads[i])
        {
            fresh[slot] += 1;
        }
    }
}

/// P(consistent | t) for each `t` in `ts` (ms), from `trials` Monte Carlo
/// trials seeded by `seed`.
pub fn consistency(model: &Wars, quorum: Quorum, ts: &[f64], trials: u64, seed: u64) -> Vec<f64> {
    assert!(
        quorum.n <= 16
            && quorum.r >= 1
            && quorum.w >= 1
            && quorum.r <= quorum.n
            && quorum.w <= quorum.n,
        "a quorum needs 1 ≤ R, W ≤ N ≤ 16, got {quorum:?}"
    );
    let mut rng = stream(seed, "pbs", 0);
    let mut fresh = vec![0u64; ts.len()];
    for _ in 0..trials {
        trial(model, quorum, ts, &mut rng, &mut fresh);
    }
    fresh
        .into_iter()
        .map(|count| count as f64 / trials as f64)
        .collect()
}

/// The least t (ms, to within `resolution`) with P(consistent | t) ≥ `p`,
/// searched in `[0, limit]`; `None` if even `limit` is not enough.
pub fn t_visibility(
    model: &Wars,
    quorum: Quorum,
    p: f64,
    limit: f64,
    resolution: f64,
    trials: u64,
    seed: u64,
) -> Option<f64> {
    // One pass over a grid (the same trials for every t: monotone in t).
    let steps = (limit / resolution).ceil() as usize;
    let ts: Vec<f64> = (0..=steps).map(|step| step as f64 * resolution).collect();
    let probabilities = consistency(model, quorum, &ts, trials, seed);
    ts.into_iter()
        .zip(probabilities)
        .find(|&(_, probability)| probability >= p)
        .map(|(t, _)| t)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONE: Quorum = Quorum { n: 3, r: 1, w: 1 };

    #[test]
    fn strict_quorums_are_always_consistent() {
        for (r, w) in [(2, 2), (1, 3), (3, 1)] {
            let quorum = Quorum { n: 3, r, w };
            let p = consistency(&Wars::LNKD_DISK, quorum, &[0.0], 20_000, 1);
            assert_eq!(p, vec![1.0], "{quorum:?}");
        }
    }

    #[test]
    fn consistency_grows_with_time_after_commit() {
        let ts = [0.0, 1.0, 5.0, 20.0, 100.0];
        let p = consistency(&Wars::LNKD_DISK, ONE, &ts, 20_000, 2);
        assert!(p.windows(2).all(|pair| pair[0] <= pair[1]), "{p:?}");
        assert!(p[4] > 0.99, "{p:?}");
    }

    #[test]
    fn lnkd_disk_right_after_commit_is_near_the_papers_figure() {
        // PBS §5.6: N = 3, R = W = 1 on LNKD-DISK, 43.9% consistent at t = 0.
        let p = consistency(&Wars::LNKD_DISK, ONE, &[0.0], 200_000, 3)[0];
        assert!((p - 0.439).abs() < 0.02, "P(consistent | 0) = {p}");
    }
}
