//! What a protocol may add to the commands beyond running its scenarios:
//! benchmarks (`faultline bench`), sweep metrics that build their own world, and
//! reproductions of published measurements (`faultline experiment`). Each is a
//! plain value with function pointers, returned from the protocol's spec, so the
//! runner and the command line never name a protocol.

/// What a benchmark that builds its own world measured; the runner times it.
#[derive(Clone, Copy, Debug)]
pub struct BenchMeasure {
    /// Messages delivered.
    pub deliveries: u64,
    /// The run's trace hash (proves the same work was done every repetition).
    pub trace_hash: u64,
    /// Peak number of queued events, when the benchmark can see its queue.
    pub peak_queue: Option<usize>,
    /// Virtual seconds simulated.
    pub virtual_seconds: f64,
}

/// How a benchmark runs.
#[derive(Clone, Copy, Debug)]
pub enum BenchKind {
    /// One seed of the scenario this function writes for `seconds` of faults,
    /// run like `faultline run` with every checker on (it must pass); the
    /// benchmark also reports seeds per second of its 10-second version.
    Scenario(fn(seconds: u64) -> String),
    /// A world the benchmark builds and runs itself for `seconds` virtual
    /// seconds (no checkers): the simulator's raw speed.
    World(fn(seconds: u64) -> BenchMeasure),
    /// A computation outside any world, timed as it is: `run(scale)` does
    /// some number of `unit`s of work (more for a larger `scale`, the
    /// `--seconds` value) and returns how many, and a hash of the results
    /// (proves the same work was done every repetition).
    Compute {
        /// What one unit of work is (`lookups`).
        unit: &'static str,
        /// Does the work.
        run: fn(scale: u64) -> (u64, u64),
    },
}

/// A benchmark a protocol adds to `faultline bench`.
#[derive(Clone, Copy, Debug)]
pub struct BenchWorkload {
    /// The name `faultline bench NAME` takes.
    pub name: &'static str,
    /// One line saying what it measures.
    pub what: &'static str,
    /// How it runs.
    pub kind: BenchKind,
}

/// A sweep metric whose trial builds its own world from one grid value (the
/// Raft paper's election benchmark sweeps the election timeout this way). Its
/// sweep files name no scenario.
#[derive(Clone, Copy, Debug)]
pub struct TrialMetric {
    /// The metric name sweep files use.
    pub name: &'static str,
    /// The axis description (`time without leader (ms)`).
    pub description: &'static str,
    /// The one parameter it sweeps (`protocol.election_timeout`).
    pub parameter: &'static str,
    /// Whether its chart's x axis is log-scaled by default.
    pub log_x: bool,
    /// Values at or above this count as capped (the trial gave up).
    pub cap: f64,
    /// Checks one grid value; returns its label, or what is wrong with it.
    pub check: fn(&toml::Value) -> Result<String, String>,
    /// One trial of a checked value under `seed`: the metric.
    pub run: fn(&toml::Value, u64) -> f64,
}

/// A published measurement a protocol reproduces (`faultline experiment NAME`).
#[derive(Clone, Copy, Debug)]
pub struct Experiment {
    /// The name the command takes.
    pub name: &'static str,
    /// One line saying what it reproduces.
    pub what: &'static str,
    /// Runs it (`trials` overrides the experiment's trial counts) and writes its
    /// table to `out`.
    pub run: fn(trials: Option<u64>, out: &mut dyn std::io::Write) -> std::io::Result<()>,
}
