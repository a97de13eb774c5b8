//! The tidy tables behind `summary.csv`, `pools.csv`, `timeseries.csv`,
//! `stages.csv` and `requests.csv` (and `--format json`): the typed rows of
//! [`crate::rows`], one per observation, as a [`Table`].

use crate::model::{RunResult, Scenario};
pub use crate::rows::{Cell, Table};
use crate::rows::{
    PoolRow, ReplicaRow, RequestRow, SeriesRow, ServingRow, ServingSeriesRow, StageRow,
    StageTimeRow, SummaryRow,
};

/// One row per (replication, class), plus class `all`, for grid point `point`.
pub fn summary_table(scenario: &Scenario, point: usize, runs: &[RunResult]) -> Table {
    Table::of(&SummaryRow::of_runs(scenario, point, runs))
}

/// One row per (replication, pool).
pub fn pools_table(scenario: &Scenario, point: usize, runs: &[RunResult]) -> Table {
    Table::of(&PoolRow::of_runs(scenario, point, runs))
}

/// One row per (replication, workflow class, stage): `stages.csv`.
pub fn stages_table(scenario: &Scenario, point: usize, runs: &[RunResult]) -> Table {
    Table::of(&StageRow::of_runs(scenario, point, runs))
}

/// One row per (replication, class on a serving pool): `serving.csv`.
pub fn serving_table(scenario: &Scenario, point: usize, runs: &[RunResult]) -> Table {
    Table::of(&ServingRow::of_runs(scenario, point, runs))
}

/// One row per (replication, serving pool): `replicas.csv`.
pub fn replicas_table(scenario: &Scenario, point: usize, runs: &[RunResult]) -> Table {
    Table::of(&ReplicaRow::of_runs(scenario, point, runs))
}

/// One row per (replication, bucket, serving pool or class on one):
/// `serving_series.csv`.
pub fn serving_series_table(scenario: &Scenario, point: usize, runs: &[RunResult]) -> Table {
    Table::of(&ServingSeriesRow::of_runs(scenario, point, runs))
}

/// One row per (replication, bucket, workflow class, stage): `stage_series.csv`.
pub fn stage_series_table(scenario: &Scenario, point: usize, runs: &[RunResult]) -> Table {
    Table::of(&StageTimeRow::of_runs(scenario, point, runs))
}

/// One row per (replication, bucket, class, pool or population).
pub fn timeseries_table(scenario: &Scenario, point: usize, runs: &[RunResult]) -> Table {
    Table::of(&SeriesRow::of_runs(scenario, point, runs))
}

/// One row per traced request (`--trace N`): per replication, the first
/// N measured requests in arrival order.
pub fn requests_table(scenario: &Scenario, point: usize, runs: &[RunResult]) -> Table {
    Table::of(&RequestRow::of_runs(scenario, point, runs))
}

#[cfg(test)]
mod tests {
    use crate::rows::{Cell, format_number};

    #[test]
    fn numbers_are_plain_decimals() {
        assert_eq!(format_number(1.5), "1.5");
        assert_eq!(format_number(2.0), "2");
        assert_eq!(format_number(1e-10), "0");
        assert_eq!(format_number(-0.0), "0");
        assert_eq!(format_number(123456789.0), "123456789");
        assert_eq!(format_number(0.1 + 0.2), "0.3");
        assert_eq!(Cell::Num(None).to_csv(), "NaN");
        assert_eq!(Cell::Num(Some(f64::NAN)).to_csv(), "NaN");
        assert_eq!(Cell::Num(Some(2.0)).to_csv(), "2.0");
        assert_eq!(Cell::Num(Some(-0.0)).to_csv(), "0.0");
        assert_eq!(Cell::Num(Some(1.25)).to_csv(), "1.25");
        assert_eq!(Cell::Int(2).to_csv(), "2");
    }
}
