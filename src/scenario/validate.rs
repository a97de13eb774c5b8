//! Loading in order: stage 1 (syntax, `--set` overrides, shape) here,
//! stage 2 by section — [`super::pools`], [`super::classes`] (with
//! [`super::arrivals`]), [`super::policies`], [`super::slos`] — each on
//! the typed-field reader of [`super::ctx`]; then whole-scenario checks
//! (load warnings) and the `[sweep]` table.

use super::Loaded;
use super::classes::{Pools, build_classes, build_populations};
use super::ctx::{Ctx, found};
use super::diagnostic::{LoadError, Severity};
use super::overrides::{self, OVERRIDE_SPAN_BASE, Override};
use super::policies::resolve_shed_classes;
use super::pools::build_pools;
use super::raw::RawScenario;
use super::slos::build_slo;
use super::workflows::build_workflows;
use crate::engine::SimDuration;
use crate::model::{Budget, Scenario, SloSpec, StartTime};
use std::collections::HashMap;
use std::ops::Range;
use std::path::Path;
use toml::Spanned;
use toml::de::DeTable;

/// Most replications of one run.
const MAX_REPLICATIONS: i64 = 100_000;
/// Longest duration plus drain: ten years, far inside the 584 years of
/// the nanosecond clock, so no event time saturates it.
const MAX_HORIZON_S: f64 = 3650.0 * 86_400.0;
/// Most time-series buckets of one run (memory: rows × scopes).
const MAX_BUCKETS: u64 = 200_000;

/// Run all three stages on `text`.
pub(crate) fn load(
    text: &str,
    origin: &str,
    base_dir: &Path,
    default_name: &str,
    overrides: &[Override],
    custom_policies: Option<&[&str]>,
) -> Result<Loaded, LoadError> {
    let mut ctx = Ctx {
        custom_policies,
        origin,
        text,
        overrides,
        base_dir,
        diagnostics: Vec::new(),
    };
    let fail = |ctx: Ctx<'_>| LoadError {
        diagnostics: ctx.diagnostics,
    };
    if text.trim().is_empty() {
        ctx.error_hint(
            &(0..0),
            "",
            "the file is empty: expected a scenario",
            "a scenario needs at least `duration`, one [[pool]] and one [[class]]; see scenarios/mmc.toml",
        );
        return Err(fail(ctx));
    }

    // Stage 1: syntax, overrides, shape.
    let root = match DeTable::parse(text) {
        Ok(root) => root,
        Err(e) => {
            let span = e.span().unwrap_or(0..0);
            let mut message = format!("invalid TOML: {}", e.message().trim());
            // toml says "duplicate key" without the key: name it.
            if message.ends_with("duplicate key")
                && let Some(rest) = text.get(span.start..)
            {
                let key: String = rest
                    .chars()
                    .take_while(|c| !matches!(c, '=' | '\n' | ']'))
                    .collect();
                let key = key.trim().trim_matches('"');
                if !key.is_empty() {
                    message = format!("{message} `{key}`: each key may appear once in a table");
                }
            }
            ctx.error(&span, "", message);
            return Err(fail(ctx));
        }
    };
    let root_span = root.span();
    let mut root = root.into_inner();
    for (i, ov) in overrides.iter().enumerate() {
        if let Err(message) = overrides::apply(&mut root, ov, i) {
            let span = OVERRIDE_SPAN_BASE + i..OVERRIDE_SPAN_BASE + i + 1;
            ctx.error(&span, &ov.path, message);
        }
    }
    if ctx.has_errors() {
        return Err(fail(ctx));
    }
    let pool_names = overrides::entry_names(&root, "pool");
    let class_names = overrides::entry_names(&root, "class");
    let deserializer = toml::de::Deserializer::from(Spanned::new(root_span.clone(), root));
    let raw: RawScenario = match serde_path_to_error::deserialize(deserializer) {
        Ok(raw) => raw,
        Err(e) => {
            let key = key_path(e.path(), &pool_names, &class_names);
            let inner = e.into_inner();
            let span = inner.span().unwrap_or(0..0);
            ctx.error(&span, &key, shape_message(inner.message(), &key));
            return Err(fail(ctx));
        }
    };

    // Stage 2: values.
    let scenario = build(&mut ctx, &raw, &root_span, default_name);
    match scenario {
        Some(scenario) if !ctx.has_errors() => {
            warn_unstable(&mut ctx, &raw, &scenario);
            warn_event_budget(&mut ctx, &raw, &scenario);
            let sweep = build_sweep(&mut ctx, &raw);
            if ctx.has_errors() {
                return Err(fail(ctx));
            }
            Ok(Loaded {
                scenario,
                warnings: ctx.diagnostics,
                sweep,
            })
        }
        _ => Err(fail(ctx)),
    }
}

/// serde_path_to_error's path, with `[[pool]]`/`[[class]]` indices replaced
/// by entry names and serde_spanned's private keys dropped.
fn key_path(
    path: &serde_path_to_error::Path,
    pools: &[Option<String>],
    classes: &[Option<String>],
) -> String {
    use serde_path_to_error::Segment;
    let mut parts: Vec<String> = Vec::new();
    for seg in path.iter() {
        match seg {
            Segment::Map { key } if key.starts_with("$__") => {}
            Segment::Map { key } => parts.push(key.clone()),
            Segment::Seq { index } => {
                let names = match parts.last().map(String::as_str) {
                    Some("pool") if parts.len() == 1 => Some(pools),
                    Some("class") if parts.len() == 1 => Some(classes),
                    _ => None,
                };
                match names.and_then(|n| n.get(*index)).and_then(|n| n.clone()) {
                    Some(name) => parts.push(name),
                    None => parts.push(index.to_string()),
                }
            }
            Segment::Enum { variant } => parts.push(variant.clone()),
            Segment::Unknown => {}
        }
    }
    parts.join(".")
}

/// Rewrite serde's words for the shape of a value into the user's words.
fn shape_message(message: &str, key: &str) -> String {
    let mut m = message.trim().to_string();
    for raw in [
        "RawScenario",
        "RawPool",
        "RawClass",
        "RawArrivals",
        "RawDist",
        "RawSlo",
        "RawPopulation",
        "RawReturns",
        "RawRetry",
        "RawBackoff",
        "RawLimit",
        "RawDiurnal",
        "RawSpike",
        "RawAutoscale",
        "RawTrigger",
        "RawFailures",
        "RawBatching",
        "RawPolicyTable",
        "RawCapacityStep",
    ] {
        m = m.replace(&format!("struct {raw}"), "a table");
    }
    if (key == "pool" || key == "class" || key == "slo") && m.contains("expected a sequence") {
        m = format!("{m}\nexpected an array of tables: write [[{key}]], not [{key}]");
    }
    if m.contains("value was too large") || (m.contains("as i128") && m.contains("integer")) {
        return "expected an integer of at most 9223372036854775807 (2^63 − 1), found a larger one"
            .into();
    }
    m.replace("expected a sequence", "expected an array")
}

fn build(
    ctx: &mut Ctx<'_>,
    raw: &RawScenario,
    root_span: &Range<usize>,
    default_name: &str,
) -> Option<Scenario> {
    let name = match &raw.name {
        Some(v) => ctx.name(v, "name"),
        None => Some(sanitize(default_name)),
    };
    let description = raw
        .description
        .as_ref()
        .and_then(|v| ctx.string(v, "description"));
    let top = 0..0;
    let duration = ctx
        .required(&raw.duration, &top, "duration", "a duration like \"2h\"")
        .and_then(|v| ctx.positive_duration(v, "duration"));
    let warmup = match &raw.warmup {
        Some(v) => ctx.duration(v, "warmup"),
        None => Some(SimDuration::ZERO),
    };
    if let (Some(d), Some(w), Some(v)) = (duration, warmup, &raw.warmup)
        && w >= d
    {
        ctx.error_hint(
            &v.span(),
            "warmup",
            format!("expected a warm-up shorter than the duration ({d}), found {w}"),
            "statistics only count requests arriving after the warm-up",
        );
    }
    let drain = raw.drain.as_ref().and_then(|v| ctx.duration(v, "drain"));
    let start = raw.start.as_ref().and_then(|v| {
        let text = ctx.string(v, "start")?;
        let parsed = StartTime::parse(&text);
        if parsed.is_none() {
            ctx.error_hint(
                &v.span(),
                "start",
                format!("expected a clock time or date like \"08:00\", \"2026-06-03\" or \"2026-06-03T08:00\", found \"{text}\""),
                "start only labels the charts' time axis; it changes nothing simulated",
            );
        }
        parsed
    });
    let bucket = raw
        .bucket
        .as_ref()
        .and_then(|v| ctx.positive_duration(v, "bucket"));
    if let (Some(d), Some(b), Some(v)) = (duration, bucket, &raw.bucket) {
        // Counted in whole nanoseconds: 2 h in 36 ms buckets is exactly
        // 200,000 (in f64 seconds it came out a hair above, and was
        // refused as "at most 200000, found 200000").
        let n = d.0.div_ceil(b.0.max(1));
        if n > MAX_BUCKETS {
            ctx.error(
                &v.span(),
                "bucket",
                format!("expected at most {MAX_BUCKETS} buckets over the duration, found {n}: use a wider bucket"),
            );
        }
    }
    let seed = match &raw.seed {
        Some(v) => ctx.int(v, "seed", 0, i64::MAX).map(|s| s as u64),
        None => Some(1),
    };
    let replications = match &raw.replications {
        Some(v) => ctx
            .int(v, "replications", 1, MAX_REPLICATIONS)
            .map(|r| r as u32),
        None => Some(1),
    };

    let max_in_system = match &raw.max_in_system {
        Some(v) => ctx.int(v, "max_in_system", 1, i64::MAX).map(|n| n as u64),
        None => Some(Budget::DEFAULT.max_in_system),
    };
    let max_events = match &raw.max_events {
        Some(v) => ctx.int(v, "max_events", 1, i64::MAX).map(|n| n as u64),
        None => Some(Budget::DEFAULT.max_events),
    };
    if let (Some(d), Some(v)) = (duration, &raw.duration)
        && d.as_secs_f64() + drain.map_or(0.0, |x| x.as_secs_f64()) > MAX_HORIZON_S
    {
        ctx.error_hint(
            &v.span(),
            "duration",
            format!(
                "expected a duration (plus drain) of at most {} days, found {d}",
                MAX_HORIZON_S / 86_400.0
            ),
            "the clock counts nanoseconds in 64 bits (about 584 years); surge keeps runs far inside it",
        );
    }

    let (pools, names) = build_pools(ctx, &raw.pool, root_span);
    // Index every well-formed pool name, even of a pool with other errors,
    // so that classes routed to it do not get a second, misleading error.
    let mut pool_index: HashMap<String, usize> = HashMap::new();
    for (i, name) in names.iter().enumerate() {
        if let Some(name) = name {
            pool_index.entry(name.clone()).or_insert(i);
        }
    }
    let mut pool_names: Vec<String> = Vec::new();
    for name in names.iter().flatten() {
        if !pool_names.contains(name) {
            pool_names.push(name.clone());
        }
    }
    let (populations, population_index) = build_populations(ctx, &raw.population);
    let declared: Vec<String> = raw
        .class
        .iter()
        .filter_map(|c| {
            c.get_ref()
                .name
                .as_ref()?
                .get_ref()
                .as_str()
                .map(str::to_string)
        })
        .collect();
    // Classes by position, for a stage's `only` (a class without a
    // readable name cannot be named there).
    let positional: Vec<String> = raw
        .class
        .iter()
        .map(|c| {
            c.get_ref()
                .name
                .as_ref()
                .and_then(|n| n.get_ref().as_str())
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    let workflows = build_workflows(ctx, &raw.workflow, &pool_index, &pool_names, &positional);
    let workflow_index: HashMap<String, usize> = raw
        .workflow
        .iter()
        .enumerate()
        .filter_map(|(i, w)| {
            Some((
                w.get_ref().name.as_ref()?.get_ref().as_str()?.to_string(),
                i,
            ))
        })
        .collect();
    let serving: Vec<(bool, Option<crate::model::ServingSpec>)> = raw
        .pool
        .iter()
        .zip(&pools)
        .map(|(r, p)| {
            (
                r.get_ref().serving.is_some(),
                p.as_ref().and_then(|p| p.serving.clone()),
            )
        })
        .collect();
    let classes = build_classes(
        ctx,
        &raw.class,
        root_span,
        &Pools {
            index: &pool_index,
            names: &pool_names,
            serving: &serving,
        },
        &population_index,
        (&workflow_index, &workflows),
    );
    let class_names: Vec<String> = classes.iter().flatten().map(|c| c.name.clone()).collect();
    let with_target: Vec<String> = classes
        .iter()
        .flatten()
        .filter(|c| c.has_targets())
        .map(|c| c.name.clone())
        .collect();
    let serving_classes: Vec<String> = classes
        .iter()
        .flatten()
        .filter(|c| c.tokens.is_some())
        .map(|c| c.name.clone())
        .collect();
    let mut pools = pools;
    for (pool, raw_pool) in pools.iter_mut().zip(&raw.pool) {
        if let Some(v) = &raw_pool.get_ref().policy {
            resolve_shed_classes(ctx, pool.as_mut(), v, &raw.class, &class_names);
        }
    }
    // Per workflow class, its stages (`None` when its workflow has errors
    // of its own: no second error about its stages).
    let stage_names: HashMap<String, Option<Vec<String>>> = raw
        .class
        .iter()
        .filter_map(|c| {
            let c = c.get_ref();
            let name = c.name.as_ref()?.get_ref().as_str()?;
            let workflow = c.workflow.as_ref()?.get_ref().as_str()?;
            let w = workflows.get(*workflow_index.get(workflow)?)?.as_ref();
            Some((
                name.to_string(),
                w.map(|w| w.stages.iter().map(|s| s.name.clone()).collect()),
            ))
        })
        .collect();
    let slos: Vec<Option<SloSpec>> = raw
        .slo
        .iter()
        .enumerate()
        .map(|(i, s)| {
            build_slo(
                ctx,
                s,
                i,
                &declared,
                &with_target,
                &serving_classes,
                &stage_names,
            )
        })
        .collect();

    Some(Scenario {
        name: name?,
        description,
        duration: duration?,
        warmup: warmup?,
        drain,
        seed: seed?,
        replications: replications?,
        bucket,
        trace: 0,
        start,
        budget: Budget {
            max_in_system: max_in_system?,
            max_events: max_events?,
        },
        pools: pools.into_iter().collect::<Option<Vec<_>>>()?,
        classes: classes.into_iter().collect::<Option<Vec<_>>>()?,
        populations: populations.into_iter().collect::<Option<Vec<_>>>()?,
        workflows: workflows.into_iter().collect::<Option<Vec<_>>>()?,
        slos: slos.into_iter().collect::<Option<Vec<_>>>()?,
    })
}

/// A file stem made into a valid scenario name.
fn sanitize(stem: &str) -> String {
    let s: String = stem
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    if s.is_empty() { "scenario".into() } else { s }
}

fn warn_unstable(ctx: &mut Ctx<'_>, raw: &RawScenario, scenario: &Scenario) {
    for (i, rho) in scenario.offered_load().into_iter().enumerate() {
        if rho >= 1.0 {
            let pool = &scenario.pools[i];
            let span = raw.pool[i]
                .get_ref()
                .gpus
                .as_ref()
                .map_or(raw.pool[i].span(), |v| v.span());
            let needed = crate::model::LoadVerdict::gpus_for(
                rho,
                f64::from(pool.gpus),
                pool.serving.as_ref().map_or(1, |s| s.gpus_per_replica),
            );
            // What keeps the queue finite by construction, if anything.
            let sheds = matches!(pool.policy, crate::model::PolicySpec::Shed { .. });
            let routed: Vec<_> = (0..scenario.classes.len())
                .filter(|&c| scenario.demand_on(c, i) > 0.0)
                .map(|c| &scenario.classes[c])
                .collect();
            let patient = !routed.is_empty() && routed.iter().all(|c| c.patience.is_some());
            let consequence = if sheds {
                "shedding turns the excess away, so the queue stays bounded"
            } else if patient {
                "clients give up when their patience runs out, so the queue stays bounded"
            } else {
                "more work arrives than the GPUs serve: the queue grows while this lasts"
            };
            ctx.push(
                Severity::Warning,
                &span,
                &format!("pool.{}.gpus", pool.name),
                format!(
                    "mean offered load ρ = {rho:.3} on pool {:?} over the run: {consequence}",
                    pool.name
                ),
                Some(format!(
                    "ρ is the exact mean of the arrival rates × mean service ÷ GPUs, before rate limits, abandonment and retries; \
                     at least {needed} GPUs are needed for a mean ρ < 1 (peaks need more: the run's verdict says)"
                )),
            );
        }
    }
}

/// Pool dynamics whose own events alone would exceed the event budget (an
/// autoscaler ticking every nanosecond, a failure every microsecond): a
/// warning with the estimate, before the run stops early on the budget.
fn warn_event_budget(ctx: &mut Ctx<'_>, raw: &RawScenario, scenario: &Scenario) {
    let duration = scenario.duration.as_secs_f64();
    let budget = scenario.budget.max_events as f64;
    for (i, pool) in scenario.pools.iter().enumerate() {
        let rp = raw.pool[i].get_ref();
        let mut estimates = Vec::new();
        if let (Some(a), Some(ra)) = (&pool.autoscale, &rp.autoscale) {
            let ticks = duration / a.interval.as_secs_f64().max(1e-9);
            let span = ra
                .get_ref()
                .interval
                .as_ref()
                .map_or(ra.span(), |v| v.span());
            estimates.push((
                ticks,
                span,
                format!("pool.{}.autoscale.interval", pool.name),
                "autoscaler ticks",
            ));
        }
        if let (Some(f), Some(rf)) = (&pool.failures, &rp.failures) {
            let gpus = f64::from(
                pool.autoscale
                    .as_ref()
                    .map_or(pool.gpus, |a| a.max.max(pool.gpus)),
            );
            let events = 2.0 * gpus * duration / f.mtbf.as_secs_f64().max(1e-9);
            let span = rf.get_ref().mtbf.as_ref().map_or(rf.span(), |v| v.span());
            estimates.push((
                events,
                span,
                format!("pool.{}.failures.mtbf", pool.name),
                "failures and repairs",
            ));
        }
        for (events, span, key, what) in estimates {
            if events > budget / 2.0 {
                ctx.push(
                    Severity::Warning,
                    &span,
                    &key,
                    format!(
                        "about {events:.1e} events for {what} alone, against an event budget of {budget:.1e} (max_events): the run will stop early"
                    ),
                    Some("a longer interval or MTBF, or a larger --max-events".into()),
                );
            }
        }
    }
}

/// The `[sweep]` table: `mode = "product" | "zip"` and `"dotted.path" = [values]`.
fn build_sweep(ctx: &mut Ctx<'_>, raw: &RawScenario) -> Option<super::SweepSpec> {
    let table = raw.sweep.as_ref()?;
    let span = table.span();
    let mut zip = false;
    let mut axes = Vec::new();
    for (key, value) in table.get_ref() {
        if key == "mode" {
            match value.as_str() {
                Some("product") => zip = false,
                Some("zip") => zip = true,
                _ => ctx.error(
                    &span,
                    "sweep.mode",
                    format!("expected \"product\" or \"zip\", found {}", found(value)),
                ),
            }
            continue;
        }
        match value {
            toml::Value::Array(items) if !items.is_empty() => {
                axes.push((key.clone(), items.iter().map(|v| v.to_string()).collect()));
            }
            other => ctx.error(
                &span,
                &format!("sweep.{key}"),
                format!(
                    "expected a non-empty array of values, found {}",
                    found(other)
                ),
            ),
        }
    }
    if axes.is_empty() {
        ctx.error(
            &span,
            "sweep",
            "expected at least one swept path, e.g. \"pool.gpu.gpus\" = [8, 9, 10]",
        );
    }
    Some(super::SweepSpec { zip, axes })
}
