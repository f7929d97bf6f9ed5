//! The MapReduce checker: the job's output against the sequential run, the
//! atomicity of every visible output file, commits once, the job finishing,
//! and the lab's job-count and parallelism tests.

use super::coordinator::Note;
use super::{AttemptId, COORDINATOR, MapReduce, Phase, Settings, apps};
use crate::check::{Checker, Finding};
use crate::sim::{Step, World};
use std::rc::Rc;

/// See the module documentation.
#[derive(Clone, Debug)]
pub struct MapReduceChecker {
    settings: Rc<Settings>,
    /// The sequential run's output of each partition.
    expected: Rc<Vec<Vec<u8>>>,
    /// The coordinator incarnation whose journal is being read, and how far.
    incarnation: u32,
    read: usize,
    /// The attempt each reduce partition was committed by (over the run).
    reduce_commits: Vec<Option<AttemptId>>,
    /// The attempt each map was committed by since its output was last lost
    /// (per coordinator incarnation).
    map_commits: Vec<Option<AttemptId>>,
    /// Attempts handed out per task, and backups among them.
    started: [Vec<u32>; 2],
    backups: u64,
    /// When the coordinator said the job was done (true virtual time).
    done_at: Option<u64>,
    /// The most workers seen on tasks of each phase at once.
    most_parallel: [usize; 2],
    /// End of the fault phase (true virtual time), where the heal is applied.
    fault_phase_end: u64,
    /// Whether a fault other than that heal was applied.
    faulted: bool,
    /// The output store's counters when its files were last checked (writes,
    /// damage, coordinator incarnation): unchanged, nothing to look at.
    checked_disk: Option<(u64, u64, u32)>,
}

fn phase_index(phase: Phase) -> usize {
    match phase {
        Phase::Map => 0,
        Phase::Reduce => 1,
    }
}

impl MapReduceChecker {
    /// The checker of a run with these settings.
    pub fn new(settings: Rc<Settings>, fault_phase_end: u64) -> Self {
        let expected = Rc::new(apps::sequential(
            settings.config.app,
            &settings.splits,
            settings.reduces(),
        ));
        let (maps, reduces) = (settings.maps(), settings.reduces());
        MapReduceChecker {
            settings,
            expected,
            incarnation: 0,
            read: 0,
            reduce_commits: vec![None; reduces],
            map_commits: vec![None; maps],
            started: [vec![0; maps], vec![0; reduces]],
            backups: 0,
            done_at: None,
            most_parallel: [0; 2],
            fault_phase_end,
            faulted: false,
            checked_disk: None,
        }
    }

    /// Compares every partition's committed output on the coordinator's disk
    /// with the sequential run's.
    fn compare_output(&self, world: &World<MapReduce>, when: &str) -> Option<String> {
        let disk = world.disk(COORDINATOR);
        for (r, expected) in self.expected.iter().enumerate() {
            let file = super::coordinator::output_file(r);
            match disk.peek(&file) {
                None => return Some(format!("{when}, {file} is missing")),
                Some(got) if got != expected.as_slice() => {
                    return Some(format!(
                        "{when}, {file} differs from the sequential run: {}",
                        first_difference(got, expected)
                    ));
                }
                Some(_) => {}
            }
        }
        None
    }

    /// Every `mr-out-R` visible now must be the partition's whole output.
    fn check_visible(&mut self, world: &World<MapReduce>) -> Option<Finding> {
        let disk = world.disk(COORDINATOR);
        let stats = &disk.stats;
        let counters = (
            stats.writes,
            stats.corruptions + stats.transpositions + stats.lost_writes + stats.torn_writes,
            world.incarnation(COORDINATOR),
        );
        if self.checked_disk == Some(counters) {
            return None;
        }
        self.checked_disk = Some(counters);
        for file in disk.files() {
            let Some(r) = file
                .strip_prefix("mr-out-")
                .and_then(|r| r.parse::<usize>().ok())
            else {
                continue;
            };
            let Some(expected) = self.expected.get(r) else {
                return Some(Finding::always(
                    "atomic_output",
                    format!(
                        "{file} is visible but the job has {} partitions",
                        self.expected.len()
                    ),
                ));
            };
            let got = disk.peek(file).unwrap_or_default();
            if got != expected.as_slice() {
                let what = if expected.starts_with(got) {
                    format!(
                        "a partial output ({} of its {} bytes)",
                        got.len(),
                        expected.len()
                    )
                } else {
                    first_difference(got, expected)
                };
                return Some(Finding::always(
                    "atomic_output",
                    format!("{file} is visible and is not the partition's final output: {what}"),
                ));
            }
        }
        None
    }

    /// Reads the coordinator's new journal entries.
    fn read_journal(&mut self, world: &World<MapReduce>) -> Option<Finding> {
        let incarnation = world.incarnation(COORDINATOR);
        if incarnation != self.incarnation {
            self.incarnation = incarnation;
            self.read = 0;
            self.map_commits
                .iter_mut()
                .for_each(|commit| *commit = None);
        }
        let coordinator = world.node(COORDINATOR).as_coordinator()?;
        let journal = &coordinator.journal;
        if journal.len() < self.read {
            // A fresh coordinator object of the same incarnation (never
            // expected): start over.
            self.read = 0;
        }
        let new: Vec<Note> = journal[self.read..].to_vec();
        self.read = journal.len();
        for note in new {
            match note {
                Note::Started {
                    phase,
                    task,
                    backup,
                    ..
                } => {
                    if let Some(count) = self.started[phase_index(phase)].get_mut(task) {
                        *count += 1;
                    }
                    self.backups += u64::from(backup);
                }
                Note::Committed {
                    phase: Phase::Reduce,
                    task,
                    attempt,
                } => {
                    if let Some(Some(earlier)) = self.reduce_commits.get(task) {
                        return Some(Finding::always(
                            "committed_once",
                            format!(
                                "reduce partition {task} committed twice: by attempt {} and again by attempt {}",
                                attempt_name(*earlier),
                                attempt_name(attempt)
                            ),
                        ));
                    }
                    if let Some(slot) = self.reduce_commits.get_mut(task) {
                        *slot = Some(attempt);
                    }
                }
                Note::Committed {
                    phase: Phase::Map,
                    task,
                    attempt,
                } => {
                    if let Some(Some(earlier)) = self.map_commits.get(task) {
                        return Some(Finding::always(
                            "committed_once",
                            format!(
                                "map {task} committed twice with no loss of its output between: by attempt {} and again by attempt {}",
                                attempt_name(*earlier),
                                attempt_name(attempt)
                            ),
                        ));
                    }
                    if let Some(slot) = self.map_commits.get_mut(task) {
                        *slot = Some(attempt);
                    }
                }
                Note::Lost { map } => {
                    if let Some(slot) = self.map_commits.get_mut(map) {
                        *slot = None;
                    }
                }
                Note::Done => {
                    if self.done_at.is_none() {
                        self.done_at = Some(world.now());
                        if let Some(problem) =
                            self.compare_output(world, "when the coordinator said the job was done")
                        {
                            return Some(Finding::always("output_equals_sequential", problem));
                        }
                    }
                }
            }
        }
        None
    }

    fn count_parallel(&mut self, world: &World<MapReduce>) {
        let mut working = [0usize; 2];
        for id in self.settings.workers() {
            if !world.is_up(id) || world.is_paused(id) {
                continue;
            }
            if let Some((phase, _)) = world.node(id).as_worker().and_then(|w| w.working_on()) {
                working[phase_index(phase)] += 1;
            }
        }
        for (most, now) in self.most_parallel.iter_mut().zip(working) {
            *most = (*most).max(now);
        }
    }
}

/// An attempt id as `epoch.number`.
fn attempt_name(attempt: AttemptId) -> String {
    format!("{}.{}", attempt >> 32, attempt & 0xffff_ffff)
}

/// Where two outputs first differ, as the line of each.
fn first_difference(got: &[u8], expected: &[u8]) -> String {
    let got_text = String::from_utf8_lossy(got);
    let expected_text = String::from_utf8_lossy(expected);
    let mut got_lines = got_text.lines();
    let mut expected_lines = expected_text.lines();
    let mut line = 1;
    loop {
        match (got_lines.next(), expected_lines.next()) {
            (Some(a), Some(b)) if a == b => line += 1,
            (Some(a), Some(b)) => {
                return format!("line {line} is {a:?}, the sequential run has {b:?}");
            }
            (Some(a), None) => {
                return format!("line {line} is {a:?}, past the sequential run's end");
            }
            (None, Some(b)) => {
                return format!(
                    "it ends before line {line}, which the sequential run has as {b:?}"
                );
            }
            (None, None) => return "they differ in bytes, not lines".to_string(),
        }
    }
}

impl Checker<MapReduce> for MapReduceChecker {
    fn name(&self) -> &'static str {
        "mapreduce"
    }

    fn after_step(&mut self, world: &World<MapReduce>, step: Step) -> Option<Finding> {
        if step == Step::Fault && world.now() != self.fault_phase_end {
            self.faulted = true;
        }
        let (coordinator, worker) = match step {
            Step::Delivered { to, .. } => (to == COORDINATOR, to != COORDINATOR),
            Step::Timer { process } => (process == COORDINATOR, process != COORDINATOR),
            Step::Fault | Step::Driver => (true, true),
            Step::Dropped | Step::Skipped => (false, false),
        };
        if worker && !self.settings.config.require_parallel.is_empty() {
            self.count_parallel(world);
        }
        if !coordinator {
            return None;
        }
        if let Some(finding) = self.read_journal(world) {
            return Some(finding);
        }
        self.check_visible(world)
    }

    fn at_end(&mut self, world: &World<MapReduce>) -> Vec<Finding> {
        let mut findings = Vec::new();
        if let Some(finding) = self.read_journal(world) {
            findings.push(finding);
        }
        let coordinator = world.node(COORDINATOR).as_coordinator();
        let done = world.is_up(COORDINATOR) && coordinator.is_some_and(|c| c.is_done());
        if !done {
            let (maps, reduces) = coordinator.map_or((0, 0), |c| c.progress());
            findings.push(Finding::eventually(
                "job_finishes",
                format!(
                    "the job is not done at the end of the liveness window: the coordinator counts {maps} of {} maps and {reduces} of {} reduces done{}",
                    self.settings.maps(),
                    self.settings.reduces(),
                    if world.is_up(COORDINATOR) {
                        ""
                    } else {
                        " (and is down)"
                    }
                ),
            ));
        } else if let Some(problem) = self.compare_output(world, "at the end") {
            findings.push(Finding::always("output_equals_sequential", problem));
        }
        // The lab's job count: with nothing failing, no task runs twice.
        let network = world.network();
        let quiet = !self.faulted
            && network.lost == 0
            && network.duplicated == 0
            && network.long_delayed == 0
            && !self.settings.config.backups;
        if quiet && done {
            for (phase, counts) in [
                (Phase::Map, &self.started[0]),
                (Phase::Reduce, &self.started[1]),
            ] {
                if let Some((task, &count)) = counts.iter().enumerate().find(|(_, c)| **c != 1) {
                    findings.push(Finding::always(
                        "runs_once",
                        format!(
                            "with no fault and no backup tasks, {phase} task {task} was handed out {count} times; expected exactly once"
                        ),
                    ));
                    break;
                }
            }
        }
        for &phase in &self.settings.config.require_parallel {
            let most = self.most_parallel[phase_index(phase)];
            if most < 2 {
                findings.push(Finding::eventually(
                    "parallelism",
                    format!(
                        "{phase} tasks never ran on two workers at once (at most {most}); the scenario requires it"
                    ),
                ));
            }
        }
        findings
    }

    fn measures(&self) -> Vec<(&'static str, f64)> {
        let mut measures = vec![
            (
                "mapreduce_map_attempts",
                f64::from(self.started[0].iter().sum::<u32>()),
            ),
            (
                "mapreduce_reduce_attempts",
                f64::from(self.started[1].iter().sum::<u32>()),
            ),
            ("mapreduce_backups", self.backups as f64),
        ];
        if let Some(done) = self.done_at {
            measures.push(("mapreduce_job_seconds", done as f64 / 1e9));
        }
        measures
    }
}
