//! A pool's queue policy: `"fifo"`, `"priority"`, `"fair"`, or a table
//! `{ kind = "deferral" | "shed" | "custom", … }`.

use super::ctx::{Ctx, found};
use super::raw::{RawClass, Val};
use crate::model::{PolicySpec, PoolSpec};
use toml::Spanned;

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
