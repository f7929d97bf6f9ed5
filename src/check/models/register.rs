//! `register`: one read/write/compare-and-set register that starts absent.
//!
//! - `read` (result: the value, `nil` when absent) changes nothing;
//! - `write v` always succeeds;
//! - `cas [from to]` succeeds exactly when the register holds `from`. A failed
//!   compare (`fail`) did not take effect and never reaches the model.
//!
//! This is the etcd register of the Jepsen/Porcupine reference histories, and the
//! smallest example of a [`Model`].

use crate::check::history::Operation;
use crate::check::linearizable::PartOperation;
use crate::check::model::{Access, Model, Step};
use crate::sim::history::Value;
use std::collections::BTreeSet;

/// The register model.
#[derive(Clone, Copy, Debug, Default)]
pub struct Register;

/// A register operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RegisterInput {
    /// Read the value.
    Read,
    /// Overwrite the value.
    Write(Value),
    /// Set to `.1` if the value is `.0`.
    Cas(Value, Value),
}

/// Read a `[from to]` compare-and-set argument.
pub(crate) fn cas_pair(argument: &Value) -> Result<(Value, Value), String> {
    match argument.as_list() {
        Some([from, to]) => Ok((from.clone(), to.clone())),
        _ => Err(format!(
            "expected a [from to] pair as the cas value, found {argument}"
        )),
    }
}

impl Model for Register {
    type State = Value;
    type Input = RegisterInput;
    type Output = Value;

    fn name(&self) -> &'static str {
        "register"
    }

    fn init(&self) -> Value {
        Value::Nil
    }

    fn convert(&self, operation: &Operation) -> Result<(RegisterInput, Option<Value>), String> {
        let input = match operation.f.as_str() {
            "read" => RegisterInput::Read,
            "write" => RegisterInput::Write(operation.argument.clone()),
            "cas" => {
                let (from, to) = cas_pair(&operation.argument)?;
                RegisterInput::Cas(from, to)
            }
            other => {
                return Err(format!(
                    "expected read, write or cas for model register, found {other}"
                ));
            }
        };
        Ok((input, operation.result.clone()))
    }

    fn step(&self, state: &Value, input: &RegisterInput, output: Option<&Value>) -> Step<Value> {
        match input {
            RegisterInput::Read => match output {
                Some(value) if value != state => Step::Invalid,
                _ => Step::Unchanged,
            },
            RegisterInput::Write(value) if value == state => Step::Unchanged,
            RegisterInput::Write(value) => Step::Changed(value.clone()),
            RegisterInput::Cas(from, _) if from != state => Step::Invalid,
            RegisterInput::Cas(_, to) if to == state => Step::Unchanged,
            RegisterInput::Cas(_, to) => Step::Changed(to.clone()),
        }
    }

    fn describe_state(&self, state: &Value) -> String {
        format!("register = {state}")
    }

    fn state_bytes(&self, state: &Value) -> usize {
        state.heap_bytes()
    }

    /// Unknown-outcome writes of a value no read returned and no compare-and-set
    /// expected: had one taken effect, nothing could have seen it before the
    /// next write replaced it, so leaving it out keeps any linearization valid.
    fn unobserved(&self, operations: &[PartOperation<'_, Self>]) -> Vec<usize> {
        let mut observed: BTreeSet<&Value> = BTreeSet::new();
        for operation in operations {
            match (operation.input, operation.output) {
                (RegisterInput::Read, Some(value)) => {
                    observed.insert(value);
                }
                (RegisterInput::Cas(from, _), _) => {
                    observed.insert(from);
                }
                _ => {}
            }
        }
        operations
            .iter()
            .enumerate()
            .filter(|(_, operation)| {
                operation.ret.is_none()
                    && matches!(operation.input, RegisterInput::Write(value) if !observed.contains(value))
            })
            .map(|(position, _)| position)
            .collect()
    }

    fn access<'a>(
        &self,
        input: &'a RegisterInput,
        output: Option<&'a Value>,
    ) -> Option<(&'a str, Access<'a>)> {
        match input {
            RegisterInput::Read => Some(("", Access::Read(output))),
            RegisterInput::Write(value) => Some(("", Access::Write(value))),
            RegisterInput::Cas(..) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_must_see_the_current_value_and_nil_means_absent() {
        let model = Register;
        let read_nil = Value::Nil;
        assert_eq!(
            model.step(&Value::Nil, &RegisterInput::Read, Some(&read_nil)),
            Step::Unchanged
        );
        assert_eq!(
            model.step(&Value::Int(3), &RegisterInput::Read, Some(&read_nil)),
            Step::Invalid
        );
        assert_eq!(
            model.step(&Value::Int(3), &RegisterInput::Read, None),
            Step::Unchanged
        );
    }

    #[test]
    fn cas_succeeds_only_from_the_expected_value() {
        let model = Register;
        let cas = RegisterInput::Cas(Value::Int(1), Value::Int(2));
        assert_eq!(
            model.step(&Value::Int(1), &cas, None),
            Step::Changed(Value::Int(2))
        );
        assert_eq!(model.step(&Value::Int(5), &cas, None), Step::Invalid);
    }
}
