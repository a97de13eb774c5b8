//! Live progress of running replications, for a progress bar: each
//! replication publishes its simulated time and its event count every
//! 65,536 events, through atomics that another thread reads. Publishing
//! never changes what is simulated.

use crate::engine::SimDuration;
use std::sync::atomic::{AtomicU64, Ordering};

/// Events between two publications of a replication's progress.
pub(crate) const PUBLISH_EVERY: u64 = 1 << 16;

/// The progress of every replication of one scenario.
#[derive(Debug, Default)]
pub struct Progress {
    slots: Vec<Slot>,
}

/// One replication's progress.
#[derive(Debug, Default)]
pub(crate) struct Slot {
    simulated_ns: AtomicU64,
    events: AtomicU64,
    done: AtomicU64,
}

impl Slot {
    pub(crate) fn publish(&self, simulated_ns: u64, events: u64) {
        self.simulated_ns.store(simulated_ns, Ordering::Relaxed);
        self.events.store(events, Ordering::Relaxed);
    }

    pub(crate) fn finish(&self, simulated_ns: u64, events: u64) {
        self.publish(simulated_ns, events);
        self.done.store(1, Ordering::Release);
    }
}

impl Progress {
    /// Progress of `replications` replications, none started.
    pub fn new(replications: u32) -> Self {
        Progress {
            slots: (0..replications).map(|_| Slot::default()).collect(),
        }
    }

    pub(crate) fn slot(&self, replication: u32) -> Option<&Slot> {
        self.slots.get(replication as usize)
    }

    /// Simulated time of each replication so far, each capped at `cap`,
    /// summed.
    pub fn simulated(&self, cap: SimDuration) -> SimDuration {
        SimDuration(
            self.slots
                .iter()
                .map(|s| s.simulated_ns.load(Ordering::Relaxed).min(cap.0))
                .sum(),
        )
    }

    /// Events processed so far, over every replication.
    pub fn events(&self) -> u64 {
        self.slots
            .iter()
            .map(|s| s.events.load(Ordering::Relaxed))
            .sum()
    }

    /// Replications finished.
    pub fn finished(&self) -> usize {
        self.slots
            .iter()
            .filter(|s| s.done.load(Ordering::Acquire) == 1)
            .count()
    }
}
