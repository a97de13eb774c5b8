//! The commands, as functions from options to effects: load scenarios, run
//! replications in parallel, write outputs, print summaries.
//!
//! Exit-code policy lives in [`AppError::exit_code`]: 2 for bad input
//! (scenario, flags), 3 when outputs cannot be written.

use crate::engine::SimDuration;
use crate::model::{RunResult, Scenario};
use crate::report::{
    ChartFormat, ClassInfo, ReportInput, RunInfo, SloInfo, pools_table, report_html,
    requests_table, summary_table, summary_text, timeseries_table, write_atomic,
};
use crate::scenario::{self, Loaded, Override, Severity};
use rayon::prelude::*;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

mod check;
mod describe;
mod outdir;
mod plan;
mod progress;
mod replicate;
mod sweep;

pub use check::{CheckOptions, PairedRow, check, compare, paired_rows};
pub use describe::{describe, validate};
pub use outdir::Staged;
pub use plan::{PlanOptions, Resolution, SloArg, parse_slo_arg, plan};
pub use replicate::{Precision, Watched, Width, watched};
pub use sweep::{SweepOptions, merge, parse_grid_arg, sweep};

/// How `surge run` prints its summary.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    /// A human-readable table on stdout.
    #[default]
    Table,
    /// JSON on stdout, for scripts.
    Json,
}

/// Options of `surge run`.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Output folder (default `output/NAME/`).
    pub out: Option<PathBuf>,
    /// Overrides the scenario's seed.
    pub seed: Option<u64>,
    /// Overrides the scenario's number of replications.
    pub replications: Option<u32>,
    /// `--set PATH=VALUE` overrides.
    pub overrides: Vec<Override>,
    /// Time-series bucket width.
    pub bucket: Option<SimDuration>,
    /// Table or JSON.
    pub format: Format,
    /// Print nothing but warnings and errors.
    pub quiet: bool,
    /// Worker threads (default: all cores).
    pub jobs: Option<usize>,
    /// Charts to draw under `charts/` (`None`: none).
    pub charts: Option<crate::report::ChartFormat>,
    /// Write `requests.csv` with the first N measured requests of each
    /// replication.
    pub trace: Option<u64>,
    /// Replicate until this precision (replaces `replications`).
    pub precision: Option<Precision>,
}

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// A scenario or a flag is wrong: exit code 2. The message without
    /// the `error: ` prefix, which the display adds.
    #[error("error: {0}")]
    Input(String),
    /// Scenario files are wrong: their diagnostics, each already formatted
    /// (`error: FILE:LINE:COL: KEY: …`); exit code 2.
    #[error("{0}")]
    Diagnostics(String),
    /// Outputs could not be written: exit code 3.
    #[error("error: {0}")]
    Output(String),
}

impl AppError {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            AppError::Input(_) | AppError::Diagnostics(_) => 2,
            AppError::Output(_) => 3,
        }
    }
}

/// Load every scenario, reporting the problems of all of them at once.
/// Warnings are printed to stderr.
pub fn load_all(paths: &[PathBuf], overrides: &[Override]) -> Result<Vec<Loaded>, AppError> {
    let loaded = load_all_quietly(paths, overrides)?;
    for l in &loaded {
        for w in l
            .warnings
            .iter()
            .filter(|w| w.severity == Severity::Warning)
        {
            eprintln!("{w}");
        }
    }
    Ok(loaded)
}

/// [`load_all`] without printing warnings (plan probes: the scenario's own
/// warnings were printed once, and each probe's load is judged by its run).
pub(crate) fn load_all_quietly(
    paths: &[PathBuf],
    overrides: &[Override],
) -> Result<Vec<Loaded>, AppError> {
    let mut loaded = Vec::new();
    let mut errors = Vec::new();
    for path in paths {
        match scenario::load_file_checked(path, overrides, &[]) {
            Ok(l) => loaded.push(l),
            Err(e) => errors.push(e.to_string()),
        }
    }
    if !errors.is_empty() {
        return Err(AppError::Diagnostics(errors.join("\n")));
    }
    Ok(loaded)
}

/// Run every replication of `scenario`, in parallel on the current rayon
/// pool; results are in replication order whatever the thread count.
pub fn run_replications(scenario: &Scenario) -> Result<Vec<RunResult>, AppError> {
    let sim = crate::Simulation::new(scenario)
        .build()
        .map_err(|e| AppError::Input(e.to_string()))?;
    Ok((0..scenario.replications)
        .into_par_iter()
        .map(|r| sim.run(r))
        .collect())
}

pub(crate) fn with_jobs<T: Send>(
    jobs: Option<usize>,
    f: impl FnOnce() -> T + Send,
) -> Result<T, AppError> {
    match jobs {
        None => Ok(f()),
        Some(n) => {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(n)
                .build()
                .map_err(|e| AppError::Input(format!("--jobs {n}: cannot start threads: {e}")))?;
            Ok(pool.install(f))
        }
    }
}

/// `surge run`: simulate each scenario, write its CSVs, print its summary.
pub fn run(paths: &[PathBuf], opts: &RunOptions) -> Result<(), AppError> {
    // --bucket is the scenario's `bucket`: validated like it (a bucket so
    // narrow that the run would need millions of rows is refused).
    let mut overrides = opts.overrides.clone();
    if let Some(b) = opts.bucket {
        overrides.push(Override::from_flag("--bucket", "bucket", b.to_string()));
    }
    let mut loaded = load_all(paths, &overrides)?;
    for l in &mut loaded {
        if let Some(seed) = opts.seed {
            l.scenario.seed = seed;
        }
        if let Some(r) = opts.replications {
            l.scenario.replications = r;
        }
        if let Some(n) = opts.trace {
            l.scenario.trace = n;
        }
    }
    let outs = output_dirs(&loaded, opts.out.as_deref())?;
    // Every folder is locked before anything runs, and each is written
    // whole beside its target, then swapped in.
    let staged: Vec<Staged> = outs
        .iter()
        .map(|o| Staged::begin(o))
        .collect::<Result<_, _>>()?;
    let mut json = Vec::new();
    for (((l, out), path), staged) in loaded.iter().zip(&outs).zip(paths).zip(staged) {
        let started = Instant::now();
        let show = !opts.quiet;
        let (runs, stop) = with_jobs(opts.jobs, || match opts.precision {
            None => progress::run_replications_shown(&l.scenario, show).map(|r| (r, None)),
            Some(p) => progress::run_precise_shown(&l.scenario, p, show).map(|(r, s)| (r, Some(s))),
        })??;
        let wall = started.elapsed();
        // With --precision the count is the run's, not the file's.
        let mut counted;
        let scenario = if stop.is_some() {
            counted = l.scenario.clone();
            counted.replications = runs.len() as u32;
            &counted
        } else {
            &l.scenario
        };
        let mut info = run_info("run", path, l, &opts.overrides);
        info.replications = scenario.replications;
        info.replications_stop = stop.clone();
        let w = write_run_outputs(staged.dir(), scenario, &runs, &info)?;
        if let Some(format) = opts.charts {
            // From the bytes just written, not read back.
            fn some(b: &[u8]) -> Option<&[u8]> {
                (!b.is_empty()).then_some(b)
            }
            let tables = Drawn {
                summary: &w.summary,
                pools: &w.pools,
                timeseries: Some(&w.timeseries),
                stages: some(&w.stages),
                stage_series: some(&w.stage_series),
                serving: some(&w.serving),
                replicas: some(&w.replicas),
                serving_series: some(&w.serving_series),
                sweep: None,
                info: Some(&info),
            };
            draw_from(staged.dir(), format, &tables)?;
        }
        staged.commit()?;
        match opts.format {
            Format::Table if !opts.quiet => {
                print!("{}", summary_text(scenario, &runs, wall));
                if let Some(stop) = &stop {
                    println!("{stop}");
                }
                println!("outputs: {}/", out.display());
                println!();
            }
            Format::Table => {}
            Format::Json => {
                let mut v = run_json(scenario, &runs, wall, out);
                if let Some(stop) = &stop {
                    v["replications_stop"] = serde_json::json!(stop);
                }
                json.push(v)
            }
        }
    }
    if opts.format == Format::Json {
        let value = if json.len() == 1 {
            json.pop().unwrap_or_default()
        } else {
            serde_json::Value::Array(json)
        };
        println!(
            "{}",
            serde_json::to_string_pretty(&value).unwrap_or_default()
        );
    }
    Ok(())
}

/// One output folder per scenario: `--out` for a single scenario, else
/// `<out or output>/<name>/`. Two scenarios may not share one.
fn output_dirs(loaded: &[Loaded], out: Option<&Path>) -> Result<Vec<PathBuf>, AppError> {
    let dirs: Vec<PathBuf> = loaded
        .iter()
        .map(|l| match (out, loaded.len()) {
            (Some(o), 1) => o.to_path_buf(),
            (Some(o), _) => o.join(&l.scenario.name),
            (None, _) => Path::new("output").join(&l.scenario.name),
        })
        .collect();
    for (i, d) in dirs.iter().enumerate() {
        if dirs[..i].contains(d) {
            return Err(AppError::Input(format!(
                "two scenarios are named {:?} and would write to the same folder {}",
                loaded[i].scenario.name,
                d.display()
            )));
        }
    }
    Ok(dirs)
}

/// What was run, for `scenario.json` and the report.
pub(crate) fn run_info(
    command: &str,
    file: &Path,
    loaded: &Loaded,
    overrides: &[Override],
) -> RunInfo {
    let s = &loaded.scenario;
    RunInfo {
        command: command.into(),
        scenario: s.name.clone(),
        description: s.description.clone(),
        file: file.display().to_string(),
        seed: s.seed,
        replications: s.replications,
        overrides: overrides.iter().map(|o| o.to_string()).collect(),
        grid: Vec::new(),
        warnings: loaded
            .warnings
            .iter()
            .filter(|w| w.severity == Severity::Warning)
            .map(|w| w.to_string())
            .collect(),
        resolved: describe(s),
        surge_version: env!("CARGO_PKG_VERSION").into(),
        classes: s
            .classes
            .iter()
            .map(|c| ClassInfo {
                name: c.name.clone(),
                pool: s.pools[c.pool].name.clone(),
                latency_target_s: c.latency_target.map(|t| t.as_secs_f64()),
                ttft_target_s: c.ttft_target.map(|t| t.as_secs_f64()),
                tpot_target_s: c.tpot_target.map(|t| t.as_secs_f64()),
            })
            .collect(),
        pools: s.pools.iter().map(|p| p.name.clone()).collect(),
        duration_s: s.duration.as_secs_f64(),
        warmup_s: s.warmup.as_secs_f64(),
        start: s.start.map(|t| t.to_string()),
        replications_stop: None,
        slos: s
            .slos
            .iter()
            .map(|slo| SloInfo {
                class: slo.scope(),
                metric: slo.metric.name().to_string(),
                min: slo.min,
                max: slo.max,
            })
            .collect(),
    }
}

/// Write `scenario.json` (what was run) into `out`.
pub(crate) fn write_info(out: &Path, info: &RunInfo) -> Result<(), AppError> {
    let path = out.join("scenario.json");
    let mut bytes = serde_json::to_vec_pretty(info).map_err(|e| AppError::Output(e.to_string()))?;
    bytes.push(b'\n');
    write_atomic(&path, &bytes)
        .map_err(|e| AppError::Output(format!("cannot write {}: {e}", path.display())))
}

/// Write `summary.csv`, `pools.csv`, `timeseries.csv` and `scenario.json`
/// into `out`, `stages.csv` and `stage_series.csv` for a scenario with
/// workflows, and `serving.csv` and `replicas.csv` for one with serving
/// pools.
pub fn write_run_outputs(
    out: &Path,
    scenario: &Scenario,
    runs: &[RunResult],
    info: &RunInfo,
) -> Result<Written, AppError> {
    let io = |e: std::io::Error, what: &Path| {
        AppError::Output(format!("cannot write {}: {e}", what.display()))
    };
    std::fs::create_dir_all(out).map_err(|e| io(e, out))?;
    let files = [
        ("summary.csv", summary_table(scenario, 0, runs).to_csv()),
        ("pools.csv", pools_table(scenario, 0, runs).to_csv()),
        (
            "timeseries.csv",
            timeseries_table(scenario, 0, runs).to_csv(),
        ),
    ];
    for (name, bytes) in &files {
        let path = out.join(name);
        write_atomic(&path, bytes).map_err(|e| io(e, &path))?;
    }
    let (mut stages, mut stage_series) = (Vec::new(), Vec::new());
    if !scenario.workflows.is_empty() {
        let path = out.join("stages.csv");
        stages = crate::report::stages_table(scenario, 0, runs).to_csv();
        write_atomic(&path, &stages).map_err(|e| io(e, &path))?;
        let path = out.join("stage_series.csv");
        stage_series = crate::report::stage_series_table(scenario, 0, runs).to_csv();
        write_atomic(&path, &stage_series).map_err(|e| io(e, &path))?;
    }
    let (mut serving, mut replicas, mut serving_series) = (Vec::new(), Vec::new(), Vec::new());
    if scenario.pools.iter().any(|p| p.serving.is_some()) {
        for (name, table) in [
            (
                "serving.csv",
                crate::report::serving_table(scenario, 0, runs),
            ),
            (
                "replicas.csv",
                crate::report::replicas_table(scenario, 0, runs),
            ),
            (
                "serving_series.csv",
                crate::report::serving_series_table(scenario, 0, runs),
            ),
        ] {
            let path = out.join(name);
            let bytes = table.to_csv();
            write_atomic(&path, &bytes).map_err(|e| io(e, &path))?;
            match name {
                "serving.csv" => serving = bytes,
                "replicas.csv" => replicas = bytes,
                _ => serving_series = bytes,
            }
        }
    }
    if scenario.trace > 0 {
        let path = out.join("requests.csv");
        let table = requests_table(scenario, 0, runs);
        write_atomic(&path, &table.to_csv()).map_err(|e| io(e, &path))?;
    }
    write_info(out, info)?;
    let [(_, summary), (_, pools), (_, timeseries)] = files;
    Ok(Written {
        summary,
        pools,
        timeseries,
        stages,
        stage_series,
        serving,
        replicas,
        serving_series,
    })
}

/// The bytes of the files a run wrote that its charts and report draw
/// from (empty for a file the scenario does not have).
pub struct Written {
    pub summary: Vec<u8>,
    pub pools: Vec<u8>,
    pub timeseries: Vec<u8>,
    pub stages: Vec<u8>,
    pub stage_series: Vec<u8>,
    pub serving: Vec<u8>,
    pub replicas: Vec<u8>,
    pub serving_series: Vec<u8>,
}

/// `surge chart DIR`: redraw the charts and report of an output folder,
/// written as a unit like every output folder. Returns the files written,
/// under `dir`.
pub fn redraw_charts(dir: &Path, format: ChartFormat) -> Result<Vec<PathBuf>, AppError> {
    if !dir.is_dir() {
        return Err(AppError::Input(format!(
            "{}: not an output folder (expected summary.csv, pools.csv and timeseries.csv or sweep.csv in it)\n  hint: surge chart takes the output folder of surge run or surge sweep (after surge merge, for shards)",
            dir.display()
        )));
    }
    // The folder's tables are input here: a malformed one is bad input
    // (exit 2), found before anything is drawn.
    {
        use crate::rows::{self, PoolRow, SeriesRow, SummaryRow};
        let read = |name: &str| std::fs::read(dir.join(name)).ok();
        let bad = |e: String| AppError::Input(format!("{}: {e}", dir.display()));
        if let Some(b) = read("summary.csv") {
            rows::read::<SummaryRow>("summary.csv", &b).map_err(bad)?;
        }
        if let Some(b) = read("pools.csv") {
            rows::read::<PoolRow>("pools.csv", &b).map_err(bad)?;
        }
        if let Some(b) = read("timeseries.csv") {
            rows::read::<SeriesRow>("timeseries.csv", &b).map_err(bad)?;
        }
    }
    let staged = Staged::begin(dir)?;
    staged.copy_existing(|name| name != "report.html" && name != "charts")?;
    let files = draw_charts(staged.dir(), format)?;
    let files = files
        .iter()
        .map(|f| dir.join(f.strip_prefix(staged.dir()).unwrap_or(f)))
        .collect();
    staged.commit()?;
    Ok(files)
}

/// The tables a folder's charts and report are drawn from.
pub(crate) struct Drawn<'a> {
    pub(crate) summary: &'a [u8],
    pub(crate) pools: &'a [u8],
    /// A run's time series (None for a sweep).
    pub(crate) timeseries: Option<&'a [u8]>,
    /// A run's stage table and time series (scenarios with workflows).
    pub(crate) stages: Option<&'a [u8]>,
    pub(crate) stage_series: Option<&'a [u8]>,
    /// A run's serving tables and time series (scenarios with serving
    /// pools).
    pub(crate) serving: Option<&'a [u8]>,
    pub(crate) replicas: Option<&'a [u8]>,
    pub(crate) serving_series: Option<&'a [u8]>,
    /// A sweep's table (None for a run).
    pub(crate) sweep: Option<&'a [u8]>,
    pub(crate) info: Option<&'a RunInfo>,
}

/// Draw the charts of the run or sweep in `out` (from its CSVs) into
/// `out/charts/`, then write `out/report.html`. Returns the files written.
pub fn draw_charts(out: &Path, format: ChartFormat) -> Result<Vec<PathBuf>, AppError> {
    let read = |name: &str| {
        let path = out.join(name);
        std::fs::read(&path).map_err(|e| {
            AppError::Input(format!(
                "{}: cannot read: {e}\n  hint: surge chart takes the output folder of surge run or surge sweep (after surge merge, for shards)",
                path.display()
            ))
        })
    };
    let summary = read("summary.csv")?;
    let pools = read("pools.csv")?;
    let sweep = out
        .join("sweep.csv")
        .exists()
        .then(|| read("sweep.csv"))
        .transpose()?;
    let timeseries = match sweep {
        Some(_) => None,
        None => Some(read("timeseries.csv")?),
    };
    let stage_file = |name: &str| {
        (sweep.is_none() && out.join(name).is_file())
            .then(|| read(name))
            .transpose()
    };
    let stages = stage_file("stages.csv")?;
    let stage_series = stage_file("stage_series.csv")?;
    let serving = stage_file("serving.csv")?;
    let replicas = stage_file("replicas.csv")?;
    let serving_series = stage_file("serving_series.csv")?;
    let info: Option<RunInfo> = match std::fs::read(out.join("scenario.json")) {
        Ok(bytes) => Some(serde_json::from_slice(&bytes).map_err(|e| {
            AppError::Input(format!(
                "{}: not a surge scenario.json: {e}",
                out.join("scenario.json").display()
            ))
        })?),
        Err(_) => None,
    };
    draw_from(
        out,
        format,
        &Drawn {
            summary: &summary,
            pools: &pools,
            timeseries: timeseries.as_deref(),
            stages: stages.as_deref(),
            stage_series: stage_series.as_deref(),
            serving: serving.as_deref(),
            replicas: replicas.as_deref(),
            serving_series: serving_series.as_deref(),
            sweep: sweep.as_deref(),
            info: info.as_ref(),
        },
    )
}

/// Draw the charts and report of `tables` into `out`: run and sweep hand
/// over the bytes they just wrote, so nothing is read back from disk.
pub(crate) fn draw_from(
    out: &Path,
    format: ChartFormat,
    tables: &Drawn<'_>,
) -> Result<Vec<PathBuf>, AppError> {
    let dir = out.join("charts");
    let failed = |e: String| AppError::Output(format!("charts for {}: {e}", out.display()));
    let charts = match (tables.sweep, tables.timeseries) {
        (Some(s), _) => {
            crate::report::sweep_charts(s, Some(tables.pools), tables.info, &dir, format)
                .map_err(failed)?
        }
        (None, Some(t)) => {
            let series = (tables.stage_series, tables.serving_series);
            crate::report::run_charts(t, series, tables.info, &dir, format).map_err(failed)?
        }
        (None, None) => Vec::new(),
    };
    let mut written: Vec<PathBuf> = charts.iter().map(|c| dir.join(&c.0)).collect();
    let html = report_html(&ReportInput {
        info: tables.info,
        summary_csv: tables.summary,
        pools_csv: tables.pools,
        stages_csv: tables.stages,
        serving_csv: tables.serving,
        replicas_csv: tables.replicas,
        sweep_csv: tables.sweep,
        charts,
    })
    .map_err(failed)?;
    let report = out.join("report.html");
    write_atomic(&report, html.as_bytes())
        .map_err(|e| AppError::Output(format!("cannot write {}: {e}", report.display())))?;
    written.push(report);
    Ok(written)
}

fn run_json(
    scenario: &Scenario,
    runs: &[RunResult],
    wall: Duration,
    out: &Path,
) -> serde_json::Value {
    let mut v = serde_json::json!({
        "scenario": scenario.name,
        "seed": scenario.seed,
        "replications": runs.len(),
        "outputs": out.display().to_string(),
        "requests": runs.iter().map(|r| r.requests).sum::<u64>(),
        "events": runs.iter().map(|r| r.events).sum::<u64>(),
        "wall_s": wall.as_secs_f64(),
        "summary": summary_table(scenario, 0, runs).to_json(),
        "pools": pools_table(scenario, 0, runs).to_json(),
    });
    // Serving pools: the rows of serving.csv and replicas.csv too.
    if scenario.pools.iter().any(|p| p.serving.is_some()) {
        v["serving"] = crate::report::serving_table(scenario, 0, runs).to_json();
        v["replicas"] = crate::report::replicas_table(scenario, 0, runs).to_json();
    }
    v
}
