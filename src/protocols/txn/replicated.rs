//! The non-blocking mode (`mode = "paxos_commit"`): the commit decision made
//! fault-tolerant by consensus, as Gray and Lamport's *Consensus on
//! Transaction Commit* does it with Paxos Commit. Three coordinator nodes run
//! the shipped Raft (embedded through [`Ctx::nest_group`]); a decision is
//! made by committing it to their log, so it survives any one coordinator
//! (F = 1).
//!
//! - The Raft leader coordinates: it sends the prepares and collects the
//!   votes as in two-phase commit, then *proposes* the decision (commit when
//!   every vote is yes, abort on a no or a timeout) instead of forcing a
//!   record. The first decision on a transaction in the log is *the*
//!   decision; a later one for the same transaction changes nothing.
//! - Every replica applies the log; any replica answers a shard's query from
//!   what it has applied. A leader asked about a transaction its log has no
//!   decision on proposes abort — safe, since a shard in doubt voted yes and
//!   waits, and if an earlier leader's commit is in the log ahead of that
//!   abort, the commit is the decision. A shard in doubt therefore waits
//!   only as long as the cluster takes to elect a leader, not for one
//!   coordinator to come back: that is the blocking two-phase commit has and
//!   this mode does not.
//! - A leader answers the client only for transactions whose votes (and
//!   reads) it holds; a client that hears nothing tries the next
//!   coordinator, then gives the transaction up as unknown.

use super::coordinator::{CoordinatorEvent, Voting};
use super::{Op, Txn, TxnConfig, TxnId, TxnMsg, TxnPoint, TxnTimer};
use crate::protocols::codec::{DecodeError, Decoder, Encoder};
use crate::protocols::raft::{RaftConfig, RaftNode};
use crate::sim::{Ctx, Node, ProcessId, Role, Status};
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

/// A decision as it travels through the log.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Decide {
    txn: TxnId,
    commit: bool,
    participants: Vec<ProcessId>,
}

impl Decide {
    fn encode(&self) -> Rc<[u8]> {
        let mut out = Encoder::new();
        out.u64(u64::from(self.txn.client))
            .u64(self.txn.seq)
            .u8(u8::from(self.commit))
            .u64(self.participants.len() as u64);
        for &node in &self.participants {
            out.u64(node as u64);
        }
        out.bytes.into()
    }

    fn decode(bytes: &[u8]) -> Result<Decide, DecodeError> {
        let mut input = Decoder::new(bytes);
        let client = u32::try_from(input.u64()?)
            .map_err(|_| DecodeError("client id out of range".into()))?;
        let seq = input.u64()?;
        let commit = match input.u8()? {
            0 => false,
            1 => true,
            other => return Err(DecodeError(format!("decision byte {other}"))),
        };
        let count = input.u64()?;
        if count > bytes.len() as u64 {
            return Err(DecodeError(format!("{count} participants")));
        }
        let participants = (0..count)
            .map(|_| input.u64().map(|node| node as ProcessId))
            .collect::<Result<_, _>>()?;
        Ok(Decide {
            txn: TxnId { client, seq },
            commit,
            participants,
        })
    }
}

/// One coordinator replica of the non-blocking mode.
#[derive(Clone, Debug)]
pub struct ReplicatedCoordinator {
    config: Rc<TxnConfig>,
    raft: RaftNode,
    /// The Raft group (nodes `0..coordinators`); shards follow.
    coordinators: usize,
    shards: usize,
    /// The log's decisions, applied.
    decided: BTreeMap<TxnId, bool>,
    /// Transactions this node coordinates as leader.
    voting: BTreeMap<TxnId, Voting>,
    /// Shards that asked about a transaction, to tell when it is decided.
    asked: BTreeMap<TxnId, BTreeSet<ProcessId>>,
    /// Decisions this node proposed, with the term it proposed in.
    proposed: BTreeMap<TxnId, u64>,
    events: Vec<CoordinatorEvent>,
    messages: u64,
}

impl ReplicatedCoordinator {
    pub(super) fn new(config: Rc<TxnConfig>, coordinators: usize, shards: usize) -> Self {
        let raft = RaftNode::new(&RaftConfig::embedded(
            config.election_timeout,
            config.heartbeat_interval,
        ));
        ReplicatedCoordinator {
            config,
            raft,
            coordinators,
            shards,
            decided: BTreeMap::new(),
            voting: BTreeMap::new(),
            asked: BTreeMap::new(),
            proposed: BTreeMap::new(),
            events: Vec::new(),
            messages: 0,
        }
    }

    /// What it decided and sent, in order, in this incarnation.
    pub fn events(&self) -> &[CoordinatorEvent] {
        &self.events
    }

    /// Transactions this node still coordinates as leader.
    pub fn open(&self) -> impl Iterator<Item = TxnId> + '_ {
        self.voting.keys().copied()
    }

    /// Commit-protocol messages sent and received (Raft's own not counted).
    pub fn messages(&self) -> u64 {
        self.messages
    }

    /// Its Raft status.
    pub fn status(&self) -> Status {
        self.raft.status()
    }

    fn with_raft<R>(
        &mut self,
        ctx: &mut Ctx<'_, Txn>,
        f: impl FnOnce(&mut RaftNode, &mut Ctx<'_, crate::protocols::raft::Raft>) -> R,
    ) -> R {
        let raft = &mut self.raft;
        let result = ctx.nest_group(self.coordinators, TxnMsg::Raft, TxnTimer::Raft, |inner| {
            f(raft, inner)
        });
        self.drain(ctx);
        result
    }

    fn propose(&mut self, ctx: &mut Ctx<'_, Txn>, decide: Decide) {
        let term = self.raft.term();
        if self.decided.contains_key(&decide.txn) || self.proposed.get(&decide.txn) == Some(&term) {
            return;
        }
        let txn = decide.txn;
        let bytes = decide.encode();
        if self
            .with_raft(ctx, |raft, inner| raft.propose(inner, bytes))
            .is_ok()
        {
            self.proposed.insert(txn, term);
        }
    }

    /// Applies what Raft committed: the first decision per transaction
    /// stands; tell whoever waits on it.
    fn drain(&mut self, ctx: &mut Ctx<'_, Txn>) {
        for applied in self.raft.take_applied() {
            let Ok(decide) = Decide::decode(&applied.bytes) else {
                panic!("undecodable txn decision at index {}", applied.index);
            };
            if self.decided.contains_key(&decide.txn) {
                continue; // a later proposal for a decided transaction
            }
            let txn = decide.txn;
            self.decided.insert(txn, decide.commit);
            self.proposed.remove(&txn);
            let voting = self.voting.remove(&txn);
            let asked = self.asked.remove(&txn).unwrap_or_default();
            let mut tell: BTreeSet<ProcessId> = asked;
            if let Some(voting) = &voting {
                ctx.cancel_timer(voting.timer);
                tell.extend(voting.participants.keys());
            }
            if tell.is_empty() {
                continue; // a replica that only keeps the log
            }
            self.events.push(CoordinatorEvent::Decided {
                txn,
                commit: decide.commit,
                participants: decide.participants.clone(),
            });
            let epoch = self.raft.term();
            for to in tell {
                self.send(
                    ctx,
                    to,
                    TxnMsg::Decision {
                        txn,
                        commit: decide.commit,
                        epoch,
                    },
                );
            }
            if let Some(voting) = voting {
                let reads = if decide.commit {
                    voting.reads()
                } else {
                    Vec::new()
                };
                ctx.send(
                    voting.client,
                    TxnMsg::Done {
                        txn,
                        committed: decide.commit,
                        reads,
                    },
                );
            }
        }
        if self.raft.role() != Role::Leader && !self.voting.is_empty() {
            // Leadership lost: the transactions it coordinated are decided by
            // whoever leads now (shards in doubt ask).
            for voting in std::mem::take(&mut self.voting).into_values() {
                ctx.cancel_timer(voting.timer);
            }
        }
    }

    fn send(&mut self, ctx: &mut Ctx<'_, Txn>, to: ProcessId, msg: TxnMsg) {
        self.messages += 1;
        ctx.send(to, msg);
    }

    pub(super) fn on_start(&mut self, ctx: &mut Ctx<'_, Txn>) {
        self.with_raft(ctx, |raft, inner| raft.on_start(inner));
    }

    pub(super) fn on_restart(&mut self, ctx: &mut Ctx<'_, Txn>) {
        self.with_raft(ctx, |raft, inner| raft.on_restart(inner));
    }

    pub(super) fn on_message(&mut self, ctx: &mut Ctx<'_, Txn>, from: ProcessId, msg: TxnMsg) {
        match msg {
            TxnMsg::Raft(msg) => {
                self.with_raft(ctx, |raft, inner| raft.on_message(inner, from, msg))
            }
            TxnMsg::Begin { txn, ops } => self.on_begin(ctx, from, txn, &ops),
            TxnMsg::Vote { txn, yes, reads } => {
                self.messages += 1;
                let Some(voting) = self.voting.get_mut(&txn) else {
                    return;
                };
                if let Some(commit) = voting.vote(from, yes, reads) {
                    voting.committing = true;
                    let participants = voting.nodes();
                    self.propose(
                        ctx,
                        Decide {
                            txn,
                            commit,
                            participants,
                        },
                    );
                }
            }
            TxnMsg::Ack { .. } => self.messages += 1,
            TxnMsg::Query { txn } => self.on_query(ctx, from, txn),
            other => panic!("a coordinator replica got {other:?} from {from}"),
        }
    }

    fn on_begin(&mut self, ctx: &mut Ctx<'_, Txn>, client: ProcessId, txn: TxnId, ops: &[Op]) {
        if !self.raft.leader_ready() {
            let hint = self.raft.leader_hint();
            ctx.send(client, TxnMsg::Redirect { txn, hint });
            return;
        }
        if self.voting.contains_key(&txn) {
            return; // a duplicate
        }
        if let Some(&commit) = self.decided.get(&txn) {
            if !commit {
                ctx.send(
                    client,
                    TxnMsg::Done {
                        txn,
                        committed: false,
                        reads: Vec::new(),
                    },
                );
            }
            return; // a commit's reads are with the leader that made it
        }
        let timeout = self.config.vote_timeout;
        let timer = ctx.set_timer(timeout, timeout, TxnTimer::VoteTimeout(txn));
        let first_shard = self.coordinators;
        let (voting, parts) = Voting::begin(client, ops, first_shard, self.shards, timer);
        let epoch = self.raft.term();
        for (to, part) in parts {
            self.send(
                ctx,
                to,
                TxnMsg::Prepare {
                    txn,
                    ops: part,
                    epoch,
                },
            );
        }
        self.voting.insert(txn, voting);
    }

    fn on_query(&mut self, ctx: &mut Ctx<'_, Txn>, from: ProcessId, txn: TxnId) {
        if let Some(&commit) = self.decided.get(&txn) {
            let epoch = self.raft.term();
            self.send(ctx, from, TxnMsg::Decision { txn, commit, epoch });
            return;
        }
        if !self.raft.leader_ready() {
            return; // the leader answers
        }
        self.asked.entry(txn).or_default().insert(from);
        if self.voting.contains_key(&txn) {
            return; // deciding: the decision will come
        }
        ctx.sometimes(TxnPoint::AbortProposedForQuery);
        self.propose(
            ctx,
            Decide {
                txn,
                commit: false,
                participants: vec![from],
            },
        );
    }

    pub(super) fn on_timer(&mut self, ctx: &mut Ctx<'_, Txn>, timer: TxnTimer) {
        match timer {
            TxnTimer::Raft(timer) => self.with_raft(ctx, |raft, inner| raft.on_timer(inner, timer)),
            TxnTimer::VoteTimeout(txn) => {
                let Some(voting) = self.voting.get_mut(&txn) else {
                    return;
                };
                if voting.committing {
                    return;
                }
                voting.committing = true;
                ctx.sometimes(TxnPoint::VoteTimeoutAbort);
                let participants = voting.nodes();
                self.propose(
                    ctx,
                    Decide {
                        txn,
                        commit: false,
                        participants,
                    },
                );
            }
            other => panic!("a coordinator replica got timer {other:?}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_decision_survives_its_encoding_and_a_bad_one_is_refused() {
        let decide = Decide {
            txn: TxnId {
                client: 7,
                seq: 1 << 40,
            },
            commit: true,
            participants: vec![3, 5],
        };
        assert_eq!(Decide::decode(&decide.encode()), Ok(decide.clone()));
        let mut bytes = decide.encode().to_vec();
        bytes[16] = 2; // the commit byte
        assert!(Decide::decode(&bytes).is_err());
        assert!(Decide::decode(&bytes[..10]).is_err());
    }
}
