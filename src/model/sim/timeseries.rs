//! The time series: per-bucket counts of each class, pool and population,
//! closed into rows at each bucket boundary.

use super::Sim;
use crate::engine::SimTime;
use crate::metrics::CompactHistogram;
use crate::model::results::{Scope, TimeSeriesRow};

/// Fewest buckets a drain may have before the rest of it is one last
/// bucket (the default bucket is a 500th of the duration).
const MIN_DRAIN_BUCKETS: u64 = 500;

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
            for c in self
                .classes
                .iter()
                .filter(|c| c.route == super::Route::Pool(i as u32))
            {
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
        // Serving pools and their classes: batch, cache, tokens, TTFT.
        for (i, p) in self.pools.iter_mut().enumerate() {
            if let super::server::Model::Replicas(reps) = &mut p.server.model {
                self.serving_series.push(reps.close_bucket(start, end, i));
            }
        }
        for (i, c) in self.classes.iter_mut().enumerate() {
            if let Some(t) = &mut c.tokens {
                let [p50, p99] = t.bucket_ttft.quantiles_s([0.5, 0.99]);
                let [tpot99] = t.bucket_tpot.quantiles_s([0.99]);
                self.serving_series
                    .push(crate::model::results::ServingSeriesRow {
                        start,
                        width,
                        scope: Scope::Class(i),
                        replicas_mean: None,
                        running_mean: None,
                        running_max: None,
                        kv_utilization: None,
                        kv_utilization_max: None,
                        prefill_tokens: None,
                        output_tokens: None,
                        preemptions: None,
                        first_tokens: Some(t.bucket_ttft.count()),
                        ttft_p50_s: p50,
                        ttft_p99_s: p99,
                        tpot_p99_s: tpot99,
                    });
                t.bucket_ttft.reset();
                t.bucket_tpot.reset();
            }
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
        for (i, c) in self.classes.iter_mut().enumerate() {
            c.bucket.clear();
            for (k, st) in c.stages.iter_mut().enumerate() {
                self.stage_series.push(st.bucket.close(start, width, i, k));
            }
        }
        self.bucket_start = end;
        self.buckets_closed += 1;
        // A drain gets as many buckets as the arrivals had (at least
        // MIN_DRAIN_BUCKETS): one request served for a year after a two-hour
        // run must not fill memory with empty rows.
        let drain_full = end >= self.arrivals_end
            && self.buckets_closed
                >= 2 * (self.arrivals_end.0 / self.bucket_width.0.max(1)).max(MIN_DRAIN_BUCKETS);
        self.next_bucket = if drain_full || self.buckets_closed + 1 >= super::MAX_SERIES_BUCKETS {
            // The rest of the run is one last bucket.
            SimTime::MAX
        } else {
            end + self.bucket_width
        };
    }
}
