//! One conformance test over the registry: what every registered protocol owes
//! the tool, checked the same way for each, so a new protocol is held to it by
//! registering alone.
//!
//! For every protocol: `list` shows it; each shipped scenario under
//! `scenarios/<name>/` (and each regression) passes (or fails as its `expect`
//! says), a double run gives one trace hash, and every violation names a
//! property the protocol declares; every planted bug has its shrunk repro in
//! `scenarios/regressions/<name>_<bug>.toml` with exactly that bug on (the
//! regression test runs each); and every declared *sometimes* point fires in
//! the protocol's campaigns, unless the protocol lists it as knowingly
//! unreached, with the reason; and every fault kind a campaign's nemesis
//! enables produces its effect (an engine *sometimes* point) in those seeds.

use faultline::runner::RunOptions;
use faultline::runner::fuzz::{FuzzOptions, SeedRange, fuzz};
use faultline::scenario::ScenarioFile;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Seeds per campaign for the coverage check (enough for every reachable point
/// of the shipped protocols; a point that needs more is a campaign to widen).
const COVERAGE_SEEDS: u64 = 200;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios")
}

fn read(path: &Path) -> ScenarioFile {
    ScenarioFile::read(&path.display().to_string()).unwrap_or_else(|error| panic!("{error}"))
}

#[test]
fn list_shows_every_registered_protocol_with_its_bugs_and_properties() {
    let registry = faultline::builtin();
    let listing = faultline::cli::list::listing(&registry);
    for entry in registry.entries() {
        assert!(listing.contains(entry.name), "list omits {}", entry.name);
        for declared in entry.bugs.iter().chain(entry.properties) {
            assert!(
                listing.contains(declared.name),
                "list omits {} of {}",
                declared.name,
                entry.name
            );
        }
    }
}

#[test]
fn every_shipped_scenario_meets_its_expectation_and_runs_the_same_twice() {
    let registry = faultline::builtin();
    let mut failures = Vec::new();
    let mut names = registry.names();
    // The regression corpus is held to the same: its files fail as they expect.
    names.push("regressions");
    for name in names {
        for path in registry.shipped(&root(), name) {
            let file = read(&path);
            let scenario = file.parse::<toml::Value>().unwrap();
            let options = RunOptions::seed(scenario.seed);
            let first = registry.run_file(&file, &options).unwrap();
            let second = registry.run_file(&file, &options).unwrap();
            if first.summary.trace_hash != second.summary.trace_hash {
                failures.push(format!("{}: two runs, two trace hashes", path.display()));
            }
            // Every violation names a property its protocol declares.
            for violation in &first.summary.violations {
                if violation.checker == "declarations" {
                    failures.push(format!("{}: {}", path.display(), violation.message));
                }
            }
            let failed = !first.passed();
            let violation = first.summary.violations.first();
            let met = match &scenario.expect {
                Some(expect) => expect.met_by(
                    failed,
                    violation.map(|v| (v.checker.as_str(), v.property.as_str())),
                ),
                None => !failed,
            };
            if !met {
                failures.push(format!(
                    "{}: expected {}, got {:?}",
                    path.display(),
                    scenario
                        .expect
                        .as_ref()
                        .map_or("pass".to_string(), |expect| expect.describe()),
                    violation
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn every_planted_bug_has_a_regression_with_exactly_that_bug() {
    let registry = faultline::builtin();
    let mut missing = Vec::new();
    for entry in registry.entries() {
        for bug in entry.bugs {
            let path = root()
                .join("regressions")
                .join(format!("{}_{}.toml", entry.name, bug.name));
            if entry.properties.is_empty() {
                // No property can fail (token_forward): its bug breaks
                // determinism, which --check-determinism catches instead.
                continue;
            }
            if !path.exists() {
                missing.push(path.display().to_string());
                continue;
            }
            let table: toml::Table = std::fs::read_to_string(&path).unwrap().parse().unwrap();
            let bugs: Vec<&str> = table["protocol"]["bugs"]
                .as_array()
                .map(|bugs| bugs.iter().filter_map(|bug| bug.as_str()).collect())
                .unwrap_or_default();
            assert_eq!(bugs, [bug.name], "{}", path.display());
            assert!(
                table.contains_key("expect"),
                "{} has no expect",
                path.display()
            );
        }
    }
    assert!(
        missing.is_empty(),
        "planted bugs without a regression: {missing:#?}"
    );
}

#[test]
fn every_declared_sometimes_point_fires_in_the_campaigns_or_is_listed_unreached() {
    let registry = faultline::builtin();
    let campaigns = registry.campaigns(&root()).unwrap();
    let mut problems = Vec::new();
    for entry in registry.entries() {
        let declared: BTreeSet<&str> = entry.sometimes.iter().map(|point| point.name).collect();
        let unreached: BTreeSet<&str> = entry.unreached.iter().map(|(name, _)| *name).collect();
        for (name, reason) in entry.unreached {
            if !declared.contains(name) {
                problems.push(format!("{}: unreached {name} is not declared", entry.name));
            }
            if reason.trim().is_empty() {
                problems.push(format!("{}: unreached {name} gives no reason", entry.name));
            }
        }
        let mut fired = BTreeSet::new();
        let own = campaigns
            .iter()
            .filter(|path| path.parent() == Some(&root().join(entry.name)));
        for path in own {
            let seeds = SeedRange {
                first: 1,
                count: COVERAGE_SEEDS,
                shard: 0,
                shards: 1,
            };
            let (summary, _) = fuzz(&registry, &read(path), &FuzzOptions::new(seeds, 2), &|_| {})
                .unwrap_or_else(|error| panic!("{error}"));
            assert_eq!(summary.failures.len(), 0, "{} failed seeds", path.display());
            let mut here = BTreeSet::new();
            for (name, count) in &summary.sometimes {
                if *count > 0 {
                    fired.insert(name.clone());
                    here.insert(name.clone());
                }
            }
            // Every fault kind the campaign's nemesis enables must do something.
            for effect in expected_effects(path) {
                if !here.contains(effect) {
                    problems.push(format!(
                        "{}: its nemesis never produced {effect} in {COVERAGE_SEEDS} seeds (a fault kind that does nothing)",
                        path.display()
                    ));
                }
            }
        }
        let declared: BTreeSet<&str> = declared
            .into_iter()
            .filter(|point| !point.starts_with("sim_"))
            .collect();
        for point in &declared {
            let hit = fired.contains(*point);
            if !hit && !unreached.contains(point) {
                problems.push(format!(
                    "{}: {point} never fired in {COVERAGE_SEEDS} seeds of each campaign (widen a campaign, or list it as unreached with the reason)",
                    entry.name
                ));
            }
            if hit && unreached.contains(point) {
                problems.push(format!(
                    "{}: {point} is listed unreached but fired: take it off the list",
                    entry.name
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

/// `scenarios/<name>/pins.toml`, as read.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Pins {
    #[serde(default)]
    trace: Vec<TracePin>,
    #[serde(default)]
    bug: Vec<BugPin>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct TracePin {
    scenario: String,
    seed: u64,
    hash: String,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct BugPin {
    bug: String,
    scenario: String,
    seeds: u64,
    first: u64,
    says: String,
}

fn pins(name: &str) -> Option<Pins> {
    let path = root().join(name).join(faultline::runner::registry::PINS);
    let text = std::fs::read_to_string(&path).ok()?;
    Some(toml::from_str(&text).unwrap_or_else(|error| panic!("{}: {error}", path.display())))
}

#[test]
fn pinned_trace_hashes_hold() {
    // A change here means every recorded report stops replaying: make it on purpose.
    let registry = faultline::builtin();
    let mut changed = Vec::new();
    for name in registry.names() {
        let Some(pins) = pins(name) else { continue };
        for pin in pins.trace {
            let file = read(&root().join(name).join(&pin.scenario));
            let outcome = registry
                .run_file(&file, &RunOptions::seed(pin.seed))
                .unwrap();
            if outcome.summary.trace_hash != pin.hash {
                changed.push(format!(
                    "{name}/{} seed {}: {} (pinned {})",
                    pin.scenario, pin.seed, outcome.summary.trace_hash, pin.hash
                ));
            }
        }
    }
    assert!(changed.is_empty(), "changed: {changed:#?}");
}

#[test]
fn fuzzing_finds_every_planted_bug_at_its_pinned_seed_and_the_fixed_protocol_passes() {
    let registry = faultline::builtin();
    for entry in registry.entries() {
        if entry.properties.is_empty() {
            continue; // nothing can fail (token_forward): see the regression test
        }
        let pins = pins(entry.name)
            .unwrap_or_else(|| panic!("{} has no scenarios/{}/pins.toml", entry.name, entry.name));
        let pinned: Vec<&str> = pins.bug.iter().map(|pin| pin.bug.as_str()).collect();
        let declared: Vec<&str> = entry.bugs.iter().map(|bug| bug.name).collect();
        assert_eq!(
            pinned, declared,
            "{}: every declared bug, in order",
            entry.name
        );
        let table: Vec<(&str, &str, u64, u64, &str)> = pins
            .bug
            .iter()
            .map(|pin| {
                (
                    pin.bug.as_str(),
                    pin.scenario.as_str(),
                    pin.seeds,
                    pin.first,
                    pin.says.as_str(),
                )
            })
            .collect();
        crate::common::assert_planted_bugs_pinned(entry.name, &table);
    }
}

/// The engine effects a campaign's `[nemesis]` must produce: what each fault
/// kind it enables does when it does anything, and the swarm's loss and
/// duplication when their ranges reach above zero.
fn expected_effects(path: &Path) -> BTreeSet<&'static str> {
    let table: toml::Table = std::fs::read_to_string(path).unwrap().parse().unwrap();
    let mut expected = BTreeSet::new();
    let Some(nemesis) = table.get("nemesis").and_then(|value| value.as_table()) else {
        return expected;
    };
    let kinds = nemesis.get("faults").and_then(|value| value.as_array());
    for kind in kinds.into_iter().flatten().filter_map(|kind| kind.as_str()) {
        expected.insert(match kind {
            "partition" | "isolate" | "bridge" | "one_way" => "sim_message_cut_by_partition",
            "crash" | "crash_leader" => "sim_node_crashed",
            "pause" => "sim_node_paused_backlog_released",
            "clock_skew" => "sim_timer_on_skewed_clock",
            "pause_client" => "sim_client_paused_backlog_released",
            "clock_skew_client" => "sim_client_timer_on_skewed_clock",
            "disk_corrupt" => "sim_disk_bit_flipped",
            "disk_lose_unsynced" => "sim_unsynced_write_dropped",
            "disk_fail_read" => "sim_disk_read_failed",
            "disk_misdirect" => "sim_disk_write_misdirected",
            "disk_transpose" => "sim_disk_bytes_transposed",
            "join" => "sim_node_joined",
            "leave" => "sim_node_left",
            "slow" => "sim_node_slowed",
            other => panic!(
                "{}: no effect known for nemesis kind {other}",
                path.display()
            ),
        });
    }
    let reaches_above_zero = |key: &str| match nemesis.get(key) {
        Some(toml::Value::Array(range)) => range.iter().any(|p| p.as_float().unwrap_or(0.0) > 0.0),
        Some(toml::Value::Float(p)) => *p > 0.0,
        _ => false,
    };
    if reaches_above_zero("drop_probability") {
        expected.insert("sim_message_lost");
    }
    if reaches_above_zero("duplicate_probability") {
        expected.insert("sim_message_duplicated");
    }
    expected
}
