//! The simulation of one replication: the event loop.
//!
//! Requests arrive (from a class's own arrival process or from the users of
//! a population), pass the rate limits, wait in their pool's queue (or give
//! up when their patience runs out), are served by a GPU and leave; a
//! rejected or abandoned attempt may come back after a backoff.
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
//!
//! This file holds the loop (events, the simulation's state, `run`); each
//! subject's handlers live beside it, and [`finish`] reads the results at
//! the end:
//! [`requests`] (an attempt's life: limits, queue, patience, retries),
//! [`pools`] (a pool's queue and dispatch), [`server`] (the server model
//! of each pool: one request per GPU, or batches), [`dynamics`] (capacity
//! schedules, the autoscaler, failures), [`users`] (populations and
//! sessions), [`flows`] (workflows: a flow per request, a task per stage
//! visit), [`stages`] (their statistics), [`limits`] (token buckets) and
//! [`timeseries`] (time buckets).

mod dynamics;
mod finish;
mod flows;
mod limits;
mod pools;
mod replica;
mod requests;
mod router;
mod serve;
mod server;
mod slab;
mod stages;
mod timeseries;
mod users;

use super::arrivals::{ArrivalSpec, ArrivalState};
use super::policies::{PolicyOverrides, make_policy};
use super::progress::{PUBLISH_EVERY, Progress, Slot};
use super::results::{RunResult, StageSeriesRow, StopReason, Stopped, TimeSeriesRow};
use super::spec::Scenario;
use super::trace::Tracer;
use crate::engine::{EventQueue, SimDuration, SimTime, prefetch};
use crate::metrics::Level;
use crate::rng::{SimRng, stream};
use flows::{Flow, Task};
use limits::TokenBucket;
use pools::PoolState;
use rand::Rng;
use requests::{ClassState, ClassStats};
use server::Server;
use slab::{RequestSlab, State};
use stages::StageState;
use timeseries::BucketTally;
use users::{PopulationState, User};

#[derive(Clone, Copy, Debug)]
enum Event {
    ClassArrival {
        class: u32,
    },
    Signup {
        population: u32,
    },
    /// A user of `population` sends their next request; `remaining`
    /// more follow in this session.
    UserNext {
        user: u32,
        population: u32,
        remaining: u32,
    },
    UserReturns {
        user: u32,
        population: u32,
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
    /// The user's patience with a workflow's attempt runs out.
    FlowPatience {
        flow: u32,
        generation: u32,
    },
    /// A workflow's client retry comes due.
    FlowRetry {
        flow: u32,
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
    /// A serving replica reaches the end of its planned steps.
    ReplicaStep {
        pool: u32,
        replica: u32,
        generation: u32,
    },
}

/// How many of the run's next events have their requests and users
/// fetched ahead, while the current event runs.
const PREFETCH_AHEAD: usize = 4;

/// Requests and users in the slabs (live or free) from which prefetching
/// pays: below, their records stay in the caches anyway.
const PREFETCH_FROM: usize = 16_384;

/// No user, in a flow's record: the request came from a class's own
/// arrival process (the record's methods say it as `None`).
const NO_USER: u32 = u32::MAX;

/// Where a class's requests go, chosen once per event that starts or ends
/// an attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Route {
    /// One visit of this pool.
    Pool(u32),
    /// This workflow's stages, across pools: each request is a flow, and
    /// each visit of a stage a task (see [`flows`]).
    Workflow(u32),
}

/// How an attempt ended, when it did not complete.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Setback {
    Rejected,
    Abandoned,
    Failed,
}

impl Setback {
    /// The final outcome of a request whose last attempt ended so.
    fn outcome(self) -> super::trace::Outcome {
        match self {
            Setback::Rejected => super::trace::Outcome::Rejected,
            Setback::Abandoned => super::trace::Outcome::Abandoned,
            Setback::Failed => super::trace::Outcome::Failed,
        }
    }
}

/// Simulate replication `replication` of `scenario` to the end, with
/// policies supplied from code; [`crate::Simulation::build`] has checked
/// that every custom policy is registered.
pub(crate) fn simulate_with(
    scenario: &Scenario,
    replication: u32,
    custom: &PolicyOverrides,
    progress: Option<&Progress>,
) -> RunResult {
    let mut sim = Sim::new(scenario, replication, custom);
    sim.progress = progress.and_then(|p| p.slot(replication));
    sim.run();
    if let Some(slot) = sim.progress {
        slot.finish(sim.last_event.0, sim.events.events_processed());
    }
    sim.finish()
}

struct Sim<'a> {
    scenario: &'a Scenario,
    replication: u32,
    events: EventQueue<Event>,
    classes: Vec<ClassState>,
    pools: Vec<PoolState>,
    populations: Vec<PopulationState>,
    requests: RequestSlab,
    users: Vec<User>,
    free_users: Vec<u32>,
    /// Requests of workflow classes, across their stages.
    flows: Vec<Flow>,
    free_flows: Vec<u32>,
    /// Per request slot, what a task of a workflow knows of its flow
    /// (grown only by scenarios with workflows).
    tasks: Vec<Task>,
    warmup: SimTime,
    arrivals_end: SimTime,
    bucket_width: SimDuration,
    bucket_start: SimTime,
    next_bucket: SimTime,
    timeseries: Vec<TimeSeriesRow>,
    stage_series: Vec<StageSeriesRow>,
    serving_series: Vec<crate::model::results::ServingSeriesRow>,
    total_arrivals: u64,
    total_finished: u64,
    last_event: SimTime,
    tracer: Tracer,
    /// Set when the budget stopped the run.
    stopped: Option<Stopped>,
    /// Time-series buckets closed so far (capped: see [`MAX_SERIES_BUCKETS`]).
    buckets_closed: u64,
    /// Where to publish progress, when something displays it.
    progress: Option<&'a Slot>,
    /// What a replica's boundary produced (kept to reuse its memory).
    serve_scratch: Vec<replica::Happened>,
}

/// Most time-series buckets of one run: 200,000 cover the arrivals (the
/// loader's limit), and a long drain beyond the rest goes into one final
/// bucket, so a year-long drain cannot fill memory with empty rows.
const MAX_SERIES_BUCKETS: u64 = 250_000;

/// A uniform draw in [0, 1) with 53 random bits.
#[inline]
fn unit(rng: &mut SimRng) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
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
            let stages = match c.workflow {
                Some(w) => sc.workflows[w]
                    .stages
                    .iter()
                    .map(|st| StageState {
                        service_rng: s(format!("class/{}/stage/{}/service", c.name, st.name)),
                        retry_rng: s(format!("class/{}/stage/{}/retry", c.name, st.name)),
                        stats: Default::default(),
                        bucket: Default::default(),
                    })
                    .collect(),
                None => Vec::new(),
            };
            classes.push(ClassState {
                // A workflow class's requests are served by its stages' pools.
                route: match c.workflow {
                    Some(w) => Route::Workflow(w as u32),
                    None => Route::Pool(c.pool as u32),
                },
                stages,
                route_rng: s(format!("class/{}/routes", c.name)),
                population: match c.arrivals {
                    ArrivalSpec::Users { population, .. } => Some(population as u32),
                    _ => None,
                },
                arrivals: ArrivalState::new(&c.arrivals, sc.duration),
                arrival_rng: s(format!("class/{}/arrivals", c.name)),
                service: c.service.clone(),
                service_rng: s(format!("class/{}/service", c.name)),
                // Token demand where the class's pool serves tokens.
                tokens: sc
                    .pools
                    .get(c.pool)
                    .and_then(|p| p.serving.as_ref())
                    .and_then(|spec| requests::ClassTokens::new(c, spec)),
                token_rng: s(format!("class/{}/tokens", c.name)),
                patience_rng: s(format!("class/{}/patience", c.name)),
                retry_rng: s(format!("class/{}/retry", c.name)),
                speed: sc.pools[c.pool].speed,
                latency_target: c.latency_target,
                has_targets: c.has_targets(),
                limit_bucket: c
                    .limit
                    .as_ref()
                    .filter(|l| !l.per_user)
                    .map(|l| TokenBucket::full(l.burst)),
                user_bucket,
                stats: ClassStats {
                    ttft: c.tokens.is_some().then(Default::default),
                    tpot: c.tokens.is_some().then(Default::default),
                    ..ClassStats::default()
                },
                queued: Level::new(0, warmup, arrivals_end),
                bucket: BucketTally::default(),
            });
        }
        let rates = sc.mean_rates();
        let pools = sc
            .pools
            .iter()
            .enumerate()
            .map(|(i, p)| PoolState {
                installed: p.gpus,
                failed: 0,
                provisioning: 0,
                failure_generation: 0,
                last_scale: None,
                failure_rng: s(format!("pool/{}/failures", p.name)),
                failures_lost: 0,
                server: Server::new(
                    p,
                    (warmup, arrivals_end),
                    s(format!("pool/{}/router", p.name)),
                ),
                billed: Level::new(u64::from(p.gpus), warmup, arrivals_end),
                waiting: 0,
                waiting_deferred: 0,
                mean_service_s: {
                    // Demand-weighted mean service of the classes routed here.
                    let (mut work, mut rate) = (0.0, 0.0);
                    for (c, r) in rates.iter().enumerate() {
                        let demand = sc.demand_on(c, i);
                        if demand > 0.0 {
                            // Per visit: a workflow may visit the pool
                            // more than once per request.
                            let visits = match sc.classes[c].workflow {
                                Some(_) => {
                                    (demand / sc.classes[c].service.mean().max(1e-12)).max(1.0)
                                }
                                None => 1.0,
                            };
                            work += r * demand;
                            rate += r * visits;
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
                bucket: BucketTally::default(),
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
            requests: RequestSlab::new(
                sc.classes
                    .iter()
                    .any(|c| c.retry.as_ref().is_some_and(|r| r.max_attempts > 1))
                    || !sc.populations.is_empty()
                    || !sc.workflows.is_empty()
                    || sc.pools.iter().any(|p| p.failures.is_some()),
                sc.pools.iter().any(|p| p.serving.is_some()),
            ),
            users: Vec::new(),
            free_users: Vec::new(),
            flows: Vec::new(),
            free_flows: Vec::new(),
            tasks: Vec::new(),
            warmup,
            arrivals_end,
            bucket_width,
            bucket_start: SimTime::ZERO,
            next_bucket: SimTime::ZERO + bucket_width,
            timeseries: Vec::new(),
            stage_series: Vec::new(),
            serving_series: Vec::new(),
            total_arrivals: 0,
            total_finished: 0,
            last_event: SimTime::ZERO,
            tracer: Tracer::new(sc.trace),
            stopped: None,
            buckets_closed: 0,
            progress: None,
            serve_scratch: Vec::new(),
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
        let budget = self.scenario.budget;
        // The last nanosecond is the end of time: an event there (a time
        // that saturated) is not on time, and is looked at after the loop.
        let horizon = limit.min(SimTime(u64::MAX - 1));
        while let Some((now, event)) = self.events.pop_until(horizon) {
            // Fetch what the next events touch while this one runs (once
            // the requests and users outgrow the caches).
            if self.requests.slots() + self.users.len() > PREFETCH_FROM {
                let ([heap, run], far) = self.events.upcoming(PREFETCH_AHEAD);
                if let Some(&e) = far {
                    self.prefetch(e, false);
                }
                if let Some(&e) = heap {
                    self.prefetch(e, true);
                }
                if let Some(&e) = run {
                    self.prefetch(e, true);
                }
            }
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
                    self.new_request(class, now, None);
                }
                Event::Signup { population } => self.signup(population as usize, now),
                Event::UserNext {
                    user,
                    population,
                    remaining,
                } => self.user_sends(user, population, remaining, now),
                Event::UserReturns { user, population } => {
                    self.start_session(user, population, now)
                }
                Event::ServiceCompleted { pool, request, .. } => {
                    self.service_completed(pool as usize, request, now)
                }
                Event::PatienceExpired { request, .. } => self.abandon(request, now),
                Event::RetryDue { request } => self.retry(request, now),
                Event::FlowPatience { flow, .. } => self.flow_patience(flow, now),
                Event::FlowRetry { flow } => self.flow_retry(flow, now),
                Event::CapacityStep { pool, step } => {
                    self.capacity_step(pool as usize, step as usize, now)
                }
                Event::AutoscaleTick { pool } => self.autoscale(pool as usize, now),
                Event::GpusReady { pool, gpus } => {
                    let p = &mut self.pools[pool as usize];
                    p.provisioning -= gpus;
                    p.installed += gpus;
                    self.capacity_changed(pool as usize, now);
                }
                Event::GpuFails { pool, .. } => self.gpu_fails(pool as usize, now),
                Event::GpuRepaired { pool } => {
                    self.pools[pool as usize].failed -= 1;
                    self.capacity_changed(pool as usize, now);
                }
                Event::BatchDone { pool, batch } => self.batch_done(pool as usize, batch, now),
                Event::ReplicaStep { pool, replica, .. } => {
                    self.replica_boundary(pool as usize, replica as usize, now)
                }
                Event::BatchFill { pool } => {
                    if let server::Model::Batches(b) = &self.pools[pool as usize].server.model
                        && b.fill_deadline.is_some_and(|d| d <= now)
                    {
                        self.dispatch(pool as usize, now);
                    }
                }
            }
            let processed = self.events.events_processed();
            if processed & (PUBLISH_EVERY - 1) == 0
                && let Some(slot) = self.progress
            {
                slot.publish(now.0, processed);
            }
            // The budget: checked after every event, so a run stops at the
            // first moment it is over and nothing grows past it.
            let in_system = (self.total_arrivals - self.total_finished)
                + (self.users.len() - self.free_users.len()) as u64;
            let reason = if in_system > budget.max_in_system {
                Some(StopReason::InSystem(budget.max_in_system))
            } else if processed >= budget.max_events {
                Some(StopReason::Events(budget.max_events))
            } else {
                None
            };
            if let Some(reason) = reason {
                self.stopped = Some(Stopped {
                    at: now,
                    reason,
                    in_system,
                });
                break;
            }
        }
        if self.stopped.is_none() && limit == SimTime::MAX && !self.events.is_empty() {
            self.past_the_end_of_time();
        }
        // Events left past the drain's limit: the run was cut off there.
        let cut_off = self.stopped.is_none() && !self.events.is_empty();
        let last = if cut_off { limit } else { self.last_event };
        let end = match self.stopped {
            Some(s) => s.at,
            None => last.max(self.arrivals_end),
        };
        while self.next_bucket <= end {
            self.close_bucket();
        }
        if self.bucket_start < end {
            self.next_bucket = end;
            self.close_bucket();
        }
        self.last_event = end;
    }

    /// Events are left at the end of time (times that saturated): stale
    /// timers are dropped; a live event stops the run there.
    #[cold]
    #[inline(never)]
    fn past_the_end_of_time(&mut self) {
        while let Some((_, event)) = self.events.pop() {
            if !self.is_stale(&event) {
                self.stop(self.last_event, StopReason::EndOfTime);
                return;
            }
        }
    }

    /// The run stops early at `at`, for `reason`.
    #[cold]
    fn stop(&mut self, at: SimTime, reason: StopReason) {
        let in_system = (self.total_arrivals - self.total_finished)
            + (self.users.len() - self.free_users.len()) as u64;
        self.stopped = Some(Stopped {
            at,
            reason,
            in_system,
        });
    }

    /// Start fetching the request or user `event` touches into the cache;
    /// `near`: the event is among the next two, whose request records
    /// were fetched earlier and say which user a retry will touch.
    #[inline(always)]
    fn prefetch(&self, event: Event, near: bool) {
        let user = match event {
            Event::ServiceCompleted { request, .. } | Event::PatienceExpired { request, .. } => {
                self.requests.prefetch(request);
                self.prefetch_task(request, near);
                return;
            }
            // A retry starts an attempt, whose rate limit reads the user:
            // the flow's record, fetched earlier, says which.
            Event::FlowRetry { flow } if near => match self.flows.get(flow as usize) {
                Some(f) => match f.user() {
                    Some(user) => user,
                    None => return,
                },
                None => return,
            },
            Event::FlowPatience { flow, .. } | Event::FlowRetry { flow } => {
                if let Some(f) = self.flows.get(flow as usize) {
                    prefetch(f);
                }
                return;
            }
            Event::RetryDue { request } if near => match self.requests.user(request) {
                Some((user, _)) => user,
                None => return,
            },
            Event::RetryDue { request } => {
                self.requests.prefetch(request);
                self.prefetch_task(request, near);
                return;
            }
            Event::UserNext { user, .. } => user,
            _ => return,
        };
        if let Some(u) = self.users.get(user as usize) {
            prefetch(u);
        }
    }

    /// Workflows: start fetching what a task's event touches besides its
    /// request, its task record and (for the nearest events, whose task
    /// records were fetched earlier) its flow.
    #[inline(always)]
    fn prefetch_task(&self, request: u32, near: bool) {
        if let Some(t) = self.tasks.get(request as usize) {
            prefetch(t);
            if near && let Some(f) = self.flows.get(t.flow() as usize) {
                prefetch(f);
            }
        }
    }

    /// A patience timer whose attempt has already started or ended.
    #[inline(always)]
    fn is_stale(&self, event: &Event) -> bool {
        match *event {
            Event::PatienceExpired {
                request,
                generation,
            } => {
                let r = &self.requests[request as usize];
                r.generation != generation
                    || !r.is_waiting() && !self.awaits_first_token(request, r.state)
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
            Event::ReplicaStep {
                pool,
                replica,
                generation,
            } => self.replica_is_stale(pool as usize, replica as usize, generation),
            Event::FlowPatience { flow, generation } => {
                self.flows[flow as usize].generation != generation
            }
            _ => false,
        }
    }

    #[inline(always)]
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
}
