//! The future event list, keyed by `(time, sequence number)`: unsorted
//! slots for the far future, a sorted run for the current slot, and a
//! small 4-ary min-heap for what is scheduled into the current slot.
//!
//! A viral launch keeps hundreds of thousands of users waiting to come
//! back hours later; one heap that large misses the cache on every level
//! of every pop. So events are appended, unsorted, to the slot of width
//! 2^SLOT_SHIFT ns (≈ 8.6 s) they fall in. When the current slot is used
//! up, the earliest slot is sorted in one go (sequential, cache-friendly
//! work) and becomes the *run*, popped from its end; the horizon moves to
//! that slot's end. Events scheduled before the horizon after that go to
//! the heap, which stays small: a pop takes the earlier of the run's next
//! event and the heap's top. Events keep their sequence numbers, so the
//! order is exactly `(time, sequence)`.

use super::SimTime;
use std::collections::BTreeMap;

/// Children per node.
const ARITY: usize = 4;

/// log2 of the far-future slot width in nanoseconds: 2^33 ns ≈ 8.6 s.
const SLOT_SHIFT: u32 = 33;

/// A priority queue of timed events with FIFO tie-breaking.
///
/// Each scheduled event gets a sequence number; events are returned in
/// increasing `(time, sequence)` order, so two events at the same instant
/// come back in the order they were scheduled. Scheduling into the past is a
/// logic error: the event is clamped to the current time (and caught by a
/// debug assertion).
#[derive(Debug)]
pub struct EventQueue<E> {
    /// Events before `horizon` scheduled after `run` was sorted.
    heap: Vec<Entry<E>>,
    /// The current slot's events, sorted by decreasing key: the next one
    /// is at the end.
    run: Vec<Entry<E>>,
    /// Events at or after `horizon`, by slot (time >> SLOT_SHIFT).
    far: BTreeMap<u64, Vec<Entry<E>>>,
    far_len: usize,
    /// Every event in `heap` and `run` is before it; every event in `far`
    /// at or after.
    horizon: u64,
    next_seq: u64,
    now: SimTime,
    popped: u64,
}

#[derive(Debug)]
struct Entry<E> {
    /// `time << 64 | sequence`: one integer comparison orders the heap.
    key: u128,
    event: E,
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E> EventQueue<E> {
    /// An empty queue at time zero.
    pub fn new() -> Self {
        EventQueue {
            heap: Vec::new(),
            run: Vec::new(),
            far: BTreeMap::new(),
            far_len: 0,
            horizon: 1 << SLOT_SHIFT,
            next_seq: 0,
            now: SimTime::ZERO,
            popped: 0,
        }
    }

    /// The time of the last event popped (zero before the first).
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// Schedule `event` at `at` (not before [`now`](Self::now)).
    #[inline]
    pub fn schedule(&mut self, at: SimTime, event: E) {
        debug_assert!(at >= self.now, "event scheduled in the past");
        let at = at.max(self.now);
        let key = (u128::from(at.0) << 64) | u128::from(self.next_seq);
        self.next_seq += 1;
        let entry = Entry { key, event };
        if at.0 < self.horizon {
            self.heap.push(entry);
            self.sift_up(self.heap.len() - 1);
        } else {
            self.schedule_far(at, entry);
        }
    }

    #[inline(never)]
    fn schedule_far(&mut self, at: SimTime, entry: Entry<E>) {
        self.far.entry(at.0 >> SLOT_SHIFT).or_default().push(entry);
        self.far_len += 1;
    }

    /// If the current slot is used up, sort the earliest far slot into
    /// the run.
    #[inline(always)]
    fn refill(&mut self) {
        if self.heap.is_empty() && self.run.is_empty() && self.far_len > 0 {
            self.pour_next_slot();
        }
    }

    #[cold]
    #[inline(never)]
    fn pour_next_slot(&mut self) {
        let Some((slot, mut entries)) = self.far.pop_first() else {
            return;
        };
        self.far_len -= entries.len();
        self.horizon = (slot + 1) << SLOT_SHIFT;
        // Keys are unique (sequence numbers), so an unstable sort is exact.
        entries.sort_unstable_by_key(|e| std::cmp::Reverse(e.key));
        // (Reusing the spent run's allocation for a new far slot would
        // leave hundreds of far slots each holding a whole slot's capacity.)
        self.run = entries;
    }

    /// Whether the next event is the heap's top (else the run's end).
    #[inline(always)]
    fn next_in_heap(&self) -> bool {
        match (self.heap.first(), self.run.last()) {
            (Some(h), Some(r)) => h.key < r.key,
            (h, _) => h.is_some(),
        }
    }

    /// Remove and return the earliest event, advancing the clock to it.
    #[inline]
    pub fn pop(&mut self) -> Option<(SimTime, E)> {
        self.refill();
        let entry = if self.next_in_heap() {
            let last = self.heap.pop()?;
            if self.heap.is_empty() {
                last
            } else {
                let root = std::mem::replace(&mut self.heap[0], last);
                self.sift_down(0);
                root
            }
        } else {
            self.run.pop()?
        };
        let at = SimTime((entry.key >> 64) as u64);
        self.now = at;
        self.popped += 1;
        Some((at, entry.event))
    }

    #[inline]
    fn sift_up(&mut self, mut i: usize) {
        let key = self.heap[i].key;
        while i > 0 {
            let parent = (i - 1) / ARITY;
            if key >= self.heap[parent].key {
                break;
            }
            self.heap.swap(i, parent);
            i = parent;
        }
    }

    #[inline]
    fn sift_down(&mut self, mut i: usize) {
        let len = self.heap.len();
        let key = self.heap[i].key;
        loop {
            let first = ARITY * i + 1;
            if first >= len {
                break;
            }
            let end = (first + ARITY).min(len);
            let mut best = first;
            let mut best_key = self.heap[first].key;
            for c in first + 1..end {
                let k = self.heap[c].key;
                if k < best_key {
                    best = c;
                    best_key = k;
                }
            }
            if best_key >= key {
                break;
            }
            self.heap.swap(i, best);
            i = best;
        }
    }

    /// The time of the earliest pending event.
    #[inline]
    pub fn peek_time(&mut self) -> Option<SimTime> {
        self.refill();
        let next = if self.next_in_heap() {
            self.heap.first()
        } else {
            self.run.last()
        };
        next.map(|e| SimTime((e.key >> 64) as u64))
    }

    /// Number of pending events.
    pub fn len(&self) -> usize {
        self.heap.len() + self.run.len() + self.far_len
    }

    /// Whether no event is pending.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Total number of events popped so far.
    pub fn events_processed(&self) -> u64 {
        self.popped
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    #[test]
    fn equal_times_pop_in_scheduling_order() {
        let mut q = EventQueue::new();
        q.schedule(SimTime(5), 'a');
        q.schedule(SimTime(1), 'b');
        q.schedule(SimTime(5), 'c');
        q.schedule(SimTime(1), 'd');
        let order: Vec<char> = std::iter::from_fn(|| q.pop().map(|(_, e)| e)).collect();
        assert_eq!(order, vec!['b', 'd', 'a', 'c']);
    }

    #[test]
    fn clock_follows_popped_events() {
        let mut q = EventQueue::new();
        q.schedule(SimTime(7), ());
        assert_eq!(q.now(), SimTime::ZERO);
        q.pop();
        assert_eq!(q.now(), SimTime(7));
        assert_eq!(q.events_processed(), 1);
    }

    #[derive(Debug, Clone)]
    enum Op {
        Schedule(u64),
        Pop,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0u64..50).prop_map(Op::Schedule),
            // Far-future events, across several slots and slot boundaries.
            (0u64..(1u64 << (SLOT_SHIFT + 3))).prop_map(Op::Schedule),
            Just(Op::Pop),
            Just(Op::Pop),
        ]
    }

    proptest! {
        /// Differential test against a shadow model: a BTreeMap keyed by
        /// (time, sequence), which is ordered by construction.
        #[test]
        fn matches_a_btreemap_shadow(ops in proptest::collection::vec(op(), 0..300)) {
            let mut q = EventQueue::new();
            let mut shadow = BTreeMap::new();
            let mut seq = 0u64;
            for op in ops {
                match op {
                    Op::Schedule(dt) => {
                        let at = SimTime(q.now().0 + dt);
                        q.schedule(at, seq);
                        shadow.insert((at, seq), seq);
                        seq += 1;
                    }
                    Op::Pop => {
                        let expected = shadow.pop_first();
                        let got = q.pop();
                        prop_assert_eq!(got, expected.map(|((t, _), v)| (t, v)));
                        if let Some((t, _)) = got { prop_assert!(t >= SimTime::ZERO); }
                    }
                }
                prop_assert_eq!(q.len(), shadow.len());
            }
            // Drain: the clock never moves backwards.
            let mut last = q.now();
            while let Some((t, _)) = q.pop() {
                prop_assert!(t >= last);
                last = t;
            }
        }
    }
}
