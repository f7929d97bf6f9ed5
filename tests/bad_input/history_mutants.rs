//! Malformed and extreme history files: valid histories of every model
//! (`check::generate` for register, kv and kv-append; a small atomic object for
//! counter, set and lock) written as JSON lines, EDN or a Jepsen log, then
//! mutated: fields replaced by extreme or wrong values (huge process ids,
//! negative times, deep values), lines deleted, repeated or reordered
//! (unmatched invokes and completions), concurrent bursts of up to 100,000
//! operations, and the format-blind byte mutations.

use super::bytes;
use super::scenario_mutants::{clip, weighted};
use faultline::check::Format;
use faultline::check::generate::{self, KvAppendShape, Planted, RegisterShape};
use faultline::sim::history::{EventType, HistoryEvent, Value};
use rand::Rng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

/// What a mutation does, as counted in the campaign's table.
pub const KINDS: &[&str] = &[
    "field",
    "deep_value",
    "huge_ids",
    "delete_lines",
    "repeat_line",
    "reorder",
    "orphan",
    "burst",
    "whole_file",
    "truncate",
    "byte_flip",
    "byte_insert",
];

/// Relative weights of [`KINDS`]; a history may also go unmutated (the
/// valid baseline).
const WEIGHTS: &[u32] = &[12, 6, 4, 8, 6, 6, 6, 2, 1, 6, 6, 6];

/// A history mutant: its bytes, its format as written, and how it was made.
pub struct Mutant {
    /// The file's bytes.
    pub bytes: Vec<u8>,
    /// The format it was written in.
    pub format: Format,
    /// The model its base history was made for.
    pub model: &'static str,
    /// `(kind, what exactly)`.
    pub steps: Vec<(&'static str, String)>,
}

/// One field of a rendered event, as raw text of the format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Field {
    Process,
    Type,
    F,
    Key,
    Value,
    Time,
}

const FIELDS: [Field; 6] = [
    Field::Process,
    Field::Type,
    Field::F,
    Field::Key,
    Field::Value,
    Field::Time,
];

/// A mutant history drawn from `rng`.
pub fn mutant(rng: &mut ChaCha8Rng, scenario_text: &str) -> Mutant {
    let format = *Format::ALL.choose(rng).expect("formats");
    let (model, mut events) = base(rng);
    let count = match rng.gen_range(0..20) {
        0..=2 => 0,
        3..=12 => 1,
        13..=17 => 2,
        _ => 3,
    };
    let mut kinds: Vec<usize> = (0..count).map(|_| weighted(rng, WEIGHTS)).collect();
    let stage = |kind: usize| match KINDS[kind] {
        "burst" | "huge_ids" => 0,
        "field" | "deep_value" => 1,
        "truncate" | "byte_flip" | "byte_insert" | "whole_file" => 3,
        _ => 2,
    };
    kinds.sort_by_key(|&kind| stage(kind));
    let mut steps = Vec::new();
    // Event-level mutations, then rendering with field overrides, then line
    // mutations, then bytes.
    let mut overrides: Vec<(usize, Field, String)> = Vec::new();
    let mut lines: Option<Vec<String>> = None;
    let mut bytes: Option<Vec<u8>> = None;
    let mut timed = rng.gen_ratio(4, 5);
    for kind in kinds {
        let name = KINDS[kind];
        if stage(kind) >= 2 && lines.is_none() {
            lines = Some(render(format, &events, &overrides, timed, rng));
        }
        let detail = match name {
            "burst" => {
                let (detail, burst) = burst(rng);
                events = burst;
                timed = true;
                detail
            }
            "huge_ids" => {
                let shift = *[u64::MAX, 1 << 63, 1 << 53, 1 << 32]
                    .choose(rng)
                    .expect("shifts");
                for event in &mut events {
                    event.process = shift.wrapping_sub(event.process);
                }
                format!("processes counted down from {shift}")
            }
            "field" => {
                let line = rng.gen_range(0..events.len().max(1));
                let field = *FIELDS.choose(rng).expect("fields");
                let raw = extreme(rng, format, field);
                let detail = format!("line {} {field:?} = {}", line + 1, clip(&raw));
                overrides.push((line, field, raw));
                detail
            }
            "deep_value" => {
                let line = rng.gen_range(0..events.len().max(1));
                let raw = deep(rng, format);
                let detail = format!("line {} value {}", line + 1, clip(&raw));
                overrides.push((line, Field::Value, raw));
                detail
            }
            "delete_lines" => {
                let lines = lines.as_mut().expect("rendered");
                let mut deleted = Vec::new();
                for _ in 0..rng.gen_range(1..=3) {
                    if lines.is_empty() {
                        break;
                    }
                    let at = rng.gen_range(0..lines.len());
                    lines.remove(at);
                    deleted.push(at + 1);
                }
                format!("lines {deleted:?}")
            }
            "repeat_line" => {
                let lines = lines.as_mut().expect("rendered");
                if lines.is_empty() {
                    String::from("no line")
                } else {
                    let at = rng.gen_range(0..lines.len());
                    let copy = lines[at].clone();
                    let to = rng.gen_range(0..=lines.len());
                    lines.insert(to, copy);
                    format!("line {} again at {}", at + 1, to + 1)
                }
            }
            "reorder" => {
                let lines = lines.as_mut().expect("rendered");
                if rng.gen_bool(0.3) {
                    lines.reverse();
                    String::from("reversed")
                } else {
                    let len = lines.len();
                    let start = rng.gen_range(0..len.max(1));
                    let end = (start + rng.gen_range(2..10)).min(len);
                    lines[start..end].shuffle(rng);
                    format!("lines {}..{} shuffled", start + 1, end)
                }
            }
            "orphan" => {
                let lines = lines.as_mut().expect("rendered");
                let kind = *[
                    EventType::Ok,
                    EventType::Fail,
                    EventType::Info,
                    EventType::Invoke,
                ]
                .choose(rng)
                .expect("kinds");
                let event = HistoryEvent::new(999_999, kind, "read", None, Value::Nil, 0);
                let line = render(format, &[event], &[], true, rng)
                    .pop()
                    .unwrap_or_default();
                let at = rng.gen_range(0..=lines.len());
                lines.insert(at, line);
                format!("{} of process 999999 at line {}", kind.name(), at + 1)
            }
            _ => {
                let target = bytes.get_or_insert_with(|| {
                    let mut text = lines.as_ref().expect("rendered").join("\n");
                    text.push('\n');
                    text.into_bytes()
                });
                match name {
                    "whole_file" => *target = bytes::whole(rng, scenario_text),
                    "truncate" => bytes::truncate(rng, target),
                    "byte_flip" => bytes::flip(rng, target),
                    _ => bytes::insert(rng, target),
                }
                String::new()
            }
        };
        steps.push((name, detail));
    }
    let bytes = bytes.unwrap_or_else(|| {
        let lines = lines.unwrap_or_else(|| render(format, &events, &overrides, timed, rng));
        let mut text = lines.join("\n");
        text.push('\n');
        text.into_bytes()
    });
    Mutant {
        bytes,
        format,
        model,
        steps,
    }
}

/// A valid history of a random model (kv-append's keys and every key are
/// lost in a Jepsen log, which has none).
fn base(rng: &mut ChaCha8Rng) -> (&'static str, Vec<HistoryEvent>) {
    let clients = rng.gen_range(1..=6);
    let operations = rng.gen_range(1..=80);
    let seed = rng.r#gen();
    let planted = if rng.gen_ratio(1, 5) {
        Planted::Stale
    } else {
        Planted::None
    };
    match rng.gen_range(0..6) {
        0 | 1 => {
            let keyed = rng.gen_bool(0.5);
            let shape = RegisterShape {
                partition_share: if rng.gen_bool(0.3) { 0.3 } else { 0.0 },
                key: keyed.then(|| format!("k{}", rng.gen_range(0..3))),
                planted,
                ..RegisterShape::new(clients, operations, rng.gen_range(0.0..0.4), seed)
            };
            let model = if keyed { "kv" } else { "register" };
            (model, generate::register(&shape))
        }
        2 => {
            let shape = KvAppendShape {
                clients,
                operations,
                keys: rng.gen_range(1..=4),
                append_share: 0.5,
                info_share: rng.gen_range(0.0..0.3),
                planted,
                seed,
            };
            ("kv-append", generate::kv_append(&shape))
        }
        3 => ("counter", atomic(rng, clients, operations, Object::Counter)),
        4 => ("set", atomic(rng, clients, operations, Object::Set)),
        _ => ("lock", atomic(rng, clients, operations, Object::Lock)),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Object {
    Counter,
    Set,
    Lock,
}

/// A history of an atomic counter, set or lock: operations overlap, each takes
/// effect when it completes, so the history is linearizable (a few complete
/// `info` instead: unknown outcome; an acquire that may have taken the lock
/// leaves it taken for good).
fn atomic(
    rng: &mut ChaCha8Rng,
    clients: usize,
    operations: usize,
    object: Object,
) -> Vec<HistoryEvent> {
    /// The lock is held by an acquire of unknown outcome.
    const UNKNOWN: u64 = u64::MAX;
    let mut events = Vec::new();
    let mut open: Vec<Option<(&'static str, Value)>> = vec![None; clients];
    let mut counter: i64 = 0;
    let mut set: Vec<i64> = Vec::new();
    let mut holder: Option<u64> = None;
    let mut next_token = 1;
    let mut time = 0;
    let mut started = 0;
    let must_release = |holder: Option<u64>| holder.is_some_and(|holder| holder != UNKNOWN);
    while started < operations || open.iter().any(Option::is_some) || must_release(holder) {
        time += rng.gen_range(1..10);
        let process = rng.gen_range(0..clients);
        let id = process as u64;
        let Some((f, argument)) = open[process].take() else {
            let invocation = match object {
                Object::Lock if holder == Some(id) => Some(("release", Value::Int(next_token - 1))),
                _ if started >= operations => None,
                Object::Lock => Some(("acquire", Value::Nil)),
                Object::Counter if rng.gen_bool(0.5) => {
                    Some(("add", Value::Int(rng.gen_range(-3..10))))
                }
                Object::Set if rng.gen_bool(0.5) => Some(("add", Value::Int(rng.gen_range(0..20)))),
                Object::Counter | Object::Set => Some(("read", Value::Nil)),
            };
            if let Some((f, argument)) = invocation {
                if f != "release" {
                    started += 1;
                }
                events.push(HistoryEvent::new(
                    id,
                    EventType::Invoke,
                    f,
                    None,
                    argument.clone(),
                    time,
                ));
                open[process] = Some((f, argument));
            }
            continue;
        };
        let unknown = rng.gen_ratio(1, 10);
        let result = match (object, f) {
            (Object::Lock, "acquire")
                if holder.is_some() && holder != Some(UNKNOWN) && !unknown =>
            {
                // Held by another: keep waiting.
                open[process] = Some((f, argument));
                continue;
            }
            _ if unknown
                || (object == Object::Lock && holder == Some(UNKNOWN) && f == "acquire") =>
            {
                if object == Object::Lock && f == "acquire" && holder.is_none() {
                    holder = Some(UNKNOWN);
                }
                if object == Object::Lock && f == "release" {
                    holder = None;
                }
                None
            }
            (Object::Counter, "add") => {
                counter = counter.saturating_add(argument.as_int().unwrap_or(1));
                Some(argument.clone())
            }
            (Object::Counter, _) => Some(Value::Int(counter)),
            (Object::Set, "add") => {
                let element = argument.as_int().unwrap_or(0);
                if !set.contains(&element) {
                    set.push(element);
                }
                Some(argument.clone())
            }
            (Object::Set, _) => Some(Value::List(set.iter().copied().map(Value::Int).collect())),
            (Object::Lock, "acquire") => {
                holder = Some(id);
                next_token += 1;
                Some(Value::Int(next_token - 1))
            }
            (Object::Lock, _) => {
                holder = None;
                Some(argument.clone())
            }
        };
        let (kind, value) = match result {
            Some(value) => (EventType::Ok, value),
            None => (EventType::Info, Value::Nil),
        };
        events.push(HistoryEvent::new(id, kind, f, None, value, time));
    }
    events
}

/// `size` processes invoke at once and all complete at once: writes and reads
/// of one register, some timing out; the values written are distinct (a
/// shortcut decides them) or drawn from five (the search must, and its budget
/// runs out).
fn burst(rng: &mut ChaCha8Rng) -> (String, Vec<HistoryEvent>) {
    let size = match rng.gen_range(0..10) {
        0..=5 => 1_000,
        6..=8 => 10_000,
        _ => 100_000,
    };
    let distinct = rng.gen_bool(0.5);
    let value = |process: u64| {
        if distinct {
            process as i64
        } else {
            (process % 5) as i64
        }
    };
    let mut events = Vec::with_capacity(2 * size);
    for process in 0..size as u64 {
        let (f, argument) = if process % 4 == 3 {
            ("read", Value::Nil)
        } else {
            ("write", Value::Int(value(process)))
        };
        events.push(HistoryEvent::new(
            process,
            EventType::Invoke,
            f,
            None,
            argument,
            1,
        ));
    }
    for process in 0..size as u64 {
        let (f, result) = if process % 4 == 3 {
            ("read", Value::Int(value(process - 1)))
        } else {
            ("write", Value::Int(value(process)))
        };
        let kind = if process % 7 == 0 {
            EventType::Info
        } else {
            EventType::Ok
        };
        events.push(HistoryEvent::new(process, kind, f, None, result, 2));
    }
    let values = if distinct { "distinct" } else { "five" };
    (
        format!("{size} concurrent operations, {values} values"),
        events,
    )
}

/// An extreme or wrong raw value for `field` in `format`.
fn extreme(rng: &mut ChaCha8Rng, format: Format, field: Field) -> String {
    let choices: &[&str] = match (format, field) {
        (Format::Jsonl, Field::Process) => &[
            "18446744073709551615",
            "18446744073709551616",
            "-1",
            "1e30",
            "\"0\"",
            "null",
            "1.5",
            "-0",
        ],
        (Format::Jsonl, Field::Type) => &["\"invok\"", "1", "null", "\"OK\"", "\"\"", "[\"ok\"]"],
        (Format::Jsonl, Field::F) => &[
            "\"frobnicate\"",
            "\"\"",
            "5",
            "null",
            "\"\\u0000\"",
            "\"\\u202e\"",
        ],
        (Format::Jsonl, Field::Key) => &["null", "5", "\"\"", "[\"k\"]", "\"\\u202ek\""],
        (Format::Jsonl, Field::Value) => &[
            "{\"a\":1}",
            "1e400",
            "1.5",
            "-9223372036854775809",
            "9223372036854775807",
            "-9223372036854775808",
            "true",
            "\"\\ud800\"",
            "\"\\u0000\"",
        ],
        (Format::Jsonl, Field::Time) => &[
            "-1",
            "18446744073709551615",
            "18446744073709551616",
            "1.5",
            "\"5\"",
            "0",
            "null",
        ],
        (Format::Edn, Field::Process) => &[
            "-1",
            "99999999999999999999",
            "9223372036854775807",
            ":nemesis",
            "\"0\"",
            "1.5",
            "nil",
            "0N",
            "#{0}",
        ],
        (Format::Edn, Field::Type) => &[":bogus", "\"invoke\"", "nil", ":", "invoke", "#tag x"],
        (Format::Edn, Field::F) => &["5", ":frobnicate", "\"\"", "nil", "[]", ":\u{202e}"],
        (Format::Edn, Field::Key) => &[
            "nil",
            "5",
            "-9223372036854775808",
            "[\"k\"]",
            "{:a 1}",
            ":k",
        ],
        (Format::Edn, Field::Value) => &[
            "{:a 1}",
            "1.5",
            "1/2",
            "1M",
            "##Inf",
            "\\c",
            "#inst \"2020\"",
            "\"open",
            "#{1 2}",
            "-9223372036854775808",
            "9223372036854775808",
            ":timed-out",
            "true",
        ],
        (Format::Edn, Field::Time) => &[
            "-5",
            "1.5",
            "99999999999999999999",
            "9223372036854775807",
            "nil",
            "0",
        ],
        (Format::JepsenLog, Field::Process) => &[
            "-1",
            "99999999999999999999",
            ":nemesis",
            "\"0\"",
            "nil",
            "9223372036854775807",
        ],
        (Format::JepsenLog, Field::Type) => &[":bogus", "ok", "nil", ":"],
        (Format::JepsenLog, Field::F) => &["5", ":frobnicate", "nil", "[]"],
        (Format::JepsenLog, Field::Key) => &[":key", "extra tokens"],
        (Format::JepsenLog, Field::Value) => {
            &["{:a 1}", "1.5", "[1 2", ":timed-out", "nil nil", "\"open"]
        }
        (Format::JepsenLog, Field::Time) => &["", "\t\t"],
    };
    choices.choose(rng).expect("choices").to_string()
}

/// A value nested 2 to 100,000 levels deep, in the format's syntax.
fn deep(rng: &mut ChaCha8Rng, format: Format) -> String {
    let depth = match rng.gen_range(0..10) {
        0..=3 => rng.gen_range(2..=64),
        4..=5 => rng.gen_range(65..=130),
        6..=7 => 1_000,
        8 => 10_000,
        _ => 100_000,
    };
    match format {
        Format::Jsonl => match rng.gen_range(0..3) {
            0 => format!("{}1{}", "[".repeat(depth), "]".repeat(depth)),
            1 => format!("{}1{}", "{\"a\":".repeat(depth), "}".repeat(depth)),
            _ => format!("{}{}", "[".repeat(depth), "]".repeat(depth / 2)),
        },
        _ => match rng.gen_range(0..4) {
            0 => format!("{}1{}", "[".repeat(depth), "]".repeat(depth)),
            1 => format!("{}1{}", "(".repeat(depth), ")".repeat(depth)),
            2 => format!("{}1{}", "{:a ".repeat(depth), "}".repeat(depth)),
            _ => format!("{}nil", "[".repeat(depth)),
        },
    }
}

/// The events as lines of `format`, with `overrides` replacing fields of the
/// numbered events; EDN lines carry `:time` when `timed`; a Jepsen log gets
/// noise and a nemesis line now and then.
fn render(
    format: Format,
    events: &[HistoryEvent],
    overrides: &[(usize, Field, String)],
    timed: bool,
    rng: &mut ChaCha8Rng,
) -> Vec<String> {
    let mut lines = Vec::with_capacity(events.len() + 2);
    for (index, event) in events.iter().enumerate() {
        let raw = |field: Field, normal: String| {
            overrides
                .iter()
                .rev()
                .find(|(line, which, _)| *line == index && *which == field)
                .map_or(normal, |(_, _, raw)| raw.clone())
        };
        let line = match format {
            Format::Jsonl => {
                let mut line = format!(
                    "{{\"process\":{},\"type\":{},\"f\":{}",
                    raw(Field::Process, event.process.to_string()),
                    raw(Field::Type, format!("\"{}\"", event.kind.name())),
                    raw(Field::F, json(&event.f)),
                );
                let key = raw(
                    Field::Key,
                    event.key.as_deref().map(json).unwrap_or_default(),
                );
                if !key.is_empty() {
                    line.push_str(&format!(",\"key\":{key}"));
                }
                line.push_str(&format!(
                    ",\"value\":{},\"time\":{}}}",
                    raw(
                        Field::Value,
                        serde_json::to_string(&event.value).expect("values serialise")
                    ),
                    raw(Field::Time, event.time.to_string()),
                ));
                line
            }
            Format::Edn => {
                let mut line = format!(
                    "{{:process {}, :type {}, :f {}",
                    raw(Field::Process, event.process.to_string()),
                    raw(Field::Type, format!(":{}", event.kind.name())),
                    raw(Field::F, format!(":{}", event.f)),
                );
                let key = raw(
                    Field::Key,
                    event.key.as_deref().map(edn_string).unwrap_or_default(),
                );
                if !key.is_empty() {
                    line.push_str(&format!(", :key {key}"));
                }
                line.push_str(&format!(
                    ", :value {}",
                    raw(Field::Value, edn(&event.value))
                ));
                if timed {
                    line.push_str(&format!(
                        ", :time {}",
                        raw(Field::Time, event.time.to_string())
                    ));
                }
                line.push('}');
                line
            }
            Format::JepsenLog => {
                let mut line = format!(
                    "INFO  jepsen.util - {}\t{}\t{}\t{}",
                    raw(Field::Process, event.process.to_string()),
                    raw(Field::Type, format!(":{}", event.kind.name())),
                    raw(Field::F, format!(":{}", event.f)),
                    raw(Field::Value, edn(&event.value)),
                );
                let extra = raw(Field::Key, String::new()) + &raw(Field::Time, String::new());
                if !extra.is_empty() {
                    line.push('\t');
                    line.push_str(&extra);
                }
                line
            }
        };
        lines.push(line);
        if format == Format::JepsenLog && rng.gen_ratio(1, 30) {
            lines.push(if rng.gen_bool(0.5) {
                "INFO  jepsen.util - :nemesis\t:info\t:start\tnil".to_string()
            } else {
                "2017-01-01 00:00:00,000{main} INFO  jepsen.core - Run complete".to_string()
            });
        }
    }
    lines
}

fn json(text: &str) -> String {
    serde_json::to_string(text).expect("strings serialise")
}

fn edn_string(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

fn edn(value: &Value) -> String {
    match value {
        Value::Nil => "nil".to_string(),
        Value::Int(number) => number.to_string(),
        Value::Str(text) => edn_string(text),
        Value::List(items) => format!("[{}]", items.iter().map(edn).collect::<Vec<_>>().join(" ")),
    }
}
