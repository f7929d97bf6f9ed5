//! Shrinking a failing seed to a small standalone scenario that fails the same way.
//!
//! A fuzzer's failure is usually buried in noise: a nemesis that fired twenty
//! faults over fifteen seconds while three clients hammered five nodes. The
//! shrinker first *materialises* the run: the scripted faults and the faults the
//! nemesis drew for this seed become one explicit `[[faults]]` list, and the
//! network loss and duplication the swarm drew are written into `[network]`, so
//! the scenario runs without its nemesis and (because the schedule and the swarm
//! come from their own streams) replays the very same run. Then it searches for a
//! smaller scenario whose first violation comes from the same checker with the
//! same kind of property:
//!
//! 1. cut the fault phase to just after the violation (faults after it go);
//! 2. delta-debug the fault list (ddmin: drop chunks, then single faults);
//! 3. halve each remaining fault's duration while it still fails;
//! 4. move faults: the whole schedule earlier at once, then each fault to a
//!    rounder time (whole seconds, 100 ms, 10 ms, 1 ms), earlier or else later;
//! 5. shrink the run: the fault phase again, fewer clients, a lower operation
//!    rate, fewer nodes (a candidate the scenario or protocol rejects is just not
//!    taken);
//!
//! and repeats 2–5 until a round changes nothing or the run budget is spent.
//! Every candidate is run and kept only if it fails the same checker, so the
//! result is a real failing scenario, never an extrapolation. The search is
//! deterministic: the same input gives the same output, byte for byte.

use super::nemesis;
use super::registry::{Entry, Registry};
use super::run::{RunOptions, RunOutcome};
use crate::report::Verdict;
use crate::scenario::write::{exact_duration, faults_value};
use crate::scenario::{ScenarioError, ScenarioFile};
use crate::sim::TimedFault;
use crate::sim::time::format_nanos;
use std::collections::BTreeMap;
use std::fmt;
use toml::{Table, Value};

const MILLISECOND: u64 = 1_000_000;

/// How to shrink.
#[derive(Clone, Debug)]
pub struct ShrinkOptions {
    /// Most runs to try (the original run and the materialised check included).
    pub max_runs: u32,
    /// The command line to record in the output's header (no wall-clock data, no
    /// output path, so shrinking twice gives the same bytes).
    pub command: String,
}

impl Default for ShrinkOptions {
    fn default() -> Self {
        ShrinkOptions {
            max_runs: 500,
            command: String::new(),
        }
    }
}

/// Why a shrink could not start.
#[derive(Debug)]
pub enum ShrinkError {
    /// The scenario file is bad.
    Scenario(ScenarioError),
    /// The seed passes: nothing to shrink.
    Passes {
        /// The seed.
        seed: u64,
    },
}

impl fmt::Display for ShrinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ShrinkError::Scenario(error) => write!(f, "{error}"),
            ShrinkError::Passes { seed } => write!(f, "seed {seed} passes; nothing to shrink"),
        }
    }
}

impl From<ScenarioError> for ShrinkError {
    fn from(error: ScenarioError) -> Self {
        ShrinkError::Scenario(error)
    }
}

/// The failure being preserved: the first violation's checker and property.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FailureKind {
    /// Checker name (`raft`, `delivery`, `panic`, ...).
    pub checker: String,
    /// `always` or `eventually`.
    pub property: String,
}

impl fmt::Display for FailureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.checker, self.property)
    }
}

/// The size of a failing run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Measure {
    /// Faults in the schedule (scripted plus nemesis).
    pub faults: usize,
    /// Events the run executed.
    pub events: u64,
    /// Virtual time when the run stopped (ns).
    pub virtual_time: u64,
    /// The fault phase (`duration`, ns).
    pub duration: u64,
    /// Server nodes.
    pub nodes: usize,
    /// Client processes.
    pub clients: usize,
    /// The clients' mean think time (ns).
    pub op_interval: u64,
    /// The first violation's message.
    pub message: String,
}

impl Measure {
    /// `19 faults, 16244 events, virtual time 3.47s, duration 15s, 5 nodes, 3 clients`.
    pub fn describe(&self) -> String {
        format!(
            "{} faults, {} events, virtual time {}, duration {}, {} nodes, {} clients every {}",
            self.faults,
            self.events,
            format_nanos(self.virtual_time),
            format_nanos(self.duration),
            self.nodes,
            self.clients,
            format_nanos(self.op_interval)
        )
    }
}

/// Whether the materialised schedule replays the original failure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Materialised {
    /// The nemesis ran; its schedule written as `[[faults]]` fails the same way
    /// (`same_trace`: with the very same trace hash).
    Reproduced {
        /// Whether the trace hash matched the original run's.
        same_trace: bool,
    },
    /// No nemesis ran (none configured, or `--no-nemesis`): the scripted faults
    /// are the whole schedule.
    NoNemesis,
    /// Without its nemesis the run did not fail the same way: the output keeps
    /// the `[nemesis]` and only the scripted faults and the run's size were shrunk.
    Diverged {
        /// What the materialised run gave instead.
        got: String,
    },
}

/// A finished shrink.
#[derive(Clone, Debug)]
pub struct ShrinkResult {
    /// The shrunk scenario, a standalone TOML file (header comment included).
    pub text: String,
    /// The failure preserved.
    pub failure: FailureKind,
    /// The original run.
    pub before: Measure,
    /// The shrunk run.
    pub after: Measure,
    /// Runs executed (original and checks included).
    pub runs: u32,
    /// Whether the run budget ran out before the search finished.
    pub budget_exhausted: bool,
    /// How the schedule was materialised.
    pub materialised: Materialised,
    /// Whether the shrunk scenario runs with its nemesis (only when materialising
    /// diverged).
    pub nemesis: bool,
    /// The reductions that were kept, in order.
    pub steps: Vec<String>,
}

/// One point of the search space.
#[derive(Clone, Debug, PartialEq)]
struct Candidate {
    faults: Vec<(u64, TimedFault)>,
    duration: u64,
    nodes: usize,
    clients: usize,
    op_interval: u64,
}

/// The parts of the parsed original the search starts from.
struct Original {
    scripted: Vec<(u64, TimedFault)>,
    nemesis: Vec<(u64, TimedFault)>,
    drop_probability: Option<f64>,
    duplicate_probability: Option<f64>,
    has_nemesis: bool,
    duration: u64,
    nodes: usize,
    clients: usize,
    op_interval: u64,
}

fn original(
    entry: &Entry,
    file: &ScenarioFile,
    seed: u64,
    nemesis_on: bool,
) -> Result<Original, ScenarioError> {
    entry.validate(file)?;
    // Only the common tables matter here; the protocol's passed its checks above.
    let scenario = file.parse::<toml::Value>()?;
    let scripted = scenario.scripted_faults(&file.source());
    let mut found = Original {
        scripted,
        nemesis: Vec::new(),
        drop_probability: None,
        duplicate_probability: None,
        has_nemesis: scenario.nemesis.is_some(),
        duration: scenario.fault_phase_end(),
        nodes: scenario.nodes(),
        clients: scenario.workload.clients,
        op_interval: scenario.workload.op_interval.0,
    };
    if nemesis_on && let Some(config) = &scenario.nemesis {
        // Exactly what the runner draws for this seed (run.rs).
        let draw = nemesis::draw(config, seed);
        found.nemesis =
            nemesis::schedule(config, &draw, seed, scenario.fault_phase_end()).collect();
        if draw.drop_probability.is_some() || draw.duplicate_probability.is_some() {
            found.drop_probability = Some(
                draw.drop_probability
                    .unwrap_or(scenario.network.drop_probability.0),
            );
            found.duplicate_probability = Some(
                draw.duplicate_probability
                    .unwrap_or(scenario.network.duplicate_probability.0),
            );
        }
    }
    Ok(found)
}

fn failure_of(outcome: &RunOutcome) -> Option<FailureKind> {
    if outcome.summary.verdict == Verdict::Pass {
        return None;
    }
    outcome
        .summary
        .violations
        .first()
        .map(|violation| FailureKind {
            checker: violation.checker.clone(),
            property: violation.property.clone(),
        })
}

fn set(table: &mut Table, path: &[&str], value: Value) {
    let (last, parents) = path.split_last().expect("a key path");
    let mut table = table;
    for key in parents {
        let entry = table
            .entry(key.to_string())
            .or_insert_with(|| Value::Table(Table::new()));
        if !entry.is_table() {
            *entry = Value::Table(Table::new());
        }
        table = entry.as_table_mut().expect("made a table");
    }
    table.insert(last.to_string(), value);
}

/// The search state.
struct Shrinker<'a> {
    entry: &'a Entry,
    file: &'a ScenarioFile,
    seed: u64,
    /// The original document without `[[faults]]` (and, when materialised,
    /// without `[nemesis]`, the swarm's loss fixed into `[network]`).
    base: Table,
    original: &'a Original,
    nemesis: bool,
    target: FailureKind,
    max_runs: u32,
    runs: u32,
    exhausted: bool,
    /// Rendered candidate → its outcome (`None`: invalid or not the same failure).
    tried: BTreeMap<String, Option<RunOutcome>>,
    best: Candidate,
    best_outcome: RunOutcome,
    steps: Vec<String>,
}

impl Shrinker<'_> {
    /// The candidate as scenario text (no header).
    fn render(&self, candidate: &Candidate) -> String {
        let mut table = self.base.clone();
        table.insert("seed".into(), Value::Integer(self.seed as i64));
        set(
            &mut table,
            &["duration"],
            Value::String(exact_duration(candidate.duration)),
        );
        if candidate.nodes != self.original.nodes {
            set(
                &mut table,
                &["cluster", "nodes"],
                Value::Integer(candidate.nodes as i64),
            );
        }
        if candidate.clients != self.original.clients {
            set(
                &mut table,
                &["workload", "clients"],
                Value::Integer(candidate.clients as i64),
            );
        }
        if candidate.op_interval != self.original.op_interval {
            set(
                &mut table,
                &["workload", "op_interval"],
                Value::String(exact_duration(candidate.op_interval)),
            );
        }
        if !candidate.faults.is_empty() {
            table.insert("faults".into(), faults_value(&candidate.faults));
        }
        let mut expect = Table::new();
        expect.insert("verdict".into(), Value::String("fail".into()));
        expect.insert("checker".into(), Value::String(self.target.checker.clone()));
        if matches!(self.target.property.as_str(), "always" | "eventually") {
            expect.insert(
                "property".into(),
                Value::String(self.target.property.clone()),
            );
        }
        table.insert("expect".into(), Value::Table(expect));
        toml::to_string(&table).expect("a TOML table serialises")
    }

    /// Runs `candidate` (once: results are remembered) and keeps it as the best if
    /// it fails the same way. Returns whether it was kept.
    fn attempt(&mut self, candidate: Candidate, step: &str) -> bool {
        if candidate == self.best {
            return false;
        }
        let text = self.render(&candidate);
        let outcome = match self.tried.get(&text) {
            Some(known) => known.clone(),
            None => {
                let outcome = self.run_text(&text);
                self.tried.insert(text, outcome.clone());
                outcome
            }
        };
        match outcome {
            Some(outcome) => {
                self.best = candidate;
                self.best_outcome = outcome;
                self.steps.push(step.to_string());
                true
            }
            None => false,
        }
    }

    fn run_text(&mut self, text: &str) -> Option<RunOutcome> {
        if self.runs >= self.max_runs {
            self.exhausted = true;
            return None;
        }
        let file = ScenarioFile::from_text(&self.file.file, text.to_string()).ok()?;
        // A candidate the scenario or the protocol rejects is simply not taken
        // (and costs no run).
        let outcome = self
            .entry
            .run(
                &file,
                &RunOptions {
                    seed: self.seed,
                    nemesis: self.nemesis,
                    sink: None,
                },
            )
            .ok()?;
        self.runs += 1;
        (failure_of(&outcome).as_ref() == Some(&self.target)).then_some(outcome)
    }

    fn done(&self) -> bool {
        self.exhausted
    }

    /// The first violation's time in the best run.
    fn violation_time(&self) -> u64 {
        self.best_outcome
            .summary
            .violations
            .first()
            .map_or(self.best_outcome.summary.virtual_time, |v| v.time)
    }

    fn with_duration(&self, duration: u64) -> Candidate {
        let mut candidate = self.best.clone();
        candidate.duration = duration;
        candidate.faults.retain(|(at, _)| *at < duration);
        for (at, timed) in &mut candidate.faults {
            // A fault lasting past the phase end is healed there anyway.
            if let Some(length) = timed.duration
                && *at + length > duration
            {
                timed.duration = Some(duration - *at);
            }
        }
        candidate
    }

    /// Cuts the fault phase to just after the violation (safety violations stop
    /// the run there), else halves it while the run still fails.
    fn trim_duration(&mut self) -> bool {
        let mut progress = false;
        if self.target.property == "always" {
            let cut = (self.violation_time() / MILLISECOND + 1) * MILLISECOND;
            if cut < self.best.duration {
                let candidate = self.with_duration(cut);
                progress |= self.attempt(candidate, &format!("duration -> {}", format_nanos(cut)));
            }
        }
        while !self.done() && self.best.duration >= 2 * MILLISECOND {
            let half = (self.best.duration / 2).div_ceil(MILLISECOND) * MILLISECOND;
            let candidate = self.with_duration(half);
            if !self.attempt(candidate, &format!("duration -> {}", format_nanos(half))) {
                break;
            }
            progress = true;
        }
        progress
    }

    /// ddmin over the fault list: remove chunks of `len / n` faults, refining `n`
    /// down to single faults.
    fn delta_debug(&mut self) -> bool {
        let mut progress = false;
        if !self.best.faults.is_empty() {
            let mut candidate = self.best.clone();
            candidate.faults.clear();
            if self.attempt(candidate, "all faults removed") {
                return true;
            }
        }
        let mut chunks = 2usize;
        while !self.done() && self.best.faults.len() >= 2 {
            let length = self.best.faults.len();
            let chunks_now = chunks.min(length);
            let size = length.div_ceil(chunks_now);
            let mut removed = false;
            let mut start = 0;
            while start < length && !self.done() {
                let end = (start + size).min(length);
                let mut candidate = self.best.clone();
                candidate.faults.drain(start..end);
                let what = if end - start == 1 {
                    format!("fault #{start} removed")
                } else {
                    format!("faults #{start}..#{} removed", end - 1)
                };
                if self.attempt(candidate, &what) {
                    removed = true;
                    progress = true;
                    break;
                }
                start = end;
            }
            if removed {
                chunks = (chunks_now - 1).max(2);
            } else if chunks_now >= length {
                break;
            } else {
                chunks = (chunks_now * 2).min(length);
            }
        }
        // A single remaining fault: try without it.
        if !self.done() && self.best.faults.len() == 1 {
            let mut candidate = self.best.clone();
            candidate.faults.clear();
            progress |= self.attempt(candidate, "fault #0 removed");
        }
        progress
    }

    /// Halves each fault's duration while the run still fails.
    fn shorten_faults(&mut self) -> bool {
        let mut progress = false;
        for index in 0..self.best.faults.len() {
            while !self.done() {
                let Some(length) = self.best.faults[index].1.duration else {
                    break;
                };
                let half = length / 2;
                if half < MILLISECOND {
                    break;
                }
                let mut candidate = self.best.clone();
                candidate.faults[index].1.duration = Some(half);
                if !self.attempt(
                    candidate,
                    &format!("fault #{index} lasts {}", format_nanos(half)),
                ) {
                    break;
                }
                progress = true;
            }
        }
        progress
    }

    /// Moves the schedule earlier as a whole, then each fault (earlier, or else
    /// later) and its duration to a rounder time.
    fn move_faults(&mut self) -> bool {
        let mut progress = false;
        if let Some(first) = self.best.faults.iter().map(|(at, _)| *at).min() {
            let mut shift = first;
            while !self.done() && shift >= MILLISECOND {
                let mut candidate = self.best.clone();
                for (at, _) in &mut candidate.faults {
                    *at -= shift;
                }
                if self.attempt(
                    candidate,
                    &format!("every fault {} earlier", format_nanos(shift)),
                ) {
                    progress = true;
                    break;
                }
                shift /= 2;
            }
        }
        let grains = [
            1_000 * MILLISECOND,
            100 * MILLISECOND,
            10 * MILLISECOND,
            MILLISECOND,
        ];
        for index in 0..self.best.faults.len() {
            for grain in grains {
                if self.done() {
                    return progress;
                }
                let at = self.best.faults[index].0;
                let earlier = at / grain * grain;
                if earlier == at {
                    break;
                }
                // Earlier first (a shorter run), then later (a fault that waits
                // for a round time leaves more of the run undisturbed).
                let mut moved = false;
                for rounded in [earlier, earlier + grain] {
                    let mut candidate = self.best.clone();
                    candidate.faults[index].0 = rounded;
                    candidate.faults.sort_by_key(|(at, _)| *at);
                    if self.attempt(
                        candidate,
                        &format!("fault #{index} at {}", format_nanos(rounded)),
                    ) {
                        moved = true;
                        break;
                    }
                }
                if moved {
                    progress = true;
                    break;
                }
            }
            for grain in grains {
                if self.done() {
                    return progress;
                }
                let Some(length) = self.best.faults.get(index).and_then(|f| f.1.duration) else {
                    break;
                };
                let rounded = length.div_ceil(grain) * grain;
                if rounded == length {
                    break;
                }
                let mut candidate = self.best.clone();
                candidate.faults[index].1.duration = Some(rounded);
                if self.attempt(
                    candidate,
                    &format!("fault #{index} lasts {}", format_nanos(rounded)),
                ) {
                    progress = true;
                    break;
                }
            }
        }
        progress
    }

    /// Fewer clients, a lower operation rate, fewer nodes.
    fn shrink_size(&mut self) -> bool {
        let mut progress = false;
        // Clients: one, else half, else one fewer.
        while !self.done() && self.best.clients > 1 {
            let clients = self.best.clients;
            let mut kept = false;
            for fewer in [1, clients / 2, clients - 1] {
                if fewer >= 1 && fewer < clients {
                    let mut candidate = self.best.clone();
                    candidate.clients = fewer;
                    if self.attempt(candidate, &format!("{fewer} clients")) {
                        kept = true;
                        break;
                    }
                }
            }
            if !kept {
                break;
            }
            progress = true;
        }
        // Operation rate: double the think time while it still fails (at most 10 s).
        while !self.done() && self.best.op_interval * 2 <= 10_000 * MILLISECOND {
            let mut candidate = self.best.clone();
            candidate.op_interval *= 2;
            let what = format!("op_interval {}", format_nanos(candidate.op_interval));
            if !self.attempt(candidate, &what) {
                break;
            }
            progress = true;
        }
        // Nodes: one fewer at a time (a protocol needing more refuses the candidate).
        while !self.done() && self.best.nodes > 1 {
            let mut kept = false;
            for fewer in [self.best.nodes.saturating_sub(2), self.best.nodes - 1] {
                if fewer >= 1 {
                    let mut candidate = self.best.clone();
                    candidate.nodes = fewer;
                    if self.attempt(candidate, &format!("{fewer} nodes")) {
                        kept = true;
                        break;
                    }
                }
            }
            if !kept {
                break;
            }
            progress = true;
        }
        progress
    }

    fn measure(&self) -> Measure {
        measure(&self.best, &self.best_outcome)
    }
}

fn measure(candidate: &Candidate, outcome: &RunOutcome) -> Measure {
    Measure {
        faults: candidate.faults.len(),
        events: outcome.summary.events,
        virtual_time: outcome.summary.virtual_time,
        duration: candidate.duration,
        nodes: candidate.nodes,
        clients: candidate.clients,
        op_interval: candidate.op_interval,
        message: outcome
            .summary
            .violations
            .first()
            .map(|violation| violation.message.clone())
            .unwrap_or_default(),
    }
}

/// Shrinks seed `seed` of `file` (with its nemesis if `nemesis`) to a smaller
/// standalone scenario that fails the same checker with the same kind of property.
pub fn shrink(
    registry: &Registry,
    file: &ScenarioFile,
    seed: u64,
    nemesis: bool,
    options: &ShrinkOptions,
) -> Result<ShrinkResult, ShrinkError> {
    let entry = registry.entry_for(file)?;
    let found = original(entry, file, seed, nemesis)?;
    let first = entry.run(
        file,
        &RunOptions {
            seed,
            nemesis,
            sink: None,
        },
    )?;
    let Some(target) = failure_of(&first) else {
        return Err(ShrinkError::Passes { seed });
    };
    let mut document: Table = toml::from_str(&file.text)
        .map_err(|error| ShrinkError::Scenario(file.source().from_toml(&error)))?;
    document.remove("faults");
    let nemesis_ran = nemesis && found.has_nemesis;
    let mut schedule: Vec<(u64, TimedFault)> = found.scripted.clone();
    schedule.extend(found.nemesis.iter().cloned());
    let start = Candidate {
        faults: schedule.clone(),
        duration: found.duration,
        nodes: found.nodes,
        clients: found.clients,
        op_interval: found.op_interval,
    };
    let before = measure(&start, &first);

    // Materialise: the nemesis's faults and swarm loss written out, nemesis gone.
    let mut materialised_base = document.clone();
    let mut materialised = Materialised::NoNemesis;
    let mut keep_nemesis = false;
    if nemesis_ran {
        materialised_base.remove("nemesis");
        if let Some(p) = found.drop_probability {
            set(
                &mut materialised_base,
                &["network", "drop_probability"],
                Value::Float(p),
            );
        }
        if let Some(p) = found.duplicate_probability {
            set(
                &mut materialised_base,
                &["network", "duplicate_probability"],
                Value::Float(p),
            );
        }
    } else {
        // Nothing to materialise. A nemesis switched off with --no-nemesis goes,
        // so that the output stands alone.
        materialised_base.remove("nemesis");
    }
    let mut shrinker = Shrinker {
        entry,
        file,
        seed,
        base: materialised_base,
        original: &found,
        nemesis: false,
        target: target.clone(),
        max_runs: options.max_runs.max(2),
        runs: 1,
        exhausted: false,
        tried: BTreeMap::new(),
        best: start.clone(),
        best_outcome: first.clone(),
        steps: Vec::new(),
    };
    let text = shrinker.render(&start);
    let check = shrinker.run_text(&text);
    match check {
        Some(outcome) => {
            if nemesis_ran {
                materialised = Materialised::Reproduced {
                    same_trace: outcome.summary.trace_hash == first.summary.trace_hash,
                };
            }
            shrinker.best_outcome = outcome.clone();
            shrinker.tried.insert(text, Some(outcome));
        }
        None => {
            // Fall back: keep the nemesis, shrink only the scripted faults and
            // the run's size around it.
            let got = {
                let file = ScenarioFile::from_text(&file.file, text).ok();
                let options = RunOptions {
                    seed,
                    nemesis: false,
                    sink: None,
                };
                match file.and_then(|file| entry.run(&file, &options).ok()) {
                    Some(outcome) => match failure_of(&outcome) {
                        Some(kind) => format!("a different failure: {kind}"),
                        None => "a pass".to_string(),
                    },
                    None => "an invalid scenario".to_string(),
                }
            };
            materialised = Materialised::Diverged { got };
            keep_nemesis = true;
            shrinker.base = document.clone();
            shrinker.nemesis = true;
            shrinker.best = Candidate {
                faults: found.scripted.clone(),
                ..start.clone()
            };
            shrinker.best_outcome = first.clone();
        }
    }

    // The search proper.
    shrinker.trim_duration();
    for _round in 0..4 {
        if shrinker.done() {
            break;
        }
        let mut progress = shrinker.delta_debug();
        progress |= shrinker.shorten_faults();
        progress |= shrinker.move_faults();
        progress |= shrinker.trim_duration();
        progress |= shrinker.shrink_size();
        if !progress {
            break;
        }
    }

    let after = shrinker.measure();
    let body = shrinker.render(&shrinker.best);
    let header = header(
        file,
        seed,
        nemesis,
        options,
        &target,
        &before,
        &after,
        shrinker.runs,
        shrinker.exhausted,
        &materialised,
    );
    Ok(ShrinkResult {
        text: format!("{header}\n{body}"),
        failure: target,
        before,
        after,
        runs: shrinker.runs,
        budget_exhausted: shrinker.exhausted,
        materialised,
        nemesis: keep_nemesis,
        steps: shrinker.steps,
    })
}

#[allow(clippy::too_many_arguments)]
fn header(
    file: &ScenarioFile,
    seed: u64,
    nemesis: bool,
    options: &ShrinkOptions,
    target: &FailureKind,
    before: &Measure,
    after: &Measure,
    runs: u32,
    exhausted: bool,
    materialised: &Materialised,
) -> String {
    let one_line = |text: &str| text.lines().next().unwrap_or("").to_string();
    let mut lines = vec![format!(
        "# Shrunk by `faultline shrink` from {}, seed {seed}{}.",
        file.file,
        if nemesis { "" } else { " (--no-nemesis)" }
    )];
    if !options.command.is_empty() {
        lines.push(format!("# command: {}", one_line(&options.command)));
    }
    lines.push(format!("# fails: {target}: {}", one_line(&after.message)));
    lines.push(format!("# before: {}", before.describe()));
    lines.push(format!("# after:  {}", after.describe()));
    lines.push(format!(
        "# runs tried: {runs}{}",
        if exhausted {
            " (the run budget ran out: best so far)"
        } else {
            ""
        }
    ));
    match materialised {
        Materialised::Reproduced { .. } => lines.push(
            "# The nemesis's faults for this seed are written out as [[faults]] and its drawn loss into [network]."
                .to_string(),
        ),
        Materialised::NoNemesis => {}
        Materialised::Diverged { got } => lines.push(format!(
            "# Without its nemesis the run gave {got}; the [nemesis] is kept and runs with this seed."
        )),
    }
    lines.join("\n") + "\n"
}
