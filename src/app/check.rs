//! `surge check` (SLO gate for CI) and `surge compare` (paired differences
//! on common random numbers); `surge plan` is in `plan.rs`.

use super::{AppError, load_all, run_info, run_replications, with_jobs, write_run_outputs};
use crate::metric::{Metric, Unit};
use crate::model::{RunResult, Scenario};
use crate::report::{Estimate, estimate, format_secs, write_atomic};
use crate::rows::{self, SummaryRow};
use crate::scenario::Override;
use crate::slo::{self, Verdict};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Options of `surge check`.
#[derive(Clone, Debug, Default)]
pub struct CheckOptions {
    /// Output folder for the runs (default `output/NAME/`).
    pub out: Option<PathBuf>,
    /// Overrides the seed.
    pub seed: Option<u64>,
    /// Overrides the replications.
    pub replications: Option<u32>,
    /// `--set` overrides.
    pub overrides: Vec<Override>,
    /// Write JUnit XML here.
    pub junit: Option<PathBuf>,
    /// Print JSON instead of a table.
    pub json: bool,
    /// Compare with the outputs of a previous run.
    pub baseline: Option<PathBuf>,
    /// Relative change below which a difference is never a regression.
    pub tolerance: f64,
    /// Uncertain bounds fail too.
    pub strict: bool,
    /// Worker threads.
    pub jobs: Option<usize>,
    /// No table.
    pub quiet: bool,
}

/// One evaluated check.
#[derive(Clone, Debug, serde::Serialize)]
struct Outcome {
    scenario: String,
    name: String,
    class: String,
    metric: Metric,
    value: Option<f64>,
    ci_low: Option<f64>,
    ci_high: Option<f64>,
    n: usize,
    verdict: &'static str,
    detail: String,
}

/// A value of `metric` for a table: seconds with a unit, else 4 decimals.
pub(super) fn show(metric: Metric, x: f64) -> String {
    if metric.unit() == Unit::Seconds {
        format_secs(x)
    } else {
        format!("{x:.4}")
    }
}

fn outcome(
    scenario: &str,
    name: String,
    class: &str,
    metric: Metric,
    e: Option<Estimate>,
    verdict: Verdict,
    detail: String,
) -> Outcome {
    Outcome {
        scenario: scenario.to_string(),
        name,
        class: class.to_string(),
        metric,
        value: e.map(|e| e.mean),
        ci_low: e.and_then(|e| e.low()).map(|x| metric.clip(x)),
        ci_high: e.and_then(|e| e.high()).map(|x| metric.clip(x)),
        n: e.map_or(0, |e| e.n),
        verdict: verdict.label(),
        detail,
    }
}

/// Per-replication values of `metric` for `class` in a `summary.csv`, or
/// for a token-level metric in the `serving.csv` beside it.
fn baseline_values(path: &Path, class: &str, metric: Metric) -> Result<Vec<f64>, AppError> {
    let bad = AppError::Input;
    if metric.is_serving() {
        let path = path.with_file_name("serving.csv");
        let bytes = std::fs::read(&path).map_err(|e| {
            bad(format!(
                "{}: {e} (the baseline has no token-level results for {class})",
                path.display()
            ))
        })?;
        let rows: Vec<crate::rows::ServingRow> =
            rows::read(&path.display().to_string(), &bytes).map_err(bad)?;
        return Ok(rows
            .iter()
            .filter(|r| r.class == class)
            .filter_map(|r| r.metric(metric))
            .collect());
    }
    let bytes = std::fs::read(path).map_err(|e| bad(format!("{}: {e}", path.display())))?;
    let rows: Vec<SummaryRow> = rows::read(&path.display().to_string(), &bytes).map_err(bad)?;
    Ok(rows
        .iter()
        .filter(|r| r.class == class)
        .filter_map(|r| r.metric(metric))
        .collect())
}

/// `surge check`: evaluate every `[[slo]]`; `Ok(false)` if any failed.
pub fn check(paths: &[PathBuf], opts: &CheckOptions) -> Result<bool, AppError> {
    let mut loaded = load_all(paths, &opts.overrides)?;
    let mut outcomes = Vec::new();
    let many = loaded.len() > 1;
    for (l, path) in loaded.iter_mut().zip(paths) {
        let s = &mut l.scenario;
        if let Some(seed) = opts.seed {
            s.seed = seed;
        }
        if let Some(r) = opts.replications {
            s.replications = r;
        }
        let s = &l.scenario;
        if s.slos.is_empty() && opts.baseline.is_none() {
            eprintln!("warning: {}: no [[slo]] entries: nothing to check", s.name);
        }
        let runs = with_jobs(opts.jobs, || run_replications(s))??;
        let out = match (&opts.out, many) {
            (Some(o), false) => o.clone(),
            (Some(o), true) => o.join(&s.name),
            (None, _) => Path::new("output").join(&s.name),
        };
        let info = run_info("check", path, l, &opts.overrides);
        let staged = super::Staged::begin(&out)?;
        write_run_outputs(staged.dir(), s, &runs, &info)?;
        staged.commit()?;
        for slo_spec in &s.slos {
            let scope = slo_spec.scope();
            let e = slo::estimate_metric(&runs, &scope, slo_spec.metric);
            let mut verdict = slo::judge(e, slo_spec.max, slo_spec.min);
            // A gross violation cannot hide in a wide interval: when every
            // replication is beyond the bound, the bound fails.
            let values: Vec<f64> = runs
                .iter()
                .filter_map(|r| slo::value(r, &scope, slo_spec.metric))
                .collect();
            let beyond = |v: &f64| {
                slo_spec.max.is_some_and(|m| *v > m) || slo_spec.min.is_some_and(|m| *v < m)
            };
            if verdict == Verdict::Warn && !values.is_empty() && values.iter().all(beyond) {
                verdict = Verdict::Fail;
            }
            if verdict == Verdict::Warn && opts.strict {
                verdict = Verdict::Fail;
            }
            // A run stopped by its budget is overloaded: its SLOs fail.
            if runs.iter().any(|r| r.stopped.is_some()) {
                verdict = Verdict::Fail;
            }
            let mut bound = Vec::new();
            if let Some(m) = slo_spec.min {
                bound.push(format!("≥ {}", show(slo_spec.metric, m)));
            }
            if let Some(m) = slo_spec.max {
                bound.push(format!("≤ {}", show(slo_spec.metric, m)));
            }
            let name = format!("{} {} {}", scope, slo_spec.metric, bound.join(" and "));
            outcomes.push(outcome(
                &s.name,
                name,
                &scope,
                slo_spec.metric,
                e,
                verdict,
                String::new(),
            ));
        }
        if let Some(base) = &opts.baseline {
            let file = [
                base.join(&s.name).join("summary.csv"),
                base.join("summary.csv"),
            ]
            .into_iter()
            .find(|p| p.exists())
            .ok_or_else(|| {
                AppError::Input(format!(
                    "--baseline {}: no summary.csv there",
                    base.display()
                ))
            })?;
            let mut metrics: Vec<(String, Metric)> =
                // Stage SLOs have no baseline in summary.csv.
                s.slos
                    .iter()
                    .filter(|x| x.stage.is_none())
                    .map(|x| (x.class.clone(), x.metric))
                    .collect();
            for c in s
                .classes
                .iter()
                .map(|c| c.name.clone())
                .chain(["all".to_string()])
            {
                metrics.push((c, Metric::LatencyP99));
            }
            // A class on a serving pool (and `all`, when one is): its TTFT
            // and TPOT tails too.
            if let Some(first) = runs.first() {
                let all = std::iter::once(&first.all);
                for c in first.classes.iter().chain(all).filter(|c| c.ttft.is_some()) {
                    metrics.push((c.name.clone(), Metric::TtftP99));
                    metrics.push((c.name.clone(), Metric::TpotP99));
                }
            }
            // Each (class, metric) once, in first-seen order.
            let mut seen = std::collections::BTreeSet::new();
            metrics.retain(|m| seen.insert(m.clone()));
            for (class, metric) in metrics {
                let before = baseline_values(&file, &class, metric)?;
                let now: Vec<f64> = runs
                    .iter()
                    .filter_map(|r| slo::value(r, &class, metric))
                    .collect();
                let (Some(eb), Some(en)) = (estimate(&before), estimate(&now)) else {
                    continue;
                };
                let worse_is_up = metric.higher_is_worse();
                let change = if eb.mean != 0.0 {
                    (en.mean - eb.mean) / eb.mean.abs()
                } else {
                    0.0
                };
                let worse = if worse_is_up {
                    change > opts.tolerance
                } else {
                    -change > opts.tolerance
                };
                let p = if worse_is_up {
                    slo::welch_p_greater(&before, &now)
                } else {
                    slo::welch_p_greater(&now, &before)
                };
                let significant = p.is_none_or(|p| p < 0.05);
                let verdict = if worse && significant {
                    Verdict::Fail
                } else {
                    Verdict::Pass
                };
                let detail = format!(
                    "baseline {} → {} ({:+.1}%{})",
                    show(metric, eb.mean),
                    show(metric, en.mean),
                    change * 100.0,
                    p.map_or(", no noise estimate: n < 2".to_string(), |p| format!(
                        ", Welch p = {p:.3}"
                    ))
                );
                outcomes.push(outcome(
                    &s.name,
                    format!("regression: {class} {metric}"),
                    &class,
                    metric,
                    Some(en),
                    verdict,
                    detail,
                ));
            }
        }
    }
    let failed = outcomes.iter().any(|o| o.verdict == "FAIL");
    if opts.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&outcomes).unwrap_or_default()
        );
    } else if !opts.quiet {
        print!("{}", check_table(&outcomes));
    }
    if let Some(path) = &opts.junit {
        write_atomic(path, junit(&outcomes).as_bytes())
            .map_err(|e| AppError::Output(format!("cannot write {}: {e}", path.display())))?;
    }
    Ok(!failed)
}

fn check_table(outcomes: &[Outcome]) -> String {
    let mut out = String::new();
    for o in outcomes {
        let value = match (o.value, o.ci_low, o.ci_high) {
            (Some(v), Some(lo), Some(hi)) => format!(
                "{} [{}, {}]",
                show(o.metric, v),
                show(o.metric, lo),
                show(o.metric, hi)
            ),
            (Some(v), _, _) => show(o.metric, v),
            _ => "no value".into(),
        };
        let _ = writeln!(
            out,
            "{:<5} {}: {}  {}{}",
            o.verdict,
            o.scenario,
            o.name,
            value,
            if o.detail.is_empty() {
                String::new()
            } else {
                format!("  {}", o.detail)
            }
        );
    }
    let failed = outcomes.iter().filter(|o| o.verdict == "FAIL").count();
    let warned = outcomes.iter().filter(|o| o.verdict == "warn").count();
    let _ = writeln!(
        out,
        "{} checks: {} passed, {} failed, {} uncertain (95% CI straddles the bound)",
        outcomes.len(),
        outcomes.len() - failed - warned,
        failed,
        warned
    );
    out
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// JUnit XML: a test suite per scenario, a test case per check.
fn junit(outcomes: &[Outcome]) -> String {
    let mut suites: Vec<&str> = Vec::new();
    for o in outcomes {
        if !suites.contains(&o.scenario.as_str()) {
            suites.push(&o.scenario);
        }
    }
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"surge check\">\n",
    );
    for suite in suites {
        let cases: Vec<&Outcome> = outcomes.iter().filter(|o| o.scenario == suite).collect();
        let failures = cases.iter().filter(|o| o.verdict == "FAIL").count();
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\">",
            xml(suite),
            cases.len()
        );
        for o in cases {
            let value = o.value.map_or("no value".into(), |v| show(o.metric, v));
            let _ = write!(
                out,
                "    <testcase classname=\"{}\" name=\"{}\"",
                xml(suite),
                xml(&o.name)
            );
            match o.verdict {
                "FAIL" => {
                    let _ = writeln!(
                        out,
                        ">\n      <failure message=\"{}\">value {}{}</failure>\n    </testcase>",
                        xml(&format!("{} violated", o.name)),
                        xml(&value),
                        xml(&if o.detail.is_empty() {
                            String::new()
                        } else {
                            format!("; {}", o.detail)
                        })
                    );
                }
                "warn" => {
                    let _ = writeln!(
                        out,
                        ">\n      <system-out>uncertain: the 95% CI of {} straddles the bound</system-out>\n    </testcase>",
                        xml(&value)
                    );
                }
                _ => {
                    let _ = writeln!(out, "/>");
                }
            }
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

/// `surge compare`: scenario A vs B (or one scenario with two sets of
/// overrides), replication by replication on common random numbers.
pub fn compare(
    a: &Path,
    b: &Path,
    set_a: &[Override],
    set_b: &[Override],
    opts: &CheckOptions,
) -> Result<(), AppError> {
    let load = |p: &Path, extra: &[Override]| -> Result<Scenario, AppError> {
        let mut ov = opts.overrides.clone();
        ov.extend_from_slice(extra);
        let mut s = load_all(&[p.to_path_buf()], &ov)?.remove(0).scenario;
        if let Some(seed) = opts.seed {
            s.seed = seed;
        }
        if let Some(r) = opts.replications {
            s.replications = r;
        }
        Ok(s)
    };
    let (sa, sb) = (load(a, set_a)?, load(b, set_b)?);
    if sa.seed != sb.seed || sa.replications != sb.replications {
        return Err(AppError::Input(
            "compare needs the same seed and replications on both sides (common random numbers)"
                .into(),
        ));
    }
    if sa.replications < 2 {
        return Err(AppError::Input(
            "compare needs at least 2 replications for a confidence interval: use --replications"
                .into(),
        ));
    }
    let (ra, rb) = with_jobs(opts.jobs, || (run_replications(&sa), run_replications(&sb)))?;
    let (ra, rb) = (ra?, rb?);
    let rows = paired_rows(&ra, &rb);
    // compare.csv: one row per (class, metric), in the output folder.
    let out = opts
        .out
        .clone()
        .unwrap_or_else(|| Path::new("output").join(format!("compare-{}-{}", sa.name, sb.name)));
    let staged = super::Staged::begin(&out)?;
    let mut w = csv::Writer::from_writer(Vec::new());
    let cell = |x: f64| crate::rows::csv_float(Some(x));
    let _ = w.write_record([
        "class",
        "metric",
        "a",
        "b",
        "diff",
        "ci_low",
        "ci_high",
        "significant",
    ]);
    for r in &rows {
        let _ = w.write_record([
            r.class.clone(),
            r.metric.name().to_string(),
            cell(r.a),
            cell(r.b),
            cell(r.diff),
            cell(r.ci_low),
            cell(r.ci_high),
            r.significant.to_string(),
        ]);
    }
    let bytes = w
        .into_inner()
        .map_err(|e| AppError::Output(e.to_string()))?;
    let file = staged.dir().join("compare.csv");
    write_atomic(&file, &bytes)
        .map_err(|e| AppError::Output(format!("cannot write {}: {e}", file.display())))?;
    staged.commit()?;
    if opts.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&rows).unwrap_or_default()
        );
        return Ok(());
    }
    print!("{}", compare_text(&rows, sa.replications));
    println!("outputs: {}/", out.display());
    Ok(())
}

/// Seconds in one unit, picked from the largest magnitude of a row, so that
/// A, B and the difference read against each other ("17.5m" beside
/// "523.13s" did not).
fn secs_in(unit: (&str, f64), x: f64) -> String {
    if !x.is_finite() {
        return "-".into();
    }
    let v = x / unit.1;
    let digits = if v.abs() >= 100.0 { 1 } else { 2 };
    format!("{v:.digits$}{}", unit.0)
}

/// The unit a row of seconds is shown in: that of its largest value.
fn row_unit(values: &[f64]) -> (&'static str, f64) {
    let a = values
        .iter()
        .filter(|v| v.is_finite())
        .fold(0.0f64, |m, v| m.max(v.abs()));
    if a < 1e-3 {
        ("µs", 1e-6)
    } else if a < 1.0 {
        ("ms", 1e-3)
    } else if a < 600.0 {
        ("s", 1.0)
    } else if a < 7_200.0 {
        ("m", 60.0)
    } else {
        ("h", 3600.0)
    }
}

/// The printed comparison: one row per (class, metric), each row's times
/// in one unit, columns as wide as their widest cell.
fn compare_text(rows: &[PairedRow], replications: u32) -> String {
    let cells: Vec<[String; 5]> = rows
        .iter()
        .map(|r| {
            let values = [r.a, r.b, r.diff, r.ci_low, r.ci_high];
            let f = |x: f64| match r.metric.unit() {
                Unit::Seconds => secs_in(row_unit(&values), x),
                _ => format!("{x:.4}"),
            };
            [
                r.class.clone(),
                r.metric.name().to_string(),
                f(r.a),
                f(r.b),
                format!("{} [{}, {}]", f(r.diff), f(r.ci_low), f(r.ci_high))
                    + if r.significant { " *" } else { "" },
            ]
        })
        .collect();
    let header = ["class", "metric", "A", "B", "B − A [95% CI]"];
    let width = |k: usize| {
        cells
            .iter()
            .map(|c| c[k].chars().count())
            .chain([header[k].chars().count()])
            .max()
            .unwrap_or(0)
    };
    let w: Vec<usize> = (0..5).map(width).collect();
    let mut out =
        format!("B − A, paired by replication (n = {replications}), 95% CI; * = significant\n");
    let line = |c: &[String; 5]| {
        format!(
            "{:<w0$}  {:<w1$}  {:>w2$}  {:>w3$}  {}\n",
            c[0],
            c[1],
            c[2],
            c[3],
            c[4],
            w0 = w[0],
            w1 = w[1],
            w2 = w[2],
            w3 = w[3]
        )
    };
    out.push_str(&line(&header.map(String::from)));
    for c in &cells {
        out.push_str(&line(c));
    }
    out
}

/// One paired comparison.
#[derive(Clone, Debug, serde::Serialize)]
pub struct PairedRow {
    /// Class (or `all`).
    pub class: String,
    /// Metric.
    pub metric: Metric,
    /// Mean under A.
    pub a: f64,
    /// Mean under B.
    pub b: f64,
    /// Mean of the paired differences B − A.
    pub diff: f64,
    /// 95% CI of the mean difference.
    pub ci_low: f64,
    /// 95% CI of the mean difference.
    pub ci_high: f64,
    /// Whether the CI excludes 0.
    pub significant: bool,
}

/// Paired differences B − A per class and metric.
pub fn paired_rows(ra: &[RunResult], rb: &[RunResult]) -> Vec<PairedRow> {
    let mut rows = Vec::new();
    let Some(first) = ra.first() else { return rows };
    let classes: Vec<String> = first
        .classes
        .iter()
        .map(|c| c.name.clone())
        .chain(["all".to_string()])
        .collect();
    for class in &classes {
        // Token-level metrics too for a class that has them (serving).
        for &metric in Metric::COMPARED.iter().chain(Metric::SERVING_COMPARED) {
            let mut a = Vec::new();
            let mut b = Vec::new();
            let mut d = Vec::new();
            for (x, y) in ra.iter().zip(rb) {
                let vx = slo::value(x, class, metric);
                let vy = slo::value(y, class, metric);
                if let (Some(vx), Some(vy)) = (vx, vy) {
                    a.push(vx);
                    b.push(vy);
                    d.push(vy - vx);
                }
            }
            let (Some(ea), Some(eb), Some(ed)) = (estimate(&a), estimate(&b), estimate(&d)) else {
                continue;
            };
            let (lo, hi) = (ed.low().unwrap_or(ed.mean), ed.high().unwrap_or(ed.mean));
            rows.push(PairedRow {
                class: class.clone(),
                metric,
                a: ea.mean,
                b: eb.mean,
                diff: ed.mean,
                ci_low: lo,
                ci_high: hi,
                significant: lo > 0.0 || hi < 0.0,
            });
        }
    }
    rows
}
