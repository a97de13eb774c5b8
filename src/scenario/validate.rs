//! Stage 2 of loading: check every value and build the [`Scenario`].

use super::Loaded;
use super::diagnostic::{Diagnostic, LoadError, Place, Severity, line_col};
use super::overrides::{self, OVERRIDE_SPAN_BASE, Override};
use super::raw::{RawClass, RawDist, RawPool, RawScenario, RawSlo, Val};
use super::units::{DURATION_EXPECTED, RATE_EXPECTED, parse_duration, parse_rate};
use super::workload;
use crate::engine::SimDuration;
use crate::model::{ClassSpec, DurationDist, PolicySpec, PoolSpec, Scenario, SloSpec};
use std::collections::HashMap;
use std::ops::Range;
use std::path::Path;
use toml::Spanned;
use toml::de::DeTable;

/// Most GPUs one pool may have (keeps per-pool state bounded).
const MAX_GPUS: i64 = 10_000_000;
/// Most replications of one run.
const MAX_REPLICATIONS: i64 = 100_000;
/// Most time-series buckets of one run (memory: rows × scopes).
const MAX_BUCKETS: f64 = 200_000.0;

pub(super) struct Ctx<'a> {
    /// Names of custom policies that may be used; `None` accepts any.
    pub(super) custom_policies: Option<&'a [&'a str]>,
    origin: &'a str,
    text: &'a str,
    overrides: &'a [Override],
    base_dir: &'a Path,
    diagnostics: Vec<Diagnostic>,
}

impl<'a> Ctx<'a> {
    pub(super) fn place(&self, span: &Range<usize>) -> Place {
        if span.start >= OVERRIDE_SPAN_BASE {
            let i = span.start - OVERRIDE_SPAN_BASE;
            match self.overrides.get(i) {
                Some(ov) => Place::Override(ov.to_string()),
                None => Place::File,
            }
        } else if span.start <= self.text.len() {
            let (line, col) = line_col(self.text, span.start);
            Place::Line { line, col }
        } else {
            Place::File
        }
    }

    pub(super) fn push(
        &mut self,
        severity: Severity,
        span: &Range<usize>,
        key: &str,
        message: String,
        hint: Option<String>,
    ) {
        let place = self.place(span);
        self.diagnostics.push(Diagnostic {
            severity,
            origin: self.origin.to_string(),
            place,
            key: key.to_string(),
            message,
            hint,
        });
    }

    pub(super) fn error(&mut self, span: &Range<usize>, key: &str, message: impl Into<String>) {
        self.push(Severity::Error, span, key, message.into(), None);
    }

    pub(super) fn error_hint(
        &mut self,
        span: &Range<usize>,
        key: &str,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) {
        self.push(
            Severity::Error,
            span,
            key,
            message.into(),
            Some(hint.into()),
        );
    }

    pub(super) fn expected(&mut self, v: &Val, key: &str, what: &str) {
        self.error(
            &v.span(),
            key,
            format!("expected {what}, found {}", found(v.get_ref())),
        );
    }

    pub(super) fn base_dir(&self) -> &Path {
        self.base_dir
    }

    pub(super) fn has_errors(&self) -> bool {
        self.diagnostics
            .iter()
            .any(|d| d.severity == Severity::Error)
    }

    pub(super) fn string(&mut self, v: &Val, key: &str) -> Option<String> {
        match v.get_ref() {
            toml::Value::String(s) => Some(s.clone()),
            _ => {
                self.expected(v, key, "a string");
                None
            }
        }
    }

    /// A name usable in dotted paths and file names.
    pub(super) fn name(&mut self, v: &Val, key: &str) -> Option<String> {
        let s = self.string(v, key)?;
        let ok = !s.is_empty()
            && s.chars()
                .all(|c| c.is_alphanumeric() || c == '-' || c == '_')
            && s != "all";
        if ok {
            Some(s)
        } else {
            self.error(
                &v.span(),
                key,
                format!(
                    "expected a name of letters, digits, '-' and '_' (not \"all\"), found {s:?}"
                ),
            );
            None
        }
    }

    pub(super) fn int(&mut self, v: &Val, key: &str, min: i64, max: i64) -> Option<i64> {
        match v.get_ref() {
            toml::Value::Integer(i) if (min..=max).contains(i) => Some(*i),
            _ => {
                let what = if max == i64::MAX {
                    format!("an integer ≥ {min}")
                } else {
                    format!("an integer from {min} to {max}")
                };
                self.expected(v, key, &what);
                None
            }
        }
    }

    pub(super) fn number(
        &mut self,
        v: &Val,
        key: &str,
        what: &str,
        ok: impl Fn(f64) -> bool,
    ) -> Option<f64> {
        let x = match v.get_ref() {
            toml::Value::Float(f) => *f,
            toml::Value::Integer(i) => *i as f64,
            _ => {
                self.expected(v, key, what);
                return None;
            }
        };
        if x.is_finite() && ok(x) {
            Some(x)
        } else {
            self.expected(v, key, what);
            None
        }
    }

    pub(super) fn duration(&mut self, v: &Val, key: &str) -> Option<SimDuration> {
        if let toml::Value::String(s) = v.get_ref()
            && let Some(d) = parse_duration(s)
        {
            return Some(d);
        }
        let hint = matches!(v.get_ref(), toml::Value::Integer(_) | toml::Value::Float(_))
            .then(|| "durations need a unit: write \"90s\", not 90".to_string());
        self.push(
            Severity::Error,
            &v.span(),
            key,
            format!("expected {DURATION_EXPECTED}, found {}", found(v.get_ref())),
            hint,
        );
        None
    }

    pub(super) fn positive_duration(&mut self, v: &Val, key: &str) -> Option<SimDuration> {
        let d = self.duration(v, key)?;
        if d == SimDuration::ZERO {
            self.error(
                &v.span(),
                key,
                format!("expected a duration > 0, found {}", found(v.get_ref())),
            );
            return None;
        }
        Some(d)
    }

    pub(super) fn rate(&mut self, v: &Val, key: &str) -> Option<f64> {
        if let toml::Value::String(s) = v.get_ref() {
            match parse_rate(s) {
                Some(r) if r > 0.0 => return Some(r),
                Some(_) => {
                    self.error(&v.span(), key, format!("expected a rate > 0, found {s:?}"));
                    return None;
                }
                None if s.trim_start().starts_with('-') => {
                    self.error(&v.span(), key, format!("expected a rate > 0, found {s:?}"));
                    return None;
                }
                None => {}
            }
        }
        let hint = matches!(v.get_ref(), toml::Value::Integer(_) | toml::Value::Float(_))
            .then(|| "rates need a unit: write \"7.2/s\", not 7.2".to_string());
        self.push(
            Severity::Error,
            &v.span(),
            key,
            format!("expected {RATE_EXPECTED}, found {}", found(v.get_ref())),
            hint,
        );
        None
    }

    pub(super) fn required<'v, T>(
        &mut self,
        v: &'v Option<T>,
        span: &Range<usize>,
        key: &str,
        what: &str,
    ) -> Option<&'v T> {
        if v.is_none() {
            self.error(span, key, format!("missing: expected {what}"));
        }
        v.as_ref()
    }
}

/// What a TOML value is, for "found …" in messages.
pub(super) fn found(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => format!("{s:?}"),
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Float(f) => f.to_string(),
        toml::Value::Boolean(b) => b.to_string(),
        toml::Value::Datetime(d) => format!("the date {d}"),
        toml::Value::Array(_) => "an array".to_string(),
        toml::Value::Table(_) => "a table".to_string(),
    }
}

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
            ctx.error(&span, "", format!("invalid TOML: {}", e.message().trim()));
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
    ] {
        m = m.replace(&format!("struct {raw}"), "a table");
    }
    if (key == "pool" || key == "class" || key == "slo") && m.contains("expected a sequence") {
        m = format!("{m}\nexpected an array of tables: write [[{key}]], not [{key}]");
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
    let bucket = raw
        .bucket
        .as_ref()
        .and_then(|v| ctx.positive_duration(v, "bucket"));
    if let (Some(d), Some(b), Some(v)) = (duration, bucket, &raw.bucket) {
        let n = d.as_secs_f64() / b.as_secs_f64();
        if n > MAX_BUCKETS {
            ctx.error(
                &v.span(),
                "bucket",
                format!("expected at most {MAX_BUCKETS} buckets over the duration, found {n:.0}: use a wider bucket"),
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
    let (populations, population_index) = workload::build_populations(ctx, &raw.population);
    let classes = build_classes(
        ctx,
        &raw.class,
        root_span,
        &pool_index,
        &pool_names,
        &population_index,
    );
    let class_names: Vec<String> = classes.iter().flatten().map(|c| c.name.clone()).collect();
    let mut pools = pools;
    for (pool, raw_pool) in pools.iter_mut().zip(&raw.pool) {
        if let Some(v) = &raw_pool.get_ref().policy {
            workload::resolve_shed_classes(ctx, pool.as_mut(), v, &raw.class, &class_names);
        }
    }
    let slos: Vec<Option<SloSpec>> = raw
        .slo
        .iter()
        .enumerate()
        .map(|(i, s)| build_slo(ctx, s, i, &class_names))
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
        pools: pools.into_iter().collect::<Option<Vec<_>>>()?,
        classes: classes.into_iter().collect::<Option<Vec<_>>>()?,
        populations: populations.into_iter().collect::<Option<Vec<_>>>()?,
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

pub(super) fn entry_key(kind: &str, name: &Option<Val>, index: usize) -> String {
    match name.as_ref().map(|n| n.get_ref()) {
        Some(toml::Value::String(s)) if !s.is_empty() => format!("{kind}.{s}"),
        _ => format!("{kind}[{index}]"),
    }
}

pub(super) fn check_unique(
    ctx: &mut Ctx<'_>,
    kind: &str,
    names: &[(Option<String>, Range<usize>)],
) {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (name, span) in names {
        let Some(name) = name else { continue };
        if let Some(first) = seen.get(name.as_str()) {
            let first_line = line_col(ctx.text, *first).0;
            ctx.error(
                span,
                &format!("{kind}.{name}.name"),
                format!("duplicate {kind} name {name:?} (first defined on line {first_line})"),
            );
        } else {
            seen.insert(name, span.start);
        }
    }
}

/// The pools (`None` where invalid) and the valid names, by index.
fn build_pools(
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
                Some(v) => workload::build_policy(ctx, v, &format!("{key}.policy")),
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
                Some(v) => workload::build_capacity(ctx, v, &format!("{pool_key}.capacity")),
                None => Some(Vec::new()),
            };
            let autoscale = match &p.autoscale {
                Some(a) => {
                    workload::build_autoscale(ctx, a, &format!("{pool_key}.autoscale"), gpus)
                        .map(Some)
                }
                None => Some(None),
            };
            let failures = match &p.failures {
                Some(f) => {
                    workload::build_failures(ctx, f, &format!("{pool_key}.failures")).map(Some)
                }
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
                    workload::build_batching(ctx, b, &format!("{pool_key}.batching")).map(Some)
                }
                None => Some(None),
            };
            Some(PoolSpec {
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

fn build_classes(
    ctx: &mut Ctx<'_>,
    raw: &[Spanned<RawClass>],
    root_span: &Range<usize>,
    pool_index: &HashMap<String, usize>,
    pool_names: &[String],
    population_index: &workload::PopulationIndex,
) -> Vec<Option<ClassSpec>> {
    if raw.is_empty() {
        ctx.error_hint(
            &(root_span.start..root_span.start),
            "class",
            "missing: expected at least one [[class]]",
            "add [[class]] with name, pool, arrivals and service",
        );
    }
    let mut names = Vec::new();
    let classes = raw
        .iter()
        .enumerate()
        .map(|(i, sc)| {
            let c = sc.get_ref();
            let key = entry_key("class", &c.name, i);
            let span = sc.span();
            let name = ctx
                .required(&c.name, &span, &format!("{key}.name"), "a class name")
                .and_then(|v| ctx.name(v, &format!("{key}.name")));
            names.push((
                name.clone(),
                c.name.as_ref().map_or(span.clone(), |v| v.span()),
            ));
            let pool = ctx
                .required(
                    &c.pool,
                    &span,
                    &format!("{key}.pool"),
                    "the name of a [[pool]]",
                )
                .and_then(|v| {
                    let s = ctx.string(v, &format!("{key}.pool"))?;
                    match pool_index.get(&s) {
                        Some(&i) => Some(i),
                        None => {
                            ctx.error(
                                &v.span(),
                                &format!("{key}.pool"),
                                format!(
                                    "unknown pool {s:?}; known: {}",
                                    if pool_names.is_empty() {
                                        "none".into()
                                    } else {
                                        pool_names.join(", ")
                                    }
                                ),
                            );
                            None
                        }
                    }
                });
            let arrivals = ctx
                .required(
                    &c.arrivals,
                    &span,
                    &format!("{key}.arrivals"),
                    "e.g. arrivals = { process = \"poisson\", rate = \"7.2/s\" }",
                )
                .and_then(|a| {
                    workload::build_arrivals(
                        ctx,
                        a,
                        &format!("{key}.arrivals"),
                        Some(population_index),
                    )
                });
            let service = ctx
                .required(
                    &c.service,
                    &span,
                    &format!("{key}.service"),
                    "e.g. service = { dist = \"exponential\", mean = \"1s\" }",
                )
                .and_then(|d| build_dist(ctx, d, &format!("{key}.service")));
            let latency_target = match &c.latency_target {
                Some(v) => ctx
                    .positive_duration(v, &format!("{key}.latency_target"))
                    .map(Some),
                None => Some(None),
            };
            let patience = match &c.patience {
                Some(d) => build_dist(ctx, d, &format!("{key}.patience")).map(Some),
                None => Some(None),
            };
            let retry = match &c.retry {
                Some(r) => workload::build_retry(ctx, r, &format!("{key}.retry")).map(Some),
                None => Some(None),
            };
            let priority = match &c.priority {
                Some(v) => ctx
                    .int(v, &format!("{key}.priority"), -1_000_000, 1_000_000)
                    .map(|p| p as i32),
                None => Some(0),
            };
            let weight = match &c.weight {
                Some(v) => ctx.number(v, &format!("{key}.weight"), "a weight > 0", |x| x > 0.0),
                None => Some(1.0),
            };
            let deferrable = match &c.deferrable {
                Some(v) => match v.get_ref() {
                    toml::Value::Boolean(b) => Some(*b),
                    _ => {
                        ctx.expected(v, &format!("{key}.deferrable"), "true or false");
                        None
                    }
                },
                None => Some(false),
            };
            let deferred_patience = match &c.deferred_patience {
                Some(d) => {
                    if deferrable == Some(false) {
                        ctx.error(
                            &d.span(),
                            &format!("{key}.deferred_patience"),
                            "`deferred_patience` applies to a class with deferrable = true",
                        );
                    }
                    build_dist(ctx, d, &format!("{key}.deferred_patience")).map(Some)
                }
                None => Some(None),
            };
            let from_users = c
                .arrivals
                .as_ref()
                .and_then(|a| a.get_ref().process.as_ref())
                .is_some_and(|p| p.get_ref().as_str() == Some("users"));
            let limit = match &c.limit {
                Some(l) => {
                    workload::build_limit(ctx, l, &format!("{key}.limit"), from_users).map(Some)
                }
                None => Some(None),
            };
            Some(ClassSpec {
                name: name?,
                pool: pool?,
                arrivals: arrivals?,
                service: service?,
                latency_target: latency_target?,
                patience: patience?,
                retry: retry?,
                limit: limit?,
                priority: priority?,
                weight: weight?,
                deferrable: deferrable?,
                deferred_patience: deferred_patience?,
            })
        })
        .collect();
    check_unique(ctx, "class", &names);
    classes
}

/// Flag keys that do not apply to the chosen variant.
pub(super) fn reject_extra(
    ctx: &mut Ctx<'_>,
    key: &str,
    variant: &str,
    extra: &[(&str, &Option<Val>)],
) {
    for (name, v) in extra {
        if let Some(v) = v {
            ctx.error(
                &v.span(),
                &format!("{key}.{name}"),
                format!("`{name}` does not apply to {variant}"),
            );
        }
    }
}

pub(super) fn build_dist(
    ctx: &mut Ctx<'_>,
    sd: &Spanned<RawDist>,
    key: &str,
) -> Option<DurationDist> {
    let d = sd.get_ref();
    let span = sd.span();
    const KINDS: &str = "\"exponential\", \"deterministic\", \"erlang\", \"gamma\", \"lognormal\", \"weibull\", \"pareto\", \"uniform\", \"empirical\"";
    let dist_v = ctx.required(
        &d.dist,
        &span,
        &format!("{key}.dist"),
        &format!("one of {KINDS}"),
    )?;
    let kind = ctx.string(dist_v, &format!("{key}.dist"))?;
    let all: [(&str, &Option<Val>); 8] = [
        ("mean", &d.mean),
        ("value", &d.value),
        ("k", &d.k),
        ("cv", &d.cv),
        ("alpha", &d.alpha),
        ("min", &d.min),
        ("max", &d.max),
        ("file", &d.file),
    ];
    let uses: &[&str] = match kind.as_str() {
        "exponential" => &["mean"],
        "deterministic" => &["value"],
        "erlang" => &["k", "mean"],
        "gamma" | "lognormal" | "weibull" => &["mean", "cv"],
        "pareto" => &["mean", "alpha"],
        "uniform" => &["min", "max"],
        "empirical" => &["file"],
        other => {
            ctx.error(
                &dist_v.span(),
                &format!("{key}.dist"),
                format!("expected one of {KINDS}, found {other:?}"),
            );
            return None;
        }
    };
    let extra: Vec<(&str, &Option<Val>)> = all
        .iter()
        .filter(|(n, _)| !uses.contains(n))
        .copied()
        .collect();
    reject_extra(ctx, key, &format!("dist \"{kind}\""), &extra);
    let k = |n: &str| format!("{key}.{n}");
    let dur = |ctx: &mut Ctx<'_>, v: &Option<Val>, n: &str| {
        ctx.required(v, &span, &k(n), "a duration like \"1s\"")
            .and_then(|v| ctx.duration(v, &k(n)).map(|d| (d.as_secs_f64(), v.span())))
    };
    let result = match kind.as_str() {
        "exponential" => {
            let (mean, s) = dur(ctx, &d.mean, "mean")?;
            (DurationDist::exponential(mean), s)
        }
        "deterministic" => {
            let (value, s) = dur(ctx, &d.value, "value")?;
            (DurationDist::deterministic(value), s)
        }
        "erlang" => {
            let kv = ctx
                .required(&d.k, &span, &k("k"), "an integer ≥ 1")
                .and_then(|v| ctx.int(v, &k("k"), 1, 1000));
            let mean = dur(ctx, &d.mean, "mean");
            let (mean, s) = mean?;
            (DurationDist::erlang(kv? as u32, mean), s)
        }
        "gamma" | "lognormal" | "weibull" => {
            let mean = dur(ctx, &d.mean, "mean");
            let cv = ctx
                .required(&d.cv, &span, &k("cv"), "a coefficient of variation > 0")
                .and_then(|v| {
                    ctx.number(v, &k("cv"), "a coefficient of variation > 0", |x| x > 0.0)
                });
            let (mean, s) = mean?;
            let cv = cv?;
            let built = match kind.as_str() {
                "gamma" => DurationDist::gamma(mean, cv),
                "lognormal" => DurationDist::lognormal(mean, cv),
                _ => DurationDist::weibull(mean, cv),
            };
            (built, s)
        }
        "pareto" => {
            let mean = dur(ctx, &d.mean, "mean");
            let alpha = ctx
                .required(&d.alpha, &span, &k("alpha"), "a tail index > 1")
                .and_then(|v| ctx.number(v, &k("alpha"), "a tail index > 1", |x| x > 1.0));
            let (mean, s) = mean?;
            (DurationDist::pareto(mean, alpha?), s)
        }
        "uniform" => {
            let min = dur(ctx, &d.min, "min");
            let max = dur(ctx, &d.max, "max");
            let ((min, _), (max, s)) = (min?, max?);
            if max < min {
                ctx.error(
                    &s,
                    &k("max"),
                    format!(
                        "expected max ≥ min, found max {} < min {}",
                        SimDuration::from_secs_f64(max),
                        SimDuration::from_secs_f64(min)
                    ),
                );
                return None;
            }
            (DurationDist::uniform(min, max), s)
        }
        "empirical" => {
            let v = ctx.required(
                &d.file,
                &span,
                &k("file"),
                "the path of a file of durations",
            )?;
            let path = ctx.string(v, &k("file"))?;
            let values = read_empirical(ctx, &path, v, &k("file"))?;
            (DurationDist::empirical(values), v.span())
        }
        _ => return None,
    };
    match result.0 {
        Ok(dist) => Some(dist),
        Err(e) => {
            ctx.error(&result.1, key, e.to_string());
            None
        }
    }
}

/// Read an empirical sample: one value per line, a duration with a unit
/// (`"1.5s"`) or a bare number of seconds; blank lines and lines starting
/// with `#` are skipped, and so is a first line that is a column header.
fn read_empirical(ctx: &mut Ctx<'_>, path: &str, v: &Val, key: &str) -> Option<Vec<f64>> {
    let full = ctx.base_dir.join(path);
    let text = match std::fs::read_to_string(&full) {
        Ok(t) => t,
        Err(e) => {
            ctx.error_hint(
                &v.span(),
                key,
                format!("cannot read {}: {e}", full.display()),
                "paths are relative to the scenario file's folder",
            );
            return None;
        }
    };
    let mut values = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let cell = line
            .split(',')
            .next()
            .unwrap_or("")
            .trim()
            .trim_matches('"');
        if cell.is_empty() || cell.starts_with('#') {
            continue;
        }
        let parsed = cell
            .parse::<f64>()
            .ok()
            .filter(|x| x.is_finite() && *x >= 0.0)
            .or_else(|| parse_duration(cell).map(|d| d.as_secs_f64()));
        match parsed {
            Some(x) => values.push(x),
            None if i == 0 => {} // a header
            None => {
                ctx.error(
                    &v.span(),
                    key,
                    format!(
                        "{}:{}: expected a duration (\"1.5s\") or a number of seconds ≥ 0, found {cell:?}",
                        full.display(),
                        i + 1
                    ),
                );
                return None;
            }
        }
    }
    if values.is_empty() {
        ctx.error(
            &v.span(),
            key,
            format!(
                "{}: expected at least one value, found none",
                full.display()
            ),
        );
        return None;
    }
    Some(values)
}

fn build_slo(
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
            let base = m.strip_suffix("_s").unwrap_or(&m);
            if crate::slo::is_known(&m) {
                Some(base.to_string())
            } else {
                ctx.error(
                    &v.span(),
                    &format!("{key}.metric"),
                    format!(
                        "unknown metric {m:?}; known: {}",
                        crate::slo::METRICS.join(", ")
                    ),
                );
                None
            }
        });
    let is_time = metric
        .as_deref()
        .is_some_and(|m| m.starts_with("wait_") || m.starts_with("latency_"));
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

fn warn_unstable(ctx: &mut Ctx<'_>, raw: &RawScenario, scenario: &Scenario) {
    for (i, rho) in scenario.offered_load().into_iter().enumerate() {
        if rho >= 1.0 {
            let pool = &scenario.pools[i];
            let span = raw.pool[i]
                .get_ref()
                .gpus
                .as_ref()
                .map_or(raw.pool[i].span(), |v| v.span());
            let needed = (rho * f64::from(pool.gpus)).ceil() as u64 + 1;
            ctx.push(
                Severity::Warning,
                &span,
                &format!("pool.{}.gpus", pool.name),
                format!(
                    "offered load ρ = {rho:.3} on pool {:?}: the queue grows without bound",
                    pool.name
                ),
                Some(format!(
                    "ρ counts first attempts over the whole run, before rate limits, abandonment and retries; \
                     the run still completes, but waits depend on its length; at least {needed} GPUs are needed for ρ < 1"
                )),
            );
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
