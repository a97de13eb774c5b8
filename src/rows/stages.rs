//! The rows of `stages.csv` and `stage_series.csv`: the stages of workflow
//! classes, over the run and bucket by bucket.

use super::{Cell, Column, Row};
use crate::model::{RunResult, Scenario};

rows! {
    /// One row of `stages.csv`: one stage of one workflow class in one
    /// replication of one grid point (visits by measured requests). At the
    /// end, arrivals = completed + rejected + timed_out + failed +
    /// cancelled + in_system.
    pub struct StageRow {
        /// Scenario name.
        pub scenario: String,
        /// Grid point.
        pub point: u64,
        /// Replication index.
        pub replication: u64,
        /// The scenario's seed.
        pub seed: u64,
        /// Class name.
        pub class: String,
        /// Stage name.
        pub stage: String,
        /// Pool that serves the stage (empty for a fork).
        pub pool: String,
        /// Visits (a loop back is a new visit).
        pub arrivals: u64,
        /// Attempts of those visits, stage retries included.
        pub attempts: u64,
        /// Visits served to the end.
        pub completed: u64,
        /// Visits whose last attempt the pool's admission turned away.
        pub rejected: u64,
        /// Visits whose last attempt waited past the stage's timeout.
        pub timed_out: u64,
        /// Visits whose last attempt was lost to a GPU failure.
        pub failed: u64,
        /// Visits withdrawn because their workflow ended elsewhere.
        pub cancelled: u64,
        /// Visits still in the system at the end.
        pub in_system: u64,
        /// Mean wait of an attempt (stage arrival → start of service), seconds.
        pub wait_mean_s: Option<f64>,
        /// Median wait, seconds.
        pub wait_p50_s: Option<f64>,
        /// 95th percentile wait, seconds.
        pub wait_p95_s: Option<f64>,
        /// 99th percentile wait, seconds.
        pub wait_p99_s: Option<f64>,
        /// Mean service time of a completed visit, seconds.
        pub service_mean_s: Option<f64>,
        /// Median service time, seconds.
        pub service_p50_s: Option<f64>,
        /// 95th percentile service time, seconds.
        pub service_p95_s: Option<f64>,
        /// 99th percentile service time, seconds.
        pub service_p99_s: Option<f64>,
    }

    /// One row of `stage_series.csv`: one time bucket of one stage of one
    /// workflow class (every visit, warm-up and drain included).
    pub struct StageTimeRow {
        /// Scenario name.
        pub scenario: String,
        /// Grid point.
        pub point: u64,
        /// Replication index.
        pub replication: u64,
        /// The scenario's seed.
        pub seed: u64,
        /// Start of the bucket, seconds.
        pub time_s: f64,
        /// Width of the bucket, seconds.
        pub bucket_s: f64,
        /// Class name.
        pub class: String,
        /// Stage name.
        pub stage: String,
        /// Pool that serves the stage (empty for a fork).
        pub pool: String,
        /// Visits that entered the stage.
        pub arrivals: u64,
        /// Attempts that started service.
        pub started: u64,
        /// Visits whose service completed.
        pub completed: u64,
        /// Mean wait of the attempts that started, seconds.
        pub wait_mean_s: Option<f64>,
        /// Mean service of the visits that completed, seconds.
        pub service_mean_s: Option<f64>,
    }
}

impl StageRow {
    /// Rows of every stage of every workflow class of every run, for grid
    /// point `point`.
    pub fn of_runs(scenario: &Scenario, point: usize, runs: &[RunResult]) -> Vec<Self> {
        let mut rows = Vec::new();
        for run in runs {
            for c in &run.classes {
                for st in &c.stages {
                    let q = |h: &crate::metrics::DurationHistogram, p: f64| h.quantile_s(p);
                    rows.push(StageRow {
                        scenario: scenario.name.clone(),
                        point: point as u64,
                        replication: u64::from(run.replication),
                        seed: run.seed,
                        class: c.name.clone(),
                        stage: st.name.clone(),
                        pool: st.pool.clone(),
                        arrivals: st.arrivals,
                        attempts: st.attempts,
                        completed: st.completed,
                        rejected: st.rejected,
                        timed_out: st.timed_out,
                        failed: st.failed,
                        cancelled: st.cancelled,
                        in_system: st.in_system,
                        wait_mean_s: st.wait.mean_s(),
                        wait_p50_s: q(&st.wait, 0.5),
                        wait_p95_s: q(&st.wait, 0.95),
                        wait_p99_s: q(&st.wait, 0.99),
                        service_mean_s: st.service.mean_s(),
                        service_p50_s: q(&st.service, 0.5),
                        service_p95_s: q(&st.service, 0.95),
                        service_p99_s: q(&st.service, 0.99),
                    });
                }
            }
        }
        rows
    }
}

impl StageTimeRow {
    /// Rows of every stage bucket of every run, for grid point `point`.
    pub fn of_runs(scenario: &Scenario, point: usize, runs: &[RunResult]) -> Vec<Self> {
        let mut rows = Vec::new();
        for run in runs {
            for r in &run.stage_series {
                let class = &scenario.classes[r.class];
                let Some(w) = class.workflow else { continue };
                let stage = &scenario.workflows[w].stages[r.stage];
                rows.push(StageTimeRow {
                    scenario: scenario.name.clone(),
                    point: point as u64,
                    replication: u64::from(run.replication),
                    seed: run.seed,
                    time_s: r.start.as_secs_f64(),
                    bucket_s: r.width.as_secs_f64(),
                    class: class.name.clone(),
                    stage: stage.name.clone(),
                    pool: match &stage.work {
                        crate::model::StageWork::Serve { pool, .. } => {
                            scenario.pools[*pool].name.clone()
                        }
                        crate::model::StageWork::Fork { .. } => String::new(),
                    },
                    arrivals: r.arrivals,
                    started: r.started,
                    completed: r.completed,
                    wait_mean_s: r.wait_mean_s,
                    service_mean_s: r.service_mean_s,
                });
            }
        }
        rows
    }
}
