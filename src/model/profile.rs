//! Time-varying arrival rates: a baseline with a daily cycle, viral spikes
//! and explicit piecewise points, and exact sampling of the resulting
//! non-homogeneous Poisson process.
//!
//! The rate at time t (seconds since the start) is
//!
//! ```text
//! λ(t) = base · diurnal(t) + points(t) + Σ spikes(t)
//! ```
//!
//! Sampling is exact (Lewis & Shedler 1979, thinning): time is cut into
//! segments, each with an upper bound λ̄ of the rate over it computed from
//! the shape of every component; candidates arrive as a Poisson process of
//! rate λ̄ and each is kept with probability λ(t)/λ̄. Nothing is rounded to
//! buckets.

use crate::engine::{SimDuration, SimTime};
use rand::Rng;
use rand_distr::{Distribution as _, Exp1};

/// Seconds in a day, the period of the diurnal cycle.
const DAY_S: f64 = 86_400.0;

/// A daily cycle multiplying the baseline.
#[derive(Clone, Debug, PartialEq)]
pub enum Diurnal {
    /// 1 + amplitude · cos(2π (t − peak) / 1 day), amplitude in [0, 1].
    Cosine {
        /// Relative swing around the baseline.
        amplitude: f64,
        /// Time of day of the maximum, seconds after midnight (t = 0 is midnight).
        peak_s: f64,
    },
    /// A multiplier per hour of the day (step function), 24 values ≥ 0.
    Hourly(Vec<f64>),
}

/// How a spike's rate falls back after its plateau.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decay {
    /// peak · e^{−(t − t₀)/decay}: `decay` is the time constant.
    Exponential,
    /// From peak to zero in a straight line over `decay`.
    Linear,
}

/// A viral spike: extra arrivals on top of the rest of the profile.
/// Zero before `at`, a linear ramp up to `peak` over `ramp`, a plateau for
/// `hold`, then a decay.
#[derive(Clone, Debug, PartialEq)]
pub struct Spike {
    /// Start of the ramp, seconds.
    pub at_s: f64,
    /// Extra arrivals per second at the plateau.
    pub peak_per_s: f64,
    /// Ramp length, seconds (0 = a step).
    pub ramp_s: f64,
    /// Plateau length, seconds.
    pub hold_s: f64,
    /// Decay length (linear) or time constant (exponential), seconds.
    pub decay_s: f64,
    /// Shape of the decay.
    pub decay: Decay,
}

impl Spike {
    fn plateau(&self) -> (f64, f64) {
        let start = self.at_s + self.ramp_s;
        (start, start + self.hold_s)
    }

    /// The spike's extra rate at `t`.
    pub fn rate(&self, t: f64) -> f64 {
        let (p0, p1) = self.plateau();
        if t < self.at_s {
            0.0
        } else if t < p0 {
            self.peak_per_s * (t - self.at_s) / self.ramp_s
        } else if t <= p1 {
            self.peak_per_s
        } else if self.decay_s <= 0.0 {
            0.0
        } else {
            match self.decay {
                Decay::Exponential => self.peak_per_s * (-(t - p1) / self.decay_s).exp(),
                Decay::Linear => (self.peak_per_s * (1.0 - (t - p1) / self.decay_s)).max(0.0),
            }
        }
    }

    /// The largest rate on [a, b]: the function rises, holds, then falls.
    fn bound(&self, a: f64, b: f64) -> f64 {
        let (p0, p1) = self.plateau();
        if a <= p1 && b >= p0 {
            self.peak_per_s
        } else {
            self.rate(a).max(self.rate(b))
        }
    }
}

/// How explicit points are joined.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interpolation {
    /// Each point's rate holds until the next point.
    Step,
    /// Straight lines between points.
    Linear,
}

/// A rate profile λ(t).
#[derive(Clone, Debug, PartialEq)]
pub struct RateProfile {
    /// Baseline arrivals per second (multiplied by the diurnal cycle).
    pub base_per_s: f64,
    /// Daily cycle of the baseline.
    pub diurnal: Option<Diurnal>,
    /// Viral spikes, added.
    pub spikes: Vec<Spike>,
    /// Explicit `(time s, rate /s)` points, sorted by time, added. Before
    /// the first point the rate is 0; after the last it holds.
    pub points: Vec<(f64, f64)>,
    /// How points are joined.
    pub interpolation: Interpolation,
}

impl RateProfile {
    /// A constant rate.
    pub fn constant(rate_per_s: f64) -> Self {
        RateProfile {
            base_per_s: rate_per_s,
            diurnal: None,
            spikes: Vec::new(),
            points: Vec::new(),
            interpolation: Interpolation::Step,
        }
    }

    fn diurnal_factor(&self, t: f64) -> f64 {
        match &self.diurnal {
            None => 1.0,
            Some(Diurnal::Cosine { amplitude, peak_s }) => {
                1.0 + amplitude * (2.0 * std::f64::consts::PI * (t - peak_s) / DAY_S).cos()
            }
            Some(Diurnal::Hourly(m)) => m[hour_of_day(t)],
        }
    }

    fn diurnal_bound(&self, a: f64, b: f64) -> f64 {
        match &self.diurnal {
            None => 1.0,
            Some(Diurnal::Cosine { amplitude, peak_s }) => {
                // The maximum is at peak + k·day; else at an end.
                let k = ((a - peak_s) / DAY_S).ceil();
                if peak_s + k * DAY_S <= b {
                    1.0 + amplitude
                } else {
                    self.diurnal_factor(a).max(self.diurnal_factor(b))
                }
            }
            Some(Diurnal::Hourly(m)) => {
                if b - a >= DAY_S {
                    return m.iter().copied().fold(0.0, f64::max);
                }
                let mut best = 0.0f64;
                let mut t = a;
                loop {
                    best = best.max(m[hour_of_day(t)]);
                    let next_hour = ((t / 3600.0).floor() + 1.0) * 3600.0;
                    if next_hour > b {
                        break;
                    }
                    t = next_hour;
                }
                best
            }
        }
    }

    fn points_rate(&self, t: f64) -> f64 {
        let p = &self.points;
        if p.is_empty() || t < p[0].0 {
            return 0.0;
        }
        let i = p.partition_point(|(pt, _)| *pt <= t) - 1;
        match (self.interpolation, p.get(i + 1)) {
            (Interpolation::Linear, Some(&(t1, r1))) => {
                let (t0, r0) = p[i];
                if t1 > t0 {
                    r0 + (r1 - r0) * (t - t0) / (t1 - t0)
                } else {
                    r1
                }
            }
            _ => p[i].1,
        }
    }

    fn points_bound(&self, a: f64, b: f64) -> f64 {
        let mut best = self.points_rate(a).max(self.points_rate(b));
        for &(t, r) in &self.points {
            if t > a && t <= b {
                best = best.max(r);
                if self.interpolation == Interpolation::Step {
                    continue;
                }
            }
        }
        best
    }

    /// λ(t), arrivals per second at `t` seconds.
    pub fn rate(&self, t: f64) -> f64 {
        let mut r = self.base_per_s * self.diurnal_factor(t) + self.points_rate(t);
        for s in &self.spikes {
            r += s.rate(t);
        }
        r.max(0.0)
    }

    /// An upper bound of λ on [a, b].
    pub fn bound(&self, a: f64, b: f64) -> f64 {
        let mut r = self.base_per_s * self.diurnal_bound(a, b) + self.points_bound(a, b);
        for s in &self.spikes {
            r += s.bound(a, b);
        }
        r.max(0.0)
    }

    /// ∫ λ over [a, b], by the composite Simpson rule on a fine grid (for
    /// reporting offered load and for tests).
    pub fn integral(&self, a: f64, b: f64) -> f64 {
        if b <= a {
            return 0.0;
        }
        let n = (((b - a) / 10.0).ceil() as usize).clamp(64, 2_000_000) * 2;
        let h = (b - a) / n as f64;
        let mut sum = self.rate(a) + self.rate(b);
        for i in 1..n {
            let w = if i % 2 == 1 { 4.0 } else { 2.0 };
            sum += w * self.rate(a + i as f64 * h);
        }
        sum * h / 3.0
    }

    /// The largest rate over [0, horizon], sampled on the segment grid.
    pub fn peak(&self, horizon: f64) -> f64 {
        let width = segment_width(horizon);
        let mut best = 0.0f64;
        let mut t = 0.0;
        while t < horizon {
            best = best.max(self.rate(t));
            t += width;
        }
        for s in &self.spikes {
            best = best.max(self.rate(s.plateau().0));
        }
        best
    }
}

fn hour_of_day(t: f64) -> usize {
    ((t.rem_euclid(DAY_S) / 3600.0) as usize).min(23)
}

/// Thinning segments: about 4096 per run, at least 1 s, at most 1 h.
fn segment_width(horizon: f64) -> f64 {
    (horizon / 4096.0).clamp(1.0, 3600.0)
}

/// Sampler of a non-homogeneous Poisson process by thinning.
#[derive(Clone, Debug)]
pub struct ProfileSampler {
    width: f64,
    segment_end: f64,
    bound: f64,
}

impl ProfileSampler {
    /// A sampler for runs of `horizon` seconds.
    pub fn new(horizon: SimDuration) -> Self {
        ProfileSampler {
            width: segment_width(horizon.as_secs_f64()),
            segment_end: f64::NEG_INFINITY,
            bound: 0.0,
        }
    }

    /// The first arrival strictly after `now`, or `None` at or after `until`.
    pub fn next<R: Rng + ?Sized>(
        &mut self,
        profile: &RateProfile,
        now: SimTime,
        until: SimTime,
        rng: &mut R,
    ) -> Option<SimTime> {
        let end = until.as_secs_f64();
        let mut t = now.as_secs_f64();
        loop {
            if t >= end {
                return None;
            }
            if t >= self.segment_end {
                let start = (t / self.width).floor() * self.width;
                self.segment_end = start + self.width;
                self.bound = profile.bound(start, self.segment_end);
            }
            if self.bound <= 0.0 {
                t = self.segment_end;
                continue;
            }
            let e: f64 = Exp1.sample(rng);
            let candidate = t + e / self.bound;
            if candidate >= self.segment_end {
                // Memoryless: restart at the segment end with its bound.
                t = self.segment_end;
                continue;
            }
            t = candidate;
            let u: f64 = (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64);
            if u * self.bound <= profile.rate(t) {
                let at = SimTime(SimDuration::from_secs_f64(t).0);
                if at >= until {
                    return None;
                }
                return Some(at.max(now));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spike(decay: Decay) -> Spike {
        Spike {
            at_s: 100.0,
            peak_per_s: 10.0,
            ramp_s: 50.0,
            hold_s: 100.0,
            decay_s: 200.0,
            decay,
        }
    }

    #[test]
    fn spike_has_ramp_plateau_and_decay() {
        let s = spike(Decay::Linear);
        assert_eq!(s.rate(99.0), 0.0);
        assert_eq!(s.rate(125.0), 5.0);
        assert_eq!(s.rate(200.0), 10.0);
        assert_eq!(s.rate(350.0), 5.0);
        assert_eq!(s.rate(500.0), 0.0);
        let e = spike(Decay::Exponential);
        assert!((e.rate(450.0) - 10.0 * (-1.0f64).exp()).abs() < 1e-12);
    }

    #[test]
    fn bounds_dominate_the_rate_everywhere() {
        let p = RateProfile {
            base_per_s: 2.0,
            diurnal: Some(Diurnal::Cosine {
                amplitude: 0.7,
                peak_s: 3600.0 * 20.0,
            }),
            spikes: vec![spike(Decay::Exponential), spike(Decay::Linear)],
            points: vec![(0.0, 1.0), (1000.0, 5.0), (5000.0, 0.5)],
            interpolation: Interpolation::Linear,
        };
        let w = 37.0;
        let mut a = 0.0;
        while a < 200_000.0 {
            let b = a + w;
            let bound = p.bound(a, b);
            for k in 0..=20 {
                let t = a + w * f64::from(k) / 20.0;
                assert!(
                    p.rate(t) <= bound + 1e-9,
                    "t = {t}: {} > {bound}",
                    p.rate(t)
                );
            }
            a = b;
        }
    }

    #[test]
    fn hourly_multipliers_step_by_hour() {
        let mut m = vec![1.0; 24];
        m[3] = 4.0;
        let p = RateProfile {
            diurnal: Some(Diurnal::Hourly(m)),
            ..RateProfile::constant(2.0)
        };
        assert_eq!(p.rate(3.5 * 3600.0), 8.0);
        assert_eq!(p.rate(86_400.0 + 3.5 * 3600.0), 8.0);
        assert_eq!(p.rate(5.0 * 3600.0), 2.0);
        assert_eq!(p.bound(2.9 * 3600.0, 3.1 * 3600.0), 8.0);
    }

    #[test]
    fn step_and_linear_points() {
        let mut p = RateProfile::constant(0.0);
        p.points = vec![(10.0, 2.0), (20.0, 4.0)];
        assert_eq!(p.rate(5.0), 0.0);
        assert_eq!(p.rate(15.0), 2.0);
        assert_eq!(p.rate(25.0), 4.0);
        p.interpolation = Interpolation::Linear;
        assert_eq!(p.rate(15.0), 3.0);
    }

    #[test]
    fn integral_of_a_linear_spike_is_its_area() {
        let p = RateProfile {
            spikes: vec![spike(Decay::Linear)],
            ..RateProfile::constant(0.0)
        };
        // Ramp 50 s to 10/s: 250; plateau 100 s: 1000; decay 200 s: 1000.
        assert!((p.integral(0.0, 1000.0) - 2250.0).abs() < 1.0);
    }
}
