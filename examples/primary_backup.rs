//! A complete protocol tested with faultline, from scratch: copy this file to test
//! your own.
//!
//! The protocol: primary-backup replication of one register. Node 0 is the primary.
//! A client's write gets the next sequence number, is stored durably on the primary
//! (a CRC-framed record, synced), then sent to every backup; the client is told
//! "ok" once every backup has stored it. Backups keep the highest-numbered write
//! they have seen and acknowledge "everything up to N". Every 50 ms the primary
//! re-sends its current state, which both retransmits lost writes and lets backups
//! catch up after partitions and crashes.
//!
//! The property: *agreement* (eventually) — after the faults heal, every node holds
//! the same (sequence, value). The planted bug `no_fsync` skips the primary's sync:
//! a crash then loses acknowledged writes, the primary reuses their sequence
//! numbers, and backups that saw the old write under that number keep it forever.
//!
//! The binary is faultline's own command line with this protocol registered
//! (`faultline::cli::main`), so every command works on it:
//!
//! ```text
//! cargo run --release --example primary_backup -- fuzz examples/scenarios/primary_backup.toml --count 200
//! cargo run --release --example primary_backup -- fuzz examples/scenarios/primary_backup_no_fsync.toml --stop-on-first --shrink
//! cargo run --release --example primary_backup -- list
//! ```
//!
//! Without arguments it runs the demonstration: 100 seeds of the correct
//! protocol pass, and fuzzing with `no_fsync` on finds the bug and shrinks it.

use faultline::check::{Checker, Finding};
use faultline::runner::{Entry, ProtocolSpec};
use faultline::sim::crc32c::{frame, unframe};
use faultline::sim::time::Duration;
use faultline::sim::{
    Client, Ctx, Node, NodeFactory, ProcessId, Protocol, Role, Status, TimerId, Value, World,
};
use faultline::spec::{Declared, Setup};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

// ---- 1. The protocol's types -------------------------------------------------

#[derive(Clone, Copy, Debug)]
struct PrimaryBackup;

#[derive(Clone, Debug, Hash)]
enum Msg {
    Write { request: u64, value: i64 },
    WriteOk { request: u64 },
    Replicate { seq: u64, value: i64 },
    ReplicateOk { seq: u64 },
}

#[derive(Clone, Debug, Hash, PartialEq, Eq)]
enum Timer {
    Retransmit,
    NextWrite,
    Timeout(u64),
}

impl Protocol for PrimaryBackup {
    type Msg = Msg;
    type Timer = Timer;
    type Node = Replica;
    type Client = Writer;
}

// ---- 2. The server node (sans-IO: state in, commands out through ctx) --------

const PRIMARY: ProcessId = 0;
const LOG: &str = "register.log";

#[derive(Clone, Debug)]
struct Replica {
    fsync: bool,
    seq: u64,
    value: i64,
    /// Primary only: writes waiting for backups, by sequence number.
    pending: BTreeMap<u64, (ProcessId, u64, BTreeSet<ProcessId>)>,
}

impl Replica {
    fn persist(&mut self, ctx: &mut Ctx<'_, PrimaryBackup>, seq: u64, value: i64) {
        let mut record = Vec::new();
        let mut payload = seq.to_le_bytes().to_vec();
        payload.extend_from_slice(&value.to_le_bytes());
        frame(&payload, &mut record);
        ctx.disk().append(LOG, &record);
        if self.fsync || ctx.id() != PRIMARY {
            ctx.disk().sync();
        }
        self.seq = seq;
        self.value = value;
    }

    fn arm(&self, ctx: &mut Ctx<'_, PrimaryBackup>) {
        if ctx.id() == PRIMARY {
            ctx.set_timer(
                Duration::from_millis(40),
                Duration::from_millis(60),
                Timer::Retransmit,
            );
        }
    }
}

impl Node<PrimaryBackup> for Replica {
    fn on_start(&mut self, ctx: &mut Ctx<'_, PrimaryBackup>) {
        self.arm(ctx);
    }

    fn on_restart(&mut self, ctx: &mut Ctx<'_, PrimaryBackup>) {
        // Rebuild from the log: the last record that passes its checksum wins.
        if let Ok(bytes) = ctx.disk().read(LOG) {
            let (records, _damage) = unframe(bytes);
            if let Some(last) = records.last() {
                self.seq = u64::from_le_bytes(last[..8].try_into().unwrap());
                self.value = i64::from_le_bytes(last[8..16].try_into().unwrap());
                ctx.sometimes(Point::RecoveredFromLog);
            }
        }
        self.arm(ctx);
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, PrimaryBackup>, from: ProcessId, msg: Msg) {
        match msg {
            Msg::Write { request, value } => {
                if ctx.id() != PRIMARY {
                    return; // clients only talk to the primary; ignore strays
                }
                let seq = self.seq + 1;
                self.persist(ctx, seq, value);
                self.pending.insert(seq, (from, request, BTreeSet::new()));
                ctx.broadcast(Msg::Replicate { seq, value });
            }
            Msg::Replicate { seq, value } => {
                if seq > self.seq {
                    self.persist(ctx, seq, value);
                }
                // "I hold everything up to my sequence number."
                ctx.send(from, Msg::ReplicateOk { seq: self.seq });
            }
            Msg::ReplicateOk { seq } => {
                let backups = ctx.nodes() - 1;
                let mut done = Vec::new();
                for (&pending_seq, (_, _, acked)) in self.pending.range_mut(..=seq) {
                    acked.insert(from);
                    if acked.len() == backups {
                        done.push(pending_seq);
                    }
                }
                for pending_seq in done {
                    let (client, request, _) = self.pending.remove(&pending_seq).unwrap();
                    ctx.send(client, Msg::WriteOk { request });
                }
            }
            Msg::WriteOk { .. } => unreachable!("nodes never receive WriteOk"),
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, PrimaryBackup>, _timer: Timer) {
        // Retransmission and anti-entropy in one: the current state to every backup;
        // their acknowledgements cover every pending write up to it.
        ctx.broadcast(Msg::Replicate {
            seq: self.seq,
            value: self.value,
        });
        self.arm(ctx);
    }

    fn status(&self) -> Status {
        Status {
            role: if self.pending.is_empty() {
                Role::Follower
            } else {
                Role::Leader
            },
            term: self.seq,
        }
    }
}

// ---- 3. The client: invokes operations and records them in the history ------

/// One writer. Its pace and patience come from the scenario's `[workload]`
/// (`op_interval`, `op_timeout`), as the spec hands them over.
#[derive(Clone, Debug)]
struct Writer {
    index: usize,
    request: u64,
    open: Option<(u64, i64, TimerId)>,
    think: (Duration, Duration),
    timeout: Duration,
}

impl Writer {
    fn think(&self, ctx: &mut Ctx<'_, PrimaryBackup>) {
        let (min, max) = self.think;
        ctx.set_timer(min, max, Timer::NextWrite);
    }
}

impl Client<PrimaryBackup> for Writer {
    fn on_start(&mut self, ctx: &mut Ctx<'_, PrimaryBackup>) {
        self.think(ctx);
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, PrimaryBackup>, _from: ProcessId, msg: Msg) {
        if let (Msg::WriteOk { request }, Some((open, value, timer))) = (msg, self.open)
            && request == open
        {
            ctx.cancel_timer(timer);
            ctx.ok("write", None, Value::Int(value));
            self.open = None;
            self.think(ctx);
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, PrimaryBackup>, timer: Timer) {
        match timer {
            Timer::NextWrite if ctx.workload_open() && self.open.is_none() => {
                self.request += 1;
                let value = (self.index as i64 + 1) * 1000
                    + i64::from(faultline::sim::rng::below(ctx.rng(), 1000));
                ctx.invoke("write", None, Value::Int(value));
                ctx.send(
                    PRIMARY,
                    Msg::Write {
                        request: self.request,
                        value,
                    },
                );
                let wait = self.timeout;
                let timer = ctx.set_timer(wait, wait, Timer::Timeout(self.request));
                self.open = Some((self.request, value, timer));
            }
            Timer::Timeout(request) if self.open.is_some_and(|(open, ..)| open == request) => {
                let (_, value, _) = self.open.take().unwrap();
                ctx.info("write", None, Value::Int(value)); // outcome unknown
                self.think(ctx);
            }
            _ => {}
        }
    }
}

// ---- 4. The checker: an observer of the whole world -------------------------

struct Agreement;

impl Checker<PrimaryBackup> for Agreement {
    fn name(&self) -> &'static str {
        "agreement"
    }

    fn at_end(&mut self, world: &World<PrimaryBackup>) -> Vec<Finding> {
        let states: Vec<(u64, i64)> = world
            .nodes()
            .iter()
            .map(|node| (node.seq, node.value))
            .collect();
        if states.windows(2).all(|pair| pair[0] == pair[1]) {
            Vec::new()
        } else {
            vec![Finding::eventually(
                "agreement",
                format!("nodes disagree after healing: (seq, value) = {states:?}"),
            )]
        }
    }
}

// ---- 5. Its identities, declared once -----------------------------------------

faultline::declare! {
    /// The mistake this protocol can be told to make.
    enum Bug {
        /// The primary acknowledges writes it has not synced.
        NoFsync = "no_fsync",
    }
}

faultline::declare! {
    /// The rare situations it must be tested in.
    enum Point {
        /// A restarted node rebuilt its register from its log.
        RecoveredFromLog = "recovered_from_log",
    }
}

// ---- 6. Wiring it to scenario files -----------------------------------------

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    name: String,
    #[serde(default)]
    bugs: Vec<Bug>,
}

impl ProtocolSpec for PrimaryBackup {
    type Config = Config;
    const NAME: &'static str = "primary_backup";
    const SUMMARY: &'static str = "primary-backup register (example)";
    const BUGS: &'static [Declared] = Bug::ALL;
    const PROPERTIES: &'static [Declared] = &[Declared::new(
        "agreement",
        "eventually: all nodes hold the same state",
    )];
    const SOMETIMES: &'static [Declared] = Point::ALL;

    fn active_bugs(config: &Config) -> Vec<String> {
        faultline::spec::declare::bug_names(&config.bugs)
    }

    fn node_factory(setup: &Setup<'_, Config>) -> NodeFactory<Self> {
        let fsync = !setup.config.bugs.contains(&Bug::NoFsync);
        Rc::new(move |_| Replica {
            fsync,
            seq: 0,
            value: 0,
            pending: BTreeMap::new(),
        })
    }

    fn client(setup: &Setup<'_, Config>, index: usize) -> Writer {
        Writer {
            index,
            request: 0,
            open: None,
            think: setup.workload.think_time(),
            timeout: setup.workload.op_timeout,
        }
    }

    fn checkers(_setup: &Setup<'_, Config>) -> Vec<Box<dyn Checker<Self>>> {
        vec![Box::new(Agreement)]
    }
}

// ---- 7. The whole command line, for this protocol too -------------------------

fn main() {
    // Reproduce lines name this binary's own command, so they run as printed.
    let registry = faultline::builtin()
        .with(Entry::of::<PrimaryBackup>())
        .named("cargo run --release --example primary_backup --");
    if std::env::args_os().len() > 1 {
        faultline::cli::main(registry);
    }
    // The demonstration: the correct protocol passes 100 seeds; with no_fsync
    // the ordinary fuzz command finds the bug (exit 1) and shrinks it.
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/scenarios");
    let fuzz = |file: &str, more: &[&str]| {
        let mut args = vec![
            "primary_backup".to_string(),
            "fuzz".to_string(),
            format!("{dir}/{file}"),
            "--count".to_string(),
            "100".to_string(),
        ];
        args.extend(more.iter().map(|arg| arg.to_string()));
        faultline::cli::run_with_args(&registry, args)
    };
    let correct = fuzz("primary_backup.toml", &[]);
    // The report (and the shrunk scenario in it) goes to a scratch directory.
    let report = std::env::temp_dir().join("faultline-primary-backup");
    let report = report.to_string_lossy();
    let buggy = fuzz(
        "primary_backup_no_fsync.toml",
        &["--stop-on-first", "--shrink", "--report", &report],
    );
    if correct != 0 || buggy != 1 {
        eprintln!(
            "the demonstration failed: the correct protocol's campaign exited {correct} (expected 0), the buggy one's {buggy} (expected 1: the bug found)"
        );
        std::process::exit(1);
    }
    println!("primary_backup: the correct protocol passed; fuzzing found no_fsync and shrank it");
}
