//! Queue disciplines: which waiting request a free GPU serves next.
//!
//! Every discipline implements [`QueuePolicy`]; the simulation calls it
//! through one virtual call per queue operation. A policy only orders
//! requests: it owns no clocks and no random streams, so its decisions are a
//! pure function of what it has been shown.

mod fifo;

pub use fifo::Fifo;

use crate::engine::{SimDuration, SimTime};

/// What a policy sees of a waiting request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueuedRequest {
    /// Identifier of the request in the simulation (opaque to the policy).
    pub id: u32,
    /// Index of the request's class in the scenario.
    pub class: u32,
    /// When the request arrived.
    pub arrival: SimTime,
    /// Its service time on this pool (already divided by the pool's speed).
    pub service: SimDuration,
    /// Opaque to the policy: returned unchanged by `dequeue`, it lets the
    /// simulation recognise entries of attempts that were abandoned.
    pub ticket: u32,
}

/// A queue discipline for one pool.
///
/// The simulation deletes lazily: when a waiting request abandons, its
/// entry stays in the policy's queue and is skipped when dequeued. `len`
/// may therefore count such entries; the simulation keeps its own count of
/// live waiting requests for statistics.
pub trait QueuePolicy: Send {
    /// The discipline's name, as in scenario files.
    fn name(&self) -> &str;
    /// A request joins the queue at time `now`.
    fn enqueue(&mut self, request: QueuedRequest, now: SimTime);
    /// A GPU is free at `now`: the request it should serve, if any waits.
    fn dequeue(&mut self, now: SimTime) -> Option<QueuedRequest>;
    /// Number of requests waiting.
    fn len(&self) -> usize;
    /// Whether no request waits.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
