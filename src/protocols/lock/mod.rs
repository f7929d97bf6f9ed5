//! `lock`: distributed locks with leases, the resource they guard, and fencing
//! tokens.
//!
//! # Why a lease is not a lock
//!
//! A lock service that can lose its clients (a client crashes, pauses or is cut
//! off) cannot hold a lock forever, so it grants a *lease*: the lock is the
//! holder's until its time-to-live (TTL) runs out, unless it is released first. A
//! client that computes the end of its lease on its own clock, with a margin for
//! drift, and stops using the lock before then, is safe — as long as nothing
//! between its last check and its use takes longer than the margin. A process
//! pause (garbage collection, a page fault, a preempted VM), a packet delayed in a
//! kernel buffer, or a clock that jumps breaks that assumption: the client checks
//! its lease, stalls, and writes after the lease has gone to someone else.
//!
//! The cure is on the resource's side (Kleppmann, *How to do distributed
//! locking*, 2016; Chubby's *sequencers*, OSDI'06 §2.4): every grant carries a
//! *fencing token* that increases with every grant, every operation on the
//! resource carries the holder's token, and the resource remembers the highest
//! token it has seen and refuses lower ones. A stalled holder's late write then
//! bounces. The lock service is only a hint about who should go next; the
//! resource enforces it.
//!
//! # The designs (`design = "..."`)
//!
//! - **`single`**: one lock server (node 0). `SET lock value NX PX ttl`: the lock
//!   is granted when it is free or its lease has run out on the server's clock.
//!   The server counts grants in a token counter it syncs to disk before it
//!   answers, so tokens keep increasing across its restarts; the lease itself is
//!   in memory, so a crash forgets it. A restarted server therefore refuses to
//!   grant for one TTL (on its own clock), unless `restart_delay = false`.
//! - **`redlock`**: Redis's Redlock over N independent servers (nodes
//!   `0..N`, no replication). A client draws a random value, asks every server
//!   to set the key with the TTL, and holds the lock when a majority said yes and
//!   the time that took leaves some validity: `validity = ttl − elapsed − drift`,
//!   `drift = ttl/100 + 2 ms`. Otherwise it unlocks everywhere and retries after a
//!   random delay (`retries` tries). A release deletes the key only where it still
//!   holds the client's own value. Redlock's grants carry no token that increases
//!   (each server's counter is its own), so `fencing = true` is refused for it:
//!   that is the point Kleppmann makes.
//!
//! The last node is **the resource**, a storage service holding a counter and an
//! append-only list that clients read and overwrite under the lock (a
//! read-modify-write: read, stall for the critical section, write read + 1 and
//! the list read plus one entry). It is one node whose state is synced to its disk
//! on every change: the resource is not what is under test, and one durable node
//! keeps its own failures out of the lock's findings. With `fencing = true` it
//! refuses any read or write whose token is below the highest it has seen.
//!
//! # Clients
//!
//! Each client loops: acquire, read the resource, check on its own clock that
//! enough of its lease is left for its longest critical section, stall for a
//! time drawn from `hold` (a `pause` fault on the client can stretch it), write,
//! release, think. A client with too little lease left gives the increment up
//! (the incr fails) and releases. Like real code, it does not look at the clock
//! again between the check and the write: that is the window a pause exploits. Clients record
//! `acquire` (ok with the token, or the grant number for Redlock), `incr` and
//! `release` in the history.
//!
//! # Properties checked
//! See [`checker`]: the resource never accepted an operation from a holder whose
//! grant was superseded (the damage measured: stale writes, lost increments, lost
//! appends); tokens increase across grants (fenced designs); every operation
//! completes after the faults heal.

pub mod checker;
mod client;
pub mod consensus;
mod server;
mod spec;

pub use checker::LockChecker;
pub use client::LockClient;
pub use server::{LockNode, Resource, Server};

use crate::sim::time::{Duration, DurationRange};
use crate::sim::{ProcessId, Protocol};
use serde::{Deserialize, Serialize};

/// The lock protocol's types.
#[derive(Clone, Copy, Debug)]
pub struct LockService;

crate::declare! {
    /// Planted bugs (`bugs = [...]` in the `[protocol]` table).
    pub enum LockBug {
        /// The resource accepts every token, even with `fencing = true`.
        ResourceIgnoresTokens = "resource_ignores_tokens",
        /// A release deletes the key whoever holds it (no value compare).
        ReleaseWithoutOwnerCheck = "release_without_owner_check",
        /// A restarted server grants at once, though `restart_delay` is on.
        RestartWithoutDelay = "restart_without_delay",
        /// consensus: the token comes from the leader's own counter, not the
        /// log, so it starts again after a leader change.
        TokenNotReplicated = "token_not_replicated",
        /// consensus: a waiter whose turn comes takes the news as a fresh lease
        /// (one TTL from when it hears it) instead of checking its session's
        /// lease, which may have run out while it waited (etcd issue 11456: the
        /// mutex's waiter did not re-check its own key after the wait).
        NoRecheckAfterWait = "no_recheck_after_wait",
        /// The client ends its lease a full TTL after it asked, with no margin
        /// for the servers' clocks running faster than its own: it trusts its
        /// clock to keep the servers' time (Kleppmann's objection to Redlock).
        ClientTrustsLocalClock = "client_trusts_local_clock",
        /// consensus: a waiter learns of its turn only from the leader's one
        /// notice; the keep-alive's answer no longer says that it holds the
        /// lock. A lost notice (a dropped message, a leader change between the
        /// commit and the notice) leaves it waiting while its session holds
        /// the lock for nobody, until it gives up (a watch event missed).
        KeepaliveHidesGrant = "keepalive_hides_grant",
        /// consensus: an expiry the leader proposed removes the session even
        /// when a keep-alive ahead of it in the log renewed the lease first
        /// (the leader decided on a deadline that the renewal, committed but
        /// not yet applied, was about to move): the client is told its lease
        /// is renewed, and the next waiter is granted the lock as well.
        ExpireIgnoresRenewal = "expire_ignores_renewal",
        /// consensus: a server that proposed an expiry as leader remembers it
        /// as proposed for good, so when that entry is cut from the log (it
        /// lost the leadership before the commit) and it leads again later, it
        /// never proposes that expiry again: a lease nobody renews holds the
        /// lock forever.
        ExpiryNotReproposed = "expiry_not_reproposed",
    }
}

crate::declare! {
    /// The rare situations a lock must be tested in (*sometimes* points).
    pub enum LockPoint {
        /// A server granted a key whose previous lease ran out unreleased.
        ExpiredLeaseRetaken = "lock_expired_lease_retaken",
        /// The resource refused an operation with a token below the highest seen.
        StaleTokenRejected = "lock_stale_token_rejected",
        /// The resource (fencing off) accepted a token below the highest seen.
        StaleTokenAccepted = "lock_stale_token_accepted",
        /// A client found too little of its lease left for its critical section,
        /// and gave the increment up.
        LeaseOverBeforeWrite = "lock_lease_too_short_for_section",
        /// A holder's lease ran out on its clock while its read or write of
        /// the resource was unanswered; it gave the increment up and released.
        LeaseLapsedInSection = "lock_lease_lapsed_in_section",
        /// A Redlock attempt missed a majority and was retried.
        MajorityMissed = "lock_majority_missed",
        /// A majority said yes, but the time it took left no validity.
        ValidityExhausted = "lock_validity_exhausted",
        /// A restarted server refused a request during its restart delay.
        RestartDelayed = "lock_restart_delayed",
        /// A release found another client's value and deleted nothing.
        ForeignReleaseRefused = "lock_foreign_release_refused",
        /// A client gave up acquiring after its last retry.
        AcquireGaveUp = "lock_acquire_gave_up",
        /// The resource was read back from its disk after a restart.
        ResourceRecovered = "lock_resource_recovered",
        /// A server read its token counter back from its disk after a restart.
        TokenRecovered = "lock_token_recovered",
        /// A server's expiry cycle dropped a key whose lease ran out.
        KeyExpired = "lock_key_expired",
        /// consensus: a session's lease lapsed on the leader and it expired it.
        SessionExpired = "lock_session_expired",
        /// consensus: an expiry reached the log behind a renewal of the same
        /// lease, and the renewal voided it.
        ExpiryVoidedByRenewal = "lock_expiry_voided_by_renewal",
        /// consensus: a waiter got the lock because its predecessor expired.
        WaiterWokenByExpiry = "lock_waiter_woken_by_expiry",
        /// consensus: a grant made by a leader of a later term than the last one.
        GrantAfterLeaderChange = "lock_grant_after_leader_change",
        /// consensus: a new leader extended every lease by one TTL first.
        GraceExtended = "lock_grace_extended",
    }
}

/// The lock design (`design = "..."`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LockDesign {
    /// One lock server with a lease and a durable token counter.
    Single,
    /// Redlock over N independent servers.
    Redlock,
    /// A lock table replicated by Raft, with sessions, a queue and log-index
    /// tokens.
    Consensus,
}

impl LockDesign {
    /// Its name in scenario files.
    pub fn name(self) -> &'static str {
        match self {
            LockDesign::Single => "single",
            LockDesign::Redlock => "redlock",
            LockDesign::Consensus => "consensus",
        }
    }
}

/// The `[protocol]` table for `name = "lock"`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockConfig {
    /// Always `"lock"`.
    pub name: String,
    /// Planted bugs. Default none.
    #[serde(default)]
    pub bugs: Vec<LockBug>,
    /// The design. Required.
    pub design: LockDesign,
    /// Lock servers: 1 for `single`; for `redlock` the N of Redlock, for
    /// `consensus` the Raft group (default: every node but the resource). The
    /// resource is the node after them.
    #[serde(default)]
    pub servers: Option<usize>,
    /// Lease time-to-live. Default `"2s"` (the Jepsen etcd lock test's TTL).
    #[serde(default = "default_ttl")]
    pub ttl: Duration,
    /// Whether the resource checks fencing tokens. Default true for `single`;
    /// `redlock` has no fencing token, so it must be false there.
    #[serde(default)]
    pub fencing: Option<bool>,
    /// The critical section: how long a holder stalls between its read and its
    /// write. Default `["20ms", "200ms"]`.
    #[serde(default = "default_hold")]
    pub hold: DurationRange,
    /// How long a client waits for the servers' answers to one attempt (or a
    /// release) before it decides with what it has. Default `"50ms"`.
    #[serde(default = "default_server_timeout")]
    pub server_timeout: Duration,
    /// Attempts per acquire before the client gives up. Default 3 (redlock-py).
    #[serde(default = "default_retries")]
    pub retries: u32,
    /// Retries wait a random delay up to this. Default `"200ms"` (redlock-py).
    #[serde(default = "default_retry_delay")]
    pub retry_delay: Duration,
    /// A restarted server refuses to grant for one TTL. Default true.
    #[serde(default = "yes")]
    pub restart_delay: bool,
    /// How often a client resends an unanswered request to the resource.
    /// Default `"100ms"`.
    #[serde(default = "default_resend")]
    pub resend_interval: Duration,
    /// consensus: the range Raft's election timeouts are drawn from. Default
    /// `["150ms", "300ms"]`.
    #[serde(default = "crate::protocols::kv::defaults::election_timeout")]
    pub election_timeout: DurationRange,
    /// consensus: how often the Raft leader sends heartbeats. Default `"50ms"`.
    #[serde(
        default = "crate::protocols::kv::defaults::heartbeat_interval",
        deserialize_with = "crate::sim::time::positive"
    )]
    pub heartbeat_interval: Duration,
    /// consensus: who a release wakes. `"queue"` (default): the next session in
    /// line is granted and told, one message per release. `"all"`: the lock is
    /// freed and every waiter told, and they race for it (a lock built on
    /// watching one key: the herd).
    #[serde(default)]
    pub wake: Wake,
}

/// Who a release wakes (`wake = "..."`, consensus design).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Wake {
    /// The next session in the queue.
    #[default]
    Queue,
    /// Every waiter, who race for the lock.
    All,
}

fn default_ttl() -> Duration {
    Duration::from_secs(2)
}
fn default_hold() -> DurationRange {
    DurationRange {
        min: Duration::from_millis(20),
        max: Duration::from_millis(200),
    }
}
fn default_server_timeout() -> Duration {
    Duration::from_millis(50)
}
fn default_retries() -> u32 {
    3
}
fn default_retry_delay() -> Duration {
    Duration::from_millis(200)
}
fn default_resend() -> Duration {
    Duration::from_millis(100)
}
fn yes() -> bool {
    true
}

impl LockConfig {
    /// Lock servers in this run (nodes `0..servers`).
    pub fn server_count(&self, nodes: usize) -> usize {
        match self.design {
            LockDesign::Single => self.servers.unwrap_or(1),
            LockDesign::Redlock | LockDesign::Consensus => {
                self.servers.unwrap_or(nodes.saturating_sub(1))
            }
        }
    }

    /// Whether the resource checks tokens (the design's default when unset).
    pub fn fenced(&self) -> bool {
        self.fencing.unwrap_or(self.design != LockDesign::Redlock)
    }

    /// Redlock's drift allowance, `ttl/100 + 2 ms`: the client ends its lease
    /// this much before the TTL it measured from its first request.
    pub fn drift(&self) -> Duration {
        Duration(self.ttl.0 / 100 + 2 * crate::sim::MILLISECOND)
    }

    /// What a client takes off the TTL when it works out where its lease ends:
    /// [`LockConfig::drift`], or nothing with `client_trusts_local_clock`.
    pub fn client_margin(&self) -> Duration {
        if self.has(LockBug::ClientTrustsLocalClock) {
            Duration(0)
        } else {
            self.drift()
        }
    }

    /// Whether a planted bug is on.
    pub fn has(&self, bug: LockBug) -> bool {
        self.bugs.contains(&bug)
    }
}

/// Names a grant: the client's index and its acquisition number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GrantId {
    /// The client (0-based among clients).
    pub client: u32,
    /// Its acquisition number (1, 2, ...).
    pub number: u32,
}

impl std::fmt::Display for GrantId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "c{}#{}", self.client, self.number)
    }
}

/// Why a server refused to set the key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Refusal {
    /// Another value holds it.
    Held,
    /// The server restarted less than one TTL ago.
    Restarting,
}

/// Lock and resource messages.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum LockMsg {
    /// Client → server: set the key to `value` for one TTL if it is free.
    Acquire {
        /// The client's request number.
        req: u64,
        /// Its random value for this attempt.
        value: u64,
    },
    /// Server → client: the key is yours; `token` counts the server's grants.
    Acquired {
        /// Answers this request.
        req: u64,
        /// The server's grant counter after this grant.
        token: u64,
    },
    /// Server → client: not granted.
    Refused {
        /// Answers this request.
        req: u64,
        /// Why.
        why: Refusal,
    },
    /// Client → server: delete the key if it still holds `value`.
    Release {
        /// The client's request number.
        req: u64,
        /// The value it set.
        value: u64,
    },
    /// Server → client: the release was handled.
    Released {
        /// Answers this request.
        req: u64,
        /// Whether a key was deleted.
        deleted: bool,
    },
    /// Client → resource: read the counter and the list.
    Read {
        /// The client's request number.
        req: u64,
        /// Under which grant.
        grant: GrantId,
        /// The grant's fencing token, if the design has one.
        token: Option<u64>,
    },
    /// Client → resource: overwrite the counter and the list.
    Write {
        /// The client's request number.
        req: u64,
        /// Under which grant.
        grant: GrantId,
        /// The grant's fencing token, if the design has one.
        token: Option<u64>,
        /// The new counter.
        counter: i64,
        /// The new list.
        list: Vec<GrantId>,
    },
    /// Resource → client: what a read found.
    ReadOk {
        /// Answers this request.
        req: u64,
        /// The counter.
        counter: i64,
        /// The list.
        list: Vec<GrantId>,
    },
    /// Resource → client: the write took effect.
    WriteOk {
        /// Answers this request.
        req: u64,
    },
    /// Resource → client: refused, a higher token was seen.
    Fenced {
        /// Answers this request.
        req: u64,
        /// The highest token the resource has seen.
        highest: u64,
    },
    /// consensus, server ↔ server: the embedded Raft's messages.
    Raft(crate::protocols::raft::RaftMsg),
    /// consensus, client → leader: renew the session's lease.
    KeepAlive {
        /// The client's request number.
        req: u64,
        /// The session.
        session: u64,
    },
    /// consensus, leader → client: the session holds the lock (an answer to
    /// the acquire `req`, or the news that a predecessor left).
    Granted {
        /// The acquire request.
        req: u64,
        /// The session.
        session: u64,
        /// The fencing token (the log index of the granting command).
        token: u64,
    },
    /// consensus, leader → client: the session waits in the queue.
    Queued {
        /// The acquire request.
        req: u64,
        /// The session.
        session: u64,
    },
    /// consensus, leader → client: the lease was renewed (and the lock is
    /// held under `token`, if so).
    Alive {
        /// Answers this request.
        req: u64,
        /// The token, when the session holds the lock.
        token: Option<u64>,
    },
    /// consensus, leader → client: the session is gone.
    Expired {
        /// Answers this request.
        req: u64,
    },
    /// consensus, server → client: not the leader (try `hint`).
    NotLeader {
        /// Answers this request.
        req: u64,
        /// The leader this server knows of.
        hint: Option<ProcessId>,
    },
    /// consensus, leader → client (`wake = "all"`): the lock was released; try again.
    Changed {
        /// The waiting session.
        session: u64,
    },
    /// consensus, client → leader (`wake = "all"`): take the lock if it is free.
    Retry {
        /// The client's request number.
        req: u64,
        /// The waiting session.
        session: u64,
    },
}

/// Timers.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum LockTimer {
    /// A client's think time is over: acquire next.
    Think,
    /// Decide an acquire attempt with the answers in (by attempt request number).
    AttemptWindow(u64),
    /// Retry acquiring.
    Retry,
    /// The critical section is over: write.
    Hold,
    /// Resend the outstanding resource request (by request number).
    Resend(u64),
    /// Give the outstanding resource request up (by request number).
    GiveUp(u64),
    /// Stop waiting for release answers (by request number).
    ReleaseWindow(u64),
    /// A server's active expiry: drop a key whose lease ran out (consensus:
    /// the leader looks for lapsed leases).
    Expire,
    /// consensus, client: renew the session's lease.
    KeepAlive,
    /// consensus: the embedded Raft's timers.
    Raft(crate::protocols::raft::RaftTimer),
}

impl Protocol for LockService {
    type Msg = LockMsg;
    type Timer = LockTimer;
    type Node = LockNode;
    type Client = LockClient;

    fn is_reply(msg: &LockMsg) -> bool {
        matches!(
            msg,
            LockMsg::Acquired { .. }
                | LockMsg::Refused { .. }
                | LockMsg::Released { .. }
                | LockMsg::ReadOk { .. }
                | LockMsg::WriteOk { .. }
                | LockMsg::Fenced { .. }
                | LockMsg::Granted { .. }
                | LockMsg::Queued { .. }
                | LockMsg::Alive { .. }
                | LockMsg::Expired { .. }
                | LockMsg::NotLeader { .. }
        ) || matches!(msg, LockMsg::Raft(raft) if crate::protocols::raft::Raft::is_reply(raft))
    }
}
