//! The models that ship with faultline, and choosing one by name.
//!
//! | name | operations | partition |
//! |---|---|---|
//! | `register` | `read`, `write v`, `cas [from to]`; starts absent (`nil`) | none |
//! | `kv` | `get`, `put v`, `cas [from to]` per key | per key |
//! | `kv-append` | `get`, `put s`, `append s` per key; `get` of absent is `""` | per key |
//! | `counter` | `add n`, `read` | none |
//! | `set` | `add x`, `read` (all elements) | none |
//! | `lock` | `acquire` (→ token), `release token`; fencing tokens | none |

pub mod counter;
pub mod kv;
pub mod kv_append;
pub mod lock;
pub mod register;
pub mod set;

use super::history::{History, HistoryError};
use super::prepared::{Prepared, PreparedCheck};
use std::fmt;

pub use counter::Counter;
pub use kv::Kv;
pub use kv_append::KvAppend;
pub use lock::Lock;
pub use register::Register;
pub use set::Set;

/// Bytes of reading the [`not_contained`] scan may do before it stops leaving
/// operations out (it then keeps the rest: keeping an operation is always sound).
const SCAN_BYTES: usize = 64 << 20;

/// Of `texts` (position, text), the positions whose text occurs in none of
/// `seen`, for [`crate::check::Model::unobserved`] of models whose reads return
/// the concatenation of what was appended. Empty texts are never returned (an
/// empty append changes nothing anyway). Bounded: after reading
/// [`SCAN_BYTES`], the remaining texts count as seen.
pub(crate) fn not_contained(texts: &[(usize, &str)], seen: &[&str]) -> Vec<usize> {
    let mut seen: Vec<&str> = seen.to_vec();
    seen.sort_unstable();
    seen.dedup();
    // A read contained in a longer read adds nothing to look in.
    seen.sort_by_key(|text| std::cmp::Reverse(text.len()));
    let mut budget = SCAN_BYTES;
    let mut unseen = Vec::new();
    for &(position, text) in texts {
        if text.is_empty() {
            continue;
        }
        let mut found = false;
        for read in &seen {
            if read.len() < text.len() {
                break;
            }
            if budget < read.len() {
                return unseen;
            }
            budget -= read.len();
            if read.contains(text) {
                found = true;
                break;
            }
        }
        if !found {
            unseen.push(position);
        }
    }
    unseen
}

/// The names `--model` accepts.
pub const NAMES: &[&str] = &["register", "kv-append", "kv", "counter", "set", "lock"];

/// Why a history could not be prepared for checking.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PrepareError {
    /// No model has this name.
    UnknownModel(String),
    /// An operation does not fit the model (the line and what was expected).
    History(HistoryError),
}

impl fmt::Display for PrepareError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PrepareError::UnknownModel(name) => {
                write!(
                    f,
                    "unknown model {name:?} (expected one of: {})",
                    NAMES.join(", ")
                )
            }
            PrepareError::History(error) => write!(f, "{error}"),
        }
    }
}

impl std::error::Error for PrepareError {}

/// Bind a history to the model called `name`.
pub fn prepare(
    name: &str,
    history: History,
    partition: bool,
) -> Result<Box<dyn PreparedCheck>, PrepareError> {
    fn boxed<M: super::model::Model + 'static>(
        model: M,
        history: History,
        partition: bool,
    ) -> Result<Box<dyn PreparedCheck>, PrepareError> {
        Prepared::new(model, history, partition)
            .map(|prepared| Box::new(prepared) as Box<dyn PreparedCheck>)
            .map_err(PrepareError::History)
    }
    match name {
        "register" => boxed(Register, history, partition),
        "kv" => boxed(Kv, history, partition),
        "kv-append" => boxed(KvAppend, history, partition),
        "counter" => boxed(Counter, history, partition),
        "set" => boxed(Set, history, partition),
        "lock" => boxed(Lock, history, partition),
        other => Err(PrepareError::UnknownModel(other.to_string())),
    }
}
