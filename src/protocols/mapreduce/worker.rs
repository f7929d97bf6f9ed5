//! A worker: asks for tasks, runs maps onto its own disk, serves their output
//! to reducers, runs reduces and streams their output to the coordinator.

use super::apps;
use super::{
    Assignment, AttemptId, COORDINATOR, Location, MapReduce, MapReducePoint as Point, MrMsg,
    MrTimer, Phase, Settings, next_generation,
};
use crate::sim::crc32c::{frame, unframe};
use crate::sim::time::Duration;
use crate::sim::{Ctx, ProcessId, TimerId};
use std::rc::Rc;

/// The intermediate file of map `map` for partition `r`.
fn intermediate_file(map: usize, r: usize) -> String {
    format!("mr-{map}-{r}")
}

/// What a worker is doing.
#[derive(Clone, Debug)]
enum Job {
    /// Waiting for work.
    Idle,
    /// Running a map; its output is ready when the work is done.
    Map {
        attempt: AttemptId,
        task: usize,
        output: Vec<Vec<u8>>,
    },
    /// Gathering a reduce's input.
    Fetch {
        attempt: AttemptId,
        partition: usize,
        locations: Rc<[Location]>,
        got: Vec<Option<Rc<[u8]>>>,
        round: u32,
    },
    /// Running a reduce over its input.
    Reduce {
        attempt: AttemptId,
        partition: usize,
        output: Vec<u8>,
    },
    /// Sending a reduce's output.
    Upload {
        attempt: AttemptId,
        partition: usize,
        chunks: Vec<Rc<[u8]>>,
        next: u32,
    },
    /// The job is over.
    Exited,
}

/// A worker node.
#[derive(Clone, Debug)]
pub struct Worker {
    settings: Rc<Settings>,
    boot: u64,
    job: Job,
    /// The pending ask timer (one at a time).
    ask_timer: Option<TimerId>,
}

impl Worker {
    /// A worker, not started.
    pub fn new(settings: Rc<Settings>) -> Self {
        Worker {
            settings,
            boot: 0,
            job: Job::Idle,
            ask_timer: None,
        }
    }

    /// The phase of the task it is working on (fetching, reducing and
    /// uploading count as reduce), if any.
    pub fn working_on(&self) -> Option<(Phase, usize)> {
        match &self.job {
            Job::Map { task, .. } => Some((Phase::Map, *task)),
            Job::Fetch { partition, .. }
            | Job::Reduce { partition, .. }
            | Job::Upload { partition, .. } => Some((Phase::Reduce, *partition)),
            Job::Idle | Job::Exited => None,
        }
    }

    /// Whether it was told the job is over.
    pub fn exited(&self) -> bool {
        matches!(self.job, Job::Exited)
    }

    /// This start's boot number.
    pub fn boot(&self) -> u64 {
        self.boot
    }

    fn work_time(&self, ctx: &mut Ctx<'_, MapReduce>, base: Duration) -> Duration {
        Duration((base.0 as f64 * ctx.slowdown()).round() as u64)
    }

    pub(super) fn on_start(&mut self, ctx: &mut Ctx<'_, MapReduce>) {
        self.boot = next_generation(ctx, "boot");
        // A restarted worker's scratch space is cleared: the coordinator
        // re-runs whatever lived there.
        let scratch: Vec<String> = ctx
            .disk()
            .files()
            .filter(|file| file.starts_with("mr-"))
            .map(str::to_string)
            .collect();
        for file in &scratch {
            ctx.disk().remove(file);
        }
        if !scratch.is_empty() {
            ctx.disk().sync();
        }
        self.ask(ctx);
    }

    fn ask(&mut self, ctx: &mut Ctx<'_, MapReduce>) {
        ctx.send(COORDINATOR, MrMsg::Ask { boot: self.boot });
        let interval = self.settings.config.ask_interval;
        if let Some(timer) = self.ask_timer.take() {
            ctx.cancel_timer(timer);
        }
        self.ask_timer = Some(ctx.set_timer(interval, interval, MrTimer::Ask));
    }

    fn become_idle(&mut self, ctx: &mut Ctx<'_, MapReduce>) {
        self.job = Job::Idle;
        self.ask(ctx);
    }

    fn attempt(&self) -> Option<AttemptId> {
        match &self.job {
            Job::Map { attempt, .. }
            | Job::Fetch { attempt, .. }
            | Job::Reduce { attempt, .. }
            | Job::Upload { attempt, .. } => Some(*attempt),
            Job::Idle | Job::Exited => None,
        }
    }

    pub(super) fn on_message(&mut self, ctx: &mut Ctx<'_, MapReduce>, from: ProcessId, msg: MrMsg) {
        match msg {
            MrMsg::Assign(assignment) => {
                if matches!(self.job, Job::Idle) {
                    self.start(ctx, assignment);
                }
            }
            MrMsg::Wait => {}
            MrMsg::Exit => self.job = Job::Exited,
            MrMsg::Fetch {
                map,
                partition,
                boot,
            } => self.serve(ctx, from, map, partition, boot),
            MrMsg::Fetched {
                map,
                partition,
                boot,
                data,
            } => self.fetched(ctx, map, partition, boot, data),
            MrMsg::ChunkAck { attempt, index } => self.acked(ctx, attempt, index),
            MrMsg::Forget { attempt } if self.attempt() == Some(attempt) => {
                ctx.sometimes(Point::AttemptForgotten);
                self.become_idle(ctx);
            }
            _ => {}
        }
    }

    fn start(&mut self, ctx: &mut Ctx<'_, MapReduce>, assignment: Assignment) {
        let app = self.settings.config.app;
        match assignment {
            Assignment::Map { attempt, task } => {
                let Some(split) = self.settings.splits.get(task) else {
                    return;
                };
                let output = apps::intermediate(app, split, self.settings.reduces());
                let time = self.work_time(ctx, self.settings.config.map_time);
                ctx.set_timer(time, time, MrTimer::WorkDone(attempt));
                self.job = Job::Map {
                    attempt,
                    task,
                    output,
                };
            }
            Assignment::Reduce {
                attempt,
                partition,
                locations,
            } => {
                let got = vec![None; locations.len()];
                self.job = Job::Fetch {
                    attempt,
                    partition,
                    locations,
                    got,
                    round: 0,
                };
                self.fetch_round(ctx);
            }
        }
    }

    /// Asks every map worker whose output is still missing for it.
    fn fetch_round(&mut self, ctx: &mut Ctx<'_, MapReduce>) {
        let Job::Fetch {
            attempt,
            partition,
            locations,
            got,
            round,
        } = &self.job
        else {
            return;
        };
        let (attempt, partition, round) = (*attempt, *partition, *round);
        let missing: Vec<Location> = locations
            .iter()
            .zip(got)
            .filter(|(_, got)| got.is_none())
            .map(|(location, _)| *location)
            .collect();
        for location in missing {
            ctx.send(
                location.worker,
                MrMsg::Fetch {
                    map: location.map,
                    partition,
                    boot: location.boot,
                },
            );
        }
        let timeout = self.settings.config.fetch_timeout;
        ctx.set_timer(timeout, timeout, MrTimer::FetchRound(attempt, round));
        self.check_fetched(ctx);
    }

    /// Answers a reducer's fetch from this worker's disk.
    fn serve(
        &mut self,
        ctx: &mut Ctx<'_, MapReduce>,
        from: ProcessId,
        map: usize,
        partition: usize,
        boot: u64,
    ) {
        let data = if boot != self.boot {
            None
        } else {
            let file = intermediate_file(map, partition);
            if !ctx.disk().contains(&file) {
                None
            } else {
                // An injected read error: no answer; the reducer asks again.
                let Ok(bytes) = ctx.disk().read(&file) else {
                    return;
                };
                let (records, problem) = unframe(bytes);
                match (records.as_slice(), problem) {
                    ([payload], None) => Some(Rc::<[u8]>::from(*payload)),
                    _ => {
                        ctx.sometimes(Point::IntermediateDamaged);
                        None
                    }
                }
            }
        };
        ctx.send(
            from,
            MrMsg::Fetched {
                map,
                partition,
                boot,
                data,
            },
        );
    }

    fn fetched(
        &mut self,
        ctx: &mut Ctx<'_, MapReduce>,
        map: usize,
        from_partition: usize,
        boot: u64,
        data: Option<Rc<[u8]>>,
    ) {
        let Job::Fetch {
            attempt,
            partition,
            locations,
            got,
            ..
        } = &mut self.job
        else {
            return;
        };
        if *partition != from_partition {
            return;
        }
        let Some(index) = locations
            .iter()
            .position(|location| location.map == map && location.boot == boot)
        else {
            return;
        };
        match data {
            Some(data) => {
                got[index] = Some(data);
                self.check_fetched(ctx);
            }
            None => {
                let (attempt, partition, location) = (*attempt, *partition, locations[index]);
                self.fetch_failed(ctx, attempt, partition, location);
            }
        }
    }

    fn fetch_failed(
        &mut self,
        ctx: &mut Ctx<'_, MapReduce>,
        attempt: AttemptId,
        partition: usize,
        location: Location,
    ) {
        ctx.sometimes(Point::FetchFailed);
        ctx.send(
            COORDINATOR,
            MrMsg::FetchFailed {
                attempt,
                partition,
                location,
                boot: self.boot,
            },
        );
        self.become_idle(ctx);
    }

    /// Once every input is in, runs the reduce.
    fn check_fetched(&mut self, ctx: &mut Ctx<'_, MapReduce>) {
        let Job::Fetch {
            attempt,
            partition,
            got,
            ..
        } = &self.job
        else {
            return;
        };
        if got.iter().any(Option::is_none) {
            return;
        }
        let inputs: Vec<&[u8]> = got.iter().flatten().map(|data| &data[..]).collect();
        let (attempt, partition) = (*attempt, *partition);
        // An intermediate file that passed its CRC is well formed (the map
        // wrote it); were it not, the reduce would fail like a crash.
        let Some(output) = apps::reduce_partition(self.settings.config.app, &inputs) else {
            self.become_idle(ctx);
            return;
        };
        let time = self.work_time(ctx, self.settings.config.reduce_time);
        ctx.set_timer(time, time, MrTimer::WorkDone(attempt));
        self.job = Job::Reduce {
            attempt,
            partition,
            output,
        };
    }

    fn acked(&mut self, ctx: &mut Ctx<'_, MapReduce>, acked: AttemptId, index: u32) {
        let Job::Upload {
            attempt,
            chunks,
            next,
            ..
        } = &mut self.job
        else {
            return;
        };
        if *attempt != acked || index != *next {
            return;
        }
        *next += 1;
        if *next as usize >= chunks.len() {
            self.become_idle(ctx);
        } else {
            self.send_chunk(ctx);
        }
    }

    fn send_chunk(&mut self, ctx: &mut Ctx<'_, MapReduce>) {
        let Job::Upload {
            attempt,
            partition,
            chunks,
            next,
        } = &self.job
        else {
            return;
        };
        let index = *next;
        let msg = MrMsg::Chunk {
            attempt: *attempt,
            partition: *partition,
            index,
            last: index as usize + 1 == chunks.len(),
            bytes: chunks[index as usize].clone(),
        };
        let attempt = *attempt;
        ctx.send(COORDINATOR, msg);
        let timeout = self.settings.config.chunk_timeout;
        ctx.set_timer(timeout, timeout, MrTimer::ChunkTimeout(attempt, index));
    }

    pub(super) fn on_timer(&mut self, ctx: &mut Ctx<'_, MapReduce>, timer: MrTimer) {
        match timer {
            MrTimer::Ask => {
                self.ask_timer = None;
                if matches!(self.job, Job::Idle) {
                    self.ask(ctx);
                }
            }
            MrTimer::WorkDone(done) if self.attempt() == Some(done) => {
                match std::mem::replace(&mut self.job, Job::Idle) {
                    Job::Map {
                        attempt,
                        task,
                        output,
                    } => {
                        for (r, data) in output.iter().enumerate() {
                            let mut framed = Vec::with_capacity(data.len() + 8);
                            frame(data, &mut framed);
                            ctx.disk().write(&intermediate_file(task, r), framed);
                        }
                        ctx.send(
                            COORDINATOR,
                            MrMsg::MapDone {
                                attempt,
                                task,
                                boot: self.boot,
                            },
                        );
                        self.become_idle(ctx);
                    }
                    Job::Reduce {
                        attempt,
                        partition,
                        output,
                    } => {
                        let chunks = chunks(&output, self.settings.config.chunk_lines);
                        self.job = Job::Upload {
                            attempt,
                            partition,
                            chunks,
                            next: 0,
                        };
                        self.send_chunk(ctx);
                    }
                    other => self.job = other,
                }
            }
            MrTimer::FetchRound(attempt, round) => {
                let Job::Fetch {
                    attempt: current,
                    partition,
                    locations,
                    got,
                    round: current_round,
                } = &mut self.job
                else {
                    return;
                };
                if *current != attempt || *current_round != round {
                    return;
                }
                if round + 1 >= self.settings.config.fetch_retries.max(1) {
                    let location = locations
                        .iter()
                        .zip(got.iter())
                        .find(|(_, got)| got.is_none())
                        .map(|(location, _)| *location);
                    if let Some(location) = location {
                        let partition = *partition;
                        self.fetch_failed(ctx, attempt, partition, location);
                    }
                    return;
                }
                *current_round += 1;
                self.fetch_round(ctx);
            }
            MrTimer::ChunkTimeout(attempt, index) => {
                if let Job::Upload {
                    attempt: current,
                    next,
                    ..
                } = &self.job
                    && *current == attempt
                    && *next == index
                {
                    ctx.sometimes(Point::ChunkRetransmitted);
                    self.send_chunk(ctx);
                }
            }
            _ => {}
        }
    }
}

/// A reduce's output cut into chunks of at most `lines` lines (at least one
/// chunk, empty when the output is).
fn chunks(output: &[u8], lines: usize) -> Vec<Rc<[u8]>> {
    let lines = lines.max(1);
    let mut chunks = Vec::new();
    let mut start = 0;
    let mut count = 0;
    for (i, &byte) in output.iter().enumerate() {
        if byte == b'\n' {
            count += 1;
            if count == lines {
                chunks.push(Rc::from(&output[start..=i]));
                start = i + 1;
                count = 0;
            }
        }
    }
    if start < output.len() || chunks.is_empty() {
        chunks.push(Rc::from(&output[start..]));
    }
    chunks
}

#[cfg(test)]
mod tests {
    use super::chunks;

    #[test]
    fn chunks_cut_at_line_ends_and_rejoin() {
        let out = b"a 1\nb 2\nc 3\n";
        let cut = chunks(out, 2);
        assert_eq!(cut.len(), 2);
        assert_eq!(&*cut[0], b"a 1\nb 2\n");
        assert_eq!(cut.concat(), out);
        assert_eq!(chunks(b"", 5).len(), 1);
        assert_eq!(chunks(out, 3).len(), 1);
    }
}
