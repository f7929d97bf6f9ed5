//! Run reports: the JSON summary, the history as JSON lines, the charts (SVG and
//! PNG, drawn with plotters), `index.html` showing them together, and writing
//! them to a report directory atomically (write to a temporary name, then
//! rename), so a reader never sees half a file.

pub mod capture;
pub mod chart;
pub mod fuzz_charts;
pub mod html;
pub mod lin_chart;
pub mod run_charts;
pub mod series;

use crate::check::Violation;
use crate::sim::HistoryEvent;
use crate::sim::disk::DiskStats;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

/// The outcome of one run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Every check passed.
    Pass,
    /// A check failed, a protocol panicked, or a bound was hit.
    Fail,
    /// No check failed, but one could not decide within its budget.
    Undecided,
}

/// Message statistics.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageStats {
    /// Put on the wire.
    pub sent: u64,
    /// Handled by their receiver.
    pub delivered: u64,
    /// Lost to random drops.
    pub lost: u64,
    /// Lost to cut links.
    pub partitioned: u64,
    /// Lost because the receiver was down.
    pub to_crashed: u64,
    /// Extra copies made.
    pub duplicated: u64,
}

/// Client operation statistics.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperationStats {
    /// Invoked.
    pub invoked: u64,
    /// Completed and took effect.
    pub ok: u64,
    /// Completed without effect.
    pub fail: u64,
    /// Outcome unknown (timed out).
    pub info: u64,
    /// Still open when the run ended.
    pub open: u64,
}

/// Everything counted in a run.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Messages.
    pub messages: MessageStats,
    /// Faults applied (scripted, random, undos and the final heal).
    pub faults: u64,
    /// Client operations.
    pub operations: OperationStats,
    /// Disks, summed over nodes.
    pub disk: DiskStats,
}

/// `summary.json`: everything needed to understand and reproduce a run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Summary {
    /// `faultline <version>`.
    pub tool: String,
    /// The scenario path as given.
    pub scenario: String,
    /// The scenario's `name`, if any.
    pub scenario_name: Option<String>,
    /// Hash of the scenario text (hex).
    pub scenario_hash: String,
    /// Protocol name.
    pub protocol: String,
    /// Planted bugs switched on.
    pub bugs: Vec<String>,
    /// The seed.
    pub seed: u64,
    /// Whether the random nemesis ran.
    pub nemesis: bool,
    /// pass / fail.
    pub verdict: Verdict,
    /// What failed, first one first.
    pub violations: Vec<SummaryViolation>,
    /// The trace hash (hex); a replay must reproduce it.
    pub trace_hash: String,
    /// Trace events.
    pub events: u64,
    /// Virtual time at the end (ns).
    pub virtual_time: u64,
    /// Counters.
    pub stats: Stats,
    /// Parameters this seed drew for the nemesis (swarm testing).
    pub swarm: Option<serde_json::Value>,
    /// Named *sometimes* points reached, with counts.
    pub sometimes: BTreeMap<String, u64>,
    /// What the protocol's checkers measured over the run, by the names it
    /// declares (`MEASURES`): a sweep can chart any of them. Absent when the
    /// protocol measures nothing.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub measured: BTreeMap<String, f64>,
    /// One command that reproduces this run.
    pub repro: String,
    /// In a report directory: the digest (hex) of each other file of the set
    /// (`history.jsonl`, `scenario.toml`), written before the summary, so a
    /// directory holding files of two runs is told apart. Empty outside one.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub files: BTreeMap<String, String>,
    /// In a report directory: the digest (hex) of this summary's own content,
    /// so an edited summary is told apart from a run that does not reproduce.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub digest: String,
}

impl Summary {
    /// The digest of everything but `digest` itself.
    pub fn content_digest(&self) -> String {
        let mut plain = self.clone();
        plain.digest = String::new();
        let json = serde_json::to_string(&plain).expect("summaries serialise");
        format!(
            "{:016x}",
            crate::sim::trace::StableHasher::hash_of(json.as_bytes())
        )
    }

    /// This summary as the run gave it: without the report set's digests.
    pub fn without_digests(&self) -> Summary {
        Summary {
            files: BTreeMap::new(),
            digest: String::new(),
            ..self.clone()
        }
    }
}

/// The digest (hex) a report set records for a file's bytes.
pub fn file_digest(bytes: &[u8]) -> String {
    format!("{:016x}", crate::sim::trace::StableHasher::hash_of(bytes))
}

/// A violation as stored in `summary.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SummaryViolation {
    /// Checker name (`panic` and `bounds` for runner-detected failures).
    pub checker: String,
    /// The broken property's canonical name, as the protocol declares it
    /// (`election_safety`); empty in reports older than the name.
    #[serde(default)]
    pub name: String,
    /// always / eventually / sometimes.
    pub property: String,
    /// What went wrong.
    pub message: String,
    /// Virtual time (ns).
    pub time: u64,
    /// Trace event index.
    pub event: u64,
}

impl From<&Violation> for SummaryViolation {
    fn from(violation: &Violation) -> Self {
        SummaryViolation {
            checker: violation.checker.clone(),
            name: violation.name.clone(),
            property: serde_json::to_value(violation.property)
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_default(),
            message: violation.message.clone(),
            time: violation.time,
            event: violation.event,
        }
    }
}

/// Writes `bytes` to `path` atomically.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let file_name = path
        .file_name()
        .and_then(|name| name.to_str())
        .unwrap_or("report");
    let temporary = path.with_file_name(format!(".{file_name}.tmp"));
    {
        let mut file = std::fs::File::create(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
    }
    std::fs::rename(&temporary, path)
}

/// The history as JSON lines.
pub fn history_jsonl(history: &[HistoryEvent]) -> String {
    let mut text = String::new();
    for event in history {
        text.push_str(&serde_json::to_string(event).expect("history events serialise"));
        text.push('\n');
    }
    text
}

/// Writes `summary.json`, `history.jsonl` and a copy of the scenario (`scenario.toml`,
/// which `replay` uses) into `dir`, creating it.
pub fn write_run(
    dir: &Path,
    summary: &Summary,
    history: &[HistoryEvent],
    scenario_text: &str,
) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    // The summary goes last and names the digests of the others: it is the
    // set's commit point, so a run killed half way leaves files that replay
    // refuses, never a mixed set it accepts.
    let history = history_jsonl(history);
    write_atomic(&dir.join("scenario.toml"), scenario_text.as_bytes())?;
    write_atomic(&dir.join("history.jsonl"), history.as_bytes())?;
    let mut summary = summary.without_digests();
    summary
        .files
        .insert("history.jsonl".into(), file_digest(history.as_bytes()));
    summary.files.insert(
        "scenario.toml".into(),
        file_digest(scenario_text.as_bytes()),
    );
    summary.digest = summary.content_digest();
    let json = serde_json::to_string_pretty(&summary).expect("summaries serialise");
    write_atomic(&dir.join("summary.json"), json.as_bytes())
}

/// Writes a full run report into `dir`: what [`write_run`] writes, every chart of
/// the run (SVG and PNG) and `index.html`. Returns the charts written.
pub fn write_run_report(
    dir: &Path,
    view: &run_charts::RunView<'_>,
    scenario_text: &str,
) -> std::io::Result<Vec<run_charts::ChartFile>> {
    write_run(dir, view.summary, view.history, scenario_text)?;
    let charts = run_charts::write_run_charts(dir, view)?;
    write_atomic(
        &dir.join("index.html"),
        html::run_index(view.summary, &charts).as_bytes(),
    )?;
    Ok(charts)
}
