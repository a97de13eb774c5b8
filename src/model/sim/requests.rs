//! An attempt's life: a new request, the rate limits, admission to the
//! pool's queue, patience, completion, and the setbacks (rejection,
//! abandonment, failure) that end it or send it back after a backoff.

use super::limits::TokenBucket;
use super::pools::SERVICE_EWMA_WEIGHT;
use super::slab::{Request, State};
use super::timeseries::BucketTally;
use super::{Event, NO_USER, Setback, Sim, unit};
use crate::engine::{SimDuration, SimTime};
use crate::metrics::{DurationHistogram, Level};
use crate::model::arrivals::ArrivalState;
use crate::model::trace::Outcome;
use crate::policy::{Admission, QueuedRequest};
use crate::rng::SimRng;

pub(super) struct ClassState {
    /// The pool of a one-stage class (`u32::MAX` for a workflow class).
    pub(super) pool: u32,
    /// The class's workflow ([`super::NO_WORKFLOW`]: none).
    pub(super) workflow: u32,
    /// A workflow class's stages, in workflow order.
    pub(super) stages: Vec<super::stages::StageState>,
    pub(super) route_rng: SimRng,
    /// The population whose users send this class's requests, if any.
    pub(super) population: u32,
    pub(super) arrivals: ArrivalState,
    pub(super) arrival_rng: SimRng,
    pub(super) service_rng: SimRng,
    pub(super) patience_rng: SimRng,
    pub(super) retry_rng: SimRng,
    pub(super) speed: f64,
    pub(super) limit_bucket: Option<TokenBucket>,
    /// Index of this class in its population's per-user buckets.
    pub(super) user_bucket: Option<usize>,
    pub(super) stats: ClassStats,
    pub(super) queued: Level,
    pub(super) bucket: BucketTally,
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

impl Sim<'_> {
    /// A new request (first attempt) of `class` arrives.
    pub(super) fn new_request(&mut self, class: usize, now: SimTime, user: u32, remaining: u32) {
        if self.classes[class].workflow != super::NO_WORKFLOW {
            self.new_flow(class, now, user, remaining);
            return;
        }
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
        let service = SimDuration::from_secs_f64(service_s);
        let id = self
            .requests
            .insert(Request::new(class, now, service), user, remaining);
        if now >= self.warmup {
            self.tracer.arrived(id, class, now);
        }
        self.submit(id, now);
    }

    /// An attempt of request `id` arrives at its pool: rate limits, then the queue.
    pub(super) fn submit(&mut self, id: u32, now: SimTime) {
        let r = self.requests[id as usize];
        let class = r.class as usize;
        let task = self.classes[class].workflow != super::NO_WORKFLOW;
        let (pool, measured) = if task {
            let pool = self.task_pool(id);
            let p = &self.pools[pool];
            let can_start_now = p.busy < p.usable() && p.waiting == 0 && !p.batching;
            if !can_start_now && self.task_user_gone(id, now) {
                // The user gave up while a stage was in service: they
                // leave rather than queue again.
                self.task_user_left(id, now);
                return;
            }
            (pool, self.task_measured(id))
        } else {
            (
                self.classes[class].pool as usize,
                r.first_arrival >= self.warmup,
            )
        };
        let spec = &self.scenario.classes[class];
        let c = &mut self.classes[class];
        self.pools[pool].bucket.arrivals += 1;
        if task {
            // Rate limits apply to the workflow, at its arrival.
        } else if let (Some(limit), Some(bucket)) = (&spec.limit, c.limit_bucket.as_mut())
            && !bucket.take(now, limit.rate_per_s, limit.burst)
        {
            self.setback(id, now, Setback::Rejected);
            return;
        }
        if let (false, Some(limit), Some(slot)) = (task, &spec.limit, c.user_bucket)
            && let (user, _) = self.requests.user(id)
            && user != NO_USER
            && !self.users[user as usize].buckets.get_mut(slot).take(
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
                c.bucket.deferred += 1;
                if measured {
                    p.deferred += 1;
                }
            }
            Admission::Reject => {
                if measured {
                    p.shed += 1;
                }
                self.setback(id, now, Setback::Rejected);
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
        let can_start_now = p.busy < p.usable() && p.waiting == 0 && !p.batching;
        if can_start_now && p.policy.only_orders() {
            // Queued and dequeued at once, the same as not queued at all.
            self.begin_service(pool, id, now);
            self.pool_levels(pool, now);
            return;
        }
        p.policy.enqueue(queued, &view);
        p.waiting += 1;
        if task && spec.patience.is_some() {
            self.arm_patience(id, now);
        }
        let patience = if queued.deferred {
            spec.deferred_patience.as_ref().or(spec.patience.as_ref())
        } else {
            spec.patience.as_ref()
        };
        // A task's timer is its stage's timeout; the user's patience with
        // a workflow runs on the flow (see `flows`).
        let timeout = if task { self.task_timeout(id) } else { None };
        let wait = match (can_start_now, task) {
            (true, _) => None,
            (false, true) => timeout,
            (false, false) => patience.map(|p| p.sample(&mut self.classes[class].patience_rng)),
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
        let p = &self.pools[pool];
        if p.busy >= p.usable() && !p.batching {
            // No GPU free: nothing can start, only the queue grew.
            self.pool_levels(pool, now);
        } else {
            self.dispatch(pool, now);
        }
        let req = &mut self.requests[id as usize];
        if req.state == (State::Waiting { counted: false }) && req.generation == generation {
            req.state = State::Waiting { counted: true };
            self.classes[class].queued.add(now, 1);
        }
    }

    /// Completion statistics of request `id` (latency, SLO, buckets).
    #[inline]
    pub(super) fn record_completion(&mut self, pool: usize, id: u32, now: SimTime) {
        if self.is_task(id) {
            self.task_completed(pool, id, now);
            return;
        }
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
        if now >= self.warmup && now < self.arrivals_end {
            c.stats.completed_in_window += 1;
        }
        c.bucket.completions += 1;
        c.bucket.latency.record(latency);
        self.pools[pool].bucket.completions += 1;
        let attempt = self.requests.attempt(id);
        self.tracer.finished(id, now, Outcome::Completed, attempt);
    }

    pub(super) fn service_completed(&mut self, pool: usize, id: u32, now: SimTime) {
        self.record_completion(pool, id, now);
        let request = self.requests[id as usize];
        let p = &mut self.pools[pool];
        p.leave_service(&mut self.requests, id);
        if request.deferred {
            p.busy_deferred -= 1;
        }
        p.mean_service_s +=
            SERVICE_EWMA_WEIGHT * (request.service.as_secs_f64() - p.mean_service_s);
        self.release(id, now);
        self.dispatch(pool, now);
    }

    /// A waiting attempt's patience ran out.
    pub(super) fn abandon(&mut self, id: u32, now: SimTime) {
        let r = &mut self.requests[id as usize];
        let counted = r.state == (State::Waiting { counted: true });
        r.state = State::Backoff;
        let class = r.class as usize;
        let deferred = r.deferred;
        let pool = if self.is_task(id) {
            self.task_pool(id)
        } else {
            self.classes[class].pool as usize
        };
        if counted {
            self.classes[class].queued.add(now, -1);
        }
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
    pub(super) fn setback(&mut self, id: u32, now: SimTime, how: Setback) {
        if self.is_task(id) {
            self.task_setback(id, now, how);
            return;
        }
        let r = self.requests[id as usize];
        let attempt = self.requests.attempt(id);
        let class = r.class as usize;
        let measured = r.first_arrival >= self.warmup;
        let c = &mut self.classes[class];
        c.attempt_setback(how, measured);
        match how {
            Setback::Rejected => self.pools[c.pool as usize].bucket.rejected += 1,
            Setback::Failed if measured => self.pools[c.pool as usize].failures_lost += 1,
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
                self.release(id, now);
            }
        }
    }

    pub(super) fn retry(&mut self, id: u32, now: SimTime) {
        if self.is_task(id) {
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
        self.submit(id, now);
    }

    /// Request `id` reached its final outcome: free its slot, tell its user.
    pub(super) fn release(&mut self, id: u32, now: SimTime) {
        if self.is_task(id) {
            self.task_done(id, now);
            return;
        }
        let (user, remaining) = self.requests.user(id);
        let class = self.requests[id as usize].class;
        self.requests.remove(id);
        self.total_finished += 1;
        if user != NO_USER {
            // A user's request: its class belongs to the user's population.
            let population = self.classes[usize::from(class)].population;
            self.user_request_done(user, population, remaining, now);
        }
    }
}
