//! A small, fast log-linear histogram for per-bucket time-series quantiles.

use crate::engine::SimDuration;

/// Sub-buckets per power of two: 2^SUB_BITS.
const SUB_BITS: u32 = 6;
const SUB: u64 = 1 << SUB_BITS;
/// Number of cells: exact cells 0..64, then 64 cells for each power of two
/// from 2^6 to 2^63.
const CELLS: usize = ((64 - SUB_BITS) as usize) * SUB as usize + SUB as usize;
/// Blocks of SUB cells, each with its total, so that a quantile walks the
/// blocks and then one block's cells.
const BLOCKS: usize = CELLS / SUB as usize;

/// A log-linear histogram of nanosecond durations: values below 64 ns are
/// exact, larger ones fall into one of 64 equal cells per power of two, and
/// a quantile is reported as its cell's midpoint, so the relative error is
/// at most 1/128 (≈ 0.8%).
///
/// It tracks the range of cells in use, so that resetting it costs time
/// proportional to the spread of the values, not to the size of the
/// histogram (the time series resets one per class per bucket), and a
/// total per block of 64 cells, so that a quantile walks at most 59 blocks
/// and 64 cells.
#[derive(Clone, Debug)]
pub struct CompactHistogram {
    counts: Vec<u32>,
    blocks: Vec<u64>,
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
            blocks: vec![0; BLOCKS],
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
        self.blocks[c / SUB as usize] += 1;
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
        self.quantiles_s([q])[0]
    }

    /// Several quantiles (nearest rank, `qs` increasing) in one pass over
    /// the cells; `None`s if empty.
    pub fn quantiles_s<const N: usize>(&self, qs: [f64; N]) -> [Option<f64>; N] {
        let mut out = [None; N];
        if self.total == 0 {
            return out;
        }
        debug_assert!(qs.windows(2).all(|w| w[0] <= w[1]), "increasing quantiles");
        let ranks = qs.map(|q| ((q * self.total as f64).ceil() as u64).clamp(1, self.total));
        // `seen` counts the values in the blocks before `b`.
        let mut seen = 0u64;
        let mut b = self.lo / SUB as usize;
        for (k, &rank) in ranks.iter().enumerate() {
            while b < BLOCKS && seen + self.blocks[b] < rank {
                seen += self.blocks[b];
                b += 1;
            }
            if b == BLOCKS {
                out[k] = Some(value_of(self.hi) as f64 / 1e9);
                continue;
            }
            // The rank falls in block b: walk its cells.
            let mut in_block = seen;
            let start = b * SUB as usize;
            let cell = (start..start + SUB as usize)
                .find(|&c| {
                    in_block += u64::from(self.counts[c]);
                    in_block >= rank
                })
                .unwrap_or(self.hi);
            out[k] = Some(value_of(cell) as f64 / 1e9);
        }
        out
    }

    /// Add every value of `other`.
    pub fn merge(&mut self, other: &CompactHistogram) {
        if other.total == 0 {
            return;
        }
        for c in other.lo..=other.hi {
            self.counts[c] = self.counts[c].saturating_add(other.counts[c]);
        }
        for b in other.lo / SUB as usize..=other.hi / SUB as usize {
            self.blocks[b] += other.blocks[b];
        }
        self.lo = self.lo.min(other.lo);
        self.hi = self.hi.max(other.hi);
        self.total += other.total;
    }

    /// Forget every value.
    pub fn reset(&mut self) {
        if self.total > 0 {
            self.counts[self.lo..=self.hi].fill(0);
            self.blocks[self.lo / SUB as usize..=self.hi / SUB as usize].fill(0);
        }
        self.lo = CELLS;
        self.hi = 0;
        self.total = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// Several quantiles at once, after a reset and a merge (which
        /// must keep the block totals right), against sorted values.
        #[test]
        fn one_pass_quantiles_match_sorted_values(
            old in proptest::collection::vec(0u64..1u64 << 40, 0..50),
            a in proptest::collection::vec(0u64..1u64 << 40, 1..300),
            b in proptest::collection::vec(0u64..1u64 << 36, 0..300),
        ) {
            let mut h = CompactHistogram::new();
            for &x in &old {
                h.record(SimDuration(x));
            }
            h.reset();
            let mut other = CompactHistogram::new();
            for &x in &a {
                h.record(SimDuration(x));
            }
            for &x in &b {
                other.record(SimDuration(x));
            }
            h.merge(&other);
            let mut xs: Vec<u64> = a.iter().chain(&b).copied().collect();
            xs.sort_unstable();
            let qs = [0.0, 0.25, 0.5, 0.95, 0.99, 1.0];
            for (q, got) in qs.iter().zip(h.quantiles_s(qs)) {
                let rank = ((q * xs.len() as f64).ceil() as usize).clamp(1, xs.len());
                let exact = xs[rank - 1] as f64 / 1e9;
                let got = got.unwrap();
                proptest::prop_assert!(
                    (got - exact).abs() <= exact / 128.0 + 1e-9,
                    "q = {}: {} vs {}", q, got, exact
                );
            }
        }
    }

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
