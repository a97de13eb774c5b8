//! First come, first served.

use super::{Handle, PoolView, QueuePolicy, QueuedRequest};
use std::collections::VecDeque;

/// First come, first served: requests start in the order they joined.
#[derive(Debug, Default)]
pub struct Fifo {
    queue: VecDeque<Handle>,
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
    fn enqueue(&mut self, request: QueuedRequest, _pool: &PoolView) {
        self.queue.push_back(request.handle());
    }

    #[inline]
    fn dequeue(&mut self, _pool: &PoolView) -> Option<Handle> {
        self.queue.pop_front()
    }

    fn len(&self) -> usize {
        self.queue.len()
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{req, view};
    use super::*;

    #[test]
    fn serves_in_arrival_order() {
        let mut q = Fifo::new();
        let v = view(1, 1, 0);
        for id in 0..3 {
            q.enqueue(req(id, id % 2, 0), &v);
        }
        let ids: Vec<u32> = std::iter::from_fn(|| q.dequeue(&v).map(|r| r.id)).collect();
        assert_eq!(ids, vec![0, 1, 2]);
        assert!(q.is_empty());
    }
}
