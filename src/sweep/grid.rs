//! Grid expansion: product or zip of the swept values.

use crate::scenario::Override;

/// The points of a sweep.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grid {
    /// The swept paths, in order.
    pub params: Vec<String>,
    /// For each point, one value (TOML text) per path.
    pub points: Vec<Vec<String>>,
}

impl Grid {
    /// The overrides that make point `i`.
    pub fn overrides(&self, i: usize) -> Vec<Override> {
        self.params
            .iter()
            .zip(&self.points[i])
            .map(|(path, value)| Override::from_flag("[sweep] or --grid", path, value.clone()))
            .collect()
    }

    /// `path=value, …` of point `i`, for messages.
    pub fn describe(&self, i: usize) -> String {
        self.overrides(i)
            .iter()
            .map(|o| format!("{}={}", o.path, display_value(&o.value)))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A TOML value as a CSV cell: strings without their quotes.
pub fn display_value(text: &str) -> String {
    match text.parse::<toml::Value>() {
        Ok(toml::Value::String(s)) => s,
        _ => match toml::from_str::<toml::Table>(&format!("v = {text}")) {
            Ok(t) => match t.get("v") {
                Some(toml::Value::String(s)) => s.clone(),
                _ => text.to_string(),
            },
            Err(_) => text.to_string(),
        },
    }
}

/// Expand axes `(path, values)` into points: the cartesian product (first
/// axis varies slowest), or with `zip` the i-th values of every axis
/// together (all axes must then have the same length).
pub fn expand(axes: &[(String, Vec<String>)], zip: bool) -> Result<Grid, String> {
    let params: Vec<String> = axes.iter().map(|(p, _)| p.clone()).collect();
    for (i, p) in params.iter().enumerate() {
        if params[..i].contains(p) {
            return Err(format!("the path {p} is swept twice"));
        }
    }
    if axes.is_empty() {
        return Ok(Grid {
            params,
            points: vec![Vec::new()],
        });
    }
    let points = if zip {
        let n = axes[0].1.len();
        if let Some((p, v)) = axes.iter().find(|(_, v)| v.len() != n) {
            return Err(format!(
                "zip mode needs lists of equal length: {} has {n} values, {p} has {}",
                axes[0].0,
                v.len()
            ));
        }
        (0..n)
            .map(|i| axes.iter().map(|(_, v)| v[i].clone()).collect())
            .collect()
    } else {
        let mut points: Vec<Vec<String>> = vec![Vec::new()];
        for (_, values) in axes {
            points = points
                .into_iter()
                .flat_map(|prefix| {
                    values.iter().map(move |v| {
                        let mut p = prefix.clone();
                        p.push(v.clone());
                        p
                    })
                })
                .collect();
        }
        points
    };
    Ok(Grid { params, points })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn axes(spec: &[(&str, &[&str])]) -> Vec<(String, Vec<String>)> {
        spec.iter()
            .map(|(p, v)| (p.to_string(), v.iter().map(|s| s.to_string()).collect()))
            .collect()
    }

    #[test]
    fn product_varies_the_last_axis_fastest() {
        let g = expand(&axes(&[("a", &["1", "2"]), ("b", &["x", "y", "z"])]), false).unwrap();
        assert_eq!(g.points.len(), 6);
        assert_eq!(g.points[0], vec!["1", "x"]);
        assert_eq!(g.points[1], vec!["1", "y"]);
        assert_eq!(g.points[3], vec!["2", "x"]);
    }

    #[test]
    fn zip_pairs_values_and_checks_lengths() {
        let g = expand(&axes(&[("a", &["1", "2"]), ("b", &["x", "y"])]), true).unwrap();
        assert_eq!(g.points, vec![vec!["1", "x"], vec!["2", "y"]]);
        assert!(expand(&axes(&[("a", &["1", "2"]), ("b", &["x"])]), true).is_err());
        assert!(expand(&axes(&[("a", &["1"]), ("a", &["2"])]), false).is_err());
    }

    #[test]
    fn values_display_without_quotes() {
        assert_eq!(display_value("\"fifo\""), "fifo");
        assert_eq!(display_value("400"), "400");
    }
}
