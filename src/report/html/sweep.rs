//! The report's sweep table: `sweep.csv`'s metrics with their intervals,
//! one duration unit per column, and each point's SLO verdicts.

use super::slo::slo_verdict;
use super::{Kind, SWEEP_ROWS, SloInfo, column_unit, esc, kind_of, number, table};
use crate::metric::Metric;
use crate::report::csvdata::Csv;
use std::fmt::Write;

pub(super) fn sweep_section(out: &mut String, sweep: &Csv, slos: &[SloInfo]) {
    let (Some(c_point), Some(c_class)) = (sweep.col("point"), sweep.col("class")) else {
        return;
    };
    let params: Vec<&str> = sweep
        .headers
        .iter()
        .skip(c_point + 1)
        .take(c_class.saturating_sub(c_point + 1))
        .collect();
    let metrics: [(&str, &str, Kind); 4] = [
        (Metric::LatencyP99.column(), "p99 latency", Kind::Seconds),
        (Metric::WaitMean.column(), "wait mean", Kind::Seconds),
        (Metric::SloAttainment.column(), "SLO met", Kind::Percent),
        (
            Metric::CompletedFraction.column(),
            "completed",
            Kind::Percent,
        ),
    ];
    // The scenario's SLO metrics first, then the usual ones.
    let mut wanted: Vec<(&str, &str, Kind)> = slos
        .iter()
        .filter_map(|s| Metric::parse(&s.metric))
        .map(|m| (m.column(), m.label(), kind_of(m)))
        .collect();
    for m in metrics {
        if !wanted.iter().any(|w| w.0 == m.0) {
            wanted.push(m);
        }
    }
    let metrics: Vec<_> = wanted
        .into_iter()
        .filter(|(m, _, _)| {
            sweep
                .col(&format!("{m}_mean"))
                .is_some_and(|c| sweep.rows.iter().any(|r| !r[c].is_empty()))
        })
        .collect();
    let mut header: Vec<&str> = vec!["point"];
    header.extend(params.iter().copied());
    header.push("class");
    header.push("n");
    header.extend(metrics.iter().map(|m| m.1));
    if !slos.is_empty() {
        header.push("SLOs");
    }
    let c_n = sweep.col("n");
    // One unit per column of durations, from its largest mean.
    let metrics: Vec<(&str, &str, Kind)> = metrics
        .into_iter()
        .map(|(m, label, kind)| match kind {
            Kind::Seconds => {
                let means = sweep.col(&format!("{m}_mean")).into_iter().flat_map(|c| {
                    sweep
                        .rows
                        .iter()
                        .filter_map(move |r| crate::rows::parse_float(&r[c]))
                });
                (m, label, column_unit(means))
            }
            k => (m, label, k),
        })
        .collect();
    let rows: Vec<Vec<String>> = sweep
        .rows
        .iter()
        .take(SWEEP_ROWS)
        .map(|r| {
            let mut row: Vec<String> = (c_point..=c_class).map(|i| esc(&r[i])).collect();
            row.push(c_n.map_or(String::new(), |c| esc(&r[c])));
            for (m, _, kind) in &metrics {
                let get = |s: &str| {
                    sweep
                        .col(&format!("{m}_{s}"))
                        .and_then(|c| crate::rows::parse_float(&r[c]))
                };
                row.push(match (get("mean"), get("ci_low"), get("ci_high")) {
                    (Some(mean), Some(lo), Some(hi)) => format!(
                        "{} <span class=\"ci\">[{}, {}]</span>",
                        esc(&number(*kind, mean)),
                        esc(&number(*kind, lo)),
                        esc(&number(*kind, hi))
                    ),
                    (Some(mean), _, _) => esc(&number(*kind, mean)),
                    _ => "–".into(),
                });
            }
            // The point's verdict on each SLO of this class.
            if !slos.is_empty() {
                let class = &r[c_class];
                let verdicts: Vec<String> = slos
                    .iter()
                    .filter(|s| s.class == class)
                    .filter_map(|s| {
                        let m = Metric::parse(&s.metric)?;
                        let get = |stat: &str| {
                            sweep
                                .col(&format!("{}_{stat}", m.column()))
                                .and_then(|c| crate::rows::parse_float(&r[c]))
                        };
                        let v = slo_verdict(s, get("mean"), get("ci_low"), get("ci_high"));
                        Some(format!("{} {v}", m.label()))
                    })
                    .collect();
                let all_met = verdicts.iter().all(|v| v.ends_with(" met"));
                row.push(if verdicts.is_empty() {
                    "–".into()
                } else if all_met {
                    "all met".into()
                } else {
                    esc(&verdicts.join("; "))
                });
            }
            row
        })
        .collect();
    let _ = writeln!(
        out,
        "<p>Mean over replications with its 95% confidence interval (Student t).{}</p>",
        if sweep.rows.len() > SWEEP_ROWS {
            format!(
                " The first {SWEEP_ROWS} of {} rows; all are in <code>sweep.csv</code>.",
                sweep.rows.len()
            )
        } else {
            String::new()
        }
    );
    table(out, &header, &rows);
}
