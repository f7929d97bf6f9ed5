//! What every replicated key/value service shares as the tool sees it: the
//! checks of the `[protocol]` keys they have in common, the checkers (the
//! protocol's own plus linearizability of the client history on the kv model),
//! the picture of a non-linearizable history, and the benchmark scenario. Raft
//! and Paxos use it; so will the storage and transaction protocols built on them.

use super::{KvOpKind, KvProtocol};
use crate::check::models::Kv;
use crate::check::{Budget, Checker, Explanation, Linearizability, Verdict};
use crate::sim::HistoryEvent;
use crate::sim::time::{Duration, DurationRange};
use crate::spec::Invalid;

/// The `[protocol]` keys a kv service has in common, as read.
#[derive(Clone, Copy, Debug)]
pub struct ServiceKeys<'a> {
    /// `election_timeout`.
    pub election_timeout: DurationRange,
    /// `keys`.
    pub keys: u32,
    /// `ops`.
    pub ops: &'a [KvOpKind],
    /// `max_batch`.
    pub max_batch: usize,
    /// What `max_batch` counts, in the protocol's words, as the error says it
    /// (`expected at least 1 entry per append`).
    pub batch_message: &'a str,
}

/// Checks the keys every kv service shares: a positive election timeout, at
/// least one key and one operation kind, and a positive batch size.
pub fn validate_service(keys: &ServiceKeys<'_>) -> Result<(), Invalid> {
    if keys.election_timeout.min.0 == 0 {
        return Err(Invalid::key(
            "protocol.election_timeout",
            "expected a positive election timeout",
        ));
    }
    if keys.keys == 0 {
        return Err(Invalid::key("protocol.keys", "expected at least 1 key"));
    }
    if keys.ops.is_empty() {
        return Err(Invalid::key(
            "protocol.ops",
            "expected at least one of \"get\", \"put\", \"append\", \"cas\"",
        ));
    }
    if keys.max_batch == 0 {
        return Err(Invalid::key("protocol.max_batch", keys.batch_message));
    }
    Ok(())
}

/// How long after the heal a kv service may take to be live again: three
/// elections at the longest timeout, and two client retries to find the leader.
pub fn liveness_grace(election_timeout: DurationRange, retry_interval: Duration) -> Duration {
    Duration(3 * election_timeout.max.0 + 2 * retry_interval.0)
}

/// The protocol's own checker and linearizability on the kv model.
pub fn checkers<P: KvProtocol>(own: Box<dyn Checker<P>>) -> Vec<Box<dyn Checker<P>>> {
    vec![own, Box::new(Linearizability::new(Kv))]
}

/// Why a client history is not linearizable on the kv model, if it is not.
pub fn explain_history(history: &[HistoryEvent]) -> Option<Explanation> {
    match crate::check::check_events(Kv, history, &Budget::default()) {
        Ok(Verdict::NotLinearizable(explanation)) => Some(*explanation),
        _ => None,
    }
}

/// The replicated key/value benchmark scenario for `protocol`: 5 nodes, 3
/// clients at about 100 operations per second in total, a nemesis of
/// partitions and crashes (leaders included), every checker on.
pub fn bench_scenario(protocol: &str, seconds: u64) -> String {
    format!(
        r#"name = "{protocol} benchmark"
duration = "{seconds}s"
liveness_window = "5s"

[protocol]
name = "{protocol}"
ops = ["get", "put", "cas"]

[cluster]
nodes = 5

[workload]
clients = 3
op_interval = "30ms"

[network]
latency = {{ distribution = "uniform", min = "1ms", max = "5ms" }}

[nemesis]
faults = ["partition", "isolate", "crash", "crash_leader"]
interval = ["500ms", "2s"]
duration = ["200ms", "2s"]
"#
    )
}
