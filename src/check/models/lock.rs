//! `lock`: a lock service with fencing tokens.
//!
//! `acquire` returns a token (its `ok` value); `release` gives one back (its
//! invocation value, or its result when the invocation carries none). The model
//! promises the two properties fencing relies on:
//!
//! - one holder at a time: `acquire` succeeds only when the lock is free, and
//!   `release` only frees a lock held under the same token;
//! - tokens strictly increase: each granted token is larger than every earlier one.
//!
//! An `acquire` with an unknown outcome may have granted the lock under a token
//! nobody saw; the model then holds the lock for an unknown token, which a release
//! carrying any token larger than the last one seen may free.

use crate::check::history::Operation;
use crate::check::model::{Model, Step};
use crate::sim::history::Value;

/// The lock model.
#[derive(Clone, Copy, Debug, Default)]
pub struct Lock;

/// Who holds the lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Holder {
    /// Nobody.
    Free,
    /// The client given this token.
    Token(i64),
    /// A client whose acquire had an unknown outcome.
    Unknown,
}

/// The lock state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LockState {
    /// The current holder.
    pub holder: Holder,
    /// Every token granted from now on must be larger than this: the largest
    /// token granted so far, or one more once a hidden token (granted by an
    /// acquire of unknown outcome, above the last one) was released.
    pub last_token: Option<i64>,
}

/// A lock operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockInput {
    /// Take the lock.
    Acquire,
    /// Give it back (with the token, when known).
    Release(Option<i64>),
}

fn token(value: &Value, what: &str) -> Result<Option<i64>, String> {
    match value {
        Value::Nil => Ok(None),
        Value::Int(token) => Ok(Some(*token)),
        other => Err(format!(
            "expected an integer fencing token as the {what}, found {other}"
        )),
    }
}

impl Model for Lock {
    type State = LockState;
    type Input = LockInput;
    /// For acquire: the token granted.
    type Output = Option<i64>;

    fn name(&self) -> &'static str {
        "lock"
    }

    fn init(&self) -> LockState {
        LockState {
            holder: Holder::Free,
            last_token: None,
        }
    }

    fn convert(&self, operation: &Operation) -> Result<(LockInput, Option<Option<i64>>), String> {
        match operation.f.as_str() {
            "acquire" => {
                let output = match &operation.result {
                    None => None,
                    Some(result) => match token(result, "acquire result")? {
                        Some(granted) => Some(Some(granted)),
                        None => {
                            return Err(
                                "expected the granted token as the acquire result, found nil"
                                    .into(),
                            );
                        }
                    },
                };
                Ok((LockInput::Acquire, output))
            }
            "release" => {
                let mut released = token(&operation.argument, "release value")?;
                if released.is_none()
                    && let Some(result) = &operation.result
                {
                    released = token(result, "release result")?;
                }
                Ok((
                    LockInput::Release(released),
                    operation.result.as_ref().map(|_| None),
                ))
            }
            other => Err(format!(
                "expected acquire or release for model lock, found {other}"
            )),
        }
    }

    fn step(
        &self,
        state: &LockState,
        input: &LockInput,
        output: Option<&Option<i64>>,
    ) -> Step<LockState> {
        match (input, state.holder) {
            (LockInput::Acquire, Holder::Free) => match output.copied().flatten() {
                Some(granted) if state.last_token.is_some_and(|last| granted <= last) => {
                    Step::Invalid
                }
                Some(granted) => Step::Changed(LockState {
                    holder: Holder::Token(granted),
                    last_token: Some(granted),
                }),
                // A hidden token above the last one: none exists above i64::MAX.
                None if state.last_token == Some(i64::MAX) => Step::Invalid,
                None => Step::Changed(LockState {
                    holder: Holder::Unknown,
                    last_token: state.last_token,
                }),
            },
            (LockInput::Acquire, _) => Step::Invalid,
            (LockInput::Release(_), Holder::Free) => Step::Invalid,
            (LockInput::Release(Some(released)), Holder::Token(held)) if *released != held => {
                Step::Invalid
            }
            (LockInput::Release(Some(released)), Holder::Unknown) => {
                if state.last_token.is_some_and(|last| *released <= last) {
                    Step::Invalid
                } else {
                    Step::Changed(LockState {
                        holder: Holder::Free,
                        last_token: Some(*released),
                    })
                }
            }
            // Freeing a hidden token h > last: the next token must exceed h, so
            // it must exceed last + 1 (with no token seen yet, any h will do).
            (LockInput::Release(None), Holder::Unknown) => Step::Changed(LockState {
                holder: Holder::Free,
                last_token: state.last_token.map(|last| last.saturating_add(1)),
            }),
            (LockInput::Release(_), _) => Step::Changed(LockState {
                holder: Holder::Free,
                last_token: state.last_token,
            }),
        }
    }

    fn describe_state(&self, state: &LockState) -> String {
        let holder = match state.holder {
            Holder::Free => "free".to_string(),
            Holder::Token(token) => format!("held under token {token}"),
            Holder::Unknown => "held under an unknown token".to_string(),
        };
        match state.last_token {
            Some(last) => format!("lock {holder}, last token {last}"),
            None => format!("lock {holder}, no token granted yet"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_must_increase_and_only_one_client_holds_the_lock() {
        let model = Lock;
        let Step::Changed(held) = model.step(&model.init(), &LockInput::Acquire, Some(&Some(5)))
        else {
            panic!("acquire of a free lock must succeed");
        };
        assert_eq!(
            model.step(&held, &LockInput::Acquire, Some(&Some(6))),
            Step::Invalid
        );
        let Step::Changed(free) = model.step(&held, &LockInput::Release(Some(5)), Some(&None))
        else {
            panic!("release by the holder must succeed");
        };
        assert_eq!(
            model.step(&free, &LockInput::Acquire, Some(&Some(5))),
            Step::Invalid
        );
        assert!(matches!(
            model.step(&free, &LockInput::Acquire, Some(&Some(7))),
            Step::Changed(_)
        ));
    }
}
