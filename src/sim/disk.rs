//! The simulated disk of one node.
//!
//! A disk holds named files. Writes (`append`, `write`) are visible to the node at
//! once but volatile until `sync`: a crash keeps what was synced and, by default,
//! loses the rest. With `unsynced = "any_subset"` any subset of the unsynced writes
//! may survive instead (real disks reorder; not only a prefix), and with
//! `torn_writes` the last surviving one may be cut short. Faults can flip a bit of
//! stored data, swap two adjacent bytes of it, lose an unsynced write, make the
//! next reads fail, or send the next write to another file's place (a misdirected
//! write). Protocols that frame records with CRC32C ([`super::crc32c`]) detect the
//! damage on restart.
//!
//! `rename` and `remove` are atomic: a crash keeps all of one or none of it, never
//! a half. Like the writes they are volatile until `sync`. A rename carries the
//! content the file had when it was renamed (as filesystems that flush a file's
//! data before a rename over another do), so a crash that keeps the rename keeps
//! that content under the new name, even if the writes that made it were lost.

use super::rng::{Rng, between, chance};
use rand::Rng as _;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::ops::Bound;
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
    Append {
        file: Rc<str>,
        bytes: Vec<u8>,
    },
    Replace {
        file: Rc<str>,
        bytes: Vec<u8>,
    },
    /// `from` renamed to `to`, which then held `bytes`.
    Rename {
        from: Rc<str>,
        to: Rc<str>,
        bytes: Vec<u8>,
    },
    Remove {
        file: Rc<str>,
    },
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
    /// How many of the next writes land in another file's place.
    misdirecting: u32,
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
    /// Writes a `disk_misdirect` fault sent to another file's place, counting
    /// those lost because the disk held no other file (they are not also counted
    /// in `lost_writes`).
    #[serde(default)]
    pub misdirected: u64,
    /// Adjacent byte pairs swapped by `disk_transpose` faults (not counted in
    /// `corruptions`).
    #[serde(default)]
    pub transpositions: u64,
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
        self.misdirected += other.misdirected;
        self.transpositions += other.transpositions;
    }
}

impl Disk {
    /// An empty disk.
    pub fn new() -> Self {
        Disk::default()
    }

    /// Appends bytes to `file` (created if absent). Volatile until [`Disk::sync`].
    /// Takes the bytes owned (a `Vec<u8>`, kept without a copy) or borrowed.
    /// A pending misdirect ([`Disk::misdirect_writes`]) appends them to another
    /// file instead.
    pub fn append<'a>(&mut self, file: &str, bytes: impl Into<Cow<'a, [u8]>>) {
        let bytes = bytes.into().into_owned();
        self.stats.writes += 1;
        let Some(file) = self.destination(file) else {
            return;
        };
        let file = &*file;
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
    /// the unsynced writes). A pending misdirect ([`Disk::misdirect_writes`])
    /// replaces another file's content instead.
    pub fn write<'a>(&mut self, file: &str, bytes: impl Into<Cow<'a, [u8]>>) {
        let bytes = bytes.into().into_owned();
        self.stats.writes += 1;
        let Some(file) = self.destination(file) else {
            return;
        };
        let file = &*file;
        self.current.insert(file.to_string(), bytes.clone());
        let file = self.name(file);
        self.unsynced.push(Write::Replace { file, bytes });
    }

    /// Renames `from` to `to` atomically, replacing `to` if it exists; does
    /// nothing and returns false if `from` does not exist. Volatile until
    /// [`Disk::sync`]: a crash before the sync leaves either both names as
    /// they were or the rename done, with the content `from` had when it was
    /// renamed. Counts as a write.
    pub fn rename(&mut self, from: &str, to: &str) -> bool {
        self.stats.writes += 1;
        if from == to {
            return self.current.contains_key(from);
        }
        let Some(bytes) = self.current.remove(from) else {
            return false;
        };
        self.current.insert(to.to_string(), bytes.clone());
        let (from, to) = (self.name(from), self.name(to));
        self.unsynced.push(Write::Rename { from, to, bytes });
        true
    }

    /// Removes `file` atomically; returns whether it existed. Volatile until
    /// [`Disk::sync`]. Counts as a write.
    pub fn remove(&mut self, file: &str) -> bool {
        self.stats.writes += 1;
        if self.current.remove(file).is_none() {
            return false;
        }
        let file = self.name(file);
        self.unsynced.push(Write::Remove { file });
        true
    }

    /// Whether `file` exists as the node sees it (an observer's look, as
    /// [`Disk::file_size`]).
    pub fn contains(&self, file: &str) -> bool {
        self.current.contains_key(file)
    }

    /// The content of `file` as the node sees it, or `None` if absent: an
    /// observer's look (checkers), which never fails and counts as no read.
    pub fn peek(&self, file: &str) -> Option<&[u8]> {
        self.current.get(file).map(Vec::as_slice)
    }

    /// Where a write meant for `file` lands: `file` itself, or, while a misdirect
    /// is pending, the next existing file after it in name order (wrapping
    /// around), or nowhere when the disk holds no other file.
    fn destination<'a>(&mut self, file: &'a str) -> Option<Cow<'a, str>> {
        if self.misdirecting == 0 {
            return Some(Cow::Borrowed(file));
        }
        self.misdirecting -= 1;
        self.stats.misdirected += 1;
        let after = (Bound::Excluded(file), Bound::Unbounded);
        let other = self
            .current
            .range::<str, _>(after)
            .map(|(name, _)| name)
            .next()
            .or_else(|| self.current.keys().next())
            .filter(|name| name.as_str() != file)?;
        debug_assert!(self.current.contains_key(other.as_str()));
        Some(Cow::Owned(other.clone()))
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
            // Renames and removals are atomic: never torn.
            && let Write::Append { bytes, .. } | Write::Replace { bytes, .. } = last
            && !bytes.is_empty()
            && chance(rng, 0.5)
        {
            let keep = between(rng, 0, bytes.len() as u64 - 1) as usize;
            bytes.truncate(keep);
            self.stats.torn_writes += 1;
        }
        for write in survivors {
            apply(&mut self.durable, write);
        }
        self.current = self.durable.clone();
        self.failing_reads = 0;
        self.misdirecting = 0;
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
        for (name, bytes) in &self.current {
            if target < bytes.len() {
                hit = Some((name.clone(), target));
                break;
            }
            target -= bytes.len();
        }
        let (name, offset) = hit?;
        self.xor_byte(&name, offset, 1 << bit);
        self.stats.corruptions += 1;
        Some((name, offset))
    }

    /// Swaps two adjacent bytes of stored data (synced or not), drawn uniformly
    /// from the offsets `i` in the node's view where bytes `i` and `i + 1` are in
    /// the same file and differ. Returns the file and the offset of the first
    /// byte, or `None` (and draws nothing) if there is no such pair.
    pub fn transpose(&mut self, rng: &mut Rng) -> Option<(String, usize)> {
        let differing = |bytes: &[u8]| bytes.windows(2).filter(|pair| pair[0] != pair[1]).count();
        let total: usize = self.current.values().map(|bytes| differing(bytes)).sum();
        if total == 0 {
            return None;
        }
        let mut target = rng.gen_range(0..total);
        let mut hit = None;
        for (name, bytes) in &self.current {
            let count = differing(bytes);
            if target < count {
                let offset = (0..bytes.len() - 1)
                    .filter(|&i| bytes[i] != bytes[i + 1])
                    .nth(target)
                    .expect("the pair counted");
                hit = Some((name.clone(), offset, bytes[offset] ^ bytes[offset + 1]));
                break;
            }
            target -= count;
        }
        let (name, offset, mask) = hit?;
        debug_assert_ne!(mask, 0);
        // a ^ (a ^ b) = b and b ^ (a ^ b) = a: the same mask at both offsets swaps
        // them, wherever each byte comes from.
        self.xor_byte(&name, offset, mask);
        self.xor_byte(&name, offset + 1, mask);
        self.stats.transpositions += 1;
        Some((name, offset))
    }

    /// XORs byte `offset` of `name` in the node's view with `mask`, and the same
    /// byte where the view takes it from.
    fn xor_byte(&mut self, name: &str, offset: usize, mask: u8) {
        let view = self.current.get_mut(name).expect("a file in the view");
        view[offset] ^= mask;
        // The byte is where the node's view of it comes from: the durable copy, or
        // the pending write that supplies it (the last replace of the file, or an
        // append after it). A sync then makes the durable copy equal the view,
        // change included, and a crash keeps the change exactly where the byte
        // survives.
        let last_replace = self.unsynced.iter().rposition(|write| match write {
            Write::Replace { file, .. } | Write::Remove { file } => **file == *name,
            Write::Rename { from, to, .. } => **from == *name || **to == *name,
            Write::Append { .. } => false,
        });
        // The view is (the last pending replace, or else the durable copy)
        // followed by the appends after it.
        let mut start = 0;
        if last_replace.is_none()
            && let Some(bytes) = self.durable.get_mut(name)
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
                Write::Rename { to, bytes, .. } if **to == *name => bytes,
                // The file was renamed away or removed: what follows starts
                // it anew (the view holds the byte, so a later write does).
                _ => continue,
            };
            if (start..start + bytes.len()).contains(&offset) {
                bytes[offset - start] ^= mask;
                break;
            }
            start += bytes.len();
        }
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

    /// Sends the next `count` writes (`write` or `append`) to another file's
    /// place: see [`Disk::write`] and [`Disk::append`]. A crash clears what is
    /// still pending, as it does failing reads.
    pub fn misdirect_writes(&mut self, count: u32) {
        self.misdirecting = self.misdirecting.saturating_add(count);
    }

    /// Number of writes still to be misdirected.
    pub fn misdirects_pending(&self) -> u32 {
        self.misdirecting
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
        Write::Rename { from, to, bytes } => {
            files.remove(&*from);
            files.insert(to.to_string(), bytes);
        }
        Write::Remove { file } => {
            files.remove(&*file);
        }
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
            match round % 5 {
                0 => disk.append("log", vec![2u8; 8]),
                1 => disk.write("log", vec![3u8; 4]),
                2 => {
                    disk.write("log", vec![3u8; 4]);
                    disk.append("log", vec![4u8; 4]);
                }
                3 => {
                    disk.write("tmp", vec![5u8; 4]);
                    disk.rename("tmp", "log");
                    disk.append("log", vec![6u8; 4]);
                }
                _ => {
                    disk.remove("log");
                    disk.append("log", vec![7u8; 4]);
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
    fn rename_and_remove_are_atomic_and_volatile_until_synced() {
        let mut rng = stream(1, "test", 0);
        let mut disk = Disk::new();
        disk.write("out", b"old");
        disk.sync();
        disk.write("tmp", b"new");
        assert!(disk.rename("tmp", "out"));
        assert!(!disk.contains("tmp"));
        assert_eq!(disk.peek("out"), Some(&b"new"[..]));
        assert!(!disk.rename("tmp", "out"), "tmp is gone");
        disk.crash(&DiskConfig::default(), &mut rng);
        assert_eq!(disk.peek("out"), Some(&b"old"[..]), "nothing synced");
        assert!(!disk.contains("tmp"));
        disk.write("tmp", b"new");
        disk.rename("tmp", "out");
        disk.sync();
        disk.crash(&DiskConfig::default(), &mut rng);
        assert_eq!(disk.peek("out"), Some(&b"new"[..]));
        assert!(disk.remove("out"));
        assert!(!disk.remove("out"));
        disk.sync();
        assert_eq!(disk.peek("out"), None);
        // Whatever survives a crash that keeps any subset, "out" is whole:
        // the old content or the renamed one, never a mixture or a part.
        let config = DiskConfig {
            unsynced: UnsyncedOnCrash::AnySubset,
            torn_writes: true,
        };
        let mut outcomes = std::collections::BTreeSet::new();
        for seed in 0..64 {
            let mut disk = Disk::new();
            let mut rng = stream(seed, "test", 0);
            disk.write("out", b"old");
            disk.sync();
            disk.write("tmp", b"new content");
            disk.rename("tmp", "out");
            disk.crash(&config, &mut rng);
            let out = disk.peek("out").map(<[u8]>::to_vec);
            assert!(
                out.as_deref() == Some(b"old") || out.as_deref() == Some(b"new content"),
                "{out:?}"
            );
            outcomes.insert(out);
        }
        assert_eq!(outcomes.len(), 2, "both outcomes happen");
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

#[cfg(test)]
mod misdirect_tests {
    use super::*;
    use crate::sim::rng::stream;

    /// A disk holding `a`, `b` and `c`, synced.
    fn three_files() -> Disk {
        let mut disk = Disk::new();
        for name in ["a", "b", "c"] {
            disk.write(name, name.as_bytes());
        }
        disk.sync();
        disk
    }

    fn view(disk: &mut Disk) -> Vec<(String, Vec<u8>)> {
        let names: Vec<String> = disk.files().map(str::to_string).collect();
        names
            .into_iter()
            .map(|name| {
                let bytes = disk.read(&name).unwrap().to_vec();
                (name, bytes)
            })
            .collect()
    }

    #[test]
    fn a_misdirected_write_replaces_the_next_file_and_leaves_the_intended_one_untouched() {
        let mut disk = three_files();
        disk.misdirect_writes(1);
        disk.write("a", b"new");
        assert_eq!(disk.read("a").unwrap(), b"a");
        assert_eq!(disk.read("b").unwrap(), b"new");
        assert_eq!(disk.read("c").unwrap(), b"c");
        assert_eq!((disk.stats.writes, disk.stats.misdirected), (4, 1));
        // Only the next write: the one after lands where it is meant to.
        disk.write("a", b"again");
        assert_eq!(disk.read("a").unwrap(), b"again");
        assert_eq!(disk.stats.misdirected, 1);
        assert_eq!(disk.misdirects_pending(), 0);
    }

    #[test]
    fn a_misdirected_append_extends_the_next_file() {
        let mut disk = three_files();
        disk.misdirect_writes(2);
        disk.append("b", b"+");
        disk.append("a", b"+");
        assert_eq!(
            view(&mut disk),
            [("a", &b"a"[..]), ("b", b"b+"), ("c", b"c+")]
                .map(|(name, bytes)| (name.to_string(), bytes.to_vec()))
        );
        assert_eq!(disk.stats.misdirected, 2);
    }

    #[test]
    fn misdirection_wraps_around_and_creates_no_file() {
        let mut disk = three_files();
        disk.misdirect_writes(1);
        disk.write("c", b"from c");
        assert_eq!(disk.read("a").unwrap(), b"from c");
        assert_eq!(disk.read("c").unwrap(), b"c");
        // A file that does not exist yet: the next existing name after it.
        disk.misdirect_writes(1);
        disk.append("bb", b"!");
        assert_eq!(disk.read("c").unwrap(), b"c!");
        disk.misdirect_writes(1);
        disk.write("z", b"from z");
        assert_eq!(disk.read("a").unwrap(), b"from z");
        assert_eq!(disk.files().collect::<Vec<_>>(), ["a", "b", "c"]);
        assert_eq!(disk.stats.misdirected, 3);
    }

    #[test]
    fn a_misdirected_write_is_lost_when_there_is_no_other_file() {
        let mut disk = Disk::new();
        disk.misdirect_writes(1);
        disk.write("log", b"first");
        assert_eq!(disk.files().count(), 0, "nowhere to land: nothing written");
        disk.append("log", b"abc");
        disk.misdirect_writes(1);
        disk.append("log", b"def");
        assert_eq!(disk.read("log").unwrap(), b"abc");
        assert_eq!(disk.unsynced_count(), 1);
        disk.sync();
        assert_eq!(disk.durable, disk.current);
        assert_eq!((disk.stats.misdirected, disk.stats.lost_writes), (2, 0));
    }

    #[test]
    fn a_pending_misdirect_survives_a_sync_and_a_crash_clears_it() {
        let mut rng = stream(5, "test", 0);
        let mut disk = three_files();
        disk.misdirect_writes(1);
        disk.sync();
        disk.write("b", b"meant for b");
        disk.sync();
        // The misdirected write is durable where it landed.
        disk.crash(&DiskConfig::default(), &mut rng);
        assert_eq!(disk.read("b").unwrap(), b"b");
        assert_eq!(disk.read("c").unwrap(), b"meant for b");
        disk.misdirect_writes(3);
        disk.crash(&DiskConfig::default(), &mut rng);
        assert_eq!(disk.misdirects_pending(), 0);
        disk.write("a", b"after the crash");
        assert_eq!(disk.read("a").unwrap(), b"after the crash");
        assert_eq!(disk.stats.misdirected, 1);
    }

    #[test]
    fn an_unsynced_misdirected_write_is_lost_by_a_crash_like_any_other() {
        let mut rng = stream(5, "test", 0);
        let mut disk = three_files();
        disk.misdirect_writes(1);
        disk.write("a", b"lost");
        disk.crash(&DiskConfig::default(), &mut rng);
        assert_eq!(
            view(&mut disk),
            ["a", "b", "c"].map(|name| (name.to_string(), name.as_bytes().to_vec()))
        );
    }
}

#[cfg(test)]
mod transpose_tests {
    use super::*;
    use crate::sim::rng::stream;

    /// The offsets where `before` and `after` differ.
    fn changed(before: &[u8], after: &[u8]) -> Vec<usize> {
        assert_eq!(before.len(), after.len());
        (0..before.len())
            .filter(|&i| before[i] != after[i])
            .collect()
    }

    #[test]
    fn a_transposition_swaps_exactly_two_adjacent_differing_bytes_in_one_file() {
        for seed in 0..64 {
            let mut rng = stream(seed, "test", 0);
            let mut disk = Disk::new();
            let f: Vec<u8> = vec![1, 1, 2, 3, 3, 3, 4, 5];
            disk.write("f", &f);
            // No two adjacent bytes differ here, so it is never hit.
            disk.write("g", &[9u8; 8]);
            disk.sync();
            let (file, at) = disk.transpose(&mut rng).expect("a pair to swap");
            assert_eq!(file, "f");
            let after = disk.read("f").unwrap().to_vec();
            assert_eq!(changed(&f, &after), [at, at + 1], "seed {seed}");
            assert_eq!((after[at], after[at + 1]), (f[at + 1], f[at]));
            assert_eq!(disk.read("g").unwrap(), [9u8; 8]);
            assert_eq!(disk.stats.transpositions, 1);
            assert_eq!(disk.stats.corruptions, 0);
        }
    }

    #[test]
    fn every_differing_pair_can_be_hit_and_no_pair_spans_two_files() {
        let mut hit = BTreeMap::new();
        for seed in 0..200 {
            let mut rng = stream(seed, "test", 0);
            let mut disk = Disk::new();
            // "ab" then "cd": the pair (b, c) spans two files and is never a choice.
            disk.write("x", b"ab");
            disk.write("y", b"cd");
            let place = disk.transpose(&mut rng).unwrap();
            *hit.entry(place).or_insert(0) += 1;
        }
        let places: Vec<(&str, usize)> = hit.keys().map(|(f, at)| (f.as_str(), *at)).collect();
        assert_eq!(places, [("x", 0), ("y", 0)]);
    }

    #[test]
    fn nothing_happens_and_nothing_is_drawn_without_a_differing_pair() {
        let mut rng = stream(9, "test", 0);
        let mut untouched = rng.clone();
        let mut disk = Disk::new();
        assert_eq!(disk.transpose(&mut rng), None);
        disk.write("one", b"x");
        disk.append("same", &[7u8; 5]);
        assert_eq!(disk.transpose(&mut rng), None);
        assert_eq!(disk.read("same").unwrap(), [7u8; 5]);
        assert_eq!(disk.stats.transpositions, 0);
        assert_eq!(rng.gen_range(0..u64::MAX), untouched.gen_range(0..u64::MAX));
    }

    #[test]
    fn a_transposition_is_the_same_for_the_same_seed() {
        let run = |seed| {
            let mut rng = stream(seed, "test", 0);
            let mut disk = Disk::new();
            disk.write("a", b"0123456789");
            disk.append("b", b"abcdefghij");
            let places: Vec<_> = (0..5).map(|_| disk.transpose(&mut rng)).collect();
            (places, disk.current.clone())
        };
        assert_eq!(run(11), run(11));
        assert_ne!(run(11), run(12));
    }

    /// As for bit flips: the swap lands where each byte comes from (the durable
    /// copy or a pending write), so a sync makes the durable copy equal the view
    /// and a crash keeps the swap wherever the bytes survive — also when the two
    /// bytes come from different places.
    #[test]
    fn a_swap_in_pending_data_survives_the_sync_and_the_crash_that_keep_its_bytes() {
        let keep_all = DiskConfig {
            unsynced: UnsyncedOnCrash::KeepAll,
            torn_writes: false,
        };
        let mut rng = stream(7, "disk-test", 0);
        let mut straddled = 0;
        for round in 0..300 {
            let mut disk = Disk::new();
            disk.append("log", vec![1u8, 2, 3, 4]);
            disk.sync();
            match round % 3 {
                0 => disk.append("log", vec![5u8, 6, 7, 8]),
                1 => disk.write("log", vec![9u8, 10]),
                _ => {
                    disk.write("log", vec![9u8, 10]);
                    disk.append("log", vec![11u8, 12]);
                }
            }
            let (_, at) = disk.transpose(&mut rng).expect("a pair to swap");
            let durable_len = disk.durable["log"].len();
            if round % 3 == 0 && at + 1 == durable_len {
                straddled += 1;
            }
            let view = disk.current.clone();
            let mut synced = disk.clone();
            synced.sync();
            assert_eq!(synced.durable, view, "round {round}");
            let mut kept = disk.clone();
            kept.crash(&keep_all, &mut rng);
            assert_eq!(kept.current, view, "round {round}");
            if round % 3 == 0 {
                // Losing the append keeps the durable half of the swap.
                let mut lost = disk.clone();
                lost.crash(&DiskConfig::default(), &mut rng);
                assert_eq!(lost.current["log"], view["log"][..4], "round {round}");
            }
        }
        assert!(straddled > 0, "no swap across the synced and pending bytes");
    }
}
