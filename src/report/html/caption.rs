//! Captions: what each chart shows, from its file name.

use crate::metric::Metric;

/// What a chart shows, from its file name (`latency-image-plus.png`).
pub(super) fn caption(file: &str) -> String {
    let stem = file.rsplit_once('.').map_or(file, |(s, _)| s);
    let metric_label = |column: &str| -> String {
        match column {
            "pool_utilization" => "utilization".into(),
            "pool_queue_mean" => "mean waiting requests".into(),
            "pool_cost_usd" => "GPU cost".into(),
            c => Metric::parse(c).map_or(c.replace('_', " "), |m| m.label().to_string()),
        }
    };
    // `sweep-<column>-<owner>` / `heatmap-<column>-<owner>`: the column
    // is the longest known prefix; the owner as " of <owner>" (or nothing).
    let split = |rest: &str| -> (String, String) {
        let columns = Metric::ALL.iter().map(|m| m.column()).chain([
            "pool_utilization",
            "pool_queue_mean",
            "pool_cost_usd",
        ]);
        let best = columns
            .filter(|c| rest == *c || rest.starts_with(&format!("{c}-")))
            .max_by_key(|c| c.len());
        match best {
            Some(c) => {
                let owner = rest[c.len()..].trim_start_matches('-');
                let who = if owner.is_empty() {
                    String::new()
                } else {
                    format!(" of {owner}")
                };
                (c.to_string(), who)
            }
            None => (rest.to_string(), String::new()),
        }
    };
    if stem == "overview" {
        "The run at a glance: every class's p95 latency against its latency target (dashed), and every pool's utilization and waiting requests.".into()
    } else if let Some(c) = stem.strip_prefix("latency-") {
        format!(
            "Class {c}: new requests and retries per second, and the p50/p95/p99 latency of each time bucket's completions, with its latency target and latency SLOs dashed."
        )
    } else if let Some(c) = stem.strip_prefix("outcomes-") {
        format!(
            "Class {c}: what became of its attempts each second, stacked — completed, rejected (rate limit or shedding), abandoned (patience ran out), failed (GPU failure); deferred requests as a line."
        )
    } else if let Some(c) = stem.strip_prefix("stages-") {
        format!(
            "Class {c}: where the time goes — each workflow stage's mean wait (light) and service (dark) per visit, stacked in stage order, and which stage's pool saturated first (busy ≥ 95% with a queue)."
        )
    } else if let Some(p) = stem.strip_prefix("pool-") {
        format!(
            "Pool {p}: waiting requests, and utilization (busy ÷ online GPUs); online and busy GPUs too when capacity changes."
        )
    } else if let Some(rest) = stem.strip_prefix("sweep-") {
        let (column, who) = split(rest);
        format!(
            "{}{who} against the swept parameter: mean over the replications with its 95% confidence band; SLO bounds dashed.",
            metric_label(&column)
        )
    } else if let Some(rest) = stem.strip_prefix("heatmap-") {
        let (column, who) = split(rest);
        format!(
            "{}{who} over both swept parameters: the mean of the replications in each cell.",
            metric_label(&column)
        )
    } else {
        stem.to_string()
    }
}
