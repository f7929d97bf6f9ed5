//! `mapreduce`: a MapReduce coordinator and workers that crash, pause and
//! straggle, whose output must equal a sequential run (issue 19).
//!
//! # The system
//!
//! Node 0 is the **coordinator** (the lab's `mrcoordinator`, and the paper's
//! master); nodes 1.. are **workers**. Faults reach them by group:
//! `@coordinator`, `@workers`. There are no clients: the job starts when the
//! run does.
//!
//! - The input is `inputs` splits of text generated from `text_seed`
//!   ([`apps`]). The coordinator hands out one **map task** per split; a
//!   worker runs the application's map function on it, writes one
//!   intermediate file per reduce partition (`mr-M-R`, CRC32C framed) to its
//!   **own disk**, unsynced scratch that a crash loses (a restarted worker
//!   clears its scratch too), and reports.
//! - Once every map is done, the coordinator hands out the `reduces` **reduce
//!   tasks**, each with the location (worker and boot) of every map's output.
//!   The reduce worker fetches its partition of each, checks the frame, runs
//!   the reduce function over the sorted keys and streams its output to the
//!   coordinator in chunks (stop and wait, retransmitted).
//! - The coordinator's disk is the job's **output file system** (the lab's
//!   shared directory, the paper's GFS). It appends the chunks of one attempt
//!   to a temporary file `mr-tmp-R-A`, and on the last chunk syncs it and
//!   **renames it atomically** to `mr-out-R`. A reader never sees a partial
//!   output, and a late duplicate completion commits nothing twice. The output
//!   store is assumed reliable storage, as GFS is (replicated): campaigns put
//!   disk faults on `@workers` only.
//! - **Failures.** Every message a worker sends carries its boot number (kept
//!   on its disk). A worker that comes back with a new boot has lost its
//!   running task and its map outputs: the coordinator puts them back in the
//!   queue, so a *finished* map on a crashed worker is re-executed while any
//!   reduce still needs it (the paper's §3.3). A reducer that cannot fetch an
//!   output (its worker restarted, the file is damaged, or it does not answer
//!   within `fetch_retries` rounds) reports it; the coordinator re-executes
//!   that map and the reduce is handed out again. A task not reported within
//!   `task_timeout` (the lab's 10 s) is handed to another worker too, and the
//!   first completion wins.
//! - **Backup tasks** (`backups = true`, the paper's §3.6): once no task of the
//!   phase is waiting, a worker asking for work gets a backup copy of the
//!   longest-running task that has none. Whichever copy finishes first wins;
//!   the other's completion is ignored.
//! - **The coordinator's own restart.** The committed outputs are its durable
//!   state: the rename is the commit record. A restarted coordinator starts a
//!   new epoch (kept on its disk; attempts of an older epoch are refused),
//!   finds the `mr-out-R` files already there, removes the temporary files,
//!   and re-runs every map (map completions are not logged: their outputs
//!   live on workers it can no longer vouch for) and every reduce not yet
//!   committed. A finished reduce is never redone.
//!
//! # What is checked ([`checker`])
//!
//! The committed output equals the sequential run of the same application on
//! the same input, partition by partition; every `mr-out-R` file is, whenever
//! it is visible, exactly the partition's final output (the lab's early-exit
//! test: nothing partial is ever visible); each reduce partition is committed
//! once and a map at most once per loss of its output; the job is done by the
//! end of the liveness window; with no faults and no backups each task ran
//! exactly once (the lab's job count); and, when a scenario asks, maps or
//! reduces really ran on different workers at the same time (the lab's map
//! and reduce parallelism tests).

pub mod apps;
pub mod checker;
pub mod coordinator;
pub mod experiment;
mod spec;
pub mod worker;

pub use checker::MapReduceChecker;
pub use coordinator::Coordinator;
pub use worker::Worker;

use crate::sim::time::Duration;
use crate::sim::{Ctx, Node, ProcessId, Protocol, Status};
use apps::Split;
use serde::{Deserialize, Serialize};
use std::rc::Rc;

/// The MapReduce protocol's types.
#[derive(Clone, Copy, Debug)]
pub struct MapReduce;

crate::declare! {
    /// Planted bugs (`bugs = [...]` in the `[protocol]` table).
    pub enum MapReduceBug {
        /// A task whose worker crashed or timed out is never handed out
        /// again (nor backed up): the job hangs.
        NoReassign = "no_reassign",
        /// The coordinator counts a late duplicate completion of a task it
        /// has already committed as another task done: the phase (and the
        /// job) ends while a task is still missing.
        DoubleCommitLateCompletion = "double_commit_late_completion",
        /// Reduce tasks are handed out as soon as no map task is waiting,
        /// before every map has finished: a reduce reads only the maps done
        /// so far.
        ReduceBeforeMapsDone = "reduce_before_maps_done",
        /// The coordinator writes each reduce's chunks straight into
        /// `mr-out-R` instead of a temporary file it renames: a reader sees a
        /// partial output.
        NonAtomicOutput = "non_atomic_output",
        /// A finished map whose worker crashed (or whose output a reducer
        /// could not fetch) is not re-executed: the reduces that need it
        /// never get it.
        KeepLostMapOutput = "keep_lost_map_output",
    }
}

crate::declare! {
    /// The situations a MapReduce job must be tested in (*sometimes* points).
    pub enum MapReducePoint {
        /// A finished map's output was lost with its worker (or could not be
        /// fetched) and the map was queued to run again.
        MapReexecuted = "mapreduce_finished_map_reexecuted",
        /// A backup task finished before its primary and its output was the
        /// one committed.
        BackupWon = "mapreduce_backup_won",
        /// A completion of a task already committed arrived and was ignored.
        LateCompletionIgnored = "mapreduce_late_completion_ignored",
        /// A task not reported within `task_timeout` was handed out again.
        TaskTimedOut = "mapreduce_task_timed_out",
        /// A reducer could not fetch a map's output and reported it.
        FetchFailed = "mapreduce_fetch_failed",
        /// An intermediate file failed its CRC check when a reducer fetched it.
        IntermediateDamaged = "mapreduce_intermediate_damaged",
        /// A restarted coordinator found committed outputs on its disk and
        /// kept them.
        OutputRecovered = "mapreduce_output_recovered",
        /// A reducer retransmitted an output chunk.
        ChunkRetransmitted = "mapreduce_chunk_retransmitted",
        /// A message from an earlier boot of a worker (sent before it
        /// restarted) reached the coordinator and was ignored.
        StaleBootIgnored = "mapreduce_stale_worker_message_ignored",
        /// The coordinator learnt that a worker restarted and took its
        /// tasks back.
        WorkerRestartNoticed = "mapreduce_worker_restart_noticed",
        /// A worker was told about an attempt the coordinator does not know
        /// (an older epoch) and dropped it.
        AttemptForgotten = "mapreduce_attempt_forgotten",
    }
}

/// The application (`app = "..."`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum App {
    /// Word count: each word and how many times it occurs.
    #[default]
    Wc,
    /// Inverted index: each word, the number of inputs holding it and their
    /// names.
    Indexer,
}

/// A phase of the job.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Map tasks.
    Map,
    /// Reduce tasks.
    Reduce,
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Phase::Map => "map",
            Phase::Reduce => "reduce",
        })
    }
}

fn default_inputs() -> usize {
    8
}
fn default_words() -> usize {
    2000
}
fn default_vocabulary() -> usize {
    1000
}
fn default_text_seed() -> u64 {
    1
}
fn default_reduces() -> usize {
    10
}
fn default_map_time() -> Duration {
    Duration::from_millis(1000)
}
fn default_reduce_time() -> Duration {
    Duration::from_millis(1000)
}
fn default_task_timeout() -> Duration {
    Duration::from_secs(10)
}
fn default_ask_interval() -> Duration {
    Duration::from_millis(500)
}
fn default_fetch_timeout() -> Duration {
    Duration::from_millis(500)
}
fn default_fetch_retries() -> u32 {
    3
}
fn default_chunk_lines() -> usize {
    100
}
fn default_chunk_timeout() -> Duration {
    Duration::from_millis(300)
}

/// The `[protocol]` table for `name = "mapreduce"`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MapReduceConfig {
    /// Always `"mapreduce"`.
    pub name: String,
    /// Planted bugs. Default none.
    #[serde(default)]
    pub bugs: Vec<MapReduceBug>,
    /// The application. Default `"wc"`.
    #[serde(default)]
    pub app: App,
    /// Input splits, one map task each. Default 8.
    #[serde(default = "default_inputs")]
    pub inputs: usize,
    /// Words per split. Default 2000.
    #[serde(default = "default_words")]
    pub words: usize,
    /// Distinct words the text draws from (Zipf). Default 1000.
    #[serde(default = "default_vocabulary")]
    pub vocabulary: usize,
    /// Seed of the generated text (the input does not vary with the run's
    /// seed: fuzzing varies faults and timing, not the data). Default 1.
    #[serde(default = "default_text_seed")]
    pub text_seed: u64,
    /// Reduce partitions (the lab's nReduce). Default 10.
    #[serde(default = "default_reduces")]
    pub reduces: usize,
    /// How long a map task works, times the worker's slowdown. Default `"1s"`.
    #[serde(default = "default_map_time")]
    pub map_time: Duration,
    /// How long a reduce task works once it has its input, times the
    /// worker's slowdown. Default `"1s"`.
    #[serde(default = "default_reduce_time")]
    pub reduce_time: Duration,
    /// A task not reported within this is handed to another worker (the
    /// lab's 10 s). Default `"10s"`.
    #[serde(
        default = "default_task_timeout",
        deserialize_with = "crate::sim::time::positive"
    )]
    pub task_timeout: Duration,
    /// Backup copies of the tasks still running once none is waiting.
    /// Default false (the lab has none).
    #[serde(default)]
    pub backups: bool,
    /// How often an idle worker asks for work. Default `"500ms"`.
    #[serde(
        default = "default_ask_interval",
        deserialize_with = "crate::sim::time::positive"
    )]
    pub ask_interval: Duration,
    /// How long a reducer waits for a map output before asking again.
    /// Default `"500ms"`.
    #[serde(
        default = "default_fetch_timeout",
        deserialize_with = "crate::sim::time::positive"
    )]
    pub fetch_timeout: Duration,
    /// Rounds of fetching a missing output before reporting it lost.
    /// Default 3.
    #[serde(default = "default_fetch_retries")]
    pub fetch_retries: u32,
    /// Output lines per chunk a reducer sends. Default 100.
    #[serde(default = "default_chunk_lines")]
    pub chunk_lines: usize,
    /// How long a reducer waits for a chunk's acknowledgement before
    /// sending it again. Default `"300ms"`.
    #[serde(
        default = "default_chunk_timeout",
        deserialize_with = "crate::sim::time::positive"
    )]
    pub chunk_timeout: Duration,
    /// Phases whose tasks must be seen running on two workers at once (the
    /// lab's map and reduce parallelism tests). Default none.
    #[serde(default)]
    pub require_parallel: Vec<Phase>,
}

impl MapReduceConfig {
    /// Whether planted bug `bug` is on.
    pub fn has(&self, bug: MapReduceBug) -> bool {
        self.bugs.contains(&bug)
    }
}

/// What every node and the checker share: the configuration, the input and
/// the shape of the cluster.
#[derive(Debug)]
pub struct Settings {
    /// The `[protocol]` table.
    pub config: MapReduceConfig,
    /// The input splits.
    pub splits: Vec<Split>,
    /// Server nodes (the coordinator and the workers).
    pub nodes: usize,
}

impl Settings {
    /// The settings of a run with `nodes` nodes.
    pub fn new(config: MapReduceConfig, nodes: usize) -> Self {
        let splits = apps::generate(
            config.text_seed,
            config.inputs,
            config.words,
            config.vocabulary,
        );
        Settings {
            config,
            splits,
            nodes,
        }
    }

    /// Map tasks.
    pub fn maps(&self) -> usize {
        self.splits.len()
    }

    /// Reduce tasks.
    pub fn reduces(&self) -> usize {
        self.config.reduces
    }

    /// The worker node ids.
    pub fn workers(&self) -> std::ops::Range<usize> {
        1..self.nodes
    }
}

/// The coordinator's node id.
pub const COORDINATOR: ProcessId = 0;

/// An attempt at a task: unique in the run (the coordinator's epoch in the
/// high 32 bits, a counter below).
pub type AttemptId = u64;

/// The epoch an attempt was handed out in.
pub fn epoch_of(attempt: AttemptId) -> u64 {
    attempt >> 32
}

/// Where a finished map's output lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Location {
    /// The map task.
    pub map: usize,
    /// The worker holding its intermediate files.
    pub worker: ProcessId,
    /// That worker's boot when it wrote them.
    pub boot: u64,
}

/// A task handed to a worker.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Assignment {
    /// Run map task `task`.
    Map {
        /// The attempt.
        attempt: AttemptId,
        /// The map task (input split).
        task: usize,
    },
    /// Run reduce partition `partition` over these map outputs.
    Reduce {
        /// The attempt.
        attempt: AttemptId,
        /// The partition.
        partition: usize,
        /// Where every map's output is.
        locations: Rc<[Location]>,
    },
}

/// Messages.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum MrMsg {
    /// Worker → coordinator: give me work.
    Ask {
        /// The worker's boot.
        boot: u64,
    },
    /// Coordinator → worker: a task.
    Assign(Assignment),
    /// Coordinator → worker: nothing to do now; ask again later.
    Wait,
    /// Coordinator → worker: the job is done; stop.
    Exit,
    /// Worker → coordinator: a map finished; its output is on my disk.
    MapDone {
        /// The attempt.
        attempt: AttemptId,
        /// The map task.
        task: usize,
        /// The worker's boot.
        boot: u64,
    },
    /// Reducer → map worker: send me partition `partition` of map `map`.
    Fetch {
        /// The map.
        map: usize,
        /// The partition.
        partition: usize,
        /// The boot the reducer was told the output was written in.
        boot: u64,
    },
    /// Map worker → reducer: the intermediate data, or `None` if this worker
    /// does not hold it (it restarted since, or the file is damaged).
    Fetched {
        /// The map.
        map: usize,
        /// The partition.
        partition: usize,
        /// The boot asked for.
        boot: u64,
        /// The data.
        data: Option<Rc<[u8]>>,
    },
    /// Reducer → coordinator: I could not fetch this map's output, and gave
    /// up the reduce attempt.
    FetchFailed {
        /// The reduce attempt.
        attempt: AttemptId,
        /// Its partition.
        partition: usize,
        /// The output it could not get.
        location: Location,
        /// The reducer's boot.
        boot: u64,
    },
    /// Reducer → coordinator: chunk `index` of a reduce attempt's output.
    Chunk {
        /// The attempt.
        attempt: AttemptId,
        /// The partition.
        partition: usize,
        /// Chunk number, from 0.
        index: u32,
        /// Whether this is the last chunk.
        last: bool,
        /// The output lines.
        bytes: Rc<[u8]>,
    },
    /// Coordinator → reducer: chunks up to `index` are stored.
    ChunkAck {
        /// The attempt.
        attempt: AttemptId,
        /// The chunk.
        index: u32,
    },
    /// Coordinator → worker: I do not know this attempt (it is from an
    /// earlier epoch of mine); drop it.
    Forget {
        /// The attempt.
        attempt: AttemptId,
    },
}

/// Timers.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum MrTimer {
    /// Coordinator: look for tasks past their timeout.
    Sweep,
    /// Worker: ask for work.
    Ask,
    /// Worker: the attempt's work is finished.
    WorkDone(AttemptId),
    /// Worker: fetch round `round` of a reduce attempt is over.
    FetchRound(AttemptId, u32),
    /// Worker: chunk `index` of an attempt was not acknowledged in time.
    ChunkTimeout(AttemptId, u32),
}

impl Protocol for MapReduce {
    type Msg = MrMsg;
    type Timer = MrTimer;
    type Node = MrNode;
    type Client = MrClient;

    fn is_reply(msg: &MrMsg) -> bool {
        matches!(
            msg,
            MrMsg::Assign(_)
                | MrMsg::Wait
                | MrMsg::Exit
                | MrMsg::Fetched { .. }
                | MrMsg::ChunkAck { .. }
                | MrMsg::Forget { .. }
        )
    }
}

/// MapReduce has no clients: the job starts with the run. Clients a scenario
/// asks for do nothing.
#[derive(Clone, Debug)]
pub struct MrClient;

impl crate::sim::Client<MapReduce> for MrClient {
    fn on_start(&mut self, _ctx: &mut Ctx<'_, MapReduce>) {}
    fn on_message(&mut self, _ctx: &mut Ctx<'_, MapReduce>, _from: ProcessId, _msg: MrMsg) {}
    fn on_timer(&mut self, _ctx: &mut Ctx<'_, MapReduce>, _timer: MrTimer) {}
}

/// A node: the coordinator or a worker.
#[derive(Clone, Debug)]
pub enum MrNode {
    /// The coordinator (node 0).
    Coordinator(Box<Coordinator>),
    /// A worker.
    Worker(Box<Worker>),
}

impl MrNode {
    /// Node `id` of a run.
    pub fn new(settings: &Rc<Settings>, id: ProcessId) -> Self {
        if id == COORDINATOR {
            MrNode::Coordinator(Box::new(Coordinator::new(settings.clone())))
        } else {
            MrNode::Worker(Box::new(Worker::new(settings.clone())))
        }
    }

    /// The coordinator, if this is it.
    pub fn as_coordinator(&self) -> Option<&Coordinator> {
        match self {
            MrNode::Coordinator(coordinator) => Some(coordinator),
            MrNode::Worker(_) => None,
        }
    }

    /// The worker, if this is one.
    pub fn as_worker(&self) -> Option<&Worker> {
        match self {
            MrNode::Worker(worker) => Some(worker),
            MrNode::Coordinator(_) => None,
        }
    }
}

impl Node<MapReduce> for MrNode {
    fn on_start(&mut self, ctx: &mut Ctx<'_, MapReduce>) {
        match self {
            MrNode::Coordinator(coordinator) => coordinator.on_start(ctx),
            MrNode::Worker(worker) => worker.on_start(ctx),
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, MapReduce>, from: ProcessId, msg: MrMsg) {
        match self {
            MrNode::Coordinator(coordinator) => coordinator.on_message(ctx, from, msg),
            MrNode::Worker(worker) => worker.on_message(ctx, from, msg),
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, MapReduce>, timer: MrTimer) {
        match self {
            MrNode::Coordinator(coordinator) => coordinator.on_timer(ctx, timer),
            MrNode::Worker(worker) => worker.on_timer(ctx, timer),
        }
    }

    fn status(&self) -> Status {
        Status::default()
    }
}

pub use crate::protocols::durable::next_generation;
