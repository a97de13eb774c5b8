//! Statistics of workflow stages: per (class, stage) the visits' outcomes,
//! waits and service times over the run, and their counts per time bucket;
//! at the end, the stage results with the visits still live.

use super::slab::State;
use super::{Route, Sim};
use crate::engine::{SimDuration, SimTime};
use crate::metrics::DurationHistogram;
use crate::model::workflow::StageWork;
use crate::model::{StageResult, StageSeriesRow};
use crate::rng::SimRng;

/// A stage's running state, per class.
pub(super) struct StageState {
    pub(super) service_rng: SimRng,
    pub(super) retry_rng: SimRng,
    pub(super) stats: StageStats,
    pub(super) bucket: StageTally,
}

/// A stage's counts in the current time bucket (of every visit, warm-up
/// and drain included, as the time series covers the whole run).
#[derive(Default)]
pub(super) struct StageTally {
    pub(super) arrivals: u64,
    pub(super) started: u64,
    pub(super) wait_nanos: u128,
    pub(super) completed: u64,
    pub(super) service_nanos: u128,
}

impl StageTally {
    /// The bucket's row, and a fresh tally.
    pub(super) fn close(
        &mut self,
        start: SimTime,
        width: SimDuration,
        class: usize,
        stage: usize,
    ) -> StageSeriesRow {
        let t = std::mem::take(self);
        let mean = |nanos: u128, n: u64| (n > 0).then(|| nanos as f64 / n as f64 / 1e9);
        StageSeriesRow {
            start,
            width,
            class,
            stage,
            arrivals: t.arrivals,
            started: t.started,
            completed: t.completed,
            wait_mean_s: mean(t.wait_nanos, t.started),
            service_mean_s: mean(t.service_nanos, t.completed),
        }
    }
}

/// Significant digits of the stage histograms: 2 (a quantile within
/// 1/128 ≈ 0.8%, as the time series' buckets). Each stage visit records
/// two of them, and with five stages for two classes their cells no longer
/// fit in the cache at 3 digits (8 KiB per power of two each, against
/// 1 KiB at 2).
const STAGE_SIGFIG: u8 = 2;

pub(super) struct StageStats {
    pub(super) arrivals: u64,
    pub(super) attempts: u64,
    pub(super) completed: u64,
    pub(super) rejected: u64,
    pub(super) timed_out: u64,
    pub(super) failed: u64,
    pub(super) cancelled: u64,
    pub(super) wait: DurationHistogram,
    pub(super) service: DurationHistogram,
}

impl Default for StageStats {
    fn default() -> Self {
        StageStats {
            arrivals: 0,
            attempts: 0,
            completed: 0,
            rejected: 0,
            timed_out: 0,
            failed: 0,
            cancelled: 0,
            wait: DurationHistogram::with_sigfig(STAGE_SIGFIG),
            service: DurationHistogram::with_sigfig(STAGE_SIGFIG),
        }
    }
}

impl StageStats {
    /// The stage's results, with `in_system` visits still live.
    pub(super) fn into_result(self, name: &str, pool: &str, in_system: u64) -> StageResult {
        StageResult {
            name: name.to_string(),
            pool: pool.to_string(),
            arrivals: self.arrivals,
            attempts: self.attempts,
            completed: self.completed,
            rejected: self.rejected,
            timed_out: self.timed_out,
            failed: self.failed,
            cancelled: self.cancelled,
            in_system,
            wait: self.wait,
            service: self.service,
        }
    }
}

impl Sim<'_> {
    /// Each workflow class's stage results at the end of the run: live
    /// visits of measured flows count as in the system.
    pub(super) fn stage_results(&mut self) -> Vec<Vec<StageResult>> {
        let sc = self.scenario;
        let mut live: Vec<Vec<u64>> = self
            .classes
            .iter()
            .map(|c| vec![0; c.stages.len()])
            .collect();
        for (id, r) in self.requests.records().iter().enumerate() {
            if r.state == State::Free
                || matches!(self.classes[r.class as usize].route, Route::Pool(_))
            {
                continue;
            }
            if let Some(stage) = self.tasks[id].live_measured_stage() {
                live[r.class as usize][stage] += 1;
            }
        }
        self.classes
            .iter_mut()
            .enumerate()
            .map(|(class, c)| {
                let Route::Workflow(w) = c.route else {
                    return Vec::new();
                };
                let wf = &sc.workflows[w as usize];
                std::mem::take(&mut c.stages)
                    .into_iter()
                    .zip(&wf.stages)
                    .zip(&live[class])
                    .map(|((s, spec), &n)| {
                        let pool = match &spec.work {
                            StageWork::Serve { pool, .. } => sc.pools[*pool].name.as_str(),
                            StageWork::Fork { .. } => "",
                        };
                        s.stats.into_result(&spec.name, pool, n)
                    })
                    .collect()
            })
            .collect()
    }
}
