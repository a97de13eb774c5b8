//! What the rest of the simulation does to a pool's replicas between
//! their steps: routes requests to their queues, lets users who gave up
//! go, fails a replica with its GPU, and closes time buckets.

use super::{Plan, Replica, Replicas};
use crate::engine::SimTime;

impl Replicas {
    /// A routed pool: request `id` (ticket `ticket`) arrives at `now` and
    /// the router queues it at one of the usable replicas (replica 0 while
    /// none is usable).
    pub(in crate::model::sim) fn route(&mut self, id: u32, ticket: u32, now: SimTime) {
        self.ensure(1);
        let usable = (self.usable as usize).max(1);
        let replicas = &self.replicas;
        let rt = self.router.as_mut().expect("a routed pool");
        let queued = &rt.queued;
        let r = rt.chooser.choose(now, usable, |r| {
            let rep = &replicas[r];
            (
                rep.running + rep.pending.len() as u32 + queued[r],
                rep.kv_blocks(),
            )
        });
        rt.push(r, id, ticket);
    }

    /// A GPU of replica `r` failed: the replica loses every sequence it
    /// runs or holds in its own queue (their requests into `lost`, but not
    /// those whose users already left) and starts again empty.
    pub(in crate::model::sim) fn kill(&mut self, r: usize, lost: &mut Vec<u32>) {
        let rep = &mut self.replicas[r];
        for (s, &live) in rep.seqs.iter().zip(&rep.live) {
            if live && !s.cancelled {
                lost.push(s.request);
            }
        }
        lost.extend(rep.pending.iter().map(|s| s.request));
        if rep.plan != Plan::Idle {
            self.stepping -= 1;
        }
        let generation = rep.generation.wrapping_add(1);
        *rep = Replica::new();
        rep.generation = generation;
        for &id in lost.iter() {
            if let Some(a) = self.awaiting.get_mut(id as usize) {
                *a = 0;
            }
        }
        self.refresh_room(r);
    }

    /// Close a time bucket at `end`: the pool's row of `serving_series`.
    pub(in crate::model::sim) fn close_bucket(
        &mut self,
        start: SimTime,
        end: SimTime,
        pool: usize,
    ) -> crate::model::results::ServingSeriesRow {
        let (replicas, _) = self.in_service.close_bucket(end);
        let (running, running_max) = self.running.close_bucket(end);
        let (kv, kv_max) = self.kv.close_bucket(end);
        let cap = self.spec.kv_blocks as f64;
        let (now, was) = (self.counts, self.bucket_counts);
        self.bucket_counts = now;
        let per_replica = |x: f64| {
            if replicas > 0.0 {
                Some(x / replicas)
            } else {
                None
            }
        };
        crate::model::results::ServingSeriesRow {
            start,
            width: end - start,
            scope: crate::model::results::Scope::Pool(pool),
            replicas_mean: Some(replicas),
            running_mean: per_replica(running),
            running_max: Some(running_max),
            kv_utilization: per_replica(kv / cap),
            kv_utilization_max: (self.usable > 0)
                .then(|| kv_max as f64 / (cap * f64::from(self.usable))),
            prefill_tokens: Some(now.prefilled - was.prefilled),
            output_tokens: Some(now.generated - was.generated),
            preemptions: Some(now.preemptions - was.preemptions),
            first_tokens: None,
            ttft_p50_s: None,
            ttft_p99_s: None,
            tpot_p99_s: None,
        }
    }

    /// Whether request `id` was admitted and has no first token yet.
    #[inline]
    pub(in crate::model::sim) fn awaits_first_token(&self, id: u32) -> bool {
        self.awaiting.get(id as usize).is_some_and(|&r| r > 0)
    }

    /// The user of request `id` (admitted, no first token) gives up: a
    /// preempted sequence leaves its replica's queue at once, a prefilling
    /// one at the end of the step under way. Its replica.
    pub(in crate::model::sim) fn cancel(&mut self, id: u32) -> usize {
        let r = self.awaiting[id as usize] as usize - 1;
        self.awaiting[id as usize] = 0;
        let rep = &mut self.replicas[r];
        if let Some(k) = rep.pending.iter().position(|s| s.request == id) {
            rep.pending.remove(k);
        } else {
            let slot = rep
                .prefilling
                .iter()
                .copied()
                .find(|&slot| {
                    let s = &rep.seqs[slot as usize];
                    s.request == id && !s.cancelled
                })
                .expect("a sequence without a first token is queued or prefilling");
            rep.seqs[slot as usize].cancelled = true;
        }
        r
    }
}
