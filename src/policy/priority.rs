//! Strict, non-preemptive priority by class.

use super::{Handle, PoolView, QueuePolicy, QueuedRequest};
use std::collections::VecDeque;

/// Strict non-preemptive priority: a free GPU takes the oldest request of
/// the most urgent (lowest-numbered) priority level that has one; requests
/// in service are never interrupted. FIFO within a level.
#[derive(Debug, Default)]
pub struct Priority {
    /// (priority, queue), sorted by priority.
    levels: Vec<(i32, VecDeque<Handle>)>,
    len: usize,
}

impl Priority {
    /// An empty priority queue.
    pub fn new() -> Self {
        Self::default()
    }
}

impl QueuePolicy for Priority {
    fn name(&self) -> &str {
        "priority"
    }

    fn enqueue(&mut self, request: QueuedRequest, _pool: &PoolView) {
        let i = match self
            .levels
            .binary_search_by_key(&request.priority, |(p, _)| *p)
        {
            Ok(i) => i,
            Err(i) => {
                self.levels.insert(i, (request.priority, VecDeque::new()));
                i
            }
        };
        self.levels[i].1.push_back(request.handle());
        self.len += 1;
    }

    fn dequeue(&mut self, _pool: &PoolView) -> Option<Handle> {
        let level = self.levels.iter_mut().find(|(_, q)| !q.is_empty())?;
        self.len -= 1;
        level.1.pop_front()
    }

    fn len(&self) -> usize {
        self.len
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{req, view};
    use super::*;

    #[test]
    fn lower_priority_numbers_go_first_fifo_within() {
        let mut q = Priority::new();
        let v = view(1, 1, 0);
        for (id, p) in [(0, 2), (1, 1), (2, 2), (3, 1), (4, 0)] {
            q.enqueue(req(id, 0, p), &v);
        }
        let ids: Vec<u32> = std::iter::from_fn(|| q.dequeue(&v).map(|r| r.id)).collect();
        assert_eq!(ids, vec![4, 1, 3, 0, 2]);
    }
}
