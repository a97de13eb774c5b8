//! `[[slo]]`: a bound on a metric of a class.

use super::ctx::Ctx;
use super::raw::{RawSlo, Val};
use crate::metric::{Metric, Unit};
use crate::model::SloSpec;
use std::collections::HashMap;
use toml::Spanned;

pub(super) fn build_slo(
    ctx: &mut Ctx<'_>,
    ss: &Spanned<RawSlo>,
    index: usize,
    // Every class the file declares, valid or not: a class with another
    // error is not "unknown" here (no cascade of errors).
    classes: &[String],
    with_target: &[String],
    // The classes on serving pools (which have TTFT and TPOT).
    serving: &[String],
    // The stage names of each workflow class.
    stages: &HashMap<String, Option<Vec<String>>>,
) -> Option<SloSpec> {
    let s = ss.get_ref();
    let span = ss.span();
    let key = format!("slo.{index}");
    let class = ctx
        .required(
            &s.class,
            &span,
            &format!("{key}.class"),
            "a class name or \"all\"",
        )
        .and_then(|v| {
            let name = ctx.string(v, &format!("{key}.class"))?;
            if name == "all" || classes.contains(&name) {
                Some(name)
            } else {
                let mut known = vec!["all".to_string()];
                known.extend(classes.iter().cloned());
                ctx.error(
                    &v.span(),
                    &format!("{key}.class"),
                    format!("unknown class {name:?}; known: {}", known.join(", ")),
                );
                None
            }
        });
    let metric = ctx
        .required(
            &s.metric,
            &span,
            &format!("{key}.metric"),
            "a metric such as \"latency_p99\"",
        )
        .and_then(|v| {
            let m = ctx.string(v, &format!("{key}.metric"))?;
            let metric = Metric::parse(&m);
            if metric.is_none() {
                ctx.error(
                    &v.span(),
                    &format!("{key}.metric"),
                    format!("unknown metric {m:?}; known: {}", Metric::names()),
                );
            }
            metric
        });
    let stage = match &s.stage {
        None => Some(None),
        Some(v) => {
            let k = format!("{key}.stage");
            let name = ctx.string(v, &k);
            match (name, &class) {
                (Some(name), Some(c)) => match stages.get(c) {
                    Some(None) => Some(Some(name)),
                    Some(Some(known)) if known.contains(&name) => Some(Some(name)),
                    Some(Some(known)) => {
                        ctx.error(
                            &v.span(),
                            &k,
                            format!(
                                "unknown stage {name:?} of class {c:?}; known: {}",
                                known.join(", ")
                            ),
                        );
                        None
                    }
                    None => {
                        ctx.error_hint(
                            &v.span(),
                            &k,
                            format!("class {c:?} has no workflow, so no stages"),
                            "bound the class's own metric: remove `stage`",
                        );
                        None
                    }
                },
                _ => None,
            }
        }
    };
    if let (Some(Some(_)), Some(m), Some(v)) = (&stage, metric, &s.metric)
        && !crate::slo::STAGE_METRICS.contains(&m)
    {
        let names: Vec<&str> = crate::slo::STAGE_METRICS.iter().map(|m| m.name()).collect();
        ctx.error(
            &v.span(),
            &format!("{key}.metric"),
            format!(
                "a stage has no {}; a stage SLO bounds one of: {}",
                m.name(),
                names.join(", ")
            ),
        );
    }
    let is_time = metric.is_some_and(|m| m.unit() == Unit::Seconds);
    let known_metric = metric.is_some();
    let bound = |ctx: &mut Ctx<'_>, v: &Option<Val>, name: &str| -> Option<Option<f64>> {
        let Some(v) = v else { return Some(None) };
        if !known_metric {
            return Some(None); // the metric's error says it all
        }
        let k = format!("{key}.{name}");
        let x = if is_time {
            ctx.duration(v, &k).map(|d| d.as_secs_f64())
        } else {
            // A bound inside the metric's range: a share in [0, 1], a count
            // or rate ≥ 0, attempts per request ≥ 1.
            let unit = metric.map_or(Unit::Count, |m| m.unit());
            let (lo, hi) = unit.range();
            let what = match unit {
                Unit::Fraction => "a share from 0 to 1".to_string(),
                Unit::Ratio => "a number ≥ 1".to_string(),
                _ => "a number ≥ 0".to_string(),
            };
            ctx.number(v, &k, &what, |x| x >= lo && x <= hi)
        };
        x.map(Some)
    };
    let max = bound(ctx, &s.max, "max");
    let min = bound(ctx, &s.min, "min");
    if s.max.is_none() && s.min.is_none() {
        ctx.error(&span, &key, "missing: expected a bound, `max` or `min`");
    }
    if let (Some(Some(lo)), Some(Some(hi)), Some(v)) = (min, max, &s.min)
        && lo > hi
    {
        ctx.error(
            &v.span(),
            &format!("{key}.min"),
            format!("expected min ≤ max, found min {lo} > max {hi}: no value can meet both"),
        );
    }
    // slo_attainment exists only for classes with a target.
    if metric == Some(Metric::SloAttainment)
        && let (Some(c), Some(v)) = (&class, &s.metric)
        && !(with_target.contains(c) || (c == "all" && !with_target.is_empty()))
    {
        ctx.error_hint(
            &v.span(),
            &format!("{key}.metric"),
            format!("slo_attainment of class {c:?} does not exist: the class has no latency_target (nor ttft_target or tpot_target)"),
            "give the class a latency_target (e.g. latency_target = \"60s\"), or bound latency_p99 instead",
        );
    }
    if let (Some(m), Some(c), Some(v)) = (metric, &class, &s.metric)
        && m.is_serving()
        && !(serving.contains(c) || (c == "all" && !serving.is_empty()))
    {
        ctx.error_hint(
            &v.span(),
            &format!("{key}.metric"),
            format!("{m} of class {c:?} does not exist: TTFT and TPOT are times of classes on serving pools"),
            "bound latency_p99 or wait_p99 instead, or route the class to a pool with [pool.serving]",
        );
    }
    Some(SloSpec {
        class: class?,
        stage: stage?,
        metric: metric?,
        max: max?,
        min: min?,
    })
}
