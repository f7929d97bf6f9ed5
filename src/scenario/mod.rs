//! Scenario files: the TOML schema, its defaults, and strict validation.
//!
//! A scenario names a protocol and its configuration (including planted bugs), the
//! cluster, the client workload, the network and disk models, a scripted fault
//! timeline and a random nemesis, the length of the fault phase (`duration`) and of
//! the liveness window after it. Reading is strict: an unknown key, a wrong type, a
//! bad unit or an out-of-range number is one error naming the file, line, column,
//! key and what is allowed — never a panic.
//!
//! Reading happens in two passes: the first finds `protocol.name`, the second reads
//! the whole file with that protocol's configuration type, so the protocol's own
//! keys are checked as strictly as the common ones.

pub mod error;
pub mod faults;
pub mod write;

pub use error::{ScenarioError, Source};
pub use faults::{FaultSpec, NemesisConfig, NemesisFault};

use crate::sim::disk::DiskConfig;
use crate::sim::network::NetworkConfig;
use crate::sim::time::Duration;
use crate::sim::{TimedFault, WorldConfig};
use crate::workload::WorkloadConfig;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use toml::Spanned;

/// Most nodes a scenario may have.
pub const MAX_NODES: usize = 256;
/// Most clients a scenario may have.
pub const MAX_CLIENTS: usize = 4096;

/// The `[cluster]` table.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    /// Number of server nodes, 1..=256. Required.
    pub nodes: Spanned<usize>,
    /// Each node starts with a clock offset drawn from ±this. Default `"0ms"`.
    #[serde(default)]
    pub clock_offset_max: Duration,
    /// Each node starts with a clock drift drawn from ±this, ppm. Default 0.
    #[serde(default = "zero_spanned")]
    pub clock_drift_ppm_max: Spanned<u64>,
    /// The last `spares` nodes (ids `nodes - spares..nodes`) start outside the
    /// cluster's membership, for `join` faults to bring in; below `nodes`, and
    /// only for a protocol that supports membership changes
    /// (`ProtocolSpec::min_members`). Default 0.
    #[serde(default = "zero_spanned_usize")]
    pub spares: Spanned<usize>,
}

/// A whole scenario, with the protocol configuration type `C`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario<C> {
    /// A short title. Default: the file name.
    #[serde(default)]
    pub name: Option<String>,
    /// What the scenario shows. Default empty.
    #[serde(default)]
    pub description: Option<String>,
    /// The seed `run` uses when `--seed` is not given. Default 1.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Length of the fault phase, during which clients run and faults happen.
    /// Required.
    pub duration: Spanned<Duration>,
    /// After the fault phase everything heals; eventual properties must hold by the
    /// end of this window. Default `"5s"`.
    #[serde(default = "default_liveness_window")]
    pub liveness_window: Duration,
    /// Bound on events per run; hitting it is a failure ("bound"). Default
    /// 20000000.
    #[serde(default = "default_max_events")]
    pub max_events: u64,
    /// The protocol: `name`, `bugs` and its own keys.
    pub protocol: C,
    /// The cluster.
    pub cluster: ClusterConfig,
    /// The client workload.
    #[serde(default)]
    pub workload: WorkloadConfig,
    /// The network model.
    #[serde(default)]
    pub network: NetworkConfig,
    /// The disk model.
    #[serde(default)]
    pub disk: DiskConfig,
    /// Scripted faults.
    #[serde(default)]
    pub faults: Vec<FaultSpec>,
    /// Random faults.
    #[serde(default)]
    pub nemesis: Option<NemesisConfig>,
    /// What a run of this file is expected to give, e.g.
    /// `{ verdict = "fail", checker = "raft", property = "always" }` (regression
    /// files). `run` reports whether it was met; the exit code stays the verdict's.
    /// Default none.
    #[serde(default)]
    pub expect: Option<Expect>,
}

/// The `expect` key: the verdict a run of the file should give.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// `"pass"` or `"fail"`.
    pub verdict: ExpectedVerdict,
    /// For `"fail"`: the checker whose violation comes first. Default: any.
    #[serde(default)]
    pub checker: Option<Spanned<String>>,
    /// For `"fail"`: `"always"` or `"eventually"`. Default: any.
    #[serde(default)]
    pub property: Option<ExpectedProperty>,
}

/// The expected verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExpectedVerdict {
    /// Every check passes.
    Pass,
    /// A check fails.
    Fail,
}

/// The expected kind of the first violation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExpectedProperty {
    /// A safety property.
    Always,
    /// A liveness property.
    Eventually,
}

impl ExpectedProperty {
    /// The name summaries use for it.
    pub fn name(self) -> &'static str {
        match self {
            ExpectedProperty::Always => "always",
            ExpectedProperty::Eventually => "eventually",
        }
    }
}

impl Expect {
    /// Whether a run with `verdict` and first violation (`checker`, `property`)
    /// meets the expectation.
    pub fn met_by(&self, failed: bool, first: Option<(&str, &str)>) -> bool {
        match self.verdict {
            ExpectedVerdict::Pass => !failed,
            ExpectedVerdict::Fail => {
                failed
                    && first.is_some_and(|(checker, property)| {
                        self.checker
                            .as_ref()
                            .is_none_or(|expected| expected.get_ref() == checker)
                            && self
                                .property
                                .is_none_or(|expected| expected.name() == property)
                    })
            }
        }
    }

    /// `fail in raft (always)`, for reports.
    pub fn describe(&self) -> String {
        match self.verdict {
            ExpectedVerdict::Pass => "pass".to_string(),
            ExpectedVerdict::Fail => {
                let mut text = "fail".to_string();
                if let Some(checker) = &self.checker {
                    text.push_str(&format!(" in {}", checker.get_ref()));
                }
                if let Some(property) = self.property {
                    text.push_str(&format!(" ({})", property.name()));
                }
                text
            }
        }
    }
}

fn zero_spanned() -> Spanned<u64> {
    Spanned::new(0..0, 0)
}
fn zero_spanned_usize() -> Spanned<usize> {
    Spanned::new(0..0, 0)
}
fn default_seed() -> u64 {
    1
}
fn default_liveness_window() -> Duration {
    Duration::from_secs(5)
}
fn default_max_events() -> u64 {
    20_000_000
}

/// Most bytes a scenario or sweep file may have (the shipped ones are under
/// 10 KiB): reading stops there, so an endless input is an error, not a hang
/// (`/dev/zero` is refused at its first byte, a NUL).
pub const FILE_BYTES_MAX: u64 = 16 << 20;

/// Reads the text file at `path` (a `what`, for the message), refusing more
/// than [`FILE_BYTES_MAX`] bytes, and bytes that are not UTF-8 or are NUL
/// with an error placed at the first of them ([`read_text_at_most`]).
pub fn read_capped(path: &str, what: &str) -> Result<String, ScenarioError> {
    read_text_at_most(path, what, FILE_BYTES_MAX, "a TOML file")
}

/// Reads the text file at `path` (a `what`, for messages): at most
/// `max_bytes` bytes (more is an error saying `expected`, e.g. "a TOML
/// file"), UTF-8 and without NUL bytes (an error placed at the first bad
/// byte, see [`decode_text`]). Reading stops at the first NUL byte, so
/// `/dev/zero` is refused at once.
pub fn read_text_at_most(
    path: &str,
    what: &str,
    max_bytes: u64,
    expected: &str,
) -> Result<String, ScenarioError> {
    let unplaced = |message| ScenarioError {
        file: path.to_string(),
        line: None,
        column: None,
        key: None,
        message,
    };
    let bytes = read_bytes(path, what, max_bytes, expected).map_err(unplaced)?;
    decode_text(path, what, bytes)
}

fn read_bytes(path: &str, what: &str, max_bytes: u64, expected: &str) -> Result<Vec<u8>, String> {
    use std::io::Read as _;
    let cannot = |error: std::io::Error| format!("cannot read the {what}: {error}");
    let mut file = std::fs::File::open(path).map_err(cannot)?;
    let mut bytes = Vec::new();
    let mut chunk = vec![0; 64 << 10];
    loop {
        let read = match file.read(&mut chunk) {
            Ok(0) => break,
            Ok(read) => read,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(cannot(error)),
        };
        bytes.extend_from_slice(&chunk[..read]);
        if bytes.len() as u64 > max_bytes {
            return Err(format!(
                "the {what} is larger than {}; expected {expected}",
                format_bytes(max_bytes)
            ));
        }
        if chunk[..read].contains(&0) {
            // No text holds one: decoding refuses it where it is.
            break;
        }
    }
    Ok(bytes)
}

/// `16 MiB`, `1 GiB`.
fn format_bytes(bytes: u64) -> String {
    if bytes >= 1 << 30 && bytes.is_multiple_of(1 << 30) {
        format!("{} GiB", bytes >> 30)
    } else {
        format!("{} MiB", bytes >> 20)
    }
}

/// The text of a file's `bytes` (`file`, a `what`, for the message): an error,
/// placed at the line and column of the first bad byte (and naming its
/// offset), if they are not UTF-8 or hold a NUL byte (no text file does; a
/// device like `/dev/zero` or a binary file does). [`read_capped`] reads files
/// through it.
pub fn decode_text(file: &str, what: &str, bytes: Vec<u8>) -> Result<String, ScenarioError> {
    let not_utf8 = std::str::from_utf8(&bytes)
        .err()
        .map(|error| error.valid_up_to());
    let nul = bytes.iter().position(|&byte| byte == 0);
    let Some(offset) = not_utf8.into_iter().chain(nul).min() else {
        return Ok(String::from_utf8(bytes).expect("checked to be UTF-8"));
    };
    let before = std::str::from_utf8(&bytes[..offset]).expect("valid up to the offset");
    let (line, column) = error::line_column(before, offset);
    let message = if bytes[offset] == 0 {
        format!("the {what} holds a NUL byte (at offset {offset}); expected text")
    } else {
        format!(
            "the {what} is not UTF-8 text (byte 0x{:02x} at offset {offset})",
            bytes[offset]
        )
    };
    Err(ScenarioError {
        file: file.to_string(),
        line: Some(line),
        column: Some(column),
        key: None,
        message,
    })
}

/// A scenario file read from disk, before its protocol-specific parse.
#[derive(Clone, Debug)]
pub struct ScenarioFile {
    /// The path as given.
    pub file: String,
    /// The full text.
    pub text: String,
    /// `protocol.name`.
    pub protocol: String,
    /// Hash of the text (reports record it; a replay checks it).
    pub content_hash: u64,
}

impl ScenarioFile {
    /// Reads a scenario file and finds its protocol name.
    pub fn read(path: &str) -> Result<ScenarioFile, ScenarioError> {
        let text = read_capped(path, "scenario file")?;
        ScenarioFile::from_text(path, text)
    }

    /// A scenario from text (`file` is used in messages).
    pub fn from_text(file: &str, text: String) -> Result<ScenarioFile, ScenarioError> {
        #[derive(Deserialize)]
        struct Head {
            protocol: Option<HeadProtocol>,
        }
        #[derive(Deserialize)]
        struct HeadProtocol {
            name: Option<String>,
        }
        let source = Source { file, text: &text };
        let head: Head = toml::from_str(&text).map_err(|error| source.from_toml(&error))?;
        let protocol = match head.protocol {
            None => {
                return Err(source.error(
                    Some("protocol".into()),
                    "missing table [protocol] (with name = \"...\")",
                ));
            }
            Some(HeadProtocol { name: None }) => {
                return Err(source.error(
                    Some("protocol.name".into()),
                    "missing key: the protocol's name",
                ));
            }
            Some(HeadProtocol { name: Some(name) }) => name,
        };
        let content_hash = crate::sim::trace::StableHasher::hash_of(text.as_bytes());
        Ok(ScenarioFile {
            file: file.to_string(),
            text,
            protocol,
            content_hash,
        })
    }

    /// The source, for locating errors.
    pub fn source(&self) -> Source<'_> {
        Source {
            file: &self.file,
            text: &self.text,
        }
    }

    /// Where `protocol.name` is written, for an "unknown protocol" error.
    pub fn protocol_name_error(&self, known: &[&str]) -> ScenarioError {
        let source = self.source();
        let message = format!(
            "unknown protocol {:?}; expected one of: {}",
            self.protocol,
            known.join(", ")
        );
        source.error(Some("protocol.name".into()), message)
    }

    /// Reads the whole scenario with protocol configuration type `C` and checks
    /// everything that does not depend on the protocol.
    pub fn parse<C: DeserializeOwned>(&self) -> Result<Scenario<C>, ScenarioError> {
        let source = self.source();
        let scenario: Scenario<C> =
            toml::from_str(&self.text).map_err(|error| source.from_toml(&error))?;
        scenario.validate(&source)?;
        Ok(scenario)
    }
}

impl<C> Scenario<C> {
    /// Number of nodes.
    pub fn nodes(&self) -> usize {
        *self.cluster.nodes.get_ref()
    }

    /// Number of spare nodes: the last ones, outside the membership at the start.
    pub fn spares(&self) -> usize {
        *self.cluster.spares.get_ref()
    }

    /// End of the fault phase (ns).
    pub fn fault_phase_end(&self) -> u64 {
        self.duration.get_ref().0
    }

    /// What the protocol's spec is handed to build a run of this scenario.
    /// `text` is the file's text.
    pub fn setup<'a>(&'a self, text: &'a str) -> crate::spec::Setup<'a, C> {
        crate::spec::Setup {
            config: &self.protocol,
            nodes: self.nodes(),
            spares: self.spares(),
            clients: self.workload.clients,
            workload: &self.workload,
            network: &self.network,
            fault_phase_end: self.fault_phase_end(),
            text,
        }
    }

    /// End of the run: fault phase plus liveness window (ns).
    pub fn run_end(&self) -> u64 {
        self.fault_phase_end() + self.liveness_window.0
    }

    fn validate(&self, source: &Source<'_>) -> Result<(), ScenarioError> {
        let nodes = self.nodes();
        if !(1..=MAX_NODES).contains(&nodes) {
            return Err(source.error_at(
                self.cluster.nodes.span(),
                format!("expected between 1 and {MAX_NODES} nodes, got {nodes}"),
            ));
        }
        if self.spares() >= nodes {
            return Err(source.error_at(
                self.cluster.spares.span(),
                format!(
                    "expected fewer spares than nodes (0..={}), got {}: at least one node must start as a member",
                    nodes - 1,
                    self.spares()
                ),
            ));
        }
        if *self.cluster.clock_drift_ppm_max.get_ref() > 500_000 {
            return Err(source.error_at(
                self.cluster.clock_drift_ppm_max.span(),
                format!(
                    "expected a drift bound in 0..=500000 ppm, got {}",
                    self.cluster.clock_drift_ppm_max.get_ref()
                ),
            ));
        }
        if self.duration.get_ref().0 == 0 {
            return Err(source.error_at(self.duration.span(), "expected a positive duration"));
        }
        if self.max_events == 0 {
            return Err(source.error(Some("max_events".into()), "expected at least 1 event"));
        }
        if self.workload.clients > MAX_CLIENTS {
            return Err(source.error(
                Some("workload.clients".into()),
                format!(
                    "expected at most {MAX_CLIENTS} clients, got {}",
                    self.workload.clients
                ),
            ));
        }
        let processes = nodes + self.workload.clients;
        if self.network.links.len() >= crate::sim::network::LINKS_MAX {
            return Err(source.invalid(crate::spec::Invalid::key(
                "network.links",
                format!(
                    "expected at most {} link overrides, got {}",
                    crate::sim::network::LINKS_MAX - 1,
                    self.network.links.len()
                ),
            )));
        }
        for (index, link) in self.network.links.iter().enumerate() {
            for (name, id) in [("from", link.from), ("to", link.to)] {
                if id >= processes {
                    return Err(source.error(
                        Some(format!("network.links[{index}].{name}")),
                        format!(
                            "process {id} does not exist (nodes are 0..={}, clients {}..={})",
                            nodes - 1,
                            nodes,
                            processes.saturating_sub(1)
                        ),
                    ));
                }
            }
        }
        for fault in &self.faults {
            fault.resolve(
                source,
                nodes,
                self.workload.clients,
                *self.duration.get_ref(),
            )?;
        }
        if let Some(expect) = &self.expect
            && expect.verdict == ExpectedVerdict::Pass
            && expect.property.is_some()
        {
            return Err(source.error(
                Some("expect.property".into()),
                "'property' applies only to verdict = \"fail\"",
            ));
        }
        if let Some(expect) = &self.expect
            && let Some(checker) = &expect.checker
        {
            if expect.verdict == ExpectedVerdict::Pass {
                return Err(source.error_at(
                    checker.span(),
                    "'checker' applies only to verdict = \"fail\"",
                ));
            }
            if checker.get_ref().is_empty() {
                return Err(source.error_at(
                    checker.span(),
                    "expected a checker name such as \"raft\" (see `faultline list`)",
                ));
            }
        }
        if let Some(nemesis) = &self.nemesis {
            if nemesis.faults.get_ref().is_empty() {
                return Err(source.error_at(
                    nemesis.faults.span(),
                    "expected at least one fault kind for the nemesis",
                ));
            }
            if nemesis.interval.get_ref().min.0 == 0 {
                return Err(source.error_at(
                    nemesis.interval.span(),
                    "expected a positive minimum interval",
                ));
            }
            if *nemesis.clock_drift_ppm_max.get_ref() > 500_000 {
                return Err(source.error_at(
                    nemesis.clock_drift_ppm_max.span(),
                    format!(
                        "expected a drift bound in 0..=500000 ppm, got {}",
                        nemesis.clock_drift_ppm_max.get_ref()
                    ),
                ));
            }
            nemesis.check_targets(source)?;
            let slow_factor_max = *nemesis.slow_factor_max.get_ref();
            if !(faults::NEMESIS_SLOW_FACTOR_MIN..=1000.0).contains(&slow_factor_max) {
                return Err(source.error_at(
                    nemesis.slow_factor_max.span(),
                    format!(
                        "expected a largest slowdown factor from {} to 1000, got {slow_factor_max}",
                        faults::NEMESIS_SLOW_FACTOR_MIN
                    ),
                ));
            }
            if nemesis.start >= *self.duration.get_ref() {
                return Err(source.error(
                    Some("nemesis.start".into()),
                    format!(
                        "nemesis start {} is not before the end of the fault phase ({})",
                        nemesis.start,
                        self.duration.get_ref()
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Checks the scenario's membership changes (`cluster.spares`, `join` and
    /// `leave` faults, scripted or in the nemesis) against what protocol
    /// `protocol` supports: `min_members` is its floor
    /// (`ProtocolSpec::min_members`), `None` when it supports none. The error
    /// names the first offending key.
    pub fn check_membership(
        &self,
        protocol: &str,
        min_members: Option<usize>,
    ) -> Result<(), crate::spec::Invalid> {
        use crate::spec::Invalid;
        let Some(min_members) = min_members else {
            let unsupported = |key: String| {
                Invalid::key(
                    key,
                    format!(
                        "protocol '{protocol}' does not support membership changes (join, leave, cluster.spares)"
                    ),
                )
            };
            if self.spares() > 0 {
                return Err(unsupported("cluster.spares".into()));
            }
            if let Some(index) = self.faults.iter().position(FaultSpec::is_membership) {
                return Err(unsupported(format!("faults[{index}].kind")));
            }
            if let Some(nemesis) = &self.nemesis
                && nemesis
                    .faults
                    .get_ref()
                    .iter()
                    .any(|kind| kind.is_membership())
            {
                return Err(unsupported("nemesis.faults".into()));
            }
            return Ok(());
        };
        let members = self.nodes() - self.spares();
        if members < min_members {
            let key = if self.spares() > 0 {
                "cluster.spares"
            } else {
                "cluster.nodes"
            };
            return Err(Invalid::key(
                key,
                format!(
                    "{members} of the {} nodes start as members ({} spares), below the {min_members} protocol '{protocol}' needs",
                    self.nodes(),
                    self.spares()
                ),
            ));
        }
        Ok(())
    }

    /// Checks that the nemesis's `targets` names a group of protocol
    /// `protocol` (`groups`, [`crate::spec::ProtocolSpec::groups`]) or a label
    /// a `[[faults]]` entry sets; a protocol with a driver (`has_driver`
    /// tells, asked only when the name is neither) may set any label as it
    /// goes, so there any name passes.
    pub fn check_nemesis_targets(
        &self,
        protocol: &str,
        groups: &[&str],
        has_driver: impl FnOnce() -> bool,
    ) -> Result<(), crate::spec::Invalid> {
        let Some(name) = self
            .nemesis
            .as_ref()
            .and_then(|nemesis| nemesis.targets_label())
        else {
            return Ok(());
        };
        let labels: Vec<&str> = self
            .faults
            .iter()
            .filter_map(|fault| fault.label.as_ref().map(|label| label.get_ref().as_str()))
            .collect();
        if groups.contains(&name) || labels.contains(&name) || has_driver() {
            return Ok(());
        }
        let groups = if groups.is_empty() {
            "declares no groups".to_string()
        } else {
            let names: Vec<String> = groups.iter().map(|group| format!("@{group}")).collect();
            format!("declares {}", names.join(", "))
        };
        Err(crate::spec::Invalid::key(
            "nemesis.targets",
            format!(
                "\"@{name}\" is neither a group of protocol '{protocol}' (it {groups}) nor a label a [[faults]] entry sets"
            ),
        ))
    }

    /// The scripted faults as the world applies them. Validation already passed,
    /// so this cannot fail.
    pub fn scripted_faults(&self, source: &Source<'_>) -> Vec<(u64, TimedFault)> {
        self.faults
            .iter()
            .map(|fault| {
                fault
                    .resolve(
                        source,
                        self.nodes(),
                        self.workload.clients,
                        *self.duration.get_ref(),
                    )
                    .expect("validated")
            })
            .collect()
    }

    /// The world this scenario describes, under `seed`.
    pub fn world_config(&self, seed: u64) -> WorldConfig {
        WorldConfig {
            seed,
            nodes: self.nodes(),
            clients: self.workload.clients,
            network: self.network.clone(),
            disk: self.disk.clone(),
            clock_offset_max: self.cluster.clock_offset_max.0,
            clock_drift_ppm_max: *self.cluster.clock_drift_ppm_max.get_ref(),
            spares: self.spares(),
        }
    }
}
