//! The device itself: its profile and connection, its credentials, its
//! server URL, and its software (stop, update, uninstall).

use halley_api::types::OrganizationLoginURLResponse;
use halley_protocol::device::{Call as DeviceCall, CLOSE_DROPPED};

use super::{ask, caller_scope, target};
use crate::devices::live::profile_message;
use crate::devices::{self, NewDevice, Proof};
use crate::http::{quoted, ApiError, ApiResult, Call, Reply};
use crate::service::users;

/// `refetch-profile`: sends the device its account's profile again.
pub async fn refetch_profile(call: Call) -> ApiResult<Reply> {
    let connection = target(&call).await?;
    let scope = caller_scope(&call)?;
    let (profile, record) = users::load(&call.state, &scope, connection.username()).await?;
    connection.send(profile_message(&profile, &record.profile_hash));
    Ok(Reply::ok())
}

/// `drop-connection`: closes the connection; the device dials again.
pub async fn drop_connection(call: Call) -> ApiResult<Reply> {
    let connection = target(&call).await?;
    connection.close(CLOSE_DROPPED, "dropped by request; reconnect", true);
    Ok(Reply::ok())
}

/// `kill-process`: the agent stops, and stays stopped until started again.
pub async fn kill_process(call: Call) -> ApiResult<Reply> {
    let connection = target(&call).await?;
    ask(&connection, DeviceCall::KillProcess).await?;
    Ok(Reply::ok())
}

/// `force-login`: the device's credentials stop working and its
/// connections end; it waits until it is logged in again
/// (`halley-agent login`, which keeps its device ID and Protected Items).
pub async fn force_login(call: Call) -> ApiResult<Reply> {
    let connection = target(&call).await?;
    let device = (
        connection.organization_id(),
        connection.username(),
        connection.device_id(),
    );
    let why = "signed out by the server (force-login): log in again";
    devices::retire_key(&call.state, &caller_scope(&call)?, device, why).await?;
    Ok(Reply::ok())
}

/// `update-login-password`: the device signs in again with the account's
/// password `NewPassword` (checked, and counted toward login protection,
/// like any sign-in) and gets a new device key over its connection; the
/// old key stops working and the device reconnects with the new one.
pub async fn update_login_password(call: Call) -> ApiResult<Reply> {
    let connection = target(&call).await?;
    let password = call.params.non_empty("NewPassword")?;
    let scope = caller_scope(&call)?;
    let (profile, _) = users::load(&call.state, &scope, connection.username()).await?;
    if !crate::auth::confirm_user_password(&call.state, &profile, password, &call.origin).await? {
        return Err(ApiError::invalid_param(
            "NewPassword",
            format!(
                "it is not the password of the account {}",
                quoted(&profile.username)
            ),
        ));
    }
    let device_id = connection.device_id().to_string();
    let device = NewDevice {
        config: profile.devices.get(&device_id).cloned().unwrap_or_default(),
        device_id: Some(device_id),
        renewing: Some(connection.id.clone()),
    };
    let registration = devices::register(
        &call.state,
        &scope,
        &profile,
        Proof::Password(password),
        device,
    )
    .await?;
    connection.send_credentials(registration);
    Ok(Reply::ok())
}

/// `update-software`: the device installs the agent build this server
/// offers and restarts into it. Refused while one of its jobs runs (the
/// restart would end it). `SelfAddress` is not used: the device fetches the
/// build from the server it is connected to.
pub async fn update_software(call: Call) -> ApiResult<Reply> {
    let connection = target(&call).await?;
    crate::devices::software::offered_version(&call.state).await?;
    let busy = crate::devices::software::runs_a_job(
        &call.state,
        connection.organization_id(),
        connection.username(),
        connection.device_id(),
    )
    .await?;
    if busy {
        return Err(ApiError::bad_request(format!(
            "A job is running on the device {}: update it when the job ends",
            quoted(connection.device_id())
        )));
    }
    ask(&connection, DeviceCall::UpdateSoftware).await?;
    Ok(Reply::ok())
}

/// `uninstall-software`: the device removes the agent (and, with
/// `RemoveConfigFile`, its configuration and state) and stops for good.
pub async fn uninstall(call: Call) -> ApiResult<Reply> {
    let connection = target(&call).await?;
    let remove_config = call.params.opt_bool("RemoveConfigFile")?.unwrap_or(false);
    ask(&connection, DeviceCall::Uninstall { remove_config }).await?;
    Ok(Reply::ok())
}

/// `update-login-url`: the device uses `NewURL` from now on and reconnects
/// there. `Force` is accepted; the device always takes the URL.
pub async fn update_login_url(call: Call) -> ApiResult<Reply> {
    let connection = target(&call).await?;
    let url = call
        .params
        .non_empty("NewURL")?
        .trim_end_matches('/')
        .to_string();
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(ApiError::invalid_param(
            "NewURL",
            format!("{} is not an http:// or https:// URL", quoted(&url)),
        ));
    }
    ask(&connection, DeviceCall::UpdateLoginUrl { url }).await?;
    Ok(Reply::ok())
}

/// `get-default-login-url`: the server URL a tenant's clients log in to
/// (its branding's `DefaultLoginServerURL`; the top level's for "").
pub async fn default_login_url(call: Call) -> ApiResult<Reply> {
    let scope = call.admin()?.scope();
    let organization_id = call.params.str("OrganizationID")?;
    let config = call.state.config.get();
    let branding = match organization_id {
        "" if scope.includes("") => &config.branding,
        id => match config.organizations.get(id).filter(|_| scope.includes(id)) {
            Some(organization) => &organization.branding,
            None => {
                return Err(ApiError::invalid_param(
                    "OrganizationID",
                    format!("no tenant {}", quoted(id)),
                ))
            }
        },
    };
    Ok(Reply::json(&OrganizationLoginURLResponse {
        login_url: branding.default_login_server_url.clone(),
        ..Default::default()
    }))
}
