//! What one replication produced: per class, per pool, per population,
//! the time series and the trace. Plain data, built at the end of a run.

use super::trace::TraceRecord;
use crate::engine::{SimDuration, SimTime};
use crate::metrics::DurationHistogram;

/// Results of one class (or of all classes together) in one replication.
/// Counts are of measured requests: those whose first attempt arrived after
/// the warm-up. Outcomes are as the user saw them (the last attempt's).
#[derive(Clone, Debug)]
pub struct ClassResult {
    /// Class name, or `all`.
    pub name: String,
    /// Measured requests (first attempts).
    pub arrivals: u64,
    /// Of those, completed.
    pub completed: u64,
    /// Of those, rejected on their last attempt (rate limit or admission).
    pub rejected: u64,
    /// Of those, abandoned on their last attempt.
    pub abandoned: u64,
    /// Of those, failed (GPU failure, retries exhausted).
    pub failed: u64,
    /// Of those, still waiting, in service or backing off when the run ended.
    pub in_system: u64,
    /// Attempts made by measured requests, first attempts included.
    pub attempts: u64,
    /// Attempts rejected.
    pub rejected_attempts: u64,
    /// Attempts abandoned.
    pub abandoned_attempts: u64,
    /// Attempts lost to failures.
    pub failed_attempts: u64,
    /// Completions per second of the measurement window.
    pub throughput_per_s: f64,
    /// Wait: first arrival → start of service.
    pub wait: DurationHistogram,
    /// Latency: first arrival → completion.
    pub latency: DurationHistogram,
    /// Requests deferred to the asynchronous queue (on any attempt).
    pub deferred: u64,
    /// Time to completion of deferred requests that completed.
    pub deferred_latency: DurationHistogram,
    /// Serving classes (and `all`, when some class serves): time to first
    /// token, arrival → first token, of measured requests.
    pub ttft: Option<DurationHistogram>,
    /// Serving classes: time per output token, (latency − TTFT) ÷ (output
    /// tokens − 1), of measured completed requests of two tokens or more.
    pub tpot: Option<DurationHistogram>,
    /// Serving classes: goodput, the completions per second of the
    /// measurement window that met every target of their class (latency,
    /// TTFT, TPOT; all of them when the class has none).
    pub goodput_per_s: Option<f64>,
    /// Fraction of arrivals completed within every target of the class
    /// (latency; TTFT and TPOT on a serving pool).
    pub slo_attainment: Option<f64>,
    pub(crate) slo_met: u64,
    pub(crate) slo_arrivals: u64,
    /// For a workflow class, each stage's results, in workflow order
    /// (empty otherwise, and for `all`).
    pub stages: Vec<StageResult>,
}

/// One stage of a workflow class in one replication: the stage's visits
/// by measured requests (whose first attempt arrived after the warm-up).
/// At the end, arrivals = completed + rejected + timed_out + failed +
/// cancelled + in_system.
#[derive(Clone, Debug, Default)]
pub struct StageResult {
    /// Stage name.
    pub name: String,
    /// Pool that serves it (empty for a fork stage).
    pub pool: String,
    /// Visits: a request entering the stage (a loop back is a new visit).
    pub arrivals: u64,
    /// Attempts of those visits (stage retries included).
    pub attempts: u64,
    /// Visits served to the end.
    pub completed: u64,
    /// Visits whose last attempt was turned away by the pool's admission.
    pub rejected: u64,
    /// Visits whose last attempt waited longer than the stage's timeout.
    pub timed_out: u64,
    /// Visits whose last attempt was lost to a GPU failure.
    pub failed: u64,
    /// Visits withdrawn because their workflow ended elsewhere: the user
    /// gave up, another stage failed, or a sibling branch won a `first` join.
    pub cancelled: u64,
    /// Visits still waiting, in service or backing off at the end.
    pub in_system: u64,
    /// Wait of each attempt that started: stage arrival → start of service.
    pub wait: DurationHistogram,
    /// Service time of each completed visit.
    pub service: DurationHistogram,
}

/// Results of one pool in one replication, over `[warmup, duration)`.
#[derive(Clone, Debug)]
pub struct PoolResult {
    /// Pool name.
    pub name: String,
    /// Time-average online GPUs.
    pub gpus_mean: f64,
    /// Time-average busy GPUs.
    pub busy_gpus_mean: f64,
    /// Busy GPU-time / online GPU-time.
    pub utilization: f64,
    /// Offered load ρ = Σλ·E\[S\] / (gpus · speed) from the scenario.
    pub offered_load: f64,
    /// Online GPU-hours.
    pub gpu_hours: f64,
    /// `gpu_hours` × cost per GPU-hour.
    pub cost_usd: f64,
    /// Time-average number of waiting requests.
    pub queue_mean: f64,
    /// Largest number of waiting requests.
    pub queue_max: u64,
    /// Attempts moved to the deferred queue (of measured requests).
    pub deferred: u64,
    /// Attempts shed by admission control (of measured requests).
    pub shed: u64,
    /// Requests lost to GPU failures.
    pub failed: u64,
    /// What the run says about the pool's load (see [`super::verdict`]).
    pub verdict: LoadVerdict,
    /// A serving pool's token-level results.
    pub serving: Option<ServingResult>,
}

/// A serving pool's token-level results over `[warmup, duration)`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ServingResult {
    /// Time-average replicas online.
    pub replicas_mean: f64,
    /// Prompt tokens prefilled per second (recomputation included).
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
    /// Sequences preempted (evicted for KV blocks and recomputed).
    pub preemptions: u64,
    /// Steps run inside the window, over all replicas.
    pub steps: u64,
    /// Of those, steps whose time the roofline floor set: a fitted step
    /// model that would have run faster than the GPUs can (0 unless the
    /// pool gives both `step` and `model`/`gpu`).
    pub floor_steps: u64,
    /// Output tokens generated over the whole run (warm-up and drain
    /// included): every output token of every completed request, once,
    /// and those of the requests still running.
    pub output_tokens: u64,
    /// Prompt tokens prefilled over the whole run, recomputation included.
    pub prefill_tokens: u64,
}

impl PoolResult {
    /// Whether the run found the pool anything but stable.
    pub fn unstable(&self) -> bool {
        self.verdict.kind != VerdictKind::Stable
    }
}

/// Results of one user population in one replication.
#[derive(Clone, Debug)]
pub struct PopulationResult {
    /// Population name.
    pub name: String,
    /// Signups during the run.
    pub signups: u64,
    /// Time-average users with a session under way, over the window.
    pub users_online_mean: f64,
    /// Most users with a session under way at once.
    pub users_online_max: u64,
}

/// Everything one replication produced.
#[derive(Clone, Debug)]
pub struct RunResult {
    /// Replication index (0-based).
    pub replication: u32,
    /// The scenario's base seed.
    pub seed: u64,
    /// Per class, in scenario order.
    pub classes: Vec<ClassResult>,
    /// All classes together.
    pub all: ClassResult,
    /// Per pool, in scenario order.
    pub pools: Vec<PoolResult>,
    /// Per population, in scenario order.
    pub populations: Vec<PopulationResult>,
    /// Time series, bucket by bucket: classes, then pools, then populations.
    pub timeseries: Vec<TimeSeriesRow>,
    /// Time series of each workflow stage, bucket by bucket (empty without
    /// workflows).
    pub stage_series: Vec<StageSeriesRow>,
    /// Time series of each serving pool and each class on one, bucket by
    /// bucket (empty without serving pools).
    pub serving_series: Vec<ServingSeriesRow>,
    /// Events processed.
    pub events: u64,
    /// Requests simulated (warm-up included).
    pub requests: u64,
    /// Requests that reached a final outcome (warm-up included).
    pub requests_finished: u64,
    /// Requests still in the system at the end (warm-up included), counted
    /// by scanning the request slab.
    pub requests_in_system: u64,
    /// When the run ended (≥ duration).
    pub end_time: SimTime,
    /// Length of the measurement window, seconds.
    pub window_s: f64,
    /// The first `Scenario::trace` measured requests, in arrival order.
    pub trace: Vec<TraceRecord>,
    /// Set when the run reached its budget and stopped early.
    pub stopped: Option<Stopped>,
}

/// Why and when a run stopped before its end.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stopped {
    /// Simulated time of the stop; every statistic covers [0, at).
    pub at: SimTime,
    /// The limit that was reached.
    pub reason: StopReason,
    /// Requests and users in the system at the stop.
    pub in_system: u64,
}

/// The budget limit a run reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// More requests and users in the system than `max_in_system`.
    InSystem(u64),
    /// `max_events` events processed.
    Events(u64),
    /// An event fell at or past the last nanosecond a `u64` holds
    /// (≈ 584 years): simulated time cannot go further.
    EndOfTime,
}

impl Stopped {
    /// One sentence for tables, JSON and reports.
    pub fn describe(&self) -> String {
        let what = match self.reason {
            StopReason::InSystem(n) => {
                format!("{n} requests and users in the system reached the budget (max_in_system)")
            }
            StopReason::Events(n) => format!("{n} events reached the budget (max_events)"),
            StopReason::EndOfTime => "the next event falls past the end of simulated time (2^64 ns ≈ 584 years: services or drains that long cannot be timed)".to_string(),
        };
        format!(
            "stopped early at {} of simulated time: {what}; outputs cover the run up to then",
            crate::engine::SimDuration(self.at.0)
        )
    }
}

impl ClassResult {
    pub(crate) fn new(name: &str) -> Self {
        ClassResult {
            name: name.to_string(),
            arrivals: 0,
            completed: 0,
            rejected: 0,
            abandoned: 0,
            failed: 0,
            in_system: 0,
            attempts: 0,
            rejected_attempts: 0,
            abandoned_attempts: 0,
            failed_attempts: 0,
            throughput_per_s: 0.0,
            wait: DurationHistogram::new(),
            latency: DurationHistogram::new(),
            deferred: 0,
            deferred_latency: DurationHistogram::new(),
            ttft: None,
            tpot: None,
            goodput_per_s: None,
            slo_attainment: None,
            slo_met: 0,
            slo_arrivals: 0,
            stages: Vec::new(),
        }
    }

    /// Attempts per measured request (1 without retries).
    pub fn attempts_per_request(&self) -> Option<f64> {
        (self.arrivals > 0).then(|| self.attempts as f64 / self.arrivals as f64)
    }

    pub(crate) fn absorb(&mut self, other: &ClassResult) {
        self.arrivals += other.arrivals;
        self.completed += other.completed;
        self.rejected += other.rejected;
        self.abandoned += other.abandoned;
        self.failed += other.failed;
        self.in_system += other.in_system;
        self.attempts += other.attempts;
        self.rejected_attempts += other.rejected_attempts;
        self.abandoned_attempts += other.abandoned_attempts;
        self.failed_attempts += other.failed_attempts;
        self.throughput_per_s += other.throughput_per_s;
        self.wait.merge(&other.wait);
        self.latency.merge(&other.latency);
        self.deferred += other.deferred;
        self.deferred_latency.merge(&other.deferred_latency);
        for (mine, theirs) in [(&mut self.ttft, &other.ttft), (&mut self.tpot, &other.tpot)] {
            if let Some(h) = theirs {
                mine.get_or_insert_with(DurationHistogram::new).merge(h);
            }
        }
        if let Some(g) = other.goodput_per_s {
            *self.goodput_per_s.get_or_insert(0.0) += g;
        }
        self.slo_met += other.slo_met;
        self.slo_arrivals += other.slo_arrivals;
        self.slo_attainment = (self.slo_arrivals > 0)
            .then(|| self.slo_met as f64 / self.slo_arrivals as f64)
            .or(self.slo_attainment);
    }
}

/// One time bucket of one stage of one workflow class: what the chart of
/// where time goes draws (`stage_series.csv`).
#[derive(Clone, Debug)]
pub struct StageSeriesRow {
    /// Start of the bucket.
    pub start: SimTime,
    /// Width of the bucket.
    pub width: SimDuration,
    /// Class index in the scenario.
    pub class: usize,
    /// Stage index in the class's workflow.
    pub stage: usize,
    /// Visits that entered the stage in the bucket.
    pub arrivals: u64,
    /// Attempts that started service in the bucket.
    pub started: u64,
    /// Visits whose service completed in the bucket.
    pub completed: u64,
    /// Mean wait of the attempts that started in the bucket, seconds.
    pub wait_mean_s: Option<f64>,
    /// Mean service of the visits that completed in the bucket, seconds.
    pub service_mean_s: Option<f64>,
}

/// One time bucket of a serving pool (its batch, cache and tokens) or of
/// a class on one (its first tokens and token times).
#[derive(Clone, Debug)]
pub struct ServingSeriesRow {
    /// Start of the bucket.
    pub start: SimTime,
    /// Width of the bucket.
    pub width: SimDuration,
    /// The serving pool or the class.
    pub scope: Scope,
    /// Time-average whole replicas in service (pools).
    pub replicas_mean: Option<f64>,
    /// Time-average running sequences per replica in service (pools).
    pub running_mean: Option<f64>,
    /// Most sequences running at once over the pool (pools).
    pub running_max: Option<u64>,
    /// Time-average share of the KV cache in service held (pools).
    pub kv_utilization: Option<f64>,
    /// Largest share of the KV cache in service held at once (pools).
    pub kv_utilization_max: Option<f64>,
    /// Prompt tokens prefilled in the bucket, recomputation included (pools).
    pub prefill_tokens: Option<u64>,
    /// Output tokens generated in the bucket (pools).
    pub output_tokens: Option<u64>,
    /// Sequences preempted in the bucket (pools).
    pub preemptions: Option<u64>,
    /// Requests that saw their first token in the bucket (classes).
    pub first_tokens: Option<u64>,
    /// Median time to first token of those, seconds (classes).
    pub ttft_p50_s: Option<f64>,
    /// 99th percentile time to first token of those, seconds (classes).
    pub ttft_p99_s: Option<f64>,
    /// 99th percentile time per output token of the requests completed in
    /// the bucket, seconds (classes).
    pub tpot_p99_s: Option<f64>,
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

/// What the run says about a pool's load (judged in [`super::verdict`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VerdictKind {
    /// No window's offered load reaches capacity.
    Stable,
    /// Load ≥ capacity for a while; the backlog drains.
    TransientOverload,
    /// The backlog was still growing when arrivals stopped, or the run hit
    /// its budget.
    Overloaded,
    /// Load ≥ capacity at the end, but patience, shedding or rate limits
    /// turn enough away to keep the queue finite.
    Bounded,
}

impl VerdictKind {
    /// The word used in tables, CSV, JSON and the report.
    pub fn label(self) -> &'static str {
        match self {
            VerdictKind::Stable => "stable",
            VerdictKind::TransientOverload => "transient overload",
            VerdictKind::Overloaded => "overloaded",
            VerdictKind::Bounded => "bounded by patience/limits",
        }
    }
}

/// The verdict on one pool, with its evidence.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LoadVerdict {
    /// The verdict.
    pub kind: VerdictKind,
    /// The highest window's offered load.
    pub peak_load: f64,
    /// Start of that window.
    pub peak_at: SimTime,
    /// GPUs online (mean) in that window.
    pub peak_gpus: f64,
    /// First and last moment of the windows with load ≥ 1.
    pub overload: Option<(SimTime, SimTime)>,
    /// The largest queue of the run.
    pub backlog_max: u64,
    /// When the queue first emptied after the overload, if it did.
    pub drained_at: Option<SimTime>,
    /// Share of attempts at the pool turned away (shed, rate-limited or
    /// abandoned).
    pub turned_away: f64,
    /// GPUs that come and go together: 1, or a serving pool's GPUs per
    /// replica (capacity hints are whole multiples of it).
    pub gpu_unit: u32,
}

impl LoadVerdict {
    /// The fewest GPUs, in whole units, that carry `load` × `gpus` with
    /// room to spare (more than the load by at least one GPU).
    pub fn gpus_for(load: f64, gpus: f64, unit: u32) -> u64 {
        let unit = u64::from(unit.max(1));
        ((load * gpus).ceil() as u64 + 1).div_ceil(unit) * unit
    }
}

impl Default for LoadVerdict {
    fn default() -> Self {
        LoadVerdict {
            kind: VerdictKind::Stable,
            peak_load: 0.0,
            peak_at: SimTime::ZERO,
            peak_gpus: 0.0,
            overload: None,
            backlog_max: 0,
            drained_at: None,
            turned_away: 0.0,
            gpu_unit: 1,
        }
    }
}
