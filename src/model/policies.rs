//! Which queue discipline each pool runs: a built-in one from the
//! scenario, or one supplied from code (see [`crate::Simulation`]).

use super::spec::{PolicySpec, Scenario};
use crate::policy::{
    Admission, Deferral, Fair, Fifo, Handle, PoolView, Priority, QueuePolicy, QueuedRequest, Shed,
};

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

/// A pool's queue discipline as the simulation holds it: the two plain
/// orderings inline (their calls compile to a queue push and pop), every
/// other one behind one virtual call per operation.
pub(crate) enum PoolPolicy {
    Fifo(Fifo),
    Priority(Priority),
    Other(Box<dyn QueuePolicy>),
}

impl PoolPolicy {
    #[inline]
    pub(crate) fn admit(&mut self, request: &QueuedRequest, pool: &PoolView) -> Admission {
        match self {
            PoolPolicy::Fifo(_) | PoolPolicy::Priority(_) => Admission::Queue,
            PoolPolicy::Other(p) => p.admit(request, pool),
        }
    }

    #[inline]
    pub(crate) fn enqueue(&mut self, request: QueuedRequest, pool: &PoolView) {
        match self {
            PoolPolicy::Fifo(p) => p.enqueue(request, pool),
            PoolPolicy::Priority(p) => p.enqueue(request, pool),
            PoolPolicy::Other(p) => p.enqueue(request, pool),
        }
    }

    #[inline]
    pub(crate) fn dequeue(&mut self, pool: &PoolView) -> Option<Handle> {
        match self {
            PoolPolicy::Fifo(p) => p.dequeue(pool),
            PoolPolicy::Priority(p) => p.dequeue(pool),
            PoolPolicy::Other(p) => p.dequeue(pool),
        }
    }

    /// A dequeued request started; `request` builds what the policy is
    /// shown, only for policies that look.
    #[inline]
    pub(crate) fn started(&mut self, request: impl FnOnce() -> QueuedRequest, pool: &PoolView) {
        if let PoolPolicy::Other(p) = self {
            p.started(&request(), pool);
        }
    }

    /// Whether the policy only orders its queue and keeps no other state:
    /// then a request that finds a GPU free and nobody live waiting starts
    /// at once, exactly as if it had been queued and dequeued.
    #[inline]
    pub(crate) fn only_orders(&self) -> bool {
        !matches!(self, PoolPolicy::Other(_))
    }
}

/// Build the queue discipline of a pool.
pub(super) fn make_policy(pool: usize, sc: &Scenario, custom: &PolicyOverrides) -> PoolPolicy {
    let spec = &sc.pools[pool];
    let ctx = PolicyContext { scenario: sc, pool };
    if let Some((_, f)) = custom.by_pool.iter().find(|(n, _)| *n == spec.name) {
        return PoolPolicy::Other(f(&ctx));
    }
    match &spec.policy {
        PolicySpec::Fifo => PoolPolicy::Fifo(Fifo::new()),
        PolicySpec::Priority => PoolPolicy::Priority(Priority::new()),
        _ => PoolPolicy::Other(make_boxed(pool, sc, custom)),
    }
}

/// The boxed policies: custom ones and the built-ins with admission or
/// state of their own.
fn make_boxed(pool: usize, sc: &Scenario, custom: &PolicyOverrides) -> Box<dyn QueuePolicy> {
    let spec = &sc.pools[pool];
    let ctx = PolicyContext { scenario: sc, pool };
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
