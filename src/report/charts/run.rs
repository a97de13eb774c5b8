//! Run charts, from `timeseries.csv`: arrivals and latency per class,
//! queue and GPU saturation per pool, stacked outcomes per class.

use super::{
    Area, Axis, BLUE, Chart, ChartFile, ChartFormat, GREEN, GREY, LegendEntry, ORANGE, PURPLE, RED,
    SIZE, Series, draw_panel, err, frame, legend, prepare, save, slug,
};
use crate::rows::{self, SeriesRow};
use plotters::prelude::*;
use std::collections::BTreeMap;
use std::path::Path;

/// One row of `timeseries.csv` (the columns the charts use).
#[derive(Clone, Debug, Default)]
struct Row {
    t: f64,
    width: f64,
    arrivals: f64,
    retries: f64,
    completions: f64,
    rejected: f64,
    abandoned: f64,
    failed: f64,
    queue_mean: Option<f64>,
    busy: Option<f64>,
    online: Option<f64>,
    p50: Option<f64>,
    p95: Option<f64>,
    p99: Option<f64>,
    deferred: f64,
}

/// Series by (scope kind, scope name), of point 0, replication 0.
fn read(timeseries_csv: &[u8]) -> Result<BTreeMap<(String, String), Vec<Row>>, String> {
    let rows: Vec<SeriesRow> = rows::read("timeseries.csv", timeseries_csv)?;
    let mut series: BTreeMap<(String, String), Vec<Row>> = BTreeMap::new();
    for r in rows
        .into_iter()
        .filter(|r| r.point == 0 && r.replication == 0)
    {
        series
            .entry((r.scope_kind, r.scope))
            .or_default()
            .push(Row {
                t: r.time_s,
                width: r.bucket_s.max(1e-9),
                arrivals: r.arrivals as f64,
                retries: r.retries as f64,
                completions: r.completions as f64,
                rejected: r.rejected as f64,
                abandoned: r.abandoned as f64,
                failed: r.failed as f64,
                queue_mean: r.queue_mean,
                busy: r.busy_gpus_mean,
                online: r.online_gpus_mean,
                p50: r.latency_p50_s,
                p99: r.latency_p99_s,
                p95: r.latency_p95_s,
                deferred: r.deferred.unwrap_or(0) as f64,
            });
    }
    Ok(series)
}

/// End of the activity: the end of the last bucket with arrivals,
/// completions or a queue (the rest of a long drain is empty).
fn active_end(rows: &[Row]) -> f64 {
    rows.iter()
        .filter(|r| {
            r.arrivals + r.completions + r.queue_mean.unwrap_or(0.0) + r.busy.unwrap_or(0.0) > 0.0
        })
        .map(|r| r.t + r.width)
        .fold(0.0, f64::max)
        .max(rows.first().map_or(1.0, |r| r.width))
}

/// Time axis: days, hours, minutes or seconds, whichever keeps the
/// numbers between about 3 and a few hundred.
fn time_axis(rows: &[Row], labelled: bool) -> (Axis, f64) {
    let end = active_end(rows);
    let (unit, name) = if end > 3.0 * 86_400.0 {
        (86_400.0, "days")
    } else if end > 3.0 * 3600.0 {
        (3600.0, "hours")
    } else if end > 180.0 {
        (60.0, "minutes")
    } else {
        (1.0, "seconds")
    };
    let desc = if labelled {
        format!("time ({name})")
    } else {
        String::new()
    };
    (Axis::linear(desc, 0.0, end / unit), unit)
}

/// Points (t, f(row)) of the rows where `f` has a value.
fn points(rows: &[Row], unit: f64, f: impl Fn(&Row) -> Option<f64>) -> Vec<(f64, f64)> {
    rows.iter()
        .filter_map(|r| Some((r.t / unit, f(r)?)))
        .collect()
}

/// A panel of lines with a y axis fitted to them.
fn lines_panel<DB: DrawingBackend>(
    area: &Area<DB>,
    title: &str,
    x: &Axis,
    y_desc: &str,
    log: bool,
    series: &[Series],
) -> Result<(), String> {
    let y = Axis::fit(
        y_desc,
        series.iter().flat_map(|s| s.points.iter().map(|p| p.1)),
        log,
    );
    draw_panel(area, title, x, &y, series)
}

/// Arrival rate above, latency percentiles below, for one class.
struct LatencyChart<'a> {
    class: &'a str,
    rows: &'a [Row],
}

impl Chart for LatencyChart<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &Area<DB>) -> Result<(), String> {
        let (top, bottom) = root.split_vertically(SIZE.1 / 3);
        let (x, unit) = time_axis(self.rows, false);
        let mut lines = vec![Series::line(
            "new requests",
            BLUE,
            points(self.rows, unit, |r| Some(r.arrivals / r.width)),
        )];
        if self.rows.iter().any(|r| r.retries > 0.0) {
            lines.push(Series::line(
                "retries",
                ORANGE,
                points(self.rows, unit, |r| Some(r.retries / r.width)),
            ));
        }
        let title = format!("{}: arrivals", self.class);
        lines_panel(&top, &title, &x, "requests / s", false, &lines)?;
        let (x, unit) = time_axis(self.rows, true);
        let mut lines = vec![
            Series::line("p50", GREEN, points(self.rows, unit, |r| r.p50)),
            Series::line("p95", ORANGE, points(self.rows, unit, |r| r.p95)),
            Series::line("p99", RED, points(self.rows, unit, |r| r.p99)),
        ];
        lines.retain(|s| !s.points.is_empty());
        let title = format!("{}: latency of completions (log scale)", self.class);
        lines_panel(&bottom, &title, &x, "latency (s)", true, &lines)
    }
}

/// Queue length, busy and online GPUs, and utilisation, for one pool.
struct PoolChart<'a> {
    pool: &'a str,
    rows: &'a [Row],
}

impl Chart for PoolChart<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &Area<DB>) -> Result<(), String> {
        let panels = root.split_evenly((3, 1));
        let (x, unit) = time_axis(self.rows, false);
        let queue = points(self.rows, unit, |r| r.queue_mean);
        let title = format!("pool {}: waiting requests", self.pool);
        lines_panel(
            &panels[0],
            &title,
            &x,
            "queue (mean)",
            false,
            &[Series::line("", PURPLE, queue)],
        )?;
        let online = points(self.rows, unit, |r| r.online);
        let busy = points(self.rows, unit, |r| r.busy);
        let title = format!("pool {}: GPUs", self.pool);
        lines_panel(
            &panels[1],
            &title,
            &x,
            "GPUs (mean)",
            false,
            &[
                Series::line("online", GREY, online),
                Series::line("busy", BLUE, busy),
            ],
        )?;
        let (x, unit) = time_axis(self.rows, true);
        let util = points(self.rows, unit, |r| match (r.busy, r.online) {
            (Some(b), Some(o)) if o > 0.0 => Some(100.0 * b / o),
            _ => None,
        });
        let title = format!("pool {}: utilisation (busy / online)", self.pool);
        let y = Axis::linear("utilisation (%)", 0.0, 105.0);
        draw_panel(&panels[2], &title, &x, &y, &[Series::line("", BLUE, util)])
    }
}

/// Outcomes per second over time, stacked, for one class.
struct OutcomeChart<'a> {
    class: &'a str,
    rows: &'a [Row],
}

/// A labelled, coloured layer of a stacked chart and how to read it.
type Layer = (&'static str, RGBColor, fn(&Row) -> f64);

impl Chart for OutcomeChart<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &Area<DB>) -> Result<(), String> {
        let (x, unit) = time_axis(self.rows, true);
        let layers: [Layer; 4] = [
            ("completed", GREEN, |r| r.completions),
            ("rejected", ORANGE, |r| r.rejected),
            ("abandoned", RED, |r| r.abandoned),
            ("failed", PURPLE, |r| r.failed),
        ];
        let totals = self
            .rows
            .iter()
            .map(|r| layers.iter().map(|l| (l.2)(r)).sum::<f64>().max(r.deferred) / r.width);
        let y = Axis::fit("attempts / s", totals, false);
        let title = format!("{}: outcomes of attempts (stacked)", self.class);
        let mut c = frame(root, &title, &x, &y, true)?;
        // Draw cumulative layers from the top down so each shows its band.
        for k in (0..layers.len()).rev() {
            let (label, color, value) = layers[k];
            if k > 0 && self.rows.iter().all(|r| value(r) == 0.0) {
                continue; // An outcome that never happened: no band, no legend.
            }
            let pts: Vec<(f64, f64)> = self
                .rows
                .iter()
                .map(|r| {
                    (
                        r.t / unit,
                        layers[..=k].iter().map(|l| (l.2)(r)).sum::<f64>() / r.width,
                    )
                })
                .collect();
            // Opaque: each layer covers the one drawn before it.
            c.draw_series(AreaSeries::new(pts, 0.0, color.filled()).border_style(color))
                .map_err(err)?
                .label(label)
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 6), (x + 16, y + 6)], color.filled())
                });
        }
        // Deferral is not an outcome (a deferred request still completes,
        // is abandoned, …): a line over the bands, not a band.
        if self.rows.iter().any(|r| r.deferred > 0.0) {
            let pts: Vec<(f64, f64)> = self
                .rows
                .iter()
                .map(|r| (r.t / unit, r.deferred / r.width))
                .collect();
            c.draw_series(LineSeries::new(pts, BLACK.stroke_width(2)))
                .map_err(err)?
                .label("deferred (a line, not stacked)")
                .legend(|(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], BLACK.stroke_width(3))
                });
        }
        // Bottom band first in the legend, as they stack.
        let mut entries: Vec<LegendEntry> = layers
            .iter()
            .enumerate()
            .filter(|(k, l)| *k == 0 || self.rows.iter().any(|r| (l.2)(r) > 0.0))
            .map(|(_, l)| (l.0.to_string(), l.1, true))
            .collect();
        if self.rows.iter().any(|r| r.deferred > 0.0) {
            entries.push(("deferred (a line, not stacked)".into(), BLACK, false));
        }
        legend(root, &mut c, &y, &entries)
    }
}

/// Draw the run charts from `timeseries.csv` bytes into `dir`; returns the
/// files written, in a stable order.
pub fn run_charts(
    timeseries_csv: &[u8],
    dir: &Path,
    format: ChartFormat,
) -> Result<Vec<ChartFile>, String> {
    prepare(dir)?;
    let series = read(timeseries_csv)?;
    let mut written = Vec::new();
    for ((kind, name), rows) in &series {
        match kind.as_str() {
            "class" => {
                let chart = LatencyChart { class: name, rows };
                written.push(save(
                    &chart,
                    dir,
                    &format!("latency-{}", slug(name)),
                    format,
                )?);
                if rows
                    .iter()
                    .any(|r| r.rejected + r.abandoned + r.failed + r.deferred > 0.0)
                {
                    let chart = OutcomeChart { class: name, rows };
                    written.push(save(
                        &chart,
                        dir,
                        &format!("outcomes-{}", slug(name)),
                        format,
                    )?);
                }
            }
            "pool" => {
                let chart = PoolChart { pool: name, rows };
                written.push(save(&chart, dir, &format!("pool-{}", slug(name)), format)?);
            }
            _ => {}
        }
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A synthetic time series: one class with a spike at t = 60..120 s
    /// and some rejections, one pool.
    fn series() -> String {
        crate::rows::complete::<crate::rows::SeriesRow>(&partial_series())
    }

    fn partial_series() -> String {
        let mut csv = String::from(
            "point,replication,time_s,bucket_s,scope_kind,scope,arrivals,retries,completions,\
             rejected,abandoned,failed,queue_mean,busy_gpus_mean,online_gpus_mean,\
             latency_p50_s,latency_p99_s,latency_p95_s\n",
        );
        for k in 0..30 {
            let t = k * 10;
            let spike = (6..12).contains(&k);
            let (arr, p50, p99) = if spike {
                (500, 20.0, 90.0)
            } else {
                (50, 1.0, 4.0)
            };
            let rej = if spike { 40 } else { 0 };
            csv += &format!(
                "0,0,{t},10,class,jobs,{arr},0,{},{rej},0,0,1,,,{p50},{p99},{}\n",
                arr - rej,
                p99 * 0.8
            );
            csv += &format!(
                "0,0,{t},10,pool,gpu,{arr},0,{},{rej},0,0,{},{},8,,,\n",
                arr - rej,
                if spike { 100 } else { 0 },
                if spike { 8 } else { 3 }
            );
            // Another replication is ignored.
            csv += &format!("0,1,{t},10,class,jobs,1,0,1,0,0,0,0,,,1,1,1\n");
        }
        csv
    }

    #[test]
    fn draws_latency_outcomes_and_pool_charts_from_a_synthetic_series() {
        let dir = tempfile::TempDir::new().unwrap();
        let files = run_charts(series().as_bytes(), dir.path(), ChartFormat::Png).unwrap();
        let names: Vec<&str> = files.iter().map(|f| f.0.as_str()).collect();
        assert_eq!(
            names,
            ["latency-jobs.png", "outcomes-jobs.png", "pool-gpu.png"]
        );
        let count = |name: &str, c: RGBColor| {
            let img = image::open(dir.path().join(name)).unwrap().to_rgb8();
            assert_eq!(img.dimensions(), SIZE);
            img.pixels().filter(|p| p.0 == [c.0, c.1, c.2]).count()
        };
        // The lines are drawn in their colours: p99 red, arrivals blue.
        assert!(count("latency-jobs.png", RED) > 300);
        assert!(count("latency-jobs.png", BLUE) > 300);
        assert!(count("pool-gpu.png", PURPLE) > 300, "the queue line");
        // The rejected band is visible in the stacked chart.
        assert!(count("outcomes-jobs.png", ORANGE) > 1000);
    }

    #[test]
    fn the_time_axis_unit_follows_the_length_of_the_run() {
        let rows = |end: f64| {
            vec![Row {
                t: 0.0,
                width: end,
                arrivals: 1.0,
                ..Row::default()
            }]
        };
        let unit = |end: f64| time_axis(&rows(end), true).0.desc;
        assert_eq!(unit(100.0), "time (seconds)");
        assert_eq!(unit(3600.0), "time (minutes)");
        assert_eq!(unit(86_400.0), "time (hours)");
        assert_eq!(unit(7.0 * 86_400.0), "time (days)");
    }

    #[test]
    fn a_series_without_the_needed_columns_is_an_error() {
        let dir = tempfile::TempDir::new().unwrap();
        let e = run_charts(b"time_s,arrivals\n0,1\n", dir.path(), ChartFormat::Svg).unwrap_err();
        assert!(e.contains("timeseries.csv has no column scenario"), "{e}");
    }

    #[test]
    fn svg_charts_are_text_with_the_titles() {
        let dir = tempfile::TempDir::new().unwrap();
        let files = run_charts(series().as_bytes(), dir.path(), ChartFormat::Svg).unwrap();
        let svg = std::fs::read_to_string(dir.path().join(&files[0].0)).unwrap();
        assert!(svg.starts_with("<svg"));
        assert!(svg.contains("jobs: latency of completions (log scale)"));
        assert!(svg.contains("time (minutes)"), "5 minutes of data: minutes");
    }
}
