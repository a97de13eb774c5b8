//! Rate limits: token buckets per class, and per user inline in the
//! user's record.

use crate::engine::SimTime;

/// A token bucket's state; its rate and size live in the class's spec.
#[derive(Clone, Copy, Debug)]
pub(super) struct TokenBucket {
    pub(super) tokens: f64,
    pub(super) last: SimTime,
}

impl TokenBucket {
    pub(super) fn full(burst: f64) -> Self {
        TokenBucket {
            tokens: burst,
            last: SimTime::ZERO,
        }
    }

    /// Refill for the time since the last call, then take one token if there is one.
    pub(super) fn take(&mut self, now: SimTime, rate_per_s: f64, burst: f64) -> bool {
        let dt = (now - self.last).as_secs_f64();
        self.tokens = (self.tokens + dt * rate_per_s).min(burst);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// A user's token buckets, inline for the common case of at most one
/// limited class, so that a user is one small record with no indirection.
pub(super) enum UserBuckets {
    None,
    One(TokenBucket),
    Many(Box<[TokenBucket]>),
}

impl UserBuckets {
    pub(super) fn get_mut(&mut self, slot: usize) -> &mut TokenBucket {
        match self {
            UserBuckets::One(b) if slot == 0 => b,
            UserBuckets::Many(v) => &mut v[slot],
            _ => unreachable!("bucket slots come from the population's limited classes"),
        }
    }
}
