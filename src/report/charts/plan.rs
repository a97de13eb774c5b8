//! Charts of a plan, from `plan.csv`: each SLO metric against the varied
//! value (one path), or the allocations probed (two paths: the frontier).

use super::sweep::path_label;
use super::*;

/// An SLO as a plan chart shows it.
#[derive(Clone, Debug)]
pub struct PlanSlo {
    /// The column stem in `plan.csv`, e.g. `image-plus.wait_p95` (with
    /// its bound when the same metric is bounded twice).
    pub name: String,
    /// `CLASS.METRIC`, for titles.
    pub label: String,
    /// Its bound, and whether it is an upper one.
    pub bound: f64,
    /// `≤` (true) or `≥`.
    pub upper: bool,
    /// The metric is in seconds.
    pub seconds: bool,
}

/// One probe of `plan.csv`.
struct Row {
    values: Vec<f64>,
    verdict: String,
    /// Per SLO: mean, low, high.
    slos: Vec<(Option<f64>, Option<f64>, Option<f64>)>,
}

fn read(csv_bytes: &[u8], slos: &[PlanSlo]) -> Result<(Vec<String>, Vec<Row>), String> {
    let mut r = csv::Reader::from_reader(csv_bytes);
    let header: Vec<String> = r.headers().map_err(err)?.iter().map(String::from).collect();
    let meets = header
        .iter()
        .position(|h| h == "meets_slos")
        .ok_or("plan.csv has no meets_slos column")?;
    let col = |name: &str| header.iter().position(|h| h == name);
    let verdict = col("verdict").ok_or("plan.csv has no verdict column")?;
    let slo_cols: Vec<[Option<usize>; 3]> = slos
        .iter()
        .map(|s| ["mean", "ci_low", "ci_high"].map(|st| col(&format!("{}_{st}", s.name))))
        .collect();
    let mut rows = Vec::new();
    for rec in r.records() {
        let rec = rec.map_err(err)?;
        let num = |i: Option<usize>| {
            i.and_then(|i| rec.get(i))
                .and_then(|v| v.parse::<f64>().ok())
        };
        rows.push(Row {
            values: (0..meets)
                .map(|i| num(Some(i)).unwrap_or(f64::NAN))
                .collect(),
            verdict: rec.get(verdict).unwrap_or("").to_string(),
            slos: slo_cols
                .iter()
                .map(|c| (num(c[0]), num(c[1]), num(c[2])))
                .collect(),
        });
    }
    Ok((header[..meets].to_vec(), rows))
}

/// A panel of points and lines with marks (the plan's own charts).
struct Panel {
    title: String,
    x: Axis,
    y: Axis,
    series: Vec<Series>,
    marks: Vec<Mark>,
}

impl Chart for Panel {
    fn draw<DB: DrawingBackend>(&self, root: &Area<DB>) -> Result<(), String> {
        draw_panel(
            root,
            &self.title,
            &self.x,
            &self.y,
            &self.series,
            &self.marks,
        )
    }
}

/// The verdicts, their colours and marker shapes.
const VERDICTS: [(&str, RGBColor, usize); 3] = [
    ("meets", GREEN, 0),
    ("misses", RED, 4),
    ("undecided", GREY, 2),
];

fn dots(label: &str, color: RGBColor, shape: usize, points: Vec<(f64, f64)>) -> Series {
    let mut s = Series::line(label, color, points);
    s.markers = true;
    s.shape = shape;
    s.line = false;
    s
}

/// An x axis over `values` with a margin.
fn spread(desc: String, values: impl Iterator<Item = f64>) -> Axis {
    let v: Vec<f64> = values.filter(|v| v.is_finite()).collect();
    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let pad = ((hi - lo) * 0.05).max(0.5);
    Axis::linear(desc, (lo - pad).max(0.0), hi + pad)
}

/// Draw the charts of a plan into `dir`: for one varied path,
/// `plan-CLASS-METRIC` per SLO (its mean with the 95% band over the probed
/// values, each probe marked by its verdict, the bound dashed); for two,
/// `plan-frontier` (every allocation probed, by verdict, the answer
/// ringed).
pub fn plan_charts(
    plan_csv: &[u8],
    slos: &[PlanSlo],
    answer: Option<&[u64]>,
    dir: &Path,
    format: ChartFormat,
) -> Result<Vec<ChartFile>, String> {
    let (paths, mut rows) = read(plan_csv, slos)?;
    if rows.is_empty() || paths.is_empty() || paths.len() > 2 {
        return Ok(Vec::new());
    }
    prepare(dir)?;
    let mut written = Vec::new();
    rows.sort_by(|a, b| a.values[0].total_cmp(&b.values[0]));
    let answer: Option<Vec<f64>> = answer.map(|a| a.iter().map(|&v| v as f64).collect());
    if paths.len() == 1 {
        let x = spread(path_label(&paths[0]), rows.iter().map(|r| r.values[0]));
        for (k, slo) in slos.iter().enumerate() {
            let with: Vec<&Row> = rows.iter().filter(|r| r.slos[k].0.is_some()).collect();
            if with.is_empty() {
                continue;
            }
            let mut mean = Series::line(
                "mean over replications, 95% CI",
                BLUE,
                with.iter()
                    .map(|r| (r.values[0], r.slos[k].0.unwrap_or(f64::NAN)))
                    .collect(),
            );
            mean.band = with
                .iter()
                .filter_map(|r| Some((r.values[0], r.slos[k].1?, r.slos[k].2?)))
                .collect();
            let mut series = vec![mean];
            for (verdict, color, shape) in VERDICTS {
                let pts: Vec<(f64, f64)> = with
                    .iter()
                    .filter(|r| r.verdict == verdict)
                    .map(|r| (r.values[0], r.slos[k].0.unwrap_or(f64::NAN)))
                    .collect();
                if !pts.is_empty() {
                    series.push(dots(verdict, color, shape, pts));
                }
            }
            let values = series
                .iter()
                .flat_map(|s| s.points.iter().map(|p| p.1))
                .chain(series[0].band.iter().flat_map(|b| [b.1, b.2]))
                .chain(std::iter::once(slo.bound));
            let mut y = Axis::fit(slo.label.clone(), values, false);
            if slo.seconds {
                y = y.seconds();
            }
            let bound = format!(
                "{} {}",
                if slo.upper { "≤" } else { "≥" },
                if slo.seconds {
                    super::axis::seconds_label(slo.bound)
                } else {
                    tick_label(slo.bound)
                }
            );
            let marks = vec![Mark::Level {
                y: slo.bound,
                color: RED,
                label: format!("SLO {bound}"),
            }];
            let title = match &answer {
                Some(a) => format!("{} {bound} against {}: answer {}", slo.label, x.desc, a[0]),
                None => format!(
                    "{} {bound} against {}: nothing in range meets",
                    slo.label, x.desc
                ),
            };
            let chart = Panel {
                title,
                x: x.clone(),
                y,
                series,
                marks,
            };
            written.push(save(
                &chart,
                dir,
                &format!("plan-{}", slug(&slo.name)),
                format,
            )?);
        }
    } else {
        let x = spread(path_label(&paths[0]), rows.iter().map(|r| r.values[0]));
        let y = spread(path_label(&paths[1]), rows.iter().map(|r| r.values[1]));
        let mut series = Vec::new();
        for (verdict, color, shape) in VERDICTS {
            let pts: Vec<(f64, f64)> = rows
                .iter()
                .filter(|r| r.verdict == verdict)
                .map(|r| (r.values[0], r.values[1]))
                .collect();
            if !pts.is_empty() {
                series.push(dots(verdict, color, shape, pts));
            }
        }
        if let Some(a) = &answer {
            series.push(dots("least cost", BLUE, 1, vec![(a[0], a[1])]));
        }
        let title = match &answer {
            Some(a) => format!(
                "Allocations probed, by their verdict on every SLO: least cost at {} = {}, {} = {}",
                paths[0], a[0], paths[1], a[1]
            ),
            None => "Allocations probed, by their verdict on every SLO: none meets all".to_string(),
        };
        let chart = Panel {
            title,
            x,
            y,
            series,
            marks: Vec::new(),
        };
        written.push(save(&chart, dir, "plan-frontier", format)?);
    }
    Ok(written)
}
