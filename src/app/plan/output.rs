//! What a plan writes: `plan.csv` (every probe), the answer with its
//! confidence on stdout (a table, the value alone with `--quiet`, or JSON).

use super::probe::{Probe, Prober, Side};
use super::{Answer, PlanOptions, Resolution, SloArg};
use crate::app::AppError;
use crate::app::check::show;
use crate::model::Scenario;
use crate::report::write_atomic;
use crate::rows::{Cell, format_number};
use std::path::Path;

/// The column name of an SLO: `CLASS.METRIC`, with the bound when the same
/// class and metric are bounded twice ([[slo]] and --slo).
fn slo_name(slos: &[SloArg], s: &SloArg) -> String {
    let twice = slos
        .iter()
        .filter(|x| x.class == s.class && x.metric == s.metric)
        .count()
        > 1;
    match (twice, s.max, s.min) {
        (true, Some(b), _) => format!("{}.{}.max_{}", s.class, s.metric, format_number(b)),
        (true, None, Some(b)) => format!("{}.{}.min_{}", s.class, s.metric, format_number(b)),
        _ => format!("{}.{}", s.class, s.metric),
    }
}

/// `plan.csv`: one row per probe, sorted by value.
fn plan_csv(opts: &PlanOptions, slos: &[SloArg], probes: &[&Probe]) -> Result<Vec<u8>, AppError> {
    let all: Vec<usize> = (0..slos.len()).collect();
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header: Vec<String> = opts.vary.clone();
    header.push("meets_slos".into());
    for s in slos {
        let name = slo_name(slos, s);
        for stat in ["mean", "ci_low", "ci_high"] {
            header.push(format!("{name}_{stat}"));
        }
    }
    header.extend(["verdict", "replications", "cost_usd"].map(String::from));
    let io = |e: csv::Error| AppError::Output(e.to_string());
    w.write_record(&header).map_err(io)?;
    let cell = |x: Option<f64>| Cell::Num(x).to_csv();
    for p in probes {
        let mut row: Vec<String> = p.values.iter().map(u64::to_string).collect();
        row.push(p.side(&all).meets().to_string());
        for (s, e) in slos.iter().zip(&p.estimates) {
            row.push(cell(e.map(|e| e.mean)));
            row.push(cell(e.and_then(|e| e.low()).map(|x| s.metric.clip(x))));
            row.push(cell(e.and_then(|e| e.high()).map(|x| s.metric.clip(x))));
        }
        row.push(p.side(&all).label().into());
        row.push(p.replications.to_string());
        row.push(cell(Some(p.cost_usd)));
        w.write_record(&row).map_err(io)?;
    }
    w.into_inner().map_err(|e| AppError::Output(e.to_string()))
}

/// One SLO of a probe as text: `image-plus.wait_p95 ≤ 30s: 28.1s [27.1s, 29.0s]`.
fn slo_text(s: &SloArg, p: &Probe, i: usize) -> String {
    let bound = match (s.max, s.min) {
        (Some(b), _) => format!(" ≤ {}", show(s.metric, b)),
        (None, Some(b)) => format!(" ≥ {}", show(s.metric, b)),
        _ => String::new(),
    };
    match p.estimates[i] {
        Some(e) => match (e.low(), e.high()) {
            (Some(lo), Some(hi)) => format!(
                "{}.{}{bound}: {} [{}, {}]",
                s.class,
                s.metric,
                show(s.metric, e.mean),
                show(s.metric, s.metric.clip(lo)),
                show(s.metric, s.metric.clip(hi))
            ),
            _ => format!(
                "{}.{}{bound}: {} (one replication, no interval)",
                s.class,
                s.metric,
                show(s.metric, e.mean)
            ),
        },
        None => format!("{}.{}{bound}: no value", s.class, s.metric),
    }
}

/// How a probe came out, in words.
fn side_text(side: Side, p: &Probe, confidence: f64) -> String {
    let level = format!("{}%", format_number(confidence * 100.0));
    match side {
        Side::Meets => format!("meets at {level} ({} replications)", p.replications),
        Side::Misses if p.stopped_early => "misses (a replication hit its budget)".into(),
        Side::Misses => format!("misses at {level} ({} replications)", p.replications),
        Side::Undecided(m) => format!(
            "undecided at {level} after {} replications ({}), taken as missing",
            p.replications,
            if m { "the means meet" } else { "a mean misses" }
        ),
    }
}

/// The probe at the answer.
fn at_answer_of<'p>(pr: &'p Prober<'_>, answer: Option<&Answer>) -> Option<&'p Probe> {
    let a = answer?;
    pr.probes.iter().find(|p| p.values == a.values)
}

/// `needed.csv`: per varied pool and hour, the M/M/c GPUs that would have
/// met its wait SLOs (see [`super::needed`]), over the answer's
/// replications.
fn needed_csv(opts: &PlanOptions, base: &Scenario, p: &Probe) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let _ = w.write_record([
        "pool",
        "hour_start_s",
        "arrival_rate_per_s",
        "mean_service_s",
        "offered_gpus",
        "gpus_online_mean",
        "needed_gpus_mean",
        "needed_gpus_max",
        "replications",
    ]);
    let num = |x: Option<f64>| Cell::Num(x).to_csv();
    for (d, path) in opts.vary.iter().enumerate() {
        let Some(pool) = super::pool_of(base, path) else {
            continue;
        };
        let hours = p.reps.first().map_or(0, |r| r.hours[d].len());
        for h in 0..hours {
            let each: Vec<&super::needed::Hour> = p.reps.iter().map(|r| &r.hours[d][h]).collect();
            let n = each.len() as f64;
            let mean = |f: &dyn Fn(&super::needed::Hour) -> f64| {
                each.iter().map(|x| f(x)).sum::<f64>() / n
            };
            let needed: Option<Vec<u32>> = each.iter().map(|x| x.needed).collect();
            let _ = w.write_record([
                base.pools[pool].name.clone(),
                format_number(each[0].start_s),
                num(Some(mean(&|x| x.lambda))),
                num(Some(mean(&|x| x.mean_service_s))),
                num(Some(mean(&|x| x.lambda * x.mean_service_s))),
                num(Some(mean(&|x| x.online))),
                num(needed
                    .as_ref()
                    .map(|v| v.iter().map(|&c| f64::from(c)).sum::<f64>() / n)),
                num(needed
                    .as_ref()
                    .and_then(|v| v.iter().max())
                    .map(|&c| f64::from(c))),
                each.len().to_string(),
            ]);
        }
    }
    w.into_inner().unwrap_or_default()
}

/// Write `plan.csv` and print the answer.
#[allow(clippy::too_many_arguments)]
pub(crate) fn finish(
    path: &Path,
    opts: &PlanOptions,
    base: &Scenario,
    slos: &[SloArg],
    pr: &Prober<'_>,
    resolution: Resolution,
    answer: Option<&Answer>,
) -> Result<(), AppError> {
    let all: Vec<usize> = (0..slos.len()).collect();
    let mut sorted: Vec<&Probe> = pr.probes.iter().collect();
    sorted.sort_by(|a, b| a.values.cmp(&b.values));
    let bytes = plan_csv(opts, slos, &sorted)?;
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
    let staged = crate::app::Staged::begin(&out)?;
    staged.copy_existing(|name| name != "plan.csv" && name != "needed.csv")?;
    let file = staged.dir().join("plan.csv");
    write_atomic(&file, &bytes)
        .map_err(|e| AppError::Output(format!("cannot write {}: {e}", file.display())))?;
    let needed = at_answer_of(pr, answer).map(|p| needed_csv(opts, base, p));
    if let Some(bytes) = &needed {
        let file = staged.dir().join("needed.csv");
        write_atomic(&file, bytes)
            .map_err(|e| AppError::Output(format!("cannot write {}: {e}", file.display())))?;
    }
    if let Some(format) = opts.charts {
        let chart_slos: Vec<crate::report::PlanSlo> = slos
            .iter()
            .map(|s| crate::report::PlanSlo {
                name: slo_name(slos, s),
                label: format!("{}.{}", s.class, s.metric),
                bound: s.max.or(s.min).unwrap_or(f64::NAN),
                upper: s.max.is_some(),
                seconds: s.metric.unit() == crate::metric::Unit::Seconds,
            })
            .collect();
        crate::report::plan_charts(
            &bytes,
            &chart_slos,
            answer.map(|a| a.values.as_slice()),
            &staged.dir().join("charts"),
            format,
        )
        .map_err(AppError::Output)?;
    }
    staged.commit()?;

    let find = |values: &[u64]| pr.probes.iter().find(|p| p.values == values);
    let at_answer = answer.and_then(|a| find(&a.values));
    // The nearest probe that did not meet along each path, the others at
    // the answer: below it (above it with --maximize).
    let misses: Vec<(usize, &Probe)> = answer
        .map(|a| {
            (0..a.values.len())
                .filter_map(|d| {
                    pr.probes
                        .iter()
                        .filter(|p| {
                            !p.side(&all).meets()
                                && (0..a.values.len()).all(|e| e == d || p.values[e] == a.values[e])
                                && if opts.maximize {
                                    p.values[d] > a.values[d]
                                } else {
                                    p.values[d] < a.values[d]
                                }
                        })
                        .min_by_key(|p| p.values[d].abs_diff(a.values[d]))
                        .map(|p| (d, p))
                })
                .collect()
        })
        .unwrap_or_default();
    // The answer and its evidence, one line each: the answer's verdict,
    // its SLOs, and each nearest miss with the SLOs it did not meet.
    let lines: Vec<String> = match (answer, at_answer) {
        (Some(a), Some(p)) => {
            let mut v = vec![format!(
                "{} {}",
                pr.label(&a.values),
                side_text(p.side(&all), p, opts.confidence)
            )];
            v.extend(all.iter().map(|&i| slo_text(&slos[i], p, i)));
            for (_, m) in &misses {
                let short: Vec<String> = all
                    .iter()
                    .filter(|&&i| m.verdicts[i] != crate::slo::Verdict::Pass)
                    .map(|&i| slo_text(&slos[i], m, i))
                    .collect();
                v.push(format!(
                    "nearest miss: {} {}{}{}",
                    pr.label(&m.values),
                    side_text(m.side(&all), m, opts.confidence),
                    if short.is_empty() { "" } else { ": " },
                    short.join("; ")
                ));
            }
            v
        }
        _ if !pr.notes.is_empty() => {
            let mut v = vec![format!("none: {}", pr.notes[0])];
            v.extend(pr.notes[1..].iter().cloned());
            v
        }
        _ => vec![format!(
            "no value of {} in [{}, {}] meets the SLOs",
            opts.vary.join(", "),
            opts.min,
            opts.max
        )],
    };
    let statement = lines.join("; ");
    if opts.common.json {
        let probes: Vec<serde_json::Value> = sorted
            .iter()
            .map(|p| {
                serde_json::json!({
                    "values": opts.vary.iter().zip(&p.values).map(|(k, v)| (k.clone(), serde_json::json!(v))).collect::<serde_json::Map<_, _>>(),
                    "value": (opts.vary.len() == 1).then(|| p.values[0]),
                    "verdict": p.side(&all).label(),
                    "meets_slos": p.side(&all).meets(),
                    "replications": p.replications,
                    "stopped_early": p.stopped_early,
                    "cost_usd": p.cost_usd,
                    "wall_s": p.wall.as_secs_f64(),
                    "slos": slos.iter().zip(&p.estimates).map(|(s, e)| serde_json::json!({
                        "class": s.class,
                        "metric": s.metric,
                        "max": s.max,
                        "min": s.min,
                        "mean": e.map(|e| e.mean),
                        "ci_low": e.and_then(|e| e.low()).map(|x| s.metric.clip(x)),
                        "ci_high": e.and_then(|e| e.high()).map(|x| s.metric.clip(x)),
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        let values = answer.map(|a| {
            opts.vary
                .iter()
                .zip(&a.values)
                .map(|(k, v)| (k.clone(), serde_json::json!(v)))
                .collect::<serde_json::Map<_, _>>()
        });
        let value = serde_json::json!({
            "vary": if opts.vary.len() == 1 { serde_json::json!(opts.vary[0]) } else { serde_json::json!(opts.vary) },
            "answer": match answer {
                Some(a) if a.values.len() == 1 => serde_json::json!(a.values[0]),
                Some(_) => serde_json::json!(values),
                None => serde_json::Value::Null,
            },
            "values": values,
            "verdict": at_answer.map(|p| p.side(&all).label()),
            "confidence": opts.confidence,
            "resolution": resolution.to_string(),
            "nearest_misses": misses.iter().map(|(d, p)| serde_json::json!({
                "path": opts.vary[*d],
                "value": p.values[*d],
                "verdict": p.side(&all).label(),
            })).collect::<Vec<_>>(),
            "cost_usd": at_answer.map(|p| p.cost_usd),
            "cost_per_hour": answer.and_then(|a| a.cost_per_hour),
            "statement": statement,
            "maximize": opts.maximize,
            "probes": probes,
            "wall_s": pr.elapsed().as_secs_f64(),
            "plan_csv": out.join("plan.csv"),
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&value).unwrap_or_default()
        );
        return Ok(());
    }
    if opts.common.quiet {
        // Scripts that silence the table still get the answer.
        match answer {
            Some(a) if a.values.len() == 1 => println!("{}", a.values[0]),
            Some(a) => println!("{}", pr.label(&a.values)),
            None => println!("none"),
        }
        return Ok(());
    }
    let width = opts.vary.iter().map(String::len).max().unwrap_or(0).max(10);
    println!(
        "{:>width$}  {:<10} {:>4}  SLOs (mean [{}% CI])",
        opts.vary.join(" "),
        "verdict",
        "reps",
        format_number(opts.confidence * 100.0)
    );
    for p in &sorted {
        let parts: Vec<String> = all.iter().map(|&i| slo_text(&slos[i], p, i)).collect();
        let values: Vec<String> = p.values.iter().map(u64::to_string).collect();
        println!(
            "{:>width$}  {:<10} {:>4}  {}",
            values.join(" "),
            p.side(&all).label(),
            p.replications,
            parts.join("; ")
        );
    }
    let cost = match (answer.and_then(|a| a.cost_per_hour), at_answer) {
        (Some(h), Some(p)) => format!(
            " cost: {} per hour of the varied pools (cost_per_gpu_hour × GPUs; total GPUs without prices), ${:.0} for the run (pools.csv's cost_usd).",
            format_number(h),
            p.cost_usd
        ),
        _ => String::new(),
    };
    // A group of more than two coupled varied pools was searched
    // coordinate-wise only.
    let group = super::search::groups(base, slos);
    let varied: Vec<usize> = opts
        .vary
        .iter()
        .filter_map(|v| super::pool_of(base, v))
        .map(|p| group[p])
        .collect();
    let pools = if varied
        .iter()
        .any(|g| varied.iter().filter(|h| *h == g).count() > 2)
    {
        " (more than two interacting pools: the allocation is one where no pool alone can shrink, not proven the cheapest)"
    } else {
        ""
    };
    println!("answer: {}", lines[0]);
    for l in &lines[1..] {
        if l.starts_with("nearest miss") {
            println!("{l}");
        } else {
            println!("  {l}");
        }
    }
    if !cost.is_empty() || !pools.is_empty() {
        println!("{}{pools}", cost.trim_start());
    }
    if let Some(peak) = at_answer
        .and_then(|p| p.reps.first())
        .map(|r| {
            r.hours
                .iter()
                .zip(&opts.vary)
                .filter_map(|(h, path)| {
                    let top = h
                        .iter()
                        .filter(|x| x.needed.is_some())
                        .max_by_key(|x| x.needed)?;
                    Some(format!(
                        "{path} {} at {}",
                        top.needed.unwrap_or(0),
                        crate::engine::SimDuration::from_secs_f64(top.start_s)
                    ))
                })
                .collect::<Vec<_>>()
        })
        .filter(|v| !v.is_empty())
    {
        println!(
            "needed capacity hour by hour (M/M/c on each hour's load and the wait SLOs) in {}: the busiest hour needs {}",
            out.join("needed.csv").display(),
            peak.join(", ")
        );
    }
    println!(
        "resolution {resolution}; {} probes in {:.1}s; every probe in {}",
        pr.probes.len(),
        pr.elapsed().as_secs_f64(),
        out.join("plan.csv").display()
    );
    Ok(())
}
