//! Client workload settings shared by every protocol: how many clients, how often
//! they start operations, how long they wait for an answer.
//!
//! Clients start a new operation roughly every `op_interval` (uniform in 0.5×..1.5×,
//! drawn from the client's own stream) while the workload is open, and give up on an
//! operation after `op_timeout`, recording its outcome as unknown (`info`).

use crate::sim::time::Duration;
use serde::{Deserialize, Serialize};

/// The `[workload]` table of a scenario.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadConfig {
    /// Number of client processes. Default 3.
    #[serde(default = "default_clients")]
    pub clients: usize,
    /// Mean think time between a client's operations. Default `"100ms"`.
    #[serde(
        default = "default_op_interval",
        deserialize_with = "crate::sim::time::positive"
    )]
    pub op_interval: Duration,
    /// How long a client waits before recording an operation as unknown (`info`).
    /// Default `"1s"`.
    #[serde(default = "default_op_timeout")]
    pub op_timeout: Duration,
}

fn default_clients() -> usize {
    3
}
fn default_op_interval() -> Duration {
    Duration::from_millis(100)
}
fn default_op_timeout() -> Duration {
    Duration::from_secs(1)
}

impl Default for WorkloadConfig {
    fn default() -> Self {
        WorkloadConfig {
            clients: default_clients(),
            op_interval: default_op_interval(),
            op_timeout: default_op_timeout(),
        }
    }
}

impl WorkloadConfig {
    /// The range a client's think time is drawn from: 0.5× to 1.5× `op_interval`
    /// (hand it to `Ctx::set_timer`, which draws from the client's timer stream).
    pub fn think_time(&self) -> (Duration, Duration) {
        let mean = self.op_interval.0;
        (Duration(mean / 2), Duration(mean + mean / 2))
    }
}
