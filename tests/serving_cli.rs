//! Serving pools from the command line: bad input refused with its place,
//! the files a run writes, TTFT and TPOT as SLOs, determinism.

mod common;

use common::cli::{assert_rejected, repo, surge};
use tempfile::TempDir;

/// A small serving scenario; `pool_extra` and `class_extra` are spliced
/// into the pool's serving table and the class.
fn scenario(serving_extra: &str, class_extra: &str) -> String {
    format!(
        r#"name = "s"
duration = "5m"
warmup = "30s"

[[pool]]
name = "llm"
gpus = 4

[pool.serving]
gpus_per_replica = 2
kv_cache_tokens = 200000
step = {{ base = "8ms", per_prefill_token = "20us", per_decode_seq = "100us", per_context_token = "5ns" }}
{serving_extra}

[[class]]
name = "chat"
pool = "llm"
arrivals = {{ process = "poisson", rate = "20/s" }}
{class_extra}
"#
    )
}

/// The line (from 1) of the first line of `text` that contains `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    1 + text
        .lines()
        .position(|l| l.contains(needle))
        .expect("needle in text")
}

const TOKENS: &str = r#"tokens = { prompt = { dist = "lognormal", mean = 500, cv = 1.0 }, output = { dist = "geometric", mean = 100 } }"#;

#[test]
fn bad_serving_input_names_its_line_and_key() {
    // No token demand on a serving pool: the class's table is the place.
    let text = scenario("", "");
    assert_rejected(&text, line_of(&text, "[[class]]"), "class.chat.tokens");
    // A service time instead of tokens.
    let text = scenario(
        "",
        &format!("{TOKENS}\nservice = {{ dist = \"exponential\", mean = \"1s\" }}"),
    );
    assert_rejected(&text, line_of(&text, "service ="), "class.chat.service");
    // A token budget below the batch.
    let text = scenario("max_num_batched_tokens = 100", TOKENS);
    assert_rejected(
        &text,
        line_of(&text, "max_num_batched_tokens"),
        "pool.llm.serving.max_num_batched_tokens",
    );
    // A negative mean length.
    let text = scenario("", &TOKENS.replace("mean = 500", "mean = -5"));
    let stderr = assert_rejected(
        &text,
        line_of(&text, "tokens = {"),
        "class.chat.tokens.prompt.mean",
    );
    assert!(stderr.contains("a number of tokens"), "{stderr}");
    // An unknown key of the step model.
    let text = scenario("", TOKENS).replace("per_decode_seq", "per_decode_sq");
    assert_rejected(&text, line_of(&text, "step ="), "");
    // The longest sequence above the KV cache.
    let text = scenario("max_model_len = 300000", TOKENS);
    assert_rejected(
        &text,
        line_of(&text, "max_model_len"),
        "pool.llm.serving.max_model_len",
    );
    // Fewer GPUs than one replica.
    let text = scenario("", TOKENS).replace("gpus = 4", "gpus = 1");
    assert_rejected(
        &text,
        line_of(&text, "gpus_per_replica"),
        "pool.llm.serving.gpus_per_replica",
    );
}

#[test]
fn a_serving_run_writes_its_token_files_and_the_same_bytes_for_any_jobs() {
    let dir = TempDir::new().unwrap();
    let file = dir.path().join("s.toml");
    std::fs::write(&file, scenario("", TOKENS)).unwrap();
    let run = |jobs: &str, out: &str| {
        let out = dir.path().join(out);
        surge()
            .args([
                "run",
                "--charts",
                "none",
                "--quiet",
                "--replications",
                "3",
                "--jobs",
                jobs,
            ])
            .arg(&file)
            .arg("--out")
            .arg(&out)
            .assert()
            .success();
        out
    };
    let a = run("1", "a");
    let b = run("2", "b");
    for name in [
        "summary.csv",
        "pools.csv",
        "timeseries.csv",
        "serving.csv",
        "replicas.csv",
    ] {
        let x = std::fs::read(a.join(name)).unwrap();
        assert_eq!(
            x,
            std::fs::read(b.join(name)).unwrap(),
            "{name} differs between --jobs 1 and 2"
        );
    }
    let serving = std::fs::read_to_string(a.join("serving.csv")).unwrap();
    assert_eq!(
        serving.lines().count(),
        4,
        "a row per replication:\n{serving}"
    );
    assert!(
        serving.starts_with("scenario,point,replication,seed,class,pool,first_tokens,ttft_mean_s")
    );
    let replicas = std::fs::read_to_string(a.join("replicas.csv")).unwrap();
    assert!(
        replicas.lines().nth(1).unwrap().contains(",llm,2,2.0,"),
        "{replicas}"
    );
    // A scenario without serving pools writes neither.
    let out = dir.path().join("mmc");
    surge()
        .args([
            "run",
            "--charts",
            "none",
            "--quiet",
            "--set",
            "duration=20m",
        ])
        .arg(repo("scenarios/mmc.toml"))
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    assert!(!out.join("serving.csv").exists() && !out.join("replicas.csv").exists());
}

#[test]
fn ttft_and_tpot_are_slos_of_serving_classes_only() {
    let dir = TempDir::new().unwrap();
    let file = dir.path().join("s.toml");
    let slos = "\n[[slo]]\nclass = \"chat\"\nmetric = \"ttft_p99\"\nmax = \"1ms\"\n\n[[slo]]\nclass = \"chat\"\nmetric = \"tpot_mean\"\nmax = \"10s\"\n";
    std::fs::write(&file, scenario("", TOKENS) + slos).unwrap();
    let assert = surge()
        .args(["check", "--out"])
        .arg(dir.path().join("out"))
        .arg(&file)
        .assert()
        .code(1);
    let stdout = String::from_utf8(assert.get_output().stdout.clone()).unwrap();
    assert!(
        stdout.contains("FAIL") && stdout.contains("ttft_p99"),
        "{stdout}"
    );
    assert!(
        stdout.contains("pass") && stdout.contains("tpot_mean"),
        "{stdout}"
    );
    // On a class without tokens, the bound is refused where it is written.
    let text = std::fs::read_to_string(repo("scenarios/mmc.toml")).unwrap()
        + "\n[[slo]]\nclass = \"jobs\"\nmetric = \"ttft_p99\"\nmax = \"1s\"\n";
    let lines = text.lines().count();
    let stderr = assert_rejected(&text, lines - 1, "slo.2.metric");
    assert!(stderr.contains("serving pools"), "{stderr}");
}
