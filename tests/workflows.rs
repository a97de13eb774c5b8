//! Workflows (a request as a pipeline of stages across pools) against
//! queueing-network theory: a tandem of M/M/c stations (Burke), an open
//! Jackson network with feedback, a two-way fork-join of M/M/1 stations
//! (Nelson–Tantawi), and conservation of every request, per stage and per
//! workflow.

mod common;

use common::{assert_matches, run_all};
use std::path::Path;
use surge::model::{RunResult, Scenario, StageResult};
use surge::scenario::load_str;
use surge::simulate;
use surge::theory;

fn scenario(toml: &str) -> Scenario {
    load_str(toml, "<test>", Path::new("."), "test", &[])
        .unwrap_or_else(|e| panic!("{e}"))
        .scenario
}

fn stage<'r>(r: &'r RunResult, class: usize, name: &str) -> &'r StageResult {
    r.classes[class]
        .stages
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no stage {name}"))
}

fn stage_wait(name: &'static str) -> impl Fn(&RunResult) -> f64 {
    move |r| stage(r, 0, name).wait.mean_s().unwrap_or(0.0)
}

fn latency_mean(r: &RunResult) -> f64 {
    r.classes[0].latency.mean_s().unwrap_or(0.0)
}

/// Relative precision of the duration histograms (3 significant digits),
/// as slack on checks of means near their resolution.
const HDR_SLACK_S: f64 = 1e-3;

/// The user's patience with a workflow of one stage is Erlang A's
/// (M/M/c+M): the user leaves iff the stage's queue wait outlasts their
/// patience. The timer is scheduled only when the stage has to wait (its
/// deadline drawn at the attempt's start), so this checks that lazy timer
/// against the closed form: P(abandon) and E[wait | served].
#[test]
fn a_one_stage_workflow_with_impatient_users_is_erlang_a() {
    let s = {
        let mut s = scenario(
            r#"
            duration = "8h"
            warmup = "20m"
            replications = 10
            seed = 11
            [[pool]]
            name = "gpu"
            gpus = 8
            [[class]]
            name = "jobs"
            workflow = "one"
            arrivals = { process = "poisson", rate = "9/s" }
            patience = { dist = "exponential", mean = "2s" }
            [[workflow]]
            name = "one"
            [[workflow.stage]]
            name = "serve"
            pool = "gpu"
            service = { dist = "exponential", mean = "1s" }
        "#,
        );
        s.drain = None;
        s
    };
    let runs = run_all(&s);
    common::assert_erlang_a(&runs, 8, 9.0, 1.0, 0.5, HDR_SLACK_S);
    for r in &runs {
        let c = &r.classes[0];
        assert_eq!(c.arrivals, c.completed + c.abandoned + c.in_system);
        let st = stage(r, 0, "serve");
        assert_eq!(st.arrivals, st.completed + st.cancelled + st.in_system);
        assert_eq!(
            st.cancelled, c.abandoned,
            "each user who left withdrew one visit"
        );
    }
}

/// A fork whose first branch is deferred ("we'll notify you") still sends
/// the other branches: deferral restarts the user's timer, it does not end
/// the attempt. (It once did as far as the fork could tell: the other
/// branches were never sent and the join waited until the user gave up.)
#[test]
fn a_fork_whose_first_branch_is_deferred_sends_every_branch() {
    let s = scenario(
        r#"
        duration = "1h"
        warmup = "10m"
        seed = 3
        [[pool]]
        name = "a"
        gpus = 4
        policy = { kind = "deferral", threshold = "1s", reserved = 0.25 }
        [[pool]]
        name = "b"
        gpus = 50
        [[class]]
        name = "jobs"
        workflow = "w"
        deferrable = true
        arrivals = { process = "poisson", rate = "3.8/s" }
        patience = { dist = "exponential", mean = "10m" }
        deferred_patience = { dist = "exponential", mean = "30m" }
        [[workflow]]
        name = "w"
        [[workflow.stage]]
        name = "split"
        fork = ["left", "right"]
        [[workflow.stage]]
        name = "left"
        pool = "a"
        service = { dist = "exponential", mean = "1s" }
        [[workflow.stage]]
        name = "right"
        pool = "b"
        service = { dist = "exponential", mean = "1s" }
    "#,
    );
    let r = simulate(&s, 0).unwrap();
    let c = &r.classes[0];
    assert!(c.deferred > 1000, "the scenario defers: {}", c.deferred);
    let (left, right) = (stage(&r, 0, "left"), stage(&r, 0, "right"));
    assert_eq!(left.arrivals, c.arrivals);
    assert_eq!(right.arrivals, c.arrivals, "every fork sent both branches");
    assert!(
        c.abandoned * 100 < c.arrivals,
        "users leave only when their deferred patience runs out: {} of {}",
        c.abandoned,
        c.arrivals
    );
    conserved(&r);
}

/// A request as two stations in series: by Burke's theorem the departures
/// of an M/M/c queue are Poisson, so each station is its own M/M/c and its
/// mean wait is Erlang C's; the mean end-to-end latency is the sum of both
/// stations' waits and services.
#[test]
fn a_tandem_of_mmc_stations_waits_as_two_independent_erlang_c_queues() {
    let s = scenario(
        r#"
        name = "tandem"
        duration = "24h"
        warmup = "10m"
        seed = 11
        replications = 8

        [[pool]]
        name = "a"
        gpus = 4

        [[pool]]
        name = "b"
        gpus = 2

        [[workflow]]
        name = "two"
        [[workflow.stage]]
        name = "first"
        pool = "a"
        service = { dist = "exponential", mean = "500ms" }
        [[workflow.stage]]
        name = "second"
        pool = "b"
        service = { dist = "exponential", mean = "250ms" }

        [[class]]
        name = "jobs"
        workflow = "two"
        arrivals = { process = "poisson", rate = "6/s" }
        "#,
    );
    let runs = run_all(&s);
    let wa = theory::mmc_mean_wait(4, 6.0, 0.5);
    let wb = theory::mmc_mean_wait(2, 6.0, 0.25);
    assert_matches(
        "tandem: station a wait",
        &runs,
        wa,
        HDR_SLACK_S,
        0.05,
        stage_wait("first"),
    );
    assert_matches(
        "tandem: station b wait",
        &runs,
        wb,
        HDR_SLACK_S,
        0.05,
        stage_wait("second"),
    );
    assert_matches(
        "tandem: end-to-end latency",
        &runs,
        wa + 0.5 + wb + 0.25,
        HDR_SLACK_S,
        0.02,
        latency_mean,
    );
    // The workflow's wait is its time queueing: the two waits together.
    assert_matches(
        "tandem: workflow wait",
        &runs,
        wa + wb,
        HDR_SLACK_S,
        0.05,
        |r| r.classes[0].wait.mean_s().unwrap_or(0.0),
    );
}

/// An open Jackson network with feedback: a → b, then 30% back to a.
/// The traffic equations give each station λ/(1 − 0.3) arrivals per
/// second; each behaves as an M/M/c queue at that rate (Jackson's
/// theorem), and by Little's law a request's mean sojourn is the visits
/// times each station's wait plus service.
#[test]
fn an_open_jackson_network_with_feedback_matches_the_traffic_equations() {
    let s = scenario(
        r#"
        name = "jackson"
        duration = "32h"
        warmup = "10m"
        seed = 12
        replications = 8

        [[pool]]
        name = "a"
        gpus = 2

        [[pool]]
        name = "b"
        gpus = 1

        [[workflow]]
        name = "loop"
        [[workflow.stage]]
        name = "work"
        pool = "a"
        service = { dist = "exponential", mean = "400ms" }
        [[workflow.stage]]
        name = "check"
        pool = "b"
        service = { dist = "exponential", mean = "200ms" }
        route = [{ to = "work", p = 0.3 }]

        [[class]]
        name = "jobs"
        workflow = "loop"
        arrivals = { process = "poisson", rate = "2/s" }
        "#,
    );
    let runs = run_all(&s);
    let visits = 1.0 / (1.0 - 0.3);
    let lambda = 2.0 * visits;
    let wa = theory::mmc_mean_wait(2, lambda, 0.4);
    let wb = theory::mmc_mean_wait(1, lambda, 0.2);
    assert_matches(
        "jackson: station a wait",
        &runs,
        wa,
        HDR_SLACK_S,
        0.05,
        stage_wait("work"),
    );
    assert_matches(
        "jackson: station b wait",
        &runs,
        wb,
        HDR_SLACK_S,
        0.05,
        stage_wait("check"),
    );
    assert_matches(
        "jackson: visits per request",
        &runs,
        visits,
        0.0,
        0.01,
        |r| stage(r, 0, "work").arrivals as f64 / r.classes[0].arrivals as f64,
    );
    assert_matches(
        "jackson: mean sojourn (Little)",
        &runs,
        visits * (wa + 0.4 + wb + 0.2),
        HDR_SLACK_S,
        0.02,
        latency_mean,
    );
    // The offered load the loader reports follows the same equations.
    let rho = s.offered_load();
    assert!((rho[0] - lambda * 0.4 / 2.0).abs() < 1e-9, "{rho:?}");
    assert!((rho[1] - lambda * 0.2).abs() < 1e-9, "{rho:?}");
}

/// A request forked to two identical M/M/1 stations and joined when both
/// are done: Nelson and Tantawi (1988) give the mean response time exactly
/// for two servers, R = (12 − ρ)/8 · 1/(μ − λ).
#[test]
fn a_two_way_fork_join_matches_nelson_tantawi() {
    let s = scenario(
        r#"
        name = "fork-join"
        duration = "160h"
        warmup = "1h"
        seed = 13
        replications = 8

        [[pool]]
        name = "left"
        gpus = 1

        [[pool]]
        name = "right"
        gpus = 1

        [[workflow]]
        name = "split"
        [[workflow.stage]]
        name = "both"
        fork = ["l", "r"]
        join = "all"
        [[workflow.stage]]
        name = "l"
        pool = "left"
        service = { dist = "exponential", mean = "1s" }
        [[workflow.stage]]
        name = "r"
        pool = "right"
        service = { dist = "exponential", mean = "1s" }

        [[class]]
        name = "jobs"
        workflow = "split"
        arrivals = { process = "poisson", rate = "0.5/s" }
        "#,
    );
    let runs = run_all(&s);
    let (lambda, mu) = (0.5, 1.0);
    let rho: f64 = lambda / mu;
    let response = (12.0 - rho) / 8.0 / (mu - lambda);
    assert_matches(
        "fork-join: mean response",
        &runs,
        response,
        HDR_SLACK_S,
        0.02,
        latency_mean,
    );
    // Each branch alone is an M/M/1 queue.
    assert_matches(
        "fork-join: branch wait",
        &runs,
        rho / (mu - lambda),
        HDR_SLACK_S,
        0.04,
        stage_wait("l"),
    );
}

/// A pipeline with every setback: a moderation stage that sheds, a
/// generation stage on a failing pool with timeouts and retries, a
/// safety stage that loops back or refuses, a `first` join of hedged
/// branches, impatient users who retry, a stage only some classes run.
const EVERYTHING: &str = r#"
    name = "everything"
    duration = "30m"
    warmup = "2m"
    seed = 14
    replications = 2

    [[pool]]
    name = "cpu"
    gpus = 2
    policy = { kind = "shed", max_queue = 20 }

    [[pool]]
    name = "gpu"
    gpus = 6
    policy = "priority"
    failures = { mtbf = "5m", mttr = "30s" }

    [[pool]]
    name = "small"
    gpus = 1
    batching = { max_batch = 4, base = "100ms", per_item = "50ms", max_wait = "200ms" }

    [[workflow]]
    name = "image"
    [[workflow.stage]]
    name = "moderate"
    pool = "cpu"
    service = { dist = "exponential", mean = "150ms" }
    retry = { max_attempts = 2, backoff = { base = "1s" } }
    [[workflow.stage]]
    name = "generate"
    pool = "gpu"
    service = { dist = "gamma", mean = "1s", cv = 0.5 }
    timeout = "20s"
    retry = { max_attempts = 3, backoff = { base = "500ms" } }
    [[workflow.stage]]
    name = "checks"
    fork = ["safety", "watermark"]
    join = "first"
    route = [{ to = "generate", p = 0.1 }, { to = "refuse", p = 0.05 }]
    [[workflow.stage]]
    name = "safety"
    pool = "small"
    service = { dist = "exponential", mean = "100ms" }
    [[workflow.stage]]
    name = "watermark"
    pool = "cpu"
    service = { dist = "exponential", mean = "100ms" }
    [[workflow.stage]]
    name = "upscale"
    pool = "gpu"
    service = { dist = "exponential", mean = "500ms" }
    only = ["paid"]

    [[class]]
    name = "free"
    workflow = "image"
    priority = 2
    arrivals = { process = "poisson", rate = "4/s" }
    patience = { dist = "exponential", mean = "15s" }
    retry = { max_attempts = 2, backoff = { base = "2s" } }

    [[class]]
    name = "paid"
    workflow = "image"
    priority = 1
    arrivals = { process = "poisson", rate = "1/s" }

    [[class]]
    name = "chat"
    pool = "gpu"
    arrivals = { process = "poisson", rate = "1/s" }
    service = { dist = "exponential", mean = "200ms" }
"#;

fn conserved(r: &RunResult) {
    for c in &r.classes {
        assert_eq!(
            c.arrivals,
            c.completed + c.rejected + c.abandoned + c.failed + c.in_system,
            "class {} in replication {}",
            c.name,
            r.replication
        );
        for s in &c.stages {
            assert_eq!(
                s.arrivals,
                s.completed + s.rejected + s.timed_out + s.failed + s.cancelled + s.in_system,
                "stage {} of class {}: {s:?}",
                s.name,
                c.name
            );
            assert!(s.attempts >= s.arrivals);
        }
    }
}

#[test]
fn every_request_and_every_stage_visit_is_accounted_for() {
    let s = scenario(EVERYTHING);
    let runs = run_all(&s);
    for r in &runs {
        conserved(r);
        let free = &r.classes[0];
        // Every setback happened, so the accounting above was exercised.
        let generate = stage(r, 0, "generate");
        assert!(generate.arrivals > generate.completed, "{generate:?}");
        assert!(free.abandoned_attempts + free.rejected_attempts + free.failed_attempts > 0);
        assert!(stage(r, 0, "safety").cancelled + stage(r, 0, "watermark").cancelled > 0);
        assert_eq!(
            stage(r, 0, "upscale").arrivals,
            0,
            "free users skip upscaling"
        );
        assert!(stage(r, 1, "upscale").completed > 0);
        assert!(r.classes[2].stages.is_empty());
    }
    // A run cut short mid-stream accounts for everything too.
    let mut short = s.clone();
    short.drain = Some(surge::engine::SimDuration::ZERO);
    for r in run_all(&short) {
        conserved(&r);
        assert!(r.classes.iter().any(|c| c.in_system > 0));
    }
}

#[test]
fn workflow_runs_are_deterministic() {
    let s = scenario(EVERYTHING);
    let a = run_all(&s);
    let b = run_all(&s);
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(format!("{:?}", x.classes), format!("{:?}", y.classes));
        assert_eq!(format!("{:?}", x.pools), format!("{:?}", y.pools));
        assert_eq!(x.events, y.events);
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 64, ..Default::default() })]

    /// On random workflows — a loop back, a refusal, a fork joined by all
    /// or the first branch, stage timeouts and retries, users who give up
    /// and retry the whole workflow, rate limits, failing and batching
    /// pools under every policy, a population of users, a drain cut short
    /// — every request and every stage visit is accounted for, and the
    /// same inputs give the same outputs.
    #[test]
    fn workflows_conserve_requests_and_stage_visits(
        seed in 0u64..1000,
        gpus in 1u32..5,
        load in 0.3f64..1.5,
        loop_p in 0.0f64..0.3,
        refuse_p in 0.0f64..0.1,
        first in proptest::bool::ANY,
        timeout_s in proptest::option::of(1u64..20),
        stage_attempts in 1u32..3,
        patience_s in proptest::option::of(1u64..30),
        attempts in 1u32..3,
        limit in proptest::option::of(1u32..5),
        policy in 0usize..5,
        dynamics in 0usize..3,
        drain_s in proptest::option::of(0u64..30),
    ) {
        let policy = [
            "\"fifo\"",
            "\"priority\"",
            "\"fair\"",
            "{ kind = \"shed\", max_queue = 4 }",
            "{ kind = \"deferral\", threshold = \"2s\", reserved = 0.3 }",
        ][policy];
        let dynamics = [
            "",
            "failures = { mtbf = \"60s\", mttr = \"5s\" }",
            "batching = { max_batch = 3, base = \"300ms\", per_item = \"200ms\", max_wait = \"500ms\" }",
        ][dynamics];
        let routes = format!(
            "route = [{{ to = \"gen\", p = {loop_p} }}, {{ to = \"refuse\", p = {refuse_p} }}]"
        );
        let timeout = timeout_s.map_or(String::new(), |t| format!("timeout = \"{t}s\""));
        let client = format!(
            "{}retry = {{ max_attempts = {attempts}, backoff = {{ base = \"1s\" }} }}\n{}",
            patience_s.map_or(String::new(), |p| format!("patience = {{ dist = \"exponential\", mean = \"{p}s\" }}\n")),
            limit.map_or(String::new(), |l| format!("limit = {{ rate = \"{l}/s\", burst = 3 }}\n")),
        );
        let text = format!(r#"
            duration = "300s"
            warmup = "20s"
            seed = {seed}
            [[pool]]
            name = "a"
            gpus = {gpus}
            policy = {policy}
            {dynamics}
            [[pool]]
            name = "b"
            gpus = 2
            policy = {policy}
            [[workflow]]
            name = "w"
            [[workflow.stage]]
            name = "gen"
            pool = "a"
            service = {{ dist = "exponential", mean = "1s" }}
            {timeout}
            retry = {{ max_attempts = {stage_attempts}, backoff = {{ base = "500ms" }} }}
            [[workflow.stage]]
            name = "check"
            fork = ["x", "y"]
            join = "{join}"
            {routes}
            [[workflow.stage]]
            name = "x"
            pool = "b"
            service = {{ dist = "exponential", mean = "300ms" }}
            {timeout}
            [[workflow.stage]]
            name = "y"
            pool = "a"
            service = {{ dist = "exponential", mean = "200ms" }}
            only = ["paid"]
            [[workflow.stage]]
            name = "up"
            pool = "b"
            service = {{ dist = "exponential", mean = "200ms" }}
            only = ["paid"]
            [[class]]
            name = "free"
            workflow = "w"
            priority = 1
            deferrable = true
            arrivals = {{ process = "poisson", rate = "{rate}/s" }}
            {client}
            [[population]]
            name = "users"
            signups = {{ process = "poisson", rate = "0.3/s" }}
            requests = {{ dist = "geometric", mean = 3 }}
            think = {{ dist = "exponential", mean = "2s" }}
            [[class]]
            name = "paid"
            workflow = "w"
            arrivals = {{ process = "users", population = "users" }}
            {client}
            [[class]]
            name = "plain"
            pool = "a"
            arrivals = {{ process = "poisson", rate = "0.5/s" }}
            service = {{ dist = "exponential", mean = "500ms" }}
        "#, join = if first { "first" } else { "all" }, rate = load * f64::from(gpus) * 0.6);
        let mut s = scenario(&text);
        s.drain = drain_s.map(surge::engine::SimDuration::from_secs);
        let r = surge::simulate(&s, 0).unwrap();
        for c in r.classes.iter().chain(std::iter::once(&r.all)) {
            proptest::prop_assert_eq!(c.arrivals, c.completed + c.rejected + c.abandoned + c.failed + c.in_system, "class {}", c.name);
            proptest::prop_assert!(c.attempts >= c.arrivals && c.attempts <= c.arrivals * u64::from(attempts));
            for st in &c.stages {
                proptest::prop_assert_eq!(
                    st.arrivals,
                    st.completed + st.rejected + st.timed_out + st.failed + st.cancelled + st.in_system,
                    "stage {} of {}", &st.name, &c.name
                );
                proptest::prop_assert!(st.attempts >= st.arrivals && st.attempts <= st.arrivals * u64::from(stage_attempts));
            }
        }
        proptest::prop_assert_eq!(r.requests, r.requests_finished + r.requests_in_system);
        if drain_s.is_none() {
            proptest::prop_assert_eq!(r.requests_in_system, 0);
            for c in &r.classes {
                proptest::prop_assert!(c.stages.iter().all(|st| st.in_system == 0));
            }
        }
        let again = surge::simulate(&s, 0).unwrap();
        proptest::prop_assert_eq!(format!("{:?}", r.classes), format!("{:?}", again.classes));
        proptest::prop_assert_eq!(r.events, again.events);
    }
}
