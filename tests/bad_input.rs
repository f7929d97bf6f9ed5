//! The bad-input campaign (issue 22, "keep it found"): thousands of malformed
//! and extreme scenario files and histories, made by a seeded generator from
//! the shipped scenario files and from valid histories of every model, run in
//! process. A scenario file is either refused with an error that says where
//! (file:line:column, or a key the file does not write), or accepted and run
//! under a small event bound, and the run returns within it; a history is
//! either refused with its line or checked under a small budget by every
//! model that takes it, and gets a verdict. Nothing may panic.
//!
//! `FAULTLINE_BAD_INPUTS=N` sets how many inputs of each kind (default
//! [`DEFAULT_INPUTS`]; the nightly workflow runs 200,000);
//! `FAULTLINE_BAD_INPUT=I` runs input `I` alone and keeps it in
//! `target/tmp/bad_input/` (so do failures).

mod bytes;
mod history_mutants;
mod scenario_mutants;

use faultline::check::models::{self, PrepareError};
use faultline::check::prepared::check_sequentially;
use faultline::check::{Budget, Format, Verdict, parse, svg};
use faultline::runner::sweep::Sweep;
use faultline::runner::{Registry, RunOptions};
use faultline::scenario::{ScenarioError, ScenarioFile};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

/// Inputs of each kind when `FAULTLINE_BAD_INPUTS` is not set.
pub const DEFAULT_INPUTS: u64 = 3_000;

/// The event bound an accepted scenario is run under (its own, if smaller).
const EVENTS_CAP: u64 = 20_000;

/// The budget every accepted history is checked under, per model.
fn history_budget() -> Budget<'static> {
    Budget::states(20_000).memory(64 << 20)
}

/// How many inputs of each kind to run, and the one to run alone.
fn plan() -> (std::ops::Range<u64>, bool) {
    let number = |name: &str| {
        std::env::var(name).ok().map(|value| {
            value
                .trim()
                .replace('_', "")
                .parse::<u64>()
                .unwrap_or_else(|_| panic!("{name}={value:?} is not a number"))
        })
    };
    match number("FAULTLINE_BAD_INPUT") {
        Some(index) => (index..index + 1, true),
        None => (
            0..number("FAULTLINE_BAD_INPUTS").unwrap_or(DEFAULT_INPUTS),
            false,
        ),
    }
}

fn manifest() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Every shipped scenario file (`scenarios/**`, `examples/scenarios/`), as
/// (path from the repository root, text).
fn scenario_bases() -> Vec<(String, String)> {
    let mut paths = crate::common::scenario_files();
    let examples = manifest().join("examples/scenarios");
    let mut extra: Vec<PathBuf> = std::fs::read_dir(&examples)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
        .collect();
    extra.sort();
    paths.extend(extra);
    paths
        .iter()
        .map(|path| {
            let name = path
                .strip_prefix(manifest())
                .unwrap()
                .to_string_lossy()
                .into_owned();
            (name, std::fs::read_to_string(path).unwrap())
        })
        .collect()
}

/// The rng of input `index` of a campaign (`stream` 1: scenarios, 2:
/// histories, 3: sweeps).
fn rng_for(index: u64, stream: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(index);
    rng.set_stream(stream);
    rng
}

/// Something the campaign found: which input, what happened.
struct Finding {
    index: u64,
    what: String,
    steps: String,
    bytes: Vec<u8>,
    extension: &'static str,
}

/// Keeps an input in `target/tmp/bad_input/` and says where.
fn keep(prefix: &str, index: u64, extension: &str, bytes: &[u8]) -> PathBuf {
    let directory = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bad_input");
    std::fs::create_dir_all(&directory).unwrap();
    let path = directory.join(format!("{prefix}-{index}.{extension}"));
    std::fs::write(&path, bytes).unwrap();
    path
}

/// The findings of a campaign: the first [`Findings::KEPT`] with their
/// inputs, and how many in all.
#[derive(Default)]
struct Findings {
    kept: Vec<Finding>,
    count: u64,
}

impl Findings {
    /// Findings reported (and inputs kept) in full.
    const KEPT: usize = 30;

    fn push(&mut self, finding: Finding) {
        self.count += 1;
        if self.kept.len() < Self::KEPT {
            self.kept.push(finding);
        }
    }
}

/// Fails with the findings (their inputs kept for a rerun).
fn report_findings(prefix: &str, findings: &Findings) {
    if findings.count == 0 {
        return;
    }
    let mut message = format!(
        "{} bad-input finding(s){}:\n",
        findings.count,
        if findings.count > findings.kept.len() as u64 {
            format!(", the first {} here", findings.kept.len())
        } else {
            String::new()
        }
    );
    for finding in &findings.kept {
        let path = keep(prefix, finding.index, finding.extension, &finding.bytes);
        message.push_str(&format!(
            "- input {} ({}): {}\n  kept in {}; rerun alone with FAULTLINE_BAD_INPUT={}\n",
            finding.index,
            finding.steps,
            finding.what,
            path.display(),
            finding.index
        ));
    }
    panic!("{message}");
}

fn describe(steps: &[(&'static str, String)]) -> String {
    if steps.is_empty() {
        return "unmutated".to_string();
    }
    steps
        .iter()
        .map(|(kind, detail)| {
            if detail.is_empty() {
                kind.to_string()
            } else {
                format!("{kind} {detail}")
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The message of a caught panic.
fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|text| text.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a non-string panic".into())
}

/// Peak and current resident memory of this process (`/proc/self/status`),
/// for the report only.
fn memory() -> String {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return "memory not measured".into();
    };
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .map(|rest| rest.trim().to_string())
            .unwrap_or_else(|| "?".into())
    };
    format!(
        "peak RSS {} (current {}; the whole test process)",
        field("VmHWM:"),
        field("VmRSS:")
    )
}

/// Whether the dotted key path (`network.links[3].from`) names something the
/// TOML `text` writes; `None` when the text is not TOML at all. (Read with the
/// TOML reader's own spans-and-text tables, which keep integers past
/// `i64::MAX` that `toml::Table` refuses.)
fn writes_key(text: &str, path: &str) -> Option<bool> {
    use toml::de::{DeTable, DeValue};
    let document = DeTable::parse(text).ok()?;
    let mut table: &DeTable<'_> = document.get_ref();
    let parts: Vec<&str> = path.split('.').collect();
    for (position, part) in parts.iter().enumerate() {
        let (name, index) = match part.split_once('[') {
            Some((name, rest)) => (name, rest.strip_suffix(']')?.parse::<usize>().ok()),
            None => (*part, None),
        };
        let Some((_, mut value)) = table.iter().find(|(key, _)| key.get_ref() == name) else {
            return Some(false);
        };
        if let Some(index) = index {
            match value.get_ref() {
                DeValue::Array(items) if index < items.len() => value = &items[index],
                _ => return Some(false),
            }
        }
        if position + 1 == parts.len() {
            return Some(true);
        }
        match value.get_ref() {
            DeValue::Table(inner) => table = inner,
            _ => return Some(false),
        }
    }
    Some(true)
}

/// Whether a refusal says where: `Ok(true)` placed at a line and column inside
/// the text, `Ok(false)` unplaced but naming a key the file does not write (a
/// missing key, a default), `Err` otherwise.
fn placement(error: &ScenarioError, name: &str, text: Option<&str>) -> Result<bool, String> {
    let shown = error.to_string();
    if error.file != name || !shown.starts_with(name) {
        return Err(format!("the error does not name the file: {shown}"));
    }
    match (error.line, error.column) {
        (Some(line), Some(column)) => {
            if !shown.starts_with(&format!("{name}:{line}:{column}: ")) {
                return Err(format!(
                    "the error does not start with file:line:column: {shown}"
                ));
            }
            if line == 0 || column == 0 {
                return Err(format!("lines and columns count from 1: {shown}"));
            }
            if let Some(text) = text {
                let lines: Vec<&str> = text.split('\n').collect();
                let Some(written) = lines.get(line - 1) else {
                    return Err(format!(
                        "line {line} is past the end of the file ({} lines): {shown}",
                        lines.len()
                    ));
                };
                if column > written.chars().count() + 1 {
                    return Err(format!(
                        "column {column} is outside line {line} ({} characters): {shown}",
                        written.chars().count()
                    ));
                }
            }
            Ok(true)
        }
        (Some(_), None) | (None, Some(_)) => {
            Err(format!("a line without a column or the reverse: {shown}"))
        }
        (None, None) => {
            let Some(text) = text else {
                return Err(format!(
                    "a refusal of the bytes with no line and column: {shown}"
                ));
            };
            let Some(key) = &error.key else {
                return Err(format!("a refusal with no line, column or key: {shown}"));
            };
            match writes_key(text, key) {
                Some(false) => Ok(false),
                Some(true) => Err(format!(
                    "no line and column, but the file writes the key '{key}': {shown}"
                )),
                None => Err(format!(
                    "no line and column for a file that is not TOML: {shown}"
                )),
            }
        }
    }
}

/// `text` with its top-level `max_events` (`events`, as read) at most
/// [`EVENTS_CAP`] (written in front if the file has none; after a byte-order
/// mark, if any).
fn capped(text: &str, events: u64) -> String {
    use toml::de::DeTable;
    if let Ok(document) = DeTable::parse(text)
        && let Some((_, value)) = document
            .get_ref()
            .iter()
            .find(|(key, _)| key.get_ref() == "max_events")
    {
        let mut capped = text.to_string();
        capped.replace_range(value.span(), &events.min(EVENTS_CAP).to_string());
        return capped;
    }
    let body = text.strip_prefix('\u{feff}').unwrap_or(text);
    format!("max_events = {EVENTS_CAP}\n{body}")
}

/// What one scenario input came to.
enum ScenarioOutcome {
    /// Refused; placed at a line and column, or the unplaced error's key and
    /// message.
    Refused { unplaced: Option<String> },
    /// Accepted and run: the verdict, and the first violation's property.
    Ran {
        verdict: String,
        property: Option<String>,
        overshoot: u64,
    },
}

/// Counts of the scenario campaign.
#[derive(Default)]
struct ScenarioCounts {
    refused: u64,
    placed: u64,
    /// Refusals without a position (of keys the file does not write).
    unplaced: BTreeMap<String, u64>,
    ran: u64,
    verdicts: BTreeMap<String, u64>,
    properties: BTreeMap<String, u64>,
    protocol_panics: BTreeMap<String, u64>,
    by_kind: BTreeMap<&'static str, [u64; 2]>,
    overshoot_max: u64,
}

/// Judges one scenario mutant: refused with a placed error, or run within its
/// bound. `Err` is a finding.
fn judge_scenario(
    registry: &Registry,
    name: &str,
    bytes: Vec<u8>,
    seed: u64,
) -> Result<ScenarioOutcome, String> {
    let text = match faultline::scenario::decode_text(name, "scenario file", bytes) {
        Ok(text) => text,
        Err(error) => {
            placement(&error, name, None)?;
            return Ok(ScenarioOutcome::Refused { unplaced: None });
        }
    };
    let refused = |error: ScenarioError| -> Result<ScenarioOutcome, String> {
        let placed = placement(&error, name, Some(&text))?;
        let unplaced = (!placed).then(|| {
            let shown = error.to_string();
            shown[name.len() + 2..].to_string()
        });
        Ok(ScenarioOutcome::Refused { unplaced })
    };
    let file = match ScenarioFile::from_text(name, text.clone()) {
        Ok(file) => file,
        Err(error) => return refused(error),
    };
    if let Err(error) = registry.validate_file(&file) {
        return refused(error);
    }
    // Accepted: run one seed with at most EVENTS_CAP events (the run reads
    // and checks the capped file again).
    let scenario = file
        .parse::<serde::de::IgnoredAny>()
        .map_err(|error| format!("accepted, but its common part is refused: {error}"))?;
    let max_events = scenario.max_events.min(EVENTS_CAP);
    let file = ScenarioFile::from_text(name, capped(&text, scenario.max_events))
        .map_err(|error| format!("accepted, but refused with max_events capped: {error}"))?;
    let outcome = registry
        .run_file(&file, &RunOptions::seed(seed))
        .map_err(|error| format!("accepted, but refused with max_events capped: {error}"))?;
    let summary = &outcome.summary;
    let processes = (scenario.nodes() + scenario.workload.clients) as u64;
    // The run stops after the step that crosses the bound, and one step can
    // trace many events: a heal restarting every node, or a handler sending
    // its backlog (at most one item per event so far) to every process, each
    // send traced with its drop. Past that, the run was not bounded.
    let events_bound = max_events + 2 * processes * (max_events + processes + 8);
    if summary.events > events_bound {
        return Err(format!(
            "the run traced {} events, more than max_events {max_events} plus one step's worth ({events_bound})",
            summary.events
        ));
    }
    if summary.virtual_time > scenario.run_end() {
        return Err(format!(
            "the run reached virtual time {} ns, past its end {} ns",
            summary.virtual_time,
            scenario.run_end()
        ));
    }
    let first = summary.violations.first();
    if let Some(violation) = first
        && violation.checker == "panic"
        && !violation.message.contains(" at src/protocols/")
    {
        return Err(format!(
            "the run panicked outside the protocol: {}",
            violation.message
        ));
    }
    Ok(ScenarioOutcome::Ran {
        verdict: format!("{:?}", summary.verdict).to_lowercase(),
        property: first.map(|violation| {
            if violation.checker == "panic" {
                // The panic's words, without the node and the time.
                let words = violation
                    .message
                    .split(": ")
                    .skip(1)
                    .collect::<Vec<_>>()
                    .join(": ");
                format!("panic: {words}")
            } else {
                format!("{} {}", violation.checker, violation.name)
            }
        }),
        overshoot: summary.events.saturating_sub(max_events),
    })
}

#[test]
fn malformed_and_extreme_scenario_files_are_refused_where_they_are_wrong_or_run_bounded() {
    let (inputs, alone) = plan();
    let bases = scenario_bases();
    let registry = faultline::builtin();
    let history_text =
        "{\"process\":0,\"type\":\"invoke\",\"f\":\"read\",\"value\":null,\"time\":0}\n";
    let mut counts = ScenarioCounts::default();
    let mut findings = Findings::default();
    let total = inputs.end - inputs.start;
    for index in inputs {
        let mut rng = rng_for(index, 1);
        let (base_name, base) = &bases[rand::Rng::gen_range(&mut rng, 0..bases.len())];
        let mutant =
            scenario_mutants::mutant(&mut rng, base, history_text, &scenario_mutants::SCENARIO);
        let steps = format!("{base_name}: {}", describe(&mutant.steps));
        if alone {
            let path = keep("scenario", index, "toml", &mutant.bytes);
            println!("input {index}: {steps}\nkept in {}", path.display());
        }
        let name = format!("bad-{index}.toml");
        let bytes = mutant.bytes.clone();
        let judged = catch_unwind(AssertUnwindSafe(|| {
            judge_scenario(&registry, &name, bytes, index)
        }))
        .unwrap_or_else(|payload| Err(format!("panicked: {}", panic_text(payload.as_ref()))));
        let accepted = matches!(judged, Ok(ScenarioOutcome::Ran { .. }));
        for (kind, _) in &mutant.steps {
            counts.by_kind.entry(kind).or_default()[usize::from(accepted)] += 1;
        }
        match judged {
            Ok(ScenarioOutcome::Refused { unplaced }) => {
                counts.refused += 1;
                match unplaced {
                    None => counts.placed += 1,
                    Some(message) => *counts.unplaced.entry(message).or_default() += 1,
                }
            }
            Ok(ScenarioOutcome::Ran {
                verdict,
                property,
                overshoot,
            }) => {
                counts.ran += 1;
                counts.overshoot_max = counts.overshoot_max.max(overshoot);
                *counts.verdicts.entry(verdict).or_default() += 1;
                if let Some(property) = property {
                    if property.starts_with("panic") {
                        *counts.protocol_panics.entry(property).or_default() += 1;
                    } else {
                        *counts.properties.entry(property).or_default() += 1;
                    }
                }
            }
            Err(what) => findings.push(Finding {
                index,
                what,
                steps,
                bytes: mutant.bytes,
                extension: "toml",
            }),
        }
    }
    println!(
        "bad scenario files: {total} inputs from {} shipped files: {} refused ({} at a line and column, {} naming a key the file does not write), {} accepted and run (max_events <= {EVENTS_CAP}; at most {} events past the bound), {} findings",
        bases.len(),
        counts.refused,
        counts.placed,
        counts.refused - counts.placed,
        counts.ran,
        counts.overshoot_max,
        findings.count
    );
    let mut unplaced: Vec<(&String, &u64)> = counts.unplaced.iter().collect();
    unplaced.sort_by_key(|&(message, count)| (std::cmp::Reverse(*count), message));
    println!("  the most common refusals without a position:");
    for (message, count) in unplaced.iter().take(8) {
        println!("    {count} x {message}");
    }
    println!("  verdicts: {:?}", counts.verdicts);
    println!("  first violations: {:?}", counts.properties);
    if !counts.protocol_panics.is_empty() {
        println!("  protocol panics (findings of the protocol, reported by the run):");
        for (panic, count) in &counts.protocol_panics {
            println!("    {count} x {panic}");
        }
    }
    println!("  {:<12} {:>8} {:>8}", "mutation", "refused", "accepted");
    for (kind, [refused, accepted]) in &counts.by_kind {
        println!("  {kind:<12} {refused:>8} {accepted:>8}");
    }
    println!("  {}", memory());
    report_findings("scenario", &findings);
    if alone {
        return;
    }
    // The campaign cannot quietly become empty.
    assert!(counts.refused >= total / 4, "too few refusals");
    assert!(
        counts.placed >= counts.refused / 2,
        "too few placed refusals"
    );
    assert!(counts.ran >= total / 20, "too few accepted files");
    if total >= 1_000 {
        for kind in scenario_mutants::KINDS {
            assert!(
                counts.by_kind.contains_key(kind),
                "no {kind} mutation drawn"
            );
        }
        assert!(counts.verdicts.len() >= 2, "every run had the same verdict");
    }
}

/// Judges one sweep mutant: `Ok(None)` read (its grid checked, not run),
/// `Ok(Some(placed))` refused with an error placed at a line and column or
/// not (see [`placement`]), `Err` a finding.
fn judge_sweep(registry: &Registry, path: &str, bytes: Vec<u8>) -> Result<Option<bool>, String> {
    let text = match faultline::scenario::decode_text(path, "sweep file", bytes) {
        Ok(text) => text,
        Err(error) => return placement(&error, path, None).map(Some),
    };
    match Sweep::from_text(registry, path, &text) {
        Ok(sweep) => {
            if sweep.points.is_empty() || sweep.points.len() > faultline::runner::sweep::VALUES_MAX
            {
                return Err(format!("read with {} grid points", sweep.points.len()));
            }
            Ok(None)
        }
        // An error inside the scenario the sweep names is placed there.
        Err(error) if error.file != path => {
            let text = faultline::scenario::read_capped(&error.file, "scenario file").ok();
            placement(&error, &error.file, text.as_deref()).map(Some)
        }
        Err(error) => placement(&error, path, Some(&text)).map(Some),
    }
}

#[test]
fn malformed_and_extreme_sweep_files_are_refused_where_they_are_wrong() {
    let (inputs, alone) = plan();
    let registry = faultline::builtin();
    let directory = manifest().join("scenarios/experiments");
    let mut bases: Vec<PathBuf> = std::fs::read_dir(&directory)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
        .collect();
    bases.sort();
    let other = std::fs::read_to_string(manifest().join("scenarios/raft/nemesis.toml")).unwrap();
    // A quarter as many: sweep files are small and their grids are checked
    // by the scenario reader the other campaign covers.
    let inputs = if alone {
        inputs
    } else {
        inputs.start..inputs.start + (inputs.end - inputs.start).div_ceil(4)
    };
    let total = inputs.end - inputs.start;
    let (mut refused, mut placed, mut read) = (0, 0, 0);
    let mut findings = Findings::default();
    for index in inputs {
        let mut rng = rng_for(index, 3);
        let base = &bases[rand::Rng::gen_range(&mut rng, 0..bases.len())];
        let text = std::fs::read_to_string(base).unwrap();
        let mutant = scenario_mutants::mutant(&mut rng, &text, &other, &scenario_mutants::SWEEP);
        let path = base.to_string_lossy().into_owned();
        let steps = format!(
            "{}: {}",
            base.strip_prefix(manifest()).unwrap().display(),
            describe(&mutant.steps)
        );
        if alone {
            let kept = keep("sweep", index, "toml", &mutant.bytes);
            println!(
                "input {index}: {steps}\nkept in {} (judged as {path})",
                kept.display()
            );
        }
        let bytes = mutant.bytes.clone();
        let judged = catch_unwind(AssertUnwindSafe(|| judge_sweep(&registry, &path, bytes)))
            .unwrap_or_else(|payload| Err(format!("panicked: {}", panic_text(payload.as_ref()))));
        match judged {
            Ok(None) => read += 1,
            Ok(Some(at)) => {
                refused += 1;
                placed += u64::from(at);
            }
            Err(what) => findings.push(Finding {
                index,
                what,
                steps,
                bytes: mutant.bytes,
                extension: "toml",
            }),
        }
    }
    println!(
        "bad sweep files: {total} inputs from {} shipped files: {refused} refused ({placed} at a line and column), {read} read with their grid checked, {} findings; {}",
        bases.len(),
        findings.count,
        memory()
    );
    report_findings("sweep", &findings);
    if !alone {
        assert!(refused >= total / 4, "too few refusals");
        assert!(read >= total / 50, "too few sweeps read");
    }
}

/// Counts of the history campaign.
#[derive(Default)]
struct HistoryCounts {
    not_text: u64,
    /// Per (written format?, parsed?).
    parses: BTreeMap<(bool, bool), u64>,
    refused_by_model: u64,
    verdicts: BTreeMap<&'static str, u64>,
    largest: usize,
    by_kind: BTreeMap<&'static str, [u64; 2]>,
}

/// Judges one history mutant in every format and every model; `Err` is a
/// finding. Returns whether its own format parsed it.
fn judge_history(
    mutant: &history_mutants::Mutant,
    partition: bool,
    counts: &mut HistoryCounts,
) -> Result<bool, String> {
    let text = match faultline::scenario::decode_text("bad", "history file", mutant.bytes.clone()) {
        Ok(text) => text,
        Err(error) => {
            if error.line.is_none() || error.column.is_none() {
                return Err(format!(
                    "a refusal of the bytes with no line and column: {error}"
                ));
            }
            counts.not_text += 1;
            return Ok(false);
        }
    };
    let lines = text.lines().count();
    let mut own = false;
    for format in Format::ALL {
        let written = format == mutant.format;
        let history = match parse::parse_history(&text, format) {
            Err(error) => {
                if error.line == 0 || error.line > lines.max(1) {
                    return Err(format!(
                        "{format}: the error names line {} of {lines}: {error}",
                        error.line
                    ));
                }
                *counts.parses.entry((written, false)).or_default() += 1;
                continue;
            }
            Ok(history) => history,
        };
        *counts.parses.entry((written, true)).or_default() += 1;
        own |= written;
        counts.largest = counts.largest.max(history.operations.len());
        for model in models::NAMES {
            let prepared = match models::prepare(model, history.clone(), partition) {
                Ok(prepared) => prepared,
                Err(PrepareError::History(error)) => {
                    if error.line == 0 || error.line > lines.max(1) {
                        return Err(format!(
                            "{format}, {model}: the refusal names line {} of {lines}: {error}",
                            error.line
                        ));
                    }
                    counts.refused_by_model += 1;
                    continue;
                }
                Err(other) => return Err(format!("{format}, {model}: {other}")),
            };
            let verdict = check_sequentially(prepared.as_ref(), &history_budget());
            if let Verdict::NotLinearizable(explanation) = &verdict {
                // The explanation and its picture are made from hostile text too.
                let _ = explanation.to_string();
                let _ = svg::render(explanation, faultline::check::TimeUnit::Line);
            }
            *counts.verdicts.entry(verdict.word()).or_default() += 1;
        }
    }
    Ok(own)
}

#[test]
fn malformed_and_extreme_histories_are_refused_at_their_line_or_get_a_verdict() {
    let (inputs, alone) = plan();
    let scenario_text = &scenario_bases()[0].1;
    let mut counts = HistoryCounts::default();
    let mut findings = Findings::default();
    let total = inputs.end - inputs.start;
    for index in inputs {
        let mut rng = rng_for(index, 2);
        let mutant = history_mutants::mutant(&mut rng, scenario_text);
        let steps = format!(
            "{} {} history: {}",
            mutant.model,
            mutant.format,
            describe(&mutant.steps)
        );
        let extension = match mutant.format {
            Format::Jsonl => "jsonl",
            Format::Edn => "edn",
            Format::JepsenLog => "log",
        };
        if alone {
            let path = keep("history", index, extension, &mutant.bytes);
            println!("input {index}: {steps}\nkept in {}", path.display());
        }
        let partition = index % 4 != 0;
        let judged = catch_unwind(AssertUnwindSafe(|| {
            judge_history(&mutant, partition, &mut counts)
        }))
        .unwrap_or_else(|payload| Err(format!("panicked: {}", panic_text(payload.as_ref()))));
        let parsed = matches!(judged, Ok(true));
        if mutant.steps.is_empty() {
            counts.by_kind.entry("none").or_default()[usize::from(parsed)] += 1;
        }
        for (kind, _) in &mutant.steps {
            counts.by_kind.entry(kind).or_default()[usize::from(parsed)] += 1;
        }
        if let Err(what) = judged {
            findings.push(Finding {
                index,
                what,
                steps,
                bytes: mutant.bytes,
                extension,
            });
        }
    }
    let parses = |written, parsed| counts.parses.get(&(written, parsed)).copied().unwrap_or(0);
    println!(
        "bad histories: {total} inputs: {} not text; in their own format {} refused at a line, {} parsed (up to {} operations); in the two others {} refused, {} parsed; {} model refusals at a line; verdicts {:?} (budget: 20,000 states, 64 MiB); {} findings",
        counts.not_text,
        parses(true, false),
        parses(true, true),
        counts.largest,
        parses(false, false),
        parses(false, true),
        counts.refused_by_model,
        counts.verdicts,
        findings.count
    );
    println!("  {:<12} {:>8} {:>8}", "mutation", "refused", "parsed");
    for (kind, [refused, parsed]) in &counts.by_kind {
        println!("  {kind:<12} {refused:>8} {parsed:>8}");
    }
    println!("  {}", memory());
    report_findings("history", &findings);
    if alone {
        return;
    }
    assert!(parses(true, false) >= total / 10, "too few refusals");
    assert!(parses(true, true) >= total / 5, "too few parsed histories");
    assert!(
        counts.refused_by_model >= total / 10,
        "too few model refusals"
    );
    if total >= 1_000 {
        for kind in history_mutants::KINDS {
            assert!(
                counts.by_kind.contains_key(kind),
                "no {kind} mutation drawn"
            );
        }
        for verdict in ["linearizable", "not linearizable", "unknown"] {
            assert!(
                counts.verdicts.contains_key(verdict),
                "no {verdict} verdict"
            );
        }
    }
}

#[test]
fn special_files_are_refused_at_once_naming_the_file() {
    // The readers of scenario and history files, on what a user may point them
    // at by mistake: a device that never ends, an empty one, a directory, a
    // missing path.
    let directory = env!("CARGO_MANIFEST_DIR");
    let cases = [
        (
            "/dev/zero",
            ":1:1: the {what} holds a NUL byte (at offset 0); expected text",
        ),
        (directory, ": cannot read the {what}: Is a directory"),
        (
            "no/such/file",
            ": cannot read the {what}: No such file or directory",
        ),
    ];
    for (path, expected) in cases {
        let scenario = ScenarioFile::read(path).unwrap_err().to_string();
        let wanted = format!("{path}{}", expected.replace("{what}", "scenario file"));
        assert!(scenario.starts_with(&wanted), "{scenario}");
        let history = faultline::cli::check_history::load(Path::new(path), "register", None, true)
            .err()
            .expect("refused");
        let wanted = format!("{path}{}", expected.replace("{what}", "history file"));
        assert!(history.starts_with(&wanted), "{history}");
    }
    let empty = ScenarioFile::read("/dev/null").unwrap_err();
    assert_eq!(
        empty.to_string(),
        "/dev/null: key 'protocol': missing table [protocol] (with name = \"...\")"
    );
    let empty = faultline::cli::check_history::load(Path::new("/dev/null"), "register", None, true);
    assert!(
        empty
            .as_ref()
            .err()
            .is_some_and(|error| error.contains("cannot tell the format")),
        "{:?}",
        empty.err()
    );
}
