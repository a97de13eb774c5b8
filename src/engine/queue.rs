//! The future event list, keyed by `(time, sequence number)`: a calendar
//! of unsorted slots for the far future, a sorted run for the current
//! slot, and a small 4-ary min-heap for what is scheduled into the current
//! slot.
//!
//! A viral launch keeps hundreds of thousands of users waiting to come
//! back hours later; one heap that large misses the cache on every level
//! of every pop. So events are appended, unsorted, to the slot of width
//! 2^SLOT_SHIFT ns (≈ 1.07 s) they fall in: a ring of [`RING`] slots
//! (≈ 39 h) indexed by slot number, and an ordered map for the rare event
//! beyond it, moved into the ring when the ring reaches it. When the
//! current slot is used up, the earliest slot is sorted in one go
//! (sequential, cache-friendly work) and becomes the *run*, popped from
//! its end; the horizon moves to that slot's end. Events scheduled before
//! the horizon after that go to the heap, which stays small: a pop takes
//! the earlier of the run's next event and the heap's top. Events keep
//! their sequence numbers, so the order is exactly `(time, sequence)`.

use super::SimTime;
use std::collections::BTreeMap;

/// Children per node.
const ARITY: usize = 4;

/// log2 of the far-future slot width in nanoseconds: 2^30 ns ≈ 1.07 s.
/// Measured on launch day: 8.6 s slots made runs and the heap larger
/// (sorting and sifting cost more than the extra pours save).
const SLOT_SHIFT: u32 = 30;

/// Slots in the calendar ring (a power of two): 131,072 × 1.07 s ≈ 39 h.
const RING: u64 = 1 << 17;

/// Largest buffer kept for reuse by a far slot, in events (256 bytes: a
/// slot holding one event then costs twice the smallest buffer at most).
const SPARE_CAPACITY: usize = 8;
/// Most buffers kept for reuse (256 KB).
const SPARES: usize = 1024;

/// A priority queue of timed events with FIFO tie-breaking. Events are
/// small `Copy` values (a kind and a few indices).
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
    /// Far slots `base .. base + RING`, at `slot % RING`.
    ring: Vec<Vec<Entry<E>>>,
    /// Events in `ring`.
    ring_len: usize,
    /// Far slots from `base + RING` on.
    beyond: BTreeMap<u64, Vec<Entry<E>>>,
    /// Events in `ring` and `beyond`.
    far_len: usize,
    /// Scratch space of the slot sort.
    scratch: Vec<Entry<E>>,
    /// Emptied small buffers of spent runs, given to far slots as they
    /// fill (a slot's buffer would otherwise grow from nothing each time).
    spare: Vec<Vec<Entry<E>>>,
    /// The first slot not yet poured: `horizon >> SLOT_SHIFT`.
    base: u64,
    /// Every event in `heap` and `run` is before it; every far event at
    /// or after.
    horizon: u64,
    next_seq: u64,
    now: SimTime,
    popped: u64,
}

#[derive(Clone, Copy, Debug)]
struct Entry<E> {
    /// `time << 64 | sequence`: one integer comparison orders the heap.
    key: u128,
    event: E,
}

/// Slots of at least this many events are radix-sorted.
const RADIX_FROM: usize = 64;
/// Bits of the time's offset in its slot sorted per radix pass.
const RADIX_BITS: u32 = 10;

/// Sort a slot's events (all in the slot starting at `slot_start`) by
/// decreasing `(time, sequence)`, so that the next is at the end.
///
/// Large slots are sorted by a stable LSD radix sort on the time's offset
/// in the slot (30 bits, three passes of 10: linear, where a comparison
/// sort of launch day's thousands of events per slot cost 15% of the
/// run), then every run of equal times is put in sequence order (events
/// pulled in from beyond the ring arrive out of it).
fn sort_slot<E: Copy>(entries: &mut [Entry<E>], scratch: &mut Vec<Entry<E>>, slot_start: u64) {
    let n = entries.len();
    if n < RADIX_FROM {
        // Keys are unique (sequence numbers), so an unstable sort is exact.
        entries.sort_unstable_by_key(|e| std::cmp::Reverse(e.key));
        return;
    }
    let time = |e: &Entry<E>| (e.key >> 64) as u64;
    let offset = |e: &Entry<E>| (time(e) - slot_start) as usize;
    const DIGITS: usize = 1 << RADIX_BITS;
    for pass in 0..SLOT_SHIFT.div_ceil(RADIX_BITS) {
        let shift = pass * RADIX_BITS;
        let digit = |e: &Entry<E>| (offset(e) >> shift) & (DIGITS - 1);
        let mut starts = [0u32; DIGITS];
        for e in entries.iter() {
            starts[digit(e)] += 1;
        }
        if starts.contains(&(n as u32)) {
            continue; // one digit for all: nothing moves
        }
        let mut sum = 0;
        for c in &mut starts {
            let count = *c;
            *c = sum;
            sum += count;
        }
        scratch.clear();
        scratch.extend_from_slice(entries);
        for e in scratch.iter() {
            let d = digit(e);
            entries[starts[d] as usize] = *e;
            starts[d] += 1;
        }
    }
    let mut i = 0;
    while i < n {
        let t = time(&entries[i]);
        let mut j = i + 1;
        while j < n && time(&entries[j]) == t {
            j += 1;
        }
        if j - i > 1 {
            entries[i..j].sort_unstable_by_key(|e| e.key);
        }
        i = j;
    }
    entries.reverse();
}

impl<E: Copy> Default for EventQueue<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E: Copy> EventQueue<E> {
    /// An empty queue at time zero.
    pub fn new() -> Self {
        EventQueue {
            heap: Vec::new(),
            run: Vec::new(),
            ring: (0..RING).map(|_| Vec::new()).collect(),
            ring_len: 0,
            beyond: BTreeMap::new(),
            far_len: 0,
            spare: Vec::new(),
            scratch: Vec::new(),
            base: 1,
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
        let slot = at.0 >> SLOT_SHIFT;
        if slot < self.base + RING {
            let cell = &mut self.ring[(slot % RING) as usize];
            if cell.capacity() == 0
                && let Some(buffer) = self.spare.pop()
            {
                *cell = buffer;
            }
            cell.push(entry);
            self.ring_len += 1;
        } else {
            self.beyond.entry(slot).or_default().push(entry);
        }
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
        loop {
            // Slots beyond the ring that it now reaches move into it.
            while let Some(entry) = self.beyond.first_entry()
                && *entry.key() < self.base + RING
            {
                let (slot, entries) = entry.remove_entry();
                self.ring_len += entries.len();
                let cell = &mut self.ring[(slot % RING) as usize];
                if cell.is_empty() {
                    *cell = entries;
                } else {
                    cell.extend(entries);
                }
            }
            if self.ring_len == 0 {
                // Everything left is beyond the ring: jump to it.
                match self.beyond.first_key_value() {
                    Some((&slot, _)) => {
                        self.base = slot;
                        continue;
                    }
                    None => return,
                }
            }
            let slot = self.base;
            self.base += 1;
            let cell = &mut self.ring[(slot % RING) as usize];
            if cell.is_empty() {
                continue;
            }
            let mut entries = std::mem::take(cell);
            self.ring_len -= entries.len();
            self.far_len -= entries.len();
            self.horizon = (slot + 1) << SLOT_SHIFT;
            sort_slot(&mut entries, &mut self.scratch, slot << SLOT_SHIFT);
            // The spent run's buffer goes to the spares if it is small:
            // large ones handed to far slots could hold memory idle in
            // hundreds of slots at once.
            let spent = std::mem::replace(&mut self.run, entries);
            if spent.capacity() > 0
                && spent.capacity() <= SPARE_CAPACITY
                && self.spare.len() < SPARES
            {
                self.spare.push(spent);
            }
            return;
        }
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
        self.pop_until(SimTime::MAX)
    }

    /// Remove and return the earliest event if it is at or before `limit`
    /// (advancing the clock to it); else leave it and return `None`.
    #[inline]
    pub fn pop_until(&mut self, limit: SimTime) -> Option<(SimTime, E)> {
        self.refill();
        let limit = (u128::from(limit.0) << 64) | u128::from(u64::MAX);
        let entry = if self.next_in_heap() {
            if self.heap[0].key > limit {
                return None;
            }
            let last = self.heap.pop()?;
            if self.heap.is_empty() {
                last
            } else {
                self.sift_down_from_root(last)
            }
        } else {
            if self.run.last()?.key > limit {
                return None;
            }
            self.run.pop()?
        };
        let at = SimTime((entry.key >> 64) as u64);
        self.now = at;
        self.popped += 1;
        Some((at, entry.event))
    }

    /// Move the entry at `i` up to its place: the entries on its way move
    /// down one level each, and it is written once.
    #[inline]
    fn sift_up(&mut self, mut i: usize) {
        let entry = self.heap[i];
        while i > 0 {
            let parent = (i - 1) / ARITY;
            if entry.key >= self.heap[parent].key {
                break;
            }
            self.heap[i] = self.heap[parent];
            i = parent;
        }
        self.heap[i] = entry;
    }

    /// Put `last` at the root, sift it down, and return the old root.
    #[inline]
    fn sift_down_from_root(&mut self, last: Entry<E>) -> Entry<E> {
        let len = self.heap.len();
        let root = self.heap[0];
        let mut i = 0;
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
            if best_key >= last.key {
                break;
            }
            self.heap[i] = self.heap[best];
            i = best;
        }
        self.heap[i] = last;
        root
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

    /// Events that come soon: the next two candidates (the heap's top and
    /// the run's next), and the run's event `ahead` places further (each
    /// event of a run is thus shown once that far ahead, as the run is
    /// popped).
    #[inline]
    pub fn upcoming(&self, ahead: usize) -> ([Option<&E>; 2], Option<&E>) {
        let n = self.run.len();
        let far = n.checked_sub(ahead + 1).and_then(|i| self.run.get(i));
        (
            [
                self.heap.first().map(|e| &e.event),
                self.run.last().map(|e| &e.event),
            ],
            far.map(|e| &e.event),
        )
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

    #[test]
    fn equal_times_from_beyond_the_ring_keep_scheduling_order() {
        // An event scheduled while its slot was beyond the ring, then many
        // at the same instant once the ring reaches it: a slot large
        // enough for the radix sort, where the early one comes in last.
        let mut q = EventQueue::new();
        let at = SimTime((RING + 20) << SLOT_SHIFT);
        q.schedule(at, 0u32);
        q.schedule(SimTime(20 << SLOT_SHIFT), u32::MAX);
        assert_eq!(q.pop().map(|(_, e)| e), Some(u32::MAX));
        for e in 1..=100 {
            q.schedule(at, e);
        }
        let order: Vec<u32> = std::iter::from_fn(|| q.pop().map(|(_, e)| e)).collect();
        assert_eq!(order, (0..=100).collect::<Vec<_>>());
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
            // Beyond the calendar ring, and around its end.
            ((RING - 4) << SLOT_SHIFT..(3 * RING) << SLOT_SHIFT).prop_map(Op::Schedule),
            Just(Op::Pop),
            Just(Op::Pop),
        ]
    }

    proptest! {
        /// A slot large enough for the radix sort, with equal times and
        /// events pulled in from beyond the ring, pops in (time, seq) order.
        #[test]
        fn large_slots_pop_in_order(
            near in proptest::collection::vec(0u64..(1 << SLOT_SHIFT), 0..400),
            beyond in proptest::collection::vec(0u64..(1 << SLOT_SHIFT), 0..200),
            coarse in any::<bool>(),
        ) {
            let mut q = EventQueue::new();
            let mut shadow = BTreeMap::new();
            let mut seq = 0u64;
            // Same far slot, scheduled now (beyond the ring) and later.
            let slot = RING + 20;
            let at = |x: u64| {
                let x = if coarse { x & !0xFFFF } else { x };
                SimTime((slot << SLOT_SHIFT) + x)
            };
            for &x in &beyond {
                q.schedule(at(x), seq);
                shadow.insert((at(x), seq), seq);
                seq += 1;
            }
            // Move the clock forward so that the slot is inside the ring.
            q.schedule(SimTime(20 << SLOT_SHIFT), u64::MAX);
            prop_assert_eq!(q.pop().map(|(_, e)| e), Some(u64::MAX));
            for &x in &near {
                q.schedule(at(x), seq);
                shadow.insert((at(x), seq), seq);
                seq += 1;
            }
            while let Some(got) = q.pop() {
                let expected = shadow.pop_first().map(|((t, _), v)| (t, v));
                prop_assert_eq!(Some(got), expected);
            }
            prop_assert!(shadow.is_empty());
        }

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
