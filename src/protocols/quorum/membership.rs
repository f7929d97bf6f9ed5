//! Membership of the ring at run time: who the replicas are while nodes join
//! and leave.
//!
//! # The view
//!
//! A node's *view* holds one entry per node: a generation and a standing
//! (`out`, `joining`, `member`, `leaving`). Only a node changes its own
//! entry (an operator's `join` or `leave` reaches that node, as a Dynamo
//! administrator's command does), each change one generation up, so views
//! merge without conflict: entry by entry, the higher generation wins. A view
//! *covers* another when it is at or past it in every entry.
//!
//! # Moving keys safely
//!
//! A view places each key twice: on the ring of the nodes that are members
//! or leaving (the *old* placement, before the changes in progress) and on
//! the ring of the nodes that are members or joining (the *new* one). While
//! they differ every operation needs its quorum in both — a get `r` replies
//! from the old replicas and `r` from the new, a put `w` acknowledgements
//! from each — so an operation of a node that has heard of a change and one
//! of a node that has heard it finished still meet. A change goes through
//! three steps at the node it is about:
//!
//! 1. **Announce** the new standing (`joining` or `leaving`) to every node
//!    and wait until each has made it durable (a barrier). Replicas refuse
//!    requests from coordinators whose view is behind theirs (a *stale view*:
//!    the coordinator merges the replica's view and asks again), so once the
//!    barrier is passed no operation still works on the placement from
//!    before the change.
//! 2. **Stream** every key whose replicas change: read it from `n − w + 1`
//!    old replicas (so one holds every write acknowledged before the barrier)
//!    and write the merged versions to the replicas that gain it.
//! 3. **Settle**: take the final standing (`member` or `out`) and announce
//!    it. Operations under the settled view use the new placement alone;
//!    those still on the joint view overlap them in the new placement.
//!
//! A `leave` while joining, or a `join` while leaving, cancels the change at
//! once (the joint placement contains both). This is the range movement
//! Cassandra got wrong for years (CASSANDRA-2434: a joining node streamed
//! from a replica that was not the one it replaced, and a quorum read after
//! the move could miss an acknowledged write) — the planted bug
//! `membership_without_handover` takes changes at once, with no joint quorum
//! and no streaming, and fuzzing finds the stale reads it causes.
//!
//! # Durability
//!
//! The view is written to two files, `view.0` and `view.1`, each a
//! CRC-framed record synced and read back, and read back from both at a
//! restart (their merge: a damaged copy is rewritten from the good one). An
//! operator's command that reaches a node still reading its disk back is
//! appended to `admin` and carried out once the view is read.

use super::ring::NodeId;
use super::{Quorum, QuorumPoint};
use crate::protocols::codec::{DecodeError, Decoder, Encoder};
use crate::sim::Ctx;
use crate::sim::crc32c::{frame, unframe};

/// The two copies of the view.
pub const VIEW_FILES: [&str; 2] = ["view.0", "view.1"];
/// Operators' commands that arrived before the view was read back.
pub const ADMIN_FILE: &str = "admin";

/// Where a node stands in the ring.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Standing {
    /// Not in the ring.
    Out,
    /// Taking its keys: a replica of the new placement only.
    Joining,
    /// In the ring.
    Member,
    /// Handing its keys over: a replica of the old placement only.
    Leaving,
}

impl Standing {
    fn code(self) -> u8 {
        match self {
            Standing::Out => 0,
            Standing::Joining => 1,
            Standing::Member => 2,
            Standing::Leaving => 3,
        }
    }

    fn from_code(code: u8) -> Result<Standing, DecodeError> {
        Ok(match code {
            0 => Standing::Out,
            1 => Standing::Joining,
            2 => Standing::Member,
            3 => Standing::Leaving,
            other => return Err(DecodeError(format!("unknown standing {other}"))),
        })
    }

    /// Its name, as the trace and the checker say it.
    pub fn name(self) -> &'static str {
        match self {
            Standing::Out => "out",
            Standing::Joining => "joining",
            Standing::Member => "member",
            Standing::Leaving => "leaving",
        }
    }
}

/// One node's entry in a view.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Entry {
    /// How many times the node has changed its standing.
    pub generation: u64,
    /// Its standing.
    pub standing: Standing,
}

/// What a node knows of every node's standing. See the module documentation.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct View {
    entries: Vec<Entry>,
}

impl View {
    /// The view a run starts from: the last `spares` of `nodes` nodes out,
    /// the others members.
    pub fn initial(nodes: usize, spares: usize) -> View {
        let members = nodes.saturating_sub(spares);
        View {
            entries: (0..nodes)
                .map(|node| Entry {
                    generation: 0,
                    standing: if node < members {
                        Standing::Member
                    } else {
                        Standing::Out
                    },
                })
                .collect(),
        }
    }

    /// `node`'s entry.
    pub fn entry(&self, node: NodeId) -> Entry {
        self.entries[node]
    }

    /// Every node's entry, in node order.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Takes the newer of each entry; whether anything changed.
    pub fn merge(&mut self, other: &View) -> bool {
        let mut changed = false;
        for (mine, theirs) in self.entries.iter_mut().zip(&other.entries) {
            if theirs.generation > mine.generation {
                *mine = *theirs;
                changed = true;
            }
        }
        changed
    }

    /// Whether this view is at or past `other` in every entry.
    pub fn covers(&self, other: &View) -> bool {
        self.entries.len() == other.entries.len()
            && self
                .entries
                .iter()
                .zip(&other.entries)
                .all(|(mine, theirs)| mine.generation >= theirs.generation)
    }

    /// Sets `node`'s standing, one generation up.
    pub fn set(&mut self, node: NodeId, standing: Standing) {
        let entry = &mut self.entries[node];
        entry.generation += 1;
        entry.standing = standing;
    }

    /// The nodes of the old placement: members and leaving nodes.
    pub fn old_members(&self) -> Vec<NodeId> {
        self.with(|standing| matches!(standing, Standing::Member | Standing::Leaving))
    }

    /// The nodes of the new placement: members and joining nodes.
    pub fn new_members(&self) -> Vec<NodeId> {
        self.with(|standing| matches!(standing, Standing::Member | Standing::Joining))
    }

    fn with(&self, keep: impl Fn(Standing) -> bool) -> Vec<NodeId> {
        (0..self.entries.len())
            .filter(|&node| keep(self.entries[node].standing))
            .collect()
    }

    /// Whether no change is in progress.
    pub fn settled(&self) -> bool {
        self.entries
            .iter()
            .all(|entry| matches!(entry.standing, Standing::Member | Standing::Out))
    }

    /// Appends its encoding.
    pub fn encode(&self, out: &mut Encoder) {
        out.u64(self.entries.len() as u64);
        for entry in &self.entries {
            out.u64(entry.generation).u8(entry.standing.code());
        }
    }

    /// Decodes what [`View::encode`] wrote, for a run of `nodes` nodes.
    pub fn decode(input: &mut Decoder<'_>, nodes: usize) -> Result<View, DecodeError> {
        let count = input.u64()?;
        if count != nodes as u64 {
            return Err(DecodeError(format!(
                "a view of {count} nodes in a run of {nodes}"
            )));
        }
        let mut entries = Vec::with_capacity(nodes);
        for _ in 0..nodes {
            let generation = input.u64()?;
            let standing = Standing::from_code(input.u8()?)?;
            entries.push(Entry {
                generation,
                standing,
            });
        }
        Ok(View { entries })
    }
}

/// An operator's command, as the `admin` file keeps it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Command {
    /// Join the ring.
    Join,
    /// Leave it.
    Leave,
}

/// Writes `view` to both copies; whether both hold it.
pub fn save(ctx: &mut Ctx<'_, Quorum>, view: &View) -> bool {
    let mut payload = Encoder::new();
    view.encode(&mut payload);
    let mut bytes = Vec::new();
    frame(&payload.bytes, &mut bytes);
    VIEW_FILES
        .iter()
        .all(|file| super::store::durable(ctx, file, &bytes, false))
}

/// Reads the view back: the merge of the good copies over `initial` (a
/// missing or damaged copy adds nothing), and whether a copy was damaged.
/// `None` when a read failed.
pub fn load(ctx: &mut Ctx<'_, Quorum>, initial: &View) -> Option<(View, bool)> {
    let files =
        crate::protocols::durable::read_files(ctx, &VIEW_FILES, QuorumPoint::DiskReadRetried)?;
    let nodes = initial.entries.len();
    let mut view = initial.clone();
    let mut damaged = false;
    for bytes in &files {
        if bytes.is_empty() {
            continue;
        }
        let parsed = match unframe(bytes) {
            (records, None) if records.len() == 1 => {
                let mut input = Decoder::new(records[0]);
                View::decode(&mut input, nodes).ok()
            }
            _ => None,
        };
        match parsed {
            Some(copy) => {
                view.merge(&copy);
            }
            None => damaged = true,
        }
    }
    Some((view, damaged))
}

/// Appends an operator's command that cannot be carried out yet; whether it
/// is durable.
pub fn defer(ctx: &mut Ctx<'_, Quorum>, command: Command) -> bool {
    let mut bytes = Vec::new();
    frame(&[u8::from(command == Command::Leave)], &mut bytes);
    super::store::durable(ctx, ADMIN_FILE, &bytes, true)
}

/// The deferred commands, in order (`None` when the read failed). A
/// damaged tail is dropped.
pub fn deferred(ctx: &mut Ctx<'_, Quorum>) -> Option<Vec<Command>> {
    let files =
        crate::protocols::durable::read_files(ctx, &[ADMIN_FILE], QuorumPoint::DiskReadRetried)?;
    let (records, _) = unframe(&files[0]);
    Some(
        records
            .iter()
            .map(|record| {
                if record.first() == Some(&1) {
                    Command::Leave
                } else {
                    Command::Join
                }
            })
            .collect(),
    )
}

/// Clears the deferred commands once carried out.
pub fn clear_deferred(ctx: &mut Ctx<'_, Quorum>) {
    ctx.disk().write(ADMIN_FILE, Vec::new());
    ctx.disk().sync();
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn views_merge_entry_by_entry_and_cover_what_they_merged() {
        let mut a = View::initial(4, 1);
        assert_eq!(a.old_members(), vec![0, 1, 2]);
        assert!(a.settled());
        let mut b = a.clone();
        a.set(3, Standing::Joining);
        b.set(0, Standing::Leaving);
        assert!(!a.covers(&b) && !b.covers(&a));
        assert_eq!(a.old_members(), vec![0, 1, 2]);
        assert_eq!(a.new_members(), vec![0, 1, 2, 3]);
        assert!(a.merge(&b));
        assert!(a.covers(&b));
        assert_eq!(a.old_members(), vec![0, 1, 2]);
        assert_eq!(a.new_members(), vec![1, 2, 3]);
        assert!(!a.settled());
        assert!(!a.merge(&b), "merging twice changes nothing");
    }

    #[test]
    fn a_joint_placement_needs_a_quorum_on_each_side() {
        let config: super::super::QuorumConfig =
            toml::from_str("name = \"quorum\"\nkeys = 64\ntokens = 8\nversioning = \"lww\"")
                .unwrap();
        let settings = super::super::Settings::new(config, 5, 1);
        let mut view = settings.initial_view();
        let settled = settings.lists(&view);
        assert!(!settled.joint());
        view.set(4, Standing::Joining);
        let lists = settings.lists(&view);
        assert!(lists.joint());
        // Some key gains node 4, and a quorum of its old replicas alone is
        // not a quorum of the joint placement.
        let key = (0..64)
            .find(|&key| lists.new_replicas(key).contains(&4))
            .expect("node 4 gains a key");
        let old = lists.old(key).to_vec();
        assert_eq!(old, settled.old(key));
        assert!(!old.contains(&4));
        let new = lists.new_replicas(key).to_vec();
        // A join displaces one old replica and keeps the others.
        let displaced: Vec<NodeId> = old.iter().filter(|n| !new.contains(n)).copied().collect();
        let kept: Vec<NodeId> = old.iter().filter(|n| new.contains(n)).copied().collect();
        assert_eq!((displaced.len(), kept.len()), (1, 2));
        let mut heard: BTreeSet<NodeId> = [displaced[0], kept[0]].into();
        assert!(
            settled.satisfied(key, &heard, 2),
            "a quorum of the old placement"
        );
        assert!(
            !lists.satisfied(key, &heard, 2),
            "but one replica of the new placement is not a quorum of it"
        );
        heard.insert(4);
        assert!(lists.satisfied(key, &heard, 2));
        assert_eq!(lists.replicas(key).len(), 4);
        assert!(lists.is_replica(key, 4) && lists.is_replica(key, displaced[0]));
        assert!(
            !lists
                .stand_ins(key)
                .iter()
                .any(|&n| lists.is_replica(key, n))
        );
    }

    #[test]
    fn a_view_round_trips_through_its_encoding() {
        let mut view = View::initial(5, 2);
        view.set(4, Standing::Joining);
        view.set(4, Standing::Member);
        view.set(1, Standing::Leaving);
        let mut out = Encoder::new();
        view.encode(&mut out);
        let mut input = Decoder::new(&out.bytes);
        assert_eq!(View::decode(&mut input, 5).unwrap(), view);
        let mut input = Decoder::new(&out.bytes);
        assert!(View::decode(&mut input, 4).is_err());
    }
}
