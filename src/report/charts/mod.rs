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
use crate::model::{StartTime, days_in_month};
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
    /// How a tick value (data units) is written when not categorical.
    labels: Labels,
}

/// How the ticks of a numeric axis are labelled.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Labels {
    /// [`tick_label`]: `35k`, `0.25`.
    Number,
    /// Seconds as a duration, each tick in its own unit (log axes, whose
    /// ticks are round durations): `500ms`, `30s`, `2m`, `1h`.
    Seconds,
    /// Seconds in one unit for the whole axis (linear axes): the divisor
    /// and the unit, e.g. `(60, "m")` writes 90 s as `1.5m`.
    SecondsIn(f64, &'static str),
    /// Seconds since the start as elapsed time: `0`, `30m`, `2h`, `1d 6h`.
    Elapsed,
    /// Seconds since the start as clock time from `start`: `08:00`, and
    /// the day (`Jun 4`, or `day 2` without a date) at midnight.
    Clock(StartTime),
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
            labels: Labels::Number,
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
            labels: Labels::Number,
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
            (None, _) if self.ticks.is_some() => {
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
            None if self.log => self.labels.format(10f64.powf(c)),
            None => self.labels.format(c),
        }
    }
}

impl Labels {
    fn format(self, v: f64) -> String {
        match self {
            Labels::Number => tick_label(v),
            Labels::Seconds => seconds_label(v),
            Labels::SecondsIn(div, unit) => format!("{}{unit}", tick_label(v / div)),
            Labels::Elapsed => elapsed_label(v),
            Labels::Clock(start) => clock_label(start, v),
        }
    }
}

/// A duration in seconds, short, in the largest unit that writes it
/// exactly (else the unit of its size): `0`, `250ms`, `30s`, `90s`, `2m`,
/// `1h`, `2d`.
pub(crate) fn seconds_label(v: f64) -> String {
    let a = v.abs();
    if a == 0.0 {
        return "0".into();
    }
    let whole = |unit: f64| (a / unit - (a / unit).round()).abs() < 1e-9;
    let (x, unit) = if a < 1.0 {
        (v * 1000.0, "ms")
    } else if a >= 86_400.0 && whole(86_400.0) {
        (v / 86_400.0, "d")
    } else if a >= 3600.0 && whole(3600.0) {
        (v / 3600.0, "h")
    } else if a >= 60.0 && whole(60.0) {
        (v / 60.0, "m")
    } else if a < 600.0 {
        (v, "s")
    } else if a < 2.0 * 3600.0 {
        (v / 60.0, "m")
    } else {
        (v / 3600.0, "h")
    };
    format!("{}{unit}", tick_label(x))
}

/// Round durations, seconds: where ticks of a time-valued axis go.
const NICE_SECONDS: [f64; 30] = [
    0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0,
    120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0, 7200.0, 14_400.0, 21_600.0, 43_200.0, 86_400.0,
    172_800.0, 432_000.0, 864_000.0,
];

impl Axis {
    /// This (fitted) axis holds seconds: ticks on round durations, labels
    /// in one unit for a linear axis, each in its own for a log one.
    fn seconds(mut self) -> Self {
        if self.log {
            // The densest set of round durations that gives at most 7
            // ticks: a log panel is often short.
            const MEDIUM: [f64; 22] = [
                0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0,
                60.0, 300.0, 600.0, 1800.0, 3600.0, 21_600.0, 86_400.0, 864_000.0,
            ];
            const SPARSE: [f64; 10] = [
                0.001, 0.01, 0.1, 1.0, 10.0, 60.0, 600.0, 3600.0, 86_400.0, 864_000.0,
            ];
            let within = |set: &[f64]| -> Vec<f64> {
                set.iter()
                    .copied()
                    .filter(|v| *v >= self.lo * (1.0 - 1e-9) && *v <= self.hi * (1.0 + 1e-9))
                    .collect()
            };
            let mut ticks = within(&NICE_SECONDS);
            for set in [&MEDIUM[..], &SPARSE[..]] {
                if ticks.len() > 7 {
                    ticks = within(set);
                }
            }
            if ticks.len() > 7 {
                let every = ticks.len().div_ceil(7);
                ticks = ticks.into_iter().step_by(every).collect();
            }
            if ticks.len() >= 2 {
                self.ticks = Some(ticks.iter().map(|v| v.log10()).collect());
            }
            self.labels = Labels::Seconds;
        } else {
            let (div, unit) = match self.hi.max(self.lo.abs()) {
                m if m < 1.0 => (1e-3, "ms"),
                m if m < 180.0 => (1.0, "s"),
                m if m < 3.0 * 3600.0 => (60.0, "m"),
                _ => (3600.0, "h"),
            };
            // A step of 1, 2, 2.5 or 5 × 10^k in the axis's unit.
            let ticks = linear_ticks(self.lo / div, self.hi / div, 8);
            self.ticks = Some(ticks.iter().map(|t| t * div).collect());
            self.labels = Labels::SecondsIn(div, unit);
        }
        self
    }
}

/// Elapsed time at a tick: whole units, largest first (`1d 6h`, `2h30m`).
fn elapsed_label(v: f64) -> String {
    let s = v.round() as i64;
    if s == 0 {
        return "0".into();
    }
    let (d, h, m, sec) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60, s % 60);
    let parts: Vec<String> = [(d, "d"), (h, "h"), (m, "m"), (sec, "s")]
        .iter()
        .filter(|(n, _)| *n != 0)
        .map(|(n, u)| format!("{n}{u}"))
        .collect();
    parts.join(" ").replace("h ", "h").replace("m ", "m")
}

/// Clock time of a tick `v` seconds after `start`: `HH:MM` (`HH:MM:SS`
/// when not on a minute); at midnight after the first day, the date.
fn clock_label(start: StartTime, v: f64) -> String {
    let t = (f64::from(start.minute) * 60.0 + v).round() as i64;
    let (day, tod) = (t.div_euclid(86_400), t.rem_euclid(86_400));
    if tod == 0 && day > 0 {
        return match start.date {
            Some(date) => {
                let (_, m, d) = add_days(date, day);
                const MONTHS: [&str; 12] = [
                    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
                    "Dec",
                ];
                format!("{} {d}", MONTHS[(m - 1) as usize])
            }
            None => format!("day {}", day + 1),
        };
    }
    let (h, m, s) = (tod / 3600, tod % 3600 / 60, tod % 60);
    if s == 0 {
        format!("{h:02}:{m:02}")
    } else {
        format!("{h:02}:{m:02}:{s:02}")
    }
}

/// The date `days` after `date`.
fn add_days((mut y, mut m, mut d): (i32, u32, u32), days: i64) -> (i32, u32, u32) {
    for _ in 0..days.clamp(0, 100_000) {
        d += 1;
        if d > days_in_month(y, m) {
            d = 1;
            m += 1;
            if m > 12 {
                m = 1;
                y += 1;
            }
        }
    }
    (y, m, d)
}

/// Round steps of a time axis, seconds.
const TIME_STEPS: [f64; 22] = [
    1.0,
    2.0,
    5.0,
    10.0,
    15.0,
    30.0,
    60.0,
    120.0,
    300.0,
    600.0,
    900.0,
    1800.0,
    3600.0,
    7200.0,
    10_800.0,
    14_400.0,
    21_600.0,
    43_200.0,
    86_400.0,
    172_800.0,
    604_800.0,
    2_592_000.0,
];

/// The time axis over [0, end] seconds: ticks on round clock times (or
/// round elapsed times without a start), at most 14 of them.
fn time_axis(desc: impl Into<String>, end: f64, start: Option<StartTime>) -> Axis {
    let offset = start.map_or(0.0, |s| f64::from(s.minute) * 60.0);
    let step = TIME_STEPS
        .iter()
        .copied()
        .find(|step| end / step <= 13.0)
        .unwrap_or(TIME_STEPS[TIME_STEPS.len() - 1]);
    let first = ((offset / step).ceil() * step) - offset;
    let ticks: Vec<f64> = (0..)
        .map(|k| first + f64::from(k) * step)
        .take_while(|t| *t <= end * (1.0 + 1e-9))
        .collect();
    let mut axis = Axis::linear(desc, 0.0, end.max(1e-9));
    axis.ticks = Some(ticks);
    axis.labels = match start {
        Some(s) => Labels::Clock(s),
        None => Labels::Elapsed,
    };
    axis
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
    /// Marker shape (index into [`MARKERS`]), so that lines that coincide
    /// still show each series.
    shape: usize,
    /// Dashed line (targets, and series that would hide each other).
    dashed: bool,
}

impl Series {
    fn line(label: impl Into<String>, color: RGBColor, points: Vec<(f64, f64)>) -> Self {
        Series {
            label: label.into(),
            color,
            points,
            band: Vec::new(),
            markers: false,
            shape: 0,
            dashed: false,
        }
    }
}

/// Marker shapes, in order: circle, square, triangle, diamond, cross.
const MARKERS: usize = 5;

/// Something drawn behind or over a panel's lines: a shaded span of x
/// with a label at its top (warm-up, drain), or a dashed horizontal line
/// with a label at its right end (a target, an SLO bound).
#[derive(Clone, Debug)]
enum Mark {
    Span {
        from: f64,
        to: f64,
        label: String,
    },
    Level {
        y: f64,
        color: RGBColor,
        label: String,
    },
}

/// Lines (with bands) on a frame, its marks, and their legend.
fn draw_panel<DB: DrawingBackend>(
    area: &Area<DB>,
    title: &str,
    x: &Axis,
    y: &Axis,
    series: &[Series],
    marks: &[Mark],
) -> Result<(), String> {
    let mut chart = frame(area, title, x, y, true)?;
    let (ylo, yhi) = y.range();
    for m in marks {
        if let Mark::Span { from, to, label } = m {
            let (from, to) = (x.clamp(*from), x.clamp(*to));
            if to <= from {
                continue;
            }
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(from, ylo), (to, yhi)],
                    RGBColor(120, 120, 120).mix(0.12).filled(),
                )))
                .map_err(err)?;
            span_label(area, &chart, label, from, to, yhi)?;
        }
    }
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
        // A gap in the data (a missing value) is a gap in the line.
        let mut runs: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
        for &(px, py) in &s.points {
            match y.map(py) {
                Some(v) => runs.last_mut().expect("one run").push((px, v)),
                None if !runs.last().is_some_and(Vec::is_empty) => runs.push(Vec::new()),
                None => {}
            }
        }
        for run in runs.iter().filter(|r| !r.is_empty()) {
            if s.dashed {
                chart
                    .draw_series(DashedLineSeries::new(
                        run.clone(),
                        10,
                        6,
                        color.stroke_width(2),
                    ))
                    .map_err(err)?;
            } else {
                chart
                    .draw_series(LineSeries::new(run.clone(), color.stroke_width(2)))
                    .map_err(err)?;
            }
        }
        if s.markers {
            let pts: Vec<(f64, f64)> = runs.concat();
            marker_series(&mut chart, &pts, color, s.shape)?;
        }
    }
    // Levels at the same height share one line and one label.
    let mut levels: Vec<(f64, RGBColor, String)> = Vec::new();
    for m in marks {
        if let Mark::Level {
            y: level,
            color,
            label,
        } = m
        {
            match levels
                .iter_mut()
                .find(|l| (l.0 - level).abs() <= 1e-9 * level.abs().max(1e-12))
            {
                Some(l) => {
                    l.2 = format!("{} · {label}", l.2);
                    l.1 = GREY;
                }
                None => levels.push((*level, *color, label.clone())),
            }
        }
    }
    for (level, color, label) in &levels {
        {
            let Some(v) = y.map(*level) else { continue };
            if v < ylo || v > yhi {
                continue;
            }
            let (xlo, xhi) = x.range();
            chart
                .draw_series(DashedLineSeries::new(
                    vec![(xlo, v), (xhi, v)],
                    6,
                    5,
                    color.stroke_width(2),
                ))
                .map_err(err)?;
            let style = TextStyle::from((FONT, 14).into_font())
                .color(color)
                .pos(Pos::new(HPos::Right, VPos::Bottom));
            let (px, py) = chart.backend_coord(&(xhi, v));
            let base = area.get_base_pixel();
            area.draw(&Text::new(
                label.clone(),
                (px - 4 - base.0, py - 3 - base.1),
                style,
            ))
            .map_err(err)?;
        }
    }
    let entries: Vec<LegendEntry> = series
        .iter()
        .filter(|s| !s.label.is_empty())
        .map(|s| LegendEntry {
            label: s.label.clone(),
            color: s.color,
            filled: false,
            dashed: s.dashed,
            shape: s.markers.then_some(s.shape),
        })
        .collect();
    legend(area, &mut chart, y, &entries)
}

/// The label of a shaded span, at its top left, if the span is wide
/// enough to hold it.
fn span_label<'a, DB: DrawingBackend + 'a>(
    area: &Area<DB>,
    chart: &ChartContext<'a, DB, Coords>,
    label: &str,
    from: f64,
    to: f64,
    top: f64,
) -> Result<(), String> {
    let style = TextStyle::from((FONT, 14).into_font())
        .color(&GREY)
        .pos(Pos::new(HPos::Left, VPos::Top));
    let (x0, y0) = chart.backend_coord(&(from, top));
    let (x1, _) = chart.backend_coord(&(to, top));
    let width = area
        .estimate_text_size(label, &style)
        .map_or(7 * label.len() as i32, |(w, _)| w as i32);
    if x1 - x0 < width + 8 {
        return Ok(());
    }
    let base = area.get_base_pixel();
    area.draw(&Text::new(
        label.to_string(),
        (x0 + 4 - base.0, y0 + 3 - base.1),
        style,
    ))
    .map_err(err)
}

/// Markers of shape `shape` at `pts`.
fn marker_series<'a, DB: DrawingBackend + 'a>(
    chart: &mut ChartContext<'a, DB, Coords>,
    pts: &[(f64, f64)],
    color: RGBColor,
    shape: usize,
) -> Result<(), String> {
    let style = color.filled();
    let stroke = color.stroke_width(2);
    match shape % MARKERS {
        0 => chart
            .draw_series(pts.iter().map(|&p| Circle::new(p, 5, style)))
            .map(|_| ()),
        1 => chart
            .draw_series(
                pts.iter()
                    .map(|&p| EmptyElement::at(p) + Rectangle::new([(-4, -4), (4, 4)], style)),
            )
            .map(|_| ()),
        2 => chart
            .draw_series(pts.iter().map(|&p| TriangleMarker::new(p, 6, style)))
            .map(|_| ()),
        3 => chart
            .draw_series(pts.iter().map(|&p| {
                EmptyElement::at(p) + Polygon::new(vec![(0, -6), (6, 0), (0, 6), (-6, 0)], style)
            }))
            .map(|_| ()),
        _ => chart
            .draw_series(pts.iter().map(|&p| Cross::new(p, 5, stroke)))
            .map(|_| ()),
    }
    .map_err(err)
}

/// A legend entry: its swatch is a filled square (a band) or a line
/// (dashed or not, with the series' marker if it has one).
#[derive(Clone, Debug)]
struct LegendEntry {
    label: String,
    color: RGBColor,
    filled: bool,
    dashed: bool,
    shape: Option<usize>,
}

impl LegendEntry {
    fn band(label: impl Into<String>, color: RGBColor) -> Self {
        LegendEntry {
            label: label.into(),
            color,
            filled: true,
            dashed: false,
            shape: None,
        }
    }

    fn line(label: impl Into<String>, color: RGBColor) -> Self {
        LegendEntry {
            label: label.into(),
            color,
            filled: false,
            dashed: false,
            shape: None,
        }
    }
}

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
    let widths: Vec<i32> = entries
        .iter()
        .map(|e| SWATCH + 6 + width(&e.label))
        .collect();
    let total: i32 = widths.iter().sum::<i32>() + 18 * (entries.len() as i32 - 1);
    let room = right - left - width(&y.desc) - 60;
    // Too wide for the line above the plot: lines of at most two thirds
    // of the plot's width, right-aligned inside its top right corner, on
    // a white ground.
    let one_line = total <= room;
    let wrap = if one_line {
        i32::MAX
    } else {
        (right - left) * 2 / 3
    };
    let mut lines: Vec<Vec<usize>> = vec![Vec::new()];
    let mut used = 0;
    for (i, w) in widths.iter().enumerate() {
        if used > 0 && used + 18 + w > wrap {
            lines.push(Vec::new());
            used = 0;
        }
        used += w + if used > 0 { 18 } else { 0 };
        lines.last_mut().expect("one line").push(i);
    }
    let line_width = |line: &[usize]| -> i32 {
        line.iter().map(|&i| widths[i]).sum::<i32>() + 18 * (line.len() as i32 - 1)
    };
    if !one_line {
        let widest = lines.iter().map(|l| line_width(l)).max().unwrap_or(0);
        area.draw(&Rectangle::new(
            [
                (right - widest - 18, top + 2),
                (right - 2, top + 8 + 22 * lines.len() as i32),
            ],
            WHITE.mix(0.9).filled(),
        ))
        .map_err(err)?;
    }
    for (row, line) in lines.iter().enumerate() {
        let mid = if one_line {
            top - 16
        } else {
            top + 16 + 22 * row as i32
        };
        let mut x = right - line_width(line) - if one_line { 0 } else { 10 };
        for &i in line {
            let e = &entries[i];
            if e.filled {
                area.draw(&Rectangle::new(
                    [(x, mid - 7), (x + SWATCH, mid + 7)],
                    e.color.filled(),
                ))
                .map_err(err)?;
            } else if e.dashed {
                for k in 0..2 {
                    let x0 = x + k * 13;
                    area.draw(&PathElement::new(
                        vec![(x0, mid), (x0 + 9, mid)],
                        e.color.stroke_width(3),
                    ))
                    .map_err(err)?;
                }
            } else {
                area.draw(&PathElement::new(
                    vec![(x, mid), (x + SWATCH, mid)],
                    e.color.stroke_width(3),
                ))
                .map_err(err)?;
            }
            if let Some(shape) = e.shape {
                legend_marker(area, (x + SWATCH / 2, mid), e.color, shape)?;
            }
            let text = style.clone().pos(Pos::new(HPos::Left, VPos::Center));
            area.draw(&Text::new(e.label.clone(), (x + SWATCH + 6, mid), text))
                .map_err(err)?;
            x += widths[i] + 18;
        }
    }
    let _ = chart;
    Ok(())
}

/// A marker of shape `shape` at pixel `at` of `area` (for legends).
fn legend_marker<DB: DrawingBackend>(
    area: &Area<DB>,
    at: (i32, i32),
    color: RGBColor,
    shape: usize,
) -> Result<(), String> {
    let style = color.filled();
    match shape % MARKERS {
        0 => area.draw(&Circle::new(at, 5, style)),
        1 => area.draw(&Rectangle::new(
            [(at.0 - 4, at.1 - 4), (at.0 + 4, at.1 + 4)],
            style,
        )),
        2 => area.draw(&TriangleMarker::new(at, 6, style)),
        3 => area.draw(&Polygon::new(
            vec![
                (at.0, at.1 - 6),
                (at.0 + 6, at.1),
                (at.0, at.1 + 6),
                (at.0 - 6, at.1),
            ],
            style,
        )),
        _ => area.draw(&Cross::new(at, 5, color.stroke_width(2))),
    }
    .map_err(err)
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
            let sink = std::rc::Rc::new(std::cell::RefCell::new(glyphs::GlyphSink::default()));
            {
                let root = GlyphText {
                    inner: SVGBackend::with_string(&mut text, SIZE),
                    svg: Some(sink.clone()),
                }
                .into_drawing_area();
                root.fill(&WHITE).map_err(err)?;
                chart.draw(&root)?;
                root.present().map_err(err)?;
            }
            // The text, as outlines of the embedded font, over everything.
            let end = text
                .rfind("</svg>")
                .ok_or("the SVG backend wrote no </svg>")?;
            text.insert_str(end, &sink.borrow().markup());
            text.into_bytes()
        }
        ChartFormat::Png => {
            let mut buf = vec![0u8; (SIZE.0 * SIZE.1 * 3) as usize];
            {
                let root = GlyphText {
                    inner: BitMapBackend::with_buffer(&mut buf, SIZE),
                    svg: None,
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
