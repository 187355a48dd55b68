//! Devices and their live connections.

use halley_api::constants::SEVT_DEVICE_REMOVED;
use serde_json::json;

use crate::http::{quoted, ApiError, ApiResult, Call, Reply};
use crate::service::{devices, users};

/// `dispatcher/list-active`: the live device connections in the caller's
/// scope, by connection ID. No device protocol is served yet, so no device
/// is ever connected and the truthful answer is an empty map, which is what
/// monitoring integrations (they call this on every scrape) expect then.
pub async fn list_active(_call: Call) -> ApiResult<Reply> {
    Ok(Reply::json(&serde_json::Map::new()))
}

/// `revoke-device`: removes a device from its account, with the Protected
/// Items it owns. It needs no live connection.
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
        devices::remove(profile, device_id)
    })
    .await?;
    call.state.events.emit(
        SEVT_DEVICE_REMOVED,
        &admin.actor(),
        &profile.organization_id,
        device_id,
        Some(json!({"Username": username, "DeviceID": device_id})),
    );
    Ok(Reply::ok())
}
