//! Requests in the system: a slab of 24-byte records indexed by `u32`,
//! with the fields only some scenarios need kept beside it.
//!
//! A waiting request costs its record here and its 8-byte handle in the
//! pool's queue policy: 32 bytes in all. The attempt number (scenarios that
//! retry), the user and their session (scenarios with populations) and the
//! slot in the pool's in-service list (pools with failures) live in one
//! 16-byte side column that stays empty when the scenario needs none.

use crate::engine::{SimDuration, SimTime, prefetch};
use crate::policy::{Handle, QueuedRequest};
use std::ops::{Index, IndexMut};

/// Where a request is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum State {
    /// The slot holds no request.
    Free,
    /// In its pool's queue. `counted`: counted in its class's queue length,
    /// set only once it is known not to start at once, so a request served
    /// on arrival never shows as queued.
    Waiting {
        counted: bool,
    },
    InService,
    /// Between attempts (or not yet submitted).
    Backoff,
}

/// One request in the system.
#[derive(Clone, Copy, Debug)]
pub(super) struct Request {
    pub(super) first_arrival: SimTime,
    /// Its service time on its pool (already divided by the pool's speed).
    pub(super) service: SimDuration,
    /// Bumped whenever the request is queued again or its slot reused, so
    /// that queue entries and timers of an older attempt are recognised.
    pub(super) generation: u32,
    pub(super) class: u16,
    pub(super) state: State,
    pub(super) deferred: bool,
}

const _: () = assert!(std::mem::size_of::<Request>() == 24);

impl Request {
    /// A request of `class` that arrived at `now` (not yet submitted).
    pub(super) fn new(class: usize, now: SimTime, service: SimDuration) -> Self {
        Request {
            first_arrival: now,
            service,
            generation: 0,
            // The loader refuses more classes than a u16 numbers.
            class: class as u16,
            state: State::Backoff,
            deferred: false,
        }
    }

    #[inline]
    pub(super) fn is_waiting(&self) -> bool {
        matches!(self.state, State::Waiting { .. })
    }
}

/// What some scenarios need of a request besides its record, kept in one
/// side column so that a request touched costs at most two cache lines.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Extra {
    /// Which attempt this is (1 for the first).
    attempt: u32,
    /// The user who sent it ([`NO_USER`] for a class's own arrivals).
    user: u32,
    /// Requests the user still has to send in this session after this one.
    remaining: u32,
    /// Index in the pool's in-service list (pools with failures).
    slot: u32,
}

/// In [`Extra::user`]: no user (a class's own arrival); the slab's
/// methods say it as `None`.
const NO_USER: u32 = u32::MAX;

/// The slab: records, freed slots to reuse, and the optional side column
/// (either empty or as long as `records`).
pub(super) struct RequestSlab {
    records: Vec<Request>,
    free: Vec<u32>,
    /// Kept when some class retries, the scenario has populations or a
    /// pool fails (else every request is a first attempt of no user).
    extra: Option<Vec<Extra>>,
    /// Prompt and output tokens of each request (scenarios with serving
    /// pools; 0 for requests of other classes).
    tokens: Option<Vec<[u32; 2]>>,
}

impl RequestSlab {
    pub(super) fn new(keep_extra: bool, keep_tokens: bool) -> Self {
        RequestSlab {
            records: Vec::new(),
            free: Vec::new(),
            extra: keep_extra.then(Vec::new),
            tokens: keep_tokens.then(Vec::new),
        }
    }

    /// Request `id`'s prompt and output tokens.
    #[inline]
    pub(super) fn tokens(&self, id: u32) -> [u32; 2] {
        self.tokens.as_ref().map_or([0, 0], |t| t[id as usize])
    }

    /// Set request `id`'s prompt and output tokens.
    #[inline]
    pub(super) fn set_tokens(&mut self, id: u32, tokens: [u32; 2]) {
        if let Some(t) = &mut self.tokens {
            t[id as usize] = tokens;
        }
    }

    /// Store a new request (first attempt) sent by `user` (a user and the
    /// requests they have left to send in this session), if any; its id.
    #[inline(always)]
    pub(super) fn insert(&mut self, request: Request, user: Option<(u32, u32)>) -> u32 {
        let (user, remaining) = user.unwrap_or((NO_USER, 0));
        let id = match self.free.pop() {
            Some(id) => {
                let i = id as usize;
                let generation = self.records[i].generation.wrapping_add(1);
                self.records[i] = Request {
                    generation,
                    ..request
                };
                id
            }
            None => {
                self.records.push(request);
                if let Some(x) = &mut self.extra {
                    x.push(Extra::default());
                }
                if let Some(t) = &mut self.tokens {
                    t.push([0, 0]);
                }
                (self.records.len() - 1) as u32
            }
        };
        if let Some(x) = &mut self.extra {
            x[id as usize] = Extra {
                attempt: 1,
                user,
                remaining,
                slot: 0,
            };
        }
        id
    }

    /// Slots in the slab, live or free.
    #[inline]
    pub(super) fn slots(&self) -> usize {
        self.records.len()
    }

    /// Free the slot of request `id` (its final outcome is recorded).
    #[inline(always)]
    pub(super) fn remove(&mut self, id: u32) {
        self.records[id as usize].state = State::Free;
        self.free.push(id);
    }

    /// Start fetching request `id`'s record (and side record) into the cache.
    #[inline]
    pub(super) fn prefetch(&self, id: u32) {
        if let Some(r) = self.records.get(id as usize) {
            prefetch(r);
        }
        if let Some(x) = self.extra.as_ref().and_then(|x| x.get(id as usize)) {
            prefetch(x);
        }
    }

    #[inline]
    pub(super) fn attempt(&self, id: u32) -> u32 {
        self.extra.as_ref().map_or(1, |x| x[id as usize].attempt)
    }

    /// Count one more attempt of request `id`.
    pub(super) fn next_attempt(&mut self, id: u32) {
        let x = self
            .extra
            .as_mut()
            .expect("only scenarios that retry schedule a retry");
        x[id as usize].attempt += 1;
    }

    /// The user of request `id` and what is left of the user's session
    /// (`None`: a class's own arrival).
    #[inline]
    pub(super) fn user(&self, id: u32) -> Option<(u32, u32)> {
        let x = &self.extra.as_ref()?[id as usize];
        (x.user != NO_USER).then_some((x.user, x.remaining))
    }

    #[inline]
    pub(super) fn slot(&self, id: u32) -> u32 {
        self.extra.as_ref().map_or(0, |x| x[id as usize].slot)
    }

    #[inline]
    pub(super) fn set_slot(&mut self, id: u32, slot: u32) {
        if let Some(x) = &mut self.extra {
            x[id as usize].slot = slot;
        }
    }

    /// Every slot, free or not.
    pub(super) fn records(&self) -> &[Request] {
        &self.records
    }

    /// Request `h.id` as its pool's policy sees it (`priority`: its class's).
    #[inline]
    pub(super) fn queued(&self, h: Handle, priority: i32) -> QueuedRequest {
        let r = &self.records[h.id as usize];
        QueuedRequest {
            id: h.id,
            class: u32::from(r.class),
            priority,
            arrival: r.first_arrival,
            attempt: self.attempt(h.id),
            service: r.service,
            deferred: r.deferred,
            ticket: h.ticket,
        }
    }
}

impl Index<usize> for RequestSlab {
    type Output = Request;
    #[inline]
    fn index(&self, i: usize) -> &Request {
        &self.records[i]
    }
}

impl IndexMut<usize> for RequestSlab {
    #[inline]
    fn index_mut(&mut self, i: usize) -> &mut Request {
        &mut self.records[i]
    }
}
