//! The fault sections of a scenario: the scripted `[[faults]]` timeline and the
//! random `[nemesis]`.

use super::error::{ScenarioError, Source};
use crate::sim::fault::{Fault, SlowFactor, Target, TimedFault, is_label_name};
use crate::sim::time::{Duration, SignedDuration};
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use std::fmt;
use toml::Spanned;

/// Who a fault hits, as written: `2`, `[0, 1]`, a selector string, `"@label"` or a
/// selector among a label's nodes (`"random@backends"`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetSpec(pub Target);

impl<'de> Deserialize<'de> for TargetSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TargetVisitor;
        impl<'de> Visitor<'de> for TargetVisitor {
            type Value = TargetSpec;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(
                    f,
                    "a node id, a list of node ids, \"@label\", a client ({}), or one of {} (alone, or among a label's nodes: \"random@label\")",
                    Target::CLIENT_FORMS,
                    Target::SELECTORS.join(", ")
                )
            }
            fn visit_i64<E: de::Error>(self, id: i64) -> Result<TargetSpec, E> {
                usize::try_from(id)
                    .map(|id| TargetSpec(Target::Nodes(vec![id])))
                    .map_err(|_| E::custom(format!("expected a node id (>= 0), got {id}")))
            }
            fn visit_str<E: de::Error>(self, name: &str) -> Result<TargetSpec, E> {
                if let Some(label) = name.strip_prefix('@') {
                    if label.is_empty() {
                        return Err(E::custom(
                            "'@' must be followed by a label name, such as \"@leader1\"",
                        ));
                    }
                    check_label_name(label).map_err(E::custom)?;
                    return Ok(TargetSpec(Target::Label(label.to_string())));
                }
                if let Some(client) = Target::from_client_form(name) {
                    return client.map(TargetSpec).map_err(E::custom);
                }
                if let Some((pick, label)) = name.split_once('@') {
                    let pick = Target::from_selector(pick).ok_or_else(|| {
                        E::custom(format!(
                            "unknown selector \"{pick}\" before '@{label}'; expected one of {} (such as \"random@{label}\")",
                            Target::SELECTORS.join(", ")
                        ))
                    })?;
                    check_label_name(label).map_err(E::custom)?;
                    return Ok(TargetSpec(pick.within(Some(label))));
                }
                Target::from_selector(name).map(TargetSpec).ok_or_else(|| {
                    E::custom(format!(
                        "unknown target \"{name}\"; expected a node id, a list of node ids, \"@label\", a client ({}), or one of {} (alone, or among a label's nodes: \"random@label\")",
                        Target::CLIENT_FORMS,
                        Target::SELECTORS.join(", ")
                    ))
                })
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<TargetSpec, A::Error> {
                let mut ids = Vec::new();
                while let Some(id) = seq.next_element::<usize>()? {
                    ids.push(id);
                }
                if ids.is_empty() {
                    return Err(de::Error::custom(
                        "expected at least one node id in the target list",
                    ));
                }
                Ok(TargetSpec(Target::Nodes(ids)))
            }
        }
        deserializer.deserialize_any(TargetVisitor)
    }
}

/// Checks a label name (without the `@`); the message says what is allowed.
pub(crate) fn check_label_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        Err("expected a label name such as \"leader1\"".into())
    } else if !is_label_name(name) {
        Err(format!(
            "label \"{name}\" may use only lowercase letters a-z, digits 0-9 and '_'"
        ))
    } else {
        Ok(())
    }
}

/// The fault kinds a scenario can script.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// Split into `groups`.
    Partition,
    /// Random minority/majority split.
    PartitionHalves,
    /// Cut `target` off from every other node.
    Isolate,
    /// Two majorities overlapping in one bridge node.
    Bridge,
    /// Cut `from` → `to` in one direction.
    OneWay,
    /// Restore all links.
    Heal,
    /// Lab-style: cut `target` off from every node; disconnects accumulate.
    Disconnect,
    /// Lab-style: reconnect `target` to every connected node.
    Connect,
    /// Crash `target`.
    Crash,
    /// Restart crashed `target`.
    Restart,
    /// Freeze `target`.
    Pause,
    /// Unfreeze `target`.
    Resume,
    /// Jump `target`'s clock by `offset` and/or set its `drift_ppm`.
    ClockSkew,
    /// Reset `target`'s clock.
    ClockReset,
    /// Flip a bit on `target`'s disk.
    DiskCorrupt,
    /// Lose one unsynced write on `target`'s disk.
    DiskLoseUnsynced,
    /// Fail the next `count` reads on `target`'s disk.
    DiskFailRead,
    /// Send `target`'s next disk write to another file's place.
    DiskMisdirect,
    /// Swap two adjacent differing bytes on `target`'s disk.
    DiskTranspose,
    /// Make running non-member `target` members of the cluster.
    Join,
    /// Take running member `target` out of the cluster.
    Leave,
    /// Make `target` run `factor` times slower.
    Slow,
}

impl FaultKind {
    /// Every kind with a one-line description, for `faultline list`.
    pub const ALL: [(FaultKind, &'static str, &'static str); 22] = [
        (
            FaultKind::Partition,
            "partition",
            "split nodes into `groups`; links between groups are cut",
        ),
        (
            FaultKind::PartitionHalves,
            "partition_halves",
            "random minority/majority split",
        ),
        (
            FaultKind::Isolate,
            "isolate",
            "cut `target` off from all other nodes",
        ),
        (
            FaultKind::Bridge,
            "bridge",
            "two majorities overlapping in one bridge node",
        ),
        (
            FaultKind::OneWay,
            "one_way",
            "cut links `from` -> `to` in that direction only",
        ),
        (
            FaultKind::Heal,
            "heal",
            "restore every cut link; every node counts as connected again",
        ),
        (
            FaultKind::Disconnect,
            "disconnect",
            "cut `target` off from every node without healing first: disconnects add up",
        ),
        (
            FaultKind::Connect,
            "connect",
            "reconnect disconnected `target` to every node that is not disconnected",
        ),
        (
            FaultKind::Crash,
            "crash",
            "crash `target`: memory, timers, in-flight messages and unsynced writes lost",
        ),
        (
            FaultKind::Restart,
            "restart",
            "restart crashed `target` from its disk",
        ),
        (
            FaultKind::Pause,
            "pause",
            "freeze `target` (a GC pause); messages and timers wait",
        ),
        (FaultKind::Resume, "resume", "unfreeze `target`"),
        (
            FaultKind::ClockSkew,
            "clock_skew",
            "jump `target`'s clock by `offset`, set its `drift_ppm`",
        ),
        (
            FaultKind::ClockReset,
            "clock_reset",
            "put `target`'s clock back to true time",
        ),
        (
            FaultKind::DiskCorrupt,
            "disk_corrupt",
            "flip one bit of `target`'s stored data",
        ),
        (
            FaultKind::DiskLoseUnsynced,
            "disk_lose_unsynced",
            "lose one unsynced write on `target`",
        ),
        (
            FaultKind::DiskFailRead,
            "disk_fail_read",
            "fail `target`'s next `count` reads (default 1)",
        ),
        (
            FaultKind::DiskMisdirect,
            "disk_misdirect",
            "`target`'s next write lands on the next file in name order (lost if none)",
        ),
        (
            FaultKind::DiskTranspose,
            "disk_transpose",
            "swap two adjacent differing bytes of `target`'s stored data",
        ),
        (
            FaultKind::Join,
            "join",
            "running non-members `target` join the cluster (protocols with membership changes)",
        ),
        (
            FaultKind::Leave,
            "leave",
            "running members `target` leave, never below the protocol's minimum (protocols with membership changes)",
        ),
        (
            FaultKind::Slow,
            "slow",
            "`target` runs `factor` times slower (default 10) for protocols that model work",
        ),
    ];

    /// Whether the kind changes the membership (only protocols that support it
    /// take one).
    pub fn is_membership(self) -> bool {
        matches!(self, FaultKind::Join | FaultKind::Leave)
    }

    fn name(self) -> &'static str {
        FaultKind::ALL
            .iter()
            .find(|(kind, ..)| *kind == self)
            .map_or("?", |(_, name, _)| name)
    }

    /// (required keys, optional keys) besides `at` and `kind`.
    fn keys(self) -> (&'static [&'static str], &'static [&'static str]) {
        use FaultKind::*;
        match self {
            Partition => (&["groups"], &["duration"]),
            PartitionHalves | Bridge => (&[], &["duration"]),
            Heal => (&[], &[]),
            Isolate | Disconnect | Crash | Pause | Join | Leave => {
                (&["target"], &["duration", "label"])
            }
            Restart | Resume | Connect | ClockReset | DiskCorrupt | DiskLoseUnsynced
            | DiskMisdirect | DiskTranspose => (&["target"], &["label"]),
            OneWay => (&["from", "to"], &["duration", "label"]),
            ClockSkew => (&["target"], &["offset", "drift_ppm", "duration", "label"]),
            DiskFailRead => (&["target"], &["count", "label"]),
            Slow => (&["target"], &["factor", "duration", "label"]),
        }
    }
}

/// One `[[faults]]` entry.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    /// When it fires (true virtual time since the start).
    pub at: Spanned<Duration>,
    /// What happens.
    pub kind: Spanned<FaultKind>,
    /// Who it hits.
    #[serde(default)]
    pub target: Option<Spanned<TargetSpec>>,
    /// Undo after this long (partition kinds, disconnect, crash, pause,
    /// clock_skew, join, leave, slow).
    #[serde(default)]
    pub duration: Option<Spanned<Duration>>,
    /// Groups for `partition`.
    #[serde(default)]
    pub groups: Option<Spanned<Vec<Vec<usize>>>>,
    /// Senders for `one_way`.
    #[serde(default)]
    pub from: Option<Spanned<TargetSpec>>,
    /// Receivers for `one_way`.
    #[serde(default)]
    pub to: Option<Spanned<TargetSpec>>,
    /// Clock jump for `clock_skew` (may be negative).
    #[serde(default)]
    pub offset: Option<Spanned<SignedDuration>>,
    /// Drift for `clock_skew`, parts per million (|drift| <= 500000).
    #[serde(default)]
    pub drift_ppm: Option<Spanned<i64>>,
    /// Reads to fail for `disk_fail_read`. Default 1.
    #[serde(default)]
    pub count: Option<Spanned<u32>>,
    /// How many times slower `slow` makes its target: a number in 1..=1000
    /// (`2.5` allowed), kept to the thousandth. Default 10.
    #[serde(default)]
    pub factor: Option<Spanned<f64>>,
    /// Remember the nodes the fault hits under this name (faults with a `target`,
    /// or `from` for `one_way`); later targets `"@name"` hit them. Default none.
    #[serde(default)]
    pub label: Option<Spanned<String>>,
}

impl FaultSpec {
    /// Whether it is a `join` or a `leave`.
    pub fn is_membership(&self) -> bool {
        self.kind.get_ref().is_membership()
    }

    fn present(&self) -> Vec<(&'static str, std::ops::Range<usize>)> {
        let mut keys = Vec::new();
        let mut add = |name, span: Option<std::ops::Range<usize>>| {
            if let Some(span) = span {
                keys.push((name, span));
            }
        };
        add("target", self.target.as_ref().map(Spanned::span));
        add("duration", self.duration.as_ref().map(Spanned::span));
        add("groups", self.groups.as_ref().map(Spanned::span));
        add("from", self.from.as_ref().map(Spanned::span));
        add("to", self.to.as_ref().map(Spanned::span));
        add("offset", self.offset.as_ref().map(Spanned::span));
        add("drift_ppm", self.drift_ppm.as_ref().map(Spanned::span));
        add("count", self.count.as_ref().map(Spanned::span));
        add("factor", self.factor.as_ref().map(Spanned::span));
        add("label", self.label.as_ref().map(Spanned::span));
        keys
    }

    /// Checks the entry against the cluster size and run length and turns it into
    /// the fault the world applies.
    pub fn resolve(
        &self,
        source: &Source<'_>,
        nodes: usize,
        clients: usize,
        run_end: Duration,
    ) -> Result<(u64, TimedFault), ScenarioError> {
        let kind = *self.kind.get_ref();
        let (required, optional) = kind.keys();
        for (name, span) in self.present() {
            if !required.contains(&name) && !optional.contains(&name) {
                let takes: Vec<&str> = required.iter().chain(optional).copied().collect();
                let takes = if takes.is_empty() {
                    "no other keys".to_string()
                } else {
                    takes.join(", ")
                };
                return Err(source.error_at(
                    span,
                    format!(
                        "'{name}' does not apply to a '{}' fault (it takes: at, kind, {takes})",
                        kind.name()
                    ),
                ));
            }
        }
        let present: Vec<&str> = self.present().iter().map(|(name, _)| *name).collect();
        for name in required {
            if !present.contains(name) {
                return Err(source.error_at(
                    self.kind.span(),
                    format!("a '{}' fault needs the key '{name}'", kind.name()),
                ));
            }
        }
        if self.at.get_ref() >= &run_end {
            return Err(source.error_at(
                self.at.span(),
                format!(
                    "fault at {} is not before the end of the fault phase (duration = {})",
                    self.at.get_ref(),
                    run_end
                ),
            ));
        }
        let check_ids =
            |ids: &[usize], span: std::ops::Range<usize>| -> Result<(), ScenarioError> {
                match ids.iter().find(|&&id| id >= nodes) {
                    Some(id) => Err(source.error_at(
                        span,
                        format!(
                            "node {id} does not exist (the cluster has nodes 0..={})",
                            nodes - 1
                        ),
                    )),
                    None => Ok(()),
                }
            };
        let target = |spec: &Option<Spanned<TargetSpec>>| -> Result<Target, ScenarioError> {
            let spec = spec.as_ref().expect("required key checked above");
            match &spec.get_ref().0 {
                Target::Nodes(ids) => check_ids(ids, spec.span())?,
                Target::Client(pick) => {
                    if !matches!(
                        kind,
                        FaultKind::Pause
                            | FaultKind::Resume
                            | FaultKind::ClockSkew
                            | FaultKind::ClockReset
                    ) {
                        return Err(source.error_at(
                            spec.span(),
                            format!(
                                "a '{}' fault cannot target clients; only pause, resume, clock_skew and clock_reset reach clients",
                                kind.name()
                            ),
                        ));
                    }
                    if clients == 0 {
                        return Err(source.error_at(
                            spec.span(),
                            "the scenario has no clients ([workload] clients = 0)",
                        ));
                    }
                    if let crate::sim::fault::ClientPick::Index(index) = pick
                        && *index >= clients
                    {
                        return Err(source.error_at(
                            spec.span(),
                            format!(
                                "client {index} does not exist (the workload has clients 0..={})",
                                clients - 1
                            ),
                        ));
                    }
                }
                _ => {}
            }
            Ok(spec.get_ref().0.clone())
        };
        let fault = match kind {
            FaultKind::Partition => {
                let groups = self.groups.as_ref().expect("required key checked above");
                if groups.get_ref().iter().any(Vec::is_empty) {
                    return Err(source.error_at(
                        groups.span(),
                        "every partition group needs at least one node",
                    ));
                }
                let all: Vec<usize> = groups.get_ref().iter().flatten().copied().collect();
                check_ids(&all, groups.span())?;
                let mut sorted = all.clone();
                sorted.sort_unstable();
                if let Some(pair) = sorted.windows(2).find(|pair| pair[0] == pair[1]) {
                    return Err(source.error_at(
                        groups.span(),
                        format!("node {} is in two partition groups", pair[0]),
                    ));
                }
                Fault::Partition {
                    groups: groups.get_ref().clone(),
                }
            }
            FaultKind::PartitionHalves => Fault::PartitionHalves,
            FaultKind::Bridge => Fault::Bridge,
            FaultKind::Heal => Fault::Heal,
            FaultKind::Isolate => Fault::Isolate(target(&self.target)?),
            FaultKind::Disconnect => Fault::Disconnect(target(&self.target)?),
            FaultKind::Connect => Fault::Connect(target(&self.target)?),
            FaultKind::Crash => Fault::Crash(target(&self.target)?),
            FaultKind::Restart => Fault::Restart(target(&self.target)?),
            FaultKind::Pause => Fault::Pause(target(&self.target)?),
            FaultKind::Resume => Fault::Resume(target(&self.target)?),
            FaultKind::OneWay => Fault::OneWay {
                from: target(&self.from)?,
                to: target(&self.to)?,
            },
            FaultKind::ClockSkew => {
                if self.offset.is_none() && self.drift_ppm.is_none() {
                    return Err(source.error_at(
                        self.kind.span(),
                        "a 'clock_skew' fault needs 'offset', 'drift_ppm' or both",
                    ));
                }
                let drift_ppm = match &self.drift_ppm {
                    Some(drift) if drift.get_ref().unsigned_abs() > 500_000 => {
                        return Err(source.error_at(
                            drift.span(),
                            format!(
                                "expected a drift in -500000..=500000 ppm, got {}",
                                drift.get_ref()
                            ),
                        ));
                    }
                    Some(drift) => *drift.get_ref(),
                    None => 0,
                };
                let offset = self.offset.as_ref().map_or(0, |offset| offset.get_ref().0);
                Fault::ClockSkew {
                    target: target(&self.target)?,
                    offset,
                    drift_ppm,
                }
            }
            FaultKind::ClockReset => Fault::ClockReset(target(&self.target)?),
            FaultKind::DiskCorrupt => Fault::DiskCorrupt(target(&self.target)?),
            FaultKind::DiskLoseUnsynced => Fault::DiskLoseUnsynced(target(&self.target)?),
            FaultKind::DiskMisdirect => Fault::DiskMisdirect(target(&self.target)?),
            FaultKind::DiskTranspose => Fault::DiskTranspose(target(&self.target)?),
            FaultKind::Join => Fault::Join(target(&self.target)?),
            FaultKind::Leave => Fault::Leave(target(&self.target)?),
            FaultKind::Slow => {
                let factor = match &self.factor {
                    None => SlowFactor::DEFAULT,
                    Some(factor) => SlowFactor::from_factor(*factor.get_ref()).ok_or_else(|| {
                        source.error_at(
                            factor.span(),
                            format!(
                                "expected a slowdown factor from 1 (normal speed) to 1000, such as 2.5, got {}",
                                factor.get_ref()
                            ),
                        )
                    })?,
                };
                Fault::Slow {
                    target: target(&self.target)?,
                    factor,
                }
            }
            FaultKind::DiskFailRead => {
                let count = self.count.as_ref().map_or(1, |count| *count.get_ref());
                if count == 0 {
                    let span = self.count.as_ref().expect("count given").span();
                    return Err(source.error_at(span, "expected a count of at least 1"));
                }
                Fault::DiskFailRead {
                    target: target(&self.target)?,
                    count,
                }
            }
        };
        let duration = self.duration.as_ref().map(|duration| duration.get_ref().0);
        if duration == Some(0) {
            let span = self.duration.as_ref().expect("duration given").span();
            return Err(source.error_at(
                span,
                "expected a positive duration (omit 'duration' for a permanent fault)",
            ));
        }
        let label = match &self.label {
            Some(label) => {
                check_label_name(label.get_ref())
                    .map_err(|message| source.error_at(label.span(), message))?;
                Some(label.get_ref().clone())
            }
            None => None,
        };
        Ok((
            self.at.get_ref().0,
            TimedFault {
                fault,
                duration,
                label,
            },
        ))
    }
}

pub use crate::sim::time::DurationRange;

/// A `[min, max]` range of probabilities, written `[0.0, 0.1]` or as one number.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct ProbabilityRange {
    /// Lower bound.
    pub min: f64,
    /// Upper bound.
    pub max: f64,
}

impl<'de> Deserialize<'de> for ProbabilityRange {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            One(f64),
            Two(Vec<f64>),
        }
        let expected = "a probability or a range [min, max] within [0, 1]";
        let raw = Raw::deserialize(deserializer)
            .map_err(|_| de::Error::custom(format!("expected {expected}")))?;
        let (min, max) = match raw {
            Raw::One(value) => (value, value),
            Raw::Two(values) if values.len() == 2 => (values[0], values[1]),
            Raw::Two(values) => {
                return Err(de::Error::custom(format!(
                    "expected {expected}, got a list of {} items",
                    values.len()
                )));
            }
        };
        for value in [min, max] {
            if !(0.0..=1.0).contains(&value) {
                return Err(de::Error::custom(format!(
                    "expected a probability in [0, 1], got {value}"
                )));
            }
        }
        if min > max {
            return Err(de::Error::custom(format!(
                "range minimum {min} is above its maximum {max}"
            )));
        }
        Ok(ProbabilityRange { min, max })
    }
}

/// Fault kinds the random nemesis can inject.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NemesisFault {
    /// Random minority/majority split.
    Partition,
    /// Isolate one node (the leader half of the time).
    Isolate,
    /// Bridge partition.
    Bridge,
    /// One-way cut from a random node to a random minority.
    OneWay,
    /// Crash a random node (or a minority), restart after the fault's duration.
    Crash,
    /// Crash the leader (nothing when there is none), restart after the duration.
    CrashLeader,
    /// Pause a random node (the leader half of the time).
    Pause,
    /// Skew a random node's clock.
    ClockSkew,
    /// Flip a bit on a random node's disk.
    DiskCorrupt,
    /// Lose an unsynced write on a random node.
    DiskLoseUnsynced,
    /// Fail a few reads on a random node.
    DiskFailRead,
    /// Misdirect the next disk write of a random node.
    DiskMisdirect,
    /// Swap two adjacent bytes on a random node's disk.
    DiskTranspose,
    /// Pause a random client (a stop-the-world pause between its steps).
    PauseClient,
    /// Skew a random client's clock.
    ClockSkewClient,
    /// A random non-member joins, and leaves again after the fault's duration
    /// (protocols with membership changes).
    Join,
    /// A random member leaves (never below the protocol's minimum), and joins
    /// again after the fault's duration (protocols with membership changes).
    Leave,
    /// Slow a random node by a factor drawn from [2, `slow_factor_max`], back
    /// to normal speed after the fault's duration.
    Slow,
}

impl NemesisFault {
    /// Every kind, in declaration order.
    pub const ALL: [NemesisFault; 18] = [
        NemesisFault::Partition,
        NemesisFault::Isolate,
        NemesisFault::Bridge,
        NemesisFault::OneWay,
        NemesisFault::Crash,
        NemesisFault::CrashLeader,
        NemesisFault::Pause,
        NemesisFault::ClockSkew,
        NemesisFault::DiskCorrupt,
        NemesisFault::DiskLoseUnsynced,
        NemesisFault::DiskFailRead,
        NemesisFault::DiskMisdirect,
        NemesisFault::DiskTranspose,
        NemesisFault::PauseClient,
        NemesisFault::ClockSkewClient,
        NemesisFault::Join,
        NemesisFault::Leave,
        NemesisFault::Slow,
    ];

    /// Whether the kind changes the membership (only protocols that support it
    /// take one).
    pub fn is_membership(self) -> bool {
        matches!(self, NemesisFault::Join | NemesisFault::Leave)
    }

    /// The name scenario files use (`crash_leader`).
    pub fn name(self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|value| value.as_str().map(str::to_string))
            .unwrap_or_default()
    }
}

/// The `[nemesis]` table: random faults for fuzzing.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NemesisConfig {
    /// Fault kinds it may inject. Required, non-empty.
    pub faults: Spanned<Vec<NemesisFault>>,
    /// Swarm testing: each seed keeps a random non-empty subset of `faults` and
    /// draws its own parameters from the ranges. Default true.
    #[serde(default = "yes")]
    pub swarm: bool,
    /// Mean gap between faults; each seed draws one from the range. Default
    /// `["300ms", "2s"]`.
    #[serde(default = "default_interval")]
    pub interval: Spanned<DurationRange>,
    /// How long each fault lasts; each seed draws its maximum from the range.
    /// Default `["100ms", "1s"]`.
    #[serde(default = "default_fault_duration")]
    pub duration: DurationRange,
    /// When the nemesis starts. Default `"0s"`.
    #[serde(default)]
    pub start: Duration,
    /// Largest clock jump for `clock_skew`. Default `"200ms"`.
    #[serde(default = "default_skew")]
    pub clock_skew_max: Duration,
    /// Largest clock drift for `clock_skew`, ppm. Default 10000 (1%).
    #[serde(default = "default_drift")]
    pub clock_drift_ppm_max: Spanned<u64>,
    /// Largest factor `slow` draws (from 2 up to this, kept to the
    /// thousandth), in 2..=1000. Default 10.
    #[serde(default = "default_slow_factor_max")]
    pub slow_factor_max: Spanned<f64>,
    /// The nodes the node-picking kinds choose among, as `"@name"`: the nodes
    /// stored under that label (a protocol's group such as `"@backends"`, or a
    /// label a `[[faults]]` entry sets) when the fault fires. `partition`,
    /// `bridge` and the client kinds ignore it. Default: every node.
    #[serde(default)]
    pub targets: Option<Spanned<String>>,
    /// Per-seed drop probability drawn from this range (overrides the network's).
    #[serde(default)]
    pub drop_probability: Option<ProbabilityRange>,
    /// Per-seed duplicate probability drawn from this range.
    #[serde(default)]
    pub duplicate_probability: Option<ProbabilityRange>,
}

impl NemesisConfig {
    /// The label `targets` names (without its `@`), if any.
    pub fn targets_label(&self) -> Option<&str> {
        self.targets.as_ref().map(|targets| {
            let text = targets.get_ref().as_str();
            text.strip_prefix('@').unwrap_or(text)
        })
    }

    /// Checks how `targets` is written: `"@name"` with a valid label name.
    pub(crate) fn check_targets(&self, source: &Source<'_>) -> Result<(), ScenarioError> {
        let Some(targets) = &self.targets else {
            return Ok(());
        };
        let text = targets.get_ref();
        let Some(name) = text.strip_prefix('@') else {
            return Err(source.error_at(
                targets.span(),
                format!(
                    "expected a label such as \"@backends\" (the nodes stored under it), got {text:?}"
                ),
            ));
        };
        check_label_name(name).map_err(|message| source.error_at(targets.span(), message))
    }
}

fn yes() -> bool {
    true
}
fn default_interval() -> Spanned<DurationRange> {
    Spanned::new(
        0..0,
        DurationRange {
            min: Duration::from_millis(300),
            max: Duration::from_secs(2),
        },
    )
}
fn default_fault_duration() -> DurationRange {
    DurationRange {
        min: Duration::from_millis(100),
        max: Duration::from_secs(1),
    }
}
fn default_skew() -> Duration {
    Duration::from_millis(200)
}
fn default_drift() -> Spanned<u64> {
    Spanned::new(0..0, 10_000)
}
fn default_slow_factor_max() -> Spanned<f64> {
    Spanned::new(0..0, 10.0)
}

/// The smallest factor the nemesis's `slow` draws: a node at least twice as
/// slow, so every drawn slowdown is one a protocol can notice.
pub const NEMESIS_SLOW_FACTOR_MIN: f64 = 2.0;
