//! Streaming statistics: memory is bounded by the number of classes, pools
//! and time buckets, never by the number of requests simulated.
//!
//! - [`DurationHistogram`]: HDR histogram of durations (3 significant
//!   digits: any quantile is within 0.1% of the exact sample quantile) plus
//!   an exact running sum for the mean.
//! - [`CompactHistogram`]: a log-linear histogram (relative error ≤ 0.8%)
//!   whose reset and quantiles cost only the range of values it holds, for
//!   per-bucket quantiles of the time series.
//! - [`Level`]: the time integral of a piecewise-constant quantity (queue
//!   length, busy GPUs) over a fixed window and over time buckets.

mod compact;
mod histogram;
mod level;

pub use compact::CompactHistogram;
pub use histogram::DurationHistogram;
pub use level::Level;
