//! The run at a glance: every class's p95 latency against its target, and
//! every pool's utilization and queue.

use super::super::{Area, Axis, Chart, Mark, PALETTE, Series, draw_panel};
use super::{Frame, Scope, lines_panel};
use plotters::prelude::*;

/// Every class's p95 latency against its target, and every pool's
/// utilization and queue: the run at a glance.
pub(super) struct Overview<'a> {
    pub(super) classes: Vec<(&'a str, &'a Scope)>,
    pub(super) pools: Vec<(&'a str, &'a Scope)>,
    pub(super) frame: &'a Frame<'a>,
}

impl Chart for Overview<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &Area<DB>) -> Result<(), String> {
        let f = self.frame;
        let panels = root.split_evenly((3, 1));
        let color = |i: usize| PALETTE[i % PALETTE.len()];
        let mut lines = Vec::new();
        let mut marks = f.spans.clone();
        for (i, (name, scope)) in self.classes.iter().enumerate() {
            let shown = scope.latency_filter();
            let mut s = scope.series(name, color(i), |r| if shown(r) { r.p95 } else { None });
            s.band.clear();
            // Classes that share a pool often coincide: every other one dashed.
            s.dashed = i % 2 == 1;
            lines.push(s);
            let target = f
                .info
                .and_then(|info| info.classes.iter().find(|c| c.name == *name))
                .and_then(|c| c.latency_target_s);
            if let Some(t) = target {
                marks.push(Mark::Level {
                    y: t,
                    color: color(i),
                    label: format!("{name} target {}", super::super::seconds_label(t)),
                });
            }
        }
        let title = format!(
            "p95 latency by class (log scale; dashed: latency targets){}",
            if f.replications > 1 {
                format!(" — mean of {} replications", f.replications)
            } else {
                String::new()
            }
        );
        lines_panel(
            &panels[0],
            &title,
            &f.x(false),
            "p95 latency",
            true,
            &lines,
            &marks,
            true,
        )?;
        let util: Vec<Series> = self
            .pools
            .iter()
            .enumerate()
            .map(|(i, (name, scope))| {
                let mut s = scope.series(name, color(i), |r| match (r.busy, r.online) {
                    (Some(b), Some(o)) if o > 0.0 => Some(100.0 * b / o),
                    _ => None,
                });
                s.band.clear();
                s.dashed = i % 2 == 1;
                s
            })
            .collect();
        let y = Axis::linear("utilization (%)", 0.0, 105.0);
        draw_panel(
            &panels[1],
            "utilization by pool (busy ÷ online GPUs)",
            &f.x(false),
            &y,
            &util,
            &f.spans,
        )?;
        let queues: Vec<Series> = self
            .pools
            .iter()
            .enumerate()
            .map(|(i, (name, scope))| {
                let mut s = scope.series(name, color(i), |r| r.queue_mean);
                s.band.clear();
                s.dashed = i % 2 == 1;
                s
            })
            .collect();
        lines_panel(
            &panels[2],
            "waiting requests by pool",
            &f.x(true),
            "requests (mean per bucket)",
            false,
            &queues,
            &f.spans,
            false,
        )
    }
}
