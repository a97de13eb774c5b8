//! A pool's state and dispatch: free GPUs take waiting requests in the
//! order the pool's queue policy decides, one at a time or in batches.

use super::slab::{RequestSlab, State};
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
    /// Requests in service (kept only when the pool has failures).
    pub(super) in_service: Vec<u32>,
    /// Whether the pool has failures, i.e. keeps `in_service`.
    pub(super) tracks_in_service: bool,
    /// Whether the pool batches requests.
    pub(super) batching: bool,
    pub(super) failure_rng: SimRng,
    pub(super) failures_lost: u64,
    /// Batching pools: when a free GPU stops waiting to fill a batch.
    pub(super) fill_deadline: Option<SimTime>,
    pub(super) batches: Vec<Batch>,
    pub(super) free_batches: Vec<u32>,
    pub(super) billed: Level,
    pub(super) busy: u32,
    pub(super) busy_deferred: u32,
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

    /// Request `id` leaves service (completed or lost): one GPU less busy.
    pub(super) fn leave_service(&mut self, requests: &mut RequestSlab, id: u32) {
        self.busy -= 1;
        if !self.in_service.is_empty() {
            let slot = requests.slot(id) as usize;
            self.in_service.swap_remove(slot);
            if let Some(&moved) = self.in_service.get(slot) {
                requests.set_slot(moved, slot as u32);
            }
        }
    }

    /// Update the online and billed levels after a change of capacity or
    /// of busy GPUs. A GPU removed or failed while busy stays online until
    /// its work is done (removal drains).
    pub(super) fn refresh_levels(&mut self, now: SimTime) {
        let online = u64::from(self.usable().max(self.busy));
        if online != self.online.value() {
            self.online.set(now, online);
        }
        let billed = u64::from(self.installed.max(self.busy) + self.provisioning);
        if billed != self.billed.value() {
            self.billed.set(now, billed);
        }
    }

    pub(super) fn view(&self, now: SimTime) -> PoolView {
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
pub(super) struct Batch {
    pub(super) requests: Vec<u32>,
    pub(super) deferred: bool,
}

/// Weight of a new observation in the pool's running mean service time.
pub(super) const SERVICE_EWMA_WEIGHT: f64 = 1.0 / 64.0;

impl Sim<'_> {
    /// Start service on free GPUs while requests wait.
    pub(super) fn dispatch(&mut self, pool: usize, now: SimTime) {
        if self.pools[pool].batching {
            self.dispatch_batches(pool, now);
            return;
        }
        loop {
            let p = &mut self.pools[pool];
            if p.busy >= p.usable() || p.waiting == 0 {
                break;
            }
            let view = p.view(now);
            let Some(h) = p.policy.dequeue(&view) else {
                break;
            };
            let request = &self.requests[h.id as usize];
            let State::Waiting { counted } = request.state else {
                continue; // left behind by an abandoned attempt
            };
            if request.generation != h.ticket {
                continue; // left behind by an abandoned attempt
            }
            let request = *request;
            let priority = self.scenario.classes[usize::from(request.class)].priority;
            let slab = &self.requests;
            p.policy.started(|| slab.queued(h, priority), &view);
            p.waiting -= 1;
            if request.deferred {
                p.busy_deferred += 1;
                p.waiting_deferred -= 1;
            }
            if counted {
                self.classes[request.class as usize].queued.add(now, -1);
            }
            self.begin_service(pool, h.id, now);
        }
        self.pool_levels(pool, now);
    }

    /// Request `id` (live, out of its queue) starts on a free GPU of `pool`.
    #[inline]
    pub(super) fn begin_service(&mut self, pool: usize, id: u32, now: SimTime) {
        let request = &mut self.requests[id as usize];
        request.state = State::InService;
        let request = *request;
        let p = &mut self.pools[pool];
        p.busy += 1;
        if p.tracks_in_service {
            self.requests.set_slot(id, p.in_service.len() as u32);
            p.in_service.push(id);
        }
        if self.classes[request.class as usize].workflow != super::NO_WORKFLOW {
            self.task_started(id, now);
        } else {
            self.tracer.started(id, now);
            if request.first_arrival >= self.warmup {
                let c = &mut self.classes[request.class as usize];
                c.stats.wait.record(now - request.first_arrival);
            }
        }
        self.events.schedule(
            now + request.service,
            Event::ServiceCompleted {
                pool: pool as u32,
                request: id,
                generation: request.generation,
            },
        );
    }

    /// Bring the pool's queue, busy, online and billed levels up to date.
    #[inline]
    pub(super) fn pool_levels(&mut self, pool: usize, now: SimTime) {
        let p = &mut self.pools[pool];
        if p.waiting != p.queue.value() {
            p.queue.set(now, p.waiting);
        }
        if u64::from(p.busy) != p.busy_level.value() {
            p.busy_level.set(now, u64::from(p.busy));
            p.refresh_levels(now);
        }
    }

    /// Batching pools: start full batches on free GPUs, or partial ones
    /// once a free GPU has waited `max_wait` to fill one.
    pub(super) fn dispatch_batches(&mut self, pool: usize, now: SimTime) {
        let Some(spec) = self.scenario.pools[pool].batching.clone() else {
            return;
        };
        let speed = self.scenario.pools[pool].speed;
        let busy_before = self.pools[pool].busy;
        loop {
            let p = &mut self.pools[pool];
            if p.busy >= p.usable() || p.waiting == 0 {
                break;
            }
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
            while requests.len() < spec.max_batch as usize && self.pools[pool].waiting > 0 {
                let p = &mut self.pools[pool];
                let view = p.view(now);
                let Some(h) = p.policy.dequeue(&view) else {
                    break;
                };
                let request = &mut self.requests[h.id as usize];
                let State::Waiting { counted } = request.state else {
                    continue;
                };
                if request.generation != h.ticket {
                    continue;
                }
                request.state = State::InService;
                let request = *request;
                let task = self.classes[request.class as usize].workflow != super::NO_WORKFLOW;
                let priority = self.scenario.classes[usize::from(request.class)].priority;
                let slab = &self.requests;
                p.policy.started(|| slab.queued(h, priority), &view);
                p.waiting -= 1;
                if request.deferred {
                    p.waiting_deferred -= 1;
                }
                if requests.is_empty() {
                    deferred = request.deferred;
                    let mean = if task {
                        self.task_mean_service_s(h.id)
                    } else {
                        self.scenario.classes[request.class as usize].service.mean() / speed
                    };
                    first_service = Some(if mean > 0.0 {
                        request.service.as_secs_f64() / mean
                    } else {
                        1.0
                    });
                }
                let c = &mut self.classes[request.class as usize];
                if counted {
                    c.queued.add(now, -1);
                }
                if task {
                    self.task_started(h.id, now);
                } else {
                    self.tracer.started(h.id, now);
                    if request.first_arrival >= self.warmup {
                        c.stats.wait.record(now - request.first_arrival);
                    }
                }
                requests.push(h.id);
            }
            let p = &mut self.pools[pool];
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
        let p = &mut self.pools[pool];
        if p.waiting == 0 {
            p.fill_deadline = None;
        }
        if p.waiting != p.queue.value() {
            p.queue.set(now, p.waiting);
        }
        if p.busy != busy_before {
            p.busy_level.set(now, u64::from(p.busy));
            p.refresh_levels(now);
        }
    }

    pub(super) fn batch_done(&mut self, pool: usize, batch: u32, now: SimTime) {
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
        p.refresh_levels(now);
        for &id in &requests {
            self.release(id, now);
        }
        requests.clear();
        let p = &mut self.pools[pool];
        p.batches[batch as usize].requests = requests;
        p.free_batches.push(batch);
        self.dispatch(pool, now);
    }
}
