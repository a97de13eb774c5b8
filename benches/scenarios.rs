//! The bundled scenarios end to end: wall time per replication (criterion
//! reports events/s), and the peak memory of one replication.
//!
//!     cargo bench --bench scenarios
//!
//! Launch day is cut at 10 h (two hours into its spike) in criterion's
//! samples; the full day is measured once, below.
//! Peak memory: the process's peak RSS is reset (`/proc/self/clear_refs`)
//! before one replication and read back (`VmHWM`) after it, on Linux.
//!
//! Then, once each:
//! - the whole launch day (24 h), one replication: seconds, events/s,
//!   peak RSS and µs per unit of work (an attempt of a one-stage request,
//!   of a workflow stage, or of a workflow turned away before its first
//!   stage); the same for launch day with its images as one-stage
//!   workflows, and for launch-pipeline (five stages), each with its cost
//!   per unit against launch day's: what a stage visit costs against a
//!   request;
//! - `mmc` for 24 h, 96 h and 384 h, first of all (while the process is
//!   small): peak RSS stays flat (memory is bounded by what is in the
//!   system, not by the requests simulated);
//! - in fresh `surge` processes (wall time, and a child's own peak RSS
//!   from `wait4`): a 16-point × 4-replication sweep with `--jobs 1` and
//!   `--jobs 2` (best of three), the speed-up;
//! - the floor: `../shared/perf-floor` (a minimal M/M/8 loop with the
//!   statistics a summary needs, beside the checkout) is built and run for
//!   5 M customers, interleaved with `surge run scenarios/mmc.toml --set
//!   duration=193h` (the same 5 M customers), best of three each; the
//!   ratio of their rates is printed (skipped, saying so, where the floor's
//!   folder is not there);
//! - serving: `benches/serving-100.toml` (100 LLM replicas at ρ = 0.8)
//!   in a fresh process, best of three: requests per second of wall time
//!   and events per request; launch day (its chat pool on the serving
//!   model) against launch day before it was (`benches/launch-day-classic.toml`:
//!   chat GPUs serving one request for a lognormal 2 s), wall-time ratio;
//! - memory per queued request: `mmc` flooded at 1G/s (the backlog grows
//!   linearly), stopped by the budget at 2 M and at 8 M requests in the
//!   system; the slope of the two peaks is printed as bytes per queued
//!   request (the request's record plus its handle in the queue).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::path::Path;
use surge::model::Scenario;
use surge::scenario::{Override, load_file};
use surge::simulate;

fn load(file: &str, overrides: &[&str]) -> Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
    let overrides: Vec<Override> = overrides
        .iter()
        .map(|o| o.parse().expect("valid override"))
        .collect();
    load_file(&path, &overrides)
        .expect("bundled scenarios are valid")
        .scenario
}

/// Run `f` and return its result with the process's peak resident memory
/// while it ran, in MB (Linux only: the peak is reset through
/// `/proc/self/clear_refs` first and read back from `VmHWM`).
fn peak_rss_mb<T>(f: impl FnOnce() -> T) -> Option<(T, f64)> {
    std::fs::write("/proc/self/clear_refs", "5").ok()?;
    let value = black_box(f());
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some((value, kb / 1024.0))
}

/// Run the `surge` binary (from the crate's folder) with `args` in a fresh
/// process; its wall time in seconds and its own peak RSS in KB.
fn surge_process(args: &[&str]) -> Option<(f64, f64)> {
    let started = std::time::Instant::now();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_surge"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .ok()?;
    let mut status = 0;
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: wait4 reaps our own child and writes a whole `rusage` into
    // the pointer given; the `Child` is not waited for again.
    let usage = unsafe {
        let pid = libc::pid_t::try_from(child.id()).ok()?;
        (libc::wait4(pid, &mut status, 0, usage.as_mut_ptr()) == pid)
            .then(|| usage.assume_init())?
    };
    let secs = started.elapsed().as_secs_f64();
    (status == 0).then_some((secs, usage.ru_maxrss as f64))
}

/// `surge run SCENARIO --charts none --quiet --out DIR` plus `extra`.
fn run_args<'a>(scenario: &'a str, out: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["run", scenario, "--charts", "none", "--quiet", "--out", out];
    args.extend_from_slice(extra);
    args
}

/// Bytes of peak RSS per queued request in a linearly growing backlog,
/// from two runs of the `surge` binary (each in a fresh process, so that
/// memory the allocator kept from earlier work cannot hide in the slope).
fn backlog_bytes_per_request(out: &Path) -> Option<f64> {
    let peak_kb = |n: &str| -> Option<f64> {
        let dir = out.join(n);
        let dir = dir.to_str()?;
        let flood = [
            "--set",
            "class.jobs.arrivals.rate=1G/s",
            "--max-in-system",
            n,
        ];
        Some(surge_process(&run_args("scenarios/mmc.toml", dir, &flood))?.1)
    };
    let small = peak_kb("2000000")?;
    let large = peak_kb("8000000")?;
    Some((large - small) * 1024.0 / 6e6)
}

/// Units of work of a run: every attempt of a one-stage class, every
/// attempt of a workflow stage, and every workflow attempt turned away
/// before its first stage (a rate limit) — what a one-stage request's
/// attempt costs, if a stage visit costs as much.
fn units(run: &surge::model::RunResult) -> u64 {
    run.classes
        .iter()
        .map(|c| match c.stages.first() {
            None => c.attempts,
            Some(first) => {
                let visits: u64 = c.stages.iter().map(|s| s.attempts).sum();
                visits + c.attempts.saturating_sub(first.arrivals)
            }
        })
        .sum()
}

/// One replication of `scenario`, once: wall time, events/s, peak RSS
/// and µs per unit of work (see [`units`]); the line, and µs per unit.
fn once(what: &str, scenario: &Scenario) -> Option<(String, f64)> {
    let started = std::time::Instant::now();
    let (run, mb) = peak_rss_mb(|| simulate(scenario, 0).unwrap())?;
    let secs = started.elapsed().as_secs_f64();
    let units = units(&run);
    let us = secs * 1e6 / units as f64;
    let line = format!(
        "{what} (24 h, one replication): {secs:.1} s, {:.1} M events/s, {:.1} M units of work (attempts and stage visits), {us:.3} µs each, peak RSS {mb:.0} MB",
        run.events as f64 / secs / 1e6,
        units as f64 / 1e6,
    );
    Some((line, us))
}

/// Launch day with each image request a one-stage workflow on the same
/// pool: the same load, through the workflow machinery.
fn launch_day_as_workflows() -> Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/launch-day-classic.toml");
    let text = std::fs::read_to_string(&path).expect("launch-day-classic.toml is readable");
    let service = "service = { dist = \"lognormal\", mean = \"20s\", cv = 0.6 }\n";
    assert_eq!(
        text.matches(service).count(),
        2,
        "launch-day's image service"
    );
    let text = text
        .replace(service, "")
        .replace("pool = \"gpu-image\"", "workflow = \"image\"")
        + "\n[[workflow]]\nname = \"image\"\n[[workflow.stage]]\nname = \"generate\"\n\
           pool = \"gpu-image\"\n"
        + service;
    surge::scenario::load_str(&text, "launch-day (workflows)", Path::new("."), "x", &[])
        .expect("launch-day with one-stage workflows is valid")
        .scenario
}

/// The whole launch day (classic chat: the speed baseline of #27), once,
/// three ways: as written; with each image
/// request a one-stage workflow; and as the launch-pipeline (five stages).
/// What a stage visit costs against a request: µs per unit of work.
fn launch_days() -> Vec<String> {
    let mut lines = Vec::new();
    let Some((line, day)) = once(
        "launch-day (classic chat)",
        &load("benches/launch-day-classic.toml", &[]),
    ) else {
        return lines;
    };
    lines.push(line);
    for (what, scenario) in [
        (
            "launch-day, images as 1-stage workflows",
            launch_day_as_workflows(),
        ),
        (
            "launch-pipeline",
            load("scenarios/launch-pipeline.toml", &[]),
        ),
    ] {
        if let Some((line, us)) = once(what, &scenario) {
            lines.push(format!("{line}: {:.2}× launch-day's", us / day));
        }
    }
    lines
}

/// Peak RSS of one replication of a stable M/M/8 1×, 4× and 16× as long:
/// memory is bounded by what is in the system, not by the requests
/// simulated.
fn memory_over_duration() -> Option<String> {
    let mut parts = Vec::new();
    for (times, duration) in [(1, "24h"), (4, "96h"), (16, "384h")] {
        let scenario = load("scenarios/mmc.toml", &[&format!("duration={duration}")]);
        let (requests, mb) = peak_rss_mb(|| simulate(&scenario, 0).unwrap().requests)?;
        parts.push(format!(
            "{times}× ({duration}, {:.1} M requests): {mb:.1} MB",
            requests as f64 / 1e6
        ));
    }
    Some(format!("mmc peak RSS by duration: {}", parts.join(", ")))
}

/// A 16-point × 4-replication sweep with `--jobs 1` and `--jobs 2`, best
/// of three each: how a sweep scales with cores.
fn sweep_scaling(out: &Path) -> Option<String> {
    let grid = "pool.gpu.gpus=8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23";
    let mut best = [f64::INFINITY; 2];
    for _ in 0..3 {
        for (k, jobs) in ["1", "2"].into_iter().enumerate() {
            let dir = out.join(format!("sweep-{jobs}"));
            let args = [
                "sweep",
                "scenarios/mmc.toml",
                "--grid",
                grid,
                "--replications",
                "4",
                "--set",
                "duration=20h",
                "--charts",
                "none",
                "--quiet",
                "--jobs",
                jobs,
                "--out",
                dir.to_str()?,
            ];
            best[k] = best[k].min(surge_process(&args)?.0);
        }
    }
    Some(format!(
        "sweep 16 points × 4 replications (mmc, 20 h): --jobs 1 {:.2} s, --jobs 2 {:.2} s: {:.2}×",
        best[0],
        best[1],
        best[0] / best[1]
    ))
}

/// The floor's folder, beside the checkout, if it is there.
fn floor_dir() -> Option<std::path::PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/perf-floor");
    dir.join("Cargo.toml").is_file().then_some(dir)
}

/// surge's M/M/8 against the floor: 5 M customers each, best of three,
/// interleaved; both as whole processes (surge's run includes loading the
/// scenario and writing its outputs).
fn floor_ratio(out: &Path) -> String {
    let Some(dir) = floor_dir() else {
        return "floor: ../shared/perf-floor not found beside the checkout; ratio not measured"
            .into();
    };
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/perf-floor");
    let built = std::process::Command::new(env!("CARGO"))
        .args([
            "build",
            "--release",
            "--locked",
            "--quiet",
            "--manifest-path",
        ])
        .arg(dir.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target)
        .status();
    if !built.is_ok_and(|s| s.success()) {
        return "floor: building ../shared/perf-floor failed; ratio not measured".into();
    }
    let floor = target.join("release/floor");
    let customers = 5_000_000.0;
    let mut best = [f64::INFINITY; 2];
    for _ in 0..3 {
        let started = std::time::Instant::now();
        let ran = std::process::Command::new(&floor)
            .args(["5000000", "stats", "1"])
            .stderr(std::process::Stdio::null())
            .status();
        if !ran.is_ok_and(|s| s.success()) {
            return "floor: the floor binary failed; ratio not measured".into();
        }
        best[0] = best[0].min(started.elapsed().as_secs_f64());
        let dir = out.join("mmc-floor");
        let Some(dir) = dir.to_str() else {
            return "floor: no output folder; ratio not measured".into();
        };
        let args = run_args("scenarios/mmc.toml", dir, &["--set", "duration=193h"]);
        match surge_process(&args) {
            Some((secs, _)) => best[1] = best[1].min(secs),
            None => return "floor: surge's M/M/8 run failed; ratio not measured".into(),
        }
    }
    format!(
        "floor: M/M/8, 5 M customers, best of 3 interleaved: floor {:.2} M/s ({:.3} s), surge {:.2} M/s ({:.3} s): surge at {:.2}× the floor",
        customers / best[0] / 1e6,
        best[0],
        customers / best[1] / 1e6,
        best[1],
        best[0] / best[1]
    )
}

/// A serving pool of 100 replicas at ρ = 0.8 (`benches/serving-100.toml`,
/// 1 h), in a fresh `surge` process, best of three: requests per second
/// of wall time, events per request, the child's peak RSS.
fn serving_rate(out: &Path) -> String {
    let scenario = load("benches/serving-100.toml", &[]);
    let run = simulate(&scenario, 0).expect("the bench scenario is valid");
    let dir = out.join("serving-100");
    let Some(dir) = dir.to_str() else {
        return "serving: no output folder; not measured".into();
    };
    let args = run_args("benches/serving-100.toml", dir, &[]);
    let mut best: Option<(f64, f64)> = None;
    for _ in 0..3 {
        let Some((secs, kb)) = surge_process(&args) else {
            return "serving: the surge run failed; not measured".into();
        };
        if best.is_none_or(|b| secs < b.0) {
            best = Some((secs, kb));
        }
    }
    let (secs, kb) = best.expect("three runs");
    let mb = kb / 1024.0;
    format!(
        "serving-100 (100 replicas, rho 0.8, 1 h): {} requests in {secs:.2} s, best of 3 whole processes: {:.2} M requests/s, {:.2} events per request, peak RSS {mb:.0} MB",
        run.requests,
        run.requests as f64 / secs / 1e6,
        run.events as f64 / run.requests as f64
    )
}

/// Launch day (its chat pool on the serving model) against launch day
/// with classic chat GPUs (`benches/launch-day-classic.toml`), one whole
/// process each, interleaved, best of two: the wall-time ratio (issue
/// #28's target is ≤ 1.5×).
fn serving_launch_day(out: &Path) -> String {
    let mut best = [f64::INFINITY; 2];
    for _ in 0..2 {
        for (i, file) in [
            "benches/launch-day-classic.toml",
            "scenarios/launch-day.toml",
        ]
        .into_iter()
        .enumerate()
        {
            let dir = out.join(format!("launch-day-{i}"));
            let Some(dir) = dir.to_str() else {
                return "launch day serving: no output folder; not measured".into();
            };
            match surge_process(&run_args(file, dir, &[])) {
                Some((secs, _)) => best[i] = best[i].min(secs),
                None => return format!("launch day serving: {file} failed; not measured"),
            }
        }
    }
    format!(
        "launch day (24 h, whole process, best of 2): classic chat GPUs {:.2} s, chat on LLM replicas {:.2} s: {:.2}x",
        best[0],
        best[1],
        best[1] / best[0]
    )
}

fn bench_scenarios(c: &mut Criterion) {
    // First, while this process is small: memory against duration.
    let memory = memory_over_duration();
    let cases = [
        (
            "launch-day-10h",
            "benches/launch-day-classic.toml",
            &["duration=10h"][..],
        ),
        (
            "launch-pipeline-10h",
            "scenarios/launch-pipeline.toml",
            &["duration=10h"][..],
        ),
        ("shared-pool", "scenarios/shared-pool.toml", &[][..]),
        ("retry-storm", "scenarios/retry-storm.toml", &[][..]),
        ("mmc", "scenarios/mmc.toml", &[][..]),
        ("chat-serving", "scenarios/chat-serving.toml", &[][..]),
    ];
    let mut group = c.benchmark_group("scenarios");
    group.sample_size(10);
    for (name, file, overrides) in cases {
        let scenario = load(file, overrides);
        let run = simulate(&scenario, 0).unwrap();
        if let Some((_, mb)) = peak_rss_mb(|| simulate(&scenario, 0).unwrap()) {
            eprintln!(
                "{name}: {} requests, {} events; peak RSS of one replication {mb:.0} MB",
                run.requests, run.events
            );
        }
        group.throughput(Throughput::Elements(run.events));
        group.bench_function(name, |b| {
            b.iter(|| black_box(simulate(black_box(&scenario), 0).unwrap()).events)
        });
    }
    group.finish();
    // Whole processes, after criterion: the launch day, memory against
    // duration, sweep scaling, and the flood (last: it leaves the
    // allocator holding memory).
    let Ok(out) = tempfile::tempdir() else {
        return;
    };
    let reports = launch_days().into_iter().map(Some).chain([
        Some(floor_ratio(out.path())),
        Some(serving_rate(out.path())),
        Some(serving_launch_day(out.path())),
        memory,
        sweep_scaling(out.path()),
        backlog_bytes_per_request(out.path()).map(|bytes| {
            format!("backlog: {bytes:.1} bytes of peak RSS per queued request (mmc at 1G/s)")
        }),
    ]);
    for line in reports.into_iter().flatten() {
        eprintln!("{line}");
    }
}

criterion_group!(benches, bench_scenarios);
criterion_main!(benches);
