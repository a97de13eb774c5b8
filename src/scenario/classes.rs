//! `[[class]]` and `[[population]]`: what each class sends, where, and how
//! its clients behave (patience, retries, rate limits).

use super::arrivals::{PopulationIndex, build_arrivals};
use super::ctx::{Ctx, check_unique, choice, entry_key};
use super::distributions::{build_count, build_dist, build_tokens};
use super::raw::{RawBackoff, RawClass, RawLimit, RawPopulation, RawRetry, RawTokens, Val};
use crate::model::{
    ClassSpec, DurationDist, LimitSpec, PopulationSpec, RetrySpec, ReturnSpec, ServingSpec,
    StageWork, TokenSpec, WorkflowSpec,
};
use std::collections::HashMap;
use std::ops::Range;
use toml::Spanned;

/// What classes need to know of the pools.
pub(super) struct Pools<'a> {
    /// Index of each valid pool name.
    pub(super) index: &'a HashMap<String, usize>,
    /// The valid names, for "known: …".
    pub(super) names: &'a [String],
    /// Per pool: whether it declares `[pool.serving]`, and its serving
    /// model if that is valid.
    pub(super) serving: &'a [(bool, Option<ServingSpec>)],
}

/// Most classes in a scenario: the simulation numbers them in 16 bits.
const MAX_CLASSES: usize = u16::MAX as usize;

pub(super) fn build_classes(
    ctx: &mut Ctx<'_>,
    raw: &[Spanned<RawClass>],
    root_span: &Range<usize>,
    pools: &Pools<'_>,
    population_index: &PopulationIndex,
    (workflow_index, workflows): (&HashMap<String, usize>, &[Option<WorkflowSpec>]),
) -> Vec<Option<ClassSpec>> {
    let (pool_index, pool_names, serving) = (pools.index, pools.names, pools.serving);
    if raw.is_empty() {
        ctx.error_hint(
            &(root_span.start..root_span.start),
            "class",
            "missing: expected at least one [[class]]",
            "add [[class]] with name, pool, arrivals and service",
        );
    }
    if raw.len() > MAX_CLASSES {
        let span = raw[MAX_CLASSES].span();
        ctx.error(
            &span,
            "class",
            format!(
                "expected at most {MAX_CLASSES} [[class]] tables, found {}",
                raw.len()
            ),
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
            // A workflow class: its stages say where and how long.
            let workflow = match &c.workflow {
                None => Some(None),
                Some(v) => {
                    let wkey = format!("{key}.workflow");
                    let pool_span = c.pool.as_ref().map(|p| p.span());
                    let service_span = c.service.as_ref().map(|s| s.span());
                    for (present, k) in [(pool_span, "pool"), (service_span, "service")] {
                        if let Some(span) = present {
                            ctx.error_hint(
                                &span,
                                &format!("{key}.{k}"),
                                format!("a class with a workflow takes `{k}` from its stages"),
                                "remove it, or remove `workflow` for a one-stage class",
                            );
                        }
                    }
                    ctx.string(v, &wkey)
                        .and_then(|name| match workflow_index.get(&name) {
                            Some(&w) => Some(Some(w)),
                            None => {
                                let known: Vec<&str> =
                                    workflow_index.keys().map(String::as_str).collect();
                                let mut known = known;
                                known.sort_unstable();
                                ctx.error(
                                    &v.span(),
                                    &wkey,
                                    format!(
                                        "unknown workflow {name:?}; known: {}",
                                        if known.is_empty() {
                                            "none".into()
                                        } else {
                                            known.join(", ")
                                        }
                                    ),
                                );
                                None
                            }
                        })
                }
            };
            // The first serving stage stands for the class where one pool
            // is asked for (its `pool` and `service`).
            let first_serve = workflow.flatten().and_then(|w| {
                workflows
                    .get(w)?
                    .as_ref()?
                    .stages
                    .iter()
                    .find_map(|s| match &s.work {
                        StageWork::Serve { pool, service } => Some((*pool, service.clone())),
                        StageWork::Fork { .. } => None,
                    })
            });
            let in_workflow = c.workflow.is_some();
            let pool = if in_workflow {
                first_serve.as_ref().map(|f| f.0)
            } else {
                ctx.required(
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
                })
            };
            let arrivals = ctx
                .required(
                    &c.arrivals,
                    &span,
                    &format!("{key}.arrivals"),
                    "e.g. arrivals = { process = \"poisson\", rate = \"7.2/s\" }",
                )
                .and_then(|a| {
                    build_arrivals(ctx, a, &format!("{key}.arrivals"), Some(population_index))
                });
            // A class on a serving pool has token demand instead of a
            // service time (`None` here: not on a serving pool).
            let on_serving = match pool {
                Some(p) if !in_workflow => serving.get(p).filter(|s| s.0),
                _ => None,
            };
            let tokens = match (&c.tokens, on_serving) {
                (Some(t), Some(_)) => build_class_tokens(ctx, t, &format!("{key}.tokens")),
                (Some(t), None) => {
                    ctx.error_hint(
                        &t.span(),
                        &format!("{key}.tokens"),
                        "`tokens` applies to a class on a serving pool (one with [pool.serving])",
                        "give this class a `service`, or route it to a serving pool",
                    );
                    None
                }
                (None, Some(_)) => {
                    ctx.error_hint(
                        &span,
                        &format!("{key}.tokens"),
                        "missing: a class on a serving pool needs its token demand",
                        "add tokens = { prompt = { dist = \"lognormal\", mean = 800, cv = 1.5 }, output = { dist = \"lognormal\", mean = 250, cv = 1.2 } }",
                    );
                    None
                }
                (None, None) => None,
            };
            let service = if in_workflow {
                first_serve.map(|f| f.1)
            } else if let Some(sv) = on_serving {
                if let Some(sd) = &c.service {
                    ctx.error_hint(
                        &sd.span(),
                        &format!("{key}.service"),
                        "a class on a serving pool has `tokens`, not `service`: its time follows from the replica's steps",
                        "remove `service`",
                    );
                }
                match (&tokens, &sv.1) {
                    (Some(t), Some(spec)) => Some(serving_work(t, spec)),
                    _ => None,
                }
            } else {
                ctx.required(
                    &c.service,
                    &span,
                    &format!("{key}.service"),
                    "e.g. service = { dist = \"exponential\", mean = \"1s\" }",
                )
                .and_then(|d| build_dist(ctx, d, &format!("{key}.service")))
            };
            let latency_target = match &c.latency_target {
                Some(v) => ctx
                    .positive_duration(v, &format!("{key}.latency_target"))
                    .map(Some),
                None => Some(None),
            };
            let mut token_target = |v: &Option<Val>, name: &str| match v {
                Some(v) if on_serving.is_none() => {
                    ctx.error_hint(
                        &v.span(),
                        &format!("{key}.{name}"),
                        format!("`{name}` applies to a class on a serving pool (one with [pool.serving]): only its requests have tokens"),
                        "bound the whole request with latency_target, or route the class to a serving pool",
                    );
                    None
                }
                Some(v) => ctx.positive_duration(v, &format!("{key}.{name}")).map(Some),
                None => Some(None),
            };
            let ttft_target = token_target(&c.ttft_target, "ttft_target");
            let tpot_target = token_target(&c.tpot_target, "tpot_target");
            let patience = match &c.patience {
                Some(d) => build_dist(ctx, d, &format!("{key}.patience")).map(Some),
                None => Some(None),
            };
            let retry = match &c.retry {
                Some(r) => build_retry(ctx, r, &format!("{key}.retry")).map(Some),
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
                Some(l) => build_limit(ctx, l, &format!("{key}.limit"), from_users).map(Some),
                None => Some(None),
            };
            Some(ClassSpec {
                name: name?,
                pool: pool?,
                arrivals: arrivals?,
                service: service?,
                latency_target: latency_target?,
                ttft_target: ttft_target?,
                tpot_target: tpot_target?,
                patience: patience?,
                retry: retry?,
                limit: limit?,
                priority: priority?,
                weight: weight?,
                deferrable: deferrable?,
                deferred_patience: deferred_patience?,
                workflow: workflow?,
                tokens: if on_serving.is_some() {
                    Some(tokens?)
                } else {
                    None
                },
            })
        })
        .collect();
    check_unique(ctx, "class", &names);
    classes
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

/// `tokens = { prompt, output }` (both required) or `tokens = { file }`.
fn build_class_tokens(ctx: &mut Ctx<'_>, st: &Spanned<RawTokens>, key: &str) -> Option<TokenSpec> {
    let t = st.get_ref();
    if let Some(f) = &t.file {
        for (name, d) in [("prompt", &t.prompt), ("output", &t.output)] {
            if let Some(d) = d {
                ctx.error_hint(
                    &d.span(),
                    &format!("{key}.{name}"),
                    "`file` gives both lengths of each request: a class has `file` or `prompt` and `output`, not both",
                    format!("remove `{name}`, or remove `file`"),
                );
            }
        }
        let path = ctx.string(f, &format!("{key}.file"))?;
        let pairs = super::distributions::read_token_pairs(ctx, &path, f, &format!("{key}.file"))?;
        return match TokenSpec::pairs(pairs) {
            Ok(spec) if t.prompt.is_none() && t.output.is_none() => Some(spec),
            Ok(_) => None,
            Err(e) => {
                ctx.error(&f.span(), &format!("{key}.file"), e.0);
                None
            }
        };
    }
    let mut one = |d: &Option<Spanned<super::raw::RawDist>>, n: &str| {
        ctx.required(
            d,
            &st.span(),
            &format!("{key}.{n}"),
            "a distribution of token counts, e.g. { dist = \"lognormal\", mean = 800, cv = 1.5 }, or tokens = { file = \"lengths.csv\" }",
        )
        .and_then(|d| build_tokens(ctx, d, &format!("{key}.{n}")))
    };
    let prompt = one(&t.prompt, "prompt");
    let output = one(&t.output, "output");
    Some(TokenSpec::independent(prompt?, output?))
}

/// The service demand that stands for a serving class's token demand in
/// loads and verdicts (see [`ServingSpec::request_work`]), as a
/// deterministic time.
fn serving_work(tokens: &TokenSpec, spec: &ServingSpec) -> DurationDist {
    DurationDist::deterministic(spec.request_work(tokens))
        .unwrap_or_else(|_| DurationDist::deterministic(1.0).expect("1 s is a valid time"))
}
