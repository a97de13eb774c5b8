//! Reproducible random streams: `(seed, replication, stream name)` → generator.
//!
//! Every stochastic component (each class's arrivals, each class's service
//! demands, …) draws from its own stream, so adding a component or resizing
//! a pool never changes what another component draws: two runs that differ
//! only in pool size see the same arrivals and the same job sizes (common
//! random numbers).
//!
//! The derivation is fixed and documented so that results survive crate
//! upgrades:
//!
//! 1. `h = FNV-1a-64(stream name as UTF-8)`;
//! 2. a SplitMix64 generator is started at
//!    `seed ⊕ rotl(replication · φ64, 17) ⊕ rotl(h, 31)` where
//!    φ64 = 0x9E37_79B9_7F4A_7C15, and mixed once;
//! 3. its next four outputs, little-endian, are the 32-byte seed of a
//!    [`Xoshiro256PlusPlus`] generator (rand's `rngs::Xoshiro256PlusPlus`,
//!    covered by rand's value-stability promise). SplitMix64 never yields
//!    the all-zero state.
//!
//! `std`'s `DefaultHasher`, `StdRng` and `SmallRng` are never used: their
//! output may change between Rust or rand versions.

use rand::SeedableRng;
pub use rand::rngs::Xoshiro256PlusPlus;

/// The generator every stream uses.
pub type SimRng = Xoshiro256PlusPlus;

/// The stream for `name` in replication `replication` of a run seeded `seed`.
pub fn stream(seed: u64, replication: u32, name: &str) -> SimRng {
    let h = fnv1a64(name.as_bytes());
    let mut state = seed
        ^ (u64::from(replication).wrapping_mul(0x9E37_79B9_7F4A_7C15)).rotate_left(17)
        ^ h.rotate_left(31);
    splitmix64(&mut state);
    let mut bytes = [0u8; 32];
    for chunk in bytes.chunks_exact_mut(8) {
        chunk.copy_from_slice(&splitmix64(&mut state).to_le_bytes());
    }
    Xoshiro256PlusPlus::from_seed(bytes)
}

/// FNV-1a, 64-bit (Fowler–Noll–Vo), a fixed, version-stable string hash.
fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// SplitMix64 (Steele, Lea & Flood 2014), the standard seeder for xoshiro.
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    #[test]
    fn same_key_same_stream() {
        let mut a = stream(42, 3, "class/jobs/arrivals");
        let mut b = stream(42, 3, "class/jobs/arrivals");
        for _ in 0..100 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
    }

    #[test]
    fn stream_values_are_pinned() {
        // Golden value: changing the derivation changes every published
        // result. Update only on purpose, and say so in the changelog.
        let mut r = stream(1, 0, "class/jobs/arrivals");
        assert_eq!(r.next_u64(), GOLDEN_FIRST_DRAW);
    }
    const GOLDEN_FIRST_DRAW: u64 = 5_345_651_093_799_301_611;

    #[test]
    fn different_names_seeds_and_replications_differ() {
        let first = |s: u64, r: u32, n: &str| stream(s, r, n).next_u64();
        let base = first(1, 0, "a");
        assert_ne!(base, first(1, 0, "b"));
        assert_ne!(base, first(2, 0, "a"));
        assert_ne!(base, first(1, 1, "a"));
    }

    /// Chi-squared goodness of fit of the top 4 bits over 16 buckets:
    /// 15 degrees of freedom, critical value 37.70 at p = 0.001, so a
    /// sound generator fails this fixed-seed check with probability 0.1%.
    #[test]
    fn streams_are_uniform_by_chi_squared() {
        const CRITICAL_15_DF_P001: f64 = 37.70;
        for name in ["class/a/arrivals", "class/b/service"] {
            let mut r = stream(7, 0, name);
            let mut counts = [0u64; 16];
            let n = 160_000;
            for _ in 0..n {
                counts[(r.next_u64() >> 60) as usize] += 1;
            }
            let expected = n as f64 / 16.0;
            let chi2: f64 = counts
                .iter()
                .map(|&c| (c as f64 - expected).powi(2) / expected)
                .sum();
            assert!(chi2 < CRITICAL_15_DF_P001, "{name}: chi2 = {chi2}");
        }
    }
}
