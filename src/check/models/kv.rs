//! `kv`: a map of independent registers with `get`, `put`, `append` and `cas` per
//! key.
//!
//! Each key behaves like [`super::register`] (`get` reads `nil` when absent, `put`
//! writes, `cas [from to]` swaps when the value is `from`); `append s` concatenates
//! the string `s` to a string value (an absent value counts as `""`; appending to a
//! number is refused). Keys are independent,
//! so the model partitions the history per key; unpartitioned, the state is the
//! whole map (a sorted vector of key/value pairs).

use super::not_contained;
use super::register::cas_pair;
use crate::check::history::Operation;
use crate::check::linearizable::PartOperation;
use crate::check::model::{Access, Model, Step, partition_by_key};
use crate::sim::history::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// The key/value model.
#[derive(Clone, Copy, Debug, Default)]
pub struct Kv;

/// The map: (key, value) pairs sorted by key; absent keys are not stored.
pub type KvState = Vec<(Arc<str>, Value)>;

/// A kv operation on one key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KvInput {
    /// The key.
    pub key: Arc<str>,
    /// What to do with it.
    pub action: KvAction,
}

/// What a kv operation does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KvAction {
    /// Read the value.
    Get,
    /// Overwrite the value.
    Put(Value),
    /// Set to `.1` if the value is `.0`.
    Cas(Value, Value),
    /// Concatenate to the string value.
    Append(String),
}

/// The key of an operation, which multi-key models require.
pub(crate) fn required_key(operation: &Operation) -> Result<Arc<str>, String> {
    operation
        .key
        .as_deref()
        .map(Arc::from)
        .ok_or_else(|| format!("expected a key for {}", operation.f))
}

fn with_value(state: &KvState, key: &Arc<str>, value: &Value) -> KvState {
    let mut next = state.clone();
    match next.binary_search_by(|(k, _)| k.as_ref().cmp(key.as_ref())) {
        Ok(position) if *value == Value::Nil => {
            next.remove(position);
        }
        Ok(position) => next[position].1 = value.clone(),
        Err(_) if *value == Value::Nil => {}
        Err(position) => next.insert(position, (key.clone(), value.clone())),
    }
    next
}

fn value_of<'a>(state: &'a KvState, key: &str) -> &'a Value {
    match state.binary_search_by(|(k, _)| k.as_ref().cmp(key)) {
        Ok(position) => &state[position].1,
        Err(_) => &Value::Nil,
    }
}

impl Model for Kv {
    type State = KvState;
    type Input = KvInput;
    type Output = Value;

    fn name(&self) -> &'static str {
        "kv"
    }

    fn init(&self) -> KvState {
        Vec::new()
    }

    fn convert(&self, operation: &Operation) -> Result<(KvInput, Option<Value>), String> {
        let key = required_key(operation)?;
        let action = match operation.f.as_str() {
            "get" | "read" => KvAction::Get,
            "put" | "write" => KvAction::Put(operation.argument.clone()),
            "cas" => {
                let (from, to) = cas_pair(&operation.argument)?;
                KvAction::Cas(from, to)
            }
            "append" => match &operation.argument {
                Value::Str(text) => KvAction::Append(text.clone()),
                other => return Err(format!("expected a string to append, found {other}")),
            },
            other => {
                return Err(format!(
                    "expected get, put, append or cas for model kv, found {other}"
                ));
            }
        };
        Ok((KvInput { key, action }, operation.result.clone()))
    }

    fn step(&self, state: &KvState, input: &KvInput, output: Option<&Value>) -> Step<KvState> {
        let current = value_of(state, &input.key);
        match &input.action {
            KvAction::Get => match output {
                Some(value) if value != current => Step::Invalid,
                _ => Step::Unchanged,
            },
            KvAction::Put(value) if value == current => Step::Unchanged,
            KvAction::Put(value) => Step::Changed(with_value(state, &input.key, value)),
            KvAction::Cas(from, _) if from != current => Step::Invalid,
            KvAction::Cas(_, to) if to == current => Step::Unchanged,
            KvAction::Cas(_, to) => Step::Changed(with_value(state, &input.key, to)),
            // An absent value counts as "": appending (even "") makes it a string.
            KvAction::Append(text) => match current {
                Value::Nil => {
                    Step::Changed(with_value(state, &input.key, &Value::Str(text.clone())))
                }
                Value::Str(_) if text.is_empty() => Step::Unchanged,
                Value::Str(existing) => {
                    let joined = Value::Str(format!("{existing}{text}"));
                    Step::Changed(with_value(state, &input.key, &joined))
                }
                _ => Step::Invalid,
            },
        }
    }

    fn partition(&self, operations: &[Operation]) -> Vec<(Option<String>, Vec<usize>)> {
        partition_by_key(operations)
    }

    fn describe_state(&self, state: &KvState) -> String {
        let pairs: Vec<String> = state
            .iter()
            .map(|(key, value)| format!("{key:?}: {value}"))
            .collect();
        format!("{{{}}}", pairs.join(", "))
    }

    fn state_bytes(&self, state: &KvState) -> usize {
        state.capacity() * std::mem::size_of::<(Arc<str>, Value)>()
            + state
                .iter()
                .map(|(_, value)| value.heap_bytes())
                .sum::<usize>()
    }

    /// Per key, as for [`super::Register`]: unknown-outcome puts of a value no
    /// get returned and no cas expected (on keys without appends, where a later
    /// append would carry the value into what gets see), and unknown-outcome
    /// appends whose text no observed string contains.
    fn unobserved(&self, operations: &[PartOperation<'_, Self>]) -> Vec<usize> {
        let mut observed: BTreeSet<(&str, &Value)> = BTreeSet::new();
        let mut appended: BTreeSet<&str> = BTreeSet::new();
        for operation in operations {
            let key: &str = &operation.input.key;
            match (&operation.input.action, operation.output) {
                (KvAction::Get, Some(value)) => {
                    observed.insert((key, value));
                }
                (KvAction::Cas(from, _), _) => {
                    observed.insert((key, from));
                }
                (KvAction::Append(_), _) => {
                    appended.insert(key);
                }
                _ => {}
            }
        }
        let mut unobserved = Vec::new();
        let mut appends: BTreeMap<&str, Vec<(usize, &str)>> = BTreeMap::new();
        for (position, operation) in operations.iter().enumerate() {
            if operation.ret.is_some() {
                continue;
            }
            let key: &str = &operation.input.key;
            match &operation.input.action {
                KvAction::Put(value)
                    if !appended.contains(key) && !observed.contains(&(key, value)) =>
                {
                    unobserved.push(position);
                }
                KvAction::Append(text) => {
                    appends.entry(key).or_default().push((position, text));
                }
                _ => {}
            }
        }
        for (key, texts) in appends {
            let seen: Vec<&str> = observed
                .range((key, &Value::Nil)..)
                .take_while(|(other, _)| *other == key)
                .filter_map(|(_, value)| value.as_str())
                .collect();
            unobserved.extend(not_contained(&texts, &seen));
        }
        unobserved.sort_unstable();
        unobserved
    }

    fn access<'a>(
        &self,
        input: &'a KvInput,
        output: Option<&'a Value>,
    ) -> Option<(&'a str, Access<'a>)> {
        match &input.action {
            KvAction::Get => Some((&input.key, Access::Read(output))),
            KvAction::Put(value) => Some((&input.key, Access::Write(value))),
            KvAction::Cas(..) | KvAction::Append(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn append_concatenates_strings_and_refuses_numbers() {
        let model = Kv;
        let key: Arc<str> = Arc::from("k");
        let append = |text: &str| KvInput {
            key: key.clone(),
            action: KvAction::Append(text.into()),
        };
        let Step::Changed(once) = model.step(&model.init(), &append("x"), None) else {
            panic!()
        };
        let Step::Changed(twice) = model.step(&once, &append("y"), None) else {
            panic!()
        };
        let get = KvInput {
            key: key.clone(),
            action: KvAction::Get,
        };
        assert_eq!(
            model.step(&twice, &get, Some(&Value::Str("xy".into()))),
            Step::Unchanged
        );
        assert_eq!(
            model.step(&twice, &get, Some(&Value::Str("yx".into()))),
            Step::Invalid
        );
        let number = with_value(&model.init(), &key, &Value::Int(3));
        assert_eq!(model.step(&number, &append("z"), None), Step::Invalid);
    }

    #[test]
    fn keys_are_independent_and_absent_reads_nil() {
        let model = Kv;
        let put = KvInput {
            key: Arc::from("a"),
            action: KvAction::Put(Value::Int(1)),
        };
        let Step::Changed(state) = model.step(&model.init(), &put, None) else {
            panic!("put must change the state");
        };
        let get_b = KvInput {
            key: Arc::from("b"),
            action: KvAction::Get,
        };
        assert_eq!(
            model.step(&state, &get_b, Some(&Value::Nil)),
            Step::Unchanged
        );
        assert_eq!(
            model.step(&state, &get_b, Some(&Value::Int(1))),
            Step::Invalid
        );
    }
}
