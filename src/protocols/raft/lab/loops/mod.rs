//! The lab tests whose bodies are loops over random choices, ported line by
//! line with the lab's constants. Each is a state machine: `phase` says where
//! in the Go function it stands, and a poll runs until the next sleep or call.
//! Randomness comes from the driver's stream only.

mod persistence;
mod replication;
mod snapshots;

use self::persistence::{Churn, Figure8, Figure8Unreliable, UnreliableAgree};
use self::replication::{Backup, ConcurrentStarts, CountAgreements, ManyElections};
use self::snapshots::{SnapshotAllCrash, Snapshots};
use super::ops::Proc;
use super::script::Builtin;

/// The procedure of a built-in loop.
pub fn start(builtin: &Builtin) -> Box<dyn Proc> {
    match *builtin {
        Builtin::ManyElections { iterations } => Box::new(ManyElections {
            iterations,
            round: 0,
            out: Vec::new(),
        }),
        Builtin::ConcurrentStarts { tries, concurrent } => Box::new(ConcurrentStarts {
            tries,
            concurrent,
            attempt: 0,
            phase: 0,
            leader: 0,
            term: 0,
            indexes: Vec::new(),
            values: Vec::new(),
        }),
        Builtin::CountAgreements { tries, count, max } => Box::new(CountAgreements {
            tries,
            count,
            max,
            attempt: 0,
            phase: 0,
            leader: 0,
            term: 0,
            first: 0,
            total1: 0,
            values: Vec::new(),
            checked: 0,
        }),
        Builtin::Backup { count } => Box::new(Backup {
            count,
            phase: 0,
            leader1: 0,
            other: 0,
            done: 0,
        }),
        Builtin::Figure8 { iterations } => Box::new(Figure8 {
            iterations,
            iteration: 0,
            up: 0,
            leader: None,
            sleeping: false,
        }),
        Builtin::Figure8Unreliable {
            iterations,
            long_reordering_at,
        } => Box::new(Figure8Unreliable {
            iterations,
            long_reordering_at,
            iteration: 0,
            up: 0,
            leader: None,
            sleeping: false,
        }),
        Builtin::UnreliableAgree {
            iterations,
            concurrent,
        } => Box::new(UnreliableAgree {
            iterations,
            concurrent,
            round: 1,
            background: Vec::new(),
            joined: false,
        }),
        Builtin::Churn {
            iterations,
            clients,
        } => Box::new(Churn {
            iterations,
            clients,
            phase: 0,
            iteration: 0,
            tasks: Vec::new(),
            values: Vec::new(),
            last: 0,
            index: 0,
            really: Vec::new(),
        }),
        Builtin::Snapshots {
            iterations,
            victim,
            persisted_below,
        } => Box::new(Snapshots {
            iterations,
            kind: victim,
            persisted_below,
            iteration: 0,
            phase: 0,
            leader1: 0,
            victim: 0,
        }),
        Builtin::SnapshotAllCrash { iterations } => Box::new(SnapshotAllCrash {
            iterations,
            iteration: 0,
            phase: 0,
            remaining: 0,
            index1: 0,
        }),
    }
}
