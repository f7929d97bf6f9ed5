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
