//! Password guessing protection: after [`FAILURE_LIMIT`] wrong passwords for
//! one email within [`WINDOW`], further password logins for that email are
//! refused for the rest of the window without checking the password. The
//! refusal is the ordinary 403 `Invalid credentials` (the API guide's tables have no
//! other row for it), so it tells a guesser nothing. API tokens are not
//! affected, which keeps automation running while someone hammers the
//! password. In memory: a restart forgets the counts.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const FAILURE_LIMIT: u32 = 10;
pub const WINDOW: Duration = Duration::from_secs(300);
/// Bound on tracked emails; the oldest windows are dropped first when full.
const TRACKED_LIMIT: usize = 100_000;

#[derive(Default)]
pub struct LoginThrottle {
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

impl LoginThrottle {
    /// Whether a password login for `email` may be checked now.
    pub fn allows(&self, email: &str) -> bool {
        let Ok(failures) = self.failures.lock() else {
            return true;
        };
        match failures.get(&email.to_lowercase()) {
            Some((count, since)) => *count < FAILURE_LIMIT || since.elapsed() >= WINDOW,
            None => true,
        }
    }

    pub fn record_failure(&self, email: &str) {
        let Ok(mut failures) = self.failures.lock() else {
            return;
        };
        if failures.len() >= TRACKED_LIMIT {
            failures.retain(|_, (_, since)| since.elapsed() < WINDOW);
        }
        let entry = failures
            .entry(email.to_lowercase())
            .or_insert((0, Instant::now()));
        if entry.1.elapsed() >= WINDOW {
            *entry = (0, Instant::now());
        }
        entry.0 += 1;
    }

    pub fn record_success(&self, email: &str) {
        if let Ok(mut failures) = self.failures.lock() {
            failures.remove(&email.to_lowercase());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_after_the_limit_and_success_resets() {
        let throttle = LoginThrottle::default();
        for _ in 0..FAILURE_LIMIT - 1 {
            throttle.record_failure("A@example.com");
        }
        assert!(throttle.allows("a@example.com"));
        throttle.record_success("a@example.com");
        for _ in 0..FAILURE_LIMIT {
            throttle.record_failure("a@example.com");
        }
        assert!(!throttle.allows("A@EXAMPLE.COM"));
        assert!(throttle.allows("b@example.com"));
    }
}
