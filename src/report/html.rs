//! `report.html`: one self-contained page (charts embedded as data URIs,
//! no scripts, no network) with what was run, its warnings, the summary
//! tables and every chart. A pure function of the output folder's files,
//! so `surge chart DIR` rewrites it.

use super::csvdata::Csv;
use super::text::{format_secs, group};
use crate::metric::Metric;
use crate::rows::{self, PoolRow, SummaryRow};
use crate::stats::{Estimate, estimate};
use base64::Engine;
use serde::{Deserialize, Serialize};
use std::fmt::Write;

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
    /// Each class and the pool it runs on, in scenario order (empty in
    /// folders written before it existed).
    #[serde(default)]
    pub class_pools: Vec<(String, String)>,
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
    Percent,
    Plain(usize),
    Dollars,
}

fn number(kind: Kind, x: f64) -> String {
    match kind {
        Kind::Count => group(x),
        Kind::Seconds => format_secs(x),
        Kind::Percent => format!("{:.2}%", x * 100.0),
        Kind::Plain(d) => format!("{x:.d$}"),
        Kind::Dollars => format!("${}", group(x)),
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
    out.push_str("<table>\n<thead><tr>");
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
    out.push_str("</tbody>\n</table>\n");
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

const POOL_COLUMNS: [PoolColumn; 7] = [
    ("GPUs (mean)", Kind::Plain(1), |p| p.gpus_mean),
    ("offered ρ", Kind::Plain(3), |p| p.offered_load),
    ("utilisation", Kind::Percent, |p| p.utilization),
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

fn class_table(out: &mut String, summary: &[SummaryRow]) {
    let classes = distinct(summary.iter().map(|r| r.class.as_str()));
    let of = |class: &str, m: Metric| {
        let values: Vec<f64> = summary
            .iter()
            .filter(|r| r.class == class)
            .filter_map(|r| r.metric(m))
            .collect();
        estimate(&values)
    };
    // Columns that are all empty (e.g. no SLO targets) are left out.
    let columns: Vec<&(Metric, &str, Kind)> = CLASS_COLUMNS
        .iter()
        .filter(|(m, _, _)| classes.iter().any(|k| of(k, *m).is_some()))
        .collect();
    let mut header = vec!["class"];
    header.extend(columns.iter().map(|c| c.1));
    let rows: Vec<Vec<String>> = classes
        .iter()
        .map(|k| {
            let mut row = vec![esc(k)];
            row.extend(columns.iter().map(|(m, _, kind)| cell(of(k, *m), *kind)));
            row
        })
        .collect();
    table(out, &header, &rows);
}

/// The pools table; returns the pools the run did not find stable, with
/// their verdicts.
fn pool_table(out: &mut String, pools: &[PoolRow]) -> Vec<(String, String)> {
    let names = distinct(pools.iter().map(|r| r.pool.as_str()));
    let of = |pool: &str, f: fn(&PoolRow) -> f64| {
        let values: Vec<f64> = pools.iter().filter(|r| r.pool == pool).map(f).collect();
        estimate(&values)
    };
    let mut header = vec!["pool"];
    header.extend(POOL_COLUMNS.iter().map(|c| c.0));
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
            row
        })
        .collect();
    table(out, &header, &rows);
    unstable
}

const SWEEP_ROWS: usize = 300;

fn sweep_section(out: &mut String, sweep: &Csv) {
    let (Some(c_point), Some(c_class)) = (sweep.col("point"), sweep.col("class")) else {
        return;
    };
    let params: Vec<&str> = sweep
        .headers
        .iter()
        .skip(c_point + 1)
        .take(c_class.saturating_sub(c_point + 1))
        .collect();
    let metrics: [(&str, &str, Kind); 4] = [
        (Metric::LatencyP99.column(), "p99 latency", Kind::Seconds),
        (Metric::WaitMean.column(), "wait mean", Kind::Seconds),
        (Metric::SloAttainment.column(), "SLO met", Kind::Percent),
        (
            Metric::CompletedFraction.column(),
            "completed",
            Kind::Percent,
        ),
    ];
    let metrics: Vec<_> = metrics
        .into_iter()
        .filter(|(m, _, _)| {
            sweep
                .col(&format!("{m}_mean"))
                .is_some_and(|c| sweep.rows.iter().any(|r| !r[c].is_empty()))
        })
        .collect();
    let mut header: Vec<&str> = vec!["point"];
    header.extend(params.iter().copied());
    header.push("class");
    header.push("n");
    header.extend(metrics.iter().map(|m| m.1));
    let c_n = sweep.col("n");
    let rows: Vec<Vec<String>> = sweep
        .rows
        .iter()
        .take(SWEEP_ROWS)
        .map(|r| {
            let mut row: Vec<String> = (c_point..=c_class).map(|i| esc(&r[i])).collect();
            row.push(c_n.map_or(String::new(), |c| esc(&r[c])));
            for (m, _, kind) in &metrics {
                let get = |s: &str| {
                    sweep
                        .col(&format!("{m}_{s}"))
                        .and_then(|c| crate::rows::parse_float(&r[c]))
                };
                row.push(match (get("mean"), get("ci_low"), get("ci_high")) {
                    (Some(mean), Some(lo), Some(hi)) => format!(
                        "{} <span class=\"ci\">[{}, {}]</span>",
                        esc(&number(*kind, mean)),
                        esc(&number(*kind, lo)),
                        esc(&number(*kind, hi))
                    ),
                    (Some(mean), _, _) => esc(&number(*kind, mean)),
                    _ => "–".into(),
                });
            }
            row
        })
        .collect();
    let _ = writeln!(
        out,
        "<p>Mean over replications with its 95% confidence interval (Student t).{}</p>",
        if sweep.rows.len() > SWEEP_ROWS {
            format!(
                " The first {SWEEP_ROWS} of {} rows; all are in <code>sweep.csv</code>.",
                sweep.rows.len()
            )
        } else {
            String::new()
        }
    );
    table(out, &header, &rows);
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
.warn { background: #fff4e0; border-left: 4px solid #e69500; padding: 8px 12px; }
.warn pre { margin: 4px 0; white-space: pre-wrap; }
figure { margin: 16px 0 32px; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #555; font-size: 13px; }
pre.scenario { background: #f6f6f6; padding: 12px; overflow-x: auto; font-size: 13px; }
";

/// The report page.
pub fn report_html(input: &ReportInput<'_>) -> Result<String, String> {
    let summary: Vec<SummaryRow> = rows::read("summary.csv", input.summary_csv)?;
    let pools: Vec<PoolRow> = rows::read("pools.csv", input.pools_csv)?;
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
    let mut tables = String::new();
    let mut unstable = Vec::new();
    match &sweep {
        Some(s) => {
            tables.push_str("<h2>Sweep</h2>\n");
            sweep_section(&mut tables, s);
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
            class_table(&mut tables, &summary);
            tables.push_str("<h2>Pools</h2>\n");
            unstable = pool_table(&mut tables, &pools);
        }
    }
    let warnings: Vec<String> = input.info.map(|i| i.warnings.clone()).unwrap_or_default();
    if !warnings.is_empty() || !unstable.is_empty() {
        out.push_str("<h2>Warnings</h2>\n<div class=\"warn\">\n");
        for w in &warnings {
            let _ = writeln!(out, "<pre>{}</pre>", esc(w));
        }
        for (p, verdict) in &unstable {
            let _ = writeln!(
                out,
                "<p>Pool <b>{}</b>: {} (the run's load verdict; see the pools table and chart).</p>",
                esc(p),
                esc(verdict)
            );
        }
        out.push_str("</div>\n");
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
            let _ = writeln!(
                out,
                "<figure>\n<img alt=\"{}\" src=\"data:{mime};base64,{data}\">\n\
                 <figcaption>charts/{}</figcaption>\n</figure>",
                esc(file),
                esc(file)
            );
        }
    }
    if let Some(info) = input.info {
        let _ = writeln!(
            out,
            "<h2>Scenario</h2>\n<pre class=\"scenario\">{}</pre>",
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
            charts: vec![("latency-jobs.png".into(), vec![1, 2, 3])],
        })
        .unwrap();
        assert!(html.contains("<h1>s &lt;1&gt;</h1>"));
        assert!(html.contains("a test &amp; more"));
        assert!(html.contains("warning: ρ = 1.2"));
        assert!(html.contains("Pool <b>gpu</b>: overloaded"), "{html}");
        // Mean of 2.5 and 3.5 with a CI; the empty SLO column is left out.
        assert!(html.contains("3.00s <span class=\"ci\">±"), "{html}");
        assert!(!html.contains("SLO met"));
        assert!(html.contains("src=\"data:image/png;base64,AQID\""));
        assert!(!html.contains("http://") && !html.contains("https://"));
    }

    #[test]
    fn numbers_read_well() {
        assert_eq!(group(1234567.0), "1,234,567");
        assert_eq!(number(Kind::Percent, 0.98765), "98.77%");
        assert_eq!(number(Kind::Dollars, 12345.4), "$12,345");
        assert_eq!(esc("<a href='x'>"), "&lt;a href=&#39;x&#39;&gt;");
    }
}
