//! The linearizability explanation as a PNG: the same [`Picture`] the SVG writer
//! (`check::svg`) draws, drawn with plotters and the embedded font.

use super::chart::{Chart, DrawResult, FONT};
use crate::check::svg::{Picture, Shape};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// The picture as a chart.
pub struct LinearizabilityChart(pub Picture);

fn rgb(hex: &str) -> RGBColor {
    let channel =
        |at: usize| u8::from_str_radix(hex.get(at..at + 2).unwrap_or("00"), 16).unwrap_or(0);
    RGBColor(channel(1), channel(3), channel(5))
}

fn point(x: f64, y: f64) -> (i32, i32) {
    (x.round() as i32, y.round() as i32)
}

impl Chart for LinearizabilityChart {
    fn size(&self) -> (u32, u32) {
        (self.0.width.ceil() as u32, self.0.height.ceil() as u32)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        root.fill(&WHITE)?;
        for shape in &self.0.shapes {
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
                    ..
                } => {
                    let corners = [point(*x, *y), point(x + width, y + height)];
                    root.draw(&Rectangle::new(corners, rgb(fill).mix(*opacity).filled()))?;
                    if let Some(stroke) = stroke {
                        // A dashed outline (an unknown outcome) is drawn lighter.
                        let colour = rgb(stroke).mix(if *dashed { 0.5 } else { 1.0 });
                        let width = stroke_width.round().max(1.0) as u32;
                        root.draw(&Rectangle::new(corners, colour.stroke_width(width)))?;
                    }
                }
                Shape::Line {
                    from,
                    to,
                    colour,
                    dashed,
                } => {
                    let path = vec![point(from.0, from.1), point(to.0, to.1)];
                    if *dashed {
                        root.draw(&plotters::element::DashedPathElement::new(
                            path,
                            5,
                            3,
                            rgb(colour),
                        ))?;
                    } else {
                        root.draw(&PathElement::new(path, rgb(colour)))?;
                    }
                }
                Shape::Text {
                    x,
                    y,
                    size,
                    colour,
                    text,
                    ..
                } => {
                    let colour = rgb(colour);
                    let style = TextStyle::from((FONT, *size).into_font())
                        .color(&colour)
                        .pos(Pos::new(HPos::Left, VPos::Bottom));
                    root.draw(&Text::new(text.clone(), point(*x, y + size * 0.2), style))?;
                }
                Shape::Group { .. } | Shape::EndGroup => {}
            }
        }
        Ok(())
    }
}
