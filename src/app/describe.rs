//! `surge validate`: each scenario in its resolved form — pools, classes,
//! workflows, populations and SLOs as the simulation will run them.

use super::{AppError, load_all};
use crate::engine::SimDuration;
use crate::model::Scenario;
use crate::scenario::Override;
use std::path::PathBuf;

/// `surge validate`: load and check each scenario; the resolved form of
/// each valid one.
pub fn validate(paths: &[PathBuf], overrides: &[Override]) -> Result<String, AppError> {
    let loaded = load_all(paths, overrides)?;
    let mut out = String::new();
    for (l, path) in loaded.iter().zip(paths) {
        // A [sweep] table: every point must load too.
        let mut sweep_line = String::new();
        if let Some(sw) = &l.sweep {
            let grid = crate::sweep::expand(&sw.axes, sw.zip)
                .map_err(|e| AppError::Input(format!("{}: sweep: {e}", path.display())))?;
            let (_, failures) = super::sweep::load_points(path, &grid, overrides)?;
            if !failures.is_empty() {
                return Err(AppError::Diagnostics(format!(
                    "{}\n{}: {} of {} sweep points are invalid",
                    failures.join("\n"),
                    path.display(),
                    failures.len(),
                    grid.points.len()
                )));
            }
            sweep_line = format!(
                "  sweep         {} points, every one valid\n",
                grid.points.len()
            );
        }
        out.push_str(&format!("{}: ok\n", path.display()));
        out.push_str(&describe(&l.scenario));
        out.push_str(&sweep_line);
    }
    Ok(out)
}

/// A policy with its parameters.
fn describe_policy(s: &Scenario, p: &crate::model::PolicySpec) -> String {
    use crate::model::PolicySpec;
    match p {
        PolicySpec::Deferral {
            threshold,
            reserved,
        } => {
            format!("deferral (threshold {threshold}, reserved {reserved})")
        }
        PolicySpec::Shed {
            max_queue,
            max_wait,
            classes,
        } => {
            let mut parts = Vec::new();
            if let Some(q) = max_queue {
                parts.push(format!("max queue {q}"));
            }
            if let Some(w) = max_wait {
                parts.push(format!("max wait {w}"));
            }
            if let Some(c) = classes {
                let names: Vec<&str> = c.iter().map(|&i| s.classes[i].name.as_str()).collect();
                parts.push(format!("only {}", names.join(", ")));
            }
            format!("shed ({})", parts.join(", "))
        }
        other => other.name().to_string(),
    }
}

/// One line about an arrival process; `class_rate` is the class's mean rate.
fn describe_arrivals(
    s: &Scenario,
    a: &crate::model::ArrivalSpec,
    class_rate: Option<f64>,
) -> String {
    use crate::model::{ArrivalSpec, TraceSpec};
    use crate::units::format_rate;
    let mean =
        |a: &ArrivalSpec| format_rate(a.expected_count(s.duration) / s.duration.as_secs_f64());
    match a {
        ArrivalSpec::Poisson { rate_per_s } => format!("poisson {}", format_rate(*rate_per_s)),
        ArrivalSpec::Profile(p) => format!(
            "profile, mean {}, peak {}{}",
            mean(a),
            format_rate(p.peak(s.duration.as_secs_f64())),
            if p.spikes.is_empty() {
                String::new()
            } else {
                format!(", {} spike(s)", p.spikes.len())
            }
        ),
        ArrivalSpec::Trace(TraceSpec::Times { times, scale }) => {
            format!(
                "trace of {} timestamps × {scale}, mean {}",
                times.len(),
                mean(a)
            )
        }
        ArrivalSpec::Trace(TraceSpec::Counts { starts, scale, .. }) => {
            format!(
                "trace of {} intervals × {scale}, mean {}",
                starts.len(),
                mean(a)
            )
        }
        ArrivalSpec::Explicit { times } => format!("{} explicit arrivals", times.len()),
        ArrivalSpec::Users { population, share } => format!(
            "users of population {} (share {share}), mean {}",
            s.populations[*population].name,
            class_rate.map_or("-".into(), format_rate)
        ),
    }
}

/// The resolved scenario, as `surge validate` prints it.
pub fn describe(s: &Scenario) -> String {
    let mut out = String::new();
    out.push_str(&format!("  name          {}\n", s.name));
    if let Some(d) = &s.description {
        out.push_str(&format!("  description   {}\n", d.trim()));
    }
    out.push_str(&format!(
        "  duration      {} (warm-up {}, drain {})\n",
        s.duration,
        s.warmup,
        s.drain
            .map_or("until empty".to_string(), |d| format!("at most {d}"))
    ));
    out.push_str(&format!(
        "  seed          {}, {} replication{}, time-series bucket {}\n",
        s.seed,
        s.replications,
        if s.replications == 1 { "" } else { "s" },
        s.bucket_width()
    ));
    let rho = s.offered_load();
    for (p, rho) in s.pools.iter().zip(rho) {
        out.push_str(&format!(
            "  pool {:<8} {} GPUs, policy {}, speed {}, ${}/GPU-hour; offered load ρ = {:.3}{}\n",
            p.name,
            p.gpus,
            describe_policy(s, &p.policy),
            p.speed,
            p.cost_per_gpu_hour,
            rho,
            if rho >= 1.0 {
                " (mean ρ ≥ 1: see the run's verdict)"
            } else {
                ""
            }
        ));
        for step in &p.capacity {
            let change = match step.change {
                crate::model::CapacityChange::Set(n) => format!("set to {n}"),
                crate::model::CapacityChange::Add(d) => format!("{d:+}"),
            };
            out.push_str(&format!("      capacity at {}: {change} GPUs\n", step.at));
        }
        if let Some(a) = &p.autoscale {
            let trigger = match a.trigger {
                crate::model::ScaleTrigger::Utilization(u) => format!("utilization ≥ {u}"),
                crate::model::ScaleTrigger::QueuePerGpu(q) => format!("{q} waiting per GPU"),
            };
            out.push_str(&format!(
                "      autoscale {}..{} GPUs by {}, on {trigger}, every {}, delay {}, cooldown {}\n",
                a.min, a.max, a.step, a.interval, a.provision_delay, a.cooldown
            ));
        }
        if let Some(b) = &p.batching {
            out.push_str(&format!(
                "      batching: up to {} per batch, {} + {} per request, fill wait ≤ {}\n",
                b.max_batch,
                crate::engine::SimDuration::from_secs_f64(b.base_s),
                crate::engine::SimDuration::from_secs_f64(b.per_item_s),
                b.max_wait
            ));
        }
        if let Some(v) = &p.serving {
            out.push_str(&format!(
                "      serving: {} replicas of {} GPUs; up to {} sequences and {} tokens per step; KV cache {} tokens ({} blocks of {}), sequences ≤ {} tokens\n",
                v.replicas(p.gpus),
                v.gpus_per_replica,
                v.max_num_seqs,
                v.max_num_batched_tokens,
                v.kv_blocks * u64::from(crate::model::BLOCK_TOKENS),
                v.kv_blocks,
                crate::model::BLOCK_TOKENS,
                v.max_model_len
            ));
            if !v.chunked_prefill {
                out.push_str(
                    "      prefill first, unmixed: a step holds whole prompts or decodes, prompts first\n",
                );
            }
            if let crate::model::Router::Routed { kind, refresh } = v.router {
                out.push_str(&format!(
                    "      router: {} at arrival, a first-come-first-served queue per replica{}\n",
                    kind.name(),
                    match refresh {
                        Some(r) => format!("; loads as of the last refresh, every {r}"),
                        None => String::new(),
                    }
                ));
            }
            for line in step_lines(v) {
                out.push_str(&format!("      {line}\n"));
            }
        }
        if let Some(f) = &p.failures {
            out.push_str(&format!(
                "      failures: MTBF {} per GPU, repair {}\n",
                f.mtbf,
                f.mttr.describe()
            ));
        }
    }
    let rates = s.mean_rates();
    for (c, rate) in s.classes.iter().zip(rates) {
        let arrivals = describe_arrivals(s, &c.arrivals, Some(rate));
        let target: String = [
            ("latency", c.latency_target),
            ("TTFT", c.ttft_target),
            ("TPOT", c.tpot_target),
        ]
        .into_iter()
        .filter_map(|(what, t)| t.map(|t| format!("; {what} target {t}")))
        .collect();
        match c.workflow {
            Some(w) => out.push_str(&format!(
                "  class {:<7} → workflow {}; arrivals {}{}\n",
                c.name, s.workflows[w].name, arrivals, target
            )),
            None => out.push_str(&format!(
                "  class {:<7} → pool {}; arrivals {}; {}{}\n",
                c.name,
                s.pools[c.pool].name,
                arrivals,
                match &c.tokens {
                    Some(t) => format!(
                        "tokens: {} ({} of GPU time each at full batches)",
                        t.describe(),
                        crate::engine::SimDuration::from_secs_f64(c.service.mean())
                    ),
                    None => format!("service {}", c.service.describe()),
                },
                target
            )),
        }
        // Client behaviour and queue settings: everything that ran.
        let mut more = vec![
            format!("priority {}", c.priority),
            format!("weight {}", c.weight),
        ];
        if let Some(p) = &c.patience {
            more.push(format!("patience {}", p.describe()));
        }
        if let Some(r) = &c.retry {
            more.push(format!(
                "retry up to {} attempts, backoff {}s × {}^(k−1) up to {}s, jitter {}",
                r.max_attempts, r.base_s, r.factor, r.max_s, r.jitter
            ));
        }
        if let Some(l) = &c.limit {
            more.push(format!(
                "limit {}, burst {}, per {}",
                crate::units::format_rate(l.rate_per_s),
                l.burst,
                if l.per_user { "user" } else { "class" }
            ));
        }
        if c.deferrable {
            more.push(match &c.deferred_patience {
                Some(p) => format!("deferrable, deferred patience {}", p.describe()),
                None => "deferrable".into(),
            });
        }
        out.push_str(&format!("          {}\n", more.join("; ")));
    }
    for w in &s.workflows {
        out.push_str(&format!("  workflow {}:\n", w.name));
        out.push_str(&describe_workflow(s, w));
    }
    for p in &s.populations {
        out.push_str(&format!(
            "  population {}: signups {}; {:.2} requests per session on average, think time {}{}\n",
            p.name,
            describe_arrivals(s, &p.signups, None),
            p.requests.mean(),
            p.think.describe(),
            p.returns.as_ref().map_or(String::new(), |r| format!(
                "; returns with probability {} after {}",
                r.probability,
                r.after.describe()
            ))
        ));
    }
    for slo in &s.slos {
        // Bounds in the metric's unit: "≤ 1.5s", not "≤ 1.5".
        let show = |x: f64| {
            if slo.metric.unit() == crate::metric::Unit::Seconds {
                SimDuration::from_secs_f64(x).to_string()
            } else {
                crate::rows::format_number(x)
            }
        };
        let mut bounds = Vec::new();
        if let Some(m) = slo.min {
            bounds.push(format!("≥ {}", show(m)));
        }
        if let Some(m) = slo.max {
            bounds.push(format!("≤ {}", show(m)));
        }
        out.push_str(&format!(
            "  slo           {} {} {}\n",
            slo.scope(),
            slo.metric,
            bounds.join(" and ")
        ));
    }
    out
}

/// The stages of workflow `w`, one line each: what it does, what follows.
fn describe_workflow(s: &Scenario, w: &crate::model::WorkflowSpec) -> String {
    use crate::model::{Join, StageWork, Target};
    let target = |t: Target| match t {
        Target::Stage(i) => w.stages[i].name.clone(),
        Target::Done => "done".into(),
        Target::Refuse => "refuse".into(),
    };
    let mut out = String::new();
    for st in &w.stages {
        let mut parts = vec![match &st.work {
            StageWork::Serve { pool, service } => {
                format!(
                    "on pool {}, service {}",
                    s.pools[*pool].name,
                    service.describe()
                )
            }
            StageWork::Fork { branches, join } => format!(
                "fork to {}, join {}",
                branches
                    .iter()
                    .map(|&b| w.stages[b].name.as_str())
                    .collect::<Vec<_>>()
                    .join(" + "),
                if *join == Join::All { "all" } else { "first" }
            ),
        }];
        if let Some(only) = &st.only {
            let names: Vec<&str> = only.iter().map(|&c| s.classes[c].name.as_str()).collect();
            parts.push(format!("only {}", names.join(", ")));
        }
        if let Some(t) = st.timeout {
            parts.push(format!("timeout {t}"));
        }
        if let Some(r) = &st.retry {
            parts.push(format!("retried up to {} attempts", r.max_attempts));
        }
        let then = match st.fork {
            Some(f) => format!("back to {}", w.stages[f].name),
            None => {
                let mut routes: Vec<String> = st
                    .routes
                    .iter()
                    .map(|&(p, t)| {
                        format!("{}% {}", crate::rows::format_number(p * 100.0), target(t))
                    })
                    .collect();
                routes.push(if st.routes.is_empty() {
                    target(st.next)
                } else {
                    format!("else {}", target(st.next))
                });
                routes.join(", ")
            }
        };
        parts.push(format!("then {then}"));
        out.push_str(&format!("    stage {:<9} {}\n", st.name, parts.join("; ")));
    }
    out
}

/// The step model in words: its source, its coefficients, and (for
/// rooflines) what a few reference steps take.
fn step_lines(v: &crate::model::ServingSpec) -> Vec<String> {
    use crate::model::{Roofline, StepModel, StepSource};
    use crate::report::format_secs;
    let d = |x: f64| crate::engine::SimDuration::from_secs_f64(x).to_string();
    let fitted = |m: &StepModel| {
        format!(
            "step: {} + {} with prefill + {}/prefill token + {}/decoding sequence + {}/context token",
            d(m.base_s),
            d(m.prefill_base_s),
            d(m.per_prefill_token_s),
            d(m.per_decode_seq_s),
            d(m.per_context_token_s)
        )
    };
    let on = |r: &Roofline| format!("{} on {} × {}", r.model.name, r.tp, r.gpu.name);
    let mut out = match v.step.source() {
        StepSource::Fitted => return vec![fitted(&v.step.lines()[0])],
        StepSource::Roofline(r) => {
            let e = &r.efficiency;
            vec![format!(
                "step: roofline of {} at {:.0}% of peak FLOP/s and {:.0}% of HBM bandwidth, overhead {}, all-reduce latency {}",
                on(r),
                e.mfu * 100.0,
                e.bandwidth_utilization * 100.0,
                format_secs(e.overhead_s),
                format_secs(e.allreduce_latency_s)
            )]
        }
        StepSource::Clamped(r) => vec![
            fitted(&v.step.lines()[0]),
            format!(
                "  held above the roofline floor of {} (peak FLOP/s and bandwidth)",
                on(r)
            ),
        ],
    };
    let n = u64::from(v.max_num_seqs);
    let chunk = u64::from(v.max_num_batched_tokens);
    out.push(format!(
        "  reference steps: 1 decoding sequence {}; {n} at 1,000 tokens of context each {}; a prefill chunk of {chunk} tokens {}",
        format_secs(v.step.step_s(0, 1, 0)),
        format_secs(v.step.step_s(0, n, n * 1000)),
        format_secs(v.step.step_s(chunk, 0, 0))
    ));
    out
}
