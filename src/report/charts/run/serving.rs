//! A serving pool's chart, from `serving_series.csv`: its running batch
//! and KV cache over time, and the time to first token and per output
//! token of its classes against their targets.

use super::frame::Frame;
use super::lines_panel;
use super::{Area, Axis, BLUE, Chart, GREEN, Mark, ORANGE, PURPLE, RED, Series, draw_panel};
use crate::rows::{self, ServingSeriesRow};
use plotters::prelude::*;
use std::collections::BTreeMap;

/// One scope's buckets: (t, replication) → row.
pub(super) type Buckets = BTreeMap<(i64, u64), ServingSeriesRow>;

/// The serving time series by (kind, name), point 0.
pub(super) fn read(csv: &[u8]) -> Result<BTreeMap<(String, String), Buckets>, String> {
    let rows: Vec<ServingSeriesRow> = rows::read("serving_series.csv", csv)?;
    let mut out: BTreeMap<(String, String), Buckets> = BTreeMap::new();
    for r in rows.into_iter().filter(|r| r.point == 0) {
        let key = ((r.time_s * 1e6).round() as i64, r.replication);
        out.entry((r.scope_kind.clone(), r.scope.clone()))
            .or_default()
            .insert(key, r);
    }
    Ok(out)
}

/// The mean over replications of `f` per bucket start.
fn mean_line(b: &Buckets, f: impl Fn(&ServingSeriesRow) -> Option<f64>) -> Vec<(f64, f64)> {
    let mut by_t: BTreeMap<i64, (f64, f64, u32)> = BTreeMap::new();
    for (&(t, _), r) in b {
        if let Some(v) = f(r).filter(|v| v.is_finite()) {
            let e = by_t.entry(t).or_insert((r.time_s, 0.0, 0));
            e.1 += v;
            e.2 += 1;
        }
    }
    by_t.into_values()
        .map(|(t, sum, n)| (t, sum / f64::from(n)))
        .collect()
}

/// Running batch, KV cache and the classes' TTFT, for one serving pool.
pub(super) struct ServingChart<'a> {
    pub(super) pool: &'a str,
    pub(super) buckets: &'a Buckets,
    /// The pool's classes and their buckets.
    pub(super) classes: Vec<(&'a str, &'a Buckets)>,
    pub(super) frame: &'a Frame<'a>,
}

impl Chart for ServingChart<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &Area<DB>) -> Result<(), String> {
        let f = self.frame;
        let panels = root.split_evenly((4, 1));
        let running = Series::line("", BLUE, mean_line(self.buckets, |r| r.running_mean));
        let title = format!(
            "pool {}: running sequences per replica{}",
            self.pool,
            f.reps_note()
        );
        lines_panel(
            &panels[0],
            &title,
            &f.x(false),
            "sequences (mean per bucket)",
            false,
            &[running],
            &f.spans,
            false,
        )?;
        let pct = |g: fn(&ServingSeriesRow) -> Option<f64>| {
            mean_line(self.buckets, move |r| g(r).map(|x| 100.0 * x))
        };
        let kv = [
            Series::line("mean", PURPLE, pct(|r| r.kv_utilization)),
            Series::line("max", ORANGE, pct(|r| r.kv_utilization_max)),
        ];
        let y = Axis::linear("KV cache held (%)", 0.0, 105.0);
        let title = format!("pool {}: KV cache held", self.pool);
        draw_panel(&panels[1], &title, &f.x(false), &y, &kv, &f.spans)?;
        self.token_panel(&panels[2], Token::Ttft)?;
        self.token_panel(&panels[3], Token::Tpot)
    }
}

/// The two token-level times a serving chart draws per class.
#[derive(Clone, Copy)]
enum Token {
    Ttft,
    Tpot,
}

impl ServingChart<'_> {
    /// Each class's p99 TTFT or TPOT per bucket (buckets of at least 5
    /// such requests), with its target dashed in the class's colour.
    fn token_panel<DB: DrawingBackend>(&self, area: &Area<DB>, token: Token) -> Result<(), String> {
        let f = self.frame;
        let colors = [RED, GREEN, BLUE, ORANGE, PURPLE];
        let mut lines = Vec::new();
        let mut marks = f.spans.clone();
        for (i, &(name, b)) in self.classes.iter().enumerate() {
            let color = colors[i % colors.len()];
            let line = mean_line(b, |r| match token {
                Token::Ttft => r.ttft_p99_s.filter(|_| r.first_tokens >= Some(5.0)),
                Token::Tpot => r.tpot_p99_s,
            });
            if !line.is_empty() {
                lines.push(Series::line(format!("{name} p99"), color, line));
            }
            let info = f
                .info
                .and_then(|info| info.classes.iter().find(|c| c.name == name));
            let target = info.and_then(|c| match token {
                Token::Ttft => c.ttft_target_s,
                Token::Tpot => c.tpot_target_s,
            });
            if let Some(t) = target {
                marks.push(Mark::Level {
                    y: t,
                    // One class: black, apart from its line.
                    color: if self.classes.len() == 1 {
                        BLACK
                    } else {
                        color
                    },
                    label: format!("{name} target {}", super::super::seconds_label(t)),
                });
            }
        }
        let (what, short, last) = match token {
            Token::Ttft => (
                "time to first token of the bucket's first tokens",
                "TTFT p99",
                false,
            ),
            Token::Tpot => (
                "time per output token of the bucket's completions",
                "TPOT p99",
                true,
            ),
        };
        let title = format!("pool {}: {what} (log scale; dashed: targets)", self.pool);
        lines_panel(area, &title, &f.x(last), short, true, &lines, &marks, true)
    }
}
