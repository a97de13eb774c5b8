//! Arrival processes and the per-run state that draws from them.

use super::profile::{ProfileSampler, RateProfile};
use crate::engine::{SimDuration, SimTime};
use rand::Rng;
use rand_distr::{Distribution as _, Exp1, Poisson};
use std::sync::Arc;

/// When the arrivals of a class (or the signups of a population) happen.
#[derive(Clone, Debug)]
pub enum ArrivalSpec {
    /// Poisson arrivals at a constant rate λ (per second).
    Poisson {
        /// λ, arrivals per second.
        rate_per_s: f64,
    },
    /// A non-homogeneous Poisson process with rate λ(t).
    Profile(RateProfile),
    /// Replay of a trace file.
    Trace(TraceSpec),
    /// Arrivals at exactly these times (sorted), for hand-traced cases.
    Explicit {
        /// Arrival instants, non-decreasing.
        times: Vec<SimTime>,
    },
    /// Requests sent by the users of a population: this class receives a
    /// `share` of them (shares are normalised over the population's classes).
    Users {
        /// Index into [`Scenario::populations`](super::Scenario::populations).
        population: usize,
        /// Relative weight of this class among the population's classes.
        share: f64,
    },
}

/// A recorded trace to replay.
#[derive(Clone, Debug)]
pub enum TraceSpec {
    /// One arrival per timestamp; `scale` > 1 replays each timestamp
    /// ⌊scale⌋ times plus once more with probability frac(scale), < 1 keeps
    /// each with probability `scale`.
    Times {
        /// Sorted arrival instants.
        times: Arc<[SimTime]>,
        /// Load multiplier.
        scale: f64,
    },
    /// Arrival counts per interval `[start, start + width)`.
    Counts {
        /// Interval starts, increasing.
        starts: Arc<[SimTime]>,
        /// Interval width.
        width: SimDuration,
        /// Arrivals per interval (before scaling).
        counts: Arc<[f64]>,
        /// Load multiplier.
        scale: f64,
        /// How arrivals are placed inside an interval.
        spread: Spread,
    },
}

/// Placement of counted arrivals inside their interval.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Spread {
    /// Exactly round(count × scale) arrivals (stochastic rounding), at
    /// independent uniform positions.
    Uniform,
    /// A Poisson number of arrivals with mean count × scale, at uniform
    /// positions: a Poisson process of constant rate within the interval.
    Poisson,
}

impl ArrivalSpec {
    /// Expected number of arrivals in `[0, duration)`.
    pub fn expected_count(&self, duration: SimDuration) -> f64 {
        let secs = duration.as_secs_f64();
        match self {
            ArrivalSpec::Poisson { rate_per_s } => rate_per_s * secs,
            ArrivalSpec::Profile(p) => p.integral(0.0, secs),
            ArrivalSpec::Trace(TraceSpec::Times { times, scale }) => {
                times.iter().filter(|t| t.0 < duration.0).count() as f64 * scale
            }
            ArrivalSpec::Trace(TraceSpec::Counts {
                starts,
                counts,
                scale,
                ..
            }) => {
                starts
                    .iter()
                    .zip(counts.iter())
                    .filter(|(s, _)| s.0 < duration.0)
                    .map(|(_, c)| c)
                    .sum::<f64>()
                    * scale
            }
            ArrivalSpec::Explicit { times } => {
                times.iter().filter(|t| t.0 < duration.0).count() as f64
            }
            ArrivalSpec::Users { .. } => 0.0,
        }
    }
}

/// The running state of one arrival process.
#[derive(Clone, Debug)]
pub(crate) enum ArrivalState {
    Poisson {
        mean_gap_s: f64,
    },
    Profile {
        profile: RateProfile,
        sampler: ProfileSampler,
    },
    Times {
        times: Arc<[SimTime]>,
        scale: f64,
        next: usize,
        repeat: u64,
    },
    Counts {
        starts: Arc<[SimTime]>,
        width: SimDuration,
        counts: Arc<[f64]>,
        scale: f64,
        spread: Spread,
        interval: usize,
        pending: Vec<SimTime>,
    },
    Explicit {
        times: Vec<SimTime>,
        next: usize,
    },
    /// Driven by a population, not by its own clock.
    None,
}

#[inline]
fn unit<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

impl ArrivalState {
    pub(crate) fn new(spec: &ArrivalSpec, horizon: SimDuration) -> Self {
        match spec {
            ArrivalSpec::Poisson { rate_per_s } => ArrivalState::Poisson {
                mean_gap_s: 1.0 / rate_per_s,
            },
            ArrivalSpec::Profile(p) => ArrivalState::Profile {
                profile: p.clone(),
                sampler: ProfileSampler::new(horizon),
            },
            ArrivalSpec::Trace(TraceSpec::Times { times, scale }) => ArrivalState::Times {
                times: times.clone(),
                scale: *scale,
                next: 0,
                repeat: 0,
            },
            ArrivalSpec::Trace(TraceSpec::Counts {
                starts,
                width,
                counts,
                scale,
                spread,
            }) => ArrivalState::Counts {
                starts: starts.clone(),
                width: *width,
                counts: counts.clone(),
                scale: *scale,
                spread: *spread,
                interval: 0,
                pending: Vec::new(),
            },
            ArrivalSpec::Explicit { times } => ArrivalState::Explicit {
                times: times.clone(),
                next: 0,
            },
            ArrivalSpec::Users { .. } => ArrivalState::None,
        }
    }

    /// The next arrival at or after `now` (strictly after for continuous
    /// processes), or `None` if there is none before `until`.
    #[inline(always)]
    pub(crate) fn next<R: Rng + ?Sized>(
        &mut self,
        now: SimTime,
        until: SimTime,
        rng: &mut R,
    ) -> Option<SimTime> {
        // Poisson inline at the call; the other processes out of line.
        if let ArrivalState::Poisson { mean_gap_s } = self {
            let e: f64 = Exp1.sample(rng);
            let at = now + SimDuration::from_secs_f64(e * *mean_gap_s);
            return (at < until).then_some(at.max(now));
        }
        self.next_other(now, until, rng)
    }

    #[inline(never)]
    fn next_other<R: Rng + ?Sized>(
        &mut self,
        now: SimTime,
        until: SimTime,
        rng: &mut R,
    ) -> Option<SimTime> {
        let at = match self {
            ArrivalState::Poisson { mean_gap_s } => {
                let e: f64 = Exp1.sample(rng);
                now + SimDuration::from_secs_f64(e * *mean_gap_s)
            }
            ArrivalState::Profile { profile, sampler } => sampler.next(profile, now, until, rng)?,
            ArrivalState::Times {
                times,
                scale,
                next,
                repeat,
            } => loop {
                // `repeat` copies of times[next] are still due.
                if *repeat > 0 {
                    *repeat -= 1;
                    break times[*next - 1];
                }
                times.get(*next)?;
                *next += 1;
                let whole = scale.floor();
                *repeat = whole as u64 + u64::from(unit(rng) < *scale - whole);
            },
            ArrivalState::Counts {
                starts,
                width,
                counts,
                scale,
                spread,
                interval,
                pending,
            } => loop {
                if let Some(t) = pending.pop() {
                    break t;
                }
                let i = *interval;
                let start = *starts.get(i)?;
                *interval += 1;
                let mean = counts[i] * *scale;
                let n = match spread {
                    Spread::Uniform => {
                        mean.floor() as u64 + u64::from(unit(rng) < mean - mean.floor())
                    }
                    Spread::Poisson if mean > 0.0 => Poisson::new(mean)
                        .map(|p| p.sample(rng) as u64)
                        .unwrap_or(0),
                    Spread::Poisson => 0,
                };
                pending.clear();
                for _ in 0..n {
                    let offset = SimDuration::from_secs_f64(unit(rng) * width.as_secs_f64());
                    pending.push(start + offset);
                }
                // Pop from the back: sort descending.
                pending.sort_unstable_by(|a, b| b.cmp(a));
            },
            ArrivalState::Explicit { times, next } => {
                let t = *times.get(*next)?;
                *next += 1;
                t
            }
            ArrivalState::None => return None,
        };
        (at < until).then_some(at.max(now))
    }
}
