//! The MIT 6.824 / 6.5840 Raft lab tester, ported as a driver.
//!
//! The course's tests (`test_test.go`, on top of `config.go`) are programs: find
//! the leader, disconnect it, `Start` a command on the next one, fail unless it
//! is applied on two servers within two seconds. A fixed fault timeline cannot
//! say that, so a scenario lists the tester's calls as *steps* in its
//! `[protocol]` table (`lab = [...]`, see [`script`]) and this driver runs them
//! against the simulated cluster, in virtual time, with the lab's own constants:
//! `checkOneLeader` sleeps 450–549 ms between up to ten looks, `one` gives a
//! command 2 s per attempt and 10 s in all, `wait` backs off from 10 ms to 1 s,
//! `RaftElectionTimeout` is 1 s. The tests whose bodies are loops over random
//! choices (Figure 8, churn, the snapshot loop, …) are built in
//! ([`script::Builtin`]) and draw from the driver's own stream, so a seed
//! reproduces them exactly.
//!
//! How the lab's world maps onto ours:
//!
//! - `rf.Start(cmd)` is a direct call: the driver hands `RaftMsg::Start` (or, for
//!   a payload, a key/value append in its own name) straight to the node with
//!   `World::deliver_now` — no network fault stops it — and reads the node's log
//!   to see whether it was accepted and where.
//! - Commands are numbered as the lab numbers them, skipping our leaders' no-op
//!   entries (see [`harness`]).
//! - `disconnect`/`connect` are the world's lab-style faults; `crash1` is a
//!   disconnect then a crash (the disk keeps what was synced, which for Raft is
//!   everything it acknowledged); `start1` crashes a running node first, then
//!   restarts it from its disk, still disconnected until `connect`.
//! - `nCommitted` counts the live nodes that applied a command at an index.
//!   (The lab also counts what crashed servers applied before they crashed; a
//!   crashed node here has forgotten it until it restarts, so the count is never
//!   higher than the lab's.)
//! - The unreliable network drops 10% of messages and delays each by 0–26 ms;
//!   long reordering holds 2/3 of messages for 200 ms–2.2 s.
//! - RPCs are requests between nodes (`RequestVote`, `AppendEntries`,
//!   `InstallSnapshot`: [`crate::protocols::raft::RaftMsg::is_request`]) — the
//!   lab counts calls, not replies; bytes are every message between nodes,
//!   replies included (stricter than the lab, which counts request arguments).
//! - The persisted size is `raft.state` + `raft.log` on the node's disk (term,
//!   vote and log; not `raft.snapshot`), the lab's `RaftStateSize`.
//!
//! Concurrency: the lab's goroutines (churn clients, TestUnreliableAgree's
//! background agreements) are tasks; the scheduler runs every task due at a
//! wake in order of (wake time, task id), so the interleaving is a function of
//! the seed. The scenario's `duration` plays the lab's 120 s time limit: a
//! script still running when the fault phase ends fails.

mod harness;
mod loops;
mod ops;
pub mod script;

use self::harness::Lab;
use self::ops::{Poll, Proc, Script, TaskId};
use self::script::Step;
use super::Raft;
use crate::check::Finding;
use crate::sim::World;
use crate::sim::network::NetworkConfig;
use crate::sim::rng;
use crate::sim::time::format_nanos;
use crate::spec::Driver;
use std::rc::Rc;

/// One of the tester's concurrent activities: a stack of procedures (the one
/// on top runs), and what it waits for.
struct Task {
    id: TaskId,
    stack: Vec<Box<dyn Proc>>,
    /// When to poll it next; `None` while it waits for other tasks.
    wake: Option<u64>,
    joining: Vec<TaskId>,
    input: Option<i64>,
    /// The step that started it (for the main task, the step it is at).
    context: Option<String>,
}

/// The property the tester judges: every step of the script holds, and the
/// script finishes within the scenario's duration (declared in Raft's spec).
pub const LAB_SCRIPT: &str = "lab_script";

/// The lab tester: runs a script of steps against the world. A
/// [`Driver`] for Raft when the scenario has a `lab` list.
pub struct LabTester {
    lab: Lab,
    tasks: Vec<Task>,
    main: TaskId,
    fault_end: u64,
    finished: bool,
}

impl LabTester {
    /// A tester for `steps` on a cluster of `nodes` whose scenario network is
    /// `network`, which must finish before `fault_end`; randomness from the
    /// driver stream of `seed`.
    pub fn new(
        steps: Vec<Step>,
        nodes: usize,
        network: &NetworkConfig,
        fault_end: u64,
        seed: u64,
    ) -> Self {
        let mut lab = Lab::new(rng::stream(seed, "driver", 0), nodes, network.clone());
        let main = lab.first_task();
        let steps: Rc<[Step]> = steps.into();
        LabTester {
            lab,
            tasks: vec![Task {
                id: main,
                stack: vec![Script::boxed(steps)],
                wake: Some(0),
                joining: Vec::new(),
                input: None,
                context: None,
            }],
            main,
            fault_end,
            finished: false,
        }
    }
}

/// The tester drives the world through the public driver API only: it is woken
/// at times it chooses and acts through the world's traced paths.
impl Driver<Raft> for LabTester {
    fn name(&self) -> &'static str {
        "raft_lab"
    }

    /// True virtual time of the next wake; `None` once the script is done.
    fn next_wake(&self) -> Option<u64> {
        if self.finished {
            return None;
        }
        self.tasks.iter().filter_map(|task| task.wake).min()
    }

    /// Runs every task due now.
    fn wake(&mut self, world: &mut World<Raft>) -> Vec<Finding> {
        let now = world.now();
        self.lab.refresh_counters(world);
        if now >= self.fault_end {
            self.finished = true;
            return vec![Finding::always(
                LAB_SCRIPT,
                format!(
                    "the lab script was still running when the fault phase ended at {} (the scenario's duration is the test's time limit), at {}",
                    format_nanos(self.fault_end),
                    self.lab.context
                ),
            )];
        }
        let mut polls = 0;
        loop {
            let due = self
                .tasks
                .iter()
                .enumerate()
                .filter(|(_, task)| task.wake.is_some_and(|at| at <= now))
                .min_by_key(|(_, task)| (task.wake, task.id))
                .map(|(position, _)| position);
            let Some(position) = due else {
                return Vec::new();
            };
            let task = &mut self.tasks[position];
            task.wake = None;
            match run(task, &mut self.lab, world, &mut polls) {
                Err(message) => {
                    self.finished = true;
                    let context = task.context.as_ref().unwrap_or(&self.lab.context);
                    return vec![Finding::always(LAB_SCRIPT, format!("{context}: {message}"))];
                }
                Ok(true) => {
                    let id = task.id;
                    self.tasks.remove(position);
                    self.lab.finished.push(id);
                    if id == self.main {
                        self.finished = true;
                        self.tasks.clear();
                        return Vec::new();
                    }
                }
                Ok(false) => {}
            }
            let context = self.lab.context.clone();
            for (id, proc) in self.lab.spawned.drain(..) {
                self.tasks.push(Task {
                    id,
                    stack: vec![proc],
                    wake: Some(now),
                    joining: Vec::new(),
                    input: None,
                    context: Some(context.clone()),
                });
            }
            for task in &mut self.tasks {
                if !task.joining.is_empty()
                    && task.joining.iter().all(|id| self.lab.finished.contains(id))
                {
                    task.joining.clear();
                    task.wake = Some(now);
                }
            }
        }
    }

    /// A script that never finished fails.
    fn at_end(&mut self, world: &World<Raft>) -> Vec<Finding> {
        let _ = world;
        if self.finished {
            return Vec::new();
        }
        vec![Finding::eventually(
            LAB_SCRIPT,
            format!(
                "the lab script had not finished when the run ended; it was at {}",
                self.lab.context
            ),
        )]
    }
}

/// Most procedure polls the tester runs at one instant. A loop that never
/// waits for virtual time (a script step whose work completes instantly,
/// forever) ends here as a finding instead of growing without bound inside one
/// wake, where the run's `max_events` cannot see it.
pub const POLLS_PER_WAKE_MAX: u64 = 100_000;

/// Polls `task` until it waits; returns whether it finished. `polls` counts
/// this wake's polls against [`POLLS_PER_WAKE_MAX`].
fn run(
    task: &mut Task,
    lab: &mut Lab,
    world: &mut World<Raft>,
    polls: &mut u64,
) -> Result<bool, String> {
    let mut input = task.input.take();
    loop {
        *polls += 1;
        if *polls > POLLS_PER_WAKE_MAX {
            return Err(format!(
                "the script ran {POLLS_PER_WAKE_MAX} steps at one instant without waiting (a loop that never lets virtual time pass)"
            ));
        }
        let proc = task
            .stack
            .last_mut()
            .expect("a running task has a procedure");
        match proc.poll(lab, world, input)? {
            Poll::Done(result) => {
                task.stack.pop();
                if task.stack.is_empty() {
                    return Ok(true);
                }
                input = Some(result);
            }
            Poll::At(at) => {
                task.wake = Some(at.max(world.now()));
                return Ok(false);
            }
            Poll::Call(proc) => {
                task.stack.push(proc);
                input = None;
            }
            Poll::Join(ids) => {
                let waiting: Vec<TaskId> = ids
                    .into_iter()
                    .filter(|id| !lab.finished.contains(id))
                    .collect();
                if waiting.is_empty() {
                    input = None;
                    continue;
                }
                task.joining = waiting;
                return Ok(false);
            }
        }
    }
}
