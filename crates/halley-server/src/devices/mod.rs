//! Devices: registration (`register.rs`), their live connections
//! (`registry.rs`, `live.rs`), the jobs they report (`jobs.rs`), their vault
//! keys (`vault_keys.rs`), restore archives they stream to a caller
//! (`uploads.rs`), the agent build they update to (`software.rs`,
//! `campaign.rs`) and the server's watch over them (`watch.rs`: abandoned
//! and missed jobs, update campaigns, log pruning). A device's live state is in
//! its own table and in memory, never in profile read-modify-writes; the
//! profile holds only what Comet shows there (`Devices[id]`).

pub mod campaign;
pub mod jobs;
pub mod live;
pub mod register;
pub mod registry;
pub mod relay;
pub mod software;
pub mod uploads;
pub mod vault_keys;
pub mod watch;

use halley_api::constants::SEVT_DEVICE_NEW;
use halley_api::types::{DeviceConfig, UserProfileConfig};
use halley_protocol::device::{Registration, CLOSE_REFUSED};
use serde_json::json;

use crate::auth::TenantScope;
use crate::http::{quoted, ApiError, ApiResult};
use crate::service::{account_keys, users};
use crate::state::AppState;
use crate::store::{DeviceRecord, UserRecord};
use crate::util::{now_unix, random_hex};

pub use registry::Registry;

pub fn key_hash(device_key: &str) -> String {
    blake3::hash(device_key.as_bytes()).to_hex().to_string()
}

/// Device IDs are chosen by devices: keep them to a safe alphabet.
pub fn check_device_id(device_id: &str) -> Result<(), String> {
    let good = !device_id.is_empty()
        && device_id.len() <= 64
        && device_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    match good {
        true => Ok(()),
        false => Err(format!(
            "DeviceID {} must be 1 to 64 letters, digits, '-' or '_'",
            quoted(device_id)
        )),
    }
}

/// Whether a device key may connect now: its device, the account's profile
/// and that profile's hash, or why not.
pub async fn standing(
    state: &AppState,
    key_hash: &str,
    device_id: &str,
) -> Result<(DeviceRecord, UserProfileConfig, String), String> {
    let refused = || {
        "this device's credentials are not valid (revoked, or the account is gone); log in again"
            .to_string()
    };
    let record = state
        .store
        .device_by_key(key_hash)
        .await
        .map_err(|e| e.to_string())?
        .filter(|record| record.device_id == device_id)
        .ok_or_else(refused)?;
    let scope = jobs::scope_of(&record.organization_id);
    let (profile, user) = users::load(state, &scope, &record.username)
        .await
        .map_err(|_| refused())?;
    if !profile.devices.contains_key(device_id) {
        return Err(refused());
    }
    if profile.is_suspended {
        return Err("the account is suspended".into());
    }
    crate::auth::refuse_suspended_tenant(&state.config.get(), &profile.organization_id)
        .map_err(|_| "the account's organization is suspended".to_string())?;
    Ok((record, profile, user.profile_hash))
}

/// What a registering device says about itself.
#[derive(Debug, Clone, Default)]
pub struct NewDevice {
    pub device_id: Option<String>,
    pub config: DeviceConfig,
    /// The live connection this registration renews
    /// (`update-login-password`): it is left open, for the caller to send
    /// the new credentials over, where a re-registration closes the rest.
    pub renewing: Option<String>,
}

/// How the registration proved its right to the account.
pub enum Proof<'a> {
    Password(&'a str),
    InstallToken(&'a str),
}

/// Registers a device to an account whose credentials the caller checked:
/// writes `Devices[id]`, stores the device key's hash, hands out the
/// account key. Refused beyond `MaximumDevices`.
pub async fn register(
    state: &AppState,
    scope: &TenantScope,
    profile: &UserProfileConfig,
    proof: Proof<'_>,
    device: NewDevice,
) -> ApiResult<Registration> {
    let device_id = match device.device_id {
        Some(id) => {
            check_device_id(&id).map_err(|why| ApiError::invalid_param("DeviceID", why))?;
            id
        }
        None => uuid::Uuid::new_v4().to_string(),
    };
    if no_room(profile, &device_id) {
        return Err(device_limit_reached(profile));
    }
    let account_key = match proof {
        Proof::Password(password) => {
            account_keys::for_password(state, scope, profile, password).await?
        }
        Proof::InstallToken(token) => account_keys::for_token(state, scope, profile, token).await?,
    };
    let now = now_unix();
    let mut config = device.config;
    if config.registration_time == 0 {
        config.registration_time = now;
    }
    if config.friendly_name.is_empty() {
        config.friendly_name = device_id.clone();
    }
    let actor = format!("user:{}", profile.username);
    let id = device_id.clone();
    // The limit is checked again against the profile being written, so two
    // devices registering at once cannot both take the last place.
    let full = std::sync::atomic::AtomicBool::new(false);
    users::edit(state, scope, &profile.username, &actor, |stored| {
        let is_full = no_room(stored, &id);
        full.store(is_full, std::sync::atomic::Ordering::Relaxed);
        if !is_full {
            stored.devices.insert(id.clone(), config.clone());
        }
    })
    .await?;
    if full.load(std::sync::atomic::Ordering::Relaxed) {
        return Err(device_limit_reached(profile));
    }
    let device_key = random_hex(32);
    state
        .store
        .device_put(
            scope,
            &DeviceRecord {
                organization_id: profile.organization_id.clone(),
                username: profile.username.clone(),
                device_id: device_id.clone(),
                key_hash: key_hash(&device_key),
                registered_at: now,
                last_seen_at: 0,
            },
        )
        .await?;
    // A re-registration replaces the key: the old one's connections end.
    for old in state
        .devices
        .of_device(&profile.organization_id, &profile.username, &device_id)
    {
        if device.renewing.as_deref() != Some(old.id.as_str()) {
            old.close(CLOSE_REFUSED, "the device was registered again", false);
        }
    }
    state.events.emit(
        SEVT_DEVICE_NEW,
        &actor,
        &profile.organization_id,
        &device_id,
        Some(json!({"Username": profile.username, "DeviceID": device_id, "Device": config})),
    );
    Ok(Registration {
        status: 200,
        message: "OK".into(),
        device_id,
        device_key,
        username: profile.username.clone(),
        account_key: halley_protocol::vault_key::encode_account_key(&account_key),
    })
}

/// Whether `MaximumDevices` leaves no room for this device (a device already
/// registered may register again).
fn no_room(profile: &UserProfileConfig, device_id: &str) -> bool {
    let max = profile.maximum_devices;
    max > 0 && !profile.devices.contains_key(device_id) && profile.devices.len() as i64 >= max
}

fn device_limit_reached(profile: &UserProfileConfig) -> ApiError {
    ApiError::bad_request(format!(
        "The account {} has reached its MaximumDevices ({}); revoke a device or raise the limit",
        quoted(&profile.username),
        profile.maximum_devices
    ))
}

/// After `revoke-device`: its key no longer works and its connections end.
pub async fn revoked(
    state: &AppState,
    scope: &TenantScope,
    profile: &UserProfileConfig,
    device_id: &str,
) -> ApiResult<()> {
    let device = (
        profile.organization_id.as_str(),
        profile.username.as_str(),
        device_id,
    );
    retire_key(state, scope, device, "the device was revoked").await
}

/// Deletes a device's key and closes its connections, telling it why; it
/// cannot connect again until it is registered anew (revoke-device,
/// force-login).
pub async fn retire_key(
    state: &AppState,
    scope: &TenantScope,
    (organization_id, username, device_id): (&str, &str, &str),
    why: &str,
) -> ApiResult<()> {
    state
        .store
        .device_delete(scope, username, device_id)
        .await?;
    for connection in state
        .devices
        .of_device(organization_id, username, device_id)
    {
        connection.close(CLOSE_REFUSED, why, false);
    }
    Ok(())
}

/// After any save of a profile: its devices get it (or, when the account
/// is suspended, are disconnected).
pub fn profile_saved(state: &AppState, profile: &UserProfileConfig, record: &UserRecord) {
    let connections = state
        .devices
        .of_account(&profile.organization_id, &profile.username);
    if connections.is_empty() {
        return;
    }
    let message = live::profile_message(profile, &record.profile_hash);
    for connection in connections {
        if profile.is_suspended {
            connection.close(CLOSE_REFUSED, "the account is suspended", false);
        } else if !profile.devices.contains_key(connection.device_id()) {
            connection.close(
                CLOSE_REFUSED,
                "the device was removed from the account",
                false,
            );
        } else {
            connection.send(message.clone());
        }
    }
}

/// After an account is deleted: its devices' connections end.
pub fn account_deleted(state: &AppState, organization_id: &str, username: &str) {
    for connection in state.devices.of_account(organization_id, username) {
        connection.close(CLOSE_REFUSED, "the account was deleted", false);
    }
}
