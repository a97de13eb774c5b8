//! A scheduling policy of your own, run on surge's scenarios.
//!
//! `PaidFirst` serves paid requests (classes whose name ends in `-plus`)
//! before free ones, and among free requests serves first attempts before
//! retries, so that a retry storm queues behind fresh traffic. It is
//! written only against surge's public API, registered under a name, and
//! run on the launch-day scenario next to the built-in `fifo`:
//!
//!     cargo run --release --example custom_policy
//!     cargo run --release --example custom_policy -- scenarios/shared-pool.toml
//!
//! (By default the launch day is cut at 09:30, an hour and a half into
//! the spike, to keep the example quick.)

use std::collections::VecDeque;
use std::path::PathBuf;
use surge::model::PolicyContext;
use surge::policy::{Handle, PoolView, QueuePolicy, QueuedRequest};
use surge::scenario::{Override, load_file};
use surge::{Simulation, model::RunResult};

/// Paid first; then free first attempts; then free retries. FIFO within each.
pub struct PaidFirst {
    paid: Vec<bool>,
    queues: [VecDeque<Handle>; 3],
}

impl PaidFirst {
    /// Classes named `*-plus` are paid.
    pub fn new(ctx: &PolicyContext<'_>) -> Self {
        PaidFirst {
            paid: ctx
                .scenario
                .classes
                .iter()
                .map(|c| c.name.ends_with("-plus"))
                .collect(),
            queues: Default::default(),
        }
    }
}

impl QueuePolicy for PaidFirst {
    fn name(&self) -> &str {
        "paid-first"
    }

    fn enqueue(&mut self, request: QueuedRequest, _pool: &PoolView) {
        let level = if self.paid[request.class as usize] {
            0
        } else if request.attempt == 1 {
            1
        } else {
            2
        };
        self.queues[level].push_back(request.handle());
    }

    fn dequeue(&mut self, _pool: &PoolView) -> Option<Handle> {
        self.queues.iter_mut().find_map(VecDeque::pop_front)
    }

    fn len(&self) -> usize {
        self.queues.iter().map(VecDeque::len).sum()
    }
}

fn p99(r: &RunResult, class: usize) -> String {
    r.classes[class]
        .latency
        .quantile_s(0.99)
        .map_or("-".into(), |s| format!("{s:.1}s"))
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let (path, overrides) = match args.first() {
        Some(p) => (PathBuf::from(p), Vec::new()),
        None => (
            root.join("scenarios/launch-day.toml"),
            vec![Override::parse("duration=9.5h").expect("valid override")],
        ),
    };
    let loaded = match load_file(&path, &overrides) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let scenario = loaded.scenario;

    // The scenario's own policies, then ours on every pool.
    let baseline = Simulation::new(&scenario)
        .build()
        .expect("built-in policies only");
    let mut ours = Simulation::new(&scenario);
    for pool in &scenario.pools {
        ours = ours.pool_policy(&pool.name, |ctx| {
            Box::new(PaidFirst::new(ctx)) as Box<dyn QueuePolicy>
        });
    }
    let ours = ours.build().expect("every pool exists");
    let (a, b) = rayon::join(|| baseline.run(0), || ours.run(0));

    println!(
        "{} — latency p99 per class, seed {}",
        scenario.name, scenario.seed
    );
    println!("{:<12} {:>12} {:>12}", "class", "scenario's", "paid-first");
    for (i, c) in scenario.classes.iter().enumerate() {
        println!("{:<12} {:>12} {:>12}", c.name, p99(&a, i), p99(&b, i));
    }
}
