//! The `surge` binary: parse the command line, call the app, and map what
//! came back to an exit code in one place, [`exit_code`]: 0 ok, 1 a check
//! failed (an SLO, a regression, no value meets a plan), 2 bad input, 3
//! outputs not written.

use clap::Parser;
use std::process::ExitCode;
use surge::app::{self, RunOptions};
use surge::cli::{Cli, Command};

/// How a command that ran to its end came out.
enum Done {
    /// Everything asked for was done and every check passed.
    Ok,
    /// A check failed: an SLO, a regression, or no value met a plan.
    CheckFailed,
    /// Some inputs were invalid and skipped (sweep points); the rest ran.
    SomeInvalid,
}

/// The one place that turns outcomes into exit codes.
fn exit_code(result: Result<Done, app::AppError>) -> ExitCode {
    match result {
        Ok(Done::Ok) => ExitCode::SUCCESS,
        Ok(Done::CheckFailed) => ExitCode::from(1),
        Ok(Done::SomeInvalid) => ExitCode::from(2),
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(e.exit_code())
        }
    }
}

fn main() -> ExitCode {
    // `surge … | head`: a closed pipe ends the process quietly, like other
    // Unix tools (killed by SIGPIPE, status 141 in a shell), instead of a
    // panic from println!.
    #[cfg(unix)]
    // SAFETY: restoring the default action of a signal, before any thread
    // starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    exit_code(dispatch(cli))
}

fn dispatch(cli: Cli) -> Result<Done, app::AppError> {
    let ok = |r: Result<(), app::AppError>| r.map(|()| Done::Ok);
    match cli.command {
        Command::Run(args) => {
            let c = args.common;
            let opts = RunOptions {
                out: c.out,
                seed: c.seed,
                replications: c.replications,
                overrides: c.set.overrides(),
                bucket: args.bucket,
                format: c.format.into(),
                quiet: c.quiet,
                jobs: c.jobs.map(usize::from),
                charts: args.charts.format(),
                trace: args.trace,
                precision: args.precision.precision()?,
            };
            ok(app::run(&args.scenarios, &opts))
        }
        Command::Validate(args) => {
            app::validate(&args.scenarios, &args.set.overrides()).map(|text| {
                print!("{text}");
                Done::Ok
            })
        }
        Command::Sweep(args) => {
            let opts = app::SweepOptions {
                out: args.out,
                seed: args.seed,
                replications: args.replications,
                overrides: args.set.overrides(),
                grid: args.grid,
                zip: args.zip,
                jobs: args.jobs.map(usize::from),
                shard: args.shard,
                fail_fast: args.fail_fast,
                quiet: args.quiet,
                charts: args.charts.format(),
                precision: args.precision.precision()?,
            };
            match app::sweep(&args.scenario, &opts)? {
                0 => Ok(Done::Ok),
                n => {
                    eprintln!("error: {n} sweep point(s) were invalid and skipped");
                    Ok(Done::SomeInvalid)
                }
            }
        }
        Command::Chart(args) => app::redraw_charts(&args.dir, args.charts.format()).map(|files| {
            for f in files {
                println!("{}", f.display());
            }
            Done::Ok
        }),
        Command::Merge(args) => ok(app::merge(
            &args.dirs,
            args.out.as_deref(),
            args.charts.format(),
            args.quiet,
        )),
        Command::Check(args) => {
            let mut opts = args.common.options();
            opts.junit = args.junit;
            opts.baseline = args.baseline;
            opts.tolerance = args.tolerance;
            opts.strict = args.strict;
            Ok(if app::check(&args.scenarios, &opts)? {
                Done::Ok
            } else {
                Done::CheckFailed
            })
        }
        Command::Compare(args) => {
            let b = args.b.clone().unwrap_or_else(|| args.a.clone());
            ok(app::compare(
                &args.a,
                &b,
                &args.set_a,
                &args.set_b,
                &args.common.options(),
            ))
        }
        Command::Plan(args) => {
            let opts = app::PlanOptions {
                vary: args.vary,
                slos: args.slo,
                maximize: args.maximize,
                min: args.min,
                max: args.max,
                resolution: args.resolution,
                confidence: args.confidence,
                precision: args.precision.precision,
                min_replications: args.precision.min_replications,
                max_replications: args.precision.max_replications,
                charts: args.charts.format(),
                common: args.common.options(),
            };
            Ok(match app::plan(&args.scenario, &opts)? {
                Some(_) => Done::Ok,
                None => Done::CheckFailed,
            })
        }
    }
}
