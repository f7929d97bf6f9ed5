//! The client half of a replicated service's liveness: every operation a client
//! had open when the faults healed must complete, and may time out only if its
//! deadline fell within a grace period after the heal (the time the cluster needs
//! to elect a leader and the client to retry). Raft and Paxos share it.

use super::Finding;
use crate::sim::time::{Duration, format_nanos};
use crate::sim::{EventType, HistoryEvent, Protocol, Step, World};
use std::collections::BTreeMap;

/// Watches for the heal and judges the operations open then. See the module
/// documentation.
#[derive(Clone, Debug)]
pub struct OpenAtHeal {
    /// When the faults healed, and which client processes had an operation open.
    healed: Option<(u64, Vec<u64>)>,
    grace: Duration,
}

impl OpenAtHeal {
    /// A watcher allowing `grace` after the heal before operations must succeed.
    pub fn new(grace: Duration) -> Self {
        OpenAtHeal {
            healed: None,
            grace,
        }
    }

    /// When the faults healed, once they have.
    pub fn healed(&self) -> Option<u64> {
        self.healed.as_ref().map(|(time, _)| *time)
    }

    /// Call after every step: the first fault step after the workload closed
    /// is the heal.
    pub fn observe<P: Protocol>(&mut self, world: &World<P>, step: Step) {
        if matches!(step, Step::Fault) && self.healed.is_none() && !world.workload_open() {
            self.healed = Some((world.now(), open_operations(world.history())));
        }
    }

    /// The operations open at the heal that never completed, or timed out
    /// after the grace period.
    pub fn findings(&self, history: &[HistoryEvent]) -> Vec<Finding> {
        let mut findings = Vec::new();
        let Some((healed, open)) = &self.healed else {
            return findings;
        };
        let deadline = healed + self.grace.0;
        for &process in open {
            let completion = history
                .iter()
                .filter(|event| event.process == process && event.time >= *healed)
                .find(|event| event.kind != EventType::Invoke);
            match completion {
                None => findings.push(Finding::eventually("liveness", format!(
                        "client {process}'s operation, open when the faults healed at {}, never completed",
                        format_nanos(*healed)
                    ))),
                Some(event) if event.kind == EventType::Info && event.time > deadline => findings
                    .push(Finding::eventually("liveness", format!(
                            "client {process}'s {} on {:?}, open when the faults healed at {}, timed out at {} although the cluster had {} to recover",
                            event.f,
                            event.key.as_deref().unwrap_or(""),
                            format_nanos(*healed),
                            format_nanos(event.time),
                            self.grace
                        ))),
                Some(_) => {}
            }
        }
        findings
    }
}

/// The client processes whose last history event is an invocation.
fn open_operations(history: &[HistoryEvent]) -> Vec<u64> {
    let mut open: BTreeMap<u64, bool> = BTreeMap::new();
    for event in history {
        open.insert(event.process, event.kind == EventType::Invoke);
    }
    open.into_iter()
        .filter_map(|(process, open)| open.then_some(process))
        .collect()
}
