//! What the protocols that persist (Raft, Paxos) share about reading their disk
//! back after a restart: reading files with retries, and splitting a file into
//! its CRC-checked records.

use crate::sim::crc32c::unframe;
use crate::sim::{Ctx, Protocol};

/// Reads every file in `files`, trying each up to three times (marking
/// `retried` on each failed read). `None` if a read still failed: the caller
/// marks it and tries again later.
pub fn read_files<P: Protocol>(
    ctx: &mut Ctx<'_, P>,
    files: &[&str],
    retried: impl Into<&'static str> + Copy,
) -> Option<Vec<Vec<u8>>> {
    let mut contents = Vec::with_capacity(files.len());
    for file in files {
        let mut read = None;
        for _ in 0..3 {
            if let Ok(bytes) = ctx.disk().read(file) {
                read = Some(bytes.to_vec());
                break;
            }
            ctx.sometimes(retried);
        }
        contents.push(read?);
    }
    Some(contents)
}

/// The CRC-framed records of `file`'s contents, or what is wrong with them.
pub fn records<'a>(file: &str, bytes: &'a [u8]) -> Result<Vec<&'a [u8]>, String> {
    let (records, error) = unframe(bytes);
    match error {
        None => Ok(records),
        Some(error) => Err(format!("{file}: {error:?}")),
    }
}

/// The one record of a single-record file (none if it is empty).
pub fn single<'a>(file: &str, bytes: &'a [u8]) -> Result<Option<&'a [u8]>, String> {
    let records = records(file, bytes)?;
    match records.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(one)),
        more => Err(format!("{file}: {} records where one belongs", more.len())),
    }
}

/// The number of this start of the node: one more than any earlier start's.
/// `file` is a log of CRC-framed little-endian u64 records, one appended
/// (and synced) per start. A record a disk fault damaged is skipped but
/// counted, so the next number still lands above every earlier one: if the
/// last record is the damaged one, the highest intact record plus the
/// damaged count plus one is above it. (A misdirected append, which leaves
/// no trace in this file, can repeat a number; a reducer's fetch still finds
/// the outputs gone.)
pub fn next_generation<P: Protocol>(ctx: &mut Ctx<'_, P>, file: &str) -> u64 {
    use crate::sim::crc32c::{frame, salvage};
    // A failed read is retried: the counter must never go back.
    let bytes = loop {
        if let Ok(bytes) = ctx.disk().read(file) {
            break bytes.to_vec();
        }
    };
    let (records, damaged) = salvage(&bytes);
    let highest = records
        .iter()
        .filter_map(|record| <[u8; 8]>::try_from(*record).ok())
        .map(u64::from_le_bytes)
        .max()
        .unwrap_or(0);
    let next = highest + damaged.len() as u64 + 1;
    let mut out = Vec::new();
    frame(&next.to_le_bytes(), &mut out);
    ctx.disk().append(file, out);
    ctx.disk().sync();
    next
}
