//! A run watched closely enough to chart it: the trace captured as arrows and
//! fault windows, the protocol's time series sampled, and for a history that is
//! not linearizable, the checker's explanation.
//!
//! Watching changes nothing: the capture is a trace sink and sampling reads nodes
//! between events, so the run — and its trace hash — is the one `run` gives.

use super::run::{RunOptions, RunOutcome, Sampler, run_scenario_sampled};
use crate::check::Explanation;
use crate::report::capture::{ChartSink, TeeSink};
use crate::report::series::Samples;
use crate::scenario::{Scenario, ScenarioFile};
use crate::sim::trace::SharedSink;
use crate::spec::ProtocolSpec;
use std::cell::RefCell;
use std::rc::Rc;

/// Most protocol samples per series and node in a run.
pub const SAMPLES_MAX: u64 = 2000;

/// A run and what its charts need.
pub struct Observed {
    /// The run itself.
    pub outcome: RunOutcome,
    /// Arrows and faults from the trace.
    pub capture: ChartSink,
    /// The protocol's time series.
    pub samples: Samples,
    /// Why the history is not linearizable, when that is what failed.
    pub explanation: Option<Explanation>,
    /// Server nodes.
    pub nodes: usize,
    /// Clients.
    pub clients: usize,
    /// End of the fault phase (ns).
    pub fault_phase_end: u64,
}

/// Runs one seed of a parsed scenario like [`run_scenario`](super::run_scenario),
/// watching it for charts. A sink in `options` still receives every event.
pub fn observe_scenario<S: ProtocolSpec>(
    file: &ScenarioFile,
    scenario: &Scenario<S::Config>,
    options: &RunOptions,
) -> Observed {
    let capture = Rc::new(RefCell::new(ChartSink::new()));
    let mut options = options.clone();
    options.sink = Some(match options.sink.take() {
        Some(other) => {
            Rc::new(RefCell::new(TeeSink(other, capture.clone() as SharedSink))) as SharedSink
        }
        None => capture.clone() as SharedSink,
    });
    let interval = scenario.run_end().div_ceil(SAMPLES_MAX).max(100_000);
    let mut sampler = Sampler::new(S::SERIES, scenario.nodes(), interval);
    let outcome = run_scenario_sampled::<S>(file, scenario, &options, Some(&mut sampler));
    drop(options);
    let explanation = if outcome
        .summary
        .violations
        .iter()
        .any(|violation| violation.checker == "linearizability")
    {
        S::explain_history(&outcome.history)
    } else {
        None
    };
    let capture = Rc::try_unwrap(capture)
        .ok()
        .expect("the run released the chart sink")
        .into_inner();
    Observed {
        outcome,
        capture,
        samples: sampler.samples,
        explanation,
        nodes: scenario.nodes(),
        clients: scenario.workload.clients,
        fault_phase_end: scenario.fault_phase_end(),
    }
}
