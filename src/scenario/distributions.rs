//! Distributions in a scenario: `{ dist = "lognormal", mean, cv }` and
//! the others, empirical samples read from a file, and distributions of
//! whole numbers (requests per session).

use super::ctx::{Ctx, reject_extra};
use super::raw::{RawDist, Val};
use crate::engine::SimDuration;
use crate::model::{CountDist, DurationDist, TokenDist};
use crate::units::parse_duration;
use toml::Spanned;

/// Every parameter key of a distribution table, by name.
fn parameters(d: &RawDist) -> [(&'static str, &Option<Val>); 8] {
    [
        ("mean", &d.mean),
        ("value", &d.value),
        ("k", &d.k),
        ("cv", &d.cv),
        ("alpha", &d.alpha),
        ("min", &d.min),
        ("max", &d.max),
        ("file", &d.file),
    ]
}

/// The required `dist` key of a distribution table, as a string.
fn dist_kind<'v>(
    ctx: &mut Ctx<'_>,
    sd: &'v Spanned<RawDist>,
    key: &str,
    kinds: &str,
) -> Option<(&'v Val, String)> {
    let v = ctx.required(
        &sd.get_ref().dist,
        &sd.span(),
        &format!("{key}.dist"),
        &format!("one of {kinds}"),
    )?;
    let kind = ctx.string(v, &format!("{key}.dist"))?;
    Some((v, kind))
}

pub(super) fn build_dist(
    ctx: &mut Ctx<'_>,
    sd: &Spanned<RawDist>,
    key: &str,
) -> Option<DurationDist> {
    build_dist_of(ctx, sd, key, Quantity::Duration)
}

/// What a distribution's values are.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Quantity {
    /// Durations with a unit (`"1.5s"`).
    Duration,
    /// Plain numbers of tokens (`800`).
    Tokens,
}

/// A distribution of token counts (`tokens.prompt`, `tokens.output`):
/// the continuous families with plain numbers (rounded to whole tokens,
/// at least 1), or `{ dist = "geometric", mean }` on {1, 2, …}.
pub(super) fn build_tokens(
    ctx: &mut Ctx<'_>,
    sd: &Spanned<RawDist>,
    key: &str,
) -> Option<TokenDist> {
    let d = sd.get_ref();
    if d.dist.as_ref().and_then(|v| v.get_ref().as_str()) == Some("geometric") {
        let extra: Vec<_> = parameters(d)
            .into_iter()
            .filter(|p| p.0 != "mean")
            .collect();
        reject_extra(ctx, key, "dist \"geometric\"", &extra);
        let mean = ctx
            .required(
                &d.mean,
                &sd.span(),
                &format!("{key}.mean"),
                "a mean ≥ 1 (tokens)",
            )
            .and_then(|v| {
                ctx.number(
                    v,
                    &format!("{key}.mean"),
                    "a mean number of tokens ≥ 1",
                    |x| (1.0..=1e9).contains(&x),
                )
            })?;
        return Some(TokenDist::Geometric(mean));
    }
    build_dist_of(ctx, sd, key, Quantity::Tokens).map(TokenDist::Rounded)
}

fn build_dist_of(
    ctx: &mut Ctx<'_>,
    sd: &Spanned<RawDist>,
    key: &str,
    quantity: Quantity,
) -> Option<DurationDist> {
    let d = sd.get_ref();
    let span = sd.span();
    const DURATION_KINDS: &str = "\"exponential\", \"deterministic\", \"erlang\", \"gamma\", \"lognormal\", \"weibull\", \"pareto\", \"uniform\", \"empirical\"";
    const TOKEN_KINDS: &str = "\"geometric\", \"exponential\", \"deterministic\", \"erlang\", \"gamma\", \"lognormal\", \"weibull\", \"pareto\", \"uniform\", \"empirical\"";
    let kinds = match quantity {
        Quantity::Duration => DURATION_KINDS,
        Quantity::Tokens => TOKEN_KINDS,
    };
    let (dist_v, kind) = dist_kind(ctx, sd, key, kinds)?;
    let all = parameters(d);
    let uses: &[&str] = match kind.as_str() {
        "exponential" => &["mean"],
        "deterministic" => &["value"],
        "erlang" => &["k", "mean"],
        "gamma" | "lognormal" | "weibull" => &["mean", "cv"],
        "pareto" => &["mean", "alpha"],
        "uniform" => &["min", "max"],
        "empirical" => &["file"],
        other => {
            ctx.error(
                &dist_v.span(),
                &format!("{key}.dist"),
                format!("expected one of {kinds}, found {other:?}"),
            );
            return None;
        }
    };
    let extra: Vec<(&str, &Option<Val>)> = all
        .iter()
        .filter(|(n, _)| !uses.contains(n))
        .copied()
        .collect();
    reject_extra(ctx, key, &format!("dist \"{kind}\""), &extra);
    let k = |n: &str| format!("{key}.{n}");
    let dur = |ctx: &mut Ctx<'_>, v: &Option<Val>, n: &str| match quantity {
        Quantity::Duration => ctx
            .required(v, &span, &k(n), "a duration like \"1s\"")
            .and_then(|v| ctx.duration(v, &k(n)).map(|d| (d.as_secs_f64(), v.span()))),
        Quantity::Tokens => ctx
            .required(v, &span, &k(n), "a number of tokens, e.g. 800")
            .and_then(|v| {
                ctx.number(v, &k(n), "a number of tokens ≥ 0 (a plain number)", |x| {
                    (0.0..=1e9).contains(&x)
                })
                .map(|x| (x, v.span()))
            }),
    };
    let result = match kind.as_str() {
        "exponential" => {
            let (mean, s) = dur(ctx, &d.mean, "mean")?;
            (DurationDist::exponential(mean), s)
        }
        "deterministic" => {
            let (value, s) = dur(ctx, &d.value, "value")?;
            (DurationDist::deterministic(value), s)
        }
        "erlang" => {
            let kv = ctx
                .required(&d.k, &span, &k("k"), "an integer ≥ 1")
                .and_then(|v| ctx.int(v, &k("k"), 1, 1000));
            let mean = dur(ctx, &d.mean, "mean");
            let (mean, s) = mean?;
            (DurationDist::erlang(kv? as u32, mean), s)
        }
        "gamma" | "lognormal" | "weibull" => {
            let mean = dur(ctx, &d.mean, "mean");
            let cv = ctx
                .required(&d.cv, &span, &k("cv"), "a coefficient of variation > 0")
                .and_then(|v| {
                    ctx.number(v, &k("cv"), "a coefficient of variation > 0", |x| x > 0.0)
                });
            let (mean, s) = mean?;
            let cv = cv?;
            let built = match kind.as_str() {
                "gamma" => DurationDist::gamma(mean, cv),
                "lognormal" => DurationDist::lognormal(mean, cv),
                _ => DurationDist::weibull(mean, cv),
            };
            (built, s)
        }
        "pareto" => {
            let mean = dur(ctx, &d.mean, "mean");
            let alpha = ctx
                .required(&d.alpha, &span, &k("alpha"), "a tail index > 1")
                .and_then(|v| ctx.number(v, &k("alpha"), "a tail index > 1", |x| x > 1.0));
            let (mean, s) = mean?;
            (DurationDist::pareto(mean, alpha?), s)
        }
        "uniform" => {
            let min = dur(ctx, &d.min, "min");
            let max = dur(ctx, &d.max, "max");
            let ((min, _), (max, s)) = (min?, max?);
            if max < min {
                ctx.error(
                    &s,
                    &k("max"),
                    format!(
                        "expected max ≥ min, found max {} < min {}",
                        SimDuration::from_secs_f64(max),
                        SimDuration::from_secs_f64(min)
                    ),
                );
                return None;
            }
            (DurationDist::uniform(min, max), s)
        }
        "empirical" => {
            let v = ctx.required(
                &d.file,
                &span,
                &k("file"),
                "the path of a file of durations",
            )?;
            let path = ctx.string(v, &k("file"))?;
            let values = read_empirical(ctx, &path, v, &k("file"))?;
            (DurationDist::empirical(values), v.span())
        }
        _ => return None,
    };
    match result.0 {
        Ok(dist) => Some(dist),
        Err(e) => {
            ctx.error(&result.1, key, e.to_string());
            None
        }
    }
}

/// Read an empirical sample: one value per line, a duration with a unit
/// (`"1.5s"`) or a bare number of seconds; blank lines and lines starting
/// with `#` are skipped, and so is a first line that is a column header.
pub(super) fn read_empirical(
    ctx: &mut Ctx<'_>,
    path: &str,
    v: &Val,
    key: &str,
) -> Option<Vec<f64>> {
    let full = ctx.base_dir.join(path);
    let text = match super::files::read_text_file(&full, super::files::MAX_DATA_BYTES) {
        Ok(t) => t,
        Err(e) => {
            ctx.error_hint(
                &v.span(),
                key,
                format!("{}: {e}", full.display()),
                "paths are relative to the scenario file's folder",
            );
            return None;
        }
    };
    let mut values = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let cell = line
            .split(',')
            .next()
            .unwrap_or("")
            .trim()
            .trim_matches('"');
        if cell.is_empty() || cell.starts_with('#') {
            continue;
        }
        let parsed = cell
            .parse::<f64>()
            .ok()
            .filter(|x| x.is_finite() && *x >= 0.0)
            .or_else(|| parse_duration(cell).map(|d| d.as_secs_f64()));
        match parsed {
            Some(x) => values.push(x),
            None if i == 0 => {} // a header
            None => {
                ctx.error(
                    &v.span(),
                    key,
                    format!(
                        "{}:{}: expected a duration (\"1.5s\") or a number of seconds ≥ 0, found {cell:?}",
                        full.display(),
                        i + 1
                    ),
                );
                return None;
            }
        }
    }
    if values.is_empty() {
        ctx.error(
            &v.span(),
            key,
            format!(
                "{}: expected at least one value, found none",
                full.display()
            ),
        );
        return None;
    }
    Some(values)
}

/// The column names a token-length file may use, lower case: surge's own,
/// the OpenAI usage names, and those of Azure's public LLM inference
/// traces (`ContextTokens`, `GeneratedTokens`).
const PROMPT_COLUMNS: &[&str] = &[
    "prompt",
    "prompt_tokens",
    "input_tokens",
    "context_tokens",
    "contexttokens",
];
const OUTPUT_COLUMNS: &[&str] = &[
    "output",
    "output_tokens",
    "completion_tokens",
    "generated_tokens",
    "generatedtokens",
];

/// Read (prompt, output) token pairs from a CSV file with a header row
/// naming the two columns (other columns are ignored; lines starting with
/// `#` are skipped). Every error names the file, the line and the column.
pub(super) fn read_token_pairs(
    ctx: &mut Ctx<'_>,
    path: &str,
    v: &Val,
    key: &str,
) -> Option<Vec<(u32, u32)>> {
    let full = ctx.base_dir.join(path);
    let fail = |ctx: &mut Ctx<'_>, msg: String, hint: Option<String>| {
        let msg = format!("{}{msg}", full.display());
        match hint {
            Some(h) => ctx.error_hint(&v.span(), key, msg, h),
            None => ctx.error(&v.span(), key, msg),
        }
    };
    let text = match super::files::read_text_file(&full, super::files::MAX_DATA_BYTES) {
        Ok(t) => t,
        Err(e) => {
            fail(
                ctx,
                format!(": {e}"),
                Some("paths are relative to the scenario file's folder".into()),
            );
            return None;
        }
    };
    let mut reader = csv::ReaderBuilder::new()
        .comment(Some(b'#'))
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let header: Vec<String> = match reader.headers() {
        Ok(h) => h.iter().map(str::to_ascii_lowercase).collect(),
        Err(e) => {
            fail(ctx, format!(": {e}"), None);
            return None;
        }
    };
    let find = |names: &[&str]| header.iter().position(|h| names.contains(&h.as_str()));
    let (Some(pc), Some(oc)) = (find(PROMPT_COLUMNS), find(OUTPUT_COLUMNS)) else {
        fail(
            ctx,
            format!(
                ": expected a header row naming a prompt column ({}) and an output column ({}), found {:?}",
                PROMPT_COLUMNS.join(", "),
                OUTPUT_COLUMNS.join(", "),
                header.join(",")
            ),
            Some("the first line names the columns, e.g. prompt,output".into()),
        );
        return None;
    };
    let mut pairs = Vec::new();
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, csv::Position::line);
                fail(ctx, format!(":{line}: {e}"), None);
                return None;
            }
        };
        let line = record.position().map_or(0, csv::Position::line);
        let cell = |col: usize| -> Result<u32, String> {
            let c = record.get(col).unwrap_or("");
            c.parse::<u32>()
                .ok()
                .filter(|&n| (1..=2_147_483_648).contains(&n))
                .ok_or_else(|| {
                    format!(
                        ":{line}: column {:?}: expected a whole number of tokens ≥ 1, found {c:?}",
                        header[col]
                    )
                })
        };
        match (cell(pc), cell(oc)) {
            (Ok(p), Ok(o)) => pairs.push((p, o)),
            (Err(e), _) | (_, Err(e)) => {
                fail(ctx, e, None);
                return None;
            }
        }
    }
    if pairs.is_empty() {
        fail(
            ctx,
            ": expected at least one (prompt, output) row below the header, found none".into(),
            None,
        );
        return None;
    }
    Some(pairs)
}

/// A distribution of whole numbers.
pub(super) fn build_count(
    ctx: &mut Ctx<'_>,
    sd: &Spanned<RawDist>,
    key: &str,
) -> Option<CountDist> {
    let d = sd.get_ref();
    let span = sd.span();
    const KINDS: &str = "\"deterministic\", \"poisson\", \"geometric\", \"uniform\"";
    let (dv, kind) = dist_kind(ctx, sd, key, KINDS)?;
    let uses: &[&str] = match kind.as_str() {
        "deterministic" => &["value"],
        "poisson" | "geometric" => &["mean"],
        "uniform" => &["min", "max"],
        other => {
            ctx.error(
                &dv.span(),
                &format!("{key}.dist"),
                format!("expected one of {KINDS} (a count), found {other:?}"),
            );
            return None;
        }
    };
    for (name, v) in parameters(d) {
        if let Some(v) = v
            && !uses.contains(&name)
        {
            ctx.error(
                &v.span(),
                &format!("{key}.{name}"),
                format!("`{name}` does not apply to dist \"{kind}\""),
            );
        }
    }
    let int = |ctx: &mut Ctx<'_>, v: &Option<Val>, n: &str| {
        ctx.required(v, &span, &format!("{key}.{n}"), "a whole number ≥ 0")
            .and_then(|v| ctx.int(v, &format!("{key}.{n}"), 0, 1_000_000))
            .map(|x| x as u32)
    };
    match kind.as_str() {
        "deterministic" => Some(CountDist::Deterministic(int(ctx, &d.value, "value")?)),
        "poisson" | "geometric" => {
            let mean = ctx
                .required(&d.mean, &span, &format!("{key}.mean"), "a mean ≥ 0")
                .and_then(|v| {
                    ctx.number(
                        v,
                        &format!("{key}.mean"),
                        "a mean number of requests ≥ 0 (a plain number)",
                        |x| (0.0..=1e6).contains(&x),
                    )
                })?;
            Some(if kind == "poisson" {
                CountDist::Poisson(mean)
            } else {
                CountDist::Geometric(mean)
            })
        }
        _ => {
            let (min, max) = (int(ctx, &d.min, "min"), int(ctx, &d.max, "max"));
            let (min, max) = (min?, max?);
            if max < min {
                ctx.error(
                    &span,
                    &format!("{key}.max"),
                    format!("expected max ≥ min, found max {max} < min {min}"),
                );
                return None;
            }
            Some(CountDist::Uniform(min, max))
        }
    }
}
