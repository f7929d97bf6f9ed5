//! The charts of one run, drawn from plain data: the message sequence diagram,
//! client latency CDFs, throughput over time with fault windows shaded, and the
//! protocol's time series (Raft: term, leader, commit and applied index).
//!
//! [`write_run_charts`] writes each chart as SVG and PNG into the report
//! directory (plus the linearizability picture as SVG when a history failed) and
//! returns what it wrote, in order, for `index.html`.

use super::capture::{Arrow, FaultWindow, WindowKind};
use super::chart::{
    CdfChart, Chart, Curve, DrawResult, EmptyChart, FONT, colour, format_seconds, svg_string,
    write_chart, write_png,
};
use super::html::escape;
use super::series::{Samples, SeriesKind};
use super::{Summary, write_atomic};
use crate::check::Explanation;
use crate::sim::{EventType, HistoryEvent};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::collections::BTreeMap;
use std::fmt::Write as _;
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

/// The message sequence diagram: a lane per process, time downwards, arrows
/// labelled with their message's kind where there is room (and, in the SVG, each
/// titled with the whole message).
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

/// The text plotters writes into the SVG where a message's group opens (followed
/// by the message's position) or closes (followed by `end`); [`SequenceChart::svg`]
/// turns each into `<g><title>message</title>` or `</g>`.
const GROUP_MARK: &str = "faultline-group-";

/// A pixel box: left, top, right, bottom.
type PixelBox = (i32, i32, i32, i32);

fn overlaps(a: &PixelBox, b: &PixelBox) -> bool {
    a.0 < b.2 && b.0 < a.2 && a.1 < b.3 && b.1 < a.3
}

/// `colour` darkened, for text drawn in it.
fn darker(colour: RGBColor) -> RGBColor {
    let dim = |channel: u8| (f64::from(channel) * 0.6).round() as u8;
    RGBColor(dim(colour.0), dim(colour.1), dim(colour.2))
}

/// The sequence chart drawn with the group marks (for its SVG).
struct Marked<'a>(&'a SequenceChart);

impl Chart for Marked<'_> {
    fn size(&self) -> (u32, u32) {
        self.0.size()
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        self.0.draw_marked(root, true)
    }
}

impl SequenceChart {
    /// The chart as SVG: each message's arrow, and its label if it has one, in a
    /// `<g>` whose `<title>` (the hover text) is the message.
    pub fn svg(&self) -> std::io::Result<String> {
        let marked = svg_string(&Marked(self))?;
        let mut svg = String::with_capacity(marked.len() + self.arrows.len() * 160);
        let mut rest = marked.as_str();
        let broken = || std::io::Error::other("drawing a chart failed: a group mark went astray");
        while let Some(at) = rest.find(GROUP_MARK) {
            // The mark is the whole content of one `<text>` element.
            let open = rest[..at].rfind("<text").ok_or_else(broken)?;
            let close = at + rest[at..].find("</text>").ok_or_else(broken)?;
            let mark = rest[at + GROUP_MARK.len()..close].trim();
            svg.push_str(&rest[..open]);
            if mark == "end" {
                svg.push_str("</g>\n");
            } else {
                let arrow = mark
                    .parse::<usize>()
                    .ok()
                    .and_then(|index| self.arrows.get(index))
                    .ok_or_else(broken)?;
                let _ = writeln!(svg, "<g><title>{}</title>", escape(&arrow.message));
            }
            rest = &rest[close + "</text>".len()..];
            rest = rest.strip_prefix('\n').unwrap_or(rest);
        }
        svg.push_str(rest);
        Ok(svg)
    }

    /// Draws the chart; with `marked`, each message's shapes are bracketed by
    /// group marks (see [`GROUP_MARK`]).
    fn draw_marked<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        marked: bool,
    ) -> DrawResult<DB> {
        root.fill(&WHITE)?;
        let mark = |text: String| -> DrawResult<DB> {
            if marked {
                root.draw(&Text::new(
                    text,
                    (0, 0),
                    (FONT, 10).into_font().color(&BLACK),
                ))?;
            }
            Ok(())
        };
        let (width, _) = self.size();
        let (head, body) = root.split_vertically(48);
        let lanes = self.lanes.len().max(1) as f64;
        let to_y = |time: u64| -((time.clamp(self.start, self.end) - self.start) as f64 / 1e6);
        let bottom = to_y(self.end);
        let top_pad = -bottom * 0.04 + 0.001;
        let mut chart = ChartBuilder::on(&body)
            .margin(10)
            .margin_top(0)
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
        // Lanes and their names; the names' boxes are taken for labels.
        let lane_font = (FONT, 14).into_font();
        let mut taken: Vec<PixelBox> = Vec::new();
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
            let at = (x - 0.12, top_pad * 0.85);
            chart.draw_series(std::iter::once(Text::new(
                name.clone(),
                at,
                lane_font.clone().color(&BLACK),
            )))?;
            let (left, top) = chart.backend_coord(&at);
            let (w, h) = root.estimate_text_size(name, &lane_font.clone().into())?;
            taken.push((left - 2, top - 2, left + w as i32 + 2, top + h as i32 + 2));
        }
        // Where each arrow runs, in pixels: lost messages as far as they got (a
        // quarter of the way across if lost as they were sent).
        let ends: Vec<((f64, f64), (f64, f64))> = self
            .arrows
            .iter()
            .map(|arrow| {
                let sent = (arrow.from as f64, to_y(arrow.sent));
                let arrived = (arrow.to as f64, to_y(arrow.arrived));
                let end = if arrow.dropped.is_none() || arrow.arrived > arrow.sent {
                    arrived
                } else {
                    (sent.0 + (arrived.0 - sent.0) * 0.25, sent.1)
                };
                (sent, end)
            })
            .collect();
        // Kind labels, in time order, each just above its arrow's middle, where
        // it neither leaves the plot nor overlaps a lane name or an earlier label.
        let label_font = (FONT, 11).into_font();
        let (plot_x, plot_y) = chart.plotting_area().get_pixel_range();
        let mut sizes: BTreeMap<&str, (i32, i32)> = BTreeMap::new();
        let mut labels: Vec<(usize, PixelBox)> = Vec::new();
        for (index, (arrow, (sent, end))) in self.arrows.iter().zip(&ends).enumerate() {
            let kind = arrow.kind();
            if kind.is_empty() {
                continue;
            }
            let (w, h) = match sizes.get(kind) {
                Some(size) => *size,
                None => {
                    let (w, h) = root.estimate_text_size(kind, &label_font.clone().into())?;
                    let size = (w as i32, h as i32);
                    sizes.insert(kind, size);
                    size
                }
            };
            let (x0, y0) = chart.backend_coord(sent);
            let (x1, y1) = chart.backend_coord(end);
            let (middle_x, middle_y) = ((x0 + x1) / 2, (y0 + y1) / 2);
            let area = (
                middle_x - w / 2 - 2,
                middle_y - h - 4,
                middle_x - w / 2 + w + 2,
                middle_y - 1,
            );
            let inside = plot_x.start <= area.0
                && area.2 <= plot_x.end
                && plot_y.start <= area.1
                && area.3 <= plot_y.end;
            if inside && !taken.iter().any(|other| overlaps(&area, other)) {
                taken.push(area);
                labels.push((index, area));
            }
        }
        // Arrows.
        for (index, (arrow, (sent, end))) in self.arrows.iter().zip(&ends).enumerate() {
            mark(format!("{GROUP_MARK}{index}"))?;
            match &arrow.dropped {
                None => {
                    let style = colour(arrow.from).mix(0.85).stroke_width(1);
                    chart
                        .draw_series(std::iter::once(PathElement::new(vec![*sent, *end], style)))?;
                    let (x0, y0) = chart.backend_coord(sent);
                    let (x1, y1) = chart.backend_coord(end);
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
                        EmptyElement::at(*end)
                            + Polygon::new(
                                vec![(0, 0), back(7.0, 3.0), back(7.0, -3.0)],
                                colour(arrow.from).filled(),
                            ),
                    ))?;
                }
                Some(_) => {
                    // Lost on the way: a dashed stub to a cross where it was lost.
                    let style = RED.mix(0.6).stroke_width(1);
                    chart
                        .draw_series(std::iter::once(PathElement::new(vec![*sent, *end], style)))?;
                    chart.draw_series(std::iter::once(Cross::new(*end, 4, RED.stroke_width(2))))?;
                }
            }
            mark(format!("{GROUP_MARK}end"))?;
        }
        // The labels over every arrow, on a light backing so they stay legible.
        for (index, area) in &labels {
            let arrow = &self.arrows[*index];
            let ink = if arrow.dropped.is_some() {
                RGBColor(170, 0, 0)
            } else {
                darker(colour(arrow.from))
            };
            mark(format!("{GROUP_MARK}{index}"))?;
            root.draw(&Rectangle::new(
                [(area.0, area.1), (area.2, area.3)],
                WHITE.mix(0.8).filled(),
            ))?;
            root.draw(&Text::new(
                arrow.kind().to_string(),
                (area.0 + 2, area.1 + 2),
                label_font
                    .clone()
                    .color(&ink)
                    .pos(Pos::new(HPos::Left, VPos::Top)),
            ))?;
            mark(format!("{GROUP_MARK}end"))?;
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
        // The caption: the window, then how the arrows are labelled.
        let centre = |text: &str, y: i32, size: f64, ink: RGBColor| {
            head.draw(&Text::new(
                text.to_string(),
                (width as i32 / 2, y),
                (FONT, size)
                    .into_font()
                    .color(&ink)
                    .pos(Pos::new(HPos::Center, VPos::Top)),
            ))
        };
        centre(&self.title, 6, 17.0, BLACK)?;
        let mut note = if self.arrows.is_empty() {
            "no message in this window".to_string()
        } else {
            format!(
                "{} of {} arrows labelled with the message kind (where a label fits without overlapping another, earliest first)",
                labels.len(),
                self.arrows.len()
            )
        };
        if marked && !self.arrows.is_empty() {
            note.push_str("; hover an arrow for the whole message");
        }
        centre(&note, 28, 12.0, RGBColor(90, 90, 90))?;
        Ok(())
    }
}

impl Chart for SequenceChart {
    fn size(&self) -> (u32, u32) {
        let width = (self.lanes.len() as u32 * 70 + 220).clamp(640, 2400);
        (width, 900)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        self.draw_marked(root, false)
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
    // Its SVG carries each message as a hover title; the PNG only the labels.
    add("sequence", title, &|dir, stem| {
        write_atomic(&dir.join(format!("{stem}.svg")), sequence.svg()?.as_bytes())?;
        write_png(dir, stem, &sequence)
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
        // same picture with plotters. A run's history times are virtual ns.
        let unit = crate::check::TimeUnit::Nanoseconds;
        write_atomic(
            &dir.join("linearizability.svg"),
            crate::check::svg::render(explanation, unit).as_bytes(),
        )?;
        let picture =
            super::lin_chart::LinearizabilityChart(crate::check::svg::picture(explanation, unit));
        super::chart::write_png(dir, "linearizability", &picture)?;
        written.push(ChartFile {
            stem: "linearizability".into(),
            title: "Why the history is not linearizable (green: the longest linearizable prefix; red: the operation that returned before it could take effect; orange: the candidates that fail)".into(),
            png: true,
        });
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arrow(from: usize, to: usize, sent: u64, message: &str) -> Arrow {
        Arrow {
            from,
            to,
            sent,
            arrived: sent + 2_000_000,
            dropped: None,
            message: message.into(),
        }
    }

    fn chart(arrows: Vec<Arrow>) -> SequenceChart {
        SequenceChart {
            title: "Messages".into(),
            lanes: vec!["n0".into(), "n1".into(), "n2".into()],
            nodes: 3,
            arrows,
            windows: Vec::new(),
            start: 0,
            end: 1_000_000_000,
            violation: None,
        }
    }

    /// The labels drawn: texts that are a kind of one of the arrows.
    fn labels(svg: &str, kind: &str) -> usize {
        svg.matches(&format!(">\n{kind}\n</text>")).count()
    }

    #[test]
    fn each_arrow_is_grouped_under_its_message_and_labelled_with_its_kind() {
        let mut lost = arrow(2, 0, 500_000_000, "Vote { granted: false }");
        lost.dropped = Some("lost".into());
        let chart = chart(vec![
            arrow(0, 1, 100_000_000, "Append { entries: [\"a<b\"] }"),
            arrow(1, 0, 300_000_000, "AppendReply(true)"),
            lost,
        ]);
        let svg = chart.svg().unwrap();
        assert!(!svg.contains(GROUP_MARK), "a mark was left in");
        // One group for each arrow and one for each label, every one closed.
        assert_eq!(svg.matches("<g><title>").count(), 6);
        assert_eq!(svg.matches("</g>").count(), 6);
        assert!(
            svg.contains("<g><title>Append { entries: [&quot;a&lt;b&quot;] }</title>\n<polyline")
        );
        assert!(svg.contains("<g><title>Vote { granted: false }</title>"));
        for kind in ["Append", "AppendReply", "Vote"] {
            assert_eq!(labels(&svg, kind), 1, "{kind}");
        }
        assert!(svg.contains("3 of 3 arrows labelled"));
        assert_eq!(svg, chart.svg().unwrap());
    }

    #[test]
    fn crowded_arrows_are_labelled_only_where_a_label_fits() {
        // Forty messages a microsecond apart: their labels would all overlap.
        let arrows = (0..40)
            .map(|index| arrow(0, 2, 400_000_000 + index * 1_000, &format!("Ping({index})")))
            .collect();
        let chart = chart(arrows);
        let svg = chart.svg().unwrap();
        assert_eq!(labels(&svg, "Ping"), 1);
        assert!(svg.contains("1 of 40 arrows labelled"));
        assert_eq!(svg.matches("<g><title>Ping(").count(), 41);
        // The PNG's drawing has the labels but no hover marks.
        crate::report::chart::register_font();
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, chart.size()).into_drawing_area();
            chart.draw(&root).unwrap();
        }
        assert!(!svg.contains(GROUP_MARK) && !svg.contains("<title>"));
        assert_eq!(labels(&svg, "Ping"), 1);
    }
}
