//! The protocols that ship in the box: one line each. Adding a protocol is its
//! folder under `src/protocols/`, its scenarios under `scenarios/<name>/`, and a
//! line here. A user's binary starts from [`builtin`] and adds its own
//! (`builtin().with(Entry::of::<Mine>())`).

use crate::protocols::{
    balancer, broadcast, lock, mapreduce, paxos, quorum, raft, scheduler, token_forward, txn,
};
use crate::runner::{Entry, Registry};

/// Every shipped protocol.
pub fn builtin() -> Registry {
    Registry::new()
        .with(Entry::of::<raft::Raft>())
        .with(Entry::of::<paxos::Paxos>())
        .with(Entry::of::<broadcast::Broadcast>())
        .with(Entry::of::<lock::LockService>())
        .with(Entry::of::<txn::Txn>())
        .with(Entry::of::<quorum::Quorum>())
        .with(Entry::of::<balancer::LoadBalancer>())
        .with(Entry::of::<mapreduce::MapReduce>())
        .with(Entry::of::<scheduler::Scheduler>())
        .with(Entry::of::<token_forward::TokenForward>())
}
