//! The random nemesis and swarm testing.
//!
//! With swarm testing on, each seed first draws its own parameters from the
//! scenario's ranges: which fault kinds to use (a random non-empty subset), the mean
//! gap between faults, the longest a fault lasts, and the network's loss and
//! duplication rates. Different seeds therefore stress different corners, and the
//! report prints every drawn parameter next to the seed. The schedule itself is
//! drawn up front from its own stream, so it never depends on what the protocol
//! does.

use crate::scenario::{NemesisConfig, NemesisFault};
use crate::sim::fault::{ClientPick, Fault, SlowFactor, Target, TimedFault};
use crate::sim::rng::{self, Rng, between, chance, open_unit};
use crate::sim::time::Duration;
use rand::Rng as _;
use serde::Serialize;

/// The parameters one seed drew.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SwarmDraw {
    /// Fault kinds in use.
    pub faults: Vec<NemesisFault>,
    /// Mean gap between faults.
    pub interval_mean: Duration,
    /// Longest fault.
    pub fault_duration_max: Duration,
    /// Network drop probability, if the nemesis overrides it.
    pub drop_probability: Option<f64>,
    /// Network duplicate probability, if the nemesis overrides it.
    pub duplicate_probability: Option<f64>,
}

impl SwarmDraw {
    /// One line for the run report.
    pub fn describe(&self) -> String {
        let faults: Vec<String> = self
            .faults
            .iter()
            .map(|fault| {
                serde_json::to_value(fault)
                    .ok()
                    .and_then(|v| v.as_str().map(String::from))
                    .unwrap_or_default()
            })
            .collect();
        let mut text = format!(
            "faults [{}], mean interval {}, fault duration <= {}",
            faults.join(", "),
            self.interval_mean,
            self.fault_duration_max
        );
        if let Some(p) = self.drop_probability {
            text.push_str(&format!(", drop {p:.4}"));
        }
        if let Some(p) = self.duplicate_probability {
            text.push_str(&format!(", duplicate {p:.4}"));
        }
        text
    }
}

fn uniform_duration(rng: &mut Rng, min: Duration, max: Duration) -> Duration {
    Duration(between(rng, min.0, max.0))
}

fn uniform_probability(rng: &mut Rng, min: f64, max: f64) -> f64 {
    if max <= min {
        min
    } else {
        min + (max - min) * rng.r#gen::<f64>()
    }
}

/// Draws this seed's parameters (stream `swarm`).
pub fn draw(config: &NemesisConfig, seed: u64) -> SwarmDraw {
    let mut rng = rng::stream(seed, "swarm", 0);
    let all = config.faults.get_ref();
    let interval = config.interval.get_ref();
    if !config.swarm {
        let mid = |min: Duration, max: Duration| Duration(min.0 + (max.0 - min.0) / 2);
        return SwarmDraw {
            faults: all.clone(),
            interval_mean: mid(interval.min, interval.max),
            fault_duration_max: config.duration.max,
            drop_probability: config
                .drop_probability
                .map(|range| (range.min + range.max) / 2.0),
            duplicate_probability: config
                .duplicate_probability
                .map(|range| (range.min + range.max) / 2.0),
        };
    }
    let mut faults: Vec<NemesisFault> = all
        .iter()
        .copied()
        .filter(|_| chance(&mut rng, 0.5))
        .collect();
    if faults.is_empty() {
        faults.push(all[rng.gen_range(0..all.len())]);
    }
    faults.sort();
    faults.dedup();
    SwarmDraw {
        faults,
        interval_mean: uniform_duration(&mut rng, interval.min, interval.max),
        fault_duration_max: uniform_duration(&mut rng, config.duration.min, config.duration.max),
        drop_probability: config
            .drop_probability
            .map(|range| uniform_probability(&mut rng, range.min, range.max)),
        duplicate_probability: config
            .duplicate_probability
            .map(|range| uniform_probability(&mut rng, range.min, range.max)),
    }
}

/// The fault schedule between `config.start` and `end` (stream `nemesis`),
/// drawn lazily in time order: memory stays flat however many faults the
/// scenario's interval and duration imply, and a run draws only the faults it
/// reaches before its bounds stop it.
#[derive(Clone, Debug)]
pub struct Schedule {
    rng: Rng,
    config: NemesisConfig,
    draw: SwarmDraw,
    mean: f64,
    at: u64,
    end: u64,
}

/// The fault schedule of `config` and `draw` for `seed`, up to `end`.
pub fn schedule(config: &NemesisConfig, draw: &SwarmDraw, seed: u64, end: u64) -> Schedule {
    let mut rng = rng::stream(seed, "nemesis", 0);
    let mean = draw.interval_mean.0.max(1) as f64;
    let at = config
        .start
        .0
        .saturating_add((-mean * open_unit(&mut rng).ln()) as u64);
    Schedule {
        rng,
        config: config.clone(),
        draw: draw.clone(),
        mean,
        at,
        end,
    }
}

impl Iterator for Schedule {
    type Item = (u64, TimedFault);

    fn next(&mut self) -> Option<(u64, TimedFault)> {
        let at = self.at;
        if at >= self.end {
            return None;
        }
        let (config, draw, end) = (&self.config, &self.draw, self.end);
        let rng = &mut self.rng;
        let kind = draw.faults[rng.gen_range(0..draw.faults.len())];
        let longest = draw.fault_duration_max.max(config.duration.min);
        let duration = uniform_duration(rng, config.duration.min, longest)
            .0
            .clamp(1, end - at);
        // The kinds that pick nodes pick among `targets` only (the same draws
        // either way); partitions, bridges and the client kinds ignore it.
        let label = config.targets_label();
        let node = |target: Target| target.within(label);
        let leader_or_random = |rng: &mut Rng| {
            node(if chance(rng, 0.5) {
                Target::Leader
            } else {
                Target::Random
            })
        };
        let fault = match kind {
            NemesisFault::Partition => Fault::PartitionHalves,
            NemesisFault::Isolate => Fault::Isolate(leader_or_random(rng)),
            NemesisFault::Bridge => Fault::Bridge,
            NemesisFault::OneWay => Fault::OneWay {
                from: leader_or_random(rng),
                to: Target::Minority,
            },
            NemesisFault::Crash => Fault::Crash(node(if chance(rng, 0.3) {
                Target::Minority
            } else {
                Target::Random
            })),
            NemesisFault::CrashLeader => Fault::Crash(node(Target::Leader)),
            NemesisFault::Pause => Fault::Pause(leader_or_random(rng)),
            NemesisFault::ClockSkew | NemesisFault::ClockSkewClient => {
                let skew = config.clock_skew_max.0 as i64;
                let drift = *config.clock_drift_ppm_max.get_ref() as i64;
                Fault::ClockSkew {
                    target: if kind == NemesisFault::ClockSkew {
                        node(Target::Random)
                    } else {
                        Target::Client(ClientPick::Random)
                    },
                    offset: rng.gen_range(-skew..=skew),
                    drift_ppm: rng.gen_range(-drift..=drift),
                }
            }
            NemesisFault::PauseClient => Fault::Pause(Target::Client(ClientPick::Random)),
            NemesisFault::DiskCorrupt => Fault::DiskCorrupt(node(Target::Random)),
            NemesisFault::DiskLoseUnsynced => Fault::DiskLoseUnsynced(node(Target::Random)),
            NemesisFault::DiskFailRead => Fault::DiskFailRead {
                target: node(Target::Random),
                count: rng.gen_range(1..=3),
            },
            NemesisFault::DiskMisdirect => Fault::DiskMisdirect(node(Target::Random)),
            NemesisFault::DiskTranspose => Fault::DiskTranspose(node(Target::Random)),
            NemesisFault::Join => Fault::Join(node(Target::Random)),
            NemesisFault::Leave => Fault::Leave(node(Target::Random)),
            NemesisFault::Slow => {
                let least =
                    SlowFactor::from_factor(crate::scenario::faults::NEMESIS_SLOW_FACTOR_MIN)
                        .expect("the least factor is in range");
                let most = SlowFactor::from_factor(*config.slow_factor_max.get_ref())
                    .expect("the scenario checked slow_factor_max")
                    .max(least);
                let thousandths = rng.gen_range(least.thousandths()..=most.thousandths());
                Fault::Slow {
                    target: node(Target::Random),
                    factor: SlowFactor::from_thousandths(thousandths)
                        .expect("drawn between two factors"),
                }
            }
        };
        let timed = match fault {
            Fault::DiskCorrupt(_)
            | Fault::DiskLoseUnsynced(_)
            | Fault::DiskFailRead { .. }
            | Fault::DiskMisdirect(_)
            | Fault::DiskTranspose(_) => TimedFault::new(fault),
            fault => TimedFault::new(fault).lasting(duration),
        };
        self.at = at
            .saturating_add(1)
            .saturating_add((-self.mean * open_unit(&mut self.rng).ln()) as u64);
        Some((at, timed))
    }
}
