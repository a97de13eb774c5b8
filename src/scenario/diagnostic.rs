//! Problems found in a scenario, each tied to a place a person can find.

use std::fmt;

/// How serious a problem is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    /// The scenario cannot run.
    Error,
    /// The scenario runs, but the result may mislead.
    Warning,
}

/// Where a problem is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Place {
    /// Line and column (1-based) in the scenario file.
    Line {
        /// 1-based line.
        line: usize,
        /// 1-based column, in characters.
        col: usize,
    },
    /// In a `--set PATH=VALUE` override (its text).
    Override(String),
    /// The file as a whole.
    File,
}

/// One problem with a scenario: where it is, which key, what was expected
/// and what was found, and optionally a hint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// The scenario file (as given on the command line), or `<memory>`.
    pub origin: String,
    /// Where in it.
    pub place: Place,
    /// The dotted key path by name, e.g. `pool.gpu.gpus`; empty for the
    /// whole file.
    pub key: String,
    /// What was expected and what was found.
    pub message: String,
    /// Advice, if any.
    pub hint: Option<String>,
}

impl fmt::Display for Diagnostic {
    /// `error: FILE:LINE:COL: key: message`, then `  hint: …` on its own line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let label = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{label}: {}", self.origin)?;
        match &self.place {
            Place::Line { line, col } => write!(f, ":{line}:{col}")?,
            Place::Override(text) => write!(f, ": {text}")?,
            Place::File => {}
        }
        if !self.key.is_empty() {
            write!(f, ": {}", self.key)?;
        }
        write!(f, ": {}", self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

/// A scenario that could not be loaded: every problem found.
#[derive(Clone, Debug, thiserror::Error)]
pub struct LoadError {
    /// The errors (never empty) and any warnings found on the way.
    pub diagnostics: Vec<Diagnostic>,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.diagnostics.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

/// 1-based line and column (in characters) of byte `offset` in `text`.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..floor_char_boundary(text, offset)];
    let line = before.matches('\n').count() + 1;
    let col = before
        .rsplit_once('\n')
        .map_or(before, |(_, last)| last)
        .chars()
        .count()
        + 1;
    (line, col)
}

fn floor_char_boundary(text: &str, mut i: usize) -> usize {
    while i > 0 && !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_from_one() {
        let t = "a = 1\nbb = 2\n";
        assert_eq!(line_col(t, 0), (1, 1));
        assert_eq!(line_col(t, 6), (2, 1));
        assert_eq!(line_col(t, 11), (2, 6));
        assert_eq!(line_col(t, 999), (3, 1));
    }

    #[test]
    fn diagnostics_read_as_file_line_key_message() {
        let d = Diagnostic {
            severity: Severity::Error,
            origin: "scenarios/launch.toml".into(),
            place: Place::Line { line: 14, col: 8 },
            key: "pool.gpu.gpus".into(),
            message: "expected an integer ≥ 1, found 0".into(),
            hint: Some("a pool needs at least one GPU".into()),
        };
        assert_eq!(
            d.to_string(),
            "error: scenarios/launch.toml:14:8: pool.gpu.gpus: expected an integer ≥ 1, found 0\n  hint: a pool needs at least one GPU"
        );
    }
}
