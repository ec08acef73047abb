//! Slowing down password guessing where it comes from: too many failed sign-ins from one address within a
//! window, or for one user name from one address, earn that address a 429 until the window ends.
//!
//! Every key holds the client's address, so a guesser elsewhere never locks an account out for everyone: a
//! real integration signing in from its own address keeps working while someone guesses its password. The
//! window is short (a minute), and a user whose credentials are cached (see `auth/mod.rs`) is not checked
//! here at all.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long failures are counted, and the longest a key stays blocked.
pub const WINDOW: Duration = Duration::from_secs(60);
/// Failures for one user name from one address within the window before that pair is blocked.
pub const USER_FAILURES: u32 = 10;
/// Failures from one address within the window before it is blocked.
pub const ADDRESS_FAILURES: u32 = 30;
/// Most keys tracked; expired ones are dropped first when full.
const CAPACITY: usize = 100_000;

/// What is being throttled: always an address.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Key {
    /// One user name, from one address.
    UserAt(IpAddr, String),
    /// Every name, from one address.
    Address(IpAddr),
}

#[derive(Clone, Copy, Debug)]
struct Failures {
    count: u32,
    since: Instant,
}

/// Failed sign-in counts, by client address and by user name at an address.
#[derive(Debug, Default)]
pub struct Throttle {
    failures: Mutex<HashMap<Key, Failures>>,
}

impl Throttle {
    /// `Some(seconds to wait)` when a sign-in for `user` from `address` must be refused now.
    pub fn blocked(&self, user: &str, address: IpAddr, now: Instant) -> Option<u64> {
        let failures = self.lock();
        let wait = |key: &Key, limit: u32| {
            failures
                .get(key)
                .filter(|f| f.count >= limit && now < f.since + WINDOW)
                .map(|f| (f.since + WINDOW - now).as_secs().max(1))
        };
        let by_user = wait(&Key::UserAt(address, user.to_owned()), USER_FAILURES);
        let by_address = wait(&Key::Address(address), ADDRESS_FAILURES);
        by_user.max(by_address)
    }

    /// Records a failed sign-in.
    pub fn failed(&self, user: &str, address: IpAddr, now: Instant) {
        let mut failures = self.lock();
        if failures.len() >= CAPACITY {
            failures.retain(|_, f| now < f.since + WINDOW);
            if failures.len() >= CAPACITY {
                // A flood of distinct keys: forgetting is safer than growing without bound.
                failures.clear();
            }
        }
        let keys = [Key::UserAt(address, user.to_owned()), Key::Address(address)];
        for key in keys {
            let entry = failures.entry(key).or_insert(Failures {
                count: 0,
                since: now,
            });
            if now >= entry.since + WINDOW {
                *entry = Failures {
                    count: 0,
                    since: now,
                };
            }
            entry.count += 1;
        }
    }

    /// Forgets the failures of `user` at `address` after a successful sign-in from there (the address keeps
    /// its count).
    pub fn succeeded(&self, user: &str, address: IpAddr) {
        self.lock().remove(&Key::UserAt(address, user.to_owned()));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Failures>> {
        // Counters only: a poisoned lock leaves nothing inconsistent.
        self.failures.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HERE: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 7));
    const ELSEWHERE: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 8));

    #[test]
    fn blocks_a_user_at_an_address_for_the_rest_of_the_window_only() {
        let t = Throttle::default();
        let start = Instant::now();
        for _ in 0..USER_FAILURES {
            assert_eq!(t.blocked("admin", HERE, start), None);
            t.failed("admin", HERE, start);
        }
        assert_eq!(t.blocked("admin", HERE, start), Some(60));
        assert_eq!(t.blocked("someone-else", HERE, start), None);
        assert_eq!(
            t.blocked("admin", HERE, start + Duration::from_secs(45)),
            Some(15)
        );
        assert_eq!(
            t.blocked("admin", HERE, start + WINDOW),
            None,
            "never longer than the window"
        );
    }

    #[test]
    fn never_blocks_the_account_from_another_address() {
        let t = Throttle::default();
        let now = Instant::now();
        for _ in 0..100 {
            t.failed("agent", HERE, now);
        }
        assert!(t.blocked("agent", HERE, now).is_some());
        assert_eq!(t.blocked("agent", ELSEWHERE, now), None);
    }

    #[test]
    fn blocks_an_address_across_user_names() {
        let t = Throttle::default();
        let now = Instant::now();
        for i in 0..ADDRESS_FAILURES {
            t.failed(&format!("user{i}"), HERE, now);
        }
        assert!(t.blocked("fresh-name", HERE, now).is_some());
        assert_eq!(t.blocked("fresh-name", ELSEWHERE, now), None);
    }

    #[test]
    fn success_clears_the_user_at_that_address() {
        let t = Throttle::default();
        let now = Instant::now();
        for _ in 0..USER_FAILURES {
            t.failed("admin", HERE, now);
        }
        t.succeeded("admin", HERE);
        assert_eq!(t.blocked("admin", HERE, now), None);
    }
}
