//! Charts of a run, drawn from `timeseries.csv` (a pure function of the
//! CSV text, so `surge chart DIR` redraws them without re-running).
//!
//! Text uses Noto Sans, embedded in the binary (the `ttf-noto-sans`
//! crate) and registered with plotters' `ab_glyph` backend: no system
//! fonts are needed.

use super::write_atomic;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Once;

/// Image format of the charts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChartFormat {
    /// PNG, 1200 × 800.
    Png,
    /// SVG, 1200 × 800.
    Svg,
}

impl ChartFormat {
    fn extension(self) -> &'static str {
        match self {
            ChartFormat::Png => "png",
            ChartFormat::Svg => "svg",
        }
    }
}

const SIZE: (u32, u32) = (1200, 800);
const FONT: &str = "sans-serif";

fn register_fonts() -> Result<(), String> {
    static ONCE: Once = Once::new();
    let mut result = Ok(());
    ONCE.call_once(|| {
        // Every style falls back to the regular face (the crate's default
        // features ship only Noto Sans Regular).
        for style in [
            FontStyle::Normal,
            FontStyle::Bold,
            FontStyle::Italic,
            FontStyle::Oblique,
        ] {
            if plotters::style::register_font(FONT, style, ttf_noto_sans::REGULAR).is_err() {
                result = Err("the embedded font could not be loaded".to_string());
            }
        }
    });
    result
}

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
    p99: Option<f64>,
}

/// Series by (scope kind, scope name), of point 0, replication 0.
fn read(timeseries_csv: &[u8]) -> Result<BTreeMap<(String, String), Vec<Row>>, String> {
    let mut reader = csv::Reader::from_reader(timeseries_csv);
    let headers = reader.headers().map_err(|e| e.to_string())?.clone();
    let col = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .ok_or(format!("timeseries.csv has no column {name}"))
    };
    let c = [
        "point",
        "replication",
        "time_s",
        "bucket_s",
        "scope_kind",
        "scope",
        "arrivals",
        "retries",
        "completions",
        "rejected",
        "abandoned",
        "failed",
        "queue_mean",
        "busy_gpus_mean",
        "online_gpus_mean",
        "latency_p50_s",
        "latency_p99_s",
    ]
    .map(col);
    let c: Vec<usize> = c.into_iter().collect::<Result<_, _>>()?;
    let mut series: BTreeMap<(String, String), Vec<Row>> = BTreeMap::new();
    for record in reader.records() {
        let r = record.map_err(|e| e.to_string())?;
        if &r[c[0]] != "0" || &r[c[1]] != "0" {
            continue;
        }
        let num = |i: usize| r[c[i]].parse::<f64>().unwrap_or(0.0);
        let opt = |i: usize| r[c[i]].parse::<f64>().ok();
        series
            .entry((r[c[4]].to_string(), r[c[5]].to_string()))
            .or_default()
            .push(Row {
                t: num(2),
                width: num(3).max(1e-9),
                arrivals: num(6),
                retries: num(7),
                completions: num(8),
                rejected: num(9),
                abandoned: num(10),
                failed: num(11),
                queue_mean: opt(12),
                busy: opt(13),
                online: opt(14),
                p50: opt(15),
                p99: opt(16),
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

/// Time axis: hours for long runs, minutes otherwise.
fn time_unit(end_s: f64) -> (f64, &'static str) {
    if end_s > 3.0 * 3600.0 {
        (3600.0, "hours")
    } else if end_s > 180.0 {
        (60.0, "minutes")
    } else {
        (1.0, "seconds")
    }
}

type Area<'a, DB> = DrawingArea<DB, Shift>;

/// A labelled, coloured line of (x, y) points.
type Line<'a> = (&'a str, RGBColor, Vec<(f64, f64)>);

/// A labelled, coloured layer of a stacked chart and how to read it.
type Layer = (&'static str, RGBColor, fn(&Row) -> f64);

/// Draw one panel of lines: (label, colour, points) on a shared time axis.
fn panel<DB: DrawingBackend>(
    area: &Area<'_, DB>,
    title: &str,
    y_label: &str,
    x_label: &str,
    x_max: f64,
    lines: &[Line<'_>],
    log_y: bool,
) -> Result<(), String> {
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    let ys = lines
        .iter()
        .flat_map(|l| l.2.iter().map(|p| p.1))
        .filter(|y| y.is_finite());
    let (mut lo, mut hi) = ys.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), y| {
        (a.min(y), b.max(y))
    });
    if !lo.is_finite() {
        (lo, hi) = (0.0, 1.0);
    }
    let mut chart = ChartBuilder::on(area);
    chart
        .caption(title, (FONT, 24).into_font())
        .margin(12)
        .x_label_area_size(44)
        .y_label_area_size(80);
    if log_y {
        let lo = lines
            .iter()
            .flat_map(|l| l.2.iter().map(|p| p.1))
            .filter(|y| *y > 0.0)
            .fold(f64::INFINITY, f64::min);
        let lo = if lo.is_finite() { lo * 0.8 } else { 1e-3 };
        let hi = (hi * 1.25).max(lo * 10.0);
        let mut c = chart
            .build_cartesian_2d(0.0..x_max, (lo..hi).log_scale())
            .map_err(err)?;
        // A log axis cannot show zeros.
        let positive: Vec<Line<'_>> = lines
            .iter()
            .map(|(l, c, pts)| (*l, *c, pts.iter().copied().filter(|p| p.1 > 0.0).collect()))
            .collect();
        draw_lines(&mut c, x_label, y_label, &positive)
    } else {
        let hi = if hi <= lo { lo + 1.0 } else { hi * 1.1 };
        let lo = lo.min(0.0);
        let mut c = chart.build_cartesian_2d(0.0..x_max, lo..hi).map_err(err)?;
        draw_lines(&mut c, x_label, y_label, lines)
    }
}

/// Axes, lines and legend of a panel, whatever its y scale.
fn draw_lines<'a, DB, Y>(
    c: &mut ChartContext<'a, DB, Cartesian2d<plotters::coord::types::RangedCoordf64, Y>>,
    x_label: &str,
    y_label: &str,
    lines: &[Line<'_>],
) -> Result<(), String>
where
    DB: DrawingBackend + 'a,
    Y: Ranged<ValueType = f64> + plotters::coord::ranged1d::ValueFormatter<f64>,
{
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    c.configure_mesh()
        .x_desc(x_label)
        .y_desc(y_label)
        .label_style((FONT, 16))
        .axis_desc_style((FONT, 18))
        .draw()
        .map_err(err)?;
    for (label, color, pts) in lines {
        let color = *color;
        c.draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))
            .map_err(err)?
            .label(label.to_string())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(3))
            });
    }
    c.configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font((FONT, 16))
        .position(SeriesLabelPosition::UpperRight)
        .draw()
        .map_err(err)?;
    Ok(())
}

const BLUE_: RGBColor = RGBColor(31, 119, 180);
const ORANGE_: RGBColor = RGBColor(255, 127, 14);
const GREEN_: RGBColor = RGBColor(44, 160, 44);
const RED_: RGBColor = RGBColor(214, 39, 40);
const PURPLE_: RGBColor = RGBColor(148, 103, 189);
const GREY_: RGBColor = RGBColor(110, 110, 110);

/// Something drawable on any plotters backend.
trait Chart {
    fn draw<DB: DrawingBackend>(&self, root: &Area<'_, DB>) -> Result<(), String>;
}

/// Draw `chart` and write it atomically to `path` in `format`.
fn save<C: Chart>(chart: &C, path: &Path, format: ChartFormat) -> Result<(), String> {
    let bytes = match format {
        ChartFormat::Svg => {
            let mut text = String::new();
            {
                let root = SVGBackend::with_string(&mut text, SIZE).into_drawing_area();
                root.fill(&WHITE).map_err(|e| e.to_string())?;
                chart.draw(&root)?;
                root.present().map_err(|e| e.to_string())?;
            }
            text.into_bytes()
        }
        ChartFormat::Png => {
            let mut buf = vec![0u8; (SIZE.0 * SIZE.1 * 3) as usize];
            {
                let root = BitMapBackend::with_buffer(&mut buf, SIZE).into_drawing_area();
                root.fill(&WHITE).map_err(|e| e.to_string())?;
                chart.draw(&root)?;
                root.present().map_err(|e| e.to_string())?;
            }
            let img = image::RgbImage::from_raw(SIZE.0, SIZE.1, buf).ok_or("bad image buffer")?;
            let mut out = std::io::Cursor::new(Vec::new());
            img.write_to(&mut out, image::ImageOutputFormat::Png)
                .map_err(|e| e.to_string())?;
            out.into_inner()
        }
    };
    write_atomic(path, &bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Arrival rate above, latency percentiles below, for one class.
struct LatencyChart<'a> {
    class: &'a str,
    rows: &'a [Row],
}

impl Chart for LatencyChart<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &Area<'_, DB>) -> Result<(), String> {
        let end = active_end(self.rows);
        let (unit, unit_name) = time_unit(end);
        let (top, bottom) = root.split_vertically(SIZE.1 / 3);
        let rate: Vec<(f64, f64)> = self
            .rows
            .iter()
            .map(|r| (r.t / unit, r.arrivals / r.width))
            .collect();
        let retries: Vec<(f64, f64)> = self
            .rows
            .iter()
            .map(|r| (r.t / unit, r.retries / r.width))
            .collect();
        let mut lines = vec![("new requests", BLUE_, rate)];
        if retries.iter().any(|p| p.1 > 0.0) {
            lines.push(("retries", ORANGE_, retries));
        }
        panel(
            &top,
            &format!("{}: arrivals", self.class),
            "requests / s",
            "",
            end / unit,
            &lines,
            false,
        )?;
        let p50: Vec<(f64, f64)> = self
            .rows
            .iter()
            .filter_map(|r| Some((r.t / unit, r.p50?)))
            .collect();
        let p99: Vec<(f64, f64)> = self
            .rows
            .iter()
            .filter_map(|r| Some((r.t / unit, r.p99?)))
            .collect();
        panel(
            &bottom,
            &format!("{}: latency of completions (log scale)", self.class),
            "latency (s)",
            &format!("time ({unit_name})"),
            end / unit,
            &[("p50", GREEN_, p50), ("p99", RED_, p99)],
            true,
        )
    }
}

/// Queue length above, busy and online GPUs below, for one pool.
struct PoolChart<'a> {
    pool: &'a str,
    rows: &'a [Row],
}

impl Chart for PoolChart<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &Area<'_, DB>) -> Result<(), String> {
        let end = active_end(self.rows);
        let (unit, unit_name) = time_unit(end);
        let (top, bottom) = root.split_vertically(SIZE.1 / 2);
        let queue: Vec<(f64, f64)> = self
            .rows
            .iter()
            .filter_map(|r| Some((r.t / unit, r.queue_mean?)))
            .collect();
        panel(
            &top,
            &format!("pool {}: waiting requests", self.pool),
            "queue length (mean)",
            "",
            end / unit,
            &[("queue", PURPLE_, queue)],
            false,
        )?;
        let busy: Vec<(f64, f64)> = self
            .rows
            .iter()
            .filter_map(|r| Some((r.t / unit, r.busy?)))
            .collect();
        let online: Vec<(f64, f64)> = self
            .rows
            .iter()
            .filter_map(|r| Some((r.t / unit, r.online?)))
            .collect();
        panel(
            &bottom,
            &format!("pool {}: GPU saturation", self.pool),
            "GPUs (mean)",
            &format!("time ({unit_name})"),
            end / unit,
            &[("online", GREY_, online), ("busy", BLUE_, busy)],
            false,
        )
    }
}

/// Outcomes per second over time, stacked, for one class.
struct OutcomeChart<'a> {
    class: &'a str,
    rows: &'a [Row],
}

impl Chart for OutcomeChart<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &Area<'_, DB>) -> Result<(), String> {
        let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
        let end = active_end(self.rows);
        let (unit, unit_name) = time_unit(end);
        let layers: [Layer; 4] = [
            ("completed", GREEN_, |r| r.completions),
            ("rejected", ORANGE_, |r| r.rejected),
            ("abandoned", RED_, |r| r.abandoned),
            ("failed", PURPLE_, |r| r.failed),
        ];
        let top = self
            .rows
            .iter()
            .map(|r| layers.iter().map(|l| (l.2)(r)).sum::<f64>() / r.width)
            .fold(0.0, f64::max)
            .max(1e-9)
            * 1.1;
        let mut c = ChartBuilder::on(root)
            .caption(
                format!("{}: outcomes of attempts (stacked)", self.class),
                (FONT, 24).into_font(),
            )
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(80)
            .build_cartesian_2d(0.0..end / unit, 0.0..top)
            .map_err(err)?;
        c.configure_mesh()
            .x_desc(format!("time ({unit_name})"))
            .y_desc("attempts / s")
            .label_style((FONT, 16))
            .axis_desc_style((FONT, 18))
            .draw()
            .map_err(err)?;
        // Draw cumulative layers from the top down so each shows its band.
        for k in (0..layers.len()).rev() {
            let (label, color, _) = layers[k];
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
            c.draw_series(AreaSeries::new(pts, 0.0, color.mix(0.8)).border_style(color))
                .map_err(err)?
                .label(label)
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 6), (x + 16, y + 6)], color.filled())
                });
        }
        c.configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font((FONT, 16))
            .position(SeriesLabelPosition::UpperRight)
            .draw()
            .map_err(err)?;
        Ok(())
    }
}

/// File-name-safe version of a scope name.
fn slug(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Draw the run charts from `timeseries.csv` bytes into `dir`; returns the
/// files written.
pub fn run_charts(
    timeseries_csv: &[u8],
    dir: &Path,
    format: ChartFormat,
) -> Result<Vec<PathBuf>, String> {
    register_fonts()?;
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let series = read(timeseries_csv)?;
    let ext = format.extension();
    let mut written = Vec::new();
    for ((kind, name), rows) in &series {
        match kind.as_str() {
            "class" => {
                let path = dir.join(format!("latency-{}.{ext}", slug(name)));
                save(&LatencyChart { class: name, rows }, &path, format)?;
                written.push(path);
                if rows
                    .iter()
                    .any(|r| r.rejected + r.abandoned + r.failed > 0.0)
                {
                    let path = dir.join(format!("outcomes-{}.{ext}", slug(name)));
                    save(&OutcomeChart { class: name, rows }, &path, format)?;
                    written.push(path);
                }
            }
            "pool" => {
                let path = dir.join(format!("pool-{}.{ext}", slug(name)));
                save(&PoolChart { pool: name, rows }, &path, format)?;
                written.push(path);
            }
            _ => {}
        }
    }
    Ok(written)
}
