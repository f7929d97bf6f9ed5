//! The client-boundary history: what clients asked for and what they were told.
//!
//! Clients are simulated processes. Each operation they start is recorded as an
//! `invoke` event and each answer as an `ok`, `fail` (did not take effect) or `info`
//! (outcome unknown: it may take effect at any time after the invocation, or never).
//! The shape follows Jepsen's histories (`process`, `type`, `f`, `key`, `value`), so
//! histories recorded by faultline, by Jepsen, and by hand all load into the same
//! checker. Times are the simulator's true (global) virtual time in nanoseconds,
//! never a node's skewed local clock: linearizability is judged by a real-time
//! observer.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A small dynamically typed value carried by history events.
///
/// Serialises to plain JSON: `null`, a number, a string, or an array.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    /// Absent / nothing (`nil` in Jepsen, `null` in JSON).
    #[default]
    Nil,
    /// An integer.
    Int(i64),
    /// A string.
    Str(String),
    /// A list of values (e.g. `[from, to]` for a compare-and-set).
    List(Vec<Value>),
}

impl Value {
    /// The integer inside, if this is an `Int`.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(value) => Some(*value),
            _ => None,
        }
    }

    /// The string inside, if this is a `Str`.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(value) => Some(value),
            _ => None,
        }
    }

    /// The list inside, if this is a `List`.
    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(values) => Some(values),
            _ => None,
        }
    }

    /// The heap memory the value holds beyond its own size, in bytes.
    pub fn heap_bytes(&self) -> usize {
        match self {
            Value::Nil | Value::Int(_) => 0,
            Value::Str(text) => text.capacity(),
            Value::List(values) => {
                values.capacity() * std::mem::size_of::<Value>()
                    + values.iter().map(Value::heap_bytes).sum::<usize>()
            }
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Nil => write!(f, "nil"),
            Value::Int(value) => write!(f, "{value}"),
            Value::Str(value) => write!(f, "{value:?}"),
            Value::List(values) => {
                write!(f, "[")?;
                for (index, value) in values.iter().enumerate() {
                    if index > 0 {
                        write!(f, " ")?;
                    }
                    write!(f, "{value}")?;
                }
                write!(f, "]")
            }
        }
    }
}

/// The four kinds of history event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventType {
    /// The client started the operation.
    Invoke,
    /// The operation completed and took effect; `value` is its result.
    Ok,
    /// The operation completed and certainly did not take effect.
    Fail,
    /// The outcome is unknown (timeout, crash): it may take effect later, or never.
    Info,
}

impl EventType {
    /// The lowercase name used in JSON lines and Jepsen logs.
    pub fn name(self) -> &'static str {
        match self {
            EventType::Invoke => "invoke",
            EventType::Ok => "ok",
            EventType::Fail => "fail",
            EventType::Info => "info",
        }
    }
}

/// One line of a history: an invocation or a completion.
///
/// A completion closes the open invocation of the same `process`. `key` is present
/// for multi-key models (a KV map) and absent for single-object models.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct HistoryEvent {
    /// The client process (faultline: the client's index among clients).
    pub process: u64,
    /// invoke / ok / fail / info.
    #[serde(rename = "type")]
    pub kind: EventType,
    /// The operation name: `read`, `write`, `cas`, `get`, `put`, `append`, ...
    pub f: String,
    /// The key, for models over many independent objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The argument (on invoke) or the result (on ok).
    #[serde(default)]
    pub value: Value,
    /// True virtual time in nanoseconds.
    #[serde(default)]
    pub time: u64,
}

impl HistoryEvent {
    /// Shorthand for building an event.
    pub fn new(
        process: u64,
        kind: EventType,
        f: &str,
        key: Option<&str>,
        value: Value,
        time: u64,
    ) -> Self {
        HistoryEvent {
            process,
            kind,
            f: f.to_string(),
            key: key.map(str::to_string),
            value,
            time,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_event_round_trips_through_json() {
        let event = HistoryEvent::new(
            3,
            EventType::Ok,
            "cas",
            Some("k1"),
            Value::List(vec![Value::Int(1), Value::Str("x".into()), Value::Nil]),
            42,
        );
        let line = serde_json::to_string(&event).unwrap();
        assert_eq!(
            line,
            r#"{"process":3,"type":"ok","f":"cas","key":"k1","value":[1,"x",null],"time":42}"#
        );
        let back: HistoryEvent = serde_json::from_str(&line).unwrap();
        assert_eq!(back, event);
    }

    #[test]
    fn missing_key_and_value_default_to_absent() {
        let event: HistoryEvent =
            serde_json::from_str(r#"{"process":0,"type":"invoke","f":"read"}"#).unwrap();
        assert_eq!(event.key, None);
        assert_eq!(event.value, Value::Nil);
    }
}
