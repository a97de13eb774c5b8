//! Heatmaps of a metric over two crossed parameters: the mean written in
//! every cell, on a viridis scale (log when the values span a wide range).

use super::{Layout, SweepData, SweepMetric, TOTAL, distinct, numeric, path_label};
use crate::report::charts::{
    Area, Axis, Chart, ChartFile, ChartFormat, FONT, SIZE, err, frame, linear_ticks, log_ticks,
    save, slug,
};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::Path;

/// A heatmap of a metric over two crossed parameters.
struct Heatmap<'a> {
    title: String,
    metric: &'a SweepMetric,
    x: Axis,
    y: Axis,
    /// (x index, y index, value) — missing cells are left grey.
    cells: Vec<(usize, usize, Option<f64>)>,
}

/// Viridis, sampled at nine points.
const VIRIDIS: [(u8, u8, u8); 9] = [
    (68, 1, 84),
    (71, 44, 122),
    (59, 81, 139),
    (44, 113, 142),
    (33, 144, 141),
    (39, 173, 129),
    (92, 200, 99),
    (170, 220, 50),
    (253, 231, 37),
];

pub(super) fn viridis(t: f64) -> RGBColor {
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let f = t * (VIRIDIS.len() - 1) as f64;
    let i = (f.floor() as usize).min(VIRIDIS.len() - 2);
    let u = f - i as f64;
    let mix = |a: u8, b: u8| (f64::from(a) + (f64::from(b) - f64::from(a)) * u).round() as u8;
    let (a, b) = (VIRIDIS[i], VIRIDIS[i + 1]);
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// Black text on light cells, white on dark ones.
pub(super) fn text_color(c: RGBColor) -> RGBColor {
    let lum = 0.299 * f64::from(c.0) + 0.587 * f64::from(c.1) + 0.114 * f64::from(c.2);
    if lum > 140.0 { BLACK } else { WHITE }
}

/// The colour scale of a heatmap: value → [0, 1], log if wide.
pub(super) struct Scale {
    pub(super) lo: f64,
    pub(super) hi: f64,
    pub(super) log: bool,
}

impl Scale {
    pub(super) fn new(values: &[f64], log_if_wide: bool) -> Self {
        let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let log = log_if_wide && lo > 0.0 && hi > 20.0 * lo;
        let (lo, hi) = if lo.is_finite() { (lo, hi) } else { (0.0, 1.0) };
        Scale { lo, hi, log }
    }

    pub(super) fn t(&self, v: f64) -> f64 {
        if self.hi <= self.lo {
            return 0.5;
        }
        if self.log {
            (v.ln() - self.lo.ln()) / (self.hi.ln() - self.lo.ln())
        } else {
            (v - self.lo) / (self.hi - self.lo)
        }
    }

    #[cfg(test)]
    pub(super) fn value(&self, t: f64) -> f64 {
        if self.log {
            (self.lo.ln() + t * (self.hi.ln() - self.lo.ln())).exp()
        } else {
            self.lo + t * (self.hi - self.lo)
        }
    }
}

impl Chart for Heatmap<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &Area<DB>) -> Result<(), String> {
        let (main, bar) = root.split_horizontally(SIZE.0 - 170);
        let k = self.metric.scale();
        let values: Vec<f64> = self
            .cells
            .iter()
            .filter_map(|c| c.2)
            .map(|v| v * k)
            .collect();
        let scale = Scale::new(&values, self.metric.log_if_wide);
        // One unit for every cell and label of the chart.
        let cell = self.metric.cell_format(&values);
        let mut chart = frame(&main, &self.title, &self.x, &self.y, false)?;
        let nx = self.x.names.as_ref().map_or(1, Vec::len) as f64;
        let ny = self.y.names.as_ref().map_or(1, Vec::len) as f64;
        let font_size = (f64::from(SIZE.1 - 140) / ny * 0.3)
            .min(f64::from(SIZE.0 - 400) / nx / 6.0)
            .clamp(9.0, 20.0);
        for &(i, j, v) in &self.cells {
            let (x, y) = (i as f64, j as f64);
            let fill = v.map_or(RGBColor(220, 220, 220), |v| viridis(scale.t(v * k)));
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(x - 0.5, y - 0.5), (x + 0.5, y + 0.5)],
                    fill.filled(),
                )))
                .map_err(err)?;
            let text = v.map_or("n/a".to_string(), |v| cell(v * k));
            let color = text_color(fill);
            let style = TextStyle::from((FONT, font_size).into_font())
                .color(&color)
                .pos(Pos::new(HPos::Center, VPos::Center));
            chart
                .draw_series(std::iter::once(Text::new(text, (x, y), style)))
                .map_err(err)?;
        }
        // The colour bar: a gradient with five labelled values.
        let caption = if scale.log {
            "log colour scale"
        } else {
            "colour scale"
        };
        bar.draw(&Text::new(
            caption,
            (10, 44),
            TextStyle::from((FONT, 16).into_font()),
        ))
        .map_err(err)?;
        let bar = bar.margin(76, 60, 10, 20);
        let (w, h) = bar.dim_in_pixel();
        let (w, h) = (w.min(28) as i32, h as i32);
        for py in 0..h {
            let t = 1.0 - f64::from(py) / f64::from(h.max(1));
            bar.draw(&Rectangle::new([(0, py), (w, py + 1)], viridis(t).filled()))
                .map_err(err)?;
        }
        bar.draw(&Rectangle::new([(0, 0), (w, h)], BLACK.stroke_width(1)))
            .map_err(err)?;
        let style = TextStyle::from((FONT, 17).into_font()).pos(Pos::new(HPos::Left, VPos::Center));
        // Round values on the bar (1-2-5 on a log scale), not its fifths.
        // Round in the unit the cells are written in (minutes, say).
        let (div, _) = self.metric.display_unit(&values);
        let mut ticks: Vec<f64> = if scale.log {
            log_ticks(scale.lo / div, scale.hi / div).0
        } else {
            linear_ticks(scale.lo / div, scale.hi / div, 8)
        };
        ticks.iter_mut().for_each(|t| *t *= div);
        ticks.retain(|v| *v >= scale.lo - 1e-12 && *v <= scale.hi + 1e-12);
        if ticks.len() < 2 {
            ticks = vec![scale.lo, scale.hi];
        }
        for v in ticks {
            let t = scale.t(v);
            let py = ((1.0 - t) * f64::from(h)).round() as i32;
            bar.draw(&PathElement::new(vec![(w, py), (w + 5, py)], BLACK))
                .map_err(err)?;
            bar.draw(&Text::new(cell(v), (w + 8, py), style.clone()))
                .map_err(err)?;
        }
        Ok(())
    }
}

pub(super) fn heatmap(
    data: &SweepData,
    layout: &Layout,
    metric: &SweepMetric,
    class: &str,
    dir: &Path,
    format: ChartFormat,
) -> Result<ChartFile, String> {
    let xp = layout.x_param;
    let yp = 1 - xp;
    let x_names: Vec<String> = layout.x_values.iter().map(|v| v.0.clone()).collect();
    let y_names = distinct(data.points.values().map(|v| v[yp].clone()));
    let y_names = match numeric(&y_names.iter().map(String::as_str).collect::<Vec<_>>()) {
        Some((nums, _)) => {
            let mut pairs: Vec<(String, f64)> = y_names.into_iter().zip(nums).collect();
            pairs.sort_by(|a, b| a.1.total_cmp(&b.1));
            pairs.into_iter().map(|p| p.0).collect()
        }
        None => y_names,
    };
    let cells = data
        .points
        .iter()
        .filter_map(|(p, v)| {
            let i = x_names.iter().position(|n| *n == v[xp])?;
            let j = y_names.iter().position(|n| *n == v[yp])?;
            let stat = data
                .stats
                .get(&(metric.column.clone(), class.to_string(), *p));
            Some((i, j, stat.map(|s| s.mean)))
        })
        .collect();
    let who = if metric.per_pool && class != TOTAL {
        format!("pool {class}")
    } else {
        class.to_string()
    };
    let title = format!("{who}: {} (mean of the replications)", metric.title);
    let chart = Heatmap {
        title,
        metric,
        x: Axis::categories(path_label(&data.params[xp]), x_names),
        y: Axis::categories(path_label(&data.params[yp]), y_names),
        cells,
    };
    let stem = if class.is_empty() {
        format!("heatmap-{}", metric.column)
    } else {
        format!("heatmap-{}-{}", metric.column, slug(class))
    };
    save(&chart, dir, &stem, format)
}
