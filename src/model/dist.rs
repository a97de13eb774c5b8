//! Probability distributions of durations (service demand, think time,
//! patience), parametrised the way planners know them: by mean and
//! coefficient of variation (cv = standard deviation / mean).
//!
//! Samplers come from `rand_distr` (exact algorithms: ziggurat for the
//! exponential, Marsaglia–Tsang for the gamma, inversion for Weibull and
//! Pareto); this module only converts (mean, cv) into their native
//! parameters and seconds into [`SimDuration`].

use crate::engine::SimDuration;
use rand::Rng;
use rand_distr::{Distribution as _, Exp1, Gamma, LogNormal, Pareto, Weibull};
use std::sync::Arc;

/// A distribution of non-negative durations.
#[derive(Clone, Debug)]
pub struct DurationDist {
    kind: Kind,
}

#[derive(Clone, Debug)]
enum Kind {
    Deterministic(f64),
    Exponential {
        mean: f64,
    },
    Gamma {
        dist: Gamma<f64>,
        mean: f64,
        cv: f64,
    },
    LogNormal {
        dist: LogNormal<f64>,
        mean: f64,
        cv: f64,
    },
    Weibull {
        dist: Weibull<f64>,
        mean: f64,
        cv: f64,
    },
    Pareto {
        dist: Pareto<f64>,
        mean: f64,
        alpha: f64,
    },
    Uniform {
        min: f64,
        max: f64,
    },
    Empirical(Arc<[f64]>),
}

/// Why a distribution's parameters were refused.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct DistError(pub String);

fn check_positive(what: &str, v: f64) -> Result<(), DistError> {
    if v.is_finite() && v > 0.0 {
        Ok(())
    } else {
        Err(DistError(format!(
            "{what} must be a finite number > 0, found {v}"
        )))
    }
}

impl DurationDist {
    /// Always `value` seconds.
    pub fn deterministic(value: f64) -> Result<Self, DistError> {
        if !(value.is_finite() && value >= 0.0) {
            return Err(DistError(format!("value must be ≥ 0, found {value}")));
        }
        Ok(Self::from_kind(Kind::Deterministic(value)))
    }

    /// Exponential with the given mean (seconds); cv = 1.
    pub fn exponential(mean: f64) -> Result<Self, DistError> {
        check_positive("mean", mean)?;
        Ok(Self::from_kind(Kind::Exponential { mean }))
    }

    /// Erlang-k: the sum of `k` exponentials, with the given total mean; cv = 1/√k.
    pub fn erlang(k: u32, mean: f64) -> Result<Self, DistError> {
        if k == 0 {
            return Err(DistError("k must be an integer ≥ 1, found 0".into()));
        }
        Self::gamma(mean, 1.0 / f64::from(k).sqrt())
    }

    /// Gamma with shape 1/cv² and scale mean·cv².
    pub fn gamma(mean: f64, cv: f64) -> Result<Self, DistError> {
        check_positive("mean", mean)?;
        check_positive("cv", cv)?;
        let shape = 1.0 / (cv * cv);
        let dist = Gamma::new(shape, mean / shape).map_err(|e| DistError(e.to_string()))?;
        Ok(Self::from_kind(Kind::Gamma { dist, mean, cv }))
    }

    /// Log-normal with σ² = ln(1 + cv²) and μ = ln(mean) − σ²/2.
    pub fn lognormal(mean: f64, cv: f64) -> Result<Self, DistError> {
        check_positive("mean", mean)?;
        check_positive("cv", cv)?;
        let sigma2 = (1.0 + cv * cv).ln();
        let mu = mean.ln() - sigma2 / 2.0;
        let dist = LogNormal::new(mu, sigma2.sqrt()).map_err(|e| DistError(e.to_string()))?;
        Ok(Self::from_kind(Kind::LogNormal { dist, mean, cv }))
    }

    /// Weibull whose shape k solves 1 + cv² = Γ(1 + 2/k) / Γ(1 + 1/k)²
    /// (bisection on ln k; the right side decreases in k), scale mean / Γ(1 + 1/k).
    pub fn weibull(mean: f64, cv: f64) -> Result<Self, DistError> {
        check_positive("mean", mean)?;
        check_positive("cv", cv)?;
        if !(0.01..=20.0).contains(&cv) {
            return Err(DistError(format!(
                "cv must be between 0.01 and 20 for a weibull, found {cv}"
            )));
        }
        let target = (1.0 + cv * cv).ln();
        let log_ratio = |k: f64| {
            use statrs::function::gamma::ln_gamma;
            ln_gamma(1.0 + 2.0 / k) - 2.0 * ln_gamma(1.0 + 1.0 / k)
        };
        let (mut lo, mut hi) = (0.02f64.ln(), 200f64.ln());
        for _ in 0..200 {
            let mid = 0.5 * (lo + hi);
            if log_ratio(mid.exp()) > target {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        let shape = (0.5 * (lo + hi)).exp();
        let scale = mean / statrs::function::gamma::gamma(1.0 + 1.0 / shape);
        let dist = Weibull::new(scale, shape).map_err(|e| DistError(e.to_string()))?;
        Ok(Self::from_kind(Kind::Weibull { dist, mean, cv }))
    }

    /// Pareto (type I) with tail index `alpha` > 1 and scale mean·(α − 1)/α.
    pub fn pareto(mean: f64, alpha: f64) -> Result<Self, DistError> {
        check_positive("mean", mean)?;
        if !(alpha.is_finite() && alpha > 1.0) {
            return Err(DistError(format!(
                "alpha must be > 1 for the mean to exist, found {alpha}"
            )));
        }
        let scale = mean * (alpha - 1.0) / alpha;
        let dist = Pareto::new(scale, alpha).map_err(|e| DistError(e.to_string()))?;
        Ok(Self::from_kind(Kind::Pareto { dist, mean, alpha }))
    }

    /// Uniform on `[min, max]` seconds.
    pub fn uniform(min: f64, max: f64) -> Result<Self, DistError> {
        if !(min.is_finite() && max.is_finite() && min >= 0.0 && max >= min) {
            return Err(DistError(format!(
                "expected 0 ≤ min ≤ max, found min = {min}, max = {max}"
            )));
        }
        Ok(Self::from_kind(Kind::Uniform { min, max }))
    }

    /// Resampling (with replacement, equal weights) of observed values in seconds.
    pub fn empirical(values: Vec<f64>) -> Result<Self, DistError> {
        if values.is_empty() {
            return Err(DistError("the empirical sample has no values".into()));
        }
        if let Some(v) = values.iter().find(|v| !(v.is_finite() && **v >= 0.0)) {
            return Err(DistError(format!(
                "values must be finite and ≥ 0, found {v}"
            )));
        }
        Ok(Self::from_kind(Kind::Empirical(values.into())))
    }

    fn from_kind(kind: Kind) -> Self {
        DurationDist { kind }
    }

    /// Draw one duration.
    #[inline]
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> SimDuration {
        SimDuration::from_secs_f64(self.sample_secs(rng))
    }

    /// Draw one duration in seconds.
    #[inline(always)]
    pub fn sample_secs<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        // The two cheapest kinds inline at the call; the rest out of line.
        match &self.kind {
            Kind::Deterministic(v) => *v,
            Kind::Exponential { mean } => {
                let e: f64 = Exp1.sample(rng);
                mean * e
            }
            _ => self.sample_other(rng),
        }
    }

    #[inline(never)]
    fn sample_other<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        match &self.kind {
            Kind::Deterministic(_) | Kind::Exponential { .. } => self.sample_secs(rng),
            Kind::Gamma { dist, .. } => dist.sample(rng),
            Kind::LogNormal { dist, .. } => dist.sample(rng),
            Kind::Weibull { dist, .. } => dist.sample(rng),
            Kind::Pareto { dist, .. } => dist.sample(rng),
            Kind::Uniform { min, max } => min + (max - min) * unit_f64(rng),
            Kind::Empirical(values) => {
                let i = (unit_f64(rng) * values.len() as f64) as usize;
                values[i.min(values.len() - 1)]
            }
        }
    }

    /// The mean, in seconds.
    pub fn mean(&self) -> f64 {
        match &self.kind {
            Kind::Deterministic(v) => *v,
            Kind::Exponential { mean }
            | Kind::Gamma { mean, .. }
            | Kind::LogNormal { mean, .. }
            | Kind::Weibull { mean, .. }
            | Kind::Pareto { mean, .. } => *mean,
            Kind::Uniform { min, max } => 0.5 * (min + max),
            Kind::Empirical(v) => v.iter().sum::<f64>() / v.len() as f64,
        }
    }

    /// The squared coefficient of variation Var/mean² (infinite for a
    /// Pareto with α ≤ 2), used by the Pollaczek–Khinchine formula.
    pub fn scv(&self) -> f64 {
        match &self.kind {
            Kind::Deterministic(_) => 0.0,
            Kind::Exponential { .. } => 1.0,
            Kind::Gamma { cv, .. } | Kind::LogNormal { cv, .. } | Kind::Weibull { cv, .. } => {
                cv * cv
            }
            Kind::Pareto { alpha, .. } => {
                if *alpha <= 2.0 {
                    f64::INFINITY
                } else {
                    1.0 / (alpha * (alpha - 2.0))
                }
            }
            Kind::Uniform { min, max } => {
                let m = 0.5 * (min + max);
                if m == 0.0 {
                    0.0
                } else {
                    (max - min).powi(2) / 12.0 / (m * m)
                }
            }
            Kind::Empirical(v) => {
                let m = self.mean();
                if m == 0.0 {
                    return 0.0;
                }
                let var = v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / v.len() as f64;
                var / (m * m)
            }
        }
    }

    /// A short description, e.g. `lognormal(mean 12s, cv 2)`.
    pub fn describe(&self) -> String {
        self.describe_with(|s| SimDuration::from_secs_f64(s).to_string())
    }

    /// A short description of a distribution of plain numbers (token
    /// counts), e.g. `lognormal(mean 800, cv 1.5)`.
    pub fn describe_numbers(&self) -> String {
        self.describe_with(|x| format!("{}", (x * 1000.0).round() / 1000.0))
    }

    fn describe_with(&self, d: impl Fn(f64) -> String) -> String {
        match &self.kind {
            Kind::Deterministic(v) => format!("deterministic({})", d(*v)),
            Kind::Exponential { mean } => format!("exponential(mean {})", d(*mean)),
            Kind::Gamma { mean, cv, .. } => format!("gamma(mean {}, cv {cv})", d(*mean)),
            Kind::LogNormal { mean, cv, .. } => format!("lognormal(mean {}, cv {cv})", d(*mean)),
            Kind::Weibull { mean, cv, .. } => format!("weibull(mean {}, cv {cv})", d(*mean)),
            Kind::Pareto { mean, alpha, .. } => {
                format!("pareto(mean {}, alpha {alpha})", d(*mean))
            }
            Kind::Uniform { min, max } => format!("uniform({}, {})", d(*min), d(*max)),
            Kind::Empirical(v) => format!("empirical({} values, mean {})", v.len(), d(self.mean())),
        }
    }
}

/// A uniform draw in [0, 1) with 53 random bits.
#[inline]
pub(crate) fn unit<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    unit_f64(rng)
}

#[inline]
fn unit_f64<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::stream;

    /// Sample mean and cv over `n` draws.
    fn moments(d: &DurationDist, n: usize) -> (f64, f64) {
        let mut r = stream(3, 0, "dist-test");
        let xs: Vec<f64> = (0..n).map(|_| d.sample_secs(&mut r)).collect();
        let m = xs.iter().sum::<f64>() / n as f64;
        let v = xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1) as f64;
        (m, v.sqrt() / m)
    }

    /// Relative tolerance for 200k draws: the standard error of the mean is
    /// cv/√n ≈ 0.45% at cv = 2, so 2% is more than 4 standard errors; the
    /// sample cv converges more slowly for heavy tails, hence 5% there.
    const MEAN_RTOL: f64 = 0.02;
    const CV_RTOL: f64 = 0.05;

    #[test]
    fn mean_and_cv_parametrisations_hit_their_targets() {
        let cases = [
            (DurationDist::exponential(2.0).unwrap(), 2.0, 1.0),
            (DurationDist::erlang(4, 3.0).unwrap(), 3.0, 0.5),
            (DurationDist::gamma(5.0, 0.3).unwrap(), 5.0, 0.3),
            (DurationDist::lognormal(10.0, 0.8).unwrap(), 10.0, 0.8),
            (DurationDist::weibull(4.0, 1.5).unwrap(), 4.0, 1.5),
            (DurationDist::weibull(4.0, 0.4).unwrap(), 4.0, 0.4),
            (
                DurationDist::uniform(1.0, 3.0).unwrap(),
                2.0,
                (4.0f64 / 12.0).sqrt() / 2.0,
            ),
        ];
        for (d, mean, cv) in cases {
            let (m, c) = moments(&d, 200_000);
            assert!(
                (m / mean - 1.0).abs() < MEAN_RTOL,
                "{}: mean {m}",
                d.describe()
            );
            assert!((c / cv - 1.0).abs() < CV_RTOL, "{}: cv {c}", d.describe());
            assert!((d.mean() / mean - 1.0).abs() < 1e-9);
            assert!((d.scv() / (cv * cv) - 1.0).abs() < 1e-6, "{}", d.describe());
        }
    }

    #[test]
    fn pareto_mean_matches() {
        let d = DurationDist::pareto(2.0, 3.5).unwrap();
        let (m, _) = moments(&d, 400_000);
        assert!((m / 2.0 - 1.0).abs() < MEAN_RTOL, "mean {m}");
    }

    #[test]
    fn deterministic_and_empirical() {
        let mut r = stream(1, 0, "x");
        let d = DurationDist::deterministic(1.25).unwrap();
        assert_eq!(d.sample(&mut r), SimDuration(1_250_000_000));
        let e = DurationDist::empirical(vec![1.0, 2.0, 4.0]).unwrap();
        for _ in 0..100 {
            let x = e.sample_secs(&mut r);
            assert!([1.0, 2.0, 4.0].contains(&x));
        }
        assert!((e.mean() - 7.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn bad_parameters_are_refused() {
        assert!(DurationDist::exponential(0.0).is_err());
        assert!(DurationDist::exponential(-1.0).is_err());
        assert!(DurationDist::erlang(0, 1.0).is_err());
        assert!(DurationDist::gamma(1.0, 0.0).is_err());
        assert!(DurationDist::pareto(1.0, 1.0).is_err());
        assert!(DurationDist::uniform(3.0, 1.0).is_err());
        assert!(DurationDist::empirical(vec![]).is_err());
        assert!(DurationDist::lognormal(f64::NAN, 1.0).is_err());
    }
}
