//! The replica engine against closed forms and a step-by-step reference.
use super::*;
use crate::engine::SimDuration;
use crate::model::StepModel;

const LINE: StepModel = StepModel {
    base_s: 0.01,
    prefill_base_s: 0.0,
    per_prefill_token_s: 1e-5,
    per_decode_seq_s: 1e-3,
    per_context_token_s: 1e-6,
};

fn spec(kv_blocks: u64, max_num_seqs: u32) -> ServingSpec {
    ServingSpec {
        gpus_per_replica: 1,
        max_num_seqs,
        max_num_batched_tokens: 4096,
        kv_blocks,
        max_model_len: (kv_blocks * 16) as u32,
        step: StepTime::fitted(LINE),
        router: crate::model::Router::Central,
        chunked_prefill: true,
    }
}

/// Run replica 0 to idle with every sequence admitted at time 0; the
/// finished sequences' (request, finish time) and the boundaries.
fn run(reps: &mut Replicas, seqs: &[(u32, u32)]) -> (Vec<(u32, SimTime)>, u64) {
    reps.ensure(1);
    for (i, &(p, o)) in seqs.iter().enumerate() {
        let s = reps.sequence(i as u32, p, o);
        if let Err(s) = reps.admit(0, s) {
            reps.replicas[0].pending.push_back(s);
        }
    }
    let mut now = SimTime::ZERO;
    let mut done = Vec::new();
    let mut events = 0;
    let mut out = Vec::new();
    while let Some(at) = reps.plan(0, now) {
        now = at;
        events += 1;
        reps.boundary(0, now, false, &mut out);
        for h in out.drain(..) {
            if let Happened::Finished { seq } = h {
                done.push((seq.request, now));
            }
        }
        while let Some(s) = reps.replicas[0].pending.pop_front() {
            if let Err(s) = reps.admit(0, s) {
                reps.replicas[0].pending.push_front(s);
                break;
            }
        }
    }
    (done, events)
}

#[test]
fn a_lone_sequence_takes_its_steps_in_closed_form() {
    let mut reps = Replicas::new(spec(1000, 8), 1.0, (SimTime::ZERO, SimTime::MAX));
    let (done, events) = run(&mut reps, &[(100, 50)]);
    // One prefill step (100 tokens), then 49 decode steps at context
    // 101, 102, …, 149: one event each for the prefill and the run.
    assert_eq!(events, 2);
    let prefill = 0.01 + 100.0 * 1e-5;
    let decode: f64 = (101..150).map(|c| 0.01 + 1e-3 + 1e-6 * f64::from(c)).sum();
    let want = SimDuration::from_secs_f64(prefill) + SimDuration::from_secs_f64(decode);
    assert_eq!(done.len(), 1);
    assert!((done[0].1.as_secs_f64() - want.as_secs_f64()).abs() < 1e-8);
    assert_eq!(reps.counts.generated, 50);
    assert_eq!(reps.counts.prefilled, 100);
    assert_eq!(reps.counts.steps, 50);
}

#[test]
fn a_full_kv_cache_preempts_the_newest_and_every_token_is_still_generated() {
    // 20 blocks = 320 tokens; two sequences of 100 + 200 tokens cannot
    // both finish at once.
    let mut reps = Replicas::new(spec(20, 8), 1.0, (SimTime::ZERO, SimTime::MAX));
    let (done, _) = run(&mut reps, &[(100, 200), (100, 200)]);
    assert_eq!(done.len(), 2);
    assert!(reps.counts.preemptions >= 1);
    assert_eq!(reps.counts.generated, 400);
    // The first admitted is never the one preempted: it finishes first.
    assert_eq!(done[0].0, 0);
    // Recomputation prefilled more than the two prompts.
    assert!(reps.counts.prefilled > 200);
    assert_eq!(reps.replicas[0].kv_blocks(), 0);
}

#[test]
fn cutting_a_run_ends_it_at_the_first_boundary_after_now() {
    let mut reps = Replicas::new(spec(1000, 8), 1.0, (SimTime::ZERO, SimTime::MAX));
    reps.ensure(1);
    let s = reps.sequence(0, 10, 1000);
    reps.admit(0, s).unwrap();
    let t = reps.plan(0, SimTime::ZERO).unwrap();
    let mut out = Vec::new();
    reps.boundary(0, t, false, &mut out);
    let end = reps.plan(0, t).unwrap();
    let now = t + SimDuration::from_millis(100);
    let cut = reps.cut(0, now).unwrap();
    assert!(cut >= now && cut < end);
    // One decode step is 11 ms and a bit: the cut is within one step.
    assert!(cut - now < SimDuration::from_millis(12));
    reps.boundary(0, cut, false, &mut out);
    let steps = reps.replicas[0].step;
    // 1 prefill step, then k decode steps of ≈ 11.01 ms.
    assert_eq!(steps, 1 + 10);
}

/// One replica fed by `arrivals` (time, prompt, output) as the
/// simulation feeds it: admission at boundaries, an idle replica
/// starting at once, a run cut short for a waiting request. Per
/// request: (first token, last token).
fn fast(spec: ServingSpec, arrivals: &[(SimTime, u32, u32)]) -> (Vec<(SimTime, SimTime)>, u64) {
    let mut reps = Replicas::new(spec, 1.0, (SimTime::ZERO, SimTime::MAX));
    reps.ensure(1);
    let mut done = vec![(SimTime::MAX, SimTime::MAX); arrivals.len()];
    let mut queue: VecDeque<u32> = VecDeque::new();
    let (mut next, mut event): (usize, Option<SimTime>) = (0, None);
    let mut out = Vec::new();
    loop {
        let arrival = arrivals.get(next).map(|a| a.0);
        let now = match (arrival, event) {
            (Some(a), Some(e)) if a < e => a,
            (Some(a), None) => a,
            (_, Some(e)) => e,
            (None, None) => break,
        };
        if arrival == Some(now) && event.is_none_or(|e| now < e) {
            queue.push_back(next as u32);
            next += 1;
            if reps.replicas[0].is_stepping() {
                if reps.has_room(0)
                    && let Some(at) = reps.cut(0, now)
                {
                    event = Some(at);
                }
                continue;
            }
        }
        reps.boundary(0, now, false, &mut out);
        reps.replicas[0].check();
        for h in out.drain(..) {
            match h {
                Happened::FirstToken { request } => done[request as usize].0 = now,
                Happened::Finished { seq } => done[seq.request as usize].1 = now,
            }
        }
        while reps.can_start(0) {
            if let Some(seq) = reps.replicas[0].pending.pop_front() {
                if let Err(seq) = reps.admit(0, seq) {
                    reps.replicas[0].pending.push_front(seq);
                    break;
                }
                continue;
            }
            let Some(i) = queue.pop_front() else { break };
            let (_, p, o) = arrivals[i as usize];
            let seq = reps.sequence(i, p, o);
            if let Err(seq) = reps.admit(0, seq) {
                reps.replicas[0].pending.push_back(seq);
                break;
            }
        }
        event = reps.plan(0, now);
        if !queue.is_empty()
            && reps.has_room(0)
            && let Some(at) = reps.cut(0, now)
        {
            event = Some(at);
        }
    }
    (done, reps.counts.preemptions)
}

/// The same rules, one step at a time, with every sequence's context
/// kept explicitly: the reference for [`fast`].
fn naive(spec: ServingSpec, arrivals: &[(SimTime, u32, u32)]) -> Vec<(SimTime, SimTime)> {
    #[derive(Clone, Copy)]
    struct S {
        id: u32,
        prompt: u32,
        prefilled: u32,
        output: u32,
        generated: u32,
        ctx: u64,
        decoding: bool,
        admitted: u64,
    }
    let m = spec.step.clone();
    let max_len = spec.max_model_len;
    let mut done = vec![(SimTime::MAX, SimTime::MAX); arrivals.len()];
    let mut queue: VecDeque<S> = VecDeque::new();
    let mut pending: VecDeque<S> = VecDeque::new();
    let mut running: Vec<S> = Vec::new();
    let mut next = 0;
    let mut now = SimTime::ZERO;
    let mut admissions = 0;
    let need = |running: &[S]| -> u64 {
        running
            .iter()
            .map(|s| {
                if s.decoding {
                    blocks(s.ctx + 1)
                } else {
                    blocks(u64::from(s.prompt) + 1)
                }
            })
            .sum()
    };
    loop {
        // Arrivals up to now join the queue; an idle replica waits for the next.
        while next < arrivals.len()
            && (arrivals[next].0 <= now
                || running.is_empty() && pending.is_empty() && queue.is_empty())
        {
            let (t, p, o) = arrivals[next];
            let prompt = p.min(max_len - 1).max(1);
            let output = o.min(max_len - prompt).max(1);
            if running.is_empty() && queue.is_empty() && pending.is_empty() {
                now = now.max(t);
            }
            queue.push_back(S {
                id: next as u32,
                prompt,
                prefilled: 0,
                output,
                generated: 0,
                ctx: 0,
                decoding: false,
                admitted: 0,
            });
            next += 1;
        }
        if running.is_empty() && queue.is_empty() && pending.is_empty() {
            break;
        }
        // Preempt the newest while the next step does not fit.
        while need(&running) > spec.kv_blocks {
            let k = (0..running.len())
                .max_by_key(|&k| running[k].admitted)
                .unwrap();
            let mut s = running.remove(k);
            if s.decoding {
                s.prompt = s.ctx as u32;
            }
            s.prefilled = 0;
            s.decoding = false;
            pending.push_front(s);
        }
        // Admit: own queue first, then the pool's.
        let mixed = spec.chunked_prefill;
        loop {
            let used: u64 = running
                .iter()
                .map(|s| {
                    if s.decoding {
                        u64::from(mixed)
                    } else {
                        u64::from(s.prompt - s.prefilled)
                    }
                })
                .sum();
            if running.len() as u32 >= spec.max_num_seqs
                || used >= u64::from(spec.max_num_batched_tokens)
            {
                break;
            }
            let from_pending = !pending.is_empty();
            let Some(mut s) = (if from_pending {
                pending.pop_front()
            } else {
                queue.pop_front()
            }) else {
                break;
            };
            let whole =
                !mixed && used + u64::from(s.prompt) > u64::from(spec.max_num_batched_tokens);
            if whole || need(&running) + blocks(u64::from(s.prompt) + 1) > spec.kv_blocks {
                if from_pending {
                    pending.push_front(s)
                } else {
                    pending.push_back(s)
                }
                break;
            }
            admissions += 1;
            s.admitted = admissions;
            running.push(s);
        }
        // One step; unmixed, prompts whole and alone while there are any.
        let mut left = u64::from(spec.max_num_batched_tokens);
        let prefill_only = !mixed && running.iter().any(|s| !s.decoding);
        let decoders: Vec<usize> = (0..running.len())
            .filter(|&k| running[k].decoding && !prefill_only)
            .collect();
        left -= decoders.len() as u64;
        let context: u64 = decoders.iter().map(|&k| running[k].ctx).sum();
        let mut chunks = vec![0u32; running.len()];
        let mut order: Vec<usize> = (0..running.len())
            .filter(|&k| !running[k].decoding)
            .collect();
        order.sort_by_key(|&k| running[k].admitted);
        let mut tokens = 0;
        for &k in &order {
            let c = u64::from(running[k].prompt - running[k].prefilled).min(left);
            chunks[k] = c as u32;
            left -= c;
            tokens += c;
        }
        let step = SimDuration::from_secs_f64(m.step_s(tokens, decoders.len() as u64, context));
        now += step;
        for (k, s) in running.iter_mut().enumerate() {
            if s.decoding {
                if !prefill_only {
                    s.generated += 1;
                    s.ctx += 1;
                }
            } else {
                s.prefilled += chunks[k];
                if s.prefilled == s.prompt {
                    if s.generated == 0 {
                        done[s.id as usize].0 = now;
                    }
                    s.generated += 1;
                    s.ctx = u64::from(s.prompt) + 1;
                    s.decoding = true;
                }
            }
        }
        running.retain(|s| {
            let finished = s.decoding && s.generated >= s.output;
            if finished {
                done[s.id as usize].1 = now;
            }
            !finished
        });
    }
    done
}

#[test]
fn closed_form_runs_match_a_step_by_step_replica() {
    use crate::rng::stream;
    use rand::Rng;
    // A second line that starts higher and grows faster with context: the
    // step model is the larger of the two, so runs cross from one to the
    // other (as a roofline's memory and compute sides do).
    let steep = StepModel {
        base_s: 0.012,
        prefill_base_s: 0.0,
        per_prefill_token_s: 2e-5,
        per_decode_seq_s: 2e-4,
        per_context_token_s: 4e-6,
    };
    for (case, (kv_blocks, max_seqs, budget, per_context, two_lines, mixed)) in [
        (100_000, 64, 2048, 1e-6, false, true),
        (60, 8, 256, 1e-6, false, true),
        (40, 32, 64, 0.0, false, true),
        (200, 4, 4096, 2e-6, false, true),
        (100_000, 64, 2048, 1e-6, true, true),
        (60, 8, 256, 0.0, true, true),
        // Unmixed (prefill first): budgets hold the longest sequence.
        (100_000, 64, 2048, 1e-6, false, false),
        (60, 8, 600, 1e-6, false, false),
        (200, 4, 4096, 2e-6, true, false),
    ]
    .into_iter()
    .enumerate()
    {
        let mut sp = spec(kv_blocks, max_seqs);
        sp.max_num_batched_tokens = budget;
        sp.chunked_prefill = mixed;
        sp.max_model_len = (kv_blocks * 16).min(600) as u32;
        let line = StepModel {
            per_context_token_s: per_context,
            prefill_base_s: 0.002,
            ..LINE
        };
        sp.step = if two_lines {
            StepTime::of_lines(vec![line, steep])
        } else {
            StepTime::fitted(line)
        };
        let mut rng = stream(7, case as u32, "replica-test");
        let mut t = 0.0;
        let arrivals: Vec<(SimTime, u32, u32)> = (0..400)
            .map(|_| {
                t += -(1.0 - (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64).ln() * 0.05;
                let p = 1 + (rng.next_u64() % 300) as u32;
                let o = 1 + (rng.next_u64() % 200) as u32;
                (SimTime::ZERO + SimDuration::from_secs_f64(t), p, o)
            })
            .collect();
        let (a, preemptions) = fast(sp.clone(), &arrivals);
        let b = naive(sp, &arrivals);
        // The small caches preempt: recomputation is compared too.
        assert_eq!(
            preemptions > 0,
            kv_blocks <= 60,
            "case {case}: {preemptions} preemptions"
        );
        for (i, (x, y)) in a.iter().zip(&b).enumerate() {
            let close = |p: SimTime, q: SimTime| p.0.abs_diff(q.0) < 10_000;
            assert!(
                close(x.0, y.0) && close(x.1, y.1),
                "case {case}, request {i}: fast {x:?}, naive {y:?}"
            );
        }
    }
}
