//! The typed-field reader that every section of the scenario uses: read a
//! spanned TOML value as a string, name, integer, number, duration or rate,
//! and record a located diagnostic (file:line:col, key path, what was
//! expected, what was found) instead of stopping at the first problem.

use super::diagnostic::{Diagnostic, Place, Severity, line_col};
use super::overrides::{OVERRIDE_SPAN_BASE, Override};
use super::raw::Val;
use crate::engine::SimDuration;
use crate::units::{DURATION_EXPECTED, RATE_EXPECTED, parse_duration, parse_rate};
use std::collections::HashMap;
use std::ops::Range;
use std::path::Path;

pub(super) struct Ctx<'a> {
    /// Names of custom policies that may be used; `None` accepts any.
    pub(super) custom_policies: Option<&'a [&'a str]>,
    pub(super) origin: &'a str,
    pub(super) text: &'a str,
    pub(super) overrides: &'a [Override],
    pub(super) base_dir: &'a Path,
    pub(super) diagnostics: Vec<Diagnostic>,
}

impl<'a> Ctx<'a> {
    pub(super) fn place(&self, span: &Range<usize>) -> Place {
        if span.start >= OVERRIDE_SPAN_BASE {
            let i = span.start - OVERRIDE_SPAN_BASE;
            match self.overrides.get(i) {
                Some(ov) => Place::Override(ov.describe()),
                None => Place::File,
            }
        } else if span.start <= self.text.len() {
            let (line, col) = line_col(self.text, span.start);
            Place::Line { line, col }
        } else {
            Place::File
        }
    }

    pub(super) fn push(
        &mut self,
        severity: Severity,
        span: &Range<usize>,
        key: &str,
        message: String,
        hint: Option<String>,
    ) {
        let place = self.place(span);
        self.diagnostics.push(Diagnostic {
            severity,
            origin: self.origin.to_string(),
            place,
            key: key.to_string(),
            message,
            hint,
        });
    }

    pub(super) fn error(&mut self, span: &Range<usize>, key: &str, message: impl Into<String>) {
        self.push(Severity::Error, span, key, message.into(), None);
    }

    pub(super) fn error_hint(
        &mut self,
        span: &Range<usize>,
        key: &str,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) {
        self.push(
            Severity::Error,
            span,
            key,
            message.into(),
            Some(hint.into()),
        );
    }

    pub(super) fn expected(&mut self, v: &Val, key: &str, what: &str) {
        self.error(
            &v.span(),
            key,
            format!("expected {what}, found {}", found(v.get_ref())),
        );
    }

    pub(super) fn base_dir(&self) -> &Path {
        self.base_dir
    }

    pub(super) fn has_errors(&self) -> bool {
        self.diagnostics
            .iter()
            .any(|d| d.severity == Severity::Error)
    }

    pub(super) fn string(&mut self, v: &Val, key: &str) -> Option<String> {
        match v.get_ref() {
            toml::Value::String(s) => Some(s.clone()),
            _ => {
                self.expected(v, key, "a string");
                None
            }
        }
    }

    /// A name usable in dotted paths and file names.
    pub(super) fn name(&mut self, v: &Val, key: &str) -> Option<String> {
        let s = self.string(v, key)?;
        let ok = !s.is_empty()
            && s.chars().count() <= 64
            && s.chars()
                .all(|c| c.is_alphanumeric() || c == '-' || c == '_')
            && s != "all";
        if ok {
            Some(s)
        } else {
            self.error(
                &v.span(),
                key,
                format!(
                    "expected a name of at most 64 letters, digits, '-' and '_' (not \"all\"), found {}",
                    found(v.get_ref())
                ),
            );
            None
        }
    }

    pub(super) fn int(&mut self, v: &Val, key: &str, min: i64, max: i64) -> Option<i64> {
        match v.get_ref() {
            toml::Value::Integer(i) if (min..=max).contains(i) => Some(*i),
            _ => {
                let what = if max == i64::MAX {
                    format!("an integer ≥ {min}")
                } else {
                    format!("an integer from {min} to {max}")
                };
                self.expected(v, key, &what);
                None
            }
        }
    }

    pub(super) fn number(
        &mut self,
        v: &Val,
        key: &str,
        what: &str,
        ok: impl Fn(f64) -> bool,
    ) -> Option<f64> {
        let x = match v.get_ref() {
            toml::Value::Float(f) => *f,
            toml::Value::Integer(i) => *i as f64,
            _ => {
                self.expected(v, key, what);
                return None;
            }
        };
        if x.is_finite() && ok(x) {
            Some(x)
        } else {
            self.expected(v, key, what);
            None
        }
    }

    pub(super) fn duration(&mut self, v: &Val, key: &str) -> Option<SimDuration> {
        if let toml::Value::String(s) = v.get_ref()
            && let Some(d) = parse_duration(s)
        {
            return Some(d);
        }
        if let toml::Value::String(s) = v.get_ref()
            && crate::units::duration_too_large(s)
        {
            self.error(
                &v.span(),
                key,
                format!(
                    "expected a duration shorter than 584 years (the range of the nanosecond clock), found {}",
                    found(v.get_ref())
                ),
            );
            return None;
        }
        let hint = matches!(v.get_ref(), toml::Value::Integer(_) | toml::Value::Float(_))
            .then(|| "durations need a unit: write \"90s\", not 90".to_string());
        self.push(
            Severity::Error,
            &v.span(),
            key,
            format!("expected {DURATION_EXPECTED}, found {}", found(v.get_ref())),
            hint,
        );
        None
    }

    pub(super) fn positive_duration(&mut self, v: &Val, key: &str) -> Option<SimDuration> {
        let d = self.duration(v, key)?;
        if d == SimDuration::ZERO {
            self.error(
                &v.span(),
                key,
                format!("expected a duration > 0, found {}", found(v.get_ref())),
            );
            return None;
        }
        Some(d)
    }

    pub(super) fn rate(&mut self, v: &Val, key: &str) -> Option<f64> {
        if let toml::Value::String(s) = v.get_ref() {
            match parse_rate(s) {
                Some(r) if r > 0.0 => return Some(r),
                Some(_) => {
                    self.error(&v.span(), key, format!("expected a rate > 0, found {s:?}"));
                    return None;
                }
                None if s.trim_start().starts_with('-') => {
                    self.error(&v.span(), key, format!("expected a rate > 0, found {s:?}"));
                    return None;
                }
                None => {}
            }
        }
        let hint = matches!(v.get_ref(), toml::Value::Integer(_) | toml::Value::Float(_))
            .then(|| "rates need a unit: write \"7.2/s\", not 7.2".to_string());
        self.push(
            Severity::Error,
            &v.span(),
            key,
            format!("expected {RATE_EXPECTED}, found {}", found(v.get_ref())),
            hint,
        );
        None
    }

    pub(super) fn required<'v, T>(
        &mut self,
        v: &'v Option<T>,
        span: &Range<usize>,
        key: &str,
        what: &str,
    ) -> Option<&'v T> {
        if v.is_none() {
            self.error(span, key, format!("missing: expected {what}"));
        }
        v.as_ref()
    }
}

/// What a TOML value is, for "found …" in messages.
pub(super) fn found(v: &toml::Value) -> String {
    match v {
        // A multi-megabyte value is not echoed whole.
        toml::Value::String(s) if s.chars().count() > 80 => {
            let head: String = s.chars().take(60).collect();
            format!("{head:?}… ({} characters)", s.chars().count())
        }
        toml::Value::String(s) => format!("{s:?}"),
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Float(f) => f.to_string(),
        toml::Value::Boolean(b) => b.to_string(),
        toml::Value::Datetime(d) => format!("the date {d}"),
        toml::Value::Array(_) => "an array".to_string(),
        toml::Value::Table(_) => "a table".to_string(),
    }
}

pub(super) fn entry_key(kind: &str, name: &Option<Val>, index: usize) -> String {
    match name.as_ref().map(|n| n.get_ref()) {
        Some(toml::Value::String(s)) if !s.is_empty() => format!("{kind}.{s}"),
        _ => format!("{kind}[{index}]"),
    }
}

pub(super) fn check_unique(
    ctx: &mut Ctx<'_>,
    kind: &str,
    names: &[(Option<String>, Range<usize>)],
) {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (name, span) in names {
        let Some(name) = name else { continue };
        if let Some(first) = seen.get(name.as_str()) {
            let first_line = line_col(ctx.text, *first).0;
            ctx.error(
                span,
                &format!("{kind}.{name}.name"),
                format!("duplicate {kind} name {name:?} (first defined on line {first_line})"),
            );
        } else {
            seen.insert(name, span.start);
        }
    }
}

/// Flag keys that do not apply to the chosen variant.
pub(super) fn reject_extra(
    ctx: &mut Ctx<'_>,
    key: &str,
    variant: &str,
    extra: &[(&str, &Option<Val>)],
) {
    for (name, v) in extra {
        if let Some(v) = v {
            ctx.error(
                &v.span(),
                &format!("{key}.{name}"),
                format!("`{name}` does not apply to {variant}"),
            );
        }
    }
}

/// A rate that may be zero (a profile's baseline).
pub(super) fn rate_or_zero(ctx: &mut Ctx<'_>, v: &Val, key: &str) -> Option<f64> {
    if let toml::Value::String(s) = v.get_ref()
        && let Some(r) = parse_rate(s)
    {
        return Some(r);
    }
    ctx.error(
        &v.span(),
        key,
        format!(
            "expected {RATE_EXPECTED} (≥ 0), found {}",
            found(v.get_ref())
        ),
    );
    None
}

pub(super) fn choice<'c>(
    ctx: &mut Ctx<'_>,
    v: &Option<Val>,
    key: &str,
    options: &[&'c str],
    default: &'c str,
) -> Option<&'c str> {
    let Some(v) = v else { return Some(default) };
    let s = ctx.string(v, key)?;
    match options.iter().find(|o| **o == s) {
        Some(o) => Some(o),
        None => {
            let list: Vec<String> = options.iter().map(|o| format!("{o:?}")).collect();
            ctx.error(
                &v.span(),
                key,
                format!("expected one of {}, found {s:?}", list.join(", ")),
            );
            None
        }
    }
}
