//! Devices, their live connections and the registration lobby.

use std::collections::BTreeMap;

use halley_api::constants::SEVT_DEVICE_REMOVED;
use halley_api::types::{LiveUserConnection, RegistrationLobbyConnection};
use halley_protocol::device::CLOSE_DROPPED;
use serde_json::json;

use crate::auth::TenantScope;
use crate::devices::{self, NewDevice, Proof};
use crate::http::{quoted, ApiError, ApiResult, Call, Reply};
use crate::service::{devices as device_rules, users};

/// `dispatcher/list-active`: the live device connections in the caller's
/// scope (an end user: their own), by connection ID, optionally of one
/// account (`UserNameFilter`).
pub async fn list_active(call: Call) -> ApiResult<Reply> {
    let (scope, username) = match call.user() {
        Ok(user) => (user.scope(), Some(user.username().to_string())),
        Err(_) => (
            call.admin()?.scope(),
            call.params
                .opt_str("UserNameFilter")
                .filter(|name| !name.is_empty())
                .map(str::to_string),
        ),
    };
    let mut live: BTreeMap<String, LiveUserConnection> = call
        .state
        .devices
        .devices(&scope, username.as_deref())
        .iter()
        .map(|c| (c.id.clone(), c.as_live_user_connection()))
        .collect();
    // In a cluster, the devices the other nodes hold too.
    if let Some(cluster) = &call.state.cluster {
        for snapshot in crate::devices::relay::elsewhere(cluster).await {
            if !snapshot.in_lobby()
                && scope.includes(&snapshot.organization_id)
                && username
                    .as_deref()
                    .is_none_or(|name| snapshot.username == name)
            {
                live.insert(snapshot.id.clone(), snapshot.as_live_user_connection());
            }
        }
    }
    Ok(Reply::json(&live))
}

/// `revoke-device`: removes a device from its account, with the Protected
/// Items it owns; its key stops working and its connections end.
pub async fn revoke(call: Call) -> ApiResult<Reply> {
    let admin = call.admin()?;
    let scope = admin.scope();
    let username = call.params.str("TargetUser")?;
    let device_id = call.params.str("TargetDevice")?;
    let (profile, _) = users::load(&call.state, &scope, username).await?;
    if !profile.devices.contains_key(device_id) {
        return Err(ApiError::invalid_param(
            "TargetDevice",
            format!("the account has no device {}", quoted(device_id)),
        ));
    }
    users::edit(&call.state, &scope, username, &admin.actor(), |profile| {
        device_rules::remove(profile, device_id)
    })
    .await?;
    devices::revoked(&call.state, &scope, &profile, device_id).await?;
    call.state.events.emit(
        SEVT_DEVICE_REMOVED,
        &admin.actor(),
        &profile.organization_id,
        device_id,
        Some(json!({"Username": username, "DeviceID": device_id})),
    );
    Ok(Reply::ok())
}

/// `installation/list-active`: devices waiting in the lobby, by connection ID.
pub async fn lobby_list(call: Call) -> ApiResult<Reply> {
    let scope = call.admin()?.scope();
    let mut lobby: BTreeMap<String, RegistrationLobbyConnection> = call
        .state
        .devices
        .lobby(&scope)
        .iter()
        .map(|c| (c.id.clone(), c.as_lobby_connection()))
        .collect();
    for snapshot in lobby_elsewhere(&call, &scope).await {
        lobby.insert(snapshot.id.clone(), snapshot.as_lobby_connection());
    }
    Ok(Reply::json(&lobby))
}

/// In a cluster, the other nodes' lobby connections in `scope`.
async fn lobby_elsewhere(call: &Call, scope: &TenantScope) -> Vec<crate::devices::relay::Snapshot> {
    let Some(cluster) = &call.state.cluster else {
        return Vec::new();
    };
    crate::devices::relay::elsewhere(cluster)
        .await
        .into_iter()
        .filter(|snapshot| snapshot.in_lobby() && scope.includes(&snapshot.organization_id))
        .collect()
}

/// The lobby connection of `DeviceID`, on this node or (through a stand-in)
/// another.
async fn lobby_device(
    call: &Call,
) -> ApiResult<std::sync::Arc<crate::devices::registry::Connection>> {
    let device_id = call.params.non_empty("DeviceID")?;
    let scope = call.admin()?.scope();
    let missing = || {
        ApiError::invalid_param(
            "DeviceID",
            format!("no device {} is waiting in the lobby", quoted(device_id)),
        )
    };
    let here = call
        .state
        .devices
        .lobby(&scope)
        .into_iter()
        .find(|c| c.device_id() == device_id);
    if let Some(connection) = here {
        return Ok(connection);
    }
    let snapshot = lobby_elsewhere(call, &scope)
        .await
        .into_iter()
        .find(|snapshot| snapshot.device_id == device_id)
        .ok_or_else(missing)?;
    crate::devices::relay::stand_in(&call.state, &snapshot.id)
        .await
        .ok_or_else(missing)
}

/// `installation/dispatch/register-device`: registers a lobby device to an
/// account, with the account's password, and sends it its credentials.
pub async fn lobby_register(call: Call) -> ApiResult<Reply> {
    let admin = call.admin()?;
    let connection = lobby_device(&call).await?;
    let username = call.params.non_empty("TargetUser")?;
    let password = call.params.str("TargetPassword")?;
    let (profile, _) = users::load(&call.state, &admin.scope(), username).await?;
    let scope = admin
        .scope()
        .narrowed_to(&profile.organization_id)
        .ok_or_else(ApiError::user_not_found)?;
    if !crate::auth::confirm_user_password(&call.state, &profile, password, &call.origin).await? {
        return Err(ApiError::invalid_param(
            "TargetPassword",
            "it is not the account's password",
        ));
    }
    let info = &connection.info;
    let registration = devices::register(
        &call.state,
        &scope,
        &profile,
        Proof::Password(password),
        NewDevice {
            device_id: Some(connection.device_id().to_string()),
            config: halley_api::types::DeviceConfig {
                friendly_name: info.friendly_name.clone(),
                platform_version: info.platform_version.clone(),
                client_version: info.client_version.clone(),
                device_timezone: info.timezone.clone(),
                ..Default::default()
            },
            renewing: None,
        },
    )
    .await?;
    connection.send_credentials(registration);
    Ok(Reply::ok())
}

/// `installation/dispatch/drop-connection`: closes a lobby connection.
pub async fn lobby_drop(call: Call) -> ApiResult<Reply> {
    let connection = lobby_device(&call).await?;
    connection.close(CLOSE_DROPPED, "dropped by an administrator", true);
    Ok(Reply::ok())
}

/// `update-campaign/start`: starts (or, with `Active` off, stops) a
/// campaign that updates devices to the agent build this server offers.
pub async fn campaign_start(call: Call) -> ApiResult<Reply> {
    let options: halley_api::types::UpdateCampaignOptions = call.params.json("Options")?;
    devices::campaign::start(&call.state, options).await?;
    Ok(Reply::ok())
}

/// `update-campaign/status`: the campaign and each device's place in it.
pub async fn campaign_status(call: Call) -> ApiResult<Reply> {
    Ok(Reply::json(&devices::campaign::status(&call.state).await?))
}
