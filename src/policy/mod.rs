//! Queue disciplines: which waiting request a free GPU serves next, and
//! whether an arriving request joins the queue, is deferred, or is shed.
//!
//! Every discipline implements [`QueuePolicy`]; the simulation calls FIFO
//! and priority directly (inlined) and every other one, custom ones
//! included, through one virtual call per queue operation. A policy only
//! orders and admits requests: it owns no clocks and no random streams, so
//! its decisions are a pure function of what it has been shown.
//!
//! A policy is shown each request in full ([`QueuedRequest`]) when it
//! arrives, and keeps what it needs to order it; `dequeue` hands back only
//! the request's [`Handle`] (8 bytes), so a queue of millions of waiting
//! requests costs 8 bytes each in the policy. The built-in policies keep
//! nothing else.
//!
//! Deletion is lazy: when a waiting request abandons, its entry stays in the
//! policy's queue, and the simulation skips it when it comes out of
//! `dequeue`. [`QueuePolicy::len`] may therefore count such entries; the
//! simulation keeps its own count of live waiting requests for statistics
//! and for [`PoolView::waiting`].

mod deferral;
mod fair;
mod fifo;
mod priority;
mod shed;

pub use deferral::Deferral;
pub use fair::Fair;
pub use fifo::Fifo;
pub use priority::Priority;
pub use shed::Shed;

use crate::engine::{SimDuration, SimTime};

/// What a policy sees of a waiting request.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct QueuedRequest {
    /// Identifier of the request in the simulation (opaque to the policy).
    pub id: u32,
    /// Index of the request's class in the scenario.
    pub class: u32,
    /// The class's priority (lower is served first by `priority`).
    pub priority: i32,
    /// When the request first arrived (its first attempt).
    pub arrival: SimTime,
    /// Which attempt this is (1 for the first).
    pub attempt: u32,
    /// Its service time on this pool (already divided by the pool's speed).
    pub service: SimDuration,
    /// Whether the request was deferred to the asynchronous queue.
    pub deferred: bool,
    /// Opaque to the policy: returned unchanged by `dequeue` (inside the
    /// [`Handle`]), it lets the simulation recognise entries of attempts
    /// that were abandoned.
    pub ticket: u32,
}

impl QueuedRequest {
    /// What the policy stores for this request and returns from `dequeue`.
    #[inline]
    pub fn handle(&self) -> Handle {
        Handle {
            id: self.id,
            ticket: self.ticket,
        }
    }
}

/// A waiting request as a policy stores it: 8 bytes, returned unchanged by
/// [`QueuePolicy::dequeue`]. The simulation looks the request up by it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Handle {
    /// Identifier of the request in the simulation (as [`QueuedRequest::id`]).
    pub id: u32,
    /// As [`QueuedRequest::ticket`]: opaque to the policy.
    pub ticket: u32,
}

/// The state of the pool, as a policy sees it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PoolView {
    /// The current time.
    pub now: SimTime,
    /// GPUs online (able to take work).
    pub gpus_online: u32,
    /// GPUs serving a request.
    pub gpus_busy: u32,
    /// Of those, serving a deferred request.
    pub gpus_busy_deferred: u32,
    /// Live requests waiting (regular and deferred).
    pub waiting: u64,
    /// Of those, deferred.
    pub waiting_deferred: u64,
    /// Running estimate of the mean service time on this pool, seconds: an
    /// exponentially weighted average of completed services (weight 1/64),
    /// started at the scenario's demand-weighted mean.
    pub mean_service_s: f64,
}

impl PoolView {
    /// Predicted wait of a request joining the regular queue now: zero if a
    /// GPU is free, else (regular requests ahead + 1) × mean service ÷
    /// online GPUs — the queue ahead divided by the pool's service rate.
    pub fn predicted_wait_s(&self) -> f64 {
        if self.gpus_busy < self.gpus_online {
            return 0.0;
        }
        let ahead = (self.waiting - self.waiting_deferred) as f64 + 1.0;
        ahead * self.mean_service_s / f64::from(self.gpus_online.max(1))
    }
}

/// What happens to an arriving request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    /// It joins the queue.
    Queue,
    /// It joins the deferred (asynchronous) queue.
    Defer,
    /// It is shed (rejected by admission control).
    Reject,
}

/// A queue discipline for one pool.
pub trait QueuePolicy: Send {
    /// The discipline's name, as in scenario files.
    fn name(&self) -> &str;
    /// Admission control for an arriving request (before `enqueue`).
    fn admit(&mut self, _request: &QueuedRequest, _pool: &PoolView) -> Admission {
        Admission::Queue
    }
    /// A request joins the queue (`request.deferred` says which). Store
    /// `request.handle()` and whatever the ordering needs.
    fn enqueue(&mut self, request: QueuedRequest, pool: &PoolView);
    /// A GPU is free: the handle of the request it should serve, if any waits.
    fn dequeue(&mut self, pool: &PoolView) -> Option<Handle>;
    /// A request returned by `dequeue` started service (it was live); the
    /// simulation shows it in full again.
    fn started(&mut self, _request: &QueuedRequest, _pool: &PoolView) {}
    /// Number of entries held (may include abandoned ones).
    fn len(&self) -> usize;
    /// Whether no entry is held.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_handle_is_eight_bytes() {
        // A policy's queue of N waiting requests costs 8N bytes.
        assert_eq!(std::mem::size_of::<Handle>(), 8);
        assert_eq!(QueuedRequest::handle(&test_util::req(7, 1, 0)).id, 7);
    }
}

#[cfg(test)]
pub(crate) mod test_util {
    use super::*;

    pub fn req(id: u32, class: u32, priority: i32) -> QueuedRequest {
        QueuedRequest {
            id,
            class,
            priority,
            arrival: SimTime(u64::from(id)),
            attempt: 1,
            service: SimDuration::from_secs(1),
            deferred: false,
            ticket: 0,
        }
    }

    pub fn view(online: u32, busy: u32, waiting: u64) -> PoolView {
        PoolView {
            now: SimTime::ZERO,
            gpus_online: online,
            gpus_busy: busy,
            gpus_busy_deferred: 0,
            waiting,
            waiting_deferred: 0,
            mean_service_s: 1.0,
        }
    }
}
