//! The protocols that ship in the box. Each is sans-IO and written only against
//! `crate::sim`'s public protocol interface, exactly as a user's protocol would be.

pub mod balancer;
pub mod broadcast;
pub mod codec;
pub mod durable;
pub mod kv;
pub mod lock;
pub mod mapreduce;
pub mod paxos;
pub mod quorum;
pub mod raft;
pub mod scheduler;
pub mod token_forward;
pub mod txn;

/// A majority of `n`: the smallest count any two of which overlap.
pub fn majority(n: usize) -> usize {
    n / 2 + 1
}
