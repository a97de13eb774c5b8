//! Pool dynamics: failures and repairs, the autoscaler, capacity schedules.

mod common;

use common::assert_matches;
use std::path::Path;

use surge::model::{RunResult, Scenario, Scope};
use surge::scenario::load_str;
use surge::simulate;

fn scenario(toml: &str) -> Scenario {
    load_str(toml, "<test>", Path::new("."), "test", &[])
        .unwrap_or_else(|e| panic!("{e}"))
        .scenario
}

/// (bucket start s, online GPUs mean) of pool 0.
fn online(r: &RunResult) -> Vec<(f64, f64)> {
    r.timeseries
        .iter()
        .filter(|x| x.scope == Scope::Pool(0))
        .map(|x| (x.start.as_secs_f64(), x.online_gpus_mean.unwrap()))
        .collect()
}

#[test]
fn failures_leave_gpus_available_mtbf_over_mtbf_plus_mttr() {
    // Each GPU alternates up (mean 10 h) and down (mean 2 h): availability
    // 10 / 12. Light load, so online GPUs are the working ones.
    let s = scenario(
        r#"
        duration = "400h"
        warmup = "20h"
        replications = 8
        [[pool]]
        name = "gpu"
        gpus = 100
        failures = { mtbf = "10h", mttr = "2h" }
        [[class]]
        name = "jobs"
        pool = "gpu"
        arrivals = { process = "poisson", rate = "1/s" }
        service = { dist = "exponential", mean = "2s" }
        retry = { max_attempts = 3 }
    "#,
    );
    let runs = common::run_all(&s);
    assert_matches(
        "available GPUs",
        &runs,
        100.0 * 10.0 / 12.0,
        0.0,
        0.01,
        |r| r.pools[0].gpus_mean,
    );
    for r in &runs {
        let c = &r.classes[0];
        assert!(c.failed_attempts > 0, "some work in flight is lost");
        assert_eq!(r.pools[0].failed, c.failed_attempts);
        assert_eq!(c.arrivals, c.completed + c.failed + c.in_system);
        assert!(
            c.failed < c.failed_attempts / 10,
            "most lost work succeeds on retry"
        );
    }
}

#[test]
fn autoscaler_respects_delay_cooldown_and_max() {
    // Deterministic load needing 4 GPUs on a pool that starts with 1.
    // Decisions every 5 s: at 5 s (utilization 1) one GPU is requested and
    // comes online at 15 s; the 30 s cooldown blocks 10–30 s; at 35 s a
    // third is requested, online at 45 s; then max = 3 holds.
    let times: Vec<String> = (0..240).map(|i| format!("\"{}ms\"", i * 500)).collect();
    let s = scenario(&format!(
        r#"
        duration = "120s"
        bucket = "1s"
        [[pool]]
        name = "gpu"
        gpus = 1
        autoscale = {{ min = 1, max = 3, step = 1, provision_delay = "10s", cooldown = "30s", interval = "5s", trigger = {{ utilization = 0.8 }} }}
        [[class]]
        name = "jobs"
        pool = "gpu"
        arrivals = {{ process = "explicit", at = [{}] }}
        service = {{ dist = "deterministic", value = "2s" }}
    "#,
        times.join(", ")
    ));
    let r = simulate(&s, 0).unwrap();
    for (t, g) in online(&r) {
        let expected = if t < 15.0 {
            1.0
        } else if t < 45.0 {
            2.0
        } else {
            3.0
        };
        if t < 120.0 {
            assert_eq!(g, expected, "online GPUs at {t} s");
        }
        assert!(g <= 3.0);
    }
    // Cost counts from the request: 1 GPU on [0, 5), 2 on [5, 35),
    // 3 on [35, 120) = 320 GPU-seconds.
    assert!(
        (r.pools[0].gpu_hours - 320.0 / 3600.0).abs() < 1e-9,
        "{}",
        r.pools[0].gpu_hours
    );
}

#[test]
fn capacity_schedule_changes_online_gpus_at_the_right_times_and_drains() {
    let s = scenario(
        r#"
        duration = "30m"
        bucket = "1m"
        [[pool]]
        name = "gpu"
        gpus = 2
        capacity = [{ at = "10m", gpus = "+3" }, { at = "20m", gpus = 1 }]
        [[class]]
        name = "jobs"
        pool = "gpu"
        arrivals = { process = "poisson", rate = "4/s" }
        service = { dist = "deterministic", value = "2s" }
        patience = { dist = "deterministic", value = "1m" }
    "#,
    );
    let r = simulate(&s, 0).unwrap();
    for (t, g) in online(&r) {
        let minute = (t / 60.0).round() as u32;
        match minute {
            0..=9 => assert_eq!(g, 2.0, "minute {minute}"),
            10..=19 => assert_eq!(g, 5.0, "minute {minute}"),
            // Removal drains: the 4 removed GPUs finish their 2 s jobs.
            20 => assert!(g > 1.0 && g < 1.2, "minute 20: {g}"),
            21..=29 => assert_eq!(g, 1.0, "minute {minute}"),
            _ => {}
        }
    }
    assert_eq!(r.classes[0].failed, 0, "removing GPUs never kills work");
}

/// One GPU, batches of up to 4 taking 1 s + 0.5 s per request, waiting at
/// most 2 s to fill:
///
/// - 0.0, 0.1, 0.2, 0.3 s: four arrivals; the fourth fills the batch, which
///   runs 0.3 → 3.3 s (1 + 4 × 0.5 = 3 s);
/// - 1.0, 1.5 s: two more wait; at 3.3 s the GPU is free but the batch is
///   not full, so it waits 2 s and starts a batch of 2 at 5.3 s → 7.3 s.
#[test]
fn batching_matches_a_hand_trace() {
    let s = scenario(
        r#"
        duration = "10s"
        [[pool]]
        name = "gpu"
        gpus = 1
        batching = { max_batch = 4, base = "1s", per_item = "500ms", max_wait = "2s" }
        [[class]]
        name = "images"
        pool = "gpu"
        arrivals = { process = "explicit", at = ["0s", "100ms", "200ms", "300ms", "1s", "1500ms"] }
        service = { dist = "deterministic", value = "2s" }
    "#,
    );
    let r = simulate(&s, 0).unwrap();
    let c = &r.classes[0];
    assert_eq!(c.completed, 6);
    let waits = [0.3, 0.2, 0.1, 0.0, 4.3, 3.8];
    let latencies = [3.3, 3.2, 3.1, 3.0, 6.3, 5.8];
    let mean = |x: &[f64]| x.iter().sum::<f64>() / x.len() as f64;
    assert!((c.wait.mean_s().unwrap() - mean(&waits)).abs() < 1e-9);
    assert!((c.latency.mean_s().unwrap() - mean(&latencies)).abs() < 1e-9);
    // The GPU is busy 3 s + 2 s of the 10 s window.
    assert!((r.pools[0].busy_gpus_mean - 0.5).abs() < 1e-9);
}

#[test]
fn saturated_batching_throughput_is_full_batches_back_to_back() {
    // 100 requests at once on 2 GPUs, batches of 4 taking 3 s: 25 batches,
    // 13 on one GPU and 12 on the other: the last ends at 39 s.
    let times = vec!["\"0s\""; 100].join(", ");
    let s = scenario(&format!(
        r#"
        duration = "1s"
        [[pool]]
        name = "gpu"
        gpus = 2
        batching = {{ max_batch = 4, base = "1s", per_item = "500ms", max_wait = "10s" }}
        [[class]]
        name = "images"
        pool = "gpu"
        arrivals = {{ process = "explicit", at = [{times}] }}
        service = {{ dist = "deterministic", value = "1s" }}
    "#
    ));
    let r = simulate(&s, 0).unwrap();
    assert_eq!(r.classes[0].completed, 100);
    assert!((r.classes[0].latency.quantile_s(1.0).unwrap() - 39.0).abs() < 39.0 * 1e-3);
    assert_eq!(r.end_time.as_secs_f64(), 39.0);
}
