//! Service-level objectives: reading a metric off the results, judging a
//! bound with its confidence interval, and comparing runs.
//!
//! With one replication a bound is judged on the value. With several, on
//! the 95% Student-t interval of the mean: **fail** if the whole interval
//! is beyond the bound, **warn** if the interval straddles it (the data
//! cannot tell; more replications will), **pass** otherwise.

use crate::model::{ClassResult, RunResult};
pub use crate::stats::welch_p_greater;
use crate::stats::{Estimate, estimate};

/// Metric names an SLO may bound: the columns of `summary.csv` (without
/// the `_s` unit suffix, which is also accepted) and outcome fractions.
pub const METRICS: [&str; 22] = [
    "arrivals",
    "completed",
    "rejected",
    "abandoned",
    "failed",
    "in_system",
    "throughput_per_s",
    "wait_mean",
    "wait_p50",
    "wait_p95",
    "wait_p99",
    "latency_mean",
    "latency_p50",
    "latency_p95",
    "latency_p99",
    "latency_p999",
    "slo_attainment",
    "attempts_per_request",
    "completed_fraction",
    "rejected_fraction",
    "abandoned_fraction",
    "failed_fraction",
];

/// Whether `metric` is one of [`METRICS`] (with or without `_s`).
pub fn is_known(metric: &str) -> bool {
    METRICS.contains(&metric) || METRICS.contains(&metric.strip_suffix("_s").unwrap_or(metric))
}

/// The value of `metric` (a `summary.csv` column, with or without `_s`, or
/// an outcome fraction) for one class of one run; `None` if it does not
/// exist (e.g. a percentile of no completions) or the name is unknown.
pub fn metric(c: &ClassResult, metric: &str) -> Option<f64> {
    let m = metric.strip_suffix("_s").unwrap_or(metric);
    let frac = |n: u64| (c.arrivals > 0).then(|| n as f64 / c.arrivals as f64);
    match m {
        "arrivals" => Some(c.arrivals as f64),
        "completed" => Some(c.completed as f64),
        "rejected" => Some(c.rejected as f64),
        "abandoned" => Some(c.abandoned as f64),
        "failed" => Some(c.failed as f64),
        "in_system" => Some(c.in_system as f64),
        "throughput_per" | "throughput_per_s" => Some(c.throughput_per_s),
        "wait_mean" => c.wait.mean_s(),
        "wait_p50" => c.wait.quantile_s(0.5),
        "wait_p95" => c.wait.quantile_s(0.95),
        "wait_p99" => c.wait.quantile_s(0.99),
        "latency_mean" => c.latency.mean_s(),
        "latency_p50" => c.latency.quantile_s(0.5),
        "latency_p95" => c.latency.quantile_s(0.95),
        "latency_p99" => c.latency.quantile_s(0.99),
        "latency_p999" => c.latency.quantile_s(0.999),
        "slo_attainment" => c.slo_attainment,
        "attempts_per_request" => c.attempts_per_request(),
        "completed_fraction" => frac(c.completed),
        "rejected_fraction" => frac(c.rejected),
        "abandoned_fraction" => frac(c.abandoned),
        "failed_fraction" => frac(c.failed),
        _ => None,
    }
}

/// Whether a larger value of the metric is worse (latencies, losses) or
/// better (throughput, attainment, completions).
pub fn higher_is_worse(metric: &str) -> bool {
    let m = metric.strip_suffix("_s").unwrap_or(metric);
    !matches!(
        m,
        "throughput_per"
            | "throughput_per_s"
            | "slo_attainment"
            | "completed"
            | "completed_fraction"
    )
}

/// Class `name` (or `all`) of a run.
pub fn class<'r>(run: &'r RunResult, name: &str) -> Option<&'r ClassResult> {
    if name == "all" {
        Some(&run.all)
    } else {
        run.classes.iter().find(|c| c.name == name)
    }
}

/// The verdict on one bound.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Met (the interval is on the right side of the bound).
    Pass,
    /// The interval straddles the bound.
    Warn,
    /// Violated (the whole interval is beyond the bound), or no value.
    Fail,
}

impl Verdict {
    /// `pass`, `warn` or `FAIL`.
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Warn => "warn",
            Verdict::Fail => "FAIL",
        }
    }
}

/// Judge `estimate` against `max` and `min` bounds.
pub fn judge(e: Option<Estimate>, max: Option<f64>, min: Option<f64>) -> Verdict {
    let Some(e) = e else { return Verdict::Fail };
    let (lo, hi) = (e.low().unwrap_or(e.mean), e.high().unwrap_or(e.mean));
    let mut verdict = Verdict::Pass;
    if let Some(max) = max {
        if lo > max {
            return Verdict::Fail;
        }
        if hi > max {
            verdict = Verdict::Warn;
        }
    }
    if let Some(min) = min {
        if hi < min {
            return Verdict::Fail;
        }
        if lo < min {
            verdict = Verdict::Warn;
        }
    }
    verdict
}

/// The estimate of `metric` for `class` over replications.
pub fn estimate_metric(runs: &[RunResult], class_name: &str, name: &str) -> Option<Estimate> {
    let values: Vec<f64> = runs
        .iter()
        .filter_map(|r| class(r, class_name).and_then(|c| metric(c, name)))
        .collect();
    estimate(&values)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn est(mean: f64, half: f64) -> Option<Estimate> {
        Some(Estimate {
            mean,
            std_dev: Some(1.0),
            half_width: Some(half),
            n: 5,
        })
    }

    #[test]
    fn bounds_are_judged_on_the_interval() {
        assert_eq!(judge(est(50.0, 5.0), Some(60.0), None), Verdict::Pass);
        assert_eq!(judge(est(58.0, 5.0), Some(60.0), None), Verdict::Warn);
        assert_eq!(judge(est(70.0, 5.0), Some(60.0), None), Verdict::Fail);
        assert_eq!(judge(est(0.95, 0.01), None, Some(0.99)), Verdict::Fail);
        assert_eq!(judge(None, Some(1.0), None), Verdict::Fail);
    }

    #[test]
    fn welch_detects_a_shift_and_ignores_noise() {
        let a = [10.0, 10.5, 9.5, 10.2, 9.8];
        let b = [12.0, 12.4, 11.6, 12.1, 11.9];
        assert!(welch_p_greater(&a, &b).unwrap() < 0.001);
        assert!(welch_p_greater(&a, &a).unwrap() > 0.4);
        assert!(welch_p_greater(&[1.0], &b).is_none());
    }
}
