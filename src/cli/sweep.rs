//! `faultline sweep FILE`: run a sweep file's grid × seeds, print a table of the
//! metric per grid point, and write `<stem>.json`, `<stem>.csv` and the CDF chart
//! `<stem>.svg` / `<stem>.png` (one curve per grid point) into the output
//! directory.

use super::exit;
use crate::report::chart::{CdfChart, Curve, RateChart, write_chart};
use crate::report::write_atomic;
use crate::runner::Registry;
use crate::runner::sweep::{Sweep, SweepResult, run_sweep};
use std::path::{Path, PathBuf};

/// Validated arguments of `faultline sweep`.
#[derive(Clone, Debug)]
pub struct SweepArgs {
    /// The sweep file.
    pub file: String,
    /// Output directory.
    pub out: PathBuf,
    /// Override the file's seeds per value.
    pub seeds: Option<u64>,
    /// Worker threads (0 = one per core).
    pub jobs: usize,
}

/// Prints the table of a finished sweep.
pub fn print_table(result: &SweepResult) {
    println!("{}", result.name);
    println!(
        "{} over {}, seeds 1..={} per value",
        result.metric_description, result.parameter, result.seeds
    );
    let capped = if result.cap.is_some() {
        ">=cap"
    } else {
        "failed"
    };
    println!(
        "{:>16} {:>6} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>7}",
        "value", "seeds", "min", "median", "mean", "p90", "p99", "max", capped
    );
    for point in &result.points {
        let last = |count: usize| format!("{count:>7}");
        match &point.distribution {
            None => println!(
                "{:>16} {:>6} {:>9}",
                point.label,
                point.samples.len(),
                "no values"
            ),
            Some(stats) => println!(
                "{:>16} {:>6} {} {}",
                point.label,
                stats.trials,
                stats.columns(9),
                last(if result.cap.is_some() {
                    stats.capped
                } else {
                    point.failed_seeds.len()
                })
            ),
        }
    }
}

/// The chart of a sweep: one CDF per grid point.
pub fn chart(result: &SweepResult, log_x: bool, x_range: Option<(f64, f64)>) -> CdfChart {
    CdfChart {
        title: format!("{} ({} seeds per value)", result.name, result.seeds),
        x_label: if log_x {
            format!("{}, log scale", result.metric_description)
        } else {
            result.metric_description.clone()
        },
        curves: result
            .points
            .iter()
            .map(|point| {
                let capped = point.distribution.as_ref().map_or(0, |stats| stats.capped);
                let label = match result.cap {
                    Some(cap) if capped > 0 => format!(
                        "{}, {capped} capped at {}",
                        point.label,
                        crate::sim::time::format_nanos((cap * 1e6) as u64)
                    ),
                    _ => point.label.clone(),
                };
                Curve {
                    label,
                    values: point.samples.iter().flatten().copied().collect(),
                }
            })
            .collect(),
        log_x,
        x_range,
    }
}

fn write_outputs(
    dir: &Path,
    stem: &str,
    result: &SweepResult,
    sweep: &Sweep,
) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let json = serde_json::to_string_pretty(result).expect("sweep results serialise");
    write_atomic(&dir.join(format!("{stem}.json")), json.as_bytes())?;
    write_atomic(&dir.join(format!("{stem}.csv")), result.csv().as_bytes())?;
    if matches!(
        sweep.metric,
        crate::runner::sweep::Metric::Run(crate::runner::sweep::RunMetric::Failed)
    ) {
        // A 0/1 metric: its CDFs are steps at 0 and 1; the rate per value is the chart.
        return write_chart(dir, stem, &rate_chart(result));
    }
    write_chart(dir, stem, &chart(result, sweep.log_x, sweep.x_range))
}

/// The chart of a sweep of `failed`: the failure rate at each grid value.
pub fn rate_chart(result: &SweepResult) -> RateChart {
    RateChart {
        title: format!("{} ({} seeds per value)", result.name, result.seeds),
        x_label: result.parameter.clone(),
        y_label: "runs failed".into(),
        points: result
            .points
            .iter()
            .map(|point| {
                let samples: Vec<f64> = point.samples.iter().flatten().copied().collect();
                let rate = if samples.is_empty() {
                    0.0
                } else {
                    samples.iter().sum::<f64>() / samples.len() as f64
                };
                (point.label.clone(), rate)
            })
            .collect(),
    }
}

/// Runs `faultline sweep`; returns the exit code.
pub fn run(registry: &Registry, args: &SweepArgs) -> i32 {
    let mut sweep = match Sweep::read(registry, &args.file) {
        Ok(sweep) => sweep,
        Err(error) => {
            eprintln!("error: {error}");
            return exit::BAD_INPUT;
        }
    };
    if let Some(seeds) = args.seeds {
        if seeds == 0 {
            eprintln!("error: --seeds must be at least 1");
            return exit::BAD_INPUT;
        }
        sweep.seeds = seeds;
    }
    let jobs = if args.jobs == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        args.jobs
    };
    let started = std::time::Instant::now();
    let result = run_sweep(registry, &sweep, jobs);
    let elapsed = started.elapsed().as_secs_f64();
    print_table(&result);
    let stem = Path::new(&args.file)
        .file_stem()
        .and_then(|stem| stem.to_str())
        .unwrap_or("sweep")
        .to_string();
    if let Err(error) = write_outputs(&args.out, &stem, &result, &sweep) {
        eprintln!(
            "error: writing the sweep results to {} failed: {error}",
            args.out.display()
        );
        return exit::INTERNAL;
    }
    println!(
        "wrote     {} (.json, .csv, .png beside it; {} runs in {elapsed:.1}s)",
        args.out.join(format!("{stem}.svg")).display(),
        sweep.points.len() as u64 * sweep.seeds
    );
    exit::OK
}
