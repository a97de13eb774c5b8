//! The results of a replication at its end: per class, pool and
//! population, from the statistics the run kept; the verdicts on them.

use super::flows::FLOW_TRACE;
use super::replica::Replicas;
use super::server::Model;
use super::slab::State;
use super::{Route, Sim};
use crate::engine::SimTime;
use crate::model::results::{ClassResult, PoolResult, PopulationResult, RunResult, ServingResult};

impl Sim<'_> {
    /// The replication's results (the run is over).
    pub(super) fn finish(mut self) -> RunResult {
        let sc = self.scenario;
        let end = self.last_event;
        // The measured window, [warmup, duration), or up to an early stop.
        let window_end = match self.stopped {
            Some(s) => s.at.min(SimTime(sc.duration.0)),
            None => SimTime(sc.duration.0),
        };
        let window_s = (window_end.as_secs_f64() - sc.warmup.as_secs_f64()).max(0.0);

        let (mut requests_in_system, mut in_system) = self.flows_in_system();
        let mut stages = self.stage_results();
        for r in self.requests.records() {
            if r.state != State::Free
                && matches!(self.classes[r.class as usize].route, Route::Pool(_))
            {
                requests_in_system += 1;
                if r.first_arrival >= self.warmup {
                    in_system[r.class as usize] += 1;
                }
            }
        }

        let classes: Vec<ClassResult> = self
            .classes
            .iter_mut()
            .zip(&sc.classes)
            .zip(in_system)
            .zip(stages.iter_mut())
            .map(|(((c, spec), in_system), stages)| {
                let st = std::mem::take(&mut c.stats);
                let has_target = spec.has_targets();
                ClassResult {
                    arrivals: st.arrivals,
                    completed: st.completed,
                    rejected: st.rejected,
                    abandoned: st.abandoned,
                    in_system,
                    attempts: st.attempts,
                    rejected_attempts: st.rejected_attempts,
                    abandoned_attempts: st.abandoned_attempts,
                    failed: st.failed,
                    failed_attempts: st.failed_attempts,
                    // Goodput: completions inside the measured window over
                    // its length, never above capacity.
                    throughput_per_s: if window_s > 0.0 {
                        st.completed_in_window as f64 / window_s
                    } else {
                        0.0
                    },
                    slo_attainment: (has_target && st.arrivals > 0)
                        .then(|| st.slo_met as f64 / st.arrivals as f64),
                    slo_met: st.slo_met,
                    slo_arrivals: if has_target { st.arrivals } else { 0 },
                    wait: st.wait,
                    latency: st.latency,
                    deferred: st.deferred,
                    deferred_latency: st.deferred_latency,
                    ttft: st.ttft,
                    tpot: st.tpot,
                    goodput_per_s: c.tokens.as_ref().map(|t| {
                        if window_s > 0.0 {
                            t.good_in_window as f64 / window_s
                        } else {
                            0.0
                        }
                    }),
                    stages: std::mem::take(stages),
                    ..ClassResult::new(&spec.name)
                }
            })
            .collect();
        let mut all = ClassResult::new("all");
        for c in &classes {
            all.absorb(c);
        }

        let offered = sc.offered_load();
        let pools = self
            .pools
            .iter_mut()
            .zip(&sc.pools)
            .zip(offered)
            .map(|((p, spec), offered_load)| {
                let gpus_mean = p.online.window_mean(end);
                let busy_gpus_mean = p.busy_level.window_mean(end);
                let gpu_hours = p.billed.window_integral_s(end) / 3600.0;
                PoolResult {
                    name: spec.name.clone(),
                    gpus_mean,
                    busy_gpus_mean,
                    utilization: if gpus_mean > 0.0 {
                        busy_gpus_mean / gpus_mean
                    } else {
                        0.0
                    },
                    offered_load,
                    gpu_hours,
                    cost_usd: gpu_hours * spec.cost_per_gpu_hour,
                    queue_mean: p.queue.window_mean(end),
                    queue_max: p.queue.window_max(),
                    deferred: p.deferred,
                    shed: p.shed,
                    failed: p.failures_lost,
                    verdict: Default::default(),
                    serving: match &mut p.server.model {
                        Model::Replicas(reps) => Some(serving_result(reps, window_s, end)),
                        _ => None,
                    },
                }
            })
            .collect();
        let populations = self
            .populations
            .iter_mut()
            .zip(&sc.populations)
            .map(|(p, spec)| PopulationResult {
                name: spec.name.clone(),
                signups: p.signups_total,
                users_online_mean: p.online.window_mean(end),
                users_online_max: p.online.window_max(),
            })
            .collect();

        let tracer = std::mem::take(&mut self.tracer);
        let trace = tracer.into_records(|slot| {
            if slot & FLOW_TRACE != 0 {
                self.flow_attempts(slot)
            } else {
                self.requests.attempt(slot)
            }
        });
        let mut run = RunResult {
            replication: self.replication,
            seed: sc.seed,
            trace,
            classes,
            all,
            pools,
            populations,
            timeseries: self.timeseries,
            stage_series: self.stage_series,
            serving_series: self.serving_series,
            events: self.events.events_processed(),
            requests: self.total_arrivals,
            requests_finished: self.total_finished,
            requests_in_system,
            end_time: end,
            window_s,
            stopped: self.stopped,
        };
        for (p, v) in crate::model::verdict::judge(sc, &run)
            .into_iter()
            .enumerate()
        {
            run.pools[p].verdict = v;
        }
        run
    }
}

/// A serving pool's token-level results at the end of the run, over a
/// window of `window_s` seconds.
fn serving_result(reps: &mut Replicas, window_s: f64, end: SimTime) -> ServingResult {
    let replicas_mean = reps.in_service.window_mean(end);
    let per_s = |n: u64| {
        if window_s > 0.0 {
            n as f64 / window_s
        } else {
            0.0
        }
    };
    let kv_cap = reps.spec.kv_blocks as f64;
    let w = reps.window_counts;
    let online = reps.replicas.len().max(1) as f64;
    ServingResult {
        replicas_mean,
        prefill_tokens_per_s: per_s(w.prefilled),
        output_tokens_per_s: per_s(w.generated),
        running_mean: if replicas_mean > 0.0 {
            reps.running.window_mean(end) / replicas_mean
        } else {
            0.0
        },
        running_max: reps.running.window_max(),
        kv_utilization: if replicas_mean > 0.0 {
            reps.kv.window_mean(end) / (kv_cap * replicas_mean)
        } else {
            0.0
        },
        kv_utilization_max: reps.kv.window_max() as f64 / (kv_cap * online),
        preemptions: w.preemptions,
        steps: w.steps,
        floor_steps: w.floor_steps,
        output_tokens: reps.counts.generated,
        prefill_tokens: reps.counts.prefilled,
    }
}
