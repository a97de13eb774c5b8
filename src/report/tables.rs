//! The tidy tables behind `summary.csv`, `pools.csv` and `timeseries.csv`
//! (and `--format json`): one row per observation, snake_case columns with
//! units in the name, and an empty cell where a value does not exist.

use crate::model::{ClassResult, RunResult, Scenario, Scope};

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
    /// The CSV text: integers as is, numbers with at most 9 decimals and no
    /// trailing zeros, no exponent, no thousands separators.
    pub fn to_csv(&self) -> String {
        match self {
            Cell::Text(s) => s.clone(),
            Cell::Int(i) => i.to_string(),
            Cell::Num(Some(x)) if x.is_finite() => format_number(*x),
            Cell::Num(_) => String::new(),
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

/// At most 9 decimals (nanosecond resolution for seconds), trailing zeros
/// trimmed, `-0` printed as `0`.
pub(crate) fn format_number(x: f64) -> String {
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

/// Columns of `summary.csv`.
pub const SUMMARY_COLUMNS: [&str; 30] = [
    "scenario",
    "point",
    "replication",
    "seed",
    "class",
    "arrivals",
    "completed",
    "rejected",
    "abandoned",
    "failed",
    "in_system",
    "throughput_per_s",
    "wait_mean_s",
    "wait_p50_s",
    "wait_p95_s",
    "wait_p99_s",
    "latency_mean_s",
    "latency_p50_s",
    "latency_p95_s",
    "latency_p99_s",
    "latency_p999_s",
    "slo_attainment",
    "attempts",
    "attempts_per_request",
    "rejected_attempts",
    "abandoned_attempts",
    "failed_attempts",
    "deferred",
    "deferred_latency_mean_s",
    "deferred_latency_p99_s",
];

/// One row per (replication, class), plus class `all`, for grid point `point`.
pub fn summary_table(scenario: &Scenario, point: usize, runs: &[RunResult]) -> Table {
    let mut table = Table {
        columns: SUMMARY_COLUMNS.to_vec(),
        rows: Vec::new(),
    };
    for run in runs {
        for class in run.classes.iter().chain(std::iter::once(&run.all)) {
            table.rows.push(summary_row(scenario, point, run, class));
        }
    }
    table
}

fn summary_row(scenario: &Scenario, point: usize, run: &RunResult, c: &ClassResult) -> Vec<Cell> {
    let q = |h: &crate::metrics::DurationHistogram, p: f64| Cell::Num(h.quantile_s(p));
    vec![
        Cell::Text(scenario.name.clone()),
        Cell::Int(point as u64),
        Cell::Int(u64::from(run.replication)),
        Cell::Int(run.seed),
        Cell::Text(c.name.clone()),
        Cell::Int(c.arrivals),
        Cell::Int(c.completed),
        Cell::Int(c.rejected),
        Cell::Int(c.abandoned),
        Cell::Int(c.failed),
        Cell::Int(c.in_system),
        Cell::Num(Some(c.throughput_per_s)),
        Cell::Num(c.wait.mean_s()),
        q(&c.wait, 0.5),
        q(&c.wait, 0.95),
        q(&c.wait, 0.99),
        Cell::Num(c.latency.mean_s()),
        q(&c.latency, 0.5),
        q(&c.latency, 0.95),
        q(&c.latency, 0.99),
        q(&c.latency, 0.999),
        Cell::Num(c.slo_attainment),
        Cell::Int(c.attempts),
        Cell::Num(c.attempts_per_request()),
        Cell::Int(c.rejected_attempts),
        Cell::Int(c.abandoned_attempts),
        Cell::Int(c.failed_attempts),
        Cell::Int(c.deferred),
        Cell::Num(c.deferred_latency.mean_s()),
        q(&c.deferred_latency, 0.99),
    ]
}

/// Columns of `pools.csv`.
pub const POOLS_COLUMNS: [&str; 16] = [
    "scenario",
    "point",
    "replication",
    "seed",
    "pool",
    "gpus_mean",
    "busy_gpus_mean",
    "utilization",
    "offered_load",
    "gpu_hours",
    "cost_usd",
    "queue_mean",
    "queue_max",
    "deferred",
    "shed",
    "failed",
];

/// One row per (replication, pool).
pub fn pools_table(scenario: &Scenario, point: usize, runs: &[RunResult]) -> Table {
    let mut table = Table {
        columns: POOLS_COLUMNS.to_vec(),
        rows: Vec::new(),
    };
    for run in runs {
        for p in &run.pools {
            table.rows.push(vec![
                Cell::Text(scenario.name.clone()),
                Cell::Int(point as u64),
                Cell::Int(u64::from(run.replication)),
                Cell::Int(run.seed),
                Cell::Text(p.name.clone()),
                Cell::Num(Some(p.gpus_mean)),
                Cell::Num(Some(p.busy_gpus_mean)),
                Cell::Num(Some(p.utilization)),
                Cell::Num(Some(p.offered_load)),
                Cell::Num(Some(p.gpu_hours)),
                Cell::Num(Some(p.cost_usd)),
                Cell::Num(Some(p.queue_mean)),
                Cell::Int(p.queue_max),
                Cell::Int(p.deferred),
                Cell::Int(p.shed),
                Cell::Int(p.failed),
            ]);
        }
    }
    table
}

/// Columns of `timeseries.csv`.
pub const TIMESERIES_COLUMNS: [&str; 24] = [
    "scenario",
    "point",
    "replication",
    "seed",
    "time_s",
    "bucket_s",
    "scope_kind",
    "scope",
    "arrivals",
    "retries",
    "completions",
    "rejected",
    "abandoned",
    "failed",
    "queue_mean",
    "queue_max",
    "busy_gpus_mean",
    "online_gpus_mean",
    "utilization",
    "users_online",
    "latency_p50_s",
    "latency_p99_s",
    "latency_p95_s",
    "deferred",
];

/// One row per (replication, bucket, class, pool or population).
pub fn timeseries_table(scenario: &Scenario, point: usize, runs: &[RunResult]) -> Table {
    let mut table = Table {
        columns: TIMESERIES_COLUMNS.to_vec(),
        rows: Vec::new(),
    };
    for run in runs {
        for r in &run.timeseries {
            let (kind, name) = match r.scope {
                Scope::Class(i) => ("class", &scenario.classes[i].name),
                Scope::Pool(i) => ("pool", &scenario.pools[i].name),
                Scope::Population(i) => ("population", &scenario.populations[i].name),
            };
            let utilization = match (r.busy_gpus_mean, r.online_gpus_mean) {
                (Some(b), Some(o)) if o > 0.0 => Some(b / o),
                _ => None,
            };
            table.rows.push(vec![
                Cell::Text(scenario.name.clone()),
                Cell::Int(point as u64),
                Cell::Int(u64::from(run.replication)),
                Cell::Int(run.seed),
                Cell::Num(Some(r.start.as_secs_f64())),
                Cell::Num(Some(r.width.as_secs_f64())),
                Cell::Text(kind.into()),
                Cell::Text(name.clone()),
                Cell::Int(r.arrivals),
                Cell::Int(r.retries),
                Cell::Int(r.completions),
                Cell::Int(r.rejected),
                Cell::Int(r.abandoned),
                Cell::Int(r.failed),
                Cell::Num(r.queue_mean),
                Cell::Num(r.queue_max.map(|m| m as f64)),
                Cell::Num(r.busy_gpus_mean),
                Cell::Num(r.online_gpus_mean),
                Cell::Num(utilization),
                Cell::Num(r.users_online),
                Cell::Num(r.latency_p50_s),
                Cell::Num(r.latency_p99_s),
                Cell::Num(r.latency_p95_s),
                Cell::Int(r.deferred),
            ]);
        }
    }
    table
}

/// Columns of `requests.csv`.
pub const REQUESTS_COLUMNS: [&str; 10] = [
    "scenario",
    "point",
    "replication",
    "id",
    "class",
    "arrival_s",
    "start_s",
    "end_s",
    "outcome",
    "attempts",
];

/// One row per traced request (`--trace N`): per replication, the first
/// N measured requests in arrival order.
pub fn requests_table(scenario: &Scenario, point: usize, runs: &[RunResult]) -> Table {
    let mut table = Table {
        columns: REQUESTS_COLUMNS.to_vec(),
        rows: Vec::new(),
    };
    let secs = |t: Option<crate::engine::SimTime>| Cell::Num(t.map(|t| t.as_secs_f64()));
    for run in runs {
        for r in &run.trace {
            table.rows.push(vec![
                Cell::Text(scenario.name.clone()),
                Cell::Int(point as u64),
                Cell::Int(u64::from(run.replication)),
                Cell::Int(r.id),
                Cell::Text(scenario.classes[r.class].name.clone()),
                secs(Some(r.arrival)),
                secs(r.start),
                secs(r.end),
                Cell::Text(r.outcome.as_str().into()),
                Cell::Int(u64::from(r.attempts)),
            ]);
        }
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_plain_decimals() {
        assert_eq!(format_number(1.5), "1.5");
        assert_eq!(format_number(2.0), "2");
        assert_eq!(format_number(1e-10), "0");
        assert_eq!(format_number(-0.0), "0");
        assert_eq!(format_number(123456789.0), "123456789");
        assert_eq!(format_number(0.1 + 0.2), "0.3");
        assert_eq!(Cell::Num(None).to_csv(), "");
        assert_eq!(Cell::Num(Some(f64::NAN)).to_csv(), "");
    }
}
