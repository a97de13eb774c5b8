//! The validated description of a system to simulate.
//!
//! A [`Scenario`] is plain, `Send` data: the scenario loader builds one from
//! a TOML file (after validation), a library user may build one in code, and
//! each replication builds its own simulation from it.

use super::DurationDist;
use crate::engine::{SimDuration, SimTime};

/// Everything a run needs: the workload, the pools, and the run parameters.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// Name, used for the output folder and the `scenario` CSV column.
    pub name: String,
    /// Free text shown in reports.
    pub description: Option<String>,
    /// Arrivals stop at this time; the run then drains.
    pub duration: SimDuration,
    /// Requests arriving before this are simulated but not counted.
    pub warmup: SimDuration,
    /// How long after `duration` the run may drain; `None` drains until empty.
    pub drain: Option<SimDuration>,
    /// Base seed of every random stream.
    pub seed: u64,
    /// Number of independent replications.
    pub replications: u32,
    /// Width of a time-series bucket; `None` picks duration / 500, rounded.
    pub bucket: Option<SimDuration>,
    /// The GPU pools.
    pub pools: Vec<PoolSpec>,
    /// The workload classes.
    pub classes: Vec<ClassSpec>,
    /// Service-level objectives (evaluated by `surge check`).
    pub slos: Vec<SloSpec>,
}

/// A GPU pool: a multi-server queue.
#[derive(Clone, Debug)]
pub struct PoolSpec {
    /// Unique pool name.
    pub name: String,
    /// Number of GPUs (servers), c.
    pub gpus: u32,
    /// The queue discipline.
    pub policy: PolicySpec,
    /// Speed factor: a request's service demand is divided by it.
    pub speed: f64,
    /// Cost of one GPU for one hour, in US dollars.
    pub cost_per_gpu_hour: f64,
}

/// The queue discipline of a pool.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PolicySpec {
    /// First come, first served.
    Fifo,
}

impl PolicySpec {
    /// The name used in scenario files.
    pub fn name(&self) -> &'static str {
        match self {
            PolicySpec::Fifo => "fifo",
        }
    }
}

/// A workload class (tier).
#[derive(Clone, Debug)]
pub struct ClassSpec {
    /// Unique class name.
    pub name: String,
    /// Index into [`Scenario::pools`] of the pool that serves it.
    pub pool: usize,
    /// When its requests arrive.
    pub arrivals: ArrivalSpec,
    /// GPU-seconds per request (on a pool of speed 1).
    pub service: DurationDist,
    /// Latency bound for the `slo_attainment` column, if any.
    pub latency_target: Option<SimDuration>,
}

/// An arrival process.
#[derive(Clone, Debug)]
pub enum ArrivalSpec {
    /// Poisson arrivals at a constant rate (requests per second), λ.
    Poisson {
        /// λ, requests per second.
        rate_per_s: f64,
    },
    /// Arrivals at exactly these times (sorted), for hand-traced cases.
    Explicit {
        /// Arrival instants, non-decreasing.
        times: Vec<SimTime>,
    },
}

impl ArrivalSpec {
    /// Long-run mean arrival rate over `[0, duration)`, per second.
    pub fn mean_rate(&self, duration: SimDuration) -> f64 {
        match self {
            ArrivalSpec::Poisson { rate_per_s } => *rate_per_s,
            ArrivalSpec::Explicit { times } => {
                let secs = duration.as_secs_f64();
                if secs > 0.0 {
                    times.iter().filter(|t| t.0 < duration.0).count() as f64 / secs
                } else {
                    0.0
                }
            }
        }
    }
}

/// A service-level objective on one metric of `summary.csv`.
#[derive(Clone, Debug)]
pub struct SloSpec {
    /// Class name, or `all`.
    pub class: String,
    /// A column of `summary.csv`, e.g. `latency_p99`.
    pub metric: String,
    /// Upper bound, if any (seconds for time metrics).
    pub max: Option<f64>,
    /// Lower bound, if any.
    pub min: Option<f64>,
}

impl Scenario {
    /// The simplest system: one FIFO pool of `gpus` GPUs serving one class
    /// (`jobs`, on pool `gpu`) with Poisson arrivals at `rate_per_s` and the
    /// given service demand, for `duration`, seed 1, one replication. Adjust
    /// the public fields for anything else.
    pub fn single_queue(
        gpus: u32,
        rate_per_s: f64,
        service: DurationDist,
        duration: SimDuration,
    ) -> Scenario {
        Scenario {
            name: "single-queue".into(),
            description: None,
            duration,
            warmup: SimDuration::ZERO,
            drain: None,
            seed: 1,
            replications: 1,
            bucket: None,
            pools: vec![PoolSpec {
                name: "gpu".into(),
                gpus,
                policy: PolicySpec::Fifo,
                speed: 1.0,
                cost_per_gpu_hour: 0.0,
            }],
            classes: vec![ClassSpec {
                name: "jobs".into(),
                pool: 0,
                arrivals: ArrivalSpec::Poisson { rate_per_s },
                service,
                latency_target: None,
            }],
            slos: Vec::new(),
        }
    }

    /// Offered load per pool, ρ = Σ λ·E\[S\] / (gpus · speed), in pool order.
    pub fn offered_load(&self) -> Vec<f64> {
        let mut work = vec![0.0; self.pools.len()];
        for class in &self.classes {
            work[class.pool] += class.arrivals.mean_rate(self.duration) * class.service.mean();
        }
        self.pools
            .iter()
            .zip(work)
            .map(|(p, w)| w / (f64::from(p.gpus) * p.speed))
            .collect()
    }

    /// The time-series bucket width: the configured one, or duration / 500
    /// rounded to a readable unit (1, 2 or 5 × a power of ten of seconds,
    /// or whole minutes and hours).
    pub fn bucket_width(&self) -> SimDuration {
        if let Some(b) = self.bucket {
            return b;
        }
        readable_bucket(self.duration)
    }
}

/// duration / 500 rounded up to a readable width.
fn readable_bucket(duration: SimDuration) -> SimDuration {
    const STEPS_S: [f64; 21] = [
        0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 15.0, 30.0,
        60.0, 120.0, 300.0, 600.0, 900.0, 1800.0,
    ];
    let raw = duration.as_secs_f64() / 500.0;
    for step in STEPS_S {
        if raw <= step {
            return SimDuration::from_secs_f64(step);
        }
    }
    let hours = (raw / 3600.0).ceil().max(1.0);
    SimDuration::from_secs_f64(hours * 3600.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_widths_are_readable() {
        assert_eq!(
            readable_bucket(SimDuration::from_secs(7200)),
            SimDuration::from_secs(15)
        );
        assert_eq!(
            readable_bucket(SimDuration::from_secs(86_400)),
            SimDuration::from_secs(300)
        );
        assert_eq!(
            readable_bucket(SimDuration::from_secs(60)),
            SimDuration::from_millis(200)
        );
        assert_eq!(
            readable_bucket(SimDuration::from_secs(30 * 86_400)),
            SimDuration::from_secs(2 * 3600)
        );
    }
}
