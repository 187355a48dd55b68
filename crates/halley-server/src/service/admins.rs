//! Administrator accounts, which live in `cometd.cfg` (`AdminUsers`).

use halley_api::types::{
    AdminU2FRegistration, AdminWebAuthnRegistration, AllowedAdminUser, ServerConfigOptions,
};

use crate::auth::password::{hash_password, PASSWORD_FORMAT_ARGON2ID};
use crate::http::{ApiError, ApiResult};
use crate::state::AppState;

/// A new administrator who logs in with a password.
pub fn new_admin(username: &str, password: &str, organization_id: &str) -> AllowedAdminUser {
    AllowedAdminUser {
        username: username.to_string(),
        organization_id: organization_id.to_string(),
        password_format: PASSWORD_FORMAT_ARGON2ID,
        password: hash_password(password),
        allow_password_login: true,
        ..Default::default()
    }
}

/// The entry of one administrator: usernames repeat across tenants, so the
/// organisation is part of the key.
pub fn find_mut<'a>(
    admins: &'a mut [AllowedAdminUser],
    username: &str,
    organization_id: &str,
) -> Option<&'a mut AllowedAdminUser> {
    admins
        .iter_mut()
        .find(|a| a.username == username && a.organization_id == organization_id)
}

/// The tenant whose `Hosts` list this host name, if any.
pub fn tenant_for_host<'a>(config: &'a ServerConfigOptions, host: &str) -> Option<&'a str> {
    if host.is_empty() {
        return None;
    }
    config
        .organizations
        .iter()
        .find(|(_, org)| org.hosts.iter().any(|h| h.eq_ignore_ascii_case(host)))
        .map(|(id, _)| id.as_str())
}

/// The administrator a login names. On a tenant's host name only that
/// tenant's administrators sign in. Elsewhere, top-level administrators come
/// first, then local administrators of tenants that have no host names of
/// their own; a tenant's external administrators sign in only on its host
/// names, so that its directory never sees another scope's passwords.
pub fn find_for_login<'a>(
    config: &'a ServerConfigOptions,
    username: &str,
    host: &str,
) -> Option<&'a AllowedAdminUser> {
    let named = || {
        config
            .admin_users
            .iter()
            .filter(move |a| a.username == username)
    };
    if let Some(tenant) = tenant_for_host(config, host) {
        return named().find(|a| a.organization_id == tenant);
    }
    named().find(|a| a.organization_id.is_empty()).or_else(|| {
        named().find(|a| {
            a.external_authentication_source.is_empty()
                && config
                    .organizations
                    .get(&a.organization_id)
                    .is_some_and(|org| org.hosts.is_empty())
        })
    })
}

/// Changes one administrator's entry in the configuration; an
/// administrator no longer there is refused as unknown.
pub async fn update_entry<T>(
    state: &AppState,
    username: &str,
    organization_id: &str,
    change: impl FnOnce(&mut AllowedAdminUser) -> ApiResult<T>,
) -> ApiResult<T> {
    state
        .config
        .update(|config| -> ApiResult<T> {
            let entry = find_mut(&mut config.admin_users, username, organization_id)
                .ok_or_else(ApiError::unauthorised)?;
            change(entry)
        })
        .await
}

/// Keeps a security key's registration as a sign-in left it (its new
/// signature counter), so that a replayed signature is refused.
pub async fn record_key_use(
    state: &AppState,
    admin: &AllowedAdminUser,
    used: AdminWebAuthnRegistration,
) -> ApiResult<()> {
    update_entry(state, &admin.username, &admin.organization_id, |entry| {
        if let Some(slot) = entry
            .web_authn_registrations
            .iter_mut()
            .find(|r| r.id == used.id)
        {
            *slot = used;
        }
        Ok(())
    })
    .await
}

/// Keeps a U2F key's registration as a sign-in left it (its counter).
pub async fn record_u2f_use(
    state: &AppState,
    admin: &AllowedAdminUser,
    used: AdminU2FRegistration,
) -> ApiResult<()> {
    update_entry(state, &admin.username, &admin.organization_id, |entry| {
        if let Some(slot) = entry
            .u2f_registrations
            .iter_mut()
            .find(|r| r.registration == used.registration)
        {
            *slot = used;
        }
        Ok(())
    })
    .await
}
