//! The simulation of one replication: requests arrive (from a class's own
//! arrival process or from the users of a population), pass the rate
//! limits, wait in their pool's queue (or give up when their patience runs
//! out), are served by a GPU and leave; a rejected or abandoned attempt may
//! come back after a backoff.
//!
//! Events are facts: a class arrival, a signup, a user's next request or
//! return visit, a service completion, a patience timer, a retry coming due.
//! Requests and users live in slabs indexed by `u32` whose freed slots are
//! reused, so the steady state allocates nothing per event and memory is
//! bounded by what is in the system. A request's slot carries a generation
//! number, bumped whenever it is queued again or reused, so that queue
//! entries and patience timers left behind by an abandoned attempt are
//! recognised as stale and skipped (lazy deletion).
//!
//! Statistics: a request is *measured* if its first attempt arrives at or
//! after the warm-up; its outcome, wait and latency (both counted from the
//! first attempt) are recorded whenever it finishes, even during the drain.
//! Time-weighted pool statistics cover `[warmup, duration)`. The time series
//! covers the whole run, warm-up and drain included.

use super::arrivals::{ArrivalSpec, ArrivalState};
use super::spec::{CapacityChange, CountDist, PolicySpec, ScaleTrigger, Scenario};
use super::trace::{Outcome, TraceRecord, Tracer};
use crate::engine::{EventQueue, SimDuration, SimTime};
use crate::metrics::{CompactHistogram, DurationHistogram, Level};
use crate::policy::{
    Admission, Deferral, Fair, Fifo, PoolView, Priority, QueuePolicy, QueuedRequest, Shed,
};
use crate::rng::{SimRng, stream};
use rand::Rng;
use rand_distr::{Distribution as _, Poisson};

#[derive(Clone, Copy, Debug)]
enum Event {
    ClassArrival {
        class: u32,
    },
    Signup {
        population: u32,
    },
    UserNext {
        user: u32,
    },
    UserReturns {
        user: u32,
    },
    ServiceCompleted {
        pool: u32,
        request: u32,
        generation: u32,
    },
    PatienceExpired {
        request: u32,
        generation: u32,
    },
    RetryDue {
        request: u32,
    },
    CapacityStep {
        pool: u32,
        step: u32,
    },
    AutoscaleTick {
        pool: u32,
    },
    GpusReady {
        pool: u32,
        gpus: u32,
    },
    GpuFails {
        pool: u32,
        generation: u32,
    },
    GpuRepaired {
        pool: u32,
    },
    BatchDone {
        pool: u32,
        batch: u32,
    },
    BatchFill {
        pool: u32,
    },
}

/// No user: the request came from a class's own arrival process.
const NO_USER: u32 = u32::MAX;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Free,
    Waiting,
    InService,
    Backoff,
}

#[derive(Clone, Copy, Debug)]
struct Request {
    class: u32,
    state: State,
    deferred: bool,
    /// Index in the pool's in-service list (pools with failures only).
    in_service_slot: u32,
    attempt: u32,
    generation: u32,
    user: u32,
    first_arrival: SimTime,
    service: SimDuration,
}

/// How an attempt ended, when it did not complete.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Setback {
    Rejected,
    Abandoned,
    Failed,
}

/// A token bucket's state; its rate and size live in the class's spec.
#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: f64,
    last: SimTime,
}

impl Bucket {
    fn full(burst: f64) -> Self {
        Bucket {
            tokens: burst,
            last: SimTime::ZERO,
        }
    }

    /// Refill for the time since the last call, then take one token if there is one.
    fn take(&mut self, now: SimTime, rate_per_s: f64, burst: f64) -> bool {
        let dt = (now - self.last).as_secs_f64();
        self.tokens = (self.tokens + dt * rate_per_s).min(burst);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

struct User {
    population: u32,
    remaining: u32,
    /// One bucket per per-user-limited class of the population.
    buckets: UserBuckets,
}

/// A user's token buckets, inline for the common case of at most one
/// limited class, so that a user is one small record with no indirection.
enum UserBuckets {
    None,
    One(Bucket),
    Many(Box<[Bucket]>),
}

impl UserBuckets {
    fn get_mut(&mut self, slot: usize) -> &mut Bucket {
        match self {
            UserBuckets::One(b) if slot == 0 => b,
            UserBuckets::Many(v) => &mut v[slot],
            _ => unreachable!("bucket slots come from the population's limited classes"),
        }
    }
}

struct PopulationState {
    signups: ArrivalState,
    signup_rng: SimRng,
    session_rng: SimRng,
    think_rng: SimRng,
    mix_rng: SimRng,
    /// (class, cumulative share) for choosing a request's class.
    classes: Vec<(u32, f64)>,
    /// Classes with a per-user limit: the index of each in `User::buckets`.
    per_user_limits: Vec<(u32, f64)>,
    online: Level,
    bucket_signups: u64,
    signups_total: u64,
}

struct ClassState {
    pool: u32,
    arrivals: ArrivalState,
    arrival_rng: SimRng,
    service_rng: SimRng,
    patience_rng: SimRng,
    retry_rng: SimRng,
    speed: f64,
    limit_bucket: Option<Bucket>,
    /// Index of this class in its population's per-user buckets.
    user_bucket: Option<usize>,
    stats: ClassStats,
    queued: Level,
    bucket: BucketCounts,
}

#[derive(Default)]
struct ClassStats {
    arrivals: u64,
    completed: u64,
    rejected: u64,
    abandoned: u64,
    attempts: u64,
    rejected_attempts: u64,
    abandoned_attempts: u64,
    failed: u64,
    failed_attempts: u64,
    slo_met: u64,
    deferred: u64,
    wait: DurationHistogram,
    latency: DurationHistogram,
    deferred_latency: DurationHistogram,
}

struct PoolState {
    /// Installed GPUs.
    target: u32,
    /// Installed GPUs that are down, waiting for repair.
    failed: u32,
    /// GPUs requested by the autoscaler, not yet online.
    provisioning: u32,
    /// Changes the failure clock: a failure event of another generation is stale.
    failure_generation: u32,
    last_scale: Option<SimTime>,
    /// Requests in service (kept only when the pool has failures).
    in_service: Vec<u32>,
    /// Whether the pool has failures, i.e. keeps `in_service`.
    tracks_in_service: bool,
    /// Whether the pool batches requests.
    batching: bool,
    failure_rng: SimRng,
    failures_lost: u64,
    /// Batching pools: when a free GPU stops waiting to fill a batch.
    fill_deadline: Option<SimTime>,
    batches: Vec<Batch>,
    free_batches: Vec<u32>,
    billed: Level,
    busy: u32,
    busy_deferred: u32,
    waiting: u64,
    waiting_deferred: u64,
    mean_service_s: f64,
    deferred: u64,
    shed: u64,
    policy: Box<dyn QueuePolicy>,
    queue: Level,
    busy_level: Level,
    online: Level,
    bucket: BucketCounts,
}

impl PoolState {
    /// GPUs that can take new work.
    #[inline]
    fn usable(&self) -> u32 {
        self.target.saturating_sub(self.failed)
    }

    /// Request `id` leaves service (completed or lost): one GPU less busy.
    fn leave_service(&mut self, requests: &mut [Request], id: u32) {
        self.busy -= 1;
        if !self.in_service.is_empty() {
            let slot = requests[id as usize].in_service_slot as usize;
            self.in_service.swap_remove(slot);
            if let Some(&moved) = self.in_service.get(slot) {
                requests[moved as usize].in_service_slot = slot as u32;
            }
        }
    }

    /// Update the online and billed levels after a change of capacity or
    /// of busy GPUs. A GPU removed or failed while busy stays online until
    /// its work is done (removal drains).
    fn capacity_changed(&mut self, now: SimTime) {
        let online = u64::from(self.usable().max(self.busy));
        if online != self.online.value() {
            self.online.set(now, online);
        }
        let billed = u64::from(self.target.max(self.busy) + self.provisioning);
        if billed != self.billed.value() {
            self.billed.set(now, billed);
        }
    }

    fn view(&self, now: SimTime) -> PoolView {
        PoolView {
            now,
            gpus_online: self.usable(),
            gpus_busy: self.busy,
            gpus_busy_deferred: self.busy_deferred,
            waiting: self.waiting,
            waiting_deferred: self.waiting_deferred,
            mean_service_s: self.mean_service_s,
        }
    }
}

/// Requests served together on one GPU.
#[derive(Default)]
struct Batch {
    requests: Vec<u32>,
    deferred: bool,
}

/// Weight of a new observation in the pool's running mean service time.
const SERVICE_EWMA_WEIGHT: f64 = 1.0 / 64.0;

/// Builds a custom queue policy for a pool: see [`crate::Simulation::policy`].
pub type PolicyFactory = dyn Fn(&PolicyContext<'_>) -> Box<dyn QueuePolicy> + Send + Sync;

/// What a policy factory knows when it builds the policy of one pool.
pub struct PolicyContext<'a> {
    /// The whole scenario (classes, with their priorities and weights).
    pub scenario: &'a Scenario,
    /// Index of the pool in `scenario.pools`.
    pub pool: usize,
}

/// Policies supplied from code: by registered name (for `kind = "custom"`)
/// and by pool name (replacing whatever the scenario says).
#[derive(Default, Clone)]
pub(crate) struct PolicyOverrides {
    pub(crate) by_name: Vec<(String, std::sync::Arc<PolicyFactory>)>,
    pub(crate) by_pool: Vec<(String, std::sync::Arc<PolicyFactory>)>,
}

/// Build the queue discipline of a pool.
fn make_policy(pool: usize, sc: &Scenario, custom: &PolicyOverrides) -> Box<dyn QueuePolicy> {
    let spec = &sc.pools[pool];
    let ctx = PolicyContext { scenario: sc, pool };
    if let Some((_, f)) = custom.by_pool.iter().find(|(n, _)| *n == spec.name) {
        return f(&ctx);
    }
    match &spec.policy {
        PolicySpec::Custom { name } => match custom.by_name.iter().find(|(n, _)| n == name) {
            Some((_, f)) => f(&ctx),
            None => panic!(
                "pool {:?} uses the custom policy {name:?}, which is not registered: \
                 run the scenario with surge::Simulation and .policy({name:?}, …)",
                spec.name
            ),
        },
        PolicySpec::Fifo => Box::new(Fifo::new()),
        PolicySpec::Priority => Box::new(Priority::new()),
        PolicySpec::Fair => Box::new(Fair::new(sc.classes.iter().map(|c| c.weight).collect())),
        PolicySpec::Deferral {
            threshold,
            reserved,
        } => Box::new(Deferral::new(
            threshold.as_secs_f64(),
            *reserved,
            sc.classes.iter().map(|c| c.deferrable).collect(),
        )),
        PolicySpec::Shed {
            max_queue,
            max_wait,
            classes,
        } => Box::new(Shed::new(
            *max_queue,
            max_wait.map(|w| w.as_secs_f64()),
            classes
                .as_ref()
                .map(|list| (0..sc.classes.len()).map(|i| list.contains(&i)).collect()),
        )),
    }
}

#[derive(Default)]
struct BucketCounts {
    arrivals: u64,
    retries: u64,
    completions: u64,
    rejected: u64,
    abandoned: u64,
    failed: u64,
    deferred: u64,
    latency: CompactHistogram,
}

impl BucketCounts {
    fn clear(&mut self) {
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
    fn empty(start: SimTime, width: SimDuration, scope: Scope) -> Self {
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
    /// Fraction of arrivals completed within the class's latency target.
    pub slo_attainment: Option<f64>,
    slo_met: u64,
    slo_arrivals: u64,
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
}

impl PoolResult {
    /// Whether the offered load reaches capacity (ρ ≥ 1): the queue grows
    /// without bound.
    pub fn unstable(&self) -> bool {
        self.offered_load >= 1.0
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
}

impl ClassResult {
    fn new(name: &str) -> Self {
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
            slo_attainment: None,
            slo_met: 0,
            slo_arrivals: 0,
        }
    }

    /// Attempts per measured request (1 without retries).
    pub fn attempts_per_request(&self) -> Option<f64> {
        (self.arrivals > 0).then(|| self.attempts as f64 / self.arrivals as f64)
    }

    fn absorb(&mut self, other: &ClassResult) {
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
        self.slo_met += other.slo_met;
        self.slo_arrivals += other.slo_arrivals;
        self.slo_attainment = (self.slo_arrivals > 0)
            .then(|| self.slo_met as f64 / self.slo_arrivals as f64)
            .or(self.slo_attainment);
    }
}

/// Simulate replication `replication` of `scenario` to the end.
///
/// # Panics
///
/// If a pool uses a custom policy (`kind = "custom"`): those need
/// [`crate::Simulation`], which registers them and reports a missing one as
/// an error.
pub fn simulate(scenario: &Scenario, replication: u32) -> RunResult {
    simulate_with(scenario, replication, &PolicyOverrides::default())
}

/// Simulate with policies supplied from code.
pub(crate) fn simulate_with(
    scenario: &Scenario,
    replication: u32,
    custom: &PolicyOverrides,
) -> RunResult {
    let mut sim = Sim::new(scenario, replication, custom);
    sim.run();
    sim.finish()
}

struct Sim<'a> {
    scenario: &'a Scenario,
    replication: u32,
    events: EventQueue<Event>,
    classes: Vec<ClassState>,
    pools: Vec<PoolState>,
    populations: Vec<PopulationState>,
    requests: Vec<Request>,
    free: Vec<u32>,
    users: Vec<User>,
    free_users: Vec<u32>,
    warmup: SimTime,
    arrivals_end: SimTime,
    bucket_width: SimDuration,
    bucket_start: SimTime,
    next_bucket: SimTime,
    timeseries: Vec<TimeSeriesRow>,
    total_arrivals: u64,
    total_finished: u64,
    last_event: SimTime,
    tracer: Tracer,
}

/// A uniform draw in [0, 1) with 53 random bits.
#[inline]
fn unit(rng: &mut SimRng) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

fn sample_count(d: &CountDist, rng: &mut SimRng) -> u32 {
    match *d {
        CountDist::Deterministic(n) => n,
        CountDist::Poisson(mean) if mean > 0.0 => {
            Poisson::new(mean).map_or(0, |p| p.sample(rng).min(f64::from(u32::MAX)) as u32)
        }
        CountDist::Poisson(_) => 0,
        CountDist::Geometric(mean) => {
            // P(N = k) = (1 − q) q^k with q = mean / (1 + mean); by inversion.
            let q = mean / (1.0 + mean);
            if q <= 0.0 {
                return 0;
            }
            let u = 1.0 - unit(rng);
            (u.ln() / q.ln()).floor().min(f64::from(u32::MAX)) as u32
        }
        CountDist::Uniform(a, b) => a + (unit(rng) * f64::from(b - a + 1)).floor() as u32,
    }
}

impl<'a> Sim<'a> {
    fn new(sc: &'a Scenario, replication: u32, custom: &PolicyOverrides) -> Self {
        let warmup = SimTime(sc.warmup.0);
        let arrivals_end = SimTime(sc.duration.0);
        let s = |name: String| stream(sc.seed, replication, &name);
        let mut populations: Vec<PopulationState> = sc
            .populations
            .iter()
            .map(|p| PopulationState {
                signups: ArrivalState::new(&p.signups, sc.duration),
                signup_rng: s(format!("population/{}/signups", p.name)),
                session_rng: s(format!("population/{}/sessions", p.name)),
                think_rng: s(format!("population/{}/think", p.name)),
                mix_rng: s(format!("population/{}/mix", p.name)),
                classes: Vec::new(),
                per_user_limits: Vec::new(),
                online: Level::new(0, warmup, arrivals_end),
                bucket_signups: 0,
                signups_total: 0,
            })
            .collect();
        let mut classes: Vec<ClassState> = Vec::with_capacity(sc.classes.len());
        for (i, c) in sc.classes.iter().enumerate() {
            let mut user_bucket = None;
            if let ArrivalSpec::Users { population, share } = c.arrivals {
                let p = &mut populations[population];
                let cumulative = p.classes.last().map_or(0.0, |x| x.1) + share;
                p.classes.push((i as u32, cumulative));
                if let Some(l) = c.limit.as_ref().filter(|l| l.per_user) {
                    user_bucket = Some(p.per_user_limits.len());
                    p.per_user_limits.push((i as u32, l.burst));
                }
            }
            classes.push(ClassState {
                pool: c.pool as u32,
                arrivals: ArrivalState::new(&c.arrivals, sc.duration),
                arrival_rng: s(format!("class/{}/arrivals", c.name)),
                service_rng: s(format!("class/{}/service", c.name)),
                patience_rng: s(format!("class/{}/patience", c.name)),
                retry_rng: s(format!("class/{}/retry", c.name)),
                speed: sc.pools[c.pool].speed,
                limit_bucket: c
                    .limit
                    .as_ref()
                    .filter(|l| !l.per_user)
                    .map(|l| Bucket::full(l.burst)),
                user_bucket,
                stats: ClassStats::default(),
                queued: Level::new(0, warmup, arrivals_end),
                bucket: BucketCounts::default(),
            });
        }
        let rates = sc.mean_rates();
        let pools = sc
            .pools
            .iter()
            .enumerate()
            .map(|(i, p)| PoolState {
                target: p.gpus,
                failed: 0,
                provisioning: 0,
                failure_generation: 0,
                last_scale: None,
                in_service: Vec::new(),
                tracks_in_service: p.failures.is_some(),
                batching: p.batching.is_some(),
                failure_rng: s(format!("pool/{}/failures", p.name)),
                failures_lost: 0,
                fill_deadline: None,
                batches: Vec::new(),
                free_batches: Vec::new(),
                billed: Level::new(u64::from(p.gpus), warmup, arrivals_end),
                busy: 0,
                busy_deferred: 0,
                waiting: 0,
                waiting_deferred: 0,
                mean_service_s: {
                    // Demand-weighted mean service of the classes routed here.
                    let (mut work, mut rate) = (0.0, 0.0);
                    for (c, r) in sc.classes.iter().zip(&rates) {
                        if c.pool == i {
                            work += r * c.service.mean();
                            rate += r;
                        }
                    }
                    if rate > 0.0 {
                        work / rate / p.speed
                    } else {
                        1.0
                    }
                },
                deferred: 0,
                shed: 0,
                policy: make_policy(i, sc, custom),
                queue: Level::new(0, warmup, arrivals_end),
                busy_level: Level::new(0, warmup, arrivals_end),
                online: Level::new(u64::from(p.gpus), warmup, arrivals_end),
                bucket: BucketCounts::default(),
            })
            .collect();
        let bucket_width = sc.bucket_width().max(SimDuration(1));
        Sim {
            scenario: sc,
            replication,
            events: EventQueue::new(),
            classes,
            pools,
            populations,
            requests: Vec::new(),
            free: Vec::new(),
            users: Vec::new(),
            free_users: Vec::new(),
            warmup,
            arrivals_end,
            bucket_width,
            bucket_start: SimTime::ZERO,
            next_bucket: SimTime::ZERO + bucket_width,
            timeseries: Vec::new(),
            total_arrivals: 0,
            total_finished: 0,
            last_event: SimTime::ZERO,
            tracer: Tracer::new(sc.trace),
        }
    }

    fn run(&mut self) {
        for class in 0..self.classes.len() {
            self.schedule_class_arrival(class, SimTime::ZERO);
        }
        for population in 0..self.populations.len() {
            self.schedule_signup(population, SimTime::ZERO);
        }
        for (i, spec) in self.scenario.pools.iter().enumerate() {
            for (k, step) in spec.capacity.iter().enumerate() {
                self.events.schedule(
                    SimTime(step.at.0),
                    Event::CapacityStep {
                        pool: i as u32,
                        step: k as u32,
                    },
                );
            }
            if let Some(a) = &spec.autoscale {
                self.events.schedule(
                    SimTime::ZERO + a.interval,
                    Event::AutoscaleTick { pool: i as u32 },
                );
            }
        }
        for pool in 0..self.pools.len() {
            self.schedule_failure(pool, SimTime::ZERO);
        }
        let limit = match self.scenario.drain {
            Some(d) => self.arrivals_end + d,
            None => SimTime::MAX,
        };
        let mut cut_off = false;
        while let Some(at) = self.events.peek_time() {
            if at > limit {
                cut_off = true;
                break;
            }
            let Some((now, event)) = self.events.pop() else {
                break;
            };
            if self.is_stale(&event) {
                continue;
            }
            self.last_event = now;
            while now >= self.next_bucket {
                self.close_bucket();
            }
            match event {
                Event::ClassArrival { class } => {
                    let class = class as usize;
                    self.schedule_class_arrival(class, now);
                    self.new_request(class, now, NO_USER);
                }
                Event::Signup { population } => self.signup(population as usize, now),
                Event::UserNext { user } => self.user_sends(user, now),
                Event::UserReturns { user } => self.start_session(user, now),
                Event::ServiceCompleted { pool, request, .. } => {
                    self.service_completed(pool as usize, request, now)
                }
                Event::PatienceExpired { request, .. } => self.abandon(request, now),
                Event::RetryDue { request } => self.retry(request, now),
                Event::CapacityStep { pool, step } => {
                    self.capacity_step(pool as usize, step as usize, now)
                }
                Event::AutoscaleTick { pool } => self.autoscale(pool as usize, now),
                Event::GpusReady { pool, gpus } => {
                    let p = &mut self.pools[pool as usize];
                    p.provisioning -= gpus;
                    p.target += gpus;
                    self.capacity_changed(pool as usize, now);
                }
                Event::GpuFails { pool, .. } => self.gpu_fails(pool as usize, now),
                Event::GpuRepaired { pool } => {
                    self.pools[pool as usize].failed -= 1;
                    self.capacity_changed(pool as usize, now);
                }
                Event::BatchDone { pool, batch } => self.batch_done(pool as usize, batch, now),
                Event::BatchFill { pool } => {
                    let p = &self.pools[pool as usize];
                    if p.fill_deadline.is_some_and(|d| d <= now) {
                        self.dispatch(pool as usize, now);
                    }
                }
            }
        }
        let last = if cut_off { limit } else { self.last_event };
        let end = last.max(self.arrivals_end);
        while self.next_bucket <= end {
            self.close_bucket();
        }
        if self.bucket_start < end {
            self.next_bucket = end;
            self.close_bucket();
        }
        self.last_event = end;
    }

    /// A patience timer whose attempt has already started or ended.
    fn is_stale(&self, event: &Event) -> bool {
        match *event {
            Event::PatienceExpired {
                request,
                generation,
            } => {
                let r = &self.requests[request as usize];
                r.state != State::Waiting || r.generation != generation
            }
            Event::ServiceCompleted {
                request,
                generation,
                ..
            } => {
                let r = &self.requests[request as usize];
                r.state != State::InService || r.generation != generation
            }
            Event::GpuFails { pool, generation } => {
                self.pools[pool as usize].failure_generation != generation
            }
            _ => false,
        }
    }

    fn schedule_class_arrival(&mut self, class: usize, now: SimTime) {
        let c = &mut self.classes[class];
        if let Some(at) = c.arrivals.next(now, self.arrivals_end, &mut c.arrival_rng) {
            self.events.schedule(
                at,
                Event::ClassArrival {
                    class: class as u32,
                },
            );
        }
    }

    fn schedule_signup(&mut self, population: usize, now: SimTime) {
        let p = &mut self.populations[population];
        if let Some(at) = p.signups.next(now, self.arrivals_end, &mut p.signup_rng) {
            self.events.schedule(
                at,
                Event::Signup {
                    population: population as u32,
                },
            );
        }
    }

    fn signup(&mut self, population: usize, now: SimTime) {
        self.schedule_signup(population, now);
        let p = &mut self.populations[population];
        p.bucket_signups += 1;
        p.signups_total += 1;
        let bucket = |burst: f64| Bucket {
            tokens: burst,
            last: now,
        };
        let buckets = match p.per_user_limits.as_slice() {
            [] => UserBuckets::None,
            [(_, burst)] => UserBuckets::One(bucket(*burst)),
            many => UserBuckets::Many(many.iter().map(|&(_, b)| bucket(b)).collect()),
        };
        let user = User {
            population: population as u32,
            remaining: 0,
            buckets,
        };
        p.online.add(now, 1);
        let id = match self.free_users.pop() {
            Some(id) => {
                self.users[id as usize] = user;
                id
            }
            None => {
                self.users.push(user);
                (self.users.len() - 1) as u32
            }
        };
        self.start_session(id, now);
    }

    /// A session starts: draw its number of requests and send the first.
    fn start_session(&mut self, user: u32, now: SimTime) {
        let pop = self.users[user as usize].population as usize;
        if now >= self.arrivals_end {
            self.user_leaves(user, now);
            return;
        }
        let n = sample_count(
            &self.scenario.populations[pop].requests,
            &mut self.populations[pop].session_rng,
        );
        self.users[user as usize].remaining = n;
        if n == 0 {
            self.end_session(user, now);
        } else {
            self.user_sends(user, now);
        }
    }

    fn user_sends(&mut self, user: u32, now: SimTime) {
        if now >= self.arrivals_end {
            self.user_leaves(user, now);
            return;
        }
        let u = &mut self.users[user as usize];
        u.remaining -= 1;
        let p = &mut self.populations[u.population as usize];
        let total = p.classes.last().map_or(0.0, |x| x.1);
        let x = unit(&mut p.mix_rng) * total;
        let class = p
            .classes
            .iter()
            .find(|(_, cum)| x < *cum)
            .or(p.classes.last())
            .map_or(0, |(c, _)| *c);
        self.new_request(class as usize, now, user);
    }

    /// A request of `user` reached its final outcome.
    fn user_request_done(&mut self, user: u32, now: SimTime) {
        let u = &self.users[user as usize];
        let pop = u.population as usize;
        if u.remaining > 0 {
            let think = self.scenario.populations[pop]
                .think
                .sample(&mut self.populations[pop].think_rng);
            self.events.schedule(now + think, Event::UserNext { user });
        } else {
            self.end_session(user, now);
        }
    }

    fn end_session(&mut self, user: u32, now: SimTime) {
        let pop = self.users[user as usize].population as usize;
        let spec = &self.scenario.populations[pop];
        let rng = &mut self.populations[pop].session_rng;
        match &spec.returns {
            Some(r) if unit(rng) < r.probability => {
                let after = r.after.sample(rng);
                if now + after < self.arrivals_end {
                    self.events
                        .schedule(now + after, Event::UserReturns { user });
                } else {
                    // Would come back after arrivals end: gone for this run.
                    self.user_leaves(user, now);
                }
            }
            _ => self.user_leaves(user, now),
        }
    }

    fn user_leaves(&mut self, user: u32, now: SimTime) {
        let pop = self.users[user as usize].population as usize;
        self.populations[pop].online.add(now, -1);
        self.users[user as usize].buckets = UserBuckets::None;
        self.free_users.push(user);
    }

    /// A new request (first attempt) of `class` arrives.
    fn new_request(&mut self, class: usize, now: SimTime, user: u32) {
        self.total_arrivals += 1;
        let c = &mut self.classes[class];
        let service_s = self.scenario.classes[class]
            .service
            .sample_secs(&mut c.service_rng)
            / c.speed;
        if now >= self.warmup {
            c.stats.arrivals += 1;
            c.stats.attempts += 1;
        }
        c.bucket.arrivals += 1;
        let request = Request {
            class: class as u32,
            state: State::Backoff,
            deferred: false,
            in_service_slot: 0,
            attempt: 1,
            generation: 0,
            user,
            first_arrival: now,
            service: SimDuration::from_secs_f64(service_s),
        };
        let id = match self.free.pop() {
            Some(id) => {
                let generation = self.requests[id as usize].generation.wrapping_add(1);
                self.requests[id as usize] = Request {
                    generation,
                    ..request
                };
                id
            }
            None => {
                self.requests.push(request);
                (self.requests.len() - 1) as u32
            }
        };
        if now >= self.warmup {
            self.tracer.arrived(id, class, now);
        }
        self.submit(id, now);
    }

    /// An attempt of request `id` arrives at its pool: rate limits, then the queue.
    fn submit(&mut self, id: u32, now: SimTime) {
        let r = self.requests[id as usize];
        let class = r.class as usize;
        let spec = &self.scenario.classes[class];
        let c = &mut self.classes[class];
        let pool = c.pool as usize;
        self.pools[pool].bucket.arrivals += 1;
        if let (Some(limit), Some(bucket)) = (&spec.limit, c.limit_bucket.as_mut())
            && !bucket.take(now, limit.rate_per_s, limit.burst)
        {
            self.setback(id, now, Setback::Rejected);
            return;
        }
        if let (Some(limit), Some(slot)) = (&spec.limit, c.user_bucket)
            && r.user != NO_USER
            && !self.users[r.user as usize].buckets.get_mut(slot).take(
                now,
                limit.rate_per_s,
                limit.burst,
            )
        {
            self.setback(id, now, Setback::Rejected);
            return;
        }
        let p = &mut self.pools[pool];
        let generation = r.generation.wrapping_add(1);
        let mut queued = QueuedRequest {
            id,
            class: class as u32,
            priority: spec.priority,
            arrival: r.first_arrival,
            attempt: r.attempt,
            service: r.service,
            deferred: false,
            ticket: generation,
        };
        let view = p.view(now);
        match p.policy.admit(&queued, &view) {
            Admission::Queue => {}
            Admission::Defer => {
                queued.deferred = true;
                p.waiting_deferred += 1;
                p.bucket.deferred += 1;
                c.bucket.deferred += 1;
                if r.first_arrival >= self.warmup {
                    p.deferred += 1;
                }
            }
            Admission::Reject => {
                if r.first_arrival >= self.warmup {
                    p.shed += 1;
                }
                self.setback(id, now, Setback::Rejected);
                return;
            }
        }
        let req = &mut self.requests[id as usize];
        req.generation = generation;
        req.state = State::Waiting;
        req.deferred = queued.deferred;
        if queued.deferred && r.first_arrival >= self.warmup {
            c.stats.deferred += 1;
        }
        let can_start_now = p.busy < p.usable() && p.waiting == 0;
        p.policy.enqueue(queued, &view);
        p.waiting += 1;
        c.queued.add(now, 1);
        let patience = if queued.deferred {
            spec.deferred_patience.as_ref().or(spec.patience.as_ref())
        } else {
            spec.patience.as_ref()
        };
        if !can_start_now && let Some(patience) = patience {
            let wait = patience.sample(&mut c.patience_rng);
            self.events.schedule(
                now + wait,
                Event::PatienceExpired {
                    request: id,
                    generation,
                },
            );
        }
        self.dispatch(pool, now);
    }

    /// Start service on free GPUs while requests wait.
    fn dispatch(&mut self, pool: usize, now: SimTime) {
        if self.pools[pool].batching {
            self.dispatch_batches(pool, now);
            return;
        }
        let p = &mut self.pools[pool];
        let busy_before = p.busy;
        while p.busy < p.usable() && p.waiting > 0 {
            let view = p.view(now);
            let Some(q) = p.policy.dequeue(&view) else {
                break;
            };
            let request = &mut self.requests[q.id as usize];
            if request.state != State::Waiting || request.generation != q.ticket {
                continue; // left behind by an abandoned attempt
            }
            request.state = State::InService;
            if p.tracks_in_service {
                request.in_service_slot = p.in_service.len() as u32;
                p.in_service.push(q.id);
            }
            let request = *request;
            self.tracer.started(q.id, now);
            p.policy.started(&q, &view);
            p.busy += 1;
            p.waiting -= 1;
            if request.deferred {
                p.busy_deferred += 1;
                p.waiting_deferred -= 1;
            }
            let c = &mut self.classes[request.class as usize];
            c.queued.add(now, -1);
            if request.first_arrival >= self.warmup {
                c.stats.wait.record(now - request.first_arrival);
            }
            self.events.schedule(
                now + request.service,
                Event::ServiceCompleted {
                    pool: pool as u32,
                    request: q.id,
                    generation: q.ticket,
                },
            );
        }
        if p.waiting != p.queue.value() {
            p.queue.set(now, p.waiting);
        }
        if p.busy != busy_before {
            p.busy_level.set(now, u64::from(p.busy));
            p.capacity_changed(now);
        }
    }

    /// Batching pools: start full batches on free GPUs, or partial ones
    /// once a free GPU has waited `max_wait` to fill one.
    fn dispatch_batches(&mut self, pool: usize, now: SimTime) {
        let Some(spec) = self.scenario.pools[pool].batching.clone() else {
            return;
        };
        let speed = self.scenario.pools[pool].speed;
        let p = &mut self.pools[pool];
        let busy_before = p.busy;
        while p.busy < p.usable() && p.waiting > 0 {
            if p.waiting < u64::from(spec.max_batch) {
                match p.fill_deadline {
                    None if spec.max_wait > SimDuration::ZERO => {
                        let deadline = now + spec.max_wait;
                        p.fill_deadline = Some(deadline);
                        self.events
                            .schedule(deadline, Event::BatchFill { pool: pool as u32 });
                        break;
                    }
                    Some(d) if now < d => break,
                    _ => {}
                }
            }
            let slot = p.free_batches.pop();
            let mut requests = match slot {
                Some(b) => std::mem::take(&mut p.batches[b as usize].requests),
                None => Vec::with_capacity(spec.max_batch as usize),
            };
            requests.clear();
            let mut deferred = false;
            let mut first_service = None;
            while requests.len() < spec.max_batch as usize && p.waiting > 0 {
                let view = p.view(now);
                let Some(q) = p.policy.dequeue(&view) else {
                    break;
                };
                let request = &mut self.requests[q.id as usize];
                if request.state != State::Waiting || request.generation != q.ticket {
                    continue;
                }
                request.state = State::InService;
                let request = *request;
                self.tracer.started(q.id, now);
                p.policy.started(&q, &view);
                p.waiting -= 1;
                if request.deferred {
                    p.waiting_deferred -= 1;
                }
                if requests.is_empty() {
                    deferred = request.deferred;
                    let class = &self.scenario.classes[request.class as usize];
                    let mean = class.service.mean() / speed;
                    first_service = Some(if mean > 0.0 {
                        request.service.as_secs_f64() / mean
                    } else {
                        1.0
                    });
                }
                let c = &mut self.classes[request.class as usize];
                c.queued.add(now, -1);
                if request.first_arrival >= self.warmup {
                    c.stats.wait.record(now - request.first_arrival);
                }
                requests.push(q.id);
            }
            let Some(noise) = first_service else {
                if let Some(b) = slot {
                    p.batches[b as usize].requests = requests;
                    p.free_batches.push(b);
                }
                break;
            };
            p.fill_deadline = None;
            p.busy += 1;
            if deferred {
                p.busy_deferred += 1;
            }
            let n = requests.len() as f64;
            let time = (spec.base_s + spec.per_item_s * n) / speed * noise;
            let batch = Batch { requests, deferred };
            let id = match slot {
                Some(b) => {
                    p.batches[b as usize] = batch;
                    b
                }
                None => {
                    p.batches.push(batch);
                    (p.batches.len() - 1) as u32
                }
            };
            self.events.schedule(
                now + SimDuration::from_secs_f64(time),
                Event::BatchDone {
                    pool: pool as u32,
                    batch: id,
                },
            );
        }
        if p.waiting == 0 {
            p.fill_deadline = None;
        }
        if p.waiting != p.queue.value() {
            p.queue.set(now, p.waiting);
        }
        if p.busy != busy_before {
            p.busy_level.set(now, u64::from(p.busy));
            p.capacity_changed(now);
        }
    }

    fn batch_done(&mut self, pool: usize, batch: u32, now: SimTime) {
        let slot = &mut self.pools[pool].batches[batch as usize];
        let mut requests = std::mem::take(&mut slot.requests);
        let deferred = slot.deferred;
        for &id in &requests {
            self.record_completion(pool, id, now);
            let service = self.requests[id as usize].service.as_secs_f64();
            let p = &mut self.pools[pool];
            p.mean_service_s += SERVICE_EWMA_WEIGHT * (service - p.mean_service_s);
        }
        let p = &mut self.pools[pool];
        p.busy -= 1;
        if deferred {
            p.busy_deferred -= 1;
        }
        p.busy_level.set(now, u64::from(p.busy));
        p.capacity_changed(now);
        for &id in &requests {
            self.release(id, now);
        }
        requests.clear();
        let p = &mut self.pools[pool];
        p.batches[batch as usize].requests = requests;
        p.free_batches.push(batch);
        self.dispatch(pool, now);
    }

    /// Completion statistics of request `id` (latency, SLO, buckets).
    #[inline]
    fn record_completion(&mut self, pool: usize, id: u32, now: SimTime) {
        let request = self.requests[id as usize];
        let latency = now - request.first_arrival;
        let class = request.class as usize;
        let target = self.scenario.classes[class].latency_target;
        let c = &mut self.classes[class];
        if request.first_arrival >= self.warmup {
            c.stats.completed += 1;
            c.stats.latency.record(latency);
            if request.deferred {
                c.stats.deferred_latency.record(latency);
            }
            if target.is_some_and(|t| latency <= t) {
                c.stats.slo_met += 1;
            }
        }
        c.bucket.completions += 1;
        c.bucket.latency.record(latency);
        self.pools[pool].bucket.completions += 1;
        self.tracer
            .finished(id, now, Outcome::Completed, request.attempt);
    }

    fn service_completed(&mut self, pool: usize, id: u32, now: SimTime) {
        self.record_completion(pool, id, now);
        let request = self.requests[id as usize];
        let p = &mut self.pools[pool];
        p.leave_service(&mut self.requests, id);
        if request.deferred {
            p.busy_deferred -= 1;
        }
        p.mean_service_s +=
            SERVICE_EWMA_WEIGHT * (request.service.as_secs_f64() - p.mean_service_s);
        p.busy_level.set(now, u64::from(p.busy));
        p.capacity_changed(now);
        self.release(id, now);
        self.dispatch(pool, now);
    }

    /// A waiting attempt's patience ran out.
    fn abandon(&mut self, id: u32, now: SimTime) {
        let r = &mut self.requests[id as usize];
        r.state = State::Backoff;
        let class = r.class as usize;
        let deferred = r.deferred;
        let pool = self.classes[class].pool as usize;
        self.classes[class].queued.add(now, -1);
        let p = &mut self.pools[pool];
        p.waiting -= 1;
        if deferred {
            p.waiting_deferred -= 1;
        }
        p.queue.set(now, p.waiting);
        p.bucket.abandoned += 1;
        self.setback(id, now, Setback::Abandoned);
    }

    /// An attempt did not complete: retry after a backoff, or give up.
    fn setback(&mut self, id: u32, now: SimTime, how: Setback) {
        let r = self.requests[id as usize];
        let class = r.class as usize;
        let measured = r.first_arrival >= self.warmup;
        let c = &mut self.classes[class];
        match how {
            Setback::Rejected => {
                c.bucket.rejected += 1;
                self.pools[c.pool as usize].bucket.rejected += 1;
                if measured {
                    c.stats.rejected_attempts += 1;
                }
            }
            Setback::Abandoned => {
                c.bucket.abandoned += 1;
                if measured {
                    c.stats.abandoned_attempts += 1;
                }
            }
            Setback::Failed => {
                c.bucket.failed += 1;
                if measured {
                    c.stats.failed_attempts += 1;
                    self.pools[c.pool as usize].failures_lost += 1;
                }
            }
        }
        match &self.scenario.classes[class].retry {
            Some(retry) if r.attempt < retry.max_attempts => {
                let d = retry.backoff_s(r.attempt);
                let delay = d * (1.0 - retry.jitter * unit(&mut c.retry_rng));
                self.requests[id as usize].state = State::Backoff;
                self.events.schedule(
                    now + SimDuration::from_secs_f64(delay),
                    Event::RetryDue { request: id },
                );
            }
            _ => {
                if measured {
                    match how {
                        Setback::Rejected => c.stats.rejected += 1,
                        Setback::Abandoned => c.stats.abandoned += 1,
                        Setback::Failed => c.stats.failed += 1,
                    }
                }
                let outcome = match how {
                    Setback::Rejected => Outcome::Rejected,
                    Setback::Abandoned => Outcome::Abandoned,
                    Setback::Failed => Outcome::Failed,
                };
                self.tracer.finished(id, now, outcome, r.attempt);
                self.release(id, now);
            }
        }
    }

    fn retry(&mut self, id: u32, now: SimTime) {
        let r = &mut self.requests[id as usize];
        r.attempt += 1;
        let c = &mut self.classes[r.class as usize];
        if r.first_arrival >= self.warmup {
            c.stats.attempts += 1;
        }
        c.bucket.retries += 1;
        self.submit(id, now);
    }

    /// Request `id` reached its final outcome: free its slot, tell its user.
    fn release(&mut self, id: u32, now: SimTime) {
        let r = &mut self.requests[id as usize];
        r.state = State::Free;
        let user = r.user;
        self.free.push(id);
        self.total_finished += 1;
        if user != NO_USER {
            self.user_request_done(user, now);
        }
    }

    /// Capacity changed: refresh levels, restart the failure clock (its
    /// rate depends on the working GPUs), start waiting work.
    fn capacity_changed(&mut self, pool: usize, now: SimTime) {
        self.pools[pool].capacity_changed(now);
        self.schedule_failure(pool, now);
        self.dispatch(pool, now);
    }

    fn capacity_step(&mut self, pool: usize, step: usize, now: SimTime) {
        let p = &mut self.pools[pool];
        p.target = match self.scenario.pools[pool].capacity[step].change {
            CapacityChange::Set(n) => n,
            CapacityChange::Add(d) => {
                (i64::from(p.target) + d).clamp(0, i64::from(u32::MAX)) as u32
            }
        };
        self.capacity_changed(pool, now);
    }

    /// One autoscaler decision; the next one follows after `interval`
    /// until arrivals end.
    fn autoscale(&mut self, pool: usize, now: SimTime) {
        let Some(a) = &self.scenario.pools[pool].autoscale else {
            return;
        };
        let next = now + a.interval;
        if next < self.arrivals_end {
            self.events
                .schedule(next, Event::AutoscaleTick { pool: pool as u32 });
        }
        let p = &mut self.pools[pool];
        if p.last_scale.is_some_and(|t| now < t + a.cooldown) {
            return;
        }
        let online = f64::from(p.usable().max(1));
        let utilization = f64::from(p.busy) / online;
        let up = match a.trigger {
            ScaleTrigger::Utilization(u) => utilization >= u,
            ScaleTrigger::QueuePerGpu(q) => p.waiting as f64 / online >= q,
        };
        let down = p.waiting == 0
            && match a.trigger {
                ScaleTrigger::Utilization(u) => utilization < u / 2.0,
                ScaleTrigger::QueuePerGpu(_) => utilization < 0.5,
            };
        if up && p.target + p.provisioning < a.max {
            let n = a.step.min(a.max - p.target - p.provisioning);
            p.provisioning += n;
            p.last_scale = Some(now);
            self.events.schedule(
                now + a.provision_delay,
                Event::GpusReady {
                    pool: pool as u32,
                    gpus: n,
                },
            );
            p.capacity_changed(now);
        } else if down && p.provisioning == 0 && p.target > a.min {
            p.target -= a.step.min(p.target - a.min);
            p.last_scale = Some(now);
            self.capacity_changed(pool, now);
        }
    }

    /// (Re)start the failure clock of a pool: the next failure among its
    /// working GPUs, each failing at rate 1/MTBF (memoryless, so restarting
    /// it whenever their number changes is exact). No failures after the
    /// arrivals end.
    fn schedule_failure(&mut self, pool: usize, now: SimTime) {
        let Some(f) = &self.scenario.pools[pool].failures else {
            return;
        };
        let p = &mut self.pools[pool];
        p.failure_generation = p.failure_generation.wrapping_add(1);
        let working = p.usable();
        if working == 0 {
            return;
        }
        let rate = f64::from(working) / f.mtbf.as_secs_f64();
        let e: f64 = rand_distr::Exp1.sample(&mut p.failure_rng);
        let at = now + SimDuration::from_secs_f64(e / rate);
        if at < self.arrivals_end {
            let generation = p.failure_generation;
            self.events.schedule(
                at,
                Event::GpuFails {
                    pool: pool as u32,
                    generation,
                },
            );
        }
    }

    /// A working GPU fails; if it was busy, its request is lost.
    fn gpu_fails(&mut self, pool: usize, now: SimTime) {
        let Some(f) = &self.scenario.pools[pool].failures else {
            return;
        };
        let p = &mut self.pools[pool];
        let working = p.usable();
        let busy_working = p.busy.min(working);
        let victim_busy = unit(&mut p.failure_rng) * f64::from(working) < f64::from(busy_working);
        p.failed += 1;
        let repair = f.mttr.sample(&mut p.failure_rng);
        self.events
            .schedule(now + repair, Event::GpuRepaired { pool: pool as u32 });
        if victim_busy && !p.in_service.is_empty() {
            let k = (unit(&mut p.failure_rng) * p.in_service.len() as f64) as usize;
            let id = p.in_service[k.min(p.in_service.len() - 1)];
            let deferred = self.requests[id as usize].deferred;
            p.leave_service(&mut self.requests, id);
            if deferred {
                p.busy_deferred -= 1;
            }
            p.busy_level.set(now, u64::from(p.busy));
            self.requests[id as usize].state = State::Backoff;
            self.setback(id, now, Setback::Failed);
        }
        self.capacity_changed(pool, now);
    }

    /// Close the current time bucket at `self.next_bucket`.
    fn close_bucket(&mut self) {
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

    fn finish(mut self) -> RunResult {
        let sc = self.scenario;
        let window_s = (sc.duration.as_secs_f64() - sc.warmup.as_secs_f64()).max(0.0);
        let end = self.last_event;

        let mut in_system = vec![0u64; self.classes.len()];
        let mut requests_in_system = 0;
        for r in &self.requests {
            if r.state != State::Free {
                requests_in_system += 1;
                if r.first_arrival >= self.warmup {
                    in_system[r.class as usize] += 1;
                }
            }
        }

        let classes: Vec<ClassResult> = self
            .classes
            .iter_mut()
            .zip(&sc.classes)
            .zip(in_system)
            .map(|((c, spec), in_system)| {
                let st = std::mem::take(&mut c.stats);
                let has_target = spec.latency_target.is_some();
                ClassResult {
                    arrivals: st.arrivals,
                    completed: st.completed,
                    rejected: st.rejected,
                    abandoned: st.abandoned,
                    in_system,
                    attempts: st.attempts,
                    rejected_attempts: st.rejected_attempts,
                    abandoned_attempts: st.abandoned_attempts,
                    failed: st.failed,
                    failed_attempts: st.failed_attempts,
                    throughput_per_s: if window_s > 0.0 {
                        st.completed as f64 / window_s
                    } else {
                        0.0
                    },
                    slo_attainment: (has_target && st.arrivals > 0)
                        .then(|| st.slo_met as f64 / st.arrivals as f64),
                    slo_met: st.slo_met,
                    slo_arrivals: if has_target { st.arrivals } else { 0 },
                    wait: st.wait,
                    latency: st.latency,
                    deferred: st.deferred,
                    deferred_latency: st.deferred_latency,
                    ..ClassResult::new(&spec.name)
                }
            })
            .collect();
        let mut all = ClassResult::new("all");
        for c in &classes {
            all.absorb(c);
        }

        let offered = sc.offered_load();
        let pools = self
            .pools
            .iter_mut()
            .zip(&sc.pools)
            .zip(offered)
            .map(|((p, spec), offered_load)| {
                let gpus_mean = p.online.window_mean(end);
                let busy_gpus_mean = p.busy_level.window_mean(end);
                let gpu_hours = p.billed.window_integral_s(end) / 3600.0;
                PoolResult {
                    name: spec.name.clone(),
                    gpus_mean,
                    busy_gpus_mean,
                    utilization: if gpus_mean > 0.0 {
                        busy_gpus_mean / gpus_mean
                    } else {
                        0.0
                    },
                    offered_load,
                    gpu_hours,
                    cost_usd: gpu_hours * spec.cost_per_gpu_hour,
                    queue_mean: p.queue.window_mean(end),
                    queue_max: p.queue.window_max(),
                    deferred: p.deferred,
                    shed: p.shed,
                    failed: p.failures_lost,
                }
            })
            .collect();
        let populations = self
            .populations
            .iter_mut()
            .zip(&sc.populations)
            .map(|(p, spec)| PopulationResult {
                name: spec.name.clone(),
                signups: p.signups_total,
                users_online_mean: p.online.window_mean(end),
                users_online_max: p.online.window_max(),
            })
            .collect();

        let requests = &self.requests;
        let trace =
            std::mem::take(&mut self.tracer).into_records(|slot| requests[slot as usize].attempt);
        RunResult {
            replication: self.replication,
            seed: sc.seed,
            trace,
            classes,
            all,
            pools,
            populations,
            timeseries: self.timeseries,
            events: self.events.events_processed(),
            requests: self.total_arrivals,
            requests_finished: self.total_finished,
            requests_in_system,
            end_time: end,
            window_s,
        }
    }
}
