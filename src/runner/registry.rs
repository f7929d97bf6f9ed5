//! The registry: the protocols a binary knows, each one [`Entry`].
//!
//! An entry is made from a type implementing [`ProtocolSpec`] with
//! [`Entry::of`]; it carries the protocol's declarations and the runner's
//! functions instantiated for it, so every command — `run`, `fuzz`, `shrink`,
//! `replay`, `sweep`, `bench`, `list`, the report — takes a [`Registry`] and
//! works on whatever it holds. The runner names no protocol: the shipped ones are
//! listed in `faultline::registry`, and a user's binary adds its own
//! (`faultline::builtin().with(Entry::of::<MyProtocol>())`) and hands the result
//! to `faultline::cli::main`.

use super::observe::{Observed, observe_scenario};
use super::run::{RunOptions, RunOutcome, parse_for, run_scenario};
use crate::scenario::{ScenarioError, ScenarioFile};
use crate::spec::{BenchWorkload, Declared, Experiment, ProtocolSpec, TrialMetric};
use std::path::{Path, PathBuf};

/// The file beside a protocol's scenarios that pins their exact results (trace
/// hashes, the seed that first finds each planted bug); not a scenario.
pub const PINS: &str = "pins.toml";

/// One registered protocol: its declarations and the runner instantiated for it.
#[derive(Clone, Copy, Debug)]
pub struct Entry {
    /// The name scenario files use.
    pub name: &'static str,
    /// One line saying what it is.
    pub summary: &'static str,
    /// Planted bugs.
    pub bugs: &'static [Declared],
    /// Properties checked.
    pub properties: &'static [Declared],
    /// *Sometimes* points.
    pub sometimes: &'static [Declared],
    /// Numbers its checkers measure in every run (sweep metrics by name).
    pub measures: &'static [Declared],
    /// Points knowingly never reached by the shipped campaigns, with reasons.
    pub unreached: &'static [(&'static str, &'static str)],
    /// Fault-target groups (`@name`).
    pub groups: &'static [Declared],
    validate: fn(&ScenarioFile) -> Result<(), ScenarioError>,
    run: fn(&ScenarioFile, &RunOptions) -> Result<RunOutcome, ScenarioError>,
    observe: fn(&ScenarioFile, &RunOptions) -> Result<Observed, ScenarioError>,
    benches: fn() -> Vec<BenchWorkload>,
    trials: fn() -> Vec<TrialMetric>,
    experiments: fn() -> Vec<Experiment>,
}

fn validate_for<S: ProtocolSpec>(file: &ScenarioFile) -> Result<(), ScenarioError> {
    parse_for::<S>(file).map(|_| ())
}

fn run_for<S: ProtocolSpec>(
    file: &ScenarioFile,
    options: &RunOptions,
) -> Result<RunOutcome, ScenarioError> {
    let scenario = parse_for::<S>(file)?;
    Ok(run_scenario::<S>(file, &scenario, options))
}

fn observe_for<S: ProtocolSpec>(
    file: &ScenarioFile,
    options: &RunOptions,
) -> Result<Observed, ScenarioError> {
    let scenario = parse_for::<S>(file)?;
    Ok(observe_scenario::<S>(file, &scenario, options))
}

impl Entry {
    /// The entry for protocol `S`.
    pub fn of<S: ProtocolSpec>() -> Entry {
        Entry {
            name: S::NAME,
            summary: S::SUMMARY,
            bugs: S::BUGS,
            properties: S::PROPERTIES,
            sometimes: S::SOMETIMES,
            measures: S::MEASURES,
            unreached: S::UNREACHED,
            groups: S::GROUPS,
            validate: validate_for::<S>,
            run: run_for::<S>,
            observe: observe_for::<S>,
            benches: S::bench_workloads,
            trials: S::trial_metrics,
            experiments: S::experiments,
        }
    }

    /// Parses and validates `file` as a scenario of this protocol.
    pub fn validate(&self, file: &ScenarioFile) -> Result<(), ScenarioError> {
        (self.validate)(file)
    }

    /// Runs one seed of `file`.
    pub fn run(
        &self,
        file: &ScenarioFile,
        options: &RunOptions,
    ) -> Result<RunOutcome, ScenarioError> {
        (self.run)(file, options)
    }

    /// Runs one seed of `file`, watched closely enough to chart it.
    pub fn observe(
        &self,
        file: &ScenarioFile,
        options: &RunOptions,
    ) -> Result<Observed, ScenarioError> {
        (self.observe)(file, options)
    }

    /// The benchmarks it adds.
    pub fn bench_workloads(&self) -> Vec<BenchWorkload> {
        (self.benches)()
    }

    /// The sweep metrics it adds.
    pub fn trial_metrics(&self) -> Vec<TrialMetric> {
        (self.trials)()
    }

    /// The experiments it adds.
    pub fn experiments(&self) -> Vec<Experiment> {
        (self.experiments)()
    }
}

/// The protocols a binary knows. See the module documentation.
#[derive(Clone, Debug)]
pub struct Registry {
    entries: Vec<Entry>,
    program: &'static str,
}

impl Default for Registry {
    fn default() -> Self {
        Registry {
            entries: Vec::new(),
            program: "faultline",
        }
    }
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Registry::default()
    }

    /// This registry, run by `program`: the command that starts the binary
    /// holding it, which every reproduce line names (default `faultline`). A
    /// user's own binary names itself, e.g.
    /// `"cargo run --release --example primary_backup --"`, so the lines it
    /// prints run again as they are.
    pub fn named(mut self, program: &'static str) -> Self {
        self.program = program;
        self
    }

    /// The command reproduce lines name.
    pub fn program(&self) -> &'static str {
        self.program
    }

    /// Make a run's reproduce line name this registry's program (the runner
    /// writes `faultline ...`).
    pub fn adopt(&self, outcome: &mut RunOutcome) {
        if self.program != "faultline"
            && let Some(rest) = outcome.summary.repro.strip_prefix("faultline ")
        {
            outcome.summary.repro = format!("{} {rest}", self.program);
        }
    }

    /// This registry with `entry` added.
    ///
    /// # Panics
    /// If a protocol of that name is already registered: two protocols cannot
    /// answer to one scenario name.
    pub fn with(mut self, entry: Entry) -> Self {
        self.register(entry);
        self
    }

    /// Adds `entry`. Panics like [`Registry::with`].
    pub fn register(&mut self, entry: Entry) {
        assert!(
            self.get(entry.name).is_none(),
            "protocol {} is registered twice",
            entry.name
        );
        self.entries.push(entry);
    }

    /// Every entry, in registration order.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The entry called `name`.
    pub fn get(&self, name: &str) -> Option<&Entry> {
        self.entries.iter().find(|entry| entry.name == name)
    }

    /// The registered names, in order.
    pub fn names(&self) -> Vec<&'static str> {
        self.entries.iter().map(|entry| entry.name).collect()
    }

    /// The entry for `file`'s protocol, or the located "unknown protocol" error.
    pub fn entry_for(&self, file: &ScenarioFile) -> Result<&Entry, ScenarioError> {
        self.get(&file.protocol)
            .ok_or_else(|| file.protocol_name_error(&self.names()))
    }

    /// Parses and validates `file` without running it.
    pub fn validate_file(&self, file: &ScenarioFile) -> Result<(), ScenarioError> {
        self.entry_for(file)?.validate(file)
    }

    /// Reads the protocol from the file, parses and validates the scenario, and
    /// runs one seed.
    pub fn run_file(
        &self,
        file: &ScenarioFile,
        options: &RunOptions,
    ) -> Result<RunOutcome, ScenarioError> {
        let mut outcome = self.entry_for(file)?.run(file, options)?;
        self.adopt(&mut outcome);
        Ok(outcome)
    }

    /// Like [`Registry::run_file`], watching the run for charts.
    pub fn observe_file(
        &self,
        file: &ScenarioFile,
        options: &RunOptions,
    ) -> Result<Observed, ScenarioError> {
        let mut observed = self.entry_for(file)?.observe(file, options)?;
        self.adopt(&mut observed.outcome);
        Ok(observed)
    }

    /// The scenario files a protocol ships: every `.toml` file directly in
    /// `root/<name>/` but [`PINS`] (subfolders such as `raft/lab/` are their own
    /// sets), sorted. Missing folders give none.
    pub fn shipped(&self, root: &Path, name: &str) -> Vec<PathBuf> {
        let Ok(entries) = std::fs::read_dir(root.join(name)) else {
            return Vec::new();
        };
        let mut files: Vec<PathBuf> = entries
            .filter_map(|entry| entry.ok().map(|entry| entry.path()))
            .filter(|path| path.is_file() && path.extension().is_some_and(|ext| ext == "toml"))
            .filter(|path| path.file_name().is_none_or(|name| name != PINS))
            .collect();
        files.sort();
        files
    }

    /// The campaigns under `root`: every shipped scenario of every registered
    /// protocol that has no `expect` (files with one are examples and
    /// regressions that fail on purpose). CI, the nightly workflow and the
    /// Kubernetes job fuzz exactly these (`faultline list --campaigns`).
    pub fn campaigns(&self, root: &Path) -> Result<Vec<PathBuf>, String> {
        let mut campaigns = Vec::new();
        for entry in &self.entries {
            for path in self.shipped(root, entry.name) {
                let text = crate::scenario::read_capped(&path.to_string_lossy(), "scenario file")
                    .map_err(|error| error.to_string())?;
                let table: toml::Table = text
                    .parse()
                    .map_err(|error| format!("{}: {error}", path.display()))?;
                if !table.contains_key("expect") {
                    campaigns.push(path);
                }
            }
        }
        Ok(campaigns)
    }

    /// Every registered protocol's benchmarks.
    pub fn bench_workloads(&self) -> Vec<BenchWorkload> {
        self.entries
            .iter()
            .flat_map(Entry::bench_workloads)
            .collect()
    }

    /// Every registered protocol's sweep metrics.
    pub fn trial_metrics(&self) -> Vec<TrialMetric> {
        self.entries.iter().flat_map(Entry::trial_metrics).collect()
    }

    /// Every registered protocol's measures (sweep metrics read from a run).
    pub fn measures(&self) -> Vec<Declared> {
        self.entries
            .iter()
            .flat_map(|entry| entry.measures.iter().copied())
            .collect()
    }

    /// Every registered protocol's experiments.
    pub fn experiments(&self) -> Vec<Experiment> {
        self.entries.iter().flat_map(Entry::experiments).collect()
    }
}
