//! The model trait: the sequential specification a history is checked against.
//!
//! A model is a deterministic state machine. The checker asks it one question over
//! and over: "in this state, may this operation (input, observed output) take
//! effect, and if so, what is the state afterwards?" ([`Model::step`]). Everything
//! else is optional help: [`Model::partition`] splits a history into independent
//! parts (P-compositionality: a map of independent keys is linearizable when each
//! key is), and the `describe_*` functions make explanations readable.
//!
//! Add your own model by implementing this trait; see [`crate::check::models`] for
//! the shipped ones (a register is the smallest example).

pub use super::chain::AppendAccess;
use super::history::Operation;
use super::linearizable::PartOperation;
use crate::sim::history::Value;
use std::collections::BTreeMap;
use std::hash::Hash;

/// What happens when an operation takes effect in a state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step<S> {
    /// The operation cannot take effect here with the output it observed.
    Invalid,
    /// It can, and the state does not change (reads): saves a clone.
    Unchanged,
    /// It can, and this is the new state.
    Changed(S),
}

/// A sequential specification.
///
/// `Output` is `None` in [`Model::step`] for operations whose outcome is unknown
/// (`info`): the model should then accept any result, applying the effect the
/// operation would have had.
pub trait Model: Sync {
    /// The model state. Cloned only when it changes; hashed and compared to
    /// memoise the search, so make `Hash` and `Eq` cheap.
    type State: Clone + Eq + Hash;
    /// An operation's input (what the client asked for).
    type Input: Clone + Send + Sync;
    /// An operation's output (what the client was told).
    type Output: Clone + Send + Sync;

    /// The name `--model` accepts.
    fn name(&self) -> &'static str;

    /// The initial state.
    fn init(&self) -> Self::State;

    /// Read an operation's input and, when it completed, its output. An `Err` says
    /// what was expected (the caller adds the line).
    #[allow(clippy::type_complexity)]
    fn convert(&self, operation: &Operation)
    -> Result<(Self::Input, Option<Self::Output>), String>;

    /// Apply an operation to a state (see [`Step`]).
    fn step(
        &self,
        state: &Self::State,
        input: &Self::Input,
        output: Option<&Self::Output>,
    ) -> Step<Self::State>;

    /// Split the history into independent parts, each checked on its own from
    /// [`Model::init`]. Parts are lists of indices into `operations`, each sorted,
    /// in a deterministic order, with a label (e.g. the key). Default: one part.
    fn partition(&self, operations: &[Operation]) -> Vec<(Option<String>, Vec<usize>)> {
        vec![(None, (0..operations.len()).collect())]
    }

    /// One operation, for explanations.
    fn describe_operation(&self, operation: &Operation) -> String {
        format!("{operation}")
    }

    /// One state, for explanations.
    fn describe_state(&self, state: &Self::State) -> String;

    /// The heap memory a state holds beyond its own size (strings, vectors), in
    /// bytes, approximately. The search counts it against
    /// [`crate::check::Budget::max_memory_bytes`] for every distinct state it
    /// keeps, so a model whose states grow (appends, sets) stays bounded by memory
    /// and not only by the number of states. Default: nothing.
    fn state_bytes(&self, state: &Self::State) -> usize {
        let _ = state;
        0
    }

    /// Positions (into `operations`, one part) of unknown-outcome operations that
    /// may be assumed never to have taken effect, because no operation of the part
    /// observed their effect: a write whose value no read returned, an append whose
    /// text no read contains. The search leaves them out, which is what makes busy
    /// histories with many timed-out writes cheap.
    ///
    /// Contract (the model's to keep): for every position returned, whenever the
    /// part has a linearization in which that operation takes effect, removing it
    /// from that linearization leaves a valid one. Default: none.
    fn unobserved(&self, operations: &[PartOperation<'_, Self>]) -> Vec<usize>
    where
        Self: Sized,
    {
        let _ = operations;
        Vec::new()
    }

    /// The operation as an access to a read/write register holding [`Value`]s and
    /// starting as [`Value::Nil`], with the name of the register (a key; `""` for a
    /// model with one register), or `None` when it is anything else (a
    /// compare-and-set, an append). When every operation of a part is a register
    /// access on one register and every written value is unique, the part is
    /// decided by [`crate::check::zones`] in O(n log n) instead of by the search.
    fn access<'a>(
        &self,
        input: &'a Self::Input,
        output: Option<&'a Self::Output>,
    ) -> Option<(&'a str, Access<'a>)> {
        let _ = (input, output);
        None
    }

    /// The operation as an access to an append-only string (a read returning
    /// the whole string, or an append), with the string's name (a key), or
    /// `None` for anything else (a put). When every operation of a part is such
    /// an access to one string, the part is decided by [`crate::check::chain`]
    /// when it applies.
    fn append_access<'a>(
        &self,
        input: &'a Self::Input,
        output: Option<&'a Self::Output>,
    ) -> Option<(&'a str, AppendAccess<'a>)> {
        let _ = (input, output);
        None
    }
}

/// What an operation does to a read/write register (see [`Model::access`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access<'a> {
    /// A read, with the value it returned (`None`: outcome unknown).
    Read(Option<&'a Value>),
    /// A write of this value.
    Write(&'a Value),
}

/// A partition by the operations' `key` (operations without a key form one part,
/// labelled by the empty key), in key order.
pub fn partition_by_key(operations: &[Operation]) -> Vec<(Option<String>, Vec<usize>)> {
    let mut parts: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (index, operation) in operations.iter().enumerate() {
        parts
            .entry(operation.key.as_deref().unwrap_or(""))
            .or_default()
            .push(index);
    }
    parts
        .into_iter()
        .map(|(key, indices)| (Some(key.to_string()), indices))
        .collect()
}
