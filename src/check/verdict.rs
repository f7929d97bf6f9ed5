//! What a check concludes, what it may spend, and how a "no" explains itself.

use std::fmt;

/// The outcome of a check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Some order of the operations, consistent with real time, satisfies the model
    /// (every `ok` operation included; `info` operations included or not).
    Linearizable,
    /// No such order exists; the explanation shows where the search got stuck.
    NotLinearizable(Box<Explanation>),
    /// The budget ran out before an answer (the reason says which bound).
    Unknown(String),
}

impl Verdict {
    /// `linearizable`, `not linearizable` or `unknown`.
    pub fn word(&self) -> &'static str {
        match self {
            Verdict::Linearizable => "linearizable",
            Verdict::NotLinearizable(_) => "not linearizable",
            Verdict::Unknown(_) => "unknown",
        }
    }

    /// True for [`Verdict::Linearizable`].
    pub fn is_linearizable(&self) -> bool {
        matches!(self, Verdict::Linearizable)
    }
}

/// How much a check may spend. The checker never reads a clock itself: a caller
/// wanting a deadline passes a `should_stop` callback (polled every few thousand
/// steps) that reads one.
#[derive(Clone, Copy)]
pub struct Budget<'a> {
    /// The most (linearized set, state) pairs one part may explore.
    pub max_states: u64,
    /// The most memory one part's search may hold, in bytes: its memo and state
    /// tables and the heap data of the model states it keeps (as the model reports
    /// it, [`crate::check::Model::state_bytes`]).
    pub max_memory_bytes: u64,
    /// Asked now and then; `true` ends the check with [`Verdict::Unknown`].
    pub should_stop: Option<&'a (dyn Fn() -> bool + Sync)>,
    /// How the caller's user raises each limit, for the message when one is hit.
    pub knobs: Knobs,
}

/// The names of the settings that raise a [`Budget`]'s limits where it was set
/// (a command-line flag, a checker method), quoted when a limit is hit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Knobs {
    /// What raises [`Budget::max_states`].
    pub states: &'static str,
    /// What raises [`Budget::max_memory_bytes`].
    pub memory: &'static str,
}

impl Knobs {
    /// `check-history`'s flags.
    pub const COMMAND_LINE: Knobs = Knobs {
        states: "--max-states",
        memory: "--max-memory-mb",
    };
}

impl Budget<'_> {
    /// The default state cap.
    pub const DEFAULT_MAX_STATES: u64 = 20_000_000;
    /// The default memory cap: 2 GiB.
    pub const DEFAULT_MAX_MEMORY_BYTES: u64 = 2 << 30;

    /// A state cap, the default memory cap, no stop callback and the command
    /// line's knobs.
    pub fn states(max_states: u64) -> Budget<'static> {
        Budget {
            max_states,
            max_memory_bytes: Self::DEFAULT_MAX_MEMORY_BYTES,
            should_stop: None,
            knobs: Knobs::COMMAND_LINE,
        }
    }

    /// The same budget with another memory cap.
    pub fn memory(self, max_memory_bytes: u64) -> Self {
        Budget {
            max_memory_bytes,
            ..self
        }
    }

    /// The same budget naming other knobs.
    pub fn knobs(self, knobs: Knobs) -> Self {
        Budget { knobs, ..self }
    }

    /// The same budget with another state cap.
    pub fn with_states(self, max_states: u64) -> Self {
        Budget { max_states, ..self }
    }

    /// The same budget with a stop callback.
    pub fn with_stop<'b>(self, should_stop: &'b (dyn Fn() -> bool + Sync)) -> Budget<'b> {
        Budget {
            max_states: self.max_states,
            max_memory_bytes: self.max_memory_bytes,
            should_stop: Some(should_stop),
            knobs: self.knobs,
        }
    }
}

impl Default for Budget<'_> {
    fn default() -> Self {
        Budget::states(Self::DEFAULT_MAX_STATES)
    }
}

impl fmt::Debug for Budget<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Budget")
            .field("max_states", &self.max_states)
            .field("max_memory_bytes", &self.max_memory_bytes)
            .field("should_stop", &self.should_stop.is_some())
            .field("knobs", &self.knobs)
            .finish()
    }
}

/// One operation as shown in an explanation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExplainedOperation {
    /// Index among the history's checked operations.
    pub index: usize,
    /// The client process.
    pub process: u64,
    /// Invocation time.
    pub call: u64,
    /// Completion time (`None`: unknown outcome).
    pub ret: Option<u64>,
    /// Source line of the invocation.
    pub call_line: usize,
    /// Source line of the completion.
    pub return_line: Option<usize>,
    /// The model's description of the operation.
    pub description: String,
}

/// Why an operation could not be placed next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The model refuses it in the state reached.
    Invalid,
    /// The model accepts it, but every continuation from there fails.
    DeadEnd,
}

/// Where and why the search for a linearization failed.
///
/// The search keeps the longest sequence of operations it managed to linearize.
/// From there, some operation had already returned (it had to take effect before
/// its completion) but no pending operation could be placed next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Explanation {
    /// The model's name.
    pub model: String,
    /// Which independent part failed (e.g. the key), if the history was split.
    pub part: Option<String>,
    /// The operations of the failing part, in invocation order.
    pub operations: Vec<ExplainedOperation>,
    /// The longest linearizable prefix found: positions in `operations`, in order.
    pub prefix: Vec<usize>,
    /// The model state after the prefix.
    pub state: String,
    /// The operation that returned before it could be placed (position in `operations`).
    pub culprit: usize,
    /// Every operation that could have been placed next, and why it was not.
    pub candidates: Vec<(usize, Refusal)>,
    /// The reason in one sentence, when the check that found it can state one
    /// (the unique-value register check does).
    pub reason: Option<String>,
    /// Unknown-outcome operations of the part left out because nothing observed
    /// their effect (they are not in `operations`).
    pub unobserved: usize,
}
