//! Linearizability as a run checker: plug a [`Model`] into any protocol's checker
//! list and the client history of every run is judged at its end.
//!
//! The verdict is a safety property (*always*), decided once the history is
//! complete. Operations still open when the run ends count as unknown (`info`). A
//! budget ending the search early is reported too — an unverified run is not a
//! green run — with advice to raise the budget.

use super::History;
use super::checker::{Checker, Finding};
use super::model::Model;
use super::prepared::{Prepared, check_sequentially};
use super::verdict::{Budget, Knobs, Verdict};
use crate::sim::{Protocol, World};

/// Checks the run's client history against `model`. See the module documentation.
#[derive(Clone, Debug)]
pub struct Linearizability<M> {
    model: M,
    max_states: u64,
    max_memory_mb: u64,
    partition: bool,
}

impl<M: Model + Clone> Linearizability<M> {
    /// A checker with the default state budget, splitting the history into the
    /// model's independent parts (per key) when it has them.
    pub fn new(model: M) -> Self {
        Linearizability {
            model,
            max_states: Self::MAX_STATES,
            max_memory_mb: Self::MAX_MEMORY_MB,
            partition: true,
        }
    }

    /// The in-run budget, in explored states per part: a run's check is bounded
    /// like the run (well below `check-history`'s default, which a user raises
    /// for one history at a time). A history it cannot decide is the run's
    /// `undecided` verdict, never a pass or a violation.
    pub const MAX_STATES: u64 = 2_000_000;

    /// The in-run memory cap per part, in MiB (the search's tables and the model
    /// states it keeps).
    pub const MAX_MEMORY_MB: u64 = 512;

    /// Caps the states explored per part.
    pub fn max_states(mut self, max_states: u64) -> Self {
        self.max_states = max_states;
        self
    }

    /// Caps the memory one part's search may hold, in MiB.
    pub fn max_memory_mb(mut self, max_memory_mb: u64) -> Self {
        self.max_memory_mb = max_memory_mb;
        self
    }

    /// The settings a budget message names.
    const KNOBS: Knobs = Knobs {
        states: "the checker's Linearizability::max_states",
        memory: "the checker's Linearizability::max_memory_mb",
    };
}

impl<P: Protocol, M: Model + Clone> Checker<P> for Linearizability<M> {
    fn name(&self) -> &'static str {
        "linearizability"
    }

    fn at_end(&mut self, world: &World<P>) -> Vec<Finding> {
        let history = match History::from_events(world.history()) {
            Ok(history) => history,
            Err(error) => {
                return vec![Finding::always(
                    "linearizability",
                    format!("the clients recorded a malformed history: {error}"),
                )];
            }
        };
        let prepared = match Prepared::new(self.model.clone(), history, self.partition) {
            Ok(prepared) => prepared,
            Err(error) => {
                return vec![Finding::always(
                    "linearizability",
                    format!(
                        "the history does not fit the {} model: {error}",
                        self.model.name()
                    ),
                )];
            }
        };
        let budget = Budget::states(self.max_states)
            .memory(self.max_memory_mb.saturating_mul(1 << 20))
            .knobs(Self::KNOBS);
        match check_sequentially(&prepared, &budget) {
            Verdict::Linearizable => Vec::new(),
            Verdict::NotLinearizable(explanation) => {
                vec![Finding::always(
                    "linearizability",
                    format!("the client history is not linearizable\n{explanation}"),
                )]
            }
            Verdict::Unknown(reason) => vec![Finding::undecided(
                "linearizability",
                format!(
                    "linearizability could not be decided within the in-run budget ({reason}); or decide it offline with `faultline check-history <report>/history.jsonl --model {}`, whose --max-states and --max-memory-mb go higher",
                    self.model.name()
                ),
            )],
        }
    }
}
