//! Queue policies against theory: priority (Cobham), fair share, shedding
//! (Erlang B, M/M/c/K) and deferral.

mod common;

use common::assert_matches;
use std::path::Path;

use surge::model::{RunResult, Scenario, Scope};
use surge::scenario::load_str;
use surge::simulate;
use surge::theory;

fn scenario(toml: &str) -> Scenario {
    load_str(toml, "<test>", Path::new("."), "test", &[])
        .unwrap_or_else(|e| panic!("{e}"))
        .scenario
}

fn two_classes(
    gpus: u32,
    policy: &str,
    (rate_a, rate_b): (f64, f64),
    (extra_a, extra_b): (&str, &str),
    hours: u32,
    reps: u32,
) -> Scenario {
    scenario(&format!(
        r#"
        duration = "{hours}h"
        warmup = "30m"
        replications = {reps}
        seed = 21
        [[pool]]
        name = "gpu"
        gpus = {gpus}
        policy = {policy}
        [[class]]
        name = "a"
        pool = "gpu"
        arrivals = {{ process = "poisson", rate = "{rate_a}/s" }}
        service = {{ dist = "exponential", mean = "1s" }}
        {extra_a}
        [[class]]
        name = "b"
        pool = "gpu"
        arrivals = {{ process = "poisson", rate = "{rate_b}/s" }}
        service = {{ dist = "exponential", mean = "1s" }}
        {extra_b}
    "#
    ))
}

fn wait(r: &RunResult, class: usize) -> f64 {
    r.classes[class].wait.mean_s().unwrap_or(0.0)
}

fn check_priority(gpus: u32, rate_a: f64, rate_b: f64, hours: u32) {
    // Class b is more urgent (priority 0) than class a (priority 1).
    let s = two_classes(
        gpus,
        "\"priority\"",
        (rate_a, rate_b),
        ("priority = 1", "priority = 0"),
        hours,
        10,
    );
    let runs = common::run_all(&s);
    let w = theory::priority_mmc_waits(gpus, &[rate_b, rate_a], 1.0);
    let label = format!("M/M/{gpus} priority");
    assert_matches(
        &format!("{label}: urgent class wait"),
        &runs,
        w[0],
        1e-4,
        0.15,
        |r| wait(r, 1),
    );
    assert_matches(
        &format!("{label}: other class wait"),
        &runs,
        w[1],
        1e-4,
        0.15,
        |r| wait(r, 0),
    );
}

#[test]
fn priority_waits_match_cobham_on_mm1() {
    check_priority(1, 0.4, 0.4, 60);
}

#[test]
fn priority_waits_match_cobham_on_mmc() {
    check_priority(8, 4.0, 3.0, 30);
}

#[test]
fn fair_share_follows_weights_under_overload_and_fifo_when_light() {
    // Overload: each class alone would fill the pool; weights 3:1.
    let s = two_classes(
        10,
        "\"fair\"",
        (12.0, 12.0),
        (
            "weight = 3\npatience = { dist = \"exponential\", mean = \"1m\" }",
            "weight = 1\npatience = { dist = \"exponential\", mean = \"1m\" }",
        ),
        4,
        1,
    );
    let r = simulate(&s, 0).unwrap();
    let (a, b) = (r.classes[0].throughput_per_s, r.classes[1].throughput_per_s);
    let share = a / (a + b);
    assert!(
        (share - 0.75).abs() < 0.02,
        "throughput share {share} for weight share 0.75"
    );
    assert!(
        r.pools[0].utilization > 0.99,
        "work-conserving under overload"
    );
    // Light load: fair behaves like FIFO (same waits, same seed).
    let light = |policy: &str| {
        simulate(
            &two_classes(10, policy, (3.0, 3.0), ("weight = 3", "weight = 1"), 4, 1),
            0,
        )
        .unwrap()
    };
    let (f, q) = (light("\"fair\""), light("\"fifo\""));
    let (wf, wq) = (f.all.wait.mean_s().unwrap(), q.all.wait.mean_s().unwrap());
    assert!(
        (wf - wq).abs() < 0.02 * wq.max(1e-3) + 1e-4,
        "fair {wf} vs fifo {wq}"
    );
    assert!((f.pools[0].utilization - q.pools[0].utilization).abs() < 1e-9);
}

#[test]
fn shedding_with_no_queue_matches_erlang_b() {
    // M/M/5/5 (shed at max_queue = 0) at 4 Erlangs: the share of arrivals
    // shed is the Erlang B blocking probability (PASTA).
    let s = two_classes(
        5,
        "{ kind = \"shed\", max_queue = 0 }",
        (2.5, 1.5),
        ("", ""),
        20,
        10,
    );
    let runs = common::run_all(&s);
    let b = theory::erlang_b(5, 4.0);
    assert_matches("Erlang B blocking", &runs, b, 0.0, 0.05, |r| {
        r.all.rejected as f64 / r.all.arrivals as f64
    });
    for r in &runs {
        assert_eq!(r.all.wait.quantile_s(1.0), Some(0.0), "nobody waits");
        assert_eq!(r.pools[0].shed, r.all.rejected_attempts);
    }
}

#[test]
fn shedding_with_a_queue_limit_matches_mmck() {
    // M/M/3 with at most K = 3 + 4 in the system, at 3.3 Erlangs.
    let s = two_classes(
        3,
        "{ kind = \"shed\", max_queue = 4 }",
        (2.0, 1.3),
        ("", ""),
        20,
        10,
    );
    let runs = common::run_all(&s);
    let p = theory::mmck_blocking(3, 7, 3.3);
    assert_matches("M/M/c/K blocking", &runs, p, 0.0, 0.05, |r| {
        r.all.rejected as f64 / r.all.arrivals as f64
    });
    for r in &runs {
        assert!(r.pools[0].queue_max <= 4);
    }
}

#[test]
fn shedding_spares_the_protected_class() {
    let s = two_classes(
        4,
        "{ kind = \"shed\", max_queue = 2, classes = [\"a\"] }",
        (3.0, 2.0),
        ("", ""),
        4,
        1,
    );
    let r = simulate(&s, 0).unwrap();
    assert!(r.classes[0].rejected > 0);
    assert_eq!(r.classes[1].rejected, 0);
}

/// The reserved share, by hand: 20 GPUs, deterministic 10 s service,
/// reserved = 0.25 → ⌊0.25 × 20⌋ = 5 GPUs serve deferred work while
/// regular requests wait. Both classes arrive faster than their share can
/// serve (a: 1/s, all deferred; b: 3/s), so from the first minutes on,
/// exactly 5 GPUs complete a deferred request every 10 s and 15 GPUs a
/// regular one: in the hour [1 h, 2 h) that is 5 × 360 = 1,800 deferred
/// and 15 × 360 = 5,400 regular completions (±5 for the phase of the
/// 10 s cycles at the hour's edges).
#[test]
fn deferral_serves_deferred_work_with_exactly_its_reserved_share() {
    let text = r#"
        duration = "3h"
        seed = 9
        bucket = "1h"
        [[pool]]
        name = "gpu"
        gpus = 20
        policy = { kind = "deferral", threshold = "0s", reserved = 0.25 }
        [[class]]
        name = "a"
        pool = "gpu"
        deferrable = true
        arrivals = { process = "poisson", rate = "1/s" }
        service = { dist = "deterministic", value = "10s" }
        [[class]]
        name = "b"
        pool = "gpu"
        arrivals = { process = "poisson", rate = "3/s" }
        service = { dist = "deterministic", value = "10s" }
    "#;
    let r = simulate(&scenario(text), 0).unwrap();
    let in_second_hour = |scope: Scope| -> u64 {
        r.timeseries
            .iter()
            .filter(|row| row.scope == scope && row.start.as_secs_f64() == 3600.0)
            .map(|row| row.completions)
            .sum()
    };
    let (a, b) = (
        in_second_hour(Scope::Class(0)),
        in_second_hour(Scope::Class(1)),
    );
    assert!(a.abs_diff(1800) <= 5, "deferred completions {a}");
    assert!(b.abs_diff(5400) <= 5, "regular completions {b}");
    // Threshold 0 s defers every request of a that cannot start at once.
    let c = &r.classes[0];
    assert!(
        c.deferred as f64 > 0.99 * c.arrivals as f64,
        "{} of {}",
        c.deferred,
        c.arrivals
    );
    // Without a reserved share, deferred work waits for spare capacity,
    // which this overloaded pool never has while arrivals last.
    let none = simulate(
        &scenario(&text.replace("reserved = 0.25", "reserved = 0.0")),
        0,
    )
    .unwrap();
    let a0: u64 = none
        .timeseries
        .iter()
        .filter(|row| row.scope == Scope::Class(0) && row.start.as_secs_f64() == 3600.0)
        .map(|row| row.completions)
        .sum();
    assert_eq!(a0, 0, "deferred completions with no reserved share");
}

#[test]
fn deferral_bounds_regular_waits_and_serves_every_deferred_request() {
    // Overloaded pool (ρ ≈ 1.2 during the burst): class a is deferrable.
    let text = r#"
        duration = "6h"
        warmup = "10m"
        seed = 5
        [[pool]]
        name = "gpu"
        gpus = 20
        policy = { kind = "deferral", threshold = "20s", reserved = 0.1 }
        [[class]]
        name = "a"
        pool = "gpu"
        deferrable = true
        service = { dist = "exponential", mean = "10s" }
        [class.arrivals]
        process = "profile"
        base = "1/s"
        spikes = [{ at = "1h", peak = "1.5/s", ramp = "0s", hold = "1h", decay = "0s" }]
        [[class]]
        name = "b"
        pool = "gpu"
        arrivals = { process = "poisson", rate = "0.5/s" }
        service = { dist = "exponential", mean = "10s" }
    "#;
    let r = simulate(&scenario(text), 0).unwrap();
    let (a, b) = (&r.classes[0], &r.classes[1]);
    assert!(a.deferred > 1000, "{} deferred", a.deferred);
    assert_eq!(b.deferred, 0, "b is not deferrable");
    // Everything is eventually served (no patience): conservation.
    assert_eq!(a.arrivals, a.completed + a.in_system);
    assert_eq!((a.in_system, b.in_system), (0, 0));
    assert_eq!(r.pools[0].deferred, a.deferred);
    // The time series counts deferrals per bucket, warm-up included: at
    // least the measured ones, and the same for the class and its pool.
    let per_scope = |scope: Scope| -> u64 {
        r.timeseries
            .iter()
            .filter(|row| row.scope == scope)
            .map(|row| row.deferred)
            .sum()
    };
    assert!(per_scope(Scope::Class(0)) >= a.deferred);
    assert_eq!(per_scope(Scope::Class(1)), 0);
    assert_eq!(per_scope(Scope::Pool(0)), per_scope(Scope::Class(0)));
    // Regular requests wait about as long as the threshold-implied bound:
    // a regular arrival is only queued behind at most ~threshold of work.
    let regular_p99 = b.wait.quantile_s(0.99).unwrap();
    assert!(regular_p99 < 2.0 * 20.0, "regular p99 wait {regular_p99}");
    // Deferred requests take much longer, and are reported separately.
    let deferred_mean = a.deferred_latency.mean_s().unwrap();
    assert!(
        deferred_mean > 5.0 * b.latency.mean_s().unwrap(),
        "deferred {deferred_mean}"
    );
    // The same load under FIFO makes everyone wait.
    let fifo = simulate(
        &scenario(&text.replace(
            "policy = { kind = \"deferral\", threshold = \"20s\", reserved = 0.1 }",
            "policy = \"fifo\"",
        )),
        0,
    )
    .unwrap();
    assert!(fifo.classes[1].wait.quantile_s(0.99).unwrap() > 10.0 * regular_p99.max(1.0));
}
