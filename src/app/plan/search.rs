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
    /// A value to try first when stepping toward the meeting side (a
    /// previous answer).
    pub near_meet: Option<u64>,
    /// A value to try first when stepping toward the missing side (a
    /// previous nearest miss).
    pub near_miss: Option<u64>,
    /// A value that meets without being probed, because a smaller
    /// allocation (in every path) was shown to meet: more never hurts.
    pub known_meet: Option<u64>,
    /// What one step of the searched value is worth in the varied path
    /// (a serving pool's GPUs come in whole replicas of this many); `lo`,
    /// `hi`, `start` and the values found are in these steps.
    pub unit: u64,
}

impl Line {
    /// A search of `dim` at `at` over [lo, hi] from `start`, without hints.
    pub(crate) fn new(at: &[u64], dim: usize, active: &[usize], range: (u64, u64)) -> Line {
        Line {
            at: at.to_vec(),
            dim,
            active: active.to_vec(),
            lo: range.0,
            hi: range.1,
            start: at[dim],
            up: true,
            resolution: Resolution::default(),
            near_meet: None,
            near_miss: None,
            known_meet: None,
            unit: 1,
        }
    }

    /// The same search in steps of `unit` (whole replicas): the range
    /// rounded inward, the start up.
    pub(crate) fn in_steps_of(self, unit: u64) -> Line {
        let unit = unit.max(1);
        Line {
            lo: self.lo.div_ceil(unit).max(1),
            hi: (self.hi / unit).max(1),
            start: self.start.div_ceil(unit),
            unit,
            ..self
        }
    }
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

/// When a step of at least a quarter more toward the meeting side left
/// every missed SLO's mean within 1% of where it was, more of the path
/// no longer helps (the bound is below what the service time alone gives,
/// or another pool limits it): a sentence saying so.
fn no_longer_helps(pr: &Prober<'_>, l: &Line, before: &End, after: &End) -> Option<String> {
    let (a, b) = (before.x.min(after.x), before.x.max(after.x));
    if !l.up || b < a + a / 4 {
        return None;
    }
    let mut v = l.at.clone();
    v[l.dim] = after.x * l.unit;
    let probe = pr.probes.iter().find(|p| p.values == v)?;
    let mut stuck = Vec::new();
    for (k, &i) in l.active.iter().enumerate() {
        if probe.verdicts[i] == crate::slo::Verdict::Pass {
            continue;
        }
        let (g0, g1) = (before.g[k]?, after.g[k]?);
        if g1 <= 0.0 || (g1 - g0).abs() > 0.01f64.ln_1p() {
            return None;
        }
        stuck.push(i);
    }
    if stuck.is_empty() {
        return None;
    }
    Some(format!(
        "more of {} no longer helps: from {} to {} the mean of {} moved less than 1% and stays beyond its bound (a bound below what service time alone gives, or another pool limits it)",
        pr.path_name(l.dim),
        before.x * l.unit,
        after.x * l.unit,
        stuck
            .iter()
            .map(|&i| pr.slo_name(i))
            .collect::<Vec<_>>()
            .join(", ")
    ))
}

/// The one-path search; `None` when no value in the range meets.
pub(crate) fn line(pr: &mut Prober<'_>, l: &Line) -> Result<Option<Found>, AppError> {
    let eval = |pr: &mut Prober<'_>, x: u64| -> Result<(bool, End, Option<f64>), AppError> {
        let mut v = l.at.clone();
        v[l.dim] = x * l.unit;
        let i = pr.probe(&v, &l.active)?;
        let p = &pr.probes[i];
        let end = End {
            x,
            g: l.active.iter().map(|&i| p.excess(i)).collect(),
        };
        let peak = p.peak_needed[l.dim].map(|h| h / l.unit as f64);
        Ok((p.side(&l.active).meets(), end, peak))
    };
    let x0 = l.start.clamp(l.lo, l.hi);
    let (ok, e, mut peak) = eval(pr, x0)?;
    let (mut meet, mut miss) = if ok { (Some(e), None) } else { (None, Some(e)) };
    // On the meeting side of `m`.
    let beyond = |x: u64, m: u64| if l.up { x > m } else { x < m };
    if let (None, Some(k)) = (&meet, l.known_meet)
        && beyond(k, x0)
    {
        meet = Some(End {
            x: k,
            g: vec![None; l.active.len()],
        });
    }
    let mut near_meet = l.near_meet;
    let mut near_miss = l.near_miss;
    // A search with hints is a refinement near a known answer: toward the
    // missing side it steps by the resolution, then 4×, 16×, … of it,
    // instead of halving.
    let hinted = l.near_meet.is_some() || l.near_miss.is_some() || l.known_meet.is_some();
    let mut step = l.resolution.at(x0);
    // Toward the meeting side.
    while meet.is_none() {
        let m = miss.as_ref().map_or(x0, |e| e.x);
        let next = if let Some(x) = near_meet.take().filter(|&x| beyond(x, m)) {
            x.clamp(l.lo, l.hi)
        } else if l.up && hinted {
            if m >= l.hi {
                return Ok(None);
            }
            let next = m.saturating_add(step).clamp(m + 1, l.hi);
            step = step.saturating_mul(4);
            next
        } else if l.up {
            if m >= l.hi {
                return Ok(None);
            }
            match peak {
                // Between what failed and what the busiest window needs,
                // and at least a quarter more.
                Some(h) if h > m as f64 + 1.0 => {
                    ((m as f64 * h).sqrt().ceil() as u64).max(m + m / 4)
                }
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
        if ok {
            meet = Some(e);
        } else {
            if let Some(prev) = &miss
                && let Some(note) = no_longer_helps(pr, l, prev, &e)
            {
                pr.notes.push(note);
                return Ok(None);
            }
            miss = Some(e);
        }
    }
    // Toward the missing side.
    while miss.is_none() {
        let t = meet.as_ref().map_or(x0, |e| e.x);
        let next = if let Some(x) = near_miss.take().filter(|&x| beyond(t, x)) {
            x.clamp(l.lo, l.hi)
        } else if l.up {
            if t <= l.lo {
                return Ok(Some(Found {
                    meet: t * l.unit,
                    miss: None,
                }));
            }
            if hinted {
                let next = t.saturating_sub(step).clamp(l.lo, t - 1);
                step = step.saturating_mul(4);
                next
            } else {
                (t / 2).clamp(l.lo, t - 1)
            }
        } else {
            if t >= l.hi {
                return Ok(Some(Found {
                    meet: t * l.unit,
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
        pr.expect = Some(((w as f64 / l.resolution.at(b.x) as f64).log2().ceil() as u32).max(1));
        let (ok, e, _) = eval(pr, x)?;
        pr.expect = None;
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
        meet: b.x * l.unit,
        miss: Some(a.x * l.unit),
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
/// - two: first coordinate-wise, each pool on its own classes' SLOs (and
///   class `all`'s) — the least A with B as given, the least B with that
///   A, the least A again: a point P near the frontier; then the frontier
///   is walked on every SLO of the group: from the least A that meets with B = 2·P_B, A
///   rises in steps of the resolution, each step finding the least B that
///   meets (never more than the step before), until no further step can be
///   cheaper (A's cost alone, plus the least B that meets with A = 2·P_A,
///   comes within one resolution step's cost of the best found) — the
///   cheapest point walked is the answer within [P/2, 2P] at the
///   resolution;
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
) -> Result<Option<super::Answer>, AppError> {
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
            .filter(|&i| match class_pools(base, &slos[i].class) {
                Some(p) => p.iter().any(|&p| groups[p] == g),
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
        let mk = |at: &[u64], dim: usize, range: (u64, u64)| Line {
            resolution,
            ..Line::new(at, dim, &active, range)
        };
        // A pool's own SLOs: those of its classes, and of class `all`.
        let own = |dim: usize| -> Vec<usize> {
            active
                .iter()
                .copied()
                .filter(|&i| {
                    slos[i].class == "all"
                        || class_pools(base, &slos[i].class)
                            .is_some_and(|p| p.contains(&pools[dim]))
                })
                .collect()
        };
        // The nearest miss of each path, as the last search left it.
        let mut miss: Vec<Option<u64>> = vec![None; pools.len()];
        // Coordinate-wise: one search for one pool; A, B, A for two;
        // rounds until nothing moves (at most 4) for more. A later round
        // starts at the last answer and tries the last miss first.
        let rounds = match dims.len() {
            1 => 1,
            2 => 2,
            _ => 4,
        };
        for round in 0..rounds {
            let mut moved = false;
            for (k, &e) in dims.iter().enumerate() {
                if dims.len() == 2 && round == 1 && k == 1 {
                    break;
                }
                // Each pool on its own SLOs first (another pool's miss
                // is not this one's to fix); the frontier walk below
                // judges them all.
                // A pool alone in its group is judged on the group's SLOs;
                // one without SLOs of its own waits for a later round (the
                // others meet theirs by then) and is judged on the group's.
                let mut l = mk(&values, e, (opts.min, opts.max));
                let mine = own(e);
                if dims.len() > 1 {
                    if !mine.is_empty() {
                        l.active = mine;
                    } else if round == 0 {
                        continue;
                    }
                }
                if round > 0 {
                    // A refinement: steps of the resolution either way.
                    l.near_miss = miss[e];
                    l.known_meet = None;
                }
                let Some(f) = line(pr, &l)? else {
                    return Ok(None);
                };
                moved |= f.meet.abs_diff(values[e]) > resolution.at(f.meet);
                values[e] = f.meet;
                miss[e] = f.miss;
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
            // The least A with B = 2·P_B (P_A meets there: P did), and the
            // least B with A = 2·P_A, each tried first at P's nearest miss.
            let i = pr.probe(&values, &active)?;
            let p_meets = pr.probes[i].side(&active).meets();
            let least = |pr: &mut Prober<'_>, dim: usize, other: usize, up_to: u64| {
                let mut at = values.clone();
                at[other] = up_to;
                if !p_meets {
                    let l = mk(&at, dim, (opts.min, opts.max));
                    return Ok::<Option<u64>, AppError>(line(pr, &l)?.map(|f| f.meet));
                }
                let Some(m) = miss[dim] else {
                    return Ok(Some(values[dim]));
                };
                let mut l = mk(&at, dim, (opts.min, values[dim]));
                l.start = m;
                l.known_meet = Some(values[dim]);
                Ok(Some(line(pr, &l)?.map_or(values[dim], |f| f.meet)))
            };
            let (Some(la), Some(lb)) = (least(pr, a, b, ub)?, least(pr, b, a, ua)?) else {
                return Ok(None);
            };
            // Walk A up from its least, B down from 2·P_B: each step's
            // least B is searched below the last one (which meets, since A
            // grew), from the last step's miss.
            let cost = |x: u64, y: u64| prices[a] * x as f64 + prices[b] * y as f64;
            let mut best = (if p_meets { cost(pa, pb) } else { f64::INFINITY }, pa, pb);
            let (mut xa, mut fb, mut fb_miss) = (la, ub, None::<u64>);
            // A step is worth probing only if it could save more than one
            // resolution step of the cheaper pool: finer savings are noise.
            let worth =
                (prices[a] * resolution.at(pa) as f64).min(prices[b] * resolution.at(pb) as f64);
            while xa <= ua && cost(xa, lb) < best.0 - worth {
                let mut at = values.clone();
                at[a] = xa;
                let mut l = mk(&at, b, (lb, fb));
                l.start = fb_miss.unwrap_or(lb).clamp(lb, fb);
                l.known_meet = Some(fb);
                if let Some(f) = line(pr, &l)? {
                    fb = f.meet;
                    fb_miss = f.miss;
                    if cost(xa, fb) < best.0 {
                        best = (cost(xa, fb), xa, fb);
                    }
                    if fb <= lb {
                        break;
                    }
                }
                xa = xa.saturating_add(resolution.at(xa));
            }
            values[a] = best.1;
            values[b] = best.2;
        }
    }
    let all: Vec<usize> = (0..slos.len()).collect();
    let i = pr.probe(&values, &all)?;
    // Each group met its own SLOs; a decided miss here would mean the
    // groups interact after all. (Undecided: the statement says so.)
    if pr.probes[i].side(&all) == super::probe::Side::Misses {
        return Ok(None);
    }
    let cost_per_hour = values
        .iter()
        .zip(&prices)
        .map(|(&v, &p)| p * v as f64)
        .sum();
    Ok(Some(super::Answer {
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

/// The pools a class's requests visit (`None` for `all`).
/// For a stage's SLO (`CLASS/STAGE`), the pool that serves the stage.
fn class_pools(base: &crate::model::Scenario, class: &str) -> Option<Vec<usize>> {
    if let Some((class, stage)) = class.split_once('/') {
        let c = base.classes.iter().find(|c| c.name == class)?;
        let w = &base.workflows[c.workflow?];
        let st = w.stages.iter().find(|s| s.name == stage)?;
        let pools = match &st.work {
            crate::model::StageWork::Serve { pool, .. } => vec![*pool],
            crate::model::StageWork::Fork { branches, .. } => branches
                .iter()
                .filter_map(|&b| match &w.stages[b].work {
                    crate::model::StageWork::Serve { pool, .. } => Some(*pool),
                    crate::model::StageWork::Fork { .. } => None,
                })
                .collect(),
        };
        return Some(pools);
    }
    let c = base.classes.iter().position(|c| c.name == class)?;
    Some(base.demand(c).into_iter().map(|(p, _)| p).collect())
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
    // A workflow's pools are in series: each one's size moves the others' load.
    for c in 0..base.classes.len() {
        let visited: Vec<usize> = base.demand(c).into_iter().map(|(p, _)| p).collect();
        for w in visited.windows(2) {
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
