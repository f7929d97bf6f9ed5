//! Running one seed of a scenario.
//!
//! The run has two phases. During the fault phase (`duration`) clients work and
//! faults happen: the scripted timeline plus, if configured, the random nemesis.
//! At its end the world heals completely (links, crashed and paused nodes, clocks)
//! and the liveness window begins; clients stop starting operations, and by the
//! window's end every *eventually* property must hold. *Always* properties are
//! checked after every step, and the run stops at the first violation.
//!
//! If the protocol supplies a [`Driver`], the run interleaves it with the world:
//! events up to its next wake time run, the clock moves to exactly that time, the
//! driver acts, and the run goes on. Its violations stop the run too.

use super::nemesis::{self, SwarmDraw};
use super::panic;
use crate::check::{Checker, Finding, Property, Violation};
use crate::report::series::{Samples, SeriesSpec};
use crate::report::{MessageStats, OperationStats, Stats, Summary, SummaryViolation, Verdict};
use crate::scenario::{Scenario, ScenarioError, ScenarioFile};
use crate::sim::disk::DiskStats;
use crate::sim::trace::SharedSink;
use crate::sim::{EventType, Fault, HistoryEvent, Step, TimedFault, World};
use crate::spec::{Driver, ProtocolSpec};
use std::cell::Cell;
use std::collections::BTreeMap;

/// How to run.
#[derive(Clone, Default)]
pub struct RunOptions {
    /// The seed.
    pub seed: u64,
    /// Run the scenario's random nemesis (if it has one).
    pub nemesis: bool,
    /// Record every trace event here.
    pub sink: Option<SharedSink>,
}

impl RunOptions {
    /// Seed `seed`, nemesis on, no trace recording.
    pub fn seed(seed: u64) -> Self {
        RunOptions {
            seed,
            nemesis: true,
            sink: None,
        }
    }
}

/// A finished run: its summary and client history.
#[derive(Clone, Debug)]
pub struct RunOutcome {
    /// The summary (also `summary.json`).
    pub summary: Summary,
    /// The client history (also `history.jsonl`).
    pub history: Vec<HistoryEvent>,
    /// The nemesis parameters this seed drew, if a nemesis ran.
    pub swarm: Option<SwarmDraw>,
}

impl RunOutcome {
    /// Whether every check passed.
    pub fn passed(&self) -> bool {
        self.summary.verdict == Verdict::Pass
    }
}

/// Parses and validates `file` for protocol `S` (common and protocol checks).
pub fn parse_for<S: ProtocolSpec>(
    file: &ScenarioFile,
) -> Result<Scenario<S::Config>, ScenarioError> {
    let scenario = file.parse::<S::Config>()?;
    let setup = scenario.setup(&file.text);
    S::validate(&setup).map_err(|invalid| file.source().invalid(invalid))?;
    scenario
        .check_membership(S::NAME, S::min_members(&setup))
        .map_err(|invalid| file.source().invalid(invalid))?;
    let groups: Vec<&str> = S::groups(&setup)
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    scenario
        .check_nemesis_targets(S::NAME, &groups, || {
            S::driver(&setup, scenario.seed).is_some()
        })
        .map_err(|invalid| file.source().invalid(invalid))?;
    Ok(scenario)
}

/// The command line that reproduces a run.
pub fn repro_line(file: &str, seed: u64, nemesis: bool) -> String {
    let mut line = format!("faultline run {file} --seed {seed}");
    if !nemesis {
        line.push_str(" --no-nemesis");
    }
    line
}

/// Samples a protocol's time series ([`ProtocolSpec::SERIES`]) at fixed virtual
/// time intervals while a run goes. It only reads nodes between events.
#[derive(Clone, Debug)]
pub struct Sampler {
    interval: u64,
    next: u64,
    /// What was sampled so far.
    pub samples: Samples,
}

impl Sampler {
    /// Samples every `interval` ns (at least 1) from time 0, for `nodes` nodes.
    pub fn new(specs: &[SeriesSpec], nodes: usize, interval: u64) -> Self {
        Sampler {
            interval: interval.max(1),
            next: 0,
            samples: Samples::new(specs, nodes),
        }
    }

    /// Takes every sample due before `before`: nothing happens between now and
    /// the next event, so the nodes' state now is their state then.
    fn catch_up<S: ProtocolSpec>(&mut self, world: &World<S>, before: u64) {
        if self.samples.specs.is_empty() {
            return;
        }
        while self.next < before {
            let time = self.next;
            self.samples.push(time, |node, values| {
                if !world.is_up(node) {
                    return false;
                }
                S::sample(world.node(node), values);
                true
            });
            self.next += self.interval;
        }
    }
}

/// Runs one seed of a parsed scenario.
pub fn run_scenario<S: ProtocolSpec>(
    file: &ScenarioFile,
    scenario: &Scenario<S::Config>,
    options: &RunOptions,
) -> RunOutcome {
    run_scenario_sampled::<S>(file, scenario, options, None)
}

/// Runs one seed of a parsed scenario, feeding `sampler` (if any) as it goes.
pub fn run_scenario_sampled<S: ProtocolSpec>(
    file: &ScenarioFile,
    scenario: &Scenario<S::Config>,
    options: &RunOptions,
    mut sampler: Option<&mut Sampler>,
) -> RunOutcome {
    let seed = options.seed;
    let setup = scenario.setup(&file.text);
    let mut world: World<S> = World::new(
        &scenario.world_config(seed),
        S::node_factory(&setup),
        |index| S::client(&setup, index),
    );
    for (name, nodes) in S::groups(&setup) {
        world.set_label(name, nodes);
    }
    if let Some(min_members) = S::min_members(&setup) {
        world.set_min_members(min_members);
    }
    if let Some(sink) = &options.sink {
        world.set_sink(sink.clone());
    }
    let fault_end = scenario.fault_phase_end();
    let run_end = scenario.run_end();
    for (at, fault) in scenario.scripted_faults(&file.source()) {
        world.schedule_fault(at, fault);
    }
    let mut swarm: Option<SwarmDraw> = None;
    // Nemesis faults are drawn as the run reaches them (see `top_up`).
    let mut pending: Option<std::iter::Peekable<nemesis::Schedule>> = None;
    if options.nemesis
        && let Some(config) = &scenario.nemesis
    {
        let draw = nemesis::draw(config, seed);
        if draw.drop_probability.is_some() || draw.duplicate_probability.is_some() {
            world.set_loss(
                draw.drop_probability
                    .unwrap_or(scenario.network.drop_probability.0),
                draw.duplicate_probability
                    .unwrap_or(scenario.network.duplicate_probability.0),
            );
        }
        pending = Some(nemesis::schedule(config, &draw, seed, fault_end).peekable());
        swarm = Some(draw);
    }
    world.schedule_fault(fault_end, TimedFault::new(Fault::HealAll));
    world.set_driver_event_limit(scenario.max_events);

    let mut checkers = S::checkers(&setup);
    let mut driver = S::driver(&setup, seed);
    let mut violations: Vec<Violation> = Vec::new();
    let max_events = scenario.max_events;
    // The driver whose wake is running, for naming it if it panics.
    let driving: Cell<Option<&'static str>> = Cell::new(None);
    let outcome = panic::catch(|| {
        world.start();
        let mut wakes: u64 = 0;
        loop {
            let wake = driver
                .as_ref()
                .and_then(|driver| driver.next_wake())
                .filter(|&at| at < run_end);
            let limit = wake.map_or(run_end - 1, |at| at.max(world.now()));
            loop {
                top_up(&mut world, &mut pending);
                if let Some(sampler) = sampler.as_deref_mut() {
                    let before = match world.next_time() {
                        Some(at) if at <= limit => at,
                        _ => limit.saturating_add(1),
                    };
                    sampler.catch_up(&world, before);
                }
                let Some(step) = world.step_until(limit) else {
                    break;
                };
                if after_step(&mut checkers, &mut violations, &world, step) {
                    return;
                }
                if world.events() > max_events {
                    let message = format!(
                        "the run exceeded max_events = {max_events} at {} (a message storm or livelock?)",
                        crate::sim::time::format_nanos(world.now())
                    );
                    violations.push(violation(
                        "bounds",
                        Finding::always("bounds", message),
                        &world,
                    ));
                    return;
                }
            }
            let (Some(at), Some(driver)) = (wake, driver.as_mut()) else {
                break;
            };
            world.advance_to(at);
            let faults_before = world.faults_applied();
            let events_before = world.events();
            driving.set(Some(driver.name()));
            let found = driver.wake(&mut world);
            driving.set(None);
            for finding in found {
                violations.push(violation(driver.name(), finding, &world));
            }
            // What the driver did is a step the checkers should see: a fault, or
            // messages it sent or handed to a node.
            let step = if world.faults_applied() != faults_before {
                Some(Step::Fault)
            } else if world.events() != events_before {
                Some(Step::Driver)
            } else {
                None
            };
            if let Some(step) = step
                && after_step(&mut checkers, &mut violations, &world, step)
            {
                return;
            }
            if !violations.is_empty() {
                return;
            }
            wakes += 1;
            if wakes > max_events {
                let message = format!(
                    "driver {} woke more than max_events = {max_events} times by {} (does its next wake move forward?)",
                    driver.name(),
                    crate::sim::time::format_nanos(world.now())
                );
                violations.push(violation(
                    "bounds",
                    Finding::always("bounds", message),
                    &world,
                ));
                return;
            }
        }
        finish(&mut checkers, &mut driver, &mut violations, &world);
    });
    let panicked = outcome.is_err();
    if let Err(message) = outcome {
        let doing = match (world.dispatching(), driving.get()) {
            (Some((id, what)), _) if id < world.node_count() => {
                format!("node {id} panicked handling {what}")
            }
            (Some((id, what)), _) => format!(
                "client {} panicked handling {what}",
                id - world.node_count()
            ),
            (None, Some(name)) => format!("driver {name} panicked"),
            (None, None) => "the run panicked outside a protocol handler".to_string(),
        };
        // Judged from the world's state, not the panic's words: a driver's call
        // refused past the bound (`World::set_driver_event_limit`).
        let finding = if driving.get().is_some() && world.events() > scenario.max_events {
            // Not a panic of the protocol: the driver's work inside one wake
            // hit the run's bound.
            Finding::always(
                "bounds",
                format!(
                    "the run exceeded max_events = {} inside a wake of driver {} (a loop that never lets virtual time pass?)",
                    scenario.max_events,
                    driving.get().unwrap_or("?")
                ),
            )
        } else {
            Finding::always("panic", format!("{doing}: {message}"))
        };
        let checker = finding.property;
        violations.push(violation(checker, finding, &world));
    }
    if let Some(sampler) = sampler {
        sampler.catch_up(&world, world.now() + 1);
    }
    // What the checkers measured over the run, as far as it went (a run that
    // panicked measures nothing: its checkers saw a world left mid-step).
    let mut measured = BTreeMap::new();
    if !panicked {
        for checker in &checkers {
            for (name, value) in checker.measures() {
                measured.insert(name.to_string(), value);
            }
        }
    }
    undeclared::<S>(&world, &measured, &mut violations);
    summarize::<S>(file, scenario, options, &world, violations, swarm, measured)
}

/// Schedules the nemesis faults due no later than the world's next event, so
/// the queue holds them by the time they could run: a fault is drawn only when
/// the run reaches it, and `max_events` bounds how many are.
fn top_up<S: ProtocolSpec>(
    world: &mut World<S>,
    pending: &mut Option<std::iter::Peekable<nemesis::Schedule>>,
) {
    let Some(schedule) = pending.as_mut() else {
        return;
    };
    while let Some(&(at, _)) = schedule.peek() {
        if world.next_time().is_some_and(|next| next < at) {
            break;
        }
        let (at, fault) = schedule.next().expect("peeked");
        world.schedule_fault(at, fault);
    }
}

/// Shows `step` to every checker; returns whether any found a violation.
fn after_step<S: ProtocolSpec>(
    checkers: &mut [Box<dyn Checker<S>>],
    violations: &mut Vec<Violation>,
    world: &World<S>,
    step: Step,
) -> bool {
    for checker in checkers.iter_mut() {
        if let Some(finding) = checker.after_step(world, step) {
            violations.push(violation(checker.name(), finding, world));
        }
    }
    !violations.is_empty()
}

fn finish<S: ProtocolSpec>(
    checkers: &mut [Box<dyn Checker<S>>],
    driver: &mut Option<Box<dyn Driver<S>>>,
    violations: &mut Vec<Violation>,
    world: &World<S>,
) {
    for checker in checkers.iter_mut() {
        for finding in checker.at_end(world) {
            violations.push(violation(checker.name(), finding, world));
        }
    }
    if let Some(driver) = driver {
        for finding in driver.at_end(world) {
            violations.push(violation(driver.name(), finding, world));
        }
    }
}

/// The properties the runner itself judges, beside every protocol's own.
pub const RUNNER_PROPERTIES: [&str; 3] = ["panic", "bounds", "declarations"];

/// Identities used but not declared are findings. A *sometimes* point the
/// protocol fired but does not declare: campaigns report unreached points from
/// the declarations, so an undeclared one could never be reported as missing. A
/// violation of a property the protocol does not declare: `list` and the
/// reports name properties from the declarations.
fn undeclared<S: ProtocolSpec>(
    world: &World<S>,
    measured: &BTreeMap<String, f64>,
    violations: &mut Vec<Violation>,
) {
    let declared = |list: &[crate::spec::Declared], name: &str| list.iter().any(|d| d.name == name);
    let mut messages: Vec<String> = violations
        .iter()
        .filter(|violation| {
            !RUNNER_PROPERTIES.contains(&violation.name.as_str())
                && !declared(S::PROPERTIES, &violation.name)
        })
        .map(|violation| {
            format!(
                "checker {} reported property \"{}\", which {} does not declare (add it to its PROPERTIES)",
                violation.checker,
                violation.name,
                S::NAME
            )
        })
        .collect();
    messages.extend(
        world
            .sometimes()
            .keys()
            .filter(|name| !declared(S::SOMETIMES, name))
            .filter(|name| {
                !crate::sim::world::ENGINE_POINTS
                    .iter()
                    .any(|(engine, _)| engine == *name)
            })
            .map(|name| {
                format!(
                    "sometimes point \"{name}\" fired but {} does not declare it (add it to its SOMETIMES)",
                    S::NAME
                )
            }),
    );
    messages.extend(
        measured
            .keys()
            .filter(|name| !declared(S::MEASURES, name))
            .map(|name| {
                format!(
                    "a checker measured \"{name}\", which {} does not declare (add it to its MEASURES)",
                    S::NAME
                )
            }),
    );
    for message in messages {
        violations.push(violation(
            "declarations",
            Finding::always("declarations", message),
            world,
        ));
    }
}

fn violation<S: ProtocolSpec>(checker: &str, finding: Finding, world: &World<S>) -> Violation {
    Violation {
        checker: checker.to_string(),
        name: finding.property.to_string(),
        property: finding.kind,
        message: finding.message,
        time: world.now(),
        event: world.events().saturating_sub(1),
    }
}

fn summarize<S: ProtocolSpec>(
    file: &ScenarioFile,
    scenario: &Scenario<S::Config>,
    options: &RunOptions,
    world: &World<S>,
    violations: Vec<Violation>,
    swarm: Option<SwarmDraw>,
    measured: BTreeMap<String, f64>,
) -> RunOutcome {
    let network = world.network();
    let history = world.history().to_vec();
    let mut operations = OperationStats::default();
    for event in &history {
        match event.kind {
            EventType::Invoke => operations.invoked += 1,
            EventType::Ok => operations.ok += 1,
            EventType::Fail => operations.fail += 1,
            EventType::Info => operations.info += 1,
        }
    }
    operations.open = operations.invoked - operations.ok - operations.fail - operations.info;
    let mut disk = DiskStats::default();
    for id in 0..world.node_count() {
        disk.absorb(&world.disk(id).stats);
    }
    let nemesis = options.nemesis && scenario.nemesis.is_some();
    let summary = Summary {
        tool: format!("faultline {}", env!("CARGO_PKG_VERSION")),
        scenario: file.file.clone(),
        scenario_name: scenario.name.clone(),
        scenario_hash: format!("{:016x}", file.content_hash),
        protocol: S::NAME.to_string(),
        bugs: S::active_bugs(&scenario.protocol),
        seed: options.seed,
        nemesis,
        verdict: if violations.is_empty() {
            Verdict::Pass
        } else if violations
            .iter()
            .all(|violation| violation.property == Property::Undecided)
        {
            Verdict::Undecided
        } else {
            Verdict::Fail
        },
        violations: violations.iter().map(SummaryViolation::from).collect(),
        trace_hash: format!("{:016x}", world.trace_hash()),
        events: world.events(),
        virtual_time: world.now(),
        stats: Stats {
            messages: MessageStats {
                sent: network.sent,
                delivered: network.delivered,
                lost: network.lost,
                partitioned: network.partitioned,
                to_crashed: network.to_dead,
                duplicated: network.duplicated,
            },
            faults: world.faults_applied(),
            operations,
            disk,
        },
        swarm: swarm
            .as_ref()
            .map(|draw| serde_json::to_value(draw).expect("swarm draws serialise")),
        sometimes: world
            .sometimes()
            .iter()
            .map(|(name, count)| (name.to_string(), *count))
            .collect(),
        measured,
        repro: repro_line(&file.file, options.seed, options.nemesis),
        files: std::collections::BTreeMap::new(),
        digest: String::new(),
    };
    RunOutcome {
        summary,
        history,
        swarm,
    }
}
