//! How a plan chooses its probes.
//!
//! **One path** ([`line`]): from a start (the scenario's own value of a
//! pool's GPUs, else `--min`), expand toward the meeting side — to the
//! geometric mean of the failing value and the GPUs the run's busiest
//! window would have needed, or by doubling — until a probe meets; toward
//! the missing side by halving until one misses. Then shrink the bracket
//! [greatest miss, least meet] by regula falsi on the means' excess over
//! their bounds on a log scale (the Illinois variant, so a flat end cannot
//! stall it; bisection where a metric has no value, or after two steps
//! that did not halve the bracket), never closer than an eighth of the
//! bracket to either end, until it is no wider than the resolution.
//!
//! **Several paths** ([`least_cost`]): see its documentation.

use super::Resolution;
use super::probe::Prober;
use crate::app::AppError;

/// A one-path search: vary `dim` of `at`, judge on the SLOs `active`.
#[derive(Clone, Debug)]
pub(crate) struct Line {
    /// Values of every varied path; `dim`'s is the one searched.
    pub at: Vec<u64>,
    /// The searched path.
    pub dim: usize,
    /// SLOs judged (numbers in the plan's list).
    pub active: Vec<usize>,
    /// Range searched.
    pub lo: u64,
    /// Range searched.
    pub hi: u64,
    /// First value probed.
    pub start: u64,
    /// Meeting values are above missing ones (least value wanted);
    /// `false` for `--maximize`.
    pub up: bool,
    /// When the bracket is narrow enough.
    pub resolution: Resolution,
}

/// What a one-path search found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Found {
    /// The value that meets, nearest the missing side.
    pub meet: u64,
    /// The nearest value that misses, if one was probed (none: `meet` is
    /// the end of the range).
    pub miss: Option<u64>,
}

#[derive(Clone, Debug)]
struct End {
    x: u64,
    /// Per active SLO: the excess of its mean over its bound (log scale).
    g: Vec<Option<f64>>,
}

/// The one-path search; `None` when no value in the range meets.
pub(crate) fn line(pr: &mut Prober<'_>, l: &Line) -> Result<Option<Found>, AppError> {
    let eval = |pr: &mut Prober<'_>, x: u64| -> Result<(bool, End, Option<f64>), AppError> {
        let mut v = l.at.clone();
        v[l.dim] = x;
        let i = pr.probe(&v, &l.active)?;
        let p = &pr.probes[i];
        let end = End {
            x,
            g: l.active.iter().map(|&i| p.excess(i)).collect(),
        };
        Ok((p.side(&l.active).meets(), end, p.peak_needed[l.dim]))
    };
    let x0 = l.start.clamp(l.lo, l.hi);
    let (ok, e, mut peak) = eval(pr, x0)?;
    let (mut meet, mut miss) = if ok { (Some(e), None) } else { (None, Some(e)) };
    // Toward the meeting side.
    while meet.is_none() {
        let m = miss.as_ref().map_or(x0, |e| e.x);
        let next = if l.up {
            if m >= l.hi {
                return Ok(None);
            }
            match peak {
                // Between what failed and what the busiest window needs.
                Some(h) if h > m as f64 + 1.0 => (m as f64 * h).sqrt().ceil() as u64,
                _ => m.saturating_mul(2),
            }
            .clamp(m + 1, l.hi)
        } else {
            if m <= l.lo {
                return Ok(None);
            }
            (m / 2).clamp(l.lo, m - 1)
        };
        let (ok, e, p) = eval(pr, next)?;
        peak = p;
        if ok { meet = Some(e) } else { miss = Some(e) }
    }
    // Toward the missing side.
    while miss.is_none() {
        let t = meet.as_ref().map_or(x0, |e| e.x);
        let next = if l.up {
            if t <= l.lo {
                return Ok(Some(Found {
                    meet: t,
                    miss: None,
                }));
            }
            (t / 2).clamp(l.lo, t - 1)
        } else {
            if t >= l.hi {
                return Ok(Some(Found {
                    meet: t,
                    miss: None,
                }));
            }
            t.saturating_mul(2).clamp(t + 1, l.hi)
        };
        let (ok, e, _) = eval(pr, next)?;
        if ok { meet = Some(e) } else { miss = Some(e) }
    }
    let (Some(mut a), Some(mut b)) = (miss.clone(), meet.clone()) else {
        unreachable!("both ends are set by the loops above")
    };
    // Regula falsi (Illinois) with a floor on the step.
    // Illinois: an end kept twice in a row has its excess halved.
    let (mut scale_a, mut scale_b) = (1.0f64, 1.0f64);
    let mut kept_a = 0u32;
    let mut kept_b = 0u32;
    let mut slow = 0u32;
    let mut last_w = u64::MAX;
    loop {
        let w = a.x.abs_diff(b.x);
        if w <= l.resolution.at(b.x) || w <= 1 {
            break;
        }
        // Two steps in a row that did not halve the bracket: bisect.
        slow = if w > last_w / 2 { slow + 1 } else { 0 };
        last_w = w;
        let (lo, hi) = (a.x.min(b.x), a.x.max(b.x));
        let margin = (w / 8).max(1);
        // Interpolate on the SLO most beyond its bound at the missing end.
        let k = (0..a.g.len())
            .filter(|&k| a.g[k].is_some())
            .max_by(|&i, &j| {
                a.g[i]
                    .partial_cmp(&a.g[j])
                    .unwrap_or(std::cmp::Ordering::Equal)
            });
        let pair = k.and_then(|k| Some((a.g[k]? * scale_a, b.g[k]? * scale_b)));
        let x = match pair {
            _ if slow >= 2 => {
                slow = 0;
                lo + w / 2
            }
            Some((ga, gb)) if ga > gb && ga.is_finite() && gb.is_finite() => {
                let t = ga / (ga - gb);
                (a.x as f64 + t * (b.x as f64 - a.x as f64)).round() as u64
            }
            _ => lo + w / 2,
        }
        .clamp(lo + margin, hi - margin);
        let (ok, e, _) = eval(pr, x)?;
        if ok {
            b = e;
            scale_b = 1.0;
            kept_a += 1;
            kept_b = 0;
            if kept_a >= 2 {
                scale_a /= 2.0;
            }
        } else {
            a = e;
            scale_a = 1.0;
            kept_b += 1;
            kept_a = 0;
            if kept_b >= 2 {
                scale_b /= 2.0;
            }
        }
    }
    Ok(Some(Found {
        meet: b.x,
        miss: Some(a.x),
    }))
}

/// **Several pools** (`--vary pool.A.gpus --vary pool.B.gpus`): the
/// allocation of least cost (Σ `cost_per_gpu_hour` × GPUs; total GPUs when
/// no varied pool has a price) that meets every SLO, assuming more GPUs in
/// any pool never hurts.
///
/// Pools that do not interact are decided independently: two pools
/// interact when a user population sends requests to classes on both (a
/// user's session paces its requests by their responses), and an SLO on
/// class `all` joins every pool. Each group is searched with its own SLOs
/// (those of its classes), the other pools at the scenario's values:
///
/// - one varied pool: the one-path search ([`line`]);
/// - two: first coordinate-wise (the least A with B as given, the least B
///   with that A, the least A again: a point P on the frontier); then the
///   frontier is walked: from the least A that meets with B = 2·P_B, A
///   rises in steps of the resolution, each step finding the least B that
///   meets (never more than the step before), until no further step can be
///   cheaper (A's cost alone, plus the least B that meets with A = 2·P_A,
///   reaches the best cost found) — the cheapest point walked is the answer
///   within [P/2, 2P] at the resolution;
/// - more than two: coordinate-wise rounds until no value moves by more
///   than its resolution — an allocation where no single pool can shrink,
///   which is not proven the cheapest (the output says so).
///
/// Finally the whole allocation is probed once on every SLO, and its
/// verdict is the plan's.
pub(crate) fn least_cost(
    pr: &mut Prober<'_>,
    base: &crate::model::Scenario,
    start: &[u64],
    slos: &[super::SloArg],
    opts: &super::PlanOptions,
    resolution: Resolution,
) -> Result<Option<super::output::Answer>, AppError> {
    let pools: Vec<usize> = opts
        .vary
        .iter()
        .map(|v| super::pool_of(base, v).expect("checked by plan"))
        .collect();
    let groups = groups(base, slos);
    let prices = prices(base, &pools);
    let mut values = start.to_vec();
    let mut done = vec![false; pools.len()];
    for d in 0..pools.len() {
        if done[d] {
            continue;
        }
        let g = groups[pools[d]];
        let dims: Vec<usize> = (0..pools.len())
            .filter(|&e| groups[pools[e]] == g)
            .collect();
        for &e in &dims {
            done[e] = true;
        }
        let active: Vec<usize> = (0..slos.len())
            .filter(|&i| match class_pool(base, &slos[i].class) {
                Some(p) => groups[p] == g,
                None => true,
            })
            .collect();
        if active.is_empty() {
            // No SLO depends on these pools: the least values in range.
            for &e in &dims {
                values[e] = opts.min;
            }
            continue;
        }
        let line_at = |at: &[u64], dim: usize, lo: u64, hi: u64, start: u64| Line {
            at: at.to_vec(),
            dim,
            active: active.clone(),
            lo,
            hi,
            start,
            up: true,
            resolution,
        };
        // Coordinate-wise: one search for one pool; A, B, A for two;
        // rounds until nothing moves (at most 4) for more.
        let rounds = if dims.len() == 1 {
            1
        } else if dims.len() == 2 {
            2
        } else {
            4
        };
        for round in 0..rounds {
            let mut moved = false;
            for (k, &e) in dims.iter().enumerate() {
                if dims.len() == 2 && round == 1 && k == 1 {
                    break;
                }
                let Some(f) = line(pr, &line_at(&values, e, opts.min, opts.max, values[e]))? else {
                    return Ok(None);
                };
                moved |= f.meet.abs_diff(values[e]) > resolution.at(f.meet);
                values[e] = f.meet;
            }
            if round > 0 && !moved {
                break;
            }
        }
        if dims.len() == 2 {
            let (a, b) = (dims[0], dims[1]);
            let (pa, pb) = (values[a], values[b]);
            let (ua, ub) = (
                pa.saturating_mul(2).min(opts.max),
                pb.saturating_mul(2).min(opts.max),
            );
            let mut at = values.clone();
            at[b] = ub;
            let Some(la) = line(pr, &line_at(&at, a, opts.min, pa, pa))? else {
                return Ok(None);
            };
            at = values.clone();
            at[a] = ua;
            let Some(lb) = line(pr, &line_at(&at, b, opts.min, pb, pb))? else {
                return Ok(None);
            };
            let cost = |x: u64, y: u64| prices[a] * x as f64 + prices[b] * y as f64;
            let mut best = (cost(pa, pb), pa, pb);
            let mut xa = la.meet;
            let mut fb = ub;
            while xa <= ua && cost(xa, lb.meet) < best.0 {
                at = values.clone();
                at[a] = xa;
                let hi = fb;
                let Some(f) = line(pr, &line_at(&at, b, lb.meet, hi, hi.min(fb)))? else {
                    // Nothing up to the last step's value meets here: a
                    // larger A is needed; step on.
                    xa = xa.saturating_add(resolution.at(xa));
                    continue;
                };
                fb = f.meet;
                if cost(xa, fb) < best.0 {
                    best = (cost(xa, fb), xa, fb);
                }
                if fb <= lb.meet {
                    break;
                }
                xa = xa.saturating_add(resolution.at(xa));
            }
            values[a] = best.1;
            values[b] = best.2;
        }
    }
    let all: Vec<usize> = (0..slos.len()).collect();
    let i = pr.probe(&values, &all)?;
    if !pr.probes[i].side(&all).meets() {
        return Ok(None);
    }
    let cost_per_hour = values
        .iter()
        .zip(&prices)
        .map(|(&v, &p)| p * v as f64)
        .sum();
    Ok(Some(super::output::Answer {
        values,
        cost_per_hour: Some(cost_per_hour),
    }))
}

/// The price per GPU-hour of each varied pool; 1 each when none has one.
pub(crate) fn prices(base: &crate::model::Scenario, pools: &[usize]) -> Vec<f64> {
    let p: Vec<f64> = pools
        .iter()
        .map(|&i| base.pools[i].cost_per_gpu_hour)
        .collect();
    if p.iter().all(|&x| x <= 0.0) {
        vec![1.0; p.len()]
    } else {
        p
    }
}

/// The pool of a class (`None` for `all`).
fn class_pool(base: &crate::model::Scenario, class: &str) -> Option<usize> {
    base.classes
        .iter()
        .find(|c| c.name == class)
        .map(|c| c.pool)
}

/// A group number for each pool: pools fed by one population share a
/// group, and an SLO on `all` puts every pool in one.
pub(crate) fn groups(base: &crate::model::Scenario, slos: &[super::SloArg]) -> Vec<usize> {
    let n = base.pools.len();
    let mut group: Vec<usize> = (0..n).collect();
    let join = |group: &mut Vec<usize>, a: usize, b: usize| {
        let (ga, gb) = (group[a], group[b]);
        if ga != gb {
            for g in group.iter_mut() {
                if *g == gb {
                    *g = ga;
                }
            }
        }
    };
    for (pop, _) in base.populations.iter().enumerate() {
        let fed: Vec<usize> = base
            .classes
            .iter()
            .filter(|c| {
                matches!(c.arrivals, crate::model::ArrivalSpec::Users { population, .. } if population == pop)
            })
            .map(|c| c.pool)
            .collect();
        for w in fed.windows(2) {
            join(&mut group, w[0], w[1]);
        }
    }
    if slos.iter().any(|s| s.class == "all") {
        for p in 1..n {
            join(&mut group, 0, p);
        }
    }
    group
}
