//! What a balancer believes about each backend's health, from three sources
//! that may be combined:
//!
//! - **active checks** (HAProxy): every `inter` the balancer asks each
//!   backend; `fall` consecutive failures (no answer within `timeout`) take it
//!   down, `rise` consecutive successes bring it back. A backend starts up.
//! - **passive checks** (Nginx): `max_fails` failed tries within
//!   `fail_timeout` of the first of them take it down for `fail_timeout`; a
//!   successful try clears the count.
//! - **outlier ejection** (Envoy): `consecutive_errors` failed tries in a row
//!   eject it for `base_ejection` × the number of times it has been ejected,
//!   unless that would eject more than `max_ejection_percent` of the backends
//!   (one may always be); ejections that have run their time are lifted at
//!   the next `interval` tick.
//!
//! A backend is *in rotation* when no source holds it out. Everything here is
//! a plain state machine over local times; the balancer feeds it events and
//! sets the timers it asks for.

use super::{ActiveChecks, OutlierDetection, PassiveChecks};

/// One backend's health as a balancer sees it.
#[derive(Clone, Debug, Default)]
pub struct BackendHealth {
    /// Active checks: down after `fall` failures.
    pub active_down: bool,
    /// Active checks: consecutive successes (while down) or failures (while
    /// up) so far.
    streak: u32,
    /// Passive: failures counted since `first_fail`.
    fails: u32,
    first_fail: u64,
    /// Passive: down until this local time.
    pub passive_down_until: Option<u64>,
    /// Outlier: consecutive failed tries.
    consecutive: u32,
    /// Outlier: times ejected so far.
    pub times_ejected: u32,
    /// Outlier: ejected until this local time (lifted at the next interval
    /// tick after it).
    pub ejected_until: Option<u64>,
}

impl BackendHealth {
    /// Whether no source holds it out of rotation.
    pub fn in_rotation(&self) -> bool {
        !self.active_down && self.passive_down_until.is_none() && self.ejected_until.is_none()
    }
}

/// What a try's failure did to the backend's health.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FailureEffect {
    /// Passive checks took it down until this local time (set a timer).
    pub passive_down_until: Option<u64>,
    /// Outlier detection ejected it.
    pub ejected: bool,
    /// Outlier detection would have ejected it but the cap stopped it.
    pub capped: bool,
}

/// Every backend's health at one balancer.
#[derive(Clone, Debug)]
pub struct Health {
    active: Option<ActiveChecks>,
    passive: Option<PassiveChecks>,
    outlier: Option<OutlierDetection>,
    backends: Vec<BackendHealth>,
    ejected: usize,
}

impl Health {
    /// Every backend up, with the configured sources.
    pub fn new(
        backends: usize,
        active: Option<ActiveChecks>,
        passive: Option<PassiveChecks>,
        outlier: Option<OutlierDetection>,
    ) -> Self {
        Health {
            active,
            passive,
            outlier,
            backends: vec![BackendHealth::default(); backends],
            ejected: 0,
        }
    }

    /// Backend `index`'s health.
    pub fn backend(&self, index: usize) -> &BackendHealth {
        &self.backends[index]
    }

    /// Whether backend `index` is in rotation.
    pub fn in_rotation(&self, index: usize) -> bool {
        self.backends[index].in_rotation()
    }

    /// Backends ejected by outlier detection now.
    pub fn ejected(&self) -> usize {
        self.ejected
    }

    /// An active check of `index` succeeded (`ok`) or failed.
    pub fn check_result(&mut self, index: usize, ok: bool) {
        let Some(active) = self.active else { return };
        let health = &mut self.backends[index];
        if health.active_down == ok {
            // A result against the current state extends the streak.
            health.streak += 1;
            let needed = if ok { active.rise } else { active.fall };
            if health.streak >= needed {
                health.active_down = !ok;
                health.streak = 0;
            }
        } else {
            health.streak = 0;
        }
    }

    /// A try at `index` succeeded.
    pub fn try_succeeded(&mut self, index: usize) {
        let health = &mut self.backends[index];
        health.fails = 0;
        health.consecutive = 0;
    }

    /// A try at `index` failed (timed out or was refused) at local time `now`.
    pub fn try_failed(&mut self, index: usize, now: u64) -> FailureEffect {
        let mut effect = FailureEffect::default();
        let backends = self.backends.len();
        let health = &mut self.backends[index];
        if let Some(passive) = self.passive
            && health.passive_down_until.is_none()
        {
            if health.fails == 0 || now.saturating_sub(health.first_fail) > passive.fail_timeout.0 {
                health.fails = 0;
                health.first_fail = now;
            }
            health.fails += 1;
            if health.fails >= passive.max_fails {
                health.fails = 0;
                let until = now + passive.fail_timeout.0;
                health.passive_down_until = Some(until);
                effect.passive_down_until = Some(until);
            }
        }
        if let Some(outlier) = self.outlier
            && health.ejected_until.is_none()
        {
            health.consecutive += 1;
            if health.consecutive >= outlier.consecutive_errors {
                health.consecutive = 0;
                let cap = backends * outlier.max_ejection_percent as usize / 100;
                if self.ejected == 0 || self.ejected < cap {
                    health.times_ejected += 1;
                    health.ejected_until =
                        Some(now + outlier.base_ejection.0 * u64::from(health.times_ejected));
                    self.ejected += 1;
                    effect.ejected = true;
                } else {
                    effect.capped = true;
                }
            }
        }
        effect
    }

    /// A passive down time may have ended at local time `now`.
    pub fn passive_restore(&mut self, index: usize, now: u64) {
        let health = &mut self.backends[index];
        if health.passive_down_until.is_some_and(|until| until <= now) {
            health.passive_down_until = None;
        }
    }

    /// The outlier interval ticked at local time `now`: lifts the ejections
    /// that have run their time; returns the backends lifted.
    pub fn outlier_tick(&mut self, now: u64) -> Vec<usize> {
        let mut lifted = Vec::new();
        for (index, health) in self.backends.iter_mut().enumerate() {
            if health.ejected_until.is_some_and(|until| until <= now) {
                health.ejected_until = None;
                lifted.push(index);
            }
        }
        self.ejected -= lifted.len();
        lifted
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::time::Duration;

    fn active() -> ActiveChecks {
        ActiveChecks {
            inter: Duration::from_secs(2),
            rise: 2,
            fall: 3,
            timeout: Duration::from_secs(1),
        }
    }

    #[test]
    fn active_checks_fall_after_three_failures_and_rise_after_two_successes() {
        let mut health = Health::new(2, Some(active()), None, None);
        health.check_result(0, false);
        health.check_result(0, false);
        assert!(health.in_rotation(0), "two failures are not enough");
        health.check_result(0, true);
        health.check_result(0, false);
        health.check_result(0, false);
        assert!(health.in_rotation(0), "a success broke the streak");
        health.check_result(0, false);
        assert!(!health.in_rotation(0), "three in a row: down");
        health.check_result(0, true);
        assert!(!health.in_rotation(0));
        health.check_result(0, true);
        assert!(health.in_rotation(0), "two successes: back");
        assert!(health.in_rotation(1));
    }

    #[test]
    fn passive_checks_count_failures_within_the_window() {
        let passive = PassiveChecks {
            max_fails: 2,
            fail_timeout: Duration::from_secs(10),
        };
        let mut health = Health::new(1, None, Some(passive), None);
        let s = 1_000_000_000;
        assert_eq!(health.try_failed(0, 0).passive_down_until, None);
        // The second failure comes after the window: the count starts over.
        assert_eq!(health.try_failed(0, 11 * s).passive_down_until, None);
        let effect = health.try_failed(0, 12 * s);
        assert_eq!(effect.passive_down_until, Some(22 * s));
        assert!(!health.in_rotation(0));
        health.passive_restore(0, 21 * s);
        assert!(!health.in_rotation(0));
        health.passive_restore(0, 22 * s);
        assert!(health.in_rotation(0));
    }

    #[test]
    fn outlier_ejection_grows_with_each_ejection_and_respects_the_cap() {
        let outlier = OutlierDetection {
            consecutive_errors: 2,
            interval: Duration::from_secs(10),
            base_ejection: Duration::from_secs(30),
            max_ejection_percent: 10,
        };
        let s = 1_000_000_000;
        let mut health = Health::new(10, None, None, Some(outlier));
        health.try_failed(0, 0);
        let effect = health.try_failed(0, 0);
        assert!(effect.ejected);
        assert_eq!(health.backend(0).ejected_until, Some(30 * s));
        // 10% of 10 is one backend: a second is capped.
        health.try_failed(1, 0);
        assert!(health.try_failed(1, 0).capped);
        assert!(health.in_rotation(1));
        assert_eq!(health.outlier_tick(20 * s), Vec::<usize>::new());
        assert_eq!(health.outlier_tick(30 * s), vec![0]);
        // Ejected a second time: twice as long.
        health.try_failed(0, 40 * s);
        health.try_failed(0, 40 * s);
        assert_eq!(health.backend(0).ejected_until, Some(100 * s));
        health.try_succeeded(1);
    }
}
