//! The Constellation Role: which Storage Role buckets exist on the servers
//! a tenant oversees (`ConstellationRoleOptions.Servers`), and which
//! account's Storage Vault uses each. A bucket that no account on any of
//! those servers uses is unused; unused buckets are deleted only when an
//! administrator asks (`constellation/prune-now`) with `DeleteUnusedData`
//! on, after a check that every server answered.

use std::collections::HashMap;
use std::sync::Mutex;

use halley_api::constants::DESTINATIONTYPE_COMET;
use halley_api::types::{
    BucketUsageMap, ConstellationCheckReport, ConstellationRoleOptions, ConstellationStats,
    UserOnServer,
};
use serde_json::Value;

use crate::auth::TenantScope;
use crate::http::{ApiError, ApiResult};
use crate::service::remote_server::RemoteServer;
use crate::state::AppState;
use crate::store::DocumentRecord;
use crate::util::{document_hash, now_unix};

const REPORT_KIND: &str = "constellation-report";
const REPORT_ID: &str = "last";

/// The checks' figures since start, per tenant.
#[derive(Default)]
pub struct ConstellationFigures(Mutex<HashMap<String, ConstellationStats>>);

impl ConstellationFigures {
    pub fn of(&self, organization_id: &str) -> ConstellationStats {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(organization_id)
            .cloned()
            .unwrap_or_default()
    }

    fn update(&self, organization_id: &str, change: impl FnOnce(&mut ConstellationStats)) {
        change(
            self.0
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .entry(organization_id.to_string())
                .or_default(),
        );
    }
}

fn failed(index: usize, why: impl std::fmt::Display) -> ApiError {
    ApiError::new(
        502,
        format!("Constellation server {index} could not be checked: {why}"),
    )
}

/// Asks every server what buckets it holds and which vaults use them.
pub async fn check(
    state: &AppState,
    organization_id: &str,
    options: &ConstellationRoleOptions,
) -> ApiResult<ConstellationCheckReport> {
    let started = now_unix();
    state.constellation.update(organization_id, |s| {
        s.last_check_start = started;
        s.total_checks_started += 1;
        s.checks_currently_active += 1;
    });
    let outcome = check_servers(options).await;
    state
        .constellation
        .update(organization_id, |s| s.checks_currently_active -= 1);
    let usage = outcome?;
    let report = ConstellationCheckReport {
        check_started: started,
        check_completed: now_unix(),
        usage,
        ..Default::default()
    };
    let doc_json = serde_json::to_string(&report).map_err(ApiError::internal)?;
    let record = DocumentRecord {
        kind: REPORT_KIND.into(),
        id: REPORT_ID.into(),
        organization_id: organization_id.to_string(),
        hash: document_hash(&doc_json),
        doc_json,
    };
    let scope = TenantScope::server_wide()
        .narrowed_to(organization_id)
        .unwrap_or_else(TenantScope::server_wide);
    state.store.document_put(&scope, &record, None).await?;
    Ok(report)
}

async fn check_servers(options: &ConstellationRoleOptions) -> ApiResult<BucketUsageMap> {
    let mut usage = BucketUsageMap::new();
    for (index, address) in options.servers.iter().enumerate() {
        let server = RemoteServer::new(
            &address.remote_address,
            &address.username,
            &address.password,
        )
        .map_err(|why| failed(index, why))?;
        let version = server
            .call("meta/version", &[])
            .await
            .map_err(|why| failed(index, why))?;
        if version["StorageRole"] == true {
            let buckets = server
                .call("storage/list-buckets", &[])
                .await
                .map_err(|why| failed(index, why))?;
            for id in buckets.as_object().into_iter().flat_map(|b| b.keys()) {
                usage
                    .entry(id.clone())
                    .or_default()
                    .exists_on_servers
                    .push(index as i64);
            }
        }
        if version["AuthenticationRole"] == true {
            let profiles = server
                .call("list-users-full", &[])
                .await
                .map_err(|why| failed(index, why))?;
            for (username, profile) in profiles.as_object().into_iter().flatten() {
                for bucket in buckets_used(profile) {
                    usage
                        .entry(bucket)
                        .or_default()
                        .in_use_by
                        .push(UserOnServer {
                            server_id: index as i64,
                            username: username.clone(),
                            ..Default::default()
                        });
                }
            }
        }
    }
    Ok(usage)
}

/// The Storage Role buckets a profile's vaults are in.
fn buckets_used(profile: &Value) -> Vec<String> {
    profile["Destinations"]
        .as_object()
        .into_iter()
        .flat_map(|d| d.values())
        .filter(|vault| vault["DestinationType"] == DESTINATIONTYPE_COMET)
        .filter_map(|vault| vault["CometBucket"].as_str())
        .filter(|bucket| !bucket.is_empty())
        .map(str::to_string)
        .collect()
}

/// The report of the last check, or an empty one.
pub async fn last_report(
    state: &AppState,
    organization_id: &str,
) -> ApiResult<ConstellationCheckReport> {
    let scope = TenantScope::server_wide()
        .narrowed_to(organization_id)
        .unwrap_or_else(TenantScope::server_wide);
    let stored = state
        .store
        .document_get(&scope, REPORT_KIND, REPORT_ID)
        .await?;
    Ok(stored
        .and_then(|doc| serde_json::from_str(&doc.doc_json).ok())
        .unwrap_or_default())
}

/// Checks again, then deletes every bucket no account uses from each
/// server that holds it; answers how many were deleted.
pub async fn prune(
    state: &AppState,
    organization_id: &str,
    options: &ConstellationRoleOptions,
) -> ApiResult<usize> {
    if !options.delete_unused_data {
        return Err(ApiError::bad_request(
            "Unused buckets are deleted only with DeleteUnusedData on in the Constellation settings",
        ));
    }
    let report = check(state, organization_id, options).await?;
    let mut deleted = 0;
    for (bucket, info) in &report.usage {
        if !info.in_use_by.is_empty() {
            continue;
        }
        for &index in &info.exists_on_servers {
            let address = &options.servers[index as usize];
            let server = RemoteServer::new(
                &address.remote_address,
                &address.username,
                &address.password,
            )
            .map_err(|why| failed(index as usize, why))?;
            server
                .call("storage/delete-bucket", &[("BucketID", bucket)])
                .await
                .map_err(|why| failed(index as usize, why))?;
            deleted += 1;
            state
                .constellation
                .update(organization_id, |s| s.total_buckets_deleted += 1);
        }
    }
    Ok(deleted)
}
