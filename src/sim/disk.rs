//! The simulated disk of one node.
//!
//! A disk holds named files. Writes (`append`, `write`) are visible to the node at
//! once but volatile until `sync`: a crash keeps what was synced and, by default,
//! loses the rest. With `unsynced = "any_subset"` any subset of the unsynced writes
//! may survive instead (real disks reorder; not only a prefix), and with
//! `torn_writes` the last surviving one may be cut short. Faults can flip a bit of
//! stored data, lose an unsynced write, or make the next reads fail. Protocols that
//! frame records with CRC32C ([`super::crc32c`]) detect the damage on restart.

use super::rng::{Rng, between, chance};
use rand::Rng as _;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::rc::Rc;

/// What a crash does to writes that were not synced.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnsyncedOnCrash {
    /// Every unsynced write is lost (the default).
    #[default]
    LoseAll,
    /// Each unsynced write independently survives or not.
    AnySubset,
    /// Every unsynced write survives (an idealised disk; useful to isolate bugs).
    KeepAll,
}

/// Disk behaviour, the `[disk]` table of a scenario.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiskConfig {
    /// What a crash does to unsynced writes. Default `"lose_all"`.
    #[serde(default)]
    pub unsynced: UnsyncedOnCrash,
    /// Whether the last surviving unsynced write may be torn (cut short) by a
    /// crash. Default `false`.
    #[serde(default)]
    pub torn_writes: bool,
}

/// A failed disk operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DiskError {
    /// The read failed (an injected I/O error). Retrying may succeed.
    Io,
}

impl std::fmt::Display for DiskError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DiskError::Io => write!(f, "injected disk read error"),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Write {
    Append { file: Rc<str>, bytes: Vec<u8> },
    Replace { file: Rc<str>, bytes: Vec<u8> },
}

/// One node's disk. See the module documentation.
#[derive(Clone, Debug, Default)]
pub struct Disk {
    durable: BTreeMap<String, Vec<u8>>,
    current: BTreeMap<String, Vec<u8>>,
    unsynced: Vec<Write>,
    /// File names seen, shared by the pending writes (no allocation per write).
    names: Vec<Rc<str>>,
    failing_reads: u32,
    /// Counters for reports.
    pub stats: DiskStats,
}

/// What happened on a disk during a run.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiskStats {
    /// Writes issued.
    pub writes: u64,
    /// Syncs issued.
    pub syncs: u64,
    /// Unsynced writes lost to crashes or faults.
    pub lost_writes: u64,
    /// Writes torn by a crash.
    pub torn_writes: u64,
    /// Bits flipped by faults.
    pub corruptions: u64,
    /// Reads failed by faults.
    pub failed_reads: u64,
}

impl DiskStats {
    /// Adds another disk's counts to these.
    pub fn absorb(&mut self, other: &DiskStats) {
        self.writes += other.writes;
        self.syncs += other.syncs;
        self.lost_writes += other.lost_writes;
        self.torn_writes += other.torn_writes;
        self.corruptions += other.corruptions;
        self.failed_reads += other.failed_reads;
    }
}

impl Disk {
    /// An empty disk.
    pub fn new() -> Self {
        Disk::default()
    }

    /// Appends bytes to `file` (created if absent). Volatile until [`Disk::sync`].
    /// Takes the bytes owned (a `Vec<u8>`, kept without a copy) or borrowed.
    pub fn append<'a>(&mut self, file: &str, bytes: impl Into<Cow<'a, [u8]>>) {
        let bytes = bytes.into().into_owned();
        self.stats.writes += 1;
        match self.current.get_mut(file) {
            Some(content) => content.extend_from_slice(&bytes),
            None => {
                self.current.insert(file.to_string(), bytes.clone());
            }
        }
        let file = self.name(file);
        self.unsynced.push(Write::Append { file, bytes });
    }

    /// Replaces the whole content of `file`. Volatile until [`Disk::sync`]; a crash
    /// before the sync leaves the old content (or, with reordering, any outcome of
    /// the unsynced writes).
    pub fn write<'a>(&mut self, file: &str, bytes: impl Into<Cow<'a, [u8]>>) {
        let bytes = bytes.into().into_owned();
        self.stats.writes += 1;
        self.current.insert(file.to_string(), bytes.clone());
        let file = self.name(file);
        self.unsynced.push(Write::Replace { file, bytes });
    }

    /// The shared name `file`.
    fn name(&mut self, file: &str) -> Rc<str> {
        match self.names.iter().find(|name| &***name == file) {
            Some(name) => name.clone(),
            None => {
                let name: Rc<str> = file.into();
                self.names.push(name.clone());
                name
            }
        }
    }

    /// Makes every write so far durable.
    pub fn sync(&mut self) {
        self.stats.syncs += 1;
        for write in self.unsynced.drain(..) {
            apply(&mut self.durable, write);
        }
        debug_assert_eq!(self.durable, self.current);
    }

    /// The content of `file` as the node sees it (empty if absent), or an injected
    /// read error.
    pub fn read(&mut self, file: &str) -> Result<&[u8], DiskError> {
        if self.failing_reads > 0 {
            self.failing_reads -= 1;
            self.stats.failed_reads += 1;
            return Err(DiskError::Io);
        }
        Ok(self.current.get(file).map(Vec::as_slice).unwrap_or(&[]))
    }

    /// The names of all files, in order.
    pub fn files(&self) -> impl Iterator<Item = &str> {
        self.current.keys().map(String::as_str)
    }

    /// Bytes in `file` as the node sees it (0 if absent). Unlike [`Disk::read`]
    /// this is an observer's look: it never fails and counts as no read.
    pub fn file_size(&self, file: &str) -> usize {
        self.current.get(file).map_or(0, Vec::len)
    }

    /// Number of writes not yet synced.
    pub fn unsynced_count(&self) -> usize {
        self.unsynced.len()
    }

    /// Total bytes stored (as the node sees them).
    pub fn size(&self) -> usize {
        self.current.values().map(Vec::len).sum()
    }

    /// What survives a crash: the synced state plus, depending on `config`, some
    /// unsynced writes, the last one possibly torn. Draws from `rng` (the fault
    /// stream) only when the configuration leaves a choice.
    pub fn crash(&mut self, config: &DiskConfig, rng: &mut Rng) {
        let unsynced = std::mem::take(&mut self.unsynced);
        let mut survivors: Vec<Write> = match config.unsynced {
            UnsyncedOnCrash::LoseAll => Vec::new(),
            UnsyncedOnCrash::KeepAll => unsynced.clone(),
            UnsyncedOnCrash::AnySubset => unsynced
                .iter()
                .filter(|_| chance(rng, 0.5))
                .cloned()
                .collect(),
        };
        self.stats.lost_writes += (unsynced.len() - survivors.len()) as u64;
        if config.torn_writes
            && let Some(last) = survivors.last_mut()
        {
            let bytes = match last {
                Write::Append { bytes, .. } | Write::Replace { bytes, .. } => bytes,
            };
            if !bytes.is_empty() && chance(rng, 0.5) {
                let keep = between(rng, 0, bytes.len() as u64 - 1) as usize;
                bytes.truncate(keep);
                self.stats.torn_writes += 1;
            }
        }
        for write in survivors {
            apply(&mut self.durable, write);
        }
        self.current = self.durable.clone();
        self.failing_reads = 0;
    }

    /// Flips one random bit of stored data (synced or not). Returns the file and
    /// byte offset hit, or `None` if the disk is empty.
    pub fn corrupt(&mut self, rng: &mut Rng) -> Option<(String, usize)> {
        let total = self.size();
        if total == 0 {
            return None;
        }
        let mut target = rng.gen_range(0..total);
        let bit = rng.gen_range(0..8u32);
        let mut hit = None;
        for (name, bytes) in &mut self.current {
            if target < bytes.len() {
                bytes[target] ^= 1 << bit;
                hit = Some((name.clone(), target));
                break;
            }
            target -= bytes.len();
        }
        let (name, offset) = hit?;
        // The flipped byte is where the node's view of it comes from: the durable
        // copy, or the pending write that supplies it (the last replace of the
        // file, or an append after it). A sync then makes the durable copy equal
        // the view, flip included, and a crash keeps the flip exactly where the
        // byte survives.
        let mask = 1u8 << bit;
        let last_replace = self
            .unsynced
            .iter()
            .rposition(|write| matches!(write, Write::Replace { file, .. } if **file == *name));
        // The view is (the last pending replace, or else the durable copy)
        // followed by the appends after it.
        let mut start = 0;
        if last_replace.is_none()
            && let Some(bytes) = self.durable.get_mut(&name)
        {
            if offset < bytes.len() {
                bytes[offset] ^= mask;
            }
            start = bytes.len();
        }
        for write in &mut self.unsynced[last_replace.unwrap_or(0)..] {
            let bytes = match write {
                Write::Replace { file, bytes } | Write::Append { file, bytes }
                    if **file == *name =>
                {
                    bytes
                }
                _ => continue,
            };
            if (start..start + bytes.len()).contains(&offset) {
                bytes[offset - start] ^= mask;
                break;
            }
            start += bytes.len();
        }
        self.stats.corruptions += 1;
        Some((name, offset))
    }

    /// Loses one random unsynced write, as if the device dropped it. Returns whether
    /// there was one to lose.
    pub fn lose_unsynced(&mut self, rng: &mut Rng) -> bool {
        if self.unsynced.is_empty() {
            return false;
        }
        let victim = rng.gen_range(0..self.unsynced.len());
        self.unsynced.remove(victim);
        self.current = self.durable.clone();
        for write in self.unsynced.iter().cloned() {
            apply(&mut self.current, write);
        }
        self.stats.lost_writes += 1;
        true
    }

    /// Makes the next `count` reads fail.
    pub fn fail_reads(&mut self, count: u32) {
        self.failing_reads = self.failing_reads.saturating_add(count);
    }
}

fn apply(files: &mut BTreeMap<String, Vec<u8>>, write: Write) {
    match write {
        Write::Append { file, bytes } => match files.get_mut(&*file) {
            Some(content) => content.extend_from_slice(&bytes),
            None => {
                files.insert(file.to_string(), bytes);
            }
        },
        Write::Replace { file, bytes } => match files.get_mut(&*file) {
            Some(content) => *content = bytes,
            None => {
                files.insert(file.to_string(), bytes);
            }
        },
    }
}

#[cfg(test)]
mod corruption_tests {
    use super::Disk;

    /// Corrupts until every byte of the view has been hit at least once, syncing
    /// between flips: after each sync the durable copy must equal the view.
    #[test]
    fn a_flip_in_pending_data_survives_the_sync_that_makes_it_durable() {
        let mut rng = crate::sim::rng::stream(7, "disk-test", 0);
        for round in 0..200 {
            let mut disk = Disk::new();
            disk.append("log", vec![1u8; 8]);
            disk.sync();
            match round % 3 {
                0 => disk.append("log", vec![2u8; 8]),
                1 => disk.write("log", vec![3u8; 4]),
                _ => {
                    disk.write("log", vec![3u8; 4]);
                    disk.append("log", vec![4u8; 4]);
                }
            }
            disk.corrupt(&mut rng).expect("a byte to flip");
            disk.sync();
            assert_eq!(disk.durable, disk.current, "round {round}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::rng::stream;

    #[test]
    fn crash_keeps_synced_writes_and_loses_unsynced_ones() {
        let mut disk = Disk::new();
        let mut rng = stream(1, "test", 0);
        disk.append("log", b"abc");
        disk.sync();
        disk.append("log", b"def");
        disk.write("meta", b"x");
        assert_eq!(disk.read("log").unwrap(), b"abcdef");
        disk.crash(&DiskConfig::default(), &mut rng);
        assert_eq!(disk.read("log").unwrap(), b"abc");
        assert_eq!(disk.read("meta").unwrap(), b"");
        assert_eq!(disk.stats.lost_writes, 2);
    }

    #[test]
    fn any_subset_can_keep_a_later_write_and_lose_an_earlier_one() {
        let config = DiskConfig {
            unsynced: UnsyncedOnCrash::AnySubset,
            torn_writes: false,
        };
        let mut seen_gap = false;
        for seed in 0..64 {
            let mut disk = Disk::new();
            let mut rng = stream(seed, "test", 0);
            disk.append("a", b"1");
            disk.append("b", b"2");
            disk.crash(&config, &mut rng);
            if disk.read("a").unwrap().is_empty() && disk.read("b").unwrap() == b"2" {
                seen_gap = true;
            }
        }
        assert!(
            seen_gap,
            "a later write should sometimes survive an earlier lost one"
        );
    }

    #[test]
    fn torn_write_keeps_a_strict_prefix() {
        let config = DiskConfig {
            unsynced: UnsyncedOnCrash::KeepAll,
            torn_writes: true,
        };
        let mut torn = 0;
        for seed in 0..64 {
            let mut disk = Disk::new();
            let mut rng = stream(seed, "test", 0);
            disk.append("log", b"0123456789");
            disk.crash(&config, &mut rng);
            let kept = disk.read("log").unwrap();
            assert!(b"0123456789".starts_with(kept));
            if kept.len() < 10 {
                torn += 1;
            }
        }
        assert!(torn > 0);
    }

    #[test]
    fn corruption_flips_exactly_one_bit_and_failed_reads_recover() {
        let mut disk = Disk::new();
        let mut rng = stream(3, "test", 0);
        disk.write("f", &[0u8; 16]);
        disk.sync();
        disk.corrupt(&mut rng).unwrap();
        let ones: u32 = disk.read("f").unwrap().iter().map(|b| b.count_ones()).sum();
        assert_eq!(ones, 1);
        disk.fail_reads(2);
        assert_eq!(disk.read("f"), Err(DiskError::Io));
        assert_eq!(disk.read("f"), Err(DiskError::Io));
        assert!(disk.read("f").is_ok());
        // The flip is on the medium: a crash does not repair it.
        disk.crash(&DiskConfig::default(), &mut rng);
        let ones: u32 = disk.read("f").unwrap().iter().map(|b| b.count_ones()).sum();
        assert_eq!(ones, 1);
    }
}
