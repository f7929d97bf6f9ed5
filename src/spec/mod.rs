//! The protocol kit: what a protocol tells the tool about itself, so that every
//! command — `run`, `fuzz`, `shrink`, `replay`, `sweep`, `bench`, `list` and the
//! report — works on it without naming it.
//!
//! A protocol is its folder under `src/protocols/<name>/` (or a user's own crate)
//! with a `spec.rs` that implements [`ProtocolSpec`], plus one line in a
//! registry (`runner::Registry`). The spec is handed a [`Setup`] — its own
//! configuration and the few facts of the scenario it may depend on — never the
//! runner's internals, and it reports bad configuration as an [`Invalid`] naming
//! the key; the scenario layer turns that into a located error (file, line,
//! column) from the TOML spans.
//!
//! Identities are declared once ([`declare`]): planted bugs, *sometimes* points
//! and properties are enums made by a macro that also lists them, so the list a
//! campaign reports against cannot drift from the code that fires them.
//!
//! Layer: below `protocols` (which implement it) and above `sim`, `check` and
//! `workload` (which it names).

pub mod declare;
pub mod driver;
pub mod hooks;
pub mod series;
pub mod stats;

pub use declare::Declared;
pub use driver::Driver;
pub use hooks::{BenchMeasure, BenchWorkload, Experiment, TrialMetric};
pub use series::{SeriesKind, SeriesSpec};

use crate::check::{Checker, Explanation};
use crate::sim::network::NetworkConfig;
use crate::sim::{HistoryEvent, NodeFactory, Protocol};
use crate::workload::WorkloadConfig;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fmt::Debug;
use std::ops::Range;

/// What a spec is handed to build a run: its `[protocol]` table and the facts of
/// the scenario a protocol may depend on.
#[derive(Clone, Copy, Debug)]
pub struct Setup<'a, C> {
    /// The `[protocol]` table.
    pub config: &'a C,
    /// Server nodes (ids `0..nodes`).
    pub nodes: usize,
    /// Of them, the last `spares` (ids `nodes - spares..nodes`) start outside
    /// the cluster's membership (`cluster.spares`; 0 unless the protocol
    /// supports membership changes, [`ProtocolSpec::min_members`]).
    pub spares: usize,
    /// Clients (ids `nodes..nodes + clients`).
    pub clients: usize,
    /// The `[workload]` table.
    pub workload: &'a WorkloadConfig,
    /// The `[network]` table (drivers that reproduce a tester's network need it).
    pub network: &'a NetworkConfig,
    /// End of the fault phase, true virtual time (ns).
    pub fault_phase_end: u64,
    /// The scenario file's text, for a protocol that re-reads one of its values
    /// from the value's `toml::Spanned` span to point inside it in errors.
    pub text: &'a str,
}

/// Why a scenario's protocol configuration is not acceptable: the key at fault
/// (a dotted path from the top of the file, `protocol.keys`, `cluster.nodes`,
/// `workload.clients`), what was expected, and — when the protocol knows it from
/// a `toml::Spanned` value — the exact byte span.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invalid {
    /// The dotted key path (`protocol.election_timeout`).
    pub key: String,
    /// What is wrong and what is allowed.
    pub message: String,
    /// Byte span in the scenario text, when known; else the key is looked up.
    pub span: Option<Range<usize>>,
}

impl Invalid {
    /// A problem with the value at `key` (a dotted path such as
    /// `protocol.keys`), located from the file's TOML spans.
    pub fn key(key: impl Into<String>, message: impl Into<String>) -> Self {
        Invalid {
            key: key.into(),
            message: message.into(),
            span: None,
        }
    }

    /// A problem at a known byte span (from a `toml::Spanned` value).
    pub fn at(span: Range<usize>, key: impl Into<String>, message: impl Into<String>) -> Self {
        Invalid {
            key: key.into(),
            message: message.into(),
            span: Some(span),
        }
    }
}

/// A protocol the tool can build from a scenario. See the module documentation;
/// `examples/primary_backup.rs` implements one from outside the crate.
pub trait ProtocolSpec: Protocol {
    /// The `[protocol]` table: `name`, `bugs`, and the protocol's own keys. Use
    /// `#[serde(deny_unknown_fields)]` so typos are errors.
    type Config: DeserializeOwned + Serialize + Clone + Debug;

    /// The name scenario files use (`[protocol] name = "..."`).
    const NAME: &'static str;
    /// One line saying what it is.
    const SUMMARY: &'static str;
    /// Planted bugs (declare them with [`crate::declare!`]).
    const BUGS: &'static [Declared];
    /// Properties checked (name, kind and statement).
    const PROPERTIES: &'static [Declared];
    /// The *sometimes* points the protocol marks (`Ctx::sometimes`), so a
    /// campaign can say which it never reached; the runner fails a run that
    /// fires a point not declared here. Default none.
    const SOMETIMES: &'static [Declared] = &[];
    /// Numbers this protocol's checkers measure in every run
    /// ([`crate::check::Checker::measures`]), by name: each run's summary
    /// carries them (`measured`), and a sweep can chart one as its metric.
    /// Default none.
    const MEASURES: &'static [Declared] = &[];
    /// Declared points the shipped campaigns knowingly never reach, each with the
    /// reason; the conformance test requires every other point to fire.
    const UNREACHED: &'static [(&'static str, &'static str)] = &[];
    /// Fault-target groups beyond the built-in selectors (`@coordinator`,
    /// `@backends`): see [`ProtocolSpec::groups`]. Listed here for `list` and for
    /// validating scenario files. Default none.
    const GROUPS: &'static [Declared] = &[];

    /// Protocol-specific checks of the configuration beyond what serde enforces.
    fn validate(setup: &Setup<'_, Self::Config>) -> Result<(), Invalid> {
        let _ = setup;
        Ok(())
    }

    /// Whether the protocol supports membership changes — the `join` and
    /// `leave` faults and `cluster.spares` — and if so the fewest members the
    /// cluster may have: a `leave` never takes the membership below it, and a
    /// scenario starting with fewer members (`nodes - spares`) is an error at
    /// `cluster.spares`. Its nodes carry out each change in
    /// [`Node::on_admin`](crate::sim::Node::on_admin). `None` (the default):
    /// no membership changes, and a scenario asking for one is an error at
    /// the key that does.
    fn min_members(setup: &Setup<'_, Self::Config>) -> Option<usize> {
        let _ = setup;
        None
    }

    /// The planted bugs switched on, by name.
    fn active_bugs(config: &Self::Config) -> Vec<String>;

    /// Builds node `id` (at start and after every crash).
    fn node_factory(setup: &Setup<'_, Self::Config>) -> NodeFactory<Self>;

    /// Builds client `index` (0-based among clients).
    fn client(setup: &Setup<'_, Self::Config>, index: usize) -> Self::Client;

    /// The checkers that judge a run.
    fn checkers(setup: &Setup<'_, Self::Config>) -> Vec<Box<dyn Checker<Self>>>;

    /// An omniscient test program to run alongside the scenario under `seed`
    /// (see [`Driver`]), such as a port of a lab tester. Default none.
    fn driver(setup: &Setup<'_, Self::Config>, seed: u64) -> Option<Box<dyn Driver<Self>>> {
        let _ = (setup, seed);
        None
    }

    /// The nodes of each of [`ProtocolSpec::GROUPS`], by name, for a run of
    /// `setup`: faults target them as `@name` (a balancer's `@backends`, a
    /// coordinator's `@coordinator`). The world learns them as labels before the
    /// first event, so `sim` never learns a protocol's words. Default none.
    fn groups(setup: &Setup<'_, Self::Config>) -> Vec<(&'static str, Vec<usize>)> {
        let _ = setup;
        Vec::new()
    }

    /// Time series the protocol exposes per node, for the run report's charts
    /// (Raft: term, leader, commit and applied index). Default none.
    const SERIES: &'static [SeriesSpec] = &[];

    /// Pushes `node`'s current value of each of [`ProtocolSpec::SERIES`], in
    /// order. Called between events on running nodes only; it must only read.
    fn sample(node: &Self::Node, values: &mut Vec<f64>) {
        let _ = (node, values);
    }

    /// For the report's picture: why the client `history` of a failed run is not
    /// linearizable, if the protocol's checkers judge it with a model. Default
    /// none.
    fn explain_history(history: &[HistoryEvent]) -> Option<Explanation> {
        let _ = history;
        None
    }

    /// Benchmarks this protocol adds to `faultline bench`. Default none.
    fn bench_workloads() -> Vec<BenchWorkload> {
        Vec::new()
    }

    /// Metrics this protocol adds to sweeps: trials that build their own world
    /// (the Raft paper's election benchmark). Default none.
    fn trial_metrics() -> Vec<TrialMetric> {
        Vec::new()
    }

    /// Published measurements this protocol reproduces (`faultline experiment`).
    /// Default none.
    fn experiments() -> Vec<Experiment> {
        Vec::new()
    }
}
