//! A restore job (4002): a snapshot of a Protected Item, or some of its
//! paths, written into a directory of this machine and reported to the
//! server like any job. `halley-agent restore` and `dispatcher/run-restore`
//! both run it.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{anyhow, bail, Result};
use halley_api::constants::*;
use halley_api::types::BackupJobDetail;
use halley_protocol::device::{Call, JobStarted};
use halley_vault::{Progress, Repository, RestoreSummary, SnapshotInfo};

use crate::session::Session;
use crate::util::now_unix;
use crate::{platform, vaults};

pub struct Restore {
    pub item: String,
    pub vault: String,
    /// `latest` (or empty): the item's newest; else an ID or a prefix.
    pub snapshot: String,
    pub target: PathBuf,
    /// Paths inside the snapshot; all of it when empty.
    pub paths: Vec<String>,
}

pub struct RestoreEnd {
    pub status: u64,
    /// Why it did not succeed, empty on success.
    pub message: String,
    pub summary: Option<RestoreSummary>,
}

/// Runs the restore to its end; `on_started` hears the job's ID first.
pub async fn run(
    session: &Session,
    restore: Restore,
    progress: Arc<dyn Fn(&Progress) + Send + Sync>,
    on_started: Option<tokio::sync::oneshot::Sender<String>>,
) -> Result<RestoreEnd> {
    let repo = Arc::new(vaults::open_existing(session, &restore.vault).await?);
    let snapshot = {
        let repo = repo.clone();
        let (item, spec) = (restore.item.clone(), restore.snapshot.clone());
        tokio::task::spawn_blocking(move || pick_snapshot(&repo, &item, &spec)).await??
    };
    let started = session
        .request::<JobStarted>(Call::JobStart {
            detail: BackupJobDetail {
                classification: JOB_CLASSIFICATION_RESTORE,
                status: JOB_STATUS_RUNNING_ACTIVE,
                start_time: now_unix(),
                source_guid: restore.item.clone(),
                destination_guid: restore.vault.clone(),
                snapshot_id: snapshot.id.to_hex(),
                client_version: platform::CLIENT_VERSION.to_string(),
                ..Default::default()
            },
        })
        .await?;
    if let Some(tell) = on_started {
        let _ = tell.send(started.job_id.clone());
    }
    let summary = {
        let (target, paths) = (restore.target.clone(), restore.paths.clone());
        tokio::task::spawn_blocking(move || {
            halley_vault::restore(&repo, &snapshot, &target, &paths, &|p| progress(p))
        })
        .await?
    };
    let (status, message) = match &summary {
        Ok(s) if s.errors.is_empty() => (JOB_STATUS_STOP_SUCCESS, String::new()),
        Ok(s) => (
            JOB_STATUS_FAILED_WARNING,
            format!(
                "{} entries could not be restored, first: {}",
                s.errors.len(),
                s.errors[0]
            ),
        ),
        Err(err) => (JOB_STATUS_FAILED_ERROR, err.to_string()),
    };
    let summary = summary.ok();
    let totals = summary.as_ref();
    let finished = session
        .request::<serde_json::Value>(Call::JobFinish {
            job_id: started.job_id.clone(),
            detail: BackupJobDetail {
                status,
                end_time: now_unix(),
                total_files: totals.map_or(0, |s| s.files) as i64,
                total_directories: totals.map_or(0, |s| s.dirs) as i64,
                total_size: totals.map_or(0, |s| s.bytes) as i64,
                download_size: totals.map_or(0, |s| s.bytes) as i64,
                client_version: platform::CLIENT_VERSION.to_string(),
                ..Default::default()
            },
            destination_size: None,
        })
        .await;
    if let Err(err) = finished {
        tracing::warn!("the server did not take the restore job's end: {err:#}");
    }
    Ok(RestoreEnd {
        status,
        message,
        summary,
    })
}

/// `latest` (this item's newest) or an ID or prefix of one of its snapshots.
fn pick_snapshot(repo: &Repository, item: &str, spec: &str) -> Result<SnapshotInfo> {
    if spec.is_empty() || spec == "latest" {
        return repo
            .snapshots()?
            .into_iter()
            .rfind(|s| s.snapshot.source == item)
            .ok_or_else(|| anyhow!("the vault holds no snapshot of Protected Item '{item}'"));
    }
    let found = repo.find_snapshot(spec)?;
    if found.snapshot.source != item {
        bail!(
            "snapshot {spec} is of Protected Item '{}', not '{item}'",
            found.snapshot.source
        );
    }
    Ok(found)
}
