//! Duration histograms.
//!
//! The layout is the HDR histogram's (Gil Tene's HdrHistogram, as the
//! `hdrhistogram` crate implements it) with a lowest discernible value of
//! 1 ns: values below 2·10^sigfig (rounded up to a power of two) are
//! counted exactly, and every power of two above has as many equal cells.
//! Recording is the simulation's hottest statistic (two or three per
//! request), so it is done here in a few instructions — a leading-zero
//! count, a shift, an increment — without the crate's range checks,
//! min/max tracking and resizing; the quantiles, merges and counts are the
//! crate's to the bit (a property test compares them with `hdrhistogram`).

use crate::engine::SimDuration;

/// Largest recordable duration: 2^52 ns ≈ 52 days. Longer values are
/// clamped to it (and still counted).
const MAX_NANOS: u64 = 1 << 52;

/// A histogram of durations with an exact mean.
///
/// Quantiles come from an HDR histogram with `sigfig` significant decimal
/// digits (relative error ≤ 10^-sigfig) over 1 ns … 52 days; the mean is
/// computed from an exact 128-bit sum of nanoseconds, not from the buckets.
#[derive(Clone, Debug)]
pub struct DurationHistogram {
    counts: Box<[u64]>,
    /// log2 of half the cells per power of two.
    half_magnitude: u32,
    /// Values at or below it are counted exactly (2^(half_magnitude+1) − 1).
    exact_mask: u64,
    total: u64,
    sum_nanos: u128,
}

impl DurationHistogram {
    /// A histogram with 3 significant digits (for run statistics).
    pub fn new() -> Self {
        Self::with_sigfig(3)
    }

    /// A histogram with `sigfig` significant digits (1 to 5).
    pub fn with_sigfig(sigfig: u8) -> Self {
        assert!((1..=5).contains(&sigfig), "1 to 5 significant digits");
        // As hdrhistogram: unit resolution up to 2·10^sigfig, rounded up
        // to a power of two cells per bucket.
        let largest = 2 * 10_u32.pow(u32::from(sigfig));
        let magnitude = f64::from(largest).log2().ceil() as u32;
        let half_magnitude = magnitude - 1;
        let exact_mask = (1u64 << magnitude) - 1;
        // Buckets to cover MAX_NANOS: bucket k holds values below 2^(magnitude+k).
        let buckets = 64 - MAX_NANOS.leading_zeros() - magnitude + 1;
        let len = ((buckets + 1) as usize) << half_magnitude;
        DurationHistogram {
            counts: vec![0; len].into_boxed_slice(),
            half_magnitude,
            exact_mask,
            total: 0,
            sum_nanos: 0,
        }
    }

    /// The bucket (power of two above the exact range) of `v`.
    #[inline(always)]
    fn bucket_of(&self, v: u64) -> u32 {
        (64 - self.half_magnitude - 1) - (v | self.exact_mask).leading_zeros()
    }

    /// The cell of `v` (at most MAX_NANOS).
    #[inline(always)]
    fn index_of(&self, v: u64) -> usize {
        let bucket = self.bucket_of(v);
        let sub = (v >> bucket) as usize;
        ((bucket as usize + 1) << self.half_magnitude) + sub - (1usize << self.half_magnitude)
    }

    /// The lowest value of cell `index`.
    fn value_of(&self, index: usize) -> u64 {
        let half = 1usize << self.half_magnitude;
        let bucket = (index >> self.half_magnitude) as i64 - 1;
        let sub = (index & (half - 1)) + half;
        if bucket < 0 {
            (sub - half) as u64
        } else {
            (sub as u64) << bucket
        }
    }

    /// The highest value in the same cell as `v`.
    fn highest_equivalent(&self, v: u64) -> u64 {
        let bucket = self.bucket_of(v);
        let lowest = (v >> bucket) << bucket;
        lowest.saturating_add(1 << bucket) - 1
    }

    /// Record one duration.
    #[inline]
    pub fn record(&mut self, d: SimDuration) {
        let i = self.index_of(d.0.min(MAX_NANOS));
        // In range by construction: MAX_NANOS has the last used cell.
        self.counts[i] += 1;
        self.total += 1;
        self.sum_nanos += u128::from(d.0);
    }

    /// Number of values recorded.
    pub fn count(&self) -> u64 {
        self.total
    }

    /// Exact mean in seconds; `None` if empty.
    pub fn mean_s(&self) -> Option<f64> {
        let n = self.count();
        (n > 0).then(|| self.sum_nanos as f64 / n as f64 / 1e9)
    }

    /// The `q`-quantile (0 ≤ q ≤ 1) in seconds, within the histogram's
    /// precision; `None` if empty. As HDR: the highest value of the cell
    /// holding the value of rank ⌈q·n⌉ (at least 1); for q = 0 the lowest.
    pub fn quantile_s(&self, q: f64) -> Option<f64> {
        if self.total == 0 {
            return None;
        }
        let q = q.min(1.0);
        let rank = ((q * self.total as f64).ceil() as u64).max(1);
        let mut seen = 0u64;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                let v = self.value_of(i);
                let v = if q == 0.0 {
                    v
                } else {
                    self.highest_equivalent(v)
                };
                return Some(v as f64 / 1e9);
            }
        }
        Some(0.0)
    }

    /// Fraction of recorded values ≤ `bound`, within the histogram's precision.
    pub fn fraction_at_most(&self, bound: SimDuration) -> Option<f64> {
        if self.total == 0 {
            return None;
        }
        let last = self.index_of(bound.0.min(MAX_NANOS));
        let below: u64 = self.counts[..=last].iter().sum();
        Some(below as f64 / self.total as f64)
    }

    /// Add every value of `other` (same precision).
    pub fn merge(&mut self, other: &DurationHistogram) {
        assert_eq!(
            self.half_magnitude, other.half_magnitude,
            "histograms of the same precision"
        );
        for (a, b) in self.counts.iter_mut().zip(other.counts.iter()) {
            *a += b;
        }
        self.total += other.total;
        self.sum_nanos += other.sum_nanos;
    }

    /// Forget every value.
    pub fn reset(&mut self) {
        self.counts.fill(0);
        self.total = 0;
        self.sum_nanos = 0;
    }
}

impl Default for DurationHistogram {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Exact oracle: the nearest-rank quantile of a sorted sample.
    fn exact_quantile(sorted: &[u64], q: f64) -> u64 {
        let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
        sorted[rank - 1]
    }

    #[test]
    fn quantiles_are_within_three_significant_digits_of_exact() {
        let mut h = DurationHistogram::new();
        let mut xs: Vec<u64> = (1..=10_000u64)
            .map(|i| i * i * 997 % 1_000_000_007)
            .collect();
        for &x in &xs {
            h.record(SimDuration(x));
        }
        xs.sort_unstable();
        for q in [0.0, 0.01, 0.5, 0.9, 0.95, 0.99, 0.999, 1.0] {
            let exact = exact_quantile(&xs, q) as f64 / 1e9;
            let got = h.quantile_s(q).unwrap();
            assert!(
                (got - exact).abs() <= exact * 1e-3 + 1e-9,
                "q = {q}: {got} vs {exact}"
            );
        }
    }

    #[test]
    fn mean_is_exact_and_empty_is_none() {
        let mut h = DurationHistogram::new();
        assert_eq!(h.mean_s(), None);
        assert_eq!(h.quantile_s(0.5), None);
        h.record(SimDuration(1));
        h.record(SimDuration(2));
        assert_eq!(h.mean_s(), Some(1.5e-9));
    }

    #[test]
    fn zero_and_huge_values_are_counted() {
        let mut h = DurationHistogram::new();
        h.record(SimDuration::ZERO);
        h.record(SimDuration(u64::MAX));
        assert_eq!(h.count(), 2);
        assert_eq!(h.quantile_s(0.0), Some(0.0));
    }

    proptest::proptest! {
        /// Quantiles, fractions and merges are hdrhistogram's to the bit.
        #[test]
        fn agrees_with_hdrhistogram(
            xs in proptest::collection::vec(
                proptest::prop_oneof![0u64..3000, 0u64..10_000_000_000, 0u64..u64::MAX],
                1..300,
            ),
            split in 0usize..300,
            bound in 0u64..20_000_000_000,
            sigfig in 1u8..=5,
        ) {
            let mut ours = DurationHistogram::with_sigfig(sigfig);
            let mut other = DurationHistogram::with_sigfig(sigfig);
            let mut theirs =
                hdrhistogram::Histogram::<u64>::new_with_bounds(1, MAX_NANOS, sigfig).unwrap();
            for (i, &x) in xs.iter().enumerate() {
                if i < split { ours.record(SimDuration(x)) } else { other.record(SimDuration(x)) }
                theirs.saturating_record(x.min(MAX_NANOS));
            }
            ours.merge(&other);
            proptest::prop_assert_eq!(ours.count(), theirs.len());
            for q in [0.0, 0.001, 0.25, 0.5, 0.9, 0.95, 0.99, 0.999, 1.0] {
                let expected = theirs.value_at_quantile(q) as f64 / 1e9;
                proptest::prop_assert_eq!(ours.quantile_s(q), Some(expected), "q = {}", q);
            }
            let expected = theirs.count_between(0, bound.min(MAX_NANOS)) as f64 / theirs.len() as f64;
            proptest::prop_assert_eq!(ours.fraction_at_most(SimDuration(bound)), Some(expected));
        }
    }

    #[test]
    fn merge_adds_counts() {
        let mut a = DurationHistogram::new();
        let mut b = DurationHistogram::new();
        a.record(SimDuration(10));
        b.record(SimDuration(30));
        a.merge(&b);
        assert_eq!(a.count(), 2);
        assert_eq!(a.mean_s(), Some(20e-9));
    }
}
