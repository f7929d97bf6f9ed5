//! The lab script: the steps a `[protocol] lab = [...]` list may hold, read
//! strictly.
//!
//! Each step is an inline table with exactly one *action* key — what the step
//! does, named after the lab tester's call — and the modifiers that action takes:
//!
//! ```toml
//! lab = [
//!   { one = 101, servers = 3, retry = false },
//!   { check = "one_leader", label = "leader1" },
//!   { disconnect = "@leader1+1" },
//!   { start = 104, to = "@leader1", index = 4 },
//!   { sleep = "2s" },
//!   { check = "not_committed", index = 4 },
//!   { run = "figure8", iterations = 1000 },
//! ]
//! ```
//!
//! An unknown key, a modifier the action does not take, a missing one, a node
//! that does not exist, a label no earlier step sets: each is an error naming the
//! step (`protocol.lab[3].servers`), its line and column, and what is allowed.
//! Every step is read from its own text, so the position is exact.

mod read;

pub use read::{ACTIONS, BUILTINS, CHECKS, Context, parse};

use crate::sim::time::Duration;
use std::fmt;

/// Who a fault step hits: a node, `@label` (plus an offset modulo the cluster
/// size: `@leader1+2` is the lab's `(leader1 + 2) % servers`), or every node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TargetRef {
    /// This node.
    Node(usize),
    /// The node a `one_leader` check stored under `name`, plus `offset`.
    Label {
        /// The label.
        name: String,
        /// Added modulo the number of nodes.
        offset: usize,
    },
    /// Every node, in id order.
    All,
}

impl fmt::Display for TargetRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TargetRef::Node(id) => write!(f, "{id}"),
            TargetRef::Label { name, offset: 0 } => write!(f, "@{name}"),
            TargetRef::Label { name, offset } => write!(f, "@{name}+{offset}"),
            TargetRef::All => write!(f, "all"),
        }
    }
}

/// What a `check` step asserts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Check {
    /// `checkOneLeader`: within ~5 s exactly one leader in the highest term among
    /// connected nodes, never two in one term; optionally labelled.
    OneLeader {
        /// Store the leader under this label.
        label: Option<String>,
    },
    /// `checkNoLeader`: no connected node claims to lead.
    NoLeader,
    /// `checkTerms`: every connected node is in the same term (at least `min`).
    TermsAgree {
        /// The smallest acceptable term.
        min: Option<u64>,
    },
    /// `nCommitted(index) == 0`: no node applied a command at this index.
    NotCommitted {
        /// The command index (1 is the first command).
        index: u64,
    },
    /// RPCs (requests between nodes) since the last counter check or reset lie
    /// in `[min, max]`.
    Rpcs {
        /// Fewest allowed.
        min: Option<u64>,
        /// Most allowed.
        max: Option<u64>,
    },
    /// Bytes between nodes since the last counter check or reset are at most
    /// `per_payload_byte` × the payload bytes submitted since then + `max`.
    Bytes {
        /// Allowed bytes on the wire per payload byte.
        per_payload_byte: u64,
        /// Allowed bytes beyond that.
        max: u64,
    },
}

/// What the snapshot loop does to its victim each iteration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Victim {
    /// Nothing: every peer stays caught up (TestSnapshotBasic2D).
    None,
    /// Disconnect it, reconnect it later.
    Disconnect,
    /// Crash it, restart it later.
    Crash,
}

/// The built-in randomised loops (`run = "..."`): the lab tests whose bodies are
/// loops over random choices, ported with the lab's own constants.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Builtin {
    /// TestManyElections2A: disconnect 3 random peers (draws may repeat), one
    /// leader among the rest, reconnect; `iterations` rounds.
    ManyElections {
        /// Rounds (lab: 9).
        iterations: u64,
    },
    /// TestConcurrentStarts2B: `concurrent` Starts at once must all commit.
    ConcurrentStarts {
        /// Tries before "term changed too often" (lab: 5).
        tries: u64,
        /// Simultaneous Starts (lab: 5).
        concurrent: u64,
    },
    /// TestCount2B's middle: `count` + 1 agreements within `max` RPCs.
    CountAgreements {
        /// Tries (lab: 5).
        tries: u64,
        /// Commands checked (lab: 10).
        count: u64,
        /// RPCs allowed (lab: (10 + 1 + 3) × 3 = 42).
        max: u64,
    },
    /// TestBackup2B after the first agreement.
    Backup {
        /// Commands per phase (lab: 50).
        count: u64,
    },
    /// TestFigure82C's loop: Start everywhere, sleep, crash the leader.
    Figure8 {
        /// Iterations (lab: 1000).
        iterations: u64,
    },
    /// TestFigure8Unreliable2C's loop: Start everywhere, sleep, disconnect the
    /// leader half the time; long reordering from an iteration on.
    Figure8Unreliable {
        /// Iterations (lab: 1000).
        iterations: u64,
        /// Long reordering from this iteration (lab: 200).
        long_reordering_at: u64,
    },
    /// TestUnreliableAgree2C's loop: rounds of `concurrent` background
    /// agreements plus one in the foreground; then the network turns reliable
    /// and the background ones are awaited.
    UnreliableAgree {
        /// Rounds (lab: 49).
        iterations: u64,
        /// Background agreements per round (lab: 4).
        concurrent: u64,
    },
    /// TestReliableChurn2C / TestUnreliableChurn2C: clients Start everywhere
    /// while peers are disconnected, crashed and restarted at random.
    Churn {
        /// Churn steps, 0.7 s apart (lab: 20).
        iterations: u64,
        /// Client loops (lab: 3).
        clients: u64,
    },
    /// `snapcommon`: the 2D snapshot loop.
    Snapshots {
        /// Iterations (lab: 30).
        iterations: u64,
        /// What happens to the victim.
        victim: Victim,
        /// Persisted Raft state (term, vote, log) must stay below this many
        /// bytes on every node (lab: MAXLOGSIZE = 2000).
        persisted_below: u64,
    },
    /// TestSnapshotAllCrash2D: commit, crash and restart everyone, the index
    /// must not go back.
    SnapshotAllCrash {
        /// Iterations (lab: 5).
        iterations: u64,
    },
}

/// What a step does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// An assertion.
    Check(Check),
    /// `one(cmd, servers, retry)`, `count` times with values `value`, `value+1`, …
    One {
        /// The first value.
        value: i64,
        /// Servers that must apply it.
        servers: usize,
        /// Resubmit for up to 10 s instead of failing after 2 s.
        retry: bool,
        /// The command index the first must land at (then `index+1`, …).
        index: Option<u64>,
        /// How many agreements.
        count: u64,
    },
    /// As `One` with a command of `bytes` random bytes.
    OneBytes {
        /// Payload size.
        bytes: usize,
        /// Servers that must apply it.
        servers: usize,
        /// Resubmit until 10 s.
        retry: bool,
        /// The index the first must land at.
        index: Option<u64>,
        /// How many agreements.
        count: u64,
    },
    /// `rf.Start(value)` on each target (`count` times, with values `value`,
    /// `value+1`, …); with `index`, each must accept the first at a command
    /// index in that range.
    Start {
        /// The value.
        value: i64,
        /// Which nodes.
        to: Vec<TargetRef>,
        /// Required index range (inclusive), if any.
        index: Option<(u64, u64)>,
        /// How many Starts per node.
        count: u64,
    },
    /// `wait(index, servers, -1)`.
    Wait {
        /// Command index.
        index: u64,
        /// Servers that must have applied it.
        servers: usize,
    },
    /// `time.Sleep`.
    Sleep(Duration),
    /// `cfg.disconnect`.
    Disconnect(Vec<TargetRef>),
    /// `cfg.connect`.
    Connect(Vec<TargetRef>),
    /// `cfg.crash1`: disconnect, then crash (what was persisted survives).
    Crash(Vec<TargetRef>),
    /// `cfg.start1`: crash first if up, restart from disk; stays disconnected.
    Restart(Vec<TargetRef>),
    /// `cfg.setunreliable`.
    Unreliable(bool),
    /// `cfg.setlongreordering`.
    LongReordering(bool),
    /// Count RPCs, bytes and payload afresh from here.
    ResetCounters,
    /// A built-in loop.
    Run(Builtin),
}

fn write_targets(f: &mut fmt::Formatter<'_>, targets: &[TargetRef]) -> fmt::Result {
    let quoted = |target: &TargetRef| match target {
        TargetRef::Node(id) => id.to_string(),
        other => format!("\"{other}\""),
    };
    match targets {
        [one] => write!(f, "{}", quoted(one)),
        many => {
            let list: Vec<String> = many.iter().map(quoted).collect();
            write!(f, "[{}]", list.join(", "))
        }
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Check::OneLeader { label: None } => write!(f, "check = \"one_leader\""),
            Check::OneLeader { label: Some(label) } => {
                write!(f, "check = \"one_leader\", label = \"{label}\"")
            }
            Check::NoLeader => write!(f, "check = \"no_leader\""),
            Check::TermsAgree { min: None } => write!(f, "check = \"terms_agree\""),
            Check::TermsAgree { min: Some(min) } => {
                write!(f, "check = \"terms_agree\", min = {min}")
            }
            Check::NotCommitted { index } => {
                write!(f, "check = \"not_committed\", index = {index}")
            }
            Check::Rpcs { min, max } => {
                write!(f, "check = \"rpcs\"")?;
                if let Some(min) = min {
                    write!(f, ", min = {min}")?;
                }
                if let Some(max) = max {
                    write!(f, ", max = {max}")?;
                }
                Ok(())
            }
            Check::Bytes {
                per_payload_byte,
                max,
            } => write!(
                f,
                "check = \"bytes\", per_payload_byte = {per_payload_byte}, max = {max}"
            ),
        }
    }
}

impl fmt::Display for Builtin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Builtin::ManyElections { iterations } => {
                write!(f, "run = \"many_elections\", iterations = {iterations}")
            }
            Builtin::ConcurrentStarts { tries, concurrent } => write!(
                f,
                "run = \"concurrent_starts\", tries = {tries}, concurrent = {concurrent}"
            ),
            Builtin::CountAgreements { tries, count, max } => write!(
                f,
                "run = \"count_agreements\", tries = {tries}, count = {count}, max = {max}"
            ),
            Builtin::Backup { count } => write!(f, "run = \"backup\", count = {count}"),
            Builtin::Figure8 { iterations } => {
                write!(f, "run = \"figure8\", iterations = {iterations}")
            }
            Builtin::Figure8Unreliable {
                iterations,
                long_reordering_at,
            } => write!(
                f,
                "run = \"figure8_unreliable\", iterations = {iterations}, long_reordering_at = {long_reordering_at}"
            ),
            Builtin::UnreliableAgree {
                iterations,
                concurrent,
            } => write!(
                f,
                "run = \"unreliable_agree\", iterations = {iterations}, concurrent = {concurrent}"
            ),
            Builtin::Churn {
                iterations,
                clients,
            } => write!(
                f,
                "run = \"churn\", iterations = {iterations}, clients = {clients}"
            ),
            Builtin::Snapshots {
                iterations,
                victim,
                persisted_below,
            } => {
                let victim = match victim {
                    Victim::None => "none",
                    Victim::Disconnect => "disconnect",
                    Victim::Crash => "crash",
                };
                write!(
                    f,
                    "run = \"snapshots\", iterations = {iterations}, victim = \"{victim}\", persisted_below = {persisted_below}"
                )
            }
            Builtin::SnapshotAllCrash { iterations } => {
                write!(f, "run = \"snapshot_all_crash\", iterations = {iterations}")
            }
        }
    }
}

impl fmt::Display for Action {
    /// The step as a scenario file writes it (without the braces).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let agreement = |f: &mut fmt::Formatter<'_>,
                         servers: &usize,
                         retry: &bool,
                         index: &Option<u64>,
                         count: &u64| {
            write!(f, ", servers = {servers}, retry = {retry}")?;
            if let Some(index) = index {
                write!(f, ", index = {index}")?;
            }
            if *count != 1 {
                write!(f, ", count = {count}")?;
            }
            Ok(())
        };
        match self {
            Action::Check(check) => write!(f, "{check}"),
            Action::One {
                value,
                servers,
                retry,
                index,
                count,
            } => {
                write!(f, "one = {value}")?;
                agreement(f, servers, retry, index, count)
            }
            Action::OneBytes {
                bytes,
                servers,
                retry,
                index,
                count,
            } => {
                write!(f, "one_bytes = {bytes}")?;
                agreement(f, servers, retry, index, count)
            }
            Action::Start {
                value,
                to,
                index,
                count,
            } => {
                write!(f, "start = {value}, to = ")?;
                write_targets(f, to)?;
                match index {
                    Some((low, high)) if low == high => write!(f, ", index = {low}")?,
                    Some((low, high)) => write!(f, ", index = [{low}, {high}]")?,
                    None => {}
                }
                if *count != 1 {
                    write!(f, ", count = {count}")?;
                }
                Ok(())
            }
            Action::Wait { index, servers } => write!(f, "wait = {index}, servers = {servers}"),
            Action::Sleep(duration) => write!(f, "sleep = \"{duration}\""),
            Action::Disconnect(targets) => {
                write!(f, "disconnect = ")?;
                write_targets(f, targets)
            }
            Action::Connect(targets) => {
                write!(f, "connect = ")?;
                write_targets(f, targets)
            }
            Action::Crash(targets) => {
                write!(f, "crash = ")?;
                write_targets(f, targets)
            }
            Action::Restart(targets) => {
                write!(f, "restart = ")?;
                write_targets(f, targets)
            }
            Action::Unreliable(on) => write!(f, "unreliable = {on}"),
            Action::LongReordering(on) => write!(f, "long_reordering = {on}"),
            Action::ResetCounters => write!(f, "counters = \"reset\""),
            Action::Run(builtin) => write!(f, "{builtin}"),
        }
    }
}

/// One step with where it was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// Position in the list (0-based).
    pub position: usize,
    /// What it does.
    pub action: Action,
}

impl fmt::Display for Step {
    /// `lab[3] { one = 102, servers = 2, retry = false }`, for messages.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "lab[{}] {{ {} }}", self.position, self.action)
    }
}

/// A script error: where (byte offset in the file, or in the step's own text
/// when the file is not at hand), which key, what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabError {
    /// Byte offset in the scenario text.
    pub offset: usize,
    /// Dotted key: `protocol.lab[3].servers`.
    pub key: String,
    /// What is wrong and what is allowed.
    pub message: String,
}
