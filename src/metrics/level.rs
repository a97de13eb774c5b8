//! Time-weighted statistics of a piecewise-constant level.

use crate::engine::SimTime;

/// A non-negative integer quantity that changes at event times (queue
/// length, busy GPUs, online GPUs), integrated over time.
///
/// It keeps two integrals: over a fixed measurement window `[from, to)`
/// (the post-warm-up period) and over the current time bucket, which the
/// owner closes with [`close_bucket`](Self::close_bucket). Time must not go
/// backwards between calls.
#[derive(Clone, Debug)]
pub struct Level {
    value: u64,
    since: SimTime,
    window: (SimTime, SimTime),
    window_area: u128,
    window_max: u64,
    bucket_start: SimTime,
    bucket_area: u128,
    bucket_max: u64,
}

impl Level {
    /// A level of `initial` from time zero, measured over `[from, to)`.
    pub fn new(initial: u64, from: SimTime, to: SimTime) -> Self {
        Level {
            value: initial,
            since: SimTime::ZERO,
            window: (from, to),
            window_area: 0,
            window_max: 0,
            bucket_start: SimTime::ZERO,
            bucket_area: 0,
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
        let area = u128::from(self.value) * u128::from(now.0 - self.since.0);
        self.bucket_area += area;
        let (from, to) = self.window;
        if self.since >= from && now <= to {
            self.window_area += area;
            self.window_max = self.window_max.max(self.value);
        } else {
            self.accrue_window_edge(now);
        }
        self.since = now;
    }

    /// The part of `[since, now)` inside the window, when it is not all of it.
    #[cold]
    fn accrue_window_edge(&mut self, now: SimTime) {
        let (from, to) = self.window;
        let lo = self.since.max(from);
        let hi = now.min(to);
        if hi > lo {
            self.window_area += u128::from(self.value) * u128::from(hi.0 - lo.0);
            self.window_max = self.window_max.max(self.value);
        }
    }

    /// Close the current bucket at `end`: returns its time-average and its
    /// maximum (the largest value held at any instant of the bucket), and
    /// starts the next bucket at `end`.
    pub fn close_bucket(&mut self, end: SimTime) -> (f64, u64) {
        self.accrue(end);
        let width = end.0.saturating_sub(self.bucket_start.0);
        let mean = if width > 0 {
            self.bucket_area as f64 / width as f64
        } else {
            self.value as f64
        };
        let max = self.bucket_max;
        self.bucket_start = end;
        self.bucket_area = 0;
        self.bucket_max = self.value;
        (mean, max)
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
        self.window_area as f64 / width as f64
    }

    /// The time integral over the window so far, in value × seconds.
    pub fn window_integral_s(&mut self, now: SimTime) -> f64 {
        self.accrue(now);
        self.window_area as f64 / 1e9
    }

    /// The largest value held for a positive time inside the window.
    pub fn window_max(&self) -> u64 {
        self.window_max
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
}
