//! Golden outputs: short runs of every bundled scenario, their
//! `summary.csv` and `pools.csv` compared byte for byte with the copies in
//! `tests/golden/NAME/`.
//!
//! These pin every published number: a refactor, a faster engine or a
//! dependency upgrade (rand_distr promises no stability of its samplers
//! across versions) that changes a single draw shows up here. When a change
//! of results is intended, re-bless and say why in the commit:
//!
//! ```sh
//! SURGE_BLESS=1 cargo test --release --test golden
//! ```

use assert_cmd::Command;
use std::path::{Path, PathBuf};

/// (scenario file, extra arguments that keep the run short and reach the
/// features no bundled scenario uses as written: pool dynamics, batching,
/// every queue policy).
const CASES: &[(&str, &[&str])] = &[
    ("mmc", &["--replications", "2"]),
    ("retry-storm", &[]),
    ("shared-pool", &["--set", "duration=3h"]),
    (
        "shared-pool",
        &["--set", "duration=3h", "--set", "pool.gpu.policy=priority"],
    ),
    (
        "shared-pool",
        &["--set", "duration=3h", "--set", "pool.gpu.policy=fair"],
    ),
    (
        "shared-pool",
        &[
            "--set",
            "duration=3h",
            "--set",
            "pool.gpu.policy={ kind = \"shed\", max_wait = \"30s\", classes = [\"image\"] }",
        ],
    ),
    (
        "launch-day",
        &["--set", "duration=90m", "--set", "warmup=15m"],
    ),
    (
        "launch-day",
        &[
            "--set",
            "duration=90m",
            "--set",
            "warmup=15m",
            "--set",
            "pool.gpu-image.gpus=1000",
            "--set",
            "pool.gpu-image.policy={ kind = \"deferral\", threshold = \"60s\", reserved = 0.05 }",
        ],
    ),
    (
        "mmc",
        &[
            "--set",
            "pool.gpu.failures={ mtbf = \"2h\", mttr = \"10m\" }",
            "--set",
            "pool.gpu.autoscale={ min = 6, max = 12, step = 2, provision_delay = \"2m\", cooldown = \"5m\", interval = \"1m\", trigger = { utilization = 0.85 } }",
            "--set",
            "class.jobs.retry={ max_attempts = 3 }",
        ],
    ),
    (
        "mmc",
        &[
            "--set",
            "pool.gpu.batching={ max_batch = 4, base = \"1s\", per_item = \"300ms\", max_wait = \"500ms\" }",
            "--set",
            "pool.gpu.capacity=[{ at = \"30m\", gpus = \"+4\" }, { at = \"1h\", gpus = 3 }]",
            "--set",
            "class.jobs.patience={ dist = \"exponential\", mean = \"30s\" }",
        ],
    ),
    (
        "launch-pipeline",
        &["--set", "duration=90m", "--set", "warmup=15m"],
    ),
    ("chat-serving", &["--set", "duration=10m"]),
    ("chat-roofline", &["--set", "duration=10m"]),
    (
        "kv-crowding",
        &["--set", "duration=3h", "--set", "warmup=15m"],
    ),
];

/// `timeseries.csv` too: it is small at these lengths and guards the
/// per-bucket bookkeeping.
const FILES: [&str; 3] = ["summary.csv", "pools.csv", "timeseries.csv"];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn check_case(index: usize, scenario: &str, args: &[&str]) {
    let out = tempfile::tempdir().unwrap();
    let file = root().join("scenarios").join(format!("{scenario}.toml"));
    Command::cargo_bin("surge")
        .unwrap()
        .arg("run")
        .arg(&file)
        .args(args)
        .args(["--charts", "none", "--quiet", "--out"])
        .arg(out.path())
        .assert()
        .success();
    let golden = root()
        .join("tests/golden")
        .join(format!("{index}-{scenario}"));
    for name in FILES {
        let actual = std::fs::read(out.path().join(name)).unwrap();
        compare_or_bless(&golden.join(name), &actual);
    }
    // Workflows: each stage's table too; serving pools: their token files.
    for name in [
        "stages.csv",
        "serving.csv",
        "replicas.csv",
        "serving_series.csv",
    ] {
        let file = out.path().join(name);
        if file.exists() {
            compare_or_bless(&golden.join(name), &std::fs::read(file).unwrap());
        }
    }
}

fn compare_or_bless(path: &Path, actual: &[u8]) {
    if std::env::var_os("SURGE_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, actual).unwrap();
        return;
    }
    let expected = std::fs::read(path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; create it with `SURGE_BLESS=1 cargo test --release --test golden`",
            path.display()
        )
    });
    if expected != actual {
        let (e, a) = (
            String::from_utf8_lossy(&expected),
            String::from_utf8_lossy(actual),
        );
        let first = e
            .lines()
            .zip(a.lines())
            .position(|(x, y)| x != y)
            .unwrap_or(e.lines().count().min(a.lines().count()));
        panic!(
            "{} differs from this run at line {}:\n  golden: {}\n  now:    {}\n\
             If the change is intended, re-bless with `SURGE_BLESS=1 cargo test --release --test golden` \
             and give the reason in the commit.",
            path.display(),
            first + 1,
            e.lines().nth(first).unwrap_or("<end of file>"),
            a.lines().nth(first).unwrap_or("<end of file>"),
        );
    }
}

/// A sweep: `sweep.csv` (means, deviations and Student-t intervals over
/// replications, from summary.csv) and the per-run tables.
#[test]
fn a_sweep_reproduces_its_golden_sweep_table() {
    let out = tempfile::tempdir().unwrap();
    Command::cargo_bin("surge")
        .unwrap()
        .arg("sweep")
        .arg(root().join("scenarios/mmc.toml"))
        .args([
            "--grid",
            "pool.gpu.gpus=8,9,12",
            "--grid",
            "class.jobs.arrivals.rate=6/s,7.2/s",
        ])
        .args([
            "--replications",
            "3",
            "--set",
            "duration=30m",
            "--set",
            "warmup=5m",
        ])
        .args(["--charts", "none", "--quiet", "--out"])
        .arg(out.path())
        .assert()
        .success();
    let golden = root().join("tests/golden/sweep-mmc");
    for name in ["sweep.csv", "summary.csv", "pools.csv"] {
        let actual = std::fs::read(out.path().join(name)).unwrap();
        compare_or_bless(&golden.join(name), &actual);
    }
}

#[test]
fn bundled_scenarios_reproduce_their_golden_summaries_and_pools() {
    for (i, (scenario, args)) in CASES.iter().enumerate() {
        check_case(i, scenario, args);
    }
}
