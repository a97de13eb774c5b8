//! The rows of `serving.csv` and `replicas.csv`: the token-level results
//! of the classes on serving pools and of those pools.

use super::{Cell, Column, Row};
use crate::metric::Metric;
use crate::model::{RunResult, Scenario};

rows! {
    /// One row of `serving.csv`: one class on a serving pool (or `all`,
    /// every serving class together) in one replication of one grid point
    /// (measured requests).
    pub struct ServingRow {
        /// Scenario name.
        pub scenario: String,
        /// Grid point.
        pub point: u64,
        /// Replication index.
        pub replication: u64,
        /// The scenario's seed.
        pub seed: u64,
        /// Class name.
        pub class: String,
        /// Serving pool of the class.
        pub pool: String,
        /// Measured requests that saw their first token.
        pub first_tokens: u64,
        /// Mean time to first token (arrival → first token), seconds.
        pub ttft_mean_s: Option<f64>,
        /// Median time to first token, seconds.
        pub ttft_p50_s: Option<f64>,
        /// 95th percentile time to first token, seconds.
        pub ttft_p95_s: Option<f64>,
        /// 99th percentile time to first token, seconds.
        pub ttft_p99_s: Option<f64>,
        /// Mean time per output token, (latency − TTFT) ÷ (output − 1), seconds.
        pub tpot_mean_s: Option<f64>,
        /// Median time per output token, seconds.
        pub tpot_p50_s: Option<f64>,
        /// 95th percentile time per output token, seconds.
        pub tpot_p95_s: Option<f64>,
        /// 99th percentile time per output token, seconds.
        pub tpot_p99_s: Option<f64>,
        /// Goodput: completions per second of the measurement window that
        /// met every target of the class (`latency_target`, `ttft_target`,
        /// `tpot_target`; every completion when it has none).
        pub goodput_per_s: f64,
    }

    /// One row of `serving_series.csv`: one time bucket of a serving pool
    /// or of a class on one, in one replication of one grid point.
    pub struct ServingSeriesRow {
        /// Scenario name.
        pub scenario: String,
        /// Grid point.
        pub point: u64,
        /// Replication index.
        pub replication: u64,
        /// The scenario's seed.
        pub seed: u64,
        /// Start of the bucket, seconds.
        pub time_s: f64,
        /// Width of the bucket, seconds.
        pub bucket_s: f64,
        /// `pool` or `class`.
        pub scope_kind: String,
        /// Pool or class name.
        pub scope: String,
        /// Time-average whole replicas in service (pools).
        pub replicas_mean: Option<f64>,
        /// Time-average running sequences per replica in service (pools).
        pub running_mean: Option<f64>,
        /// Most sequences running at once over the pool (pools).
        pub running_max: Option<f64>,
        /// Time-average share of the KV cache in service held (pools).
        pub kv_utilization: Option<f64>,
        /// Largest share of the KV cache in service held at once (pools).
        pub kv_utilization_max: Option<f64>,
        /// Prompt tokens prefilled in the bucket (pools).
        pub prefill_tokens: Option<f64>,
        /// Output tokens generated in the bucket (pools).
        pub output_tokens: Option<f64>,
        /// Sequences preempted in the bucket (pools).
        pub preemptions: Option<f64>,
        /// Requests whose first token came in the bucket (classes).
        pub first_tokens: Option<f64>,
        /// Median time to first token of those, seconds (classes).
        pub ttft_p50_s: Option<f64>,
        /// 99th percentile time to first token of those, seconds (classes).
        pub ttft_p99_s: Option<f64>,
        /// 99th percentile time per output token of the requests completed
        /// in the bucket, seconds (classes).
        pub tpot_p99_s: Option<f64>,
    }

    /// One row of `replicas.csv`: one serving pool in one replication of
    /// one grid point, over `[warmup, duration)`.
    pub struct ReplicaRow {
        /// Scenario name.
        pub scenario: String,
        /// Grid point.
        pub point: u64,
        /// Replication index.
        pub replication: u64,
        /// The scenario's seed.
        pub seed: u64,
        /// Pool name.
        pub pool: String,
        /// GPUs per replica (tensor-parallel degree).
        pub gpus_per_replica: u64,
        /// Time-average replicas online.
        pub replicas_mean: f64,
        /// Prompt tokens prefilled per second, recomputation included.
        pub prefill_tokens_per_s: f64,
        /// Output tokens generated per second.
        pub output_tokens_per_s: f64,
        /// Time-average running sequences per online replica.
        pub running_mean: f64,
        /// Most sequences running at once over the pool.
        pub running_max: u64,
        /// Time-average share of the online replicas' KV cache held.
        pub kv_utilization: f64,
        /// Largest share of the pool's KV cache held at once.
        pub kv_utilization_max: f64,
        /// Sequences preempted for KV blocks (and recomputed).
        pub preemptions: u64,
        /// Steps run over all replicas.
        pub steps: u64,
        /// Of those, steps the roofline floor set (a fitted step model
        /// held above what the GPUs can do).
        pub floor_steps: u64,
    }
}

impl ServingRow {
    /// The row's value of a token-level metric (`None` for any other).
    pub fn metric(&self, metric: Metric) -> Option<f64> {
        match metric {
            Metric::TtftMean => self.ttft_mean_s,
            Metric::TtftP50 => self.ttft_p50_s,
            Metric::TtftP95 => self.ttft_p95_s,
            Metric::TtftP99 => self.ttft_p99_s,
            Metric::TpotMean => self.tpot_mean_s,
            Metric::TpotP50 => self.tpot_p50_s,
            Metric::TpotP95 => self.tpot_p95_s,
            Metric::TpotP99 => self.tpot_p99_s,
            _ => None,
        }
    }

    /// Rows of every class on a serving pool of every run, for grid point
    /// `point`.
    pub fn of_runs(scenario: &Scenario, point: usize, runs: &[RunResult]) -> Vec<Self> {
        let mut rows = Vec::new();
        for run in runs {
            // Each serving class on its pool, then `all` (every serving
            // class's requests together) on `all`.
            let classes = run.classes.iter().zip(&scenario.classes);
            let pools = classes.map(|(c, spec)| (c, scenario.pools[spec.pool].name.as_str()));
            for (c, pool) in pools.chain(std::iter::once((&run.all, "all"))) {
                let Some(ttft) = &c.ttft else { continue };
                let v = |m: Metric| m.of_serving(Some(ttft), c.tpot.as_ref());
                rows.push(ServingRow {
                    scenario: scenario.name.clone(),
                    point: point as u64,
                    replication: u64::from(run.replication),
                    seed: run.seed,
                    class: c.name.clone(),
                    pool: pool.to_string(),
                    first_tokens: ttft.count(),
                    ttft_mean_s: v(Metric::TtftMean),
                    ttft_p50_s: v(Metric::TtftP50),
                    ttft_p95_s: v(Metric::TtftP95),
                    ttft_p99_s: v(Metric::TtftP99),
                    tpot_mean_s: v(Metric::TpotMean),
                    tpot_p50_s: v(Metric::TpotP50),
                    tpot_p95_s: v(Metric::TpotP95),
                    tpot_p99_s: v(Metric::TpotP99),
                    goodput_per_s: c.goodput_per_s.unwrap_or(0.0),
                });
            }
        }
        rows
    }
}

impl ReplicaRow {
    /// Rows of every serving pool of every run, for grid point `point`.
    pub fn of_runs(scenario: &Scenario, point: usize, runs: &[RunResult]) -> Vec<Self> {
        let mut rows = Vec::new();
        for run in runs {
            for (p, spec) in run.pools.iter().zip(&scenario.pools) {
                let (Some(s), Some(sv)) = (&p.serving, &spec.serving) else {
                    continue;
                };
                rows.push(ReplicaRow {
                    scenario: scenario.name.clone(),
                    point: point as u64,
                    replication: u64::from(run.replication),
                    seed: run.seed,
                    pool: p.name.clone(),
                    gpus_per_replica: u64::from(sv.gpus_per_replica),
                    replicas_mean: s.replicas_mean,
                    prefill_tokens_per_s: s.prefill_tokens_per_s,
                    output_tokens_per_s: s.output_tokens_per_s,
                    running_mean: s.running_mean,
                    running_max: s.running_max,
                    kv_utilization: s.kv_utilization,
                    kv_utilization_max: s.kv_utilization_max,
                    preemptions: s.preemptions,
                    steps: s.steps,
                    floor_steps: s.floor_steps,
                });
            }
        }
        rows
    }
}

impl ServingSeriesRow {
    /// Rows of every serving bucket of every run, for grid point `point`.
    pub fn of_runs(scenario: &Scenario, point: usize, runs: &[RunResult]) -> Vec<Self> {
        let mut rows = Vec::new();
        for run in runs {
            for r in &run.serving_series {
                let (kind, name) = super::scope_names(scenario, r.scope);
                rows.push(ServingSeriesRow {
                    scenario: scenario.name.clone(),
                    point: point as u64,
                    replication: u64::from(run.replication),
                    seed: run.seed,
                    time_s: r.start.as_secs_f64(),
                    bucket_s: r.width.as_secs_f64(),
                    scope_kind: kind.into(),
                    scope: name.clone(),
                    replicas_mean: r.replicas_mean,
                    running_mean: r.running_mean,
                    running_max: r.running_max.map(|x| x as f64),
                    kv_utilization: r.kv_utilization,
                    kv_utilization_max: r.kv_utilization_max,
                    prefill_tokens: r.prefill_tokens.map(|x| x as f64),
                    output_tokens: r.output_tokens.map(|x| x as f64),
                    preemptions: r.preemptions.map(|x| x as f64),
                    first_tokens: r.first_tokens.map(|x| x as f64),
                    ttft_p50_s: r.ttft_p50_s,
                    ttft_p99_s: r.ttft_p99_s,
                    tpot_p99_s: r.tpot_p99_s,
                });
            }
        }
        rows
    }
}
