//! Sequential replications (`--precision`) and confident, least-cost plans:
//! stopping rules that hold and are the same whatever `--jobs` is, and plan
//! answers that equal queueing theory (Erlang C) or a brute-force grid.

use assert_cmd::Command;
use std::path::{Path, PathBuf};
use surge::app::{CheckOptions, PlanOptions, SloArg, plan};
use surge::metric::Metric;
use surge::stats::estimate;
use surge::theory;
use tempfile::TempDir;

fn surge() -> Command {
    Command::cargo_bin("surge").expect("binary builds")
}

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// Per-replication values of `column` for `class` in a summary.csv.
fn column(csv: &str, class: &str, column: &str) -> Vec<f64> {
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let (ci, vi) = (
        header.iter().position(|h| *h == "class").unwrap(),
        header.iter().position(|h| *h == column).unwrap(),
    );
    lines
        .map(|l| l.split(',').collect::<Vec<_>>())
        .filter(|f| f[ci] == class)
        .map(|f| f[vi].parse().unwrap())
        .collect()
}

fn precise(values: &[f64], rel: f64) -> bool {
    let e = estimate(values).unwrap();
    e.half_width.unwrap() <= rel * e.mean.abs()
}

/// `run --precision 10%` keeps the first prefix of replications (from 3 on)
/// whose watched metrics (mean and p99 latency without SLOs) have 95%
/// half-widths within 10% of their means: the kept ones do, the prefix one
/// shorter does not, and `--jobs 1`, `2` and `3` keep the same ones.
#[test]
fn run_precision_stops_at_the_first_precise_prefix_whatever_the_jobs() {
    let dir = TempDir::new().unwrap();
    let text = std::fs::read_to_string(repo("scenarios/mmc.toml")).unwrap();
    // Without the file's SLOs, the watched metrics are the latencies.
    let cut = text.find("[[slo]]").unwrap_or(text.len());
    let file = dir.path().join("m.toml");
    std::fs::write(&file, &text[..cut]).unwrap();
    let run = |jobs: &str| {
        let out = dir.path().join(format!("j{jobs}"));
        let o = surge()
            .args(["run", "--precision", "10%", "--charts", "none"])
            .args([
                "--set",
                "duration=20m",
                "--set",
                "warmup=2m",
                "--jobs",
                jobs,
            ])
            .arg(&file)
            .arg("--out")
            .arg(&out)
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        (
            String::from_utf8(o).unwrap(),
            std::fs::read_to_string(out.join("summary.csv")).unwrap(),
        )
    };
    let (stdout, csv) = run("1");
    for jobs in ["2", "3"] {
        assert_eq!(run(jobs).1, csv, "--jobs {jobs}");
    }
    let latency_mean = column(&csv, "jobs", "latency_mean_s");
    let latency_p99 = column(&csv, "jobs", "latency_p99_s");
    let n = latency_mean.len();
    assert!((3..=30).contains(&n), "{n} replications");
    assert!(
        stdout.contains(&format!("stopped at {n} replications")),
        "{stdout}"
    );
    assert!(precise(&latency_mean, 0.10) && precise(&latency_p99, 0.10));
    if n > 3 {
        assert!(
            !(precise(&latency_mean[..n - 1], 0.10) && precise(&latency_p99[..n - 1], 0.10)),
            "{} replications were already precise",
            n - 1
        );
    }
}

/// A sweep with `--precision` replicates each point on its own and is the
/// same with one or two threads.
#[test]
fn sweep_precision_is_per_point_and_deterministic() {
    let dir = TempDir::new().unwrap();
    let sweep = |jobs: &str| {
        let out = dir.path().join(format!("s{jobs}"));
        surge()
            .args(["sweep", "--grid", "pool.gpu.gpus=8,10", "--precision", "5%"])
            .args(["--set", "duration=20m", "--set", "warmup=2m"])
            .args(["--max-replications", "12", "--charts", "none", "--quiet"])
            .args(["--jobs", jobs])
            .arg(repo("scenarios/mmc.toml"))
            .arg("--out")
            .arg(&out)
            .assert()
            .success();
        (
            std::fs::read_to_string(out.join("summary.csv")).unwrap(),
            std::fs::read_to_string(out.join("sweep.csv")).unwrap(),
        )
    };
    let one = sweep("1");
    assert_eq!(sweep("2"), one);
    // Both points have their own count, within the bounds.
    for point in ["0", "1"] {
        let n = one
            .0
            .lines()
            .filter(|l| l.split(',').nth(1) == Some(point) && l.contains(",jobs,"))
            .count();
        assert!((3..=12).contains(&n), "point {point}: {n}");
    }
    surge()
        .args(["sweep", "--grid", "pool.gpu.gpus=8,10", "--precision", "5%"])
        .args(["--shard", "1/2"])
        .arg(repo("scenarios/mmc.toml"))
        .arg("--out")
        .arg(dir.path().join("shard"))
        .assert()
        .code(2)
        .stderr(predicates::str::contains("--precision with --shard"));
}

fn two_pools(gpus_a: u32, gpus_b: u32, lambda_a: f64, lambda_b: f64, price_b: f64) -> String {
    format!(
        r#"name = "two"
duration = "8h"
warmup = "20m"
seed = 4

[[pool]]
name = "a"
gpus = {gpus_a}
cost_per_gpu_hour = 1.0

[[pool]]
name = "b"
gpus = {gpus_b}
cost_per_gpu_hour = {price_b}

[[class]]
name = "ja"
pool = "a"
arrivals = {{ process = "poisson", rate = "{lambda_a}/s" }}
service = {{ dist = "exponential", mean = "1s" }}

[[class]]
name = "jb"
pool = "b"
arrivals = {{ process = "poisson", rate = "{lambda_b}/s" }}
service = {{ dist = "exponential", mean = "1s" }}
"#
    )
}

fn plan_two(dir: &TempDir, text: &str, slos: Vec<SloArg>) -> Option<Vec<u64>> {
    let file = dir.path().join("two.toml");
    std::fs::write(&file, text).unwrap();
    let mut opts = PlanOptions::new(
        "pool.a.gpus",
        CheckOptions {
            out: Some(dir.path().join("out")),
            quiet: true,
            ..CheckOptions::default()
        },
    );
    opts.vary.push("pool.b.gpus".into());
    opts.slos = slos;
    opts.max = 200;
    plan(&file, &opts).expect("plan runs")
}

/// An SLO bound geometrically halfway between the M/M/c mean waits of
/// c − 1 and c GPUs, so that noise cannot move the answer from c.
fn bound_between(c: u32, lambda: f64) -> f64 {
    (theory::mmc_mean_wait(c - 1, lambda, 1.0) * theory::mmc_mean_wait(c, lambda, 1.0)).sqrt()
}

/// Two pools that share nothing are planned independently, and the
/// least-cost answer is each pool's own Erlang C answer.
#[test]
fn independent_pools_get_their_own_erlang_c_answers() {
    let dir = TempDir::new().unwrap();
    let (ca, cb) = (10u32, 6u32);
    let (ba, bb) = (bound_between(ca, 7.2), bound_between(cb, 3.5));
    assert_eq!(theory::mmc_min_gpus_for_mean_wait(7.2, 1.0, ba), ca);
    assert_eq!(theory::mmc_min_gpus_for_mean_wait(3.5, 1.0, bb), cb);
    let slo = |class: &str, max: f64| SloArg {
        class: class.into(),
        metric: Metric::WaitMean,
        max: Some(max),
        min: None,
    };
    let answer = plan_two(
        &dir,
        &two_pools(8, 20, 7.2, 3.5, 2.0),
        vec![slo("ja", ba), slo("jb", bb)],
    );
    assert_eq!(answer, Some(vec![u64::from(ca), u64::from(cb)]));
    let csv = std::fs::read_to_string(dir.path().join("out/plan.csv")).unwrap();
    assert!(
        csv.starts_with("pool.a.gpus,pool.b.gpus,meets_slos,"),
        "{csv}"
    );
}

/// One SLO on every request (class `all`) couples the pools: fewer GPUs in
/// one can be made up by more in the other. With pool b 2.5× dearer, the
/// least-cost allocation (8, 4) is not the first one a coordinate-wise
/// search finds from (7, 8) — that is (7, 5), dearer — and the plan's
/// answer equals a brute-force search of the grid on the Erlang C waits.
/// Every grid point's all-class mean wait is at least 15% away from the
/// bound, so that simulation noise cannot decide a point either way.
#[test]
fn coupled_pools_get_the_cheapest_allocation_of_a_brute_force_grid() {
    let (la, lb, price_b, bound) = (4.0, 2.0, 2.5, 0.05);
    let wait = |ca: u32, cb: u32| {
        (la * theory::mmc_mean_wait(ca, la, 1.0) + lb * theory::mmc_mean_wait(cb, lb, 1.0))
            / (la + lb)
    };
    let mut best: Option<(f64, u32, u32)> = None;
    for ca in 5..40u32 {
        for cb in 3..40u32 {
            let w = wait(ca, cb);
            assert!(
                (w / bound - 1.0).abs() >= 0.15,
                "({ca}, {cb}) is too close to the bound: {w}"
            );
            let cost = f64::from(ca) + price_b * f64::from(cb);
            if w <= bound && best.is_none_or(|b| cost < b.0) {
                best = Some((cost, ca, cb));
            }
        }
    }
    let (_, ca, cb) = best.unwrap();
    assert_eq!((ca, cb), (8, 4), "the grid's least-cost allocation");
    assert!(wait(7, 5) <= bound, "(7, 5) meets too, at a higher cost");
    let dir = TempDir::new().unwrap();
    let answer = plan_two(
        &dir,
        &two_pools(7, 8, la, lb, price_b),
        vec![SloArg {
            class: "all".into(),
            metric: Metric::WaitMean,
            max: Some(bound),
            min: None,
        }],
    );
    assert_eq!(answer, Some(vec![u64::from(ca), u64::from(cb)]));
}

/// Every probe of a plan is decided at 95% or said to be undecided; the
/// answer is a probe shown to meet; with nothing in range it exits 1.
#[test]
fn plan_answers_with_a_decided_probe_and_exits_1_when_nothing_meets() {
    let dir = TempDir::new().unwrap();
    let out = surge()
        .args([
            "plan",
            "--vary",
            "pool.gpu.gpus",
            "--slo",
            "jobs:wait_mean<=100ms",
        ])
        .args([
            "--set",
            "duration=1h",
            "--set",
            "warmup=5m",
            "--format",
            "json",
        ])
        .arg(repo("scenarios/mmc.toml"))
        .arg("--out")
        .arg(dir.path().join("p"))
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let json: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(json["verdict"], "meets", "{json}");
    assert_eq!(json["confidence"], 0.95);
    let answer = json["answer"].as_u64().unwrap();
    let misses = json["nearest_misses"].as_array().unwrap();
    assert_eq!(misses.len(), 1, "{json}");
    assert_eq!(misses[0]["value"].as_u64(), Some(answer - 1));
    assert_ne!(misses[0]["verdict"], "meets");
    for p in json["probes"].as_array().unwrap() {
        let v = p["verdict"].as_str().unwrap();
        assert!(["meets", "misses", "undecided"].contains(&v), "{p}");
        let reps = p["replications"].as_u64().unwrap();
        assert!((2..=10).contains(&reps), "{p}");
        if v == "undecided" {
            assert_eq!(reps, 10, "only the maximum leaves a probe undecided: {p}");
        }
    }
    let csv = std::fs::read_to_string(dir.path().join("p/plan.csv")).unwrap();
    assert!(
        csv.lines()
            .next()
            .unwrap()
            .ends_with(",verdict,replications,cost_usd"),
        "{csv}"
    );
    surge()
        .args([
            "plan",
            "--vary",
            "pool.gpu.gpus",
            "--slo",
            "jobs:wait_mean<=100ms",
        ])
        .args(["--set", "duration=30m", "--set", "warmup=3m", "--max", "8"])
        .args(["--quiet"])
        .arg(repo("scenarios/mmc.toml"))
        .arg("--out")
        .arg(dir.path().join("none"))
        .assert()
        .code(1)
        .stdout("none\n");
}

/// `needed.csv`: with arrivals stepping from 3/s to 9/s after two hours,
/// each hour's needed GPUs are the Erlang C answer for that hour's
/// measured rate (exponential service of 1 s, SLO on the mean wait), and
/// the busy hours need more.
#[test]
fn needed_capacity_follows_each_hours_load_by_erlang_c() {
    let dir = TempDir::new().unwrap();
    let file = dir.path().join("step.toml");
    std::fs::write(
        &file,
        r#"name = "step"
duration = "4h"
warmup = "10m"
seed = 3

[[pool]]
name = "gpu"
gpus = 8

[[class]]
name = "jobs"
pool = "gpu"
arrivals = { process = "profile", points = [["0h", "3/s"], ["2h", "9/s"]], interpolation = "step" }
service = { dist = "exponential", mean = "1s" }
"#,
    )
    .unwrap();
    surge()
        .args([
            "plan",
            "--vary",
            "pool.gpu.gpus",
            "--slo",
            "jobs:wait_mean<=100ms",
        ])
        .args(["--quiet", "--charts", "none"])
        .arg(&file)
        .arg("--out")
        .arg(dir.path().join("p"))
        .assert()
        .success();
    let csv = std::fs::read_to_string(dir.path().join("p/needed.csv")).unwrap();
    let rows: Vec<Vec<&str>> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    assert_eq!(rows.len(), 4, "{csv}");
    let mut needed = Vec::new();
    for r in &rows {
        let lambda: f64 = r[2].parse().unwrap();
        let mean: f64 = r[6].parse().unwrap();
        let max: f64 = r[7].parse().unwrap();
        assert!(
            (r[3].parse::<f64>().unwrap() - 1.0).abs() < 1e-12,
            "E[S] {csv}"
        );
        // Each replication's own rate gives its own answer; the mean
        // rate's answer lies between their least and greatest.
        let c = f64::from(theory::mmc_min_gpus_for_mean_wait(lambda, 1.0, 0.1));
        assert!((mean.floor()..=max).contains(&c), "{c} for {r:?}");
        needed.push(max);
    }
    assert!(
        needed[2] > needed[1] + 3.0 && needed[3] > needed[0] + 3.0,
        "{needed:?}"
    );
}

/// A plan's probes, their replications and its answer are the same with
/// one thread or three: each probe's stopping rule is asked of prefixes in
/// order, whatever the batch size.
#[test]
fn plan_is_the_same_whatever_the_jobs() {
    let dir = TempDir::new().unwrap();
    let run = |jobs: &str| {
        let out = dir.path().join(format!("j{jobs}"));
        surge()
            .args([
                "plan",
                "--vary",
                "pool.gpu.gpus",
                "--slo",
                "jobs:wait_p95<=1s",
            ])
            .args(["--set", "duration=1h", "--set", "warmup=5m", "--quiet"])
            .args(["--charts", "none", "--jobs", jobs])
            .arg(repo("scenarios/mmc.toml"))
            .arg("--out")
            .arg(&out)
            .assert()
            .success();
        (
            std::fs::read_to_string(out.join("plan.csv")).unwrap(),
            std::fs::read_to_string(out.join("needed.csv")).unwrap(),
        )
    };
    let one = run("1");
    assert_eq!(run("3"), one);
    // Some probe needed more than the first two replications (the
    // column before the last is `replications`), so batches of one and
    // of three threads had to agree on where to stop.
    assert!(
        one.0
            .lines()
            .skip(1)
            .any(|l| l.split(',').rev().nth(1) != Some("2")),
        "{}",
        one.0
    );
}

/// `--maximize` searches the other way: the greatest GPU count whose mean
/// wait is still at least a bound (a lower bound that more GPUs break) is
/// the Erlang C count just below the bound.
#[test]
fn maximize_finds_the_greatest_value_that_still_meets() {
    let dir = TempDir::new().unwrap();
    let bound = bound_between(10, 7.2);
    let file = dir.path().join("m.toml");
    let text = std::fs::read_to_string(repo("scenarios/mmc.toml")).unwrap();
    let cut = text.find("[[slo]]").unwrap_or(text.len());
    std::fs::write(&file, &text[..cut]).unwrap();
    let mut opts = PlanOptions::new(
        "pool.gpu.gpus",
        CheckOptions {
            out: Some(dir.path().join("out")),
            quiet: true,
            ..CheckOptions::default()
        },
    );
    opts.slos = vec![SloArg {
        class: "jobs".into(),
        metric: Metric::WaitMean,
        max: None,
        min: Some(bound),
    }];
    opts.maximize = true;
    opts.min = 8;
    opts.max = 1000;
    opts.common.overrides = vec![
        surge::scenario::Override::parse("duration=4h").unwrap(),
        surge::scenario::Override::parse("warmup=10m").unwrap(),
    ];
    assert_eq!(plan(&file, &opts).expect("plan runs"), Some(vec![9]));
}
