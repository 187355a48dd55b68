//! Repository locks.
//!
//! Backups take a shared lock: they only add files with fresh names, so any
//! number may run at once. `forget` and `prune` delete files and take an
//! exclusive lock. A lock is a small plain file in `locks/`; taking one means
//! writing it, then listing the others and backing off (deleting our own) on
//! a conflict, so two racing takers can both fail but never both succeed.
//! A holder rewrites its lock every few minutes; a lock not refreshed for
//! [`STALE_AFTER_SECS`], or held by a dead process on this host, is ignored.

use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Result, VaultError};
use crate::id::Id;
use crate::repo::Repository;

/// A lock older than this (seconds since its last refresh) is stale.
pub const STALE_AFTER_SECS: i64 = 30 * 60;
const REFRESH_EVERY: Duration = Duration::from_secs(5 * 60);

/// The stored form of `locks/<id>`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LockFile {
    /// Exclusive or shared.
    pub exclusive: bool,
    /// The holder's host.
    pub hostname: String,
    /// The holder's process id.
    pub pid: u32,
    /// What the holder is doing.
    pub operation: String,
    /// Last refresh, Unix seconds.
    pub time: i64,
}

impl LockFile {
    fn is_stale(&self, now: i64, host: &str) -> bool {
        if now - self.time > STALE_AFTER_SECS {
            return true;
        }
        // On our own host a lock of a process that no longer exists is stale
        // at once: this is what lets the next backup run right after a kill -9.
        self.hostname == host
            && std::path::Path::new("/proc/self").exists()
            && !std::path::Path::new(&format!("/proc/{}", self.pid)).exists()
    }

    fn describe(&self) -> String {
        format!(
            "{} ({}lock of pid {} on {}, refreshed {})",
            self.operation,
            if self.exclusive { "exclusive " } else { "" },
            self.pid,
            self.hostname,
            chrono::DateTime::from_timestamp(self.time, 0)
                .map(|t| t.to_rfc3339())
                .unwrap_or_default()
        )
    }
}

/// This machine's name.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

/// A held lock; dropping it releases it.
pub struct LockGuard<'r> {
    repo: &'r Repository,
    key: String,
    stop: Option<mpsc::Sender<()>>,
    refresher: Option<JoinHandle<()>>,
}

impl Drop for LockGuard<'_> {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.refresher.take() {
            let _ = t.join();
        }
        let _ = self.repo.backend().delete(&self.key);
    }
}

/// Takes a lock, or fails with [`VaultError::Locked`] naming the holder.
pub fn acquire<'r>(
    repo: &'r Repository,
    exclusive: bool,
    operation: &str,
) -> Result<LockGuard<'r>> {
    let host = hostname();
    let mine = LockFile {
        exclusive,
        hostname: host.clone(),
        pid: std::process::id(),
        operation: operation.to_string(),
        time: chrono::Utc::now().timestamp(),
    };
    let key = format!("locks/{}", Id::random().to_hex());
    let json = serde_json::to_vec(&mine).map_err(|e| VaultError::invalid("lock", e))?;
    repo.backend().put(&key, &json)?;
    let guard_without_refresher = LockGuard {
        repo,
        key: key.clone(),
        stop: None,
        refresher: None,
    };
    let now = chrono::Utc::now().timestamp();
    for listed in repo.backend().list("locks/")? {
        if listed.key == key {
            continue;
        }
        let other: LockFile = match repo.backend().get(&listed.key) {
            Ok(raw) => match serde_json::from_slice(&raw) {
                Ok(l) => l,
                // An unreadable lock protects nothing; ignore it.
                Err(_) => continue,
            },
            Err(VaultError::Missing(_)) => continue,
            Err(e) => return Err(e),
        };
        if other.is_stale(now, &host) {
            if exclusive {
                let _ = repo.backend().delete(&listed.key);
            }
            continue;
        }
        if exclusive || other.exclusive {
            // Dropping the guard deletes our lock file.
            drop(guard_without_refresher);
            return Err(VaultError::Locked(format!(
                "{} at {}",
                other.describe(),
                repo.backend().location()
            )));
        }
    }
    let mut guard = guard_without_refresher;
    let (stop_tx, stop_rx) = mpsc::channel::<()>();
    let backend_key = key;
    let refresher = {
        let mut lock = mine;
        let repo_loc = repo.backend().location();
        let backend = repo.backend_arc();
        std::thread::spawn(move || {
            while let Err(mpsc::RecvTimeoutError::Timeout) = stop_rx.recv_timeout(REFRESH_EVERY) {
                lock.time = chrono::Utc::now().timestamp();
                if let Ok(json) = serde_json::to_vec(&lock) {
                    if backend.put(&backend_key, &json).is_err() {
                        eprintln!("halley-vault: could not refresh lock in {repo_loc}");
                    }
                }
            }
        })
    };
    guard.stop = Some(stop_tx);
    guard.refresher = Some(refresher);
    Ok(guard)
}

/// What [`remove_locks`] did.
#[derive(Debug, Clone, Default)]
pub struct Unlocked {
    /// The locks deleted, described.
    pub removed: Vec<String>,
    /// Live locks left in place (without `even_live`), described.
    pub kept: Vec<String>,
}

/// Deletes the vault's stale locks (and unreadable lock files), or every
/// lock with `even_live`: the one way out when a holder died on another
/// machine and its lock would otherwise stand for [`STALE_AFTER_SECS`].
/// Deleting a live holder's lock is unsafe: a prune may then run beside
/// the backup that holds it.
pub fn remove_locks(repo: &Repository, even_live: bool) -> Result<Unlocked> {
    let host = hostname();
    let now = chrono::Utc::now().timestamp();
    let mut outcome = Unlocked::default();
    for listed in repo.backend().list("locks/")? {
        let lock: Option<LockFile> = match repo.backend().get(&listed.key) {
            Ok(raw) => serde_json::from_slice(&raw).ok(),
            Err(VaultError::Missing(_)) => continue,
            Err(e) => return Err(e),
        };
        let described = lock
            .as_ref()
            .map(LockFile::describe)
            .unwrap_or_else(|| format!("unreadable lock file {}", listed.key));
        let stale = lock.as_ref().is_none_or(|l| l.is_stale(now, &host));
        if stale || even_live {
            match repo.backend().delete(&listed.key) {
                Ok(()) | Err(VaultError::Missing(_)) => outcome.removed.push(described),
                Err(e) => return Err(e),
            }
        } else {
            outcome.kept.push(described);
        }
    }
    Ok(outcome)
}
