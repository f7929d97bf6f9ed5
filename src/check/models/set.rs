//! `set`: a grow-only set with `add x` and `read` (the result lists the elements,
//! in any order).

use crate::check::history::Operation;
use crate::check::linearizable::PartOperation;
use crate::check::model::{Model, Step};
use crate::sim::history::Value;
use std::collections::BTreeSet;

/// The set model.
#[derive(Clone, Copy, Debug, Default)]
pub struct Set;

/// A set operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SetInput {
    /// Add an element.
    Add(Value),
    /// Read all elements.
    Read,
}

impl Model for Set {
    /// The elements, sorted and without duplicates.
    type State = Vec<Value>;
    type Input = SetInput;
    /// For reads: the elements seen, sorted and without duplicates.
    type Output = Vec<Value>;

    fn name(&self) -> &'static str {
        "set"
    }

    fn init(&self) -> Vec<Value> {
        Vec::new()
    }

    fn convert(&self, operation: &Operation) -> Result<(SetInput, Option<Vec<Value>>), String> {
        match operation.f.as_str() {
            "add" => Ok((SetInput::Add(operation.argument.clone()), Some(Vec::new()))),
            "read" => {
                let output = match &operation.result {
                    None => None,
                    Some(Value::List(elements)) => {
                        let mut elements = elements.clone();
                        elements.sort();
                        elements.dedup();
                        Some(elements)
                    }
                    Some(Value::Nil) => Some(Vec::new()),
                    Some(other) => {
                        return Err(format!(
                            "expected a list of elements as the read result, found {other}"
                        ));
                    }
                };
                Ok((SetInput::Read, output))
            }
            other => Err(format!("expected add or read for model set, found {other}")),
        }
    }

    fn step(
        &self,
        state: &Vec<Value>,
        input: &SetInput,
        output: Option<&Vec<Value>>,
    ) -> Step<Vec<Value>> {
        match input {
            SetInput::Add(element) => match state.binary_search(element) {
                Ok(_) => Step::Unchanged,
                Err(at) => {
                    let mut next = state.clone();
                    next.insert(at, element.clone());
                    Step::Changed(next)
                }
            },
            SetInput::Read => match output {
                Some(seen) if seen != state => Step::Invalid,
                _ => Step::Unchanged,
            },
        }
    }

    fn describe_state(&self, state: &Vec<Value>) -> String {
        format!("set = {}", Value::List(state.clone()))
    }

    fn state_bytes(&self, state: &Vec<Value>) -> usize {
        state.capacity() * std::mem::size_of::<Value>()
            + state.iter().map(Value::heap_bytes).sum::<usize>()
    }

    /// Unknown-outcome adds of an element no read listed: had one taken effect,
    /// every later read would list it, so there is none, and leaving it out keeps
    /// any linearization valid.
    fn unobserved(&self, operations: &[PartOperation<'_, Self>]) -> Vec<usize> {
        let seen: BTreeSet<&Value> = operations
            .iter()
            .filter(|operation| matches!(operation.input, SetInput::Read))
            .filter_map(|operation| operation.output)
            .flatten()
            .collect();
        operations
            .iter()
            .enumerate()
            .filter(|(_, operation)| {
                operation.ret.is_none()
                    && matches!(operation.input, SetInput::Add(element) if !seen.contains(element))
            })
            .map(|(position, _)| position)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_must_list_exactly_the_added_elements() {
        let model = Set;
        let Step::Changed(state) = model.step(&Vec::new(), &SetInput::Add(Value::Int(2)), None)
        else {
            panic!("add must change the state");
        };
        assert_eq!(
            model.step(&state, &SetInput::Add(Value::Int(2)), None),
            Step::Unchanged
        );
        assert_eq!(
            model.step(&state, &SetInput::Read, Some(&vec![Value::Int(2)])),
            Step::Unchanged
        );
        assert_eq!(
            model.step(&state, &SetInput::Read, Some(&Vec::new())),
            Step::Invalid
        );
    }
}
