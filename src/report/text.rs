//! The summary printed by `surge run`: per class, per pool, and a footer.

use crate::model::{ClassResult, RunResult, Scenario};
use crate::stats::{Estimate, estimate};
use std::fmt::Write;
use std::time::Duration;

/// Seconds with a readable unit: `0`, `850µs`, `12.3ms`, `1.44s`, `12.5m`, `3.2h`.
pub fn format_secs(x: f64) -> String {
    if !x.is_finite() {
        return "-".into();
    }
    let a = x.abs();
    if a == 0.0 {
        "0".into()
    } else if a < 1e-3 {
        format!("{:.0}µs", x * 1e6)
    } else if a < 1.0 {
        format!("{:.1}ms", x * 1e3)
    } else if a < 600.0 {
        format!("{x:.2}s")
    } else if a < 7_200.0 {
        format!("{:.1}m", x / 60.0)
    } else {
        format!("{:.1}h", x / 3600.0)
    }
}

/// An integer with thousands separators, for the printed table only.
pub(crate) fn group(n: f64) -> String {
    let s = format!("{:.0}", n.round());
    let (sign, digits) = s.strip_prefix('-').map_or(("", s.as_str()), |d| ("-", d));
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    format!("{sign}{out}")
}

/// Format an estimate: the mean, and `±half-width` when there are replications.
fn est(e: Option<Estimate>, f: impl Fn(f64) -> String) -> String {
    match e {
        None => "-".into(),
        Some(e) => match e.half_width {
            Some(h) => format!("{} ±{}", f(e.mean), f(h)),
            None => f(e.mean),
        },
    }
}

fn over(runs: &[RunResult], get: impl Fn(&RunResult) -> Option<f64>) -> Option<Estimate> {
    let values: Vec<f64> = runs.iter().filter_map(get).collect();
    estimate(&values)
}

/// A class's histogram of one of its times: `wait`, `latency`, and for
/// serving classes `ttft` and `tpot`.
fn hist<'c>(c: &'c ClassResult, which: &str) -> Option<&'c crate::metrics::DurationHistogram> {
    match which {
        "wait" => Some(&c.wait),
        "latency" => Some(&c.latency),
        "ttft" => c.ttft.as_ref(),
        _ => c.tpot.as_ref(),
    }
}

/// Class `index` of a run, or the `all` row for `None`.
fn class_of(run: &RunResult, index: Option<usize>) -> &ClassResult {
    match index {
        Some(i) => &run.classes[i],
        None => &run.all,
    }
}

/// Render rows as left-aligned first column, right-aligned others.
fn render(rows: &[Vec<String>]) -> String {
    let ncol = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..ncol)
        .map(|c| {
            rows.iter()
                .map(|r| r.get(c).map_or(0, |s| s.chars().count()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            let pad = widths[c] - cell.chars().count();
            if c == 0 {
                line.push_str(cell);
                line.push_str(&" ".repeat(pad));
            } else {
                line.push_str("  ");
                line.push_str(&" ".repeat(pad));
                line.push_str(cell);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// The human-readable summary of one scenario's replications.
pub fn summary_text(scenario: &Scenario, runs: &[RunResult], wall: Duration) -> String {
    let mut out = String::new();
    let n = runs.len();
    let _ = writeln!(
        out,
        "{} — {} replication{}, seed {}, duration {} (warm-up {}){}",
        scenario.name,
        n,
        if n == 1 { "" } else { "s" },
        scenario.seed,
        scenario.duration,
        scenario.warmup,
        if n > 1 {
            "; mean ±95% CI half-width"
        } else {
            ""
        },
    );
    out.push('\n');

    let class_picks: Vec<(String, Option<usize>)> = scenario
        .classes
        .iter()
        .enumerate()
        .map(|(i, c)| (c.name.clone(), Some(i)))
        .chain(std::iter::once(("all".to_string(), None)))
        .collect();

    let has_slo = runs.iter().any(|r| r.all.slo_attainment.is_some());
    let has_setbacks = runs
        .iter()
        .any(|r| r.all.rejected_attempts + r.all.abandoned_attempts + r.all.failed_attempts > 0);
    let mut rows = vec![vec![
        "class".to_string(),
        "arrivals".into(),
        "completed".into(),
        "in system".into(),
        "throughput/s".into(),
    ]];
    if has_setbacks {
        for h in ["rejected", "abandoned", "failed", "attempts/req"] {
            rows[0].push(h.into());
        }
    }
    if has_slo {
        rows[0].push("SLO met".into());
    }
    for (name, pick) in &class_picks {
        let mut row = vec![
            name.clone(),
            est(
                over(runs, |r| {
                    let c = class_of(r, *pick);
                    Some(c.arrivals as f64)
                }),
                group,
            ),
            est(
                over(runs, |r| {
                    let c = class_of(r, *pick);
                    Some(c.completed as f64)
                }),
                group,
            ),
            est(
                over(runs, |r| {
                    let c = class_of(r, *pick);
                    Some(c.in_system as f64)
                }),
                group,
            ),
            est(
                over(runs, |r| {
                    let c = class_of(r, *pick);
                    Some(c.throughput_per_s)
                }),
                |x| format!("{x:.3}"),
            ),
        ];
        if has_setbacks {
            row.push(est(
                over(runs, |r| Some(class_of(r, *pick).rejected as f64)),
                group,
            ));
            row.push(est(
                over(runs, |r| Some(class_of(r, *pick).abandoned as f64)),
                group,
            ));
            row.push(est(
                over(runs, |r| Some(class_of(r, *pick).failed as f64)),
                group,
            ));
            row.push(est(
                over(runs, |r| class_of(r, *pick).attempts_per_request()),
                |x| format!("{x:.2}"),
            ));
        }
        if has_slo {
            row.push(est(
                over(runs, |r| {
                    let c = class_of(r, *pick);
                    c.slo_attainment
                }),
                |x| format!("{:.2}%", x * 100.0),
            ));
        }
        rows.push(row);
    }
    out.push_str(&render(&rows));
    out.push('\n');

    let mut rows = vec![vec![
        "class".to_string(),
        "".into(),
        "mean".into(),
        "p50".into(),
        "p95".into(),
        "p99".into(),
        "p99.9".into(),
    ]];
    for (name, pick) in &class_picks {
        let serving = runs
            .first()
            .is_some_and(|r| class_of(r, *pick).ttft.is_some());
        let times: &[&str] = if serving {
            &["wait", "ttft", "tpot", "latency"]
        } else {
            &["wait", "latency"]
        };
        for &label in times {
            let mut row = vec![name.clone(), label.to_string()];
            row.push(est(
                over(runs, |r| hist(class_of(r, *pick), label)?.mean_s()),
                format_secs,
            ));
            for q in [0.5, 0.95, 0.99, 0.999] {
                row.push(est(
                    over(runs, |r| hist(class_of(r, *pick), label)?.quantile_s(q)),
                    format_secs,
                ));
            }
            rows.push(row);
        }
    }
    out.push_str(&render(&rows));
    out.push('\n');

    let mut rows = vec![vec![
        "pool".to_string(),
        "GPUs".into(),
        "offered ρ".into(),
        "utilization".into(),
        "queue mean".into(),
        "queue max".into(),
        "".into(),
    ]];
    for (i, p) in scenario.pools.iter().enumerate() {
        let rho = runs.first().map_or(0.0, |r| r.pools[i].offered_load);
        rows.push(vec![
            p.name.clone(),
            est(over(runs, |r| Some(r.pools[i].gpus_mean)), |x| {
                format!("{x:.1}")
            }),
            format!("{rho:.3}"),
            est(over(runs, |r| Some(r.pools[i].utilization)), |x| {
                format!("{x:.3}")
            }),
            est(over(runs, |r| Some(r.pools[i].queue_mean)), |x| {
                format!("{x:.2}")
            }),
            est(over(runs, |r| Some(r.pools[i].queue_max as f64)), group),
            // The verdict of the first replication (all of them when
            // they disagree).
            {
                let mut words: Vec<String> = Vec::new();
                for r in runs {
                    let v = &r.pools[i].verdict;
                    let w = if v.kind == crate::model::VerdictKind::Stable {
                        String::new()
                    } else {
                        v.describe()
                    };
                    if !words.contains(&w) {
                        words.push(w);
                    }
                }
                words.retain(|w| !w.is_empty());
                words.join(" | ")
            },
        ]);
    }
    out.push_str(&render(&rows));
    out.push('\n');
    if let Some(table) = serving_table(scenario, runs) {
        out.push_str(&table);
        out.push('\n');
    }

    let requests: u64 = runs.iter().map(|r| r.requests).sum();
    let events: u64 = runs.iter().map(|r| r.events).sum();
    let secs = wall.as_secs_f64();
    let rate = if secs > 0.0 {
        events as f64 / secs
    } else {
        0.0
    };
    let _ = writeln!(
        out,
        "simulated {} requests, {} events in {:.2}s wall ({:.1}M events/s)",
        group(requests as f64),
        group(events as f64),
        secs,
        rate / 1e6
    );
    for r in runs {
        if let Some(s) = &r.stopped {
            let advice = match s.reason {
                crate::model::StopReason::EndOfTime => {
                    "shorten the services, timeouts or drain that reach that far"
                }
                _ => {
                    "the system is overloaded — add capacity, or raise the budget with --max-in-system / --max-events"
                }
            };
            let _ = writeln!(
                out,
                "STOPPED EARLY (replication {}): {}; {advice}",
                r.replication,
                s.describe()
            );
        }
    }
    out
}

/// The serving pools' token-level table, if the scenario has any.
fn serving_table(scenario: &Scenario, runs: &[RunResult]) -> Option<String> {
    let mut rows = vec![vec![
        "serving pool".to_string(),
        "replicas".into(),
        "prefill tok/s".into(),
        "output tok/s".into(),
        "running/replica".into(),
        "KV mean".into(),
        "KV max".into(),
        "preemptions".into(),
    ]];
    for (i, p) in scenario.pools.iter().enumerate() {
        if p.serving.is_none() {
            continue;
        }
        let get = |f: fn(&crate::model::ServingResult) -> f64| {
            over(runs, move |r| r.pools[i].serving.as_ref().map(f))
        };
        let pct = |x: f64| format!("{:.1}%", x * 100.0);
        rows.push(vec![
            p.name.clone(),
            est(get(|s| s.replicas_mean), |x| format!("{x:.1}")),
            est(get(|s| s.prefill_tokens_per_s), group),
            est(get(|s| s.output_tokens_per_s), group),
            est(get(|s| s.running_mean), |x| format!("{x:.1}")),
            est(get(|s| s.kv_utilization), pct),
            est(get(|s| s.kv_utilization_max), pct),
            est(get(|s| s.preemptions as f64), group),
        ]);
    }
    if rows.len() == 1 {
        return None;
    }
    let mut out = render(&rows);
    // Say where a fitted step model ran into the roofline floor.
    for (i, p) in scenario.pools.iter().enumerate() {
        let (steps, floor) = runs.iter().fold((0u64, 0u64), |(a, b), r| {
            r.pools[i]
                .serving
                .as_ref()
                .map_or((a, b), |s| (a + s.steps, b + s.floor_steps))
        });
        if floor > 0 {
            let _ = writeln!(
                out,
                "{}: {:.1}% of steps held at the roofline floor (the fitted step model is faster than the GPUs can run)",
                p.name,
                100.0 * floor as f64 / steps.max(1) as f64
            );
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_read_with_units() {
        assert_eq!(format_secs(0.0), "0");
        assert_eq!(format_secs(0.00085), "850µs");
        assert_eq!(format_secs(0.0123), "12.3ms");
        assert_eq!(format_secs(1.444), "1.44s");
        assert_eq!(format_secs(750.0), "12.5m");
        assert_eq!(format_secs(11_520.0), "3.2h");
    }

    #[test]
    fn groups_thousands() {
        assert_eq!(group(51840.0), "51,840");
        assert_eq!(group(999.0), "999");
        assert_eq!(group(1_000_000.0), "1,000,000");
    }
}
