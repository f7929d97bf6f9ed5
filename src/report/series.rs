//! Protocol time series: values a protocol exposes per node (Raft: term, whether
//! it leads, commit index, applied index), sampled by the runner at fixed virtual
//! time intervals for the run's charts.
//!
//! A protocol declares its series ([`SeriesSpec`], through
//! `ProtocolSpec::SERIES`) and reads them off a node (`ProtocolSpec::sample`).
//! Sampling only reads nodes between events, so a sampled run is the same run.

use serde::Serialize;

/// How a series is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SeriesKind {
    /// A number per node over time: one line per node.
    Line,
    /// A yes/no per node (non-zero = yes): one lane per node, a bar where yes.
    Flag,
}

/// One declared series.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct SeriesSpec {
    /// File-name-safe name (`term`, `commit_index`).
    pub name: &'static str,
    /// Chart title.
    pub title: &'static str,
    /// How it is drawn.
    pub kind: SeriesKind,
}

/// Samples of every series of every node.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Samples {
    /// The series, in declaration order.
    pub specs: Vec<SeriesSpec>,
    /// Sample times (true virtual time, ns), ascending.
    pub times: Vec<u64>,
    /// `values[series][node][sample]`; `None` while the node was down.
    pub values: Vec<Vec<Vec<Option<f64>>>>,
}

impl Samples {
    /// Room for `specs` over `nodes` nodes.
    pub fn new(specs: &[SeriesSpec], nodes: usize) -> Self {
        Samples {
            specs: specs.to_vec(),
            times: Vec::new(),
            values: vec![vec![Vec::new(); nodes]; specs.len()],
        }
    }

    /// Whether there is anything to draw.
    pub fn is_empty(&self) -> bool {
        self.specs.is_empty() || self.times.is_empty()
    }

    /// Records one sample time; `read(node)` gives that node's values in series
    /// order, or `None` if it is down.
    pub fn push(&mut self, time: u64, mut read: impl FnMut(usize, &mut Vec<f64>) -> bool) {
        self.times.push(time);
        let mut row = Vec::with_capacity(self.specs.len());
        let nodes = self.values.first().map_or(0, Vec::len);
        for node in 0..nodes {
            row.clear();
            let up = read(node, &mut row);
            for (series, values) in self.values.iter_mut().enumerate() {
                values[node].push(if up { row.get(series).copied() } else { None });
            }
        }
    }
}
