//! A pool's queue policy: `"fifo"`, `"priority"`, `"fair"`, or a table
//! `{ kind = "deferral" | "shed" | "custom", … }`.

use super::ctx::Ctx;
use super::raw::{RawClass, RawPolicy, RawPolicyTable};
use crate::model::{PolicySpec, PoolSpec};
use toml::Spanned;

/// The kinds as a user writes them, for messages.
const POLICIES: &str = "\"fifo\", \"priority\", \"fair\", { kind = \"deferral\", … }, { kind = \"shed\", … }, { kind = \"custom\", name = … }";

/// Each policy kind and the keys of its table: the one list the loader
/// checks names and keys against.
const KINDS: [(&str, &[&str]); 6] = [
    ("fifo", &["kind"]),
    ("priority", &["kind"]),
    ("fair", &["kind"]),
    ("deferral", &["kind", "threshold", "reserved"]),
    ("shed", &["kind", "max_queue", "max_wait", "classes"]),
    ("custom", &["kind", "name"]),
];

/// `policy = "fifo"`, or a table `{ kind = "shed", max_queue = 100 }`. The
/// classes of a `shed` policy are resolved by [`resolve_shed_classes`].
/// Each value of a table is checked at its own position.
pub(super) fn build_policy(
    ctx: &mut Ctx<'_>,
    v: &Spanned<RawPolicy>,
    key: &str,
) -> Option<PolicySpec> {
    let span = v.span();
    let empty = RawPolicyTable::default();
    let (kind, kind_span, t) = match v.get_ref() {
        RawPolicy::Name(s) => (s.clone(), span.clone(), &empty),
        RawPolicy::Table(t) => match &t.kind {
            Some(k) => (ctx.string(k, &format!("{key}.kind"))?, k.span(), &**t),
            None => {
                ctx.error(
                    &span,
                    &format!("{key}.kind"),
                    format!("missing: expected kind = one of {POLICIES}"),
                );
                return None;
            }
        },
    };
    let Some(&(_, allowed)) = KINDS.iter().find(|(k, _)| *k == kind) else {
        ctx.error(
            &kind_span,
            key,
            format!("expected one of {POLICIES}, found {kind:?}"),
        );
        return None;
    };
    let present = [
        ("name", &t.name),
        ("threshold", &t.threshold),
        ("reserved", &t.reserved),
        ("max_queue", &t.max_queue),
        ("max_wait", &t.max_wait),
        ("classes", &t.classes),
    ];
    for (k, value) in present {
        if let Some(value) = value
            && !allowed.contains(&k)
        {
            ctx.error(
                &value.span(),
                &format!("{key}.{k}"),
                format!(
                    "`{k}` does not apply to policy \"{kind}\"; it takes {}",
                    allowed.join(", ")
                ),
            );
        }
    }
    match kind.as_str() {
        "fifo" => Some(PolicySpec::Fifo),
        "custom" => {
            let name = match &t.name {
                Some(v) => ctx.string(v, &format!("{key}.name"))?,
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
                let at = t.name.as_ref().map_or(span.clone(), |n| n.span());
                ctx.error_hint(
                    &at,
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
            let threshold = match &t.threshold {
                Some(v) => ctx.duration(v, &format!("{key}.threshold")),
                None => {
                    ctx.error(&span, &format!("{key}.threshold"), "missing: expected the predicted wait beyond which deferrable requests are deferred, e.g. threshold = \"30s\"");
                    None
                }
            };
            let reserved = match &t.reserved {
                Some(v) => ctx.number(
                    v,
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
            let max_queue = t.max_queue.as_ref().map(|v| {
                ctx.int(v, &format!("{key}.max_queue"), 0, i64::MAX)
                    .map(|q| q as u64)
            });
            let max_wait = t
                .max_wait
                .as_ref()
                .map(|v| ctx.duration(v, &format!("{key}.max_wait")));
            if max_queue.is_none() && max_wait.is_none() {
                ctx.error(
                    &span,
                    key,
                    "a shed policy needs `max_queue` and/or `max_wait`",
                );
                return None;
            }
            if let Some(v) = &t.classes
                && !matches!(v.get_ref(), toml::Value::Array(a) if a.iter().all(|x| x.is_str()))
            {
                ctx.expected(v, &format!("{key}.classes"), "an array of class names");
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
    policy: &Spanned<RawPolicy>,
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
    let RawPolicy::Table(table) = policy.get_ref() else {
        return;
    };
    let Some(v) = &table.classes else {
        return;
    };
    let toml::Value::Array(list) = v.get_ref() else {
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
