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
    // Token targets on a class without tokens.
    let text = scenario("", TOKENS).replace(
        "[[class]]",
        "[[pool]]\nname = \"plain\"\ngpus = 1\n\n[[class]]\nname = \"jobs\"\npool = \"plain\"\narrivals = { process = \"poisson\", rate = \"1/s\" }\nservice = { dist = \"exponential\", mean = \"1s\" }\nttft_target = \"1s\"\n\n[[class]]",
    );
    assert_rejected(
        &text,
        line_of(&text, "ttft_target"),
        "class.jobs.ttft_target",
    );
    let text = scenario("", &format!("{TOKENS}\ntpot_target = \"-1ms\""));
    assert_rejected(
        &text,
        line_of(&text, "tpot_target"),
        "class.chat.tpot_target",
    );
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

/// The template's pool on a roofline: no step and no KV cache given.
fn roofline(serving_extra: &str) -> String {
    scenario(serving_extra, TOKENS)
        .lines()
        .filter(|l| !l.starts_with("step =") && !l.starts_with("kv_cache_tokens"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn bad_roofline_and_router_input_names_its_line_and_key() {
    let key = |k: &str| format!("pool.llm.serving.{k}");
    // An unknown preset: the message lists the known ones.
    let text = roofline("model = \"llama-9\"\ngpu = \"h100-sxm\"");
    let stderr = assert_rejected(&text, line_of(&text, "model ="), &key("model"));
    assert!(stderr.contains("\"llama-3.1-70b\""), "{stderr}");
    let text = roofline("model = \"llama-3.1-8b\"\ngpu = \"v100\"");
    let stderr = assert_rejected(&text, line_of(&text, "gpu ="), &key("gpu"));
    assert!(stderr.contains("\"b200\""), "{stderr}");
    // A model without a GPU.
    let text = roofline("model = \"llama-3.1-8b\"");
    assert_rejected(&text, line_of(&text, "model ="), &key("gpu"));
    // An efficiency without a roofline.
    let text = scenario("mfu = 0.5", TOKENS);
    assert_rejected(&text, line_of(&text, "mfu ="), &key("mfu"));
    // An efficiency beside a fitted step, which is held above the floor.
    let text = scenario(
        "model = \"llama-3.1-8b\"\ngpu = \"h100-sxm\"\noverhead = \"3ms\"",
        TOKENS,
    );
    assert_rejected(&text, line_of(&text, "overhead ="), &key("overhead"));
    // An MFU above 1.
    let text = roofline("model = \"llama-3.1-8b\"\ngpu = \"h100-sxm\"\nmfu = 1.5");
    assert_rejected(&text, line_of(&text, "mfu ="), &key("mfu"));
    // Weights that do not fit: 70B in BF16 on one GPU of each replica's two.
    let text = roofline("model = \"llama-3.1-70b\"\ngpu = \"l40s\"");
    let stderr = assert_rejected(&text, line_of(&text, "model ="), &key("model"));
    assert!(stderr.contains("leave no KV cache"), "{stderr}");
    // The KV cache given twice.
    let text = scenario(
        "model = \"llama-3.1-8b\"\ngpu = \"h100-sxm\"\ngpu_memory_utilization = 0.8",
        TOKENS,
    );
    assert_rejected(
        &text,
        line_of(&text, "gpu_memory_utilization"),
        &key("gpu_memory_utilization"),
    );
    // A custom model with an unknown key, and one with no layers.
    let shape =
        "params = 7e9, layers = 32, hidden = 4096, heads = 32, kv_heads = 8, head_dim = 128";
    let text = roofline(&format!(
        "model = {{ {shape}, experts = 8 }}\ngpu = \"h100-sxm\""
    ));
    let stderr = assert_rejected(&text, line_of(&text, "model ="), &key("model"));
    assert!(stderr.contains("experts"), "{stderr}");
    let text = roofline(&format!(
        "model = {{ {} }}\ngpu = \"h100-sxm\"",
        shape.replace("layers = 32", "layers = 0")
    ));
    assert_rejected(&text, line_of(&text, "model ="), &key("model"));
    // Prefill first with a budget below the longest sequence, and a flag
    // that is not a boolean.
    let text = scenario(
        "enable_chunked_prefill = false\nmax_model_len = 8192",
        TOKENS,
    );
    let text = text.replace(
        "[pool.serving]",
        "[pool.serving]\nmax_num_batched_tokens = 4096",
    );
    let stderr = assert_rejected(
        &text,
        line_of(&text, "max_num_batched_tokens"),
        &key("max_num_batched_tokens"),
    );
    assert!(stderr.contains("whole prompt"), "{stderr}");
    let text = scenario("enable_chunked_prefill = \"no\"", TOKENS);
    assert_rejected(
        &text,
        line_of(&text, "enable_chunked_prefill"),
        &key("enable_chunked_prefill"),
    );
    // Routers: an unknown kind, a bad refresh, a policy that orders.
    let text = scenario("router = \"p3c\"", TOKENS);
    let stderr = assert_rejected(&text, line_of(&text, "router ="), &key("router"));
    assert!(stderr.contains("\"power-of-two\""), "{stderr}");
    let text = scenario("router = { kind = \"random\", refresh = \"soon\" }", TOKENS);
    assert_rejected(&text, line_of(&text, "router ="), &key("router.refresh"));
    let text = scenario("router = { kind = \"random\", every = \"1s\" }", TOKENS);
    assert_rejected(&text, line_of(&text, "router ="), &key("router"));
    let text = scenario("router = \"least-kv\"", TOKENS)
        .replace("gpus = 4", "gpus = 4\npolicy = \"priority\"");
    assert_rejected(&text, line_of(&text, "policy ="), "pool.llm.policy");
    // Neither a step model nor a roofline.
    let text = roofline("");
    assert_rejected(
        &text,
        line_of(&text, "[pool.serving]"),
        &key("kv_cache_tokens"),
    );
}

#[test]
fn a_roofline_pool_derives_its_step_and_kv_cache_and_runs() {
    let dir = TempDir::new().unwrap();
    let file = dir.path().join("r.toml");
    let custom = "model = { params = 8.03e9, layers = 32, hidden = 4096, heads = 32, kv_heads = 8, head_dim = 128 }\ngpu = { tflops = 989, hbm_tb_s = 3.35, memory_gb = 85.9, link_gb_s = 450 }";
    for extra in ["model = \"llama-3.1-8b\"\ngpu = \"h100-sxm\"", custom] {
        std::fs::write(&file, roofline(extra)).unwrap();
        let out = surge().arg("validate").arg(&file).assert().success();
        let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
        // 2 × 85.9 GB × 0.9 − 16.1 GB of weights, at 128 KiB a token.
        let want = ((2.0 * 80.0 * 1024f64.powi(3) * 0.9 - 8.03e9 * 2.0) / 131_072.0) as u64;
        let kv = text
            .split("KV cache ")
            .nth(1)
            .and_then(|t| t.split(' ').next())
            .and_then(|t| t.parse::<u64>().ok())
            .expect("the KV cache in validate's output");
        assert!(
            kv.abs_diff(want) <= 16 + want / 500,
            "{kv} vs {want}:\n{text}"
        );
        assert!(text.contains("step: roofline of"), "{text}");
        assert!(text.contains("reference steps"), "{text}");
    }
    std::fs::write(
        &file,
        roofline("model = \"llama-3.1-8b\"\ngpu = \"h100-sxm\""),
    )
    .unwrap();
    let out = dir.path().join("out");
    surge()
        .args(["run", "--charts", "none", "--quiet", "--out"])
        .arg(&out)
        .arg(&file)
        .assert()
        .success();
    let replicas = std::fs::read_to_string(out.join("replicas.csv")).unwrap();
    assert!(
        replicas.lines().next().unwrap().ends_with(",floor_steps"),
        "{replicas}"
    );
    // A roofline alone has no floor to hold: floor_steps is 0.
    assert!(
        replicas.lines().nth(1).unwrap().ends_with(",0"),
        "{replicas}"
    );
}

#[test]
fn token_length_files_are_read_or_refused_with_their_line() {
    let dir = TempDir::new().unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    };
    let tokens = |path: &str| format!("tokens = {{ file = {path:?} }}");
    for (name, text, says) in [
        (
            "word.csv",
            "prompt,output\n10,5\n3,x\n",
            "word.csv:3: column \"output\"",
        ),
        (
            "zero.csv",
            "prompt,output\n10,0\n",
            "zero.csv:2: column \"output\"",
        ),
        (
            "header.csv",
            "a,b\n1,2\n",
            "expected a header row naming a prompt column",
        ),
        (
            "empty.csv",
            "prompt,output\n",
            "expected at least one (prompt, output) row",
        ),
        ("ragged.csv", "prompt,output\n1,2,3\n", "ragged.csv:2:"),
    ] {
        let text = scenario("", &tokens(&write(name, text)));
        let stderr = assert_rejected(
            &text,
            line_of(&text, "tokens = { file"),
            "class.chat.tokens.file",
        );
        assert!(stderr.contains(says), "expected {says:?} in:\n{stderr}");
    }
    let missing = scenario(
        "",
        &tokens(&dir.path().join("none.csv").display().to_string()),
    );
    assert_rejected(
        &missing,
        line_of(&missing, "tokens = { file"),
        "class.chat.tokens.file",
    );
    // A file and a distribution at once.
    let both = scenario(
        "",
        &format!(
            "tokens = {{ file = {:?}, output = {{ dist = \"geometric\", mean = 3 }} }}",
            write("ok.csv", "prompt,output\n5,5\n")
        ),
    );
    assert_rejected(
        &both,
        line_of(&both, "tokens = { file"),
        "class.chat.tokens.output",
    );
    // Azure's column names, a comment above the header, other columns:
    let azure = write(
        "azure.csv",
        "# a comment\nTIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46,300,20\n2023-11-16 18:15:47,100,60\n",
    );
    let file = write("s.toml", &scenario("", &tokens(&azure)));
    let shown = surge().arg("validate").arg(&file).assert().success();
    let shown = String::from_utf8(shown.get_output().stdout.clone()).unwrap();
    assert!(
        shown.contains("2 (prompt, output) pairs resampled jointly (means 200 and 40)"),
        "{shown}"
    );
    let out = dir.path().join("out");
    surge()
        .args(["run", "--charts", "none", "--quiet"])
        .arg(&file)
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    assert!(out.join("serving.csv").exists());
}

#[test]
fn a_serving_run_writes_its_token_files_and_the_same_bytes_for_any_jobs() {
    let dir = TempDir::new().unwrap();
    let file = dir.path().join("s.toml");
    // A router draws from its own stream: power of two choices.
    std::fs::write(&file, scenario("router = \"power-of-two\"", TOKENS)).unwrap();
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
        "serving_series.csv",
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
        7,
        "a row per replication, and one for `all`:\n{serving}"
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

#[test]
fn compare_and_check_baseline_read_ttft_and_tpot() {
    let dir = TempDir::new().unwrap();
    let file = dir.path().join("s.toml");
    std::fs::write(&file, scenario("", TOKENS)).unwrap();
    // compare: the token-level rows beside the request-level ones.
    surge()
        .args(["compare", "--replications", "3", "--out"])
        .arg(dir.path().join("cmp"))
        .arg(&file)
        .args(["--b", "pool.llm.serving.router=\"random\""])
        .assert()
        .success();
    let csv = std::fs::read_to_string(dir.path().join("cmp/compare.csv")).unwrap();
    for metric in ["ttft_mean", "ttft_p99", "tpot_mean", "tpot_p99"] {
        assert!(
            csv.contains(&format!("chat,{metric},")),
            "{metric} in:\n{csv}"
        );
    }
    // check --baseline: a baseline run, then a pool half the size, whose
    // TTFT and TPOT tails regress.
    let base = dir.path().join("base");
    surge()
        .args([
            "run",
            "--charts",
            "none",
            "--quiet",
            "--replications",
            "3",
            "--out",
        ])
        .arg(&base)
        .arg(&file)
        .assert()
        .success();
    let out = surge()
        .args(["check", "--replications", "3", "--out"])
        .arg(dir.path().join("chk"))
        .arg("--baseline")
        .arg(&base)
        .arg(&file)
        .args(["--set", "pool.llm.gpus=2"])
        .assert()
        .code(1);
    let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert!(
        text.lines()
            .any(|l| l.starts_with("FAIL") && l.contains("chat ttft_p99")),
        "{text}"
    );
    assert!(text.contains("chat tpot_p99"), "{text}");
    // `all` has its token-level rows too (every serving class together).
    assert!(
        text.lines()
            .any(|l| l.starts_with("FAIL") && l.contains("all ttft_p99")),
        "{text}"
    );
}

#[test]
fn a_serving_pool_has_a_chart_of_its_batch_cache_and_first_tokens() {
    let dir = TempDir::new().unwrap();
    let file = dir.path().join("s.toml");
    let targets = "ttft_target = \"250ms\"\ntpot_target = \"30ms\"";
    std::fs::write(&file, scenario("", &format!("{TOKENS}\n{targets}"))).unwrap();
    let out = dir.path().join("out");
    surge()
        .args(["run", "--quiet", "--charts", "svg", "--out"])
        .arg(&out)
        .arg(&file)
        .assert()
        .success();
    let svg = std::fs::read_to_string(out.join("charts/serving-llm.svg")).unwrap();
    for title in [
        "running sequences per replica",
        "KV cache held",
        "time to first token",
        "time per output token",
        "chat p99",
        "chat target 250ms",
        "chat target 30ms",
    ] {
        assert!(svg.contains(title), "{title} in the chart");
    }
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("serving-llm.svg"), "the report shows it");
    // The serving tables: the class's TTFT, TPOT and goodput, the pool's
    // replicas and tokens.
    for header in [
        "<h2>Serving</h2>",
        "TTFT p99",
        "TPOT mean",
        "goodput /s",
        "prefill tok/s",
        "preemptions",
    ] {
        assert!(html.contains(header), "{header} in the report");
    }
    // `surge chart` reads them back from the folder.
    surge().arg("chart").arg(&out).assert().success();
    let redrawn = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(redrawn.contains("<h2>Serving</h2>") && redrawn.contains("goodput /s"));
}

#[test]
fn plan_steps_a_serving_pool_in_whole_replicas() {
    // Replicas of 2 GPUs, started at 4: every probe is a whole number of
    // replicas, and so are the answer and the nearest miss.
    let dir = TempDir::new().unwrap();
    let file = dir.path().join("s.toml");
    let text = scenario("", TOKENS).replace("rate = \"20/s\"", "rate = \"60/s\"");
    std::fs::write(&file, text).unwrap();
    let out = dir.path().join("plan");
    let run = surge()
        .args([
            "plan",
            "--vary",
            "pool.llm.gpus",
            "--slo",
            "chat:ttft_p99<=1s",
            "--out",
        ])
        .arg(&out)
        .arg(&file)
        .assert()
        .success();
    let stdout = String::from_utf8(run.get_output().stdout.clone()).unwrap();
    let csv = std::fs::read_to_string(out.join("plan.csv")).unwrap();
    let probed: Vec<u64> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap().parse().unwrap())
        .collect();
    assert!(probed.len() >= 2, "{csv}");
    assert!(probed.iter().all(|g| g % 2 == 0), "{csv}");
    assert!(stdout.contains("answer: pool.llm.gpus="), "{stdout}");
}

#[test]
fn a_sweep_aggregates_ttft_and_tpot_and_merged_shards_match_it() {
    let dir = TempDir::new().unwrap();
    let file = dir.path().join("s.toml");
    std::fs::write(&file, scenario("", TOKENS)).unwrap();
    let sweep = |out: &str, extra: &[&str]| {
        surge()
            .args([
                "sweep",
                "--quiet",
                "--charts",
                "none",
                "--replications",
                "2",
            ])
            .args(["--grid", "pool.llm.gpus=2,4"])
            .args(extra)
            .arg(&file)
            .arg("--out")
            .arg(dir.path().join(out))
            .assert()
            .success();
        dir.path().join(out)
    };
    let whole = sweep("whole", &["--jobs", "2"]);
    let rows = csv_rows(&whole.join("sweep.csv"));
    let chat: Vec<_> = rows.iter().filter(|r| r["class"] == "chat").collect();
    assert_eq!(chat.len(), 2);
    let ttft =
        |r: &std::collections::HashMap<String, String>, c: &str| -> f64 { r[c].parse().unwrap() };
    // One replica of 2 GPUs against two: the first tokens come later.
    assert!(ttft(chat[0], "ttft_p99_s_mean") > ttft(chat[1], "ttft_p99_s_mean"));
    for r in &chat {
        for c in [
            "ttft_mean_s_mean",
            "ttft_p99_s_ci_high",
            "tpot_mean_s_mean",
            "tpot_p99_s_ci_high",
        ] {
            assert!(ttft(r, c) > 0.0, "{c} of {r:?}");
        }
        // Two replications: a wide interval, but an interval.
        assert!(ttft(r, "ttft_p99_s_ci_low") < ttft(r, "ttft_p99_s_mean"));
    }
    // The same means as the runs' serving.csv rows, which the sweep writes too.
    let serving = csv_rows(&whole.join("serving.csv"));
    let mean = |point: &str| {
        let v: Vec<f64> = serving
            .iter()
            .filter(|r| r["point"] == point)
            .map(|r| r["tpot_mean_s"].parse::<f64>().unwrap())
            .collect();
        v.iter().sum::<f64>() / v.len() as f64
    };
    assert!((mean("0") - ttft(chat[0], "tpot_mean_s_mean")).abs() < 1e-8);
    // Shards, merged: the same bytes.
    for k in 1..=2 {
        sweep(&format!("s{k}"), &["--shard", &format!("{k}/2")]);
    }
    surge()
        .args(["merge", "--quiet", "--charts", "none", "--out"])
        .arg(dir.path().join("merged"))
        .arg(dir.path().join("s1"))
        .arg(dir.path().join("s2"))
        .assert()
        .success();
    for name in ["sweep.csv", "serving.csv", "summary.csv"] {
        assert_eq!(
            std::fs::read(whole.join(name)).unwrap(),
            std::fs::read(dir.path().join("merged").join(name)).unwrap(),
            "{name}"
        );
    }
}

/// The rows of a CSV file, each a map from column to cell.
fn csv_rows(path: &std::path::Path) -> Vec<std::collections::HashMap<String, String>> {
    let mut reader = csv::Reader::from_path(path).unwrap();
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            header
                .iter()
                .cloned()
                .zip(r.iter().map(String::from))
                .collect()
        })
        .collect()
}
