//! The records of the transaction logs, and reading a log back.
//!
//! Each shard and the coordinator append CRC-framed records to one log file
//! ([`crate::sim::crc32c::frame`]) and sync it before they act on what they
//! wrote (a vote after its prepare record, a commit message after its
//! decision record). After a crash the log is read back with [`read_log`]:
//!
//! - a frame cut short at the end of the file is a *torn tail*: the last
//!   write was not synced and the crash tore it. Nothing was acted on after
//!   an unsynced write, so the tail is dropped and the log goes on from the
//!   last whole record;
//! - a frame that fails its checksum is *damage* (a flipped bit in a record
//!   that was synced): the records after it cannot be trusted to be all
//!   there is, so the caller must not serve from this log.

use super::TxnId;
use crate::protocols::codec::{DecodeError, Decoder, Encoder};
use crate::sim::crc32c::{FrameError, frame, unframe};

/// One write a prepared transaction makes to a shard's store.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Write {
    /// Set a register (a bank account's balance) to a value.
    Set {
        /// The key.
        key: u64,
        /// The new value.
        value: i64,
    },
    /// Append an element to a list.
    Append {
        /// The key.
        key: u64,
        /// The element.
        value: i64,
    },
}

/// A log record.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Record {
    /// Shard: the transaction is prepared; it holds these locks (shared keys
    /// read, exclusive keys written) and will make these writes if it
    /// commits. Forced before the shard votes yes.
    Prepare {
        /// The transaction.
        txn: TxnId,
        /// Its coordinator (the node to ask when in doubt).
        coordinator: u64,
        /// The keys it read under shared locks.
        shared: Vec<u64>,
        /// The keys it holds exclusively.
        exclusive: Vec<u64>,
        /// Its writes, in order.
        writes: Vec<Write>,
    },
    /// Shard: the decision on a prepared transaction (forced before the
    /// commit is acknowledged; an abort is not forced: presumed abort).
    Decided {
        /// The transaction.
        txn: TxnId,
        /// Commit (else abort).
        commit: bool,
    },
    /// Coordinator: the transaction commits, at these participants. Forced
    /// before any participant or the client is told. Under presumed abort a
    /// transaction with no commit record aborted.
    Commit {
        /// The transaction.
        txn: TxnId,
        /// The participating shards.
        participants: Vec<u64>,
    },
    /// Coordinator: every participant acknowledged the commit (not forced:
    /// losing it only means resending the commit once more).
    End {
        /// The transaction.
        txn: TxnId,
    },
}

const PREPARE: u8 = 1;
const DECIDED: u8 = 2;
const COMMIT: u8 = 3;
const END: u8 = 4;
const SET: u8 = 1;
const APPEND: u8 = 2;

fn txn(out: &mut Encoder, txn: TxnId) {
    out.u64(u64::from(txn.client)).u64(txn.seq);
}

fn keys(out: &mut Encoder, keys: &[u64]) {
    out.u64(keys.len() as u64);
    for &key in keys {
        out.u64(key);
    }
}

fn read_txn(input: &mut Decoder<'_>) -> Result<TxnId, DecodeError> {
    let client = input.u64()?;
    let client = u32::try_from(client)
        .map_err(|_| DecodeError(format!("client {client} does not fit in 32 bits")))?;
    Ok(TxnId {
        client,
        seq: input.u64()?,
    })
}

/// A count read from a record, refused when it could not fit in what is left
/// (so a bad count cannot make the reader allocate without bound).
fn count(input: &mut Decoder<'_>, left: usize) -> Result<usize, DecodeError> {
    let count = input.u64()?;
    usize::try_from(count)
        .ok()
        .filter(|&count| count <= left)
        .ok_or_else(|| DecodeError(format!("count {count} exceeds the record")))
}

fn read_keys(input: &mut Decoder<'_>, size: usize) -> Result<Vec<u64>, DecodeError> {
    let count = count(input, size)?;
    (0..count).map(|_| input.u64()).collect()
}

impl Record {
    /// The record's payload bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Encoder::new();
        match self {
            Record::Prepare {
                txn: id,
                coordinator,
                shared,
                exclusive,
                writes,
            } => {
                out.u8(PREPARE);
                txn(&mut out, *id);
                out.u64(*coordinator);
                keys(&mut out, shared);
                keys(&mut out, exclusive);
                out.u64(writes.len() as u64);
                for write in writes {
                    match write {
                        Write::Set { key, value } => out.u8(SET).u64(*key).i64(*value),
                        Write::Append { key, value } => out.u8(APPEND).u64(*key).i64(*value),
                    };
                }
            }
            Record::Decided { txn: id, commit } => {
                out.u8(DECIDED);
                txn(&mut out, *id);
                out.u8(u8::from(*commit));
            }
            Record::Commit {
                txn: id,
                participants,
            } => {
                out.u8(COMMIT);
                txn(&mut out, *id);
                keys(&mut out, participants);
            }
            Record::End { txn: id } => {
                out.u8(END);
                txn(&mut out, *id);
            }
        }
        out.bytes
    }

    /// The record as one CRC frame, ready to append to a log.
    pub fn framed(&self) -> Vec<u8> {
        let mut framed = Vec::new();
        frame(&self.encode(), &mut framed);
        framed
    }

    /// Reads a record from its payload.
    pub fn decode(bytes: &[u8]) -> Result<Record, DecodeError> {
        let size = bytes.len();
        let mut input = Decoder::new(bytes);
        let record = match input.u8()? {
            PREPARE => {
                let txn = read_txn(&mut input)?;
                let coordinator = input.u64()?;
                let shared = read_keys(&mut input, size)?;
                let exclusive = read_keys(&mut input, size)?;
                let writes = (0..count(&mut input, size)?)
                    .map(|_| {
                        let tag = input.u8()?;
                        let key = input.u64()?;
                        let value = input.i64()?;
                        match tag {
                            SET => Ok(Write::Set { key, value }),
                            APPEND => Ok(Write::Append { key, value }),
                            tag => Err(DecodeError(format!("unknown write tag {tag}"))),
                        }
                    })
                    .collect::<Result<_, _>>()?;
                Record::Prepare {
                    txn,
                    coordinator,
                    shared,
                    exclusive,
                    writes,
                }
            }
            DECIDED => {
                let txn = read_txn(&mut input)?;
                let commit = match input.u8()? {
                    0 => false,
                    1 => true,
                    other => return Err(DecodeError(format!("decision byte {other}"))),
                };
                Record::Decided { txn, commit }
            }
            COMMIT => Record::Commit {
                txn: read_txn(&mut input)?,
                participants: read_keys(&mut input, size)?,
            },
            END => Record::End {
                txn: read_txn(&mut input)?,
            },
            tag => return Err(DecodeError(format!("unknown record tag {tag}"))),
        };
        if !input.is_empty() {
            return Err(DecodeError("bytes left after the record".into()));
        }
        Ok(record)
    }
}

/// A log read back: its whole records, and whether a torn tail was dropped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Log {
    /// The records, in the order they were appended.
    pub records: Vec<Record>,
    /// Bytes of a torn last frame that were dropped (0: none).
    pub torn: usize,
}

/// Why a log cannot be served from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LogError {
    /// A frame failed its checksum at this byte offset.
    Damaged {
        /// Byte offset of the frame.
        offset: usize,
    },
    /// A frame passed its checksum but is no record: writer and reader
    /// disagree (a bug, not damage).
    Undecodable {
        /// Which record (0-based).
        index: usize,
        /// What was wrong.
        error: DecodeError,
    },
}

/// Reads a log file's contents (see the module documentation).
pub fn read_log(bytes: &[u8]) -> Result<Log, LogError> {
    let (frames, error) = unframe(bytes);
    let torn = match error {
        None => 0,
        Some(FrameError::Truncated { offset }) => bytes.len() - offset,
        Some(FrameError::Checksum { offset }) => return Err(LogError::Damaged { offset }),
    };
    let records = frames
        .iter()
        .enumerate()
        .map(|(index, bytes)| {
            Record::decode(bytes).map_err(|error| LogError::Undecodable { index, error })
        })
        .collect::<Result<_, _>>()?;
    Ok(Log { records, torn })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples() -> Vec<Record> {
        let t = TxnId { client: 3, seq: 17 };
        vec![
            Record::Prepare {
                txn: t,
                coordinator: 4,
                shared: vec![1, 2],
                exclusive: vec![9],
                writes: vec![
                    Write::Set { key: 9, value: -5 },
                    Write::Append {
                        key: 9,
                        value: i64::MAX,
                    },
                ],
            },
            Record::Decided {
                txn: t,
                commit: true,
            },
            Record::Decided {
                txn: t,
                commit: false,
            },
            Record::Commit {
                txn: t,
                participants: vec![0, 2],
            },
            Record::End { txn: t },
            Record::Prepare {
                txn: TxnId { client: 0, seq: 1 },
                coordinator: 0,
                shared: Vec::new(),
                exclusive: Vec::new(),
                writes: Vec::new(),
            },
        ]
    }

    fn log_of(records: &[Record]) -> Vec<u8> {
        records.iter().flat_map(Record::framed).collect()
    }

    #[test]
    fn every_record_reads_back_as_written() {
        let records = samples();
        for record in &records {
            assert_eq!(Record::decode(&record.encode()).as_ref(), Ok(record));
        }
        let log = read_log(&log_of(&records)).unwrap();
        assert_eq!(log.records, records);
        assert_eq!(log.torn, 0);
        assert_eq!(read_log(&[]).unwrap().records, Vec::new());
    }

    #[test]
    fn a_torn_tail_is_dropped_and_the_whole_records_kept() {
        let records = samples();
        let bytes = log_of(&records);
        let last = records.last().unwrap().framed().len();
        for cut in 1..last {
            let log = read_log(&bytes[..bytes.len() - cut]).unwrap();
            assert_eq!(log.records, records[..records.len() - 1], "cut {cut}");
            assert_eq!(log.torn, last - cut);
        }
    }

    #[test]
    fn a_flipped_bit_anywhere_is_never_read_as_good_records() {
        let records = samples();
        let bytes = log_of(&records);
        for bit in 0..bytes.len() * 8 {
            let mut damaged = bytes.clone();
            damaged[bit / 8] ^= 1 << (bit % 8);
            // A flip in a length field may look like a torn tail; whatever is
            // read back must be a prefix of what was written, never a record
            // that was not.
            if let Ok(log) = read_log(&damaged) {
                assert!(
                    log.records.len() < records.len()
                        && log.records[..] == records[..log.records.len()],
                    "bit {bit} read back as {:?}",
                    log.records
                );
            }
        }
    }

    #[test]
    fn malformed_payloads_are_errors_not_panics() {
        for record in samples() {
            let bytes = record.encode();
            for end in 0..bytes.len() {
                assert!(Record::decode(&bytes[..end]).is_err(), "prefix {end}");
            }
            let mut longer = bytes.clone();
            longer.push(0);
            assert!(Record::decode(&longer).is_err());
        }
        assert!(Record::decode(&[9]).is_err());
        let mut huge = vec![COMMIT];
        huge.extend_from_slice(&[0; 16]);
        huge.extend_from_slice(&u64::MAX.to_le_bytes());
        assert!(Record::decode(&huge).is_err());
    }
}
