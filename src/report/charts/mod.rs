//! Charts of runs and sweeps, drawn from the CSV outputs (a pure function
//! of their text, so `surge chart DIR` redraws them without re-running).
//!
//! Text uses Noto Sans, embedded in the binary (the `ttf-noto-sans`
//! crate) and registered with plotters' `ab_glyph` backend: no system
//! fonts are needed.
//!
//! Every panel is drawn on linear coordinates; a log axis is drawn as the
//! log10 of the values with ticks placed and labelled here (1-2-5 per
//! decade), so that tick labels are always readable numbers.

mod glyphs;
mod run;
mod sweep;

use glyphs::GlyphText;
pub use run::run_charts;
pub use sweep::sweep_charts;

use super::write_atomic;
use plotters::coord::Shift;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::Path;
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
    /// The file extension (`png` or `svg`).
    pub fn extension(self) -> &'static str {
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

const BLUE: RGBColor = RGBColor(31, 119, 180);
const ORANGE: RGBColor = RGBColor(255, 127, 14);
const GREEN: RGBColor = RGBColor(44, 160, 44);
const RED: RGBColor = RGBColor(214, 39, 40);
const PURPLE: RGBColor = RGBColor(148, 103, 189);
const GREY: RGBColor = RGBColor(110, 110, 110);

/// Colours of the lines of a sweep chart, in order (tab10).
const PALETTE: [RGBColor; 10] = [
    BLUE,
    ORANGE,
    GREEN,
    RED,
    PURPLE,
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    GREY,
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// A tick label: at most 3 significant digits, no trailing zeros, and
/// `k`/`M`/`G` from a thousand on (`35k`, `1.5M`, `0.25`, `1.2k`).
pub(crate) fn tick_label(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return "0".into();
    }
    let a = v.abs();
    let (x, suffix) = if a >= 1e9 {
        (v / 1e9, "G")
    } else if a >= 1e6 {
        (v / 1e6, "M")
    } else if a >= 1e3 {
        (v / 1e3, "k")
    } else {
        (v, "")
    };
    let ax = x.abs();
    let decimals = if ax >= 100.0 {
        0
    } else {
        (2 - ax.log10().floor() as i32).clamp(0, 9) as usize
    };
    let s = format!("{x:.decimals$}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s.as_str()
    };
    let s = if s == "-0" { "0" } else { s };
    format!("{s}{suffix}")
}

/// Round multiples of 1, 2, 2.5 or 5 × 10^k covering [lo, hi], at most
/// about `max` of them.
fn linear_ticks(lo: f64, hi: f64, max: usize) -> Vec<f64> {
    if hi <= lo || !lo.is_finite() || !hi.is_finite() {
        return vec![lo];
    }
    let raw = (hi - lo) / max.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw * (1.0 - 1e-9))
        .unwrap_or(10.0 * mag);
    let first = (lo / step - 1e-9).ceil() as i64;
    let last = (hi / step + 1e-9).floor() as i64;
    (first..=last).map(|k| k as f64 * step).collect()
}

/// Ticks of a log axis over [lo, hi] (both > 0): the densest of
/// 1-2-3-…-9, 1-2-3-5-7, 1-2-5 or 1 per decade that gives at most ten
/// labels; and lighter grid points at every integer multiple.
fn log_ticks(lo: f64, hi: f64) -> (Vec<f64>, Vec<f64>) {
    let (e0, e1) = (lo.log10().floor() as i32, hi.log10().ceil() as i32);
    let within = |m: &[f64], every: i32| -> Vec<f64> {
        (e0..=e1)
            .filter(|e| (e - e0) % every == 0)
            .flat_map(|e| m.iter().map(move |k| k * 10f64.powi(e)))
            .filter(|v| *v >= lo * (1.0 - 1e-9) && *v <= hi * (1.0 + 1e-9))
            .collect()
    };
    let sets: [&[f64]; 4] = [
        &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0],
        &[1.0, 2.0, 3.0, 5.0, 7.0],
        &[1.0, 2.0, 5.0],
        &[1.0],
    ];
    let mut bold = Vec::new();
    for m in sets {
        bold = within(m, 1);
        if bold.len() <= 10 {
            break;
        }
    }
    if bold.len() > 10 {
        let every = (bold.len() as i32 + 9) / 10;
        bold = within(&[1.0], every);
    }
    let light = if e1 - e0 <= 6 {
        within(&sets[0][1..], 1)
    } else {
        Vec::new()
    };
    (bold, light)
}

/// One axis of a panel: its description, range and scale, or category
/// names (drawn at 0, 1, 2, …).
#[derive(Clone, Debug)]
struct Axis {
    desc: String,
    lo: f64,
    hi: f64,
    log: bool,
    names: Option<Vec<String>>,
    /// Tick positions (data units) instead of round numbers, e.g. the
    /// swept values themselves.
    ticks: Option<Vec<f64>>,
    /// Formats a tick value (data units) when not categorical.
    format: fn(f64) -> String,
}

impl Axis {
    /// A linear axis over [lo, hi].
    fn linear(desc: impl Into<String>, lo: f64, hi: f64) -> Self {
        Axis {
            desc: desc.into(),
            lo,
            hi,
            log: false,
            names: None,
            ticks: None,
            format: tick_label,
        }
    }

    /// A category axis.
    fn categories(desc: impl Into<String>, names: Vec<String>) -> Self {
        Axis {
            desc: desc.into(),
            lo: -0.5,
            hi: names.len() as f64 - 0.5,
            log: false,
            names: Some(names),
            ticks: None,
            format: tick_label,
        }
    }

    /// A y axis fitted to `values` (and 0 for a linear one), log if asked.
    fn fit(desc: impl Into<String>, values: impl Iterator<Item = f64>, log: bool) -> Self {
        let values: Vec<f64> = values
            .filter(|v| v.is_finite() && (!log || *v > 0.0))
            .collect();
        let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let mut axis = Axis::linear(desc, 0.0, 1.0);
        if log {
            axis.log = true;
            (axis.lo, axis.hi) = if lo.is_finite() {
                let lo = lo / 1.25;
                (lo, (hi * 1.25).max(lo * 10.0))
            } else {
                (0.1, 10.0)
            };
        } else if lo.is_finite() {
            let lo = lo.min(0.0);
            let hi = if hi > lo {
                hi + 0.08 * (hi - lo)
            } else {
                lo + 1.0
            };
            (axis.lo, axis.hi) = (lo, hi);
        }
        axis
    }

    /// Coordinate of a data value (`None` for a value a log axis cannot show).
    fn map(&self, v: f64) -> Option<f64> {
        if !v.is_finite() {
            None
        } else if self.log {
            (v > 0.0).then(|| v.log10())
        } else {
            Some(v)
        }
    }

    /// Coordinate of a data value, clamped into the axis.
    fn clamp(&self, v: f64) -> f64 {
        let (lo, hi) = self.range();
        self.map(v).unwrap_or(lo).clamp(lo, hi)
    }

    fn range(&self) -> (f64, f64) {
        if self.log {
            (self.lo.log10(), self.hi.log10())
        } else {
            (self.lo, self.hi)
        }
    }

    /// The plotters coordinate with this axis's ticks.
    fn coord(&self, max_ticks: usize) -> Ticked {
        let (lo, hi) = self.range();
        let (bold, light) = match (&self.names, self.log) {
            (None, false) if self.ticks.is_some() => {
                (self.ticks.clone().unwrap_or_default(), Vec::new())
            }
            (Some(names), _) => {
                let every = names.len().div_ceil(max_ticks.max(1)).max(1);
                let ticks = (0..names.len()).step_by(every).map(|i| i as f64).collect();
                (ticks, Vec::new())
            }
            (None, true) => {
                let (b, l) = log_ticks(self.lo, self.hi);
                (
                    b.iter().map(|v| v.log10()).collect(),
                    l.iter().map(|v| v.log10()).collect(),
                )
            }
            (None, false) => (linear_ticks(lo, hi, max_ticks), Vec::new()),
        };
        Ticked {
            lo,
            hi,
            bold,
            light,
        }
    }

    /// The label of the tick at coordinate `c`.
    fn label(&self, c: f64) -> String {
        match &self.names {
            Some(names) => names
                .get(c.round().max(0.0) as usize)
                .cloned()
                .unwrap_or_default(),
            None if self.log => (self.format)(10f64.powf(c)),
            None => (self.format)(c),
        }
    }
}

/// A linear f64 coordinate whose tick positions are given (labelled
/// ones, and lighter grid lines).
struct Ticked {
    lo: f64,
    hi: f64,
    bold: Vec<f64>,
    light: Vec<f64>,
}

impl Ranged for Ticked {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        if self.hi <= self.lo {
            return (limit.0 + limit.1) / 2;
        }
        let t = ((v - self.lo) / (self.hi - self.lo)).clamp(-10.0, 10.0);
        limit.0 + (f64::from(limit.1 - limit.0) * t + 1e-3).floor() as i32
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            self.light.clone()
        } else {
            self.bold.clone()
        }
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.lo..self.hi
    }
}

type Area<DB> = DrawingArea<DB, Shift>;
type Coords = Cartesian2d<Ticked, Ticked>;

fn err<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

/// A titled frame with both axes drawn (grid lines if `grid`).
fn frame<'a, DB: DrawingBackend + 'a>(
    area: &'a Area<DB>,
    title: &str,
    x: &Axis,
    y: &Axis,
    grid: bool,
) -> Result<ChartContext<'a, DB, Coords>, String> {
    let y_label_width = if y.names.is_some() { 150 } else { 80 };
    // The title, then the y description on its own line above the axis.
    let top = 46 + if y.desc.is_empty() { 0 } else { 24 };
    let (width, _) = area.dim_in_pixel();
    let title_style =
        TextStyle::from((FONT, 24).into_font()).pos(Pos::new(HPos::Center, VPos::Top));
    area.draw(&Text::new(
        title.to_string(),
        (width as i32 / 2, 10),
        title_style,
    ))
    .map_err(err)?;
    let mut chart = ChartBuilder::on(area)
        .margin(12)
        .margin_top(top)
        .margin_right(24)
        .x_label_area_size(if x.desc.is_empty() { 30 } else { 50 })
        .y_label_area_size(y_label_width)
        .build_cartesian_2d(x.coord(12), y.coord(8))
        .map_err(err)?;
    let x_fmt = |c: &f64| x.label(*c);
    let y_fmt = |c: &f64| y.label(*c);
    let mut mesh = chart.configure_mesh();
    // The y description goes above the axis, horizontally: rotated text
    // loses thin glyphs in the bitmap backend.
    mesh.x_desc(x.desc.as_str())
        .x_label_formatter(&x_fmt)
        .y_label_formatter(&y_fmt)
        .label_style((FONT, 16))
        .axis_desc_style((FONT, 18))
        .bold_line_style(RGBColor(205, 205, 205))
        .light_line_style(RGBColor(238, 238, 238));
    if !grid {
        mesh.disable_mesh();
    }
    mesh.draw().map_err(err)?;
    if !y.desc.is_empty() {
        let (xs, ys) = chart.plotting_area().get_pixel_range();
        let base = area.get_base_pixel();
        let at = (
            (xs.start - base.0 - y_label_width + 8).max(4),
            ys.start - base.1 - 8,
        );
        let style = TextStyle::from((FONT, 18).into_font()).pos(Pos::new(HPos::Left, VPos::Bottom));
        area.draw(&Text::new(y.desc.clone(), at, style))
            .map_err(err)?;
    }
    Ok(chart)
}

/// A labelled, coloured line, with an optional confidence band
/// (x, low, high) and point markers.
#[derive(Clone, Debug)]
struct Series {
    label: String,
    color: RGBColor,
    points: Vec<(f64, f64)>,
    band: Vec<(f64, f64, f64)>,
    markers: bool,
}

impl Series {
    fn line(label: impl Into<String>, color: RGBColor, points: Vec<(f64, f64)>) -> Self {
        Series {
            label: label.into(),
            color,
            points,
            band: Vec::new(),
            markers: false,
        }
    }
}

/// Lines (with bands) on a frame, and their legend.
fn draw_panel<DB: DrawingBackend>(
    area: &Area<DB>,
    title: &str,
    x: &Axis,
    y: &Axis,
    series: &[Series],
) -> Result<(), String> {
    let mut chart = frame(area, title, x, y, true)?;
    for s in series {
        if s.band.len() >= 2 {
            let mut poly: Vec<(f64, f64)> = s
                .band
                .iter()
                .map(|&(bx, lo, _)| (bx, y.clamp(lo)))
                .collect();
            poly.extend(s.band.iter().rev().map(|&(bx, _, hi)| (bx, y.clamp(hi))));
            chart
                .draw_series(std::iter::once(Polygon::new(poly, s.color.mix(0.18))))
                .map_err(err)?;
        }
    }
    for s in series {
        let color = s.color;
        let pts: Vec<(f64, f64)> = s
            .points
            .iter()
            .filter_map(|&(px, py)| Some((px, y.map(py)?)))
            .collect();
        chart
            .draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))
            .map_err(err)?
            .label(s.label.clone())
            .legend(move |(lx, ly)| {
                PathElement::new(vec![(lx, ly), (lx + 20, ly)], color.stroke_width(3))
            });
        if s.markers {
            chart
                .draw_series(pts.iter().map(|&p| Circle::new(p, 4, color.filled())))
                .map_err(err)?;
        }
    }
    let entries: Vec<LegendEntry> = series
        .iter()
        .filter(|s| !s.label.is_empty())
        .map(|s| (s.label.clone(), s.color, false))
        .collect();
    legend(area, &mut chart, y, &entries)
}

/// A legend entry: label, colour, and whether its swatch is a filled
/// square (a band) rather than a line.
type LegendEntry = (String, RGBColor, bool);

/// The legend, on one line above the plot's top right, beside the y
/// description, so that it never hides data; inside the plot's upper
/// right corner if it is too wide for that line.
fn legend<'a, DB: DrawingBackend + 'a>(
    area: &Area<DB>,
    chart: &mut ChartContext<'a, DB, Coords>,
    y: &Axis,
    entries: &[LegendEntry],
) -> Result<(), String> {
    if entries.is_empty() {
        return Ok(());
    }
    let style = TextStyle::from((FONT, 16).into_font());
    let (xs, ys) = chart.plotting_area().get_pixel_range();
    let base = area.get_base_pixel();
    let (left, right, top) = (xs.start - base.0, xs.end - base.0, ys.start - base.1);
    let width = |text: &str| -> i32 {
        area.estimate_text_size(text, &style)
            .map_or(8 * text.len() as i32, |(w, _)| w as i32)
    };
    const SWATCH: i32 = 22;
    let widths: Vec<i32> = entries.iter().map(|e| SWATCH + 6 + width(&e.0)).collect();
    let total: i32 = widths.iter().sum::<i32>() + 18 * (entries.len() as i32 - 1);
    let room = right - left - width(&y.desc) - 60;
    if total > room {
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font((FONT, 16))
            .position(SeriesLabelPosition::UpperRight)
            .draw()
            .map_err(err)?;
        return Ok(());
    }
    let mid = top - 16;
    let mut x = right - total;
    for ((label, color, filled), w) in entries.iter().zip(&widths) {
        if *filled {
            area.draw(&Rectangle::new(
                [(x, mid - 7), (x + SWATCH, mid + 7)],
                color.filled(),
            ))
            .map_err(err)?;
        } else {
            area.draw(&PathElement::new(
                vec![(x, mid), (x + SWATCH, mid)],
                color.stroke_width(3),
            ))
            .map_err(err)?;
        }
        let text = style.clone().pos(Pos::new(HPos::Left, VPos::Center));
        area.draw(&Text::new(label.clone(), (x + SWATCH + 6, mid), text))
            .map_err(err)?;
        x += w + 18;
    }
    Ok(())
}

/// Something drawable on any plotters backend.
trait Chart {
    fn draw<DB: DrawingBackend>(&self, root: &Area<DB>) -> Result<(), String>;
}

/// Draw `chart` in `format` and return the file's bytes.
fn render<C: Chart>(chart: &C, format: ChartFormat) -> Result<Vec<u8>, String> {
    Ok(match format {
        ChartFormat::Svg => {
            let mut text = String::new();
            {
                let root = SVGBackend::with_string(&mut text, SIZE).into_drawing_area();
                root.fill(&WHITE).map_err(err)?;
                chart.draw(&root)?;
                root.present().map_err(err)?;
            }
            text.into_bytes()
        }
        ChartFormat::Png => {
            let mut buf = vec![0u8; (SIZE.0 * SIZE.1 * 3) as usize];
            {
                let root = GlyphText {
                    inner: BitMapBackend::with_buffer(&mut buf, SIZE),
                }
                .into_drawing_area();
                root.fill(&WHITE).map_err(err)?;
                chart.draw(&root)?;
                root.present().map_err(err)?;
            }
            let img = image::RgbImage::from_raw(SIZE.0, SIZE.1, buf).ok_or("bad image buffer")?;
            let mut out = std::io::Cursor::new(Vec::new());
            img.write_to(&mut out, image::ImageOutputFormat::Png)
                .map_err(err)?;
            out.into_inner()
        }
    })
}

/// A chart written: its file name under `charts/`, and its bytes (for the
/// report, without reading the file back).
pub type ChartFile = (String, Vec<u8>);

/// Draw `chart` and write it atomically to `dir/<stem>.<ext>`.
fn save<C: Chart>(
    chart: &C,
    dir: &Path,
    stem: &str,
    format: ChartFormat,
) -> Result<ChartFile, String> {
    let bytes = render(chart, format)?;
    let name = format!("{stem}.{}", format.extension());
    let path = dir.join(&name);
    write_atomic(&path, &bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok((name, bytes))
}

/// Create the charts folder and make the font available.
fn prepare(dir: &Path) -> Result<(), String> {
    register_fonts()?;
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))
}

/// File-name-safe version of a name.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tick_labels_are_short_and_exact() {
        let cases = [
            (0.0, "0"),
            (35000.0, "35k"),
            (12500.0, "12.5k"),
            (1500.0, "1.5k"),
            (999.0, "999"),
            (2.0, "2"),
            (2.5, "2.5"),
            (0.30000000000000004, "0.3"),
            (0.001, "0.001"),
            (1.5e6, "1.5M"),
            (-20.0, "-20"),
            (250.0, "250"),
        ];
        for (v, s) in cases {
            assert_eq!(tick_label(v), s, "{v}");
        }
    }

    #[test]
    fn linear_ticks_are_round_and_cover_the_range() {
        assert_eq!(
            linear_ticks(0.0, 14.0, 10),
            vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0, 12.0, 14.0]
        );
        let t = linear_ticks(0.0, 37_000.0, 8);
        assert_eq!(t.first(), Some(&0.0));
        assert_eq!(t[1], 5000.0);
        assert!(t.len() <= 9);
        let t = linear_ticks(-0.5, 0.5, 4);
        assert_eq!(t, vec![-0.5, -0.25, 0.0, 0.25, 0.5]);
    }

    #[test]
    fn log_ticks_label_every_decade_with_at_most_ten() {
        let (bold, light) = log_ticks(0.8, 300.0);
        assert_eq!(bold, vec![1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0]);
        assert!(light.contains(&3.0) && light.contains(&90.0));
        let (bold, _) = log_ticks(30.0, 300.0);
        assert_eq!(bold.len(), 10);
        assert_eq!(bold.first(), Some(&30.0));
        let (bold, light) = log_ticks(1e-6, 1e6);
        assert!(bold.len() <= 10 && bold.len() >= 5, "{bold:?}");
        assert!(light.is_empty());
    }

    #[test]
    fn log_axis_maps_and_labels_values() {
        let y = Axis::fit("latency", [0.5, 40.0].into_iter(), true);
        assert!(y.lo < 0.5 && y.hi > 40.0);
        assert_eq!(y.map(10.0), Some(1.0));
        assert_eq!(y.map(0.0), None);
        assert_eq!(y.label(2.0), "100");
        let c = Axis::categories("policy", vec!["fifo".into(), "fair".into()]);
        assert_eq!(c.label(1.0), "fair");
        assert_eq!((c.lo, c.hi), (-0.5, 1.5));
    }
}
