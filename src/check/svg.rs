//! An SVG picture of a failed check, written by hand (no dependency).
//!
//! One row per process, one bar per operation from invocation to completion (an
//! unknown outcome is a dashed bar running to the right edge). Colours tell the
//! story of the search: green bars are the longest linearizable prefix (numbered in
//! linearization order), the red bar is the operation that returned before it could
//! take effect (a red line marks its return), orange bars are the other operations
//! that could have been placed next, grey bars were never reached. Hovering a bar
//! shows its description.

use super::verdict::{Explanation, Refusal};
use std::collections::BTreeMap;
use std::fmt::Write;

const ROW_HEIGHT: f64 = 24.0;
const BAR_HEIGHT: f64 = 16.0;
const LEFT: f64 = 90.0;
const TOP: f64 = 70.0;
const RIGHT: f64 = 30.0;
/// Approximate advance of one monospace character at font size 9.
const LABEL_CHAR_WIDTH: f64 = 5.5;

fn escape(text: &str) -> String {
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

/// Render the explanation as a standalone SVG document.
pub fn render(explanation: &Explanation) -> String {
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
    let height = TOP + rows.len() as f64 * ROW_HEIGHT + 44.0;
    let x_of = |time: u64| LEFT + (time - start) as f64 / span * plot_width;

    let order: BTreeMap<usize, usize> = explanation
        .prefix
        .iter()
        .enumerate()
        .map(|(order, &position)| (position, order + 1))
        .collect();
    let candidates: BTreeMap<usize, Refusal> = explanation.candidates.iter().copied().collect();

    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" font-family="monospace" font-size="11">"#
    );
    let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let title = match &explanation.part {
        Some(part) => format!(
            "not linearizable: model {}, part {part:?}",
            explanation.model
        ),
        None => format!("not linearizable: model {}", explanation.model),
    };
    let _ = writeln!(
        svg,
        r#"<text x="10" y="18" font-size="14" font-weight="bold">{}</text>"#,
        escape(&title)
    );
    let culprit = &operations[explanation.culprit];
    let subtitle = format!(
        "linearized {} operations (state: {}); stuck at {}",
        explanation.prefix.len(),
        explanation.state,
        culprit.label()
    );
    let _ = writeln!(svg, r#"<text x="10" y="36">{}</text>"#, escape(&subtitle));
    let legend = [
        ("#7bc47f", "linearized prefix (number = order)"),
        ("#e04040", "returned before it could take effect"),
        ("#f5a623", "could have been next; does not work"),
        ("#c8c8c8", "not reached"),
    ];
    let mut legend_x = 10.0;
    for (colour, text) in legend {
        let _ = writeln!(
            svg,
            r#"<rect x="{legend_x}" y="46" width="12" height="10" fill="{colour}"/><text x="{}" y="55">{}</text>"#,
            legend_x + 16.0,
            escape(text)
        );
        legend_x += 24.0 + text.len() as f64 * 6.7;
    }
    for (process, row) in &rows {
        let y = TOP + *row as f64 * ROW_HEIGHT;
        let _ = writeln!(
            svg,
            r##"<text x="10" y="{:.1}">process {process}</text><line x1="{LEFT}" y1="{:.1}" x2="{open_end:.1}" y2="{:.1}" stroke="#eeeeee"/>"##,
            y + BAR_HEIGHT - 3.0,
            y + BAR_HEIGHT / 2.0,
            y + BAR_HEIGHT / 2.0
        );
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
        let dash = if operation.ret.is_none() {
            r#" stroke-dasharray="4 3" fill-opacity="0.5""#
        } else {
            ""
        };
        let stroke_width = if position == explanation.culprit {
            2.5
        } else {
            1.0
        };
        let _ = writeln!(
            svg,
            r#"<g><title>{}</title><rect x="{x1:.1}" y="{y:.1}" width="{:.1}" height="{BAR_HEIGHT}" rx="3" fill="{fill}" stroke="{stroke}" stroke-width="{stroke_width}"{dash}/>"#,
            escape(&operation.label()),
            x2 - x1
        );
        // Inside the bar: the linearization order and as much of the description
        // as fits; the culprit's description goes after its bar, in red.
        let mut label = match order.get(&position) {
            Some(number) => format!("{number}: {}", operation.description),
            None => operation.description.clone(),
        };
        if position == explanation.culprit {
            let _ = write!(
                svg,
                r##"<rect x="{:.1}" y="{y:.1}" width="{:.1}" height="{BAR_HEIGHT}" fill="white" fill-opacity="0.85"/><text x="{:.1}" y="{:.1}" fill="#b00000">{}</text>"##,
                x2 + 2.0,
                label.chars().count() as f64 * 6.7 + 4.0,
                x2 + 4.0,
                y + BAR_HEIGHT - 4.0,
                escape(&label)
            );
        } else {
            let fits = ((x2 - x1 - 4.0) / LABEL_CHAR_WIDTH).floor().max(0.0) as usize;
            if label.chars().count() > fits {
                label = match order.get(&position) {
                    Some(number) if number.to_string().len() <= fits => number.to_string(),
                    _ => String::new(),
                };
            }
            if !label.is_empty() {
                let _ = write!(
                    svg,
                    r#"<text x="{:.1}" y="{:.1}" font-size="9">{}</text>"#,
                    x1 + 2.0,
                    y + BAR_HEIGHT - 4.0,
                    escape(&label)
                );
            }
        }
        let _ = writeln!(svg, "</g>");
    }
    let axis_y = TOP + rows.len() as f64 * ROW_HEIGHT + 4.0;
    for tick in 0..=4u64 {
        let time = start + (finite_end - start) * tick / 4;
        let x = x_of(time);
        let _ = writeln!(
            svg,
            r##"<line x1="{x:.1}" y1="{axis_y:.1}" x2="{x:.1}" y2="{:.1}" stroke="#999999"/><text x="{:.1}" y="{:.1}" font-size="9" fill="#666666">t={time}</text>"##,
            axis_y + 4.0,
            x + 2.0,
            axis_y + 12.0
        );
    }
    if let Some(ret) = culprit.ret {
        let x = x_of(ret);
        let _ = writeln!(
            svg,
            r##"<line x1="{x:.1}" y1="{:.1}" x2="{x:.1}" y2="{:.1}" stroke="#e04040" stroke-dasharray="5 3"/><text x="{:.1}" y="{:.1}" fill="#e04040">returned here</text>"##,
            TOP - 6.0,
            height - 22.0,
            x + 3.0,
            height - 6.0
        );
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
        };
        let svg = render(&explanation);
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
}
