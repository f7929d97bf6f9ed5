//! A replica's storage: one checked record per key, the hints it holds as a
//! stand-in, and the hints it has applied as a replica.
//!
//! - **Records.** Key `k`'s versions live in file `k{k:06}` (so name order is
//!   key order) as one [`super::record`] record, read back from disk on every
//!   access, so damage is seen when the key is next used, not only after a
//!   restart. A record that fails its check (flipped bits, a torn write, or
//!   another key's record misdirected into its place) marks the key
//!   *damaged*: the replica does not serve it again until it has been
//!   repaired from its peers.
//! - **Write verification.** Every write is synced and read back. A write
//!   that did not land where it was meant to (a misdirected write) is seen
//!   there and then, and written again; a write that cannot be verified is
//!   not acknowledged.
//! - **Hints** (`hints`): an append-only log of `Hint` and `Delivered`
//!   records, CRC-framed. The planted bug `hint_dropped_on_restart` keeps
//!   hints in memory only.
//! - **Applied hints** (`applied`): an append-only log of the hint ids this
//!   replica applied, so a hint handed off again (its acknowledgement was
//!   lost) is recognised and not applied twice.

use super::ring::NodeId;
use super::{HintId, Quorum, QuorumPoint, Versions, record::Format};
use crate::protocols::codec::{Decoder, Encoder};
use crate::sim::Ctx;
use crate::sim::crc32c::{frame, unframe};
use std::collections::{BTreeMap, BTreeSet};

const HINTS: &str = "hints";
const APPLIED: &str = "applied";

/// The file holding `key`'s record.
pub fn data_file(key: u64) -> String {
    format!("k{key:06}")
}

/// A write a stand-in holds for a replica that did not answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hint {
    /// The replica it is for.
    pub owner: NodeId,
    /// The key.
    pub key: u64,
    /// The versions written.
    pub versions: Versions,
}

/// Why a key cannot be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unreadable {
    /// Its record is damaged and not yet repaired.
    Damaged,
    /// The disk read failed.
    ReadFailed,
}

/// A replica's storage. See the module documentation.
#[derive(Clone, Debug)]
pub struct Store {
    format: Format,
    volatile_hints: bool,
    /// Keys whose record failed its check, not yet repaired.
    damaged: BTreeSet<u64>,
    /// What each good record held when last read or written.
    mirror: BTreeMap<u64, Versions>,
    hints: BTreeMap<HintId, Hint>,
    next_hint: u64,
    applied: BTreeSet<HintId>,
    /// Hints applied in this incarnation, in order.
    applications: Vec<HintId>,
    /// Whether the hint log was found damaged at the restart (the hints past
    /// the damage are lost, and reported so).
    hint_log_damaged: bool,
    /// Records found failing their check, in this incarnation.
    detected: u64,
}

impl Store {
    /// An empty store.
    pub fn new(format: Format, volatile_hints: bool) -> Self {
        Store {
            format,
            volatile_hints,
            damaged: BTreeSet::new(),
            mirror: BTreeMap::new(),
            hints: BTreeMap::new(),
            next_hint: 0,
            applied: BTreeSet::new(),
            applications: Vec::new(),
            hint_log_damaged: false,
            detected: 0,
        }
    }

    /// Reads the store back after a restart: the two logs and the record of
    /// every key in `keys`. `None` when a disk read failed (try again later).
    pub fn recover(
        ctx: &mut Ctx<'_, Quorum>,
        format: Format,
        volatile_hints: bool,
        keys: impl IntoIterator<Item = u64>,
    ) -> Option<Store> {
        let mut store = Store::new(format, volatile_hints);
        let stand_in = ctx.id();
        if !volatile_hints {
            let (records, damaged) = read_log(ctx, HINTS)?;
            store.hint_log_damaged = damaged;
            for record in records {
                let mut input = Decoder::new(&record);
                let parsed = (|| -> Result<(), crate::protocols::codec::DecodeError> {
                    let tag = input.u8()?;
                    let seq = input.u64()?;
                    let id = HintId { stand_in, seq };
                    store.next_hint = store.next_hint.max(seq + 1);
                    if tag == 0 {
                        let owner = input.u64()? as NodeId;
                        let key = input.u64()?;
                        let versions = Versions::decode(&mut input)?;
                        store.hints.insert(
                            id,
                            Hint {
                                owner,
                                key,
                                versions,
                            },
                        );
                    } else {
                        store.hints.remove(&id);
                    }
                    Ok(())
                })();
                if parsed.is_err() {
                    store.hint_log_damaged = true;
                    break;
                }
            }
        }
        let (records, _) = read_log(ctx, APPLIED)?;
        for record in records {
            let mut input = Decoder::new(&record);
            if let (Ok(node), Ok(seq)) = (input.u64(), input.u64()) {
                store.applied.insert(HintId {
                    stand_in: node as NodeId,
                    seq,
                });
            }
        }
        for key in keys {
            if store.get(ctx, key) == Err(Unreadable::ReadFailed) {
                return None;
            }
        }
        Some(store)
    }

    /// `key`'s versions, read from disk.
    pub fn get(&mut self, ctx: &mut Ctx<'_, Quorum>, key: u64) -> Result<Versions, Unreadable> {
        if self.damaged.contains(&key) {
            return Err(Unreadable::Damaged);
        }
        match self.load(ctx, key)? {
            Some(versions) => {
                self.mirror.insert(key, versions.clone());
                Ok(versions)
            }
            None => {
                self.damaged.insert(key);
                self.mirror.remove(&key);
                self.detected += 1;
                ctx.sometimes(QuorumPoint::CorruptDetected);
                Err(Unreadable::Damaged)
            }
        }
    }

    /// The record on disk: `Some` if it checks out (empty when there is
    /// none), `None` if it is damaged.
    fn load(&self, ctx: &mut Ctx<'_, Quorum>, key: u64) -> Result<Option<Versions>, Unreadable> {
        let bytes = ctx
            .disk()
            .read(&data_file(key))
            .map_err(|_| Unreadable::ReadFailed)?;
        if bytes.is_empty() {
            return Ok(Some(Versions::Empty));
        }
        let Ok(payload) = self.format.decode(key, bytes) else {
            return Ok(None);
        };
        let mut input = Decoder::new(payload);
        Ok(Versions::decode(&mut input)
            .ok()
            .filter(|_| input.is_empty()))
    }

    /// Merges `incoming` into `key`'s record; whether anything changed, or
    /// why not. A damaged key takes no writes until [`Store::repair`]: a
    /// record rewritten over the damage would read back as good after a
    /// restart and serve a history with a hole in it.
    pub fn merge(
        &mut self,
        ctx: &mut Ctx<'_, Quorum>,
        key: u64,
        incoming: &Versions,
    ) -> Result<bool, Unreadable> {
        let mut current = self.get(ctx, key)?;
        let changed = current.merge(incoming);
        if changed && !self.put(ctx, key, &current) {
            return Err(Unreadable::ReadFailed);
        }
        Ok(changed)
    }

    /// A damaged key's repair: writes what its peers hold (enough of them
    /// that one holds every acknowledged write), and serves the key again.
    pub fn repair(&mut self, ctx: &mut Ctx<'_, Quorum>, key: u64, peers: &Versions) -> bool {
        if !self.put(ctx, key, peers) {
            return false;
        }
        self.damaged.remove(&key);
        true
    }

    fn put(&mut self, ctx: &mut Ctx<'_, Quorum>, key: u64, versions: &Versions) -> bool {
        let mut payload = Encoder::new();
        versions.encode(&mut payload);
        let bytes = self.format.encode(key, &payload.bytes);
        if !durable(ctx, &data_file(key), &bytes, false) {
            return false;
        }
        self.mirror.insert(key, versions.clone());
        true
    }

    /// Takes a hint for `owner`; its id once it is durable.
    pub fn add_hint(
        &mut self,
        ctx: &mut Ctx<'_, Quorum>,
        owner: NodeId,
        key: u64,
        versions: &Versions,
    ) -> Option<HintId> {
        let id = HintId {
            stand_in: ctx.id(),
            seq: self.next_hint,
        };
        if !self.volatile_hints {
            let mut record = Encoder::new();
            record.u8(0).u64(id.seq).u64(owner as u64).u64(key);
            versions.encode(&mut record);
            let mut bytes = Vec::new();
            frame(&record.bytes, &mut bytes);
            if !durable(ctx, HINTS, &bytes, true) {
                return None;
            }
        }
        self.next_hint += 1;
        self.hints.insert(
            id,
            Hint {
                owner,
                key,
                versions: versions.clone(),
            },
        );
        Some(id)
    }

    /// The hint was handed off: drop it.
    pub fn delivered(&mut self, ctx: &mut Ctx<'_, Quorum>, id: HintId) {
        if self.hints.remove(&id).is_none() || self.volatile_hints {
            return;
        }
        let mut record = Encoder::new();
        record.u8(1).u64(id.seq);
        let mut bytes = Vec::new();
        frame(&record.bytes, &mut bytes);
        // Not verified: a lost Delivered record only hands the hint off again.
        ctx.disk().append(HINTS, bytes);
    }

    /// A hint handed to this replica: `Ok(true)` applied now, `Ok(false)`
    /// applied before, `Err` when it could not be made durable.
    pub fn apply_hint(
        &mut self,
        ctx: &mut Ctx<'_, Quorum>,
        id: HintId,
        key: u64,
        versions: &Versions,
    ) -> Result<bool, Unreadable> {
        if self.applied.contains(&id) {
            return Ok(false);
        }
        self.merge(ctx, key, versions)?;
        let mut record = Encoder::new();
        record.u64(id.stand_in as u64).u64(id.seq);
        let mut bytes = Vec::new();
        frame(&record.bytes, &mut bytes);
        if !durable(ctx, APPLIED, &bytes, true) {
            return Err(Unreadable::ReadFailed);
        }
        self.applied.insert(id);
        self.applications.push(id);
        Ok(true)
    }

    /// The hints held, by id.
    pub fn hints(&self) -> &BTreeMap<HintId, Hint> {
        &self.hints
    }

    /// Hints applied in this incarnation, in order.
    pub fn applications(&self) -> &[HintId] {
        &self.applications
    }

    /// Whether the hint log was damaged at the last restart.
    pub fn hint_log_damaged(&self) -> bool {
        self.hint_log_damaged
    }

    /// Keys damaged and not yet repaired.
    pub fn damaged(&self) -> &BTreeSet<u64> {
        &self.damaged
    }

    /// What each good record held when last read or written.
    pub fn mirror(&self) -> &BTreeMap<u64, Versions> {
        &self.mirror
    }

    /// Records found failing their check in this incarnation.
    pub fn detected(&self) -> u64 {
        self.detected
    }
}

/// Reads an append-only framed log: its good records, and whether it was
/// damaged. A torn or damaged tail is cut off, so later appends do not follow
/// garbage. `None` when the read failed.
fn read_log(ctx: &mut Ctx<'_, Quorum>, file: &str) -> Option<(Vec<Vec<u8>>, bool)> {
    let files = crate::protocols::durable::read_files(ctx, &[file], QuorumPoint::DiskReadRetried)?;
    let bytes = &files[0];
    let (records, error) = unframe(bytes);
    let records: Vec<Vec<u8>> = records.into_iter().map(<[u8]>::to_vec).collect();
    if error.is_some() {
        let whole: usize = records.iter().map(|r| r.len() + 8).sum();
        ctx.disk().write(file, bytes[..whole].to_vec());
        ctx.disk().sync();
    }
    Some((records, error.is_some()))
}

/// Writes (or appends) `bytes` to `file`, syncs, and reads it back: true
/// once the file holds them. A write found missing is made again, once.
pub(super) fn durable(ctx: &mut Ctx<'_, Quorum>, file: &str, bytes: &[u8], append: bool) -> bool {
    for _ in 0..2 {
        if append {
            ctx.disk().append(file, bytes.to_vec());
        } else {
            ctx.disk().write(file, bytes.to_vec());
        }
        ctx.disk().sync();
        let Ok(now) = ctx.disk().read(file) else {
            return false;
        };
        let landed = if append {
            now.ends_with(bytes)
        } else {
            now == bytes
        };
        if landed {
            return true;
        }
        ctx.sometimes(QuorumPoint::WriteVerifyFailed);
    }
    false
}
