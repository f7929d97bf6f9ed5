//! A shard's lock table: strict two-phase locking, no-wait.
//!
//! A transaction asks for every lock it needs on a shard at once, when the
//! shard prepares it: shared for the keys it only reads, exclusive for those it
//! writes. The request is all or nothing: if any key conflicts (another
//! transaction holds it exclusively, or holds it shared where this one wants it
//! exclusively) nothing is taken and the caller votes no. A transaction that
//! already holds a key keeps it, and may upgrade a shared lock it holds alone.
//! Locks are released only when the transaction's decision is applied
//! ([`LockTable::release`]), which makes the locking *strict*: no other
//! transaction reads or overwrites what an undecided one wrote or read, and
//! the commit order is a serialization order that respects real time.
//!
//! No-wait (Bernstein, Hadzilacos and Goodman, *Concurrency Control and
//! Recovery*, §3.11) trades aborts under contention for the absence of
//! deadlock detection: no transaction ever waits, so no cycle of waiters can
//! form, and a coordinator's vote timeout never has to break one.

use super::TxnId;
use std::collections::{BTreeMap, BTreeSet};

/// How a key is wanted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Mode {
    /// Read: compatible with other readers.
    Shared,
    /// Write (or read-modify-write): compatible with nothing.
    Exclusive,
}

/// Who holds one key.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Holders {
    exclusive: Option<TxnId>,
    shared: BTreeSet<TxnId>,
}

/// Why a request was refused: the key and a transaction in the way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conflict {
    /// The key.
    pub key: u64,
    /// A transaction holding it incompatibly.
    pub holder: TxnId,
}

/// The lock table (see the module documentation).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LockTable {
    keys: BTreeMap<u64, Holders>,
    /// What each transaction holds, for release.
    held: BTreeMap<TxnId, BTreeMap<u64, Mode>>,
}

impl LockTable {
    /// An empty table.
    pub fn new() -> Self {
        LockTable::default()
    }

    /// The first conflict `txn` would meet taking `key` in `mode`.
    fn conflict(&self, txn: TxnId, key: u64, mode: Mode) -> Option<Conflict> {
        let holders = self.keys.get(&key)?;
        if let Some(holder) = holders.exclusive
            && holder != txn
        {
            return Some(Conflict { key, holder });
        }
        if mode == Mode::Exclusive
            && let Some(&holder) = holders.shared.iter().find(|&&other| other != txn)
        {
            return Some(Conflict { key, holder });
        }
        None
    }

    /// Takes every lock in `wanted` for `txn`, or none: the first conflict is
    /// returned and the table is unchanged. A key wanted twice is taken in the
    /// stronger mode.
    pub fn acquire(&mut self, txn: TxnId, wanted: &[(u64, Mode)]) -> Result<(), Conflict> {
        let mut strongest: BTreeMap<u64, Mode> = BTreeMap::new();
        for &(key, mode) in wanted {
            let slot = strongest.entry(key).or_insert(mode);
            *slot = (*slot).max(mode);
        }
        if let Some(conflict) = strongest
            .iter()
            .find_map(|(&key, &mode)| self.conflict(txn, key, mode))
        {
            return Err(conflict);
        }
        let held = self.held.entry(txn).or_default();
        for (key, mode) in strongest {
            let holders = self.keys.entry(key).or_default();
            let slot = held.entry(key).or_insert(mode);
            *slot = (*slot).max(mode);
            match *slot {
                Mode::Shared => {
                    holders.shared.insert(txn);
                }
                Mode::Exclusive => {
                    holders.shared.remove(&txn);
                    holders.exclusive = Some(txn);
                }
            }
        }
        Ok(())
    }

    /// Releases every lock `txn` holds (none: a no-op).
    pub fn release(&mut self, txn: TxnId) {
        let Some(held) = self.held.remove(&txn) else {
            return;
        };
        for key in held.keys() {
            let Some(holders) = self.keys.get_mut(key) else {
                continue;
            };
            holders.shared.remove(&txn);
            if holders.exclusive == Some(txn) {
                holders.exclusive = None;
            }
            if holders.exclusive.is_none() && holders.shared.is_empty() {
                self.keys.remove(key);
            }
        }
    }

    /// The locks `txn` holds, by key.
    pub fn held_by(&self, txn: TxnId) -> Option<&BTreeMap<u64, Mode>> {
        self.held.get(&txn)
    }

    /// The transactions holding any lock, in order.
    pub fn holders(&self) -> impl Iterator<Item = TxnId> + '_ {
        self.held.keys().copied()
    }

    /// Whether no lock is held.
    pub fn is_empty(&self) -> bool {
        self.held.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(seq: u64) -> TxnId {
        TxnId { client: 0, seq }
    }

    #[test]
    fn readers_share_and_a_writer_excludes() {
        let mut table = LockTable::new();
        table.acquire(t(1), &[(7, Mode::Shared)]).unwrap();
        table.acquire(t(2), &[(7, Mode::Shared)]).unwrap();
        assert_eq!(
            table.acquire(t(3), &[(7, Mode::Exclusive)]),
            Err(Conflict {
                key: 7,
                holder: t(1)
            })
        );
        table.release(t(1));
        table.release(t(2));
        table.acquire(t(3), &[(7, Mode::Exclusive)]).unwrap();
        assert_eq!(
            table.acquire(t(4), &[(7, Mode::Shared)]),
            Err(Conflict {
                key: 7,
                holder: t(3)
            })
        );
    }

    #[test]
    fn a_refused_request_takes_nothing() {
        let mut table = LockTable::new();
        table.acquire(t(1), &[(2, Mode::Exclusive)]).unwrap();
        let before = table.clone();
        assert!(
            table
                .acquire(t(2), &[(1, Mode::Exclusive), (2, Mode::Shared)])
                .is_err()
        );
        assert_eq!(table, before, "the lock on key 1 must not have been taken");
        table.acquire(t(3), &[(1, Mode::Exclusive)]).unwrap();
    }

    #[test]
    fn a_lone_reader_upgrades_and_release_frees_every_key() {
        let mut table = LockTable::new();
        table
            .acquire(t(1), &[(1, Mode::Shared), (2, Mode::Shared)])
            .unwrap();
        table.acquire(t(1), &[(1, Mode::Exclusive)]).unwrap();
        assert_eq!(table.held_by(t(1)).unwrap()[&1], Mode::Exclusive);
        assert_eq!(table.held_by(t(1)).unwrap()[&2], Mode::Shared);
        // Another reader of key 2 blocks t1's upgrade there, not its own read.
        table.acquire(t(2), &[(2, Mode::Shared)]).unwrap();
        assert!(table.acquire(t(1), &[(2, Mode::Exclusive)]).is_err());
        table.release(t(1));
        table.release(t(2));
        assert!(table.is_empty());
        assert_eq!(table.keys.len(), 0);
        table.release(t(9));
    }

    #[test]
    fn a_key_wanted_twice_is_taken_in_the_stronger_mode() {
        let mut table = LockTable::new();
        table
            .acquire(t(1), &[(5, Mode::Shared), (5, Mode::Exclusive)])
            .unwrap();
        assert!(table.acquire(t(2), &[(5, Mode::Shared)]).is_err());
        assert_eq!(table.holders().collect::<Vec<_>>(), vec![t(1)]);
    }
}
