//! `[[workflow]]` and its `[[workflow.stage]]`s: a request as a pipeline of
//! stages across pools, with routes, forks and joins, stage timeouts and
//! retries (see [`crate::model::WorkflowSpec`] for the semantics).

use super::classes::build_retry;
use super::ctx::{Ctx, check_unique, choice, entry_key, found};
use super::distributions::build_dist;
use super::raw::{RawStage, RawWorkflow, Val};
use crate::model::{Join, StageSpec, StageWork, Target, WorkflowSpec};
use std::collections::HashMap;
use toml::Spanned;

/// Most stages of one workflow.
const MAX_STAGES: usize = 64;
/// Most branches of one fork.
const MAX_BRANCHES: usize = 16;

/// Every `[[workflow]]`; `class_names`: the declared classes, in order
/// (for `only`), `pools`: the index of the pool names.
pub(super) fn build_workflows(
    ctx: &mut Ctx<'_>,
    raw: &[Spanned<RawWorkflow>],
    pools: &HashMap<String, usize>,
    pool_names: &[String],
    class_names: &[String],
) -> Vec<Option<WorkflowSpec>> {
    let mut names = Vec::new();
    let workflows = raw
        .iter()
        .enumerate()
        .map(|(i, sw)| {
            let w = sw.get_ref();
            let key = entry_key("workflow", &w.name, i);
            let span = sw.span();
            let name = ctx
                .required(&w.name, &span, &format!("{key}.name"), "a workflow name")
                .and_then(|v| ctx.name(v, &format!("{key}.name")));
            names.push((
                name.clone(),
                w.name.as_ref().map_or(span.clone(), |v| v.span()),
            ));
            let stages = match &w.stage {
                Some(s) if !s.is_empty() => s.as_slice(),
                _ => {
                    ctx.error_hint(
                        &span,
                        &format!("{key}.stage"),
                        "missing: expected at least one [[workflow.stage]]",
                        "add [[workflow.stage]] with name, pool and service",
                    );
                    return None;
                }
            };
            if stages.len() > MAX_STAGES {
                ctx.error(
                    &stages[MAX_STAGES].span(),
                    &format!("{key}.stage"),
                    format!(
                        "expected at most {MAX_STAGES} stages, found {}",
                        stages.len()
                    ),
                );
                return None;
            }
            let built = build_stages(ctx, &key, stages, pools, pool_names, class_names)?;
            let spec = WorkflowSpec {
                name: name?,
                stages: built,
            };
            for class in 0..class_names.len() {
                if let Err(e) = spec.visits(class) {
                    ctx.error_hint(
                        &span,
                        &format!("{key}.stage"),
                        e,
                        "every loop back needs a way out: give its route a probability below 1",
                    );
                    return None;
                }
            }
            Some(spec)
        })
        .collect();
    check_unique(ctx, "workflow", &names);
    workflows
}

fn build_stages(
    ctx: &mut Ctx<'_>,
    wkey: &str,
    raw: &[Spanned<RawStage>],
    pools: &HashMap<String, usize>,
    pool_names: &[String],
    class_names: &[String],
) -> Option<Vec<StageSpec>> {
    // Stage names first: routes and forks point forward as well as back.
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut names = Vec::new();
    for (i, ss) in raw.iter().enumerate() {
        let s = ss.get_ref();
        let key = format!("{wkey}.{}", entry_key("stage", &s.name, i));
        let name = ctx
            .required(&s.name, &ss.span(), &format!("{key}.name"), "a stage name")
            .and_then(|v| ctx.name(v, &format!("{key}.name")));
        if let Some(n) = &name {
            if n == "done" || n == "refuse" {
                let v = s.name.as_ref().expect("a name was read");
                ctx.error(
                    &v.span(),
                    &format!("{key}.name"),
                    format!("{n:?} is a route target; name the stage otherwise"),
                );
            }
            index.entry(n.clone()).or_insert(i);
        }
        names.push((name, s.name.as_ref().map_or(ss.span(), |v| v.span())));
    }
    check_unique(ctx, &format!("{wkey}.stage"), &names);
    let stage_names: Vec<&str> = names.iter().filter_map(|(n, _)| n.as_deref()).collect();
    let resolve = |ctx: &mut Ctx<'_>, v: &Val, key: &str| -> Option<usize> {
        let s = ctx.string(v, key)?;
        match index.get(&s) {
            Some(&i) => Some(i),
            None => {
                ctx.error(
                    &v.span(),
                    key,
                    format!("unknown stage {s:?}; known: {}", stage_names.join(", ")),
                );
                None
            }
        }
    };

    // Forks: which stages are branches, and of which fork.
    let mut fork_of: Vec<Option<usize>> = vec![None; raw.len()];
    let mut forks: Vec<Option<(Vec<usize>, Join)>> = vec![None; raw.len()];
    let mut ok = true;
    for (i, ss) in raw.iter().enumerate() {
        let s = ss.get_ref();
        let key = format!("{wkey}.{}", entry_key("stage", &s.name, i));
        let Some(v) = &s.fork else {
            if let Some(j) = &s.join {
                ctx.error(
                    &j.span(),
                    &format!("{key}.join"),
                    "`join` applies to a stage with `fork`",
                );
                ok = false;
            }
            continue;
        };
        let fkey = format!("{key}.fork");
        let items = match v.get_ref() {
            toml::Value::Array(items) if (2..=MAX_BRANCHES).contains(&items.len()) => items,
            other => {
                let what = match other {
                    toml::Value::Array(items) => format!("a list of {}", items.len()),
                    other => found(other),
                };
                ctx.error(
                    &v.span(),
                    &fkey,
                    format!(
                        "expected a list of 2 to {MAX_BRANCHES} branch stage names, found {what}"
                    ),
                );
                ok = false;
                forks[i] = Some((Vec::new(), Join::All));
                continue;
            }
        };
        let mut branches = Vec::new();
        for item in items {
            let item = Spanned::new(v.span(), item.clone());
            match resolve(ctx, &item, &fkey) {
                Some(b) if b == i || forks[b].is_some() || raw[b].get_ref().fork.is_some() => {
                    ctx.error(
                        &v.span(),
                        &fkey,
                        "a branch is a stage that serves, not a fork",
                    );
                    ok = false;
                }
                Some(b) if fork_of[b].is_some() || branches.contains(&b) => {
                    ctx.error(
                        &v.span(),
                        &fkey,
                        format!(
                            "stage {:?} is a branch of more than one fork",
                            stage_names.get(b).copied().unwrap_or("?")
                        ),
                    );
                    ok = false;
                }
                Some(0) => {
                    ctx.error(
                        &v.span(),
                        &fkey,
                        "the first stage is where requests enter; it cannot be a branch",
                    );
                    ok = false;
                }
                Some(b) => {
                    fork_of[b] = Some(i);
                    branches.push(b);
                }
                None => ok = false,
            }
        }
        let join = match choice(
            ctx,
            &s.join,
            &format!("{key}.join"),
            &["all", "first"],
            "all",
        ) {
            Some("first") => Join::First,
            Some(_) => Join::All,
            None => {
                ok = false;
                Join::All
            }
        };
        forks[i] = Some((branches, join));
    }

    let mut stages = Vec::new();
    for (i, ss) in raw.iter().enumerate() {
        let s = ss.get_ref();
        let key = format!("{wkey}.{}", entry_key("stage", &s.name, i));
        let span = ss.span();
        let work = match forks[i].take() {
            Some((branches, join)) => {
                for (v, k) in [(&s.pool, "pool"), (&s.timeout, "timeout")] {
                    if let Some(v) = v {
                        ctx.error(
                            &v.span(),
                            &format!("{key}.{k}"),
                            "a fork stage does not serve: its branches do",
                        );
                        ok = false;
                    }
                }
                if s.service.is_some() || s.retry.is_some() {
                    ctx.error(
                        &span,
                        &key,
                        "a fork stage does not serve: give `service` and `retry` to its branches",
                    );
                    ok = false;
                }
                Some(StageWork::Fork { branches, join })
            }
            None => {
                let pool = ctx
                    .required(
                        &s.pool,
                        &span,
                        &format!("{key}.pool"),
                        "the name of a [[pool]]",
                    )
                    .and_then(|v| {
                        let name = ctx.string(v, &format!("{key}.pool"))?;
                        match pools.get(&name) {
                            Some(&p) => Some(p),
                            None => {
                                ctx.error(
                                    &v.span(),
                                    &format!("{key}.pool"),
                                    format!(
                                        "unknown pool {name:?}; known: {}",
                                        pool_names.join(", ")
                                    ),
                                );
                                None
                            }
                        }
                    });
                let service = ctx
                    .required(
                        &s.service,
                        &span,
                        &format!("{key}.service"),
                        "e.g. service = { dist = \"exponential\", mean = \"1s\" }",
                    )
                    .and_then(|d| build_dist(ctx, d, &format!("{key}.service")));
                match (pool, service) {
                    (Some(pool), Some(service)) => Some(StageWork::Serve { pool, service }),
                    _ => None,
                }
            }
        };
        let timeout = match &s.timeout {
            Some(v) => ctx
                .positive_duration(v, &format!("{key}.timeout"))
                .map(Some),
            None => Some(None),
        };
        let retry = match &s.retry {
            Some(r) => build_retry(ctx, r, &format!("{key}.retry")).map(Some),
            None => Some(None),
        };
        let only = match &s.only {
            None => Some(None),
            Some(v) => {
                let okey = format!("{key}.only");
                match v.get_ref() {
                    toml::Value::Array(items) if !items.is_empty() => {
                        let mut classes = Vec::new();
                        for item in items {
                            match item
                                .as_str()
                                .and_then(|n| class_names.iter().position(|c| c == n))
                            {
                                Some(c) => classes.push(c),
                                None => ctx.error(
                                    &v.span(),
                                    &okey,
                                    format!(
                                        "expected names of [[class]] tables, found {}; known: {}",
                                        found(item),
                                        class_names.join(", ")
                                    ),
                                ),
                            }
                        }
                        (classes.len() == items.len()).then_some(Some(classes))
                    }
                    other => {
                        ctx.error(
                            &v.span(),
                            &okey,
                            format!(
                                "expected a non-empty list of class names, found {}",
                                found(other)
                            ),
                        );
                        None
                    }
                }
            }
        };
        if fork_of[i].is_some() && s.only.is_some() {
            // Allowed: a branch that some classes skip ends at once for them.
        }
        let mut routes = Vec::new();
        let mut routes_ok = true;
        if let Some(rs) = &s.route {
            let rkey = format!("{key}.route");
            if fork_of[i].is_some() {
                ctx.error(&rs[0].span(), &rkey, "a branch hands its request back to its fork's join; put the routes on the fork stage");
                routes_ok = false;
            }
            let mut total = 0.0;
            for r in rs {
                let rr = r.get_ref();
                let p = ctx
                    .required(
                        &rr.p,
                        &r.span(),
                        &format!("{rkey}.p"),
                        "a probability in (0, 1]",
                    )
                    .and_then(|v| {
                        ctx.number(v, &format!("{rkey}.p"), "a probability in (0, 1]", |x| {
                            x > 0.0 && x <= 1.0
                        })
                    });
                let to = ctx
                    .required(
                        &rr.to,
                        &r.span(),
                        &format!("{rkey}.to"),
                        "a stage name, \"done\" or \"refuse\"",
                    )
                    .and_then(|v| {
                        let name = ctx.string(v, &format!("{rkey}.to"))?;
                        match name.as_str() {
                            "done" => Some(Target::Done),
                            "refuse" => Some(Target::Refuse),
                            _ => {
                                let t = resolve(ctx, v, &format!("{rkey}.to"))?;
                                if fork_of[t].is_some() {
                                    ctx.error(
                                        &v.span(),
                                        &format!("{rkey}.to"),
                                        format!(
                                            "stage {name:?} is a branch: route to its fork instead"
                                        ),
                                    );
                                    return None;
                                }
                                Some(Target::Stage(t))
                            }
                        }
                    });
                match (p, to) {
                    (Some(p), Some(to)) => {
                        total += p;
                        routes.push((p, to));
                    }
                    _ => routes_ok = false,
                }
            }
            if total > 1.0 + 1e-9 {
                ctx.error(
                    &rs[0].span(),
                    &rkey,
                    format!("expected probabilities that sum to at most 1, found {total}"),
                );
                routes_ok = false;
            }
        }
        // The next stage in order that is not a branch.
        let next = (i + 1..raw.len())
            .find(|&j| fork_of[j].is_none())
            .map_or(Target::Done, Target::Stage);
        let (Some(work), Some(timeout), Some(retry), Some(only), true) =
            (work, timeout, retry, only, routes_ok)
        else {
            ok = false;
            continue;
        };
        stages.push(StageSpec {
            name: names[i].0.clone().unwrap_or_default(),
            work,
            only,
            timeout,
            retry,
            routes,
            next,
            fork: fork_of[i],
        });
    }
    if !ok || names.iter().any(|(n, _)| n.is_none()) {
        return None;
    }
    Some(stages)
}
