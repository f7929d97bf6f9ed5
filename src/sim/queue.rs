//! The event queue: earliest virtual time first, ties broken by insertion order.
//!
//! A binary heap ordered by (time, sequence). Small events are stored in the heap
//! itself: for the few-word events of a simple protocol, sifting them directly
//! measured faster than keeping keys in the heap and events in a side slab (11.9 M
//! vs 11.0 M deliveries/s on `faultline bench token_forward`). Large events (a
//! Raft message with its entries is over 100 bytes) make every sift move their
//! whole size at each level, so above [`INLINE_LIMIT`] bytes the heap holds
//! 24-byte keys and the events wait in a slab whose free slots are reused. The
//! choice is made per event type at compile time. Memory is bounded by the most
//! events ever pending at once, not by the length of the run.
//!
//! Events scheduled in bulk ahead of time (a run's whole fault schedule: thousands
//! of faults over a virtual hour) go to a sorted *agenda* beside the heap
//! ([`EventQueue::push_later`]), so they do not deepen every sift. They share the
//! sequence counter, so the order is exactly what it would be in the heap.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BinaryHeap};

/// Events up to this size live in the heap; larger ones in the slab.
pub const INLINE_LIMIT: usize = 64;

#[derive(Clone, Debug)]
struct Entry<T> {
    time: u64,
    seq: u64,
    event: T,
}

impl<T> PartialEq for Entry<T> {
    fn eq(&self, other: &Self) -> bool {
        (self.time, self.seq) == (other.time, other.seq)
    }
}

impl<T> Eq for Entry<T> {}

impl<T> PartialOrd for Entry<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<T> Ord for Entry<T> {
    /// Reversed: `BinaryHeap` is a max-heap and the earliest event must come first.
    /// `seq` is unique, so the event itself never decides.
    #[inline]
    fn cmp(&self, other: &Self) -> Ordering {
        (other.time, other.seq).cmp(&(self.time, self.seq))
    }
}

/// A priority queue of events ordered by (time, insertion sequence).
#[derive(Clone, Debug)]
pub struct EventQueue<T> {
    /// Small events, in the heap.
    inline: BinaryHeap<Entry<T>>,
    /// Large events: keys in the heap (`event` is the slot)…
    keys: BinaryHeap<Entry<u32>>,
    /// …and the events in slots, with the free slots to reuse.
    slab: Vec<Option<T>>,
    free: Vec<u32>,
    /// Events pushed with [`EventQueue::push_later`], by (time, sequence).
    agenda: BTreeMap<(u64, u64), T>,
    /// The agenda's first key.
    agenda_next: Option<(u64, u64)>,
    seq: u64,
}

impl<T> Default for EventQueue<T> {
    fn default() -> Self {
        EventQueue {
            inline: BinaryHeap::new(),
            keys: BinaryHeap::new(),
            slab: Vec::new(),
            free: Vec::new(),
            agenda: BTreeMap::new(),
            agenda_next: None,
            seq: 0,
        }
    }
}

impl<T> EventQueue<T> {
    const INLINE: bool = std::mem::size_of::<T>() <= INLINE_LIMIT;

    /// An empty queue.
    pub fn new() -> Self {
        Self::default()
    }

    /// Schedules `event` at `time`, after everything already scheduled at `time`.
    #[inline]
    pub fn push(&mut self, time: u64, event: T) {
        self.seq += 1;
        let seq = self.seq;
        if Self::INLINE {
            self.inline.push(Entry { time, seq, event });
            return;
        }
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slab[slot as usize] = Some(event);
                slot
            }
            None => {
                self.slab.push(Some(event));
                u32::try_from(self.slab.len() - 1).expect("fewer than 2^32 pending events")
            }
        };
        self.keys.push(Entry {
            time,
            seq,
            event: slot,
        });
    }

    /// Schedules `event` at `time` like [`EventQueue::push`], but for events
    /// scheduled long ahead: they wait in the agenda, not in the heap.
    pub fn push_later(&mut self, time: u64, event: T) {
        self.seq += 1;
        let key = (time, self.seq);
        self.agenda.insert(key, event);
        if self.agenda_next.is_none_or(|next| key < next) {
            self.agenda_next = Some(key);
        }
    }

    /// (time, sequence) of the heap's earliest event.
    #[inline]
    fn heap_next(&self) -> Option<(u64, u64)> {
        if Self::INLINE {
            self.inline.peek().map(|entry| (entry.time, entry.seq))
        } else {
            self.keys.peek().map(|entry| (entry.time, entry.seq))
        }
    }

    /// The time of the earliest event.
    #[inline]
    pub fn peek_time(&self) -> Option<u64> {
        match (self.heap_next(), self.agenda_next) {
            (Some(heap), Some(agenda)) => Some(heap.min(agenda).0),
            (heap, agenda) => heap.or(agenda).map(|(time, _)| time),
        }
    }

    /// Removes and returns the earliest event with its time.
    #[inline]
    pub fn pop(&mut self) -> Option<(u64, T)> {
        if let Some(agenda) = self.agenda_next
            && self.heap_next().is_none_or(|heap| agenda < heap)
        {
            let event = self.agenda.remove(&agenda).expect("the agenda's first key");
            self.agenda_next = self.agenda.keys().next().copied();
            return Some((agenda.0, event));
        }
        if Self::INLINE {
            return self.inline.pop().map(|entry| (entry.time, entry.event));
        }
        let key = self.keys.pop()?;
        let event = self.slab[key.event as usize]
            .take()
            .expect("a queued key has its event");
        self.free.push(key.event);
        Some((key.time, event))
    }

    /// Keeps only the events `keep` accepts. The order of the rest is unchanged:
    /// it is fixed by their (time, sequence) keys, not by the heap's layout.
    pub fn retain(&mut self, mut keep: impl FnMut(&T) -> bool) {
        self.agenda.retain(|_, event| keep(event));
        self.agenda_next = self.agenda.keys().next().copied();
        if Self::INLINE {
            self.inline.retain(|entry| keep(&entry.event));
            return;
        }
        let (slab, free) = (&mut self.slab, &mut self.free);
        self.keys.retain(|key| {
            let slot = key.event as usize;
            let kept = keep(slab[slot].as_ref().expect("a queued key has its event"));
            if !kept {
                slab[slot] = None;
                free.push(key.event);
            }
            kept
        });
    }

    /// Events pending in the heap (the agenda aside).
    pub fn heap_len(&self) -> usize {
        if Self::INLINE {
            self.inline.len()
        } else {
            self.keys.len()
        }
    }

    /// Events pending.
    pub fn len(&self) -> usize {
        self.agenda.len() + self.heap_len()
    }

    /// Whether nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_come_out_by_time_then_insertion_order() {
        let mut queue = EventQueue::new();
        queue.push(5, "c");
        queue.push(1, "a");
        queue.push(5, "d");
        queue.push(1, "b");
        queue.push(3, "x");
        let order: Vec<_> = std::iter::from_fn(|| queue.pop()).collect();
        assert_eq!(
            order,
            vec![(1, "a"), (1, "b"), (3, "x"), (5, "c"), (5, "d")]
        );
        assert!(queue.is_empty());
    }

    #[test]
    fn large_events_keep_the_same_order_and_reuse_their_slots() {
        // Over the inline limit: keys in the heap, events in the slab.
        let mut queue: EventQueue<[u64; 16]> = EventQueue::new();
        let mut expected = Vec::new();
        for round in 0..3u64 {
            for (i, time) in [5u64, 1, 5, 1, 3].into_iter().enumerate() {
                let time = time + 10 * round;
                queue.push(time, [time * 100 + i as u64; 16]);
                expected.push((time, time * 100 + i as u64));
            }
            // Drain half of what is pending, so that slots are freed and reused.
            for _ in 0..3 {
                let (time, event) = queue.pop().unwrap();
                let position = expected.iter().position(|&(t, _)| t == time).unwrap();
                assert_eq!(expected.remove(position), (time, event[0]));
            }
        }
        let mut rest = Vec::new();
        while let Some((time, event)) = queue.pop() {
            rest.push((time, event[0]));
        }
        expected.sort_by_key(|&(time, _)| time); // stable: insertion order on ties
        assert_eq!(rest, expected);
        assert!(
            queue.slab.len() <= 10,
            "slots are reused: {}",
            queue.slab.len()
        );
    }

    #[test]
    fn the_agenda_interleaves_exactly_as_the_heap_would() {
        // The same pushes, some through the agenda, pop in the same order as
        // all through the heap — ties included.
        let times = [5u64, 1, 5, 3, 1, 9, 3, 5, 0, 9];
        let mut heap = EventQueue::new();
        let mut mixed = EventQueue::new();
        for (n, &time) in times.iter().enumerate() {
            heap.push(time, n);
            if n % 3 == 0 {
                mixed.push_later(time, n);
            } else {
                mixed.push(time, n);
            }
        }
        assert_eq!(mixed.len(), times.len());
        let mut heap_order = Vec::new();
        let mut mixed_order = Vec::new();
        for step in 0..times.len() {
            assert_eq!(mixed.peek_time(), heap.peek_time());
            heap_order.push(heap.pop().unwrap());
            mixed_order.push(mixed.pop().unwrap());
            if step == 4 {
                // Pushes in the middle, both ways, at a tie and in the past.
                heap.push(5, 100);
                mixed.push_later(5, 100);
                heap.push(5, 101);
                mixed.push(5, 101);
            }
        }
        heap_order.extend(std::iter::from_fn(|| heap.pop()));
        mixed_order.extend(std::iter::from_fn(|| mixed.pop()));
        assert_eq!(mixed_order, heap_order);
    }

    #[test]
    fn retain_drops_events_and_keeps_the_order_of_the_rest() {
        fn drain<T: Copy>(queue: &mut EventQueue<T>) -> Vec<(u64, T)> {
            std::iter::from_fn(|| queue.pop()).collect()
        }
        let mut small = EventQueue::new();
        let mut large: EventQueue<[u64; 16]> = EventQueue::new();
        for n in 0..100u64 {
            small.push(n % 7, n);
            large.push(n % 7, [n; 16]);
        }
        small.retain(|&n| n % 3 != 0);
        large.retain(|event| event[0] % 3 != 0);
        let small = drain(&mut small);
        let large: Vec<(u64, u64)> = drain(&mut large)
            .into_iter()
            .map(|(time, event)| (time, event[0]))
            .collect();
        let mut expected: Vec<(u64, u64)> = (0..100)
            .filter(|n| n % 3 != 0)
            .map(|n| (n % 7, n))
            .collect();
        expected.sort_by_key(|&(time, _)| time);
        assert_eq!(small, expected);
        assert_eq!(large, expected);
    }
}
