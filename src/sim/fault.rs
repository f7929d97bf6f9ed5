//! Faults the world can suffer, and how their targets are chosen.
//!
//! A fault names its targets either directly (node ids) or by a selector resolved at
//! the moment the fault fires: `leader` (the node reporting itself leader with the
//! highest term), `follower` (one up node that is not a leader), `random` (one
//! node), `minority` (⌊(n−1)/2⌋ nodes), `majority` (⌊n/2⌋+1 nodes), `all`, or
//! `@label` — the nodes an earlier fault (or a driver) stored under that label, so
//! a later fault can hit "the leader we disconnected at 1 s" again — or a selector
//! among a label's nodes, `selector@label` (`random@backends`: one backend; the
//! nemesis's `targets` is written this way). Selectors draw
//! from the fault stream only, so the choice of victims never disturbs the
//! network's or the nodes' randomness.

use std::fmt;

/// Which nodes a fault hits.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Target {
    /// These nodes.
    Nodes(Vec<usize>),
    /// The current leader (nothing if there is none).
    Leader,
    /// One node chosen at random among those the fault applies to.
    Random,
    /// A random minority: ⌊(n−1)/2⌋ nodes.
    Minority,
    /// A random majority: ⌊n/2⌋+1 nodes.
    Majority,
    /// Every node the fault applies to.
    All,
    /// One node chosen at random among the up candidates that do not report
    /// themselves leader.
    Follower,
    /// The nodes stored under this label (written `@name`); nobody if unset.
    Label(String),
    /// A selector resolved among the nodes stored under a label only (written
    /// `selector@name`, such as `random@backends`); nobody if the label is
    /// unset. `leader` is the leader if it is one of them (else nobody), and
    /// `minority`/`majority` count the label's nodes, not the cluster's.
    Within {
        /// The selector: `Leader`, `Follower`, `Random`, `Minority`,
        /// `Majority` or `All` (never ids, a label, a client or another
        /// `Within`).
        pick: Box<Target>,
        /// The label whose nodes it picks among.
        label: String,
    },
    /// Client processes (only `pause`, `resume`, `clock_skew` and `clock_reset`
    /// reach clients): written `"client"`, `"clients"` or `"client:N"`.
    Client(ClientPick),
}

/// Which clients a client target names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ClientPick {
    /// One client drawn at random (`"client"`).
    Random,
    /// Every client (`"clients"`).
    All,
    /// The client with this index, counted from 0 among clients (`"client:N"`).
    Index(usize),
}

impl Target {
    /// The selector names accepted in scenario files.
    pub const SELECTORS: [&'static str; 6] = [
        "leader", "follower", "random", "minority", "majority", "all",
    ];

    /// Parses a selector name.
    pub fn from_selector(name: &str) -> Option<Target> {
        Some(match name {
            "leader" => Target::Leader,
            "random" => Target::Random,
            "minority" => Target::Minority,
            "majority" => Target::Majority,
            "all" => Target::All,
            "follower" => Target::Follower,
            _ => return None,
        })
    }

    /// The client forms, as error messages list them.
    pub const CLIENT_FORMS: &'static str =
        "\"client\" (a random client), \"clients\" (every client), \"client:N\" (client N)";

    /// Parses a client target (`"client"`, `"clients"`, `"client:N"`): `None` when
    /// `name` is not one, `Some(Err)` when it starts like one but is malformed.
    pub fn from_client_form(name: &str) -> Option<Result<Target, String>> {
        match name {
            "client" => return Some(Ok(Target::Client(ClientPick::Random))),
            "clients" => return Some(Ok(Target::Client(ClientPick::All))),
            _ => {}
        }
        let index = name.strip_prefix("client:")?;
        Some(
            index
                .parse::<usize>()
                .map(|index| Target::Client(ClientPick::Index(index)))
                .map_err(|_| {
                    format!("expected a client index after 'client:' (such as \"client:0\"), got {index:?}")
                }),
        )
    }

    /// Whether the target names clients rather than nodes.
    pub fn is_client(&self) -> bool {
        matches!(self, Target::Client(_))
    }

    /// `self` resolved only among the nodes stored under `label`
    /// ([`Target::Within`]), or `self` when there is no label.
    pub fn within(self, label: Option<&str>) -> Target {
        match label {
            Some(label) => Target::Within {
                pick: Box::new(self),
                label: label.to_string(),
            },
            None => self,
        }
    }

    /// The label the target reads, if any (`@name` or `selector@name`).
    pub fn label(&self) -> Option<&str> {
        match self {
            Target::Label(name) | Target::Within { label: name, .. } => Some(name),
            _ => None,
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Nodes(ids) => write!(f, "{ids:?}"),
            Target::Leader => write!(f, "leader"),
            Target::Random => write!(f, "random"),
            Target::Minority => write!(f, "minority"),
            Target::Majority => write!(f, "majority"),
            Target::All => write!(f, "all"),
            Target::Follower => write!(f, "follower"),
            Target::Label(name) => write!(f, "@{name}"),
            Target::Within { pick, label } => write!(f, "{pick}@{label}"),
            Target::Client(ClientPick::Random) => write!(f, "client"),
            Target::Client(ClientPick::All) => write!(f, "clients"),
            Target::Client(ClientPick::Index(index)) => write!(f, "client:{index}"),
        }
    }
}

/// A fault, as scheduled. See the fault table in `docs/scenarios.md` for what each does.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Fault {
    /// Split the nodes into the given groups; links between groups are cut.
    /// Nodes in no group are isolated from all.
    Partition {
        /// The groups.
        groups: Vec<Vec<usize>>,
    },
    /// Split the nodes at random into a minority and a majority.
    PartitionHalves,
    /// Cut every link to and from the target.
    Isolate(Target),
    /// Two majorities overlapping in one bridge node: each side reaches the bridge
    /// but not the other side.
    Bridge,
    /// Cut the links from `from` to `to` in that direction only.
    OneWay {
        /// Senders whose messages are lost.
        from: Target,
        /// Receivers that stop hearing them.
        to: Target,
    },
    /// Restore every cut link (and mark every disconnected node connected again).
    Heal,
    /// Lab-style disconnect: mark the target disconnected and cut every link
    /// between it and every other node, both ways. Unlike `Isolate` it does not
    /// heal first, so disconnects accumulate.
    Disconnect(Target),
    /// Undo a disconnect: mark the target connected and restore the links between
    /// it and every node that is not disconnected.
    Connect(Target),
    /// Crash: memory lost, timers cancelled, in-flight messages to it dropped,
    /// unsynced disk writes lost.
    Crash(Target),
    /// Restart crashed nodes from their disks.
    Restart(Target),
    /// Freeze: the process stops handling messages and timers until resumed.
    Pause(Target),
    /// Unfreeze: buffered messages and expired timers are handled.
    Resume(Target),
    /// Jump the local clock by `offset` nanoseconds and set its drift.
    ClockSkew {
        /// Which nodes.
        target: Target,
        /// Added to the local clock (may be negative: the clock jumps back).
        offset: i64,
        /// Rate error in parts per million (local clock runs 1 + ppm/1e6 as fast).
        drift_ppm: i64,
    },
    /// Put the clock back to true time with no drift.
    ClockReset(Target),
    /// Flip one random bit of stored data.
    DiskCorrupt(Target),
    /// Lose one random unsynced write.
    DiskLoseUnsynced(Target),
    /// Make the next `count` reads fail.
    DiskFailRead {
        /// Which nodes.
        target: Target,
        /// How many reads fail.
        count: u32,
    },
    /// Send the next disk write (`write` or `append`) to the next existing file
    /// after the intended one in name order (wrapping around); lost if there is
    /// no other file.
    DiskMisdirect(Target),
    /// Swap two adjacent differing bytes of one file's stored data.
    DiskTranspose(Target),
    /// Make running, unpaused non-members members of the cluster; each then
    /// handles `Admin::Join`.
    Join(Target),
    /// Take running, unpaused members out of the cluster (never below the
    /// protocol's minimum membership); each then handles `Admin::Leave`.
    Leave(Target),
    /// Make the target run `factor` times slower than normal, replacing any
    /// earlier slowdown (up or down, crashed or not): protocols that model
    /// work read it through `Ctx::slowdown`. A factor of 1 ends a slowdown.
    Slow {
        /// Which nodes.
        target: Target,
        /// How many times slower.
        factor: SlowFactor,
    },
    /// End of the fault phase: heal links, restart crashed nodes, resume paused
    /// ones, reset clocks. The liveness window starts.
    HealAll,
}

impl Fault {
    /// Short lowercase name, as in scenario files.
    pub fn name(&self) -> &'static str {
        match self {
            Fault::Partition { .. } => "partition",
            Fault::PartitionHalves => "partition_halves",
            Fault::Isolate(_) => "isolate",
            Fault::Bridge => "bridge",
            Fault::OneWay { .. } => "one_way",
            Fault::Heal => "heal",
            Fault::Disconnect(_) => "disconnect",
            Fault::Connect(_) => "connect",
            Fault::Crash(_) => "crash",
            Fault::Restart(_) => "restart",
            Fault::Pause(_) => "pause",
            Fault::Resume(_) => "resume",
            Fault::ClockSkew { .. } => "clock_skew",
            Fault::ClockReset(_) => "clock_reset",
            Fault::DiskCorrupt(_) => "disk_corrupt",
            Fault::DiskLoseUnsynced(_) => "disk_lose_unsynced",
            Fault::DiskFailRead { .. } => "disk_fail_read",
            Fault::DiskMisdirect(_) => "disk_misdirect",
            Fault::DiskTranspose(_) => "disk_transpose",
            Fault::Join(_) => "join",
            Fault::Leave(_) => "leave",
            Fault::Slow { .. } => "slow",
            Fault::HealAll => "heal_all",
        }
    }

    /// The targets the fault names, in order (`from` before `to`).
    pub fn targets(&self) -> Vec<&Target> {
        match self {
            Fault::Isolate(target)
            | Fault::Disconnect(target)
            | Fault::Connect(target)
            | Fault::Crash(target)
            | Fault::Restart(target)
            | Fault::Pause(target)
            | Fault::Resume(target)
            | Fault::ClockSkew { target, .. }
            | Fault::ClockReset(target)
            | Fault::DiskCorrupt(target)
            | Fault::DiskLoseUnsynced(target)
            | Fault::DiskFailRead { target, .. }
            | Fault::DiskMisdirect(target)
            | Fault::DiskTranspose(target)
            | Fault::Join(target)
            | Fault::Leave(target)
            | Fault::Slow { target, .. } => vec![target],
            Fault::OneWay { from, to } => vec![from, to],
            Fault::Partition { .. }
            | Fault::PartitionHalves
            | Fault::Bridge
            | Fault::Heal
            | Fault::HealAll => Vec::new(),
        }
    }

    /// Whether the fault cuts links (and so is undone by `heal`).
    pub fn is_partition(&self) -> bool {
        matches!(
            self,
            Fault::Partition { .. }
                | Fault::PartitionHalves
                | Fault::Isolate(_)
                | Fault::Bridge
                | Fault::OneWay { .. }
                | Fault::Disconnect(_)
        )
    }
}

/// A fault with an optional duration after which it is undone (partition → heal,
/// disconnect → connect, crash → restart, pause → resume, clock skew → reset,
/// join → leave, leave → join, slow → factor 1) on the same nodes it hit, and an
/// optional label under which the world remembers the nodes it hit.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TimedFault {
    /// The fault.
    pub fault: Fault,
    /// Undo it after this many nanoseconds.
    pub duration: Option<u64>,
    /// Store the nodes it hit under this label (see [`TimedFault::labelled`]).
    pub label: Option<String>,
}

impl TimedFault {
    /// `fault`, permanent and unlabelled.
    pub fn new(fault: Fault) -> Self {
        TimedFault {
            fault,
            duration: None,
            label: None,
        }
    }

    /// Undone after `duration` nanoseconds.
    pub fn lasting(mut self, duration: u64) -> Self {
        self.duration = Some(duration);
        self
    }

    /// When it fires, the world stores the nodes it hit under `label`
    /// (`World::label`), so a later fault can target them as `@label`. The nodes
    /// hit are its resolved target; for `one_way`, the senders (`from`).
    pub fn labelled(mut self, label: &str) -> Self {
        self.label = Some(label.to_string());
        self
    }
}

/// How many times slower than normal a `slow` fault makes a node run, kept in
/// thousandths so that a fault stays `Eq` and `Hash` and reads back exactly:
/// from 1 ([`SlowFactor::NORMAL`]) to 1000 ([`SlowFactor::MAX`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SlowFactor(u32);

impl SlowFactor {
    /// Normal speed: factor 1.
    pub const NORMAL: SlowFactor = SlowFactor(1_000);
    /// The slowest a node can be made: factor 1000.
    pub const MAX: SlowFactor = SlowFactor(1_000_000);
    /// What a `slow` fault without `factor` uses: 10.
    pub const DEFAULT: SlowFactor = SlowFactor(10_000);

    /// The factor `thousandths / 1000`, if it is within 1..=1000.
    pub fn from_thousandths(thousandths: u32) -> Option<SlowFactor> {
        (Self::NORMAL.0..=Self::MAX.0)
            .contains(&thousandths)
            .then_some(SlowFactor(thousandths))
    }

    /// `factor` kept to the nearest thousandth, if it is a number within
    /// 1..=1000 (never NaN or infinite).
    pub fn from_factor(factor: f64) -> Option<SlowFactor> {
        if !factor.is_finite() || !(1.0..=1000.0).contains(&factor) {
            return None;
        }
        Self::from_thousandths((factor * 1000.0).round() as u32)
    }

    /// The factor in thousandths (2500 is 2.5 times slower).
    pub fn thousandths(self) -> u32 {
        self.0
    }

    /// The factor as a number (2.5).
    pub fn factor(self) -> f64 {
        f64::from(self.0) / 1000.0
    }

    /// Whether it is a slowdown at all (above 1).
    pub fn is_slow(self) -> bool {
        self > Self::NORMAL
    }
}

impl fmt::Display for SlowFactor {
    /// The factor with no trailing zeros: `10`, `2.5`, `1.001`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (whole, fraction) = (self.0 / 1000, self.0 % 1000);
        if fraction == 0 {
            write!(f, "{whole}")
        } else {
            let digits = format!("{fraction:03}");
            write!(f, "{whole}.{}", digits.trim_end_matches('0'))
        }
    }
}

/// Whether `name` may be used as a label: non-empty, only `a-z`, `0-9` and `_`.
pub fn is_label_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'_')
}

/// The number of nodes a selector picks out of `n`.
pub fn selector_size(target: &Target, n: usize) -> usize {
    match target {
        Target::Minority => n.saturating_sub(1) / 2,
        Target::Majority => n / 2 + 1,
        _ => n,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slow_factors_are_kept_to_the_thousandth_between_one_and_a_thousand() {
        assert_eq!(
            SlowFactor::from_factor(2.5).map(SlowFactor::thousandths),
            Some(2_500)
        );
        assert_eq!(SlowFactor::from_factor(1.0), Some(SlowFactor::NORMAL));
        assert_eq!(SlowFactor::from_factor(1000.0), Some(SlowFactor::MAX));
        assert_eq!(SlowFactor::from_factor(1.0004), Some(SlowFactor::NORMAL));
        for bad in [0.999, 0.0, -2.0, 1000.001, f64::NAN, f64::INFINITY] {
            assert_eq!(SlowFactor::from_factor(bad), None, "{bad}");
        }
        assert_eq!(SlowFactor::from_thousandths(999), None);
        assert_eq!(SlowFactor::from_thousandths(1_000_001), None);
        assert!(!SlowFactor::NORMAL.is_slow() && SlowFactor::DEFAULT.is_slow());
        assert_eq!(SlowFactor::DEFAULT.factor(), 10.0);
    }

    #[test]
    fn a_slow_factor_reads_back_from_what_it_displays() {
        for (thousandths, shown) in [
            (1_000, "1"),
            (2_500, "2.5"),
            (1_001, "1.001"),
            (10_250, "10.25"),
        ] {
            let factor = SlowFactor::from_thousandths(thousandths).unwrap();
            assert_eq!(factor.to_string(), shown);
            let parsed: f64 = shown.parse().unwrap();
            assert_eq!(SlowFactor::from_factor(parsed), Some(factor));
            assert_eq!(SlowFactor::from_factor(factor.factor()), Some(factor));
        }
    }
}
