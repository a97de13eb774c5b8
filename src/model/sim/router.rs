//! Routing at arrival for serving pools with a router: a replica is
//! chosen when a request arrives, and each replica keeps its own first
//! come, first served queue of the requests routed to it.
//!
//! Queues hold (request, ticket) handles and drop the ones of abandoned
//! attempts lazily, as the pools' policy queues do; each replica's count
//! of live queued requests is exact, since the router's loads use it.

use crate::engine::{SimDuration, SimTime};
use crate::model::RouterKind;
use crate::model::dist::unit;
use crate::rng::SimRng;
use std::collections::VecDeque;

/// A serving pool's router and its replicas' queues.
pub(super) struct RouterState {
    pub(super) chooser: Chooser,
    /// Each replica's queue of (request, ticket) handles.
    pub(super) queues: Vec<VecDeque<(u32, u32)>>,
    /// Live requests in each replica's queue.
    pub(super) queued: Vec<u32>,
    /// The replica each routed request waits for, by request id.
    assigned: Vec<u32>,
    /// Replicas routed to since the pool last dispatched.
    pub(super) woken: Vec<u32>,
}

/// How the router picks a replica.
pub(super) struct Chooser {
    kind: RouterKind,
    refresh: Option<SimDuration>,
    rng: SimRng,
    /// The next replica in turn (round robin).
    next: usize,
    /// The loads as the router last saw them (stale information), and
    /// when it looks again.
    seen: Vec<(u32, u64)>,
    look_again: SimTime,
}

impl RouterState {
    pub(super) fn new(kind: RouterKind, refresh: Option<SimDuration>, rng: SimRng) -> Self {
        RouterState {
            chooser: Chooser {
                kind,
                refresh,
                rng,
                next: 0,
                seen: Vec::new(),
                look_again: SimTime::ZERO,
            },
            queues: Vec::new(),
            queued: Vec::new(),
            assigned: Vec::new(),
            woken: Vec::new(),
        }
    }

    /// Room for `n` replicas' queues.
    pub(super) fn ensure(&mut self, n: usize) {
        while self.queues.len() < n {
            self.queues.push(VecDeque::new());
            self.queued.push(0);
        }
    }

    /// Request `id` (ticket `ticket`) waits for replica `r`.
    pub(super) fn push(&mut self, r: usize, id: u32, ticket: u32) {
        self.queues[r].push_back((id, ticket));
        self.queued[r] += 1;
        if self.assigned.len() <= id as usize {
            self.assigned.resize(id as usize + 1, 0);
        }
        self.assigned[id as usize] = r as u32;
        self.woken.push(r as u32);
    }

    /// A routed request `id` stopped waiting (it gave up).
    pub(super) fn forget(&mut self, id: u32) {
        let r = self.assigned[id as usize] as usize;
        self.queued[r] -= 1;
    }
}

impl Chooser {
    /// Choose one of the first `usable` replicas (at least one) for a
    /// request arriving at `now`; `load(r)` is replica r's (outstanding
    /// requests, KV blocks) now, its queue included.
    pub(super) fn choose(
        &mut self,
        now: SimTime,
        usable: usize,
        load: impl Fn(usize) -> (u32, u64),
    ) -> usize {
        debug_assert!(usable > 0);
        let by_load = !matches!(self.kind, RouterKind::RoundRobin | RouterKind::Random);
        let stale = self.refresh.filter(|_| by_load);
        if let Some(every) = stale
            && (now >= self.look_again || self.seen.len() < usable)
        {
            self.seen.clear();
            self.seen.extend((0..usable).map(&load));
            self.look_again = now + every;
        }
        let seen = &self.seen;
        let get = |r: usize| if stale.is_some() { seen[r] } else { load(r) };
        match self.kind {
            RouterKind::RoundRobin => {
                let r = self.next % usable;
                self.next = r + 1;
                r
            }
            RouterKind::Random => pick(&mut self.rng, usable),
            RouterKind::LeastOutstanding => argmin(usable, |r| (u64::from(get(r).0), 0)),
            RouterKind::LeastKv => argmin(usable, |r| {
                let (n, kv) = get(r);
                (kv, u64::from(n))
            }),
            RouterKind::PowerOfTwo => {
                let (a, b) = two(&mut self.rng, usable);
                if get(b).0 < get(a).0 { b } else { a }
            }
        }
    }
}

/// The replica with the least key among the first `n` (the lowest index
/// among equals).
fn argmin(n: usize, key: impl Fn(usize) -> (u64, u64)) -> usize {
    let mut best = 0;
    let mut k = key(0);
    for r in 1..n {
        let kr = key(r);
        if kr < k {
            best = r;
            k = kr;
        }
    }
    best
}

/// One of `n` replicas, uniformly.
fn pick(rng: &mut SimRng, n: usize) -> usize {
    ((unit(rng) * n as f64) as usize).min(n - 1)
}

/// Two distinct replicas of `n` drawn uniformly (the same one when n = 1).
fn two(rng: &mut SimRng, n: usize) -> (usize, usize) {
    let a = pick(rng, n);
    if n == 1 {
        return (a, a);
    }
    let b = pick(rng, n - 1);
    (a, if b >= a { b + 1 } else { b })
}
