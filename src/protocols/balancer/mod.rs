//! `balancer`: a load balancer in front of backends that slow down, crash and
//! flap (issue 18).
//!
//! # The system
//!
//! Nodes `0..balancers` are **balancers**, the rest **backends**; clients
//! send each request to a balancer, which forwards it to a backend its
//! strategy picks, relays the backend's answer, and retries elsewhere when it
//! may. All three are roles of one protocol, so faults reach them by group:
//! `@balancers`, `@backends`.
//!
//! - **Clients** ([`client`]) send open-loop (Poisson arrivals at `rate`
//!   requests per second, all clients together) or closed-loop (`concurrency`
//!   requests each, a think time between one's answer and the next), and give
//!   up after `workload.op_timeout`. Each request is one operation of the
//!   history, on a lane of its own, so a client's concurrent requests never
//!   share a history process.
//! - **Backends** ([`backend`]) serve a FIFO queue with `workers` servers and a
//!   service time drawn from `service`, multiplied by the node's slowdown (the
//!   `slow` fault); with `queue_limit` they refuse what does not fit (a 503 that
//!   says the request did not run). Health checks are answered at once, beside
//!   the queue.
//! - **Balancers** ([`proxy`]) pick a backend by `strategy`
//!   ([`strategy`]): round robin, Nginx's smooth weighted round robin, random,
//!   least connections, power of d choices (HAProxy's `random(d)`: the less
//!   loaded of d distinct random backends), a consistent-hash ring on the
//!   request's key, and bounded-load consistent hashing (Mirrokni et al.: no
//!   backend above ⌈c · mean⌉ in flight). Health ([`health`]) comes from
//!   active checks (HAProxy's `inter`, `rise`, `fall`, `timeout`), passive
//!   checks (Nginx's `max_fails` within `fail_timeout`) and Envoy's outlier
//!   ejection (consecutive errors, base ejection time × times ejected, a cap on
//!   the ejected share), with Envoy's panic mode below a healthy share.
//!   Retries go to another backend, under a retry budget; a request that is
//!   not idempotent is retried only when the backend said it did not run it.
//!
//! # What is checked ([`checker`])
//!
//! Every request a balancer accepts is answered once, to its own client; no
//! request runs twice unless requests are idempotent; with active checks no
//! request goes to a backend later than its detection window after it became
//! unreachable (except in panic mode, which is counted), and a backend back is
//! in rotation again within rise × inter; bounded-load picks stay under the
//! cap; each pick obeys its strategy's rule; after the heal every backend is
//! in rotation and every queue drains.

pub mod backend;
pub mod checker;
mod client;
pub mod compare;
pub mod health;
pub mod proxy;
mod spec;
pub mod strategy;
pub mod theory;

pub use backend::Backend;
pub use checker::BalancerChecker;
pub use client::BalancerClient;
pub use proxy::Balancer;

use crate::sim::network::Latency;
use crate::sim::time::Duration;
use crate::sim::{Ctx, Node, ProcessId, Protocol, Status};
use serde::{Deserialize, Serialize};
use std::rc::Rc;

/// The load balancer's types.
#[derive(Clone, Copy, Debug)]
pub struct LoadBalancer;

crate::declare! {
    /// Planted bugs (`bugs = [...]` in the `[protocol]` table).
    pub enum BalancerBug {
        /// The in-flight count of a backend is not decremented when a request
        /// to it times out: every timeout leaks one, and least connections
        /// (and power of d, and bounded load) starve that backend.
        LeastconnLeak = "leastconn_leak",
        /// Power of d choices draws its candidates with replacement: both
        /// draws may be the same backend, which then wins unopposed.
        P2cSameBackend = "p2c_same_backend",
        /// The hash ring is built once and never rebuilt: a backend taken out
        /// of rotation keeps its keys, and its requests still go to it.
        RingNotRebuilt = "ring_not_rebuilt",
        /// An active health check that timed out counts as a success: a
        /// crashed backend never goes down.
        TimeoutCountsAsHealthy = "timeout_counts_as_healthy",
        /// Bounded-load hashing counts every request a backend was ever sent,
        /// not those in flight: the cap balances totals, and a slow backend
        /// piles up in-flight requests far above ⌈c · mean⌉.
        BoundedLoadUsesTotal = "bounded_load_uses_total",
        /// Round robin keeps its index when the rotation shrinks: the next
        /// pick indexes past the end of the list (a panic).
        RrIndexNotWrapped = "rr_index_not_wrapped",
    }
}

crate::declare! {
    /// The situations a balancer must be tested in (*sometimes* points).
    pub enum BalancerPoint {
        /// Health checking (active, passive or outlier) took a backend out of
        /// rotation.
        Ejected = "balancer_backend_ejected",
        /// A backend came back into rotation.
        Restored = "balancer_backend_restored",
        /// Fewer backends than the panic threshold were healthy, and the
        /// balancer spread requests over all of them.
        PanicEntered = "balancer_panic_entered",
        /// A retry succeeded on another backend.
        RetrySucceeded = "balancer_retry_succeeded",
        /// The retry budget refused a retry.
        RetryBudgetExhausted = "balancer_retry_budget_exhausted",
        /// A request hashed to a backend that is out of the ring went to the
        /// next one clockwise.
        HashedToRemoved = "balancer_hashed_to_removed",
        /// A try timed out at the balancer.
        TryTimedOut = "balancer_try_timed_out",
        /// A backend's queue was full and it refused a request.
        QueueFull = "balancer_queue_full",
        /// No backend could take a request.
        NoBackend = "balancer_no_backend",
        /// The outlier detector would have ejected a backend but the cap on
        /// the ejected share stopped it.
        EjectionCapped = "balancer_ejection_capped",
        /// A backend answered a request the balancer had already given up on.
        LateReply = "balancer_late_reply",
        /// A backend dropped a try that had waited longer than the try
        /// timeout, unserved (`shed_late`).
        Shed = "balancer_shed_late",
        /// A network duplicate of a request reached a balancer or a backend
        /// and was ignored.
        DuplicateIgnored = "balancer_duplicate_ignored",
    }
}

/// How a balancer picks a backend (`strategy = "..."`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StrategyKind {
    /// Each backend in turn.
    RoundRobin,
    /// Nginx's smooth weighted round robin over `weights`.
    Weighted,
    /// Uniformly at random.
    Random,
    /// The fewest requests in flight (ties in round-robin order).
    LeastConn,
    /// Power of d choices: the less loaded of `choices` distinct random
    /// backends.
    #[default]
    P2c,
    /// A consistent-hash ring on the request's key.
    Hash,
    /// Consistent hashing with bounded loads: the first backend clockwise
    /// whose in-flight count stays within ⌈`load_factor` · mean⌉.
    BoundedHash,
}

impl StrategyKind {
    /// Its name in scenario files.
    pub fn name(self) -> &'static str {
        match self {
            StrategyKind::RoundRobin => "round_robin",
            StrategyKind::Weighted => "weighted",
            StrategyKind::Random => "random",
            StrategyKind::LeastConn => "least_conn",
            StrategyKind::P2c => "p2c",
            StrategyKind::Hash => "hash",
            StrategyKind::BoundedHash => "bounded_hash",
        }
    }

    /// Whether it reads the in-flight counts.
    pub fn uses_load(self) -> bool {
        matches!(
            self,
            StrategyKind::LeastConn | StrategyKind::P2c | StrategyKind::BoundedHash
        )
    }

    /// Whether it places requests on a hash ring.
    pub fn hashes(self) -> bool {
        matches!(self, StrategyKind::Hash | StrategyKind::BoundedHash)
    }
}

/// How clients send (`arrivals = "..."`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Arrivals {
    /// Poisson arrivals at `rate`, whatever the answers.
    #[default]
    Open,
    /// `concurrency` requests per client at a time.
    Closed,
}

/// HAProxy-style active health checks (`[protocol.active]`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActiveChecks {
    /// Time between checks of each backend. Default `"2s"`.
    #[serde(default = "default_inter")]
    pub inter: Duration,
    /// Consecutive successes that bring a backend back. Default 2.
    #[serde(default = "default_rise")]
    pub rise: u32,
    /// Consecutive failures that take it down. Default 3.
    #[serde(default = "default_fall")]
    pub fall: u32,
    /// How long a check waits for its answer (at most `inter`). Default
    /// `"1s"`.
    #[serde(default = "default_check_timeout")]
    pub timeout: Duration,
}

fn default_inter() -> Duration {
    Duration::from_secs(2)
}
fn default_rise() -> u32 {
    2
}
fn default_fall() -> u32 {
    3
}
fn default_check_timeout() -> Duration {
    Duration::from_secs(1)
}

impl ActiveChecks {
    /// The longest a backend can be unreachable before the checks take it
    /// down: `fall × inter + timeout`.
    pub fn detection_window(&self) -> u64 {
        u64::from(self.fall) * self.inter.0 + self.timeout.0
    }

    /// The longest a reachable backend waits to come back: `rise × inter`
    /// (plus the round trip of the last check, which the checker adds).
    pub fn recovery_window(&self) -> u64 {
        u64::from(self.rise) * self.inter.0
    }
}

/// Nginx-style passive checks (`[protocol.passive]`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PassiveChecks {
    /// Failed tries within `fail_timeout` that take a backend down.
    /// Default 1.
    #[serde(default = "default_max_fails")]
    pub max_fails: u32,
    /// The window failures are counted in, and how long the backend then
    /// stays down. Default `"10s"`.
    #[serde(default = "default_fail_timeout")]
    pub fail_timeout: Duration,
}

fn default_max_fails() -> u32 {
    1
}
fn default_fail_timeout() -> Duration {
    Duration::from_secs(10)
}

/// Envoy-style outlier ejection (`[protocol.outlier]`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutlierDetection {
    /// Consecutive failed tries that eject a backend. Default 5.
    #[serde(default = "default_consecutive")]
    pub consecutive_errors: u32,
    /// How often ejections that have run their time are lifted. Default
    /// `"10s"`.
    #[serde(default = "default_interval")]
    pub interval: Duration,
    /// An ejection lasts this × the number of times the backend was ejected.
    /// Default `"30s"`.
    #[serde(default = "default_base_ejection")]
    pub base_ejection: Duration,
    /// At most this percentage of the backends is ejected at once (at least
    /// one may always be). Default 10.
    #[serde(default = "default_max_ejection_percent")]
    pub max_ejection_percent: u32,
}

fn default_consecutive() -> u32 {
    5
}
fn default_interval() -> Duration {
    Duration::from_secs(10)
}
fn default_base_ejection() -> Duration {
    Duration::from_secs(30)
}
fn default_max_ejection_percent() -> u32 {
    10
}

/// Envoy's retry budget (`retry_budget = { percent, min_concurrency }`): at
/// most `max(min_concurrency, percent% of the requests in flight)` retries at
/// once.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryBudget {
    /// Share of the requests in flight that may be retries, percent.
    /// Default 20.
    #[serde(default = "default_budget_percent")]
    pub percent: f64,
    /// Retries always allowed at once. Default 3.
    #[serde(default = "default_min_concurrency")]
    pub min_concurrency: u32,
}

fn default_budget_percent() -> f64 {
    20.0
}
fn default_min_concurrency() -> u32 {
    3
}

impl Default for RetryBudget {
    fn default() -> Self {
        RetryBudget {
            percent: default_budget_percent(),
            min_concurrency: default_min_concurrency(),
        }
    }
}

/// The `[protocol]` table for `name = "balancer"`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BalancerConfig {
    /// Always `"balancer"`.
    pub name: String,
    /// Planted bugs. Default none.
    #[serde(default)]
    pub bugs: Vec<BalancerBug>,
    /// Balancer nodes (ids `0..balancers`); the other nodes are backends.
    /// Default 1.
    #[serde(default = "default_balancers")]
    pub balancers: usize,
    /// How a balancer picks a backend. Default `"p2c"`.
    #[serde(default)]
    pub strategy: StrategyKind,
    /// p2c: backends drawn per pick (d). Default 2.
    #[serde(default = "default_choices")]
    pub choices: usize,
    /// hash, bounded_hash: points per backend on the ring. Default 100.
    #[serde(default = "default_vnodes")]
    pub vnodes: u32,
    /// bounded_hash: the cap's factor c (≥ 1). Default 1.25.
    #[serde(default = "default_load_factor")]
    pub load_factor: f64,
    /// weighted: each backend's weight (one per backend). Default all 1.
    #[serde(default)]
    pub weights: Vec<u32>,
    /// The service-time distribution. Default exponential, mean `"10ms"`.
    #[serde(default = "default_service")]
    pub service: Latency,
    /// Servers per backend. Default 1.
    #[serde(default = "default_workers")]
    pub workers: usize,
    /// Requests a backend holds (serving and queued) before it refuses one;
    /// 0: no limit. Default 0.
    #[serde(default)]
    pub queue_limit: usize,
    /// Backends drop, unserved, a try that waited in the queue longer than
    /// `try_timeout` (its balancer has given up on it). Default false.
    #[serde(default)]
    pub shed_late: bool,
    /// Open or closed loop. Default `"open"`.
    #[serde(default)]
    pub arrivals: Arrivals,
    /// open: requests per second, all clients together. Default 100.
    #[serde(default = "default_rate")]
    pub rate: f64,
    /// closed: requests each client keeps in flight. Default 1.
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// Keys requests carry (for the hash strategies). Default 1000.
    #[serde(default = "default_keys")]
    pub keys: u64,
    /// Whether a request may run twice (then a try that timed out may be
    /// retried). Default false.
    #[serde(default)]
    pub idempotent: bool,
    /// How long a balancer waits for one try. Default `"1s"`.
    #[serde(default = "default_try_timeout")]
    pub try_timeout: Duration,
    /// Tries after the first, each on another backend. Default 1.
    #[serde(default = "default_retries")]
    pub retries: u32,
    /// The retry budget. Default 20% of the requests in flight, at least 3.
    #[serde(default)]
    pub retry_budget: RetryBudget,
    /// Active health checks. Default none.
    #[serde(default)]
    pub active: Option<ActiveChecks>,
    /// Passive health checks. Default none.
    #[serde(default)]
    pub passive: Option<PassiveChecks>,
    /// Outlier ejection. Default none.
    #[serde(default)]
    pub outlier: Option<OutlierDetection>,
    /// Below this percentage of backends in rotation, spread requests over
    /// every backend (Envoy's panic mode); 0 turns it off. Default 0.
    #[serde(default)]
    pub panic_threshold: u32,
    /// Clients record each request in the history. Off only for long
    /// measurement runs (the supermarket experiment), where the history
    /// would hold millions of operations; the latency measures are then
    /// empty. Default true.
    #[serde(default = "yes")]
    pub record: bool,
    /// Which balancer a client sends to: `"fixed"` (client i to balancer
    /// i mod balancers) or `"random"` (drawn per request). Default fixed.
    #[serde(default)]
    pub client_balancer: ClientBalancer,
}

/// Which balancer a client sends each request to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientBalancer {
    /// Client i always uses balancer i mod balancers.
    #[default]
    Fixed,
    /// A balancer drawn per request.
    Random,
}

fn yes() -> bool {
    true
}
fn default_balancers() -> usize {
    1
}
fn default_choices() -> usize {
    2
}
fn default_vnodes() -> u32 {
    100
}
fn default_load_factor() -> f64 {
    1.25
}
fn default_service() -> Latency {
    Latency::Exponential {
        mean: Duration::from_millis(10),
    }
}
fn default_workers() -> usize {
    1
}
fn default_rate() -> f64 {
    100.0
}
fn default_concurrency() -> usize {
    1
}
fn default_keys() -> u64 {
    1000
}
fn default_try_timeout() -> Duration {
    Duration::from_secs(1)
}
fn default_retries() -> u32 {
    1
}

impl BalancerConfig {
    /// Whether a planted bug is on.
    pub fn has(&self, bug: BalancerBug) -> bool {
        self.bugs.contains(&bug)
    }

    /// The weight of backend `index` (0-based among backends).
    pub fn weight(&self, index: usize) -> u32 {
        self.weights.get(index).copied().unwrap_or(1)
    }

    /// The longest a balancer keeps a request: every try timing out.
    pub fn longest_request(&self) -> u64 {
        self.try_timeout.0 * (u64::from(self.retries) + 1)
    }
}

/// What every node of a run shares.
#[derive(Debug)]
pub struct Settings {
    /// The `[protocol]` table.
    pub config: BalancerConfig,
    /// Balancer nodes (ids `0..balancers`).
    pub balancers: usize,
    /// Backend nodes (ids `balancers..balancers + backends`).
    pub backends: usize,
}

impl Settings {
    /// The settings of a run with `nodes` nodes.
    pub fn new(config: BalancerConfig, nodes: usize) -> Self {
        let balancers = config.balancers;
        Settings {
            config,
            balancers,
            backends: nodes - balancers,
        }
    }

    /// The process id of backend `index`.
    pub fn backend_id(&self, index: usize) -> ProcessId {
        self.balancers + index
    }

    /// The backend index of process `id`, if it is a backend.
    pub fn backend_index(&self, id: ProcessId) -> Option<usize> {
        (id >= self.balancers && id < self.balancers + self.backends).then(|| id - self.balancers)
    }
}

/// How a balancer's answer to a client ends a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// Served by this backend (its index).
    Ok(u32),
    /// Refused without running anywhere (every backend tried was full, or
    /// none could be tried): a 503.
    Refused,
    /// A try timed out and was not retried: it may have run (a 504).
    TimedOut,
}

/// A backend's answer to a try.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Served {
    /// It ran.
    Done,
    /// It did not fit in the queue, and did not run.
    Full,
}

/// A request's identity: its client (process id) and the client's number
/// for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestId {
    /// The client's process id.
    pub client: ProcessId,
    /// The client's number for it (from 1).
    pub seq: u64,
}

/// One try of a request at a backend, as the balancer names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Try {
    /// The balancer's epoch (drawn at each start, so a restarted balancer's
    /// tries never look like its earlier ones).
    pub epoch: u64,
    /// The balancer's number for the try, counting up within the epoch.
    pub number: u64,
    /// Where the balancer keeps the request.
    pub slot: u32,
}

/// Messages.
#[derive(Clone, Debug, Hash)]
pub enum BalancerMsg {
    /// Client → balancer: a request. `done_below`: every request of this
    /// client numbered below it is over for the client (answered or given
    /// up), so the balancer forgets them.
    Request {
        /// The client's number for it.
        seq: u64,
        /// What the hash strategies hash.
        key: u64,
        /// The client's low-water mark.
        done_below: u64,
    },
    /// Balancer → client: the answer.
    Reply {
        /// The request's number.
        seq: u64,
        /// How it ended.
        outcome: Outcome,
    },
    /// Balancer → backend: run this.
    Forward {
        /// The try.
        attempt: Try,
        /// The request.
        request: RequestId,
        /// Every try of this balancer's epoch numbered below it is over for
        /// the balancer.
        done_below: u64,
    },
    /// Backend → balancer: the try's result.
    Answer {
        /// The try.
        attempt: Try,
        /// Ran, or refused.
        result: Served,
    },
    /// Balancer → backend: an active health check.
    Check {
        /// The check round.
        round: u64,
    },
    /// Backend → balancer: alive.
    CheckOk {
        /// The round it answers.
        round: u64,
    },
}

/// Timers.
#[derive(Clone, Debug, Hash)]
pub enum BalancerTimer {
    /// Client: send the next request.
    Next,
    /// Client, balancer: look for deadlines that passed.
    Sweep,
    /// Backend: a server finished its request.
    ServiceDone {
        /// The server.
        worker: usize,
    },
    /// Balancer: send the next round of active checks.
    CheckRound,
    /// Balancer: the round's checks time out.
    CheckDeadline {
        /// The round.
        round: u64,
    },
    /// Balancer: a backend's passive down time ends.
    PassiveRestore {
        /// Backend index.
        backend: usize,
    },
    /// Balancer: lift the ejections that have run their time.
    OutlierInterval,
}

impl Protocol for LoadBalancer {
    type Msg = BalancerMsg;
    type Timer = BalancerTimer;
    type Node = BalancerNode;
    type Client = BalancerClient;

    fn is_reply(msg: &BalancerMsg) -> bool {
        matches!(
            msg,
            BalancerMsg::Reply { .. } | BalancerMsg::Answer { .. } | BalancerMsg::CheckOk { .. }
        )
    }
}

/// A node: a balancer or a backend.
#[derive(Clone, Debug)]
pub enum BalancerNode {
    /// A balancer.
    Balancer(Box<Balancer>),
    /// A backend.
    Backend(Backend),
}

impl BalancerNode {
    /// Node `id` of a run.
    pub fn new(settings: &Rc<Settings>, id: ProcessId) -> Self {
        match settings.backend_index(id) {
            Some(index) => BalancerNode::Backend(Backend::new(settings.clone(), index)),
            None => BalancerNode::Balancer(Box::new(Balancer::new(settings.clone(), id))),
        }
    }

    /// The balancer, if this is one.
    pub fn as_balancer(&self) -> Option<&Balancer> {
        match self {
            BalancerNode::Balancer(balancer) => Some(balancer),
            BalancerNode::Backend(_) => None,
        }
    }

    /// The backend, if this is one.
    pub fn as_backend(&self) -> Option<&Backend> {
        match self {
            BalancerNode::Backend(backend) => Some(backend),
            BalancerNode::Balancer(_) => None,
        }
    }
}

impl Node<LoadBalancer> for BalancerNode {
    fn on_start(&mut self, ctx: &mut Ctx<'_, LoadBalancer>) {
        match self {
            BalancerNode::Balancer(balancer) => balancer.on_start(ctx),
            BalancerNode::Backend(backend) => backend.on_start(ctx),
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, LoadBalancer>, from: ProcessId, msg: BalancerMsg) {
        match self {
            BalancerNode::Balancer(balancer) => balancer.on_message(ctx, from, msg),
            BalancerNode::Backend(backend) => backend.on_message(ctx, from, msg),
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, LoadBalancer>, timer: BalancerTimer) {
        match self {
            BalancerNode::Balancer(balancer) => balancer.on_timer(ctx, timer),
            BalancerNode::Backend(backend) => backend.on_timer(ctx, timer),
        }
    }

    fn status(&self) -> Status {
        Status::default()
    }
}

/// A set of numbers a sender has handed out, for spotting network
/// duplicates: everything below the sender's low-water mark is forgotten
/// (the sender is done with it), and what is above it is remembered.
#[derive(Clone, Debug, Default)]
pub struct Seen {
    below: u64,
    above: std::collections::BTreeSet<u64>,
}

impl Seen {
    /// Records `number`, with the sender's mark `done_below`; false if it
    /// was seen before or the sender is already done with it.
    pub fn first_time(&mut self, number: u64, done_below: u64) -> bool {
        if done_below > self.below {
            self.below = done_below;
            self.above = self.above.split_off(&done_below);
        }
        number >= self.below && self.above.insert(number)
    }

    /// Numbers remembered (above the mark).
    pub fn len(&self) -> usize {
        self.above.len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.above.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seen_spots_duplicates_and_forgets_below_the_mark() {
        let mut seen = Seen::default();
        assert!(seen.first_time(1, 1));
        assert!(seen.first_time(2, 1));
        assert!(!seen.first_time(1, 1), "a duplicate");
        assert!(seen.first_time(5, 1));
        assert_eq!(seen.len(), 3);
        // The sender is done with everything below 3.
        assert!(seen.first_time(3, 3));
        assert_eq!(seen.len(), 2, "1 and 2 forgotten");
        assert!(!seen.first_time(2, 3), "below the mark: old");
        assert!(!seen.first_time(5, 3));
    }
}
