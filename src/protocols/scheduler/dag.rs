//! The job: a DAG of tasks with durations, priorities and dependencies, read
//! from the scenario or drawn from a seed, checked (no cycle, no missing
//! dependency), and what the scheduler and its checker compute from it:
//! priorities, the critical path, the sequential outputs, and a reference
//! list schedule.

use super::{RandomDag, SchedulerConfig, Strategy};
use crate::sim::rng::stream;
use crate::spec::Invalid;
use rand::Rng as _;
use std::collections::BTreeMap;

/// The most tasks a job may have.
pub const MAX_TASKS: usize = 100_000;

/// One task of the job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Task {
    /// Its name.
    pub name: String,
    /// How long it works (ns), before the worker's slowdown.
    pub duration: u64,
    /// Its priority as written (used by `strategy = "list"`).
    pub priority: i64,
    /// The tasks it needs, by index.
    pub deps: Vec<usize>,
    /// The tasks that need it, by index, in increasing order.
    pub dependants: Vec<usize>,
}

/// A checked job: acyclic, every dependency a task of it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Dag {
    /// The tasks, in the file's order.
    pub tasks: Vec<Task>,
    /// A topological order (dependencies first).
    pub order: Vec<usize>,
}

/// The output of task `task` (named `name`) run on its dependencies'
/// outputs `inputs`: a hash, so a task run on a missing or wrong input gives
/// a different output.
pub fn output(name: &str, inputs: &[u64]) -> u64 {
    let mut state = crate::sim::rng::name_hash(name);
    for &input in inputs {
        state ^= input;
        state = crate::sim::rng::splitmix64(&mut state);
    }
    crate::sim::rng::splitmix64(&mut state)
}

impl Dag {
    /// Tasks.
    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    /// Whether the job has no task.
    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    /// The durations as written (ns).
    pub fn durations(&self) -> Vec<u64> {
        self.tasks.iter().map(|task| task.duration).collect()
    }

    /// Each task's bottom level under `durations`: the longest path from it
    /// to the end of the job, its own duration included.
    pub fn bottom_levels(&self, durations: &[u64]) -> Vec<u64> {
        let mut level = vec![0u64; self.tasks.len()];
        for &i in self.order.iter().rev() {
            let after = self.tasks[i]
                .dependants
                .iter()
                .map(|&j| level[j])
                .max()
                .unwrap_or(0);
            level[i] = durations[i].saturating_add(after);
        }
        level
    }

    /// The length of the longest chain of dependencies under `durations`.
    pub fn critical_path(&self, durations: &[u64]) -> u64 {
        self.bottom_levels(durations).into_iter().max().unwrap_or(0)
    }

    /// Each task's priority under `strategy` (higher first).
    pub fn priorities(&self, strategy: Strategy) -> Vec<i64> {
        match strategy {
            Strategy::List => self.tasks.iter().map(|task| task.priority).collect(),
            Strategy::CriticalPath => self
                .bottom_levels(&self.durations())
                .into_iter()
                .map(|level| i64::try_from(level).unwrap_or(i64::MAX))
                .collect(),
        }
    }

    /// Every task's output in a sequential run.
    pub fn sequential_outputs(&self) -> Vec<u64> {
        let mut outputs = vec![0u64; self.tasks.len()];
        for &i in &self.order {
            let task = &self.tasks[i];
            let inputs: Vec<u64> = task.deps.iter().map(|&d| outputs[d]).collect();
            outputs[i] = output(&task.name, &inputs);
        }
        outputs
    }
}

/// Graham's list scheduling of `dag` on `machines` identical machines, with
/// these durations and priorities: whenever a machine is idle it takes the
/// best ready task (higher priority, then earlier ready, then earlier in the
/// file). Returns each task's start time and the makespan. A reference model
/// for the tests and the docs; the dispatcher is the real thing.
pub fn list_schedule(
    dag: &Dag,
    machines: usize,
    durations: &[u64],
    priorities: &[i64],
) -> (Vec<u64>, u64) {
    use std::cmp::Reverse;
    use std::collections::BTreeSet;
    let n = dag.tasks.len();
    let mut remaining: Vec<usize> = dag.tasks.iter().map(|task| task.deps.len()).collect();
    let mut arrival = 0u64;
    let mut ready: BTreeSet<(Reverse<i64>, u64, usize)> = BTreeSet::new();
    for (i, count) in remaining.iter().enumerate() {
        if *count == 0 {
            ready.insert((Reverse(priorities[i]), arrival, i));
            arrival += 1;
        }
    }
    // (finish time, task) of the running tasks.
    let mut running: BTreeSet<(u64, usize)> = BTreeSet::new();
    let mut start = vec![0u64; n];
    let mut now = 0u64;
    let mut makespan = 0u64;
    loop {
        while running.len() < machines.max(1) {
            let Some(first) = ready.pop_first() else {
                break;
            };
            let task = first.2;
            start[task] = now;
            running.insert((now + durations[task], task));
        }
        let Some(&(finish, _)) = running.first() else {
            break;
        };
        now = finish;
        makespan = makespan.max(finish);
        while let Some(&(at, task)) = running.first() {
            if at != now {
                break;
            }
            running.pop_first();
            for &j in &dag.tasks[task].dependants {
                remaining[j] -= 1;
                if remaining[j] == 0 {
                    ready.insert((Reverse(priorities[j]), arrival, j));
                    arrival += 1;
                }
            }
        }
    }
    (start, makespan)
}

fn task_key(index: usize, field: &str) -> String {
    format!("protocol.tasks[{index}].{field}")
}

/// The job a checked configuration describes, or where it is wrong.
pub fn build(config: &SchedulerConfig) -> Result<Dag, Invalid> {
    let tasks = match (&config.random, config.tasks.is_empty()) {
        (Some(_), false) => {
            return Err(Invalid::key(
                "protocol.random",
                "expected the job as either [[protocol.tasks]] or [protocol.random], got both",
            ));
        }
        (None, true) => {
            return Err(Invalid::key(
                "protocol.name",
                "expected the job's tasks: [[protocol.tasks]] entries, or a [protocol.random] table to draw them from",
            ));
        }
        (Some(random), true) => draw(random)?,
        (None, false) => written(config)?,
    };
    let order = topological_order(&tasks)?;
    Ok(Dag { tasks, order })
}

/// The tasks written out, with their dependencies resolved.
fn written(config: &SchedulerConfig) -> Result<Vec<Task>, Invalid> {
    if config.tasks.len() > MAX_TASKS {
        return Err(Invalid::key(
            "protocol.tasks",
            format!(
                "expected at most {MAX_TASKS} tasks, got {}",
                config.tasks.len()
            ),
        ));
    }
    let mut index: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, task) in config.tasks.iter().enumerate() {
        if task.name.is_empty() {
            return Err(Invalid::key(
                task_key(i, "name"),
                "expected a task name, got an empty string",
            ));
        }
        if let Some(earlier) = index.insert(&task.name, i) {
            return Err(Invalid::key(
                task_key(i, "name"),
                format!(
                    "expected each task name once, got {:?} again (first as task {})",
                    task.name,
                    earlier + 1
                ),
            ));
        }
        if task.duration.0 == 0 {
            return Err(Invalid::key(
                task_key(i, "duration"),
                format!(
                    "expected a positive duration for task {:?}, got 0",
                    task.name
                ),
            ));
        }
    }
    let mut tasks: Vec<Task> = Vec::with_capacity(config.tasks.len());
    for (i, task) in config.tasks.iter().enumerate() {
        let mut deps = Vec::with_capacity(task.deps.len());
        for dep in &task.deps {
            let Some(&d) = index.get(dep.as_str()) else {
                return Err(Invalid::key(
                    task_key(i, "deps"),
                    format!(
                        "task {:?} depends on {dep:?}, which is not a task of the job",
                        task.name
                    ),
                ));
            };
            if deps.contains(&d) {
                return Err(Invalid::key(
                    task_key(i, "deps"),
                    format!(
                        "expected each dependency of task {:?} once, got {dep:?} twice",
                        task.name
                    ),
                ));
            }
            deps.push(d);
        }
        tasks.push(Task {
            name: task.name.clone(),
            duration: task.duration.0,
            priority: task.priority,
            deps,
            dependants: Vec::new(),
        });
    }
    link(&mut tasks);
    Ok(tasks)
}

/// Fills in every task's dependants.
fn link(tasks: &mut [Task]) {
    for i in 0..tasks.len() {
        for k in 0..tasks[i].deps.len() {
            let d = tasks[i].deps[k];
            tasks[d].dependants.push(i);
        }
    }
}

/// A job drawn from `random`.
fn draw(random: &RandomDag) -> Result<Vec<Task>, Invalid> {
    if random.tasks == 0 || random.tasks > MAX_TASKS {
        return Err(Invalid::key(
            "protocol.random.tasks",
            format!(
                "expected between 1 and {MAX_TASKS} tasks, got {}",
                random.tasks
            ),
        ));
    }
    if random.min_duration.0 == 0 {
        return Err(Invalid::key(
            "protocol.random.min_duration",
            "expected a positive duration, got 0",
        ));
    }
    if random.max_duration < random.min_duration {
        return Err(Invalid::key(
            "protocol.random.max_duration",
            format!(
                "expected at least min_duration ({}), got {}",
                random.min_duration, random.max_duration
            ),
        ));
    }
    if random.max_deps > 0 && random.window == 0 {
        return Err(Invalid::key(
            "protocol.random.window",
            "expected a window of at least 1 task when max_deps is above 0, got 0",
        ));
    }
    Ok(draw_tasks(random))
}

/// The tasks of a checked `random` table.
pub fn draw_tasks(random: &RandomDag) -> Vec<Task> {
    let mut rng = stream(random.seed, "scheduler-dag", 0);
    const MS: u64 = 1_000_000;
    let (low, high) = (
        random.min_duration.0.div_ceil(MS).max(1),
        (random.max_duration.0 / MS).max(random.min_duration.0.div_ceil(MS).max(1)),
    );
    let mut tasks = Vec::with_capacity(random.tasks);
    for i in 0..random.tasks {
        let earliest = i.saturating_sub(random.window);
        let mut candidates: Vec<usize> = (earliest..i).collect();
        let wanted = rng.gen_range(0..=random.max_deps.min(candidates.len()));
        let mut deps = Vec::with_capacity(wanted);
        for _ in 0..wanted {
            let pick = rng.gen_range(0..candidates.len());
            deps.push(candidates.swap_remove(pick));
        }
        deps.sort_unstable();
        let duration = rng.gen_range(low..=high) * MS;
        let priority = if random.priorities {
            rng.gen_range(0..10)
        } else {
            0
        };
        tasks.push(Task {
            name: format!("t{}", i + 1),
            duration,
            priority,
            deps,
            dependants: Vec::new(),
        });
    }
    link(&mut tasks);
    tasks
}

/// A topological order of `tasks`, or the cycle that prevents one.
fn topological_order(tasks: &[Task]) -> Result<Vec<usize>, Invalid> {
    let mut remaining: Vec<usize> = tasks.iter().map(|task| task.deps.len()).collect();
    let mut order = Vec::with_capacity(tasks.len());
    let mut frontier: Vec<usize> = (0..tasks.len())
        .filter(|&i| remaining[i] == 0)
        .rev()
        .collect();
    while let Some(i) = frontier.pop() {
        order.push(i);
        for &j in tasks[i].dependants.iter().rev() {
            remaining[j] -= 1;
            if remaining[j] == 0 {
                frontier.push(j);
            }
        }
    }
    if order.len() == tasks.len() {
        return Ok(order);
    }
    // Every task left waits on another task left: walk back along such
    // dependencies from the first until one repeats.
    let start = (0..tasks.len())
        .find(|&i| remaining[i] > 0)
        .expect("a task is left");
    let mut walk = vec![start];
    let mut at = start;
    loop {
        let next = *tasks[at]
            .deps
            .iter()
            .find(|&&d| remaining[d] > 0)
            .expect("a task left waits on a task left");
        if let Some(position) = walk.iter().position(|&w| w == next) {
            walk.drain(..position);
            break;
        }
        walk.push(next);
        at = next;
    }
    // `walk` goes from a task to one it needs; name it in running order.
    walk.reverse();
    let lowest = (0..walk.len()).min_by_key(|&k| walk[k]).unwrap_or(0);
    walk.rotate_left(lowest);
    let first = walk[0];
    let mut names: Vec<&str> = walk.iter().map(|&i| tasks[i].name.as_str()).collect();
    names.push(&tasks[first].name);
    let last = walk[walk.len() - 1];
    Err(Invalid::key(
        task_key(first, "deps"),
        format!(
            "the dependencies form a cycle: {} (each needs the one before it; task {:?} needs {:?})",
            names.join(" → "),
            tasks[first].name,
            tasks[last].name
        ),
    ))
}
