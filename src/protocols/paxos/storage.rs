//! What a Paxos node keeps on disk, and how it reads it back.
//!
//! Two files, every record CRC32C-framed:
//! - `paxos.acceptor`: the acceptor's votes, appended as they are made — `Promise`
//!   records (the ballot promised) and `Accept` records (slot, ballot, value) —
//!   after a leading `Base` record naming the snapshot slot the file continues.
//!   On compaction the file is rewritten: the base, the promise, and the
//!   acceptances in slots after the snapshot.
//! - `paxos.snapshot`: one record, the last snapshot (its slot and the encoded
//!   state machine).
//!
//! Reading back is strict: a record that fails its checksum, a truncated frame,
//! an unknown tag, or a base that disagrees with the snapshot is damage, reported
//! as an error; the node then refuses to serve rather than vote with a memory it
//! cannot trust.

use super::{Ballot, Command, Proposal, Snapshot};
use crate::protocols::codec::{DecodeError, Decoder, Encoder};
use crate::protocols::durable::{records, single};
use crate::protocols::kv::{KvCommand, KvStore};
use crate::sim::crc32c::{begin_frame, finish_frame};
use std::collections::BTreeMap;
use std::rc::Rc;

/// The acceptor's file.
pub const ACCEPTOR: &str = "paxos.acceptor";
/// The snapshot file.
pub const SNAPSHOT: &str = "paxos.snapshot";

const BASE: u8 = 1;
const PROMISE: u8 = 2;
const ACCEPT: u8 = 3;

/// Everything a node persists.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Durable {
    /// The highest ballot promised.
    pub promised: Ballot,
    /// Accepted proposals by slot (slots after the snapshot).
    pub accepted: BTreeMap<u64, (Ballot, Rc<Command>)>,
    /// The last snapshot, if any.
    pub snapshot: Option<Snapshot>,
}

/// The state machine as a snapshot holds it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MachineState {
    /// The key/value store.
    pub store: KvStore,
    /// Chained digest of every command applied so far.
    pub digest: u64,
}

impl MachineState {
    /// The encoding stored in a snapshot.
    pub fn encode(&self) -> Rc<[u8]> {
        let mut out = Encoder::new();
        out.u64(self.digest);
        self.store.encode(&mut out);
        out.bytes.into()
    }

    /// Reads an encoding made by [`MachineState::encode`].
    pub fn decode(bytes: &[u8]) -> Result<MachineState, DecodeError> {
        let mut input = Decoder::new(bytes);
        let digest = input.u64()?;
        let store = KvStore::decode(&mut input)?;
        if !input.is_empty() {
            return Err(DecodeError("trailing bytes after the state machine".into()));
        }
        Ok(MachineState { store, digest })
    }
}

fn ballot(out: &mut Encoder, ballot: Ballot) {
    out.u64(ballot.round).u64(u64::from(ballot.node));
}

fn read_ballot(input: &mut Decoder<'_>) -> Result<Ballot, DecodeError> {
    let round = input.u64()?;
    let node = input.u64()?;
    let node = u32::try_from(node).map_err(|_| DecodeError(format!("node {node} too large")))?;
    Ok(Ballot { round, node })
}

fn framed(write: impl FnOnce(&mut Encoder)) -> Vec<u8> {
    let mut out = Encoder::new();
    let at = begin_frame(&mut out.bytes);
    write(&mut out);
    finish_frame(&mut out.bytes, at);
    out.bytes
}

/// The framed record of a promise.
pub fn promise_record(promised: Ballot) -> Vec<u8> {
    framed(|out| {
        out.u8(PROMISE);
        ballot(out, promised);
    })
}

/// The framed record of an acceptance.
pub fn accept_record(slot: u64, accepted: Ballot, command: &Command) -> Vec<u8> {
    framed(|out| {
        out.u8(ACCEPT).u64(slot);
        ballot(out, accepted);
        match command {
            Command::Noop => {
                out.u8(0);
            }
            Command::Kv(command) => {
                out.u8(1);
                command.encode(out);
            }
        }
    })
}

/// A whole acceptor file after compaction: base, promise, acceptances.
pub fn acceptor_file(
    base: u64,
    promised: Ballot,
    accepted: &BTreeMap<u64, (Ballot, Rc<Command>)>,
) -> Vec<u8> {
    let mut out = framed(|out| {
        out.u8(BASE).u64(base);
    });
    out.extend(promise_record(promised));
    for (slot, (ballot, command)) in accepted.range(base + 1..) {
        out.extend(accept_record(*slot, *ballot, command));
    }
    out
}

/// The framed snapshot record.
pub fn snapshot_record(snapshot: &Snapshot) -> Vec<u8> {
    framed(|out| {
        out.u64(snapshot.slot).bytes(&snapshot.data);
    })
}

/// Rebuilds the durable state from the two files' contents.
pub fn load(acceptor: &[u8], snapshot: &[u8]) -> Result<Durable, String> {
    let decode = |file: &str, error: DecodeError| format!("{file}: {error}");
    let mut durable = Durable::default();
    if let Some(record) = single(SNAPSHOT, snapshot)? {
        let mut input = Decoder::new(record);
        let slot = input.u64().map_err(|e| decode(SNAPSHOT, e))?;
        let data = input.bytes().map_err(|e| decode(SNAPSHOT, e))?;
        MachineState::decode(data).map_err(|e| decode(SNAPSHOT, e))?;
        durable.snapshot = Some(Snapshot {
            slot,
            data: data.into(),
        });
    }
    let base = durable
        .snapshot
        .as_ref()
        .map_or(0, |snapshot| snapshot.slot);
    for (position, record) in records(ACCEPTOR, acceptor)?.into_iter().enumerate() {
        let mut input = Decoder::new(record);
        let error = |e| decode(ACCEPTOR, e);
        match input.u8().map_err(error)? {
            BASE if position == 0 => {
                let slot = input.u64().map_err(error)?;
                if slot != base {
                    return Err(format!(
                        "{ACCEPTOR}: continues a snapshot through slot {slot}, but the snapshot file covers {base}"
                    ));
                }
            }
            PROMISE => {
                let promised = read_ballot(&mut input).map_err(error)?;
                durable.promised = durable.promised.max(promised);
            }
            ACCEPT => {
                let slot = input.u64().map_err(error)?;
                let ballot = read_ballot(&mut input).map_err(error)?;
                let command = match input.u8().map_err(error)? {
                    0 => Command::Noop,
                    1 => Command::Kv(KvCommand::decode(&mut input).map_err(error)?),
                    tag => return Err(format!("{ACCEPTOR}: unknown command tag {tag}")),
                };
                durable.promised = durable.promised.max(ballot);
                if slot > base {
                    durable.accepted.insert(slot, (ballot, Rc::new(command)));
                }
            }
            tag => {
                return Err(format!(
                    "{ACCEPTOR}: unexpected record tag {tag} at {position}"
                ));
            }
        }
        if !input.is_empty() {
            return Err(format!("{ACCEPTOR}: trailing bytes in record {position}"));
        }
    }
    Ok(durable)
}

/// The accepted proposals of `accepted` from `from` on, as a promise reports them.
pub fn proposals(accepted: &BTreeMap<u64, (Ballot, Rc<Command>)>, from: u64) -> Vec<Proposal> {
    accepted
        .range(from..)
        .map(|(slot, (ballot, command))| Proposal {
            slot: *slot,
            ballot: *ballot,
            command: command.clone(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocols::kv::KvOp;

    fn put(seq: u64) -> Rc<Command> {
        Rc::new(Command::Kv(KvCommand {
            client: 5,
            seq,
            op: KvOp::Put("k".into(), seq as i64),
        }))
    }

    fn b(round: u64, node: u32) -> Ballot {
        Ballot { round, node }
    }

    #[test]
    fn votes_replay_in_order_and_later_acceptances_replace_earlier() {
        let mut file = promise_record(b(1, 0));
        file.extend(accept_record(1, b(1, 0), &put(1)));
        file.extend(accept_record(2, b(1, 0), &Command::Noop));
        file.extend(promise_record(b(3, 2)));
        file.extend(accept_record(1, b(3, 2), &put(7)));
        let durable = load(&file, &[]).unwrap();
        assert_eq!(durable.promised, b(3, 2));
        assert_eq!(durable.accepted[&1], (b(3, 2), put(7)));
        assert_eq!(durable.accepted[&2], (b(1, 0), Rc::new(Command::Noop)));
    }

    #[test]
    fn a_compacted_file_continues_its_snapshot() {
        let machine = MachineState {
            store: KvStore::new(),
            digest: 42,
        };
        let snapshot = Snapshot {
            slot: 2,
            data: machine.encode(),
        };
        let accepted: BTreeMap<_, _> = [(1, (b(1, 1), put(1))), (3, (b(1, 1), put(3)))]
            .into_iter()
            .collect();
        let file = acceptor_file(2, b(2, 1), &accepted);
        let durable = load(&file, &snapshot_record(&snapshot)).unwrap();
        assert_eq!(durable.promised, b(2, 1));
        assert_eq!(durable.accepted.keys().copied().collect::<Vec<_>>(), [3]);
        let restored = MachineState::decode(&durable.snapshot.unwrap().data).unwrap();
        assert_eq!(restored, machine);
        // A file continuing a snapshot the node does not have is damage.
        assert!(load(&file, &[]).unwrap_err().contains("snapshot"));
    }

    #[test]
    fn damage_is_an_error() {
        let mut file = accept_record(1, b(1, 0), &put(1));
        let last = file.len() - 1;
        file[last] ^= 8;
        assert!(load(&file, &[]).is_err());
        let file = promise_record(b(1, 0));
        assert!(load(&file[..file.len() - 3], &[]).is_err());
    }
}
