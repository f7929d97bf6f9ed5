//! A history bound to a model, split into parts, ready to check part by part.
//!
//! [`Prepared`] converts every operation once (so a malformed value is reported
//! before any search starts, with its line) and applies the model's partition.
//! [`PreparedCheck`] is its object-safe face, so the command line can pick a model
//! by name and a caller outside `check` can spread the parts over threads: parts
//! are independent, and [`combine`] folds per-part verdicts in part order, so the
//! result never depends on which part finished first.

use super::chain::{self, AppendConflict, AppendDecision, AppendOp};
use super::history::{History, HistoryError};
use super::linearizable::{Outcome, PartOperation, SearchStats, Stuck, search};
use super::model::Model;
use super::verdict::{Budget, ExplainedOperation, Explanation, Verdict};
use super::zones::{self, Cluster, Conflict, Decision, RegisterOp};

/// A history converted for a model and partitioned.
pub struct Prepared<M: Model> {
    model: M,
    history: History,
    converted: Vec<(M::Input, Option<M::Output>)>,
    parts: Vec<(Option<String>, Vec<usize>)>,
    shortcuts: bool,
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
            shortcuts: true,
        })
    }

    /// The same check with the shortcuts off: no operation left out as
    /// unobserved, no unique-value register check; every part goes to the
    /// search (for benchmarks and for testing the shortcuts against it).
    pub fn without_shortcuts(mut self) -> Self {
        self.shortcuts = false;
        self
    }

    /// The history being checked.
    pub fn history(&self) -> &History {
        &self.history
    }

    /// Check one part, also returning search statistics.
    ///
    /// Unknown-outcome operations the model says nothing observed
    /// ([`Model::unobserved`]) are left out first. A part that is then a
    /// unique-value register ([`Model::access`]) is decided by
    /// [`zones::decide`]; a violation found there is explained by searching the
    /// operations invoked up to the conflict (the reason is stated either way).
    /// Every other part goes to the search.
    pub fn check_part_with_stats(
        &self,
        part: usize,
        budget: &Budget<'_>,
    ) -> (Verdict, SearchStats) {
        let (label, indices) = &self.parts[part];
        let all: Vec<PartOperation<'_, M>> = indices
            .iter()
            .map(|&index| self.part_operation(index))
            .collect();
        let mut left_out = if self.shortcuts {
            self.model.unobserved(&all)
        } else {
            Vec::new()
        };
        left_out.sort_unstable();
        left_out.dedup();
        left_out.retain(|&position| position < all.len() && all[position].ret.is_none());
        let mut kept: Vec<usize> = Vec::with_capacity(indices.len() - left_out.len());
        let mut skip = left_out.iter().peekable();
        for (position, &index) in indices.iter().enumerate() {
            if skip.next_if_eq(&&position).is_none() {
                kept.push(index);
            }
        }
        let operations: Vec<PartOperation<'_, M>> = kept
            .iter()
            .map(|&index| self.part_operation(index))
            .collect();
        let mut stats = SearchStats {
            unobserved: left_out.len() as u64,
            ..SearchStats::default()
        };
        let frame = Frame {
            label,
            kept: &kept,
            unobserved: left_out.len(),
        };
        if self.shortcuts
            && let Some(found) = self.shortcut(&kept, &operations)
        {
            stats.by_shortcut = true;
            let verdict = match found {
                Ok(()) => Verdict::Linearizable,
                Err((involved, reason)) => {
                    self.explain_conflict(&frame, &operations, &involved, reason, budget)
                }
            };
            return (verdict, stats);
        }
        let verdict = match search(&self.model, &operations, budget, &mut stats) {
            Outcome::Linearizable => Verdict::Linearizable,
            Outcome::OutOfBudget(reason) => Verdict::Unknown(match label {
                Some(label) => format!("part {label:?}: {reason}"),
                None => reason,
            }),
            Outcome::Stuck(stuck) => {
                Verdict::NotLinearizable(Box::new(self.explanation(&frame, &kept, stuck, None)))
            }
        };
        (verdict, stats)
    }

    fn part_operation(&self, index: usize) -> PartOperation<'_, M> {
        let operation = &self.history.operations[index];
        let (input, output) = &self.converted[index];
        PartOperation {
            input,
            output: output.as_ref(),
            call: operation.call,
            ret: operation.ret,
        }
    }

    /// An explanation over `shown` (history indices, in order) from a search that
    /// got stuck on exactly those operations.
    fn explanation(
        &self,
        frame: &Frame<'_>,
        shown: &[usize],
        stuck: Stuck<M::State>,
        reason: Option<String>,
    ) -> Explanation {
        Explanation {
            model: self.model.name().to_string(),
            part: frame.label.clone(),
            operations: shown
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
            reason,
            unobserved: frame.unobserved,
        }
    }

    /// Decide the part without the search when it is a unique-value register
    /// ([`zones`]) or an append-only string ([`chain`]): `None` when neither
    /// applies, `Some(Err((involved, reason)))` for a violation.
    #[allow(clippy::type_complexity)]
    fn shortcut(
        &self,
        kept: &[usize],
        operations: &[PartOperation<'_, M>],
    ) -> Option<Result<(), (Vec<usize>, String)>> {
        fn one_name<T>(accesses: &[(&str, T)]) -> bool {
            accesses.windows(2).all(|pair| pair[0].0 == pair[1].0)
        }
        let registers: Option<Vec<(&str, RegisterOp<'_>)>> = operations
            .iter()
            .map(|operation| {
                let (name, access) = self.model.access(operation.input, operation.output)?;
                Some((
                    name,
                    RegisterOp {
                        access,
                        call: operation.call,
                        ret: operation.ret,
                    },
                ))
            })
            .collect();
        if let Some(registers) = registers
            && one_name(&registers)
        {
            let registers: Vec<RegisterOp<'_>> = registers.into_iter().map(|(_, op)| op).collect();
            match zones::decide(&registers) {
                Decision::NotApplicable => {}
                Decision::Linearizable => return Some(Ok(())),
                Decision::Violation(conflict, clusters) => {
                    let reason = self.describe_conflict(kept, operations, &conflict);
                    return Some(Err((conflict.involved(&clusters), reason)));
                }
            }
        }
        let appends: Option<Vec<(&str, AppendOp<'_>)>> = operations
            .iter()
            .map(|operation| {
                let (name, access) = self
                    .model
                    .append_access(operation.input, operation.output)?;
                Some((
                    name,
                    AppendOp {
                        access,
                        call: operation.call,
                        ret: operation.ret,
                    },
                ))
            })
            .collect();
        if let Some(appends) = appends
            && one_name(&appends)
        {
            let appends: Vec<AppendOp<'_>> = appends.into_iter().map(|(_, op)| op).collect();
            match chain::decide(&appends) {
                AppendDecision::NotApplicable => {}
                AppendDecision::Linearizable => return Some(Ok(())),
                AppendDecision::Violation(conflict) => {
                    let reason = self.describe_append_conflict(kept, operations, &conflict);
                    return Some(Err((conflict.involved(), reason)));
                }
            }
        }
        None
    }

    /// Explain a violation a shortcut found: state the reason, and search the
    /// operations invoked up to the last one the reason involves (they are not
    /// linearizable either, and are usually far fewer) for the usual prefix and
    /// culprit. If that search runs out of its share of the budget, the
    /// explanation is the reason alone, at the operation that completes it.
    fn explain_conflict(
        &self,
        frame: &Frame<'_>,
        operations: &[PartOperation<'_, M>],
        involved: &[usize],
        reason: String,
        budget: &Budget<'_>,
    ) -> Verdict {
        let horizon = involved
            .iter()
            .map(|&position| operations[position].call)
            .max()
            .unwrap_or(0);
        let share = budget.with_states(budget.max_states.min(EXPLAIN_STATES));
        // First the operations invoked up to the horizon, then (should those
        // be linearizable after all, or too many) the whole part.
        let everything: Vec<usize> = (0..operations.len()).collect();
        let up_to_horizon: Vec<usize> = everything
            .iter()
            .copied()
            .filter(|&position| operations[position].call <= horizon)
            .collect();
        for attempt in [&up_to_horizon, &everything] {
            let sub: Vec<PartOperation<'_, M>> = attempt
                .iter()
                .map(|&position| PartOperation {
                    ..operations[position]
                })
                .collect();
            let mut ignored = SearchStats::default();
            if let Outcome::Stuck(stuck) = search(&self.model, &sub, &share, &mut ignored) {
                let shown: Vec<usize> = attempt
                    .iter()
                    .map(|&position| frame.kept[position])
                    .collect();
                return Verdict::NotLinearizable(Box::new(self.explanation(
                    frame,
                    &shown,
                    stuck,
                    Some(reason),
                )));
            }
            if attempt.len() == everything.len() {
                break;
            }
        }
        let shown: Vec<usize> = frame.kept.to_vec();
        // The reason alone: the operation invoked last among those involved is
        // the one that completes it.
        let culprit = involved
            .iter()
            .copied()
            .max_by_key(|&position| (operations[position].call, position))
            .unwrap_or(0);
        let stuck = Stuck {
            prefix: Vec::new(),
            state: self.model.init(),
            culprit,
            candidates: Vec::new(),
        };
        let mut explanation = self.explanation(frame, &shown, stuck, Some(reason));
        explanation.state = format!(
            "(not reconstructed: the search for a prefix did not finish within {} states)",
            share.max_states
        );
        Verdict::NotLinearizable(Box::new(explanation))
    }

    /// `#12 (read -> 3)`: the operation at a position of the part's kept ones.
    fn name_of(&self, kept: &[usize], position: usize) -> String {
        let operation = &self.history.operations[kept[position]];
        format!(
            "#{} ({})",
            operation.index,
            self.model.describe_operation(operation)
        )
    }

    /// One sentence on why the append-only string has no linearization.
    fn describe_append_conflict(
        &self,
        kept: &[usize],
        operations: &[PartOperation<'_, M>],
        conflict: &AppendConflict,
    ) -> String {
        let name = |position: usize| self.name_of(kept, position);
        match *conflict {
            AppendConflict::Diverged { read, longest } => format!(
                "{} returned a string that {}'s longer one does not start with, but appends never reorder or vanish",
                name(read),
                name(longest)
            ),
            AppendConflict::NotBuilt { read, offset } => format!(
                "{} returned a string that no sequence of distinct appends builds (from byte {offset} on)",
                name(read)
            ),
            AppendConflict::TooLate { late, after, .. } => format!(
                "in the only order the reads allow, {} takes effect after {}, which was invoked at t={}, but it returned at t={}",
                name(late),
                name(after),
                operations[after].call,
                operations[late].ret.unwrap_or(u64::MAX)
            ),
        }
    }

    /// One sentence on why the register has no linearization.
    fn describe_conflict(
        &self,
        kept: &[usize],
        operations: &[PartOperation<'_, M>],
        conflict: &Conflict,
    ) -> String {
        let name = |position: usize| self.name_of(kept, position);
        // History times are the file's own units (nanoseconds in faultline's
        // histories, line numbers in a Jepsen log).
        let time = |at: u64| format!("t={at}");
        let hold = |cluster: &Cluster| {
            let value = match cluster.write {
                Some(write) => format!("the value written by {}", name(write)),
                None => "the initial value".to_string(),
            };
            let from = match cluster.first_return {
                Some(first) => format!(
                    "from {} (when {} returned)",
                    operations[first].ret.map_or("never".to_string(), time),
                    name(first)
                ),
                None => "from the start".to_string(),
            };
            let to = match cluster.last_call {
                Some(last) => format!(
                    "to {} (when {} was invoked)",
                    time(operations[last].call),
                    name(last)
                ),
                None => String::new(),
            };
            format!("{value} must be the register's value {from} {to}")
        };
        match conflict {
            Conflict::NeverWritten { read } => {
                format!("{} returned a value that no operation wrote", name(*read))
            }
            Conflict::BeforeItsWrite { read, write } => format!(
                "{} returned before {}, the write of its value, was invoked",
                name(*read),
                name(*write)
            ),
            Conflict::Overlap(first, second) => format!(
                "{}, and {}: the two stretches overlap",
                hold(first),
                hold(second)
            ),
            Conflict::Inside { outer, inner } => {
                let members = match inner.write {
                    Some(write) => format!("{} and its reads", name(write)),
                    None => "the reads of the initial value".to_string(),
                };
                format!(
                    "{}, but {members} all fall inside that stretch",
                    hold(outer)
                )
            }
        }
    }
}

/// States the search for an explanation of a zone conflict may explore.
const EXPLAIN_STATES: u64 = 1_000_000;

/// What a part's explanation says about the part as a whole.
struct Frame<'a> {
    label: &'a Option<String>,
    /// The history indices of the operations checked.
    kept: &'a [usize],
    /// How many unknown-outcome operations were left out.
    unobserved: usize,
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

/// The first round's state budget per part (see [`check_in_rounds`]).
pub const FIRST_ROUND_STATES: u64 = 50_000;
/// Each round's state budget is this many times the last one's.
pub const ROUND_GROWTH: u64 = 8;

/// A round of [`check_in_rounds`]: check these parts (in this order of
/// preference) under this budget, returning one result per part, in the same
/// order. A runner may skip parts after one that is not linearizable (return
/// [`Verdict::Unknown`] for them): they cannot be the one reported.
pub type RoundRunner<'r> = dyn FnMut(&[usize], &Budget<'_>) -> Vec<(Verdict, SearchStats)> + 'r;

/// Check every part in rounds of growing state budgets, so a failing part is
/// found as soon as it fails rather than after every part before it has been
/// decided: round one gives each part [`FIRST_ROUND_STATES`], each later round
/// [`ROUND_GROWTH`] times more (up to the budget's cap) to the parts the last one
/// left undecided by its state cap. After the first round in which some part is
/// not linearizable, the lowest such part is the verdict. The result never depends
/// on timing (except through a deadline in the budget) or on how a runner spreads
/// a round over threads. A part left alone gets the full cap at once; otherwise
/// re-checking a part costs at most what its last round costs, and far less
/// when it needs much more than the first round's budget.
pub fn check_in_rounds(
    budget: &Budget<'_>,
    parts: usize,
    run_round: &mut RoundRunner<'_>,
) -> Verdict {
    let mut verdicts: Vec<Option<Verdict>> = (0..parts).map(|_| None).collect();
    let mut pending: Vec<usize> = (0..parts).collect();
    let mut cap = FIRST_ROUND_STATES.min(budget.max_states);
    while !pending.is_empty() {
        if pending.len() == 1 {
            // No other part can fail first: one search at the full cap, so a
            // lone hard part is not searched twice.
            cap = budget.max_states;
        }
        let round = budget.with_states(cap);
        let results = run_round(&pending, &round);
        let mut undecided = Vec::new();
        for (&part, (verdict, stats)) in pending.iter().zip(results) {
            match verdict {
                Verdict::Unknown(_) if cap < budget.max_states && stats.states > cap => {
                    undecided.push(part);
                }
                verdict => verdicts[part] = Some(verdict),
            }
        }
        if let Some(failing) = verdicts
            .iter()
            .position(|verdict| matches!(verdict, Some(Verdict::NotLinearizable(_))))
        {
            return verdicts[failing].take().expect("just found");
        }
        pending = undecided;
        cap = cap.saturating_mul(ROUND_GROWTH).min(budget.max_states);
    }
    combine(
        verdicts
            .into_iter()
            .map(|verdict| verdict.unwrap_or_else(|| Verdict::Unknown("part not checked".into()))),
    )
}

/// Check every part on the calling thread, in rounds ([`check_in_rounds`]).
pub fn check_sequentially(prepared: &dyn PreparedCheck, budget: &Budget<'_>) -> Verdict {
    check_in_rounds(budget, prepared.part_count(), &mut |parts, round| {
        let mut failed = false;
        parts
            .iter()
            .map(|&part| {
                if failed {
                    return (
                        Verdict::Unknown("skipped: an earlier part failed".into()),
                        SearchStats::default(),
                    );
                }
                let result = prepared.check_part_with_stats(part, round);
                failed = matches!(result.0, Verdict::NotLinearizable(_));
                result
            })
            .collect()
    })
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
                reason: None,
                unobserved: 0,
            }))
        };
        assert_eq!(
            combine([unknown(), failure("a"), failure("b")]),
            failure("a")
        );
    }
}
