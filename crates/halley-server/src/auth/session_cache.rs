//! Resolved sessions, remembered for a moment so that a session-key call
//! costs no database read. An entry is good for at most [`LIFETIME`] and only
//! while nothing that could end a session happened since it was read: every
//! revocation on this node ([`SessionCache::revoke`]: a session ended, an
//! account saved, suspended or deleted) and every configuration change
//! (administrators, tenants) makes all entries stale at once.
//!
//! With several nodes sharing one database, a revocation on another node
//! reaches this one when the entry's lifetime ends, so [`LIFETIME`] is the
//! longest a session ended elsewhere may still answer here. It stays short.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::store::SessionRecord;

/// The longest an entry is trusted (shorter when sessions expire faster).
pub const LIFETIME: Duration = Duration::from_secs(2);

/// Bound on entries; the cache starts over when full.
const ENTRY_LIMIT: usize = 100_000;

struct Entry {
    session: SessionRecord,
    epoch: u64,
    config_generation: u64,
    until: Instant,
}

pub struct SessionCache {
    entries: RwLock<HashMap<String, Entry>>,
    /// Counts revocations; websockets watch it to check their caller again.
    epoch: watch::Sender<u64>,
}

impl Default for SessionCache {
    fn default() -> Self {
        SessionCache {
            entries: RwLock::default(),
            epoch: watch::Sender::new(0),
        }
    }
}

impl SessionCache {
    pub fn epoch(&self) -> u64 {
        *self.epoch.borrow()
    }

    pub fn watch(&self) -> watch::Receiver<u64> {
        self.epoch.subscribe()
    }

    /// The session behind `key_hash` if an entry is still good.
    pub fn get(&self, key_hash: &str, config_generation: u64) -> Option<SessionRecord> {
        let epoch = self.epoch();
        let entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
        let entry = entries.get(key_hash)?;
        (entry.epoch == epoch
            && entry.config_generation == config_generation
            && Instant::now() < entry.until)
            .then(|| entry.session.clone())
    }

    /// Remembers a session read when the epoch and the configuration were
    /// as given (read before the lookup, so a revocation during it wins).
    pub fn put(
        &self,
        session: SessionRecord,
        epoch: u64,
        config_generation: u64,
        lifetime: Duration,
    ) {
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= ENTRY_LIMIT {
            entries.clear();
        }
        entries.insert(
            session.key_hash.clone(),
            Entry {
                session,
                epoch,
                config_generation,
                until: Instant::now() + lifetime.min(LIFETIME),
            },
        );
    }

    /// Something that may end sessions happened: forget every entry.
    pub fn revoke(&self) {
        self.epoch.send_modify(|epoch| *epoch += 1);
        self.entries
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SessionKind;

    fn session() -> SessionRecord {
        SessionRecord {
            key_hash: "k".into(),
            kind: SessionKind::User,
            username: "alice".into(),
            organization_id: String::new(),
            created_at: 0,
            last_used_at: 0,
        }
    }

    #[test]
    fn a_revocation_or_a_configuration_change_makes_entries_stale() {
        let cache = SessionCache::default();
        cache.put(session(), cache.epoch(), 7, LIFETIME);
        assert!(cache.get("k", 7).is_some());
        assert!(cache.get("k", 8).is_none());
        cache.revoke();
        assert!(cache.get("k", 7).is_none());
        // Read before the revocation: never trusted after it.
        cache.put(session(), 0, 7, LIFETIME);
        assert!(cache.get("k", 7).is_none());
    }
}
