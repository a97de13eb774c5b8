//! Serving pools in the loop: token demand at arrival, replicas taking
//! work from the pool's queue at their step boundaries, and what their
//! steps produce (first tokens, completions) recorded as the other pools'
//! outcomes are. The replicas themselves are in [`super::replica`].

use super::replica::Happened;
use super::slab::State;
use super::{Event, Route, Sim};
use crate::engine::SimTime;

impl Sim<'_> {
    /// A new request of serving `class` on `pool`: its prompt and output
    /// tokens (cut to the pool's longest sequence), and the service time
    /// that stands for them in the pool's policy (its work at full load).
    #[inline(never)]
    pub(super) fn draw_tokens(&mut self, class: usize) -> (f64, Option<[u32; 2]>) {
        let c = &mut self.classes[class];
        let t = c.tokens.as_ref().expect("a serving class has tokens");
        let (prompt, output) = t.spec.sample(&mut c.token_rng);
        let max_len = t.max_len;
        let prompt = prompt.min(max_len - 1).max(1);
        let output = output.min(max_len - prompt).max(1);
        let (p, o) = (f64::from(prompt), f64::from(output));
        let work = (p * t.work.0 + o * t.work.1) / c.speed;
        (work, Some([prompt, output]))
    }

    /// Replicas usable on `pool` now (whole replicas of its usable GPUs).
    /// A routed pool that lost replicas routes their queues again; one
    /// that gained some wakes those with a queue.
    fn usable_replicas(&mut self, pool: usize) -> usize {
        let p = &mut self.pools[pool];
        let usable = p.usable();
        let reps = p.server.replicas();
        let n = reps.spec.replicas(usable);
        let old = reps.usable() as usize;
        reps.set_usable(n, self.events.now());
        let n = n as usize;
        if n != old
            && let Some(rt) = &mut reps.router
        {
            if n > old {
                rt.woken
                    .extend((old as u32..n as u32).filter(|&r| rt.queued[r as usize] > 0));
            } else if n > 0 {
                let end = old.min(rt.queues.len());
                self.reroute(pool, n..end);
            }
        }
        n
    }

    /// A routed pool: the live requests queued at replicas `from` go to
    /// the router again.
    fn reroute(&mut self, pool: usize, from: std::ops::Range<usize>) {
        for r in from {
            let reps = self.pools[pool].server.replicas();
            let rt = reps.router.as_mut().expect("routed");
            let handles = std::mem::take(&mut rt.queues[r]);
            rt.queued[r] = 0;
            for (id, ticket) in handles {
                let q = &self.requests[id as usize];
                if matches!(q.state, State::Waiting { .. }) && q.generation == ticket {
                    let now = self.events.now();
                    self.pools[pool].server.replicas().route(id, ticket, now);
                }
            }
        }
    }

    /// A routed pool: replicas routed to since the last dispatch take
    /// their queue now if idle, else at their next step boundary.
    fn wake_routed(&mut self, pool: usize, usable: usize, now: SimTime) {
        loop {
            let reps = self.pools[pool].server.replicas();
            let rt = reps.router.as_mut().expect("routed");
            let Some(r) = rt.woken.pop() else { break };
            let r = r as usize;
            if r >= usable || rt.queued[r] == 0 || !reps.has_room(r) {
                continue;
            }
            if !reps.replicas[r].is_stepping() {
                self.replica_boundary(pool, r, now);
            } else if let Some(at) = reps.cut(r, now) {
                self.schedule_replica(pool, r, at);
            }
        }
    }

    /// The next request for replica `r` of `pool`: from its own queue if
    /// the pool routes, else from the pool's.
    fn take_for(&mut self, pool: usize, r: usize, now: SimTime) -> Option<u32> {
        if self.pools[pool].server.routed().is_none() {
            return self.take_waiting(pool, now);
        }
        loop {
            let rt = self.pools[pool]
                .server
                .replicas()
                .router
                .as_mut()
                .expect("routed");
            let (id, ticket) = rt.queues[r].pop_front()?;
            let q = &self.requests[id as usize];
            let State::Waiting { counted } = q.state else {
                continue;
            };
            if q.generation != ticket {
                continue;
            }
            rt.queued[r] -= 1;
            let (class, deferred) = (usize::from(q.class), q.deferred);
            self.left_queue(pool, class, deferred, counted, now);
            return Some(id);
        }
    }

    /// Serving pools: waiting requests go to the least loaded replica
    /// that can take work (a central scheduler's join-the-shortest-queue):
    /// an idle one starts at once; a running one takes them at its next
    /// step boundary, its run of decode steps cut short there.
    pub(super) fn dispatch_replicas(&mut self, pool: usize, now: SimTime) {
        let usable = self.usable_replicas(pool);
        if self.pools[pool].server.routed().is_some() {
            self.wake_routed(pool, usable, now);
            self.pool_levels(pool, now);
            return;
        }
        while self.pools[pool].waiting > 0 {
            let reps = self.pools[pool].server.replicas();
            match reps.least_loaded() {
                Some(r) if !reps.replicas[r].is_stepping() => self.replica_boundary(pool, r, now),
                _ => break,
            }
        }
        self.cover_waiting(pool, now);
        self.pool_levels(pool, now);
    }

    /// Requests wait on `pool`: the least loaded replica that can take
    /// work takes them at its next step boundary (now, if it is idle).
    fn cover_waiting(&mut self, pool: usize, now: SimTime) {
        if self.pools[pool].waiting == 0 || self.pools[pool].server.routed().is_some() {
            return;
        }
        let reps = self.pools[pool].server.replicas();
        let Some(r) = reps.least_loaded() else {
            return;
        };
        let at = if reps.replicas[r].is_stepping() {
            reps.cut(r, now)
        } else {
            Some(now)
        };
        if let Some(at) = at {
            self.schedule_replica(pool, r, at);
        }
    }

    /// Replica `r` of `pool` reaches the end of its plan at `at`.
    fn schedule_replica(&mut self, pool: usize, r: usize, at: SimTime) {
        let generation = self.pools[pool].server.replicas().replicas[r].generation;
        self.events.schedule(
            at,
            Event::ReplicaStep {
                pool: pool as u32,
                replica: r as u32,
                generation,
            },
        );
    }

    /// Whether request `id` (in `state`) is on a replica without its first
    /// token: its user's patience still runs.
    #[inline]
    pub(super) fn awaits_first_token(&self, id: u32, state: State) -> bool {
        if state != State::InService {
            return false;
        }
        let Route::Pool(pool) = self.route_of(id) else {
            return false;
        };
        match &self.pools[pool as usize].server.model {
            super::server::Model::Replicas(reps) => reps.awaits_first_token(id),
            _ => false,
        }
    }

    /// The user of request `id`, admitted to a replica of `pool` and still
    /// without a first token, gives up: the replica lets it go, and the
    /// attempt is abandoned (retried or lost) as one that waited.
    pub(super) fn abandon_on_replica(&mut self, pool: usize, id: u32, now: SimTime) {
        let reps = self.pools[pool].server.replicas();
        let r = reps.cancel(id);
        reps.refresh_room(r);
        self.requests[id as usize].state = State::Backoff;
        self.pools[pool].bucket.abandoned += 1;
        self.setback(
            Route::Pool(pool as u32),
            pool,
            id,
            now,
            super::Setback::Abandoned,
        );
        self.dispatch(pool, now);
    }

    /// Whether a replica event was overtaken by a change of plan.
    #[inline]
    pub(super) fn replica_is_stale(&self, pool: usize, replica: usize, generation: u32) -> bool {
        match &self.pools[pool].server.model {
            super::server::Model::Replicas(reps) => reps.replicas[replica].generation != generation,
            _ => true,
        }
    }

    /// Replica `r` of `pool` is at a step boundary (or idle, about to
    /// start): apply its steps, record first tokens, take waiting work,
    /// plan its next steps, then complete what finished.
    pub(super) fn replica_boundary(&mut self, pool: usize, r: usize, now: SimTime) {
        let usable = self.usable_replicas(pool);
        let in_window = now >= self.warmup && now < self.arrivals_end;
        let mut out = std::mem::take(&mut self.serve_scratch);
        let before = self.pools[pool].server.replicas().replica_load(r);
        self.pools[pool]
            .server
            .replicas()
            .boundary(r, now, in_window, &mut out);
        for h in &out {
            if let Happened::FirstToken { request } = *h {
                let q = self.requests[request as usize];
                let c = &mut self.classes[usize::from(q.class)];
                if let Some(t) = &mut c.tokens {
                    t.bucket_ttft.record(now - q.first_arrival);
                }
                if q.first_arrival >= self.warmup
                    && let Some(h) = &mut c.stats.ttft
                {
                    h.record(now - q.first_arrival);
                }
            }
        }
        // Take work: sequences of its own queue first, then the pool's.
        loop {
            let reps = self.pools[pool].server.replicas();
            if !reps.can_start(r) {
                break;
            }
            if let Some(seq) = reps.replicas[r].pending.pop_front() {
                if let Err(seq) = reps.admit(r, seq) {
                    reps.replicas[r].pending.push_front(seq);
                    break;
                }
                continue;
            }
            if r >= usable {
                break;
            }
            let Some(id) = self.take_for(pool, r, now) else {
                break;
            };
            self.requests[id as usize].state = State::InService;
            self.service_started(id, now);
            let [prompt, output] = self.requests.tokens(id);
            let reps = self.pools[pool].server.replicas();
            let seq = reps.sequence(id, prompt, output);
            if let Err(seq) = reps.admit(r, seq) {
                // Its KV blocks are not free yet: it waits at the front
                // of this replica's own queue.
                reps.replicas[r].pending.push_back(seq);
                break;
            }
        }
        if let Some(at) = self.pools[pool].server.replicas().plan(r, now) {
            self.schedule_replica(pool, r, at);
        }
        let reps = self.pools[pool].server.replicas();
        let after = reps.replica_load(r);
        reps.load_changed(now, before, after);
        reps.refresh_room(r);
        let busy = reps.stepping * reps.spec.gpus_per_replica;
        self.pools[pool].server.set_busy(busy);
        for h in out.drain(..) {
            if let Happened::Finished { seq } = h {
                let id = seq.request;
                let route = self.route_of(id);
                let q = self.requests[id as usize];
                let c = &mut self.classes[usize::from(q.class)];
                let Some(t) = &mut c.tokens else {
                    unreachable!("a sequence's class serves tokens")
                };
                let (ttft_target, tpot_target) = t.targets;
                let ttft = seq.first_token - q.first_arrival;
                let mut met = ttft_target.is_none_or(|b| ttft <= b);
                if seq.output > 1 {
                    let latency = (now - q.first_arrival).as_secs_f64();
                    let tpot = crate::engine::SimDuration::from_secs_f64(
                        (latency - ttft.as_secs_f64()) / f64::from(seq.output - 1),
                    );
                    met &= tpot_target.is_none_or(|b| tpot <= b);
                    t.bucket_tpot.record(tpot);
                    if q.first_arrival >= self.warmup
                        && let Some(h) = &mut c.stats.tpot
                    {
                        h.record(tpot);
                    }
                }
                // Goodput: window completions that met every target.
                let latency = now - q.first_arrival;
                if met
                    && now >= self.warmup
                    && now < self.arrivals_end
                    && c.latency_target.is_none_or(|b| latency <= b)
                {
                    t.good_in_window += 1;
                }
                debug_assert_eq!(route, Route::Pool(pool as u32));
                let has_targets = self.classes[usize::from(q.class)].has_targets;
                self.record_completion(pool, id, now, |target, latency| {
                    has_targets && met && target.is_none_or(|t| latency <= t)
                });
                self.release(route, id, now);
            }
        }
        self.serve_scratch = out;
        if self.pools[pool].server.routed().is_some() {
            self.wake_routed(pool, usable, now);
        }
        self.cover_waiting(pool, now);
        self.pool_levels(pool, now);
    }
}
