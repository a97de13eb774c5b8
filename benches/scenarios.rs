//! The bundled scenarios end to end: wall time per replication (criterion
//! reports events/s), and the peak memory of one replication.
//!
//!     cargo bench --bench scenarios
//!
//! Launch day is cut at 10 h (two hours into its spike) to keep an
//! iteration near 10 s; the full day is measured with
//! `/usr/bin/time -v target/release/surge run scenarios/launch-day.toml`.
//! Peak memory: the process's peak RSS is reset (`/proc/self/clear_refs`)
//! before one replication and read back (`VmHWM`) after it, on Linux.
//!
//! Memory per queued request: `surge run scenarios/mmc.toml` flooded at
//! 1G/s (the backlog grows linearly), stopped by the budget at 2 M and at
//! 8 M requests in the system; the slope of the two processes' peak RSS is
//! printed as bytes per queued request (the request's record plus its
//! handle in the queue).

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

/// Peak resident memory of one replication, in MB (Linux only).
fn peak_rss_mb(scenario: &Scenario) -> Option<f64> {
    std::fs::write("/proc/self/clear_refs", "5").ok()?;
    black_box(simulate(scenario, 0).unwrap());
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

/// Bytes of peak RSS per queued request in a linearly growing backlog,
/// from two runs of the `surge` binary (each in a fresh process, so that
/// memory the allocator kept from earlier work cannot hide in the slope).
fn backlog_bytes_per_request() -> Option<f64> {
    let out = tempfile::tempdir().ok()?;
    let peak_kb = |n: &str| -> Option<f64> {
        std::process::Command::new(env!("CARGO_BIN_EXE_surge"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(["run", "scenarios/mmc.toml", "--charts", "none", "--quiet"])
            .args([
                "--set",
                "class.jobs.arrivals.rate=1G/s",
                "--max-in-system",
                n,
            ])
            .arg("--out")
            .arg(out.path().join(n))
            .stderr(std::process::Stdio::null())
            .status()
            .ok()?;
        // The largest peak of the children waited for: runs go small to large.
        let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
        // SAFETY: getrusage writes a whole `rusage` into the pointer given.
        let usage = unsafe {
            (libc::getrusage(libc::RUSAGE_CHILDREN, usage.as_mut_ptr()) == 0)
                .then(|| usage.assume_init())?
        };
        Some(usage.ru_maxrss as f64)
    };
    let small = peak_kb("2000000")?;
    let large = peak_kb("8000000")?;
    Some((large - small) * 1024.0 / 6e6)
}

fn bench_scenarios(c: &mut Criterion) {
    let cases = [
        (
            "launch-day-10h",
            "scenarios/launch-day.toml",
            &["duration=10h"][..],
        ),
        ("shared-pool", "scenarios/shared-pool.toml", &[][..]),
        ("retry-storm", "scenarios/retry-storm.toml", &[][..]),
        ("mmc", "scenarios/mmc.toml", &[][..]),
    ];
    let mut group = c.benchmark_group("scenarios");
    group.sample_size(10);
    for (name, file, overrides) in cases {
        let scenario = load(file, overrides);
        let run = simulate(&scenario, 0).unwrap();
        if let Some(mb) = peak_rss_mb(&scenario) {
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
    // Last: the flood leaves the allocator holding memory that would
    // inflate the peaks above.
    if let Some(bytes) = backlog_bytes_per_request() {
        eprintln!("backlog: {bytes:.1} bytes of peak RSS per queued request (mmc at 1G/s)");
    }
}

criterion_group!(benches, bench_scenarios);
criterion_main!(benches);
