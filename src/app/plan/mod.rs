//! `surge plan`: the least (or greatest) value of an integer path that
//! meets every SLO — or, with several `--vary` pools, the allocation of
//! least cost — decided probe by probe with a stated confidence.
//!
//! Each probe replicates (in parallel batches, deterministically: see
//! [`crate::app::replicate`]) until every SLO's interval at the chosen
//! confidence is on one side of its bound, or the most replications allowed
//! have run: then the probe is *undecided* and the search takes the side of
//! the means, and says so. Probes share the scenario's seed, so they see the
//! same arrivals and job sizes (common random numbers). How probes are
//! chosen is in [`search`].

use super::check::CheckOptions;
use super::replicate::Width;
use super::{AppError, load_all};
use crate::metric::Metric;
use crate::model::Scenario;
use crate::scenario;
use std::path::Path;

mod needed;
mod output;
mod probe;
mod search;

use probe::Prober;

/// An SLO given to `plan`: `CLASS:METRIC<=VALUE` or `>=`.
#[derive(Clone, Debug, PartialEq)]
pub struct SloArg {
    /// A class name, or `all`.
    pub class: String,
    /// The bounded metric.
    pub metric: Metric,
    /// Upper bound (seconds for times).
    pub max: Option<f64>,
    /// Lower bound.
    pub min: Option<f64>,
}

/// A plan's answer.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Answer {
    /// The value of each varied path.
    pub values: Vec<u64>,
    /// Σ price × GPUs of the varied pools (per hour), for least-cost
    /// plans.
    pub cost_per_hour: Option<f64>,
}

/// When a plan's bracket is narrow enough.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Resolution {
    /// A share of the value (`0.5%` is 0.005), at least 1.
    Relative(f64),
    /// In the path's units.
    Absolute(u64),
}

impl Default for Resolution {
    /// 1% of the value, at least 1: a GPU for pools under 200, a node or
    /// two for pools of thousands — about what a day's p95 can resolve
    /// with a handful of replications.
    fn default() -> Self {
        Resolution::Relative(0.01)
    }
}

impl Resolution {
    /// `0.5%` or `10`.
    pub fn parse(s: &str) -> Result<Resolution, String> {
        let t = s.trim();
        if let Some(p) = t.strip_suffix('%') {
            return match p.trim().parse::<f64>() {
                Ok(x) if x > 0.0 && x < 100.0 => Ok(Resolution::Relative(x / 100.0)),
                _ => Err(format!("expected a share such as 0.5%, found {s:?}")),
            };
        }
        match t.parse::<u64>() {
            Ok(n) if n >= 1 => Ok(Resolution::Absolute(n)),
            _ => Err(format!(
                "expected a share such as 0.5% or a whole number of units such as 10, found {s:?}"
            )),
        }
    }

    /// The bracket width that is narrow enough near `x`.
    pub fn at(self, x: u64) -> u64 {
        match self {
            Resolution::Relative(r) => ((x as f64 * r).floor() as u64).max(1),
            Resolution::Absolute(n) => n,
        }
    }
}

impl std::fmt::Display for Resolution {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Resolution::Relative(r) => {
                write!(f, "{}%", crate::rows::format_number(r * 100.0))
            }
            Resolution::Absolute(n) => write!(f, "{n}"),
        }
    }
}

/// Options of `surge plan`.
#[derive(Clone, Debug)]
pub struct PlanOptions {
    /// The integer paths to vary, e.g. `pool.gpu.gpus`; several only as
    /// pools' `gpus`, for a least-cost allocation.
    pub vary: Vec<String>,
    /// Extra SLOs, added to the scenario's.
    pub slos: Vec<SloArg>,
    /// Find the greatest passing value instead of the least (one path).
    pub maximize: bool,
    /// Search range (every path).
    pub min: u64,
    /// Search range (every path).
    pub max: u64,
    /// Stop when the bracket is this narrow [default: 1%].
    pub resolution: Option<Resolution>,
    /// Confidence of each probe's verdict (0.95).
    pub confidence: f64,
    /// Also replicate each probe until its SLO metrics are this precise.
    pub precision: Option<Width>,
    /// Replications per probe before judging [default 2].
    pub min_replications: Option<u32>,
    /// Replications per probe at most [default 10].
    pub max_replications: Option<u32>,
    /// Charts of the probes under `charts/` (`None`: none).
    pub charts: Option<crate::report::ChartFormat>,
    /// Shared options; `replications` fixes the count per probe.
    pub common: CheckOptions,
}

impl PlanOptions {
    /// Options for `vary` with the defaults of the command line.
    pub fn new(vary: &str, common: CheckOptions) -> PlanOptions {
        PlanOptions {
            vary: vec![vary.to_string()],
            slos: Vec::new(),
            maximize: false,
            min: 1,
            max: 1_000_000,
            resolution: None,
            confidence: 0.95,
            precision: None,
            min_replications: None,
            max_replications: None,
            charts: None,
            common,
        }
    }

    /// Replications per probe: (first judged at, at most).
    pub(crate) fn replications(&self) -> (u32, u32) {
        if let Some(n) = self.common.replications {
            return (n, n);
        }
        let min = self.min_replications.unwrap_or(2);
        (min, self.max_replications.unwrap_or(10).max(min))
    }
}

/// Parse `CLASS:METRIC<=VALUE` / `>=`; durations allowed for time metrics.
pub fn parse_slo_arg(s: &str) -> Result<SloArg, String> {
    let (lhs, op, rhs) = if let Some((l, r)) = s.split_once("<=") {
        (l, "<=", r)
    } else if let Some((l, r)) = s.split_once(">=") {
        (l, ">=", r)
    } else {
        return Err(format!(
            "expected CLASS:METRIC<=VALUE or >=, e.g. 'jobs:wait_mean<=500ms' (quoted in a shell), found {s:?}"
        ));
    };
    let (class, metric) = lhs
        .split_once(':')
        .ok_or_else(|| format!("expected CLASS:METRIC before {op}, found {lhs:?}"))?;
    let metric = Metric::parse(metric.trim()).ok_or_else(|| {
        format!(
            "unknown metric {:?}; known: {}",
            metric.trim(),
            Metric::names()
        )
    })?;
    let value = rhs
        .trim()
        .parse::<f64>()
        .ok()
        .or_else(|| scenario::units::parse_duration(rhs.trim()).map(|d| d.as_secs_f64()))
        .ok_or_else(|| format!("expected a number or a duration after {op}, found {rhs:?}"))?;
    let (max, min) = if op == "<=" {
        (Some(value), None)
    } else {
        (None, Some(value))
    };
    Ok(SloArg {
        class: class.trim().to_string(),
        metric,
        max,
        min,
    })
}

/// The pool whose GPUs `path` (`pool.NAME.gpus`) sets.
pub(crate) fn pool_of(s: &Scenario, path: &str) -> Option<usize> {
    let name = path.strip_prefix("pool.")?.strip_suffix(".gpus")?;
    s.pools.iter().position(|p| p.name == name)
}

/// `surge plan`. Returns the answer (one value per varied path), or `None`
/// when no value in the range meets the SLOs.
pub fn plan(path: &Path, opts: &PlanOptions) -> Result<Option<Vec<u64>>, AppError> {
    let base = load_all(&[path.to_path_buf()], &opts.common.overrides)?
        .remove(0)
        .scenario;
    let mut slos: Vec<SloArg> = base
        .slos
        .iter()
        .map(|s| SloArg {
            class: s.scope(),
            metric: s.metric,
            max: s.max,
            min: s.min,
        })
        .collect();
    slos.extend(opts.slos.iter().cloned());
    if slos.is_empty() {
        return Err(AppError::Input(
            "nothing to plan for: add [[slo]] entries or --slo CLASS:METRIC<=VALUE".into(),
        ));
    }
    for s in &slos {
        if let Some((class, stage)) = s.class.split_once('/') {
            let stages = base
                .classes
                .iter()
                .find(|c| c.name == class)
                .and_then(|c| c.workflow)
                .map(|w| &base.workflows[w].stages);
            if !stages.is_some_and(|st| st.iter().any(|x| x.name == stage)) {
                return Err(AppError::Input(format!(
                    "--slo: {:?} is not a stage of a workflow class (CLASS/STAGE)",
                    s.class
                )));
            }
            if !crate::slo::STAGE_METRICS.contains(&s.metric) {
                return Err(AppError::Input(format!(
                    "--slo {}: a stage has no {}",
                    s.class, s.metric
                )));
            }
            continue;
        }
        if s.class != "all" && !base.classes.iter().any(|c| c.name == s.class) {
            return Err(AppError::Input(format!(
                "--slo: unknown class {:?}",
                s.class
            )));
        }
        let serving = base
            .classes
            .iter()
            .any(|c| c.tokens.is_some() && (s.class == "all" || c.name == s.class));
        if s.metric.is_serving() && !serving {
            return Err(AppError::Input(format!(
                "--slo {}: class {:?} has no {}: TTFT and TPOT are times of classes on serving pools",
                s.metric, s.class, s.metric
            )));
        }
    }
    if opts.vary.is_empty() {
        return Err(AppError::Input(
            "--vary: give the path to vary, e.g. pool.gpu.gpus".into(),
        ));
    }
    if opts.min > opts.max {
        return Err(AppError::Input(format!(
            "--min {} is above --max {}",
            opts.min, opts.max
        )));
    }
    for (i, v) in opts.vary.iter().enumerate() {
        if opts.vary[..i].contains(v) {
            return Err(AppError::Input(format!("--vary {v} is given twice")));
        }
    }
    if opts.vary.len() > 1 {
        if opts.maximize {
            return Err(AppError::Input(
                "--maximize takes one --vary path: with several, plan finds the allocation of least cost".into(),
            ));
        }
        for v in &opts.vary {
            if pool_of(&base, v).is_none() {
                return Err(AppError::Input(format!(
                    "--vary {v}: with several --vary paths each must be a pool's GPUs, pool.NAME.gpus (known pools: {})",
                    base.pools
                        .iter()
                        .map(|p| p.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        }
    }
    let resolution = opts.resolution.unwrap_or_default();
    let mut pr = Prober::new(path, opts, &slos);
    let all: Vec<usize> = (0..slos.len()).collect();
    let start: Vec<u64> = opts
        .vary
        .iter()
        .map(|v| pool_of(&base, v).map_or(opts.min, |p| u64::from(base.pools[p].gpus)))
        .collect();
    let answer = if opts.vary.len() == 1 {
        // A serving pool's GPUs are searched in whole replicas.
        let unit = pool_of(&base, &opts.vary[0])
            .and_then(|p| base.pools[p].serving.as_ref())
            .map_or(1, |sv| u64::from(sv.gpus_per_replica));
        let l = search::Line {
            up: !opts.maximize,
            resolution,
            ..search::Line::new(&start, 0, &all, (opts.min, opts.max))
        }
        .in_steps_of(unit);
        search::line(&mut pr, &l)?.map(|f| Answer {
            values: vec![f.meet],
            cost_per_hour: None,
        })
    } else {
        search::least_cost(&mut pr, &base, &start, &slos, opts, resolution)?
    };
    pr.finish();
    output::finish(path, opts, &base, &slos, &pr, resolution, answer.as_ref())?;
    Ok(answer.map(|a| a.values))
}
