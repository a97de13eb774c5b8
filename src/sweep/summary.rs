//! `sweep.csv`: per grid point and class, each headline metric's mean,
//! standard deviation and 95% Student-t confidence interval over the
//! replications, computed from the text of `summary.csv`; then the same
//! for the class's pool (from `pools.csv`: utilization, queue, GPUs, cost;
//! class `all` sums every pool).

use super::grid::{Grid, display_value};
use crate::metric::Metric;
use crate::rows::{self, PoolRow, ServingRow, SummaryRow};
use std::collections::HashMap;

/// Pool metrics of `sweep.csv`, each with `_mean`, `_sd`, `_ci_low`,
/// `_ci_high`: column prefix and how a replication's value is read off its
/// pool rows (one row, or every pool for class `all`).
/// How one replication's value is read off its pool rows.
type PoolValue = fn(&[&PoolRow]) -> f64;

const POOL_METRICS: [(&str, PoolValue); 4] = [
    ("pool_utilization", |p| {
        let online: f64 = p.iter().map(|r| r.gpus_mean).sum();
        let busy: f64 = p.iter().map(|r| r.busy_gpus_mean).sum();
        if online > 0.0 {
            busy / online
        } else {
            f64::NAN
        }
    }),
    ("pool_queue_mean", |p| p.iter().map(|r| r.queue_mean).sum()),
    ("pool_gpus_mean", |p| p.iter().map(|r| r.gpus_mean).sum()),
    ("pool_cost_usd", |p| p.iter().map(|r| r.cost_usd).sum()),
];
use crate::stats::estimate;

fn format(x: f64) -> String {
    crate::rows::csv_float(Some(x))
}

/// Build `sweep.csv` from `summary.csv` and `pools.csv` bytes (and
/// `serving.csv`'s, for a scenario with serving pools), the grid, and
/// each class's pool (`class_pools`; classes not listed get no pool
/// metrics): per (scenario, point, class), each of [`Metric::HEADLINE`],
/// then with serving pools each of [`Metric::SERVING_COMPARED`] (empty
/// for classes that serve no tokens), then the class's pool
/// metrics.
pub fn sweep_table(
    summary_csv: &[u8],
    pools_csv: &[u8],
    serving_csv: Option<&[u8]>,
    grid: &Grid,
    class_pools: &[(String, String)],
) -> Result<Vec<u8>, String> {
    let rows: Vec<SummaryRow> = rows::read("summary.csv", summary_csv)?;
    let pool_rows: Vec<PoolRow> = rows::read("pools.csv", pools_csv)?;
    // (scenario, point, replication) → that run's pool rows.
    let mut runs: HashMap<(&str, u64, u64), Vec<&PoolRow>> = HashMap::new();
    for p in &pool_rows {
        runs.entry((p.scenario.as_str(), p.point, p.replication))
            .or_default()
            .push(p);
    }
    let serving_rows: Vec<ServingRow> = match serving_csv {
        Some(bytes) => rows::read("serving.csv", bytes)?,
        None => Vec::new(),
    };
    // (scenario, point, replication, class) → that run's serving row.
    let serving: HashMap<(&str, u64, u64, &str), &ServingRow> = serving_rows
        .iter()
        .map(|r| {
            (
                (
                    r.scenario.as_str(),
                    r.point,
                    r.replication,
                    r.class.as_str(),
                ),
                r,
            )
        })
        .collect();
    let class_metrics: Vec<Metric> = Metric::HEADLINE
        .iter()
        .chain(serving_csv.map_or(&[][..], |_| Metric::SERVING_COMPARED))
        .copied()
        .collect();
    let pool_of = |class: &str| -> Option<&str> {
        if class == "all" {
            return Some("all");
        }
        class_pools
            .iter()
            .find(|(c, _)| c == class)
            .map(|(_, p)| p.as_str())
    };
    // (scenario, point, class) in first-seen order → values per metric.
    type Key = (String, usize, String);
    let mut groups: Vec<(Key, Vec<Vec<f64>>)> = Vec::new();
    let width = class_metrics.len() + POOL_METRICS.len();
    for r in &rows {
        let point = r.point as usize;
        let key = (r.scenario.clone(), point, r.class.clone());
        let i = match groups.iter().position(|(k, _)| *k == key) {
            Some(i) => i,
            None => {
                groups.push((key, vec![Vec::new(); width]));
                groups.len() - 1
            }
        };
        let served = serving.get(&(
            r.scenario.as_str(),
            r.point,
            r.replication,
            r.class.as_str(),
        ));
        for (m, &metric) in class_metrics.iter().enumerate() {
            let v = match served {
                _ if !metric.is_serving() => r.metric(metric),
                Some(s) => s.metric(metric),
                None => None,
            };
            if let Some(v) = v {
                groups[i].1[m].push(v);
            }
        }
        let run = runs.get(&(r.scenario.as_str(), r.point, r.replication));
        let pools: Vec<&PoolRow> = match (pool_of(&r.class), run) {
            (Some("all"), Some(run)) => run.clone(),
            (Some(pool), Some(run)) => run.iter().copied().filter(|p| p.pool == pool).collect(),
            _ => Vec::new(),
        };
        if !pools.is_empty() {
            for (m, (_, value)) in POOL_METRICS.iter().enumerate() {
                let v = value(&pools);
                if v.is_finite() {
                    groups[i].1[class_metrics.len() + m].push(v);
                }
            }
        }
    }

    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header: Vec<String> = vec!["scenario".into(), "point".into()];
    header.extend(grid.params.iter().cloned());
    header.push("class".into());
    header.push("n".into());
    let stats = ["mean", "sd", "ci_low", "ci_high"];
    for m in &class_metrics {
        for stat in stats {
            header.push(format!("{}_{stat}", m.column()));
        }
    }
    header.push("pool".into());
    for (name, _) in POOL_METRICS {
        for stat in stats {
            header.push(format!("{name}_{stat}"));
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
        let n = values[..class_metrics.len()].iter().map(Vec::len).max();
        row.push(n.unwrap_or(0).to_string());
        for (m, v) in values.iter().enumerate() {
            if m == class_metrics.len() {
                row.push(pool_of(class).unwrap_or_default().to_string());
            }
            match estimate(v) {
                Some(e) => {
                    row.push(format(e.mean));
                    row.push(crate::rows::csv_float(e.std_dev));
                    row.push(crate::rows::csv_float(e.low()));
                    row.push(crate::rows::csv_float(e.high()));
                }
                None => row.extend(std::iter::repeat_n(crate::rows::csv_float(None), 4)),
            }
        }
        w.write_record(&row).map_err(|e| e.to_string())?;
    }
    w.into_inner().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rows::complete;

    #[test]
    fn each_class_row_carries_its_pools_metrics_and_all_sums_the_pools() {
        let summary = complete::<SummaryRow>(
            "scenario,point,replication,seed,class,arrivals,completed\n\
             s,0,0,1,chat,10,10\ns,0,0,1,image,10,10\ns,0,0,1,all,20,20\n\
             s,0,1,1,chat,10,10\ns,0,1,1,image,10,10\ns,0,1,1,all,20,20\n",
        );
        let pools = complete::<PoolRow>(
            "scenario,point,replication,seed,pool,gpus_mean,busy_gpus_mean,queue_mean,cost_usd\n\
             s,0,0,1,a,4.0,2.0,1.0,10.0\ns,0,0,1,b,6.0,6.0,3.0,20.0\n\
             s,0,1,1,a,4.0,3.0,2.0,10.0\ns,0,1,1,b,6.0,3.0,5.0,20.0\n",
        );
        let grid = Grid {
            params: vec!["pool.a.gpus".into()],
            points: vec![vec!["4".into()]],
        };
        let map = [("chat".into(), "a".into()), ("image".into(), "b".into())];
        let bytes = sweep_table(summary.as_bytes(), pools.as_bytes(), None, &grid, &map).unwrap();
        let mut r = csv::Reader::from_reader(bytes.as_slice());
        let h = r.headers().unwrap().clone();
        let rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
        let get =
            |row: usize, col: &str| rows[row][h.iter().position(|x| x == col).unwrap()].to_string();
        assert_eq!(get(0, "pool"), "a");
        assert_eq!(get(0, "pool_utilization_mean"), "0.625"); // (2/4 + 3/4) / 2
        assert_eq!(get(1, "pool"), "b");
        assert_eq!(get(1, "pool_queue_mean_mean"), "4.0");
        assert_eq!(get(2, "pool"), "all");
        assert_eq!(get(2, "pool_utilization_mean"), "0.7"); // (8/10 + 6/10) / 2
        assert_eq!(get(2, "pool_cost_usd_mean"), "30.0");
        assert_eq!(get(2, "pool_cost_usd_sd"), "0.0");
        // A class whose pool is unknown (an old folder) gets NaN, not zeros.
        let bytes = sweep_table(summary.as_bytes(), pools.as_bytes(), None, &grid, &[]).unwrap();
        let text = String::from_utf8(bytes).unwrap();
        assert!(
            text.lines()
                .nth(1)
                .unwrap()
                .ends_with(",,NaN,NaN,NaN,NaN,NaN,NaN,NaN,NaN,NaN,NaN,NaN,NaN,NaN,NaN,NaN,NaN"),
            "{text}"
        );
    }
}
