//! Durations (`"250ms"`, `"1.5h"`) and rates (`"7.2/s"`, `"1M/h"`).

use crate::engine::SimDuration;

/// Seconds per unit for every accepted duration unit.
const TIME_UNITS: [(&str, f64); 11] = [
    ("ns", 1e-9),
    ("us", 1e-6),
    ("µs", 1e-6),
    ("ms", 1e-3),
    ("s", 1.0),
    ("m", 60.0),
    ("min", 60.0),
    ("h", 3600.0),
    ("d", 86_400.0),
    ("w", 604_800.0),
    ("sec", 1.0),
];

/// What a duration looks like, for error messages.
pub const DURATION_EXPECTED: &str =
    "a duration string with a unit, like \"250ms\", \"90s\", \"30m\", \"1.5h\" or \"7d\"";

/// What a rate looks like, for error messages.
pub const RATE_EXPECTED: &str =
    "a rate string like \"7.2/s\", \"1200/min\", \"1M/h\" or \"100M/d\"";

/// Parse a duration with a unit into nanoseconds: `"1.5h"`, or a compound
/// of whole-unit parts from largest to smallest, `"1h30m"`, `"2m30s"`.
/// Negative values are refused.
pub fn parse_duration(s: &str) -> Option<SimDuration> {
    let s = s.trim();
    parse_simple_duration(s).or_else(|| parse_compound_duration(s))
}

/// `"1h30m"`: parts of a number and a unit, units strictly decreasing.
fn parse_compound_duration(s: &str) -> Option<SimDuration> {
    let mut total = 0.0f64;
    let mut last_scale = f64::INFINITY;
    let mut rest = s;
    let mut parts = 0;
    while !rest.is_empty() {
        let num_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
        let unit_end = rest[num_end..]
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .map_or(rest.len(), |i| num_end + i);
        let value: f64 = rest[..num_end].parse().ok()?;
        let unit = &rest[num_end..unit_end];
        let scale = TIME_UNITS.iter().find(|(u, _)| *u == unit)?.1;
        if scale >= last_scale {
            return None;
        }
        last_scale = scale;
        total += value * scale;
        rest = &rest[unit_end..];
        parts += 1;
    }
    if parts < 2 || total * 1e9 >= u64::MAX as f64 {
        return None;
    }
    Some(SimDuration::from_secs_f64(total))
}

fn parse_simple_duration(s: &str) -> Option<SimDuration> {
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+' || c == 'e'))
        .unwrap_or(s.len());
    // "1e3s" style exponents are allowed, but a unit must follow.
    let (num, unit) = s.split_at(split);
    let unit = unit.trim();
    let scale = TIME_UNITS.iter().find(|(u, _)| *u == unit)?.1;
    let value: f64 = num.parse().ok()?;
    if !value.is_finite() || value < 0.0 {
        return None;
    }
    let secs = value * scale;
    if secs * 1e9 >= u64::MAX as f64 {
        return None;
    }
    Some(SimDuration::from_secs_f64(secs))
}

/// Whether `s` is a well-formed duration (a number and a unit) too long
/// for the nanosecond clock (about 584 years), so a message can say so
/// instead of asking for a unit.
pub fn duration_too_large(s: &str) -> bool {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == 'e'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let known = TIME_UNITS.iter().find(|(u, _)| *u == unit.trim());
    match (num.parse::<f64>(), known) {
        (Ok(v), Some((_, scale))) => v.is_finite() && v * scale * 1e9 >= u64::MAX as f64,
        _ => false,
    }
}

/// Parse a rate like `"1.5k/s"` into events per second. Refuses negative
/// and non-finite values (zero is allowed here; callers decide).
pub fn parse_rate(s: &str) -> Option<f64> {
    let (count, per) = s.trim().split_once('/')?;
    let count = count.trim();
    let (digits, multiplier) = match count.chars().last()? {
        'k' | 'K' => (&count[..count.len() - 1], 1e3),
        'M' => (&count[..count.len() - 1], 1e6),
        'G' | 'B' => (&count[..count.len() - 1], 1e9),
        _ => (count, 1.0),
    };
    let value: f64 = digits.trim().parse().ok()?;
    let per = per.trim();
    let per_secs = match TIME_UNITS.iter().find(|(u, _)| *u == per) {
        Some((_, scale)) => *scale,
        None => parse_duration(per)?.as_secs_f64(),
    };
    let rate = value * multiplier / per_secs;
    (rate.is_finite() && rate >= 0.0 && per_secs > 0.0).then_some(rate)
}

/// A rate per second printed with the most readable unit, e.g. `7.2/s`, `1M/h`.
pub fn format_rate(per_s: f64) -> String {
    let (value, unit) = if per_s >= 0.1 {
        (per_s, "s")
    } else if per_s * 60.0 >= 0.1 {
        (per_s * 60.0, "min")
    } else {
        (per_s * 3600.0, "h")
    };
    let (value, suffix) = if value >= 1e6 {
        (value / 1e6, "M")
    } else if value >= 1e4 {
        (value / 1e3, "k")
    } else {
        (value, "")
    };
    let s = format!("{value:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    format!("{s}{suffix}/{unit}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_from_the_spec_parse() {
        assert_eq!(parse_duration("250ms"), Some(SimDuration::from_millis(250)));
        assert_eq!(parse_duration("90s"), Some(SimDuration::from_secs(90)));
        assert_eq!(parse_duration("30m"), Some(SimDuration::from_secs(1800)));
        assert_eq!(parse_duration("2h"), Some(SimDuration::from_secs(7200)));
        assert_eq!(
            parse_duration("7d"),
            Some(SimDuration::from_secs(7 * 86_400))
        );
        assert_eq!(parse_duration("1.5h"), Some(SimDuration::from_secs(5400)));
        assert_eq!(parse_duration("0s"), Some(SimDuration::ZERO));
        assert_eq!(parse_duration(" 2 h "), Some(SimDuration::from_secs(7200)));
        assert_eq!(parse_duration("1h30m"), Some(SimDuration::from_secs(5400)));
        assert_eq!(parse_duration("2m30s"), Some(SimDuration::from_secs(150)));
        assert_eq!(
            parse_duration("1d12h"),
            Some(SimDuration::from_secs(129_600))
        );
    }

    #[test]
    fn bad_durations_are_refused() {
        for bad in [
            "",
            "5",
            "h",
            "-1s",
            "1.5",
            "3 parsecs",
            "NaNs",
            "1e30d",
            "1..5s",
        ] {
            assert_eq!(parse_duration(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn rates_from_the_spec_parse() {
        let close = |a: f64, b: f64| (a - b).abs() < 1e-9 * b.max(1.0);
        assert!(close(parse_rate("7.2/s").unwrap(), 7.2));
        assert!(close(parse_rate("1200/min").unwrap(), 20.0));
        assert!(close(parse_rate("1M/h").unwrap(), 1e6 / 3600.0));
        assert!(close(parse_rate("100M/d").unwrap(), 1e8 / 86_400.0));
        assert!(close(parse_rate("1.5k/s").unwrap(), 1500.0));
        assert!(close(parse_rate("3/10s").unwrap(), 0.3));
    }

    #[test]
    fn bad_rates_are_refused() {
        for bad in ["", "7.2", "/s", "x/s", "-1/s", "5/parsec", "1/0s"] {
            assert_eq!(parse_rate(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn rates_format_readably() {
        assert_eq!(format_rate(7.2), "7.2/s");
        assert_eq!(format_rate(1e6 / 3600.0), "277.7778/s");
        assert_eq!(format_rate(0.01), "0.6/min");
        assert_eq!(format_rate(50_000.0), "50k/s");
    }
}
