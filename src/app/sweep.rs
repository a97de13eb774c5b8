//! `surge sweep` and `surge merge`.

use super::{AppError, load_all, run_info, with_jobs, write_info};
use crate::model::Scenario;
use crate::report::{
    ChartFormat, RunInfo, Table, pools_table, stages_table, summary_table, write_atomic,
};
use crate::scenario::{self, Override};
use crate::simulate;
use crate::sweep::{Grid, Shard, expand, sweep_table};
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Options of `surge sweep`.
#[derive(Clone, Debug)]
pub struct SweepOptions {
    /// Output folder (default `output/NAME/`, or `output/NAME-shard-K-of-N/`).
    pub out: Option<PathBuf>,
    /// Overrides the scenario's seed.
    pub seed: Option<u64>,
    /// Overrides the scenario's replications.
    pub replications: Option<u32>,
    /// `--set` overrides, applied to every point.
    pub overrides: Vec<Override>,
    /// `--grid PATH=v1,v2,…` axes (replace or extend the file's `[sweep]`).
    pub grid: Vec<(String, Vec<String>)>,
    /// Pair the i-th values of every axis instead of the product.
    pub zip: bool,
    /// Worker threads.
    pub jobs: Option<usize>,
    /// Which shard to run.
    pub shard: Shard,
    /// Stop before running anything if a point is invalid.
    pub fail_fast: bool,
    /// No progress and no final line.
    pub quiet: bool,
    /// Charts (and `report.html`) of an unsharded sweep; `None`: none.
    pub charts: Option<ChartFormat>,
    /// Replicate each point until this precision (replaces
    /// `replications`; not with shards).
    pub precision: Option<super::Precision>,
}

/// Parse `PATH=v1,v2,…` for `--grid`.
pub fn parse_grid_arg(s: &str) -> Result<(String, Vec<String>), String> {
    let (path, values) = s
        .split_once('=')
        .ok_or_else(|| format!("expected PATH=v1,v2,… (e.g. pool.gpu.gpus=8,9,10), found {s:?}"))?;
    let values: Vec<String> = values.split(',').map(|v| v.trim().to_string()).collect();
    if path.trim().is_empty() || values.iter().any(String::is_empty) {
        return Err(format!(
            "expected PATH=v1,v2,… with no empty value, found {s:?}"
        ));
    }
    Ok((path.trim().to_string(), values))
}

/// What a shard writes beside its rows, so that `merge` can check and
/// rebuild the sweep.
#[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
struct Manifest {
    scenario: String,
    /// FNV-1a of the scenario text, the `--set` overrides and the grid.
    fingerprint: String,
    shard: u32,
    shards: u32,
    params: Vec<String>,
    points: Vec<Vec<String>>,
}

fn fnv(text: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// Load every point of `grid` from one reading of the file at `path`:
/// the scenarios (`None` for an invalid point) and, for each invalid
/// point, its error with its parameters.
pub(crate) fn load_points(
    path: &Path,
    grid: &Grid,
    overrides: &[Override],
) -> Result<(Vec<Option<Scenario>>, Vec<String>), AppError> {
    let text = scenario::read_text(path).map_err(|e| AppError::Diagnostics(e.to_string()))?;
    let mut scenarios = Vec::with_capacity(grid.points.len());
    let mut failures = Vec::new();
    for i in 0..grid.points.len() {
        let mut point = overrides.to_vec();
        point.extend(grid.overrides(i));
        match scenario::load_text(&text, path, &point, Some(&[])) {
            Ok(l) => scenarios.push(Some(l.scenario)),
            Err(e) => {
                failures.push(format!(
                    "error: point {i} ({}) is invalid:\n{e}",
                    grid.describe(i)
                ));
                scenarios.push(None);
            }
        }
    }
    Ok((scenarios, failures))
}

/// `surge sweep`. Returns the number of grid points that failed to load.
pub fn sweep(path: &Path, opts: &SweepOptions) -> Result<usize, AppError> {
    let base = load_all(&[path.to_path_buf()], &opts.overrides)?.remove(0);
    let mut axes = base
        .sweep
        .as_ref()
        .map(|s| s.axes.clone())
        .unwrap_or_default();
    for (p, v) in &opts.grid {
        match axes.iter_mut().find(|(q, _)| q == p) {
            Some(axis) => axis.1 = v.clone(),
            None => axes.push((p.clone(), v.clone())),
        }
    }
    if axes.is_empty() {
        return Err(AppError::Input(format!(
            "{}: nothing to sweep: add a [sweep] table or --grid PATH=v1,v2,…",
            path.display()
        )));
    }
    // A flag that would silently override a swept key is a conflict.
    for (flag, key, given) in [
        ("--seed", "seed", opts.seed.is_some()),
        (
            "--replications",
            "replications",
            opts.replications.is_some(),
        ),
    ] {
        if given && axes.iter().any(|(p, _)| p == key) {
            return Err(AppError::Input(format!(
                "{}: {flag} conflicts with the swept `{key}`: every point would run with {flag}; drop one of them",
                path.display()
            )));
        }
    }
    if opts.precision.is_some() && opts.shard.count > 1 {
        return Err(AppError::Input(format!(
            "{}: --precision with --shard: a point's replications are decided together, in one process; run the sweep unsharded, or shard with a fixed --replications",
            path.display()
        )));
    }
    let zip = opts.zip || base.sweep.as_ref().is_some_and(|s| s.zip);
    let grid = expand(&axes, zip)
        .map_err(|e| AppError::Input(format!("{}: sweep: {e}", path.display())))?;

    // Load every point from one reading of the file; report the invalid
    // ones with their parameters.
    let text = scenario::read_text(path).map_err(|e| AppError::Diagnostics(e.to_string()))?;
    let (mut scenarios, failures) = load_points(path, &grid, &opts.overrides)?;
    for s in scenarios.iter_mut().flatten() {
        if let Some(seed) = opts.seed {
            s.seed = seed;
        }
        if let Some(r) = opts.replications {
            s.replications = r;
        }
    }
    for f in &failures {
        eprintln!("{f}");
    }
    if !failures.is_empty() && (opts.fail_fast || failures.len() == grid.points.len()) {
        return Err(AppError::Input(format!(
            "{} of {} sweep points are invalid; nothing was run",
            failures.len(),
            grid.points.len()
        )));
    }

    // Work items, numbered point-major; this shard's share.
    let mut items = Vec::new();
    let mut number = 0usize;
    for (point, s) in scenarios.iter().enumerate() {
        let reps = s.as_ref().map_or(0, |s| s.replications);
        for rep in 0..reps {
            if opts.shard.owns(number) {
                items.push((point, rep));
            }
            number += 1;
        }
    }
    let name = base.scenario.name.clone();
    let out = opts.out.clone().unwrap_or_else(|| {
        if opts.shard.count == 1 {
            Path::new("output").join(&name)
        } else {
            Path::new("output").join(format!(
                "{name}-shard-{}-of-{}",
                opts.shard.index, opts.shard.count
            ))
        }
    });
    let staged = super::Staged::begin(&out)?;

    let started = Instant::now();
    let bar = if opts.quiet {
        ProgressBar::hidden()
    } else {
        let bar = ProgressBar::new(items.len() as u64);
        bar.set_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} runs · {msg} · ETA {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar
    };
    let mut runs_done = items.len();
    let rows: Vec<(Table, Table, Table, Table)> = if let Some(precision) = opts.precision {
        bar.set_length(scenarios.iter().flatten().count() as u64);
        let counted = std::sync::atomic::AtomicUsize::new(0);
        let rows = with_jobs(opts.jobs, || {
            scenarios
                .par_iter()
                .enumerate()
                .filter_map(|(point, s)| s.as_ref().map(|s| (point, s)))
                .map(|(point, s)| {
                    let sim = crate::Simulation::new(s)
                        .build()
                        .map_err(|e| AppError::Input(e.to_string()))?;
                    let watched = super::watched(s);
                    let (runs, _) =
                        super::replicate::run_precise(&sim, precision, &watched, |_| ());
                    counted.fetch_add(runs.len(), std::sync::atomic::Ordering::Relaxed);
                    bar.inc(1);
                    Ok((
                        summary_table(s, point, &runs),
                        pools_table(s, point, &runs),
                        stages_table(s, point, &runs),
                        crate::report::serving_table(s, point, &runs),
                    ))
                })
                .collect::<Result<Vec<_>, AppError>>()
        })??;
        runs_done = counted.into_inner();
        rows
    } else {
        with_jobs(opts.jobs, || {
            items
                .par_iter()
                .map(|&(point, rep)| {
                    let s = scenarios[point]
                        .as_ref()
                        .expect("items come from valid points");
                    let run = simulate(s, rep).map_err(|e| AppError::Input(e.to_string()))?;
                    bar.inc(1);
                    let secs = bar.elapsed().as_secs_f64();
                    if secs > 0.0 {
                        let rate = bar.position() as f64 / secs;
                        bar.set_message(format!("{} runs/s", super::progress::three_digits(rate)));
                    }
                    let runs = [run];
                    Ok((
                        summary_table(s, point, &runs),
                        pools_table(s, point, &runs),
                        stages_table(s, point, &runs),
                        crate::report::serving_table(s, point, &runs),
                    ))
                })
                .collect::<Result<Vec<_>, AppError>>()
        })??
    };
    bar.finish_and_clear();

    let (summary_columns, pools_columns) = crate::report::tables_columns();
    let mut summary = Table {
        columns: summary_columns.to_vec(),
        rows: Vec::new(),
    };
    let mut pools = Table {
        columns: pools_columns.to_vec(),
        rows: Vec::new(),
    };
    let mut stages = Table {
        columns: <crate::rows::StageRow as crate::rows::Row>::COLUMNS.to_vec(),
        rows: Vec::new(),
    };
    let mut serving = Table {
        columns: <crate::rows::ServingRow as crate::rows::Row>::COLUMNS.to_vec(),
        rows: Vec::new(),
    };
    for (s, p, st, sv) in rows {
        summary.rows.extend(s.rows);
        pools.rows.extend(p.rows);
        stages.rows.extend(st.rows);
        serving.rows.extend(sv.rows);
    }
    // Only scenarios with workflows have stages, and only those with
    // serving pools token-level results.
    let stages_bytes = (!base.scenario.workflows.is_empty()).then(|| stages.to_csv());
    let serving_bytes = base
        .scenario
        .pools
        .iter()
        .any(|p| p.serving.is_some())
        .then(|| serving.to_csv());
    let summary_bytes = summary.to_csv();
    let overrides: Vec<String> = opts.overrides.iter().map(|o| o.to_string()).collect();
    let fingerprint = fnv(&format!(
        "{text}\u{0}{}\u{0}{:?}\u{0}{:?}",
        overrides.join("\u{1}"),
        grid,
        (opts.seed, opts.replications, opts.precision)
    ));
    let mut info = run_info("sweep", path, &base, &opts.overrides);
    info.grid = axes.clone();
    if let Some(seed) = opts.seed {
        info.seed = seed;
    }
    if let Some(r) = opts.replications {
        info.replications = r;
    }
    if let Some(p) = opts.precision {
        info.replications_stop = Some(format!(
            "each point replicated until every watched metric's 95% CI half-width is within {} ({} to {} replications)",
            p.width, p.min, p.max
        ));
    }
    let pools_bytes = pools.to_csv();
    for (file, bytes) in [
        ("stages.csv", &stages_bytes),
        ("serving.csv", &serving_bytes),
    ] {
        if let Some(bytes) = bytes {
            let p = staged.dir().join(file);
            std::fs::create_dir_all(staged.dir()).map_err(|e| io_error(e, staged.dir()))?;
            write_atomic(&p, bytes).map_err(|e| io_error(e, &p))?;
        }
    }
    let sweep_bytes = write_sweep(
        staged.dir(),
        &summary_bytes,
        &pools_bytes,
        serving_bytes.as_deref(),
        &grid,
        opts.shard,
        &name,
        &fingerprint,
        &info,
    )?;
    if let (Some(format), Some(sweep)) = (opts.charts, &sweep_bytes) {
        // From the bytes just written, not read back.
        let tables = super::Drawn {
            summary: &summary_bytes,
            pools: &pools_bytes,
            timeseries: None,
            stages: None,
            stage_series: None,
            serving: None,
            replicas: None,
            serving_series: None,
            sweep: Some(sweep),
            info: Some(&info),
        };
        super::draw_from(staged.dir(), format, &tables)?;
    }
    staged.commit()?;
    if !opts.quiet {
        eprintln!(
            "sweep {name}: {} points, {} runs{} in {:.2}s; outputs: {}/",
            grid.points.len(),
            runs_done,
            if opts.shard.count > 1 {
                format!(" (shard {})", opts.shard)
            } else {
                String::new()
            },
            started.elapsed().as_secs_f64(),
            out.display()
        );
    }
    Ok(failures.len())
}

fn io_error(e: std::io::Error, path: &Path) -> AppError {
    AppError::Output(format!("cannot write {}: {e}", path.display()))
}

#[allow(clippy::too_many_arguments)]
fn write_sweep(
    out: &Path,
    summary: &[u8],
    pools: &[u8],
    serving: Option<&[u8]>,
    grid: &Grid,
    shard: Shard,
    name: &str,
    fingerprint: &str,
    info: &RunInfo,
) -> Result<Option<Vec<u8>>, AppError> {
    std::fs::create_dir_all(out).map_err(|e| io_error(e, out))?;
    write_info(out, info)?;
    let write = |file: &str, bytes: &[u8]| {
        let p = out.join(file);
        write_atomic(&p, bytes).map_err(|e| io_error(e, &p))
    };
    write("summary.csv", summary)?;
    write("pools.csv", pools)?;
    if shard.count == 1 {
        let table = sweep_table(summary, pools, serving, grid, &info.class_pools())
            .map_err(AppError::Output)?;
        write("sweep.csv", &table)?;
        return Ok(Some(table));
    } else {
        let manifest = Manifest {
            scenario: name.to_string(),
            fingerprint: fingerprint.to_string(),
            shard: shard.index,
            shards: shard.count,
            params: grid.params.clone(),
            points: grid.points.clone(),
        };
        let json =
            serde_json::to_vec_pretty(&manifest).map_err(|e| AppError::Output(e.to_string()))?;
        write("shard.json", &json)?;
    }
    Ok(None)
}

/// Rows of a CSV file: header and records (as text).
fn read_rows(path: &Path) -> Result<(csv::StringRecord, Vec<csv::StringRecord>), AppError> {
    let bad = |e: String| AppError::Input(format!("{}: {e}", path.display()));
    let mut reader = csv::Reader::from_path(path).map_err(|e| bad(e.to_string()))?;
    let header = reader.headers().map_err(|e| bad(e.to_string()))?.clone();
    let rows = reader
        .records()
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(e.to_string()))?;
    Ok((header, rows))
}

/// `surge merge`: join shard folders into one sweep, identical to an
/// unsharded run.
pub fn merge(
    dirs: &[PathBuf],
    out: Option<&Path>,
    charts: Option<ChartFormat>,
    quiet: bool,
) -> Result<(), AppError> {
    let mut manifests = Vec::new();
    for d in dirs {
        let path = d.join("shard.json");
        let text = std::fs::read_to_string(&path).map_err(|e| {
            AppError::Input(format!("{}: cannot read: {e}\n  hint: surge merge takes the folders written by surge sweep --shard K/N", path.display()))
        })?;
        let m: Manifest = serde_json::from_str(&text).map_err(|e| {
            AppError::Input(format!("{}: not a shard manifest: {e}", path.display()))
        })?;
        manifests.push(m);
    }
    let first = &manifests[0];
    for (m, d) in manifests.iter().zip(dirs) {
        if m.fingerprint != first.fingerprint || m.shards != first.shards {
            return Err(AppError::Input(format!(
                "{}: shard {}/{} of {:?} does not belong with {}: different scenario, overrides or grid",
                d.display(),
                m.shard,
                m.shards,
                m.scenario,
                dirs[0].display()
            )));
        }
    }
    let mut seen: Vec<u32> = manifests.iter().map(|m| m.shard).collect();
    seen.sort_unstable();
    let expected: Vec<u32> = (1..=first.shards).collect();
    if seen != expected {
        let missing: Vec<String> = expected
            .iter()
            .filter(|k| !seen.contains(k))
            .map(|k| format!("{k}/{}", first.shards))
            .collect();
        return Err(AppError::Input(format!(
            "merge needs each of the {} shards exactly once; missing: {}; given: {:?}",
            first.shards,
            if missing.is_empty() {
                "none (some given twice)".into()
            } else {
                missing.join(", ")
            },
            seen
        )));
    }
    let grid = Grid {
        params: first.params.clone(),
        points: first.points.clone(),
    };
    let out = out
        .map(Path::to_path_buf)
        .unwrap_or_else(|| Path::new("output").join(&first.scenario));
    let staged = super::Staged::begin(&out)?;
    let mut merged = Vec::new();
    let with_stages = dirs[0].join("stages.csv").is_file();
    let with_serving = dirs[0].join("serving.csv").is_file();
    let mut files = vec!["summary.csv", "pools.csv"];
    files.extend(with_stages.then_some("stages.csv"));
    files.extend(with_serving.then_some("serving.csv"));
    for &file in &files {
        let mut header = None;
        let mut rows = Vec::new();
        for d in dirs {
            let (h, r) = read_rows(&d.join(file))?;
            if header.as_ref().is_some_and(|x| *x != h) {
                return Err(AppError::Input(format!(
                    "{}: columns differ from the other shards",
                    d.join(file).display()
                )));
            }
            header = Some(h);
            rows.extend(r);
        }
        let header = header.unwrap_or_default();
        let key = |r: &csv::StringRecord, name: &str| -> u64 {
            header
                .iter()
                .position(|h| h == name)
                .and_then(|i| r.get(i))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        // Stable: rows of one run keep their order.
        rows.sort_by_key(|r| (key(r, "point"), key(r, "replication")));
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(&header)
            .map_err(|e| AppError::Output(e.to_string()))?;
        for r in &rows {
            w.write_record(r)
                .map_err(|e| AppError::Output(e.to_string()))?;
        }
        merged.push(
            w.into_inner()
                .map_err(|e| AppError::Output(e.to_string()))?,
        );
    }
    let info_path = dirs[0].join("scenario.json");
    let info: RunInfo = std::fs::read(&info_path)
        .map_err(|e| e.to_string())
        .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
        .map_err(|e| AppError::Input(format!("{}: {e}", info_path.display())))?;
    for (file, bytes) in files.iter().zip(&merged).skip(2) {
        let p = staged.dir().join(file);
        std::fs::create_dir_all(staged.dir()).map_err(|e| io_error(e, staged.dir()))?;
        write_atomic(&p, bytes).map_err(|e| io_error(e, &p))?;
    }
    let serving = with_serving.then(|| merged[files.len() - 1].as_slice());
    let sweep_bytes = write_sweep(
        staged.dir(),
        &merged[0],
        &merged[1],
        serving,
        &grid,
        Shard::ALL,
        &first.scenario,
        &first.fingerprint,
        &info,
    )?;
    if let (Some(format), Some(sweep)) = (charts, &sweep_bytes) {
        let tables = super::Drawn {
            summary: &merged[0],
            pools: &merged[1],
            timeseries: None,
            stages: None,
            stage_series: None,
            serving: None,
            replicas: None,
            serving_series: None,
            sweep: Some(sweep),
            info: Some(&info),
        };
        super::draw_from(staged.dir(), format, &tables)?;
    }
    staged.commit()?;
    if !quiet {
        eprintln!(
            "merged {} shards of {}: outputs: {}/",
            dirs.len(),
            first.scenario,
            out.display()
        );
    }
    Ok(())
}
