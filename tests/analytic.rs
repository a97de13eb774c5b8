//! The simulator against closed-form queueing theory.
//!
//! Each check runs independent replications with fixed seeds and accepts
//! the theoretical value if it lies in the 99.9% Student-t confidence
//! interval of the replication means (see `common::assert_matches`).

mod common;

use common::{assert_matches, single_queue};

use surge::engine::SimDuration;
use surge::model::{DurationDist, RunResult};
use surge::theory;

/// HDR histograms keep 3 significant digits: a quantile may read up to
/// 0.1% high. Quantile checks allow this on top of the CI.
const HDR_REL_PRECISION: f64 = 1e-3;

fn wait_mean(r: &RunResult) -> f64 {
    r.classes[0].wait.mean_s().unwrap_or(0.0)
}

fn wait_prob(r: &RunResult) -> f64 {
    1.0 - r.classes[0]
        .wait
        .fraction_at_most(SimDuration::ZERO)
        .unwrap_or(1.0)
}

fn run_mmc(c: u32, rho: f64, customers: f64, reps: u32, seed: u64) -> Vec<RunResult> {
    let lambda = rho * f64::from(c);
    let scenario = single_queue(
        c,
        lambda,
        DurationDist::exponential(1.0).unwrap(),
        customers,
        reps,
        seed,
    );
    common::run_all(&scenario)
}

fn check_mmc(c: u32, rho: f64, customers: f64, max_rel_width: f64) {
    let runs = run_mmc(c, rho, customers, 10, 1000 + u64::from(c));
    let lambda = rho * f64::from(c);
    let a = lambda;
    let label = format!("M/M/{c} at ρ = {rho}");

    // Mean wait vs Erlang C: W_q = C(c, a) / (cμ − λ).
    let wq = theory::mmc_mean_wait(c, lambda, 1.0);
    assert_matches(
        &format!("{label}: mean wait"),
        &runs,
        wq,
        1e-4,
        max_rel_width,
        wait_mean,
    );

    // P(wait > 0) vs Erlang C.
    let pw = theory::erlang_c(c, a);
    assert_matches(
        &format!("{label}: P(wait > 0)"),
        &runs,
        pw,
        1e-3,
        max_rel_width,
        wait_prob,
    );

    // p95 of the wait vs the M/M/c wait distribution. Skipped where
    // C(c, a) is within 0.1 of 5%: there the 95th percentile sits on the
    // edge of the atom at zero and jumps between 0 and a positive value.
    if pw > 0.15 {
        let q = theory::mmc_wait_quantile(c, lambda, 1.0, 0.95);
        assert_matches(
            &format!("{label}: p95 wait"),
            &runs,
            q,
            q * HDR_REL_PRECISION,
            max_rel_width,
            |r| r.classes[0].wait.quantile_s(0.95).unwrap_or(0.0),
        );
    }

    // Utilization ≈ ρ.
    assert_matches(
        &format!("{label}: utilization"),
        &runs,
        rho,
        0.0,
        0.02,
        |r| r.pools[0].utilization,
    );
}

#[test]
fn mm1_matches_erlang_c_from_half_to_95_percent_load() {
    check_mmc(1, 0.5, 200_000.0, 0.03);
    check_mmc(1, 0.8, 300_000.0, 0.07);
    check_mmc(1, 0.95, 600_000.0, 0.11);
}

#[test]
fn mm8_matches_erlang_c_from_half_to_95_percent_load() {
    check_mmc(8, 0.5, 200_000.0, 0.10);
    check_mmc(8, 0.8, 200_000.0, 0.11);
    check_mmc(8, 0.95, 800_000.0, 0.15);
}

#[test]
fn mm64_matches_erlang_c_from_80_to_95_percent_load() {
    // Widths measured at these sizes: 0.078 (ρ = 0.8), 0.12 (ρ = 0.95);
    // a bias beyond ~10% (resp. ~15%) fails.
    check_mmc(64, 0.8, 1_000_000.0, 0.10);
    check_mmc(64, 0.95, 800_000.0, 0.15);
}

/// At ρ = 0.5 on 64 GPUs Erlang C gives P(wait > 0) ≈ 2e-7: almost no
/// request waits, so a relative interval has nothing to measure. The check
/// is absolute: the waiting share and the mean wait are ~0, and the
/// latency is the service time, E[S] = 1 s, within 1%.
#[test]
fn mm64_at_half_load_almost_never_waits() {
    let runs = run_mmc(64, 0.5, 200_000.0, 10, 1064);
    let pw = theory::erlang_c(64, 32.0);
    assert!(pw < 1e-6, "Erlang C(64, 32) = {pw}");
    for r in &runs {
        assert!(wait_prob(r) < 1e-4, "waited: {}", wait_prob(r));
        assert!(wait_mean(r) < 1e-4, "mean wait {}", wait_mean(r));
    }
    assert_matches(
        "M/M/64 at ρ = 0.5: mean latency = E[S]",
        &runs,
        1.0,
        HDR_REL_PRECISION,
        0.01,
        |r| r.classes[0].latency.mean_s().unwrap_or(0.0),
    );
    assert_matches(
        "M/M/64 at ρ = 0.5: utilization",
        &runs,
        0.5,
        0.0,
        0.02,
        |r| r.pools[0].utilization,
    );
}

/// M/G/1 mean wait vs Pollaczek–Khinchine: W_q = ρ E[S] (1 + cv²) / (2(1 − ρ)).
fn check_mg1(service: DurationDist, rho: f64, customers: f64, reps: u32, max_rel_width: f64) {
    let mean = service.mean();
    let scv = service.scv();
    let lambda = rho / mean;
    let label = format!("M/G/1 {} at ρ = {rho}", service.describe());
    let scenario = single_queue(1, lambda, service, customers, reps, 77);
    let runs = common::run_all(&scenario);
    let wq = theory::mg1_mean_wait(lambda, mean, scv);
    assert_matches(
        &format!("{label}: mean wait"),
        &runs,
        wq,
        1e-4,
        max_rel_width,
        wait_mean,
    );
}

#[test]
fn md1_mean_wait_matches_pollaczek_khinchine() {
    check_mg1(
        DurationDist::deterministic(1.0).unwrap(),
        0.8,
        300_000.0,
        10,
        0.03,
    );
}

#[test]
fn mg1_lognormal_cv2_mean_wait_matches_pollaczek_khinchine() {
    // cv = 2 makes the wait heavy-tailed: more and longer replications.
    check_mg1(
        DurationDist::lognormal(1.0, 2.0).unwrap(),
        0.6,
        1_000_000.0,
        16,
        0.05,
    );
}

#[test]
fn littles_law_holds_between_queue_length_and_wait() {
    // L = λ W: the time-average queue length over the window equals the
    // arrival rate times the mean wait of the window's arrivals. They differ
    // only by edge effects of order W / window ≈ 1e-5 here, so the
    // tolerance is 1% of L, far below what a bookkeeping error would cause.
    let runs = run_mmc(8, 0.85, 300_000.0, 4, 5);
    for r in &runs {
        let lambda = r.classes[0].arrivals as f64 / r.window_s;
        let l = r.pools[0].queue_mean;
        let w = wait_mean(r);
        assert!(
            (l - lambda * w).abs() <= 0.01 * l,
            "L = {l}, λW = {}",
            lambda * w
        );
        // Busy GPUs = λ E[S] (Little's law for the servers).
        let busy = r.pools[0].busy_gpus_mean;
        assert!(
            (busy - lambda).abs() <= 0.01 * busy,
            "busy {busy} vs λE[S] {lambda}"
        );
    }
}

#[test]
fn every_request_is_accounted_for() {
    // With a drain limit of zero, requests are cut off mid-flight.
    let mut scenario = single_queue(
        4,
        3.9,
        DurationDist::exponential(1.0).unwrap(),
        50_000.0,
        3,
        9,
    );
    scenario.drain = Some(SimDuration::ZERO);
    for r in common::run_all(&scenario) {
        let c = &r.classes[0];
        assert!(
            c.in_system > 0,
            "the cut-off should leave requests in the system"
        );
        assert_eq!(
            c.arrivals,
            c.completed + c.rejected + c.abandoned + c.failed + c.in_system
        );
        assert_eq!(r.requests, r.requests_finished + r.requests_in_system);
    }
    // Without a drain limit the run empties the system.
    scenario.drain = None;
    for r in common::run_all(&scenario) {
        assert_eq!(r.classes[0].in_system, 0);
        assert_eq!(r.requests, r.requests_finished);
    }
}
