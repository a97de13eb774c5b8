//! Weighted fair sharing of GPU time between classes.

use super::{Handle, PoolView, QueuePolicy, QueuedRequest};
use std::collections::VecDeque;

/// Weighted fair queueing of GPU time (start-time fair queueing over
/// classes): each class keeps a FIFO queue and a *virtual time*, the
/// GPU-seconds it has been given divided by its weight. A free GPU serves
/// the backlogged class with the least virtual time (ties: lowest class
/// index). A class that was idle rejoins at the least virtual time of the
/// backlogged classes, so it cannot hoard credit while idle.
///
/// It is work-conserving (a GPU never idles while any request waits); under
/// overload each class gets a share of GPU time proportional to its weight,
/// and with light load it behaves like FIFO across classes.
#[derive(Debug)]
pub struct Fair {
    weights: Vec<f64>,
    queues: Vec<VecDeque<Handle>>,
    virtual_time: Vec<f64>,
    len: usize,
}

impl Fair {
    /// Weights by class index (classes not on this pool may have any weight).
    pub fn new(weights: Vec<f64>) -> Self {
        let n = weights.len();
        Fair {
            weights,
            queues: vec![VecDeque::new(); n],
            virtual_time: vec![0.0; n],
            len: 0,
        }
    }

    fn min_backlogged_vt(&self) -> Option<f64> {
        self.queues
            .iter()
            .zip(&self.virtual_time)
            .filter(|(q, _)| !q.is_empty())
            .map(|(_, vt)| *vt)
            .reduce(f64::min)
    }
}

impl QueuePolicy for Fair {
    fn name(&self) -> &str {
        "fair"
    }

    fn enqueue(&mut self, request: QueuedRequest, _pool: &PoolView) {
        let c = request.class as usize;
        if self.queues[c].is_empty()
            && let Some(min) = self.min_backlogged_vt()
        {
            self.virtual_time[c] = self.virtual_time[c].max(min);
        }
        self.queues[c].push_back(request.handle());
        self.len += 1;
    }

    fn dequeue(&mut self, _pool: &PoolView) -> Option<Handle> {
        let mut best: Option<usize> = None;
        for (c, q) in self.queues.iter().enumerate() {
            if !q.is_empty() && best.is_none_or(|b| self.virtual_time[c] < self.virtual_time[b]) {
                best = Some(c);
            }
        }
        let c = best?;
        self.len -= 1;
        self.queues[c].pop_front()
    }

    fn started(&mut self, request: &QueuedRequest, _pool: &PoolView) {
        let c = request.class as usize;
        self.virtual_time[c] += request.service.as_secs_f64() / self.weights[c];
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
    fn backlogged_classes_share_by_weight() {
        let mut q = Fair::new(vec![3.0, 1.0]);
        let v = view(1, 1, 0);
        for id in 0..40 {
            q.enqueue(req(id, id % 2, 0), &v);
        }
        let mut served = [0; 2];
        for _ in 0..20 {
            let h = q.dequeue(&v).unwrap();
            let r = req(h.id, h.id % 2, 0);
            q.started(&r, &v);
            served[r.class as usize] += 1;
        }
        assert_eq!(served, [15, 5]);
    }

    #[test]
    fn idle_class_does_not_hoard_credit() {
        let mut q = Fair::new(vec![1.0, 1.0]);
        let v = view(1, 1, 0);
        for id in 0..10 {
            q.enqueue(req(id, 0, 0), &v);
            let h = q.dequeue(&v).unwrap();
            q.started(&req(h.id, 0, 0), &v);
        }
        q.enqueue(req(100, 0, 0), &v);
        q.enqueue(req(101, 1, 0), &v);
        q.enqueue(req(102, 1, 0), &v);
        // Class 1 rejoins at class 0's virtual time: they alternate.
        let class = |id: u32| u32::from(id > 100);
        let first = q.dequeue(&v).unwrap();
        q.started(&req(first.id, class(first.id), 0), &v);
        let second = q.dequeue(&v).unwrap();
        assert_ne!(class(first.id), class(second.id));
    }
}
