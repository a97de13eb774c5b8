//! Validation of the workload keys: arrival processes (poisson, profile,
//! trace, explicit, users), user populations, and client behaviour
//! (patience, retries, rate limits).

use super::raw::{
    RawArrivals, RawAutoscale, RawBackoff, RawBatching, RawClass, RawDist, RawFailures, RawLimit,
    RawPopulation, RawRetry, Val,
};
use super::units::{DURATION_EXPECTED, RATE_EXPECTED, parse_duration, parse_rate};
use super::validate::{Ctx, build_dist, check_unique, entry_key, found};
use crate::engine::{SimDuration, SimTime};
use crate::model::{
    ArrivalSpec, AutoscaleSpec, BatchingSpec, CapacityChange, CapacityStep, CountDist, Decay,
    Diurnal, DurationDist, FailureSpec, Interpolation, LimitSpec, PolicySpec, PoolSpec,
    PopulationSpec, RateProfile, RetrySpec, ReturnSpec, ScaleTrigger, Spike, Spread, TraceSpec,
};
use std::collections::HashMap;
use std::ops::Range;
use std::path::Path;
use toml::Spanned;

/// Most arrivals a trace file may hold (timestamps mode).
const MAX_TRACE_ROWS: usize = 50_000_000;

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

/// A rate that may be zero (a profile's baseline).
fn rate_or_zero(ctx: &mut Ctx<'_>, v: &Val, key: &str) -> Option<f64> {
    if let toml::Value::String(s) = v.get_ref()
        && let Some(r) = parse_rate(s)
    {
        return Some(r);
    }
    ctx.error(
        &v.span(),
        key,
        format!(
            "expected {RATE_EXPECTED} (≥ 0), found {}",
            found(v.get_ref())
        ),
    );
    None
}

fn choice<'c>(
    ctx: &mut Ctx<'_>,
    v: &Option<Val>,
    key: &str,
    options: &[&'c str],
    default: &'c str,
) -> Option<&'c str> {
    let Some(v) = v else { return Some(default) };
    let s = ctx.string(v, key)?;
    match options.iter().find(|o| **o == s) {
        Some(o) => Some(o),
        None => {
            let list: Vec<String> = options.iter().map(|o| format!("{o:?}")).collect();
            ctx.error(
                &v.span(),
                key,
                format!("expected one of {}, found {s:?}", list.join(", ")),
            );
            None
        }
    }
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

/// A cell of a trace file: a number of seconds or a duration with a unit.
fn trace_time(cell: &str) -> Option<f64> {
    cell.parse::<f64>()
        .ok()
        .filter(|x| x.is_finite() && *x >= 0.0)
        .or_else(|| parse_duration(cell).map(|d| d.as_secs_f64()))
}

fn build_trace(
    ctx: &mut Ctx<'_>,
    a: &RawArrivals,
    span: &Range<usize>,
    key: &str,
) -> Option<TraceSpec> {
    let fk = format!("{key}.file");
    let fv = ctx.required(&a.file, span, &fk, "the path of a CSV trace")?;
    let path = ctx.string(fv, &fk)?;
    let format = choice(
        ctx,
        &a.format,
        &format!("{key}.format"),
        &["timestamps", "counts"],
        "timestamps",
    )?;
    let scale = match &a.scale {
        Some(v) => ctx.number(v, &format!("{key}.scale"), "a load multiplier > 0", |x| {
            x > 0.0
        })?,
        None => 1.0,
    };
    let spread = choice(
        ctx,
        &a.spread,
        &format!("{key}.spread"),
        &["uniform", "poisson"],
        "poisson",
    )?;
    if format == "timestamps" {
        for (name, v) in [("interval", &a.interval), ("spread", &a.spread)] {
            if let Some(v) = v {
                ctx.error(
                    &v.span(),
                    &format!("{key}.{name}"),
                    format!("`{name}` applies to format \"counts\" only"),
                );
            }
        }
    }
    let interval = match &a.interval {
        Some(v) => Some(ctx.positive_duration(v, &format!("{key}.interval"))?),
        None => None,
    };
    let column = match &a.column {
        Some(v) => Some(ctx.string(v, &format!("{key}.column"))?),
        None => None,
    };
    let full = ctx.base_dir().join(&path);
    let text = match std::fs::read_to_string(&full) {
        Ok(t) => t,
        Err(e) => {
            ctx.error_hint(
                &fv.span(),
                &fk,
                format!("cannot read {}: {e}", full.display()),
                "paths are relative to the scenario file's folder",
            );
            return None;
        }
    };
    let table = match read_csv(
        &full,
        &text,
        column.as_deref(),
        if format == "counts" { 2 } else { 1 },
    ) {
        Ok(t) => t,
        Err(message) => {
            ctx.error(&fv.span(), &fk, message);
            return None;
        }
    };
    let shown = full.display().to_string();
    if format == "timestamps" {
        let mut times: Vec<SimTime> = Vec::with_capacity(table.len());
        for (line, col, cells) in &table {
            let Some(t) = trace_time(&cells[0]) else {
                ctx.error(&fv.span(), &fk, format!("{shown}:{line}:{col}: expected a time (seconds or a duration like \"1.5s\"), found {:?}", cells[0]));
                return None;
            };
            let t = SimTime(SimDuration::from_secs_f64(t).0);
            if let Some(&last) = times.last()
                && t < last
            {
                ctx.error_hint(&fv.span(), &fk, format!("{shown}:{line}:{col}: expected timestamps in increasing order, found {t} after {last}"), "sort the file by time");
                return None;
            }
            times.push(t);
        }
        if times.is_empty() {
            ctx.error(
                &fv.span(),
                &fk,
                format!("{shown}: expected at least one timestamp, found none"),
            );
            return None;
        }
        return Some(TraceSpec::Times {
            times: times.into(),
            scale,
        });
    }
    let mut starts: Vec<SimTime> = Vec::with_capacity(table.len());
    let mut counts: Vec<f64> = Vec::with_capacity(table.len());
    for (line, col, cells) in &table {
        let Some(t) = trace_time(&cells[0]) else {
            ctx.error(&fv.span(), &fk, format!("{shown}:{line}:{col}: expected an interval start (seconds or a duration), found {:?}", cells[0]));
            return None;
        };
        let count = cells[1]
            .parse::<f64>()
            .ok()
            .filter(|c| c.is_finite() && *c >= 0.0);
        let Some(count) = count else {
            ctx.error(
                &fv.span(),
                &fk,
                format!(
                    "{shown}:{line}:{}: expected a count ≥ 0, found {:?}",
                    col + 1,
                    cells[1]
                ),
            );
            return None;
        };
        let t = SimTime(SimDuration::from_secs_f64(t).0);
        if let Some(&last) = starts.last()
            && t <= last
        {
            ctx.error(&fv.span(), &fk, format!("{shown}:{line}:{col}: expected interval starts in increasing order, found {t} after {last}"));
            return None;
        }
        starts.push(t);
        counts.push(count);
    }
    let width = match interval {
        Some(w) => w,
        None if starts.len() >= 2 => starts[1] - starts[0],
        None => {
            ctx.error(
                span,
                &format!("{key}.interval"),
                "missing: a single-row counts trace needs `interval`, e.g. interval = \"1m\"",
            );
            return None;
        }
    };
    if let Some(pair) = starts.windows(2).find(|w| w[1] - w[0] < width) {
        ctx.error(
            &fv.span(),
            &fk,
            format!(
                "{shown}: intervals overlap: {} starts less than {width} after {}",
                pair[1], pair[0]
            ),
        );
        return None;
    }
    Some(TraceSpec::Counts {
        starts: starts.into(),
        width,
        counts: counts.into(),
        scale,
        spread: if spread == "uniform" {
            Spread::Uniform
        } else {
            Spread::Poisson
        },
    })
}

/// Rows of a CSV: (line, column of the first used cell, cells). The first
/// row is a header if its first cell is not a time. `column` picks the
/// time column by header name (default: the first); with `width` 2 the
/// count is the column after it.
#[allow(clippy::type_complexity)]
fn read_csv(
    path: &Path,
    text: &str,
    column: Option<&str>,
    width: usize,
) -> Result<Vec<(usize, usize, Vec<String>)>, String> {
    let shown = path.display();
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .comment(Some(b'#'))
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let mut rows = Vec::new();
    let mut index = 0usize;
    let mut first = true;
    for record in reader.records() {
        let record = record.map_err(|e| format!("{shown}: not valid CSV: {e}"))?;
        let line = record.position().map_or(0, |p| p.line() as usize);
        if record.iter().all(str::is_empty) {
            continue;
        }
        if first {
            first = false;
            let is_header = record.get(0).is_none_or(|c| trace_time(c).is_none());
            if let Some(name) = column {
                if !is_header {
                    return Err(format!(
                        "{shown}:{line}: `column = {name:?}` needs a header row, found none"
                    ));
                }
                index = record.iter().position(|c| c == name).ok_or_else(|| {
                    format!(
                        "{shown}:{line}: no column {name:?}; found {}",
                        record.iter().collect::<Vec<_>>().join(", ")
                    )
                })?;
            }
            if is_header {
                continue;
            }
        }
        if rows.len() >= MAX_TRACE_ROWS {
            return Err(format!(
                "{shown}: more than {MAX_TRACE_ROWS} rows; use format = \"counts\""
            ));
        }
        let cells: Option<Vec<String>> = (index..index + width)
            .map(|i| record.get(i).map(str::to_string))
            .collect();
        let Some(cells) = cells else {
            return Err(format!(
                "{shown}:{line}: expected {} column(s) from column {}, found {}",
                width,
                index + 1,
                record.len()
            ));
        };
        rows.push((line, index + 1, cells));
    }
    Ok(rows)
}

/// A distribution of whole numbers.
fn build_count(ctx: &mut Ctx<'_>, sd: &Spanned<RawDist>, key: &str) -> Option<CountDist> {
    let d = sd.get_ref();
    let span = sd.span();
    const KINDS: &str = "\"deterministic\", \"poisson\", \"geometric\", \"uniform\"";
    let dv = ctx.required(
        &d.dist,
        &span,
        &format!("{key}.dist"),
        &format!("one of {KINDS}"),
    )?;
    let kind = ctx.string(dv, &format!("{key}.dist"))?;
    let uses: &[&str] = match kind.as_str() {
        "deterministic" => &["value"],
        "poisson" | "geometric" => &["mean"],
        "uniform" => &["min", "max"],
        other => {
            ctx.error(
                &dv.span(),
                &format!("{key}.dist"),
                format!("expected one of {KINDS} (a count), found {other:?}"),
            );
            return None;
        }
    };
    for (name, v) in [
        ("mean", &d.mean),
        ("value", &d.value),
        ("k", &d.k),
        ("cv", &d.cv),
        ("alpha", &d.alpha),
        ("min", &d.min),
        ("max", &d.max),
        ("file", &d.file),
    ] {
        if let Some(v) = v
            && !uses.contains(&name)
        {
            ctx.error(
                &v.span(),
                &format!("{key}.{name}"),
                format!("`{name}` does not apply to dist \"{kind}\""),
            );
        }
    }
    let int = |ctx: &mut Ctx<'_>, v: &Option<Val>, n: &str| {
        ctx.required(v, &span, &format!("{key}.{n}"), "a whole number ≥ 0")
            .and_then(|v| ctx.int(v, &format!("{key}.{n}"), 0, 1_000_000))
            .map(|x| x as u32)
    };
    match kind.as_str() {
        "deterministic" => Some(CountDist::Deterministic(int(ctx, &d.value, "value")?)),
        "poisson" | "geometric" => {
            let mean = ctx
                .required(&d.mean, &span, &format!("{key}.mean"), "a mean ≥ 0")
                .and_then(|v| {
                    ctx.number(
                        v,
                        &format!("{key}.mean"),
                        "a mean number of requests ≥ 0 (a plain number)",
                        |x| (0.0..=1e6).contains(&x),
                    )
                })?;
            Some(if kind == "poisson" {
                CountDist::Poisson(mean)
            } else {
                CountDist::Geometric(mean)
            })
        }
        _ => {
            let (min, max) = (int(ctx, &d.min, "min"), int(ctx, &d.max, "max"));
            let (min, max) = (min?, max?);
            if max < min {
                ctx.error(
                    &span,
                    &format!("{key}.max"),
                    format!("expected max ≥ min, found max {max} < min {min}"),
                );
                return None;
            }
            Some(CountDist::Uniform(min, max))
        }
    }
}

/// Every `[[population]]`, and the index of the valid names.
pub(super) fn build_populations(
    ctx: &mut Ctx<'_>,
    raw: &[Spanned<RawPopulation>],
) -> (Vec<Option<PopulationSpec>>, PopulationIndex) {
    let mut names = Vec::new();
    let mut index = PopulationIndex::new();
    let pops = raw
        .iter()
        .enumerate()
        .map(|(i, sp)| {
            let p = sp.get_ref();
            let key = entry_key("population", &p.name, i);
            let span = sp.span();
            let name = ctx
                .required(&p.name, &span, &format!("{key}.name"), "a population name")
                .and_then(|v| ctx.name(v, &format!("{key}.name")));
            names.push((name.clone(), p.name.as_ref().map_or(span.clone(), |v| v.span())));
            if let Some(n) = &name {
                index.entry(n.clone()).or_insert(i);
            }
            let signups = ctx
                .required(&p.signups, &span, &format!("{key}.signups"), "e.g. signups = { process = \"poisson\", rate = \"1M/h\" }")
                .and_then(|a| build_arrivals(ctx, a, &format!("{key}.signups"), None));
            let requests = ctx
                .required(&p.requests, &span, &format!("{key}.requests"), "requests per session, e.g. requests = { dist = \"geometric\", mean = 5 }")
                .and_then(|d| build_count(ctx, d, &format!("{key}.requests")));
            let think = match &p.think {
                Some(d) => build_dist(ctx, d, &format!("{key}.think")),
                None => DurationDist::deterministic(0.0).ok(),
            };
            let returns = match &p.returns {
                None => Some(None),
                Some(sr) => {
                    let r = sr.get_ref();
                    let rk = format!("{key}.returns");
                    let probability = ctx
                        .required(&r.probability, &sr.span(), &format!("{rk}.probability"), "a probability in [0, 1)")
                        .and_then(|v| ctx.number(v, &format!("{rk}.probability"), "a probability in [0, 1)", |x| (0.0..1.0).contains(&x)));
                    let after = ctx
                        .required(&r.after, &sr.span(), &format!("{rk}.after"), "the delay before a return visit, e.g. after = { dist = \"deterministic\", value = \"1d\" }")
                        .and_then(|d| build_dist(ctx, d, &format!("{rk}.after")));
                    match (probability, after) {
                        (Some(probability), Some(after)) => Some(Some(ReturnSpec { probability, after })),
                        _ => None,
                    }
                }
            };
            Some(PopulationSpec {
                name: name?,
                signups: signups?,
                requests: requests?,
                think: think?,
                returns: returns?,
            })
        })
        .collect();
    check_unique(ctx, "population", &names);
    (pops, index)
}

pub(super) fn build_retry(
    ctx: &mut Ctx<'_>,
    sr: &Spanned<RawRetry>,
    key: &str,
) -> Option<RetrySpec> {
    let r = sr.get_ref();
    let max_attempts =
        ctx.required(
            &r.max_attempts,
            &sr.span(),
            &format!("{key}.max_attempts"),
            "the number of attempts in all, e.g. max_attempts = 3",
        )
        .and_then(|v| ctx.int(v, &format!("{key}.max_attempts"), 1, 1000))? as u32;
    let empty = RawBackoff {
        base: None,
        factor: None,
        max: None,
        jitter: None,
    };
    let b = r.backoff.as_ref().map_or(&empty, |b| b.get_ref());
    let bk = format!("{key}.backoff");
    let dur = |ctx: &mut Ctx<'_>, v: &Option<Val>, n: &str, default: f64| match v {
        Some(v) => ctx
            .duration(v, &format!("{bk}.{n}"))
            .map(|d| d.as_secs_f64()),
        None => Some(default),
    };
    let base = dur(ctx, &b.base, "base", 1.0);
    let max = dur(ctx, &b.max, "max", 60.0);
    let factor = match &b.factor {
        Some(v) => ctx.number(v, &format!("{bk}.factor"), "a growth factor ≥ 1", |x| {
            (1.0..=100.0).contains(&x)
        }),
        None => Some(2.0),
    };
    let jitter = match &b.jitter {
        Some(v) => ctx.number(
            v,
            &format!("{bk}.jitter"),
            "a jitter between 0 and 1",
            |x| (0.0..=1.0).contains(&x),
        ),
        None => Some(1.0),
    };
    Some(RetrySpec {
        max_attempts,
        base_s: base?,
        factor: factor?,
        max_s: max?,
        jitter: jitter?,
    })
}

pub(super) fn build_limit(
    ctx: &mut Ctx<'_>,
    sl: &Spanned<RawLimit>,
    key: &str,
    from_users: bool,
) -> Option<LimitSpec> {
    let l = sl.get_ref();
    let rate = ctx
        .required(
            &l.rate,
            &sl.span(),
            &format!("{key}.rate"),
            "a refill rate like \"3/d\"",
        )
        .and_then(|v| ctx.rate(v, &format!("{key}.rate")));
    let burst = match &l.burst {
        Some(v) => ctx.number(v, &format!("{key}.burst"), "a bucket size ≥ 1", |x| {
            x >= 1.0
        }),
        None => Some(1.0),
    };
    let per = choice(
        ctx,
        &l.per,
        &format!("{key}.per"),
        &["class", "user"],
        "class",
    );
    if per == Some("user") && !from_users {
        let span = l.per.as_ref().map_or(sl.span(), |v| v.span());
        ctx.error_hint(
            &span,
            &format!("{key}.per"),
            "a per-user limit needs a class whose arrivals come from users",
            "use arrivals = { process = \"users\", population = … }, or per = \"class\"",
        );
        return None;
    }
    Some(LimitSpec {
        rate_per_s: rate?,
        burst: burst?,
        per_user: per? == "user",
    })
}

const POLICIES: &str = "\"fifo\", \"priority\", \"fair\", { kind = \"deferral\", … }, { kind = \"shed\", … }, { kind = \"custom\", name = … }";

/// `policy = "fifo"`, or a table `{ kind = "shed", max_queue = 100 }`. The
/// classes of a `shed` policy are resolved by [`resolve_shed_classes`].
pub(super) fn build_policy(ctx: &mut Ctx<'_>, v: &Val, key: &str) -> Option<PolicySpec> {
    let span = v.span();
    let (kind, table) = match v.get_ref() {
        toml::Value::String(s) => (s.clone(), None),
        toml::Value::Table(t) => match t.get("kind") {
            Some(toml::Value::String(k)) => (k.clone(), Some(t)),
            _ => {
                ctx.error(
                    &span,
                    &format!("{key}.kind"),
                    format!("missing: expected kind = one of {POLICIES}"),
                );
                return None;
            }
        },
        other => {
            ctx.error(
                &span,
                key,
                format!("expected one of {POLICIES}, found {}", found(other)),
            );
            return None;
        }
    };
    let allowed: &[&str] = match kind.as_str() {
        "fifo" | "priority" | "fair" => &["kind"],
        "custom" => &["kind", "name"],
        "deferral" => &["kind", "threshold", "reserved"],
        "shed" => &["kind", "max_queue", "max_wait", "classes"],
        other => {
            ctx.error(
                &span,
                key,
                format!("expected one of {POLICIES}, found {other:?}"),
            );
            return None;
        }
    };
    let empty = toml::Table::new();
    let t = table.unwrap_or(&empty);
    for k in t.keys() {
        if !allowed.contains(&k.as_str()) {
            ctx.error(
                &span,
                &format!("{key}.{k}"),
                format!(
                    "`{k}` does not apply to policy \"{kind}\"; it takes {}",
                    allowed.join(", ")
                ),
            );
        }
    }
    // Values inside an inline table share the table's position.
    let val = |name: &str| t.get(name).map(|x| Spanned::new(span.clone(), x.clone()));
    match kind.as_str() {
        "fifo" => Some(PolicySpec::Fifo),
        "custom" => {
            let name = match val("name") {
                Some(v) => ctx.string(&v, &format!("{key}.name"))?,
                None => {
                    ctx.error(
                        &span,
                        &format!("{key}.name"),
                        "missing: expected the name the policy is registered under",
                    );
                    return None;
                }
            };
            if let Some(known) = ctx.custom_policies
                && !known.contains(&name.as_str())
            {
                ctx.error_hint(
                    &span,
                    &format!("{key}.name"),
                    format!(
                        "custom policy {name:?} is not registered; registered: {}",
                        if known.is_empty() { "none".to_string() } else { known.join(", ") }
                    ),
                    "custom policies are registered from Rust with surge::Simulation::policy; the surge command has none",
                );
                return None;
            }
            Some(PolicySpec::Custom { name })
        }
        "priority" => Some(PolicySpec::Priority),
        "fair" => Some(PolicySpec::Fair),
        "deferral" => {
            let threshold = match val("threshold") {
                Some(v) => ctx.duration(&v, &format!("{key}.threshold")),
                None => {
                    ctx.error(&span, &format!("{key}.threshold"), "missing: expected the predicted wait beyond which deferrable requests are deferred, e.g. threshold = \"30s\"");
                    None
                }
            };
            let reserved = match val("reserved") {
                Some(v) => ctx.number(
                    &v,
                    &format!("{key}.reserved"),
                    "a share of GPUs between 0 and 1",
                    |x| (0.0..=1.0).contains(&x),
                ),
                None => Some(0.0),
            };
            Some(PolicySpec::Deferral {
                threshold: threshold?,
                reserved: reserved?,
            })
        }
        _ => {
            let max_queue = val("max_queue").map(|v| {
                ctx.int(&v, &format!("{key}.max_queue"), 0, i64::MAX)
                    .map(|q| q as u64)
            });
            let max_wait = val("max_wait").map(|v| ctx.duration(&v, &format!("{key}.max_wait")));
            if max_queue.is_none() && max_wait.is_none() {
                ctx.error(
                    &span,
                    key,
                    "a shed policy needs `max_queue` and/or `max_wait`",
                );
                return None;
            }
            if let Some(v) = val("classes")
                && !matches!(v.get_ref(), toml::Value::Array(a) if a.iter().all(|x| x.is_str()))
            {
                ctx.expected(&v, &format!("{key}.classes"), "an array of class names");
                return None;
            }
            Some(PolicySpec::Shed {
                max_queue: match max_queue {
                    Some(q) => Some(q?),
                    None => None,
                },
                max_wait: match max_wait {
                    Some(w) => Some(w?),
                    None => None,
                },
                classes: None,
            })
        }
    }
}

/// Turn the class names of a `shed` policy into class indices.
pub(super) fn resolve_shed_classes(
    ctx: &mut Ctx<'_>,
    pool: Option<&mut PoolSpec>,
    v: &Val,
    raw_classes: &[Spanned<RawClass>],
    class_names: &[String],
) {
    let Some(PoolSpec {
        name: pool_name,
        policy: PolicySpec::Shed { classes, .. },
        ..
    }) = pool
    else {
        return;
    };
    let Some(toml::Value::Array(list)) = v.get_ref().get("classes") else {
        return;
    };
    let key = format!("pool.{pool_name}.policy.classes");
    let mut indices = Vec::new();
    for item in list {
        let Some(name) = item.as_str() else { continue };
        match class_names.iter().position(|c| c == name) {
            Some(i) => {
                let routed_here = raw_classes[i]
                    .get_ref()
                    .pool
                    .as_ref()
                    .and_then(|p| p.get_ref().as_str().map(|p| p == pool_name))
                    .unwrap_or(false);
                if !routed_here {
                    ctx.error(
                        &v.span(),
                        &key,
                        format!("class {name:?} is not routed to pool {pool_name:?}"),
                    );
                }
                indices.push(i);
            }
            None => ctx.error(
                &v.span(),
                &key,
                format!("unknown class {name:?}; known: {}", class_names.join(", ")),
            ),
        }
    }
    *classes = Some(indices);
}

/// `capacity = [{ at = "12h", gpus = "+1000" }, { at = "20h", gpus = 500 }]`.
pub(super) fn build_capacity(ctx: &mut Ctx<'_>, v: &Val, key: &str) -> Option<Vec<CapacityStep>> {
    let toml::Value::Array(items) = v.get_ref() else {
        ctx.expected(v, key, "an array of { at, gpus } changes");
        return None;
    };
    let mut steps = Vec::new();
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        let k = format!("{key}.{i}");
        let toml::Value::Table(t) = item else {
            ctx.error(
                &v.span(),
                &k,
                format!(
                    "expected {{ at = \"12h\", gpus = \"+1000\" }}, found {}",
                    found(item)
                ),
            );
            ok = false;
            continue;
        };
        for extra in t.keys().filter(|k| *k != "at" && *k != "gpus") {
            ctx.error(
                &v.span(),
                &format!("{k}.{extra}"),
                format!("unknown key `{extra}`: a capacity change takes `at` and `gpus`"),
            );
            ok = false;
        }
        let at = match t.get("at") {
            Some(toml::Value::String(s)) => parse_duration(s),
            _ => None,
        };
        let change = match t.get("gpus") {
            Some(toml::Value::Integer(n)) if (0..=10_000_000).contains(n) => {
                Some(CapacityChange::Set(*n as u32))
            }
            Some(toml::Value::String(s)) if s.starts_with('+') || s.starts_with('-') => s
                .parse::<i64>()
                .ok()
                .filter(|d| d.abs() <= 10_000_000)
                .map(CapacityChange::Add),
            _ => None,
        };
        if at.is_none() {
            ctx.error(
                &v.span(),
                &format!("{k}.at"),
                format!(
                    "expected {DURATION_EXPECTED}, found {}",
                    t.get("at").map_or("nothing".into(), found)
                ),
            );
        }
        if change.is_none() {
            ctx.error(
                &v.span(),
                &format!("{k}.gpus"),
                format!(
                    "expected a number of GPUs (500) or a change (\"+1000\", \"-200\"), found {}",
                    t.get("gpus").map_or("nothing".into(), found)
                ),
            );
        }
        match (at, change) {
            (Some(at), Some(change)) => {
                if steps.last().is_some_and(|s: &CapacityStep| at < s.at) {
                    ctx.error(
                        &v.span(),
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
