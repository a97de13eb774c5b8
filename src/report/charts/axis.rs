//! Axes: ranges, scales and ticks — round numbers, 1-2-5 per decade on
//! log axes, round durations for time-valued axes, clock or elapsed time
//! along a run — and how tick values are written.

use crate::model::{StartTime, days_in_month};
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::prelude::*;

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
pub(super) fn linear_ticks(lo: f64, hi: f64, max: usize) -> Vec<f64> {
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
pub(super) fn log_ticks(lo: f64, hi: f64) -> (Vec<f64>, Vec<f64>) {
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
pub(super) struct Axis {
    pub(super) desc: String,
    pub(super) lo: f64,
    pub(super) hi: f64,
    pub(super) log: bool,
    pub(super) names: Option<Vec<String>>,
    /// Tick positions (data units) instead of round numbers, e.g. the
    /// swept values themselves.
    pub(super) ticks: Option<Vec<f64>>,
    /// How a tick value (data units) is written when not categorical.
    pub(super) labels: Labels,
}

/// How the ticks of a numeric axis are labelled.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Labels {
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
    pub(super) fn linear(desc: impl Into<String>, lo: f64, hi: f64) -> Self {
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
    pub(super) fn categories(desc: impl Into<String>, names: Vec<String>) -> Self {
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
    pub(super) fn fit(
        desc: impl Into<String>,
        values: impl Iterator<Item = f64>,
        log: bool,
    ) -> Self {
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
    pub(super) fn map(&self, v: f64) -> Option<f64> {
        if !v.is_finite() {
            None
        } else if self.log {
            (v > 0.0).then(|| v.log10())
        } else {
            Some(v)
        }
    }

    /// Coordinate of a data value, clamped into the axis.
    pub(super) fn clamp(&self, v: f64) -> f64 {
        let (lo, hi) = self.range();
        self.map(v).unwrap_or(lo).clamp(lo, hi)
    }

    pub(super) fn range(&self) -> (f64, f64) {
        if self.log {
            (self.lo.log10(), self.hi.log10())
        } else {
            (self.lo, self.hi)
        }
    }

    /// The plotters coordinate with this axis's ticks.
    pub(super) fn coord(&self, max_ticks: usize) -> Ticked {
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
    pub(super) fn label(&self, c: f64) -> String {
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
    pub(super) fn format(self, v: f64) -> String {
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
pub(super) const NICE_SECONDS: [f64; 30] = [
    0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0,
    120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0, 7200.0, 14_400.0, 21_600.0, 43_200.0, 86_400.0,
    172_800.0, 432_000.0, 864_000.0,
];

impl Axis {
    /// This (fitted) axis holds seconds: ticks on round durations, labels
    /// in one unit for a linear axis, each in its own for a log one.
    pub(super) fn seconds(mut self) -> Self {
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
pub(super) fn elapsed_label(v: f64) -> String {
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
pub(super) fn clock_label(start: StartTime, v: f64) -> String {
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
pub(super) fn add_days((mut y, mut m, mut d): (i32, u32, u32), days: i64) -> (i32, u32, u32) {
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
pub(super) const TIME_STEPS: [f64; 22] = [
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
pub(super) fn time_axis(desc: impl Into<String>, end: f64, start: Option<StartTime>) -> Axis {
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
pub(super) struct Ticked {
    pub(super) lo: f64,
    pub(super) hi: f64,
    pub(super) bold: Vec<f64>,
    pub(super) light: Vec<f64>,
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
