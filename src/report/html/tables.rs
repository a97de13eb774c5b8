//! The run's tables beyond classes and pools: workflow stages, and the
//! classes and replicas of serving pools. Each number is the mean over
//! replications (± its 95% half-width).

use super::{Kind, distinct, esc, estimate_table};
use crate::rows::{ReplicaRow, ServingRow, StageRow};
use crate::stats::{Estimate, estimate};

/// The stages table: one row per (class, stage), in workflow order, each
/// number the mean over replications (± its 95% half-width).
pub(super) fn stage_table(out: &mut String, stages: &[StageRow]) {
    let mut keys: Vec<(&str, &str, &str)> = Vec::new();
    for r in stages {
        let key = (r.class.as_str(), r.stage.as_str(), r.pool.as_str());
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    type Field = fn(&StageRow) -> Option<f64>;
    const COLUMNS: [(&str, Kind, Field); 8] = [
        ("visits", Kind::Count, |r| Some(r.arrivals as f64)),
        ("completed", Kind::Count, |r| Some(r.completed as f64)),
        ("cancelled", Kind::Count, |r| Some(r.cancelled as f64)),
        ("wait mean", Kind::Seconds, |r| r.wait_mean_s),
        ("wait p99", Kind::Seconds, |r| r.wait_p99_s),
        ("service mean", Kind::Seconds, |r| r.service_mean_s),
        ("service p99", Kind::Seconds, |r| r.service_p99_s),
        ("lost", Kind::Count, |r| {
            Some((r.rejected + r.timed_out + r.failed) as f64)
        }),
    ];
    let of = |key: &(&str, &str, &str), f: Field| {
        estimate_of(
            stages,
            |r| (r.class.as_str(), r.stage.as_str(), r.pool.as_str()) == *key,
            f,
        )
    };
    estimate_table(
        out,
        &["class", "stage", "pool"],
        &keys,
        |k| vec![esc(k.0), esc(k.1), esc(k.2)],
        &COLUMNS,
        |k, f| of(k, *f),
    );
}

/// The serving tables: one row per serving class, then one per serving
/// pool, each number the mean over replications (± its 95% half-width).
pub(super) fn serving_tables(out: &mut String, serving: &[ServingRow], replicas: &[ReplicaRow]) {
    let classes = distinct(serving.iter().map(|r| r.class.as_str()));
    type ClassField = fn(&ServingRow) -> Option<f64>;
    const CLASS_COLUMNS: [(&str, Kind, ClassField); 6] = [
        ("first tokens", Kind::Count, |r| Some(r.first_tokens as f64)),
        ("TTFT mean", Kind::Seconds, |r| r.ttft_mean_s),
        ("TTFT p99", Kind::Seconds, |r| r.ttft_p99_s),
        ("TPOT mean", Kind::Seconds, |r| r.tpot_mean_s),
        ("TPOT p99", Kind::Seconds, |r| r.tpot_p99_s),
        ("goodput /s", Kind::Plain(2), |r| Some(r.goodput_per_s)),
    ];
    let pool_of = |c: &str| {
        serving
            .iter()
            .find(|r| r.class == c)
            .map_or(String::new(), |r| esc(&r.pool))
    };
    estimate_table(
        out,
        &["class", "pool"],
        &classes,
        |c| vec![esc(c), pool_of(c)],
        &CLASS_COLUMNS,
        |c, f| estimate_of(serving, |r| r.class == *c, f),
    );
    let pools = distinct(replicas.iter().map(|r| r.pool.as_str()));
    type PoolField = fn(&ReplicaRow) -> Option<f64>;
    const POOL_COLUMNS: [(&str, Kind, PoolField); 7] = [
        ("replicas", Kind::Plain(1), |r| Some(r.replicas_mean)),
        ("prefill tok/s", Kind::Count, |r| {
            Some(r.prefill_tokens_per_s)
        }),
        ("output tok/s", Kind::Count, |r| Some(r.output_tokens_per_s)),
        ("running/replica", Kind::Plain(1), |r| Some(r.running_mean)),
        ("KV mean", Kind::Percent, |r| Some(r.kv_utilization)),
        ("KV max", Kind::Percent, |r| Some(r.kv_utilization_max)),
        ("preemptions", Kind::Count, |r| Some(r.preemptions as f64)),
    ];
    estimate_table(
        out,
        &["serving pool"],
        &pools,
        |p| vec![esc(p)],
        &POOL_COLUMNS,
        |p, f| estimate_of(replicas, |r| r.pool == *p, f),
    );
}

/// The estimate over the `rows` that `keep` keeps of what `f` reads.
fn estimate_of<R>(
    rows: &[R],
    keep: impl Fn(&R) -> bool,
    f: impl Fn(&R) -> Option<f64>,
) -> Option<Estimate> {
    let values: Vec<f64> = rows.iter().filter(|r| keep(r)).filter_map(f).collect();
    estimate(&values)
}
