//! A client's (or a workflow stage's) retries: how many attempts, and the
//! backoff with jitter between them.

/// Client behaviour after a rejected, abandoned or failed attempt: try
/// again after an exponential backoff with jitter.
#[derive(Clone, Debug, PartialEq)]
pub struct RetrySpec {
    /// Attempts in all, the first included (1 = never retry).
    pub max_attempts: u32,
    /// Backoff before the first retry, seconds.
    pub base_s: f64,
    /// Growth of the backoff per retry.
    pub factor: f64,
    /// Largest backoff, seconds.
    pub max_s: f64,
    /// Share of the backoff that is random, in [0, 1]: the delay is uniform
    /// on [d·(1 − jitter), d] where d = min(max, base · factor^(retry − 1)).
    pub jitter: f64,
}

impl RetrySpec {
    /// The backoff before retry number `retry` (1-based), seconds, given
    /// a uniform draw `u` in [0, 1): d·(1 − jitter·u).
    pub fn delay_s(&self, retry: u32, u: f64) -> f64 {
        self.backoff_s(retry) * (1.0 - self.jitter * u)
    }

    /// The deterministic part of the backoff before retry number `retry` (1-based).
    pub fn backoff_s(&self, retry: u32) -> f64 {
        (self.base_s * self.factor.powi(retry.saturating_sub(1) as i32)).min(self.max_s)
    }
}
