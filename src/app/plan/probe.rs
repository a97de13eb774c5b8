//! One probe of a plan: the scenario at some values of the varied paths,
//! replicated until its verdict on the SLOs is clear.

use super::{PlanOptions, SloArg};
use crate::app::replicate::{Width, replicate_with};
use crate::app::{AppError, load_all_quietly, with_jobs};
use crate::model::RunResult;
use crate::scenario::Override;
use crate::slo::{self, Verdict};
use crate::stats::{Estimate, estimate_at};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::path::Path;
use std::time::{Duration, Instant};

/// Where a probe stands against a set of SLOs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Side {
    /// Every interval is on the right side of its bound.
    Meets,
    /// Some interval is wholly beyond its bound (or a replication hit its
    /// budget and stopped early).
    Misses,
    /// Some interval straddles its bound after the most replications
    /// allowed (`true`: every mean is within its bound). The search takes
    /// it as missing: a plan claims only what it has shown.
    Undecided(bool),
}

impl Side {
    /// The side the search takes: only a probe shown to meet meets.
    pub(crate) fn meets(self) -> bool {
        self == Side::Meets
    }

    /// `meets`, `misses`, `undecided`.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Side::Meets => "meets",
            Side::Misses => "misses",
            Side::Undecided(_) => "undecided",
        }
    }
}

/// What a probe keeps of one replication.
#[derive(Clone, Debug)]
pub(crate) struct Rep {
    /// Per SLO: the metric's value (`None`: it has none, e.g. a
    /// percentile of no completions).
    slo: Vec<Option<f64>>,
    /// The run's cost, every pool (USD).
    cost: f64,
    /// Per varied path that is a pool's GPUs: GPUs its busiest window
    /// would have needed.
    peak: Vec<Option<f64>>,
    /// The run stopped early at its budget.
    stopped: bool,
    /// Per varied path that is a pool's GPUs: its hours (`needed.csv`).
    pub(crate) hours: Vec<Vec<super::needed::Hour>>,
}

impl Rep {
    fn of(run: &RunResult, slos: &[SloArg], s: &crate::model::Scenario, vary: &[String]) -> Rep {
        Rep {
            slo: slos
                .iter()
                .map(|a| slo::value(run, &a.class, a.metric))
                .collect(),
            cost: run.pools.iter().map(|p| p.cost_usd).sum(),
            peak: vary
                .iter()
                .map(|p| {
                    let v = &run.pools[super::pool_of(s, p)?].verdict;
                    Some(v.peak_load * v.peak_gpus)
                })
                .collect(),
            stopped: run.stopped.is_some(),
            hours: vary
                .iter()
                .map(|p| {
                    super::pool_of(s, p)
                        .map_or_else(Vec::new, |pool| super::needed::hours(s, run, pool, slos))
                })
                .collect(),
        }
    }
}

/// A finished probe.
#[derive(Clone, Debug)]
pub(crate) struct Probe {
    /// The value of each varied path.
    pub values: Vec<u64>,
    /// Replications kept.
    pub replications: usize,
    /// Per SLO (in the plan's order): the mean with its interval at the
    /// plan's confidence.
    pub estimates: Vec<Option<Estimate>>,
    /// Per SLO: the verdict on that interval.
    pub verdicts: Vec<Verdict>,
    /// Whether any replication stopped early at its budget.
    pub stopped_early: bool,
    /// Mean over replications of the run's cost (every pool, USD).
    pub cost_usd: f64,
    /// Per varied path that is a pool's `gpus`: the mean over replications
    /// of the GPUs its busiest window's load would have needed.
    pub peak_needed: Vec<Option<f64>>,
    /// Wall time of the probe.
    pub wall: Duration,
    /// Per SLO: its (max, min) bounds.
    bounds: Vec<(Option<f64>, Option<f64>)>,
    /// The replications it is made of.
    pub(crate) reps: Vec<Rep>,
}

impl Probe {
    /// The probe's side on the SLOs numbered in `active`.
    pub(crate) fn side(&self, active: &[usize]) -> Side {
        if self.stopped_early || active.iter().any(|&i| self.verdicts[i] == Verdict::Fail) {
            return Side::Misses;
        }
        if active.iter().all(|&i| self.verdicts[i] == Verdict::Pass) {
            return Side::Meets;
        }
        Side::Undecided(self.excess_of_means(active).is_some_and(|g| g <= 0.0))
    }

    /// How far the means are beyond their bounds, on a log scale (latency
    /// and wait change by orders of magnitude with the GPUs): the largest
    /// ln(mean / bound) for an upper bound, ln(bound / mean) for a lower
    /// one, over the `active` SLOs (≤ 0: every mean within its bound). A
    /// mean within a thousandth of zero counts as a thousandth of its
    /// bound; a bound of zero is compared on the difference. `None` if a
    /// metric has no value.
    pub(crate) fn excess_of_means(&self, active: &[usize]) -> Option<f64> {
        let mut worst = f64::NEG_INFINITY;
        for &i in active {
            worst = worst.max(self.excess(i)?);
        }
        worst.is_finite().then_some(worst)
    }

    /// Whether the 95% interval of every `active` SLO metric is within
    /// `width` (`--precision`).
    pub(crate) fn precise(&self, active: &[usize], width: Width) -> bool {
        active.iter().all(|&i| {
            let v: Vec<f64> = self.reps.iter().filter_map(|r| r.slo[i]).collect();
            width.holds_over(&v, self.reps.len())
        })
    }

    /// [`Probe::excess_of_means`] of SLO `i` alone.
    pub(crate) fn excess(&self, i: usize) -> Option<f64> {
        let e = self.estimates[i]?;
        let (max, min) = self.bounds[i];
        // ln(over / under), the mean floored at a thousandth of the bound.
        let ratio = |over: f64, under: f64| -> f64 {
            if under > 0.0 && over >= 0.0 {
                (over.max(under * 1e-3) / under).ln()
            } else {
                over - under
            }
        };
        let mut worst = f64::NEG_INFINITY;
        if let Some(b) = max {
            worst = worst.max(ratio(e.mean, b));
        }
        if let Some(b) = min {
            worst = worst.max(if b > 0.0 && e.mean > 0.0 {
                (b / e.mean.max(b * 1e-3)).ln()
            } else {
                b - e.mean
            });
        }
        worst.is_finite().then_some(worst)
    }
}

/// Runs probes and keeps them all, in the order run.
pub(crate) struct Prober<'a> {
    path: &'a Path,
    opts: &'a PlanOptions,
    slos: &'a [SloArg],
    /// Every probe so far.
    pub probes: Vec<Probe>,
    /// Why a search gave up early, for the output.
    pub notes: Vec<String>,
    /// Probes the current search expects still to run (bisection's count
    /// for the bracket), for the progress line's ETA.
    pub expect: Option<u32>,
    started: Instant,
    bar: Option<ProgressBar>,
}

impl<'a> Prober<'a> {
    pub(crate) fn new(path: &'a Path, opts: &'a PlanOptions, slos: &'a [SloArg]) -> Self {
        let bar = (!opts.common.quiet && !opts.common.json && std::io::stderr().is_terminal())
            .then(|| {
                let bar = ProgressBar::new_spinner();
                bar.set_style(
                    ProgressStyle::with_template("{spinner} {elapsed} · {msg}")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                bar.enable_steady_tick(Duration::from_millis(200));
                bar
            });
        Prober {
            path,
            opts,
            slos,
            probes: Vec::new(),
            notes: Vec::new(),
            expect: None,
            started: Instant::now(),
            bar,
        }
    }

    /// Wall time since the plan began.
    pub(crate) fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// The varied path `dim`.
    pub(crate) fn path_name(&self, dim: usize) -> &str {
        &self.opts.vary[dim]
    }

    /// `CLASS.METRIC` of SLO `i`.
    pub(crate) fn slo_name(&self, i: usize) -> String {
        format!("{}.{}", self.slos[i].class, self.slos[i].metric)
    }

    /// `PATH=VALUE` for each varied path.
    pub(crate) fn label(&self, values: &[u64]) -> String {
        let parts: Vec<String> = self
            .opts
            .vary
            .iter()
            .zip(values)
            .map(|(p, v)| format!("{p}={v}"))
            .collect();
        parts.join(" ")
    }

    /// The probe at `values` (run now, or found among those run), decided on
    /// the SLOs numbered in `active`. A probe run before for other SLOs and
    /// undecided on these replicates further, up to the maximum.
    pub(crate) fn probe(&mut self, values: &[u64], active: &[usize]) -> Result<usize, AppError> {
        let (min, max) = self.opts.replications();
        let confidence = self.opts.confidence;
        let precision = self.opts.precision;
        let slos = self.slos;
        let enough = move |p: &Probe| {
            !matches!(p.side(active), Side::Undecided(_))
                && precision.is_none_or(|w| p.precise(active, w))
        };
        let cached = self.probes.iter().position(|p| p.values == values);
        if let Some(i) = cached {
            let p = &self.probes[i];
            if enough(p) || p.replications >= max as usize {
                return Ok(i);
            }
        }
        let started = Instant::now();
        let mut ov = self.opts.common.overrides.clone();
        for (path, v) in self.opts.vary.iter().zip(values) {
            ov.push(Override::from_flag("--vary", path, v.to_string()));
        }
        let mut s = load_all_quietly(&[self.path.to_path_buf()], &ov)?
            .remove(0)
            .scenario;
        if let Some(seed) = self.opts.common.seed {
            s.seed = seed;
        }
        s.replications = max;
        let sim = crate::Simulation::new(&s)
            .build()
            .map_err(|e| AppError::Input(e.to_string()))?;
        let label = self.label(values);
        let number = cached.map_or(self.probes.len(), |i| i) + 1;
        // "about 3 more probes, ETA ~1m40s": the probes still expected
        // at the mean wall time of those run.
        let eta = self.expect.filter(|_| !self.probes.is_empty()).map(|n| {
            let mean = self
                .probes
                .iter()
                .map(|p| p.wall.as_secs_f64())
                .sum::<f64>()
                / self.probes.len() as f64;
            format!(
                " · about {n} more probe{}, ETA ~{}",
                if n == 1 { "" } else { "s" },
                crate::engine::SimDuration::from_secs_f64((mean * f64::from(n)).round())
            )
        });
        let eta = eta.unwrap_or_default();
        if let Some(bar) = &self.bar {
            bar.set_message(format!(
                "probe {number}: {label} · running replications{eta}"
            ));
        }
        let vary = &self.opts.vary;
        let done = cached.map_or_else(Vec::new, |i| self.probes[i].reps.clone());
        let bar = self.bar.as_ref();
        let (reps, _) = with_jobs(self.opts.common.jobs, || {
            replicate_with(
                done,
                |r| Rep::of(&sim.run(r), slos, &s, vary),
                min,
                max,
                |reps| enough(&summarize(reps, values, slos, confidence)),
                |n| {
                    if let Some(bar) = bar {
                        bar.set_message(format!(
                            "probe {number}: {label} · {n} replications (at most {max}){eta}"
                        ));
                    }
                },
            )
        })?;
        let mut p = summarize(&reps, values, slos, confidence);
        p.wall = started.elapsed() + cached.map_or(Duration::ZERO, |i| self.probes[i].wall);
        if !self.opts.common.quiet && !self.opts.common.json {
            let line = format!(
                "probe {number}: {label}: {} ({} replications, {:.1}s)",
                match p.side(active) {
                    Side::Undecided(true) => "undecided (the means meet), taken as missing",
                    Side::Undecided(false) => "undecided (a mean misses), taken as missing",
                    s => s.label(),
                },
                p.replications,
                p.wall.as_secs_f64()
            );
            match &self.bar {
                Some(bar) => bar.println(line),
                None => eprintln!("{line}"),
            }
        }
        match cached {
            Some(i) => {
                self.probes[i] = p;
                Ok(i)
            }
            None => {
                self.probes.push(p);
                Ok(self.probes.len() - 1)
            }
        }
    }

    /// Clear the progress line.
    pub(crate) fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// The probe that `reps` make.
fn summarize(reps: &[Rep], values: &[u64], slos: &[SloArg], confidence: f64) -> Probe {
    let estimates: Vec<Option<Estimate>> = (0..slos.len())
        .map(|k| {
            let v: Vec<f64> = reps.iter().filter_map(|r| r.slo[k]).collect();
            // A metric some replications lack is judged on none of them.
            if v.len() < reps.len() {
                None
            } else {
                estimate_at(&v, confidence)
            }
        })
        .collect();
    let verdicts = slos
        .iter()
        .zip(&estimates)
        .map(|(a, e)| slo::judge(*e, a.max, a.min))
        .collect();
    let n = reps.len().max(1) as f64;
    let paths = reps.first().map_or(0, |r| r.peak.len());
    Probe {
        values: values.to_vec(),
        replications: reps.len(),
        estimates,
        verdicts,
        stopped_early: reps.iter().any(|r| r.stopped),
        cost_usd: reps.iter().map(|r| r.cost).sum::<f64>() / n,
        peak_needed: (0..paths)
            .map(|d| {
                let v: Vec<f64> = reps.iter().filter_map(|r| r.peak[d]).collect();
                (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
            })
            .collect(),
        wall: Duration::ZERO,
        bounds: slos.iter().map(|a| (a.max, a.min)).collect(),
        reps: reps.to_vec(),
    }
}
