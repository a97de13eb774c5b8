//! The system being simulated: workload classes, GPU pools, requests, and
//! the simulation that plays them out on the engine.
//!
//! Depends on `engine` (time, event queue), `policy` (queue disciplines),
//! `metrics` (streaming statistics) and `rng` (streams); never on TOML, files
//! or the command line.

mod arrivals;
mod dist;
mod policies;
mod profile;
mod progress;
mod results;
mod retry;
pub mod serving;
mod sim;
mod spec;
mod trace;
pub mod verdict;
mod workflow;

pub use arrivals::{ArrivalSpec, Spread, TraceSpec};
pub use profile::{Decay, Diurnal, Interpolation, RateProfile, Spike};
pub use progress::Progress;
pub use trace::{Outcome, TraceRecord};
pub use verdict::{LoadVerdict, VerdictKind};
pub use workflow::{Join, StageSpec, StageWork, Target, WorkflowSpec};

pub use dist::{DistError, DurationDist};
pub(crate) use policies::PolicyOverrides;
pub use policies::{PolicyContext, PolicyFactory};
pub use results::{
    ClassResult, PoolResult, PopulationResult, RunResult, Scope, ServingResult, ServingSeriesRow,
    StageResult, StageSeriesRow, StopReason, Stopped, TimeSeriesRow,
};
pub use retry::RetrySpec;
pub use serving::roofline::{Efficiency, GpuSpec, ModelShape, Roofline};
pub use serving::{
    BLOCK_TOKENS, Router, RouterKind, ServingSpec, StepModel, StepSource, StepTime, TokenDist,
    TokenSpec,
};
pub(crate) use sim::simulate_with;
pub use spec::{
    AutoscaleSpec, BatchingSpec, Budget, CapacityChange, CapacityStep, ClassSpec, CountDist,
    FailureSpec, LimitSpec, PolicySpec, PoolSpec, PopulationSpec, ReturnSpec, ScaleTrigger,
    Scenario, SloSpec, StartTime, days_in_month,
};
