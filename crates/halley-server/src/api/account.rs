//! An administrator's own account and sessions: `/api/v1/admin/account/*`,
//! `add-first-admin-user` and `/api/v1/hybrid/session/start`.

use halley_api::constants::{
    SEVT_ACCOUNT_ADMIN_NEW, SEVT_ACCOUNT_ADMIN_SESSION_REVOKE, SEVT_ACCOUNT_ADMIN_UPDATED,
};
use halley_api::types::{
    AdminAccountPropertiesResponse, AdminSecurityOptions, AllowedAdminUser,
    SessionKeyRegeneratedResponse, TotpRegeneratedResponse,
};

use crate::auth::{password, sessions, totp, u2f, webauthn, AdminPrincipal, Principal};
use crate::http::{ApiError, ApiResult, Call, Reply};
use crate::service::admins;
use crate::service::users::load;
use crate::state::AppState;
use crate::store::SessionKind;

/// Stands in for secrets in `account/properties`; sending it back unchanged
/// to `account/set-properties` keeps the secret as it is.
pub use crate::service::OBSCURED;

pub fn session_reply(key: String, kind: SessionKind) -> Reply {
    Reply::json(&SessionKeyRegeneratedResponse {
        status: 200,
        message: "OK".into(),
        session_key: key,
        session_type: kind.as_str().into(),
        ..Default::default()
    })
}

pub async fn session_start(call: Call) -> ApiResult<Reply> {
    let admin = call.admin()?;
    let key = sessions::start(
        &call.state,
        SessionKind::Admin,
        admin.username(),
        admin.organization_id(),
        &admin.actor(),
    )
    .await?;
    Ok(session_reply(key, SessionKind::Admin))
}

pub async fn session_start_as_user(call: Call) -> ApiResult<Reply> {
    let admin = call.admin()?;
    let (profile, _) = load(&call.state, &admin.scope(), call.params.str("TargetUser")?).await?;
    if profile.is_suspended {
        return Err(ApiError::forbidden("This account is suspended"));
    }
    let key = sessions::start(
        &call.state,
        SessionKind::User,
        &profile.username,
        &profile.organization_id,
        &admin.actor(),
    )
    .await?;
    Ok(session_reply(key, SessionKind::User))
}

pub async fn hybrid_session_start(call: Call) -> ApiResult<Reply> {
    let (kind, username, organization, actor) = match &call.principal {
        Principal::Admin(a) => (
            SessionKind::Admin,
            &a.username(),
            &a.organization_id(),
            a.actor(),
        ),
        Principal::User(u) => (
            SessionKind::User,
            &u.username(),
            &u.organization_id(),
            u.actor(),
        ),
        Principal::Anonymous => return Err(ApiError::unauthorised()),
    };
    let key = sessions::start(&call.state, kind, username, organization, &actor).await?;
    Ok(session_reply(key, kind))
}

/// Ends the session the call was made with.
pub async fn session_revoke(call: Call) -> ApiResult<Reply> {
    let admin = call.admin()?;
    let Some(key_hash) = &admin.session_key_hash() else {
        return Err(ApiError::bad_request(
            "This call was not made with a session key (AuthType=SessionKey), so there is no session to revoke",
        ));
    };
    sessions::revoke(&call.state, key_hash).await?;
    call.state.events.emit(
        SEVT_ACCOUNT_ADMIN_SESSION_REVOKE,
        &admin.actor(),
        admin.organization_id(),
        admin.username(),
        None,
    );
    Ok(Reply::ok())
}

/// Every Halley session is complete once started (the second factor is
/// checked before a session exists), so upgrading confirms that the named
/// session is a live one of the caller's.
pub async fn session_upgrade(call: Call) -> ApiResult<Reply> {
    let admin = call.admin()?;
    let key = call.params.str("SessionKey")?;
    match sessions::resolve(&call.state, key, SessionKind::Admin, admin.username()).await? {
        Some(_) => Ok(Reply::ok()),
        None => Err(ApiError::invalid_param(
            "SessionKey",
            "no live session of this administrator has this key",
        )),
    }
}

pub async fn add_first_admin_user(call: Call) -> ApiResult<Reply> {
    let username = call.params.non_empty("TargetUser")?.to_string();
    let password = call.params.non_empty("TargetPassword")?.to_string();
    call.state
        .config
        .update(|config| -> ApiResult<()> {
            if !config.admin_users.is_empty() {
                return Err(ApiError::forbidden(
                    "This server already has an administrator; add-first-admin-user only works on an empty server",
                ));
            }
            config.admin_users.push(admins::new_admin(&username, &password, ""));
            Ok(())
        })
        .await?;
    call.state
        .events
        .emit(SEVT_ACCOUNT_ADMIN_NEW, "system", "", &username, None);
    Ok(Reply::ok())
}

fn current_admin(state: &AppState, admin: &AdminPrincipal) -> ApiResult<AllowedAdminUser> {
    state
        .config
        .get()
        .admin_users
        .iter()
        .find(|a| a.username == admin.username() && a.organization_id == admin.organization_id())
        .cloned()
        .ok_or_else(ApiError::unauthorised)
}

/// An administrator entry as shown to other administrators: secrets obscured.
pub fn obscured(admin: &AllowedAdminUser) -> AllowedAdminUser {
    let mut admin = admin.clone();
    admin.password = obscure(&admin.password);
    admin.totp_key = obscure(&admin.totp_key);
    admin
}

fn obscure(secret: &str) -> String {
    if secret.is_empty() {
        String::new()
    } else {
        OBSCURED.to_string()
    }
}

pub async fn properties(call: Call) -> ApiResult<Reply> {
    let entry = current_admin(&call.state, call.admin()?)?;
    Ok(Reply::json(&AdminAccountPropertiesResponse {
        organization_id: entry.organization_id.clone(),
        permissions: entry.permissions.clone(),
        security: AdminSecurityOptions {
            password_format: entry.password_format,
            password: obscure(&entry.password),
            allow_password_login: entry.allow_password_login,
            allow_password_and_totp_login: entry.allow_password_and_totp_login,
            allow_password_and_u2f_login: entry.allow_password_and_u2f_login,
            allow_password_and_web_authn_login: entry.allow_password_and_web_authn_login,
            u2f_registrations: entry.u2f_registrations.clone(),
            web_authn_registrations: entry.web_authn_registrations.clone(),
            require_password_change: entry.require_password_change,
            totp_key_encryption_format: entry.totp_key_encryption_format,
            totp_key: obscure(&entry.totp_key),
            ip_whitelist: entry.ip_whitelist.clone(),
            ..Default::default()
        },
        ..Default::default()
    }))
}

/// Changes the caller's login settings. A new password needs a call
/// authenticated by the current password; the TOTP secret only changes through
/// `regenerate-totp`; and no change may lock the caller out.
pub async fn set_properties(call: Call) -> ApiResult<Reply> {
    let admin = call.admin()?.clone();
    let security: AdminSecurityOptions = call.params.json("Security")?;
    let entry = current_admin(&call.state, &admin)?;
    let new_password = match security.password.as_str() {
        "" | OBSCURED => None,
        password => Some(password.to_string()),
    };
    if new_password.is_some() {
        if !entry.external_authentication_source.is_empty() {
            return Err(ApiError::forbidden(
                "This administrator signs in through an external authentication source, which keeps its password",
            ));
        }
        if entry.permissions.prevent_change_password {
            return Err(ApiError::forbidden(
                "This administrator may not change its password",
            ));
        }
        if admin.session_key_hash().is_some() {
            return Err(ApiError::forbidden(
                "Changing the password needs the current one: make this call with AuthType=Password",
            ));
        }
    }
    if !matches!(security.totp_key.as_str(), "" | OBSCURED) && security.totp_key != entry.totp_key {
        return Err(ApiError::invalid_param(
            "Security",
            "TOTPKey cannot be set directly; use account/regenerate-totp",
        ));
    }
    // Keys are registered by the webauthn/* and u2f/* calls; here they can
    // only be removed (left out of the list).
    let (kept, mut removed) = kept_keys(
        &entry.web_authn_registrations,
        &security.web_authn_registrations,
        |a, b| a.id == b.id,
        |r| r.description.clone(),
    );
    let (kept_u2f, removed_u2f) = kept_keys(
        &entry.u2f_registrations,
        &security.u2f_registrations,
        |a, b| a.registration == b.registration,
        |r| r.description.clone(),
    );
    removed.extend(removed_u2f);
    if security.allow_password_and_web_authn_login && kept.is_empty() {
        return Err(ApiError::invalid_param(
            "Security",
            "AllowPasswordAndWebAuthnLogin needs a security key: register one with account/webauthn/* first",
        ));
    }
    if security.allow_password_and_u2f_login && kept_u2f.is_empty() {
        return Err(ApiError::invalid_param(
            "Security",
            "AllowPasswordAndU2FLogin needs a U2F key: register one with account/u2f/* first",
        ));
    }
    if !security.allow_password_login
        && !security.allow_password_and_totp_login
        && !security.allow_password_and_web_authn_login
        && !security.allow_password_and_u2f_login
    {
        return Err(ApiError::invalid_param(
            "Security",
            "enable AllowPasswordLogin, AllowPasswordAndTOTPLogin, AllowPasswordAndWebAuthnLogin or AllowPasswordAndU2FLogin, or the account could not log in",
        ));
    }
    if security.allow_password_and_totp_login && entry.totp_key.is_empty() {
        return Err(ApiError::invalid_param(
            "Security",
            "AllowPasswordAndTOTPLogin needs a TOTP secret: call account/regenerate-totp first",
        ));
    }
    if !security.ip_whitelist.is_empty() {
        let re = regex::Regex::new(&security.ip_whitelist).map_err(|e| {
            ApiError::invalid_param(
                "Security",
                format!("IPWhitelist is not a valid regular expression: {e}"),
            )
        })?;
        if !re.is_match(&call.origin.client_ip) {
            return Err(ApiError::invalid_param(
                "Security",
                format!(
                    "IPWhitelist does not match your own address {}, which would lock you out",
                    call.origin.client_ip
                ),
            ));
        }
    }
    let hashed = match new_password {
        Some(new) => Some(
            call.state
                .verify_pool
                .run(move || password::hash_password(&new))
                .await?,
        ),
        None => None,
    };
    let password_changed = hashed.is_some();
    call.state
        .config
        .update(|config| -> ApiResult<()> {
            let entry = admins::find_mut(
                &mut config.admin_users,
                admin.username(),
                admin.organization_id(),
            )
            .ok_or_else(ApiError::unauthorised)?;
            if let Some(hash) = hashed {
                entry.password = hash;
                entry.password_format = password::PASSWORD_FORMAT_ARGON2ID;
                entry.require_password_change = false;
            } else {
                entry.require_password_change = security.require_password_change;
            }
            entry.allow_password_login = security.allow_password_login;
            entry.allow_password_and_totp_login = security.allow_password_and_totp_login;
            entry.allow_password_and_web_authn_login = security.allow_password_and_web_authn_login;
            entry.web_authn_registrations = kept.clone();
            entry.allow_password_and_u2f_login = security.allow_password_and_u2f_login;
            entry.u2f_registrations = kept_u2f.clone();
            entry.ip_whitelist = security.ip_whitelist.clone();
            Ok(())
        })
        .await?;
    if password_changed {
        // Every session opened with the old password ends with it.
        sessions::end_all(&call.state, SessionKind::Admin, admin.username()).await?;
    }
    call.state.events.emit(
        SEVT_ACCOUNT_ADMIN_UPDATED,
        &admin.actor(),
        admin.organization_id(),
        admin.username(),
        (!removed.is_empty()).then(|| serde_json::json!({"SecurityKeysRemoved": removed})),
    );
    Ok(Reply::ok())
}

/// The stored keys that `sent` still lists, and the names of the others.
fn kept_keys<T: Clone>(
    stored: &[T],
    sent: &[T],
    same: impl Fn(&T, &T) -> bool,
    name: impl Fn(&T) -> String,
) -> (Vec<T>, Vec<String>) {
    let (kept, removed): (Vec<T>, Vec<T>) = stored
        .iter()
        .cloned()
        .partition(|r| sent.iter().any(|s| same(r, s)));
    (kept, removed.iter().map(name).collect())
}

/// The key a registration challenge belongs to: usernames repeat across
/// tenants.
fn challenge_owner(admin: &AdminPrincipal) -> String {
    format!("{}\u{0}{}", admin.organization_id(), admin.username())
}

/// `account/webauthn/request-registration-challenge`: the options for the
/// browser's `navigator.credentials.create`, for `SelfAddress`.
pub async fn webauthn_registration_challenge(call: Call) -> ApiResult<Reply> {
    let admin = call.admin()?;
    let entry = current_admin(&call.state, admin)?;
    let (id, options) = webauthn::start_registration(
        &call.state.webauthn,
        &challenge_owner(admin),
        &entry,
        call.params.non_empty("SelfAddress")?,
    )?;
    Ok(Reply::json(&serde_json::json!({
        "Status": 200,
        "Message": "OK",
        "ChallengeID": id,
        "CredentialCreationOptions": options,
    })))
}

/// `account/webauthn/submit-challenge-response`: the browser's answer
/// (`Credential`, the `PublicKeyCredential` as JSON) registers the key,
/// named by Halley's optional `Description`.
pub async fn webauthn_submit_challenge(call: Call) -> ApiResult<Reply> {
    let admin = call.admin()?.clone();
    let registration = webauthn::finish_registration(
        &call.state.webauthn,
        &challenge_owner(&admin),
        call.params.non_empty("ChallengeID")?,
        call.params.non_empty("SelfAddress")?,
        call.params.non_empty("Credential")?,
        call.params.opt_str("Description").unwrap_or(""),
    )?;
    let description = registration.description.clone();
    add_key(&call, &admin, description, |entry| {
        if entry
            .web_authn_registrations
            .iter()
            .any(|r| r.id == registration.id)
        {
            return Err(ApiError::invalid_param(
                "Credential",
                "this security key is registered already",
            ));
        }
        entry.web_authn_registrations.push(registration);
        Ok(())
    })
    .await
}

/// Keeps a newly registered key in the caller's entry (`add`), and says so
/// in an event.
async fn add_key(
    call: &Call,
    admin: &AdminPrincipal,
    description: String,
    add: impl FnOnce(&mut AllowedAdminUser) -> ApiResult<()>,
) -> ApiResult<Reply> {
    admins::update_entry(&call.state, admin.username(), admin.organization_id(), add).await?;
    call.state.events.emit(
        SEVT_ACCOUNT_ADMIN_UPDATED,
        &admin.actor(),
        admin.organization_id(),
        admin.username(),
        Some(serde_json::json!({"SecurityKeyRegistered": description})),
    );
    Ok(Reply::ok())
}

/// `account/u2f/request-registration-challenge`: a legacy U2F registration
/// for `SelfAddress` (its origin is the application ID).
pub async fn u2f_registration_challenge(call: Call) -> ApiResult<Reply> {
    let admin = call.admin()?;
    let entry = current_admin(&call.state, admin)?;
    Ok(Reply::json(&u2f::start_registration(
        &call.state.u2f,
        &challenge_owner(admin),
        &entry,
        call.params.non_empty("SelfAddress")?,
    )?))
}

/// `account/u2f/submit-challenge-response`: the key's registration message
/// registers it, named `Description`.
pub async fn u2f_submit_challenge(call: Call) -> ApiResult<Reply> {
    let admin = call.admin()?.clone();
    if call.params.str("U2FVersion")? != u2f::VERSION {
        return Err(ApiError::invalid_param(
            "U2FVersion",
            format!("only {} is known", u2f::VERSION),
        ));
    }
    let registration = u2f::finish_registration(
        &call.state.u2f,
        &challenge_owner(&admin),
        call.params.non_empty("U2FChallengeID")?,
        call.params.non_empty("U2FClientData")?,
        call.params.non_empty("U2FRegistrationData")?,
        call.params.opt_str("Description").unwrap_or(""),
    )?;
    let description = registration.description.clone();
    add_key(&call, &admin, description, |entry| {
        entry.u2f_registrations.push(registration);
        Ok(())
    })
    .await
}

/// Issues a new TOTP secret and applies it at once.
pub async fn regenerate_totp(call: Call) -> ApiResult<Reply> {
    let admin = call.admin()?.clone();
    let secret = totp::new_secret();
    let issuer = call.state.config.get().branding.brand_name.clone();
    let (url, image) = totp::enrolment(&secret, &issuer, admin.username())
        .ok_or_else(|| ApiError::internal("TOTP enrolment failed"))?;
    call.state
        .config
        .update(|config| -> ApiResult<()> {
            let entry = admins::find_mut(
                &mut config.admin_users,
                admin.username(),
                admin.organization_id(),
            )
            .ok_or_else(ApiError::unauthorised)?;
            entry.totp_key = secret;
            entry.totp_key_encryption_format = 0;
            Ok(())
        })
        .await?;
    Ok(Reply::json(&TotpRegeneratedResponse {
        status: 200,
        message: "OK".into(),
        image,
        url,
        ..Default::default()
    }))
}

/// A correct code proves the authenticator works and turns on TOTP login.
pub async fn validate_totp(call: Call) -> ApiResult<Reply> {
    let admin = call.admin()?.clone();
    let code = call.params.str("TOTPCode")?;
    let entry = current_admin(&call.state, &admin)?;
    if entry.totp_key.is_empty() {
        return Err(ApiError::bad_request(
            "No TOTP secret is set: call account/regenerate-totp first",
        ));
    }
    let account = format!("admin:{}", admin.username());
    if !totp::check(call.state.store.as_ref(), &account, &entry.totp_key, code).await? {
        return Err(ApiError::invalid_param(
            "TOTPCode",
            "the code is not valid for this account now",
        ));
    }
    call.state
        .config
        .update(|config| -> ApiResult<()> {
            let entry = admins::find_mut(
                &mut config.admin_users,
                admin.username(),
                admin.organization_id(),
            )
            .ok_or_else(ApiError::unauthorised)?;
            entry.allow_password_and_totp_login = true;
            entry.allow_password_login = false;
            Ok(())
        })
        .await?;
    Ok(Reply::ok())
}
