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
}

criterion_group!(benches, bench_scenarios);
criterion_main!(benches);
