//! Reading `sweep.csv` by column name: its columns depend on the grid (the
//! swept paths) and are generated from [`crate::metric::Metric`]; the fixed
//! tables are read as typed rows ([`crate::rows`]).

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
