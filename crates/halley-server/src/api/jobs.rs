//! Job history queries for administrators (`get-jobs-*`,
//! `count-jobs-for-custom-search`, `get-job-properties`, `job/abandon`) and
//! end users (`user/web/get-jobs*`, `get-job-properties`). Tenant
//! administrators see their tenant's jobs, end users their own. Lists are
//! oldest first.

use halley_api::constants::{
    JOB_STATUS_FAILED_ABANDONED, JOB_STATUS_RUNNING__MAX, JOB_STATUS_RUNNING__MIN,
    SEVT_JOB_COMPLETED,
};
use halley_api::types::{BackupJobDetail, CountJobsResponse, JobEntry, SearchClause};

use super::scope::list_scope;
use crate::auth::TenantScope;
use crate::http::{ApiError, ApiResult, Call, Reply};
use crate::service::search;
use crate::store::{JobQuery, JobRecord, JobWhen};
use crate::util::now_unix;

/// "Recent" for `get-jobs-recent`: started within this many seconds, or
/// still running.
const RECENT_SECONDS: i64 = 24 * 3600;

/// The job as the API shows it.
pub fn detail(record: &JobRecord) -> ApiResult<BackupJobDetail> {
    serde_json::from_str(&record.detail_json).map_err(ApiError::internal)
}

/// Statuses of a job still running.
const RUNNING: std::ops::RangeInclusive<i64> =
    JOB_STATUS_RUNNING__MIN as i64..=JOB_STATUS_RUNNING__MAX as i64;

/// The caller's scope and, for an end user, the account every job must
/// belong to.
fn whose(call: &Call) -> ApiResult<(TenantScope, Option<String>)> {
    match call.user() {
        Ok(user) => Ok((user.scope(), Some(user.username().to_string()))),
        Err(_) => Ok((list_scope(call)?, None)),
    }
}

/// The jobs the caller may see that `when` selects, oldest first.
async fn visible(call: &Call, when: JobWhen) -> ApiResult<Vec<BackupJobDetail>> {
    let (scope, username) = whose(call)?;
    let query = JobQuery {
        username,
        when,
        ..Default::default()
    };
    let records = call.state.store.jobs_find(&scope, &query).await?;
    records.iter().map(detail).collect()
}

fn running(job: &BackupJobDetail) -> bool {
    (JOB_STATUS_RUNNING__MIN..=JOB_STATUS_RUNNING__MAX).contains(&job.status)
}

fn matching(jobs: Vec<BackupJobDetail>, query: &SearchClause) -> ApiResult<Vec<BackupJobDetail>> {
    let mut kept = Vec::new();
    for job in jobs {
        let wire = serde_json::to_value(&job).map_err(ApiError::internal)?;
        if search::matches(query, "BackupJobDetail", &wire)
            .map_err(|why| ApiError::invalid_param("Query", why))?
        {
            kept.push(job);
        }
    }
    Ok(kept)
}

pub async fn all(call: Call) -> ApiResult<Reply> {
    Ok(Reply::json(&visible(&call, JobWhen::Any).await?))
}

pub async fn recent(call: Call) -> ApiResult<Reply> {
    let when = JobWhen::RunningOrStartedSince {
        since: now_unix() - RECENT_SECONDS,
        running: RUNNING,
    };
    Ok(Reply::json(&visible(&call, when).await?))
}

pub async fn for_user(call: Call) -> ApiResult<Reply> {
    let scope = list_scope(&call)?;
    let (profile, _) =
        crate::service::users::load(&call.state, &scope, call.params.str("TargetUser")?).await?;
    // The account's jobs: its name within its own tenant.
    let account = super::scope::tenant_scope(&call, &profile.organization_id)?;
    let query = JobQuery {
        username: Some(profile.username),
        ..Default::default()
    };
    let records = call.state.store.jobs_find(&account, &query).await?;
    let jobs = records.iter().map(detail).collect::<ApiResult<Vec<_>>>()?;
    Ok(Reply::json(&jobs))
}

/// Jobs that started or ended within `[Start, End]` (swapped when reversed);
/// `Start = End = 0` asks for the running jobs.
pub async fn for_date_range(call: Call) -> ApiResult<Reply> {
    let mut start = call.params.opt_int("Start")?.unwrap_or(0);
    let mut end = call.params.opt_int("End")?.unwrap_or(0);
    if start > end {
        std::mem::swap(&mut start, &mut end);
    }
    let when = if start == 0 && end == 0 {
        JobWhen::Running(RUNNING)
    } else {
        JobWhen::StartedOrEndedWithin { start, end }
    };
    Ok(Reply::json(&visible(&call, when).await?))
}

pub async fn for_custom_search(call: Call) -> ApiResult<Reply> {
    let query: SearchClause = call.params.json("Query")?;
    Ok(Reply::json(&matching(
        visible(&call, JobWhen::Any).await?,
        &query,
    )?))
}

pub async fn count_for_custom_search(call: Call) -> ApiResult<Reply> {
    let query: SearchClause = call.params.json("Query")?;
    Ok(Reply::json(&CountJobsResponse {
        count: matching(visible(&call, JobWhen::Any).await?, &query)?.len() as i64,
        ..Default::default()
    }))
}

/// The job with `JobID`, if the caller may see it.
async fn one(call: &Call) -> ApiResult<(JobRecord, BackupJobDetail)> {
    let id = call.params.non_empty("JobID")?;
    let not_found = || ApiError::bad_request(format!("No job has the ID '{id}'"));
    let (scope, owner) = whose(call)?;
    let record = call
        .state
        .store
        .job_get(&scope, id)
        .await?
        // An end user's own jobs only: another account's is "not found".
        .filter(|record| owner.as_ref().is_none_or(|owner| *owner == record.username))
        .ok_or_else(not_found)?;
    let detail = detail(&record)?;
    Ok((record, detail))
}

pub async fn properties(call: Call) -> ApiResult<Reply> {
    Ok(Reply::json(&one(&call).await?.1))
}

/// Marks a running job abandoned (`JOB_STATUS_FAILED_ABANDONED`), as when its
/// device stopped reporting.
pub async fn abandon(call: Call) -> ApiResult<Reply> {
    let (mut record, mut job) = one(&call).await?;
    let username = call.params.str("TargetUser")?;
    if job.username != username {
        return Err(ApiError::invalid_param(
            "JobID",
            format!("the job belongs to '{}', not '{username}'", job.username),
        ));
    }
    if !running(&job) {
        return Err(ApiError::bad_request(format!(
            "Job '{}' is not running (Status {})",
            job.guid, job.status
        )));
    }
    job.status = JOB_STATUS_FAILED_ABANDONED;
    job.end_time = now_unix();
    record.end_time = job.end_time;
    record.status = job.status as i64;
    record.detail_json = serde_json::to_string(&job).map_err(ApiError::internal)?;
    call.state
        .store
        .job_put(&call.admin()?.scope(), &record)
        .await?;
    call.state.events.emit(
        SEVT_JOB_COMPLETED,
        &call.admin()?.actor(),
        &record.organization_id,
        &job.guid,
        serde_json::to_value(&job).ok(),
    );
    Ok(Reply::ok())
}

/// `get-job-log-entries`: the lines the device reported, filtered by
/// `MinSeverity` (`D` < `I` < `W` < `E`) and an exact `MessageContains`.
pub async fn log_entries(call: Call) -> ApiResult<Reply> {
    let entries = log_of(&call).await?;
    let min = match call.params.opt_str("MinSeverity").unwrap_or("") {
        "" => 0,
        given => severity_rank(given).ok_or_else(|| {
            ApiError::invalid_param("MinSeverity", "it must be one of D, I, W, E")
        })?,
    };
    let contains = call.params.opt_str("MessageContains").unwrap_or("");
    let kept: Vec<JobEntry> = entries
        .into_iter()
        .filter(|e| severity_rank(&e.severity).unwrap_or(1) >= min && e.message.contains(contains))
        .collect();
    Ok(Reply::json(&kept))
}

/// `get-job-log`: the same lines as text, one per line:
/// `YYYY-MM-DD HH:MM:SS S message` (UTC).
pub async fn log_text(call: Call) -> ApiResult<Reply> {
    let mut text = String::new();
    for entry in log_of(&call).await? {
        let time = jiff::Timestamp::from_second(entry.time)
            .map(|t| t.strftime("%Y-%m-%d %H:%M:%S").to_string())
            .unwrap_or_default();
        text.push_str(&format!("{time} {} {}\n", entry.severity, entry.message));
    }
    Ok(Reply::Bytes {
        content_type: "text/plain; charset=utf-8",
        body: text.into_bytes(),
    })
}

async fn log_of(call: &Call) -> ApiResult<Vec<JobEntry>> {
    let (record, _) = one(call).await?;
    let (scope, _) = whose(call)?;
    let lines = call.state.store.job_log_get(&scope, &record.guid).await?;
    Ok(lines
        .into_iter()
        .map(|line| JobEntry {
            time: line.time,
            severity: line.severity,
            message: line.message,
            ..Default::default()
        })
        .collect())
}

fn severity_rank(severity: &str) -> Option<u8> {
    match severity {
        "D" => Some(0),
        "I" => Some(1),
        "W" => Some(2),
        "E" => Some(3),
        _ => None,
    }
}

/// `job/cancel`: asks the device running the job to stop it (it ends with
/// 7005). A job whose device is not connected cannot be cancelled.
pub async fn cancel(call: Call) -> ApiResult<Reply> {
    let (record, job) = one(&call).await?;
    if let Ok(username) = call.params.str("TargetUser") {
        if call.user().is_err() && job.username != username {
            return Err(ApiError::invalid_param(
                "JobID",
                format!("the job belongs to '{}', not '{username}'", job.username),
            ));
        }
    }
    if !running(&job) || job.cancellation_id.is_empty() {
        return Err(ApiError::bad_request(format!(
            "Job '{}' is not running (Status {}), so it cannot be cancelled",
            job.guid, job.status
        )));
    }
    let connections =
        call.state
            .devices
            .of_device(&record.organization_id, &record.username, &job.device_id);
    if connections.is_empty() {
        return Err(ApiError::bad_request(format!(
            "The device '{}' running job '{}' is not connected, so it cannot be told to stop",
            job.device_id, job.guid
        )));
    }
    let mut last_error = String::new();
    for connection in connections {
        let asked = connection
            .request(halley_protocol::device::Call::JobCancel {
                job_id: job.guid.clone(),
            })
            .await;
        match asked {
            Ok(_) => return Ok(Reply::ok()),
            Err(err) => last_error = err.to_string(),
        }
    }
    Err(ApiError::new(
        502,
        format!(
            "The device '{}' did not cancel job '{}': {last_error}",
            job.device_id, job.guid
        ),
    ))
}
