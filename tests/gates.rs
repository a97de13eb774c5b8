//! `surge check`, `surge plan` and `surge compare`: verdicts for CI and
//! planners.

use assert_cmd::Command;
use predicates::prelude::*;
use std::path::Path;
use surge::app::{CheckOptions, PlanOptions, SloArg, paired_rows, plan, run_replications};
use surge::scenario::{Override, load_str};
use surge::theory;
use tempfile::TempDir;

fn surge() -> Command {
    Command::cargo_bin("surge").expect("binary builds")
}

fn scenario(gpus: u32, slo: &str) -> String {
    format!(
        r#"name = "gate"
duration = "1h"
warmup = "5m"
seed = 9
replications = 4

[[pool]]
name = "gpu"
gpus = {gpus}

[[class]]
name = "jobs"
pool = "gpu"
arrivals = {{ process = "poisson", rate = "7.2/s" }}
service = {{ dist = "exponential", mean = "1s" }}

{slo}
"#
    )
}

const SLOS: &str = r#"[[slo]]
class = "jobs"
metric = "wait_mean"
max = "200ms"

[[slo]]
class = "all"
metric = "throughput_per_s"
min = 7.0
"#;

#[test]
fn check_passes_met_slos_and_fails_violated_ones_with_junit() {
    let dir = TempDir::new().unwrap();
    std::fs::write(dir.path().join("ok.toml"), scenario(12, SLOS)).unwrap();
    std::fs::write(
        dir.path().join("bad.toml"),
        scenario(8, SLOS).replace("name = \"gate\"", "name = \"gate8\""),
    )
    .unwrap();
    surge()
        .arg("check")
        .arg(dir.path().join("ok.toml"))
        .arg("--out")
        .arg(dir.path().join("o1"))
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "pass  gate: jobs wait_mean ≤ 200.0ms",
        ));
    let junit = dir.path().join("report.xml");
    surge()
        .arg("check")
        .arg(dir.path().join("ok.toml"))
        .arg(dir.path().join("bad.toml"))
        .arg("--junit")
        .arg(&junit)
        .arg("--out")
        .arg(dir.path().join("o2"))
        .assert()
        .code(1)
        .stdout(predicate::str::contains("FAIL  gate8: jobs wait_mean"));
    let xml = std::fs::read_to_string(&junit).unwrap();
    let doc = roxmltree::Document::parse(&xml).expect("valid XML");
    let suites: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testsuite"))
        .collect();
    assert_eq!(suites.len(), 2);
    let cases = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .count();
    assert_eq!(cases, 4, "one test case per SLO");
    let failures: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("failure"))
        .collect();
    assert_eq!(failures.len(), 1);
    assert_eq!(
        failures[0].parent().unwrap().attribute("classname"),
        Some("gate8")
    );
}

#[test]
fn slo_with_unknown_metric_or_class_is_bad_input() {
    let dir = TempDir::new().unwrap();
    let text = scenario(
        12,
        "[[slo]]\nclass = \"jobs\"\nmetric = \"latency_p42\"\nmax = \"1s\"\n",
    );
    std::fs::write(dir.path().join("bad.toml"), text).unwrap();
    surge()
        .arg("check")
        .arg(dir.path().join("bad.toml"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "bad.toml:19:10: slo.0.metric: unknown metric \"latency_p42\"",
        ));
    let text = scenario(
        12,
        "[[slo]]\nclass = \"chat\"\nmetric = \"latency_p99\"\nmax = \"1s\"\n",
    );
    std::fs::write(dir.path().join("bad.toml"), text).unwrap();
    surge()
        .arg("check")
        .arg(dir.path().join("bad.toml"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "bad.toml:18:9: slo.0.class: unknown class \"chat\"",
        ));
}

#[test]
fn baseline_flags_a_real_regression_but_not_noise() {
    let dir = TempDir::new().unwrap();
    std::fs::write(dir.path().join("s.toml"), scenario(10, "")).unwrap();
    let run = |name: &str, extra: &[&str], code: i32| {
        surge()
            .arg("check")
            .arg(dir.path().join("s.toml"))
            .args(["--replications", "6", "--out"])
            .arg(dir.path().join(name))
            .args(extra)
            .assert()
            .code(code)
    };
    run("base", &[], 0);
    let base = dir.path().join("base");
    let base = base.to_str().unwrap();
    // Same scenario, another seed: differences are noise.
    run("again", &["--seed", "77", "--baseline", base], 0);
    // One GPU fewer: waits triple.
    run(
        "worse",
        &["--set", "pool.gpu.gpus=9", "--baseline", base],
        1,
    )
    .stdout(predicate::str::contains(
        "FAIL  gate: regression: jobs latency_p99",
    ));
    // With an SLO on latency_p99 of jobs too, each (class, metric) is
    // compared once (not once per mention), and the JUnit failure text
    // keeps the value and the detail apart.
    std::fs::write(
        dir.path().join("s.toml"),
        scenario(
            10,
            "[[slo]]\nclass = \"jobs\"\nmetric = \"latency_p99\"\nmax = \"1h\"\n\
             [[slo]]\nclass = \"all\"\nmetric = \"wait_mean\"\nmax = \"1h\"\n",
        ),
    )
    .unwrap();
    let junit = dir.path().join("j.xml");
    let out = run(
        "worse2",
        &[
            "--set",
            "pool.gpu.gpus=9",
            "--baseline",
            base,
            "--junit",
            junit.to_str().unwrap(),
        ],
        1,
    )
    .get_output()
    .stdout
    .clone();
    let out = String::from_utf8(out).unwrap();
    assert_eq!(
        out.matches("regression: jobs latency_p99").count(),
        1,
        "{out}"
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("; baseline "), "{xml}");
}

#[test]
fn plan_finds_the_gpu_count_that_erlang_c_gives() {
    for (lambda, bound_between) in [(7.2, 9u32), (3.0, 5), (20.0, 23)] {
        // SLO halfway (geometrically) between the mean waits of c − 1 and
        // c GPUs, so that noise cannot move the answer.
        let (w_hi, w_lo) = (
            theory::mmc_mean_wait(bound_between - 1, lambda, 1.0),
            theory::mmc_mean_wait(bound_between, lambda, 1.0),
        );
        let bound = (w_hi * w_lo).sqrt();
        let expected = theory::mmc_min_gpus_for_mean_wait(lambda, 1.0, bound);
        assert_eq!(expected, bound_between);
        let dir = TempDir::new().unwrap();
        let file = dir.path().join("m.toml");
        std::fs::write(
            &file,
            scenario(1, "")
                .replace("7.2/s", &format!("{lambda}/s"))
                .replace("duration = \"1h\"", "duration = \"4h\""),
        )
        .unwrap();
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
            metric: surge::metric::Metric::WaitMean,
            max: Some(bound),
            min: None,
        }];
        opts.min = lambda.floor() as u64 + 1;
        opts.max = 1000;
        let answer = plan(&file, &opts).expect("plan runs");
        assert_eq!(
            answer,
            Some(vec![u64::from(expected)]),
            "λ = {lambda}, bound {bound}"
        );
        assert!(dir.path().join("out/plan.csv").exists());
    }
}

#[test]
fn common_random_numbers_make_paired_intervals_much_narrower() {
    let load = |gpus: u32, seed: u64| {
        let text = scenario(gpus, "")
            .replace("seed = 9", &format!("seed = {seed}"))
            .replace("replications = 4", "replications = 8");
        load_str(
            &text,
            "<t>",
            Path::new("."),
            "t",
            &[Override::parse("duration=2h").unwrap()],
        )
        .unwrap()
        .scenario
    };
    let a = run_replications(&load(9, 1)).unwrap();
    let b_paired = run_replications(&load(10, 1)).unwrap();
    let b_independent = run_replications(&load(10, 2)).unwrap();
    let width = |rows: &[surge::app::PairedRow], metric: &str| {
        let r = rows
            .iter()
            .find(|r| r.class == "jobs" && r.metric.name() == metric)
            .unwrap();
        r.ci_high - r.ci_low
    };
    let (pr, ir) = (paired_rows(&a, &b_paired), paired_rows(&a, &b_independent));
    for metric in [
        "wait_mean",
        "latency_p50",
        "latency_p99",
        "throughput_per_s",
    ] {
        let (paired, independent) = (width(&pr, metric), width(&ir, metric));
        eprintln!("{metric}: paired {paired} independent {independent}");
    }
    for metric in ["latency_p50", "throughput_per_s"] {
        let (paired, independent) = (width(&pr, metric), width(&ir, metric));
        assert!(
            paired < 0.5 * independent,
            "{metric}: paired {paired} vs independent {independent}"
        );
    }
    assert!(width(&pr, "wait_mean") < width(&ir, "wait_mean"));
    let row = paired_rows(&a, &b_paired)
        .into_iter()
        .find(|r| r.class == "jobs" && r.metric == surge::metric::Metric::WaitMean)
        .unwrap();
    assert!(
        row.significant && row.diff < 0.0,
        "a tenth GPU shortens waits: {row:?}"
    );
}

/// The table's columns line up (cells were padded before their units were
/// known, and metric names overflowed), each row's times are in one unit,
/// and the folder written is named (issue #29); nothing is written into
/// the working folder but the output.
#[test]
fn compare_prints_aligned_paired_differences_and_where_they_went() {
    let dir = TempDir::new().unwrap();
    std::fs::write(dir.path().join("s.toml"), scenario(9, "")).unwrap();
    let out = surge()
        .current_dir(dir.path())
        .arg("compare")
        .arg("s.toml")
        .args(["--b", "pool.gpu.gpus=10"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.contains("B − A, paired by replication (n = 4)"),
        "{text}"
    );
    let table: Vec<&str> = text
        .lines()
        .skip(1)
        .take_while(|l| !l.starts_with("outputs:"))
        .collect();
    assert!(table.len() > 2 && table[1].contains("wait_mean"), "{text}");
    // Every row's last column starts where the header's does.
    let byte = table[0].find("B − A").unwrap();
    let start = table[0][..byte].chars().count();
    for line in &table {
        let chars: Vec<char> = line.chars().collect();
        assert!(
            chars[start - 2] == ' ' && chars[start - 1] == ' ' && chars[start] != ' ',
            "misaligned: {line:?}\n{text}"
        );
    }
    // wait_mean: A, B and the difference in one unit.
    let wait = table.iter().find(|l| l.contains("wait_mean")).unwrap();
    let units: std::collections::BTreeSet<&str> = ["ms", "µs", "m", "h"]
        .into_iter()
        .filter(|u| wait.contains(&format!("{u} ")) || wait.contains(&format!("{u},")))
        .collect();
    assert!(units.len() <= 1, "{wait}");
    let folder = dir.path().join("output/compare-gate-gate");
    assert!(
        text.contains("outputs: output/compare-gate-gate/"),
        "{text}"
    );
    assert!(folder.join("compare.csv").is_file());
}
