//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod cli;

use surge::engine::SimDuration;
use surge::model::{DurationDist, RunResult, Scenario};
use surge::report::{Estimate, estimate};

/// A single-class, single-pool FIFO scenario: Poisson arrivals at
/// `lambda`/s, `gpus` servers, the given service distribution, sized to
/// about `customers` arrivals per replication with a 5% warm-up.
pub fn single_queue(
    gpus: u32,
    lambda: f64,
    service: DurationDist,
    customers: f64,
    replications: u32,
    seed: u64,
) -> Scenario {
    let duration_s = customers / lambda;
    let mut s = Scenario::single_queue(
        gpus,
        lambda,
        service,
        SimDuration::from_secs_f64(duration_s),
    );
    s.warmup = SimDuration::from_secs_f64(duration_s * 0.05);
    s.seed = seed;
    s.replications = replications;
    s
}

/// Student-t quantile for a two-sided 99.9% interval, by degrees of freedom
/// (statrs' inverse CDF, rounded up in the 3rd decimal).
pub fn t_999(df: usize) -> f64 {
    use statrs::distribution::{ContinuousCDF, StudentsT};
    StudentsT::new(0.0, 1.0, df as f64)
        .unwrap()
        .inverse_cdf(0.9995)
}

/// The replication mean of `metric` and its 99.9% half-width.
///
/// Analytic checks accept the simulation when the theoretical value lies in
/// the 99.9% confidence interval of the replication means (widened by
/// `slack` for known discretisation, e.g. histogram precision). With fixed
/// seeds the outcome is deterministic; a correct simulator fails one such
/// check with probability 0.1% over the choice of seed, and a biased one
/// fails as soon as its bias exceeds the half-width, which each test also
/// bounds (`max_rel_width`) so the check keeps its teeth.
pub fn mean_ci(runs: &[RunResult], metric: impl Fn(&RunResult) -> f64) -> (f64, f64) {
    let values: Vec<f64> = runs.iter().map(metric).collect();
    let e: Estimate = estimate(&values).expect("at least one replication");
    let hw = e.std_dev.unwrap_or(0.0) * t_999(values.len() - 1) / (values.len() as f64).sqrt();
    (e.mean, hw)
}

/// Assert `theory` lies within the 99.9% CI of `metric` (± `slack`), and
/// that the CI is narrower than `max_rel_width` × theory (when theory > 0).
pub fn assert_matches(
    label: &str,
    runs: &[RunResult],
    theory: f64,
    slack: f64,
    max_rel_width: f64,
    metric: impl Fn(&RunResult) -> f64,
) {
    let (mean, hw) = mean_ci(runs, metric);
    eprintln!(
        "CHECK {label}: sim {mean:.6} ± {hw:.6} theory {theory:.6} relw {:.4}",
        hw / theory.max(1e-12)
    );
    assert!(
        (mean - theory).abs() <= hw + slack,
        "{label}: simulated {mean:.6} ± {hw:.6} (99.9% CI), theory {theory:.6}"
    );
    if theory > 0.0 {
        assert!(
            hw <= max_rel_width * theory + slack,
            "{label}: CI half-width {hw:.6} too wide to test theory {theory:.6}; run longer"
        );
    }
}

/// Assert class 0 of `runs` (an M/M/c+M queue: `c` servers, Poisson
/// arrivals at `lambda`/s, exponential service at rate `mu` and patience
/// at rate `theta`) abandons and waits as Erlang A says: P(abandon) and
/// E[wait | served] within their 99.9% CIs (± `wait_slack` s for the wait),
/// each CI narrower than 5% of theory.
pub fn assert_erlang_a(
    runs: &[RunResult],
    c: u32,
    lambda: f64,
    mu: f64,
    theta: f64,
    wait_slack: f64,
) {
    let (p_abandon, served_wait) = surge::theory::erlang_a(c, lambda, mu, theta);
    assert_matches("Erlang-A P(abandon)", runs, p_abandon, 0.0, 0.05, |r| {
        let c = &r.classes[0];
        c.abandoned as f64 / c.arrivals as f64
    });
    assert_matches(
        "Erlang-A E[wait | served]",
        runs,
        served_wait,
        wait_slack,
        0.05,
        |r| r.classes[0].wait.mean_s().unwrap(),
    );
}

/// The names of the files in `dir`, sorted.
pub fn file_names(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Every replication of `scenario` with the built-in policies, in
/// replication order.
pub fn run_all(scenario: &Scenario) -> Vec<RunResult> {
    surge::Simulation::new(scenario)
        .build()
        .expect("built-in policies only")
        .run_all()
}
