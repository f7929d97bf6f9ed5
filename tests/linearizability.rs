//! The linearizability checker against other people's data (the Porcupine/Jepsen
//! reference histories), against a brute-force checker on small random histories,
//! and against the determinism rules of `src/check`.

use faultline::check::models::{self, Counter, Kv, KvAppend, Lock, Register, Set};
use faultline::check::prepared::{PreparedCheck, check_sequentially};
use faultline::check::{Budget, Format, History, Model, Prepared, Step, Verdict, parse};
use faultline::cli::check_history::check_parallel;
use faultline::sim::history::{EventType, HistoryEvent, Value};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::path::PathBuf;

fn reference_directory() -> Option<PathBuf> {
    let directory = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data/histories");
    if directory.join("expected.tsv").is_file() {
        Some(directory)
    } else {
        println!(
            "skipped: reference histories not found at {}",
            directory.display()
        );
        None
    }
}

fn load(directory: &std::path::Path, file: &str) -> History {
    let text = std::fs::read_to_string(directory.join(file)).unwrap();
    let format = Format::detect(&text, Some(file)).unwrap();
    parse::parse_history(&text, format).unwrap()
}

#[test]
fn every_reference_history_gets_its_expected_verdict() {
    let Some(directory) = reference_directory() else {
        return;
    };
    let expected = std::fs::read_to_string(directory.join("expected.tsv")).unwrap();
    let mut checked = 0;
    let mut linearizable = 0;
    for line in expected.lines().skip(1) {
        let fields: Vec<&str> = line.split('\t').collect();
        let [file, model, verdict] = fields[..] else {
            panic!("bad line {line:?}")
        };
        let history = load(&directory, file);
        let mut variants = vec![true];
        if file.starts_with("kv/") {
            variants.push(false);
        }
        for partition in variants {
            let prepared = models::prepare(model, history.clone(), partition).unwrap();
            let got = check_sequentially(prepared.as_ref(), &Budget::default());
            assert!(!matches!(got, Verdict::Unknown(_)), "{file}: {got:?}");
            assert_eq!(
                got.is_linearizable(),
                verdict == "linearizable",
                "{file} (partition {partition}): expected {verdict}, got {}",
                got.word()
            );
            if let Verdict::NotLinearizable(explanation) = &got {
                assert_explanation_is_consistent(prepared.as_ref(), explanation);
            }
        }
        checked += 1;
        linearizable += usize::from(verdict == "linearizable");
    }
    assert_eq!((checked, linearizable), (84, 18));
}

/// The prefix respects real time among its own operations and the culprit is
/// one of the candidates (it was pending at the dead end).
fn assert_explanation_is_consistent(
    prepared: &dyn PreparedCheck,
    explanation: &faultline::check::Explanation,
) {
    assert!(prepared.operation_count() >= explanation.operations.len());
    let operations = &explanation.operations;
    for (later, &second) in explanation.prefix.iter().enumerate() {
        for &first in &explanation.prefix[..later] {
            // `second` is placed after `first`, so it cannot have returned before `first` began.
            if let Some(ret) = operations[second].ret {
                assert!(
                    ret >= operations[first].call,
                    "prefix violates real-time order"
                );
            }
        }
    }
    assert!(!explanation.prefix.contains(&explanation.culprit));
    assert!(
        explanation
            .candidates
            .iter()
            .any(|&(position, _)| position == explanation.culprit)
    );
}

#[test]
fn the_verdict_on_a_partitioned_history_does_not_depend_on_threads() {
    // 60 keys × 50 appends/gets, with keys 7 and 42 corrupted: big enough to go parallel.
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut events = Vec::new();
    let mut time = 0u64;
    for key in 0..60 {
        let mut value = String::new();
        for index in 0..50 {
            let name = key.to_string();
            time += 1;
            let process = rng.gen_range(0..5u64);
            if index % 2 == 0 {
                let suffix = format!("<{key}.{index}>");
                value.push_str(&suffix);
                events.push(HistoryEvent::new(
                    process,
                    EventType::Invoke,
                    "append",
                    Some(&name),
                    Value::Str(suffix.clone()),
                    time,
                ));
                events.push(HistoryEvent::new(
                    process,
                    EventType::Ok,
                    "append",
                    Some(&name),
                    Value::Str(suffix),
                    time + 1,
                ));
            } else {
                let mut seen = value.clone();
                if (key == 7 || key == 42) && index == 25 {
                    seen.push('!');
                }
                events.push(HistoryEvent::new(
                    process,
                    EventType::Invoke,
                    "get",
                    Some(&name),
                    Value::Nil,
                    time,
                ));
                events.push(HistoryEvent::new(
                    process,
                    EventType::Ok,
                    "get",
                    Some(&name),
                    Value::Str(seen),
                    time + 1,
                ));
            }
            time += 1;
        }
    }
    let history = History::from_events(&events).unwrap();
    let prepared = Prepared::new(KvAppend, history, true).unwrap();
    let sequential = check_sequentially(&prepared, &Budget::default());
    for threads in [1, 2, 4] {
        assert_eq!(
            check_parallel(&prepared, &Budget::default(), None, threads),
            sequential
        );
    }
    let Verdict::NotLinearizable(explanation) = sequential else {
        panic!("keys 7 and 42 are corrupt")
    };
    // Parts are in key order ("42" < "7"), and the first failing part decides.
    assert_eq!(explanation.part.as_deref(), Some("42"));
}

#[test]
fn a_tight_budget_ends_in_unknown_instead_of_hanging() {
    let Some(directory) = reference_directory() else {
        return;
    };
    let history = load(&directory, "etcd/etcd_002.log");
    let prepared = Prepared::new(Register, history, true).unwrap();
    let verdict = check_sequentially(&prepared, &Budget::states(10));
    assert!(
        matches!(&verdict, Verdict::Unknown(reason) if reason.contains("--max-states")),
        "{verdict:?}"
    );
    let stop = || true;
    let budget = Budget::states(u64::MAX).with_stop(&stop);
    let verdict = check_sequentially(&prepared, &budget);
    assert!(
        matches!(&verdict, Verdict::Unknown(reason) if reason.contains("stopped")),
        "{verdict:?}"
    );
}

// ---------------------------------------------------------------------------
// Random histories against a brute-force checker.

/// One operation of a sequential execution: name, key, argument, result (`None`:
/// the operation failed and did not take effect).
struct Sequential {
    f: &'static str,
    key: Option<String>,
    argument: Value,
    result: Option<Value>,
}

fn op(f: &'static str, key: Option<String>, argument: Value, result: Option<Value>) -> Sequential {
    Sequential {
        f,
        key,
        argument,
        result,
    }
}

/// A reference implementation per model that draws the next operation and its
/// result, written independently of the models under test.
#[derive(Clone)]
enum Reference {
    Register(Value),
    Kv(Vec<Value>),
    KvAppend(Vec<String>),
    Counter(i64),
    Set(Vec<i64>),
    Lock { holder: Option<i64>, last: i64 },
}

impl Reference {
    fn next(&mut self, rng: &mut ChaCha8Rng, serial: usize) -> Sequential {
        match self {
            Reference::Register(value) => match rng.gen_range(0..3) {
                0 => op("read", None, Value::Nil, Some(value.clone())),
                1 => {
                    *value = Value::Int(rng.gen_range(0..3));
                    op("write", None, value.clone(), Some(value.clone()))
                }
                _ => {
                    let (from, to) = (
                        Value::Int(rng.gen_range(0..3)),
                        Value::Int(rng.gen_range(0..3)),
                    );
                    let argument = Value::List(vec![from.clone(), to.clone()]);
                    if *value == from {
                        *value = to;
                        op("cas", None, argument.clone(), Some(argument))
                    } else {
                        op("cas", None, argument, None)
                    }
                }
            },
            Reference::Kv(values) => {
                let key = rng.gen_range(0..values.len());
                let name = Some(key.to_string());
                match rng.gen_range(0..3) {
                    0 => op("get", name, Value::Nil, Some(values[key].clone())),
                    1 => {
                        values[key] = Value::Int(rng.gen_range(0..3));
                        op("put", name, values[key].clone(), Some(values[key].clone()))
                    }
                    _ => {
                        let (from, to) = (
                            Value::Int(rng.gen_range(0..3)),
                            Value::Int(rng.gen_range(0..3)),
                        );
                        let argument = Value::List(vec![from.clone(), to.clone()]);
                        if values[key] == from {
                            values[key] = to;
                            op("cas", name, argument.clone(), Some(argument))
                        } else {
                            op("cas", name, argument, None)
                        }
                    }
                }
            }
            Reference::KvAppend(values) => {
                let key = rng.gen_range(0..values.len());
                match rng.gen_range(0..5) {
                    0 | 1 => op(
                        "get",
                        Some(key.to_string()),
                        Value::Nil,
                        Some(Value::Str(values[key].clone())),
                    ),
                    2 => {
                        values[key] = format!("p{serial} ");
                        let put = Value::Str(values[key].clone());
                        op("put", Some(key.to_string()), put.clone(), Some(put))
                    }
                    _ => {
                        let suffix = format!("a{serial} ");
                        values[key].push_str(&suffix);
                        op(
                            "append",
                            Some(key.to_string()),
                            Value::Str(suffix.clone()),
                            Some(Value::Str(suffix)),
                        )
                    }
                }
            }
            Reference::Counter(total) => {
                if rng.gen_bool(0.5) {
                    let amount = rng.gen_range(1..3);
                    *total += amount;
                    op("add", None, Value::Int(amount), Some(Value::Int(amount)))
                } else {
                    op("read", None, Value::Nil, Some(Value::Int(*total)))
                }
            }
            Reference::Set(elements) => {
                if rng.gen_bool(0.5) {
                    let element = rng.gen_range(0..4);
                    if !elements.contains(&element) {
                        elements.push(element);
                        elements.sort_unstable();
                    }
                    op("add", None, Value::Int(element), Some(Value::Int(element)))
                } else {
                    let mut seen: Vec<Value> = elements
                        .iter()
                        .map(|&element| Value::Int(element))
                        .collect();
                    seen.reverse(); // order must not matter
                    op("read", None, Value::Nil, Some(Value::List(seen)))
                }
            }
            Reference::Lock { holder, last } => match *holder {
                None => {
                    *last += rng.gen_range(1..3);
                    *holder = Some(*last);
                    op("acquire", None, Value::Nil, Some(Value::Int(*last)))
                }
                Some(token) => {
                    *holder = None;
                    op("release", None, Value::Int(token), Some(Value::Int(token)))
                }
            },
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Reference::Register(_) => "register",
            Reference::Kv(_) => "kv",
            Reference::KvAppend(_) => "kv-append",
            Reference::Counter(_) => "counter",
            Reference::Set(_) => "set",
            Reference::Lock { .. } => "lock",
        }
    }
}

fn references() -> Vec<Reference> {
    vec![
        Reference::Register(Value::Nil),
        Reference::Kv(vec![Value::Nil; 2]),
        Reference::KvAppend(vec![String::new(); 2]),
        Reference::Counter(0),
        Reference::Set(Vec::new()),
        Reference::Lock {
            holder: None,
            last: 0,
        },
    ]
}

/// Build events from a sequential execution: operation `i` takes effect at time
/// `10 i`, inside a random interval around it; some outcomes become unknown, and
/// some extra operations with unknown outcomes never take effect.
fn generate(
    reference: &mut Reference,
    rng: &mut ChaCha8Rng,
    count: usize,
    width: u64,
) -> Vec<HistoryEvent> {
    // (call, ret or None for unknown, kind of completion, sequential op)
    let mut operations: Vec<(u64, Option<u64>, EventType, Sequential)> = Vec::new();
    for serial in 0..count {
        let point = 10 * serial as u64 + 1000;
        let call = point - 1 - rng.gen_range(0..=width);
        let ret = point + 1 + rng.gen_range(0..=width);
        if rng.gen_bool(0.1) {
            // An operation that never took effect and whose outcome is unknown.
            let mut shadow = reference.clone();
            let phantom = shadow.next(rng, serial + 10_000);
            if phantom.result.is_some() {
                operations.push((call, None, EventType::Info, phantom));
            }
            continue;
        }
        let sequential = reference.next(rng, serial);
        let kind = match sequential.result {
            None => EventType::Fail,
            Some(_) if rng.gen_bool(0.12) => EventType::Info,
            Some(_) => EventType::Ok,
        };
        let ret = if kind == EventType::Info {
            None
        } else {
            Some(ret)
        };
        operations.push((call, ret, kind, sequential));
    }
    operations.sort_by_key(|operation| operation.0);
    // Give each operation a process that is idle over its interval.
    let mut busy_until: Vec<Option<u64>> = Vec::new();
    let mut timed: Vec<(u64, u8, HistoryEvent)> = Vec::new();
    for (call, ret, kind, sequential) in operations {
        let process = match busy_until
            .iter()
            .position(|until| until.is_some_and(|until| until < call))
        {
            Some(process) => process,
            None => {
                busy_until.push(None);
                busy_until.len() - 1
            }
        };
        busy_until[process] = ret;
        let key = sequential.key.as_deref();
        timed.push((
            call,
            0,
            HistoryEvent::new(
                process as u64,
                EventType::Invoke,
                sequential.f,
                key,
                sequential.argument.clone(),
                call,
            ),
        ));
        let value = sequential.result.clone().unwrap_or(Value::Nil);
        let completion_time = ret.unwrap_or(call + 1);
        if ret.is_some() || rng.gen_bool(0.5) {
            timed.push((
                completion_time,
                1,
                HistoryEvent::new(
                    process as u64,
                    kind,
                    sequential.f,
                    key,
                    value,
                    completion_time,
                ),
            ));
        }
    }
    timed.sort_by_key(|(time, order, _)| (*time, *order));
    timed.into_iter().map(|(_, _, event)| event).collect()
}

/// Change the result of one `ok` read-like completion.
fn mutate(events: &mut [HistoryEvent], rng: &mut ChaCha8Rng, model: &str) -> bool {
    let readers: Vec<usize> = (0..events.len())
        .filter(|&index| {
            events[index].kind == EventType::Ok
                && matches!(events[index].f.as_str(), "read" | "get" | "acquire")
        })
        .collect();
    if readers.is_empty() {
        return false;
    }
    let index = readers[rng.gen_range(0..readers.len())];
    let value = &mut events[index].value;
    *value = match value.clone() {
        Value::Nil => Value::Int(rng.gen_range(0..3)),
        Value::Int(number) => {
            if rng.gen_bool(0.3) && (model == "register" || model == "kv") {
                Value::Nil
            } else {
                Value::Int(number + if rng.gen_bool(0.5) { 1 } else { -1 })
            }
        }
        Value::Str(mut text) => {
            if text.is_empty() || rng.gen_bool(0.5) {
                text.push_str("z ");
            } else {
                text.pop();
            }
            Value::Str(text)
        }
        Value::List(mut elements) => {
            if elements.is_empty() || rng.gen_bool(0.5) {
                elements.push(Value::Int(rng.gen_range(0..5)));
            } else {
                elements.pop();
            }
            Value::List(elements)
        }
    };
    true
}

/// Try every order consistent with real time (no memo, no partition).
fn brute_force<M: Model>(model: &M, history: &History) -> bool {
    type Converted<M> = (
        <M as Model>::Input,
        Option<<M as Model>::Output>,
        u64,
        Option<u64>,
    );
    let operations: Vec<Converted<M>> = history
        .operations
        .iter()
        .map(|operation| {
            let (input, output) = model.convert(operation).unwrap();
            (input, output, operation.call, operation.ret)
        })
        .collect();
    fn search<M: Model>(
        model: &M,
        operations: &[Converted<M>],
        placed: &mut Vec<bool>,
        state: &M::State,
    ) -> bool {
        let all_required = operations
            .iter()
            .zip(placed.iter())
            .all(|(operation, &placed)| placed || operation.3.is_none());
        if all_required {
            return true;
        }
        for candidate in 0..operations.len() {
            if placed[candidate] {
                continue;
            }
            let call = operations[candidate].2;
            let must_wait = (0..operations.len()).any(|other| {
                !placed[other]
                    && other != candidate
                    && operations[other].3.is_some_and(|ret| ret < call)
            });
            if must_wait {
                continue;
            }
            let (input, output, _, _) = &operations[candidate];
            let next = match model.step(state, input, output.as_ref()) {
                Step::Invalid => continue,
                Step::Unchanged => state.clone(),
                Step::Changed(next) => next,
            };
            placed[candidate] = true;
            let found = search(model, operations, placed, &next);
            placed[candidate] = false;
            if found {
                return true;
            }
        }
        false
    }
    search(
        model,
        &operations,
        &mut vec![false; operations.len()],
        &model.init(),
    )
}

fn brute_force_by_name(name: &str, history: &History) -> bool {
    match name {
        "register" => brute_force(&Register, history),
        "kv" => brute_force(&Kv, history),
        "kv-append" => brute_force(&KvAppend, history),
        "counter" => brute_force(&Counter, history),
        "set" => brute_force(&Set, history),
        "lock" => brute_force(&Lock, history),
        other => panic!("no brute force for {other}"),
    }
}

fn check(name: &str, history: &History) -> Verdict {
    let prepared = models::prepare(name, history.clone(), true).unwrap();
    check_sequentially(prepared.as_ref(), &Budget::default())
}

#[test]
fn small_random_histories_agree_with_brute_force() {
    let mut agreed_not = 0;
    let mut cases = 0;
    for reference in references() {
        for seed in 0..150u64 {
            let mut rng = ChaCha8Rng::seed_from_u64(seed * 31 + reference.name().len() as u64);
            let count = rng.gen_range(1..=7);
            let width = rng.gen_range(0..=25);
            let mut events = generate(&mut reference.clone(), &mut rng, count, width);
            let name = reference.name();
            let history = History::from_events(&events).unwrap();
            assert!(
                brute_force_by_name(name, &history),
                "{name} seed {seed}: generated history must be linearizable"
            );
            assert_eq!(
                check(name, &history),
                Verdict::Linearizable,
                "{name} seed {seed}: {events:?}"
            );
            if !mutate(&mut events, &mut rng, name) {
                continue;
            }
            let history = History::from_events(&events).unwrap();
            let expected = brute_force_by_name(name, &history);
            let got = check(name, &history);
            assert!(!matches!(got, Verdict::Unknown(_)));
            assert_eq!(
                got.is_linearizable(),
                expected,
                "{name} seed {seed} mutated: {events:?}"
            );
            agreed_not += usize::from(!expected);
            cases += 1;
        }
    }
    // The mutations must actually produce both kinds of answer.
    assert!(
        cases > 500 && agreed_not > 150,
        "{cases} mutated cases, {agreed_not} not linearizable"
    );
}

#[test]
fn larger_random_histories_from_sequential_runs_are_linearizable() {
    for reference in references() {
        for seed in 0..40u64 {
            let mut rng = ChaCha8Rng::seed_from_u64(1_000 + seed);
            let count = rng.gen_range(20..=120);
            let width = rng.gen_range(0..=60);
            let events = generate(&mut reference.clone(), &mut rng, count, width);
            let history = History::from_events(&events).unwrap();
            let name = reference.name();
            assert_eq!(
                check(name, &history),
                Verdict::Linearizable,
                "{name} seed {seed}"
            );
            // The same history through the file format round-trips.
            let text: String = events
                .iter()
                .map(|event| serde_json::to_string(event).unwrap() + "\n")
                .collect();
            assert_eq!(parse::parse_history(&text, Format::Jsonl).unwrap(), history);
        }
    }
}

#[test]
fn random_garbage_is_an_error_or_a_verdict_never_a_panic() {
    let tokens = [
        "{",
        "}",
        "[",
        "]",
        ":process",
        ":type",
        ":f",
        ":key",
        ":value",
        ":time",
        ":invoke",
        ":ok",
        ":fail",
        ":info",
        ":read",
        ":write",
        ":cas",
        ":get",
        ":append",
        "nil",
        "0",
        "1",
        "-3",
        "99999999999999999999",
        "\"k\"",
        "\"",
        ",",
        "INFO",
        "jepsen.util -",
        ":timed-out",
        "{\"process\":",
        "\"type\":\"ok\"",
        "\"f\":\"read\"",
        "null",
        "\t",
        " ",
    ];
    let mut rng = ChaCha8Rng::seed_from_u64(99);
    let mut outcomes = [0usize; 2];
    for _ in 0..3000 {
        let lines = rng.gen_range(1..6);
        let mut text = String::new();
        for _ in 0..lines {
            for _ in 0..rng.gen_range(0..12) {
                text.push_str(tokens[rng.gen_range(0..tokens.len())]);
                text.push(' ');
            }
            text.push('\n');
        }
        for format in Format::ALL {
            match parse::parse_history(&text, format) {
                Err(error) => {
                    assert!(error.line >= 1);
                    outcomes[0] += 1;
                }
                Ok(history) => {
                    outcomes[1] += 1;
                    for name in models::NAMES {
                        if let Ok(prepared) = models::prepare(name, history.clone(), true) {
                            let _ = check_sequentially(prepared.as_ref(), &Budget::states(1000));
                        }
                    }
                }
            }
        }
    }
    // Well-formed lines with random contents reach the models.
    let kinds = [":invoke", ":invoke", ":ok", ":fail", ":info"];
    let names = [
        ":read", ":write", ":cas", ":get", ":put", ":append", ":add", ":acquire", ":release",
        ":bogus",
    ];
    let values = [
        "nil",
        "1",
        "2",
        "[1 2]",
        "[nil 1]",
        "\"x\"",
        ":timed-out",
        "[]",
        "[1]",
    ];
    let mut checked = 0;
    for _ in 0..2000 {
        let mut text = String::new();
        for _ in 0..rng.gen_range(1..12) {
            let (process, kind) = (rng.gen_range(0..3), kinds[rng.gen_range(0..kinds.len())]);
            let (name, value) = (
                names[rng.gen_range(0..names.len())],
                values[rng.gen_range(0..values.len())],
            );
            text.push_str(&format!(
                "{{:process {process}, :type {kind}, :f {name}, :key \"k\", :value {value}}}\n"
            ));
        }
        if let Ok(history) = parse::parse_history(&text, Format::Edn) {
            for name in models::NAMES {
                if let Ok(prepared) = models::prepare(name, history.clone(), true) {
                    let _ = check_sequentially(prepared.as_ref(), &Budget::states(1000));
                    checked += 1;
                }
            }
        }
    }
    assert!(
        outcomes[0] > 0 && outcomes[1] > 0 && checked > 50,
        "{outcomes:?} {checked}"
    );
}
