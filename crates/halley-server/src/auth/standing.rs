//! Whether an account may act now, beyond its credentials: a suspended
//! tenant, a suspended or deleted account, a removed administrator or
//! external source all refuse it. Used when a session key is resolved, when
//! an open event stream checks its caller again, and when a call asks for
//! the current password once more.

use halley_api::types::{ServerConfigOptions, UserProfileConfig};

use super::{credentials, password_check, sessions, throttled, AdminPrincipal, Method, Origin};
use crate::http::{ApiError, ApiResult, Params};
use crate::service::external_auth;
use crate::state::AppState;
use crate::store::{SessionKind, SessionRecord};

/// A suspended tenant's administrators and users are refused, however they
/// sign in.
pub fn refuse_suspended_tenant(
    config: &ServerConfigOptions,
    organization_id: &str,
) -> ApiResult<()> {
    let suspended = !organization_id.is_empty()
        && config
            .organizations
            .get(organization_id)
            .is_some_and(|org| org.is_suspended);
    if suspended {
        return Err(ApiError::forbidden("This organization is suspended"));
    }
    Ok(())
}

/// Whether a stored session's account may use it now: the account exists
/// (for an external administrator, with its source), neither it nor its
/// tenant is suspended.
pub async fn session_account_allowed(state: &AppState, session: &SessionRecord) -> ApiResult<bool> {
    let config = state.config.get();
    if refuse_suspended_tenant(&config, &session.organization_id).is_err() {
        return Ok(false);
    }
    match session.kind {
        SessionKind::Admin => Ok(admin_entry_valid(
            &config,
            &session.username,
            &session.organization_id,
        )),
        SessionKind::User => {
            let Some(record) = state
                .store
                .user_get(&super::TenantScope::server_wide(), &session.username)
                .await?
            else {
                return Ok(false);
            };
            let profile: Option<UserProfileConfig> =
                serde_json::from_str(&record.profile_json).ok();
            Ok(profile
                .is_some_and(|p| !p.is_suspended && p.organization_id == session.organization_id))
        }
    }
}

/// A deleted administrator signs in no more, nor does an external one whose
/// source is gone.
fn admin_entry_valid(config: &ServerConfigOptions, username: &str, organization_id: &str) -> bool {
    config
        .admin_users
        .iter()
        .find(|a| a.username == username && a.organization_id == organization_id)
        .is_some_and(|a| {
            a.external_authentication_source.is_empty()
                || external_auth::find(
                    config,
                    &a.organization_id,
                    &a.external_authentication_source,
                )
                .is_some()
        })
}

/// Whether an administrator signed in with `params` earlier still would be
/// now, checked quietly (no events, no throttling): for a long-lived event
/// stream when sessions, accounts or the configuration change.
pub async fn admin_still_signed_in(
    state: &AppState,
    params: &Params,
    admin: &AdminPrincipal,
) -> bool {
    let Ok(creds) = credentials(params) else {
        return false;
    };
    match creds.method {
        Method::Session(key) => {
            matches!(
                sessions::resolve(state, key, SessionKind::Admin, &admin.username).await,
                Ok(Some(_))
            )
        }
        Method::Password { password, .. } => {
            let config = state.config.get();
            if refuse_suspended_tenant(&config, &admin.organization_id).is_err()
                || !admin_entry_valid(&config, &admin.username, &admin.organization_id)
            {
                return false;
            }
            let Some(entry) = config.admin_users.iter().find(|a| {
                a.username == admin.username && a.organization_id == admin.organization_id
            }) else {
                return false;
            };
            if !entry.external_authentication_source.is_empty() {
                return true;
            }
            // Remembered since sign-in unless the password changed.
            password_check::verify(
                state,
                &format!("admin:{}", admin.username),
                entry.password_format,
                &entry.password,
                password,
            )
            .await
            .unwrap_or(false)
        }
    }
}

/// Checks an end user's current password where a call asks for it again
/// (`OldPassword`): it counts toward login protection like any sign-in.
pub async fn confirm_user_password(
    state: &AppState,
    profile: &UserProfileConfig,
    password: &str,
    origin: &Origin,
) -> ApiResult<bool> {
    let config = state.config.get();
    let account_key = format!("user:{}", profile.username);
    let address = origin.client_ip.as_str();
    state
        .throttle
        .check(&account_key, address, &config.login_protection)
        .await
        .map_err(throttled)?;
    let right = password_check::verify(
        state,
        &account_key,
        profile.password_format,
        &profile.password_hash,
        password,
    )
    .await?;
    if right {
        state.throttle.record_success(&account_key, address).await;
    } else {
        state
            .throttle
            .record_failure(&account_key, address, &config.login_protection)
            .await;
    }
    Ok(right)
}
