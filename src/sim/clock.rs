//! A node's local clock: true virtual time seen through an offset and a drift.
//!
//! Timers and leases run on local clocks, so skew faults bend them: a clock that
//! jumps back re-lives time, one that runs fast expires leases early.

/// A node's local clock: piecewise linear in true time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Clock {
    base_true: u64,
    base_local: i64,
    drift_ppm: i64,
}

impl Clock {
    /// Local time at true time `now` (never below 0).
    #[inline]
    pub fn local(&self, now: u64) -> u64 {
        let elapsed = now.saturating_sub(self.base_true) as i64;
        let local = if self.drift_ppm == 0 {
            self.base_local + elapsed
        } else {
            self.base_local
                + elapsed
                + ((elapsed as i128 * self.drift_ppm as i128) / 1_000_000) as i64
        };
        local.max(0) as u64
    }

    /// The true time that passes while this clock advances by `local_delay`.
    #[inline]
    pub fn true_delay(&self, local_delay: u64) -> u64 {
        if self.drift_ppm == 0 {
            local_delay
        } else {
            (local_delay as i128 * 1_000_000 / (1_000_000 + self.drift_ppm) as i128) as u64
        }
    }

    /// Jumps the clock by `offset` and sets its drift, from true time `now` on.
    pub fn skew(&mut self, now: u64, offset: i64, drift_ppm: i64) {
        let current = self.local(now) as i64;
        self.base_true = now;
        self.base_local = current + offset;
        self.drift_ppm = drift_ppm.clamp(-500_000, 500_000);
    }

    /// Puts the clock back to true time, no drift.
    pub fn reset(&mut self, now: u64) {
        *self = Clock {
            base_true: now,
            base_local: now as i64,
            drift_ppm: 0,
        };
    }

    /// Whether the clock runs off true time (an offset or a drift).
    pub fn is_skewed(&self, now: u64) -> bool {
        self.drift_ppm != 0 || self.local(now) != now
    }

    /// Current drift in ppm.
    pub fn drift_ppm(&self) -> i64 {
        self.drift_ppm
    }
}
