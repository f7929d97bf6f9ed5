//! Text rendering of an [`Explanation`]: the longest linearizable prefix, the state
//! it ends in, the operation that returned too early and what could have come next.

use super::verdict::{ExplainedOperation, Explanation, Refusal};
use std::fmt;

/// How many prefix operations the text shows (the last ones; the SVG shows all).
const PREFIX_SHOWN: usize = 12;

impl ExplainedOperation {
    /// `#12 process 3 (lines 40-42): read -> 1`
    pub fn label(&self) -> String {
        let lines = match self.return_line {
            Some(return_line) => format!("lines {}-{}", self.call_line, return_line),
            None => format!("line {}, outcome unknown", self.call_line),
        };
        format!(
            "#{} process {} ({lines}): {}",
            self.index, self.process, self.description
        )
    }
}

impl Explanation {
    /// The operation at a position of [`Explanation::operations`].
    pub fn operation(&self, position: usize) -> &ExplainedOperation {
        &self.operations[position]
    }
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.part {
            Some(part) => writeln!(
                f,
                "model {}, independent part {part:?} ({} operations)",
                self.model,
                self.operations.len()
            )?,
            None => writeln!(
                f,
                "model {} ({} operations)",
                self.model,
                self.operations.len()
            )?,
        }
        if self.unobserved > 0 {
            writeln!(
                f,
                "({} unknown-outcome operations left out: nothing observed their effect)",
                self.unobserved
            )?;
        }
        if let Some(reason) = &self.reason {
            writeln!(f, "why: {reason}")?;
        }
        writeln!(
            f,
            "longest linearizable prefix: {} operations, ending in state: {}",
            self.prefix.len(),
            self.state
        )?;
        let hidden = self.prefix.len().saturating_sub(PREFIX_SHOWN);
        if hidden > 0 {
            writeln!(f, "  ... {hidden} earlier operations")?;
        }
        for (order, &position) in self.prefix.iter().enumerate().skip(hidden) {
            writeln!(
                f,
                "  {:>4}. {}",
                order + 1,
                self.operation(position).label()
            )?;
        }
        writeln!(
            f,
            "stuck: {} returned before it could take effect",
            self.operation(self.culprit).label()
        )?;
        writeln!(
            f,
            "operations that could have been placed next, none of which works:"
        )?;
        for &(position, refusal) in &self.candidates {
            let why = match refusal {
                Refusal::Invalid => "refused by the model in this state",
                Refusal::DeadEnd => "allowed, but every continuation fails",
            };
            writeln!(f, "  {} -- {why}", self.operation(position).label())?;
        }
        Ok(())
    }
}
