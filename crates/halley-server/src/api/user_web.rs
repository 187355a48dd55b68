//! End users acting on their own account: `/api/v1/user/web/*`.

use halley_api::constants::SEVT_ACCOUNT_SESSION_REVOKE;
use halley_api::types::{TotpRegeneratedResponse, UserProfileConfig};

use crate::auth::{self, sessions, totp};
use crate::http::{ApiError, ApiResult, Call, Reply};
use crate::service::users::{self as service, load};
use crate::service::{policies, policy_locks};
use crate::store::SessionKind;

use super::account::session_reply;
use super::users::profile_and_hash;

/// Loads the caller's profile and checks the `ProfileHash` the call carries.
async fn load_checked(call: &Call) -> ApiResult<UserProfileConfig> {
    let user = call.user()?;
    let (profile, record) = load(&call.state, &user.scope(), user.username()).await?;
    if call.params.str("ProfileHash")? != record.profile_hash {
        return Err(ApiError::new(
            409,
            "The profile was changed since it was read (ProfileHash mismatch); read it again and retry",
        ));
    }
    Ok(profile)
}

pub async fn session_start(call: Call) -> ApiResult<Reply> {
    let user = call.user()?;
    let key = sessions::start(
        &call.state,
        SessionKind::User,
        user.username(),
        user.organization_id(),
        &user.actor(),
    )
    .await?;
    Ok(session_reply(key, SessionKind::User))
}

pub async fn session_revoke(call: Call) -> ApiResult<Reply> {
    let user = call.user()?;
    let Some(key_hash) = &user.session_key_hash() else {
        return Err(ApiError::bad_request(
            "This call was not made with a session key (AuthType=SessionKey), so there is no session to revoke",
        ));
    };
    sessions::revoke(&call.state, key_hash).await?;
    call.state.events.emit(
        SEVT_ACCOUNT_SESSION_REVOKE,
        &user.actor(),
        user.organization_id(),
        user.username(),
        None,
    );
    Ok(Reply::ok())
}

pub async fn get_profile_and_hash(call: Call) -> ApiResult<Reply> {
    let (profile, record) =
        load(&call.state, &call.user()?.scope(), call.user()?.username()).await?;
    Ok(profile_and_hash(
        service::without_secrets(&profile),
        record.profile_hash,
    ))
}

pub async fn set_profile_hash(call: Call) -> ApiResult<Reply> {
    let user = call.user()?;
    let (stored, _) = load(&call.state, &user.scope(), user.username()).await?;
    let incoming: UserProfileConfig = call.params.json("ProfileData")?;
    let expected = call.params.str("ProfileHash")?;
    super::scope::check_named_organization(
        "ProfileData",
        &incoming.organization_id,
        &stored.organization_id,
    )?;
    let mut profile = service::merge_self_edit(&stored, incoming)?;
    policy_locks::check_self_edit(&stored, &profile)?;
    policies::enforce(&call.state, &user.scope(), &mut profile).await?;
    let hash = service::save(
        &call.state,
        &user.scope(),
        &profile,
        Some(expected),
        &user.actor(),
    )
    .await?;
    Ok(profile_and_hash(service::without_secrets(&profile), hash))
}

pub async fn reset_password(call: Call) -> ApiResult<Reply> {
    let profile = load_checked(&call).await?;
    policy_locks::check_password_change(&profile)?;
    let old = call.params.str("OldPassword")?;
    let new = call.params.str("NewPassword")?;
    if !auth::confirm_user_password(&call.state, &profile, old, &call.origin).await? {
        return Err(ApiError::invalid_param(
            "OldPassword",
            "it is not the account's current password",
        ));
    }
    service::validate_password("NewPassword", new)?;
    service::set_password(
        &call.state,
        &call.user()?.scope(),
        &profile.username,
        new,
        Some(old),
        true,
    )
    .await?;
    service::end_sessions(&call.state, &profile.username).await?;
    Ok(Reply::ok())
}

/// Issues a new TOTP secret; it takes effect for login once validated.
pub async fn regenerate_totp(call: Call) -> ApiResult<Reply> {
    let mut profile = load_checked(&call).await?;
    let secret = totp::new_secret();
    let issuer = call.state.config.get().branding.brand_name.clone();
    let (url, image) = totp::enrolment(&secret, &issuer, &profile.username)
        .ok_or_else(|| ApiError::internal("TOTP enrolment failed"))?;
    profile.totp_key = secret;
    profile.totp_key_encryption_format = 0;
    profile.allow_password_and_totp_login = false;
    if !profile.allow_password_login {
        profile.allow_password_login = true;
    }
    let hash = service::save(
        &call.state,
        &call.user()?.scope(),
        &profile,
        None,
        &call.user()?.actor(),
    )
    .await?;
    Ok(Reply::json(&TotpRegeneratedResponse {
        status: 200,
        message: "OK".into(),
        image,
        url,
        profile_hash: hash,
        ..Default::default()
    }))
}

pub async fn validate_totp(call: Call) -> ApiResult<Reply> {
    let mut profile = load_checked(&call).await?;
    if profile.totp_key.is_empty() {
        return Err(ApiError::bad_request(
            "No TOTP secret is set: call account/regenerate-totp first",
        ));
    }
    let code = call.params.str("TOTPCode")?;
    let account = format!("user:{}", profile.username);
    if !totp::check(call.state.store.as_ref(), &account, &profile.totp_key, code).await? {
        return Err(ApiError::invalid_param(
            "TOTPCode",
            "the code is not valid for this account now",
        ));
    }
    profile.allow_password_and_totp_login = true;
    profile.allow_password_login = false;
    service::save(
        &call.state,
        &call.user()?.scope(),
        &profile,
        None,
        &call.user()?.actor(),
    )
    .await?;
    Ok(Reply::ok())
}
