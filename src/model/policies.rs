//! Which queue discipline each pool runs: a built-in one from the
//! scenario, or one supplied from code (see [`crate::Simulation`]).

use super::spec::{PolicySpec, Scenario};
use crate::policy::{Deferral, Fair, Fifo, Priority, QueuePolicy, Shed};

/// Builds a custom queue policy for a pool: see [`crate::Simulation::policy`].
pub type PolicyFactory = dyn Fn(&PolicyContext<'_>) -> Box<dyn QueuePolicy> + Send + Sync;

/// What a policy factory knows when it builds the policy of one pool.
pub struct PolicyContext<'a> {
    /// The whole scenario (classes, with their priorities and weights).
    pub scenario: &'a Scenario,
    /// Index of the pool in `scenario.pools`.
    pub pool: usize,
}

/// Policies supplied from code: by registered name (for `kind = "custom"`)
/// and by pool name (replacing whatever the scenario says).
#[derive(Default, Clone)]
pub(crate) struct PolicyOverrides {
    pub(crate) by_name: Vec<(String, std::sync::Arc<PolicyFactory>)>,
    pub(crate) by_pool: Vec<(String, std::sync::Arc<PolicyFactory>)>,
}

/// Build the queue discipline of a pool.
pub(super) fn make_policy(
    pool: usize,
    sc: &Scenario,
    custom: &PolicyOverrides,
) -> Box<dyn QueuePolicy> {
    let spec = &sc.pools[pool];
    let ctx = PolicyContext { scenario: sc, pool };
    if let Some((_, f)) = custom.by_pool.iter().find(|(n, _)| *n == spec.name) {
        return f(&ctx);
    }
    match &spec.policy {
        PolicySpec::Custom { name } => match custom.by_name.iter().find(|(n, _)| n == name) {
            Some((_, f)) => f(&ctx),
            // `Simulation::build` refuses a scenario whose custom policies
            // are not all registered, and only a built simulation runs.
            None => unreachable!(
                "custom policy {name:?} of pool {:?} was checked at build",
                spec.name
            ),
        },
        PolicySpec::Fifo => Box::new(Fifo::new()),
        PolicySpec::Priority => Box::new(Priority::new()),
        PolicySpec::Fair => Box::new(Fair::new(sc.classes.iter().map(|c| c.weight).collect())),
        PolicySpec::Deferral {
            threshold,
            reserved,
        } => Box::new(Deferral::new(
            threshold.as_secs_f64(),
            *reserved,
            sc.classes.iter().map(|c| c.deferrable).collect(),
        )),
        PolicySpec::Shed {
            max_queue,
            max_wait,
            classes,
        } => Box::new(Shed::new(
            *max_queue,
            max_wait.map(|w| w.as_secs_f64()),
            classes
                .as_ref()
                .map(|list| (0..sc.classes.len()).map(|i| list.contains(&i)).collect()),
        )),
    }
}
