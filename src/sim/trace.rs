//! The trace: every event of a run folded into one 64-bit hash, and optionally
//! written out as JSON lines.
//!
//! The hash is hand-written (not `DefaultHasher`, whose algorithm may change between
//! Rust releases) over a canonical encoding: each event contributes its kind tag,
//! its virtual time, the processes involved and a hash of its payload computed with
//! [`StableHasher`]. Two runs with equal trace hashes performed the same events in
//! the same order.

use std::cell::RefCell;
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::rc::Rc;

const MULTIPLIER: u64 = 0x5851_F42D_4C95_7F2D;

/// Folds one 64-bit word into a running hash.
#[inline(always)]
pub fn fold(hash: u64, word: u64) -> u64 {
    (hash.rotate_left(23) ^ word).wrapping_mul(MULTIPLIER)
}

/// Final avalanche so that nearby inputs give unrelated outputs.
#[inline]
pub fn finish(mut hash: u64) -> u64 {
    hash ^= hash >> 33;
    hash = hash.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
    hash ^= hash >> 33;
    hash = hash.wrapping_mul(0xC4CE_B9FE_1A85_EC53);
    hash ^ (hash >> 33)
}

/// A `Hasher` with a fixed, documented algorithm, for hashing message payloads into
/// the trace. Integers are folded as little-endian words, so the result does not
/// depend on the platform's endianness.
#[derive(Clone, Copy, Debug)]
pub struct StableHasher {
    state: u64,
}

impl Default for StableHasher {
    fn default() -> Self {
        StableHasher {
            state: 0x2545_F491_4F6C_DD1D,
        }
    }
}

impl StableHasher {
    /// Hashes one value.
    pub fn hash_of<T: Hash + ?Sized>(value: &T) -> u64 {
        let mut hasher = StableHasher::default();
        value.hash(&mut hasher);
        hasher.finish()
    }
}

impl Hasher for StableHasher {
    fn finish(&self) -> u64 {
        finish(self.state)
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.state = fold(self.state, u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.state = fold(
                self.state,
                u64::from_le_bytes(word) ^ ((rest.len() as u64) << 56),
            );
        }
    }

    #[inline]
    fn write_u8(&mut self, value: u8) {
        self.state = fold(self.state, u64::from(value));
    }
    #[inline]
    fn write_u16(&mut self, value: u16) {
        self.state = fold(self.state, u64::from(value));
    }
    #[inline]
    fn write_u32(&mut self, value: u32) {
        self.state = fold(self.state, u64::from(value));
    }
    #[inline]
    fn write_u64(&mut self, value: u64) {
        self.state = fold(self.state, value);
    }
    #[inline]
    fn write_usize(&mut self, value: usize) {
        self.state = fold(self.state, value as u64);
    }
    #[inline]
    fn write_i64(&mut self, value: i64) {
        self.state = fold(self.state, value as u64);
    }
}

/// The kind tag of each trace event; its number is part of the canonical encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EventKind {
    /// A process started (at time 0).
    Start = 1,
    /// A message was put on the wire.
    Send = 2,
    /// A message reached its destination and was handled.
    Deliver = 3,
    /// A message was lost (random drop, cut link, dead destination).
    Drop = 4,
    /// The network made an extra copy of a message.
    Duplicate = 5,
    /// A timer fired.
    Timer = 6,
    /// A node crashed.
    Crash = 7,
    /// A node restarted from its disk.
    Restart = 8,
    /// A node was frozen.
    Pause = 9,
    /// A frozen node resumed.
    Resume = 10,
    /// Links were cut.
    Partition = 11,
    /// All cut links were restored.
    Heal = 12,
    /// A disk fault was injected.
    DiskFault = 13,
    /// A node's clock was skewed or reset.
    ClockSkew = 14,
    /// A client invoked an operation.
    Invoke = 15,
    /// A client operation completed (ok, fail or info).
    Complete = 16,
    /// The fault phase ended: everything healed, liveness window begins.
    LivenessStart = 17,
    /// A node was disconnected from every other node (lab-style).
    Disconnect = 18,
    /// A disconnected node was connected again.
    Connect = 19,
    /// Nodes joined or left the cluster's membership (the operator's view).
    Membership = 20,
    /// Nodes were made to run slower (or back at normal speed).
    Slow = 21,
}

impl EventKind {
    /// The lowercase name used in JSON traces.
    pub fn name(self) -> &'static str {
        match self {
            EventKind::Start => "start",
            EventKind::Send => "send",
            EventKind::Deliver => "deliver",
            EventKind::Drop => "drop",
            EventKind::Duplicate => "duplicate",
            EventKind::Timer => "timer",
            EventKind::Crash => "crash",
            EventKind::Restart => "restart",
            EventKind::Pause => "pause",
            EventKind::Resume => "resume",
            EventKind::Partition => "partition",
            EventKind::Heal => "heal",
            EventKind::DiskFault => "disk_fault",
            EventKind::ClockSkew => "clock_skew",
            EventKind::Invoke => "invoke",
            EventKind::Complete => "complete",
            EventKind::LivenessStart => "liveness_start",
            EventKind::Disconnect => "disconnect",
            EventKind::Connect => "connect",
            EventKind::Membership => "membership",
            EventKind::Slow => "slow",
        }
    }
}

/// One recorded trace event, as handed to a [`TraceSink`].
#[derive(Clone, Debug)]
pub struct TraceRecord {
    /// Position in the run (0-based).
    pub index: u64,
    /// True virtual time in nanoseconds.
    pub time: u64,
    /// What happened.
    pub kind: EventKind,
    /// The process the event happened at or came from.
    pub from: Option<usize>,
    /// The destination process, for messages.
    pub to: Option<usize>,
    /// A readable rendering of the payload (message, fault, operation).
    pub detail: String,
    /// The trace hash after folding this event.
    pub hash: u64,
}

impl TraceRecord {
    /// One JSON object on one line.
    pub fn to_json_line(&self) -> String {
        let mut line = format!(
            "{{\"index\":{},\"time\":{},\"event\":\"{}\"",
            self.index,
            self.time,
            self.kind.name()
        );
        if let Some(from) = self.from {
            line.push_str(&format!(",\"from\":{from}"));
        }
        if let Some(to) = self.to {
            line.push_str(&format!(",\"to\":{to}"));
        }
        line.push_str(",\"detail\":");
        line.push_str(&serde_json::to_string(&self.detail).unwrap_or_else(|_| "\"?\"".into()));
        line.push_str(&format!(",\"hash\":\"{:016x}\"}}", self.hash));
        line
    }
}

/// Receives every trace event when a run is recorded (`--trace`, determinism
/// checks). Unrecorded runs pay only for folding the hash.
pub trait TraceSink {
    /// Called once per event, in order.
    fn record(&mut self, record: TraceRecord);
}

/// A shared handle to a sink; shared so that a cloned world keeps recording.
pub type SharedSink = Rc<RefCell<dyn TraceSink>>;

/// Writes JSON lines to any writer; remembers the first I/O error.
pub struct JsonLinesSink<W: Write> {
    writer: W,
    /// The first write error, reported after the run.
    pub error: Option<std::io::Error>,
}

impl<W: Write> JsonLinesSink<W> {
    /// A sink writing to `writer`.
    pub fn new(writer: W) -> Self {
        JsonLinesSink {
            writer,
            error: None,
        }
    }

    /// Flushes and returns the writer, or the first error seen.
    pub fn finish(mut self) -> std::io::Result<W> {
        if let Some(error) = self.error.take() {
            return Err(error);
        }
        self.writer.flush()?;
        Ok(self.writer)
    }
}

impl<W: Write> TraceSink for JsonLinesSink<W> {
    fn record(&mut self, record: TraceRecord) {
        if self.error.is_none()
            && let Err(error) = writeln!(self.writer, "{}", record.to_json_line())
        {
            self.error = Some(error);
        }
    }
}

/// Keeps the per-event hashes (and, up to a cap, the readable records) in memory:
/// what the determinism check compares.
#[derive(Default)]
pub struct MemorySink {
    /// The trace hash after each event.
    pub hashes: Vec<u64>,
    /// Readable records for the first `keep_records` events.
    pub records: Vec<TraceRecord>,
    /// How many readable records to keep.
    pub keep_records: usize,
}

impl MemorySink {
    /// A sink keeping readable records for the first `keep_records` events.
    pub fn new(keep_records: usize) -> Self {
        MemorySink {
            hashes: Vec::new(),
            records: Vec::new(),
            keep_records,
        }
    }
}

impl TraceSink for MemorySink {
    fn record(&mut self, record: TraceRecord) {
        self.hashes.push(record.hash);
        if self.records.len() < self.keep_records {
            self.records.push(record);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_hasher_is_order_sensitive_and_repeatable() {
        let a = StableHasher::hash_of(&(1u32, 2u64, "x"));
        let b = StableHasher::hash_of(&(2u32, 1u64, "x"));
        assert_ne!(a, b);
        assert_eq!(a, StableHasher::hash_of(&(1u32, 2u64, "x")));
    }

    #[test]
    fn pinned_hash_of_a_known_value_never_changes() {
        // A changed value here means every pinned trace hash changed too.
        assert_eq!(StableHasher::hash_of(&12345u64), 0x571e_5ace_8704_b5cb);
    }

    #[test]
    fn json_line_escapes_the_detail() {
        let record = TraceRecord {
            index: 3,
            time: 10,
            kind: EventKind::Deliver,
            from: Some(0),
            to: Some(1),
            detail: "Msg(\"a\")".into(),
            hash: 255,
        };
        assert_eq!(
            record.to_json_line(),
            r#"{"index":3,"time":10,"event":"deliver","from":0,"to":1,"detail":"Msg(\"a\")","hash":"00000000000000ff"}"#
        );
    }
}
