//! A history bound to a model, split into parts, ready to check part by part.
//!
//! [`Prepared`] converts every operation once (so a malformed value is reported
//! before any search starts, with its line) and applies the model's partition.
//! [`PreparedCheck`] is its object-safe face, so the command line can pick a model
//! by name and a caller outside `check` can spread the parts over threads: parts
//! are independent, and [`combine`] folds per-part verdicts in part order, so the
//! result never depends on which part finished first.

use super::history::{History, HistoryError};
use super::linearizable::{Outcome, PartOperation, SearchStats, search};
use super::model::Model;
use super::verdict::{Budget, ExplainedOperation, Explanation, Verdict};

/// A history converted for a model and partitioned.
pub struct Prepared<M: Model> {
    model: M,
    history: History,
    converted: Vec<(M::Input, Option<M::Output>)>,
    parts: Vec<(Option<String>, Vec<usize>)>,
}

impl<M: Model> Prepared<M> {
    /// Convert and partition (`partition: false` checks the history as one part).
    pub fn new(model: M, history: History, partition: bool) -> Result<Self, HistoryError> {
        let mut converted = Vec::with_capacity(history.operations.len());
        for operation in &history.operations {
            let (input, output) = model.convert(operation).map_err(|message| HistoryError {
                line: if operation.result.is_some() {
                    operation.return_line.unwrap_or(operation.call_line)
                } else {
                    operation.call_line
                },
                message,
            })?;
            converted.push((input, output));
        }
        let parts = if partition {
            model.partition(&history.operations)
        } else {
            vec![(None, (0..history.operations.len()).collect())]
        };
        Ok(Prepared {
            model,
            history,
            converted,
            parts,
        })
    }

    /// The history being checked.
    pub fn history(&self) -> &History {
        &self.history
    }

    /// Check one part, also returning search statistics.
    pub fn check_part_with_stats(
        &self,
        part: usize,
        budget: &Budget<'_>,
    ) -> (Verdict, SearchStats) {
        let (label, indices) = &self.parts[part];
        let operations: Vec<PartOperation<'_, M>> = indices
            .iter()
            .map(|&index| {
                let operation = &self.history.operations[index];
                let (input, output) = &self.converted[index];
                PartOperation {
                    input,
                    output: output.as_ref(),
                    call: operation.call,
                    ret: operation.ret,
                }
            })
            .collect();
        let mut stats = SearchStats::default();
        let verdict = match search(&self.model, &operations, budget, &mut stats) {
            Outcome::Linearizable => Verdict::Linearizable,
            Outcome::OutOfBudget(reason) => Verdict::Unknown(match label {
                Some(label) => format!("part {label:?}: {reason}"),
                None => reason,
            }),
            Outcome::Stuck(stuck) => Verdict::NotLinearizable(Box::new(Explanation {
                model: self.model.name().to_string(),
                part: label.clone(),
                operations: indices
                    .iter()
                    .map(|&index| {
                        let operation = &self.history.operations[index];
                        ExplainedOperation {
                            index,
                            process: operation.process,
                            call: operation.call,
                            ret: operation.ret,
                            call_line: operation.call_line,
                            return_line: operation.return_line,
                            description: self.model.describe_operation(operation),
                        }
                    })
                    .collect(),
                prefix: stuck.prefix,
                state: self.model.describe_state(&stuck.state),
                culprit: stuck.culprit,
                candidates: stuck.candidates,
            })),
        };
        (verdict, stats)
    }
}

/// A prepared check whose model type is hidden.
pub trait PreparedCheck: Sync {
    /// The model's name.
    fn model_name(&self) -> &'static str;
    /// Operations checked (failed ones excluded).
    fn operation_count(&self) -> usize;
    /// The number of independent parts.
    fn part_count(&self) -> usize;
    /// The number of operations in a part (for scheduling the big ones first).
    fn part_len(&self, part: usize) -> usize;
    /// Check one part.
    fn check_part(&self, part: usize, budget: &Budget<'_>) -> Verdict;
    /// Check one part, with statistics.
    fn check_part_with_stats(&self, part: usize, budget: &Budget<'_>) -> (Verdict, SearchStats);
}

impl<M: Model> PreparedCheck for Prepared<M> {
    fn model_name(&self) -> &'static str {
        self.model.name()
    }

    fn operation_count(&self) -> usize {
        self.history.operations.len()
    }

    fn part_count(&self) -> usize {
        self.parts.len()
    }

    fn part_len(&self, part: usize) -> usize {
        self.parts[part].1.len()
    }

    fn check_part(&self, part: usize, budget: &Budget<'_>) -> Verdict {
        Prepared::check_part_with_stats(self, part, budget).0
    }

    fn check_part_with_stats(&self, part: usize, budget: &Budget<'_>) -> (Verdict, SearchStats) {
        Prepared::check_part_with_stats(self, part, budget)
    }
}

/// Fold per-part verdicts (in part order) into the history's verdict: the first
/// part that is not linearizable decides; otherwise the first unknown; otherwise
/// linearizable.
pub fn combine<I: IntoIterator<Item = Verdict>>(verdicts: I) -> Verdict {
    let mut unknown = None;
    for verdict in verdicts {
        match verdict {
            Verdict::NotLinearizable(_) => return verdict,
            Verdict::Unknown(_) if unknown.is_none() => unknown = Some(verdict),
            _ => {}
        }
    }
    unknown.unwrap_or(Verdict::Linearizable)
}

/// Check every part in order on the calling thread, stopping at the first part
/// that is not linearizable.
pub fn check_sequentially(prepared: &dyn PreparedCheck, budget: &Budget<'_>) -> Verdict {
    let mut unknown = None;
    for part in 0..prepared.part_count() {
        match prepared.check_part(part, budget) {
            Verdict::Linearizable => {}
            verdict @ Verdict::NotLinearizable(_) => return verdict,
            verdict @ Verdict::Unknown(_) => {
                unknown.get_or_insert(verdict);
            }
        }
    }
    unknown.unwrap_or(Verdict::Linearizable)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_failing_part_decides_and_unknown_only_without_failures() {
        let unknown = || Verdict::Unknown("budget".into());
        assert_eq!(
            combine([Verdict::Linearizable, Verdict::Linearizable]),
            Verdict::Linearizable
        );
        assert_eq!(combine([Verdict::Linearizable, unknown()]), unknown());
        assert_eq!(combine(Vec::new()), Verdict::Linearizable);
        let failure = |part: &str| {
            Verdict::NotLinearizable(Box::new(Explanation {
                model: "register".into(),
                part: Some(part.into()),
                operations: Vec::new(),
                prefix: Vec::new(),
                state: String::new(),
                culprit: 0,
                candidates: Vec::new(),
            }))
        };
        assert_eq!(
            combine([unknown(), failure("a"), failure("b")]),
            failure("a")
        );
    }
}
