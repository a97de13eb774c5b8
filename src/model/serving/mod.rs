//! LLM serving: a pool of replicas doing continuous batching at token
//! level, and the token demand of the classes it serves.
//!
//! A replica is `gpus_per_replica` GPUs (tensor parallel) running one
//! engine. Each *step* (iteration) generates one token for every running
//! sequence that is decoding and prefills prompt tokens of the sequences
//! that are not, within a token budget (chunked prefill mixed into decode
//! steps, as vLLM v1 and Sarathi do). A step takes
//!
//! ```text
//! base + prefill_base·[step holds prefill] + per_prefill_token·P
//!      + per_decode_seq·D + per_context_token·C
//! ```
//!
//! seconds (divided by the pool's speed), where P is the step's prefill
//! tokens, D its decoding sequences and C the context tokens those
//! sequences attend to; or the larger of a few such lines (a roofline's
//! compute and memory sides, see [`roofline`]). The KV cache holds `kv_blocks` blocks of
//! [`BLOCK_TOKENS`] tokens; a sequence of context L holds ⌈L / 16⌉ of
//! them. When a step cannot get the blocks it needs, the most recently
//! admitted running sequence is preempted (recompute: its blocks are
//! freed, and it is prefilled again, prompt and generated tokens, before
//! it goes on).

pub mod roofline;

use super::{DistError, DurationDist};
use crate::rng::SimRng;
use roofline::Roofline;
use std::sync::Arc;

/// Tokens per KV-cache block (vLLM's default block size).
pub const BLOCK_TOKENS: u32 = 16;

/// A pool's serving model (`[pool.serving]`).
#[derive(Clone, Debug, PartialEq)]
pub struct ServingSpec {
    /// GPUs per replica (tensor-parallel degree); replicas = GPUs ÷ this.
    pub gpus_per_replica: u32,
    /// Most sequences running on a replica at once (`max_num_seqs`).
    pub max_num_seqs: u32,
    /// Most tokens one step processes, decode and prefill
    /// (`max_num_batched_tokens`), at least `max_num_seqs`.
    pub max_num_batched_tokens: u32,
    /// KV-cache capacity of one replica, in blocks of [`BLOCK_TOKENS`].
    pub kv_blocks: u64,
    /// Longest sequence (prompt + output, tokens), at most the KV cache:
    /// longer prompts are cut to it and outputs stop at it.
    pub max_model_len: u32,
    /// The step-time model.
    pub step: StepTime,
    /// How waiting requests reach replicas.
    pub router: Router,
    /// Prefill chunks mixed into decode steps (vLLM v1, Sarathi); `false`:
    /// prefill first, unmixed (vLLM v0, Orca-like): a step holds either
    /// whole prompts or decodes, and prompts go first.
    pub chunked_prefill: bool,
}

/// How a serving pool's waiting requests reach its replicas.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum Router {
    /// One queue shared by the replicas, in the pool's policy order; the
    /// least loaded replica that can take work takes the next request
    /// (a central scheduler).
    #[default]
    Central,
    /// A replica is chosen at arrival, and each replica serves its own
    /// queue first come first served (as an engine behind a gateway does).
    Routed {
        /// How the replica is chosen.
        kind: RouterKind,
        /// How old the load the router sees is: `None` for the load now;
        /// else the loads as of the last refresh, taken every `refresh`.
        refresh: Option<crate::engine::SimDuration>,
    },
}

/// How a router chooses a replica at arrival (ties: the lowest index).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RouterKind {
    /// In turn.
    RoundRobin,
    /// Uniformly at random.
    Random,
    /// The fewest outstanding requests (running and queued): JSQ.
    LeastOutstanding,
    /// The fewer outstanding of two replicas drawn at random
    /// (power of two choices).
    PowerOfTwo,
    /// The fewest KV-cache blocks held.
    LeastKv,
}

impl RouterKind {
    /// The name a scenario uses.
    pub fn name(self) -> &'static str {
        match self {
            RouterKind::RoundRobin => "round-robin",
            RouterKind::Random => "random",
            RouterKind::LeastOutstanding => "least-outstanding",
            RouterKind::PowerOfTwo => "power-of-two",
            RouterKind::LeastKv => "least-kv",
        }
    }

    /// Every kind, in the order the docs list them.
    pub const ALL: [RouterKind; 5] = [
        RouterKind::RoundRobin,
        RouterKind::Random,
        RouterKind::LeastOutstanding,
        RouterKind::PowerOfTwo,
        RouterKind::LeastKv,
    ];
}

/// Step-time coefficients, seconds (on a pool of speed 1).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepModel {
    /// Fixed cost of every step.
    pub base_s: f64,
    /// Extra fixed cost of a step that holds prefill tokens.
    pub prefill_base_s: f64,
    /// Per prompt token prefilled.
    pub per_prefill_token_s: f64,
    /// Per decoding sequence.
    pub per_decode_seq_s: f64,
    /// Per context token attended to by the decoding sequences.
    pub per_context_token_s: f64,
}

impl StepModel {
    /// A step prefilling `prefill` tokens and decoding `decode` sequences
    /// whose contexts sum to `context` tokens, seconds.
    #[inline]
    pub fn step_s(&self, prefill: u64, decode: u64, context: u64) -> f64 {
        let mut t = self.base_s
            + self.per_decode_seq_s * decode as f64
            + self.per_context_token_s * context as f64;
        if prefill > 0 {
            t += self.prefill_base_s + self.per_prefill_token_s * prefill as f64;
        }
        t
    }

    /// The model on a pool of speed `speed`.
    pub fn at_speed(&self, speed: f64) -> StepModel {
        StepModel {
            base_s: self.base_s / speed,
            prefill_base_s: self.prefill_base_s / speed,
            per_prefill_token_s: self.per_prefill_token_s / speed,
            per_decode_seq_s: self.per_decode_seq_s / speed,
            per_context_token_s: self.per_context_token_s / speed,
        }
    }
}

/// Where a pool's step times come from.
#[derive(Clone, Debug, PartialEq)]
pub enum StepSource {
    /// Explicit coefficients (`step = { … }`).
    Fitted,
    /// The roofline of a model on a GPU (`model`, `gpu`).
    Roofline(Box<Roofline>),
    /// Explicit coefficients held above the roofline floor of a model on
    /// a GPU: no step runs faster than peak FLOP/s and bandwidth allow.
    Clamped(Box<Roofline>),
}

/// A step's time: the largest of one to three affine [`StepModel`] lines.
#[derive(Clone, Debug, PartialEq)]
pub struct StepTime {
    lines: Vec<StepModel>,
    source: StepSource,
}

impl StepTime {
    /// Explicit coefficients.
    pub fn fitted(m: StepModel) -> StepTime {
        StepTime {
            lines: vec![m],
            source: StepSource::Fitted,
        }
    }

    /// The roofline of a model on a GPU at the engine's efficiencies.
    pub fn roofline(r: Roofline) -> StepTime {
        StepTime {
            lines: r.lines().to_vec(),
            source: StepSource::Roofline(Box::new(r)),
        }
    }

    /// Explicit coefficients, never below the roofline floor of `r`.
    pub fn clamped(m: StepModel, r: Roofline) -> StepTime {
        let mut lines = vec![m];
        lines.extend(r.floor());
        StepTime {
            lines,
            source: StepSource::Clamped(Box::new(r)),
        }
    }

    /// The larger of `lines` (a test's step model).
    #[cfg(test)]
    pub(crate) fn of_lines(lines: Vec<StepModel>) -> StepTime {
        assert!(!lines.is_empty());
        StepTime {
            lines,
            source: StepSource::Fitted,
        }
    }

    /// The lines (at least one).
    pub fn lines(&self) -> &[StepModel] {
        &self.lines
    }

    /// Where the lines come from.
    pub fn source(&self) -> &StepSource {
        &self.source
    }

    /// A step prefilling `prefill` tokens and decoding `decode` sequences
    /// whose contexts sum to `context` tokens, seconds.
    #[inline]
    pub fn step_s(&self, prefill: u64, decode: u64, context: u64) -> f64 {
        self.lines[self.setting(prefill, decode, context)].step_s(prefill, decode, context)
    }

    /// The index of the line that sets such a step (the first of equals).
    #[inline]
    pub fn setting(&self, prefill: u64, decode: u64, context: u64) -> usize {
        let mut best = 0;
        let mut t = self.lines[0].step_s(prefill, decode, context);
        for (i, l) in self.lines.iter().enumerate().skip(1) {
            let u = l.step_s(prefill, decode, context);
            if u > t {
                best = i;
                t = u;
            }
        }
        best
    }

    /// Whether line `i` is the roofline floor under a fitted model.
    #[inline]
    pub fn is_floor(&self, i: usize) -> bool {
        i > 0 && matches!(self.source, StepSource::Clamped(_))
    }

    /// Decode steps of `n` sequences from context `c` (growing by `n` a
    /// step): the line that sets the first step and how many steps in a
    /// row it keeps setting (`u64::MAX`: all of them). Step k of the run
    /// takes `per + n·per_context_token·k` on that line, so another line
    /// overtakes it only if it grows faster.
    #[inline]
    pub fn decode_run(&self, n: u64, c: u64) -> (usize, u64) {
        if self.lines.len() == 1 {
            return (0, u64::MAX);
        }
        let per = |l: &StepModel| l.step_s(0, n, c);
        let slope = |l: &StepModel| l.per_context_token_s * n as f64;
        let mut best = 0;
        for (i, l) in self.lines.iter().enumerate().skip(1) {
            let (a, b) = (per(l), per(&self.lines[best]));
            if a > b || (a == b && slope(l) > slope(&self.lines[best])) {
                best = i;
            }
        }
        let (pa, sa) = (per(&self.lines[best]), slope(&self.lines[best]));
        let mut run = u64::MAX;
        for l in &self.lines {
            let (pj, sj) = (per(l), slope(l));
            if sj > sa {
                // Steps k ≤ (pa − pj)/(sj − sa) stay on the best line.
                let k = ((pa - pj) / (sj - sa)).floor();
                run = run.min(if k >= 1.8e19 { u64::MAX } else { k as u64 + 1 });
            }
        }
        (best, run)
    }

    /// The model on a pool of speed `speed`.
    pub fn at_speed(&self, speed: f64) -> StepTime {
        StepTime {
            lines: self.lines.iter().map(|l| l.at_speed(speed)).collect(),
            source: self.source.clone(),
        }
    }
}

impl ServingSpec {
    /// Replicas on `gpus` GPUs (whole replicas only).
    #[inline]
    pub fn replicas(&self, gpus: u32) -> u32 {
        gpus / self.gpus_per_replica
    }

    /// The batch a replica runs at full load for requests of `prompt` and
    /// `output` tokens (means): `max_num_seqs`, or fewer when the KV cache
    /// holds fewer such sequences (each holds on average its prompt and
    /// half its output).
    pub fn full_batch(&self, prompt: f64, output: f64) -> f64 {
        let per_seq = (prompt + output / 2.0).max(1.0);
        let kv = (self.kv_blocks * u64::from(BLOCK_TOKENS)) as f64 / per_seq;
        f64::from(self.max_num_seqs).min(kv).max(1.0)
    }

    /// Replica-seconds of work of one request of `prompt` and `output`
    /// tokens when the replica runs at full load with `batch` sequences
    /// of mean context `context` (on a pool of speed 1): its prefill at
    /// the marginal cost of prefill tokens, and its share of `output`
    /// decode steps. This is the demand behind a serving pool's offered
    /// load and verdicts: ρ = Σλ·work / replicas, the load against the
    /// throughput of full batches.
    pub fn work_s(&self, prompt: f64, output: f64, batch: f64, context: f64) -> f64 {
        let (per_prompt, per_output) = self.work_rates(batch, context);
        prompt * per_prompt + output * per_output
    }

    /// GPU-seconds of a replica at full load (on a pool of speed 1) that
    /// one request of `tokens` takes on average, its lengths cut to
    /// `max_model_len` as the engine cuts them: the demand behind the
    /// pool's offered load and verdicts (positive).
    pub fn request_work(&self, tokens: &TokenSpec) -> f64 {
        let max_len = f64::from(self.max_model_len);
        let (prompt, output) = tokens.means();
        let prompt = prompt.min(max_len - 1.0);
        let output = output.min(max_len - prompt);
        let batch = self.full_batch(prompt, output);
        let work = self.work_s(prompt, output, batch, prompt + output / 2.0)
            * f64::from(self.gpus_per_replica);
        // Positive by the step model's checks; a floor keeps it so anyway.
        if work.is_finite() {
            work.max(1e-9)
        } else {
            1.0
        }
    }

    /// The two rates of [`ServingSpec::work_s`]: replica-seconds per
    /// prompt token and per output token at full load.
    pub fn work_rates(&self, batch: f64, context: f64) -> (f64, f64) {
        // The line that sets a full step with a prefill chunk in it: for
        // one line, that line.
        let n = batch.round().max(1.0) as u64;
        let ctx = (context * batch).round() as u64;
        let chunk = u64::from(self.max_num_batched_tokens)
            .saturating_sub(n)
            .max(1);
        let s = &self.step.lines()[self.step.setting(chunk, n, ctx)];
        let decode = &self.step.lines()[self.step.setting(0, n, ctx)];
        let per_token = (decode.base_s
            + decode.per_decode_seq_s * batch
            + decode.per_context_token_s * context * batch)
            / batch;
        (s.per_prefill_token_s, per_token)
    }
}

/// A class's token demand: `tokens = { prompt, output }` (two independent
/// distributions) or `tokens = { file }` ((prompt, output) pairs of a log,
/// resampled jointly, so that long prompts keep their own outputs).
#[derive(Clone, Debug)]
pub struct TokenSpec {
    kind: TokenKind,
}

#[derive(Clone, Debug)]
enum TokenKind {
    Independent {
        prompt: TokenDist,
        output: TokenDist,
    },
    /// The pairs (each ≥ 1) and their means.
    Pairs(Arc<[(u32, u32)]>, (f64, f64)),
}

impl TokenSpec {
    /// Prompt and output lengths drawn independently.
    pub fn independent(prompt: TokenDist, output: TokenDist) -> Self {
        TokenSpec {
            kind: TokenKind::Independent { prompt, output },
        }
    }

    /// (prompt, output) pairs, one drawn uniformly per request; refused
    /// when there are none or a length is 0.
    pub fn pairs(pairs: Vec<(u32, u32)>) -> Result<Self, DistError> {
        if pairs.is_empty() {
            return Err(DistError(
                "expected at least one (prompt, output) pair".into(),
            ));
        }
        if let Some(i) = pairs.iter().position(|&(p, o)| p == 0 || o == 0) {
            return Err(DistError(format!(
                "pair {} has a length of 0 tokens: prompt and output are at least 1",
                i + 1
            )));
        }
        let n = pairs.len() as f64;
        let means = (
            pairs.iter().map(|&(p, _)| f64::from(p)).sum::<f64>() / n,
            pairs.iter().map(|&(_, o)| f64::from(o)).sum::<f64>() / n,
        );
        Ok(TokenSpec {
            kind: TokenKind::Pairs(pairs.into(), means),
        })
    }

    /// One request's (prompt, output) lengths, each at least 1.
    pub fn sample(&self, rng: &mut SimRng) -> (u32, u32) {
        match &self.kind {
            TokenKind::Independent { prompt, output } => (prompt.sample(rng), output.sample(rng)),
            TokenKind::Pairs(pairs, _) => {
                let i = (super::dist::unit(rng) * pairs.len() as f64) as usize;
                pairs[i.min(pairs.len() - 1)]
            }
        }
    }

    /// The mean prompt and output lengths, tokens.
    pub fn means(&self) -> (f64, f64) {
        match &self.kind {
            TokenKind::Independent { prompt, output } => (prompt.mean(), output.mean()),
            TokenKind::Pairs(_, means) => *means,
        }
    }

    /// A short description, e.g. `prompt lognormal(mean 800, cv 1.5),
    /// output geometric(mean 250)`.
    pub fn describe(&self) -> String {
        match &self.kind {
            TokenKind::Independent { prompt, output } => {
                format!("prompt {}, output {}", prompt.describe(), output.describe())
            }
            TokenKind::Pairs(pairs, (p, o)) => format!(
                "{} (prompt, output) pairs resampled jointly (means {p:.0} and {o:.0})",
                pairs.len()
            ),
        }
    }
}

/// A distribution of token counts: a continuous one rounded to the
/// nearest whole token (at least 1), or geometric on {1, 2, …}.
#[derive(Clone, Debug)]
pub enum TokenDist {
    /// A continuous distribution, rounded (at least 1, at most 2³¹).
    Rounded(DurationDist),
    /// Geometric on {1, 2, …} with this mean (≥ 1).
    Geometric(f64),
}

impl TokenDist {
    /// One draw, tokens.
    pub fn sample(&self, rng: &mut SimRng) -> u32 {
        match self {
            TokenDist::Rounded(d) => d.sample_secs(rng).round().clamp(1.0, 2_147_483_648.0) as u32,
            TokenDist::Geometric(mean) => {
                // P(X = k) = (1 − p)^(k−1)·p with p = 1 / mean: inversion.
                let p = 1.0 / mean;
                if p >= 1.0 {
                    return 1;
                }
                let u = 1.0 - super::dist::unit(rng);
                (1.0 + (u.ln() / (1.0 - p).ln()).floor()).clamp(1.0, 2_147_483_648.0) as u32
            }
        }
    }

    /// The mean, tokens (of the rounded distribution: the continuous mean,
    /// which rounding to the nearest changes little above a few tokens).
    pub fn mean(&self) -> f64 {
        match self {
            TokenDist::Rounded(d) => d.mean().max(1.0),
            TokenDist::Geometric(m) => *m,
        }
    }

    /// A short description, e.g. `lognormal(mean 800, cv 1.5)`.
    pub fn describe(&self) -> String {
        match self {
            TokenDist::Rounded(d) => d.describe_numbers(),
            TokenDist::Geometric(m) => format!("geometric(mean {m})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::stream;

    #[test]
    fn geometric_tokens_have_their_mean_and_start_at_one() {
        let d = TokenDist::Geometric(20.0);
        let mut r = stream(1, 0, "tokens");
        let n = 200_000;
        let xs: Vec<u32> = (0..n).map(|_| d.sample(&mut r)).collect();
        assert!(xs.iter().all(|&x| x >= 1));
        let mean = xs.iter().map(|&x| f64::from(x)).sum::<f64>() / n as f64;
        // sd = √(1−p)/p ≈ 19.5; the mean's standard error ≈ 0.044.
        assert!((mean - 20.0).abs() < 0.2, "{mean}");
        let ones = xs.iter().filter(|&&x| x == 1).count() as f64 / n as f64;
        assert!((ones - 0.05).abs() < 0.003, "{ones}");
    }

    #[test]
    fn token_pairs_are_drawn_whole_and_refused_when_empty_or_zero() {
        let spec = TokenSpec::pairs(vec![(1, 100), (1000, 1), (1000, 1)]).unwrap();
        let mut r = stream(1, 0, "tokens");
        let n = 30_000;
        let draws: Vec<(u32, u32)> = (0..n).map(|_| spec.sample(&mut r)).collect();
        // Never a mixed pair: the lengths stay joint.
        assert!(draws.iter().all(|d| *d == (1, 100) || *d == (1000, 1)));
        let long_prompts = draws.iter().filter(|d| d.0 == 1000).count() as f64 / n as f64;
        // 2/3 expected; sd ≈ 0.0027.
        assert!((long_prompts - 2.0 / 3.0).abs() < 0.012, "{long_prompts}");
        let (p, o) = spec.means();
        assert!((p - 667.0).abs() < 1e-9 && (o - 34.0).abs() < 1e-9);
        assert!(TokenSpec::pairs(vec![]).is_err());
        assert!(TokenSpec::pairs(vec![(5, 0)]).is_err());
        assert!(TokenSpec::pairs(vec![(0, 5)]).is_err());
    }

    #[test]
    fn a_step_pays_prefill_only_when_it_holds_some() {
        let m = StepModel {
            base_s: 0.01,
            prefill_base_s: 0.005,
            per_prefill_token_s: 1e-4,
            per_decode_seq_s: 1e-3,
            per_context_token_s: 1e-6,
        };
        assert!((m.step_s(0, 10, 1000) - (0.01 + 0.01 + 0.001)).abs() < 1e-12);
        assert!((m.step_s(100, 0, 0) - (0.01 + 0.005 + 0.01)).abs() < 1e-12);
        assert!((m.at_speed(2.0).step_s(0, 10, 1000) - 0.0105).abs() < 1e-12);
    }
}
