//! Drivers: omniscient test programs that run alongside a scenario.
//!
//! Some tests cannot be written as a fixed fault timeline because what to do next
//! depends on what the cluster did: the MIT 6.824 Raft tester finds the current
//! leader, disconnects it, submits a command to whoever leads next, and fails if
//! that command is not committed on enough servers within two seconds. A driver
//! is such a tester. It tells the runner when it wants to wake (true virtual
//! time); the runner runs the world up to and including that moment, sets the
//! clock to exactly that time and hands the driver the world to read and act on:
//! inject messages ([`World::inject`]), apply faults now
//! ([`World::apply_fault_now`]), set labels ([`World::set_label`]), switch long
//! reordering on ([`World::set_long_delay`]). What it finds wrong it returns as
//! violations, which stop the run like a checker's *always* violations do.
//!
//! A driver sees the world only between events, never inside a handler, and
//! everything it does goes through the world's traced, hashed paths, so a run with
//! a driver is as deterministic as one without. A driver that needs randomness
//! draws it from its own named stream (`sim::rng::stream(seed, "driver", 0)`), so
//! it never disturbs the streams the world uses.

use crate::check::Finding;
use crate::sim::{Protocol, World};

/// An omniscient test program woken at virtual times of its choosing. See the
/// module documentation.
pub trait Driver<P: Protocol> {
    /// The name its violations are reported under (like a checker's name).
    fn name(&self) -> &'static str;

    /// True virtual time (ns) of the next wake, or `None` when it has nothing
    /// more to do. Asked again after every wake. Every world event at or before
    /// that time runs first; a time already past means "now". Wakes at or after
    /// the end of the run are not run.
    fn next_wake(&self) -> Option<u64>;

    /// Called with the clock at exactly the wake time. Returns the violations it
    /// found (empty if all is well); any violation stops the run.
    fn wake(&mut self, world: &mut World<P>) -> Vec<Finding>;

    /// Called once at the end of the run, after the checkers' `at_end`, unless
    /// the run already stopped at a violation. Returns final violations.
    fn at_end(&mut self, world: &World<P>) -> Vec<Finding> {
        let _ = world;
        Vec::new()
    }
}
