//! Arrival processes: poisson, profile (daily cycle, spikes, points),
//! trace, explicit, users.

use super::ctx::{Ctx, choice, found, rate_or_zero};
use super::raw::{RawArrivals, Val};
use super::traces::build_trace;
use crate::engine::{SimDuration, SimTime};
use crate::model::{ArrivalSpec, Decay, Diurnal, Interpolation, RateProfile, Spike};
use crate::units::{DURATION_EXPECTED, parse_duration, parse_rate};
use std::collections::HashMap;
use std::ops::Range;
use toml::Spanned;

const PROCESSES: &str = "\"poisson\", \"profile\", \"trace\", \"explicit\", \"users\"";

/// The keys of each process; any other key present is an error.
fn keys_of(process: &str) -> &'static [&'static str] {
    match process {
        "poisson" => &["rate"],
        "explicit" => &["at"],
        "profile" => &["base", "diurnal", "spikes", "points", "interpolation"],
        "trace" => &["file", "format", "column", "interval", "spread", "scale"],
        "users" => &["population", "share"],
        _ => &[],
    }
}

/// Populations by name, for `process = "users"`.
pub(super) type PopulationIndex = HashMap<String, usize>;

/// An arrival process. `populations` is `None` where `users` is not
/// allowed (a population's own signups).
pub(super) fn build_arrivals(
    ctx: &mut Ctx<'_>,
    sa: &Spanned<RawArrivals>,
    key: &str,
    populations: Option<&PopulationIndex>,
) -> Option<ArrivalSpec> {
    let a = sa.get_ref();
    let span = sa.span();
    let pk = format!("{key}.process");
    let pv = ctx.required(&a.process, &span, &pk, &format!("one of {PROCESSES}"))?;
    let process = ctx.string(pv, &pk)?;
    if keys_of(&process).is_empty() || (process == "users" && populations.is_none()) {
        let allowed = if populations.is_some() {
            PROCESSES
        } else {
            "\"poisson\", \"profile\", \"trace\", \"explicit\" (signups cannot come from users)"
        };
        ctx.error(
            &pv.span(),
            &pk,
            format!("expected one of {allowed}, found {process:?}"),
        );
        return None;
    }
    let present: [(&str, bool, Range<usize>); 16] = [
        (
            "rate",
            a.rate.is_some(),
            a.rate.as_ref().map_or(span.clone(), |v| v.span()),
        ),
        (
            "at",
            a.at.is_some(),
            a.at.as_ref().map_or(span.clone(), |v| v.span()),
        ),
        (
            "base",
            a.base.is_some(),
            a.base.as_ref().map_or(span.clone(), |v| v.span()),
        ),
        (
            "diurnal",
            a.diurnal.is_some(),
            a.diurnal.as_ref().map_or(span.clone(), |v| v.span()),
        ),
        ("spikes", a.spikes.is_some(), span.clone()),
        (
            "points",
            a.points.is_some(),
            a.points.as_ref().map_or(span.clone(), |v| v.span()),
        ),
        (
            "interpolation",
            a.interpolation.is_some(),
            a.interpolation.as_ref().map_or(span.clone(), |v| v.span()),
        ),
        (
            "file",
            a.file.is_some(),
            a.file.as_ref().map_or(span.clone(), |v| v.span()),
        ),
        (
            "format",
            a.format.is_some(),
            a.format.as_ref().map_or(span.clone(), |v| v.span()),
        ),
        (
            "column",
            a.column.is_some(),
            a.column.as_ref().map_or(span.clone(), |v| v.span()),
        ),
        (
            "interval",
            a.interval.is_some(),
            a.interval.as_ref().map_or(span.clone(), |v| v.span()),
        ),
        (
            "spread",
            a.spread.is_some(),
            a.spread.as_ref().map_or(span.clone(), |v| v.span()),
        ),
        (
            "scale",
            a.scale.is_some(),
            a.scale.as_ref().map_or(span.clone(), |v| v.span()),
        ),
        (
            "population",
            a.population.is_some(),
            a.population.as_ref().map_or(span.clone(), |v| v.span()),
        ),
        (
            "share",
            a.share.is_some(),
            a.share.as_ref().map_or(span.clone(), |v| v.span()),
        ),
        ("process", true, span.clone()),
    ];
    let allowed = keys_of(&process);
    for (name, is_present, s) in &present {
        if *is_present && *name != "process" && !allowed.contains(name) {
            ctx.error(
                s,
                &format!("{key}.{name}"),
                format!(
                    "`{name}` does not apply to process \"{process}\"; it takes {}",
                    allowed.join(", ")
                ),
            );
        }
    }
    match process.as_str() {
        "poisson" => {
            let rate = ctx
                .required(
                    &a.rate,
                    &span,
                    &format!("{key}.rate"),
                    "a rate like \"7.2/s\"",
                )
                .and_then(|v| ctx.rate(v, &format!("{key}.rate")))?;
            Some(ArrivalSpec::Poisson { rate_per_s: rate })
        }
        "explicit" => build_explicit(ctx, a, &span, key),
        "profile" => build_profile(ctx, a, &span, key).map(ArrivalSpec::Profile),
        "trace" => build_trace(ctx, a, &span, key).map(ArrivalSpec::Trace),
        "users" => {
            let index = populations?;
            let pk = format!("{key}.population");
            let v = ctx.required(&a.population, &span, &pk, "the name of a [[population]]")?;
            let name = ctx.string(v, &pk)?;
            let Some(&population) = index.get(&name) else {
                let mut known: Vec<&String> = index.keys().collect();
                known.sort();
                let known: Vec<&str> = known.iter().map(|s| s.as_str()).collect();
                ctx.error(
                    &v.span(),
                    &pk,
                    format!(
                        "unknown population {name:?}; known: {}",
                        if known.is_empty() {
                            "none".into()
                        } else {
                            known.join(", ")
                        }
                    ),
                );
                return None;
            };
            let share = match &a.share {
                Some(v) => ctx.number(v, &format!("{key}.share"), "a share > 0", |x| x > 0.0)?,
                None => 1.0,
            };
            Some(ArrivalSpec::Users { population, share })
        }
        _ => None,
    }
}

fn build_explicit(
    ctx: &mut Ctx<'_>,
    a: &RawArrivals,
    span: &Range<usize>,
    key: &str,
) -> Option<ArrivalSpec> {
    let v = ctx.required(
        &a.at,
        span,
        &format!("{key}.at"),
        "an array of arrival times, e.g. at = [\"0s\", \"1.5s\"]",
    )?;
    let toml::Value::Array(items) = v.get_ref() else {
        ctx.expected(v, &format!("{key}.at"), "an array of arrival times");
        return None;
    };
    let mut times = Vec::with_capacity(items.len());
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        let parsed = match item {
            toml::Value::String(s) => parse_duration(s),
            _ => None,
        };
        match parsed {
            Some(d) => {
                let t = SimTime(d.0);
                if let Some(&last) = times.last()
                    && t < last
                {
                    ctx.error(
                        &v.span(),
                        &format!("{key}.at.{i}"),
                        format!("expected times in increasing order, found {d} after {last}"),
                    );
                    ok = false;
                }
                times.push(t);
            }
            None => {
                ctx.error(
                    &v.span(),
                    &format!("{key}.at.{i}"),
                    format!("expected {DURATION_EXPECTED}, found {}", found(item)),
                );
                ok = false;
            }
        }
    }
    ok.then_some(ArrivalSpec::Explicit { times })
}

fn build_profile(
    ctx: &mut Ctx<'_>,
    a: &RawArrivals,
    span: &Range<usize>,
    key: &str,
) -> Option<RateProfile> {
    let mut ok = true;
    let base = match &a.base {
        Some(v) => rate_or_zero(ctx, v, &format!("{key}.base")),
        None => Some(0.0),
    };
    let diurnal = match &a.diurnal {
        None => Some(None),
        Some(sd) => {
            let d = sd.get_ref();
            let dk = format!("{key}.diurnal");
            match (&d.hourly, &d.amplitude) {
                (Some(h), amplitude) => {
                    if amplitude.is_some() || d.peak.is_some() {
                        ctx.error(
                            &sd.span(),
                            &dk,
                            "expected either `hourly` or `amplitude` and `peak`, found both",
                        );
                    }
                    let values = match h.get_ref() {
                        toml::Value::Array(items) if items.len() == 24 => items
                            .iter()
                            .map(|x| match x {
                                toml::Value::Float(f) if f.is_finite() && *f >= 0.0 => Some(*f),
                                toml::Value::Integer(i) if *i >= 0 => Some(*i as f64),
                                _ => None,
                            })
                            .collect::<Option<Vec<f64>>>(),
                        _ => None,
                    };
                    if values.is_none() {
                        ctx.expected(
                            h,
                            &format!("{dk}.hourly"),
                            "an array of 24 multipliers ≥ 0, one per hour of the day",
                        );
                    }
                    values.map(|v| Some(Diurnal::Hourly(v)))
                }
                (None, Some(amp)) => {
                    let amplitude = ctx.number(
                        amp,
                        &format!("{dk}.amplitude"),
                        "an amplitude between 0 and 1",
                        |x| (0.0..=1.0).contains(&x),
                    );
                    let peak = match &d.peak {
                        Some(p) => ctx.duration(p, &format!("{dk}.peak")).and_then(|t| {
                            if t.as_secs_f64() < 86_400.0 {
                                Some(t.as_secs_f64())
                            } else {
                                ctx.error(
                                    &p.span(),
                                    &format!("{dk}.peak"),
                                    format!("expected a time of day under 24h, found {t}"),
                                );
                                None
                            }
                        }),
                        None => {
                            ctx.error(&sd.span(), &format!("{dk}.peak"), "missing: expected the time of day of the daily peak, e.g. peak = \"20h\"");
                            None
                        }
                    };
                    match (amplitude, peak) {
                        (Some(amplitude), Some(peak_s)) => {
                            Some(Some(Diurnal::Cosine { amplitude, peak_s }))
                        }
                        _ => None,
                    }
                }
                (None, None) => {
                    ctx.error(
                        &sd.span(),
                        &dk,
                        "expected `amplitude` and `peak`, or `hourly` (24 multipliers)",
                    );
                    None
                }
            }
        }
    };
    let mut spikes = Vec::new();
    for (i, ss) in a.spikes.iter().flatten().enumerate() {
        let s = ss.get_ref();
        let sk = format!("{key}.spikes.{i}");
        let at = ctx
            .required(
                &s.at,
                &ss.span(),
                &format!("{sk}.at"),
                "the start of the spike, e.g. at = \"6h\"",
            )
            .and_then(|v| ctx.duration(v, &format!("{sk}.at")));
        let peak = ctx
            .required(
                &s.peak,
                &ss.span(),
                &format!("{sk}.peak"),
                "the extra rate at the plateau, e.g. peak = \"1M/h\"",
            )
            .and_then(|v| ctx.rate(v, &format!("{sk}.peak")));
        let opt = |ctx: &mut Ctx<'_>, v: &Option<Val>, n: &str| match v {
            Some(v) => ctx.duration(v, &format!("{sk}.{n}")),
            None => Some(SimDuration::ZERO),
        };
        let ramp = opt(ctx, &s.ramp, "ramp");
        let hold = opt(ctx, &s.hold, "hold");
        let decay_len = opt(ctx, &s.decay, "decay");
        let shape = choice(
            ctx,
            &s.shape,
            &format!("{sk}.shape"),
            &["exponential", "linear"],
            "exponential",
        );
        match (at, peak, ramp, hold, decay_len, shape) {
            (Some(at), Some(peak), Some(ramp), Some(hold), Some(decay), Some(shape)) => spikes
                .push(Spike {
                    at_s: at.as_secs_f64(),
                    peak_per_s: peak,
                    ramp_s: ramp.as_secs_f64(),
                    hold_s: hold.as_secs_f64(),
                    decay_s: decay.as_secs_f64(),
                    decay: if shape == "linear" {
                        Decay::Linear
                    } else {
                        Decay::Exponential
                    },
                }),
            _ => ok = false,
        }
    }
    let mut points = Vec::new();
    if let Some(v) = &a.points {
        let pk = format!("{key}.points");
        match v.get_ref() {
            toml::Value::Array(items) if !items.is_empty() => {
                for (i, item) in items.iter().enumerate() {
                    let pair = match item {
                        toml::Value::Array(p) if p.len() == 2 => match (&p[0], &p[1]) {
                            (toml::Value::String(t), toml::Value::String(r)) => {
                                parse_duration(t).zip(parse_rate(r))
                            }
                            _ => None,
                        },
                        _ => None,
                    };
                    match pair {
                        Some((t, r)) => {
                            let t = t.as_secs_f64();
                            if points.last().is_some_and(|&(last, _)| t <= last) {
                                ctx.error(
                                    &v.span(),
                                    &format!("{pk}.{i}"),
                                    "expected points in increasing time order",
                                );
                                ok = false;
                            }
                            points.push((t, r));
                        }
                        None => {
                            ctx.error(&v.span(), &format!("{pk}.{i}"), format!("expected a pair [time, rate] like [\"6h\", \"1M/h\"], found {}", found(item)));
                            ok = false;
                        }
                    }
                }
            }
            _ => {
                ctx.expected(v, &pk, "an array of [time, rate] pairs, e.g. [[\"0h\", \"100/s\"], [\"6h\", \"1M/h\"]]");
                ok = false;
            }
        }
    }
    let interpolation = choice(
        ctx,
        &a.interpolation,
        &format!("{key}.interpolation"),
        &["linear", "step"],
        "linear",
    );
    let profile = RateProfile {
        base_per_s: base?,
        diurnal: diurnal?,
        spikes,
        points,
        interpolation: if interpolation? == "step" {
            Interpolation::Step
        } else {
            Interpolation::Linear
        },
    };
    if !ok {
        return None;
    }
    if profile.base_per_s == 0.0
        && profile.spikes.is_empty()
        && profile.points.iter().all(|p| p.1 == 0.0)
    {
        ctx.error_hint(
            span,
            key,
            "the profile's rate is zero everywhere",
            "give it a `base` rate, `spikes` or `points`",
        );
        return None;
    }
    Some(profile)
}
