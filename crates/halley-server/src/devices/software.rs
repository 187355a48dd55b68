//! The agent build this server offers its devices: the executable client
//! packages are built from (`--agent-binary`, else `halley-agent` beside
//! `halleyd`), served to devices by their own credentials at
//! [`SOFTWARE_PATH`](halley_protocol::device::SOFTWARE_PATH), and what it
//! says its version is. `dispatcher/update-software` and update campaigns
//! (`campaign.rs`) ask devices to install it.

use std::cmp::Ordering;

use halley_api::constants::{JOB_STATUS_RUNNING__MAX, JOB_STATUS_RUNNING__MIN};
use halley_api::types::{BackupJobDetail, CometAPIResponseMessage};

use super::jobs::scope_of;
use crate::auth::TenantScope;
use crate::http::{ApiError, ApiResult, Params};
use crate::state::AppState;
use crate::store::{JobQuery, JobWhen};

/// The offered build's version (`halley-agent --version`), asked once.
pub async fn offered_version(state: &AppState) -> ApiResult<String> {
    let version = state
        .offered_agent_version
        .get_or_init(|| async {
            let out = tokio::process::Command::new(&state.agent_binary)
                .arg("--version")
                .output()
                .await
                .ok()?;
            halley_protocol::device::agent_version(out.status.success(), &out.stdout)
        })
        .await;
    version.clone().ok_or_else(|| {
        ApiError::bad_configuration(format!(
            "this server has no agent build to offer: {} is not a halley-agent (place it beside halleyd or pass --agent-binary)",
            state.agent_binary.display()
        ))
    })
}

/// `MAJOR.MINOR.PATCH` compared part by part; what does not parse is oldest.
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    let parts = |v: &str| -> Vec<u64> { v.split('.').map(|p| p.parse().unwrap_or(0)).collect() };
    parts(a).cmp(&parts(b))
}

/// Whether a job of this device is running: an update would end it.
pub async fn runs_a_job(
    state: &AppState,
    organization_id: &str,
    username: &str,
    device_id: &str,
) -> ApiResult<bool> {
    let running = state
        .store
        .jobs_find(
            &scope_of(organization_id),
            &JobQuery {
                username: Some(username.to_string()),
                when: JobWhen::Running(
                    JOB_STATUS_RUNNING__MIN as i64..=JOB_STATUS_RUNNING__MAX as i64,
                ),
                ..Default::default()
            },
        )
        .await?;
    Ok(running.iter().any(|job| {
        serde_json::from_str::<BackupJobDetail>(&job.detail_json)
            .is_ok_and(|detail| detail.device_id == device_id)
    }))
}

/// `POST /api/v1/device/software`: the build, for a device whose
/// `DeviceID` and `DeviceKey` are good; why not, else.
pub async fn build_for(state: &AppState, body: &[u8]) -> Result<Vec<u8>, CometAPIResponseMessage> {
    let params = Params::from_form(body, &Params::default());
    let device_id = params.opt_str("DeviceID").unwrap_or("");
    let device_key = params.opt_str("DeviceKey").unwrap_or("");
    super::standing(state, &super::key_hash(device_key), device_id)
        .await
        .map_err(|why| CometAPIResponseMessage::new(403, why))?;
    tokio::fs::read(&state.agent_binary).await.map_err(|err| {
        CometAPIResponseMessage::new(
            500,
            format!(
                "this server has no agent build to offer ({}: {err})",
                state.agent_binary.display()
            ),
        )
    })
}

/// Every registered device, server-wide: (tenant, account, device).
pub async fn all_devices(state: &AppState) -> ApiResult<Vec<(String, String, String)>> {
    let devices = state.store.device_list(&TenantScope::server_wide()).await?;
    Ok(devices
        .into_iter()
        .map(|d| (d.organization_id, d.username, d.device_id))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_part_by_part() {
        assert_eq!(compare_versions("25.9.6", "25.10.0"), Ordering::Less);
        assert_eq!(compare_versions("25.9.6", "25.9.6"), Ordering::Equal);
        assert_eq!(compare_versions("26.0.0", "25.99.99"), Ordering::Greater);
        assert_eq!(compare_versions("", "0.0.1"), Ordering::Less);
    }
}
