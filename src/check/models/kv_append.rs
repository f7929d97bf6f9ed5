//! `kv-append`: a map of strings with `get`, `put` and `append` per key.
//!
//! `get` returns the key's string (`""` when absent), `put s` replaces it and
//! `append s` concatenates `s` to it. Keys are independent, so the model partitions
//! the history per key; that is where most of the speed comes from.
//!
//! Checked unpartitioned, the state is the whole map and appends make long strings,
//! so a state is built to be cheap to copy, hash and compare: each value is an
//! `Arc<str>` (copying the map copies pointers) with its FNV-1a hash, which extends
//! incrementally on append (hash the appended bytes only) and rejects most unequal
//! strings without reading them.

use super::kv::required_key;
use super::not_contained;
use crate::check::history::Operation;
use crate::check::linearizable::PartOperation;
use crate::check::model::{AppendAccess, Model, Step, partition_by_key};
use crate::sim::history::Value;
use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::rc::Rc;
use std::sync::Arc;

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

fn fnv_extend(mut hash: u64, bytes: &[u8]) -> u64 {
    for &byte in bytes {
        hash = (hash ^ u64::from(byte)).wrapping_mul(FNV_PRIME);
    }
    hash
}

/// A shared string with its hash, behind any string pointer (`Arc<str>` in inputs
/// and outputs, which threads share; `Rc<str>` inside states, which never leave
/// the searching thread, so copying a state costs no atomic operations).
#[derive(Clone, Debug)]
pub struct Hashed<P> {
    text: P,
    hash: u64,
}

/// A string of an operation (thread-safe).
pub type Text = Hashed<Arc<str>>;

/// A string inside a model state (single-threaded, cheap to copy).
pub type StateText = Hashed<Rc<str>>;

impl<P: Deref<Target = str>> Hashed<P> {
    /// Wrap a string.
    pub fn new(text: &str) -> Self
    where
        P: for<'a> From<&'a str>,
    {
        Hashed {
            text: P::from(text),
            hash: fnv_extend(FNV_OFFSET, text.as_bytes()),
        }
    }

    /// The string.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The same string behind another pointer type.
    fn to<Q: for<'a> From<&'a str>>(&self) -> Hashed<Q> {
        Hashed {
            text: Q::from(self.as_str()),
            hash: self.hash,
        }
    }

    fn appended(&self, suffix: &str) -> Self
    where
        P: From<String>,
    {
        let mut text = String::with_capacity(self.text.len() + suffix.len());
        text.push_str(&self.text);
        text.push_str(suffix);
        Hashed {
            text: P::from(text),
            hash: fnv_extend(self.hash, suffix.as_bytes()),
        }
    }
}

impl<P: Deref<Target = str>, Q: Deref<Target = str>> PartialEq<Hashed<Q>> for Hashed<P> {
    fn eq(&self, other: &Hashed<Q>) -> bool {
        let (mine, theirs) = (self.as_str(), other.as_str());
        self.hash == other.hash
            && mine.len() == theirs.len()
            && (std::ptr::eq(mine.as_ptr(), theirs.as_ptr()) || mine == theirs)
    }
}

impl<P: Deref<Target = str>> Eq for Hashed<P> {}

impl<P> Hash for Hashed<P> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

/// The map: (key, value) pairs sorted by key; absent and empty values are not stored.
pub type KvAppendState = Vec<(StateText, StateText)>;

/// The key/value append model.
#[derive(Clone, Copy, Debug, Default)]
pub struct KvAppend;

/// A kv-append operation on one key.
#[derive(Clone, Debug)]
pub struct KvAppendInput {
    /// The key.
    pub key: Text,
    /// What to do with it.
    pub action: KvAppendAction,
}

/// What a kv-append operation does.
#[derive(Clone, Debug)]
pub enum KvAppendAction {
    /// Read the string.
    Get,
    /// Replace the string.
    Put(Text),
    /// Append to the string.
    Append(String),
}

fn string_argument(value: &Value, what: &str) -> Result<String, String> {
    match value {
        Value::Str(text) => Ok(text.clone()),
        Value::Nil => Ok(String::new()),
        Value::Int(number) => Ok(number.to_string()),
        Value::List(_) => Err(format!("expected a string as the {what}, found {value}")),
    }
}

fn position(state: &KvAppendState, key: &Text) -> Result<usize, usize> {
    state.binary_search_by(|(k, _)| k.as_str().cmp(key.as_str()))
}

fn with_value(state: &KvAppendState, key: &Text, value: Option<StateText>) -> KvAppendState {
    let mut next = state.clone();
    match (position(state, key), value) {
        (Ok(at), Some(value)) => next[at].1 = value,
        (Ok(at), None) => {
            next.remove(at);
        }
        (Err(at), Some(value)) => next.insert(at, (key.to(), value)),
        (Err(_), None) => {}
    }
    next
}

impl Model for KvAppend {
    type State = KvAppendState;
    type Input = KvAppendInput;
    type Output = Text;

    fn name(&self) -> &'static str {
        "kv-append"
    }

    fn init(&self) -> KvAppendState {
        Vec::new()
    }

    fn convert(&self, operation: &Operation) -> Result<(KvAppendInput, Option<Text>), String> {
        let key = Text::new(&required_key(operation)?);
        let action = match operation.f.as_str() {
            "get" => KvAppendAction::Get,
            "put" => KvAppendAction::Put(Text::new(&string_argument(
                &operation.argument,
                "put value",
            )?)),
            "append" => {
                KvAppendAction::Append(string_argument(&operation.argument, "appended value")?)
            }
            other => {
                return Err(format!(
                    "expected get, put or append for model kv-append, found {other}"
                ));
            }
        };
        let output = match (&action, &operation.result) {
            (KvAppendAction::Get, Some(result)) => {
                Some(Text::new(&string_argument(result, "get result")?))
            }
            (_, Some(_)) => Some(Text::new("")),
            (_, None) => None,
        };
        Ok((KvAppendInput { key, action }, output))
    }

    fn step(
        &self,
        state: &KvAppendState,
        input: &KvAppendInput,
        output: Option<&Text>,
    ) -> Step<KvAppendState> {
        let at = position(state, &input.key);
        let current = at.ok().map(|at| &state[at].1);
        match &input.action {
            KvAppendAction::Get => match (output, current) {
                (None, _) => Step::Unchanged,
                (Some(read), Some(current)) if read == current => Step::Unchanged,
                (Some(read), None) if read.as_str().is_empty() => Step::Unchanged,
                _ => Step::Invalid,
            },
            KvAppendAction::Put(value) => match current {
                Some(current) if current == value => Step::Unchanged,
                None if value.as_str().is_empty() => Step::Unchanged,
                _ if value.as_str().is_empty() => {
                    Step::Changed(with_value(state, &input.key, None))
                }
                _ => Step::Changed(with_value(state, &input.key, Some(value.to()))),
            },
            KvAppendAction::Append(suffix) if suffix.is_empty() => Step::Unchanged,
            KvAppendAction::Append(suffix) => {
                let value = match current {
                    Some(current) => current.appended(suffix),
                    None => StateText::new(suffix),
                };
                Step::Changed(with_value(state, &input.key, Some(value)))
            }
        }
    }

    fn partition(&self, operations: &[Operation]) -> Vec<(Option<String>, Vec<usize>)> {
        partition_by_key(operations)
    }

    fn describe_state(&self, state: &KvAppendState) -> String {
        let pairs: Vec<String> = state
            .iter()
            .map(|(key, value)| format!("{:?}: {:?}", key.as_str(), value.as_str()))
            .collect();
        format!("{{{}}}", pairs.join(", "))
    }

    fn state_bytes(&self, state: &KvAppendState) -> usize {
        // Keys are shared with the operations; each state holds its own values
        // (an append copies the string).
        state.capacity() * std::mem::size_of::<(StateText, StateText)>()
            + state
                .iter()
                .map(|(_, value)| value.as_str().len())
                .sum::<usize>()
    }

    fn append_access<'a>(
        &self,
        input: &'a KvAppendInput,
        output: Option<&'a Text>,
    ) -> Option<(&'a str, AppendAccess<'a>)> {
        let key = input.key.as_str();
        match &input.action {
            KvAppendAction::Get => Some((key, AppendAccess::Read(output.map(Text::as_str)))),
            KvAppendAction::Append(text) => Some((key, AppendAccess::Append(text))),
            KvAppendAction::Put(_) => None,
        }
    }

    /// Unknown-outcome appends whose text no get of the key contains: had one
    /// taken effect, every get before the key's next put would contain it, so
    /// there is none, and leaving it out keeps any linearization valid.
    fn unobserved(&self, operations: &[PartOperation<'_, Self>]) -> Vec<usize> {
        type PerKey<'a> = (Vec<(usize, &'a str)>, Vec<&'a str>);
        let mut keys: BTreeMap<&str, PerKey<'_>> = BTreeMap::new();
        for (position, operation) in operations.iter().enumerate() {
            let entry = keys.entry(operation.input.key.as_str()).or_default();
            match (&operation.input.action, operation.output) {
                (KvAppendAction::Get, Some(seen)) => entry.1.push(seen.as_str()),
                (KvAppendAction::Append(text), _) if operation.ret.is_none() => {
                    entry.0.push((position, text));
                }
                _ => {}
            }
        }
        let mut unobserved: Vec<usize> = keys
            .values()
            .flat_map(|(texts, seen)| not_contained(texts, seen))
            .collect();
        unobserved.sort_unstable();
        unobserved
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(key: &str, action: KvAppendAction) -> KvAppendInput {
        KvAppendInput {
            key: Text::new(key),
            action,
        }
    }

    #[test]
    fn get_returns_the_concatenation_and_empty_when_absent() {
        let model = KvAppend;
        let empty = model.init();
        let get = input("k", KvAppendAction::Get);
        assert_eq!(
            model.step(&empty, &get, Some(&Text::new(""))),
            Step::Unchanged
        );
        let Step::Changed(once) = model.step(
            &empty,
            &input("k", KvAppendAction::Append("ab".into())),
            None,
        ) else {
            panic!("append must change the state");
        };
        let Step::Changed(twice) =
            model.step(&once, &input("k", KvAppendAction::Append("c".into())), None)
        else {
            panic!("append must change the state");
        };
        assert_eq!(
            model.step(&twice, &get, Some(&Text::new("abc"))),
            Step::Unchanged
        );
        assert_eq!(
            model.step(&twice, &get, Some(&Text::new("ab"))),
            Step::Invalid
        );
    }

    #[test]
    fn an_incremental_hash_equals_the_hash_of_the_whole_string() {
        assert_eq!(Text::new("ab").appended("cd").hash, Text::new("abcd").hash);
        assert_eq!(Text::new("ab").appended("cd"), Text::new("abcd"));
    }
}
