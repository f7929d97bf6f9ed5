//! Transaction isolation checking in the manner of Elle (Kingsbury and Alvaro,
//! "Elle: Inferring Isolation Anomalies from Experimental Observations", VLDB
//! 2020): from a history of transactions over lists (`list-append`) or registers
//! (`rw-register`), infer a dependency graph between transactions, find its
//! cycles, name each one by Adya's anomaly classes, and say which consistency
//! models the anomalies rule out.
//!
//! # Pieces
//!
//! - [`txn`]: [`Txn`], [`Mop`], [`Key`] and [`parse_history`] (EDN op maps, one a
//!   line; errors name the line);
//! - [`append`] and [`register`]: inference of ww / wr / rw edges and of the
//!   anomalies visible without a cycle (G1a, G1b, internal, ...);
//! - [`order`]: process and real-time order;
//! - [`graph`]: the edge-labelled graph and an iterative Tarjan;
//! - [`search`]: the bounded search for named cycles in each component;
//! - [`model`]: the consistency-model lattice (what each model forbids);
//! - [`report`]: the [`Report`], its text and an SVG of a cycle;
//! - [`generate`]: random histories for tests and benchmarks.
//!
//! Determinism: ordered maps only, no clock; the search is bounded by a step
//! count ([`Options::search_steps`]), not by time, so the same history and
//! options always give the same report.
//!
//! # Example
//!
//! ```
//! use faultline::check::isolation::{self, Options, Validity, Workload};
//!
//! // T1 appends 1 to :x and reads :y = [1]; T2 appends 2 to :x and 1 to :y;
//! // a reader sees :x = [1 2]: T1 saw T2's append, but T2 appended after T1.
//! let text = "\
//! {:index 0, :type :invoke, :process 0, :value [[:append :x 1] [:r :y nil]]}
//! {:index 1, :type :ok, :process 0, :value [[:append :x 1] [:r :y [1]]]}
//! {:index 2, :type :invoke, :process 1, :value [[:append :x 2] [:append :y 1]]}
//! {:index 3, :type :ok, :process 1, :value [[:append :x 2] [:append :y 1]]}
//! {:index 4, :type :invoke, :process 2, :value [[:r :x nil]]}
//! {:index 5, :type :ok, :process 2, :value [[:r :x [1 2]]]}";
//! let txns = isolation::parse_history(text, Workload::ListAppend).unwrap();
//! let options = Options { consistency_models: vec!["serializable".into()], ..Options::default() };
//! let report = isolation::check(&txns, &options);
//! assert_eq!(report.valid, Validity::Invalid);
//! assert_eq!(report.anomaly_types, ["G1c"]);
//! assert_eq!(report.not, ["read-committed"]);
//! println!("{report}");
//! ```

pub mod anomaly;
pub mod append;
pub mod generate;
pub mod graph;
pub mod model;
pub mod order;
pub mod register;
pub mod report;
pub mod search;
pub mod txn;

pub use anomaly::Found;
pub use report::{Cycle, Report, Step, Validity};
pub use txn::{Error, Key, Mop, Outcome, Txn, Workload, parse_history};

use graph::{Edge, Graph, PROCESS, REALTIME, Why};
use search::{Class, Variant};
use std::collections::{BTreeMap, BTreeSet};

/// Steps one cycle class may spend searching, over all components, by default.
pub const DEFAULT_SEARCH_STEPS: u64 = 1_000_000;

/// One of Elle's single detectors, run alone (its `g1a-cases`, `g1b-cases`,
/// `internal-cases`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Detector {
    /// Committed reads of failed writes.
    G1a,
    /// Committed reads of intermediate writes.
    G1b,
    /// Reads that disagree with the transaction's own earlier reads and writes
    /// (and future reads).
    Internal,
}

impl Detector {
    /// The anomaly names the detector reports.
    pub fn names(self) -> &'static [&'static str] {
        match self {
            Detector::G1a => &["G1a"],
            Detector::G1b => &["G1b"],
            Detector::Internal => &["internal", "future-read"],
        }
    }
}

/// What to check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// The models the history should satisfy [default: `strict-serializable`];
    /// every anomaly they forbid is reported. Empty: only [`Options::anomalies`].
    pub consistency_models: Vec<String>,
    /// Anomaly classes to report besides (`G0`, `G1`, `G2`, `internal`, ...;
    /// with every anomaly that implies one of them).
    pub anomalies: Vec<String>,
    /// rw-register: real-time order orders each key's versions.
    pub linearizable_keys: bool,
    /// rw-register: process order orders each key's versions.
    pub sequential_keys: bool,
    /// rw-register: a transaction's read of a key precedes its write of it.
    pub wfr_keys: bool,
    /// rw-register: the commit order, completion `:index` → position.
    pub transaction_order: Option<BTreeMap<i64, i64>>,
    /// Steps each cycle class may spend [default: [`DEFAULT_SEARCH_STEPS`]].
    pub search_steps: u64,
    /// Run only this detector.
    pub only: Option<Detector>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            consistency_models: vec!["strict-serializable".into()],
            anomalies: Vec::new(),
            linearizable_keys: false,
            sequential_keys: false,
            wfr_keys: false,
            transaction_order: None,
            search_steps: DEFAULT_SEARCH_STEPS,
            only: None,
        }
    }
}

impl Options {
    /// Unknown model or anomaly names are an error naming the known ones.
    pub fn validate(&self) -> Result<(), String> {
        for name in &self.consistency_models {
            if !model::is_model(name) {
                return Err(format!(
                    "unknown consistency model {name:?} (known: {})",
                    model::model_names().join(", ")
                ));
            }
        }
        let known = model::anomaly_names();
        for name in &self.anomalies {
            if !known.contains(name.as_str()) {
                let names: Vec<&str> = known.iter().copied().collect();
                return Err(format!(
                    "unknown anomaly {name:?} (known: {})",
                    names.join(", ")
                ));
            }
        }
        Ok(())
    }

    /// The anomaly names this check reports.
    pub fn reportable(&self) -> BTreeSet<String> {
        let mut names = model::prohibited_by(&self.consistency_models);
        names.extend(model::anomalies_implying(&self.anomalies));
        names.extend(model::UNKNOWN_ANOMALIES.iter().map(|name| name.to_string()));
        names
    }
}

/// The workload of a history, from its micro-operations (registers if any
/// register operation occurs).
pub fn workload_of(txns: &[Txn]) -> Workload {
    let register = txns
        .iter()
        .flat_map(|txn| &txn.mops)
        .any(|mop| matches!(mop, Mop::Write { .. } | Mop::ReadRegister { .. }));
    if register {
        Workload::RwRegister
    } else {
        Workload::ListAppend
    }
}

/// Check a history.
pub fn check(txns: &[Txn], options: &Options) -> Report {
    let inference = match workload_of(txns) {
        Workload::ListAppend => append::infer(txns),
        Workload::RwRegister => register::infer(
            txns,
            &register::VersionSources {
                linearizable_keys: options.linearizable_keys,
                sequential_keys: options.sequential_keys,
                wfr_keys: options.wfr_keys,
                transaction_order: options.transaction_order.as_ref(),
            },
        ),
    };
    if let Some(detector) = options.only {
        let found: Vec<Found> = inference
            .found
            .into_iter()
            .filter(|found| detector.names().contains(&found.name.as_str()))
            .collect();
        let names: BTreeSet<String> = found.iter().map(|found| found.name.clone()).collect();
        return Report::new(found, Vec::new(), &names, txns.len(), 0, false);
    }
    let reportable = options.reportable();
    // Real-time order contains process order (a process runs one transaction at
    // a time), so at most one of the two is added.
    let needs_realtime = reportable.iter().any(|name| name.ends_with("-realtime"));
    let needs_process = !needs_realtime && reportable.iter().any(|name| name.ends_with("-process"));
    let mut edges = inference.edges;
    let live: Vec<u32> = (0..txns.len() as u32)
        .filter(|&t| txns[t as usize].outcome != Outcome::Fail)
        .collect();
    if needs_process {
        for (from, to) in order::process_pairs(txns, &live) {
            edges.push(Edge {
                from,
                to,
                kind: PROCESS,
                why: Why::Process {
                    process: txns[from as usize].process,
                },
            });
        }
    }
    if needs_realtime {
        for (from, to) in order::realtime_pairs(txns, &live) {
            edges.push(Edge {
                from,
                to,
                kind: REALTIME,
                why: Why::Realtime,
            });
        }
    }
    let graph = Graph::new(txns.len(), edges);
    let mut found = inference.found;
    if graph.edges.is_empty() {
        found.push(Found::new(
            "empty-transaction-graph",
            "no dependency between transactions could be inferred".into(),
        ));
    }
    let classes: Vec<Class> = Class::all()
        .into_iter()
        .filter(|class| match class.variant {
            Variant::Plain => true,
            Variant::Process => needs_process,
            Variant::Realtime => needs_realtime,
        })
        .collect();
    let components = graph.components(u8::MAX, &|_| true);
    let mut cycles: Vec<report::Cycle> = Vec::new();
    let mut named: BTreeSet<(usize, String)> = BTreeSet::new();
    // Process and real-time variants are looked for only in components where no
    // plain cycle turned up: order edges explain a cycle only when data alone cannot.
    let mut plain_found: BTreeSet<usize> = BTreeSet::new();
    for class in classes {
        let mut steps = options.search_steps;
        for (index, members) in components.iter().enumerate() {
            if class.variant != Variant::Plain && plain_found.contains(&index) {
                continue;
            }
            match search::search(&graph, members, class, &mut steps) {
                search::Outcome::Found(cycle) => {
                    if class.variant == Variant::Plain {
                        plain_found.insert(index);
                    }
                    if named.insert((index, cycle.name.clone())) {
                        let explained =
                            report::Cycle::explain(&graph, &cycle, txns, &inference.keys);
                        found.push(Found::new(&cycle.name, explained.summary()));
                        cycles.push(explained);
                    }
                }
                search::Outcome::None => {}
                search::Outcome::Timeout { cycle_exists } => {
                    found.push(Found::new(
                        "cycle-search-timeout",
                        format!(
                            "the search for {} in a component of {} transactions ran out of its {} steps",
                            class.name(),
                            members.len(),
                            options.search_steps
                        ),
                    ));
                    if cycle_exists {
                        for model in cycle_exists_models(&class.name()) {
                            found.push(Found::new(
                                &format!("{model}-cycle-exists"),
                                format!(
                                    "a component of {} transactions holds a cycle that {model} forbids (its {} search timed out)",
                                    members.len(),
                                    class.name()
                                ),
                            ));
                        }
                    }
                    break;
                }
            }
        }
    }
    let found_names: BTreeSet<String> = found.iter().map(|found| found.name.clone()).collect();
    let reported: Vec<Found> = found
        .into_iter()
        .filter(|found| reportable.contains(&found.name))
        .collect();
    let cycles: Vec<report::Cycle> = cycles
        .into_iter()
        .filter(|cycle| reportable.contains(&cycle.name))
        .collect();
    Report::new(
        reported,
        cycles,
        &found_names,
        txns.len(),
        graph.edges.len(),
        true,
    )
}

/// The weakest models with a `-cycle-exists` fallback that forbid `anomaly`.
fn cycle_exists_models(anomaly: &str) -> Vec<String> {
    let known = model::anomaly_names();
    let candidates: BTreeSet<String> = model::impossible_models(&[anomaly.to_string()])
        .into_iter()
        .filter(|model| known.contains(format!("{model}-cycle-exists").as_str()))
        .collect();
    model::weakest(&candidates).into_iter().collect()
}

/// Options from an Elle option map in EDN, as Elle's `check` takes them:
/// `{:consistency-models [:serializable], :anomalies [:G1], :linearizable-keys? true,
/// :sequential-keys? true, :wfr-keys? true, :transaction-order {1 1, 3 2}}`.
/// A map without `:consistency-models` means `[:strict-serializable]`;
/// `:consistency-models nil` means none. Unknown keys are ignored, as Elle does
/// (`:directory`, ...).
pub fn options_from_edn(text: &str) -> Result<Options, String> {
    use crate::check::edn::{Edn, Reader};
    let mut reader = Reader::new(text);
    let Edn::Map(pairs) = reader.value()? else {
        return Err("expected an option map {...}".into());
    };
    let mut options = Options::default();
    let names = |value: &Edn, what: &str| -> Result<Vec<String>, String> {
        match value {
            Edn::Nil => Ok(Vec::new()),
            Edn::Vector(items) => items
                .iter()
                .map(|item| match item {
                    Edn::Keyword(name) => Ok(name.clone()),
                    other => Err(format!(
                        "expected {what} keywords, found {}",
                        other.describe()
                    )),
                })
                .collect(),
            other => Err(format!(
                "expected a vector of {what}, found {}",
                other.describe()
            )),
        }
    };
    for (key, value) in &pairs {
        let Edn::Keyword(key) = key else {
            return Err(format!("expected keyword keys, found {}", key.describe()));
        };
        let flag = || matches!(value, Edn::Bool(true));
        match key.as_str() {
            "consistency-models" => options.consistency_models = names(value, "model")?,
            "anomalies" => options.anomalies = names(value, "anomaly")?,
            "linearizable-keys?" => options.linearizable_keys = flag(),
            "sequential-keys?" => options.sequential_keys = flag(),
            "wfr-keys?" => options.wfr_keys = flag(),
            "transaction-order" => {
                let Edn::Map(entries) = value else {
                    return Err(format!(
                        "expected :transaction-order to be a map of index to position, found {}",
                        value.describe()
                    ));
                };
                let mut order = BTreeMap::new();
                for entry in entries {
                    let (Edn::Int(index), Edn::Int(position)) = entry else {
                        return Err("expected :transaction-order entries of integers".into());
                    };
                    order.insert(*index, *position);
                }
                options.transaction_order = Some(order);
            }
            _ => {}
        }
    }
    options.validate()?;
    Ok(options)
}
