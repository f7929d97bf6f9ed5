//! What a txn run is judged by.
//!
//! - **`atomic_commitment`** (always): every shard that applies a decision on
//!   a transaction applies the one the coordinator made; a commit is applied
//!   only by a shard that voted yes; no decision changes, at the coordinator
//!   (across its restarts: a commit it forgot and then presumed aborted) or
//!   at a shard; and no shard is told of a commit it holds no prepare for
//!   (it cannot make the writes it promised).
//! - **`bank`** (always, bank workload): every committed read of the whole
//!   bank sees no negative balance and exactly the bank's total; so does the
//!   store at the end of the run, once every transaction has decided.
//! - **`isolation`** (at the end, list-append workload): the history is
//!   strict serializable, by [`crate::check::isolation`] (Elle's
//!   list-append inference and cycle search).
//! - **`transactions_decide`** (eventually): after the faults heal and the
//!   liveness window runs, every node serves, no shard is in doubt or holds a
//!   lock, the coordinator has nothing open, and every committed
//!   transaction's commit was applied at every participant.
//!
//! Beside the verdict it measures *blocking*: how long shards spent prepared
//! and uncertain (from a yes vote to learning the decision, across the
//! shard's restarts), and the commit protocol's cost per committed
//! transaction (messages, forced records, syncs).

use super::client::{READ, TXN};
use super::coordinator::CoordinatorEvent;
use super::shard::ShardEvent;
use super::{Txn, TxnId, TxnWorkload};
use crate::check::isolation::{self, Key, Mop, Outcome};
use crate::check::{Checker, Finding};
use crate::sim::history::{EventType, HistoryEvent, Value};
use crate::sim::{ProcessId, Step, World};
use std::collections::{BTreeMap, BTreeSet};

/// The txn checker (see the module documentation).
#[derive(Clone, Debug)]
pub struct TxnChecker {
    workload: TxnWorkload,
    total: i64,
    coordinators: usize,
    nodes: usize,
    /// Per node: the incarnation read and how many of its events.
    cursors: Vec<(u32, usize)>,
    /// Per node: costs of earlier incarnations, and the last seen of this one.
    costs_done: Vec<(u64, u64, u64)>,
    costs_now: Vec<(u64, u64, u64)>,
    history_cursor: usize,
    decisions: BTreeMap<TxnId, bool>,
    participants: BTreeMap<TxnId, Vec<ProcessId>>,
    yes: BTreeSet<(TxnId, ProcessId)>,
    applied: BTreeMap<(TxnId, ProcessId), bool>,
    /// Shards prepared and uncertain: since when (true time).
    uncertain: BTreeMap<(ProcessId, TxnId), u64>,
    blocked: Vec<u64>,
    committed: u64,
    aborted: u64,
    bank_reads: u64,
    failed: bool,
}

impl TxnChecker {
    /// A checker for a run with `coordinators` coordinator nodes and `nodes`
    /// nodes in all.
    pub fn new(workload: TxnWorkload, total: i64, coordinators: usize, nodes: usize) -> Self {
        TxnChecker {
            workload,
            total,
            coordinators,
            nodes,
            cursors: vec![(0, 0); nodes],
            costs_done: vec![(0, 0, 0); nodes],
            costs_now: vec![(0, 0, 0); nodes],
            history_cursor: 0,
            decisions: BTreeMap::new(),
            participants: BTreeMap::new(),
            yes: BTreeSet::new(),
            applied: BTreeMap::new(),
            uncertain: BTreeMap::new(),
            blocked: Vec::new(),
            committed: 0,
            aborted: 0,
            bank_reads: 0,
            failed: false,
        }
    }

    fn fail(&mut self, message: String) -> Option<Finding> {
        if self.failed {
            return None;
        }
        self.failed = true;
        Some(Finding::always("atomic_commitment", message))
    }

    fn decide(&mut self, txn: TxnId, commit: bool, how: &str) -> Option<Finding> {
        match self.decisions.get(&txn) {
            Some(&before) if before != commit => {
                return self.fail(format!(
                    "the coordinator decided {txn} {} and later {} ({how})",
                    verb(before),
                    verb(commit)
                ));
            }
            Some(_) => return None,
            None => {}
        }
        self.decisions.insert(txn, commit);
        if commit {
            self.committed += 1;
        } else {
            self.aborted += 1;
        }
        // A shard that applied the other decision already.
        let other = self
            .applied
            .range((txn, 0)..=(txn, ProcessId::MAX))
            .find(|(_, applied)| **applied != commit)
            .map(|((_, node), _)| *node);
        if let Some(node) = other {
            return self.fail(format!(
                "node {node} applied {} on {txn}, and the coordinator decided {}",
                verb(!commit),
                verb(commit)
            ));
        }
        None
    }

    fn look(&mut self, world: &World<Txn>, node: ProcessId) -> Option<Finding> {
        if node >= self.nodes || !world.is_up(node) {
            return None;
        }
        let incarnation = world.incarnation(node);
        if self.cursors[node].0 != incarnation {
            self.cursors[node] = (incarnation, 0);
            let (a, b, c) = self.costs_now[node];
            let done = &mut self.costs_done[node];
            *done = (done.0 + a, done.1 + b, done.2 + c);
            self.costs_now[node] = (0, 0, 0);
        }
        let now = world.now();
        let mut finding = None;
        let state = world.node(node);
        self.costs_now[node] = state.costs();
        if let Some(decisions) = state.decisions() {
            let events = &decisions[self.cursors[node].1..];
            self.cursors[node].1 += events.len();
            for event in events {
                let found = match event {
                    CoordinatorEvent::Decided {
                        txn,
                        commit,
                        participants,
                    } => {
                        self.participants.insert(*txn, participants.clone());
                        let missing: Vec<ProcessId> = participants
                            .iter()
                            .filter(|&&p| !self.yes.contains(&(*txn, p)))
                            .copied()
                            .collect();
                        if *commit && !missing.is_empty() {
                            self.fail(format!(
                                "the coordinator committed {txn} though {} never voted yes",
                                nodes_text(&missing)
                            ))
                        } else {
                            self.decide(*txn, *commit, "its commit record was lost")
                        }
                    }
                    CoordinatorEvent::PresumedAbort { txn } => {
                        self.decide(*txn, false, "it answered a query by presumed abort")
                    }
                    CoordinatorEvent::Damaged { .. } => None,
                };
                finding = finding.or(found);
            }
        } else if let Some(shard) = state.shard() {
            let events = &shard.events()[self.cursors[node].1..];
            self.cursors[node].1 += events.len();
            for event in events {
                let found = match event {
                    ShardEvent::Voted { txn, yes } => {
                        if *yes {
                            self.yes.insert((*txn, node));
                            self.uncertain.insert((node, *txn), now);
                        }
                        None
                    }
                    ShardEvent::Applied { txn, commit } => {
                        if let Some(since) = self.uncertain.remove(&(node, *txn)) {
                            self.blocked.push(now - since);
                        }
                        let before = self.applied.insert((*txn, node), *commit);
                        if before.is_some_and(|before| before != *commit) {
                            self.fail(format!(
                                "node {node} applied {} on {txn}, and after a restart {}",
                                verb(!*commit),
                                verb(*commit)
                            ))
                        } else if *commit && !self.yes.contains(&(*txn, node)) {
                            self.fail(format!(
                                "node {node} applied a commit of {txn} it never voted yes on"
                            ))
                        } else {
                            match self.decisions.get(txn) {
                                Some(&decided) if decided != *commit => self.fail(format!(
                                    "node {node} applied {} on {txn}, and the coordinator decided {}",
                                    verb(*commit),
                                    verb(decided)
                                )),
                                _ => None,
                            }
                        }
                    }
                    ShardEvent::CommitUnprepared { txn, known } => {
                        let why = match known {
                            Some(_) => "it had aborted it",
                            None => {
                                "it holds no prepare record of it (its vote was not durable, or it never voted)"
                            }
                        };
                        self.fail(format!(
                            "node {node} was told {txn} committed, but {why}: its writes there are lost"
                        ))
                    }
                    ShardEvent::Recovered { dropped, .. } => {
                        for txn in dropped {
                            self.uncertain.remove(&(node, *txn));
                        }
                        None
                    }
                    ShardEvent::Damaged { .. } => None,
                };
                finding = finding.or(found);
            }
        }
        finding
    }

    fn look_at_history(&mut self, world: &World<Txn>) -> Option<Finding> {
        if self.workload != TxnWorkload::Bank {
            return None;
        }
        let history = world.history();
        let mut finding = None;
        for event in &history[self.history_cursor..] {
            if event.kind != EventType::Ok || event.f != READ || finding.is_some() {
                continue;
            }
            self.bank_reads += 1;
            let Value::List(balances) = &event.value else {
                continue;
            };
            let balances: Vec<i64> = balances.iter().filter_map(Value::as_int).collect();
            let sum: i64 = balances.iter().sum();
            if sum != self.total || balances.iter().any(|&b| b < 0) {
                finding = Some(Finding::always(
                    "bank",
                    format!(
                        "client {} read balances {balances:?} at {:.3}s: they sum to {sum}, not {}{}",
                        event.process,
                        event.time as f64 / 1e9,
                        self.total,
                        if balances.iter().any(|&b| b < 0) {
                            ", with a negative balance"
                        } else {
                            ""
                        }
                    ),
                ));
            }
        }
        self.history_cursor = history.len();
        finding
    }
}

fn verb(commit: bool) -> &'static str {
    if commit { "commit" } else { "abort" }
}

fn nodes_text(nodes: &[ProcessId]) -> String {
    let names: Vec<String> = nodes.iter().map(|n| format!("node {n}")).collect();
    names.join(" and ")
}

/// The list-append history as the isolation checker's transactions.
pub fn transactions(history: &[HistoryEvent]) -> Vec<isolation::Txn> {
    let mut txns: Vec<isolation::Txn> = Vec::new();
    let mut open: BTreeMap<u64, usize> = BTreeMap::new();
    for (position, event) in history.iter().enumerate() {
        if event.f != TXN {
            continue;
        }
        let index = position as i64;
        match event.kind {
            EventType::Invoke => {
                open.insert(event.process, txns.len());
                txns.push(isolation::Txn {
                    process: event.process as i64,
                    invoke_index: index,
                    invoke_time: Some(event.time as i64),
                    complete_index: None,
                    complete_time: None,
                    outcome: Outcome::Info,
                    mops: history_mops(&event.value, false),
                    invoke_position: position,
                    complete_position: None,
                });
            }
            kind => {
                let Some(at) = open.remove(&event.process) else {
                    continue;
                };
                let txn = &mut txns[at];
                txn.complete_index = Some(index);
                txn.complete_time = Some(event.time as i64);
                txn.complete_position = Some(position);
                txn.outcome = match kind {
                    EventType::Ok => Outcome::Ok,
                    EventType::Fail => Outcome::Fail,
                    _ => Outcome::Info,
                };
                if kind == EventType::Ok {
                    txn.mops = history_mops(&event.value, true);
                }
            }
        }
    }
    txns
}

fn history_mops(value: &Value, with_reads: bool) -> Vec<Mop> {
    let Value::List(mops) = value else {
        return Vec::new();
    };
    mops.iter()
        .filter_map(|mop| {
            let Value::List(parts) = mop else {
                return None;
            };
            let key = Key::Int(parts.get(1)?.as_int()?);
            match parts.first()?.as_str()? {
                "append" => Some(Mop::Append {
                    key,
                    value: parts.get(2)?.as_int()?,
                }),
                _ => {
                    let list = match parts.get(2) {
                        Some(Value::List(values)) if with_reads => {
                            Some(values.iter().filter_map(Value::as_int).collect())
                        }
                        _ => None,
                    };
                    Some(Mop::Read { key, list })
                }
            }
        })
        .collect()
}

impl Checker<Txn> for TxnChecker {
    fn name(&self) -> &'static str {
        "txn"
    }

    fn after_step(&mut self, world: &World<Txn>, step: Step) -> Option<Finding> {
        match step {
            Step::Delivered { to, .. } if to < self.nodes => self.look(world, to),
            Step::Delivered { .. } => self.look_at_history(world),
            Step::Timer { process } if process < self.nodes => self.look(world, process),
            Step::Timer { .. } => self.look_at_history(world),
            Step::Fault | Step::Driver => {
                let mut finding = None;
                for node in 0..self.nodes {
                    finding = finding.or(self.look(world, node));
                }
                finding.or(self.look_at_history(world))
            }
            Step::Dropped | Step::Skipped => None,
        }
    }

    fn at_end(&mut self, world: &World<Txn>) -> Vec<Finding> {
        let mut findings = Vec::new();
        for node in 0..self.nodes {
            if let Some(finding) = self.look(world, node) {
                findings.push(finding);
            }
        }
        if let Some(finding) = self.look_at_history(world) {
            findings.push(finding);
        }
        // Shards still uncertain at the end were blocked until then.
        let now = world.now();
        for since in std::mem::take(&mut self.uncertain).into_values() {
            self.blocked.push(now - since);
        }
        if self.workload == TxnWorkload::ListAppend {
            let txns = transactions(world.history());
            let report = isolation::check(&txns, &isolation::Options::default());
            if report.valid == isolation::Validity::Invalid {
                let cycle = report
                    .cycles
                    .first()
                    .map(|cycle| format!(": {}", cycle.summary()))
                    .unwrap_or_default();
                findings.push(Finding::always(
                    "isolation",
                    format!(
                        "the list-append history is not strict serializable: {} (not {}){cycle}",
                        report.anomaly_types.join(", "),
                        report.not.join(", ")
                    ),
                ));
            }
        }
        // Liveness: everything decided, released and applied.
        let mut stuck = Vec::new();
        for node in 0..self.nodes {
            if !world.is_up(node) {
                stuck.push(format!("node {node} is down"));
                continue;
            }
            let state = world.node(node);
            if let Some((open, serving)) = state.coordinating() {
                if !serving {
                    stuck.push(format!(
                        "the coordinator (node {node}) is not serving (damaged or recovering)"
                    ));
                }
                let open: Vec<String> = open.iter().map(|t| t.to_string()).collect();
                if !open.is_empty() {
                    stuck.push(format!(
                        "the coordinator (node {node}) still has {} open ({})",
                        open.len(),
                        open.iter().take(3).cloned().collect::<Vec<_>>().join(", ")
                    ));
                }
            }
            if let Some(shard) = state.shard() {
                if !shard.serving() {
                    stuck.push(format!(
                        "node {node} is not serving (damaged or recovering)"
                    ));
                    continue;
                }
                let doubt: Vec<String> = shard.in_doubt().map(|t| t.to_string()).collect();
                if !doubt.is_empty() {
                    stuck.push(format!(
                        "node {node} is in doubt about {} ({})",
                        doubt.len(),
                        doubt.iter().take(3).cloned().collect::<Vec<_>>().join(", ")
                    ));
                } else if shard.holds_locks() {
                    stuck.push(format!("node {node} still holds locks"));
                }
            }
        }
        for (txn, commit) in &self.decisions {
            if !commit {
                continue;
            }
            for &node in self.participants.get(txn).into_iter().flatten() {
                if self.applied.get(&(*txn, node)) != Some(&true) {
                    stuck.push(format!("{txn} committed but node {node} never applied it"));
                }
            }
        }
        if !stuck.is_empty() {
            let shown: Vec<String> = stuck.iter().take(4).cloned().collect();
            findings.push(Finding::eventually(
                "transactions_decide",
                format!(
                    "after the heal: {}{}",
                    shown.join("; "),
                    if stuck.len() > 4 {
                        format!(" (and {} more)", stuck.len() - 4)
                    } else {
                        String::new()
                    }
                ),
            ));
        } else if self.workload == TxnWorkload::Bank {
            let mut sum = 0;
            let mut balances = BTreeMap::new();
            for node in self.coordinators..self.nodes {
                if let Some(shard) = world.node(node).shard() {
                    for (&account, &balance) in shard.balances() {
                        sum += balance;
                        balances.insert(account, balance);
                    }
                }
            }
            if sum != self.total || balances.values().any(|&b| b < 0) {
                findings.push(Finding::always(
                    "bank",
                    format!(
                        "at the end the accounts hold {:?}: {sum} in all, not {}",
                        balances.values().collect::<Vec<_>>(),
                        self.total
                    ),
                ));
            }
        }
        findings
    }

    fn measures(&self) -> Vec<(&'static str, f64)> {
        let max = self.blocked.iter().copied().max().unwrap_or(0);
        let mean = if self.blocked.is_empty() {
            0.0
        } else {
            self.blocked.iter().sum::<u64>() as f64 / self.blocked.len() as f64
        };
        let mut forced = 0;
        let mut syncs = 0;
        let mut messages = 0;
        for node in 0..self.nodes {
            let (done, now) = (self.costs_done[node], self.costs_now[node]);
            forced += done.0 + now.0;
            syncs += done.1 + now.1;
            messages += done.2 + now.2;
        }
        let committed = self.committed.max(1) as f64;
        let participants: usize = self
            .decisions
            .iter()
            .filter(|(_, commit)| **commit)
            .filter_map(|(txn, _)| self.participants.get(txn))
            .map(Vec::len)
            .sum();
        vec![
            ("txn_committed", self.committed as f64),
            ("txn_aborted", self.aborted as f64),
            ("txn_blocking_max_ms", max as f64 / 1e6),
            ("txn_blocking_mean_ms", mean / 1e6),
            ("txn_participants_mean", participants as f64 / committed),
            ("txn_messages_per_commit", messages as f64 / committed),
            ("txn_forced_per_commit", forced as f64 / committed),
            ("txn_syncs_per_commit", syncs as f64 / committed),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(process: u64, kind: EventType, value: Value) -> HistoryEvent {
        HistoryEvent {
            process,
            kind,
            f: TXN.into(),
            key: None,
            value,
            time: 0,
        }
    }

    fn mop(f: &str, key: i64, value: Value) -> Value {
        Value::List(vec![Value::Str(f.into()), Value::Int(key), value])
    }

    #[test]
    fn a_history_becomes_transactions_with_reads_only_when_ok() {
        let invoked = Value::List(vec![
            mop("append", 1, Value::Int(5)),
            mop("r", 1, Value::Nil),
        ]);
        let done = Value::List(vec![
            mop("append", 1, Value::Int(5)),
            mop("r", 1, Value::List(vec![Value::Int(5)])),
        ]);
        let history = vec![
            event(0, EventType::Invoke, invoked.clone()),
            event(1, EventType::Invoke, invoked.clone()),
            event(0, EventType::Ok, done),
            event(1, EventType::Info, invoked),
        ];
        let txns = transactions(&history);
        assert_eq!(txns.len(), 2);
        assert_eq!(txns[0].outcome, Outcome::Ok);
        assert_eq!(txns[0].complete_index, Some(2));
        assert_eq!(
            txns[0].mops,
            vec![
                Mop::Append {
                    key: Key::Int(1),
                    value: 5
                },
                Mop::Read {
                    key: Key::Int(1),
                    list: Some(vec![5])
                }
            ]
        );
        assert_eq!(txns[1].outcome, Outcome::Info);
        assert_eq!(
            txns[1].mops[1],
            Mop::Read {
                key: Key::Int(1),
                list: None
            }
        );
    }
}
