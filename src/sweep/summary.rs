//! `sweep.csv`: per grid point and class, each headline metric's mean,
//! standard deviation and 95% Student-t confidence interval over the
//! replications, computed from the text of `summary.csv`.

use super::grid::{Grid, display_value};
use crate::stats::estimate;

/// Metrics summarised in `sweep.csv`: columns of `summary.csv`, plus
/// outcome fractions computed from its counts.
pub const HEADLINE_METRICS: [&str; 14] = [
    "throughput_per_s",
    "wait_mean_s",
    "wait_p99_s",
    "latency_mean_s",
    "latency_p50_s",
    "latency_p95_s",
    "latency_p99_s",
    "latency_p999_s",
    "slo_attainment",
    "attempts_per_request",
    "completed_fraction",
    "rejected_fraction",
    "abandoned_fraction",
    "failed_fraction",
];

fn format(x: f64) -> String {
    crate::rows::Cell::Num(Some(x)).to_csv()
}

/// Build `sweep.csv` from `summary.csv` bytes and the grid.
pub fn sweep_table(summary_csv: &[u8], grid: &Grid) -> Result<Vec<u8>, String> {
    let mut reader = csv::Reader::from_reader(summary_csv);
    let headers = reader.headers().map_err(|e| e.to_string())?.clone();
    let col = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| format!("summary.csv has no column {name}"))
    };
    let (c_scenario, c_point, c_class, c_arrivals) = (
        col("scenario")?,
        col("point")?,
        col("class")?,
        col("arrivals")?,
    );
    let count_cols = [
        col("completed")?,
        col("rejected")?,
        col("abandoned")?,
        col("failed")?,
    ];
    let metric_cols: Vec<Option<usize>> = HEADLINE_METRICS
        .iter()
        .map(|m| headers.iter().position(|h| h == *m))
        .collect();

    // (scenario, point, class) in first-seen order → values per metric.
    type Key = (String, usize, String);
    let mut groups: Vec<(Key, Vec<Vec<f64>>)> = Vec::new();
    for record in reader.records() {
        let r = record.map_err(|e| e.to_string())?;
        let point: usize = r[c_point]
            .parse()
            .map_err(|_| format!("bad point {:?}", &r[c_point]))?;
        let key = (r[c_scenario].to_string(), point, r[c_class].to_string());
        let i = match groups.iter().position(|(k, _)| *k == key) {
            Some(i) => i,
            None => {
                groups.push((key, vec![Vec::new(); HEADLINE_METRICS.len()]));
                groups.len() - 1
            }
        };
        let arrivals: f64 = r[c_arrivals].parse().unwrap_or(0.0);
        for (m, name) in HEADLINE_METRICS.iter().enumerate() {
            let value = match metric_cols[m] {
                Some(c) => r[c].parse::<f64>().ok(),
                None => {
                    let k = match *name {
                        "completed_fraction" => 0,
                        "rejected_fraction" => 1,
                        "abandoned_fraction" => 2,
                        _ => 3,
                    };
                    let n: f64 = r[count_cols[k]].parse().unwrap_or(0.0);
                    (arrivals > 0.0).then(|| n / arrivals)
                }
            };
            if let Some(v) = value {
                groups[i].1[m].push(v);
            }
        }
    }

    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header: Vec<String> = vec!["scenario".into(), "point".into()];
    header.extend(grid.params.iter().cloned());
    header.push("class".into());
    header.push("n".into());
    for m in HEADLINE_METRICS {
        for stat in ["mean", "sd", "ci_low", "ci_high"] {
            header.push(format!("{m}_{stat}"));
        }
    }
    w.write_record(&header).map_err(|e| e.to_string())?;
    for ((scenario, point, class), values) in &groups {
        let mut row: Vec<String> = vec![scenario.clone(), point.to_string()];
        match grid.points.get(*point) {
            Some(p) => row.extend(p.iter().map(|v| display_value(v))),
            None => return Err(format!("point {point} is not in the grid")),
        }
        row.push(class.clone());
        row.push(values.iter().map(Vec::len).max().unwrap_or(0).to_string());
        for v in values {
            match estimate(v) {
                Some(e) => {
                    row.push(format(e.mean));
                    row.push(e.std_dev.map_or(String::new(), format));
                    row.push(e.low().map_or(String::new(), format));
                    row.push(e.high().map_or(String::new(), format));
                }
                None => row.extend(std::iter::repeat_n(String::new(), 4)),
            }
        }
        w.write_record(&row).map_err(|e| e.to_string())?;
    }
    w.into_inner().map_err(|e| e.to_string())
}
