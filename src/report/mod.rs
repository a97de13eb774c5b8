//! Results → bytes: CSV files, JSON, and the printed summary table.
//!
//! Everything here is a pure function of the results; files are written
//! atomically by [`write_atomic`].

#[cfg(feature = "charts")]
mod charts;
#[cfg(feature = "charts")]
mod csvdata;
#[cfg(feature = "charts")]
mod html;
mod tables;
mod text;

pub use crate::stats::{Estimate, estimate};
#[cfg(feature = "charts")]
pub use charts::{ChartFile, ChartFormat, PlanSlo, plan_charts, run_charts, sweep_charts};
#[cfg(feature = "charts")]
pub use html::{ClassInfo, ReportInput, RunInfo, SloInfo, report_html};
pub use tables::{
    Cell, Table, pools_table, replicas_table, requests_table, serving_series_table, serving_table,
    stage_series_table, stages_table, summary_table, timeseries_table,
};

/// The columns of `requests.csv` (`--trace N`).
pub fn requests_columns() -> &'static [&'static str] {
    use crate::rows::Row;
    crate::rows::RequestRow::COLUMNS
}

/// The columns of `summary.csv` and `pools.csv`.
pub fn tables_columns() -> (&'static [&'static str], &'static [&'static str]) {
    use crate::rows::Row;
    (
        crate::rows::SummaryRow::COLUMNS,
        crate::rows::PoolRow::COLUMNS,
    )
}
pub use text::{format_secs, summary_text};

use std::io::Write;
use std::path::Path;

/// Write `bytes` to `path` atomically: to a temporary file in the same
/// folder, flushed to disk, then renamed over `path`. A crash leaves either
/// the old file or the new one, never a half-written file under the final
/// name.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
