//! The time series: per-bucket counts of each class, pool and population,
//! closed into rows at each bucket boundary.

use super::Sim;
use crate::engine::{SimDuration, SimTime};
use crate::metrics::CompactHistogram;

#[derive(Default)]
pub(super) struct BucketTally {
    pub(super) arrivals: u64,
    pub(super) retries: u64,
    pub(super) completions: u64,
    pub(super) rejected: u64,
    pub(super) abandoned: u64,
    pub(super) failed: u64,
    pub(super) deferred: u64,
    pub(super) latency: CompactHistogram,
}

impl BucketTally {
    pub(super) fn clear(&mut self) {
        self.arrivals = 0;
        self.retries = 0;
        self.completions = 0;
        self.rejected = 0;
        self.abandoned = 0;
        self.failed = 0;
        self.deferred = 0;
        self.latency.reset();
    }
}

/// What a time-series row describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// A class, by index in the scenario.
    Class(usize),
    /// A pool, by index in the scenario.
    Pool(usize),
    /// A user population, by index in the scenario.
    Population(usize),
}

/// One time bucket of one class, pool or population.
#[derive(Clone, Debug)]
pub struct TimeSeriesRow {
    /// Start of the bucket.
    pub start: SimTime,
    /// Width of the bucket (the last one may be shorter).
    pub width: SimDuration,
    /// The class, pool or population.
    pub scope: Scope,
    /// New requests (first attempts) that arrived in the bucket; for a
    /// pool, every attempt submitted to it; for a population, signups.
    pub arrivals: u64,
    /// Retry attempts that arrived in the bucket.
    pub retries: u64,
    /// Requests that completed in the bucket.
    pub completions: u64,
    /// Attempts rejected in the bucket (rate limit or admission).
    pub rejected: u64,
    /// Attempts abandoned in the bucket.
    pub abandoned: u64,
    /// Attempts lost to GPU failures in the bucket.
    pub failed: u64,
    /// Time-average number of waiting requests (classes and pools).
    pub queue_mean: Option<f64>,
    /// Largest number of waiting requests (classes and pools).
    pub queue_max: Option<u64>,
    /// Time-average busy GPUs (pools only).
    pub busy_gpus_mean: Option<f64>,
    /// Time-average online GPUs (pools only).
    pub online_gpus_mean: Option<f64>,
    /// Time-average users with a session under way (populations only).
    pub users_online: Option<f64>,
    /// Median latency of the bucket's completions, seconds.
    pub latency_p50_s: Option<f64>,
    /// 99th percentile latency of the bucket's completions, seconds.
    pub latency_p99_s: Option<f64>,
    /// 95th percentile latency of the bucket's completions, seconds.
    pub latency_p95_s: Option<f64>,
    /// Attempts moved to the asynchronous queue in the bucket (classes
    /// and pools).
    pub deferred: u64,
}

impl TimeSeriesRow {
    pub(crate) fn empty(start: SimTime, width: SimDuration, scope: Scope) -> Self {
        TimeSeriesRow {
            start,
            width,
            scope,
            arrivals: 0,
            retries: 0,
            completions: 0,
            rejected: 0,
            abandoned: 0,
            failed: 0,
            queue_mean: None,
            queue_max: None,
            busy_gpus_mean: None,
            online_gpus_mean: None,
            users_online: None,
            latency_p50_s: None,
            latency_p99_s: None,
            latency_p95_s: None,
            deferred: 0,
        }
    }
}

impl Sim<'_> {
    /// Close the current time bucket at `self.next_bucket`.
    pub(super) fn close_bucket(&mut self) {
        let start = self.bucket_start;
        let end = self.next_bucket;
        let width = end - start;
        for (i, c) in self.classes.iter_mut().enumerate() {
            let (queue_mean, queue_max) = c.queued.close_bucket(end);
            let b = &c.bucket;
            let [p50, p95, p99] = b.latency.quantiles_s([0.5, 0.95, 0.99]);
            self.timeseries.push(TimeSeriesRow {
                arrivals: b.arrivals,
                retries: b.retries,
                completions: b.completions,
                rejected: b.rejected,
                abandoned: b.abandoned,
                failed: b.failed,
                deferred: b.deferred,
                queue_mean: Some(queue_mean),
                queue_max: Some(queue_max),
                latency_p50_s: p50,
                latency_p99_s: p99,
                latency_p95_s: p95,
                ..TimeSeriesRow::empty(start, width, Scope::Class(i))
            });
        }
        for (i, p) in self.pools.iter_mut().enumerate() {
            // The pool's latency histogram is the merge of its classes':
            // one record per completion instead of two.
            for c in self.classes.iter().filter(|c| c.pool as usize == i) {
                p.bucket.latency.merge(&c.bucket.latency);
                p.bucket.retries += c.bucket.retries;
                p.bucket.failed += c.bucket.failed;
            }
            let (queue_mean, queue_max) = p.queue.close_bucket(end);
            let (busy, _) = p.busy_level.close_bucket(end);
            let (online, _) = p.online.close_bucket(end);
            let b = &p.bucket;
            let [p50, p95, p99] = b.latency.quantiles_s([0.5, 0.95, 0.99]);
            self.timeseries.push(TimeSeriesRow {
                arrivals: b.arrivals,
                retries: b.retries,
                completions: b.completions,
                rejected: b.rejected,
                abandoned: b.abandoned,
                failed: b.failed,
                deferred: b.deferred,
                queue_mean: Some(queue_mean),
                queue_max: Some(queue_max),
                busy_gpus_mean: Some(busy),
                online_gpus_mean: Some(online),
                latency_p50_s: p50,
                latency_p99_s: p99,
                latency_p95_s: p95,
                ..TimeSeriesRow::empty(start, width, Scope::Pool(i))
            });
            p.bucket.clear();
        }
        for (i, p) in self.populations.iter_mut().enumerate() {
            let (online, _) = p.online.close_bucket(end);
            self.timeseries.push(TimeSeriesRow {
                arrivals: p.bucket_signups,
                users_online: Some(online),
                ..TimeSeriesRow::empty(start, width, Scope::Population(i))
            });
            p.bucket_signups = 0;
        }
        for c in &mut self.classes {
            c.bucket.clear();
        }
        self.bucket_start = end;
        self.next_bucket = end + self.bucket_width;
    }
}
