//! Engine throughput: simulated customers per second for M/M/8 at ρ = 0.9,
//! and raw event-queue operations per second (a 16-event hold model, and
//! 200k pending events with launch day's mix of delays).
//!
//!     cargo bench --bench engine
//!
//! Each M/M/8 iteration simulates ~200k customers (≈ 400k events: one
//! arrival and one completion each); criterion reports elements/s =
//! customers/s. The same queue with each customer a workflow of 1 or 3
//! stages in series reports stage visits/s: what a stage costs against a
//! request of one service.

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use surge::engine::{EventQueue, SimDuration, SimTime};
use surge::model::{DurationDist, Scenario, StageSpec, StageWork, Target, WorkflowSpec};
use surge::simulate;

fn mmc(gpus: u32, rho: f64, duration_s: u64) -> Scenario {
    let service = DurationDist::exponential(1.0).expect("valid");
    Scenario::single_queue(
        gpus,
        rho * f64::from(gpus),
        service,
        SimDuration::from_secs(duration_s),
    )
}

fn bench_mmc(c: &mut Criterion) {
    let scenario = mmc(8, 0.9, 27_778); // λ = 7.2/s → ≈ 200k customers
    let customers = simulate(&scenario, 0).unwrap().requests;
    let mut group = c.benchmark_group("mm8_rho0.9");
    group.throughput(Throughput::Elements(customers));
    group.sample_size(20);
    group.bench_function("customers", |b| {
        b.iter(|| black_box(simulate(black_box(&scenario), 0).unwrap()).events)
    });
    group.finish();
}

/// The same M/M/8 at ρ = 0.9 with each request a workflow of `stages`
/// stages in series on the one pool (each 1/`stages` of the service):
/// what a stage visit costs against a request of one service.
fn workflow_mmc(stages: usize) -> Scenario {
    let mut s = mmc(8, 0.9, 27_778);
    let service = DurationDist::exponential(1.0 / stages as f64).expect("valid");
    s.workflows = vec![WorkflowSpec {
        name: "pipeline".into(),
        stages: (0..stages)
            .map(|k| StageSpec {
                name: format!("s{k}"),
                work: StageWork::Serve {
                    pool: 0,
                    service: service.clone(),
                },
                only: None,
                timeout: None,
                retry: None,
                routes: Vec::new(),
                next: if k + 1 < stages {
                    Target::Stage(k + 1)
                } else {
                    Target::Done
                },
                fork: None,
            })
            .collect(),
    }];
    s.classes[0].workflow = Some(0);
    s
}

fn bench_workflows(c: &mut Criterion) {
    let mut group = c.benchmark_group("mm8_rho0.9_workflow");
    group.sample_size(20);
    for stages in [1, 3] {
        let scenario = workflow_mmc(stages);
        let visits: u64 = simulate(&scenario, 0).unwrap().classes[0]
            .stages
            .iter()
            .map(|s| s.arrivals)
            .sum();
        group.throughput(Throughput::Elements(visits));
        group.bench_function(format!("stage_visits_{stages}_stages"), |b| {
            b.iter(|| black_box(simulate(black_box(&scenario), 0).unwrap()).events)
        });
    }
    group.finish();
}

fn bench_queue(c: &mut Criterion) {
    const N: u64 = 100_000;
    let mut group = c.benchmark_group("event_queue");
    group.throughput(Throughput::Elements(N));
    group.bench_function("hold_16", |b| {
        // The classic "hold" model: a queue of 16 pending events, each pop
        // schedules one new event a pseudo-random time ahead.
        b.iter(|| {
            let mut q = EventQueue::new();
            let mut x: u64 = 88172645463325252;
            for i in 0..16u64 {
                q.schedule(SimTime(i), i);
            }
            for _ in 0..N {
                let (t, e) = q.pop().expect("non-empty");
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                q.schedule(SimTime(t.0 + (x & 0xffff)), e);
            }
            black_box(q.len())
        })
    });
    group.bench_function("hold_launch_mix_200k", |b| {
        // Launch day's event mix: 200k pending events, most a few seconds
        // ahead (services, arrivals), a quarter a minute or so (think
        // times, patience, backoffs), a few hours (return visits). Timed:
        // N pops, each scheduling one new event (the filling is setup).
        fn delay(x: &mut u64) -> u64 {
            *x ^= *x << 13;
            *x ^= *x >> 7;
            *x ^= *x << 17;
            let mean_ns = match *x % 100 {
                0..70 => 2e9,
                70..95 => 60e9,
                _ => 3.0 * 3600e9,
            };
            // Exponential by inversion.
            let u = ((*x >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
            (-u.ln() * mean_ns) as u64
        }
        b.iter_batched(
            || {
                let mut q = EventQueue::new();
                let mut x: u64 = 88172645463325252;
                for i in 0..200_000u64 {
                    q.schedule(SimTime(delay(&mut x)), i);
                }
                (q, x)
            },
            |(mut q, mut x)| {
                for _ in 0..N {
                    let (t, e) = q.pop().expect("non-empty");
                    q.schedule(SimTime(t.0 + delay(&mut x)), e);
                }
                black_box(q.len())
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

/// The same M/M/8 with a FIFO policy written outside the crate and
/// plugged in through `Simulation::pool_policy`: the cost of a custom policy.
fn bench_custom_policy(c: &mut Criterion) {
    use std::collections::VecDeque;
    use surge::Simulation;
    use surge::policy::{Handle, PoolView, QueuePolicy, QueuedRequest};

    struct OutsideFifo(VecDeque<Handle>);
    impl QueuePolicy for OutsideFifo {
        fn name(&self) -> &str {
            "outside-fifo"
        }
        fn enqueue(&mut self, r: QueuedRequest, _: &PoolView) {
            self.0.push_back(r.handle());
        }
        fn dequeue(&mut self, _: &PoolView) -> Option<Handle> {
            self.0.pop_front()
        }
        fn len(&self) -> usize {
            self.0.len()
        }
    }

    let scenario = mmc(8, 0.9, 27_778);
    let customers = simulate(&scenario, 0).unwrap().requests;
    let sim = Simulation::new(&scenario)
        .pool_policy("gpu", |_| {
            Box::new(OutsideFifo(VecDeque::new())) as Box<dyn QueuePolicy>
        })
        .build()
        .expect("pool exists");
    let mut group = c.benchmark_group("mm8_rho0.9_policy");
    group.throughput(Throughput::Elements(customers));
    group.sample_size(20);
    group.bench_function("builtin_fifo", |b| {
        b.iter(|| black_box(simulate(black_box(&scenario), 0).unwrap()).events)
    });
    group.bench_function("custom_fifo", |b| b.iter(|| black_box(sim.run(0)).events));
    group.finish();
}

criterion_group!(
    benches,
    bench_mmc,
    bench_workflows,
    bench_queue,
    bench_custom_policy
);
criterion_main!(benches);
