//! The 2D loops: `snapcommon` and TestSnapshotAllCrash2D.

use super::super::harness::{Lab, LabCmd};
use super::super::ops::{CheckOneLeader, One, Poll, Proc};
use super::super::script::Victim;
use crate::protocols::raft::Raft;
use crate::sim::World;

/// `snapcommon`: each iteration the victim (the follower leader+1, or on every
/// third iteration the leader, with leader+1 as sender) is disconnected or
/// crashed while the others agree; the sender takes 5–14 Starts; one more
/// agreement; the persisted state of every peer must stay small; then the victim
/// comes back and must catch up (by InstallSnapshot if it lags).
pub(super) struct Snapshots {
    pub(super) iterations: u64,
    pub(super) kind: Victim,
    pub(super) persisted_below: u64,
    pub(super) iteration: u64,
    pub(super) phase: u8,
    pub(super) leader1: usize,
    pub(super) victim: usize,
}

impl Proc for Snapshots {
    fn poll(
        &mut self,
        lab: &mut Lab,
        world: &mut World<Raft>,
        input: Option<i64>,
    ) -> Result<Poll, String> {
        let mut input = input;
        let n = lab.nodes;
        loop {
            match self.phase {
                0 => {
                    self.phase = 1;
                    return Ok(Poll::Call(CheckOneLeader::boxed(None)));
                }
                1 => {
                    self.leader1 = input.take().expect("the leader") as usize;
                    self.phase = 2;
                }
                // Top of an iteration.
                2 => {
                    if self.iteration == self.iterations {
                        return Ok(Poll::Done(0));
                    }
                    self.victim = (self.leader1 + 1) % n;
                    self.phase = 3;
                    if self.iteration % 3 == 1 {
                        self.victim = self.leader1;
                    }
                    match self.kind {
                        Victim::None => {}
                        Victim::Disconnect => lab.disconnect(world, self.victim),
                        Victim::Crash => lab.crash1(world, self.victim),
                    }
                    if self.kind != Victim::None {
                        let value = LabCmd::Value(lab.value());
                        return Ok(Poll::Call(One::boxed(value, n - 1, true)));
                    }
                }
                3 => {
                    let sender = if self.iteration % 3 == 1 {
                        (self.leader1 + 1) % n
                    } else {
                        self.leader1
                    };
                    let starts = 5 + lab.below(10);
                    for _ in 0..starts {
                        let value = lab.value();
                        lab.start(world, sender, LabCmd::Value(value));
                    }
                    let servers = if self.kind == Victim::None { n } else { n - 1 };
                    self.phase = 4;
                    let value = lab.value();
                    return Ok(Poll::Call(One::boxed(LabCmd::Value(value), servers, true)));
                }
                4 => {
                    let (size, node) = Lab::log_size(world);
                    if size as u64 >= self.persisted_below {
                        return Err(format!(
                            "Log size too large: node {node} persists {size} bytes of Raft state (term, vote, log), expected below {}",
                            self.persisted_below
                        ));
                    }
                    match self.kind {
                        Victim::None => {
                            self.iteration += 1;
                            self.phase = 2;
                            continue;
                        }
                        Victim::Disconnect => lab.connect(world, self.victim),
                        Victim::Crash => {
                            lab.start1(world, self.victim);
                            lab.connect(world, self.victim);
                        }
                    }
                    self.phase = 5;
                    let value = lab.value();
                    return Ok(Poll::Call(One::boxed(LabCmd::Value(value), n, true)));
                }
                5 => {
                    self.phase = 1;
                    self.iteration += 1;
                    return Ok(Poll::Call(CheckOneLeader::boxed(None)));
                }
                _ => unreachable!("Snapshots has phases 0..=5"),
            }
        }
    }
}

/// TestSnapshotAllCrash2D: commit 5–14 values and one more (index1), crash
/// and restart everyone, commit one (index2): index2 must exceed index1.
pub(super) struct SnapshotAllCrash {
    pub(super) iterations: u64,
    pub(super) iteration: u64,
    pub(super) phase: u8,
    pub(super) remaining: u64,
    pub(super) index1: i64,
}

impl Proc for SnapshotAllCrash {
    fn poll(
        &mut self,
        lab: &mut Lab,
        world: &mut World<Raft>,
        input: Option<i64>,
    ) -> Result<Poll, String> {
        let mut input = input;
        let n = lab.nodes;
        loop {
            match self.phase {
                0 => {
                    if self.iteration == self.iterations {
                        return Ok(Poll::Done(0));
                    }
                    self.remaining = 5 + lab.below(10);
                    self.phase = 1;
                }
                1 => {
                    let value = LabCmd::Value(lab.value());
                    if self.remaining > 0 {
                        self.remaining -= 1;
                        return Ok(Poll::Call(One::boxed(value, n, true)));
                    }
                    self.phase = 2;
                    return Ok(Poll::Call(One::boxed(value, n, true)));
                }
                2 => {
                    self.index1 = input.take().expect("index1");
                    for id in 0..n {
                        lab.crash1(world, id);
                    }
                    for id in 0..n {
                        lab.start1(world, id);
                        lab.connect(world, id);
                    }
                    self.phase = 3;
                    let value = LabCmd::Value(lab.value());
                    return Ok(Poll::Call(One::boxed(value, n, true)));
                }
                3 => {
                    let index2 = input.take().expect("index2");
                    if index2 < self.index1 + 1 {
                        return Err(format!("index decreased from {} to {index2}", self.index1));
                    }
                    self.iteration += 1;
                    self.phase = 0;
                }
                _ => unreachable!("SnapshotAllCrash has phases 0..=3"),
            }
        }
    }
}
