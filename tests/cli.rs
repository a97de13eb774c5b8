//! The `surge` command as a user runs it: outputs, determinism, and one
//! test per kind of bad input (exit code 2, file:line and key on stderr,
//! and no output folder).

mod common;

use common::cli::{assert_rejected, repo, surge};

use predicates::prelude::*;
use std::path::Path;
use tempfile::TempDir;

const MINIMAL: &str = r#"name = "t"
duration = "10m"
warmup = "1m"
seed = 3

[[pool]]
name = "gpu"
gpus = 4

[[class]]
name = "jobs"
pool = "gpu"
arrivals = { process = "poisson", rate = "3/s" }
service = { dist = "exponential", mean = "1s" }
"#;

#[test]
fn run_writes_the_three_csvs_with_the_spec_columns() {
    let dir = TempDir::new().unwrap();
    let out = dir.path().join("mmc");
    surge()
        .args([
            "run",
            "--quiet",
            "--charts",
            "none",
            "--set",
            "duration=20m",
            "--set",
            "warmup=2m",
        ])
        .arg(repo("scenarios/mmc.toml"))
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    let header = |name: &str| {
        let text = std::fs::read_to_string(out.join(name)).unwrap();
        text.lines().next().unwrap().to_string()
    };
    let summary = header("summary.csv");
    for col in [
        "scenario",
        "point",
        "replication",
        "seed",
        "class",
        "arrivals",
        "completed",
        "rejected",
        "abandoned",
        "failed",
        "throughput_per_s",
        "wait_mean_s",
        "wait_p50_s",
        "wait_p95_s",
        "wait_p99_s",
        "latency_mean_s",
        "latency_p50_s",
        "latency_p95_s",
        "latency_p99_s",
        "latency_p999_s",
        "slo_attainment",
    ] {
        assert!(
            summary.split(',').any(|c| c == col),
            "summary.csv lacks {col}: {summary}"
        );
    }
    let pools = header("pools.csv");
    for col in [
        "gpus_mean",
        "utilization",
        "gpu_hours",
        "cost_usd",
        "queue_mean",
        "queue_max",
        "deferred",
        "shed",
    ] {
        assert!(
            pools.split(',').any(|c| c == col),
            "pools.csv lacks {col}: {pools}"
        );
    }
    let ts = header("timeseries.csv");
    for col in [
        "time_s",
        "scope",
        "arrivals",
        "completions",
        "rejected",
        "abandoned",
        "queue_mean",
        "queue_max",
        "busy_gpus_mean",
        "online_gpus_mean",
        "utilization",
        "latency_p50_s",
        "latency_p99_s",
    ] {
        assert!(
            ts.split(',').any(|c| c == col),
            "timeseries.csv lacks {col}: {ts}"
        );
    }
    // Exactly these files (run with --charts none): no temporary files
    // are left behind by the atomic writes.
    assert_eq!(
        common::file_names(&out),
        [
            "pools.csv",
            "scenario.json",
            "summary.csv",
            "timeseries.csv"
        ]
    );
}

#[test]
fn run_prints_a_summary_table_with_a_footer() {
    let dir = TempDir::new().unwrap();
    surge()
        .args(["run", "--set", "duration=10m", "--set", "warmup=1m"])
        .arg(repo("scenarios/mmc.toml"))
        .arg("--out")
        .arg(dir.path().join("o"))
        .assert()
        .success()
        .stdout(predicate::str::contains("p99.9"))
        .stdout(predicate::str::contains("utilization"))
        .stdout(predicate::str::contains("events/s"));
}

#[test]
fn run_shows_progress_only_on_a_terminal() {
    let dir = TempDir::new().unwrap();
    let bin = assert_cmd::cargo::cargo_bin("surge");
    let args = format!(
        "{} run {} --set duration=4h --charts none --out {}",
        bin.display(),
        repo("scenarios/launch-day.toml").display(),
        dir.path().join("o").display()
    );
    // Piped: not a word of progress on stderr.
    let piped = std::process::Command::new("sh")
        .args(["-c", &args])
        .output()
        .unwrap();
    assert!(piped.status.success());
    let stderr = String::from_utf8_lossy(&piped.stderr);
    assert!(
        !stderr.contains("ETA") && !stderr.contains("simulated ·"),
        "{stderr}"
    );
    // On a terminal (util-linux `script` gives the run one): simulated
    // time against the duration, events/s and an ETA.
    let Ok(tty) = std::process::Command::new("script")
        .args(["-qec", &format!("stty cols 120; {args}"), "/dev/null"])
        .output()
    else {
        eprintln!("skipped the terminal half: no `script` on this machine");
        return;
    };
    let text = String::from_utf8_lossy(&tty.stdout);
    assert!(tty.status.success(), "{text}");
    assert!(text.contains(" of 4h simulated · "), "{text}");
    assert!(text.contains("events/s") && text.contains("ETA"), "{text}");
    // --quiet: silent on a terminal too.
    let quiet = std::process::Command::new("script")
        .args(["-qec", &format!("{args} --quiet"), "/dev/null"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&quiet.stdout);
    assert!(!text.contains("ETA"), "{text}");
}

#[test]
fn format_json_prints_parseable_summary_rows() {
    let dir = TempDir::new().unwrap();
    let file = dir.path().join("t.toml");
    std::fs::write(&file, MINIMAL).unwrap();
    let assert = surge()
        .args(["run", "--format", "json", "--replications", "2"])
        .arg(&file)
        .arg("--out")
        .arg(dir.path().join("o"))
        .assert()
        .success();
    let v: serde_json::Value = serde_json::from_slice(&assert.get_output().stdout).unwrap();
    assert_eq!(v["scenario"], "t");
    let rows = v["summary"].as_array().unwrap();
    assert_eq!(rows.len(), 4, "2 replications × (jobs + all)");
    assert!(rows[0]["latency_p99_s"].as_f64().unwrap() > 0.0);
    assert_eq!(v["pools"][0]["pool"], "gpu");
}

fn run_to(dir: &Path, name: &str, extra: &[&str], envs: &[(&str, &str)]) -> Vec<Vec<u8>> {
    let out = dir.join(name);
    let mut cmd = surge();
    cmd.args(["run", "--quiet", "--replications", "4"])
        .arg(dir.join("t.toml"))
        .arg("--out")
        .arg(&out)
        .args(extra);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.assert().success();
    ["summary.csv", "pools.csv", "timeseries.csv"]
        .iter()
        .map(|f| std::fs::read(out.join(f)).unwrap())
        .collect()
}

#[test]
fn outputs_are_byte_identical_whatever_the_thread_count() {
    let dir = TempDir::new().unwrap();
    std::fs::write(dir.path().join("t.toml"), MINIMAL).unwrap();
    let one = run_to(dir.path(), "a", &[], &[("RAYON_NUM_THREADS", "1")]);
    let two = run_to(dir.path(), "b", &[], &[("RAYON_NUM_THREADS", "2")]);
    let jobs1 = run_to(dir.path(), "c", &["--jobs", "1"], &[]);
    let jobs2 = run_to(dir.path(), "d", &["--jobs", "2"], &[]);
    assert_eq!(one, two);
    assert_eq!(one, jobs1);
    assert_eq!(one, jobs2);
    let other_seed = run_to(dir.path(), "e", &["--seed", "4"], &[]);
    assert_ne!(
        one[0], other_seed[0],
        "a different seed gives different results"
    );
}

#[test]
fn validate_prints_the_resolved_scenario() {
    surge()
        .arg("validate")
        .arg(repo("scenarios/mmc.toml"))
        .arg(repo("scenarios/launch-day.toml"))
        .assert()
        .success()
        .stdout(predicate::str::contains("mmc.toml: ok"))
        .stdout(predicate::str::contains("offered load ρ = 0.900"))
        .stdout(predicate::str::contains("population free: signups profile"));
}

#[test]
fn validate_checks_every_point_of_a_sweep_table() {
    let dir = TempDir::new().unwrap();
    let base = std::fs::read_to_string(repo("scenarios/mmc.toml")).unwrap();
    let good = dir.path().join("good.toml");
    std::fs::write(
        &good,
        format!("{base}\n[sweep]\n\"pool.gpu.gpus\" = [8, 9]\n"),
    )
    .unwrap();
    surge()
        .arg("validate")
        .arg(&good)
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "sweep         2 points, every one valid",
        ));
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        format!("{base}\n[sweep]\n\"pool.gpu.gpus\" = [8, 0]\n"),
    )
    .unwrap();
    surge()
        .arg("validate")
        .arg(&bad)
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains(
            "point 1 (pool.gpu.gpus=0) is invalid",
        ))
        .stderr(predicate::str::contains(
            "[sweep] or --grid pool.gpu.gpus=0",
        ))
        .stderr(predicate::str::contains("1 of 2 sweep points are invalid"));
}

#[test]
fn set_overrides_values_by_name() {
    surge()
        .args([
            "validate",
            "--set",
            "pool.gpu.gpus=12",
            "--set",
            "class.jobs.arrivals.rate=9/s",
        ])
        .arg(repo("scenarios/mmc.toml"))
        .assert()
        .success()
        .stdout(predicate::str::contains("12 GPUs"))
        .stdout(predicate::str::contains("poisson 9/s"));
}

#[test]
fn unstable_pool_warns_and_still_runs() {
    let dir = TempDir::new().unwrap();
    let file = dir.path().join("t.toml");
    std::fs::write(&file, MINIMAL.replace("rate = \"3/s\"", "rate = \"5/s\"")).unwrap();
    surge()
        .arg("run")
        .arg(&file)
        .arg("--out")
        .arg(dir.path().join("o"))
        .assert()
        .success()
        .stderr(predicate::str::contains("warning:"))
        .stderr(predicate::str::contains("ρ = 1.250"))
        .stdout(predicate::str::contains(
            "overloaded: backlog still growing when arrivals stopped",
        ));
}

#[test]
fn help_teaches_with_examples() {
    surge()
        .arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains("surge run scenarios/mmc.toml"))
        .stdout(predicate::str::contains("Exit codes"));
    surge()
        .args(["run", "--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains("--set <PATH=VALUE>"));
}

// ---- bad input: one test per kind ----

#[test]
fn unknown_key_is_rejected() {
    let text = MINIMAL.replace("gpus = 4", "gpus = 4\ngpu_count = 5");
    let err = assert_rejected(&text, 9, "pool.gpu.gpu_count");
    assert!(err.contains("unknown field"), "{err}");
}

#[test]
fn wrong_type_is_rejected() {
    let err = assert_rejected(
        &MINIMAL.replace("gpus = 4", "gpus = \"four\""),
        8,
        "pool.gpu.gpus",
    );
    assert!(err.contains("expected an integer"), "{err}");
    assert!(err.contains("found \"four\""), "{err}");
}

#[test]
fn negative_rate_is_rejected() {
    let err = assert_rejected(
        &MINIMAL.replace("\"3/s\"", "\"-3/s\""),
        13,
        "class.jobs.arrivals.rate",
    );
    assert!(err.contains("expected a rate > 0"), "{err}");
}

#[test]
fn zero_rate_is_rejected() {
    assert_rejected(
        &MINIMAL.replace("\"3/s\"", "\"0/s\""),
        13,
        "class.jobs.arrivals.rate",
    );
}

#[test]
fn rate_without_unit_is_rejected_with_a_hint() {
    let err = assert_rejected(
        &MINIMAL.replace("\"3/s\"", "3"),
        13,
        "class.jobs.arrivals.rate",
    );
    assert!(err.contains("hint:"), "{err}");
}

#[test]
fn zero_gpus_are_rejected() {
    assert_rejected(&MINIMAL.replace("gpus = 4", "gpus = 0"), 8, "pool.gpu.gpus");
}

#[test]
fn class_routed_to_a_missing_pool_is_rejected() {
    let err = assert_rejected(
        &MINIMAL.replace("pool = \"gpu\"", "pool = \"gpx\""),
        12,
        "class.jobs.pool",
    );
    assert!(err.contains("unknown pool \"gpx\"; known: gpu"), "{err}");
}

#[test]
fn duplicate_names_are_rejected() {
    let text = format!("{MINIMAL}\n[[pool]]\nname = \"gpu\"\ngpus = 2\n");
    let err = assert_rejected(&text, 17, "pool.gpu.name");
    assert!(err.contains("duplicate pool name"), "{err}");
}

#[test]
fn warmup_not_shorter_than_duration_is_rejected() {
    assert_rejected(
        &MINIMAL.replace("warmup = \"1m\"", "warmup = \"10m\""),
        3,
        "warmup",
    );
}

#[test]
fn empty_file_is_rejected() {
    let dir = TempDir::new().unwrap();
    let file = dir.path().join("bad.toml");
    std::fs::write(&file, "  \n").unwrap();
    surge()
        .arg("run")
        .arg(&file)
        .arg("--out")
        .arg(dir.path().join("out"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("bad.toml:1:1"))
        .stderr(predicate::str::contains("empty"));
    assert!(!dir.path().join("out").exists());
}

#[test]
fn missing_empirical_file_is_rejected() {
    let text = MINIMAL.replace(
        "service = { dist = \"exponential\", mean = \"1s\" }",
        "service = { dist = \"empirical\", file = \"nope.csv\" }",
    );
    let err = assert_rejected(&text, 14, "class.jobs.service.file");
    assert!(err.contains("nope.csv"), "{err}");
}

#[test]
fn empirical_file_is_read_relative_to_the_scenario() {
    let dir = TempDir::new().unwrap();
    std::fs::write(dir.path().join("sizes.csv"), "gpu_seconds\n0.5\n1.5s\n1\n").unwrap();
    let text = MINIMAL.replace(
        "service = { dist = \"exponential\", mean = \"1s\" }",
        "service = { dist = \"empirical\", file = \"sizes.csv\" }",
    );
    std::fs::write(dir.path().join("t.toml"), text).unwrap();
    surge()
        .arg("validate")
        .arg(dir.path().join("t.toml"))
        .assert()
        .success()
        .stdout(predicate::str::contains("empirical(3 values, mean 1s)"));
}

#[test]
fn bad_value_in_an_empirical_file_names_its_line() {
    let dir = TempDir::new().unwrap();
    std::fs::write(dir.path().join("sizes.csv"), "1s\n2s\nfast\n").unwrap();
    let text = MINIMAL.replace(
        "service = { dist = \"exponential\", mean = \"1s\" }",
        "service = { dist = \"empirical\", file = \"sizes.csv\" }",
    );
    std::fs::write(dir.path().join("bad.toml"), text).unwrap();
    surge()
        .arg("validate")
        .arg(dir.path().join("bad.toml"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("sizes.csv:3"))
        .stderr(predicate::str::contains("\"fast\""));
}

#[test]
fn unreadable_scenario_is_rejected() {
    surge()
        .args(["run", "/nonexistent/scenario.toml"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("/nonexistent/scenario.toml"))
        .stderr(predicate::str::contains("cannot read"));
}

#[test]
fn invalid_toml_syntax_is_rejected() {
    let err = assert_rejected(&MINIMAL.replace("gpus = 4", "gpus = = 4"), 8, "");
    assert!(err.contains("invalid TOML"), "{err}");
}

#[test]
fn every_problem_is_reported_at_once() {
    let text = MINIMAL
        .replace("gpus = 4", "gpus = 0")
        .replace("\"3/s\"", "\"fast\"")
        .replace("mean = \"1s\"", "mean = \"1 parsec\"");
    let err = assert_rejected(&text, 8, "pool.gpu.gpus");
    assert!(
        err.contains(":13:") && err.contains("class.jobs.arrivals.rate"),
        "{err}"
    );
    assert!(
        err.contains(":14:") && err.contains("class.jobs.service.mean"),
        "{err}"
    );
    assert_eq!(err.matches("error:").count(), 3, "{err}");
}

#[test]
fn bad_override_names_the_set_flag() {
    let dir = TempDir::new().unwrap();
    let file = dir.path().join("t.toml");
    std::fs::write(&file, MINIMAL).unwrap();
    surge()
        .args(["run", "--set", "pool.gpu.gpus=0"])
        .arg(&file)
        .arg("--out")
        .arg(dir.path().join("out"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "--set pool.gpu.gpus=0: pool.gpu.gpus: expected an integer",
        ));
    surge()
        .args(["run", "--set", "pool.gpz.gpus=3"])
        .arg(&file)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("unknown pool \"gpz\"; known: gpu"));
    surge()
        .args(["run", "--set", "nogood"])
        .arg(&file)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("PATH=VALUE"));
    assert!(!dir.path().join("out").exists());
}

// ---- bad input for the workload keys ----

/// MINIMAL with its arrivals line (line 13) replaced.
fn with_arrivals(arrivals: &str) -> String {
    MINIMAL.replace(
        "arrivals = { process = \"poisson\", rate = \"3/s\" }",
        &format!("arrivals = {arrivals}"),
    )
}

#[test]
fn unknown_process_is_rejected() {
    let err = assert_rejected(
        &with_arrivals("{ process = \"viral\" }"),
        13,
        "class.jobs.arrivals.process",
    );
    assert!(err.contains("\"profile\""), "{err}");
}

#[test]
fn key_of_another_process_is_rejected() {
    let err = assert_rejected(
        &with_arrivals("{ process = \"profile\", base = \"1/s\", rate = \"2/s\" }"),
        13,
        "class.jobs.arrivals.rate",
    );
    assert!(
        err.contains("does not apply to process \"profile\""),
        "{err}"
    );
}

#[test]
fn spike_without_peak_is_rejected() {
    assert_rejected(
        &with_arrivals("{ process = \"profile\", base = \"1/s\", spikes = [{ at = \"1h\" }] }"),
        13,
        "class.jobs.arrivals.spikes.0.peak",
    );
}

#[test]
fn diurnal_amplitude_above_one_is_rejected() {
    assert_rejected(
        &with_arrivals(
            "{ process = \"profile\", base = \"1/s\", diurnal = { amplitude = 1.5, peak = \"20h\" } }",
        ),
        13,
        "class.jobs.arrivals.diurnal.amplitude",
    );
}

#[test]
fn zero_profile_is_rejected() {
    assert_rejected(
        &with_arrivals("{ process = \"profile\" }"),
        13,
        "class.jobs.arrivals",
    );
}

#[test]
fn missing_trace_file_is_rejected() {
    let err = assert_rejected(
        &with_arrivals("{ process = \"trace\", file = \"gone.csv\" }"),
        13,
        "class.jobs.arrivals.file",
    );
    assert!(err.contains("gone.csv"), "{err}");
}

#[test]
fn unsorted_trace_names_the_file_line_and_column() {
    let dir = TempDir::new().unwrap();
    std::fs::write(dir.path().join("t.csv"), "t\n1\n5\n3\n").unwrap();
    std::fs::write(
        dir.path().join("bad.toml"),
        with_arrivals("{ process = \"trace\", file = \"t.csv\" }"),
    )
    .unwrap();
    surge()
        .arg("validate")
        .arg(dir.path().join("bad.toml"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("bad.toml:13:"))
        .stderr(predicate::str::contains(
            "t.csv:4:1: expected timestamps in increasing order",
        ));
}

#[test]
fn trace_column_that_does_not_exist_is_rejected() {
    let dir = TempDir::new().unwrap();
    std::fs::write(dir.path().join("t.csv"), "time,user\n1,a\n2,b\n").unwrap();
    std::fs::write(
        dir.path().join("bad.toml"),
        with_arrivals("{ process = \"trace\", file = \"t.csv\", column = \"ts\" }"),
    )
    .unwrap();
    surge()
        .arg("validate")
        .arg(dir.path().join("bad.toml"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "no column \"ts\"; found time, user",
        ));
}

#[test]
fn bad_count_in_a_counts_trace_is_rejected() {
    let dir = TempDir::new().unwrap();
    std::fs::write(dir.path().join("c.csv"), "start,count\n0s,5\n1m,many\n").unwrap();
    std::fs::write(
        dir.path().join("bad.toml"),
        with_arrivals("{ process = \"trace\", file = \"c.csv\", format = \"counts\" }"),
    )
    .unwrap();
    surge()
        .arg("validate")
        .arg(dir.path().join("bad.toml"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("c.csv:3:2: expected a count"));
}

#[test]
fn unknown_population_is_rejected() {
    let err = assert_rejected(
        &with_arrivals("{ process = \"users\", population = \"nobody\" }"),
        13,
        "class.jobs.arrivals.population",
    );
    assert!(err.contains("unknown population \"nobody\""), "{err}");
}

#[test]
fn per_user_limit_without_users_is_rejected() {
    let text = MINIMAL.replace(
        "service = { dist = \"exponential\", mean = \"1s\" }",
        "service = { dist = \"exponential\", mean = \"1s\" }\nlimit = { rate = \"3/d\", burst = 3, per = \"user\" }",
    );
    assert_rejected(&text, 15, "class.jobs.limit.per");
}

#[test]
fn zero_max_attempts_is_rejected() {
    let text = MINIMAL.replace(
        "service = { dist = \"exponential\", mean = \"1s\" }",
        "service = { dist = \"exponential\", mean = \"1s\" }\nretry = { max_attempts = 0 }",
    );
    assert_rejected(&text, 15, "class.jobs.retry.max_attempts");
}

#[test]
fn bad_patience_is_rejected() {
    let text = MINIMAL.replace(
        "service = { dist = \"exponential\", mean = \"1s\" }",
        "service = { dist = \"exponential\", mean = \"1s\" }\npatience = { dist = \"exponential\", mean = \"-5s\" }",
    );
    assert_rejected(&text, 15, "class.jobs.patience.mean");
}

#[test]
fn population_without_requests_is_rejected() {
    let text = format!(
        "{}\n[[population]]\nname = \"free\"\nsignups = {{ process = \"poisson\", rate = \"1/s\" }}\n",
        with_arrivals("{ process = \"users\", population = \"free\" }")
    );
    assert_rejected(&text, 16, "population.free.requests");
}

#[test]
fn signups_from_users_are_rejected() {
    let text = format!(
        "{}\n[[population]]\nname = \"free\"\nsignups = {{ process = \"users\", population = \"free\" }}\nrequests = {{ dist = \"poisson\", mean = 2 }}\n",
        with_arrivals("{ process = \"users\", population = \"free\" }")
    );
    let err = assert_rejected(&text, 18, "population.free.signups.process");
    assert!(err.contains("signups cannot come from users"), "{err}");
}

// ---- bad input for policies and pool dynamics ----

fn with_pool_line(line: &str) -> String {
    MINIMAL.replace("gpus = 4", &format!("gpus = 4\n{line}"))
}

#[test]
fn unknown_policy_is_rejected() {
    let err = assert_rejected(&with_pool_line("policy = \"lifo\""), 9, "pool.gpu.policy");
    assert!(err.contains("\"priority\""), "{err}");
}

#[test]
fn shed_without_a_limit_is_rejected() {
    assert_rejected(
        &with_pool_line("policy = { kind = \"shed\" }"),
        9,
        "pool.gpu.policy",
    );
}

#[test]
fn deferral_without_threshold_is_rejected() {
    assert_rejected(
        &with_pool_line("policy = { kind = \"deferral\" }"),
        9,
        "pool.gpu.policy.threshold",
    );
}

#[test]
fn policy_parameter_of_another_policy_is_rejected() {
    assert_rejected(
        &with_pool_line("policy = { kind = \"fair\", max_queue = 3 }"),
        9,
        "pool.gpu.policy.max_queue",
    );
}

/// Errors inside an inline table point at the bad value itself: line 9,
/// and the column where the value starts.
#[test]
fn errors_inside_inline_tables_point_at_the_value() {
    // policy = { kind = "shed", max_queue = -1 }: the -1 is at column 39.
    let err = assert_rejected(
        &with_pool_line("policy = { kind = \"shed\", max_queue = -1 }"),
        9,
        "pool.gpu.policy.max_queue",
    );
    assert!(err.contains("bad.toml:9:39:"), "{err}");
    // A key of another policy: at its value (column 39 again).
    let err = assert_rejected(
        &with_pool_line("policy = { kind = \"fair\", max_queue = 3 }"),
        9,
        "pool.gpu.policy.max_queue",
    );
    assert!(err.contains("bad.toml:9:39:"), "{err}");
    // An unknown kind: at the kind's value (column 19).
    let err = assert_rejected(
        &with_pool_line("policy = { kind = \"lifo\" }"),
        9,
        "pool.gpu.policy",
    );
    assert!(err.contains("bad.toml:9:19:"), "{err}");
    // The second step of a capacity schedule: at its bad `gpus` (column 58).
    let err = assert_rejected(
        &with_pool_line("capacity = [{ at = \"1h\", gpus = 5 }, { at = \"2h\", gpus = \"lots\" }]"),
        9,
        "pool.gpu.capacity.1.gpus",
    );
    assert!(err.contains("bad.toml:9:58:"), "{err}");
    // An unknown key in a step is a shape error at that key.
    assert_rejected(
        &with_pool_line("capacity = [{ at = \"1h\", gpu = 5 }]"),
        9,
        "",
    );
}

#[test]
fn shed_class_that_does_not_exist_is_rejected() {
    let err = assert_rejected(
        &with_pool_line("policy = { kind = \"shed\", max_queue = 3, classes = [\"free\"] }"),
        9,
        "pool.gpu.policy.classes",
    );
    assert!(err.contains("unknown class \"free\""), "{err}");
}

#[test]
fn bad_capacity_change_is_rejected() {
    assert_rejected(
        &with_pool_line("capacity = [{ at = \"1h\", gpus = \"lots\" }]"),
        9,
        "pool.gpu.capacity.0.gpus",
    );
}

#[test]
fn autoscaler_with_min_above_max_is_rejected() {
    assert_rejected(
        &with_pool_line("autoscale = { min = 5, max = 2, trigger = { utilization = 0.8 } }"),
        9,
        "pool.gpu.autoscale.max",
    );
}

#[test]
fn autoscaler_without_trigger_is_rejected() {
    assert_rejected(
        &with_pool_line("autoscale = { min = 1, max = 8 }"),
        9,
        "pool.gpu.autoscale.trigger",
    );
}

#[test]
fn failures_with_both_mttr_and_repair_are_rejected() {
    assert_rejected(
        &with_pool_line(
            "failures = { mtbf = \"100h\", mttr = \"1h\", repair = { dist = \"exponential\", mean = \"1h\" } }",
        ),
        9,
        "pool.gpu.failures.mttr",
    );
}

#[test]
fn deferred_patience_without_deferrable_is_rejected() {
    let text = MINIMAL.replace(
        "service = { dist = \"exponential\", mean = \"1s\" }",
        "service = { dist = \"exponential\", mean = \"1s\" }\ndeferred_patience = { dist = \"exponential\", mean = \"1h\" }",
    );
    assert_rejected(&text, 15, "class.jobs.deferred_patience");
}

#[test]
fn fractional_priority_is_rejected() {
    let text = MINIMAL.replace(
        "service = { dist = \"exponential\", mean = \"1s\" }",
        "service = { dist = \"exponential\", mean = \"1s\" }\npriority = 1.5",
    );
    assert_rejected(&text, 15, "class.jobs.priority");
}

#[test]
fn batching_without_max_batch_is_rejected() {
    assert_rejected(
        &with_pool_line("batching = { base = \"1s\", per_item = \"100ms\" }"),
        9,
        "pool.gpu.batching.max_batch",
    );
}

#[test]
fn batching_with_failures_is_rejected() {
    let text = with_pool_line(
        "batching = { max_batch = 4, base = \"1s\", per_item = \"100ms\" }\nfailures = { mtbf = \"100h\", mttr = \"1h\" }",
    );
    let err = assert_rejected(&text, 9, "pool.gpu.batching");
    assert!(err.contains("not supported yet"), "{err}");
}

// ---- --trace ----

#[test]
fn trace_writes_the_first_requests_of_each_replication() {
    let dir = TempDir::new().unwrap();
    let out = dir.path().join("o");
    surge()
        .args(["run", "--quiet", "--charts", "none", "--trace", "50"])
        .args([
            "--replications",
            "2",
            "--set",
            "duration=10m",
            "--set",
            "warmup=1m",
        ])
        .arg(repo("scenarios/mmc.toml"))
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    let text = std::fs::read_to_string(out.join("requests.csv")).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("scenario,point,replication,id,class,arrival_s,start_s,end_s,outcome,attempts")
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 2 * 50);
    for (k, r) in rows.iter().enumerate() {
        assert_eq!(r[2], (k / 50).to_string(), "replication");
        assert_eq!(r[3], (k % 50).to_string(), "id");
        let arrival: f64 = r[5].parse().unwrap();
        let start: f64 = r[6].parse().unwrap();
        let end: f64 = r[7].parse().unwrap();
        assert!(arrival >= 60.0 && start >= arrival && end > start, "{r:?}");
        assert_eq!((r[4], r[8], r[9]), ("jobs", "completed", "1"));
    }
    // Without --trace, no requests.csv.
    let plain = dir.path().join("plain");
    surge()
        .args([
            "run",
            "--quiet",
            "--charts",
            "none",
            "--set",
            "duration=20m",
        ])
        .arg(repo("scenarios/mmc.toml"))
        .arg("--out")
        .arg(&plain)
        .assert()
        .success();
    assert!(!plain.join("requests.csv").exists());
}

// ---- charts ----

#[test]
fn run_draws_png_charts_that_decode_and_are_not_blank() {
    let dir = TempDir::new().unwrap();
    let out = dir.path().join("o");
    surge()
        .args([
            "run",
            "--quiet",
            "--set",
            "duration=30m",
            "--set",
            "warmup=1m",
        ])
        .arg(repo("scenarios/mmc.toml"))
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    for name in ["latency-jobs.png", "pool-gpu.png"] {
        let img = image::open(out.join("charts").join(name))
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .to_rgb8();
        assert_eq!(img.dimensions(), (1200, 800), "{name}");
        let first = *img.get_pixel(0, 0);
        let different = img.pixels().filter(|p| **p != first).count();
        assert!(
            different > 10_000,
            "{name} is nearly blank: {different} pixels differ"
        );
        let colours: std::collections::HashSet<_> = img.pixels().map(|p| p.0).collect();
        assert!(colours.len() > 20, "{name} has {} colours", colours.len());
    }
    // No setbacks in M/M/c: no outcomes chart.
    assert!(!out.join("charts/outcomes-jobs.png").exists());
}

#[test]
fn chart_redraws_svg_from_the_csvs_and_none_draws_nothing() {
    let dir = TempDir::new().unwrap();
    let out = dir.path().join("o");
    surge()
        .args([
            "run",
            "--quiet",
            "--charts",
            "none",
            "--set",
            "duration=20m",
            "--set",
            "warmup=1m",
        ])
        .arg(repo("scenarios/mmc.toml"))
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    assert!(!out.join("charts").exists());
    surge()
        .args(["chart", "--charts", "svg"])
        .arg(&out)
        .assert()
        .success()
        .stdout(predicate::str::contains("latency-jobs.svg"));
    let svg = std::fs::read_to_string(out.join("charts/latency-jobs.svg")).unwrap();
    let doc = roxmltree::Document::parse(&svg).expect("valid SVG (XML)");
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    assert!(
        svg.contains("latency of the bucket"),
        "text is rendered as text"
    );
    surge()
        .arg("chart")
        .arg(dir.path().join("missing"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("summary.csv"));
}

/// Malformed SLOs are bad input (exit 2, located), not violations (exit 1).
#[test]
fn malformed_slos_are_bad_input_not_violations() {
    // MINIMAL is 14 lines: the appended [[slo]] is line 16, its keys 17 on.
    let slo = |entry: &str| format!("{MINIMAL}\n[[slo]]\n{entry}\n");
    let err = assert_rejected(
        &slo(r#"class = "jobs"
metric = "slo_attainment"
min = 0.9"#),
        18,
        "slo.0.metric",
    );
    assert!(err.contains("has no latency_target"), "{err}");
    let err = assert_rejected(
        &slo(r#"class = "jobs"
metric = "completed_fraction"
min = 0.99
max = 0.5"#),
        19,
        "slo.0.min",
    );
    assert!(err.contains("expected min ≤ max"), "{err}");
    let err = assert_rejected(
        &slo(r#"class = "jobs"
metric = "completed_fraction"
min = 1.5"#),
        19,
        "slo.0.min",
    );
    assert!(err.contains("a share from 0 to 1"), "{err}");
}

/// A bad value in a class does not also make its SLOs "unknown class".
#[test]
fn one_bad_class_value_gives_one_error() {
    let text = format!(
        "{}\n[[slo]]\nclass = \"jobs\"\nmetric = \"wait_mean\"\nmax = \"1s\"\n",
        MINIMAL.replace("rate = \"3/s\"", "rate = \"fast\"")
    );
    let err = assert_rejected(&text, 13, "class.jobs.arrivals.rate");
    assert!(!err.contains("unknown class"), "{err}");
    assert_eq!(err.matches("error:").count(), 1, "{err}");
}

#[test]
fn a_flag_that_overrides_a_swept_key_is_refused() {
    for (flag, value, grid) in [
        ("--seed", "5", "seed=11,12,13"),
        ("--replications", "2", "replications=1,3"),
    ] {
        surge()
            .args(["sweep", flag, value, "--grid", grid])
            .arg(repo("scenarios/mmc.toml"))
            .arg("--out")
            .arg(TempDir::new().unwrap().path().join("o"))
            .assert()
            .code(2)
            .stderr(predicate::str::contains(format!(
                "{flag} conflicts with the swept"
            )));
    }
}

#[test]
fn an_invalid_grid_point_is_named_by_its_grid_value() {
    surge()
        .args([
            "sweep",
            "--quiet",
            "--grid",
            "pool.gpu.gpus=8,0",
            "--set",
            "duration=20m",
        ])
        .arg(repo("scenarios/mmc.toml"))
        .arg("--out")
        .arg(TempDir::new().unwrap().path().join("o"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "[sweep] or --grid pool.gpu.gpus=0: pool.gpu.gpus",
        ))
        .stderr(predicate::str::contains("--set pool.gpu.gpus").not());
}

#[test]
fn chart_on_a_malformed_csv_is_bad_input() {
    let dir = TempDir::new().unwrap();
    let out = dir.path().join("o");
    surge()
        .args([
            "run",
            "--quiet",
            "--charts",
            "none",
            "--set",
            "duration=20m",
        ])
        .arg(repo("scenarios/mmc.toml"))
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    std::fs::write(out.join("pools.csv"), "scenario,point\nmmc,zero\n").unwrap();
    surge()
        .arg("chart")
        .arg(&out)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("pools.csv has no column"));
}

/// An SLO that every replication misses fails, however wide its interval
/// (2 replications of an overloaded queue: mean wait ≫ 1.5 s); intervals
/// stay inside the metric's range; `--strict` fails uncertain bounds too.
#[test]
fn check_fails_gross_violations_and_strict_fails_uncertain_ones() {
    let dir = TempDir::new().unwrap();
    let junit = dir.path().join("j.xml");
    let out = surge()
        .args([
            "check",
            "--replications",
            "2",
            "--format",
            "json",
            "--set",
            "duration=30m",
        ])
        .args(["--set", "class.jobs.arrivals.rate=8.4/s", "--junit"])
        .arg(&junit)
        .arg(repo("scenarios/mmc.toml"))
        .arg("--out")
        .arg(dir.path().join("o"))
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let wait = v
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["metric"] == "wait_mean")
        .unwrap();
    assert_eq!(wait["verdict"], "FAIL", "{wait}");
    assert!(wait["ci_low"].as_f64().unwrap() >= 0.0, "{wait}");
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(!xml.contains("sbaseline"), "{xml}");
    // A bound at the observed mean: the interval straddles it, so the
    // bound is uncertain (exit 0), and a failure with --strict.
    let file = dir.path().join("straddle.toml");
    let slo = |max: &str| {
        format!(
            "duration = \"20m\"\nwarmup = \"2m\"\nseed = 4\nreplications = 3\n\
             [[pool]]\nname = \"gpu\"\ngpus = 8\n[[class]]\nname = \"jobs\"\npool = \"gpu\"\n\
             arrivals = {{ process = \"poisson\", rate = \"7.2/s\" }}\n\
             service = {{ dist = \"exponential\", mean = \"1s\" }}\n\
             [[slo]]\nclass = \"jobs\"\nmetric = \"wait_mean\"\nmax = \"{max}\"\n"
        )
    };
    std::fs::write(&file, slo("1h")).unwrap();
    let check = |strict: bool| {
        let mut cmd = surge();
        cmd.args(["check", "--format", "json"]);
        if strict {
            cmd.arg("--strict");
        }
        let out = cmd
            .arg(&file)
            .arg("--out")
            .arg(dir.path().join("s"))
            .output()
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        (out.status.code(), v[0].clone())
    };
    let (_, first) = check(false);
    let mean = first["value"].as_f64().unwrap();
    std::fs::write(&file, slo(&format!("{}us", (mean * 1e6).round()))).unwrap();
    let (code, o) = check(false);
    assert_eq!(
        (code, o["verdict"].as_str()),
        (Some(0), Some("warn")),
        "{o}"
    );
    let (code, o) = check(true);
    assert_eq!(
        (code, o["verdict"].as_str()),
        (Some(1), Some("FAIL")),
        "{o}"
    );
}

#[test]
fn plan_prints_json_and_its_answer_when_quiet() {
    let dir = TempDir::new().unwrap();
    let run = |extra: &[&str]| {
        surge()
            .args([
                "plan",
                "--vary",
                "pool.gpu.gpus",
                "--slo",
                "jobs:wait_mean<=100ms",
            ])
            .args(["--set", "duration=30m", "--set", "warmup=3m"])
            .args(extra)
            .arg(repo("scenarios/mmc.toml"))
            .arg("--out")
            .arg(dir.path().join("p"))
            .assert()
            .success()
            .get_output()
            .stdout
            .clone()
    };
    let quiet = String::from_utf8(run(&["--quiet"])).unwrap();
    let answer: u64 = quiet.trim().parse().expect("the answer alone");
    let json: serde_json::Value = serde_json::from_slice(&run(&["--format", "json"])).unwrap();
    assert_eq!(json["answer"], answer);
    assert!(json["probes"].as_array().unwrap().len() >= 3);
    assert!(dir.path().join("p/plan.csv").exists());
}

#[test]
fn compare_writes_its_table_to_the_output_folder() {
    let dir = TempDir::new().unwrap();
    surge()
        .args([
            "compare",
            "--quiet",
            "--replications",
            "3",
            "--set",
            "duration=20m",
        ])
        .args(["--set", "warmup=2m", "--b", "pool.gpu.gpus=9"])
        .arg(repo("scenarios/mmc.toml"))
        .arg("--out")
        .arg(dir.path().join("c"))
        .assert()
        .success();
    let csv = std::fs::read_to_string(dir.path().join("c/compare.csv")).unwrap();
    assert!(
        csv.starts_with("class,metric,a,b,diff,ci_low,ci_high,significant\n"),
        "{csv}"
    );
    assert!(csv.contains("jobs,wait_mean,"), "{csv}");
}

/// The resolved scenario shows every class setting that ran, and SLO
/// bounds with their units.
#[test]
fn validate_shows_every_class_setting() {
    let out = surge()
        .args(["validate"])
        .arg(repo("scenarios/launch-day.toml"))
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    for needle in [
        "priority 1; weight 1; patience exponential(mean 30s)",
        "retry up to 3 attempts",
        "limit 0.125/h, burst 3, per user",
        "deferrable, deferred patience lognormal(mean 2h, cv 0.5)",
        "think time exponential(mean 40s)",
    ] {
        assert!(text.contains(needle), "{needle:?} missing from:\n{text}");
    }
    let mmc = surge()
        .args(["validate"])
        .arg(repo("scenarios/mmc.toml"))
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert!(
        String::from_utf8(mmc)
            .unwrap()
            .contains("jobs wait_mean ≤ 1.5s")
    );
}

/// Messages say what is wrong with a value, and do not echo huge ones.
#[test]
fn messages_name_the_real_problem_and_stay_short() {
    surge()
        .args(["validate", "--set", "duration=213504d"])
        .arg(repo("scenarios/mmc.toml"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("shorter than 584 years"));
    let long = "a".repeat(5000);
    let out = surge()
        .args(["validate", "--set"])
        .arg(format!("name={long}"))
        .arg(repo("scenarios/mmc.toml"))
        .assert()
        .code(2)
        .get_output()
        .stderr
        .clone();
    let err = String::from_utf8(out).unwrap();
    assert!(err.len() < 600, "{} bytes: {err}", err.len());
    assert!(err.contains("(5000 characters)"), "{err}");
}

#[test]
fn a_duplicate_key_is_named_and_a_huge_integer_is_explained() {
    let err = assert_rejected(&with_pool_line("gpus = 5"), 9, "");
    assert!(err.contains("duplicate key `gpus`"), "{err}");
    let err = assert_rejected(
        &MINIMAL.replace("seed = 3", "seed = 99999999999999999999"),
        4,
        "seed",
    );
    assert!(err.contains("at most 9223372036854775807"), "{err}");
}

#[test]
fn help_and_flags_say_only_what_works() {
    // `surge chart` always draws: `none` is not offered.
    surge()
        .args(["chart", "--charts", "none", "output/x"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("invalid value 'none'"));
    // SLO examples can be pasted into a shell.
    surge()
        .arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains("--slo 'jobs:wait_mean<=100ms'"));
}

/// A plan prints the scenario's load warnings once, not once per probe,
/// and its probe table never shows an interval below zero.
#[test]
fn plan_warns_once_and_keeps_intervals_in_range() {
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
            "duration=30m",
            "--set",
            "warmup=3m",
            "--set",
            "pool.gpu.gpus=4",
        ])
        .args(["--replications", "3"])
        .arg(repo("scenarios/mmc.toml"))
        .arg("--out")
        .arg(dir.path().join("p"))
        .assert()
        .success()
        .get_output()
        .clone();
    let (stdout, stderr) = (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    );
    assert!(stderr.matches("warning:").count() <= 1, "{stderr}");
    assert!(!stderr.contains("--vary"), "{stderr}");
    assert!(!stdout.contains("[-"), "{stdout}");
}
