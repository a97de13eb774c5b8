//! `report.html`: one self-contained page (charts embedded as data URIs,
//! no scripts, no network) with what was run, its warnings, the summary
//! tables and every chart. A pure function of the output folder's files,
//! so `surge chart DIR` rewrites it.

use super::csvdata::Csv;
use super::text::{format_secs, group};
use crate::metric::Metric;
use crate::rows::{self, PoolRow, ReplicaRow, ServingRow, StageRow, SummaryRow};
use crate::stats::{Estimate, estimate};
use tables::{serving_tables, stage_table};
mod caption;
mod slo;
mod sweep;
mod tables;

use base64::Engine;
use caption::caption;
use serde::{Deserialize, Serialize};
use slo::slo_section;
use std::fmt::Write;
use sweep::sweep_section;

/// What was run: written as `scenario.json` next to the CSVs, so that the
/// report can be redrawn from the folder alone.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    /// `run` or `sweep`.
    pub command: String,
    /// The scenario's name.
    pub scenario: String,
    /// The scenario's description, if it has one.
    pub description: Option<String>,
    /// The scenario file, as given on the command line.
    pub file: String,
    /// Seed of every random stream.
    pub seed: u64,
    /// Replications (per point, for a sweep).
    pub replications: u32,
    /// `--set` overrides, as given.
    pub overrides: Vec<String>,
    /// Swept paths and their values (sweeps only).
    pub grid: Vec<(String, Vec<String>)>,
    /// Warnings found while loading (e.g. an unstable pool).
    pub warnings: Vec<String>,
    /// The resolved scenario, as `surge validate` prints it.
    pub resolved: String,
    /// The surge version that wrote the folder.
    pub surge_version: String,
    /// The classes, in scenario order (empty in folders written before
    /// it existed, as are the fields below).
    #[serde(default)]
    pub classes: Vec<ClassInfo>,
    /// The pools, in scenario order.
    #[serde(default)]
    pub pools: Vec<String>,
    /// Arrivals stop here (seconds).
    #[serde(default)]
    pub duration_s: f64,
    /// The warm-up (seconds).
    #[serde(default)]
    pub warmup_s: f64,
    /// The scenario's `start` (clock time of time 0), as `HH:MM` or
    /// `YYYY-MM-DD HH:MM`.
    #[serde(default)]
    pub start: Option<String>,
    /// The scenario's SLOs (with `--slo` ones for `check`).
    #[serde(default)]
    pub slos: Vec<SloInfo>,
    /// With `--precision`: why replicating stopped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replications_stop: Option<String>,
}

/// A class as the charts and the report show it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ClassInfo {
    /// Its name.
    pub name: String,
    /// The pool it runs on.
    pub pool: String,
    /// Its `latency_target`, seconds.
    pub latency_target_s: Option<f64>,
    /// A serving class's `ttft_target`, seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttft_target_s: Option<f64>,
    /// A serving class's `tpot_target`, seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tpot_target_s: Option<f64>,
}

/// An SLO: a bound on a class's metric (seconds for times).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SloInfo {
    /// Class name, or `all`.
    pub class: String,
    /// The metric's name, as in `[[slo]]` (e.g. `latency_p99`).
    pub metric: String,
    /// Lower bound.
    pub min: Option<f64>,
    /// Upper bound.
    pub max: Option<f64>,
}

impl RunInfo {
    /// Each class with its pool, for `sweep.csv`.
    pub fn class_pools(&self) -> Vec<(String, String)> {
        self.classes
            .iter()
            .map(|c| (c.name.clone(), c.pool.clone()))
            .collect()
    }
}

/// The files a report is made of.
#[derive(Debug, Default)]
pub struct ReportInput<'a> {
    /// `scenario.json`, if the folder has one.
    pub info: Option<&'a RunInfo>,
    /// `summary.csv`.
    pub summary_csv: &'a [u8],
    /// `pools.csv`.
    pub pools_csv: &'a [u8],
    /// A run's `stages.csv` (scenarios with workflows).
    pub stages_csv: Option<&'a [u8]>,
    /// A run's `serving.csv` (scenarios with serving pools).
    pub serving_csv: Option<&'a [u8]>,
    /// A run's `replicas.csv` (scenarios with serving pools).
    pub replicas_csv: Option<&'a [u8]>,
    /// `sweep.csv`, for a sweep.
    pub sweep_csv: Option<&'a [u8]>,
    /// Charts: file name and bytes (PNG or SVG).
    pub charts: Vec<super::ChartFile>,
}

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// How a column's values read in the report.
#[derive(Clone, Copy)]
enum Kind {
    Count,
    Seconds,
    /// Seconds in one unit for a whole column: divisor, unit, decimals.
    SecondsIn(f64, &'static str, usize),
    Percent,
    Plain(usize),
    Dollars,
}

fn number(kind: Kind, x: f64) -> String {
    match kind {
        Kind::Count => group(x),
        Kind::Seconds => format_secs(x),
        Kind::SecondsIn(div, unit, d) => format!("{:.d$}{unit}", x / div),
        Kind::Percent => format!("{:.2}%", x * 100.0),
        Kind::Plain(d) => format!("{x:.d$}"),
        Kind::Dollars => format!("${}", group(x)),
    }
}

/// The unit of a column of durations: that of its largest value.
fn column_unit(values: impl Iterator<Item = f64>) -> Kind {
    let top = values.fold(0.0f64, |a, v| a.max(v.abs()));
    if top < 1.0 {
        Kind::SecondsIn(1e-3, "ms", 1)
    } else if top < 600.0 {
        Kind::SecondsIn(1.0, "s", 2)
    } else if top < 7200.0 {
        Kind::SecondsIn(60.0, "m", 2)
    } else {
        Kind::SecondsIn(3600.0, "h", 2)
    }
}

/// A table cell: the mean, and `± half-width` when there are replications.
fn cell(e: Option<Estimate>, kind: Kind) -> String {
    match e {
        None => "–".into(),
        Some(e) => match e.half_width {
            Some(h) if h > 0.0 => format!(
                "{} <span class=\"ci\">±{}</span>",
                esc(&number(kind, e.mean)),
                esc(&number(kind, h))
            ),
            _ => esc(&number(kind, e.mean)),
        },
    }
}

fn table(out: &mut String, header: &[&str], rows: &[Vec<String>]) {
    // A wide table scrolls inside its own box, not the page.
    out.push_str("<div class=\"wide\"><table>\n<thead><tr>");
    for h in header {
        let _ = write!(out, "<th>{}</th>", esc(h));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for r in rows {
        out.push_str("<tr>");
        for (i, c) in r.iter().enumerate() {
            if i == 0 {
                let _ = write!(out, "<th scope=\"row\">{c}</th>");
            } else {
                let _ = write!(out, "<td>{c}</td>");
            }
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table></div>\n");
}

const CLASS_COLUMNS: [(Metric, &str, Kind); 12] = [
    (Metric::Arrivals, "arrivals", Kind::Count),
    (Metric::Completed, "completed", Kind::Count),
    (Metric::Rejected, "rejected", Kind::Count),
    (Metric::Abandoned, "abandoned", Kind::Count),
    (Metric::Failed, "failed", Kind::Count),
    (Metric::InSystem, "in system", Kind::Count),
    (Metric::ThroughputPerS, "throughput / s", Kind::Plain(3)),
    (Metric::WaitMean, "wait mean", Kind::Seconds),
    (Metric::LatencyP50, "latency p50", Kind::Seconds),
    (Metric::LatencyP95, "p95", Kind::Seconds),
    (Metric::LatencyP99, "p99", Kind::Seconds),
    (Metric::SloAttainment, "SLO met", Kind::Percent),
];

type PoolColumn = (&'static str, Kind, fn(&PoolRow) -> f64);

const POOL_COLUMNS: [PoolColumn; 8] = [
    ("GPUs (mean)", Kind::Plain(1), |p| p.gpus_mean),
    ("offered ρ", Kind::Plain(3), |p| p.offered_load),
    ("peak load", Kind::Plain(3), |p| {
        p.peak_load.unwrap_or(f64::NAN)
    }),
    ("utilization", Kind::Percent, |p| p.utilization),
    ("queue mean", Kind::Plain(2), |p| p.queue_mean),
    ("queue max", Kind::Count, |p| p.queue_max as f64),
    ("GPU-hours", Kind::Plain(1), |p| p.gpu_hours),
    ("cost", Kind::Dollars, |p| p.cost_usd),
];

/// Distinct values in first-seen order.
fn distinct<'r>(values: impl Iterator<Item = &'r str>) -> Vec<&'r str> {
    let mut out: Vec<&str> = Vec::new();
    for v in values {
        if !out.contains(&v) {
            out.push(v);
        }
    }
    out
}

/// `names` in the scenario's order (`order`), then any others as found.
fn in_order<'r>(names: Vec<&'r str>, order: &[String]) -> Vec<&'r str> {
    let mut out: Vec<&str> = order
        .iter()
        .filter_map(|o| names.iter().copied().find(|n| n == o))
        .collect();
    let rest: Vec<&str> = names.into_iter().filter(|n| !out.contains(n)).collect();
    out.extend(rest);
    out
}

fn class_table(out: &mut String, summary: &[SummaryRow], order: &[String]) {
    let classes = in_order(distinct(summary.iter().map(|r| r.class.as_str())), order);
    let of = |class: &str, m: Metric| {
        let values: Vec<f64> = summary
            .iter()
            .filter(|r| r.class == class)
            .filter_map(|r| r.metric(m))
            .collect();
        estimate(&values)
    };
    let columns: Vec<(&str, Kind, Metric)> = CLASS_COLUMNS
        .iter()
        .map(|&(m, name, kind)| (name, kind, m))
        .collect();
    estimate_table(
        out,
        &["class"],
        &classes,
        |k| vec![esc(k)],
        &columns,
        |k, m| of(k, *m),
    );
}

/// A table of one row per key (`label` its first cells, under `lead`) and
/// one column per entry of `columns` (name, kind, what `of` reads), each
/// cell a mean ± its 95% half-width. Columns empty in every row are left
/// out, and each column of durations gets one unit, from its largest value.
fn estimate_table<K, C>(
    out: &mut String,
    lead: &[&str],
    keys: &[K],
    label: impl Fn(&K) -> Vec<String>,
    columns: &[(&str, Kind, C)],
    of: impl Fn(&K, &C) -> Option<Estimate>,
) {
    let columns: Vec<&(&str, Kind, C)> = columns
        .iter()
        .filter(|(_, _, c)| keys.iter().any(|k| of(k, c).is_some()))
        .collect();
    let kinds: Vec<Kind> = columns
        .iter()
        .map(|(_, kind, c)| match kind {
            Kind::Seconds => column_unit(keys.iter().filter_map(|k| of(k, c)).map(|e| e.mean)),
            k => *k,
        })
        .collect();
    let mut header = lead.to_vec();
    header.extend(columns.iter().map(|c| c.0));
    let rows: Vec<Vec<String>> = keys
        .iter()
        .map(|k| {
            let mut row = label(k);
            row.extend(
                columns
                    .iter()
                    .zip(&kinds)
                    .map(|((_, _, c), kind)| cell(of(k, c), *kind)),
            );
            row
        })
        .collect();
    table(out, &header, &rows);
}

/// The pools table; returns the pools the run did not find stable, with
/// their verdicts.
fn pool_table(out: &mut String, pools: &[PoolRow], order: &[String]) -> Vec<(String, String)> {
    let names = in_order(distinct(pools.iter().map(|r| r.pool.as_str())), order);
    let of = |pool: &str, f: fn(&PoolRow) -> f64| {
        let values: Vec<f64> = pools
            .iter()
            .filter(|r| r.pool == pool)
            .map(f)
            .filter(|v| v.is_finite())
            .collect();
        estimate(&values)
    };
    let mut header = vec!["pool"];
    header.extend(POOL_COLUMNS.iter().map(|c| c.0));
    header.push("verdict");
    let mut unstable = Vec::new();
    let rows: Vec<Vec<String>> = names
        .iter()
        .map(|p| {
            // The run's verdicts on the pool (one per replication).
            let mut verdicts: Vec<&str> = pools
                .iter()
                .filter(|r| r.pool == *p)
                .filter_map(|r| r.verdict.as_deref())
                .filter(|v| *v != "stable")
                .collect();
            verdicts.sort_unstable();
            verdicts.dedup();
            if !verdicts.is_empty() {
                unstable.push((p.to_string(), verdicts.join(", ")));
            }
            let mut row = vec![esc(p)];
            row.extend(
                POOL_COLUMNS
                    .iter()
                    .map(|(_, kind, f)| cell(of(p, *f), *kind)),
            );
            row.push(if verdicts.is_empty() {
                "stable".into()
            } else {
                esc(&verdicts.join(", "))
            });
            row
        })
        .collect();
    table(out, &header, &rows);
    unstable
}

const SWEEP_ROWS: usize = 300;

/// How a metric's values read in the report.
fn kind_of(m: Metric) -> Kind {
    match m.unit() {
        crate::metric::Unit::Seconds => Kind::Seconds,
        crate::metric::Unit::Fraction => Kind::Percent,
        crate::metric::Unit::Count => Kind::Count,
        _ => Kind::Plain(3),
    }
}

const STYLE: &str = "
body { font-family: system-ui, -apple-system, 'Segoe UI', Roboto, 'Noto Sans', sans-serif;
       margin: 24px auto; max-width: 1240px; padding: 0 16px; color: #222; line-height: 1.45; }
h1 { margin-bottom: 0.2em; }
.meta { color: #555; }
table { border-collapse: collapse; margin: 8px 0 24px; font-size: 14px; }
th, td { border-bottom: 1px solid #ddd; padding: 4px 10px; text-align: right; white-space: nowrap; }
thead th { border-bottom: 2px solid #999; }
tbody th { text-align: left; font-weight: 600; }
.ci { color: #777; font-size: 12px; }
.wide { overflow-x: auto; max-width: 100%; }
.warn { background: #fff4e0; border-left: 4px solid #e69500; padding: 8px 12px; }
.warn pre { margin: 4px 0; white-space: pre-wrap; }
figure { margin: 16px 0 32px; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #555; font-size: 13px; }
pre.scenario { background: #f6f6f6; padding: 12px; font-size: 13px;
               white-space: pre-wrap; overflow-wrap: anywhere; }
.warn { margin: 8px 0; }
";

/// The report page.
pub fn report_html(input: &ReportInput<'_>) -> Result<String, String> {
    let summary: Vec<SummaryRow> = rows::read("summary.csv", input.summary_csv)?;
    let pools: Vec<PoolRow> = rows::read("pools.csv", input.pools_csv)?;
    let stages: Vec<StageRow> = match input.stages_csv {
        Some(bytes) => rows::read("stages.csv", bytes)?,
        None => Vec::new(),
    };
    let serving: Vec<ServingRow> = match input.serving_csv {
        Some(bytes) => rows::read("serving.csv", bytes)?,
        None => Vec::new(),
    };
    let replicas: Vec<ReplicaRow> = match input.replicas_csv {
        Some(bytes) => rows::read("replicas.csv", bytes)?,
        None => Vec::new(),
    };
    let sweep = input
        .sweep_csv
        .map(|b| Csv::parse("sweep.csv", b))
        .transpose()?;
    let name = input
        .info
        .map(|i| i.scenario.clone())
        .or_else(|| summary.first().map(|r| r.scenario.clone()))
        .unwrap_or_else(|| "surge".into());

    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>surge: {}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{}</h1>\n",
        esc(&name),
        esc(&name)
    );
    if let Some(info) = input.info {
        if let Some(d) = &info.description {
            let _ = writeln!(out, "<p>{}</p>", esc(d));
        }
        let mut meta = format!(
            "surge {} of <code>{}</code> · seed {} · {} replication{}",
            esc(&info.command),
            esc(&info.file),
            info.seed,
            info.replications,
            if info.replications == 1 { "" } else { "s" }
        );
        if sweep.is_some() {
            meta.push_str(" per point");
        }
        for o in &info.overrides {
            let _ = write!(meta, " · <code>--set {}</code>", esc(o));
        }
        let _ = writeln!(
            out,
            "<p class=\"meta\">{meta} · surge {}</p>",
            esc(&info.surge_version)
        );
        if !info.grid.is_empty() {
            out.push_str("<p>Swept: ");
            let parts: Vec<String> = info
                .grid
                .iter()
                .map(|(p, v)| format!("<code>{}</code> = {}", esc(p), esc(&v.join(", "))))
                .collect();
            out.push_str(&parts.join("; "));
            out.push_str("</p>\n");
        }
    }

    // Tables first (their warnings are computed on the way), then the
    // warnings above them.
    let slos: &[SloInfo] = input.info.map_or(&[], |i| &i.slos[..]);
    let class_order: Vec<String> = input
        .info
        .map(|i| i.classes.iter().map(|c| c.name.clone()).collect())
        .unwrap_or_default();
    let pool_order: Vec<String> = input.info.map(|i| i.pools.clone()).unwrap_or_default();
    let mut tables = String::new();
    let mut unstable = Vec::new();
    match &sweep {
        Some(s) => {
            tables.push_str("<h2>Sweep</h2>\n");
            sweep_section(&mut tables, s, slos);
        }
        None => {
            tables.push_str("<h2>Classes</h2>\n");
            let _ = writeln!(
                tables,
                "<p>Requests that arrived after warm-up; latency = arrival to completion, wait = arrival to start of service.{}</p>",
                if summary.iter().any(|r| r.replication > 0) {
                    " Mean over replications ± 95% confidence half-width."
                } else {
                    ""
                }
            );
            class_table(&mut tables, &summary, &class_order);
            tables.push_str("<h2>Pools</h2>\n");
            unstable = pool_table(&mut tables, &pools, &pool_order);
            if !stages.is_empty() {
                tables.push_str("<h2>Workflow stages</h2>\n");
                tables.push_str(
                    "<p>Stage visits of requests that arrived after warm-up (a loop back is a new visit); \
                     wait = stage arrival to start of service, per attempt; service, per completed visit; \
                     lost = rejected, timed out or failed on the visit's last attempt. \
                     The chart of where the time goes, per class, is below.</p>\n",
                );
                stage_table(&mut tables, &stages);
            }
            if !serving.is_empty() {
                tables.push_str("<h2>Serving</h2>\n");
                tables.push_str(
                    "<p>Classes on LLM replicas, requests that arrived after warm-up: TTFT = arrival to first token; \
                     TPOT = (latency − TTFT) ÷ (output tokens − 1); goodput = completions per second that met every \
                     target of the class. Then the replicas of each serving pool over the measured window.</p>\n",
                );
                serving_tables(&mut tables, &serving, &replicas);
            }
            slo_section(&mut tables, &summary, slos);
        }
    }
    // One warning per subject: a pool's load-time warning goes with the
    // run's verdict on that pool.
    let mut warnings: Vec<String> = input.info.map(|i| i.warnings.clone()).unwrap_or_default();
    let mut items: Vec<String> = Vec::new();
    for (p, verdict) in &unstable {
        let about = format!("pool \"{p}\"");
        let (mine, rest): (Vec<String>, Vec<String>) =
            warnings.into_iter().partition(|w| w.contains(&about));
        warnings = rest;
        let mut item = format!(
            "<p><b>Pool {}</b>: {} in the run (see its verdict in the pools table and its chart).</p>",
            esc(p),
            esc(verdict)
        );
        for w in mine {
            let _ = write!(item, "<pre>{}</pre>", esc(&w));
        }
        items.push(item);
    }
    for w in &warnings {
        items.push(format!("<pre>{}</pre>", esc(w)));
    }
    if !items.is_empty() {
        out.push_str("<h2>Warnings</h2>\n");
        for item in items {
            let _ = writeln!(out, "<div class=\"warn\">{item}</div>");
        }
    }
    out.push_str(&tables);

    if !input.charts.is_empty() {
        out.push_str("<h2>Charts</h2>\n");
        for (file, bytes) in &input.charts {
            let mime = if file.ends_with(".svg") {
                "image/svg+xml"
            } else {
                "image/png"
            };
            let data = base64::engine::general_purpose::STANDARD.encode(bytes);
            let caption = caption(file);
            let _ = writeln!(
                out,
                "<figure>\n<img alt=\"{}\" src=\"data:{mime};base64,{data}\">\n\
                 <figcaption>{} <code>charts/{}</code></figcaption>\n</figure>",
                esc(&caption),
                esc(&caption),
                esc(file)
            );
        }
    }
    if let Some(info) = input.info {
        let heading = if sweep.is_some() {
            "Base scenario (each point sets the swept paths on top of it)"
        } else {
            "Scenario"
        };
        let _ = writeln!(
            out,
            "<h2>{heading}</h2>\n<pre class=\"scenario\">{}</pre>",
            esc(&info.resolved)
        );
    }
    out.push_str("</body>\n</html>\n");
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUMMARY: &str = "scenario,point,replication,seed,class,arrivals,completed,latency_p99_s,slo_attainment\n\
        s,0,0,1,jobs,100,98,2.5,\n\
        s,0,1,1,jobs,110,109,3.5,\n\
        s,0,0,1,all,100,98,2.5,\n\
        s,0,1,1,all,110,109,3.5,\n";
    const POOLS: &str = "scenario,point,replication,seed,pool,gpus_mean,offered_load,verdict\n\
        s,0,0,1,gpu,8,1.2,overloaded\n\
        s,0,1,1,gpu,8,1.2,overloaded\n";

    /// The report of the test tables with `info`, and `sweep` if given.
    fn report_of(info: &RunInfo, sweep: Option<&str>) -> String {
        report_html(&ReportInput {
            info: Some(info),
            summary_csv: crate::rows::complete::<SummaryRow>(SUMMARY).as_bytes(),
            pools_csv: crate::rows::complete::<PoolRow>(POOLS).as_bytes(),
            sweep_csv: sweep.map(str::as_bytes),
            stages_csv: None,
            serving_csv: None,
            replicas_csv: None,
            charts: Vec::new(),
        })
        .unwrap()
    }

    #[test]
    fn workflow_stages_get_a_table_in_workflow_order() {
        let stages = crate::rows::complete::<StageRow>(
            "scenario,point,replication,seed,class,stage,pool,arrivals,completed,timed_out,wait_p99_s\n\
             s,0,0,1,jobs,moderate,cpu,100,98,2,0.5\n\
             s,0,0,1,jobs,generate,gpu,98,90,0,40\n\
             s,0,1,1,jobs,moderate,cpu,110,110,0,0.7\n\
             s,0,1,1,jobs,generate,gpu,110,100,0,80\n",
        );
        let html = report_html(&ReportInput {
            info: Some(&RunInfo::default()),
            summary_csv: crate::rows::complete::<SummaryRow>(SUMMARY).as_bytes(),
            pools_csv: crate::rows::complete::<PoolRow>(POOLS).as_bytes(),
            stages_csv: Some(stages.as_bytes()),
            serving_csv: None,
            replicas_csv: None,
            ..ReportInput::default()
        })
        .unwrap();
        let table = &html[html
            .find("<h2>Workflow stages</h2>")
            .expect("a stages section")..];
        let moderate = table
            .find("<td>moderate</td><td>cpu</td>")
            .expect("{table}");
        let generate = table
            .find("<td>generate</td><td>gpu</td>")
            .expect("{table}");
        assert!(moderate < generate, "workflow order: {table}");
        // Visits: the mean of 100 and 110; the wait p99 column in seconds
        // (60 s ± its half-width); columns with no value anywhere left out.
        assert!(table.contains("<td>105 <span class=\"ci\">±"), "{table}");
        assert!(table.contains("<td>60.00s <span class=\"ci\">±"), "{table}");
        assert!(table.contains("<th>wait p99</th>") && !table.contains("service mean"));
        // No stages section without workflows.
        assert!(!report_of(&RunInfo::default(), None).contains("Workflow stages"));
    }

    #[test]
    fn the_page_has_tables_warnings_and_embedded_charts() {
        let info = RunInfo {
            command: "run".into(),
            scenario: "s <1>".into(),
            description: Some("a test & more".into()),
            warnings: vec!["warning: ρ = 1.2".into()],
            ..RunInfo::default()
        };
        let html = report_html(&ReportInput {
            info: Some(&info),
            summary_csv: crate::rows::complete::<SummaryRow>(SUMMARY).as_bytes(),
            pools_csv: crate::rows::complete::<PoolRow>(POOLS).as_bytes(),
            sweep_csv: None,
            stages_csv: None,
            serving_csv: None,
            replicas_csv: None,
            charts: vec![("latency-jobs.png".into(), vec![1, 2, 3])],
        })
        .unwrap();
        assert!(html.contains("<h1>s &lt;1&gt;</h1>"));
        assert!(html.contains("a test &amp; more"));
        assert!(html.contains("warning: ρ = 1.2"));
        assert!(
            html.contains("<b>Pool gpu</b>: overloaded in the run"),
            "{html}"
        );
        // Mean of 2.5 and 3.5 with a CI; the empty SLO column is left out.
        assert!(html.contains("3.00s <span class=\"ci\">±"), "{html}");
        assert!(!html.contains("SLO met"));
        assert!(html.contains("src=\"data:image/png;base64,AQID\""));
        assert!(!html.contains("http://") && !html.contains("https://"));
        // A real caption, not the file name alone.
        assert!(html.contains("<figcaption>Class jobs: new requests and retries per second"));
    }

    #[test]
    fn one_warning_per_pool_slos_with_units_and_scenario_order() {
        let info = RunInfo {
            command: "run".into(),
            scenario: "s".into(),
            warnings: vec![
                "warning: s.toml:3:1: pool.gpu.gpus: mean offered load ρ = 1.2 on pool \"gpu\""
                    .into(),
                "warning: something else".into(),
            ],
            classes: vec![crate::report::ClassInfo {
                name: "jobs".into(),
                pool: "gpu".into(),
                latency_target_s: None,
                ..Default::default()
            }],
            slos: vec![SloInfo {
                class: "jobs".into(),
                metric: "latency_p99".into(),
                min: None,
                max: Some(90.0),
            }],
            ..RunInfo::default()
        };
        let html = report_of(&info, None);
        // The pool's load warning sits in its verdict's box: two boxes.
        assert_eq!(html.matches("<div class=\"warn\">").count(), 2, "{html}");
        assert_eq!(html.matches("ρ = 1.2").count(), 1);
        // The SLO with its unit, its value and its verdict.
        assert!(html.contains("jobs: p99 latency ≤ 90s"), "{html}");
        assert!(html.contains("<td>met</td>"), "{html}");
        assert!(html.contains("<th>utilization</th>") && !html.contains("utilisation"));
        assert!(html.contains("white-space: pre-wrap"));
    }

    #[test]
    fn sweep_rows_carry_their_slo_verdicts() {
        let sweep = "scenario,point,gpus,class,n,latency_p99_s_mean,latency_p99_s_sd,latency_p99_s_ci_low,latency_p99_s_ci_high\n\
            s,0,8,jobs,3,20,1,18,22\n\
            s,1,9,jobs,3,9,1,8.5,9.5\n\
            s,2,10,jobs,3,10,1,9,11\n";
        let info = RunInfo {
            command: "sweep".into(),
            slos: vec![SloInfo {
                class: "jobs".into(),
                metric: "latency_p99".into(),
                min: None,
                max: Some(10.0),
            }],
            ..RunInfo::default()
        };
        let html = report_of(&info, Some(sweep));
        assert!(html.contains("<td>p99 latency missed</td>"), "{html}");
        // One unit for the column: 9 s is 9.00s beside 20.00s, not "9s".
        assert!(
            html.contains("9.00s <span class=\"ci\">[8.50s, 9.50s]</span>"),
            "{html}"
        );
        assert!(html.contains("<td>all met</td>"));
        assert!(html.contains("<td>p99 latency uncertain</td>"));
        assert!(html.contains("Base scenario (each point sets the swept paths on top of it)"));
    }

    #[test]
    fn numbers_read_well() {
        assert_eq!(group(1234567.0), "1,234,567");
        assert_eq!(number(Kind::Percent, 0.98765), "98.77%");
        assert_eq!(number(Kind::Dollars, 12345.4), "$12,345");
        assert_eq!(esc("<a href='x'>"), "&lt;a href=&#39;x&#39;&gt;");
    }
}
