//! History checking: deciding whether what clients observed is allowed.
//!
//! Two kinds of judge live here: [`Checker`]s, observers of a running world that
//! report *always* / *eventually* violations (see [`checker`]), and the history
//! checkers below, which judge a finished client history.
//!
//! The heart is a linearizability checker. A history is *linearizable* when every
//! operation that completed `ok` can be given a single instant between its
//! invocation and its completion such that, taken in that order, the operations
//! obey a sequential specification (a [`Model`]). Operations whose outcome is
//! unknown (`info`) may be placed anywhere after their invocation or left out;
//! `fail`ed operations did not happen and are dropped.
//!
//! # Pieces
//!
//! - [`history`]: pairing [`crate::sim::history::HistoryEvent`]s into
//!   [`Operation`]s (errors name the line);
//! - [`parse`]: reading Jepsen logs, EDN and JSON-lines files;
//! - [`model`]: the [`Model`] trait — `init`, `step`, optional `partition`, `convert`
//!   and `describe_*` — and [`models`]: `register`, `kv`, `kv-append`, `counter`,
//!   `set`, `lock`;
//! - [`linearizable`]: the search (Wing–Gong/Lowe with memoisation, as in Porcupine);
//! - [`prepared`]: a history bound to a model and split into independent parts
//!   (P-compositionality), checked part by part;
//! - [`Verdict`]: `Linearizable`, `NotLinearizable(Explanation)` or `Unknown(reason)`
//!   when the [`Budget`] runs out; an [`Explanation`] prints as text and renders as
//!   SVG ([`svg::render`]).
//!
//! Determinism: nothing here reads a clock, the environment or a random source, or
//! starts a thread; lookup tables are never iterated. A caller wanting a deadline
//! passes a stop callback in the [`Budget`]; a caller wanting parallelism checks the
//! parts of a [`PreparedCheck`] on its own threads and folds them with
//! [`prepared::combine`], which is order-independent.
//!
//! # Example
//!
//! ```
//! use faultline::check::{self, Budget, Verdict};
//! use faultline::sim::history::{EventType::*, HistoryEvent, Value};
//!
//! // Process 0 writes 1; process 1 then reads nil: the write had already completed.
//! let events = [
//!     HistoryEvent::new(0, Invoke, "write", None, Value::Int(1), 10),
//!     HistoryEvent::new(0, Ok, "write", None, Value::Int(1), 20),
//!     HistoryEvent::new(1, Invoke, "read", None, Value::Nil, 30),
//!     HistoryEvent::new(1, Ok, "read", None, Value::Nil, 40),
//! ];
//! let verdict = check::check_events(check::models::Register, &events, &Budget::default()).unwrap();
//! let Verdict::NotLinearizable(explanation) = verdict else { panic!("stale read") };
//! assert_eq!(explanation.prefix.len(), 1); // the write could be placed, the read not
//! println!("{explanation}");
//! let picture = check::svg::render(&explanation, check::TimeUnit::Nanoseconds);
//! assert!(picture.starts_with("<svg"));
//!
//! // Had the read overlapped the write, either order would do.
//! let overlapping = [
//!     HistoryEvent::new(0, Invoke, "write", None, Value::Int(1), 10),
//!     HistoryEvent::new(1, Invoke, "read", None, Value::Nil, 15),
//!     HistoryEvent::new(0, Ok, "write", None, Value::Int(1), 20),
//!     HistoryEvent::new(1, Ok, "read", None, Value::Nil, 40),
//! ];
//! let verdict = check::check_events(check::models::Register, &overlapping, &Budget::default()).unwrap();
//! assert_eq!(verdict, Verdict::Linearizable);
//!
//! // Models can also be chosen by name, e.g. for files (see `parse`).
//! let history = check::History::from_events(&overlapping).unwrap();
//! let prepared = check::models::prepare("register", history, true).unwrap();
//! assert!(check::prepared::check_sequentially(prepared.as_ref(), &Budget::default()).is_linearizable());
//! ```

pub mod chain;
pub mod checker;
pub mod edn;
pub mod explain;
pub mod generate;
pub mod hash;
pub mod heal;
pub mod history;
pub mod in_run;
pub mod isolation;
pub mod linearizable;
pub mod model;
pub mod models;
pub mod parse;
pub mod prepared;
pub mod svg;
pub mod table;
pub mod verdict;
pub mod views;
pub mod zones;

pub use checker::{Checker, Finding, Property, Violation};
pub use history::{History, HistoryError, Operation, TimeUnit};
pub use in_run::Linearizability;
pub use model::{Access, Model, Step};
pub use parse::Format;
pub use prepared::{Prepared, PreparedCheck};
pub use verdict::{Budget, ExplainedOperation, Explanation, Knobs, Refusal, Verdict};

use crate::sim::history::HistoryEvent;

/// Check a history of events against a model, part by part on this thread.
pub fn check_events<M: Model>(
    model: M,
    events: &[HistoryEvent],
    budget: &Budget<'_>,
) -> Result<Verdict, HistoryError> {
    let history = History::from_events(events)?;
    let prepared = Prepared::new(model, history, true)?;
    Ok(prepared::check_sequentially(&prepared, budget))
}
