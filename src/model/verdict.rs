//! Load verdicts per pool, from the model and the run together.
//!
//! The offered load of a pool over a window is the service work that
//! arrives in it (first attempts × mean service time ÷ the pool's speed)
//! divided by the GPU-time online in it. For classes with their own
//! arrival process the arrivals are the *expected* count, the exact
//! integral of the rate ([`super::ArrivalSpec::expected_between`]), so
//! Poisson noise never makes a stable queue look overloaded; for classes
//! fed by a user population (whose rate depends on sessions under way) the
//! run's own first attempts are used. Windows are at least duration / 48
//! long, a whole number of time-series buckets.
//!
//! Verdicts, in order:
//!
//! - **overloaded**: the run hit its budget and stopped early; or, when
//!   arrivals stop, the last window's load is ≥ 1, a backlog of at least
//!   half the GPUs is there, and less than 1% of attempts were turned
//!   away: the backlog is still growing;
//! - **bounded by patience/limits**: the load is ≥ 1 at the end, but at
//!   least 1% of attempts were turned away (shed, rate-limited or
//!   abandoned), which is what keeps the queue finite;
//! - **transient overload**: some window's load is ≥ 1 but the end is not
//!   overloaded: the backlog drains (when, and how large it got, is said);
//! - **stable**: no window's load reaches 1.
//!
//! A verdict is never stronger than the evidence: "at least N GPUs" hints
//! are derived from the peak window's load only where it applies.

use super::arrivals::ArrivalSpec;
pub use super::results::{LoadVerdict, VerdictKind};
use super::results::{RunResult, Scope, TimeSeriesRow};
use super::spec::Scenario;
use crate::engine::{SimDuration, SimTime};

impl LoadVerdict {
    /// One sentence: the verdict and its evidence.
    pub fn describe(&self) -> String {
        let t = |x: SimTime| SimDuration(x.0).to_string();
        match self.kind {
            VerdictKind::Stable => format!("stable: peak load {:.2}", self.peak_load),
            VerdictKind::TransientOverload => {
                let (a, b) = self.overload.unwrap_or((self.peak_at, self.peak_at));
                format!(
                    "transient overload: load ≥ 1 from {} to {} (peak {:.2}), backlog up to {}, {}",
                    t(a),
                    t(b),
                    self.peak_load,
                    self.backlog_max,
                    match self.drained_at {
                        Some(d) => format!("drained at {}", t(d)),
                        None => "not drained by the end of the run".into(),
                    }
                )
            }
            VerdictKind::Overloaded => format!(
                "overloaded: backlog still growing when arrivals stopped (peak load {:.2}, backlog up to {}); \
                 at least {} GPUs for the peak",
                self.peak_load,
                self.backlog_max,
                LoadVerdict::gpus_for(self.peak_load, self.peak_gpus, self.gpu_unit)
            ),
            VerdictKind::Bounded => format!(
                "bounded by patience/limits: load ≥ 1 at the end (peak {:.2}), {:.1}% of attempts turned away",
                self.peak_load,
                self.turned_away * 100.0
            ),
        }
    }
}

/// Share of attempts turned away above which the queue counts as bounded
/// by patience and limits rather than overloaded.
const TURNED_AWAY: f64 = 0.01;

/// The verdict of every pool of a finished run.
pub(crate) fn judge(sc: &Scenario, run: &RunResult) -> Vec<LoadVerdict> {
    let width = sc.bucket_width().as_secs_f64();
    let duration = sc.duration.as_secs_f64();
    let per_window = ((duration / 48.0) / width).ceil().max(1.0) as usize;
    let covered = run
        .stopped
        .map_or(duration, |s| s.at.as_secs_f64().min(duration));
    (0..sc.pools.len())
        .map(|pool| judge_pool(sc, run, pool, per_window, covered))
        .collect()
}

fn judge_pool(
    sc: &Scenario,
    run: &RunResult,
    pool: usize,
    per_window: usize,
    covered: f64,
) -> LoadVerdict {
    let rows: Vec<&TimeSeriesRow> = run
        .timeseries
        .iter()
        .filter(|r| r.scope == Scope::Pool(pool))
        .collect();
    let class_rows = |class: usize| {
        run.timeseries
            .iter()
            .filter(move |r| r.scope == Scope::Class(class))
    };
    let speed = sc.pools[pool].speed;
    // Windows of `per_window` buckets inside the arrival window.
    let in_arrivals: Vec<&&TimeSeriesRow> = rows
        .iter()
        .filter(|r| r.start.as_secs_f64() < covered)
        .collect();
    let mut windows: Vec<(f64, f64, f64, f64)> = Vec::new(); // (start, end, load, queue mean)
    for chunk in in_arrivals.chunks(per_window) {
        let start = chunk[0].start.as_secs_f64();
        let end = chunk
            .iter()
            .map(|r| r.start.as_secs_f64() + r.width.as_secs_f64())
            .fold(start, f64::max)
            .min(covered);
        if end <= start {
            continue;
        }
        let gpu_time: f64 = chunk
            .iter()
            .map(|r| r.online_gpus_mean.unwrap_or(0.0) * r.width.as_secs_f64())
            .sum();
        let queue: f64 = chunk
            .iter()
            .map(|r| r.queue_mean.unwrap_or(0.0) * r.width.as_secs_f64())
            .sum::<f64>()
            / (end - start);
        let mut work = 0.0;
        for (c, class) in sc.classes.iter().enumerate() {
            let demand = sc.demand_on(c, pool);
            if demand == 0.0 {
                continue;
            }
            let arrivals = match class.arrivals.expected_between(start, end) {
                Some(n) => n,
                None => class_rows(c)
                    .filter(|r| {
                        let t = r.start.as_secs_f64();
                        t >= start && t < end
                    })
                    .map(|r| r.arrivals as f64)
                    .sum(),
            };
            work += arrivals * demand / speed;
        }
        let load = if gpu_time > 0.0 {
            work / gpu_time
        } else if work > 0.0 {
            f64::INFINITY
        } else {
            0.0
        };
        windows.push((start, end, load, queue));
    }
    let secs = |s: f64| SimTime(SimDuration::from_secs_f64(s).0);
    let (peak_at, peak_load) = windows
        .iter()
        .map(|w| (w.0, w.2))
        .fold((0.0, 0.0), |best, w| if w.1 > best.1 { w } else { best });
    let peak_gpus = windows
        .iter()
        .find(|w| w.0 == peak_at)
        .and_then(|w| {
            let rows = rows.iter().filter(|r| {
                let t = r.start.as_secs_f64();
                t >= w.0 && t < w.1
            });
            let (sum, n) = rows.fold((0.0, 0.0), |(s, n), r| {
                (s + r.online_gpus_mean.unwrap_or(0.0), n + 1.0)
            });
            (n > 0.0).then(|| sum / n)
        })
        .unwrap_or(f64::from(sc.pools[pool].gpus));
    let over: Vec<&(f64, f64, f64, f64)> = windows.iter().filter(|w| w.2 >= 1.0).collect();
    let overload = match (over.first(), over.last()) {
        (Some(a), Some(b)) => Some((secs(a.0), secs(b.1))),
        _ => None,
    };
    let backlog_max = rows.iter().filter_map(|r| r.queue_max).max().unwrap_or(0);
    let drained_at = overload.and_then(|(_, end)| {
        rows.iter()
            .filter(|r| r.start >= end)
            .find(|r| r.queue_mean.unwrap_or(0.0) < 0.5)
            .map(|r| r.start)
            // The run drained completely: the queue emptied by its end.
            .or((run.stopped.is_none() && run.requests_in_system == 0).then_some(run.end_time))
    });
    let (attempts, turned) = rows.iter().fold((0u64, 0u64), |(a, t), r| {
        (a + r.arrivals + r.retries, t + r.rejected + r.abandoned)
    });
    let turned_away = if attempts > 0 {
        turned as f64 / attempts as f64
    } else {
        0.0
    };
    // The end of arrivals: is the load still ≥ 1, with a backlog? (The
    // load is the model's expectation, so noise in a stable queue's
    // length never reads as growth.)
    let online = run.pools[pool].gpus_mean.max(1.0);
    let (over_at_end, backlog_at_end) = match windows.last() {
        Some(last) => (last.2 >= 1.0, last.3 >= (0.5 * online).max(1.0)),
        None => (false, false),
    };
    let kind = if run.stopped.is_some() {
        VerdictKind::Overloaded
    } else if over_at_end && turned_away >= TURNED_AWAY {
        VerdictKind::Bounded
    } else if over_at_end && backlog_at_end {
        VerdictKind::Overloaded
    } else if peak_load >= 1.0 {
        VerdictKind::TransientOverload
    } else {
        VerdictKind::Stable
    };
    LoadVerdict {
        kind,
        peak_load,
        peak_at: secs(peak_at),
        peak_gpus,
        overload,
        backlog_max,
        drained_at,
        turned_away,
        gpu_unit: sc.pools[pool]
            .serving
            .as_ref()
            .map_or(1, |s| s.gpus_per_replica),
    }
}

impl ArrivalSpec {
    /// Expected first attempts in [a, b) seconds, exactly, for processes
    /// with their own rate; `None` for user populations (their rate depends
    /// on sessions under way).
    pub fn expected_between(&self, a: f64, b: f64) -> Option<f64> {
        use super::arrivals::TraceSpec;
        let within = |t: SimTime| {
            let s = t.as_secs_f64();
            s >= a && s < b
        };
        Some(match self {
            ArrivalSpec::Poisson { rate_per_s } => rate_per_s * (b - a),
            ArrivalSpec::Profile(p) => p.integral(a, b),
            ArrivalSpec::Trace(TraceSpec::Times { times, scale }) => {
                times.iter().filter(|t| within(**t)).count() as f64 * scale
            }
            ArrivalSpec::Trace(TraceSpec::Counts {
                starts,
                counts,
                scale,
                ..
            }) => {
                starts
                    .iter()
                    .zip(counts.iter())
                    .filter(|(s, _)| within(**s))
                    .map(|(_, c)| c)
                    .sum::<f64>()
                    * scale
            }
            ArrivalSpec::Explicit { times } => times.iter().filter(|t| within(**t)).count() as f64,
            ArrivalSpec::Users { .. } => return None,
        })
    }
}
