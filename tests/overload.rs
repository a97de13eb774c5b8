//! The regime surge exists for: undersized pools, spikes, bounded queues.
//! Verdicts follow from the model and the run; every run is bounded by
//! its budget; inputs that cannot fit are refused with a located error.

use assert_cmd::Command;
use predicates::prelude::*;
use std::path::Path;
use surge::model::{RunResult, StopReason, VerdictKind};
use surge::scenario::{Override, load_str};
use surge::simulate;

fn run(toml: &str, overrides: &[&str]) -> RunResult {
    let ov: Vec<Override> = overrides
        .iter()
        .map(|o| Override::parse(o).unwrap())
        .collect();
    let loaded = load_str(toml, "<test>", Path::new("."), "test", &ov)
        .unwrap_or_else(|e| panic!("valid scenario: {e}"));
    simulate(&loaded.scenario, 0).unwrap()
}

const MMC: &str = r#"
    duration = "1h"
    [[pool]]
    name = "gpu"
    gpus = 8
    [[class]]
    name = "jobs"
    pool = "gpu"
    arrivals = { process = "poisson", rate = "7.2/s" }
    service = { dist = "exponential", mean = "1s" }
"#;

/// 4 GPUs, 1/s of 1 s jobs, and a 1,000/s spike held 1 s at 5 min: the
/// mean load is (600 + 1,000) / 600 / 4 = 0.667 (the old Simpson estimate
/// said 1.55 and "grows without bound"); the spike's window is overloaded
/// and its ~1,000-request backlog drains.
#[test]
fn a_short_spike_is_a_transient_overload_with_the_true_mean_load() {
    let text = r#"
        duration = "10m"
        [[pool]]
        name = "gpu"
        gpus = 4
        [[class]]
        name = "jobs"
        pool = "gpu"
        service = { dist = "exponential", mean = "1s" }
        [class.arrivals]
        process = "profile"
        base = "1/s"
        spikes = [{ at = "5m", peak = "1k/s", ramp = "0s", hold = "1s", decay = "0s" }]
    "#;
    let r = run(text, &[]);
    let p = &r.pools[0];
    assert!(
        (p.offered_load - 1600.0 / 600.0 / 4.0).abs() < 1e-9,
        "{}",
        p.offered_load
    );
    let v = p.verdict;
    assert_eq!(v.kind, VerdictKind::TransientOverload, "{}", v.describe());
    let (from, to) = v.overload.unwrap();
    assert!(from.as_secs_f64() <= 300.0 && to.as_secs_f64() >= 301.0);
    assert!(
        to.as_secs_f64() - from.as_secs_f64() < 60.0,
        "{}",
        v.describe()
    );
    assert!(v.backlog_max > 900, "{}", v.backlog_max);
    assert!(v.drained_at.is_some());
    // A 1M/s spike held 1 ms is 1,000 arrivals too, with the same verdict.
    let r = run(
        text,
        &[
            r#"class.jobs.arrivals.spikes=[{ at = "5m", peak = "1M/s", ramp = "0s", hold = "1ms", decay = "0s" }]"#,
        ],
    );
    assert!((r.pools[0].offered_load - 1600.0 / 600.0 / 4.0).abs() < 1e-9);
    assert_eq!(r.pools[0].verdict.kind, VerdictKind::TransientOverload);
}

/// M/M/8 at ρ = 0.9 is stable in every replication: the load is the
/// model's expectation, so a noisy queue never reads as overload.
#[test]
fn a_stable_queue_is_stable_whatever_the_seed() {
    for seed in 1..=8 {
        let r = run(MMC, &[&format!("seed={seed}")]);
        let v = r.pools[0].verdict;
        assert_eq!(v.kind, VerdictKind::Stable, "seed {seed}: {}", v.describe());
        assert!((v.peak_load - 0.9).abs() < 1e-9);
    }
}

/// 12/s on 8 GPUs (ρ = 1.5) with nothing turned away: overloaded, and the
/// hint asks for ⌈1.5 × 8⌉ + 1 = 13 GPUs.
#[test]
fn an_undersized_pool_is_overloaded_with_an_honest_hint() {
    let r = run(MMC, &["class.jobs.arrivals.rate=12/s"]);
    let v = r.pools[0].verdict;
    assert_eq!(v.kind, VerdictKind::Overloaded, "{}", v.describe());
    assert!(
        v.describe().contains("at least 13 GPUs"),
        "{}",
        v.describe()
    );
    // Goodput is capped by capacity: 8 GPUs × 1/s.
    assert!(
        r.classes[0].throughput_per_s <= 8.0 * 1.02,
        "{}",
        r.classes[0].throughput_per_s
    );
}

/// ρ = 1.5, but shedding (max_queue = 4) or patience (Erlang-A) keeps the
/// queue finite: bounded, with the share turned away ≈ 1 − 1/ρ = 1/3.
#[test]
fn shedding_and_patience_bound_an_overloaded_queue() {
    for extra in [
        r#"pool.gpu.policy={ kind = "shed", max_queue = 4 }"#,
        r#"class.jobs.patience={ dist = "exponential", mean = "10s" }"#,
    ] {
        let r = run(MMC, &["class.jobs.arrivals.rate=12/s", extra]);
        let v = r.pools[0].verdict;
        assert_eq!(v.kind, VerdictKind::Bounded, "{extra}: {}", v.describe());
        assert!(
            (v.turned_away - 1.0 / 3.0).abs() < 0.03,
            "{extra}: {}",
            v.turned_away
        );
        assert!(r.pools[0].queue_max < 200);
    }
}

/// A rate of 1G/s would queue without end: the budget stops the run at
/// max_in_system, keeps what it covered, and the verdict says overloaded.
#[test]
fn the_in_system_budget_stops_a_run_that_would_exhaust_memory() {
    let r = run(
        MMC,
        &["class.jobs.arrivals.rate=1G/s", "max_in_system=100000"],
    );
    let s = r.stopped.expect("stopped");
    assert_eq!(s.reason, StopReason::InSystem(100_000));
    assert_eq!(s.in_system, 100_001);
    assert!(s.at.as_secs_f64() < 1.0);
    assert_eq!(r.pools[0].verdict.kind, VerdictKind::Overloaded);
    let c = &r.classes[0];
    assert_eq!(
        c.arrivals,
        c.completed + c.rejected + c.abandoned + c.failed + c.in_system
    );
    assert!(r.timeseries.iter().all(|row| row.start <= s.at));
}

/// An autoscaler ticking every nanosecond validates, and the event budget
/// stops it instead of running 3.6e12 events.
#[test]
fn the_event_budget_stops_a_run_with_a_runaway_event_count() {
    let r = run(
        MMC,
        &[
            r#"pool.gpu.autoscale={ min = 8, max = 16, interval = "1ns", trigger = { utilization = 0.9 } }"#,
            "max_events=200000",
        ],
    );
    let s = r.stopped.expect("stopped");
    assert_eq!(s.reason, StopReason::Events(200_000));
    assert_eq!(r.events, 200_000);
}

/// One request served for a year after a 1 h run: the drain gets as many
/// buckets as the arrivals had (at least 500), and the rest of it is one
/// last bucket, instead of 250,000 rows per scope (664 MB for a 300-day
/// request, issue #29).
#[test]
fn a_year_long_drain_keeps_the_time_series_bounded() {
    let r = run(
        r#"
        duration = "1h"
        [[pool]]
        name = "gpu"
        gpus = 1
        [[class]]
        name = "jobs"
        pool = "gpu"
        arrivals = { process = "explicit", at = ["10s"] }
        service = { dist = "deterministic", value = "365d" }
    "#,
        &[],
    );
    assert_eq!(r.classes[0].completed, 1);
    let rows = r
        .timeseries
        .iter()
        .filter(|row| row.scope == surge::model::Scope::Pool(0))
        .count();
    // 500 buckets of the hour (7.2 s each), 500 more of the drain, one last.
    assert!(rows <= 1_001, "{rows} rows");
    let last = r.timeseries.last().unwrap();
    assert!(last.start.as_secs_f64() + last.width.as_secs_f64() >= 365.0 * 86_400.0);
}

/// 600 requests of 1,000 days on 2 GPUs need 821 years, past what u64
/// nanoseconds hold (≈ 584 years): the run used to loop for ever closing
/// buckets at the end of time, growing to 15.7 GB (issue #29). It stops at
/// the last event that is on time, and says why.
#[test]
fn a_drain_past_the_end_of_time_stops_with_a_word_instead_of_hanging() {
    let r = run(
        r#"
        duration = "10m"
        warmup = "0s"
        [[pool]]
        name = "gpu"
        gpus = 2
        [[class]]
        name = "jobs"
        pool = "gpu"
        arrivals = { process = "poisson", rate = "1/s" }
        service = { dist = "deterministic", value = "1000d" }
    "#,
        &[],
    );
    let stopped = r.stopped.expect("stopped at the end of time");
    assert_eq!(stopped.reason, StopReason::EndOfTime);
    assert!(stopped.at.0 < u64::MAX);
    assert!(r.classes[0].completed > 0 && r.classes[0].in_system > 0);
    assert!(stopped.describe().contains("end of simulated time"));
}

/// A spike of 10^14/s held 1 ns an hour in: a gap of 10^-14 s is below
/// the resolution of f64 seconds at 3,600 s, so the arrival sampler never
/// advanced and no budget fired (issue #29). Time now moves at least to the
/// next representable instant, and the in-system budget stops the flood.
#[test]
fn a_spike_finer_than_the_clock_still_moves_time_and_meets_the_budget() {
    let r = run(
        r#"
        duration = "2h"
        max_in_system = 100000
        [[pool]]
        name = "gpu"
        gpus = 8
        [[class]]
        name = "jobs"
        pool = "gpu"
        service = { dist = "exponential", mean = "1s" }
        [class.arrivals]
        process = "profile"
        base = "7/s"
        spikes = [{ at = "1h", peak = "100000G/s", ramp = "0s", hold = "1ns", decay = "0s" }]
    "#,
        &[],
    );
    let stopped = r.stopped.expect("the flood meets the budget");
    assert_eq!(stopped.reason, StopReason::InSystem(100_000));
    assert!((stopped.at.as_secs_f64() - 3600.0).abs() < 1e-6);
}

#[test]
fn a_runaway_autoscaler_or_failure_rate_is_warned_with_its_event_count() {
    for (set, key) in [
        (
            r#"pool.gpu.autoscale={ min = 8, max = 16, interval = "1ns", trigger = { utilization = 0.9 } }"#,
            "pool.gpu.autoscale.interval: about 3.6e12 events",
        ),
        (
            r#"pool.gpu.failures={ mtbf = "1us", mttr = "1s" }"#,
            "pool.gpu.failures.mtbf: about 5.8e10 events",
        ),
    ] {
        surge()
            .args(["validate", "--set", set])
            .arg(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/mmc.toml"))
            .args(["--set", "duration=1h"])
            .assert()
            .success()
            .stderr(predicate::str::contains(key))
            .stderr(predicate::str::contains("the run will stop early"));
    }
}

fn surge() -> Command {
    Command::cargo_bin("surge").unwrap()
}

#[test]
fn a_stopped_run_writes_its_outputs_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("flood.toml");
    std::fs::write(&file, MMC).unwrap();
    surge()
        .args([
            "run",
            "--max-in-system",
            "50000",
            "--charts",
            "none",
            "--set",
        ])
        .arg("class.jobs.arrivals.rate=1G/s")
        .arg(&file)
        .arg("--out")
        .arg(dir.path().join("out"))
        .assert()
        .success()
        .stdout(predicate::str::contains("STOPPED EARLY"))
        .stdout(predicate::str::contains("max_in_system"));
    let pools = std::fs::read_to_string(dir.path().join("out/pools.csv")).unwrap();
    assert!(pools.contains(",overloaded"), "{pools}");
}

#[test]
fn a_bucket_too_narrow_is_refused_from_the_flag_too() {
    surge()
        .args(["run", "scenarios/mmc.toml", "--bucket", "1ns", "--out"])
        .arg(tempfile::tempdir().unwrap().path().join("o"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "bucket: expected at most 200000 buckets",
        ));
}

#[test]
fn special_files_are_refused_before_they_are_read() {
    surge()
        .args(["validate", "/dev/zero"])
        .timeout(std::time::Duration::from_secs(20))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("expected a regular file"));
    // A FIFO as a trace file: refused, not waited on.
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("trace.csv");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    if !made.is_ok_and(|s| s.success()) {
        eprintln!("skipping the FIFO case: mkfifo unavailable");
        return;
    }
    let file = dir.path().join("t.toml");
    std::fs::write(
        &file,
        MMC.replace(
            r#"arrivals = { process = "poisson", rate = "7.2/s" }"#,
            r#"arrivals = { process = "trace", file = "trace.csv" }"#,
        ),
    )
    .unwrap();
    surge()
        .arg("validate")
        .arg(&file)
        .timeout(std::time::Duration::from_secs(20))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("t.toml:9:"))
        .stderr(predicate::str::contains("expected a regular file"));
}

#[test]
fn a_horizon_past_ten_years_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("long.toml");
    std::fs::write(
        &file,
        MMC.replace("duration = \"1h\"", "duration = \"4000d\""),
    )
    .unwrap();
    surge()
        .arg("validate")
        .arg(&file)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("long.toml:2:"))
        .stderr(predicate::str::contains("at most 3650 days"));
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]
    /// Services from a minute to 570 years, a few to a few hundred
    /// requests on one or two GPUs: every run ends, on time or at the end of
    /// simulated time, with a time series bounded by the buckets its
    /// arrivals had (500 and a drain of as many, plus one last), whatever
    /// the horizon the services reach.
    #[test]
    fn every_horizon_ends_with_a_bounded_time_series(
        service_s in 60u64..18_000_000_000,
        rate_per_min in 1u32..60,
        gpus in 1u32..3,
    ) {
        let toml = format!(r#"
            duration = "10m"
            warmup = "0s"
            [[pool]]
            name = "gpu"
            gpus = {gpus}
            [[class]]
            name = "jobs"
            pool = "gpu"
            arrivals = {{ process = "poisson", rate = "{rate_per_min}/min" }}
            service = {{ dist = "deterministic", value = "{service_s}s" }}
        "#);
        let r = run(&toml, &[]);
        let rows = r
            .timeseries
            .iter()
            .filter(|row| row.scope == surge::model::Scope::Pool(0))
            .count();
        proptest::prop_assert!(rows <= 1_001, "{} rows", rows);
        let c = &r.classes[0];
        proptest::prop_assert_eq!(c.arrivals, c.completed + c.in_system);
        if let Some(s) = r.stopped {
            proptest::prop_assert_eq!(s.reason, StopReason::EndOfTime);
        } else {
            proptest::prop_assert_eq!(c.in_system, 0);
        }
    }
}

/// 2 h in 36 ms buckets is exactly the 200,000 allowed: accepted (it was
/// refused as "expected at most 200000 buckets …, found 200000", the count
/// taken in f64 seconds, issue #29); 35 ms is over, and the message gives
/// the real count.
#[test]
fn a_bucket_count_on_the_bound_is_accepted_and_one_over_names_its_count() {
    let text = |bucket: &str| {
        format!(
            r#"
            duration = "2h"
            bucket = "{bucket}"
            [[pool]]
            name = "gpu"
            gpus = 8
            [[class]]
            name = "jobs"
            pool = "gpu"
            arrivals = {{ process = "poisson", rate = "7.2/s" }}
            service = {{ dist = "exponential", mean = "1s" }}
        "#
        )
    };
    assert!(load_str(&text("36ms"), "<test>", Path::new("."), "test", &[]).is_ok());
    let Err(e) = load_str(&text("35ms"), "<test>", Path::new("."), "test", &[]) else {
        panic!("205,715 buckets are too many");
    };
    let e = e.to_string();
    assert!(e.contains("found 205715"), "{e}");
}
