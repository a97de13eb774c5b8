//! The discrete-event kernel: simulated time and the event queue.
//!
//! This module is domain-free: it knows nothing of GPUs, requests, TOML or
//! probability distributions. It orders events of any payload type `E` by
//! `(time, scheduling order)` and hands them back one at a time.
//!
//! Invariant: events at equal time are returned in the order they were
//! scheduled (FIFO tie-break), so a run replays exactly.

mod prefetch;
mod queue;
mod time;

pub use prefetch::prefetch;
pub use queue::EventQueue;
pub use time::{SimDuration, SimTime};
