//! What a team's CI does with surge as a library: run a scenario file with
//! its own scheduler and assert an SLO — using only the public API.

#[path = "../examples/custom_policy.rs"]
#[allow(dead_code)]
mod example;

use std::collections::VecDeque;
use std::path::Path;
use surge::model::{PolicySpec, Scenario};
use surge::policy::{Handle, PoolView, QueuePolicy, QueuedRequest};
use surge::report::summary_table;
use surge::scenario::load_str;
use surge::{Simulation, SimulationError};

const SCENARIO: &str = r#"
name = "tiers"
duration = "3h"
warmup = "15m"
seed = 8
replications = 2

[[pool]]
name = "gpu-image"
gpus = 60
policy = { kind = "custom", name = "paid-first" }

[[class]]
name = "image-plus"
pool = "gpu-image"
arrivals = { process = "poisson", rate = "0.5/s" }
service = { dist = "lognormal", mean = "20s", cv = 0.6 }

[[class]]
name = "image-free"
pool = "gpu-image"
service = { dist = "lognormal", mean = "20s", cv = 0.6 }
patience = { dist = "exponential", mean = "2m" }
retry = { max_attempts = 3 }

[class.arrivals]
process = "profile"
base = "2/s"
spikes = [{ at = "1h", peak = "1.5/s", ramp = "5m", hold = "45m", decay = "10m" }]
"#;

fn scenario() -> Scenario {
    load_str(SCENARIO, "tiers.toml", Path::new("."), "tiers", &[])
        .unwrap_or_else(|e| panic!("{e}"))
        .scenario
}

#[test]
fn paid_tier_meets_its_slo_under_the_custom_policy() {
    let s = scenario();
    let sim = Simulation::new(&s)
        .policy("paid-first", |ctx| {
            Box::new(example::PaidFirst::new(ctx)) as Box<dyn QueuePolicy>
        })
        .build()
        .expect("the policy is registered");
    for run in sim.run_all() {
        let p99 = run.classes[0].latency.quantile_s(0.99).unwrap();
        assert!(p99 < 90.0, "SLO: image-plus p99 < 90 s, found {p99:.1} s");
        // The free tier absorbs the spike.
        assert!(run.classes[1].abandoned_attempts > 0);
    }
    // Under FIFO the same spike breaks the paid tier's SLO.
    let mut fifo = s.clone();
    fifo.pools[0].policy = PolicySpec::Fifo;
    let run = Simulation::new(&fifo).build().unwrap().run(0);
    let fifo_p99 = run.classes[0].latency.quantile_s(0.99).unwrap();
    assert!(fifo_p99 > 90.0, "fifo p99 {fifo_p99}");
}

#[test]
fn an_unregistered_custom_policy_is_a_clear_error() {
    let s = scenario();
    let err = Simulation::new(&s).build().err().expect("must fail");
    assert_eq!(
        err,
        SimulationError::UnregisteredPolicy {
            pool: "gpu-image".into(),
            name: "paid-first".into(),
            registered: "none".into()
        }
    );
    assert!(err.to_string().contains("not registered"));
    let err = Simulation::new(&s)
        .pool_policy("gpu-imagex", |ctx| {
            Box::new(example::PaidFirst::new(ctx)) as Box<dyn QueuePolicy>
        })
        .build()
        .err()
        .expect("must fail");
    assert!(matches!(err, SimulationError::UnknownPool { .. }));
}

/// First come, first served, written outside the crate.
struct MyFifo(VecDeque<Handle>);

impl QueuePolicy for MyFifo {
    fn name(&self) -> &str {
        "my-fifo"
    }
    fn enqueue(&mut self, request: QueuedRequest, _pool: &PoolView) {
        self.0.push_back(request.handle());
    }
    fn dequeue(&mut self, _pool: &PoolView) -> Option<Handle> {
        self.0.pop_front()
    }
    fn len(&self) -> usize {
        self.0.len()
    }
}

#[test]
fn a_custom_policy_and_the_equivalent_builtin_give_identical_results() {
    let mut builtin = scenario();
    builtin.pools[0].policy = PolicySpec::Fifo;
    let custom = scenario();
    let a = Simulation::new(&builtin).build().unwrap().run_all();
    let b = Simulation::new(&custom)
        .policy("paid-first", |_| {
            Box::new(MyFifo(VecDeque::new())) as Box<dyn QueuePolicy>
        })
        .build()
        .unwrap()
        .run_all();
    assert_eq!(
        summary_table(&builtin, 0, &a).to_csv(),
        summary_table(&custom, 0, &b).to_csv()
    );
}

#[cfg(feature = "cli")]
#[test]
fn the_command_line_rejects_a_custom_policy_with_its_location() {
    let dir = tempfile::TempDir::new().unwrap();
    let file = dir.path().join("tiers.toml");
    std::fs::write(&file, SCENARIO).unwrap();
    assert_cmd::Command::cargo_bin("surge")
        .unwrap()
        .arg("run")
        .arg(&file)
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "tiers.toml:11:36: pool.gpu-image.policy.name",
        ))
        .stderr(predicates::str::contains("not registered"));
}
