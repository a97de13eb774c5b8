//! `--trace N`: the life of the first N measured requests of a
//! replication, for notebooks that want raw samples.
//!
//! Memory is bounded by N: a record per traced request, and a map from
//! request slot to record for those still in the system.

use crate::engine::SimTime;
use std::collections::HashMap;

/// How a traced request ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Served.
    Completed,
    /// Turned away by a rate limit or admission control (last attempt).
    Rejected,
    /// Patience ran out while waiting (last attempt).
    Abandoned,
    /// Lost to a GPU failure (last attempt).
    Failed,
    /// Still waiting, in service or backing off when the run ended.
    InSystem,
}

impl Outcome {
    /// The CSV spelling: `completed`, `rejected`, `abandoned`, `failed`,
    /// `in_system`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Completed => "completed",
            Outcome::Rejected => "rejected",
            Outcome::Abandoned => "abandoned",
            Outcome::Failed => "failed",
            Outcome::InSystem => "in_system",
        }
    }
}

/// One traced request.
#[derive(Clone, Debug, PartialEq)]
pub struct TraceRecord {
    /// 0-based number of the request among the replication's measured
    /// requests (first attempt at or after warm-up), in arrival order.
    pub id: u64,
    /// Class index in the scenario.
    pub class: usize,
    /// First attempt's arrival.
    pub arrival: SimTime,
    /// Start of service of the last attempt that started, if any.
    pub start: Option<SimTime>,
    /// When the final outcome happened; `None` if still in the system.
    pub end: Option<SimTime>,
    /// The final outcome.
    pub outcome: Outcome,
    /// Attempts made (1 + retries).
    pub attempts: u32,
}

/// Records the first `limit` measured requests.
#[derive(Debug, Default)]
pub(crate) struct Tracer {
    limit: usize,
    records: Vec<TraceRecord>,
    /// Request slot → record, for traced requests not yet finished.
    live: HashMap<u32, usize>,
}

impl Tracer {
    pub(crate) fn new(limit: u64) -> Self {
        Tracer {
            limit: usize::try_from(limit).unwrap_or(usize::MAX),
            records: Vec::new(),
            live: HashMap::new(),
        }
    }

    /// A measured request arrived in slot `slot`.
    #[inline]
    pub(crate) fn arrived(&mut self, slot: u32, class: usize, now: SimTime) {
        if self.records.len() < self.limit {
            self.live.insert(slot, self.records.len());
            self.records.push(TraceRecord {
                id: self.records.len() as u64,
                class,
                arrival: now,
                start: None,
                end: None,
                outcome: Outcome::InSystem,
                attempts: 1,
            });
        }
    }

    /// Whether some request is being traced now (a request that arrives
    /// later may be; one that arrived earlier and is not, never will be).
    #[inline]
    pub(crate) fn is_tracing(&self) -> bool {
        !self.live.is_empty()
    }

    /// The request in `slot` started service.
    #[inline]
    pub(crate) fn started(&mut self, slot: u32, now: SimTime) {
        if !self.live.is_empty()
            && let Some(&i) = self.live.get(&slot)
        {
            self.records[i].start = Some(now);
        }
    }

    /// The request in `slot` reached its final outcome.
    #[inline]
    pub(crate) fn finished(&mut self, slot: u32, now: SimTime, outcome: Outcome, attempts: u32) {
        if !self.live.is_empty()
            && let Some(i) = self.live.remove(&slot)
        {
            let r = &mut self.records[i];
            r.end = Some(now);
            r.outcome = outcome;
            r.attempts = attempts;
        }
    }

    /// The records, in id order; those still live get the attempts they
    /// have made so far.
    pub(crate) fn into_records(mut self, attempts: impl Fn(u32) -> u32) -> Vec<TraceRecord> {
        for (&slot, &i) in &self.live {
            self.records[i].attempts = attempts(slot);
        }
        self.records
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_first_n_and_follows_slots_until_they_finish() {
        let t = |s: u64| SimTime(s * 1_000_000_000);
        let mut tr = Tracer::new(2);
        tr.arrived(7, 0, t(1));
        tr.arrived(3, 1, t(2));
        tr.arrived(9, 0, t(3)); // beyond the limit
        tr.started(7, t(4));
        tr.started(9, t(4)); // not traced: ignored
        tr.finished(7, t(5), Outcome::Completed, 1);
        // Slot 7 is reused by an untraced request: nothing changes.
        tr.finished(7, t(6), Outcome::Rejected, 1);
        let records = tr.into_records(|_| 3);
        assert_eq!(records.len(), 2);
        assert_eq!(
            (records[0].start, records[0].end, records[0].outcome),
            (Some(t(4)), Some(t(5)), Outcome::Completed)
        );
        assert_eq!(
            (
                records[1].id,
                records[1].end,
                records[1].outcome,
                records[1].attempts
            ),
            (1, None, Outcome::InSystem, 3)
        );
    }
}
