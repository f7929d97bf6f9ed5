//! `counter`: an integer that starts at 0, with `add n` and `read`.

use crate::check::history::Operation;
use crate::check::model::{Model, Step};
use crate::sim::history::Value;

/// The counter model.
#[derive(Clone, Copy, Debug, Default)]
pub struct Counter;

/// A counter operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CounterInput {
    /// Add to the counter (an absent argument adds 1).
    Add(i64),
    /// Read the counter.
    Read,
}

impl Model for Counter {
    type State = i64;
    type Input = CounterInput;
    type Output = i64;

    fn name(&self) -> &'static str {
        "counter"
    }

    fn init(&self) -> i64 {
        0
    }

    fn convert(&self, operation: &Operation) -> Result<(CounterInput, Option<i64>), String> {
        match operation.f.as_str() {
            "add" | "increment" => {
                let amount = match &operation.argument {
                    Value::Nil => 1,
                    Value::Int(amount) => *amount,
                    other => return Err(format!("expected an integer to add, found {other}")),
                };
                Ok((CounterInput::Add(amount), Some(0)))
            }
            "read" => {
                let output = match &operation.result {
                    None => None,
                    Some(Value::Int(value)) => Some(*value),
                    Some(other) => {
                        return Err(format!("expected an integer read result, found {other}"));
                    }
                };
                Ok((CounterInput::Read, output))
            }
            other => Err(format!(
                "expected add or read for model counter, found {other}"
            )),
        }
    }

    fn step(&self, state: &i64, input: &CounterInput, output: Option<&i64>) -> Step<i64> {
        match input {
            CounterInput::Add(0) => Step::Unchanged,
            CounterInput::Add(amount) => match state.checked_add(*amount) {
                Some(next) => Step::Changed(next),
                None => Step::Invalid,
            },
            CounterInput::Read => match output {
                Some(value) if value != state => Step::Invalid,
                _ => Step::Unchanged,
            },
        }
    }

    fn describe_state(&self, state: &i64) -> String {
        format!("counter = {state}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_see_the_sum_of_the_adds() {
        let model = Counter;
        assert_eq!(
            model.step(&0, &CounterInput::Add(5), Some(&0)),
            Step::Changed(5)
        );
        assert_eq!(
            model.step(&5, &CounterInput::Read, Some(&5)),
            Step::Unchanged
        );
        assert_eq!(model.step(&5, &CounterInput::Read, Some(&4)), Step::Invalid);
    }
}
