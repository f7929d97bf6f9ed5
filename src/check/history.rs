//! Pairing history events into operations.
//!
//! A history is a sequence of events (see [`crate::sim::history`]). An `invoke`
//! opens an operation for its process; the next `ok`, `fail` or `info` event of the
//! same process closes it:
//!
//! - `ok`: the operation took effect somewhere between its invocation and its
//!   completion, and the completion's value is its result;
//! - `fail`: it certainly did not take effect, so it is left out of the check;
//! - `info`: the outcome is unknown; it may take effect at any time after the
//!   invocation, or never. Its return is at +infinity and the search may leave it
//!   out. An invocation still open at the end of the history is treated the same.
//!
//! A completion with no open invocation, or a second invocation while one is open, is
//! an error naming the line.

use crate::sim::history::{EventType, HistoryEvent, Value};
use std::collections::BTreeMap;
use std::fmt;

/// One operation of a history: an invocation and its outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Operation {
    /// Position among the history's checked operations (failed ones are dropped).
    pub index: usize,
    /// The client process.
    pub process: u64,
    /// The operation name (`read`, `write`, `append`, ...).
    pub f: String,
    /// The key, for multi-key models.
    pub key: Option<String>,
    /// The invocation's value (the argument).
    pub argument: Value,
    /// The completion's value (the result); `None` when the outcome is unknown.
    pub result: Option<Value>,
    /// Invocation time.
    pub call: u64,
    /// Completion time; `None` when the outcome is unknown (`info`, or never completed).
    pub ret: Option<u64>,
    /// Source line of the invocation (1-based).
    pub call_line: usize,
    /// Source line of the completion, if there was one.
    pub return_line: Option<usize>,
}

impl Operation {
    /// True when the outcome is unknown: the operation may or may not have taken effect.
    pub fn is_unknown(&self) -> bool {
        self.ret.is_none()
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.f)?;
        if let Some(key) = &self.key {
            write!(f, " {key:?}")?;
        }
        if self.argument != Value::Nil {
            write!(f, " {}", self.argument)?;
        }
        match &self.result {
            // A write echoing its argument says nothing new; a read of nil does.
            Some(result) if *result == self.argument && *result != Value::Nil => Ok(()),
            Some(result) => write!(f, " -> {result}"),
            None => write!(f, " -> ?"),
        }
    }
}

/// What a history's times count, which decides how a picture labels its time
/// axis ([`crate::check::svg::picture`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeUnit {
    /// Nanoseconds: faultline's own histories (virtual time), and EDN files with a
    /// `:time` on every line (Jepsen's, nanoseconds since the test started).
    Nanoseconds,
    /// The file's line numbers: Jepsen logs, and EDN files without `:time`.
    Line,
}

/// The operations of a history, ready to be checked.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct History {
    /// Operations in invocation order.
    pub operations: Vec<Operation>,
    /// Operations that completed with `fail` and were left out.
    pub failed: usize,
}

/// A pairing error: which line, and what was wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryError {
    /// The offending line (1-based).
    pub line: usize,
    /// What was expected.
    pub message: String,
}

impl fmt::Display for HistoryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for HistoryError {}

struct Open {
    event: HistoryEvent,
    line: usize,
}

impl History {
    /// Pair events given with their source line numbers.
    pub fn from_numbered_events<I>(events: I) -> Result<History, HistoryError>
    where
        I: IntoIterator<Item = (usize, HistoryEvent)>,
    {
        let mut open: BTreeMap<u64, Open> = BTreeMap::new();
        // Operations are numbered in invocation order; completed ones are stored
        // when they complete, so collect (invocation line, operation) and sort.
        let mut closed: Vec<Operation> = Vec::new();
        let mut failed = 0;
        for (line, event) in events {
            match event.kind {
                EventType::Invoke => {
                    if let Some(previous) = open.get(&event.process) {
                        return Err(HistoryError {
                            line,
                            message: format!(
                                "process {} invokes {} while its {} from line {} is still open \
                                 (expected an ok/fail/info completion first)",
                                event.process, event.f, previous.event.f, previous.line
                            ),
                        });
                    }
                    open.insert(event.process, Open { event, line });
                }
                kind => {
                    let Some(invocation) = open.remove(&event.process) else {
                        return Err(HistoryError {
                            line,
                            message: format!(
                                "process {} completes {} ({}) but has no open invocation \
                                 (expected an invoke first)",
                                event.process,
                                event.f,
                                kind.name()
                            ),
                        });
                    };
                    if event.f != invocation.event.f {
                        return Err(HistoryError {
                            line,
                            message: format!(
                                "process {} completes {} but invoked {} on line {}",
                                event.process, event.f, invocation.event.f, invocation.line
                            ),
                        });
                    }
                    if event.time < invocation.event.time {
                        return Err(HistoryError {
                            line,
                            message: format!(
                                "completion time {} is before the invocation time {} on line {}",
                                event.time, invocation.event.time, invocation.line
                            ),
                        });
                    }
                    match kind {
                        EventType::Fail => failed += 1,
                        EventType::Ok => closed.push(operation(invocation, Some((line, event)))),
                        _ => closed.push(operation(invocation, None)),
                    }
                }
            }
        }
        closed.extend(
            open.into_values()
                .map(|invocation| operation(invocation, None)),
        );
        closed.sort_by_key(|operation| (operation.call_line, operation.call));
        for (index, operation) in closed.iter_mut().enumerate() {
            operation.index = index;
        }
        Ok(History {
            operations: closed,
            failed,
        })
    }

    /// Pair events numbered by their position (line `n + 1` for the `n`-th event).
    pub fn from_events(events: &[HistoryEvent]) -> Result<History, HistoryError> {
        Self::from_numbered_events(
            events
                .iter()
                .enumerate()
                .map(|(index, event)| (index + 1, event.clone())),
        )
    }
}

fn operation(invocation: Open, completion: Option<(usize, HistoryEvent)>) -> Operation {
    let Open { event, line } = invocation;
    let (result, ret, return_line) = match completion {
        Some((return_line, completion)) => (
            Some(completion.value),
            Some(completion.time),
            Some(return_line),
        ),
        None => (None, None, None),
    };
    Operation {
        index: 0,
        process: event.process,
        f: event.f,
        key: event.key,
        argument: event.value,
        result,
        call: event.time,
        ret,
        call_line: line,
        return_line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(process: u64, kind: EventType, f: &str, value: Value, time: u64) -> HistoryEvent {
        HistoryEvent::new(process, kind, f, None, value, time)
    }

    #[test]
    fn ok_fail_and_info_completions_pair_with_their_invocations() {
        let events = vec![
            event(0, EventType::Invoke, "write", Value::Int(1), 1),
            event(1, EventType::Invoke, "read", Value::Nil, 2),
            event(2, EventType::Invoke, "cas", Value::Nil, 3),
            event(0, EventType::Ok, "write", Value::Int(1), 4),
            event(2, EventType::Fail, "cas", Value::Nil, 5),
            event(1, EventType::Info, "read", Value::Nil, 6),
            event(3, EventType::Invoke, "write", Value::Int(2), 7),
        ];
        let history = History::from_events(&events).unwrap();
        assert_eq!(history.failed, 1);
        assert_eq!(history.operations.len(), 3);
        let write = &history.operations[0];
        assert_eq!(
            (write.call, write.ret, write.result.clone()),
            (1, Some(4), Some(Value::Int(1)))
        );
        let read = &history.operations[1];
        assert!(read.is_unknown());
        assert_eq!(read.index, 1);
        let open_at_end = &history.operations[2];
        assert_eq!((open_at_end.call_line, open_at_end.ret), (7, None));
    }

    #[test]
    fn a_completion_without_an_invocation_names_its_line() {
        let events = vec![
            event(0, EventType::Invoke, "read", Value::Nil, 1),
            event(1, EventType::Ok, "read", Value::Nil, 2),
        ];
        let error = History::from_events(&events).unwrap_err();
        assert_eq!(error.line, 2);
        assert!(error.message.contains("no open invocation"), "{error}");
    }

    #[test]
    fn a_double_invocation_names_both_lines() {
        let events = vec![
            event(0, EventType::Invoke, "read", Value::Nil, 1),
            event(0, EventType::Invoke, "write", Value::Int(3), 2),
        ];
        let error = History::from_events(&events).unwrap_err();
        assert_eq!(error.line, 2);
        assert!(error.message.contains("line 1"), "{error}");
    }
}
