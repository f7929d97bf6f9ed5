//! Fuzzing: many seeds of one scenario, spread over threads and, with shards, over
//! machines.
//!
//! Seeds are independent, so a campaign is embarrassingly parallel: threads take
//! the next seed from a shared counter, and shard `I/N` of a campaign runs the seeds
//! whose position is `I` modulo `N`. Results are sorted by seed, so the outcome —
//! and everything written from it — is the same whatever the thread count or
//! scheduling. Shard outcomes merge into the campaign's outcome.

use super::registry::Registry;
use super::run::{RunOptions, RunOutcome};
use crate::report::{Summary, SummaryViolation, Verdict};
use crate::scenario::{ScenarioError, ScenarioFile};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Which seeds a campaign (or one shard of it) runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeedRange {
    /// The first seed of the whole campaign.
    pub first: u64,
    /// How many seeds the whole campaign has.
    pub count: u64,
    /// This shard's index, `0..shards`.
    pub shard: u64,
    /// How many shards the campaign is split into (1 = unsharded).
    pub shards: u64,
}

impl SeedRange {
    /// The seeds of this shard, in order (built whole: for tests and small
    /// ranges; campaigns use [`SeedRange::len`] and [`SeedRange::get`]).
    pub fn seeds(&self) -> Vec<u64> {
        (0..self.len())
            .filter_map(|index| self.get(index))
            .collect()
    }

    /// How many seeds this shard has.
    pub fn len(&self) -> u64 {
        let shards = self.shards.max(1);
        if self.shard >= self.count {
            return 0;
        }
        (self.count - self.shard).div_ceil(shards)
    }

    /// Whether this shard has no seed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The shard's `index`-th seed, computed, so a range of 10^12 seeds costs
    /// no memory until it runs.
    pub fn get(&self, index: u64) -> Option<u64> {
        (index < self.len()).then(|| self.first + self.shard + index * self.shards.max(1))
    }
}

/// One failing seed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// The seed.
    pub seed: u64,
    /// Its first violation.
    pub violation: SummaryViolation,
    /// How many violations it had.
    pub violations: usize,
    /// Its trace hash.
    pub trace_hash: String,
    /// The line that reproduces it.
    pub repro: String,
}

/// What a campaign (or shard, or merge of shards) found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FuzzSummary {
    /// `faultline <version>`.
    pub tool: String,
    /// The scenario path.
    pub scenario: String,
    /// Hash of the scenario text.
    pub scenario_hash: String,
    /// Protocol name.
    pub protocol: String,
    /// Active planted bugs.
    pub bugs: Vec<String>,
    /// Whether the nemesis ran.
    pub nemesis: bool,
    /// The campaign's seed range.
    pub first_seed: u64,
    /// The campaign's seed count.
    pub seed_count: u64,
    /// Shards included in this summary (indices), of `shards`.
    pub shards_included: Vec<u64>,
    /// Total shards of the campaign.
    pub shards: u64,
    /// Seeds run.
    pub runs: u64,
    /// Seeds that passed.
    pub passed: u64,
    /// Failing seeds, in seed order.
    pub failures: Vec<Failure>,
    /// Of the failing seeds, those whose verdict was `undecided`: no check
    /// failed, but one could not decide within its budget.
    #[serde(default)]
    pub undecided: u64,
    /// For each *sometimes* point the protocol declares or any run reached: in how
    /// many runs it fired (0 = never exercised).
    pub sometimes: BTreeMap<String, u64>,
    /// Total trace events over all runs.
    pub events: u64,
    /// Why the campaign stopped before its last seed, if it did (`--stop-on-first`,
    /// `--time-budget`); `runs` then counts the seeds that ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
    /// Per seed, for the campaign's charts (not stored in fuzz.json).
    #[serde(skip)]
    pub seed_results: crate::report::fuzz_charts::SeedResults,
}

impl FuzzSummary {
    /// The *sometimes* points no run reached.
    pub fn never_reached(&self) -> Vec<&str> {
        self.sometimes
            .iter()
            .filter(|(_, count)| **count == 0)
            .map(|(name, _)| name.as_str())
            .collect()
    }

    /// Checks that the counts agree with each other and with the shard: runs
    /// are the passes plus the failures, and every failing seed is one of the
    /// shard's. An edited `fuzz.json` is refused, naming what disagrees.
    pub fn check_counts(&self) -> Result<(), String> {
        if self.runs != self.passed + self.failures.len() as u64 {
            return Err(format!(
                "runs = {} but passed + failures = {} + {}",
                self.runs,
                self.passed,
                self.failures.len()
            ));
        }
        if self.undecided > self.failures.len() as u64 {
            return Err(format!(
                "undecided = {} but there are {} failures",
                self.undecided,
                self.failures.len()
            ));
        }
        let mut shard_seeds = 0;
        for &shard in &self.shards_included {
            let range = SeedRange {
                first: self.first_seed,
                count: self.seed_count,
                shard,
                shards: self.shards,
            };
            shard_seeds += range.len();
        }
        if self.runs > shard_seeds {
            return Err(format!(
                "runs = {} but its shards hold {shard_seeds} seeds",
                self.runs
            ));
        }
        let end = self.first_seed.saturating_add(self.seed_count);
        if let Some(failure) = self
            .failures
            .iter()
            .find(|failure| !(self.first_seed..end).contains(&failure.seed))
        {
            return Err(format!(
                "failing seed {} is outside the campaign's seeds {}..{end}",
                failure.seed, self.first_seed
            ));
        }
        Ok(())
    }

    /// Folds another shard's summary of the same campaign into this one.
    pub fn merge(&mut self, other: &FuzzSummary) -> Result<(), String> {
        let differs = [
            ("scenario_hash", self.scenario_hash != other.scenario_hash),
            ("first_seed", self.first_seed != other.first_seed),
            ("seed_count", self.seed_count != other.seed_count),
            ("shards", self.shards != other.shards),
            ("nemesis", self.nemesis != other.nemesis),
        ];
        if let Some((field, _)) = differs.iter().find(|(_, differs)| *differs) {
            return Err(format!(
                "cannot merge shards of different campaigns of {}: their {field} differs (seeds {}+{}, {} shards, nemesis {} against seeds {}+{}, {} shards, nemesis {})",
                self.scenario,
                self.first_seed,
                self.seed_count,
                self.shards,
                self.nemesis,
                other.first_seed,
                other.seed_count,
                other.shards,
                other.nemesis
            ));
        }
        if let Some(shard) = other
            .shards_included
            .iter()
            .find(|shard| self.shards_included.contains(shard))
        {
            return Err(format!("shard {shard} appears twice"));
        }
        self.shards_included.extend(&other.shards_included);
        self.shards_included.sort_unstable();
        self.runs += other.runs;
        self.passed += other.passed;
        self.undecided += other.undecided;
        self.events += other.events;
        self.failures.extend(other.failures.iter().cloned());
        self.failures.sort_by_key(|failure| failure.seed);
        for (name, count) in &other.sometimes {
            *self.sometimes.entry(name.clone()).or_insert(0) += count;
        }
        if let Some(reason) = &other.stopped {
            self.stopped = Some(match self.stopped.take() {
                Some(mine) => format!("{mine}; {reason}"),
                None => reason.clone(),
            });
        }
        self.seed_results
            .0
            .extend(other.seed_results.0.iter().cloned());
        self.seed_results.0.sort_by_key(|result| result.seed);
        Ok(())
    }

    /// Failing seeds per checker, by checker name.
    pub fn failures_by_checker(&self) -> BTreeMap<&str, u64> {
        let mut by = BTreeMap::new();
        for failure in &self.failures {
            *by.entry(failure.violation.checker.as_str()).or_insert(0) += 1;
        }
        by
    }

    /// JUnit XML: one test case per failing seed plus one for all passing seeds,
    /// which CI systems display as a test report.
    pub fn junit_xml(&self) -> String {
        junit_xml(std::slice::from_ref(self))
    }

    /// This summary's `<testsuite>` element.
    fn junit_suite(&self, xml: &mut String) {
        let escape = |text: &str| {
            text.replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
                .replace('"', "&quot;")
        };
        let suite = escape(&format!("faultline fuzz {}", self.scenario));
        xml.push_str(&format!(
            "<testsuite name=\"{suite}\" tests=\"{}\" failures=\"{}\">\n",
            self.failures.len() + 1,
            self.failures.len()
        ));
        xml.push_str(&format!(
            "  <testcase classname=\"{suite}\" name=\"{} passing seeds\"/>\n",
            self.passed
        ));
        for failure in &self.failures {
            let message = format!(
                "{} ({}): {}",
                failure.violation.checker, failure.violation.property, failure.violation.message
            );
            xml.push_str(&format!(
                "  <testcase classname=\"{suite}\" name=\"seed {}\">\n    <failure message=\"{}\">{}\nreproduce: {}</failure>\n  </testcase>\n",
                failure.seed,
                escape(&message),
                escape(&message),
                escape(&failure.repro)
            ));
        }
        xml.push_str("</testsuite>\n");
    }
}

/// JUnit XML for campaigns over one or more scenarios: a test suite per scenario
/// with a test case per failing seed plus one for all its passing seeds.
pub fn junit_xml(summaries: &[FuzzSummary]) -> String {
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let failures: usize = summaries.iter().map(|summary| summary.failures.len()).sum();
    let tests: usize = summaries.len() + failures;
    xml.push_str(&format!(
        "<testsuites name=\"faultline fuzz\" tests=\"{tests}\" failures=\"{failures}\">\n"
    ));
    for summary in summaries {
        summary.junit_suite(&mut xml);
    }
    xml.push_str("</testsuites>\n");
    xml
}

/// How to fuzz.
#[derive(Clone, Debug)]
pub struct FuzzOptions {
    /// Which seeds.
    pub seeds: SeedRange,
    /// Worker threads.
    pub jobs: usize,
    /// Run the scenario's nemesis.
    pub nemesis: bool,
    /// Stop at the first failing seed. The seeds before it all ran (workers take
    /// seeds in order and finish what they took), and results past it are
    /// dropped, so the outcome is the same whatever `jobs` is.
    pub stop_on_first: bool,
    /// Take no new seed after this much wall time (the seeds run are then a
    /// prefix of the range, reported in `stopped`).
    pub time_budget: Option<std::time::Duration>,
}

impl FuzzOptions {
    /// Every seed of `seeds` on `jobs` threads, nemesis on, no early stop.
    pub fn new(seeds: SeedRange, jobs: usize) -> Self {
        FuzzOptions {
            seeds,
            jobs,
            nemesis: true,
            stop_on_first: false,
            time_budget: None,
        }
    }
}

/// Runs a campaign (shard). `on_run` sees each run as it finishes (in completion
/// order, for live output and progress); the returned summary is in seed order.
/// Failing runs' outcomes are returned too, for writing their reports.
pub fn fuzz(
    registry: &Registry,
    file: &ScenarioFile,
    options: &FuzzOptions,
    on_run: &(dyn Fn(&RunOutcome) + Sync),
) -> Result<(FuzzSummary, Vec<RunOutcome>), ScenarioError> {
    // Validate once up front so a bad file is one error, not one per seed.
    let entry = registry.entry_for(file)?;
    entry.validate(file)?;
    let seeds = options.seeds;
    let total = seeds.len();
    let next = AtomicUsize::new(0);
    let stop = std::sync::atomic::AtomicBool::new(false);
    let out_of_time = std::sync::atomic::AtomicBool::new(false);
    // Seed, summary, the outcome if it failed, wall ns from the start when done,
    // wall ns the seed took.
    type Finished = (u64, Summary, Option<RunOutcome>, u64, u64);
    let results: Mutex<Vec<Finished>> = Mutex::new(Vec::new());
    let started = std::time::Instant::now();
    let jobs = options
        .jobs
        .clamp(1, usize::try_from(total.max(1)).unwrap_or(usize::MAX));
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| {
                loop {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    if let Some(budget) = options.time_budget
                        && started.elapsed() >= budget
                    {
                        out_of_time.store(true, Ordering::SeqCst);
                        break;
                    }
                    let index = next.fetch_add(1, Ordering::SeqCst);
                    let Some(seed) = seeds.get(index as u64) else {
                        break;
                    };
                    let seed_started = std::time::Instant::now();
                    let run_options = RunOptions {
                        seed,
                        nemesis: options.nemesis,
                        sink: None,
                    };
                    let mut outcome = entry.run(file, &run_options).expect("validated above");
                    registry.adopt(&mut outcome);
                    let wall = seed_started.elapsed().as_nanos() as u64;
                    let failed = outcome.summary.verdict != Verdict::Pass;
                    if failed && options.stop_on_first {
                        stop.store(true, Ordering::SeqCst);
                    }
                    on_run(&outcome);
                    let summary = outcome.summary.clone();
                    let kept = failed.then_some(outcome);
                    let finished_after = started.elapsed().as_nanos() as u64;
                    results
                        .lock()
                        .expect("no worker panics while holding the lock")
                        .push((seed, summary, kept, finished_after, wall));
                }
            });
        }
    });
    let mut results = results.into_inner().expect("workers finished");
    // The range's seeds ascend, so seed order is the order workers took them in
    // (a lookup of each seed's position would be quadratic in the campaign).
    results.sort_by_key(|(seed, ..)| *seed);
    let mut stopped = None;
    if options.stop_on_first
        && let Some(first) = results
            .iter()
            .position(|(_, run, ..)| run.verdict != Verdict::Pass)
    {
        // Every seed before the first failure ran; later ones may or may not
        // have, depending on threads: drop them.
        results.truncate(first + 1);
        if (results.len() as u64) < total {
            stopped = Some(format!(
                "stopped at the first failing seed, {} (--stop-on-first)",
                results[first].0
            ));
        }
    } else if out_of_time.load(Ordering::SeqCst) && (results.len() as u64) < total {
        stopped = Some(format!(
            "the time budget ran out after {} of {} seeds (--time-budget)",
            results.len(),
            total
        ));
    }
    let mut declared = crate::spec::declare::names(entry.sometimes);
    // The client and membership effects are listed only once a run produces
    // them (`engine_point_listed_when_reached`).
    declared.extend(
        crate::sim::world::ENGINE_POINTS
            .iter()
            .map(|(name, _)| *name)
            .filter(|name| !crate::sim::world::engine_point_listed_when_reached(name)),
    );
    let mut summary = FuzzSummary {
        tool: format!("faultline {}", env!("CARGO_PKG_VERSION")),
        scenario: file.file.clone(),
        scenario_hash: format!("{:016x}", file.content_hash),
        protocol: file.protocol.clone(),
        bugs: results
            .first()
            .map(|(_, run, ..)| run.bugs.clone())
            .unwrap_or_default(),
        nemesis: options.nemesis,
        first_seed: options.seeds.first,
        seed_count: options.seeds.count,
        shards_included: vec![options.seeds.shard],
        shards: options.seeds.shards,
        runs: 0,
        passed: 0,
        failures: Vec::new(),
        undecided: 0,
        sometimes: declared.iter().map(|name| (name.to_string(), 0)).collect(),
        events: 0,
        stopped,
        seed_results: Default::default(),
    };
    let mut failing = Vec::new();
    for (seed, run, outcome, finished_after, wall) in results {
        summary
            .seed_results
            .0
            .push(crate::report::fuzz_charts::SeedResult {
                seed,
                events: run.events,
                virtual_time: run.virtual_time,
                checker: run.violations.first().map(|first| first.checker.clone()),
                finished_after,
                wall,
            });
        summary.runs += 1;
        summary.events += run.events;
        for name in run.sometimes.keys() {
            *summary.sometimes.entry(name.clone()).or_insert(0) += 1;
        }
        if run.verdict == crate::report::Verdict::Undecided {
            summary.undecided += 1;
        }
        match run.violations.first() {
            None => summary.passed += 1,
            Some(first) => summary.failures.push(Failure {
                seed,
                violation: first.clone(),
                violations: run.violations.len(),
                trace_hash: run.trace_hash.clone(),
                repro: run.repro.clone(),
            }),
        }
        failing.extend(outcome);
    }
    Ok((summary, failing))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_partition_the_seed_range() {
        let mut all = Vec::new();
        for shard in 0..3 {
            all.extend(
                SeedRange {
                    first: 10,
                    count: 8,
                    shard,
                    shards: 3,
                }
                .seeds(),
            );
        }
        all.sort_unstable();
        assert_eq!(all, (10..18).collect::<Vec<_>>());
    }
}
