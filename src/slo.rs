//! Service-level objectives: reading a metric off the results, judging a
//! bound with its confidence interval, and comparing runs.
//!
//! With one replication a bound is judged on the value. With several, on
//! the 95% Student-t interval of the mean: **fail** if the whole interval
//! is beyond the bound, **warn** if the interval straddles it (the data
//! cannot tell; more replications will), **pass** otherwise.

use crate::metric::Metric;
use crate::model::{ClassResult, RunResult, StageResult};
use crate::rows::SummaryRow;
pub use crate::stats::welch_p_greater;
use crate::stats::{Estimate, estimate};

/// The value of `metric` for one class of one run; `None` if it does not
/// exist (e.g. a percentile of no completions).
pub fn metric(c: &ClassResult, metric: Metric) -> Option<f64> {
    if metric.is_serving() {
        return metric.of_serving(c.ttft.as_ref(), c.tpot.as_ref());
    }
    SummaryRow::of_class(c).metric(metric)
}

/// The value of `metric` for `scope` of a run: a class name, `all`, or
/// `CLASS/STAGE` for a stage of a workflow class (see [`stage_metric`]).
pub fn value(run: &RunResult, scope: &str, metric: Metric) -> Option<f64> {
    match scope.split_once('/') {
        Some((c, stage)) => {
            let s = class(run, c)?.stages.iter().find(|s| s.name == stage)?;
            stage_metric(s, metric)
        }
        None => class(run, scope).and_then(|c| self::metric(c, metric)),
    }
}

/// The metrics a stage has: its visits' wait, and counts and shares of
/// its visits' outcomes.
pub const STAGE_METRICS: [Metric; 11] = [
    Metric::WaitMean,
    Metric::WaitP50,
    Metric::WaitP95,
    Metric::WaitP99,
    Metric::Arrivals,
    Metric::Completed,
    Metric::Rejected,
    Metric::Failed,
    Metric::InSystem,
    Metric::CompletedFraction,
    Metric::RejectedFraction,
];

/// The value of `metric` for one stage (`None` for a metric a stage does
/// not have, or a percentile of no visits).
pub fn stage_metric(s: &StageResult, metric: Metric) -> Option<f64> {
    let share = |n: u64| (s.arrivals > 0).then(|| n as f64 / s.arrivals as f64);
    match metric {
        Metric::WaitMean => s.wait.mean_s(),
        Metric::WaitP50 => s.wait.quantile_s(0.5),
        Metric::WaitP95 => s.wait.quantile_s(0.95),
        Metric::WaitP99 => s.wait.quantile_s(0.99),
        Metric::Arrivals => Some(s.arrivals as f64),
        Metric::Completed => Some(s.completed as f64),
        Metric::Rejected => Some(s.rejected as f64),
        Metric::Failed => Some(s.failed as f64),
        Metric::InSystem => Some(s.in_system as f64),
        Metric::CompletedFraction => share(s.completed),
        Metric::RejectedFraction => share(s.rejected),
        _ => None,
    }
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

/// The estimate of `metric` for `class` (a scope, see [`value`]) over replications.
pub fn estimate_metric(runs: &[RunResult], class_name: &str, name: Metric) -> Option<Estimate> {
    let values: Vec<f64> = runs
        .iter()
        .filter_map(|r| value(r, class_name, name))
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
