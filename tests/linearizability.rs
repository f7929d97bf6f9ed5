//! The linearizability checker against other people's data (the Porcupine/Jepsen
//! reference histories, which must be present: see [`shared_data`]), against a
//! brute-force checker over independently written specifications
//! ([`super::lin_models`]) on small random histories, and against the determinism
//! rules of `src/check`.

use super::common::{shared_data, shared_data_in};
use super::lin_models::brute_force;
use faultline::check::models::{self, KvAppend, Register};
use faultline::check::prepared::{PreparedCheck, check_sequentially};
use faultline::check::{Budget, Format, History, Prepared, Verdict, parse};
use faultline::cli::check_history::check_parallel;
use faultline::sim::history::{EventType, HistoryEvent, Value};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::path::{Path, PathBuf};

/// The reference histories (panics naming where they are expected when missing).
fn reference_directory() -> PathBuf {
    let expected = shared_data("data/histories/expected.tsv");
    expected.parent().unwrap().to_path_buf()
}

#[test]
#[should_panic(expected = "expected /nonexistent-faultline-shared/data/histories/expected.tsv")]
fn missing_reference_data_fails_naming_where_it_is_expected() {
    shared_data_in(
        Path::new("/nonexistent-faultline-shared"),
        "FAULTLINE_SHARED",
        "data/histories/expected.tsv",
    );
}

fn load(directory: &std::path::Path, file: &str) -> History {
    let text = std::fs::read_to_string(directory.join(file)).unwrap();
    let format = Format::detect(&text, Some(file)).unwrap();
    parse::parse_history(&text, format).unwrap()
}

#[test]
fn every_reference_history_gets_its_expected_verdict() {
    let directory = reference_directory();
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
    let directory = reference_directory();
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
                brute_force(name, &events),
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
            let expected = brute_force(name, &events);
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

// ---------------------------------------------------------------------------
// Unique-value registers with many unknown writes, against the brute force.

/// A simulated execution of one register (or one kv key) whose writes all write
/// different values, by several concurrent clients. Each operation takes effect
/// at one instant between its invocation and its completion — except writes with
/// an unknown outcome, which take effect at some instant after their invocation
/// (before or after their `info`) or never — so the history is linearizable.
struct UniqueRun {
    events: Vec<HistoryEvent>,
    /// Values of the writes that took effect.
    applied: Vec<i64>,
    /// Values of the writes (all with unknown outcomes) that never took effect.
    phantom: Vec<i64>,
    writes: usize,
    unknown_writes: usize,
}

/// A client's operation in progress.
#[derive(Clone)]
enum Phase {
    Idle,
    /// Invoked, not yet taken effect: the value written, `None` for a read.
    Invoked {
        write: Option<i64>,
        unknown: bool,
    },
    /// Taken effect (an unknown write: or decided never to), not yet completed:
    /// the operation's name and result.
    Effected {
        f: &'static str,
        result: Value,
        unknown: bool,
    },
}

/// The operation names of the register (`read`, `write`, key).
type Names = (&'static str, &'static str, Option<&'static str>);

fn unique_value_run(
    rng: &mut ChaCha8Rng,
    (read, write, key): Names,
    clients: usize,
    count: usize,
    unknown_share: f64,
) -> UniqueRun {
    let mut run = UniqueRun {
        events: Vec::new(),
        applied: Vec::new(),
        phantom: Vec::new(),
        writes: 0,
        unknown_writes: 0,
    };
    let mut current = Value::Nil;
    // A client whose operation ends unknown carries on as a new process, as in Jepsen.
    let mut processes: Vec<u64> = (0..clients as u64).collect();
    let mut next_process = clients as u64;
    let mut phases = vec![Phase::Idle; clients];
    // Unknown writes whose client has moved on before they took effect.
    let mut limbo: Vec<i64> = Vec::new();
    let (mut invoked, mut time) = (0, 0u64);
    fn decide(rng: &mut ChaCha8Rng, value: i64, current: &mut Value, run: &mut UniqueRun) {
        if rng.gen_bool(0.5) {
            *current = Value::Int(value);
            run.applied.push(value);
        } else {
            run.phantom.push(value);
        }
    }
    loop {
        let active: Vec<usize> = (0..clients)
            .filter(|&client| !matches!(phases[client], Phase::Idle) || invoked < count)
            .collect();
        if active.is_empty() && limbo.is_empty() {
            break;
        }
        time += rng.gen_range(1..=3);
        let pick = rng.gen_range(0..active.len() + limbo.len());
        if pick >= active.len() {
            let value = limbo.swap_remove(pick - active.len());
            decide(rng, value, &mut current, &mut run);
            continue;
        }
        let client = active[pick];
        let process = processes[client];
        let event = |kind, f: &str, value| HistoryEvent::new(process, kind, f, key, value, time);
        let mut finish_unknown = |rng: &mut ChaCha8Rng, run: &mut UniqueRun| {
            if rng.gen_bool(0.5) {
                run.events.push(event(EventType::Info, write, Value::Nil));
            }
            processes[client] = next_process;
            next_process += 1;
        };
        phases[client] = match phases[client].clone() {
            Phase::Idle => {
                invoked += 1;
                if rng.gen_bool(0.55) {
                    run.writes += 1;
                    let value = run.writes as i64;
                    let unknown = rng.gen_bool(unknown_share);
                    run.unknown_writes += usize::from(unknown);
                    run.events
                        .push(event(EventType::Invoke, write, Value::Int(value)));
                    Phase::Invoked {
                        write: Some(value),
                        unknown,
                    }
                } else {
                    run.events.push(event(EventType::Invoke, read, Value::Nil));
                    Phase::Invoked {
                        write: None,
                        unknown: false,
                    }
                }
            }
            Phase::Invoked {
                write: Some(value),
                unknown: true,
            } if rng.gen_bool(0.4) => {
                limbo.push(value);
                finish_unknown(rng, &mut run);
                Phase::Idle
            }
            Phase::Invoked {
                write: Some(value),
                unknown,
            } => {
                if unknown {
                    decide(rng, value, &mut current, &mut run);
                } else {
                    current = Value::Int(value);
                    run.applied.push(value);
                }
                Phase::Effected {
                    f: write,
                    result: Value::Int(value),
                    unknown,
                }
            }
            Phase::Invoked { write: None, .. } => Phase::Effected {
                f: read,
                result: current.clone(),
                unknown: false,
            },
            Phase::Effected { unknown: true, .. } => {
                finish_unknown(rng, &mut run);
                Phase::Idle
            }
            Phase::Effected { f, result, .. } => {
                run.events.push(event(EventType::Ok, f, result));
                Phase::Idle
            }
        };
    }
    run
}

/// Make one `ok` read of `run` return something else: a value never written, one
/// overwritten (maybe stale), one of an unknown write that never took effect
/// (now observed, so it must be placed), or nil. Some of these stay linearizable.
fn mutate_unique_read(
    events: &mut [HistoryEvent],
    run: &UniqueRun,
    read: &str,
    rng: &mut ChaCha8Rng,
) -> bool {
    let reads: Vec<usize> = (0..events.len())
        .filter(|&index| events[index].kind == EventType::Ok && events[index].f == read)
        .collect();
    if reads.is_empty() {
        return false;
    }
    let seen = &mut events[reads[rng.gen_range(0..reads.len())]].value;
    let mut options = vec![Value::Int(1000 + rng.gen_range(0..3))];
    options.extend(
        [&run.applied, &run.phantom]
            .into_iter()
            .filter(|values| !values.is_empty())
            .map(|values| Value::Int(values[rng.gen_range(0..values.len())])),
    );
    options.push(Value::Nil);
    options.retain(|option| option != seen);
    *seen = options[rng.gen_range(0..options.len())].clone();
    true
}

/// The most operations open at once (invoked, not completed; unknown ones stay
/// open to the end).
fn most_open(events: &[HistoryEvent]) -> usize {
    let mut open = std::collections::BTreeSet::new();
    let mut most = 0;
    for event in events {
        if event.kind == EventType::Invoke {
            open.insert(event.process);
        } else if event.kind != EventType::Info {
            open.remove(&event.process);
        }
        most = most.max(open.len());
    }
    most
}

#[test]
fn unique_value_registers_with_unknown_writes_agree_with_brute_force() {
    let registers: [(&str, Names); 2] = [
        ("register", ("read", "write", None)),
        ("kv", ("get", "put", Some("k"))),
    ];
    for (name, names) in registers {
        let (mut cases, mut rejected, mut crowded) = (0, 0, 0);
        let (mut writes, mut unknown_writes) = (0, 0);
        for seed in 0..400u64 {
            let mut rng = ChaCha8Rng::seed_from_u64(seed * 7919 + name.len() as u64);
            let clients = rng.gen_range(4..=6);
            let count = rng.gen_range(5..=9);
            let unknown_share = rng.gen_range(0.3..=0.5);
            let run = unique_value_run(&mut rng, names, clients, count, unknown_share);
            crowded += usize::from(most_open(&run.events) >= 4);
            writes += run.writes;
            unknown_writes += run.unknown_writes;
            let history = History::from_events(&run.events).unwrap();
            assert!(
                brute_force(name, &run.events),
                "{name} seed {seed}: the simulated run must be linearizable"
            );
            assert_eq!(
                check(name, &history),
                Verdict::Linearizable,
                "{name} seed {seed}: {:?}",
                run.events
            );
            let mut events = run.events.clone();
            if !mutate_unique_read(&mut events, &run, names.0, &mut rng) {
                continue;
            }
            let expected = brute_force(name, &events);
            let got = check(name, &History::from_events(&events).unwrap());
            assert!(!matches!(got, Verdict::Unknown(_)));
            assert_eq!(
                got.is_linearizable(),
                expected,
                "{name} seed {seed} mutated: {events:?}"
            );
            cases += 1;
            rejected += usize::from(!expected);
        }

        // Crowded, with many unknown writes, and both answers well represented.
        assert!(
            crowded > 300
                && unknown_writes * 10 > writes * 3
                && rejected > 180
                && cases - rejected > 100,
            "{name}: {crowded} crowded, {unknown_writes}/{writes} unknown writes, \
             {cases} mutated, {rejected} not linearizable"
        );
    }
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
