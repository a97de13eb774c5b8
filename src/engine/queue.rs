//! The future event list: a binary heap keyed by `(time, sequence number)`.

use super::SimTime;
use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// A priority queue of timed events with FIFO tie-breaking.
///
/// Each scheduled event gets a sequence number; events are returned in
/// increasing `(time, sequence)` order, so two events at the same instant
/// come back in the order they were scheduled. Scheduling into the past is a
/// logic error: the event is clamped to the current time (and caught by a
/// debug assertion).
#[derive(Debug)]
pub struct EventQueue<E> {
    heap: BinaryHeap<Entry<E>>,
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

impl<E> PartialEq for Entry<E> {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}
impl<E> Eq for Entry<E> {}
impl<E> PartialOrd for Entry<E> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<E> Ord for Entry<E> {
    fn cmp(&self, other: &Self) -> Ordering {
        // BinaryHeap is a max-heap: reverse to pop the earliest key first.
        other.key.cmp(&self.key)
    }
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
            heap: BinaryHeap::new(),
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
    pub fn schedule(&mut self, at: SimTime, event: E) {
        debug_assert!(at >= self.now, "event scheduled in the past");
        let at = at.max(self.now);
        let key = (u128::from(at.0) << 64) | u128::from(self.next_seq);
        self.next_seq += 1;
        self.heap.push(Entry { key, event });
    }

    /// Remove and return the earliest event, advancing the clock to it.
    pub fn pop(&mut self) -> Option<(SimTime, E)> {
        let entry = self.heap.pop()?;
        let at = SimTime((entry.key >> 64) as u64);
        self.now = at;
        self.popped += 1;
        Some((at, entry.event))
    }

    /// The time of the earliest pending event.
    pub fn peek_time(&self) -> Option<SimTime> {
        self.heap.peek().map(|e| SimTime((e.key >> 64) as u64))
    }

    /// Number of pending events.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// Whether no event is pending.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
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
        prop_oneof![(0u64..50).prop_map(Op::Schedule), Just(Op::Pop)]
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
