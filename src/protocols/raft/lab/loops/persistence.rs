//! The 2C loops: Figure 8 (crashes, and the unreliable one), unreliable
//! agreement, churn.

use super::super::harness::{Lab, LabCmd};
use super::super::ops::{One, Poll, Proc, Sleep, TaskId, Wait};
use crate::protocols::raft::Raft;
use crate::sim::World;
use crate::sim::time::{MILLISECOND, SECOND};

/// The sleep of both Figure 8 tests: 0–499 ms with probability 10%, else 0–12 ms.
fn figure8_pause(lab: &mut Lab) -> u64 {
    if lab.below(1000) < 100 {
        lab.below(500) * MILLISECOND
    } else {
        lab.below(13) * MILLISECOND
    }
}

/// TestFigure82C's loop: `Start` a random value on every live peer, sleep,
/// crash the peer that accepted; keep at least three alive by restarting a
/// random crashed one. At the end every crashed peer is restarted and
/// connected.
pub(super) struct Figure8 {
    pub(super) iterations: u64,
    pub(super) iteration: u64,
    pub(super) up: usize,
    pub(super) leader: Option<usize>,
    pub(super) sleeping: bool,
}

impl Proc for Figure8 {
    fn poll(
        &mut self,
        lab: &mut Lab,
        world: &mut World<Raft>,
        _: Option<i64>,
    ) -> Result<Poll, String> {
        let n = lab.nodes;
        if self.iteration == 0 && !self.sleeping {
            self.up = n;
        }
        if self.sleeping {
            self.sleeping = false;
            if let Some(leader) = self.leader {
                lab.crash1(world, leader);
            }
            // Counted from the world, not kept by hand: a nemesis running beside
            // the script crashes and restarts nodes too.
            self.up = (0..n).filter(|&id| world.is_up(id)).count();
            if self.up < 3 {
                let id = lab.below(n as u64) as usize;
                if !world.is_up(id) {
                    lab.start1(world, id);
                    lab.connect(world, id);
                    self.up += 1;
                }
            }
            self.iteration += 1;
        }
        if self.iteration == self.iterations {
            for id in 0..n {
                if !world.is_up(id) {
                    lab.start1(world, id);
                    lab.connect(world, id);
                }
            }
            return Ok(Poll::Done(0));
        }
        self.leader = None;
        for id in 0..n {
            if world.is_up(id) {
                let value = lab.value();
                if lab.start(world, id, LabCmd::Value(value)).2 {
                    self.leader = Some(id);
                }
            }
        }
        self.sleeping = true;
        let pause = figure8_pause(lab);
        Ok(Poll::At(world.now() + pause))
    }
}

/// TestFigure8Unreliable2C's loop: `Start(rand % 10000)` on every peer, sleep,
/// disconnect the connected peer that accepted with probability 1/2, keep at
/// least three connected; long reordering from iteration `long_reordering_at`.
/// At the end every peer is connected again.
pub(super) struct Figure8Unreliable {
    pub(super) iterations: u64,
    pub(super) long_reordering_at: u64,
    pub(super) iteration: u64,
    pub(super) up: usize,
    pub(super) leader: Option<usize>,
    pub(super) sleeping: bool,
}

impl Proc for Figure8Unreliable {
    fn poll(
        &mut self,
        lab: &mut Lab,
        world: &mut World<Raft>,
        _: Option<i64>,
    ) -> Result<Poll, String> {
        let n = lab.nodes;
        if self.iteration == 0 && !self.sleeping {
            self.up = n;
        }
        if self.sleeping {
            self.sleeping = false;
            if let Some(leader) = self.leader
                && lab.below(1000) < 500
            {
                lab.disconnect(world, leader);
            }
            // Counted from the world (a nemesis may disconnect nodes too).
            self.up = (0..n).filter(|&id| !world.is_disconnected(id)).count();
            if self.up < 3 {
                let id = lab.below(n as u64) as usize;
                if world.is_disconnected(id) {
                    lab.connect(world, id);
                    self.up += 1;
                }
            }
            self.iteration += 1;
        }
        if self.iteration == self.iterations {
            for id in 0..n {
                lab.connect(world, id);
            }
            return Ok(Poll::Done(0));
        }
        if self.iteration == self.long_reordering_at {
            Lab::set_long_reordering(world, true);
        }
        self.leader = None;
        for id in 0..n {
            let value = lab.below(10_000) as i64;
            let (_, _, ok) = lab.start(world, id, LabCmd::Value(value));
            if ok && Lab::connected(world, id) {
                self.leader = Some(id);
            }
        }
        self.sleeping = true;
        let pause = figure8_pause(lab);
        Ok(Poll::At(world.now() + pause))
    }
}

/// TestUnreliableAgree2C's loop: for rounds 1..=`iterations`, start
/// `concurrent` background `one(100·round + j, 1, true)` and run
/// `one(round, 1, true)` in the foreground; then make the network reliable and
/// wait for the background ones.
pub(super) struct UnreliableAgree {
    pub(super) iterations: u64,
    pub(super) concurrent: u64,
    pub(super) round: u64,
    pub(super) background: Vec<TaskId>,
    pub(super) joined: bool,
}

impl Proc for UnreliableAgree {
    fn poll(
        &mut self,
        lab: &mut Lab,
        world: &mut World<Raft>,
        input: Option<i64>,
    ) -> Result<Poll, String> {
        let mut input = input;
        if self.joined {
            return Ok(Poll::Done(0));
        }
        if input.take().is_some() {
            self.round += 1;
        }
        if self.round > self.iterations {
            lab.set_unreliable(world, false);
            self.joined = true;
            return Ok(Poll::Join(std::mem::take(&mut self.background)));
        }
        for j in 0..self.concurrent {
            let value = LabCmd::Value(100 * self.round as i64 + j as i64);
            let task = lab.spawn(One::boxed(value, 1, true));
            self.background.push(task);
        }
        Ok(Poll::Call(One::boxed(
            LabCmd::Value(self.round as i64),
            1,
            true,
        )))
    }
}

/// One churn client: `Start` a random value on every live peer; if one took
/// it, look for the commit after 0, 10, 20, 50, 100 and 200 ms and remember
/// the value if it committed; otherwise sleep 79 + 17·me ms. Stops when told.
pub(super) struct ChurnClient {
    pub(super) me: u64,
    pub(super) values: Vec<i64>,
    pub(super) value: i64,
    pub(super) index: u64,
    /// Which look at the commit comes next (`None`: submit a new value).
    pub(super) look: Option<usize>,
}

const CHURN_LOOKS_MS: [u64; 5] = [10, 20, 50, 100, 200];

impl Proc for ChurnClient {
    fn poll(
        &mut self,
        lab: &mut Lab,
        world: &mut World<Raft>,
        _: Option<i64>,
    ) -> Result<Poll, String> {
        loop {
            if let Some(look) = self.look {
                if look == CHURN_LOOKS_MS.len() {
                    self.look = None;
                    continue;
                }
                let (count, cmd) = lab.n_committed(world, self.index)?;
                if count > 0 {
                    if cmd == Some(LabCmd::Value(self.value)) {
                        self.values.push(self.value);
                    }
                    self.look = None;
                    continue;
                }
                self.look = Some(look + 1);
                return Ok(Poll::At(world.now() + CHURN_LOOKS_MS[look] * MILLISECOND));
            }
            if lab.stop_clients {
                lab.client_values.append(&mut self.values);
                return Ok(Poll::Done(0));
            }
            self.value = lab.value();
            let mut accepted = None;
            for id in 0..lab.nodes {
                if world.is_up(id) {
                    let (index, _, ok) = lab.start(world, id, LabCmd::Value(self.value));
                    if ok {
                        accepted = Some(index);
                    }
                }
            }
            match accepted {
                Some(index) => {
                    self.index = index;
                    self.look = Some(0);
                }
                None => {
                    let pause = (79 + 17 * self.me) * MILLISECOND;
                    return Ok(Poll::At(world.now() + pause));
                }
            }
        }
    }
}

/// TestReliableChurn2C / TestUnreliableChurn2C: clients submit while, every
/// 0.7 s, a random peer is disconnected (20%), one restarted if crashed and
/// connected (50%), one crashed (20%). Then everything is restarted and
/// connected over a reliable network, one value commits on all, and every
/// value a client saw committed must be among the committed commands.
pub(super) struct Churn {
    pub(super) iterations: u64,
    pub(super) clients: u64,
    pub(super) phase: u8,
    pub(super) iteration: u64,
    pub(super) tasks: Vec<TaskId>,
    pub(super) values: Vec<i64>,
    pub(super) last: u64,
    pub(super) index: u64,
    pub(super) really: Vec<i64>,
}

impl Proc for Churn {
    fn poll(
        &mut self,
        lab: &mut Lab,
        world: &mut World<Raft>,
        input: Option<i64>,
    ) -> Result<Poll, String> {
        let mut input = input;
        let n = lab.nodes as u64;
        loop {
            match self.phase {
                0 => {
                    lab.stop_clients = false;
                    lab.client_values.clear();
                    for me in 0..self.clients {
                        let client = ChurnClient {
                            me,
                            values: Vec::new(),
                            value: 0,
                            index: 0,
                            look: None,
                        };
                        let task = lab.spawn(Box::new(client));
                        self.tasks.push(task);
                    }
                    self.phase = 1;
                }
                1 => {
                    if self.iteration == self.iterations {
                        self.phase = 2;
                        return Ok(Poll::Call(Sleep::boxed(SECOND)));
                    }
                    self.iteration += 1;
                    if lab.below(1000) < 200 {
                        let id = lab.below(n) as usize;
                        lab.disconnect(world, id);
                    }
                    if lab.below(1000) < 500 {
                        let id = lab.below(n) as usize;
                        if !world.is_up(id) {
                            lab.start1(world, id);
                        }
                        lab.connect(world, id);
                    }
                    if lab.below(1000) < 200 {
                        let id = lab.below(n) as usize;
                        if world.is_up(id) {
                            lab.crash1(world, id);
                        }
                    }
                    return Ok(Poll::At(world.now() + 7 * SECOND / 10));
                }
                2 => {
                    lab.set_unreliable(world, false);
                    for id in 0..lab.nodes {
                        if !world.is_up(id) {
                            lab.start1(world, id);
                        }
                        lab.connect(world, id);
                    }
                    lab.stop_clients = true;
                    self.phase = 3;
                    return Ok(Poll::Join(self.tasks.clone()));
                }
                3 => {
                    self.values = std::mem::take(&mut lab.client_values);
                    self.phase = 4;
                    return Ok(Poll::Call(Sleep::boxed(SECOND)));
                }
                4 => {
                    self.phase = 5;
                    let value = lab.value();
                    return Ok(Poll::Call(One::boxed(
                        LabCmd::Value(value),
                        lab.nodes,
                        true,
                    )));
                }
                5 => {
                    self.last = input.take().expect("the last index") as u64;
                    self.index = 0;
                    self.phase = 6;
                }
                6 => {
                    if let Some(value) = input.take().filter(|_| self.index > 0) {
                        self.really.push(value);
                    }
                    if self.index < self.last {
                        self.index += 1;
                        return Ok(Poll::Call(Wait::boxed(self.index, lab.nodes, None)));
                    }
                    if let Some(missing) = self.values.iter().find(|v| !self.really.contains(v)) {
                        return Err(format!(
                            "didn't find a value: {missing} was seen committed but is not among the {} committed commands",
                            self.last
                        ));
                    }
                    return Ok(Poll::Done(0));
                }
                _ => unreachable!("Churn has phases 0..=6"),
            }
        }
    }
}
