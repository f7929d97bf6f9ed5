//! What a run's charts need from its trace, captured as the run goes: messages
//! paired into arrows (send → delivery or loss) and the fault timeline turned into
//! windows (partitions, crashes, pauses, disconnects).
//!
//! [`ChartSink`] is a [`TraceSink`]: it only reads the events the world hands every
//! sink, so capturing changes nothing in the run (no draws, no events; the trace
//! hash is the same with or without it). A delivery is paired with the oldest
//! unmatched send of the same text between the same two processes; messages with
//! equal text are indistinguishable, so that is the right arrow up to swapping
//! identical messages. Memory is bounded: only the last [`MESSAGE_CAP`] arrows are
//! kept, each with at most [`TEXT_MAX`] characters of its message.

use crate::sim::trace::{EventKind, StableHasher, TraceRecord, TraceSink};
use std::collections::{BTreeMap, VecDeque};

/// Most arrows kept (the latest ones); a long run's diagram is a window anyway.
pub const MESSAGE_CAP: usize = 200_000;

/// Most characters of a message's text an arrow keeps (its hover title); a
/// longer text is cut and ends in `…`.
pub const TEXT_MAX: usize = 300;

/// One message: who sent it when, and when it arrived or was lost.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Arrow {
    /// Sender process.
    pub from: usize,
    /// Receiver process.
    pub to: usize,
    /// Send time (ns).
    pub sent: u64,
    /// Delivery or loss time (ns).
    pub arrived: u64,
    /// Why it was lost (`lost`, `partitioned`, `destination_down`), if it was.
    pub dropped: Option<String>,
    /// The message as the trace prints it (its `Debug` text), cut to
    /// [`TEXT_MAX`] characters.
    pub message: String,
}

impl Arrow {
    /// The message's kind: its `Debug` text up to the first `(`, `{` or space,
    /// which for an enum is the variant's name (`AppendEntries`).
    pub fn kind(&self) -> &str {
        message_kind(&self.message)
    }
}

/// The kind of a message from its `Debug` text (see [`Arrow::kind`]).
pub fn message_kind(text: &str) -> &str {
    let end = text.find(['(', '{', ' ']).unwrap_or(text.len());
    &text[..end]
}

/// `text` cut to [`TEXT_MAX`] characters, the last of them `…` when cut.
fn capped(mut text: String) -> String {
    if text.chars().count() > TEXT_MAX {
        let cut = text
            .char_indices()
            .nth(TEXT_MAX - 1)
            .map_or(text.len(), |(at, _)| at);
        text.truncate(cut);
        text.push('…');
        text.shrink_to_fit();
    }
    text
}

/// A fault event as the charts see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FaultEvent {
    /// When (ns).
    pub time: u64,
    /// Trace kind.
    pub kind: EventKind,
    /// The nodes it hit.
    pub nodes: Vec<usize>,
    /// The trace's description.
    pub detail: String,
}

/// What kind of trouble a window shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum WindowKind {
    /// Links cut between groups of nodes (partition, isolate, bridge, one way).
    Partition,
    /// A node down.
    Crash,
    /// A node frozen.
    Pause,
    /// A node cut off lab-style.
    Disconnect,
}

impl WindowKind {
    /// The legend word.
    pub fn name(self) -> &'static str {
        match self {
            WindowKind::Partition => "partition",
            WindowKind::Crash => "crash",
            WindowKind::Pause => "pause",
            WindowKind::Disconnect => "disconnect",
        }
    }
}

/// A stretch of time some fault was in force.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FaultWindow {
    /// What.
    pub kind: WindowKind,
    /// The node (for per-node kinds); `None` for partitions.
    pub node: Option<usize>,
    /// Start (ns).
    pub start: u64,
    /// End (ns): when it was undone, or the end of the run.
    pub end: u64,
    /// The trace's description of the fault.
    pub detail: String,
}

/// Captures arrows and faults from the trace. See the module documentation.
#[derive(Default)]
pub struct ChartSink {
    pending: BTreeMap<(usize, usize, u64), VecDeque<u64>>,
    /// The latest arrows, in the order they completed.
    pub arrows: VecDeque<Arrow>,
    /// Arrows that no longer fit ([`MESSAGE_CAP`]).
    pub arrows_forgotten: u64,
    /// Every fault event.
    pub faults: Vec<FaultEvent>,
}

fn text_key(text: &str) -> u64 {
    StableHasher::hash_of(text)
}

/// The node list a fault's trace detail starts with: `crash [1, 2] ...`.
fn nodes_in(detail: &str) -> Vec<usize> {
    let Some(open) = detail.find('[') else {
        return Vec::new();
    };
    let Some(close) = detail[open..].find(']') else {
        return Vec::new();
    };
    detail[open + 1..open + close]
        .split(',')
        .filter_map(|part| part.trim().parse().ok())
        .collect()
}

impl ChartSink {
    /// An empty sink.
    pub fn new() -> Self {
        ChartSink::default()
    }

    /// Pairs the delivery or loss `record` (whose text hashes to `key`) with its
    /// send.
    fn complete(
        &mut self,
        record: TraceRecord,
        key: u64,
        dropped: Option<String>,
        message: String,
    ) {
        let (Some(from), Some(to)) = (record.from, record.to) else {
            return;
        };
        let slot = (from, to, key);
        let Some(queue) = self.pending.get_mut(&slot) else {
            return;
        };
        let sent = queue.pop_front().unwrap_or(record.time);
        if queue.is_empty() {
            self.pending.remove(&slot);
        }
        if self.arrows.len() == MESSAGE_CAP {
            self.arrows.pop_front();
            self.arrows_forgotten += 1;
        }
        self.arrows.push_back(Arrow {
            from,
            to,
            sent,
            arrived: record.time,
            dropped,
            message: capped(message),
        });
    }

    /// The fault windows, each closed by its undo or by `end`.
    pub fn windows(&self, end: u64) -> Vec<FaultWindow> {
        let mut windows = Vec::new();
        let mut partition: Option<(u64, String)> = None;
        // Per node: open window start and detail, by kind.
        let mut open: BTreeMap<(WindowKind, usize), (u64, String)> = BTreeMap::new();
        let close = |open: &mut BTreeMap<(WindowKind, usize), (u64, String)>,
                     windows: &mut Vec<FaultWindow>,
                     kind: WindowKind,
                     node: usize,
                     time: u64| {
            if let Some((start, detail)) = open.remove(&(kind, node)) {
                windows.push(FaultWindow {
                    kind,
                    node: Some(node),
                    start,
                    end: time,
                    detail,
                });
            }
        };
        let close_partition =
            |partition: &mut Option<(u64, String)>, windows: &mut Vec<FaultWindow>, time: u64| {
                if let Some((start, detail)) = partition.take() {
                    windows.push(FaultWindow {
                        kind: WindowKind::Partition,
                        node: None,
                        start,
                        end: time,
                        detail,
                    });
                }
            };
        for fault in &self.faults {
            let time = fault.time;
            match fault.kind {
                EventKind::Partition => {
                    close_partition(&mut partition, &mut windows, time);
                    // A new partition also clears every disconnect.
                    let disconnected: Vec<usize> = open
                        .keys()
                        .filter(|(kind, _)| *kind == WindowKind::Disconnect)
                        .map(|(_, node)| *node)
                        .collect();
                    for node in disconnected {
                        close(&mut open, &mut windows, WindowKind::Disconnect, node, time);
                    }
                    partition = Some((time, fault.detail.clone()));
                }
                EventKind::Heal | EventKind::LivenessStart => {
                    close_partition(&mut partition, &mut windows, time);
                    let keys: Vec<(WindowKind, usize)> = open
                        .keys()
                        .copied()
                        .filter(|(kind, _)| {
                            fault.kind == EventKind::LivenessStart
                                || *kind == WindowKind::Disconnect
                        })
                        .collect();
                    for (kind, node) in keys {
                        close(&mut open, &mut windows, kind, node, time);
                    }
                }
                EventKind::Crash | EventKind::Pause | EventKind::Disconnect => {
                    let kind = match fault.kind {
                        EventKind::Crash => WindowKind::Crash,
                        EventKind::Pause => WindowKind::Pause,
                        _ => WindowKind::Disconnect,
                    };
                    for &node in &fault.nodes {
                        open.entry((kind, node))
                            .or_insert((time, fault.detail.clone()));
                    }
                }
                EventKind::Restart | EventKind::Resume | EventKind::Connect => {
                    let kind = match fault.kind {
                        EventKind::Restart => WindowKind::Crash,
                        EventKind::Resume => WindowKind::Pause,
                        _ => WindowKind::Disconnect,
                    };
                    for &node in &fault.nodes {
                        close(&mut open, &mut windows, kind, node, time);
                    }
                }
                _ => {}
            }
        }
        close_partition(&mut partition, &mut windows, end);
        for (kind, node) in open.keys().copied().collect::<Vec<_>>() {
            close(&mut open, &mut windows, kind, node, end);
        }
        windows.sort_by_key(|window| (window.start, window.kind, window.node));
        windows
    }
}

impl TraceSink for ChartSink {
    fn record(&mut self, record: TraceRecord) {
        match record.kind {
            EventKind::Send | EventKind::Duplicate => {
                if let (Some(from), Some(to)) = (record.from, record.to) {
                    self.pending
                        .entry((from, to, text_key(&record.detail)))
                        .or_default()
                        .push_back(record.time);
                }
            }
            EventKind::Deliver => {
                let key = text_key(&record.detail);
                let mut record = record;
                let message = std::mem::take(&mut record.detail);
                self.complete(record, key, None, message);
            }
            EventKind::Drop => {
                let (reason, text) = record
                    .detail
                    .split_once(' ')
                    .unwrap_or((record.detail.as_str(), ""));
                let key = text_key(text);
                let (reason, message) = (reason.to_string(), text.to_string());
                self.complete(record, key, Some(reason), message);
            }
            EventKind::Crash
            | EventKind::Restart
            | EventKind::Pause
            | EventKind::Resume
            | EventKind::Partition
            | EventKind::Heal
            | EventKind::DiskFault
            | EventKind::ClockSkew
            | EventKind::LivenessStart
            | EventKind::Disconnect
            | EventKind::Connect
            | EventKind::Membership
            | EventKind::Slow => self.faults.push(FaultEvent {
                time: record.time,
                kind: record.kind,
                nodes: nodes_in(&record.detail),
                detail: record.detail,
            }),
            EventKind::Start | EventKind::Timer | EventKind::Invoke | EventKind::Complete => {}
        }
    }
}

/// Hands every event to two sinks (e.g. `--trace` and the charts).
pub struct TeeSink(
    pub crate::sim::trace::SharedSink,
    pub crate::sim::trace::SharedSink,
);

impl TraceSink for TeeSink {
    fn record(&mut self, record: TraceRecord) {
        self.0.borrow_mut().record(record.clone());
        self.1.borrow_mut().record(record);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(
        time: u64,
        kind: EventKind,
        from: Option<usize>,
        to: Option<usize>,
        detail: &str,
    ) -> TraceRecord {
        TraceRecord {
            index: 0,
            time,
            kind,
            from,
            to,
            detail: detail.into(),
            hash: 0,
        }
    }

    #[test]
    fn deliveries_and_losses_pair_with_their_sends() {
        let mut sink = ChartSink::new();
        sink.record(record(1, EventKind::Send, Some(0), Some(1), "Ping(1)"));
        sink.record(record(2, EventKind::Send, Some(0), Some(1), "Ping(2)"));
        sink.record(record(5, EventKind::Deliver, Some(0), Some(1), "Ping(2)"));
        sink.record(record(
            7,
            EventKind::Drop,
            Some(0),
            Some(1),
            "partitioned Ping(1)",
        ));
        let arrows: Vec<(u64, u64, bool)> = sink
            .arrows
            .iter()
            .map(|arrow| (arrow.sent, arrow.arrived, arrow.dropped.is_some()))
            .collect();
        assert_eq!(arrows, vec![(2, 5, false), (1, 7, true)]);
        assert!(sink.pending.is_empty());
        // Each arrow keeps its message (a loss without its reason) and its kind.
        let messages: Vec<(&str, &str)> = sink
            .arrows
            .iter()
            .map(|arrow| (arrow.message.as_str(), arrow.kind()))
            .collect();
        assert_eq!(messages, vec![("Ping(2)", "Ping"), ("Ping(1)", "Ping")]);
    }

    #[test]
    fn a_message_kind_is_its_variant_and_long_texts_are_cut() {
        assert_eq!(message_kind("AppendEntries { term: 1 }"), "AppendEntries");
        assert_eq!(message_kind("Reply(KvReply { seq: 1 })"), "Reply");
        assert_eq!(message_kind("Heartbeat"), "Heartbeat");
        let long = format!("Big {{ data: \"{}\" }}", "é".repeat(400));
        let cut = capped(long);
        assert_eq!(cut.chars().count(), TEXT_MAX);
        assert!(cut.starts_with("Big { data: \"éé") && cut.ends_with("é…"));
        let short = "x".repeat(TEXT_MAX);
        assert_eq!(capped(short.clone()), short);
    }

    #[test]
    fn fault_windows_close_at_their_undo_or_the_end() {
        let mut sink = ChartSink::new();
        sink.record(record(10, EventKind::Crash, None, None, "crash [2]"));
        sink.record(record(
            20,
            EventKind::Partition,
            None,
            None,
            "isolate [1] isolate [1]",
        ));
        sink.record(record(30, EventKind::Restart, None, None, "restart [2]"));
        sink.record(record(40, EventKind::Pause, None, None, "pause [0, 3]"));
        sink.record(record(
            50,
            EventKind::LivenessStart,
            None,
            None,
            "heal_all [0, 3]",
        ));
        let windows = sink.windows(100);
        let shown: Vec<(WindowKind, Option<usize>, u64, u64)> = windows
            .iter()
            .map(|window| (window.kind, window.node, window.start, window.end))
            .collect();
        assert_eq!(
            shown,
            vec![
                (WindowKind::Crash, Some(2), 10, 30),
                (WindowKind::Partition, None, 20, 50),
                (WindowKind::Pause, Some(0), 40, 50),
                (WindowKind::Pause, Some(3), 40, 50),
            ]
        );
    }
}
