//! Command-line syntax (clap types only); meaning lives in `app`.

use crate::app::Format;
use crate::engine::SimDuration;
use crate::scenario::Override;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// surge — capacity planning for GPU-backed AI services under viral load.
///
/// Describe a launch in a scenario file (who arrives, what each request
/// costs on which GPU pool, which queue policy decides who waits) and surge
/// simulates it: latency per class, pool saturation, queue lengths.
#[derive(Debug, Parser)]
#[command(name = "surge", version, propagate_version = true, after_help = EXAMPLES)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

const EXAMPLES: &str = "\
Examples:
  surge run scenarios/mmc.toml
  surge run scenarios/mmc.toml --set pool.gpu.gpus=12 --replications 10
  surge run scenarios/launch-day.toml --format json --quiet
  surge validate scenarios/*.toml
  surge sweep scenarios/mmc.toml --grid pool.gpu.gpus=8,9,10,12 --replications 10
  surge plan scenarios/mmc.toml --vary pool.gpu.gpus --slo 'jobs:wait_mean<=100ms'
  surge check scenarios/*.toml --junit slo-report.xml

Exit codes: 0 ok, 1 an SLO or check failed, 2 bad input, 3 outputs not written.";

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Simulate scenarios, print a summary, write CSVs, charts and a report.
    ///
    /// Writes summary.csv, pools.csv, timeseries.csv, scenario.json, the
    /// charts under charts/ and report.html (one self-contained page) into
    /// the output folder (default output/NAME/), each atomically;
    /// requests.csv too with --trace N.
    #[command(
        after_help = "Example:\n  surge run scenarios/mmc.toml --set pool.gpu.gpus=9 --out /tmp/mmc9"
    )]
    Run(RunArgs),
    /// Parse and check scenarios; print each resolved scenario.
    ///
    /// Reports every problem with file:line:column and the key, and exits
    /// with code 2 if any scenario is invalid.
    Validate(ValidateArgs),
    /// Run every grid point × replication, in parallel; write sweep.csv.
    ///
    /// Also draws metric-vs-parameter charts with 95% bands (heatmaps for
    /// two swept paths) and report.html.
    /// The grid comes from the scenario's `[sweep]` table and/or --grid.
    /// Every point uses the same seed (common random numbers). With
    /// --shard K/N only every N-th run is done, from the K-th on: run the N
    /// shards anywhere (Slurm array, Kubernetes indexed Job, CI matrix) and
    /// join them with `surge merge`.
    #[command(after_help = "Examples:
  surge sweep scenarios/mmc.toml --grid pool.gpu.gpus=8,9,10,12 --replications 10
  surge sweep scenarios/launch-day.toml --grid pool.gpu-image.policy=fifo,priority --jobs 2
  surge sweep scenarios/mmc.toml --grid pool.gpu.gpus=8,9,10 --shard 2/3 --out shards/2")]
    Sweep(SweepArgs),
    /// Evaluate each scenario's `[[slo]]` entries: exit 1 if any is violated.
    ///
    /// With replications, a bound fails when its whole 95% confidence
    /// interval is beyond it, and is flagged uncertain when the interval
    /// straddles it. --baseline DIR also flags regressions against a
    /// previous run's summary.csv (Welch t-test at 5%, and a change beyond
    /// --tolerance).
    #[command(after_help = "Examples:
  surge check scenarios/*.toml --junit slo-report.xml
  surge check scenarios/shared-pool.toml --replications 5 --baseline output/main-branch/")]
    Check(CheckArgs),
    /// Compare two scenarios (or two --a/--b variants of one) on common
    /// random numbers: paired differences per class and metric, with 95% CIs.
    #[command(after_help = "Examples:
  surge compare scenarios/shared-pool.toml \\
      --a pool.gpu.policy=fifo --b pool.gpu.policy=priority --replications 10
  surge compare old.toml new.toml --replications 10 --out output/old-vs-new")]
    Compare(CompareArgs),
    /// Find the least value of an integer path (e.g. GPUs) that meets the
    /// SLOs, with a stated confidence; or, with several --vary pools, the
    /// allocation of least cost.
    ///
    /// Each probe replicates until every SLO's 95% interval (--confidence)
    /// is on one side of its bound, or --max-replications have run: then it
    /// is undecided and taken as missing (the answer is a value shown to
    /// meet). Probes share the seed (common random numbers). The search
    /// starts at the scenario's value, brackets toward what the run's
    /// busiest window needed, then narrows by interpolation until the
    /// bracket is within --resolution. It assumes more of PATH never hurts
    /// (--maximize: the greatest value that still meets, e.g. the largest
    /// load a pool survives). Writes plan.csv (every probe), needed.csv
    /// (the GPUs each varied pool needed hour by hour, M/M/c on each hour's
    /// load) and charts in the output folder; exit 1 when no value in
    /// range meets.
    #[command(after_help = "Examples:
  surge plan scenarios/mmc.toml --vary pool.gpu.gpus --slo 'jobs:wait_mean<=100ms'
  surge plan scenarios/launch-day.toml --vary pool.gpu-image.gpus --slo 'image-plus:wait_p95<=30s'
  surge plan scenarios/launch-day.toml --vary pool.gpu-chat.gpus --vary pool.gpu-image.gpus \\
      --slo 'chat-plus:latency_p95<=7s' --slo 'image-plus:wait_p95<=30s'")]
    Plan(PlanArgs),
    /// Redraw the charts and report.html of a run or sweep output folder
    /// from its CSVs (no simulation).
    #[command(after_help = "Example:\n  surge chart output/launch-day --charts svg")]
    Chart(ChartArgs),
    /// Merge the output folders of a sharded sweep into one.
    ///
    /// The result is byte-identical to running the sweep unsharded.
    #[command(after_help = "Example:\n  surge merge shards/1 shards/2 shards/3 --out output/mmc")]
    Merge(MergeArgs),
}

/// Arguments of `surge sweep`.
#[derive(Debug, Args)]
pub struct SweepArgs {
    /// The scenario file (TOML).
    #[arg(value_name = "SCENARIO")]
    pub scenario: PathBuf,
    /// A swept path and its values, e.g. pool.gpu.gpus=8,9,10 (repeatable;
    /// replaces the `[sweep]` list of the same path).
    #[arg(long, value_name = "PATH=V1,V2,…", value_parser = crate::app::parse_grid_arg)]
    pub grid: Vec<(String, Vec<String>)>,
    /// Pair the i-th values of all swept paths instead of taking every combination.
    #[arg(long)]
    pub zip: bool,
    /// Output folder [default: output/NAME/, or output/NAME-shard-K-of-N/].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Seed of every random stream (overrides the scenario's `seed`).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Replications per point (overrides the scenario's `replications`).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub replications: Option<u32>,
    /// `--set` overrides.
    #[command(flatten)]
    pub set: SetArgs,
    /// Worker threads [default: all cores].
    #[arg(long, short, value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: Option<u16>,
    /// Sequential replications, per point.
    #[command(flatten)]
    pub precision: PrecisionArgs,
    /// Run only shard K of N (1-based), e.g. 2/8.
    #[arg(long, value_name = "K/N", default_value = "1/1")]
    pub shard: crate::sweep::Shard,
    /// Stop before running anything if any point is invalid.
    #[arg(long)]
    pub fail_fast: bool,
    /// Charts under OUT/charts/ and OUT/report.html: metric vs parameter
    /// with 95% bands, heatmaps for two parameters (not for a shard: merge
    /// draws them).
    #[arg(long, value_enum, default_value_t = ChartsArg::Png)]
    pub charts: ChartsArg,
    /// No progress bar and no final line.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Arguments of `surge merge`.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The shard output folders.
    #[arg(required = true, value_name = "DIR")]
    pub dirs: Vec<PathBuf>,
    /// Output folder [default: output/NAME/].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Charts under OUT/charts/ and OUT/report.html, as `surge sweep` draws them.
    #[arg(long, value_enum, default_value_t = ChartsArg::Png)]
    pub charts: ChartsArg,
    /// No final line.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Arguments of `surge run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Scenario files (TOML).
    #[arg(required = true, value_name = "SCENARIO")]
    pub scenarios: Vec<PathBuf>,
    /// Time-series bucket width, e.g. 30s [default: duration / 500, rounded].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration_arg)]
    pub bucket: Option<SimDuration>,
    /// Charts under OUT/charts/ and OUT/report.html: latency and arrivals
    /// per class, queue and GPU saturation per pool, outcomes where there
    /// are setbacks (none: neither charts nor report).
    #[arg(long, value_enum, default_value_t = ChartsArg::Png)]
    pub charts: ChartsArg,
    /// Write OUT/requests.csv: the first N requests after warm-up of each
    /// replication, one row each (arrival, start, end, outcome, attempts).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    pub trace: Option<u64>,
    /// Sequential replications.
    #[command(flatten)]
    pub precision: PrecisionArgs,
    /// Shared flags.
    #[command(flatten)]
    pub common: CommonRunArgs,
}

fn parse_confidence(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(x) if x > 0.5 && x < 1.0 => Ok(x),
        _ => Err(format!(
            "expected a level between 0.5 and 1, e.g. 0.95, found {s:?}"
        )),
    }
}

/// Sequential replications, shared by run, sweep and plan.
#[derive(Debug, Args)]
pub struct PrecisionArgs {
    /// Replicate until the 95% CI half-width of every watched metric is
    /// within WIDTH: relative (5%) or absolute in the metric's unit (0.5s,
    /// 0.01). Watched: the SLO metrics, or without SLOs each class's mean
    /// and p99 latency (and a serving class's p99 TTFT and TPOT). Replaces
    /// --replications; the count is the same
    /// whatever --jobs is.
    #[arg(long, value_name = "WIDTH", value_parser = crate::app::Width::parse, conflicts_with = "replications")]
    pub precision: Option<crate::app::Width>,
    /// Replications before the precision is first judged [default: 3;
    /// plan: 2] (at least 2: an interval needs two).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(2..=100_000))]
    pub min_replications: Option<u32>,
    /// Replications never exceeded [default: 30; plan: 10 per probe].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(2..=100_000))]
    pub max_replications: Option<u32>,
}

impl PrecisionArgs {
    /// The precision asked for, if any; the bounds need it.
    pub fn precision(&self) -> Result<Option<crate::app::Precision>, crate::app::AppError> {
        match self.precision {
            Some(w) => crate::app::Precision::new(w, self.min_replications, self.max_replications)
                .map(Some)
                .map_err(crate::app::AppError::Input),
            None if self.min_replications.is_some() || self.max_replications.is_some() => {
                Err(crate::app::AppError::Input(
                    "--min-replications and --max-replications bound --precision: give --precision too (e.g. --precision 5%)".into(),
                ))
            }
            None => Ok(None),
        }
    }
}

/// `--set`, shared by every command that loads scenarios.
#[derive(Debug, Args)]
pub struct SetArgs {
    /// Override a scenario value by dotted path, e.g. pool.gpu.gpus=12 or
    /// class.jobs.arrivals.rate=9/s (repeatable).
    #[arg(long = "set", value_name = "PATH=VALUE")]
    pub set: Vec<Override>,
    /// Stop a replication early, with its outputs so far and a clear word,
    /// once this many requests and users are in the system [default:
    /// 10000000, about 1.2 GB] (the scenario key max_in_system).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_in_system: Option<u64>,
    /// Stop a replication early after this many events [default:
    /// 2000000000, a few minutes] (the scenario key max_events).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_events: Option<u64>,
}

impl SetArgs {
    /// The `--set` overrides, then the budget flags as overrides of their
    /// scenario keys (so sweeps, plans and checks get them too).
    pub fn overrides(&self) -> Vec<Override> {
        let mut all = self.set.clone();
        for (flag, path, value) in [
            ("--max-in-system", "max_in_system", self.max_in_system),
            ("--max-events", "max_events", self.max_events),
        ] {
            if let Some(n) = value {
                all.push(Override::from_flag(flag, path, n.to_string()));
            }
        }
        all
    }
}

/// Arguments of `surge validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Scenario files (TOML).
    #[arg(required = true, value_name = "SCENARIO")]
    pub scenarios: Vec<PathBuf>,
    /// `--set` overrides.
    #[command(flatten)]
    pub set: SetArgs,
}

/// `--format` values.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum FormatArg {
    /// Human-readable tables.
    Table,
    /// JSON, for scripts.
    Json,
}

impl From<FormatArg> for Format {
    fn from(f: FormatArg) -> Format {
        match f {
            FormatArg::Table => Format::Table,
            FormatArg::Json => Format::Json,
        }
    }
}

fn parse_duration_arg(s: &str) -> Result<SimDuration, String> {
    match crate::units::parse_duration(s) {
        Some(d) if d > SimDuration::ZERO => Ok(d),
        _ => Err(format!(
            "expected a duration > 0 with a unit, like 30s or 5m, found {s:?}"
        )),
    }
}

/// Flags shared by run, check, compare and plan.
#[derive(Debug, Args)]
pub struct CommonRunArgs {
    /// Output folder [default: output/NAME/ for check and plan (check with
    /// several scenarios: DIR/NAME/), output/compare-A-B/ for compare].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Seed of every random stream (overrides the scenario's `seed`).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Independent replications (overrides the scenario's `replications`).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub replications: Option<u32>,
    /// `--set` overrides.
    #[command(flatten)]
    pub set: SetArgs,
    /// Worker threads [default: all cores].
    #[arg(long, short, value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: Option<u16>,
    /// Output format on stdout: tables, or JSON for scripts.
    #[arg(long, value_enum, default_value_t = FormatArg::Table)]
    pub format: FormatArg,
    /// Print no table (warnings and errors still go to stderr).
    #[arg(long, short)]
    pub quiet: bool,
}

/// Arguments of `surge check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Scenario files (TOML).
    #[arg(required = true, value_name = "SCENARIO")]
    pub scenarios: Vec<PathBuf>,
    /// Write JUnit XML (one test case per SLO) to this file.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// A previous run's output folder to compare with.
    #[arg(long, value_name = "DIR")]
    pub baseline: Option<PathBuf>,
    /// Relative change that is never a regression.
    #[arg(long, default_value_t = 0.05)]
    pub tolerance: f64,
    /// Fail on uncertain bounds too (a 95% interval straddling the bound):
    /// for CI gates that must not let a possible violation through.
    #[arg(long)]
    pub strict: bool,
    /// Shared flags.
    #[command(flatten)]
    pub common: CommonRunArgs,
}

/// Arguments of `surge compare`.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// Scenario A.
    #[arg(value_name = "A")]
    pub a: PathBuf,
    /// Scenario B [default: A again, with the --b overrides].
    #[arg(value_name = "B")]
    pub b: Option<PathBuf>,
    /// Overrides for A only.
    #[arg(long = "a", value_name = "PATH=VALUE")]
    pub set_a: Vec<Override>,
    /// Overrides for B only.
    #[arg(long = "b", value_name = "PATH=VALUE")]
    pub set_b: Vec<Override>,
    /// Shared flags.
    #[command(flatten)]
    pub common: CommonRunArgs,
}

/// Arguments of `surge plan`.
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// The scenario file (TOML).
    #[arg(value_name = "SCENARIO")]
    pub scenario: PathBuf,
    /// The integer path to vary, e.g. pool.gpu.gpus. Repeat it with pools'
    /// GPUs (--vary pool.a.gpus --vary pool.b.gpus) for the allocation of
    /// least cost (cost_per_gpu_hour × GPUs) that meets every SLO.
    #[arg(long, value_name = "PATH", required = true)]
    pub vary: Vec<String>,
    /// An SLO, CLASS:METRIC<=VALUE or >=, e.g. 'jobs:wait_mean<=500ms' (quoted: < and > are shell redirections)
    /// (repeatable; added to the scenario's `[[slo]]` entries).
    #[arg(long, value_name = "SLO", value_parser = crate::app::parse_slo_arg)]
    pub slo: Vec<crate::app::SloArg>,
    /// Find the greatest value that meets the SLOs.
    #[arg(long)]
    pub maximize: bool,
    /// Least value to try.
    #[arg(long, default_value_t = 1)]
    pub min: u64,
    /// Greatest value to try.
    #[arg(long, default_value_t = 1_000_000)]
    pub max: u64,
    /// Stop when the bracket [greatest miss, least meet] is this narrow:
    /// relative to the value (0.5%) or in PATH's units (10) [default: 1%,
    /// at least 1].
    #[arg(long, value_name = "WIDTH", value_parser = crate::app::Resolution::parse)]
    pub resolution: Option<crate::app::Resolution>,
    /// Confidence of each probe's verdict: a probe meets (or misses) an SLO
    /// when the two-sided interval at this level is wholly on one side of
    /// its bound.
    #[arg(long, default_value_t = 0.95, value_parser = parse_confidence)]
    pub confidence: f64,
    /// Sequential replications per probe.
    #[command(flatten)]
    pub precision: PrecisionArgs,
    /// Charts of the probes under OUT/charts/: each SLO against the varied
    /// value (plan-CLASS.METRIC), or the allocations probed for two pools
    /// (plan-frontier).
    #[arg(long, value_enum, default_value_t = ChartsArg::Png)]
    pub charts: ChartsArg,
    /// Shared flags.
    #[command(flatten)]
    pub common: CommonRunArgs,
}

impl CommonRunArgs {
    /// As check options.
    pub fn options(self) -> crate::app::CheckOptions {
        crate::app::CheckOptions {
            out: self.out,
            seed: self.seed,
            replications: self.replications,
            overrides: self.set.overrides(),
            junit: None,
            json: matches!(self.format, FormatArg::Json),
            baseline: None,
            tolerance: 0.05,
            strict: false,
            jobs: self.jobs.map(usize::from),
            quiet: self.quiet,
        }
    }
}

/// `--charts` values.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ChartsArg {
    /// PNG images.
    Png,
    /// SVG images.
    Svg,
    /// No charts.
    None,
}

impl ChartsArg {
    /// The chart format, if any.
    pub fn format(self) -> Option<crate::report::ChartFormat> {
        match self {
            ChartsArg::Png => Some(crate::report::ChartFormat::Png),
            ChartsArg::Svg => Some(crate::report::ChartFormat::Svg),
            ChartsArg::None => None,
        }
    }
}

/// Arguments of `surge chart`.
#[derive(Debug, Args)]
pub struct ChartArgs {
    /// An output folder of `surge run` or `surge sweep` (or `surge merge`).
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// Image format.
    #[arg(long, value_enum, default_value_t = ImageArg::Png)]
    pub charts: ImageArg,
}

/// The image formats `surge chart` draws (it always draws).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ImageArg {
    /// PNG images.
    Png,
    /// SVG images.
    Svg,
}

impl ImageArg {
    /// The chart format.
    pub fn format(self) -> crate::report::ChartFormat {
        match self {
            ImageArg::Png => crate::report::ChartFormat::Png,
            ImageArg::Svg => crate::report::ChartFormat::Svg,
        }
    }
}
