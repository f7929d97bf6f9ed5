//! Transactions and their micro-operations, and reading them from EDN history
//! files (one Jepsen op map per line, as Elle reads them).
//!
//! An invocation is paired with the next completion of its process (a process
//! may have several invocations outstanding: they pair first in, first out). An
//! invocation that never completes is an `info` transaction: it may or may not
//! have committed. Ops whose `:process` is not an integer (the nemesis) are
//! dropped. Bad input is an [`Error`] naming the line and what was expected.

use crate::check::edn::{Edn, Reader};
use std::collections::{BTreeMap, VecDeque};
use std::fmt;

/// Which kind of objects the transactions act on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workload {
    /// Lists: `[:append k v]` and `[:r k [v ...]]`.
    ListAppend,
    /// Registers: `[:w k v]` and `[:r k v]`.
    RwRegister,
}

impl Workload {
    /// The workload's name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Workload::ListAppend => "list-append",
            Workload::RwRegister => "rw-register",
        }
    }

    /// The workload of a name, if it is one.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "list-append" => Some(Workload::ListAppend),
            "rw-register" => Some(Workload::RwRegister),
            _ => None,
        }
    }
}

/// A key: an EDN keyword (`:x`) or an integer.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Key {
    /// An integer key.
    Int(i64),
    /// A keyword key, without its colon.
    Name(String),
}

impl fmt::Display for Key {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Key::Int(value) => write!(formatter, "{value}"),
            Key::Name(name) => write!(formatter, ":{name}"),
        }
    }
}

/// One micro-operation of a transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mop {
    /// Append the (unique) element `value` to the list `key`.
    Append {
        /// The list.
        key: Key,
        /// The element.
        value: i64,
    },
    /// Read the list `key`; `None` when the result is not known (an invocation,
    /// or a transaction whose outcome is unknown). An empty list is `Some([])`.
    Read {
        /// The list.
        key: Key,
        /// What was read.
        list: Option<Vec<i64>>,
    },
    /// Write `value` to the register `key`.
    Write {
        /// The register.
        key: Key,
        /// The value.
        value: i64,
    },
    /// Read the register `key`: `None` is the initial, never-written state.
    ReadRegister {
        /// The register.
        key: Key,
        /// What was read.
        value: Option<i64>,
    },
}

impl Mop {
    /// The key this micro-operation touches.
    pub fn key(&self) -> &Key {
        match self {
            Mop::Append { key, .. }
            | Mop::Read { key, .. }
            | Mop::Write { key, .. }
            | Mop::ReadRegister { key, .. } => key,
        }
    }
}

impl fmt::Display for Mop {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mop::Append { key, value } => write!(formatter, "[:append {key} {value}]"),
            Mop::Read { key, list: None } => write!(formatter, "[:r {key} nil]"),
            Mop::Read {
                key,
                list: Some(list),
            } => write!(formatter, "[:r {key} {}]", list_text(list)),
            Mop::Write { key, value } => write!(formatter, "[:w {key} {value}]"),
            Mop::ReadRegister { key, value } => {
                write!(formatter, "[:r {key} {}]", version_text(*value))
            }
        }
    }
}

/// `[1 2 3]`.
pub fn list_text(list: &[i64]) -> String {
    let items: Vec<String> = list.iter().map(i64::to_string).collect();
    format!("[{}]", items.join(" "))
}

/// A register value, `nil` for the initial state.
pub fn version_text(value: Option<i64>) -> String {
    value.map_or_else(|| "nil".to_string(), |value| value.to_string())
}

/// How a transaction ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    /// Committed.
    Ok,
    /// Did not take effect.
    Fail,
    /// Unknown: it may or may not have committed.
    Info,
}

/// One transaction: an invocation and its completion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Txn {
    /// The client process.
    pub process: i64,
    /// The invocation's `:index`.
    pub invoke_index: i64,
    /// The invocation's `:time`, if given.
    pub invoke_time: Option<i64>,
    /// The completion's `:index` (`None`: never completed).
    pub complete_index: Option<i64>,
    /// The completion's `:time`, if given.
    pub complete_time: Option<i64>,
    /// How it ended.
    pub outcome: Outcome,
    /// The micro-operations, with read results from the completion when it is `ok`.
    pub mops: Vec<Mop>,
    /// Position of the invocation among the file's analysed events (for real-time order).
    pub invoke_position: usize,
    /// Position of the completion among the file's analysed events.
    pub complete_position: Option<usize>,
}

impl Txn {
    /// The name used in explanations: `T` and the completion's index (the
    /// invocation's when it never completed), as Elle names ops by index.
    pub fn name(&self) -> String {
        format!("T{}", self.complete_index.unwrap_or(self.invoke_index))
    }
}

/// A history that could not be read: the line (1-based) and what was wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    /// 1-based line number.
    pub line: usize,
    /// What was expected and what was found.
    pub message: String,
}

impl fmt::Display for Error {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for Error {}

#[derive(Clone, Copy, PartialEq, Eq)]
enum EventType {
    Invoke,
    Ok,
    Fail,
    Info,
}

struct Event {
    line: usize,
    kind: EventType,
    process: i64,
    index: i64,
    time: Option<i64>,
    value: Edn,
}

fn keyword_of(value: &Edn) -> Option<&str> {
    match value {
        Edn::Keyword(name) => Some(name),
        _ => None,
    }
}

/// Read one op map; `None` for an op of a non-integer process.
fn event_of(line: usize, text: &str, position: usize) -> Result<Option<Event>, Error> {
    let error = |message: String| Error { line, message };
    let mut reader = Reader::new(text);
    let value = reader.value().map_err(error)?;
    if !reader.at_end() {
        return Err(error(format!(
            "expected one op map per line, found more after it: {:?}",
            reader.rest()
        )));
    }
    let Edn::Map(pairs) = value else {
        return Err(error(format!(
            "expected an op map like {{:type :invoke, :process 0, :value [...]}}, found {}",
            value.describe()
        )));
    };
    let field = |name: &str| {
        pairs
            .iter()
            .find(|(key, _)| keyword_of(key) == Some(name))
            .map(|(_, value)| value)
    };
    let process = match field("process") {
        Some(Edn::Int(process)) => *process,
        _ => return Ok(None),
    };
    let kind = match field("type") {
        Some(Edn::Keyword(name)) => match name.as_str() {
            "invoke" => EventType::Invoke,
            "ok" => EventType::Ok,
            "fail" => EventType::Fail,
            "info" => EventType::Info,
            other => {
                return Err(error(format!(
                    "expected :type :invoke, :ok, :fail or :info, found :{other}"
                )));
            }
        },
        Some(other) => {
            return Err(error(format!(
                "expected :type to be a keyword (:invoke, :ok, :fail, :info), found {}",
                other.describe()
            )));
        }
        None => return Err(error("expected a :type key".into())),
    };
    let index = match field("index") {
        Some(Edn::Int(index)) => *index,
        None => position as i64,
        Some(other) => {
            return Err(error(format!(
                "expected :index to be an integer, found {}",
                other.describe()
            )));
        }
    };
    let time = match field("time") {
        Some(Edn::Int(time)) => Some(*time),
        None | Some(Edn::Nil) => None,
        Some(other) => {
            return Err(error(format!(
                "expected :time to be an integer, found {}",
                other.describe()
            )));
        }
    };
    let value = field("value").cloned().unwrap_or(Edn::Nil);
    Ok(Some(Event {
        line,
        kind,
        process,
        index,
        time,
        value,
    }))
}

fn key_of(value: &Edn, line: usize) -> Result<Key, Error> {
    match value {
        Edn::Int(key) => Ok(Key::Int(*key)),
        Edn::Keyword(name) => Ok(Key::Name(name.clone())),
        other => Err(Error {
            line,
            message: format!(
                "expected a key (a keyword or an integer), found {}",
                other.describe()
            ),
        }),
    }
}

fn int_of(value: &Edn, line: usize, what: &str) -> Result<i64, Error> {
    match value {
        Edn::Int(value) => Ok(*value),
        other => Err(Error {
            line,
            message: format!("expected {what} (an integer), found {}", other.describe()),
        }),
    }
}

/// The micro-operations of a `:value`; `reads_known` says whether read results
/// are real (an `ok` completion) or placeholders.
fn mops_of(
    value: &Edn,
    workload: Workload,
    line: usize,
    reads_known: bool,
) -> Result<Vec<Mop>, Error> {
    let error = |message: String| Error { line, message };
    let Edn::Vector(items) = value else {
        return Err(error(format!(
            "expected :value to be a vector of micro-ops like [[:r :x nil]], found {}",
            value.describe()
        )));
    };
    let mut mops = Vec::with_capacity(items.len());
    for item in items {
        let Edn::Vector(parts) = item else {
            return Err(error(format!(
                "expected a micro-op like [:append :x 1], found {}",
                item.describe()
            )));
        };
        let function = parts.first().and_then(keyword_of);
        let expected = match workload {
            Workload::ListAppend => "[:append k v] or [:r k list]",
            Workload::RwRegister => "[:w k v] or [:r k v]",
        };
        let (Some(function), 2 | 3) = (function, parts.len()) else {
            return Err(error(format!(
                "expected a micro-op {expected}, found a vector of {} items",
                parts.len()
            )));
        };
        let key = key_of(&parts[1], line)?;
        let argument = parts.get(2).unwrap_or(&Edn::Nil);
        let mop = match (workload, function) {
            (Workload::ListAppend, "append") => Mop::Append {
                key,
                value: int_of(argument, line, "an appended element")?,
            },
            (Workload::ListAppend, "r") => {
                let list = match argument {
                    Edn::Nil => Vec::new(),
                    Edn::Vector(elements) => elements
                        .iter()
                        .map(|element| int_of(element, line, "a list element"))
                        .collect::<Result<_, _>>()?,
                    other => {
                        return Err(error(format!(
                            "expected a read list (a vector or nil), found {}",
                            other.describe()
                        )));
                    }
                };
                Mop::Read {
                    key,
                    list: reads_known.then_some(list),
                }
            }
            (Workload::RwRegister, "w") => Mop::Write {
                key,
                value: int_of(argument, line, "a written value")?,
            },
            (Workload::RwRegister, "r") => Mop::ReadRegister {
                key,
                value: match argument {
                    Edn::Nil => None,
                    other => Some(int_of(other, line, "a read value (or nil)")?),
                },
            },
            (_, other) => {
                return Err(error(format!(
                    "expected a micro-op {expected} for the {} workload, found :{other}",
                    workload.name()
                )));
            }
        };
        mops.push(mop);
    }
    Ok(mops)
}

/// Read a history of EDN op maps into transactions, in invocation order.
pub fn parse_history(text: &str, workload: Workload) -> Result<Vec<Txn>, Error> {
    let mut txns: Vec<Txn> = Vec::new();
    // Per process, the transactions invoked and not yet completed, oldest first.
    let mut pending: BTreeMap<i64, VecDeque<(usize, usize)>> = BTreeMap::new();
    let mut position = 0;
    for (number, line) in text.lines().enumerate() {
        let line_number = number + 1;
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with(';') {
            continue;
        }
        let Some(event) = event_of(line_number, trimmed, position)? else {
            continue;
        };
        let event_position = position;
        position += 1;
        match event.kind {
            EventType::Invoke => {
                let mops = mops_of(&event.value, workload, event.line, false)?;
                pending
                    .entry(event.process)
                    .or_default()
                    .push_back((txns.len(), event.line));
                txns.push(Txn {
                    process: event.process,
                    invoke_index: event.index,
                    invoke_time: event.time,
                    complete_index: None,
                    complete_time: None,
                    outcome: Outcome::Info,
                    mops,
                    invoke_position: event_position,
                    complete_position: None,
                });
            }
            kind => {
                let Some((slot, _)) = pending
                    .get_mut(&event.process)
                    .and_then(VecDeque::pop_front)
                else {
                    return Err(Error {
                        line: event.line,
                        message: format!(
                            "expected an :invoke of process {} before this completion",
                            event.process
                        ),
                    });
                };
                let outcome = match kind {
                    EventType::Ok => Outcome::Ok,
                    EventType::Fail => Outcome::Fail,
                    _ => Outcome::Info,
                };
                let txn = &mut txns[slot];
                if outcome == Outcome::Ok || !matches!(event.value, Edn::Nil) {
                    let mops = mops_of(&event.value, workload, event.line, outcome == Outcome::Ok)?;
                    txn.mops = mops;
                }
                txn.outcome = outcome;
                txn.complete_index = Some(event.index);
                txn.complete_time = event.time;
                txn.complete_position = Some(event_position);
            }
        }
    }
    Ok(txns)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_invocation_pairs_with_the_next_completion_of_its_process() {
        let text = "{:index 0, :type :invoke, :process 0, :value [[:append :x 1] [:r :y nil]]}\n\
                    {:index 1, :type :invoke, :process :nemesis, :f :kill, :value nil}\n\
                    {:index 2, :type :ok, :process 0, :value [[:append :x 1] [:r :y [1 2]]]}\n\
                    {:index 3, :type :invoke, :process 1, :value [[:r 7 nil]]}\n";
        let txns = parse_history(text, Workload::ListAppend).unwrap();
        assert_eq!(txns.len(), 2);
        assert_eq!(txns[0].outcome, Outcome::Ok);
        assert_eq!(txns[0].complete_index, Some(2));
        assert_eq!(
            txns[0].mops[1],
            Mop::Read {
                key: Key::Name("y".into()),
                list: Some(vec![1, 2])
            }
        );
        assert_eq!(txns[1].outcome, Outcome::Info);
        assert_eq!(
            txns[1].mops[0],
            Mop::Read {
                key: Key::Int(7),
                list: None
            }
        );
    }

    #[test]
    fn malformed_lines_are_errors_naming_the_line() {
        let cases = [
            "{:type :invoke, :process 0, :value [[:append :x 1]]\n",
            "{:type :invoke, :process 0, :value [[:frob :x 1]]}\n",
            "{:type :ok, :process 0, :value [[:append :x 1]]}\n",
            "{:type :invoke, :process 0, :value [[:append :x \"a\"]]}\n",
        ];
        for text in cases {
            let text = format!("; comment\n{text}");
            let error = parse_history(&text, Workload::ListAppend).unwrap_err();
            assert_eq!(error.line, 2, "{text}: {error}");
            assert!(error.to_string().contains("expected"), "{error}");
        }
    }
}
