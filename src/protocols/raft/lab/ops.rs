//! The lab tester's operations as resumable procedures, and the script that
//! strings them together.
//!
//! The lab's tests are Go functions that sleep and poll; here each is a
//! [`Proc`]: polled with the world, it acts at once (a `Start` is a direct call,
//! a fault is applied now) and says what it waits for — a moment
//! ([`Poll::At`]), another procedure's result ([`Poll::Call`]) or other tasks
//! ([`Poll::Join`]) — or that it is done. The scheduler in [`super`] runs them;
//! concurrent goroutines of the lab (the churn clients, TestUnreliableAgree's
//! background agreements) are tasks of their own.

use super::harness::{Lab, LabCmd};
use super::loops;
use super::script::{Action, Check, Step, TargetRef};
use crate::protocols::raft::Raft;
use crate::sim::World;
use crate::sim::time::{MILLISECOND, SECOND, format_nanos};
use std::collections::BTreeMap;
use std::rc::Rc;

/// Identifies a task.
pub type TaskId = u64;

/// What a procedure waits for next.
pub enum Poll {
    /// Finished, with this result (an index, a leader, a value; -1 = unknown).
    Done(i64),
    /// Poll me again at this true virtual time (ns).
    At(u64),
    /// Run this procedure, then poll me with its result.
    Call(Box<dyn Proc>),
    /// Poll me again when these tasks have finished.
    Join(Vec<TaskId>),
}

/// A resumable procedure of the tester. `input` is the result of the procedure
/// it called last, if that is why it is polled.
pub trait Proc {
    /// Acts and says what it waits for; an `Err` is a test failure.
    fn poll(
        &mut self,
        lab: &mut Lab,
        world: &mut World<Raft>,
        input: Option<i64>,
    ) -> Result<Poll, String>;
}

/// `time.Sleep(nanos)`.
pub struct Sleep {
    nanos: u64,
    started: bool,
}

impl Sleep {
    /// Sleeps `nanos`.
    pub fn boxed(nanos: u64) -> Box<dyn Proc> {
        Box::new(Sleep {
            nanos,
            started: false,
        })
    }
}

impl Proc for Sleep {
    fn poll(
        &mut self,
        _: &mut Lab,
        world: &mut World<Raft>,
        _: Option<i64>,
    ) -> Result<Poll, String> {
        if self.started {
            return Ok(Poll::Done(0));
        }
        self.started = true;
        Ok(Poll::At(world.now() + self.nanos))
    }
}

/// `checkOneLeader()`: up to 10 tries, each after a random 450–549 ms, look at
/// the connected nodes; two leaders in one term fail at once; the leader of the
/// highest term is the result (stored under `label`).
pub struct CheckOneLeader {
    label: Option<String>,
    tries: u32,
    waiting: bool,
}

impl CheckOneLeader {
    /// The check, labelling the leader it finds.
    pub fn boxed(label: Option<String>) -> Box<dyn Proc> {
        Box::new(CheckOneLeader {
            label,
            tries: 0,
            waiting: false,
        })
    }
}

impl Proc for CheckOneLeader {
    fn poll(
        &mut self,
        lab: &mut Lab,
        world: &mut World<Raft>,
        _: Option<i64>,
    ) -> Result<Poll, String> {
        if self.waiting {
            let mut leaders: BTreeMap<u64, Vec<usize>> = BTreeMap::new();
            for id in 0..lab.nodes {
                if Lab::connected(world, id) {
                    let (term, leads) = Lab::state(world, id);
                    if leads {
                        leaders.entry(term).or_default().push(id);
                    }
                }
            }
            if let Some((term, ids)) = leaders.iter().find(|(_, ids)| ids.len() > 1) {
                return Err(format!(
                    "term {term} has {} (>1) leaders: nodes {ids:?}",
                    ids.len()
                ));
            }
            if let Some((_, ids)) = leaders.last_key_value() {
                let leader = ids[0];
                if let Some(label) = &self.label {
                    world.set_label(label, vec![leader]);
                }
                return Ok(Poll::Done(leader as i64));
            }
            self.tries += 1;
            if self.tries == 10 {
                return Err("expected one leader, got none".to_string());
            }
        }
        self.waiting = true;
        let pause = 450 * MILLISECOND + lab.below(100) * MILLISECOND;
        Ok(Poll::At(world.now() + pause))
    }
}

/// `one(cmd, expectedServers, retry)`: for up to 10 s cycle through the
/// connected nodes calling `Start` until one accepts, then poll every 20 ms for
/// up to 2 s until `servers` nodes applied the command at that index; without
/// `retry`, failing that first window fails. The result is the command index.
pub struct One {
    cmd: LabCmd,
    servers: usize,
    retry: bool,
    began: Option<u64>,
    starts: usize,
    polling: Option<(u64, u64)>,
}

impl One {
    /// The agreement.
    pub fn boxed(cmd: LabCmd, servers: usize, retry: bool) -> Box<dyn Proc> {
        Box::new(One {
            cmd,
            servers,
            retry,
            began: None,
            starts: 0,
            polling: None,
        })
    }

    fn failed(&self, lab: &Lab, world: &World<Raft>, detail: String) -> String {
        let _ = (lab, world);
        format!(
            "one({}) failed to reach agreement ({} servers, retry = {}): {detail}",
            self.cmd, self.servers, self.retry
        )
    }
}

impl Proc for One {
    fn poll(
        &mut self,
        lab: &mut Lab,
        world: &mut World<Raft>,
        _: Option<i64>,
    ) -> Result<Poll, String> {
        let now = world.now();
        let began = *self.began.get_or_insert(now);
        loop {
            if let Some((index, since)) = self.polling {
                if now - since < 2 * SECOND {
                    let (count, cmd) = lab.n_committed(world, index)?;
                    if count > 0 && count >= self.servers && cmd == Some(self.cmd) {
                        return Ok(Poll::Done(index as i64));
                    }
                    return Ok(Poll::At(now + 20 * MILLISECOND));
                }
                if !self.retry {
                    let (count, cmd) = lab.n_committed(world, index)?;
                    let held = cmd.map_or("nothing".to_string(), |cmd| cmd.to_string());
                    let detail = format!(
                        "index {index} applied by {count} server(s) 2s after Start ({held} there)"
                    );
                    return Err(self.failed(lab, world, detail));
                }
                self.polling = None;
            }
            if now - began >= 10 * SECOND {
                let detail = format!("no agreement within 10s (from {})", format_nanos(began));
                return Err(self.failed(lab, world, detail));
            }
            let mut accepted = None;
            for _ in 0..lab.nodes {
                self.starts = (self.starts + 1) % lab.nodes;
                if Lab::connected(world, self.starts) {
                    let (index, _, ok) = lab.start(world, self.starts, self.cmd);
                    if ok {
                        accepted = Some(index);
                        break;
                    }
                }
            }
            match accepted {
                Some(index) => self.polling = Some((index, now)),
                None => return Ok(Poll::At(now + 50 * MILLISECOND)),
            }
        }
    }
}

/// `wait(index, n, startTerm)`: up to 30 polls, backing off from 10 ms to 1 s,
/// until `n` nodes applied the command at `index`; -1 if a node's term moved
/// past `start_term`; fails if fewer than `n` did. The result is the command.
pub struct Wait {
    index: u64,
    servers: usize,
    start_term: Option<u64>,
    polls: u32,
    pause: u64,
    sleeping: bool,
}

impl Wait {
    /// The wait.
    pub fn boxed(index: u64, servers: usize, start_term: Option<u64>) -> Box<dyn Proc> {
        Box::new(Wait {
            index,
            servers,
            start_term,
            polls: 0,
            pause: 10 * MILLISECOND,
            sleeping: false,
        })
    }
}

impl Proc for Wait {
    fn poll(
        &mut self,
        lab: &mut Lab,
        world: &mut World<Raft>,
        _: Option<i64>,
    ) -> Result<Poll, String> {
        if self.sleeping {
            self.sleeping = false;
            self.polls += 1;
            if self.pause < SECOND {
                self.pause *= 2;
            }
            if let Some(start) = self.start_term {
                let moved =
                    (0..lab.nodes).any(|id| world.is_up(id) && Lab::state(world, id).0 > start);
                if moved {
                    return Ok(Poll::Done(-1));
                }
            }
        }
        if self.polls < 30 {
            let (count, _) = lab.n_committed(world, self.index)?;
            if count < self.servers {
                self.sleeping = true;
                return Ok(Poll::At(world.now() + self.pause));
            }
        }
        let (count, cmd) = lab.n_committed(world, self.index)?;
        match cmd {
            Some(cmd) if count >= self.servers => Ok(Poll::Done(cmd.as_int())),
            _ => Err(format!(
                "only {count} decided for index {}; wanted {}",
                self.index, self.servers
            )),
        }
    }
}

/// Resolves targets to node ids (labels must name exactly one node).
pub fn resolve(world: &World<Raft>, targets: &[TargetRef]) -> Result<Vec<usize>, String> {
    let nodes = world.node_count();
    let mut ids = Vec::new();
    for target in targets {
        match target {
            TargetRef::Node(id) => ids.push(*id),
            TargetRef::All => ids.extend(0..nodes),
            TargetRef::Label { name, offset } => match world.label(name) {
                Some([id]) => ids.push((id + offset) % nodes),
                Some(other) => {
                    return Err(format!("label @{name} holds {other:?}, not one node"));
                }
                None => return Err(format!("label @{name} was never set")),
            },
        }
    }
    Ok(ids)
}

/// The script: runs its steps in order.
pub struct Script {
    steps: Rc<[Step]>,
    position: usize,
    /// How many of the current step's repetitions (`count`) are done.
    done: u64,
    /// Whether the current step waits for a call's result.
    awaiting: bool,
}

impl Script {
    /// The script of these steps.
    pub fn boxed(steps: Rc<[Step]>) -> Box<dyn Proc> {
        Box::new(Script {
            steps,
            position: 0,
            done: 0,
            awaiting: false,
        })
    }

    /// The step's description for messages: `lab[3] { one = 101, ... }`, and
    /// which repetition when it has a `count`.
    fn describe(step: &Step, done: u64) -> String {
        match &step.action {
            Action::One { count, .. } | Action::OneBytes { count, .. } if *count > 1 => {
                format!("{step} (agreement {} of {count})", done + 1)
            }
            _ => step.to_string(),
        }
    }

    /// Handles the result of the current step's call; returns whether the step
    /// is finished.
    fn finish(&mut self, lab: &mut Lab, result: i64) -> Result<bool, String> {
        let step = &self.steps[self.position];
        match &step.action {
            Action::One { index, count, .. } | Action::OneBytes { index, count, .. } => {
                if let Some(index) = index {
                    let expected = index + self.done;
                    if result != expected as i64 {
                        return Err(format!(
                            "the command landed at index {result}, expected {expected}"
                        ));
                    }
                }
                if let Action::OneBytes { bytes, .. } = &step.action {
                    lab.payload += *bytes as u64;
                }
                self.done += 1;
                Ok(self.done == *count)
            }
            _ => Ok(true),
        }
    }

    /// Starts the current step: `Some(call)` when it must wait.
    fn begin(
        &mut self,
        lab: &mut Lab,
        world: &mut World<Raft>,
    ) -> Result<Option<Box<dyn Proc>>, String> {
        let step = &self.steps[self.position];
        lab.context = Self::describe(step, self.done);
        Ok(match &step.action {
            Action::Check(check) => return run_check(lab, world, check),
            Action::One {
                value,
                servers,
                retry,
                ..
            } => Some(One::boxed(
                LabCmd::Value(value + self.done as i64),
                *servers,
                *retry,
            )),
            Action::OneBytes {
                bytes,
                servers,
                retry,
                ..
            } => {
                let cmd = lab.new_payload(*bytes);
                Some(One::boxed(cmd, *servers, *retry))
            }
            Action::Start {
                value,
                to,
                index,
                count,
            } => {
                for id in resolve(world, to)? {
                    let (at, _, ok) = lab.start(world, id, LabCmd::Value(*value));
                    for offset in 1..*count {
                        lab.start(world, id, LabCmd::Value(value + offset as i64));
                    }
                    if let Some((low, high)) = index {
                        if !ok {
                            return Err(format!("node {id} rejected Start({value})"));
                        }
                        if at < *low || at > *high {
                            return Err(format!(
                                "node {id} put {value} at index {at}, expected {}",
                                if low == high {
                                    low.to_string()
                                } else {
                                    format!("{low}..={high}")
                                }
                            ));
                        }
                    }
                }
                None
            }
            Action::Wait { index, servers } => Some(Wait::boxed(*index, *servers, None)),
            Action::Sleep(duration) => Some(Sleep::boxed(duration.0)),
            Action::Disconnect(targets) => {
                for id in resolve(world, targets)? {
                    lab.disconnect(world, id);
                }
                None
            }
            Action::Connect(targets) => {
                for id in resolve(world, targets)? {
                    lab.connect(world, id);
                }
                None
            }
            Action::Crash(targets) => {
                for id in resolve(world, targets)? {
                    lab.crash1(world, id);
                }
                None
            }
            Action::Restart(targets) => {
                for id in resolve(world, targets)? {
                    lab.start1(world, id);
                }
                None
            }
            Action::Unreliable(on) => {
                lab.set_unreliable(world, *on);
                None
            }
            Action::LongReordering(on) => {
                Lab::set_long_reordering(world, *on);
                None
            }
            Action::ResetCounters => {
                lab.refresh_counters(world);
                lab.marks = (lab.rpcs, lab.bytes, lab.payload);
                None
            }
            Action::Run(builtin) => Some(loops::start(builtin)),
        })
    }
}

impl Proc for Script {
    fn poll(
        &mut self,
        lab: &mut Lab,
        world: &mut World<Raft>,
        input: Option<i64>,
    ) -> Result<Poll, String> {
        if self.awaiting {
            self.awaiting = false;
            let result = input.expect("a call's result");
            if self.finish(lab, result)? {
                self.position += 1;
                self.done = 0;
            }
        }
        while self.position < self.steps.len() {
            if let Some(call) = self.begin(lab, world)? {
                self.awaiting = true;
                return Ok(Poll::Call(call));
            }
            self.position += 1;
            self.done = 0;
        }
        Ok(Poll::Done(0))
    }
}

/// Runs a check: synchronous ones at once, `one_leader` as a call.
fn run_check(
    lab: &mut Lab,
    world: &mut World<Raft>,
    check: &Check,
) -> Result<Option<Box<dyn Proc>>, String> {
    match check {
        Check::OneLeader { label } => return Ok(Some(CheckOneLeader::boxed(label.clone()))),
        Check::NoLeader => {
            for id in 0..lab.nodes {
                if Lab::connected(world, id) && Lab::state(world, id).1 {
                    return Err(format!(
                        "expected no leader among connected servers, but {id} claims to be leader"
                    ));
                }
            }
        }
        Check::TermsAgree { min } => {
            let mut term: Option<(usize, u64)> = None;
            for id in 0..lab.nodes {
                if !Lab::connected(world, id) {
                    continue;
                }
                let mine = Lab::state(world, id).0;
                match term {
                    None => term = Some((id, mine)),
                    Some((other, theirs)) if theirs != mine => {
                        return Err(format!(
                            "servers disagree on term: node {other} is in term {theirs}, node {id} in term {mine}"
                        ));
                    }
                    Some(_) => {}
                }
            }
            if let (Some(min), Some((_, term))) = (min, term)
                && term < *min
            {
                return Err(format!("term is {term}, expected at least {min}"));
            }
        }
        Check::NotCommitted { index } => {
            let (count, cmd) = lab.n_committed(world, *index)?;
            if count > 0 {
                let cmd = cmd.map_or(String::new(), |cmd| cmd.to_string());
                return Err(format!(
                    "{count} committed {cmd} at index {index} but no majority"
                ));
            }
        }
        Check::Rpcs { min, max } => {
            lab.refresh_counters(world);
            let rpcs = lab.rpcs - lab.marks.0;
            if max.is_some_and(|max| rpcs > max) || min.is_some_and(|min| rpcs < min) {
                return Err(format!(
                    "{rpcs} RPCs, expected {}..={}",
                    min.unwrap_or(0),
                    max.map_or("any".to_string(), |max| max.to_string())
                ));
            }
            lab.marks = (lab.rpcs, lab.bytes, lab.payload);
        }
        Check::Bytes {
            per_payload_byte,
            max,
        } => {
            lab.refresh_counters(world);
            let bytes = lab.bytes - lab.marks.1;
            let payload = lab.payload - lab.marks.2;
            let allowed = per_payload_byte * payload + max;
            if bytes > allowed {
                return Err(format!(
                    "too many RPC bytes: {bytes} for {payload} payload bytes, expected at most {allowed}"
                ));
            }
            lab.marks = (lab.rpcs, lab.bytes, lab.payload);
        }
    }
    Ok(None)
}
