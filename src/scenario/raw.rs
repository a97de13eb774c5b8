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
    #[serde(default)]
    pub pool: Vec<Spanned<RawPool>>,
    #[serde(default)]
    pub class: Vec<Spanned<RawClass>>,
    #[serde(default)]
    pub slo: Vec<Spanned<RawSlo>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPool {
    pub name: Option<Val>,
    pub gpus: Option<Val>,
    pub policy: Option<Val>,
    pub speed: Option<Val>,
    pub cost_per_gpu_hour: Option<Val>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawClass {
    pub name: Option<Val>,
    pub pool: Option<Val>,
    pub arrivals: Option<Spanned<RawArrivals>>,
    pub service: Option<Spanned<RawDist>>,
    pub latency_target: Option<Val>,
}

/// All keys of every arrival process; stage 2 checks which apply.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawArrivals {
    pub process: Option<Val>,
    pub rate: Option<Val>,
    pub at: Option<Val>,
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
    pub metric: Option<Val>,
    pub max: Option<Val>,
    pub min: Option<Val>,
}
