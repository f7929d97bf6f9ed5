//! The 2A and 2B loops: many elections, concurrent Starts, RPC counts, backup.

use super::super::harness::{Lab, LabCmd};
use super::super::ops::{CheckOneLeader, One, Poll, Proc, Sleep, Wait};
use crate::protocols::raft::Raft;
use crate::sim::World;
use crate::sim::time::SECOND;

/// TestManyElections2A: each round disconnects three random peers (draws may
/// repeat), requires one leader among the rest and reconnects them.
pub(super) struct ManyElections {
    pub(super) iterations: u64,
    pub(super) round: u64,
    pub(super) out: Vec<usize>,
}

impl Proc for ManyElections {
    fn poll(
        &mut self,
        lab: &mut Lab,
        world: &mut World<Raft>,
        input: Option<i64>,
    ) -> Result<Poll, String> {
        let mut input = input;
        if input.take().is_some() {
            for id in std::mem::take(&mut self.out) {
                lab.connect(world, id);
            }
            self.round += 1;
        }
        if self.round == self.iterations {
            return Ok(Poll::Done(0));
        }
        for _ in 0..3 {
            let id = lab.below(lab.nodes as u64) as usize;
            self.out.push(id);
            lab.disconnect(world, id);
        }
        Ok(Poll::Call(CheckOneLeader::boxed(None)))
    }
}

/// TestConcurrentStarts2B: the leader takes `Start(1)` and then `concurrent`
/// Starts at one instant (in a random order); all must commit on every peer
/// unless the term changed, which costs a try (3 s pause before the next).
pub(super) struct ConcurrentStarts {
    pub(super) tries: u64,
    pub(super) concurrent: u64,
    pub(super) attempt: u64,
    pub(super) phase: u8,
    pub(super) leader: usize,
    pub(super) term: u64,
    pub(super) indexes: Vec<u64>,
    pub(super) values: Vec<i64>,
}

impl Proc for ConcurrentStarts {
    fn poll(
        &mut self,
        lab: &mut Lab,
        world: &mut World<Raft>,
        input: Option<i64>,
    ) -> Result<Poll, String> {
        let mut input = input;
        loop {
            match self.phase {
                // Top of a try.
                0 => {
                    if self.attempt == self.tries {
                        return Err("term changed too often".into());
                    }
                    self.phase = 1;
                    if self.attempt > 0 {
                        return Ok(Poll::Call(Sleep::boxed(3 * SECOND)));
                    }
                }
                1 => {
                    self.phase = 2;
                    return Ok(Poll::Call(CheckOneLeader::boxed(None)));
                }
                2 => {
                    self.leader = input.take().expect("the leader") as usize;
                    let (_, term, ok) = lab.start(world, self.leader, LabCmd::Value(1));
                    if !ok {
                        self.attempt += 1;
                        self.phase = 0;
                        continue;
                    }
                    self.term = term;
                    let mut order: Vec<u64> = (0..self.concurrent).collect();
                    for at in (1..order.len()).rev() {
                        let other = lab.below(at as u64 + 1) as usize;
                        order.swap(at, other);
                    }
                    self.indexes.clear();
                    for offset in order {
                        let value = LabCmd::Value(100 + offset as i64);
                        let (index, term, ok) = lab.start(world, self.leader, value);
                        if term == self.term && ok {
                            self.indexes.push(index);
                        }
                    }
                    let moved = (0..lab.nodes).any(|id| Lab::state(world, id).0 != self.term);
                    if moved {
                        self.attempt += 1;
                        self.phase = 0;
                        continue;
                    }
                    self.values.clear();
                    self.phase = 3;
                }
                // Waiting for the indexes one by one.
                3 => {
                    if let Some(value) = input
                        .take()
                        .filter(|_| self.values.len() < self.indexes.len())
                    {
                        if value == -1 {
                            self.attempt += 1;
                            self.phase = 0;
                            continue;
                        }
                        self.values.push(value);
                    }
                    if let Some(&index) = self.indexes.get(self.values.len()) {
                        return Ok(Poll::Call(Wait::boxed(index, lab.nodes, Some(self.term))));
                    }
                    for offset in 0..self.concurrent {
                        let value = 100 + offset as i64;
                        if !self.values.contains(&value) {
                            return Err(format!("cmd {value} missing in {:?}", self.values));
                        }
                    }
                    return Ok(Poll::Done(0));
                }
                _ => unreachable!("ConcurrentStarts has phases 0..=3"),
            }
        }
    }
}

/// TestCount2B's agreements: `Start(1)` and `count + 1` more at once, `count`
/// checked to commit; unless the term changed, they may use at most `max` RPCs.
/// On success the RPC mark moves to the end of the try.
pub(super) struct CountAgreements {
    pub(super) tries: u64,
    pub(super) count: u64,
    pub(super) max: u64,
    pub(super) attempt: u64,
    pub(super) phase: u8,
    pub(super) leader: usize,
    pub(super) term: u64,
    pub(super) first: u64,
    pub(super) total1: u64,
    pub(super) values: Vec<i64>,
    pub(super) checked: u64,
}

impl Proc for CountAgreements {
    fn poll(
        &mut self,
        lab: &mut Lab,
        world: &mut World<Raft>,
        input: Option<i64>,
    ) -> Result<Poll, String> {
        let mut input = input;
        loop {
            match self.phase {
                0 => {
                    if self.attempt == self.tries {
                        return Err("term changed too often".into());
                    }
                    self.phase = 1;
                    if self.attempt > 0 {
                        return Ok(Poll::Call(Sleep::boxed(3 * SECOND)));
                    }
                }
                1 => {
                    self.phase = 2;
                    return Ok(Poll::Call(CheckOneLeader::boxed(None)));
                }
                2 => {
                    self.leader = input.take().expect("the leader") as usize;
                    lab.refresh_counters(world);
                    self.total1 = lab.rpcs;
                    let (first, term, ok) = lab.start(world, self.leader, LabCmd::Value(1));
                    if !ok {
                        self.attempt += 1;
                        self.phase = 0;
                        continue;
                    }
                    self.first = first;
                    self.term = term;
                    self.values.clear();
                    let mut moved = false;
                    for offset in 1..=self.count + 1 {
                        let value = lab.value();
                        self.values.push(value);
                        let (index, term, ok) = lab.start(world, self.leader, LabCmd::Value(value));
                        if term != self.term || !ok {
                            moved = true;
                            break;
                        }
                        if index != first + offset {
                            return Err(format!(
                                "Start() failed: command {offset} landed at index {index}, expected {}",
                                first + offset
                            ));
                        }
                    }
                    if moved {
                        self.attempt += 1;
                        self.phase = 0;
                        continue;
                    }
                    self.checked = 0;
                    self.phase = 3;
                }
                3 => {
                    if let Some(value) = input.take().filter(|_| self.checked > 0) {
                        let expected = self.values[self.checked as usize - 1];
                        if value == -1 {
                            self.attempt += 1;
                            self.phase = 0;
                            continue;
                        }
                        if value != expected {
                            return Err(format!(
                                "wrong value {value} committed for index {}; expected {expected}",
                                self.first + self.checked
                            ));
                        }
                    }
                    if self.checked < self.count {
                        self.checked += 1;
                        let index = self.first + self.checked;
                        return Ok(Poll::Call(Wait::boxed(index, lab.nodes, Some(self.term))));
                    }
                    lab.refresh_counters(world);
                    let moved = (0..lab.nodes).any(|id| Lab::state(world, id).0 != self.term);
                    let total2 = lab.rpcs;
                    if moved {
                        self.attempt += 1;
                        self.phase = 0;
                        continue;
                    }
                    let used = total2 - self.total1;
                    if used > self.max {
                        return Err(format!(
                            "too many RPCs ({used}) for {} entries, expected at most {}",
                            self.count, self.max
                        ));
                    }
                    lab.marks = (lab.rpcs, lab.bytes, lab.payload);
                    return Ok(Poll::Done(0));
                }
                _ => unreachable!("CountAgreements has phases 0..=3"),
            }
        }
    }
}

/// TestBackup2B after its first agreement: a leader with one follower takes
/// `count` commands that cannot commit; the other three commit `count`; a
/// second leader with one follower takes `count` that cannot commit; then the
/// first leader, its follower and the "other" peer must commit `count`, which
/// needs fast backtracking; finally everyone commits one more.
pub(super) struct Backup {
    pub(super) count: u64,
    pub(super) phase: u8,
    pub(super) leader1: usize,
    pub(super) other: usize,
    pub(super) done: u64,
}

impl Proc for Backup {
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
                    for offset in 2..=4 {
                        lab.disconnect(world, (self.leader1 + offset) % n);
                    }
                    for _ in 0..self.count {
                        let value = lab.value();
                        lab.start(world, self.leader1, LabCmd::Value(value));
                    }
                    self.phase = 2;
                    return Ok(Poll::Call(Sleep::boxed(SECOND / 2)));
                }
                2 => {
                    lab.disconnect(world, self.leader1 % n);
                    lab.disconnect(world, (self.leader1 + 1) % n);
                    for offset in 2..=4 {
                        lab.connect(world, (self.leader1 + offset) % n);
                    }
                    self.done = 0;
                    self.phase = 3;
                }
                3 | 6 => {
                    if self.done < self.count {
                        self.done += 1;
                        let value = lab.value();
                        return Ok(Poll::Call(One::boxed(LabCmd::Value(value), 3, true)));
                    }
                    if self.phase == 6 {
                        for id in 0..n {
                            lab.connect(world, id);
                        }
                        self.phase = 7;
                        let value = lab.value();
                        return Ok(Poll::Call(One::boxed(LabCmd::Value(value), n, true)));
                    }
                    self.phase = 4;
                    return Ok(Poll::Call(CheckOneLeader::boxed(None)));
                }
                4 => {
                    let leader2 = input.take().expect("the leader") as usize;
                    self.other = (self.leader1 + 2) % n;
                    if leader2 == self.other {
                        self.other = (leader2 + 1) % n;
                    }
                    lab.disconnect(world, self.other);
                    for _ in 0..self.count {
                        let value = lab.value();
                        lab.start(world, leader2, LabCmd::Value(value));
                    }
                    self.phase = 5;
                    return Ok(Poll::Call(Sleep::boxed(SECOND / 2)));
                }
                5 => {
                    for id in 0..n {
                        lab.disconnect(world, id);
                    }
                    lab.connect(world, self.leader1 % n);
                    lab.connect(world, (self.leader1 + 1) % n);
                    lab.connect(world, self.other);
                    self.done = 0;
                    self.phase = 6;
                }
                7 => return Ok(Poll::Done(0)),
                _ => unreachable!("Backup has phases 0..=7"),
            }
        }
    }
}
