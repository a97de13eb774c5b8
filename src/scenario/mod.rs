//! Scenario files (TOML) → a validated [`Scenario`].
//!
//! Loading runs in three steps, and only a valid scenario reaches the model:
//!
//! 1. **Syntax and shape**: the TOML is parsed with positions, `--set`
//!    overrides are applied to the parsed document, and serde checks the
//!    shape (unknown keys, tables vs values) — see `raw`.
//! 2. **Validation**: every value is checked (units, ranges, references
//!    between pools and classes, files) and *every* problem is collected,
//!    each with `file:line:col`, the key path by name, what was expected and
//!    what was found.
//! 3. The resulting [`Scenario`] is plain data the simulation consumes.
//!
//! Depends on `model` (the target types) and nothing above it.

mod arrivals;
mod classes;
mod ctx;
mod diagnostic;
mod distributions;
pub mod files;
mod overrides;
mod policies;
mod pools;
mod raw;
mod serving;
mod slos;
mod traces;
mod validate;
mod workflows;

pub use crate::model::Scenario;
/// Durations and rates as scenario files write them (moved to [`crate::units`]).
pub use crate::units;
pub use diagnostic::{Diagnostic, LoadError, Place, Severity, line_col};
pub use overrides::Override;

use std::path::Path;

/// A loaded scenario and the warnings found while checking it.
#[derive(Clone, Debug)]
pub struct Loaded {
    /// The validated scenario.
    pub scenario: Scenario,
    /// Problems that do not stop a run (e.g. an unstable pool).
    pub warnings: Vec<Diagnostic>,
    /// The scenario's `[sweep]` table, if any.
    pub sweep: Option<SweepSpec>,
}

/// A `[sweep]` table: the values of each swept path, and how to combine them.
#[derive(Clone, Debug, PartialEq)]
pub struct SweepSpec {
    /// `true` for `mode = "zip"` (the i-th values together), `false` for the
    /// cartesian product (default).
    pub zip: bool,
    /// (dotted path, values as TOML text), in file order.
    pub axes: Vec<(String, Vec<String>)>,
}

/// Like [`load_file`], but a custom policy (`kind = "custom"`) must be one
/// of `custom_policies`: the command line passes none, so a scenario that
/// names one gets a located error instead of failing at run time.
pub fn load_file_checked(
    path: &Path,
    overrides: &[Override],
    custom_policies: &[&str],
) -> Result<Loaded, LoadError> {
    load_text(&read_text(path)?, path, overrides, Some(custom_policies))
}

/// Load and validate the scenario file at `path`, applying `overrides`.
/// Relative file references (empirical distributions, traces) resolve
/// against the scenario file's folder.
pub fn load_file(path: &Path, overrides: &[Override]) -> Result<Loaded, LoadError> {
    load_text(&read_text(path)?, path, overrides, None)
}

/// The text of the scenario file at `path`, or a located error.
pub fn read_text(path: &Path) -> Result<String, LoadError> {
    let file_error = |message: String| LoadError {
        diagnostics: vec![Diagnostic {
            severity: Severity::Error,
            origin: path.display().to_string(),
            place: Place::File,
            key: String::new(),
            message,
            hint: None,
        }],
    };
    files::read_text_file(path, files::MAX_SCENARIO_BYTES).map_err(file_error)
}

/// Load `text`, read from `path` (which names it in messages, gives the
/// folder for relative files and the default name), applying `overrides`;
/// `custom_policies` as in [`load_file_checked`] (`None` accepts any).
/// Sweeps read a file once and load it once per grid point with this.
pub fn load_text(
    text: &str,
    path: &Path,
    overrides: &[Override],
    custom_policies: Option<&[&str]>,
) -> Result<Loaded, LoadError> {
    let origin = path.display().to_string();
    let base = path.parent().unwrap_or(Path::new("."));
    let default_name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "scenario".into());
    validate::load(
        text,
        &origin,
        base,
        &default_name,
        overrides,
        custom_policies,
    )
}

/// Load and validate a scenario from `text`. `origin` names it in messages,
/// `base_dir` resolves relative file references, and `default_name` is used
/// when the scenario has no `name` key.
pub fn load_str(
    text: &str,
    origin: &str,
    base_dir: &Path,
    default_name: &str,
    overrides: &[Override],
) -> Result<Loaded, LoadError> {
    validate::load(text, origin, base_dir, default_name, overrides, None)
}
