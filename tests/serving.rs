//! Serving pools (LLM replicas at token level) against queueing theory and
//! conservation laws.
//!
//! With one-token prompts prefilled at the cost of a decode token
//! (`per_prefill_token` = `per_decode_seq` = b), every step of a replica
//! costs a + b·n for its n tokens, so a replica is a processor-sharing
//! server in token work: each running sequence gets one token per step.
//! Steps are discrete (a request joins at the next step boundary), which
//! the closed forms ignore; the tests keep steps short against a request's
//! work (E[L] ≥ 100 tokens) so that the difference stays inside a stated
//! slack.

mod common;

use common::{assert_matches, run_all};
use surge::engine::SimDuration;
use surge::model::{
    DurationDist, Router, RouterKind, RunResult, Scenario, Scope, ServingSpec, StepModel, StepTime,
    TokenDist, TokenSpec, VerdictKind,
};
use surge::theory;

/// One serving pool of `replicas` one-GPU replicas, one class per output
/// length distribution (each at `lambda`/s), one-token prompts, sized to
/// about `customers` arrivals per replication in all.
#[allow(clippy::too_many_arguments)]
fn serving_scenario(
    replicas: u32,
    a: f64,
    b: f64,
    max_num_seqs: u32,
    outputs: &[TokenDist],
    lambda: f64,
    customers: f64,
    replications: u32,
    seed: u64,
) -> Scenario {
    let total = lambda * outputs.len() as f64;
    let duration = SimDuration::from_secs_f64(customers / total);
    let mut s = Scenario::single_queue(
        replicas,
        lambda,
        DurationDist::deterministic(b * 100.0).unwrap(),
        duration,
    );
    s.warmup = SimDuration::from_secs_f64(duration.as_secs_f64() * 0.05);
    s.seed = seed;
    s.replications = replications;
    s.pools[0].serving = Some(ServingSpec {
        gpus_per_replica: 1,
        max_num_seqs,
        max_num_batched_tokens: max_num_seqs.max(2048),
        kv_blocks: 1 << 30,
        max_model_len: 1 << 30,
        step: StepTime::fitted(StepModel {
            base_s: a,
            prefill_base_s: 0.0,
            per_prefill_token_s: b,
            per_decode_seq_s: b,
            per_context_token_s: 0.0,
        }),
        router: Router::Central,
        chunked_prefill: true,
    });
    let template = s.classes[0].clone();
    s.classes = outputs
        .iter()
        .enumerate()
        .map(|(i, out)| {
            let mut c = template.clone();
            c.name = format!("L{i}");
            c.tokens = Some(TokenSpec::independent(
                TokenDist::Rounded(DurationDist::deterministic(1.0).unwrap()),
                out.clone(),
            ));
            c
        })
        .collect();
    s
}

fn deterministic(l: u32) -> TokenDist {
    TokenDist::Rounded(DurationDist::deterministic(f64::from(l)).unwrap())
}

/// Mean number in the system of all classes, by Little's law: Σ λ_k·E[T_k].
fn number_in_system(r: &RunResult, lambda: f64) -> f64 {
    r.classes
        .iter()
        .map(|c| lambda * c.latency.mean_s().unwrap())
        .sum()
}

#[test]
fn decode_cost_per_sequence_is_processor_sharing_in_token_work() {
    // Step time b·n: M/G/1-PS. E[T | L] = L·b / (1 − ρ) for every length
    // L, ρ = λ·b·E[L]; here three lengths in equal shares.
    let b = 0.002;
    let lengths = [50u32, 200, 800];
    let mean_l = lengths.iter().map(|&l| f64::from(l)).sum::<f64>() / 3.0;
    let rho = 0.7;
    let lambda = rho / (b * mean_l) / 3.0;
    let outputs: Vec<TokenDist> = lengths.iter().map(|&l| deterministic(l)).collect();
    let s = serving_scenario(1, 0.0, b, 100_000, &outputs, lambda, 60_000.0, 10, 11);
    let runs = run_all(&s);
    for (i, &l) in lengths.iter().enumerate() {
        let want = f64::from(l) * b / (1.0 - rho);
        // A request joins at the next step boundary: on average about one
        // step of b·E[n] = b·ρ/(1 − ρ) late, and its tokens come in
        // whole steps; 1.5 steps of slack covers both.
        let slack = 1.5 * b * rho / (1.0 - rho) + b;
        assert_matches(
            &format!("PS: E[latency | L = {l}]"),
            &runs,
            want,
            slack,
            0.05,
            |r| r.classes[i].latency.mean_s().unwrap(),
        );
        // TPOT (latency − TTFT) / (L − 1) → b / (1 − ρ).
        assert_matches(
            &format!("PS: E[TPOT | L = {l}]"),
            &runs,
            b / (1.0 - rho),
            (slack + b) / f64::from(l - 1),
            0.05,
            |r| r.classes[i].tpot.as_ref().unwrap().mean_s().unwrap(),
        );
    }
    assert_matches(
        "PS: E[N] = ρ/(1 − ρ)",
        &runs,
        theory::gps_mean_number(0.0, b, rho),
        0.03,
        0.05,
        |r| number_in_system(r, lambda),
    );
}

#[test]
fn a_fixed_step_cost_makes_a_generalised_processor_sharing_queue() {
    // Step time a + b·n: E[N] = (1 + a/b)·ρ_b / (1 − ρ_b) and TPOT
    // (a + b) / (1 − ρ_b), ρ_b = λ·b·E[L], for any length distribution.
    let (a, b) = (0.008, 0.002);
    let rho_b = 0.6;
    let mean_l = 100.0;
    let lambda = rho_b / (b * mean_l);
    let outputs = [TokenDist::Geometric(mean_l)];
    let s = serving_scenario(1, a, b, 100_000, &outputs, lambda, 60_000.0, 10, 12);
    let runs = run_all(&s);
    let en = theory::gps_mean_number(a, b, rho_b);
    // Discrete steps: a request waits for the step under way (mean about
    // (a + b·E[n]) / 2 · (1 + cv²)), which adds λ × that to E[N].
    let step = a + b * en;
    assert_matches(
        "GPS: E[N] = (1 + a/b)·ρ_b/(1 − ρ_b)",
        &runs,
        en,
        lambda * step,
        0.05,
        |r| number_in_system(r, lambda),
    );
    // Every request's latency over its tokens: E[T] / E[L] = (a + b) / (1 − ρ_b).
    assert_matches(
        "GPS: E[T] / E[L] = (a + b)/(1 − ρ_b)",
        &runs,
        (a + b) / (1.0 - rho_b),
        step / mean_l,
        0.05,
        |r| r.classes[0].latency.mean_s().unwrap() / mean_l,
    );
}

#[test]
fn one_sequence_at_a_time_is_exactly_an_m_g_1_queue() {
    // max_num_seqs = 1, step b: a request's service is b × L tokens, L
    // geometric (E[S] = b/p, E[S²] = b²(2 − p)/p²): Pollaczek–Khinchine.
    let b = 0.002;
    let mean_l = 100.0;
    let p = 1.0 / mean_l;
    let rho = 0.7;
    let lambda = rho / (b * mean_l);
    let s = serving_scenario(
        1,
        0.0,
        b,
        1,
        &[TokenDist::Geometric(mean_l)],
        lambda,
        200_000.0,
        10,
        13,
    );
    let runs = run_all(&s);
    let scv = (2.0 - p) / p / p / (mean_l * mean_l) - 1.0;
    let wq = theory::mg1_mean_wait(lambda, b * mean_l, scv);
    assert_matches(
        "max_num_seqs 1: mean wait (P-K)",
        &runs,
        wq,
        1e-4,
        0.05,
        |r| r.classes[0].wait.mean_s().unwrap(),
    );
}

#[test]
fn a_batch_cap_with_geometric_lengths_keeps_the_m_m_1_number_in_system() {
    // Step b·n, at most c running: the replica still serves 1/b tokens
    // per second while it has work, and a geometric length completes a
    // job with probability p at each token, so the number in system is
    // M/M/1's (μ = 1/(b·E[L])), whatever c.
    let b = 0.002;
    let mean_l = 100.0;
    let rho = 0.7;
    let lambda = rho / (b * mean_l);
    for c in [4, 32] {
        let s = serving_scenario(
            1,
            0.0,
            b,
            c,
            &[TokenDist::Geometric(mean_l)],
            lambda,
            60_000.0,
            10,
            14,
        );
        let runs = run_all(&s);
        // Service in whole tokens (cv² = 1 − p, not 1) and joining at step
        // boundaries move E[N] by well under 3%.
        assert_matches(
            &format!("cap {c}: E[N] = ρ/(1 − ρ)"),
            &runs,
            rho / (1.0 - rho),
            0.03 * rho / (1.0 - rho),
            0.05,
            |r| number_in_system(r, lambda),
        );
    }
}

#[test]
fn every_token_is_generated_once_and_the_kv_cache_is_never_overfull() {
    // A KV cache of 64 blocks (1,024 tokens) for sequences of up to 600
    // tokens: preemptions, and yet each completed request's 500 output
    // tokens are generated exactly once (recomputation prefills, it does
    // not generate again).
    let mut s = serving_scenario(
        2,
        0.004,
        0.001,
        64,
        &[deterministic(500)],
        1.5,
        3_000.0,
        1,
        15,
    );
    s.warmup = SimDuration::ZERO;
    let sv = s.pools[0].serving.as_mut().unwrap();
    sv.kv_blocks = 64;
    sv.max_model_len = 1024;
    *s.classes[0].tokens.as_mut().unwrap() = TokenSpec::independent(
        TokenDist::Rounded(DurationDist::uniform(1.0, 200.0).unwrap()),
        deterministic(500),
    );
    let runs = run_all(&s);
    let r = &runs[0];
    let sr = r.pools[0].serving.as_ref().unwrap();
    assert!(sr.preemptions > 0, "the cache is small enough to preempt");
    assert_eq!(r.classes[0].in_system, 0);
    assert_eq!(r.classes[0].completed, r.classes[0].arrivals);
    assert_eq!(sr.output_tokens, 500 * r.classes[0].completed);
    // The time series adds up to the run: every token in one bucket, and
    // every first token of the class.
    let pool_rows = r
        .serving_series
        .iter()
        .filter(|b| b.scope == Scope::Pool(0));
    let tokens: u64 = pool_rows.map(|b| b.output_tokens.unwrap()).sum();
    assert_eq!(tokens, sr.output_tokens);
    let firsts: u64 = r
        .serving_series
        .iter()
        .filter(|b| b.scope == Scope::Class(0))
        .map(|b| b.first_tokens.unwrap())
        .sum();
    assert_eq!(firsts, r.classes[0].completed);
    assert!(
        r.serving_series
            .iter()
            .all(|b| b.kv_utilization_max.is_none_or(|k| k <= 1.0))
    );
    assert!(sr.kv_utilization_max <= 1.0, "{}", sr.kv_utilization_max);
    assert!(sr.prefill_tokens > 0);
}

#[test]
fn running_batch_obeys_littles_law() {
    // Time-average running sequences = λ × mean time running (admission
    // to last token), over the window.
    let (a, b) = (0.005, 0.001);
    let lambda = 4.0;
    let s = serving_scenario(
        2,
        a,
        b,
        16,
        &[TokenDist::Geometric(100.0)],
        lambda,
        40_000.0,
        4,
        16,
    );
    let runs = run_all(&s);
    assert_matches(
        "Little: running = λ·(latency − wait)",
        &runs,
        0.0,
        0.02,
        0.05,
        |r| {
            let c = &r.classes[0];
            let in_service = c.latency.mean_s().unwrap() - c.wait.mean_s().unwrap();
            let sr = r.pools[0].serving.as_ref().unwrap();
            let running = sr.running_mean * sr.replicas_mean;
            (running - lambda * in_service) / running
        },
    );
}

/// Route `s`'s serving pool with `kind` (fresh loads).
fn routed(mut s: Scenario, kind: RouterKind, refresh: Option<SimDuration>) -> Scenario {
    s.pools[0].serving.as_mut().unwrap().router = Router::Routed { kind, refresh };
    s
}

#[test]
fn random_routing_makes_independent_processor_sharing_queues() {
    // Four PS replicas (step b·n), each request sent to one at random:
    // each replica is an M/G/1-PS queue at λ/4, so E[T | L] = L·b/(1 − ρ)
    // with ρ the per-replica load, as for one replica alone.
    let b = 0.002;
    let lengths = [50u32, 200, 800];
    let mean_l = lengths.iter().map(|&l| f64::from(l)).sum::<f64>() / 3.0;
    let rho = 0.7;
    let lambda = 4.0 * rho / (b * mean_l) / 3.0;
    let outputs: Vec<TokenDist> = lengths.iter().map(|&l| deterministic(l)).collect();
    let s = serving_scenario(4, 0.0, b, 100_000, &outputs, lambda, 240_000.0, 10, 21);
    let runs = run_all(&routed(s, RouterKind::Random, None));
    for (i, &l) in lengths.iter().enumerate() {
        let want = f64::from(l) * b / (1.0 - rho);
        let slack = 1.5 * b * rho / (1.0 - rho) + b;
        assert_matches(
            &format!("random routing, PS: E[latency | L = {l}]"),
            &runs,
            want,
            slack,
            0.05,
            |r| r.classes[i].latency.mean_s().unwrap(),
        );
    }
}

/// Fifty replicas that each serve one sequence at a time for b × L
/// (L geometric of mean 100: nearly exponential, cv² = 0.99), at load ρ.
fn fifty_m_m_1(rho: f64, seed: u64) -> (Scenario, f64, f64) {
    let (b, mean_l, n) = (0.002, 100.0, 50.0);
    let mu = 1.0 / (b * mean_l);
    let lambda = n * rho * mu;
    let s = serving_scenario(
        50,
        0.0,
        b,
        1,
        &[TokenDist::Geometric(mean_l)],
        lambda,
        400_000.0,
        10,
        seed,
    );
    (s, lambda, mu)
}

#[test]
fn random_routing_to_fifty_replicas_is_fifty_m_g_1_queues() {
    let rho = 0.8;
    let (s, lambda, mu) = fifty_m_m_1(rho, 22);
    let runs = run_all(&routed(s, RouterKind::Random, None));
    // Each replica: M/G/1 at λ/50 with S = b·L, E[S²] = b²(2 − p)/p².
    let p = 0.01;
    let scv = (2.0 - p) / p / p / 10_000.0 - 1.0;
    let wq = theory::mg1_mean_wait(lambda / 50.0, 1.0 / mu, scv);
    assert_matches(
        "random routing: E[wait] (P-K)",
        &runs,
        wq,
        1e-3,
        0.05,
        |r| r.classes[0].wait.mean_s().unwrap(),
    );
}

#[test]
fn power_of_two_routing_meets_the_mean_field_sojourn() {
    // Mitzenmacher's mean-field limit for the power of two choices with
    // exponential service: E[T] = (1/μ)·Σ_{i≥1} ρ^(2^i − 2). Fifty
    // replicas are close to the limit; the random router's M/M/1 sojourn
    // 1/(μ(1 − ρ)) is four times as long at ρ = 0.9.
    let rho = 0.9;
    let (s, _, mu) = fifty_m_m_1(rho, 23);
    let runs = run_all(&routed(s, RouterKind::PowerOfTwo, None));
    let want: f64 = (1..12).map(|i| rho.powi((1 << i) - 2)).sum::<f64>() / mu;
    // Slack: 50 replicas are not infinitely many, and service comes in
    // whole steps (cv² 0.99, not 1).
    assert_matches(
        "power of two: E[T] (mean field)",
        &runs,
        want,
        0.04 * want,
        0.05,
        |r| r.classes[0].latency.mean_s().unwrap(),
    );
}

#[test]
fn stale_loads_make_a_least_loaded_router_herd() {
    // With loads a second old, every arrival in that second goes to the
    // replica that looked least loaded: far longer waits than with loads
    // seen now, and than random routing.
    let rho = 0.8;
    let wait = |kind, refresh| {
        let (mut s, _, _) = fifty_m_m_1(rho, 24);
        s.replications = 2;
        s.duration = SimDuration::from_secs(2_000);
        s.warmup = SimDuration::from_secs(100);
        let runs = run_all(&routed(s, kind, refresh));
        runs.iter()
            .map(|r| r.classes[0].wait.mean_s().unwrap())
            .sum::<f64>()
            / 2.0
    };
    let fresh = wait(RouterKind::LeastOutstanding, None);
    let stale = wait(
        RouterKind::LeastOutstanding,
        Some(SimDuration::from_secs(1)),
    );
    let random = wait(RouterKind::Random, None);
    assert!(fresh < 0.5 * random, "JSQ {fresh} vs random {random}");
    assert!(stale > 2.0 * random, "stale JSQ {stale} vs random {random}");
}

#[test]
fn every_routed_request_is_accounted_for_when_users_give_up_and_replicas_go() {
    // Routed queues with patience, and half the replicas removed halfway:
    // their queues go to the router again; every arrival completes or is
    // abandoned, none is left behind.
    for kind in RouterKind::ALL {
        let (mut s, _, _) = fifty_m_m_1(0.95, 25);
        s.replications = 1;
        s.duration = SimDuration::from_secs(600);
        s.warmup = SimDuration::ZERO;
        s.classes[0].patience = Some(DurationDist::exponential(2.0).unwrap());
        s.pools[0].capacity = vec![surge::model::CapacityStep {
            at: SimDuration::from_secs(300),
            change: surge::model::CapacityChange::Set(25),
        }];
        let r = &run_all(&routed(s, kind, None))[0];
        let c = &r.classes[0];
        assert!(c.abandoned > 0, "{kind:?}: patience runs out at ρ = 1.9");
        assert_eq!(c.in_system, 0, "{kind:?}");
        assert_eq!(c.completed + c.abandoned, c.arrivals, "{kind:?}");
    }
}

#[test]
fn prefill_first_stalls_decodes_where_chunked_prefill_mixes_them() {
    // The same replicas and step times, two schedulers: unmixed steps
    // (prompts whole and first, decodes waiting) make every token slower
    // and fill the batch sooner than chunked prefill mixed into decodes.
    let run = |chunked: bool| {
        let mut s = serving_scenario(
            2,
            0.01,
            0.0002,
            256,
            &[TokenDist::Geometric(200.0)],
            12.0,
            40_000.0,
            3,
            31,
        );
        let sv = s.pools[0].serving.as_mut().unwrap();
        sv.chunked_prefill = chunked;
        sv.max_num_batched_tokens = 4096;
        sv.max_model_len = 4096;
        sv.step = StepTime::fitted(StepModel {
            base_s: 0.01,
            prefill_base_s: 0.0,
            per_prefill_token_s: 2e-5,
            per_decode_seq_s: 2e-4,
            per_context_token_s: 0.0,
        });
        *s.classes[0].tokens.as_mut().unwrap() = TokenSpec::independent(
            TokenDist::Rounded(DurationDist::lognormal(800.0, 1.0).unwrap()),
            TokenDist::Geometric(200.0),
        );
        run_all(&s)
    };
    let mean = |runs: &[RunResult], f: &dyn Fn(&RunResult) -> f64| {
        runs.iter().map(f).sum::<f64>() / runs.len() as f64
    };
    let (mixed, unmixed) = (run(true), run(false));
    let tpot = |r: &RunResult| r.classes[0].tpot.as_ref().unwrap().mean_s().unwrap();
    let running = |r: &RunResult| r.pools[0].serving.as_ref().unwrap().running_mean;
    let (t_mixed, t_unmixed) = (mean(&mixed, &tpot), mean(&unmixed, &tpot));
    // Each arrival costs an unmixed replica a step of its own (base 10 ms
    // at 6 arrivals/s per replica: 6% more time, and the decodes wait
    // through the prompt's 16 ms too), so tokens come a few percent slower.
    assert!(
        t_unmixed > 1.03 * t_mixed,
        "TPOT unmixed {t_unmixed} vs mixed {t_mixed}"
    );
    assert!(mean(&unmixed, &running) > mean(&mixed, &running));
    for r in mixed.iter().chain(&unmixed) {
        let c = &r.classes[0];
        assert_eq!(c.completed + c.in_system, c.arrivals);
    }
}

#[test]
fn patience_runs_until_the_first_token_as_in_erlang_a() {
    // One sequence at a time, S = b·L (L geometric, nearly exponential),
    // exponential patience that runs until the first token: M/M/1+M,
    // except that a user can also leave during the first step (b), so
    // P(abandon) is Erlang A's plus at most θ·b.
    let (b, mean_l, theta) = (0.002, 100.0, 2.0);
    let mu = 1.0 / (b * mean_l);
    let lambda = 1.1 * mu;
    let mut s = serving_scenario(
        1,
        0.0,
        b,
        1,
        &[TokenDist::Geometric(mean_l)],
        lambda,
        200_000.0,
        10,
        32,
    );
    s.classes[0].patience = Some(DurationDist::exponential(1.0 / theta).unwrap());
    let runs = run_all(&s);
    let (p_abandon, _) = theory::erlang_a(1, lambda, mu, theta);
    assert_matches(
        "first-token patience: P(abandon) (Erlang A)",
        &runs,
        p_abandon + theta * b / 2.0,
        theta * b / 2.0,
        0.05,
        abandoned_share,
    );
    assert_accounted(&runs);
}

/// The share of class 0's arrivals abandoned.
fn abandoned_share(r: &RunResult) -> f64 {
    let c = &r.classes[0];
    c.abandoned as f64 / c.arrivals as f64
}

/// Every arrival of class 0 completed, was abandoned, or is in the system.
fn assert_accounted(runs: &[RunResult]) {
    for r in runs {
        let c = &r.classes[0];
        assert_eq!(c.completed + c.abandoned + c.in_system, c.arrivals);
    }
}

#[test]
fn a_user_who_sees_no_first_token_leaves_during_the_prefill() {
    // A lone request on an idle replica gets its first token when its
    // prefill step ends, T = 250 tokens × 2 ms = 0.5 s after it arrives:
    // with exponential patience (rate θ = 1/s) that runs until the first
    // token, P(abandon) = 1 − e^(−θT). Arrivals are rare enough (ρ ≈
    // 0.005) that one finds the replica busy at most that often.
    let b = 0.002;
    let mut s = serving_scenario(1, 0.0, b, 1, &[deterministic(2)], 0.01, 100_000.0, 10, 33);
    s.warmup = SimDuration::ZERO;
    *s.classes[0].tokens.as_mut().unwrap() =
        TokenSpec::independent(deterministic(250), deterministic(2));
    s.classes[0].patience = Some(DurationDist::exponential(1.0).unwrap());
    let runs = run_all(&s);
    let want = 1.0 - (-0.5f64).exp();
    assert_matches(
        "P(abandon) before the first token",
        &runs,
        want,
        0.005,
        0.05,
        abandoned_share,
    );
    // Nobody who left got a token: the tokens generated are exactly the
    // completed requests' outputs.
    assert_accounted(&runs);
    for r in &runs {
        let c = &r.classes[0];
        assert_eq!(
            r.pools[0].serving.as_ref().unwrap().output_tokens,
            2 * c.completed
        );
    }
}

#[test]
fn a_failed_gpu_takes_its_whole_replica_out_of_service() {
    // 16 GPUs in replicas of 4; each GPU fails after an exponential
    // MTBF of 1 h and is repaired in 10 min, independently: in steady
    // state the failed GPUs F are binomial(16, 1/7), and the replicas in
    // service are ⌊(16 − F)/4⌋ (one failed GPU takes a whole replica).
    let mut s = serving_scenario(
        4,
        0.0,
        0.001,
        64,
        &[TokenDist::Geometric(50.0)],
        1.0,
        3.0e5,
        10,
        34,
    );
    let sv = s.pools[0].serving.as_mut().unwrap();
    sv.gpus_per_replica = 4;
    s.pools[0].gpus = 16;
    s.pools[0].failures = Some(surge::model::FailureSpec {
        mtbf: SimDuration::from_secs(3600),
        mttr: DurationDist::deterministic(600.0).unwrap(),
    });
    s.classes[0].retry = Some(surge::model::RetrySpec {
        max_attempts: 3,
        base_s: 1.0,
        factor: 1.0,
        max_s: 1.0,
        jitter: 0.0,
    });
    let runs = run_all(&s);
    let q: f64 = 1.0 / 7.0;
    let binom = |f: u32| {
        let c = (0..f).fold(1.0, |acc, i| acc * f64::from(16 - i) / f64::from(i + 1));
        c * q.powi(f as i32) * (1.0 - q).powi(16 - f as i32)
    };
    let want: f64 = (0..=16).map(|f| binom(f) * f64::from((16 - f) / 4)).sum();
    assert_matches(
        "replicas in service under failures",
        &runs,
        want,
        0.0,
        0.05,
        |r| r.pools[0].serving.as_ref().unwrap().replicas_mean,
    );
    // The sequences of a failed replica fail as attempts: retried, and
    // every request accounted for.
    for r in &runs {
        let c = &r.classes[0];
        assert!(c.attempts > c.arrivals, "failures retried");
        assert_eq!(
            c.completed + c.failed + c.abandoned + c.in_system,
            c.arrivals
        );
    }
}

#[test]
fn ttft_and_tpot_targets_count_the_requests_that_met_them() {
    // Targets do not change what runs: with the same seed, the share of
    // arrivals that met a TTFT (or TPOT) target is the share of the run's
    // first tokens (or output tokens) within it, and goodput is the rate
    // of those completions.
    let base = serving_scenario(
        2,
        0.005,
        0.0005,
        64,
        &[TokenDist::Geometric(100.0)],
        20.0,
        30_000.0,
        1,
        41,
    );
    let untargeted = &run_all(&base)[0].classes[0];
    assert_eq!(untargeted.slo_attainment, None, "no target, no attainment");
    let (ttft, tpot) = (
        untargeted.ttft.as_ref().unwrap(),
        untargeted.tpot.as_ref().unwrap(),
    );
    let ttft_bound = SimDuration::from_secs_f64(ttft.quantile_s(0.9).unwrap());
    let tpot_bound = SimDuration::from_secs_f64(tpot.quantile_s(0.5).unwrap());
    let completed_share = untargeted.completed as f64 / untargeted.arrivals as f64;
    let run = |ttft_target, tpot_target| {
        let mut s = base.clone();
        s.classes[0].ttft_target = ttft_target;
        s.classes[0].tpot_target = tpot_target;
        run_all(&s).remove(0).classes.remove(0)
    };
    let by_ttft = run(Some(ttft_bound), None);
    assert_eq!(by_ttft.completed, untargeted.completed);
    let want = ttft.fraction_at_most(ttft_bound).unwrap() * completed_share;
    let got = by_ttft.slo_attainment.unwrap();
    assert!((got - want).abs() < 0.01, "TTFT: {got} vs {want}");
    let by_tpot = run(None, Some(tpot_bound));
    // Requests of one output token have no TPOT and meet the bound.
    let one_token = untargeted.completed - tpot.count();
    let want = (tpot.fraction_at_most(tpot_bound).unwrap() * tpot.count() as f64
        + one_token as f64)
        / untargeted.arrivals as f64;
    let got = by_tpot.slo_attainment.unwrap();
    assert!((got - want).abs() < 0.01, "TPOT: {got} vs {want}");
    // Both: no more than either, no less than both together allow.
    let both = run(Some(ttft_bound), Some(tpot_bound));
    let a = both.slo_attainment.unwrap();
    let (x, y) = (
        by_ttft.slo_attainment.unwrap(),
        by_tpot.slo_attainment.unwrap(),
    );
    assert!(
        a <= x.min(y) && a >= x + y - completed_share,
        "{a} from {x} and {y}"
    );
    let goodput = both.goodput_per_s.unwrap();
    let throughput = both.throughput_per_s;
    assert!(
        (goodput / throughput - a / completed_share).abs() < 0.03,
        "goodput {goodput}/s of {throughput}/s against a share {a}"
    );
    assert!(
        (untargeted.goodput_per_s.unwrap() - throughput).abs() < 1e-9,
        "without targets every completion counts"
    );
}

#[test]
fn a_kv_bound_below_the_compute_bound_sets_the_verdict() {
    // Steps of a + b·n (prefill b per token), 150-token prompts and
    // 50-token outputs; 256 sequences allowed, but a KV cache of 6,400
    // tokens holds about M / (prompt + output/2) = 37 of them: the pool's
    // capacity is that batch's, λ* = 1 / work with work = 150·b + 50·(a +
    // b·n)/n, where compute alone (256 sequences) would carry more. The
    // verdict follows the KV bound, and so does the run: stable below λ*,
    // overloaded above it with a throughput of λ*.
    let (a, b, kv_tokens) = (0.01, 0.0001, 6_400.0);
    let n = kv_tokens / (150.0 + 25.0);
    let lambda_star = 1.0 / (150.0 * b + 50.0 * (a + b * n) / n);
    let at = |share: f64| {
        let lambda = share * lambda_star;
        let mut s = serving_scenario(
            1,
            a,
            b,
            256,
            &[deterministic(50)],
            lambda,
            lambda * 1_800.0,
            1,
            51,
        );
        let sv = s.pools[0].serving.as_mut().unwrap();
        sv.kv_blocks = (kv_tokens / 16.0) as u64;
        sv.max_model_len = 1_024;
        *s.classes[0].tokens.as_mut().unwrap() =
            TokenSpec::independent(deterministic(150), deterministic(50));
        // The library's own service time plays no part: the load reads tokens.
        s.classes[0].service = DurationDist::deterministic(1e-6).unwrap();
        let offered = s.offered_load()[0];
        (offered, run_all(&s).remove(0))
    };
    let compute_bound = 1.0 / (150.0 * b + 50.0 * (a + b * 256.0) / 256.0);
    assert!(
        compute_bound > 1.3 * lambda_star,
        "{compute_bound} against {lambda_star}"
    );
    let (offered, below) = at(0.8);
    assert!((offered - 0.8).abs() < 0.02, "ρ = {offered} at 0.8 λ*");
    let v = below.pools[0].verdict;
    assert_eq!(v.kind, VerdictKind::Stable, "{}", v.describe());
    let sr = below.pools[0].serving.as_ref().unwrap();
    assert!(sr.kv_utilization_max <= 1.0, "{}", sr.kv_utilization_max);
    let wait = below.classes[0].wait.mean_s().unwrap();
    assert!(wait < 1.0, "a stable pool's wait: {wait} s");
    let (offered, above) = at(1.25);
    assert!((offered - 1.25).abs() < 0.02, "ρ = {offered} at 1.25 λ*");
    let v = above.pools[0].verdict;
    assert!(
        matches!(
            v.kind,
            VerdictKind::Overloaded | VerdictKind::TransientOverload
        ) && v.peak_load > 1.2,
        "{}",
        v.describe()
    );
    let sr = above.pools[0].serving.as_ref().unwrap();
    assert!(sr.kv_utilization_max <= 1.0);
    // Overloaded, the replica runs full: it completes what its busy time
    // buys at the batch it held, less what recomputing preempted
    // sequences costs (their prompts and generated tokens prefilled
    // again).
    let throughput = above.classes[0].throughput_per_s;
    let recompute = (sr.prefill_tokens_per_s / throughput - 150.0) * b;
    let batch = sr.running_mean;
    let bought = 1.0 / (150.0 * b + 50.0 * (a + b * batch) / batch + recompute);
    assert!(
        (throughput / bought - 1.0).abs() < 0.02,
        "overloaded, {throughput}/s against {bought}/s (batch {batch}, recompute {recompute} s per request)"
    );
    // The cache's batch is the verdict's less block rounding; preemptions
    // cost some 10% more: λ* holds within 15%.
    assert!(batch < n && batch > 0.9 * n, "batch {batch} against {n}");
    assert!(
        (throughput / lambda_star - 1.0).abs() < 0.15 && sr.preemptions > 0,
        "{throughput}/s against λ* = {lambda_star}/s ({} preemptions)",
        sr.preemptions
    );
}
