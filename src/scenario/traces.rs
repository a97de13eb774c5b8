//! Trace replay: a CSV of timestamps, or of counts per interval, read
//! into an arrival process.

use super::ctx::{Ctx, choice};
use super::raw::RawArrivals;
use crate::engine::{SimDuration, SimTime};
use crate::model::{Spread, TraceSpec};
use crate::units::parse_duration;
use std::ops::Range;
use std::path::Path;

/// Most arrivals a trace file may hold (timestamps mode).
const MAX_TRACE_ROWS: usize = 50_000_000;

/// A cell of a trace file: a number of seconds or a duration with a unit.
fn trace_time(cell: &str) -> Option<f64> {
    cell.parse::<f64>()
        .ok()
        .filter(|x| x.is_finite() && *x >= 0.0)
        .or_else(|| parse_duration(cell).map(|d| d.as_secs_f64()))
}

pub(super) fn build_trace(
    ctx: &mut Ctx<'_>,
    a: &RawArrivals,
    span: &Range<usize>,
    key: &str,
) -> Option<TraceSpec> {
    let fk = format!("{key}.file");
    let fv = ctx.required(&a.file, span, &fk, "the path of a CSV trace")?;
    let path = ctx.string(fv, &fk)?;
    let format = choice(
        ctx,
        &a.format,
        &format!("{key}.format"),
        &["timestamps", "counts"],
        "timestamps",
    )?;
    let scale = match &a.scale {
        Some(v) => ctx.number(v, &format!("{key}.scale"), "a load multiplier > 0", |x| {
            x > 0.0
        })?,
        None => 1.0,
    };
    let spread = choice(
        ctx,
        &a.spread,
        &format!("{key}.spread"),
        &["uniform", "poisson"],
        "poisson",
    )?;
    if format == "timestamps" {
        for (name, v) in [("interval", &a.interval), ("spread", &a.spread)] {
            if let Some(v) = v {
                ctx.error(
                    &v.span(),
                    &format!("{key}.{name}"),
                    format!("`{name}` applies to format \"counts\" only"),
                );
            }
        }
    }
    let interval = match &a.interval {
        Some(v) => Some(ctx.positive_duration(v, &format!("{key}.interval"))?),
        None => None,
    };
    let column = match &a.column {
        Some(v) => Some(ctx.string(v, &format!("{key}.column"))?),
        None => None,
    };
    let full = ctx.base_dir().join(&path);
    let text = match super::files::read_text_file(&full, super::files::MAX_DATA_BYTES) {
        Ok(t) => t,
        Err(e) => {
            ctx.error_hint(
                &fv.span(),
                &fk,
                format!("{}: {e}", full.display()),
                "paths are relative to the scenario file's folder",
            );
            return None;
        }
    };
    let table = match read_csv(
        &full,
        &text,
        column.as_deref(),
        if format == "counts" { 2 } else { 1 },
    ) {
        Ok(t) => t,
        Err(message) => {
            ctx.error(&fv.span(), &fk, message);
            return None;
        }
    };
    let shown = full.display().to_string();
    if format == "timestamps" {
        let mut times: Vec<SimTime> = Vec::with_capacity(table.len());
        for (line, col, cells) in &table {
            let Some(t) = trace_time(&cells[0]) else {
                ctx.error(&fv.span(), &fk, format!("{shown}:{line}:{col}: expected a time (seconds or a duration like \"1.5s\"), found {:?}", cells[0]));
                return None;
            };
            let t = SimTime(SimDuration::from_secs_f64(t).0);
            if let Some(&last) = times.last()
                && t < last
            {
                ctx.error_hint(&fv.span(), &fk, format!("{shown}:{line}:{col}: expected timestamps in increasing order, found {t} after {last}"), "sort the file by time");
                return None;
            }
            times.push(t);
        }
        if times.is_empty() {
            ctx.error(
                &fv.span(),
                &fk,
                format!("{shown}: expected at least one timestamp, found none"),
            );
            return None;
        }
        return Some(TraceSpec::Times {
            times: times.into(),
            scale,
        });
    }
    let mut starts: Vec<SimTime> = Vec::with_capacity(table.len());
    let mut counts: Vec<f64> = Vec::with_capacity(table.len());
    for (line, col, cells) in &table {
        let Some(t) = trace_time(&cells[0]) else {
            ctx.error(&fv.span(), &fk, format!("{shown}:{line}:{col}: expected an interval start (seconds or a duration), found {:?}", cells[0]));
            return None;
        };
        let count = cells[1]
            .parse::<f64>()
            .ok()
            .filter(|c| c.is_finite() && *c >= 0.0);
        let Some(count) = count else {
            ctx.error(
                &fv.span(),
                &fk,
                format!(
                    "{shown}:{line}:{}: expected a count ≥ 0, found {:?}",
                    col + 1,
                    cells[1]
                ),
            );
            return None;
        };
        let t = SimTime(SimDuration::from_secs_f64(t).0);
        if let Some(&last) = starts.last()
            && t <= last
        {
            ctx.error(&fv.span(), &fk, format!("{shown}:{line}:{col}: expected interval starts in increasing order, found {t} after {last}"));
            return None;
        }
        starts.push(t);
        counts.push(count);
    }
    let width = match interval {
        Some(w) => w,
        None if starts.len() >= 2 => starts[1] - starts[0],
        None => {
            ctx.error(
                span,
                &format!("{key}.interval"),
                "missing: a single-row counts trace needs `interval`, e.g. interval = \"1m\"",
            );
            return None;
        }
    };
    if let Some(pair) = starts.windows(2).find(|w| w[1] - w[0] < width) {
        ctx.error(
            &fv.span(),
            &fk,
            format!(
                "{shown}: intervals overlap: {} starts less than {width} after {}",
                pair[1], pair[0]
            ),
        );
        return None;
    }
    Some(TraceSpec::Counts {
        starts: starts.into(),
        width,
        counts: counts.into(),
        scale,
        spread: if spread == "uniform" {
            Spread::Uniform
        } else {
            Spread::Poisson
        },
    })
}

/// Rows of a CSV: (line, column of the first used cell, cells). The first
/// row is a header if its first cell is not a time. `column` picks the
/// time column by header name (default: the first); with `width` 2 the
/// count is the column after it.
#[allow(clippy::type_complexity)]
fn read_csv(
    path: &Path,
    text: &str,
    column: Option<&str>,
    width: usize,
) -> Result<Vec<(usize, usize, Vec<String>)>, String> {
    let shown = path.display();
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .comment(Some(b'#'))
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let mut rows = Vec::new();
    let mut index = 0usize;
    let mut first = true;
    for record in reader.records() {
        let record = record.map_err(|e| format!("{shown}: not valid CSV: {e}"))?;
        let line = record.position().map_or(0, |p| p.line() as usize);
        if record.iter().all(str::is_empty) {
            continue;
        }
        if first {
            first = false;
            let is_header = record.get(0).is_none_or(|c| trace_time(c).is_none());
            if let Some(name) = column {
                if !is_header {
                    return Err(format!(
                        "{shown}:{line}: `column = {name:?}` needs a header row, found none"
                    ));
                }
                index = record.iter().position(|c| c == name).ok_or_else(|| {
                    format!(
                        "{shown}:{line}: no column {name:?}; found {}",
                        record.iter().collect::<Vec<_>>().join(", ")
                    )
                })?;
            }
            if is_header {
                continue;
            }
        }
        if rows.len() >= MAX_TRACE_ROWS {
            return Err(format!(
                "{shown}: more than {MAX_TRACE_ROWS} rows; use format = \"counts\""
            ));
        }
        let cells: Option<Vec<String>> = (index..index + width)
            .map(|i| record.get(i).map(str::to_string))
            .collect();
        let Some(cells) = cells else {
            return Err(format!(
                "{shown}:{line}: expected {} column(s) from column {}, found {}",
                width,
                index + 1,
                record.len()
            ));
        };
        rows.push((line, index + 1, cells));
    }
    Ok(rows)
}
