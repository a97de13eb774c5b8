//! Duration histograms.

use crate::engine::SimDuration;
use hdrhistogram::Histogram;

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
    hist: Histogram<u64>,
    sum_nanos: u128,
}

impl DurationHistogram {
    /// A histogram with 3 significant digits (for run statistics).
    pub fn new() -> Self {
        Self::with_sigfig(3)
    }

    /// A histogram with `sigfig` significant digits (1 to 5).
    pub fn with_sigfig(sigfig: u8) -> Self {
        let hist = Histogram::new_with_bounds(1, MAX_NANOS, sigfig)
            .expect("static histogram bounds are valid");
        DurationHistogram { hist, sum_nanos: 0 }
    }

    /// Record one duration.
    #[inline]
    pub fn record(&mut self, d: SimDuration) {
        let v = d.0.min(MAX_NANOS);
        self.hist.saturating_record(v);
        self.sum_nanos += u128::from(d.0);
    }

    /// Number of values recorded.
    pub fn count(&self) -> u64 {
        self.hist.len()
    }

    /// Exact mean in seconds; `None` if empty.
    pub fn mean_s(&self) -> Option<f64> {
        let n = self.count();
        (n > 0).then(|| self.sum_nanos as f64 / n as f64 / 1e9)
    }

    /// The `q`-quantile (0 ≤ q ≤ 1) in seconds, within the histogram's
    /// precision; `None` if empty.
    pub fn quantile_s(&self, q: f64) -> Option<f64> {
        (self.count() > 0).then(|| self.hist.value_at_quantile(q) as f64 / 1e9)
    }

    /// Fraction of recorded values ≤ `bound`, within the histogram's precision.
    pub fn fraction_at_most(&self, bound: SimDuration) -> Option<f64> {
        let n = self.count();
        (n > 0).then(|| self.hist.count_between(0, bound.0.min(MAX_NANOS)) as f64 / n as f64)
    }

    /// Add every value of `other` (same precision or not).
    pub fn merge(&mut self, other: &DurationHistogram) {
        self.hist
            .add(&other.hist)
            .expect("histograms share the same bounds");
        self.sum_nanos += other.sum_nanos;
    }

    /// Forget every value.
    pub fn reset(&mut self) {
        self.hist.reset();
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
