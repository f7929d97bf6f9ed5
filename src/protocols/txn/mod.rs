//! `txn`: distributed transactions by two-phase commit over a sharded store
//! (issue 16). Under construction: this module holds the parts the protocol is
//! built from, each tested on its own; the shards, the coordinator, the clients
//! and the checkers come next, and the protocol is not registered until they
//! do.
//!
//! - [`locks`]: a shard's lock table: strict two-phase locking with shared and
//!   exclusive locks and *no-wait* deadlock avoidance (a request that
//!   conflicts is refused at once, and the participant votes no), so no
//!   transaction ever waits for a lock and no deadlock can form.
//! - [`record`]: the records of the shards' and the coordinator's durable,
//!   CRC-framed logs (prepare, decision, commit, end), and reading a log back
//!   after a crash: a torn tail (an unsynced write cut short) is dropped, a
//!   record that fails its checksum where the file goes on is damage.

pub mod locks;
pub mod record;

/// Names a transaction: the client that began it and its number there.
/// Clients number their transactions, so ids are unique across coordinator
/// restarts without any coordinator state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TxnId {
    /// The client (0-based among clients).
    pub client: u32,
    /// Its transaction number (1, 2, ...).
    pub seq: u64,
}

impl std::fmt::Display for TxnId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "t{}.{}", self.client, self.seq)
    }
}
