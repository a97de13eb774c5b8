//! The `surge` binary: parse the command line, call the app, map errors to
//! exit codes (0 ok, 1 a check failed, 2 bad input, 3 outputs not written).

use clap::Parser;
use std::process::ExitCode;
use surge::app::{self, RunOptions};
use surge::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => {
            let c = args.common;
            let opts = RunOptions {
                out: c.out,
                seed: c.seed,
                replications: c.replications,
                overrides: c.set.set,
                bucket: args.bucket,
                format: c.format.into(),
                quiet: c.quiet,
                jobs: c.jobs.map(usize::from),
                charts: args.charts.format(),
                trace: args.trace,
            };
            app::run(&args.scenarios, &opts)
        }
        Command::Validate(args) => app::validate(&args.scenarios, &args.set.set).map(|text| {
            print!("{text}");
        }),
        Command::Sweep(args) => {
            let opts = app::SweepOptions {
                out: args.out,
                seed: args.seed,
                replications: args.replications,
                overrides: args.set.set,
                grid: args.grid,
                zip: args.zip,
                jobs: args.jobs.map(usize::from),
                shard: args.shard,
                fail_fast: args.fail_fast,
                quiet: args.quiet,
                charts: args.charts.format(),
            };
            match app::sweep(&args.scenario, &opts) {
                Ok(0) => Ok(()),
                Ok(n) => {
                    eprintln!("error: {n} sweep point(s) were invalid and skipped");
                    return ExitCode::from(2);
                }
                Err(e) => Err(e),
            }
        }
        Command::Chart(args) => match args.charts.format() {
            Some(format) => app::draw_charts(&args.dir, format).map(|files| {
                for f in files {
                    println!("{}", f.display());
                }
            }),
            None => Ok(()),
        },
        Command::Merge(args) => app::merge(
            &args.dirs,
            args.out.as_deref(),
            args.charts.format(),
            args.quiet,
        ),
        Command::Check(args) => {
            let mut opts = args.common.options();
            opts.junit = args.junit;
            opts.baseline = args.baseline;
            opts.tolerance = args.tolerance;
            match app::check(&args.scenarios, &opts) {
                Ok(true) => Ok(()),
                Ok(false) => return ExitCode::from(1),
                Err(e) => Err(e),
            }
        }
        Command::Compare(args) => {
            let b = args.b.clone().unwrap_or_else(|| args.a.clone());
            app::compare(
                &args.a,
                &b,
                &args.set_a,
                &args.set_b,
                &args.common.options(),
            )
        }
        Command::Plan(args) => {
            let opts = app::PlanOptions {
                vary: args.vary,
                slos: args.slo,
                maximize: args.maximize,
                min: args.min,
                max: args.max,
                common: args.common.options(),
            };
            match app::plan(&args.scenario, &opts) {
                Ok(Some(_)) => Ok(()),
                Ok(None) => return ExitCode::from(1),
                Err(e) => Err(e),
            }
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(e.exit_code())
        }
    }
}
