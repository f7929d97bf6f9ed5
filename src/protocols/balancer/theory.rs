//! The balancer against theory: the supermarket model and balls into bins.
//!
//! - **Supermarket model** (Mitzenmacher, "The Power of Two Choices in
//!   Randomized Load Balancing", 2001): n FIFO servers with exponential
//!   service of mean 1, Poisson arrivals at rate λn, each arrival joining the
//!   shortest of d queues drawn at random. In the n → ∞ limit the fraction of
//!   queues holding at least i customers is λ^((dⁱ − 1)/(d − 1)), and the mean
//!   time in system is T_d(λ) = Σ_{i≥1} λ^((dⁱ − d)/(d − 1)) — for d = 1 the
//!   M/M/1 value 1/(1 − λ). [`supermarket`] runs the real balancer — one
//!   balancer, `random` (d = 1) or `p2c` (d = 2), 100 backends — on the
//!   simulator and reads the time in system at the backends.
//! - **Balls into bins** (Azar, Broder, Karlin and Upfal, 1999): n balls into
//!   n bins, each into the least full of d bins drawn uniformly (with
//!   replacement, ties to the first drawn); the fullest bin holds about
//!   ln n / ln ln n balls for d = 1 and ln ln n / ln d + O(1) for d ≥ 2.
//!   [`max_load`] throws them; [`fluid_bins`] integrates the differential
//!   equations ds_i/dt = s_{i−1}^d − s_i^d (Mitzenmacher 1999) for the
//!   fractions of bins holding at least i balls.

use super::{BalancerConfig, BalancerNode, LoadBalancer, Settings};
use crate::sim::rng::stream;
use crate::sim::time::Duration;
use crate::sim::{Latency, NetworkConfig, World, WorldConfig};
use crate::workload::WorkloadConfig;
use rand::Rng as _;
use std::collections::BTreeMap;
use std::rc::Rc;

/// The supermarket model's fluid-limit mean time in system, T_d(λ), in
/// units of the mean service time.
pub fn fluid_time_in_system(d: u32, lambda: f64) -> f64 {
    assert!((0.0..1.0).contains(&lambda), "λ must be in [0, 1)");
    if d == 1 {
        return 1.0 / (1.0 - lambda);
    }
    let d = f64::from(d);
    let mut total = 0.0;
    for i in 1..64 {
        let exponent = (d.powi(i) - d) / (d - 1.0);
        let term = lambda.powf(exponent);
        total += term;
        if term < 1e-15 {
            break;
        }
    }
    total
}

/// The fluid limit of greedy(d) after n balls into n bins: the fractions
/// s_1..=s_levels of bins holding at least i balls (RK4, `steps` steps).
pub fn fluid_bins(d: u32, levels: usize, steps: usize) -> Vec<f64> {
    let derivative = |s: &[f64]| -> Vec<f64> {
        (0..s.len())
            .map(|i| {
                let below = if i == 0 { 1.0 } else { s[i - 1] };
                below.powi(d as i32) - s[i].powi(d as i32)
            })
            .collect()
    };
    let mut s = vec![0.0; levels];
    let h = 1.0 / steps as f64;
    let add = |s: &[f64], k: &[f64], by: f64| -> Vec<f64> {
        s.iter().zip(k).map(|(a, b)| a + by * b).collect()
    };
    for _ in 0..steps {
        let k1 = derivative(&s);
        let k2 = derivative(&add(&s, &k1, h / 2.0));
        let k3 = derivative(&add(&s, &k2, h / 2.0));
        let k4 = derivative(&add(&s, &k3, h));
        for i in 0..levels {
            s[i] += h / 6.0 * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i]);
        }
    }
    s
}

/// The fullest bin after `n` balls go into `n` bins by greedy(d), under
/// `seed`.
pub fn max_load(n: usize, d: u32, seed: u64) -> u32 {
    let mut rng = stream(seed, "balls_into_bins", u64::from(d));
    let mut bins = vec![0u32; n];
    let mut fullest = 0;
    for _ in 0..n {
        let mut best = rng.gen_range(0..n);
        for _ in 1..d {
            let other = rng.gen_range(0..n);
            if bins[other] < bins[best] {
                best = other;
            }
        }
        bins[best] += 1;
        fullest = fullest.max(bins[best]);
    }
    fullest
}

/// The histogram of the fullest bin over `trials` trials (seeds 1..).
pub fn max_load_histogram(n: usize, d: u32, trials: u64) -> BTreeMap<u32, u64> {
    let mut histogram = BTreeMap::new();
    for seed in 1..=trials {
        *histogram.entry(max_load(n, d, seed)).or_default() += 1;
    }
    histogram
}

/// One supermarket run: `backends` exponential servers of mean `unit`, one
/// balancer drawing `d` of them per request (d = 1: `random`, else `p2c`),
/// Poisson arrivals at λ × backends per unit, for `units` units after a
/// warm-up of `units / 10`; the mean time in system at the backends, in
/// units.
pub fn supermarket(backends: usize, d: u32, lambda: f64, units: u64, seed: u64) -> f64 {
    let unit = Duration::from_millis(1);
    let strategy = if d == 1 { "random" } else { "p2c" };
    let config: BalancerConfig = toml::from_str(&format!(
        "name = \"balancer\"\nstrategy = \"{strategy}\"\nchoices = {d}\nrecord = false\nrate = {}\nretries = 0\ntry_timeout = \"1000s\"\nservice = {{ distribution = \"exponential\", mean = \"{}ns\" }}\n",
        lambda * backends as f64 * 1e9 / unit.0 as f64,
        unit.0
    ))
    .expect("the supermarket configuration parses");
    let nodes = backends + 1;
    let settings = Rc::new(Settings::new(config.clone(), nodes));
    // Messages take 1 µs, a thousandth of a service time: the balancer's
    // in-flight counts are the queue lengths.
    let world_config = WorldConfig {
        seed,
        nodes,
        clients: 1,
        network: NetworkConfig {
            latency: Latency::Constant {
                value: Duration(1_000),
            },
            ..NetworkConfig::default()
        },
        ..WorldConfig::default()
    };
    let workload = WorkloadConfig {
        clients: 1,
        op_interval: Duration::from_secs(1),
        op_timeout: Duration::from_secs(100_000),
    };
    let config = Rc::new(config);
    let mut world: World<LoadBalancer> = World::new(
        &world_config,
        Rc::new(move |id| BalancerNode::new(&settings, id)),
        |index| super::BalancerClient::new(config.clone(), index, &workload),
    );
    world.start();
    let totals = |world: &World<LoadBalancer>| -> (u64, u64) {
        (1..nodes)
            .filter_map(|id| world.node(id).as_backend())
            .fold((0, 0), |(count, time), backend| {
                (count + backend.completions, time + backend.sojourn_total)
            })
    };
    let warm = unit.0 * (units / 10).max(1);
    while world.step_until(warm).is_some() {}
    let (count_before, time_before) = totals(&world);
    let end = warm + unit.0 * units;
    while world.step_until(end).is_some() {}
    let (count, time) = totals(&world);
    let served = count - count_before;
    if served == 0 {
        return f64::NAN;
    }
    (time - time_before) as f64 / served as f64 / unit.0 as f64
}

/// "1 seed", "3 seeds".
pub fn seed_count(seeds: u64) -> String {
    format!("{seeds} seed{}", if seeds == 1 { "" } else { "s" })
}

/// The published and derived values the supermarket table sets ours
/// beside: (λ, d, the reference sheet's n = 100 simulation, if it lists one).
const SUPERMARKET_REFERENCE: [(f64, u32, Option<f64>); 6] = [
    (0.5, 1, None),
    (0.5, 2, Some(1.272)),
    (0.9, 1, None),
    (0.9, 2, Some(2.669)),
    (0.99, 1, None),
    (0.99, 2, Some(5.86)),
];

/// `faultline experiment balancer-supermarket`: the table of mean time in
/// system, ours against the fluid limit and the reference simulations.
pub fn supermarket_table(trials: Option<u64>, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    let seeds = trials.unwrap_or(3);
    writeln!(
        out,
        "supermarket model: 100 exponential backends (mean service 1), Poisson arrivals at λ·100, one balancer"
    )?;
    writeln!(
        out,
        "time in system, in mean service times; ours: the mean over {} (and their range), after a warm-up of a tenth of the run",
        seed_count(seeds)
    )?;
    writeln!(
        out,
        "{:>5} {:>2} {:>8} {:>16} {:>8} {:>19}",
        "λ", "d", "fluid", "reference n=100", "ours", "range"
    )?;
    for (lambda, d, reference) in SUPERMARKET_REFERENCE {
        let units = if lambda > 0.95 { 20_000 } else { 2_000 };
        let runs: Vec<f64> = (1..=seeds)
            .map(|seed| supermarket(100, d, lambda, units, seed))
            .collect();
        let mean = runs.iter().sum::<f64>() / runs.len() as f64;
        let low = runs.iter().copied().fold(f64::INFINITY, f64::min);
        let high = runs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        writeln!(
            out,
            "{lambda:>5} {d:>2} {:>8.4} {:>16} {mean:>8.3} {:>19}",
            fluid_time_in_system(d, lambda),
            reference.map_or("—".to_string(), |value| format!("{value:.3}")),
            format!("{low:.3}–{high:.3}"),
        )?;
    }
    Ok(())
}

/// The reference sheet's Monte Carlo histograms of the fullest bin (n, d,
/// trials, histogram).
const BINS_REFERENCE: [(usize, u32, u64, &str); 9] = [
    (10_000, 1, 100, "{5:1, 6:35, 7:53, 8:9, 9:2}"),
    (10_000, 2, 100, "{3:96, 4:4}"),
    (10_000, 3, 100, "{3:100}"),
    (100_000, 1, 30, "{7:13, 8:11, 9:6}"),
    (100_000, 2, 30, "{3:18, 4:12}"),
    (100_000, 3, 30, "{3:30}"),
    (1_000_000, 1, 5, "{8:2, 9:3}"),
    (1_000_000, 2, 5, "{4:5}"),
    (1_000_000, 3, 5, "{3:5}"),
];

fn histogram_text(histogram: &BTreeMap<u32, u64>) -> String {
    let cells: Vec<String> = histogram
        .iter()
        .map(|(load, count)| format!("{load}:{count}"))
        .collect();
    format!("{{{}}}", cells.join(", "))
}

/// `faultline experiment balancer-bins`: the fullest bin after n balls into
/// n bins, against the reference histograms, and the fluid limit's level
/// fractions.
pub fn bins_table(trials: Option<u64>, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    writeln!(
        out,
        "balls into bins: n balls into n bins, each into the least full of d drawn with replacement (ties to the first)"
    )?;
    writeln!(
        out,
        "{:>9} {:>2} {:>6}  {:<34} reference",
        "n", "d", "trials", "ours: fullest bin (load:trials)"
    )?;
    for (n, d, reference_trials, reference) in BINS_REFERENCE {
        let trials = trials.unwrap_or(reference_trials);
        let histogram = max_load_histogram(n, d, trials);
        writeln!(
            out,
            "{n:>9} {d:>2} {trials:>6}  {:<34} {reference}",
            histogram_text(&histogram)
        )?;
    }
    writeln!(out)?;
    writeln!(
        out,
        "fluid limit (RK4, 10000 steps): fraction of bins holding at least i balls"
    )?;
    writeln!(
        out,
        "{:>2} {:>11} {:>11} {:>11} {:>11}",
        "d", "s1", "s2", "s3", "s4"
    )?;
    for d in 1..=4 {
        let s = fluid_bins(d, 6, 10_000);
        writeln!(
            out,
            "{d:>2} {:>11.4e} {:>11.4e} {:>11.4e} {:>11.4e}",
            s[0], s[1], s[2], s[3]
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fluid_time_in_system_matches_the_reference_table() {
        // Table B.3 of the reference sheet.
        let cases = [
            (1, 0.9, 10.0),
            (2, 0.5, 1.2657),
            (2, 0.9, 2.6141),
            (2, 0.99, 5.4320),
            (3, 0.99, 3.8578),
        ];
        for (d, lambda, expected) in cases {
            let value = fluid_time_in_system(d, lambda);
            assert!(
                (value - expected).abs() < 1e-3,
                "T_{d}({lambda}) = {value}, expected {expected}"
            );
        }
    }

    #[test]
    fn the_bins_fluid_limit_matches_the_reference_table() {
        // Table B.1: d = 1 is the Poisson(1) tail, d = 2 drops doubly
        // exponentially.
        let one = fluid_bins(1, 4, 10_000);
        assert!((one[0] - 0.6321).abs() < 1e-4 && (one[1] - 0.2642).abs() < 1e-4);
        let two = fluid_bins(2, 4, 10_000);
        assert!((two[0] - 0.7616).abs() < 1e-4);
        assert!((two[2] - 8.895e-3).abs() < 1e-5);
        assert!((two[3] - 6.047e-6).abs() < 1e-8);
    }

    #[test]
    fn two_choices_shrink_the_fullest_bin() {
        let one = max_load(10_000, 1, 1);
        let two = max_load(10_000, 2, 1);
        assert!((5..=10).contains(&one), "d = 1: {one}");
        assert!((3..=4).contains(&two), "d = 2: {two}");
    }

    #[test]
    fn a_short_supermarket_run_lands_near_the_fluid_limit() {
        // λ = 0.5, d = 2: the fluid limit is 1.2657; a short run of 100
        // backends sits within a few percent above it.
        let value = supermarket(100, 2, 0.5, 300, 1);
        assert!((1.2..1.4).contains(&value), "{value}");
    }
}
