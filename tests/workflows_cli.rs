//! Workflows from the command line: the bundled pipeline validates, a run
//! writes stages.csv and stage_series.csv and the chart of where the time
//! goes, stage SLOs are checked, outputs are the same for any --jobs, and
//! every malformed workflow is refused with file, line and key.

mod common;

use common::cli::{assert_rejected, repo, surge};
use tempfile::TempDir;

/// A small pipeline: moderation, generation with a loop back and a
/// refusal, a hedged fork, upscaling for one class.
const PIPELINE: &str = r#"name = "pipe"
duration = "20m"
warmup = "2m"
seed = 5
replications = 2

[[pool]]
name = "cpu"
gpus = 4

[[pool]]
name = "gpu"
gpus = 12

[[workflow]]
name = "image"

[[workflow.stage]]
name = "moderate"
pool = "cpu"
service = { dist = "exponential", mean = "100ms" }

[[workflow.stage]]
name = "generate"
pool = "gpu"
service = { dist = "exponential", mean = "2s" }
timeout = "1m"
retry = { max_attempts = 2 }

[[workflow.stage]]
name = "checks"
fork = ["safety", "watermark"]
join = "first"
route = [{ to = "generate", p = 0.05 }, { to = "refuse", p = 0.02 }]

[[workflow.stage]]
name = "safety"
pool = "cpu"
service = { dist = "exponential", mean = "200ms" }

[[workflow.stage]]
name = "watermark"
pool = "cpu"
service = { dist = "exponential", mean = "300ms" }

[[workflow.stage]]
name = "upscale"
pool = "gpu"
service = { dist = "exponential", mean = "1s" }
only = ["paid"]

[[class]]
name = "free"
workflow = "image"
arrivals = { process = "poisson", rate = "3/s" }
patience = { dist = "exponential", mean = "30s" }

[[class]]
name = "paid"
workflow = "image"
arrivals = { process = "poisson", rate = "1/s" }

[[slo]]
class = "paid"
stage = "generate"
metric = "wait_p99"
max = "10m"
"#;

#[test]
fn the_bundled_pipeline_validates_and_describes_its_stages() {
    let out = surge()
        .arg("validate")
        .arg(repo("scenarios/launch-pipeline.toml"))
        .assert()
        .success();
    let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert!(text.contains("class image-free → workflow image"), "{text}");
    assert!(
        text.contains("stage safety    on pool gpu-safety")
            && text.contains("4% generate, 1% refuse, else upscale"),
        "{text}"
    );
}

#[test]
fn a_workflow_run_writes_stage_tables_and_the_where_time_goes_chart() {
    let dir = TempDir::new().unwrap();
    let file = dir.path().join("pipe.toml");
    std::fs::write(&file, PIPELINE).unwrap();
    let out = dir.path().join("out");
    surge()
        .args(["run", "-q", "--out"])
        .arg(&out)
        .arg(&file)
        .assert()
        .success();
    let stages = std::fs::read_to_string(out.join("stages.csv")).unwrap();
    let header = stages.lines().next().unwrap();
    assert!(header.starts_with("scenario,point,replication,seed,class,stage,pool,arrivals,attempts,completed,rejected,timed_out,failed,cancelled,in_system,wait_mean_s"), "{header}");
    // Two replications × (6 stages of free + 6 of paid).
    assert_eq!(stages.lines().count(), 1 + 2 * 12, "{stages}");
    assert!(stages.contains(",paid,upscale,gpu,"));
    let series = std::fs::read_to_string(out.join("stage_series.csv")).unwrap();
    assert!(
        series
            .lines()
            .next()
            .unwrap()
            .contains("wait_mean_s,service_mean_s")
    );
    for chart in ["stages-free.png", "stages-paid.png"] {
        let bytes = std::fs::read(out.join("charts").join(chart)).unwrap();
        assert!(bytes.starts_with(b"\x89PNG"), "{chart}");
    }
    // The one-stage files are all there too, and the report shows the charts.
    let report = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(
        report.contains("stages-free"),
        "the report shows the stage chart"
    );
    assert!(
        report.contains("Class free: where the time goes"),
        "with a caption"
    );
    assert!(
        report.contains("<h2>Workflow stages</h2>")
            && report.contains("<td>upscale</td><td>gpu</td>"),
        "and a table of the stages"
    );
    // `surge chart` redraws them from the folder alone.
    std::fs::remove_dir_all(out.join("charts")).unwrap();
    surge().arg("chart").arg(&out).assert().success();
    assert!(out.join("charts").join("stages-paid.png").is_file());
}

#[test]
fn stage_slos_are_checked_and_fail_with_exit_1() {
    let dir = TempDir::new().unwrap();
    let file = dir.path().join("pipe.toml");
    std::fs::write(&file, PIPELINE).unwrap();
    let pass = surge()
        .args(["check", "--out"])
        .arg(dir.path().join("a"))
        .arg(&file)
        .assert()
        .success();
    let text = String::from_utf8(pass.get_output().stdout.clone()).unwrap();
    assert!(text.contains("paid/generate wait_p99"), "{text}");
    let strict = PIPELINE.replace("max = \"10m\"", "max = \"1ms\"");
    std::fs::write(&file, strict).unwrap();
    surge()
        .args(["check", "--out"])
        .arg(dir.path().join("b"))
        .arg(&file)
        .assert()
        .code(1);
}

#[test]
fn workflow_sweeps_are_identical_for_one_and_two_jobs() {
    let dir = TempDir::new().unwrap();
    let file = dir.path().join("pipe.toml");
    std::fs::write(&file, PIPELINE).unwrap();
    let run = |jobs: &str, out: &str| {
        surge()
            .args([
                "sweep",
                "-q",
                "--charts",
                "none",
                "--grid",
                "pool.gpu.gpus=10,14",
                "--jobs",
                jobs,
                "--out",
            ])
            .arg(dir.path().join(out))
            .arg(&file)
            .assert()
            .success();
    };
    run("1", "one");
    run("2", "two");
    for f in ["summary.csv", "pools.csv", "stages.csv", "sweep.csv"] {
        let a = std::fs::read(dir.path().join("one").join(f)).unwrap();
        let b = std::fs::read(dir.path().join("two").join(f)).unwrap();
        assert!(a == b, "{f} differs between --jobs 1 and 2");
    }
}

/// One malformed workflow each: exit 2, file:line and key, no outputs.
#[test]
fn malformed_workflows_are_refused_with_file_line_and_key() {
    let with = |old: &str, new: &str| {
        assert!(PIPELINE.contains(old), "{old}");
        PIPELINE.replacen(old, new, 1)
    };
    let line_of =
        |text: &str, needle: &str| text.lines().position(|l| l.contains(needle)).expect(needle) + 1;
    let cases: Vec<(String, &str, &str)> = vec![
        (
            with(
                "pool = \"gpu\"\nservice = { dist = \"exponential\", mean = \"2s\" }",
                "pool = \"gpux\"\nservice = { dist = \"exponential\", mean = \"2s\" }",
            ),
            "pool = \"gpux\"",
            "workflow.image.stage.generate.pool",
        ),
        (
            with(
                "{ to = \"generate\", p = 0.05 }",
                "{ to = \"regenerate\", p = 0.05 }",
            ),
            "regenerate",
            "workflow.image.stage.checks.route.to",
        ),
        (
            with(
                "{ to = \"refuse\", p = 0.02 }",
                "{ to = \"refuse\", p = 0.99 }",
            ),
            "p = 0.99",
            "workflow.image.stage.checks.route",
        ),
        (
            with("fork = [\"safety\", \"watermark\"]", "fork = [\"safety\"]"),
            "fork = [\"safety\"]",
            "workflow.image.stage.checks.fork",
        ),
        (
            with("join = \"first\"", "join = \"any\""),
            "join = \"any\"",
            "workflow.image.stage.checks.join",
        ),
        (
            with("only = [\"paid\"]", "only = [\"vip\"]"),
            "only = [\"vip\"]",
            "workflow.image.stage.upscale.only",
        ),
        (
            with("timeout = \"1m\"", "timeout = \"-1m\""),
            "timeout = \"-1m\"",
            "workflow.image.stage.generate.timeout",
        ),
        (
            with(
                "name = \"free\"\nworkflow = \"image\"",
                "name = \"free\"\nworkflow = \"imag\"",
            ),
            "workflow = \"imag\"",
            "class.free.workflow",
        ),
        (
            with(
                "name = \"paid\"\nworkflow = \"image\"",
                "name = \"paid\"\nworkflow = \"image\"\npool = \"gpu\"",
            ),
            "pool = \"gpu\"\narrivals = { process = \"poisson\", rate = \"1/s\" }",
            "class.paid.pool",
        ),
        (
            with(
                "stage = \"generate\"\nmetric",
                "stage = \"painting\"\nmetric",
            ),
            "stage = \"painting\"",
            "slo.0.stage",
        ),
        (
            with("metric = \"wait_p99\"", "metric = \"latency_p99\""),
            "metric = \"latency_p99\"",
            "slo.0.metric",
        ),
        (
            with("name = \"moderate\"", "name = \"done\""),
            "name = \"done\"",
            "workflow.image.stage.done.name",
        ),
        (
            with(
                "{ to = \"generate\", p = 0.05 }",
                "{ to = \"safety\", p = 0.05 }",
            ),
            "{ to = \"safety\"",
            "workflow.image.stage.checks.route.to",
        ),
    ];
    for (text, needle, key) in cases {
        let line = match needle {
            // The class's `pool` line is the one before its arrivals.
            n if n.starts_with("pool = \"gpu\"\narrivals") => line_of(&text, "rate = \"1/s\"") - 1,
            n => line_of(&text, n),
        };
        assert_rejected(&text, line, key);
    }
    // Routes that never end: the workflow's line.
    let endless = with(
        "{ to = \"refuse\", p = 0.02 }",
        "{ to = \"refuse\", p = 0.0000001 }",
    )
    .replace(
        "{ to = \"generate\", p = 0.05 }",
        "{ to = \"generate\", p = 0.9999999 }",
    );
    let stderr = assert_rejected(
        &endless,
        line_of(&endless, "[[workflow]]"),
        "workflow.image.stage",
    );
    assert!(stderr.contains("loop without end"), "{stderr}");
}
