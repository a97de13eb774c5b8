//! Deferral of free-tier load to an asynchronous queue at peak.

use super::{Admission, Handle, PoolView, QueuePolicy, QueuedRequest};
use std::collections::VecDeque;

/// The fix a real image-generation launch used at peak: when the predicted
/// wait of an arriving request of a *deferrable* class exceeds `threshold_s`,
/// it goes to an asynchronous deferred queue instead (its user is told "we
/// will notify you", and it takes its class's deferred patience).
///
/// Regular requests are served first, FIFO. Deferred requests are served
/// FIFO when no regular request waits, or at any time by the `reserved`
/// share of the online GPUs (at most ⌊reserved × online⌋ GPUs serve
/// deferred requests while regular ones wait), so deferred work always
/// progresses when a share is reserved.
#[derive(Debug)]
pub struct Deferral {
    regular: VecDeque<Handle>,
    deferred: VecDeque<Handle>,
    threshold_s: f64,
    reserved: f64,
    deferrable: Vec<bool>,
}

impl Deferral {
    /// Defer deferrable classes beyond `threshold_s` of predicted wait;
    /// reserve a `reserved` share of GPUs (0 to 1) for deferred work.
    pub fn new(threshold_s: f64, reserved: f64, deferrable: Vec<bool>) -> Self {
        Deferral {
            regular: VecDeque::new(),
            deferred: VecDeque::new(),
            threshold_s,
            reserved,
            deferrable,
        }
    }
}

impl QueuePolicy for Deferral {
    fn name(&self) -> &str {
        "deferral"
    }

    fn admit(&mut self, request: &QueuedRequest, pool: &PoolView) -> Admission {
        let deferrable = self
            .deferrable
            .get(request.class as usize)
            .copied()
            .unwrap_or(false);
        if deferrable && pool.predicted_wait_s() > self.threshold_s {
            Admission::Defer
        } else {
            Admission::Queue
        }
    }

    fn enqueue(&mut self, request: QueuedRequest, _pool: &PoolView) {
        if request.deferred {
            self.deferred.push_back(request.handle());
        } else {
            self.regular.push_back(request.handle());
        }
    }

    fn dequeue(&mut self, pool: &PoolView) -> Option<Handle> {
        let reserved_gpus = (self.reserved * f64::from(pool.gpus_online)).floor() as u32;
        if pool.gpus_busy_deferred < reserved_gpus && !self.deferred.is_empty() {
            return self.deferred.pop_front();
        }
        self.regular
            .pop_front()
            .or_else(|| self.deferred.pop_front())
    }

    fn len(&self) -> usize {
        self.regular.len() + self.deferred.len()
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{req, view};
    use super::*;

    #[test]
    fn defers_only_deferrable_classes_beyond_the_threshold() {
        let mut d = Deferral::new(5.0, 0.0, vec![true, false]);
        // 2 GPUs busy, 20 waiting, 1 s each: predicted 10.5 s.
        assert_eq!(d.admit(&req(0, 0, 0), &view(2, 2, 20)), Admission::Defer);
        assert_eq!(d.admit(&req(0, 1, 0), &view(2, 2, 20)), Admission::Queue);
        assert_eq!(d.admit(&req(0, 0, 0), &view(2, 2, 2)), Admission::Queue);
    }

    #[test]
    fn deferred_work_waits_for_spare_capacity_or_its_reserved_share() {
        let mut d = Deferral::new(0.0, 0.25, vec![true]);
        let mut late = req(1, 0, 0);
        late.deferred = true;
        d.enqueue(late, &view(4, 4, 0));
        d.enqueue(req(2, 0, 0), &view(4, 4, 0));
        // One of 4 GPUs is reserved and none serves deferred work yet.
        let mut v = view(4, 3, 2);
        assert_eq!(d.dequeue(&v).unwrap().id, 1);
        v.gpus_busy_deferred = 1;
        assert_eq!(d.dequeue(&v).unwrap().id, 2);
    }
}
