//! Scenario sweeps: grid expansion, the parallel runner, shards and merge.
//!
//! A sweep is a list of *points* (one value per swept path) × the
//! scenario's replications. Every (point, replication) pair is a *work
//! item*, numbered point-major. Shard K of N runs the items whose number
//! is ≡ K − 1 (mod N), so shards are deterministic, balanced, and any
//! scheduler can run them; `surge merge` joins their rows back in item
//! order, and `sweep.csv` is always computed from the merged `summary.csv`
//! text, so a merged sweep is byte-identical to an unsharded one.
//!
//! Common random numbers: every point uses the same seed, so replication r
//! sees the same arrivals and job sizes at every point.

mod grid;
mod summary;

pub use grid::{Grid, expand};
pub use summary::sweep_table;

use std::fmt;

/// Which part of a sweep to run: shard `index` (1-based) of `count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// 1-based shard number.
    pub index: u32,
    /// Number of shards.
    pub count: u32,
}

impl Shard {
    /// The whole sweep.
    pub const ALL: Shard = Shard { index: 1, count: 1 };

    /// Parse `K/N` with 1 ≤ K ≤ N.
    pub fn parse(s: &str) -> Result<Shard, String> {
        let (k, n) = s
            .split_once('/')
            .ok_or_else(|| format!("expected K/N (e.g. 2/8), found {s:?}"))?;
        let (k, n): (u32, u32) = match (k.trim().parse(), n.trim().parse()) {
            (Ok(k), Ok(n)) => (k, n),
            _ => {
                return Err(format!(
                    "expected K/N with whole numbers (e.g. 2/8), found {s:?}"
                ));
            }
        };
        if n == 0 || k == 0 || k > n {
            return Err(format!(
                "expected 1 ≤ K ≤ N in K/N, found {s:?} (shards are numbered from 1)"
            ));
        }
        Ok(Shard { index: k, count: n })
    }

    /// Whether work item `item` belongs to this shard.
    pub fn owns(&self, item: usize) -> bool {
        item % self.count as usize == (self.index - 1) as usize
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl std::str::FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Shard::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_partition_the_items() {
        let shards: Vec<Shard> = (1..=3).map(|k| Shard { index: k, count: 3 }).collect();
        for item in 0..20 {
            assert_eq!(shards.iter().filter(|s| s.owns(item)).count(), 1);
        }
        assert!(Shard::ALL.owns(7));
    }

    #[test]
    fn shard_syntax_is_checked() {
        assert_eq!(Shard::parse("2/8"), Ok(Shard { index: 2, count: 8 }));
        assert!(Shard::parse("0/8").is_err());
        assert!(Shard::parse("9/8").is_err());
        assert!(Shard::parse("2").is_err());
        assert!(Shard::parse("a/b").is_err());
    }
}
