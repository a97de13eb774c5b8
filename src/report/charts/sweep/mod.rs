//! Sweep charts, from `sweep.csv` (and `pools.csv` for cost): a headline
//! metric against a swept parameter with its 95% confidence band, one
//! line per class (one swept parameter) or per value of the other
//! parameters; and for two crossed parameters, heatmaps with the value
//! written in each cell.

mod data;
mod heatmap;
mod metrics;

use data::{Stat, SweepData, read};
pub(super) use metrics::path_label;
use metrics::{Kind, SweepMetric};

use super::{
    Area, Axis, Chart, ChartFile, ChartFormat, Labels, Mark, PALETTE, Series, draw_panel, prepare,
    save, seconds_label, slug, tick_label,
};
use crate::metric::Metric;
use crate::report::RunInfo;
use crate::report::csvdata::distinct;
use crate::units::{parse_duration, parse_rate};
use heatmap::heatmap;
use plotters::prelude::*;
use std::path::Path;

/// The class (or pool) name under which per-point totals (cost) are kept.
const TOTAL: &str = "all pools";

/// What a numeric swept parameter's values are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum XUnit {
    Plain,
    Seconds,
    PerSecond,
}

/// A swept parameter's values as numbers (plain numbers, durations in
/// seconds or rates per second), with their unit; `None` if some value is
/// none of these.
fn numeric(values: &[&str]) -> Option<(Vec<f64>, XUnit)> {
    if let Some(v) = values.iter().map(|s| s.parse::<f64>().ok()).collect() {
        return Some((v, XUnit::Plain));
    }
    if let Some(v) = values
        .iter()
        .map(|s| parse_duration(s).map(|d| d.as_secs_f64()))
        .collect()
    {
        return Some((v, XUnit::Seconds));
    }
    values
        .iter()
        .map(|s| parse_rate(s))
        .collect::<Option<Vec<f64>>>()
        .map(|v| (v, XUnit::PerSecond))
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
    let label = path_label(&data.params[x_param]);
    let (x_values, x_axis) = match numeric(&names.iter().map(String::as_str).collect::<Vec<_>>()) {
        Some((nums, unit)) => {
            let mut pairs: Vec<(String, f64)> = names.iter().cloned().zip(nums).collect();
            pairs.sort_by(|a, b| a.1.total_cmp(&b.1));
            let (lo, hi) = (pairs[0].1, pairs[pairs.len() - 1].1);
            let pad = if hi > lo { 0.04 * (hi - lo) } else { 1.0 };
            let desc = match unit {
                XUnit::PerSecond => format!("{label} (per s)"),
                _ => label,
            };
            let mut axis = Axis::linear(desc, lo - pad, hi + pad);
            if unit == XUnit::Seconds {
                axis.labels = Labels::Seconds;
            }
            // Few values: tick each one (no 8.5 GPUs).
            if pairs.len() <= 12 {
                axis.ticks = Some(pairs.iter().map(|p| p.1).collect());
            }
            (pairs, axis)
        }
        None => {
            let pairs = names.iter().cloned().zip((0..).map(f64::from)).collect();
            (pairs, Axis::categories(label, names.clone()))
        }
    };
    let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
    for (&p, values) in &data.points {
        let label = if crossed {
            (0..data.params.len())
                .filter(|&i| i != x_param)
                .map(|i| format!("{} {}", path_label(&data.params[i]), values[i]))
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

/// A metric against the x parameter: one line (with its band) per item,
/// and the SLO bounds on it.
struct LineChart<'a> {
    title: String,
    metric: &'a SweepMetric,
    x: &'a Axis,
    series: Vec<Series>,
    marks: Vec<Mark>,
}

impl Chart for LineChart<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &Area<DB>) -> Result<(), String> {
        let values = self.series.iter().flat_map(|s| {
            s.points
                .iter()
                .map(|p| p.1)
                .chain(s.band.iter().flat_map(|b| [b.1, b.2]))
        });
        let levels = self.marks.iter().filter_map(|m| match m {
            Mark::Level { y, .. } => Some(*y),
            Mark::Span { .. } => None,
        });
        let values: Vec<f64> = values.chain(levels).filter(|v| v.is_finite()).collect();
        let positive = values.iter().filter(|v| **v > 0.0);
        let lo = positive.clone().copied().fold(f64::INFINITY, f64::min);
        let hi = positive.copied().fold(0.0, f64::max);
        let log = self.metric.log_if_wide && lo.is_finite() && hi > 20.0 * lo;
        let desc = if log {
            format!("{} (log scale)", self.metric.axis())
        } else {
            self.metric.axis()
        };
        let mut y = Axis::fit(desc, values.into_iter(), log);
        if self.metric.kind == Kind::Seconds {
            y = y.seconds();
        }
        draw_panel(root, &self.title, self.x, &y, &self.series, &self.marks)
    }
}

/// One line: a metric's mean and band over the points of a group.
#[allow(clippy::too_many_arguments)]
fn series_of(
    data: &SweepData,
    layout: &Layout,
    metric: &SweepMetric,
    owner: &str,
    points: &[usize],
    label: String,
    index: usize,
) -> Option<Series> {
    let mut rows: Vec<(f64, Stat)> = points
        .iter()
        .filter_map(|p| {
            let stat = *data
                .stats
                .get(&(metric.column.clone(), owner.to_string(), *p))?;
            let v = &data.points[p][layout.x_param];
            let x = layout.x_values.iter().find(|(n, _)| n == v)?.1;
            Some((x, stat))
        })
        .collect();
    if rows.is_empty() {
        return None;
    }
    rows.sort_by(|a, b| a.0.total_cmp(&b.0));
    let k = metric.scale();
    let mut s = Series::line(
        label,
        PALETTE[index % PALETTE.len()],
        rows.iter().map(|(x, s)| (*x, s.mean * k)).collect(),
    );
    s.band = rows
        .iter()
        .filter_map(|(x, s)| Some((*x, s.low? * k, s.high? * k)))
        .collect();
    // Lines that coincide stay distinguishable: each has its own marker
    // shape, and every other one is dashed.
    s.markers = true;
    s.shape = index;
    s.dashed = index % 2 == 1;
    Some(s)
}

/// The metrics a sweep draws, in order: the scenario's SLO metrics, then
/// waits and latency (and TTFT and TPOT, with serving pools), attainment
/// and completions, then the pools' utilization and queue, and the cost.
fn metrics_to_draw(data: &SweepData, info: Option<&RunInfo>) -> Vec<SweepMetric> {
    let mut out: Vec<SweepMetric> = Vec::new();
    let mut push = |m: SweepMetric| {
        if !out.iter().any(|o| o.column == m.column) {
            out.push(m);
        }
    };
    for slo in info.map_or(&[][..], |i| &i.slos[..]) {
        if let Some(m) = Metric::parse(&slo.metric) {
            push(SweepMetric::of(m));
        }
    }
    for m in [
        Metric::WaitP95,
        Metric::LatencyP99,
        // Sweeps of scenarios with serving pools only have these.
        Metric::TtftP99,
        Metric::TpotP99,
        Metric::SloAttainment,
        Metric::CompletedFraction,
    ] {
        push(SweepMetric::of(m));
    }
    push(SweepMetric::pool(
        "pool_utilization",
        "utilization",
        Kind::Share,
    ));
    push(SweepMetric::pool(
        "pool_queue_mean",
        "mean waiting requests",
        Kind::Plain,
    ));
    push(SweepMetric::pool("pool_cost_usd", "GPU cost", Kind::Usd));
    let _ = data;
    out
}

/// SLO bounds on `metric` of `owner` (a class; every class's when the
/// chart has a line per class), as dashed levels in the line's colour.
fn slo_marks(
    info: Option<&RunInfo>,
    metric: &SweepMetric,
    owners: &[(String, RGBColor)],
) -> Vec<Mark> {
    let Some(info) = info else {
        return Vec::new();
    };
    let mut marks = Vec::new();
    for slo in &info.slos {
        let Some(m) = metric
            .metric
            .filter(|m| Metric::parse(&slo.metric) == Some(*m))
        else {
            continue;
        };
        let Some((_, color)) = owners.iter().find(|(o, _)| *o == slo.class) else {
            continue;
        };
        let show = |v: f64| match metric.kind {
            Kind::Seconds => seconds_label(v),
            Kind::Share => format!("{}%", tick_label(v * 100.0)),
            _ => tick_label(v),
        };
        for (bound, sign) in [(slo.max, "≤"), (slo.min, "≥")] {
            if let Some(b) = bound {
                marks.push(Mark::Level {
                    y: b * metric.scale(),
                    color: *color,
                    label: format!("SLO {}: {} {sign} {}", slo.class, m.label(), show(b)),
                });
            }
        }
    }
    marks
}

/// Draw the sweep charts from `sweep.csv` (and `pools.csv` for the cost
/// of folders that predate the pool columns) into `dir`; the scenario's
/// SLOs come from `scenario.json`. Returns the files written, in a stable
/// order.
pub fn sweep_charts(
    sweep_csv: &[u8],
    pools_csv: Option<&[u8]>,
    info: Option<&RunInfo>,
    dir: &Path,
    format: ChartFormat,
) -> Result<Vec<ChartFile>, String> {
    let data = read(sweep_csv, pools_csv)?;
    let Some(layout) = layout(&data) else {
        return Ok(Vec::new());
    };
    prepare(dir)?;
    let mut written = Vec::new();
    let x_name = path_label(&data.params[layout.x_param]);
    let has = |m: &SweepMetric, owner: &str| {
        data.stats
            .iter()
            .any(|((metric, c, _), _)| *metric == m.column && c == owner)
    };
    let grouped = layout.groups.len() > 1;
    let classes = classes(&data);
    for metric in metrics_to_draw(&data, info) {
        let owners: Vec<String> = if metric.column == "pool_cost_usd" {
            vec![TOTAL.to_string()]
        } else if metric.per_pool {
            data.pools.clone()
        } else {
            classes.clone()
        };
        let owners: Vec<&str> = owners
            .iter()
            .map(String::as_str)
            .filter(|c| has(&metric, c))
            .collect();
        if owners.is_empty() {
            continue;
        }
        let values = || {
            data.stats
                .iter()
                .filter(|((m, _, _), _)| *m == metric.column)
                .map(|(_, s)| s.mean)
        };
        if metric.column == "pool_cost_usd" && values().all(|v| v == 0.0) {
            continue; // No pool has a price.
        }
        if metric.metric == Some(Metric::CompletedFraction) && values().all(|v| v >= 0.9995) {
            continue; // Everything completed: a flat line at 100% says nothing.
        }
        // One chart per class (or pool) when lines are groups; one chart
        // with a line per class otherwise.
        let charts: Vec<(String, Vec<Series>, Vec<Mark>)> = if grouped || owners.len() == 1 {
            owners
                .iter()
                .map(|owner| {
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
                            series_of(&data, &layout, &metric, owner, pts, label, i)
                        })
                        .collect();
                    let marks = slo_marks(info, &metric, &[(owner.to_string(), BLACK)]);
                    (owner.to_string(), series, marks)
                })
                .collect()
        } else {
            let pts = &layout.groups[0].1;
            let series: Vec<Series> = owners
                .iter()
                .take(MAX_LINES)
                .enumerate()
                .filter_map(|(i, owner)| {
                    let label = if metric.per_pool {
                        format!("pool {owner}")
                    } else {
                        owner.to_string()
                    };
                    series_of(&data, &layout, &metric, owner, pts, label, i)
                })
                .collect();
            let colors: Vec<(String, RGBColor)> = owners
                .iter()
                .enumerate()
                .map(|(i, o)| (o.to_string(), PALETTE[i % PALETTE.len()]))
                .collect();
            let marks = slo_marks(info, &metric, &colors);
            vec![(String::new(), series, marks)]
        };
        for (owner, series, marks) in charts {
            if series.is_empty() {
                continue;
            }
            let mut title = format!("{} vs {x_name}", metric.title);
            if !owner.is_empty() {
                let who = if metric.per_pool && owner != TOTAL {
                    format!("pool {owner}")
                } else {
                    owner.clone()
                };
                title = format!("{who}: {title}");
            }
            if layout.groups.len() > MAX_LINES && grouped {
                title.push_str(&format!(
                    " (first {MAX_LINES} of {} lines)",
                    layout.groups.len()
                ));
            }
            title.push_str(" · mean, 95% CI");
            let stem = if owner.is_empty() {
                format!("sweep-{}", metric.column)
            } else {
                format!("sweep-{}-{}", metric.column, slug(&owner))
            };
            let chart = LineChart {
                title,
                metric: &metric,
                x: &layout.x_axis,
                series,
                marks,
            };
            written.push(save(&chart, dir, &stem, format)?);
        }
        let heat = metric.metric.is_some_and(|m| {
            m == Metric::LatencyP99
                || info.is_some_and(|i| i.slos.iter().any(|s| Metric::parse(&s.metric) == Some(m)))
        }) || metric.column == "pool_utilization";
        if heat && data.params.len() == 2 && layout.crossed {
            for owner in &owners {
                written.push(heatmap(&data, &layout, &metric, owner, dir, format)?);
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
        assert_eq!(
            labels,
            ["policy of pool gpu fifo", "policy of pool gpu fair"]
        );
        assert_eq!(l.x_axis.desc, "GPUs in pool gpu");
        let latency = SweepMetric::of(Metric::LatencyP99);
        let s = series_of(&data, &l, &latency, "jobs", &l.groups[1].1, "x".into(), 1).unwrap();
        assert_eq!(s.points, [(8.0, 9.0), (12.0, 1.5)]);
        assert_eq!(s.band, [(8.0, 7.0, 11.0), (12.0, 1.3, 1.7)]);
        // The second line differs from the first by its dashes and marker.
        assert!(s.dashed && s.markers && s.shape == 1);
    }

    #[test]
    fn paths_read_as_words() {
        assert_eq!(path_label("pool.gpu-image.gpus"), "GPUs in pool gpu-image");
        assert_eq!(path_label("pool.gpu.policy"), "policy of pool gpu");
        assert_eq!(
            path_label("class.jobs.arrivals.rate"),
            "arrival rate of class jobs"
        );
        assert_eq!(path_label("bucket"), "bucket");
    }

    #[test]
    fn cells_of_one_chart_share_one_unit() {
        let m = SweepMetric::of(Metric::LatencyP99);
        let f = m.cell_format(&[84.02, 449.36, 1428.0]);
        assert_eq!(f(449.36), "7.49m");
        assert_eq!(f(84.02), "1.40m");
        let f = m.cell_format(&[0.2, 0.5]);
        assert_eq!(f(0.25), "250ms");
        let share = SweepMetric::of(Metric::SloAttainment);
        assert_eq!(share.cell_format(&[99.0])(99.5), "99.5%");
    }

    #[test]
    fn parameters_with_units_are_numeric() {
        assert_eq!(
            numeric(&["6/s", "1.2k/min"]),
            Some((vec![6.0, 20.0], XUnit::PerSecond))
        );
        assert_eq!(
            numeric(&["30m", "1h"]),
            Some((vec![1800.0, 3600.0], XUnit::Seconds))
        );
        assert_eq!(numeric(&["fifo", "8"]), None);
    }

    #[test]
    fn cost_sums_pools_per_replication() {
        let pools = crate::rows::complete::<crate::rows::PoolRow>(
            "point,replication,pool,cost_usd\n0,0,a,1\n0,0,b,2\n0,1,a,2\n0,1,b,3\n",
        );
        let data = read(SWEEP.as_bytes(), Some(pools.as_bytes())).unwrap();
        let s = data.stats[&("pool_cost_usd".to_string(), TOTAL.to_string(), 0)];
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
        let info = RunInfo {
            slos: vec![crate::report::SloInfo {
                class: "a".into(),
                metric: "slo_attainment".into(),
                min: Some(0.9),
                max: None,
            }],
            ..RunInfo::default()
        };
        let files = sweep_charts(
            sweep.as_bytes(),
            None,
            Some(&info),
            dir.path(),
            ChartFormat::Png,
        )
        .unwrap();
        let names: Vec<&str> = files.iter().map(|f| f.0.as_str()).collect();
        assert_eq!(
            names,
            [
                "sweep-slo_attainment-a.png",
                "heatmap-slo_attainment-a.png",
                "sweep-latency_p99_s-a.png",
                "heatmap-latency_p99_s-a.png",
            ]
        );
        let svg = sweep_charts(
            sweep.as_bytes(),
            None,
            Some(&info),
            dir.path(),
            ChartFormat::Svg,
        )
        .unwrap();
        let text = String::from_utf8(svg[0].1.clone()).unwrap();
        assert!(
            text.contains("SLO a: SLO attainment ≥ 90%"),
            "the SLO line: {}",
            text.lines()
                .filter(|l| l.contains("SLO"))
                .collect::<Vec<_>>()
                .join("\n")
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
        let files =
            sweep_charts(sweep.as_bytes(), None, None, dir.path(), ChartFormat::Png).unwrap();
        assert!(files.is_empty());
    }
}
