//! `faultline bench WORKLOAD`: simulator speed.

use super::exit;
use crate::runner::bench;

/// Runs the named benchmark `repeat` times and prints the best run's line plus the
/// spread over runs (the machine's noise).
pub fn run(workload: &str, seconds: u64, repeat: u32) -> i32 {
    if !bench::WORKLOADS.contains(&workload) {
        eprintln!(
            "error: unknown benchmark workload '{workload}'; expected one of: {}",
            bench::WORKLOADS.join(", ")
        );
        return exit::BAD_INPUT;
    }
    if seconds == 0 || repeat == 0 {
        eprintln!("error: --seconds and --repeat must be at least 1");
        return exit::BAD_INPUT;
    }
    let results: Vec<bench::BenchResult> = (0..repeat)
        .map(|_| match workload {
            "raft" => bench::kv("raft", seconds),
            "paxos" => bench::kv("paxos", seconds),
            _ => bench::token_forward(seconds),
        })
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
    // The key/value runs go through the runner, which does not expose its queue.
    let kv = workload != "token_forward";
    let peak = if kv {
        String::new()
    } else {
        format!("peak queue {} events, ", best.peak_queue)
    };
    println!(
        "  {} runs: best {:.3} s, worst {:.3} s (spread {:.1}%), {peak}trace hashes {}",
        results.len(),
        best.wall_seconds,
        worst,
        (worst / best.wall_seconds - 1.0) * 100.0,
        if hashes_agree { "identical" } else { "DIFFER" }
    );
    if kv {
        let seeds = 50;
        println!(
            "  seeds of the 10-virtual-second scenario, one thread: {:.1} per second ({seeds} seeds)",
            bench::kv_seeds_per_second(workload, seeds)
        );
    }
    if hashes_agree {
        exit::OK
    } else {
        exit::NONDETERMINISM
    }
}
