//! Pool dynamics: capacity schedules, the autoscaler, and GPU failures
//! with repair.

use super::slab::State;
use super::{Event, Route, Setback, Sim, unit};
use crate::engine::{SimDuration, SimTime};
use crate::model::spec::{CapacityChange, ScaleTrigger};
use rand_distr::Distribution as _;

impl Sim<'_> {
    /// Capacity changed: refresh levels, restart the failure clock (its
    /// rate depends on the working GPUs), start waiting work.
    pub(super) fn capacity_changed(&mut self, pool: usize, now: SimTime) {
        self.pools[pool].refresh_levels(now);
        self.schedule_failure(pool, now);
        self.dispatch(pool, now);
    }

    pub(super) fn capacity_step(&mut self, pool: usize, step: usize, now: SimTime) {
        let p = &mut self.pools[pool];
        p.installed = match self.scenario.pools[pool].capacity[step].change {
            CapacityChange::Set(n) => n,
            CapacityChange::Add(d) => {
                (i64::from(p.installed) + d).clamp(0, i64::from(u32::MAX)) as u32
            }
        };
        self.capacity_changed(pool, now);
    }

    /// One autoscaler decision; the next one follows after `interval`
    /// until arrivals end.
    pub(super) fn autoscale(&mut self, pool: usize, now: SimTime) {
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
        let utilization = f64::from(p.server.busy()) / online;
        let up = match a.trigger {
            ScaleTrigger::Utilization(u) => utilization >= u,
            ScaleTrigger::QueuePerGpu(q) => p.waiting as f64 / online >= q,
        };
        let down = p.waiting == 0
            && match a.trigger {
                ScaleTrigger::Utilization(u) => utilization < u / 2.0,
                ScaleTrigger::QueuePerGpu(_) => utilization < 0.5,
            };
        if up && p.installed + p.provisioning < a.max {
            let n = a.step.min(a.max - p.installed - p.provisioning);
            p.provisioning += n;
            p.last_scale = Some(now);
            self.events.schedule(
                now + a.provision_delay,
                Event::GpusReady {
                    pool: pool as u32,
                    gpus: n,
                },
            );
            p.refresh_levels(now);
        } else if down && p.provisioning == 0 && p.installed > a.min {
            p.installed -= a.step.min(p.installed - a.min);
            p.last_scale = Some(now);
            self.capacity_changed(pool, now);
        }
    }

    /// (Re)start the failure clock of a pool: the next failure among its
    /// working GPUs, each failing at rate 1/MTBF (memoryless, so restarting
    /// it whenever their number changes is exact). No failures after the
    /// arrivals end.
    pub(super) fn schedule_failure(&mut self, pool: usize, now: SimTime) {
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
    pub(super) fn gpu_fails(&mut self, pool: usize, now: SimTime) {
        let Some(f) = &self.scenario.pools[pool].failures else {
            return;
        };
        if matches!(
            self.pools[pool].server.model,
            super::server::Model::Replicas(_)
        ) {
            self.replica_gpu_fails(pool, now);
            return;
        }
        let p = &mut self.pools[pool];
        let working = p.usable();
        let busy_working = p.server.busy().min(working);
        let victim_busy = unit(&mut p.failure_rng) * f64::from(working) < f64::from(busy_working);
        p.failed += 1;
        let repair = f.mttr.sample(&mut p.failure_rng);
        self.events
            .schedule(now + repair, Event::GpuRepaired { pool: pool as u32 });
        let victim = if victim_busy {
            let rng = &mut p.failure_rng;
            p.server.victim(|| unit(rng))
        } else {
            None
        };
        if let Some(id) = victim {
            self.end_service(pool, id);
            let p = &mut self.pools[pool];
            p.busy_level.set(now, u64::from(p.server.busy()));
            self.requests[id as usize].state = State::Backoff;
            let route = self.route_of(id);
            self.setback(route, pool, id, now, Setback::Failed);
        }
        self.capacity_changed(pool, now);
    }

    /// A GPU of serving pool `pool` fails: one of its working GPUs, drawn
    /// uniformly. If it belongs to a replica in use, that replica's
    /// sequences fail (their attempts retry or are lost, as a failed GPU's
    /// request's are) and the replica starts again empty. Replicas in use
    /// are always the first ones, so the replica that capacity loses is
    /// the last in use, which finishes what it runs (as a removed GPU
    /// does). Until the repair, the pool has one GPU fewer.
    fn replica_gpu_fails(&mut self, pool: usize, now: SimTime) {
        let f = self.scenario.pools[pool]
            .failures
            .as_ref()
            .expect("failures are scheduled for a pool with failures");
        let p = &mut self.pools[pool];
        let working = p.usable();
        let u = unit(&mut p.failure_rng) * f64::from(working);
        p.failed += 1;
        let repair = f.mttr.sample(&mut p.failure_rng);
        self.events
            .schedule(now + repair, Event::GpuRepaired { pool: pool as u32 });
        let reps = p.server.replicas();
        let victim = (u / f64::from(reps.spec.gpus_per_replica)) as usize;
        if victim < reps.usable() as usize && victim < reps.replicas.len() {
            let before = reps.replica_load(victim);
            let mut lost = Vec::new();
            reps.kill(victim, &mut lost);
            reps.load_changed(now, before, (0, 0));
            let busy = reps.stepping * reps.spec.gpus_per_replica;
            p.server.set_busy(busy);
            for id in lost {
                self.requests[id as usize].state = State::Backoff;
                self.setback(Route::Pool(pool as u32), pool, id, now, Setback::Failed);
            }
        }
        self.capacity_changed(pool, now);
    }
}
