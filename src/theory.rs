//! Closed-form queueing results, used to validate the simulator and to seed
//! capacity searches.
//!
//! Notation: λ arrival rate, μ = 1/E\[S\] service rate per GPU, c GPUs,
//! offered load a = λ/μ (in Erlangs), utilization ρ = a/c.

/// Erlang B: probability that an arrival finds all `c` servers busy in an
/// M/M/c/c loss system with offered load `a` Erlangs. Computed with the
/// stable recursion B(0) = 1, B(k) = a·B(k−1) / (k + a·B(k−1)).
pub fn erlang_b(c: u32, a: f64) -> f64 {
    let mut b = 1.0;
    for k in 1..=c {
        b = a * b / (f64::from(k) + a * b);
    }
    b
}

/// Erlang C: probability that an arrival waits in an M/M/c queue with
/// offered load `a` < c, C = B / (1 − ρ(1 − B)) with B = Erlang B, ρ = a/c.
/// Returns 1 when a ≥ c (every arrival eventually waits).
pub fn erlang_c(c: u32, a: f64) -> f64 {
    let rho = a / f64::from(c);
    if rho >= 1.0 {
        return 1.0;
    }
    let b = erlang_b(c, a);
    b / (1.0 - rho * (1.0 - b))
}

/// Mean wait in queue of M/M/c: W_q = C(c, a) / (cμ − λ).
pub fn mmc_mean_wait(c: u32, lambda: f64, mean_service: f64) -> f64 {
    let mu = 1.0 / mean_service;
    let a = lambda / mu;
    let slack = f64::from(c) * mu - lambda;
    if slack <= 0.0 {
        return f64::INFINITY;
    }
    erlang_c(c, a) / slack
}

/// The `p`-quantile of the wait in M/M/c. The wait is 0 with probability
/// 1 − C and otherwise exponential with rate cμ − λ, so
/// P(W > t) = C·e^{−(cμ−λ)t} and the quantile is
/// max(0, ln(C / (1 − p)) / (cμ − λ)).
pub fn mmc_wait_quantile(c: u32, lambda: f64, mean_service: f64, p: f64) -> f64 {
    let mu = 1.0 / mean_service;
    let slack = f64::from(c) * mu - lambda;
    if slack <= 0.0 {
        return f64::INFINITY;
    }
    let pw = erlang_c(c, lambda / mu);
    if 1.0 - p >= pw {
        0.0
    } else {
        (pw / (1.0 - p)).ln() / slack
    }
}

/// Pollaczek–Khinchine mean wait of M/G/1:
/// W_q = λ·E\[S²\] / (2(1 − ρ)) = ρ·E\[S\]·(1 + cv²) / (2(1 − ρ)),
/// with `scv` = cv² the squared coefficient of variation of service.
pub fn mg1_mean_wait(lambda: f64, mean_service: f64, scv: f64) -> f64 {
    let rho = lambda * mean_service;
    if rho >= 1.0 {
        return f64::INFINITY;
    }
    rho * mean_service * (1.0 + scv) / (2.0 * (1.0 - rho))
}

/// Blocking probability of M/M/c/K (c servers, at most K in the system),
/// from the birth–death stationary distribution: p_n ∝ aⁿ/n! for n ≤ c and
/// p_n ∝ aᶜ/c! · ρ^{n−c} for c < n ≤ K; returns p_K.
pub fn mmck_blocking(c: u32, k: u32, a: f64) -> f64 {
    assert!(k >= c, "K must be at least c");
    let rho = a / f64::from(c);
    // Work with terms relative to the previous one for stability.
    let mut term = 1.0;
    let mut sum = 1.0;
    for n in 1..=k {
        term *= if n <= c { a / f64::from(n) } else { rho };
        sum += term;
    }
    term / sum
}

/// The least c for which M/M/c mean wait is at most `max_wait`
/// (square-root staffing gives the start; the search is exact).
pub fn mmc_min_gpus_for_mean_wait(lambda: f64, mean_service: f64, max_wait: f64) -> u32 {
    let a = lambda * mean_service;
    let mut c = (a.floor() as u32).max(1);
    while mmc_mean_wait(c, lambda, mean_service) > max_wait {
        c += 1;
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erlang_b_matches_published_tables() {
        // Standard Erlang B table values.
        assert!((erlang_b(1, 1.0) - 0.5).abs() < 1e-12);
        assert!((erlang_b(10, 5.0) - 0.018_385).abs() < 1e-5);
        assert!((erlang_b(5, 2.0) - 0.036_697).abs() < 1e-5);
    }

    #[test]
    fn erlang_c_single_server_is_rho() {
        for rho in [0.1, 0.5, 0.9] {
            assert!((erlang_c(1, rho) - rho).abs() < 1e-12);
        }
        // M/M/1: W_q = ρ/(μ − λ).
        assert!((mmc_mean_wait(1, 0.8, 1.0) - 4.0).abs() < 1e-12);
    }

    #[test]
    fn erlang_c_known_value() {
        // c = 8, a = 7.2: C ≈ 0.70153 (direct sum of the M/M/c stationary distribution).
        let c = erlang_c(8, 7.2);
        assert!((c - 0.701_533).abs() < 1e-6, "{c}");
    }

    #[test]
    fn pk_reduces_to_mm1_and_md1() {
        assert!((mg1_mean_wait(0.8, 1.0, 1.0) - 4.0).abs() < 1e-12);
        assert!((mg1_mean_wait(0.8, 1.0, 0.0) - 2.0).abs() < 1e-12);
    }

    #[test]
    fn mmck_with_no_queue_is_erlang_b() {
        assert!((mmck_blocking(5, 5, 3.0) - erlang_b(5, 3.0)).abs() < 1e-12);
    }

    #[test]
    fn wait_quantile_is_zero_below_the_atom() {
        assert_eq!(mmc_wait_quantile(8, 4.0, 1.0, 0.5), 0.0);
        let q = mmc_wait_quantile(1, 0.5, 1.0, 0.95);
        // P(W > t) = 0.5 e^{-0.5 t} = 0.05 → t = 2 ln 10.
        assert!((q - 2.0 * 10f64.ln()).abs() < 1e-12);
    }
}
