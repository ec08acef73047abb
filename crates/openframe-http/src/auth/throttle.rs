//! Slowing down password guessing: too many failed sign-ins for one user name, or from one address, within a
//! window earn a 429 until the window ends.
//!
//! The window is short (a minute), so an attacker can keep a real user out for at most that long, and a real
//! user whose credentials are cached (see `auth.rs`) is never checked here at all.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long failures are counted, and the longest a key stays blocked.
pub const WINDOW: Duration = Duration::from_secs(60);
/// Failures for one user name within the window before it is blocked.
pub const USER_FAILURES: u32 = 10;
/// Failures from one address within the window before it is blocked.
pub const ADDRESS_FAILURES: u32 = 30;
/// Most keys tracked; expired ones are dropped first when full.
const CAPACITY: usize = 100_000;

/// What is being throttled.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Key {
    User(String),
    Address(IpAddr),
}

#[derive(Clone, Copy, Debug)]
struct Failures {
    count: u32,
    since: Instant,
}

/// Failed sign-in counts, by user name and by client address.
#[derive(Debug, Default)]
pub struct Throttle {
    failures: Mutex<HashMap<Key, Failures>>,
}

impl Throttle {
    /// `Some(seconds to wait)` when a sign-in for `user` from `address` must be refused now.
    pub fn blocked(&self, user: &str, address: Option<IpAddr>, now: Instant) -> Option<u64> {
        let failures = self.lock();
        let wait = |key: &Key, limit: u32| {
            failures
                .get(key)
                .filter(|f| f.count >= limit && now < f.since + WINDOW)
                .map(|f| (f.since + WINDOW - now).as_secs().max(1))
        };
        let by_user = wait(&Key::User(user.to_owned()), USER_FAILURES);
        let by_address = address.and_then(|a| wait(&Key::Address(a), ADDRESS_FAILURES));
        by_user.max(by_address)
    }

    /// Records a failed sign-in.
    pub fn failed(&self, user: &str, address: Option<IpAddr>, now: Instant) {
        let mut failures = self.lock();
        if failures.len() >= CAPACITY {
            failures.retain(|_, f| now < f.since + WINDOW);
            if failures.len() >= CAPACITY {
                // A flood of distinct keys: forgetting is safer than growing without bound.
                failures.clear();
            }
        }
        let keys = std::iter::once(Key::User(user.to_owned())).chain(address.map(Key::Address));
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

    /// Forgets the failures of `user` after a successful sign-in (the address keeps its count).
    pub fn succeeded(&self, user: &str) {
        self.lock().remove(&Key::User(user.to_owned()));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Failures>> {
        // Counters only: a poisoned lock leaves nothing inconsistent.
        self.failures.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_a_user_for_the_rest_of_the_window_only() {
        let t = Throttle::default();
        let start = Instant::now();
        for _ in 0..USER_FAILURES {
            assert_eq!(t.blocked("admin", None, start), None);
            t.failed("admin", None, start);
        }
        assert_eq!(t.blocked("admin", None, start), Some(60));
        assert_eq!(t.blocked("someone-else", None, start), None);
        assert_eq!(
            t.blocked("admin", None, start + Duration::from_secs(45)),
            Some(15)
        );
        assert_eq!(
            t.blocked("admin", None, start + WINDOW),
            None,
            "never longer than the window"
        );
    }

    #[test]
    fn blocks_an_address_across_user_names() {
        let t = Throttle::default();
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        let now = Instant::now();
        for i in 0..ADDRESS_FAILURES {
            t.failed(&format!("user{i}"), Some(ip), now);
        }
        assert!(t.blocked("fresh-name", Some(ip), now).is_some());
        assert_eq!(
            t.blocked("fresh-name", Some("192.0.2.8".parse().unwrap()), now),
            None
        );
    }

    #[test]
    fn success_clears_the_user() {
        let t = Throttle::default();
        let now = Instant::now();
        for _ in 0..USER_FAILURES {
            t.failed("admin", None, now);
        }
        t.succeeded("admin");
        assert_eq!(t.blocked("admin", None, now), None);
    }
}
