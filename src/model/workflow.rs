//! Workflows: a class's request as a pipeline of stages across pools
//! (moderation → generation → safety → delivery), as a durable-workflow
//! engine runs it.
//!
//! A workflow is a list of stages. A stage either serves the request on a
//! pool (its own service demand, optionally a queue timeout and a retry
//! policy, as a workflow engine retries an activity), or forks it into
//! parallel branch stages and joins them (`all`, or the `first` to end).
//! After a stage (or a fork's join), routes drawn with their probabilities
//! send the request to another stage (a loop back included), to `done` or
//! to `refuse`; otherwise it goes on to the next stage in the list that is
//! not a branch, or is done after the last. A stage may be limited to some
//! classes: the others skip it.
//!
//! The expected visits of each stage solve the traffic equations
//! v = e₁ + Pᵀ v (e₁: every request enters the first stage), which also
//! tells the loader whether the routes end with probability one.

use super::DurationDist;
use super::retry::RetrySpec;
use crate::engine::SimDuration;

/// A named workflow, shared by the classes that name it.
#[derive(Clone, Debug)]
pub struct WorkflowSpec {
    /// Unique workflow name.
    pub name: String,
    /// The stages, in order; the first is where every request enters.
    pub stages: Vec<StageSpec>,
}

/// One stage of a workflow.
#[derive(Clone, Debug)]
pub struct StageSpec {
    /// Name, unique within the workflow.
    pub name: String,
    /// What the stage does.
    pub work: StageWork,
    /// Indices of the classes that run the stage; the others skip it
    /// (`None`: every class).
    pub only: Option<Vec<usize>>,
    /// Longest a stage attempt waits in its pool's queue before it is
    /// given up (schedule-to-start); then the stage retries, if it may.
    pub timeout: Option<SimDuration>,
    /// Retries of the stage after a timeout, a rejection by its pool's
    /// admission or a GPU failure. Without one the stage is attempted
    /// once and its setback ends the workflow's attempt.
    pub retry: Option<RetrySpec>,
    /// Routes drawn after the stage: (probability, target), summing to at
    /// most 1; the rest goes to `next`.
    pub routes: Vec<(f64, Target)>,
    /// Where a request goes after the stage when no route is drawn (and
    /// when it skips the stage): the next stage in the list that is not a
    /// branch, or [`Target::Done`].
    pub next: Target,
    /// For a branch stage, the index of the fork stage that runs it.
    pub fork: Option<usize>,
}

/// What a stage does.
#[derive(Clone, Debug)]
pub enum StageWork {
    /// Serve the request on a pool.
    Serve {
        /// Index of the pool.
        pool: usize,
        /// GPU-seconds per visit (on a pool of speed 1).
        service: DurationDist,
    },
    /// Run branch stages in parallel and join them.
    Fork {
        /// Indices of the branch stages.
        branches: Vec<usize>,
        /// When the join lets the request go on.
        join: Join,
    },
}

/// A fork's join.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Join {
    /// When every branch has ended.
    All,
    /// When the first branch ends; the others are cancelled (those still
    /// waiting leave their queue; those in service run to their end, their
    /// work wasted).
    First,
}

/// Where a request goes after a stage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// Another stage, by index.
    Stage(usize),
    /// The workflow is complete.
    Done,
    /// The workflow ends rejected (e.g. a safety classifier refused the
    /// prompt); the client may retry it like any rejected request.
    Refuse,
}

/// Visits above which the routes are taken to loop without end.
const MAX_VISITS: f64 = 1e6;

impl StageSpec {
    /// Whether class `class` runs this stage.
    pub fn runs(&self, class: usize) -> bool {
        self.only.as_ref().is_none_or(|o| o.contains(&class))
    }
}

impl WorkflowSpec {
    /// Expected visits per request of `class` to each stage (a skipped
    /// stage counts its passes), from the traffic equations; an error if
    /// the routes loop without end.
    pub fn visits(&self, class: usize) -> Result<Vec<f64>, String> {
        let n = self.stages.len();
        // a[i][j]: coefficient of v_j in the equation of stage i:
        // v_i − Σ_j P[j][i] v_j = [i = 0].
        let mut a = vec![vec![0.0f64; n + 1]; n];
        for (i, row) in a.iter_mut().enumerate() {
            row[i] = 1.0;
        }
        a[0][n] = 1.0;
        for (j, stage) in self.stages.iter().enumerate() {
            if stage.fork.is_some() {
                continue; // a branch hands the request back to its join
            }
            let mut flows: Vec<(f64, usize)> = Vec::new();
            let mut rest = 1.0;
            if stage.runs(class) {
                for &(p, target) in &stage.routes {
                    rest -= p;
                    if let Target::Stage(t) = target {
                        flows.push((p, t));
                    }
                }
                if let StageWork::Fork { branches, .. } = &stage.work {
                    for &b in branches {
                        a[b][j] -= 1.0;
                    }
                }
            }
            if let Target::Stage(t) = stage.next {
                flows.push((rest.max(0.0), t));
            }
            for (p, t) in flows {
                a[t][j] -= p;
            }
        }
        // Gauss–Jordan elimination with partial pivoting.
        for col in 0..n {
            let pivot = (col..n)
                .max_by(|&x, &y| a[x][col].abs().total_cmp(&a[y][col].abs()))
                .unwrap_or(col);
            if a[pivot][col].abs() < 1e-12 {
                return Err(self.endless());
            }
            a.swap(col, pivot);
            let p = a[col][col];
            for x in &mut a[col] {
                *x /= p;
            }
            let pivot_row = a[col].clone();
            for (row, r) in a.iter_mut().enumerate() {
                if row != col && r[col] != 0.0 {
                    let f = r[col];
                    for (x, p) in r[col..].iter_mut().zip(&pivot_row[col..]) {
                        *x -= f * p;
                    }
                }
            }
        }
        let v: Vec<f64> = a.iter().map(|row| row[n]).collect();
        if v.iter()
            .any(|x| !x.is_finite() || *x < -1e-9 || *x > MAX_VISITS)
        {
            return Err(self.endless());
        }
        Ok(v.into_iter().map(|x| x.max(0.0)).collect())
    }

    fn endless(&self) -> String {
        format!(
            "the routes of workflow {:?} loop without end (a request would visit its stages more than {MAX_VISITS:.0e} times on average)",
            self.name
        )
    }

    /// Expected service demand per request of `class` on each pool it
    /// visits: (pool, GPU-seconds on a pool of speed 1), in stage order,
    /// one entry per pool.
    pub fn demand(&self, class: usize) -> Vec<(usize, f64)> {
        let visits = self
            .visits(class)
            .unwrap_or_else(|_| vec![0.0; self.stages.len()]);
        let mut out: Vec<(usize, f64)> = Vec::new();
        for (stage, v) in self.stages.iter().zip(visits) {
            if let StageWork::Serve { pool, service } = &stage.work
                && stage.runs(class)
            {
                let work = v * service.mean();
                match out.iter_mut().find(|(p, _)| p == pool) {
                    Some(e) => e.1 += work,
                    None => out.push((*pool, work)),
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serve(name: &str, pool: usize, next: Target) -> StageSpec {
        StageSpec {
            name: name.into(),
            work: StageWork::Serve {
                pool,
                service: DurationDist::exponential(1.0).unwrap(),
            },
            only: None,
            timeout: None,
            retry: None,
            routes: Vec::new(),
            next,
            fork: None,
        }
    }

    #[test]
    fn a_loop_back_with_probability_p_is_visited_one_over_one_minus_p_times() {
        // generate → safety; after safety 20% go back to generate.
        let mut safety = serve("safety", 1, Target::Done);
        safety.routes = vec![(0.2, Target::Stage(0))];
        let w = WorkflowSpec {
            name: "image".into(),
            stages: vec![serve("generate", 0, Target::Stage(1)), safety],
        };
        let v = w.visits(0).unwrap();
        assert!((v[0] - 1.25).abs() < 1e-12 && (v[1] - 1.25).abs() < 1e-12);
        assert_eq!(w.demand(0), vec![(0, 1.25), (1, 1.25)]);
    }

    #[test]
    fn a_certain_loop_is_refused() {
        let mut b = serve("b", 0, Target::Done);
        b.routes = vec![(1.0, Target::Stage(0))];
        let w = WorkflowSpec {
            name: "w".into(),
            stages: vec![serve("a", 0, Target::Stage(1)), b],
        };
        assert!(w.visits(0).unwrap_err().contains("loop without end"));
    }

    #[test]
    fn branches_are_visited_as_often_as_their_fork_and_skipped_stages_cost_nothing() {
        let fork = StageSpec {
            work: StageWork::Fork {
                branches: vec![1, 2],
                join: Join::All,
            },
            ..serve("checks", 0, Target::Stage(3))
        };
        let mut a = serve("a", 0, Target::Done);
        a.fork = Some(0);
        let mut b = serve("b", 1, Target::Done);
        b.fork = Some(0);
        let mut up = serve("upscale", 1, Target::Done);
        up.only = Some(vec![1]);
        let w = WorkflowSpec {
            name: "w".into(),
            stages: vec![fork, a, b, up],
        };
        assert_eq!(w.visits(0).unwrap(), vec![1.0, 1.0, 1.0, 1.0]);
        assert_eq!(w.demand(0), vec![(0, 1.0), (1, 1.0)]);
        assert_eq!(w.demand(1), vec![(0, 1.0), (1, 2.0)]);
    }
}
