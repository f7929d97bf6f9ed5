//! Reading a lab script: each step is re-read from its own text (the file's, or
//! its value re-serialised when the file is not at hand) into a table of
//! optional keys, then checked against what its action takes.

use super::{Action, Builtin, Check, LabError, Step, TargetRef, Victim};
use crate::sim::fault::is_label_name;
use crate::sim::time::Duration;
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::ops::Range;
use toml::Spanned;

/// A target as written: one or a list.
#[derive(Clone, Debug)]
struct RawTargets(Vec<TargetRef>);

fn target_from_str<E: de::Error>(text: &str) -> Result<TargetRef, E> {
    if text == "all" {
        return Ok(TargetRef::All);
    }
    let Some(label) = text.strip_prefix('@') else {
        return Err(E::custom(format!(
            "unknown target \"{text}\"; expected a node id, \"@label\", \"@label+k\" or \"all\""
        )));
    };
    let (name, offset) = match label.split_once('+') {
        Some((name, offset)) => {
            let offset = offset.parse::<usize>().map_err(|_| {
                E::custom(format!(
                    "expected \"@label+k\" with k a whole number, got \"{text}\""
                ))
            })?;
            (name, offset)
        }
        None => (label, 0),
    };
    if !is_label_name(name) {
        return Err(E::custom(format!(
            "label \"{name}\" may use only lowercase letters a-z, digits 0-9 and '_'"
        )));
    }
    Ok(TargetRef::Label {
        name: name.to_string(),
        offset,
    })
}

impl<'de> Deserialize<'de> for RawTargets {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TargetsVisitor;
        impl<'de> Visitor<'de> for TargetsVisitor {
            type Value = RawTargets;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(
                    f,
                    "a node id, \"@label\", \"@label+k\", \"all\", or a list of node ids and labels"
                )
            }
            fn visit_i64<E: de::Error>(self, id: i64) -> Result<RawTargets, E> {
                usize::try_from(id)
                    .map(|id| RawTargets(vec![TargetRef::Node(id)]))
                    .map_err(|_| E::custom(format!("expected a node id (>= 0), got {id}")))
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<RawTargets, E> {
                target_from_str(text).map(|target| RawTargets(vec![target]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawTargets, A::Error> {
                let mut targets = Vec::new();
                while let Some(one) = seq.next_element::<RawTargets>()? {
                    targets.extend(one.0);
                }
                if targets.is_empty() {
                    return Err(de::Error::custom(
                        "expected at least one target in the list",
                    ));
                }
                Ok(RawTargets(targets))
            }
        }
        deserializer.deserialize_any(TargetsVisitor)
    }
}

/// An index as written: `4`, or `[2, 3]` for a range.
#[derive(Clone, Debug)]
struct RawIndex(u64, u64);

impl<'de> Deserialize<'de> for RawIndex {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            One(i64),
            Two(Vec<i64>),
        }
        let expected = "a command index (1 is the first command) or a range [low, high]";
        let raw = Raw::deserialize(deserializer)
            .map_err(|_| de::Error::custom(format!("expected {expected}")))?;
        let (low, high) = match raw {
            Raw::One(index) => (index, index),
            Raw::Two(pair) if pair.len() == 2 => (pair[0], pair[1]),
            Raw::Two(list) => {
                return Err(de::Error::custom(format!(
                    "expected {expected}, got a list of {} items",
                    list.len()
                )));
            }
        };
        if low < 1 || high < low {
            return Err(de::Error::custom(format!(
                "expected {expected} with 1 <= low <= high, got {low}..{high}"
            )));
        }
        Ok(RawIndex(low as u64, high as u64))
    }
}

/// One step as written. Every key is optional here; which are allowed and
/// required depends on the action.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    check: Option<Spanned<String>>,
    one: Option<Spanned<i64>>,
    one_bytes: Option<Spanned<u64>>,
    start: Option<Spanned<i64>>,
    wait: Option<Spanned<u64>>,
    sleep: Option<Spanned<Duration>>,
    disconnect: Option<Spanned<RawTargets>>,
    connect: Option<Spanned<RawTargets>>,
    crash: Option<Spanned<RawTargets>>,
    restart: Option<Spanned<RawTargets>>,
    unreliable: Option<Spanned<bool>>,
    long_reordering: Option<Spanned<bool>>,
    counters: Option<Spanned<String>>,
    run: Option<Spanned<String>>,
    servers: Option<Spanned<u64>>,
    retry: Option<Spanned<bool>>,
    index: Option<Spanned<RawIndex>>,
    count: Option<Spanned<u64>>,
    to: Option<Spanned<RawTargets>>,
    label: Option<Spanned<String>>,
    min: Option<Spanned<u64>>,
    max: Option<Spanned<u64>>,
    per_payload_byte: Option<Spanned<u64>>,
    iterations: Option<Spanned<u64>>,
    tries: Option<Spanned<u64>>,
    concurrent: Option<Spanned<u64>>,
    clients: Option<Spanned<u64>>,
    long_reordering_at: Option<Spanned<u64>>,
    victim: Option<Spanned<String>>,
    persisted_below: Option<Spanned<u64>>,
}

/// The action keys, in the order errors list them.
pub const ACTIONS: [&str; 14] = [
    "check",
    "one",
    "one_bytes",
    "start",
    "wait",
    "sleep",
    "disconnect",
    "connect",
    "crash",
    "restart",
    "unreliable",
    "long_reordering",
    "counters",
    "run",
];

/// The checks, with (required, optional) modifiers.
pub const CHECKS: [(&str, &[&str], &[&str]); 6] = [
    ("one_leader", &[], &["label"]),
    ("no_leader", &[], &[]),
    ("terms_agree", &[], &["min"]),
    ("not_committed", &["index"], &[]),
    ("rpcs", &[], &["min", "max"]),
    ("bytes", &["per_payload_byte", "max"], &[]),
];

/// The built-in loops, with (required, optional) modifiers.
pub const BUILTINS: [(&str, &[&str], &[&str]); 10] = [
    ("many_elections", &[], &["iterations"]),
    ("concurrent_starts", &[], &["tries", "concurrent"]),
    ("count_agreements", &[], &["tries", "count", "max"]),
    ("backup", &[], &["count"]),
    ("figure8", &[], &["iterations"]),
    (
        "figure8_unreliable",
        &[],
        &["iterations", "long_reordering_at"],
    ),
    ("unreliable_agree", &[], &["iterations", "concurrent"]),
    ("churn", &[], &["iterations", "clients"]),
    ("snapshots", &["victim"], &["iterations", "persisted_below"]),
    ("snapshot_all_crash", &[], &["iterations"]),
];

impl RawStep {
    /// Every key present, with its span in the step's text, in written order.
    fn present(&self) -> Vec<(&'static str, Range<usize>)> {
        let mut keys = Vec::new();
        macro_rules! add {
            ($($field:ident),*) => {
                $(if let Some(value) = &self.$field {
                    keys.push((stringify!($field), value.span()));
                })*
            };
        }
        add!(
            check,
            one,
            one_bytes,
            start,
            wait,
            sleep,
            disconnect,
            connect,
            crash,
            restart,
            unreliable,
            long_reordering,
            counters,
            run,
            servers,
            retry,
            index,
            count,
            to,
            label,
            min,
            max,
            per_payload_byte,
            iterations,
            tries,
            concurrent,
            clients,
            long_reordering_at,
            victim,
            persisted_below
        );
        keys.sort_by_key(|(_, span)| span.start);
        keys
    }
}

/// What the parser knows about the cluster and the file.
pub struct Context<'a> {
    /// Nodes in the cluster.
    pub nodes: usize,
    /// The scenario text, when at hand (errors then point into it); steps are
    /// otherwise re-read from their values.
    pub text: Option<&'a str>,
}

/// The largest count, iteration number or size a step may ask for: the course
/// tests use at most a few thousand, and a bound keeps an absurd script a
/// scenario error rather than a run that never ends.
pub const COUNT_MAX: u64 = 1_000_000;

/// Reads and checks every step.
pub fn parse(steps: &[Spanned<toml::Value>], context: &Context<'_>) -> Result<Vec<Step>, LabError> {
    let mut labels: Vec<String> = Vec::new();
    let mut parsed = Vec::with_capacity(steps.len());
    for (position, spanned) in steps.iter().enumerate() {
        let reader = StepReader::new(position, spanned, context)?;
        let step = reader.read(&mut labels)?;
        parsed.push(step);
    }
    Ok(parsed)
}

/// Reads one step from its own text.
struct StepReader {
    position: usize,
    nodes: usize,
    /// `step = { ... }`, or the re-serialised value.
    text: String,
    /// Offset of `text[PREFIX.len()]` in the file, when reading from the file.
    file_offset: Option<usize>,
    raw: Option<RawStep>,
}

const PREFIX: &str = "step = ";

#[derive(Deserialize, Serialize)]
struct Wrapped<T> {
    step: T,
}

impl StepReader {
    fn new(
        position: usize,
        spanned: &Spanned<toml::Value>,
        context: &Context<'_>,
    ) -> Result<StepReader, LabError> {
        let span = spanned.span();
        let (text, file_offset) = match context.text {
            Some(file) if span.end <= file.len() && span.start < span.end => {
                (format!("{PREFIX}{}", &file[span.clone()]), Some(span.start))
            }
            _ => {
                let wrapped = Wrapped {
                    step: spanned.get_ref().clone(),
                };
                let text = toml::to_string(&wrapped).map_err(|error| LabError {
                    offset: span.start,
                    key: format!("protocol.lab[{position}]"),
                    message: format!("cannot read the step: {error}"),
                })?;
                (text, None)
            }
        };
        let mut reader = StepReader {
            position,
            nodes: context.nodes,
            text,
            file_offset,
            raw: None,
        };
        if !spanned.get_ref().is_table() {
            return Err(reader.error(
                PREFIX.len(),
                None,
                "expected a step: an inline table such as { check = \"one_leader\" }",
            ));
        }
        match toml::from_str::<Wrapped<RawStep>>(&reader.text) {
            Ok(wrapped) => reader.raw = Some(wrapped.step),
            Err(error) => {
                let at = error.span().map_or(PREFIX.len(), |span| span.start);
                let key = key_at(&reader.text, at);
                return Err(reader.error(at, key.as_deref(), error.message().trim()));
            }
        }
        Ok(reader)
    }

    /// An error at `at` (an offset in `self.text`) about `key`.
    fn error(&self, at: usize, key: Option<&str>, message: impl Into<String>) -> LabError {
        let offset = match self.file_offset {
            Some(start) => start + at.saturating_sub(PREFIX.len()),
            None => 0,
        };
        let mut path = format!("protocol.lab[{}]", self.position);
        if let Some(key) = key {
            path.push('.');
            path.push_str(key);
        }
        LabError {
            offset,
            key: path,
            message: message.into(),
        }
    }

    fn read(mut self, labels: &mut Vec<String>) -> Result<Step, LabError> {
        let raw = self.raw.take().expect("read once");
        let present = raw.present();
        let actions: Vec<&(&str, Range<usize>)> = present
            .iter()
            .filter(|(key, _)| ACTIONS.contains(key))
            .collect();
        let (verb, verb_span) = match actions.as_slice() {
            [] => {
                return Err(self.error(
                    PREFIX.len(),
                    None,
                    format!("a step needs one action key: {}", ACTIONS.join(", ")),
                ));
            }
            [one] => (*one).clone(),
            [first, second, ..] => {
                return Err(self.error(
                    second.1.start,
                    Some(second.0),
                    format!(
                        "a step does one thing: it has both '{}' and '{}'",
                        first.0, second.0
                    ),
                ));
            }
        };
        // Which modifiers the action takes.
        let (what, required, optional): (String, &[&str], &[&str]) = match verb {
            "check" => {
                let name = raw.check.as_ref().expect("present").get_ref().as_str();
                let Some((_, required, optional)) = CHECKS.iter().find(|(n, ..)| *n == name) else {
                    let names: Vec<&str> = CHECKS.iter().map(|(name, ..)| *name).collect();
                    return Err(self.error(
                        verb_span.start,
                        Some("check"),
                        format!(
                            "unknown check \"{name}\"; expected one of: {}",
                            names.join(", ")
                        ),
                    ));
                };
                (format!("check = \"{name}\""), required, optional)
            }
            "run" => {
                let name = raw.run.as_ref().expect("present").get_ref().as_str();
                let Some((_, required, optional)) = BUILTINS.iter().find(|(n, ..)| *n == name)
                else {
                    let names: Vec<&str> = BUILTINS.iter().map(|(name, ..)| *name).collect();
                    return Err(self.error(
                        verb_span.start,
                        Some("run"),
                        format!(
                            "unknown loop \"{name}\"; expected one of: {}",
                            names.join(", ")
                        ),
                    ));
                };
                (format!("run = \"{name}\""), required, optional)
            }
            "one" | "one_bytes" => (
                format!("'{verb}'"),
                &["servers", "retry"][..],
                &["index", "count"][..],
            ),
            "start" => ("'start'".to_string(), &["to"][..], &["index", "count"][..]),
            "wait" => ("'wait'".to_string(), &["servers"][..], &[][..]),
            _ => (format!("'{verb}'"), &[][..], &[][..]),
        };
        for (key, span) in &present {
            if *key == verb {
                continue;
            }
            if !required.contains(key) && !optional.contains(key) {
                let takes: Vec<&str> = required.iter().chain(optional).copied().collect();
                let takes = if takes.is_empty() {
                    "no other keys".to_string()
                } else {
                    takes.join(", ")
                };
                return Err(self.error(
                    span.start,
                    Some(key),
                    format!("'{key}' does not apply to a {what} step (it takes: {takes})"),
                ));
            }
        }
        for key in required {
            if !present.iter().any(|(name, _)| name == key) {
                return Err(self.error(
                    verb_span.start,
                    Some(key),
                    format!("a {what} step needs the key '{key}'"),
                ));
            }
        }
        let action = self.action(&raw, verb, labels)?;
        Ok(Step {
            position: self.position,
            action,
        })
    }

    fn servers(&self, raw: &RawStep) -> Result<usize, LabError> {
        let servers = raw.servers.as_ref().expect("required");
        let value = *servers.get_ref();
        if value == 0 || value as usize > self.nodes {
            return Err(self.error(
                servers.span().start,
                Some("servers"),
                format!(
                    "expected between 1 and {} servers (the cluster size), got {value}",
                    self.nodes
                ),
            ));
        }
        Ok(value as usize)
    }

    fn positive(
        &self,
        value: &Option<Spanned<u64>>,
        key: &str,
        default: u64,
    ) -> Result<u64, LabError> {
        match value {
            None => Ok(default),
            Some(value) if !(1..=COUNT_MAX).contains(value.get_ref()) => Err(self.error(
                value.span().start,
                Some(key),
                format!(
                    "expected '{key}' in 1..={COUNT_MAX}, got {}",
                    value.get_ref()
                ),
            )),
            Some(value) => Ok(*value.get_ref()),
        }
    }

    fn single_index(&self, raw: &RawStep) -> Result<Option<u64>, LabError> {
        match &raw.index {
            None => Ok(None),
            Some(index) => {
                let RawIndex(low, high) = *index.get_ref();
                if low != high {
                    return Err(self.error(
                        index.span().start,
                        Some("index"),
                        "expected one command index here, not a range",
                    ));
                }
                Ok(Some(low))
            }
        }
    }

    fn targets(
        &self,
        targets: &Spanned<RawTargets>,
        key: &str,
        labels: &[String],
    ) -> Result<Vec<TargetRef>, LabError> {
        for target in &targets.get_ref().0 {
            match target {
                TargetRef::Node(id) if *id >= self.nodes => {
                    return Err(self.error(
                        targets.span().start,
                        Some(key),
                        format!(
                            "node {id} does not exist (the cluster has nodes 0..={})",
                            self.nodes - 1
                        ),
                    ));
                }
                TargetRef::Label { name, .. } if !labels.contains(name) => {
                    return Err(self.error(
                        targets.span().start,
                        Some(key),
                        format!(
                            "no earlier step sets the label \"{name}\" (set it with {{ check = \"one_leader\", label = \"{name}\" }})"
                        ),
                    ));
                }
                _ => {}
            }
        }
        Ok(targets.get_ref().0.clone())
    }

    fn action(
        &self,
        raw: &RawStep,
        verb: &str,
        labels: &mut Vec<String>,
    ) -> Result<Action, LabError> {
        Ok(match verb {
            "check" => Action::Check(self.check(raw, labels)?),
            "one" => Action::One {
                value: *raw.one.as_ref().expect("present").get_ref(),
                servers: self.servers(raw)?,
                retry: *raw.retry.as_ref().expect("required").get_ref(),
                index: self.single_index(raw)?,
                count: self.positive(&raw.count, "count", 1)?,
            },
            "one_bytes" => {
                let bytes = raw.one_bytes.as_ref().expect("present");
                if *bytes.get_ref() == 0 || *bytes.get_ref() > 1_000_000 {
                    return Err(self.error(
                        bytes.span().start,
                        Some("one_bytes"),
                        format!(
                            "expected a payload of 1..=1000000 bytes, got {}",
                            bytes.get_ref()
                        ),
                    ));
                }
                Action::OneBytes {
                    bytes: *bytes.get_ref() as usize,
                    servers: self.servers(raw)?,
                    retry: *raw.retry.as_ref().expect("required").get_ref(),
                    index: self.single_index(raw)?,
                    count: self.positive(&raw.count, "count", 1)?,
                }
            }
            "start" => Action::Start {
                value: *raw.start.as_ref().expect("present").get_ref(),
                to: self.targets(raw.to.as_ref().expect("required"), "to", labels)?,
                index: raw.index.as_ref().map(|index| {
                    let RawIndex(low, high) = *index.get_ref();
                    (low, high)
                }),
                count: self.positive(&raw.count, "count", 1)?,
            },
            "wait" => {
                let index = raw.wait.as_ref().expect("present");
                if *index.get_ref() == 0 {
                    return Err(self.error(
                        index.span().start,
                        Some("wait"),
                        "expected a command index (1 is the first command), got 0",
                    ));
                }
                Action::Wait {
                    index: *index.get_ref(),
                    servers: self.servers(raw)?,
                }
            }
            "sleep" => {
                let sleep = raw.sleep.as_ref().expect("present");
                if sleep.get_ref().0 == 0 {
                    return Err(self.error(
                        sleep.span().start,
                        Some("sleep"),
                        "expected a positive duration, got 0",
                    ));
                }
                Action::Sleep(*sleep.get_ref())
            }
            "disconnect" => Action::Disconnect(self.targets(
                raw.disconnect.as_ref().expect("present"),
                "disconnect",
                labels,
            )?),
            "connect" => Action::Connect(self.targets(
                raw.connect.as_ref().expect("present"),
                "connect",
                labels,
            )?),
            "crash" => Action::Crash(self.targets(
                raw.crash.as_ref().expect("present"),
                "crash",
                labels,
            )?),
            "restart" => Action::Restart(self.targets(
                raw.restart.as_ref().expect("present"),
                "restart",
                labels,
            )?),
            "unreliable" => {
                Action::Unreliable(*raw.unreliable.as_ref().expect("present").get_ref())
            }
            "long_reordering" => {
                Action::LongReordering(*raw.long_reordering.as_ref().expect("present").get_ref())
            }
            "counters" => {
                let counters = raw.counters.as_ref().expect("present");
                if counters.get_ref() != "reset" {
                    return Err(self.error(
                        counters.span().start,
                        Some("counters"),
                        format!(
                            "expected counters = \"reset\", got \"{}\"",
                            counters.get_ref()
                        ),
                    ));
                }
                Action::ResetCounters
            }
            "run" => Action::Run(self.builtin(raw)?),
            other => unreachable!("action {other} is listed in ACTIONS"),
        })
    }

    fn check(&self, raw: &RawStep, labels: &mut Vec<String>) -> Result<Check, LabError> {
        let value = |field: &Option<Spanned<u64>>| field.as_ref().map(|value| *value.get_ref());
        Ok(
            match raw.check.as_ref().expect("present").get_ref().as_str() {
                "one_leader" => {
                    let label = match &raw.label {
                        None => None,
                        Some(label) => {
                            let name = label.get_ref();
                            if !is_label_name(name) {
                                return Err(self.error(
                                label.span().start,
                                Some("label"),
                                format!(
                                    "label \"{name}\" may use only lowercase letters a-z, digits 0-9 and '_'"
                                ),
                            ));
                            }
                            if !labels.contains(name) {
                                labels.push(name.clone());
                            }
                            Some(name.clone())
                        }
                    };
                    Check::OneLeader { label }
                }
                "no_leader" => Check::NoLeader,
                "terms_agree" => Check::TermsAgree {
                    min: value(&raw.min),
                },
                "not_committed" => Check::NotCommitted {
                    index: self.single_index(raw)?.expect("required"),
                },
                "rpcs" => {
                    let (min, max) = (value(&raw.min), value(&raw.max));
                    if min.is_none() && max.is_none() {
                        let at = raw.check.as_ref().expect("present").span().start;
                        return Err(self.error(
                            at,
                            Some("max"),
                            "a check = \"rpcs\" step needs 'min', 'max' or both",
                        ));
                    }
                    if let (Some(low), Some(high)) = (min, max)
                        && low > high
                    {
                        let at = raw.min.as_ref().expect("given").span().start;
                        return Err(self.error(
                            at,
                            Some("min"),
                            format!("min {low} is above max {high}"),
                        ));
                    }
                    Check::Rpcs { min, max }
                }
                "bytes" => Check::Bytes {
                    per_payload_byte: value(&raw.per_payload_byte).expect("required"),
                    max: value(&raw.max).expect("required"),
                },
                other => unreachable!("check {other} is listed in CHECKS"),
            },
        )
    }

    fn builtin(&self, raw: &RawStep) -> Result<Builtin, LabError> {
        Ok(
            match raw.run.as_ref().expect("present").get_ref().as_str() {
                "many_elections" => Builtin::ManyElections {
                    iterations: self.positive(&raw.iterations, "iterations", 9)?,
                },
                "concurrent_starts" => Builtin::ConcurrentStarts {
                    tries: self.positive(&raw.tries, "tries", 5)?,
                    concurrent: self.positive(&raw.concurrent, "concurrent", 5)?,
                },
                "count_agreements" => Builtin::CountAgreements {
                    tries: self.positive(&raw.tries, "tries", 5)?,
                    count: self.positive(&raw.count, "count", 10)?,
                    max: self.positive(&raw.max, "max", 42)?,
                },
                "backup" => Builtin::Backup {
                    count: self.positive(&raw.count, "count", 50)?,
                },
                "figure8" => Builtin::Figure8 {
                    iterations: self.positive(&raw.iterations, "iterations", 1000)?,
                },
                "figure8_unreliable" => Builtin::Figure8Unreliable {
                    iterations: self.positive(&raw.iterations, "iterations", 1000)?,
                    long_reordering_at: raw
                        .long_reordering_at
                        .as_ref()
                        .map_or(200, |at| *at.get_ref()),
                },
                "unreliable_agree" => Builtin::UnreliableAgree {
                    iterations: self.positive(&raw.iterations, "iterations", 49)?,
                    concurrent: self.positive(&raw.concurrent, "concurrent", 4)?,
                },
                "churn" => Builtin::Churn {
                    iterations: self.positive(&raw.iterations, "iterations", 20)?,
                    clients: self.positive(&raw.clients, "clients", 3)?,
                },
                "snapshots" => {
                    let victim = raw.victim.as_ref().expect("required");
                    let kind = match victim.get_ref().as_str() {
                        "none" => Victim::None,
                        "disconnect" => Victim::Disconnect,
                        "crash" => Victim::Crash,
                        other => {
                            return Err(self.error(
                            victim.span().start,
                            Some("victim"),
                            format!(
                                "unknown victim \"{other}\"; expected one of: none, disconnect, crash"
                            ),
                        ));
                        }
                    };
                    Builtin::Snapshots {
                        iterations: self.positive(&raw.iterations, "iterations", 30)?,
                        victim: kind,
                        persisted_below: self.positive(
                            &raw.persisted_below,
                            "persisted_below",
                            2000,
                        )?,
                    }
                }
                "snapshot_all_crash" => Builtin::SnapshotAllCrash {
                    iterations: self.positive(&raw.iterations, "iterations", 5)?,
                },
                other => unreachable!("loop {other} is listed in BUILTINS"),
            },
        )
    }
}

/// The key whose value (or name) holds `offset` in a one-step text
/// `step = { a = 1, b = [2, 3] }`: the key written at `offset`, else the last
/// `key =` before it at the inline table's own level (strings and nested lists
/// skipped).
fn key_at(text: &str, offset: usize) -> Option<String> {
    let offset = offset.min(text.len());
    let body = text.find('{')? + 1;
    let mut last = None;
    let mut depth = 0usize;
    let mut in_string = false;
    let mut key = String::new();
    let mut reading_key = true;
    for c in text.get(body..offset)?.chars() {
        if in_string {
            in_string = c != '"';
            continue;
        }
        match c {
            '"' => in_string = true,
            '[' | '{' => depth += 1,
            ']' | '}' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                reading_key = true;
                key.clear();
            }
            '=' if depth == 0 && reading_key => {
                reading_key = false;
                last = Some(key.trim().to_string());
            }
            _ if reading_key && depth == 0 => key.push(c),
            _ => {}
        }
    }
    // On a key itself (an unknown one, say): that key.
    let word: String = text[offset..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    if reading_key && depth == 0 && !in_string && key.trim().is_empty() && !word.is_empty() {
        return Some(word);
    }
    last.filter(|key: &String| !key.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_text(steps: &str, nodes: usize) -> Result<Vec<Step>, LabError> {
        #[derive(Deserialize)]
        struct Doc {
            lab: Vec<Spanned<toml::Value>>,
        }
        let text = format!("lab = [\n{steps}\n]\n");
        let doc: Doc = toml::from_str(&text).unwrap();
        let file = parse(
            &doc.lab,
            &Context {
                nodes,
                text: Some(&text),
            },
        );
        // Read again from the values alone, as the driver does.
        let values = parse(&doc.lab, &Context { nodes, text: None });
        if let Ok(steps) = &file {
            let again = values.expect("a valid script reads the same from its values");
            assert_eq!(&again, steps);
        }
        file.map_err(|mut error| {
            error.offset -= text.find('{').unwrap_or(0).min(error.offset);
            error
        })
    }

    #[test]
    fn a_script_reads_into_its_steps() {
        let steps = parse_text(
            "{ one = 101, servers = 3, retry = false },\n{ check = \"one_leader\", label = \"leader1\" },\n{ disconnect = [\"@leader1+1\", 2] },\n{ start = 104, to = \"@leader1\", index = [2, 3] },\n{ run = \"snapshots\", victim = \"crash\" },",
            3,
        )
        .unwrap();
        assert_eq!(steps.len(), 5);
        assert_eq!(
            steps[3].to_string(),
            "lab[3] { start = 104, to = \"@leader1\", index = [2, 3] }"
        );
        assert_eq!(
            steps[2].action,
            Action::Disconnect(vec![
                TargetRef::Label {
                    name: "leader1".into(),
                    offset: 1
                },
                TargetRef::Node(2)
            ])
        );
        assert_eq!(
            steps[4].action,
            Action::Run(Builtin::Snapshots {
                iterations: 30,
                victim: Victim::Crash,
                persisted_below: 2000
            })
        );
    }

    #[test]
    fn errors_name_the_step_and_key() {
        let error = parse_text("{ one = 1, servers = 3 }", 3).unwrap_err();
        assert_eq!(error.key, "protocol.lab[0].retry");
        assert!(error.message.contains("needs the key 'retry'"), "{error:?}");
        let error = parse_text(
            "{ check = \"one_leader\" },\n{ one = 1, servers = \"3\", retry = true }",
            3,
        )
        .unwrap_err();
        assert_eq!(error.key, "protocol.lab[1].servers");
        let error = parse_text("{ sleep = \"1s\", retry = true }", 3).unwrap_err();
        assert_eq!(error.key, "protocol.lab[0].retry");
        assert!(error.message.contains("does not apply to a 'sleep' step"));
        let error = parse_text("{ disconnect = \"@leader2\" }", 3).unwrap_err();
        assert!(error.message.contains("no earlier step sets the label"));
        let error = parse_text("{ crash = 3 }", 3).unwrap_err();
        assert!(error.message.contains("node 3 does not exist"));
        let error = parse_text("{ one = 1, start = 2 }", 3).unwrap_err();
        assert!(error.message.contains("a step does one thing"));
        let error = parse_text("{ onee = 1 }", 3).unwrap_err();
        assert_eq!(error.key, "protocol.lab[0].onee");
    }

    #[test]
    fn the_key_at_an_offset_is_found_in_one_step() {
        let text = "step = { one = 1, to = [\"@a\", 2], servers = \"x\" }";
        assert_eq!(
            key_at(text, text.find("\"x\"").unwrap()).as_deref(),
            Some("servers")
        );
        assert_eq!(
            key_at(text, text.find("2]").unwrap()).as_deref(),
            Some("to")
        );
        assert_eq!(
            key_at(text, text.find("servers").unwrap()).as_deref(),
            Some("servers")
        );
    }
}
