//! `--set PATH=VALUE` overrides, applied to the parsed document before
//! validation so that an overridden value is checked like any other.
//!
//! Paths are dotted and go by name: `pool.gpu.gpus`, `class.jobs.arrivals.rate`,
//! `workflow.image.stage.safety.service.mean`, `duration`. After `pool`,
//! `class` or any array of named tables comes the entry's `name`; a number
//! indexes an array (`slo.0.max`). The value is read as a TOML value
//! (`12`, `0.5`, `true`, `"x"`, `{ … }`); anything that is not one is taken
//! as a string, so `9/s` and `fifo` need no quotes.

use std::fmt;
use std::ops::Range;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// First span offset used for values that come from overrides: override
/// `i` gets the span `BASE + i`, far past the end of any file, so an error
/// there can name the override instead of a line.
pub(crate) const OVERRIDE_SPAN_BASE: usize = usize::MAX / 2;

/// One `PATH=VALUE` override.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Override {
    /// Dotted key path, e.g. `pool.gpu.gpus`.
    pub path: String,
    /// The value as typed.
    pub value: String,
    /// Where it came from, for messages: `--set`, `--grid`, `--vary` or
    /// the flag that stands for a scenario key (`--bucket`).
    pub flag: &'static str,
}

impl Override {
    /// Parse `PATH=VALUE`.
    pub fn parse(s: &str) -> Result<Override, String> {
        let (path, value) = s
            .split_once('=')
            .ok_or_else(|| format!("expected PATH=VALUE (e.g. pool.gpu.gpus=12), found {s:?}"))?;
        let path = path.trim();
        if path.is_empty() || path.split('.').any(str::is_empty) {
            return Err(format!(
                "expected a dotted key path before '=', found {path:?}"
            ));
        }
        Ok(Override {
            path: path.to_string(),
            value: value.trim().to_string(),
            flag: "--set",
        })
    }

    /// An override from another flag than `--set`.
    pub fn from_flag(flag: &'static str, path: &str, value: String) -> Override {
        Override {
            path: path.to_string(),
            value,
            flag,
        }
    }

    /// As the user gave it: `--set pool.gpu.gpus=0`, `--grid pool.gpu.gpus=0`.
    pub fn describe(&self) -> String {
        // A long value (a pasted file?) is shortened, not echoed whole.
        let value = if self.value.chars().count() > 80 {
            let head: String = self.value.chars().take(60).collect();
            format!("{head}… ({} characters)", self.value.chars().count())
        } else {
            self.value.clone()
        };
        match self.flag {
            "--set" | "--grid" | "[sweep] or --grid" | "--vary" => {
                format!("{} {}={value}", self.flag, self.path)
            }
            // A flag that stands for one key: `--bucket 1ns`.
            flag => format!("{flag} {value}"),
        }
    }
}

impl fmt::Display for Override {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.path, self.value)
    }
}

impl std::str::FromStr for Override {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Override::parse(s)
    }
}

fn span_of(index: usize) -> Range<usize> {
    OVERRIDE_SPAN_BASE + index..OVERRIDE_SPAN_BASE + index + 1
}

/// Give `value` and everything inside it the override's span.
fn respan<'i>(value: DeValue<'i>, span: &Range<usize>) -> Spanned<DeValue<'i>> {
    let value = match value {
        DeValue::Array(items) => DeValue::Array(
            items
                .into_iter()
                .map(|v| respan(v.into_inner(), span))
                .collect(),
        ),
        DeValue::Table(table) => {
            let mut out = DeTable::new();
            for (k, v) in table {
                out.insert(
                    Spanned::new(span.clone(), k.into_inner()),
                    respan(v.into_inner(), span),
                );
            }
            DeValue::Table(out)
        }
        other => other,
    };
    Spanned::new(span.clone(), value)
}

/// Names of the `[[pool]]` or `[[class]]` entries, for messages.
pub(crate) fn entry_names(root: &DeTable<'_>, array: &str) -> Vec<Option<String>> {
    match root.get(array).map(|v| v.get_ref()) {
        Some(DeValue::Array(items)) => items
            .iter()
            .map(|item| match item.get_ref() {
                DeValue::Table(t) => t
                    .get("name")
                    .and_then(|n| n.get_ref().as_str())
                    .map(str::to_string),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// Apply override `index` to the document.
pub(crate) fn apply<'i>(
    root: &mut DeTable<'i>,
    ov: &'i Override,
    index: usize,
) -> Result<(), String> {
    let span = span_of(index);
    let value = match DeValue::parse(&ov.value) {
        Ok(v) => v.into_inner(),
        Err(_) => DeValue::String(ov.value.as_str().into()),
    };
    let value = respan(value, &span);
    let segments: Vec<&'i str> = ov.path.split('.').collect();
    let mut node = DeValue::Table(std::mem::take(root));
    let result = walk(&mut node, &segments, 0, value, &span);
    if let DeValue::Table(t) = node {
        *root = t;
    }
    result
}

/// Set `segments[pos..]` below `node` to `value`.
fn walk<'i>(
    node: &mut DeValue<'i>,
    segments: &[&'i str],
    pos: usize,
    value: Spanned<DeValue<'i>>,
    span: &Range<usize>,
) -> Result<(), String> {
    let seg = segments[pos];
    let last = pos + 1 == segments.len();
    match node {
        DeValue::Table(table) => {
            if last {
                table.insert(Spanned::new(span.clone(), seg.into()), value);
                return Ok(());
            }
            let known: Vec<String> = table.keys().map(|k| k.get_ref().to_string()).collect();
            let Some(child) = table.get_mut(seg) else {
                return Err(format!(
                    "no key {seg:?} in {}; known: {}",
                    prefix(segments, pos),
                    list(&known)
                ));
            };
            let child = child.get_mut();
            // Arrays of named tables go by name: [[pool]], [[class]],
            // [[population]], [[workflow]] and a workflow's [[workflow.stage]].
            let by_name = (pos == 0 && (seg == "pool" || seg == "class"))
                || (matches!(child, DeValue::Array(items) if !items.is_empty()
                    && items.iter().all(|it| it.get_ref().get("name").is_some()))
                    && segments[pos + 1].parse::<usize>().is_err());
            if by_name {
                let DeValue::Array(items) = child else {
                    return Err(format!("{seg} is not an array of tables [[{seg}]]"));
                };
                let name = segments[pos + 1];
                let names: Vec<String> = items
                    .iter()
                    .filter_map(|it| {
                        it.get_ref()
                            .get("name")?
                            .get_ref()
                            .as_str()
                            .map(String::from)
                    })
                    .collect();
                let found = items.iter_mut().find(|it| {
                    it.get_ref()
                        .get("name")
                        .and_then(|n| n.get_ref().as_str())
                        .is_some_and(|n| n == name)
                });
                let Some(found) = found else {
                    return Err(format!("unknown {seg} {name:?}; known: {}", list(&names)));
                };
                if pos + 2 >= segments.len() {
                    return Err(format!(
                        "expected a key after {seg}.{name}, e.g. {seg}.{name}.name"
                    ));
                }
                return walk(found.get_mut(), segments, pos + 2, value, span);
            }
            walk(child, segments, pos + 1, value, span)
        }
        DeValue::Array(items) => {
            let len = items.len();
            let Ok(idx) = seg.parse::<usize>() else {
                return Err(format!(
                    "{} is an array: expected an index, found {seg:?}",
                    prefix(segments, pos)
                ));
            };
            let Some(item) = items.get_mut(idx) else {
                return Err(format!(
                    "{} has {len} entries: index {idx} is out of range",
                    prefix(segments, pos)
                ));
            };
            if last {
                *item = value;
                Ok(())
            } else {
                walk(item.get_mut(), segments, pos + 1, value, span)
            }
        }
        _ => Err(format!(
            "{} is a value, not a table: it has no key {seg:?}",
            prefix(segments, pos)
        )),
    }
}

fn prefix(segments: &[&str], upto: usize) -> String {
    if upto == 0 {
        "the top level".to_string()
    } else {
        segments[..upto].join(".")
    }
}

fn list(names: &[String]) -> String {
    if names.is_empty() {
        "none".to_string()
    } else {
        names.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(doc: &str, ov: &str) -> Result<String, String> {
        let ov = Override::parse(ov)?;
        let mut root = DeTable::parse(doc).unwrap().into_inner();
        apply(&mut root, &ov, 0)?;
        let table: toml::Table =
            serde::Deserialize::deserialize(toml::de::Deserializer::from(Spanned::new(0..0, root)))
                .unwrap();
        Ok(table.to_string())
    }

    const DOC: &str = r#"
duration = "1h"
[[pool]]
name = "gpu"
gpus = 8
[[class]]
name = "jobs"
arrivals = { process = "poisson", rate = "1/s" }
"#;

    #[test]
    fn sets_values_by_entry_name() {
        let out = set(DOC, "pool.gpu.gpus=12").unwrap();
        assert!(out.contains("gpus = 12"), "{out}");
        let out = set(DOC, "class.jobs.arrivals.rate=9/s").unwrap();
        assert!(out.contains("rate = \"9/s\""), "{out}");
        let out = set(DOC, "duration=2h").unwrap();
        assert!(out.contains("duration = \"2h\""), "{out}");
        let out = set(DOC, "pool.gpu.speed=1.5").unwrap();
        assert!(out.contains("speed = 1.5"), "{out}");
    }

    #[test]
    fn stages_of_a_workflow_go_by_name_too() {
        let doc = "[[workflow]]\nname = \"image\"\n[[workflow.stage]]\nname = \"a\"\npool = \"gpu\"\n[[workflow.stage]]\nname = \"safety\"\npool = \"gpu\"\n";
        let out = set(doc, "workflow.image.stage.safety.pool=small").unwrap();
        assert!(out.contains("pool = \"small\""), "{out}");
        let err = set(doc, "workflow.image.stage.safty.pool=small").unwrap_err();
        assert!(
            err.contains("unknown stage \"safty\"; known: a, safety"),
            "{err}"
        );
        // A number still indexes.
        let out = set(doc, "workflow.0.stage.1.pool=small").unwrap();
        assert!(out.contains("pool = \"small\""), "{out}");
    }

    #[test]
    fn unknown_entries_list_the_known_ones() {
        let err = set(DOC, "pool.gpux.gpus=1").unwrap_err();
        assert!(err.contains("unknown pool \"gpux\"; known: gpu"), "{err}");
        let err = set(DOC, "nothing.here=1").unwrap_err();
        assert!(err.contains("no key \"nothing\""), "{err}");
        assert!(Override::parse("no-equals").is_err());
        assert!(Override::parse("a..b=1").is_err());
    }
}
