//! Reading back the CSV files surge writes, by column name: the charts
//! and the report are drawn from them.

use crate::stats::{Estimate, estimate};

/// A CSV file's header and records.
pub(crate) struct Csv {
    /// The file's name, for messages.
    name: String,
    pub(crate) headers: csv::StringRecord,
    pub(crate) rows: Vec<csv::StringRecord>,
}

impl Csv {
    /// Parse `bytes`; errors name the file.
    pub(crate) fn parse(name: &str, bytes: &[u8]) -> Result<Self, String> {
        let mut reader = csv::Reader::from_reader(bytes);
        let headers = reader
            .headers()
            .map_err(|e| format!("{name}: {e}"))?
            .clone();
        let rows = reader
            .records()
            .collect::<Result<_, _>>()
            .map_err(|e| format!("{name}: {e}"))?;
        Ok(Csv {
            name: name.to_string(),
            headers,
            rows,
        })
    }

    /// The index of a column, if the file has it.
    pub(crate) fn col(&self, name: &str) -> Option<usize> {
        self.headers.iter().position(|h| h == name)
    }

    /// The index of a column the caller cannot do without.
    pub(crate) fn need(&self, name: &str) -> Result<usize, String> {
        self.col(name)
            .ok_or_else(|| format!("{} has no column {name}", self.name))
    }

    /// Distinct values of a column, in first-seen order.
    pub(crate) fn distinct(&self, name: &str) -> Vec<String> {
        match self.col(name) {
            Some(c) => distinct(self.rows.iter().map(|r| r[c].to_string())),
            None => Vec::new(),
        }
    }

    /// The estimate of a numeric column over the rows where `key` = `value`.
    pub(crate) fn estimate(&self, key: &str, value: &str, column: &str) -> Option<Estimate> {
        let (k, c) = (self.col(key)?, self.col(column)?);
        let values: Vec<f64> = self
            .rows
            .iter()
            .filter(|r| &r[k] == value)
            .filter_map(|r| r[c].parse().ok())
            .collect();
        estimate(&values)
    }
}

/// Distinct values in first-seen order.
pub(crate) fn distinct(values: impl Iterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for v in values {
        if !out.contains(&v) {
            out.push(v);
        }
    }
    out
}
