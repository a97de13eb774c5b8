//! Where a workflow's time goes: for one workflow class, each stage's mean
//! wait and mean service per visit over time, stacked in stage order (from
//! `stage_series.csv`), with the pools of its stages in the order they
//! first saturated (from the pool rows of `timeseries.csv`).

use super::super::{Area, Axis, Chart, FONT, GREY, LegendEntry, PALETTE, err, frame, legend};
use super::Frame;
use super::scope::Scopes;
use crate::rows::{self, StageTimeRow};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::collections::BTreeMap;

/// A pool is saturated in a bucket when this share of its online GPUs is
/// busy and requests wait (a mean queue of at least one).
const SATURATED_BUSY: f64 = 0.95;

/// One stage of a class, bucket by bucket: (time, mean wait, mean
/// service), each the mean over replications of the bucket's means.
pub(super) struct StageLine {
    pub(super) name: String,
    pub(super) pool: String,
    pub(super) points: Vec<(f64, f64, f64)>,
}

/// The stage lines of each workflow class (grid point 0), stages in the
/// file's order.
pub(super) fn read(csv: &[u8]) -> Result<BTreeMap<String, Vec<StageLine>>, String> {
    let rows: Vec<StageTimeRow> = rows::read("stage_series.csv", csv)?;
    // (class, stage) → time key → (t, waits, services)
    type Cells = BTreeMap<i64, (f64, Vec<f64>, Vec<f64>)>;
    let mut order: Vec<(String, String, String)> = Vec::new();
    let mut cells: BTreeMap<(String, String), Cells> = BTreeMap::new();
    for r in rows.iter().filter(|r| r.point == 0) {
        let key = (r.class.clone(), r.stage.clone());
        if !order.iter().any(|(c, s, _)| *c == key.0 && *s == key.1) {
            order.push((r.class.clone(), r.stage.clone(), r.pool.clone()));
        }
        let cell = cells
            .entry(key)
            .or_default()
            .entry((r.time_s * 1e6).round() as i64)
            .or_insert((r.time_s, Vec::new(), Vec::new()));
        // A bucket without visits spends no time in the stage.
        cell.1
            .push(r.wait_mean_s.filter(|x| x.is_finite()).unwrap_or(0.0));
        cell.2
            .push(r.service_mean_s.filter(|x| x.is_finite()).unwrap_or(0.0));
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let mut out: BTreeMap<String, Vec<StageLine>> = BTreeMap::new();
    for (class, stage, pool) in order {
        let points = cells[&(class.clone(), stage.clone())]
            .values()
            .map(|(t, w, s)| (*t, mean(w), mean(s)))
            .collect();
        out.entry(class).or_default().push(StageLine {
            name: stage,
            pool,
            points,
        });
    }
    Ok(out)
}

/// When each of `pools` first saturated (busy ≥ 95% of online, with a
/// queue), in any replication; `None` if never.
pub(super) fn first_saturation(scopes: &Scopes, pools: &[&str]) -> Vec<(String, Option<f64>)> {
    let mut out: Vec<(String, Option<f64>)> = pools
        .iter()
        .map(|&pool| {
            let at = scopes
                .get(&("pool".to_string(), pool.to_string()))
                .and_then(|s| {
                    s.rows()
                        .filter(|r| match (r.busy, r.online, r.queue_mean) {
                            (Some(b), Some(o), Some(q)) => {
                                o > 0.0 && b >= SATURATED_BUSY * o && q >= 1.0
                            }
                            _ => false,
                        })
                        .map(|r| r.t)
                        .min_by(f64::total_cmp)
                });
            (pool.to_string(), at)
        })
        .collect();
    out.sort_by(|a, b| match (a.1, b.1) {
        (Some(x), Some(y)) => x.total_cmp(&y),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    });
    out
}

/// A band of the stacked chart: its label, colour and (time, seconds).
type Layer = (String, RGBColor, Vec<(f64, f64)>);

pub(super) struct StageChart<'a> {
    pub(super) class: &'a str,
    pub(super) stages: &'a [StageLine],
    pub(super) saturation: Vec<(String, Option<f64>)>,
    pub(super) frame: &'a Frame<'a>,
}

impl Chart for StageChart<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &Area<DB>) -> Result<(), String> {
        let f = self.frame;
        let x = f.x(true);
        // Layers bottom-up: each stage's wait, then its service.
        let mut layers: Vec<Layer> = Vec::new();
        for (k, st) in self.stages.iter().enumerate() {
            let color = PALETTE[k % PALETTE.len()];
            let light = RGBColor(
                (color.0 as u16 + 2 * 255).div_ceil(3) as u8,
                (color.1 as u16 + 2 * 255).div_ceil(3) as u8,
                (color.2 as u16 + 2 * 255).div_ceil(3) as u8,
            );
            let on = if st.pool.is_empty() {
                String::new()
            } else {
                format!(" ({})", st.pool)
            };
            layers.push((
                format!("{} wait{on}", st.name),
                light,
                st.points.iter().map(|p| (p.0, p.1)).collect(),
            ));
            layers.push((
                format!("{} service", st.name),
                color,
                st.points.iter().map(|p| (p.0, p.2)).collect(),
            ));
        }
        let n = layers.iter().map(|l| l.2.len()).min().unwrap_or(0);
        let stacked =
            |k: usize, i: usize| -> f64 { layers[..=k].iter().map(|l| l.2[i].1).sum::<f64>() };
        let top = layers.len().saturating_sub(1);
        let y = Axis::fit("seconds per visit", (0..n).map(|i| stacked(top, i)), false).seconds();
        let (ylo, yhi) = y.range();
        let title = format!(
            "{}: where the time goes — mean wait and service per stage visit (stacked){}",
            self.class,
            f.reps_note()
        );
        let mut c = frame(root, &title, &x, &y, true)?;
        for k in (0..layers.len()).rev() {
            let pts: Vec<(f64, f64)> = (0..n).map(|i| (layers[k].2[i].0, stacked(k, i))).collect();
            let color = layers[k].1;
            c.draw_series(AreaSeries::new(pts, 0.0, color.filled()).border_style(color))
                .map_err(err)?;
        }
        f.veil_spans(root, &mut c, &x, (ylo, yhi))?;
        // Which pool saturated first.
        let when = |t: f64| match f.start {
            Some(s) => super::super::clock_label(s, t),
            None => super::super::elapsed_label(t),
        };
        let stage_of = |pool: &str| -> String {
            self.stages
                .iter()
                .filter(|s| s.pool == pool)
                .map(|s| s.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let saturated: Vec<String> = self
            .saturation
            .iter()
            .filter_map(|(p, t)| t.map(|t| format!("{p} [{}] at {}", stage_of(p), when(t))))
            .collect();
        let note = if saturated.is_empty() {
            "no pool of these stages saturated (busy ≥ 95% with a queue)".to_string()
        } else {
            format!(
                "first to saturate (busy ≥ 95% with a queue): {}",
                saturated.join(", then ")
            )
        };
        let (xs, ys) = c.plotting_area().get_pixel_range();
        let base = root.get_base_pixel();
        // Right-aligned above the plot: clear of the legend inside it.
        let style = TextStyle::from((FONT, 14).into_font())
            .color(&GREY)
            .pos(Pos::new(HPos::Right, VPos::Bottom));
        root.draw(&Text::new(
            note,
            (xs.end - base.0, ys.start - base.1 - 4),
            style,
        ))
        .map_err(err)?;
        let entries: Vec<LegendEntry> = layers
            .iter()
            .map(|l| LegendEntry::band(l.0.clone(), l.1))
            .collect();
        legend(root, &mut c, &y, &entries)
    }
}
