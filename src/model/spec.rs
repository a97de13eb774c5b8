//! The validated description of a system to simulate.
//!
//! A [`Scenario`] is plain, `Send` data: the scenario loader builds one from
//! a TOML file (after validation), a library user may build one in code, and
//! each replication builds its own simulation from it.

use super::retry::RetrySpec;
use super::serving::{ServingSpec, TokenSpec};
use super::workflow::WorkflowSpec;
use super::{ArrivalSpec, DurationDist};
use crate::engine::SimDuration;
use crate::metric::Metric;

/// Everything a run needs: the workload, the pools, and the run parameters.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// Name, used for the output folder and the `scenario` CSV column.
    pub name: String,
    /// Free text shown in reports.
    pub description: Option<String>,
    /// Arrivals stop at this time; the run then drains.
    pub duration: SimDuration,
    /// Requests arriving before this are simulated but not counted.
    pub warmup: SimDuration,
    /// How long after `duration` the run may drain; `None` drains until empty.
    pub drain: Option<SimDuration>,
    /// Base seed of every random stream.
    pub seed: u64,
    /// Number of independent replications.
    pub replications: u32,
    /// Width of a time-series bucket; `None` picks duration / 500, rounded.
    pub bucket: Option<SimDuration>,
    /// Trace the first this many measured requests of each replication
    /// (`--trace N`, `requests.csv`); 0 traces none.
    pub trace: u64,
    /// The GPU pools.
    pub pools: Vec<PoolSpec>,
    /// The workload classes.
    pub classes: Vec<ClassSpec>,
    /// User populations feeding classes with `ArrivalSpec::Users`.
    pub populations: Vec<PopulationSpec>,
    /// Workflows run by classes with [`ClassSpec::workflow`].
    pub workflows: Vec<WorkflowSpec>,
    /// Service-level objectives (evaluated by `surge check`).
    pub slos: Vec<SloSpec>,
    /// What one replication may use before it stops early.
    pub budget: Budget,
    /// The wall-clock time (and date) the run starts at, if given: charts
    /// then label time as clock time. It changes nothing simulated.
    pub start: Option<StartTime>,
}

/// When simulated time 0 is on the clock: a time of day, and optionally a
/// date (`start = "08:00"`, `"2026-06-03"`, `"2026-06-03T08:00"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StartTime {
    /// Year, month (1–12) and day, if a date was given.
    pub date: Option<(i32, u32, u32)>,
    /// Minutes after midnight (0 to 1439).
    pub minute: u32,
}

impl StartTime {
    /// Parse `HH:MM`, `YYYY-MM-DD` or `YYYY-MM-DDTHH:MM` (a space may
    /// replace the `T`); `None` if it is not a valid one of those.
    pub fn parse(text: &str) -> Option<StartTime> {
        let clock = |t: &str| -> Option<u32> {
            let (h, m) = t.split_once(':')?;
            if h.len() != 2 || m.len() != 2 {
                return None;
            }
            let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
            (h < 24 && m < 60).then_some(h * 60 + m)
        };
        let date = |d: &str| -> Option<(i32, u32, u32)> {
            let mut parts = d.split('-');
            let (y, m, day) = (parts.next()?, parts.next()?, parts.next()?);
            if parts.next().is_some() || y.len() != 4 || m.len() != 2 || day.len() != 2 {
                return None;
            }
            let (y, m, day): (i32, u32, u32) =
                (y.parse().ok()?, m.parse().ok()?, day.parse().ok()?);
            ((1..=12).contains(&m) && day >= 1 && day <= days_in_month(y, m)).then_some((y, m, day))
        };
        let text = text.trim();
        if let Some((d, t)) = text.split_once(['T', ' ']) {
            return Some(StartTime {
                date: Some(date(d)?),
                minute: clock(t)?,
            });
        }
        if text.contains('-') {
            return Some(StartTime {
                date: Some(date(text)?),
                minute: 0,
            });
        }
        Some(StartTime {
            date: None,
            minute: clock(text)?,
        })
    }
}

impl std::fmt::Display for StartTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some((y, m, d)) = self.date {
            write!(f, "{y:04}-{m:02}-{d:02} ")?;
        }
        write!(f, "{:02}:{:02}", self.minute / 60, self.minute % 60)
    }
}

/// Days in month `m` (1–12) of year `y` (proleptic Gregorian).
pub fn days_in_month(y: i32, m: u32) -> u32 {
    match m {
        4 | 6 | 9 | 11 => 30,
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        _ => 31,
    }
}

/// The resources one replication may use. A run that reaches either limit
/// stops early at that moment, keeps every statistic up to it, and says
/// so ([`crate::model::RunResult::stopped`]); no scenario that validates
/// can exhaust memory or run without end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budget {
    /// Most requests plus users in the system at once (`max_in_system`).
    /// Memory grows with it: 32 bytes per waiting request, plus its
    /// timers in the event queue.
    pub max_in_system: u64,
    /// Most events one replication may process (`max_events`).
    pub max_events: u64,
}

impl Budget {
    /// 10 M requests and users in the system (about 1.2 GB at most), and
    /// 2 × 10⁹ events (a few minutes of one core; a 24 h launch day is
    /// about 10⁸).
    pub const DEFAULT: Budget = Budget {
        max_in_system: 10_000_000,
        max_events: 2_000_000_000,
    };
}

impl Default for Budget {
    fn default() -> Self {
        Budget::DEFAULT
    }
}

/// A GPU pool: a multi-server queue.
#[derive(Clone, Debug)]
pub struct PoolSpec {
    /// Unique pool name.
    pub name: String,
    /// Number of GPUs (servers), c.
    pub gpus: u32,
    /// The queue discipline.
    pub policy: PolicySpec,
    /// Speed factor: a request's service demand is divided by it.
    pub speed: f64,
    /// Cost of one GPU for one hour, in US dollars.
    pub cost_per_gpu_hour: f64,
    /// Planned capacity changes (procurement arriving in chunks).
    pub capacity: Vec<CapacityStep>,
    /// An autoscaler, if any.
    pub autoscale: Option<AutoscaleSpec>,
    /// GPU failures and repairs, if any.
    pub failures: Option<FailureSpec>,
    /// Batching of requests on a GPU, if any.
    pub batching: Option<BatchingSpec>,
    /// LLM replicas doing continuous batching, if any (then the pool's
    /// classes have token demand: [`ClassSpec::tokens`]).
    pub serving: Option<ServingSpec>,
}

/// Batching: a free GPU takes up to `max_batch` waiting requests at once
/// (in the policy's order, any class of the pool: a pool serves one model).
/// The batch takes (base + per_item × size) ÷ speed × X, where X = S/E\[S\]
/// is the unit-mean service-time noise of its first request (X = 1 for a
/// deterministic service). A free GPU waits at most `max_wait` for a full
/// batch before starting with what waits.
#[derive(Clone, Debug, PartialEq)]
pub struct BatchingSpec {
    /// Most requests in a batch.
    pub max_batch: u32,
    /// Fixed time of a batch, seconds.
    pub base_s: f64,
    /// Time per request in a batch, seconds.
    pub per_item_s: f64,
    /// Longest a free GPU waits to fill a batch.
    pub max_wait: SimDuration,
}

/// A planned change of a pool's installed GPUs.
#[derive(Clone, Debug, PartialEq)]
pub struct CapacityStep {
    /// When it happens.
    pub at: SimDuration,
    /// What changes.
    pub change: CapacityChange,
}

/// A change of installed GPUs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CapacityChange {
    /// Set the number of GPUs.
    Set(u32),
    /// Add (or, negative, remove) GPUs.
    Add(i64),
}

/// An autoscaler: every `interval` it compares the trigger with the pool's
/// state and requests `step` more GPUs (online after `provision_delay`,
/// paid from the request) or releases `step`, within [min, max] and at most
/// once per `cooldown`.
#[derive(Clone, Debug, PartialEq)]
pub struct AutoscaleSpec {
    /// Fewest installed GPUs.
    pub min: u32,
    /// Most installed plus provisioning GPUs.
    pub max: u32,
    /// GPUs added or removed per decision.
    pub step: u32,
    /// Time from a request to the GPUs being online.
    pub provision_delay: SimDuration,
    /// Least time between two changes.
    pub cooldown: SimDuration,
    /// Time between decisions.
    pub interval: SimDuration,
    /// When to scale up.
    pub trigger: ScaleTrigger,
}

/// An autoscaler's trigger, sampled at each decision.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ScaleTrigger {
    /// Scale up when busy / online GPUs ≥ this; down when below half of it
    /// and no request waits.
    Utilization(f64),
    /// Scale up when waiting requests per online GPU ≥ this; down when no
    /// request waits and utilization is below 50%.
    QueuePerGpu(f64),
}

/// GPU failures: each working GPU fails after an exponential time of mean
/// `mtbf` and is repaired after a time drawn from `mttr`. Work in service
/// on a failed GPU is lost.
#[derive(Clone, Debug)]
pub struct FailureSpec {
    /// Mean time between failures of one GPU.
    pub mtbf: SimDuration,
    /// Time to repair.
    pub mttr: DurationDist,
}

/// The queue discipline of a pool.
#[derive(Clone, Debug, PartialEq)]
pub enum PolicySpec {
    /// First come, first served.
    Fifo,
    /// Strict non-preemptive priority by class `priority` (lower first).
    Priority,
    /// Weighted fair sharing of GPU time by class `weight`.
    Fair,
    /// Deferrable classes go to an asynchronous queue when the predicted
    /// wait exceeds `threshold`; a `reserved` share of GPUs serves them.
    Deferral {
        /// Predicted wait beyond which deferrable requests are deferred.
        threshold: SimDuration,
        /// Share of online GPUs that may serve deferred requests while
        /// regular ones wait (0 to 1).
        reserved: f64,
    },
    /// Admission control: shed requests that find `max_queue` waiting or a
    /// predicted wait over `max_wait`, only of `classes` if given.
    Shed {
        /// Queue length at which arrivals are shed.
        max_queue: Option<u64>,
        /// Predicted wait beyond which arrivals are shed.
        max_wait: Option<SimDuration>,
        /// Indices of the classes that may be shed (all if `None`).
        classes: Option<Vec<usize>>,
    },
    /// A policy registered from code under this name
    /// (see [`crate::Simulation::policy`]).
    Custom {
        /// The registered name.
        name: String,
    },
}

impl PolicySpec {
    /// The name used in scenario files.
    pub fn name(&self) -> &'static str {
        match self {
            PolicySpec::Fifo => "fifo",
            PolicySpec::Priority => "priority",
            PolicySpec::Fair => "fair",
            PolicySpec::Deferral { .. } => "deferral",
            PolicySpec::Shed { .. } => "shed",
            PolicySpec::Custom { .. } => "custom",
        }
    }
}

/// A workload class (tier).
#[derive(Clone, Debug)]
pub struct ClassSpec {
    /// Unique class name.
    pub name: String,
    /// Index into [`Scenario::pools`] of the pool that serves it (for a
    /// workflow class, the pool of its workflow's first serving stage).
    pub pool: usize,
    /// When its requests arrive.
    pub arrivals: ArrivalSpec,
    /// GPU-seconds per request (on a pool of speed 1); for a workflow
    /// class, unused: each stage has its own.
    pub service: DurationDist,
    /// Index into [`Scenario::workflows`] of the workflow each request
    /// runs, if any; `None`: one service on `pool`.
    pub workflow: Option<usize>,
    /// Latency bound for the `slo_attainment` column, if any.
    pub latency_target: Option<SimDuration>,
    /// A serving class's bound on each request's time to first token.
    pub ttft_target: Option<SimDuration>,
    /// A serving class's bound on each request's time per output token.
    pub tpot_target: Option<SimDuration>,
    /// How long a request waits in queue before it is abandoned.
    pub patience: Option<DurationDist>,
    /// Retries after rejection, abandonment or failure.
    pub retry: Option<RetrySpec>,
    /// Rate limit on the class's requests.
    pub limit: Option<LimitSpec>,
    /// Priority for the `priority` policy (lower is served first).
    pub priority: i32,
    /// Weight for the `fair` policy.
    pub weight: f64,
    /// Whether the `deferral` policy may defer this class.
    pub deferrable: bool,
    /// Patience of deferred requests ("we'll notify you"); default: `patience`.
    pub deferred_patience: Option<DurationDist>,
    /// Token demand (prompt and output lengths), for a class on a serving
    /// pool; its `service` is then the work one request puts on a replica
    /// at full load (see [`ServingSpec::work_s`]), for loads and verdicts.
    pub tokens: Option<TokenSpec>,
}

impl ClassSpec {
    /// Whether each completed request is held to a target (latency, and
    /// for a serving class TTFT and TPOT): the class then has an SLO
    /// attainment, the share of its requests that met every one.
    pub fn has_targets(&self) -> bool {
        self.latency_target.is_some() || self.ttft_target.is_some() || self.tpot_target.is_some()
    }
}

/// A token-bucket rate limit: tokens refill continuously at `rate_per_s` up
/// to `burst`; a request that finds less than one token is rejected.
#[derive(Clone, Debug, PartialEq)]
pub struct LimitSpec {
    /// Refill rate, tokens per second.
    pub rate_per_s: f64,
    /// Bucket size (and initial fill).
    pub burst: f64,
    /// One bucket per user (populations only) instead of one for the class.
    pub per_user: bool,
}

/// A distribution of whole numbers (requests per session).
#[derive(Clone, Debug, PartialEq)]
pub enum CountDist {
    /// Always this many.
    Deterministic(u32),
    /// Poisson with this mean.
    Poisson(f64),
    /// Geometric on {0, 1, 2, …} with this mean.
    Geometric(f64),
    /// Uniform on {min, …, max}.
    Uniform(u32, u32),
}

impl CountDist {
    /// The mean.
    pub fn mean(&self) -> f64 {
        match self {
            CountDist::Deterministic(n) => f64::from(*n),
            CountDist::Poisson(m) | CountDist::Geometric(m) => *m,
            CountDist::Uniform(a, b) => 0.5 * (f64::from(*a) + f64::from(*b)),
        }
    }
}

/// A user population: signups arrive by an arrival process, and each user
/// sends sessions of requests to the classes that draw from it.
#[derive(Clone, Debug)]
pub struct PopulationSpec {
    /// Unique name.
    pub name: String,
    /// When users sign up (any process but `Users`).
    pub signups: ArrivalSpec,
    /// Requests per session (may be 0).
    pub requests: CountDist,
    /// Think time between a request's outcome and the user's next request.
    pub think: DurationDist,
    /// Return visits: after a session, the user comes back with this
    /// probability after a delay, for another session.
    pub returns: Option<ReturnSpec>,
}

/// Return visits of a population's users.
#[derive(Clone, Debug)]
pub struct ReturnSpec {
    /// Probability of another session after each session.
    pub probability: f64,
    /// Delay from the end of a session to the next.
    pub after: DurationDist,
}

/// A service-level objective on one metric of a class (or of one stage
/// of a workflow class).
#[derive(Clone, Debug)]
pub struct SloSpec {
    /// Class name, or `all`.
    pub class: String,
    /// A stage of the class's workflow, if the bound is on that stage.
    pub stage: Option<String>,
    /// The bounded metric, e.g. [`Metric::LatencyP99`].
    pub metric: Metric,
    /// Upper bound, if any (seconds for time metrics).
    pub max: Option<f64>,
    /// Lower bound, if any.
    pub min: Option<f64>,
}

impl SloSpec {
    /// What the bound is on: the class (or `all`), or `CLASS/STAGE`.
    pub fn scope(&self) -> String {
        match &self.stage {
            Some(stage) => format!("{}/{stage}", self.class),
            None => self.class.clone(),
        }
    }
}

impl Scenario {
    /// The simplest system: one FIFO pool of `gpus` GPUs serving one class
    /// (`jobs`, on pool `gpu`) with Poisson arrivals at `rate_per_s` and the
    /// given service demand, for `duration`, seed 1, one replication. Adjust
    /// the public fields for anything else.
    pub fn single_queue(
        gpus: u32,
        rate_per_s: f64,
        service: DurationDist,
        duration: SimDuration,
    ) -> Scenario {
        Scenario {
            name: "single-queue".into(),
            description: None,
            duration,
            warmup: SimDuration::ZERO,
            drain: None,
            seed: 1,
            replications: 1,
            bucket: None,
            trace: 0,
            budget: Budget::DEFAULT,
            start: None,
            pools: vec![PoolSpec {
                name: "gpu".into(),
                gpus,
                policy: PolicySpec::Fifo,
                speed: 1.0,
                cost_per_gpu_hour: 0.0,
                capacity: Vec::new(),
                autoscale: None,
                failures: None,
                batching: None,
                serving: None,
            }],
            classes: vec![ClassSpec {
                name: "jobs".into(),
                pool: 0,
                arrivals: ArrivalSpec::Poisson { rate_per_s },
                service,
                latency_target: None,
                ttft_target: None,
                tpot_target: None,
                patience: None,
                retry: None,
                limit: None,
                priority: 0,
                weight: 1.0,
                deferrable: false,
                deferred_patience: None,
                workflow: None,
                tokens: None,
            }],
            populations: Vec::new(),
            workflows: Vec::new(),
            slos: Vec::new(),
        }
    }

    /// Mean arrival rate of each class over `[0, duration)`, per second
    /// (first attempts; retries not included). For a user population this is
    /// signups × mean requests per session × the class's share.
    pub fn mean_rates(&self) -> Vec<f64> {
        let secs = self.duration.as_secs_f64();
        if secs <= 0.0 {
            return vec![0.0; self.classes.len()];
        }
        let mut share_sum = vec![0.0; self.populations.len()];
        for c in &self.classes {
            if let ArrivalSpec::Users { population, share } = c.arrivals {
                share_sum[population] += share;
            }
        }
        self.classes
            .iter()
            .map(|c| match &c.arrivals {
                ArrivalSpec::Users { population, share } => {
                    let p = &self.populations[*population];
                    let sessions =
                        1.0 / (1.0 - p.returns.as_ref().map_or(0.0, |r| r.probability).min(0.999));
                    p.signups.expected_count(self.duration) / secs
                        * p.requests.mean()
                        * sessions
                        * share
                        / share_sum[*population]
                }
                other => other.expected_count(self.duration) / secs,
            })
            .collect()
    }

    /// Offered load per pool, ρ = Σ λ·E\[S\] / (gpus · speed), in pool order,
    /// with λ the mean arrival rate over the run.
    pub fn offered_load(&self) -> Vec<f64> {
        let mut work = vec![0.0; self.pools.len()];
        for (c, rate) in self.mean_rates().into_iter().enumerate() {
            for (pool, demand) in self.demand(c) {
                work[pool] += rate * demand;
            }
        }
        self.pools
            .iter()
            .zip(work)
            .map(|(p, w)| w / (f64::from(p.gpus) * p.speed))
            .collect()
    }

    /// Expected service demand of one request of class `class` on each
    /// pool it visits: (pool, GPU-seconds on a pool of speed 1). A class
    /// without a workflow has one entry, its pool and mean service; a
    /// workflow class one per pool its stages visit, weighted by the
    /// stages' expected visits (routes and loops included).
    pub fn demand(&self, class: usize) -> Vec<(usize, f64)> {
        let c = &self.classes[class];
        match c.workflow {
            Some(w) => self.workflows[w].demand(class),
            // A serving class: its token work, whatever `service` says.
            None => match (
                &c.tokens,
                self.pools.get(c.pool).and_then(|p| p.serving.as_ref()),
            ) {
                (Some(t), Some(sv)) => vec![(c.pool, sv.request_work(t))],
                _ => vec![(c.pool, c.service.mean())],
            },
        }
    }

    /// Expected demand of one request of class `class` on pool `pool`,
    /// GPU-seconds on a pool of speed 1 (0 if it never visits it).
    pub fn demand_on(&self, class: usize, pool: usize) -> f64 {
        self.demand(class)
            .into_iter()
            .filter(|(p, _)| *p == pool)
            .map(|(_, w)| w)
            .sum()
    }

    /// The time-series bucket width: the configured one, or duration / 500
    /// rounded to a readable unit (1, 2 or 5 × a power of ten of seconds,
    /// or whole minutes and hours).
    pub fn bucket_width(&self) -> SimDuration {
        if let Some(b) = self.bucket {
            return b;
        }
        readable_bucket(self.duration)
    }
}

/// duration / 500 rounded up to a readable width.
fn readable_bucket(duration: SimDuration) -> SimDuration {
    const STEPS_S: [f64; 21] = [
        0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 15.0, 30.0,
        60.0, 120.0, 300.0, 600.0, 900.0, 1800.0,
    ];
    let raw = duration.as_secs_f64() / 500.0;
    for step in STEPS_S {
        if raw <= step {
            return SimDuration::from_secs_f64(step);
        }
    }
    let hours = (raw / 3600.0).ceil().max(1.0);
    SimDuration::from_secs_f64(hours * 3600.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_times_parse_clock_times_and_dates_and_refuse_the_rest() {
        let t = |s: &str| StartTime::parse(s);
        assert_eq!(
            t("08:00"),
            Some(StartTime {
                date: None,
                minute: 480
            })
        );
        assert_eq!(t("2026-06-03").unwrap().date, Some((2026, 6, 3)));
        assert_eq!(t("2026-06-03T23:59").unwrap().minute, 1439);
        assert_eq!(t("2024-02-29 00:00").unwrap().date, Some((2024, 2, 29)));
        for bad in [
            "25:00",
            "8:00",
            "08:60",
            "2026-02-29",
            "2026-13-01",
            "noon",
            "",
        ] {
            assert_eq!(t(bad), None, "{bad}");
        }
        assert_eq!(
            t("2026-06-03T08:05").unwrap().to_string(),
            "2026-06-03 08:05"
        );
    }

    #[test]
    fn bucket_widths_are_readable() {
        assert_eq!(
            readable_bucket(SimDuration::from_secs(7200)),
            SimDuration::from_secs(15)
        );
        assert_eq!(
            readable_bucket(SimDuration::from_secs(86_400)),
            SimDuration::from_secs(300)
        );
        assert_eq!(
            readable_bucket(SimDuration::from_secs(60)),
            SimDuration::from_millis(200)
        );
        assert_eq!(
            readable_bucket(SimDuration::from_secs(30 * 86_400)),
            SimDuration::from_secs(2 * 3600)
        );
    }
}
