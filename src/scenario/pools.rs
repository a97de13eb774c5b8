//! `[[pool]]`: GPUs, speed and price, capacity schedules, the autoscaler,
//! failures and batching (serving models in `serving.rs`).

use super::ctx::{Ctx, check_unique, entry_key};
use super::distributions::build_dist;
use super::policies::build_policy;
use super::raw::RawCapacityStep;
use super::raw::{RawAutoscale, RawBatching, RawFailures, RawPool, Val};
use crate::engine::SimDuration;
use crate::model::{
    AutoscaleSpec, BatchingSpec, CapacityChange, CapacityStep, DurationDist, FailureSpec,
    PolicySpec, PoolSpec, ScaleTrigger,
};
use crate::units::DURATION_EXPECTED;
use std::ops::Range;
use toml::Spanned;

/// Most GPUs one pool may have (keeps per-pool state bounded).
const MAX_GPUS: i64 = 10_000_000;

/// The pools (`None` where invalid) and the valid names, by index.
pub(super) fn build_pools(
    ctx: &mut Ctx<'_>,
    raw: &[Spanned<RawPool>],
    root_span: &Range<usize>,
) -> (Vec<Option<PoolSpec>>, Vec<Option<String>>) {
    if raw.is_empty() {
        ctx.error_hint(
            &(root_span.start..root_span.start),
            "pool",
            "missing: expected at least one [[pool]]",
            "add [[pool]] with name = \"gpu\" and gpus = 8",
        );
    }
    let mut names = Vec::new();
    let pools = raw
        .iter()
        .enumerate()
        .map(|(i, sp)| {
            let p = sp.get_ref();
            let key = entry_key("pool", &p.name, i);
            let span = sp.span();
            let name = ctx
                .required(&p.name, &span, &format!("{key}.name"), "a pool name")
                .and_then(|v| ctx.name(v, &format!("{key}.name")));
            names.push((
                name.clone(),
                p.name.as_ref().map_or(span.clone(), |v| v.span()),
            ));
            let gpus = ctx
                .required(
                    &p.gpus,
                    &span,
                    &format!("{key}.gpus"),
                    "a number of GPUs, e.g. gpus = 8",
                )
                .and_then(|v| ctx.int(v, &format!("{key}.gpus"), 1, MAX_GPUS))
                .map(|g| g as u32);
            let policy = match &p.policy {
                None => Some(PolicySpec::Fifo),
                Some(v) => build_policy(ctx, v, &format!("{key}.policy")),
            };
            let speed = match &p.speed {
                Some(v) => ctx.number(v, &format!("{key}.speed"), "a number > 0", |x| x > 0.0),
                None => Some(1.0),
            };
            let cost = match &p.cost_per_gpu_hour {
                Some(v) => ctx.number(
                    v,
                    &format!("{key}.cost_per_gpu_hour"),
                    "a number ≥ 0 (US dollars)",
                    |x| x >= 0.0,
                ),
                None => Some(0.0),
            };
            let pool_key = key.clone();
            let capacity = match &p.capacity {
                Some(v) => build_capacity(ctx, v, &format!("{pool_key}.capacity")),
                None => Some(Vec::new()),
            };
            let autoscale = match &p.autoscale {
                Some(a) => {
                    build_autoscale(ctx, a, &format!("{pool_key}.autoscale"), gpus).map(Some)
                }
                None => Some(None),
            };
            let failures = match &p.failures {
                Some(f) => build_failures(ctx, f, &format!("{pool_key}.failures")).map(Some),
                None => Some(None),
            };
            let batching = match &p.batching {
                Some(b) => {
                    if p.failures.is_some() {
                        ctx.error(
                            &b.span(),
                            &format!("{pool_key}.batching"),
                            "batching together with failures is not supported yet: remove one",
                        );
                    }
                    build_batching(ctx, b, &format!("{pool_key}.batching")).map(Some)
                }
                None => Some(None),
            };
            let serving = match &p.serving {
                Some(sv) => {
                    let skey = format!("{pool_key}.serving");
                    for (present, what, hint) in [
                        (
                            p.batching.is_some(),
                            "batching",
                            "remove [pool.batching]: a serving pool batches continuously",
                        ),
                    ] {
                        if present {
                            ctx.error_hint(
                                &sv.span(),
                                &skey,
                                format!("a serving pool with {what} is not supported yet"),
                                hint,
                            );
                        }
                    }
                    super::serving::build_serving(ctx, sv, &skey, gpus).map(Some)
                }
                None => Some(None),
            };
            // Per-replica queues are first come first served: a pool
            // policy that orders or sheds has no queue to act on.
            if let (Some(Some(sv)), Some(pol)) = (&serving, &policy)
                && matches!(sv.router, crate::model::Router::Routed { .. })
                && *pol != PolicySpec::Fifo
            {
                let at = p.policy.as_ref().map_or(span.clone(), |v| v.span());
                ctx.error_hint(
                    &at,
                    &format!("{key}.policy"),
                    "a serving pool with a router keeps a first-come-first-served queue per replica: its policy must be \"fifo\"",
                    "set router = \"central\" (the shared queue, in policy order), or policy = \"fifo\"",
                );
                return None;
            }
            Some(PoolSpec {
                serving: serving?,
                batching: batching?,
                capacity: capacity?,
                autoscale: autoscale?,
                failures: failures?,
                name: name?,
                gpus: gpus?,
                policy: policy?,
                speed: speed?,
                cost_per_gpu_hour: cost?,
            })
        })
        .collect();
    check_unique(ctx, "pool", &names);
    (pools, names.into_iter().map(|(n, _)| n).collect())
}

/// `capacity = [{ at = "12h", gpus = "+1000" }, { at = "20h", gpus = 500 }]`.
pub(super) fn build_capacity(
    ctx: &mut Ctx<'_>,
    v: &Spanned<Vec<Spanned<RawCapacityStep>>>,
    key: &str,
) -> Option<Vec<CapacityStep>> {
    let mut steps = Vec::new();
    let mut ok = true;
    for (i, item) in v.get_ref().iter().enumerate() {
        let k = format!("{key}.{i}");
        let t = item.get_ref();
        let at = match &t.at {
            Some(v) => ctx.duration(v, &format!("{k}.at")),
            None => {
                ctx.error(
                    &item.span(),
                    &format!("{k}.at"),
                    format!("missing: expected {DURATION_EXPECTED}"),
                );
                None
            }
        };
        let change = match &t.gpus {
            Some(g) => {
                let change = match g.get_ref() {
                    toml::Value::Integer(n) if (0..=10_000_000).contains(n) => {
                        Some(CapacityChange::Set(*n as u32))
                    }
                    toml::Value::String(s) if s.starts_with('+') || s.starts_with('-') => s
                        .parse::<i64>()
                        .ok()
                        .filter(|d| d.abs() <= 10_000_000)
                        .map(CapacityChange::Add),
                    _ => None,
                };
                if change.is_none() {
                    ctx.expected(
                        g,
                        &format!("{k}.gpus"),
                        "a number of GPUs (500) or a change (\"+1000\", \"-200\")",
                    );
                }
                change
            }
            None => {
                ctx.error(
                    &item.span(),
                    &format!("{k}.gpus"),
                    "missing: expected a number of GPUs (500) or a change (\"+1000\", \"-200\")",
                );
                None
            }
        };
        match (at, change) {
            (Some(at), Some(change)) => {
                if steps.last().is_some_and(|s: &CapacityStep| at < s.at) {
                    let span = t.at.as_ref().map_or(item.span(), |a| a.span());
                    ctx.error(
                        &span,
                        &format!("{k}.at"),
                        "expected capacity changes in time order",
                    );
                    ok = false;
                }
                steps.push(CapacityStep { at, change });
            }
            _ => ok = false,
        }
    }
    ok.then_some(steps)
}

pub(super) fn build_autoscale(
    ctx: &mut Ctx<'_>,
    sa: &Spanned<RawAutoscale>,
    key: &str,
    gpus: Option<u32>,
) -> Option<AutoscaleSpec> {
    let a = sa.get_ref();
    let span = sa.span();
    let int = |ctx: &mut Ctx<'_>, v: &Option<Val>, n: &str, min: i64| {
        ctx.required(v, &span, &format!("{key}.{n}"), "a number of GPUs")
            .and_then(|v| ctx.int(v, &format!("{key}.{n}"), min, 10_000_000))
            .map(|x| x as u32)
    };
    let min = int(ctx, &a.min, "min", 0);
    let max = int(ctx, &a.max, "max", 1);
    let step = match &a.step {
        Some(v) => ctx
            .int(v, &format!("{key}.step"), 1, 10_000_000)
            .map(|x| x as u32),
        None => Some(1),
    };
    let dur = |ctx: &mut Ctx<'_>, v: &Option<Val>, n: &str, default: SimDuration| match v {
        Some(v) => ctx.duration(v, &format!("{key}.{n}")),
        None => Some(default),
    };
    let provision_delay = dur(
        ctx,
        &a.provision_delay,
        "provision_delay",
        SimDuration::ZERO,
    );
    let cooldown = dur(ctx, &a.cooldown, "cooldown", SimDuration::ZERO);
    let interval = match &a.interval {
        Some(v) => ctx.positive_duration(v, &format!("{key}.interval")),
        None => Some(SimDuration::from_secs(60)),
    };
    let trigger = match &a.trigger {
        None => {
            ctx.error(
                &span,
                &format!("{key}.trigger"),
                "missing: expected trigger = { utilization = 0.8 } or { queue_per_gpu = 4 }",
            );
            None
        }
        Some(t) => {
            let tr = t.get_ref();
            match (&tr.utilization, &tr.queue_per_gpu) {
                (Some(u), None) => ctx
                    .number(
                        u,
                        &format!("{key}.trigger.utilization"),
                        "a utilization in (0, 1]",
                        |x| x > 0.0 && x <= 1.0,
                    )
                    .map(ScaleTrigger::Utilization),
                (None, Some(q)) => ctx
                    .number(
                        q,
                        &format!("{key}.trigger.queue_per_gpu"),
                        "a number > 0 of waiting requests per GPU",
                        |x| x > 0.0,
                    )
                    .map(ScaleTrigger::QueuePerGpu),
                _ => {
                    ctx.error(
                        &t.span(),
                        &format!("{key}.trigger"),
                        "expected exactly one of `utilization` and `queue_per_gpu`",
                    );
                    None
                }
            }
        }
    };
    let (min, max) = (min?, max?);
    if min > max {
        ctx.error(
            &span,
            &format!("{key}.max"),
            format!("expected max ≥ min, found max {max} < min {min}"),
        );
        return None;
    }
    if let Some(g) = gpus
        && !(min..=max).contains(&g)
    {
        ctx.error(
            &span,
            key,
            format!("the pool's {g} GPUs are outside the autoscaler's range [{min}, {max}]"),
        );
        return None;
    }
    Some(AutoscaleSpec {
        min,
        max,
        step: step?,
        provision_delay: provision_delay?,
        cooldown: cooldown?,
        interval: interval?,
        trigger: trigger?,
    })
}

pub(super) fn build_failures(
    ctx: &mut Ctx<'_>,
    sf: &Spanned<RawFailures>,
    key: &str,
) -> Option<FailureSpec> {
    let f = sf.get_ref();
    let mtbf = ctx
        .required(
            &f.mtbf,
            &sf.span(),
            &format!("{key}.mtbf"),
            "the mean time between failures of one GPU, e.g. mtbf = \"2000h\"",
        )
        .and_then(|v| ctx.positive_duration(v, &format!("{key}.mtbf")));
    let mttr = match (&f.mttr, &f.repair) {
        (Some(v), None) => ctx
            .positive_duration(v, &format!("{key}.mttr"))
            .and_then(|d| DurationDist::exponential(d.as_secs_f64()).ok()),
        (None, Some(d)) => build_dist(ctx, d, &format!("{key}.repair")),
        _ => {
            ctx.error(&sf.span(), &format!("{key}.mttr"), "expected exactly one of `mttr` (an exponential mean, e.g. \"4h\") and `repair` (a distribution)");
            None
        }
    };
    Some(FailureSpec {
        mtbf: mtbf?,
        mttr: mttr?,
    })
}

pub(super) fn build_batching(
    ctx: &mut Ctx<'_>,
    sb: &Spanned<RawBatching>,
    key: &str,
) -> Option<BatchingSpec> {
    let b = sb.get_ref();
    let span = sb.span();
    let max_batch = ctx
        .required(
            &b.max_batch,
            &span,
            &format!("{key}.max_batch"),
            "the most requests per batch, e.g. max_batch = 8",
        )
        .and_then(|v| ctx.int(v, &format!("{key}.max_batch"), 1, 100_000))
        .map(|n| n as u32);
    let base = ctx
        .required(
            &b.base,
            &span,
            &format!("{key}.base"),
            "the fixed time of a batch, e.g. base = \"2s\"",
        )
        .and_then(|v| ctx.duration(v, &format!("{key}.base")));
    let per_item = ctx
        .required(
            &b.per_item,
            &span,
            &format!("{key}.per_item"),
            "the time per request, e.g. per_item = \"500ms\"",
        )
        .and_then(|v| ctx.duration(v, &format!("{key}.per_item")));
    let max_wait = match &b.max_wait {
        Some(v) => ctx.duration(v, &format!("{key}.max_wait")),
        None => Some(SimDuration::ZERO),
    };
    let (base, per_item) = (base?, per_item?);
    if base == SimDuration::ZERO && per_item == SimDuration::ZERO {
        ctx.error(
            &span,
            key,
            "a batch must take time: `base` and `per_item` are both 0",
        );
        return None;
    }
    Some(BatchingSpec {
        max_batch: max_batch?,
        base_s: base.as_secs_f64(),
        per_item_s: per_item.as_secs_f64(),
        max_wait: max_wait?,
    })
}
