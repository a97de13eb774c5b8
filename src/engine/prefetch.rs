//! A hint to the CPU that a value will be read soon.
//!
//! The simulation knows its next events before it runs them: the request
//! or user each one touches can be fetched from memory while the current
//! event is handled, instead of stalling on it afterwards.

/// Ask the CPU to bring `value` into its caches. A no-op off x86-64.
#[inline(always)]
pub fn prefetch<T>(value: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is only a hint: it reads nothing into the program,
    // writes nothing and cannot fault; SSE is part of x86-64's baseline.
    unsafe {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        _mm_prefetch::<_MM_HINT_T0>((value as *const T).cast::<i8>());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = value;
}
