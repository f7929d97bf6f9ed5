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
