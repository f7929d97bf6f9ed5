//! The simulated network: latency distributions, loss, duplication, FIFO links,
//! per-link overrides and partitions.
//!
//! Every message gets its own latency drawn from the link's distribution, so
//! reordering arises naturally; `fifo = true` forbids it per (sender, receiver)
//! pair. `long_delay` adds the MIT 6.824 lab's "long reordering": a fraction of
//! messages is held back by an extra delay of hundreds of milliseconds. A message
//! is judged twice: at send time (a cut link or a random drop loses it) and again
//! at delivery time (a link cut while the message was in flight loses it too).
//! Partitions cut links between server nodes; clients keep reaching every node, as
//! Jepsen clients do.

use super::rng::{Rng, between, chance, open_unit};
use super::time::Duration;
use rand::Rng as _;
use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize};

/// A probability in [0, 1]; anything else is rejected when a scenario is read.
#[derive(Clone, Copy, Debug, Default, PartialEq, PartialOrd, Serialize)]
pub struct Probability(pub f64);

impl<'de> Deserialize<'de> for Probability {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = f64::deserialize(deserializer)?;
        if !(0.0..=1.0).contains(&value) {
            return Err(de::Error::custom(format!(
                "expected a probability in [0, 1], got {value}"
            )));
        }
        Ok(Probability(value))
    }
}

/// A latency distribution. Written as an inline table such as
/// `{ distribution = "uniform", min = "1ms", max = "5ms" }`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "distribution", rename_all = "snake_case", deny_unknown_fields)]
pub enum Latency {
    /// Always `value`.
    Constant {
        /// The latency.
        value: Duration,
    },
    /// Uniform in `[min, max]`.
    Uniform {
        /// Smallest latency.
        min: Duration,
        /// Largest latency.
        max: Duration,
    },
    /// Normal with `mean` and `stddev`, clipped at 0.
    Normal {
        /// Mean latency.
        mean: Duration,
        /// Standard deviation.
        stddev: Duration,
    },
    /// Exponential with `mean`.
    Exponential {
        /// Mean latency.
        mean: Duration,
    },
    /// Pareto (heavy-tailed) with minimum `scale` and tail index `shape` (> 1 for
    /// a finite mean: mean = scale·shape/(shape−1)).
    Pareto {
        /// Minimum latency.
        scale: Duration,
        /// Tail index α; smaller is heavier.
        shape: f64,
    },
    /// Log-normal: `median`·e^(σ·Z), Z standard normal.
    LogNormal {
        /// Median latency.
        median: Duration,
        /// σ of the underlying normal.
        sigma: f64,
    },
}

impl Default for Latency {
    fn default() -> Self {
        Latency::Uniform {
            min: Duration::from_millis(1),
            max: Duration::from_millis(5),
        }
    }
}

/// Latencies above this are capped, so one heavy-tail draw cannot stall a run.
pub const LATENCY_CAP: u64 = 60 * super::time::SECOND;

impl Latency {
    /// Checks the parameters; the message names what is wrong.
    pub fn validate(&self) -> Result<(), String> {
        match self {
            Latency::Uniform { min, max } if min > max => Err(format!(
                "uniform latency needs min <= max, got min = {min}, max = {max}"
            )),
            Latency::Pareto { shape, .. } if !(*shape > 0.0 && shape.is_finite()) => Err(format!(
                "pareto shape must be a positive number, got {shape}"
            )),
            Latency::LogNormal { sigma, .. } if !(*sigma >= 0.0 && sigma.is_finite()) => {
                Err(format!("log_normal sigma must be >= 0, got {sigma}"))
            }
            _ => Ok(()),
        }
    }

    /// The distribution's mean in nanoseconds (before clipping and capping), when
    /// it has a finite one. Used by tests and reports.
    pub fn mean_nanos(&self) -> Option<f64> {
        Some(match self {
            Latency::Constant { value } => value.0 as f64,
            Latency::Uniform { min, max } => (min.0 + max.0) as f64 / 2.0,
            Latency::Normal { mean, .. } => mean.0 as f64,
            Latency::Exponential { mean } => mean.0 as f64,
            Latency::Pareto { scale, shape } if *shape > 1.0 => {
                scale.0 as f64 * shape / (shape - 1.0)
            }
            Latency::Pareto { .. } => return None,
            Latency::LogNormal { median, sigma } => median.0 as f64 * (sigma * sigma / 2.0).exp(),
        })
    }

    /// Draws one latency in nanoseconds. A constant draws nothing.
    #[inline]
    pub fn sample(&self, rng: &mut Rng) -> u64 {
        let nanos = match self {
            Latency::Constant { value } => return value.0,
            Latency::Uniform { min, max } => {
                return if min.0 >= max.0 {
                    min.0
                } else {
                    rng.gen_range(min.0..=max.0)
                };
            }
            Latency::Normal { mean, stddev } => {
                mean.0 as f64 + stddev.0 as f64 * standard_normal(rng)
            }
            Latency::Exponential { mean } => -(mean.0 as f64) * open_unit(rng).ln(),
            Latency::Pareto { scale, shape } => scale.0 as f64 / open_unit(rng).powf(1.0 / shape),
            Latency::LogNormal { median, sigma } => {
                median.0 as f64 * (sigma * standard_normal(rng)).exp()
            }
        };
        if nanos.is_nan() || nanos <= 0.0 {
            0
        } else if nanos >= LATENCY_CAP as f64 {
            LATENCY_CAP
        } else {
            nanos as u64
        }
    }
}

/// A standard normal draw (Box–Muller; one of the pair is discarded so that each
/// call consumes a fixed amount of randomness).
fn standard_normal(rng: &mut Rng) -> f64 {
    let u1 = open_unit(rng);
    let u2: f64 = rng.r#gen();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

fn checked_latency<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Latency, D::Error> {
    let latency = Latency::deserialize(deserializer)?;
    latency.validate().map_err(de::Error::custom)?;
    Ok(latency)
}

fn checked_optional_latency<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Latency>, D::Error> {
    checked_latency(deserializer).map(Some)
}

/// Long reordering, `[network] long_delay = { probability = 0.67, min = "200ms",
/// max = "2200ms", replies_only = true }`: with `probability`, a message's
/// latency gets an extra delay drawn uniformly from `[min, max]` (the lab holds
/// about 2/3 of replies for 200 + rand(0..rand(0..2000)) ms). With
/// `replies_only`, only the messages the protocol marks as replies
/// (`Protocol::is_reply`) are candidates, and nothing is drawn for the others.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LongDelay {
    /// Chance that a message is held back.
    pub probability: Probability,
    /// Shortest extra delay.
    pub min: Duration,
    /// Longest extra delay (at most 60 s).
    pub max: Duration,
    /// Hold back replies only. Default false (every message).
    #[serde(default)]
    pub replies_only: bool,
}

impl LongDelay {
    /// Checks the parameters; the message names what is wrong.
    pub fn validate(&self) -> Result<(), String> {
        if !(0.0..=1.0).contains(&self.probability.0) {
            return Err(format!(
                "long_delay probability must be in [0, 1], got {}",
                self.probability.0
            ));
        }
        if self.min > self.max {
            return Err(format!(
                "long_delay needs min <= max, got min = {}, max = {}",
                self.min, self.max
            ));
        }
        if self.max.0 > LATENCY_CAP {
            return Err(format!(
                "long_delay max must be at most {}, got {}",
                Duration(LATENCY_CAP),
                self.max
            ));
        }
        Ok(())
    }

    /// The extra delay of one message, if it is held back: a draw from `[min, max]`.
    #[inline]
    fn extra(&self, rng: &mut Rng, reply: bool) -> Option<u64> {
        if self.replies_only && !reply {
            return None;
        }
        if chance(rng, self.probability.0) {
            Some(between(rng, self.min.0, self.max.0))
        } else {
            None
        }
    }
}

fn checked_long_delay<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<LongDelay>, D::Error> {
    let long_delay = LongDelay::deserialize(deserializer)?;
    long_delay.validate().map_err(de::Error::custom)?;
    Ok(Some(long_delay))
}

/// Overrides for one directed link, `[[network.links]]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkOverride {
    /// Sending process id.
    pub from: usize,
    /// Receiving process id.
    pub to: usize,
    /// Latency on this link (default: the network's).
    #[serde(default, deserialize_with = "checked_optional_latency")]
    pub latency: Option<Latency>,
    /// Drop probability on this link (default: the network's).
    #[serde(default)]
    pub drop_probability: Option<Probability>,
    /// Duplicate probability on this link (default: the network's).
    #[serde(default)]
    pub duplicate_probability: Option<Probability>,
}

/// The `[network]` table of a scenario.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkConfig {
    /// Latency of every link. Default uniform 1ms..5ms.
    #[serde(default, deserialize_with = "checked_latency")]
    pub latency: Latency,
    /// Probability that a message is lost. Default 0.
    #[serde(default)]
    pub drop_probability: Probability,
    /// Probability that a message is delivered twice. Default 0.
    #[serde(default)]
    pub duplicate_probability: Probability,
    /// Deliver messages on each (sender, receiver) pair in send order. Default false.
    #[serde(default)]
    pub fifo: bool,
    /// Per-link overrides. Default none.
    #[serde(default)]
    pub links: Vec<LinkOverride>,
    /// Long reordering: some messages get an extra delay. Default none (and then
    /// no randomness is drawn for it).
    #[serde(
        default,
        deserialize_with = "checked_long_delay",
        skip_serializing_if = "Option::is_none"
    )]
    pub long_delay: Option<LongDelay>,
}

/// The parameters a directed link draws from. Links share profiles: profile 0 is
/// the network's default and each override adds one.
#[derive(Clone, Debug)]
pub struct LinkProfile {
    /// Latency distribution.
    pub latency: Latency,
    /// Drop probability.
    pub drop_probability: f64,
    /// Duplicate probability.
    pub duplicate_probability: f64,
}

/// Why a message did not arrive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// Random loss.
    Lost = 1,
    /// The link was cut by a partition.
    Partitioned = 2,
    /// The destination was crashed (or crashed while the message was in flight).
    DestinationDown = 3,
}

impl DropReason {
    /// Lowercase name for traces.
    pub fn name(self) -> &'static str {
        match self {
            DropReason::Lost => "lost",
            DropReason::Partitioned => "partitioned",
            DropReason::DestinationDown => "destination_down",
        }
    }
}

/// The network of a world with `processes` processes, of which the first `nodes`
/// are server nodes.
///
/// Memory is small and flat: cut flags for node pairs only, a profile index per
/// pair only when there are overrides, and last-delivery times per pair only when
/// links are FIFO.
#[derive(Clone, Debug)]
pub struct Network {
    processes: usize,
    nodes: usize,
    base: NetworkConfig,
    profiles: Vec<LinkProfile>,
    /// Profile of each (from, to) pair; empty when every link uses profile 0.
    profile_of: Vec<u16>,
    /// Cut flags for node → node links.
    cut: Vec<bool>,
    /// Latest delivery scheduled per (from, to) pair; empty unless FIFO.
    last_delivery: Vec<u64>,
    /// Long reordering, if on.
    long_delay: Option<LongDelay>,
    /// Messages put on the wire.
    pub sent: u64,
    /// Messages delivered.
    pub delivered: u64,
    /// Messages lost to random drops.
    pub lost: u64,
    /// Messages lost to cut links.
    pub partitioned: u64,
    /// Messages lost because the destination was down.
    pub to_dead: u64,
    /// Extra copies made.
    pub duplicated: u64,
    /// Deliveries held back by a long delay.
    pub long_delayed: u64,
}

/// Link overrides are numbered in 16 bits (0 is the default profile): fewer
/// than this many fit. Scenario validation refuses more.
pub const LINKS_MAX: usize = u16::MAX as usize;

impl Network {
    /// A network from its configuration. Overrides naming processes that do not
    /// exist are rejected by scenario validation before this point.
    pub fn new(config: &NetworkConfig, nodes: usize, processes: usize) -> Self {
        assert!(config.links.len() < LINKS_MAX, "too many link overrides");
        let mut profile_of = Vec::new();
        if !config.links.is_empty() {
            profile_of = vec![0u16; processes * processes];
            for (index, link) in config.links.iter().enumerate() {
                assert!(
                    link.from < processes && link.to < processes,
                    "link override out of range"
                );
                profile_of[link.from * processes + link.to] = index as u16 + 1;
            }
        }
        let mut network = Network {
            processes,
            nodes,
            base: config.clone(),
            profiles: Vec::new(),
            profile_of,
            cut: vec![false; nodes * nodes],
            last_delivery: if config.fifo {
                vec![0; processes * processes]
            } else {
                Vec::new()
            },
            sent: 0,
            delivered: 0,
            lost: 0,
            partitioned: 0,
            long_delay: config.long_delay,
            to_dead: 0,
            duplicated: 0,
            long_delayed: 0,
        };
        network.set_loss(config.drop_probability.0, config.duplicate_probability.0);
        network
    }

    /// Sets the default drop and duplicate probabilities (swarm testing draws these
    /// per seed); overrides that name their own keep them.
    pub fn set_loss(&mut self, drop_probability: f64, duplicate_probability: f64) {
        let default = LinkProfile {
            latency: self.base.latency.clone(),
            drop_probability,
            duplicate_probability,
        };
        let overrides = self.base.links.iter().map(|link| LinkProfile {
            latency: link
                .latency
                .clone()
                .unwrap_or_else(|| default.latency.clone()),
            drop_probability: link.drop_probability.map_or(drop_probability, |p| p.0),
            duplicate_probability: link
                .duplicate_probability
                .map_or(duplicate_probability, |p| p.0),
        });
        self.profiles = std::iter::once(default.clone()).chain(overrides).collect();
    }

    /// Sets the default latency (links with an override of their own keep it)
    /// from now on, keeping the drop and duplicate probabilities in force.
    pub fn set_latency(&mut self, latency: Latency) {
        assert!(latency.validate().is_ok(), "{:?}", latency.validate());
        self.base.latency = latency;
        let (drop_probability, duplicate_probability) = (
            self.profiles[0].drop_probability,
            self.profiles[0].duplicate_probability,
        );
        self.set_loss(drop_probability, duplicate_probability);
    }

    /// Switches long reordering on (or off with `None`) from now on; messages
    /// already in flight keep their delivery times.
    pub fn set_long_delay(&mut self, long_delay: Option<LongDelay>) {
        if let Some(long_delay) = &long_delay {
            assert!(long_delay.validate().is_ok(), "{:?}", long_delay.validate());
        }
        self.long_delay = long_delay;
    }

    /// The long reordering in force, if any.
    pub fn long_delay(&self) -> Option<LongDelay> {
        self.long_delay
    }

    /// Number of server nodes.
    pub fn nodes(&self) -> usize {
        self.nodes
    }

    /// The parameters of the directed link `from → to`.
    #[inline]
    pub fn profile(&self, from: usize, to: usize) -> &LinkProfile {
        let index = if self.profile_of.is_empty() {
            0
        } else {
            self.profile_of[from * self.processes + to]
        };
        &self.profiles[usize::from(index)]
    }

    /// Whether `from → to` is currently cut. Links involving clients never are.
    #[inline]
    pub fn is_cut(&self, from: usize, to: usize) -> bool {
        from < self.nodes && to < self.nodes && self.cut[from * self.nodes + to]
    }

    #[inline]
    fn fifo_time(&mut self, from: usize, to: usize, at: u64) -> u64 {
        if self.last_delivery.is_empty() {
            return at;
        }
        let last = &mut self.last_delivery[from * self.processes + to];
        let at = at.max(*last);
        *last = at;
        at
    }

    /// Decides the fate of a message sent now: dropped at send (with the reason),
    /// or the delivery time(s) — two when duplicated. `reply` says whether the
    /// protocol marks it as a reply (for `long_delay.replies_only`).
    #[inline]
    pub fn route(&mut self, from: usize, to: usize, now: u64, rng: &mut Rng, reply: bool) -> Route {
        self.sent += 1;
        if self.is_cut(from, to) {
            self.partitioned += 1;
            return Route::Dropped(DropReason::Partitioned);
        }
        let index = if self.profile_of.is_empty() {
            0
        } else {
            self.profile_of[from * self.processes + to]
        };
        let profile = &self.profiles[usize::from(index)];
        if chance(rng, profile.drop_probability) {
            self.lost += 1;
            return Route::Dropped(DropReason::Lost);
        }
        let mut first = now + profile.latency.sample(rng);
        // Without long reordering nothing is drawn for it, so runs stay as they were.
        let long_delay = self.long_delay;
        if let Some(long_delay) = &long_delay
            && let Some(extra) = long_delay.extra(rng, reply)
        {
            self.long_delayed += 1;
            first += extra;
        }
        let profile = &self.profiles[usize::from(index)];
        if chance(rng, profile.duplicate_probability) {
            let mut second = now + profile.latency.sample(rng);
            if let Some(long_delay) = &long_delay
                && let Some(extra) = long_delay.extra(rng, reply)
            {
                self.long_delayed += 1;
                second += extra;
            }
            self.duplicated += 1;
            let first = self.fifo_time(from, to, first);
            let second = self.fifo_time(from, to, second);
            return Route::Twice(first, second);
        }
        Route::Once(self.fifo_time(from, to, first))
    }

    /// Cuts the directed node link `from → to`. Callers heal first when a
    /// partition should replace the previous one.
    pub fn cut(&mut self, from: usize, to: usize) {
        assert!(
            from < self.nodes && to < self.nodes,
            "partitions cut node links only"
        );
        self.cut[from * self.nodes + to] = true;
    }

    /// Restores the directed node link `from → to` (a no-op if it was not cut).
    pub fn restore(&mut self, from: usize, to: usize) {
        assert!(
            from < self.nodes && to < self.nodes,
            "partitions cut node links only"
        );
        self.cut[from * self.nodes + to] = false;
    }

    /// Restores every cut link.
    pub fn heal(&mut self) {
        self.cut.fill(false);
    }

    /// Whether any link is cut.
    pub fn is_partitioned(&self) -> bool {
        self.cut.contains(&true)
    }

    /// Cut links as (from, to) pairs, in order; for reports and tests.
    pub fn cut_links(&self) -> Vec<(usize, usize)> {
        let mut cuts = Vec::new();
        for from in 0..self.nodes {
            for to in 0..self.nodes {
                if self.is_cut(from, to) {
                    cuts.push((from, to));
                }
            }
        }
        cuts
    }
}

/// The outcome of [`Network::route`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// Lost at send time.
    Dropped(DropReason),
    /// Delivered once at this time.
    Once(u64),
    /// Delivered twice, at these times.
    Twice(u64, u64),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::rng::stream;

    #[test]
    fn each_distribution_has_roughly_its_configured_mean() {
        let ms = Duration::from_millis;
        let cases = [
            Latency::Constant { value: ms(3) },
            Latency::Uniform {
                min: ms(1),
                max: ms(9),
            },
            Latency::Normal {
                mean: ms(20),
                stddev: ms(2),
            },
            Latency::Exponential { mean: ms(10) },
            Latency::Pareto {
                scale: ms(2),
                shape: 3.0,
            },
            Latency::LogNormal {
                median: ms(5),
                sigma: 0.5,
            },
        ];
        let mut rng = stream(9, "test", 0);
        for latency in cases {
            let n = 200_000;
            let total: f64 = (0..n).map(|_| latency.sample(&mut rng) as f64).sum();
            let mean = total / n as f64;
            let expected = latency.mean_nanos().unwrap();
            assert!(
                (mean - expected).abs() / expected < 0.02,
                "{latency:?}: mean {mean} vs {expected}"
            );
        }
    }

    #[test]
    fn normal_latency_is_clipped_at_zero() {
        let latency = Latency::Normal {
            mean: Duration(10),
            stddev: Duration::from_millis(1),
        };
        let mut rng = stream(2, "test", 0);
        let zeros = (0..1000).filter(|_| latency.sample(&mut rng) == 0).count();
        assert!(zeros > 400, "about half the draws are clipped, got {zeros}");
    }

    #[test]
    fn fifo_links_never_reorder() {
        let config = NetworkConfig {
            latency: Latency::Uniform {
                min: Duration(1),
                max: Duration::from_millis(10),
            },
            fifo: true,
            ..NetworkConfig::default()
        };
        let mut network = Network::new(&config, 2, 2);
        let mut rng = stream(4, "test", 0);
        let mut last = 0;
        for now in 0..1000 {
            let Route::Once(at) = network.route(0, 1, now, &mut rng, false) else {
                panic!()
            };
            assert!(at >= last);
            last = at;
        }
    }
}
