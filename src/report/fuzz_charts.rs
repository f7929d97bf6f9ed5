//! Fuzz campaign charts, drawn from plain per-seed results: seeds per second over
//! the campaign's wall time, failures by checker, and the distributions of
//! virtual time and trace events per seed.
//!
//! Seeds per second is wall-clock and so differs between campaigns; the other
//! three charts depend only on the seeds' results.

use super::chart::{CdfChart, Chart, Curve, DrawResult, FONT, colour, write_chart};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::collections::BTreeMap;
use std::path::Path;

/// One seed of a campaign, as the charts see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeedResult {
    /// The seed.
    pub seed: u64,
    /// Trace events.
    pub events: u64,
    /// Virtual time at the end (ns).
    pub virtual_time: u64,
    /// The checker of its first violation, if it failed.
    pub checker: Option<String>,
    /// Wall time from the campaign's start until this seed finished (ns).
    pub finished_after: u64,
    /// Wall time the seed took (ns).
    pub wall: u64,
}

/// The per-seed results a campaign keeps for its charts. They hold wall-clock
/// times, which differ between two runs of the same campaign, so they take no
/// part in comparing campaign summaries: any two compare equal.
#[derive(Clone, Debug, Default)]
pub struct SeedResults(pub Vec<SeedResult>);

impl PartialEq for SeedResults {
    fn eq(&self, _other: &Self) -> bool {
        true
    }
}

impl Eq for SeedResults {}

/// Seeds finished per second of wall time.
struct RateChart {
    buckets: Vec<f64>,
    bucket_seconds: f64,
}

impl Chart for RateChart {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        root.fill(&WHITE)?;
        let peak = self.buckets.iter().copied().fold(1.0f64, f64::max) * 1.15;
        let end = self.buckets.len() as f64 * self.bucket_seconds;
        let mut chart = ChartBuilder::on(root)
            .caption(
                "Seeds per second over the campaign (wall clock)",
                (FONT, 18),
            )
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(64)
            .build_cartesian_2d(0.0..end.max(1e-3), 0.0..peak)?;
        chart
            .configure_mesh()
            .x_desc("wall time (s)")
            .y_desc("seeds finished per second")
            .label_style((FONT, 12))
            .axis_desc_style((FONT, 13))
            .draw()?;
        let points: Vec<(f64, f64)> = self
            .buckets
            .iter()
            .enumerate()
            .map(|(index, rate)| ((index as f64 + 0.5) * self.bucket_seconds, *rate))
            .collect();
        chart.draw_series(LineSeries::new(points, colour(0).stroke_width(2)))?;
        Ok(())
    }
}

/// Failing seeds per checker (first violation), as bars.
struct FailureChart {
    counts: Vec<(String, u64)>,
    runs: usize,
}

impl Chart for FailureChart {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        root.fill(&WHITE)?;
        let bars = self.counts.len().max(1);
        let peak = self
            .counts
            .iter()
            .map(|(_, count)| *count)
            .max()
            .unwrap_or(0) as f64;
        let failed: u64 = self.counts.iter().map(|(_, count)| count).sum();
        let mut chart = ChartBuilder::on(root)
            .caption(
                format!("Failing seeds by checker ({failed} of {} seeds)", self.runs),
                (FONT, 18),
            )
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(56)
            .build_cartesian_2d(-0.5..bars as f64 - 0.5, 0.0..(peak * 1.15).max(1.0))?;
        let names: Vec<String> = self.counts.iter().map(|(name, _)| name.clone()).collect();
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(bars)
            .x_label_formatter(&|value| {
                let index = value.round();
                if (value - index).abs() < 1e-6 && index >= 0.0 {
                    names.get(index as usize).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .y_desc("failing seeds (first violation)")
            .y_label_formatter(&|value| format!("{value:.0}"))
            .label_style((FONT, 12))
            .axis_desc_style((FONT, 13))
            .draw()?;
        for (index, (_, count)) in self.counts.iter().enumerate() {
            let x = index as f64;
            chart.draw_series(std::iter::once(Rectangle::new(
                [(x - 0.3, 0.0), (x + 0.3, *count as f64)],
                colour(3).filled(),
            )))?;
        }
        if self.counts.is_empty() {
            chart.draw_series(std::iter::once(Text::new(
                "no seed failed",
                (-0.1, 0.5),
                (FONT, 16).into_font().color(&BLACK),
            )))?;
        }
        Ok(())
    }
}

/// Writes `fuzz_rate`, `fuzz_failures`, `fuzz_virtual_time` and `fuzz_events`
/// (SVG and PNG) into `dir`, which must exist.
pub fn write_fuzz_charts(dir: &Path, results: &[SeedResult]) -> std::io::Result<()> {
    let wall_end = results
        .iter()
        .map(|result| result.finished_after)
        .max()
        .unwrap_or(0)
        .max(1) as f64
        / 1e9;
    let buckets = (results.len() / 20).clamp(1, 60);
    let bucket_seconds = wall_end / buckets as f64;
    let mut rate = vec![0.0; buckets];
    for result in results {
        let slot =
            ((result.finished_after as f64 / 1e9 / bucket_seconds) as usize).min(buckets - 1);
        rate[slot] += 1.0 / bucket_seconds;
    }
    write_chart(
        dir,
        "fuzz_rate",
        &RateChart {
            buckets: rate,
            bucket_seconds,
        },
    )?;
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    for checker in results.iter().filter_map(|result| result.checker.as_ref()) {
        *counts.entry(checker.clone()).or_insert(0) += 1;
    }
    write_chart(
        dir,
        "fuzz_failures",
        &FailureChart {
            counts: counts.into_iter().collect(),
            runs: results.len(),
        },
    )?;
    let split = |value: fn(&SeedResult) -> f64| -> Vec<Curve> {
        let mut curves = vec![Curve {
            label: "passed".into(),
            values: results
                .iter()
                .filter(|result| result.checker.is_none())
                .map(value)
                .collect(),
        }];
        let failed: Vec<f64> = results
            .iter()
            .filter(|result| result.checker.is_some())
            .map(value)
            .collect();
        if !failed.is_empty() {
            curves.push(Curve {
                label: "failed".into(),
                values: failed,
            });
        }
        curves
    };
    write_chart(
        dir,
        "fuzz_virtual_time",
        &CdfChart {
            title: "Virtual time per seed (failing runs stop at their violation)".into(),
            x_label: "virtual time at the end of the run (ms)".into(),
            curves: split(|result| result.virtual_time as f64 / 1e6),
            log_x: false,
            x_range: None,
        },
    )?;
    write_chart(
        dir,
        "fuzz_events",
        &CdfChart {
            title: "Trace events per seed".into(),
            x_label: "events".into(),
            curves: split(|result| result.events as f64),
            log_x: false,
            x_range: None,
        },
    )
}
