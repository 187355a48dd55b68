//! Update campaigns (`update-campaign/start`, `update-campaign/status`):
//! every connected device the campaign's options make eligible is asked to
//! install the build this server offers (`software.rs`): when the campaign
//! starts, whenever a device connects, and every half minute. A device
//! running a job waits (`UPDATESTATUS_PENDING`) unless
//! `ForceUpgradeRunning`; one asked is `REQUEST_MADE` until it connects
//! again with the offered version (`UPDATE_CONFIRMED`) or refuses
//! (`UPDATE_FAILED`). The campaign is kept in the store (a document), so
//! it survives a restart.

use std::cmp::Ordering;
use std::sync::Arc;

use halley_api::constants::*;
use halley_api::types::{
    UpdateCampaignOptions, UpdateCampaignStatus, UpdateCampaignStatusDeviceEntry,
};
use halley_protocol::device::Call;

use super::registry::Connection;
use super::software::{all_devices, compare_versions, offered_version, runs_a_job};
use crate::auth::TenantScope;
use crate::http::ApiResult;
use crate::service::search;
use crate::state::AppState;
use crate::store::DocumentRecord;
use crate::util::now_unix;

const KIND: &str = "update-campaign";
const ID: &str = "current";

type Slot = tokio::sync::Mutex<Option<UpdateCampaignStatus>>;

/// The campaign, read from the store the first time.
async fn slot(state: &AppState) -> ApiResult<&Slot> {
    state
        .update_campaign
        .get_or_try_init(|| async {
            let stored = state
                .store
                .document_get(&TenantScope::server_wide(), KIND, ID)
                .await?;
            let campaign = stored.and_then(|doc| serde_json::from_str(&doc.doc_json).ok());
            Ok(tokio::sync::Mutex::new(campaign))
        })
        .await
}

async fn save(state: &AppState, campaign: &UpdateCampaignStatus) -> ApiResult<()> {
    let doc_json = serde_json::to_string(campaign).map_err(crate::http::ApiError::internal)?;
    let document = DocumentRecord {
        kind: KIND.into(),
        id: ID.into(),
        organization_id: String::new(),
        hash: blake3::hash(doc_json.as_bytes()).to_hex().to_string(),
        doc_json,
    };
    state
        .store
        .document_put(&TenantScope::server_wide(), &document, None)
        .await?;
    Ok(())
}

/// Starts (or, with `Active` off, stops) the campaign, aimed at the build
/// this server offers now.
pub async fn start(state: &Arc<AppState>, options: UpdateCampaignOptions) -> ApiResult<()> {
    let target_version = offered_version(state).await?;
    let campaign = UpdateCampaignStatus {
        active: options.active,
        upgrade_older: options.upgrade_older,
        reinstall_current_ver: options.reinstall_current_ver,
        downgrade_newer: options.downgrade_newer,
        force_upgrade_running: options.force_upgrade_running,
        apply_device_filter: options.apply_device_filter,
        device_filter: options.device_filter,
        start_time: now_unix(),
        target_version,
        ..Default::default()
    };
    let mut current = slot(state).await?.lock().await;
    save(state, &campaign).await?;
    *current = Some(campaign);
    drop(current);
    offer_to_all(state).await;
    Ok(())
}

/// The campaign and every registered device's place in it.
pub async fn status(state: &AppState) -> ApiResult<UpdateCampaignStatus> {
    let mut campaign = slot(state).await?.lock().await.clone().unwrap_or_default();
    for (_, username, device_id) in all_devices(state).await? {
        let known = campaign
            .devices
            .iter()
            .any(|d| d.username == username && d.device_id == device_id);
        if !known {
            campaign.devices.push(UpdateCampaignStatusDeviceEntry {
                username,
                device_id,
                status: UPDATESTATUS_NOT_SEEN,
                ..Default::default()
            });
        }
    }
    Ok(campaign)
}

/// Offers the update to every connected device.
pub async fn offer_to_all(state: &Arc<AppState>) {
    for connection in state.devices.devices(&TenantScope::server_wide(), None) {
        offer(state, &connection).await;
    }
}

/// Decides for one connected device, and asks it when it is its turn.
pub async fn offer(state: &Arc<AppState>, connection: &Arc<Connection>) {
    if let Err(err) = try_offer(state, connection).await {
        tracing::warn!(
            "update campaign, device {}: {err:?}",
            connection.device_id()
        );
    }
}

async fn try_offer(state: &Arc<AppState>, connection: &Arc<Connection>) -> ApiResult<()> {
    let mut current = slot(state).await?.lock().await;
    let Some(campaign) = current.as_mut().filter(|c| c.active) else {
        return Ok(());
    };
    let reported = connection.info.client_version.clone();
    let before = entry_status(campaign, connection);
    let decided = match before {
        UPDATESTATUS_UPDATE_CONFIRMED | UPDATESTATUS_UPDATE_FAILED => before,
        UPDATESTATUS_REQUEST_MADE if reported == campaign.target_version => {
            UPDATESTATUS_UPDATE_CONFIRMED
        }
        UPDATESTATUS_REQUEST_MADE => before,
        _ if !eligible(campaign, connection, &reported) => UPDATESTATUS_INELIGIBLE,
        _ if !campaign.force_upgrade_running
            && runs_a_job(
                state,
                connection.organization_id(),
                connection.username(),
                connection.device_id(),
            )
            .await? =>
        {
            UPDATESTATUS_PENDING
        }
        _ => UPDATESTATUS_REQUEST_MADE,
    };
    if decided == before {
        return Ok(());
    }
    set_entry_status(campaign, connection, decided);
    save(state, campaign).await?;
    drop(current);
    if decided == UPDATESTATUS_REQUEST_MADE {
        let (state, connection) = (state.clone(), connection.clone());
        tokio::spawn(async move { ask(&state, &connection).await });
    }
    Ok(())
}

/// Asks the device to install the build; a refusal fails its entry.
async fn ask(state: &AppState, connection: &Connection) {
    let Err(err) = connection.request(Call::UpdateSoftware).await else {
        return;
    };
    tracing::warn!(
        "update campaign: device {} of {} did not update: {err}",
        connection.device_id(),
        connection.username()
    );
    let Ok(slot) = slot(state).await else {
        return;
    };
    let mut current = slot.lock().await;
    if let Some(campaign) = current.as_mut() {
        set_entry_status(campaign, connection, UPDATESTATUS_UPDATE_FAILED);
        let _ = save(state, campaign).await;
    }
}

/// Whether the campaign's options take this device, at `reported`.
fn eligible(campaign: &UpdateCampaignStatus, connection: &Connection, reported: &str) -> bool {
    let by_version = match compare_versions(reported, &campaign.target_version) {
        Ordering::Less => campaign.upgrade_older,
        Ordering::Equal => campaign.reinstall_current_ver,
        Ordering::Greater => campaign.downgrade_newer,
    };
    if !by_version || !campaign.apply_device_filter {
        return by_version;
    }
    let wire = serde_json::to_value(connection.as_live_user_connection()).unwrap_or_default();
    search::matches(&campaign.device_filter, "LiveUserConnection", &wire).unwrap_or(false)
}

fn is_entry_of(entry: &UpdateCampaignStatusDeviceEntry, connection: &Connection) -> bool {
    entry.username == connection.username() && entry.device_id == connection.device_id()
}

fn entry_status(campaign: &UpdateCampaignStatus, connection: &Connection) -> i64 {
    campaign
        .devices
        .iter()
        .find(|d| is_entry_of(d, connection))
        .map_or(UPDATESTATUS_NOT_SEEN, |d| d.status)
}

fn set_entry_status(campaign: &mut UpdateCampaignStatus, connection: &Connection, status: i64) {
    match campaign
        .devices
        .iter_mut()
        .find(|d| is_entry_of(d, connection))
    {
        Some(entry) => entry.status = status,
        None => campaign.devices.push(UpdateCampaignStatusDeviceEntry {
            username: connection.username().to_string(),
            device_id: connection.device_id().to_string(),
            status,
            ..Default::default()
        }),
    }
}
