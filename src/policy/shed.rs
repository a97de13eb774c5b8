//! Admission control: shed load when the queue is too long.

use super::{Admission, Handle, PoolView, QueuePolicy, QueuedRequest};
use std::collections::VecDeque;

/// FIFO with admission control: an arriving request that finds no free GPU
/// is rejected (shed) when `max_queue` requests already wait, or when its
/// predicted wait ([`PoolView::predicted_wait_s`]) exceeds `max_wait_s`.
/// Only the classes in `sheddable` are shed (all when it is `None`): shed
/// free tiers before paid ones.
#[derive(Debug)]
pub struct Shed {
    queue: VecDeque<Handle>,
    max_queue: Option<u64>,
    max_wait_s: Option<f64>,
    sheddable: Option<Vec<bool>>,
}

impl Shed {
    /// Shed beyond `max_queue` waiting or `max_wait_s` of predicted wait;
    /// `sheddable[class]` limits shedding to some classes.
    pub fn new(
        max_queue: Option<u64>,
        max_wait_s: Option<f64>,
        sheddable: Option<Vec<bool>>,
    ) -> Self {
        Shed {
            queue: VecDeque::new(),
            max_queue,
            max_wait_s,
            sheddable,
        }
    }
}

impl QueuePolicy for Shed {
    fn name(&self) -> &str {
        "shed"
    }

    fn admit(&mut self, request: &QueuedRequest, pool: &PoolView) -> Admission {
        if pool.gpus_busy < pool.gpus_online {
            return Admission::Queue;
        }
        if let Some(s) = &self.sheddable
            && !s.get(request.class as usize).copied().unwrap_or(false)
        {
            return Admission::Queue;
        }
        let too_long = self.max_queue.is_some_and(|m| pool.waiting >= m);
        let too_slow = self.max_wait_s.is_some_and(|m| pool.predicted_wait_s() > m);
        if too_long || too_slow {
            Admission::Reject
        } else {
            Admission::Queue
        }
    }

    fn enqueue(&mut self, request: QueuedRequest, _pool: &PoolView) {
        self.queue.push_back(request.handle());
    }

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
    fn sheds_only_when_full_and_only_sheddable_classes() {
        let mut s = Shed::new(Some(2), None, Some(vec![true, false]));
        assert_eq!(
            s.admit(&req(0, 0, 0), &view(4, 3, 5)),
            Admission::Queue,
            "a GPU is free"
        );
        assert_eq!(s.admit(&req(0, 0, 0), &view(4, 4, 1)), Admission::Queue);
        assert_eq!(s.admit(&req(0, 0, 0), &view(4, 4, 2)), Admission::Reject);
        assert_eq!(
            s.admit(&req(0, 1, 0), &view(4, 4, 9)),
            Admission::Queue,
            "paid is never shed"
        );
    }

    #[test]
    fn sheds_on_predicted_wait() {
        let mut s = Shed::new(None, Some(2.0), None);
        // 1 GPU, mean service 1 s: 1 ahead → predicted 2 s; 2 ahead → 3 s.
        assert_eq!(s.admit(&req(0, 0, 0), &view(1, 1, 1)), Admission::Queue);
        assert_eq!(s.admit(&req(0, 0, 0), &view(1, 1, 2)), Admission::Reject);
    }
}
