//! `[[slo]]`: a bound on a metric of a class.

use super::ctx::Ctx;
use super::raw::{RawSlo, Val};
use crate::metric::{Metric, Unit};
use crate::model::SloSpec;
use toml::Spanned;

pub(super) fn build_slo(
    ctx: &mut Ctx<'_>,
    ss: &Spanned<RawSlo>,
    index: usize,
    classes: &[String],
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
                ctx.error(
                    &v.span(),
                    &format!("{key}.class"),
                    format!("unknown class {name:?}; known: all, {}", classes.join(", ")),
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
            ctx.number(v, &k, "a number", |_| true)
        };
        x.map(Some)
    };
    let max = bound(ctx, &s.max, "max");
    let min = bound(ctx, &s.min, "min");
    if s.max.is_none() && s.min.is_none() {
        ctx.error(&span, &key, "missing: expected a bound, `max` or `min`");
    }
    Some(SloSpec {
        class: class?,
        metric: metric?,
        max: max?,
        min: min?,
    })
}
