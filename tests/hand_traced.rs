//! Small scenarios traced by hand, with exact expected results.

use std::path::Path;
use surge::model::RunResult;
use surge::scenario::load_str;
use surge::simulate;

fn run(toml: &str) -> RunResult {
    let loaded = load_str(toml, "<test>", Path::new("."), "test", &[]).expect("valid scenario");
    simulate(&loaded.scenario, 0).unwrap()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

/// One GPU, 2.5 s jobs arriving at 0, 1, 2, 3 and 10 s:
///
/// | job | arrives | starts | ends | wait | latency |
/// |-----|---------|--------|------|------|---------|
/// | 1   | 0       | 0      | 2.5  | 0    | 2.5     |
/// | 2   | 1       | 2.5    | 5    | 1.5  | 4       |
/// | 3   | 2       | 5      | 7.5  | 3    | 5.5     |
/// | 4   | 3       | 7.5    | 10   | 4.5  | 7       |
/// | 5   | 10      | 10     | 12.5 | 0    | 2.5     |
///
/// Queue length: 1 on [1, 2), 2 on [2, 2.5), 1 on [2.5, 3), 2 on [3, 5),
/// 1 on [5, 7.5): area 9 over the 20 s window. Busy 12.5 s of 20.
#[test]
fn single_gpu_deterministic_trace() {
    let r = run(r#"
        duration = "20s"
        [[pool]]
        name = "gpu"
        gpus = 1
        [[class]]
        name = "jobs"
        pool = "gpu"
        arrivals = { process = "explicit", at = ["0s", "1s", "2s", "3s", "10s"] }
        service = { dist = "deterministic", value = "2.5s" }
    "#);
    let c = &r.classes[0];
    assert_eq!((c.arrivals, c.completed, c.in_system), (5, 5, 0));
    assert!(close(c.wait.mean_s().unwrap(), 1.8));
    assert!(close(c.latency.mean_s().unwrap(), 4.3));
    assert!((c.latency.quantile_s(1.0).unwrap() - 7.0).abs() <= 7.0 * 1e-3);
    assert_eq!(c.wait.quantile_s(0.0), Some(0.0));
    let p = &r.pools[0];
    assert!(
        close(p.queue_mean, 9.0 / 20.0),
        "queue mean {}",
        p.queue_mean
    );
    assert_eq!(p.queue_max, 2);
    assert!(close(p.utilization, 12.5 / 20.0));
    assert!(close(p.busy_gpus_mean, 12.5 / 20.0));
    assert_eq!(r.events, 10);
}

/// Two GPUs shared by two classes, FIFO across classes. Class a: 3 s jobs
/// at 0, 0 and 1 s; class b: 1 s jobs at 0.5 and 2 s.
///
/// At 0 both a-jobs start. b1 (0.5), a3 (1) and b2 (2) queue. At 3 both
/// GPUs free up in scheduling order: b1 starts (waited 2.5 s, ends 4), then
/// a3 (waited 2 s, ends 6). At 4 b2 starts (waited 2 s, ends 5).
#[test]
fn two_classes_share_two_gpus_in_arrival_order() {
    let r = run(r#"
        duration = "10s"
        [[pool]]
        name = "gpu"
        gpus = 2
        [[class]]
        name = "a"
        pool = "gpu"
        arrivals = { process = "explicit", at = ["0s", "0s", "1s"] }
        service = { dist = "deterministic", value = "3s" }
        [[class]]
        name = "b"
        pool = "gpu"
        arrivals = { process = "explicit", at = ["500ms", "2s"] }
        service = { dist = "deterministic", value = "1s" }
    "#);
    let (a, b) = (&r.classes[0], &r.classes[1]);
    assert!(close(a.wait.mean_s().unwrap(), 2.0 / 3.0));
    assert!(close(a.latency.mean_s().unwrap(), 11.0 / 3.0));
    assert!(close(b.wait.mean_s().unwrap(), 2.25));
    assert!(close(b.latency.mean_s().unwrap(), 3.25));
    assert_eq!(r.all.completed, 5);
    assert!(close(r.all.wait.mean_s().unwrap(), (2.0 + 4.5) / 5.0));
    let p = &r.pools[0];
    // Busy: 2 on [0, 5), 1 on [5, 6) → 11 GPU-seconds over 10 s.
    assert!(close(p.busy_gpus_mean, 1.1));
    assert!(close(p.utilization, 0.55));
    // Queue: 1 on [0.5, 1), 2 on [1, 2), 3 on [2, 3), 1 on [3, 4) → 6.5.
    assert!(close(p.queue_mean, 0.65), "queue mean {}", p.queue_mean);
    assert_eq!(p.queue_max, 3);
}

#[test]
fn warmup_excludes_early_arrivals_from_statistics() {
    let r = run(r#"
        duration = "20s"
        warmup = "2s"
        [[pool]]
        name = "gpu"
        gpus = 1
        [[class]]
        name = "jobs"
        pool = "gpu"
        arrivals = { process = "explicit", at = ["0s", "1s", "2s", "3s", "10s"] }
        service = { dist = "deterministic", value = "2.5s" }
    "#);
    let c = &r.classes[0];
    // Jobs 3, 4, 5 arrive at or after the warm-up: waits 3, 4.5, 0.
    assert_eq!((c.arrivals, c.completed), (3, 3));
    assert!(close(c.wait.mean_s().unwrap(), 2.5));
    assert_eq!(r.requests, 5);
    // Time series covers the whole run: every arrival is in some bucket.
    let ts_arrivals: u64 = r
        .timeseries
        .iter()
        .filter(|row| matches!(row.scope, surge::model::Scope::Class(0)))
        .map(|row| row.arrivals)
        .sum();
    assert_eq!(ts_arrivals, 5);
}

#[test]
fn pool_speed_divides_service_demand() {
    let r = run(r#"
        duration = "10s"
        [[pool]]
        name = "gpu"
        gpus = 1
        speed = 2.0
        [[class]]
        name = "jobs"
        pool = "gpu"
        arrivals = { process = "explicit", at = ["0s", "0s"] }
        service = { dist = "deterministic", value = "3s" }
    "#);
    // 1.5 s each on a speed-2 GPU: waits 0 and 1.5.
    assert!(close(r.classes[0].wait.mean_s().unwrap(), 0.75));
}

/// `--trace`: the same five jobs, traced: arrival, start and end of each,
/// in arrival order; the limit keeps the first three.
#[test]
fn the_trace_follows_each_request() {
    let loaded = load_str(
        r#"
        duration = "20s"
        [[pool]]
        name = "gpu"
        gpus = 1
        [[class]]
        name = "jobs"
        pool = "gpu"
        arrivals = { process = "explicit", at = ["0s", "1s", "2s", "3s", "10s"] }
        service = { dist = "deterministic", value = "2.5s" }
    "#,
        "<test>",
        Path::new("."),
        "test",
        &[],
    )
    .expect("valid scenario");
    let mut s = loaded.scenario;
    s.trace = 3;
    let r = simulate(&s, 0).unwrap();
    /// id, arrival, start, end, outcome, attempts.
    type Row<'a> = (u64, f64, Option<f64>, Option<f64>, &'a str, u32);
    let rows: Vec<Row<'_>> = r
        .trace
        .iter()
        .map(|t| {
            (
                t.id,
                t.arrival.as_secs_f64(),
                t.start.map(|x| x.as_secs_f64()),
                t.end.map(|x| x.as_secs_f64()),
                t.outcome.as_str(),
                t.attempts,
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            (0, 0.0, Some(0.0), Some(2.5), "completed", 1),
            (1, 1.0, Some(2.5), Some(5.0), "completed", 1),
            (2, 2.0, Some(5.0), Some(7.5), "completed", 1),
        ]
    );
}

/// Batching respects patience: one request reaches an idle pool that
/// waits up to 10 s to fill a batch of 4; its user's patience is exactly
/// 1 s, so it abandons at 1 s (it used to wait the 10 s and complete).
#[test]
fn a_request_held_to_fill_a_batch_abandons_when_its_patience_runs_out() {
    let r = run(r#"
        duration = "30s"
        [[pool]]
        name = "gpu"
        gpus = 1
        batching = { max_batch = 4, base = "1s", per_item = "100ms", max_wait = "10s" }
        [[class]]
        name = "jobs"
        pool = "gpu"
        arrivals = { process = "explicit", at = ["0s"] }
        service = { dist = "deterministic", value = "1s" }
        patience = { dist = "deterministic", value = "1s" }
    "#);
    let c = &r.classes[0];
    assert_eq!((c.arrivals, c.completed, c.abandoned), (1, 0, 1));
    // Nothing ran: no GPU time, and the run ends when the user gives up.
    assert_eq!(r.pools[0].busy_gpus_mean, 0.0);
}

/// A request that starts on arrival never waits, so it never counts in its
/// class's queue: 100 GPUs, one 1 s job per second, every time-series row
/// of the class says queue_max 0 (it used to say 1).
#[test]
fn requests_served_on_arrival_never_show_in_the_class_queue() {
    let r = run(r#"
        duration = "60s"
        bucket = "10s"
        [[pool]]
        name = "gpu"
        gpus = 100
        [[class]]
        name = "jobs"
        pool = "gpu"
        arrivals = { process = "explicit", at = ["0s", "1s", "2s", "3s", "4s", "15s", "30s"] }
        service = { dist = "deterministic", value = "1s" }
    "#);
    let class_rows: Vec<_> = r
        .timeseries
        .iter()
        .filter(|row| row.scope == surge::model::Scope::Class(0))
        .collect();
    assert_eq!(class_rows.len(), 6);
    for row in class_rows {
        assert_eq!(row.queue_max, Some(0), "{row:?}");
        assert_eq!(row.queue_mean, Some(0.0));
    }
}

/// Throughput is goodput inside the measured window: 8 GPUs serving 12/s
/// of 1 s jobs complete at most 8 per second, whatever drains after the
/// window (it used to count the drain and report 12/s). With deterministic
/// 1 s jobs the GPUs complete exactly 8 per second once busy: over
/// [60 s, 660 s) that is 4,800 completions, 8.0/s.
#[test]
fn throughput_counts_completions_inside_the_window_only() {
    let r = run(r#"
        duration = "660s"
        warmup = "60s"
        [[pool]]
        name = "gpu"
        gpus = 8
        [[class]]
        name = "jobs"
        pool = "gpu"
        arrivals = { process = "poisson", rate = "12/s" }
        service = { dist = "deterministic", value = "1s" }
    "#);
    let c = &r.classes[0];
    assert!(close(c.throughput_per_s, 8.0), "{}", c.throughput_per_s);
    // Every measured request still completes, in the drain.
    assert_eq!(c.completed, c.arrivals);
    assert!(c.arrivals > 7000);
}
