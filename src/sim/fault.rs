//! Faults the world can suffer, and how their targets are chosen.
//!
//! A fault names its targets either directly (node ids) or by a selector resolved at
//! the moment the fault fires: `leader` (the node reporting itself leader with the
//! highest term), `random` (one node), `minority` (⌊(n−1)/2⌋ nodes), `majority`
//! (⌊n/2⌋+1 nodes) or `all`. Selectors draw from the fault stream only, so the
//! choice of victims never disturbs the network's or the nodes' randomness.

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
}

impl Target {
    /// The selector names accepted in scenario files.
    pub const SELECTORS: [&'static str; 5] = ["leader", "random", "minority", "majority", "all"];

    /// Parses a selector name.
    pub fn from_selector(name: &str) -> Option<Target> {
        Some(match name {
            "leader" => Target::Leader,
            "random" => Target::Random,
            "minority" => Target::Minority,
            "majority" => Target::Majority,
            "all" => Target::All,
            _ => return None,
        })
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
        }
    }
}

/// A fault, as scheduled. See the README's fault table for what each does.
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
            Fault::HealAll => "heal_all",
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
/// disconnect → connect, crash → restart, pause → resume, clock skew → reset) on
/// the same nodes it hit.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TimedFault {
    /// The fault.
    pub fault: Fault,
    /// Undo it after this many nanoseconds.
    pub duration: Option<u64>,
}

/// The number of nodes a selector picks out of `n`.
pub fn selector_size(target: &Target, n: usize) -> usize {
    match target {
        Target::Minority => n.saturating_sub(1) / 2,
        Target::Majority => n / 2 + 1,
        _ => n,
    }
}
