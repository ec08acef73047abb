//! A deterministic [`Environment`] for the suite: two services given the same requests through two
//! `TestEnvironment`s end in the same state, so a store can be compared with the reference field by field.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use crate::datetime::DateTime;
use crate::service::Environment;
use crate::sys_id::SysId;

/// `2024-11-04 21:45:00` UTC, the reference example's start time: where every test clock starts.
pub const CLOCK_START: i64 = 1_730_756_700;

/// Counter-based sys_ids and a clock that steps one second per reading.
///
/// The n-th sys_id is a bijective scramble of n followed by n itself, so ids are distinct and reproducible
/// but **not** increasing: a store that returns phone logs in sys_id order instead of creation order fails.
/// Safe to share between tasks.
///
/// ```
/// use openframe_core::Environment;
/// use openframe_core::conformance::TestEnvironment;
///
/// let (a, b) = (TestEnvironment::new(), TestEnvironment::new());
/// assert_eq!(a.new_sys_id(), b.new_sys_id());
/// assert_eq!(a.now().to_string(), "2024-11-04 21:45:00");
/// assert_eq!(a.now().to_string(), "2024-11-04 21:45:01");
/// ```
#[derive(Debug)]
pub struct TestEnvironment {
    next_id: AtomicU64,
    clock: AtomicI64,
}

impl TestEnvironment {
    /// An environment whose first sys_id is number 1 and whose clock reads [`CLOCK_START`] first.
    pub fn new() -> Self {
        TestEnvironment {
            next_id: AtomicU64::new(1),
            clock: AtomicI64::new(CLOCK_START),
        }
    }
}

impl Default for TestEnvironment {
    fn default() -> Self {
        Self::new()
    }
}

impl Environment for TestEnvironment {
    fn now(&self) -> DateTime {
        DateTime::from_unix(self.clock.fetch_add(1, Ordering::SeqCst))
    }

    fn new_sys_id(&self) -> SysId {
        let n = self.next_id.fetch_add(1, Ordering::SeqCst);
        let text = format!("{:016x}{n:016x}", scramble(n));
        // 32 lowercase hex digits by construction.
        SysId::parse(&text).unwrap_or_else(|rule| panic!("test sys_id {text}: {rule}"))
    }
}

/// The SplitMix64 finalizer: a bijection on `u64` that scatters consecutive inputs.
fn scramble(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_distinct_and_not_sorted() {
        let env = TestEnvironment::new();
        let ids: Vec<SysId> = (0..20).map(|_| env.new_sys_id()).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), ids.len());
        assert_ne!(sorted, ids);
    }
}
