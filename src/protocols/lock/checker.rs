//! What a lock run is judged by.
//!
//! - **`resource_safe`** (always): the resource never accepted an operation under
//!   a grant that was already superseded there — that is, after it had accepted
//!   an operation under a later grant. "Later" is the token order where grants
//!   carry tokens (`single`), and the order in which clients learned their grants
//!   otherwise (Redlock has no token). Fencing makes this hold by construction;
//!   without it, each such operation is damage, and the run reports all of it at
//!   the end: stale operations and stale writes accepted, increments lost (writes
//!   applied minus the final counter) and appends lost (writes applied minus the
//!   final list's length).
//! - **`tokens_increase`** (always, designs with tokens): a grant's token is above
//!   the token of every grant that completed before it was asked for.
//! - **`lease_exclusive`** (always, while the clocks keep the lease's
//!   assumption): no two clients act under grants whose leases have not ended on
//!   their own clocks at the same moment. This is the mutex model made
//!   lease-aware: a holder's hold runs from its grant to its release or to the
//!   end of its lease on its own clock, whichever comes first, and holds must
//!   not overlap. A lease can promise that only while every clock runs at a rate
//!   within the drift margin of true time and none jumps (Gray and Cheriton's
//!   leases; Redlock's `drift`): each clock may drift by half the margin
//!   ([`LockChecker::drift_bound_ppm`]), so two clocks differ by at most the
//!   margin. Once a clock jumps (a skew with an offset, or a reset of a clock
//!   that had moved off true time, as the heal does) or drifts faster, the
//!   property is off for the rest of the run, and overlaps are only counted:
//!   that is the regime where only fencing protects the resource.
//! - **`operations_complete`** (eventually): after the faults heal, every acquire,
//!   incr and release a client started has finished, granted or given up.
//! - **`regranted_after_heal`** (eventually): once the faults heal, the lock is
//!   granted again within a bound (the lock's TTL, for an old lease or a
//!   restarted server's delay or a new leader's grace to run out, plus an
//!   election, an expiry check, the last holder's critical section and a few
//!   round trips: [`LockChecker::regrant_bound`]), unless every client that was
//!   waiting for it at the heal has given up by then.
//!
//! Beside the verdict the checker measures *double holding*: moments when two
//! clients each act under a grant whose lease has not ended on its own clock.
//! Under broken clocks a lease cannot rule that out (a jumped server clock, a
//! client clock that runs slow); fencing makes it harmless. It is reported in
//! the `resource_safe` message when that property fails.

use super::{GrantId, LockDesign, LockService};
use crate::check::{Checker, Finding};
use crate::sim::world::Clock;
use crate::sim::{EventType, Step, World};
use std::collections::BTreeMap;

/// The lock checker (see the module documentation).
#[derive(Clone, Debug)]
pub struct LockChecker {
    design: LockDesign,
    nodes: usize,
    resource: usize,
    /// When each grant was learned by its client (true time), and its token.
    grants: BTreeMap<GrantId, (u64, Option<u64>)>,
    resource_incarnation: u32,
    resource_cursor: usize,
    /// The latest grant the resource has accepted an operation under.
    newest: Option<(u64, GrantId)>,
    stale_ops: u64,
    stale_writes: u64,
    first_stale: Option<String>,
    history_cursor: usize,
    /// The highest token of an acquire completed so far.
    completed_max: Option<i64>,
    /// Per process: the highest completed token when its acquire was invoked.
    asked_after: BTreeMap<u64, Option<i64>>,
    double_episodes: u64,
    double_now: bool,
    /// The most any clock may drift, in ppm, for leases to be exclusive.
    drift_bound_ppm: i64,
    /// Every process's clock as last seen, while the clocks keep the lease's
    /// assumption; `None` once a clock broke it.
    clocks: Option<Vec<Clock>>,
    /// How long after the heal a waiting client must be granted the lock.
    regrant_bound: u64,
    /// When the faults healed, once they have.
    healed: Option<u64>,
    /// Increments lost, once the run's end has been judged.
    lost_increments: Option<i64>,
}

impl LockChecker {
    /// A checker for a run of `design` with `servers` lock servers and `nodes`
    /// nodes in all, whose leases end `margin` before `ttl` on the client's
    /// clock.
    pub fn new(
        design: LockDesign,
        servers: usize,
        nodes: usize,
        ttl: crate::sim::time::Duration,
        margin: crate::sim::time::Duration,
    ) -> Self {
        LockChecker {
            design,
            nodes,
            resource: servers,
            grants: BTreeMap::new(),
            resource_incarnation: 0,
            resource_cursor: 0,
            newest: None,
            stale_ops: 0,
            stale_writes: 0,
            first_stale: None,
            history_cursor: 0,
            completed_max: None,
            asked_after: BTreeMap::new(),
            double_episodes: 0,
            double_now: false,
            drift_bound_ppm: Self::drift_bound_ppm(ttl, margin),
            clocks: Some(Vec::new()),
            regrant_bound: u64::MAX,
            healed: None,
            lost_increments: None,
        }
    }

    /// The checker with `regranted_after_heal` on: after the heal a waiting
    /// client must be granted the lock within `bound`.
    pub fn with_regrant_bound(mut self, bound: crate::sim::time::Duration) -> Self {
        self.regrant_bound = bound.0;
        self
    }

    /// How long after the heal the lock may stay ungranted while a client waits
    /// for it, for a lock with this configuration: what is still holding it at
    /// the heal must run out (an old lease, a restarted server's delay, a new
    /// leader's grace period: one TTL, each on a clock the heal set right),
    /// then the expiry must be noticed and the waiter told: two elections (one
    /// may split), the expiry check (every TTL/10), one critical section (a
    /// holder that resumed at the heal finishes it and releases) and, for slack,
    /// ten client-to-server timeouts and one retry delay.
    pub fn regrant_bound(config: &super::LockConfig) -> crate::sim::time::Duration {
        let election = match config.design {
            LockDesign::Consensus => {
                2 * config.election_timeout.max.0 + config.heartbeat_interval.0
            }
            _ => 0,
        };
        crate::sim::time::Duration(
            config.ttl.0
                + election
                + config.ttl.0 / 10
                + config.hold.max.0
                + 10 * config.server_timeout.0
                + config.retry_delay.0,
        )
    }

    /// The `regranted_after_heal` finding, if the lock stayed ungranted too
    /// long after the heal while a client waited.
    fn regranted(&self, world: &World<LockService>) -> Option<Finding> {
        let healed = self.healed?;
        let by = healed.saturating_add(self.regrant_bound);
        let history = world.history();
        let granted = history.iter().any(|e| {
            e.f == "acquire" && e.kind == EventType::Ok && e.time >= healed && e.time <= by
        });
        if granted {
            return None;
        }
        // The acquires open at the heal, and when each ended (if it did).
        let mut open: BTreeMap<u64, Option<u64>> = BTreeMap::new();
        for event in history {
            if event.time < healed {
                match (event.kind, event.f.as_str()) {
                    (EventType::Invoke, "acquire") => {
                        open.insert(event.process, None);
                    }
                    _ => {
                        open.remove(&event.process);
                    }
                }
            } else if event.kind != EventType::Invoke
                && let Some(end @ None) = open.get_mut(&event.process)
            {
                *end = Some(event.time);
            }
        }
        let (process, end) = open
            .iter()
            .find(|(_, end)| end.is_none_or(|end| end > by))?;
        let fate = match end {
            Some(end) => format!("it ended at {}", crate::sim::time::format_nanos(*end)),
            None => "it never ended".to_string(),
        };
        Some(Finding::eventually(
            "regranted_after_heal",
            format!(
                "the faults healed at {} and client {process} was waiting for the lock, but no client was granted it within {} ({fate})",
                crate::sim::time::format_nanos(healed),
                crate::sim::time::Duration(self.regrant_bound),
            ),
        ))
    }

    /// The fastest any one clock may drift (either way, in parts per million)
    /// for a lease that ends `margin` early to stay exclusive: half the margin
    /// as a fraction of the TTL, so that a server's clock and a client's
    /// clock drifting apart differ by at most the margin.
    pub fn drift_bound_ppm(
        ttl: crate::sim::time::Duration,
        margin: crate::sim::time::Duration,
    ) -> i64 {
        (u128::from(margin.0) * 1_000_000 / u128::from(ttl.0.max(1)) / 2) as i64
    }

    /// Whether every clock has kept the lease's assumption so far (none jumped,
    /// none drifted beyond [`Self::drift_bound_ppm`]).
    pub fn clocks_kept(&self) -> bool {
        self.clocks.is_some()
    }

    /// Looks at every clock: a jump since the last look, or a drift beyond the
    /// bound, turns `lease_exclusive` off for the rest of the run.
    fn look_at_clocks(&mut self, world: &World<LockService>) {
        let Some(seen) = &mut self.clocks else {
            return;
        };
        let now = world.now();
        for id in 0..self.nodes + world.client_count() {
            let clock = world.clock(id);
            let jumped = seen
                .get(id)
                .is_some_and(|before| *before != clock && before.local(now) != clock.local(now));
            if jumped || clock.drift_ppm().abs() > self.drift_bound_ppm {
                self.clocks = None;
                return;
            }
            match seen.get_mut(id) {
                Some(slot) => *slot = clock,
                None => seen.push(clock),
            }
        }
    }

    /// Times two clients each acted under a lease that had not ended on its own
    /// clock, so far.
    pub fn double_holder_episodes(&self) -> u64 {
        self.double_episodes
    }

    /// Stale operations (and of them, writes) the resource accepted so far.
    pub fn stale(&self) -> (u64, u64) {
        (self.stale_ops, self.stale_writes)
    }

    /// The order key of a grant: its token where grants have one, else when its
    /// client learned it.
    fn order(&self, grant: GrantId) -> u64 {
        let (learned, token) = self.grants.get(&grant).copied().unwrap_or((0, None));
        match self.design {
            LockDesign::Single | LockDesign::Consensus => token.unwrap_or(0),
            LockDesign::Redlock => learned,
        }
    }

    fn look_at_clients(&mut self, world: &World<LockService>) -> Option<Finding> {
        let mut acting = [None; 2];
        let mut count = 0;
        for index in 0..world.client_count() {
            let Some(held) = world.client(index).held() else {
                continue;
            };
            self.grants
                .entry(held.id)
                .or_insert((world.now(), held.token));
            let local = world.local_time(self.nodes + index);
            if local < held.deadline {
                if count < 2 {
                    acting[count] = Some((held.id, held.deadline - local));
                }
                count += 1;
            }
        }
        let double = count >= 2;
        let starts = double && !self.double_now;
        self.double_now = double;
        if !starts {
            return None;
        }
        self.double_episodes += 1;
        if !self.clocks_kept() {
            return None;
        }
        let [Some((first, first_left)), Some((second, second_left))] = acting else {
            return None;
        };
        Some(Finding::always(
            "lease_exclusive",
            format!(
                "grant {first} (lease ends in {} on its client's clock) and grant {second} (ends in {}) were both held, though every clock had kept within {} ppm of true time and none had jumped",
                crate::sim::time::Duration(first_left),
                crate::sim::time::Duration(second_left),
                self.drift_bound_ppm,
            ),
        ))
    }

    fn look_at_resource(&mut self, world: &World<LockService>) {
        if !world.is_up(self.resource) {
            return;
        }
        let incarnation = world.incarnation(self.resource);
        if incarnation != self.resource_incarnation {
            self.resource_incarnation = incarnation;
            self.resource_cursor = 0;
        }
        let Some(resource) = world.node(self.resource).resource() else {
            return;
        };
        let accepted = resource.accepted();
        while self.resource_cursor < accepted.len() {
            let op = accepted[self.resource_cursor];
            self.resource_cursor += 1;
            let key = self.order(op.grant);
            match self.newest {
                Some((newest_key, newest)) if key < newest_key && newest != op.grant => {
                    self.stale_ops += 1;
                    if op.write {
                        self.stale_writes += 1;
                    }
                    if self.first_stale.is_none() {
                        let what = if op.write { "write" } else { "read" };
                        let token = op
                            .token
                            .map_or(String::new(), |token| format!(" (token {token})"));
                        self.first_stale = Some(format!(
                            "at {:.3}s the resource accepted a {what} under grant {}{token} after it had accepted one under the later grant {newest}",
                            world.now() as f64 / 1e9,
                            op.grant
                        ));
                    }
                }
                Some((newest_key, _)) if key <= newest_key => {}
                _ => self.newest = Some((key, op.grant)),
            }
        }
    }

    fn look_at_history(&mut self, world: &World<LockService>) -> Option<Finding> {
        let history = world.history();
        while self.history_cursor < history.len() {
            let event = &history[self.history_cursor];
            self.history_cursor += 1;
            if event.f != "acquire" {
                continue;
            }
            match event.kind {
                EventType::Invoke => {
                    self.asked_after.insert(event.process, self.completed_max);
                }
                EventType::Ok => {
                    let crate::sim::Value::Int(token) = event.value else {
                        continue;
                    };
                    let bound = self.asked_after.remove(&event.process).flatten();
                    if self.design != LockDesign::Redlock
                        && let Some(bound) = bound
                        && token <= bound
                    {
                        return Some(Finding::always(
                            "tokens_increase",
                            format!(
                                "client {} was granted token {token}, but token {bound} had already been granted before it asked",
                                event.process
                            ),
                        ));
                    }
                    self.completed_max =
                        Some(self.completed_max.map_or(token, |max| max.max(token)));
                }
                _ => {
                    self.asked_after.remove(&event.process);
                }
            }
        }
        None
    }
}

impl Checker<LockService> for LockChecker {
    fn name(&self) -> &'static str {
        "lock"
    }

    fn after_step(&mut self, world: &World<LockService>, step: Step) -> Option<Finding> {
        if step == Step::Fault && self.healed.is_none() && !world.workload_open() {
            self.healed = Some(world.now());
        }
        match step {
            Step::Delivered { to, .. } if to == self.resource => self.look_at_resource(world),
            Step::Fault | Step::Driver => self.look_at_resource(world),
            _ => {}
        }
        if matches!(step, Step::Fault | Step::Driver)
            || self.clocks.as_ref().is_some_and(Vec::is_empty)
        {
            self.look_at_clocks(world);
        }
        if let Some(finding) = self.look_at_clients(world) {
            return Some(finding);
        }
        self.look_at_history(world)
    }

    fn at_end(&mut self, world: &World<LockService>) -> Vec<Finding> {
        let mut findings = Vec::new();
        self.look_at_resource(world);
        let resource = world.node(self.resource).resource();
        let (writes, counter, list) = resource.map_or((0, 0, 0), |resource| {
            (
                resource.writes() as i64,
                resource.counter(),
                resource.list().len() as i64,
            )
        });
        self.lost_increments = Some((writes - counter).max(0));
        if self.stale_ops > 0 {
            let mut message = format!(
                "{} stale operations accepted ({} writes); {} of {writes} increments lost (counter {counter}), {} appends lost (list of {list})",
                self.stale_ops,
                self.stale_writes,
                (writes - counter).max(0),
                (writes - list).max(0),
            );
            if self.double_episodes > 0 {
                message.push_str(&format!(
                    "; two clients acted under unexpired leases {} times",
                    self.double_episodes
                ));
            }
            if let Some(first) = &self.first_stale {
                message.push_str("; first: ");
                message.push_str(first);
            }
            findings.push(Finding::always("resource_safe", message));
        }
        let mut open = BTreeMap::new();
        for event in world.history() {
            match event.kind {
                EventType::Invoke => {
                    open.insert(event.process, event.f.clone());
                }
                _ => {
                    open.remove(&event.process);
                }
            }
        }
        if let Some(finding) = self.regranted(world) {
            findings.push(finding);
        }
        if let Some((process, f)) = open.iter().next() {
            findings.push(Finding::eventually(
                "operations_complete",
                format!(
                    "client {process}'s {f} never finished ({} operations open at the end)",
                    open.len()
                ),
            ));
        }
        findings
    }

    fn measures(&self) -> Vec<(&'static str, f64)> {
        let mut measured = vec![
            (
                "lock_double_holder",
                f64::from(u8::from(self.double_episodes > 0)),
            ),
            ("lock_double_holder_episodes", self.double_episodes as f64),
            (
                "lock_stale_write",
                f64::from(u8::from(self.stale_writes > 0)),
            ),
            ("lock_stale_writes", self.stale_writes as f64),
        ];
        if let Some(lost) = self.lost_increments {
            measured.push(("lock_lost_increments", lost as f64));
        }
        measured
    }
}
