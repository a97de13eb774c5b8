//! What every run chart shares: the time axis (where activity ends), the
//! shaded warm-up and drain, the replication count and the targets.

use super::super::{Area, Axis, GREEN, Mark, ORANGE, RED, err, time_axis};
use super::scope::{Row, Scope, Scopes};
use crate::metric::Metric;
use crate::model::StartTime;
use crate::report::RunInfo;
use plotters::prelude::*;

/// What every run chart shares: the time axis, the shaded spans, the
/// replication count and the scenario's targets.
pub(super) struct Frame<'a> {
    pub(super) end: f64,
    pub(super) start: Option<StartTime>,
    pub(super) spans: Vec<Mark>,
    /// Arrivals stop here: arrival lines end at it.
    pub(super) duration: f64,
    pub(super) replications: usize,
    pub(super) info: Option<&'a RunInfo>,
}

impl Frame<'_> {
    pub(super) fn x(&self, labelled: bool) -> Axis {
        let desc = match (labelled, self.start) {
            (false, _) => String::new(),
            (true, Some(s)) => format!("time of day (the run starts {s})"),
            (true, None) => "time since the start".to_string(),
        };
        time_axis(desc, self.end, self.start)
    }

    /// Veil the warm-up and the drain over a stacked chart's opaque bands.
    pub(super) fn veil_spans<'b, DB: DrawingBackend + 'b>(
        &self,
        root: &Area<DB>,
        c: &mut plotters::chart::ChartContext<'b, DB, super::super::Coords>,
        x: &Axis,
        (ylo, yhi): (f64, f64),
    ) -> Result<(), String> {
        for m in &self.spans {
            if let Mark::Span { from, to, label } = m {
                let (from, to) = (x.clamp(*from), x.clamp(*to));
                c.draw_series(std::iter::once(Rectangle::new(
                    [(from, ylo), (to, yhi)],
                    WHITE.mix(0.45).filled(),
                )))
                .map_err(err)?;
                super::super::span_label(root, c, label, from, to, yhi)?;
            }
        }
        Ok(())
    }

    /// " — mean of 4 replications, band: min–max", or nothing for one.
    pub(super) fn reps_note(&self) -> String {
        if self.replications > 1 {
            format!(
                " — mean of {} replications (band: min–max)",
                self.replications
            )
        } else {
            String::new()
        }
    }

    /// Dashed levels on a latency panel: the class's latency target and
    /// its SLO bounds on latency percentiles.
    pub(super) fn latency_marks(&self, class: &str) -> Vec<Mark> {
        let mut marks = self.spans.clone();
        let Some(info) = self.info else {
            return marks;
        };
        if let Some(t) = info
            .classes
            .iter()
            .find(|c| c.name == class)
            .and_then(|c| c.latency_target_s)
        {
            marks.push(Mark::Level {
                y: t,
                color: BLACK,
                label: format!("latency target {}", super::super::seconds_label(t)),
            });
        }
        for slo in info.slos.iter().filter(|s| s.class == class) {
            let color = match Metric::parse(&slo.metric) {
                Some(Metric::LatencyP50) => GREEN,
                Some(Metric::LatencyP95) => ORANGE,
                Some(Metric::LatencyP99) => RED,
                _ => continue,
            };
            if let Some(max) = slo.max {
                marks.push(Mark::Level {
                    y: max,
                    color,
                    label: format!(
                        "SLO: {} over the run ≤ {}",
                        slo.metric.replace('_', " "),
                        super::super::seconds_label(max)
                    ),
                });
            }
        }
        marks
    }
}

/// The frame of a run: the time axis ends where activity ends (the rest
/// of a long drain is empty).
pub(super) fn run_frame<'a>(scopes: &Scopes, info: Option<&'a RunInfo>) -> Frame<'a> {
    let active = |r: &Row| {
        r.arrivals + r.completions + r.queue_mean.unwrap_or(0.0) + r.busy.unwrap_or(0.0) > 0.0
    };
    let rows = || scopes.values().flat_map(Scope::rows);
    let end = rows()
        .filter(|r| active(r))
        .map(|r| r.t + r.width)
        .fold(0.0, f64::max)
        .max(rows().next().map_or(1.0, |r| r.width));
    let last_arrival = rows()
        .filter(|r| r.arrivals > 0.0)
        .map(|r| r.t + r.width)
        .fold(0.0, f64::max);
    let duration = info
        .map(|i| i.duration_s)
        .filter(|d| *d > 0.0)
        .unwrap_or(last_arrival);
    let warmup = info.map_or(0.0, |i| i.warmup_s);
    let mut spans = Vec::new();
    if warmup > 0.0 {
        spans.push(Mark::Span {
            from: 0.0,
            to: warmup,
            label: "warm-up".into(),
        });
    }
    if end > duration * (1.0 + 1e-9) {
        spans.push(Mark::Span {
            from: duration,
            to: end,
            label: "drain".into(),
        });
    }
    let replications = scopes.values().map(|s| s.reps.len()).max().unwrap_or(1);
    Frame {
        end,
        start: info
            .and_then(|i| i.start.as_deref())
            .and_then(StartTime::parse),
        spans,
        duration,
        replications,
        info,
    }
}
