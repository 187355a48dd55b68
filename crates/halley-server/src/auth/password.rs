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
use argon2::password_hash::{PasswordHash, PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
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
    PasswordHash::new(stored).is_ok_and(|parsed| verify_argon2(&parsed, password))
}

/// Working memory of argon2 verifications kept for the next ones. Each
/// verification needs its `m` KiB (19 MiB by default); allocated afresh on
/// whichever blocking thread runs it, that memory stays with the thread's
/// allocator arena, and a burst of wrong passwords would leave the server
/// holding tens of megabytes per thread. Reused, it stays a few buffers.
static MEMORY: Mutex<Vec<Vec<Block>>> = Mutex::new(Vec::new());
/// Buffers kept at most (more verifications than this at once allocate).
const MEMORY_KEPT: usize = 4;

fn verify_argon2(hash: &PasswordHash, password: &str) -> bool {
    let (Some(expected), Some(salt)) = (hash.hash, hash.salt) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(hash.algorithm) else {
        return false;
    };
    let version = match hash.version.map(Version::try_from) {
        None => Version::default(),
        Some(Ok(version)) => version,
        Some(Err(_)) => return false,
    };
    let Ok(params) = Params::try_from(hash) else {
        return false;
    };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let blocks_needed = params.block_count();
    let mut blocks = MEMORY
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .pop()
        .unwrap_or_default();
    blocks.resize(blocks_needed, Block::default());
    let mut computed = vec![0u8; expected.len()];
    let argon = Argon2::new(algorithm, version, params);
    let hashed = argon
        .hash_password_into_with_memory(password.as_bytes(), salt, &mut computed, &mut blocks[..])
        .is_ok();
    let mut kept = MEMORY.lock().unwrap_or_else(|p| p.into_inner());
    if kept.len() < MEMORY_KEPT {
        kept.push(blocks);
    }
    drop(kept);
    hashed && bool::from(computed.as_slice().ct_eq(expected.as_bytes()))
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
