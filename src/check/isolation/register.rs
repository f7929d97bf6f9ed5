//! Read-write register inference. Written values are unique per key, so a read
//! names its writer (wr). The version order is not visible in a register, so it
//! is assembled per key from what is known: the initial `nil` precedes every
//! version; optionally a transaction's read precedes its own write
//! (writes-follow-reads), and real-time or process order between transactions
//! touching the key orders their versions (linearizable / sequential keys), or
//! an explicit commit order. A cyclic version order is `cyclic-versions`, and
//! that key then gives no ww/rw edges; otherwise each version edge `a → b`
//! gives ww from `a`'s writer to `b`'s and rw from each reader of `a` to `b`'s
//! writer. Also found: `internal`, `G1a`, `G1b`, `lost-update`.

use super::anomaly::{Found, Inference, Keys, txn_text};
use super::graph::{Edge, RW, WR, WW, Why, tarjan};
use super::order::{process_pairs, realtime_pairs};
use super::txn::{Mop, Outcome, Txn, version_text};
use std::collections::{BTreeMap, BTreeSet};

/// Which extra sources of version order to use.
#[derive(Clone, Debug, Default)]
pub struct VersionSources<'a> {
    /// Real-time order orders each key's versions.
    pub linearizable_keys: bool,
    /// Process order orders each key's versions.
    pub sequential_keys: bool,
    /// A transaction's read of a key precedes its write of it.
    pub wfr_keys: bool,
    /// Commit order: completion `:index` → position.
    pub transaction_order: Option<&'a BTreeMap<i64, i64>>,
}

type Version = Option<i64>;

/// Infer the dependency edges and the non-cycle anomalies of an rw-register history.
pub fn infer(txns: &[Txn], sources: &VersionSources<'_>) -> Inference {
    let (keys, key_ids) = Keys::of(txns);
    let key_count = keys.keys.len();
    let key_name = |key: u32| keys.keys[key as usize].to_string();
    let mut found = Vec::new();
    let mut edges = Vec::new();

    // Per transaction: external reads and final writes, by key.
    let mut external_read: Vec<BTreeMap<u32, Version>> = vec![BTreeMap::new(); txns.len()];
    let mut final_write: Vec<BTreeMap<u32, i64>> = vec![BTreeMap::new(); txns.len()];
    // (key, value) -> (writer, whether it is the writer's final write of the key).
    let mut writer: BTreeMap<(u32, i64), (u32, bool)> = BTreeMap::new();
    let mut touching: Vec<Vec<u32>> = vec![Vec::new(); key_count];
    for (t, txn) in txns.iter().enumerate() {
        let mut state: BTreeMap<u32, Version> = BTreeMap::new();
        let mut written: BTreeSet<u32> = BTreeSet::new();
        for (m, mop) in txn.mops.iter().enumerate() {
            let key = key_ids[t][m];
            if touching[key as usize].last() != Some(&(t as u32)) {
                touching[key as usize].push(t as u32);
            }
            match mop {
                Mop::Write { value, .. } => {
                    writer.insert((key, *value), (t as u32, false));
                    final_write[t].insert(key, *value);
                    state.insert(key, Some(*value));
                    written.insert(key);
                }
                Mop::ReadRegister { value, .. } if txn.outcome == Outcome::Ok => {
                    if let Some(expected) = state.get(&key)
                        && expected != value
                    {
                        found.push(Found::new(
                            "internal",
                            format!(
                                "{} read {} = {}, but its own earlier reads and writes say {}",
                                txn_text(txn),
                                key_name(key),
                                version_text(*value),
                                version_text(*expected)
                            ),
                        ));
                    }
                    if !written.contains(&key) && !external_read[t].contains_key(&key) {
                        external_read[t].insert(key, *value);
                    }
                    state.insert(key, *value);
                }
                _ => {}
            }
        }
        for (key, value) in &final_write[t] {
            writer.insert((*key, *value), (t as u32, true));
        }
    }
    let live = |t: u32| txns[t as usize].outcome != Outcome::Fail;

    // wr, G1a, G1b, lost-update from external reads.
    let mut readers: BTreeMap<(u32, Version), Vec<u32>> = BTreeMap::new();
    let mut read_then_wrote: BTreeMap<(u32, Version), Vec<u32>> = BTreeMap::new();
    for (t, reads) in external_read.iter().enumerate() {
        let reader = &txns[t];
        for (&key, &value) in reads {
            readers.entry((key, value)).or_default().push(t as u32);
            if final_write[t].contains_key(&key) {
                read_then_wrote
                    .entry((key, value))
                    .or_default()
                    .push(t as u32);
            }
            let Some(value) = value else { continue };
            let Some(&(w, is_final)) = writer.get(&(key, value)) else {
                continue;
            };
            if w as usize == t {
                continue;
            }
            let source = &txns[w as usize];
            if source.outcome == Outcome::Fail {
                found.push(Found::new(
                    "G1a",
                    format!(
                        "{} read {} = {value}, written by failed {}",
                        reader.name(),
                        key_name(key),
                        source.name()
                    ),
                ));
            } else if !is_final {
                found.push(Found::new(
                    "G1b",
                    format!(
                        "{} read {} = {value}, an intermediate write of {} (which later wrote {})",
                        reader.name(),
                        key_name(key),
                        source.name(),
                        final_write[w as usize][&key]
                    ),
                ));
            } else {
                edges.push(Edge {
                    from: w,
                    to: t as u32,
                    kind: WR,
                    why: Why::ObservedWrite { key, value },
                });
            }
        }
    }
    for ((key, value), group) in &read_then_wrote {
        if group.len() > 1 {
            let names: Vec<String> = group.iter().map(|t| txns[*t as usize].name()).collect();
            found.push(Found::new(
                "lost-update",
                format!(
                    "{} all read {} = {} and then wrote it",
                    names.join(", "),
                    key_name(*key),
                    version_text(*value)
                ),
            ));
        }
    }

    // Version graphs per key.
    let mut versions: Vec<BTreeSet<(Version, Version)>> = vec![BTreeSet::new(); key_count];
    let first_version = |t: u32, key: u32| -> Option<Version> {
        external_read[t as usize]
            .get(&key)
            .copied()
            .or_else(|| final_write[t as usize].get(&key).map(|v| Some(*v)))
    };
    let last_version = |t: u32, key: u32| -> Option<Version> {
        final_write[t as usize]
            .get(&key)
            .map(|v| Some(*v))
            .or_else(|| external_read[t as usize].get(&key).copied())
    };
    if sources.wfr_keys {
        for t in 0..txns.len() {
            for (key, read) in &external_read[t] {
                if let Some(write) = final_write[t].get(key) {
                    versions[*key as usize].insert((*read, Some(*write)));
                }
            }
        }
    }
    for key in 0..key_count as u32 {
        let members = &touching[key as usize];
        let mut pairs = Vec::new();
        if sources.linearizable_keys {
            pairs.extend(realtime_pairs(txns, members));
        }
        if sources.sequential_keys {
            pairs.extend(process_pairs(txns, members));
        }
        for (a, b) in pairs {
            if let (Some(before), Some(after)) = (last_version(a, key), first_version(b, key)) {
                versions[key as usize].insert((before, after));
            }
        }
    }
    if let Some(order) = sources.transaction_order {
        let mut committed: Vec<(i64, u32)> = txns
            .iter()
            .enumerate()
            .filter(|(_, txn)| txn.outcome == Outcome::Ok)
            .filter_map(|(t, txn)| {
                let position = order.get(&txn.complete_index?)?;
                Some((*position, t as u32))
            })
            .collect();
        committed.sort_unstable();
        let mut last: BTreeMap<u32, i64> = BTreeMap::new();
        for (_, t) in committed {
            for (key, value) in &final_write[t as usize] {
                if let Some(previous) = last.insert(*key, *value) {
                    versions[*key as usize].insert((Some(previous), Some(*value)));
                }
            }
        }
    }
    // The initial state precedes every version nothing else precedes.
    for key in 0..key_count as u32 {
        let graph = &mut versions[key as usize];
        graph.retain(|(a, b)| a != b);
        let mut known: BTreeSet<i64> = BTreeSet::new();
        for ((k, value), (w, is_final)) in writer.range((key, i64::MIN)..=(key, i64::MAX)) {
            if *k == key && *is_final && live(*w) {
                known.insert(*value);
            }
        }
        for ((_, value), _) in readers.range((key, None)..=(key, Some(i64::MAX))) {
            if let Some(value) = value {
                known.insert(*value);
            }
        }
        let preceded: BTreeSet<i64> = graph.iter().filter_map(|(_, b)| *b).collect();
        for value in known {
            if !preceded.contains(&value) {
                graph.insert((None, Some(value)));
            }
        }
    }

    for key in 0..key_count as u32 {
        let graph = &versions[key as usize];
        let mut ids: BTreeMap<Version, u32> = BTreeMap::new();
        for (a, b) in graph {
            let next = ids.len() as u32;
            ids.entry(*a).or_insert(next);
            let next = ids.len() as u32;
            ids.entry(*b).or_insert(next);
        }
        let by_id: Vec<Version> = {
            let mut by_id = vec![None; ids.len()];
            for (version, id) in &ids {
                by_id[*id as usize] = *version;
            }
            by_id
        };
        let adjacency: Vec<Vec<u32>> = {
            let mut adjacency = vec![Vec::new(); ids.len()];
            for (a, b) in graph {
                adjacency[ids[a] as usize].push(ids[b]);
            }
            adjacency
        };
        let cycles = tarjan(ids.len(), &|node, out: &mut Vec<u32>| {
            out.extend_from_slice(&adjacency[node as usize]);
        });
        if !cycles.is_empty() {
            for cycle in cycles {
                let mut members: Vec<Version> =
                    cycle.iter().map(|id| by_id[*id as usize]).collect();
                members.sort();
                let names: Vec<String> = members.into_iter().map(version_text).collect();
                found.push(Found::new(
                    "cyclic-versions",
                    format!(
                        "the version order of {} is cyclic: {{{}}}",
                        key_name(key),
                        names.join(" ")
                    ),
                ));
            }
            continue;
        }
        let final_writer = |value: i64| -> Option<u32> {
            let (w, is_final) = writer.get(&(key, value))?;
            (*is_final && live(*w)).then_some(*w)
        };
        for (a, b) in graph {
            let Some(b) = *b else { continue };
            let Some(after) = final_writer(b) else {
                continue;
            };
            if let Some(a) = *a
                && let Some(before) = final_writer(a)
            {
                edges.push(Edge {
                    from: before,
                    to: after,
                    kind: WW,
                    why: Why::Overwrote {
                        key,
                        before: a,
                        after: b,
                    },
                });
            }
            for &reader in readers.get(&(key, *a)).map_or(&[][..], Vec::as_slice) {
                edges.push(Edge {
                    from: reader,
                    to: after,
                    kind: RW,
                    why: Why::MissedWrite {
                        key,
                        read: *a,
                        value: b,
                    },
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
