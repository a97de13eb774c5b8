//! Statistics over replications: the mean with its Student-t 95%
//! confidence interval, and Welch's test for comparing two sets of runs.
//!
//! Used by SLO judgements, sweeps, comparisons and the report alike; it
//! depends on nothing but statrs.

use statrs::distribution::{ContinuousCDF, StudentsT};

/// The mean of independent replications with its 95% confidence interval.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Estimate {
    /// Sample mean.
    pub mean: f64,
    /// Sample standard deviation (n − 1 denominator); `None` if n < 2.
    pub std_dev: Option<f64>,
    /// Half-width of the Student-t interval (95% unless made by
    /// [`estimate_at`]); `None` if n < 2.
    pub half_width: Option<f64>,
    /// Number of values.
    pub n: usize,
}

impl Estimate {
    /// Lower end of the interval.
    pub fn low(&self) -> Option<f64> {
        self.half_width.map(|h| self.mean - h)
    }
    /// Upper end of the interval.
    pub fn high(&self) -> Option<f64> {
        self.half_width.map(|h| self.mean + h)
    }
}

/// Estimate from replication values; `None` if there are none.
///
/// Half-width = t(0.975, n − 1) · s / √n, the interval for the mean of
/// n independent, roughly normal replication means.
pub fn estimate(values: &[f64]) -> Option<Estimate> {
    estimate_at(values, 0.95)
}

/// [`estimate`] with a two-sided interval at `confidence` (in (0, 1)) in
/// place of 95%: half-width = t((1 + confidence) / 2, n − 1) · s / √n.
pub fn estimate_at(values: &[f64], confidence: f64) -> Option<Estimate> {
    let n = values.len();
    if n == 0 {
        return None;
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    if n < 2 {
        return Some(Estimate {
            mean,
            std_dev: None,
            half_width: None,
            n,
        });
    }
    let var = values.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    let sd = var.sqrt();
    let t = StudentsT::new(0.0, 1.0, (n - 1) as f64)
        .expect("n ≥ 2 gives a valid t distribution")
        .inverse_cdf(0.5 + confidence.clamp(1e-6, 1.0 - 1e-9) / 2.0);
    Some(Estimate {
        mean,
        std_dev: Some(sd),
        half_width: Some(t * sd / (n as f64).sqrt()),
        n,
    })
}

/// Welch's t-test: the one-sided p-value that the mean of `b` exceeds the
/// mean of `a` by chance (Welch–Satterthwaite degrees of freedom). `None`
/// when either side has fewer than 2 values or no variance.
pub fn welch_p_greater(a: &[f64], b: &[f64]) -> Option<f64> {
    let (ea, eb) = (estimate(a)?, estimate(b)?);
    let (sa, sb) = (ea.std_dev?, eb.std_dev?);
    let (na, nb) = (a.len() as f64, b.len() as f64);
    let (va, vb) = (sa * sa / na, sb * sb / nb);
    if va + vb <= 0.0 {
        return None;
    }
    let t = (eb.mean - ea.mean) / (va + vb).sqrt();
    let df = (va + vb).powi(2) / (va * va / (na - 1.0) + vb * vb / (nb - 1.0));
    let dist = StudentsT::new(0.0, 1.0, df).ok()?;
    Some(1.0 - dist.cdf(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_a_hand_computed_interval() {
        // 1..=5: mean 3, s = √2.5, t(0.975, 4) = 2.7764451.
        let e = estimate(&[1.0, 2.0, 3.0, 4.0, 5.0]).unwrap();
        assert_eq!(e.mean, 3.0);
        assert!((e.std_dev.unwrap() - 2.5f64.sqrt()).abs() < 1e-12);
        let expected = 2.776_445_105 * 2.5f64.sqrt() / 5f64.sqrt();
        assert!((e.half_width.unwrap() - expected).abs() < 1e-6);
    }

    #[test]
    fn the_level_sets_the_quantile() {
        // t(0.995, 4) = 4.6040949: a 99% interval is wider than 95%.
        let e = estimate_at(&[1.0, 2.0, 3.0, 4.0, 5.0], 0.99).unwrap();
        let expected = 4.604_094_9 * 2.5f64.sqrt() / 5f64.sqrt();
        assert!((e.half_width.unwrap() - expected).abs() < 1e-6);
        assert_eq!(estimate_at(&[1.0, 3.0], 0.95), estimate(&[1.0, 3.0]));
    }

    #[test]
    fn one_value_has_no_interval() {
        let e = estimate(&[4.0]).unwrap();
        assert_eq!((e.mean, e.half_width), (4.0, None));
        assert!(estimate(&[]).is_none());
    }
}
