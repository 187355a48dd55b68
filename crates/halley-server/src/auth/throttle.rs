//! Login protection: after `FailureThreshold` failures for one account or from
//! one address, further attempts are refused for `CooldownSeconds`
//! (`LoginProtection` in `cometd.cfg`).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use halley_api::types::LoginProtectionOptions;

#[derive(Default)]
pub struct Throttle {
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

impl Throttle {
    /// `Err(seconds)` when any key is locked out, with the time left.
    pub fn check(&self, keys: &[String], options: &LoginProtectionOptions) -> Result<(), u64> {
        if !options.enabled || options.failure_threshold <= 0 {
            return Ok(());
        }
        let cooldown = Duration::from_secs(options.cooldown_seconds.max(0) as u64);
        let failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        for key in keys {
            if let Some((count, last)) = failures.get(key) {
                let elapsed = last.elapsed();
                if i64::from(*count) >= options.failure_threshold && elapsed < cooldown {
                    return Err((cooldown - elapsed).as_secs().max(1));
                }
            }
        }
        Ok(())
    }

    pub fn record_failure(&self, keys: &[String], options: &LoginProtectionOptions) {
        let cooldown = Duration::from_secs(options.cooldown_seconds.max(0) as u64);
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if failures.len() > 100_000 {
            failures.retain(|_, (_, last)| last.elapsed() < cooldown);
        }
        for key in keys {
            let entry = failures.entry(key.clone()).or_insert((0, Instant::now()));
            if entry.1.elapsed() >= cooldown {
                entry.0 = 0;
            }
            entry.0 += 1;
            entry.1 = Instant::now();
        }
    }

    pub fn record_success(&self, key: &str) {
        self.failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_after_threshold_and_success_clears_account() {
        let options = LoginProtectionOptions {
            enabled: true,
            failure_threshold: 2,
            cooldown_seconds: 60,
            ..Default::default()
        };
        let throttle = Throttle::default();
        let keys = vec!["account:a".to_string()];
        throttle.record_failure(&keys, &options);
        assert!(throttle.check(&keys, &options).is_ok());
        throttle.record_failure(&keys, &options);
        assert!(throttle.check(&keys, &options).is_err());
        throttle.record_success("account:a");
        assert!(throttle.check(&keys, &options).is_ok());
    }
}
