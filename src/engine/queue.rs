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
//! beyond it, moved into the ring when the ring reaches it. A slot's
//! events sit in buffers of at most 64 events that are set aside when
//! full, never copied to grow. When the current slot is used up, the
//! earliest slot is sorted in one go (one pass into sub-slots, then each
//! sub-slot by key) and becomes the *run*, popped from
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

/// A far slot's first buffer, in events (256 bytes: a slot holding one
/// event then costs twice the smallest buffer at most).
const FIRST_CHUNK: usize = 8;
/// A far slot's buffer grows by copying (doubling) up to this many
/// events (2 KB); once full at this size it is set aside whole and a new
/// one of the same size takes the slot's next events, so a slot of
/// thousands of events is never copied to grow, and holds at most one
/// partly empty buffer. (Chunks that double instead cost 1.5 MB more at
/// launch day's peak.)
const CHUNK: usize = 64;
/// Buffer sizes kept for reuse: FIRST_CHUNK · 2^k up to CHUNK.
const SPARE_CLASSES: usize = (CHUNK / FIRST_CHUNK).trailing_zeros() as usize + 1;
/// Most events' room kept in spare buffers (128 KB).
const SPARE_ROOM: usize = 1 << 12;

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
    /// Full buffers set aside by far slots of the ring, by slot.
    chunks: BTreeMap<u64, Vec<Vec<Entry<E>>>>,
    /// Scratch space of the slot sort.
    scratch: Vec<Entry<E>>,
    /// The slot sort's sub-slot counts.
    counts: Vec<u32>,
    /// Emptied buffers of poured slots and spent runs, by size class
    /// (FIRST_CHUNK · 2^k events), given to far slots as they fill.
    spare: [Vec<Vec<Entry<E>>>; SPARE_CLASSES],
    /// Events' room in `spare`.
    spare_room: usize,
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

/// Slots of at least this many events are bucket-sorted.
const BUCKET_FROM: usize = 64;
/// Most bits of the time's offset in its slot that pick a sub-slot.
const MAX_BUCKET_BITS: u32 = 14;
/// Sub-slots of at most this many events are insertion-sorted.
const INSERTION_UP_TO: usize = 16;

/// Sort a slot's `n` events (at least [`BUCKET_FROM`], all in the slot
/// starting at `slot_start`), held in `sources`, into `out` by decreasing
/// `(time, sequence)`, so that the next is at the end.
///
/// One pass moves each event to the sub-slot its time falls in (as many
/// sub-slots as events, rounded up to a power of two, at most 16,384,
/// latest first), then each sub-slot is sorted by the whole key. Launch
/// day holds hundreds to thousands of events a slot: a comparison sort of
/// them cost 15% of the run, a three-pass radix sort with 1,024 digits
/// (each pass clearing, scanning and summing its counts) 13.6% of the
/// instructions (callgrind, 10 h), this with the slot buffers' upkeep 8.6%.
fn sort_slot<'a, E: Copy + 'a>(
    sources: impl Iterator<Item = &'a [Entry<E>]> + Clone,
    n: usize,
    out: &mut Vec<Entry<E>>,
    counts: &mut Vec<u32>,
    slot_start: u64,
) {
    let bits = (usize::BITS - n.leading_zeros()).min(MAX_BUCKET_BITS);
    let shift = SLOT_SHIFT - bits;
    let buckets = 1usize << bits;
    // Latest sub-slot first: the reversed offset picks the bucket.
    let bucket = |e: &Entry<E>| {
        let offset = ((e.key >> 64) as u64).wrapping_sub(slot_start);
        (buckets - 1) - (offset >> shift) as usize
    };
    counts.clear();
    counts.resize(buckets + 1, 0);
    // Slice by slice: a flattened iterator costs a branch per event.
    for source in sources.clone() {
        for e in source {
            counts[bucket(e) + 1] += 1;
        }
    }
    for b in 1..=buckets {
        counts[b] += counts[b - 1];
    }
    // counts[b] is where sub-slot b starts; it moves up as the sub-slot
    // fills, and ends where sub-slot b + 1 starts.
    let Some(&first) = sources.clone().flatten().next() else {
        out.clear();
        return;
    };
    out.clear();
    out.resize(n, first);
    for source in sources {
        for e in source {
            let b = bucket(e);
            out[counts[b] as usize] = *e;
            counts[b] += 1;
        }
    }
    let mut start = 0;
    for &end in &counts[..buckets] {
        let end = end as usize;
        let run = &mut out[start..end];
        if run.len() > INSERTION_UP_TO {
            run.sort_unstable_by_key(|e| std::cmp::Reverse(e.key));
        } else {
            for i in 1..run.len() {
                let e = run[i];
                let mut j = i;
                while j > 0 && run[j - 1].key < e.key {
                    run[j] = run[j - 1];
                    j -= 1;
                }
                run[j] = e;
            }
        }
        start = end;
    }
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
            chunks: BTreeMap::new(),
            spare: std::array::from_fn(|_| Vec::new()),
            spare_room: 0,
            scratch: Vec::new(),
            counts: Vec::new(),
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
    #[inline(always)]
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
            if cell.len() == cell.capacity() {
                self.grow_cell(slot);
            }
            self.ring[(slot % RING) as usize].push(entry);
            self.ring_len += 1;
        } else {
            self.beyond.entry(slot).or_default().push(entry);
        }
        self.far_len += 1;
    }

    /// Make room in the full buffer of ring slot `slot`: a spare buffer
    /// for an empty slot, a copy into one twice as large for a small
    /// buffer, or a new buffer of CHUNK events beside a full one of at
    /// least that size, which is set aside whole.
    #[cold]
    #[inline(never)]
    fn grow_cell(&mut self, slot: u64) {
        let i = (slot % RING) as usize;
        let capacity = self.ring[i].capacity();
        if capacity < CHUNK {
            let wanted = (2 * capacity).max(FIRST_CHUNK);
            let mut buffer = self.take_spare(wanted);
            buffer.append(&mut self.ring[i]);
            let old = std::mem::replace(&mut self.ring[i], buffer);
            self.give_spare(old);
        } else {
            let buffer = self.take_spare(CHUNK);
            let full = std::mem::replace(&mut self.ring[i], buffer);
            self.chunks.entry(slot).or_default().push(full);
        }
    }

    /// An empty buffer with room for at least `wanted` events (at most
    /// CHUNK), from the spares if one is there.
    fn take_spare(&mut self, wanted: usize) -> Vec<Entry<E>> {
        let class = (wanted.max(FIRST_CHUNK) / FIRST_CHUNK)
            .next_power_of_two()
            .trailing_zeros();
        let class = (class as usize).min(SPARE_CLASSES - 1);
        match self.spare[class].pop() {
            Some(buffer) => {
                self.spare_room -= buffer.capacity();
                buffer
            }
            None => Vec::with_capacity(FIRST_CHUNK << class),
        }
    }

    /// Keep an emptied buffer for reuse, if it is one of the sizes far
    /// slots take and the spares have room.
    fn give_spare(&mut self, mut buffer: Vec<Entry<E>>) {
        let capacity = buffer.capacity();
        if !(FIRST_CHUNK..=CHUNK).contains(&capacity) || self.spare_room + capacity > SPARE_ROOM {
            return;
        }
        // The class whose size it can hold: FIRST_CHUNK · 2^k ≤ capacity.
        let class = (capacity / FIRST_CHUNK).ilog2() as usize;
        buffer.clear();
        self.spare_room += capacity;
        self.spare[class].push(buffer);
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
            let chunks = if self.chunks.is_empty() {
                Vec::new()
            } else {
                self.chunks.remove(&slot).unwrap_or_default()
            };
            let n = entries.len() + chunks.iter().map(Vec::len).sum::<usize>();
            self.ring_len -= n;
            self.far_len -= n;
            self.horizon = (slot + 1) << SLOT_SHIFT;
            let spent = std::mem::take(&mut self.run);
            self.run = if n < BUCKET_FROM && chunks.is_empty() {
                // Keys are unique (sequence numbers): an unstable sort is exact.
                entries.sort_unstable_by_key(|e| std::cmp::Reverse(e.key));
                self.give_spare(spent);
                entries
            } else {
                let mut sorted = std::mem::take(&mut self.scratch);
                let sources = chunks.iter().map(Vec::as_slice).chain([entries.as_slice()]);
                sort_slot(
                    sources,
                    n,
                    &mut sorted,
                    &mut self.counts,
                    slot << SLOT_SHIFT,
                );
                // The larger of the spent buffers is the next sort's scratch.
                entries.clear();
                let (larger, smaller) = if entries.capacity() >= spent.capacity() {
                    (entries, spent)
                } else {
                    (spent, entries)
                };
                self.scratch = larger;
                self.give_spare(smaller);
                for chunk in chunks {
                    self.give_spare(chunk);
                }
                sorted
            };
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
    #[inline(always)]
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

    #[test]
    fn a_slot_of_many_buffers_pops_in_order() {
        // 20,000 events in two far slots (hundreds of full buffers set
        // aside), many at equal times: they pop in (time, sequence) order.
        let mut q = EventQueue::new();
        let mut expected = Vec::new();
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for seq in 0..20_000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let slot = 5 + (x >> 63);
            let offset = if x & 4 == 0 {
                x & 0xFF
            } else {
                (x >> 8) % (1 << SLOT_SHIFT)
            };
            let at = SimTime((slot << SLOT_SHIFT) + offset);
            q.schedule(at, seq);
            expected.push((at, seq));
        }
        expected.sort();
        let got: Vec<_> = std::iter::from_fn(|| q.pop()).collect();
        assert_eq!(got, expected);
        assert!(q.is_empty());
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
