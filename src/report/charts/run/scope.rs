//! A run's time series as the charts read it: each scope's buckets per
//! replication, and their mean and range per bucket.

use super::super::Series;
use crate::rows::{self, SeriesRow};
use plotters::prelude::RGBColor;
use std::collections::BTreeMap;

/// A bucket's latency percentiles are drawn when it has at least this many
/// completions, and at least 5% of a typical (median) bucket's: a p99 of
/// three completions is noise, not a spike.
pub(super) const MIN_COMPLETIONS: f64 = 5.0;

/// One bucket of one scope in one replication (the columns the charts use).
#[derive(Clone, Debug, Default)]
pub(super) struct Row {
    pub(super) t: f64,
    pub(super) width: f64,
    pub(super) arrivals: f64,
    pub(super) retries: f64,
    pub(super) completions: f64,
    pub(super) rejected: f64,
    pub(super) abandoned: f64,
    pub(super) failed: f64,
    pub(super) queue_mean: Option<f64>,
    pub(super) busy: Option<f64>,
    pub(super) online: Option<f64>,
    pub(super) p50: Option<f64>,
    pub(super) p95: Option<f64>,
    pub(super) p99: Option<f64>,
    pub(super) deferred: f64,
}

/// A scope's buckets, per replication (each in time order).
#[derive(Debug, Default)]
pub(super) struct Scope {
    pub(super) reps: BTreeMap<u64, Vec<Row>>,
}

/// Scopes by (kind, name), of point 0.
pub(super) type Scopes = BTreeMap<(String, String), Scope>;

pub(super) fn read(timeseries_csv: &[u8]) -> Result<Scopes, String> {
    let rows: Vec<SeriesRow> = rows::read("timeseries.csv", timeseries_csv)?;
    let mut scopes = Scopes::new();
    for r in rows.into_iter().filter(|r| r.point == 0) {
        scopes
            .entry((r.scope_kind, r.scope))
            .or_default()
            .reps
            .entry(r.replication)
            .or_default()
            .push(Row {
                t: r.time_s,
                width: r.bucket_s.max(1e-9),
                arrivals: r.arrivals as f64,
                retries: r.retries as f64,
                completions: r.completions as f64,
                rejected: r.rejected as f64,
                abandoned: r.abandoned as f64,
                failed: r.failed as f64,
                queue_mean: r.queue_mean,
                busy: r.busy_gpus_mean,
                online: r.online_gpus_mean,
                p50: r.latency_p50_s,
                p99: r.latency_p99_s,
                p95: r.latency_p95_s,
                deferred: r.deferred.unwrap_or(0) as f64,
            });
    }
    Ok(scopes)
}

impl Scope {
    /// (t, mean, min, max) over replications of `f` per bucket start, for
    /// the buckets where it has a value.
    pub(super) fn stat(&self, f: impl Fn(&Row) -> Option<f64>) -> Vec<(f64, f64, f64, f64)> {
        let mut by_t: BTreeMap<i64, (f64, Vec<f64>)> = BTreeMap::new();
        for rows in self.reps.values() {
            for r in rows {
                if let Some(v) = f(r).filter(|v| v.is_finite()) {
                    let key = (r.t * 1e6).round() as i64;
                    by_t.entry(key).or_insert((r.t, Vec::new())).1.push(v);
                }
            }
        }
        by_t.into_values()
            .map(|(t, v)| {
                let mean = v.iter().sum::<f64>() / v.len() as f64;
                let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
                let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                (t, mean, lo, hi)
            })
            .collect()
    }

    /// A series of `f` (the mean over replications, with their range as a
    /// band when there are several).
    pub(super) fn series(
        &self,
        label: &str,
        color: RGBColor,
        f: impl Fn(&Row) -> Option<f64>,
    ) -> Series {
        let stats = self.stat(f);
        let mut s = Series::line(label, color, stats.iter().map(|p| (p.0, p.1)).collect());
        if self.reps.len() > 1 {
            s.band = stats.iter().map(|p| (p.0, p.2, p.3)).collect();
        }
        s
    }

    pub(super) fn rows(&self) -> impl Iterator<Item = &Row> {
        self.reps.values().flatten()
    }

    /// Whether the latency percentiles of a bucket are drawn.
    pub(super) fn latency_filter(&self) -> impl Fn(&Row) -> bool + use<> {
        let mut counts: Vec<f64> = self
            .rows()
            .map(|r| r.completions)
            .filter(|c| *c > 0.0)
            .collect();
        counts.sort_by(f64::total_cmp);
        let median = counts.get(counts.len() / 2).copied().unwrap_or(0.0);
        let least = MIN_COMPLETIONS.max(0.05 * median);
        move |r: &Row| r.completions >= least
    }
}
