//! What a balancer run is judged by.
//!
//! The checker reads each balancer's journal ([`Note`]) after every step it
//! takes, each backend's completions after every step it takes, and the
//! world's faults: which backends each balancer can reach (up, not paused,
//! no link cut either way). It keeps its own model of every balancer — the
//! rotation the balancer announced, the tries in flight to each backend as
//! the journal shows them sent and ended, a hash ring over the rotation —
//! so a balancer whose own counters drift is judged against what it did.
//!
//! - **`answered_once`** (always; at the end, eventually): a balancer answers
//!   each request it accepted at most once, and to the client that sent it;
//!   at the end, every request accepted by a balancer that has not crashed
//!   since was answered.
//! - **`at_most_once`** (always, unless `idempotent`): no request runs to
//!   completion twice, on one backend or two.
//! - **`detection`** (always, with active checks): no try is sent to a
//!   backend that has been unreachable from the balancer for longer than
//!   `fall × inter + timeout` (counted from when the balancer last started
//!   or resumed, if later), with 2% for clock drift; in panic mode such tries
//!   are allowed and counted (`balancer_panic_tries_to_down`).
//! - **`recovery`** (always, with active checks alone): a backend reachable
//!   again is back in rotation within `rise × inter` plus a round trip, while
//!   its link loses nothing at random (a lost check restarts the streak).
//! - **`bounded_load`** (always, bounded_hash): a pick leaves its backend
//!   with at most ⌈c · mean⌉ tries in flight, over the backends on the ring.
//! - **`picks_follow_strategy`** (always): every try goes to a candidate
//!   (a backend in rotation, or any in panic mode, not tried before for the
//!   request); least connections picks a candidate with the fewest tries in
//!   flight; power of d draws d distinct candidates and picks the least
//!   loaded of them; hash picks the key's first candidate clockwise.
//! - **`drained_after_heal`** (eventually): at the end every balancer has
//!   every backend in rotation (unless a passive down time or an ejection
//!   is still running its course, or active checks hold it out over a link
//!   that still loses messages at random), holds no request, and no backend
//!   holds one.
//!
//! It measures the latency of answered requests (p50, p99, p99.9 and mean,
//! from the history), the share not answered `ok`, the imbalance (the
//! largest backend's time-averaged tries in flight over the mean), how long
//! detection and recovery took, retries, and tries sent to unreachable
//! backends in panic mode.

use super::proxy::Note;
use super::strategy::bounded_cap;
use super::{LoadBalancer, RequestId, Settings, StrategyKind};
use crate::check::{Checker, Finding};
use crate::protocols::quorum::ring::{Placement, Ring};
use crate::sim::network::{Latency, NetworkConfig};
use crate::sim::{EventType, Step, World};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::rc::Rc;

/// One request, as far as the checker follows it.
#[derive(Clone, Copy, Debug, Default)]
struct Request {
    /// Accepted by this balancer in this incarnation at this time.
    accepted: Option<(usize, u32, u64)>,
    replies: u8,
    runs: u8,
}

/// The checker's model of one balancer.
#[derive(Clone, Debug)]
struct View {
    incarnation: u32,
    up: bool,
    paused: bool,
    /// When it last started, restarted or resumed (true time).
    available_since: u64,
    in_rotation: Vec<bool>,
    rotation: Vec<usize>,
    ring: Option<Ring>,
    in_flight: Vec<u32>,
    /// Open tries: number → (backend, request).
    tries: BTreeMap<u64, usize>,
    /// Backends each pending request tried.
    tried: BTreeMap<RequestId, Vec<usize>>,
}

impl View {
    fn new(backends: usize, ring: Option<&Ring>, incarnation: u32, now: u64) -> Self {
        View {
            incarnation,
            up: true,
            paused: false,
            available_since: now,
            in_rotation: vec![true; backends],
            rotation: (0..backends).collect(),
            ring: ring.cloned(),
            in_flight: vec![0; backends],
            tries: BTreeMap::new(),
            tried: BTreeMap::new(),
        }
    }
}

/// Whether and since when a balancer can reach a backend.
#[derive(Clone, Copy, Debug)]
struct Reach {
    /// Unreachable since (true time), or reachable.
    down_since: Option<u64>,
    /// Reachable since (true time), when reachable.
    up_since: u64,
    /// The current down episode was seen detected (for the measure).
    detected: bool,
    /// The last episode ended at this time and its recovery is not yet seen.
    recovering: Option<u64>,
}

/// The balancer checker. See the module documentation.
#[derive(Clone, Debug)]
pub struct BalancerChecker {
    settings: Rc<Settings>,
    /// Per client index: its requests by number (index seq − 1).
    requests: Vec<Vec<Request>>,
    views: Vec<View>,
    reach: Vec<Vec<Reach>>,
    recoveries: BinaryHeap<Reverse<(u64, usize, usize, u64)>>,
    /// Per backend: (incarnation, completions seen).
    backends: Vec<(u32, u64)>,
    full_ring: Option<Ring>,
    detection_window: Option<u64>,
    recovery_window: Option<u64>,
    /// Per backend: tries in flight from every balancer, and its integral.
    load: Vec<u32>,
    load_area: Vec<f64>,
    load_since: Vec<u64>,
    detections: Vec<f64>,
    recoveries_seen: Vec<f64>,
    panic_tries_to_down: u64,
    retries: u64,
    faults_seen: u64,
    latencies: Vec<f64>,
    not_ok: u64,
    invoked: u64,
}

/// The largest latency a message can see on any link, if the network bounds
/// it (constant and uniform latencies do).
pub fn latency_bound(network: &NetworkConfig) -> Option<u64> {
    let bound = |latency: &Latency| match latency {
        Latency::Constant { value } => Some(value.0),
        Latency::Uniform { max, .. } => Some(max.0),
        _ => None,
    };
    let mut worst = bound(&network.latency)?;
    for link in &network.links {
        if let Some(latency) = &link.latency {
            worst = worst.max(bound(latency)?);
        }
    }
    if let Some(long) = network.long_delay
        && long.probability.0 > 0.0
    {
        worst += long.max.0;
    }
    Some(worst)
}

impl BalancerChecker {
    /// The checker of a run on `network`.
    pub fn new(settings: Rc<Settings>, clients: usize, network: &NetworkConfig) -> Self {
        let config = &settings.config;
        let backends = settings.backends;
        let full_ring = config
            .strategy
            .hashes()
            .then(|| Ring::with_members(config.vnodes.max(1), 0..backends));
        let drift = |window: u64| window + window / 50 + 1_000_000;
        let detection_window = config.active.map(|active| drift(active.detection_window()));
        let only_active = config.passive.is_none() && config.outlier.is_none();
        let recovery_window = match (config.active, latency_bound(network)) {
            (Some(active), Some(latency)) if only_active && 2 * latency < active.timeout.0 => {
                Some(drift(active.recovery_window()) + 2 * latency)
            }
            _ => None,
        };
        let views = (0..settings.balancers)
            .map(|_| View::new(backends, full_ring.as_ref(), 0, 0))
            .collect();
        let reach = vec![
            vec![
                Reach {
                    down_since: None,
                    up_since: 0,
                    detected: false,
                    recovering: None,
                };
                backends
            ];
            settings.balancers
        ];
        BalancerChecker {
            requests: vec![Vec::new(); clients],
            views,
            reach,
            recoveries: BinaryHeap::new(),
            backends: vec![(0, 0); backends],
            full_ring,
            detection_window,
            recovery_window,
            load: vec![0; backends],
            load_area: vec![0.0; backends],
            load_since: vec![0; backends],
            detections: Vec::new(),
            recoveries_seen: Vec::new(),
            panic_tries_to_down: 0,
            retries: 0,
            faults_seen: 0,
            latencies: Vec::new(),
            not_ok: 0,
            invoked: 0,
            settings,
        }
    }

    fn request(&mut self, id: RequestId) -> &mut Request {
        let client = id.client - self.settings.balancers - self.settings.backends;
        let list = &mut self.requests[client];
        let index = (id.seq - 1) as usize;
        if list.len() <= index {
            list.resize(index + 1, Request::default());
        }
        &mut list[index]
    }

    fn add_load(&mut self, backend: usize, now: u64, delta: i64) {
        let elapsed = now.saturating_sub(self.load_since[backend]);
        self.load_area[backend] += f64::from(self.load[backend]) * elapsed as f64;
        self.load_since[backend] = now;
        self.load[backend] = (i64::from(self.load[backend]) + delta) as u32;
    }

    /// Looks at every balancer and backend after a fault.
    fn refresh(&mut self, world: &World<LoadBalancer>) -> Option<Finding> {
        let now = world.now();
        let backends = self.settings.backends;
        for b in 0..self.settings.balancers {
            let up = world.is_up(b);
            let paused = world.is_paused(b);
            let incarnation = world.incarnation(b);
            let view = &self.views[b];
            if incarnation != view.incarnation || (up && !view.up) {
                // It crashed (and maybe restarted): its tries are gone.
                let old = std::mem::replace(
                    &mut self.views[b],
                    View::new(backends, self.full_ring.as_ref(), incarnation, now),
                );
                for (backend, &count) in old.in_flight.iter().enumerate() {
                    if count > 0 {
                        self.add_load(backend, now, -i64::from(count));
                    }
                }
            } else if view.paused && !paused {
                self.views[b].available_since = now;
            }
            let view = &mut self.views[b];
            view.up = up;
            view.paused = paused;
        }
        for b in 0..self.settings.balancers {
            for k in 0..backends {
                let id = self.settings.backend_id(k);
                let network = world.network();
                let reachable = world.is_up(id)
                    && !world.is_paused(id)
                    && !network.is_cut(b, id)
                    && !network.is_cut(id, b);
                let reach = &mut self.reach[b][k];
                match (reach.down_since, reachable) {
                    (None, false) => {
                        reach.down_since = Some(now);
                        reach.detected = !self.views[b].in_rotation[k];
                        reach.recovering = None;
                    }
                    (Some(_), true) => {
                        reach.down_since = None;
                        reach.up_since = now;
                        reach.recovering = (!self.views[b].in_rotation[k]).then_some(now);
                        if let Some(window) = self.recovery_window {
                            self.recoveries.push(Reverse((now + window, b, k, now)));
                        }
                    }
                    _ => {}
                }
            }
        }
        for k in 0..backends {
            let id = self.settings.backend_id(k);
            let incarnation = world.incarnation(id);
            if incarnation != self.backends[k].0 {
                self.backends[k] = (incarnation, 0);
            }
        }
        None
    }

    fn candidates(&self, b: usize, panic: bool) -> Vec<usize> {
        if panic {
            (0..self.settings.backends).collect()
        } else {
            self.views[b].rotation.clone()
        }
    }

    fn balancer_step(&mut self, world: &World<LoadBalancer>, b: usize) -> Option<Finding> {
        let balancer = world.node(b).as_balancer()?;
        if balancer.journal.is_empty() {
            return None;
        }
        let now = world.now();
        let incarnation = self.views[b].incarnation;
        for note in &balancer.journal {
            match *note {
                Note::Accepted { request } => {
                    self.request(request).accepted = Some((b, incarnation, now));
                }
                Note::Forwarded {
                    request,
                    backend,
                    number,
                    retry,
                    panic,
                    key,
                    drawn,
                    ..
                } => {
                    if retry {
                        self.retries += 1;
                    }
                    if let Some(finding) = self.judge_pick(
                        b,
                        request,
                        backend,
                        panic,
                        key,
                        &balancer.drawn[drawn.0..drawn.1],
                    ) {
                        return Some(finding);
                    }
                    if let Some(down) = self.reach[b][backend].down_since {
                        let start = down.max(self.views[b].available_since);
                        if let Some(window) = self.detection_window
                            && now > start + window
                        {
                            if panic {
                                self.panic_tries_to_down += 1;
                            } else {
                                return Some(Finding::always(
                                    "detection",
                                    format!(
                                        "balancer {b} sent a try of request {}/{} to backend {backend} (node {}), unreachable from it since {:.3}s, {:.3}s later; active checks must take it out within fall × inter + timeout = {:.3}s",
                                        request.client,
                                        request.seq,
                                        self.settings.backend_id(backend),
                                        start as f64 / 1e9,
                                        (now - start) as f64 / 1e9,
                                        self.settings
                                            .config
                                            .active
                                            .map_or(0, |a| a.detection_window())
                                            as f64
                                            / 1e9,
                                    ),
                                ));
                            }
                        }
                    }
                    let view = &mut self.views[b];
                    view.in_flight[backend] += 1;
                    view.tries.insert(number, backend);
                    view.tried.entry(request).or_default().push(backend);
                    self.add_load(backend, now, 1);
                }
                Note::TryEnded { backend, number } => {
                    let view = &mut self.views[b];
                    if view.tries.remove(&number) == Some(backend) {
                        view.in_flight[backend] -= 1;
                        self.add_load(backend, now, -1);
                    }
                }
                Note::Replied {
                    request,
                    to,
                    outcome,
                } => {
                    self.views[b].tried.remove(&request);
                    let entry = self.request(request);
                    entry.replies += 1;
                    if entry.replies > 1 {
                        return Some(Finding::always(
                            "answered_once",
                            format!(
                                "balancer {b} answered request {}/{} a second time ({outcome:?})",
                                request.client, request.seq
                            ),
                        ));
                    }
                    if to != request.client {
                        return Some(Finding::always(
                            "answered_once",
                            format!(
                                "balancer {b} sent the answer to request {}/{} to process {to}, not to its client",
                                request.client, request.seq
                            ),
                        ));
                    }
                }
                Note::Rotation {
                    backend,
                    in_rotation,
                } => {
                    let view = &mut self.views[b];
                    view.in_rotation[backend] = in_rotation;
                    match view.rotation.binary_search(&backend) {
                        Ok(at) if !in_rotation => {
                            view.rotation.remove(at);
                        }
                        Err(at) if in_rotation => view.rotation.insert(at, backend),
                        _ => {}
                    }
                    if let Some(ring) = &mut view.ring {
                        if in_rotation {
                            ring.join(backend);
                        } else {
                            ring.leave(backend);
                        }
                    }
                    let start = self.views[b].available_since;
                    let reach = &mut self.reach[b][backend];
                    if !in_rotation
                        && let Some(down) = reach.down_since
                        && !reach.detected
                    {
                        reach.detected = true;
                        self.detections
                            .push(now.saturating_sub(down.max(start)) as f64 / 1e6);
                    }
                    if in_rotation && let Some(back) = reach.recovering.take() {
                        self.recoveries_seen
                            .push(now.saturating_sub(back.max(start)) as f64 / 1e6);
                    }
                }
            }
        }
        None
    }

    fn judge_pick(
        &self,
        b: usize,
        request: RequestId,
        backend: usize,
        panic: bool,
        key: u64,
        drawn: &[usize],
    ) -> Option<Finding> {
        let view = &self.views[b];
        let tried: &[usize] = view.tried.get(&request).map_or(&[], Vec::as_slice);
        let candidates: Vec<usize> = self
            .candidates(b, panic)
            .into_iter()
            .filter(|c| !tried.contains(c))
            .collect();
        let who = format!("balancer {b}, request {}/{}", request.client, request.seq);
        if !candidates.contains(&backend) {
            return Some(Finding::always(
                "picks_follow_strategy",
                format!(
                    "{who}: sent to backend {backend}, which is not a candidate (in rotation: {:?}, tried: {tried:?}{})",
                    view.rotation,
                    if panic { ", panic mode" } else { "" }
                ),
            ));
        }
        let load = |k: usize| view.in_flight[k];
        let config = &self.settings.config;
        match config.strategy {
            StrategyKind::LeastConn => {
                let least = candidates.iter().map(|&k| load(k)).min()?;
                if load(backend) > least {
                    return Some(Finding::always(
                        "picks_follow_strategy",
                        format!(
                            "{who}: least connections picked backend {backend} with {} tries in flight while a candidate had {least}",
                            load(backend)
                        ),
                    ));
                }
            }
            StrategyKind::P2c => {
                let want = config.choices.min(candidates.len());
                let mut distinct = drawn.to_vec();
                distinct.sort_unstable();
                distinct.dedup();
                if drawn.len() != want || distinct.len() != want {
                    return Some(Finding::always(
                        "picks_follow_strategy",
                        format!(
                            "{who}: power of {} choices drew {drawn:?}; expected {want} distinct candidates",
                            config.choices
                        ),
                    ));
                }
                if let Some(&stray) = drawn.iter().find(|k| !candidates.contains(k)) {
                    return Some(Finding::always(
                        "picks_follow_strategy",
                        format!("{who}: power of d drew backend {stray}, not a candidate"),
                    ));
                }
                let least = drawn.iter().map(|&k| load(k)).min()?;
                if !drawn.contains(&backend) || load(backend) > least {
                    return Some(Finding::always(
                        "picks_follow_strategy",
                        format!(
                            "{who}: power of d drew {drawn:?} (in flight {:?}) and picked backend {backend}",
                            drawn.iter().map(|&k| load(k)).collect::<Vec<_>>()
                        ),
                    ));
                }
            }
            StrategyKind::Hash => {
                let ring = if panic {
                    self.full_ring.as_ref()
                } else {
                    view.ring.as_ref()
                }?;
                let expected = ring.clockwise(key).find(|k| candidates.contains(k))?;
                if expected != backend {
                    return Some(Finding::always(
                        "picks_follow_strategy",
                        format!(
                            "{who}: the key's first candidate clockwise is backend {expected}, but it went to {backend}"
                        ),
                    ));
                }
            }
            StrategyKind::BoundedHash => {
                let members: Vec<usize> = if panic {
                    (0..self.settings.backends).collect()
                } else {
                    view.rotation.clone()
                };
                let total: u64 = members.iter().map(|&k| u64::from(load(k))).sum();
                let cap = bounded_cap(config.load_factor, total, members.len());
                if u64::from(load(backend)) + 1 > cap {
                    return Some(Finding::always(
                        "bounded_load",
                        format!(
                            "{who}: backend {backend} now has {} tries in flight, above the cap ⌈{} · ({total} + 1) / {}⌉ = {cap}",
                            load(backend) + 1,
                            config.load_factor,
                            members.len()
                        ),
                    ));
                }
            }
            StrategyKind::RoundRobin | StrategyKind::Weighted | StrategyKind::Random => {}
        }
        None
    }

    fn backend_step(&mut self, world: &World<LoadBalancer>, id: usize) -> Option<Finding> {
        let k = self.settings.backend_index(id)?;
        let backend = world.node(id).as_backend()?;
        let (incarnation, seen) = self.backends[k];
        let incarnation_now = world.incarnation(id);
        let seen = if incarnation_now != incarnation {
            0
        } else {
            seen
        };
        self.backends[k] = (incarnation_now, backend.completions);
        if backend.completions == seen {
            return None;
        }
        let request = backend.last_completed?;
        let idempotent = self.settings.config.idempotent;
        let entry = self.request(request);
        entry.runs = entry.runs.saturating_add(1);
        if entry.runs > 1 && !idempotent {
            return Some(Finding::always(
                "at_most_once",
                format!(
                    "request {}/{} ran a second time, on backend {k}; requests are not idempotent",
                    request.client, request.seq
                ),
            ));
        }
        None
    }

    fn due_recoveries(&mut self, world: &World<LoadBalancer>) -> Option<Finding> {
        let now = world.now();
        while let Some(&Reverse((due, b, k, since))) = self.recoveries.peek() {
            if due > now {
                break;
            }
            self.recoveries.pop();
            let reach = self.reach[b][k];
            let view = &self.views[b];
            if reach.down_since.is_some() || reach.up_since != since || !view.up || view.paused {
                continue;
            }
            let Some(window) = self.recovery_window else {
                continue;
            };
            let start = since.max(view.available_since);
            if start + window > now {
                self.recoveries.push(Reverse((start + window, b, k, since)));
                continue;
            }
            let id = self.settings.backend_id(k);
            let lossy = world.network().profile(b, id).drop_probability > 0.0
                || world.network().profile(id, b).drop_probability > 0.0;
            if !lossy && !view.in_rotation[k] {
                return Some(Finding::always(
                    "recovery",
                    format!(
                        "backend {k} (node {id}) has been reachable from balancer {b} since {:.3}s, {:.3}s ago, and is still out of rotation; active checks must bring it back within rise × inter plus a round trip",
                        start as f64 / 1e9,
                        (now - start) as f64 / 1e9,
                    ),
                ));
            }
        }
        None
    }

    fn history_measures(&mut self, world: &World<LoadBalancer>) {
        let mut open: BTreeMap<u64, u64> = BTreeMap::new();
        for event in world.history() {
            match event.kind {
                EventType::Invoke => {
                    self.invoked += 1;
                    open.insert(event.process, event.time);
                }
                EventType::Ok => {
                    if let Some(start) = open.remove(&event.process) {
                        self.latencies
                            .push(event.time.saturating_sub(start) as f64 / 1e6);
                    }
                }
                EventType::Fail | EventType::Info => {
                    open.remove(&event.process);
                    self.not_ok += 1;
                }
            }
        }
        self.not_ok += open.len() as u64;
        self.latencies.sort_by(f64::total_cmp);
    }
}

/// The `q` quantile of sorted `values` (nearest rank).
fn quantile(values: &[f64], q: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let rank = ((q * values.len() as f64).ceil() as usize).clamp(1, values.len());
    values[rank - 1]
}

impl Checker<LoadBalancer> for BalancerChecker {
    fn name(&self) -> &'static str {
        "balancer"
    }

    fn after_step(&mut self, world: &World<LoadBalancer>, step: Step) -> Option<Finding> {
        let finding = match step {
            Step::Delivered { to, .. } => self.process_step(world, to),
            Step::Timer { process } => self.process_step(world, process),
            Step::Fault | Step::Driver => {
                self.faults_seen += 1;
                self.refresh(world)
            }
            Step::Dropped | Step::Skipped => None,
        };
        finding.or_else(|| {
            if self.recoveries.is_empty() {
                None
            } else {
                self.due_recoveries(world)
            }
        })
    }

    fn at_end(&mut self, world: &World<LoadBalancer>) -> Vec<Finding> {
        let mut findings = Vec::new();
        let now = world.now();
        let longest = self.settings.config.longest_request();
        for b in 0..self.settings.balancers {
            if !world.is_up(b) {
                continue;
            }
            let Some(balancer) = world.node(b).as_balancer() else {
                continue;
            };
            // A backend the checks still hold out over a link that loses
            // messages at random is excused: a lost check restarts the rise
            // streak, as it would in HAProxy.
            let network = world.network();
            let held_out: Vec<usize> = (0..self.settings.backends)
                .filter(|&k| {
                    let health = balancer.health().backend(k);
                    let id = self.settings.backend_id(k);
                    let lossy = network.profile(b, id).drop_probability > 0.0
                        || network.profile(id, b).drop_probability > 0.0;
                    !balancer.in_rotation(k)
                        && health.passive_down_until.is_none()
                        && health.ejected_until.is_none()
                        && !(lossy && health.active_down)
                })
                .collect();
            if !held_out.is_empty() {
                findings.push(Finding::eventually(
                    "drained_after_heal",
                    format!(
                        "after the heal balancer {b} still holds backends {held_out:?} out of rotation"
                    ),
                ));
            }
            if balancer.pending() > 0 {
                findings.push(Finding::eventually(
                    "drained_after_heal",
                    format!(
                        "after the heal balancer {b} still holds {} requests",
                        balancer.pending()
                    ),
                ));
            }
        }
        for k in 0..self.settings.backends {
            let id = self.settings.backend_id(k);
            if let Some(backend) = world.node(id).as_backend()
                && world.is_up(id)
                && backend.held() > 0
            {
                findings.push(Finding::eventually(
                    "drained_after_heal",
                    format!(
                        "after the heal backend {k} (node {id}) still holds {} requests",
                        backend.held()
                    ),
                ));
            }
        }
        let first_client = self.settings.balancers + self.settings.backends;
        'clients: for (client, list) in self.requests.iter().enumerate() {
            for (index, request) in list.iter().enumerate() {
                let Some((b, incarnation, at)) = request.accepted else {
                    continue;
                };
                if request.replies == 0
                    && world.incarnation(b) == incarnation
                    && world.is_up(b)
                    && at + longest + 1_000_000_000 < now
                {
                    findings.push(Finding::eventually(
                        "answered_once",
                        format!(
                            "balancer {b} accepted request {}/{} at {:.3}s and never answered it",
                            first_client + client,
                            index + 1,
                            at as f64 / 1e9
                        ),
                    ));
                    break 'clients;
                }
            }
        }
        for backend in 0..self.settings.backends {
            self.add_load(backend, now, 0);
        }
        self.history_measures(world);
        findings
    }

    fn measures(&self) -> Vec<(&'static str, f64)> {
        let mut out = vec![
            ("balancer_p50_ms", quantile(&self.latencies, 0.5)),
            ("balancer_p99_ms", quantile(&self.latencies, 0.99)),
            ("balancer_p999_ms", quantile(&self.latencies, 0.999)),
            (
                "balancer_mean_ms",
                if self.latencies.is_empty() {
                    0.0
                } else {
                    self.latencies.iter().sum::<f64>() / self.latencies.len() as f64
                },
            ),
            (
                "balancer_not_ok",
                if self.invoked == 0 {
                    0.0
                } else {
                    self.not_ok as f64 / self.invoked as f64
                },
            ),
            ("balancer_retries", self.retries as f64),
            (
                "balancer_panic_tries_to_down",
                self.panic_tries_to_down as f64,
            ),
        ];
        let mean = self.load_area.iter().sum::<f64>() / self.load_area.len().max(1) as f64;
        let max = self.load_area.iter().copied().fold(0.0, f64::max);
        out.push((
            "balancer_imbalance",
            if mean > 0.0 { max / mean } else { 1.0 },
        ));
        if !self.detections.is_empty() {
            out.push((
                "balancer_detection_ms",
                self.detections.iter().sum::<f64>() / self.detections.len() as f64,
            ));
        }
        if !self.recoveries_seen.is_empty() {
            out.push((
                "balancer_recovery_ms",
                self.recoveries_seen.iter().sum::<f64>() / self.recoveries_seen.len() as f64,
            ));
        }
        out
    }
}

impl BalancerChecker {
    fn process_step(&mut self, world: &World<LoadBalancer>, process: usize) -> Option<Finding> {
        if process < self.settings.balancers {
            self.balancer_step(world, process)
        } else if process < self.settings.balancers + self.settings.backends {
            self.backend_step(world, process)
        } else {
            None
        }
    }
}
