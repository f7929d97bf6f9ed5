//! `faultline bench WORKLOAD`: simulator speed, on the workloads the registered
//! protocols add.

use super::exit;
use crate::runner::{Registry, bench};

/// Runs the named benchmark `repeat` times and prints the best run's line plus the
/// spread over runs (the machine's noise).
pub fn run(registry: &Registry, workload: &str, seconds: u64, repeat: u32) -> i32 {
    let workloads = registry.bench_workloads();
    let Some(chosen) = workloads.iter().find(|known| known.name == workload) else {
        let names: Vec<&str> = workloads.iter().map(|known| known.name).collect();
        eprintln!(
            "error: unknown benchmark workload '{workload}'; expected one of: {}",
            names.join(", ")
        );
        return exit::BAD_INPUT;
    };
    if seconds == 0 || repeat == 0 {
        eprintln!("error: --seconds and --repeat must be at least 1");
        return exit::BAD_INPUT;
    }
    let results: Vec<bench::BenchResult> = (0..repeat)
        .map(|_| bench::run(registry, chosen, seconds))
        .collect();
    let hashes_agree = results
        .windows(2)
        .all(|pair| pair[0].trace_hash == pair[1].trace_hash);
    let best = results
        .iter()
        .min_by(|a, b| a.wall_seconds.total_cmp(&b.wall_seconds))
        .expect("at least one run");
    let worst = results.iter().map(|r| r.wall_seconds).fold(0.0, f64::max);
    println!("{}", best.line());
    // Scenario workloads go through the runner, which does not expose its queue.
    let peak = match best.peak_queue {
        Some(peak) => format!("peak queue {peak} events, "),
        None => String::new(),
    };
    let hashes = if best.unit.is_some() {
        "result hashes"
    } else {
        "trace hashes"
    };
    println!(
        "  {} runs: best {:.3} s, worst {:.3} s (spread {:.1}%), {peak}{hashes} {}",
        results.len(),
        best.wall_seconds,
        worst,
        (worst / best.wall_seconds - 1.0) * 100.0,
        if hashes_agree { "identical" } else { "DIFFER" }
    );
    let seeds = 50;
    if let Some(rate) = bench::seeds_per_second(registry, chosen, seeds) {
        println!(
            "  seeds of the 10-virtual-second scenario, one thread: {rate:.1} per second ({seeds} seeds)"
        );
    }
    if hashes_agree {
        exit::OK
    } else {
        exit::NONDETERMINISM
    }
}
