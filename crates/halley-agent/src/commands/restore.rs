//! `halley-agent restore` and `halley-agent snapshots`: reading a vault of
//! the account on this machine. A restore is reported to the server as a
//! restore job (4002).

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{anyhow, bail, Result};
use halley_api::constants::*;
use halley_api::types::BackupJobDetail;
use halley_protocol::device::{Call, JobStarted};
use halley_vault::{Repository, SnapshotInfo};
use indicatif::HumanBytes;

use super::backup::ProgressDisplay;
use super::one_off_session;
use crate::state::StateDir;
use crate::util::now_unix;
use crate::{platform, vaults};

pub async fn snapshots(dir: StateDir, vault: String) -> Result<()> {
    let session = one_off_session(dir)?;
    let repo = vaults::open_existing(&session, &vault).await?;
    let list = tokio::task::spawn_blocking(move || repo.snapshots()).await??;
    println!(
        "{:<64}  {:<20}  {:<36}  {:>8}  {:>10}",
        "snapshot", "time (UTC)", "protected item", "files", "size"
    );
    for s in list {
        let time = jiff::Timestamp::from_second(s.snapshot.time)
            .map(|t| t.strftime("%Y-%m-%d %H:%M:%S").to_string())
            .unwrap_or_default();
        println!(
            "{:<64}  {:<20}  {:<36}  {:>8}  {:>10}",
            s.id.to_hex(),
            time,
            s.snapshot.source,
            s.snapshot.summary.files,
            HumanBytes(s.snapshot.summary.bytes).to_string()
        );
    }
    Ok(())
}

pub struct Restore {
    pub item: String,
    pub vault: String,
    pub snapshot: String,
    pub target: PathBuf,
    pub paths: Vec<String>,
}

pub async fn restore(dir: StateDir, restore: Restore) -> Result<i32> {
    let session = one_off_session(dir)?;
    let repo = Arc::new(vaults::open_existing(&session, &restore.vault).await?);
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
    let display = ProgressDisplay::new();
    let summary = {
        let display = display.clone();
        let (target, paths) = (restore.target.clone(), restore.paths.clone());
        tokio::task::spawn_blocking(move || {
            halley_vault::restore(&repo, &snapshot, &target, &paths, &|p| display.show(p))
        })
        .await?
    };
    display.finish();
    let (status, message, files, bytes, dirs) = match &summary {
        Ok(s) if s.errors.is_empty() => (
            JOB_STATUS_STOP_SUCCESS,
            String::new(),
            s.files,
            s.bytes,
            s.dirs,
        ),
        Ok(s) => (
            JOB_STATUS_FAILED_WARNING,
            format!(
                "{} entries could not be restored, first: {}",
                s.errors.len(),
                s.errors[0]
            ),
            s.files,
            s.bytes,
            s.dirs,
        ),
        Err(err) => (JOB_STATUS_FAILED_ERROR, err.to_string(), 0, 0, 0),
    };
    let finished = session
        .request::<serde_json::Value>(Call::JobFinish {
            job_id: started.job_id.clone(),
            detail: BackupJobDetail {
                status,
                end_time: now_unix(),
                total_files: files as i64,
                total_directories: dirs as i64,
                total_size: bytes as i64,
                download_size: bytes as i64,
                client_version: platform::CLIENT_VERSION.to_string(),
                ..Default::default()
            },
            destination_size: None,
        })
        .await;
    if let Err(err) = finished {
        eprintln!("the server did not take the restore job's end: {err:#}");
    }
    if status == JOB_STATUS_FAILED_ERROR {
        eprintln!("restore failed: {message}");
        return Ok(1);
    }
    println!(
        "restored {files} files, {dirs} directories, {} into {}{}",
        HumanBytes(bytes),
        restore.target.display(),
        if message.is_empty() {
            String::new()
        } else {
            format!(" (warning: {message})")
        }
    );
    Ok(0)
}

/// `latest` (this item's newest) or an ID or prefix of one of its snapshots.
fn pick_snapshot(repo: &Repository, item: &str, spec: &str) -> Result<SnapshotInfo> {
    if spec == "latest" {
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
