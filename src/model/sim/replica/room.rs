//! The replicas that can take work, least loaded first: a tournament tree
//! over replica indices whose root is the replica with the fewest running
//! sequences (the lowest index among equals). A change of load costs at
//! most log₂ n comparisons and never allocates; the ordering is that of
//! the pairs (running, index).

/// Keys `running << 32 | replica` of the replicas with room, `u64::MAX`
/// for the others, as the leaves of a complete binary tree.
pub(super) struct Room {
    /// Leaves (a power of two, or 0).
    leaves: usize,
    /// `tree[1]` the root, `tree[leaves + r]` replica `r`'s leaf.
    tree: Vec<u64>,
}

const NONE: u64 = u64::MAX;

impl Room {
    pub(super) fn new() -> Self {
        Room {
            leaves: 0,
            tree: Vec::new(),
        }
    }

    /// Leaves for at least `n` replicas, keeping the keys there are.
    fn grow(&mut self, n: usize) {
        if n <= self.leaves {
            return;
        }
        let leaves = n.next_power_of_two();
        let mut tree = vec![NONE; 2 * leaves];
        tree[leaves..leaves + self.leaves].copy_from_slice(&self.tree[self.leaves..]);
        for i in (1..leaves).rev() {
            tree[i] = tree[2 * i].min(tree[2 * i + 1]);
        }
        self.leaves = leaves;
        self.tree = tree;
    }

    /// Replica `r` has room with `running` sequences (`Some`), or none.
    pub(super) fn set(&mut self, r: usize, running: Option<u32>) {
        self.grow(r + 1);
        let mut i = self.leaves + r;
        self.tree[i] = running.map_or(NONE, |k| (u64::from(k) << 32) | r as u64);
        while i > 1 {
            i /= 2;
            let m = self.tree[2 * i].min(self.tree[2 * i + 1]);
            if self.tree[i] == m {
                // Nothing above changes either.
                break;
            }
            self.tree[i] = m;
        }
    }

    /// The least loaded replica with room, if any.
    pub(super) fn first(&self) -> Option<usize> {
        let root = *self.tree.get(1)?;
        (root != NONE).then_some((root & 0xffff_ffff) as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn the_root_is_the_least_of_the_pairs_as_a_sorted_set_has_it() {
        // Random updates against the ordered set it replaced.
        let mut room = Room::new();
        let mut set: BTreeSet<(u32, u32)> = BTreeSet::new();
        let mut keys: Vec<Option<u32>> = vec![None; 300];
        let mut x: u64 = 7;
        for _ in 0..20_000 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let r = (x >> 33) as usize % 300;
            let key = (!(x >> 20).is_multiple_of(5)).then_some(((x >> 40) % 40) as u32);
            if let Some(k) = keys[r] {
                set.remove(&(k, r as u32));
            }
            if let Some(k) = key {
                set.insert((k, r as u32));
            }
            keys[r] = key;
            room.set(r, key);
            assert_eq!(room.first(), set.first().map(|&(_, r)| r as usize));
        }
        assert_eq!(Room::new().first(), None);
    }
}
