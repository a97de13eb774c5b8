//! Property tests: the loader never panics, whatever the input, and the
//! simulation conserves requests and respects capacity on random systems.

use proptest::prelude::*;
use std::path::Path;
use surge::engine::{SimDuration, SimTime};
use surge::model::Scope;
use surge::scenario::{Override, load_str};
use surge::simulate;

const BASE: &str = include_str!("../scenarios/mmc.toml");

/// Pieces of TOML and of surge's values, to splice into a valid scenario.
const FRAGMENTS: [&str; 24] = [
    "=",
    "\"",
    "[",
    "]",
    "[[",
    "]]",
    "{",
    "}",
    ",",
    "\n",
    "#",
    "-1",
    "0",
    "1e308",
    "\"1.5h\"",
    "\"-3/s\"",
    "\"9/s\"",
    "gpus",
    "pool",
    "class",
    "dist",
    "\"lognormal\"",
    "nan",
    "inf",
];

fn load(text: &str) {
    // Ok or Err are both fine; a panic fails the property.
    let _ = load_str(text, "<fuzz>", Path::new("."), "fuzz", &[]);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
        load(&text);
    }

    #[test]
    fn mutated_scenarios_never_panic(
        edits in proptest::collection::vec((0usize..BASE.len(), 0usize..12, 0usize..FRAGMENTS.len()), 1..6)
    ) {
        let mut text = BASE.to_string();
        for (at, cut, frag) in edits {
            let mut at = at.min(text.len());
            while !text.is_char_boundary(at) { at -= 1; }
            let mut end = (at + cut).min(text.len());
            while !text.is_char_boundary(end) { end -= 1; }
            text.replace_range(at..end, FRAGMENTS[frag]);
        }
        load(&text);
    }

    #[test]
    fn overrides_never_panic(path in "[a-z.0-9_-]{1,30}", value in "\\PC{0,20}") {
        if let Ok(ov) = Override::parse(&format!("{path}={value}")) {
            let _ = load_str(BASE, "<fuzz>", Path::new("."), "fuzz", &[ov]);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// arrivals = completed + rejected + abandoned + failed + in system, per
    /// class and overall; busy GPUs never exceed online GPUs; time-series
    /// buckets are contiguous and increasing; the same inputs give the same
    /// outputs — on random systems with every queue policy and every pool
    /// dynamic (capacity schedules, failures, the autoscaler, batching),
    /// where the trickiest bookkeeping is.
    #[test]
    fn requests_are_conserved_and_capacity_respected(
        gpus in 1u32..6,
        load in 0.2f64..1.6,
        cv in 0.2f64..3.0,
        drain_s in proptest::option::of(0u64..30),
        warmup_s in 0u64..100,
        seed in 0u64..1000,
        patience_s in proptest::option::of(1u64..20),
        attempts in 1u32..4,
        limit in proptest::option::of(1u32..10),
        policy in 0usize..5,
        dynamics in 0usize..5,
        mtbf_s in 30u64..300,
    ) {
        let policy = [
            "\"fifo\"",
            "\"priority\"",
            "\"fair\"",
            "{ kind = \"shed\", max_queue = 6 }",
            "{ kind = \"deferral\", threshold = \"2s\", reserved = 0.3 }",
        ][policy];
        let max_gpus = gpus + 4;
        let dynamics = [
            String::new(),
            format!("failures = {{ mtbf = \"{mtbf_s}s\", mttr = \"5s\" }}\ncapacity = [{{ at = \"100s\", gpus = \"+2\" }}, {{ at = \"200s\", gpus = 1 }}]"),
            format!("failures = {{ mtbf = \"{mtbf_s}s\", mttr = \"5s\" }}\nautoscale = {{ min = 1, max = {max_gpus}, step = 1, provision_delay = \"5s\", interval = \"10s\", trigger = {{ utilization = 0.8 }} }}"),
            "batching = { max_batch = 3, base = \"500ms\", per_item = \"300ms\", max_wait = \"1s\" }".to_string(),
            format!("autoscale = {{ min = 1, max = {max_gpus}, step = 2, interval = \"15s\", cooldown = \"20s\", trigger = {{ queue_per_gpu = 2 }} }}\nbatching = {{ max_batch = 2, base = \"200ms\", per_item = \"400ms\", max_wait = \"0s\" }}"),
        ][dynamics].clone();
        let client = format!(
            "{}retry = {{ max_attempts = {attempts}, backoff = {{ base = \"1s\" }} }}\n{}",
            patience_s.map_or(String::new(), |p| format!("patience = {{ dist = \"exponential\", mean = \"{p}s\" }}\n")),
            limit.map_or(String::new(), |l| format!("limit = {{ rate = \"{l}/s\", burst = 5 }}\n")),
        );
        let text = format!(r#"
            duration = "300s"
            warmup = "{warmup_s}s"
            seed = {seed}
            [[pool]]
            name = "gpu"
            gpus = {gpus}
            policy = {policy}
            {dynamics}
            [[class]]
            name = "a"
            pool = "gpu"
            priority = 1
            deferrable = true
            arrivals = {{ process = "poisson", rate = "{}/s" }}
            service = {{ dist = "lognormal", mean = "1s", cv = {cv} }}
            {client}
            [[class]]
            name = "b"
            pool = "gpu"
            arrivals = {{ process = "poisson", rate = "{}/s" }}
            service = {{ dist = "exponential", mean = "500ms" }}
            [[population]]
            name = "users"
            signups = {{ process = "poisson", rate = "0.5/s" }}
            requests = {{ dist = "geometric", mean = 3 }}
            think = {{ dist = "exponential", mean = "2s" }}
            returns = {{ probability = 0.3, after = {{ dist = "exponential", mean = "30s" }} }}
            [[class]]
            name = "c"
            pool = "gpu"
            arrivals = {{ process = "users", population = "users" }}
            service = {{ dist = "exponential", mean = "1s" }}
            {client}
        "#, load * f64::from(gpus) * 0.5, load * f64::from(gpus));
        let mut scenario = load_str(&text, "<prop>", Path::new("."), "prop", &[]).unwrap().scenario;
        scenario.drain = drain_s.map(SimDuration::from_secs);
        let r = simulate(&scenario, 0).unwrap();
        for c in r.classes.iter().chain(std::iter::once(&r.all)) {
            prop_assert_eq!(c.arrivals, c.completed + c.rejected + c.abandoned + c.failed + c.in_system);
            prop_assert!(c.attempts >= c.arrivals);
            prop_assert!(c.attempts <= c.arrivals * u64::from(attempts));
            prop_assert!(c.rejected_attempts >= c.rejected && c.abandoned_attempts >= c.abandoned);
            prop_assert!(c.failed_attempts >= c.failed);
            prop_assert!(c.deferred <= c.arrivals * u64::from(attempts));
        }
        let again = simulate(&scenario, 0).unwrap();
        prop_assert_eq!(
            surge::report::summary_table(&scenario, 0, std::slice::from_ref(&r)).to_csv(),
            surge::report::summary_table(&scenario, 0, std::slice::from_ref(&again)).to_csv()
        );
        prop_assert_eq!(r.requests, r.requests_finished + r.requests_in_system);
        if drain_s.is_none() {
            prop_assert_eq!(r.requests_in_system, 0);
        }
        let p = &r.pools[0];
        prop_assert!(p.busy_gpus_mean <= f64::from(max_gpus) + 2.0 + 1e-9);
        prop_assert!(p.busy_gpus_mean <= p.gpus_mean + 1e-9);
        prop_assert!(p.utilization <= 1.0 + 1e-9);
        let mut last_end = 0.0;
        for row in r.timeseries.iter().filter(|row| row.scope == Scope::Pool(0)) {
            prop_assert!((row.start.as_secs_f64() - last_end).abs() < 1e-9);
            prop_assert!(row.busy_gpus_mean.unwrap() <= row.online_gpus_mean.unwrap() + 1e-9);
            last_end = row.start.as_secs_f64() + row.width.as_secs_f64();
        }
        prop_assert!(last_end >= 300.0 - 1e-9);
    }
}

/// Common random numbers: resizing a pool changes no arrival and no job
/// size, so two variants differ only through the queue.
#[test]
fn resizing_a_pool_keeps_arrivals_and_job_sizes() {
    let text = |gpus: u32| {
        format!(
            r#"
            duration = "1h"
            [[pool]]
            name = "gpu"
            gpus = {gpus}
            [[class]]
            name = "jobs"
            pool = "gpu"
            arrivals = {{ process = "poisson", rate = "7/s" }}
            service = {{ dist = "gamma", mean = "1s", cv = 1.5 }}
        "#
        )
    };
    let small = load_str(&text(8), "<crn>", Path::new("."), "crn", &[])
        .unwrap()
        .scenario;
    let large = load_str(&text(12), "<crn>", Path::new("."), "crn", &[])
        .unwrap()
        .scenario;
    let (a, b) = (simulate(&small, 0).unwrap(), simulate(&large, 0).unwrap());
    let arrivals = |r: &surge::model::RunResult| -> Vec<u64> {
        r.timeseries
            .iter()
            .filter(|x| x.scope == Scope::Class(0))
            .map(|x| x.arrivals)
            .collect()
    };
    assert_eq!(arrivals(&a), arrivals(&b), "same arrivals bucket by bucket");
    // Same job sizes: service time = latency − wait, summed over requests.
    let work = |r: &surge::model::RunResult| {
        let c = &r.classes[0];
        (c.latency.mean_s().unwrap() - c.wait.mean_s().unwrap()) * c.completed as f64
    };
    assert!(
        (work(&a) - work(&b)).abs() < 1e-6 * work(&a),
        "{} vs {}",
        work(&a),
        work(&b)
    );
    assert!(a.classes[0].wait.mean_s() > b.classes[0].wait.mean_s());
    // And a different replication draws different arrivals.
    let c = simulate(&small, 1).unwrap();
    assert_ne!(arrivals(&a), arrivals(&c));
}

/// Tracing every request accounts for every measured request: the trace's
/// outcomes add up to the class counts, and its times are ordered.
#[test]
fn a_full_trace_matches_the_class_counts() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/retry-storm.toml");
    let overrides = ["duration=90m".parse().unwrap()];
    let mut s = surge::scenario::load_file(&path, &overrides)
        .expect("valid scenario")
        .scenario;
    s.trace = u64::MAX;
    let r = simulate(&s, 0).unwrap();
    for (i, c) in r.classes.iter().enumerate() {
        let mine: Vec<_> = r.trace.iter().filter(|t| t.class == i).collect();
        let count = |o: &str| mine.iter().filter(|t| t.outcome.as_str() == o).count() as u64;
        assert_eq!(mine.len() as u64, c.arrivals, "{}", c.name);
        assert_eq!(count("completed"), c.completed);
        assert_eq!(count("rejected"), c.rejected);
        assert_eq!(count("abandoned"), c.abandoned);
        assert_eq!(count("failed"), c.failed);
        assert_eq!(count("in_system"), c.in_system);
        let attempts: u64 = mine.iter().map(|t| u64::from(t.attempts)).sum();
        assert_eq!(attempts, c.attempts, "attempts of {}", c.name);
    }
    assert!(r.trace.iter().any(|t| t.attempts > 1), "the storm retries");
    for (k, t) in r.trace.iter().enumerate() {
        assert_eq!(t.id, k as u64);
        assert!(t.arrival >= SimTime(s.warmup.0));
        if let Some(start) = t.start {
            assert!(start >= t.arrival);
        }
        if let Some(end) = t.end {
            assert!(end >= t.start.unwrap_or(t.arrival));
        }
        assert_eq!(t.end.is_none(), t.outcome.as_str() == "in_system");
    }
    let arrivals: Vec<_> = r.trace.iter().map(|t| t.arrival).collect();
    assert!(arrivals.windows(2).all(|w| w[0] <= w[1]), "arrival order");
}
