//! Chart plumbing shared by every report chart: the embedded font, writing one
//! chart as both SVG and PNG, a fixed colour palette, and the cumulative
//! distribution chart that run reports and sweeps both draw.
//!
//! Charts are drawn with plotters. Text is laid out with DejaVu Sans, embedded in
//! the binary (`fonts/`, with its licence) and registered with plotters' `ab_glyph`
//! font table, so the PNG and the SVG come out the same on a machine without
//! fontconfig or any system font. Everything drawn comes from the data handed in:
//! the same data gives byte-identical files.

use plotters::coord::Shift;
use plotters::coord::ranged1d::{AsRangedCoord, Ranged, ValueFormatter};
use plotters::prelude::*;
use std::path::Path;
use std::sync::Once;

/// The font family every chart uses (registered from the embedded TTF).
pub const FONT: &str = "sans-serif";

/// DejaVu Sans 2.37 (Bitstream Vera licence; see `fonts/LICENSE`).
static DEJAVU_SANS: &[u8] = include_bytes!("fonts/DejaVuSans.ttf");

/// Registers the embedded font with plotters, once per process.
pub fn register_font() {
    static REGISTER: Once = Once::new();
    REGISTER.call_once(|| {
        if plotters::style::register_font(FONT, FontStyle::Normal, DEJAVU_SANS).is_err() {
            panic!("the embedded DejaVu Sans font does not parse");
        }
    });
}

/// The result type of drawing on a backend.
pub type DrawResult<DB> = Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

/// A chart that can draw itself on any plotters backend.
pub trait Chart {
    /// Width and height in pixels.
    fn size(&self) -> (u32, u32) {
        (960, 540)
    }

    /// Draws the whole chart on `root` (already sized).
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB>;
}

fn draw_error(error: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::other(format!("drawing a chart failed: {error}"))
}

/// The chart as an SVG document.
pub fn svg_string(chart: &impl Chart) -> std::io::Result<String> {
    register_font();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, chart.size()).into_drawing_area();
        chart.draw(&root).map_err(draw_error)?;
        root.present().map_err(draw_error)?;
    }
    Ok(svg)
}

/// Writes `dir/stem.svg` and `dir/stem.png`, each atomically.
pub fn write_chart(dir: &Path, stem: &str, chart: &impl Chart) -> std::io::Result<()> {
    let svg = svg_string(chart)?;
    super::write_atomic(&dir.join(format!("{stem}.svg")), svg.as_bytes())?;
    write_png(dir, stem, chart)
}

/// Writes `dir/stem.png` only, atomically.
pub fn write_png(dir: &Path, stem: &str, chart: &impl Chart) -> std::io::Result<()> {
    register_font();
    // The encoder picks the format from the extension: keep `.png` last.
    let temporary = dir.join(format!(".{stem}.tmp.png"));
    {
        let root = BitMapBackend::new(&temporary, chart.size()).into_drawing_area();
        chart.draw(&root).map_err(draw_error)?;
        root.present().map_err(draw_error)?;
    }
    std::fs::rename(&temporary, dir.join(format!("{stem}.png")))
}

/// Ten distinguishable colours, assigned by index (node id, curve number).
pub const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// The palette colour for index `index`.
pub fn colour(index: usize) -> RGBColor {
    PALETTE[index % PALETTE.len()]
}

pub use crate::spec::stats::{format_ms, format_seconds, format_time};

/// One curve of a CDF chart: a label and its sample values.
#[derive(Clone, Debug)]
pub struct Curve {
    /// The legend entry.
    pub label: String,
    /// The samples (any order).
    pub values: Vec<f64>,
}

/// A cumulative distribution chart: one step curve per sample set, y in percent.
#[derive(Clone, Debug)]
pub struct CdfChart {
    /// Caption.
    pub title: String,
    /// The x axis description (with its unit).
    pub x_label: String,
    /// The curves.
    pub curves: Vec<Curve>,
    /// Log-scaled x axis (as the Raft paper's Figure 16 top graph).
    pub log_x: bool,
    /// Fixed x range, else from the data.
    pub x_range: Option<(f64, f64)>,
}

impl CdfChart {
    fn x_bounds(&self) -> (f64, f64) {
        if let Some(range) = self.x_range {
            return range;
        }
        let mut low = f64::INFINITY;
        let mut high = f64::NEG_INFINITY;
        for value in self.curves.iter().flat_map(|curve| curve.values.iter()) {
            if value.is_finite() && (!self.log_x || *value > 0.0) {
                low = low.min(*value);
                high = high.max(*value);
            }
        }
        if !low.is_finite() {
            return (if self.log_x { 0.1 } else { 0.0 }, 1.0);
        }
        if self.log_x {
            // Whole decades, as log axes are read.
            let low = 10f64.powf(low.log10().floor());
            let high = 10f64.powf(high.log10().ceil()).max(low * 10.0);
            (low, high)
        } else {
            let low = low.min(0.0);
            (low, if high > low { high * 1.05 } else { low + 1.0 })
        }
    }

    fn draw_on<DB, X>(&self, root: &DrawingArea<DB, Shift>, x: X) -> DrawResult<DB>
    where
        DB: DrawingBackend,
        X: AsRangedCoord<Value = f64>,
        X::CoordDescType: Ranged<ValueType = f64> + ValueFormatter<f64>,
    {
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(root)
            .caption(&self.title, (FONT, 20))
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(56)
            .build_cartesian_2d(x, 0.0..100.0)?;
        chart
            .configure_mesh()
            .x_desc(&self.x_label)
            .y_desc("cumulative percent")
            .x_label_formatter(&|value| format_ms(*value))
            .y_label_formatter(&|value| format!("{value:.0}%"))
            .label_style((FONT, 13))
            .axis_desc_style((FONT, 14))
            .draw()?;
        let (low, high) = self.x_bounds();
        for (index, curve) in self.curves.iter().enumerate() {
            let mut values: Vec<f64> = curve
                .values
                .iter()
                .copied()
                .filter(|value| value.is_finite())
                .collect();
            values.sort_by(f64::total_cmp);
            if values.is_empty() {
                continue;
            }
            let count = values.len() as f64;
            let clamp = |value: f64| value.clamp(low, high);
            // A step function: up at each sample.
            let mut points = vec![(clamp(values[0]), 0.0)];
            for (rank, value) in values.iter().enumerate() {
                let value = clamp(*value);
                points.push((value, rank as f64 / count * 100.0));
                points.push((value, (rank + 1) as f64 / count * 100.0));
            }
            points.push((high, 100.0));
            let style = colour(index).stroke_width(2);
            chart
                .draw_series(LineSeries::new(points, style))?
                .label(format!("{} (n={})", curve.label, values.len()))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font((FONT, 13))
            .draw()?;
        Ok(())
    }
}

impl Chart for CdfChart {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let (low, high) = self.x_bounds();
        if self.log_x {
            self.draw_on(root, (low..high).log_scale())
        } else {
            self.draw_on(root, low..high)
        }
    }
}

/// The rate of something (failed runs) at each grid value: one point per value,
/// joined in grid order, y in percent.
#[derive(Clone, Debug)]
pub struct RateChart {
    /// Caption.
    pub title: String,
    /// The x axis description.
    pub x_label: String,
    /// The y axis description.
    pub y_label: String,
    /// (value label, rate in 0..=1), in grid order.
    pub points: Vec<(String, f64)>,
}

impl Chart for RateChart {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        root.fill(&WHITE)?;
        let count = self.points.len().max(1);
        let labels: Vec<String> = self.points.iter().map(|(label, _)| label.clone()).collect();
        let mut chart = ChartBuilder::on(root)
            .caption(&self.title, (FONT, 18))
            .margin(16)
            .x_label_area_size(48)
            .y_label_area_size(64)
            .build_cartesian_2d(-0.5f64..(count as f64 - 0.5), 0f64..105f64)?;
        chart
            .configure_mesh()
            .x_labels(count)
            .x_label_formatter(&|x| {
                let index = x.round();
                if (x - index).abs() < 1e-6 && index >= 0.0 {
                    labels.get(index as usize).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .y_label_formatter(&|y| format!("{y:.0}%"))
            .x_desc(self.x_label.clone())
            .y_desc(self.y_label.clone())
            .label_style((FONT, 13))
            .axis_desc_style((FONT, 14))
            .draw()?;
        let points: Vec<(f64, f64)> = self
            .points
            .iter()
            .enumerate()
            .map(|(index, (_, rate))| (index as f64, rate * 100.0))
            .collect();
        chart.draw_series(LineSeries::new(points.clone(), colour(3).stroke_width(2)))?;
        chart.draw_series(
            points
                .iter()
                .map(|point| Circle::new(*point, 4, colour(3).filled())),
        )?;
        chart.draw_series(points.iter().map(|(x, y)| {
            Text::new(
                format!("{y:.0}%"),
                (*x, (*y + 3.0).min(101.0)),
                (FONT, 12).into_font().color(&BLACK),
            )
        }))?;
        Ok(())
    }
}

/// A chart with nothing to show, which says why.
pub struct EmptyChart {
    /// Caption.
    pub title: String,
    /// The reason shown in the middle.
    pub message: String,
}

impl Chart for EmptyChart {
    fn size(&self) -> (u32, u32) {
        (960, 200)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        root.fill(&WHITE)?;
        let root = root.titled(&self.title, (FONT, 20))?;
        root.draw(&Text::new(
            self.message.clone(),
            (20, 40),
            (FONT, 15).into_font().color(&BLACK),
        ))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cdf_charts_draw_their_labels_into_svg() {
        let chart = CdfChart {
            title: "latency".into(),
            x_label: "ms".into(),
            curves: vec![Curve {
                label: "get".into(),
                values: vec![1.0, 2.0, 3.0],
            }],
            log_x: true,
            x_range: None,
        };
        let svg = svg_string(&chart).unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..40]);
        assert!(svg.contains("get (n=3)"));
        assert_eq!(svg, svg_string(&chart).unwrap());
    }

    #[test]
    fn milliseconds_read_naturally() {
        assert_eq!(format_ms(0.0), "0");
        assert_eq!(format_ms(0.25), "0.25");
        assert_eq!(format_ms(12.0), "12");
        assert_eq!(format_ms(1500.0), "1500");
        assert_eq!(format_seconds(1.5e9), "1.5s");
        assert_eq!(format_seconds(2.5e8), "250ms");
    }
}
