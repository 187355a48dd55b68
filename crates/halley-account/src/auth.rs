//! Who is calling: portal accounts authenticate with email + password
//! (argon2id) or with an API token (random, stored as a BLAKE3 hash).
//!
//! the API guide's tables name the token pair `authType=authToken` / `authToken`
//! while its prose says `authType=apiToken` / `apiToken`; both are accepted, and
//! so is `Authorization: Bearer <token>`.

use std::collections::HashSet;
use std::sync::{Mutex, OnceLock};

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use axum::http::HeaderMap;
use rand::RngCore;

use crate::http::{ApiError, Params};
use crate::state::AppState;
use crate::store::Account;

/// Prefix of every API token, so a leaked one is easy to recognise.
const TOKEN_PREFIX: &str = "hat_";

/// Bound on remembered verifications; the cache starts over when full.
const VERIFIED_CACHE_LIMIT: usize = 10_000;

pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|err| anyhow::anyhow!("hashing the password: {err}"))
}

pub fn verify_password(stored: &str, password: &str) -> bool {
    match PasswordHash::new(stored) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// A new API token: 256 random bits.
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("{TOKEN_PREFIX}{}", hex(&bytes))
}

/// What the store keeps of a token. A fast hash is enough: tokens carry 256
/// bits of entropy, so there is nothing to brute-force.
pub fn token_hash(token: &str) -> String {
    blake3::hash(token.as_bytes()).to_hex().to_string()
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Remembers recent successful password checks, because the API sends the
/// password with every call and argon2id is slow on purpose. Entries are keyed
/// digests of (email, stored hash, password) under a key that lives only in
/// memory; a changed password changes the stored hash and so retires them.
pub struct VerifiedCache {
    key: [u8; 32],
    entries: Mutex<HashSet<[u8; 32]>>,
}

impl Default for VerifiedCache {
    fn default() -> Self {
        let mut key = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut key);
        VerifiedCache {
            key,
            entries: Mutex::new(HashSet::new()),
        }
    }
}

impl VerifiedCache {
    fn digest(&self, account: &Account, password: &str) -> [u8; 32] {
        let mut hasher = blake3::Hasher::new_keyed(&self.key);
        for part in [&account.email, &account.password_hash, password] {
            hasher.update(&(part.len() as u64).to_le_bytes());
            hasher.update(part.as_bytes());
        }
        *hasher.finalize().as_bytes()
    }

    pub fn verify(&self, account: &Account, password: &str) -> bool {
        let digest = self.digest(account, password);
        if let Ok(entries) = self.entries.lock() {
            if entries.contains(&digest) {
                return true;
            }
        }
        if !verify_password(&account.password_hash, password) {
            return false;
        }
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= VERIFIED_CACHE_LIMIT {
                entries.clear();
            }
            entries.insert(digest);
        }
        true
    }
}

/// Spends the time of one verification, so an unknown email answers no
/// faster than a known one with a wrong password.
fn burn_verification(password: &str) {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let dummy = DUMMY.get_or_init(|| hash_password("halley-dummy-password").unwrap_or_default());
    let _ = verify_password(dummy, password);
}

/// The account a request acts for. A missing credential is a 400 ("invalid or
/// missing parameter"); a wrong one is a 403, the same whether or not the
/// account exists (and while password logins for that email are throttled,
/// see [`crate::throttle`]).
pub async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    params: &Params,
) -> Result<Account, ApiError> {
    if let Some(token) = bearer_token(headers) {
        return account_for_token(state, &token).await;
    }
    let auth_type = params.get("authType").unwrap_or("password");
    match auth_type.to_ascii_lowercase().as_str() {
        "password" => {
            let email = params.required("email")?;
            let password = params.required_exact("password")?;
            if !state.throttle.allows(email) {
                return Err(ApiError::invalid_credentials());
            }
            let account = state.store.account_by_email(email).await?;
            let password = password.to_string();
            let cache = state.verified.clone();
            // argon2 is CPU-bound: keep it off the async workers.
            let verified = tokio::task::spawn_blocking(move || match account {
                Some(account) if cache.verify(&account, &password) => Some(account),
                Some(_) => None,
                None => {
                    burn_verification(&password);
                    None
                }
            })
            .await
            .map_err(|err| ApiError::internal(anyhow::anyhow!("verifying: {err}")))?;
            match verified {
                Some(account) => {
                    state.throttle.record_success(email);
                    Ok(account)
                }
                None => {
                    state.throttle.record_failure(email);
                    Err(ApiError::invalid_credentials())
                }
            }
        }
        kind @ ("apitoken" | "authtoken") => {
            // Either name carries the token under either type.
            let named = if kind == "apitoken" {
                "apiToken"
            } else {
                "authToken"
            };
            let token = params
                .get("apiToken")
                .or_else(|| params.get("authToken"))
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .ok_or_else(|| ApiError::invalid_param(named, "missing"))?;
            account_for_token(state, token).await
        }
        _ => Err(ApiError::invalid_param(
            "authType",
            "must be 'password', 'apiToken' or 'authToken'",
        )),
    }
}

async fn account_for_token(state: &AppState, token: &str) -> Result<Account, ApiError> {
    state
        .store
        .account_by_token(&token_hash(token))
        .await?
        .ok_or_else(ApiError::invalid_credentials)
}

fn bearer_token(headers: &HeaderMap) -> Option<String> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_string())
        .filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_prefixed() {
        let (a, b) = (new_token(), new_token());
        assert_ne!(a, b);
        assert!(a.starts_with(TOKEN_PREFIX));
        assert_eq!(a.len(), TOKEN_PREFIX.len() + 64);
        assert_ne!(token_hash(&a), a);
    }

    #[test]
    fn bearer_header_is_read() {
        let mut headers = HeaderMap::new();
        headers.insert("authorization", "Bearer hat_x".parse().unwrap());
        assert_eq!(bearer_token(&headers).as_deref(), Some("hat_x"));
        headers.insert("authorization", "Basic abc".parse().unwrap());
        assert_eq!(bearer_token(&headers), None);
    }
}
