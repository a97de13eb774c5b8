//! A panel: a titled frame with its axes, lines with bands and markers,
//! shaded spans and dashed levels, and the legend.

use super::{Area, Axis, Coords, FONT, GREY, err};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// A titled frame with both axes drawn (grid lines if `grid`).
pub(super) fn frame<'a, DB: DrawingBackend + 'a>(
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
pub(super) struct Series {
    pub(super) label: String,
    pub(super) color: RGBColor,
    pub(super) points: Vec<(f64, f64)>,
    pub(super) band: Vec<(f64, f64, f64)>,
    pub(super) markers: bool,
    /// Marker shape (index into [`MARKERS`]), so that lines that coincide
    /// still show each series.
    pub(super) shape: usize,
    /// Dashed line (targets, and series that would hide each other).
    pub(super) dashed: bool,
    /// Points joined by a line (false: markers only).
    pub(super) line: bool,
}

impl Series {
    pub(super) fn line(label: impl Into<String>, color: RGBColor, points: Vec<(f64, f64)>) -> Self {
        Series {
            label: label.into(),
            color,
            points,
            band: Vec::new(),
            markers: false,
            shape: 0,
            dashed: false,
            line: true,
        }
    }
}

/// Marker shapes, in order: circle, square, triangle, diamond, cross.
pub(super) const MARKERS: usize = 5;

/// Something drawn behind or over a panel's lines: a shaded span of x
/// with a label at its top (warm-up, drain), or a dashed horizontal line
/// with a label at its right end (a target, an SLO bound).
#[derive(Clone, Debug)]
pub(super) enum Mark {
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
pub(super) fn draw_panel<DB: DrawingBackend>(
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
        for run in runs.iter().filter(|r| !r.is_empty() && s.line) {
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
pub(super) fn span_label<'a, DB: DrawingBackend + 'a>(
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
pub(super) fn marker_series<'a, DB: DrawingBackend + 'a>(
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
pub(super) struct LegendEntry {
    pub(super) label: String,
    pub(super) color: RGBColor,
    pub(super) filled: bool,
    pub(super) dashed: bool,
    pub(super) shape: Option<usize>,
}

impl LegendEntry {
    pub(super) fn band(label: impl Into<String>, color: RGBColor) -> Self {
        LegendEntry {
            label: label.into(),
            color,
            filled: true,
            dashed: false,
            shape: None,
        }
    }

    pub(super) fn line(label: impl Into<String>, color: RGBColor) -> Self {
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
pub(super) fn legend<'a, DB: DrawingBackend + 'a>(
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
pub(super) fn legend_marker<DB: DrawingBackend>(
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
