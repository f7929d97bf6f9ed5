//! `check-history --bench-generated`: the checker on generated busy histories.
//!
//! The histories are what replicated-register and kv users produce (see
//! [`crate::check::generate`]): one register with many clients and timed-out
//! writes, with and without long partitions, correct and with one stale read;
//! kv-append histories of 10, 50 and 100 clients, correct and with one lost
//! append. Each is checked as `check-history` would (all cores, default budget)
//! and, for the register ones, with the shortcuts off, so the table shows what the
//! shortcuts buy. Time is the best of three; memory is the most any one part's
//! check held (its tables and model states), as the checker accounts it.

use super::check_history::{check_parallel, default_threads};
use crate::check::generate::{self, KvAppendShape, Planted, RegisterShape};
use crate::check::models::{self, Kv, Register};
use crate::check::prepared::PreparedCheck;
use crate::check::{Budget, History, Prepared, Verdict};
use std::fmt::Write as _;
use std::time::{Duration, Instant};

/// Without the shortcuts the search may not finish: it gets this long.
const SEARCH_ONLY_DEADLINE: Duration = Duration::from_secs(10);

struct Row {
    label: String,
    operations: usize,
    expected: bool,
    verdict: Verdict,
    best: Duration,
    memory: u64,
    note: String,
}

fn measure(
    label: String,
    history: &History,
    expected: bool,
    prepare: &dyn Fn(History) -> Box<dyn PreparedCheck>,
    deadline: Option<Duration>,
) -> Row {
    let mut best = Duration::MAX;
    let mut verdict = Verdict::Unknown("not run".into());
    for _ in 0..3 {
        let started = Instant::now();
        let prepared = prepare(history.clone());
        verdict = check_parallel(
            prepared.as_ref(),
            &Budget::default(),
            deadline.map(|deadline| started + deadline),
            default_threads(),
        );
        best = best.min(started.elapsed());
        if best > Duration::from_secs(2) {
            break;
        }
    }
    let prepared = prepare(history.clone());
    let budget = Budget::default();
    let (mut memory, mut unobserved, mut zones, mut states) = (0, 0, 0, 0);
    let stop_at = deadline.map(|deadline| Instant::now() + deadline);
    let past = || stop_at.is_some_and(|at| Instant::now() >= at);
    let budget = budget.with_stop(&past);
    for part in 0..prepared.part_count() {
        let (_, stats) = prepared.check_part_with_stats(part, &budget);
        memory = memory.max(stats.memory_bytes);
        unobserved += stats.unobserved;
        zones += usize::from(stats.by_shortcut);
        states += stats.states;
    }
    Row {
        label,
        operations: history.operations.len(),
        expected,
        verdict,
        best,
        memory,
        note: format!(
            "{unobserved} left out, {zones}/{} parts by a shortcut, {states} states",
            prepared.part_count()
        ),
    }
}

/// Run the benchmark and return its table.
pub fn bench_generated() -> String {
    let mut rows = Vec::new();
    for partitions in [0.0, 0.3] {
        for planted in [Planted::None, Planted::Stale] {
            let shape = RegisterShape {
                partition_share: partitions,
                planted,
                ..RegisterShape::new(10, 2_000, 0.3, 7)
            };
            let history = History::from_events(&generate::register(&shape))
                .expect("generated histories pair up");
            let expected = planted == Planted::None;
            let name = format!(
                "register, 10 clients, 30% info writes{}, {}",
                if partitions > 0.0 {
                    ", 30% partitioned"
                } else {
                    ""
                },
                if expected {
                    "correct"
                } else {
                    "one stale read"
                }
            );
            rows.push(measure(
                name.clone(),
                &history,
                expected,
                &|history| models::prepare("register", history, true).expect("fits"),
                None,
            ));
            rows.push(measure(
                format!("{name}, search only"),
                &history,
                expected,
                &|history| {
                    Box::new(
                        Prepared::new(Register, history, true)
                            .expect("fits")
                            .without_shortcuts(),
                    )
                },
                Some(SEARCH_ONLY_DEADLINE),
            ));
            if partitions > 0.0 {
                let keyed = RegisterShape {
                    key: Some("k".into()),
                    ..shape.clone()
                };
                let history = History::from_events(&generate::register(&keyed))
                    .expect("generated histories pair up");
                rows.push(measure(
                    name.replace("register,", "kv, one key,"),
                    &history,
                    expected,
                    &|history| Box::new(Prepared::new(Kv, history, true).expect("fits")),
                    None,
                ));
            }
        }
    }
    for clients in [10, 50, 100] {
        for planted in [Planted::None, Planted::Stale] {
            let shape = KvAppendShape {
                clients,
                operations: clients * 40,
                keys: 10,
                append_share: 0.5,
                info_share: 0.1,
                planted,
                seed: 11,
            };
            let history = History::from_events(&generate::kv_append(&shape))
                .expect("generated histories pair up");
            let expected = planted == Planted::None;
            rows.push(measure(
                format!(
                    "kv-append, {clients} clients, 10 keys, 10% info appends, {}",
                    if expected {
                        "correct"
                    } else {
                        "one lost append"
                    }
                ),
                &history,
                expected,
                &|history| models::prepare("kv-append", history, true).expect("fits"),
                None,
            ));
        }
    }
    let mut table = String::new();
    let _ = writeln!(
        table,
        "| history | operations | verdict | time | memory | notes |"
    );
    let _ = writeln!(table, "|---|---:|---|---:|---:|---|");
    for row in rows {
        let agrees = match &row.verdict {
            Verdict::Linearizable => row.expected,
            Verdict::NotLinearizable(_) => !row.expected,
            Verdict::Unknown(_) => false,
        };
        let _ = writeln!(
            table,
            "| {} | {} | {}{} | {:.1} ms | {:.1} MiB | {} |",
            row.label,
            row.operations,
            row.verdict.word(),
            if agrees {
                ""
            } else if matches!(row.verdict, Verdict::Unknown(_)) {
                " (undecided)"
            } else {
                " (WRONG)"
            },
            row.best.as_secs_f64() * 1000.0,
            row.memory as f64 / f64::from(1 << 20),
            row.note
        );
    }
    let _ = writeln!(
        table,
        "\nbest of 3 (1 when over 2 s); prepare + check timed, generation not; {} threads; memory: the most one part's check held (tables and model states); search only: shortcuts off, {} s deadline",
        default_threads(),
        SEARCH_ONLY_DEADLINE.as_secs()
    );
    table
}
