//! Stage 1 of loading: the scenario file's shape, as serde sees it.
//!
//! Every table denies unknown keys. Leaves are kept as spanned TOML values so
//! that stage 2 (validation) can check every one of them, report all
//! problems at once, and point at the line of each.

use serde::Deserialize;
use toml::Spanned;

/// A leaf value with its position in the file.
pub(crate) type Val = Spanned<toml::Value>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawScenario {
    pub name: Option<Val>,
    pub description: Option<Val>,
    pub duration: Option<Val>,
    pub warmup: Option<Val>,
    pub drain: Option<Val>,
    pub bucket: Option<Val>,
    pub seed: Option<Val>,
    pub replications: Option<Val>,
    pub max_in_system: Option<Val>,
    pub max_events: Option<Val>,
    pub start: Option<Val>,
    #[serde(default)]
    pub pool: Vec<Spanned<RawPool>>,
    #[serde(default)]
    pub class: Vec<Spanned<RawClass>>,
    #[serde(default)]
    pub population: Vec<Spanned<RawPopulation>>,
    #[serde(default)]
    pub slo: Vec<Spanned<RawSlo>>,
    #[serde(default)]
    pub workflow: Vec<Spanned<RawWorkflow>>,
    pub sweep: Option<Spanned<toml::Table>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPopulation {
    pub name: Option<Val>,
    pub signups: Option<Spanned<RawArrivals>>,
    pub requests: Option<Spanned<RawDist>>,
    pub think: Option<Spanned<RawDist>>,
    pub returns: Option<Spanned<RawReturns>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawReturns {
    pub probability: Option<Val>,
    pub after: Option<Spanned<RawDist>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRetry {
    pub max_attempts: Option<Val>,
    pub backoff: Option<Spanned<RawBackoff>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawBackoff {
    pub base: Option<Val>,
    pub factor: Option<Val>,
    pub max: Option<Val>,
    pub jitter: Option<Val>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLimit {
    pub rate: Option<Val>,
    pub burst: Option<Val>,
    pub per: Option<Val>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDiurnal {
    pub amplitude: Option<Val>,
    pub peak: Option<Val>,
    pub hourly: Option<Val>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSpike {
    pub at: Option<Val>,
    pub peak: Option<Val>,
    pub ramp: Option<Val>,
    pub hold: Option<Val>,
    pub decay: Option<Val>,
    pub shape: Option<Val>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPool {
    pub name: Option<Val>,
    pub gpus: Option<Val>,
    pub policy: Option<Spanned<RawPolicy>>,
    pub speed: Option<Val>,
    pub cost_per_gpu_hour: Option<Val>,
    pub capacity: Option<Spanned<Vec<Spanned<RawCapacityStep>>>>,
    pub autoscale: Option<Spanned<RawAutoscale>>,
    pub failures: Option<Spanned<RawFailures>>,
    pub batching: Option<Spanned<RawBatching>>,
    pub serving: Option<Spanned<RawServing>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawServing {
    pub gpus_per_replica: Option<Val>,
    pub max_num_seqs: Option<Val>,
    pub max_num_batched_tokens: Option<Val>,
    pub kv_cache_tokens: Option<Val>,
    pub max_model_len: Option<Val>,
    pub step: Option<Spanned<RawStep>>,
    pub model: Option<Val>,
    pub gpu: Option<Val>,
    pub mfu: Option<Val>,
    pub bandwidth_utilization: Option<Val>,
    pub overhead: Option<Val>,
    pub allreduce_latency: Option<Val>,
    pub gpu_memory_utilization: Option<Val>,
    pub router: Option<Val>,
    pub enable_chunked_prefill: Option<Val>,
}

/// `model = { … }`: a model's shape, for a roofline.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawModelShape {
    pub params: f64,
    pub layers: u32,
    pub hidden: u32,
    pub heads: u32,
    pub kv_heads: u32,
    pub head_dim: u32,
    pub bytes_per_param: Option<f64>,
}

/// `gpu = { … }`: a GPU's peak numbers, for a roofline.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawGpu {
    pub tflops: f64,
    pub hbm_tb_s: f64,
    pub memory_gb: f64,
    pub link_gb_s: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawStep {
    pub base: Option<Val>,
    pub prefill_base: Option<Val>,
    pub per_prefill_token: Option<Val>,
    pub per_decode_seq: Option<Val>,
    pub per_context_token: Option<Val>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTokens {
    pub prompt: Option<Spanned<RawDist>>,
    pub output: Option<Spanned<RawDist>>,
    pub file: Option<Val>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawBatching {
    pub max_batch: Option<Val>,
    pub base: Option<Val>,
    pub per_item: Option<Val>,
    pub max_wait: Option<Val>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAutoscale {
    pub min: Option<Val>,
    pub max: Option<Val>,
    pub step: Option<Val>,
    pub provision_delay: Option<Val>,
    pub cooldown: Option<Val>,
    pub interval: Option<Val>,
    pub trigger: Option<Spanned<RawTrigger>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTrigger {
    pub utilization: Option<Val>,
    pub queue_per_gpu: Option<Val>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFailures {
    pub mtbf: Option<Val>,
    pub mttr: Option<Val>,
    pub repair: Option<Spanned<RawDist>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawClass {
    pub name: Option<Val>,
    pub pool: Option<Val>,
    pub arrivals: Option<Spanned<RawArrivals>>,
    pub service: Option<Spanned<RawDist>>,
    pub latency_target: Option<Val>,
    pub ttft_target: Option<Val>,
    pub tpot_target: Option<Val>,
    pub patience: Option<Spanned<RawDist>>,
    pub retry: Option<Spanned<RawRetry>>,
    pub limit: Option<Spanned<RawLimit>>,
    pub priority: Option<Val>,
    pub weight: Option<Val>,
    pub deferrable: Option<Val>,
    pub deferred_patience: Option<Spanned<RawDist>>,
    pub workflow: Option<Val>,
    pub tokens: Option<Spanned<RawTokens>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawWorkflow {
    pub name: Option<Val>,
    pub stage: Option<Vec<Spanned<RawStage>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawStage {
    pub name: Option<Val>,
    pub pool: Option<Val>,
    pub service: Option<Spanned<RawDist>>,
    pub only: Option<Val>,
    pub timeout: Option<Val>,
    pub retry: Option<Spanned<RawRetry>>,
    pub route: Option<Vec<Spanned<RawRoute>>>,
    pub fork: Option<Val>,
    pub join: Option<Val>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRoute {
    pub to: Option<Val>,
    pub p: Option<Val>,
}

/// All keys of every arrival process; stage 2 checks which apply.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawArrivals {
    pub process: Option<Val>,
    // poisson
    pub rate: Option<Val>,
    // explicit
    pub at: Option<Val>,
    // profile
    pub base: Option<Val>,
    pub diurnal: Option<Spanned<RawDiurnal>>,
    pub spikes: Option<Vec<Spanned<RawSpike>>>,
    pub points: Option<Val>,
    pub interpolation: Option<Val>,
    // trace
    pub file: Option<Val>,
    pub format: Option<Val>,
    pub column: Option<Val>,
    pub interval: Option<Val>,
    pub spread: Option<Val>,
    pub scale: Option<Val>,
    // users
    pub population: Option<Val>,
    pub share: Option<Val>,
}

/// All keys of every distribution; stage 2 checks which apply.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDist {
    pub dist: Option<Val>,
    pub mean: Option<Val>,
    pub value: Option<Val>,
    pub k: Option<Val>,
    pub cv: Option<Val>,
    pub alpha: Option<Val>,
    pub min: Option<Val>,
    pub max: Option<Val>,
    pub file: Option<Val>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSlo {
    pub class: Option<Val>,
    pub stage: Option<Val>,
    pub metric: Option<Val>,
    pub max: Option<Val>,
    pub min: Option<Val>,
}

/// A pool's `policy`: a name (`"fifo"`), or an inline table whose values
/// keep their own positions (`{ kind = "shed", max_queue = 100 }`), so that
/// an error points at the bad value, not at the table.
#[derive(Debug)]
pub(crate) enum RawPolicy {
    Name(String),
    Table(Box<RawPolicyTable>),
}

/// The keys of every policy table; stage 2 checks which apply to the kind.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPolicyTable {
    pub kind: Option<Val>,
    pub name: Option<Val>,
    pub threshold: Option<Val>,
    pub reserved: Option<Val>,
    pub max_queue: Option<Val>,
    pub max_wait: Option<Val>,
    pub classes: Option<Val>,
}

impl<'de> Deserialize<'de> for RawPolicy {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = RawPolicy;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(
                    "a policy name (\"fifo\", \"priority\", \"fair\") or a table { kind = … }",
                )
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<RawPolicy, E> {
                Ok(RawPolicy::Name(s.to_string()))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<RawPolicy, A::Error> {
                RawPolicyTable::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(|t| RawPolicy::Table(Box::new(t)))
            }
        }
        d.deserialize_any(Visit)
    }
}

/// One change of a capacity schedule: `{ at = "12h", gpus = "+1000" }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCapacityStep {
    pub at: Option<Val>,
    pub gpus: Option<Val>,
}
