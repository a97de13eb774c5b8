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

/// Mean waits per class under non-preemptive priority in M/M/c with the
/// same exponential service (mean `mean_service`) for every class, classes
/// listed from most to least urgent (Cobham 1954; Gross & Harris,
/// *Fundamentals of Queueing Theory*, §3.4):
///
/// W_k = C(c, a) / (cμ) / ((1 − σ_{k−1})(1 − σ_k)),  σ_k = Σ_{i≤k} λ_i / (cμ).
pub fn priority_mmc_waits(c: u32, lambdas: &[f64], mean_service: f64) -> Vec<f64> {
    let mu = 1.0 / mean_service;
    let cmu = f64::from(c) * mu;
    let a: f64 = lambdas.iter().sum::<f64>() / mu;
    let w0 = erlang_c(c, a) / cmu;
    let mut sigma = 0.0;
    lambdas
        .iter()
        .map(|l| {
            let before = sigma;
            sigma += l / cmu;
            w0 / ((1.0 - before) * (1.0 - sigma))
        })
        .collect()
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

/// Erlang-A (M/M/c+M): Poisson arrivals λ, c servers of rate μ, and
/// exponential patience of rate θ for waiting customers (Palm 1943; Garnett,
/// Mandelbaum & Reiman 2002). Returns (P(abandon), E\[wait | served\]).
///
/// Computed from the birth–death chain truncated where the tail mass is
/// negligible: p_n ∝ Π λ / (min(k, c)μ + max(k − c, 0)θ). By PASTA an
/// arrival sees n with probability p_n. An arrival that finds n ≥ c has
/// k = n − c customers ahead; while k are ahead, the head of the line moves
/// at rate cμ + kθ and the customer abandons at rate θ, so with
/// r_k = cμ + (k + 1)θ:
///
/// ```text
/// S_0 = cμ / r_0,            S_k = (cμ + kθ)/r_k · S_{k−1}     (P(served))
/// T_0 = S_0 / r_0,           T_k = S_k / r_k + (cμ + kθ)/r_k · T_{k−1}
/// ```
///
/// where T_k = E\[W · 1{served}\]. Then P(abandon) = Σ_{n≥c} p_n (1 − S_{n−c})
/// and E\[W | served\] = Σ_{n≥c} p_n T_{n−c} / P(served).
pub fn erlang_a(c: u32, lambda: f64, mu: f64, theta: f64) -> (f64, f64) {
    let cf = f64::from(c);
    // Unnormalised p_n, in log space for stability.
    let mut log_p = vec![0.0f64];
    let mut n = 0u32;
    loop {
        n += 1;
        let death = f64::from(n.min(c)) * mu + f64::from(n.saturating_sub(c)) * theta;
        let next = log_p[log_p.len() - 1] + lambda.ln() - death.ln();
        log_p.push(next);
        let max = log_p.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if n > c && next < max - 50.0 {
            break;
        }
        if n > 1_000_000 {
            break;
        }
    }
    let max = log_p.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let weights: Vec<f64> = log_p.iter().map(|l| (l - max).exp()).collect();
    let total: f64 = weights.iter().sum();
    let (mut p_abandon, mut served_wait, mut p_served) = (0.0, 0.0, 0.0);
    let (mut s_prev, mut t_prev) = (0.0, 0.0);
    for (n, w) in weights.iter().enumerate() {
        let p = w / total;
        if (n as u32) < c {
            p_served += p;
            continue;
        }
        let k = (n as u32 - c) as f64;
        let ahead = cf * mu + k * theta;
        let r = ahead + theta;
        let (s, t) = if k == 0.0 {
            let s = cf * mu / r;
            (s, s / r)
        } else {
            let s = ahead / r * s_prev;
            (s, s / r + ahead / r * t_prev)
        };
        s_prev = s;
        t_prev = t;
        p_abandon += p * (1.0 - s);
        p_served += p * s;
        served_wait += p * t;
    }
    (p_abandon, served_wait / p_served)
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

/// Mean number in system of a processor-sharing server whose total
/// service rate with n jobs present is n / (a + b·n) work units per unit
/// of time (each job served at 1 / (a + b·n)): an LLM replica whose step
/// takes a + b·n and gives each of its n sequences one token, with
/// `rho_b` = λ·b·E\[L\] < 1. The number in system is negative binomial
/// with r = 1 + a/b and success ρ_b (a symmetric queue, insensitive to the
/// length distribution): E\[N\] = (1 + a/b)·ρ_b / (1 − ρ_b); a = 0 is
/// M/G/1-PS, ρ/(1 − ρ).
pub fn gps_mean_number(a: f64, b: f64, rho_b: f64) -> f64 {
    assert!(rho_b < 1.0 && b > 0.0 && a >= 0.0);
    (1.0 + a / b) * rho_b / (1.0 - rho_b)
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
    fn erlang_a_tends_to_erlang_c_without_abandonment() {
        // With very patient customers (θ → 0) nobody abandons and the
        // served wait is the Erlang C mean wait.
        let (pa, w) = erlang_a(8, 6.0, 1.0, 1e-9);
        assert!(pa < 1e-6, "{pa}");
        assert!((w - mmc_mean_wait(8, 6.0, 1.0)).abs() < 1e-6, "{w}");
    }

    #[test]
    fn erlang_a_balances_abandonment_flow() {
        // Flow balance: λ·P(abandon) = θ·E[queue length].
        let (c, lambda, mu, theta) = (4u32, 5.0, 1.0, 0.5);
        let (pa, _) = erlang_a(c, lambda, mu, theta);
        // Recompute E[queue] from the same chain.
        let mut w = vec![1.0f64];
        for n in 1..400u32 {
            let death = f64::from(n.min(c)) * mu + f64::from(n.saturating_sub(c)) * theta;
            w.push(w[w.len() - 1] * lambda / death);
        }
        let total: f64 = w.iter().sum();
        let lq: f64 = w
            .iter()
            .enumerate()
            .map(|(n, p)| p / total * (n as f64 - f64::from(c)).max(0.0))
            .sum();
        assert!(
            (lambda * pa - theta * lq).abs() < 1e-9,
            "{} vs {}",
            lambda * pa,
            theta * lq
        );
    }

    #[test]
    fn priority_waits_conserve_work() {
        // Kleinrock's conservation law: with equal service times the
        // λ-weighted mean of the class waits equals the FIFO mean wait.
        let lambdas = [2.0, 3.0, 1.5];
        let w = priority_mmc_waits(8, &lambdas, 1.0);
        let total: f64 = lambdas.iter().sum();
        let mixed: f64 = lambdas.iter().zip(&w).map(|(l, w)| l * w).sum::<f64>() / total;
        assert!((mixed - mmc_mean_wait(8, total, 1.0)).abs() < 1e-12);
        assert!(w[0] < w[1] && w[1] < w[2]);
    }

    #[test]
    fn wait_quantile_is_zero_below_the_atom() {
        assert_eq!(mmc_wait_quantile(8, 4.0, 1.0, 0.5), 0.0);
        let q = mmc_wait_quantile(1, 0.5, 1.0, 0.95);
        // P(W > t) = 0.5 e^{-0.5 t} = 0.05 → t = 2 ln 10.
        assert!((q - 2.0 * 10f64.ln()).abs() < 1e-12);
    }
}
