//! Password hashing (argon2id) and a cache of recently verified credentials.
//!
//! Comet clients send the password with every API call, and argon2id is
//! deliberately slow, so a successful verification is remembered as a keyed
//! digest of (account, stored hash, password). The key lives only in memory, so
//! the cache holds nothing that helps an attacker, and a changed password
//! changes the stored hash, which retires the old entry by itself.

use std::collections::HashSet;
use std::sync::Mutex;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use halley_api::constants::PASSWORD_FORMAT_PLAINTEXT;
use subtle::ConstantTimeEq;

/// Our `PasswordFormat` value: the hash is an argon2id PHC string. Comet's own
/// non-plaintext formats are private; this value is Halley's.
pub const PASSWORD_FORMAT_ARGON2ID: i64 = 80;

/// Bound on remembered verifications; the cache starts over when full.
const VERIFIED_CACHE_LIMIT: usize = 50_000;

pub fn hash_password(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .unwrap_or_default()
}

/// Checks `password` against a stored `(format, hash)`. Plaintext (format 0, as
/// typed into `cometd.cfg` by hand) is compared in constant time.
pub fn verify_password(format: i64, stored: &str, password: &str) -> bool {
    if format == PASSWORD_FORMAT_PLAINTEXT {
        return !stored.is_empty() && bool::from(stored.as_bytes().ct_eq(password.as_bytes()));
    }
    if format != PASSWORD_FORMAT_ARGON2ID {
        return false;
    }
    match PasswordHash::new(stored) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// A hash no password matches in practice, to spend the time of one
/// verification, so that an unknown account answers no faster than a known
/// one with a wrong password.
pub fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_password("halley-dummy-password"))
}

pub struct VerifiedCache {
    key: [u8; 32],
    entries: Mutex<HashSet<[u8; 32]>>,
}

impl Default for VerifiedCache {
    fn default() -> Self {
        let mut key = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut key);
        VerifiedCache {
            key,
            entries: Mutex::new(HashSet::new()),
        }
    }
}

impl VerifiedCache {
    fn digest(&self, account: &str, stored: &str, password: &str) -> [u8; 32] {
        let mut hasher = blake3::Hasher::new_keyed(&self.key);
        for part in [account, stored, password] {
            hasher.update(&(part.len() as u64).to_le_bytes());
            hasher.update(part.as_bytes());
        }
        *hasher.finalize().as_bytes()
    }

    /// Whether this password was verified against this stored hash before.
    pub fn knows(&self, account: &str, stored: &str, password: &str) -> bool {
        let digest = self.digest(account, stored, password);
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&digest)
    }

    /// Remembers a successful verification.
    pub fn remember(&self, account: &str, stored: &str, password: &str) {
        let digest = self.digest(account, stored, password);
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= VERIFIED_CACHE_LIMIT {
            entries.clear();
        }
        entries.insert(digest);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argon2_hash_verifies_only_the_right_password() {
        let hash = hash_password("correct horse");
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password(
            PASSWORD_FORMAT_ARGON2ID,
            &hash,
            "correct horse"
        ));
        assert!(!verify_password(
            PASSWORD_FORMAT_ARGON2ID,
            &hash,
            "wrong horse"
        ));
    }

    #[test]
    fn plaintext_format_compares_exactly() {
        assert!(verify_password(0, "admin", "admin"));
        assert!(!verify_password(0, "admin", "admin "));
        assert!(!verify_password(0, "", ""));
    }

    #[test]
    fn cache_knows_only_what_it_was_told() {
        let cache = VerifiedCache::default();
        let hash = hash_password("s3cret-pass");
        assert!(!cache.knows("a", &hash, "s3cret-pass"));
        cache.remember("a", &hash, "s3cret-pass");
        assert!(cache.knows("a", &hash, "s3cret-pass"));
        assert!(!cache.knows("a", &hash, "other"));
        assert!(!cache.knows("b", &hash, "s3cret-pass"));
        assert!(!cache.knows("a", "another-hash", "s3cret-pass"));
    }
}
