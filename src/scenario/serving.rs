//! `[pool.serving]`: LLM replicas doing continuous batching, their
//! step-time model (explicit coefficients, a roofline from presets, or
//! coefficients held above the roofline floor) and their KV cache.

use super::ctx::Ctx;
use super::raw::{RawGpu, RawModelShape, RawServing, RawStep, Val};
use crate::engine::SimDuration;
use crate::model::serving::roofline::{
    Efficiency, GPU_PRESETS, GpuSpec, MODEL_PRESETS, ModelShape, Roofline, gpu_preset, model_preset,
};
use crate::model::{BLOCK_TOKENS, Router, RouterKind, ServingSpec, StepModel, StepTime};
use std::ops::Range;
use toml::Spanned;

/// `[pool.serving]`: LLM replicas doing continuous batching on `gpus`
/// GPUs (if valid).
pub(super) fn build_serving(
    ctx: &mut Ctx<'_>,
    sv: &Spanned<RawServing>,
    key: &str,
    gpus: Option<u32>,
) -> Option<ServingSpec> {
    let r = sv.get_ref();
    let span = sv.span();
    let k = |n: &str| format!("{key}.{n}");
    let int_or = |ctx: &mut Ctx<'_>, v: &Option<Val>, n: &str, default: i64, max: i64| match v {
        Some(v) => ctx.int(v, &k(n), 1, max),
        None => Some(default),
    };
    let tp = int_or(ctx, &r.gpus_per_replica, "gpus_per_replica", 1, 1024).map(|x| x as u32);
    let seqs = int_or(ctx, &r.max_num_seqs, "max_num_seqs", 256, 1_000_000).map(|x| x as u32);
    let chunked = match &r.enable_chunked_prefill {
        Some(v) => match v.get_ref() {
            toml::Value::Boolean(b) => Some(*b),
            _ => {
                ctx.expected(v, &k("enable_chunked_prefill"), "true or false");
                None
            }
        },
        None => Some(true),
    };
    let budget = r.max_num_batched_tokens.as_ref().map(|v| {
        ctx.int(v, &k("max_num_batched_tokens"), 1, 100_000_000)
            .map(|x| x as u32)
    });
    let roofline = build_roofline(ctx, r, key, tp);
    let kv_tokens = match (&r.kv_cache_tokens, &roofline) {
        (Some(v), _) => {
            if let (Some(u), Derived::Roofline(..)) = (&r.gpu_memory_utilization, &roofline) {
                ctx.error_hint(
                    &u.span(),
                    &k("gpu_memory_utilization"),
                    "`gpu_memory_utilization` derives the KV cache, which kv_cache_tokens already gives",
                    "give one of them",
                );
            }
            ctx.int(
                v,
                &k("kv_cache_tokens"),
                i64::from(BLOCK_TOKENS),
                1_000_000_000_000,
            )
        }
        (None, Derived::Roofline(rf, util)) => derived_kv(ctx, rf, *util, r, &span, key),
        (None, Derived::Invalid) => None,
        (None, Derived::None) => {
            ctx.error_hint(
                &span,
                &k("kv_cache_tokens"),
                "expected the KV-cache capacity of one replica in tokens",
                "set kv_cache_tokens = 500000, or model and gpu (presets) to derive it from GPU memory",
            );
            None
        }
    };
    let kv_blocks = kv_tokens.map(|t| t as u64 / u64::from(BLOCK_TOKENS));
    let capacity_tokens = kv_blocks.map(|b| b * u64::from(BLOCK_TOKENS));
    let max_len = match &r.max_model_len {
        Some(v) => ctx
            .int(v, &k("max_model_len"), 2, 100_000_000)
            .map(|x| x as u32),
        None => capacity_tokens.map(|t| t.min(100_000_000) as u32),
    };
    let step = match (&r.step, &roofline) {
        (Some(st), Derived::Roofline(rf, _)) => build_step(ctx, st, &k("step")).map(|m| {
            warn_below_floor(ctx, st, &k("step"), &m, rf, seqs, budget.flatten());
            StepTime::clamped(m, (**rf).clone())
        }),
        (Some(st), _) => build_step(ctx, st, &k("step")).map(StepTime::fitted),
        (None, Derived::Roofline(rf, _)) => Some(StepTime::roofline((**rf).clone())),
        (None, Derived::Invalid) => None,
        (None, Derived::None) => {
            ctx.error_hint(
                &span,
                &k("step"),
                "expected a step-time model",
                "set step = { base = \"8ms\", per_decode_seq = \"0.1ms\" }, or model and gpu (presets) for a roofline",
            );
            None
        }
    };
    let router = match &r.router {
        Some(v) => build_router(ctx, v, &k("router")),
        None => Some(Router::Central),
    };
    // The budget defaults as vLLM's does: 2,048 tokens with chunked
    // prefill; without, the longest sequence (a prompt goes whole).
    let budget = match (budget, chunked, max_len) {
        (Some(b), _, _) => b,
        (None, Some(false), Some(len)) => Some(len.max(2048)),
        (None, Some(false), None) => None,
        (None, _, _) => Some(2048),
    };
    let mut ok = true;
    if let (Some(false), Some(budget), Some(len)) = (chunked, budget, max_len)
        && budget < len
    {
        ctx.error_hint(
            &r.max_num_batched_tokens.as_ref().map_or(span.clone(), |v| v.span()),
            &k("max_num_batched_tokens"),
            format!(
                "expected a token budget ≥ max_model_len ({len}) without chunked prefill, found {budget}: a step must hold a whole prompt"
            ),
            "raise max_num_batched_tokens, lower max_model_len, or enable_chunked_prefill = true",
        );
        ok = false;
    }
    if let (Some(seqs), Some(budget)) = (seqs, budget)
        && budget < seqs
    {
        ctx.error_hint(
            &r.max_num_batched_tokens.as_ref().map_or(span.clone(), |v| v.span()),
            &k("max_num_batched_tokens"),
            format!(
                "expected a token budget ≥ max_num_seqs ({seqs}), found {budget}: every running sequence decodes one token per step"
            ),
            "raise max_num_batched_tokens or lower max_num_seqs",
        );
        ok = false;
    }
    if let (Some(cap), Some(max_len)) = (capacity_tokens, max_len)
        && u64::from(max_len) > cap
    {
        ctx.error(
            &r.max_model_len.as_ref().map_or(span.clone(), |v| v.span()),
            &k("max_model_len"),
            format!(
                "expected at most the KV cache of one replica ({cap} tokens), found {max_len}: a sequence that long could never run"
            ),
        );
        ok = false;
    }
    if let (Some(g), Some(tp)) = (gpus, tp) {
        let at = r
            .gpus_per_replica
            .as_ref()
            .map_or(span.clone(), |v| v.span());
        if g < tp {
            ctx.error_hint(
                &at,
                &k("gpus_per_replica"),
                format!("expected at most the pool's gpus ({g}), found {tp}: not one replica fits"),
                format!("set gpus to {tp} or more"),
            );
            ok = false;
        } else if g % tp != 0 {
            ctx.push(
                super::diagnostic::Severity::Warning,
                &at,
                &k("gpus_per_replica"),
                format!(
                    "the pool's {g} GPUs make {} whole replicas of {tp}: {} GPUs serve nothing (they are billed)",
                    g / tp,
                    g % tp
                ),
                Some(format!("set gpus to a multiple of {tp}")),
            );
        }
    }
    let spec = ServingSpec {
        gpus_per_replica: tp?,
        max_num_seqs: seqs?,
        max_num_batched_tokens: budget?,
        kv_blocks: kv_blocks?,
        max_model_len: max_len?,
        step: step?,
        router: router?,
        chunked_prefill: chunked?,
    };
    ok.then_some(spec)
}

/// `step = { base, prefill_base, per_prefill_token, per_decode_seq,
/// per_context_token }`: durations, each 0 if left out; a step must take
/// time.
fn build_step(ctx: &mut Ctx<'_>, st: &Spanned<RawStep>, key: &str) -> Option<StepModel> {
    let r = st.get_ref();
    let mut get = |v: &Option<Val>, n: &str| match v {
        Some(v) => ctx
            .duration(v, &format!("{key}.{n}"))
            .map(|d| d.as_secs_f64()),
        None => Some(0.0),
    };
    let base = get(&r.base, "base");
    let prefill_base = get(&r.prefill_base, "prefill_base");
    let per_prefill = get(&r.per_prefill_token, "per_prefill_token");
    let per_decode = get(&r.per_decode_seq, "per_decode_seq");
    let per_context = get(&r.per_context_token, "per_context_token");
    let m = StepModel {
        base_s: base?,
        prefill_base_s: prefill_base?,
        per_prefill_token_s: per_prefill?,
        per_decode_seq_s: per_decode?,
        per_context_token_s: per_context?,
    };
    if m.base_s + m.per_decode_seq_s <= 0.0 {
        ctx.error_hint(
            &st.span(),
            key,
            "a decode step must take time: `base` and `per_decode_seq` are both 0",
            "set base = \"5ms\" or per_decode_seq = \"0.1ms\"",
        );
        return None;
    }
    if m.base_s + m.prefill_base_s + m.per_prefill_token_s <= 0.0 {
        ctx.error_hint(
            &st.span(),
            key,
            "a prefill step must take time: `base`, `prefill_base` and `per_prefill_token` are all 0",
            "set per_prefill_token = \"0.05ms\"",
        );
        return None;
    }
    Some(m)
}

/// The roofline a pool's serving table asks for, if any.
enum Derived {
    /// Neither `model` nor `gpu`.
    None,
    /// `model` and `gpu`, with the memory share for the KV cache.
    Roofline(Box<Roofline>, f64),
    /// Asked for, but invalid (reported).
    Invalid,
}

/// `model`, `gpu` and the efficiencies of a roofline; the keys that only
/// a roofline uses are refused without one.
fn build_roofline(ctx: &mut Ctx<'_>, r: &RawServing, key: &str, tp: Option<u32>) -> Derived {
    let k = |n: &str| format!("{key}.{n}");
    let roofline_only: [(&str, &Option<Val>); 4] = [
        ("mfu", &r.mfu),
        ("bandwidth_utilization", &r.bandwidth_utilization),
        ("overhead", &r.overhead),
        ("allreduce_latency", &r.allreduce_latency),
    ];
    let (model, gpu) = match (&r.model, &r.gpu) {
        (None, None) => {
            for (name, v) in roofline_only
                .iter()
                .chain([("gpu_memory_utilization", &r.gpu_memory_utilization)].iter())
            {
                if let Some(v) = v {
                    ctx.error_hint(
                        &v.span(),
                        &k(name),
                        format!("`{name}` applies to a roofline step model"),
                        "set model and gpu (presets), or remove it",
                    );
                }
            }
            return Derived::None;
        }
        (Some(m), None) | (None, Some(m)) => {
            let (given, missing) = if r.model.is_some() {
                ("model", "gpu")
            } else {
                ("gpu", "model")
            };
            ctx.error_hint(
                &m.span(),
                &k(missing),
                format!(
                    "a roofline needs both model and gpu: `{given}` is given, `{missing}` is not"
                ),
                format!(
                    "add {missing} = {}",
                    if missing == "gpu" {
                        "\"h100-sxm\""
                    } else {
                        "\"llama-3.1-70b\""
                    }
                ),
            );
            return Derived::Invalid;
        }
        (Some(m), Some(g)) => (
            build_model(ctx, m, &k("model")),
            build_gpu(ctx, g, &k("gpu")),
        ),
    };
    if r.step.is_some() {
        // A fitted model held above the floor: the floor runs at peak.
        for (name, v) in roofline_only {
            if let Some(v) = v {
                ctx.error_hint(
                    &v.span(),
                    &k(name),
                    format!("`{name}` does not apply beside `step`: the fitted step is held above the roofline at peak, which has no efficiencies"),
                    format!("remove `{name}`, or remove `step` to use the roofline at these efficiencies"),
                );
            }
        }
    }
    let share = |ctx: &mut Ctx<'_>, v: &Option<Val>, n: &str, default: f64| match v {
        Some(v) => ctx.number(v, &k(n), "a share in (0, 1]", |x| x > 0.0 && x <= 1.0),
        None => Some(default),
    };
    let time = |ctx: &mut Ctx<'_>, v: &Option<Val>, n: &str, default: f64| match v {
        Some(v) => ctx.duration(v, &k(n)).map(SimDuration::as_secs_f64),
        None => Some(default),
    };
    let d = Efficiency::FITTED;
    let mfu = share(ctx, &r.mfu, "mfu", d.mfu);
    let bw = share(
        ctx,
        &r.bandwidth_utilization,
        "bandwidth_utilization",
        d.bandwidth_utilization,
    );
    let mem = share(
        ctx,
        &r.gpu_memory_utilization,
        "gpu_memory_utilization",
        0.9,
    );
    let overhead = time(ctx, &r.overhead, "overhead", d.overhead_s);
    let latency = time(
        ctx,
        &r.allreduce_latency,
        "allreduce_latency",
        d.allreduce_latency_s,
    );
    let built = (|| {
        Some(Derived::Roofline(
            Box::new(Roofline {
                model: model?,
                gpu: gpu?,
                tp: tp?,
                efficiency: Efficiency {
                    mfu: mfu?,
                    bandwidth_utilization: bw?,
                    overhead_s: overhead?,
                    allreduce_latency_s: latency?,
                },
            }),
            mem?,
        ))
    })();
    built.unwrap_or(Derived::Invalid)
}

/// The KV cache a roofline's memory leaves for it, tokens.
fn derived_kv(
    ctx: &mut Ctx<'_>,
    rf: &Roofline,
    util: f64,
    r: &RawServing,
    span: &Range<usize>,
    key: &str,
) -> Option<i64> {
    let at = r.model.as_ref().map_or(span.clone(), |v| v.span());
    match rf.kv_cache_tokens(util) {
        Some(t) if t >= u64::from(BLOCK_TOKENS) => Some(t.min(1_000_000_000_000) as i64),
        _ => {
            ctx.error_hint(
                &at,
                &format!("{key}.model"),
                format!(
                    "the weights of {} ({:.1} GB) leave no KV cache in {} × {} ({:.1} GB each, {:.0}% usable)",
                    rf.model.name,
                    rf.model.weight_bytes() / 1e9,
                    rf.tp,
                    rf.gpu.name,
                    rf.gpu.memory / 1e9,
                    util * 100.0
                ),
                "raise gpus_per_replica, or give kv_cache_tokens",
            );
            None
        }
    }
}

/// A preset by name, or a table read into `R` and checked by `build`
/// (which says what is wrong, or gives the value).
fn preset_or_table<T, R: serde::de::DeserializeOwned>(
    ctx: &mut Ctx<'_>,
    v: &Val,
    key: &str,
    what: &str,
    preset: fn(&str) -> Option<T>,
    build: impl FnOnce(R) -> Result<T, &'static str>,
) -> Option<T> {
    let raw = match v.get_ref() {
        toml::Value::String(s) => {
            return preset(s).or_else(|| {
                ctx.expected(v, key, what);
                None
            });
        }
        toml::Value::Table(t) => toml::Value::Table(t.clone()).try_into::<R>(),
        _ => {
            ctx.expected(v, key, what);
            return None;
        }
    };
    let built = raw
        .map_err(|e| format!("expected {what}: {}", e.message()))
        .and_then(|r| build(r).map_err(str::to_string));
    built.map_err(|m| ctx.error(&v.span(), key, m)).ok()
}

/// `model = "preset"` or `model = { params, layers, … }`.
fn build_model(ctx: &mut Ctx<'_>, v: &Val, key: &str) -> Option<ModelShape> {
    let what = format!(
        "a model preset ({}) or a table {{ params, layers, hidden, heads, kv_heads, head_dim, bytes_per_param }}",
        quoted(MODEL_PRESETS)
    );
    preset_or_table(ctx, v, key, &what, model_preset, |m: RawModelShape| {
        let bytes = m.bytes_per_param.unwrap_or(2.0);
        let ok = m.params.is_finite()
            && m.params > 0.0
            && bytes.is_finite()
            && bytes > 0.0
            && [m.layers, m.hidden, m.heads, m.kv_heads, m.head_dim]
                .iter()
                .all(|&x| x > 0)
            && m.kv_heads <= m.heads;
        if !ok {
            return Err(
                "expected positive params, layers, hidden, heads, kv_heads (≤ heads), head_dim and bytes_per_param",
            );
        }
        Ok(ModelShape {
            name: "custom model".to_string(),
            params: m.params,
            layers: m.layers,
            hidden: m.hidden,
            heads: m.heads,
            kv_heads: m.kv_heads,
            head_dim: m.head_dim,
            bytes_per_param: bytes,
        })
    })
}

/// `gpu = "preset"` or `gpu = { tflops, hbm_tb_s, memory_gb, link_gb_s }`.
fn build_gpu(ctx: &mut Ctx<'_>, v: &Val, key: &str) -> Option<GpuSpec> {
    let what = format!(
        "a GPU preset ({}) or a table {{ tflops, hbm_tb_s, memory_gb, link_gb_s }}",
        quoted(GPU_PRESETS)
    );
    preset_or_table(ctx, v, key, &what, gpu_preset, |g: RawGpu| {
        let all = [g.tflops, g.hbm_tb_s, g.memory_gb, g.link_gb_s];
        if !all.iter().all(|x| x.is_finite() && *x > 0.0) {
            return Err("expected positive tflops, hbm_tb_s, memory_gb and link_gb_s");
        }
        Ok(GpuSpec {
            name: "custom GPU".to_string(),
            flops: g.tflops * 1e12,
            hbm_bandwidth: g.hbm_tb_s * 1e12,
            memory: g.memory_gb * 1e9,
            link_bandwidth: g.link_gb_s * 1e9,
        })
    })
}

fn quoted(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("{n:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Say where a fitted step would run faster than the roofline floor
/// (surge holds those steps at the floor): a lone decode step, a full
/// batch of decodes at 1,000 tokens of context each, a full prefill chunk.
fn warn_below_floor(
    ctx: &mut Ctx<'_>,
    st: &Spanned<RawStep>,
    key: &str,
    m: &StepModel,
    rf: &Roofline,
    seqs: Option<u32>,
    budget: Option<u32>,
) {
    let floor = rf.floor();
    let seqs = u64::from(seqs.unwrap_or(256));
    let budget = u64::from(budget.unwrap_or(2048));
    let cases = [
        ("one decoding sequence", 0, 1, 0),
        (
            "a full batch decoding at 1,000 tokens of context",
            0,
            seqs,
            seqs * 1000,
        ),
        ("a full prefill chunk", budget, 0, 0),
    ];
    let below: Vec<String> = cases
        .iter()
        .filter_map(|&(what, p, d, c)| {
            let fit = m.step_s(p, d, c);
            let low = floor[0].step_s(p, d, c).max(floor[1].step_s(p, d, c));
            (fit < low).then(|| format!("{what}: {:.1}ms < {:.1}ms", fit * 1e3, low * 1e3))
        })
        .collect();
    if !below.is_empty() {
        ctx.push(
            super::diagnostic::Severity::Warning,
            &st.span(),
            key,
            format!(
                "the fitted step runs faster than {} on {} × {} can at peak ({}); surge holds such steps at the roofline floor and counts them (floor_steps in replicas.csv)",
                rf.model.name,
                rf.tp,
                rf.gpu.name,
                below.join("; ")
            ),
            Some("check the fit's hardware, or remove model and gpu".to_string()),
        );
    }
}

/// `router = "power-of-two"` or `router = { kind = "least-outstanding",
/// refresh = "100ms" }`; `"central"` is the shared queue.
fn build_router(ctx: &mut Ctx<'_>, v: &Val, key: &str) -> Option<Router> {
    let names: Vec<&str> = std::iter::once("central")
        .chain(RouterKind::ALL.iter().map(|k| k.name()))
        .collect();
    let what = format!(
        "a router ({}) or a table {{ kind, refresh }}",
        quoted(&names)
    );
    let kind_of = |s: &str| RouterKind::ALL.iter().copied().find(|k| k.name() == s);
    let (kind, refresh) = match v.get_ref() {
        toml::Value::String(s) if s == "central" => return Some(Router::Central),
        toml::Value::String(s) => (kind_of(s), None),
        toml::Value::Table(t) => {
            if let Some(extra) = t.keys().find(|k| *k != "kind" && *k != "refresh") {
                ctx.error(
                    &v.span(),
                    key,
                    format!("unknown key `{extra}`: expected {what}"),
                );
                return None;
            }
            let kind = t.get("kind").and_then(|k| k.as_str()).and_then(kind_of);
            let refresh = match t.get("refresh") {
                None => Some(None),
                Some(toml::Value::String(s)) => crate::units::parse_duration(s)
                    .filter(|d| d.as_secs_f64() > 0.0)
                    .map(Some),
                Some(_) => None,
            };
            let Some(refresh) = refresh else {
                ctx.error(
                    &v.span(),
                    &format!("{key}.refresh"),
                    format!("expected a positive {}", crate::units::DURATION_EXPECTED),
                );
                return None;
            };
            (kind, refresh)
        }
        _ => (None, None),
    };
    match kind {
        Some(kind) => Some(Router::Routed { kind, refresh }),
        None => {
            ctx.expected(v, key, &what);
            None
        }
    }
}
