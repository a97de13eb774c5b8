//! surge: a capacity-planning discrete-event simulator for GPU-backed AI
//! services under viral load.

pub mod app;
pub mod cli;
pub mod engine;
pub mod metrics;
pub mod model;
pub mod policy;
pub mod report;
pub mod rng;
pub mod scenario;
pub mod theory;
