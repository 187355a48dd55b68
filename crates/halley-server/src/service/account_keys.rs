//! Each account's account key: 32 random bytes that wrap the account's
//! Storage Vault passwords (`halley_protocol::vault_key`). Devices receive it
//! at registration and keep it; the server keeps it only wrapped:
//!
//! - by the account password (argon2id, then XChaCha20-Poly1305), so that a
//!   device registered with the password gets it;
//! - by the recovery code (`PasswordRecovery`, present when the account was
//!   created with `StoreRecoveryCode`), so that an administrator's password
//!   reset keeps the vaults readable;
//! - by each unused install token, so that a device registered with one
//!   gets it without the password.
//!
//! `docs/vault-keys.md` states what this promises.

use argon2::{Algorithm, Argon2, Params, Version};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use halley_api::types::UserProfileConfig;
use halley_protocol::vault_key::{self, AccountKey};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::auth::TenantScope;
use crate::http::{ApiError, ApiResult};
use crate::state::AppState;

/// The associated data of every wrap: a wrapped key is an account key.
const AAD: &str = "halley account key";

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
struct Wrapped {
    password_salt: String,
    by_password: String,
    by_recovery: String,
    /// By the BLAKE3 hash of each unused install token.
    by_token: BTreeMap<String, String>,
}

/// A secret that may open the account key.
pub enum Secret<'a> {
    Password(&'a str),
    Recovery(&'a str),
    Token(&'a str),
}

/// First creations of an account's key, one at a time, so two devices
/// registering at once do not each make their own.
static CREATING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The account key for a caller who has just proven the account password:
/// opened by it (or by the recovery code, then wrapped by the password
/// again), or made now for an account that has none yet.
pub async fn for_password(
    state: &AppState,
    scope: &TenantScope,
    profile: &UserProfileConfig,
    password: &str,
) -> ApiResult<AccountKey> {
    let _turn = CREATING.lock().await;
    let Some(mut wrapped) = load(state, scope, profile).await? else {
        let key = vault_key::new_account_key();
        let mut wrapped = Wrapped::default();
        wrap_all(&mut wrapped, &key, password, &profile.password_recovery).await?;
        store(state, scope, profile, &wrapped).await?;
        return Ok(key);
    };
    if let Some(key) = open(&wrapped, &Secret::Password(password)).await {
        return Ok(key);
    }
    let key = open(&wrapped, &Secret::Recovery(&profile.password_recovery))
        .await
        .ok_or_else(unopenable)?;
    wrap_all(&mut wrapped, &key, password, &profile.password_recovery).await?;
    store(state, scope, profile, &wrapped).await?;
    Ok(key)
}

/// Wraps the account key by a new install token (the caller proved the
/// password).
pub async fn add_token(
    state: &AppState,
    scope: &TenantScope,
    profile: &UserProfileConfig,
    password: &str,
    token: &str,
) -> ApiResult<()> {
    let key = for_password(state, scope, profile, password).await?;
    let _turn = CREATING.lock().await;
    let mut wrapped = load(state, scope, profile).await?.unwrap_or_default();
    wrapped.by_token.insert(
        token_id(token),
        vault_key::wrap(&key_of_token(token), AAD, &encode(&key)),
    );
    store(state, scope, profile, &wrapped).await
}

/// The account key for a device registering with an install token; the
/// token's wrap is used up.
pub async fn for_token(
    state: &AppState,
    scope: &TenantScope,
    profile: &UserProfileConfig,
    token: &str,
) -> ApiResult<AccountKey> {
    let _turn = CREATING.lock().await;
    let mut wrapped = load(state, scope, profile).await?.ok_or_else(unopenable)?;
    let key = match open(&wrapped, &Secret::Token(token)).await {
        Some(key) => key,
        None => open(&wrapped, &Secret::Recovery(&profile.password_recovery))
            .await
            .ok_or_else(unopenable)?,
    };
    wrapped.by_token.remove(&token_id(token));
    store(state, scope, profile, &wrapped).await?;
    Ok(key)
}

/// After a password change: the key is opened by the recovery code or the
/// old password and wrapped by the new password and recovery code. When
/// neither opens it, the stored wraps stay as they are: registered devices
/// keep their copy, and new devices can no longer get it.
pub async fn rewrap(
    state: &AppState,
    scope: &TenantScope,
    before: &UserProfileConfig,
    old_password: Option<&str>,
    new_password: &str,
    new_recovery: &str,
) -> ApiResult<()> {
    let _turn = CREATING.lock().await;
    let Some(mut wrapped) = load(state, scope, before).await? else {
        return Ok(());
    };
    let mut key = open(&wrapped, &Secret::Recovery(&before.password_recovery)).await;
    if key.is_none() {
        if let Some(old) = old_password {
            key = open(&wrapped, &Secret::Password(old)).await;
        }
    }
    let Some(key) = key else {
        tracing::warn!(
            "the account key of {} could not be opened at its password change",
            before.username
        );
        return Ok(());
    };
    wrap_all(&mut wrapped, &key, new_password, new_recovery).await?;
    store(state, scope, before, &wrapped).await
}

fn unopenable() -> ApiError {
    ApiError::new(
        500,
        "The account's vault key cannot be opened with these credentials (the password was reset without a recovery code); an existing device of the account still holds it",
    )
}

async fn load(
    state: &AppState,
    scope: &TenantScope,
    profile: &UserProfileConfig,
) -> ApiResult<Option<Wrapped>> {
    match state
        .store
        .account_key_get(scope, &profile.username)
        .await?
    {
        None => Ok(None),
        Some(json) => serde_json::from_str(&json)
            .map(Some)
            .map_err(ApiError::internal),
    }
}

async fn store(
    state: &AppState,
    scope: &TenantScope,
    profile: &UserProfileConfig,
    wrapped: &Wrapped,
) -> ApiResult<()> {
    let json = serde_json::to_string(wrapped).map_err(ApiError::internal)?;
    state
        .store
        .account_key_put(scope, &profile.organization_id, &profile.username, &json)
        .await?;
    Ok(())
}

async fn wrap_all(
    wrapped: &mut Wrapped,
    key: &AccountKey,
    password: &str,
    recovery: &str,
) -> ApiResult<()> {
    let mut salt = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut salt);
    let kek = key_of_password(password, &salt).await?;
    wrapped.password_salt = BASE64.encode(salt);
    wrapped.by_password = vault_key::wrap(&kek, AAD, &encode(key));
    wrapped.by_recovery = match recovery.is_empty() {
        true => String::new(),
        false => vault_key::wrap(&key_of_recovery(recovery), AAD, &encode(key)),
    };
    Ok(())
}

async fn open(wrapped: &Wrapped, secret: &Secret<'_>) -> Option<AccountKey> {
    let (kek, sealed) = match secret {
        Secret::Password(password) => {
            let salt = BASE64.decode(&wrapped.password_salt).ok()?;
            (
                key_of_password(password, &salt).await.ok()?,
                &wrapped.by_password,
            )
        }
        Secret::Recovery(code) if !code.is_empty() => (key_of_recovery(code), &wrapped.by_recovery),
        Secret::Recovery(_) => return None,
        Secret::Token(token) => (key_of_token(token), wrapped.by_token.get(&token_id(token))?),
    };
    let text = vault_key::unwrap(&kek, AAD, sealed).ok()?;
    vault_key::decode_account_key(&text).ok()
}

fn encode(key: &AccountKey) -> String {
    vault_key::encode_account_key(key)
}

/// argon2id, on a blocking thread: it costs tens of milliseconds by design.
async fn key_of_password(password: &str, salt: &[u8]) -> ApiResult<AccountKey> {
    let password = password.to_string();
    let salt = salt.to_vec();
    tokio::task::spawn_blocking(move || {
        let params = Params::new(19 * 1024, 2, 1, Some(32)).map_err(ApiError::internal)?;
        let mut out = [0u8; 32];
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password_into(password.as_bytes(), &salt, &mut out)
            .map_err(ApiError::internal)?;
        Ok(out)
    })
    .await
    .map_err(ApiError::internal)?
}

fn key_of_recovery(code: &str) -> AccountKey {
    blake3::derive_key("halley account key by recovery code", code.as_bytes())
}

fn key_of_token(token: &str) -> AccountKey {
    blake3::derive_key("halley account key by install token", token.as_bytes())
}

fn token_id(token: &str) -> String {
    blake3::hash(token.as_bytes()).to_hex().to_string()
}
