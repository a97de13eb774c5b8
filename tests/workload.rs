//! Viral load: arrival profiles, trace replay, user populations, patience,
//! retries and rate limits, against theory and exact expectations.

mod common;

use common::assert_matches;
use std::path::Path;

use surge::model::{ArrivalSpec, RunResult, Scenario, Scope};
use surge::scenario::load_str;
use surge::simulate;

fn scenario(toml: &str) -> Scenario {
    load_str(toml, "<test>", Path::new("."), "test", &[])
        .unwrap_or_else(|e| panic!("{e}"))
        .scenario
}

fn scenario_in(dir: &Path, toml: &str) -> Scenario {
    load_str(toml, "<test>", dir, "test", &[])
        .unwrap_or_else(|e| panic!("{e}"))
        .scenario
}

/// Arrivals per time-series bucket of class 0.
fn class_arrivals(r: &RunResult) -> Vec<(f64, f64, u64)> {
    r.timeseries
        .iter()
        .filter(|row| row.scope == Scope::Class(0))
        .map(|row| {
            (
                row.start.as_secs_f64(),
                row.width.as_secs_f64(),
                row.arrivals,
            )
        })
        .collect()
}

/// Pearson's chi-squared of bucket counts against the integral of the rate
/// over each bucket, with its degrees of freedom (buckets with an expected
/// count of at least 5; the counts are independent Poisson by construction).
fn chi_squared(s: &Scenario, r: &RunResult) -> (f64, usize) {
    let ArrivalSpec::Profile(profile) = &s.classes[0].arrivals else {
        panic!("a profile")
    };
    let duration = s.duration.as_secs_f64();
    let mut chi2 = 0.0;
    let mut k = 0;
    for (start, width, observed) in class_arrivals(r) {
        let end = (start + width).min(duration);
        if end <= start {
            continue;
        }
        let expected = profile.integral(start, end);
        if expected >= 5.0 {
            chi2 += (observed as f64 - expected).powi(2) / expected;
            k += 1;
        }
    }
    (chi2, k)
}

/// Upper 0.1% point of χ²(k), by the Wilson–Hilferty approximation
/// (accurate to well under 1% for k ≥ 30).
fn chi2_critical_999(k: usize) -> f64 {
    let k = k as f64;
    let z = 3.090_232; // standard normal 0.999 quantile
    k * (1.0 - 2.0 / (9.0 * k) + z * (2.0 / (9.0 * k)).sqrt()).powi(3)
}

#[test]
fn spike_profile_counts_match_the_integral_of_the_rate() {
    let s = scenario(
        r#"
        duration = "12h"
        bucket = "5m"
        [[pool]]
        name = "gpu"
        gpus = 100000
        [[class]]
        name = "signups"
        pool = "gpu"
        service = { dist = "deterministic", value = "1ms" }
        [class.arrivals]
        process = "profile"
        base = "2/s"
        spikes = [
            { at = "2h", peak = "100k/h", ramp = "30m", hold = "1h", decay = "2h", shape = "exponential" },
            { at = "8h", peak = "20/s", ramp = "0s", hold = "20m", decay = "1h", shape = "linear" },
        ]
    "#,
    );
    let r = simulate(&s, 0).unwrap();
    let (chi2, k) = chi_squared(&s, &r);
    assert!(k > 100, "{k} buckets");
    assert!(
        chi2 < chi2_critical_999(k),
        "χ² = {chi2:.1} over {k} buckets"
    );
    // The spike is there: the busiest bucket is in the plateau.
    let (t, _, n) = class_arrivals(&r).into_iter().max_by_key(|x| x.2).unwrap();
    assert!(
        (9000.0..=10_800.0).contains(&t),
        "peak bucket at {t} s with {n}"
    );
}

#[test]
fn diurnal_profile_counts_match_the_integral_of_the_rate() {
    let s = scenario(
        r#"
        duration = "2d"
        bucket = "15m"
        [[pool]]
        name = "gpu"
        gpus = 100000
        [[class]]
        name = "chat"
        pool = "gpu"
        arrivals = { process = "profile", base = "1200/min", diurnal = { amplitude = 0.8, peak = "20h" }, points = [["0h", "0/s"], ["24h", "10/s"]], interpolation = "linear" }
        service = { dist = "deterministic", value = "1ms" }
    "#,
    );
    let r = simulate(&s, 0).unwrap();
    let (chi2, k) = chi_squared(&s, &r);
    assert!(k > 150, "{k} buckets");
    assert!(
        chi2 < chi2_critical_999(k),
        "χ² = {chi2:.1} over {k} buckets"
    );
}

#[test]
fn erlang_a_abandonment_and_served_wait_match_theory() {
    // M/M/8+M: λ = 9/s (overloaded without abandonment), μ = 1/s, mean
    // patience 2 s (θ = 0.5/s). Replications with fixed seeds; acceptance
    // by the 99.9% CI as in tests/analytic.rs.
    let s = {
        let mut s = scenario(
            r#"
            duration = "8h"
            warmup = "20m"
            replications = 10
            seed = 11
            [[pool]]
            name = "gpu"
            gpus = 8
            [[class]]
            name = "jobs"
            pool = "gpu"
            arrivals = { process = "poisson", rate = "9/s" }
            service = { dist = "exponential", mean = "1s" }
            patience = { dist = "exponential", mean = "2s" }
        "#,
        );
        s.drain = None;
        s
    };
    let runs = common::run_all(&s);
    common::assert_erlang_a(&runs, 8, 9.0, 1.0, 0.5, 0.0);
    for r in &runs {
        let c = &r.classes[0];
        assert_eq!(c.arrivals, c.completed + c.abandoned + c.in_system);
        assert_eq!(
            c.abandoned, c.abandoned_attempts,
            "no retries: every abandonment is final"
        );
    }
}

#[test]
fn user_population_request_rate_is_signups_times_requests_per_session() {
    // 2 signups/s × 4 requests per session (Poisson) = 8 requests/s, split
    // 3:1 between two classes. Think time 5 s; the window starts after the
    // sessions reach steady state.
    let s = scenario(
        r#"
        duration = "3h"
        warmup = "15m"
        replications = 8
        [[pool]]
        name = "gpu"
        gpus = 64
        [[population]]
        name = "free"
        signups = { process = "poisson", rate = "2/s" }
        requests = { dist = "poisson", mean = 4 }
        think = { dist = "exponential", mean = "5s" }
        [[class]]
        name = "chat"
        pool = "gpu"
        arrivals = { process = "users", population = "free", share = 3 }
        service = { dist = "exponential", mean = "1s" }
        [[class]]
        name = "image"
        pool = "gpu"
        arrivals = { process = "users", population = "free", share = 1 }
        service = { dist = "exponential", mean = "1s" }
    "#,
    );
    let runs = common::run_all(&s);
    let rate = |r: &RunResult, i: usize| r.classes[i].arrivals as f64 / r.window_s;
    assert_matches("request rate", &runs, 8.0, 0.0, 0.02, |r| {
        rate(r, 0) + rate(r, 1)
    });
    assert_matches("chat share", &runs, 0.75, 0.0, 0.02, |r| {
        rate(r, 0) / (rate(r, 0) + rate(r, 1))
    });
    // Users online ≈ signups × session length (Little's law): a session of
    // N requests lasts N × (wait + service) + (N − 1) × think on average;
    // here ≈ 4 × 1 s + 3 × 5 s = 19 s; plus empty sessions last 0.
    let expected_users = 2.0 * (4.0 * 1.0 + (4.0 - 1.0 + (-4.0f64).exp()) * 5.0);
    assert_matches("users online", &runs, expected_users, 0.0, 0.05, |r| {
        r.populations[0].users_online_mean
    });
    assert_eq!(s.mean_rates().iter().sum::<f64>(), 8.0);
}

#[test]
fn class_token_bucket_never_admits_more_than_rate_plus_burst() {
    let s = scenario(
        r#"
        duration = "1h"
        bucket = "10s"
        [[pool]]
        name = "gpu"
        gpus = 1000
        [[class]]
        name = "api"
        pool = "gpu"
        arrivals = { process = "poisson", rate = "20/s" }
        service = { dist = "deterministic", value = "10ms" }
        limit = { rate = "5/s", burst = 50 }
    "#,
    );
    let r = simulate(&s, 0).unwrap();
    let admitted: Vec<(f64, u64)> = r
        .timeseries
        .iter()
        .filter(|row| row.scope == Scope::Class(0))
        .map(|row| (row.width.as_secs_f64(), row.arrivals - row.rejected))
        .collect();
    // Over any window of consecutive buckets of total length T, at most
    // rate·T + burst requests pass.
    for i in 0..admitted.len() {
        let (mut t, mut n) = (0.0, 0u64);
        for &(w, a) in &admitted[i..] {
            t += w;
            n += a;
            assert!(
                n as f64 <= 5.0 * t + 50.0 + 1e-9,
                "{n} admitted in {t} s from bucket {i}"
            );
        }
    }
    // And the limit binds: close to 5/s get through.
    let c = &r.classes[0];
    let admitted_rate = (c.arrivals - c.rejected) as f64 / r.window_s;
    assert!((admitted_rate - 5.0).abs() < 0.1, "{admitted_rate}");
    assert_eq!(c.arrivals, c.completed + c.rejected + c.in_system);
}

#[test]
fn per_user_daily_quota_is_never_exceeded() {
    // Every user asks for 10 images, one every ~2 s; free users get 3 per
    // day (a token bucket of 3 refilled at 3/day: a rolling window).
    let s = scenario(
        r#"
        duration = "2h"
        [[pool]]
        name = "gpu"
        gpus = 500
        [[population]]
        name = "free"
        signups = { process = "poisson", rate = "1/s" }
        requests = { dist = "deterministic", value = 10 }
        think = { dist = "exponential", mean = "2s" }
        [[class]]
        name = "image-free"
        pool = "gpu"
        arrivals = { process = "users", population = "free" }
        service = { dist = "deterministic", value = "5s" }
        limit = { rate = "3/d", burst = 3, per = "user" }
    "#,
    );
    let r = simulate(&s, 0).unwrap();
    let c = &r.classes[0];
    let signups = r.populations[0].signups;
    let admitted = c.completed;
    // A session lasts < 2 min ≪ a day, so refills add < 1 token per user.
    assert!(
        admitted <= 3 * signups,
        "{admitted} admitted for {signups} users"
    );
    assert!(
        admitted >= 3 * (signups - 200),
        "{admitted} admitted for {signups} users"
    );
    assert_eq!(c.arrivals, c.completed + c.rejected + c.in_system);
    assert!(c.rejected > 6 * (signups - 200));
}

#[test]
fn trace_timestamps_are_replayed_exactly() {
    let dir = tempfile::TempDir::new().unwrap();
    let times: Vec<f64> = (0..500)
        .map(|i| f64::from(i) * 1.7 + f64::from(i % 7) * 0.013)
        .collect();
    let mut csv = String::from("timestamp_s\n");
    for t in &times {
        csv.push_str(&format!("{t}\n"));
    }
    std::fs::write(dir.path().join("trace.csv"), csv).unwrap();
    let s = scenario_in(
        dir.path(),
        r#"
        duration = "20m"
        bucket = "10s"
        [[pool]]
        name = "gpu"
        gpus = 1000
        [[class]]
        name = "jobs"
        pool = "gpu"
        arrivals = { process = "trace", file = "trace.csv" }
        service = { dist = "deterministic", value = "1ms" }
    "#,
    );
    let r = simulate(&s, 0).unwrap();
    for (start, width, n) in class_arrivals(&r) {
        let expected = times
            .iter()
            .filter(|&&t| t >= start && t < start + width)
            .count() as u64;
        assert_eq!(n, expected, "bucket at {start} s");
    }
    // No waiting: each request's latency is its service time, so the
    // arrivals themselves are where the trace says.
    assert_eq!(r.classes[0].arrivals, 500);
    // Scale 2 doubles every timestamp.
    let mut doubled = s.clone();
    if let ArrivalSpec::Trace(surge::model::TraceSpec::Times { scale, .. }) =
        &mut doubled.classes[0].arrivals
    {
        *scale = 2.0;
    }
    assert_eq!(simulate(&doubled, 0).unwrap().classes[0].arrivals, 1000);
}

#[test]
fn trace_counts_are_replayed_per_interval() {
    let dir = tempfile::TempDir::new().unwrap();
    let counts = [12u64, 0, 7, 30, 3, 18];
    let mut csv = String::from("minute,requests\n");
    for (i, n) in counts.iter().enumerate() {
        csv.push_str(&format!("{}m,{n}\n", i));
    }
    std::fs::write(dir.path().join("counts.csv"), csv).unwrap();
    let s = scenario_in(
        dir.path(),
        r#"
        duration = "6m"
        bucket = "1m"
        [[pool]]
        name = "gpu"
        gpus = 1000
        [[class]]
        name = "jobs"
        pool = "gpu"
        arrivals = { process = "trace", file = "counts.csv", format = "counts", spread = "uniform" }
        service = { dist = "deterministic", value = "1ms" }
    "#,
    );
    let got: Vec<u64> = class_arrivals(&simulate(&s, 0).unwrap())
        .iter()
        .map(|x| x.2)
        .collect();
    assert_eq!(got, counts);
}

#[test]
fn retry_storms_emerge_when_the_pool_is_undersized() {
    let text = |gpus: u32| {
        format!(
            r#"
            duration = "2h"
            warmup = "10m"
            [[pool]]
            name = "gpu"
            gpus = {gpus}
            [[class]]
            name = "image"
            pool = "gpu"
            arrivals = {{ process = "poisson", rate = "1/s" }}
            service = {{ dist = "lognormal", mean = "10s", cv = 0.5 }}
            patience = {{ dist = "exponential", mean = "30s" }}
            retry = {{ max_attempts = 5, backoff = {{ base = "2s", factor = 2, max = "1m", jitter = 1.0 }} }}
        "#
        )
    };
    let big = simulate(&scenario(&text(14)), 0).unwrap();
    let small = simulate(&scenario(&text(8)), 0).unwrap();
    let (a_big, a_small) = (
        big.classes[0].attempts_per_request().unwrap(),
        small.classes[0].attempts_per_request().unwrap(),
    );
    assert!(a_big < 1.1, "a sized pool needs few retries: {a_big}");
    assert!(
        a_small > 2.0,
        "an undersized pool makes clients retry: {a_small}"
    );
    for r in [&big, &small] {
        let c = &r.classes[0];
        assert_eq!(c.arrivals, c.completed + c.abandoned + c.in_system);
        assert!(c.abandoned_attempts >= c.abandoned);
        // Latency counts from the first attempt: a retried request's
        // latency includes its earlier waits and backoffs.
        assert!(c.latency.quantile_s(0.99).unwrap() > 10.0);
    }
    // The retries show in the time series as extra load.
    let retries: u64 = small
        .timeseries
        .iter()
        .filter(|x| x.scope == Scope::Class(0))
        .map(|x| x.retries)
        .sum();
    assert!(retries > 0);
    // Every attempt ends once: it completes or is abandoned (no limits,
    // no failures here), and nothing is left after the drain.
    for r in [&big, &small] {
        let c = &r.classes[0];
        assert_eq!(c.in_system, 0);
        assert_eq!(c.attempts, c.completed + c.abandoned_attempts);
    }
    // The storm's size, from capacity: abandoned attempts use no GPU time,
    // so the saturated 8-GPU pool completes 8 / 10 s = 0.8 requests per
    // second against 1/s offered. Over the 110 measured minutes the
    // completed share is that ratio (finite-horizon edges: ±0.04), the
    // GPUs are busy throughout, and the other ~20% of requests, each
    // retried up to 5 times, make the storm: attempts per request between
    // 1 + 4 × 0.2 (every lost request retried to the end, nobody else) and
    // the observed bound of 5.
    let c = &small.classes[0];
    let completed_share = c.completed as f64 / c.arrivals as f64;
    assert!(
        (completed_share - 0.8).abs() < 0.04,
        "completed share {completed_share}"
    );
    assert!(
        small.pools[0].utilization > 0.97,
        "{}",
        small.pools[0].utilization
    );
    let lost = 1.0 - completed_share;
    assert!(
        a_small >= 1.0 + 4.0 * lost && a_small <= 5.0,
        "attempts per request {a_small} with {lost} lost"
    );
    assert_eq!(c.abandoned, (c.arrivals - c.completed));
}
