//! A restore job (4002): a snapshot of a Protected Item, or some of its
//! paths, written into a directory of this machine and reported to the
//! server like any job. `halley-agent restore` and `dispatcher/run-restore`
//! both run it.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{anyhow, bail, Result};
use halley_api::constants::*;
use halley_api::types::BackupJobDetail;
use halley_protocol::device::{archive_extension, Call, JobStarted};
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
    /// One archive file (`RESTOREARCHIVEFORMAT_*`) written into `target`
    /// instead of the files themselves.
    pub archive: Option<i64>,
    /// With `archive`: sent to the server as it is made, under this token
    /// (`target` is unused).
    pub upload: Option<String>,
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
    if let Some(format) = restore.archive.filter(|f| archive_extension(*f).is_none()) {
        bail!("ArchiveFormat {format} is not one of tar (0), tar.gz (1), zip (2), tar.zst (4)");
    }
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
                client_version: platform::client_version().to_string(),
                ..Default::default()
            },
        })
        .await?;
    if let Some(tell) = on_started {
        let _ = tell.send(started.job_id.clone());
    }
    let summary = match (restore.archive, restore.upload.clone()) {
        (Some(format), Some(token)) => {
            crate::upload::send_archive(session, &token, move |out| {
                archive_to(&repo, &snapshot, &restore.paths, format, out)
            })
            .await
        }
        (archive, _) => {
            let (target, paths) = (restore.target.clone(), restore.paths.clone());
            tokio::task::spawn_blocking(move || match archive {
                None => halley_vault::restore(&repo, &snapshot, &target, &paths, &|p| progress(p)),
                Some(format) => write_archive(&repo, &snapshot, &target, &paths, format),
            })
            .await?
            .map_err(anyhow::Error::from)
        }
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
        Err(err) => (JOB_STATUS_FAILED_ERROR, format!("{err:#}")),
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
                client_version: platform::client_version().to_string(),
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

/// The snapshot as one archive file in the directory `dir`, named after
/// the item and the snapshot; its size is the summary's bytes.
fn write_archive(
    repo: &Repository,
    snapshot: &SnapshotInfo,
    dir: &std::path::Path,
    paths: &[String],
    format: i64,
) -> halley_vault::Result<RestoreSummary> {
    let extension = archive_extension(format).unwrap_or("tar");
    let io = |path: &std::path::Path| {
        let path = path.to_path_buf();
        move |source| halley_vault::VaultError::Io {
            op: "write",
            path,
            source,
        }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let name = format!(
        "{}-{}.{extension}",
        snapshot.snapshot.source,
        snapshot.id.short()
    );
    let path = dir.join(name);
    let file = std::io::BufWriter::new(std::fs::File::create(&path).map_err(io(&path))?);
    archive_to(repo, snapshot, paths, format, file)?
        .into_inner()
        .map_err(|e| io(&path)(e.into_error()))?
        .sync_all()
        .map_err(io(&path))?;
    let bytes = std::fs::metadata(&path).map_err(io(&path))?.len();
    Ok(RestoreSummary {
        files: 1,
        bytes,
        ..Default::default()
    })
}

/// Writes `paths` of the snapshot (all of it when empty) into `out` as an
/// archive of `format`, finished; gives `out` back.
pub fn archive_to<W: std::io::Write>(
    repo: &Repository,
    snapshot: &SnapshotInfo,
    paths: &[String],
    format: i64,
    out: W,
) -> halley_vault::Result<W> {
    let finishing = |source| halley_vault::VaultError::Io {
        op: "write",
        path: "archive".into(),
        source,
    };
    Ok(match format {
        RESTOREARCHIVEFORMAT_TAR => halley_vault::restore_tar(repo, snapshot, paths, out)?,
        RESTOREARCHIVEFORMAT_ZIP => halley_vault::restore_zip(repo, snapshot, paths, out)?,
        RESTOREARCHIVEFORMAT_TARGZ => {
            let gzip = flate2::write::GzEncoder::new(out, flate2::Compression::default());
            halley_vault::restore_tar(repo, snapshot, paths, gzip)?
                .finish()
                .map_err(finishing)?
        }
        _ => {
            let zstd = zstd::Encoder::new(out, 3).map_err(finishing)?;
            halley_vault::restore_tar(repo, snapshot, paths, zstd)?
                .finish()
                .map_err(finishing)?
        }
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
