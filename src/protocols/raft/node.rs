//! A Raft server. See the module documentation of [`super`] for the algorithm.

use super::storage::{self, MachineState};
use super::{
    Applied, Command, Entry, Raft, RaftBug, RaftConfig, RaftMsg, RaftPoint, RaftTimer, SendStats,
    Snapshot, majority,
};
use crate::protocols::durable;
use crate::protocols::kv::{KvCommand, KvOp, KvOutcome, KvReply, KvResult};
use crate::sim::time::Duration;
use crate::sim::time::DurationRange;
use crate::sim::trace::StableHasher;
use crate::sim::{Ctx, Node, ProcessId, Role, Status, TimerId};
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

/// Settings shared by every node of a run.
#[derive(Clone, Debug)]
struct Settings {
    election: DurationRange,
    heartbeat: Duration,
    persist_delay: Duration,
    pre_vote: bool,
    snapshot_every: u64,
    max_batch: usize,
    bugs: BTreeSet<RaftBug>,
}

/// A read waiting for its leadership confirmation and for the state machine to
/// catch up with its read index.
#[derive(Clone, Debug)]
struct Read {
    client: ProcessId,
    seq: u64,
    key: String,
    /// A heartbeat round sent after the read arrived; a majority must answer it.
    needs_round: u64,
    /// The commit index to apply before answering (taken once the leader has
    /// committed an entry of its term).
    read_index: Option<u64>,
}

/// A Raft server.
#[derive(Clone, Debug)]
pub struct RaftNode {
    settings: Rc<Settings>,
    // Persistent state (mirrored on disk before anyone is told about it).
    term: u64,
    voted_for: Option<ProcessId>,
    base_index: u64,
    base_term: u64,
    entries: Vec<Entry>,
    snapshot: Option<Snapshot>,
    // Volatile state.
    role: Role,
    leader: Option<ProcessId>,
    commit: u64,
    applied: u64,
    machine: MachineState,
    ready: bool,
    damaged: Option<String>,
    election_timer: Option<TimerId>,
    heartbeat_timer: Option<TimerId>,
    votes: BTreeSet<ProcessId>,
    prevoting: bool,
    last_heard: Option<u64>,
    // Leader state.
    next: Vec<u64>,
    matched: Vec<u64>,
    acked_round: Vec<u64>,
    /// Per peer, the tail `(from, to, at)` resent at time `at` after a refusal,
    /// and not known to have arrived yet. Under reordering, each pipelined append
    /// that overtakes a missing one is refused; answering each refusal with the
    /// whole tail again would multiply the traffic, so refusals this resend
    /// answers are ignored for a heartbeat interval. A refusal after that means
    /// the resend was lost, and the tail goes again.
    resent: Vec<Option<(u64, u64, u64)>>,
    round: u64,
    pending: BTreeMap<u64, (ProcessId, u64)>,
    reads: Vec<Read>,
    /// [`Command::Bytes`] applied and not yet taken by the embedder.
    applied_bytes: Vec<Applied>,
    log_mutations: u64,
    /// Messages and bytes this incarnation sent to other nodes.
    pub stats: SendStats,
}

impl RaftNode {
    /// A fresh node (at start, and after every crash before it reads its disk).
    pub fn new(config: &RaftConfig) -> Self {
        let settings = Settings {
            election: config.election_timeout,
            heartbeat: config.heartbeat_interval,
            persist_delay: config.persist_delay,
            pre_vote: config.pre_vote,
            snapshot_every: config.snapshot_every,
            max_batch: config.max_batch.max(1),
            bugs: config.bugs.iter().copied().collect(),
        };
        RaftNode::with_settings(Rc::new(settings))
    }

    /// A node sharing `self`'s settings (the factory builds one per crash).
    pub fn fresh(&self) -> Self {
        RaftNode::with_settings(self.settings.clone())
    }

    fn with_settings(settings: Rc<Settings>) -> Self {
        RaftNode {
            settings,
            term: 0,
            voted_for: None,
            base_index: 0,
            base_term: 0,
            entries: Vec::new(),
            snapshot: None,
            role: Role::Follower,
            leader: None,
            commit: 0,
            applied: 0,
            machine: MachineState::default(),
            ready: false,
            damaged: None,
            election_timer: None,
            heartbeat_timer: None,
            votes: BTreeSet::new(),
            prevoting: false,
            last_heard: None,
            next: Vec::new(),
            matched: Vec::new(),
            acked_round: Vec::new(),
            resent: Vec::new(),
            round: 0,
            pending: BTreeMap::new(),
            reads: Vec::new(),
            applied_bytes: Vec::new(),
            log_mutations: 0,
            stats: SendStats::default(),
        }
    }

    // ----- Read-only views for checkers and drivers -----

    /// Current term.
    pub fn term(&self) -> u64 {
        self.term
    }

    /// Leader, follower or candidate.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The leader this node follows (itself when leading), if it knows one.
    pub fn leader_hint(&self) -> Option<ProcessId> {
        self.leader
    }

    /// Index and term of the last entry covered by the snapshot (0, 0 if none).
    pub fn log_base(&self) -> (u64, u64) {
        (self.base_index, self.base_term)
    }

    /// The entries after the snapshot; the first has index `log_base().0 + 1`.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Index of the last log entry.
    pub fn last_index(&self) -> u64 {
        self.base_index + self.entries.len() as u64
    }

    /// The highest index known committed.
    pub fn commit_index(&self) -> u64 {
        self.commit
    }

    /// The highest index applied to the state machine.
    pub fn applied_index(&self) -> u64 {
        self.applied
    }

    /// Chained digest of every command applied, in order (equal digests at equal
    /// applied indexes mean equal applied sequences).
    pub fn applied_digest(&self) -> u64 {
        self.machine.digest
    }

    /// Bare values (driver commands) applied, by index.
    pub fn applied_values(&self) -> &BTreeMap<u64, i64> {
        &self.machine.values
    }

    /// Increases whenever entries are removed or replaced (truncation, snapshot),
    /// so a checker knows to re-read the log instead of only its new tail.
    pub fn log_mutations(&self) -> u64 {
        self.log_mutations
    }

    /// Why this node refuses to serve, if its disk failed its checksums.
    pub fn damaged(&self) -> Option<&str> {
        self.damaged.as_deref()
    }

    /// Whether the node has read its disk and serves.
    pub fn serving(&self) -> bool {
        self.ready && self.damaged.is_none()
    }

    /// The entry at `index`, if the log holds it.
    pub fn entry(&self, index: u64) -> Option<&Entry> {
        if index <= self.base_index {
            return None;
        }
        self.entries.get((index - self.base_index - 1) as usize)
    }

    /// The term of the entry at `index` (the snapshot's for its last index).
    pub fn term_at(&self, index: u64) -> Option<u64> {
        if index == self.base_index {
            Some(self.base_term)
        } else {
            self.entry(index).map(|entry| entry.term)
        }
    }

    fn last_term(&self) -> u64 {
        self.term_at(self.last_index())
            .expect("the last entry exists")
    }

    fn has(&self, bug: RaftBug) -> bool {
        self.settings.bugs.contains(&bug)
    }

    // ----- Embedding: Raft as another protocol's replicated log -----
    //
    // See "Embedding" in the module documentation of `super`.

    /// Appends `bytes` to the log as a [`Command::Bytes`] if this node serves
    /// and leads, and returns the entry's index; it is replicated like any
    /// client write and comes back from [`RaftNode::take_applied`] on every
    /// node once committed — unless a leader change overwrites it first, which
    /// the embedder sees as a different term (or command) applied at that index.
    /// Otherwise returns the leader this node knows of, if any, to redirect to.
    ///
    /// Embedding requires `snapshot_every = 0` ([`RaftConfig::embedded`]): the
    /// embedder's state is not in Raft's snapshots, so a node that took one
    /// could not rebuild it; applying a `Bytes` command on such a node panics.
    ///
    /// [`RaftConfig::embedded`]: super::RaftConfig::embedded
    pub fn propose(
        &mut self,
        ctx: &mut Ctx<'_, Raft>,
        bytes: Rc<[u8]>,
    ) -> Result<u64, Option<ProcessId>> {
        assert_eq!(
            self.settings.snapshot_every, 0,
            "propose needs an embedded Raft without snapshots (snapshot_every = 0)"
        );
        if !self.serving() {
            return Err(None);
        }
        if self.role != Role::Leader {
            return Err(self.leader);
        }
        let index = self.append(ctx, Command::Bytes(bytes));
        assert_eq!(index, self.last_index(), "the proposal is the last entry");
        Ok(index)
    }

    /// The [`Command::Bytes`] applied since the last call, in log order (their
    /// indexes increase; other commands in between are Raft's own).
    ///
    /// A node restarted by `on_restart` knows nothing committed until a leader
    /// tells it again, so it applies its log afresh from index 1 and this
    /// returns every entry again: the embedder must start its state machine
    /// empty on restart (a node built fresh by the factory does) and rebuild it
    /// from what comes back here.
    pub fn take_applied(&mut self) -> Vec<Applied> {
        std::mem::take(&mut self.applied_bytes)
    }

    /// Whether this node leads with a state machine that is current: it
    /// serves, leads, has committed an entry of its own term (so every entry a
    /// previous leader committed is committed here too) and has applied all it
    /// knows committed. Until then, an embedder's state machine may lack
    /// commands an earlier leader acknowledged, and a new leader must not act
    /// on it (grant a lock, answer a read).
    pub fn leader_ready(&self) -> bool {
        self.serving()
            && self.role == Role::Leader
            && self.term_at(self.commit) == Some(self.term)
            && self.applied == self.commit
    }

    // ----- Persistence -----

    fn persist_state(&mut self, ctx: &mut Ctx<'_, Raft>, with_vote: bool) {
        let vote = if with_vote { self.voted_for } else { None };
        let record = storage::state_record(self.term, vote);
        let disk = ctx.disk();
        disk.write(storage::STATE, record);
        if with_vote || !self.has(RaftBug::VoteNotPersisted) {
            disk.sync();
        }
    }

    fn persist_entries(&mut self, ctx: &mut Ctx<'_, Raft>, first_index: u64) {
        let from = (first_index - self.base_index - 1) as usize;
        let record = storage::entries_record(first_index, &self.entries[from..]);
        let disk = ctx.disk();
        disk.append(storage::LOG, record);
        disk.sync();
    }

    fn persist_snapshot(&mut self, ctx: &mut Ctx<'_, Raft>) {
        let snapshot = self.snapshot.as_ref().expect("a snapshot to persist");
        let record = storage::snapshot_record(snapshot);
        let log = storage::log_file(self.base_index, self.base_term, &self.entries);
        let disk = ctx.disk();
        disk.write(storage::SNAPSHOT, record);
        disk.write(storage::LOG, log);
        disk.sync();
    }

    /// Reads the disk back after a restart. Failed reads are retried later;
    /// damage makes the node refuse to serve.
    fn recover(&mut self, ctx: &mut Ctx<'_, Raft>) {
        let files = [storage::STATE, storage::LOG, storage::SNAPSHOT];
        let Some(contents) = durable::read_files(ctx, &files, RaftPoint::DiskReadRetried) else {
            ctx.sometimes(RaftPoint::DiskReadDeferred);
            let retry = Duration::from_millis(10);
            ctx.set_timer(retry, Duration(2 * retry.0), RaftTimer::ReadDisk);
            return;
        };
        match storage::load(&contents[0], &contents[1], &contents[2]) {
            Err(reason) => {
                ctx.sometimes(RaftPoint::CorruptionDetected);
                self.damaged = Some(reason);
            }
            Ok(durable) => {
                self.term = durable.term;
                self.voted_for = durable.voted_for;
                self.entries = durable.entries;
                if let Some(snapshot) = durable.snapshot {
                    self.machine =
                        MachineState::decode(&snapshot.data).expect("checked by storage::load");
                    self.base_index = snapshot.index;
                    self.base_term = snapshot.term;
                    self.commit = snapshot.index;
                    self.applied = snapshot.index;
                    self.snapshot = Some(snapshot);
                    ctx.sometimes(RaftPoint::RestartedFromSnapshot);
                }
                if self.term > 0 {
                    ctx.sometimes(RaftPoint::RestartedWithState);
                }
                self.ready = true;
                self.reset_election_timer(ctx);
            }
        }
    }

    // ----- Helpers -----

    fn send(&mut self, ctx: &mut Ctx<'_, Raft>, to: ProcessId, msg: RaftMsg) {
        let answer = matches!(
            msg,
            RaftMsg::Vote {
                pre_vote: false,
                ..
            } | RaftMsg::AppendReply { .. }
                | RaftMsg::SnapshotReply { .. }
        );
        let delay = self.settings.persist_delay;
        if answer && delay.0 > 0 {
            let msg = Box::new(msg);
            ctx.set_timer(delay, delay, RaftTimer::Persisted { to, msg });
            return;
        }
        self.transmit(ctx, to, msg);
    }

    fn transmit(&mut self, ctx: &mut Ctx<'_, Raft>, to: ProcessId, msg: RaftMsg) {
        if to < ctx.nodes() {
            self.stats.messages += 1;
            self.stats.requests += u64::from(msg.is_request());
            self.stats.bytes += msg.wire_size() as u64;
        }
        ctx.send(to, msg);
    }

    fn reply(&mut self, ctx: &mut Ctx<'_, Raft>, client: ProcessId, seq: u64, outcome: KvOutcome) {
        ctx.send(client, RaftMsg::Reply(KvReply { seq, outcome }));
    }

    fn reset_election_timer(&mut self, ctx: &mut Ctx<'_, Raft>) {
        if let Some(timer) = self.election_timer.take() {
            ctx.cancel_timer(timer);
        }
        let range = self.settings.election;
        self.election_timer = Some(ctx.set_timer(range.min, range.max, RaftTimer::Election));
    }

    /// Adopts a higher term seen in a message. Returns whether the term changed.
    fn observe_term(&mut self, ctx: &mut Ctx<'_, Raft>, term: u64) -> bool {
        if term <= self.term {
            return false;
        }
        if self.role == Role::Leader && self.has(RaftBug::NoStepDown) {
            self.term = term;
            self.voted_for = None;
            self.persist_state(ctx, true);
            return true;
        }
        self.become_follower(ctx, term);
        true
    }

    fn become_follower(&mut self, ctx: &mut Ctx<'_, Raft>, term: u64) {
        let was_leader = self.role == Role::Leader;
        if term > self.term {
            self.term = term;
            self.voted_for = None;
            self.persist_state(ctx, true);
        }
        self.role = Role::Follower;
        self.prevoting = false;
        self.votes.clear();
        if was_leader {
            ctx.sometimes(RaftPoint::LeaderSteppedDown);
            if let Some(timer) = self.heartbeat_timer.take() {
                ctx.cancel_timer(timer);
            }
            self.leader = None;
            self.pending.clear();
            for read in std::mem::take(&mut self.reads) {
                self.reply(ctx, read.client, read.seq, KvOutcome::NotLeader(None));
            }
            self.reset_election_timer(ctx);
        } else if self.election_timer.is_none() {
            self.reset_election_timer(ctx);
        }
    }

    fn log_is_current(&self, last_index: u64, last_term: u64) -> bool {
        let (mine_index, mine_term) = (self.last_index(), self.last_term());
        last_term > mine_term || (last_term == mine_term && last_index >= mine_index)
    }

    // ----- Elections -----

    fn start_pre_vote(&mut self, ctx: &mut Ctx<'_, Raft>) {
        self.prevoting = true;
        self.votes = BTreeSet::from([ctx.id()]);
        self.leader = None;
        self.reset_election_timer(ctx);
        if self.votes.len() >= majority(ctx.nodes()) {
            return self.start_election(ctx);
        }
        let msg = RaftMsg::RequestVote {
            term: self.term + 1,
            last_index: self.last_index(),
            last_term: self.last_term(),
            pre_vote: true,
        };
        self.broadcast(ctx, msg);
    }

    fn start_election(&mut self, ctx: &mut Ctx<'_, Raft>) {
        self.prevoting = false;
        self.term += 1;
        self.role = Role::Candidate;
        self.voted_for = Some(ctx.id());
        self.leader = None;
        self.votes = BTreeSet::from([ctx.id()]);
        self.persist_state(ctx, true);
        self.reset_election_timer(ctx);
        if self.votes.len() >= majority(ctx.nodes()) {
            return self.become_leader(ctx);
        }
        let msg = RaftMsg::RequestVote {
            term: self.term,
            last_index: self.last_index(),
            last_term: self.last_term(),
            pre_vote: false,
        };
        self.broadcast(ctx, msg);
    }

    fn broadcast(&mut self, ctx: &mut Ctx<'_, Raft>, msg: RaftMsg) {
        for peer in 0..ctx.nodes() {
            if peer != ctx.id() {
                self.send(ctx, peer, msg.clone());
            }
        }
    }

    fn become_leader(&mut self, ctx: &mut Ctx<'_, Raft>) {
        let nodes = ctx.nodes();
        self.role = Role::Leader;
        self.leader = Some(ctx.id());
        self.prevoting = false;
        self.last_heard = Some(ctx.now());
        if let Some(timer) = self.election_timer.take() {
            ctx.cancel_timer(timer);
        }
        if let Some(timer) = self.heartbeat_timer.take() {
            ctx.cancel_timer(timer);
        }
        let last = self.last_index();
        self.next = vec![last + 1; nodes];
        self.matched = vec![0; nodes];
        self.acked_round = vec![0; nodes];
        self.resent = vec![None; nodes];
        self.pending.clear();
        self.reads.clear();
        // A no-op of the new term, so that earlier entries commit through it; the
        // first heartbeat carries it.
        let index = last + 1;
        self.entries.push(Entry {
            term: self.term,
            command: Rc::new(Command::Noop),
        });
        self.persist_entries(ctx, index);
        self.matched[ctx.id()] = index;
        ctx.sometimes(RaftPoint::LeaderElected);
        self.heartbeat(ctx);
        self.advance_commit(ctx);
    }

    /// Appends a command of the current term to the leader's log, persists it and
    /// sends it to followers that are caught up.
    fn append(&mut self, ctx: &mut Ctx<'_, Raft>, command: Command) -> u64 {
        let index = self.last_index() + 1;
        self.entries.push(Entry {
            term: self.term,
            command: Rc::new(command),
        });
        self.persist_entries(ctx, index);
        self.matched[ctx.id()] = index;
        for peer in 0..ctx.nodes() {
            if peer != ctx.id() && self.next[peer] == index {
                self.send_append(ctx, peer);
            }
        }
        self.advance_commit(ctx);
        index
    }

    fn heartbeat(&mut self, ctx: &mut Ctx<'_, Raft>) {
        self.round += 1;
        for peer in 0..ctx.nodes() {
            if peer != ctx.id() {
                self.send_append(ctx, peer);
            }
        }
        let interval = self.settings.heartbeat;
        self.heartbeat_timer = Some(ctx.set_timer(interval, interval, RaftTimer::Heartbeat));
        self.serve_reads(ctx);
    }

    /// Sends `peer` what it needs next: entries from `next[peer]` (optimistically
    /// advancing it), or the snapshot when the log no longer has them.
    fn send_append(&mut self, ctx: &mut Ctx<'_, Raft>, peer: ProcessId) {
        let next = self.next[peer].max(1);
        if next <= self.base_index {
            let snapshot = self
                .snapshot
                .clone()
                .expect("a compacted log has a snapshot");
            ctx.sometimes(RaftPoint::SnapshotSent);
            let msg = RaftMsg::InstallSnapshot {
                term: self.term,
                snapshot,
                round: self.round,
            };
            self.send(ctx, peer, msg);
            return;
        }
        let prev_index = next - 1;
        let prev_term = self.term_at(prev_index).expect("prev is in the log");
        let from = (next - self.base_index - 1) as usize;
        let to = (from + self.settings.max_batch).min(self.entries.len());
        let entries = self.entries[from..to].to_vec();
        self.next[peer] = next + entries.len() as u64;
        let msg = RaftMsg::AppendEntries {
            term: self.term,
            prev_index,
            prev_term,
            entries,
            commit: self.commit,
            round: self.round,
        };
        self.send(ctx, peer, msg);
    }

    fn advance_commit(&mut self, ctx: &mut Ctx<'_, Raft>) {
        let mut matched = self.matched.clone();
        matched[ctx.id()] = self.last_index();
        matched.sort_unstable_by(|a, b| b.cmp(a));
        let candidate = matched[majority(ctx.nodes()) - 1];
        if candidate <= self.commit {
            return;
        }
        let own_term = self.term_at(candidate) == Some(self.term);
        if !own_term {
            if !self.has(RaftBug::CommitPreviousTerm) {
                return;
            }
            ctx.sometimes(RaftPoint::CommittedPreviousTermByCounting);
        }
        self.commit = candidate;
        self.apply(ctx);
    }

    // ----- Applying -----

    fn apply(&mut self, ctx: &mut Ctx<'_, Raft>) {
        let limit = self.commit.min(self.last_index());
        while self.applied < limit {
            let index = self.applied + 1;
            let entry = self.entry(index).expect("applied entries are in the log");
            let command = entry.command.clone();
            let term = entry.term;
            self.applied = index;
            self.machine.digest = StableHasher::hash_of(&(self.machine.digest, index, &command));
            match &*command {
                Command::Noop => {}
                Command::Value(value) => {
                    self.machine.values.insert(index, *value);
                }
                Command::Bytes(bytes) => {
                    assert_eq!(
                        self.settings.snapshot_every, 0,
                        "an embedded Raft must not take snapshots (snapshot_every = 0): \
                         the embedder's state is not in them"
                    );
                    self.applied_bytes.push(Applied {
                        index,
                        term,
                        bytes: bytes.clone(),
                    });
                }
                Command::Kv(command) => {
                    let result = self.machine.store.apply(command);
                    if let Some((client, seq)) = self.pending.remove(&index)
                        && self.role == Role::Leader
                        && (client as u32, seq) == (command.client, command.seq)
                        && result != KvResult::Stale
                    {
                        self.reply(ctx, client, seq, KvOutcome::Done(result));
                    }
                }
            }
        }
        self.maybe_snapshot(ctx);
        self.serve_reads(ctx);
    }

    fn maybe_snapshot(&mut self, ctx: &mut Ctx<'_, Raft>) {
        let every = self.settings.snapshot_every;
        if every == 0 || self.applied < self.base_index + every {
            return;
        }
        let index = self.applied;
        let term = self.term_at(index).expect("applied entries are in the log");
        self.entries.drain(..(index - self.base_index) as usize);
        self.base_index = index;
        self.base_term = term;
        self.snapshot = Some(Snapshot {
            index,
            term,
            data: self.machine.encode(),
        });
        self.log_mutations += 1;
        self.persist_snapshot(ctx);
        ctx.sometimes(RaftPoint::SnapshotTaken);
    }

    fn serve_reads(&mut self, ctx: &mut Ctx<'_, Raft>) {
        if self.role != Role::Leader || self.reads.is_empty() {
            return;
        }
        if self.term_at(self.commit) != Some(self.term) {
            return; // not yet committed an entry of this term
        }
        let mut acked = self.acked_round.clone();
        acked[ctx.id()] = self.round;
        acked.sort_unstable_by(|a, b| b.cmp(a));
        let confirmed = acked[majority(ctx.nodes()) - 1];
        let (commit, applied) = (self.commit, self.applied);
        let mut answered = Vec::new();
        self.reads.retain_mut(|read| {
            let read_index = *read.read_index.get_or_insert(commit);
            if read.needs_round <= confirmed && read_index <= applied {
                answered.push((read.client, read.seq, read.key.clone()));
                false
            } else {
                true
            }
        });
        for (client, seq, key) in answered {
            let value = self.machine.store.get(&key);
            self.reply(ctx, client, seq, KvOutcome::Done(KvResult::Value(value)));
        }
    }

    // ----- Message handlers -----

    fn on_request_vote(
        &mut self,
        ctx: &mut Ctx<'_, Raft>,
        from: ProcessId,
        term: u64,
        last_index: u64,
        last_term: u64,
        pre_vote: bool,
    ) {
        let log_ok =
            self.log_is_current(last_index, last_term) || self.has(RaftBug::VoteWithoutLogCheck);
        if pre_vote {
            let heard_recently = self.role == Role::Leader
                || self.last_heard.is_some_and(|heard| {
                    ctx.now().saturating_sub(heard) < self.settings.election.min.0
                });
            let granted = term > self.term && log_ok && !heard_recently;
            let answer_term = if granted { term } else { self.term };
            let msg = RaftMsg::Vote {
                term: answer_term,
                granted,
                pre_vote: true,
            };
            return self.send(ctx, from, msg);
        }
        self.observe_term(ctx, term);
        let free = self.voted_for.is_none() || self.voted_for == Some(from);
        let granted = term == self.term && self.role != Role::Leader && free && log_ok;
        if granted {
            self.voted_for = Some(from);
            let with_vote = !self.has(RaftBug::VoteNotPersisted);
            self.persist_state(ctx, with_vote);
            self.reset_election_timer(ctx);
        }
        let msg = RaftMsg::Vote {
            term: self.term,
            granted,
            pre_vote: false,
        };
        self.send(ctx, from, msg);
    }

    fn on_vote(
        &mut self,
        ctx: &mut Ctx<'_, Raft>,
        from: ProcessId,
        term: u64,
        granted: bool,
        pre_vote: bool,
    ) {
        if pre_vote {
            if granted && self.prevoting && term == self.term + 1 {
                self.votes.insert(from);
                if self.votes.len() >= majority(ctx.nodes()) {
                    ctx.sometimes(RaftPoint::PreVoteWon);
                    self.start_election(ctx);
                }
            } else if !granted {
                self.observe_term(ctx, term);
            }
            return;
        }
        if self.observe_term(ctx, term) {
            return;
        }
        if self.role == Role::Candidate && term == self.term && granted {
            self.votes.insert(from);
            if self.votes.len() >= majority(ctx.nodes()) {
                self.become_leader(ctx);
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn on_append(
        &mut self,
        ctx: &mut Ctx<'_, Raft>,
        from: ProcessId,
        term: u64,
        prev_index: u64,
        prev_term: u64,
        mut entries: Vec<Entry>,
        commit: u64,
        round: u64,
    ) {
        let sent_last = prev_index + entries.len() as u64;
        let refuse =
            |node: &Self, conflict_index: u64, conflict_term: Option<u64>| RaftMsg::AppendReply {
                term: node.term,
                success: false,
                match_index: 0,
                conflict_index,
                conflict_term,
                sent_last,
                round,
            };
        if term < self.term {
            let msg = refuse(self, 0, None);
            return self.send(ctx, from, msg);
        }
        self.observe_term(ctx, term);
        if self.role == Role::Leader {
            // Only a leader that failed to step down (a planted bug) gets here.
            let msg = refuse(self, 0, None);
            return self.send(ctx, from, msg);
        }
        if self.role == Role::Candidate || self.prevoting {
            self.become_follower(ctx, term);
        }
        self.leader = Some(from);
        self.last_heard = Some(ctx.now());
        self.reset_election_timer(ctx);

        // Entries the snapshot covers are committed, hence identical: skip them.
        let mut prev_index = prev_index;
        let mut prev_term = prev_term;
        if prev_index < self.base_index {
            let skip = (self.base_index - prev_index) as usize;
            entries.drain(..skip.min(entries.len()));
            prev_index = self.base_index;
            prev_term = self.base_term;
            if skip > 0 && entries.is_empty() {
                // Everything sent is already in the snapshot.
                let msg = RaftMsg::AppendReply {
                    term: self.term,
                    success: true,
                    match_index: self.base_index,
                    conflict_index: 0,
                    conflict_term: None,
                    sent_last,
                    round,
                };
                return self.send(ctx, from, msg);
            }
        }
        if self.term_at(prev_index) != Some(prev_term) {
            let (conflict_index, conflict_term) = if prev_index > self.last_index() {
                (self.last_index() + 1, None)
            } else {
                let conflict = self.term_at(prev_index).expect("within the log");
                let mut first = prev_index;
                while first > self.base_index + 1 && self.term_at(first - 1) == Some(conflict) {
                    first -= 1;
                }
                (first, Some(conflict))
            };
            ctx.sometimes(RaftPoint::AppendRefused);
            let msg = refuse(self, conflict_index, conflict_term);
            return self.send(ctx, from, msg);
        }
        let last_new = prev_index + entries.len() as u64;
        if self.has(RaftBug::TruncateOnMatch) {
            let keep = (prev_index - self.base_index) as usize;
            if self.entries.len() > keep {
                self.entries.truncate(keep);
                self.log_mutations += 1;
            }
            self.entries.extend(entries);
            self.persist_entries(ctx, prev_index + 1);
        } else {
            let mut first_new = None;
            for (offset, entry) in entries.iter().enumerate() {
                let index = prev_index + 1 + offset as u64;
                if self.term_at(index) != Some(entry.term) {
                    first_new = Some(offset);
                    break;
                }
            }
            if let Some(offset) = first_new {
                let index = prev_index + 1 + offset as u64;
                if index <= self.last_index() {
                    ctx.sometimes(RaftPoint::ConflictingSuffixRemoved);
                    self.entries
                        .truncate((index - self.base_index - 1) as usize);
                    self.log_mutations += 1;
                }
                self.entries.extend(entries.into_iter().skip(offset));
                self.persist_entries(ctx, index);
            }
        }
        if commit > self.commit {
            self.commit = commit.min(last_new).max(self.commit);
            self.apply(ctx);
        }
        let msg = RaftMsg::AppendReply {
            term: self.term,
            success: true,
            match_index: last_new,
            conflict_index: 0,
            conflict_term: None,
            sent_last,
            round,
        };
        self.send(ctx, from, msg);
    }

    #[allow(clippy::too_many_arguments)]
    fn on_append_reply(
        &mut self,
        ctx: &mut Ctx<'_, Raft>,
        from: ProcessId,
        term: u64,
        success: bool,
        match_index: u64,
        conflict_index: u64,
        conflict_term: Option<u64>,
        sent_last: u64,
        round: u64,
    ) {
        if self.observe_term(ctx, term) || self.role != Role::Leader || term != self.term {
            return;
        }
        self.acked_round[from] = self.acked_round[from].max(round);
        if success {
            self.matched[from] = self.matched[from].max(match_index);
            self.next[from] = self.next[from].max(match_index + 1);
            if matches!(self.resent[from], Some((_, to, _)) if to <= self.matched[from]) {
                self.resent[from] = None;
            }
            self.advance_commit(ctx);
        } else {
            if conflict_term.is_none() && conflict_index <= self.matched[from] {
                // Stale: the follower's log has since grown past what it said.
                self.serve_reads(ctx);
                return;
            }
            let covered = matches!(
                self.resent[from],
                Some((resent_from, to, at)) if conflict_term.is_none()
                    && resent_from <= conflict_index
                    && sent_last <= to
                    && ctx.now() < at + self.settings.heartbeat.0
            );
            if covered {
                // The follower's log is short, and the tail it lacks is on its way.
                ctx.sometimes(RaftPoint::RefusalAnsweredByResendInFlight);
                self.serve_reads(ctx);
                return;
            }
            let mut next = conflict_index;
            if let Some(conflict) = conflict_term {
                let mut index = self.last_index();
                while index > self.base_index && self.term_at(index) != Some(conflict) {
                    index -= 1;
                }
                if index > self.base_index {
                    next = index + 1;
                }
            }
            let next = next.min(self.last_index() + 1).max(self.matched[from] + 1);
            if next < self.next[from] {
                ctx.sometimes(RaftPoint::NextIndexBackedUp);
            }
            self.next[from] = next;
            self.send_append(ctx, from);
            self.resent[from] = (next > self.base_index && self.next[from] > self.last_index())
                .then(|| (next, self.last_index(), ctx.now()));
        }
        self.serve_reads(ctx);
    }

    fn on_install_snapshot(
        &mut self,
        ctx: &mut Ctx<'_, Raft>,
        from: ProcessId,
        term: u64,
        snapshot: Snapshot,
        round: u64,
    ) {
        if term < self.term {
            let msg = RaftMsg::SnapshotReply {
                term: self.term,
                index: 0,
                round,
            };
            return self.send(ctx, from, msg);
        }
        self.observe_term(ctx, term);
        if self.role == Role::Leader {
            return;
        }
        if self.role == Role::Candidate || self.prevoting {
            self.become_follower(ctx, term);
        }
        self.leader = Some(from);
        self.last_heard = Some(ctx.now());
        self.reset_election_timer(ctx);
        let index = snapshot.index;
        if index > self.commit {
            ctx.sometimes(RaftPoint::SnapshotInstalled);
            if self.term_at(index) == Some(snapshot.term) {
                self.entries.drain(..(index - self.base_index) as usize);
            } else {
                self.entries.clear();
            }
            self.machine =
                MachineState::decode(&snapshot.data).expect("leaders send well-formed snapshots");
            self.base_index = index;
            self.base_term = snapshot.term;
            self.commit = index;
            self.applied = index;
            self.snapshot = Some(snapshot);
            self.log_mutations += 1;
            self.persist_snapshot(ctx);
        }
        let msg = RaftMsg::SnapshotReply {
            term: self.term,
            index,
            round,
        };
        self.send(ctx, from, msg);
    }

    fn on_snapshot_reply(
        &mut self,
        ctx: &mut Ctx<'_, Raft>,
        from: ProcessId,
        term: u64,
        index: u64,
        round: u64,
    ) {
        if self.observe_term(ctx, term) || self.role != Role::Leader || term != self.term {
            return;
        }
        self.acked_round[from] = self.acked_round[from].max(round);
        self.matched[from] = self.matched[from].max(index);
        self.next[from] = self.next[from].max(index + 1);
        self.advance_commit(ctx);
        self.serve_reads(ctx);
    }

    fn on_request(&mut self, ctx: &mut Ctx<'_, Raft>, client: ProcessId, seq: u64, op: KvOp) {
        if !self.serving() {
            return self.reply(ctx, client, seq, KvOutcome::NotLeader(None));
        }
        if self.role != Role::Leader {
            let hint = self.leader;
            return self.reply(ctx, client, seq, KvOutcome::NotLeader(hint));
        }
        if let KvOp::Get(key) = op {
            if self.has(RaftBug::StaleRead) {
                let value = self.machine.store.get(&key);
                return self.reply(ctx, client, seq, KvOutcome::Done(KvResult::Value(value)));
            }
            self.reads.push(Read {
                client,
                seq,
                key,
                needs_round: self.round + 1,
                read_index: None,
            });
            // A heartbeat round now confirms this read (and any others waiting).
            self.round += 1;
            for peer in 0..ctx.nodes() {
                if peer != ctx.id() {
                    self.send_append(ctx, peer);
                }
            }
            return self.serve_reads(ctx);
        }
        let client_id = client as u32;
        if let Some(result) = self.machine.store.answered(client_id, seq) {
            ctx.sometimes(RaftPoint::RetryAnsweredFromSession);
            let outcome = KvOutcome::Done(result.clone());
            return self.reply(ctx, client, seq, outcome);
        }
        if self
            .pending
            .values()
            .any(|&pending| pending == (client, seq))
        {
            return; // already in the log; the answer comes when it applies
        }
        let command = Command::Kv(KvCommand {
            client: client_id,
            seq,
            op,
        });
        let index = self.last_index() + 1;
        self.pending.insert(index, (client, seq));
        self.append(ctx, command);
    }
}

impl Node<Raft> for RaftNode {
    fn on_start(&mut self, ctx: &mut Ctx<'_, Raft>) {
        self.ready = true;
        self.reset_election_timer(ctx);
    }

    fn on_restart(&mut self, ctx: &mut Ctx<'_, Raft>) {
        self.recover(ctx);
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Raft>, from: ProcessId, msg: RaftMsg) {
        if from >= ctx.nodes() {
            match msg {
                RaftMsg::Request { seq, op } => self.on_request(ctx, from, seq, op),
                RaftMsg::Start { value } => {
                    if self.serving() && self.role == Role::Leader {
                        self.append(ctx, Command::Value(value));
                    }
                }
                other => panic!("node got {other:?} from a client"),
            }
            return;
        }
        if !self.serving() {
            return; // not read its disk yet, or refuses to serve
        }
        match msg {
            RaftMsg::RequestVote {
                term,
                last_index,
                last_term,
                pre_vote,
            } => self.on_request_vote(ctx, from, term, last_index, last_term, pre_vote),
            RaftMsg::Vote {
                term,
                granted,
                pre_vote,
            } => self.on_vote(ctx, from, term, granted, pre_vote),
            RaftMsg::AppendEntries {
                term,
                prev_index,
                prev_term,
                entries,
                commit,
                round,
            } => self.on_append(
                ctx, from, term, prev_index, prev_term, entries, commit, round,
            ),
            RaftMsg::AppendReply {
                term,
                success,
                match_index,
                conflict_index,
                conflict_term,
                sent_last,
                round,
            } => self.on_append_reply(
                ctx,
                from,
                term,
                success,
                match_index,
                conflict_index,
                conflict_term,
                sent_last,
                round,
            ),
            RaftMsg::InstallSnapshot {
                term,
                snapshot,
                round,
            } => self.on_install_snapshot(ctx, from, term, snapshot, round),
            RaftMsg::SnapshotReply { term, index, round } => {
                self.on_snapshot_reply(ctx, from, term, index, round)
            }
            other => panic!("node got {other:?} from node {from}"),
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Raft>, timer: RaftTimer) {
        match timer {
            RaftTimer::ReadDisk => self.recover(ctx),
            RaftTimer::Persisted { to, msg } => self.transmit(ctx, to, *msg),
            RaftTimer::Election => {
                self.election_timer = None;
                if !self.serving() || self.role == Role::Leader {
                    return;
                }
                if self.settings.pre_vote {
                    self.start_pre_vote(ctx);
                } else {
                    self.start_election(ctx);
                }
            }
            RaftTimer::Heartbeat => {
                self.heartbeat_timer = None;
                if self.role == Role::Leader {
                    self.heartbeat(ctx);
                }
            }
            RaftTimer::Client(timer) => panic!("node got client timer {timer:?}"),
        }
    }

    fn status(&self) -> Status {
        Status {
            role: self.role,
            term: self.term,
        }
    }
}
