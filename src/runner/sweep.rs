//! Sweeps: one measurement over a grid of parameter values × N seeds.
//!
//! A sweep file has one `[sweep]` table:
//!
//! ```toml
//! [sweep]
//! name = "drop rate vs tail latency"          # optional title
//! scenario = "../raft/nemesis.toml"            # relative to this file
//! parameter = "network.drop_probability"       # any scenario key, dotted
//! values = [0.0, 0.05, 0.1]                    # one grid point each
//! seeds = 20                                   # seeds 1..=20 per grid point
//! metric = "latency_p99"                       # see `RunMetric`
//! ```
//!
//! Each grid point is the scenario with that key set to that value (the table is
//! rewritten and read again, so a bad value is the usual located error), run like
//! `faultline run` on every seed; the metric is taken from each run's outcome.
//!
//! A registered protocol may add metrics whose trial builds its own world from
//! one grid value ([`crate::spec::TrialMetric`]; Raft's `time_without_leader`
//! is the Raft paper's election benchmark, §9.3 and Figure 16). Such a sweep
//! takes no `scenario`, and sweeps only the metric's own parameter.
//!
//! Runs are spread over threads; results are sorted by grid point and seed, so
//! the output is the same whatever the thread count.

use super::registry::Registry;
use super::run::{RunOptions, RunOutcome};
use crate::report::Verdict;
use crate::scenario::{ScenarioError, ScenarioFile, Source};
use crate::sim::EventType;
use crate::spec::TrialMetric;
use crate::spec::stats::Distribution;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use toml::Spanned;

/// Most seeds per grid point.
pub const SEEDS_MAX: u64 = 1_000_000;

/// Most values a sweep may have. Each grid point keeps its own copy of the
/// scenario, checked when the file is read, so a 16 MiB file of millions of
/// values would otherwise take minutes and gigabytes before the first run.
pub const VALUES_MAX: usize = 10_000;

/// A metric taken from an ordinary run's outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunMetric {
    /// Operations that completed and took effect.
    OpsOk,
    /// Operations that completed without effect.
    OpsFail,
    /// Operations whose outcome stayed unknown.
    OpsInfo,
    /// Median latency of completed (`ok`/`fail`) operations, ms.
    LatencyP50,
    /// 99th-percentile latency of completed operations, ms.
    LatencyP99,
    /// Mean latency of completed operations, ms.
    LatencyMean,
    /// 1 if the run failed a check, else 0 (the mean is the failure rate).
    Failed,
    /// Trace events.
    Events,
    /// Messages put on the wire.
    MessagesSent,
    /// Messages put on the wire per completed operation (ok or fail).
    MessagesPerOp,
    /// A number the protocol's checkers measure (its `MEASURES`); a run that
    /// did not measure it counts as no value.
    Measured(crate::spec::Declared),
}

/// The metrics a sweep can take.
#[derive(Clone, Copy, Debug)]
pub enum Metric {
    /// A registered protocol's trial, which builds its own world.
    Trial(TrialMetric),
    /// A number from each run.
    Run(RunMetric),
}

const RUN_METRICS: [(&str, RunMetric, &str); 10] = [
    ("ops_ok", RunMetric::OpsOk, "operations ok per run"),
    ("ops_fail", RunMetric::OpsFail, "operations failed per run"),
    ("ops_info", RunMetric::OpsInfo, "operations unknown per run"),
    ("latency_p50", RunMetric::LatencyP50, "median latency (ms)"),
    ("latency_p99", RunMetric::LatencyP99, "p99 latency (ms)"),
    ("latency_mean", RunMetric::LatencyMean, "mean latency (ms)"),
    ("failed", RunMetric::Failed, "failed (1) or passed (0)"),
    ("events", RunMetric::Events, "trace events per run"),
    (
        "messages_sent",
        RunMetric::MessagesSent,
        "messages sent per run",
    ),
    (
        "messages_per_op",
        RunMetric::MessagesPerOp,
        "messages sent per completed operation",
    ),
];

/// The metric names a sweep file may use with `registry`.
pub fn metric_names(registry: &Registry) -> Vec<&'static str> {
    let mut names: Vec<&'static str> = registry
        .trial_metrics()
        .iter()
        .map(|metric| metric.name)
        .collect();
    names.extend(RUN_METRICS.iter().map(|(name, ..)| *name));
    names.extend(registry.measures().iter().map(|measure| measure.name));
    names
}

impl Metric {
    /// The axis description.
    pub fn describe(self) -> &'static str {
        match self {
            Metric::Trial(metric) => metric.description,
            Metric::Run(RunMetric::Measured(measure)) => measure.doc,
            Metric::Run(metric) => RUN_METRICS
                .iter()
                .find(|(_, known, _)| *known == metric)
                .map_or("", |(_, _, text)| text),
        }
    }

    /// Whether charts of it use a log-scaled x axis unless the file says.
    pub fn log_x_default(self) -> bool {
        matches!(self, Metric::Trial(metric) if metric.log_x)
    }

    fn of_run(metric: RunMetric, outcome: &RunOutcome, operation: Option<&str>) -> f64 {
        let stats = &outcome.summary.stats;
        match metric {
            RunMetric::OpsOk => stats.operations.ok as f64,
            RunMetric::OpsFail => stats.operations.fail as f64,
            RunMetric::OpsInfo => stats.operations.info as f64,
            RunMetric::Failed => f64::from(u8::from(outcome.summary.verdict != Verdict::Pass)),
            RunMetric::Events => outcome.summary.events as f64,
            RunMetric::MessagesSent => stats.messages.sent as f64,
            RunMetric::Measured(measure) => outcome
                .summary
                .measured
                .get(measure.name)
                .copied()
                .unwrap_or(f64::NAN),
            RunMetric::MessagesPerOp => {
                let completed = stats.operations.ok + stats.operations.fail;
                if completed == 0 {
                    f64::NAN
                } else {
                    stats.messages.sent as f64 / completed as f64
                }
            }
            RunMetric::LatencyP50 | RunMetric::LatencyP99 | RunMetric::LatencyMean => {
                let mut open: BTreeMap<u64, u64> = BTreeMap::new();
                let mut latencies = Vec::new();
                let measured = outcome
                    .history
                    .iter()
                    .filter(|event| operation.is_none_or(|name| event.f == name));
                for event in measured {
                    match event.kind {
                        EventType::Invoke => {
                            open.insert(event.process, event.time);
                        }
                        EventType::Ok | EventType::Fail => {
                            if let Some(invoked) = open.remove(&event.process) {
                                latencies.push((event.time - invoked) as f64 / 1e6);
                            }
                        }
                        EventType::Info => {
                            open.remove(&event.process);
                        }
                    }
                }
                if latencies.is_empty() {
                    return f64::NAN;
                }
                let distribution = Distribution::of_values(latencies, f64::INFINITY);
                match metric {
                    RunMetric::LatencyP50 => distribution.median,
                    RunMetric::LatencyP99 => distribution.p99,
                    _ => distribution.mean,
                }
            }
        }
    }
}

/// What a grid point runs.
#[derive(Clone, Debug)]
pub enum Trial {
    /// The metric's own trial with this grid value.
    Custom(TrialMetric, toml::Value),
    /// The scenario with the parameter set.
    Scenario(Box<ScenarioFile>),
}

/// One grid point.
#[derive(Clone, Debug)]
pub struct GridPoint {
    /// How the value is shown (legend, table, CSV).
    pub label: String,
    /// The value as written.
    pub value: serde_json::Value,
    /// What to run.
    pub trial: Trial,
}

/// A read and checked sweep file.
#[derive(Clone, Debug)]
pub struct Sweep {
    /// The sweep file.
    pub file: String,
    /// Title.
    pub name: String,
    /// The swept key.
    pub parameter: String,
    /// The metric.
    pub metric: Metric,
    /// Seeds `1..=seeds` per grid point.
    pub seeds: u64,
    /// Whether runs use the scenario's nemesis.
    pub nemesis: bool,
    /// Log-scaled x axis for the chart.
    pub log_x: bool,
    /// The chart's x range, else from the data.
    pub x_range: Option<(f64, f64)>,
    /// For latency metrics: only operations with this name (`acquire`).
    pub operation: Option<String>,
    /// The grid.
    pub points: Vec<GridPoint>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SweepFile {
    sweep: SweepTable,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SweepTable {
    name: Option<String>,
    scenario: Option<Spanned<String>>,
    parameter: Spanned<String>,
    values: Spanned<Vec<Spanned<toml::Value>>>,
    seeds: Spanned<u64>,
    metric: Spanned<String>,
    #[serde(default)]
    log_x: Option<bool>,
    #[serde(default)]
    x_range: Option<Spanned<(f64, f64)>>,
    #[serde(default = "yes")]
    nemesis: bool,
    #[serde(default)]
    operation: Option<Spanned<String>>,
}

fn yes() -> bool {
    true
}

/// A TOML value written compactly: `0.05`, `["150ms", "300ms"]`.
fn compact(value: &toml::Value) -> String {
    match value {
        toml::Value::String(text) => text.clone(),
        toml::Value::Array(items) => {
            let items: Vec<String> = items.iter().map(compact).collect();
            format!("[{}]", items.join(", "))
        }
        other => other.to_string(),
    }
}

fn located(
    source: &Source<'_>,
    span: std::ops::Range<usize>,
    key: &str,
    message: String,
) -> ScenarioError {
    let mut error = source.error_at(span, message);
    error.key = Some(key.to_string());
    error
}

/// Sets the dotted `path` in `table` to `value`, making tables on the way.
fn set_path(table: &mut toml::Table, path: &str, value: toml::Value) -> Result<(), String> {
    let mut parts: Vec<&str> = path.split('.').collect();
    let last = parts
        .pop()
        .filter(|last| !last.is_empty())
        .ok_or("an empty key")?;
    let mut current = table;
    let mut walked = String::new();
    for part in parts {
        if part.is_empty() {
            return Err(format!("an empty key part in '{path}'"));
        }
        if !walked.is_empty() {
            walked.push('.');
        }
        walked.push_str(part);
        current = match current
            .entry(part.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()))
        {
            toml::Value::Table(inner) => inner,
            _ => return Err(format!("'{walked}' is not a table")),
        };
    }
    current.insert(last.to_string(), value);
    Ok(())
}

impl Sweep {
    /// Reads and checks a sweep file, every grid point included.
    pub fn read(registry: &Registry, path: &str) -> Result<Sweep, ScenarioError> {
        let text = crate::scenario::read_capped(path, "sweep file")?;
        Sweep::from_text(registry, path, &text)
    }

    /// A sweep from text; `path` names it in errors and locates `scenario`.
    pub fn from_text(registry: &Registry, path: &str, text: &str) -> Result<Sweep, ScenarioError> {
        let source = Source { file: path, text };
        let raw: SweepFile = toml::from_str(text).map_err(|error| source.from_toml(&error))?;
        let table = raw.sweep;
        let seeds = *table.seeds.get_ref();
        if !(1..=SEEDS_MAX).contains(&seeds) {
            return Err(located(
                &source,
                table.seeds.span(),
                "sweep.seeds",
                format!("expected between 1 and {SEEDS_MAX} seeds per value, got {seeds}"),
            ));
        }
        if table.values.get_ref().is_empty() {
            return Err(located(
                &source,
                table.values.span(),
                "sweep.values",
                "expected at least one value: the grid is empty".into(),
            ));
        }
        if table.values.get_ref().len() > VALUES_MAX {
            return Err(located(
                &source,
                table.values.span(),
                "sweep.values",
                format!(
                    "expected at most {VALUES_MAX} values, got {}",
                    table.values.get_ref().len()
                ),
            ));
        }
        let metric_name = table.metric.get_ref().as_str();
        let trial = registry
            .trial_metrics()
            .into_iter()
            .find(|metric| metric.name == metric_name);
        let metric = if let Some(trial) = trial {
            Metric::Trial(trial)
        } else {
            let measure = registry
                .measures()
                .into_iter()
                .find(|measure| measure.name == metric_name);
            match RUN_METRICS.iter().find(|(name, ..)| *name == metric_name) {
                Some((_, metric, _)) => Metric::Run(*metric),
                None if let Some(measure) = measure => Metric::Run(RunMetric::Measured(measure)),
                None => {
                    return Err(located(
                        &source,
                        table.metric.span(),
                        "sweep.metric",
                        format!(
                            "unknown metric \"{metric_name}\"; expected one of: {}",
                            metric_names(registry).join(", ")
                        ),
                    ));
                }
            }
        };
        if let Some(range) = &table.x_range {
            let (low, high) = *range.get_ref();
            let log_x = table.log_x.unwrap_or(metric.log_x_default());
            if low.partial_cmp(&high) != Some(std::cmp::Ordering::Less) || (log_x && low <= 0.0) {
                return Err(located(
                    &source,
                    range.span(),
                    "sweep.x_range",
                    format!(
                        "expected [low, high] with low < high{}, got [{low}, {high}]",
                        if log_x {
                            " and low > 0 (log scale)"
                        } else {
                            ""
                        }
                    ),
                ));
            }
        }
        let latency = matches!(
            metric,
            Metric::Run(RunMetric::LatencyP50 | RunMetric::LatencyP99 | RunMetric::LatencyMean)
        );
        if let Some(operation) = &table.operation
            && !latency
        {
            return Err(located(
                &source,
                operation.span(),
                "sweep.operation",
                format!(
                    "'operation' picks the operations a latency metric measures; metric \"{metric_name}\" is not one (latency_p50, latency_p99, latency_mean)"
                ),
            ));
        }
        let parameter = table.parameter.get_ref().clone();
        let mut points = Vec::new();
        match metric {
            Metric::Trial(trial) => {
                if let Some(scenario) = &table.scenario {
                    return Err(located(
                        &source,
                        scenario.span(),
                        "sweep.scenario",
                        format!(
                            "the {} trial builds its own cluster; remove 'scenario'",
                            trial.name
                        ),
                    ));
                }
                if parameter != trial.parameter {
                    return Err(located(
                        &source,
                        table.parameter.span(),
                        "sweep.parameter",
                        format!(
                            "unknown parameter \"{parameter}\" for {}; expected \"{}\" (the only one it sweeps)",
                            trial.name, trial.parameter
                        ),
                    ));
                }
                for (index, value) in table.values.get_ref().iter().enumerate() {
                    let label = (trial.check)(value.get_ref()).map_err(|message| {
                        located(
                            &source,
                            value.span(),
                            &format!("sweep.values[{index}]"),
                            message,
                        )
                    })?;
                    points.push(GridPoint {
                        label,
                        value: serde_json::to_value(value.get_ref()).unwrap_or_default(),
                        trial: Trial::Custom(trial, value.get_ref().clone()),
                    });
                }
            }
            Metric::Run(_) if parameter == "scenario" => {
                // The grid is a list of scenario files, each run as it is (to
                // compare designs whose other keys differ).
                if let Some(scenario) = &table.scenario {
                    return Err(located(
                        &source,
                        scenario.span(),
                        "sweep.scenario",
                        "with parameter = \"scenario\" the values are the scenario files; remove 'scenario'".to_string(),
                    ));
                }
                for (index, value) in table.values.get_ref().iter().enumerate() {
                    let key = format!("sweep.values[{index}]");
                    let Some(relative) = value.get_ref().as_str() else {
                        return Err(located(
                            &source,
                            value.span(),
                            &key,
                            "expected a scenario file path (relative to this file)".to_string(),
                        ));
                    };
                    let file_name = Path::new(path)
                        .parent()
                        .unwrap_or(Path::new(""))
                        .join(relative)
                        .display()
                        .to_string();
                    let text = crate::scenario::read_capped(&file_name, "scenario file").map_err(
                        |error| {
                            if error.line.is_some() {
                                return error;
                            }
                            located(
                                &source,
                                value.span(),
                                &key,
                                format!("cannot read the scenario {file_name}: {}", error.message),
                            )
                        },
                    )?;
                    let file = ScenarioFile::from_text(&file_name, text)?;
                    registry.validate_file(&file)?;
                    points.push(GridPoint {
                        label: relative.to_string(),
                        value: serde_json::to_value(value.get_ref()).unwrap_or_default(),
                        trial: Trial::Scenario(Box::new(file)),
                    });
                }
            }
            Metric::Run(_) => {
                let Some(scenario) = &table.scenario else {
                    return Err(located(
                        &source,
                        table.metric.span(),
                        "sweep.scenario",
                        format!(
                            "metric \"{metric_name}\" runs a scenario: add scenario = \"path/to/file.toml\" (relative to this file)"
                        ),
                    ));
                };
                let base = Path::new(path)
                    .parent()
                    .unwrap_or(Path::new(""))
                    .join(scenario.get_ref());
                let base_name = base.display().to_string();
                // Capped like every scenario file (so `scenario = "/dev/zero"`
                // is refused at once); an error placed in the scenario stays
                // there, one about the file as a whole is placed here.
                let base_text =
                    crate::scenario::read_capped(&base_name, "scenario file").map_err(|error| {
                        if error.line.is_some() {
                            return error;
                        }
                        located(
                            &source,
                            scenario.span(),
                            "sweep.scenario",
                            format!(
                                "cannot read the scenario {base_name}: {}",
                                error
                                    .message
                                    .strip_prefix("cannot read the scenario file: ")
                                    .unwrap_or(&error.message)
                            ),
                        )
                    })?;
                let base_file = ScenarioFile::from_text(&base_name, base_text.clone())?;
                registry.validate_file(&base_file)?;
                let base_table: toml::Table =
                    base_text.parse().map_err(|error: toml::de::Error| {
                        located(
                            &source,
                            scenario.span(),
                            "sweep.scenario",
                            error.to_string(),
                        )
                    })?;
                for (index, value) in table.values.get_ref().iter().enumerate() {
                    let mut rewritten = base_table.clone();
                    set_path(&mut rewritten, &parameter, value.get_ref().clone()).map_err(
                        |message| {
                            located(
                                &source,
                                table.parameter.span(),
                                "sweep.parameter",
                                format!("cannot set \"{parameter}\" in {base_name}: {message}"),
                            )
                        },
                    )?;
                    let label = compact(value.get_ref());
                    let name = format!("{base_name} with {parameter} = {label}");
                    let text = toml::to_string(&rewritten).map_err(|error| {
                        located(&source, value.span(), "sweep.values", error.to_string())
                    })?;
                    let file = ScenarioFile::from_text(&name, text)
                        .and_then(|file| registry.validate_file(&file).map(|()| file))
                        .map_err(|error| {
                            // A key the scenario does not know is the parameter's
                            // fault; anything else is this value's.
                            let unknown = error.message.contains("unknown field");
                            let (span, key) = if unknown {
                                (table.parameter.span(), "sweep.parameter".to_string())
                            } else {
                                (value.span(), format!("sweep.values[{index}]"))
                            };
                            let what = if unknown {
                                format!("unknown parameter \"{parameter}\" for {base_name}")
                            } else {
                                format!("{parameter} = {label} makes {base_name} invalid")
                            };
                            let inner = match &error.key {
                                Some(inner) => format!("key '{inner}': {}", error.message),
                                None => error.message.clone(),
                            };
                            located(&source, span, &key, format!("{what}: {inner}"))
                        })?;
                    points.push(GridPoint {
                        label,
                        value: serde_json::to_value(value.get_ref()).unwrap_or_default(),
                        trial: Trial::Scenario(Box::new(file)),
                    });
                }
            }
        }
        Ok(Sweep {
            file: path.to_string(),
            name: table
                .name
                .unwrap_or_else(|| format!("{} over {parameter}", metric.describe())),
            parameter,
            metric,
            seeds,
            nemesis: table.nemesis,
            log_x: table.log_x.unwrap_or(metric.log_x_default()),
            x_range: table.x_range.map(|range| *range.get_ref()),
            operation: table.operation.map(|operation| operation.into_inner()),
            points,
        })
    }
}

/// The measurements of one grid point.
#[derive(Clone, Debug, Serialize)]
pub struct PointResult {
    /// The value's label.
    pub label: String,
    /// The value as written.
    pub value: serde_json::Value,
    /// Summary of the metric over the seeds that gave one.
    pub distribution: Option<Distribution>,
    /// The metric per seed (`null` where a run gave none, e.g. no latency).
    pub samples: Vec<Option<f64>>,
    /// Seeds whose run failed a check (scenario sweeps).
    pub failed_seeds: Vec<u64>,
}

/// A finished sweep.
#[derive(Clone, Debug, Serialize)]
pub struct SweepResult {
    /// Title.
    pub name: String,
    /// The sweep file.
    pub file: String,
    /// The swept key.
    pub parameter: String,
    /// The metric's name.
    pub metric: String,
    /// What the metric measures.
    pub metric_description: String,
    /// Seeds per value (seeds `1..=seeds`).
    pub seeds: u64,
    /// Values at or above this count as capped (time_without_leader: the trial's
    /// give-up time, ms).
    pub cap: Option<f64>,
    /// One entry per grid point, in file order.
    pub points: Vec<PointResult>,
}

impl SweepResult {
    /// `value,seed,metric` lines.
    pub fn csv(&self) -> String {
        let mut csv = format!("value,seed,{}\n", self.metric);
        for point in &self.points {
            let label = point.label.replace('"', "\"\"");
            for (index, sample) in point.samples.iter().enumerate() {
                let sample = sample.map_or(String::new(), |value| format!("{value}"));
                csv.push_str(&format!("\"{label}\",{},{sample}\n", index + 1));
            }
        }
        csv
    }
}

/// Runs every grid point on seeds `1..=seeds` over `jobs` threads.
pub fn run_sweep(registry: &Registry, sweep: &Sweep, jobs: usize) -> SweepResult {
    let tasks: Vec<(usize, u64)> = (0..sweep.points.len())
        .flat_map(|point| (1..=sweep.seeds).map(move |seed| (point, seed)))
        .collect();
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(usize, u64, f64, bool)>> = Mutex::new(Vec::with_capacity(tasks.len()));
    let jobs = jobs.clamp(1, tasks.len().max(1));
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| {
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&(point, seed)) = tasks.get(index) else {
                        break;
                    };
                    let (value, failed) = match (&sweep.points[point].trial, sweep.metric) {
                        (Trial::Custom(metric, value), _) => ((metric.run)(value, seed), false),
                        (Trial::Scenario(file), Metric::Run(metric)) => {
                            let options = RunOptions {
                                seed,
                                nemesis: sweep.nemesis,
                                sink: None,
                            };
                            let outcome = registry
                                .run_file(file, &options)
                                .expect("validated when read");
                            let operation = sweep.operation.as_deref();
                            (
                                Metric::of_run(metric, &outcome, operation),
                                !outcome.passed(),
                            )
                        }
                        (Trial::Scenario(_), Metric::Trial(_)) => (f64::NAN, false),
                    };
                    results
                        .lock()
                        .expect("no worker panics holding the lock")
                        .push((point, seed, value, failed));
                }
            });
        }
    });
    let mut results = results.into_inner().expect("workers finished");
    results.sort_by_key(|(point, seed, ..)| (*point, *seed));
    let cap = match sweep.metric {
        Metric::Trial(metric) => Some(metric.cap),
        Metric::Run(_) => None,
    };
    let mut points: Vec<PointResult> = sweep
        .points
        .iter()
        .map(|point| PointResult {
            label: point.label.clone(),
            value: point.value.clone(),
            distribution: None,
            samples: Vec::new(),
            failed_seeds: Vec::new(),
        })
        .collect();
    for (point, seed, value, failed) in results {
        let entry = &mut points[point];
        entry.samples.push(value.is_finite().then_some(value));
        if failed {
            entry.failed_seeds.push(seed);
        }
    }
    for point in &mut points {
        let values: Vec<f64> = point.samples.iter().flatten().copied().collect();
        if !values.is_empty() {
            point.distribution = Some(Distribution::of_values(
                values,
                cap.unwrap_or(f64::INFINITY),
            ));
        }
    }
    let metric_name = match sweep.metric {
        Metric::Trial(metric) => metric.name.to_string(),
        Metric::Run(RunMetric::Measured(measure)) => measure.name.to_string(),
        Metric::Run(metric) => RUN_METRICS
            .iter()
            .find(|(_, known, _)| *known == metric)
            .map_or(String::new(), |(name, ..)| name.to_string()),
    };
    SweepResult {
        name: sweep.name.clone(),
        file: sweep.file.clone(),
        parameter: sweep.parameter.clone(),
        metric: metric_name,
        metric_description: match &sweep.operation {
            Some(operation) => format!("{} of {operation}", sweep.metric.describe()),
            None => sweep.metric.describe().to_string(),
        },
        seeds: sweep.seeds,
        cap,
        points,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotted_paths_make_tables_on_the_way_and_refuse_to_go_through_values() {
        let mut table: toml::Table = "seed = 1\n[network]\nfifo = true\n".parse().unwrap();
        set_path(
            &mut table,
            "network.drop_probability",
            toml::Value::Float(0.5),
        )
        .unwrap();
        set_path(
            &mut table,
            "nemesis.start",
            toml::Value::String("1s".into()),
        )
        .unwrap();
        assert_eq!(table["network"]["drop_probability"].as_float(), Some(0.5));
        assert_eq!(table["nemesis"]["start"].as_str(), Some("1s"));
        assert!(
            set_path(&mut table, "seed.x", toml::Value::Integer(1))
                .unwrap_err()
                .contains("'seed' is not a table")
        );
    }
}
