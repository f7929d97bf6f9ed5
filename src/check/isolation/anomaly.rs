//! What inference produces: the interned keys, the data-dependency edges, and the
//! anomalies found on the way (each with a sentence a reader can check against
//! the history). Shared by the list-append and rw-register inferences.

use super::graph::Edge;
use super::txn::{Key, Mop, Txn};
use std::collections::BTreeMap;

/// One anomaly instance: its Elle name and what it is, in words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    /// The anomaly name (`G1a`, `internal`, ...).
    pub name: String,
    /// What happened.
    pub text: String,
}

impl Found {
    /// An anomaly named `name`.
    pub fn new(name: &str, text: String) -> Self {
        Found {
            name: name.to_string(),
            text,
        }
    }
}

/// The result of inferring dependencies from a history.
#[derive(Clone, Debug, Default)]
pub struct Inference {
    /// Keys by id.
    pub keys: Vec<Key>,
    /// Data edges (ww, wr, rw).
    pub edges: Vec<Edge>,
    /// Anomalies found without cycle search.
    pub found: Vec<Found>,
}

/// Keys interned to dense ids, in first-seen order.
pub struct Keys {
    ids: BTreeMap<Key, u32>,
    /// Keys by id.
    pub keys: Vec<Key>,
}

impl Keys {
    /// Intern every key of every transaction; returns the ids per mop.
    pub fn of(txns: &[Txn]) -> (Keys, Vec<Vec<u32>>) {
        let mut keys = Keys {
            ids: BTreeMap::new(),
            keys: Vec::new(),
        };
        let ids = txns
            .iter()
            .map(|txn| txn.mops.iter().map(|mop| keys.id(mop.key())).collect())
            .collect();
        (keys, ids)
    }

    fn id(&mut self, key: &Key) -> u32 {
        if let Some(id) = self.ids.get(key) {
            return *id;
        }
        let id = self.keys.len() as u32;
        self.ids.insert(key.clone(), id);
        self.keys.push(key.clone());
        id
    }
}

/// `T3 [[:append :x 1] [:r :y [1]]]`, for anomaly texts.
pub fn txn_text(txn: &Txn) -> String {
    let mops: Vec<String> = txn.mops.iter().map(Mop::to_string).collect();
    format!("{} [{}]", txn.name(), mops.join(" "))
}
