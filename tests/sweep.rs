//! `surge sweep` and `surge merge` as a user runs them.

mod common;

use assert_cmd::Command;
use predicates::prelude::*;
use std::path::Path;
use tempfile::TempDir;

fn surge() -> Command {
    Command::cargo_bin("surge").expect("binary builds")
}

const SCENARIO: &str = r#"name = "grid"
duration = "20m"
warmup = "2m"
seed = 4
replications = 3

[[pool]]
name = "gpu"
gpus = 4

[[class]]
name = "jobs"
pool = "gpu"
arrivals = { process = "poisson", rate = "3/s" }
service = { dist = "exponential", mean = "1s" }

[sweep]
"pool.gpu.gpus" = [4, 5, 6]
"pool.gpu.policy" = ["fifo", "priority"]
"#;

fn setup() -> TempDir {
    let dir = TempDir::new().unwrap();
    std::fs::write(dir.path().join("grid.toml"), SCENARIO).unwrap();
    dir
}

/// Every output a sweep writes, charts and report included.
const OUTPUTS: [&str; 7] = [
    "summary.csv",
    "pools.csv",
    "sweep.csv",
    "scenario.json",
    "report.html",
    "charts/sweep-latency_p99_s-jobs.png",
    "charts/heatmap-latency_p99_s-jobs.png",
];

fn files(dir: &Path) -> Vec<Vec<u8>> {
    OUTPUTS
        .iter()
        .map(|f| {
            std::fs::read(dir.join(f)).unwrap_or_else(|e| panic!("{}: {e}", dir.join(f).display()))
        })
        .collect()
}

fn sweep(dir: &Path, out: &str, extra: &[&str]) {
    surge()
        .arg("sweep")
        .arg(dir.join("grid.toml"))
        .arg("--out")
        .arg(dir.join(out))
        .arg("--quiet")
        .args(extra)
        .assert()
        .success();
}

#[test]
fn sweep_writes_one_row_per_point_and_class_with_confidence_intervals() {
    let dir = setup();
    sweep(dir.path(), "all", &[]);
    let text = std::fs::read_to_string(dir.path().join("all/sweep.csv")).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    assert!(header.starts_with("scenario,point,pool.gpu.gpus,pool.gpu.policy,class,n,"));
    assert!(header.contains(
        "latency_p99_s_mean,latency_p99_s_sd,latency_p99_s_ci_low,latency_p99_s_ci_high"
    ));
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 3 * 2 * 2, "6 points × (jobs + all)");
    assert!(rows[0].starts_with("grid,0,4,fifo,jobs,3,"));
    assert!(rows[2].starts_with("grid,1,4,priority,jobs,3,"));
    // 6 points × 3 replications × 2 rows in summary.csv.
    let summary = std::fs::read_to_string(dir.path().join("all/summary.csv")).unwrap();
    assert_eq!(summary.lines().count(), 1 + 6 * 3 * 2);
}

#[test]
fn sweep_charts_show_each_metric_against_the_parameter_and_a_heatmap() {
    let dir = setup();
    sweep(dir.path(), "all", &[]);
    let charts = dir.path().join("all/charts");
    let names = common::file_names(&charts);
    // GPUs are numeric, so they are the x axis and the policy makes the
    // lines: p95 wait and p99 latency per class, utilization and queue per
    // pool; heatmaps of latency and utilization; no class has a latency
    // target and no pool a price, so there is no attainment or cost chart;
    // everything completes, so no completion chart.
    assert_eq!(
        names,
        [
            "heatmap-latency_p99_s-jobs.png",
            "heatmap-pool_utilization-gpu.png",
            "sweep-latency_p99_s-jobs.png",
            "sweep-pool_queue_mean-gpu.png",
            "sweep-pool_utilization-gpu.png",
            "sweep-wait_p95_s-jobs.png",
        ]
    );
    for name in &names {
        let img = image::open(charts.join(name)).unwrap().to_rgb8();
        assert_eq!(img.dimensions(), (1200, 800));
        let colours: std::collections::HashSet<_> = img.pixels().map(|p| p.0).collect();
        assert!(colours.len() > 20, "{name} has {} colours", colours.len());
    }
    let report = std::fs::read_to_string(dir.path().join("all/report.html")).unwrap();
    assert_eq!(report.matches("<img ").count(), 6);
    assert!(report.contains("<h2>Sweep</h2>"));
    // Redrawing from the CSVs gives the same bytes.
    let before = files(&dir.path().join("all"));
    surge()
        .arg("chart")
        .arg(dir.path().join("all"))
        .assert()
        .success();
    assert_eq!(before, files(&dir.path().join("all")));
}

#[test]
fn a_shard_draws_no_charts() {
    let dir = setup();
    sweep(dir.path(), "s1", &["--shard", "1/2"]);
    assert!(!dir.path().join("s1/charts").exists());
    assert!(!dir.path().join("s1/report.html").exists());
    surge()
        .arg("chart")
        .arg(dir.path().join("s1"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("surge merge"));
}

#[test]
fn sweep_is_identical_for_one_and_two_threads() {
    let dir = setup();
    sweep(dir.path(), "j1", &["--jobs", "1"]);
    sweep(dir.path(), "j2", &["--jobs", "2"]);
    assert_eq!(files(&dir.path().join("j1")), files(&dir.path().join("j2")));
}

#[test]
fn merged_shards_are_byte_identical_to_an_unsharded_sweep() {
    let dir = setup();
    sweep(dir.path(), "all", &[]);
    for k in 1..=4 {
        sweep(
            dir.path(),
            &format!("s{k}"),
            &["--shard", &format!("{k}/4")],
        );
        assert!(dir.path().join(format!("s{k}/shard.json")).exists());
    }
    // Merge in a scrambled order.
    surge()
        .arg("merge")
        .args(["s3", "s1", "s4", "s2"].map(|s| dir.path().join(s)))
        .arg("--out")
        .arg(dir.path().join("merged"))
        .arg("--quiet")
        .assert()
        .success();
    assert_eq!(
        files(&dir.path().join("all")),
        files(&dir.path().join("merged"))
    );
}

#[test]
fn merge_refuses_a_missing_shard() {
    let dir = setup();
    for k in 1..=2 {
        sweep(
            dir.path(),
            &format!("s{k}"),
            &["--shard", &format!("{k}/3")],
        );
    }
    surge()
        .arg("merge")
        .arg(dir.path().join("s1"))
        .arg(dir.path().join("s2"))
        .arg("--out")
        .arg(dir.path().join("m"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("missing: 3/3"));
}

#[test]
fn grid_flag_replaces_a_swept_path_and_zip_pairs_values() {
    let dir = setup();
    sweep(
        dir.path(),
        "z",
        &[
            "--grid",
            "pool.gpu.gpus=5,7",
            "--grid",
            "pool.gpu.policy=fair,fifo",
            "--zip",
        ],
    );
    let text = std::fs::read_to_string(dir.path().join("z/sweep.csv")).unwrap();
    assert!(text.contains("\ngrid,0,5,fair,jobs,"), "{text}");
    assert!(text.contains("\ngrid,1,7,fifo,jobs,"), "{text}");
    assert_eq!(text.lines().count(), 1 + 2 * 2);
}

#[test]
fn an_invalid_point_is_reported_with_its_parameters_and_the_rest_runs() {
    let dir = setup();
    surge()
        .arg("sweep")
        .arg(dir.path().join("grid.toml"))
        .args([
            "--grid",
            "pool.gpu.gpus=0,5",
            "--grid",
            "pool.gpu.policy=fifo",
            "--quiet",
            "--out",
        ])
        .arg(dir.path().join("o"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "point 0 (pool.gpu.gpus=0, pool.gpu.policy=fifo) is invalid",
        ))
        .stderr(predicate::str::contains("expected an integer from 1"));
    let text = std::fs::read_to_string(dir.path().join("o/sweep.csv")).unwrap();
    assert!(text.contains("\ngrid,1,5,fifo,jobs,"));
    assert!(!text.contains("\ngrid,0,"));
    // With --fail-fast nothing runs.
    surge()
        .arg("sweep")
        .arg(dir.path().join("grid.toml"))
        .args([
            "--grid",
            "pool.gpu.gpus=0,5",
            "--fail-fast",
            "--quiet",
            "--out",
        ])
        .arg(dir.path().join("ff"))
        .assert()
        .code(2);
    assert!(!dir.path().join("ff").exists());
}

#[test]
fn an_unknown_swept_path_lists_the_valid_keys() {
    let dir = setup();
    surge()
        .arg("sweep")
        .arg(dir.path().join("grid.toml"))
        .args(["--grid", "pool.gpu.gpu=4,5", "--fail-fast", "--quiet"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("pool.gpu.gpu"))
        .stderr(predicate::str::contains("unknown field `gpu`"));
}

#[test]
fn nothing_to_sweep_is_an_error() {
    let dir = TempDir::new().unwrap();
    let text = SCENARIO.split("[sweep]").next().unwrap();
    std::fs::write(dir.path().join("plain.toml"), text).unwrap();
    surge()
        .arg("sweep")
        .arg(dir.path().join("plain.toml"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("nothing to sweep"));
}
