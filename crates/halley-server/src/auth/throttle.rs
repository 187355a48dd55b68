//! Login protection (`LoginProtection` in `cometd.cfg`). Failures are counted
//! per (account, address) pair: after `FailureThreshold` of them that pair is
//! refused for `CooldownSeconds`, while the same account from any other
//! address still signs in, so no one can lock an account for everybody.
//! Each address also has a budget over all accounts, `FailureThreshold` x
//! [`ADDRESS_BUDGET_FACTOR`] failures, so spraying many names from one place
//! is throttled too. A success clears its pair, never the address budget.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use halley_api::types::LoginProtectionOptions;

/// How many times an account's threshold one address may fail in all.
pub const ADDRESS_BUDGET_FACTOR: i64 = 10;

/// Bound on tracked keys; past it, entries whose cooldown ended are dropped.
const TRACKED_KEYS_LIMIT: usize = 100_000;

#[derive(Default)]
pub struct Throttle {
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

fn pair_key(account: &str, address: &str) -> String {
    format!("pair\u{0}{account}\u{0}{address}")
}

fn address_key(address: &str) -> String {
    format!("address\u{0}{address}")
}

impl Throttle {
    /// `Err(seconds)` when the pair or the address is locked out, with the
    /// time left.
    pub fn check(
        &self,
        account: &str,
        address: &str,
        options: &LoginProtectionOptions,
    ) -> Result<(), u64> {
        if !options.enabled || options.failure_threshold <= 0 {
            return Ok(());
        }
        let cooldown = Duration::from_secs(options.cooldown_seconds.max(0) as u64);
        let threshold = options.failure_threshold;
        let limits = [
            (pair_key(account, address), threshold),
            (
                address_key(address),
                threshold.saturating_mul(ADDRESS_BUDGET_FACTOR),
            ),
        ];
        let failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        for (key, limit) in limits {
            if let Some((count, last)) = failures.get(&key) {
                let elapsed = last.elapsed();
                if i64::from(*count) >= limit && elapsed < cooldown {
                    return Err((cooldown - elapsed).as_secs().max(1));
                }
            }
        }
        Ok(())
    }

    pub fn record_failure(&self, account: &str, address: &str, options: &LoginProtectionOptions) {
        let cooldown = Duration::from_secs(options.cooldown_seconds.max(0) as u64);
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if failures.len() > TRACKED_KEYS_LIMIT {
            failures.retain(|_, (_, last)| last.elapsed() < cooldown);
        }
        for key in [pair_key(account, address), address_key(address)] {
            let entry = failures.entry(key).or_insert((0, Instant::now()));
            if entry.1.elapsed() >= cooldown {
                entry.0 = 0;
            }
            entry.0 = entry.0.saturating_add(1);
            entry.1 = Instant::now();
        }
    }

    pub fn record_success(&self, account: &str, address: &str) {
        self.failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&pair_key(account, address));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(threshold: i64) -> LoginProtectionOptions {
        LoginProtectionOptions {
            enabled: true,
            failure_threshold: threshold,
            cooldown_seconds: 60,
            ..Default::default()
        }
    }

    #[test]
    fn a_pair_locks_after_threshold_and_other_addresses_stay_open() {
        let options = options(2);
        let throttle = Throttle::default();
        throttle.record_failure("user:a", "10.0.0.1", &options);
        assert!(throttle.check("user:a", "10.0.0.1", &options).is_ok());
        throttle.record_failure("user:a", "10.0.0.1", &options);
        assert!(throttle.check("user:a", "10.0.0.1", &options).is_err());
        assert!(throttle.check("user:a", "10.0.0.2", &options).is_ok());
        assert!(throttle.check("user:b", "10.0.0.1", &options).is_ok());
        throttle.record_success("user:a", "10.0.0.1");
        assert!(throttle.check("user:a", "10.0.0.1", &options).is_ok());
    }

    #[test]
    fn an_address_spraying_many_accounts_runs_out_of_budget() {
        let options = options(2);
        let throttle = Throttle::default();
        for n in 0..2 * ADDRESS_BUDGET_FACTOR {
            assert!(throttle
                .check(&format!("user:{n}"), "10.0.0.1", &options)
                .is_ok());
            throttle.record_failure(&format!("user:{n}"), "10.0.0.1", &options);
        }
        assert!(throttle.check("user:new", "10.0.0.1", &options).is_err());
        assert!(throttle.check("user:new", "10.0.0.2", &options).is_ok());
    }
}
