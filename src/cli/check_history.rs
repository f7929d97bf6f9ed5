//! `faultline check-history`: check a recorded history for linearizability.
//!
//! Reads a Jepsen log, EDN lines or JSON lines (auto-detected), binds it to a model
//! by name, checks its independent parts on all cores, and prints `linearizable`,
//! `not linearizable` with the explanation (and optionally an SVG), or `unknown`
//! when the state cap or the deadline ends the search. Exit codes: 0, 1, 1; 2 for a
//! malformed file or bad arguments.
//!
//! The clock and the threads live here, not in `check`: the deadline becomes a stop
//! callback, and parts are folded in part order so the verdict never depends on
//! scheduling. `--bench-reference DIR` times the checker on the reference histories
//! (see [`bench_reference_histories`]).

use super::exit;
use crate::check::linearizable::SearchStats;
use crate::check::models::{self, NAMES};
use crate::check::prepared::{PreparedCheck, check_in_rounds, check_sequentially};
use crate::check::{Budget, Format, History, TimeUnit, Verdict, parse, svg};
use clap::builder::PossibleValuesParser;
use std::cmp::Reverse;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Most bytes a history file may have: reading stops there (and at the first
/// NUL byte), so `check-history /dev/zero` is an error, not memory exhausted.
/// The reference histories are under 3 MiB; Jepsen's largest are tens of MiB.
pub const HISTORY_BYTES_MAX: u64 = 1 << 30;

/// Below this many operations, threads cost more than they save.
const PARALLEL_MIN_OPERATIONS: usize = 2_000;

/// Command-line arguments of `check-history`.
#[derive(clap::Args, Debug, Clone)]
pub struct CheckHistoryArgs {
    /// The history file: a Jepsen log, EDN maps or JSON lines (one event per line).
    #[arg(required_unless_present_any = ["bench_reference", "bench_generated", "bench_isolation"])]
    pub file: Option<PathBuf>,
    /// The model to check against: a linearizability model, or `list-append` /
    /// `rw-register` for transaction isolation (Elle-style; see docs/isolation.md).
    #[arg(long, required_unless_present_any = ["bench_reference", "bench_generated", "bench_isolation"], value_parser = PossibleValuesParser::new(all_model_names()))]
    pub model: Option<String>,
    /// The file format [default: detected from the content, then the extension].
    #[arg(long, value_parser = PossibleValuesParser::new(Format::ALL.map(Format::name)))]
    pub format: Option<String>,
    /// Write an SVG picture of the failure here (when not linearizable).
    #[arg(long, value_name = "OUT.svg")]
    pub svg: Option<PathBuf>,
    /// The most search states one independent part may explore.
    #[arg(long, value_name = "N", default_value_t = Budget::DEFAULT_MAX_STATES,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub max_states: u64,
    /// The most memory one independent part's search may hold, in MiB (its
    /// tables and the model states it keeps).
    #[arg(long, value_name = "MIB", default_value_t = Budget::DEFAULT_MAX_MEMORY_BYTES >> 20,
          value_parser = clap::value_parser!(u64).range(1..=1 << 24))]
    pub max_memory_mb: u64,
    /// Give up with `unknown` after this many milliseconds of wall-clock time
    /// spent checking (reading and parsing the file come before and are not
    /// counted; the search polls the clock every few thousand steps).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub timeout_ms: Option<u64>,
    /// Check the whole history as one model instead of per independent part.
    #[arg(long)]
    pub no_partition: bool,
    /// Time the checker on the reference histories in DIR (with expected.tsv) and
    /// print a table.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["file", "model", "svg", "format"])]
    pub bench_reference: Option<PathBuf>,
    /// Time the checker on generated busy histories (one register with many
    /// timed-out writes; kv-append with 10 to 100 clients) and print a table.
    #[arg(long, conflicts_with_all = ["file", "model", "svg", "format", "bench_reference"])]
    pub bench_generated: bool,
    /// Isolation models: the consistency models the history should satisfy,
    /// comma-separated [default: strict-serializable; `none` for only --anomalies].
    #[arg(long, value_name = "A,B", value_delimiter = ',')]
    pub consistency_models: Option<Vec<String>>,
    /// Isolation models: anomaly classes to report besides, comma-separated (G0, G1, G2, internal, ...).
    #[arg(long, value_name = "G0,G1,...", value_delimiter = ',')]
    pub anomalies: Vec<String>,
    /// rw-register: real-time order orders each key's versions.
    #[arg(long)]
    pub linearizable_keys: bool,
    /// rw-register: process order orders each key's versions.
    #[arg(long)]
    pub sequential_keys: bool,
    /// rw-register: a transaction's read of a key precedes its own write of it.
    #[arg(long)]
    pub wfr_keys: bool,
    /// Isolation models: steps each cycle class may spend searching before it
    /// reports cycle-search-timeout.
    #[arg(long, value_name = "N", default_value_t = crate::check::isolation::DEFAULT_SEARCH_STEPS,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub search_steps: u64,
    /// Time the isolation checker on generated list-append histories of 10^4,
    /// 10^5 and 10^6 transactions and print a table.
    #[arg(long, conflicts_with_all = ["file", "model", "svg", "format", "bench_reference", "bench_generated"])]
    pub bench_isolation: bool,
}

/// The isolation workloads `--model` accepts besides the linearizability models.
pub const ISOLATION_NAMES: [&str; 2] = ["list-append", "rw-register"];

/// Every `--model` name.
pub fn all_model_names() -> Vec<&'static str> {
    NAMES.iter().copied().chain(ISOLATION_NAMES).collect()
}

/// Validated `check-history` arguments.
#[derive(Debug, Clone)]
pub struct CheckRequest {
    /// The history file.
    pub file: PathBuf,
    /// The model name (one of [`NAMES`]).
    pub model: String,
    /// The format, if given.
    pub format: Option<Format>,
    /// Where to write the SVG.
    pub svg: Option<PathBuf>,
    /// States per part.
    pub max_states: u64,
    /// Memory per part, bytes.
    pub max_memory_bytes: u64,
    /// Wall-clock limit.
    pub timeout: Option<Duration>,
    /// Split into independent parts.
    pub partition: bool,
}

impl CheckHistoryArgs {
    /// Turn raw arguments into a request (when not benchmarking).
    pub fn validate(self) -> Result<CheckRequest, String> {
        let file = self.file.ok_or("a history FILE is required")?;
        let model = self.model.ok_or("--model is required")?;
        if !NAMES.contains(&model.as_str()) {
            return Err(format!(
                "unknown model {model:?} (expected one of: {})",
                NAMES.join(", ")
            ));
        }
        let format = match self.format {
            None => None,
            Some(name) => {
                Some(Format::from_name(&name).ok_or_else(|| format!("unknown format {name:?}"))?)
            }
        };
        Ok(CheckRequest {
            file,
            model,
            format,
            svg: self.svg,
            max_states: self.max_states,
            max_memory_bytes: self.max_memory_mb << 20,
            timeout: self.timeout_ms.map(Duration::from_millis),
            partition: !self.no_partition,
        })
    }
}

/// Run `check-history`; returns the exit code.
pub fn run(args: CheckHistoryArgs) -> i32 {
    if args.bench_isolation {
        print!("{}", super::check_isolation::bench());
        return exit::OK;
    }
    if args
        .model
        .as_deref()
        .is_some_and(|model| ISOLATION_NAMES.contains(&model))
    {
        return super::check_isolation::run(&args);
    }
    if args.bench_generated {
        print!("{}", super::check_bench::bench_generated());
        return exit::OK;
    }
    if let Some(directory) = &args.bench_reference {
        return match bench_reference_histories(directory) {
            Ok(table) => {
                print!("{table}");
                exit::OK
            }
            Err(message) => {
                eprintln!("error: {message}");
                exit::BAD_INPUT
            }
        };
    }
    let request = match args.validate() {
        Ok(request) => request,
        Err(message) => {
            eprintln!("error: {message}");
            return exit::BAD_INPUT;
        }
    };
    let (prepared, unit) = match load(
        &request.file,
        &request.model,
        request.format,
        request.partition,
    ) {
        Ok(prepared) => prepared,
        Err(message) => {
            eprintln!("error: {message}");
            return exit::BAD_INPUT;
        }
    };
    let deadline = request.timeout.map(|timeout| Instant::now() + timeout);
    let budget = Budget::states(request.max_states).memory(request.max_memory_bytes);
    let verdict = check_parallel(prepared.as_ref(), &budget, deadline, default_threads());
    match &verdict {
        Verdict::Linearizable => println!("linearizable"),
        Verdict::Unknown(reason) => println!("unknown: {reason}"),
        Verdict::NotLinearizable(explanation) => println!("not linearizable\n{explanation}"),
    }
    if let Some(path) = &request.svg {
        match &verdict {
            Verdict::NotLinearizable(explanation) => {
                if let Err(cause) = std::fs::write(path, svg::render(explanation, unit)) {
                    eprintln!("error: cannot write {}: {cause}", path.display());
                    return exit::INTERNAL;
                }
                println!("picture written to {}", path.display());
            }
            _ => println!("no picture written: there is no failure to draw"),
        }
    }
    match verdict {
        Verdict::Linearizable => exit::OK,
        _ => exit::CHECK_FAILED,
    }
}

/// Read, parse and prepare a history file, and say what its times count (for
/// the picture's time axis); errors name the file and the line.
pub fn load(
    file: &Path,
    model: &str,
    format: Option<Format>,
    partition: bool,
) -> Result<(Box<dyn PreparedCheck>, TimeUnit), String> {
    let text = crate::scenario::read_text_at_most(
        &file.to_string_lossy(),
        "history file",
        HISTORY_BYTES_MAX,
        "a history of JSON lines, EDN maps or Jepsen log lines",
    )
    .map_err(|error| error.to_string())?;
    let format = match format {
        Some(format) => format,
        None => Format::detect(&text, file.file_name().and_then(|name| name.to_str())).ok_or_else(|| {
            format!(
                "{}: cannot tell the format from the content or the extension; pass --format jepsen-log, edn or jsonl",
                file.display()
            )
        })?,
    };
    let (history, unit) = parse::parse_timed(&text, format)
        .map_err(|error| format!("{}:{error} ({format} format)", file.display()))?;
    let prepared = models::prepare(model, history, partition)
        .map_err(|error| format!("{}:{error}", file.display()))?;
    Ok((prepared, unit))
}

/// The threads to use: the machine's cores.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// Check every part of a prepared history in rounds
/// ([`crate::check::prepared::check_in_rounds`]), spreading each round's parts
/// over `threads` threads when the history is big. The verdict is the one
/// [`check_sequentially`] would give. `budget`'s own stop callback is replaced
/// by the deadline.
pub fn check_parallel(
    prepared: &dyn PreparedCheck,
    budget: &Budget<'_>,
    deadline: Option<Instant>,
    threads: usize,
) -> Verdict {
    let past_deadline = || deadline.is_some_and(|deadline| Instant::now() >= deadline);
    let threads = threads.min(prepared.part_count());
    if threads <= 1 || prepared.operation_count() < PARALLEL_MIN_OPERATIONS {
        return check_sequentially(prepared, &budget.with_stop(&past_deadline));
    }
    let base = budget.with_stop(&past_deadline);
    check_in_rounds(&base, prepared.part_count(), &mut |pending, round| {
        // Biggest parts first, so the last thread to finish is not stuck with one.
        let mut order: Vec<usize> = (0..pending.len()).collect();
        order.sort_by_key(|&slot| (Reverse(prepared.part_len(pending[slot])), slot));
        let next = AtomicUsize::new(0);
        let first_failure = AtomicUsize::new(usize::MAX);
        let results: Vec<Mutex<Option<(Verdict, SearchStats)>>> =
            pending.iter().map(|_| Mutex::new(None)).collect();
        std::thread::scope(|scope| {
            for _ in 0..threads {
                scope.spawn(|| {
                    loop {
                        let taken = next.fetch_add(1, Ordering::Relaxed);
                        let Some(&slot) = order.get(taken) else { break };
                        let part = pending[slot];
                        let cancelled =
                            || first_failure.load(Ordering::Relaxed) < part || past_deadline();
                        let result = if first_failure.load(Ordering::Relaxed) < part {
                            (
                                Verdict::Unknown("skipped: an earlier part failed".into()),
                                SearchStats::default(),
                            )
                        } else {
                            prepared.check_part_with_stats(part, &round.with_stop(&cancelled))
                        };
                        if matches!(result.0, Verdict::NotLinearizable(_)) {
                            first_failure.fetch_min(part, Ordering::Relaxed);
                        }
                        *results[slot]
                            .lock()
                            .unwrap_or_else(|poison| poison.into_inner()) = Some(result);
                    }
                });
            }
        });
        results
            .into_iter()
            .map(|slot| {
                slot.into_inner()
                    .unwrap_or_else(|poison| poison.into_inner())
                    .unwrap_or_else(|| {
                        (
                            Verdict::Unknown("part not checked".into()),
                            SearchStats::default(),
                        )
                    })
            })
            .collect()
    })
}

struct Measurement {
    verdict: Verdict,
    best: Duration,
    states: u64,
}

/// Prepare and check a history `runs` times (fewer if slow), keeping the best time.
fn measure(history: &History, model: &str, partition: bool) -> Result<Measurement, String> {
    let mut best = Duration::MAX;
    let mut verdict = Verdict::Unknown("not run".into());
    let mut runs = 0;
    let mut total = Duration::ZERO;
    while runs < 7 && (runs < 3 || total < Duration::from_millis(300)) {
        let copy = history.clone();
        let started = Instant::now();
        let prepared =
            models::prepare(model, copy, partition).map_err(|error| error.to_string())?;
        verdict = check_parallel(
            prepared.as_ref(),
            &Budget::default(),
            None,
            default_threads(),
        );
        let elapsed = started.elapsed();
        best = best.min(elapsed);
        total += elapsed;
        runs += 1;
    }
    // One more, untimed, sequential pass for the search statistics.
    let prepared =
        models::prepare(model, history.clone(), partition).map_err(|error| error.to_string())?;
    let budget = Budget::default();
    let states = (0..prepared.part_count())
        .map(|part| prepared.check_part_with_stats(part, &budget).1.states)
        .sum();
    Ok(Measurement {
        verdict,
        best,
        states,
    })
}

fn milliseconds(duration: Duration) -> String {
    format!("{:.2} ms", duration.as_secs_f64() * 1000.0)
}

/// Time the checker on the reference histories in `directory` (which holds
/// `expected.tsv`, `etcd/` and `kv/`), compare every verdict with the expected one,
/// and return a Markdown table next to Porcupine's figures on the same machine.
/// Parsing is not timed; preparing (conversion, partitioning) and checking are.
pub fn bench_reference_histories(directory: &Path) -> Result<String, String> {
    let listing = directory.join("expected.tsv");
    let expected = std::fs::read_to_string(&listing)
        .map_err(|cause| format!("cannot read {}: {cause}", listing.display()))?;
    let mut rows: Vec<(String, String, bool)> = Vec::new();
    for (index, line) in expected.lines().enumerate().skip(1) {
        let fields: Vec<&str> = line.split('\t').collect();
        let [file, model, verdict] = fields[..] else {
            return Err(format!(
                "{}:{}: expected `file<TAB>model<TAB>verdict`",
                listing.display(),
                index + 1
            ));
        };
        rows.push((
            file.to_string(),
            model.to_string(),
            verdict == "linearizable",
        ));
    }
    let mut mismatches = Vec::new();
    let mut etcd_total = Duration::ZERO;
    let mut etcd_count = 0;
    let mut etcd_agree = 0;
    let mut etcd_worst = (Duration::ZERO, String::new());
    let mut etcd_states = 0;
    let mut kv_lines: Vec<(String, bool, Duration, bool, &str, u64)> = Vec::new();
    for (file, model, linearizable) in &rows {
        let path = directory.join(file);
        let text = std::fs::read_to_string(&path)
            .map_err(|cause| format!("cannot read {}: {cause}", path.display()))?;
        let format = Format::detect(&text, Some(file))
            .ok_or_else(|| format!("{}: unknown format", path.display()))?;
        let history = parse::parse_history(&text, format)
            .map_err(|error| format!("{}:{error}", path.display()))?;
        let mut variants = vec![true];
        if file.contains("c10") {
            variants.push(false);
        }
        for partition in variants {
            let measurement = measure(&history, model, partition)?;
            let agrees = measurement.verdict.is_linearizable() == *linearizable
                && !matches!(measurement.verdict, Verdict::Unknown(_));
            if !agrees {
                mismatches.push(format!(
                    "{file} (partition {partition}): got {}",
                    measurement.verdict.word()
                ));
            }
            if file.starts_with("etcd/") {
                etcd_total += measurement.best;
                etcd_count += 1;
                etcd_agree += usize::from(agrees);
                etcd_states += measurement.states;
                if measurement.best > etcd_worst.0 {
                    etcd_worst = (measurement.best, file.clone());
                }
            } else {
                kv_lines.push((
                    file.clone(),
                    partition,
                    measurement.best,
                    agrees,
                    measurement.verdict.word(),
                    measurement.states,
                ));
            }
        }
    }
    let mut table = String::new();
    let _ = writeln!(
        table,
        "| histories | Porcupine (Go) | faultline | speed-up | states explored | verdicts |"
    );
    let _ = writeln!(table, "|---|---:|---:|---:|---:|---|");
    let speedup = |reference_ms: f64, ours: Duration| {
        format!("{:.1}x", reference_ms / (ours.as_secs_f64() * 1000.0))
    };
    let _ = writeln!(
        table,
        "| etcd, {etcd_count} files, total | 358 ms | {} | {} | {etcd_states} | {etcd_agree}/{etcd_count} as expected |",
        milliseconds(etcd_total),
        speedup(358.0, etcd_total)
    );
    let _ = writeln!(
        table,
        "| etcd, worst single file ({}) | ~155 ms | {} | {} | | |",
        etcd_worst.1,
        milliseconds(etcd_worst.0),
        speedup(155.0, etcd_worst.0)
    );
    for (file, partition, best, agrees, word, states) in kv_lines {
        let (label, reference) =
            match (partition, file.contains("c10-ok"), file.contains("c10-bad")) {
                (false, true, _) => ("one model, no partition", 1900.0),
                (false, _, true) => ("one model, no partition", 2300.0),
                _ => ("per key", 1.0),
            };
        let reference_text = if reference >= 1000.0 {
            format!("{:.1} s", reference / 1000.0)
        } else {
            "~1 ms".into()
        };
        let _ = writeln!(
            table,
            "| {file}, {label} | {reference_text} | {} | {} | {states} | {word}{} |",
            milliseconds(best),
            speedup(reference, best),
            if agrees { ", as expected" } else { ", WRONG" }
        );
    }
    let _ = writeln!(
        table,
        "\nbest of 3-7 runs per file; prepare (conversion, partition) + check timed, parsing not; {} threads for histories of {}+ operations",
        default_threads(),
        PARALLEL_MIN_OPERATIONS
    );
    if !mismatches.is_empty() {
        let _ = writeln!(table, "verdict mismatches:\n  {}", mismatches.join("\n  "));
    }
    Ok(table)
}
