//! Sweep charts, from `sweep.csv` (and `pools.csv` for cost): a headline
//! metric against a swept parameter with its 95% confidence band, one
//! line per class (one swept parameter) or per value of the other
//! parameters; and for two crossed parameters, heatmaps with the value
//! written in each cell.

mod heatmap;

use super::{
    Area, Axis, Chart, ChartFile, ChartFormat, PALETTE, Series, draw_panel, prepare, save, slug,
    tick_label,
};
use crate::metric::Metric;
use crate::report::csvdata::{Csv, distinct};
use crate::report::format_secs;
use crate::rows::{self, PoolRow};
use crate::stats::estimate;
use crate::units::{parse_duration, parse_rate};
use heatmap::heatmap;
use plotters::prelude::*;
use std::collections::BTreeMap;
use std::path::Path;

/// Mean and 95% interval of one metric at one point.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Stat {
    mean: f64,
    low: Option<f64>,
    high: Option<f64>,
}

/// What the charts need of a sweep.
#[derive(Debug, Default)]
struct SweepData {
    /// Swept paths.
    params: Vec<String>,
    /// Values of the swept paths, per point (as written in `sweep.csv`).
    points: BTreeMap<usize, Vec<String>>,
    /// Classes in first-seen order (`all` last).
    classes: Vec<String>,
    /// (metric, class, point) → statistic.
    stats: BTreeMap<(String, String, usize), Stat>,
}

/// A headline metric drawn by the sweep charts.
struct SweepMetric {
    column: &'static str,
    title: &'static str,
    axis: &'static str,
    /// Log scale when the values span more than a factor of 20.
    log_if_wide: bool,
    /// Scale applied to values for display (100 for fractions → %).
    scale: f64,
    cell: fn(f64) -> String,
}

const LATENCY: SweepMetric = SweepMetric {
    column: Metric::LatencyP99.column(),
    title: "p99 latency",
    axis: "p99 latency (s)",
    log_if_wide: true,
    scale: 1.0,
    cell: format_secs,
};
const SLO: SweepMetric = SweepMetric {
    column: Metric::SloAttainment.column(),
    title: "SLO attainment",
    axis: "completed within target (%)",
    log_if_wide: false,
    scale: 100.0,
    cell: percent,
};
const COMPLETED: SweepMetric = SweepMetric {
    column: Metric::CompletedFraction.column(),
    title: "completed requests",
    axis: "completed (%)",
    log_if_wide: false,
    scale: 100.0,
    cell: percent,
};
const COST: SweepMetric = SweepMetric {
    column: "cost_usd",
    title: "GPU cost",
    axis: "cost of all pools (USD)",
    log_if_wide: false,
    scale: 1.0,
    cell: dollars,
};

fn percent(x: f64) -> String {
    if (99.95..100.0).contains(&x) {
        format!("{x:.2}%")
    } else {
        format!("{x:.1}%")
    }
}

fn dollars(x: f64) -> String {
    format!("${}", tick_label(x))
}

/// The class name under which per-point totals (cost) are kept.
const TOTAL: &str = "";

fn read(sweep_csv: &[u8], pools_csv: Option<&[u8]>) -> Result<SweepData, String> {
    let csv = Csv::parse("sweep.csv", sweep_csv)?;
    let (c_point, c_class) = (csv.need("point")?, csv.need("class")?);
    if c_class <= c_point {
        return Err("sweep.csv: expected the swept parameters between point and class".into());
    }
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
    let metric_cols: Vec<(&str, [Option<usize>; 3])> =
        [LATENCY.column, SLO.column, COMPLETED.column]
            .into_iter()
            .map(|m| {
                let c = |s: &str| csv.col(&format!("{m}_{s}"));
                (m, [c("mean"), c("ci_low"), c("ci_high")])
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
        for (metric, [mean, low, high]) in &metric_cols {
            let get = |c: &Option<usize>| c.and_then(|c| crate::rows::parse_float(&r[c]));
            if let Some(m) = get(mean) {
                data.stats.insert(
                    (metric.to_string(), class.clone(), point),
                    Stat {
                        mean: m,
                        low: get(low),
                        high: get(high),
                    },
                );
            }
        }
    }
    if let Some(pools) = pools_csv {
        read_cost(pools, &mut data)?;
    }
    Ok(data)
}

/// Cost per point: the sum over pools in each replication, then the mean
/// and 95% interval over replications.
fn read_cost(pools_csv: &[u8], data: &mut SweepData) -> Result<(), String> {
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
                (COST.column.to_string(), TOTAL.to_string(), p),
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

/// A swept parameter's values as numbers (plain numbers, durations in
/// seconds or rates per second), with the unit for the axis; `None` if
/// some value is none of these.
fn numeric(values: &[&str]) -> Option<(Vec<f64>, &'static str)> {
    if let Some(v) = values.iter().map(|s| s.parse::<f64>().ok()).collect() {
        return Some((v, ""));
    }
    if let Some(v) = values
        .iter()
        .map(|s| parse_duration(s).map(|d| d.as_secs_f64()))
        .collect()
    {
        return Some((v, " (s)"));
    }
    values
        .iter()
        .map(|s| parse_rate(s))
        .collect::<Option<Vec<f64>>>()
        .map(|v| (v, " (per s)"))
}

/// How the points are laid out: the x parameter, its distinct values in
/// order, and the groups of points that share the other parameters.
struct Layout {
    x_param: usize,
    /// Distinct x values in display order, with their coordinate.
    x_values: Vec<(String, f64)>,
    x_axis: Axis,
    /// (label, points) — one group per combination of the other
    /// parameters (one unlabelled group if there are none, or the grid is
    /// zipped).
    groups: Vec<(String, Vec<usize>)>,
    /// The grid is the full cross product of its parameters' values.
    crossed: bool,
}

fn layout(data: &SweepData) -> Option<Layout> {
    if data.params.is_empty() || data.points.is_empty() {
        return None;
    }
    let values_of = |i: usize| distinct(data.points.values().map(|v| v[i].clone()));
    let per_param: Vec<Vec<String>> = (0..data.params.len()).map(values_of).collect();
    let crossed = per_param.iter().map(Vec::len).product::<usize>() == data.points.len();
    // x: the numeric parameter with the most values; else the first.
    let x_param = (0..data.params.len())
        .filter(|&i| {
            numeric(&per_param[i].iter().map(String::as_str).collect::<Vec<_>>()).is_some()
        })
        .max_by_key(|&i| (per_param[i].len(), std::cmp::Reverse(i)))
        .unwrap_or(0);
    let names = &per_param[x_param];
    let (x_values, x_axis) = match numeric(&names.iter().map(String::as_str).collect::<Vec<_>>()) {
        Some((nums, unit)) => {
            let mut pairs: Vec<(String, f64)> = names.iter().cloned().zip(nums).collect();
            pairs.sort_by(|a, b| a.1.total_cmp(&b.1));
            let (lo, hi) = (pairs[0].1, pairs[pairs.len() - 1].1);
            let pad = if hi > lo { 0.04 * (hi - lo) } else { 1.0 };
            let mut axis = Axis::linear(
                format!("{}{unit}", data.params[x_param]),
                lo - pad,
                hi + pad,
            );
            // Few values: tick each one (no 8.5 GPUs).
            if pairs.len() <= 12 {
                axis.ticks = Some(pairs.iter().map(|p| p.1).collect());
            }
            (pairs, axis)
        }
        None => {
            let pairs = names.iter().cloned().zip((0..).map(f64::from)).collect();
            (
                pairs,
                Axis::categories(&data.params[x_param], names.clone()),
            )
        }
    };
    let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
    for (&p, values) in &data.points {
        let label = if crossed {
            (0..data.params.len())
                .filter(|&i| i != x_param)
                .map(|i| format!("{}={}", short(&data.params[i]), values[i]))
                .collect::<Vec<_>>()
                .join(", ")
        } else {
            String::new()
        };
        match groups.iter_mut().find(|g| g.0 == label) {
            Some(g) => g.1.push(p),
            None => groups.push((label, vec![p])),
        }
    }
    Some(Layout {
        x_param,
        x_values,
        x_axis,
        groups,
        crossed,
    })
}

/// The last two components of a dotted path (`gpu.gpus`), for legends.
fn short(path: &str) -> String {
    let parts: Vec<&str> = path.split('.').collect();
    parts[parts.len().saturating_sub(2)..].join(".")
}

/// Classes worth a line: the real classes, or `all` if it is the only one.
fn classes(data: &SweepData) -> Vec<String> {
    let real: Vec<String> = data
        .classes
        .iter()
        .filter(|c| *c != "all")
        .cloned()
        .collect();
    if real.is_empty() {
        data.classes.clone()
    } else {
        real
    }
}

const MAX_LINES: usize = 10;

/// A metric against the x parameter: one line (with its band) per item.
struct LineChart<'a> {
    title: String,
    metric: &'a SweepMetric,
    x: &'a Axis,
    series: Vec<Series>,
}

impl Chart for LineChart<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &Area<DB>) -> Result<(), String> {
        let values = self.series.iter().flat_map(|s| {
            s.points
                .iter()
                .map(|p| p.1)
                .chain(s.band.iter().flat_map(|b| [b.1, b.2]))
        });
        let values: Vec<f64> = values.filter(|v| v.is_finite()).collect();
        let positive = values.iter().filter(|v| **v > 0.0);
        let lo = positive.clone().copied().fold(f64::INFINITY, f64::min);
        let hi = positive.copied().fold(0.0, f64::max);
        let log = self.metric.log_if_wide && lo.is_finite() && hi > 20.0 * lo;
        let desc = if log {
            format!("{} — log scale", self.metric.axis)
        } else {
            self.metric.axis.to_string()
        };
        let y = Axis::fit(desc, values.into_iter(), log);
        draw_panel(root, &self.title, self.x, &y, &self.series)
    }
}

/// One line: a metric's mean and band over the points of a group.
fn series_of(
    data: &SweepData,
    layout: &Layout,
    metric: &SweepMetric,
    class: &str,
    points: &[usize],
    label: String,
    color: RGBColor,
) -> Option<Series> {
    let mut rows: Vec<(f64, Stat)> = points
        .iter()
        .filter_map(|p| {
            let stat = *data
                .stats
                .get(&(metric.column.to_string(), class.to_string(), *p))?;
            let v = &data.points[p][layout.x_param];
            let x = layout.x_values.iter().find(|(n, _)| n == v)?.1;
            Some((x, stat))
        })
        .collect();
    if rows.is_empty() {
        return None;
    }
    rows.sort_by(|a, b| a.0.total_cmp(&b.0));
    let k = metric.scale;
    Some(Series {
        label,
        color,
        points: rows.iter().map(|(x, s)| (*x, s.mean * k)).collect(),
        band: rows
            .iter()
            .filter_map(|(x, s)| Some((*x, s.low? * k, s.high? * k)))
            .collect(),
        markers: true,
    })
}

/// Draw the sweep charts from `sweep.csv` (and `pools.csv`, for cost) into
/// `dir`; returns the names of the files written, in a stable order.
pub fn sweep_charts(
    sweep_csv: &[u8],
    pools_csv: Option<&[u8]>,
    dir: &Path,
    format: ChartFormat,
) -> Result<Vec<ChartFile>, String> {
    let data = read(sweep_csv, pools_csv)?;
    let Some(layout) = layout(&data) else {
        return Ok(Vec::new());
    };
    prepare(dir)?;
    let mut written = Vec::new();
    let x_name = &data.params[layout.x_param];
    let has = |m: &SweepMetric, class: &str| {
        data.stats
            .iter()
            .any(|((metric, c, _), _)| metric == m.column && c == class)
    };
    let grouped = layout.groups.len() > 1;
    let classes = classes(&data);
    for metric in [&LATENCY, &SLO, &COMPLETED, &COST] {
        let items: Vec<&str> = if metric.column == COST.column {
            vec![TOTAL]
        } else {
            classes.iter().map(String::as_str).collect()
        };
        let items: Vec<&str> = items.into_iter().filter(|c| has(metric, c)).collect();
        if items.is_empty() {
            continue;
        }
        if metric.column == COST.column
            && data
                .stats
                .iter()
                .all(|((m, _, _), s)| m != metric.column || s.mean == 0.0)
        {
            continue; // No pool has a price.
        }
        if metric.column == COMPLETED.column
            && data
                .stats
                .iter()
                .all(|((m, _, _), s)| m != metric.column || s.mean >= 0.9995)
        {
            continue; // Everything completed: a flat line at 100% says nothing.
        }
        // One chart per class when lines are groups; one chart with a
        // line per class otherwise.
        let charts: Vec<(String, Vec<Series>)> = if grouped || items == [TOTAL] {
            items
                .iter()
                .map(|class| {
                    let series: Vec<Series> = layout
                        .groups
                        .iter()
                        .take(MAX_LINES)
                        .enumerate()
                        .filter_map(|(i, (label, pts))| {
                            let label = if label.is_empty() {
                                "mean".into()
                            } else {
                                label.clone()
                            };
                            series_of(&data, &layout, metric, class, pts, label, PALETTE[i])
                        })
                        .collect();
                    (class.to_string(), series)
                })
                .collect()
        } else {
            let pts = &layout.groups[0].1;
            let series = items
                .iter()
                .take(MAX_LINES)
                .enumerate()
                .filter_map(|(i, class)| {
                    series_of(
                        &data,
                        &layout,
                        metric,
                        class,
                        pts,
                        class.to_string(),
                        PALETTE[i],
                    )
                })
                .collect();
            vec![(String::new(), series)]
        };
        for (class, series) in charts {
            if series.is_empty() {
                continue;
            }
            let mut title = format!("{} vs {x_name}", metric.title);
            if !class.is_empty() {
                title = format!("{class}: {title}");
            }
            if layout.groups.len() > MAX_LINES && grouped {
                title.push_str(&format!(
                    " (first {MAX_LINES} of {} lines)",
                    layout.groups.len()
                ));
            }
            title.push_str(" · mean, 95% CI");
            let stem = if class.is_empty() {
                format!("sweep-{}", metric.column)
            } else {
                format!("sweep-{}-{}", metric.column, slug(&class))
            };
            let chart = LineChart {
                title,
                metric,
                x: &layout.x_axis,
                series,
            };
            written.push(save(&chart, dir, &stem, format)?);
        }
        if data.params.len() == 2 && layout.crossed {
            for class in &items {
                written.push(heatmap(&data, &layout, metric, class, dir, format)?);
            }
        }
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::heatmap::{Scale, text_color, viridis};
    use super::*;

    const SWEEP: &str = "\
scenario,point,pool.gpu.gpus,pool.gpu.policy,class,n,latency_p99_s_mean,latency_p99_s_sd,latency_p99_s_ci_low,latency_p99_s_ci_high
s,0,8,fifo,jobs,2,10,1,8,12
s,0,8,fifo,all,2,10,1,8,12
s,1,12,fifo,jobs,2,2,0.1,1.8,2.2
s,1,12,fifo,all,2,2,0.1,1.8,2.2
s,2,8,fair,jobs,2,9,1,7,11
s,2,8,fair,all,2,9,1,7,11
s,3,12,fair,jobs,2,1.5,0.1,1.3,1.7
s,3,12,fair,all,2,1.5,0.1,1.3,1.7
";

    #[test]
    fn the_numeric_parameter_is_x_and_the_other_makes_lines() {
        let data = read(SWEEP.as_bytes(), None).unwrap();
        assert_eq!(data.params, ["pool.gpu.gpus", "pool.gpu.policy"]);
        assert_eq!(classes(&data), ["jobs"]);
        let l = layout(&data).unwrap();
        assert_eq!(l.x_param, 0);
        assert!(l.crossed);
        assert_eq!(
            l.x_values,
            [("8".to_string(), 8.0), ("12".to_string(), 12.0)]
        );
        let labels: Vec<&str> = l.groups.iter().map(|g| g.0.as_str()).collect();
        assert_eq!(labels, ["gpu.policy=fifo", "gpu.policy=fair"]);
        let s = series_of(
            &data,
            &l,
            &LATENCY,
            "jobs",
            &l.groups[1].1,
            "x".into(),
            BLUE_,
        )
        .unwrap();
        assert_eq!(s.points, [(8.0, 9.0), (12.0, 1.5)]);
        assert_eq!(s.band, [(8.0, 7.0, 11.0), (12.0, 1.3, 1.7)]);
    }

    const BLUE_: RGBColor = super::super::BLUE;

    #[test]
    fn parameters_with_units_are_numeric() {
        assert_eq!(
            numeric(&["6/s", "1.2k/min"]),
            Some((vec![6.0, 20.0], " (per s)"))
        );
        assert_eq!(
            numeric(&["30m", "1h"]),
            Some((vec![1800.0, 3600.0], " (s)"))
        );
        assert_eq!(numeric(&["fifo", "8"]), None);
    }

    #[test]
    fn cost_sums_pools_per_replication() {
        let pools = crate::rows::complete::<PoolRow>(
            "point,replication,pool,cost_usd\n0,0,a,1\n0,0,b,2\n0,1,a,2\n0,1,b,3\n",
        );
        let data = read(SWEEP.as_bytes(), Some(pools.as_bytes())).unwrap();
        let s = data.stats[&("cost_usd".to_string(), TOTAL.to_string(), 0)];
        assert_eq!(s.mean, 4.0);
        assert!(s.low.unwrap() < 4.0 && s.high.unwrap() > 4.0);
    }

    #[test]
    fn viridis_ends_and_text_contrast() {
        assert_eq!(viridis(0.0), RGBColor(68, 1, 84));
        assert_eq!(viridis(1.0), RGBColor(253, 231, 37));
        assert_eq!(text_color(viridis(0.0)), WHITE);
        assert_eq!(text_color(viridis(1.0)), BLACK);
        let s = Scale::new(&[1.0, 100.0], true);
        assert!(s.log);
        assert!((s.t(10.0) - 0.5).abs() < 1e-12);
        assert!((s.value(0.5) - 10.0).abs() < 1e-9);
    }
}

#[cfg(test)]
mod drawing_tests {
    use super::heatmap::viridis;
    use super::*;

    #[test]
    fn draws_a_line_chart_per_class_and_a_heatmap_from_a_synthetic_sweep() {
        let sweep = "\
scenario,point,gpus,rate,class,n,latency_p99_s_mean,latency_p99_s_sd,latency_p99_s_ci_low,latency_p99_s_ci_high,slo_attainment_mean,slo_attainment_sd,slo_attainment_ci_low,slo_attainment_ci_high
s,0,8,6/s,a,3,10,1,8,12,0.5,0.1,0.4,0.6
s,0,8,6/s,all,3,10,1,8,12,0.5,0.1,0.4,0.6
s,1,8,7/s,a,3,30,1,28,32,0.2,0.1,0.1,0.3
s,1,8,7/s,all,3,30,1,28,32,0.2,0.1,0.1,0.3
s,2,16,6/s,a,3,2,1,1,3,0.99,0.01,0.98,1
s,2,16,6/s,all,3,2,1,1,3,0.99,0.01,0.98,1
s,3,16,7/s,a,3,3,1,2,4,0.95,0.01,0.94,0.96
s,3,16,7/s,all,3,3,1,2,4,0.95,0.01,0.94,0.96
";
        let dir = tempfile::TempDir::new().unwrap();
        let files = sweep_charts(sweep.as_bytes(), None, dir.path(), ChartFormat::Png).unwrap();
        let names: Vec<&str> = files.iter().map(|f| f.0.as_str()).collect();
        assert_eq!(
            names,
            [
                "sweep-latency_p99_s-a.png",
                "heatmap-latency_p99_s-a.png",
                "sweep-slo_attainment-a.png",
                "heatmap-slo_attainment-a.png",
            ]
        );
        // The heatmap's extreme cells take the ends of the colour scale.
        let img = image::open(dir.path().join("heatmap-latency_p99_s-a.png"))
            .unwrap()
            .to_rgb8();
        let has = |c: RGBColor| img.pixels().any(|p| p.0 == [c.0, c.1, c.2]);
        assert!(has(viridis(0.0)) && has(viridis(1.0)));
        // Two lines (one per rate), each with its colour.
        let img = image::open(dir.path().join("sweep-latency_p99_s-a.png"))
            .unwrap()
            .to_rgb8();
        for c in &PALETTE[..2] {
            let n = img.pixels().filter(|p| p.0 == [c.0, c.1, c.2]).count();
            assert!(n > 200, "{c:?}: {n} pixels");
        }
    }

    #[test]
    fn a_sweep_without_parameters_draws_nothing() {
        let sweep = "scenario,point,class,n,latency_p99_s_mean\ns,0,a,1,2\n";
        let dir = tempfile::TempDir::new().unwrap();
        let files = sweep_charts(sweep.as_bytes(), None, dir.path(), ChartFormat::Png).unwrap();
        assert!(files.is_empty());
    }
}
