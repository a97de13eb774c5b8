//! Reading a sweep for its charts: every `<metric>_mean` column of
//! `sweep.csv` with its interval, per class (or per pool for `pool_*`),
//! and the cost from `pools.csv` for folders that predate the pool columns.

use super::TOTAL;
use crate::report::csvdata::Csv;
use crate::rows::{self, PoolRow};
use crate::stats::estimate;
use std::collections::BTreeMap;

/// Mean and 95% interval of one metric at one point.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Stat {
    pub(super) mean: f64,
    pub(super) low: Option<f64>,
    pub(super) high: Option<f64>,
}

/// What the charts need of a sweep.
#[derive(Debug, Default)]
pub(super) struct SweepData {
    /// Swept paths.
    pub(super) params: Vec<String>,
    /// Values of the swept paths, per point (as written in `sweep.csv`).
    pub(super) points: BTreeMap<usize, Vec<String>>,
    /// Classes in first-seen order (`all` last).
    pub(super) classes: Vec<String>,
    /// Pools in first-seen order.
    pub(super) pools: Vec<String>,
    /// (metric, class, point) → statistic.
    pub(super) stats: BTreeMap<(String, String, usize), Stat>,
}

pub(super) fn read(sweep_csv: &[u8], pools_csv: Option<&[u8]>) -> Result<SweepData, String> {
    let csv = Csv::parse("sweep.csv", sweep_csv)?;
    let (c_point, c_class) = (csv.need("point")?, csv.need("class")?);
    if c_class <= c_point {
        return Err("sweep.csv: expected the swept parameters between point and class".into());
    }
    let c_pool = csv.col("pool");
    let mut data = SweepData {
        params: csv
            .headers
            .iter()
            .skip(c_point + 1)
            .take(c_class - c_point - 1)
            .map(str::to_string)
            .collect(),
        ..SweepData::default()
    };
    // Every `<metric>_mean` column with its interval.
    let metric_cols: Vec<(String, [Option<usize>; 3])> = csv
        .headers
        .iter()
        .filter_map(|h| h.strip_suffix("_mean"))
        .map(|m| {
            let c = |s: &str| csv.col(&format!("{m}_{s}"));
            (m.to_string(), [c("mean"), c("ci_low"), c("ci_high")])
        })
        .collect();
    for r in &csv.rows {
        let point: usize = r[c_point]
            .parse()
            .map_err(|_| format!("sweep.csv: bad point {:?}", &r[c_point]))?;
        data.points
            .entry(point)
            .or_insert_with(|| (c_point + 1..c_class).map(|i| r[i].to_string()).collect());
        let class = r[c_class].to_string();
        if !data.classes.contains(&class) {
            data.classes.push(class.clone());
        }
        let pool = c_pool.map(|c| r[c].to_string()).filter(|p| !p.is_empty());
        if let Some(p) = &pool
            && p != "all"
            && !data.pools.contains(p)
        {
            data.pools.push(p.clone());
        }
        for (metric, [mean, low, high]) in &metric_cols {
            let get = |c: &Option<usize>| c.and_then(|c| crate::rows::parse_float(&r[c]));
            let Some(m) = get(mean) else { continue };
            // Pool metrics are kept by pool (every class of a pool carries
            // the same values), the sum over pools under TOTAL.
            let owner = match (metric.starts_with("pool_"), pool.as_deref()) {
                (false, _) => class.clone(),
                (true, Some("all")) => TOTAL.to_string(),
                (true, Some(p)) => p.to_string(),
                (true, None) => continue,
            };
            data.stats.insert(
                (metric.clone(), owner, point),
                Stat {
                    mean: m,
                    low: get(low),
                    high: get(high),
                },
            );
        }
    }
    let has_cost = data.stats.keys().any(|k| k.0 == "pool_cost_usd");
    if !has_cost && let Some(pools) = pools_csv {
        read_cost(pools, &mut data)?;
    }
    Ok(data)
}

/// Cost per point from `pools.csv` (folders whose `sweep.csv` predates its
/// pool columns): the sum over pools in each replication, then the mean
/// and 95% interval over replications.
pub(super) fn read_cost(pools_csv: &[u8], data: &mut SweepData) -> Result<(), String> {
    let pools: Vec<PoolRow> = rows::read("pools.csv", pools_csv)?;
    let mut sums: BTreeMap<(usize, u64), f64> = BTreeMap::new();
    for r in &pools {
        *sums.entry((r.point as usize, r.replication)).or_default() += r.cost_usd;
    }
    let mut per_point: BTreeMap<usize, Vec<f64>> = BTreeMap::new();
    for ((p, _), v) in sums {
        per_point.entry(p).or_default().push(v);
    }
    for (p, values) in per_point {
        if let Some(e) = estimate(&values) {
            data.stats.insert(
                ("pool_cost_usd".to_string(), TOTAL.to_string(), p),
                Stat {
                    mean: e.mean,
                    low: e.low(),
                    high: e.high(),
                },
            );
        }
    }
    Ok(())
}
