//! A pool's state and dispatch: free GPUs take waiting requests in the
//! order the pool's queue policy decides, handed to the pool's server
//! model (see [`super::server`]).
//!
//! The pool owns its capacity (installed, failed, provisioning GPUs), its
//! queue (the policy, with the live waiting counts a policy's view shows)
//! and its time-weighted levels; its server model owns what is in service.
//! [`Sim::take_waiting`] is the one place a request leaves a queue for
//! service; each server model's dispatch calls it.

use super::server::{Model, Server};
use super::slab::State;
use super::timeseries::BucketTally;
use super::{Event, Sim};
use crate::engine::{SimDuration, SimTime};
use crate::metrics::Level;
use crate::model::policies::PoolPolicy;
use crate::policy::PoolView;
use crate::rng::SimRng;

pub(super) struct PoolState {
    /// Installed GPUs.
    pub(super) installed: u32,
    /// Installed GPUs that are down, waiting for repair.
    pub(super) failed: u32,
    /// GPUs requested by the autoscaler, not yet online.
    pub(super) provisioning: u32,
    /// Changes the failure clock: a failure event of another generation is stale.
    pub(super) failure_generation: u32,
    pub(super) last_scale: Option<SimTime>,
    pub(super) failure_rng: SimRng,
    pub(super) failures_lost: u64,
    /// What serves the pool's requests.
    pub(super) server: Server,
    pub(super) billed: Level,
    /// Live requests waiting (regular and deferred).
    pub(super) waiting: u64,
    pub(super) waiting_deferred: u64,
    pub(super) mean_service_s: f64,
    pub(super) deferred: u64,
    pub(super) shed: u64,
    pub(super) policy: PoolPolicy,
    pub(super) queue: Level,
    pub(super) busy_level: Level,
    pub(super) online: Level,
    pub(super) bucket: BucketTally,
}

impl PoolState {
    /// GPUs that can take new work.
    #[inline]
    pub(super) fn usable(&self) -> u32 {
        self.installed.saturating_sub(self.failed)
    }

    /// Whether a GPU is free.
    #[inline]
    pub(super) fn has_free_gpu(&self) -> bool {
        self.server.has_free_gpu(self.usable())
    }

    /// Update the online and billed levels after a change of capacity or
    /// of busy GPUs. A GPU removed or failed while busy stays online until
    /// its work is done (removal drains).
    pub(super) fn refresh_levels(&mut self, now: SimTime) {
        let busy = self.server.busy();
        let online = u64::from(self.usable().max(busy));
        if online != self.online.value() {
            self.online.set(now, online);
        }
        let billed = u64::from(self.installed.max(busy) + self.provisioning);
        if billed != self.billed.value() {
            self.billed.set(now, billed);
        }
    }

    /// The busy level changed: it and the levels that follow it.
    #[inline]
    pub(super) fn busy_changed(&mut self, now: SimTime) {
        self.busy_level.set(now, u64::from(self.server.busy()));
        self.refresh_levels(now);
    }

    pub(super) fn view(&self, now: SimTime) -> PoolView {
        PoolView {
            now,
            gpus_online: self.usable(),
            gpus_busy: self.server.busy(),
            gpus_busy_deferred: self.server.busy_deferred(),
            waiting: self.waiting,
            waiting_deferred: self.waiting_deferred,
            mean_service_s: self.mean_service_s,
        }
    }

    /// A completed service of `service_s` seconds, into the running mean
    /// (kept for the policies that read it in their view: an order-only
    /// policy never does).
    #[inline]
    pub(super) fn observe_service(&mut self, service_s: f64) {
        if !self.policy.only_orders() {
            self.mean_service_s += SERVICE_EWMA_WEIGHT * (service_s - self.mean_service_s);
        }
    }
}

/// Weight of a new observation in the pool's running mean service time.
const SERVICE_EWMA_WEIGHT: f64 = 1.0 / 64.0;

impl Sim<'_> {
    /// Start service on free GPUs while requests wait.
    #[inline(always)]
    pub(super) fn dispatch(&mut self, pool: usize, now: SimTime) {
        match self.pools[pool].server.model {
            Model::Gpus(_) => self.dispatch_gpus(pool, now),
            Model::Batches(_) => self.dispatch_batches(pool, now),
            Model::Replicas(_) => self.dispatch_replicas(pool, now),
        }
    }

    /// The next live request out of `pool`'s queue, in the policy's order,
    /// with the pool's and its class's waiting counts updated; `None` when
    /// nobody live waits. Entries left behind by abandoned attempts are
    /// skipped (lazy deletion).
    #[inline(always)]
    pub(super) fn take_waiting(&mut self, pool: usize, now: SimTime) -> Option<u32> {
        loop {
            let p = &mut self.pools[pool];
            if p.waiting == 0 {
                return None;
            }
            let view = p.view(now);
            let h = p.policy.dequeue(&view)?;
            let request = &self.requests[h.id as usize];
            let State::Waiting { counted } = request.state else {
                continue;
            };
            if request.generation != h.ticket {
                continue;
            }
            let (class, deferred) = (usize::from(request.class), request.deferred);
            let (slab, sc) = (&self.requests, self.scenario);
            p.policy
                .started(|| slab.queued(h, sc.classes[class].priority), &view);
            self.left_queue(pool, class, deferred, counted, now);
            return Some(h.id);
        }
    }

    /// A request of `class` left `pool`'s queue to start: the waiting
    /// counts.
    #[inline(always)]
    pub(super) fn left_queue(
        &mut self,
        pool: usize,
        class: usize,
        deferred: bool,
        counted: bool,
        now: SimTime,
    ) {
        let p = &mut self.pools[pool];
        p.waiting -= 1;
        if deferred {
            p.waiting_deferred -= 1;
        }
        if counted {
            self.classes[class].queued.add(now, -1);
        }
    }

    /// One request per GPU: free GPUs take the next waiting requests.
    #[inline(always)]
    fn dispatch_gpus(&mut self, pool: usize, now: SimTime) {
        while self.pools[pool].has_free_gpu() {
            let Some(id) = self.take_waiting(pool, now) else {
                break;
            };
            self.begin_service(pool, id, now);
        }
        self.pool_levels(pool, now);
    }

    /// Request `id` (live, out of its queue) starts on a free GPU of `pool`.
    #[inline(always)]
    pub(super) fn begin_service(&mut self, pool: usize, id: u32, now: SimTime) {
        let request = &mut self.requests[id as usize];
        request.state = State::InService;
        let request = *request;
        self.pools[pool]
            .server
            .start_one(&mut self.requests, id, request.deferred);
        self.service_started(id, now);
        self.events.schedule(
            now + request.service,
            Event::ServiceCompleted {
                pool: pool as u32,
                request: id,
                generation: request.generation,
            },
        );
    }

    /// Request `id` left the GPU it held on `pool` (completed or lost).
    #[inline(always)]
    pub(super) fn end_service(&mut self, pool: usize, id: u32) {
        let deferred = self.requests[id as usize].deferred;
        self.pools[pool]
            .server
            .finish_one(&mut self.requests, id, deferred);
    }

    /// Bring the pool's queue, busy, online and billed levels up to date.
    #[inline(always)]
    pub(super) fn pool_levels(&mut self, pool: usize, now: SimTime) {
        let p = &mut self.pools[pool];
        if p.waiting != p.queue.value() {
            p.queue.set(now, p.waiting);
        }
        if u64::from(p.server.busy()) != p.busy_level.value() {
            p.busy_changed(now);
        }
    }

    /// Batching pools: start full batches on free GPUs, or partial ones
    /// once a free GPU has waited `max_wait` to fill one.
    fn dispatch_batches(&mut self, pool: usize, now: SimTime) {
        let busy_before = self.pools[pool].server.busy();
        loop {
            let p = &mut self.pools[pool];
            if !p.has_free_gpu() || p.waiting == 0 {
                break;
            }
            let waiting = p.waiting;
            let b = p.server.batches();
            let max_batch = b.spec.max_batch;
            if waiting < u64::from(max_batch) {
                match b.fill_deadline {
                    None if b.spec.max_wait > SimDuration::ZERO => {
                        let deadline = now + b.spec.max_wait;
                        b.fill_deadline = Some(deadline);
                        self.events
                            .schedule(deadline, Event::BatchFill { pool: pool as u32 });
                        break;
                    }
                    Some(d) if now < d => break,
                    _ => {}
                }
            }
            let (slot, mut requests) = b.open();
            let mut deferred = false;
            let mut first_service = None;
            while requests.len() < max_batch as usize {
                let Some(id) = self.take_waiting(pool, now) else {
                    break;
                };
                let request = &mut self.requests[id as usize];
                request.state = State::InService;
                let request = *request;
                if requests.is_empty() {
                    deferred = request.deferred;
                    let mean = self.mean_service_s(id);
                    first_service = Some(if mean > 0.0 {
                        request.service.as_secs_f64() / mean
                    } else {
                        1.0
                    });
                }
                self.service_started(id, now);
                requests.push(id);
            }
            let server = &mut self.pools[pool].server;
            let Some(noise) = first_service else {
                server.batches().abandon(slot, requests);
                break;
            };
            let b = server.batches();
            let n = requests.len() as f64;
            let time = (b.spec.base_s + b.spec.per_item_s * n) / b.speed * noise;
            let id = server.start_batch(slot, requests, deferred);
            self.events.schedule(
                now + SimDuration::from_secs_f64(time),
                Event::BatchDone {
                    pool: pool as u32,
                    batch: id,
                },
            );
        }
        let p = &mut self.pools[pool];
        if p.waiting == 0 {
            p.server.batches().fill_deadline = None;
        }
        if p.waiting != p.queue.value() {
            p.queue.set(now, p.waiting);
        }
        if p.server.busy() != busy_before {
            p.busy_changed(now);
        }
    }

    pub(super) fn batch_done(&mut self, pool: usize, batch: u32, now: SimTime) {
        let requests = self.pools[pool].server.finish_batch(batch);
        for &id in &requests {
            self.completed(self.route_of(id), pool, id, now);
            let service = self.requests[id as usize].service.as_secs_f64();
            self.pools[pool].observe_service(service);
        }
        self.pools[pool].busy_changed(now);
        for &id in &requests {
            self.release(self.route_of(id), id, now);
        }
        self.pools[pool].server.batches().recycle(batch, requests);
        self.dispatch(pool, now);
    }
}
