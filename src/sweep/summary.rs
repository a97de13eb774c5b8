//! `sweep.csv`: per grid point and class, each headline metric's mean,
//! standard deviation and 95% Student-t confidence interval over the
//! replications, computed from the text of `summary.csv`.

use super::grid::{Grid, display_value};
use crate::metric::Metric;
use crate::rows::{self, SummaryRow};
use crate::stats::estimate;

fn format(x: f64) -> String {
    crate::rows::format_number(x)
}

/// Build `sweep.csv` from `summary.csv` bytes and the grid: per
/// (scenario, point, class), each of [`Metric::HEADLINE`].
pub fn sweep_table(summary_csv: &[u8], grid: &Grid) -> Result<Vec<u8>, String> {
    let rows: Vec<SummaryRow> = rows::read("summary.csv", summary_csv)?;
    // (scenario, point, class) in first-seen order → values per metric.
    type Key = (String, usize, String);
    let mut groups: Vec<(Key, Vec<Vec<f64>>)> = Vec::new();
    for r in &rows {
        let point = r.point as usize;
        let key = (r.scenario.clone(), point, r.class.clone());
        let i = match groups.iter().position(|(k, _)| *k == key) {
            Some(i) => i,
            None => {
                groups.push((key, vec![Vec::new(); Metric::HEADLINE.len()]));
                groups.len() - 1
            }
        };
        for (m, metric) in Metric::HEADLINE.iter().enumerate() {
            if let Some(v) = r.metric(*metric) {
                groups[i].1[m].push(v);
            }
        }
    }

    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header: Vec<String> = vec!["scenario".into(), "point".into()];
    header.extend(grid.params.iter().cloned());
    header.push("class".into());
    header.push("n".into());
    for m in Metric::HEADLINE {
        for stat in ["mean", "sd", "ci_low", "ci_high"] {
            header.push(format!("{}_{stat}", m.column()));
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
