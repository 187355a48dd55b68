//! Administrators managing end-user accounts: `/api/v1/admin/*user*`.

use halley_api::types::{
    AdminOptions, GetProfileAndHashResponseMessage, GetProfileHashResponseMessage, UninstallConfig,
    UserProfileConfig,
};

use super::scope::{check_named_organization, list_scope, target_organization};
use crate::http::{ApiError, ApiResult, Call, Reply};
use crate::service::users::{self as service, load};
use crate::service::{policies, user_groups};

pub async fn add_user(call: Call) -> ApiResult<Reply> {
    let params = &call.params;
    let username = params.str("TargetUser")?;
    let password = params.str("TargetPassword")?;
    service::validate_username(username)?;
    service::validate_password("TargetPassword", password)?;
    let organization = target_organization(&call)?;
    let scope = call.admin()?.scope();
    let store_recovery = params.opt_int("StoreRecoveryCode")?.unwrap_or(0) != 0;
    let require_change = params.opt_int("RequirePasswordChange")?.unwrap_or(0) != 0;
    let mut profile = service::new_profile(username, &organization, password);
    if store_recovery {
        profile.password_recovery = service::new_recovery_code();
    }
    profile.require_password_change = require_change;
    profile.policy_id = policies::default_for(&call.state, &scope, &organization)
        .await?
        .unwrap_or_default();
    policies::enforce(&call.state, &scope, &mut profile).await?;
    service::create(&call.state, &scope, &profile, &call.admin()?.actor()).await?;
    Ok(Reply::ok())
}

pub async fn add_user_from_profile(call: Call) -> ApiResult<Reply> {
    let username = call.params.str("TargetUser")?;
    service::validate_username(username)?;
    let mut profile: UserProfileConfig = call.params.json("ProfileData")?;
    if !profile.username.is_empty() && profile.username != username {
        return Err(ApiError::invalid_param(
            "ProfileData",
            format!(
                "its Username '{}' differs from TargetUser '{username}'",
                profile.username
            ),
        ));
    }
    profile.username = username.to_string();
    let named = std::mem::take(&mut profile.organization_id);
    profile.organization_id = target_organization(&call)?;
    check_named_organization("ProfileData", &named, &profile.organization_id)?;
    if profile.create_time == 0 {
        profile.create_time = crate::util::now_unix();
    }
    if profile.creation_guid.is_empty() {
        profile.creation_guid = uuid::Uuid::new_v4().to_string();
    }
    let scope = call.admin()?.scope();
    if profile.policy_id.is_empty() {
        profile.policy_id = policies::default_for(&call.state, &scope, &profile.organization_id)
            .await?
            .unwrap_or_default();
    }
    user_groups::check_named_group(&call.state, &scope, &profile).await?;
    policies::enforce(&call.state, &scope, &mut profile).await?;
    service::create(&call.state, &scope, &profile, &call.admin()?.actor()).await?;
    Ok(Reply::ok())
}

pub async fn list_users(call: Call) -> ApiResult<Reply> {
    let scope = list_scope(&call)?;
    let names = call.state.store.user_list(&scope).await?;
    Ok(Reply::json(&names))
}

/// The stored documents are already our own serialisation of a profile, so
/// the map is assembled from them as they are.
pub async fn list_users_full(call: Call) -> ApiResult<Reply> {
    let scope = list_scope(&call)?;
    let records = call.state.store.user_list_full(&scope).await?;
    let mut body = Vec::with_capacity(records.iter().map(|r| r.profile_json.len() + 32).sum());
    body.push(b'{');
    for (index, record) in records.iter().enumerate() {
        if index > 0 {
            body.push(b',');
        }
        serde_json::to_writer(&mut body, &record.username).map_err(ApiError::internal)?;
        body.push(b':');
        body.extend_from_slice(record.profile_json.as_bytes());
    }
    body.push(b'}');
    Ok(Reply::Json(body))
}

pub async fn get_user_profile(call: Call) -> ApiResult<Reply> {
    let (profile, _) = load(
        &call.state,
        &call.admin()?.scope(),
        call.params.str("TargetUser")?,
    )
    .await?;
    Ok(Reply::json(&profile))
}

pub async fn get_user_profile_hash(call: Call) -> ApiResult<Reply> {
    let (_, record) = load(
        &call.state,
        &call.admin()?.scope(),
        call.params.str("TargetUser")?,
    )
    .await?;
    Ok(Reply::json(&GetProfileHashResponseMessage {
        status: 200,
        message: "OK".into(),
        profile_hash: record.profile_hash,
        ..Default::default()
    }))
}

pub async fn get_user_profile_and_hash(call: Call) -> ApiResult<Reply> {
    let (profile, record) = load(
        &call.state,
        &call.admin()?.scope(),
        call.params.str("TargetUser")?,
    )
    .await?;
    Ok(profile_and_hash(profile, record.profile_hash))
}

pub fn profile_and_hash(profile: UserProfileConfig, hash: String) -> Reply {
    Reply::json(&GetProfileAndHashResponseMessage {
        status: 200,
        message: "OK".into(),
        profile_hash: hash,
        profile,
        ..Default::default()
    })
}

/// `AllowedUserPolicies`: an administrator limited to some policies may
/// only give accounts one of them.
fn check_policy_allowed(
    call: &Call,
    stored: &UserProfileConfig,
    edited: &UserProfileConfig,
) -> ApiResult<()> {
    if edited.policy_id == stored.policy_id || edited.policy_id.is_empty() {
        return Ok(());
    }
    let admin = call.admin()?;
    let config = call.state.config.get();
    let allowed = config
        .admin_users
        .iter()
        .find(|a| a.username == admin.username() && a.organization_id == admin.organization_id())
        .map(|a| a.permissions.allowed_user_policies.clone())
        .unwrap_or_default();
    if allowed.is_empty() || allowed.contains(&edited.policy_id) {
        Ok(())
    } else {
        Err(ApiError::forbidden(format!(
            "This administrator may not assign policy '{}' (AllowedUserPolicies)",
            edited.policy_id
        )))
    }
}

pub async fn set_user_profile(call: Call) -> ApiResult<Reply> {
    let admin = call.admin()?;
    let (stored, _) = load(&call.state, &admin.scope(), call.params.str("TargetUser")?).await?;
    let incoming: UserProfileConfig = call.params.json("ProfileData")?;
    check_named_organization(
        "ProfileData",
        &incoming.organization_id,
        &stored.organization_id,
    )?;
    let mut profile = service::merge_edit(&stored, incoming)?;
    check_policy_allowed(&call, &stored, &profile)?;
    user_groups::check_named_group(&call.state, &admin.scope(), &profile).await?;
    policies::enforce(&call.state, &admin.scope(), &mut profile).await?;
    service::save(&call.state, &admin.scope(), &profile, None, &admin.actor()).await?;
    Ok(Reply::ok())
}

pub async fn set_user_profile_hash(call: Call) -> ApiResult<Reply> {
    let admin = call.admin()?;
    let (stored, _) = load(&call.state, &admin.scope(), call.params.str("TargetUser")?).await?;
    let incoming: UserProfileConfig = call.params.json("ProfileData")?;
    let require_hash = call.params.str("RequireHash")?;
    // Policy-sourced item deletions are parsed now so a malformed value is refused.
    let _options: Option<AdminOptions> = call.params.opt_json("AdminOptions")?;
    check_named_organization(
        "ProfileData",
        &incoming.organization_id,
        &stored.organization_id,
    )?;
    let mut profile = service::merge_edit(&stored, incoming)?;
    check_policy_allowed(&call, &stored, &profile)?;
    user_groups::check_named_group(&call.state, &admin.scope(), &profile).await?;
    policies::enforce(&call.state, &admin.scope(), &mut profile).await?;
    let hash = service::save(
        &call.state,
        &admin.scope(),
        &profile,
        Some(require_hash),
        &admin.actor(),
    )
    .await?;
    Ok(profile_and_hash(profile, hash))
}

pub async fn delete_user(call: Call) -> ApiResult<Reply> {
    let admin = call.admin()?;
    let username = call.params.str("TargetUser")?;
    let _uninstall: Option<UninstallConfig> = call.params.opt_json("UninstallConfig")?;
    let (profile, _) = load(&call.state, &admin.scope(), username).await?;
    service::delete(
        &call.state,
        &admin.scope(),
        username,
        &profile.organization_id,
        &admin.actor(),
    )
    .await?;
    Ok(Reply::ok())
}

/// Without `OldPassword` a reset needs the recovery code kept by
/// `StoreRecoveryCode`; with it, the old password must be right.
pub async fn reset_user_password(call: Call) -> ApiResult<Reply> {
    let admin = call.admin()?;
    let username = call.params.str("TargetUser")?;
    let new_password = call.params.str("NewPassword")?;
    service::validate_password("NewPassword", new_password)?;
    let (profile, _) = load(&call.state, &admin.scope(), username).await?;
    match call.params.opt_str("OldPassword").filter(|p| !p.is_empty()) {
        Some(old)
            if !crate::auth::confirm_user_password(&call.state, &profile, old, &call.origin)
                .await? =>
        {
            return Err(ApiError::invalid_param(
                "OldPassword",
                "it is not the account's current password",
            ));
        }
        None if profile.password_recovery.is_empty() => {
            return Err(ApiError::bad_request(
                "This account keeps no recovery code (it was created without StoreRecoveryCode); supply OldPassword to reset its password",
            ))
        }
        _ => {}
    }
    let old = call.params.opt_str("OldPassword").filter(|p| !p.is_empty());
    service::set_password(
        &call.state,
        &admin.scope(),
        username,
        new_password,
        old,
        true,
    )
    .await?;
    service::end_sessions(&call.state, username).await?;
    Ok(Reply::ok())
}

pub async fn disable_user_totp(call: Call) -> ApiResult<Reply> {
    let admin = call.admin()?;
    let (mut profile, _) =
        load(&call.state, &admin.scope(), call.params.str("TargetUser")?).await?;
    profile.totp_key.clear();
    profile.totp_key_encryption_format = 0;
    profile.allow_password_and_totp_login = false;
    profile.allow_password_login = true;
    service::save(&call.state, &admin.scope(), &profile, None, &admin.actor()).await?;
    Ok(Reply::ok())
}
