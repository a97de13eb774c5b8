//! The serving model: LLM replicas doing continuous batching, as
//! [`crate::model::serving`] describes, with an event only when a
//! replica's batch changes.
//!
//! A replica counts its steps. A decoding sequence gains one token per
//! step, so its context at step boundary S is `d + S` for a constant `d`,
//! and it finishes at a known boundary; the replica keeps only sums (its
//! decoders, their context, their KV blocks, and how many gain a block at
//! each step modulo 16). Between batch changes every step is a decode
//! step whose time is affine in the step number on each line of the step
//! model, so a run of steps up to the next completion (or the step that
//! would overflow the KV cache, or the step where another line, such as a
//! roofline's compute side, overtakes the one that set the run's first
//! step) is one event whose time is a closed-form sum. A step holding prefill is
//! one event of its own (prompts take one or a few chunked steps).
//!
//! The pool's queue is shared by its replicas (a central scheduler):
//! waiting requests go to the least loaded replica that can take work
//! (fewest running sequences), at once if it is idle, else at its next
//! step boundary. A replica that preempts keeps its preempted sequences at
//! the front of its own queue and resumes them first.

use crate::engine::SimTime;
use crate::metrics::Level;
use crate::model::serving::{BLOCK_TOKENS, ServingSpec, StepTime};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

/// Blocks that hold `tokens` tokens.
#[inline]
fn blocks(tokens: u64) -> u64 {
    tokens.div_ceil(u64::from(BLOCK_TOKENS))
}

/// The step modulo the block size: which phase class gains a block.
#[inline]
fn phase(x: i64) -> usize {
    x.rem_euclid(i64::from(BLOCK_TOKENS)) as usize
}

/// A sequence on a replica (running, or waiting at the front of its queue).
#[derive(Clone, Copy, Debug)]
pub(super) struct Seq {
    pub(super) request: u32,
    /// Tokens to prefill on this admission: the prompt, or after a
    /// preemption the prompt and the tokens generated so far.
    prompt: u32,
    prefilled: u32,
    /// Prefill tokens scheduled in the step under way.
    chunk: u32,
    /// Output tokens wanted in all.
    pub(super) output: u32,
    /// Output tokens generated so far (kept across preemptions).
    pub(super) generated: u32,
    /// A decoder's context at step boundary S is `d + S`.
    d: i64,
    /// A decoder's last step boundary.
    finish: u64,
    /// Admission order (the newest running sequence is preempted first).
    admitted: u64,
    decoding: bool,
    /// When its first token came (valid once `generated` > 0).
    pub(super) first_token: SimTime,
    /// Its user gave up before the first token: it leaves at the end of
    /// the step under way.
    cancelled: bool,
}

impl Seq {
    fn new(request: u32, prompt: u32, output: u32) -> Self {
        Seq {
            request,
            prompt,
            prefilled: 0,
            chunk: 0,
            output,
            generated: 0,
            d: 0,
            finish: 0,
            admitted: 0,
            decoding: false,
            first_token: SimTime::ZERO,
            cancelled: false,
        }
    }
}

/// What a replica is doing.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Plan {
    Idle,
    /// `steps` steps from boundary `from` at `t0`, ending at `end`;
    /// `prefill`: the one step holds prefill chunks.
    Running {
        t0: SimTime,
        steps: u64,
        end: SimTime,
        prefill: bool,
        /// The roofline floor sets these steps' time.
        floor: bool,
        /// The decoders generate a token a step (not in an unmixed
        /// prefill step, which holds prompts only).
        decode: bool,
    },
}

/// One replica.
pub(super) struct Replica {
    /// Sequence slots (running ones are `live`), reused through `free`.
    seqs: Vec<Seq>,
    live: Vec<bool>,
    free: Vec<u32>,
    /// Running sequences.
    running: u32,
    /// Slots of the running sequences still prefilling, in admission order.
    prefilling: Vec<u32>,
    /// Sequences taken from the pool's queue or preempted, not running:
    /// resumed first, front first.
    pub(super) pending: VecDeque<Seq>,
    /// Step boundaries passed.
    step: u64,
    decoders: u64,
    /// Context tokens of the decoders at the current boundary.
    context: u64,
    /// KV blocks the decoders hold at the current boundary.
    decode_blocks: u64,
    /// KV blocks reserved by prefilling sequences (prompt + 1 each).
    reserved: u64,
    /// Decoders that gain a block in a step S, by S mod 16.
    gains: [u64; BLOCK_TOKENS as usize],
    /// Decoders' last boundaries: (boundary, slot, admission), lazily
    /// cleaned of preempted ones.
    finish: BinaryHeap<Reverse<(u64, u32, u64)>>,
    plan: Plan,
    /// Bumped whenever the replica's next event changes.
    pub(super) generation: u32,
    admissions: u64,
}

impl Replica {
    fn new() -> Self {
        Replica {
            seqs: Vec::new(),
            live: Vec::new(),
            free: Vec::new(),
            running: 0,
            prefilling: Vec::new(),
            pending: VecDeque::new(),
            step: 0,
            decoders: 0,
            context: 0,
            decode_blocks: 0,
            reserved: 0,
            gains: [0; BLOCK_TOKENS as usize],
            finish: BinaryHeap::new(),
            plan: Plan::Idle,
            generation: 0,
            admissions: 0,
        }
    }

    /// Whether the replica runs steps.
    #[inline]
    pub(super) fn is_stepping(&self) -> bool {
        self.plan != Plan::Idle
    }

    /// KV blocks held (decoders and reservations).
    #[inline]
    pub(super) fn kv_blocks(&self) -> u64 {
        self.decode_blocks + self.reserved
    }

    /// Blocks the decoders need for the step from the current boundary.
    #[inline]
    fn decode_need(&self) -> u64 {
        self.decode_blocks + self.gains[(self.step % u64::from(BLOCK_TOKENS)) as usize]
    }

    /// Context of decoder `s` at the current boundary.
    #[inline]
    fn context_of(&self, s: &Seq) -> u64 {
        (s.d + self.step as i64) as u64
    }

    /// The sums against the sequences they sum (debug builds and tests).
    #[cfg(any(test, debug_assertions))]
    fn check(&self) {
        let (mut decoders, mut context, mut blocks_held, mut reserved) = (0, 0, 0, 0);
        let mut gains = [0u64; BLOCK_TOKENS as usize];
        let mut running = 0;
        for (i, s) in self.seqs.iter().enumerate() {
            if !self.live[i] {
                continue;
            }
            running += 1;
            if s.decoding {
                let ctx = self.context_of(s);
                decoders += 1;
                context += ctx;
                blocks_held += blocks(ctx);
                gains[phase(-s.d)] += 1;
            } else {
                reserved += blocks(u64::from(s.prompt) + 1);
            }
        }
        assert_eq!(running, self.running, "running");
        assert_eq!(decoders, self.decoders, "decoders");
        assert_eq!(context, self.context, "context");
        assert_eq!(blocks_held, self.decode_blocks, "decode blocks");
        assert_eq!(reserved, self.reserved, "reserved");
        assert_eq!(gains, self.gains, "gains");
    }

    fn insert(&mut self, seq: Seq) -> u32 {
        match self.free.pop() {
            Some(slot) => {
                self.seqs[slot as usize] = seq;
                self.live[slot as usize] = true;
                slot
            }
            None => {
                self.seqs.push(seq);
                self.live.push(true);
                (self.seqs.len() - 1) as u32
            }
        }
    }

    fn remove(&mut self, slot: u32) -> Seq {
        self.live[slot as usize] = false;
        self.free.push(slot);
        self.running -= 1;
        self.seqs[slot as usize]
    }

    /// Decoder in `slot` leaves the decode sums.
    fn drop_decoder(&mut self, slot: u32) -> u64 {
        let s = self.seqs[slot as usize];
        let ctx = self.context_of(&s);
        self.decoders -= 1;
        self.context -= ctx;
        self.decode_blocks -= blocks(ctx);
        self.gains[phase(-s.d)] -= 1;
        ctx
    }

    /// The sequence in `slot` starts decoding at the current boundary
    /// with `ctx` tokens of context (its reservation becomes its blocks).
    fn start_decoding(&mut self, slot: u32, ctx: u64) {
        let step = self.step;
        let s = &mut self.seqs[slot as usize];
        s.decoding = true;
        s.d = ctx as i64 - step as i64;
        s.finish = step + u64::from(s.output - s.generated);
        let (d, finish, admitted) = (s.d, s.finish, s.admitted);
        self.decoders += 1;
        self.context += ctx;
        self.decode_blocks += blocks(ctx);
        self.gains[phase(-d)] += 1;
        self.finish.push(Reverse((finish, slot, admitted)));
    }
}

/// What a boundary produced, for the simulation to record.
#[derive(Clone, Copy, Debug)]
pub(super) enum Happened {
    /// A sequence's first token (not again after a preemption).
    FirstToken { request: u32 },
    /// A sequence generated its last token.
    Finished { seq: Seq },
}

/// Token and step counts of a pool's replicas (every step of the run).
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Counts {
    /// Prompt tokens prefilled, recomputation included.
    pub(super) prefilled: u64,
    /// Output tokens generated.
    pub(super) generated: u64,
    /// Sequences preempted.
    pub(super) preemptions: u64,
    /// Steps run.
    pub(super) steps: u64,
    /// Of those, steps the roofline floor set (a fitted step model that
    /// would have run faster than the GPUs allow).
    pub(super) floor_steps: u64,
}

/// The replicas of one serving pool.
pub(super) struct Replicas {
    pub(super) spec: ServingSpec,
    /// The step model at the pool's speed.
    step: StepTime,
    pub(super) replicas: Vec<Replica>,
    /// Replicas running steps.
    pub(super) stepping: u32,
    pub(super) counts: Counts,
    /// Of those, the ones at boundaries inside the measured window.
    pub(super) window_counts: Counts,
    /// The counts when the current time bucket began.
    pub(super) bucket_counts: Counts,
    /// Running sequences over all replicas.
    pub(super) running: Level,
    /// KV blocks held over all replicas.
    pub(super) kv: Level,
    /// Whole replicas in service (those draining after a capacity cut
    /// are not counted).
    pub(super) in_service: Level,
    /// Replicas that can take work from the pool's queue, by (running
    /// sequences, index): the least loaded first.
    room: room::Room,
    /// Each replica's key in `room`, if it is there.
    room_key: Vec<Option<u32>>,
    /// Replicas in use (of the pool's usable GPUs).
    usable: u32,
    /// A routed pool's router and per-replica queues (`None`: the pool's
    /// queue is shared).
    pub(super) router: Option<Box<super::router::RouterState>>,
    /// By request id, 1 + the replica of an admitted request that has no
    /// first token yet (0: none): its user may still give up.
    awaiting: Vec<u32>,
}

impl Replicas {
    /// The replicas of a pool of speed `speed`, measured over `window`.
    pub(super) fn new(spec: ServingSpec, speed: f64, window: (SimTime, SimTime)) -> Self {
        Replicas {
            step: spec.step.at_speed(speed),
            spec,
            replicas: Vec::new(),
            stepping: 0,
            counts: Counts::default(),
            window_counts: Counts::default(),
            bucket_counts: Counts::default(),
            running: Level::new(0, window.0, window.1),
            kv: Level::new(0, window.0, window.1),
            in_service: Level::new(0, window.0, window.1),
            room: room::Room::new(),
            room_key: Vec::new(),
            usable: 0,
            router: None,
            awaiting: Vec::new(),
        }
    }

    /// `n` replicas are usable (whole replicas of the usable GPUs): make
    /// room for them, and index the ones that can take work.
    pub(super) fn set_usable(&mut self, n: u32, now: SimTime) {
        if n == self.usable && self.replicas.len() >= n as usize {
            return;
        }
        self.ensure(n);
        self.usable = n;
        self.in_service.set(now, u64::from(n));
        for r in 0..self.replicas.len() {
            self.refresh_room(r);
        }
    }

    /// Replica `r`'s place in the index of replicas that can take work,
    /// after a change of its load or plan.
    pub(super) fn refresh_room(&mut self, r: usize) {
        let key = (r < self.usable as usize && self.has_room(r)).then(|| self.replicas[r].running);
        if key == self.room_key[r] {
            return;
        }
        self.room.set(r, key);
        self.room_key[r] = key;
    }

    /// Replicas in use.
    #[inline]
    pub(super) fn usable(&self) -> u32 {
        self.usable
    }

    /// The usable replica that can take work with the fewest running
    /// sequences (the lowest index among equals), if any.
    #[inline]
    pub(super) fn least_loaded(&self) -> Option<usize> {
        self.room.first()
    }

    /// Replica `r`'s running sequences and KV blocks.
    #[inline]
    pub(super) fn replica_load(&self, r: usize) -> (u64, u64) {
        let rep = &self.replicas[r];
        (u64::from(rep.running), rep.kv_blocks())
    }

    /// A replica's load went from `before` to `after` at `now`.
    #[inline]
    pub(super) fn load_changed(&mut self, now: SimTime, before: (u64, u64), after: (u64, u64)) {
        if before.0 != after.0 {
            let v = self.running.value() + after.0 - before.0;
            self.running.set(now, v);
        }
        if before.1 != after.1 {
            let v = self.kv.value() + after.1 - before.1;
            self.kv.set(now, v);
        }
    }

    /// Make room for `n` replicas.
    pub(super) fn ensure(&mut self, n: u32) {
        while self.replicas.len() < n as usize {
            self.replicas.push(Replica::new());
            self.room_key.push(None);
        }
        if let Some(router) = &mut self.router {
            router.ensure(n as usize);
        }
    }

    /// Replica `r` reached the end of its plan at `now`: the plan's steps
    /// are applied (tokens, first tokens, finished sequences into `out`),
    /// finished decoders leave, and the step to come gets its KV blocks
    /// (preempting the newest sequences where they do not fit).
    pub(super) fn boundary(
        &mut self,
        r: usize,
        now: SimTime,
        in_window: bool,
        out: &mut Vec<Happened>,
    ) {
        let kv_cap = self.spec.kv_blocks;
        let before = self.counts;
        let rep = &mut self.replicas[r];
        if let Plan::Running {
            steps,
            prefill,
            floor,
            decode,
            ..
        } = rep.plan
        {
            if floor {
                self.counts.floor_steps += steps;
            }
            self.counts.steps += steps;
            // Decoders: a token each per decode step (`rep.step` counts
            // those only, so a decoder's context stays `d + step`).
            let steps = if decode { steps } else { 0 };
            let n = rep.decoders;
            let cycle = u64::from(BLOCK_TOKENS);
            let mut gained = steps / cycle * n;
            for j in 0..steps % cycle {
                gained += rep.gains[((rep.step + j) % cycle) as usize];
            }
            rep.decode_blocks += gained;
            rep.context += n * steps;
            self.counts.generated += n * steps;
            rep.step += steps;
            if prefill {
                let mut k = 0;
                while k < rep.prefilling.len() {
                    let slot = rep.prefilling[k];
                    let s = &mut rep.seqs[slot as usize];
                    s.prefilled += s.chunk;
                    self.counts.prefilled += u64::from(s.chunk);
                    s.chunk = 0;
                    if s.cancelled {
                        // Its user left during the step: its work is
                        // done, its blocks are free.
                        let prompt = u64::from(s.prompt);
                        rep.prefilling.remove(k);
                        rep.reserved -= blocks(prompt + 1);
                        rep.remove(slot);
                        continue;
                    }
                    if s.prefilled < s.prompt {
                        k += 1;
                        continue;
                    }
                    // The step that completes a prefill samples a token.
                    rep.prefilling.remove(k);
                    if s.generated == 0 {
                        s.first_token = now;
                        out.push(Happened::FirstToken { request: s.request });
                        self.awaiting[s.request as usize] = 0;
                    }
                    s.generated += 1;
                    self.counts.generated += 1;
                    let ctx = u64::from(s.prompt) + 1;
                    rep.reserved -= blocks(ctx);
                    if s.generated >= s.output {
                        let seq = rep.remove(slot);
                        out.push(Happened::Finished { seq });
                    } else {
                        rep.start_decoding(slot, ctx);
                    }
                }
            }
        }
        // Decoders whose last token came at this boundary.
        while let Some(&Reverse((at, slot, admitted))) = rep.finish.peek() {
            let s = &rep.seqs[slot as usize];
            if !rep.live[slot as usize] || !s.decoding || s.admitted != admitted {
                rep.finish.pop();
                continue;
            }
            if at > rep.step {
                break;
            }
            rep.finish.pop();
            rep.drop_decoder(slot);
            let mut seq = rep.remove(slot);
            seq.generated = seq.output;
            out.push(Happened::Finished { seq });
        }
        // The next step's blocks: preempt the newest while they do not fit.
        while rep.decode_need() + rep.reserved > kv_cap && rep.running > 0 {
            let newest = (0..rep.seqs.len())
                .filter(|&i| rep.live[i])
                .max_by_key(|&i| rep.seqs[i].admitted)
                .expect("a running sequence") as u32;
            let s = rep.seqs[newest as usize];
            let step = rep.step;
            let prompt = if s.decoding {
                // Tokens generated so far: all but those still to come.
                rep.seqs[newest as usize].generated = s.output - (s.finish - step) as u32;
                rep.drop_decoder(newest)
            } else {
                rep.prefilling.retain(|&x| x != newest);
                rep.reserved -= blocks(u64::from(s.prompt) + 1);
                u64::from(s.prompt)
            };
            let mut seq = rep.remove(newest);
            seq.prompt = prompt as u32;
            seq.prefilled = 0;
            seq.chunk = 0;
            seq.decoding = false;
            rep.pending.push_front(seq);
            self.counts.preemptions += 1;
        }
        #[cfg(debug_assertions)]
        self.replicas[r].check();
        if in_window {
            let (w, now, was) = (&mut self.window_counts, self.counts, before);
            w.prefilled += now.prefilled - was.prefilled;
            w.generated += now.generated - was.generated;
            w.preemptions += now.preemptions - was.preemptions;
            w.steps += now.steps - was.steps;
            w.floor_steps += now.floor_steps - was.floor_steps;
        }
    }

    /// Whether replica `r` can start one more sequence now (a slot and
    /// token budget left for its prefill); KV is checked by [`Self::admit`].
    pub(super) fn can_start(&self, r: usize) -> bool {
        let rep = &self.replicas[r];
        rep.running < self.spec.max_num_seqs && self.budget_left(rep) > 0
    }

    /// Whether replica `r` can take a request from the pool's queue now:
    /// it can start one, and none of its own waits (for KV blocks).
    pub(super) fn has_room(&self, r: usize) -> bool {
        self.replicas[r].pending.is_empty() && self.can_start(r)
    }

    /// Token budget left in the next step after the decoders and the
    /// remaining prefill of the running prefills.
    fn budget_left(&self, rep: &Replica) -> u64 {
        // Unmixed, a prefill step holds prompts only.
        let mut used = if self.spec.chunked_prefill {
            rep.decoders
        } else {
            0
        };
        for &slot in &rep.prefilling {
            let s = &rep.seqs[slot as usize];
            used += u64::from(s.prompt - s.prefilled);
        }
        u64::from(self.spec.max_num_batched_tokens).saturating_sub(used)
    }

    /// Start `seq` on replica `r` if its prompt's KV blocks are free; else
    /// hand it back.
    /// A sequence that cannot start yet waits in replica `r`'s own queue
    /// (the caller puts it there): either way it is replica `r`'s, and
    /// until its first token its user may give up.
    pub(super) fn admit(&mut self, r: usize, mut seq: Seq) -> Result<(), Seq> {
        if seq.generated == 0 {
            let id = seq.request as usize;
            if self.awaiting.len() <= id {
                self.awaiting.resize(id + 1, 0);
            }
            self.awaiting[id] = r as u32 + 1;
        }
        let cap = self.spec.kv_blocks;
        // Without chunking, a prompt is prefilled whole in one step.
        if !self.spec.chunked_prefill && u64::from(seq.prompt) > self.budget_left(&self.replicas[r])
        {
            return Err(seq);
        }
        let rep = &mut self.replicas[r];
        let need = blocks(u64::from(seq.prompt) + 1);
        if rep.decode_need() + rep.reserved + need > cap {
            return Err(seq);
        }
        rep.admissions += 1;
        seq.admitted = rep.admissions;
        seq.prefilled = 0;
        seq.chunk = 0;
        seq.decoding = false;
        rep.reserved += need;
        rep.running += 1;
        let slot = rep.insert(seq);
        rep.prefilling.push(slot);
        Ok(())
    }

    /// A new sequence for request `request` of `prompt` and `output`
    /// tokens, cut to the pool's `max_model_len`.
    pub(super) fn sequence(&self, request: u32, prompt: u32, output: u32) -> Seq {
        let max_len = self.spec.max_model_len;
        let prompt = prompt.min(max_len - 1).max(1);
        let output = output.min(max_len - prompt).max(1);
        Seq::new(request, prompt, output)
    }

    /// Plan replica `r`'s next steps from `now` (its boundary): a prefill
    /// step, a run of decode steps to the next batch change, or idle. The
    /// time of its next event, if any.
    pub(super) fn plan(&mut self, r: usize, now: SimTime) -> Option<SimTime> {
        let budget = u64::from(self.spec.max_num_batched_tokens);
        let kv_cap = self.spec.kv_blocks;
        let m = &self.step;
        let rep = &mut self.replicas[r];
        let was = rep.plan != Plan::Idle;
        rep.generation = rep.generation.wrapping_add(1);
        if rep.running == 0 {
            debug_assert!(
                rep.pending.is_empty(),
                "an empty replica takes its own queue"
            );
            rep.plan = Plan::Idle;
            if was {
                self.stepping -= 1;
            }
            return None;
        }
        if !was {
            self.stepping += 1;
        }
        let (steps, prefill, time, floor) = if rep.prefilling.is_empty() {
            // Decode steps up to the next finish or the step whose blocks
            // would not fit.
            let n = rep.decoders;
            let next_finish = loop {
                let &Reverse((at, slot, admitted)) = rep.finish.peek().expect("a decoder");
                let s = &rep.seqs[slot as usize];
                if rep.live[slot as usize] && s.decoding && s.admitted == admitted {
                    break at;
                }
                rep.finish.pop();
            };
            let free = kv_cap - rep.decode_blocks;
            let cycle = u64::from(BLOCK_TOKENS);
            let q = free / n;
            let mut sum = q * n;
            let mut t = q * cycle;
            loop {
                sum += rep.gains[((rep.step + t) % cycle) as usize];
                if sum > free {
                    break;
                }
                t += 1;
            }
            // Steps S .. S+t-1 fit; the one from boundary S+t does not.
            // The run also ends where another line of the step model
            // overtakes the one that sets its first step.
            let (line, run) = m.decode_run(n, rep.context);
            let l = &m.lines()[line];
            let steps = (next_finish - rep.step).min(t.max(1)).min(run);
            let c = rep.context as f64;
            let per = l.base_s + l.per_decode_seq_s * n as f64 + l.per_context_token_s * c;
            let k = steps as f64;
            let time = k * per + l.per_context_token_s * n as f64 * k * (k - 1.0) / 2.0;
            (steps, false, time, m.is_floor(line))
        } else if !self.spec.chunked_prefill {
            // Unmixed (prefill first): the step holds the admitted prompts
            // whole, and the decoders wait for it.
            let mut tokens = 0;
            for &slot in &rep.prefilling {
                let s = &mut rep.seqs[slot as usize];
                s.chunk = s.prompt - s.prefilled;
                tokens += u64::from(s.chunk);
            }
            let line = m.setting(tokens, 0, 0);
            (
                1,
                true,
                m.lines()[line].step_s(tokens, 0, 0),
                m.is_floor(line),
            )
        } else {
            let mut left = budget - rep.decoders.min(budget);
            let mut tokens = 0;
            for &slot in &rep.prefilling {
                let s = &mut rep.seqs[slot as usize];
                let chunk = u64::from(s.prompt - s.prefilled).min(left);
                s.chunk = chunk as u32;
                left -= chunk;
                tokens += chunk;
            }
            let line = m.setting(tokens, rep.decoders, rep.context);
            let time = m.lines()[line].step_s(tokens, rep.decoders, rep.context);
            (1, true, time, m.is_floor(line))
        };
        let end = now + crate::engine::SimDuration::from_secs_f64(time);
        rep.plan = Plan::Running {
            t0: now,
            steps,
            end,
            prefill,
            floor,
            decode: !prefill || self.spec.chunked_prefill,
        };
        Some(end)
    }

    /// A request waits for replica `r`, which is running decode steps: end
    /// its run at the first boundary at or after `now`, so that it takes
    /// the request there. The new time of its next event, if it changed.
    pub(super) fn cut(&mut self, r: usize, now: SimTime) -> Option<SimTime> {
        let rep = &mut self.replicas[r];
        let Plan::Running {
            t0,
            steps,
            end,
            prefill: false,
            floor,
            ..
        } = rep.plan
        else {
            return None;
        };
        if steps <= 1 {
            return None;
        }
        // The line the plan ran on: the same state picks the same line.
        let m = &self.step.lines()[self.step.decode_run(rep.decoders, rep.context).0];
        let n = rep.decoders as f64;
        let per = m.base_s + m.per_decode_seq_s * n + m.per_context_token_s * rep.context as f64;
        let quad = m.per_context_token_s * n / 2.0;
        let time = |k: u64| {
            let k = k as f64;
            t0 + crate::engine::SimDuration::from_secs_f64(k * per + quad * k * (k - 1.0))
        };
        let elapsed = (now - t0).as_secs_f64();
        // T(k) = quad·k² + (per − quad)·k: the least k with T(k) ≥ elapsed.
        let b = per - quad;
        let guess = if quad > 0.0 {
            (-b + (b * b + 4.0 * quad * elapsed).sqrt()) / (2.0 * quad)
        } else {
            elapsed / per
        };
        let mut k = (guess.ceil() as u64).clamp(1, steps);
        while k > 1 && time(k - 1) >= now {
            k -= 1;
        }
        while k < steps && time(k) < now {
            k += 1;
        }
        if k >= steps {
            return None;
        }
        let new_end = time(k);
        debug_assert!(new_end <= end);
        rep.plan = Plan::Running {
            t0,
            steps: k,
            end: new_end,
            prefill: false,
            floor,
            decode: true,
        };
        rep.generation = rep.generation.wrapping_add(1);
        Some(new_end)
    }
}

mod external;
mod room;
#[cfg(test)]
mod tests;
