//! List-append inference. Every element is appended once, so a read names its
//! writers, and the longest read of a key is its version order (every other read
//! must be a prefix of it, else `incompatible-order`). Committed appends that no
//! read shows come after that order, unordered among themselves.
//!
//! From the order: ww from the writer of each element to the writer of the next;
//! wr from the writer of a read's last element to the reader; rw from a reader to
//! the writer of the element after what it saw. On the way: `duplicate-elements`,
//! `garbage-read` (an element nobody appended), `G1a` (a committed read of a
//! failed append), `G1b` (a read ending in a writer's intermediate append),
//! `dirty-update` (a failed append followed by a live one), `lost-update` (two
//! transactions read one version of a key and both append to it), `internal` (a
//! read disagrees with the transaction's own earlier reads and appends) and
//! `future-read` (a read holds the transaction's own later append).
//!
//! Everything is one pass over the transactions plus one per key, with ordered
//! maps: `O(n log n)`.

use super::anomaly::{Found, Inference, Keys, txn_text};
use super::graph::{Edge, RW, WR, WW, Why};
use super::txn::{Mop, Outcome, Txn, list_text};
use std::collections::{BTreeMap, BTreeSet};

/// Infer the dependency edges and the non-cycle anomalies of a list-append history.
pub fn infer(txns: &[Txn]) -> Inference {
    let (keys, key_ids) = Keys::of(txns);
    let key_count = keys.keys.len();
    let key_name = |key: u32| keys.keys[key as usize].to_string();
    let mut found = Vec::new();
    let mut edges = Vec::new();

    // Who appended each element: (key, element) -> (txn, mop).
    let mut appender: BTreeMap<(u32, i64), (u32, u32)> = BTreeMap::new();
    for (t, txn) in txns.iter().enumerate() {
        for (m, mop) in txn.mops.iter().enumerate() {
            if let Mop::Append { value, .. } = mop {
                let key = key_ids[t][m];
                if let Some(&(first, _)) = appender.get(&(key, *value)) {
                    if first as usize != t {
                        found.push(Found::new(
                            "duplicate-appends",
                            format!(
                                "{} and {} both append {value} to {}",
                                txns[first as usize].name(),
                                txn.name(),
                                key_name(key)
                            ),
                        ));
                    }
                    continue;
                }
                appender.insert((key, *value), (t as u32, m as u32));
            }
        }
    }
    let failed = |t: u32| txns[t as usize].outcome == Outcome::Fail;

    let mut reads_by_key: Vec<Vec<(u32, u32)>> = vec![Vec::new(); key_count];
    // (key, version read) -> the committed txns that read it and then appended to it.
    let mut read_then_appended: BTreeMap<(u32, Vec<i64>), Vec<u32>> = BTreeMap::new();
    // (txn, key, list) of external reads: the first read of a key, before any append to it.
    let mut external_reads: Vec<(u32, u32, u32)> = Vec::new();
    for (t, txn) in txns.iter().enumerate() {
        if txn.outcome != Outcome::Ok {
            continue;
        }
        let t = t as u32;
        // What the txn knows of each key: the whole list, or only its own suffix.
        let mut known: BTreeMap<u32, (bool, Vec<i64>)> = BTreeMap::new();
        let mut touched: BTreeSet<u32> = BTreeSet::new();
        for (m, mop) in txn.mops.iter().enumerate() {
            let key = key_ids[t as usize][m];
            match mop {
                Mop::Append { value, .. } => {
                    let entry = known.entry(key).or_insert((false, Vec::new()));
                    entry.1.push(*value);
                    touched.insert(key);
                }
                Mop::Read {
                    list: Some(list), ..
                } => {
                    reads_by_key[key as usize].push((t, m as u32));
                    if !touched.contains(&key) {
                        touched.insert(key);
                        external_reads.push((t, key, m as u32));
                        let appends_later = txn.mops[m + 1..].iter().any(
                            |later| matches!(later, Mop::Append { key: k, .. } if k == mop.key()),
                        );
                        if appends_later {
                            read_then_appended
                                .entry((key, list.clone()))
                                .or_default()
                                .push(t);
                        }
                    }
                    check_read(txn, m, key, list, &known, &key_name, &mut found);
                    known.insert(key, (true, list.clone()));
                    check_dirty_reads(txns, txn, key, list, &appender, &key_name, &mut found);
                }
                _ => {}
            }
        }
    }
    for ((key, list), readers) in &read_then_appended {
        if readers.len() > 1 {
            let names: Vec<String> = readers.iter().map(|t| txns[*t as usize].name()).collect();
            found.push(Found::new(
                "lost-update",
                format!(
                    "{} all read {} of {} and then appended to it",
                    names.join(", "),
                    list_text(list),
                    key_name(*key)
                ),
            ));
        }
    }

    // Version orders.
    let mut orders: Vec<Vec<i64>> = vec![Vec::new(); key_count];
    let mut unobserved: Vec<Vec<(u32, i64)>> = vec![Vec::new(); key_count];
    let read_list = |(t, m): (u32, u32)| -> &Vec<i64> {
        match &txns[t as usize].mops[m as usize] {
            Mop::Read {
                list: Some(list), ..
            } => list,
            _ => unreachable!("only known reads are indexed"),
        }
    };
    for key in 0..key_count as u32 {
        let reads = &reads_by_key[key as usize];
        let mut longest: Option<(u32, u32)> = None;
        for &read in reads {
            if longest.is_none_or(|best| read_list(read).len() > read_list(best).len()) {
                longest = Some(read);
            }
        }
        let raw: Vec<i64> = longest
            .map(|read| read_list(read).clone())
            .unwrap_or_default();
        let order = distinct(&raw);
        let mut garbage: BTreeSet<i64> = BTreeSet::new();
        let mut incompatible: BTreeSet<Vec<i64>> = BTreeSet::new();
        for &read in reads {
            let list = read_list(read);
            let reader = &txns[read.0 as usize];
            if !raw.starts_with(list) && incompatible.insert(list.clone()) {
                let witness = &txns[longest.expect("a read exists").0 as usize];
                found.push(Found::new(
                    "incompatible-order",
                    format!(
                        "{} read {} of {} but {} read {}: neither is a prefix of the other",
                        reader.name(),
                        list_text(list),
                        key_name(key),
                        witness.name(),
                        list_text(&raw)
                    ),
                ));
            }
            let distinct: BTreeSet<i64> = list.iter().copied().collect();
            if distinct.len() != list.len() {
                found.push(Found::new(
                    "duplicate-elements",
                    format!(
                        "{} read {} of {}, which holds an element twice",
                        reader.name(),
                        list_text(list),
                        key_name(key)
                    ),
                ));
            }
            for element in list {
                if !appender.contains_key(&(key, *element)) && garbage.insert(*element) {
                    found.push(Found::new(
                        "garbage-read",
                        format!(
                            "{} read {} of {}, but nobody appended {element}",
                            reader.name(),
                            list_text(list),
                            key_name(key)
                        ),
                    ));
                }
            }
        }
        let in_order: BTreeSet<i64> = order.iter().copied().collect();
        let mut extra: Vec<(u32, u32, i64)> = appender
            .range((key, i64::MIN)..=(key, i64::MAX))
            .filter(|((_, element), (t, _))| {
                !in_order.contains(element) && txns[*t as usize].outcome == Outcome::Ok
            })
            .map(|((_, element), (t, m))| (*t, *m, *element))
            .collect();
        extra.sort_unstable();
        unobserved[key as usize] = extra.iter().map(|(t, _, element)| (*t, *element)).collect();
        // ww along the order, then from the last element to every unobserved append.
        let writer = |element: i64| appender.get(&(key, element)).map(|(t, _)| *t);
        for pair in order.windows(2) {
            let (Some(before), Some(after)) = (writer(pair[0]), writer(pair[1])) else {
                continue;
            };
            if failed(before) && !failed(after) {
                found.push(Found::new(
                    "dirty-update",
                    format!(
                        "{} appended {} to {} after failed {} appended {}",
                        txns[after as usize].name(),
                        pair[1],
                        key_name(key),
                        txns[before as usize].name(),
                        pair[0]
                    ),
                ));
            }
            if !failed(before) && !failed(after) {
                edges.push(Edge {
                    from: before,
                    to: after,
                    kind: WW,
                    why: Why::Appended {
                        key,
                        before: pair[0],
                        after: pair[1],
                    },
                });
            }
        }
        if let Some(&last) = order.last()
            && let Some(before) = writer(last)
            && !failed(before)
        {
            for &(after, element) in &unobserved[key as usize] {
                edges.push(Edge {
                    from: before,
                    to: after,
                    kind: WW,
                    why: Why::Appended {
                        key,
                        before: last,
                        after: element,
                    },
                });
            }
        }
        orders[key as usize] = order;
    }

    // wr and rw from external reads.
    for &(t, key, m) in &external_reads {
        let list = &distinct(read_list((t, m)));
        let order = &orders[key as usize];
        if let Some(&last) = list.last()
            && let Some(&(writer, _)) = appender.get(&(key, last))
            && !failed(writer)
        {
            edges.push(Edge {
                from: writer,
                to: t,
                kind: WR,
                why: Why::ObservedAppend { key, element: last },
            });
        }
        if !order.starts_with(list) {
            continue;
        }
        let read = list.last().copied();
        if list.len() < order.len() {
            let next = order[list.len()];
            if let Some(&(writer, _)) = appender.get(&(key, next))
                && !failed(writer)
            {
                edges.push(Edge {
                    from: t,
                    to: writer,
                    kind: RW,
                    why: Why::MissedAppend {
                        key,
                        read,
                        element: next,
                    },
                });
            }
        } else {
            for &(writer, element) in &unobserved[key as usize] {
                edges.push(Edge {
                    from: t,
                    to: writer,
                    kind: RW,
                    why: Why::MissedAppend { key, read, element },
                });
            }
        }
    }
    Inference {
        keys: keys.keys,
        edges,
        found,
    }
}

/// The list without repeated elements (first occurrences kept): a read that
/// repeats an element is `duplicate-elements`, and orders nothing twice.
fn distinct(list: &[i64]) -> Vec<i64> {
    let mut seen = BTreeSet::new();
    list.iter()
        .copied()
        .filter(|element| seen.insert(*element))
        .collect()
}

/// `internal` and `future-read` for the read at `m` of `txn`.
fn check_read(
    txn: &Txn,
    m: usize,
    key: u32,
    list: &[i64],
    known: &BTreeMap<u32, (bool, Vec<i64>)>,
    key_name: &dyn Fn(u32) -> String,
    found: &mut Vec<Found>,
) {
    let key_value = txn.mops[m].key();
    let later: Vec<i64> = txn.mops[m + 1..]
        .iter()
        .filter_map(|mop| match mop {
            Mop::Append { key, value } if key == key_value => Some(*value),
            _ => None,
        })
        .collect();
    if let Some(element) = list.iter().find(|element| later.contains(element)) {
        found.push(Found::new(
            "future-read",
            format!(
                "{} read {} of {}, holding {element}, which it appends only later",
                txn_text(txn),
                list_text(list),
                key_name(key)
            ),
        ));
        return;
    }
    let Some((whole, expected)) = known.get(&key) else {
        return;
    };
    let agrees = if *whole {
        list == expected.as_slice()
    } else {
        list.ends_with(expected)
    };
    if !agrees {
        let expected_text = if *whole {
            list_text(expected)
        } else {
            let inner = list_text(expected);
            format!("[... {}", &inner[1..])
        };
        found.push(Found::new(
            "internal",
            format!(
                "{} read {} of {}, but its own earlier reads and appends say {expected_text}",
                txn_text(txn),
                list_text(list),
                key_name(key)
            ),
        ));
    }
}

/// `G1a` and `G1b` for one committed read.
fn check_dirty_reads(
    txns: &[Txn],
    reader: &Txn,
    key: u32,
    list: &[i64],
    appender: &BTreeMap<(u32, i64), (u32, u32)>,
    key_name: &dyn Fn(u32) -> String,
    found: &mut Vec<Found>,
) {
    let aborted: Vec<String> = list
        .iter()
        .filter_map(|element| {
            let (writer, _) = appender.get(&(key, *element))?;
            let writer = &txns[*writer as usize];
            (writer.outcome == Outcome::Fail).then(|| format!("{element} from {}", writer.name()))
        })
        .collect();
    if !aborted.is_empty() {
        found.push(Found::new(
            "G1a",
            format!(
                "{} read {} of {}, which holds failed appends: {}",
                reader.name(),
                list_text(list),
                key_name(key),
                aborted.join(", ")
            ),
        ));
    }
    let Some(&last) = list.last() else { return };
    let Some(&(writer, mop)) = appender.get(&(key, last)) else {
        return;
    };
    let writer = &txns[writer as usize];
    if std::ptr::eq(writer, reader) || writer.outcome == Outcome::Fail {
        return;
    }
    let key_value = writer.mops[mop as usize].key();
    let overwritten = writer.mops[mop as usize + 1..]
        .iter()
        .find_map(|later| match later {
            Mop::Append { key, value } if key == key_value => Some(*value),
            _ => None,
        });
    if let Some(next) = overwritten {
        found.push(Found::new(
            "G1b",
            format!(
                "{} read {} of {}, ending in {last}, an intermediate append of {} (which appends {next} next)",
                reader.name(),
                list_text(list),
                key_name(key),
                writer.name()
            ),
        ));
    }
}
