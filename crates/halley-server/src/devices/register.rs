//! `POST /api/v1/device/register`: a device joins an account with the
//! account's password (and second factor) or an install token, and gets
//! its own credentials (`docs/device-protocol.md` §1).

use std::sync::Arc;

use halley_api::types::{DeviceConfig, InstallToken, OSInfo};
use halley_protocol::device::Registration;

use super::{NewDevice, Proof};
use crate::api::install_tokens;
use crate::auth::{Origin, TenantScope};
use crate::http::{ApiError, ApiResult, Params};
use crate::service::users;
use crate::state::AppState;
use crate::store::{DocumentRecord, ReplaceOutcome};
use crate::util::now_unix;

pub async fn serve(state: Arc<AppState>, origin: Origin, body: &[u8]) -> Registration {
    let params = Params::from_form(body, &Params::default());
    let outcome = state
        .events
        .durably(register(&state, &origin, &params))
        .await;
    outcome.unwrap_or_else(|err| match err {
        ApiError::Message { status, message } => Registration {
            status,
            message,
            ..Default::default()
        },
        ApiError::TotpRequired | ApiError::SecurityKeyRequired { .. } => Registration {
            status: 403,
            message: "This account needs a second factor: send AuthType=PasswordTOTP and TOTP"
                .into(),
            ..Default::default()
        },
    })
}

async fn register(state: &AppState, origin: &Origin, params: &Params) -> ApiResult<Registration> {
    let device = new_device(params)?;
    if let Some(token) = params.opt_str("InstallToken").filter(|t| !t.is_empty()) {
        let (scope, profile) = claim_token(state, token).await?;
        return super::register(state, &scope, &profile, Proof::InstallToken(token), device).await;
    }
    let password = params
        .opt_str("Password")
        .filter(|p| !p.is_empty())
        .ok_or_else(|| {
            ApiError::bad_request("Registration needs Username and Password, or an InstallToken")
        })?;
    let user = crate::auth::user(state, params, origin).await?;
    let scope = user.scope();
    let (profile, _) = users::load(state, &scope, user.username()).await?;
    super::register(state, &scope, &profile, Proof::Password(password), device).await
}

fn new_device(params: &Params) -> ApiResult<NewDevice> {
    let platform_version = match params.opt_str("PlatformVersion").filter(|p| !p.is_empty()) {
        Some(text) => serde_json::from_str::<OSInfo>(text).map_err(|err| {
            ApiError::invalid_param("PlatformVersion", format!("not an OSInfo object: {err}"))
        })?,
        None => OSInfo::default(),
    };
    let timezone = params.opt_str("DeviceTimezone").unwrap_or("").to_string();
    if !timezone.is_empty() && jiff::tz::TimeZone::get(&timezone).is_err() {
        return Err(ApiError::invalid_param(
            "DeviceTimezone",
            format!(
                "{} is not a known time zone",
                crate::http::quoted(&timezone)
            ),
        ));
    }
    Ok(NewDevice {
        device_id: params
            .opt_str("DeviceID")
            .filter(|id| !id.is_empty())
            .map(str::to_string),
        config: DeviceConfig {
            friendly_name: params.opt_str("FriendlyName").unwrap_or("").to_string(),
            platform_version,
            client_version: params.opt_str("ClientVersion").unwrap_or("").to_string(),
            device_timezone: timezone,
            ..Default::default()
        },
        renewing: None,
    })
}

/// Uses up an install token: one conditional write, so of two devices
/// presenting it at once exactly one gets it.
async fn claim_token(
    state: &AppState,
    token: &str,
) -> ApiResult<(TenantScope, halley_api::types::UserProfileConfig)> {
    let invalid = || ApiError::invalid_param("InstallToken", "it is unknown, used or expired");
    let id = blake3::hash(token.as_bytes()).to_hex().to_string();
    let everywhere = TenantScope::server_wide();
    let record = state
        .store
        .document_get(&everywhere, install_tokens::KIND, &id)
        .await?
        .ok_or_else(invalid)?;
    let mut parsed: InstallToken =
        serde_json::from_str(&record.doc_json).map_err(ApiError::internal)?;
    if parsed.used || parsed.expire_time <= now_unix() {
        return Err(invalid());
    }
    parsed.used = true;
    let used = DocumentRecord {
        doc_json: serde_json::to_string(&parsed).map_err(ApiError::internal)?,
        hash: "used".into(),
        ..record.clone()
    };
    match state
        .store
        .document_put(&everywhere, &used, Some(&record.hash))
        .await?
    {
        ReplaceOutcome::Replaced => {}
        _ => return Err(invalid()),
    }
    let scope = super::jobs::scope_of(&record.organization_id);
    let (profile, _) = users::load(state, &scope, &parsed.username).await?;
    if profile.is_suspended {
        return Err(ApiError::forbidden("This account is suspended"));
    }
    Ok((scope, profile))
}
