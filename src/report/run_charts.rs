//! The charts of one run, drawn from plain data: the message sequence diagram,
//! client latency CDFs, throughput over time with fault windows shaded, and the
//! protocol's time series (Raft: term, leader, commit and applied index).
//!
//! [`write_run_charts`] writes each chart as SVG and PNG into the report
//! directory (plus the linearizability picture as SVG when a history failed) and
//! returns what it wrote, in order, for `index.html`.

use super::capture::{Arrow, FaultWindow, WindowKind};
use super::chart::{
    CdfChart, Chart, Curve, DrawResult, EmptyChart, FONT, colour, format_seconds, write_chart,
};
use super::series::{Samples, SeriesKind};
use super::{Summary, write_atomic};
use crate::check::Explanation;
use crate::sim::{EventType, HistoryEvent};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::collections::BTreeMap;
use std::path::Path;

/// Most arrows one sequence diagram draws.
pub const ARROWS_MAX: usize = 300;

/// Everything a run's charts are drawn from.
pub struct RunView<'a> {
    /// The run's summary (violations, end time).
    pub summary: &'a Summary,
    /// The client history.
    pub history: &'a [HistoryEvent],
    /// Messages, in the order they completed (possibly only the latest ones).
    pub arrows: Vec<&'a Arrow>,
    /// Fault windows.
    pub windows: &'a [FaultWindow],
    /// Protocol time series.
    pub samples: &'a Samples,
    /// Why the history is not linearizable, if that failed.
    pub explanation: Option<&'a Explanation>,
    /// Server nodes.
    pub nodes: usize,
    /// Clients.
    pub clients: usize,
    /// End of the fault phase (ns).
    pub fault_phase_end: u64,
}

/// One chart written into the report directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChartFile {
    /// File stem: `stem.svg` (and `stem.png` when `png`).
    pub stem: String,
    /// What it shows.
    pub title: String,
    /// Whether a PNG was written too.
    pub png: bool,
}

fn window_colour(kind: WindowKind) -> RGBColor {
    match kind {
        WindowKind::Partition => RGBColor(255, 160, 0),
        WindowKind::Crash => RGBColor(214, 39, 40),
        WindowKind::Pause => RGBColor(31, 119, 180),
        WindowKind::Disconnect => RGBColor(148, 103, 189),
    }
}

const WINDOW_KINDS: [WindowKind; 4] = [
    WindowKind::Partition,
    WindowKind::Crash,
    WindowKind::Pause,
    WindowKind::Disconnect,
];

fn first_violation(summary: &Summary) -> Option<u64> {
    summary.violations.first().map(|violation| violation.time)
}

/// The message sequence diagram: a lane per process, time downwards.
pub struct SequenceChart {
    title: String,
    lanes: Vec<String>,
    nodes: usize,
    arrows: Vec<Arrow>,
    windows: Vec<FaultWindow>,
    start: u64,
    end: u64,
    violation: Option<u64>,
}

impl SequenceChart {
    /// Picks the window: around the first violation if there is one (the last
    /// [`ARROWS_MAX`] messages sent before it), else the run's first messages.
    pub fn new(view: &RunView<'_>) -> Self {
        let mut arrows: Vec<&Arrow> = view.arrows.clone();
        arrows.sort_by_key(|arrow| (arrow.sent, arrow.arrived, arrow.from, arrow.to));
        let run_end = view.summary.virtual_time.max(1);
        let violation = first_violation(view.summary);
        let total = arrows.len();
        let (shown, start, end, which) = match violation {
            Some(at) => {
                let before = arrows.partition_point(|arrow| arrow.sent <= at);
                let first = before.saturating_sub(ARROWS_MAX);
                let shown = &arrows[first..before];
                let start = if first == 0 {
                    0
                } else {
                    shown.first().map_or(0, |arrow| arrow.sent)
                };
                let span = at.saturating_sub(start).max(1_000_000);
                let end = (at + span / 20).min(run_end.max(at));
                (
                    shown,
                    start,
                    end.max(at + 1),
                    "ending at the first violation",
                )
            }
            None => {
                let shown = &arrows[..total.min(ARROWS_MAX)];
                let end = if total > ARROWS_MAX {
                    shown.last().map_or(run_end, |arrow| arrow.sent + 1)
                } else {
                    run_end
                };
                (shown, 0, end, "from the start")
            }
        };
        let title = if shown.len() < total {
            format!(
                "Messages {}–{} ({} of {} messages, the window {which})",
                format_seconds(start as f64),
                format_seconds(end as f64),
                shown.len(),
                total
            )
        } else {
            format!(
                "Messages {}–{} (all {} messages)",
                format_seconds(start as f64),
                format_seconds(end as f64),
                total
            )
        };
        let mut lanes: Vec<String> = (0..view.nodes).map(|id| format!("n{id}")).collect();
        lanes.extend((0..view.clients).map(|index| format!("c{index}")));
        SequenceChart {
            title,
            lanes,
            nodes: view.nodes,
            arrows: shown.iter().map(|arrow| (*arrow).clone()).collect(),
            windows: view
                .windows
                .iter()
                .filter(|window| window.end > start && window.start < end)
                .cloned()
                .collect(),
            start,
            end,
            violation,
        }
    }
}

impl Chart for SequenceChart {
    fn size(&self) -> (u32, u32) {
        let width = (self.lanes.len() as u32 * 70 + 220).clamp(640, 2400);
        (width, 900)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        root.fill(&WHITE)?;
        let lanes = self.lanes.len().max(1) as f64;
        let to_y = |time: u64| -((time.clamp(self.start, self.end) - self.start) as f64 / 1e6);
        let bottom = to_y(self.end);
        let top_pad = -bottom * 0.04 + 0.001;
        let mut chart = ChartBuilder::on(root)
            .caption(&self.title, (FONT, 17))
            .margin(10)
            .x_label_area_size(10)
            .y_label_area_size(70)
            .build_cartesian_2d(-0.6..lanes - 0.4, bottom..top_pad)?;
        let start = self.start as f64;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .disable_x_axis()
            .y_desc("virtual time (top to bottom)")
            .y_label_formatter(&|value| format_seconds(start - value * 1e6))
            .label_style((FONT, 12))
            .axis_desc_style((FONT, 13))
            .light_line_style(WHITE.mix(0.0))
            .draw()?;
        let nodes = self.nodes as f64;
        // Fault windows under everything else.
        for window in &self.windows {
            let (y0, y1) = (to_y(window.start), to_y(window.end));
            let (x0, x1) = match window.node {
                None => (-0.45, nodes - 0.55),
                Some(node) => (node as f64 - 0.3, node as f64 + 0.3),
            };
            let alpha = if window.node.is_none() { 0.12 } else { 0.25 };
            chart.draw_series(std::iter::once(Rectangle::new(
                [(x0, y0), (x1, y1)],
                window_colour(window.kind).mix(alpha).filled(),
            )))?;
        }
        // Lanes and their names.
        for (index, name) in self.lanes.iter().enumerate() {
            let x = index as f64;
            let style = if index < self.nodes {
                BLACK.mix(0.5).stroke_width(1)
            } else {
                BLACK.mix(0.25).stroke_width(1)
            };
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(x, 0.0), (x, bottom)],
                style,
            )))?;
            chart.draw_series(std::iter::once(Text::new(
                name.clone(),
                (x - 0.12, top_pad * 0.85),
                (FONT, 14).into_font().color(&BLACK),
            )))?;
        }
        // Arrows.
        for arrow in &self.arrows {
            let sent = (arrow.from as f64, to_y(arrow.sent));
            let arrived = (arrow.to as f64, to_y(arrow.arrived));
            match &arrow.dropped {
                None => {
                    let style = colour(arrow.from).mix(0.85).stroke_width(1);
                    chart.draw_series(std::iter::once(PathElement::new(
                        vec![sent, arrived],
                        style,
                    )))?;
                    let (x0, y0) = chart.backend_coord(&sent);
                    let (x1, y1) = chart.backend_coord(&arrived);
                    let (dx, dy) = ((x1 - x0) as f64, (y1 - y0) as f64);
                    let length = (dx * dx + dy * dy).sqrt().max(1.0);
                    let (ux, uy) = (dx / length, dy / length);
                    let back = |along: f64, side: f64| {
                        (
                            (-ux * along - uy * side).round() as i32,
                            (-uy * along + ux * side).round() as i32,
                        )
                    };
                    chart.draw_series(std::iter::once(
                        EmptyElement::at(arrived)
                            + Polygon::new(
                                vec![(0, 0), back(7.0, 3.0), back(7.0, -3.0)],
                                colour(arrow.from).filled(),
                            ),
                    ))?;
                }
                Some(_) => {
                    // Lost on the way: a dashed stub to a cross where it was lost
                    // (a quarter of the way across if lost as it was sent).
                    let end = if arrow.arrived > arrow.sent {
                        arrived
                    } else {
                        (sent.0 + (arrived.0 - sent.0) * 0.25, sent.1)
                    };
                    let style = RED.mix(0.6).stroke_width(1);
                    chart.draw_series(std::iter::once(PathElement::new(vec![sent, end], style)))?;
                    chart.draw_series(std::iter::once(Cross::new(end, 4, RED.stroke_width(2))))?;
                }
            }
        }
        if let Some(at) = self.violation
            && at >= self.start
            && at <= self.end
        {
            let y = to_y(at);
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(-0.5, y), (lanes - 0.5, y)],
                RED.stroke_width(2),
            )))?;
            chart.draw_series(std::iter::once(Text::new(
                "first violation",
                (-0.5, y),
                (FONT, 13).into_font().color(&RED),
            )))?;
        }
        // Legend entries.
        for kind in WINDOW_KINDS {
            let fill = window_colour(kind).mix(0.3).filled();
            chart
                .draw_series(std::iter::empty::<Rectangle<(f64, f64)>>())?
                .label(kind.name())
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 16, y + 5)], fill));
        }
        chart
            .draw_series(std::iter::empty::<Cross<(f64, f64), i32>>())?
            .label("message lost")
            .legend(|(x, y)| Cross::new((x + 8, y), 4, RED.stroke_width(2)));
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .label_font((FONT, 12))
            .draw()?;
        Ok(())
    }
}

/// Completed operations per type: latency in ms of each `ok`/`fail` completion,
/// and how many ended `info` (unknown; not in the curves).
fn latencies(history: &[HistoryEvent]) -> (BTreeMap<String, Vec<f64>>, u64) {
    let mut open: BTreeMap<u64, (String, u64)> = BTreeMap::new();
    let mut by_type: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let mut unknown = 0;
    for event in history {
        match event.kind {
            EventType::Invoke => {
                open.insert(event.process, (event.f.clone(), event.time));
            }
            EventType::Ok | EventType::Fail => {
                if let Some((f, invoked)) = open.remove(&event.process) {
                    by_type
                        .entry(f)
                        .or_default()
                        .push(event.time.saturating_sub(invoked) as f64 / 1e6);
                }
            }
            EventType::Info => {
                open.remove(&event.process);
                unknown += 1;
            }
        }
    }
    (by_type, unknown)
}

/// Client operations completed per second over time, fault windows shaded.
pub struct ThroughputChart {
    bucket: u64,
    ok: Vec<f64>,
    failed: Vec<f64>,
    windows: Vec<FaultWindow>,
    end: u64,
    fault_phase_end: u64,
    violation: Option<u64>,
}

impl ThroughputChart {
    /// Buckets the history's completions into at most 100 intervals.
    pub fn new(view: &RunView<'_>) -> Self {
        let end = view.summary.virtual_time.max(1);
        let bucket = end.div_ceil(100).max(1_000_000);
        let buckets = end.div_ceil(bucket) as usize;
        let mut ok = vec![0.0; buckets.max(1)];
        let mut failed = vec![0.0; buckets.max(1)];
        let per_second = 1e9 / bucket as f64;
        for event in view.history {
            let slot = ((event.time / bucket) as usize).min(ok.len() - 1);
            match event.kind {
                EventType::Ok => ok[slot] += per_second,
                EventType::Fail | EventType::Info => failed[slot] += per_second,
                EventType::Invoke => {}
            }
        }
        ThroughputChart {
            bucket,
            ok,
            failed,
            windows: view.windows.to_vec(),
            end,
            fault_phase_end: view.fault_phase_end,
            violation: first_violation(view.summary),
        }
    }
}

impl Chart for ThroughputChart {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        root.fill(&WHITE)?;
        let peak = self
            .ok
            .iter()
            .chain(&self.failed)
            .copied()
            .fold(1.0f64, f64::max)
            * 1.15;
        let end = self.end as f64;
        let mut chart = ChartBuilder::on(root)
            .caption(
                format!(
                    "Client throughput ({} buckets; faults shaded)",
                    format_seconds(self.bucket as f64)
                ),
                (FONT, 18),
            )
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(56)
            .build_cartesian_2d(0.0..end, 0.0..peak)?;
        chart
            .configure_mesh()
            .x_desc("virtual time")
            .y_desc("operations completed per second")
            .x_label_formatter(&|value| format_seconds(*value))
            .y_label_formatter(&|value| format!("{value:.0}"))
            .label_style((FONT, 12))
            .axis_desc_style((FONT, 13))
            .draw()?;
        for window in &self.windows {
            // Per-node faults take a slice of the height, partitions all of it.
            let (low, high) = match window.node {
                None => (0.0, peak),
                Some(node) => {
                    let slice = peak * 0.06;
                    let low = peak - slice * (node as f64 + 1.0);
                    (low.max(0.0), low.max(0.0) + slice)
                }
            };
            chart.draw_series(std::iter::once(Rectangle::new(
                [(window.start as f64, low), (window.end as f64, high)],
                window_colour(window.kind).mix(0.2).filled(),
            )))?;
        }
        let bucket = self.bucket as f64;
        let points = |values: &[f64]| -> Vec<(f64, f64)> {
            values
                .iter()
                .enumerate()
                .map(|(index, value)| ((index as f64 + 0.5) * bucket, *value))
                .collect()
        };
        let ok_style = RGBColor(44, 160, 44);
        chart
            .draw_series(
                AreaSeries::new(points(&self.ok), 0.0, ok_style.mix(0.25)).border_style(ok_style),
            )?
            .label("ok")
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 16, y + 5)], ok_style.filled()));
        chart
            .draw_series(LineSeries::new(points(&self.failed), BLACK.stroke_width(1)))?
            .label("fail or unknown (info)")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], BLACK));
        let fault_end = self.fault_phase_end as f64;
        if fault_end < end {
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(fault_end, 0.0), (fault_end, peak)],
                    BLACK.mix(0.6).stroke_width(2),
                )))?
                .label("heal: liveness window starts")
                .legend(|(x, y)| PathElement::new(vec![(x + 8, y - 6), (x + 8, y + 6)], BLACK));
        }
        if let Some(at) = self.violation {
            let at = at as f64;
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(at, 0.0), (at, peak)],
                    RED.stroke_width(2),
                )))?
                .label("first violation")
                .legend(|(x, y)| PathElement::new(vec![(x + 8, y - 6), (x + 8, y + 6)], RED));
        }
        for kind in WINDOW_KINDS {
            if self.windows.iter().any(|window| window.kind == kind) {
                let fill = window_colour(kind).mix(0.3).filled();
                chart
                    .draw_series(std::iter::empty::<Rectangle<(f64, f64)>>())?
                    .label(kind.name())
                    .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 16, y + 5)], fill));
            }
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .label_font((FONT, 12))
            .draw()?;
        Ok(())
    }
}

/// One protocol series over time, a line (or a lane of bars) per node.
pub struct SeriesChart {
    title: String,
    kind: SeriesKind,
    times: Vec<u64>,
    /// Per node, per sample.
    values: Vec<Vec<Option<f64>>>,
    end: u64,
}

impl SeriesChart {
    /// The chart of series number `index`.
    pub fn new(samples: &Samples, index: usize, end: u64) -> Self {
        let spec = samples.specs[index];
        SeriesChart {
            title: spec.title.to_string(),
            kind: spec.kind,
            times: samples.times.clone(),
            values: samples.values[index].clone(),
            end: end.max(1),
        }
    }

    /// Runs of consecutive samples where `keep` holds: (start, end) times.
    fn spans(&self, node: usize, keep: impl Fn(Option<f64>) -> bool) -> Vec<(u64, u64)> {
        let mut spans = Vec::new();
        let mut open: Option<u64> = None;
        for (index, &time) in self.times.iter().enumerate() {
            let value = self.values[node].get(index).copied().flatten();
            match (keep(value), open) {
                (true, None) => open = Some(time),
                (false, Some(start)) => {
                    spans.push((start, time));
                    open = None;
                }
                _ => {}
            }
        }
        if let Some(start) = open {
            spans.push((start, self.end));
        }
        spans
    }
}

impl Chart for SeriesChart {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        root.fill(&WHITE)?;
        let nodes = self.values.len();
        let end = self.end as f64;
        match self.kind {
            SeriesKind::Line => {
                let peak = self
                    .values
                    .iter()
                    .flatten()
                    .flatten()
                    .copied()
                    .fold(1.0f64, f64::max)
                    * 1.1;
                let mut chart = ChartBuilder::on(root)
                    .caption(&self.title, (FONT, 18))
                    .margin(12)
                    .x_label_area_size(44)
                    .y_label_area_size(56)
                    .build_cartesian_2d(0.0..end, 0.0..peak)?;
                chart
                    .configure_mesh()
                    .x_desc("virtual time")
                    .x_label_formatter(&|value| format_seconds(*value))
                    // Whole-number series: no more ticks than integers, or
                    // rounding would print one label twice.
                    .y_labels((peak as usize + 1).clamp(2, 10))
                    .y_label_formatter(&|value| format!("{value:.0}"))
                    .label_style((FONT, 12))
                    .axis_desc_style((FONT, 13))
                    .draw()?;
                for node in 0..nodes {
                    let style = colour(node).stroke_width(2);
                    // One line per stretch the node was up; a step at each change.
                    let mut segments: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
                    for (index, &time) in self.times.iter().enumerate() {
                        match self.values[node].get(index).copied().flatten() {
                            Some(value) => {
                                let segment = segments.last_mut().expect("one segment");
                                if let Some(&(_, last)) = segment.last()
                                    && last != value
                                {
                                    segment.push((time as f64, last));
                                }
                                segment.push((time as f64, value));
                            }
                            None => {
                                if !segments.last().expect("one segment").is_empty() {
                                    segments.push(Vec::new());
                                }
                            }
                        }
                    }
                    let mut first = true;
                    for segment in segments.into_iter().filter(|segment| !segment.is_empty()) {
                        let drawn = chart.draw_series(LineSeries::new(segment, style))?;
                        if first {
                            drawn.label(format!("node {node}")).legend(move |(x, y)| {
                                PathElement::new(vec![(x, y), (x + 16, y)], style)
                            });
                            first = false;
                        }
                    }
                }
                chart
                    .configure_series_labels()
                    .position(SeriesLabelPosition::UpperLeft)
                    .background_style(WHITE.mix(0.9))
                    .border_style(BLACK)
                    .label_font((FONT, 12))
                    .draw()?;
            }
            SeriesKind::Flag => {
                let mut chart = ChartBuilder::on(root)
                    .caption(&self.title, (FONT, 18))
                    .margin(12)
                    .x_label_area_size(44)
                    .y_label_area_size(56)
                    .build_cartesian_2d(0.0..end, -0.5..nodes as f64 - 0.5)?;
                chart
                    .configure_mesh()
                    .x_desc("virtual time")
                    .y_desc("node")
                    .y_labels(nodes.max(1))
                    .x_label_formatter(&|value| format_seconds(*value))
                    .y_label_formatter(&|value| {
                        if (value - value.round()).abs() < 1e-6 {
                            format!("n{}", value.round() as i64)
                        } else {
                            String::new()
                        }
                    })
                    .label_style((FONT, 12))
                    .axis_desc_style((FONT, 13))
                    .draw()?;
                for node in 0..nodes {
                    let y = node as f64;
                    for (start, stop) in self.spans(node, |value| value.is_none()) {
                        chart.draw_series(std::iter::once(Rectangle::new(
                            [(start as f64, y - 0.1), (stop as f64, y + 0.1)],
                            BLACK.mix(0.15).filled(),
                        )))?;
                    }
                    for (start, stop) in self.spans(node, |value| value.is_some_and(|v| v != 0.0)) {
                        chart.draw_series(std::iter::once(Rectangle::new(
                            [(start as f64, y - 0.35), (stop as f64, y + 0.35)],
                            colour(node).filled(),
                        )))?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// Writes every chart of the run into `dir` (which must exist) and returns them
/// in the order `index.html` shows them.
pub fn write_run_charts(dir: &Path, view: &RunView<'_>) -> std::io::Result<Vec<ChartFile>> {
    let mut written = Vec::new();
    let mut add =
        |stem: &str, title: String, chart: &dyn Fn(&Path, &str) -> std::io::Result<()>| {
            chart(dir, stem)?;
            written.push(ChartFile {
                stem: stem.to_string(),
                title,
                png: true,
            });
            Ok::<(), std::io::Error>(())
        };
    let sequence = SequenceChart::new(view);
    let title = sequence.title.clone();
    add("sequence", title, &|dir, stem| {
        write_chart(dir, stem, &sequence)
    })?;

    let (by_type, unknown) = latencies(view.history);
    let title = format!(
        "Client latency CDF per operation ({} completed, {unknown} unknown not shown)",
        by_type.values().map(Vec::len).sum::<usize>()
    );
    if by_type.is_empty() {
        let chart = EmptyChart {
            title: title.clone(),
            message: "no client operation completed in this run".into(),
        };
        add("latency_cdf", title, &|dir, stem| {
            write_chart(dir, stem, &chart)
        })?;
    } else {
        let chart = CdfChart {
            title: title.clone(),
            x_label: "latency (ms, log scale)".into(),
            curves: by_type
                .into_iter()
                .map(|(label, values)| Curve { label, values })
                .collect(),
            log_x: true,
            x_range: None,
        };
        add("latency_cdf", title, &|dir, stem| {
            write_chart(dir, stem, &chart)
        })?;
    }

    let throughput = ThroughputChart::new(view);
    add(
        "throughput",
        "Client throughput over time, fault windows shaded".into(),
        &|dir, stem| write_chart(dir, stem, &throughput),
    )?;

    if !view.samples.is_empty() {
        for (index, spec) in view.samples.specs.iter().enumerate() {
            let chart = SeriesChart::new(view.samples, index, view.summary.virtual_time);
            let stem = format!("series_{}", spec.name);
            add(&stem, spec.title.to_string(), &|dir, stem| {
                write_chart(dir, stem, &chart)
            })?;
        }
    }

    if let Some(explanation) = view.explanation {
        // The hand-written SVG keeps each bar's hover title; the PNG draws the
        // same picture with plotters.
        write_atomic(
            &dir.join("linearizability.svg"),
            crate::check::svg::render(explanation).as_bytes(),
        )?;
        let picture =
            super::lin_chart::LinearizabilityChart(crate::check::svg::picture(explanation));
        super::chart::write_png(dir, "linearizability", &picture)?;
        written.push(ChartFile {
            stem: "linearizability".into(),
            title: "Why the history is not linearizable (green: the longest linearizable prefix; red: the operation that returned before it could take effect; orange: the candidates that fail)".into(),
            png: true,
        });
    }
    Ok(written)
}
