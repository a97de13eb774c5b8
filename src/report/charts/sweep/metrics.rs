//! What a sweep draws and how its numbers read: the metrics (class or
//! pool), their units, one unit per chart for cells, and swept paths in
//! words.

use super::super::tick_label;
use crate::metric::Metric;

/// What a sweep metric's numbers are, for axes and cells.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    /// Seconds: axes and cells as durations (`250ms`, `30s`, `4m`).
    Seconds,
    /// A share in [0, 1], shown as a percentage.
    Share,
    /// US dollars.
    Usd,
    /// Anything else: plain numbers.
    Plain,
}

/// A metric drawn by the sweep charts: a `sweep.csv` column prefix, kept
/// per class, or per pool (`pool_*`: one line per pool).
#[derive(Clone, Debug)]
pub(super) struct SweepMetric {
    pub(super) column: String,
    pub(super) title: String,
    pub(super) kind: Kind,
    /// Log scale when the values span more than a factor of 20.
    pub(super) log_if_wide: bool,
    /// The class metric, for SLO bounds.
    pub(super) metric: Option<Metric>,
    pub(super) per_pool: bool,
}

impl SweepMetric {
    pub(super) fn of(metric: Metric) -> Self {
        let kind = match metric.unit() {
            crate::metric::Unit::Seconds => Kind::Seconds,
            crate::metric::Unit::Fraction => Kind::Share,
            _ => Kind::Plain,
        };
        SweepMetric {
            column: metric.column().to_string(),
            title: metric.label().to_string(),
            kind,
            log_if_wide: kind == Kind::Seconds,
            metric: Some(metric),
            per_pool: false,
        }
    }

    pub(super) fn pool(column: &str, title: &str, kind: Kind) -> Self {
        SweepMetric {
            column: column.to_string(),
            title: title.to_string(),
            kind,
            log_if_wide: false,
            metric: None,
            per_pool: true,
        }
    }

    /// Values as displayed (shares as percentages).
    pub(super) fn scale(&self) -> f64 {
        if self.kind == Kind::Share { 100.0 } else { 1.0 }
    }

    /// The y axis description: the label and, where the tick labels do
    /// not carry it, the unit.
    pub(super) fn axis(&self) -> String {
        match self.kind {
            Kind::Seconds => self.title.clone(),
            Kind::Share => format!("{} (%)", self.title),
            Kind::Usd => format!("{} (USD)", self.title),
            Kind::Plain => self.title.clone(),
        }
    }

    /// How a cell of a heatmap (or a colour bar label) is written: one
    /// unit for every value of the chart, chosen from the largest.
    pub(super) fn cell_format(&self, values: &[f64]) -> impl Fn(f64) -> String + use<> {
        let kind = self.kind;
        let (div, unit) = self.display_unit(values);
        move |v: f64| match kind {
            Kind::Seconds => format!("{}{unit}", three_significant(v / div)),
            Kind::Share => format!("{}%", three_significant(v)),
            Kind::Usd => format!("${}", tick_label(v)),
            Kind::Plain => tick_label(v),
        }
    }
}

impl SweepMetric {
    /// The unit values of a chart are written in (seconds: from the
    /// largest), as a divisor and a suffix.
    pub(super) fn display_unit(&self, values: &[f64]) -> (f64, &'static str) {
        let top = values.iter().copied().fold(0.0f64, |a, v| a.max(v.abs()));
        match self.kind {
            Kind::Seconds if top < 1.0 => (1e-3, "ms"),
            Kind::Seconds if top < 120.0 => (1.0, "s"),
            Kind::Seconds if top < 7200.0 => (60.0, "m"),
            Kind::Seconds => (3600.0, "h"),
            _ => (1.0, ""),
        }
    }
}

/// Three significant digits, without a thousands suffix: 449, 23.8, 0.512.
pub(super) fn three_significant(x: f64) -> String {
    let a = x.abs();
    let decimals = if a >= 100.0 || a == 0.0 {
        0
    } else {
        (2 - a.log10().floor() as i32).clamp(0, 6) as usize
    };
    format!("{x:.decimals$}")
}

/// Human names of swept paths: `pool.gpu.gpus` → `GPUs in pool gpu`.
pub(crate) fn path_label(path: &str) -> String {
    let parts: Vec<&str> = path.split('.').collect();
    let leaf = |l: &str| -> String {
        match l {
            "gpus" => "GPUs".into(),
            "rate" => "arrival rate".into(),
            "policy" => "policy".into(),
            "speed" => "speed".into(),
            "cost_per_gpu_hour" => "cost per GPU-hour".into(),
            "latency_target" => "latency target".into(),
            other => other.replace('_', " "),
        }
    };
    match parts.as_slice() {
        ["pool", name, rest @ ..] if !rest.is_empty() => format!(
            "{} of pool {name}",
            rest.iter().map(|l| leaf(l)).collect::<Vec<_>>().join(" ")
        )
        .replacen("GPUs of pool", "GPUs in pool", 1),
        ["class", name, rest @ ..] if !rest.is_empty() => {
            let what: Vec<String> = rest
                .iter()
                .filter(|l| **l != "arrivals")
                .map(|l| leaf(l))
                .collect();
            format!("{} of class {name}", what.join(" "))
        }
        _ => path.replace('_', " "),
    }
}
