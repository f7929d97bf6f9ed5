//! Reading history files: Jepsen logs, EDN maps (one per line) and faultline's own
//! JSON lines, into numbered [`HistoryEvent`]s and then a [`History`].
//!
//! - `jsonl`: one [`HistoryEvent`] per line, as `faultline run` writes `history.jsonl`.
//! - `edn`: one map per line, `{:process 0, :type :invoke, :f :get, :key "0", :value nil}`;
//!   `:time` is used when every line has one, otherwise the line number is the time.
//! - `jepsen-log`: only lines containing `jepsen.util -` matter, as
//!   `<process> <type> <f> <value>`; the line number is the time. A `:fail` whose
//!   value is `:timed-out` has an unknown outcome: for a read that is the same as
//!   no read at all (it is dropped); anything else becomes `info`.
//!
//! Nemesis lines (a keyword instead of a process number) are skipped. Errors carry
//! the line number and what was expected.

use super::edn::{Edn, Reader};
use super::history::{History, HistoryError, TimeUnit};
use crate::sim::history::{EventType, HistoryEvent, Value};
use std::fmt;

/// A history file format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Jepsen's `jepsen.util` log lines.
    JepsenLog,
    /// One EDN map per line.
    Edn,
    /// One JSON event per line (faultline's `history.jsonl`).
    Jsonl,
}

impl Format {
    /// Every format, in the order `--format` lists them.
    pub const ALL: [Format; 3] = [Format::JepsenLog, Format::Edn, Format::Jsonl];

    /// The name `--format` accepts.
    pub fn name(self) -> &'static str {
        match self {
            Format::JepsenLog => "jepsen-log",
            Format::Edn => "edn",
            Format::Jsonl => "jsonl",
        }
    }

    /// The format called `name`.
    pub fn from_name(name: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|format| format.name() == name)
    }

    /// Guess the format from the first meaningful line, then from the file name.
    pub fn detect(text: &str, file_name: Option<&str>) -> Option<Format> {
        for line in text.lines().map(str::trim).filter(|line| !line.is_empty()) {
            if line.contains("jepsen.util") {
                return Some(Format::JepsenLog);
            }
            if let Some(rest) = line.strip_prefix('{') {
                match rest.trim_start().as_bytes().first() {
                    Some(b'"') => return Some(Format::Jsonl),
                    Some(b':') => return Some(Format::Edn),
                    _ => {}
                }
            }
            if line.starts_with(';') {
                continue;
            }
            break;
        }
        let extension = file_name?.rsplit_once('.')?.1.to_ascii_lowercase();
        match extension.as_str() {
            "jsonl" | "json" => Some(Format::Jsonl),
            "edn" => Some(Format::Edn),
            "log" => Some(Format::JepsenLog),
            _ => None,
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Parse the events of a history file, each with its line number.
pub fn parse_events(
    text: &str,
    format: Format,
) -> Result<Vec<(usize, HistoryEvent)>, HistoryError> {
    parse_events_timed(text, format).map(|(events, _)| events)
}

fn parse_events_timed(
    text: &str,
    format: Format,
) -> Result<(Vec<(usize, HistoryEvent)>, TimeUnit), HistoryError> {
    match format {
        Format::Jsonl => Ok((parse_jsonl(text)?, TimeUnit::Nanoseconds)),
        Format::Edn => parse_edn(text),
        Format::JepsenLog => Ok((parse_jepsen_log(text)?, TimeUnit::Line)),
    }
}

/// Parse a history file and pair its events into operations.
pub fn parse_history(text: &str, format: Format) -> Result<History, HistoryError> {
    parse_timed(text, format).map(|(history, _)| history)
}

/// [`parse_history`], and what the history's times count (line numbers unless
/// the file gave times).
pub fn parse_timed(text: &str, format: Format) -> Result<(History, TimeUnit), HistoryError> {
    let (events, unit) = parse_events_timed(text, format)?;
    Ok((History::from_numbered_events(events)?, unit))
}

fn error(line: usize, message: impl Into<String>) -> HistoryError {
    HistoryError {
        line,
        message: message.into(),
    }
}

fn parse_jsonl(text: &str) -> Result<Vec<(usize, HistoryEvent)>, HistoryError> {
    let mut events = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let event: HistoryEvent = serde_json::from_str(line).map_err(|cause| {
            error(
                index + 1,
                format!(
                    "expected a JSON history event like \
                     {{\"process\":0,\"type\":\"invoke\",\"f\":\"read\",\"value\":null,\"time\":0}}: {}",
                    json_cause(&cause)
                ),
            )
        })?;
        events.push((index + 1, event));
    }
    Ok(events)
}

/// serde_json's message with its position as a column of the file's line
/// (it parses one line at a time, so its own "line 1" would mislead).
fn json_cause(cause: &serde_json::Error) -> String {
    let text = cause.to_string();
    let position = format!(" at line {} column {}", cause.line(), cause.column());
    match text.strip_suffix(&position) {
        Some(message) => format!("{message} (column {})", cause.column()),
        None => text,
    }
}

fn event_type(edn: &Edn) -> Result<EventType, String> {
    match edn {
        Edn::Keyword(name) => match name.as_str() {
            "invoke" => Ok(EventType::Invoke),
            "ok" => Ok(EventType::Ok),
            "fail" => Ok(EventType::Fail),
            "info" => Ok(EventType::Info),
            _ => Err(format!(
                "expected :invoke, :ok, :fail or :info as the type, found :{name}"
            )),
        },
        other => Err(format!(
            "expected :invoke, :ok, :fail or :info as the type, found {}",
            other.describe()
        )),
    }
}

fn operation_name(edn: &Edn) -> Result<String, String> {
    match edn {
        Edn::Keyword(name) | Edn::Str(name) => Ok(name.clone()),
        other => Err(format!(
            "expected a keyword such as :read as the operation, found {}",
            other.describe()
        )),
    }
}

/// The process number, or `None` for a nemesis (or other named) process.
fn process_number(edn: &Edn) -> Result<Option<u64>, String> {
    match edn {
        Edn::Int(number) if *number >= 0 => Ok(Some(*number as u64)),
        Edn::Keyword(_) => Ok(None),
        other => Err(format!(
            "expected a process number, found {}",
            other.describe()
        )),
    }
}

/// Apply the `:timed-out` convention; `None` drops the event's operation entirely.
fn timed_out_kind(kind: EventType, f: &str, value: &Edn) -> EventType {
    if kind == EventType::Fail && *value == Edn::Keyword("timed-out".into()) && f != "read" {
        EventType::Info
    } else {
        kind
    }
}

fn completion_value(kind: EventType, value: &Edn) -> Result<Value, String> {
    if kind != EventType::Invoke && *value == Edn::Keyword("timed-out".into()) {
        return Ok(Value::Nil);
    }
    value.to_value()
}

fn parse_edn(text: &str) -> Result<(Vec<(usize, HistoryEvent)>, TimeUnit), HistoryError> {
    let mut events = Vec::new();
    let mut all_timed = true;
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        let mut reader = Reader::new(line);
        if reader.at_end() {
            continue;
        }
        let map = reader.value().map_err(|message| error(number, message))?;
        if !reader.at_end() {
            return Err(error(
                number,
                format!("expected one map per line, found more: {:?}", reader.rest()),
            ));
        }
        let Edn::Map(pairs) = map else {
            return Err(error(
                number,
                format!(
                    "expected a map {{:process .. :type .. :f ..}}, found {}",
                    map.describe()
                ),
            ));
        };
        let field = |name: &str| {
            pairs
                .iter()
                .find(|(key, _)| matches!(key, Edn::Keyword(key) if key == name))
                .map(|(_, value)| value)
        };
        let required = |name: &str| {
            field(name).ok_or_else(|| error(number, format!("expected a :{name} entry in the map")))
        };
        let Some(process) =
            process_number(required("process")?).map_err(|message| error(number, message))?
        else {
            continue;
        };
        let kind = event_type(required("type")?).map_err(|message| error(number, message))?;
        let f = operation_name(required("f")?).map_err(|message| error(number, message))?;
        let key = match field("key") {
            None | Some(Edn::Nil) => None,
            Some(Edn::Str(key)) | Some(Edn::Keyword(key)) => Some(key.clone()),
            Some(Edn::Int(key)) => Some(key.to_string()),
            Some(other) => {
                return Err(error(
                    number,
                    format!(
                        "expected a string or integer key, found {}",
                        other.describe()
                    ),
                ));
            }
        };
        let raw_value = field("value").unwrap_or(&Edn::Nil);
        let kind = timed_out_kind(kind, &f, raw_value);
        let value = completion_value(kind, raw_value).map_err(|message| error(number, message))?;
        let time = match field("time") {
            Some(Edn::Int(time)) if *time >= 0 => *time as u64,
            Some(other) => {
                return Err(error(
                    number,
                    format!(
                        "expected a non-negative integer :time, found {}",
                        other.describe()
                    ),
                ));
            }
            None => {
                all_timed = false;
                0
            }
        };
        events.push((
            number,
            HistoryEvent {
                process,
                kind,
                f,
                key,
                value,
                time,
            },
        ));
    }
    if !all_timed {
        for (number, event) in &mut events {
            event.time = *number as u64;
        }
        return Ok((events, TimeUnit::Line));
    }
    Ok((events, TimeUnit::Nanoseconds))
}

fn parse_jepsen_log(text: &str) -> Result<Vec<(usize, HistoryEvent)>, HistoryError> {
    const MARKER: &str = "jepsen.util -";
    let mut events = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        let Some(at) = line.find(MARKER) else {
            continue;
        };
        let mut reader = Reader::new(&line[at + MARKER.len()..]);
        let mut next = |what: &str| {
            reader.value().map_err(|message| {
                error(
                    number,
                    format!("expected {what} after 'jepsen.util -': {message}"),
                )
            })
        };
        let Some(process) =
            process_number(&next("a process number")?).map_err(|message| error(number, message))?
        else {
            continue;
        };
        let kind = event_type(&next("a type (:invoke, :ok, :fail or :info)")?)
            .map_err(|message| error(number, message))?;
        let f = operation_name(&next("an operation (:read, :write, :cas, ...)")?)
            .map_err(|message| error(number, message))?;
        let raw_value = if reader.at_end() {
            Edn::Nil
        } else {
            reader.value().map_err(|message| error(number, message))?
        };
        if !reader.at_end() {
            return Err(error(
                number,
                format!(
                    "expected the line to end after the value, found {:?}",
                    reader.rest()
                ),
            ));
        }
        let kind = timed_out_kind(kind, &f, &raw_value);
        let value = completion_value(kind, &raw_value).map_err(|message| error(number, message))?;
        events.push((
            number,
            HistoryEvent {
                process,
                kind,
                f,
                key: None,
                value,
                time: number as u64,
            },
        ));
    }
    Ok(events)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_detected_from_content_before_the_extension() {
        assert_eq!(
            Format::detect("INFO  jepsen.util - 0\t:invoke\t:read\tnil\n", None),
            Some(Format::JepsenLog)
        );
        assert_eq!(
            Format::detect("\n{:process 0, :type :invoke}\n", Some("x.txt")),
            Some(Format::Edn)
        );
        assert_eq!(
            Format::detect("{\"process\":0}\n", Some("x.edn")),
            Some(Format::Jsonl)
        );
        assert_eq!(Format::detect("", Some("h.JSONL")), Some(Format::Jsonl));
        assert_eq!(Format::detect("garbage", Some("h.txt")), None);
    }

    #[test]
    fn a_jepsen_log_reads_timeouts_as_unknown_or_dropped() {
        let text = "noise\n\
            INFO  jepsen.util - 0\t:invoke\t:read\tnil\n\
            INFO  jepsen.util - 0\t:fail\t:read\t:timed-out\n\
            INFO  jepsen.util - 1   :invoke :cas [1 2]\n\
            INFO  jepsen.util - 1   :info   :cas :timed-out\n\
            INFO  jepsen.util - :nemesis :info :start nil\n";
        let events = parse_events(text, Format::JepsenLog).unwrap();
        assert_eq!(events.len(), 4);
        assert_eq!(events[1].1.kind, EventType::Fail);
        assert_eq!(
            events[2].1.value,
            Value::List(vec![Value::Int(1), Value::Int(2)])
        );
        assert_eq!(events[3].1.kind, EventType::Info);
        let history = parse_history(text, Format::JepsenLog).unwrap();
        assert_eq!((history.operations.len(), history.failed), (1, 1));
    }

    #[test]
    fn an_edn_line_without_a_type_names_the_line_and_the_key() {
        let text =
            "{:process 0, :type :invoke, :f :get, :key \"0\", :value nil}\n{:process 0, :f :get}\n";
        let failure = parse_events(text, Format::Edn).unwrap_err();
        assert_eq!(failure.line, 2);
        assert!(failure.message.contains(":type"), "{failure}");
    }

    #[test]
    fn edn_events_use_line_numbers_as_times_unless_every_line_has_one() {
        let text = "{:process 0, :type :invoke, :f :get, :key \"0\", :value nil}\n\n\
            {:process 0, :type :ok, :f :get, :key 0, :value \"\"}\n";
        let events = parse_events(text, Format::Edn).unwrap();
        assert_eq!((events[0].1.time, events[1].1.time), (1, 3));
        assert_eq!(events[1].1.key.as_deref(), Some("0"));
    }

    #[test]
    fn a_history_says_whether_its_times_are_nanoseconds_or_line_numbers() {
        let unit = |text: &str, format| parse_timed(text, format).unwrap().1;
        let timed = "{:process 0, :type :invoke, :f :read, :value nil, :time 5000}\n\
            {:process 0, :type :ok, :f :read, :value nil, :time 9000}\n";
        assert_eq!(unit(timed, Format::Edn), TimeUnit::Nanoseconds);
        let untimed = timed.replace(", :time 9000", "");
        assert_eq!(unit(&untimed, Format::Edn), TimeUnit::Line);
        let log = "INFO jepsen.util - 0 :invoke :read nil\nINFO jepsen.util - 0 :ok :read nil\n";
        assert_eq!(unit(log, Format::JepsenLog), TimeUnit::Line);
        let jsonl =
            "{\"process\":0,\"type\":\"invoke\",\"f\":\"read\",\"value\":null,\"time\":3}\n";
        assert_eq!(unit(jsonl, Format::Jsonl), TimeUnit::Nanoseconds);
    }

    #[test]
    fn a_bad_json_line_says_what_was_expected() {
        let failure = parse_events(
            "{\"process\":0,\"type\":\"invoke\",\"f\":\"read\"}\n{oops\n",
            Format::Jsonl,
        )
        .unwrap_err();
        assert_eq!(failure.line, 2);
        assert!(
            failure.message.contains("expected a JSON history event"),
            "{failure}"
        );
        // The column is the file line's, not serde_json's "line 1".
        assert!(failure.message.ends_with("(column 2)"), "{failure}");
        assert!(!failure.message.contains("line 1"), "{failure}");
    }
}
