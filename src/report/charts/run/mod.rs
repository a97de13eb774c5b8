//! Run charts, from `timeseries.csv` (and `scenario.json` for targets,
//! warm-up, start time and order): an overview of every class and pool,
//! then arrivals and latency per class, stacked outcomes per class, and
//! queue and saturation per pool.
//!
//! With several replications each line is their mean per bucket and the
//! band around it their range (min–max), and the titles say so. The
//! warm-up and the drain (after arrivals stop) are shaded and labelled;
//! a bucket's latency percentiles are drawn only when it has enough
//! completions to mean something (see [`MIN_COMPLETIONS`]).

mod frame;
mod overview;
mod scope;
mod serving;
mod stages;

use super::{
    Area, Axis, BLUE, Chart, ChartFile, ChartFormat, FONT, GREEN, GREY, LegendEntry, Mark, ORANGE,
    PURPLE, RED, SIZE, Series, draw_panel, err, frame, legend, prepare, save, slug,
};
use crate::report::RunInfo;
use frame::{Frame, run_frame};
use overview::Overview;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use scope::{Row, Scope, Scopes, read};
use std::path::Path;

/// A panel of lines with a y axis fitted to them (and their bands).
#[allow(clippy::too_many_arguments)]
fn lines_panel<DB: DrawingBackend>(
    area: &Area<DB>,
    title: &str,
    x: &Axis,
    y_desc: &str,
    log: bool,
    series: &[Series],
    marks: &[Mark],
    seconds: bool,
) -> Result<(), String> {
    let values = series.iter().flat_map(|s| {
        s.points
            .iter()
            .map(|p| p.1)
            .chain(s.band.iter().map(|b| b.2))
    });
    let levels = marks.iter().filter_map(|m| match m {
        Mark::Level { y, .. } => Some(*y),
        Mark::Span { .. } => None,
    });
    let mut y = super::Axis::fit(y_desc, values.chain(levels), log);
    if seconds {
        y = y.seconds();
    }
    draw_panel(area, title, x, &y, series, marks)
}

/// Arrival rate above, latency percentiles below, for one class.
struct LatencyChart<'a> {
    class: &'a str,
    scope: &'a Scope,
    frame: &'a Frame<'a>,
}

impl Chart for LatencyChart<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &Area<DB>) -> Result<(), String> {
        let (top, bottom) = root.split_vertically(SIZE.1 / 3);
        let f = self.frame;
        let before_end = |r: &Row| r.t < f.duration;
        let mut lines = vec![self.scope.series("new requests", BLUE, |r| {
            before_end(r).then(|| r.arrivals / r.width)
        })];
        if self.scope.rows().any(|r| r.retries > 0.0) {
            lines.push(self.scope.series("retries", ORANGE, |r| {
                before_end(r).then(|| r.retries / r.width)
            }));
        }
        let title = format!("{}: arrivals{}", self.class, f.reps_note());
        lines_panel(
            &top,
            &title,
            &f.x(false),
            "requests / s",
            false,
            &lines,
            &f.spans,
            false,
        )?;
        let shown = self.scope.latency_filter();
        let pct = |label, color, get: fn(&Row) -> Option<f64>| {
            self.scope
                .series(label, color, |r| if shown(r) { get(r) } else { None })
        };
        let mut lines = vec![
            pct("p50", GREEN, |r| r.p50),
            pct("p95", ORANGE, |r| r.p95),
            pct("p99", RED, |r| r.p99),
        ];
        lines.retain(|s| !s.points.is_empty());
        let title = format!(
            "{}: latency of the bucket's completions (log scale)",
            self.class
        );
        lines_panel(
            &bottom,
            &title,
            &f.x(true),
            "latency",
            true,
            &lines,
            &f.latency_marks(self.class),
            true,
        )
    }
}

/// Queue length, GPUs (when capacity changes) and utilization, for one pool.
struct PoolChart<'a> {
    pool: &'a str,
    scope: &'a Scope,
    frame: &'a Frame<'a>,
}

impl Chart for PoolChart<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &Area<DB>) -> Result<(), String> {
        let f = self.frame;
        let online: Vec<f64> = self.scope.rows().filter_map(|r| r.online).collect();
        let lo = online.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = online.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let constant = hi - lo < 1e-6;
        let panels = root.split_evenly((if constant { 2 } else { 3 }, 1));
        let queue = self.scope.series("", PURPLE, |r| r.queue_mean);
        let title = format!("pool {}: waiting requests{}", self.pool, f.reps_note());
        lines_panel(
            &panels[0],
            &title,
            &f.x(false),
            "requests (mean per bucket)",
            false,
            &[queue],
            &f.spans,
            false,
        )?;
        if !constant {
            let title = format!("pool {}: GPUs", self.pool);
            lines_panel(
                &panels[1],
                &title,
                &f.x(false),
                "GPUs (mean per bucket)",
                false,
                &[
                    self.scope.series("online", GREY, |r| r.online),
                    self.scope.series("busy", BLUE, |r| r.busy),
                ],
                &f.spans,
                false,
            )?;
        }
        let util = self.scope.series("", BLUE, |r| match (r.busy, r.online) {
            (Some(b), Some(o)) if o > 0.0 => Some(100.0 * b / o),
            _ => None,
        });
        let title = if constant && lo.is_finite() {
            format!(
                "pool {}: utilization (busy ÷ {} online GPUs throughout)",
                self.pool,
                crate::report::text::group(lo)
            )
        } else {
            format!("pool {}: utilization (busy ÷ online GPUs)", self.pool)
        };
        let y = Axis::linear("utilization (%)", 0.0, 105.0);
        let last = panels.last().expect("two or three panels");
        draw_panel(last, &title, &f.x(true), &y, &[util], &f.spans)
    }
}

/// Outcomes per second over time, stacked, for one class (replications'
/// mean).
struct OutcomeChart<'a> {
    class: &'a str,
    scope: &'a Scope,
    frame: &'a Frame<'a>,
}

/// A labelled, coloured layer of a stacked chart and how to read it.
type Layer = (&'static str, RGBColor, fn(&Row) -> f64);

impl Chart for OutcomeChart<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &Area<DB>) -> Result<(), String> {
        let f = self.frame;
        let x = f.x(true);
        let layers: [Layer; 4] = [
            ("completed", GREEN, |r| r.completions),
            ("rejected", ORANGE, |r| r.rejected),
            ("abandoned", RED, |r| r.abandoned),
            ("failed", PURPLE, |r| r.failed),
        ];
        // Per layer, the mean rate per bucket (over replications).
        let rates: Vec<Vec<(f64, f64, f64, f64)>> = layers
            .iter()
            .map(|l| self.scope.stat(|r| Some((l.2)(r) / r.width)))
            .collect();
        let deferred = self.scope.stat(|r| Some(r.deferred / r.width));
        let n = rates[0].len();
        let stacked = |k: usize, i: usize| rates[..=k].iter().map(|l| l[i].1).sum::<f64>();
        let totals = (0..n).map(|i| stacked(layers.len() - 1, i).max(deferred[i].1));
        let y = Axis::fit("attempts / s", totals, false);
        let (ylo, yhi) = y.range();
        // A layer thinner than about a pixel everywhere cannot be seen: no
        // band, no legend entry; a note under the title says how many.
        let visible = |k: usize| rates[k].iter().any(|p| p.1 > (yhi - ylo) / 500.0);
        let count = |k: usize| -> f64 {
            self.scope.rows().map(|r| (layers[k].2)(r)).sum::<f64>() / f.replications.max(1) as f64
        };
        let title = format!(
            "{}: outcomes of attempts (stacked){}",
            self.class,
            if f.replications > 1 {
                format!(" — mean of {} replications", f.replications)
            } else {
                String::new()
            }
        );
        let mut c = frame(root, &title, &x, &y, true)?;
        // Cumulative layers from the top down so each shows its band.
        for k in (0..layers.len()).rev() {
            if k > 0 && !visible(k) {
                continue;
            }
            let pts: Vec<(f64, f64)> = (0..n).map(|i| (rates[k][i].0, stacked(k, i))).collect();
            let color = layers[k].1;
            // Opaque: each layer covers the one drawn before it.
            c.draw_series(AreaSeries::new(pts, 0.0, color.filled()).border_style(color))
                .map_err(err)?;
        }
        let has_deferred = deferred.iter().any(|p| p.1 > 0.0);
        // Deferral is not an outcome (a deferred request still completes,
        // is abandoned, …): a line over the bands, not a band.
        if has_deferred {
            let pts: Vec<(f64, f64)> = deferred.iter().map(|p| (p.0, p.1)).collect();
            c.draw_series(LineSeries::new(pts, BLACK.stroke_width(2)))
                .map_err(err)?;
        }
        // The warm-up and the drain, over the bands (translucent).
        f.veil_spans(root, &mut c, &x, (ylo, yhi))?;
        let hidden: Vec<String> = (1..layers.len())
            .filter(|&k| !visible(k) && count(k) > 0.0)
            .map(|k| {
                let n = count(k);
                let s = if n == 1.0 { "" } else { "s" };
                format!(
                    "{} ({} attempt{s})",
                    layers[k].0,
                    crate::report::text::group(n)
                )
            })
            .collect();
        if !hidden.is_empty() {
            let (xs, ys) = c.plotting_area().get_pixel_range();
            let base = root.get_base_pixel();
            let style = TextStyle::from((FONT, 14).into_font())
                .color(&GREY)
                .pos(Pos::new(HPos::Left, VPos::Top));
            root.draw(&Text::new(
                format!("too few to see at this scale: {}", hidden.join(", ")),
                (xs.start - base.0 + 8, ys.start - base.1 + 22),
                style,
            ))
            .map_err(err)?;
        }
        // Bottom band first in the legend, as they stack.
        let mut entries: Vec<LegendEntry> = (0..layers.len())
            .filter(|&k| k == 0 || visible(k))
            .map(|k| LegendEntry::band(layers[k].0, layers[k].1))
            .collect();
        if has_deferred {
            entries.push(LegendEntry::line("deferred (a line, not stacked)", BLACK));
        }
        legend(root, &mut c, &y, &entries)
    }
}

/// Names of one kind of scope, in the scenario's order when `scenario.json`
/// gives it (then any others, in file order).
fn ordered<'a>(scopes: &'a Scopes, kind: &str, order: &[String]) -> Vec<(&'a str, &'a Scope)> {
    let mut out: Vec<(&str, &Scope)> = Vec::new();
    for name in order {
        if let Some(((_, n), s)) = scopes.get_key_value(&(kind.to_string(), name.clone())) {
            out.push((n.as_str(), s));
        }
    }
    for ((k, name), s) in scopes {
        if k == kind && !order.contains(name) {
            out.push((name.as_str(), s));
        }
    }
    out
}

/// Draw the run charts from `timeseries.csv` bytes (and the folder's
/// `stage_series.csv` and `scenario.json`, if any) into `dir`; returns the
/// files written, in the order the report shows them: the overview, each
/// class's latency, outcomes and (workflow classes) stages, in scenario
/// order, then each pool.
pub fn run_charts(
    timeseries_csv: &[u8],
    (stage_series_csv, serving_series_csv): (Option<&[u8]>, Option<&[u8]>),
    info: Option<&RunInfo>,
    dir: &Path,
    format: ChartFormat,
) -> Result<Vec<ChartFile>, String> {
    prepare(dir)?;
    let scopes = read(timeseries_csv)?;
    let stage_lines = match stage_series_csv {
        Some(csv) => stages::read(csv)?,
        None => Default::default(),
    };
    let frame = run_frame(&scopes, info);
    let class_order: Vec<String> = info
        .map(|i| i.classes.iter().map(|c| c.name.clone()).collect())
        .unwrap_or_default();
    let pool_order: Vec<String> = info.map(|i| i.pools.clone()).unwrap_or_default();
    let classes = ordered(&scopes, "class", &class_order);
    let pools = ordered(&scopes, "pool", &pool_order);
    let mut written = Vec::new();
    // One class on one pool: its own charts say it all.
    if classes.len() > 1 || pools.len() > 1 {
        let chart = Overview {
            classes: classes.clone(),
            pools: pools.clone(),
            frame: &frame,
        };
        written.push(save(&chart, dir, "overview", format)?);
    }
    for &(name, scope) in &classes {
        let chart = LatencyChart {
            class: name,
            scope,
            frame: &frame,
        };
        written.push(save(
            &chart,
            dir,
            &format!("latency-{}", slug(name)),
            format,
        )?);
        if scope
            .rows()
            .any(|r| r.rejected + r.abandoned + r.failed + r.deferred > 0.0)
        {
            let chart = OutcomeChart {
                class: name,
                scope,
                frame: &frame,
            };
            written.push(save(
                &chart,
                dir,
                &format!("outcomes-{}", slug(name)),
                format,
            )?);
        }
        if let Some(lines) = stage_lines.get(name) {
            let mut pools: Vec<&str> = Vec::new();
            for l in lines.iter().filter(|l| !l.pool.is_empty()) {
                if !pools.contains(&l.pool.as_str()) {
                    pools.push(&l.pool);
                }
            }
            let chart = stages::StageChart {
                class: name,
                stages: lines,
                saturation: stages::first_saturation(&scopes, &pools),
                frame: &frame,
            };
            written.push(save(
                &chart,
                dir,
                &format!("stages-{}", slug(name)),
                format,
            )?);
        }
    }
    for &(name, scope) in &pools {
        let chart = PoolChart {
            pool: name,
            scope,
            frame: &frame,
        };
        written.push(save(&chart, dir, &format!("pool-{}", slug(name)), format)?);
    }
    // Serving pools: batch, cache and TTFT, from serving_series.csv.
    if let Some(csv) = serving_series_csv {
        let series = serving::read(csv)?;
        for &(name, _) in &pools {
            let Some(buckets) = series.get(&("pool".to_string(), name.to_string())) else {
                continue;
            };
            let on_pool = |c: &str| {
                info.and_then(|i| i.classes.iter().find(|k| k.name == c))
                    .is_none_or(|k| k.pool == name)
            };
            let classes = classes
                .iter()
                .filter(|(c, _)| on_pool(c))
                .filter_map(|&(c, _)| {
                    series
                        .get(&("class".to_string(), c.to_string()))
                        .map(|b| (c, b))
                })
                .collect();
            let chart = serving::ServingChart {
                pool: name,
                buckets,
                classes,
                frame: &frame,
            };
            written.push(save(
                &chart,
                dir,
                &format!("serving-{}", slug(name)),
                format,
            )?);
        }
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::super::PALETTE;
    use super::*;
    use crate::rows::SeriesRow;

    /// A synthetic time series: one class with a spike at t = 60..120 s
    /// and some rejections, one pool.
    fn series() -> String {
        crate::rows::complete::<crate::rows::SeriesRow>(&partial_series())
    }

    /// The synthetic series plus a second class, so that there is an
    /// overview.
    fn two_classes() -> String {
        let mut csv = partial_series();
        for line in partial_series()
            .lines()
            .skip(1)
            .filter(|l| l.contains(",class,jobs,"))
        {
            csv += &(line.replace(",class,jobs,", ",class,batch,") + "\n");
        }
        crate::rows::complete::<crate::rows::SeriesRow>(&csv)
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
        }
        csv
    }

    fn count(dir: &Path, name: &str, c: RGBColor) -> usize {
        let img = image::open(dir.join(name)).unwrap().to_rgb8();
        assert_eq!(img.dimensions(), SIZE);
        img.pixels().filter(|p| p.0 == [c.0, c.1, c.2]).count()
    }

    /// The SVG charts of a time series given without its unit columns.
    fn svg_charts(csv: &str) -> Vec<(String, Vec<u8>)> {
        let dir = tempfile::TempDir::new().unwrap();
        run_charts(
            crate::rows::complete::<SeriesRow>(csv).as_bytes(),
            (None, None),
            None,
            dir.path(),
            ChartFormat::Svg,
        )
        .unwrap()
    }

    #[test]
    fn draws_overview_latency_outcomes_and_pool_charts_from_a_synthetic_series() {
        let dir = tempfile::TempDir::new().unwrap();
        let files = run_charts(
            series().as_bytes(),
            (None, None),
            None,
            dir.path(),
            ChartFormat::Png,
        )
        .unwrap();
        let names: Vec<&str> = files.iter().map(|f| f.0.as_str()).collect();
        assert_eq!(
            names,
            ["latency-jobs.png", "outcomes-jobs.png", "pool-gpu.png"],
            "one class on one pool: no overview"
        );
        let two = tempfile::TempDir::new().unwrap();
        let files = run_charts(
            two_classes().as_bytes(),
            (None, None),
            None,
            two.path(),
            ChartFormat::Png,
        )
        .unwrap();
        assert_eq!(files[0].0, "overview.png");
        assert!(
            count(two.path(), "overview.png", PALETTE[1]) > 300,
            "the second class's line"
        );
        // The lines are drawn in their colours: p99 red, arrivals blue.
        assert!(count(dir.path(), "latency-jobs.png", RED) > 300);
        assert!(count(dir.path(), "latency-jobs.png", BLUE) > 300);
        assert!(
            count(dir.path(), "pool-gpu.png", PURPLE) > 300,
            "the queue line"
        );
        // The rejected band is visible in the stacked chart.
        assert!(count(dir.path(), "outcomes-jobs.png", ORANGE) > 1000);
    }

    #[test]
    fn replications_are_drawn_as_their_mean_with_a_band_and_said_so() {
        let mut csv = partial_series();
        // Replication 1: every arrival count doubled.
        for line in partial_series().lines().skip(1) {
            let mut cells: Vec<String> = line.split(',').map(String::from).collect();
            cells[1] = "1".into();
            let a: u64 = cells[6].parse().unwrap();
            cells[6] = (2 * a).to_string();
            csv += &(cells.join(",") + "\n");
        }
        let scopes = read(crate::rows::complete::<SeriesRow>(&csv).as_bytes()).unwrap();
        let scope = &scopes[&("class".to_string(), "jobs".to_string())];
        let s = scope.series("arrivals", BLUE, |r| Some(r.arrivals / r.width));
        // Mean of 5/s and 10/s; the band is their range.
        assert_eq!(s.points[0], (0.0, 7.5));
        assert_eq!(s.band[0], (0.0, 5.0, 10.0));
        let frame = run_frame(&scopes, None);
        assert!(frame.reps_note().contains("mean of 2 replications"));
        let files = svg_charts(&csv);
        let svg = String::from_utf8(files[0].1.clone()).unwrap();
        assert!(svg.contains("mean of 2 replications"), "the title says so");
    }

    #[test]
    fn targets_warm_up_drain_and_clock_time_are_marked() {
        let info = RunInfo {
            classes: vec![crate::report::ClassInfo {
                name: "jobs".into(),
                pool: "gpu".into(),
                latency_target_s: Some(30.0),
                ..Default::default()
            }],
            pools: vec!["gpu".into()],
            duration_s: 250.0,
            warmup_s: 60.0,
            start: Some("23:58".into()),
            slos: vec![crate::report::SloInfo {
                class: "jobs".into(),
                metric: "latency_p99".into(),
                min: None,
                max: Some(60.0),
            }],
            ..RunInfo::default()
        };
        let dir = tempfile::TempDir::new().unwrap();
        let files = run_charts(
            series().as_bytes(),
            (None, None),
            Some(&info),
            dir.path(),
            ChartFormat::Svg,
        )
        .unwrap();
        let latency = String::from_utf8(files[0].1.clone()).unwrap();
        for text in [
            "latency target 30s",
            "SLO: latency p99 over the run ≤ 1m",
            "warm-up",
            "drain",
            "23:58",
            "day 2",
            "time of day (the run starts 23:58)",
        ] {
            assert!(latency.contains(text), "{text} missing");
        }
        // Arrivals end with the duration: no arrival point in the drain.
        let scopes = read(series().as_bytes()).unwrap();
        let frame = run_frame(&scopes, Some(&info));
        assert_eq!(frame.duration, 250.0);
        assert_eq!(frame.end, 300.0);
    }

    #[test]
    fn a_thin_bucket_draws_no_percentiles_and_an_invisible_layer_no_legend() {
        let mut csv = partial_series();
        // A last bucket with 2 completions and a huge p99.
        csv += "0,0,300,1,class,jobs,0,0,2,0,0,0,1,,,500,900,800\n";
        csv += "0,0,300,1,pool,gpu,0,0,2,0,0,0,0,1,8,,,\n";
        // One abandoned attempt in all: too few to see.
        csv += "0,0,310,10,class,jobs,50,0,49,0,1,0,0,,,1,4,3\n";
        let scopes = read(crate::rows::complete::<SeriesRow>(&csv).as_bytes()).unwrap();
        let scope = &scopes[&("class".to_string(), "jobs".to_string())];
        let shown = scope.latency_filter();
        let p99 = scope.series("p99", RED, |r| if shown(r) { r.p99 } else { None });
        assert!(p99.points.iter().all(|p| p.1 < 100.0), "{:?}", p99.points);
        let files = svg_charts(&csv);
        let outcomes = String::from_utf8(files[1].1.clone()).unwrap();
        assert!(outcomes.contains("too few to see at this scale: abandoned (1 attempt)"));
        assert!(
            !outcomes.contains("aria-label=\"abandoned\""),
            "no legend entry"
        );
        assert!(
            outcomes.contains("aria-label=\"rejected\""),
            "a legend entry"
        );
    }

    #[test]
    fn constant_capacity_draws_no_gpu_panel() {
        let dir = tempfile::TempDir::new().unwrap();
        let files = run_charts(
            series().as_bytes(),
            (None, None),
            None,
            dir.path(),
            ChartFormat::Svg,
        )
        .unwrap();
        let pool = String::from_utf8(files[2].1.clone()).unwrap();
        assert!(pool.contains("utilization (busy ÷ 8 online GPUs throughout)"));
        assert!(!pool.contains("pool gpu: GPUs"));
        assert!(!pool.contains("utilisation"));
    }

    #[test]
    fn svg_text_is_drawn_in_the_embedded_font() {
        let dir = tempfile::TempDir::new().unwrap();
        let files = run_charts(
            series().as_bytes(),
            (None, None),
            None,
            dir.path(),
            ChartFormat::Svg,
        )
        .unwrap();
        let svg = String::from_utf8(files[0].1.clone()).unwrap();
        // No text left to the viewer's fonts: glyph outlines, placed by
        // <use>, each text's words kept for search and screen readers.
        assert!(!svg.contains("<text") && !svg.contains("font-family"));
        assert!(svg.contains("<path id=\"g") && svg.contains("<use href=\"#g"));
        assert!(svg.contains("aria-label=\"jobs: latency of the bucket"));
        roxmltree::Document::parse(&svg).expect("valid XML");
    }

    #[test]
    fn a_series_without_the_needed_columns_is_an_error() {
        let dir = tempfile::TempDir::new().unwrap();
        let e = run_charts(
            b"time_s,arrivals\n0,1\n",
            (None, None),
            None,
            dir.path(),
            ChartFormat::Svg,
        )
        .unwrap_err();
        assert!(e.contains("timeseries.csv has no column scenario"), "{e}");
    }
}
