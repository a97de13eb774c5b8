//! surge: a capacity-planning discrete-event simulator for GPU-backed AI
//! services under viral load.
//!
//! The pipeline, from a scenario file to outputs:
//!
//! ```text
//! scenario file ──scenario::load_file──▶ Scenario (validated, plain data)
//!     Scenario ──surge::simulate(scenario, replication)──▶ RunResult
//!     RunResult… ──report::{summary_table, pools_table, timeseries_table}──▶ CSV / JSON
//! ```
//!
//! The library API: [`scenario`] loads and validates files, [`model`] holds
//! the scenario types and results, [`Simulation`] runs them (with custom
//! policies implementing [`policy::QueuePolicy`]), [`rows`] are the typed
//! rows of every output table and [`metric`] the vocabulary of per-class
//! metrics, [`report`] turns results into tables (and, with the `charts`
//! feature, charts and `report.html`), [`slo`] judges bounds, [`sweep`]
//! expands grids, [`stats`] has the intervals and tests, and [`theory`] the
//! queueing formulas the tests check against. `app` and `cli` are the
//! binary's plumbing (the `cli` feature; hidden from the docs).
//!
//! Dependencies point one way: `cli → app → {scenario, sweep, report, slo}
//! → {rows, simulation} → model → {policy, metrics} → {engine, rng, metric,
//! units, stats}`. The [`engine`] orders events and knows nothing of GPUs;
//! the [`model`] plays requests through pools; [`metrics`] stream
//! statistics in memory bounded by what is in the system.
//!
//! ```
//! use surge::engine::SimDuration;
//! use surge::model::{DurationDist, Scenario};
//! use surge::simulate;
//!
//! // M/M/8 at 90% load for one simulated hour.
//! let service = DurationDist::exponential(1.0).unwrap();
//! let scenario = Scenario::single_queue(8, 7.2, service, SimDuration::from_secs(3600));
//! let result = simulate(&scenario, 0).unwrap();
//! let wait = result.classes[0].wait.mean_s().unwrap();
//! assert!(wait > 0.0 && wait < 5.0);
//! ```

#![warn(missing_docs)]

#[cfg(feature = "cli")]
#[doc(hidden)]
pub mod app;
#[cfg(feature = "cli")]
#[doc(hidden)]
pub mod cli;
pub mod engine;
pub mod metric;
pub mod metrics;
pub mod model;
pub mod policy;
pub mod report;
pub mod rng;
pub mod rows;
pub mod scenario;
mod simulation;
pub mod slo;
pub mod stats;
pub mod sweep;
pub mod theory;
pub mod units;

pub use simulation::{ReadySimulation, Simulation, SimulationError, simulate};
