//! The GPUs each varied pool would have needed, hour by hour, to meet its
//! wait SLOs: `needed.csv`, from the replications of the plan's answer.
//!
//! For each hour of a run and each varied pool: the attempts of its
//! classes in that hour (first attempts and retries) not turned away by a
//! rate limit or admission give λ; the classes' mean service times (÷ the
//! pool's speed), weighted by those attempts, give E\[S\]; the
//! least c is then the least GPU count at which an M/M/c queue with that
//! λ and E\[S\] meets every SLO bound of the pool's
//! classes that M/M/c can judge: `wait_mean`, `wait_p50/95/99` (Erlang C:
//! P(W > t) = C·e^{−(cμ−λ)t}) and `latency_mean` (the wait bound less the
//! class's mean service). It is a stationary approximation for each hour:
//! it ignores backlog carried in from the hour before, patience, retries'
//! timing and non-exponential service, and it applies the SLO within each
//! hour (stricter than a day-long percentile). A planner reads it for
//! *when* the next chunk of capacity is needed; the plan's answer is the
//! simulated, whole-run figure. Pools with batching are not judged (their
//! service time depends on batch sizes).

use super::SloArg;
use crate::metric::Metric;
use crate::model::{RunResult, Scenario, Scope};

/// One hour of one pool, in one replication.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Hour {
    /// Start of the hour, seconds.
    pub start_s: f64,
    /// Attempts per second submitted to the pool.
    pub lambda: f64,
    /// Mean service time, seconds.
    pub mean_service_s: f64,
    /// GPUs online (time average).
    pub online: f64,
    /// The least GPU count meeting the SLOs in M/M/c (`None`: no count
    /// can, e.g. a latency bound below the service time).
    pub needed: Option<u32>,
}

/// The bounds M/M/c can judge for `pool`: (quantile or `None` for the
/// mean, wait bound in seconds).
fn wait_bounds(s: &Scenario, pool: usize, slos: &[SloArg]) -> Vec<(Option<f64>, f64)> {
    let mut out = Vec::new();
    for slo in slos {
        let Some(max) = slo.max else { continue };
        let classes: Vec<&crate::model::ClassSpec> = s
            .classes
            .iter()
            .filter(|c| {
                c.workflow.is_none()
                    && c.pool == pool
                    && (slo.class == "all" || c.name == slo.class)
            })
            .collect();
        if classes.is_empty() {
            continue;
        }
        let speed = s.pools[pool].speed;
        match slo.metric {
            Metric::WaitMean => out.push((None, max)),
            Metric::WaitP50 => out.push((Some(0.50), max)),
            Metric::WaitP95 => out.push((Some(0.95), max)),
            Metric::WaitP99 => out.push((Some(0.99), max)),
            Metric::LatencyMean => {
                for c in classes {
                    out.push((None, max - c.service.mean() / speed));
                }
            }
            _ => {}
        }
    }
    out
}

/// The least c at which M/M/c with `lambda` and `mean_service` meets every
/// bound; `None` past `cap`. Erlang B is carried along c (B(k) from
/// B(k−1)), so the search costs O(c).
pub(crate) fn least_gpus(
    lambda: f64,
    mean_service: f64,
    bounds: &[(Option<f64>, f64)],
    cap: u32,
) -> Option<u32> {
    if bounds.iter().any(|&(_, b)| b < 0.0) {
        return None;
    }
    let mu = 1.0 / mean_service;
    let a = lambda * mean_service;
    let mut b = 1.0f64;
    for k in 1..=cap {
        b = a * b / (f64::from(k) + a * b);
        let slack = f64::from(k) * mu - lambda;
        if slack <= 0.0 {
            continue;
        }
        let rho = a / f64::from(k);
        let c = b / (1.0 - rho * (1.0 - b));
        let ok = bounds.iter().all(|&(q, t)| match q {
            None => c / slack <= t,
            Some(p) => c * (-slack * t).exp() <= 1.0 - p,
        });
        if ok {
            return Some(k);
        }
    }
    None
}

/// The hours of `pool` in one run.
pub(crate) fn hours(s: &Scenario, run: &RunResult, pool: usize, slos: &[SloArg]) -> Vec<Hour> {
    // M/M/c says nothing of batches or of LLM replicas.
    if s.pools[pool].batching.is_some() || s.pools[pool].serving.is_some() {
        return Vec::new();
    }
    let bounds = wait_bounds(s, pool, slos);
    let speed = s.pools[pool].speed;
    let width = s.bucket_width().as_secs_f64().max(3600.0);
    let end = s.duration.as_secs_f64();
    let n = (end / width).ceil().max(1.0) as usize;
    // Per hour: the attempts of the pool's classes that were not turned
    // away by a rate limit or admission (class rows), their service work,
    // and the pool's online GPU-seconds (pool rows).
    let mut attempts = vec![0.0f64; n];
    let mut work = vec![0.0f64; n];
    let mut online = vec![0.0f64; n];
    let mut seconds = vec![0.0f64; n];
    for row in &run.timeseries {
        let h = (row.start.0 as f64 / 1e9 / width) as usize;
        if h >= n {
            continue;
        }
        match row.scope {
            Scope::Class(i) if s.demand_on(i, pool) > 0.0 => {
                let k = (row.arrivals + row.retries).saturating_sub(row.rejected) as f64;
                attempts[h] += k;
                work[h] += k * s.demand_on(i, pool) / speed;
            }
            Scope::Pool(p) if p == pool => {
                let w = row.width.as_secs_f64();
                online[h] += row.online_gpus_mean.unwrap_or(0.0) * w;
                seconds[h] += w;
            }
            _ => {}
        }
    }
    let cap = s.pools[pool].gpus.saturating_mul(100).max(100_000);
    (0..n)
        .map(|h| {
            let span = (end - h as f64 * width).min(width);
            let lambda = attempts[h] / span;
            let mean_service = if attempts[h] > 0.0 {
                work[h] / attempts[h]
            } else {
                0.0
            };
            Hour {
                start_s: h as f64 * width,
                lambda,
                mean_service_s: mean_service,
                online: if seconds[h] > 0.0 {
                    online[h] / seconds[h]
                } else {
                    0.0
                },
                needed: if lambda > 0.0 && mean_service > 0.0 {
                    least_gpus(lambda, mean_service, &bounds, cap)
                } else {
                    Some(0)
                },
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::theory;

    #[test]
    fn least_gpus_is_the_erlang_c_answer() {
        for (lambda, wait) in [(7.2, 0.1), (3.0, 0.05), (40.0, 0.02)] {
            let expected = theory::mmc_min_gpus_for_mean_wait(lambda, 1.0, wait);
            assert_eq!(
                least_gpus(lambda, 1.0, &[(None, wait)], 10_000),
                Some(expected),
                "λ {lambda}"
            );
        }
        // A quantile bound: the least c whose p95 wait is within it.
        let c = least_gpus(7.2, 1.0, &[(Some(0.95), 0.5)], 10_000).unwrap();
        assert!(theory::mmc_wait_quantile(c, 7.2, 1.0, 0.95) <= 0.5);
        assert!(theory::mmc_wait_quantile(c - 1, 7.2, 1.0, 0.95) > 0.5);
        // A bound no count meets.
        assert_eq!(least_gpus(7.2, 1.0, &[(None, -0.1)], 10_000), None);
    }
}
