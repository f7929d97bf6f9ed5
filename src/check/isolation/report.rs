//! The result of an isolation check: the verdict, Elle's anomaly type names in
//! Elle's order (sorted), the consistency models ruled out (`not`: the weakest;
//! `also_not`: every stronger one), the anomalies in words, and each cycle
//! explained one edge at a time. Renders as text ([`std::fmt::Display`]) and a
//! cycle as SVG ([`Cycle::svg`]).

use super::Found;
use super::graph::{Graph, explain, kind_name};
use super::model;
use super::search::FoundCycle;
use super::txn::{Key, Txn};
use std::collections::BTreeSet;
use std::fmt;
use std::fmt::Write as _;

/// Elle's `:valid?`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Validity {
    /// No anomaly that the options forbid.
    Valid,
    /// An anomaly the options forbid.
    Invalid,
    /// Nothing could be decided (only `empty-transaction-graph` or `cycle-search-timeout`).
    Unknown,
}

impl Validity {
    /// `valid`, `invalid`, `unknown`.
    pub fn word(self) -> &'static str {
        match self {
            Validity::Valid => "valid",
            Validity::Invalid => "invalid",
            Validity::Unknown => "unknown",
        }
    }
}

/// One edge of an explained cycle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// From this transaction (position in the history).
    pub from: usize,
    /// To this one.
    pub to: usize,
    /// `ww`, `wr`, `rw`, `process` or `realtime`.
    pub kind: &'static str,
    /// "T1 < T2 because ...".
    pub text: String,
    /// The two transactions' names.
    pub names: (String, String),
}

/// A named cycle, explained.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cycle {
    /// The anomaly name (`G1c`, `G-single-item-realtime`, ...).
    pub name: String,
    /// The edges, in order; the last returns to the first's source.
    pub steps: Vec<Step>,
}

impl Cycle {
    /// Explain a found cycle.
    pub fn explain(graph: &Graph, cycle: &FoundCycle, txns: &[Txn], keys: &[Key]) -> Cycle {
        let steps = cycle
            .edges
            .iter()
            .map(|&index| {
                let edge = &graph.edges[index as usize];
                let from = txns[edge.from as usize].name();
                let to = txns[edge.to as usize].name();
                Step {
                    from: edge.from as usize,
                    to: edge.to as usize,
                    kind: kind_name(edge.kind),
                    text: explain(edge, &from, &to, keys),
                    names: (from, to),
                }
            })
            .collect();
        Cycle {
            name: cycle.name.clone(),
            steps,
        }
    }

    /// `T1 -wr-> T2 -ww-> T1`.
    pub fn summary(&self) -> String {
        let mut text = String::new();
        for step in &self.steps {
            let _ = write!(text, "{} -{}-> ", step.names.0, step.kind);
        }
        if let Some(last) = self.steps.last() {
            text.push_str(&last.names.1);
        }
        text
    }

    /// The cycle drawn as transactions around a circle with labelled arrows.
    pub fn svg(&self) -> String {
        let count = self.steps.len().max(1);
        let radius = 60.0 + 25.0 * count as f64;
        let size = 2.0 * radius + 160.0;
        let center = size / 2.0;
        let at = |index: usize| {
            let angle =
                std::f64::consts::TAU * index as f64 / count as f64 - std::f64::consts::FRAC_PI_2;
            (center + radius * angle.cos(), center + radius * angle.sin())
        };
        let mut svg = String::new();
        let _ = writeln!(
            svg,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{size:.0}" height="{:.0}" font-family="sans-serif" font-size="13">"#,
            size + 24.0 * count as f64 + 20.0
        );
        let _ = writeln!(
            svg,
            r#"<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z"/></marker></defs>"#
        );
        let _ = writeln!(
            svg,
            r#"<text x="10" y="20" font-weight="bold">{}</text>"#,
            escape(&self.name)
        );
        for (index, step) in self.steps.iter().enumerate() {
            let (x1, y1) = at(index);
            let (x2, y2) = at((index + 1) % count);
            let (dx, dy) = (x2 - x1, y2 - y1);
            let length = (dx * dx + dy * dy).sqrt().max(1.0);
            let shrink = 26.0 / length;
            let colour = match step.kind {
                "ww" => "#1f77b4",
                "wr" => "#2ca02c",
                "rw" => "#d62728",
                "process" => "#9467bd",
                _ => "#ff7f0e",
            };
            let _ = writeln!(
                svg,
                r#"<g><title>{}</title><line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="{colour}" stroke-width="2" marker-end="url(#arrow)"/><text x="{:.1}" y="{:.1}" fill="{colour}">{}</text></g>"#,
                escape(&step.text),
                x1 + dx * shrink,
                y1 + dy * shrink,
                x2 - dx * shrink,
                y2 - dy * shrink,
                (x1 + x2) / 2.0 + 6.0,
                (y1 + y2) / 2.0 - 6.0,
                step.kind
            );
        }
        for (index, step) in self.steps.iter().enumerate() {
            let (x, y) = at(index);
            let _ = writeln!(
                svg,
                r##"<circle cx="{x:.1}" cy="{y:.1}" r="24" fill="#f4f4f4" stroke="#333"/><text x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
                y + 4.0,
                escape(&step.names.0)
            );
        }
        for (index, step) in self.steps.iter().enumerate() {
            let _ = writeln!(
                svg,
                r#"<text x="10" y="{:.0}">{}</text>"#,
                size + 24.0 * index as f64,
                escape(&step.text)
            );
        }
        svg.push_str("</svg>\n");
        svg
    }
}

fn escape(text: &str) -> String {
    crate::check::svg::escape(text)
}

/// The result of [`super::check`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    /// The verdict.
    pub valid: Validity,
    /// Anomaly names reported, sorted as Elle sorts them.
    pub anomaly_types: Vec<String>,
    /// Each reported anomaly, in words, grouped by name in `anomaly_types` order.
    pub anomalies: Vec<Found>,
    /// The weakest consistency models the history is proven to violate.
    pub not: Vec<String>,
    /// Every other model it violates.
    pub also_not: Vec<String>,
    /// The reported cycles, explained.
    pub cycles: Vec<Cycle>,
    /// Transactions checked.
    pub transactions: usize,
    /// Dependency edges inferred.
    pub edges: usize,
}

impl Report {
    /// Assemble a report; `not` / `also_not` come from every anomaly found
    /// (`found_names`), reported or not, as in Elle, when `with_models`.
    pub fn new(
        mut anomalies: Vec<Found>,
        cycles: Vec<Cycle>,
        found_names: &BTreeSet<String>,
        transactions: usize,
        edges: usize,
        with_models: bool,
    ) -> Report {
        anomalies.sort_by(|a, b| a.name.cmp(&b.name));
        let types: BTreeSet<String> = anomalies.iter().map(|found| found.name.clone()).collect();
        let anomaly_types: Vec<String> = types.into_iter().collect();
        let valid = if anomaly_types.is_empty() {
            Validity::Valid
        } else if anomaly_types
            .iter()
            .all(|name| model::UNKNOWN_ANOMALIES.contains(&name.as_str()))
        {
            Validity::Unknown
        } else {
            Validity::Invalid
        };
        let (not, also_not) = if with_models && valid != Validity::Valid {
            let names: Vec<String> = found_names.iter().cloned().collect();
            model::boundary(&names)
        } else {
            (Vec::new(), Vec::new())
        };
        Report {
            valid,
            anomaly_types,
            anomalies,
            not,
            also_not,
            cycles,
            transactions,
            edges,
        }
    }
}

/// Anomalies of one type shown in the text; the rest are counted.
const SHOWN_PER_TYPE: usize = 8;

impl fmt::Display for Report {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            formatter,
            "{} ({} transactions, {} dependency edges)",
            self.valid.word(),
            self.transactions,
            self.edges
        )?;
        if self.valid == Validity::Valid {
            return Ok(());
        }
        writeln!(
            formatter,
            "anomaly types: {}",
            self.anomaly_types.join(", ")
        )?;
        let list = |models: &[String]| {
            if models.is_empty() {
                "-".to_string()
            } else {
                models.join(", ")
            }
        };
        writeln!(formatter, "not: {}", list(&self.not))?;
        writeln!(formatter, "also not: {}", list(&self.also_not))?;
        for name in &self.anomaly_types {
            let instances: Vec<&Found> = self
                .anomalies
                .iter()
                .filter(|found| &found.name == name)
                .collect();
            let cycles: Vec<&Cycle> = self
                .cycles
                .iter()
                .filter(|cycle| &cycle.name == name)
                .collect();
            writeln!(formatter, "\n{name} ({}):", instances.len())?;
            if cycles.is_empty() {
                for found in instances.iter().take(SHOWN_PER_TYPE) {
                    writeln!(formatter, "  {}", found.text)?;
                }
            } else {
                for cycle in cycles.iter().take(SHOWN_PER_TYPE) {
                    writeln!(formatter, "  {}", cycle.summary())?;
                    for step in &cycle.steps {
                        writeln!(formatter, "    {}", step.text)?;
                    }
                }
            }
            if instances.len() > SHOWN_PER_TYPE {
                writeln!(
                    formatter,
                    "  ... and {} more",
                    instances.len() - SHOWN_PER_TYPE
                )?;
            }
        }
        Ok(())
    }
}
