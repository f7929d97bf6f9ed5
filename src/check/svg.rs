//! An SVG picture of a failed check, written by hand (no dependency).
//!
//! One row per process, one bar per operation from invocation to completion (an
//! unknown outcome is a dashed bar running to the right edge). Colours tell the
//! story of the search: green bars are the longest linearizable prefix (numbered in
//! linearization order), the red bar is the operation that returned before it could
//! take effect (a red line marks its return), orange bars are the other operations
//! that could have been placed next, grey bars were never reached. Hovering a bar
//! shows its description. The time axis is in the history's [`TimeUnit`]: ms and
//! s as the run report's other charts print them for nanoseconds, plain numbers
//! captioned as line numbers for files that give no times.

use super::history::TimeUnit;
use super::verdict::{Explanation, Refusal};
use crate::spec::stats::format_time;
use std::collections::BTreeMap;
use std::fmt::Write;

const ROW_HEIGHT: f64 = 24.0;
const BAR_HEIGHT: f64 = 16.0;
const LEFT: f64 = 90.0;
const TOP: f64 = 70.0;
const RIGHT: f64 = 30.0;
/// Approximate advance of one monospace character at font size 9.
const LABEL_CHAR_WIDTH: f64 = 5.5;

pub(crate) fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&apos;"),
            _ => escaped.push(character),
        }
    }
    escaped
}

/// One drawing primitive of the picture, in pixels (origin top left).
#[derive(Clone, Debug, PartialEq)]
pub enum Shape {
    /// A rectangle; `dashed` outlines an unknown outcome; `rounded` corners.
    Rect {
        /// Left edge.
        x: f64,
        /// Top edge.
        y: f64,
        /// Width.
        width: f64,
        /// Height.
        height: f64,
        /// Fill colour (`#rrggbb`).
        fill: &'static str,
        /// Fill opacity (0..=1).
        opacity: f64,
        /// Outline colour, if any.
        stroke: Option<&'static str>,
        /// Outline width.
        stroke_width: f64,
        /// Dashed outline.
        dashed: bool,
        /// Rounded corners.
        rounded: bool,
    },
    /// A line.
    Line {
        /// Start.
        from: (f64, f64),
        /// End.
        to: (f64, f64),
        /// Colour.
        colour: &'static str,
        /// Dashed.
        dashed: bool,
    },
    /// Text whose baseline starts at (`x`, `y`).
    Text {
        /// Left.
        x: f64,
        /// Baseline.
        y: f64,
        /// Font size in pixels.
        size: f64,
        /// Colour.
        colour: &'static str,
        /// Bold.
        bold: bool,
        /// The text.
        text: String,
    },
    /// The start of one operation's group: its shapes follow, up to `EndGroup`
    /// (in SVG, a `<g>` whose hover title is `title`).
    Group {
        /// The operation's full description.
        title: String,
    },
    /// The end of a group.
    EndGroup,
}

/// The picture of a failed check: its size and its shapes, in drawing order.
#[derive(Clone, Debug, PartialEq)]
pub struct Picture {
    /// Width in pixels.
    pub width: f64,
    /// Height in pixels.
    pub height: f64,
    /// The shapes, back to front.
    pub shapes: Vec<Shape>,
}

fn text(x: f64, y: f64, size: f64, colour: &'static str, text: String) -> Shape {
    Shape::Text {
        x,
        y,
        size,
        colour,
        bold: false,
        text,
    }
}

/// The time axis: ticks at the finest round step (1, 2 or 5 times a power of ten,
/// in ns or lines) that puts at most `most` of them between `start` and `end`,
/// each with its label, and the axis caption.
fn time_axis(
    start: u64,
    end: u64,
    most: u64,
    unit: TimeUnit,
) -> (Vec<(u64, String)>, &'static str) {
    let span = end.saturating_sub(start).max(1);
    let mut step = 1u64;
    'search: for power in 0..19 {
        let base = 10u64.pow(power);
        for factor in [1, 2, 5] {
            step = base * factor;
            if step.saturating_mul(most.max(2) - 1) >= span {
                break 'search;
            }
        }
    }
    let first = start.div_ceil(step) * step;
    let ticks = (0..)
        .map(|count| first + count * step)
        .take_while(|&tick| tick <= end)
        .map(|tick| {
            let label = match unit {
                TimeUnit::Nanoseconds => format_time(tick as f64, step as f64),
                TimeUnit::Line => tick.to_string(),
            };
            (tick, label)
        })
        .collect();
    let caption = match unit {
        TimeUnit::Nanoseconds => "history time",
        TimeUnit::Line => "history time (line number; the file gives no times)",
    };
    (ticks, caption)
}

/// Lays the explanation out (the SVG and the PNG draw the same picture); `unit`
/// is what the operations' call and return times count.
pub fn picture(explanation: &Explanation, unit: TimeUnit) -> Picture {
    let operations = &explanation.operations;
    let rows: BTreeMap<u64, usize> = operations
        .iter()
        .map(|operation| operation.process)
        .collect::<std::collections::BTreeSet<u64>>()
        .into_iter()
        .enumerate()
        .map(|(row, process)| (process, row))
        .collect();
    let start = operations
        .iter()
        .map(|operation| operation.call)
        .min()
        .unwrap_or(0);
    let finite_end = operations
        .iter()
        .map(|operation| operation.ret.unwrap_or(operation.call))
        .max()
        .unwrap_or(start);
    let span = (finite_end - start).max(1) as f64;
    let plot_width = (operations.len() as f64 * 14.0).clamp(800.0, 6000.0);
    // Unknown outcomes run a little past the last completion.
    let open_end = LEFT + plot_width + 20.0;
    let width = open_end + RIGHT;
    let height = TOP + rows.len() as f64 * ROW_HEIGHT + 58.0;
    let x_of = |time: u64| LEFT + (time - start) as f64 / span * plot_width;

    let order: BTreeMap<usize, usize> = explanation
        .prefix
        .iter()
        .enumerate()
        .map(|(order, &position)| (position, order + 1))
        .collect();
    let candidates: BTreeMap<usize, Refusal> = explanation.candidates.iter().copied().collect();

    let mut shapes = Vec::new();
    let title = match &explanation.part {
        Some(part) => format!(
            "not linearizable: model {}, part {part:?}",
            explanation.model
        ),
        None => format!("not linearizable: model {}", explanation.model),
    };
    shapes.push(Shape::Text {
        x: 10.0,
        y: 18.0,
        size: 14.0,
        colour: "#000000",
        bold: true,
        text: title,
    });
    let culprit = &operations[explanation.culprit];
    let subtitle = format!(
        "linearized {} operations (state: {}); stuck at {}",
        explanation.prefix.len(),
        explanation.state,
        culprit.label()
    );
    shapes.push(text(10.0, 36.0, 11.0, "#000000", subtitle));
    let legend = [
        ("#7bc47f", "linearized prefix (number = order)"),
        ("#e04040", "returned before it could take effect"),
        ("#f5a623", "could have been next; does not work"),
        ("#c8c8c8", "not reached"),
    ];
    let mut legend_x = 10.0;
    for (colour, text) in legend {
        shapes.push(Shape::Rect {
            x: legend_x,
            y: 46.0,
            width: 12.0,
            height: 10.0,
            fill: colour,
            opacity: 1.0,
            stroke: None,
            stroke_width: 0.0,
            dashed: false,
            rounded: false,
        });
        shapes.push(self::text(
            legend_x + 16.0,
            55.0,
            11.0,
            "#000000",
            text.to_string(),
        ));
        legend_x += 24.0 + text.len() as f64 * 6.7;
    }
    for (process, row) in &rows {
        let y = TOP + *row as f64 * ROW_HEIGHT;
        shapes.push(text(
            10.0,
            y + BAR_HEIGHT - 3.0,
            11.0,
            "#000000",
            format!("process {process}"),
        ));
        shapes.push(Shape::Line {
            from: (LEFT, y + BAR_HEIGHT / 2.0),
            to: (open_end, y + BAR_HEIGHT / 2.0),
            colour: "#eeeeee",
            dashed: false,
        });
    }
    // The culprit last, so that its label is drawn over its neighbours.
    let drawing_order = (0..operations.len())
        .filter(|&position| position != explanation.culprit)
        .chain([explanation.culprit]);
    for position in drawing_order {
        let operation = &operations[position];
        let y = TOP + rows[&operation.process] as f64 * ROW_HEIGHT;
        let x1 = x_of(operation.call);
        let x2 = operation.ret.map_or(open_end, x_of).max(x1 + 3.0);
        let (fill, stroke) = if position == explanation.culprit {
            ("#e04040", "#900000")
        } else if order.contains_key(&position) {
            ("#7bc47f", "#3d7a40")
        } else if candidates.contains_key(&position) {
            ("#f5a623", "#a86d00")
        } else {
            ("#c8c8c8", "#888888")
        };
        let unknown = operation.ret.is_none();
        let stroke_width = if position == explanation.culprit {
            2.5
        } else {
            1.0
        };
        shapes.push(Shape::Group {
            title: operation.label(),
        });
        shapes.push(Shape::Rect {
            x: x1,
            y,
            width: x2 - x1,
            height: BAR_HEIGHT,
            fill,
            opacity: if unknown { 0.5 } else { 1.0 },
            stroke: Some(stroke),
            stroke_width,
            dashed: unknown,
            rounded: true,
        });
        // Inside the bar: the linearization order and as much of the description
        // as fits; the culprit's description goes after its bar, in red.
        let mut label = match order.get(&position) {
            Some(number) => format!("{number}: {}", operation.description),
            None => operation.description.clone(),
        };
        if position == explanation.culprit {
            shapes.push(Shape::Rect {
                x: x2 + 2.0,
                y,
                width: label.chars().count() as f64 * 6.7 + 4.0,
                height: BAR_HEIGHT,
                fill: "#ffffff",
                opacity: 0.85,
                stroke: None,
                stroke_width: 0.0,
                dashed: false,
                rounded: false,
            });
            shapes.push(text(x2 + 4.0, y + BAR_HEIGHT - 4.0, 11.0, "#b00000", label));
        } else {
            let fits = ((x2 - x1 - 4.0) / LABEL_CHAR_WIDTH).floor().max(0.0) as usize;
            if label.chars().count() > fits {
                label = match order.get(&position) {
                    Some(number) if number.to_string().len() <= fits => number.to_string(),
                    _ => String::new(),
                };
            }
            if !label.is_empty() {
                shapes.push(text(x1 + 2.0, y + BAR_HEIGHT - 4.0, 9.0, "#000000", label));
            }
        }
        shapes.push(Shape::EndGroup);
    }
    let axis_y = TOP + rows.len() as f64 * ROW_HEIGHT + 4.0;
    // A tick per 120 pixels or so (a label is at most about 60).
    let most = (plot_width / 120.0).clamp(4.0, 24.0) as u64;
    let (ticks, caption) = time_axis(start, finite_end, most, unit);
    for (time, label) in ticks {
        let x = x_of(time);
        shapes.push(Shape::Line {
            from: (x, axis_y),
            to: (x, axis_y + 4.0),
            colour: "#999999",
            dashed: false,
        });
        shapes.push(text(x + 2.0, axis_y + 12.0, 9.0, "#666666", label));
    }
    shapes.push(text(
        LEFT,
        height - 6.0,
        9.0,
        "#666666",
        caption.to_string(),
    ));
    if let Some(ret) = culprit.ret {
        let x = x_of(ret);
        shapes.push(Shape::Line {
            from: (x, TOP - 6.0),
            to: (x, axis_y + 18.0),
            colour: "#e04040",
            dashed: true,
        });
        shapes.push(text(
            x + 3.0,
            axis_y + 34.0,
            11.0,
            "#e04040",
            "returned here".into(),
        ));
    }
    Picture {
        width,
        height,
        shapes,
    }
}

/// Render the explanation as a standalone SVG document (bars carry their
/// operation as a hover title); `unit` as for [`picture`].
pub fn render(explanation: &Explanation, unit: TimeUnit) -> String {
    let picture = picture(explanation, unit);
    let (width, height) = (picture.width, picture.height);
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" font-family="monospace" font-size="11">"#
    );
    let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
    for shape in &picture.shapes {
        match shape {
            Shape::Rect {
                x,
                y,
                width,
                height,
                fill,
                opacity,
                stroke,
                stroke_width,
                dashed,
                rounded,
            } => {
                let _ = write!(
                    svg,
                    r#"<rect x="{x:.1}" y="{y:.1}" width="{width:.1}" height="{height:.1}" fill="{fill}""#
                );
                if *rounded {
                    svg.push_str(r#" rx="3""#);
                }
                if *opacity < 1.0 {
                    let _ = write!(svg, r#" fill-opacity="{opacity}""#);
                }
                if let Some(stroke) = stroke {
                    let _ = write!(svg, r#" stroke="{stroke}" stroke-width="{stroke_width}""#);
                }
                if *dashed {
                    svg.push_str(r#" stroke-dasharray="4 3""#);
                }
                svg.push_str("/>\n");
            }
            Shape::Line {
                from,
                to,
                colour,
                dashed,
            } => {
                let _ = write!(
                    svg,
                    r#"<line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="{colour}""#,
                    from.0, from.1, to.0, to.1
                );
                if *dashed {
                    svg.push_str(r#" stroke-dasharray="5 3""#);
                }
                svg.push_str("/>\n");
            }
            Shape::Text {
                x,
                y,
                size,
                colour,
                bold,
                text,
            } => {
                let _ = write!(svg, r#"<text x="{x:.1}" y="{y:.1}""#);
                if *size != 11.0 {
                    let _ = write!(svg, r#" font-size="{size}""#);
                }
                if *bold {
                    svg.push_str(r#" font-weight="bold""#);
                }
                if *colour != "#000000" {
                    let _ = write!(svg, r#" fill="{colour}""#);
                }
                let _ = writeln!(svg, ">{}</text>", escape(text));
            }
            Shape::Group { title } => {
                let _ = writeln!(svg, "<g><title>{}</title>", escape(title));
            }
            Shape::EndGroup => svg.push_str("</g>\n"),
        }
    }
    let _ = writeln!(svg, "</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::verdict::ExplainedOperation;

    fn operation(
        index: usize,
        process: u64,
        call: u64,
        ret: Option<u64>,
        description: &str,
    ) -> ExplainedOperation {
        ExplainedOperation {
            index,
            process,
            call,
            ret,
            call_line: index + 1,
            return_line: ret.map(|_| index + 2),
            description: description.into(),
        }
    }

    #[test]
    fn the_picture_escapes_text_and_highlights_the_culprit() {
        let explanation = Explanation {
            model: "kv-append".into(),
            part: Some("<k>".into()),
            operations: vec![
                operation(0, 0, 10, Some(20), "append \"k\" \"a&b\""),
                operation(1, 1, 30, Some(40), "get \"k\" -> \"\""),
                operation(2, 2, 5, None, "append \"k\" \"c\" -> ?"),
            ],
            prefix: vec![0],
            state: "{\"k\": \"a&b\"}".into(),
            culprit: 1,
            candidates: vec![(1, Refusal::Invalid), (2, Refusal::DeadEnd)],
            reason: None,
            unobserved: 0,
        };
        let svg = render(&explanation, TimeUnit::Line);
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("part &quot;&lt;k&gt;&quot;"));
        assert!(svg.contains("a&amp;b") && !svg.contains("a&b"));
        assert!(
            svg.contains("#e04040")
                && svg.contains("#f5a623")
                && svg.contains("stroke-dasharray=\"4 3\"")
        );
        assert_eq!(svg.matches("<g>").count(), 3);
    }

    fn stale_read(times: [u64; 4]) -> Explanation {
        Explanation {
            model: "register".into(),
            part: None,
            operations: vec![
                operation(0, 0, times[0], Some(times[1]), "write 1"),
                operation(1, 1, times[2], Some(times[3]), "read -> nil"),
            ],
            prefix: vec![0],
            state: "1".into(),
            culprit: 1,
            candidates: vec![(1, Refusal::Invalid)],
            reason: None,
            unobserved: 0,
        }
    }

    /// The tick labels and the axis caption (the grey texts).
    fn axis_texts(picture: &Picture) -> Vec<String> {
        picture
            .shapes
            .iter()
            .filter_map(|shape| match shape {
                Shape::Text { colour, text, .. } if *colour == "#666666" => Some(text.clone()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn nanosecond_times_are_ticked_in_ms_and_s_as_the_other_charts_print_them() {
        let explanation = stale_read([250_000_000, 900_000_000, 1_100_000_000, 2_250_000_000]);
        let texts = axis_texts(&picture(&explanation, TimeUnit::Nanoseconds));
        assert_eq!(
            texts,
            ["500ms", "1s", "1.5s", "2s", "history time"].map(String::from)
        );
        // Steps finer than whole ms or 10 ms get the decimals they need.
        let explanation = stale_read([
            12_000_000_000,
            12_001_000_000,
            12_002_000_000,
            12_004_000_000,
        ]);
        let texts = axis_texts(&picture(&explanation, TimeUnit::Nanoseconds));
        assert_eq!(texts[..3], ["12s", "12.001s", "12.002s"].map(String::from));
        assert!(!render(&explanation, TimeUnit::Nanoseconds).contains("12000000000"));
    }

    #[test]
    fn line_numbers_are_not_passed_off_as_time() {
        let explanation = stale_read([1, 2, 3, 40]);
        let texts = axis_texts(&picture(&explanation, TimeUnit::Line));
        let caption = texts.last().unwrap();
        assert!(caption.contains("line number"), "{caption}");
        for tick in &texts[..texts.len() - 1] {
            assert!(tick.parse::<u64>().is_ok(), "{tick} is not a line number");
        }
        assert_eq!(texts[0], "10");
    }
}
