//! Typed rows of the tidy output tables — `summary.csv`, `pools.csv`,
//! `timeseries.csv`, `requests.csv` — shared by every writer and reader.
//!
//! Each row type is declared once, field by field; its column list, its
//! cells (for CSV and JSON) and its parser are generated from that one
//! declaration, so a column cannot be written under one name and read
//! under another. The writers build rows from [`crate::model::RunResult`];
//! `surge chart`, `surge merge`, `surge check --baseline` and the report
//! read them back with [`read`]. Per-class metrics are read off a
//! [`SummaryRow`] by [`SummaryRow::metric`], the one place that maps the
//! [`Metric`] vocabulary to numbers.

use crate::engine::SimTime;
use crate::metric::Metric;
use crate::model::{ClassResult, PoolResult, RunResult, Scenario, Scope, TimeSeriesRow};

/// One cell of a table.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    /// Text.
    Text(String),
    /// A count.
    Int(u64),
    /// A measurement; `None` (or a non-finite value) is an empty cell.
    Num(Option<f64>),
}

impl Cell {
    /// The CSV text: integers as is; measurements as [`csv_float`] (always
    /// a decimal point, `NaN` when missing), so a column's type never
    /// depends on the data.
    pub fn to_csv(&self) -> String {
        match self {
            Cell::Text(s) => s.clone(),
            Cell::Int(i) => i.to_string(),
            Cell::Num(x) => csv_float(*x),
        }
    }

    fn to_json(&self) -> serde_json::Value {
        match self {
            Cell::Text(s) => serde_json::Value::String(s.clone()),
            Cell::Int(i) => serde_json::Value::from(*i),
            Cell::Num(Some(x)) if x.is_finite() => {
                let rounded: f64 = format_number(*x).parse().unwrap_or(*x);
                serde_json::Value::from(rounded)
            }
            Cell::Num(_) => serde_json::Value::Null,
        }
    }
}

/// A measurement as CSV text: [`format_number`] with a decimal point
/// always (`2.0`, not `2`), and `NaN` for a missing or non-finite value —
/// so polars, pandas and Arrow infer a float column whatever the data, and
/// the outputs of two scenarios concatenate.
pub fn csv_float(x: Option<f64>) -> String {
    match x {
        Some(x) if x.is_finite() => {
            let mut s = format_number(x);
            if !s.contains('.') {
                s.push_str(".0");
            }
            s
        }
        _ => "NaN".into(),
    }
}

/// A measurement read from CSV text: `None` if missing (`NaN`, empty, or
/// not a finite number).
pub fn parse_float(text: &str) -> Option<f64> {
    text.parse::<f64>().ok().filter(|x| x.is_finite())
}

/// At most 9 decimals (nanosecond resolution for seconds), trailing zeros
/// trimmed, `-0` printed as `0`.
pub fn format_number(x: f64) -> String {
    let s = format!("{x:.9}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".into() } else { s.into() }
}

/// A table with named columns.
#[derive(Clone, Debug, Default)]
pub struct Table {
    /// Column names, in order.
    pub columns: Vec<&'static str>,
    /// Rows, each with one cell per column.
    pub rows: Vec<Vec<Cell>>,
}

impl Table {
    /// The table of typed rows.
    pub fn of<R: Row>(rows: &[R]) -> Table {
        Table {
            columns: R::COLUMNS.to_vec(),
            rows: rows.iter().map(Row::cells).collect(),
        }
    }

    /// CSV bytes: a header row, then the rows.
    pub fn to_csv(&self) -> Vec<u8> {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(&self.columns).expect("writing to memory");
        for row in &self.rows {
            w.write_record(row.iter().map(Cell::to_csv))
                .expect("writing to memory");
        }
        w.into_inner().expect("writing to memory")
    }

    /// An array of objects keyed by column name.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::Value::Array(
            self.rows
                .iter()
                .map(|row| {
                    let map = self
                        .columns
                        .iter()
                        .zip(row)
                        .map(|(c, v)| (c.to_string(), v.to_json()))
                        .collect::<serde_json::Map<_, _>>();
                    serde_json::Value::Object(map)
                })
                .collect(),
        )
    }
}

/// A row of one of the output tables.
pub trait Row: Sized {
    /// Column names, in file order (the field names).
    const COLUMNS: &'static [&'static str];
    /// The row's cells, one per column.
    fn cells(&self) -> Vec<Cell>;
    /// Parse a record whose column `COLUMNS[i]` is at `index[i]` (`None`:
    /// the file has no such column, allowed for optional values only).
    fn parse(record: &csv::StringRecord, index: &[Option<usize>]) -> Result<Self, String>;
    /// Per column, whether a file must have it (optional values may be
    /// missing from folders written by older versions).
    fn required() -> Vec<bool>;
}

/// Test fixtures: complete a partial CSV (a header naming some columns, and
/// rows) into one with every column of `R`, the others zero or empty.
#[cfg(test)]
pub(crate) fn complete<R: Row>(partial: &str) -> String {
    let mut reader = csv::Reader::from_reader(partial.as_bytes());
    let headers = reader.headers().unwrap().clone();
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(R::COLUMNS).unwrap();
    for record in reader.records() {
        let record = record.unwrap();
        let row: Vec<&str> = R::COLUMNS
            .iter()
            .zip(R::required())
            .map(|(c, required)| match headers.iter().position(|h| h == *c) {
                Some(i) => &record[i],
                None if required
                    && ![
                        "scenario",
                        "scope_kind",
                        "scope",
                        "class",
                        "pool",
                        "outcome",
                    ]
                    .contains(c) =>
                {
                    "0"
                }
                None => "",
            })
            .collect();
        w.write_record(row).unwrap();
    }
    String::from_utf8(w.into_inner().unwrap()).unwrap()
}

/// Read typed rows from CSV bytes, by column name; errors name the file,
/// line and column.
pub fn read<R: Row>(file: &str, bytes: &[u8]) -> Result<Vec<R>, String> {
    let mut reader = csv::Reader::from_reader(bytes);
    let headers = reader
        .headers()
        .map_err(|e| format!("{file}: {e}"))?
        .clone();
    let index: Vec<Option<usize>> = R::COLUMNS
        .iter()
        .map(|c| headers.iter().position(|h| h == *c))
        .collect();
    let missing: Vec<&str> = R::COLUMNS
        .iter()
        .zip(&index)
        .zip(R::required())
        .filter(|((_, i), required)| i.is_none() && *required)
        .map(|((c, _), _)| *c)
        .collect();
    if !missing.is_empty() {
        return Err(format!("{file} has no column {}", missing.join(", ")));
    }
    let mut rows = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| format!("{file}: {e}"))?;
        rows.push(R::parse(&record, &index).map_err(|e| format!("{file}:{}: {e}", i + 2))?);
    }
    Ok(rows)
}

/// A value of a typed column: how it becomes a cell and how it is read back.
pub trait Column: Sized {
    /// The cell written for this value.
    fn cell(&self) -> Cell;
    /// Parse the CSV text; `None` if it is not a valid value.
    fn parse(text: &str) -> Option<Self>;
    /// The value of a column the file does not have, if that is allowed.
    fn missing() -> Option<Self> {
        None
    }
}

impl Column for String {
    fn cell(&self) -> Cell {
        Cell::Text(self.clone())
    }
    fn parse(text: &str) -> Option<Self> {
        Some(text.to_string())
    }
}

impl Column for Option<String> {
    fn cell(&self) -> Cell {
        Cell::Text(self.clone().unwrap_or_default())
    }
    fn parse(text: &str) -> Option<Self> {
        Some((!text.is_empty()).then(|| text.to_string()))
    }
    fn missing() -> Option<Self> {
        Some(None)
    }
}

impl Column for u64 {
    fn cell(&self) -> Cell {
        Cell::Int(*self)
    }
    fn parse(text: &str) -> Option<Self> {
        text.parse().ok()
    }
}

impl Column for f64 {
    fn cell(&self) -> Cell {
        Cell::Num(Some(*self))
    }
    fn parse(text: &str) -> Option<Self> {
        text.parse().ok()
    }
}

/// A count that older files may lack; written always (an integer).
impl Column for Option<u64> {
    fn cell(&self) -> Cell {
        match self {
            Some(n) => Cell::Int(*n),
            None => Cell::Text(String::new()),
        }
    }
    fn parse(text: &str) -> Option<Self> {
        if text.is_empty() {
            Some(None)
        } else {
            // Folders written before counts were integers say `3` or `3.0`.
            text.parse()
                .ok()
                .or_else(|| text.parse::<f64>().ok().map(|x| x as u64))
                .map(Some)
        }
    }
    fn missing() -> Option<Self> {
        Some(None)
    }
}

impl Column for Option<f64> {
    fn cell(&self) -> Cell {
        Cell::Num(*self)
    }
    fn parse(text: &str) -> Option<Self> {
        // `NaN` is how a missing measurement is written; an empty cell is
        // how older versions wrote it.
        if text.is_empty() || text == "NaN" {
            Some(None)
        } else {
            text.parse().ok().map(Some)
        }
    }
    fn missing() -> Option<Self> {
        Some(None)
    }
}

/// Declare a row type: the struct, its columns (the field names, in
/// order), its cells and its parser, from one list of fields.
macro_rules! rows {
    ($( $(#[$m:meta])* pub struct $name:ident { $( $(#[$fm:meta])* pub $field:ident : $ty:ty, )* } )*) => {$(
        $(#[$m])*
        #[derive(Clone, Debug, PartialEq)]
        pub struct $name { $( $(#[$fm])* pub $field: $ty, )* }

        impl Row for $name {
            const COLUMNS: &'static [&'static str] = &[$(stringify!($field),)*];

            fn cells(&self) -> Vec<Cell> {
                vec![$( Column::cell(&self.$field), )*]
            }

            fn required() -> Vec<bool> {
                vec![$( <$ty as Column>::missing().is_none(), )*]
            }

            fn parse(record: &csv::StringRecord, index: &[Option<usize>]) -> Result<Self, String> {
                let mut columns = index.iter();
                Ok($name { $( $field: {
                    let column = stringify!($field);
                    match columns.next().copied().flatten() {
                        Some(i) => {
                            let text = record.get(i).unwrap_or("");
                            <$ty as Column>::parse(text).ok_or_else(|| {
                                format!("column {column}: cannot read {text:?}")
                            })?
                        }
                        None => <$ty as Column>::missing()
                            .ok_or_else(|| format!("no column {column}"))?,
                    }
                }, )* })
            }
        }
    )*};
}

mod serving;
mod stages;
pub use serving::{ReplicaRow, ServingRow, ServingSeriesRow};
pub use stages::{StageRow, StageTimeRow};

rows! {
    /// One row of `summary.csv`: one class (or `all`) of one replication of
    /// one grid point. Counts are of measured requests.
    pub struct SummaryRow {
        /// Scenario name.
        pub scenario: String,
        /// Grid point (0 for a run).
        pub point: u64,
        /// Replication index.
        pub replication: u64,
        /// The scenario's seed.
        pub seed: u64,
        /// Class name, or `all`.
        pub class: String,
        /// Measured requests.
        pub arrivals: u64,
        /// Completed.
        pub completed: u64,
        /// Rejected for good.
        pub rejected: u64,
        /// Abandoned for good.
        pub abandoned: u64,
        /// Failed for good.
        pub failed: u64,
        /// Still in the system at the end.
        pub in_system: u64,
        /// Completions per second of the measured window.
        pub throughput_per_s: f64,
        /// Mean wait, seconds.
        pub wait_mean_s: Option<f64>,
        /// Median wait, seconds.
        pub wait_p50_s: Option<f64>,
        /// p95 wait, seconds.
        pub wait_p95_s: Option<f64>,
        /// p99 wait, seconds.
        pub wait_p99_s: Option<f64>,
        /// Mean latency, seconds.
        pub latency_mean_s: Option<f64>,
        /// Median latency, seconds.
        pub latency_p50_s: Option<f64>,
        /// p95 latency, seconds.
        pub latency_p95_s: Option<f64>,
        /// p99 latency, seconds.
        pub latency_p99_s: Option<f64>,
        /// p99.9 latency, seconds.
        pub latency_p999_s: Option<f64>,
        /// Share completed within the latency target.
        pub slo_attainment: Option<f64>,
        /// Attempts of measured requests.
        pub attempts: u64,
        /// Attempts per measured request.
        pub attempts_per_request: Option<f64>,
        /// Rejected attempts.
        pub rejected_attempts: u64,
        /// Abandoned attempts.
        pub abandoned_attempts: u64,
        /// Failed attempts.
        pub failed_attempts: u64,
        /// Requests deferred to the asynchronous queue.
        pub deferred: u64,
        /// Mean latency of deferred requests, seconds.
        pub deferred_latency_mean_s: Option<f64>,
        /// p99 latency of deferred requests, seconds.
        pub deferred_latency_p99_s: Option<f64>,
    }

    /// One row of `pools.csv`: one pool of one replication of one grid point,
    /// over the measured window.
    pub struct PoolRow {
        /// Scenario name.
        pub scenario: String,
        /// Grid point.
        pub point: u64,
        /// Replication index.
        pub replication: u64,
        /// The scenario's seed.
        pub seed: u64,
        /// Pool name.
        pub pool: String,
        /// Mean GPUs online.
        pub gpus_mean: f64,
        /// Mean GPUs busy.
        pub busy_gpus_mean: f64,
        /// busy ÷ online.
        pub utilization: f64,
        /// Offered load ρ.
        pub offered_load: f64,
        /// GPU-hours billed.
        pub gpu_hours: f64,
        /// Cost, USD.
        pub cost_usd: f64,
        /// Time-weighted mean queue length.
        pub queue_mean: f64,
        /// Largest queue length.
        pub queue_max: u64,
        /// Measured requests deferred.
        pub deferred: u64,
        /// Measured requests shed.
        pub shed: u64,
        /// Measured attempts lost to failures.
        pub failed: u64,
        /// The highest offered load of a window (see `verdict`).
        pub peak_load: Option<f64>,
        /// stable, transient overload, overloaded, or bounded by
        /// patience/limits (empty in folders written before it existed).
        pub verdict: Option<String>,
    }

    /// One row of `timeseries.csv`: one time bucket of one class, pool or
    /// population.
    pub struct SeriesRow {
        /// Scenario name.
        pub scenario: String,
        /// Grid point.
        pub point: u64,
        /// Replication index.
        pub replication: u64,
        /// The scenario's seed.
        pub seed: u64,
        /// Start of the bucket, seconds.
        pub time_s: f64,
        /// Width of the bucket, seconds.
        pub bucket_s: f64,
        /// `class`, `pool` or `population`.
        pub scope_kind: String,
        /// Its name.
        pub scope: String,
        /// First attempts (signups for a population).
        pub arrivals: u64,
        /// Retried attempts.
        pub retries: u64,
        /// Completions.
        pub completions: u64,
        /// Rejected attempts.
        pub rejected: u64,
        /// Abandoned attempts.
        pub abandoned: u64,
        /// Failed attempts.
        pub failed: u64,
        /// Time-weighted mean queue.
        pub queue_mean: Option<f64>,
        /// Largest queue (0 for populations, which have none).
        pub queue_max: Option<u64>,
        /// Mean busy GPUs.
        pub busy_gpus_mean: Option<f64>,
        /// Mean online GPUs.
        pub online_gpus_mean: Option<f64>,
        /// busy ÷ online.
        pub utilization: Option<f64>,
        /// Mean users online.
        pub users_online: Option<f64>,
        /// Median latency of the bucket's completions, seconds.
        pub latency_p50_s: Option<f64>,
        /// p99 latency of the bucket's completions, seconds.
        pub latency_p99_s: Option<f64>,
        /// p95 latency of the bucket's completions, seconds.
        pub latency_p95_s: Option<f64>,
        /// Attempts deferred in the bucket (absent in folders written before it existed).
        pub deferred: Option<u64>,
    }

    /// One row of `requests.csv` (`--trace N`).
    pub struct RequestRow {
        /// Scenario name.
        pub scenario: String,
        /// Grid point.
        pub point: u64,
        /// Replication index.
        pub replication: u64,
        /// Measured request number, in arrival order.
        pub id: u64,
        /// Class name.
        pub class: String,
        /// First arrival, seconds.
        pub arrival_s: f64,
        /// Start of the last attempt that started, seconds.
        pub start_s: Option<f64>,
        /// Final outcome, seconds.
        pub end_s: Option<f64>,
        /// completed, rejected, abandoned, failed or in_system.
        pub outcome: String,
        /// Attempts made.
        pub attempts: u64,
    }
}

impl SummaryRow {
    /// The row of class `c` of `run`.
    pub fn new(scenario: &str, point: usize, run: &RunResult, c: &ClassResult) -> Self {
        SummaryRow {
            scenario: scenario.to_string(),
            point: point as u64,
            replication: u64::from(run.replication),
            seed: run.seed,
            ..SummaryRow::of_class(c)
        }
    }

    /// The metrics of class `c` alone (scenario, point, replication and
    /// seed left empty): what SLOs and comparisons read.
    pub fn of_class(c: &ClassResult) -> Self {
        let q = |h: &crate::metrics::DurationHistogram, p: f64| h.quantile_s(p);
        SummaryRow {
            scenario: String::new(),
            point: 0,
            replication: 0,
            seed: 0,
            class: c.name.clone(),
            arrivals: c.arrivals,
            completed: c.completed,
            rejected: c.rejected,
            abandoned: c.abandoned,
            failed: c.failed,
            in_system: c.in_system,
            throughput_per_s: c.throughput_per_s,
            wait_mean_s: c.wait.mean_s(),
            wait_p50_s: q(&c.wait, 0.5),
            wait_p95_s: q(&c.wait, 0.95),
            wait_p99_s: q(&c.wait, 0.99),
            latency_mean_s: c.latency.mean_s(),
            latency_p50_s: q(&c.latency, 0.5),
            latency_p95_s: q(&c.latency, 0.95),
            latency_p99_s: q(&c.latency, 0.99),
            latency_p999_s: q(&c.latency, 0.999),
            slo_attainment: c.slo_attainment,
            attempts: c.attempts,
            attempts_per_request: c.attempts_per_request(),
            rejected_attempts: c.rejected_attempts,
            abandoned_attempts: c.abandoned_attempts,
            failed_attempts: c.failed_attempts,
            deferred: c.deferred,
            deferred_latency_mean_s: c.deferred_latency.mean_s(),
            deferred_latency_p99_s: q(&c.deferred_latency, 0.99),
        }
    }

    /// Rows of every class of every run, then `all`, for grid point `point`.
    pub fn of_runs(scenario: &Scenario, point: usize, runs: &[RunResult]) -> Vec<Self> {
        runs.iter()
            .flat_map(|run| {
                run.classes
                    .iter()
                    .chain(std::iter::once(&run.all))
                    .map(move |c| SummaryRow::new(&scenario.name, point, run, c))
            })
            .collect()
    }

    /// The value of `metric` in this row; `None` where it does not exist
    /// (a percentile of no completions, a share of no arrivals).
    pub fn metric(&self, metric: Metric) -> Option<f64> {
        let share = |n: u64| (self.arrivals > 0).then(|| n as f64 / self.arrivals as f64);
        match metric {
            Metric::Arrivals => Some(self.arrivals as f64),
            Metric::Completed => Some(self.completed as f64),
            Metric::Rejected => Some(self.rejected as f64),
            Metric::Abandoned => Some(self.abandoned as f64),
            Metric::Failed => Some(self.failed as f64),
            Metric::InSystem => Some(self.in_system as f64),
            Metric::ThroughputPerS => Some(self.throughput_per_s),
            Metric::WaitMean => self.wait_mean_s,
            Metric::WaitP50 => self.wait_p50_s,
            Metric::WaitP95 => self.wait_p95_s,
            Metric::WaitP99 => self.wait_p99_s,
            Metric::LatencyMean => self.latency_mean_s,
            Metric::LatencyP50 => self.latency_p50_s,
            Metric::LatencyP95 => self.latency_p95_s,
            Metric::LatencyP99 => self.latency_p99_s,
            Metric::LatencyP999 => self.latency_p999_s,
            Metric::SloAttainment => self.slo_attainment,
            Metric::AttemptsPerRequest => self.attempts_per_request,
            Metric::CompletedFraction => share(self.completed),
            Metric::RejectedFraction => share(self.rejected),
            Metric::AbandonedFraction => share(self.abandoned),
            Metric::FailedFraction => share(self.failed),
            // In `serving.csv`, not here (see `crate::slo::metric`).
            Metric::TtftMean
            | Metric::TtftP50
            | Metric::TtftP95
            | Metric::TtftP99
            | Metric::TpotMean
            | Metric::TpotP50
            | Metric::TpotP95
            | Metric::TpotP99 => None,
        }
    }
}

impl PoolRow {
    /// The row of pool `p` of `run`.
    pub fn new(scenario: &str, point: usize, run: &RunResult, p: &PoolResult) -> Self {
        PoolRow {
            scenario: scenario.to_string(),
            point: point as u64,
            replication: u64::from(run.replication),
            seed: run.seed,
            pool: p.name.clone(),
            gpus_mean: p.gpus_mean,
            busy_gpus_mean: p.busy_gpus_mean,
            utilization: p.utilization,
            offered_load: p.offered_load,
            gpu_hours: p.gpu_hours,
            cost_usd: p.cost_usd,
            queue_mean: p.queue_mean,
            queue_max: p.queue_max,
            deferred: p.deferred,
            shed: p.shed,
            failed: p.failed,
            peak_load: Some(p.verdict.peak_load).filter(|x| x.is_finite()),
            verdict: Some(p.verdict.kind.label().to_string()),
        }
    }

    /// Rows of every pool of every run, for grid point `point`.
    pub fn of_runs(scenario: &Scenario, point: usize, runs: &[RunResult]) -> Vec<Self> {
        runs.iter()
            .flat_map(|run| {
                run.pools
                    .iter()
                    .map(move |p| PoolRow::new(&scenario.name, point, run, p))
            })
            .collect()
    }
}

/// A time-series scope's kind and name (`scope_kind`, `scope`).
pub(crate) fn scope_names(scenario: &Scenario, scope: Scope) -> (&'static str, &String) {
    match scope {
        Scope::Class(i) => ("class", &scenario.classes[i].name),
        Scope::Pool(i) => ("pool", &scenario.pools[i].name),
        Scope::Population(i) => ("population", &scenario.populations[i].name),
    }
}

impl SeriesRow {
    /// The row of one time bucket of `run`.
    pub fn new(scenario: &Scenario, point: usize, run: &RunResult, r: &TimeSeriesRow) -> Self {
        let (kind, name) = scope_names(scenario, r.scope);
        let utilization = match (r.busy_gpus_mean, r.online_gpus_mean) {
            (Some(b), Some(o)) if o > 0.0 => Some(b / o),
            _ => None,
        };
        SeriesRow {
            scenario: scenario.name.clone(),
            point: point as u64,
            replication: u64::from(run.replication),
            seed: run.seed,
            time_s: r.start.as_secs_f64(),
            bucket_s: r.width.as_secs_f64(),
            scope_kind: kind.into(),
            scope: name.clone(),
            arrivals: r.arrivals,
            retries: r.retries,
            completions: r.completions,
            rejected: r.rejected,
            abandoned: r.abandoned,
            failed: r.failed,
            queue_mean: r.queue_mean,
            queue_max: Some(r.queue_max.unwrap_or(0)),
            busy_gpus_mean: r.busy_gpus_mean,
            online_gpus_mean: r.online_gpus_mean,
            utilization,
            users_online: r.users_online,
            latency_p50_s: r.latency_p50_s,
            latency_p99_s: r.latency_p99_s,
            latency_p95_s: r.latency_p95_s,
            deferred: Some(r.deferred),
        }
    }

    /// Rows of every bucket of every run, for grid point `point`.
    pub fn of_runs(scenario: &Scenario, point: usize, runs: &[RunResult]) -> Vec<Self> {
        runs.iter()
            .flat_map(|run| {
                run.timeseries
                    .iter()
                    .map(move |r| SeriesRow::new(scenario, point, run, r))
            })
            .collect()
    }
}

impl RequestRow {
    /// Rows of every traced request of every run, for grid point `point`.
    pub fn of_runs(scenario: &Scenario, point: usize, runs: &[RunResult]) -> Vec<Self> {
        let secs = |t: Option<SimTime>| t.map(|t| t.as_secs_f64());
        runs.iter()
            .flat_map(|run| {
                run.trace.iter().map(move |r| RequestRow {
                    scenario: scenario.name.clone(),
                    point: point as u64,
                    replication: u64::from(run.replication),
                    id: r.id,
                    class: scenario.classes[r.class].name.clone(),
                    arrival_s: r.arrival.as_secs_f64(),
                    start_s: secs(r.start),
                    end_s: secs(r.end),
                    outcome: r.outcome.as_str().into(),
                    attempts: u64::from(r.attempts),
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_summary_column_metric_names_a_column() {
        for &m in Metric::ALL {
            assert_eq!(
                SummaryRow::COLUMNS.contains(&m.column()),
                !m.is_share() && !m.is_serving(),
                "{m}"
            );
        }
    }

    #[test]
    fn rows_read_back_what_was_written() {
        let row = PoolRow {
            scenario: "s".into(),
            point: 1,
            replication: 2,
            seed: 3,
            pool: "gpu".into(),
            gpus_mean: 8.0,
            busy_gpus_mean: 7.25,
            utilization: 0.90625,
            offered_load: 0.9,
            gpu_hours: 16.0,
            cost_usd: 0.0,
            queue_mean: 4.5,
            queue_max: 40,
            deferred: 0,
            shed: 1,
            failed: 2,
            peak_load: Some(0.95),
            verdict: Some("stable".into()),
        };
        let bytes = Table::of(std::slice::from_ref(&row)).to_csv();
        assert_eq!(read::<PoolRow>("pools.csv", &bytes).unwrap(), vec![row]);
    }

    #[test]
    fn a_missing_optional_column_reads_as_empty_and_a_missing_count_is_an_error() {
        let text = b"scenario,point,replication,id,class,arrival_s,outcome,attempts\ns,0,0,1,c,2.5,completed,1\n";
        let rows = read::<RequestRow>("requests.csv", text).unwrap();
        assert_eq!((rows[0].start_s, rows[0].end_s), (None, None));
        let err = read::<RequestRow>("requests.csv", b"scenario,point\ns,0\n").unwrap_err();
        assert!(
            err.contains("requests.csv has no column replication, id, class"),
            "{err}"
        );
        let err = read::<RequestRow>(
            "requests.csv",
            b"scenario,point,replication,id,class,arrival_s,outcome,attempts\ns,x,0,1,c,2.5,completed,1\n",
        )
        .unwrap_err();
        assert!(err.contains("column point: cannot read \"x\""), "{err}");
    }
}
