//! `self-backup/start` (every configured target, in the background; the
//! outcome appears in `meta/version`'s `SelfBackup`) and
//! `organization/export` (one tenant, answered when written).

use halley_api::types::{CometAPIResponseMessage, SelfBackupExportOptions};

use crate::http::{ApiError, ApiResult, Call, Reply};
use crate::service::self_backup;

pub async fn start(call: Call) -> ApiResult<Reply> {
    let targets = call.state.config.get().self_backup.targets.clone();
    if targets.is_empty() {
        return Err(ApiError::new(
            400,
            "No self-backup target is configured (SelfBackup.Targets in the server configuration)",
        ));
    }
    let state = call.state.clone();
    let count = targets.len();
    tokio::spawn(async move {
        for (index, target) in targets.iter().enumerate() {
            self_backup::run_target(&state, target, index).await;
        }
    });
    Ok(Reply::json(&CometAPIResponseMessage::new(
        200,
        format!("Started {count} self-backup target(s)"),
    )))
}

pub async fn export(call: Call) -> ApiResult<Reply> {
    let options: SelfBackupExportOptions = call.params.json("Options")?;
    let tenant = options.restrict_to_single_org_id.clone();
    if tenant.is_empty() {
        return Err(ApiError::invalid_param(
            "Options",
            "RestrictToSingleOrgID must name the tenant to export",
        ));
    }
    if !call.state.config.get().organizations.contains_key(&tenant) {
        return Err(ApiError::invalid_param(
            "Options",
            format!("RestrictToSingleOrgID '{tenant}' names no organization"),
        ));
    }
    let outcome = self_backup::run(&call.state, &options, None)
        .await
        .map_err(|why| {
            ApiError::new(
                500,
                format!("The export of tenant '{tenant}' failed: {why}"),
            )
        })?;
    Ok(Reply::json(&CometAPIResponseMessage::new(
        200,
        format!(
            "Exported tenant '{tenant}' as snapshot {} ({} bytes)",
            outcome.snapshot, outcome.bytes
        ),
    )))
}
