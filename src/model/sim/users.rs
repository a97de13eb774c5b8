//! User populations: signups, sessions of requests with think times
//! between them, return visits. A user sends its next request only after
//! the previous one's final outcome (a closed loop).

use super::limits::{TokenBucket, UserBuckets};
use super::{Event, Sim, unit};
use crate::engine::SimTime;
use crate::metrics::Level;
use crate::model::arrivals::ArrivalState;
use crate::model::spec::CountDist;
use crate::rng::SimRng;
use rand_distr::{Distribution as _, Poisson};

/// A user in the system: only their rate-limit buckets. Their population
/// and what is left of their session travel with their events and
/// requests, so that a user without a per-user limit is never looked up
/// and one with a limit is one cache line (the record is aligned to it).
#[repr(align(32))]
pub(super) struct User {
    /// One bucket per per-user-limited class of the population.
    pub(super) buckets: UserBuckets,
}

pub(super) struct PopulationState {
    pub(super) signups: ArrivalState,
    pub(super) signup_rng: SimRng,
    pub(super) session_rng: SimRng,
    pub(super) think_rng: SimRng,
    pub(super) mix_rng: SimRng,
    /// (class, cumulative share) for choosing a request's class.
    pub(super) classes: Vec<(u32, f64)>,
    /// Classes with a per-user limit: the index of each in `User::buckets`.
    pub(super) per_user_limits: Vec<(u32, f64)>,
    pub(super) online: Level,
    pub(super) bucket_signups: u64,
    pub(super) signups_total: u64,
}

pub(super) fn sample_count(d: &CountDist, rng: &mut SimRng) -> u32 {
    match *d {
        CountDist::Deterministic(n) => n,
        CountDist::Poisson(mean) if mean > 0.0 => {
            Poisson::new(mean).map_or(0, |p| p.sample(rng).min(f64::from(u32::MAX)) as u32)
        }
        CountDist::Poisson(_) => 0,
        CountDist::Geometric(mean) => {
            // P(N = k) = (1 − q) q^k with q = mean / (1 + mean); by inversion.
            let q = mean / (1.0 + mean);
            if q <= 0.0 {
                return 0;
            }
            let u = 1.0 - unit(rng);
            (u.ln() / q.ln()).floor().min(f64::from(u32::MAX)) as u32
        }
        CountDist::Uniform(a, b) => a + (unit(rng) * f64::from(b - a + 1)).floor() as u32,
    }
}

impl Sim<'_> {
    pub(super) fn schedule_signup(&mut self, population: usize, now: SimTime) {
        let p = &mut self.populations[population];
        if let Some(at) = p.signups.next(now, self.arrivals_end, &mut p.signup_rng) {
            self.events.schedule(
                at,
                Event::Signup {
                    population: population as u32,
                },
            );
        }
    }

    pub(super) fn signup(&mut self, population: usize, now: SimTime) {
        self.schedule_signup(population, now);
        let p = &mut self.populations[population];
        p.bucket_signups += 1;
        p.signups_total += 1;
        let bucket = |burst: f64| TokenBucket {
            tokens: burst,
            last: now,
        };
        let buckets = match p.per_user_limits.as_slice() {
            [] => UserBuckets::None,
            [(_, burst)] => UserBuckets::One(bucket(*burst)),
            many => UserBuckets::Many(many.iter().map(|&(_, b)| bucket(b)).collect()),
        };
        let user = User { buckets };
        p.online.add(now, 1);
        let id = match self.free_users.pop() {
            Some(id) => {
                self.users[id as usize] = user;
                id
            }
            None => {
                self.users.push(user);
                (self.users.len() - 1) as u32
            }
        };
        self.start_session(id, population as u32, now);
    }

    /// A session starts: draw its number of requests and send the first.
    pub(super) fn start_session(&mut self, user: u32, population: u32, now: SimTime) {
        let pop = population as usize;
        if now >= self.arrivals_end {
            self.user_leaves(user, population, now);
            return;
        }
        let n = sample_count(
            &self.scenario.populations[pop].requests,
            &mut self.populations[pop].session_rng,
        );
        if n == 0 {
            self.end_session(user, population, now);
        } else {
            self.user_sends(user, population, n, now);
        }
    }

    /// `user` sends the next of the `remaining` requests of their session.
    pub(super) fn user_sends(&mut self, user: u32, population: u32, remaining: u32, now: SimTime) {
        if now >= self.arrivals_end {
            self.user_leaves(user, population, now);
            return;
        }
        let p = &mut self.populations[population as usize];
        let total = p.classes.last().map_or(0.0, |x| x.1);
        let x = unit(&mut p.mix_rng) * total;
        let class = p
            .classes
            .iter()
            .find(|(_, cum)| x < *cum)
            .or(p.classes.last())
            .map_or(0, |(c, _)| *c);
        self.new_request(class as usize, now, Some((user, remaining - 1)));
    }

    /// A request of `user` reached its final outcome; `remaining` more
    /// are to follow in the session.
    pub(super) fn user_request_done(
        &mut self,
        user: u32,
        population: u32,
        remaining: u32,
        now: SimTime,
    ) {
        let pop = population as usize;
        if remaining > 0 {
            let think = self.scenario.populations[pop]
                .think
                .sample(&mut self.populations[pop].think_rng);
            self.events.schedule(
                now + think,
                Event::UserNext {
                    user,
                    population,
                    remaining,
                },
            );
        } else {
            self.end_session(user, population, now);
        }
    }

    pub(super) fn end_session(&mut self, user: u32, population: u32, now: SimTime) {
        let pop = population as usize;
        let spec = &self.scenario.populations[pop];
        let rng = &mut self.populations[pop].session_rng;
        match &spec.returns {
            Some(r) if unit(rng) < r.probability => {
                let after = r.after.sample(rng);
                if now + after < self.arrivals_end {
                    self.events
                        .schedule(now + after, Event::UserReturns { user, population });
                } else {
                    // Would come back after arrivals end: gone for this run.
                    self.user_leaves(user, population, now);
                }
            }
            _ => self.user_leaves(user, population, now),
        }
    }

    pub(super) fn user_leaves(&mut self, user: u32, population: u32, now: SimTime) {
        self.populations[population as usize].online.add(now, -1);
        self.users[user as usize].buckets = UserBuckets::None;
        self.free_users.push(user);
    }
}
