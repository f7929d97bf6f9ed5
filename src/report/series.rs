//! Samples of a protocol's time series (declared in [`crate::spec::series`]),
//! taken by the runner at fixed virtual time intervals for the run's charts.
//! Sampling only reads nodes between events, so a sampled run is the same run.

pub use crate::spec::series::{SeriesKind, SeriesSpec};
use serde::Serialize;

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
