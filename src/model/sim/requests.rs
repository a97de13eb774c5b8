//! An attempt's life: a new request, the rate limits, admission to the
//! pool's queue, patience, completion, and the setbacks (rejection,
//! abandonment, failure) that end it or send it back after a backoff.

use super::limits::TokenBucket;
use super::slab::{Request, State};
use super::timeseries::BucketTally;
use super::{Event, Route, Setback, Sim, unit};
use crate::engine::{SimDuration, SimTime};
use crate::metrics::{DurationHistogram, Level};
use crate::model::arrivals::ArrivalState;
use crate::model::trace::Outcome;
use crate::policy::{Admission, QueuedRequest};
use crate::rng::SimRng;

pub(super) struct ClassState {
    /// Where the class's requests go.
    pub(super) route: Route,
    /// A workflow class's stages, in workflow order.
    pub(super) stages: Vec<super::stages::StageState>,
    pub(super) route_rng: SimRng,
    /// The population whose users send this class's requests, if any.
    pub(super) population: Option<u32>,
    pub(super) arrivals: ArrivalState,
    pub(super) arrival_rng: SimRng,
    /// The class's service demand (a copy of its spec's, beside its stream).
    pub(super) service: crate::model::DurationDist,
    pub(super) service_rng: SimRng,
    /// Token demand, for a class on a serving pool.
    pub(super) tokens: Option<ClassTokens>,
    pub(super) token_rng: SimRng,
    pub(super) patience_rng: SimRng,
    pub(super) retry_rng: SimRng,
    pub(super) speed: f64,
    /// The class's latency target, for its SLO attainment.
    pub(super) latency_target: Option<SimDuration>,
    /// Whether its requests are held to any target (latency, TTFT, TPOT).
    pub(super) has_targets: bool,
    pub(super) limit_bucket: Option<TokenBucket>,
    /// Index of this class in its population's per-user buckets.
    pub(super) user_bucket: Option<usize>,
    pub(super) stats: ClassStats,
    pub(super) queued: Level,
    pub(super) bucket: BucketTally,
}

/// A serving class's token demand and what its tokens cost its pool.
pub(super) struct ClassTokens {
    pub(super) spec: crate::model::TokenSpec,
    /// The pool's longest sequence.
    pub(super) max_len: u32,
    /// Replica-seconds per prompt token and per output token at full load
    /// (see [`crate::model::ServingSpec::work_rates`]).
    pub(super) work: (f64, f64),
    /// The class's bounds on each request's TTFT and TPOT.
    pub(super) targets: (Option<SimDuration>, Option<SimDuration>),
    /// Completions in the measured window that met every target of the
    /// class (latency, TTFT, TPOT): its goodput.
    pub(super) good_in_window: u64,
    /// This time bucket's first-token times and times per output token.
    pub(super) bucket_ttft: crate::metrics::CompactHistogram,
    pub(super) bucket_tpot: crate::metrics::CompactHistogram,
}

impl ClassTokens {
    pub(super) fn new(
        class: &crate::model::ClassSpec,
        pool: &crate::model::ServingSpec,
    ) -> Option<Self> {
        let spec = class.tokens.as_ref()?;
        let means = spec.means();
        let batch = pool.full_batch(means.0, means.1);
        Some(ClassTokens {
            spec: spec.clone(),
            max_len: pool.max_model_len,
            work: pool.work_rates(batch, means.0 + means.1 / 2.0),
            targets: (class.ttft_target, class.tpot_target),
            good_in_window: 0,
            bucket_ttft: Default::default(),
            bucket_tpot: Default::default(),
        })
    }
}

impl ClassState {
    /// An attempt of this class did not complete: the bucket's count and,
    /// for a measured request, the attempt counts.
    pub(super) fn attempt_setback(&mut self, how: Setback, measured: bool) {
        let (bucket, attempts) = match how {
            Setback::Rejected => (&mut self.bucket.rejected, &mut self.stats.rejected_attempts),
            Setback::Abandoned => (
                &mut self.bucket.abandoned,
                &mut self.stats.abandoned_attempts,
            ),
            Setback::Failed => (&mut self.bucket.failed, &mut self.stats.failed_attempts),
        };
        *bucket += 1;
        if measured {
            *attempts += 1;
        }
    }
}

#[derive(Default)]
pub(super) struct ClassStats {
    pub(super) arrivals: u64,
    pub(super) completed: u64,
    pub(super) rejected: u64,
    pub(super) abandoned: u64,
    pub(super) attempts: u64,
    pub(super) rejected_attempts: u64,
    pub(super) abandoned_attempts: u64,
    pub(super) failed: u64,
    pub(super) failed_attempts: u64,
    pub(super) slo_met: u64,
    /// Completions (of any request) inside the measured window.
    pub(super) completed_in_window: u64,
    pub(super) deferred: u64,
    pub(super) wait: DurationHistogram,
    pub(super) latency: DurationHistogram,
    pub(super) deferred_latency: DurationHistogram,
    /// Serving classes: arrival → first token.
    pub(super) ttft: Option<DurationHistogram>,
    /// Serving classes: (latency − TTFT) ÷ (output tokens − 1), per
    /// completed request of at least two output tokens.
    pub(super) tpot: Option<DurationHistogram>,
}

impl ClassStats {
    /// A measured request's last attempt did not complete and it gives up.
    pub(super) fn gave_up(&mut self, how: Setback) {
        match how {
            Setback::Rejected => self.rejected += 1,
            Setback::Abandoned => self.abandoned += 1,
            Setback::Failed => self.failed += 1,
        }
    }
}

/// Which of the two lifecycles an attempt is in: a one-stage request's,
/// or a task's (a stage visit of a workflow's flow).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Lifecycle {
    Request,
    Task,
}

impl Sim<'_> {
    /// Where request `id` goes: a one-stage request's pool, or its
    /// class's workflow (the request is then a task of a flow).
    #[inline]
    pub(super) fn route_of(&self, id: u32) -> Route {
        self.classes[usize::from(self.requests[id as usize].class)].route
    }

    /// The pool that serves request `id` on its current visit.
    #[inline]
    fn pool_of(&self, route: Route, id: u32) -> usize {
        match route {
            Route::Pool(pool) => pool as usize,
            Route::Workflow(_) => self.task_pool(id),
        }
    }

    /// A new request (first attempt) of `class` arrives, sent by `user`
    /// (who has `remaining` more to send in this session), if any.
    #[inline(always)]
    pub(super) fn new_request(&mut self, class: usize, now: SimTime, user: Option<(u32, u32)>) {
        let Route::Pool(pool) = self.classes[class].route else {
            self.new_flow(class, now, user);
            return;
        };
        self.total_arrivals += 1;
        let c = &mut self.classes[class];
        let (service_s, tokens) = match &c.tokens {
            None => (c.service.sample_secs(&mut c.service_rng) / c.speed, None),
            Some(_) => self.draw_tokens(class),
        };
        let c = &mut self.classes[class];
        if now >= self.warmup {
            c.stats.arrivals += 1;
            c.stats.attempts += 1;
        }
        c.bucket.arrivals += 1;
        let service = SimDuration::from_secs_f64(service_s);
        let id = self
            .requests
            .insert(Request::new(class, now, service), user);
        if let Some(tokens) = tokens {
            self.requests.set_tokens(id, tokens);
        }
        if now >= self.warmup {
            self.tracer.arrived(id, class, now);
        }
        self.submit(Route::Pool(pool), id, now);
    }

    /// An attempt of request `id` (whose route is `route`) arrives at its
    /// pool.
    #[inline]
    pub(super) fn submit(&mut self, route: Route, id: u32, now: SimTime) {
        match route {
            Route::Pool(pool) => self.submit_request(pool as usize, id, now),
            Route::Workflow(_) => self.submit_task(id, now),
        }
    }

    /// An attempt of one-stage request `id` arrives at `pool`: its class's
    /// rate limits, then admission.
    #[inline(always)]
    fn submit_request(&mut self, pool: usize, id: u32, now: SimTime) {
        self.pools[pool].bucket.arrivals += 1;
        let class = usize::from(self.requests[id as usize].class);
        let c = &self.classes[class];
        let limited = c.limit_bucket.is_some() || c.user_bucket.is_some();
        if limited && !self.within_limits(class, id, now) {
            self.request_setback(pool, id, now, Setback::Rejected);
            return;
        }
        let measured = self.requests[id as usize].first_arrival >= self.warmup;
        self.admit(Lifecycle::Request, pool, id, measured, now);
    }

    /// Whether the rate limits of `class` let request `id` through now
    /// (taking a token from each bucket that does).
    #[inline(never)]
    fn within_limits(&mut self, class: usize, id: u32, now: SimTime) -> bool {
        let Some(limit) = &self.scenario.classes[class].limit else {
            return true;
        };
        let c = &mut self.classes[class];
        if let Some(bucket) = c.limit_bucket.as_mut()
            && !bucket.take(now, limit.rate_per_s, limit.burst)
        {
            return false;
        }
        if let Some(slot) = c.user_bucket
            && let Some((user, _)) = self.requests.user(id)
            && !self.users[user as usize].buckets.get_mut(slot).take(
                now,
                limit.rate_per_s,
                limit.burst,
            )
        {
            return false;
        }
        true
    }

    /// An attempt of task `id` arrives at its stage's pool: a user who gave
    /// up while a stage was in service leaves rather than queue again;
    /// rate limits applied to the workflow once, at its arrival (`flows`).
    #[inline(always)]
    pub(super) fn submit_task(&mut self, id: u32, now: SimTime) {
        let pool = self.task_pool(id);
        let p = &self.pools[pool];
        let can_start_now = p.server.starts_at_once(p.usable()) && p.waiting == 0;
        if !can_start_now && self.task_user_gone(id, now) {
            self.task_user_left(id, now);
            return;
        }
        self.pools[pool].bucket.arrivals += 1;
        let measured = self.task_measured(id);
        self.admit(Lifecycle::Task, pool, id, measured, now);
    }

    /// Admission of an attempt of request `id` (`measured`: its first
    /// attempt arrived after the warm-up) to `pool`: the policy admits,
    /// defers or sheds it; an admitted one starts at once on a free GPU or
    /// waits, with its patience (a task: its stage's timeout) running.
    /// Inlined into each lifecycle's caller, where `life` is a constant.
    #[inline(always)]
    fn admit(&mut self, life: Lifecycle, pool: usize, id: u32, measured: bool, now: SimTime) {
        let task = life == Lifecycle::Task;
        let r = self.requests[id as usize];
        let class = usize::from(r.class);
        let spec = &self.scenario.classes[class];
        let generation = r.generation.wrapping_add(1);
        let p = &mut self.pools[pool];
        if p.policy.only_orders() && p.waiting == 0 && p.server.starts_at_once(p.usable()) {
            // A policy that only orders admits everyone; queued and
            // dequeued at once is the same as not queued at all.
            let req = &mut self.requests[id as usize];
            req.generation = generation;
            req.deferred = false;
            self.begin_service(pool, id, now);
            self.pool_levels(pool, now);
            return;
        }
        let mut queued = QueuedRequest {
            id,
            class: class as u32,
            priority: spec.priority,
            arrival: r.first_arrival,
            attempt: self.requests.attempt(id),
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
                self.classes[class].bucket.deferred += 1;
                if measured {
                    p.deferred += 1;
                }
            }
            Admission::Reject => {
                if measured {
                    p.shed += 1;
                }
                match life {
                    Lifecycle::Request => self.request_setback(pool, id, now, Setback::Rejected),
                    Lifecycle::Task => self.task_setback(id, now, Setback::Rejected),
                }
                return;
            }
        }
        let req = &mut self.requests[id as usize];
        req.generation = generation;
        req.state = State::Waiting { counted: false };
        req.deferred = queued.deferred;
        if task {
            if queued.deferred {
                self.task_deferred(id, now);
            }
        } else if queued.deferred && measured {
            self.classes[class].stats.deferred += 1;
        }
        let p = &mut self.pools[pool];
        // A batching pool may hold a lone request to fill a batch: its
        // patience runs from arrival like anywhere else.
        let can_start_now = p.server.starts_at_once(p.usable()) && p.waiting == 0;
        if can_start_now && p.policy.only_orders() {
            self.begin_service(pool, id, now);
            self.pool_levels(pool, now);
            return;
        }
        let usable = p.usable();
        match p.server.routed() {
            Some(reps) => {
                let n = reps.spec.replicas(usable);
                reps.set_usable(n, now);
                reps.route(id, generation, now);
            }
            None => p.policy.enqueue(queued, &view),
        }
        p.waiting += 1;
        if task && spec.patience.is_some() {
            self.arm_patience(id, now);
        }
        // A task's timer is its stage's timeout; the user's patience with
        // a workflow runs on the flow (see `flows`).
        let wait = match life {
            _ if can_start_now => None,
            Lifecycle::Task => self.task_timeout(id),
            Lifecycle::Request => {
                let patience = if queued.deferred {
                    spec.deferred_patience.as_ref().or(spec.patience.as_ref())
                } else {
                    spec.patience.as_ref()
                };
                patience.map(|p| p.sample(&mut self.classes[class].patience_rng))
            }
        };
        if let Some(wait) = wait {
            self.events.schedule(
                now + wait,
                Event::PatienceExpired {
                    request: id,
                    generation,
                },
            );
        }
        if self.pools[pool].has_free_gpu() {
            self.dispatch(pool, now);
        } else {
            // No GPU free: nothing can start, only the queue grew.
            self.pool_levels(pool, now);
        }
        let req = &mut self.requests[id as usize];
        if req.state == (State::Waiting { counted: false }) && req.generation == generation {
            req.state = State::Waiting { counted: true };
            self.classes[class].queued.add(now, 1);
        }
    }

    /// Request `id`, out of its queue, starts service now: its wait.
    #[inline(always)]
    pub(super) fn service_started(&mut self, id: u32, now: SimTime) {
        let request = self.requests[id as usize];
        match self.classes[usize::from(request.class)].route {
            Route::Pool(_) => {
                self.tracer.started(id, now);
                if request.first_arrival >= self.warmup {
                    let c = &mut self.classes[usize::from(request.class)];
                    c.stats.wait.record(now - request.first_arrival);
                }
            }
            Route::Workflow(_) => self.task_started(id, now),
        }
    }

    /// Mean service of request `id`'s visit on its pool, seconds.
    pub(super) fn mean_service_s(&self, id: u32) -> f64 {
        let class = usize::from(self.requests[id as usize].class);
        match self.classes[class].route {
            Route::Pool(pool) => {
                self.scenario.classes[class].service.mean()
                    / self.scenario.pools[pool as usize].speed
            }
            Route::Workflow(_) => self.task_mean_service_s(id),
        }
    }

    /// Request `id` was served to its end on `pool`: its statistics, then
    /// its release (a one-stage request's final outcome; a task moves its
    /// flow on).
    #[inline(always)]
    pub(super) fn completed(&mut self, route: Route, pool: usize, id: u32, now: SimTime) {
        match route {
            Route::Pool(_) => self.record_completion(pool, id, now, |target, latency| {
                target.is_some_and(|t| latency <= t)
            }),
            Route::Workflow(_) => self.task_completed(pool, id, now),
        }
    }

    /// Completion statistics of one-stage request `id` (latency, SLO,
    /// buckets); `met(latency_target, latency)`: whether it counts as
    /// meeting its class's targets (a serving request's TTFT and TPOT are
    /// its caller's to judge).
    #[inline(always)]
    pub(super) fn record_completion(
        &mut self,
        pool: usize,
        id: u32,
        now: SimTime,
        met: impl FnOnce(Option<SimDuration>, SimDuration) -> bool,
    ) {
        let request = self.requests[id as usize];
        let latency = now - request.first_arrival;
        let class = request.class as usize;
        let c = &mut self.classes[class];
        let target = c.latency_target;
        if request.first_arrival >= self.warmup {
            c.stats.completed += 1;
            c.stats.latency.record(latency);
            if request.deferred {
                c.stats.deferred_latency.record(latency);
            }
            if met(target, latency) {
                c.stats.slo_met += 1;
            }
        }
        if now >= self.warmup && now < self.arrivals_end {
            c.stats.completed_in_window += 1;
        }
        c.bucket.completions += 1;
        c.bucket.latency.record(latency);
        self.pools[pool].bucket.completions += 1;
        let attempt = self.requests.attempt(id);
        self.tracer.finished(id, now, Outcome::Completed, attempt);
    }

    /// Request `id`'s service on a GPU of `pool` ended.
    #[inline(always)]
    pub(super) fn service_completed(&mut self, pool: usize, id: u32, now: SimTime) {
        let route = self.route_of(id);
        self.completed(route, pool, id, now);
        let service = self.requests[id as usize].service;
        self.end_service(pool, id);
        self.pools[pool].observe_service(service.as_secs_f64());
        self.release(route, id, now);
        self.dispatch(pool, now);
    }

    /// A waiting attempt's patience (or a task's stage timeout) ran out.
    pub(super) fn abandon(&mut self, id: u32, now: SimTime) {
        let route = self.route_of(id);
        let pool = self.pool_of(route, id);
        if self.requests[id as usize].state == State::InService {
            // Only on a replica, before the first token (see `is_stale`).
            self.abandon_on_replica(pool, id, now);
            return;
        }
        let r = &mut self.requests[id as usize];
        let counted = r.state == (State::Waiting { counted: true });
        r.state = State::Backoff;
        let class = r.class as usize;
        let deferred = r.deferred;
        if counted {
            self.classes[class].queued.add(now, -1);
        }
        let p = &mut self.pools[pool];
        p.waiting -= 1;
        if deferred {
            p.waiting_deferred -= 1;
        }
        if let Some(reps) = p.server.routed() {
            reps.router.as_mut().expect("routed").forget(id);
        }
        p.queue.set(now, p.waiting);
        p.bucket.abandoned += 1;
        self.setback(route, pool, id, now, Setback::Abandoned);
    }

    /// An attempt of request `id` on `pool` did not complete.
    pub(super) fn setback(
        &mut self,
        route: Route,
        pool: usize,
        id: u32,
        now: SimTime,
        how: Setback,
    ) {
        match route {
            Route::Pool(_) => self.request_setback(pool, id, now, how),
            Route::Workflow(_) => self.task_setback(id, now, how),
        }
    }

    /// An attempt of one-stage request `id` on `pool` did not complete:
    /// retry after a backoff, or give up.
    fn request_setback(&mut self, pool: usize, id: u32, now: SimTime, how: Setback) {
        let r = self.requests[id as usize];
        let attempt = self.requests.attempt(id);
        let class = r.class as usize;
        let measured = r.first_arrival >= self.warmup;
        let c = &mut self.classes[class];
        c.attempt_setback(how, measured);
        match how {
            Setback::Rejected => self.pools[pool].bucket.rejected += 1,
            Setback::Failed if measured => self.pools[pool].failures_lost += 1,
            _ => {}
        }
        match &self.scenario.classes[class].retry {
            Some(retry) if attempt < retry.max_attempts => {
                let delay = retry.delay_s(attempt, unit(&mut c.retry_rng));
                self.requests[id as usize].state = State::Backoff;
                self.events.schedule(
                    now + SimDuration::from_secs_f64(delay),
                    Event::RetryDue { request: id },
                );
            }
            _ => {
                if measured {
                    c.stats.gave_up(how);
                }
                self.tracer.finished(id, now, how.outcome(), attempt);
                self.request_released(id, now);
            }
        }
    }

    /// A retry of request `id` comes due.
    pub(super) fn retry(&mut self, id: u32, now: SimTime) {
        let route = self.route_of(id);
        if let Route::Workflow(_) = route {
            self.task_retry(id, now);
            return;
        }
        self.requests.next_attempt(id);
        let r = self.requests[id as usize];
        let c = &mut self.classes[r.class as usize];
        if r.first_arrival >= self.warmup {
            c.stats.attempts += 1;
        }
        c.bucket.retries += 1;
        self.submit(route, id, now);
    }

    /// Request `id` left service done: a one-stage request's slot is
    /// freed; a task moves its flow on.
    #[inline(always)]
    pub(super) fn release(&mut self, route: Route, id: u32, now: SimTime) {
        match route {
            Route::Pool(_) => self.request_released(id, now),
            Route::Workflow(_) => self.task_done(id, now),
        }
    }

    /// One-stage request `id` reached its final outcome: free its slot,
    /// tell its user.
    #[inline(always)]
    fn request_released(&mut self, id: u32, now: SimTime) {
        let user = self.requests.user(id);
        let class = self.requests[id as usize].class;
        self.requests.remove(id);
        self.total_finished += 1;
        if let Some((user, remaining)) = user {
            self.user_request_done(user, self.population_of(class), remaining, now);
        }
    }

    /// The population of a user's request of `class`.
    pub(super) fn population_of(&self, class: u16) -> u32 {
        self.classes[usize::from(class)]
            .population
            .expect("a user's request is of a class of the user's population")
    }
}
