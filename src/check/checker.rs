//! Checkers: observers that judge a run.
//!
//! A checker watches the world — every node's state read-only, and each step as it
//! happens — and reports violations of its properties:
//! - *always* (safety): must hold after every step; checked as the run goes, and
//!   the run stops at the first violation;
//! - *eventually* (liveness): must hold by the end of the liveness window that
//!   follows the fault phase;
//! - *sometimes* (coverage): named points protocols mark with `Ctx::sometimes`;
//!   a run reports which fired.
//!
//! Checkers live outside the protocol's nodes: a bug in a node cannot hide itself
//! by also breaking its own assertion logic.

use crate::sim::{Protocol, Step, World};
use serde::Serialize;

/// The kind of property a violation breaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Property {
    /// Safety: must hold after every step.
    Always,
    /// Liveness: must hold by the end of the liveness window.
    Eventually,
    /// Coverage: a situation that should be reached.
    Sometimes,
    /// A check that could not decide within its budget: neither a pass nor a
    /// violation, and reported as its own verdict.
    Undecided,
}

/// What a checker found wrong: which declared property broke (its canonical
/// name, as the protocol's spec declares it), of which kind, and in words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// The property's canonical name (`election_safety`, `delivery`).
    pub property: &'static str,
    /// Safety or liveness.
    pub kind: Property,
    /// What went wrong, in words.
    pub message: String,
}

impl Finding {
    /// A safety (*always*) property broke.
    pub fn always(property: &'static str, message: impl Into<String>) -> Self {
        Finding {
            property,
            kind: Property::Always,
            message: message.into(),
        }
    }

    /// A check of `property` ran out of its budget before deciding.
    pub fn undecided(property: &'static str, message: impl Into<String>) -> Self {
        Finding {
            property,
            kind: Property::Undecided,
            message: message.into(),
        }
    }

    /// A liveness (*eventually*) property did not come to hold.
    pub fn eventually(property: &'static str, message: impl Into<String>) -> Self {
        Finding {
            property,
            kind: Property::Eventually,
            message: message.into(),
        }
    }
}

/// A property that did not hold.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// The checker that found it.
    pub checker: String,
    /// The broken property's canonical name (for runner findings: `panic`,
    /// `bounds`, `declarations`).
    pub name: String,
    /// Safety, liveness or coverage.
    pub property: Property,
    /// What went wrong, in words.
    pub message: String,
    /// True virtual time (ns) when it was found.
    pub time: u64,
    /// Index of the last trace event before it was found.
    pub event: u64,
}

/// An observer of a run. See the module documentation.
pub trait Checker<P: Protocol> {
    /// A short name (`election_safety`, `delivery`).
    fn name(&self) -> &'static str;

    /// Called after every step; returns a safety (*always*) violation, if any.
    fn after_step(&mut self, world: &World<P>, step: Step) -> Option<Finding> {
        let _ = (world, step);
        None
    }

    /// Called once at the end of the liveness window; returns violations of
    /// *eventually* properties (and any final safety checks, labelled *always*).
    fn at_end(&mut self, world: &World<P>) -> Vec<Finding> {
        let _ = world;
        Vec::new()
    }

    /// Called after [`Checker::at_end`]: numbers this checker measured over
    /// the run, each under a name the protocol declares in its `MEASURES`
    /// (the damage a violation did, how often something happened). Default
    /// none.
    fn measures(&self) -> Vec<(&'static str, f64)> {
        Vec::new()
    }
}

/// The entry at `index` of a table indexed by log index or slot, grown with
/// defaults on demand (checkers keep their records this way: dense, and far
/// cheaper than a map over a long run).
pub fn entry_at<T: Default>(table: &mut Vec<T>, index: u64) -> &mut T {
    let index = index as usize;
    if table.len() <= index {
        table.resize_with(index + 1, T::default);
    }
    &mut table[index]
}
