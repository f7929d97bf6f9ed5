//! Generated histories of busy objects, for benchmarks and tests of the checker.
//!
//! A replicated register under partitions produces a characteristic history: many
//! clients on one key, writes with unique values, and a large share of writes that
//! time out (`info`) — some of which took effect later, some never. Long
//! partitions make every operation of the cut-off clients time out for a while.
//! [`register`] produces such histories from a seed; [`kv_append`] produces the
//! many-client, many-key append histories of the kv reference workload. Both can
//! plant one violation ([`Planted`]) that no linearization can explain.
//!
//! The histories come from an atomic object: every operation takes effect at a
//! point drawn inside its interval (an `info` write possibly after its client gave
//! up, or never), and results are computed in point order. Without a planted
//! violation they are linearizable by construction.

use crate::sim::history::{EventType, HistoryEvent, Value};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A violation planted in a generated history.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Planted {
    /// None: the history is linearizable.
    None,
    /// One read returns a value overwritten before the read began (register), or
    /// misses an append that completed before it began (kv-append).
    Stale,
}

/// The shape of a generated single-register history.
#[derive(Clone, Debug)]
pub struct RegisterShape {
    /// Concurrent clients (one process each).
    pub clients: usize,
    /// Operations in all.
    pub operations: usize,
    /// The share of writes among operations (the rest are reads).
    pub write_share: f64,
    /// The share of writes that time out (`info`).
    pub info_share: f64,
    /// The share of time under a partition that cuts off half the clients (all
    /// their operations time out meanwhile).
    pub partition_share: f64,
    /// The key, for the `kv` model (`None`: the `register` model's keyless form).
    pub key: Option<String>,
    /// What to plant.
    pub planted: Planted,
    /// The seed.
    pub seed: u64,
}

impl RegisterShape {
    /// `clients` clients, `operations` operations, half writes, `info_share` of
    /// them timing out, no partitions.
    pub fn new(clients: usize, operations: usize, info_share: f64, seed: u64) -> Self {
        RegisterShape {
            clients,
            operations,
            write_share: 0.5,
            info_share,
            partition_share: 0.0,
            key: None,
            planted: Planted::None,
            seed,
        }
    }
}

/// Time a client waits before giving up (in the generator's time units).
const TIMEOUT: u64 = 1_000;
/// Operations take 1..LATENCY time units when they complete.
const LATENCY: u64 = 120;
/// A partition lasts this long.
const PARTITION: u64 = 20 * TIMEOUT;

struct Planned {
    process: u64,
    write: bool,
    call: u64,
    /// `None`: timed out.
    ret: Option<u64>,
    /// When it takes effect (`None`: never).
    point: Option<u64>,
    /// The key (kv-append only).
    key: usize,
}

/// Draw every operation's interval and effect point: clients run one operation at
/// a time with a short think time; timed-out operations hold the client for
/// [`TIMEOUT`].
fn plan(
    rng: &mut ChaCha8Rng,
    clients: usize,
    operations: usize,
    write_share: f64,
    info_share: f64,
    partition_share: f64,
    keys: usize,
) -> Vec<Planned> {
    let clients = clients.max(1);
    let mut free_at = vec![0u64; clients];
    // Partitions: windows, each cutting off the odd or even clients.
    let horizon = (operations as u64 / clients as u64 + 1) * (LATENCY + 20) * 2;
    let mut windows: Vec<(u64, u64, u64)> = Vec::new();
    let partitions = (horizon as f64 * partition_share / PARTITION as f64).round() as u64;
    for _ in 0..partitions {
        let start = rng.gen_range(0..horizon.max(1));
        windows.push((start, start + PARTITION, rng.gen_range(0..2)));
    }
    let mut planned = Vec::with_capacity(operations);
    for _ in 0..operations {
        let process = (0..clients)
            .min_by_key(|&client| (free_at[client], client))
            .expect("at least one client");
        let call = free_at[process] + rng.gen_range(1..20);
        let write = rng.gen_bool(write_share.clamp(0.0, 1.0));
        let cut = windows
            .iter()
            .any(|&(start, end, side)| (start..end).contains(&call) && process as u64 % 2 == side);
        let timed_out = cut || (write && rng.gen_bool(info_share.clamp(0.0, 1.0)));
        let key = rng.gen_range(0..keys.max(1));
        if timed_out {
            // A timed-out write may still take effect, even after the client left.
            let point = (write && rng.gen_bool(0.5)).then(|| call + rng.gen_range(0..TIMEOUT * 2));
            planned.push(Planned {
                process: process as u64,
                write,
                call,
                ret: None,
                point,
                key,
            });
            free_at[process] = call + TIMEOUT;
        } else {
            let ret = call + rng.gen_range(1..LATENCY);
            planned.push(Planned {
                process: process as u64,
                write,
                call,
                ret: Some(ret),
                point: Some(rng.gen_range(call..=ret)),
                key,
            });
            free_at[process] = ret;
        }
    }
    planned
}

/// The operations that take effect, as (point, index), in point order.
fn effect_order(planned: &[Planned]) -> Vec<(u64, usize)> {
    let mut order: Vec<(u64, usize)> = planned
        .iter()
        .enumerate()
        .filter_map(|(index, operation)| operation.point.map(|point| (point, index)))
        .collect();
    order.sort_unstable();
    order
}

/// Turn planned operations with their (possibly planted) results into events in
/// time order (invocations before completions on ties).
fn events(
    planned: &[Planned],
    f: impl Fn(&Planned) -> &'static str,
    key: impl Fn(&Planned) -> Option<String>,
    argument: impl Fn(usize) -> Value,
    result: impl Fn(usize) -> Value,
) -> Vec<HistoryEvent> {
    let mut timed: Vec<(u64, u8, usize)> = Vec::with_capacity(planned.len() * 2);
    for (index, operation) in planned.iter().enumerate() {
        timed.push((operation.call, 0, index));
        timed.push((operation.ret.unwrap_or(operation.call + TIMEOUT), 1, index));
    }
    timed.sort_unstable();
    timed
        .into_iter()
        .map(|(time, completion, index)| {
            let operation = &planned[index];
            let (kind, value) = match (completion, operation.ret) {
                (0, _) => (EventType::Invoke, argument(index)),
                (_, Some(_)) => (EventType::Ok, result(index)),
                (_, None) => (EventType::Info, argument(index)),
            };
            HistoryEvent {
                process: operation.process,
                kind,
                f: f(operation).to_string(),
                key: key(operation),
                value,
                time,
            }
        })
        .collect()
}

/// A single-register history (see the module documentation). Written values are
/// unique (the operation's index); the register starts absent (`nil`).
pub fn register(shape: &RegisterShape) -> Vec<HistoryEvent> {
    let mut rng = ChaCha8Rng::seed_from_u64(shape.seed);
    let planned = plan(
        &mut rng,
        shape.clients,
        shape.operations,
        shape.write_share,
        shape.info_share,
        shape.partition_share,
        1,
    );
    // Apply effects in point order; reads see the value at their point.
    let order = effect_order(&planned);
    let mut value = Value::Nil;
    let mut results = vec![Value::Nil; planned.len()];
    for &(_, index) in &order {
        if planned[index].write {
            value = Value::Int(index as i64);
        }
        results[index] = value.clone();
    }
    if shape.planted == Planted::Stale {
        plant_stale_read(&planned, &mut results, &mut rng);
    }
    let keyless = shape.key.is_none();
    events(
        &planned,
        |operation| match (operation.write, keyless) {
            (true, true) => "write",
            (false, true) => "read",
            (true, false) => "put",
            (false, false) => "get",
        },
        |_| shape.key.clone(),
        |index| {
            if planned[index].write {
                Value::Int(index as i64)
            } else {
                Value::Nil
            }
        },
        |index| results[index].clone(),
    )
}

/// Make one completed read return a value that was overwritten, by a completed
/// write, before the read began — and that write itself followed the stale
/// value's completed write: no linearization can explain it. Picks the read from
/// the middle of the history on.
fn plant_stale_read(planned: &[Planned], results: &mut [Value], rng: &mut ChaCha8Rng) {
    let completed_writes: Vec<usize> = (0..planned.len())
        .filter(|&index| planned[index].write && planned[index].ret.is_some())
        .collect();
    let start = rng.gen_range(planned.len() / 2..planned.len().max(1));
    for read in (start..planned.len()).chain(0..start) {
        let operation = &planned[read];
        if operation.write || operation.ret.is_none() {
            continue;
        }
        // The latest completed write that completed before the read began, and a
        // completed write that completed before that one began.
        let Some(&newer) = completed_writes
            .iter()
            .filter(|&&write| planned[write].ret.is_some_and(|ret| ret < operation.call))
            .max_by_key(|&&write| planned[write].call)
        else {
            continue;
        };
        let Some(&older) = completed_writes
            .iter()
            .filter(|&&write| {
                planned[write]
                    .ret
                    .is_some_and(|ret| ret < planned[newer].call)
            })
            .max_by_key(|&&write| planned[write].call)
        else {
            continue;
        };
        results[read] = Value::Int(older as i64);
        return;
    }
}

/// The shape of a generated kv-append history.
#[derive(Clone, Debug)]
pub struct KvAppendShape {
    /// Concurrent clients.
    pub clients: usize,
    /// Operations in all.
    pub operations: usize,
    /// Keys the operations spread over.
    pub keys: usize,
    /// The share of appends (the rest are gets).
    pub append_share: f64,
    /// The share of appends that time out (`info`).
    pub info_share: f64,
    /// What to plant (in the last key in key order, so every other part comes
    /// before it).
    pub planted: Planted,
    /// The seed.
    pub seed: u64,
}

/// A kv-append history: gets return the concatenation of the appends before them
/// (`x <op> y` tokens, unique per operation, separated by spaces).
pub fn kv_append(shape: &KvAppendShape) -> Vec<HistoryEvent> {
    let mut rng = ChaCha8Rng::seed_from_u64(shape.seed);
    let keys = shape.keys.max(1);
    let planned = plan(
        &mut rng,
        shape.clients,
        shape.operations,
        shape.append_share,
        shape.info_share,
        0.0,
        keys,
    );
    let token = |index: usize| format!("x {index} y ");
    let order = effect_order(&planned);
    let mut values = vec![String::new(); keys];
    let mut results = vec![Value::Str(String::new()); planned.len()];
    // Per key, the appends in effect order.
    let mut appended: Vec<Vec<usize>> = vec![Vec::new(); keys];
    for &(_, index) in &order {
        let key = planned[index].key;
        if planned[index].write {
            appended[key].push(index);
            values[key].push_str(&token(index));
        }
        results[index] = Value::Str(values[key].clone());
    }
    if shape.planted == Planted::Stale {
        // In the last key: a get that misses an append completed before it began.
        let key = (0..keys)
            .map(|key| key.to_string())
            .max()
            .and_then(|name| name.parse::<usize>().ok())
            .unwrap_or(0);
        let start = rng.gen_range(planned.len() / 2..planned.len().max(1));
        'reads: for read in (start..planned.len()).chain(0..start) {
            let operation = &planned[read];
            if operation.write || operation.ret.is_none() || operation.key != key {
                continue;
            }
            let Value::Str(seen) = &results[read] else {
                continue;
            };
            for &append in &appended[key] {
                let text = token(append);
                if planned[append].ret.is_some_and(|ret| ret < operation.call)
                    && seen.contains(&text)
                {
                    results[read] = Value::Str(seen.replacen(&text, "", 1));
                    break 'reads;
                }
            }
        }
    }
    events(
        &planned,
        |operation| if operation.write { "append" } else { "get" },
        |operation| Some(operation.key.to_string()),
        |index| {
            if planned[index].write {
                Value::Str(token(index))
            } else {
                Value::Nil
            }
        },
        |index| results[index].clone(),
    )
}
