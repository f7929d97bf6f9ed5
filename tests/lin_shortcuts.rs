//! The checker's shortcuts against its plain search: leaving out unknown-outcome
//! operations nothing observed, the unique-value register check (zones), and the
//! rounds that stop at the first failing part. On every history small enough for
//! the search to decide, the verdict with shortcuts must equal the verdict
//! without. Also: memory is bounded on histories whose states grow, and a budget
//! message names the knob that raises it.

use faultline::check::generate::{self, KvAppendShape, Planted, RegisterShape};
use faultline::check::models::{Kv, KvAppend, Register, Set};
use faultline::check::prepared::check_sequentially;
use faultline::check::{Budget, History, Model, Prepared, Verdict};
use faultline::sim::history::{EventType, HistoryEvent, Value};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn verdicts<M: Model + Clone + 'static>(model: M, events: &[HistoryEvent]) -> (Verdict, Verdict) {
    let history = History::from_events(events).expect("well paired");
    let with = Prepared::new(model.clone(), history.clone(), true).expect("fits");
    let without = Prepared::new(model, history, true)
        .expect("fits")
        .without_shortcuts();
    (
        check_sequentially(&with, &Budget::default()),
        check_sequentially(&without, &Budget::default()),
    )
}

fn assert_agree(label: &str, seed: u64, with: &Verdict, without: &Verdict) {
    assert!(
        !matches!(without, Verdict::Unknown(_)),
        "{label} seed {seed}: the plain search could not decide; make the history smaller"
    );
    assert_eq!(
        with.word(),
        without.word(),
        "{label} seed {seed}: the shortcuts say {}, the search says {}",
        with.word(),
        without.word()
    );
}

/// One drawn operation: its process, what it writes (`None`: a read), its
/// invocation, its return (`None`: unknown outcome) and when it took effect
/// (`None`: never).
struct Drawn<W> {
    process: u64,
    writes: Option<W>,
    call: u64,
    ret: Option<u64>,
    point: Option<u64>,
}

/// Draw 3–14 operations of 2–5 clients on a coarse clock (many equal times),
/// each taking effect at a point inside its interval; `unknown` of them have an
/// unknown outcome (a write then takes effect late or never). `writes` draws what
/// an operation writes (`None`: it reads). Returns them and their indices in the
/// order they took effect.
fn draw<W>(
    rng: &mut ChaCha8Rng,
    unknown: f64,
    mut writes: impl FnMut(&mut ChaCha8Rng, usize) -> Option<W>,
) -> (Vec<Drawn<W>>, Vec<usize>) {
    let clients = rng.gen_range(2..=5u64);
    let count = rng.gen_range(3..=14usize);
    let mut free = vec![0u64; clients as usize];
    let mut drawn = Vec::new();
    for serial in 0..count {
        let process = rng.gen_range(0..clients);
        let call = free[process as usize] + rng.gen_range(0..3);
        let writes = writes(rng, serial);
        let ret = call + rng.gen_range(0..6);
        let (ret, point) = if rng.gen_bool(unknown) {
            let point =
                (writes.is_some() && rng.gen_bool(0.6)).then(|| call + rng.gen_range(0..12));
            (None, point)
        } else {
            (Some(ret), Some(rng.gen_range(call..=ret)))
        };
        free[process as usize] = ret.unwrap_or(call + 12) + 1;
        drawn.push(Drawn {
            process,
            writes,
            call,
            ret,
            point,
        });
    }
    let mut order: Vec<(u64, usize)> = drawn
        .iter()
        .enumerate()
        .filter_map(|(index, operation)| operation.point.map(|point| (point, index)))
        .collect();
    order.sort_unstable();
    (drawn, order.into_iter().map(|(_, index)| index).collect())
}

/// The completed reads among drawn operations.
fn completed_reads<W>(drawn: &[Drawn<W>]) -> Vec<usize> {
    (0..drawn.len())
        .filter(|&index| drawn[index].writes.is_none() && drawn[index].ret.is_some())
        .collect()
}

/// Events for drawn operations on `key`: `(read, write)` name the operations,
/// `argument` and `result` give each one's values; an unknown outcome is an
/// `info` 12 ticks after the invocation.
fn to_events<W>(
    drawn: &[Drawn<W>],
    key: Option<&str>,
    (read, write): (&str, &str),
    argument: impl Fn(usize) -> Value,
    result: impl Fn(usize) -> Value,
) -> Vec<HistoryEvent> {
    let mut timed: Vec<(u64, u8, HistoryEvent)> = Vec::new();
    for (index, operation) in drawn.iter().enumerate() {
        let f = if operation.writes.is_some() {
            write
        } else {
            read
        };
        let (process, call) = (operation.process, operation.call);
        timed.push((
            call,
            0,
            HistoryEvent::new(process, EventType::Invoke, f, key, argument(index), call),
        ));
        let (kind, value, time) = match operation.ret {
            Some(ret) => (EventType::Ok, result(index), ret),
            None => (EventType::Info, argument(index), call + 12),
        };
        timed.push((
            time,
            1,
            HistoryEvent::new(process, kind, f, key, value, time),
        ));
    }
    timed.sort_by_key(|(time, order, event)| (*time, *order, event.process));
    timed.into_iter().map(|(_, _, event)| event).collect()
}

/// A register history drawn independently of `check::generate`: an atomic
/// register (unique written values), with unknown-outcome writes and reads;
/// then, half the time, one read's result replaced by another written value,
/// `nil` or a value never written.
fn random_register(rng: &mut ChaCha8Rng, keyed: bool) -> Vec<HistoryEvent> {
    let (drawn, order) = draw(rng, 0.35, |rng, serial| {
        rng.gen_bool(0.5).then_some(serial as i64 + 1)
    });
    let mut current = Value::Nil;
    let mut results = vec![Value::Nil; drawn.len()];
    for index in order {
        if let Some(value) = drawn[index].writes {
            current = Value::Int(value);
        }
        results[index] = current.clone();
    }
    let reads = completed_reads(&drawn);
    if rng.gen_bool(0.5) && !reads.is_empty() {
        let read = reads[rng.gen_range(0..reads.len())];
        results[read] = match rng.gen_range(0..6) {
            0 => Value::Nil,
            1 => Value::Int(999),
            _ => Value::Int(rng.gen_range(1..=drawn.len() as i64)),
        };
    }
    let names = if keyed {
        ("get", "put")
    } else {
        ("read", "write")
    };
    to_events(
        &drawn,
        keyed.then_some("k"),
        names,
        |index| drawn[index].writes.map_or(Value::Nil, Value::Int),
        |index| results[index].clone(),
    )
}

#[test]
fn zones_and_left_out_writes_agree_with_the_search_on_random_registers() {
    let mut rng = ChaCha8Rng::seed_from_u64(2026);
    let mut failing = 0;
    for seed in 0..3000u64 {
        let keyed = seed % 3 == 0;
        let events = random_register(&mut rng, keyed);
        let (with, without) = if keyed {
            verdicts(Kv, &events)
        } else {
            verdicts(Register, &events)
        };
        assert_agree("register", seed, &with, &without);
        failing += usize::from(matches!(without, Verdict::NotLinearizable(_)));
    }
    // Both verdicts must be well represented for the comparison to mean much.
    assert!((600..2400).contains(&failing), "{failing} of 3000 failing");
}

#[test]
fn generated_busy_registers_agree_with_the_search_when_small() {
    for seed in 0..400u64 {
        let shape = RegisterShape {
            partition_share: if seed % 2 == 0 { 0.0 } else { 0.5 },
            planted: if seed % 3 == 0 {
                Planted::Stale
            } else {
                Planted::None
            },
            ..RegisterShape::new(3 + seed as usize % 3, 18, 0.4, seed)
        };
        let events = generate::register(&shape);
        let (with, without) = verdicts(Register, &events);
        assert_agree("generated register", seed, &with, &without);
        if shape.planted == Planted::None {
            assert!(with.is_linearizable(), "seed {seed}: generated correct");
        }
    }
}

#[test]
fn left_out_appends_agree_with_the_search() {
    for seed in 0..400u64 {
        let shape = KvAppendShape {
            clients: 3 + seed as usize % 3,
            operations: 16,
            keys: 2,
            append_share: 0.6,
            info_share: 0.5,
            planted: if seed % 3 == 0 {
                Planted::Stale
            } else {
                Planted::None
            },
            seed,
        };
        let events = generate::kv_append(&shape);
        let (with, without) = verdicts(KvAppend, &events);
        assert_agree("kv-append", seed, &with, &without);
        if shape.planted == Planted::None {
            assert!(with.is_linearizable(), "seed {seed}: generated correct");
        }
    }
}

#[test]
fn left_out_set_adds_agree_with_the_search() {
    let mut rng = ChaCha8Rng::seed_from_u64(77);
    for seed in 0..1500u64 {
        // Adds of 1..=4 (some twice), some unknown; reads list a random subset.
        let mut events = Vec::new();
        let mut time = 0;
        let mut open: Vec<(u64, &str, Value)> = Vec::new();
        for _ in 0..rng.gen_range(3..10) {
            let process = rng.gen_range(0..4u64);
            if open.iter().any(|(busy, _, _)| *busy == process) {
                let at = open
                    .iter()
                    .position(|(busy, _, _)| *busy == process)
                    .unwrap();
                let (process, f, argument) = open.remove(at);
                let (kind, value) = match (f, rng.gen_range(0..3)) {
                    ("add", 0) => (EventType::Info, argument),
                    ("add", _) => (EventType::Ok, argument),
                    _ => {
                        let seen: Vec<Value> = (1..=4)
                            .filter(|_| rng.gen_bool(0.4))
                            .map(Value::Int)
                            .collect();
                        (EventType::Ok, Value::List(seen))
                    }
                };
                events.push(HistoryEvent::new(process, kind, f, None, value, time));
            } else {
                let (f, argument) = if rng.gen_bool(0.6) {
                    ("add", Value::Int(rng.gen_range(1..=4)))
                } else {
                    ("read", Value::Nil)
                };
                events.push(HistoryEvent::new(
                    process,
                    EventType::Invoke,
                    f,
                    None,
                    argument.clone(),
                    time,
                ));
                open.push((process, f, argument));
            }
            time += rng.gen_range(0..2);
        }
        let (with, without) = verdicts(Set, &events);
        assert_agree("set", seed, &with, &without);
    }
}

/// `rounds` rounds of `width` concurrent appends to one key, each followed by a
/// get that saw them in index order: the search must consider every order of
/// each round, and every state is a long string.
fn concurrent_appends(rounds: usize, width: usize) -> Vec<HistoryEvent> {
    let mut events = Vec::new();
    let mut seen = String::new();
    let mut time = 0;
    for round in 0..rounds {
        for process in 0..width as u64 {
            let text = Value::Str(format!("x {round} {process} y "));
            events.push(HistoryEvent::new(
                process,
                EventType::Invoke,
                "append",
                Some("k"),
                text,
                time,
            ));
        }
        time += 1;
        for process in 0..width as u64 {
            let text = format!("x {round} {process} y ");
            seen.push_str(&text);
            events.push(HistoryEvent::new(
                process,
                EventType::Ok,
                "append",
                Some("k"),
                Value::Str(text),
                time,
            ));
        }
        time += 1;
        let reader = width as u64;
        events.push(HistoryEvent::new(
            reader,
            EventType::Invoke,
            "get",
            Some("k"),
            Value::Nil,
            time,
        ));
        // The get sees the round's appends in reverse order: the search must try
        // many orders before it finds that one.
        let mut shown: Vec<String> = (0..width)
            .map(|process| format!("x {round} {process} y "))
            .collect();
        shown.reverse();
        let before = seen.len() - shown.iter().map(String::len).sum::<usize>();
        let value = format!("{}{}", &seen[..before], shown.concat());
        seen = value.clone();
        time += 1;
        events.push(HistoryEvent::new(
            reader,
            EventType::Ok,
            "get",
            Some("k"),
            Value::Str(value),
            time,
        ));
        time += 1;
    }
    events
}

#[test]
fn growing_states_are_bounded_by_memory_and_the_message_names_the_knob() {
    // With the shortcuts the append chain decides this at once; the search's
    // own bounds are what is tested here.
    let history = History::from_events(&concurrent_appends(3, 60)).expect("paired");
    let prepared = Prepared::new(KvAppend, history.clone(), true)
        .expect("fits")
        .without_shortcuts();
    let shortcut = Prepared::new(KvAppend, history, true).expect("fits");
    assert!(check_sequentially(&shortcut, &Budget::states(1)).is_linearizable());
    let budget = Budget::states(u64::MAX).memory(32 << 20);
    let Verdict::Unknown(reason) = check_sequentially(&prepared, &budget) else {
        panic!("60 concurrent appends cannot be decided in 32 MiB");
    };
    assert!(
        reason.contains("memory limit of 32 MiB") && reason.contains("raise --max-memory-mb"),
        "{reason}"
    );
    let (_, stats) = prepared.check_part_with_stats(0, &budget);
    assert!(
        stats.memory_bytes <= (32 << 20) + (64 << 10) && stats.memory_bytes > 16 << 20,
        "the search held {} bytes under a 32 MiB cap (one state's data may pass it)",
        stats.memory_bytes
    );
    let budget = Budget::states(1000).knobs(faultline::check::Knobs {
        states: "the knob",
        memory: "the other knob",
    });
    let history = History::from_events(&concurrent_appends(3, 60)).expect("paired");
    let prepared = Prepared::new(KvAppend, history, true)
        .expect("fits")
        .without_shortcuts();
    let Verdict::Unknown(reason) = check_sequentially(&prepared, &budget) else {
        panic!("1000 states cannot decide it");
    };
    assert!(
        reason.contains("more than 1000 states") && reason.contains("raise the knob"),
        "{reason}"
    );
}

#[test]
fn the_first_failing_part_found_in_a_round_decides() {
    // Key "a" is hard and linearizable (needs many states); key "b" fails at
    // once. Checked in order, "a" would have to finish first; in rounds, "b"
    // fails in round one and decides, though "a" is undecided at that budget.
    let mut events = concurrent_appends(1, 9);
    let b = |kind, value: &str, time| {
        HistoryEvent::new(50, kind, "get", Some("b"), Value::Str(value.into()), time)
    };
    events.push(b(EventType::Invoke, "", 100));
    events.push(b(EventType::Ok, "never appended", 101));
    let history = History::from_events(&events).expect("paired");
    // The search alone: with the shortcuts, the append chain decides "a" at once.
    let prepared = Prepared::new(KvAppend, history, true)
        .expect("fits")
        .without_shortcuts();
    let Verdict::NotLinearizable(explanation) = check_sequentially(&prepared, &Budget::default())
    else {
        panic!("key b is not linearizable");
    };
    assert_eq!(explanation.part.as_deref(), Some("b"));
}

/// One append-only key drawn independently of `check::generate`: appends of
/// short distinct texts (sometimes texts that split ambiguously, so the
/// shortcut must step aside), unknown outcomes; then, half the time, one read's
/// string edited (a text dropped, two swapped, cut mid-text, a stranger
/// appended).
fn random_appends(rng: &mut ChaCha8Rng) -> Vec<HistoryEvent> {
    const TEXTS: [&str; 10] = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"];
    const AMBIGUOUS: [&str; 6] = ["a", "ab", "b", "ba", "c", "abc"];
    let mut texts = if rng.gen_bool(0.2) {
        AMBIGUOUS.to_vec()
    } else {
        TEXTS.to_vec()
    };
    let (drawn, order) = draw(rng, 0.3, |rng, _| {
        (rng.gen_bool(0.5) && !texts.is_empty())
            .then(|| texts.remove(rng.gen_range(0..texts.len())))
    });
    let mut current = String::new();
    let mut results = vec![String::new(); drawn.len()];
    for index in order {
        if let Some(text) = drawn[index].writes {
            current.push_str(text);
        }
        results[index] = current.clone();
    }
    let reads = completed_reads(&drawn);
    if rng.gen_bool(0.5) && !reads.is_empty() {
        let seen = &mut results[reads[rng.gen_range(0..reads.len())]];
        match rng.gen_range(0..4) {
            0 if !seen.is_empty() => {
                seen.remove(rng.gen_range(0..seen.len()));
            }
            1 if seen.len() >= 2 => {
                let at = rng.gen_range(0..seen.len() - 1);
                let mut bytes = seen.clone().into_bytes();
                bytes.swap(at, at + 1);
                *seen = String::from_utf8(bytes).expect("ascii");
            }
            2 => seen.push('z'),
            _ => seen.push_str(TEXTS[rng.gen_range(0..TEXTS.len())]),
        }
    }
    let argument = |index: usize| {
        drawn[index]
            .writes
            .map_or(Value::Nil, |text| Value::Str(text.into()))
    };
    to_events(
        &drawn,
        Some("k"),
        ("get", "append"),
        argument,
        |index| match drawn[index].writes {
            Some(_) => argument(index),
            None => Value::Str(results[index].clone()),
        },
    )
}

#[test]
fn the_append_chain_agrees_with_the_search_on_random_keys() {
    let mut rng = ChaCha8Rng::seed_from_u64(4242);
    let mut failing = 0;
    for seed in 0..3000u64 {
        let events = random_appends(&mut rng);
        let (with, without) = verdicts(KvAppend, &events);
        assert_agree("appends", seed, &with, &without);
        failing += usize::from(matches!(without, Verdict::NotLinearizable(_)));
    }
    assert!((500..2500).contains(&failing), "{failing} of 3000 failing");
}
