//! Jobs as devices report them: created at `job_start` (6001), kept
//! current by `progress`, ended by `job_finish`, with the account's
//! statistics (`Sources[id].Statistics`, `Destinations[id].Statistics`)
//! written into the profile at the end. Also the server's own verdicts on
//! jobs: abandoned (7007), revived (6002), missed (7004).

use halley_api::constants::*;
use halley_api::types::{BackupJobDetail, BackupJobProgress, JobEntry, SizeMeasurement};
use halley_protocol::device::JobStarted;

use crate::auth::TenantScope;
use crate::http::{ApiError, ApiResult};
use crate::service::users;
use crate::state::AppState;
use crate::store::{JobLogLine, JobRecord};
use crate::util::now_unix;

/// The account a device acts for.
pub struct Owner<'a> {
    pub organization_id: &'a str,
    pub username: &'a str,
    pub device_id: &'a str,
    pub client_version: &'a str,
}

impl Owner<'_> {
    pub fn scope(&self) -> TenantScope {
        scope_of(self.organization_id)
    }

    pub fn actor(&self) -> String {
        format!("device:{}/{}", self.username, self.device_id)
    }
}

pub fn scope_of(organization_id: &str) -> TenantScope {
    TenantScope::server_wide()
        .narrowed_to(organization_id)
        .unwrap_or_else(TenantScope::server_wide)
}

pub fn is_running(status: u64) -> bool {
    (JOB_STATUS_RUNNING__MIN..=JOB_STATUS_RUNNING__MAX).contains(&status)
}

fn is_final(status: u64) -> bool {
    (JOB_STATUS_STOP_SUCCESS__MIN..=JOB_STATUS_STOP_SUCCESS__MAX).contains(&status)
        || (JOB_STATUS_FAILED__MIN..=JOB_STATUS_FAILED__MAX).contains(&status)
}

fn record_of(detail: &BackupJobDetail, organization_id: &str) -> ApiResult<JobRecord> {
    Ok(JobRecord {
        guid: detail.guid.clone(),
        username: detail.username.clone(),
        organization_id: organization_id.to_string(),
        start_time: detail.start_time,
        end_time: detail.end_time,
        status: detail.status as i64,
        detail_json: serde_json::to_string(detail).map_err(ApiError::internal)?,
    })
}

/// Writes a job of a tenant into the job history.
pub async fn save(
    state: &AppState,
    organization_id: &str,
    detail: &BackupJobDetail,
) -> ApiResult<()> {
    let record = record_of(detail, organization_id)?;
    state
        .store
        .job_put(&scope_of(organization_id), &record)
        .await?;
    Ok(())
}

/// `job_start`: a new job of this device.
pub async fn start(
    state: &AppState,
    owner: &Owner<'_>,
    mut detail: BackupJobDetail,
) -> ApiResult<JobStarted> {
    let now = now_unix();
    detail.guid = uuid::Uuid::new_v4().to_string();
    detail.username = owner.username.to_string();
    detail.device_id = owner.device_id.to_string();
    detail.client_version = owner.client_version.to_string();
    if detail.classification == 0 {
        detail.classification = JOB_CLASSIFICATION_BACKUP;
    }
    if detail.start_time == 0 {
        detail.start_time = now;
    }
    let ended_at_once = is_final(detail.status);
    if ended_at_once {
        if detail.end_time == 0 {
            detail.end_time = now;
        }
        detail.cancellation_id.clear();
    } else {
        // A retry may start waiting (6003); every other start is running.
        if detail.status != JOB_STATUS_RUNNING_TRYAGAIN {
            detail.status = JOB_STATUS_RUNNING_ACTIVE;
        }
        detail.end_time = 0;
        detail.cancellation_id = uuid::Uuid::new_v4().to_string();
    }
    save(state, owner.organization_id, &detail).await?;
    emit(state, SEVT_JOB_NEW, owner, &detail);
    if ended_at_once {
        completed(state, owner, &detail, None).await?;
    }
    Ok(JobStarted {
        job_id: detail.guid,
    })
}

/// `progress`: the newest figures of a running job. A job the server had
/// given up on is running again (6002).
pub async fn progress(
    state: &AppState,
    owner: &Owner<'_>,
    job_id: &str,
    mut progress: BackupJobProgress,
) -> ApiResult<()> {
    let mut detail = own_job(state, owner, job_id).await?;
    if !is_running(detail.status) && detail.status != JOB_STATUS_FAILED_ABANDONED {
        return Err(ApiError::bad_request(format!("job {job_id} has ended")));
    }
    if progress.counter < detail.progress.counter {
        return Ok(()); // an older report overtaken by a newer one
    }
    progress.recieved_time = now_unix();
    detail.progress = progress;
    if detail.status == JOB_STATUS_FAILED_ABANDONED {
        revive(&mut detail);
    }
    // A retry that waited (6003) is running now.
    if detail.status == JOB_STATUS_RUNNING_TRYAGAIN {
        detail.status = JOB_STATUS_RUNNING_ACTIVE;
    }
    save(state, owner.organization_id, &detail).await?;
    Ok(())
}

/// `job_finish`: the final status and totals.
pub async fn finish(
    state: &AppState,
    owner: &Owner<'_>,
    job_id: &str,
    reported: BackupJobDetail,
    destination_size: Option<SizeMeasurement>,
) -> ApiResult<()> {
    let stored = own_job(state, owner, job_id).await?;
    if !is_running(stored.status) && stored.status != JOB_STATUS_FAILED_ABANDONED {
        return Err(ApiError::bad_request(format!(
            "job {job_id} has already ended"
        )));
    }
    if !is_final(reported.status) {
        return Err(ApiError::bad_request(format!(
            "Status {} is not a final job status (5000-5999, 7000-7999)",
            reported.status
        )));
    }
    // What the server decided stays; the figures are the device's.
    let detail = BackupJobDetail {
        guid: stored.guid,
        username: stored.username,
        classification: stored.classification,
        start_time: stored.start_time,
        source_guid: stored.source_guid,
        destination_guid: stored.destination_guid,
        device_id: stored.device_id,
        backup_rule_guid: stored.backup_rule_guid,
        client_version: stored.client_version,
        cancellation_id: stored.cancellation_id,
        progress: if reported.progress.counter > stored.progress.counter {
            reported.progress.clone()
        } else {
            stored.progress
        },
        end_time: match reported.end_time {
            0 => now_unix(),
            end => end,
        },
        ..reported
    };
    save(state, owner.organization_id, &detail).await?;
    completed(state, owner, &detail, destination_size).await
}

/// `log`: lines for the job's log.
pub async fn log(
    state: &AppState,
    owner: &Owner<'_>,
    job_id: &str,
    entries: Vec<JobEntry>,
) -> ApiResult<()> {
    own_job(state, owner, job_id).await?;
    let lines: Vec<JobLogLine> = entries
        .into_iter()
        .map(|entry| JobLogLine {
            time: entry.time,
            severity: match entry.severity.as_str() {
                "D" | "I" | "W" | "E" => entry.severity,
                _ => "I".into(),
            },
            message: entry.message,
        })
        .collect();
    state
        .store
        .job_log_append(&owner.scope(), job_id, &lines)
        .await?;
    Ok(())
}

/// A job the device says it is still running (after reconnecting).
pub async fn still_running(state: &AppState, owner: &Owner<'_>, job_id: &str) -> ApiResult<()> {
    let mut detail = own_job(state, owner, job_id).await?;
    if detail.status == JOB_STATUS_FAILED_ABANDONED {
        revive(&mut detail);
        save(state, owner.organization_id, &detail).await?;
    }
    Ok(())
}

fn revive(detail: &mut BackupJobDetail) {
    detail.status = JOB_STATUS_RUNNING_REVIVED;
    detail.end_time = 0;
}

/// The job, if it is this device's.
async fn own_job(state: &AppState, owner: &Owner<'_>, job_id: &str) -> ApiResult<BackupJobDetail> {
    let record = state.store.job_get(&owner.scope(), job_id).await?;
    let detail: Option<BackupJobDetail> = record
        .filter(|r| r.username == owner.username)
        .and_then(|r| serde_json::from_str(&r.detail_json).ok())
        .filter(|d: &BackupJobDetail| d.device_id == owner.device_id);
    detail.ok_or_else(|| ApiError::bad_request(format!("this device has no job {job_id}")))
}

/// After a job ended: its event and the account's statistics.
async fn completed(
    state: &AppState,
    owner: &Owner<'_>,
    detail: &BackupJobDetail,
    destination_size: Option<SizeMeasurement>,
) -> ApiResult<()> {
    emit(state, SEVT_JOB_COMPLETED, owner, detail);
    let is_backup = detail.classification == JOB_CLASSIFICATION_BACKUP;
    let succeeded =
        (JOB_STATUS_STOP_SUCCESS__MIN..=JOB_STATUS_STOP_SUCCESS__MAX).contains(&detail.status);
    let result = users::edit(
        state,
        &owner.scope(),
        owner.username,
        &owner.actor(),
        |profile| {
            if is_backup {
                if let Some(source) = profile.sources.get_mut(&detail.source_guid) {
                    let statistics = &mut source.statistics;
                    statistics.last_start_time = statistics.last_start_time.max(detail.start_time);
                    statistics.last_backup_job = detail.clone();
                    if succeeded {
                        statistics.last_successful_backup_job = detail.clone();
                    }
                }
            }
            if let (Some(size), Some(vault)) = (
                &destination_size,
                profile.destinations.get_mut(&detail.destination_guid),
            ) {
                vault.statistics.client_provided_size = size.clone();
            }
        },
    )
    .await;
    // The account may have been deleted meanwhile; the job is recorded.
    if let Err(err) = result {
        tracing::warn!("statistics of job {} not written: {err:?}", detail.guid);
    }
    Ok(())
}

fn emit(state: &AppState, event: i64, owner: &Owner<'_>, detail: &BackupJobDetail) {
    state.events.emit(
        event,
        &owner.actor(),
        owner.organization_id,
        &detail.guid,
        serde_json::to_value(detail).ok(),
    );
}

/// Ends a running job as the server's verdict (abandoned, missed).
pub async fn write_verdict(
    state: &AppState,
    organization_id: &str,
    mut detail: BackupJobDetail,
    status: u64,
    end_time: i64,
) -> ApiResult<()> {
    detail.status = status;
    detail.end_time = end_time;
    save(state, organization_id, &detail).await?;
    state.events.emit(
        SEVT_JOB_COMPLETED,
        "system",
        organization_id,
        &detail.guid,
        serde_json::to_value(&detail).ok(),
    );
    Ok(())
}
