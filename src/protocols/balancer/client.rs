//! The balancer's client: a load generator.
//!
//! Open loop (`arrivals = "open"`): requests arrive as a Poisson process at
//! `rate / clients` per client, whatever happens to the earlier ones — the
//! arrival process of queueing theory, under which a slow backend builds a
//! queue. Closed loop (`"closed"`): each client keeps `concurrency` requests
//! in flight and waits a think time (`workload.op_interval`, ±50%) after each
//! answer before sending the next.
//!
//! Each request is an operation `request` in the history, on a lane of its
//! own (`Ctx::record_on`): `ok` with the backend that served it, `fail` when
//! the balancer refused it (it ran nowhere), `info` when a try timed out (it
//! may have run) or the client gave up after `workload.op_timeout`. A
//! request is sent once; a late or duplicated answer is ignored.

use super::{
    Arrivals, BalancerConfig, BalancerMsg, BalancerTimer, ClientBalancer, LoadBalancer, Outcome,
};
use crate::sim::network::Latency;
use crate::sim::time::Duration;
use crate::sim::{Client, Ctx, EventType, ProcessId, Value};
use crate::workload::WorkloadConfig;
use rand::Rng as _;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::rc::Rc;

/// The balancer's client. See the module documentation.
#[derive(Clone, Debug)]
pub struct BalancerClient {
    config: Rc<BalancerConfig>,
    index: usize,
    workload: WorkloadConfig,
    seq: u64,
    /// Open requests: seq → lane.
    open: BTreeMap<u64, u64>,
    free_lanes: BTreeSet<u64>,
    lanes: u64,
    /// Give-up deadlines (local time), in the order sent.
    deadlines: VecDeque<(u64, u64)>,
    sweeping: bool,
}

impl BalancerClient {
    /// Client number `index` (0-based among clients).
    pub fn new(config: Rc<BalancerConfig>, index: usize, workload: &WorkloadConfig) -> Self {
        BalancerClient {
            config,
            index,
            workload: workload.clone(),
            seq: 0,
            open: BTreeMap::new(),
            free_lanes: BTreeSet::new(),
            lanes: 0,
            deadlines: VecDeque::new(),
            sweeping: false,
        }
    }

    /// Requests sent and not yet over.
    pub fn open(&self) -> usize {
        self.open.len()
    }

    fn gap(&self, ctx: &mut Ctx<'_, LoadBalancer>) -> Duration {
        let per_client = self.config.rate / ctx.clients() as f64;
        let mean = Duration((1e9 / per_client) as u64);
        Duration(Latency::Exponential { mean }.sample(ctx.rng()))
    }

    fn think(&self, ctx: &mut Ctx<'_, LoadBalancer>) {
        let (low, high) = self.workload.think_time();
        ctx.set_timer(low, high, BalancerTimer::Next);
    }

    fn send(&mut self, ctx: &mut Ctx<'_, LoadBalancer>) {
        self.seq += 1;
        let seq = self.seq;
        let key = ctx.rng().gen_range(0..self.config.keys);
        let balancers = self.config.balancers;
        let balancer: ProcessId = match self.config.client_balancer {
            ClientBalancer::Fixed => self.index % balancers,
            ClientBalancer::Random => ctx.rng().gen_range(0..balancers),
        };
        let lane = self.free_lanes.pop_first().unwrap_or_else(|| {
            self.lanes += 1;
            self.lanes - 1
        });
        if self.config.record {
            let value = Value::Int(seq as i64);
            ctx.record_on(lane, EventType::Invoke, "request", None, value);
        }
        self.open.insert(seq, lane);
        let done_below = self.open.first_key_value().map_or(seq + 1, |(&s, _)| s);
        ctx.send(
            balancer,
            BalancerMsg::Request {
                seq,
                key,
                done_below,
            },
        );
        self.deadlines
            .push_back((ctx.now() + self.workload.op_timeout.0, seq));
        if !self.sweeping {
            self.sweeping = true;
            let every = Duration((self.workload.op_timeout.0 / 10).max(1_000_000));
            ctx.set_timer(every, every, BalancerTimer::Sweep);
        }
    }

    fn finish(&mut self, ctx: &mut Ctx<'_, LoadBalancer>, seq: u64, kind: EventType, value: Value) {
        let Some(lane) = self.open.remove(&seq) else {
            return;
        };
        if self.config.record {
            ctx.record_on(lane, kind, "request", None, value);
        }
        self.free_lanes.insert(lane);
        if self.config.arrivals == Arrivals::Closed && ctx.workload_open() {
            self.think(ctx);
        }
    }
}

impl Client<LoadBalancer> for BalancerClient {
    fn on_start(&mut self, ctx: &mut Ctx<'_, LoadBalancer>) {
        match self.config.arrivals {
            Arrivals::Open => {
                let gap = self.gap(ctx);
                ctx.set_timer(gap, gap, BalancerTimer::Next);
            }
            Arrivals::Closed => {
                for _ in 0..self.config.concurrency {
                    self.think(ctx);
                }
            }
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, LoadBalancer>, _from: ProcessId, msg: BalancerMsg) {
        let BalancerMsg::Reply { seq, outcome } = msg else {
            return;
        };
        let (kind, value) = match outcome {
            Outcome::Ok(backend) => (EventType::Ok, Value::Int(i64::from(backend))),
            Outcome::Refused => (EventType::Fail, Value::Str("refused".into())),
            Outcome::TimedOut => (EventType::Info, Value::Str("timed out".into())),
        };
        self.finish(ctx, seq, kind, value);
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, LoadBalancer>, timer: BalancerTimer) {
        match timer {
            BalancerTimer::Next => {
                if !ctx.workload_open() {
                    return;
                }
                self.send(ctx);
                if self.config.arrivals == Arrivals::Open {
                    let gap = self.gap(ctx);
                    ctx.set_timer(gap, gap, BalancerTimer::Next);
                }
            }
            BalancerTimer::Sweep => {
                self.sweeping = false;
                let now = ctx.now();
                while let Some(&(deadline, seq)) = self.deadlines.front() {
                    if deadline > now {
                        break;
                    }
                    self.deadlines.pop_front();
                    self.finish(ctx, seq, EventType::Info, Value::Str("gave up".into()));
                }
                if !self.deadlines.is_empty() {
                    self.sweeping = true;
                    let every = Duration((self.workload.op_timeout.0 / 10).max(1_000_000));
                    ctx.set_timer(every, every, BalancerTimer::Sweep);
                }
            }
            _ => {}
        }
    }
}
