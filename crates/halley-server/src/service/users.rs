//! End-user accounts: naming rules, profile defaults, the protected fields a
//! profile edit cannot touch, and the profile hash used for atomic edits.

use halley_api::constants::{
    DEFAULT_LANGUAGE, SEVT_ACCOUNT_NEW, SEVT_ACCOUNT_REMOVED, SEVT_ACCOUNT_UPDATED,
};
use halley_api::types::UserProfileConfig;

use crate::auth::password::{hash_password, PASSWORD_FORMAT_ARGON2ID};
use crate::auth::TenantScope;
use crate::http::{ApiError, ApiResult};
use crate::state::AppState;
use crate::store::{ReplaceOutcome, SessionKind, StoreError, UserRecord};
use crate::util::{now_unix, random_hex};

pub const DEFAULT_TIMEZONE: &str = "Etc/UTC";
pub const MIN_PASSWORD_CHARS: usize = 8;

/// Usernames: at least one of `A-Z a-z 0-9 _ . @ -`; case-sensitive.
pub fn validate_username(name: &str) -> ApiResult<()> {
    if name.is_empty() {
        return Err(ApiError::invalid_param(
            "TargetUser",
            "the username must not be empty",
        ));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '@' | '-')))
    {
        return Err(ApiError::invalid_param(
            "TargetUser",
            format!("the username may only hold letters, digits and _ . @ - (found {bad:?})"),
        ));
    }
    Ok(())
}

/// Passwords: eight characters or more, on one line.
pub fn validate_password(param: &str, password: &str) -> ApiResult<()> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(ApiError::invalid_param(
            param,
            format!("the password must be at least {MIN_PASSWORD_CHARS} characters long"),
        ));
    }
    if password.contains(['\r', '\n']) {
        return Err(ApiError::invalid_param(
            param,
            "the password must be on one line",
        ));
    }
    Ok(())
}

/// A hash of the stored profile document: it changes with every modification.
pub fn profile_hash(profile_json: &str) -> String {
    crate::util::document_hash(profile_json)
}

pub fn to_record(profile: &UserProfileConfig) -> ApiResult<UserRecord> {
    let profile_json = serde_json::to_string(profile).map_err(ApiError::internal)?;
    Ok(UserRecord {
        username: profile.username.clone(),
        organization_id: profile.organization_id.clone(),
        profile_hash: profile_hash(&profile_json),
        profile_json,
    })
}

pub fn parse_record(record: &UserRecord) -> ApiResult<UserProfileConfig> {
    serde_json::from_str(&record.profile_json).map_err(ApiError::internal)
}

/// The profile of a new account.
pub fn new_profile(username: &str, organization_id: &str, password: &str) -> UserProfileConfig {
    let mut profile = UserProfileConfig {
        username: username.to_string(),
        organization_id: organization_id.to_string(),
        local_timezone: DEFAULT_TIMEZONE.to_string(),
        language_code: DEFAULT_LANGUAGE.to_string(),
        allow_password_login: true,
        create_time: now_unix(),
        creation_guid: uuid::Uuid::new_v4().to_string(),
        ..Default::default()
    };
    profile.password_format = PASSWORD_FORMAT_ARGON2ID;
    profile.password_hash = hash_password(password);
    profile
}

/// A fresh password-recovery code. Halley keeps it so that an administrator
/// may reset the password; it is opaque to clients.
pub fn new_recovery_code() -> String {
    random_hex(32)
}

/// Loads an account inside `scope`; anything else is "not found", exactly
/// as a missing account.
pub async fn load(
    state: &AppState,
    scope: &TenantScope,
    username: &str,
) -> ApiResult<(UserProfileConfig, UserRecord)> {
    let record = state
        .store
        .user_get(scope, username)
        .await?
        .ok_or_else(ApiError::user_not_found)?;
    Ok((parse_record(&record)?, record))
}

/// Stores a new account; a taken username is a clear error.
pub async fn create(
    state: &AppState,
    scope: &TenantScope,
    profile: &UserProfileConfig,
    actor: &str,
) -> ApiResult<()> {
    let record = to_record(profile)?;
    match state.store.user_create(scope, &record).await {
        Ok(()) => {}
        Err(StoreError::Conflict) => {
            return Err(ApiError::bad_request(format!(
                "A user named '{}' already exists",
                profile.username
            )))
        }
        Err(err) => return Err(err.into()),
    }
    emit_profile(state, SEVT_ACCOUNT_NEW, actor, profile);
    Ok(())
}

/// Merges an edited profile into the stored one. The username is immutable and
/// the secrets (password hash and format, recovery code, TOTP key) only change
/// through their own endpoints, so a client echoing back stale or blank values
/// cannot corrupt them.
pub fn merge_edit(
    stored: &UserProfileConfig,
    mut incoming: UserProfileConfig,
) -> ApiResult<UserProfileConfig> {
    if incoming.username.is_empty() {
        incoming.username = stored.username.clone();
    } else if incoming.username != stored.username {
        return Err(ApiError::invalid_param(
            "ProfileData",
            format!(
                "the Username '{}' does not match the account '{}'; usernames cannot be changed",
                incoming.username, stored.username
            ),
        ));
    }
    incoming.organization_id = stored.organization_id.clone();
    incoming.password_format = stored.password_format;
    incoming.password_hash = stored.password_hash.clone();
    incoming.password_recovery = stored.password_recovery.clone();
    incoming.totp_key = stored.totp_key.clone();
    incoming.totp_key_encryption_format = stored.totp_key_encryption_format;
    if incoming.create_time == 0 {
        incoming.create_time = stored.create_time;
    }
    if incoming.creation_guid.is_empty() {
        incoming.creation_guid = stored.creation_guid.clone();
    }
    if incoming.allow_password_and_totp_login && incoming.totp_key.is_empty() {
        incoming.allow_password_and_totp_login = false;
    }
    if incoming.is_suspended && !stored.is_suspended {
        incoming.last_suspended = now_unix();
    }
    Ok(incoming)
}

/// Merges an end user's edit of their own profile: on top of [`merge_edit`],
/// what the administrator decides (policy, suspension, quotas, group, login
/// switches) stays as stored.
pub fn merge_self_edit(
    stored: &UserProfileConfig,
    incoming: UserProfileConfig,
) -> ApiResult<UserProfileConfig> {
    let mut profile = merge_edit(stored, incoming)?;
    profile.policy_id = stored.policy_id.clone();
    profile.policy = stored.policy.clone();
    profile.group_id = stored.group_id.clone();
    profile.is_suspended = stored.is_suspended;
    profile.last_suspended = stored.last_suspended;
    profile.all_protected_items_quota_enabled = stored.all_protected_items_quota_enabled;
    profile.all_protected_items_quota_bytes = stored.all_protected_items_quota_bytes;
    profile.maximum_devices = stored.maximum_devices;
    profile.quota_office365_protected_accounts = stored.quota_office365_protected_accounts;
    profile.quota_hyper_v_guests = stored.quota_hyper_v_guests;
    profile.quota_v_mware_guests = stored.quota_v_mware_guests;
    profile.server_config = stored.server_config.clone();
    profile.allow_password_login = stored.allow_password_login;
    profile.allow_password_and_totp_login = stored.allow_password_and_totp_login;
    profile.require_password_change = stored.require_password_change;
    Ok(profile)
}

/// Saves a profile; with `expected_hash` only if nobody changed it meanwhile.
/// Returns the new hash.
pub async fn save(
    state: &AppState,
    scope: &TenantScope,
    profile: &UserProfileConfig,
    expected_hash: Option<&str>,
    actor: &str,
) -> ApiResult<String> {
    let record = to_record(profile)?;
    match state.store.user_replace(scope, &record, expected_hash).await? {
        ReplaceOutcome::Replaced => {}
        ReplaceOutcome::NotFound => return Err(ApiError::user_not_found()),
        ReplaceOutcome::HashMismatch => {
            return Err(ApiError::new(
                409,
                "The profile was changed since it was read (ProfileHash mismatch); read it again and retry",
            ))
        }
    }
    // A suspended account's sessions end; any save may change what a
    // cached session is allowed.
    if profile.is_suspended {
        end_sessions(state, &profile.username).await?;
    } else {
        state.session_cache.revoke();
    }
    emit_profile(state, SEVT_ACCOUNT_UPDATED, actor, profile);
    crate::devices::profile_saved(state, profile, &record);
    Ok(record.profile_hash)
}

/// Applies `change` to an account's stored profile as an atomic
/// read-modify-write, starting over when a concurrent edit got in first.
pub async fn edit(
    state: &AppState,
    scope: &TenantScope,
    username: &str,
    actor: &str,
    change: impl Fn(&mut UserProfileConfig),
) -> ApiResult<()> {
    loop {
        let (mut profile, record) = load(state, scope, username).await?;
        change(&mut profile);
        if serde_json::to_string(&profile).map_err(ApiError::internal)? == record.profile_json {
            return Ok(());
        }
        match save(state, scope, &profile, Some(&record.profile_hash), actor).await {
            Err(ApiError::Message { status: 409, .. }) => continue,
            other => return other.map(|_| ()),
        }
    }
}

/// Deletes the account with its sessions and job history.
pub async fn delete(
    state: &AppState,
    scope: &TenantScope,
    username: &str,
    organization_id: &str,
    actor: &str,
) -> ApiResult<()> {
    if !state.store.user_delete(scope, username).await? {
        return Err(ApiError::user_not_found());
    }
    state.session_cache.revoke();
    crate::devices::account_deleted(state, organization_id, username);
    state
        .events
        .emit(SEVT_ACCOUNT_REMOVED, actor, organization_id, username, None);
    Ok(())
}

/// Sets a new password (hashed), optionally with a fresh recovery code, and
/// wraps the account key by them (opened by the old recovery code or
/// `old_password`).
pub async fn set_password(
    state: &AppState,
    scope: &TenantScope,
    username: &str,
    password: &str,
    old_password: Option<&str>,
    refresh_recovery: bool,
) -> ApiResult<()> {
    let (mut profile, _) = load(state, scope, username).await?;
    let before = profile.clone();
    let owned = password.to_string();
    profile.password_format = PASSWORD_FORMAT_ARGON2ID;
    profile.password_hash = state.verify_pool.run(move || hash_password(&owned)).await?;
    if refresh_recovery && !profile.password_recovery.is_empty() {
        profile.password_recovery = new_recovery_code();
    }
    save(state, scope, &profile, None, "system").await?;
    super::account_keys::rewrap(
        state,
        scope,
        &before,
        old_password,
        password,
        &profile.password_recovery,
    )
    .await
}

/// Ends every session of an end user (after a password change, say).
pub async fn end_sessions(state: &AppState, username: &str) -> ApiResult<()> {
    crate::auth::sessions::end_all(state, SessionKind::User, username).await?;
    Ok(())
}

/// The profile without what only the server may know: the password hash,
/// the recovery code and the TOTP secret. Events and the account holder's
/// own reads carry this form.
pub fn without_secrets(profile: &UserProfileConfig) -> UserProfileConfig {
    let mut shown = profile.clone();
    shown.password_hash.clear();
    shown.password_recovery.clear();
    shown.totp_key.clear();
    shown
}

fn emit_profile(state: &AppState, event: i64, actor: &str, profile: &UserProfileConfig) {
    let data = serde_json::to_value(without_secrets(profile)).ok();
    state.events.emit(
        event,
        actor,
        &profile.organization_id,
        &profile.username,
        data,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_follow_the_documented_charset() {
        for good in ["a", "user.name@example.com", "A_b-9"] {
            assert!(validate_username(good).is_ok(), "{good}");
        }
        for bad in ["", "has space", "ünï", "semi;colon"] {
            assert!(validate_username(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn passwords_need_eight_chars_on_one_line() {
        assert!(validate_password("P", "12345678").is_ok());
        assert!(validate_password("P", "1234567").is_err());
        assert!(validate_password("P", "1234\n5678").is_err());
    }

    #[test]
    fn an_edit_cannot_touch_secrets_or_rename() {
        let stored = new_profile("alice", "", "password1");
        let mut incoming = stored.clone();
        incoming.password_hash = "forged".into();
        incoming.totp_key = "forged".into();
        incoming.account_name = "Alice".into();
        let merged = merge_edit(&stored, incoming.clone()).unwrap();
        assert_eq!(merged.password_hash, stored.password_hash);
        assert_eq!(merged.totp_key, stored.totp_key);
        assert_eq!(merged.account_name, "Alice");
        incoming.username = "bob".into();
        assert!(merge_edit(&stored, incoming).is_err());
    }
}
