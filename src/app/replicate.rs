//! Sequential replications: replicate until a stopping rule holds, in
//! parallel batches, deterministically.
//!
//! Replication `r` is a pure function of (scenario, seed, r), so a batch
//! may run on any number of threads. The rule is then asked about each
//! *prefix* of the replications in order — 0..min, 0..min+1, … — and the
//! first prefix that satisfies it is kept; replications computed past it
//! (a batch is rounded up to the thread count so no core idles) are
//! dropped. The count and every result are therefore the same whatever
//! `--jobs` is.

use crate::ReadySimulation;
use crate::metric::Metric;
use crate::model::RunResult;
use crate::slo;
use crate::stats::{Estimate, estimate};
use rayon::prelude::*;
use std::fmt;

/// How narrow the 95% interval of a watched metric must be.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Width {
    /// Half-width at most this share of |mean| (`5%` is 0.05).
    Relative(f64),
    /// Half-width at most this, in the metric's unit (seconds for times).
    Absolute(f64),
}

impl Width {
    /// `5%` (relative), or an absolute half-width: a number (`0.01`) or a
    /// duration (`500ms`).
    pub fn parse(s: &str) -> Result<Width, String> {
        let t = s.trim();
        let bad = || {
            format!(
                "expected a relative width such as 5% or an absolute one such as 0.01 or 500ms, found {s:?}"
            )
        };
        if let Some(p) = t.strip_suffix('%') {
            let x: f64 = p.trim().parse().map_err(|_| bad())?;
            if !(x > 0.0 && x < 100.0) {
                return Err(format!(
                    "a relative width is above 0% and below 100%, found {s:?}"
                ));
            }
            return Ok(Width::Relative(x / 100.0));
        }
        let x = t
            .parse::<f64>()
            .ok()
            .or_else(|| crate::scenario::units::parse_duration(t).map(|d| d.as_secs_f64()))
            .ok_or_else(bad)?;
        if !(x > 0.0 && x.is_finite()) {
            return Err(format!("an absolute width is above 0, found {s:?}"));
        }
        Ok(Width::Absolute(x))
    }

    /// Whether `e`'s interval is narrow enough. An interval needs two
    /// values; a constant metric (half-width 0) always is.
    pub fn holds(self, e: &Estimate) -> bool {
        let Some(h) = e.half_width else { return false };
        match self {
            Width::Relative(r) => h <= r * e.mean.abs(),
            Width::Absolute(a) => h <= a,
        }
    }

    /// Whether a metric's `values` over `n` replications are precise: no
    /// replication has it (nothing to watch), or every one has it and
    /// their interval is narrow enough. A metric only some replications
    /// have is not precise.
    pub(crate) fn holds_over(self, values: &[f64], n: usize) -> bool {
        values.is_empty() || (values.len() == n && estimate(values).is_some_and(|e| self.holds(&e)))
    }

    /// The half-width `e` would need, for messages.
    fn limit(self, e: &Estimate) -> f64 {
        match self {
            Width::Relative(r) => r * e.mean.abs(),
            Width::Absolute(a) => a,
        }
    }
}

impl fmt::Display for Width {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Width::Relative(r) => {
                write!(f, "{}% of its mean", crate::rows::format_number(r * 100.0))
            }
            Width::Absolute(a) => write!(f, "{}", crate::rows::format_number(*a)),
        }
    }
}

/// `--precision` with its bounds on the number of replications.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Precision {
    /// The target half-width.
    pub width: Width,
    /// Replications run before the rule is first asked (at least 2).
    pub min: u32,
    /// Replications never exceeded.
    pub max: u32,
}

impl Precision {
    /// Default bounds: 3 to 30 replications.
    pub const MIN: u32 = 3;
    /// See [`Precision::MIN`].
    pub const MAX: u32 = 30;

    /// Check the bounds (flags: `--min-replications`, `--max-replications`).
    pub fn new(width: Width, min: Option<u32>, max: Option<u32>) -> Result<Precision, String> {
        let min = min.unwrap_or(Precision::MIN);
        let max = max.unwrap_or(Precision::MAX.max(min));
        if min < 2 {
            return Err(format!(
                "--min-replications {min}: an interval needs at least 2 replications"
            ));
        }
        if max < min {
            return Err(format!(
                "--max-replications {max} is below --min-replications {min}"
            ));
        }
        Ok(Precision { width, min, max })
    }
}

/// Run replications `0, 1, …` of `sim` until `enough` holds on a prefix of
/// them (asked first of `min` replications, then of each longer prefix in
/// order) or `max` have run. Returns the kept replications and whether the
/// rule held. `ran(n)` is told each time `n` replications are done.
pub(crate) fn replicate(
    sim: &ReadySimulation<'_>,
    min: u32,
    max: u32,
    enough: impl FnMut(&[RunResult]) -> bool,
    ran: impl FnMut(usize),
) -> (Vec<RunResult>, bool) {
    replicate_with(Vec::new(), |r| sim.run(r), min, max, enough, ran)
}

/// [`replicate`] on what `run(r)` makes of replication `r`, continuing
/// after the `done` ones (whose prefixes are not asked again).
pub(crate) fn replicate_with<T: Send>(
    done: Vec<T>,
    run: impl Fn(u32) -> T + Sync + Send,
    min: u32,
    max: u32,
    mut enough: impl FnMut(&[T]) -> bool,
    mut ran: impl FnMut(usize),
) -> (Vec<T>, bool) {
    let max = max.max(1);
    let min = min.clamp(1, max);
    let threads = rayon::current_num_threads().max(1) as u32;
    let mut runs = done;
    loop {
        let done = runs.len() as u32;
        if done >= max {
            return (runs, false);
        }
        let want = if done < min { min } else { done + 1 };
        // want ≤ max here: spare threads run ahead, never past max.
        let upto = want.div_ceil(threads).saturating_mul(threads).min(max);
        let batch: Vec<T> = (done..upto).into_par_iter().map(&run).collect();
        runs.extend(batch);
        ran(runs.len());
        for k in min.max(done + 1)..=upto {
            if enough(&runs[..k as usize]) {
                runs.truncate(k as usize);
                return (runs, true);
            }
        }
    }
}

/// A metric the precision rule watches.
#[derive(Clone, Debug, PartialEq)]
pub struct Watched {
    /// A class name, or `all`.
    pub class: String,
    /// The metric.
    pub metric: Metric,
}

/// What a run with `--precision` watches: the scenario's SLO metrics, or,
/// without SLOs, every class's mean and p99 latency.
pub fn watched(scenario: &crate::model::Scenario) -> Vec<Watched> {
    let scopes: Vec<(String, Metric)> = scenario
        .slos
        .iter()
        .map(|s| (s.scope(), s.metric))
        .collect();
    let mut w = watched_of(scopes.iter().map(|(s, m)| (s.as_str(), *m)));
    if w.is_empty() {
        for c in &scenario.classes {
            // A serving class's users feel its first and next tokens too.
            let tokens: &[Metric] = if c.tokens.is_some() {
                &[Metric::TtftP99, Metric::TpotP99]
            } else {
                &[]
            };
            for &metric in [Metric::LatencyMean, Metric::LatencyP99]
                .iter()
                .chain(tokens)
            {
                w.push(Watched {
                    class: c.name.clone(),
                    metric,
                });
            }
        }
    }
    w
}

/// Each (class, metric) once, in order.
pub(crate) fn watched_of<'s>(items: impl Iterator<Item = (&'s str, Metric)>) -> Vec<Watched> {
    let mut w: Vec<Watched> = Vec::new();
    for (class, metric) in items {
        let item = Watched {
            class: class.to_string(),
            metric,
        };
        if !w.contains(&item) {
            w.push(item);
        }
    }
    w
}

/// Whether every watched metric's interval is narrow enough on `runs`.
/// A metric no replication has (a percentile of no completions) is not
/// watched; one that only some replications have is not precise.
pub(crate) fn precise(runs: &[RunResult], watched: &[Watched], width: Width) -> bool {
    watched
        .iter()
        .all(|w| width.holds_over(&values(runs, w), runs.len()))
}

fn values(runs: &[RunResult], w: &Watched) -> Vec<f64> {
    runs.iter()
        .filter_map(|r| slo::value(r, &w.class, w.metric))
        .collect()
}

/// Run `sim` under `precision`, watching `watched`; the kept replications
/// and a sentence saying why replicating stopped.
pub(crate) fn run_precise(
    sim: &ReadySimulation<'_>,
    precision: Precision,
    watched: &[Watched],
    ran: impl FnMut(usize),
) -> (Vec<RunResult>, String) {
    let (runs, held) = replicate(
        sim,
        precision.min,
        precision.max,
        |r| precise(r, watched, precision.width),
        ran,
    );
    let why = if held {
        format!(
            "stopped at {} replications: every watched metric's 95% CI half-width is within {} ({})",
            runs.len(),
            precision.width,
            watched_names(watched)
        )
    } else {
        let widest: Vec<String> = watched
            .iter()
            .filter_map(|w| {
                let v = values(&runs, w);
                let e = estimate(&v)?;
                (v.len() < runs.len() || !precision.width.holds(&e)).then(|| {
                    let show = |x: f64| crate::app::check::show(w.metric, x);
                    format!(
                        "{}.{} ±{} (wanted ±{})",
                        w.class,
                        w.metric,
                        e.half_width.map_or("-".into(), show),
                        show(precision.width.limit(&e))
                    )
                })
            })
            .collect();
        format!(
            "stopped at {} replications, the maximum, short of the precision: {}",
            runs.len(),
            widest.join(", ")
        )
    };
    (runs, why)
}

fn watched_names(watched: &[Watched]) -> String {
    let names: Vec<String> = watched
        .iter()
        .map(|w| format!("{}.{}", w.class, w.metric))
        .collect();
    names.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_parse_relative_and_absolute() {
        assert_eq!(Width::parse("5%"), Ok(Width::Relative(0.05)));
        assert_eq!(Width::parse("0.01"), Ok(Width::Absolute(0.01)));
        assert_eq!(Width::parse("500ms"), Ok(Width::Absolute(0.5)));
        assert!(Width::parse("0%").is_err());
        assert!(Width::parse("-1").is_err());
        assert!(Width::parse("five").is_err());
        assert!(Precision::new(Width::Relative(0.05), Some(1), None).is_err());
        assert!(Precision::new(Width::Relative(0.05), Some(5), Some(4)).is_err());
        assert_eq!(
            Precision::new(Width::Relative(0.05), Some(40), None).map(|p| p.max),
            Ok(40)
        );
    }

    #[test]
    fn a_width_holds_on_the_half_width() {
        let e = |mean, h| Estimate {
            mean,
            std_dev: Some(1.0),
            half_width: Some(h),
            n: 3,
        };
        assert!(Width::Relative(0.05).holds(&e(10.0, 0.5)));
        assert!(!Width::Relative(0.05).holds(&e(10.0, 0.51)));
        assert!(Width::Absolute(1.0).holds(&e(10.0, 1.0)));
        assert!(Width::Relative(0.05).holds(&e(0.0, 0.0)));
        let one = Estimate {
            half_width: None,
            ..e(1.0, 0.0)
        };
        assert!(!Width::Absolute(1.0).holds(&one));
    }
}
