//! Running scenarios from code, with your own queue policies.
//!
//! ```
//! use surge::engine::SimDuration;
//! use surge::model::{DurationDist, PolicySpec, Scenario};
//! use surge::policy::{Fifo, QueuePolicy};
//! use surge::Simulation;
//!
//! let service = DurationDist::exponential(1.0).unwrap();
//! let mut scenario = Scenario::single_queue(8, 7.2, service, SimDuration::from_secs(3600));
//! scenario.pools[0].policy = PolicySpec::Custom { name: "my-fifo".into() };
//!
//! let sim = Simulation::new(&scenario)
//!     .policy("my-fifo", |_ctx| Box::new(Fifo::new()) as Box<dyn QueuePolicy>)
//!     .build()
//!     .unwrap();
//! let result = sim.run(0);
//! assert!(result.classes[0].completed > 20_000);
//! ```

use crate::model::{
    PolicyContext, PolicyOverrides, PolicySpec, Progress, RunResult, Scenario, simulate_with,
};
use crate::policy::QueuePolicy;
use rayon::prelude::*;
use std::sync::Arc;

/// Simulate replication `replication` of `scenario` with the built-in
/// policies. A scenario that names a custom policy (`kind = "custom"`)
/// needs [`Simulation`], which registers it; here it is an error.
///
/// ```
/// use surge::engine::SimDuration;
/// use surge::model::{DurationDist, Scenario};
///
/// // M/M/8 at 90% load for one simulated hour.
/// let service = DurationDist::exponential(1.0).unwrap();
/// let scenario = Scenario::single_queue(8, 7.2, service, SimDuration::from_secs(3600));
/// let result = surge::simulate(&scenario, 0).unwrap();
/// assert!(result.classes[0].wait.mean_s().unwrap() < 5.0);
/// ```
pub fn simulate(scenario: &Scenario, replication: u32) -> Result<RunResult, SimulationError> {
    Ok(Simulation::new(scenario).build()?.run(replication))
}

/// Why a simulation could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SimulationError {
    /// A pool names a custom policy that was not registered.
    #[error(
        "pool {pool:?} uses custom policy {name:?}, which is not registered; registered: {registered}"
    )]
    UnregisteredPolicy {
        /// The pool.
        pool: String,
        /// The policy name the scenario uses.
        name: String,
        /// The names registered with [`Simulation::policy`].
        registered: String,
    },
    /// [`Simulation::pool_policy`] names a pool the scenario does not have.
    #[error("no pool {pool:?} in the scenario; pools: {known}")]
    UnknownPool {
        /// The pool name given.
        pool: String,
        /// The scenario's pools.
        known: String,
    },
}

/// A simulation being set up: a scenario and the policies supplied from code.
pub struct Simulation<'a> {
    scenario: &'a Scenario,
    custom: PolicyOverrides,
}

impl<'a> Simulation<'a> {
    /// Start from a validated scenario (from [`crate::scenario::load_file`]
    /// or built in code).
    pub fn new(scenario: &'a Scenario) -> Self {
        Simulation {
            scenario,
            custom: PolicyOverrides::default(),
        }
    }

    /// Register a policy under `name`, for pools with
    /// `policy = { kind = "custom", name = "…" }`. The factory is called
    /// once per pool and replication, with the scenario and the pool index.
    pub fn policy<F>(mut self, name: &str, factory: F) -> Self
    where
        F: Fn(&PolicyContext<'_>) -> Box<dyn QueuePolicy> + Send + Sync + 'static,
    {
        self.custom
            .by_name
            .push((name.to_string(), Arc::new(factory)));
        self
    }

    /// Use this policy for pool `pool`, whatever the scenario says: run the
    /// same scenario files against your scheduler.
    pub fn pool_policy<F>(mut self, pool: &str, factory: F) -> Self
    where
        F: Fn(&PolicyContext<'_>) -> Box<dyn QueuePolicy> + Send + Sync + 'static,
    {
        self.custom
            .by_pool
            .push((pool.to_string(), Arc::new(factory)));
        self
    }

    /// Check that every custom policy is registered and every overridden
    /// pool exists.
    pub fn build(self) -> Result<ReadySimulation<'a>, SimulationError> {
        let pools: Vec<&str> = self
            .scenario
            .pools
            .iter()
            .map(|p| p.name.as_str())
            .collect();
        for (pool, _) in &self.custom.by_pool {
            if !pools.contains(&pool.as_str()) {
                return Err(SimulationError::UnknownPool {
                    pool: pool.clone(),
                    known: pools.join(", "),
                });
            }
        }
        for p in &self.scenario.pools {
            if let PolicySpec::Custom { name } = &p.policy {
                let overridden = self.custom.by_pool.iter().any(|(n, _)| *n == p.name);
                let registered = self.custom.by_name.iter().any(|(n, _)| n == name);
                if !overridden && !registered {
                    let names: Vec<&str> = self
                        .custom
                        .by_name
                        .iter()
                        .map(|(n, _)| n.as_str())
                        .collect();
                    return Err(SimulationError::UnregisteredPolicy {
                        pool: p.name.clone(),
                        name: name.clone(),
                        registered: if names.is_empty() {
                            "none".into()
                        } else {
                            names.join(", ")
                        },
                    });
                }
            }
        }
        Ok(ReadySimulation {
            scenario: self.scenario,
            custom: self.custom,
        })
    }
}

/// A simulation ready to run: it only runs.
pub struct ReadySimulation<'a> {
    scenario: &'a Scenario,
    custom: PolicyOverrides,
}

impl ReadySimulation<'_> {
    /// Run replication `replication` (deterministic: same scenario, seed and
    /// replication give the same result).
    pub fn run(&self, replication: u32) -> RunResult {
        simulate_with(self.scenario, replication, &self.custom, None)
    }

    /// As [`ReadySimulation::run_all`], publishing each replication's
    /// progress into `progress` (made with [`Progress::new`] for the
    /// scenario's replications) for another thread to display.
    pub fn run_all_with_progress(&self, progress: &Progress) -> Vec<RunResult> {
        (0..self.scenario.replications)
            .into_par_iter()
            .map(|r| simulate_with(self.scenario, r, &self.custom, Some(progress)))
            .collect()
    }

    /// Run every replication of the scenario in parallel; results in
    /// replication order.
    pub fn run_all(&self) -> Vec<RunResult> {
        (0..self.scenario.replications)
            .into_par_iter()
            .map(|r| self.run(r))
            .collect()
    }
}
