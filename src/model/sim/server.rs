//! A pool's server model: what its GPUs do with the requests its queue
//! policy hands them, behind one seam.
//!
//! - [`Gpus`]: one request per GPU, for the service time drawn at its
//!   arrival (the M/G/c server).
//! - [`Batches`]: a free GPU takes up to `max_batch` waiting requests and
//!   serves them together for base + per-item × size; it waits at most
//!   `max_wait` to fill a batch.
//!
//! A server model owns its busy counts and what is in service; the pool
//! owns its capacity (installed, failed and provisioning GPUs), its queue
//! and its levels, and tells the server how many GPUs are usable. The loop
//! asks a server only whether work can start (`has_free_gpu`,
//! `starts_at_once`), how busy it is (`busy`, `busy_deferred`), and, on a
//! failure, which request a failed GPU held (`victim`); starting and
//! finishing work are the model's own methods, called from the pool's
//! dispatch for that model (see `pools`).
//! - [`Replicas`]: LLM replicas of k GPUs doing continuous batching at
//!   token level (see [`super::replica`]); their dispatch is in `serve`.

use super::replica::Replicas;
use super::slab::RequestSlab;
use crate::engine::SimTime;
use crate::model::spec::{BatchingSpec, PoolSpec};
use crate::rng::SimRng;

/// The server of one pool: its busy counts, which every model keeps, and
/// its model's own state.
pub(super) struct Server {
    /// GPUs serving work.
    busy: u32,
    /// Of those, serving deferred work.
    busy_deferred: u32,
    pub(super) model: Model,
}

/// A pool's server model.
pub(super) enum Model {
    Gpus(Gpus),
    Batches(Batches),
    /// LLM replicas doing continuous batching (see [`super::replica`]).
    Replicas(Box<Replicas>),
}

impl Server {
    /// The model `spec` declares, measured over `window`.
    /// `router_rng` is the stream of a serving pool's router, if it has one.
    pub(super) fn new(spec: &PoolSpec, window: (SimTime, SimTime), router_rng: SimRng) -> Self {
        let model = match (&spec.batching, &spec.serving) {
            (_, Some(sv)) => {
                let mut reps = Replicas::new(sv.clone(), spec.speed, window);
                if let crate::model::Router::Routed { kind, refresh } = sv.router {
                    reps.router = Some(Box::new(super::router::RouterState::new(
                        kind, refresh, router_rng,
                    )));
                }
                reps.set_usable(sv.replicas(spec.gpus), SimTime::ZERO);
                Model::Replicas(Box::new(reps))
            }
            (Some(b), None) => Model::Batches(Batches {
                spec: b.clone(),
                speed: spec.speed,
                fill_deadline: None,
                batches: Vec::new(),
                free: Vec::new(),
            }),
            (None, None) => Model::Gpus(Gpus {
                in_service: spec.failures.is_some().then(Vec::new),
            }),
        };
        Server {
            busy: 0,
            busy_deferred: 0,
            model,
        }
    }

    /// GPUs serving work.
    #[inline]
    pub(super) fn busy(&self) -> u32 {
        self.busy
    }

    /// Of those, serving deferred work.
    #[inline]
    pub(super) fn busy_deferred(&self) -> u32 {
        self.busy_deferred
    }

    /// Whether one of `usable` GPUs is free (replicas: whether to look,
    /// since a running replica may take more work at its next step).
    #[inline]
    pub(super) fn has_free_gpu(&self, usable: u32) -> bool {
        self.busy < usable || matches!(self.model, Model::Replicas(_))
    }

    /// Replicas: the GPUs of the replicas running steps are busy.
    pub(super) fn set_busy(&mut self, busy: u32) {
        self.busy = busy;
    }

    /// Whether a request that finds nobody waiting starts at once on one
    /// of `usable` GPUs (a batching GPU may hold it to fill a batch).
    #[inline]
    pub(super) fn starts_at_once(&self, usable: u32) -> bool {
        matches!(self.model, Model::Gpus(_)) && self.busy < usable
    }

    /// A GPU failed while serving: the request it held, drawn by `pick`
    /// (a uniform draw in [0, 1), called only when something is in
    /// service on a model that tracks it), or `None`.
    pub(super) fn victim(&self, pick: impl FnOnce() -> f64) -> Option<u32> {
        match &self.model {
            Model::Gpus(Gpus {
                in_service: Some(list),
            }) if !list.is_empty() => {
                let k = (pick() * list.len() as f64) as usize;
                Some(list[k.min(list.len() - 1)])
            }
            // A batch lost to a failure is not modelled: it runs to its end.
            _ => None,
        }
    }

    /// One-request GPUs: request `id` starts on a free GPU.
    #[inline(always)]
    pub(super) fn start_one(&mut self, requests: &mut RequestSlab, id: u32, deferred: bool) {
        self.busy += 1;
        if deferred {
            self.busy_deferred += 1;
        }
        if let Model::Gpus(Gpus {
            in_service: Some(list),
        }) = &mut self.model
        {
            requests.set_slot(id, list.len() as u32);
            list.push(id);
        }
    }

    /// One-request GPUs: request `id` leaves service (completed or lost).
    #[inline(always)]
    pub(super) fn finish_one(&mut self, requests: &mut RequestSlab, id: u32, deferred: bool) {
        self.busy -= 1;
        if deferred {
            self.busy_deferred -= 1;
        }
        if let Model::Gpus(Gpus {
            in_service: Some(list),
        }) = &mut self.model
        {
            let slot = requests.slot(id) as usize;
            list.swap_remove(slot);
            if let Some(&moved) = list.get(slot) {
                requests.set_slot(moved, slot as u32);
            }
        }
    }

    /// Batches: the filled list starts on a free GPU; the batch's id.
    pub(super) fn start_batch(
        &mut self,
        slot: Option<u32>,
        requests: Vec<u32>,
        deferred: bool,
    ) -> u32 {
        self.busy += 1;
        if deferred {
            self.busy_deferred += 1;
        }
        self.batches().start(slot, requests, deferred)
    }

    /// Batches: batch `batch` is done and its GPU free; its requests, to
    /// be given back with [`Batches::recycle`] once they are released.
    pub(super) fn finish_batch(&mut self, batch: u32) -> Vec<u32> {
        let b = self.batches();
        let slot = &mut b.batches[batch as usize];
        let requests = std::mem::take(&mut slot.requests);
        let deferred = slot.deferred;
        self.busy -= 1;
        if deferred {
            self.busy_deferred -= 1;
        }
        requests
    }

    /// The batching model (the caller knows the pool batches).
    pub(super) fn batches(&mut self) -> &mut Batches {
        match &mut self.model {
            Model::Batches(b) => b,
            _ => unreachable!("only a batching pool has batches"),
        }
    }

    /// The serving model (the caller knows the pool serves).
    pub(super) fn replicas(&mut self) -> &mut Replicas {
        match &mut self.model {
            Model::Replicas(r) => r,
            _ => unreachable!("only a serving pool has replicas"),
        }
    }

    /// A serving pool's replicas, if it routes requests at arrival.
    #[inline]
    pub(super) fn routed(&mut self) -> Option<&mut Replicas> {
        match &mut self.model {
            Model::Replicas(r) if r.router.is_some() => Some(r),
            _ => None,
        }
    }
}

/// One request per GPU.
pub(super) struct Gpus {
    /// Requests in service, for a failure to pick its victim from (`None`:
    /// the pool never fails). A request's index in it is kept in the slab.
    in_service: Option<Vec<u32>>,
}

/// Requests served together on one GPU.
#[derive(Default)]
pub(super) struct Batch {
    pub(super) requests: Vec<u32>,
    pub(super) deferred: bool,
}

/// Static batches: up to `max_batch` requests per GPU.
pub(super) struct Batches {
    pub(super) spec: BatchingSpec,
    /// The pool's speed factor.
    pub(super) speed: f64,
    /// When a free GPU stops waiting to fill a batch.
    pub(super) fill_deadline: Option<SimTime>,
    batches: Vec<Batch>,
    free: Vec<u32>,
}

impl Batches {
    /// An empty request list to fill, and the batch slot it will take
    /// (reusing a finished batch's list where there is one).
    pub(super) fn open(&mut self) -> (Option<u32>, Vec<u32>) {
        let slot = self.free.pop();
        let mut requests = match slot {
            Some(b) => std::mem::take(&mut self.batches[b as usize].requests),
            None => Vec::with_capacity(self.spec.max_batch as usize),
        };
        requests.clear();
        (slot, requests)
    }

    /// Nothing was taken into the list `open` gave: give it back.
    pub(super) fn abandon(&mut self, slot: Option<u32>, requests: Vec<u32>) {
        if let Some(b) = slot {
            self.batches[b as usize].requests = requests;
            self.free.push(b);
        }
    }

    fn start(&mut self, slot: Option<u32>, requests: Vec<u32>, deferred: bool) -> u32 {
        self.fill_deadline = None;
        let batch = Batch { requests, deferred };
        match slot {
            Some(b) => {
                self.batches[b as usize] = batch;
                b
            }
            None => {
                self.batches.push(batch);
                (self.batches.len() - 1) as u32
            }
        }
    }

    /// The list of a finished batch, for a later batch to reuse.
    pub(super) fn recycle(&mut self, batch: u32, mut requests: Vec<u32>) {
        requests.clear();
        self.batches[batch as usize].requests = requests;
        self.free.push(batch);
    }
}
