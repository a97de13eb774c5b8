//! The report's SLOs: each bound with its unit, the value over the
//! replications and the verdict (met, uncertain, missed).

use super::{SloInfo, cell, esc, kind_of, table};
use crate::metric::Metric;
use crate::rows::SummaryRow;
use crate::stats::{Estimate, estimate};

/// A bound in its metric's unit: `1m`, `99%`, `0.5`.
pub(super) fn bound_text(m: Metric, v: f64) -> String {
    match m.unit() {
        crate::metric::Unit::Seconds => crate::report::charts::seconds_label(v),
        crate::metric::Unit::Fraction => {
            format!("{}%", crate::report::charts::tick_label(v * 100.0))
        }
        _ => crate::report::charts::tick_label(v),
    }
}

/// "image-plus: p99 latency ≤ 1m".
pub(super) fn slo_text(slo: &SloInfo, m: Metric) -> String {
    let mut bounds = Vec::new();
    if let Some(v) = slo.min {
        bounds.push(format!("≥ {}", bound_text(m, v)));
    }
    if let Some(v) = slo.max {
        bounds.push(format!("≤ {}", bound_text(m, v)));
    }
    format!("{}: {} {}", slo.class, m.label(), bounds.join(" and "))
}

/// `met`, `uncertain` (the 95% interval straddles a bound) or `missed`,
/// from the mean and its interval (the mean alone without one).
pub(super) fn slo_verdict(
    slo: &SloInfo,
    mean: Option<f64>,
    lo: Option<f64>,
    hi: Option<f64>,
) -> &'static str {
    let e = mean.map(|mean| Estimate {
        mean,
        std_dev: None,
        half_width: match (lo, hi) {
            (Some(l), Some(h)) => Some((h - l) / 2.0),
            _ => None,
        },
        n: 2,
    });
    match crate::slo::judge(e, slo.max, slo.min) {
        crate::slo::Verdict::Pass => "met",
        crate::slo::Verdict::Warn => "uncertain",
        crate::slo::Verdict::Fail => "missed",
    }
}

/// The run's SLOs: each bound with its unit, the value over the
/// replications and the verdict.
pub(super) fn slo_section(out: &mut String, summary: &[SummaryRow], slos: &[SloInfo]) {
    let rows: Vec<Vec<String>> = slos
        .iter()
        .filter_map(|slo| {
            let m = Metric::parse(&slo.metric)?;
            let values: Vec<f64> = summary
                .iter()
                .filter(|r| r.class == slo.class)
                .filter_map(|r| r.metric(m))
                .collect();
            let e = estimate(&values);
            let verdict = slo_verdict(
                slo,
                e.map(|e| e.mean),
                e.and_then(|e| e.low()),
                e.and_then(|e| e.high()),
            );
            Some(vec![
                esc(&slo_text(slo, m)),
                cell(e, kind_of(m)),
                verdict.to_string(),
            ])
        })
        .collect();
    if rows.is_empty() {
        return;
    }
    out.push_str("<h2>SLOs</h2>\n<p>Each bound on the run's value (mean over replications, with its 95% interval): <b>met</b> when the interval is on the right side, <b>missed</b> when it is all beyond the bound, <b>uncertain</b> when it straddles it.</p>\n");
    table(out, &["SLO", "value", "verdict"], &rows);
}
