//! Jobs on a whole vault, started from the dispatcher: retention (4003),
//! which applies each Protected Item's retention and then prunes, and deep
//! verify (4010), which reads and authenticates every blob and names the
//! files that cannot be restored intact, reindex (4009), which rebuilds the
//! index from the packs' headers, and unlock (4004), which removes stale
//! lock files.

use std::sync::Arc;

use anyhow::Result;
use halley_api::constants::*;
use halley_api::types::{BackupJobDetail, JobEntry, UserProfileConfig};
use halley_protocol::device::{Call, JobStarted, Maintenance, Message};
use halley_vault::Repository;

use crate::session::Session;
use crate::util::now_unix;
use crate::{platform, vaults};

/// Runs the job to its end; `on_started` hears its ID first.
pub async fn run(
    session: Arc<Session>,
    kind: Maintenance,
    destination_id: String,
    allow_unsafe: bool,
    on_started: tokio::sync::oneshot::Sender<String>,
) -> Result<()> {
    let profile = session.profile().await?;
    let repo = vaults::open_existing(&session, &destination_id).await?;
    let classification = match kind {
        Maintenance::Retention => JOB_CLASSIFICATION_RETENTION,
        Maintenance::DeepVerify => JOB_CLASSIFICATION_DEEPVERIFY,
        Maintenance::Reindex => JOB_CLASSIFICATION_REINDEX,
        Maintenance::Unlock => JOB_CLASSIFICATION_UNLOCK,
    };
    let started = session
        .request::<JobStarted>(Call::JobStart {
            detail: BackupJobDetail {
                classification,
                status: JOB_STATUS_RUNNING_ACTIVE,
                start_time: now_unix(),
                destination_guid: destination_id.clone(),
                client_version: platform::client_version().to_string(),
                ..Default::default()
            },
        })
        .await?;
    let _ = on_started.send(started.job_id.clone());
    let outcome = tokio::task::spawn_blocking(move || match kind {
        Maintenance::Retention => retention(&repo, &profile, &destination_id),
        Maintenance::DeepVerify => deep_verify(&repo),
        Maintenance::Reindex => reindex(&repo),
        Maintenance::Unlock => unlock(&repo, allow_unsafe),
    })
    .await?;
    let (status, lines) = match outcome {
        Ok(lines) => (JOB_STATUS_STOP_SUCCESS, lines),
        Err(Failed(lines)) => (JOB_STATUS_FAILED_ERROR, lines),
    };
    let entries = lines
        .into_iter()
        .map(|message| JobEntry {
            time: now_unix(),
            severity: if status == JOB_STATUS_STOP_SUCCESS {
                "I"
            } else {
                "E"
            }
            .into(),
            message,
            ..Default::default()
        })
        .collect();
    session.send(&Message::Log {
        job_id: started.job_id.clone(),
        entries,
    });
    session
        .request::<serde_json::Value>(Call::JobFinish {
            job_id: started.job_id,
            detail: BackupJobDetail {
                status,
                end_time: now_unix(),
                client_version: platform::client_version().to_string(),
                ..Default::default()
            },
            destination_size: None,
        })
        .await?;
    Ok(())
}

/// A job that failed, with the log lines that say why.
struct Failed(Vec<String>);

impl From<halley_vault::VaultError> for Failed {
    fn from(err: halley_vault::VaultError) -> Failed {
        Failed(vec![err.to_string()])
    }
}

/// Every item's retention: its override for this vault, else the vault's
/// default; then what no snapshot uses is freed.
fn retention(
    repo: &Repository,
    profile: &UserProfileConfig,
    destination_id: &str,
) -> Result<Vec<String>, Failed> {
    let Some(destination) = profile.destinations.get(destination_id) else {
        return Err(Failed(vec![format!(
            "the account has no Storage Vault '{destination_id}'"
        )]));
    };
    let mut items: Vec<String> = repo
        .snapshots()?
        .into_iter()
        .map(|s| s.snapshot.source)
        .collect();
    items.sort();
    items.dedup();
    let mut lines = Vec::new();
    let mut forgotten = 0;
    for item in items {
        let policy = profile
            .sources
            .get(&item)
            .and_then(|s| s.override_destination_retention.get(destination_id))
            .unwrap_or(&destination.default_retention);
        if policy.mode != RETENTIONMODE_DELETE_EXCEPT {
            continue;
        }
        let outcome =
            halley_vault::forget::apply_retention(repo, policy, Some(&item), now_unix(), false)?;
        forgotten += outcome.forgotten.len();
        lines.push(format!(
            "Protected Item {item}: {} snapshots removed by retention",
            outcome.forgotten.len()
        ));
    }
    if forgotten > 0 {
        let pruned = halley_vault::prune::prune(repo)?;
        lines.push(format!(
            "prune: {} packs deleted, {} repacked, {} blobs freed",
            pruned.packs_deleted, pruned.packs_repacked, pruned.blobs_removed
        ));
    }
    lines.push(format!("retention removed {forgotten} snapshots"));
    Ok(lines)
}

fn deep_verify(repo: &Repository) -> Result<Vec<String>, Failed> {
    let report = halley_vault::verify::verify(repo, true, &|_| {})?;
    let summary = format!(
        "{} snapshots, {} packs, {} blobs checked",
        report.snapshots, report.packs, report.blobs_read
    );
    if report.problems.is_empty() && report.affected.is_empty() {
        return Ok(vec![format!("the vault is intact: {summary}")]);
    }
    let mut lines: Vec<String> = report.problems.clone();
    lines.extend(report.affected.iter().map(|e| {
        format!(
            "cannot be restored intact: {} in snapshot {}: {}",
            e.path,
            e.snapshot.short(),
            e.reason
        )
    }));
    lines.push(summary);
    Err(Failed(lines))
}

fn reindex(repo: &Repository) -> Result<Vec<String>, Failed> {
    let summary = halley_vault::repair::rebuild_index(repo)?;
    let mut lines = vec![format!(
        "index rebuilt: {} packs, {} blobs",
        summary.packs_indexed, summary.blobs
    )];
    if summary.problems.is_empty() {
        return Ok(lines);
    }
    lines.extend(summary.problems);
    Err(Failed(lines))
}

/// Stale locks go; live holders' locks stay unless `allow_unsafe`.
fn unlock(repo: &Repository, allow_unsafe: bool) -> Result<Vec<String>, Failed> {
    let outcome = halley_vault::lock::remove_locks(repo, allow_unsafe)?;
    let mut lines: Vec<String> = outcome
        .removed
        .iter()
        .map(|lock| format!("removed lock: {lock}"))
        .collect();
    lines.extend(outcome.kept.iter().map(|lock| {
        format!("kept the lock of a running operation: {lock} (AllowUnsafe removes it)")
    }));
    lines.push(format!(
        "{} locks removed, {} kept",
        outcome.removed.len(),
        outcome.kept.len()
    ));
    Ok(lines)
}
