//! First come, first served.

use super::{QueuePolicy, QueuedRequest};
use crate::engine::SimTime;
use std::collections::VecDeque;

/// First come, first served: requests start in arrival order.
#[derive(Debug, Default)]
pub struct Fifo {
    queue: VecDeque<QueuedRequest>,
}

impl Fifo {
    /// An empty FIFO queue.
    pub fn new() -> Self {
        Self::default()
    }
}

impl QueuePolicy for Fifo {
    fn name(&self) -> &str {
        "fifo"
    }

    #[inline]
    fn enqueue(&mut self, request: QueuedRequest, _now: SimTime) {
        self.queue.push_back(request);
    }

    #[inline]
    fn dequeue(&mut self, _now: SimTime) -> Option<QueuedRequest> {
        self.queue.pop_front()
    }

    fn len(&self) -> usize {
        self.queue.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::SimDuration;

    #[test]
    fn serves_in_arrival_order() {
        let mut q = Fifo::new();
        for id in 0..3 {
            let r = QueuedRequest {
                id,
                class: 0,
                arrival: SimTime(u64::from(id)),
                service: SimDuration(1),
                ticket: 0,
            };
            q.enqueue(r, SimTime(u64::from(id)));
        }
        let ids: Vec<u32> = std::iter::from_fn(|| q.dequeue(SimTime(9)).map(|r| r.id)).collect();
        assert_eq!(ids, vec![0, 1, 2]);
        assert!(q.is_empty());
    }
}
