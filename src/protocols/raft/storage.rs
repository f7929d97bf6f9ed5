//! What a Raft node keeps on disk, and how it reads it back.
//!
//! Three files, every record CRC32C-framed:
//! - `raft.state`: one record, the current term and vote, replaced on change;
//! - `raft.log`: appended `Entries` records — each names its first index and
//!   replaces any entries from there on, so a truncation needs no record of its
//!   own — after an optional leading `Base` record naming the snapshot the log
//!   continues (the log is rewritten that way whenever it is compacted);
//! - `raft.snapshot`: one record, the last snapshot.
//!
//! Reading back is strict: a record that fails its checksum, a truncated frame, an
//! entries record that leaves a gap, or a log whose base disagrees with the
//! snapshot is damage, reported as an error. The node then refuses to serve.

use super::{Command, Entry, Snapshot};
use crate::protocols::codec::{DecodeError, Decoder, Encoder};
use crate::protocols::durable::{records, single};
use crate::protocols::kv::{KvCommand, KvStore};
use crate::sim::crc32c::{FRAME_HEADER, begin_frame, finish_frame, frame};
use std::collections::BTreeMap;
use std::rc::Rc;

/// The term-and-vote file.
pub const STATE: &str = "raft.state";
/// The log file.
pub const LOG: &str = "raft.log";
/// The snapshot file.
pub const SNAPSHOT: &str = "raft.snapshot";

const BASE: u8 = 1;
const ENTRIES: u8 = 2;
const NO_VOTE: u64 = u64::MAX;

/// Everything a node persists.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Durable {
    /// Current term.
    pub term: u64,
    /// Vote in the current term.
    pub voted_for: Option<usize>,
    /// The snapshot the log continues, if any.
    pub snapshot: Option<Snapshot>,
    /// Entries after the snapshot (index `snapshot.index + 1` first).
    pub entries: Vec<Entry>,
}

/// The state machine as a snapshot holds it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MachineState {
    /// The key/value store.
    pub store: KvStore,
    /// Bare values applied (driver commands), by index.
    pub values: BTreeMap<u64, i64>,
    /// Chained digest of every command applied so far.
    pub digest: u64,
}

impl MachineState {
    /// The encoding stored in a snapshot.
    pub fn encode(&self) -> Rc<[u8]> {
        let mut out = Encoder::new();
        out.u64(self.digest);
        out.u64(self.values.len() as u64);
        for (index, value) in &self.values {
            out.u64(*index).i64(*value);
        }
        self.store.encode(&mut out);
        out.bytes.into()
    }

    /// Reads an encoding made by [`MachineState::encode`].
    pub fn decode(bytes: &[u8]) -> Result<MachineState, DecodeError> {
        let mut input = Decoder::new(bytes);
        let digest = input.u64()?;
        let mut values = BTreeMap::new();
        for _ in 0..input.u64()? {
            let index = input.u64()?;
            values.insert(index, input.i64()?);
        }
        let store = KvStore::decode(&mut input)?;
        if !input.is_empty() {
            return Err(DecodeError("trailing bytes after the state machine".into()));
        }
        Ok(MachineState {
            store,
            values,
            digest,
        })
    }
}

fn encode_entry(entry: &Entry, out: &mut Encoder) {
    out.u64(entry.term);
    match &*entry.command {
        Command::Noop => {
            out.u8(0);
        }
        Command::Kv(command) => {
            out.u8(1);
            command.encode(out);
        }
        Command::Value(value) => {
            out.u8(2).i64(*value);
        }
        Command::Bytes(bytes) => {
            out.u8(3).bytes(bytes);
        }
    }
}

fn decode_entry(input: &mut Decoder<'_>) -> Result<Entry, DecodeError> {
    let term = input.u64()?;
    let command = match input.u8()? {
        0 => Command::Noop,
        1 => Command::Kv(KvCommand::decode(input)?),
        2 => Command::Value(input.i64()?),
        3 => Command::Bytes(input.bytes()?.into()),
        tag => return Err(DecodeError(format!("unknown command tag {tag}"))),
    };
    Ok(Entry {
        term,
        command: Rc::new(command),
    })
}

/// The framed term-and-vote record.
pub fn state_record(term: u64, voted_for: Option<usize>) -> Vec<u8> {
    let mut payload = Encoder::new();
    payload
        .u64(term)
        .u64(voted_for.map_or(NO_VOTE, |id| id as u64));
    let mut out = Vec::new();
    frame(&payload.bytes, &mut out);
    out
}

/// A framed entries record: `entries` start at `first_index`.
pub fn entries_record(first_index: u64, entries: &[Entry]) -> Vec<u8> {
    let mut out = Encoder {
        bytes: Vec::with_capacity(FRAME_HEADER + 17 + 48 * entries.len()),
    };
    let at = begin_frame(&mut out.bytes);
    out.u8(ENTRIES).u64(first_index).u64(entries.len() as u64);
    for entry in entries {
        encode_entry(entry, &mut out);
    }
    finish_frame(&mut out.bytes, at);
    out.bytes
}

/// A whole log file: a base record then the entries after it.
pub fn log_file(base_index: u64, base_term: u64, entries: &[Entry]) -> Vec<u8> {
    let mut payload = Encoder::new();
    payload.u8(BASE).u64(base_index).u64(base_term);
    let mut out = Vec::new();
    frame(&payload.bytes, &mut out);
    if !entries.is_empty() {
        out.extend_from_slice(&entries_record(base_index + 1, entries));
    }
    out
}

/// The framed snapshot record.
pub fn snapshot_record(snapshot: &Snapshot) -> Vec<u8> {
    let mut payload = Encoder::new();
    payload
        .u64(snapshot.index)
        .u64(snapshot.term)
        .bytes(&snapshot.data);
    let mut out = Vec::new();
    frame(&payload.bytes, &mut out);
    out
}

/// Rebuilds the durable state from the three files' contents.
pub fn load(state: &[u8], log: &[u8], snapshot: &[u8]) -> Result<Durable, String> {
    let mut durable = Durable::default();
    let decode = |file: &str, error: DecodeError| format!("{file}: {error}");
    if let Some(record) = single(STATE, state)? {
        let mut input = Decoder::new(record);
        durable.term = input.u64().map_err(|e| decode(STATE, e))?;
        let vote = input.u64().map_err(|e| decode(STATE, e))?;
        durable.voted_for = (vote != NO_VOTE).then_some(vote as usize);
    }
    if let Some(record) = single(SNAPSHOT, snapshot)? {
        let mut input = Decoder::new(record);
        let index = input.u64().map_err(|e| decode(SNAPSHOT, e))?;
        let term = input.u64().map_err(|e| decode(SNAPSHOT, e))?;
        let data = input.bytes().map_err(|e| decode(SNAPSHOT, e))?;
        MachineState::decode(data).map_err(|e| decode(SNAPSHOT, e))?;
        durable.snapshot = Some(Snapshot {
            index,
            term,
            data: data.into(),
        });
    }
    let base = durable
        .snapshot
        .as_ref()
        .map_or(0, |snapshot| snapshot.index);
    for (position, record) in records(LOG, log)?.into_iter().enumerate() {
        let mut input = Decoder::new(record);
        match input.u8().map_err(|e| decode(LOG, e))? {
            BASE if position == 0 => {
                let index = input.u64().map_err(|e| decode(LOG, e))?;
                let term = input.u64().map_err(|e| decode(LOG, e))?;
                let expected = durable
                    .snapshot
                    .as_ref()
                    .map(|snapshot| (snapshot.index, snapshot.term));
                if expected != Some((index, term)) && (index, term) != (0, 0) {
                    return Err(format!(
                        "{LOG}: continues a snapshot at index {index} term {term}, but the snapshot file holds {expected:?}"
                    ));
                }
            }
            ENTRIES => {
                let first = input.u64().map_err(|e| decode(LOG, e))?;
                let count = input.u64().map_err(|e| decode(LOG, e))?;
                let last = base + durable.entries.len() as u64;
                if first <= base || first > last + 1 {
                    return Err(format!(
                        "{LOG}: record {position} starts at index {first}, but the log holds {}..={last}",
                        base + 1
                    ));
                }
                durable.entries.truncate((first - base - 1) as usize);
                for _ in 0..count {
                    durable
                        .entries
                        .push(decode_entry(&mut input).map_err(|e| decode(LOG, e))?);
                }
            }
            tag => return Err(format!("{LOG}: unexpected record tag {tag} at {position}")),
        }
        if !input.is_empty() {
            return Err(format!("{LOG}: trailing bytes in record {position}"));
        }
    }
    Ok(durable)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocols::kv::KvOp;

    fn entry(term: u64, value: i64) -> Entry {
        Entry {
            term,
            command: Rc::new(Command::Value(value)),
        }
    }

    #[test]
    fn entries_records_replace_their_suffix() {
        let mut log = Vec::new();
        log.extend(entries_record(
            1,
            &[entry(1, 10), entry(1, 11), entry(1, 12)],
        ));
        log.extend(entries_record(2, &[entry(2, 20)]));
        let state = state_record(2, Some(3));
        let durable = load(&state, &log, &[]).unwrap();
        assert_eq!(durable.term, 2);
        assert_eq!(durable.voted_for, Some(3));
        assert_eq!(durable.entries, vec![entry(1, 10), entry(2, 20)]);
    }

    #[test]
    fn a_compacted_log_continues_its_snapshot() {
        let machine = MachineState {
            store: KvStore::new(),
            values: [(1, 10), (2, 11)].into_iter().collect(),
            digest: 99,
        };
        let snapshot = Snapshot {
            index: 2,
            term: 1,
            data: machine.encode(),
        };
        let kv = Entry {
            term: 3,
            command: Rc::new(Command::Kv(KvCommand {
                client: 5,
                seq: 1,
                op: KvOp::Put("k".into(), 4),
            })),
        };
        let log = log_file(2, 1, std::slice::from_ref(&kv));
        let durable = load(&[], &log, &snapshot_record(&snapshot)).unwrap();
        assert_eq!(durable.snapshot.as_ref().unwrap().index, 2);
        assert_eq!(durable.entries, vec![kv]);
        let restored = MachineState::decode(&durable.snapshot.unwrap().data).unwrap();
        assert_eq!(restored, machine);
        // A log continuing a snapshot the node does not have is damage.
        assert!(load(&[], &log, &[]).is_err());
    }

    #[test]
    fn an_opaque_command_round_trips_and_its_garbled_forms_are_errors() {
        let bytes = Entry {
            term: 4,
            command: Rc::new(Command::Bytes(Rc::from(&b"lock k1 by 7"[..]))),
        };
        let empty = Entry {
            term: 4,
            command: Rc::new(Command::Bytes(Rc::from(&[][..]))),
        };
        let log = entries_record(1, &[entry(3, 1), bytes.clone(), empty.clone()]);
        let durable = load(&[], &log, &[]).unwrap();
        assert_eq!(durable.entries, vec![entry(3, 1), bytes.clone(), empty]);

        // The payload alone, as `load` sees it after the frame's checksum passed.
        let mut out = Encoder::new();
        encode_entry(&bytes, &mut out);
        let payload = out.bytes;
        let decoded = decode_entry(&mut Decoder::new(&payload)).unwrap();
        assert_eq!(decoded, bytes);
        // Every truncation is an error, never a panic.
        for cut in 0..payload.len() {
            assert!(
                decode_entry(&mut Decoder::new(&payload[..cut])).is_err(),
                "a payload cut to {cut} bytes decoded"
            );
        }
        // A length that runs past the buffer, or that cannot fit in memory.
        for length in [payload.len() as u64, u64::MAX, u64::MAX / 2] {
            let mut garbled = payload.clone();
            garbled[9..17].copy_from_slice(&length.to_le_bytes());
            let error = decode_entry(&mut Decoder::new(&garbled)).unwrap_err();
            assert!(
                error.0.contains("bytes") || error.0.contains("length"),
                "{error}"
            );
        }
        // An unknown tag.
        let mut garbled = payload.clone();
        garbled[8] = 9;
        assert_eq!(
            decode_entry(&mut Decoder::new(&garbled)).unwrap_err().0,
            "unknown command tag 9"
        );
        // A garbled record whose frame is re-checksummed so that it reaches the decoder.
        let mut record = Encoder::new();
        record.u8(ENTRIES).u64(1).u64(1);
        record
            .bytes
            .extend_from_slice(&payload[..payload.len() - 3]);
        let mut file = Vec::new();
        frame(&record.bytes, &mut file);
        assert!(load(&[], &file, &[]).unwrap_err().starts_with(LOG));
        // And a bit flipped on disk fails the checksum.
        let mut log = entries_record(1, std::slice::from_ref(&bytes));
        let last = log.len() - 2;
        log[last] ^= 0x10;
        assert!(load(&[], &log, &[]).is_err());
    }

    #[test]
    fn damage_and_gaps_are_errors() {
        let mut log = entries_record(1, &[entry(1, 10)]);
        log.extend(entries_record(3, &[entry(1, 12)]));
        assert!(
            load(&[], &log, &[])
                .unwrap_err()
                .contains("starts at index 3")
        );
        let mut log = entries_record(1, &[entry(1, 10)]);
        let last = log.len() - 1;
        log[last] ^= 4;
        assert!(load(&[], &log, &[]).is_err());
        let state = state_record(1, None);
        assert!(load(&state[..state.len() - 2], &[], &[]).is_err());
    }
}
