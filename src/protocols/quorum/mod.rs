//! `quorum`: a Dynamo-style quorum store on a consistent-hash ring (issue 17).
//!
//! # The store
//!
//! Every node is a replica and a coordinator. A key's replicas are the first
//! `n` nodes of its preference list ([`ring`]); any node a client reaches
//! coordinates the client's operation:
//!
//! - a **put** is sent to the `n` replicas and acknowledged to the client
//!   after `w` of them made it durable;
//! - a **get** asks the `n` replicas and answers from the first `r` replies,
//!   merged: the newest version under last-write-wins, every sibling under
//!   vector clocks;
//! - **read repair** writes the merged version back to the repliers that
//!   were stale: before the get returns, until `w` replicas hold it
//!   (`read_repair = "sync"`, as ABD's write-back phase), or without waiting
//!   (`"async"`), or not at all (`"off"`);
//! - a **sloppy quorum** (`sloppy = true`) writes to stand-ins past the
//!   first `n` nodes when replicas do not answer in time, with a *hint*
//!   naming the replica the write was for: the stand-in keeps the hint
//!   durably and hands it to that replica when it answers again;
//! - **anti-entropy**: every `anti_entropy_interval` a node compares a
//!   Merkle tree ([`merkle`]) of the keys it shares with one peer and the two
//!   exchange the keys whose leaves differ.
//!
//! # Versions
//!
//! `versioning = "vector_clock"` (Dynamo's): a put carries the context (the
//! merged clock) of the client's last get of the key, and the new version's
//! clock is that context with the writing client's own entry set to its
//! operation number — the client is the clock's actor, so no two writes share
//! a clock. Replicas keep every version no other dominates, and a get
//! returns them all (siblings), which the client's next put supersedes.
//! `versioning = "lww"`: one version per key, the highest stamp wins. A put
//! first asks `r` replicas for the key's newest stamp and stamps its write
//! above it and at or above the coordinator's clock (a hybrid stamp: the
//! write phase of ABD's multi-writer register), so with `r + w > n` a write
//! never loses to one that finished before it began.
//!
//! # Storage ([`store`])
//!
//! Each key's versions are one record ([`record`]) in a file of its own,
//! checked by a CRC32C covering the key, read back from disk on every
//! access and verified after every write (a misdirected write is then seen
//! at once, and written again). A record that fails its check is never
//! served: the replica counts it, answers "damaged" (which no quorum
//! counts) and repairs the key from its peers before serving it again.
//!
//! # Strict and weak
//!
//! *Strict* is `r + w > n`, no sloppy quorum and synchronous read repair,
//! with last-write-wins stamps: the client history is then linearizable per
//! key, and the checker says so. The weak modes are judged by convergence
//! after the heal, by acknowledged writes lost (counted, not failed, where
//! last-write-wins permits it), by hints delivered once, and by corruption
//! never served. See [`checker`].
//!
//! The parts:
//!
//! - [`ring`]: where keys live. Three placements behind one interface — a
//!   consistent-hash ring with virtual nodes (Karger et al.; Dynamo's
//!   preference lists: the first N distinct nodes clockwise), `mod N`, and
//!   jump consistent hashing (Lamping and Veach) — with joins and leaves, and
//!   the measures the issue compares them by: each node's share of the key
//!   space and the keys that move when membership changes.
//! - [`membership`]: the ring changing at run time — views of who is a
//!   member, joint quorums on the old and new placement while a node joins
//!   or leaves, the announcement, the streaming of the keys that move, and
//!   replicas fencing coordinators whose view is behind.
//! - [`version`]: vector clocks with siblings, and last-write-wins stamps.
//! - [`merkle`]: the Merkle trees of anti-entropy, and the XOR leaf of a
//!   planted bug that lets differences cancel.
//! - [`record`]: the replicas' stored records, checked on every read by a
//!   CRC32C that covers the key (so a misdirected record fails like a flipped
//!   bit), and the two weak checks of planted bugs (an additive checksum; a
//!   check that leaves the key out).
//! - [`pbs`]: Probabilistically Bounded Staleness's WARS model (Bailis et
//!   al.), the oracle the store's measured staleness is set beside, with the
//!   authors' latency fits.

pub mod checker;
mod client;
pub mod membership;
pub mod merkle;
mod node;
pub mod pbs;
pub mod record;
pub mod ring;
mod spec;
pub mod store;
pub mod version;

pub use checker::QuorumChecker;
pub use client::QuorumClient;
pub use node::QuorumNode;

use crate::protocols::codec::{DecodeError, Decoder, Encoder};
use crate::sim::time::Duration;
use crate::sim::{ProcessId, Protocol};
use membership::View;
use ring::NodeId;
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;
use version::{Siblings, Stamp, VectorClock, Versioned};

/// The quorum store's types.
#[derive(Clone, Copy, Debug)]
pub struct Quorum;

crate::declare! {
    /// Planted bugs (`bugs = [...]` in the `[protocol]` table).
    pub enum QuorumBug {
        /// A get returns before its read repair is acknowledged, even when
        /// `read_repair = "sync"`: with `r + w > n` a later get can still
        /// read the older value (new/old inversion), so the history is not
        /// linearizable.
        ReadRepairAsync = "read_repair_async",
        /// With `sloppy = false` the coordinator still writes to stand-ins
        /// when replicas are slow, and counts their acknowledgements toward
        /// `w`: a write acknowledged by stand-ins misses the read quorum.
        SloppyCountedAsStrict = "sloppy_counted_as_strict",
        /// last-write-wins stamps come from the coordinator's clock alone,
        /// with no read of the newest stamp first: under clock skew a later
        /// write gets a smaller stamp and loses to an earlier one, and an
        /// acknowledged write vanishes.
        LwwWallClock = "lww_wall_clock",
        /// A stand-in keeps its hints in memory only: a crash loses them,
        /// and with them the writes they carried.
        HintDroppedOnRestart = "hint_dropped_on_restart",
        /// Merkle leaves XOR their items' digests: two keys of a leaf holding
        /// the same values cancel, and a replica missing both looks in sync.
        MerkleXorLeaf = "merkle_xor_leaf",
        /// The record check leaves the key out: a record misdirected into
        /// another key's place passes, and that key serves another's value.
        CrcExcludesKey = "crc_excludes_key",
        /// Records carry an additive checksum instead of CRC32C: bytes that
        /// trade places pass it, and the damaged value is served.
        ChecksumInsteadOfCrc = "checksum_instead_of_crc",
        /// A join or a leave takes effect at once: no joint quorums, no
        /// streaming of the keys that move. A key's new replicas answer
        /// for data they never received, and a quorum read after the change
        /// misses an acknowledged write (Cassandra's range movement,
        /// CASSANDRA-2434).
        MembershipWithoutHandover = "membership_without_handover",
    }
}

crate::declare! {
    /// The situations a quorum store must be tested in (*sometimes* points).
    pub enum QuorumPoint {
        /// A coordinator wrote to a stand-in, with a hint for a replica that
        /// did not answer.
        SloppyWrite = "quorum_sloppy_write",
        /// A stand-in handed a hint to its replica, which applied it.
        HintHandedOff = "quorum_hint_handed_off",
        /// A replica that took a hint already applied ignored it.
        HintDuplicateIgnored = "quorum_hint_duplicate_ignored",
        /// Read repair brought a stale replica up to date.
        ReadRepairFixedStale = "quorum_read_repair_fixed_stale",
        /// Anti-entropy found keys out of sync between two replicas.
        AntiEntropyDifference = "quorum_anti_entropy_difference",
        /// A get returned more than one sibling.
        SiblingsReturned = "quorum_siblings_returned",
        /// A replica found a stored record that failed its check.
        CorruptDetected = "quorum_corrupt_detected",
        /// A replica repaired a damaged key from its peers.
        CorruptRepaired = "quorum_corrupt_repaired",
        /// A write read back did not hold what was written (misdirected), and
        /// was written again.
        WriteVerifyFailed = "quorum_write_verify_failed",
        /// A coordinator did not hear from enough replicas in time.
        QuorumTimeout = "quorum_quorum_timeout",
        /// A replica's disk read failed and was retried.
        DiskReadRetried = "quorum_disk_read_retried",
        /// A last-write-wins put stamped its write above a newer stamp it
        /// read than its own clock (the clock was behind).
        StampAboveClock = "quorum_stamp_above_clock",
        /// A replica refused a request from a coordinator whose view of the
        /// membership was behind its own.
        StaleViewFenced = "quorum_stale_view_fenced",
        /// A joining or leaving node streamed a key to a replica that gains
        /// it.
        KeyStreamed = "quorum_key_streamed",
        /// A node finished joining the ring.
        Joined = "quorum_joined",
        /// A node finished leaving the ring.
        Left = "quorum_left",
        /// A join or a leave was called off by the opposite command before it
        /// finished.
        ChangeCancelled = "quorum_change_cancelled",
        /// An operation ran while a membership change was in progress, on
        /// joint quorums.
        JointQuorum = "quorum_joint_quorum",
        /// A hint's replica left the key's replicas, and the hint went to one
        /// that took its place.
        HintRedirected = "quorum_hint_redirected",
    }
}

/// Where keys live (`placement = "..."`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlacementKind {
    /// Consistent hashing with `tokens` virtual nodes per node.
    #[default]
    Ring,
    /// `hash(key) mod nodes`.
    ModN,
    /// Jump consistent hashing.
    Jump,
}

/// How versions are told apart (`versioning = "..."`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Versioning {
    /// Vector clocks with siblings.
    #[default]
    VectorClock,
    /// Last write wins, by stamp.
    Lww,
}

/// When a get writes the merged version back (`read_repair = "..."`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReadRepair {
    /// Before the get returns, until `w` replicas hold it.
    #[default]
    Sync,
    /// In the background.
    Async,
    /// Never.
    Off,
}

impl ReadRepair {
    /// Its name in scenario files.
    pub fn name(self) -> &'static str {
        match self {
            ReadRepair::Sync => "sync",
            ReadRepair::Async => "async",
            ReadRepair::Off => "off",
        }
    }
}

/// A latency fit of the PBS paper (`wars = "..."`): the replicas delay
/// writes, acknowledgements, reads and read responses by the fit's four
/// distributions, in place of the network's latency.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WarsFit {
    /// LinkedIn, SSDs.
    LnkdSsd,
    /// LinkedIn, spinning disks.
    LnkdDisk,
    /// Yammer.
    Ymmr,
}

impl WarsFit {
    /// The fit's four distributions.
    pub fn model(self) -> pbs::Wars {
        match self {
            WarsFit::LnkdSsd => pbs::Wars::LNKD_SSD,
            WarsFit::LnkdDisk => pbs::Wars::LNKD_DISK,
            WarsFit::Ymmr => pbs::Wars::YMMR,
        }
    }
}

/// The `[protocol]` table for `name = "quorum"`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuorumConfig {
    /// Always `"quorum"`.
    pub name: String,
    /// Planted bugs. Default none.
    #[serde(default)]
    pub bugs: Vec<QuorumBug>,
    /// Replicas per key. Default 3.
    #[serde(default = "default_n")]
    pub n: usize,
    /// Replies a get waits for. Default 2.
    #[serde(default = "default_quorum")]
    pub r: usize,
    /// Acknowledgements a put waits for. Default 2.
    #[serde(default = "default_quorum")]
    pub w: usize,
    /// Where keys live. Default `"ring"`.
    #[serde(default)]
    pub placement: PlacementKind,
    /// ring: virtual nodes per node. Default 64.
    #[serde(default = "default_tokens")]
    pub tokens: u32,
    /// Vector clocks or last-write-wins. Default `"vector_clock"`.
    #[serde(default)]
    pub versioning: Versioning,
    /// Read repair. Default `"sync"`.
    #[serde(default)]
    pub read_repair: ReadRepair,
    /// Sloppy quorum with hinted handoff. Default false.
    #[serde(default)]
    pub sloppy: bool,
    /// Keys (`k0` ..). Default 8.
    #[serde(default = "default_keys")]
    pub keys: u64,
    /// The share of operations that are gets. Default 0.5.
    #[serde(default = "default_get_fraction")]
    pub get_fraction: f64,
    /// Values written: 0 (the default) makes every written value unique;
    /// `k` draws them from `0..k`, so keys often hold equal values.
    #[serde(default)]
    pub value_range: u64,
    /// How long a coordinator waits for its quorum before it answers
    /// "unavailable". Default `"100ms"`.
    #[serde(default = "default_request_timeout")]
    pub request_timeout: Duration,
    /// sloppy: how long a coordinator waits for a replica before it turns to
    /// a stand-in. Default `"30ms"`.
    #[serde(default = "default_sloppy_after")]
    pub sloppy_after: Duration,
    /// How often a stand-in offers its hints to their replicas, and a
    /// replica with a damaged record asks its peers again. Default `"100ms"`.
    #[serde(default = "default_handoff_interval")]
    pub handoff_interval: Duration,
    /// How often a node runs anti-entropy with its next peer; `"0s"` turns
    /// anti-entropy off. Default `"200ms"`.
    #[serde(default = "default_anti_entropy_interval")]
    pub anti_entropy_interval: Duration,
    /// Merkle tree depth (`2^depth` leaves). Default 2.
    #[serde(default = "default_merkle_depth")]
    pub merkle_depth: u32,
    /// The PBS experiment: replicas delay each write (W), its
    /// acknowledgement (A), each read (R) and its response (S) by draws from
    /// this fit, with the network's latency set to a constant 0. Default
    /// none.
    #[serde(default)]
    pub wars: Option<WarsFit>,
    /// The PBS probe: client 0 alone writes key 0, and once the write is
    /// acknowledged reads it this long later (the other clients stay idle);
    /// the checker measures how often the read is fresh. Default none.
    #[serde(default)]
    pub probe_after: Option<Duration>,
}

fn default_n() -> usize {
    3
}
fn default_quorum() -> usize {
    2
}
fn default_tokens() -> u32 {
    64
}
fn default_keys() -> u64 {
    8
}
fn default_get_fraction() -> f64 {
    0.5
}
fn default_request_timeout() -> Duration {
    Duration::from_millis(100)
}
fn default_sloppy_after() -> Duration {
    Duration::from_millis(30)
}
fn default_handoff_interval() -> Duration {
    Duration::from_millis(100)
}
fn default_anti_entropy_interval() -> Duration {
    Duration::from_millis(200)
}
fn default_merkle_depth() -> u32 {
    2
}

impl QuorumConfig {
    /// Whether a planted bug is on.
    pub fn has(&self, bug: QuorumBug) -> bool {
        self.bugs.contains(&bug)
    }

    /// Strict mode: `r + w > n`, no sloppy quorum, synchronous read repair
    /// and last-write-wins stamps. Its histories must be linearizable.
    pub fn strict(&self) -> bool {
        self.r + self.w > self.n
            && !self.sloppy
            && self.read_repair == ReadRepair::Sync
            && self.versioning == Versioning::Lww
    }

    /// Whether coordinators write to stand-ins (sloppy, or the planted bug
    /// that does it anyway).
    pub fn uses_stand_ins(&self) -> bool {
        self.sloppy || self.has(QuorumBug::SloppyCountedAsStrict)
    }

    /// The record format the bugs leave.
    pub fn format(&self) -> record::Format {
        record::Format {
            check: if self.has(QuorumBug::ChecksumInsteadOfCrc) {
                record::Check::Additive
            } else {
                record::Check::Crc32c
            },
            covers_key: !self.has(QuorumBug::CrcExcludesKey),
        }
    }

    /// The value client `index` writes as its operation `seq`, when values
    /// are unique.
    pub fn unique_value(index: usize, seq: u64) -> i64 {
        (index as i64 + 1) * 1_000_000_000 + seq as i64
    }

    /// The writer of a unique value: (client index, its operation number).
    pub fn writer_of(value: i64) -> Option<(usize, u64)> {
        (value >= 1_000_000_000).then(|| {
            (
                (value / 1_000_000_000 - 1) as usize,
                (value % 1_000_000_000) as u64,
            )
        })
    }
}

/// Per key, its preference list over one set of members.
type Preference = Rc<Vec<Vec<NodeId>>>;

/// The settings every node of a run shares: the table, the cluster's size,
/// and each membership's preference lists, computed once (the first `n`
/// nodes of a key's list are its replicas, the rest its stand-ins in order).
#[derive(Debug)]
pub struct Settings {
    /// The `[protocol]` table.
    pub config: QuorumConfig,
    /// Nodes in the run.
    pub nodes: usize,
    /// Nodes that start outside the ring (`cluster.spares`).
    pub spares: usize,
    /// Per set of members: per key, its preference list.
    placements: RefCell<BTreeMap<Vec<NodeId>, Preference>>,
}

impl Settings {
    /// The settings of a run with `nodes` nodes, the last `spares` of them
    /// outside the ring at the start.
    pub fn new(config: QuorumConfig, nodes: usize, spares: usize) -> Self {
        Settings {
            config,
            nodes,
            spares,
            placements: RefCell::new(BTreeMap::new()),
        }
    }

    /// The view every node starts from.
    pub fn initial_view(&self) -> View {
        View::initial(self.nodes, self.spares)
    }

    /// Each key's preference list over `members` (as long as `3n`: enough
    /// stand-ins for a joint placement's replicas).
    fn placement(&self, members: Vec<NodeId>) -> Preference {
        if let Some(lists) = self.placements.borrow().get(&members) {
            return Rc::clone(lists);
        }
        let config = &self.config;
        let placement: Box<dyn ring::Placement> = match config.placement {
            PlacementKind::Ring => Box::new(ring::Ring::with_members(
                config.tokens,
                members.iter().copied(),
            )),
            PlacementKind::ModN => Box::new(ring::ModN::with_members(members.iter().copied())),
            PlacementKind::Jump => Box::new(ring::Jump::with_members(members.iter().copied())),
        };
        let length = members.len().min(3 * config.n);
        let lists: Preference = Rc::new(
            (0..config.keys)
                .map(|key| placement.preference(key, length))
                .collect(),
        );
        self.placements
            .borrow_mut()
            .insert(members, Rc::clone(&lists));
        lists
    }

    /// Where `view` places every key.
    pub fn lists(&self, view: &View) -> Lists {
        let old = self.placement(view.old_members());
        let new = if view.settled() {
            Rc::clone(&old)
        } else {
            self.placement(view.new_members())
        };
        Lists {
            n: self.config.n,
            old,
            new,
        }
    }
}

/// Where one view places every key: its replicas on the old placement and on
/// the new (the same lists when no change is in progress). See
/// [`membership`].
#[derive(Clone, Debug)]
pub struct Lists {
    n: usize,
    old: Preference,
    new: Preference,
}

impl Lists {
    fn first_n(&self, list: &[NodeId]) -> usize {
        self.n.min(list.len())
    }

    /// `key`'s replicas on the old placement.
    pub fn old(&self, key: u64) -> &[NodeId] {
        let list = &self.old[key as usize];
        &list[..self.first_n(list)]
    }

    /// `key`'s replicas on the new placement.
    pub fn new_replicas(&self, key: u64) -> &[NodeId] {
        let list = &self.new[key as usize];
        &list[..self.first_n(list)]
    }

    /// Whether a change is in progress (the placements differ).
    pub fn joint(&self) -> bool {
        !Rc::ptr_eq(&self.old, &self.new)
    }

    /// `key`'s replicas on either placement: the old ones, then the new
    /// ones the old lack.
    pub fn replicas(&self, key: u64) -> Vec<NodeId> {
        let mut replicas = self.old(key).to_vec();
        for &node in self.new_replicas(key) {
            if !replicas.contains(&node) {
                replicas.push(node);
            }
        }
        replicas
    }

    /// Whether `node` is one of `key`'s replicas on either placement.
    pub fn is_replica(&self, key: u64, node: NodeId) -> bool {
        self.old(key).contains(&node) || self.new_replicas(key).contains(&node)
    }

    /// `key`'s stand-ins, in order: the new placement's list past its
    /// replicas, less any replica of the old.
    pub fn stand_ins(&self, key: u64) -> Vec<NodeId> {
        let list = &self.new[key as usize];
        list[self.first_n(list)..]
            .iter()
            .filter(|&&node| !self.old(key).contains(&node))
            .copied()
            .collect()
    }

    /// Whether `heard` holds `need` of `key`'s replicas on each placement
    /// (all of a placement's replicas, where it has fewer).
    pub fn satisfied(&self, key: u64, heard: &BTreeSet<NodeId>, need: usize) -> bool {
        [self.old(key), self.new_replicas(key)].iter().all(|list| {
            list.iter().filter(|node| heard.contains(node)).count() >= need.min(list.len())
        })
    }
}

/// What a replica holds for a key.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub enum Versions {
    /// Nothing written.
    #[default]
    Empty,
    /// last-write-wins: the version with the highest stamp (and, between
    /// equal stamps, the highest value).
    Lww {
        /// Its stamp.
        stamp: Stamp,
        /// Its value.
        value: i64,
    },
    /// vector clocks: the versions no other dominates.
    Clocks(Siblings<i64>),
}

impl Versions {
    /// A vector-clock version.
    pub fn clocked(clock: VectorClock, value: i64) -> Versions {
        let mut siblings = Siblings::new();
        siblings.insert(Versioned { clock, value });
        Versions::Clocks(siblings)
    }

    /// Merges `other` in; whether anything changed.
    pub fn merge(&mut self, other: &Versions) -> bool {
        match (&mut *self, other) {
            (_, Versions::Empty) => false,
            (Versions::Empty, _) => {
                *self = other.clone();
                true
            }
            (
                Versions::Lww { stamp, value },
                Versions::Lww {
                    stamp: their_stamp,
                    value: their_value,
                },
            ) => {
                // Two writes can carry equal stamps (two puts on one
                // coordinator whose clock is behind the stamp both read):
                // the value breaks the tie, so every replica keeps the same.
                if (their_stamp, their_value) > (stamp, value) {
                    *self = other.clone();
                    true
                } else {
                    false
                }
            }
            (Versions::Clocks(mine), Versions::Clocks(theirs)) => mine.merge(theirs),
            // One run uses one versioning scheme; a mixture would be a bug.
            (mine, theirs) => panic!("versions of two schemes: {mine:?} and {theirs:?}"),
        }
    }

    /// The values held, in order.
    pub fn values(&self) -> Vec<i64> {
        match self {
            Versions::Empty => Vec::new(),
            Versions::Lww { value, .. } => vec![*value],
            Versions::Clocks(siblings) => {
                let mut values: Vec<i64> = siblings.versions().iter().map(|v| v.value).collect();
                values.sort_unstable();
                values.dedup();
                values
            }
        }
    }

    /// The merged clock of the versions (the context a client writes with).
    pub fn context(&self) -> VectorClock {
        match self {
            Versions::Clocks(siblings) => siblings.context(),
            _ => VectorClock::new(),
        }
    }

    /// The stamp of a last-write-wins version.
    pub fn stamp(&self) -> Option<Stamp> {
        match self {
            Versions::Lww { stamp, .. } => Some(*stamp),
            _ => None,
        }
    }

    /// What anti-entropy compares: a hash of the values held. (Under vector
    /// clocks with unique values a value names its version.)
    pub fn digest(&self) -> u64 {
        self.values()
            .iter()
            .fold(0x7661_6c75_6573_5f30, |hash, &value| {
                ring::mix(hash ^ value as u64)
            })
    }

    /// Appends its encoding.
    pub fn encode(&self, out: &mut Encoder) {
        match self {
            Versions::Empty => {
                out.u8(0);
            }
            Versions::Lww { stamp, value } => {
                out.u8(1).u64(stamp.time).u64(stamp.node as u64).i64(*value);
            }
            Versions::Clocks(siblings) => {
                out.u8(2).u64(siblings.versions().len() as u64);
                for version in siblings.versions() {
                    out.i64(version.value);
                    let pairs: Vec<_> = version.clock.pairs().collect();
                    out.u64(pairs.len() as u64);
                    for (node, counter) in pairs {
                        out.u64(node as u64).u64(counter);
                    }
                }
            }
        }
    }

    /// Decodes what [`Versions::encode`] wrote.
    pub fn decode(input: &mut Decoder<'_>) -> Result<Versions, DecodeError> {
        Ok(match input.u8()? {
            0 => Versions::Empty,
            1 => Versions::Lww {
                stamp: Stamp {
                    time: input.u64()?,
                    node: input.u64()? as NodeId,
                },
                value: input.i64()?,
            },
            2 => {
                let count = input.u64()?;
                let mut siblings = Siblings::new();
                for _ in 0..count.min(1 << 16) {
                    let value = input.i64()?;
                    let pairs = input.u64()?;
                    let mut clock = Vec::new();
                    for _ in 0..pairs.min(1 << 16) {
                        clock.push((input.u64()? as NodeId, input.u64()?));
                    }
                    siblings.insert(Versioned {
                        clock: VectorClock::from_pairs(clock),
                        value,
                    });
                }
                Versions::Clocks(siblings)
            }
            tag => return Err(DecodeError(format!("unknown versions tag {tag}"))),
        })
    }
}

/// A hint's name: the stand-in that holds it and its number there.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HintId {
    /// The stand-in.
    pub stand_in: NodeId,
    /// Its number at the stand-in (from its durable hint log).
    pub seq: u64,
}

/// What a replica answers a read with.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Held {
    /// Its versions.
    Versions(Versions),
    /// Its record of the key is damaged and not yet repaired: no quorum
    /// counts this.
    Damaged,
}

/// Quorum store messages.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum QuorumMsg {
    /// Client → coordinator: read a key.
    Get {
        /// The client's operation number.
        seq: u64,
        /// The key.
        key: u64,
    },
    /// Client → coordinator: write a key.
    Put {
        /// The client's operation number.
        seq: u64,
        /// The key.
        key: u64,
        /// The value.
        value: i64,
        /// vector clocks: the context of the client's last get of the key.
        context: VectorClock,
    },
    /// Coordinator → client: what the get read.
    GetOk {
        /// The operation.
        seq: u64,
        /// The values (several: siblings).
        values: Vec<i64>,
        /// Their merged clock.
        context: VectorClock,
    },
    /// Coordinator → client: the put is acknowledged by `w` replicas.
    PutOk {
        /// The operation.
        seq: u64,
    },
    /// Coordinator → client: not enough replicas answered in time.
    Unavailable {
        /// The operation.
        seq: u64,
    },
    /// Coordinator → replica: what do you hold for `key`?
    Read {
        /// The coordinator's operation.
        op: u64,
        /// The key.
        key: u64,
        /// The coordinator's view of the membership.
        view: View,
    },
    /// Replica → coordinator: the answer to a read.
    ReadReply {
        /// The operation.
        op: u64,
        /// What it holds.
        held: Held,
    },
    /// Coordinator → replica (or stand-in, with a hint): store these.
    Write {
        /// The coordinator's operation.
        op: u64,
        /// The key.
        key: u64,
        /// What to merge in.
        versions: Versions,
        /// The replica a stand-in holds this for.
        hint: Option<NodeId>,
        /// A read repair's write-back.
        repair: bool,
        /// The coordinator's view of the membership.
        view: View,
    },
    /// Replica → coordinator: your view is behind mine; merge it and ask
    /// again.
    Stale {
        /// The operation.
        op: u64,
        /// The replica's view.
        view: View,
    },
    /// A node's view, to merge and make durable (a membership change's
    /// announcement).
    ViewPush {
        /// The sender's view.
        view: View,
    },
    /// The answer to a [`QuorumMsg::ViewPush`]: the receiver's view, durable.
    ViewAck {
        /// The receiver's view, with the pushed one merged in.
        view: View,
    },
    /// Replica → coordinator: durably merged.
    WriteAck {
        /// The operation.
        op: u64,
    },
    /// Stand-in → replica: a hint it holds for you.
    Handoff {
        /// The hint.
        hint: HintId,
        /// The key.
        key: u64,
        /// The versions it carries.
        versions: Versions,
    },
    /// Replica → stand-in: the hint is applied (or was already).
    HandoffAck {
        /// The hint.
        hint: HintId,
    },
    /// Anti-entropy: the Merkle tree of the keys the two share.
    Tree {
        /// The sender's tree.
        tree: merkle::Merkle,
    },
    /// Anti-entropy: a key in a leaf that differs.
    Exchange {
        /// The key.
        key: u64,
        /// The sender's versions.
        versions: Versions,
        /// Whether the receiver should send its merged versions back.
        reply: bool,
    },
}

/// Timers.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum QuorumTimer {
    /// A coordinator's wait for replicas before stand-ins.
    Sloppy(u64),
    /// A coordinator's operation is over.
    Deadline(u64),
    /// Offer hints; ask again about damaged keys.
    Handoff,
    /// Compare trees with the next peer.
    AntiEntropy,
    /// Read the disk again after a failed read at restart.
    Recover,
    /// A client's think time is over.
    Next,
    /// A client gives its operation up.
    GiveUp(u64),
    /// PBS: a delayed message reaches this replica now.
    Arrive(ProcessId, Box<QuorumMsg>),
    /// PBS: a delayed reply leaves this replica now.
    Depart(ProcessId, Box<QuorumMsg>),
}

impl Protocol for Quorum {
    type Msg = QuorumMsg;
    type Timer = QuorumTimer;
    type Node = QuorumNode;
    type Client = QuorumClient;

    fn is_reply(msg: &QuorumMsg) -> bool {
        matches!(
            msg,
            QuorumMsg::GetOk { .. }
                | QuorumMsg::PutOk { .. }
                | QuorumMsg::Unavailable { .. }
                | QuorumMsg::ReadReply { .. }
                | QuorumMsg::WriteAck { .. }
                | QuorumMsg::HandoffAck { .. }
                | QuorumMsg::Stale { .. }
                | QuorumMsg::ViewAck { .. }
        )
    }
}

/// The history name of key `key`.
pub fn key_name(key: u64) -> String {
    format!("k{key}")
}
