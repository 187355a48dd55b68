//! Login protection (`LoginProtection` in `cometd.cfg`). Failures are counted
//! per (account, address) pair: after `FailureThreshold` of them that pair is
//! refused for `CooldownSeconds`, while the same account from any other
//! address still signs in, so no one can lock an account for everybody.
//! Each address also has a budget over all accounts, `FailureThreshold` x
//! [`ADDRESS_BUDGET_FACTOR`] failures, so spraying many names from one place
//! is throttled too. A success clears its pair, never the address budget.
//!
//! In a cluster the counts live in the database (as hashes of the keys), so
//! failures on any mix of nodes add up.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use halley_api::types::LoginProtectionOptions;

use crate::store::cluster::Cluster;

/// How many times an account's threshold one address may fail in all.
pub const ADDRESS_BUDGET_FACTOR: i64 = 10;

/// Bound on tracked keys; past it, entries whose cooldown ended are dropped.
const TRACKED_KEYS_LIMIT: usize = 100_000;

#[derive(Default)]
pub struct Throttle {
    failures: Mutex<HashMap<String, (u32, Instant)>>,
    cluster: Option<Arc<Cluster>>,
}

fn pair_key(account: &str, address: &str) -> String {
    format!("pair\u{0}{account}\u{0}{address}")
}

fn address_key(address: &str) -> String {
    format!("address\u{0}{address}")
}

/// The keys a sign-in is counted under, with their limits.
fn limits(account: &str, address: &str, options: &LoginProtectionOptions) -> [(String, i64); 2] {
    let threshold = options.failure_threshold;
    [
        (pair_key(account, address), threshold),
        (
            address_key(address),
            threshold.saturating_mul(ADDRESS_BUDGET_FACTOR),
        ),
    ]
}

/// A key as the database holds it: no addresses or names, and no NUL.
fn stored_key(key: &str) -> String {
    blake3::hash(key.as_bytes()).to_hex().to_string()
}

fn cooldown_of(options: &LoginProtectionOptions) -> Duration {
    Duration::from_secs(options.cooldown_seconds.max(0) as u64)
}

impl Throttle {
    /// Counts kept in the cluster's database.
    pub fn shared(cluster: Arc<Cluster>) -> Self {
        Throttle {
            failures: Default::default(),
            cluster: Some(cluster),
        }
    }

    /// `Err(seconds)` when the pair or the address is locked out, with the
    /// time left.
    pub async fn check(
        &self,
        account: &str,
        address: &str,
        options: &LoginProtectionOptions,
    ) -> Result<(), u64> {
        if !options.enabled || options.failure_threshold <= 0 {
            return Ok(());
        }
        let cooldown = cooldown_of(options);
        let limits = limits(account, address, options);
        let Some(cluster) = &self.cluster else {
            return self.check_here(&limits, cooldown);
        };
        let keys: Vec<String> = limits.iter().map(|(key, _)| stored_key(key)).collect();
        let counted = match cluster.failures(&keys, cooldown).await {
            Ok(counted) => counted,
            Err(why) => {
                tracing::warn!("reading failed sign-ins: {why}");
                return Ok(());
            }
        };
        for ((_, limit), key) in limits.iter().zip(&keys) {
            if let Some((_, count, ago_ms)) = counted.iter().find(|(k, _, _)| k == key) {
                if count >= limit {
                    let ago = Duration::from_millis((*ago_ms).max(0) as u64);
                    return Err(cooldown.saturating_sub(ago).as_secs().max(1));
                }
            }
        }
        Ok(())
    }

    fn check_here(&self, limits: &[(String, i64); 2], cooldown: Duration) -> Result<(), u64> {
        let failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        for (key, limit) in limits {
            if let Some((count, last)) = failures.get(key) {
                let elapsed = last.elapsed();
                if i64::from(*count) >= *limit && elapsed < cooldown {
                    return Err((cooldown - elapsed).as_secs().max(1));
                }
            }
        }
        Ok(())
    }

    pub async fn record_failure(
        &self,
        account: &str,
        address: &str,
        options: &LoginProtectionOptions,
    ) {
        let cooldown = cooldown_of(options);
        if let Some(cluster) = &self.cluster {
            let keys = [pair_key(account, address), address_key(address)].map(|k| stored_key(&k));
            if let Err(why) = cluster.failure_add(&keys, cooldown).await {
                tracing::warn!("counting a failed sign-in: {why}");
            }
            return;
        }
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

    pub async fn record_success(&self, account: &str, address: &str) {
        if let Some(cluster) = &self.cluster {
            let key = stored_key(&pair_key(account, address));
            if let Err(why) = cluster.failure_clear(&key).await {
                tracing::warn!("clearing failed sign-ins: {why}");
            }
            return;
        }
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

    #[tokio::test]
    async fn a_pair_locks_after_threshold_and_other_addresses_stay_open() {
        let options = options(2);
        let throttle = Throttle::default();
        throttle
            .record_failure("user:a", "10.0.0.1", &options)
            .await;
        assert!(throttle.check("user:a", "10.0.0.1", &options).await.is_ok());
        throttle
            .record_failure("user:a", "10.0.0.1", &options)
            .await;
        assert!(throttle
            .check("user:a", "10.0.0.1", &options)
            .await
            .is_err());
        assert!(throttle.check("user:a", "10.0.0.2", &options).await.is_ok());
        assert!(throttle.check("user:b", "10.0.0.1", &options).await.is_ok());
        throttle.record_success("user:a", "10.0.0.1").await;
        assert!(throttle.check("user:a", "10.0.0.1", &options).await.is_ok());
    }

    #[tokio::test]
    async fn an_address_spraying_many_accounts_runs_out_of_budget() {
        let options = options(2);
        let throttle = Throttle::default();
        for n in 0..2 * ADDRESS_BUDGET_FACTOR {
            assert!(throttle
                .check(&format!("user:{n}"), "10.0.0.1", &options)
                .await
                .is_ok());
            throttle
                .record_failure(&format!("user:{n}"), "10.0.0.1", &options)
                .await;
        }
        assert!(throttle
            .check("user:new", "10.0.0.1", &options)
            .await
            .is_err());
        assert!(throttle
            .check("user:new", "10.0.0.2", &options)
            .await
            .is_ok());
    }
}
