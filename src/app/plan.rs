//! `surge plan`: the least (or greatest) value of an integer path that
//! meets every SLO, probe by probe, with `plan.csv` and the answer.

use super::check::{CheckOptions, show};
use super::{AppError, load_all, run_replications, with_jobs};
use crate::metric::Metric;
use crate::report::{Estimate, write_atomic};
use crate::scenario::{self, Override};
use crate::slo;
use std::path::Path;

/// Options of `surge plan`.
#[derive(Clone, Debug)]
pub struct PlanOptions {
    /// The integer path to vary, e.g. `pool.gpu.gpus`.
    pub vary: String,
    /// Extra SLOs `CLASS:METRIC<=VALUE` or `>=`, added to the scenario's.
    pub slos: Vec<(String, Metric, Option<f64>, Option<f64>)>,
    /// Find the greatest passing value instead of the least.
    pub maximize: bool,
    /// Search range.
    pub min: u64,
    /// Search range.
    pub max: u64,
    /// Shared options.
    pub common: CheckOptions,
}

/// Parse `CLASS:METRIC<=VALUE` / `>=`; durations allowed for time metrics.
pub fn parse_slo_arg(s: &str) -> Result<(String, Metric, Option<f64>, Option<f64>), String> {
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
    Ok((class.trim().to_string(), metric, max, min))
}

/// `surge plan`: the least (or greatest) value of an integer path meeting
/// every SLO on the mean over replications. Assumes monotonicity: brackets
/// by doubling from `min`, then bisects.
pub fn plan(path: &Path, opts: &PlanOptions) -> Result<Option<u64>, AppError> {
    let base = load_all(&[path.to_path_buf()], &opts.common.overrides)?
        .remove(0)
        .scenario;
    let mut slos: Vec<(String, Metric, Option<f64>, Option<f64>)> = base
        .slos
        .iter()
        .map(|s| (s.class.clone(), s.metric, s.max, s.min))
        .collect();
    slos.extend(opts.slos.iter().cloned());
    if slos.is_empty() {
        return Err(AppError::Input(
            "nothing to plan for: add [[slo]] entries or --slo CLASS:METRIC<=VALUE".into(),
        ));
    }
    for (class, _, _, _) in &slos {
        if class != "all" && !base.classes.iter().any(|c| &c.name == class) {
            return Err(AppError::Input(format!("--slo: unknown class {class:?}")));
        }
    }
    let mut probes: Vec<(u64, bool, Vec<Option<Estimate>>)> = Vec::new();
    let mut probe = |value: u64| -> Result<bool, AppError> {
        if let Some(p) = probes.iter().find(|p| p.0 == value) {
            return Ok(p.1);
        }
        let mut ov = opts.common.overrides.clone();
        ov.push(Override::from_flag("--vary", &opts.vary, value.to_string()));
        let mut s = super::load_all_quietly(&[path.to_path_buf()], &ov)?
            .remove(0)
            .scenario;
        if let Some(seed) = opts.common.seed {
            s.seed = seed;
        }
        if let Some(r) = opts.common.replications {
            s.replications = r;
        }
        let runs = with_jobs(opts.common.jobs, || run_replications(&s))??;
        let estimates: Vec<Option<Estimate>> = slos
            .iter()
            .map(|(c, m, _, _)| slo::estimate_metric(&runs, c, *m))
            .collect();
        let pass = slos.iter().zip(&estimates).all(|((_, _, max, min), e)| {
            e.is_some_and(|e| max.is_none_or(|m| e.mean <= m) && min.is_none_or(|m| e.mean >= m))
        });
        if !opts.common.quiet {
            eprintln!(
                "probe {}={value}: {}",
                opts.vary,
                if pass { "meets the SLOs" } else { "misses" }
            );
        }
        probes.push((value, pass, estimates));
        Ok(pass)
    };
    let answer = if !opts.maximize {
        // Least passing value: double until it passes, then bisect.
        let mut lo = opts.min;
        let mut hi = lo;
        while !probe(hi)? {
            lo = hi + 1;
            if hi >= opts.max {
                return finish_plan(path, opts, &slos, &probes, None);
            }
            hi = (hi.max(1) * 2).min(opts.max);
        }
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if probe(mid)? { hi = mid } else { lo = mid + 1 }
        }
        Some(hi)
    } else {
        // Greatest passing value: bisect on [min, max].
        if !probe(opts.min)? {
            return finish_plan(path, opts, &slos, &probes, None);
        }
        let (mut lo, mut hi) = (opts.min, opts.max);
        while lo < hi {
            let mid = lo + (hi - lo).div_ceil(2);
            if probe(mid)? { lo = mid } else { hi = mid - 1 }
        }
        Some(lo)
    };
    finish_plan(path, opts, &slos, &probes, answer)
}

#[allow(clippy::type_complexity)]
fn finish_plan(
    path: &Path,
    opts: &PlanOptions,
    slos: &[(String, Metric, Option<f64>, Option<f64>)],
    probes: &[(u64, bool, Vec<Option<Estimate>>)],
    answer: Option<u64>,
) -> Result<Option<u64>, AppError> {
    let mut sorted: Vec<&(u64, bool, Vec<Option<Estimate>>)> = probes.iter().collect();
    sorted.sort_by_key(|p| p.0);
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header = vec![opts.vary.clone(), "meets_slos".into()];
    for (c, m, max, min) in slos {
        // The same class and metric bounded twice ([[slo]] and --slo):
        // the bound tells the columns apart.
        let twice = slos.iter().filter(|x| x.0 == *c && x.1 == *m).count() > 1;
        let name = match (twice, max, min) {
            (true, Some(b), _) => format!("{c}.{m}.max_{}", crate::rows::format_number(*b)),
            (true, None, Some(b)) => format!("{c}.{m}.min_{}", crate::rows::format_number(*b)),
            _ => format!("{c}.{m}"),
        };
        for stat in ["mean", "ci_low", "ci_high"] {
            header.push(format!("{name}_{stat}"));
        }
    }
    let _ = w.write_record(&header);
    let cell = |x: Option<f64>| crate::rows::Cell::Num(x).to_csv();
    for (value, pass, est) in &sorted {
        let mut row = vec![value.to_string(), pass.to_string()];
        for ((_, m, _, _), e) in slos.iter().zip(est) {
            row.push(cell(e.map(|e| e.mean)));
            row.push(cell(e.and_then(|e| e.low()).map(|x| m.clip(x))));
            row.push(cell(e.and_then(|e| e.high()).map(|x| m.clip(x))));
        }
        let _ = w.write_record(&row);
    }
    let bytes = w
        .into_inner()
        .map_err(|e| AppError::Output(e.to_string()))?;
    let name = path
        .file_stem()
        .map_or("plan".into(), |s| s.to_string_lossy().into_owned());
    let out = opts
        .common
        .out
        .clone()
        .unwrap_or_else(|| Path::new("output").join(name));
    // plan.csv joins the folder's other files (a run's, say): the folder
    // is still replaced as a unit.
    let staged = super::Staged::begin(&out)?;
    staged.copy_existing(|name| name != "plan.csv")?;
    let file = staged.dir().join("plan.csv");
    write_atomic(&file, &bytes)
        .map_err(|e| AppError::Output(format!("cannot write {}: {e}", file.display())))?;
    staged.commit()?;
    if opts.common.json {
        let probes: Vec<serde_json::Value> = sorted
            .iter()
            .map(|(value, pass, est)| {
                serde_json::json!({
                    "value": value,
                    "meets_slos": pass,
                    "slos": slos.iter().zip(est.iter()).map(|((c, m, max, min), e)| serde_json::json!({
                        "class": c,
                        "metric": m,
                        "max": max,
                        "min": min,
                        "mean": e.map(|e| e.mean),
                        "ci_low": e.and_then(|e| e.low()).map(|x| m.clip(x)),
                        "ci_high": e.and_then(|e| e.high()).map(|x| m.clip(x)),
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        let value = serde_json::json!({
            "vary": opts.vary,
            "answer": answer,
            "maximize": opts.maximize,
            "probes": probes,
            "plan_csv": out.join("plan.csv"),
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&value).unwrap_or_default()
        );
        return Ok(answer);
    }
    if opts.common.quiet {
        // Scripts that silence the table still get the answer.
        match answer {
            Some(v) => println!("{v}"),
            None => println!("none"),
        }
        return Ok(answer);
    }
    {
        println!("{:>10}  SLOs (mean [95% CI])", opts.vary);
        for (value, pass, est) in &sorted {
            let parts: Vec<String> = slos
                .iter()
                .zip(est.iter())
                .map(|((c, m, max, min), e)| match e {
                    Some(e) => format!(
                        "{c}.{m}{} {} [{}, {}]",
                        match (max, min) {
                            (Some(b), _) => format!("≤{}", show(*m, *b)),
                            (None, Some(b)) => format!("≥{}", show(*m, *b)),
                            _ => String::new(),
                        },
                        show(*m, e.mean),
                        show(*m, m.clip(e.low().unwrap_or(e.mean))),
                        show(*m, m.clip(e.high().unwrap_or(e.mean)))
                    ),
                    None => format!("{c}.{m} -"),
                })
                .collect();
            println!(
                "{value:>10}  {}  {}",
                if *pass { "meets " } else { "misses" },
                parts.join("; ")
            );
        }
        match answer {
            Some(v) => println!(
                "answer: {} = {v} ({} the SLOs on the mean over replications); probes in {}",
                opts.vary,
                if opts.maximize {
                    "the greatest value meeting"
                } else {
                    "the least value meeting"
                },
                out.join("plan.csv").display()
            ),
            None => println!(
                "answer: no value of {} in [{}, {}] meets the SLOs",
                opts.vary, opts.min, opts.max
            ),
        }
    }
    Ok(answer)
}
