//! The progress bar of `surge run`: simulated time of the replications
//! against their duration, events per second, ETA. Drawn on stderr only
//! when it is a terminal and `--quiet` is not given; the simulation
//! publishes its progress through atomics ([`crate::model::Progress`]) and
//! this thread reads them ten times a second.

use super::AppError;
use crate::engine::SimDuration;
use crate::model::{Progress, RunResult, Scenario};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Run every replication of `scenario`, with a progress bar if `show` and
/// stderr is a terminal.
pub(crate) fn run_replications_shown(
    scenario: &Scenario,
    show: bool,
) -> Result<Vec<RunResult>, AppError> {
    let sim = crate::Simulation::new(scenario)
        .build()
        .map_err(|e| AppError::Input(e.to_string()))?;
    if !show || !std::io::stderr().is_terminal() {
        return Ok(sim.run_all());
    }
    let progress = Progress::new(scenario.replications);
    let done = AtomicBool::new(false);
    let duration = SimDuration(scenario.duration.0.max(1));
    let replications = u64::from(scenario.replications);
    let bar = ProgressBar::new(duration.0 / 1_000_000 * replications);
    bar.set_style(
        ProgressStyle::with_template("{msg} · ETA {eta} {wide_bar}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let started = Instant::now();
    let runs = std::thread::scope(|s| {
        s.spawn(|| {
            while !done.load(Ordering::Acquire) {
                std::thread::sleep(Duration::from_millis(100));
                let simulated = progress.simulated(duration);
                bar.set_position(simulated.0 / 1_000_000);
                bar.set_message(message(
                    &progress,
                    simulated,
                    duration,
                    scenario.replications,
                    started.elapsed(),
                ));
            }
        });
        let runs = sim.run_all_with_progress(&progress);
        done.store(true, Ordering::Release);
        runs
    });
    bar.finish_and_clear();
    Ok(runs)
}

/// Replicate `scenario` until `precision` holds on its watched metrics,
/// with a progress line (replications done, the most allowed) if `show`
/// and stderr is a terminal. The kept replications, and why they stopped.
pub(crate) fn run_precise_shown(
    scenario: &Scenario,
    precision: super::Precision,
    show: bool,
) -> Result<(Vec<RunResult>, String), AppError> {
    let sim = crate::Simulation::new(scenario)
        .build()
        .map_err(|e| AppError::Input(e.to_string()))?;
    let watched = super::watched(scenario);
    let bar = if show && std::io::stderr().is_terminal() {
        let bar = ProgressBar::new(u64::from(precision.max));
        bar.set_style(
            ProgressStyle::with_template(
                "{pos} replications (until precise, at most {len}) · {elapsed} {wide_bar}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.enable_steady_tick(Duration::from_millis(200));
        bar
    } else {
        ProgressBar::hidden()
    };
    let out =
        super::replicate::run_precise(&sim, precision, &watched, |n| bar.set_position(n as u64));
    bar.finish_and_clear();
    Ok(out)
}

/// "3h12m of 24h simulated · 2.41M events/s · 1 of 4 done".
fn message(
    progress: &Progress,
    simulated: SimDuration,
    duration: SimDuration,
    replications: u32,
    elapsed: Duration,
) -> String {
    let per_replication = SimDuration(simulated.0 / u64::from(replications.max(1)));
    let mut m = format!(
        "{} of {} simulated",
        clock(per_replication, duration),
        clock(duration, duration)
    );
    let secs = elapsed.as_secs_f64();
    if secs > 0.0 {
        m.push_str(&format!(
            " · {} events/s",
            three_digits(progress.events() as f64 / secs)
        ));
    }
    if replications > 1 {
        m.push_str(&format!(
            " · {} of {replications} done",
            progress.finished()
        ));
    }
    m
}

/// Whole hours and minutes ("3h12m", "24h") when the run lasts an hour or
/// more, else minutes and seconds ("4m05s", "30s").
fn clock(d: SimDuration, scale: SimDuration) -> String {
    let s = d.0 / 1_000_000_000;
    let (big, small, units) = if scale.0 >= 3_600_000_000_000 {
        (s / 3600, s % 3600 / 60, ("h", "m"))
    } else {
        (s / 60, s % 60, ("m", "s"))
    };
    match (big, small) {
        (0, x) => format!("{x}{}", units.1),
        (b, 0) => format!("{b}{}", units.0),
        (b, x) => format!("{b}{}{x:02}{}", units.0, units.1),
    }
}

/// A rate with three significant digits and an SI suffix: 987, 12.3k, 4.56M.
pub(crate) fn three_digits(x: f64) -> String {
    let (v, suffix) = if x >= 1e9 {
        (x / 1e9, "G")
    } else if x >= 1e6 {
        (x / 1e6, "M")
    } else if x >= 1e3 {
        (x / 1e3, "k")
    } else {
        (x, "")
    };
    let decimals = if v >= 100.0 {
        0
    } else if v >= 10.0 {
        1
    } else {
        2
    };
    format!("{v:.decimals$}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_keep_three_significant_digits() {
        assert_eq!(three_digits(987.0), "987");
        assert_eq!(three_digits(12_345.0), "12.3k");
        assert_eq!(three_digits(4_561_000.0), "4.56M");
        assert_eq!(three_digits(0.5), "0.50");
    }

    #[test]
    fn the_message_says_simulated_time_rate_and_replications() {
        let p = Progress::new(2);
        let m = message(
            &p,
            SimDuration::from_secs(3600),
            SimDuration::from_secs(7200),
            2,
            Duration::from_secs(1),
        );
        assert_eq!(m, "30m of 2h simulated · 0.00 events/s · 0 of 2 done");
        let hour = SimDuration::from_secs(3600);
        assert_eq!(clock(SimDuration::from_secs(11_520), hour), "3h12m");
        assert_eq!(clock(SimDuration::from_secs(245), hour), "4m");
        assert_eq!(
            clock(SimDuration::from_secs(245), SimDuration::from_secs(600)),
            "4m05s"
        );
        assert_eq!(
            clock(SimDuration::from_secs(30), SimDuration::from_secs(600)),
            "30s"
        );
    }
}
