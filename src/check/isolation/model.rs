//! The consistency-model lattice and the anomaly implication graph, after Elle's
//! `elle.consistency-model` (which follows Adya, Bailis et al., Cerone et al.,
//! Daudjee and Salem): which anomalies imply which, which models imply which,
//! and which anomalies each model proscribes directly. From these come the
//! anomalies a set of models prohibits ([`prohibited_by`]) and, from anomalies
//! found, the weakest models they rule out and every stronger one ([`boundary`]).
//!
//! Models are held by canonical name (Adya's `PL-2` for read committed, ...);
//! [`canonical`] and [`friendly`] translate. The graphs are small constant
//! tables, searched by breadth-first walks; sets are `BTreeSet`s so every result
//! comes out sorted.

use std::collections::BTreeSet;

/// `a` implies each of `b` (if a history has `a`, it also has `b`).
const IMPLIED_ANOMALIES: &[(&str, &[&str])] = &[
    ("G0", &["G1c", "G0-process"]),
    ("G0-process", &["G1c-process", "G0-realtime"]),
    ("G0-realtime", &["G1c-realtime"]),
    ("G1a", &["G1"]),
    ("G1b", &["G1"]),
    ("G1c", &["G1", "G1c-process"]),
    ("G1c-process", &["G1c-realtime", "G1-process"]),
    ("G1c-realtime", &["G1-realtime"]),
    ("G1", &["G1-process"]),
    ("G1-process", &["G1-realtime"]),
    (
        "G-single-item",
        &["G-single", "G-single-item-process", "G-nonadjacent-item"],
    ),
    (
        "G-single-item-process",
        &[
            "G-single-process",
            "G-single-item-realtime",
            "G-nonadjacent-item-process",
        ],
    ),
    (
        "G-single-item-realtime",
        &["G-single-realtime", "G-nonadjacent-item-realtime"],
    ),
    ("G-single", &["G-nonadjacent", "GSIb", "G-single-process"]),
    (
        "G-single-process",
        &["G-nonadjacent-process", "G-single-realtime"],
    ),
    ("G-single-realtime", &["G-nonadjacent-realtime"]),
    (
        "G-nonadjacent-item",
        &["G-nonadjacent", "G2-item", "G-nonadjacent-item-process"],
    ),
    (
        "G-nonadjacent-item-process",
        &[
            "G-nonadjacent-process",
            "G2-item-process",
            "G-nonadjacent-item-realtime",
        ],
    ),
    (
        "G-nonadjacent-item-realtime",
        &["G2-item-realtime", "G-nonadjacent-realtime"],
    ),
    ("G-nonadjacent", &["G2", "G-nonadjacent-process"]),
    (
        "G-nonadjacent-process",
        &["G2-process", "G-nonadjacent-realtime"],
    ),
    ("G-nonadjacent-realtime", &["G2-realtime"]),
    ("G2", &["G2-process"]),
    ("G2-item", &["G2", "G2-item-process"]),
    ("G2-item-process", &["G2-process", "G2-item-realtime"]),
    ("G2-item-realtime", &["G2-realtime"]),
    ("G2-process", &["G2-realtime"]),
    ("GSIa", &["GSI"]),
    ("GSIb", &["GSI"]),
    ("incompatible-order", &["G1a"]),
    ("future-read", &["G1c"]),
    ("dirty-update", &["G1a"]),
    ("lost-update", &["write-skew", "G2-item"]),
    ("write-skew", &["G2"]),
];

/// Model `a` implies each of `b` (a history satisfying `a` satisfies `b`); canonical names.
const MODELS: &[(&str, &[&str])] = &[
    ("causal-cerone", &["read-atomic"]),
    ("PL-2+", &["PL-CS", "PL-2L"]),
    ("PL-3", &["view-serializable", "PL-2.99", "PL-3U"]),
    ("PL-CS", &["read-committed", "PL-2"]),
    ("PL-FCV", &["PL-2+"]),
    ("PL-2", &["PL-1"]),
    ("PL-3U", &["PL-FCV"]),
    ("monotonic-atomic-view", &["read-committed"]),
    ("PL-2L", &["PL-2"]),
    ("PL-MSR", &["PL-2"]),
    (
        "parallel-snapshot-isolation",
        &["causal-cerone", "update-atomic"],
    ),
    ("prefix", &["causal-cerone"]),
    ("read-atomic", &["monotonic-atomic-view"]),
    ("read-committed", &["PL-1"]),
    ("PL-2.99", &["PL-CS", "monotonic-atomic-view"]),
    ("update-atomic", &["read-atomic"]),
    ("serializable", &["PL-2.99", "PL-SI", "view-serializable"]),
    ("session-serializable", &["1SR"]),
    (
        "PL-SI",
        &[
            "PL-FCV",
            "monotonic-atomic-view",
            "PL-MSR",
            "parallel-snapshot-isolation",
            "prefix",
        ],
    ),
    (
        "PL-SS",
        &[
            "PL-3",
            "serializable",
            "linearizable",
            "PL-SI",
            "strong-snapshot-isolation",
            "strong-session-serializable",
            "session-serializable",
        ],
    ),
    ("strong-session-PL-1", &["PL-1"]),
    ("strong-session-PL-2", &["PL-2", "strong-session-PL-1"]),
    ("strong-PL-1", &["strong-session-PL-1"]),
    ("strong-PL-2", &["strong-session-PL-2", "strong-PL-1"]),
    (
        "strong-session-serializable",
        &["serializable", "strong-session-snapshot-isolation"],
    ),
    (
        "strong-session-snapshot-isolation",
        &["PL-SI", "strong-session-PL-2"],
    ),
    (
        "strong-snapshot-isolation",
        &["strong-session-snapshot-isolation", "strong-PL-2"],
    ),
    ("linearizable", &["sequential"]),
    ("sequential", &["causal"]),
    ("causal", &["writes-follow-reads", "PRAM"]),
    (
        "PRAM",
        &["monotonic-reads", "monotonic-writes", "read-your-writes"],
    ),
];

/// The anomalies each model proscribes directly (on top of the models it implies).
const PROSCRIBED: &[(&str, &[&str])] = &[
    ("causal-cerone", &["internal", "G1a"]),
    ("PL-CS", &["G1", "G-cursor", "lost-update"]),
    ("PL-2L", &["G1", "G-monotonic"]),
    ("PL-MSR", &["G1", "G-MSR"]),
    ("PL-2+", &["G1", "G-single"]),
    ("PL-FCV", &["G1", "G-SIb"]),
    ("parallel-snapshot-isolation", &["internal", "G1a"]),
    (
        "PL-3",
        &["G1", "G2", "predicate-read-miss", "PL-3-cycle-exists"],
    ),
    ("PL-2", &["G1", "PL-2-cycle-exists"]),
    (
        "PL-1",
        &[
            "G0",
            "duplicate-elements",
            "cyclic-versions",
            "garbage-read",
            "PL-1-cycle-exists",
        ],
    ),
    ("prefix", &["internal", "G1a"]),
    ("serializable", &["internal"]),
    (
        "PL-SI",
        &[
            "internal",
            "G1",
            "G-SI",
            "G-nonadjacent",
            "PL-SI-cycle-exists",
        ],
    ),
    ("read-atomic", &["internal", "G1a", "future-read"]),
    (
        "PL-2.99",
        &["G1", "G2-item", "PL-2.99-cycle-exists", "lost-update"],
    ),
    ("update-atomic", &["lost-update"]),
    (
        "PL-SS",
        &["G1", "G1c-realtime", "G2-realtime", "PL-SS-cycle-exists"],
    ),
    (
        "strong-session-PL-1",
        &["strong-session-PL-1-cycle-exists", "G0-process"],
    ),
    (
        "strong-session-PL-2",
        &["strong-session-PL-2-cycle-exists", "G1c-process"],
    ),
    ("strong-PL-1", &["strong-PL-1-cycle-exists", "G0-realtime"]),
    ("strong-PL-2", &["strong-PL-2-cycle-exists", "G1c-realtime"]),
    (
        "strong-session-snapshot-isolation",
        &[
            "internal",
            "G1-process",
            "G-nonadjacent-process",
            "strong-session-snapshot-isolation-cycle-exists",
        ],
    ),
    (
        "strong-snapshot-isolation",
        &[
            "internal",
            "G1-realtime",
            "G-nonadjacent-realtime",
            "strong-snapshot-isolation-cycle-exists",
        ],
    ),
    (
        "strong-session-serializable",
        &[
            "G1-process",
            "G2-process",
            "strong-session-serializable-cycle-exists",
        ],
    ),
    ("PL-3U", &["G1", "G-update"]),
];

/// Friendly names and their canonical ones.
const ALIASES: &[(&str, &str)] = &[
    ("consistent-view", "PL-2+"),
    ("conflict-serializable", "PL-3"),
    ("cursor-stability", "PL-CS"),
    ("forward-consistent-view", "PL-FCV"),
    ("monotonic-snapshot-read", "PL-MSR"),
    ("monotonic-view", "PL-2L"),
    ("read-committed", "PL-2"),
    ("read-uncommitted", "PL-1"),
    ("repeatable-read", "PL-2.99"),
    ("serializable", "PL-3"),
    ("snapshot-isolation", "PL-SI"),
    ("strict-serializable", "PL-SS"),
    ("strong-serializable", "PL-SS"),
    ("update-serializable", "PL-3U"),
    ("strong-session-read-uncommitted", "strong-session-PL-1"),
    ("strong-session-read-committed", "strong-session-PL-2"),
    ("strong-read-uncommitted", "strong-PL-1"),
    ("strong-read-committed", "strong-PL-2"),
];

/// Anomalies that make a result unknown rather than invalid.
pub const UNKNOWN_ANOMALIES: [&str; 2] = ["empty-transaction-graph", "cycle-search-timeout"];

/// The canonical name of a model (`read-committed` → `PL-2`).
pub fn canonical(model: &str) -> &str {
    ALIASES
        .iter()
        .find(|(alias, _)| *alias == model)
        .map_or(model, |(_, canonical)| canonical)
}

/// The friendly name of a canonical model (`PL-2` → `read-committed`;
/// `PL-3` → `serializable`, `PL-SS` → `strong-serializable`, as Elle prints them).
pub fn friendly(model: &str) -> &str {
    match model {
        "PL-3" => "serializable",
        "PL-SS" => "strong-serializable",
        _ => ALIASES
            .iter()
            .find(|(_, canonical)| *canonical == model)
            .map_or(model, |(alias, _)| alias),
    }
}

fn all_models() -> BTreeSet<&'static str> {
    let mut models: BTreeSet<&'static str> = BTreeSet::new();
    for (model, weaker) in MODELS {
        models.insert(model);
        models.extend(weaker.iter().copied());
    }
    for (alias, canonical) in ALIASES {
        models.insert(alias);
        models.insert(canonical);
    }
    models
}

/// Whether a model name (friendly or canonical) is known.
pub fn is_model(name: &str) -> bool {
    all_models().contains(name)
}

/// Every model name, friendly where there is one.
pub fn model_names() -> Vec<&'static str> {
    all_models().into_iter().collect()
}

/// Every anomaly name the lattice knows.
pub fn anomaly_names() -> BTreeSet<&'static str> {
    let mut names: BTreeSet<&'static str> = BTreeSet::new();
    for (anomaly, implied) in IMPLIED_ANOMALIES {
        names.insert(anomaly);
        names.extend(implied.iter().copied());
    }
    for (_, anomalies) in PROSCRIBED {
        names.extend(anomalies.iter().copied());
    }
    names.extend(UNKNOWN_ANOMALIES);
    names.extend(["internal", "incompatible-order", "future-read"]);
    names
}

/// Breadth-first closure of `start` over a table, forward (`a` → its list) or backward.
/// Model names are canonicalised on the way (the model table mixes both forms,
/// as Elle's does before it canonicalises its vertices).
fn closure(table: &[(&str, &[&str])], start: &[String], forward: bool) -> BTreeSet<String> {
    let mut seen: BTreeSet<String> = start.iter().cloned().collect();
    let mut queue: Vec<String> = start.to_vec();
    while let Some(item) = queue.pop() {
        for (from, tos) in table {
            let (from, item) = (canonical(from), canonical(&item));
            let next: Vec<&str> = if forward {
                if from == item {
                    tos.iter().map(|to| canonical(to)).collect()
                } else {
                    Vec::new()
                }
            } else if tos.iter().any(|to| canonical(to) == item) {
                vec![from]
            } else {
                Vec::new()
            };
            for name in next {
                if seen.insert(name.to_string()) {
                    queue.push(name.to_string());
                }
            }
        }
    }
    seen
}

fn canonical_all(models: &[String]) -> Vec<String> {
    models
        .iter()
        .map(|model| canonical(model).to_string())
        .collect()
}

/// Every anomaly that implies one of `anomalies` (themselves included).
pub fn anomalies_implying(anomalies: &[String]) -> BTreeSet<String> {
    closure(IMPLIED_ANOMALIES, anomalies, false)
}

/// The anomalies that cannot occur if all of `models` hold.
pub fn prohibited_by(models: &[String]) -> BTreeSet<String> {
    let implied = closure(MODELS, &canonical_all(models), true);
    let mut direct: Vec<String> = Vec::new();
    for (model, anomalies) in PROSCRIBED {
        if implied.contains(canonical(model)) {
            direct.extend(anomalies.iter().map(|anomaly| anomaly.to_string()));
        }
    }
    anomalies_implying(&direct)
}

/// The canonical models that cannot hold, given `anomalies` occurred.
pub fn impossible_models(anomalies: &[String]) -> BTreeSet<String> {
    let implied = closure(IMPLIED_ANOMALIES, anomalies, true);
    let mut direct: Vec<String> = Vec::new();
    for (model, proscribed) in PROSCRIBED {
        if proscribed.iter().any(|anomaly| implied.contains(*anomaly)) {
            direct.push(canonical(model).to_string());
        }
    }
    closure(MODELS, &direct, false)
}

/// Of `models` (canonical), those that no other one of them is weaker than.
pub fn weakest(models: &BTreeSet<String>) -> BTreeSet<String> {
    models
        .iter()
        .filter(|model| {
            let weaker = closure(MODELS, &[model.to_string()], true);
            !weaker
                .iter()
                .any(|other| other != *model && models.contains(other))
        })
        .cloned()
        .collect()
}

/// `(not, also_not)`: the weakest models the anomalies rule out, and every
/// other model they rule out, by friendly name, sorted.
pub fn boundary(anomalies: &[String]) -> (Vec<String>, Vec<String>) {
    let impossible = impossible_models(anomalies);
    let is_not = weakest(&impossible);
    let mut not: Vec<String> = is_not
        .iter()
        .map(|model| friendly(model).to_string())
        .collect();
    let mut also_not: Vec<String> = impossible
        .iter()
        .filter(|model| !is_not.contains(*model))
        .map(|model| friendly(model).to_string())
        .collect();
    not.sort();
    not.dedup();
    also_not.sort();
    also_not.dedup();
    (not, also_not)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(items: &[&str]) -> Vec<String> {
        items.iter().map(|item| item.to_string()).collect()
    }

    #[test]
    fn a_write_cycle_rules_out_read_uncommitted_first() {
        let (not, also_not) = boundary(&names(&["G0"]));
        assert_eq!(not, ["read-uncommitted"]);
        assert!(also_not.contains(&"serializable".to_string()));
    }

    #[test]
    fn g_single_rules_out_consistent_view_and_repeatable_read() {
        let (not, _) = boundary(&names(&["G-single-item"]));
        assert_eq!(not, ["consistent-view", "repeatable-read"]);
    }

    #[test]
    fn read_committed_prohibits_g1_but_not_g2() {
        let prohibited = prohibited_by(&names(&["read-committed"]));
        assert!(prohibited.contains("G1c") && prohibited.contains("G0"));
        assert!(!prohibited.contains("G2-item"));
    }
}
