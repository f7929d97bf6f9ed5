//! mapreduce as the tool sees it: its declarations, its checks of the
//! `[protocol]` table, and how a run is built.

use super::{
    MapReduce, MapReduceBug, MapReduceChecker, MapReduceConfig, MapReducePoint, MrClient, MrNode,
    Settings,
};
use crate::check::Checker;
use crate::sim::NodeFactory;
use crate::spec::declare::bug_names;
use crate::spec::hooks::{BenchKind, BenchWorkload, Experiment};
use crate::spec::{Declared, Invalid, ProtocolSpec, Setup};
use std::rc::Rc;

/// The most input splits or reduce partitions a job may have.
const MAX_TASKS: usize = 100_000;

fn count(key: &str, value: usize, what: &str) -> Result<(), Invalid> {
    if value == 0 || value > MAX_TASKS {
        return Err(Invalid::key(
            key,
            format!("expected between 1 and {MAX_TASKS} {what}, got {value}"),
        ));
    }
    Ok(())
}

impl ProtocolSpec for MapReduce {
    type Config = MapReduceConfig;
    const NAME: &'static str = "mapreduce";
    const SUMMARY: &'static str = "MapReduce: a coordinator hands map and reduce tasks to workers that crash, pause and straggle; re-execution of lost map outputs, task timeouts, backup tasks, reduce outputs committed by atomic rename; word count and an inverted index checked against a sequential run";
    const BUGS: &'static [Declared] = MapReduceBug::ALL;
    const PROPERTIES: &'static [Declared] = &[
        Declared::new(
            "output_equals_sequential",
            "always: when the coordinator says the job is done, and at the end, every mr-out-R holds exactly what the sequential run of the application on the same input gives for partition R",
        ),
        Declared::new(
            "atomic_output",
            "always: an mr-out-R file, whenever it is visible, is the partition's whole final output (the lab's early-exit test: no partial output is ever seen)",
        ),
        Declared::new(
            "committed_once",
            "always: each reduce partition is committed once over the run, and a map at most once between losses of its output",
        ),
        Declared::new(
            "job_finishes",
            "eventually: the coordinator has declared the job done by the end of the liveness window",
        ),
        Declared::new(
            "runs_once",
            "always, in a run with no fault, no lost or duplicated message and no backup tasks: every task is handed out exactly once (the lab's job count)",
        ),
        Declared::new(
            "parallelism",
            "eventually, for each phase in require_parallel: its tasks ran on two workers at the same time (the lab's map and reduce parallelism tests)",
        ),
    ];
    const MEASURES: &'static [Declared] = &[
        Declared::new("mapreduce_map_attempts", "map attempts handed out"),
        Declared::new("mapreduce_reduce_attempts", "reduce attempts handed out"),
        Declared::new("mapreduce_backups", "backup attempts handed out"),
        Declared::new(
            "mapreduce_job_seconds",
            "virtual seconds from the start until the coordinator declared the job done",
        ),
    ];
    const SOMETIMES: &'static [Declared] = MapReducePoint::ALL;
    const GROUPS: &'static [Declared] = &[
        Declared::new("coordinator", "the coordinator (node 0)"),
        Declared::new("workers", "the worker nodes (1 and up)"),
    ];

    fn validate(setup: &Setup<'_, MapReduceConfig>) -> Result<(), Invalid> {
        let config = setup.config;
        if setup.nodes < 2 {
            return Err(Invalid::key(
                "cluster.nodes",
                format!(
                    "expected at least 2 nodes (node 0 is the coordinator, the rest are workers), got {}: a job needs at least one worker",
                    setup.nodes
                ),
            ));
        }
        count("protocol.inputs", config.inputs, "input splits")?;
        count("protocol.reduces", config.reduces, "reduce partitions")?;
        if config.vocabulary == 0 {
            return Err(Invalid::key(
                "protocol.vocabulary",
                "expected at least 1 word in the vocabulary, got 0",
            ));
        }
        if config.chunk_lines == 0 {
            return Err(Invalid::key(
                "protocol.chunk_lines",
                "expected at least 1 line per output chunk, got 0",
            ));
        }
        if config.fetch_retries == 0 {
            return Err(Invalid::key(
                "protocol.fetch_retries",
                "expected at least 1 round of fetching, got 0",
            ));
        }
        if config.words > 1_000_000 {
            return Err(Invalid::key(
                "protocol.words",
                format!(
                    "expected at most 1000000 words per split, got {}",
                    config.words
                ),
            ));
        }
        let mut seen = Vec::new();
        for phase in &config.require_parallel {
            if seen.contains(phase) {
                return Err(Invalid::key(
                    "protocol.require_parallel",
                    format!("expected each phase at most once, got {phase} twice"),
                ));
            }
            seen.push(*phase);
        }
        if !config.require_parallel.is_empty() && setup.nodes < 3 {
            return Err(Invalid::key(
                "protocol.require_parallel",
                format!(
                    "expected at least 2 workers (3 nodes) to see tasks run in parallel, got {} worker",
                    setup.nodes - 1
                ),
            ));
        }
        Ok(())
    }

    fn active_bugs(config: &MapReduceConfig) -> Vec<String> {
        bug_names(&config.bugs)
    }

    fn node_factory(setup: &Setup<'_, MapReduceConfig>) -> NodeFactory<Self> {
        let settings = Rc::new(Settings::new(setup.config.clone(), setup.nodes));
        Rc::new(move |id| MrNode::new(&settings, id))
    }

    fn client(_setup: &Setup<'_, MapReduceConfig>, _index: usize) -> MrClient {
        MrClient
    }

    fn checkers(setup: &Setup<'_, MapReduceConfig>) -> Vec<Box<dyn Checker<Self>>> {
        let settings = Rc::new(Settings::new(setup.config.clone(), setup.nodes));
        vec![Box::new(MapReduceChecker::new(
            settings,
            setup.fault_phase_end,
        ))]
    }

    fn groups(setup: &Setup<'_, MapReduceConfig>) -> Vec<(&'static str, Vec<usize>)> {
        vec![
            ("coordinator", vec![0]),
            ("workers", (1..setup.nodes).collect()),
        ]
    }

    fn experiments() -> Vec<Experiment> {
        vec![Experiment {
            name: "mapreduce-backups",
            what: "job completion time with and without backup tasks under stragglers, and with a tenth of the workers killed, on the MapReduce paper's sort scaled down, beside the paper's 891 s, 1283 s and 933 s",
            run: super::experiment::backups_table,
        }]
    }

    fn bench_workloads() -> Vec<BenchWorkload> {
        vec![BenchWorkload {
            name: "mapreduce",
            what: "scenarios/mapreduce/crash.toml: word count over 8 inputs on 4 workers that crash and stall (the lab's crash test), every checker on",
            kind: BenchKind::Scenario(bench_text),
        }]
    }
}

/// The benchmark scenario: the crash test, `seconds` long.
fn bench_text(seconds: u64) -> String {
    let text = include_str!("../../../scenarios/mapreduce/crash.toml");
    text.replacen(
        "duration = \"60s\"",
        &format!("duration = \"{seconds}s\""),
        1,
    )
}
