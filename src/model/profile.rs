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
//! buckets. A segment whose bound is far above its mean rate (a narrow,
//! tall spike) is halved until the bound is tight, so generating arrivals
//! costs O(arrivals), not O(peak rate × segment).

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

    /// ∫ of the spike's rate over [a, b], exactly.
    fn integral(&self, a: f64, b: f64) -> f64 {
        let (p0, p1) = self.plateau();
        let overlap = |lo: f64, hi: f64| (a.max(lo), b.min(hi));
        let mut sum = 0.0;
        // Ramp: peak · (t − at) / ramp on [at, p0).
        let (x0, x1) = overlap(self.at_s, p0);
        if x1 > x0 && self.ramp_s > 0.0 {
            sum += self.peak_per_s / (2.0 * self.ramp_s)
                * ((x1 - self.at_s).powi(2) - (x0 - self.at_s).powi(2));
        }
        // Plateau.
        let (x0, x1) = overlap(p0, p1);
        if x1 > x0 {
            sum += self.peak_per_s * (x1 - x0);
        }
        // Decay.
        if self.decay_s > 0.0 {
            let end = match self.decay {
                Decay::Linear => p1 + self.decay_s,
                Decay::Exponential => f64::INFINITY,
            };
            let (x0, x1) = overlap(p1, end);
            if x1 > x0 {
                sum += match self.decay {
                    Decay::Exponential => {
                        let tau = self.decay_s;
                        self.peak_per_s
                            * tau
                            * ((-(x0 - p1) / tau).exp() - (-(x1 - p1) / tau).exp())
                    }
                    Decay::Linear => {
                        self.peak_per_s
                            * ((x1 - x0)
                                - ((x1 - p1).powi(2) - (x0 - p1).powi(2)) / (2.0 * self.decay_s))
                    }
                };
            }
        }
        sum
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

    /// A lower bound of the spike's rate on [a, b]: it rises, holds and
    /// falls, so its least value on an interval is at an end.
    fn lower(&self, a: f64, b: f64) -> f64 {
        self.rate(a).min(self.rate(b))
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
            Some(Diurnal::Hourly(m)) => hours_fold(m, a, b, 0.0, f64::max),
        }
    }

    /// The least diurnal factor on [a, b].
    fn diurnal_lower(&self, a: f64, b: f64) -> f64 {
        match &self.diurnal {
            None => 1.0,
            Some(Diurnal::Cosine { amplitude, peak_s }) => {
                // The minimum is half a day after a peak; else at an end.
                let trough = peak_s + DAY_S / 2.0;
                let k = ((a - trough) / DAY_S).ceil();
                if trough + k * DAY_S <= b {
                    1.0 - amplitude
                } else {
                    self.diurnal_factor(a).min(self.diurnal_factor(b))
                }
            }
            Some(Diurnal::Hourly(m)) => hours_fold(m, a, b, f64::INFINITY, f64::min),
        }
    }

    /// The least rate of the points on [a, b]: at an end or at a point
    /// inside (the rate is stepped or linear between points).
    fn points_lower(&self, a: f64, b: f64) -> f64 {
        let mut least = self.points_rate(a).min(self.points_rate(b));
        for &(t, r) in &self.points {
            if t > a && t <= b {
                least = least.min(r);
            }
        }
        least
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

    /// A lower bound of λ on [a, b], slightly below the least value the
    /// rate computes to there (a relative margin of 10⁻⁹ covers rounding),
    /// or negative when there is none above zero: a thinning candidate
    /// whose threshold is below it is accepted without evaluating λ.
    pub fn lower(&self, a: f64, b: f64) -> f64 {
        let diurnal = if self.base_per_s >= 0.0 {
            self.diurnal_lower(a, b)
        } else {
            self.diurnal_bound(a, b)
        };
        let mut r = self.base_per_s * diurnal + self.points_lower(a, b);
        for s in &self.spikes {
            r += s.lower(a, b);
        }
        if r > 0.0 { r * (1.0 - 1e-9) } else { -1.0 }
    }

    /// ∫ λ over [a, b], exactly: every component is integrated in closed
    /// form (a spike of 1M/s held 1 ms contributes 1,000 arrivals, whatever
    /// the span). Used for offered load and expected counts.
    pub fn integral(&self, a: f64, b: f64) -> f64 {
        if b <= a {
            return 0.0;
        }
        let mut sum = self.base_per_s * self.diurnal_integral(a, b) + self.points_integral(a, b);
        for s in &self.spikes {
            sum += s.integral(a, b);
        }
        sum.max(0.0)
    }

    /// ∫ of the diurnal factor over [a, b].
    fn diurnal_integral(&self, a: f64, b: f64) -> f64 {
        match &self.diurnal {
            None => b - a,
            Some(Diurnal::Cosine { amplitude, peak_s }) => {
                let w = 2.0 * std::f64::consts::PI / DAY_S;
                (b - a) + amplitude / w * ((w * (b - peak_s)).sin() - (w * (a - peak_s)).sin())
            }
            Some(Diurnal::Hourly(m)) => {
                // Whole days at once, then hour by hour.
                let day: f64 = m.iter().sum::<f64>() * 3600.0;
                let days = ((b - a) / DAY_S).floor();
                let mut sum = days * day;
                let mut t = a + days * DAY_S;
                while t < b {
                    let next_hour = (((t / 3600.0).floor() + 1.0) * 3600.0).min(b);
                    sum += m[hour_of_day(t)] * (next_hour - t);
                    t = next_hour;
                }
                sum
            }
        }
    }

    /// ∫ of the explicit points over [a, b]: steps or trapezoids.
    fn points_integral(&self, a: f64, b: f64) -> f64 {
        let p = &self.points;
        if p.is_empty() {
            return 0.0;
        }
        // Breakpoints inside (a, b), with the ends.
        let mut cuts = vec![a];
        cuts.extend(p.iter().map(|x| x.0).filter(|t| *t > a && *t < b));
        cuts.push(b);
        cuts.windows(2)
            .map(|w| {
                let (x0, x1) = (w[0], w[1]);
                match self.interpolation {
                    // Constant on each piece: its value at the start.
                    Interpolation::Step => self.points_rate(x0) * (x1 - x0),
                    // Linear on each piece (0 before the first point).
                    Interpolation::Linear => {
                        if x0 < p[0].0 {
                            0.0
                        } else {
                            0.5 * (self.points_rate(x0) + self.points_rate_before(x1)) * (x1 - x0)
                        }
                    }
                }
            })
            .sum()
    }

    /// The points' rate approached from the left of `t` (for trapezoids
    /// that end on a breakpoint).
    fn points_rate_before(&self, t: f64) -> f64 {
        let p = &self.points;
        match self.interpolation {
            Interpolation::Linear => match p.iter().position(|x| x.0 >= t) {
                Some(k) if k > 0 && (p[k].0 - t).abs() < f64::EPSILON * t.abs().max(1.0) => p[k].1,
                _ => self.points_rate(t),
            },
            Interpolation::Step => self.points_rate(t),
        }
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

/// Fold `f` over the hourly multipliers of every hour that [a, b] touches.
fn hours_fold(m: &[f64], a: f64, b: f64, init: f64, f: fn(f64, f64) -> f64) -> f64 {
    if b - a >= DAY_S {
        return m.iter().copied().fold(init, f);
    }
    let mut acc = init;
    let mut t = a;
    loop {
        acc = f(acc, m[hour_of_day(t)]);
        let next_hour = ((t / 3600.0).floor() + 1.0) * 3600.0;
        if next_hour > b {
            break;
        }
        t = next_hour;
    }
    acc
}

/// Candidates a segment may cost before its tightness is checked.
const CHEAP_CANDIDATES: f64 = 16.0;
/// A segment is halved while its bound would draw more than this many
/// candidates per expected arrival.
const MAX_WASTE: f64 = 4.0;

/// The sub-segment of [start, end) that contains `t`, halved while its
/// bound would draw many more candidates than it has expected arrivals,
/// and that sub-segment's bound. Segments whose bound costs at most
/// [`CHEAP_CANDIDATES`] are never split, so ordinary profiles keep the
/// plain grid (and their draws).
fn tight_segment(profile: &RateProfile, t: f64, mut start: f64, mut end: f64) -> (f64, f64) {
    loop {
        let bound = profile.bound(start, end);
        let width = end - start;
        let candidates = bound * width;
        if candidates <= CHEAP_CANDIDATES
            || candidates <= MAX_WASTE * (profile.integral(start, end) + 1.0)
            || width < 1e-6
        {
            return (end, bound);
        }
        let mid = start + width / 2.0;
        if t < mid {
            end = mid;
        } else {
            start = mid;
        }
    }
}

/// Sampler of a non-homogeneous Poisson process by thinning.
#[derive(Clone, Debug)]
pub struct ProfileSampler {
    width: f64,
    segment_end: f64,
    bound: f64,
    /// A lower bound of λ from the current time to `segment_end`.
    lower: f64,
    /// Candidates drawn so far (the cost of thinning).
    candidates: u64,
}

impl ProfileSampler {
    /// A sampler for runs of `horizon` seconds.
    pub fn new(horizon: SimDuration) -> Self {
        ProfileSampler {
            width: segment_width(horizon.as_secs_f64()),
            segment_end: f64::NEG_INFINITY,
            bound: 0.0,
            lower: -1.0,
            candidates: 0,
        }
    }

    /// Candidates drawn so far: thinning's cost, ≥ the arrivals.
    #[cfg(test)]
    pub(crate) fn candidates(&self) -> u64 {
        self.candidates
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
                let (end, bound) = tight_segment(profile, t, start, start + self.width);
                self.segment_end = end;
                self.bound = bound;
                self.lower = profile.lower(t, end);
            }
            if self.bound <= 0.0 {
                t = self.segment_end;
                continue;
            }
            let e: f64 = Exp1.sample(rng);
            self.candidates += 1;
            // A gap below the resolution of f64 at `t` (a rate of 10^14/s
            // an hour in) would leave `t` where it is for ever: a candidate
            // is at least the next representable time.
            let candidate = (t + e / self.bound).max(t.next_up());
            if candidate >= self.segment_end {
                // Memoryless: restart at the segment end with its bound.
                t = self.segment_end;
                continue;
            }
            t = candidate;
            let u: f64 = (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64);
            // Accepted if below λ(t); below the segment's lower bound is
            // below λ(t) without computing it (the same decision).
            let threshold = u * self.bound;
            if threshold <= self.lower || threshold <= profile.rate(t) {
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

    /// A diurnal cycle, two spikes and linear points, all at once.
    fn mixed_profile() -> RateProfile {
        RateProfile {
            base_per_s: 2.0,
            diurnal: Some(Diurnal::Cosine {
                amplitude: 0.7,
                peak_s: 3600.0 * 20.0,
            }),
            spikes: vec![spike(Decay::Exponential), spike(Decay::Linear)],
            points: vec![(0.0, 1.0), (1000.0, 5.0), (5000.0, 0.5)],
            interpolation: Interpolation::Linear,
        }
    }

    /// Walk windows [a, a + width) over 200,000 s, calling `check(a, b, t)`
    /// at `per` + 1 evenly spaced instants t of each.
    fn each_window(width: f64, per: u32, mut check: impl FnMut(f64, f64, f64)) {
        let mut a = 0.0;
        while a < 200_000.0 {
            let b = a + width;
            for k in 0..=per {
                check(a, b, a + width * f64::from(k) / f64::from(per));
            }
            a = b;
        }
    }

    #[test]
    fn bounds_dominate_the_rate_everywhere() {
        let p = mixed_profile();
        each_window(37.0, 20, |a, b, t| {
            let bound = p.bound(a, b);
            assert!(
                p.rate(t) <= bound + 1e-9,
                "t = {t}: {} > {bound}",
                p.rate(t)
            );
        });
    }

    #[test]
    fn lower_bounds_stay_below_the_rate_everywhere() {
        let mut hourly = vec![1.0; 24];
        hourly[3] = 0.25;
        hourly[17] = 3.0;
        let profiles = [
            mixed_profile(),
            RateProfile {
                base_per_s: 3.0,
                diurnal: Some(Diurnal::Hourly(hourly)),
                spikes: vec![spike(Decay::Exponential)],
                points: vec![(10.0, 2.0), (20_000.0, 0.0), (30_000.0, 4.0)],
                interpolation: Interpolation::Step,
            },
        ];
        for p in &profiles {
            for w in [0.5, 37.0, 3600.0, 100_000.0] {
                each_window(w, 40, |a, b, t| {
                    let lower = p.lower(a, b);
                    assert!(p.rate(t) >= lower, "t = {t}: {} < {lower}", p.rate(t));
                });
            }
        }
        // Tight where the rate is flat: the squeeze accepts nearly all.
        let flat = RateProfile::constant(5.0);
        assert!(flat.lower(0.0, 10.0) > 5.0 * (1.0 - 1e-8));
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

    /// The closed-form integral against a fine midpoint sum.
    #[test]
    fn integral_matches_a_fine_numerical_sum() {
        let p = RateProfile {
            base_per_s: 2.0,
            diurnal: Some(Diurnal::Cosine {
                amplitude: 0.7,
                peak_s: 3600.0 * 20.0,
            }),
            spikes: vec![spike(Decay::Exponential), spike(Decay::Linear)],
            points: vec![(10.0, 1.0), (1000.0, 5.0), (5000.0, 0.5)],
            interpolation: Interpolation::Linear,
        };
        let mut hourly = p.clone();
        let mut m = vec![1.0; 24];
        m[0] = 3.0;
        hourly.diurnal = Some(Diurnal::Hourly(m));
        hourly.interpolation = Interpolation::Step;
        for p in [&p, &hourly] {
            for (a, b) in [
                (0.0, 6000.0),
                (37.0, 421.5),
                (150.0, 160.0),
                (0.0, 200_000.0),
            ] {
                let n = 400_000;
                let h = (b - a) / f64::from(n);
                let sum: f64 = (0..n)
                    .map(|i| p.rate(a + (f64::from(i) + 0.5) * h))
                    .sum::<f64>()
                    * h;
                let exact = p.integral(a, b);
                assert!(
                    (exact - sum).abs() <= 1e-3 * sum.max(1.0),
                    "[{a}, {b}]: {exact} vs {sum}"
                );
            }
        }
    }

    /// A 1M/s spike held 1 ms: 1,000 arrivals, counted exactly by the
    /// integral, and drawn at a cost of about one candidate per arrival.
    #[test]
    fn a_narrow_tall_spike_costs_its_arrivals_not_its_peak() {
        let p = RateProfile {
            spikes: vec![Spike {
                at_s: 300.0,
                peak_per_s: 1e6,
                ramp_s: 0.0,
                hold_s: 0.001,
                decay_s: 0.0,
                decay: Decay::Linear,
            }],
            ..RateProfile::constant(1.0)
        };
        assert!((p.integral(0.0, 600.0) - 1600.0).abs() < 1e-6);
        let mut sampler = ProfileSampler::new(SimDuration::from_secs(600));
        let mut rng = crate::rng::stream(1, 0, "test");
        let (mut n, mut now) = (0u64, SimTime::ZERO);
        let until = SimTime(SimDuration::from_secs(600).0);
        while let Some(t) = sampler.next(&p, now, until, &mut rng) {
            n += 1;
            now = t;
        }
        // 1,600 expected; Poisson sd 40.
        assert!((1400..1800).contains(&n), "{n} arrivals");
        // Thinning at the peak over a whole 1 s segment would draw 1e6
        // candidates; tight segments draw a few per arrival.
        assert!(
            sampler.candidates() < 4 * n,
            "{} candidates",
            sampler.candidates()
        );
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
