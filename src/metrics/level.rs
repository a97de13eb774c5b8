//! Time-weighted statistics of a piecewise-constant level.

use crate::engine::SimTime;

/// Where a level's clock is, relative to its measurement window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Before,
    In,
    After,
}

/// A non-negative integer quantity that changes at event times (queue
/// length, busy GPUs, online GPUs), integrated over time.
///
/// It keeps one integral, from time zero (value × nanoseconds, exact in
/// integers), and reads the integral over a fixed measurement window
/// `[from, to)` (the post-warm-up period) and over the current time bucket
/// (which the owner closes with [`close_bucket`](Self::close_bucket)) as
/// differences of it, taken when the window's edges and the bucket's end
/// are passed. A change costs one multiply-add and one comparison with the
/// next window edge. Time must not go backwards between calls.
#[derive(Clone, Debug)]
pub struct Level {
    value: u64,
    since: SimTime,
    /// ∫ value dt over `[0, since)`.
    area: u128,
    /// The next window edge not yet passed (`SimTime::MAX`: both are).
    next_edge: SimTime,
    window: (SimTime, SimTime),
    /// Where `since` is, relative to the window.
    phase: Phase,
    /// `area` at the window's start, once passed.
    window_start_area: u128,
    /// The integral over the window, once its end is passed.
    window_area: u128,
    /// The largest value held for a positive time since the window's
    /// start (before it: since time zero).
    running_max: u64,
    /// `running_max` when the window's end was passed.
    window_max: u64,
    bucket_start: SimTime,
    /// `area` at the bucket's start.
    bucket_start_area: u128,
    bucket_max: u64,
}

impl Level {
    /// A level of `initial` from time zero, measured over `[from, to)`.
    pub fn new(initial: u64, from: SimTime, to: SimTime) -> Self {
        Level {
            value: initial,
            since: SimTime::ZERO,
            area: 0,
            next_edge: from,
            window: (from, to.max(from)),
            phase: Phase::Before,
            window_start_area: 0,
            window_area: 0,
            running_max: 0,
            window_max: 0,
            bucket_start: SimTime::ZERO,
            bucket_start_area: 0,
            bucket_max: initial,
        }
    }

    /// The current value.
    #[inline]
    pub fn value(&self) -> u64 {
        self.value
    }

    /// Change the level to `value` at time `now`.
    #[inline]
    pub fn set(&mut self, now: SimTime, value: u64) {
        self.accrue(now);
        self.value = value;
        self.bucket_max = self.bucket_max.max(value);
    }

    /// Add `delta` (may be negative) at time `now`.
    #[inline]
    pub fn add(&mut self, now: SimTime, delta: i64) {
        let v = self
            .value
            .checked_add_signed(delta)
            .expect("level below zero");
        self.set(now, v);
    }

    #[inline]
    fn accrue(&mut self, now: SimTime) {
        if now <= self.since {
            return;
        }
        if now > self.next_edge {
            self.pass_edges(now);
        }
        self.area += u128::from(self.value) * u128::from(now.0 - self.since.0);
        self.running_max = self.running_max.max(self.value);
        self.since = now;
    }

    /// `[since, now)` holds a window edge: integrate up to each edge it
    /// holds, and start or end the window there.
    #[cold]
    fn pass_edges(&mut self, now: SimTime) {
        while now > self.next_edge {
            let edge = self.next_edge;
            if edge > self.since {
                self.area += u128::from(self.value) * u128::from(edge.0 - self.since.0);
                self.running_max = self.running_max.max(self.value);
                self.since = edge;
            }
            if self.phase == Phase::Before {
                self.phase = Phase::In;
                self.window_start_area = self.area;
                self.running_max = 0;
                self.next_edge = self.window.1;
            } else {
                self.phase = Phase::After;
                self.window_area = self.area - self.window_start_area;
                self.window_max = self.running_max;
                self.next_edge = SimTime::MAX;
            }
        }
    }

    /// Close the current bucket at `end`: returns its time-average and its
    /// maximum (the largest value held at any instant of the bucket), and
    /// starts the next bucket at `end`.
    pub fn close_bucket(&mut self, end: SimTime) -> (f64, u64) {
        self.accrue(end);
        let width = end.0.saturating_sub(self.bucket_start.0);
        let bucket_area = self.area - self.bucket_start_area;
        let mean = if width > 0 {
            bucket_area as f64 / width as f64
        } else {
            self.value as f64
        };
        let max = self.bucket_max;
        self.bucket_start = end;
        self.bucket_start_area = self.area;
        self.bucket_max = self.value;
        (mean, max)
    }

    /// The integral over the window up to `since`, and the largest value
    /// held in it for a positive time.
    fn window_so_far(&self) -> (u128, u64) {
        match self.phase {
            Phase::Before => (0, 0),
            Phase::In => (self.area - self.window_start_area, self.running_max),
            Phase::After => (self.window_area, self.window_max),
        }
    }

    /// Time-average over the measurement window, counting up to `now`
    /// (call after the window has ended for the full-window average).
    pub fn window_mean(&mut self, now: SimTime) -> f64 {
        self.accrue(now);
        let (from, to) = self.window;
        // A run stopped early covers the window only up to `now`.
        let width = to.min(now).0.saturating_sub(from.0);
        if width == 0 {
            return self.value as f64;
        }
        self.window_so_far().0 as f64 / width as f64
    }

    /// The time integral over the window so far, in value × seconds.
    pub fn window_integral_s(&mut self, now: SimTime) -> f64 {
        self.accrue(now);
        self.window_so_far().0 as f64 / 1e9
    }

    /// The largest value held for a positive time inside the window.
    pub fn window_max(&self) -> u64 {
        self.window_so_far().1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integrates_only_inside_the_window() {
        // Window [10, 20): value 2 on [0, 15), 4 on [15, 30).
        let mut l = Level::new(2, SimTime(10), SimTime(20));
        l.set(SimTime(15), 4);
        let mean = l.window_mean(SimTime(30));
        assert_eq!(mean, (2.0 * 5.0 + 4.0 * 5.0) / 10.0);
        assert_eq!(l.window_max(), 4);
    }

    #[test]
    fn buckets_split_at_their_boundaries() {
        let mut l = Level::new(0, SimTime(0), SimTime(100));
        l.set(SimTime(5), 3);
        let (mean, max) = l.close_bucket(SimTime(10));
        assert_eq!((mean, max), (1.5, 3));
        l.set(SimTime(12), 1);
        let (mean, max) = l.close_bucket(SimTime(20));
        assert_eq!((mean, max), ((3.0 * 2.0 + 8.0) / 10.0, 3));
    }

    /// The obvious integrals, kept per piece: the reference the level's
    /// differences of one integral are checked against.
    struct Naive {
        pieces: Vec<(u64, u64, u64)>,
        value: u64,
        since: u64,
    }

    impl Naive {
        fn set(&mut self, now: u64, value: u64) {
            if now > self.since {
                self.pieces.push((self.since, now, self.value));
                self.since = now;
            }
            self.value = value;
        }
        fn area(&self, lo: u64, hi: u64) -> u128 {
            self.pieces
                .iter()
                .map(|&(a, b, v)| {
                    let (a, b) = (a.max(lo), b.min(hi));
                    if b > a {
                        u128::from(v) * u128::from(b - a)
                    } else {
                        0
                    }
                })
                .sum()
        }
        fn max(&self, lo: u64, hi: u64) -> u64 {
            self.pieces
                .iter()
                .filter(|&&(a, b, _)| b.min(hi) > a.max(lo))
                .map(|p| p.2)
                .max()
                .unwrap_or(0)
        }
    }

    proptest::proptest! {
        /// Window and bucket integrals and maxima, read as differences of
        /// one running integral, equal the piecewise sums exactly, for
        /// windows before, across, inside and after the changes.
        #[test]
        fn differences_of_one_integral_match_the_pieces(
            steps in proptest::collection::vec((0u64..50, 0u64..20, proptest::bool::ANY), 0..80),
            from in 0u64..600,
            len in 0u64..600,
            initial in 0u64..5,
        ) {
            let to = from + len;
            let mut l = Level::new(initial, SimTime(from), SimTime(to));
            let mut naive = Naive { pieces: Vec::new(), value: initial, since: 0 };
            let (mut now, mut bucket_start) = (0u64, 0u64);
            for (dt, v, close) in steps {
                now += dt;
                if close {
                    naive.set(now, naive.value);
                    let (mean, _) = l.close_bucket(SimTime(now));
                    let width = now - bucket_start;
                    if width > 0 {
                        let expected = naive.area(bucket_start, now) as f64 / width as f64;
                        proptest::prop_assert_eq!(mean, expected);
                    }
                    bucket_start = now;
                }
                l.set(SimTime(now), v);
                naive.set(now, v);
            }
            let end = now + 10;
            naive.set(end, naive.value);
            let integral = l.window_integral_s(SimTime(end));
            proptest::prop_assert_eq!(integral, naive.area(from, to.min(end)) as f64 / 1e9);
            let width = to.min(end).saturating_sub(from);
            let mean = l.window_mean(SimTime(end));
            if width > 0 {
                proptest::prop_assert_eq!(mean, naive.area(from, to) as f64 / width as f64);
            }
            proptest::prop_assert_eq!(l.window_max(), naive.max(from, to));
        }
    }
}
