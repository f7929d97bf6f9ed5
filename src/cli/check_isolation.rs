//! `faultline check-history FILE --model list-append|rw-register`: check a
//! transaction history for isolation anomalies with [`crate::check::isolation`].
//!
//! Prints a one-line verdict (`valid`, `invalid`, `unknown`), the anomaly types,
//! the consistency models ruled out (`not`, `also not`) and each anomaly
//! explained; `--svg` draws the first cycle. Exit codes as for linearizability:
//! 0 valid, 1 invalid or unknown, 2 bad input or arguments. The wall clock is
//! read only by `--bench-isolation`, here, never in `check`.

use super::check_history::{CheckHistoryArgs, HISTORY_BYTES_MAX};
use super::exit;
use crate::check::isolation::generate::{self, Shape};
use crate::check::isolation::{self, Options, Validity, Workload};
use std::fmt::Write as _;
use std::time::{Duration, Instant};

/// The isolation options the arguments ask for.
pub fn options(args: &CheckHistoryArgs) -> Result<Options, String> {
    let consistency_models = match &args.consistency_models {
        None => Options::default().consistency_models,
        Some(models)
            if models
                .iter()
                .all(|model| model == "none" || model.is_empty()) =>
        {
            Vec::new()
        }
        Some(models) => models.clone(),
    };
    let options = Options {
        consistency_models,
        anomalies: args.anomalies.clone(),
        linearizable_keys: args.linearizable_keys,
        sequential_keys: args.sequential_keys,
        wfr_keys: args.wfr_keys,
        search_steps: args.search_steps,
        ..Options::default()
    };
    options.validate()?;
    Ok(options)
}

/// Run an isolation check; returns the exit code.
pub fn run(args: &CheckHistoryArgs) -> i32 {
    let model = args.model.as_deref().unwrap_or_default();
    let workload = Workload::from_name(model).expect("dispatched on an isolation model");
    let Some(file) = &args.file else {
        eprintln!("error: a history FILE is required");
        return exit::BAD_INPUT;
    };
    let options = match options(args) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("error: {message}");
            return exit::BAD_INPUT;
        }
    };
    let text = match crate::scenario::read_text_at_most(
        &file.to_string_lossy(),
        "history file",
        HISTORY_BYTES_MAX,
        "a history of EDN op maps, one a line",
    ) {
        Ok(text) => text,
        Err(error) => {
            eprintln!("error: {error}");
            return exit::BAD_INPUT;
        }
    };
    let txns = match isolation::parse_history(&text, workload) {
        Ok(txns) => txns,
        Err(error) => {
            eprintln!("error: {}:{error} ({model} history)", file.display());
            return exit::BAD_INPUT;
        }
    };
    let report = isolation::check(&txns, &options);
    print!("{report}");
    if let Some(path) = &args.svg {
        match report.cycles.first() {
            Some(cycle) => {
                if let Err(cause) = std::fs::write(path, cycle.svg()) {
                    eprintln!("error: cannot write {}: {cause}", path.display());
                    return exit::INTERNAL;
                }
                println!(
                    "picture of the {} cycle written to {}",
                    cycle.name,
                    path.display()
                );
            }
            None => println!("no picture written: there is no cycle to draw"),
        }
    }
    match report.valid {
        Validity::Valid => exit::OK,
        _ => exit::CHECK_FAILED,
    }
}

/// Time parse + check of generated serial list-append histories (10^4 to 10^6
/// transactions, 5 processes, keys growing with size), best of a few runs.
pub fn bench() -> String {
    let mut table = String::new();
    let _ = writeln!(
        table,
        "| transactions | keys | parse | check | edges | verdict |\n|---:|---:|---:|---:|---:|---|"
    );
    for (txns, keys, runs) in [
        (10_000, 100, 5),
        (100_000, 1_000, 3),
        (1_000_000, 10_000, 1),
    ] {
        let history = generate::list_append(&Shape::new(txns, keys, 1));
        let text = generate::to_edn(&history);
        let mut parse_best = Duration::MAX;
        let mut check_best = Duration::MAX;
        let mut report = None;
        for _ in 0..runs {
            let started = Instant::now();
            let parsed = isolation::parse_history(&text, Workload::ListAppend)
                .expect("generated histories parse");
            parse_best = parse_best.min(started.elapsed());
            let started = Instant::now();
            let checked = isolation::check(&parsed, &Options::default());
            check_best = check_best.min(started.elapsed());
            report = Some(checked);
        }
        let report = report.expect("at least one run");
        let _ = writeln!(
            table,
            "| {txns} | {keys} | {:.0} ms | {:.0} ms | {} | {} |",
            parse_best.as_secs_f64() * 1000.0,
            check_best.as_secs_f64() * 1000.0,
            report.edges,
            report.valid.word()
        );
    }
    let _ = writeln!(
        table,
        "\nstrict-serializable, default search budget; best of 5 / 3 / 1 runs"
    );
    table
}
