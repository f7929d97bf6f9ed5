//! The coordinator: the task table, assignment, failure handling and the
//! atomic commit of reduce outputs. See the module documentation of
//! [`super`].

use super::{
    Assignment, AttemptId, COORDINATOR, Location, MapReduce, MapReduceBug as Bug,
    MapReducePoint as Point, MrMsg, MrTimer, Phase, Settings, epoch_of, next_generation,
};
use crate::sim::time::Duration;
use crate::sim::{Ctx, ProcessId};
use std::collections::BTreeMap;
use std::rc::Rc;

/// How often the coordinator looks for tasks past their timeout.
const SWEEP: Duration = Duration(500_000_000);

/// The final output file of partition `r`.
pub fn output_file(r: usize) -> String {
    format!("mr-out-{r}")
}

/// The temporary file attempt `attempt` streams partition `r` into.
fn temporary_file(r: usize, attempt: AttemptId) -> String {
    format!("mr-tmp-{r}-{attempt}")
}

/// One copy of a task running on a worker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attempt {
    /// The attempt's id.
    pub id: AttemptId,
    /// Its worker.
    pub worker: ProcessId,
    /// That worker's boot.
    pub boot: u64,
    /// When it was handed out (the coordinator's clock).
    pub started: u64,
    /// Whether it is a backup copy.
    pub backup: bool,
    /// Whether it is past its timeout (and the task queued again).
    pub timed_out: bool,
}

/// One task's state.
#[derive(Clone, Debug, Default)]
pub struct Task {
    /// Waiting to be handed out.
    pub queued: bool,
    /// Copies handed out and not yet finished or lost.
    pub running: Vec<Attempt>,
    /// The committed attempt.
    pub done: Option<Attempt>,
}

impl Task {
    /// Queues the task again if it is not done and no copy of it is still
    /// expected to finish (every one left is past its timeout, and so was
    /// queued again once already: this is that copy's replacement lost).
    fn requeue_if_orphaned(&mut self) {
        if self.done.is_none() && self.running.iter().all(|attempt| attempt.timed_out) {
            self.queued = true;
        }
    }
}

/// What the coordinator did, for the checker (observer-only: nothing the
/// coordinator decides reads it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Note {
    /// An attempt was handed out.
    Started {
        /// Phase.
        phase: Phase,
        /// Task.
        task: usize,
        /// Attempt.
        attempt: AttemptId,
        /// Worker.
        worker: ProcessId,
        /// Whether a backup.
        backup: bool,
    },
    /// A task was committed (counted as done).
    Committed {
        /// Phase.
        phase: Phase,
        /// Task.
        task: usize,
        /// Attempt.
        attempt: AttemptId,
    },
    /// A finished map's output was found lost; the map is queued again.
    Lost {
        /// The map.
        map: usize,
    },
    /// The coordinator declared the job done.
    Done,
}

/// An upload of a reduce attempt's output in progress.
#[derive(Clone, Debug)]
struct Upload {
    partition: usize,
    /// Chunks stored so far.
    next: u32,
    /// The file they go to.
    file: String,
}

/// The coordinator node.
#[derive(Clone, Debug)]
pub struct Coordinator {
    settings: Rc<Settings>,
    epoch: u64,
    next_attempt: u64,
    maps: Vec<Task>,
    reduces: Vec<Task>,
    /// Tasks counted done (the planted double commit counts twice).
    maps_done: usize,
    reduces_done: usize,
    /// The latest boot heard from each node (index by node id; 0 unknown).
    boots: Vec<u64>,
    uploads: BTreeMap<AttemptId, Upload>,
    done: bool,
    /// What it did, for the checker.
    pub journal: Vec<Note>,
}

impl Coordinator {
    /// A coordinator that has not started.
    pub fn new(settings: Rc<Settings>) -> Self {
        let maps = vec![Task::default(); settings.maps()];
        let reduces = vec![Task::default(); settings.reduces()];
        let boots = vec![0; settings.nodes];
        Coordinator {
            settings,
            epoch: 0,
            next_attempt: 0,
            maps,
            reduces,
            maps_done: 0,
            reduces_done: 0,
            boots,
            uploads: BTreeMap::new(),
            done: false,
            journal: Vec::new(),
        }
    }

    /// Whether the coordinator has declared the job done.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// (maps done, reduces done) as counted.
    pub fn progress(&self) -> (usize, usize) {
        (self.maps_done, self.reduces_done)
    }

    /// The coordinator's epoch (its start count).
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    fn has(&self, bug: Bug) -> bool {
        self.settings.config.has(bug)
    }

    pub(super) fn on_start(&mut self, ctx: &mut Ctx<'_, MapReduce>) {
        self.epoch = next_generation(ctx, "epoch");
        // The committed outputs survive; temporary files of attempts of an
        // earlier epoch are garbage.
        let files: Vec<String> = ctx.disk().files().map(str::to_string).collect();
        let mut recovered = 0;
        for file in files {
            if file.starts_with("mr-tmp-") {
                ctx.disk().remove(&file);
            } else if let Some(r) = file
                .strip_prefix("mr-out-")
                .and_then(|r| r.parse::<usize>().ok())
                .filter(|&r| r < self.reduces.len())
            {
                self.reduces[r].done = Some(Attempt {
                    id: 0,
                    worker: COORDINATOR,
                    boot: 0,
                    started: 0,
                    backup: false,
                    timed_out: false,
                });
                recovered += 1;
            }
        }
        ctx.disk().sync();
        if recovered > 0 {
            ctx.sometimes(Point::OutputRecovered);
        }
        self.reduces_done = recovered;
        for task in &mut self.maps {
            task.queued = true;
        }
        for task in &mut self.reduces {
            task.queued = task.done.is_none();
        }
        if self.reduces_done >= self.reduces.len() {
            self.finish();
        }
        ctx.set_timer(SWEEP, SWEEP, MrTimer::Sweep);
    }

    fn finish(&mut self) {
        if !self.done {
            self.done = true;
            self.journal.push(Note::Done);
        }
    }

    pub(super) fn on_timer(&mut self, ctx: &mut Ctx<'_, MapReduce>, timer: MrTimer) {
        if timer != MrTimer::Sweep {
            return;
        }
        ctx.set_timer(SWEEP, SWEEP, MrTimer::Sweep);
        if self.done || self.has(Bug::NoReassign) {
            return;
        }
        let now = ctx.now();
        let timeout = self.settings.config.task_timeout.0;
        let mut timed_out = false;
        for task in self.maps.iter_mut().chain(self.reduces.iter_mut()) {
            if task.done.is_some() {
                continue;
            }
            for attempt in &mut task.running {
                if !attempt.timed_out && now.saturating_sub(attempt.started) >= timeout {
                    attempt.timed_out = true;
                    if !task.queued {
                        task.queued = true;
                        timed_out = true;
                    }
                }
            }
        }
        if timed_out {
            ctx.sometimes(Point::TaskTimedOut);
        }
    }

    /// Notes `boot` of `worker`. Returns false if the message is from an
    /// earlier boot than one already heard (sent before a restart: what it
    /// reports is gone).
    fn hear(&mut self, ctx: &mut Ctx<'_, MapReduce>, worker: ProcessId, boot: u64) -> bool {
        let Some(known) = self.boots.get(worker).copied() else {
            return false;
        };
        if boot < known {
            ctx.sometimes(Point::StaleBootIgnored);
            return false;
        }
        if boot > known {
            self.boots[worker] = boot;
            if known != 0 {
                ctx.sometimes(Point::WorkerRestartNoticed);
                self.lose_worker(ctx, worker, boot);
            }
        }
        true
    }

    /// `worker` restarted (now at `boot`): what ran on an earlier boot is
    /// lost, and so are the map outputs on its disk.
    fn lose_worker(&mut self, ctx: &mut Ctx<'_, MapReduce>, worker: ProcessId, boot: u64) {
        let reassign = !self.has(Bug::NoReassign);
        for task in self.maps.iter_mut().chain(self.reduces.iter_mut()) {
            let before = task.running.len();
            task.running
                .retain(|attempt| !(attempt.worker == worker && attempt.boot < boot));
            if task.running.len() < before && reassign {
                task.requeue_if_orphaned();
            }
        }
        let lost: Vec<usize> = (0..self.maps.len())
            .filter(|&m| {
                self.maps[m]
                    .done
                    .as_ref()
                    .is_some_and(|attempt| attempt.worker == worker && attempt.boot < boot)
            })
            .collect();
        for map in lost {
            self.map_lost(ctx, map);
        }
    }

    /// A finished map's output is gone: run the map again (while a reduce
    /// may still need it).
    fn map_lost(&mut self, ctx: &mut Ctx<'_, MapReduce>, map: usize) {
        if self.has(Bug::KeepLostMapOutput) || self.reduces_done >= self.reduces.len() {
            return;
        }
        let task = &mut self.maps[map];
        if task.done.take().is_some() {
            task.queued = true;
            task.running.clear();
            self.maps_done = self.maps_done.saturating_sub(1);
            self.journal.push(Note::Lost { map });
            ctx.sometimes(Point::MapReexecuted);
        }
    }

    pub(super) fn on_message(&mut self, ctx: &mut Ctx<'_, MapReduce>, from: ProcessId, msg: MrMsg) {
        match msg {
            MrMsg::Ask { boot } => {
                if !self.hear(ctx, from, boot) {
                    return;
                }
                let reply = if self.done {
                    MrMsg::Exit
                } else {
                    match self.pick(ctx, from, boot) {
                        Some(assignment) => MrMsg::Assign(assignment),
                        None => MrMsg::Wait,
                    }
                };
                ctx.send(from, reply);
            }
            MrMsg::MapDone {
                attempt,
                task,
                boot,
            } => {
                if epoch_of(attempt) != self.epoch || task >= self.maps.len() {
                    return;
                }
                if !self.hear(ctx, from, boot) {
                    return;
                }
                self.map_done(ctx, attempt, task);
            }
            MrMsg::FetchFailed {
                attempt,
                partition,
                location,
                boot,
            } => {
                if epoch_of(attempt) != self.epoch || partition >= self.reduces.len() {
                    return;
                }
                if !self.hear(ctx, from, boot) {
                    return;
                }
                // The map's output is lost if it is still where the reducer
                // was told; if the map ran again since, it is elsewhere.
                let lost = self
                    .maps
                    .get(location.map)
                    .and_then(|task| task.done.as_ref())
                    .is_some_and(|done| {
                        done.worker == location.worker && done.boot == location.boot
                    });
                if lost {
                    self.map_lost(ctx, location.map);
                }
                let reassign = !self.has(Bug::NoReassign);
                let task = &mut self.reduces[partition];
                task.running.retain(|running| running.id != attempt);
                if reassign {
                    task.requeue_if_orphaned();
                }
            }
            MrMsg::Chunk {
                attempt,
                partition,
                index,
                last,
                bytes,
            } => self.chunk(ctx, from, attempt, partition, index, last, &bytes),
            _ => {}
        }
    }

    /// What to give a worker asking for work.
    fn pick(
        &mut self,
        ctx: &mut Ctx<'_, MapReduce>,
        worker: ProcessId,
        boot: u64,
    ) -> Option<Assignment> {
        let maps_finished = self.maps_done >= self.maps.len();
        let map_waiting = self.maps.iter().any(|task| task.queued);
        // The reduce phase starts when every map is done (the planted bug:
        // when none is waiting to be handed out).
        let reduce_phase = maps_finished || (self.has(Bug::ReduceBeforeMapsDone) && !map_waiting);
        if !maps_finished && let Some(task) = self.first_queued(Phase::Map) {
            return Some(self.hand_out(ctx, Phase::Map, task, worker, boot, false));
        }
        if reduce_phase && let Some(task) = self.first_queued(Phase::Reduce) {
            return Some(self.hand_out(ctx, Phase::Reduce, task, worker, boot, false));
        }
        if self.settings.config.backups && !self.has(Bug::NoReassign) {
            let phase = if maps_finished {
                Phase::Reduce
            } else {
                Phase::Map
            };
            if let Some(task) = self.backup_candidate(phase, worker) {
                return Some(self.hand_out(ctx, phase, task, worker, boot, true));
            }
        }
        None
    }

    fn tasks(&self, phase: Phase) -> &[Task] {
        match phase {
            Phase::Map => &self.maps,
            Phase::Reduce => &self.reduces,
        }
    }

    fn first_queued(&self, phase: Phase) -> Option<usize> {
        self.tasks(phase)
            .iter()
            .position(|task| task.queued && task.done.is_none())
    }

    /// The running task of `phase` that has run longest with no backup, and
    /// none of whose copies is on `worker`.
    fn backup_candidate(&self, phase: Phase, worker: ProcessId) -> Option<usize> {
        self.tasks(phase)
            .iter()
            .enumerate()
            .filter(|(_, task)| {
                task.done.is_none()
                    && !task.running.is_empty()
                    && task.running.iter().all(|a| !a.backup && a.worker != worker)
            })
            .min_by_key(|(index, task)| (task.running[0].started, *index))
            .map(|(index, _)| index)
    }

    fn hand_out(
        &mut self,
        ctx: &mut Ctx<'_, MapReduce>,
        phase: Phase,
        task: usize,
        worker: ProcessId,
        boot: u64,
        backup: bool,
    ) -> Assignment {
        self.next_attempt += 1;
        let id = (self.epoch << 32) | self.next_attempt;
        let attempt = Attempt {
            id,
            worker,
            boot,
            started: ctx.now(),
            backup,
            timed_out: false,
        };
        let locations: Option<Rc<[Location]>> = (phase == Phase::Reduce).then(|| {
            self.maps
                .iter()
                .enumerate()
                .filter_map(|(map, task)| {
                    task.done.as_ref().map(|done| Location {
                        map,
                        worker: done.worker,
                        boot: done.boot,
                    })
                })
                .collect()
        });
        let entry = match phase {
            Phase::Map => &mut self.maps[task],
            Phase::Reduce => &mut self.reduces[task],
        };
        entry.queued = false;
        entry.running.push(attempt);
        self.journal.push(Note::Started {
            phase,
            task,
            attempt: id,
            worker,
            backup,
        });
        match locations {
            None => Assignment::Map { attempt: id, task },
            Some(locations) => Assignment::Reduce {
                attempt: id,
                partition: task,
                locations,
            },
        }
    }

    fn map_done(&mut self, ctx: &mut Ctx<'_, MapReduce>, attempt: AttemptId, task: usize) {
        let double = self.has(Bug::DoubleCommitLateCompletion);
        let entry = &mut self.maps[task];
        let Some(position) = entry.running.iter().position(|a| a.id == attempt) else {
            if entry.done.is_some() {
                ctx.sometimes(Point::LateCompletionIgnored);
            }
            return;
        };
        let finished = entry.running.remove(position);
        if entry.done.is_some() && !double {
            ctx.sometimes(Point::LateCompletionIgnored);
            return;
        }
        if finished.backup {
            ctx.sometimes(Point::BackupWon);
        }
        if entry.done.is_none() {
            entry.done = Some(finished);
        }
        entry.queued = false;
        self.maps_done += 1;
        self.journal.push(Note::Committed {
            phase: Phase::Map,
            task,
            attempt,
        });
    }

    #[allow(clippy::too_many_arguments)]
    fn chunk(
        &mut self,
        ctx: &mut Ctx<'_, MapReduce>,
        from: ProcessId,
        attempt: AttemptId,
        partition: usize,
        index: u32,
        last: bool,
        bytes: &[u8],
    ) {
        if epoch_of(attempt) != self.epoch || partition >= self.reduces.len() {
            ctx.send(from, MrMsg::Forget { attempt });
            return;
        }
        let non_atomic = self.has(Bug::NonAtomicOutput);
        let upload = match self.uploads.get_mut(&attempt) {
            Some(upload) => upload,
            None if index == 0 => self.uploads.entry(attempt).or_insert_with(|| Upload {
                partition,
                next: 0,
                file: if non_atomic {
                    output_file(partition)
                } else {
                    temporary_file(partition, attempt)
                },
            }),
            // A chunk after the first of an upload this coordinator never
            // began (it already finished it, or restarted since): ack what
            // it would have acked, so the reducer moves on.
            None => {
                ctx.send(from, MrMsg::ChunkAck { attempt, index });
                return;
            }
        };
        if index < upload.next {
            // A duplicate or a retransmission of a stored chunk.
            ctx.send(from, MrMsg::ChunkAck { attempt, index });
            return;
        }
        if index > upload.next {
            return;
        }
        let file = upload.file.clone();
        if index == 0 {
            ctx.disk().write(&file, bytes);
        } else {
            ctx.disk().append(&file, bytes);
        }
        upload.next += 1;
        ctx.send(from, MrMsg::ChunkAck { attempt, index });
        if last {
            self.uploads.remove(&attempt);
            self.reduce_done(ctx, attempt, partition, &file);
        }
    }

    fn reduce_done(
        &mut self,
        ctx: &mut Ctx<'_, MapReduce>,
        attempt: AttemptId,
        partition: usize,
        file: &str,
    ) {
        let double = self.has(Bug::DoubleCommitLateCompletion);
        let entry = &mut self.reduces[partition];
        let position = entry.running.iter().position(|a| a.id == attempt);
        let finished = position.map(|position| entry.running.remove(position));
        if entry.done.is_some() && !double {
            ctx.sometimes(Point::LateCompletionIgnored);
            ctx.disk().remove(file);
            return;
        }
        // Commit: the data durable first, then the rename, durable too.
        ctx.disk().sync();
        if file != output_file(partition) {
            ctx.disk().rename(file, &output_file(partition));
            ctx.disk().sync();
        }
        if finished.as_ref().is_some_and(|a| a.backup) && entry.done.is_none() {
            ctx.sometimes(Point::BackupWon);
        }
        if entry.done.is_none() {
            entry.done = Some(finished.unwrap_or(Attempt {
                id: attempt,
                worker: COORDINATOR,
                boot: 0,
                started: 0,
                backup: false,
                timed_out: false,
            }));
        }
        entry.queued = false;
        entry.running.clear();
        self.reduces_done += 1;
        self.journal.push(Note::Committed {
            phase: Phase::Reduce,
            task: partition,
            attempt,
        });
        // Other attempts' partial uploads of this partition are garbage.
        let stale: Vec<AttemptId> = self
            .uploads
            .iter()
            .filter(|(_, upload)| upload.partition == partition)
            .map(|(attempt, _)| *attempt)
            .collect();
        for other in stale {
            let upload = self.uploads.remove(&other).expect("listed");
            if upload.file != output_file(partition) {
                ctx.disk().remove(&upload.file);
            }
        }
        if self.reduces_done >= self.reduces.len() {
            self.finish();
        }
    }
}
