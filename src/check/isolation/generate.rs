//! Random list-append histories for tests and benchmarks.
//!
//! Transactions take effect atomically at their invocation, in invocation order,
//! and complete up to `concurrency - 1` invocations later; each process has one
//! transaction outstanding at a time. Such a history is strict serializable by
//! construction. [`Planted::StaleRead`] then truncates one read that should have
//! seen an append completed before it began: a real-time anomaly a checker must find.

use super::txn::{Key, Mop, Outcome, Txn};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// An anomaly planted in a generated history.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Planted {
    /// None: the history is strict serializable.
    None,
    /// One read misses the last append to its key, which completed before the read began.
    StaleRead,
}

/// The shape of a generated history.
#[derive(Clone, Debug)]
pub struct Shape {
    /// Transactions.
    pub txns: usize,
    /// Keys (lists) in use at a time.
    pub keys: usize,
    /// Appends a key takes before it is retired for a fresh one (as Jepsen's
    /// generators do, so reads stay short and the history grows linearly).
    pub appends_per_key_max: usize,
    /// Processes, each with one transaction outstanding.
    pub concurrency: usize,
    /// Most micro-operations per transaction (at least one).
    pub mops_max: usize,
    /// The share of reads among micro-operations.
    pub read_share: f64,
    /// What to plant.
    pub planted: Planted,
    /// The seed.
    pub seed: u64,
}

impl Shape {
    /// `txns` transactions over `keys` keys at a time (each retired after 16
    /// appends), 5 processes, up to 4 mops, half reads.
    pub fn new(txns: usize, keys: usize, seed: u64) -> Shape {
        Shape {
            txns,
            keys,
            appends_per_key_max: 16,
            concurrency: 5,
            mops_max: 4,
            read_share: 0.5,
            planted: Planted::None,
            seed,
        }
    }
}

/// Generate a history.
pub fn list_append(shape: &Shape) -> Vec<Txn> {
    assert!(shape.concurrency >= 1 && shape.keys >= 1 && shape.mops_max >= 1);
    let mut rng = ChaCha8Rng::seed_from_u64(shape.seed);
    assert!(shape.appends_per_key_max >= 1);
    let mut lists: Vec<Vec<i64>> = vec![Vec::new(); shape.keys];
    // The key each slot currently stands for.
    let mut slot_keys: Vec<i64> = (0..shape.keys as i64).collect();
    let mut next_key = shape.keys as i64;
    let mut next_element = 1i64;
    let mut txns = Vec::with_capacity(shape.txns);
    // (sort position, is completion, txn)
    let mut events: Vec<(usize, u8, usize)> = Vec::with_capacity(shape.txns * 2);
    for index in 0..shape.txns {
        let count = rng.gen_range(1..=shape.mops_max);
        let mut mops = Vec::with_capacity(count);
        for _ in 0..count {
            let slot = rng.gen_range(0..shape.keys);
            let key = Key::Int(slot_keys[slot]);
            if rng.gen_bool(shape.read_share) {
                mops.push(Mop::Read {
                    key,
                    list: Some(lists[slot].clone()),
                });
            } else {
                lists[slot].push(next_element);
                mops.push(Mop::Append {
                    key,
                    value: next_element,
                });
                next_element += 1;
                if lists[slot].len() >= shape.appends_per_key_max {
                    lists[slot].clear();
                    slot_keys[slot] = next_key;
                    next_key += 1;
                }
            }
        }
        let lag = rng.gen_range(0..shape.concurrency);
        events.push((index * 2, 0, index));
        events.push(((index + lag) * 2 + 1, 1, index));
        txns.push(Txn {
            process: (index % shape.concurrency) as i64,
            invoke_index: 0,
            invoke_time: None,
            complete_index: None,
            complete_time: None,
            outcome: Outcome::Ok,
            mops,
            invoke_position: 0,
            complete_position: None,
        });
    }
    events.sort_unstable();
    for (position, (_, completes, index)) in events.into_iter().enumerate() {
        let txn = &mut txns[index];
        if completes == 1 {
            txn.complete_index = Some(position as i64);
            txn.complete_position = Some(position);
        } else {
            txn.invoke_index = position as i64;
            txn.invoke_position = position;
        }
    }
    if shape.planted == Planted::StaleRead {
        plant_stale_read(&mut txns);
    }
    txns
}

/// Truncate the last read (in invocation order) whose key's last element was
/// appended by a transaction that completed before the reader was invoked.
fn plant_stale_read(txns: &mut [Txn]) {
    let mut last_append: BTreeMap<Key, usize> = BTreeMap::new();
    let mut candidate = None;
    for index in 0..txns.len() {
        for (m, mop) in txns[index].mops.iter().enumerate() {
            match mop {
                Mop::Read {
                    key,
                    list: Some(list),
                } if !list.is_empty() => {
                    if let Some(&writer) = last_append.get(key)
                        && writer != index
                        && txns[writer].complete_position < Some(txns[index].invoke_position)
                    {
                        candidate = Some((index, m));
                    }
                }
                Mop::Append { key, .. } => {
                    last_append.insert(key.clone(), index);
                }
                _ => {}
            }
        }
    }
    if let Some((index, m)) = candidate
        && let Mop::Read {
            list: Some(list), ..
        } = &mut txns[index].mops[m]
    {
        list.pop();
    }
}

/// The history as EDN lines, in event order (what [`super::parse_history`] reads).
pub fn to_edn(txns: &[Txn]) -> String {
    let mut events: Vec<(usize, bool, usize)> = Vec::with_capacity(txns.len() * 2);
    for (index, txn) in txns.iter().enumerate() {
        events.push((txn.invoke_position, false, index));
        if let Some(position) = txn.complete_position {
            events.push((position, true, index));
        }
    }
    events.sort_unstable();
    let mut text = String::new();
    for (position, completes, index) in events {
        let txn = &txns[index];
        let kind = if !completes {
            "invoke"
        } else {
            match txn.outcome {
                Outcome::Ok => "ok",
                Outcome::Fail => "fail",
                Outcome::Info => "info",
            }
        };
        let mops: Vec<String> = txn
            .mops
            .iter()
            .map(|mop| match (mop, completes) {
                (Mop::Read { key, .. }, false) => format!("[:r {key} nil]"),
                _ => mop.to_string(),
            })
            .collect();
        let _ = writeln!(
            text,
            "{{:index {position}, :type :{kind}, :process {}, :f :txn, :value [{}]}}",
            txn.process,
            mops.join(" ")
        );
    }
    text
}
