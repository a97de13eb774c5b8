//! The simulation of one replication: requests arrive, wait in their pool's
//! queue, are served by a GPU and leave.
//!
//! Events are facts: [`Event::RequestArrived`] and
//! [`Event::ServiceCompleted`]. Requests live in a slab indexed by `u32`
//! (freed slots are reused), so the steady state allocates nothing per
//! event, and memory is bounded by the number of requests in the system.
//!
//! Statistics: a request is *measured* if it arrives at or after the
//! warm-up; its wait and latency are recorded whenever it finishes, even
//! during the drain after `duration`. Time-weighted pool statistics (queue
//! length, busy and online GPUs) cover the window `[warmup, duration)`.
//! The time series covers the whole run, warm-up and drain included.

use super::DurationDist;
use super::spec::{ArrivalSpec, PolicySpec, Scenario};
use crate::engine::{EventQueue, SimDuration, SimTime};
use crate::metrics::{CompactHistogram, DurationHistogram, Level};
use crate::policy::{Fifo, QueuePolicy, QueuedRequest};
use crate::rng::{SimRng, stream};
use rand_distr::{Distribution as _, Exp1};

#[derive(Clone, Copy, Debug)]
enum Event {
    RequestArrived { class: u32 },
    ServiceCompleted { pool: u32, request: u32 },
}

/// Marks a free slot of the request slab.
const FREE: u32 = u32::MAX;

#[derive(Clone, Copy, Debug)]
struct Request {
    class: u32,
    arrival: SimTime,
    service: SimDuration,
}

enum ArrivalState {
    Poisson { mean_gap_s: f64 },
    Explicit { times: Vec<SimTime>, next: usize },
}

struct ClassState {
    pool: u32,
    arrivals: ArrivalState,
    arrival_rng: SimRng,
    service_rng: SimRng,
    service: DurationDist,
    speed: f64,
    latency_target: Option<SimDuration>,
    measured_arrivals: u64,
    completed: u64,
    slo_met: u64,
    wait: DurationHistogram,
    latency: DurationHistogram,
    queued: Level,
    bucket: BucketCounts,
}

struct PoolState {
    gpus: u32,
    busy: u32,
    policy: Box<dyn QueuePolicy>,
    queue: Level,
    busy_level: Level,
    online: Level,
    bucket: BucketCounts,
}

struct BucketCounts {
    arrivals: u64,
    completions: u64,
    latency: CompactHistogram,
}

impl BucketCounts {
    fn new() -> Self {
        BucketCounts {
            arrivals: 0,
            completions: 0,
            latency: CompactHistogram::new(),
        }
    }
}

/// What a time-series row describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// A class, by index in the scenario.
    Class(usize),
    /// A pool, by index in the scenario.
    Pool(usize),
}

/// One time bucket of one class or pool.
#[derive(Clone, Debug)]
pub struct TimeSeriesRow {
    /// Start of the bucket.
    pub start: SimTime,
    /// Width of the bucket (the last one may be shorter).
    pub width: SimDuration,
    /// The class or pool.
    pub scope: Scope,
    /// Requests that arrived in the bucket.
    pub arrivals: u64,
    /// Requests that completed in the bucket.
    pub completions: u64,
    /// Requests rejected in the bucket.
    pub rejected: u64,
    /// Requests abandoned in the bucket.
    pub abandoned: u64,
    /// Time-average number of waiting requests.
    pub queue_mean: f64,
    /// Largest number of waiting requests.
    pub queue_max: u64,
    /// Time-average busy GPUs (pools only).
    pub busy_gpus_mean: Option<f64>,
    /// Time-average online GPUs (pools only).
    pub online_gpus_mean: Option<f64>,
    /// Median latency of the bucket's completions, seconds.
    pub latency_p50_s: Option<f64>,
    /// 99th percentile latency of the bucket's completions, seconds.
    pub latency_p99_s: Option<f64>,
}

/// Results of one class (or of all classes together) in one replication.
/// Counts are of measured requests: those that arrived after the warm-up.
#[derive(Clone, Debug)]
pub struct ClassResult {
    /// Class name, or `all`.
    pub name: String,
    /// Measured arrivals.
    pub arrivals: u64,
    /// Of those, completed.
    pub completed: u64,
    /// Of those, rejected (rate limit or admission control).
    pub rejected: u64,
    /// Of those, abandoned while waiting.
    pub abandoned: u64,
    /// Of those, failed (GPU failure, retries exhausted).
    pub failed: u64,
    /// Of those, still waiting or in service when the run ended.
    pub in_system: u64,
    /// Completions per second of the measurement window.
    pub throughput_per_s: f64,
    /// Wait: arrival → start of service.
    pub wait: DurationHistogram,
    /// Latency: arrival → completion.
    pub latency: DurationHistogram,
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
    /// Requests moved to the deferred queue.
    pub deferred: u64,
    /// Requests shed by admission control.
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
    /// Time series, bucket by bucket, classes then pools within a bucket.
    pub timeseries: Vec<TimeSeriesRow>,
    /// Events processed.
    pub events: u64,
    /// Requests simulated (warm-up included).
    pub requests: u64,
    /// Requests completed (warm-up included).
    pub requests_completed: u64,
    /// Requests still in the system at the end (warm-up included), counted
    /// by scanning the request slab.
    pub requests_in_system: u64,
    /// When the run ended (≥ duration).
    pub end_time: SimTime,
    /// Length of the measurement window, seconds.
    pub window_s: f64,
}

impl ClassResult {
    fn empty(name: &str) -> Self {
        ClassResult {
            name: name.to_string(),
            arrivals: 0,
            completed: 0,
            rejected: 0,
            abandoned: 0,
            failed: 0,
            in_system: 0,
            throughput_per_s: 0.0,
            wait: DurationHistogram::new(),
            latency: DurationHistogram::new(),
            slo_attainment: None,
            slo_met: 0,
            slo_arrivals: 0,
        }
    }

    fn absorb(&mut self, other: &ClassResult) {
        self.arrivals += other.arrivals;
        self.completed += other.completed;
        self.rejected += other.rejected;
        self.abandoned += other.abandoned;
        self.failed += other.failed;
        self.in_system += other.in_system;
        self.throughput_per_s += other.throughput_per_s;
        self.wait.merge(&other.wait);
        self.latency.merge(&other.latency);
        self.slo_met += other.slo_met;
        self.slo_arrivals += other.slo_arrivals;
        self.slo_attainment = (self.slo_arrivals > 0)
            .then(|| self.slo_met as f64 / self.slo_arrivals as f64)
            .or(self.slo_attainment);
    }
}

/// Simulate replication `replication` of `scenario` to the end.
pub fn simulate(scenario: &Scenario, replication: u32) -> RunResult {
    let mut sim = Sim::new(scenario, replication);
    sim.run();
    sim.finish()
}

struct Sim<'a> {
    scenario: &'a Scenario,
    replication: u32,
    events: EventQueue<Event>,
    classes: Vec<ClassState>,
    pools: Vec<PoolState>,
    requests: Vec<Request>,
    free: Vec<u32>,
    warmup: SimTime,
    arrivals_end: SimTime,
    bucket_width: SimDuration,
    bucket_start: SimTime,
    next_bucket: SimTime,
    timeseries: Vec<TimeSeriesRow>,
    total_arrivals: u64,
    total_completed: u64,
    end_time: SimTime,
}

impl<'a> Sim<'a> {
    fn new(sc: &'a Scenario, replication: u32) -> Self {
        let warmup = SimTime(sc.warmup.0);
        let arrivals_end = SimTime(sc.duration.0);
        let classes = sc
            .classes
            .iter()
            .map(|c| {
                let arrivals = match &c.arrivals {
                    ArrivalSpec::Poisson { rate_per_s } => ArrivalState::Poisson {
                        mean_gap_s: 1.0 / rate_per_s,
                    },
                    ArrivalSpec::Explicit { times } => ArrivalState::Explicit {
                        times: times.clone(),
                        next: 0,
                    },
                };
                ClassState {
                    pool: c.pool as u32,
                    arrivals,
                    arrival_rng: stream(
                        sc.seed,
                        replication,
                        &format!("class/{}/arrivals", c.name),
                    ),
                    service_rng: stream(sc.seed, replication, &format!("class/{}/service", c.name)),
                    service: c.service.clone(),
                    speed: sc.pools[c.pool].speed,
                    latency_target: c.latency_target,
                    measured_arrivals: 0,
                    completed: 0,
                    slo_met: 0,
                    wait: DurationHistogram::new(),
                    latency: DurationHistogram::new(),
                    queued: Level::new(0, warmup, arrivals_end),
                    bucket: BucketCounts::new(),
                }
            })
            .collect();
        let pools = sc
            .pools
            .iter()
            .map(|p| PoolState {
                gpus: p.gpus,
                busy: 0,
                policy: match p.policy {
                    PolicySpec::Fifo => Box::new(Fifo::new()) as Box<dyn QueuePolicy>,
                },
                queue: Level::new(0, warmup, arrivals_end),
                busy_level: Level::new(0, warmup, arrivals_end),
                online: Level::new(u64::from(p.gpus), warmup, arrivals_end),
                bucket: BucketCounts::new(),
            })
            .collect();
        let bucket_width = sc.bucket_width().max(SimDuration(1));
        Sim {
            scenario: sc,
            replication,
            events: EventQueue::new(),
            classes,
            pools,
            requests: Vec::new(),
            free: Vec::new(),
            warmup,
            arrivals_end,
            bucket_width,
            bucket_start: SimTime::ZERO,
            next_bucket: SimTime::ZERO + bucket_width,
            timeseries: Vec::new(),
            total_arrivals: 0,
            total_completed: 0,
            end_time: SimTime::ZERO,
        }
    }

    fn run(&mut self) {
        for class in 0..self.classes.len() {
            self.schedule_arrival(class, SimTime::ZERO);
        }
        let limit = match self.scenario.drain {
            Some(d) => self.arrivals_end + d,
            None => SimTime::MAX,
        };
        while let Some(at) = self.events.peek_time() {
            if at > limit {
                break;
            }
            let Some((now, event)) = self.events.pop() else {
                break;
            };
            while now >= self.next_bucket {
                self.close_bucket();
            }
            match event {
                Event::RequestArrived { class } => self.request_arrived(class as usize, now),
                Event::ServiceCompleted { pool, request } => {
                    self.service_completed(pool as usize, request, now)
                }
            }
        }
        let last = if self.events.is_empty() {
            self.events.now()
        } else {
            limit
        };
        self.end_time = last.max(self.arrivals_end);
        while self.next_bucket <= self.end_time {
            self.close_bucket();
        }
        if self.bucket_start < self.end_time {
            self.next_bucket = self.end_time;
            self.close_bucket();
        }
    }

    /// Schedule the next arrival of `class` after `now`, if it falls before
    /// the end of arrivals.
    fn schedule_arrival(&mut self, class: usize, now: SimTime) {
        let c = &mut self.classes[class];
        let next = match &mut c.arrivals {
            ArrivalState::Poisson { mean_gap_s } => {
                let e: f64 = Exp1.sample(&mut c.arrival_rng);
                now + SimDuration::from_secs_f64(e * *mean_gap_s)
            }
            ArrivalState::Explicit { times, next } => match times.get(*next) {
                Some(&t) => {
                    *next += 1;
                    t
                }
                None => return,
            },
        };
        if next < self.arrivals_end {
            self.events.schedule(
                next,
                Event::RequestArrived {
                    class: class as u32,
                },
            );
        }
    }

    fn request_arrived(&mut self, class: usize, now: SimTime) {
        self.schedule_arrival(class, now);
        self.total_arrivals += 1;
        let c = &mut self.classes[class];
        let service_s = c.service.sample_secs(&mut c.service_rng) / c.speed;
        let service = SimDuration::from_secs_f64(service_s);
        if now >= self.warmup {
            c.measured_arrivals += 1;
        }
        c.bucket.arrivals += 1;
        c.queued.add(now, 1);
        let pool = c.pool as usize;
        let request = Request {
            class: class as u32,
            arrival: now,
            service,
        };
        let id = match self.free.pop() {
            Some(id) => {
                self.requests[id as usize] = request;
                id
            }
            None => {
                self.requests.push(request);
                (self.requests.len() - 1) as u32
            }
        };
        let p = &mut self.pools[pool];
        p.bucket.arrivals += 1;
        let queued = QueuedRequest {
            id,
            class: class as u32,
            arrival: now,
            service,
        };
        p.policy.enqueue(queued, now);
        self.dispatch(pool, now);
    }

    /// Start service on free GPUs while requests wait.
    fn dispatch(&mut self, pool: usize, now: SimTime) {
        let p = &mut self.pools[pool];
        let busy_before = p.busy;
        while p.busy < p.gpus {
            let Some(q) = p.policy.dequeue(now) else {
                break;
            };
            p.busy += 1;
            let request = self.requests[q.id as usize];
            let c = &mut self.classes[request.class as usize];
            c.queued.add(now, -1);
            if request.arrival >= self.warmup {
                c.wait.record(now - request.arrival);
            }
            self.events.schedule(
                now + request.service,
                Event::ServiceCompleted {
                    pool: pool as u32,
                    request: q.id,
                },
            );
        }
        let queued = p.policy.len() as u64;
        if queued != p.queue.value() {
            p.queue.set(now, queued);
        }
        if p.busy != busy_before {
            p.busy_level.set(now, u64::from(p.busy));
        }
    }

    fn service_completed(&mut self, pool: usize, id: u32, now: SimTime) {
        let request = self.requests[id as usize];
        self.requests[id as usize].class = FREE;
        self.free.push(id);
        self.total_completed += 1;
        let latency = now - request.arrival;
        let c = &mut self.classes[request.class as usize];
        if request.arrival >= self.warmup {
            c.completed += 1;
            c.latency.record(latency);
            if c.latency_target.is_some_and(|t| latency <= t) {
                c.slo_met += 1;
            }
        }
        c.bucket.completions += 1;
        c.bucket.latency.record(latency);
        let p = &mut self.pools[pool];
        p.bucket.completions += 1;
        p.busy -= 1;
        p.busy_level.set(now, u64::from(p.busy));
        self.dispatch(pool, now);
    }

    /// Close the current time bucket at `self.next_bucket`.
    fn close_bucket(&mut self) {
        let start = self.bucket_start;
        let end = self.next_bucket;
        let width = end - start;
        for (i, c) in self.classes.iter_mut().enumerate() {
            let (queue_mean, queue_max) = c.queued.close_bucket(end);
            self.timeseries.push(TimeSeriesRow {
                start,
                width,
                scope: Scope::Class(i),
                arrivals: c.bucket.arrivals,
                completions: c.bucket.completions,
                rejected: 0,
                abandoned: 0,
                queue_mean,
                queue_max,
                busy_gpus_mean: None,
                online_gpus_mean: None,
                latency_p50_s: c.bucket.latency.quantile_s(0.5),
                latency_p99_s: c.bucket.latency.quantile_s(0.99),
            });
        }
        for (i, p) in self.pools.iter_mut().enumerate() {
            // The pool's latency histogram is the merge of its classes':
            // one record per completion instead of two.
            for c in self.classes.iter().filter(|c| c.pool as usize == i) {
                p.bucket.latency.merge(&c.bucket.latency);
            }
            let (queue_mean, queue_max) = p.queue.close_bucket(end);
            let (busy, _) = p.busy_level.close_bucket(end);
            let (online, _) = p.online.close_bucket(end);
            self.timeseries.push(TimeSeriesRow {
                start,
                width,
                scope: Scope::Pool(i),
                arrivals: p.bucket.arrivals,
                completions: p.bucket.completions,
                rejected: 0,
                abandoned: 0,
                queue_mean,
                queue_max,
                busy_gpus_mean: Some(busy),
                online_gpus_mean: Some(online),
                latency_p50_s: p.bucket.latency.quantile_s(0.5),
                latency_p99_s: p.bucket.latency.quantile_s(0.99),
            });
            p.bucket.arrivals = 0;
            p.bucket.completions = 0;
            p.bucket.latency.reset();
        }
        for c in &mut self.classes {
            c.bucket.arrivals = 0;
            c.bucket.completions = 0;
            c.bucket.latency.reset();
        }
        self.bucket_start = end;
        self.next_bucket = end + self.bucket_width;
    }

    fn finish(mut self) -> RunResult {
        let sc = self.scenario;
        let window_s = (sc.duration.as_secs_f64() - sc.warmup.as_secs_f64()).max(0.0);
        let end = self.end_time;

        let mut in_system = vec![0u64; self.classes.len()];
        let mut requests_in_system = 0;
        for r in &self.requests {
            if r.class != FREE {
                requests_in_system += 1;
                if r.arrival >= self.warmup {
                    in_system[r.class as usize] += 1;
                }
            }
        }

        let classes: Vec<ClassResult> = self
            .classes
            .iter()
            .zip(&sc.classes)
            .zip(in_system)
            .map(|((c, spec), in_system)| {
                let has_target = c.latency_target.is_some();
                ClassResult {
                    name: spec.name.clone(),
                    arrivals: c.measured_arrivals,
                    completed: c.completed,
                    rejected: 0,
                    abandoned: 0,
                    failed: 0,
                    in_system,
                    throughput_per_s: if window_s > 0.0 {
                        c.completed as f64 / window_s
                    } else {
                        0.0
                    },
                    wait: c.wait.clone(),
                    latency: c.latency.clone(),
                    slo_attainment: (has_target && c.measured_arrivals > 0)
                        .then(|| c.slo_met as f64 / c.measured_arrivals as f64),
                    slo_met: c.slo_met,
                    slo_arrivals: if has_target { c.measured_arrivals } else { 0 },
                }
            })
            .collect();
        let mut all = ClassResult::empty("all");
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
                let gpu_hours = p.online.window_integral_s(end) / 3600.0;
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
                    deferred: 0,
                    shed: 0,
                    failed: 0,
                }
            })
            .collect();

        RunResult {
            replication: self.replication,
            seed: sc.seed,
            classes,
            all,
            pools,
            timeseries: self.timeseries,
            events: self.events.events_processed(),
            requests: self.total_arrivals,
            requests_completed: self.total_completed,
            requests_in_system,
            end_time: end,
            window_s,
        }
    }
}
