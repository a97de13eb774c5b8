//! A small, fast log-linear histogram for per-bucket time-series quantiles.

use crate::engine::SimDuration;

/// Sub-buckets per power of two: 2^SUB_BITS.
const SUB_BITS: u32 = 6;
const SUB: u64 = 1 << SUB_BITS;
/// Number of cells: exact cells 0..64, then 64 cells for each power of two
/// from 2^6 to 2^63.
const CELLS: usize = ((64 - SUB_BITS) as usize) * SUB as usize + SUB as usize;

/// A log-linear histogram of nanosecond durations: values below 64 ns are
/// exact, larger ones fall into one of 64 equal cells per power of two, and
/// a quantile is reported as its cell's midpoint, so the relative error is
/// at most 1/128 (≈ 0.8%).
///
/// It tracks the range of cells in use, so that resetting it and reading a
/// quantile cost time proportional to the spread of the values, not to the
/// size of the histogram: the time series resets one per class per bucket.
#[derive(Clone, Debug)]
pub struct CompactHistogram {
    counts: Vec<u32>,
    lo: usize,
    hi: usize,
    total: u64,
}

impl Default for CompactHistogram {
    fn default() -> Self {
        Self::new()
    }
}

#[inline]
fn cell_of(v: u64) -> usize {
    if v < SUB {
        v as usize
    } else {
        let e = 63 - v.leading_zeros();
        let sub = (v >> (e - SUB_BITS)) - SUB;
        ((e - SUB_BITS + 1) as usize) * SUB as usize + sub as usize
    }
}

/// The midpoint of a cell.
fn value_of(cell: usize) -> u64 {
    if cell < SUB as usize {
        return cell as u64;
    }
    let block = (cell / SUB as usize) as u32;
    let sub = (cell % SUB as usize) as u64;
    let shift = block - 1;
    let lower = (SUB + sub) << shift;
    let width = 1u64 << shift;
    lower + (width - 1) / 2
}

impl CompactHistogram {
    /// An empty histogram.
    pub fn new() -> Self {
        CompactHistogram {
            counts: vec![0; CELLS],
            lo: CELLS,
            hi: 0,
            total: 0,
        }
    }

    /// Record one duration.
    #[inline]
    pub fn record(&mut self, d: SimDuration) {
        let c = cell_of(d.0);
        self.counts[c] = self.counts[c].saturating_add(1);
        self.lo = self.lo.min(c);
        self.hi = self.hi.max(c);
        self.total += 1;
    }

    /// Number of values recorded.
    pub fn count(&self) -> u64 {
        self.total
    }

    /// The `q`-quantile (nearest rank) in seconds; `None` if empty.
    pub fn quantile_s(&self, q: f64) -> Option<f64> {
        if self.total == 0 {
            return None;
        }
        let rank = ((q * self.total as f64).ceil() as u64).clamp(1, self.total);
        let mut seen = 0u64;
        for c in self.lo..=self.hi {
            seen += u64::from(self.counts[c]);
            if seen >= rank {
                return Some(value_of(c) as f64 / 1e9);
            }
        }
        Some(value_of(self.hi) as f64 / 1e9)
    }

    /// Add every value of `other`.
    pub fn merge(&mut self, other: &CompactHistogram) {
        if other.total == 0 {
            return;
        }
        for c in other.lo..=other.hi {
            self.counts[c] = self.counts[c].saturating_add(other.counts[c]);
        }
        self.lo = self.lo.min(other.lo);
        self.hi = self.hi.max(other.hi);
        self.total += other.total;
    }

    /// Forget every value.
    pub fn reset(&mut self) {
        if self.total > 0 {
            self.counts[self.lo..=self.hi].fill(0);
        }
        self.lo = CELLS;
        self.hi = 0;
        self.total = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_monotone_and_cover_u64() {
        let mut last = 0;
        for v in (0..10_000u64).chain([u64::MAX / 3, u64::MAX - 1, u64::MAX]) {
            let c = cell_of(v);
            assert!(c >= last && c < CELLS, "v = {v}");
            last = c;
        }
        assert_eq!(cell_of(u64::MAX), CELLS - 1);
    }

    #[test]
    fn midpoints_are_within_the_stated_precision() {
        for v in [
            0u64,
            1,
            63,
            64,
            65,
            127,
            128,
            1000,
            123_456_789,
            1 << 40,
            u64::MAX >> 1,
        ] {
            let m = value_of(cell_of(v));
            let err = (m as f64 - v as f64).abs();
            assert!(err <= v as f64 / 128.0 + 0.5, "v = {v}, midpoint {m}");
        }
    }

    #[test]
    fn quantiles_match_an_exact_oracle() {
        let mut h = CompactHistogram::new();
        let mut xs: Vec<u64> = (1..=5000u64)
            .map(|i| (i * 7919 % 5003) * 1_000_003)
            .collect();
        for &x in &xs {
            h.record(SimDuration(x));
        }
        xs.sort_unstable();
        for q in [0.0, 0.5, 0.9, 0.99, 1.0] {
            let rank = ((q * xs.len() as f64).ceil() as usize).clamp(1, xs.len());
            let exact = xs[rank - 1] as f64 / 1e9;
            let got = h.quantile_s(q).unwrap();
            assert!(
                (got - exact).abs() <= exact / 128.0 + 1e-9,
                "q = {q}: {got} vs {exact}"
            );
        }
    }

    #[test]
    fn reset_and_merge() {
        let mut a = CompactHistogram::new();
        let mut b = CompactHistogram::new();
        a.record(SimDuration(10));
        b.record(SimDuration(1_000_000));
        a.merge(&b);
        assert_eq!(a.count(), 2);
        assert_eq!(
            a.quantile_s(1.0),
            Some(value_of(cell_of(1_000_000)) as f64 / 1e9)
        );
        a.reset();
        assert_eq!(a.count(), 0);
        assert_eq!(a.quantile_s(0.5), None);
        assert!(a.counts.iter().all(|&c| c == 0));
    }
}
